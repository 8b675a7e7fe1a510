"""Return-stream Monte Carlo (models.streams) against closed forms and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from models.errors import ModelError
from models.streams import (
    RegimeChain,
    RiskLimits,
    Stream,
    analytic_mean_growth,
    fit_regime,
    implied_win_probability,
    no_edge_win_probability,
    simulate_equity,
)

NO_LIMITS = RiskLimits(daily_loss_limit=None, kill_drawdown=None, monthly_costs=0.0)


def test_implied_and_no_edge_win_rates():
    # seed 2 scalping: 0.8% average with a 0.5% stop and a 1.2% target
    assert implied_win_probability(0.008, 0.005, 0.012) == pytest.approx(1.3 / 1.7)
    p = implied_win_probability(0.06, 0.02, 0.10)
    assert p * 0.10 - (1 - p) * 0.02 == pytest.approx(0.06)
    assert implied_win_probability(0.02, 0.005, 0.012) > 1  # impossible average
    p0 = no_edge_win_probability(0.005, 0.012)
    assert p0 * 0.012 - (1 - p0) * 0.005 == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError):
        implied_win_probability(0.01, 0.0, 0.01)


def test_mean_growth_without_limits_matches_the_closed_form():
    """Fixed, Poisson and regime-only streams: E[month growth] within 4 standard errors."""
    chain = RegimeChain(threshold=25, p_enter=0.05, p_stay=0.8)
    streams = [
        Stream("a", 6, 0.55, 0.02, 0.015, 0.5, leverage=2.0, cost_rate=0.001),
        Stream("b", 3.5, 0.6, 0.03, 0.03, 0.4, count="poisson"),
        Stream("c", 2, 0.6, 0.08, 0.06, 0.5, regime_only=True),
    ]
    alloc = [0.4, 0.3, 0.3]
    sim = simulate_equity(
        streams, alloc, 1000.0, NO_LIMITS, n_paths=6000, n_months=1, seed=7, regime=chain
    )
    growth = sim.equity[:, -1] / 1000.0
    expected = analytic_mean_growth(streams, alloc, 21, regime=chain)
    se = growth.std(ddof=1) / math.sqrt(growth.size)
    assert abs(growth.mean() - expected) < 4 * se
    # and the analytic value is not trivially 1 (the test can tell a broken simulator)
    assert abs(expected - 1.0) > 10 * se


def test_analytic_growth_of_a_deterministic_stream():
    s = Stream("d", 2, 1.0, 0.01, 0.0, 0.5)
    assert analytic_mean_growth([s], [1.0], 21) == pytest.approx(1.005**42)


def test_kill_switch_probability_is_binomial():
    """One trade a day losing 6% of equity (wins flat): the 3rd loss is the first ≤ 85% of peak."""
    q = 0.3
    s = Stream("k", 1, 1 - q, 0.0, 0.06, 1.0)
    assert 0.94**2 > 0.85 >= 0.94**3
    lim = RiskLimits(daily_loss_limit=0.05, kill_drawdown=0.15, monthly_costs=0.0)
    n_days, paths = 21, 5000
    sim = simulate_equity([s], [1.0], 1.0, lim, n_paths=paths, n_months=1, seed=3)
    killed = sim.killed_day >= 0
    exact = stats.binom.sf(2, n_days, q)  # P(at least 3 losses in 21 days)
    se = math.sqrt(exact * (1 - exact) / paths)
    assert abs(killed.mean() - exact) < 4 * se
    # killed paths hold 0.94^3 from the kill day on; the others never fell that far
    assert np.allclose(sim.equity[killed, -1], 0.94**3)
    assert np.all(sim.equity[~killed, -1] > 0.85)
    # every loss day also hit the daily loss limit (6% > 5%), except the kill days
    assert np.all(
        sim.limit_days[~killed] == np.round(-np.log(sim.equity[~killed, -1]) / -np.log(0.94))
    )


def test_daily_loss_limit_and_kill_switch_by_hand():
    """Every trade loses 2%: 3 trades a day reach the 5% limit; the 9th trade the 15% kill."""
    s = Stream("h", 10, 0.0, 0.01, 0.02, 1.0)
    lim = RiskLimits(daily_loss_limit=0.05, kill_drawdown=0.15, monthly_costs=0.0)
    sim = simulate_equity([s], [1.0], 100.0, lim, n_paths=3, n_months=1, seed=0)
    assert sim.equity[0, 1] == pytest.approx(100 * 0.98**3, rel=1e-12)
    assert sim.equity[0, 2] == pytest.approx(100 * 0.98**6, rel=1e-12)
    assert sim.equity[0, 3] == pytest.approx(100 * 0.98**9, rel=1e-12)  # 0.98^8 > 0.85 ≥ 0.98^9
    assert np.all(sim.killed_day == 2)
    assert np.all(sim.equity[:, 3:] == sim.equity[:, 3:4])  # no trading after the kill
    assert np.all(sim.limit_days == 2)
    assert np.all(sim.trades == 9)
    assert sim.max_drawdown[0] == pytest.approx(1 - 0.98**9)
    # without the kill switch: the limit stops every day after 3 trades
    lim2 = RiskLimits(daily_loss_limit=0.05, kill_drawdown=None)
    sim2 = simulate_equity([s], [1.0], 100.0, lim2, n_paths=2, n_months=1, seed=0)
    assert sim2.equity[0, -1] == pytest.approx(100 * 0.98 ** (3 * 21), rel=1e-10)
    assert np.all(sim2.trades == 63)


def test_costs_are_subtracted_exactly():
    """Deterministic trades: r = 0.5 × 1% − 0.5 × 2 × 0.1% = 0.4% per trade, 2 a day."""
    s = Stream("c", 2, 1.0, 0.01, 0.0, 0.5, leverage=2.0, cost_rate=0.001)
    lim = RiskLimits(daily_loss_limit=0.05, kill_drawdown=0.15, monthly_costs=300.0)
    sim = simulate_equity([s], [1.0], 10_000.0, lim, n_paths=2, n_months=2, seed=1)
    m1 = 10_000 * 1.004**42 - 300
    m2 = m1 * 1.004**42 - 300
    assert sim.month_end[0, 1] == pytest.approx(m1, rel=1e-12)
    assert sim.month_end[0, 2] == pytest.approx(m2, rel=1e-12)
    assert np.allclose(sim.monthly_net[0], [m1 - 10_000, m2 - m1])
    assert np.all(sim.killed_day == -1)  # withdrawals are not drawdowns
    # a minimum fee per trade is charged on the day's opening equity
    s2 = Stream("m", 1, 1.0, 0.0, 0.0, 1.0, min_cost=2.0)
    sim2 = simulate_equity([s2], [1.0], 1000.0, NO_LIMITS, n_paths=1, n_months=1, seed=0)
    assert sim2.equity[0, 1] == pytest.approx(998.0)
    assert sim2.equity[0, 2] == pytest.approx(996.0)


def test_costs_larger_than_the_account_ruin_it():
    s = Stream("z", 1, 1.0, 0.001, 0.0, 0.1)
    lim = RiskLimits(monthly_costs=2000.0)
    sim = simulate_equity([s], [1.0], 1000.0, lim, n_paths=4, n_months=3, seed=0)
    assert np.all(sim.ruined_day == 20)
    assert np.all(sim.equity[:, 21:] == 0.0)
    assert np.all(sim.stopped_within(21))


def test_fit_regime_counts_transitions():
    v = pd.Series([20, 30, 30, 20, 20, 30, 20, 20.0], index=pd.date_range("2020-01-01", periods=8))
    r = fit_regime(v, 25)
    # off→on 2 of 4 off days (last day excluded), on→on 1 of 3 on days
    assert r.p_enter == pytest.approx(2 / 4)
    assert r.p_stay == pytest.approx(1 / 3)
    assert r.stationary == pytest.approx(0.5 / (1 - 1 / 3 + 0.5))
    with pytest.raises(ModelError):
        fit_regime(v, 100)


def test_regime_sample_frequency_matches_the_stationary_share():
    chain = RegimeChain(25, 0.022, 0.895)
    days = chain.sample(np.random.default_rng(0), 400, 500)
    assert days.mean() == pytest.approx(chain.stationary, abs=0.02)


def test_bad_inputs_raise_model_errors():
    s = Stream("s", 1, 0.5, 0.01, 0.01, 0.5)
    with pytest.raises(ModelError):
        simulate_equity([s], [1.2], 1000.0, NO_LIMITS, n_paths=2)
    with pytest.raises(ModelError):
        simulate_equity([s], [1.0], -1.0, NO_LIMITS, n_paths=2)
    with pytest.raises(ModelError):
        simulate_equity(
            [Stream("r", 1, 0.5, 0.1, 0.1, 0.5, regime_only=True)], [1.0], 1.0, NO_LIMITS, n_paths=2
        )
    with pytest.raises(ModelError):
        Stream("f", 2.5, 0.5, 0.01, 0.01, 0.5)
    with pytest.raises(ModelError):
        Stream("l", 1, 0.5, 0.01, 1.5, 0.5)  # loss beyond the exposure


def test_same_seed_same_paths():
    s = Stream("s", 5, 0.55, 0.02, 0.02, 0.3)
    a = simulate_equity([s], [1.0], 1000.0, RiskLimits(), n_paths=20, n_months=1, seed=11)
    b = simulate_equity([s], [1.0], 1000.0, RiskLimits(), n_paths=20, n_months=1, seed=11)
    assert np.array_equal(a.equity, b.equity)


@settings(max_examples=40, deadline=None)
@given(
    p=st.floats(0.0, 1.0),
    win=st.floats(0.0, 2.0),
    loss=st.floats(0.0, 1.0),
    stake=st.floats(0.0, 1.0),
    n=st.integers(1, 6),
    alloc=st.floats(0.0, 1.0),
    dl=st.one_of(st.none(), st.floats(0.01, 1.0)),
    kd=st.one_of(st.none(), st.floats(0.01, 1.0)),
    seed=st.integers(0, 2**16),
)
def test_invariants(p, win, loss, stake, n, alloc, dl, kd, seed):
    """Leverage ≤ 1 and losses ≤ 100%: equity never negative; after a kill it never moves."""
    s = Stream("h", n, p, win, loss, stake)
    lim = RiskLimits(daily_loss_limit=dl, kill_drawdown=kd)
    sim = simulate_equity([s], [alloc], 100.0, lim, n_paths=8, n_months=1, seed=seed)
    assert np.all(sim.equity >= 0)
    assert np.all((sim.max_drawdown >= 0) & (sim.max_drawdown <= 1 + 1e-12))
    for i in np.flatnonzero(sim.killed_day >= 0):
        d = sim.killed_day[i]
        assert np.all(sim.equity[i, d + 1 :] == sim.equity[i, d + 1])
        if kd is not None:
            assert sim.max_drawdown[i] >= kd - 1e-9
    if kd is None:
        assert np.all(sim.killed_day == -1)
    # a path that lost everything is ruined, not killed
    zero = sim.equity[:, -1] == 0
    assert np.all(sim.ruined_day[zero] >= 0) and np.all(sim.killed_day[zero] == -1)
