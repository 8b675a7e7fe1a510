"""Direct highspy backend: brute force, agreement with cvxpy / PuLP, statuses, duals, reuse.

The references are the same as in ``test_backends.py`` (whose helpers are reused):
exhaustive enumeration for integer problems, finite differences of the re-solved
optimum for duals and reduced costs, and the two other backends for agreement.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings

from optimizer.solve.backends import Backend, highs_backend, solve
from optimizer.solve.problem import (
    LinearBlock,
    Objective,
    ObjectiveSense,
    SizingProblem,
    VariableGroup,
    VarKind,
)
from optimizer.solve.status import HIGHS_STATUS_MAP, SolverOptions, SolveStatus, map_highs_status
from tests.optimizer.test_backends import (
    FAST,
    assert_consistent,
    brute_force,
    market_split,
    mixed_brute_force,
    mixed_problem,
    random_lp,
    replace_block_bounds,
    small_integer_problems,
)

HIGHS = Backend.HIGHS
PHASE4 = Path(__file__).resolve().parents[2] / "scenarios" / "tom_king" / "phase4.yaml"
OTHERS = (Backend.CVXPY, Backend.PULP)


def knapsack(seed: int = 0, k: int = 12, sense: ObjectiveSense = ObjectiveSense.MAXIMIZE):
    """Small multi-row integer knapsack with a two-sided band and an equality-free mix."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(1.0, 5.0, size=(3, k))
    n = VariableGroup.build("n", VarKind.INTEGER, k, upper=3)
    rows = LinearBlock(
        "caps",
        "buying_power",
        {"n": w},
        np.array([-np.inf, 2.0, -np.inf]),
        np.array([20.0, 25.0, 18.0]),
        ("bp_total", "band", "group"),
    )
    c = rng.uniform(0.5, 2.0, size=k) * (1.0 if sense is ObjectiveSense.MAXIMIZE else -1.0)
    return SizingProblem((n,), (rows,), Objective("theta", sense, {"n": c}, constant=1.5))


# --------------------------------------------------------------------------------------
# status map
# --------------------------------------------------------------------------------------


def test_highs_status_map_covers_highspy_model_statuses() -> None:
    assert set(HIGHS_STATUS_MAP) == set(highspy.HighsModelStatus.__members__)
    assert map_highs_status("kOptimal", has_incumbent=True) is SolveStatus.OPTIMAL
    assert map_highs_status("kOptimal", has_incumbent=False) is SolveStatus.ERROR
    assert map_highs_status("kInfeasible", has_incumbent=False) is SolveStatus.INFEASIBLE
    assert map_highs_status("kUnbounded", has_incumbent=False) is SolveStatus.UNBOUNDED
    assert (
        map_highs_status("kUnboundedOrInfeasible", has_incumbent=False)
        is SolveStatus.INFEASIBLE_OR_UNBOUNDED
    )
    for limit in (
        "kTimeLimit",
        "kIterationLimit",
        "kSolutionLimit",
        "kObjectiveBound",
        "kObjectiveTarget",
        "kInterrupt",
        "kHighsInterrupt",
        "kMemoryLimit",
    ):
        assert map_highs_status(limit, has_incumbent=True) is SolveStatus.FEASIBLE
        assert map_highs_status(limit, has_incumbent=False) is SolveStatus.NO_SOLUTION
    for error in ("kNotset", "kSolveError", "kModelError", "kUnknown", "kSomethingNew"):
        assert map_highs_status(error, has_incumbent=True) is SolveStatus.ERROR


def test_dispatch_and_backend_name() -> None:
    out = solve(mixed_problem(), "highs", FAST)
    assert out.backend == highs_backend.BACKEND_NAME == "highs"
    assert Backend("highs") is Backend.HIGHS
    assert out.compile_seconds > 0 and out.solve_seconds > 0


