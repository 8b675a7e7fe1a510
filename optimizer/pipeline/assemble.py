"""Assess the chosen book and assemble the result: positions, portfolio, out-of-sample risk,
the verdict and :class:`~optimizer.verdict.result.SizingResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.risk import cvar, value_at_risk
from optimizer.formulation.families import registry
from optimizer.inputs.income_model import cost_breakdown, physical_measure
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData, evaluate_out_of_sample
from optimizer.inputs.spec import Scenario
from optimizer.pipeline.choose import BookChoice
from optimizer.pipeline.diagnose import Diagnosis, Reach
from optimizer.pipeline.prepare import Prepared
from optimizer.solve.solving import SolveContext
from optimizer.solve.status import LIMIT_STEPS
from optimizer.verdict.result import (
    SizingResult,
    allocation_table,
    portfolio_metrics,
    positions_table,
)
from optimizer.verdict.risk_report import monthly_quantiles, risk_report, win_rates
from optimizer.verdict.verdict import Verdict, VerdictStatus, return_on_capital
from optimizer.verdict.zero_dte import variance_basis_report

__all__ = ["BookRisk", "assemble", "assess_risk", "book_portfolio"]

#: Fallback steps that record a MILP stopped at a limit (:mod:`optimizer.solve.solving`).


def book_portfolio(prep: Prepared, counts: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The positions table and portfolio metrics of a book.

    Parameters
    ----------
    prep : Prepared
        Candidates (K), caps and the income simulation.
    counts : ndarray
        Contracts per candidate, shape (K,).

    Returns
    -------
    positions : pd.DataFrame
        One row per held candidate (money per contract, account currency).
    portfolio : dict
        Totals (income net and gross of costs per month, BP, Greeks …; account currency).
    """
    cs, limits = prep.candidates, prep.limits
    positions = positions_table(cs.table, counts)
    portfolio = portfolio_metrics(
        positions,
        net_liq=limits.nlv,
        bp_cap=limits.bp_fraction * limits.nlv,
        currency=cs.currency,
    )
    if prep.income is not None:
        in_income = [cs.ids.index(i) for i in prep.income.ids]
        portfolio["expected_monthly_income_gross"] = float(
            cs.col("expected_monthly_income_gross_per_contract") @ counts
        )
        portfolio["costs_per_month"] = cost_breakdown(prep.income.result, counts[in_income])
    else:
        portfolio["expected_monthly_income_gross"] = portfolio["expected_monthly_income"]
        portfolio["costs_per_month"] = None
    return positions, portfolio


@dataclass(frozen=True)
class BookRisk:
    """Out-of-sample risk of the chosen book (empty without a ``risk:`` section).

    Parameters
    ----------
    var, cvar : dict | None
        VaR / CVaR report over the scenario set's horizon (in and out of sample, by confidence).
    monthly : dict
        ``monthly_var``, ``monthly_cvar`` and ``monthly_income_quantiles`` (income model months).
    stress : tuple[dict, ...]
        Stress-scenario P&L of the book.
    success : dict
        P(month ≥ target) in and out of sample, its interval, income at the probability.
    monthly_out_of_sample : ndarray | None
        The book's out-of-sample monthly P&L, shape (M,), account currency.
    """

    var: dict | None = None
    cvar: dict | None = None
    monthly: dict | None = None
    stress: tuple = ()
    success: dict | None = None
    monthly_out_of_sample: np.ndarray | None = None


def assess_risk(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData | None,
    counts: np.ndarray,
    expected_income: float,
    timings: dict[str, float],
) -> BookRisk:
    """VaR/CVaR, stresses and P(success) of the book on fresh (out-of-sample) scenarios.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    prep : Prepared
        Its candidates (K) and market.
    risk : RiskData | None
        In-sample risk data; ``None`` gives an empty :class:`BookRisk`.
    counts : ndarray
        The book, shape (K,).
    expected_income : float
        The book's expected monthly income (account currency), for the quantile table.
    timings : dict[str, float]
        Receives ``out_of_sample`` (seconds).

    Returns
    -------
    BookRisk
    """
    if risk is None:
        return BookRisk(success={})
    t0 = time.perf_counter()
    cs = prep.candidates
    chosen_idx = [int(i) for i in np.flatnonzero(counts)]
    oos = evaluate_out_of_sample(
        scenario, cs, prep.market, chosen_idx, managed=risk.managed is not None
    )
    report = risk_report(scenario, risk, oos, counts, chosen_idx)
    var_d, cvar_d, stress, success = report.var, report.cvar, report.stress, report.success
    monthly_oos = report.monthly_out_of_sample
    monthly = None
    if monthly_oos is not None:
        m_var, m_cvar = _monthly_risk(scenario, risk, counts, monthly_oos)
        monthly = {
            "monthly_var": m_var,
            "monthly_cvar": m_cvar,
            "monthly_income_quantiles": monthly_quantiles(
                monthly_oos, expected_income, risk.monthly @ counts
            ),
        }
    timings["out_of_sample"] = time.perf_counter() - t0
    return BookRisk(var_d, cvar_d, monthly, tuple(stress), success, monthly_oos)


