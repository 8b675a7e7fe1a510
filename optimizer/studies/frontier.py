"""Efficient frontier: max expected monthly income as one cap moves, every point an exact MILP.

``cap = "cvar"``: the scenario's 1-day CVaR cap (its first ``risk.cvar`` level, or 99%) is set to
each value of a grid of fractions of NLV, the other caps kept; ``cap = "bp"``: the total
buying-power cap. Each point is :func:`optimizer.solve.solving.max_income` with every tail-risk cap in
force (CVaR by exact cutting planes), so the curve is the set of exact optima, not an
interpolation. For each point's book the realized 1-day CVaR (in sample) and
P(month ≥ target) over the income model's months are recomputed ex post from the contract counts.
The scenario's own book (its objective under its own caps) is returned beside the curve.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import SpecError
from models.risk import book_pnl, cvar
from optimizer.inputs.risk_model import build_risk_data
from optimizer.inputs.spec import Scenario
from optimizer.pipeline import prepare
from optimizer.solve.solving import SolveContext, counts_of, max_income, solve_sizing

__all__ = ["Frontier", "frontier"]


@dataclass(frozen=True)
class Frontier:
    """A frontier and the scenario's own book.

    Parameters
    ----------
    points : pd.DataFrame
        One row per cap value: ``cap`` (fraction of NLV), ``max_income`` (account currency per
        month, NaN when unsolved), ``cvar`` (realized 1-day CVaR of the book, account currency),
        ``bp_used_pct``, ``success_probability`` (share of the income model's months with book
        P&L ≥ target), ``status``, ``contracts`` (total), ``book`` (``id:count`` list).
    chosen : dict
        The scenario's book under its own caps and objective: ``cap`` (the cap in force),
        ``income``, ``cvar``, ``bp_used_pct``, ``success_probability``.
    cap : str
        ``cvar`` or ``bp``.
    alpha : float | None
        CVaR confidence of the ``cvar`` axis.
    """

    points: pd.DataFrame
    chosen: dict
    cap: str
    alpha: float | None


def _book_metrics(cs, risk, limits, counts, alpha, target) -> dict:
    n = np.asarray(counts, dtype=float)
    loss = -book_pnl(risk.pnl, n)
    months = risk.monthly
    p = float(np.mean(months @ n >= target)) if months is not None else float("nan")
    return {
        "income": float(cs.col("expected_monthly_income_per_contract") @ n),
        "cvar": cvar(loss, alpha),
        "bp_used_pct": float(cs.col("bp_per_contract") @ n) / limits.nlv,
        "success_probability": p,
    }


def frontier(
    scenario: Scenario,
    *,
    cap: str = "cvar",
    values: list[float] | None = None,
    points: int = 12,
    backend: str | None = None,
) -> Frontier:
    """Max expected monthly income against a cap (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        Needs a ``risk`` section (scenario P&L and the income model's months).
    cap : str
        ``cvar`` (1-day CVaR cap) or ``bp`` (total buying-power cap).
    values : list[float] | None
        Cap values as fractions of NLV; default ``points`` values from a small fraction up to
        the cap's value at the uncapped max-income book (CVaR) or to 100% of NLV (BP).
    points : int
        Grid size when ``values`` is None (>= 2).
    backend : str | None
        Solver backend (default the scenario's).

    Returns
    -------
    Frontier

    Raises
    ------
    SpecError
        No risk section, or a bad cap name.
    """
    if cap not in ("cvar", "bp"):
        raise SpecError(f"--cap: {cap!r} is not cvar or bp")
    if scenario.risk is None:
        raise SpecError("risk: the frontier needs a risk section (scenario P&L and months)")
    if points < 2:
        raise SpecError(f"--points: need at least 2, got {points}")
    prep = prepare(scenario)
    cs, limits = prep.candidates, prep.limits
    managed = prep.income.result if prep.income is not None else None
    risk = build_risk_data(scenario, cs, prep.market, managed=managed)
    ctx = SolveContext(
        backend or scenario.solver.backend,
        scenario.solver.options(),
    )
    alpha = limits.cvar_caps[0][0] if limits.cvar_caps else 0.99
    target = scenario.target.monthly_income

    def with_cap(value: float | None):
        if cap == "bp":
            return dataclasses.replace(limits, bp_fraction=float(value))
        others = tuple(c for c in limits.cvar_caps if c[0] != alpha)
        caps = others if value is None else ((alpha, float(value)), *others)
        return dataclasses.replace(limits, cvar_caps=caps)

    if values is None:
        if cap == "bp":
            values = list(np.linspace(0.05, 1.0, points))
        else:
            top = max_income(cs, with_cap(None), ctx, risk=risk)
            counts = counts_of(top.outcome, len(cs))
            c_top = _book_metrics(cs, risk, limits, counts, alpha, target)["cvar"] / limits.nlv
            c_top = max(c_top, 1e-4)
            values = list(np.linspace(c_top / points, c_top, points))
    rows = []
    for v in values:
        lim = with_cap(v)
        res = max_income(cs, lim, ctx, risk=risk)
        counts = counts_of(res.outcome, len(cs))
        has = res.outcome.status.has_solution
        m = _book_metrics(cs, risk, lim, counts, alpha, target)
        rows.append(
            {
                "cap": float(v),
                "max_income": res.value if (has and res.value is not None) else float("nan"),
                "cvar": m["cvar"] if has else float("nan"),
                "bp_used_pct": m["bp_used_pct"] if has else float("nan"),
                "success_probability": m["success_probability"] if has else float("nan"),
                "status": "unbounded" if res.unbounded else res.outcome.status.value,
                "contracts": int(counts.sum()),
                "book": ", ".join(f"{cs.ids[i]}:{int(c)}" for i, c in enumerate(counts) if c),
            }
        )
    own, _ = solve_sizing(cs, limits, scenario.objective, ctx, risk=risk, chance=False)
    chosen = _book_metrics(cs, risk, limits, counts_of(own, len(cs)), alpha, target)
    chosen["cap"] = (
        limits.bp_fraction
        if cap == "bp"
        else next((c for a, c in limits.cvar_caps if a == alpha), float("nan"))
    )
    return Frontier(pd.DataFrame(rows), chosen, cap, alpha if cap == "cvar" else None)
