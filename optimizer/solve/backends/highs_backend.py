"""Direct highspy backend: the :class:`~optimizer.solve.problem.SizingProblem` passed to HiGHS.

No modelling layer: compilation hands the problem's arrays to ``Highs.passModel``
in its array form (the fields of a ``highspy.HighsLp`` as numpy buffers, which
skips highspy's element-by-element copy into ``HighsLp`` vectors).

* Columns: the groups' elements in group order (``columns[g]`` is the slice of
  group ``g``); column bounds are the group bounds (``±inf`` is ``kHighsInf``);
  integrality ``kInteger`` for INTEGER and BINARY groups (a BINARY group is an
  integer column with bounds inside ``[0, 1]``, so :meth:`SizingProblem.with_fixed`
  can fix binaries) and ``kContinuous`` otherwise; with no integer column HiGHS
  solves an LP.
* Rows: ``problem.row_names`` in order, bounds ``row_lower`` / ``row_upper``
  (two-sided and equality rows are single HiGHS rows, free rows are kept).
* Matrix: the per-group stacked matrices (:meth:`SizingProblem.matrix`) side by
  side, column-wise (CSC, HiGHS' native format), explicit zeros dropped.
* Objective: ``ObjSense.kMaximize`` / ``kMinimize`` with the objective constant as
  HiGHS' objective offset (``HighsLp.offset_``), so HiGHS' objective value and MIP
  dual bound are in the problem's objective units, constant included.

Solve: ``Highs.run`` with the options ``time_limit`` (s), ``mip_rel_gap``,
``threads`` (``0``, HiGHS' automatic choice, when ``SolverOptions.threads`` is None)
and ``output_flag`` (``verbose``), set before every run so a compiled model can be
re-solved with other options.  HiGHS runs its parallel tasks on one process-wide
scheduler whose thread count is fixed when it starts; if a run is refused because
``threads`` differs from it, the scheduler is reset
(``Highs.resetGlobalScheduler``) and the run retried once.  ``threads`` above
:data:`MAX_THREADS` gives ERROR without calling HiGHS.

Statuses: ``Highs.getModelStatus().name`` goes through
:func:`optimizer.solve.status.map_highs_status`, with "has an incumbent" taken from
``info.primal_solution_status == kSolutionStatusFeasible`` (limit statuses become
FEASIBLE with an incumbent, NO_SOLUTION without).  A run that returns
``HighsStatus.kError`` is ERROR.  For a MIP, ``best_bound`` is
``info.mip_dual_bound`` (objective units, constant included; an upper bound when
maximising) and ``mip_gap`` is ``info.mip_gap`` (HiGHS' relative gap, reported
only with an incumbent).

Duals (LP only, OPTIMAL with a valid dual solution): HiGHS' ``row_dual`` is already
``d f* / d (binding bound)`` for both objective senses, i.e. the package convention
(:mod:`optimizer.solve.status`), so it is used as is; two-sided rows have one dual.
Reduced costs are recomputed from the duals (``c - A^T y``) by the shared
post-processing, exactly as for the other backends.

Compile once, solve many: :func:`compile_problem` returns a :class:`HighsModel`;
:func:`set_row_bounds`, :func:`set_objective` and :func:`update` change its row
bounds, objective, column bounds or integrality in place (HiGHS keeps its basis,
so an LP re-solve after a bound change is warm-started) and
:func:`solve_compiled` solves it again.  The model's ``problem`` always describes
what HiGHS holds, so outcomes are computed against the updated problem.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.solve.backends import failed_outcome, solution_outcome
from optimizer.solve.problem import LinearBlock, Objective, ObjectiveSense, SizingProblem
from optimizer.solve.status import (
    HIGHS_MIP_SETTINGS,
    SolveOutcome,
    SolverOptions,
    SolveStatus,
    highs_limit,
    map_highs_status,
    relative_gap,
)

__all__ = [
    "BACKEND_NAME",
    "MAX_THREADS",
    "HighsBackendError",
    "HighsModel",
    "compile_problem",
    "set_objective",
    "set_row_bounds",
    "solve",
    "solve_compiled",
    "update",
]

BACKEND_NAME = "highs"

#: Largest ``SolverOptions.threads`` passed to HiGHS.  HiGHS aborts the whole process
#: (``std::terminate``) when it cannot start the requested worker threads, so larger
#: requests are answered with an ERROR outcome instead of reaching the solver.
MAX_THREADS = 1024

#: ``HighsSolutionStatus.kSolutionStatusFeasible``.
_SOLUTION_FEASIBLE = int(highspy.SolutionStatus.kSolutionStatusFeasible)


class HighsBackendError(RuntimeError):
    """HiGHS refused a call (``HighsStatus.kError``): model, option or change rejected."""


#: Exceptions that mean "the solver failed", mapped to SolveStatus.ERROR.  highspy
#: has no exception classes of its own: pybind11 turns C++ exceptions into
#: RuntimeError / ValueError / MemoryError / OverflowError.
_SOLVER_ERRORS = (HighsBackendError, RuntimeError, ValueError, MemoryError, ArithmeticError)


@dataclass(eq=False)
class HighsModel:
    """A problem loaded into a ``highspy.Highs`` object, reusable for several solves.

    Attributes
    ----------
    problem : SizingProblem
        The problem HiGHS currently holds; replaced by :func:`update`,
        :func:`set_row_bounds` and :func:`set_objective`.  Do not change ``highs``
        behind its back.
    highs : highspy.Highs
        The solver object (model, options, basis).
    columns : Mapping of str to slice
        Group name -> its columns in HiGHS' column order, shape (group.size,).
    compile_seconds : float
        Wall time spent stacking the arrays and passing them to HiGHS, seconds.
    """

    problem: SizingProblem
    highs: highspy.Highs
    columns: Mapping[str, slice]
    compile_seconds: float


def _check(status: highspy.HighsStatus, what: str) -> None:
    if status == highspy.HighsStatus.kError:
        raise HighsBackendError(f"HiGHS rejected {what}")


def _column_bounds(problem: SizingProblem) -> tuple[np.ndarray, np.ndarray]:
    lower = np.concatenate([g.lower for g in problem.variables])
    upper = np.concatenate([g.upper for g in problem.variables])
    return lower, upper


def _column_costs(problem: SizingProblem) -> np.ndarray:
    return np.concatenate([problem.objective_vector(g.name) for g in problem.variables])


def _column_integrality(problem: SizingProblem) -> np.ndarray:
    """uint8 per column: ``HighsVarType`` value (kContinuous 0, kInteger 1)."""
    integer, continuous = int(highspy.HighsVarType.kInteger), int(highspy.HighsVarType.kContinuous)
    return np.concatenate(
        [np.full(g.size, integer if g.is_integral else continuous) for g in problem.variables]
    ).astype(np.uint8)


def _sense(problem: SizingProblem) -> highspy.ObjSense:
    if problem.objective.sense is ObjectiveSense.MAXIMIZE:
        return highspy.ObjSense.kMaximize
    return highspy.ObjSense.kMinimize


def compile_problem(problem: SizingProblem) -> HighsModel:
    """Load ``problem`` into a new ``highspy.Highs`` object (see module docstring).

    Parameters
    ----------
    problem : SizingProblem
        Problem to compile.

    Returns
    -------
    HighsModel

    Raises
    ------
    HighsBackendError
        If HiGHS rejects the model (e.g. coefficients of magnitude >= 1e15).
    """
    t0 = time.perf_counter()
    columns: dict[str, slice] = {}
    start = 0
    for g in problem.variables:
        columns[g.name] = slice(start, start + g.size)
        start += g.size
    n, m = start, problem.n_rows
    if m:
        a = sp.csc_array(sp.hstack([problem.matrix(g.name) for g in problem.variables]))
        a.eliminate_zeros()
        a.sort_indices()
        a_start, a_index, a_value = a.indptr, a.indices, a.data
    else:
        a_start = np.zeros(n + 1, dtype=np.int32)
        a_index, a_value = np.zeros(0, dtype=np.int32), np.zeros(0)
    col_lower, col_upper = _column_bounds(problem)
    # Array form of passModel: ~4x faster than filling a HighsLp for 20k scenario
    # rows.  Integrality is always passed in full (all kContinuous = 0 is an LP):
    # highspy hands HiGHS the buffer pointer, which must cover every column.
    args = (
        n,
        m,
        int(a_value.size),
        int(highspy.MatrixFormat.kColwise),
        int(_sense(problem)),
        problem.objective.constant,
        _column_costs(problem),
        col_lower,
        col_upper,
        np.asarray(problem.row_lower, dtype=float),
        np.asarray(problem.row_upper, dtype=float),
        a_start.astype(np.int32, copy=False),
        a_index.astype(np.int32, copy=False),
        a_value.astype(float, copy=False),
        _column_integrality(problem).astype(np.int32),
    )

    highs = highspy.Highs()
    _check(highs.setOptionValue("output_flag", False), "option output_flag=False")
    _check(highs.passModel(*args), f"the model of {problem!r}")
    return HighsModel(
        problem=problem,
        highs=highs,
        columns=MappingProxyType(columns),
        compile_seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------
# compile once, solve many
# --------------------------------------------------------------------------------------


def _same_coefficients(a: object, b: object) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        other = b if a is None else a
        return sp.csr_array(other).count_nonzero() == 0
    if not sp.issparse(a) and not sp.issparse(b):
        return bool(np.array_equal(a, b))
    sa, sb = sp.csr_array(a), sp.csr_array(b)
    return sa.shape == sb.shape and (sa != sb).count_nonzero() == 0


def _check_structure(old: SizingProblem, new: SizingProblem, *, coefficients: bool) -> None:
    """ValueError unless ``new`` has the columns, rows (and coefficients) of ``old``."""
    old_groups = [(g.name, g.size) for g in old.variables]
    new_groups = [(g.name, g.size) for g in new.variables]
    if old_groups != new_groups:
        raise ValueError(
            f"update: variable groups differ (compiled {old_groups}, new {new_groups}); "
            "compile a new model"
        )
    if old.row_names != new.row_names:
        raise ValueError("update: row names or row order differ; compile a new model")
    if not coefficients:
        return
    if len(old.blocks) != len(new.blocks):
        raise ValueError("update: the blocks differ; compile a new model")
    for bo, bn in zip(old.blocks, new.blocks, strict=True):
        if bo is bn or bo.terms is bn.terms:
            continue
        if bo.row_names != bn.row_names:
            raise ValueError(
                f"update: block {bn.name!r} has other rows than compiled block {bo.name!r}; "
                "compile a new model"
            )
        for gname in set(bo.terms) | set(bn.terms):
            if not _same_coefficients(bo.terms.get(gname), bn.terms.get(gname)):
                raise ValueError(
                    f"update: coefficients of block {bn.name!r}, group {gname!r} differ; "
                    "only bounds, objective and integrality can change, compile a new model"
                )


def _changed(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Indices where two float vectors differ (``inf == inf``), int32."""
    return np.flatnonzero(old != new).astype(np.int32)


