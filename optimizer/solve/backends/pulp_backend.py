"""PuLP + CBC backend, and ``.lp`` / ``.mps`` export.

Compilation: one ``LpVariable`` per element (category Binary for BINARY groups
with bounds ``[0, 1]``, Integer for other INTEGER/BINARY groups, Continuous
otherwise; infinite bounds become PuLP's ``None``).  Every row becomes a named
constraint: an equality for ``lower == upper``, one ``<=`` or ``>=`` constraint for
a one-sided row, and two constraints (``<name>_lo``, ``<name>_up``) for a
two-sided row; free rows are skipped.  Names are sanitised to ``[A-Za-z0-9_]``
(at most 100 characters, never starting with a digit) and made unique; the model
keeps the map back to the row names.

Solve: CBC through ``pulp.COIN_CMD`` pointed at the CBC binary bundled with PuLP (the same
binary ``PULP_CBC_CMD`` uses; a known CBC 2.10.3 preprocessing defect is described in
:func:`_cbc_path`) or, if absent, ``cbc`` on ``PATH``; options ``timeLimit`` (CBC ``-sec``,
elapsed time, ``timeMode elapsed``), ``gapRel`` (``-ratio``), ``threads``.
``solve_seconds`` covers the whole ``LpProblem.solve`` call: writing the MPS file,
spawning CBC and reading the solution.

Status: :func:`optimizer.solve.status.map_pulp_status` on ``(lp.status, lp.sol_status)``.
CBC 2.10.3 reports "Integer infeasible" (PuLP: ``(-1, 0)``) both for a proof and when
its preprocessing runs out of time before its first pass (``CglPreProcess`` then
returns no model and CBC logs "Pre-processing says infeasible or unbounded", exactly as
after a preprocessing proof, and no "Result -" line).  The claim is therefore accepted as
INFEASIBLE only when the run provably ended before the time limit: the wall time of
the ``LpProblem.solve`` call, or CBC's own "Total time ... (Wallclock seconds)" line
(plus :data:`_WALL_SLACK` for its two-decimal rounding), is below ``time_limit``, and
CBC did not log a time-limit stop.  Otherwise the outcome is NO_SOLUTION.  A
time-limit stop with an incumbent is PuLP ``(1, 2)``, i.e. FEASIBLE.

Gap: PuLP does not expose CBC's best bound, so the CBC log is written to a temporary
file and parsed for the best bound ("Lower bound:" / "Upper bound:", printed when a
limit stops the search) and the incumbent ("Objective value:"); ``mip_gap`` is
recomputed from these with HiGHS' definition (:func:`optimizer.solve.status.relative_gap`).
A FEASIBLE run whose log has no bound line falls back on the root LP relaxation
("Continuous objective value is ...", printed in the user's sense), a valid but
weaker bound.  When CBC stops on the gap tolerance it prints only the absolute gap
("Exiting as integer gap of G"); the bound is then ``incumbent ± G`` (a valid,
possibly slightly loose bound).  After a completed search the bound is the
incumbent (gap 0).

Duals (LP only): CBC's row duals (``LpConstraint.pi``) are already
``d f* / d rhs`` for both objective senses (PuLP passes ``-max`` to CBC); the two
halves of a two-sided row are summed.  Reduced costs are recomputed from the
duals (``c - A^T y``) so every backend shares one convention.

The objective constant is left out of the PuLP model (CBC's log ignores it) and
added back to the reported objective and bound; exported files omit it too.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pulp
import scipy.sparse as sp
from pulp.apis.coin_api import PULP_CBC_CMD

from optimizer.solve.backends import failed_outcome, solution_outcome
from optimizer.solve.problem import ObjectiveSense, SizingProblem, VarKind
from optimizer.solve.status import (
    SolveOutcome,
    SolverOptions,
    SolveStatus,
    map_pulp_status,
    relative_gap,
)

__all__ = [
    "BACKEND_NAME",
    "PulpModel",
    "compile_problem",
    "solve",
    "solve_compiled",
    "write_lp",
    "write_mps",
]

BACKEND_NAME = "pulp-cbc"
_MAX_NAME = 100
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_]+")
_RE_RESULT = re.compile(r"^Result - (.+?)\s*$", re.MULTILINE)
_RE_OBJECTIVE = re.compile(r"^Objective value:\s+(\S+)", re.MULTILINE)
_RE_BOUND = re.compile(r"^(?:Lower|Upper) bound:\s+(\S+)", re.MULTILINE)
_RE_GAP_EXIT = re.compile(r"Exiting as integer gap of\s+(\S+)")
_RE_LP_RESULT = re.compile(
    r"^((?:Optimal|Infeasible|Primal infeasible|Dual infeasible|Unbounded|Stopped)\b.*?)\s*$",
    re.MULTILINE,
)
_RE_CONTINUOUS = re.compile(r"^Continuous objective value is\s+(\S+)", re.MULTILINE)
_RE_TOTAL_WALL = re.compile(
    r"^Total time \(CPU seconds\):\s+\S+\s+\(Wallclock seconds\):\s+(\S+)", re.MULTILINE
)
_RE_TIME_STOP = re.compile(r"^Result - Stopped on time|Exiting on maximum time", re.MULTILINE)
#: Margin (seconds) added to CBC's "Total time ... (Wallclock seconds)" before comparing it
#: with the time limit: the value is printed with two decimals (0.005 s), and the clock behind
#: ``-sec`` starts no earlier than a few statements before the one behind that line.
_WALL_SLACK = 0.01

#: Exceptions that mean "the solver failed", mapped to SolveStatus.ERROR.
_SOLVER_ERRORS = (pulp.PulpError, OSError, ValueError, IndexError)

logger = logging.getLogger(__name__)


class _NameAllocator:
    """Sanitise names to ``[A-Za-z0-9_]`` and keep them unique."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def __call__(self, raw: str) -> str:
        base = _BAD_CHARS.sub("_", raw).strip("_") or "x"
        if not (base[0].isalpha() or base[0] == "_"):
            base = "_" + base
        base = base[: _MAX_NAME - 8]
        name, k = base, 1
        while name in self._used:
            k += 1
            name = f"{base}__{k}"
        self._used.add(name)
        return name


