"""PuLP + CBC statuses: the ``(status, sol_status)`` mapping and time-limited solves.

Issue 15: CBC 2.10.3 (bundled with PuLP 3.3) writes "Integer infeasible" when its
preprocessing runs out of time before its first pass, and PuLP reads that as
``(LpStatusInfeasible, LpSolutionNoSolutionFound)``; a time-limited solve of a feasible
problem was then reported as proven INFEASIBLE.

* The mapping table below is written from PuLP's documented meaning of the codes
  (``pulp.constants.LpStatus`` / ``LpSolution`` strings), not from the implementation.
* PuLP's own CBC reader (``COIN_CMD.get_status``) is fed the solution-file headers CBC
  2.10.3 writes (``CbcSolver.cpp``), so a change in PuLP's reading shows up here.
* A fake ``cbc`` replays the preprocessing time-out deterministically; real CBC runs
  check proven infeasibility, and a subprocess runs tiny-limit solves of a feasible
  MILP.  Where a real run may or may not find an incumbent, both allowed outcomes are
  checked in full; no test depends on how fast the machine is.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pulp
import pytest
from pulp import constants as c

from optimizer.solve.backends import Backend, pulp_backend, solve
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.status import SolverOptions, SolveStatus, map_pulp_status

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------------------
# the mapping, from PuLP's documentation
# --------------------------------------------------------------------------------------

#: PuLP's documented strings (pulp.constants / coin-or.github.io/pulp/technical/constants.html).
#: The expectations below read these meanings, so check that they are still what PuLP says.
DOCUMENTED = {
    ("LpStatus", c.LpStatusOptimal): "Optimal",
    ("LpStatus", c.LpStatusNotSolved): "Not Solved",
    ("LpStatus", c.LpStatusInfeasible): "Infeasible",
    ("LpStatus", c.LpStatusUnbounded): "Unbounded",
    ("LpStatus", c.LpStatusUndefined): "Undefined",
    ("LpSolution", c.LpSolutionOptimal): "Optimal Solution Found",
    ("LpSolution", c.LpSolutionIntegerFeasible): "Solution Found",
    ("LpSolution", c.LpSolutionNoSolutionFound): "No Solution Found",
    ("LpSolution", c.LpSolutionInfeasible): "No Solution Exists",
    ("LpSolution", c.LpSolutionUnbounded): "Solution is Unbounded",
}

S = SolveStatus
#: (status, sol_status) -> (expected if a time limit may have stopped the run,
#:                          expected if the run provably ended before its limit).
#: sol_status says what PuLP knows about the solution; status says what the solver claims.
EXPECTED = {
    # "Optimal" + "Optimal Solution Found": proven optimum.
    (c.LpStatusOptimal, c.LpSolutionOptimal): (S.OPTIMAL, S.OPTIMAL),
    # "Solution Found" (IntegerFeasible): a point, optimality not proven (PuLP's CBC
    # reader reports a time-limit stop with an incumbent as status Optimal + this).
    (c.LpStatusOptimal, c.LpSolutionIntegerFeasible): (S.FEASIBLE, S.FEASIBLE),
    (c.LpStatusNotSolved, c.LpSolutionIntegerFeasible): (S.FEASIBLE, S.FEASIBLE),
    # "Not Solved" + "No Solution Found": stopped without a point and without a proof.
    (c.LpStatusNotSolved, c.LpSolutionNoSolutionFound): (S.NO_SOLUTION, S.NO_SOLUTION),
    # "No Solution Exists" / "Solution is Unbounded" confirm the claim: proofs.
    (c.LpStatusInfeasible, c.LpSolutionInfeasible): (S.INFEASIBLE, S.INFEASIBLE),
    (c.LpStatusUnbounded, c.LpSolutionUnbounded): (S.UNBOUNDED, S.UNBOUNDED),
    # The claim without confirmation ("No Solution Found"): a proof only if no limit cut
    # the run short; otherwise nothing was found and nothing proven.
    (c.LpStatusInfeasible, c.LpSolutionNoSolutionFound): (S.NO_SOLUTION, S.INFEASIBLE),
    (c.LpStatusUnbounded, c.LpSolutionNoSolutionFound): (S.NO_SOLUTION, S.UNBOUNDED),
    # "Undefined": the solver's outcome is not known.
    (c.LpStatusUndefined, c.LpSolutionNoSolutionFound): (S.ERROR, S.ERROR),
}
# Every other combination contradicts itself ("Optimal" with "No Solution Found",
# "Infeasible" with "Solution Found", "Not Solved" with "No Solution Exists", which
# PuLP's LpStatusToSolution default produces, anything with "Undefined"...): ERROR.
ALL_PAIRS = list(itertools.product(sorted(c.LpStatus), sorted(c.LpSolution)))


def test_documented_meanings_of_pulp_codes() -> None:
    for (table, code), text in DOCUMENTED.items():
        assert getattr(c, table)[code] == text
    assert set(ALL_PAIRS) >= set(EXPECTED)


@pytest.mark.parametrize(("status", "sol_status"), ALL_PAIRS)
def test_pulp_mapping_table(status: int, sol_status: int) -> None:
    if_limit, if_finished = EXPECTED.get((status, sol_status), (S.ERROR, S.ERROR))
    label = f"{c.LpStatus[status]!r} / {c.LpSolution[sol_status]!r}"
    assert map_pulp_status(status, sol_status, limit_possibly_reached=True) is if_limit, label
    assert map_pulp_status(status, sol_status, limit_possibly_reached=False) is if_finished, label
    # Not knowing whether the limit stopped the run is treated as "it may have".
    assert map_pulp_status(status, sol_status) is if_limit, label


def test_infeasible_never_comes_from_a_pair_without_a_proof_under_a_limit() -> None:
    for status, sol_status in ALL_PAIRS:
        mapped = map_pulp_status(status, sol_status, limit_possibly_reached=True)
        if mapped is S.INFEASIBLE:
            assert sol_status == c.LpSolutionInfeasible  # "No Solution Exists"


# --------------------------------------------------------------------------------------
# PuLP's CBC reader on the headers CBC 2.10.3 writes
# --------------------------------------------------------------------------------------

#: First line of CBC's solution file (CbcSolver.cpp, "Write solution header") -> the pair
#: PuLP reads and the outcome (if a limit may have been reached, if provably not).
CBC_HEADERS = [
    ("Optimal - objective value 5.00000000", (1, 1), S.OPTIMAL, S.OPTIMAL),
    ("Optimal (within gap tolerance) - objective value 5", (1, 1), S.OPTIMAL, S.OPTIMAL),
    ("Stopped on time - objective value 58.00000000", (1, 2), S.FEASIBLE, S.FEASIBLE),
    (
        "Stopped on time (no integer solution - continuous used) - objective value 0.00000000",
        (0, 0),
        S.NO_SOLUTION,
        S.NO_SOLUTION,
    ),
    ("Infeasible - objective value 8.00000000", (-1, -1), S.INFEASIBLE, S.INFEASIBLE),
    # Both a preprocessing proof and a preprocessing time-out (issue 15) write this.
    ("Integer infeasible - objective value 0.00000000", (-1, 0), S.NO_SOLUTION, S.INFEASIBLE),
    ("Unbounded - objective value 0.00000000", (-2, -2), S.UNBOUNDED, S.UNBOUNDED),
    ("Status unknown - objective value 0.00000000", (-3, 0), S.ERROR, S.ERROR),
]


@pytest.mark.parametrize(("header", "pair", "if_limit", "if_finished"), CBC_HEADERS)
def test_pulp_reads_cbc_headers(
    tmp_path: Path, header: str, pair: tuple[int, int], if_limit: S, if_finished: S
) -> None:
    sol = tmp_path / "x.sol"
    sol.write_text(header + "\n")
    got = pulp.COIN_CMD(msg=False).get_status(str(sol))
    assert got == pair
    assert map_pulp_status(*got, limit_possibly_reached=True) is if_limit
    assert map_pulp_status(*got, limit_possibly_reached=False) is if_finished


# --------------------------------------------------------------------------------------
# the backend with a fake CBC (deterministic replay of the issue-15 run)
# --------------------------------------------------------------------------------------

#: Log of the failing run (CBC 2.10.3, market split, -sec 0.001): preprocessing ran out
#: of time and CBC called it infeasible; no "Result -" line.
PREPROCESSING_LOG = """\
Continuous objective value is 0 - 0.00 seconds
Cgl0000I Cut generators found to be infeasible! (or unbounded)
Pre-processing says infeasible or unbounded
Option for printingOptions changed from normal to all
"""
TIME_STOP_LOG = """\
Continuous objective value is 0 - 0.00 seconds
Cbc0020I Exiting on maximum time
Cbc0005I Partial search - best objective 58 (best possible 0), took 0 iterations and 0 nodes