# --------------------------------------------------------------------------------------
# brute-force bank: highs vs enumeration vs cvxpy vs pulp
# --------------------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(problem=small_integer_problems())
def test_highs_matches_brute_force_and_other_backends(problem: SizingProblem) -> None:
    best, _ = brute_force(problem)
    out = solve(problem, HIGHS, FAST)
    others = {b: solve(problem, b, FAST) for b in OTHERS}
    for b, other in others.items():
        assert other.status is out.status, (b, other, out)
    if best is None:
        assert out.status is SolveStatus.INFEASIBLE, out
        assert out.values is None and out.objective_value is None and out.mip_gap is None
        return
    assert out.status is SolveStatus.OPTIMAL, out
    assert_consistent(problem, out)
    assert out.objective_value == pytest.approx(best, abs=1e-6)
    for b, other in others.items():
        if b is Backend.PULP:  # CBC 2.10.3 defect: never better than the optimum, may be worse
            sign = problem.objective.sign
            assert other.objective_value * sign <= best * sign + 1e-6, b
            continue
        assert out.objective_value == pytest.approx(other.objective_value, abs=1e-6), b
    assert out.duals is None and out.reduced_costs is None  # MIP: no duals
    assert out.mip_gap is not None and 0.0 <= out.mip_gap <= 1e-6
    assert out.best_bound is not None  # HiGHS' dual bound includes the constant
    assert out.best_bound * problem.objective.sign >= best * problem.objective.sign - 1e-6
    assert out.best_bound == pytest.approx(best, abs=1e-5)


@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_objective_constant_and_bound_on_both_senses(sense: ObjectiveSense) -> None:
    problem = knapsack(1, sense=sense)
    out = solve(problem, HIGHS, FAST)
    ref = solve(problem, Backend.CVXPY, FAST)
    assert out.status is ref.status is SolveStatus.OPTIMAL
    assert_consistent(problem, out)
    assert out.objective_value == pytest.approx(ref.objective_value, abs=1e-6)
    assert out.best_bound == pytest.approx(ref.best_bound, abs=1e-5)
    without = problem.with_objective(
        Objective("theta", sense, problem.objective.terms, constant=0.0)
    )
    assert solve(without, HIGHS, FAST).objective_value == pytest.approx(
        out.objective_value - 1.5, abs=1e-9
    )


def test_mixed_groups_match_enumeration_and_other_backends() -> None:
    problem = mixed_problem()
    for variant in (
        problem,
        problem.with_fixed("y", [1, 0, 1]),
        problem.without_blocks("variants"),
    ):
        out = solve(variant, HIGHS, FAST)
        assert out.status is SolveStatus.OPTIMAL, out
        assert_consistent(variant, out)
        assert out.values["s"].dtype == np.float64
        assert out.objective_value == pytest.approx(mixed_brute_force(variant), abs=1e-6)
        assert out.duals is None and out.reduced_costs is None
    relaxed = problem.relaxed()
    out = solve(relaxed, HIGHS, FAST)
    ref = solve(relaxed, Backend.CVXPY, FAST)
    assert out.objective_value == pytest.approx(ref.objective_value, abs=1e-6)
    assert set(out.duals) == set(problem.row_names)
    assert all(v.dtype == np.float64 for v in out.values.values())


def test_sparse_blocks_and_explicit_zeros() -> None:
    problem = knapsack(2)
    block = problem.blocks[0]
    coef = sp.csr_array(np.asarray(block.terms["n"]))
    coef.data[::5] = 0.0  # explicit zeros must not reach HiGHS as entries
    sparse = SizingProblem(
        problem.variables,
        (
            LinearBlock(
                block.name, block.family, {"n": coef}, block.lower, block.upper, block.row_names
            ),
        ),
        problem.objective,
    )
    out = solve(sparse, HIGHS, FAST)
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective_value == pytest.approx(
        solve(sparse, Backend.CVXPY, FAST).objective_value, abs=1e-6
    )
    model = highs_backend.compile_problem(sparse)
    assert model.highs.getNumNz() == coef.count_nonzero()


# --------------------------------------------------------------------------------------
# statuses: infeasible, unbounded, limits, errors
# --------------------------------------------------------------------------------------


def _limited(problem: SizingProblem, **highs_options: object) -> highs_backend.HighsModel:
    """Compiled model with extra HiGHS options (they persist across solve_compiled)."""
    model = highs_backend.compile_problem(problem)
    for name, value in highs_options.items():
        assert model.highs.setOptionValue(name, value) == highspy.HighsStatus.kOk
    return model


