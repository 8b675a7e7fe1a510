"""Risk report of a chosen book: VaR/CVaR in and out of sample, stresses, P(success), win rates.

Everything here is recomputed ex post from the book's contract counts and the scenario matrices
(:mod:`optimizer.inputs.risk_model`); nothing is taken from the solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from models.measure.managed import EXIT_REASONS, ManagedResult
from models.risk import book_pnl, cvar, success_probability, value_at_risk
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.risk_model import OutOfSample, RiskData
from optimizer.inputs.spec import Scenario

__all__ = ["RiskReport", "monthly_quantiles", "risk_report", "win_rates"]


@dataclass(frozen=True)
class RiskReport:
    """Tail risk and P(success) of a chosen book, recomputed ex post from its counts.

    Parameters
    ----------
    var, cvar : dict
        VaR and CVaR at the primary confidence over the risk horizon, positive = loss,
        account currency: ``value`` (= ``in_sample``, what the cap bounds), ``in_sample``,
        ``out_of_sample``, ``confidence``, ``horizon_days``; ``var`` also has every reported
        confidence in ``by_confidence`` and the scenario counts.
    stress : tuple[dict, ...]
        ``{"name", "loss"}`` per named stress (account currency).
    success : dict
        P(month ≥ target) in and out of sample with Clopper–Pearson intervals, and the monthly
        income reached with the required probability (empty without the income model).
    monthly_out_of_sample : ndarray | None
        The book's P&L in each fresh (out-of-sample) month, shape (M,), account currency.
    """

    var: dict
    cvar: dict
    stress: tuple[dict, ...] = ()
    success: dict = field(default_factory=dict)
    monthly_out_of_sample: np.ndarray | None = None


def risk_report(
    scenario: Scenario,
    risk: RiskData,
    oos: OutOfSample,
    counts: np.ndarray,
    chosen_idx: list[int],
) -> RiskReport:
    """VaR/CVaR (in and out of sample), stress losses and P(success) of the chosen book.

    Returns
    -------
    RiskReport
        VaR and CVaR at the primary confidence (every reported confidence in
        ``var["by_confidence"]``), stress losses, P(month ≥ target) in and out of sample and
        the book's out-of-sample months.
    """
    rs = scenario.risk
    alphas = sorted({a for a, _ in ((c.alpha, c.cap) for c in rs.cvar)} | set(rs.report_alphas))
    primary = rs.cvar[0].alpha if rs.cvar else rs.report_alphas[0]
    loss_in = -book_pnl(risk.pnl, counts)
    loss_out = -book_pnl(oos.pnl, counts[chosen_idx]) if chosen_idx else np.zeros(oos.pnl.shape[0])
    table = [
        {
            "confidence": a,
            "horizon_days": risk.horizon_days,
            "var_in_sample": value_at_risk(loss_in, a),
            "cvar_in_sample": cvar(loss_in, a),
            "var_out_of_sample": value_at_risk(loss_out, a),
            "cvar_out_of_sample": cvar(loss_out, a),
        }
        for a in alphas
    ]
    row = next(t for t in table if t["confidence"] == primary)
    var_d = {
        "value": row["var_in_sample"],
        "in_sample": row["var_in_sample"],
        "out_of_sample": row["var_out_of_sample"],
        "confidence": primary,
        "horizon_days": risk.horizon_days,
        "scenarios": risk.kind,
        "n_in_sample": int(risk.pnl.shape[0]),
        "n_out_of_sample": int(oos.pnl.shape[0]),
        "by_confidence": table,
    }
    cvar_d = {
        "value": row["cvar_in_sample"],
        "in_sample": row["cvar_in_sample"],
        "out_of_sample": row["cvar_out_of_sample"],
        "confidence": primary,
        "horizon_days": risk.horizon_days,
    }
    stress_losses = -book_pnl(risk.stress_pnl, counts)
    stress = [
        {"name": n, "loss": float(v)}
        for n, v in zip(risk.stress_labels, stress_losses, strict=True)
    ]
    success: dict = {}
    monthly_out = None
    target = scenario.target.monthly_income
    if risk.managed is not None:
        monthly_in = book_pnl(risk.monthly, counts)
        p_in, lo_in, hi_in, n_in = success_probability(monthly_in, target)
        success = {"in_sample": p_in, "in_sample_ci": [lo_in, hi_in], "n_in_sample": n_in}
        if oos.monthly is not None:
            monthly_out = book_pnl(oos.monthly, counts[chosen_idx])
            p_out, lo, hi, n_out = success_probability(monthly_out, target)
            success.update({"out_of_sample": p_out, "ci": [lo, hi], "n_out_of_sample": n_out})
            p_req = scenario.target.success_probability
            if p_req is not None:
                # the monthly income the book reaches in a share p of fresh months
                success["income_at_probability"] = float(np.quantile(monthly_out, 1 - p_req))
    return RiskReport(var_d, cvar_d, tuple(stress), success, monthly_out)


def win_rates(
    scenario: Scenario, cs: CandidateSet, managed: ManagedResult | None, counts
) -> list[dict]:
    """Income-model win rates per strategy (contract-weighted over the book) vs claimed ones.

    A trade wins when its P&L net of costs is positive; the trades are the income model's
    (managed by the strategy's rules, on the physical measure's paths).

    Returns
    -------
    list[dict]
        ``strategy, win_rate, claimed_win_rate, avg_win, avg_loss, avg_days_held, basis`` per
        strategy (money per contract, account currency); ``basis`` says whether the weights are
        the book's contracts or, for a strategy the book does not hold, all its candidates;
        ``expected_trade`` (net) and ``exits`` (share per exit reason) likewise weighted.
    """
    if managed is None or len(managed.candidate_ids) != len(cs):
        return []
    m = managed
    out = []
    strat = cs.table["strategy"].to_numpy()
    for name, spec in scenario.strategies.items():
        sel = strat == name
        if not sel.any():
            continue
        w = counts * sel
        basis = "book"
        if w.sum() == 0:
            w = sel.astype(float)
            basis = "all candidates"
        w = w / w.sum()
        out.append(
            {
                "strategy": name,
                "win_rate": float(w @ np.asarray(m.win_rate)),
                "claimed_win_rate": spec.claimed_win_rate,
                "avg_win": float(w @ np.asarray(m.avg_win)),
                "avg_loss": float(w @ np.asarray(m.avg_loss)),
                "avg_days_held": float(w @ np.asarray(m.avg_days_held)),
                "expected_trade": float(w @ np.asarray(m.expected_trade)),
                "exits": {
                    r: float(v)
                    for r, v in zip(EXIT_REASONS, w @ np.asarray(m.exit_fractions), strict=True)
                },
                "basis": basis,
            }
        )
    return out


def monthly_quantiles(
    monthly: np.ndarray, expected: float, in_sample: np.ndarray | None = None
) -> dict:
    """Quantiles of a book's simulated monthly net P&L (account currency).

    Parameters
    ----------
    monthly : ndarray, shape (S,)
        Out-of-sample monthly P&L of the book, net of costs (income model months).
    expected : float
        The book's reported expected monthly income (in sample), for comparison.
    in_sample : ndarray, shape (S_in,), optional
        The in-sample months of the book (their standard error joins the comparison's).

    Returns
    -------
    dict
        ``p5, p25, p50, p75, p95`` (empirical quantiles, linear interpolation), ``mean`` and
        ``standard_error`` (sample SD / √S) of the months, ``n_months``, and
        ``z_vs_expected`` = (mean − expected) / √(SE² + SE_in²), the difference in units of
        the standard error of the difference of the two sample means.
    """
    x = np.asarray(monthly, dtype=float)
    q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    se_in = 0.0
    if in_sample is not None and np.asarray(in_sample).size > 1:
        y = np.asarray(in_sample, dtype=float)
        se_in = float(y.std(ddof=1) / math.sqrt(y.size))
    both = math.sqrt(se**2 + se_in**2)
    mean = float(x.mean())
    return {
        "p5": float(q[0]),
        "p25": float(q[1]),
        "p50": float(q[2]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "mean": mean,
        "standard_error": se,
        "standard_error_in_sample": se_in,
        "n_months": int(x.size),
        "z_vs_expected": (mean - expected) / both if both > 0 else math.nan,
        "basis": "out of sample (fresh income-model months), net of costs",
    }