Result - Stopped on time limit

Objective value:                58.00000000
{bound}Enumerated nodes:               0
"""


def fake_cbc(tmp_path: Path, *, header: str, log: str, wall: str | None, sleep: float) -> str:
    """A ``cbc`` stand-in: sleeps, prints ``log`` (+ the total-time line), writes ``header``."""
    total = (
        ""
        if wall is None
        else f"Total time (CPU seconds):       0.00   (Wallclock seconds):       {wall}\n"
    )
    script = tmp_path / "cbc"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""\
            import sys, time
            time.sleep({sleep!r})
            sys.stdout.write({(log + total)!r})
            sol = sys.argv[sys.argv.index("-solution") + 1]
            with open(sol, "w") as f:
                f.write({header!r} + "\\n")
            """
        )
    )
    script.chmod(0o755)
    return str(script)


def small_milp() -> SizingProblem:
    x = VariableGroup.build("x", VarKind.INTEGER, 2, lower=0.0, upper=4.0)
    rows = LinearBlock("cap", "test", {"x": np.ones((1, 2))}, -np.inf, 7.0, ("cap",))
    return SizingProblem((x,), (rows,), Objective("theta", "maximize", {"x": np.ones(2)}))


INTEGER_INFEASIBLE = "Integer infeasible - objective value 0.00000000"