@dataclass(frozen=True, eq=False)
class PulpModel:
    """A compiled PuLP model.

    Attributes
    ----------
    problem : SizingProblem
        The source problem.
    lp : pulp.LpProblem
        The PuLP model (objective without the constant).
    variables : Mapping of str to tuple of pulp.LpVariable
        Group name -> one variable per element, in element order.
    row_constraints : tuple of (int, str)
        (row index into ``problem.row_names``, PuLP constraint name) for every
        constraint; a two-sided row has two entries.
    compile_seconds : float
        Wall time to build the model, seconds.
    """

    problem: SizingProblem
    lp: pulp.LpProblem
    variables: Mapping[str, tuple[pulp.LpVariable, ...]]
    row_constraints: tuple[tuple[int, str], ...]
    compile_seconds: float


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def compile_problem(problem: SizingProblem) -> PulpModel:
    """Build the PuLP model of ``problem`` (see module docstring for naming).

    Parameters
    ----------
    problem : SizingProblem
        Problem to compile.

    Returns
    -------
    PulpModel
    """
    t0 = time.perf_counter()
    sense = (
        pulp.LpMaximize if problem.objective.sense is ObjectiveSense.MAXIMIZE else pulp.LpMinimize
    )
    lp = pulp.LpProblem(_NameAllocator()(problem.objective.name), sense)

    var_names = _NameAllocator()
    variables: dict[str, tuple[pulp.LpVariable, ...]] = {}
    for g in problem.variables:
        if g.kind is VarKind.CONTINUOUS:
            cat = pulp.LpContinuous
        elif g.kind is VarKind.BINARY and np.all(g.lower == 0) and np.all(g.upper == 1):
            cat = pulp.LpBinary
        else:
            cat = pulp.LpInteger
        group_vars = []
        for label, lo, up in zip(g.labels, g.lower.tolist(), g.upper.tolist(), strict=True):
            raw = label if label.startswith(g.name) else f"{g.name}_{label}"
            group_vars.append(
                lp.add_variable(var_names(raw), _finite_or_none(lo), _finite_or_none(up), cat=cat)
            )
        variables[g.name] = tuple(group_vars)

    # Objective: every variable appears (zero cost if absent) so that unused columns
    # are still part of the model and receive values.
    obj_terms: list[tuple[pulp.LpVariable, float]] = []
    for g in problem.variables:
        obj_terms.extend(
            zip(variables[g.name], problem.objective_vector(g.name).tolist(), strict=True)
        )
    lp.setObjective(pulp.LpAffineExpression(obj_terms))

    all_vars = [v for g in problem.variables for v in variables[g.name]]
    row_constraints: list[tuple[int, str]] = []
    if problem.n_rows:
        stacked = sp.csr_array(
            sp.hstack([problem.matrix(g.name) for g in problem.variables], format="csr")
        )
        indptr, indices, data = stacked.indptr, stacked.indices, stacked.data
        con_names = _NameAllocator()
        lower, upper = problem.row_lower.tolist(), problem.row_upper.tolist()
        for r, row_name in enumerate(problem.row_names):
            lo, up = lower[r], upper[r]
            lo_finite, up_finite = math.isfinite(lo), math.isfinite(up)
            if not (lo_finite or up_finite):
                continue
            start, end = indptr[r], indptr[r + 1]
            terms = list(
                zip(
                    [all_vars[j] for j in indices[start:end]], data[start:end].tolist(), strict=True
                )
            )
            if lo_finite and up_finite and lo == up:
                parts = [(pulp.LpConstraintEQ, lo, row_name)]
            elif lo_finite and up_finite:
                parts = [
                    (pulp.LpConstraintGE, lo, f"{row_name}_lo"),
                    (pulp.LpConstraintLE, up, f"{row_name}_up"),
                ]
            elif up_finite:
                parts = [(pulp.LpConstraintLE, up, row_name)]
            else:
                parts = [(pulp.LpConstraintGE, lo, row_name)]
            for con_sense, rhs, raw_name in parts:
                cname = con_names(raw_name)
                lp.addConstraint(
                    pulp.LpConstraint(
                        pulp.LpAffineExpression(terms), sense=con_sense, rhs=rhs, name=cname
                    )
                )
                row_constraints.append((r, cname))
    return PulpModel(
        problem=problem,
        lp=lp,
        variables=MappingProxyType(variables),
        row_constraints=tuple(row_constraints),
        compile_seconds=time.perf_counter() - t0,
    )