def test_limits_split_by_incumbent_deterministically() -> None:
    # MIP stopped at its first improving solution: kSolutionLimit with an incumbent.
    out = highs_backend.solve_compiled(_limited(market_split(), mip_max_improving_sols=1), FAST)
    assert out.status is SolveStatus.FEASIBLE and "kSolutionLimit" in out.message, out
    assert_consistent(market_split(), out)
    assert out.mip_gap is not None and out.mip_gap > 0
    # Same limit class without any incumbent: no nodes, no heuristics, no presolve.
    model = _limited(market_split(), mip_heuristic_effort=0.0)
    out = highs_backend.solve_compiled(model, dataclasses.replace(FAST, node_limit=0))
    assert out.status is SolveStatus.NO_SOLUTION and "kSolutionLimit" in out.message, out
    assert out.values is None and out.mip_gap is None
    # LP iteration limit: primal infeasible start -> NO_SOLUTION ...
    lp = random_lp(0, ObjectiveSense.MAXIMIZE)
    model = _limited(lp, simplex_iteration_limit=0, presolve="off")
    out = highs_backend.solve_compiled(model, FAST)
    assert out.status is SolveStatus.NO_SOLUTION and "kIterationLimit" in out.message, out
    # ... feasible start (all columns at their lower bound 0) -> FEASIBLE, no duals.
    x = VariableGroup.build("x", VarKind.CONTINUOUS, 4, upper=5.0)
    cap = LinearBlock("cap", "t", {"x": np.ones((1, 4))}, -np.inf, 10.0, ("cap",))
    easy = SizingProblem((x,), (cap,), Objective("o", "maximize", {"x": np.arange(1.0, 5.0)}))
    out = highs_backend.solve_compiled(
        _limited(easy, simplex_iteration_limit=0, presolve="off"), FAST
    )
    assert out.status is SolveStatus.FEASIBLE and "kIterationLimit" in out.message, out
    assert_consistent(easy, out)
    assert out.duals is None and out.reduced_costs is None


def test_rejected_model_is_error_not_exception() -> None:
    x = VariableGroup.build("x", VarKind.INTEGER, 2, upper=5.0)
    huge = LinearBlock("cap", "t", {"x": np.array([[1e16, 1.0]])}, -np.inf, 10.0, ("cap",))
    problem = SizingProblem((x,), (huge,), Objective("o", "maximize", {"x": np.ones(2)}))
    out = solve(problem, HIGHS, FAST)
    assert out.status is SolveStatus.ERROR and "rejected the model" in out.message, out
    with pytest.raises(highs_backend.HighsBackendError):
        highs_backend.compile_problem(problem)


def test_solver_exception_and_error_status_map_to_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model = highs_backend.compile_problem(mixed_problem())

    def boom() -> None:
        raise RuntimeError("numerical trouble")

    monkeypatch.setattr(model.highs, "run", boom)
    out = highs_backend.solve_compiled(model, FAST)
    assert out.status is SolveStatus.ERROR and "numerical trouble" in out.message
    assert out.values is None

    monkeypatch.setattr(model.highs, "run", lambda: highspy.HighsStatus.kError)
    out = highs_backend.solve_compiled(model, FAST)
    assert out.status is SolveStatus.ERROR and "kError" in out.message, out


def test_threads_option() -> None:
    problem = mixed_problem()
    # HiGHS' scheduler is process-wide; another thread count is handled by a reset.
    for threads in (2, 1, None, 2):
        out = solve(problem, HIGHS, SolverOptions(time_limit=20.0, threads=threads))
        assert out.status is SolveStatus.OPTIMAL, (threads, out)
        assert out.objective_value == pytest.approx(mixed_brute_force(problem), abs=1e-6)
    too_many = SolverOptions(threads=highs_backend.MAX_THREADS + 1)
    out = solve(problem, HIGHS, too_many)
    assert out.status is SolveStatus.ERROR and "MAX_THREADS" in out.message


def test_verbose_prints_log(capfd: pytest.CaptureFixture[str]) -> None:
    solve(mixed_problem(), HIGHS, SolverOptions(time_limit=20.0, verbose=True))
    assert "HiGHS" in capfd.readouterr().out
    solve(mixed_problem(), HIGHS, FAST)
    assert capfd.readouterr().out == ""


