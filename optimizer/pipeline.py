"""scenario → market → candidates → problem → solve → verdict → SizingResult (one direction)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import SpecError
from models.risk import cvar, value_at_risk
from optimizer.inputs.candidates import CandidateSet, build_candidate_set, normalized_theta
from optimizer.inputs.income_model import (
    IncomeSimulation,
    cost_breakdown,
    market_key,
    physical_measure,
    simulate_income,
)
from optimizer.inputs.limits import Limits, allowed_products, resolve_limits
from optimizer.inputs.market import Market, build_market, market_vix
from optimizer.inputs.nlv_rule import NlvRule
from optimizer.inputs.risk_model import RiskData, build_risk_data, evaluate_out_of_sample
from optimizer.inputs.spec import Scenario
from optimizer.solve.solving import SolveContext, counts_of, max_income, solve_sizing
from optimizer.solve.status import SolveStatus
from optimizer.verdict import diagnostics
from optimizer.verdict.result import (
    SizingResult,
    allocation_table,
    portfolio_metrics,
    positions_table,
)
from optimizer.verdict.risk_report import monthly_quantiles, risk_report, win_rates
from optimizer.verdict.verdict import (
    Alternative,
    ChanceFinding,
    Fallback,
    MinNLV,
    Verdict,
    VerdictStatus,
    binding_caps,
    book_change,
    cap_costs,
    decide,
    return_on_capital,
    top_cap_clause,
)
from optimizer.verdict.zero_dte import variance_basis_report

__all__ = [
    "Prepared",
    "clear_cache",
    "prepare",
    "rule_for",
    "solve_scenario",
]

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
    income : IncomeSimulation | None
        The income model's simulation of the chain-based candidates (``managed`` model), whose
        net expected monthly income is the candidates' ``expected_monthly_income_per_contract``.
    """

    candidates: CandidateSet
    limits: Limits
    market: Market
    timings: dict[str, float]
    notes: list[str]
    income: IncomeSimulation | None = None

    def __iter__(self):
        """Unpack as ``(candidates, limits, timings, notes)``."""
        return iter((self.candidates, self.limits, self.timings, self.notes))


#: Candidates, market and income simulations of recent scenarios, by :func:`_market_key`
#: (a study's points that differ only in account size or caps share them).
_PREPARED: OrderedDict[str, tuple] = OrderedDict()
_PREPARED_SIZE = 2


def _market_key(scenario: Scenario, phase: int) -> str:
    """What the candidates and the income simulation depend on (not NLV, not the caps).

    :func:`optimizer.inputs.income_model.market_key` plus the phase and the products it allows. Buying
    power stated as a fraction of NLV is rescaled by :meth:`CandidateSet.at_nlv`.
    """
    extra = {"phase": phase, "products_by_phase": scenario.positions.products_by_phase}
    return market_key(scenario) + json.dumps(extra, sort_keys=True)


def clear_cache() -> None:
    """Forget the cached candidates, income simulations and risk data (studies reuse them)."""
    from optimizer.inputs import risk_model

    _PREPARED.clear()
    risk_model.clear_cache()