def _cbc_path() -> str | None:
    """Path of the CBC binary: PuLP's bundled one, else ``cbc`` on PATH.

    Known defect: PuLP 3.3 bundles CBC 2.10.3 (2019), whose preprocessing can return a wrong
    "optimal" answer on small binary problems (min x1 + 2 x2 subject to 1 <= 2 x1 + x2 <= 2
    gives 2 instead of 1); switching preprocessing off crashes it on some integer-infeasible
    problems, and the current CBC (cbcbox) rejects PuLP's ``max`` argument. The cvxpy and highs
    backends are not affected; see tests/optimizer/test_backends.py.
    """
    bundled = PULP_CBC_CMD.pulp_cbc_path
    if bundled and os.path.isfile(bundled) and os.access(bundled, os.X_OK):
        return bundled
    return shutil.which("cbc")


def _parse_float(match: re.Match[str] | None) -> float | None:
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def _limit_possibly_reached(log_text: str, solve_seconds: float, time_limit: float) -> bool:
    """Whether CBC may have stopped on its time limit; False only when it provably did not.

    Both ``solve_seconds`` (the whole ``LpProblem.solve`` call, which contains CBC's run)
    and CBC's own total wall time (``_RE_TOTAL_WALL``, plus :data:`_WALL_SLACK`) are
    upper bounds on the time CBC measures against ``-sec``; one of them below the limit
    proves the limit was not reached.
    """
    if _RE_TIME_STOP.search(log_text):
        return True
    if solve_seconds < time_limit:
        return False
    wall = _parse_float(_last(_RE_TOTAL_WALL, log_text))
    return not (wall is not None and wall + _WALL_SLACK < time_limit)


def _stopped_by(result_line: str, limit_possibly_reached: bool) -> str | None:
    """:attr:`~optimizer.solve.status.SolveOutcome.limit` from CBC's result line.

    ``Stopped on node limit`` -> ``"nodes"``, ``Stopped on time limit`` -> ``"time"``, any
    other ``Stopped`` -> ``"other"``; a claim that the time limit may have cut short
    (:func:`_limit_possibly_reached`) -> ``"time"``.
    """
    if result_line.startswith("Stopped"):
        return "nodes" if "node" in result_line else "time" if "time" in result_line else "other"
    return "time" if limit_possibly_reached and not result_line.startswith("Optimal") else None


def _row_duals(model: PulpModel) -> np.ndarray | None:
    y = np.zeros(model.problem.n_rows)
    for row, cname in model.row_constraints:
        con = model.lp.get_constraint_by_name(cname)
        if con is None or con.pi is None:
            return None
        y[row] += float(con.pi)
    return y