def _retarget(model: HighsModel, problem: SizingProblem, *, coefficients: bool) -> None:
    """Push the bound, objective and integrality differences of ``problem`` into HiGHS."""
    old, h = model.problem, model.highs
    _check_structure(old, problem, coefficients=coefficients)

    old_lo, old_up = _column_bounds(old)
    new_lo, new_up = _column_bounds(problem)
    idx = np.union1d(_changed(old_lo, new_lo), _changed(old_up, new_up)).astype(np.int32)
    if idx.size:
        _check(h.changeColsBounds(idx.size, idx, new_lo[idx], new_up[idx]), "the new column bounds")

    old_int, new_int = _column_integrality(old), _column_integrality(problem)
    idx = np.flatnonzero(old_int != new_int).astype(np.int32)
    if idx.size:
        _check(h.changeColsIntegrality(idx.size, idx, new_int[idx]), "the new integrality")

    if problem.n_rows:
        lo, up = problem.row_lower, problem.row_upper
        idx = np.union1d(_changed(old.row_lower, lo), _changed(old.row_upper, up)).astype(np.int32)
        if idx.size:
            _check(
                h.changeRowsBounds(idx.size, idx, np.array(lo[idx]), np.array(up[idx])),
                "the new row bounds",
            )

    if problem.objective is not old.objective:
        new_cost = _column_costs(problem)
        idx = _changed(_column_costs(old), new_cost)
        if idx.size:
            _check(h.changeColsCost(idx.size, idx, new_cost[idx]), "the new objective costs")
        if problem.objective.sense is not old.objective.sense:
            _check(h.changeObjectiveSense(_sense(problem)), "the new objective sense")
        if problem.objective.constant != old.objective.constant:
            _check(
                h.changeObjectiveOffset(problem.objective.constant), "the new objective constant"
            )
    model.problem = problem


