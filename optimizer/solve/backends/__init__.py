"""Backends compiling a :class:`~optimizer.solve.problem.SizingProblem` for a solver.

* ``"cvxpy"`` (default): cvxpy model solved by HiGHS (:mod:`.cvxpy_backend`).
* ``"pulp"``: PuLP model solved by CBC, with ``.lp`` / ``.mps`` export
  (:mod:`.pulp_backend`).
* ``"highs"``: the matrices passed straight to HiGHS through highspy, no modelling
  layer (:mod:`.highs_backend`); fastest compile, and compile-once / re-solve.

All return a :class:`~optimizer.solve.status.SolveOutcome` with the same status enum,
the same value rounding and the same dual sign convention (see
:mod:`optimizer.solve.status`).  Solver trouble never raises: infeasible, unbounded,
limits, numerical failures and solver exceptions become statuses.  Only
programmer errors (bad shapes, unknown backend) raise :class:`ValueError`.

Backend modules are imported lazily so that ``import optimizer.solve.backends`` does
not import cvxpy, PuLP or highspy.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import Literal

import numpy as np

from optimizer.solve.problem import SizingProblem
from optimizer.solve.status import Backend, SolveOutcome, SolverOptions, SolveStatus

__all__ = ["Backend", "solve", "write_lp", "write_mps"]


def solve(
    problem: SizingProblem,
    backend: Backend | Literal["cvxpy", "pulp", "highs"] = Backend.CVXPY,
    options: SolverOptions = SolverOptions(),  # noqa: B008 - frozen, immutable default
) -> SolveOutcome:
    """Compile ``problem`` for ``backend`` and solve it.

    Parameters
    ----------
    problem : SizingProblem
        The backend-neutral problem.
    backend : Backend or {"cvxpy", "pulp", "highs"}
        ``"cvxpy"`` -> cvxpy + HiGHS (``"cvxpy-highs"``); ``"pulp"`` -> PuLP + CBC
        (``"pulp-cbc"``); ``"highs"`` -> highspy directly (``"highs"``).
    options : SolverOptions
        Time limit (s), relative MIP gap, threads, verbosity.

    Returns
    -------
    SolveOutcome
        Never raises on solver trouble; see :class:`~optimizer.solve.status.SolveStatus`.

    Raises
    ------
    ValueError
        Unknown backend or a ``problem`` that is not a ``SizingProblem``.
    """
    if not isinstance(problem, SizingProblem):
        raise ValueError(f"problem must be a SizingProblem, got {type(problem).__name__}")
    if not isinstance(options, SolverOptions):
        raise ValueError(f"options must be SolverOptions, got {type(options).__name__}")
    try:
        which = Backend(backend)
    except ValueError:
        raise ValueError(
            f"unknown backend {backend!r}; choose one of {[b.value for b in Backend]}"
        ) from None
    if which is Backend.CVXPY:
        from optimizer.solve.backends import cvxpy_backend

        return cvxpy_backend.solve(problem, options)
    if which is Backend.HIGHS:
        from optimizer.solve.backends import highs_backend

        return highs_backend.solve(problem, options)
    from optimizer.solve.backends import pulp_backend

    return pulp_backend.solve(problem, options)


def write_lp(problem: SizingProblem, path: str | PathLike[str]) -> None:
    """Write ``problem`` as a CPLEX-LP file (via PuLP) for other solvers.

    Variable and row names are sanitised (``[A-Za-z0-9_]``, made unique); the
    objective constant is not written.  See :func:`.pulp_backend.write_lp`.
    """
    from optimizer.solve.backends import pulp_backend

    pulp_backend.write_lp(problem, path)


def write_mps(problem: SizingProblem, path: str | PathLike[str]) -> None:
    """Write ``problem`` as a free-format MPS file with an ``OBJSENSE`` section.

    See :func:`.pulp_backend.write_mps`.
    """
    from optimizer.solve.backends import pulp_backend

    pulp_backend.write_mps(problem, path)


# --------------------------------------------------------------------------------------
# Shared post-processing used by every backend module (same rounding, same duals).
# --------------------------------------------------------------------------------------


def finalize_values(problem: SizingProblem, raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Round integral groups to exact ints (int64) and clip them to their bounds.

    Parameters
    ----------
    problem : SizingProblem
        Source of group kinds and bounds.
    raw : Mapping of str to ndarray
        Group name -> ``(group.size,)`` solver values.

    Returns
    -------
    dict of str to ndarray
        int64 arrays for INTEGER/BINARY groups, float64 for CONTINUOUS.

    Raises
    ------
    FloatingPointError
        If the solver returned non-finite values (callers map this to ERROR).
    """
    out: dict[str, np.ndarray] = {}
    for g in problem.variables:
        x = np.asarray(raw[g.name], dtype=float).reshape(g.size)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"solver returned non-finite values for group {g.name!r}")
        if g.is_integral:
            lo = np.ceil(g.lower - 1e-9)
            hi = np.floor(g.upper + 1e-9)
            out[g.name] = np.clip(np.round(x), lo, hi).astype(np.int64)
        else:
            out[g.name] = x.copy()
    return out


