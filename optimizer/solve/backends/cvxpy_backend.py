"""cvxpy + HiGHS backend.

Compilation: one ``cp.Variable`` per :class:`~optimizer.solve.problem.VariableGroup`
(``integer=True`` for INTEGER and BINARY groups; a BINARY group is an integer
variable with bounds inside ``[0, 1]``, which lets :meth:`SizingProblem.with_fixed`
fix binaries), bounds passed as cvxpy variable bounds (HiGHS column bounds, not
rows).  All rows of all blocks are stacked per group into one sparse matrix and
split into at most three vector constraints:

* equality rows (``lower == upper``, finite): ``sum_g A_g[eq] @ x_g == lower[eq]``;
* rows with a finite upper bound: ``sum_g A_g[up] @ x_g <= upper[up]``;
* rows with a finite lower bound: ``sum_g A_g[lo] @ x_g >= lower[lo]``.

A two-sided row appears in both inequality constraints.  The row index arrays are
kept so that duals map back to row names.  Compilation also runs cvxpy's
canonicalisation once (``get_problem_data`` with the SciPy canonicalisation
backend, faster than the default for large dense blocks such as CVaR scenario
rows), so a later solve only pays for HiGHS; ``compile_seconds`` therefore
includes the cvxpy reduction chain.

Solve: ``solver=cp.HIGHS`` with HiGHS options ``time_limit`` (s), ``mip_rel_gap``
and ``threads`` forwarded as keyword options (cvxpy passes them to
``Highs.setOptionValue``).  HiGHS runs its parallel tasks on one process-wide
scheduler whose thread count is fixed when it starts; a run asking for another
``threads`` value is refused before solving (cvxpy then raises ``SolverError`` and
HiGHS' model status is still ``kNotset``).  In that case the scheduler is reset
(``Highs.resetGlobalScheduler``) and the solve retried once, as the highs backend
does.  MIP gap and best bound come from the ``HighsInfo``
that cvxpy exposes as ``solver_stats.extra_stats`` (``mip_gap``,
``mip_dual_bound``, ``primal_solution_status``).  cvxpy solves a maximisation as
``min -f``; the bound is mapped back accordingly.

Duals (LP only): cvxpy reports non-negative multipliers for inequalities and
signed ones for equalities, in the sense of the problem it was given; they are
converted to the package convention ``d f* / d (binding bound)``
(:mod:`optimizer.solve.status`): ``+s * dual`` for upper and equality rows and
``-s * dual`` for lower rows, with ``s = +1`` maximising, ``-1`` minimising.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import cvxpy as cp
import highspy
import numpy as np

from optimizer.solve.backends import failed_outcome, solution_outcome
from optimizer.solve.problem import ObjectiveSense, SizingProblem
from optimizer.solve.status import (
    HIGHS_MIP_SETTINGS,
    SolveOutcome,
    SolverOptions,
    SolveStatus,
    highs_limit,
    map_cvxpy_status,
    relative_gap,
)

__all__ = ["BACKEND_NAME", "CvxpyModel", "RowSide", "compile_problem", "solve", "solve_compiled"]

BACKEND_NAME = "cvxpy-highs"

#: HiGHS ``HighsSolutionStatus.kSolutionStatusFeasible``.
_HIGHS_SOLUTION_FEASIBLE = 2

#: HiGHS model statuses after a run that HiGHS refused before solving (``kNotset``),
#: or when cvxpy did not keep the status (``unknown``, see :func:`_highs_model_status`).
_NOT_RUN = frozenset({"kNotset", "unknown"})

#: Exceptions that mean "the solver failed", mapped to SolveStatus.ERROR.
_SOLVER_ERRORS = (cp.error.SolverError, ValueError, ArithmeticError)


class RowSide(StrEnum):
    """Which bound a compiled vector constraint enforces."""

    EQUAL = "equal"
    UPPER = "upper"
    LOWER = "lower"


@dataclass(frozen=True, eq=False)
class CvxpyModel:
    """A compiled cvxpy model, reusable for several solves.

    Attributes
    ----------
    problem : SizingProblem
        The source problem.
    cp_problem : cvxpy.Problem
        The compiled problem (canonicalisation cached for HiGHS).
    variables : Mapping of str to cvxpy.Variable
        Group name -> variable of shape (group.size,).
    constraints : tuple of (RowSide, ndarray, cvxpy.Constraint)
        Each vector constraint with the global row indices (into
        ``problem.row_names``) it covers, in order.
    compile_seconds : float
        Wall time spent building and canonicalising, seconds.
    """

    problem: SizingProblem
    cp_problem: cp.Problem
    variables: Mapping[str, cp.Variable]
    constraints: tuple[tuple[RowSide, np.ndarray, cp.Constraint], ...]
    compile_seconds: float


def compile_problem(problem: SizingProblem) -> CvxpyModel:
    """Build the cvxpy model of ``problem`` and run cvxpy's canonicalisation.

    Parameters
    ----------
    problem : SizingProblem
        Problem to compile.

    Returns
    -------
    CvxpyModel

    Raises
    ------
    cvxpy.error.SolverError
        If HiGHS is not available to cvxpy.
    """
    t0 = time.perf_counter()
    variables: dict[str, cp.Variable] = {}
    for g in problem.variables:
        variables[g.name] = cp.Variable(
            g.size,
            name=g.name,
            integer=g.is_integral,
            bounds=[np.array(g.lower), np.array(g.upper)],
        )

    lower, upper = problem.row_lower, problem.row_upper
    eq_mask = np.isfinite(lower) & (lower == upper)
    sides = (
        (RowSide.EQUAL, np.flatnonzero(eq_mask), lower),
        (RowSide.UPPER, np.flatnonzero(np.isfinite(upper) & ~eq_mask), upper),
        (RowSide.LOWER, np.flatnonzero(np.isfinite(lower) & ~eq_mask), lower),
    )
    constraints: list[tuple[RowSide, np.ndarray, cp.Constraint]] = []
    for side, rows, rhs in sides:
        if rows.size == 0:
            continue
        expr = sum(
            (problem.matrix(g.name)[rows, :] @ variables[g.name] for g in problem.variables[1:]),
            start=problem.matrix(problem.variables[0].name)[rows, :]
            @ variables[problem.variables[0].name],
        )
        bound = np.asarray(rhs[rows])
        if side is RowSide.EQUAL:
            con = expr == bound
        elif side is RowSide.UPPER:
            con = expr <= bound
        else:
            con = expr >= bound
        constraints.append((side, rows, con))

    # Every group appears in the objective (zero cost if absent) so that cvxpy keeps
    # all columns and returns a value for each of them.  The constant is added back
    # by the caller, which keeps HiGHS' objective and bounds free of offsets.
    linear = sum(
        (problem.objective_vector(g.name) @ variables[g.name] for g in problem.variables[1:]),
        start=problem.objective_vector(problem.variables[0].name)
        @ variables[problem.variables[0].name],
    )
    if problem.objective.sense is ObjectiveSense.MAXIMIZE:
        objective = cp.Maximize(linear)
    else:
        objective = cp.Minimize(linear)
    cp_problem = cp.Problem(objective, [c for _, _, c in constraints])
    cp_problem.get_problem_data(solver=cp.HIGHS, canon_backend=cp.SCIPY_CANON_BACKEND)
    return CvxpyModel(
        problem=problem,
        cp_problem=cp_problem,
        variables=MappingProxyType(variables),
        constraints=tuple(constraints),
        compile_seconds=time.perf_counter() - t0,
    )


#: HiGHS' default ``mip_max_nodes``: no node limit.
NO_NODE_LIMIT = 2**31 - 1


def _solver_kwargs(options: SolverOptions, mip: bool = True) -> dict[str, float | int | str | bool]:
    kwargs: dict[str, float | int | str | bool] = {
        "time_limit": float(options.time_limit),
        "mip_rel_gap": float(options.mip_rel_gap),
    }
    if options.threads is not None:
        kwargs["threads"] = int(options.threads)
    # always set: cvxpy may re-use its HiGHS instance (and an earlier run's limit)
    kwargs["mip_max_nodes"] = NO_NODE_LIMIT if options.node_limit is None else options.node_limit
    if mip:  # MILP-only settings; an LP keeps HiGHS' defaults
        kwargs["presolve"] = "choose" if options.presolve else "off"
        kwargs.update(HIGHS_MIP_SETTINGS)
    return kwargs


def _gap(info, dual_bound: float) -> float | None:
    """Relative MIP gap by :func:`~optimizer.solve.status.relative_gap` (0 when an optimum of 0 meets
    a bound within 1e-12, where HiGHS' own ``mip_gap`` says inf), else HiGHS' value."""
    obj = float(getattr(info, "objective_function_value", math.nan))
    if math.isfinite(obj) and math.isfinite(dual_bound):
        return relative_gap(obj, dual_bound)
    gap = float(getattr(info, "mip_gap", math.nan))
    return None if math.isnan(gap) else gap


def _highs_model_status(cp_problem: cp.Problem) -> str:
    """HiGHS' raw model status name (e.g. ``kTimeLimit``) if cvxpy kept it."""
    cache = getattr(cp_problem, "_solver_cache", None)
    if isinstance(cache, dict):
        entry = cache.get(cp.HIGHS)
        if isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[2], dict):
            return str(entry[2].get("model_status", "unknown"))
    return "unknown"