@pytest.mark.parametrize(
    ("time_limit", "sleep", "wall", "expected"),
    [
        # CBC ran past the limit (both clocks agree): the claim is not a proof.
        (0.01, 0.05, "0.05", S.NO_SOLUTION),
        # No total-time line and the call took longer than the limit: not a proof.
        (0.01, 0.05, None, S.NO_SOLUTION),
        # The call took longer than the limit, but CBC's own clock shows it finished well
        # before it (e.g. writing a large MPS file took the time): a proof.
        (0.2, 0.3, "0.00", S.INFEASIBLE),
        # The whole call ended before the limit: a proof.
        (60.0, 0.0, "0.00", S.INFEASIBLE),
    ],
)
def test_integer_infeasible_claim_depends_on_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    time_limit: float,
    sleep: float,
    wall: str | None,
    expected: S,
) -> None:
    path = fake_cbc(
        tmp_path, header=INTEGER_INFEASIBLE, log=PREPROCESSING_LOG, wall=wall, sleep=sleep
    )
    monkeypatch.setattr(pulp_backend, "_cbc_path", lambda: path)
    out = solve(small_milp(), Backend.PULP, SolverOptions(time_limit=time_limit))
    assert out.status is expected, out
    assert "PuLP status 'Infeasible', sol_status 0" in out.message
    assert out.values is None and out.objective_value is None and out.mip_gap is None
    if expected is S.NO_SOLUTION:
        assert "not a proof" in out.message


def test_time_stop_in_log_is_never_a_proof(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = TIME_STOP_LOG.format(bound="")
    path = fake_cbc(tmp_path, header=INTEGER_INFEASIBLE, log=log, wall="0.00", sleep=0.0)
    monkeypatch.setattr(pulp_backend, "_cbc_path", lambda: path)
    out = solve(small_milp(), Backend.PULP, SolverOptions(time_limit=60.0))
    assert out.status is S.NO_SOLUTION, out


@pytest.mark.parametrize(
    ("bound_line", "bound"),
    [("Lower bound:                    40.000\n", 40.0), ("", 0.0)],
    ids=["bound-line", "lp-relaxation-fallback"],
)
def test_time_stop_with_incumbent_reports_the_gap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bound_line: str, bound: float
) -> None:
    log = TIME_STOP_LOG.format(bound=bound_line)
    path = fake_cbc(
        tmp_path,
        header="Stopped on time - objective value 58.00000000",
        log=log,
        wall="0.02",
        sleep=0.0,
    )
    monkeypatch.setattr(pulp_backend, "_cbc_path", lambda: path)
    out = solve(small_milp(), Backend.PULP, SolverOptions(time_limit=0.01))
    assert out.status is S.FEASIBLE, out
    assert out.best_bound == pytest.approx(bound)
    assert out.mip_gap == pytest.approx(abs(58.0 - bound) / 58.0)


# --------------------------------------------------------------------------------------
# real CBC: proven infeasibility stays INFEASIBLE
# --------------------------------------------------------------------------------------