def prepare(scenario: Scenario, *, cache: bool = True) -> Prepared:
    """Market, caps and candidates of a scenario, with stage timings and notes.

    With ``cache`` the market, candidates and income simulation of the last scenarios that share
    everything but the account size and the caps are reused (``timings["cached"] = 1``): the
    income model is seeded, so the reuse returns exactly what a fresh run would.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if scenario.market.vix is None:  # resolved from the VIX history at the chains' quote date
        scenario = scenario.model_copy(
            update={"market": scenario.market.model_copy(update={"vix": market_vix(scenario)})}
        )
    limits = resolve_limits(scenario)
    key = _market_key(scenario, limits.phase) if cache else None
    if key is not None and key in _PREPARED:
        _PREPARED.move_to_end(key)
        market, cs, income = _PREPARED[key]
        cs = cs.at_nlv(scenario.account.net_liq)
        timings.update({"market": 0.0, "candidates": time.perf_counter() - t0, "cached": 1.0})
    else:
        market = build_market(scenario)
        timings["market"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cs = build_candidate_set(
            scenario, market, allowed_products=allowed_products(scenario, limits.phase)
        )
        timings["candidates"] = time.perf_counter() - t0
        income = None
        if scenario.income.model == "managed":
            rows = [i for i, c in enumerate(cs.ids) if c in cs.structures]
            if rows:
                t0 = time.perf_counter()
                income = simulate_income(scenario, cs, market, rows)
                cs = _with_income(cs, income, rows)
                timings["income"] = time.perf_counter() - t0
        if key is not None:
            _PREPARED[key] = (market, cs, income)
            while len(_PREPARED) > _PREPARED_SIZE:
                _PREPARED.popitem(last=False)
    fixed = [n for n, s in scenario.strategies.items() if s.template == "fixed"]
    notes = [
        (
            f"{', '.join(fixed)}: stated per-contract economics (seed 1 EV formula); "
            if fixed
            else ""
        )
        + f"income model: {scenario.income.model}"
        + (
            f" ({scenario.income.days_per_month:g} days per month; seed 1's convention)"
            if scenario.income.model == "theta"
            else (
                f" (managed trades, net of costs, on {physical_measure(scenario, market)})"
                if income is not None
                else " (no chain-based candidate to simulate)"
            )
        ),
        f"BP cap {limits.bp_fraction:.1%} of NLV: {limits.bp_source}",
        f"allocation weights: {limits.weight_note}",
        *limits.notes,
    ]
    return Prepared(cs, limits, market, timings, notes, income)


def _with_income(cs: CandidateSet, income: IncomeSimulation, rows: list[int]) -> CandidateSet:
    """Candidates with the income model's per-contract figures in their columns.

    ``expected_monthly_income_per_contract`` (net of costs), ``..._gross_per_contract``,
    ``costs_per_month_per_contract`` and ``theta_per_day_per_contract`` normalized by the
    simulated schedule (:func:`optimizer.inputs.candidates.normalized_theta`). Fixed-economics rows keep
    their stated figures (gross = net, no cost line).
    """
    r = income.result
    table = cs.table.copy()
    net = table["expected_monthly_income_per_contract"].to_numpy(dtype=float).copy()
    gross = net.copy()
    cost = np.zeros(len(table))
    theta = table["theta_per_day_per_contract"].to_numpy(dtype=float).copy()
    idx = np.asarray(rows, dtype=int)
    net[idx] = r.expected_monthly
    gross[idx] = r.expected_monthly_gross
    cost[idx] = np.asarray(r.costs_monthly).sum(axis=1)
    greek = table["theta_greek_per_contract"].to_numpy(dtype=float)[idx]
    life = table["dte"].to_numpy(dtype=float)[idx]
    theta[idx] = normalized_theta(greek, life, r.trades_per_month, r.occupancy)
    table["expected_monthly_income_per_contract"] = net
    table["expected_monthly_income_gross_per_contract"] = gross
    table["costs_per_month_per_contract"] = cost
    table["theta_per_day_per_contract"] = theta
    return CandidateSet(table, cs.structures, cs.excluded, cs.currency)


def solve_scenario(
    scenario: Scenario,
    *,
    backend: str | None = None,
    min_nlv_search: bool = True,
    diagnostics_level: str = "full",
) -> SizingResult:
    """Size a scenario and give its verdict.

    Orchestration only: solving (:mod:`optimizer.solve.solving`), diagnostics
    (:mod:`optimizer.verdict.diagnostics`), the risk report (:mod:`optimizer.verdict.risk_report`) and the
    verdict (:func:`optimizer.verdict.verdict.decide`, the one place the status is decided) live in
    their own modules.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    backend : str | None
        ``cvxpy``, ``pulp`` or ``highs``; default from the scenario's ``solver.backend``.
    min_nlv_search : bool
        Run the bisection for the minimum account size.
    diagnostics_level : str
        ``full`` (everything) or ``light`` (studies: no one-family relaxations and no joint
        minimal relaxation; the verdict, its max income, P(success) and risk are computed as in
        ``full``).

    Returns
    -------
    SizingResult
        Never raises on solver trouble: the verdict says UNKNOWN with the solver's message, and
        every failure-policy step is listed in ``verdict.fallbacks``.
    """
    t_all = time.perf_counter()
    ctx = SolveContext(
        backend or scenario.solver.backend,
        scenario.solver.options(),
    )
    prep = prepare(scenario)
    cs, limits, timings, notes = prep
    target = scenario.target.monthly_income
    p_req = limits.success_probability

    risk = None
    managed = prep.income.result if prep.income is not None else None
    if scenario.risk is not None:
        t0 = time.perf_counter()
        if managed is not None and len(prep.income.ids) != len(cs):
            raise SpecError(
                "risk: fixed-economics strategies cannot be repriced in market scenarios"
            )
        risk = build_risk_data(scenario, cs, prep.market, managed=managed)
        timings["risk_data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen, problem = solve_sizing(cs, limits, scenario.objective, ctx, target=target, risk=risk)
    timings["build"] = time.perf_counter() - t0 - chosen.compile_seconds - chosen.solve_seconds
    timings["compile"] = chosen.compile_seconds
    timings["solve"] = chosen.solve_seconds
    _note_incumbent(ctx, chosen, f"{scenario.objective.value} solve")
    counts = counts_of(chosen, len(cs))

    t0 = time.perf_counter()
    chance_finding, max_p = None, None
    book_from = scenario.objective.value
    chance_ok = True
    alternatives: list[Alternative] = []
    if p_req is not None and risk is not None and not chosen.status.has_solution:
        # Headline policy: the headline book is the scenario's objective under every cap; the
        # chance constraint shapes it only when the probability is reachable. The book of the
        # highest reachable probability is a named alternative, never the headline.
        chance_ok = False
        out, max_p, p_upper = diagnostics.max_probability(cs, limits, risk, ctx)
        proven = chosen.status is SolveStatus.INFEASIBLE or p_upper < p_req
        bound_s = (
            ""
            if out is None or out.status is SolveStatus.OPTIMAL
            else f" (solver stopped at a limit: proven upper bound {p_upper:.1%})"
        )
        reason = f"chance-constrained solve ended {chosen.status.value}"
        fallback, problem = solve_sizing(
            cs, limits, scenario.objective, ctx, target=target, risk=risk, chance=False
        )
        counts = counts_of(fallback, len(cs))
        chosen = fallback
        book_from = f"{scenario.objective.value} without the chance constraint"
        if out is not None:
            ctx.fallbacks.append(
                Fallback(
                    "max_probability",
                    f"{reason}; highest reachable probability searched "
                    f"({'no book' if max_p != max_p else f'{max_p:.1%}'}{bound_s})"
                    + (
                        ", reported as an alternative"
                        if out.status.has_solution and max_p == max_p and max_p > 0
                        else ""
                    ),
                )
            )
        ctx.fallbacks.append(
            Fallback("drop_chance", f"{reason}; headline book solved without the chance row")
        )
        _note_incumbent(ctx, fallback, f"{scenario.objective.value} solve without the chance row")
        if out is None and max_p != max_p:
            ctx.fallbacks.append(
                Fallback(
                    "max_probability",
                    f"{reason}; the LP relaxation of the max-probability MILP bounds the "
                    f"reachable probability at {p_upper:.1%} < {p_req:.0%} (proven unreachable); "
                    "the exact maximum was not searched (month rows over "
                    f"{diagnostics.MAX_PROBABILITY_NONZEROS:,} nonzeros); the headline book's "
                    "own probability is reported",
                )
            )
            max_p = float(np.mean(np.asarray(risk.monthly) @ counts >= target))
        reach = "is not reachable" if proven else "was not reached within the limits"
        # the headline book meets every cap: its own in-sample probability is a lower bound on
        # the highest one, whatever a limit-stopped search found
        p_head = float(np.mean(np.asarray(risk.monthly) @ counts >= target))
        if out is not None and out.status.has_solution and p_head > max_p:
            note = (
                f"P(month ≥ target) ≥ {p_req:.0%} {reach} under the caps (highest found in "
                f"sample {p_head:.1%}, the headline book's own: the max-probability search "
                f"stopped at a limit with {max_p:.1%}, proven upper bound {p_upper:.1%}); the "
                f"headline book optimizes {scenario.objective.value} without the chance "
                "constraint"
            )
            max_p = p_head
        elif out is not None and out.status.has_solution and max_p == max_p and max_p > 0:
            alt_counts = counts_of(out, len(cs))
            alternatives.append(
                _alternative(
                    scenario,
                    cs,
                    prep.market,
                    alt_counts,
                    name="max_success_probability",
                    reason=(
                        f"the book of the highest in-sample P(month ≥ target) under the caps "
                        f"({max_p:.1%}{bound_s}); P ≥ {p_req:.0%} {reach}"
                    ),
                    p_in_sample=max_p,
                )
            )
            note = (
                f"P(month ≥ target) ≥ {p_req:.0%} {reach} under the caps (highest in sample "
                f"{max_p:.1%}{bound_s}); the headline book optimizes "
                f"{scenario.objective.value} without the chance constraint and the "
                f"max-probability book is listed under alternatives"
            )
        elif out is None or out.status.has_solution:
            note = (
                f"P(month ≥ target) ≥ {p_req:.0%} {reach}: no book under the caps reaches the "
                f"target in any simulated month{bound_s}; the book shown optimizes "
                f"{scenario.objective.value} without the chance constraint"
            )
        else:
            max_p = p_head
            note = (
                f"P(month ≥ target) ≥ {p_req:.0%} {reach}: the highest-probability search "
                f"found no book within the solver limits{bound_s}; the book shown optimizes "
                f"{scenario.objective.value} without the chance constraint and reaches the "
                f"target in {p_head:.1%} of the sample months (a lower bound on the highest "
                f"probability)"
            )
        notes.append(note)
        chance_finding = ChanceFinding(p_req, met=False, proven=proven, note=note)

    inc = max_income(cs, limits, ctx, risk=risk, chance=chance_ok)
    conflicts: tuple[str, ...] = ()
    if inc.outcome.status in (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE_OR_UNBOUNDED):
        conflicts = diagnostics.conflicts(cs, limits, ctx)
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
    binding = ()
    if inc.outcome.status.has_solution and inc.outcome.values is not None:
        relaxed = ctx.for_lp().solve(inc.problem.relaxed(), what="LP relaxation")
        duals = relaxed.duals if relaxed.status is SolveStatus.OPTIMAL else None
        exact = diagnostics.book_activity(inc.problem, inc.outcome.values, limits, risk)
        binding = binding_caps(inc.problem, inc.outcome.values, duals, exact)
    timings["verdict"] = time.perf_counter() - t0

    stress, success, monthly_oos = [], {}, None
    if risk is not None:
        t0 = time.perf_counter()
        chosen_idx = [int(i) for i in np.flatnonzero(counts)]
        oos = evaluate_out_of_sample(
            scenario, cs, prep.market, chosen_idx, managed=risk.managed is not None
        )
        var_d, cvar_d, stress, success = risk_report(scenario, risk, oos, counts, chosen_idx)
        monthly_oos = success.pop("monthly_out_of_sample", None)
        portfolio["var"], portfolio["cvar"] = var_d, cvar_d
        if monthly_oos is not None:
            portfolio["monthly_var"], portfolio["monthly_cvar"] = _monthly_risk(
                scenario, risk, counts, monthly_oos
            )
            portfolio["monthly_income_quantiles"] = monthly_quantiles(
                monthly_oos, portfolio["expected_monthly_income"], risk.monthly @ counts
            )
        timings["out_of_sample"] = time.perf_counter() - t0
        if p_req is not None:
            if chance_finding is None:
                chance_finding = ChanceFinding(
                    p_req, met=True, p_in_sample=success.get("in_sample", 0.0)
                )
                max_p = success.get("in_sample", 0.0)

    status, best, message = decide(
        target,
        inc.outcome,
        inc.income,
        unbounded=inc.unbounded,
        chance=chance_finding,
        conflicts=conflicts,
    )

    t0 = time.perf_counter()
    full = diagnostics_level == "full"
    books: dict[str, np.ndarray] = {}
    relax = diagnostics.relaxations(cs, limits, ctx, risk=risk, books=books) if full else []
    base_book = counts_of(inc.outcome, len(cs))
    costs = cap_costs(
        tuple(relax),
        inc.value,
        {
            label: book_change(cs.table["strategy"], cs.table["underlying"], base_book, b)
            for label, b in books.items()
        },
    )
    if costs and not conflicts:
        message += top_cap_clause(costs[0], cs.currency)
    timings["relaxations"] = time.perf_counter() - t0
    minimal, minimal_note = (), "not needed: the target is reachable"
    if not full:
        minimal_note = "not computed (light diagnostics)"
    solvent, solvent_note = (), minimal_note
    if status is not VerdictStatus.FEASIBLE and not conflicts and full:
        t0 = time.perf_counter()
        minimal, minimal_note = diagnostics.minimal_relaxation(
            cs, limits, ctx, target, risk=risk, family_weights=scenario.solver.relaxation_weights
        )
        if any(s.beyond_solvency for s in minimal):
            solvent, solvent_note = diagnostics.minimal_relaxation(
                cs,
                limits,
                ctx,
                target,
                risk=risk,
                family_weights=scenario.solver.relaxation_weights,
                solvent=True,
            )
            beyond = ", ".join(
                f"{s.cap} {s.needed:.0%} of NLV" for s in minimal if s.beyond_solvency
            )
            if solvent:
                message += (
                    f"; the smallest cap relaxation goes beyond solvency ({beyond}); a solvent "
                    f"one exists ({len(solvent)} caps raised, see solvent_relaxation)"
                )
            elif solvent_note.startswith(diagnostics.NO_SOLVENT_SET):
                message += f"; no solvent set of caps reaches the target ({beyond} needed)"
        else:
            solvent, solvent_note = minimal, "the smallest relaxation is solvent"
        if p_req is not None:
            minimal_note += " (expected income only; the probability requirement is not part of it)"
        timings["minimal_relaxation"] = time.perf_counter() - t0

    min_nlv = MinNLV()
    if min_nlv_search and not conflicts:
        t0 = time.perf_counter()
        rule = rule_for(scenario, prep, risk)
        # the verdict's max-income solve is the search's first point unless it carried the
        # chance constraint (the search is on expected income only)
        with_chance = chance_ok and p_req is not None and risk is not None
        known = None
        if not with_chance and inc.outcome.status.has_solution:
            known = math.inf if inc.unbounded else inc.income
        min_nlv = diagnostics.min_nlv(
            cs, limits, ctx, target, risk=risk, at=rule.at, rule=rule.text, income_at_nlv=known
        )
        note = min_nlv.note
        if min_nlv.status == "none":
            c64, l64, _ = rule.at(limits.nlv * 64.0)
            note += _caps_at(c64, l64, ctx)
        if p_req is not None:
            note += " (expected income only; the probability requirement is not part of it)"
        min_nlv = dataclasses.replace(min_nlv, note=note)
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
    timings["total"] = time.perf_counter() - t_all
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
            "stopped_at_limit": [f.reason for f in ctx.fallbacks if f.step in _LIMIT_STEPS],
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
    )


_LIMIT_NAMES = {"nodes": "node limit", "time": "wall-clock safety net"}
#: Fallback steps that record a MILP stopped at a limit (:mod:`optimizer.solve.solving`).
_LIMIT_STEPS = frozenset({"node_limit", "time_limit", "solver_limit"})


def _note_incumbent(ctx: SolveContext, out, what: str) -> None:
    """Record the ``incumbent`` fallback when ``out`` stopped at a limit with a book."""
    if out.status is SolveStatus.FEASIBLE:
        ctx.fallbacks.append(
            Fallback(
                "incumbent",
                f"{what} stopped at a limit ({_LIMIT_NAMES.get(out.limit, out.limit)}); best "
                f"book kept, relative gap {out.mip_gap}",
            )
        )


def _alternative(
    scenario: Scenario,
    cs: CandidateSet,
    market: Market,
    counts: np.ndarray,
    *,
    name: str,
    reason: str,
    p_in_sample: float | None,
) -> Alternative:
    """An :class:`~optimizer.verdict.verdict.Alternative` book, with its out-of-sample P(success)."""
    idx = [int(i) for i in np.flatnonzero(counts)]
    p_out = None
    if idx and scenario.risk is not None:
        oos = evaluate_out_of_sample(scenario, cs, market, idx, managed=True)
        if oos.monthly is not None:
            months = np.asarray(oos.monthly) @ counts[idx]
            p_out = float(np.mean(months >= scenario.target.monthly_income))
    t = cs.table
    positions = tuple(
        {
            "id": cs.ids[i],
            "strategy": t["strategy"].iloc[i],
            "underlying": t["underlying"].iloc[i],
            "expiry": t["expiry"].iloc[i] if "expiry" in t else None,
            "strikes": t["strikes"].iloc[i] if "strikes" in t else None,
            "contracts": int(counts[i]),
        }
        for i in idx
    )
    return Alternative(
        name=name,
        reason=reason,
        expected_monthly_income=float(cs.col("expected_monthly_income_per_contract") @ counts),
        success_probability=p_out,
        success_probability_in_sample=p_in_sample,
        positions=positions,
    )


def _caps_at(cs: CandidateSet, limits: Limits, ctx: SolveContext) -> str:
    """Names of the caps binding at the max-income book for ``limits`` (for verdict notes)."""
    res = max_income(cs.at_nlv(limits.nlv), limits, ctx)
    out = res.outcome
    if not out.status.has_solution or out.values is None:
        return ""
    rows = [
        b.row for b in binding_caps(res.problem, out.values, None) if b.slack < 1e-6 or "[" in b.row
    ]
    return f" (at {limits.nlv:,.0f}: {', '.join(rows)} bind)" if rows else ""


def _limits_report(limits: Limits) -> dict:
    """The caps in force, as reported in ``SizingResult.limits`` and the JSON."""
    return {
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


def rule_for(scenario: Scenario, prep, risk: RiskData | None) -> NlvRule:
    """The :class:`NlvRule` of a prepared scenario (``positions.scale_with_nlv`` decides it).

    Parameters
    ----------
    scenario : Scenario
        The scenario (its VIX is resolved from ``prep`` when not stated).
    prep : optimizer.pipeline.Prepared
        Its prepared candidates, caps and market.
    risk : RiskData | None
        Its risk data.

    Returns
    -------
    NlvRule
        Candidates, caps and risk data at any account size; a phase whose products differ is
        prepared (:func:`optimizer.pipeline.prepare`, cached) on first use.
    """
    sc = scenario
    if sc.market.vix is None:
        sc = sc.model_copy(update={"market": sc.market.model_copy(update={"vix": prep.market.vix})})

    def build(phase: int) -> tuple[CandidateSet, RiskData | None]:
        from optimizer.inputs.risk_model import build_risk_data

        other = sc.model_copy(update={"account": sc.account.model_copy(update={"phase": phase})})
        p = prepare(other)
        rk = None
        if risk is not None:
            managed = p.income.result if p.income is not None else None
            rk = build_risk_data(other, p.candidates, p.market, managed=managed)
        return p.candidates, rk

    return NlvRule(sc, prep.candidates, prep.limits, risk, bool(sc.positions.scale_with_nlv), build)
