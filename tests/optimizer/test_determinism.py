"""Deterministic solver limits: the same scenario gives the same answer on a busy machine.

Every MILP of a scenario is limited by a branch-and-bound node budget (``solver.node_limit``,
HiGHS ``mip_max_nodes``, CBC ``-maxNodes``); the wall-clock ``time_limit`` is only an outer
safety net. These tests check that a node limit stops a MILP at the same point every time, that
the stop is reported (never silent), and that a whole ``thetaplan solve`` gives byte-identical
JSON (timings aside) alone and beside two CPU-bound processes. None of them asserts on elapsed
time.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optimizer.inputs.spec import load_scenario
from optimizer.solve.backends import solve
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.solving import SolveContext
from optimizer.solve.status import SolverOptions, SolveStatus

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scenarios"
BACKENDS = ("cvxpy", "highs", "pulp")


def market_split(m: int = 4, n: int = 30, seed: int = 0) -> SizingProblem:
    """Cornuéjols–Dawande market split with slacks (LP bound 0; no quick proof exists)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(m, n)).astype(float)
    d = np.floor(a.sum(axis=1) / 2)
    x = VariableGroup.build("x", VarKind.BINARY, n)
    s = VariableGroup.build("s", VarKind.CONTINUOUS, 2 * m)
    split = LinearBlock(
        "split",
        "test",
        {"x": a, "s": np.hstack([np.eye(m), -np.eye(m)])},
        d,
        d,
        tuple(f"split[{i}]" for i in range(m)),
    )
    return SizingProblem((x, s), (split,), Objective("slack", "minimize", {"s": np.ones(2 * m)}))


@pytest.mark.parametrize("backend", BACKENDS)
def test_node_limit_stops_at_the_same_point_every_time(backend: str) -> None:
    """Two solves under a 3-node budget: same status, incumbent, bound; stopped by 'nodes'."""
    problem = market_split()
    opts = SolverOptions(node_limit=3, time_limit=600.0)
    first, second = (solve(problem, backend, opts) for _ in range(2))
    for out in (first, second):
        assert out.status is SolveStatus.FEASIBLE, out
        assert out.limit == "nodes", out
        assert out.mip_gap is not None and out.mip_gap > 0
        assert problem.is_feasible(out.values, tol=1e-6)
    assert first.objective_value == second.objective_value
    assert first.best_bound == second.best_bound
    for g in first.values:
        np.testing.assert_array_equal(first.values[g], second.values[g])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_finished_solve_reports_no_limit(backend: str) -> None:
    """A small market split is solved to optimality within the node budget: ``limit`` None."""
    out = solve(market_split(m=2, n=8), backend, SolverOptions(node_limit=100_000))
    assert out.status is SolveStatus.OPTIMAL, out
    assert out.limit is None


def test_solver_options_reject_a_bad_node_limit() -> None:
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="node_limit"):
            SolverOptions(node_limit=bad)


def test_a_stop_at_the_node_limit_is_recorded_in_the_fallbacks() -> None:
    ctx = SolveContext("highs", SolverOptions(node_limit=2))
    out = ctx.solve(market_split(), what="test MILP")
    assert out.limit == "nodes"
    [fb] = ctx.fallbacks
    assert fb.step == "node_limit"
    assert "test MILP" in fb.reason and "node limit (2)" in fb.reason and "gap" in fb.reason


def test_scenario_node_limit_reaches_the_solver_options() -> None:
    sc = load_scenario(FIX / "minimal.yaml", ["solver.node_limit=7"])
    assert sc.solver.options().node_limit == 7
    assert sc.solver.options().mip_rel_gap == sc.solver.mip_gap
    with pytest.raises(Exception, match="node_limit"):
        load_scenario(FIX / "minimal.yaml", ["solver.node_limit=-1"])