# --------------------------------------------------------------------------------------
# LP duals and reduced costs: finite differences, other backends, hand example
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_duals_and_reduced_costs_agree_with_other_backends(sense: ObjectiveSense) -> None:
    for seed in range(3):
        problem = random_lp(seed, sense)
        out = solve(problem, HIGHS, FAST)
        for backend in OTHERS:
            ref = solve(problem, backend, FAST)
            assert out.objective_value == pytest.approx(ref.objective_value, abs=1e-6)
            for row in problem.row_names:
                assert out.duals[row] == pytest.approx(ref.duals[row], abs=1e-5), (backend, row)
            for g in problem.variables:
                np.testing.assert_allclose(
                    out.reduced_costs[g.name], ref.reduced_costs[g.name], atol=1e-5
                )


# --------------------------------------------------------------------------------------
# compile once, solve many
# --------------------------------------------------------------------------------------


def _same_as_fresh(model: highs_backend.HighsModel, problem: SizingProblem) -> None:
    """Re-solving ``model`` gives what a fresh compile of ``problem`` gives."""
    assert model.problem is problem
    again = highs_backend.solve_compiled(model, FAST)
    fresh = solve(problem, HIGHS, FAST)
    assert again.status is fresh.status
    if fresh.objective_value is None:
        assert again.objective_value is None
        return
    assert_consistent(problem, again)
    assert again.objective_value == pytest.approx(fresh.objective_value, abs=1e-6)
    if fresh.duals is not None:
        for row in problem.row_names:
            assert again.duals[row] == pytest.approx(fresh.duals[row], abs=1e-6), row


def test_compile_once_solve_twice() -> None:
    model = highs_backend.compile_problem(mixed_problem())
    first = highs_backend.solve_compiled(model, FAST)
    second = highs_backend.solve_compiled(model, SolverOptions(time_limit=5.0, threads=1))
    assert first.objective_value == pytest.approx(second.objective_value)
    assert first.compile_seconds == second.compile_seconds > 0
    assert dict(model.columns) == {"n": slice(0, 3), "y": slice(3, 6), "s": slice(6, 8)}


def test_update_relaxed_fixed_and_back() -> None:
    problem = mixed_problem()
    model = highs_backend.compile_problem(problem)
    lp_first = highs_backend.compile_problem(problem.relaxed())  # LP compile, then MIP
    highs_backend.update(lp_first, problem)
    _same_as_fresh(lp_first, problem)
    for variant in (
        problem.relaxed(),  # integrality off: LP with duals
        problem.with_fixed("y", [1, 0, 1]),  # integrality back on, column bounds
        problem.with_fixed("n", [2, 0, 1]).with_fixed("y", 1).relaxed(),  # verdict recipe
        problem,
    ):
        highs_backend.update(model, variant)
        _same_as_fresh(model, variant)


@pytest.mark.parametrize("sense", list(ObjectiveSense))
def test_set_row_bounds_matches_rebuilt_problem(sense: ObjectiveSense) -> None:
    problem = random_lp(1, sense)
    model = highs_backend.compile_problem(problem)
    highs_backend.solve_compiled(model, FAST)  # warm basis
    for row, shift in (("le[0]", 0.3), ("ge[1]", -0.2), ("eq[3]", 0.1), ("two[2]", 0.25)):
        i = problem.row_index[row]
        lo, up = problem.row_lower[i], problem.row_upper[i]
        expected = replace_block_bounds(problem, row, lower=lo + shift, upper=up + shift)
        problem = highs_backend.set_row_bounds(model, {row: (lo + shift, up + shift)})
        np.testing.assert_array_equal(problem.row_lower, expected.row_lower)
        np.testing.assert_array_equal(problem.row_upper, expected.row_upper)
        _same_as_fresh(model, problem)
    with pytest.raises(ValueError, match="unknown row"):
        highs_backend.set_row_bounds(model, {"nope": (0.0, 1.0)})
    with pytest.raises(ValueError, match="lower .* > upper"):
        highs_backend.set_row_bounds(model, {"le[0]": (2.0, 1.0)})
    assert model.problem is problem  # failed calls leave the model alone


def test_set_row_bounds_to_infeasible_and_back() -> None:
    problem = knapsack(3)
    model = highs_backend.compile_problem(problem)
    base = highs_backend.solve_compiled(model, FAST)
    highs_backend.set_row_bounds(model, {"band": (1e6, np.inf)})
    assert highs_backend.solve_compiled(model, FAST).status is SolveStatus.INFEASIBLE
    highs_backend.set_row_bounds(model, {"band": (2.0, 25.0)})
    back = highs_backend.solve_compiled(model, FAST)
    assert back.status is SolveStatus.OPTIMAL
    assert back.objective_value == pytest.approx(base.objective_value, abs=1e-9)