def _run_highs(cp_problem: cp.Problem, options: SolverOptions, mip: bool = True) -> None:
    """``cp_problem.solve`` with HiGHS, resetting HiGHS' global scheduler if needed."""
    kwargs = _solver_kwargs(options, mip)
    try:
        cp_problem.solve(solver=cp.HIGHS, verbose=options.verbose, **kwargs)
    except cp.error.SolverError:
        if options.threads is None or _highs_model_status(cp_problem) not in _NOT_RUN:
            raise
        # HiGHS did not start solving: most likely the process-wide scheduler runs
        # another thread count.  Restart it with ours and retry once (as
        # highs_backend._run does).
        highspy.Highs.resetGlobalScheduler(True)
        cp_problem.solve(solver=cp.HIGHS, verbose=options.verbose, **kwargs)


def _row_duals(model: CvxpyModel) -> np.ndarray | None:
    """Row duals in the package convention, shape (n_rows,), or None if missing."""
    s = model.problem.objective.sign
    y = np.zeros(model.problem.n_rows)
    for side, rows, con in model.constraints:
        if con.dual_value is None:
            return None
        dual = np.asarray(con.dual_value, dtype=float).reshape(rows.size)
        if side is RowSide.LOWER:
            y[rows] -= s * dual
        else:
            y[rows] += s * dual
    return y


