"""Allocation LP across return streams (optimizer.audit.streams_alloc) against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.risk import cvar
from optimizer.audit.streams_alloc import allocation_problem, drawdowns, optimize_allocation


def _scenarios(seed=0, p=60, m=12):
    rng = np.random.default_rng(seed)
    mu = np.array([0.04, 0.015, 0.07])
    sd = np.array([0.12, 0.03, 0.25])
    common = rng.standard_normal((p, m, 1))
    z = 0.5 * common + np.sqrt(0.75) * rng.standard_normal((p, m, 3))
    return mu + sd * z


def _grid(step):
    ticks = np.arange(0.0, 1.0 + 1e-9, step)
    for a in itertools.product(ticks, repeat=3):
        if sum(a) <= 1 + 1e-9:
            yield np.array(a)


def test_lp_beats_every_feasible_grid_point_and_its_risk_holds_ex_post():
    r = _scenarios()
    exposure = np.array([1.0, 1.0, 2.5])
    kw = dict(
        exposure=exposure,
        leverage_cap=1.5,
        cost_fraction=0.005,
        cvar_alpha=0.9,
        cvar_cap=0.08,
        drawdown_alpha=0.8,
        drawdown_cap=0.2,
    )
    res = optimize_allocation(r, ["a", "b", "c"], **kw)
    assert res.status == "optimal"
    a = res.allocation
    full = np.concatenate([r, np.full(r.shape[:-1] + (1,), -0.005)], axis=-1)

    def metrics(x):
        xx = np.append(x, 1.0)
        months = full.reshape(-1, 4) @ xx
        return months.mean(), cvar(-months, 0.9), cvar(drawdowns(full, xx), 0.8)

    obj, cv, dd = metrics(a)
    # ex post: the returned allocation meets every cap
    assert cv <= 0.08 + 1e-7 and dd <= 0.2 + 1e-7
    assert a.sum() <= 1 + 1e-9 and a @ exposure <= 1.5 + 1e-9
    assert obj == pytest.approx(res.expected_monthly_return)
    step = 0.05
    best = -np.inf
    n_feasible = 0
    for x in _grid(step):
        if x @ exposure > 1.5 + 1e-12:
            continue
        o, c, d = metrics(x)
        if c <= 0.08 and d <= 0.2:
            n_feasible += 1
            best = max(best, o)
            assert o <= obj + 1e-9
    assert n_feasible > 10
    # within grid tolerance: moving one grid step per coordinate changes the mean by ≤ |mu| step
    mu = r.reshape(-1, 3).mean(axis=0)
    assert obj - best <= np.abs(mu).sum() * step + 1e-9
    # a cap binds (the unconstrained optimum is 'c' at the leverage cap)
    assert res.binding


def test_leverage_cap_binds_alone():
    r = np.full((10, 12, 1), 0.05)
    res = optimize_allocation(r, ["x"], exposure=[2.0], leverage_cap=1.0)
    assert res.allocation[0] == pytest.approx(0.5)
    assert "leverage" in res.binding


def test_costs_that_no_allocation_can_carry_are_infeasible():
    r = np.full((10, 12, 1), 0.01)
    res = optimize_allocation(r, ["x"], exposure=[1.0], cost_fraction=0.5, cvar_cap=0.1)
    assert res.status == "infeasible"
    assert np.all(res.allocation == 0)


def test_problem_names_its_rows():
    r = _scenarios(p=5)
    prob = allocation_problem(
        r, ["a", "b", "c"], exposure=[1, 1, 1], leverage_cap=2, cvar_cap=0.1, drawdown_cap=0.2
    )
    names = {b.name for b in prob.blocks}
    assert {"budget", "leverage", "cvar_95", "max_drawdown_90"} <= names
    assert prob.group("n").labels[-1] == "operating_costs"
    with pytest.raises(ValueError):
        allocation_problem(r, ["a", "b"], exposure=[1, 1])


def test_log_growth_beats_every_feasible_grid_point():
    """Expected log growth (Kelly) under the same caps, against a brute-force grid."""
    r = _scenarios(seed=3)
    exposure = np.array([1.0, 1.0, 2.5])
    kw = dict(exposure=exposure, leverage_cap=1.5, cost_fraction=0.005, cvar_alpha=0.9)
    kw["cvar_cap"] = 0.08
    res = optimize_allocation(r, ["a", "b", "c"], objective="log_growth", **kw)
    assert res.status == "optimal" and res.objective == "log_growth"
    full = np.concatenate([r, np.full(r.shape[:-1] + (1,), -0.005)], axis=-1)

    def metrics(x):
        months = full.reshape(-1, 4) @ np.append(x, 1.0)
        return np.mean(np.log1p(months)), cvar(-months, 0.9)

    g, cv = metrics(res.allocation)
    assert g == pytest.approx(res.expected_log_growth, rel=1e-9)
    assert cv <= 0.08 + 1e-6
    n_feasible = 0
    for x in _grid(0.05):
        if x @ exposure > 1.5 + 1e-12:
            continue
        gx, cx = metrics(x)
        if cx <= 0.08:
            n_feasible += 1
            assert gx <= g + 1e-7
    assert n_feasible > 10
    # growth-optimal is not mean-optimal here: the mean LP takes more of the volatile stream
    mean = optimize_allocation(r, ["a", "b", "c"], **kw)
    assert mean.expected_monthly_return >= res.expected_monthly_return - 1e-9
    assert mean.expected_log_growth <= res.expected_log_growth + 1e-7


def test_log_growth_of_a_losing_stream_is_cash_and_of_a_fair_coin_is_kelly():
    # a stream that loses on average: growth-optimal is to hold none of it
    lose = np.where(np.arange(120).reshape(10, 12, 1) % 2 == 0, 0.10, -0.12)
    res = optimize_allocation(lose, ["x"], exposure=[1.0], objective="log_growth")
    assert res.status == "optimal" and res.allocation[0] == pytest.approx(0.0, abs=1e-6)
    # even-money bet won 60% of months: Kelly fraction 2p - 1 = 0.2 (Kelly 1956)
    win = np.where(np.arange(100).reshape(10, 10, 1) % 5 < 3, 1.0, -1.0)
    res = optimize_allocation(win, ["x"], exposure=[1.0], objective="log_growth")
    assert res.allocation[0] == pytest.approx(0.2, abs=1e-5)


def test_log_growth_with_costs_above_the_capital_is_infeasible():
    r = np.full((10, 12, 1), 0.05)
    res = optimize_allocation(r, ["x"], exposure=[1.0], cost_fraction=1.5, objective="log_growth")
    assert res.status == "infeasible" and np.all(res.allocation == 0)
    with pytest.raises(ValueError, match="objective must be"):
        optimize_allocation(r, ["x"], exposure=[1.0], objective="sharpe")
