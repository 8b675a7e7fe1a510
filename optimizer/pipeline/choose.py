"""Choose the headline book: the scenario's objective under every cap, with the chance policy.

The headline book optimizes the scenario's objective under every cap; the chance constraint
P(month ≥ target) ≥ p shapes it only when that probability is reachable. When the
chance-constrained solve has no book, the book of the highest reachable probability is searched
(:func:`optimizer.verdict.diagnostics.max_probability`) and listed as a named alternative, and the
headline book is solved without the chance row; every such step is a recorded fallback.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.market import Market
from optimizer.inputs.risk_model import RiskData, evaluate_out_of_sample
from optimizer.inputs.spec import Scenario
from optimizer.pipeline.prepare import Prepared
from optimizer.solve.problem import SizingProblem
from optimizer.solve.solving import SolveContext, counts_of, solve_sizing
from optimizer.solve.status import Fallback, FallbackStep, SolveOutcome, SolveStatus
from optimizer.verdict import diagnostics
from optimizer.verdict.verdict import Alternative, ChanceFinding

__all__ = ["BookChoice", "choose_book"]

_LIMIT_NAMES = {"nodes": "node limit", "time": "wall-clock safety net"}


@dataclass(frozen=True)
class BookChoice:
    """The headline book and how it was chosen.

    Parameters
    ----------
    outcome : SolveOutcome
        The solve whose book is the headline (with or without the chance row).
    problem : SizingProblem
        Its problem.
    counts : ndarray
        Contracts per candidate, shape (K,), integers.
    book_from : str
        Which problem the book comes from (``"max_theta"``, ``"max_theta without the chance
        constraint"`` …).
    chance_ok : bool
        Whether the chance constraint stays in force for the verdict's max-income solve.
    chance : ChanceFinding | None
        The chance finding when the required probability was not reached (else ``None``: the
        risk report fills it in).
    max_probability : float | None
        Highest in-sample P(month ≥ target) found, when searched.
    alternatives : tuple[Alternative, ...]
        Named alternative books (the max-probability book).
    notes : tuple[str, ...]
        Notes for the result.
    policy_seconds : float
        Wall seconds of the chance policy (part of the verdict stage's timing).
    """

    outcome: SolveOutcome
    problem: SizingProblem
    counts: np.ndarray
    book_from: str
    chance_ok: bool = True
    chance: ChanceFinding | None = None
    max_probability: float | None = None
    alternatives: tuple[Alternative, ...] = ()
    notes: tuple[str, ...] = ()
    policy_seconds: float = 0.0


def choose_book(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData | None,
    ctx: SolveContext,
    timings: dict[str, float],
    *,
    search: bool = True,
) -> BookChoice:
    """Solve the scenario's objective under every cap; apply the chance policy when it fails.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    prep : Prepared
        Its candidates (K), caps and market.
    risk : RiskData | None
        Its risk data (scenario P&L, the income model's months).
    ctx : SolveContext
        Backend, options and the failure-policy record (fallbacks are appended to it).
    timings : dict[str, float]
        Receives ``build``, ``compile`` and ``solve`` (seconds).
    search : bool
        Search the highest reachable probability when the chance-constrained solve has no book
        (the headline book is the same either way).

    Returns
    -------
    BookChoice
        The headline book, where it comes from and the chance finding.
    """
    cs, limits = prep.candidates, prep.limits
    target = scenario.target.monthly_income
    t0 = time.perf_counter()
    chosen, problem = solve_sizing(cs, limits, scenario.objective, ctx, target=target, risk=risk)
    timings["build"] = time.perf_counter() - t0 - chosen.compile_seconds - chosen.solve_seconds
    timings["compile"] = chosen.compile_seconds
    timings["solve"] = chosen.solve_seconds
    _note_incumbent(ctx, chosen, f"{scenario.objective.value} solve")
    counts = counts_of(chosen, len(cs))
    p_req = limits.success_probability
    if p_req is None or risk is None or chosen.status.has_solution:
        return BookChoice(chosen, problem, counts, scenario.objective.value)
    t0 = time.perf_counter()
    if search:
        choice = _chance_policy(scenario, prep, risk, ctx, chosen)
    else:
        choice = _drop_chance(scenario, prep, risk, ctx, chosen)
    return dataclasses.replace(choice, policy_seconds=time.perf_counter() - t0)


def _drop_chance(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData,
    ctx: SolveContext,
    chosen: SolveOutcome,
) -> BookChoice:
    """The chance policy without the max-probability search: the headline book of
    :func:`_chance_policy` (the objective without the chance row), no alternative."""
    cs, limits = prep.candidates, prep.limits
    p_req = limits.success_probability
    reason = f"chance-constrained solve ended {chosen.status.value}"
    fallback, problem = solve_sizing(
        cs,
        limits,
        scenario.objective,
        ctx,
        target=scenario.target.monthly_income,
        risk=risk,
        chance=False,
    )
    ctx.fallbacks.append(
        Fallback(
            FallbackStep.DROP_CHANCE,
            f"{reason}; headline book solved without the chance row (the highest reachable "
            "probability was not searched: diagnostics book)",
        )
    )
    _note_incumbent(ctx, fallback, f"{scenario.objective.value} solve without the chance row")
    note = (
        f"P(month ≥ target) ≥ {p_req:.0%}: the chance-constrained solve ended "
        f"{chosen.status.value}; the highest reachable probability was not searched "
        "(diagnostics book)"
    )
    return BookChoice(
        outcome=fallback,
        problem=problem,
        counts=counts_of(fallback, len(cs)),
        book_from=f"{scenario.objective.value} without the chance constraint",
        chance_ok=False,
        chance=ChanceFinding(
            p_req, met=False, proven=chosen.status is SolveStatus.INFEASIBLE, note=note
        ),
        max_probability=None,
        notes=(note,),
    )


def _chance_policy(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData,
    ctx: SolveContext,
    chosen: SolveOutcome,
) -> BookChoice:
    """The chance-constrained solve found no book: search the highest reachable probability.

    Headline policy: the headline book is the scenario's objective under every cap; the chance
    constraint shapes it only when the probability is reachable. The book of the highest
    reachable probability is a named alternative, never the headline.
    """
    cs, limits = prep.candidates, prep.limits
    target = scenario.target.monthly_income
    p_req = limits.success_probability
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
                FallbackStep.MAX_PROBABILITY,
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
        Fallback(FallbackStep.DROP_CHANCE, f"{reason}; headline book solved without the chance row")
    )
    _note_incumbent(ctx, fallback, f"{scenario.objective.value} solve without the chance row")
    if out is None and max_p != max_p:
        ctx.fallbacks.append(
            Fallback(
                FallbackStep.MAX_PROBABILITY,
                f"{reason}; the LP relaxation of the max-probability MILP bounds the "
                f"reachable probability at {p_upper:.1%} < {p_req:.0%} (proven unreachable); "
                "the exact maximum was not searched (month rows over "
                f"{diagnostics.MAX_PROBABILITY_NONZEROS:,} nonzeros); the headline book's "
                "own probability is reported",
            )
        )
        max_p = float(np.mean(np.asarray(risk.monthly) @ counts >= target))
    note, max_p, alternatives = _chance_note(
        scenario, prep, risk, out, (max_p, p_upper, proven), counts, bound_s
    )
    return BookChoice(
        outcome=chosen,
        problem=problem,
        counts=counts,
        book_from=book_from,
        chance_ok=False,
        chance=ChanceFinding(p_req, met=False, proven=proven, note=note),
        max_probability=max_p,
        alternatives=tuple(alternatives),
        notes=(note,),
    )


def _chance_note(
    scenario: Scenario,
    prep: Prepared,
    risk: RiskData,
    out: SolveOutcome | None,
    search: tuple[float, float, bool],
    counts: np.ndarray,
    bound_s: str,
) -> tuple[str, float, list[Alternative]]:
    """The chance finding's note, the highest probability found and the max-probability book.

    ``search`` is ``(highest in-sample probability found, its proven upper bound, whether the
    required probability is proven unreachable)``; ``counts`` the headline book (K,).
    """
    max_p, p_upper, proven = search
    cs = prep.candidates
    target = scenario.target.monthly_income
    p_req = prep.limits.success_probability
    alternatives: list[Alternative] = []
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
    return note, max_p, alternatives


def _note_incumbent(ctx: SolveContext, out, what: str) -> None:
    """Record the ``incumbent`` fallback when ``out`` stopped at a limit with a book."""
    if out.status is SolveStatus.FEASIBLE:
        ctx.fallbacks.append(
            Fallback(
                FallbackStep.INCUMBENT,
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