def solve_compiled(model: CvxpyModel, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Solve a compiled model with HiGHS.

    Parameters
    ----------
    model : CvxpyModel
        From :func:`compile_problem`; may be solved several times.
    options : SolverOptions
        Limits and tolerances.

    Returns
    -------
    SolveOutcome
        Never raises on solver trouble (ERROR with the exception text instead).
    """
    problem, cp_problem = model.problem, model.cp_problem
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # Inaccuracy / infeasible-or-unbounded warnings become statuses instead.
            warnings.filterwarnings("ignore", message=r"Solution may be inaccurate")
            warnings.filterwarnings(
                "ignore", message=r"\s*The problem is either infeasible or unbounded"
            )
            _run_highs(cp_problem, options, problem.is_mip)
    except _SOLVER_ERRORS as exc:
        return failed_outcome(
            backend=BACKEND_NAME,
            message=f"{type(exc).__name__}: {exc}",
            compile_seconds=model.compile_seconds,
            solve_seconds=time.perf_counter() - t0,
        )
    solve_seconds = time.perf_counter() - t0

    cvx_status = cp_problem.status
    info = cp_problem.solver_stats.extra_stats if cp_problem.solver_stats else None
    has_incumbent = (
        getattr(info, "primal_solution_status", None) == _HIGHS_SOLUTION_FEASIBLE
        if info is not None
        else cvx_status == cp.OPTIMAL
    )
    status = map_cvxpy_status(cvx_status, has_incumbent)
    message = f"cvxpy status {cvx_status!r}; HiGHS model status {_highs_model_status(cp_problem)}"

    best_bound = mip_gap = None
    if problem.is_mip and info is not None:
        # HiGHS minimised s_h * f_linear with s_h = -1 when maximising.
        dual_bound = float(getattr(info, "mip_dual_bound", math.nan))
        if math.isfinite(dual_bound):
            best_bound = -problem.objective.sign * dual_bound + problem.objective.constant
        if has_incumbent:
            mip_gap = _gap(info, dual_bound)

    raw_values = None
    row_duals = None
    if status.has_solution:
        raw_values = {}
        for name, var in model.variables.items():
            if var.value is None:
                status = SolveStatus.ERROR
                message += f"; no value returned for group {name!r}"
                raw_values = None
                break
            raw_values[name] = np.asarray(var.value, dtype=float)
        if raw_values is not None and not problem.is_mip and status is SolveStatus.OPTIMAL:
            row_duals = _row_duals(model)
    return solution_outcome(
        problem,
        status=status,
        raw_values=raw_values,
        row_duals=row_duals,
        best_bound=best_bound,
        mip_gap=mip_gap,
        compile_seconds=model.compile_seconds,
        solve_seconds=solve_seconds,
        backend=BACKEND_NAME,
        message=message,
        limit=highs_limit(_highs_model_status(cp_problem)),
    )


def solve(problem: SizingProblem, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Compile and solve ``problem`` with cvxpy + HiGHS (see module docstring)."""
    t0 = time.perf_counter()
    try:
        model = compile_problem(problem)
    except cp.error.SolverError as exc:
        return failed_outcome(
            backend=BACKEND_NAME,
            message=f"SolverError: {exc}",
            compile_seconds=time.perf_counter() - t0,
        )
    return solve_compiled(model, options)