def test_set_objective_changes_costs_sense_and_constant() -> None:
    problem = knapsack(4)
    model = highs_backend.compile_problem(problem)
    rng = np.random.default_rng(4)
    for sense, constant in (
        (ObjectiveSense.MINIMIZE, -3.0),
        (ObjectiveSense.MAXIMIZE, 0.0),
        (ObjectiveSense.MAXIMIZE, 7.0),
    ):
        objective = Objective("other", sense, {"n": rng.uniform(-1, 2, 12)}, constant=constant)
        new = highs_backend.set_objective(model, objective)
        assert new.objective is objective
        _same_as_fresh(model, new)
        out = highs_backend.solve_compiled(model, FAST)
        ref = solve(new, Backend.CVXPY, FAST)  # the 4^12 box is too large to enumerate
        assert out.objective_value == pytest.approx(ref.objective_value, abs=1e-6)


def test_update_rejects_structural_changes() -> None:
    problem = knapsack(5)
    model = highs_backend.compile_problem(problem)
    block = problem.blocks[0]
    other_coef = LinearBlock(
        block.name,
        block.family,
        {"n": np.asarray(block.terms["n"]) * 2.0},
        block.lower,
        block.upper,
        block.row_names,
    )
    with pytest.raises(ValueError, match="coefficients of block 'caps'"):
        highs_backend.update(
            model, SizingProblem(problem.variables, (other_coef,), problem.objective)
        )
    with pytest.raises(ValueError, match="row names"):
        highs_backend.update(model, problem.without_blocks("caps"))
    extra = VariableGroup.build("z", VarKind.CONTINUOUS, 1)
    with pytest.raises(ValueError, match="variable groups differ"):
        highs_backend.update(model, problem.with_variables(extra))
    assert model.problem is problem
    # Equal coefficients in new objects (a rebuilt problem) are accepted.
    same = LinearBlock(
        block.name,
        block.family,
        {"n": sp.csr_array(np.asarray(block.terms["n"]))},
        block.lower,
        np.asarray(block.upper) + 1.0,
        block.row_names,
    )
    rebuilt = SizingProblem(problem.variables, (same,), problem.objective)
    highs_backend.update(model, rebuilt)
    _same_as_fresh(model, rebuilt)


# --------------------------------------------------------------------------------------
# phase-4 max-income MILP: agreement and the NLV re-solve loop
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phase4_inputs():
    from optimizer.inputs.spec import load_scenario
    from optimizer.pipeline import prepare

    sc = load_scenario(PHASE4)
    cs, limits, _, _ = prepare(sc)
    return cs, limits


def test_phase4_agrees_with_cvxpy_and_nlv_updates_match_fresh_solves(phase4_inputs) -> None:
    """The real use: max-income MILP, then re-solves at other NLVs on one compiled model."""
    from optimizer.formulation.build import build_problem
    from optimizer.inputs.spec import ObjectiveKind

    cs, limits = phase4_inputs
    gap = 1e-4  # the scenario's gap; two answers within it differ by at most ~2 gaps
    options = SolverOptions(time_limit=30.0, mip_rel_gap=gap)
    problem = build_problem(cs, limits, ObjectiveKind.MAX_INCOME)
    out = solve(problem, HIGHS, options)
    ref = solve(problem, Backend.CVXPY, options)
    assert out.status is ref.status is SolveStatus.OPTIMAL
    assert_consistent(problem, out)
    assert out.objective_value == pytest.approx(ref.objective_value, rel=2.5 * gap)
    assert out.mip_gap <= gap
    assert ref.objective_value <= out.best_bound + 1e-6  # HiGHS' bound is valid for cvxpy's book

    model = highs_backend.compile_problem(problem)
    for factor in (0.5, 2.0, 1.0):
        at = build_problem(cs, limits.at_nlv(limits.nlv * factor), ObjectiveKind.MAX_INCOME)
        highs_backend.update(model, at)
        again = highs_backend.solve_compiled(model, options)
        fresh = solve(at, HIGHS, options)
        assert again.status is fresh.status is SolveStatus.OPTIMAL, factor
        assert_consistent(at, again)
        assert again.objective_value == pytest.approx(
            fresh.objective_value, rel=2.5 * gap, abs=1e-6
        ), factor
