"""Backend overhead benchmark: compile and solve times vs raw HiGHS on the same matrices.

Builds a random knapsack-like sizing problem of realistic size (default 300 integer
contract counts, 40 dense rows: a buying-power total, per-strategy caps, two-sided
greek bands and correlation-group limits) and reports, for each backend, the time to
compile the ``SizingProblem`` into the backend model and the time of the solver call,
next to the time of raw HiGHS (highspy, ``passModel`` with the same CSR data, the options
the highs backend sets; every variable group of the problem, side by side).  Backends:
``cvxpy-highs``, ``pulp-cbc`` and ``highs`` (the direct highspy backend, whose overhead over
raw HiGHS should be near zero).  Times are wall seconds; the machine (nproc, CPU model, load
average) is printed first.  Ratios are measured in the same run::

    .venv/bin/python benchmarks/bench_solve.py [--candidates 300] [--rows 40]
        [--seed 1] [--time-limit 60] [--gap 1e-3] [--repeats 3]

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.solve.backends import cvxpy_backend, highs_backend, pulp_backend
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.status import SolveOutcome, SolverOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _recording import backend_highs_options, print_machine  # noqa: E402


def knapsack_sizing_problem(k: int, m: int, seed: int) -> SizingProblem:
    """Random multi-dimensional knapsack shaped like a sizing problem.

    Parameters
    ----------
    k : int
        Number of candidates (integer counts ``n``, bounds 0..10 contracts).
    m : int
        Number of dense rows (>= 4).
    seed : int
        numpy seed.

    Returns
    -------
    SizingProblem
        ``maximize theta @ n`` with theta correlated with buying power (hard).
    """
    rng = np.random.default_rng(seed)
    upper = np.full(k, 10.0)
    bp = rng.uniform(500.0, 6000.0, size=k)  # account currency per contract
    theta = bp * rng.uniform(0.005, 0.015, size=k)
    n_caps = max(1, (m - 1) // 3)
    n_greeks = max(1, (m - 1) // 3)
    n_groups = m - 1 - n_caps - n_greeks
    strategy = rng.integers(0, n_caps, size=k)
    caps = np.where(strategy[None, :] == np.arange(n_caps)[:, None], bp[None, :], 0.0)
    # dense rows: every candidate has some exposure to every greek / correlation factor
    greeks = rng.normal(0.0, 1.0, size=(n_greeks, k)) * 10.0
    groups = rng.uniform(0.0, 1.0, size=(n_groups, k)) * bp[None, :]
    nlv = 0.02 * bp.sum() * upper.mean()
    band = 0.01 * np.abs(greeks).sum(axis=1) * upper.mean()  # portfolio greek limits
    n = VariableGroup.build(
        "n", VarKind.INTEGER, k, upper=upper, labels=[f"cand{i}" for i in range(k)]
    )
    blocks = (
        LinearBlock("bp_total", "buying_power", {"n": bp[None, :]}, -np.inf, nlv, ("bp_total",)),
        LinearBlock(
            "strategy_bp",
            "buying_power",
            {"n": caps},
            -np.inf,
            0.45 * nlv,
            tuple(f"bp_cap[s{i}]" for i in range(n_caps)),
        ),
        LinearBlock(
            "greeks",
            "greeks",
            {"n": greeks},
            -band,
            band,
            tuple(f"greek_band[{i}]" for i in range(n_greeks)),
        ),
        LinearBlock(
            "groups",
            "positions",
            {"n": groups},
            -np.inf,
            0.5 * nlv,
            tuple(f"group_limit[{i}]" for i in range(n_groups)),
        ),
    )
    return SizingProblem((n,), blocks, Objective("theta", "maximize", {"n": theta}))


def raw_highs(problem: SizingProblem, options: SolverOptions) -> tuple[float, float, float, str]:
    """Solve the same matrices with highspy directly: every variable group, side by side.

    Columns are the groups' elements in group order (integer columns for INTEGER and BINARY
    groups, continuous otherwise), rows are ``problem.row_names``, the objective constant is
    HiGHS' objective offset, as in :mod:`optimizer.solve.backends.highs_backend` (the whole model,
    not only the first group).

    Returns
    -------
    tuple
        (build seconds, run seconds, objective, model status name).
    """
    extra = backend_highs_options(options, mip=problem.is_mip)  # probed once, not timed
    t0 = time.perf_counter()
    groups = problem.variables
    a = sp.csr_array(sp.hstack([problem.matrix(g.name) for g in groups], format="csr"))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = sum(g.size for g in groups)
    lp.num_row_ = problem.n_rows
    lp.col_cost_ = np.concatenate(
        [np.asarray(problem.objective_vector(g.name), dtype=float) for g in groups]
    )
    lp.col_lower_ = np.concatenate([np.asarray(g.lower, dtype=float) for g in groups])
    lp.col_upper_ = np.concatenate([np.asarray(g.upper, dtype=float) for g in groups])
    lp.col_lower_ = np.where(np.isfinite(lp.col_lower_), lp.col_lower_, -inf)
    lp.col_upper_ = np.where(np.isfinite(lp.col_upper_), lp.col_upper_, inf)
    lp.row_lower_ = np.where(np.isfinite(problem.row_lower), problem.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(problem.row_upper), problem.row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if problem.is_mip:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if g.is_integral else highspy.HighsVarType.kContinuous
            for g in groups
            for _ in range(g.size)
        ]
    lp.offset_ = float(problem.objective.constant)
    lp.sense_ = (
        highspy.ObjSense.kMaximize
        if problem.objective.sense == "maximize"
        else highspy.ObjSense.kMinimize
    )
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(options.time_limit))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    for name, value in extra.items():  # + any limit the backend sets
        h.setOptionValue(name, value)
    h.passModel(lp)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    run = time.perf_counter() - t1
    return build, run, h.getInfo().objective_function_value, h.getModelStatus().name


def _fmt(out: SolveOutcome) -> str:
    gap = "n/a" if out.mip_gap is None else f"{out.mip_gap:.2e}"
    obj = "n/a" if out.objective_value is None else f"{out.objective_value:,.2f}"
    return f"status {out.status.value:<9} objective {obj:>12}  gap {gap}"


def bench(problem: SizingProblem, options: SolverOptions, build: float, repeats: int) -> None:
    """Time raw HiGHS and the three backends on ``problem`` and print the ratios."""
    raw_build, raw_run, raw_obj, raw_status = raw_highs(problem, options)
    print(
        f"raw HiGHS   : build {raw_build * 1e3:8.2f} ms  run {raw_run:8.3f} s  "
        f"status {raw_status} objective {raw_obj:,.2f}"
    )
    rows = []
    for name, module in (
        ("cvxpy-highs", cvxpy_backend),
        ("pulp-cbc", pulp_backend),
        ("highs", highs_backend),
    ):
        compile_times = []
        model = None
        for _ in range(max(1, repeats)):
            model = module.compile_problem(problem)
            compile_times.append(model.compile_seconds)
        compile_s = statistics.median(compile_times)
        out = module.solve_compiled(model, options)
        rows.append((name, compile_s, out))
        print(
            f"{name:<12}: compile {compile_s * 1e3:8.2f} ms  solve {out.solve_seconds:8.3f} s  "
            f"{_fmt(out)}"
        )
    print("ratios (same run; raw HiGHS run time as the reference):")
    print(f"  SizingProblem build / raw HiGHS run   : {build / raw_run:9.2%}")
    for name, compile_s, out in rows:
        print(f"  {name:<12} compile / raw HiGHS run : {compile_s / raw_run:9.2%}")
        print(f"  {name:<12} solve / raw HiGHS run   : {out.solve_seconds / raw_run:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--gap", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3, help="compile repetitions (median)")
    args = parser.parse_args()
    print_machine("bench_solve: backend overhead vs raw HiGHS (wall seconds)")
    options = SolverOptions(time_limit=args.time_limit, mip_rel_gap=args.gap)

    t0 = time.perf_counter()
    problem = knapsack_sizing_problem(args.candidates, args.rows, args.seed)
    build = time.perf_counter() - t0
    nnz = sum(problem.matrix(g.name).nnz for g in problem.variables)
    print(
        f"problem: {problem.n_variables} integer vars, {problem.n_rows} rows, {nnz} nonzeros; "
        f"time limit {options.time_limit:g} s, mip_rel_gap {options.mip_rel_gap:g}"
    )
    print(f"SizingProblem build (numpy + validation): {build * 1e3:8.2f} ms")
    print("\n== MILP ==")
    bench(problem, options, build, args.repeats)
    print("\n== LP relaxation (same matrices; what a sweep point or a dual solve costs) ==")
    bench(problem.relaxed(), options, build, args.repeats)


if __name__ == "__main__":
    main()
