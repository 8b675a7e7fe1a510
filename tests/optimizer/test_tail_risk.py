"""Tail-risk and chance families against ex-post recomputation and brute force.

* CVaR LP (Rockafellar–Uryasev) at fixed counts == CVaR computed ex post from the P&L matrix;
* the exact VaR MILP at fixed counts == the empirical quantile;
* the optimizer's book meets the CVaR cap recomputed ex post, with and without cutting planes,
  and both give the same optimum;
* the SAA chance constraint holds in-sample, and brute force agrees on small problems;
* the CVaR surrogate is conservative (its book always satisfies the SAA requirement).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.risk import cvar, success_probability, value_at_risk
from optimizer.formulation.build import build_problem
from optimizer.formulation.families.chance import chance_cvar_part, chance_saa_part
from optimizer.formulation.families.tail_risk import cvar_part, var_part
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.backends import solve
from optimizer.solve.problem import Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.solving import SolveContext, solve_sizing
from optimizer.solve.status import SolverOptions, SolveStatus

OPTS = SolverOptions(time_limit=60, mip_rel_gap=1e-9)


def _fixed_problem(pnl, counts, parts, objective_terms):
    k = pnl.shape[1]
    n = VariableGroup(
        name="n", kind=VarKind.INTEGER, lower=counts, upper=counts, labels=tuple(map(str, range(k)))
    )
    variables = (n,) + tuple(v for p in parts for v in p.variables)
    blocks = tuple(b for p in parts for b in p.blocks)
    return SizingProblem(variables, blocks, Objective("risk", "minimize", objective_terms))


@given(
    seed=st.integers(0, 10_000),
    alpha=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    s=st.integers(20, 300),
)
@settings(max_examples=30, deadline=None)
def test_cvar_lp_equals_ex_post(seed, alpha, s):
    rng = np.random.default_rng(seed)
    pnl = rng.standard_t(3, size=(s, 4)) * rng.uniform(10, 100, 4)
    counts = rng.integers(0, 4, 4).astype(float)
    part = cvar_part(pnl, alpha, 1e12)
    terms = {
        "cvar_{}_zeta".format(f"{alpha * 100:g}"): np.ones(1),
        "cvar_{}_u".format(f"{alpha * 100:g}"): np.full(s, 1.0 / ((1 - alpha) * s)),
    }
    out = solve(_fixed_problem(pnl, counts, [part], terms), "highs" if _has_highs() else "cvxpy")
    assert out.status is SolveStatus.OPTIMAL
    expected = cvar(-(pnl @ counts), alpha)
    assert out.objective_value == pytest.approx(expected, rel=1e-7, abs=1e-6)


def _has_highs() -> bool:
    from optimizer.solve import backends

    return "highs" in getattr(backends, "BACKENDS", ()) or hasattr(backends, "highs_backend")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.9, 0.95])
def test_var_milp_equals_empirical_quantile(seed, alpha):
    rng = np.random.default_rng(seed)
    s = 60
    pnl = rng.normal(0, 50, size=(s, 3)) + rng.normal(0, 20, size=(s, 1))
    counts = rng.integers(0, 4, 3).astype(float)
    # minimize v subject to the VaR rows with cap v: add v as a free variable
    part = var_part(pnl, alpha, 0.0, counts)
    v = VariableGroup("v", VarKind.CONTINUOUS, np.array([-1e9]), np.array([1e9]), ("v",))
    rows = part.blocks[0]
    # rows: -P n - M z <= cap(0)  ->  -P n - M z - v <= 0
    from optimizer.solve.problem import LinearBlock

    shifted = LinearBlock(
        name=rows.name,
        family=rows.family,
        terms={**rows.terms, "v": -np.ones((s, 1))},
        lower=rows.lower,
        upper=rows.upper,
        row_names=rows.row_names,
    )
    # big-M must cover losses above v for any v >= min loss: recompute M as the loss spread
    losses = -(pnl @ counts)
    big_m = (losses.max() - losses.min()) + 1.0
    zname = part.variables[0].name
    shifted = LinearBlock(
        name=shifted.name,
        family=shifted.family,
        terms={"n": -pnl, zname: -big_m * np.eye(s), "v": -np.ones((s, 1))},
        lower=shifted.lower,
        upper=shifted.upper,
        row_names=shifted.row_names,
    )
    n = VariableGroup("n", VarKind.INTEGER, counts, counts, tuple(map(str, range(3))))
    problem = SizingProblem(
        (n, part.variables[0], v),
        (shifted, part.blocks[1]),
        Objective("var", "minimize", {"v": np.ones(1)}),
    )
    out = solve(problem, "cvxpy", OPTS)
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective_value == pytest.approx(value_at_risk(losses, alpha), abs=1e-6)


def _tiny(seed: int, s: int = 400, k: int = 6):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "id": [f"k{i}" for i in range(k)],
            "strategy": ["a"] * (k // 2) + ["b"] * (k - k // 2),
            "underlying": ["X"] * k,
            "correlation_group": [None] * k,
            "expected_monthly_income_per_contract": rng.uniform(50, 300, k),
            "theta_per_day_per_contract": rng.uniform(1, 20, k),
            "bp_per_contract": rng.uniform(500, 3000, k),
            "cash_delta_per_contract": np.zeros(k),
            "notional_per_contract": np.zeros(k),
            "vega_per_contract": np.zeros(k),
        }
    )
    cs = CandidateSet(table, {}, pd.DataFrame(), "GBP")
    # heavy left tails proportional to income (short premium)
    pnl = rng.standard_t(3, size=(s, k)) * table["expected_monthly_income_per_contract"].to_numpy()
    monthly = table["expected_monthly_income_per_contract"].to_numpy() + rng.normal(
        0, 150, size=(s, k)
    )
    return cs, pnl, monthly


def _limits(**kw) -> Limits:
    base = dict(
        nlv=20000.0,
        phase=4,
        weights={"a": 0.5, "b": 0.5},
        weight_note="",
        allocation_tolerance=None,
        allocation_basis="income",
        bp_fraction=1.0,
        bp_source="",
        strategy_bp_caps={},
        max_positions={"a": 4, "b": 4},
        group_limits={},
        group_excluded=frozenset(),
        group_risk_cap=None,
        leverage=None,
    )
    base.update(kw)
    return Limits(**base)


def _risk(pnl, monthly=None):
    managed = None
    if monthly is not None:

        class _M:  # the chance family only reads monthly_samples
            monthly_samples = monthly

        managed = _M()
    return RiskData(
        pnl, tuple(map(str, range(len(pnl)))), "test", 1.0, np.zeros((0, pnl.shape[1])), (), managed
    )


@pytest.mark.parametrize("seed", range(4))
def test_cvar_cap_holds_ex_post_and_cutting_planes_are_exact(seed):
    cs, pnl, _ = _tiny(seed, s=2000)
    unconstrained, _ = solve_sizing(
        cs, _limits(), ObjectiveKind.MAX_INCOME, SolveContext("cvxpy", OPTS)
    )
    loss0 = -(pnl @ unconstrained.values["n"])
    cap = 0.5 * cvar(loss0, 0.95) / 20000.0  # half the unconstrained book's CVaR
    lim = _limits(cvar_caps=((0.95, cap),))
    risk = _risk(pnl)
    cut, _ = solve_sizing(cs, lim, ObjectiveKind.MAX_INCOME, SolveContext("cvxpy", OPTS), risk=risk)
    full = solve(build_problem(cs, lim, ObjectiveKind.MAX_INCOME, risk=risk), "cvxpy", OPTS)
    assert cut.status is SolveStatus.OPTIMAL and full.status is SolveStatus.OPTIMAL
    assert cut.objective_value == pytest.approx(full.objective_value, rel=1e-6)
    for out in (cut, full):
        assert cvar(-(pnl @ out.values["n"]), 0.95) <= cap * 20000.0 * (1 + 1e-6) + 1e-6
    assert cut.objective_value < unconstrained.objective_value


@pytest.mark.parametrize("seed", range(4))
def test_saa_chance_holds_in_sample_and_matches_brute_force(seed):
    cs, _, monthly = _tiny(seed, s=120, k=4)
    target = 400.0
    p = 0.8
    lim = _limits(
        success_probability=p, target=target, max_positions={"a": 3, "b": 3}, chance_method="saa"
    )
    risk = _risk(np.zeros((1, 4)), monthly)
    out = solve(build_problem(cs, lim, ObjectiveKind.MAX_THETA, risk=risk), "cvxpy", OPTS)
    theta = cs.col("theta_per_day_per_contract")
    best = -math.inf
    for combo in itertools.product(range(4), repeat=4):
        n = np.array(combo)
        if n[:2].sum() > 3 or n[2:].sum() > 3:
            continue
        if (cs.col("bp_per_contract") @ n) > 20000:
            continue
        if np.mean(monthly @ n >= target) >= p:
            best = max(best, float(theta @ n))
    if best == -math.inf:
        assert out.status is SolveStatus.INFEASIBLE
        return
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective_value == pytest.approx(best, abs=1e-6)
    n = out.values["n"]
    p_in, *_ = success_probability(monthly @ n, target)
    assert p_in >= p


def test_cvar_surrogate_is_conservative():
    cs, _, monthly = _tiny(3, s=300, k=4)
    target, p = 350.0, 0.75
    saa = _limits(success_probability=p, target=target, chance_method="saa")
    sur = _limits(success_probability=p, target=target, chance_method="cvar")
    risk = _risk(np.zeros((1, 4)), monthly)
    a = solve(build_problem(cs, saa, ObjectiveKind.MAX_THETA, risk=risk), "cvxpy", OPTS)
    b = solve(build_problem(cs, sur, ObjectiveKind.MAX_THETA, risk=risk), "cvxpy", OPTS)
    assert a.status is SolveStatus.OPTIMAL
    if b.status is SolveStatus.OPTIMAL:
        assert b.objective_value <= a.objective_value + 1e-6
        assert np.mean(monthly @ b.values["n"] >= target) >= p


def test_chance_parts_shapes():
    monthly = np.array([[100.0, 0.0], [-50.0, 40.0], [0.0, 0.0]])
    part = chance_saa_part(monthly, 60.0, 0.5, np.array([2.0, 2.0]))
    # month 3 can never reach 60 with counts <= 2: it has no binary
    assert part.variables[0].size == 2
    assert part.blocks[-1].upper[0] == math.floor(0.5 * 3) - 1
    sur = chance_cvar_part(monthly, 60.0, 0.5)
    assert sur.blocks[-1].row_names == ("chance_cvar",)


@given(seed=st.integers(0, 10_000), target=st.floats(0, 500))
@settings(max_examples=40, deadline=None)
def test_hopeless_and_big_m_bounds_are_valid(seed, target):
    """The month bounds used to drop rows and size big-M hold for every book within the caps."""
    from optimizer.formulation.families.chance import _worst_month, hopeless_months

    rng = np.random.default_rng(seed)
    r = rng.normal(20, 80, size=(30, 4))
    ub = np.array([3.0, 3.0, 2.0, 2.0])
    caps = [(np.array([True, True, False, False]), 3.0)]
    books = [
        np.array(c)
        for c in itertools.product(range(4), range(4), range(3), range(3))
        if c[0] + c[1] <= 3
    ]
    values = np.array([r @ n for n in books])  # (books, months)
    hopeless = hopeless_months(r, target, ub, caps)
    assert np.all(values[:, hopeless] < target)
    assert np.all(values >= _worst_month(r, ub, caps) - 1e-9)


@given(
    seed=st.integers(0, 10_000),
    target=st.floats(0, 500),
    budget=st.floats(0, 40),
    free=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_budget_bounds_are_valid_and_tighter(seed, target, budget, free):
    """A buying-power row ``cost · n <= C`` bounds every month of every book that meets it.

    Reference: enumeration of every integer book within the count bounds that meets the
    budget row (the rule as written), against the knapsack bounds used for the chance rows.
    """
    from optimizer.formulation.families.chance import _worst_month, hopeless_months

    rng = np.random.default_rng(seed)
    r = rng.normal(20, 80, size=(30, 4))
    ub = np.array([3.0, 3.0, 2.0, 2.0])
    cost = rng.uniform(1, 10, size=4)
    if free:
        cost[3] = 0.0  # a candidate that uses no buying power keeps its count bound
    books = [
        np.array(c, dtype=float)
        for c in itertools.product(range(4), range(4), range(3), range(3))
        if cost @ np.array(c) <= budget + 1e-12
    ]
    values = np.array([r @ n for n in books])  # (books, months)
    budgets = [(cost, budget)]
    hopeless = hopeless_months(r, target, ub, (), budgets)
    assert np.all(values[:, hopeless] < target)
    worst = _worst_month(r, ub, (), budgets)
    assert np.all(values >= worst - 1e-9)
    # never looser than the count bounds alone
    assert np.all(worst >= _worst_month(r, ub, ()) - 1e-9)
    assert np.all(hopeless_months(r, target, ub, ()) <= hopeless)