def update(model: HighsModel, problem: SizingProblem) -> None:
    """Make ``model`` hold ``problem``, changing only what differs.

    ``problem`` must have the compiled problem's variable groups (names and sizes,
    in order), blocks (row names, in order) and coefficients; group bounds and
    kinds, row bounds and the objective (costs, sense, constant) may differ.  This
    fits re-built problems such as ``build_problem(cs, limits.at_nlv(nlv), ...)``,
    ``problem.with_fixed(...)``, ``problem.relaxed()`` and
    ``problem.with_objective(...)``.

    Parameters
    ----------
    model : HighsModel
        Compiled model; modified in place (``model.problem`` becomes ``problem``).
    problem : SizingProblem
        The new problem.

    Raises
    ------
    ValueError
        If the groups, rows or coefficients differ (the model is left unchanged).
    HighsBackendError
        If HiGHS rejects a change (the model may then be partly updated).
    """
    _retarget(model, problem, coefficients=True)


def set_row_bounds(model: HighsModel, bounds: Mapping[str, tuple[float, float]]) -> SizingProblem:
    """Change the bounds of some rows, by row name.

    Parameters
    ----------
    model : HighsModel
        Compiled model; modified in place.
    bounds : Mapping of str to (float, float)
        Row name -> ``(lower, upper)`` in row units (``±inf`` for a free side;
        ``lower == upper`` for an equality).

    Returns
    -------
    SizingProblem
        The new ``model.problem`` (blocks holding changed rows are rebuilt, the
        others are shared).

    Raises
    ------
    ValueError
        Unknown row name or invalid bounds (``lower > upper``, NaN), as raised by
        :class:`~optimizer.solve.problem.LinearBlock`; the model is left unchanged.
    """
    problem = model.problem
    index = problem.row_index
    unknown = [r for r in bounds if r not in index]
    if unknown:
        raise ValueError(f"set_row_bounds: unknown row(s) {unknown}")
    blocks = []
    for b in problem.blocks:
        hits = [(i, bounds[r]) for i, r in enumerate(b.row_names) if r in bounds]
        if hits:
            lo, up = np.array(b.lower), np.array(b.upper)
            for i, (new_lo, new_up) in hits:
                lo[i], up[i] = float(new_lo), float(new_up)
            b = LinearBlock(b.name, b.family, b.terms, lo, up, b.row_names)
        blocks.append(b)
    new = SizingProblem(problem.variables, tuple(blocks), problem.objective)
    _retarget(model, new, coefficients=False)
    return new


