"""Solving: one solver context with its failure policy, CVaR by cutting planes, max income.

Every MILP of a scenario goes through a :class:`SolveContext`: it holds the backend and the
options, and applies the failure policy as data — a solver *error* is retried once on the other
backend (cvxpy/HiGHS ↔ highspy), and every step taken is recorded as a
:class:`~optimizer.verdict.verdict.Fallback`, never silently.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.risk import cvar
from optimizer.formulation.build import build_problem
from optimizer.formulation.families.bounds import hits_artificial_bound
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.backends import failed_outcome, solve
from optimizer.solve.problem import SizingProblem
from optimizer.solve.status import Fallback, FallbackStep, SolveOutcome, SolverOptions, SolveStatus

__all__ = ["MaxIncome", "SolveContext", "counts_of", "max_income", "solve_sizing"]

log = logging.getLogger(__name__)

_OTHER_BACKEND = {"cvxpy": "highs", "highs": "cvxpy", "pulp": "highs"}


@dataclass
class SolveContext:
    """Backend, options and the failure-policy record shared by every solve of a scenario.

    Parameters
    ----------
    backend : str
        ``cvxpy``, ``pulp`` or ``highs``.
    options : SolverOptions
        Time limit (s) and relative MIP gap of every solve.
    fallbacks : list[Fallback]
        Failure-policy steps taken so far (appended to by :meth:`solve`).
    """

    backend: str
    options: SolverOptions
    fallbacks: list[Fallback] = field(default_factory=list)

    def solve(self, problem: SizingProblem, *, what: str = "solve") -> SolveOutcome:
        """Solve ``problem``; on a solver error retry once on the other backend (recorded).

        A backend whose library cannot be imported (PuLP, highspy, cvxpy missing or broken) is
        a solver error like any other: the other backend is tried, and if it fails too the
        outcome is ``ERROR`` (an UNKNOWN verdict), never a traceback.
        """
        out = _solve_or_error(problem, self.backend, self.options)
        if out.status is SolveStatus.ERROR:
            other = _OTHER_BACKEND[self.backend]
            self.fallbacks.append(
                Fallback(
                    FallbackStep.OTHER_BACKEND,
                    f"{what}: {self.backend} failed ({out.message}); {other}",
                )
            )
            out = _solve_or_error(problem, other, self.options)
        if out.limit is not None and problem.is_mip:
            self.fallbacks.append(Fallback(*_limit_note(what, out, self.options)))
        return out

    def for_lp(self) -> SolveContext:
        """The context for a diagnostic LP (e.g. the shadow prices of the caps).

        With the ``cvxpy`` backend, HiGHS solves the LP through highspy directly: cvxpy hands
        its LPs to the same HiGHS, and its canonicalisation costs ~7x the LP itself on phase 4
        (``benchmarks/bench_pipeline.py``, section 3). Other backends keep their own solver.
        Shares this context's options and fallback record.
        """
        if self.backend != "cvxpy":
            return self
        return SolveContext("highs", self.options, self.fallbacks)

    def with_gap(self, mip_rel_gap: float) -> SolveContext:
        """A context sharing this one's fallback record, with another relative MIP gap."""
        opts = dataclasses.replace(self.options, mip_rel_gap=mip_rel_gap)
        return SolveContext(self.backend, opts, self.fallbacks)


def _solve_or_error(problem: SizingProblem, backend: str, options: SolverOptions) -> SolveOutcome:
    """:func:`optimizer.solve.backends.solve`, with an unimportable backend as an ERROR outcome."""
    try:
        return solve(problem, backend, options)
    except ImportError as exc:
        return failed_outcome(
            backend=backend, message=f"the {backend} backend cannot be loaded ({exc})"
        )