def assemble(
    scenario: Scenario,
    prep: Prepared,
    ctx: SolveContext,
    risk: RiskData | None,
    choice: BookChoice,
    reach: Reach,
    positions: pd.DataFrame,
    portfolio: dict,
    book_risk: BookRisk,
    decision: tuple[VerdictStatus, float | None, str],
    diagnosis: Diagnosis,
    max_p: float | None,
    notes: list[str],
    timings: dict[str, float],
    *,
    full: bool,
) -> SizingResult:
    """The verdict and the :class:`~optimizer.verdict.result.SizingResult` of a solve.

    Parameters
    ----------
    scenario, prep, ctx, risk
        The solve's scenario, prepared inputs, solver context and risk data.
    choice : BookChoice
        The headline book.
    reach : Reach
        The verdict's max income, conflicts and binding caps.
    positions, portfolio
        :func:`book_portfolio` of the headline book (``portfolio`` carries the risk figures).
    book_risk : BookRisk
        Its out-of-sample risk.
    decision : tuple
        ``(status, max income, message)`` of :func:`optimizer.verdict.verdict.decide`.
    diagnosis : Diagnosis
        Relaxations, cap costs, minimal relaxations and the minimum NLV.
    max_p : float | None
        Highest in-sample P(month ≥ target) found.
    notes : list[str]
        Notes of the solve, in order.
    timings : dict[str, float]
        Stage seconds (``total`` is added by the caller).
    full : bool
        Full diagnostics (the 0DTE variance-basis report is part of them).

    Returns
    -------
    SizingResult
    """
    cs, limits = prep.candidates, prep.limits
    target = scenario.target.monthly_income
    p_req = limits.success_probability
    counts, chosen, problem, book_from = (
        choice.counts,
        choice.outcome,
        choice.problem,
        choice.book_from,
    )
    inc, binding, conflicts = reach.max_income, reach.binding, reach.conflicts
    status, best, _ = decision
    message = diagnosis.message
    success = book_risk.success or {}
    stress, monthly_oos = book_risk.stress, book_risk.monthly_out_of_sample
    relax, costs, min_nlv = diagnosis.relaxations, diagnosis.cap_costs, diagnosis.min_nlv
    minimal, minimal_note = diagnosis.minimal, diagnosis.minimal_note
    solvent, solvent_note = diagnosis.solvent, diagnosis.solvent_note
    alternatives = choice.alternatives
    verdict = Verdict(
        status=status,
        target=target,
        max_income=best,
        achievement=(best / target) if best is not None else None,
        chosen_income=portfolio["expected_monthly_income"],
        chosen_achievement=portfolio["expected_monthly_income"] / target,
        binding=binding,
        min_nlv=min_nlv,
        solver_status=inc.outcome.status.value,
        mip_gap=inc.outcome.mip_gap,
        message=message,
        required_probability=p_req,
        success_probability=success.get("out_of_sample"),
        success_probability_in_sample=success.get("in_sample"),
        success_probability_ci=tuple(success["ci"]) if "ci" in success else None,
        max_success_probability=max_p,
        income_at_probability=success.get("income_at_probability"),
        relaxations=tuple(relax),
        minimal_relaxation=minimal,
        minimal_relaxation_note=minimal_note,
        solvent_relaxation=solvent,
        solvent_relaxation_note=solvent_note,
        conflicts=conflicts,
        fallbacks=tuple(ctx.fallbacks),
        alternatives=tuple(alternatives),
        return_on_capital=return_on_capital(
            portfolio["expected_monthly_income"], portfolio["net_liq"], portfolio["bp_used"]
        ),
        cap_costs=costs,
    )
    candidates = cs.table.copy()
    candidates["contracts"] = counts
    return SizingResult(
        scenario=scenario.name,
        positions=positions,
        portfolio=portfolio,
        allocation=allocation_table(positions, limits.weights, target),
        verdict=verdict,
        candidates=candidates,
        excluded=cs.excluded,
        limits=_limits_report(limits),
        solver={
            "backend": chosen.backend,
            "status": chosen.status.value,
            "objective": scenario.objective.value,
            "book_from": book_from,
            "objective_value": chosen.objective_value,
            "mip_gap": chosen.mip_gap,
            "time_limit": ctx.options.time_limit,
            "node_limit": ctx.options.node_limit,
            "stopped_at_limit": [f.reason for f in ctx.fallbacks if f.step in LIMIT_STEPS],
            "mip_rel_gap": ctx.options.mip_rel_gap,
            "candidates": len(cs),
            "rows": sum(b.m for b in problem.blocks),
        },
        timings=timings,
        notes=tuple(notes),
        market={
            "vix": prep.market.vix,
            "vol_ratio": prep.market.vol_ratio,
            "vol_ratio_source": prep.market.vol_ratio_source,
            "income_model": scenario.income.model,
            "physical_measure": (
                physical_measure(scenario, prep.market) if prep.income is not None else None
            ),
            "chain_filters": prep.market.filter_reports,
        },
        stress=tuple(stress),
        win_rates=tuple(
            win_rates(scenario, cs, prep.income.result if prep.income else None, counts)
        ),
        zero_dte=(
            variance_basis_report(scenario, prep.market, cs, counts)
            if full and prep.income is not None
            else None
        ),
        scenario_pnl=(
            pd.DataFrame(
                risk.pnl, columns=list(cs.ids), index=pd.Index(risk.labels, name="scenario")
            )
            if risk is not None
            else None
        ),
        monthly_pnl=monthly_oos,
        diagnostics="full" if full else "light",
    )


