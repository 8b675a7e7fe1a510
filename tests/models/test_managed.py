"""The managed Monte Carlo income model (models.managed).

References: the closed-form real-world expectation of :func:`models.income.expected_pnl_at_expiry`
(hold to expiry), recomputation of the monthly samples from the public building blocks, and
textbook moments of the Gaussian and variance-normalised Student-t distributions.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from models.chain import synthetic_surface
from models.errors import ModelError
from models.income import IncomeModel, expected_pnl_at_expiry
from models.legs import Right
from models.managed import (
    EXIT_REASONS,
    simulate_innovations,
    simulate_managed,
    simulate_trades,
    time_grid,
)
from models.strategies import (
    Candidate,
    ExpiryRule,
    LegTemplate,
    Management,
    RuleKind,
    StrikeRule,
    generate_candidates,
)

VAL = datetime(2026, 1, 30, 10, 30)
VOL_RATIO = 0.861
HOLD = Management()  # no rule: hold to expiry
GRIDS = {
    "put_credit_spread": {"short_delta": [0.25], "wing_width": [5.0]},
    "iron_condor": {"short_delta": [0.16], "wing_width": [5.0]},
    "short_strangle": {"put_delta": [0.16], "call_delta": [0.16]},
}


def _surface(rate: float = 0.0, atm_iv: float = 0.20, skew: float = -0.1):
    return synthetic_surface(
        100.0, VAL, atm_iv, skew=skew, rate=rate, carry=rate, strike_increment=0.25
    )


def _one(template: str, *, rule=None, strategy=None, surface=None, grid=None) -> Candidate:
    cands = generate_candidates(
        strategy=strategy or template,
        template_name=template,
        legs=None,
        underlying="X",
        surface=surface or _surface(),
        expiry_rule=rule or ExpiryRule(dte=30),
        grid=grid or GRIDS[template],
    )
    assert len(cands) == 1
    return cands[0]


def _zero_dte() -> Candidate:
    """A 16-delta iron condor entered 10:30, expiring 16:00 the same day."""
    surface = synthetic_surface(6000.0, VAL, 0.17, strike_increment=5.0)
    return _one(
        "iron_condor",
        rule=ExpiryRule(date=VAL + timedelta(hours=5.5)),
        surface=surface,
        grid={"short_delta": [0.16], "wing_width": [30.0]},
    )


def _run(cands, management, *, n_months=2000, seed=11, entries=1.0, mult=100.0, **kw):
    k = len(cands)
    mg = management if isinstance(management, list) else [management] * k
    en = entries if isinstance(entries, list) else [entries] * k
    return simulate_managed(
        cands,
        multipliers=[mult] * k,
        management=mg,
        entries_per_month=en,
        vol_ratio=VOL_RATIO,
        n_months=n_months,
        seed=seed,
        **kw,
    )


# ------------------------------------------------------------------------------------------
# Hold to expiry = the expiry model


@pytest.mark.parametrize("template", sorted(GRIDS))
def test_hold_to_expiry_matches_expiry_model(template):
    c = _one(template)
    r = _run([c], Management(profit_target=1.0), n_months=3000)
    expected = expected_pnl_at_expiry(c, VOL_RATIO, 100.0)
    assert abs(r.expected_trade[0] - expected) < 4 * r.expected_trade_se[0]
    assert r.exit_fractions[0, EXIT_REASONS.index("stop")] == 0
    assert r.exit_fractions[0, EXIT_REASONS.index("time")] == 0


def test_hold_to_expiry_with_rates_is_the_undiscounted_expectation():
    """MC P&L is undiscounted: credit - E[payoff]; the expiry model is credit - DF E[payoff]."""
    c = _one("short_strangle", surface=_surface(rate=0.05))
    r = _run([c], HOLD, n_months=3000)
    credit = -sum(leg.quantity * leg.price for leg in c.legs) * 100.0
    pv = expected_pnl_at_expiry(c, VOL_RATIO, 100.0)
    undiscounted = credit - (credit - pv) / c.discount_factor
    assert abs(r.expected_trade[0] - undiscounted) < 4 * r.expected_trade_se[0]


def test_hold_to_expiry_is_unaffected_by_iv_sensitivity():
    c = _one("put_credit_spread")
    z = simulate_innovations(["X"], n_paths=500, n_steps=30, seed=3)[0]
    kw = dict(multiplier=100.0, management=HOLD, vol_ratio=VOL_RATIO)
    a = simulate_trades(c, z, **kw)
    b = simulate_trades(c, z, iv_sensitivity=-4.0, **kw)
    np.testing.assert_allclose(a.pnl, b.pnl, rtol=0, atol=1e-9)
    assert np.all(a.reason == EXIT_REASONS.index("expiry"))
    np.testing.assert_allclose(a.days_held, c.t * 365.0)


# ------------------------------------------------------------------------------------------
# Reproducibility and alignment


def test_seeded_runs_are_reproducible_and_seeds_differ():
    cands = [_one("iron_condor"), _one("short_strangle")]
    mg = Management(profit_target=0.5, stop_loss=2.0)
    a = _run(cands, mg, n_months=300, seed=5)
    b = _run(cands, mg, n_months=300, seed=5)
    c = _run(cands, mg, n_months=300, seed=6)
    for name in ("monthly_samples", "win_rate", "avg_days_held", "trade_counts", "avg_loss"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.monthly_samples, c.monthly_samples)


def test_same_strategy_same_counts_and_duplicates_identical():
    """Short-dated trades: cycles = entries_per_month = 3.5 for both candidates."""
    rule = ExpiryRule(dte=7)
    ic = _one("iron_condor", rule=rule, strategy="weekly")
    pcs = _one("put_credit_spread", rule=rule, strategy="weekly")
    other = _one("put_credit_spread", rule=rule, strategy="other")
    r = _run([ic, pcs, ic, other], HOLD, n_months=400, entries=3.5)
    np.testing.assert_array_equal(r.trades_per_month, [3.5] * 4)
    np.testing.assert_array_equal(r.trade_counts[:, 0], r.trade_counts[:, 1])
    assert set(np.unique(r.trade_counts[:, 0])) == {3, 4}
    np.testing.assert_array_equal(r.monthly_samples[:, 0], r.monthly_samples[:, 2])
    # another strategy draws its own rounding stream
    assert not np.array_equal(r.trade_counts[:, 1], r.trade_counts[:, 3])
    assert abs(r.trade_counts[:, 3].mean() - 3.5) < 0.1


def test_monthly_samples_recomputed_from_building_blocks():
    """R[j, k] = fx * sum of trade P&L on paths (j, 0..m_jk-1) of the candidate's underlying."""
    cands = [_one("short_strangle"), _one("iron_condor", rule=ExpiryRule(dte=14))]
    mg = [Management(0.5, 2.0, 21), Management(0.5)]
    n_months, slots = 50, 4
    r = _run(
        cands, mg, n_months=n_months, entries=[1.0, 2.0], fx=[0.8, 0.8], max_trades_per_month=slots
    )
    steps = max(len(time_grid(c)) - 1 for c in cands)
    z = simulate_innovations(["X"], n_paths=n_months * slots, n_steps=steps, seed=11)[0]
    for k, c in enumerate(cands):
        t = simulate_trades(c, z, multiplier=80.0, management=mg[k], vol_ratio=VOL_RATIO)
        pnl = t.pnl.reshape(n_months, slots)
        want = [pnl[j, : r.trade_counts[j, k]].sum() for j in range(n_months)]
        np.testing.assert_allclose(r.monthly_samples[:, k], want, rtol=1e-12)
        assert r.avg_days_held[k] == pytest.approx(t.days_held.mean())
        cycles = min([1.0, 2.0][k], (365.25 / 12) / t.days_held.mean())
        assert r.trades_per_month[k] == pytest.approx(cycles)
        counts = r.trade_counts[:, k]
        assert np.all((counts == math.floor(cycles)) | (counts == math.ceil(cycles)))
    np.testing.assert_allclose(r.expected_monthly, r.monthly_samples.mean(axis=0))


