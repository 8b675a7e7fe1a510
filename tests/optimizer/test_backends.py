"""Backends vs brute force, statuses, duals, mixed groups and problem validation.

One test body runs over every backend (cvxpy + HiGHS, PuLP + CBC, highspy).  The reference
for integer problems is exhaustive enumeration; the reference for duals and
reduced costs is the finite difference of the re-solved optimum.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cvxpy as cp
import highspy
import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.solve.backends import (
    Backend,
    cvxpy_backend,
    pulp_backend,
    solve,
    write_lp,
    write_mps,
)
from optimizer.solve.problem import (
    LinearBlock,
    Objective,
    ObjectiveSense,
    SizingProblem,
    VariableGroup,
    VarKind,
)
from optimizer.solve.status import (
    CVXPY_STATUS_MAP,
    PULP_STATUS_MAP,
    SolveOutcome,
    SolverOptions,
    SolveStatus,
    map_cvxpy_status,
    map_pulp_status,
    relative_gap,
)

BACKENDS = [Backend.CVXPY, Backend.PULP, Backend.HIGHS]
FAST = SolverOptions(time_limit=20.0)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def brute_force(problem: SizingProblem) -> tuple[float | None, dict[str, np.ndarray] | None]:
    """Optimum of a pure-integer problem with finite bounds by enumeration."""
    ranges, slices, start = [], {}, 0
    for g in problem.variables:
        assert g.is_integral
        for lo, up in zip(g.lower, g.upper, strict=True):
            ranges.append(range(int(math.ceil(lo)), int(math.floor(up)) + 1))
        slices[g.name] = slice(start, start + g.size)
        start += g.size
    grid = np.array(list(itertools.product(*ranges)), dtype=float)
    act = np.zeros((grid.shape[0], problem.n_rows))
    obj = np.full(grid.shape[0], problem.objective.constant)
    for g in problem.variables:
        x = grid[:, slices[g.name]]
        act += (problem.matrix(g.name) @ x.T).T
        obj += x @ problem.objective_vector(g.name)
    ok = np.all((act <= problem.row_upper + 1e-9) & (act >= problem.row_lower - 1e-9), axis=1)
    if not ok.any():
        return None, None
    scores = np.where(ok, obj * problem.objective.sign, -np.inf)
    best = int(np.argmax(scores))
    return float(obj[best]), {g.name: grid[best, slices[g.name]] for g in problem.variables}


def int_group(name: str, lower, upper) -> VariableGroup:
    return VariableGroup.build(name, VarKind.INTEGER, len(lower), lower=lower, upper=upper)


def replace_block_bounds(
    problem: SizingProblem, row: str, *, lower: float | None = None, upper: float | None = None
) -> SizingProblem:
    """Copy of ``problem`` with new bounds on one row."""
    blocks = []
    for b in problem.blocks:
        if row in b.row_names:
            i = b.row_names.index(row)
            lo, up = np.array(b.lower), np.array(b.upper)
            if lower is not None:
                lo[i] = lower
            if upper is not None:
                up[i] = upper
            b = LinearBlock(b.name, b.family, b.terms, lo, up, b.row_names)
        blocks.append(b)
    return SizingProblem(problem.variables, tuple(blocks), problem.objective)


def assert_consistent(problem: SizingProblem, out: SolveOutcome) -> None:
    """Reported objective == recomputed, values feasible, integer dtype for integral groups."""
    assert out.values is not None
    assert problem.is_feasible(out.values, tol=1e-6), out
    assert out.objective_value == pytest.approx(problem.objective_value(out.values), abs=1e-9)
    for g in problem.variables:
        if g.is_integral:
            assert out.values[g.name].dtype == np.int64


# --------------------------------------------------------------------------------------
# status maps
# --------------------------------------------------------------------------------------


def test_cvxpy_status_map_covers_cvxpy_statuses() -> None:
    s = cp.settings
    statuses = {
        s.OPTIMAL,
        s.OPTIMAL_INACCURATE,
        s.INFEASIBLE,
        s.INFEASIBLE_INACCURATE,
        s.UNBOUNDED,
        s.UNBOUNDED_INACCURATE,
        s.INFEASIBLE_OR_UNBOUNDED,
        s.USER_LIMIT,
        s.SOLVER_ERROR,
    }
    assert statuses == set(CVXPY_STATUS_MAP)
    assert map_cvxpy_status(s.USER_LIMIT, has_incumbent=True) is SolveStatus.FEASIBLE
    assert map_cvxpy_status(s.USER_LIMIT, has_incumbent=False) is SolveStatus.NO_SOLUTION
    assert map_cvxpy_status("something new", has_incumbent=True) is SolveStatus.ERROR
    assert map_cvxpy_status(None, has_incumbent=False) is SolveStatus.ERROR


def test_pulp_status_map_uses_pulp_constants() -> None:
    c = pulp.constants
    assert map_pulp_status(c.LpStatusOptimal, c.LpSolutionOptimal) is SolveStatus.OPTIMAL
    assert map_pulp_status(c.LpStatusOptimal, c.LpSolutionIntegerFeasible) is SolveStatus.FEASIBLE
    assert (
        map_pulp_status(c.LpStatusNotSolved, c.LpSolutionNoSolutionFound) is SolveStatus.NO_SOLUTION
    )
    assert map_pulp_status(c.LpStatusInfeasible, c.LpSolutionInfeasible) is SolveStatus.INFEASIBLE
    # "Integer infeasible" (-1, 0) is a proof only when no time limit stopped the run
    # (issue 15; the full table is in test_pulp_status.py).
    infeasible_unconfirmed = (c.LpStatusInfeasible, c.LpSolutionNoSolutionFound)
    assert (
        map_pulp_status(*infeasible_unconfirmed, limit_possibly_reached=False)
        is SolveStatus.INFEASIBLE
    )
    assert map_pulp_status(*infeasible_unconfirmed) is SolveStatus.NO_SOLUTION
    assert map_pulp_status(c.LpStatusUnbounded, c.LpSolutionUnbounded) is SolveStatus.UNBOUNDED
    assert map_pulp_status(c.LpStatusUndefined, c.LpSolutionNoSolutionFound) is SolveStatus.ERROR
    known_status = set(c.LpStatus)
    known_sol = set(c.LpSolution)
    for status, sol_status in PULP_STATUS_MAP:
        assert status in known_status and sol_status in known_sol


def test_relative_gap() -> None:
    assert relative_gap(10.0, 11.0) == pytest.approx(0.1)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(0.0, 1.0) == math.inf
    assert relative_gap(5.0, math.inf) == math.inf


@pytest.mark.parametrize(
    "kwargs",
    [{"time_limit": 0}, {"time_limit": -1.0}, {"mip_rel_gap": -1e-3}, {"threads": 0}],
)
def test_solver_options_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SolverOptions(**kwargs)


# --------------------------------------------------------------------------------------
# brute-force bank (hypothesis)
# --------------------------------------------------------------------------------------

ROW_KINDS = ("le", "ge", "two", "eq")


@st.composite
def small_integer_problems(draw: st.DrawFn) -> SizingProblem:
    n = draw(st.integers(3, 5))
    m = draw(st.integers(2, 4))
    ints = st.integers(-5, 5)
    lower = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=float)
    upper = np.array(
        [draw(st.integers(int(lo), 4)) for lo in lower],
        dtype=float,
    )
    A = np.array(draw(st.lists(ints, min_size=m * n, max_size=m * n)), dtype=float).reshape(m, n)
    c = np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=float)
    sense = draw(st.sampled_from(list(ObjectiveSense)))
    kinds = draw(st.lists(st.sampled_from(ROW_KINDS), min_size=m, max_size=m))
    anchored = draw(st.integers(0, 3)) > 0  # ~3/4 feasible by construction
    if anchored:  # feasible by construction around a random point of the box
        x0 = np.array(
            [draw(st.integers(int(lo), int(up))) for lo, up in zip(lower, upper, strict=True)]
        )
        a0 = A @ x0
        below = np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)))
        above = np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)))
        row_lo, row_up = a0 - below, a0 + above
    else:  # arbitrary bounds: may well be infeasible
        row_lo = np.array(draw(st.lists(st.integers(-12, 6), min_size=m, max_size=m)), float)
        row_up = row_lo + np.array(draw(st.lists(st.integers(0, 8), min_size=m, max_size=m)))
    lo = np.where(np.isin(kinds, ["ge", "two", "eq"]), row_lo, -np.inf)
    up = np.where(np.isin(kinds, ["le", "two"]), row_up, np.inf)
    up = np.where(np.array(kinds) == "eq", lo, up)
    names = tuple(f"row_{k}[{i}]" for i, k in enumerate(kinds))
    split = draw(st.integers(1, m))  # two blocks exercise row stacking
    sparse = draw(st.booleans())

    def coef(rows: slice):
        return sp.coo_array(A[rows]) if sparse else A[rows]

    blocks = [
        LinearBlock(
            "first", "test", {"n": coef(slice(0, split))}, lo[:split], up[:split], names[:split]
        )
    ]
    if split < m:
        blocks.append(
            LinearBlock(
                "second",
                "test",
                {"n": coef(slice(split, m))},
                lo[split:],
                up[split:],
                names[split:],
            )
        )
    constant = float(draw(st.integers(-3, 3)))
    return SizingProblem(
        (int_group("n", lower, upper),),
        tuple(blocks),
        Objective("obj", sense, {"n": c}, constant=constant),
    )


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problem=small_integer_problems())
def test_backends_match_brute_force(problem: SizingProblem) -> None:
    best, _ = brute_force(problem)
    for backend in BACKENDS:
        out = solve(problem, backend, FAST)
        if best is None:
            assert out.status is SolveStatus.INFEASIBLE, (backend, out)
            assert out.values is None and out.objective_value is None
            continue
        assert out.status is SolveStatus.OPTIMAL, (backend, out)
        assert_consistent(problem, out)
        if backend is Backend.PULP:
            # CBC 2.10.3 may stop at a worse point it calls optimal (test_cbc_preprocessing_defect):
            # it must still be feasible and never better than the enumerated optimum
            sign = problem.objective.sign
            assert out.objective_value * sign <= best * sign + 1e-6, (backend, out)
            continue
        assert out.objective_value == pytest.approx(best, abs=1e-6), (backend, out)
        assert out.duals is None  # MIP: no duals
        assert out.mip_gap is not None and out.mip_gap <= 1e-6
        assert out.best_bound is not None
        assert out.best_bound * problem.objective.sign >= best * problem.objective.sign - 1e-6


# --------------------------------------------------------------------------------------
# statuses: infeasible, unbounded, limits, errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", [VarKind.INTEGER, VarKind.CONTINUOUS])
def test_infeasible(backend: Backend, kind: VarKind) -> None:
    n = VariableGroup.build("n", kind, 2, upper=4)
    rows = LinearBlock(
        "cap",
        "buying_power",
        {"n": np.array([[1.0, 1.0], [1.0, 1.0]])},
        np.array([-np.inf, 9.0]),
        np.array([8.0, np.inf]),
        ("cap_upper", "cap_lower"),
    )
    problem = SizingProblem((n,), (rows,), Objective("theta", "maximize", {"n": np.ones(2)}))
    out = solve(problem, backend, FAST)
    assert out.status is SolveStatus.INFEASIBLE, out
    assert out.values is None and out.duals is None and out.objective_value is None


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", [VarKind.CONTINUOUS, VarKind.INTEGER])
def test_unbounded(backend: Backend, kind: VarKind) -> None:
    x = VariableGroup.build("x", kind, 2, upper=np.array([np.inf, 3.0]))
    rows = LinearBlock(
        "ratio",
        "test",
        {"x": np.array([[1.0, -1.0]])},
        np.array([0.0]),
        np.array([np.inf]),
        ("ratio",),
    )
    problem = SizingProblem((x,), (rows,), Objective("theta", "maximize", {"x": np.ones(2)}))
    out = solve(problem, backend, FAST)
    assert out.status in {SolveStatus.UNBOUNDED, SolveStatus.INFEASIBLE_OR_UNBOUNDED}, out
    assert out.values is None


def market_split(m: int = 4, n: int = 30, seed: int = 0) -> SizingProblem:
    """Cornuéjols–Dawande market split with slacks: hard for branch and bound.

    A zero-slack split almost surely does not exist for these sizes, and the LP
    bound is 0, so no solver proves optimality within a fraction of a second.
    """
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 100, size=(m, n)).astype(float)
    d = np.floor(A.sum(axis=1) / 2)
    x = VariableGroup.build("x", VarKind.BINARY, n)
    s = VariableGroup.build("s", VarKind.CONTINUOUS, 2 * m)
    split = LinearBlock(
        "split",
        "test",
        {"x": A, "s": np.hstack([np.eye(m), -np.eye(m)])},
        d,
        d,
        tuple(f"split[{i}]" for i in range(m)),
    )
    return SizingProblem((x, s), (split,), Objective("slack", "minimize", {"s": np.ones(2 * m)}))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("time_limit", [0.001, 0.05])
def test_time_limit_gives_feasible_or_no_solution(backend: Backend, time_limit: float) -> None:
    """A feasible MILP under a tiny limit: an incumbent (FEASIBLE) or nothing (NO_SOLUTION).

    Whether the limit leaves time for an incumbent depends on the machine, so both
    outcomes are allowed and each is checked in full; INFEASIBLE (or any other status)
    is a wrong answer: the problem has a feasible point (the witness below). Nothing here
    depends on how long the run took; the deterministic budget (``node_limit``) is tested in
    ``test_determinism.py``.
    """
    problem = market_split()
    witness = {"x": np.zeros(30), "s": np.concatenate([problem.row_lower, np.zeros(4)])}
    assert problem.is_feasible(witness, tol=1e-9)
    out = solve(problem, backend, SolverOptions(time_limit=time_limit))
    assert out.status is not SolveStatus.INFEASIBLE, out
    assert out.status in {SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION}, out
    assert out.limit == "time", out  # stopped by the wall clock, and it says so
    if out.status is SolveStatus.FEASIBLE:
        assert_consistent(problem, out)
        assert out.mip_gap is not None and math.isfinite(out.mip_gap) and out.mip_gap > 0, out
        if out.best_bound is not None:  # lower bound of a minimisation
            assert out.best_bound <= out.objective_value + 1e-6
    else:
        assert out.values is None and out.objective_value is None and out.mip_gap is None
        assert out.duals is None and out.reduced_costs is None


def test_cvxpy_solver_exception_maps_to_error(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = market_split(m=2, n=6)

    def boom(*args, **kwargs):
        raise cp.error.SolverError("numerical trouble")

    model = cvxpy_backend.compile_problem(problem)
    monkeypatch.setattr(model.cp_problem, "solve", boom)
    out = cvxpy_backend.solve_compiled(model, FAST)
    assert out.status is SolveStatus.ERROR
    assert "numerical trouble" in out.message and out.values is None


def test_pulp_solver_failure_maps_to_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    problem = market_split(m=2, n=6)
    fake = tmp_path / "cbc"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pulp_backend, "_cbc_path", lambda: str(fake))
    out = solve(problem, Backend.PULP, FAST)
    assert out.status is SolveStatus.ERROR and "PulpSolverError" in out.message
    monkeypatch.setattr(pulp_backend, "_cbc_path", lambda: None)
    out = solve(problem, Backend.PULP, FAST)
    assert out.status is SolveStatus.ERROR and "not found" in out.message


def test_unknown_backend_raises() -> None:
    with pytest.raises(ValueError, match="unknown backend 'gurobi'"):
        solve(market_split(m=2, n=6), "gurobi")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# LP duals and reduced costs vs finite differences
# --------------------------------------------------------------------------------------


def random_lp(seed: int, sense: ObjectiveSense) -> SizingProblem:
    """Random bounded LP, feasible by construction, with every row kind."""
    rng = np.random.default_rng(seed)
    n, kinds = 4, ("le", "ge", "two", "eq", "le", "free")
    A = rng.uniform(-1.0, 2.0, size=(len(kinds), n))
    x0 = rng.uniform(1.0, 4.0, size=n)
    a0 = A @ x0
    lo = np.full(len(kinds), -np.inf)
    up = np.full(len(kinds), np.inf)
    for i, k in enumerate(kinds):
        if k in ("ge", "two"):
            lo[i] = a0[i] - rng.uniform(0.2, 1.0)
        if k in ("le", "two"):
            up[i] = a0[i] + rng.uniform(0.2, 1.0)
        if k == "eq":
            lo[i] = up[i] = a0[i]
    names = tuple(f"{k}[{i}]" for i, k in enumerate(kinds))
    x = VariableGroup.build("x", VarKind.CONTINUOUS, n, lower=0.0, upper=5.0)
    y = VariableGroup.build("y", VarKind.CONTINUOUS, 1, lower=-np.inf, upper=np.inf)
    # y is a free auxiliary pinned by an equality row: y = sum(x) (tests multi-group rows)
    link = LinearBlock(
        "link", "test", {"x": np.ones((1, n)), "y": -np.ones((1, 1))}, 0.0, 0.0, ("link",)
    )
    rows = LinearBlock("rows", "test", {"x": A}, lo, up, names)
    c = rng.uniform(-1.0, 1.0, size=n)
    objective = Objective("obj", sense, {"x": c, "y": np.array([0.3])}, constant=2.5)
    return SizingProblem((x, y), (rows, link), objective)


def fd_rows(problem: SizingProblem, backend: Backend, base: float, h: float):
    """Central finite differences d f*/d(binding bound) for rows that bind.

    Yields (row name, derivative) for rows where left and right differences agree
    (non-degenerate), and (row name, None) for rows that do not bind.
    """
    out = solve(problem, backend, FAST)
    slack = problem.row_slack(out.values)
    for row, lo, up in zip(problem.row_names, problem.row_lower, problem.row_upper, strict=True):
        if slack[row] > 1e-5:
            yield row, None
            continue
        if lo == up:
            plus = replace_block_bounds(problem, row, lower=lo + h, upper=up + h)
            minus = replace_block_bounds(problem, row, lower=lo - h, upper=up - h)
        elif np.isfinite(up) and abs(problem.row_activity(out.values)[row] - up) <= 1e-5:
            plus = replace_block_bounds(problem, row, upper=up + h)
            minus = replace_block_bounds(problem, row, upper=up - h)
        else:
            plus = replace_block_bounds(problem, row, lower=lo + h)
            minus = replace_block_bounds(problem, row, lower=lo - h)
        f_plus = solve(plus, backend, FAST).objective_value
        f_minus = solve(minus, backend, FAST).objective_value
        right, left = (f_plus - base) / h, (base - f_minus) / h
        if abs(right - left) < 1e-3:
            yield row, (f_plus - f_minus) / (2 * h)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_lp_duals_match_finite_differences(backend: Backend, sense: ObjectiveSense) -> None:
    checked_binding = 0
    for seed in range(3):
        problem = random_lp(seed, sense)
        out = solve(problem, backend, FAST)
        assert out.status is SolveStatus.OPTIMAL, out
        assert_consistent(problem, out)
        assert out.duals is not None and set(out.duals) == set(problem.row_names)
        assert out.mip_gap == 0.0 and out.best_bound == pytest.approx(out.objective_value)
        h = 1e-2
        for row, derivative in fd_rows(problem, backend, out.objective_value, h):
            if derivative is None:
                assert out.duals[row] == pytest.approx(0.0, abs=1e-6), row
            else:
                checked_binding += 1
                assert out.duals[row] == pytest.approx(derivative, abs=1e-4), (seed, row)
    assert checked_binding >= 4  # the test is not vacuous


def test_dual_sign_convention_hand_example() -> None:
    """max x0 + x1 s.t. x0 + 2 x1 <= 4 (cap), -x0 + x1 >= -1 (floor): x = (2, 1)."""
    x = VariableGroup.build("x", VarKind.CONTINUOUS, 2)
    rows = LinearBlock(
        "rows",
        "test",
        {"x": np.array([[1.0, 2.0], [-1.0, 1.0]])},
        np.array([-np.inf, -1.0]),
        np.array([4.0, np.inf]),
        ("cap", "floor"),
    )
    for sense, sign in ((ObjectiveSense.MAXIMIZE, 1.0), (ObjectiveSense.MINIMIZE, -1.0)):
        problem = SizingProblem((x,), (rows,), Objective("o", sense, {"x": sign * np.ones(2)}))
        for backend in BACKENDS:
            out = solve(problem, backend, FAST)
            assert out.duals["cap"] == pytest.approx(
                sign * 2 / 3, abs=1e-6
            )  # relaxing the cap helps a max
            assert out.duals["floor"] == pytest.approx(
                -sign * 1 / 3, abs=1e-6
            )  # raising a floor hurts a max


@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_backends_agree_on_duals_and_reduced_costs(sense: ObjectiveSense) -> None:
    for seed in range(3):
        problem = random_lp(seed, sense)
        a = solve(problem, Backend.CVXPY, FAST)
        b = solve(problem, Backend.PULP, FAST)
        assert a.objective_value == pytest.approx(b.objective_value, abs=1e-6)
        for row in problem.row_names:
            assert a.duals[row] == pytest.approx(b.duals[row], abs=1e-5), row
        for g in problem.variables:
            np.testing.assert_allclose(a.reduced_costs[g.name], b.reduced_costs[g.name], atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_reduced_costs_match_finite_differences(backend: Backend, sense: ObjectiveSense) -> None:
    h, checked = 1e-2, 0
    for seed in range(10):
        problem = random_lp(seed, sense)
        out = solve(problem, backend, FAST)
        x = problem.group("x")
        for j in range(x.size):
            value = out.values["x"][j]
            if abs(value - x.lower[j]) <= 1e-7:
                which = "lower"
            elif abs(value - x.upper[j]) <= 1e-7:
                which = "upper"
            else:
                assert out.reduced_costs["x"][j] == pytest.approx(0.0, abs=1e-5)
                continue
            base = np.array(getattr(x, which))
            fs = []
            for step in (h, -h):
                bounds = base.copy()
                bounds[j] += step
                lower = bounds if which == "lower" else x.lower
                upper = bounds if which == "upper" else x.upper
                if np.any(lower > upper):
                    break
                g = VariableGroup("x", x.kind, lower, upper, x.labels)
                p = SizingProblem((g, problem.group("y")), problem.blocks, problem.objective)
                fs.append(solve(p, backend, FAST).objective_value)
            if len(fs) < 2:
                continue
            right, left = (fs[0] - out.objective_value) / h, (out.objective_value - fs[1]) / h
            if abs(right - left) > 1e-3:  # degenerate: one-sided derivatives differ
                continue
            checked += 1
            assert out.reduced_costs["x"][j] == pytest.approx((fs[0] - fs[1]) / (2 * h), abs=1e-4)
    assert checked >= 3


# --------------------------------------------------------------------------------------
# mixed groups, with_fixed / relaxed / without_blocks
# --------------------------------------------------------------------------------------

U = 4.0


def mixed_problem() -> SizingProblem:
    """Integer counts n, binaries y (n_k <= U y_k), continuous s capped by n."""
    n = VariableGroup.build(
        "n", VarKind.INTEGER, 3, upper=U, labels=("spx_ic", "spx_put", "es_lt112")
    )
    y = VariableGroup.build("y", VarKind.BINARY, 3)
    s = VariableGroup.build("s", VarKind.CONTINUOUS, 2)
    link = LinearBlock(
        "link",
        "positions",
        {"n": np.eye(3), "y": -U * np.eye(3)},
        -np.inf,
        0.0,
        tuple(f"link[{k}]" for k in range(3)),
    )
    variants = LinearBlock(
        "variants", "positions", {"y": np.ones((1, 3))}, -np.inf, 2.0, ("variants",)
    )
    bp = LinearBlock(
        "bp", "buying_power", {"n": np.array([[3.0, 2.0, 4.0]])}, -np.inf, 14.0, ("bp_total",)
    )
    cover = LinearBlock(
        "cover",
        "test",
        {
            "s": sp.csr_array(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])),
            "n": np.array([[-1.0, -1.0, 0.0], [0.0, 0.0, -0.5], [0.0, 0.0, 0.0]]),
        },
        np.array([-np.inf, -np.inf, 0.0]),
        np.array([0.0, 0.0, 5.0]),
        ("cover[0]", "cover[1]", "cover_total"),
    )
    objective = Objective(
        "income",
        "maximize",
        {
            "n": np.array([2.0, 1.5, 3.0]),
            "y": np.array([-1.0, -1.0, -2.0]),
            "s": np.array([0.7, 0.4]),
        },
    )
    return SizingProblem((n, y, s), (link, variants, bp, cover), objective)


def mixed_brute_force(problem: SizingProblem) -> float:
    """Enumerate (n, y); the continuous s has a closed form (0.7 > 0.4: fill s0 first)."""
    best = -np.inf
    ng, yg = problem.group("n"), problem.group("y")
    n_ranges = [range(int(lo), int(up) + 1) for lo, up in zip(ng.lower, ng.upper, strict=True)]
    y_ranges = [range(int(lo), int(up) + 1) for lo, up in zip(yg.lower, yg.upper, strict=True)]
    has_variants = "variants" in [b.name for b in problem.blocks]
    for n in itertools.product(*n_ranges):
        if 3 * n[0] + 2 * n[1] + 4 * n[2] > 14:
            continue
        for y in itertools.product(*y_ranges):
            if any(n[k] > U * y[k] for k in range(3)):
                continue
            if has_variants and sum(y) > 2:
                continue
            s0 = min(n[0] + n[1], 5.0)
            s1 = min(0.5 * n[2], 5.0 - s0)
            value = 2 * n[0] + 1.5 * n[1] + 3 * n[2] - y[0] - y[1] - 2 * y[2] + 0.7 * s0 + 0.4 * s1
            best = max(best, value)
    return best


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_groups_match_enumeration(backend: Backend) -> None:
    problem = mixed_problem()
    out = solve(problem, backend, FAST)
    assert out.status is SolveStatus.OPTIMAL, out
    assert_consistent(problem, out)
    assert out.values["s"].dtype == np.float64
    assert out.objective_value == pytest.approx(mixed_brute_force(problem), abs=1e-6)
    assert out.duals is None and out.reduced_costs is None

    fixed = problem.with_fixed("y", [1, 0, 1])
    out_fixed = solve(fixed, backend, FAST)
    assert out_fixed.status is SolveStatus.OPTIMAL
    np.testing.assert_array_equal(out_fixed.values["y"], [1, 0, 1])
    assert out_fixed.values["n"][1] == 0  # linked to y[1] = 0
    assert out_fixed.objective_value == pytest.approx(mixed_brute_force(fixed), abs=1e-6)

    dropped = problem.without_blocks("variants")
    out_dropped = solve(dropped, backend, FAST)
    assert out_dropped.objective_value == pytest.approx(mixed_brute_force(dropped), abs=1e-6)
    assert out_dropped.objective_value >= out.objective_value - 1e-9
    assert "variants" not in dropped.row_names

    relaxed = problem.relaxed()
    out_relaxed = solve(relaxed, backend, FAST)
    assert out_relaxed.status is SolveStatus.OPTIMAL
    assert out_relaxed.objective_value >= out.objective_value - 1e-9
    assert out_relaxed.duals is not None and set(out_relaxed.duals) == set(problem.row_names)
    assert all(v.dtype == np.float64 for v in out_relaxed.values.values())


def test_with_fixed_relaxed_without_blocks_structure() -> None:
    problem = mixed_problem()
    relaxed = problem.relaxed()
    assert all(g.kind is VarKind.CONTINUOUS for g in relaxed.variables)
    np.testing.assert_array_equal(relaxed.group("y").lower, 0.0)
    np.testing.assert_array_equal(relaxed.group("y").upper, 1.0)
    assert relaxed.blocks is problem.blocks or relaxed.blocks == problem.blocks
    assert problem.is_mip and not relaxed.is_mip

    fixed = problem.with_fixed("n", np.array([1, 2, 0]))
    np.testing.assert_array_equal(fixed.group("n").lower, [1, 2, 0])
    np.testing.assert_array_equal(fixed.group("n").upper, [1, 2, 0])
    assert fixed.group("n").kind is VarKind.INTEGER
    assert fixed.group("y") is problem.group("y")
    lp_at_counts = fixed.with_fixed("y", 1).relaxed()  # verdict recipe: LP with integers fixed
    assert not lp_at_counts.is_mip
    with pytest.raises(ValueError, match="integral"):
        problem.with_fixed("n", [0.5, 1, 1])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        problem.with_fixed("n", [1, 1])
    with pytest.raises(ValueError, match="unknown variable group 'q'"):
        problem.with_fixed("q", 1)

    without = problem.without_blocks("variants", "bp")
    assert [b.name for b in without.blocks] == ["link", "cover"]
    with pytest.raises(ValueError, match="unknown block 'nope'"):
        problem.without_blocks("nope")
    again = without.with_blocks(problem.block("bp"))
    assert again.row_names[-1] == "bp_total"
    with pytest.raises(ValueError, match="duplicate block name 'bp'"):
        problem.with_blocks(problem.block("bp"))
    theta = Objective("theta", "maximize", {"n": np.ones(3)})
    assert problem.with_objective(theta).objective is theta


def test_row_activity_slack_feasibility() -> None:
    problem = mixed_problem()
    values = {"n": np.array([2, 0, 1]), "y": np.array([1, 0, 1]), "s": np.array([2.0, 0.5])}
    act = problem.row_activity(values)
    assert act["bp_total"] == pytest.approx(10.0)
    assert act["link[0]"] == pytest.approx(2.0 - U)
    slack = problem.row_slack(values)
    assert slack["bp_total"] == pytest.approx(4.0)
    assert slack["cover_total"] == pytest.approx(2.5)  # min(5 - 2.5, 2.5 - 0)
    assert problem.is_feasible(values)
    assert problem.objective_value(values) == pytest.approx(4 + 3 - 1 - 2 + 1.4 + 0.2)
    bad = dict(values, s=np.array([2.5, 0.5]))  # violates cover[0]: s0 <= n0 + n1 = 2
    assert problem.row_slack(bad)["cover[0]"] == pytest.approx(-0.5)
    assert not problem.is_feasible(bad)
    assert not problem.is_feasible(dict(values, n=np.array([2.5, 0, 1])))  # integrality
    assert not problem.is_feasible(dict(values, y=np.array([1, 0, 2])))  # bounds
    with pytest.raises(ValueError, match="missing variable group 's'"):
        problem.row_activity({"n": values["n"], "y": values["y"]})


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _n(size: int = 3) -> VariableGroup:
    return VariableGroup.build("n", VarKind.INTEGER, size, upper=4)


def _obj() -> Objective:
    return Objective("theta", "maximize", {"n": np.ones(3)})


def test_validation_shape_mismatch_names_block_and_group() -> None:
    block = LinearBlock("bp", "buying_power", {"n": np.ones((1, 4))}, -np.inf, 1.0, ("bp_total",))
    with pytest.raises(ValueError, match=r"block 'bp': terms\['n'\] has shape \(1, 4\).*size 3"):
        SizingProblem((_n(),), (block,), _obj())
    with pytest.raises(
        ValueError, match=r"block 'bp': terms\['n'\] has 2 rows but the block has 1"
    ):
        LinearBlock("bp", "buying_power", {"n": np.ones((2, 3))}, -np.inf, 1.0, ("bp_total",))
    with pytest.raises(ValueError, match="must be 2-D"):
        LinearBlock("bp", "buying_power", {"n": np.ones(3)}, -np.inf, 1.0, ("bp_total",))
    with pytest.raises(ValueError, match=r"block 'bp': lower must have shape \(1,\)"):
        LinearBlock("bp", "buying_power", {"n": np.ones((1, 3))}, np.zeros(2), 1.0, ("bp_total",))
    with pytest.raises(ValueError, match=r"objective 'theta': terms\['n'\] has shape \(2,\)"):
        SizingProblem((_n(),), (), Objective("theta", "maximize", {"n": np.ones(2)}))


def test_validation_unknown_group() -> None:
    block = LinearBlock("cvar", "tail_risk", {"zeta": np.ones((1, 1))}, -np.inf, 1.0, ("cvar_95",))
    with pytest.raises(ValueError, match="block 'cvar': unknown variable group 'zeta'"):
        SizingProblem((_n(),), (block,), _obj())
    with pytest.raises(ValueError, match="objective 'theta': unknown variable group 'u'"):
        SizingProblem((_n(),), (), Objective("theta", "maximize", {"u": np.ones(3)}))
    with pytest.raises(ValueError, match="unknown variable group 'u'"):
        SizingProblem((_n(),), (), _obj()).group("u")


def test_validation_duplicate_names() -> None:
    a = LinearBlock("bp", "buying_power", {"n": np.ones((1, 3))}, -np.inf, 1.0, ("bp_total",))
    b = LinearBlock("bp2", "buying_power", {"n": np.ones((1, 3))}, -np.inf, 2.0, ("bp_total",))
    with pytest.raises(ValueError, match="duplicate row name 'bp_total' in blocks 'bp' and 'bp2'"):
        SizingProblem((_n(),), (a, b), _obj())
    with pytest.raises(ValueError, match="block 'alloc': duplicate row name 'alloc_upper'"):
        LinearBlock(
            "alloc",
            "allocation",
            {"n": np.ones((2, 3))},
            -np.inf,
            1.0,
            ("alloc_upper", "alloc_upper"),
        )
    with pytest.raises(ValueError, match="duplicate variable group name 'n'"):
        SizingProblem((_n(), _n()), (), _obj())


def test_validation_bounds_and_nan_name_the_row() -> None:
    with pytest.raises(
        ValueError, match=r"block 'alloc': lower 2.0 > upper 1.0 at row 'alloc\[b\]'"
    ):
        LinearBlock(
            "alloc",
            "allocation",
            {"n": np.ones((2, 3))},
            [0.0, 2.0],
            [1.0, 1.0],
            ("alloc[a]", "alloc[b]"),
        )
    coef = np.ones((2, 3))
    coef[1, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"block 'alloc': non-finite .* terms\['n'\] at row 'alloc\[b\]'"
    ):
        LinearBlock("alloc", "allocation", {"n": coef}, 0.0, 1.0, ("alloc[a]", "alloc[b]"))
    sparse = sp.csr_array(coef)
    with pytest.raises(ValueError, match=r"at row 'alloc\[b\]'"):
        LinearBlock("alloc", "allocation", {"n": sparse}, 0.0, 1.0, ("alloc[a]", "alloc[b]"))
    with pytest.raises(ValueError, match=r"NaN upper bound at row 'alloc\[a\]'"):
        LinearBlock(
            "alloc",
            "allocation",
            {"n": np.ones((2, 3))},
            0.0,
            [np.nan, 1.0],
            ("alloc[a]", "alloc[b]"),
        )
    with pytest.raises(ValueError, match="group 'y': BINARY bounds must lie in"):
        VariableGroup.build("y", VarKind.BINARY, 2, upper=2)
    with pytest.raises(ValueError, match="group 'n': lower 3.0 > upper 1.0 at element 'b'"):
        VariableGroup("n", VarKind.INTEGER, np.array([0.0, 3.0]), np.array([1.0, 1.0]), ("a", "b"))
    with pytest.raises(ValueError, match="sense must be 'maximize' or 'minimize'"):
        Objective("theta", "max", {"n": np.ones(3)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"objective 'theta': non-finite"):
        Objective("theta", "maximize", {"n": np.array([1.0, np.inf, 0.0])})


def test_objects_are_frozen_and_arrays_read_only() -> None:
    problem = mixed_problem()
    with pytest.raises(AttributeError):
        problem.objective = _obj()  # type: ignore[misc]
    with pytest.raises(ValueError):
        problem.group("n").upper[0] = 10.0
    assert problem.objective.sense == "maximize"  # StrEnum equals the contract's literal
    assert problem.n_rows == len(problem.row_names) == 8
    assert problem.matrix("s").shape == (8, 2)


# --------------------------------------------------------------------------------------
# compile once, empty problems, export
# --------------------------------------------------------------------------------------


def test_cvxpy_compile_once_solve_twice() -> None:
    problem = mixed_problem()
    model = cvxpy_backend.compile_problem(problem)
    first = cvxpy_backend.solve_compiled(model, FAST)
    second = cvxpy_backend.solve_compiled(model, SolverOptions(time_limit=5.0, threads=1))
    assert first.objective_value == pytest.approx(second.objective_value)
    assert first.compile_seconds == second.compile_seconds > 0


@pytest.mark.parametrize("relaxed", [False, True], ids=["mip", "lp"])
def test_cvxpy_compiled_model_resolved_with_other_threads(relaxed: bool) -> None:
    # HiGHS fixes the thread count of its process-wide scheduler when it starts and
    # refuses runs with another ``threads``; 1 then 2 always hits that once, whatever
    # ran before in this process.  The backend must reset the scheduler, not fail.
    problem = mixed_problem().relaxed() if relaxed else mixed_problem()
    model = cvxpy_backend.compile_problem(problem)
    outcomes = [
        cvxpy_backend.solve_compiled(model, SolverOptions(time_limit=20.0, threads=threads))
        for threads in (1, 2, None, 1)
    ]
    for out in outcomes:
        assert out.status is SolveStatus.OPTIMAL, out
        assert out.backend == cvxpy_backend.BACKEND_NAME
        assert out.objective_value == pytest.approx(outcomes[0].objective_value, abs=1e-7)
        for name in ("n", "y", "s"):
            np.testing.assert_allclose(out.values[name], outcomes[0].values[name], atol=1e-7)
    if not relaxed:
        assert outcomes[0].objective_value == pytest.approx(mixed_brute_force(problem))


@pytest.mark.parametrize("backend", BACKENDS)
def test_problem_without_rows_and_unused_groups(backend: Backend) -> None:
    n = VariableGroup.build("n", VarKind.INTEGER, 2, lower=1, upper=3)
    unused = VariableGroup.build("w", VarKind.CONTINUOUS, 1, lower=-1, upper=2)
    problem = SizingProblem(
        (n, unused), (), Objective("o", "minimize", {"n": np.array([1.0, -1.0])})
    )
    out = solve(problem, backend, FAST)
    assert out.status is SolveStatus.OPTIMAL, out
    np.testing.assert_array_equal(out.values["n"], [1, 3])
    assert -1.0 <= out.values["w"][0] <= 2.0
    assert out.objective_value == pytest.approx(-2.0)


@pytest.mark.parametrize("writer", [write_lp, write_mps])
def test_export_round_trips_through_highs(writer, tmp_path: Path) -> None:
    problem = mixed_problem()
    path = tmp_path / ("model.lp" if writer is write_lp else "model.mps")
    writer(problem, path)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    expected = solve(problem, Backend.CVXPY, FAST).objective_value
    assert h.getInfo().objective_function_value + problem.objective.constant == pytest.approx(
        expected
    )
    text = path.read_text()
    assert "bp_total" in text and "link_0" in text  # sanitised row names survive


@pytest.mark.parametrize(
    "backend",
    [
        Backend.CVXPY,
        Backend.HIGHS,
        pytest.param(
            Backend.PULP,
            marks=pytest.mark.xfail(
                strict=True, reason="known CBC 2.10.3 preprocessing defect (bundled with PuLP 3.3)"
            ),
        ),
    ],
)
def test_cbc_preprocessing_defect(backend: Backend) -> None:
    """min x1 + 2 x2, 1 <= 2 x1 + x2 <= 2, x binary: optimum 1 at (1, 0).

    CBC 2.10.3's preprocessing (the binary bundled with PuLP 3.3) reports 2 as "optimal" here.
    Switching preprocessing off crashes it on some integer-infeasible problems, and the current
    CBC build (cbcbox) rejects PuLP's command line, so the defect is documented, not hidden:
    this test is a strict xfail for PuLP and must pass for the other backends. Found by the
    brute-force bank above.
    """
    n = VariableGroup("n", VarKind.BINARY, np.zeros(2), np.ones(2), ("a", "b"))
    row = LinearBlock(
        "r", "test", {"n": np.array([[2.0, 1.0]])}, np.array([1.0]), np.array([2.0]), ("r",)
    )
    problem = SizingProblem((n,), (row,), Objective("obj", "minimize", {"n": np.array([1.0, 2.0])}))
    out = solve(problem, backend)
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective_value == pytest.approx(1.0)
    assert list(out.values["n"]) == [1, 0]