def _limits_report(limits: Limits) -> dict:
    """The caps in force, as reported in ``SizingResult.limits`` and the JSON."""
    out = {
        "phase": limits.phase,
        "bp_fraction": limits.bp_fraction,
        "bp_source": limits.bp_source,
        "weights": limits.weights,
        "allocation_tolerance": limits.allocation_tolerance,
        "allocation_mode": limits.allocation_mode,
        "max_positions": limits.max_positions,
        "max_total_positions": limits.max_total_positions,
        "position_count": limits.position_basis,
        "group_limit": dict(limits.group_limits),
        "group_excluded": sorted(limits.group_excluded),
        "group_risk": limits.group_risk,
        "group_risk_cap": limits.group_risk_cap,
        "one_per_expiry": limits.one_per_expiry,
        "max_loss_per_position": limits.max_loss_per_position,
        "strategy_bp_caps": limits.strategy_bp_caps,
        "leverage": limits.leverage,
        "cvar_caps": [list(c) for c in limits.cvar_caps],
        "var_caps": [list(c) for c in limits.var_caps],
        "stress_cap": limits.stress_cap,
        "success_probability": limits.success_probability,
    }
    for family in registry():
        settings = family.settings_of(limits)
        if settings is not None:
            out[family.section] = (
                family.report(settings) if family.report else settings.model_dump(mode="json")
            )
    return out


def _monthly_risk(
    scenario: Scenario, risk: RiskData, counts: np.ndarray, monthly_oos: np.ndarray
) -> tuple[dict, dict]:
    """Monthly VaR and CVaR of the book (positive = loss), in and out of sample.

    In sample on the optimization's months (:attr:`RiskData.monthly`), out of sample on the
    fresh months; at every ``risk.report_alphas`` level and each ``monthly_cvar`` cap's level.
    """
    alphas = sorted(
        set(scenario.risk.report_alphas) | {c.alpha for c in scenario.risk.monthly_cvar}
    )
    loss_in = -(risk.monthly @ counts)
    loss_out = -np.asarray(monthly_oos, dtype=float)
    rows = [
        {
            "confidence": a,
            "var_in_sample": value_at_risk(loss_in, a),
            "var_out_of_sample": value_at_risk(loss_out, a),
            "cvar_in_sample": cvar(loss_in, a),
            "cvar_out_of_sample": cvar(loss_out, a),
        }
        for a in alphas
    ]
    primary = next(r for r in rows if r["confidence"] == alphas[0])
    var_d = {
        "value": primary["var_out_of_sample"],
        "confidence": alphas[0],
        "horizon": "calendar month (income model, marked to market)",
        "by_confidence": rows,
    }
    cvar_d = {"value": primary["cvar_out_of_sample"], "confidence": alphas[0]}
    return var_d, cvar_d
