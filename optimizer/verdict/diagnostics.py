"""Diagnostics of a verdict: what each cap costs, the joint minimal relaxation, conflicting caps,
the minimum account and the highest reachable success probability.

* :func:`relaxations` — max expected income with one cap family lifted at a time (the others
  kept); an income no cap limits any more is reported as unbounded, never as a number.
* :func:`minimal_relaxation` — the elastic MILP (goal programming; Chinneck, *Feasibility and
  Infeasibility in Optimization*, 2008, ch. 8): a non-negative slack on each relaxable cap row,
  weighted by the cost of one unit of the cap in % of its bound, minimized subject to
  ``expected income ≥ target``. Its solution is a certificate: the caps raised to the reported
  values admit a book reaching the target, and lowering any single increase (others kept) makes
  the weighted cost smaller, so by optimality no such book exists.
* :func:`conflicts` — when the caps alone (no target) admit no book, a deletion filter over the
  named blocks (Chinneck & Dravnieks 1991) returns an irreducible infeasible set of blocks.
* :func:`min_nlv` — bisection on NLV of the max-income MILP (:func:`optimizer.verdict.verdict.minimum_nlv`)
  with buying power stated as a fraction of NLV rescaled at every step.
* :func:`max_probability` — the book maximizing the number of sample months ≥ target (SAA).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.formulation.build import budget_caps, build_problem, count_upper_bounds, unit_caps
from optimizer.formulation.families import registry
from optimizer.formulation.families.chance import success_rows
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.problem import Objective, SizingProblem
from optimizer.solve.solving import SolveContext, max_income, solve_sizing
from optimizer.solve.status import SolveOutcome, SolveStatus
from optimizer.verdict.relaxation import (
    apply_relaxation,
    beyond_solvency,
    book_activity,
    minimal_relaxation,
)
from optimizer.verdict.verdict import MinNLV, minimum_nlv

__all__ = [
    "book_activity",
    "Relaxation",
    "apply_relaxation",
    "beyond_solvency",
    "conflicts",
    "max_probability",
    "min_nlv",
    "minimal_relaxation",
    "relaxations",
]

INF = math.inf


# ----------------------------------------------------------------------------------------------
# One family at a time
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relaxation:
    """Max expected monthly income with one cap family lifted (the others kept).

    Parameters
    ----------
    cap : str
        The cap family lifted.
    max_income : float | None
        Max expected monthly income, account currency (``None`` when unbounded or unsolved).
    status : str
        ``optimal``, ``unbounded`` or the solver status.
    achievement : float | None
        ``max_income / target``.
    """

    cap: str
    max_income: float | None
    status: str
    achievement: float | None


@functools.cache
def _lifts() -> tuple:
    """Every family's caps as the one-family relaxations lift them, in table order."""
    return tuple(sorted((lift for f in registry() for lift in f.lifts), key=lambda lift: lift.rank))


