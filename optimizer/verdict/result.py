"""SizingResult: positions, portfolio metrics, allocation table, verdict, timings.

Every portfolio figure is a sum over the returned positions of per-contract metrics from the
candidate table (account currency); ``tests/optimizer/test_pipeline.py`` recomputes them from
:mod:`models` on the chosen legs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from optimizer.verdict.verdict import Verdict

__all__ = [
    "SizingResult",
    "allocation_table",
    "jsonable",
    "portfolio_metrics",
    "positions_table",
]

POSITION_COLUMNS = [
    "strategy",
    "underlying",
    "expiry",
    "dte",
    "strikes",
    "contracts",
    "held_contracts",
    "credit_per_contract",
    "theta_per_day_per_contract",
    "theta_greek_per_contract",
    "bp_per_contract",
    "expected_monthly_income_per_contract",
    "expected_monthly_income_gross_per_contract",
    "costs_per_month_per_contract",
    "delta_per_contract",
    "cash_delta_per_contract",
    "vega_per_contract",
    "max_loss_per_contract",
    "margin_rule",
    "id",
]


def positions_table(candidates: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    """Rows of ``candidates`` with a positive count, with ``contracts`` and totals columns."""
    t = candidates.copy()
    t["contracts"] = np.asarray(counts, dtype=int)
    if "held_contracts" not in t:  # contracts already held (a re-plan's fixed positions)
        t["held_contracts"] = 0
    if "expected_monthly_income_gross_per_contract" not in t:  # theta model: no cost line
        t["expected_monthly_income_gross_per_contract"] = t["expected_monthly_income_per_contract"]
        t["costs_per_month_per_contract"] = 0.0
    if "theta_greek_per_contract" not in t:
        t["theta_greek_per_contract"] = t["theta_per_day_per_contract"]
    pos = t[t["contracts"] > 0].copy()
    for col, total in (
        ("credit_per_contract", "credit"),
        ("theta_per_day_per_contract", "theta_per_day"),
        ("bp_per_contract", "bp"),
        ("expected_monthly_income_per_contract", "expected_monthly_income"),
    ):
        pos[total] = pos[col] * pos["contracts"]
    return pos[POSITION_COLUMNS + ["credit", "theta_per_day", "bp", "expected_monthly_income"]]


def portfolio_metrics(
    positions: pd.DataFrame, *, net_liq: float, bp_cap: float, currency: str
) -> dict[str, float | str | int]:
    """Portfolio totals of a positions table (account currency).

    Keys: ``net_liq, currency, expected_monthly_income`` (net of costs), ``theta_per_day``
    (normalized: per calendar day of the book held over a month), ``bp_used, bp_used_pct, bp_cap,
    credit, cash_delta, vega, notional_short, max_loss_sum, contracts, positions``. The solve adds
    ``expected_monthly_income_gross``, ``costs_per_month`` (by component), ``var``/``cvar``
    (1-day) and ``monthly_var``/``monthly_cvar``.
    """

    def tot(col: str) -> float:
        return float((positions[col] * positions["contracts"]).sum()) if len(positions) else 0.0

    bp_used = tot("bp_per_contract")
    return {
        "net_liq": float(net_liq),
        "currency": currency,
        "expected_monthly_income": tot("expected_monthly_income_per_contract"),
        "theta_per_day": tot("theta_per_day_per_contract"),
        "bp_used": bp_used,
        "bp_used_pct": bp_used / net_liq,
        "bp_cap": float(bp_cap),
        "credit": tot("credit_per_contract"),
        "cash_delta": tot("cash_delta_per_contract"),
        "vega": tot("vega_per_contract"),
        "max_loss_sum": tot("max_loss_per_contract"),
        "contracts": int(positions["contracts"].sum()) if len(positions) else 0,
        "positions": len(positions),
    }


def allocation_table(
    positions: pd.DataFrame, weights: dict[str, float], target: float
) -> pd.DataFrame:
    """Seed 1's allocation table, computed: per strategy target vs actual expected income.

    Columns: ``strategy, weight, target, actual, share, shortfall, achievement``; a ``TOTAL`` row.
    """
    inc = (
        positions.groupby("strategy")["expected_monthly_income"].sum()
        if len(positions)
        else pd.Series(dtype=float)
    )
    total = float(inc.sum())
    rows = []
    for s, w in weights.items():
        actual = float(inc.get(s, 0.0))
        tgt = w * target
        rows.append(
            {
                "strategy": s,
                "weight": w,
                "target": tgt,
                "actual": actual,
                "share": actual / total if total > 0 else 0.0,
                "shortfall": max(tgt - actual, 0.0),
                "achievement": actual / tgt if tgt > 0 else math.nan,
            }
        )
    rows.append(
        {
            "strategy": "TOTAL",
            "weight": sum(weights.values()),
            "target": target,
            "actual": total,
            "share": 1.0 if total > 0 else 0.0,
            "shortfall": max(target - total, 0.0),
            "achievement": total / target,
        }
    )
    return pd.DataFrame(rows)


def jsonable(x: Any) -> Any:
    """A JSON-ready copy of ``x``: NaN/inf → None, numpy scalars → Python, timestamps and dates
    → ISO strings, enums → their values; dicts and sequences recursively."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, pd.Timestamp):
        return None if pd.isna(x) else x.isoformat()
    if x is pd.NaT:
        return None
    if isinstance(x, date):
        return x.isoformat()
    if hasattr(x, "value") and hasattr(x, "name") and not isinstance(x, str):  # enums
        return x.value
    return x