def test_expected_monthly_is_cycles_times_trade_mean():
    c = _one("iron_condor")
    r = _run([c], Management(profit_target=0.5), n_months=4000, entries=1.0)
    assert 0 < r.trades_per_month[0] <= 1.0
    want = r.trades_per_month[0] * r.expected_trade[0]
    assert abs(r.expected_monthly[0] - want) < 4 * r.expected_monthly_se[0]


def test_fx_scales_money_not_counts():
    c = _one("short_strangle")
    a = _run([c], HOLD, n_months=100)
    b = _run([c], HOLD, n_months=100, fx=[1.25])
    np.testing.assert_allclose(b.monthly_samples, 1.25 * a.monthly_samples)
    np.testing.assert_allclose(b.avg_loss, 1.25 * a.avg_loss)
    np.testing.assert_array_equal(a.win_rate, b.win_rate)


# ------------------------------------------------------------------------------------------
# Management rules


def test_profit_target_raises_win_rate_and_shortens_hold():
    c = _one("short_strangle", rule=ExpiryRule(dte=45))
    r = _run([c, c], [HOLD, Management(profit_target=0.5)], n_months=1000)
    assert r.win_rate[1] > r.win_rate[0] + 0.02
    assert r.avg_days_held[1] < r.avg_days_held[0] - 5
    assert r.avg_days_held[0] == pytest.approx(45.0)
    credit = -sum(leg.quantity * leg.price for leg in c.legs) * 100.0
    # limit fills: a target win is exactly half the credit
    assert r.avg_win[1] <= 0.5 * credit + 1e-9