def set_objective(model: HighsModel, objective: Objective) -> SizingProblem:
    """Replace the objective (costs, sense and constant).

    Parameters
    ----------
    model : HighsModel
        Compiled model; modified in place.
    objective : Objective
        New objective over the model's variable groups.

    Returns
    -------
    SizingProblem
        The new ``model.problem`` (``problem.with_objective(objective)``).

    Raises
    ------
    ValueError
        If ``objective`` names unknown groups or has wrong shapes.
    """
    new = model.problem.with_objective(objective)
    _retarget(model, new, coefficients=False)
    return new


# --------------------------------------------------------------------------------------
# solve
# --------------------------------------------------------------------------------------


#: HiGHS' default ``mip_max_nodes`` (no limit); set explicitly since a model may be re-solved.
_NO_NODE_LIMIT = 2**31 - 1


def _apply_options(h: highspy.Highs, options: SolverOptions, mip: bool = True) -> None:
    if options.threads is not None and options.threads > MAX_THREADS:
        raise HighsBackendError(
            f"threads={options.threads} exceeds MAX_THREADS={MAX_THREADS} (HiGHS would abort "
            "the process if it cannot start that many worker threads)"
        )
    settings: tuple[tuple[str, bool | int | float], ...] = (
        ("output_flag", bool(options.verbose)),
        ("time_limit", float(options.time_limit)),
        ("mip_rel_gap", float(options.mip_rel_gap)),
        ("threads", 0 if options.threads is None else int(options.threads)),
        ("mip_max_nodes", _NO_NODE_LIMIT if options.node_limit is None else options.node_limit),
    )
    if mip:  # MILP-only settings; an LP keeps HiGHS' (or the model's own) choices
        settings += (
            ("presolve", "choose" if options.presolve else "off"),
            *HIGHS_MIP_SETTINGS.items(),
        )
    for name, value in settings:
        _check(h.setOptionValue(name, value), f"option {name}={value!r}")