@dataclass(frozen=True)
class SizingResult:
    """Outcome of ``thetaplan solve`` (frozen).

    Parameters
    ----------
    scenario : str
        Scenario name.
    positions : pd.DataFrame
        Chosen positions (see :data:`POSITION_COLUMNS` plus totals), account currency.
    portfolio : dict
        Portfolio totals (:func:`portfolio_metrics`).
    allocation : pd.DataFrame
        Target vs actual per strategy (:func:`allocation_table`).
    verdict : Verdict
        Feasibility verdict.
    candidates : pd.DataFrame
        Every candidate with its per-contract metrics and chosen ``contracts``.
    excluded : pd.DataFrame
        Candidates removed before optimization, with reasons.
    limits : dict
        The caps in force (resolved from the scenario and phase tables).
    solver : dict
        Backend, status, objective, MIP gap, time limit.
    timings : dict[str, float]
        Seconds per stage (market, candidates, build, compile, solve, verdict, total).
    notes : tuple[str, ...]
        Modelling notes (vol ratio source, weight renormalization, …).
    market : dict
        VIX, realized/implied vol ratio (and its source), income model, chain filter counts.
    stress : tuple[dict, ...]
        ``{"name", "loss"}`` per named stress (positive = loss of the book, account currency).
    win_rates : tuple[dict, ...]
        Managed-model win rate, average win/loss and days held per strategy, beside the
        planning documents' claimed win rate.
    zero_dte : dict | None
        The book's 0DTE positions priced on both variance bases (``session`` and
        ``close_to_close``), with the edge against the implied/realized session variance ratio
        (:func:`optimizer.verdict.zero_dte.variance_basis_report`); ``None`` without 0DTE positions or
        with light diagnostics.
    scenario_pnl : pd.DataFrame | None
        The market-scenario P&L matrix the solve used: rows = scenarios, one column per
        candidate id, per contract unit, account currency.
    monthly_pnl : ndarray | None
        Out-of-sample monthly P&L samples of the chosen book (for the distribution plot).
    diagnostics : str
        ``full`` or ``light``: the diagnostics the solve ran (not in the JSON; studies read it).
    """

    scenario: str
    positions: pd.DataFrame
    portfolio: dict
    allocation: pd.DataFrame
    verdict: Verdict
    candidates: pd.DataFrame
    excluded: pd.DataFrame
    limits: dict
    solver: dict
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    market: dict = field(default_factory=dict)
    stress: tuple[dict, ...] = ()
    win_rates: tuple[dict, ...] = ()
    zero_dte: dict | None = None
    scenario_pnl: pd.DataFrame | None = None
    monthly_pnl: np.ndarray | None = None
    diagnostics: str = "full"

    def to_dict(self) -> dict:
        """JSON-ready mapping (keys: scenario, verdict, portfolio, positions, allocation, …)."""
        v = asdict(self.verdict)
        return jsonable(
            {
                "scenario": self.scenario,
                "verdict": v,
                "portfolio": self.portfolio,
                "positions": self.positions.to_dict(orient="records"),
                "allocation": self.allocation.to_dict(orient="records"),
                "limits": self.limits,
                "solver": self.solver,
                "timings": self.timings,
                "market": self.market,
                "excluded": self.excluded.to_dict(orient="records"),
                "stress": list(self.stress),
                "win_rates": list(self.win_rates),
                "zero_dte": self.zero_dte,
                "notes": list(self.notes),
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> pd.Series:
        """Headline numbers as a Series (account currency, per month unless stated)."""
        p = self.portfolio
        return pd.Series(
            {
                "verdict": self.verdict.status.value,
                "target": self.verdict.target,
                "max_expected_monthly_income": self.verdict.max_income,
                "achievement": self.verdict.achievement,
                "chosen_expected_monthly_income": p["expected_monthly_income"],
                "theta_per_day": p["theta_per_day"],
                "bp_used": p["bp_used"],
                "bp_used_pct": p["bp_used_pct"],
                "min_nlv": self.verdict.min_nlv.value,
            },
            name=self.scenario,
        )

    def plot_monthly_pnl(self, alpha: float = 0.95):
        """Histogram of the book's out-of-sample monthly P&L with the target, VaR and CVaR.

        VaR/CVaR here are of the monthly P&L (horizon one month) at confidence ``alpha``.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ValueError
            If the result carries no monthly samples.
        """
        from models.risk import cvar, value_at_risk
        from optimizer.plots._base import _figure

        if self.monthly_pnl is None:
            raise ValueError("no monthly P&L samples (the scenario has no managed model)")
        x = np.asarray(self.monthly_pnl, dtype=float)
        ccy = self.portfolio["currency"]
        fig = _figure(8, 4.5, layout=None)
        ax = fig.subplots()
        ax.hist(x, bins=120, color="#4c72b0", alpha=0.85)
        target = self.verdict.target
        var_m, cvar_m = value_at_risk(-x, alpha), cvar(-x, alpha)
        for value, label, style in (
            (target, f"target {target:,.0f}", "-"),
            (-var_m, f"VaR {alpha:.0%} (1 month) {var_m:,.0f}", "--"),
            (-cvar_m, f"CVaR {alpha:.0%} (1 month) {cvar_m:,.0f}", ":"),
        ):
            ax.axvline(
                value, color="#c44e52" if value == target else "black", ls=style, label=label
            )
        p_hit = float(np.mean(x >= target))
        ax.set_title(f"{self.scenario}: monthly P&L of the book (P(≥ target) = {p_hit:.1%})")
        ax.set_xlabel(f"monthly P&L ({ccy}, {x.size:,} simulated months, out of sample)")
        ax.set_ylabel("months")
        ax.legend(loc="upper left", fontsize=8)
        return fig

    def __repr__(self) -> str:
        v = self.verdict
        ach = f"{v.achievement:.1%}" if v.achievement is not None else "n/a"
        return (
            f"SizingResult({self.scenario!r}: {v.status.value}, achievement {ach}, "
            f"{self.portfolio['contracts']} contracts in {self.portfolio['positions']} positions, "
            f"theta/day {self.portfolio['theta_per_day']:,.2f} {self.portfolio['currency']})"
        )