def test_tighter_stop_lowers_average_loss():
    c = _one("short_strangle", rule=ExpiryRule(dte=45))
    r = _run([c, c], [Management(stop_loss=3.0), Management(stop_loss=1.0)], n_months=1000)
    assert 0 > r.avg_loss[1] > r.avg_loss[0]
    assert r.exit_fractions[1, EXIT_REASONS.index("stop")] > r.exit_fractions[0, 1]


def test_stop_fills_at_or_beyond_the_stop():
    c = _one("short_strangle", rule=ExpiryRule(dte=45))
    z = simulate_innovations(["X"], n_paths=3000, n_steps=45, seed=2)[0]
    t = simulate_trades(
        c, z, multiplier=1.0, management=Management(stop_loss=1.5), vol_ratio=VOL_RATIO
    )
    credit = -sum(leg.quantity * leg.price for leg in c.legs)
    stopped = t.reason == EXIT_REASONS.index("stop")
    assert stopped.any()
    assert np.all(t.pnl[stopped] <= -1.5 * credit + 1e-12)


def test_exit_dte_caps_days_held():
    c = _one("short_strangle", rule=ExpiryRule(dte=45))
    r = _run([c], Management(exit_dte=21), n_months=200)
    assert r.avg_days_held[0] == pytest.approx(24.0)
    assert r.exit_fractions[0, EXIT_REASONS.index("time")] == 1.0


def test_time_exit_closes_zero_dte_before_expiry():
    c = _zero_dte()
    assert c.t < 1 / 365
    assert len(time_grid(c)) == 12  # 11 half-hour steps
    z = simulate_innovations(["X"], n_paths=4000, n_steps=11, seed=4)[0]
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    t = simulate_trades(c, z, multiplier=50.0, management=mg, vol_ratio=VOL_RATIO)
    assert np.all(t.days_held < c.t * 365.0)
    assert t.days_held.max() == pytest.approx(4.5 / 24.0)  # 10:30 -> 15:00
    assert not np.any(t.reason == EXIT_REASONS.index("expiry"))
    assert np.any(t.reason == EXIT_REASONS.index("time"))
    held = simulate_trades(c, z, multiplier=50.0, management=HOLD, vol_ratio=VOL_RATIO)
    assert np.all(held.days_held == pytest.approx(c.t * 365.0))


def test_debit_structure_uses_the_debit_as_reference():
    long_call = (LegTemplate(Right.CALL, +1, StrikeRule(RuleKind.DELTA, "delta")),)
    (c,) = generate_candidates(
        strategy="lc",
        template_name="custom",
        legs=long_call,
        underlying="X",
        surface=_surface(),
        expiry_rule=ExpiryRule(dte=30),
        grid={"delta": [0.4]},
    )
    debit = c.legs[0].price
    z = simulate_innovations(["X"], n_paths=3000, n_steps=30, seed=8)[0]
    mg = Management(profit_target=0.5, stop_loss=0.5)
    t = simulate_trades(c, z, multiplier=1.0, management=mg, vol_ratio=VOL_RATIO)
    target = t.reason == EXIT_REASONS.index("target")
    assert target.any() and (t.reason == EXIT_REASONS.index("stop")).any()
    np.testing.assert_allclose(t.pnl[target], 0.5 * debit)
    assert t.pnl.min() >= -debit - 1e-12  # a long option loses at most its debit


def test_negative_iv_sensitivity_stops_more_short_puts():
    c = _one("put_credit_spread", rule=ExpiryRule(dte=45))
    mg = Management(stop_loss=1.0)
    a = _run([c], mg, n_months=500)
    b = _run([c], mg, n_months=500, iv_sensitivity=-5.0)
    stop = EXIT_REASONS.index("stop")
    assert b.exit_fractions[0, stop] > a.exit_fractions[0, stop]