def reduced_costs_from_duals(
    problem: SizingProblem, row_duals: np.ndarray
) -> dict[str, np.ndarray]:
    """Reduced costs ``c_g - A_g^T y`` with ``y`` in the module's dual convention.

    Parameters
    ----------
    problem : SizingProblem
        The (continuous) problem.
    row_duals : ndarray, shape (n_rows,)
        ``d f* / d (binding bound)`` per row, objective units per row unit.

    Returns
    -------
    dict of str to ndarray
        Group name -> ``(group.size,)`` ``d f* / d (binding variable bound)``,
        objective units per variable unit; 0 for variables strictly inside
        their bounds.
    """
    return {
        g.name: problem.objective_vector(g.name) - problem.matrix(g.name).T @ row_duals
        for g in problem.variables
    }


def solution_outcome(
    problem: SizingProblem,
    *,
    status: SolveStatus,
    raw_values: Mapping[str, np.ndarray] | None,
    row_duals: np.ndarray | None,
    best_bound: float | None,
    mip_gap: float | None,
    compile_seconds: float,
    solve_seconds: float,
    backend: str,
    message: str,
    limit: str | None = None,
) -> SolveOutcome:
    """Assemble a :class:`SolveOutcome`, dropping values unless a solution exists.

    ``objective_value`` is recomputed from the rounded values so that the reported
    objective always equals ``problem.objective_value(outcome.values)``.
    """
    if not status.has_solution or raw_values is None:
        return SolveOutcome(
            status=status,
            objective_value=None,
            values=None,
            duals=None,
            reduced_costs=None,
            mip_gap=None,
            best_bound=best_bound,
            compile_seconds=compile_seconds,
            solve_seconds=solve_seconds,
            backend=backend,
            message=message,
            limit=limit,
        )
    try:
        values = finalize_values(problem, raw_values)
    except FloatingPointError as exc:
        return failed_outcome(
            backend=backend,
            message=f"{message}; {exc}",
            compile_seconds=compile_seconds,
            solve_seconds=solve_seconds,
        )
    objective = problem.objective_value(values)
    duals = reduced = None
    if not problem.is_mip:
        if status is SolveStatus.OPTIMAL:
            mip_gap, best_bound = 0.0, objective
            if row_duals is not None:
                duals = dict(zip(problem.row_names, row_duals.tolist(), strict=True))
                reduced = reduced_costs_from_duals(problem, row_duals)
    return SolveOutcome(
        status=status,
        objective_value=objective,
        values=values,
        duals=duals,
        reduced_costs=reduced,
        mip_gap=mip_gap,
        best_bound=best_bound,
        compile_seconds=compile_seconds,
        solve_seconds=solve_seconds,
        backend=backend,
        message=message,
        limit=limit,
    )


def failed_outcome(
    *,
    backend: str,
    message: str,
    compile_seconds: float = 0.0,
    solve_seconds: float = 0.0,
    status: SolveStatus = SolveStatus.ERROR,
) -> SolveOutcome:
    """Outcome without a solution (ERROR by default) carrying ``message``."""
    return SolveOutcome(
        status=status,
        objective_value=None,
        values=None,
        duals=None,
        reduced_costs=None,
        mip_gap=None,
        best_bound=None,
        compile_seconds=compile_seconds,
        solve_seconds=solve_seconds,
        backend=backend,
        message=message,
    )