def _run(h: highspy.Highs, options: SolverOptions) -> highspy.HighsStatus:
    status = h.run()
    if status == highspy.HighsStatus.kError and options.threads is not None:
        # Most likely the process-wide scheduler runs another thread count, which
        # HiGHS refuses before solving; restart it with ours and retry once.
        highspy.Highs.resetGlobalScheduler(True)
        status = h.run()
    return status


def solve_compiled(model: HighsModel, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Solve a compiled model with HiGHS.

    Parameters
    ----------
    model : HighsModel
        From :func:`compile_problem`; may be solved several times, with changes in
        between (:func:`update`, :func:`set_row_bounds`, :func:`set_objective`).
    options : SolverOptions
        Limits and tolerances, applied to this run.

    Returns
    -------
    SolveOutcome
        ``backend="highs"``.  Never raises on solver trouble (ERROR with the
        message instead).
    """
    problem, h = model.problem, model.highs
    t0 = time.perf_counter()
    try:
        _apply_options(h, options, problem.is_mip)
        t0 = time.perf_counter()
        run_status = _run(h, options)
        solve_seconds = time.perf_counter() - t0
        model_status = h.getModelStatus()
        info = h.getInfo()
        solution = h.getSolution()
    except _SOLVER_ERRORS as exc:
        return failed_outcome(
            backend=BACKEND_NAME,
            message=f"{type(exc).__name__}: {exc}",
            compile_seconds=model.compile_seconds,
            solve_seconds=time.perf_counter() - t0,
        )

    has_incumbent = int(info.primal_solution_status) == _SOLUTION_FEASIBLE
    status = map_highs_status(model_status.name, has_incumbent)
    message = (
        f"HiGHS model status {model_status.name} ({h.modelStatusToString(model_status)}); "
        f"run status {run_status.name}"
    )
    if run_status == highspy.HighsStatus.kError:
        status = SolveStatus.ERROR

    best_bound = mip_gap = None
    if problem.is_mip:
        dual_bound = float(info.mip_dual_bound)
        if math.isfinite(dual_bound):
            best_bound = dual_bound
        if has_incumbent:
            # the package's gap (0 when an optimum of 0 meets its bound within 1e-12, where
            # HiGHS' own mip_gap says inf); HiGHS' value without a finite bound
            obj = float(info.objective_function_value)
            if math.isfinite(obj) and math.isfinite(dual_bound):
                mip_gap = relative_gap(obj, dual_bound)
            else:
                gap = float(info.mip_gap)
                mip_gap = None if math.isnan(gap) else gap

    raw_values = None
    row_duals = None
    if status.has_solution:
        if not solution.value_valid:
            status = SolveStatus.ERROR
            message += "; HiGHS returned no primal values"
        else:
            x = np.asarray(solution.col_value, dtype=float)
            raw_values = {name: x[cols] for name, cols in model.columns.items()}
            if not problem.is_mip and status is SolveStatus.OPTIMAL and solution.dual_valid:
                row_duals = np.asarray(solution.row_dual, dtype=float).reshape(problem.n_rows)
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
        limit=highs_limit(model_status.name),
    )


def solve(problem: SizingProblem, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Compile and solve ``problem`` with highspy (see module docstring)."""
    t0 = time.perf_counter()
    try:
        model = compile_problem(problem)
    except _SOLVER_ERRORS as exc:
        return failed_outcome(
            backend=BACKEND_NAME,
            message=f"{type(exc).__name__}: {exc}",
            compile_seconds=time.perf_counter() - t0,
        )
    return solve_compiled(model, options)
