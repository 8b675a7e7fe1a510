"""scenario → market → candidates → problem → solve → verdict → SizingResult (one direction)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from optimizer.backends import solve
from optimizer.candidates import CandidateSet, build_candidate_set
from optimizer.formulation import build_problem
from optimizer.limits import Limits, allowed_products, resolve_limits
from optimizer.market import Market, build_market
from optimizer.result import (
    SizingResult,
    allocation_table,
    portfolio_metrics,
    positions_table,
)
from optimizer.spec import ObjectiveKind, Scenario
from optimizer.status import SolveOutcome, SolverOptions, SolveStatus
from optimizer.verdict import Verdict, binding_caps, decide, minimum_nlv

__all__ = ["Prepared", "max_income", "prepare", "solve_scenario"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """Everything a solve needs, before any solver runs.

    Parameters
    ----------
    candidates : CandidateSet
        Candidates with per-contract metrics (account currency).
    limits : Limits
        Caps in force.
    market : Market
        Surfaces, VIX, vol ratio and chain filter reports.
    timings : dict[str, float]
        Seconds for ``market`` and ``candidates``.
    notes : list[str]
        Modelling choices in force (income model, BP cap source, weights).
    """

    candidates: CandidateSet
    limits: Limits
    market: Market
    timings: dict[str, float]
    notes: list[str]

    def __iter__(self):
        """Unpack as ``(candidates, limits, timings, notes)``."""
        return iter((self.candidates, self.limits, self.timings, self.notes))


def prepare(scenario: Scenario) -> Prepared:
    """Market, caps and candidates of a scenario, with stage timings and notes."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    market = build_market(scenario)
    timings["market"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    limits = resolve_limits(scenario)
    cs = build_candidate_set(
        scenario, market, allowed_products=allowed_products(scenario, limits.phase)
    )
    timings["candidates"] = time.perf_counter() - t0
    fixed = [n for n, s in scenario.strategies.items() if s.template == "fixed"]
    notes = [
        (
            f"{', '.join(fixed)}: stated per-contract economics (seed 1 EV formula); "
            if fixed
            else ""
        )
        + f"income model: {scenario.income.model}"
        + (
            f" ({scenario.income.days_per_month:g} days per month)"
            if scenario.income.model == "theta"
            else f" (vol ratio {market.vol_ratio:.3f}: {market.vol_ratio_source})"
        ),
        f"BP cap {limits.bp_fraction:.1%} of NLV: {limits.bp_source}",
        f"allocation weights: {limits.weight_note}",
    ]
    return Prepared(cs, limits, market, timings, notes)


def max_income(
    cs: CandidateSet, limits: Limits, options: SolverOptions, backend: str
) -> SolveOutcome:
    """Solve the max-expected-income MILP for ``cs`` under ``limits``."""
    return solve(build_problem(cs, limits, ObjectiveKind.MAX_INCOME), backend, options)


def _caps_at(cs: CandidateSet, limits: Limits, options: SolverOptions, backend: str) -> str:
    """Names of the caps binding at the max-income book for ``limits`` (for verdict notes)."""
    problem = build_problem(cs, limits, ObjectiveKind.MAX_INCOME)
    out = solve(problem, backend, options)
    if not out.status.has_solution or out.values is None:
        return ""
    rows = [
        b.row for b in binding_caps(problem, out.values, None) if b.slack < 1e-6 or "[" in b.row
    ]
    return f" (at {limits.nlv:,.0f}: {', '.join(rows)} bind)" if rows else ""


def solve_scenario(
    scenario: Scenario, *, backend: str | None = None, min_nlv_search: bool = True
) -> SizingResult:
    """Size a scenario and give its verdict.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    backend : str | None
        ``cvxpy`` or ``pulp``; default from the scenario's ``solver.backend``.
    min_nlv_search : bool
        Run the bisection for the minimum account size.

    Returns
    -------
    SizingResult
        Never raises on solver trouble: the verdict says UNKNOWN with the solver's message.
    """
    t_all = time.perf_counter()
    backend = backend or scenario.solver.backend
    options = SolverOptions(
        time_limit=scenario.solver.time_limit, mip_rel_gap=scenario.solver.mip_gap
    )
    prep = prepare(scenario)
    cs, limits, timings, notes = prep
    target = scenario.target.monthly_income

    t0 = time.perf_counter()
    problem = build_problem(cs, limits, scenario.objective, target=target)
    timings["build"] = time.perf_counter() - t0
    chosen = solve(problem, backend, options)
    timings["compile"] = chosen.compile_seconds
    timings["solve"] = chosen.solve_seconds
    counts = (
        np.rint(chosen.values["n"]).astype(int)
        if chosen.status.has_solution and chosen.values is not None
        else np.zeros(len(cs), dtype=int)
    )

    t0 = time.perf_counter()
    if scenario.objective is ObjectiveKind.MAX_INCOME:
        inc_problem, inc_outcome = problem, chosen
    else:
        inc_problem = build_problem(cs, limits, ObjectiveKind.MAX_INCOME)
        inc_outcome = solve(inc_problem, backend, options)
    positions = positions_table(cs.table, counts)
    portfolio = portfolio_metrics(
        positions,
        net_liq=limits.nlv,
        bp_cap=limits.bp_fraction * limits.nlv,
        currency=cs.currency,
    )
    status, best, message = decide(target, inc_outcome, portfolio["expected_monthly_income"])
    binding = ()
    if inc_outcome.status.has_solution and inc_outcome.values is not None:
        relaxed = solve(inc_problem.relaxed(), backend, options)
        duals = relaxed.duals if relaxed.status is SolveStatus.OPTIMAL else None
        binding = binding_caps(inc_problem, inc_outcome.values, duals)
    timings["verdict"] = time.perf_counter() - t0

    min_nlv, note = None, "not searched"
    if min_nlv_search:
        t0 = time.perf_counter()

        def at(nlv: float):
            out = max_income(cs, limits.at_nlv(nlv), options, backend)
            return out.objective_value, out.status

        min_nlv, note = minimum_nlv(at, target, limits.nlv)
        if min_nlv is None and note.startswith("not reachable"):
            note += _caps_at(cs, limits.at_nlv(limits.nlv * 64.0), options, backend)
        timings["min_nlv"] = time.perf_counter() - t0
    if chosen.status is not SolveStatus.OPTIMAL:
        notes.append(f"objective solve ended {chosen.status.value}: {chosen.message}")
    verdict = Verdict(
        status=status,
        target=target,
        max_income=best,
        achievement=(best / target) if best is not None else None,
        chosen_income=portfolio["expected_monthly_income"],
        chosen_achievement=portfolio["expected_monthly_income"] / target,
        binding=binding,
        min_nlv=min_nlv,
        min_nlv_note=note,
        solver_status=inc_outcome.status.value,
        mip_gap=inc_outcome.mip_gap,
        message=message,
    )
    candidates = cs.table.copy()
    candidates["contracts"] = counts
    timings["total"] = time.perf_counter() - t_all
    return SizingResult(
        scenario=scenario.name,
        positions=positions,
        portfolio=portfolio,
        allocation=allocation_table(positions, limits.weights, target),
        verdict=verdict,
        candidates=candidates,
        excluded=cs.excluded,
        limits={
            "phase": limits.phase,
            "bp_fraction": limits.bp_fraction,
            "bp_source": limits.bp_source,
            "weights": limits.weights,
            "allocation_tolerance": limits.allocation_tolerance,
            "max_positions": limits.max_positions,
            "group_limit": limits.group_limit,
            "group_excluded": sorted(limits.group_excluded),
            "group_delta_cap": limits.group_delta_cap,
            "strategy_bp_caps": limits.strategy_bp_caps,
            "leverage": limits.leverage,
        },
        solver={
            "backend": chosen.backend,
            "status": chosen.status.value,
            "objective": scenario.objective.value,
            "objective_value": chosen.objective_value,
            "mip_gap": chosen.mip_gap,
            "time_limit": options.time_limit,
            "mip_rel_gap": options.mip_rel_gap,
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
            "chain_filters": prep.market.filter_reports,
        },
    )