def relaxations(
    cs: CandidateSet,
    limits: Limits,
    ctx: SolveContext,
    *,
    risk: RiskData | None = None,
    books: dict[str, np.ndarray] | None = None,
) -> list[Relaxation]:
    """Max expected monthly income with one active cap family lifted at a time.

    Answers "which cap costs how much": a family whose removal alone reaches the target is a
    sufficient relaxation; when none does, several caps bind jointly. The chance constraint is
    not included (expected income only). Lifting the last cap that bounds the book gives an
    unbounded income: reported as ``status="unbounded"`` with ``max_income=None``. When
    ``books`` is given it receives each family's max-income contract counts, shape (K,).
    """
    out = []
    target = limits.target or math.nan
    for lift in _lifts():
        if not lift.active(limits):
            continue
        label = lift.name(limits)
        res = max_income(cs, dataclasses.replace(limits, **lift.lifted(limits)), ctx, risk=risk)
        if books is not None and res.outcome.status.has_solution and not res.unbounded:
            books[label] = np.rint(res.outcome.values["n"]).astype(int)
        if res.unbounded:
            status = "unbounded"
        else:
            status = res.outcome.status.value
        value = res.value
        out.append(
            Relaxation(
                cap=label,
                max_income=value,
                status=status,
                achievement=None if value is None else value / target,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------
# Conflicting caps (deletion filter)
# ----------------------------------------------------------------------------------------------


def conflicts(cs: CandidateSet, limits: Limits, ctx: SolveContext) -> tuple[str, ...]:
    """Names of an irreducible infeasible set of the caps' blocks (deletion filter).

    The caps are built as rows only (no count bounds derived from them, so a bound cannot hide
    a cap) with a zero objective and no target. Every block that is not a variable definition is
    dropped in turn; when the rest stays infeasible the block is left out for good, else it is
    kept. The blocks kept are infeasible together and feasible without any one of them
    (Chinneck & Dravnieks, ORSA J. Comput. 1991). Tail-risk caps are not searched: with
    non-negative caps the empty book always meets them. Returns ``()`` when the caps are
    consistent or a solve cannot decide.
    """
    free = dataclasses.replace(limits, bound_counts=False)
    problem = build_problem(cs, free, ObjectiveKind.MAX_INCOME)
    zero = problem.with_objective(Objective(name="feasibility", sense="minimize", terms={}))

    def infeasible(p: SizingProblem) -> bool | None:
        st = ctx.solve(p, what="conflict search").status
        if st.has_solution:
            return False
        if st in (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE_OR_UNBOUNDED):
            return True
        return None

    if infeasible(zero) is not True:
        return ()
    current = zero
    for name in [b.name for b in problem.blocks if b.family != "definition"]:
        trial = current.without_blocks(name)
        r = infeasible(trial)
        if r is None:
            return ()
        if r:
            current = trial
    return tuple(b.name for b in current.blocks if b.family != "definition")


# ----------------------------------------------------------------------------------------------
# Minimum account
# ----------------------------------------------------------------------------------------------


def min_nlv(
    cs: CandidateSet,
    limits: Limits,
    ctx: SolveContext,
    target: float,
    *,
    risk: RiskData | None = None,
    at: Callable[[float], tuple[CandidateSet, Limits, RiskData | None]] | None = None,
    rule: str = "",
    income_at_nlv: float | None = None,
) -> MinNLV:
    """Smallest NLV whose max expected income reaches ``target``, with a certificate.

    Parameters
    ----------
    cs, limits, ctx
        Candidates, caps and solver context at the scenario's own NLV.
    target : float
        Monthly income target, account currency.
    risk : RiskData | None
        Scenario matrices (tail-risk caps kept at every NLV; the chance constraint is not).
    at : callable | None
        ``nlv -> (candidates, limits, risk)`` at another account size
        (:meth:`optimizer.inputs.nlv_rule.NlvRule.at`); default: caps stated as fractions of NLV scale
        and so does buying power stated as a fraction of NLV (:meth:`CandidateSet.at_nlv`);
        count caps and the phase stay.
    rule : str
        The scaling rule in words, reported with the answer.
    income_at_nlv : float | None
        The max expected income at the scenario's own NLV when already solved (same caps, no
        chance constraint; ``inf`` when unbounded): saves the search's first solve.

    Returns
    -------
    MinNLV
        See :func:`optimizer.verdict.verdict.minimum_nlv`.
    """

    def default_at(nlv: float):
        return cs.at_nlv(nlv), limits.at_nlv(nlv), risk

    scaled = at or default_at

    def income(nlv: float):
        c, lim, rk = scaled(nlv)
        res = max_income(c, lim, ctx, risk=rk)
        if res.unbounded:
            return math.inf, res.outcome.status
        return res.value, res.outcome.status

    def bound(nlv: float) -> float | None:
        # the LP relaxation's optimum bounds the MILP's income when the objective is the income
        # alone (hard allocation walls; a soft band puts a penalty in the objective)
        c, lim, rk = scaled(nlv)
        if lim.allocation_mode != "hard":
            return None
        out, _ = solve_sizing(
            c, lim, ObjectiveKind.MAX_INCOME, ctx, risk=rk, chance=False, extra=_relaxed
        )
        if out.status is not SolveStatus.OPTIMAL or out.objective_value is None:
            return None
        return float(out.objective_value)

    return minimum_nlv(
        income, target, limits.nlv, income_at_nlv=income_at_nlv, rule=rule, bound_at=bound
    )


def _relaxed(problem):
    """The continuous relaxation of ``problem`` (``solve_sizing``'s ``extra``)."""
    return problem.relaxed()


# ----------------------------------------------------------------------------------------------
# Highest reachable success probability
# ----------------------------------------------------------------------------------------------


#: Above this many nonzeros in the month rows (months that can succeed × candidates), the
#: max-probability MILP is only run when its LP relaxation cannot already prove the required
#: probability unreachable (1,008 months × ~250 candidates).
MAX_PROBABILITY_NONZEROS = 250_000


def max_probability(
    cs: CandidateSet, limits: Limits, risk: RiskData, ctx: SolveContext
) -> tuple[SolveOutcome | None, float, float]:
    """Book maximizing the number of months ≥ target under every other cap (SAA, in-sample).

    Returns
    -------
    (outcome, p_found, p_upper)
        The solve, the in-sample probability of its book and a proven upper bound on the
        reachable probability (equal to ``p_found`` when solved to optimality; from the MIP bound
        when a limit stopped the solver). ``(None, 0, 0)`` when no month can reach the target;
        ``(None, nan, p_upper)`` when the month rows exceed :data:`MAX_PROBABILITY_NONZEROS`
        and the LP relaxation's bound ``p_upper`` is already below the required probability
        (the MILP is then not solved).
    """
    monthly = np.asarray(risk.monthly)
    total = monthly.shape[0]
    ub = count_upper_bounds(cs, limits)
    part = success_rows(monthly, limits.target, ub, unit_caps(cs, limits), budget_caps(cs, limits))
    if not part.variables:
        return None, 0.0, 0.0
    size = part.variables[0].size

    def with_successes(base: SizingProblem) -> SizingProblem:
        return SizingProblem(
            variables=base.variables + part.variables,
            blocks=base.blocks + part.blocks,
            objective=Objective(
                name="success_months", sense="maximize", terms={"chance_z": -np.ones(size)}
            ),
        )

    month_rows = part.blocks[0].terms["n"]
    if np.count_nonzero(month_rows) > MAX_PROBABILITY_NONZEROS and limits.success_probability:
        # a large SAA MILP: its root alone can cost minutes. Its LP relaxation bounds the
        # reachable probability; when that bound is below the requirement the requirement is
        # proven unreachable and the exact maximum is not searched (the caller reports the
        # headline book's own probability as the lower end).
        lp, _ = solve_sizing(
            cs,
            limits,
            ObjectiveKind.MAX_INCOME,
            ctx,
            risk=risk,
            chance=False,
            extra=lambda base: with_successes(base).relaxed(),
        )
        if lp.status is SolveStatus.OPTIMAL and lp.objective_value is not None:
            upper = min(size, math.floor(size + lp.objective_value + 1e-6)) / total
            if upper < limits.success_probability:
                return None, float("nan"), upper
    out, _ = solve_sizing(
        cs, limits, ObjectiveKind.MAX_INCOME, ctx, risk=risk, chance=False, extra=with_successes
    )
    if not out.status.has_solution:
        return out, float("nan"), size / total
    # count successes ex post: a limit-stopped incumbent may flag months that do succeed
    found = float(np.mean(monthly @ out.values["n"] >= limits.target))
    if out.status is SolveStatus.OPTIMAL:
        upper = found
    elif out.best_bound is not None and math.isfinite(out.best_bound):
        upper = min(size, math.floor(size + out.best_bound + 1e-6)) / total
    else:
        upper = size / total
    return out, found, upper