def solve_compiled(model: PulpModel, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Solve a compiled model with CBC.

    Parameters
    ----------
    model : PulpModel
        From :func:`compile_problem`.
    options : SolverOptions
        Limits and tolerances.

    Returns
    -------
    SolveOutcome
        Never raises on solver trouble (ERROR with the exception text instead).
    """
    problem, lp = model.problem, model.lp
    path = _cbc_path()
    if path is None:
        return failed_outcome(
            backend=BACKEND_NAME,
            message="CBC binary not found (neither PuLP's bundled cbc nor cbc on PATH)",
            compile_seconds=model.compile_seconds,
        )
    with tempfile.TemporaryDirectory(prefix="thetaplan_cbc_") as tmp:
        log_path = Path(tmp) / "cbc.log"
        solver = pulp.COIN_CMD(
            path=path,
            msg=False,
            timeLimit=float(options.time_limit),
            gapRel=float(options.mip_rel_gap),
            threads=options.threads,
            logPath=str(log_path),
            timeMode="elapsed",
            maxNodes=options.node_limit,
        )
        t0 = time.perf_counter()
        try:
            lp.solve(solver)
        except _SOLVER_ERRORS as exc:
            return failed_outcome(
                backend=BACKEND_NAME,
                message=f"{type(exc).__name__}: {exc}",
                compile_seconds=model.compile_seconds,
                solve_seconds=time.perf_counter() - t0,
            )
        solve_seconds = time.perf_counter() - t0
        log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if options.verbose and log_text:
        logger.info("CBC log:\n%s", log_text)

    limit_possibly_reached = _limit_possibly_reached(
        log_text, solve_seconds, float(options.time_limit)
    )
    status = map_pulp_status(
        lp.status, lp.sol_status, limit_possibly_reached=limit_possibly_reached
    )
    result = _last(_RE_RESULT, log_text) or _last(_RE_LP_RESULT, log_text)
    limit = _stopped_by(result.group(1) if result else "", limit_possibly_reached)
    message = (
        f"PuLP status {pulp.LpStatus.get(lp.status, lp.status)!r}, sol_status {lp.sol_status}; "
        f"CBC: {result.group(1) if result else 'no result line'}"
    )
    if status is SolveStatus.NO_SOLUTION and lp.status in (
        pulp.LpStatusInfeasible,
        pulp.LpStatusUnbounded,
    ):
        message += (
            f"; CBC's {pulp.LpStatus[lp.status].lower()} claim is not a proof: the "
            f"{options.time_limit:g} s time limit may have stopped the run "
            "(a preprocessing time-out is reported as infeasible)"
        )

    best_bound = mip_gap = None
    if problem.is_mip:
        log_objective = _parse_float(_last(_RE_OBJECTIVE, log_text))
        if log_objective is None and status.has_solution:
            log_objective = pulp.value(lp.objective)  # without the constant, like the log
        log_bound = _parse_float(_last(_RE_BOUND, log_text))
        if log_bound is None and status is SolveStatus.FEASIBLE:
            # No bound line: the root LP relaxation is a valid (weaker) bound.
            log_bound = _parse_float(_last(_RE_CONTINUOUS, log_text))
        if log_bound is None and status is SolveStatus.OPTIMAL and log_objective is not None:
            # Stopped on the gap tolerance: CBC prints the absolute gap it stopped at.
            abs_gap = _parse_float(_last(_RE_GAP_EXIT, log_text)) or 0.0
            log_bound = log_objective + problem.objective.sign * abs(abs_gap)
        if log_bound is not None and math.isfinite(log_bound):
            best_bound = log_bound + problem.objective.constant
        if status.has_solution and log_objective is not None and log_bound is not None:
            mip_gap = relative_gap(log_objective, log_bound)

    raw_values = None
    row_duals = None
    if status.has_solution:
        raw_values = {}
        for name, group_vars in model.variables.items():
            vals = [v.varValue for v in group_vars]
            if any(v is None for v in vals):
                status = SolveStatus.ERROR
                message += f"; no value returned for group {name!r}"
                raw_values = None
                break
            raw_values[name] = np.array(vals, dtype=float)
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
        limit=limit,
    )


def solve(problem: SizingProblem, options: SolverOptions = SolverOptions()) -> SolveOutcome:  # noqa: B008
    """Compile and solve ``problem`` with PuLP + CBC (see module docstring)."""
    return solve_compiled(compile_problem(problem), options)


def write_lp(problem: SizingProblem, path: str | PathLike[str]) -> None:
    """Write ``problem`` as a CPLEX-LP file.

    Parameters
    ----------
    problem : SizingProblem
        Problem to export.
    path : str or PathLike
        Destination file.  Names are sanitised (see module docstring); the
        objective constant is not written.
    """
    compile_problem(problem).lp.writeLP(os.fspath(path))


def write_mps(problem: SizingProblem, path: str | PathLike[str]) -> None:
    """Write ``problem`` as a free-format MPS file with an ``OBJSENSE`` section.

    Parameters
    ----------
    problem : SizingProblem
        Problem to export.
    path : str or PathLike
        Destination file.  Names are sanitised; the objective constant is not
        written.
    """
    compile_problem(problem).lp.writeMPS(os.fspath(path), with_objsense=True)
