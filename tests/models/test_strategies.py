"""Strategy templates, strike rules, per-unit valuation and income models.

References: hand-computed strikes and payoffs, QuantLib-free closed forms re-derived here,
numerical integration of payoffs against the lognormal density, finite differences.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from models.errors import ModelError
from models.income import (
    IncomeModel,
    cycles_per_month,
    expected_pnl_at_expiry,
    exposure_days,
    measure_vol_ratio,
    monthly_income,
)
from models.legs import Right
from models.market.chain import synthetic_surface
from models.market.pricing import bsm_price
from models.strategies import (
    ExpiryRule,
    generate_candidates,
    intraday_expiry,
    resolve_expiry,
)
from models.valuation import max_loss_at_expiry, payoff_at_expiry, unit_metrics

VAL = datetime(2026, 1, 30, 16, 0)


@pytest.fixture(scope="module")
def flat():
    """Flat 20% vol, no skew, F = 100, 1-point strikes, rate 4%."""
    return synthetic_surface(100.0, VAL, 0.20, rate=0.04, strike_increment=1.0)


def _one(surface, template_name, grid, dte):
    """The single candidate a one-point grid produces."""
    cands = generate_candidates(
        strategy="s",
        template_name=template_name,
        legs=None,
        underlying="X",
        surface=surface,
        expiry_rule=ExpiryRule(dte=dte),
        grid=grid,
    )
    assert len(cands) == 1
    return cands[0]


def _bs_delta(surface, k, t, call):
    from models.market.pricing import bsm_greeks

    r = -math.log(float(surface.discount_factor(t))) / t
    return float(bsm_greeks(surface.spot, k, t, r, r, 0.20, call).delta)


def test_iron_condor_strikes_follow_rules(flat):
    cands = generate_candidates(
        strategy="ic",
        template_name="iron_condor",
        legs=None,
        underlying="X",
        surface=flat,
        expiry_rule=ExpiryRule(dte=45),
        grid={"short_delta": [0.16], "wing_width": [5]},
    )
    assert len(cands) == 1
    c = cands[0]
    sp, lp, sc, lc = c.legs
    assert (sp.right, sp.quantity, lp.quantity, sc.right, lc.quantity) == (
        Right.PUT,
        -1,
        +1,
        Right.CALL,
        +1,
    )
    assert lp.strike == sp.strike - 5 and lc.strike == sc.strike + 5
    t = c.t
    # the chosen short strikes are the listed strikes whose |delta| is nearest 0.16
    strikes = np.arange(60.0, 100.0)
    dp = np.array([abs(_bs_delta(flat, k, t, False)) for k in strikes])
    assert sp.strike == strikes[np.argmin(np.abs(dp - 0.16))]
    strikes_c = np.arange(101.0, 140.0)
    dc = np.array([abs(_bs_delta(flat, k, t, True)) for k in strikes_c])
    assert sc.strike == strikes_c[np.argmin(np.abs(dc - 0.16))]
    # expiry: exactly 45 days on a synthetic surface
    assert c.expiry == VAL + timedelta(days=45)


def test_lt112_structure_and_duplicates_merged(flat):
    cands = generate_candidates(
        strategy="lt112",
        template_name="lt112",
        legs=None,
        underlying="X",
        surface=flat,
        expiry_rule=ExpiryRule(dte=120),
        grid={"long_otm": [0.07, 0.0701], "spread_width": [5], "naked_otm": [0.15]},
    )
    assert len(cands) == 1  # 0.07 and 0.0701 resolve to the same strikes
    lp, sp, nk = cands[0].legs
    assert (lp.quantity, sp.quantity, nk.quantity) == (1, -1, -2)
    # F = 100 (futures-style synthetic surface): 7% OTM -> 93, 5 points lower -> 88, 15% OTM -> 85
    assert (lp.strike, sp.strike, nk.strike) == (93.0, 88.0, 85.0)


def test_unreachable_delta_is_skipped():
    s = synthetic_surface(100.0, VAL, 0.20, strike_increment=25.0)
    cands = generate_candidates(
        strategy="x",
        template_name="cash_secured_put",
        legs=None,
        underlying="X",
        surface=s,
        expiry_rule=ExpiryRule(dte=30),
        grid={"short_delta": [0.16]},
    )
    assert cands == []


def test_grid_mismatch_raises(flat):
    with pytest.raises(ModelError, match="missing parameter"):
        generate_candidates(
            strategy="x",
            template_name="iron_condor",
            legs=None,
            underlying="X",
            surface=flat,
            expiry_rule=ExpiryRule(dte=30),
            grid={"short_delta": [0.1]},
        )
    with pytest.raises(ModelError, match="unknown strategy template"):
        generate_candidates(
            strategy="x",
            template_name="nope",
            legs=None,
            underlying="X",
            surface=flat,
            expiry_rule=ExpiryRule(dte=30),
            grid={},
        )


def test_expiry_rule_validation():
    with pytest.raises(ModelError):
        ExpiryRule(dte=3, intraday_hours=2)
    with pytest.raises(ModelError):
        ExpiryRule()


class _Listed:
    """Minimal surface with listed expiries, for expiry resolution and the intraday clock."""

    spot = 100.0

    def __init__(self, valuation, expiries):
        self.valuation_time = valuation
        self._exp = expiries

    def listed_expiries(self):
        return list(self._exp)


def test_resolve_expiry_nearest_listed():
    s = _Listed(
        VAL, [datetime(2026, 5, 15, 16), datetime(2026, 5, 29, 16), datetime(2026, 6, 18, 16)]
    )
    assert resolve_expiry(ExpiryRule(dte=120), s) == datetime(2026, 5, 29, 16)
    assert resolve_expiry(ExpiryRule(dte=100), s) == datetime(2026, 5, 15, 16)


def test_intraday_clock_friday_close_to_monday():
    # Friday after the close -> first expiry Monday 16:00: one session to it.
    s = _Listed(VAL, [datetime(2026, 2, 2, 16), datetime(2026, 2, 3, 16)])
    t, scale, first = intraday_expiry(s, 5.5)
    assert first == datetime(2026, 2, 2, 16)
    assert t == pytest.approx(5.5 / 8760)
    assert scale == pytest.approx(5.5 / 6.5)
    # Wednesday close -> Friday expiry: two sessions (Thu, Fri)
    s2 = _Listed(datetime(2026, 2, 4, 16), [datetime(2026, 2, 6, 16)])
    assert intraday_expiry(s2, 6.5)[1] == pytest.approx(0.5)


def test_unit_metrics_by_hand(flat):
    c = _one(flat, "iron_condor", {"short_delta": [0.2], "wing_width": [5]}, 30)
    m = unit_metrics(c, 100.0)
    t = c.t
    r = 0.04
    prices = [
        float(bsm_price(100.0, leg.strike, t, r, r, 0.20, leg.right is Right.CALL))
        for leg in c.legs
    ]
    credit = -sum(leg.quantity * p for leg, p in zip(c.legs, prices, strict=True)) * 100
    assert m.credit == pytest.approx(credit, rel=1e-10)
    # iron condor: max loss = width * multiplier - credit
    assert m.max_loss == pytest.approx(5 * 100 - credit, rel=1e-10)
    # theta per calendar day vs a finite difference of the structure value one day later
    h = 1e-4
    v = lambda tt: sum(  # noqa: E731
        leg.quantity * float(bsm_price(100.0, leg.strike, tt, r, r, 0.20, leg.right is Right.CALL))
        for leg in c.legs
    )
    fd = -(v(t + h) - v(t - h)) / (2 * h) / 365 * 100
    assert m.theta == pytest.approx(fd, rel=1e-5)
    assert m.theta > 0  # short premium gains from decay
    assert m.notional == pytest.approx(2 * 100.0 * 100)


def test_zero_dte_theta_is_remaining_decay(flat):
    c = _one(flat, "put_credit_spread", {"short_delta": [0.2], "wing_width": [3]}, 30)
    tiny = type(c)(**{**c.__dict__, "t": 2.0 / 8760})
    m = unit_metrics(tiny, 100.0)
    # OTM spread: all of its value decays by the close -> theta = credit (per unit, money)
    r = -math.log(c.discount_factor) / c.t
    q = r - math.log(c.forward / c.spot) / c.t
    value = sum(
        leg.quantity * float(bsm_price(100.0, leg.strike, tiny.t, r, q, iv, False))
        for leg, iv in zip(c.legs, c.ivs, strict=True)
    )
    assert m.theta == pytest.approx(-value * 100, rel=1e-9)


@given(
    k=st.lists(st.floats(50, 150), min_size=2, max_size=2, unique=True),
    s=st.floats(1, 300),
)
@settings(max_examples=60, deadline=None)
def test_payoff_and_max_loss_of_put_spread(k, s):
    from models.legs import Leg
    from models.strategies import Candidate

    hi, lo = max(k), min(k)
    exp = VAL + timedelta(days=30)
    legs = (Leg(Right.PUT, hi, exp, -1, 3.0), Leg(Right.PUT, lo, exp, +1, 1.0))
    c = Candidate("x", "s", "t", "X", exp, 30 / 365, 100.0, 100.0, 1.0, 0.2, legs, (0.2, 0.2))
    pnl = payoff_at_expiry(c, np.array([s]), 10.0)[0]
    expected = (2.0 - max(hi - s, 0) + max(lo - s, 0)) * 10.0
    assert pnl == pytest.approx(expected)
    assert max_loss_at_expiry(c, 10.0) == pytest.approx(max((hi - lo - 2.0) * 10.0, 0.0))


def test_naked_call_max_loss_unbounded(flat):
    from models.legs import Leg
    from models.strategies import Candidate

    exp = VAL + timedelta(days=30)
    c = Candidate(
        "x",
        "s",
        "t",
        "X",
        exp,
        30 / 365,
        100.0,
        100.0,
        1.0,
        0.2,
        (Leg(Right.CALL, 110.0, exp, -1, 1.0),),
        (0.2,),
    )
    assert math.isinf(max_loss_at_expiry(c, 100.0))


# ----------------------------------------------------------------------------- income models


def test_exposure_and_cycles():
    assert exposure_days(0.2, 4.33, 21) == pytest.approx(4.33)
    assert exposure_days(119, 1, 21) == 21
    assert cycles_per_month(119, 4) == pytest.approx((365.25 / 12) / 119)
    assert cycles_per_month(0.2, 4.33) == pytest.approx(4.33)


def test_expiry_model_matches_numerical_integration(flat):
    c = _one(flat, "iron_condor", {"short_delta": [0.16], "wing_width": [5]}, 45)
    ratio = 0.85
    got = expected_pnl_at_expiry(c, ratio, 100.0)
    sig = c.atm_iv * ratio * math.sqrt(c.t)
    dist = stats.lognorm(s=sig, scale=c.forward * math.exp(-0.5 * sig * sig))

    def payoff(x):
        return sum(
            leg.quantity
            * (max(x - leg.strike, 0) if leg.right is Right.CALL else max(leg.strike - x, 0))
            for leg in c.legs
        )

    pts = sorted({leg.strike for leg in c.legs})
    e_pay = integrate.quad(lambda x: payoff(x) * dist.pdf(x), 0, 400, points=pts, limit=200)[0]
    credit = -sum(leg.quantity * leg.price for leg in c.legs)
    assert got == pytest.approx((credit + c.discount_factor * e_pay) * 100, rel=1e-6)
    # a lower realized vol makes a short-premium structure more profitable
    assert expected_pnl_at_expiry(c, 0.7, 100.0) > expected_pnl_at_expiry(c, 1.0, 100.0)
    inc = monthly_income(
        IncomeModel.EXPIRY,
        candidate=c,
        multiplier=100.0,
        theta_per_day=0.0,
        entries_per_month=1,
        vol_ratio=ratio,
    )
    assert inc == pytest.approx(got * cycles_per_month(c.t * 365, 1))


def test_measure_vol_ratio_recovers_known_ratio():
    rng = np.random.default_rng(7)
    n = 3000
    idx = pd.bdate_range("2000-01-03", periods=n)
    sigma = 0.16
    rets = rng.normal(0, sigma / math.sqrt(252), n)
    spx = pd.Series(1000 * np.exp(np.cumsum(rets)), index=idx)
    vix = pd.Series(100 * sigma / 0.8, index=idx)  # implied = realized / 0.8
    res = measure_vol_ratio(vix, spx)
    assert res.ratio == pytest.approx(0.8, rel=0.03)
    assert res.horizon == 21 and res.n > 2900


def test_vol_ratio_from_shipped_history():
    from pathlib import Path

    from models.market.history import load_index_history, load_vix_history

    data = Path(__file__).resolve().parents[2] / "scenarios" / "data"
    res = measure_vol_ratio(
        load_vix_history(data / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"),
        load_index_history(data / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"),
    )
    # implied vol has exceeded subsequent realized vol on average since 1990 (variance premium)
    assert 0.6 < res.ratio < 0.95
    assert res.start == "1990-01-02"
