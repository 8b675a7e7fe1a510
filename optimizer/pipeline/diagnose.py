"""Diagnose the caps: the verdict's max income and binding caps, what each cap costs, the joint
minimal relaxation (and a solvent one), and the minimum account that reaches the target.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import Scenario
from optimizer.pipeline.prepare import Prepared, rule_for
from optimizer.solve.solving import MaxIncome, SolveContext, counts_of, max_income
from optimizer.solve.status import SolveStatus
from optimizer.verdict import diagnostics
from optimizer.verdict.relaxation import no_solvent_set
from optimizer.verdict.verdict import (
    BindingCap,
    CapCost,
    MinNLV,
    RelaxationStep,
    VerdictStatus,
    binding_caps,
    book_change,
    cap_costs,
    top_cap_clause,
)

__all__ = ["Diagnosis", "Reach", "assess_reach", "diagnose"]


@dataclass(frozen=True)
class Reach:
    """How far the caps let the income go: the verdict's max-income solve and what binds there.

    Parameters
    ----------
    max_income : MaxIncome
        The max expected monthly income under every cap (chance row included when in force).
    conflicts : tuple[str, ...]
        Caps that conflict (an irreducible infeasible set), when the max-income problem is
        infeasible.
    binding : tuple[BindingCap, ...]
        Caps binding at the max-income book, with LP-relaxation shadow prices.
    """

    max_income: MaxIncome
    conflicts: tuple[str, ...] = ()
    binding: tuple[BindingCap, ...] = ()


def assess_reach(
    cs: CandidateSet,
    limits: Limits,
    ctx: SolveContext,
    risk: RiskData | None,
    *,
    chance: bool,
) -> Reach:
    """The verdict's max-income MILP, the conflicting caps if it is infeasible, the binding caps.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K).
    limits : Limits
        Caps in force.
    ctx : SolveContext
        Backend, options, failure-policy record.
    risk : RiskData | None
        Risk data (tail-risk caps and the chance row).
    chance : bool
        Keep the chance constraint (``False`` when the chance policy dropped it).

    Returns
    -------
    Reach
        Max income, conflicts and binding caps (integer slack at ``y = (n > 0)`` and CVaR ex
        post; shadow prices from the LP relaxation).
    """
    inc = max_income(cs, limits, ctx, risk=risk, chance=chance)
    conflicts: tuple[str, ...] = ()
    if inc.outcome.status in (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE_OR_UNBOUNDED):
        conflicts = diagnostics.conflicts(cs, limits, ctx)
    binding = ()
    if inc.outcome.status.has_solution and inc.outcome.values is not None:
        relaxed = ctx.for_lp().solve(inc.problem.relaxed(), what="LP relaxation")
        duals = relaxed.duals if relaxed.status is SolveStatus.OPTIMAL else None
        exact = diagnostics.book_activity(inc.problem, inc.outcome.values, limits, risk)
        binding = binding_caps(inc.problem, inc.outcome.values, duals, exact)
    return Reach(inc, conflicts, binding)


@dataclass(frozen=True)
class Diagnosis:
    """What the caps cost and what it would take.

    Parameters
    ----------
    relaxations : tuple[diagnostics.Relaxation, ...]
        Max income with one cap family lifted at a time (empty with light diagnostics).
    cap_costs : tuple[CapCost, ...]
        Income each family costs, largest first, with the book change it implies.
    minimal : tuple[RelaxationStep, ...]
        The joint minimal relaxation of the caps that reaches the target.
    minimal_note : str
        Why it is empty or how it was computed.
    solvent : tuple[RelaxationStep, ...]
        The smallest relaxation that stays within solvency (BP ≤ NLV, losses < NLV).
    solvent_note : str
        Its note.
    min_nlv : MinNLV
        The minimum account (bisection on the max-income MILP), or its "not searched" record.
    message : str
        The verdict message with the diagnosis's clauses appended.
    """

    relaxations: tuple = ()
    cap_costs: tuple[CapCost, ...] = ()
    minimal: tuple[RelaxationStep, ...] = ()
    minimal_note: str = ""
    solvent: tuple[RelaxationStep, ...] = ()
    solvent_note: str = ""
    min_nlv: MinNLV = MinNLV()
    message: str = ""


def diagnose(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData | None,
    ctx: SolveContext,
    reach: Reach,
    status: VerdictStatus,
    message: str,
    *,
    full: bool,
    min_nlv_search: bool,
    chance_in_force: bool,
    timings: dict[str, float],
) -> Diagnosis:
    """One-family relaxations and cap costs, minimal (and solvent) relaxation, minimum NLV.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    prep : Prepared
        Its candidates, caps and market.
    risk : RiskData | None
        Its risk data.
    ctx : SolveContext
        Backend, options, failure-policy record.
    reach : Reach
        The verdict's max-income finding.
    status : VerdictStatus
        The verdict's status (the minimal relaxation runs only when it is not FEASIBLE).
    message : str
        The verdict's message, to which the diagnosis appends its clauses.
    full : bool
        ``full`` diagnostics (else light: no relaxations, no minimal relaxation).
    min_nlv_search : bool
        Search the minimum account.
    chance_in_force : bool
        The chance constraint was part of the verdict's max-income solve (then its income is
        not the minimum-NLV search's first point: the search is on expected income only).
    timings : dict[str, float]
        Receives ``relaxations``, ``minimal_relaxation`` and ``min_nlv`` (seconds).

    Returns
    -------
    Diagnosis
    """
    cs, limits = prep.candidates, prep.limits
    target = scenario.target.monthly_income
    p_req = limits.success_probability
    inc, conflicts = reach.max_income, reach.conflicts
    t0 = time.perf_counter()
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
        weights = scenario.solver.relaxation_weights
        minimal, minimal_note = diagnostics.minimal_relaxation(
            cs, limits, ctx, target, risk=risk, family_weights=weights
        )
        if any(s.beyond_solvency for s in minimal):
            solvent, solvent_note = diagnostics.minimal_relaxation(
                cs, limits, ctx, target, risk=risk, family_weights=weights, solvent=True
            )
            beyond = ", ".join(
                f"{s.cap} {s.needed:.0%} of NLV" for s in minimal if s.beyond_solvency
            )
            if solvent:
                message += (
                    f"; the smallest cap relaxation goes beyond solvency ({beyond}); a solvent "
                    f"one exists ({len(solvent)} caps raised, see solvent_relaxation)"
                )
            elif no_solvent_set(solvent):
                message += f"; no solvent set of caps reaches the target ({beyond} needed)"
        else:
            solvent, solvent_note = minimal, "the smallest relaxation is solvent"
        if p_req is not None:
            minimal_note += " (expected income only; the probability requirement is not part of it)"
        timings["minimal_relaxation"] = time.perf_counter() - t0
    min_nlv = MinNLV()
    if min_nlv_search and not conflicts:
        min_nlv = _minimum_nlv(scenario, prep, risk, ctx, inc, chance_in_force, timings)
    return Diagnosis(
        relaxations=tuple(relax),
        cap_costs=costs,
        minimal=minimal,
        minimal_note=minimal_note,
        solvent=solvent,
        solvent_note=solvent_note,
        min_nlv=min_nlv,
        message=message,
    )


def _minimum_nlv(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData | None,
    ctx: SolveContext,
    inc: MaxIncome,
    chance_in_force: bool,
    timings: dict[str, float],
) -> MinNLV:
    """The minimum-account search under the scenario's NLV rule (``timings["min_nlv"]``)."""
    t0 = time.perf_counter()
    cs, limits = prep.candidates, prep.limits
    rule = rule_for(scenario, prep, risk)
    # the verdict's max-income solve is the search's first point unless it carried the
    # chance constraint (the search is on expected income only)
    known = None
    if not chance_in_force and inc.outcome.status.has_solution:
        known = math.inf if inc.unbounded else inc.income
    min_nlv = diagnostics.min_nlv(
        cs,
        limits,
        ctx,
        scenario.target.monthly_income,
        risk=risk,
        at=rule.at,
        rule=rule.text,
        income_at_nlv=known,
    )
    note = min_nlv.note
    if min_nlv.status == "none":
        c64, l64, _ = rule.at(limits.nlv * 64.0)
        note += _caps_at(c64, l64, ctx)
    if limits.success_probability is not None:
        note += " (expected income only; the probability requirement is not part of it)"
    timings["min_nlv"] = time.perf_counter() - t0
    return dataclasses.replace(min_nlv, note=note)


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
