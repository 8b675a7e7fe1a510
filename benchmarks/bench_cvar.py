"""CVaR-capped sizing MILP: solve time vs scenario count, beside raw HiGHS on the same matrices.

For S in (1k, 5k, 20k) Monte Carlo 1-day scenarios of the phase-4 candidates, the max-income MILP
with ``CVaR_99 <= cap`` is solved three ways, all in this run:

1. textbook Rockafellar–Uryasev model through cvxpy + HiGHS (all S scenario rows);
2. raw HiGHS (highspy) on exactly the same matrices (the reference);
3. thetaplan's cutting-plane CVaR (``optimizer.solve.solving.solve_sizing``), exact by construction.

Each size is run at the stated cap (``--cap``, which may be slack: the max-income book's CVaR can
be below it) and at half the uncapped max-income book's CVaR (a cap that binds).

It prints build/compile/solve seconds, the objective of each (they must agree within the MIP gap)
and the ratios. Run: ``python benchmarks/bench_cvar.py [--sizes 1000 5000 20000] [--gap 1e-3]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp

from models.measure.scenarios import pnl_matrix
from models.risk import cvar
from optimizer.formulation.build import build_problem
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData, _maps, _moves, _structures
from optimizer.inputs.spec import ObjectiveKind, load_scenario
from optimizer.pipeline import prepare
from optimizer.solve.backends import solve
from optimizer.solve.problem import SizingProblem, VarKind
from optimizer.solve.solving import SolveContext, solve_sizing
from optimizer.solve.status import SolverOptions

ROOT = Path(__file__).resolve().parents[1]


def raw_highs(problem: SizingProblem, gap: float, time_limit: float) -> tuple[float, float, float]:
    """(pass seconds, run seconds, objective) of ``problem`` solved by highspy directly."""
    t0 = time.perf_counter()
    mats = [sp.csc_array(problem.matrix(g.name)) for g in problem.variables]
    a = sp.hstack(mats, format="csc")
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = a.shape[1]
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.concatenate([problem.objective_vector(g.name) for g in problem.variables])
    lo = np.concatenate([g.lower for g in problem.variables])
    hi = np.concatenate([g.upper for g in problem.variables])
    lp.col_lower_ = np.where(np.isfinite(lo), lo, -inf)
    lp.col_upper_ = np.where(np.isfinite(hi), hi, inf)
    lp.row_lower_ = np.where(np.isfinite(problem.row_lower), problem.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(problem.row_upper), problem.row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    kinds = []
    for g in problem.variables:
        t = (
            highspy.HighsVarType.kContinuous
            if g.kind is VarKind.CONTINUOUS
            else highspy.HighsVarType.kInteger
        )
        kinds += [t] * g.size
    lp.integrality_ = kinds
    lp.sense_ = (
        highspy.ObjSense.kMaximize
        if problem.objective.sense == "maximize"
        else highspy.ObjSense.kMinimize
    )
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", time_limit)
    h.passModel(lp)
    passed = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    return passed, time.perf_counter() - t1, h.getInfo().objective_function_value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--cap", type=float, default=0.03, help="CVaR_99 cap, fraction of NLV")
    args = ap.parse_args()
    sc = load_scenario(
        ROOT / "scenarios" / "tom_king" / "phase4.yaml",
        ["target.success_probability=null"],
    )
    prep = prepare(sc)
    cs, limits, market = prep.candidates, prep.limits, prep.market
    maps = _maps(sc, cs.table["underlying"])
    cands = _structures(cs)
    mult = cs.table["multiplier"].to_numpy(dtype=float)
    fx = cs.table["fx"].to_numpy(dtype=float)
    lim = Limits(**{**limits.__dict__, "cvar_caps": ((0.99, args.cap),), "stress_cap": None})
    opts = SolverOptions(time_limit=args.time_limit, mip_rel_gap=args.gap)
    print(f"phase-4 candidates: {len(cs)}; CVaR_99 cap {args.cap:.1%} of NLV; MIP gap {args.gap}")
    header = (
        f"{'S':>6} {'cap':>6} {'':>5} | {'textbook cvxpy: build+compile / solve':>38} | {'raw HiGHS: pass / run':>22} "
        f"| {'cutting planes: total':>22} | objectives (textbook / raw / cuts) | speed-up"
    )
    print(header)
    print("-" * len(header))
    for s in args.sizes:
        moves = _moves(sc, maps, market, kind="monte_carlo", n=s, seed=7)
        pnl = pnl_matrix(cands, moves, multipliers=mult, fx=fx)
        risk = RiskData(
            pnl, moves.labels, moves.kind, moves.horizon_days, np.zeros((0, len(cs))), (), None
        )
        # the uncapped max-income book's CVaR: a cap below it binds (the stated cap may not)
        free = Limits(**{**lim.__dict__, "cvar_caps": ()})
        top, _ = solve_sizing(
            cs, free, ObjectiveKind.MAX_INCOME, SolveContext("cvxpy", opts), risk=risk
        )
        c_top = cvar(-(pnl @ top.values["n"]), 0.99) / lim.nlv
        for cap in (args.cap, 0.5 * c_top):
            _one_size(
                s,
                cs,
                Limits(**{**lim.__dict__, "cvar_caps": ((0.99, cap),)}),
                risk,
                pnl,
                opts,
                args,
                binds=c_top > cap,
            )


def _one_size(s, cs, lim, risk, pnl, opts, args, *, binds: bool) -> None:
    """One row of the table: the three ways at one scenario count and cap."""
    cap = lim.cvar_caps[0][1]
    if True:
        t0 = time.perf_counter()
        full = build_problem(cs, lim, ObjectiveKind.MAX_INCOME, risk=risk)
        build = time.perf_counter() - t0
        tb = solve(full, "cvxpy", opts)
        passed, run, raw_obj = raw_highs(full, args.gap, args.time_limit)
        t0 = time.perf_counter()
        cut, _ = solve_sizing(
            cs, lim, ObjectiveKind.MAX_INCOME, SolveContext("cvxpy", opts), risk=risk
        )
        cuts = time.perf_counter() - t0
        textbook_total = build + tb.compile_seconds + tb.solve_seconds
        check = cvar(-(pnl @ cut.values["n"]), 0.99) <= cap * lim.nlv * (1 + 1e-6)
        print(
            f"{s:>6} {cap:>6.2%} {'binds' if binds else 'slack':>5} "
            f"| {build + tb.compile_seconds:>17.2f}s / {tb.solve_seconds:>16.2f}s "
            f"| {passed:>9.2f}s / {run:>8.2f}s | {cuts:>21.2f}s "
            f"| {tb.objective_value:,.1f} / {raw_obj:,.1f} / {cut.objective_value:,.1f} "
            f"| {textbook_total / cuts:>5.1f}x vs textbook, {run / cuts:>5.1f}x vs raw HiGHS"
            f"{'' if check else '  (CVaR CHECK FAILED)'}"
        )


if __name__ == "__main__":
    main()