# ------------------------------------------------------------------------------------------
# Innovations


def test_student_t_has_unit_variance_and_fat_tails():
    g = simulate_innovations(["X"], n_paths=200_000, n_steps=2, seed=1)[0].ravel()
    t = simulate_innovations(["X"], n_paths=200_000, n_steps=2, seed=1, dof=5.0)[0].ravel()
    assert g.var() == pytest.approx(1.0, abs=0.01)
    assert t.var() == pytest.approx(1.0, abs=0.03)
    assert stats.kurtosis(g, fisher=False) == pytest.approx(3.0, abs=0.05)
    assert stats.kurtosis(t, fisher=False) > 5.0  # theory: 3 + 6 / (dof - 4) = 9


def test_student_t_paths_have_fatter_log_returns_than_gbm():
    """Log returns of the simulated prices: same variance, kurtosis > 3 under Student-t."""
    c = _one("short_strangle")
    out = {}
    for dof in (None, 4.5):
        z = simulate_innovations(["X"], n_paths=100_000, n_steps=2, seed=9, dof=dof)[0]
        sigma = c.atm_iv * VOL_RATIO
        out[dof] = sigma * math.sqrt(1 / 365) * z[0]  # one daily log-return (centred)
    assert out[4.5].var() == pytest.approx(out[None].var(), rel=0.05)
    assert stats.kurtosis(out[4.5], fisher=False) > 3.5


def test_correlated_underlyings():
    z = simulate_innovations(
        ["A", "B", "C"], n_paths=50_000, n_steps=2, seed=3, correlation={("A", "B"): 0.7}
    )
    rho = np.corrcoef(z[:, 0, :])
    assert rho[0, 1] == pytest.approx(0.7, abs=0.02)
    assert abs(rho[0, 2]) < 0.02 and abs(rho[1, 2]) < 0.02
    alone = simulate_innovations(["A"], n_paths=50_000, n_steps=2, seed=3)
    np.testing.assert_array_equal(alone[0], z[0])  # streams keyed by symbol


def test_student_t_joint_tails():
    z = simulate_innovations(["A", "B"], n_paths=100_000, n_steps=1, seed=3, dof=4.0)[:, 0, :]
    big = np.abs(z) > 3
    # independent but a shared chi-square: extremes coincide far more often than by chance
    assert (big[0] & big[1]).mean() > 3 * big[0].mean() * big[1].mean()


# ------------------------------------------------------------------------------------------
# Grid, results, errors


def test_time_grid():
    c = _one("iron_condor")
    taus = time_grid(c)
    assert len(taus) == 31 and taus[0] == pytest.approx(30 / 365) and taus[-1] == 0.0
    np.testing.assert_allclose(np.diff(taus), -1 / 365)


def test_result_is_read_only():
    r = _run([_one("iron_condor")], HOLD, n_months=20)
    with pytest.raises(ValueError):
        r.monthly_samples[0, 0] = 1.0
    assert r.monthly_samples.shape == (20, 1) and r.candidate_ids == (_one("iron_condor").id,)


def test_income_model_enum_has_managed():
    assert IncomeModel("managed") is IncomeModel.MANAGED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"multipliers": [100.0, 100.0]}, "multipliers has 2"),
        ({"entries_per_month": [8.0]}, "max_trades_per_month"),
        ({"n_months": 1}, "n_months"),
        ({"dof": 2.0}, "dof"),
        ({"vol_ratio": 0.0}, "vol_ratio"),
        ({"management": [Management(time_exit="3pm")]}, "HH:MM"),
        ({"correlation": {("X", "Y"): 1.5}}, "correlation"),
    ],
)
def test_bad_inputs_raise_model_error(kwargs, message):
    c = _zero_dte()
    args = dict(
        multipliers=[50.0],
        management=[Management()],
        entries_per_month=[4.33],
        vol_ratio=VOL_RATIO,
        n_months=10,
        seed=1,
    )
    args.update(kwargs)
    with pytest.raises(ModelError, match=message):
        simulate_managed([c], **args)


def test_non_positive_definite_correlation():
    with pytest.raises(ModelError, match="positive semi-definite"):
        simulate_innovations(
            ["A", "B", "C"],
            n_paths=10,
            n_steps=1,
            seed=1,
            correlation={("A", "B"): 0.9, ("B", "C"): 0.9, ("A", "C"): -0.9},
        )