def _limit_note(what: str, out: SolveOutcome, options: SolverOptions) -> tuple[str, str]:
    """``(step, reason)`` of a MILP stopped at a limit (never silent: listed in the verdict)."""
    kept = (
        f"best solution kept, relative gap {out.mip_gap:.3g}"
        if out.status.has_solution and out.mip_gap is not None
        else "no solution found"
    )
    if out.limit == "nodes":
        return "node_limit", f"{what}: stopped at the node limit ({options.node_limit:,}); {kept}"
    if out.limit == "time":
        return "time_limit", (
            f"{what}: stopped by the wall-clock safety net ({options.time_limit:g} s; the result "
            f"depends on the machine and its load); {kept}"
        )
    return "solver_limit", f"{what}: stopped at a solver limit ({out.message}); {kept}"


def counts_of(outcome: SolveOutcome, k: int) -> np.ndarray:
    """Integer contract counts of an outcome, shape (k,) (zeros when it has no solution)."""
    if outcome.status.has_solution and outcome.values is not None:
        return np.rint(outcome.values["n"]).astype(int)
    return np.zeros(k, dtype=int)


def _tail_scenarios(losses: np.ndarray, alpha: float, exclude: np.ndarray) -> np.ndarray:
    """Indices of the ``ceil((1 - alpha) S)`` largest losses, not already in ``exclude``."""
    k = int(np.ceil((1 - alpha) * losses.size)) + 1
    order = np.argsort(-losses, kind="stable")
    fresh = order[~np.isin(order, exclude)]
    return fresh[:k]


def solve_sizing(
    cs: CandidateSet,
    limits: Limits,
    objective: ObjectiveKind,
    ctx: SolveContext,
    *,
    target: float | None = None,
    risk: RiskData | None = None,
    chance: bool = True,
    extra: Callable[[SizingProblem], SizingProblem] | None = None,
    cvar_allowance: Callable[[SolveOutcome], dict[float, float]] | None = None,
    max_rounds: int = 25,
) -> tuple[SolveOutcome, SizingProblem]:
    """Build and solve a sizing problem; CVaR caps by cutting planes over the scenario set.

    With CVaR caps, the problem is first solved with the CVaR rows of a small scenario subset
    (normalized by the full count: a relaxation of the full cap). The full-set CVaR of the
    solution is then computed ex post; if a cap is exceeded, the scenarios in that solution's
    tail are added and the problem is re-solved. A solution that meets every cap on the full set
    is optimal for the full problem (it is optimal for a relaxation and feasible for the full
    problem). This is the scenario-generation form of the Rockafellar–Uryasev LP (Künzi-Bay &
    Mayer, Comput. Manag. Sci. 3, 2006); it is exact, not an approximation. For a MILP the
    rows are first converged on its continuous relaxation (LP rounds cost a fraction of a MILP
    round), then the MILP rounds start from them; only the MILP's full-set check ends the loop.

    Parameters
    ----------
    cs, limits, objective, ctx
        Candidates, caps, objective kind and solver context.
    target : float | None
        Monthly income target (account currency), for ``min_bp`` and the chance family.
    risk : RiskData | None
        Scenario matrices for the tail-risk (and chance) families.
    chance : bool
        Include the chance constraint.
    extra : callable | None
        Applied to each built problem before solving (e.g. to add variables and a new objective).
    cvar_allowance : callable | None
        ``outcome -> {alpha: money}``: extra CVaR a solution is allowed on top of each cap (the
        elastic relaxation's slack), used by the full-set check.

    Returns
    -------
    (SolveOutcome, SizingProblem)
        The final outcome and the problem it solved.
    """

    def build(rows):
        problem = build_problem(
            cs, limits, objective, target=target, risk=risk, chance=chance, cvar_rows=rows
        )
        return extra(problem) if extra is not None else problem

    if risk is None or not limits.cvar_caps:
        problem = build(None)
        return ctx.solve(problem, what=objective.value), problem
    pnl = risk.pnl
    alpha_min = min(a for a, _ in limits.cvar_caps)
    # seed: the tail of a proxy book holding every candidate once, scaled by its P&L spread
    proxy = pnl @ (1.0 / np.maximum(pnl.std(axis=0), 1e-12))
    rows = _tail_scenarios(-proxy, alpha_min, np.array([], dtype=int))

    def cuts(out: SolveOutcome, rows: np.ndarray) -> np.ndarray | None:
        """Scenarios to add for the caps ``out`` breaks on the full set (None: it meets all)."""
        losses = -(pnl @ out.values["n"])
        allow = cvar_allowance(out) if cvar_allowance is not None else {}
        worst = [
            a
            for a, cap in limits.cvar_caps
            if cvar(losses, a) > (cap * limits.nlv + allow.get(a, 0.0)) * (1 + 1e-7) + 1e-6
        ]
        if not worst:
            return None
        return np.concatenate([_tail_scenarios(losses, a, rows) for a in worst])

    rounds = 0
    problem = build(np.sort(rows))
    if problem.is_mip:
        # LP first: converge the scenario rows on the continuous relaxation (cheap), then
        # solve the MILP with them; the MILP rounds below still check the full set, so the
        # result stays exact (rows only ever make the relaxation tighter, never cut a point
        # that meets every cap).
        while rounds < max_rounds:
            rounds += 1
            # the LP only chooses rows (never reported): highspy directly, without a modelling
            # layer's compile
            lp = solve(problem.relaxed(), "highs", ctx.options)
            if not lp.status.has_solution or lp.values is None:
                break
            new = cuts(lp, rows)
            if new is None:
                break
            rows = np.union1d(rows, new)
            problem = build(np.sort(rows))
    out = None
    for _ in range(max_rounds):
        out = ctx.solve(problem, what=objective.value)
        if not out.status.has_solution or out.values is None:
            return out, problem
        new = cuts(out, rows)
        if new is None:
            return out, problem
        rows = np.union1d(rows, new)
        problem = build(np.sort(rows))
    log.warning(
        "CVaR cutting planes did not converge in %d rounds; solving the full set", max_rounds
    )
    ctx.fallbacks.append(
        Fallback(FallbackStep.FULL_CVAR, f"cutting planes did not converge in {max_rounds} rounds")
    )
    problem = build(None)
    return ctx.solve(problem, what=objective.value), problem