def test_real_cbc_lp_infeasible_is_infeasible() -> None:
    """x1 + x2 <= 8 and >= 9: Clp proves the LP relaxation infeasible, (-1, -1)."""
    x = VariableGroup.build("x", VarKind.INTEGER, 2, lower=0.0, upper=4.0)
    rows = LinearBlock(
        "cap",
        "test",
        {"x": np.ones((2, 2))},
        np.array([-np.inf, 9.0]),
        np.array([8.0, np.inf]),
        ("up", "lo"),
    )
    problem = SizingProblem((x,), (rows,), Objective("theta", "maximize", {"x": np.ones(2)}))
    out = solve(problem, Backend.PULP, SolverOptions(time_limit=60.0))
    assert out.status is S.INFEASIBLE, out
    assert "PuLP status 'Infeasible', sol_status -1" in out.message


def test_real_cbc_integer_infeasible_is_infeasible() -> None:
    """2 x1 + 2 x2 == 3 with integer x: LP-feasible, integer-infeasible, PuLP (-1, 0)."""
    x = VariableGroup.build("x", VarKind.INTEGER, 2, lower=0.0, upper=4.0)
    rows = LinearBlock("odd", "test", {"x": np.full((1, 2), 2.0)}, 3.0, 3.0, ("odd",))
    problem = SizingProblem((x,), (rows,), Objective("theta", "maximize", {"x": np.ones(2)}))
    out = solve(problem, Backend.PULP, SolverOptions(time_limit=60.0))
    assert out.status is S.INFEASIBLE, out
    assert "PuLP status 'Infeasible', sol_status 0" in out.message
    # Under a tiny limit the same claim cannot be told from a time-out: never a wrong
    # point, and INFEASIBLE only if the run provably ended before the limit.
    out = solve(problem, Backend.PULP, SolverOptions(time_limit=0.001))
    assert out.status in {S.INFEASIBLE, S.NO_SOLUTION}, out
    assert out.values is None


# --------------------------------------------------------------------------------------
# real CBC in a fresh process, tiny limit, feasible MILP
# --------------------------------------------------------------------------------------

SUBPROCESS_CODE = """
import json, math
import numpy as np
from optimizer.solve.backends import Backend, solve
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.status import SolverOptions

# Market split with slacks: every x has a feasible completion (s = slack), so the
# problem is feasible, but the LP bound is 0 and no zero-slack split exists.
rng = np.random.default_rng(0)
m, n = 4, 30
A = rng.integers(0, 100, size=(m, n)).astype(float)
d = np.floor(A.sum(axis=1) / 2)
x = VariableGroup.build("x", VarKind.BINARY, n)
s = VariableGroup.build("s", VarKind.CONTINUOUS, 2 * m)
split = LinearBlock("split", "test", {"x": A, "s": np.hstack([np.eye(m), -np.eye(m)])},
                    d, d, tuple(f"split[{i}]" for i in range(m)))
p = SizingProblem((x, s), (split,), Objective("slack", "minimize", {"s": np.ones(2 * m)}))
witness = {"x": np.zeros(n), "s": np.concatenate([d, np.zeros(m)])}
assert p.is_feasible(witness, tol=1e-9)
for _ in range(RUNS):
    out = solve(p, Backend.PULP, SolverOptions(time_limit=LIMIT))
    print(json.dumps({
        "status": out.status.value,
        "gap": out.mip_gap,
        "bound": out.best_bound,
        "objective": out.objective_value,
        "has_values": out.values is not None,
        "feasible": None if out.values is None else bool(p.is_feasible(out.values, tol=1e-6)),
        "message": out.message,
    }))
"""


def test_tiny_time_limit_in_subprocess_is_feasible_or_no_solution() -> None:
    code = SUBPROCESS_CODE.replace("RUNS", "30").replace("LIMIT", "0.001")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    runs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(runs) == 30, proc.stdout
    for run in runs:
        assert run["status"] != S.INFEASIBLE.value, run  # the problem is feasible
        assert run["status"] in {S.FEASIBLE.value, S.NO_SOLUTION.value}, run
        if run["status"] == S.FEASIBLE.value:
            assert run["has_values"] and run["feasible"], run
            assert run["gap"] is not None and math.isfinite(run["gap"]) and run["gap"] > 0, run
            assert run["bound"] is not None and run["bound"] <= run["objective"] + 1e-6, run
        else:
            assert not run["has_values"] and run["objective"] is None and run["gap"] is None, run