def test_scenario_solves_run_one_highs_thread_by_default() -> None:
    """``solver.threads`` defaults to 1 and reaches HiGHS' own ``threads`` option."""
    from optimizer.solve.backends import highs_backend

    sc = load_scenario(FIX / "minimal.yaml")
    assert sc.solver.threads == 1
    opts = sc.solver.options()
    assert opts.threads == 1
    model = highs_backend.compile_problem(market_split(m=2, n=8))
    out = highs_backend.solve_compiled(model, opts)
    assert out.status is SolveStatus.OPTIMAL, out
    assert model.highs.getOptionValue("threads")[1] == 1
    assert load_scenario(FIX / "minimal.yaml", ["solver.threads=2"]).solver.options().threads == 2
    with pytest.raises(Exception, match="threads"):
        load_scenario(FIX / "minimal.yaml", ["solver.threads=0"])


# ------------------------------------------------------------------------------------------
# the whole CLI, alone and on a busy machine


def _spin() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


def _solve_json(*args: str) -> dict:
    script = Path(sys.executable).parent / "thetaplan"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from optimizer.cli.app import main; main()"]
    )
    proc = subprocess.run(
        [*cmd, "solve", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    doc.pop("timings")
    for key in [k for k in doc["solver"] if "seconds" in k]:
        doc["solver"].pop(key)
    return doc


def test_same_json_alone_and_beside_two_cpu_bound_processes() -> None:
    """``thetaplan solve`` alone and with both cores busy: identical JSON but the timings.

    The node budget is set to 1 so that most MILPs of the run stop at a limit: the limit stops
    must land at the same place whatever the load.
    """
    args = (str(FIX / "minimal_risk.yaml"), "--set", "solver.node_limit=1")
    alone = _solve_json(*args)
    ctx = mp.get_context("spawn")
    busy = [ctx.Process(target=_spin, daemon=True) for _ in range(2)]
    for p in busy:
        p.start()
    try:
        loaded = _solve_json(*args)
    finally:
        for p in busy:
            p.kill()
            p.join()
    assert loaded == alone
    steps = [f["step"] for f in alone["verdict"]["fallbacks"]]
    assert "node_limit" in steps  # the budget did stop MILPs, and it says so


def test_diagnostic_lps_of_a_cvxpy_scenario_run_on_highspy() -> None:
    """``SolveContext.for_lp``: HiGHS directly for the cvxpy backend (same solver, no
    canonicalisation), the backend itself otherwise; options and fallbacks shared. The LP's
    optimum and row duals agree with cvxpy's own solve of the same LP."""
    fallbacks: list = []
    ctx = SolveContext("cvxpy", SolverOptions(node_limit=50), fallbacks)
    lp_ctx = ctx.for_lp()
    assert lp_ctx.backend == "highs" and lp_ctx.options is ctx.options
    assert lp_ctx.fallbacks is fallbacks
    for other in ("highs", "pulp"):
        c = SolveContext(other, SolverOptions())
        assert c.for_lp() is c
    # max 3a + 2b + 4c s.t. a + b + c <= 10, a + 2c <= 8, 0 <= a, b, c <= 10. By hand: the
    # dual min 10 y1 + 8 y2 s.t. y1 >= 2 (b), y1 + y2 >= 3 (a), y1 + 2 y2 >= 4 (c) has the
    # unique optimum y = (2, 1), value 28 (e.g. a = 0, b = 6, c = 4)
    x = VariableGroup.build("x", VarKind.CONTINUOUS, 3, upper=10.0)
    rows = LinearBlock(
        "caps",
        "test",
        {"x": np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 2.0]])},
        np.array([-np.inf, -np.inf]),
        np.array([10.0, 8.0]),
        ("total", "second"),
    )
    lp = SizingProblem(
        (x,), (rows,), Objective("value", "maximize", {"x": np.array([3.0, 2.0, 4.0])})
    )
    direct, via_cvxpy = lp_ctx.solve(lp), ctx.solve(lp)
    assert direct.status is via_cvxpy.status is SolveStatus.OPTIMAL
    assert direct.objective_value == pytest.approx(via_cvxpy.objective_value, abs=1e-9)
    assert direct.objective_value == pytest.approx(28.0)
    assert direct.duals == pytest.approx({"total": 2.0, "second": 1.0})
    assert direct.duals.keys() == via_cvxpy.duals.keys()
    for name in direct.duals:
        np.testing.assert_allclose(direct.duals[name], via_cvxpy.duals[name], atol=1e-9)