@dataclass(frozen=True)
class MaxIncome:
    """The max-expected-income solve of a set of caps.

    Parameters
    ----------
    outcome : SolveOutcome
        The solve.
    problem : SizingProblem
        The problem solved.
    unbounded : bool
        True when a count no cap limits sits at its artificial bound: no cap left limits the
        income, so the maximum is unbounded (its objective value means nothing).
    income : float | None
        Expected monthly income of the book found, account currency (with a soft allocation
        the objective also carries the deviation penalty; this is the income alone).
    """

    outcome: SolveOutcome
    problem: SizingProblem
    unbounded: bool
    income: float | None

    @property
    def value(self) -> float | None:
        """Max expected monthly income (account currency), ``None`` if unsolved or unbounded."""
        return None if self.unbounded else self.income


def max_income(
    cs: CandidateSet,
    limits: Limits,
    ctx: SolveContext,
    *,
    risk: RiskData | None = None,
    chance: bool = False,
) -> MaxIncome:
    """Solve the max-expected-income MILP for ``cs`` under ``limits``.

    Tail-risk caps are included when ``risk`` is given; the chance constraint only when
    ``chance``. An optimum that rests on :data:`~optimizer.formulation.families.bounds.UNCAPPED` is
    reported as unbounded, never as a number.
    """
    out, problem = solve_sizing(cs, limits, ObjectiveKind.MAX_INCOME, ctx, risk=risk, chance=chance)
    counts = counts_of(out, len(cs))
    unbounded = out.status is SolveStatus.UNBOUNDED or (
        out.status.has_solution and hits_artificial_bound(cs, limits, counts)
    )
    income = (
        float(cs.col("expected_monthly_income_per_contract") @ counts)
        if out.status.has_solution
        else None
    )
    return MaxIncome(out, problem, unbounded, income)
