"""Solver-neutral solve status, options and outcome.

This module is the **one place** where backend statuses are translated into
:class:`SolveStatus`: :data:`CVXPY_STATUS_MAP` (cvxpy status strings, used with
HiGHS), :data:`PULP_STATUS_MAP` (PuLP ``(LpStatus, sol_status)`` integer pairs,
used with CBC) and :data:`HIGHS_STATUS_MAP` (``highspy.HighsModelStatus`` member
names, used by the direct highspy backend).  The maps are written with the
backends' literal values so that importing this module never imports a solver;
the tests check them against ``cvxpy.settings``, ``pulp.constants`` and
``highspy.HighsModelStatus``.

Dual and reduced-cost sign convention
-------------------------------------
For a row ``lower <= a @ x <= upper`` the reported dual is the derivative of the
optimal objective value with respect to the *binding* bound, in objective units
per row unit:

* upper bound binding: ``d f* / d upper`` (>= 0 for a maximisation: relaxing a cap
  can only help; <= 0 for a minimisation);
* lower bound binding: ``d f* / d lower`` (<= 0 for a maximisation: tightening a
  floor can only hurt; >= 0 for a minimisation);
* equality row (``lower == upper``): ``d f* / d rhs``;
* non-binding row: 0.

Reduced costs follow the same rule for variable bounds:
``reduced_costs[g][j] = d f* / d (binding bound of x_g[j])`` which equals
``c_g[j] - sum_r dual_r * A_r,g[j]``.  The convention is identical for every
backend and for both objective senses, and is verified by finite differences in
the test-suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = [
    "Backend",
    "Fallback",
    "FallbackStep",
    "LIMIT_STEPS",
    "CVXPY_STATUS_MAP",
    "HIGHS_STATUS_MAP",
    "PULP_STATUS_MAP",
    "SolveOutcome",
    "SolveStatus",
    "SolverOptions",
    "map_cvxpy_status",
    "map_highs_status",
    "map_pulp_status",
    "relative_gap",
    "highs_limit",
    "HIGHS_LIMITS",
    "HIGHS_MIP_SETTINGS",
]


class SolveStatus(StrEnum):
    """Outcome class of a solve, identical for every backend.

    Attributes
    ----------
    OPTIMAL
        Proven optimal (for a MIP: within ``SolverOptions.mip_rel_gap``).
    FEASIBLE
        A limit (time, iterations, nodes) was reached with an incumbent; the
        returned values are feasible but not proven optimal (see ``mip_gap``).
    INFEASIBLE
        Proven infeasible.
    UNBOUNDED
        Proven unbounded.
    INFEASIBLE_OR_UNBOUNDED
        The solver proved one of the two without telling which (typical for MIP
        presolve); re-solve the LP relaxation to tell them apart.
    NO_SOLUTION
        A limit was reached before any feasible point was found (neither a point
        nor a proof of infeasibility; includes an infeasibility claim the solver
        made after its time limit may have cut the run short).
    ERROR
        Numerical trouble or a solver failure; ``SolveOutcome.message`` has the
        solver's text (or the exception text).
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    NO_SOLUTION = "no_solution"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        """True when the outcome carries a feasible point (OPTIMAL or FEASIBLE)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


# --------------------------------------------------------------------------------------
# Backend status maps: the ONE place where backend statuses become SolveStatus.
# --------------------------------------------------------------------------------------

#: cvxpy status string (``cvxpy.settings``) -> SolveStatus.  ``user_limit`` means a
#: HiGHS limit was hit (``kTimeLimit``, ``kIterationLimit``, ``kSolutionLimit``,
#: ``kObjectiveBound``, ``kObjectiveTarget``); :func:`map_cvxpy_status` splits it into
#: FEASIBLE / NO_SOLUTION by whether HiGHS holds a feasible incumbent.  "Inaccurate"
#: infeasible/unbounded claims are numerical trouble, hence ERROR; an inaccurate
#: optimum is a point that is not certified optimal, hence FEASIBLE.
CVXPY_STATUS_MAP: dict[str, SolveStatus] = {
    "optimal": SolveStatus.OPTIMAL,
    "optimal_inaccurate": SolveStatus.FEASIBLE,
    "user_limit": SolveStatus.FEASIBLE,
    "infeasible": SolveStatus.INFEASIBLE,
    "infeasible_inaccurate": SolveStatus.ERROR,
    "unbounded": SolveStatus.UNBOUNDED,
    "unbounded_inaccurate": SolveStatus.ERROR,
    "infeasible_or_unbounded": SolveStatus.INFEASIBLE_OR_UNBOUNDED,
    "solver_error": SolveStatus.ERROR,
}

#: PuLP ``(LpProblem.status, LpProblem.sol_status)`` -> SolveStatus.
#: ``LpStatus``: 1 Optimal, 0 Not Solved, -1 Infeasible, -2 Unbounded, -3 Undefined.
#: ``sol_status`` (``LpSolution``): 1 "Optimal Solution Found", 2 "Solution Found"
#: (IntegerFeasible: an incumbent, optimality not proven), 0 "No Solution Found",
#: -1 "No Solution Exists", -2 "Solution is Unbounded".  PuLP's CBC reader
#: (``COIN_CMD.get_status``) reads the first word of CBC's solution-file header (for
#: "Stopped", also whether the fifth word is "objective", i.e. an incumbent exists):
#:
#: * ``Optimal ...`` -> (1, 1);
#: * ``Stopped on time - objective value ...`` (incumbent) -> (1, 2);
#: * ``Stopped on time (no integer solution - continuous used) ...`` -> (0, 0);
#: * ``Infeasible ...`` (Clp proved the LP relaxation infeasible) -> (-1, -1);
#: * ``Integer infeasible ...`` -> (-1, 0);
#: * ``Unbounded ...`` -> (-2, -2);
#: * ``Status unknown ...`` -> (-3, 0), which is not listed, hence ERROR.
#:
#: (-1, 0) and (-2, 0) claim a certificate that ``sol_status`` does not confirm ("No
#: Solution Found", not "No Solution Exists").  CBC 2.10.3 writes "Integer infeasible"
#: both for a real proof (preprocessing or a completed search found no integer point)
#: and when preprocessing (``CglPreProcess``) runs out of time before its first pass:
#: it then returns no model, logs "Pre-processing says infeasible or unbounded" and
#: the run looks exactly like a proof.  The table lists the claim; :func:`map_pulp_status`
#: turns these two pairs into NO_SOLUTION unless the caller knows the run ended before
#: its time limit.  Pairs not listed (e.g. (-3, 0), or (0, -1) which PuLP's
#: ``LpStatusToSolution`` default produces) map to ERROR.
PULP_STATUS_MAP: dict[tuple[int, int], SolveStatus] = {
    (1, 1): SolveStatus.OPTIMAL,
    (1, 2): SolveStatus.FEASIBLE,
    (0, 2): SolveStatus.FEASIBLE,
    (0, 0): SolveStatus.NO_SOLUTION,
    (-1, -1): SolveStatus.INFEASIBLE,
    (-1, 0): SolveStatus.INFEASIBLE,
    (-2, -2): SolveStatus.UNBOUNDED,
    (-2, 0): SolveStatus.UNBOUNDED,
}

#: Pairs whose infeasible / unbounded claim ``sol_status`` does not confirm
#: (``LpSolutionNoSolutionFound``): trusted only when no time limit stopped the run.
_PULP_UNCONFIRMED_CLAIMS = frozenset({(-1, 0), (-2, 0)})


def map_cvxpy_status(status: str | None, has_incumbent: bool) -> SolveStatus:
    """Translate a cvxpy status string into a :class:`SolveStatus`.

    Parameters
    ----------
    status : str or None
        ``cvxpy.Problem.status`` after the solve.
    has_incumbent : bool
        Whether the solver holds a feasible primal point (HiGHS
        ``info.primal_solution_status == 2``).  Splits limit statuses into
        FEASIBLE (incumbent) and NO_SOLUTION (none).

    Returns
    -------
    SolveStatus
        ERROR for unknown strings.
    """
    mapped = CVXPY_STATUS_MAP.get(status or "", SolveStatus.ERROR)
    if mapped is SolveStatus.FEASIBLE and not has_incumbent:
        return SolveStatus.NO_SOLUTION
    if mapped is SolveStatus.OPTIMAL and not has_incumbent:
        # cvxpy said optimal but no primal point is available: inconsistent.
        return SolveStatus.ERROR
    return mapped


#: ``highspy.HighsModelStatus`` member name -> SolveStatus (direct highspy backend).
#: Limit statuses (time, iterations, solution count, objective bound / target, memory,
#: interrupts) are listed as FEASIBLE; :func:`map_highs_status` turns them into
#: NO_SOLUTION when HiGHS holds no feasible primal point
#: (``info.primal_solution_status != kSolutionStatusFeasible``).  ``kModelEmpty`` (no
#: columns) is trivially optimal.  Load / model / presolve / solve / postsolve errors,
#: ``kNotset`` (the run never started, e.g. rejected options) and ``kUnknown`` (the
#: solver stopped without a certificate either way) are ERROR.  Names not listed map
#: to ERROR.
HIGHS_STATUS_MAP: dict[str, SolveStatus] = {
    "kNotset": SolveStatus.ERROR,
    "kLoadError": SolveStatus.ERROR,
    "kModelError": SolveStatus.ERROR,
    "kPresolveError": SolveStatus.ERROR,
    "kSolveError": SolveStatus.ERROR,
    "kPostsolveError": SolveStatus.ERROR,
    "kModelEmpty": SolveStatus.OPTIMAL,
    "kOptimal": SolveStatus.OPTIMAL,
    "kInfeasible": SolveStatus.INFEASIBLE,
    "kUnboundedOrInfeasible": SolveStatus.INFEASIBLE_OR_UNBOUNDED,
    "kUnbounded": SolveStatus.UNBOUNDED,
    "kObjectiveBound": SolveStatus.FEASIBLE,
    "kObjectiveTarget": SolveStatus.FEASIBLE,
    "kTimeLimit": SolveStatus.FEASIBLE,
    "kIterationLimit": SolveStatus.FEASIBLE,
    "kUnknown": SolveStatus.ERROR,
    "kSolutionLimit": SolveStatus.FEASIBLE,
    "kInterrupt": SolveStatus.FEASIBLE,
    "kMemoryLimit": SolveStatus.FEASIBLE,
    "kHighsInterrupt": SolveStatus.FEASIBLE,
}


def map_highs_status(model_status: str, has_incumbent: bool) -> SolveStatus:
    """Translate a HiGHS model status name into a :class:`SolveStatus`.

    Parameters
    ----------
    model_status : str
        ``Highs.getModelStatus().name``, e.g. ``"kTimeLimit"``.
    has_incumbent : bool
        Whether HiGHS holds a feasible primal point
        (``info.primal_solution_status == 2``, ``kSolutionStatusFeasible``).
        Splits limit statuses into FEASIBLE (incumbent) and NO_SOLUTION (none).

    Returns
    -------
    SolveStatus
        ERROR for names not in :data:`HIGHS_STATUS_MAP`, and for ``kOptimal``
        without a primal point (inconsistent solver state).
    """
    mapped = HIGHS_STATUS_MAP.get(model_status, SolveStatus.ERROR)
    if mapped is SolveStatus.FEASIBLE and not has_incumbent:
        return SolveStatus.NO_SOLUTION
    if mapped is SolveStatus.OPTIMAL and not has_incumbent:
        return SolveStatus.ERROR
    return mapped


#: HiGHS options every HiGHS-based backend sets (besides :class:`SolverOptions`).
#: ``mip_pscost_minreliable = 0``: branch on pseudo-costs from the first node instead of
#: initialising them by strong branching (HiGHS' default, 8 observations). Measured on the
#: sizing MILPs: the same optima in the same or 1.1x the CPU where the search closes, and 20x
#: fewer CPU-seconds per node where it cannot (a 1,004-candidate max-theta book: 200 nodes in
#: 3.3 CPU-s instead of 71), so a node budget bounds the work.
#: ``mip_heuristic_run_root_reduced_cost = False``: the root reduced-cost heuristic spent 37-40%
#: of the elastic (minimal-relaxation) MILP, whose counts have no cap-derived bound (phase 4:
#: 3.5 -> 2.3 CPU-s; 1,004 candidates: 13.4 -> 8.1), for an incumbent the search finds anyway.
HIGHS_MIP_SETTINGS: dict[str, int | bool] = {
    "mip_pscost_minreliable": 0,
    "mip_heuristic_run_root_reduced_cost": False,
}

#: HiGHS model status name of a stop at a limit -> :attr:`SolveOutcome.limit`.
HIGHS_LIMITS: dict[str, str] = {
    "kSolutionLimit": "nodes",  # mip_max_nodes (also mip_max_leaves / improving solutions)
    "kTimeLimit": "time",
    "kIterationLimit": "other",
    "kInterrupt": "other",
    "kHighsInterrupt": "other",
    "kMemoryLimit": "other",
    "kObjectiveBound": "other",
    "kObjectiveTarget": "other",
}


def highs_limit(model_status: str) -> str | None:
    """:attr:`SolveOutcome.limit` of a HiGHS model status name (None: not stopped by a limit)."""
    return HIGHS_LIMITS.get(model_status)


def map_pulp_status(
    status: int, sol_status: int, *, limit_possibly_reached: bool = True
) -> SolveStatus:
    """Translate PuLP's ``(status, sol_status)`` pair into a :class:`SolveStatus`.

    The decision uses both codes: ``sol_status`` says whether a point exists and
    whether infeasibility / unboundedness is certified; ``status`` alone is not
    enough because PuLP's CBC reader reports a time-limited preprocessing stop as
    ``LpStatusInfeasible`` (see :data:`PULP_STATUS_MAP`).

    Parameters
    ----------
    status : int
        ``pulp.LpProblem.status`` (``pulp.constants.LpStatus*``).
    sol_status : int
        ``pulp.LpProblem.sol_status`` (``pulp.constants.LpSolution*``).
    limit_possibly_reached : bool, default True
        Whether the solver may have stopped on its time limit.  Pass False only when
        the run provably ended before the limit (wall time below the limit); only
        then is an infeasible / unbounded status with ``sol_status``
        ``LpSolutionNoSolutionFound`` (0) accepted as a proof.  True, the
        conservative default, turns such pairs into NO_SOLUTION.

    Returns
    -------
    SolveStatus
        ERROR for pairs not in :data:`PULP_STATUS_MAP`; NO_SOLUTION for (-1, 0) and
        (-2, 0) when ``limit_possibly_reached``.
    """
    pair = (int(status), int(sol_status))
    if pair in _PULP_UNCONFIRMED_CLAIMS and limit_possibly_reached:
        return SolveStatus.NO_SOLUTION
    return PULP_STATUS_MAP.get(pair, SolveStatus.ERROR)


def relative_gap(objective: float, bound: float) -> float:
    """Relative MIP gap ``|objective - bound| / |objective|`` (HiGHS' definition).

    Parameters
    ----------
    objective : float
        Incumbent objective value (objective units).
    bound : float
        Best proven bound on the optimum (objective units).

    Returns
    -------
    float
        Dimensionless gap; ``0`` when both are zero, ``inf`` when the incumbent is
        zero but the bound is not, or when the bound is infinite.
    """
    if not math.isfinite(bound):
        return math.inf
    diff = abs(objective - bound)
    if abs(objective) <= 1e-12:
        return 0.0 if diff <= 1e-12 else math.inf
    return diff / abs(objective)


@dataclass(frozen=True)
class SolverOptions:
    """Limits and tolerances passed to every backend.

    Attributes
    ----------
    time_limit : float
        Wall-clock limit for the solver call, seconds (> 0).  HiGHS
        ``time_limit``; CBC ``-sec`` (elapsed time).  An outer safety net only: where
        a wall-clock limit stops a solve, the result depends on the machine and its
        load (:attr:`SolveOutcome.limit` is ``"time"``); the deterministic budget is
        ``node_limit``.
    presolve : bool
        Run HiGHS' presolve on a MILP (HiGHS ``presolve`` ``"choose"``, else ``"off"``; LPs
        always keep HiGHS' default, CBC keeps its own).  Off by default: on the sizing MILPs (dense scenario and month rows over
        every candidate) HiGHS' MIP presolve costs 5-15x the whole search and removes little
        (``benchmarks/bench_pipeline.py``).
    node_limit : int or None
        Branch-and-bound node budget of a MILP (>= 0; 0: the root node only), or None for no
        limit.  HiGHS
        ``mip_max_nodes``, CBC ``-maxNodes``.  The same problem stops at the same node
        with the same incumbent on any machine and under any load
        (:attr:`SolveOutcome.limit` is ``"nodes"``).
    mip_rel_gap : float
        Relative MIP gap at which the solver may stop and report OPTIMAL
        (dimensionless, >= 0).  HiGHS ``mip_rel_gap``; CBC ``-ratio``.
    threads : int or None
        Solver threads (>= 1); None keeps the solver default.
    verbose : bool
        Show the solver log.  cvxpy/HiGHS print to the console; the CBC log is
        captured to a file and re-emitted through :mod:`logging` (INFO, logger
        ``optimizer.solve.backends.pulp_backend``).
    """

    time_limit: float = 60.0
    mip_rel_gap: float = 1e-6
    threads: int | None = None
    verbose: bool = False
    node_limit: int | None = None
    presolve: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.time_limit, int | float) and self.time_limit > 0):
            raise ValueError(
                f"SolverOptions.time_limit must be a positive number of seconds, got {self.time_limit!r}"
            )
        if not (
            isinstance(self.mip_rel_gap, int | float)
            and math.isfinite(self.mip_rel_gap)
            and self.mip_rel_gap >= 0
        ):
            raise ValueError(
                f"SolverOptions.mip_rel_gap must be a finite number >= 0, got {self.mip_rel_gap!r}"
            )
        if self.node_limit is not None and not (
            isinstance(self.node_limit, int)
            and not isinstance(self.node_limit, bool)
            and self.node_limit >= 0
        ):
            raise ValueError(
                f"SolverOptions.node_limit must be None or an int >= 0, got {self.node_limit!r}"
            )
        if self.threads is not None and not (
            isinstance(self.threads, int)
            and not isinstance(self.threads, bool)
            and self.threads >= 1
        ):
            raise ValueError(
                f"SolverOptions.threads must be None or an int >= 1, got {self.threads!r}"
            )


@dataclass(frozen=True, eq=False)
class SolveOutcome:
    """Everything a backend reports about one solve.

    Attributes
    ----------
    status : SolveStatus
        Mapped status (see :data:`CVXPY_STATUS_MAP`, :data:`PULP_STATUS_MAP`,
        :data:`HIGHS_STATUS_MAP`).
    objective_value : float or None
        Objective (objective units, including ``Objective.constant``) recomputed
        from ``values``; None without a solution.
    values : dict of str to ndarray, or None
        Group name -> ``(group.size,)`` values.  INTEGER/BINARY groups are rounded
        to exact integers (dtype ``int64``); CONTINUOUS groups are ``float64``.
        None unless ``status.has_solution``.
    duals : dict of str to float, or None
        Row name -> shadow price ``d f* / d (binding bound)`` in objective units
        per row unit (sign convention in the module docstring).  Only for
        continuous problems solved to OPTIMAL; None otherwise.
    reduced_costs : dict of str to ndarray, or None
        Group name -> ``(group.size,)`` ``d f* / d (binding variable bound)``.
        Same availability as ``duals``.
    mip_gap : float or None
        Relative gap ``|objective - best_bound| / |objective|``: 0 for an LP, the
        solver's value for a MIP (HiGHS reports it; for CBC it is computed from the
        objective and bound printed in the CBC log).  None without an incumbent.
    best_bound : float or None
        Best proven bound on the optimal objective (objective units, including the
        constant): an upper bound when maximising, a lower bound when minimising.
        None when the solver did not report one.
    compile_seconds : float
        Wall time to build the backend model from the ``SizingProblem``.
    solve_seconds : float
        Wall time of the solver call.
    backend : str
        ``"cvxpy-highs"``, ``"pulp-cbc"`` or ``"highs"``.
    message : str
        Solver's raw status text (or the exception text for ERROR).
    limit : str or None
        The limit that stopped the solve before it finished: ``"nodes"``
        (:attr:`SolverOptions.node_limit`, deterministic), ``"time"`` (the wall-clock
        safety net, :attr:`SolverOptions.time_limit`: the result depends on the machine's
        speed and load) or ``"other"`` (iterations, memory, interrupt); None when the solver
        finished (optimal within the gap, or a certificate).
    """

    status: SolveStatus
    objective_value: float | None
    values: dict[str, np.ndarray] | None
    duals: dict[str, float] | None
    reduced_costs: dict[str, np.ndarray] | None
    mip_gap: float | None
    best_bound: float | None
    compile_seconds: float
    solve_seconds: float
    backend: str
    message: str
    limit: str | None = None

    @property
    def has_solution(self) -> bool:
        """True when ``values`` holds a feasible point."""
        return self.status.has_solution

    def __repr__(self) -> str:
        obj = "None" if self.objective_value is None else f"{self.objective_value:.6g}"
        gap = "None" if self.mip_gap is None else f"{self.mip_gap:.3g}"
        return (
            f"SolveOutcome(status={self.status.value}, objective={obj}, gap={gap}, "
            f"backend={self.backend}, compile={self.compile_seconds:.3g}s, "
            f"solve={self.solve_seconds:.3g}s, message={self.message!r})"
        )


class FallbackStep(StrEnum):
    """The steps of the failure policy (compare equal to the plain strings of the JSON)."""

    OTHER_BACKEND = "other_backend"
    FULL_CVAR = "full_cvar"
    MAX_PROBABILITY = "max_probability"
    DROP_CHANCE = "drop_chance"
    INCUMBENT = "incumbent"
    NODE_LIMIT = "node_limit"
    TIME_LIMIT = "time_limit"
    SOLVER_LIMIT = "solver_limit"


#: The steps that record a MILP stopped at a limit.
LIMIT_STEPS = frozenset(
    {FallbackStep.NODE_LIMIT, FallbackStep.TIME_LIMIT, FallbackStep.SOLVER_LIMIT}
)


class Backend(StrEnum):
    """Available backends (compare equal to the plain strings)."""

    CVXPY = "cvxpy"
    PULP = "pulp"
    HIGHS = "highs"


@dataclass(frozen=True)
class Fallback:
    """One step of the failure policy that was taken (recorded, never silent).

    Parameters
    ----------
    step : FallbackStep
        What was done instead (``max_probability``, ``drop_chance``, ``incumbent``,
        ``other_backend`` …).
    reason : str
        Why (the solver status or message that triggered it).
    """

    step: FallbackStep
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", FallbackStep(self.step))
