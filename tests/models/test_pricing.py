"""Tests of models.market.pricing against independent references.

References: QuantLib (AnalyticEuropeanEngine, BlackCalculator, blackFormula,
blackFormulaImpliedStdDev), Hull's textbook examples, put-call parity, central finite differences
and price -> implied vol -> price round trips.

Tolerances (stated once, used throughout):

* prices vs QuantLib: 1e-8 relative, or 1e-10 absolute for tiny prices;
* Greeks vs QuantLib: 1e-7 relative, or 1e-9 absolute (per share / per vol point / per day);
* implied vol: 1e-8 absolute wherever ``eps * (F + K) * D / vega`` (the vol change one rounding
  error of the price causes) is below 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.market.pricing import (
    IV_REASONS,
    Greeks,
    IVResult,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    implied_vol,
)

EPS = np.finfo(np.float64).eps
PRICE_RTOL, PRICE_ATOL = 1e-8, 1e-10
GREEK_RTOL, GREEK_ATOL = 1e-7, 1e-9
GREEK_NAMES = ("price", "delta", "gamma", "vega", "theta", "rho")
# Valid inputs must not trip numpy floating-point warnings (overflow, 0/0, ...).
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_close(actual, expected, rtol, atol, what=""):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values"
    err = np.abs(actual - expected)
    bad = err > atol + rtol * np.abs(expected)
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        pytest.fail(
            f"{what}: {bad.sum()} mismatches, first #{i}: got {actual.ravel()[i]!r}, "
            f"expected {expected.ravel()[i]!r}"
        )


def iv_information(forward, strike, t, sigma):
    """Vol error one rounding of the price implies: eps (F + K) D / (dV/dsigma); D cancels."""
    vega = black76_greeks(forward, strike, t, 0.0, sigma, True).vega * 100.0  # per 1.00, D = 1
    with np.errstate(divide="ignore", over="ignore"):  # vega 0 or denormal: no information
        return EPS * (forward + strike) / vega


# --------------------------------------------------------------------------- textbook values


def test_hull_example_15_6_bsm():
    """Hull 9th ed. Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5 -> c = 4.76, p = 0.81."""
    call = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    put = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False)
    assert round(float(call), 2) == 4.76
    assert round(float(put), 2) == 0.81


def test_hull_example_17_1_index_option():
    """Hull 9th ed. Example 17.1: S=930, K=900, r=8%, q=3%, sigma=20%, T=2/12 -> c = 51.83."""
    assert round(float(bsm_price(930.0, 900.0, 2 / 12, 0.08, 0.03, 0.20, True)), 2) == 51.83


def test_hull_example_18_futures_put():
    """Hull 9th ed. Example 18.8: F=K=20, r=9%, T=4/12, sigma=25% -> Black-76 put = 1.12."""
    assert round(float(black76_price(20.0, 20.0, 4 / 12, 0.09, 0.25, False)), 2) == 1.12


def test_hull_chapter_19_greeks():
    """Hull 9th ed. ch. 19 running example: S=49, K=50, r=5%, sigma=20%, T=20 weeks.

    Hull: price 2.40, delta 0.522, gamma 0.066, vega 12.1 (per 1.00), theta -4.31 per year
    (-0.0118 per calendar day), rho 8.91 (per 1.00).
    """
    g = bsm_greeks(49.0, 50.0, 20 / 52, 0.05, 0.0, 0.20, True)
    assert round(float(g.price), 2) == 2.40
    assert round(float(g.delta), 3) == 0.522
    assert round(float(g.gamma), 3) == 0.066
    assert round(float(g.vega) * 100, 1) == 12.1
    assert round(float(g.theta) * 365, 2) == -4.31
    assert round(float(g.theta), 4) == -0.0118
    assert round(float(g.rho) * 100, 2) == 8.91


# --------------------------------------------------------------------------- QuantLib agreement


def _ql_bsm_engine_grid():
    """BSM price and Greeks from ql.AnalyticEuropeanEngine on a date-based grid."""
    today = ql.Date(30, ql.January, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    cal = ql.NullCalendar()
    spot_q, r_q, q_q, vol_q = (ql.SimpleQuote(0.0) for _ in range(4))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot_q),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(q_q), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(r_q), dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, cal, ql.QuoteHandle(vol_q), dc)),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    rows, out = [], []
    spot = 100.0
    for days in (1, 7, 30, 182, 365, 1825):
        for strike in (40.0, 80.0, 95.0, 100.0, 105.0, 125.0, 250.0):
            for is_call in (True, False):
                kind = ql.Option.Call if is_call else ql.Option.Put
                option = ql.VanillaOption(
                    ql.PlainVanillaPayoff(kind, strike), ql.EuropeanExercise(today + days)
                )
                option.setPricingEngine(engine)
                for r in (-0.01, 0.0, 0.05):
                    for q in (0.0, 0.03):
                        for sigma in (0.05, 0.2, 0.8, 2.5):
                            spot_q.setValue(spot)
                            r_q.setValue(r)
                            q_q.setValue(q)
                            vol_q.setValue(sigma)
                            rows.append((spot, strike, days / 365.0, r, q, sigma, is_call))
                            out.append(
                                (
                                    option.NPV(),
                                    option.delta(),
                                    option.gamma(),
                                    option.vega() / 100.0,
                                    option.thetaPerDay(),
                                    option.rho() / 100.0,
                                )
                            )
    return np.array(rows, dtype=object), np.array(out)


def test_bsm_matches_quantlib_analytic_engine():
    rows, expected = _ql_bsm_engine_grid()
    cols = [np.array(rows[:, i], dtype=float) for i in range(6)] + [rows[:, 6].astype(bool)]
    g = bsm_greeks(*cols)
    assert_close(bsm_price(*cols), expected[:, 0], PRICE_RTOL, PRICE_ATOL, "bsm_price")
    for j, name in enumerate(GREEK_NAMES):
        rtol, atol = (PRICE_RTOL, PRICE_ATOL) if name == "price" else (GREEK_RTOL, GREEK_ATOL)
        assert_close(getattr(g, name), expected[:, j], rtol, atol, f"bsm {name}")


def _bsm_fractional_grid():
    spot = 100.0
    grid = np.array(
        np.meshgrid(
            [30.0, 70.0, 90.0, 99.0, 100.0, 101.0, 110.0, 140.0, 300.0],  # strike
            [1 / 8760, 4 / 8760, 1 / 365, 0.05, 0.5, 3.0],  # t
            [-0.005, 0.045],  # r
            [0.0, 0.02],  # q
            [0.01, 0.15, 0.8, 5.0],  # sigma
            [1.0, 0.0],  # is_call
            indexing="ij",
        )
    ).reshape(6, -1)
    strike, t, r, q, sigma, call = grid
    return spot, strike, t, r, q, sigma, call.astype(bool)


def test_bsm_matches_quantlib_black_calculator_short_dated():
    """Fractional t down to one hour (0DTE), via ql.BlackCalculator on the forward."""
    spot, strike, t, r, q, sigma, call = _bsm_fractional_grid()
    expected = []
    for k, tt, rr, qq, s, c in zip(strike, t, r, q, sigma, call, strict=True):
        kind = ql.Option.Call if c else ql.Option.Put
        fwd = spot * math.exp((rr - qq) * tt)
        bc = ql.BlackCalculator(
            ql.PlainVanillaPayoff(kind, k), fwd, s * math.sqrt(tt), math.exp(-rr * tt)
        )
        expected.append(
            (
                bc.value(),
                bc.delta(spot),
                bc.gamma(spot),
                bc.vega(tt) / 100.0,
                bc.theta(spot, tt) / 365.0,
                bc.rho(tt) / 100.0,
            )
        )
    expected = np.array(expected)
    g = bsm_greeks(spot, strike, t, r, q, sigma, call)
    for j, name in enumerate(GREEK_NAMES):
        rtol, atol = (PRICE_RTOL, PRICE_ATOL) if name == "price" else (GREEK_RTOL, GREEK_ATOL)
        # QuantLib's theta divides two near-equal terms by t; compare it relative to its scale.
        if name == "theta":
            atol = GREEK_ATOL + 1e-9 * np.abs(g.price) / t
        assert_close(getattr(g, name), expected[:, j], rtol, atol, f"bsm {name}")


def test_black76_matches_quantlib():
    forward = 4000.0
    strikes = forward * np.exp(np.linspace(-1.0, 1.0, 21))
    t = np.array([1 / 8760, 1 / 365, 0.1, 1.0, 5.0])
    sigma = np.array([0.01, 0.2, 0.8, 3.0])
    k, tt, s, c = (a.ravel() for a in np.meshgrid(strikes, t, sigma, [True, False], indexing="ij"))
    rate = 0.04
    expected = []
    for kk, t1, s1, c1 in zip(k, tt, s, c, strict=True):
        kind = ql.Option.Call if c1 else ql.Option.Put
        disc = math.exp(-rate * t1)
        bc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, kk), forward, s1 * math.sqrt(t1), disc)
        expected.append(
            (
                ql.blackFormula(kind, kk, forward, s1 * math.sqrt(t1), disc),
                bc.deltaForward(),
                bc.gammaForward(),
                bc.vega(t1) / 100.0,
            )
        )
    expected = np.array(expected)
    g = black76_greeks(forward, k, tt, rate, s, c)
    assert_close(black76_price(forward, k, tt, rate, s, c), expected[:, 0], 1e-8, 1e-10, "price")
    assert_close(g.price, expected[:, 0], PRICE_RTOL, PRICE_ATOL, "b76 price")
    assert_close(g.delta, expected[:, 1], GREEK_RTOL, GREEK_ATOL, "b76 delta")
    assert_close(g.gamma, expected[:, 2], GREEK_RTOL, GREEK_ATOL, "b76 gamma")
    assert_close(g.vega, expected[:, 3], GREEK_RTOL, GREEK_ATOL, "b76 vega")
    # Forward held fixed: rho = -T V and theta = r V - D F n(d1) sigma / (2 sqrt T), per day.
    assert_close(g.rho, -tt * expected[:, 0] / 100.0, PRICE_RTOL, PRICE_ATOL, "b76 rho")
    decay = expected[:, 3] * 100.0 * s / (2.0 * tt)  # D F n(d1) sqrt(T) * sigma / (2 T)
    assert_close(g.theta, (rate * expected[:, 0] - decay) / 365.0, 1e-7, 1e-9, "b76 theta")


def test_implied_vol_matches_quantlib():
    forward, rate = 100.0, 0.03
    k, t, s, c = (
        a.ravel()
        for a in np.meshgrid(
            forward * np.exp(np.linspace(-0.5, 0.5, 11)),
            [7 / 365, 0.25, 1.0, 2.0],
            [0.05, 0.3, 1.5],
            [True, False],
            indexing="ij",
        )
    )
    disc = np.exp(-rate * t)
    prices = black76_price(forward, k, t, rate, s, c)
    info = iv_information(forward, k, t, s) < 1e-10
    assert info.mean() > 0.6
    expected = np.full_like(prices, np.nan)
    for i in np.flatnonzero(info):
        kind = ql.Option.Call if c[i] else ql.Option.Put
        std = ql.blackFormulaImpliedStdDev(
            kind, k[i], forward, prices[i], disc[i], 0.0, s[i] * 1.3 * math.sqrt(t[i]), 1e-14, 500
        )
        expected[i] = std / math.sqrt(t[i])
    got = implied_vol(prices, forward, k, t, disc, c)
    assert np.all(got.reason[info] == "")
    assert_close(got.iv[info], expected[info], 0.0, 1e-8, "iv vs QuantLib")
    assert_close(got.iv[info], s[info], 0.0, 1e-8, "iv vs true vol")


def test_implied_vol_on_quantlib_prices_short_dated():
    """Invert prices computed by QuantLib (independent of our pricer), incl. 1-hour expiries."""
    forward = 6939.0
    k, t, s, c = (
        a.ravel()
        for a in np.meshgrid(
            forward * np.exp(np.linspace(-1.0, 1.0, 41)),
            [1 / 8760, 6 / 8760, 1 / 365, 30 / 365, 5.0],
            [0.01, 0.12, 0.8, 3.0],
            [True, False],
            indexing="ij",
        )
    )
    disc = np.exp(-0.04 * t)
    prices = np.array(
        [
            ql.blackFormula(ql.Option.Call if c1 else ql.Option.Put, k1, forward, s1 * t1**0.5, d1)
            for k1, t1, s1, c1, d1 in zip(k, t, s, c, disc, strict=True)
        ]
    )
    info = (iv_information(forward, k, t, s) < 1e-10) & (prices > 1e-280)
    assert info.sum() > 500
    got = implied_vol(prices, forward, k, t, disc, c)
    assert np.all(got.reason[info] == "")
    assert_close(got.iv[info], s[info], 0.0, 1e-8, "iv of QuantLib prices")


# --------------------------------------------------------------------------- implied vol precision


def test_implied_vol_precision_grid():
    """sigma in [0.01, 3], ln(K/F) in [-1, 1], t in [1h, 5y]: 1e-8 wherever the price informs."""
    sig, mny, t = np.meshgrid(
        np.geomspace(0.01, 3.0, 25),
        np.linspace(-1.0, 1.0, 41),
        np.geomspace(1 / 8760, 5.0, 25),
        indexing="ij",
    )
    forward, rate = 100.0, 0.05
    strike = forward * np.exp(mny)
    disc = np.exp(-rate * t)
    info = iv_information(forward, strike, t, sig) < 1e-10
    # The informative region must cover the hard corners, or the test proves little.
    assert info.mean() > 0.3
    assert info[:, :, 0].any() and info[0].any() and info[-1].any()
    assert info[:, 0].any() and info[:, -1].any()
    for is_call in (True, False):
        prices = black76_price(forward, strike, t, rate, sig, is_call)
        got = implied_vol(prices, forward, strike, t, disc, is_call)
        assert np.all(got.reason[info] == "")
        assert_close(got.iv[info], sig[info], 0.0, 1e-8, f"iv call={is_call}")
        # Outside it: either a vol that reproduces the price, or NaN with a reason.
        ok = got.reason == ""
        assert np.all(np.isfinite(got.iv[ok])) and np.all(got.iv[ok] > 0)
        assert np.all(np.isnan(got.iv[~ok]))
        assert set(got.reason[~ok].ravel()) <= {"below_intrinsic", "nonpositive_price"}
        repriced = black76_price(forward, strike, t, rate, got.iv, is_call)
        assert_close(repriced[ok], prices[ok], 0.0, 64 * EPS * (forward + strike[ok]), "reprice")


def test_implied_vol_inverts_bsm():
    spot, strike, t, r, q, sigma, call = _bsm_fractional_grid()
    sigma = np.minimum(sigma, 3.0)
    prices = bsm_price(spot, strike, t, r, q, sigma, call)
    forward = spot * np.exp((r - q) * t)
    got = implied_vol(prices, forward, strike, t, np.exp(-r * t), call)
    info = iv_information(forward, strike, t, sigma) < 1e-10
    assert info.mean() > 0.3
    assert_close(got.iv[info], sigma[info], 0.0, 1e-8, "bsm iv")


# --------------------------------------------------------------------------- properties


moneyness = st.floats(-1.0, 1.0)
vol = st.floats(0.01, 3.0)
short_to_long = st.floats(1 / 8760, 5.0)
rates = st.floats(-0.02, 0.12)


@HYP
@given(
    forward=st.floats(1.0, 1e4),
    m=moneyness,
    t=short_to_long,
    r=rates,
    sigma=st.floats(0.0, 5.0),
)
def test_put_call_parity_black76(forward, m, t, r, sigma):
    strike = forward * math.exp(m)
    call = black76_price(forward, strike, t, r, sigma, True)
    put = black76_price(forward, strike, t, r, sigma, False)
    disc = math.exp(-r * t)
    assert abs((call - put) - disc * (forward - strike)) <= 16 * EPS * (forward + strike)


@HYP
@given(
    spot=st.floats(1.0, 1e4),
    m=moneyness,
    t=short_to_long,
    r=rates,
    q=st.floats(0.0, 0.08),
    sigma=st.floats(0.0, 5.0),
)
def test_put_call_parity_bsm(spot, m, t, r, q, sigma):
    strike = spot * math.exp(m)
    call = bsm_greeks(spot, strike, t, r, q, sigma, True)
    put = bsm_greeks(spot, strike, t, r, q, sigma, False)
    fwd_value = spot * math.exp(-q * t) - strike * math.exp(-r * t)
    assert abs((call.price - put.price) - fwd_value) <= 16 * EPS * (spot + strike)
    # Parity also fixes the Greek differences: delta_c - delta_p = e^{-qT}, equal gamma and vega.
    assert call.delta - put.delta == pytest.approx(math.exp(-q * t), abs=1e-12)
    assert call.gamma == pytest.approx(float(put.gamma), rel=1e-12, abs=1e-300)
    assert call.vega == pytest.approx(float(put.vega), rel=1e-12, abs=1e-300)


def _central(f, x, h):
    """Five-point central difference, truncation error O(h^4)."""
    return (8.0 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12.0 * h)


@HYP
@given(
    spot=st.floats(20.0, 500.0),
    t=st.floats(2 / 365, 5.0),
    r=rates,
    q=st.floats(0.0, 0.08),
    sigma=st.floats(0.05, 2.0),
    is_call=st.booleans(),
)
def test_bsm_greeks_match_finite_differences(spot, t, r, q, sigma, is_call):
    strike = 100.0
    g = bsm_greeks(spot, strike, t, r, q, sigma, is_call)

    def price(**kw):
        args = {"spot": spot, "t": t, "rate": r, "div_yield": q, "sigma": sigma} | kw
        return float(bsm_price(strike=strike, is_call=is_call, **args))

    def delta(s):
        return float(bsm_greeks(s, strike, t, r, q, sigma, is_call).delta)

    scale = spot + strike
    h_s = 1e-2 * spot * sigma * math.sqrt(t)  # 1 % of a standard deviation
    assert g.delta == pytest.approx(_central(lambda s: price(spot=s), spot, h_s), abs=1e-7)
    assert g.gamma == pytest.approx(_central(delta, spot, h_s), rel=1e-5, abs=1e-9)
    fd_vega = _central(lambda v: price(sigma=v), sigma, 1e-4) / 100.0
    assert g.vega == pytest.approx(fd_vega, rel=1e-6, abs=1e-9 * scale)
    h_t = 1e-3 * t
    fd_theta = -_central(lambda u: price(t=u), t, h_t) / 365.0
    assert g.theta == pytest.approx(fd_theta, rel=1e-5, abs=1e-9 * scale)
    fd_rho = _central(lambda u: price(rate=u), r, 1e-4) / 100.0
    assert g.rho == pytest.approx(fd_rho, rel=1e-6, abs=1e-9 * scale)


@HYP
@given(
    forward=st.floats(20.0, 500.0),
    t=st.floats(2 / 365, 5.0),
    r=rates,
    sigma=st.floats(0.05, 2.0),
    is_call=st.booleans(),
)
def test_black76_greeks_match_finite_differences(forward, t, r, sigma, is_call):
    strike = 100.0
    g = black76_greeks(forward, strike, t, r, sigma, is_call)

    def price(**kw):
        args = {"forward": forward, "t": t, "rate": r, "sigma": sigma} | kw
        return float(black76_price(strike=strike, is_call=is_call, **args))

    def delta(f):
        return float(black76_greeks(f, strike, t, r, sigma, is_call).delta)

    scale = forward + strike
    h_f = 1e-2 * forward * sigma * math.sqrt(t)
    assert g.delta == pytest.approx(_central(lambda f: price(forward=f), forward, h_f), abs=1e-7)
    assert g.gamma == pytest.approx(_central(delta, forward, h_f), rel=1e-5, abs=1e-9)
    fd_vega = _central(lambda v: price(sigma=v), sigma, 1e-4) / 100.0
    assert g.vega == pytest.approx(fd_vega, rel=1e-6, abs=1e-9 * scale)
    fd_theta = -_central(lambda u: price(t=u), t, 1e-3 * t) / 365.0
    assert g.theta == pytest.approx(fd_theta, rel=1e-5, abs=1e-9 * scale)
    fd_rho = _central(lambda u: price(rate=u), r, 1e-4) / 100.0
    assert g.rho == pytest.approx(fd_rho, rel=1e-6, abs=1e-9 * scale)


@HYP
@given(
    forward=st.floats(1.0, 1e4),
    m=moneyness,
    t=short_to_long,
    r=rates,
    sigma=vol,
    is_call=st.booleans(),
)
def test_implied_vol_round_trip(forward, m, t, r, sigma, is_call):
    strike = forward * math.exp(m)
    disc = math.exp(-r * t)
    price = black76_price(forward, strike, t, r, sigma, is_call)
    got = implied_vol(price, forward, strike, t, disc, is_call)
    if iv_information(forward, strike, t, sigma) < 1e-10:
        assert got.reason == ""
        assert abs(got.iv - sigma) <= 1e-8
    if got.reason == "":
        repriced = black76_price(forward, strike, t, r, got.iv, is_call)
        assert abs(repriced - price) <= 64 * EPS * (forward + strike)
    else:
        # No vol only when the time value is lost in rounding (price at or below intrinsic).
        assert got.reason in ("below_intrinsic", "nonpositive_price")
        intrinsic = disc * max((forward - strike) if is_call else (strike - forward), 0.0)
        assert price - intrinsic <= 4 * EPS * (forward + strike)


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("t", [0.0, -0.1])
def test_expired_options_pay_intrinsic(t):
    spot = np.array([90.0, 100.0, 110.0])
    for fn in (
        lambda c: bsm_greeks(spot, 100.0, t, 0.05, 0.02, 0.3, c),
        lambda c: black76_greeks(spot, 100.0, t, 0.05, 0.3, c),
    ):
        call, put = fn(True), fn(False)
        np.testing.assert_array_equal(call.price, [0.0, 0.0, 10.0])
        np.testing.assert_array_equal(put.price, [10.0, 0.0, 0.0])
        np.testing.assert_array_equal(call.delta, [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(put.delta, [-1.0, -0.5, 0.0])
        for g in (call, put):
            for name in ("gamma", "vega", "theta", "rho"):
                np.testing.assert_array_equal(getattr(g, name), 0.0)


def test_zero_vol_is_deterministic_forward():
    # r == q makes the forward equal the spot exactly, so the middle option is at the money.
    spot, r, q, t = np.array([90.0, 100.0, 120.0]), 0.03, 0.03, 0.5
    strike = np.array([100.0, 100.0, 100.0])
    fwd = spot * math.exp((r - q) * t)
    disc, grow = math.exp(-r * t), math.exp(-q * t)
    for sigma in (0.0, -0.2):
        call = bsm_greeks(spot, strike, t, r, q, sigma, True)
        put = bsm_greeks(spot, strike, t, r, q, sigma, False)
        np.testing.assert_allclose(call.price, disc * np.maximum(fwd - strike, 0), atol=1e-12)
        np.testing.assert_allclose(put.price, disc * np.maximum(strike - fwd, 0), atol=1e-12)
        np.testing.assert_allclose(call.delta, grow * np.array([0.0, 0.5, 1.0]), atol=1e-15)
        for g in (call, put):
            np.testing.assert_array_equal(g.gamma, 0.0)
            np.testing.assert_array_equal(g.vega, 0.0)
        # Theta from carry only: ITM call value S e^{-qT} - K e^{-rT}; -dV/dT = qSe^{-qT} - rKe^{-rT}.
        expected = (q * spot[2] * grow - r * strike[2] * disc) / 365.0
        assert call.theta[2] == pytest.approx(expected, rel=1e-12)
        assert call.theta[0] == 0.0 and put.theta[2] == 0.0
        b76 = black76_greeks(fwd, strike, t, r, sigma, True)
        np.testing.assert_allclose(b76.price, call.price, atol=1e-12)
        np.testing.assert_allclose(b76.theta, r * b76.price / 365.0, atol=1e-15)


def test_limits_are_continuous():
    """Tiny t and tiny sigma approach the edge-case values."""
    g = bsm_greeks(110.0, 100.0, 1e-10, 0.05, 0.0, 0.3, True)
    assert g.price == pytest.approx(10.0, abs=1e-8)
    assert g.delta == pytest.approx(1.0)
    sigma0 = bsm_greeks(90.0, 100.0, 1.0, 0.05, 0.0, 0.0, False)
    tiny = bsm_greeks(90.0, 100.0, 1.0, 0.05, 0.0, 1e-9, False)
    for name in GREEK_NAMES:
        assert getattr(tiny, name) == pytest.approx(float(getattr(sigma0, name)), abs=1e-9)


def test_extreme_inputs_are_finite():
    strike = 100.0 * np.exp(np.linspace(-8, 8, 33))
    t = np.array([[1e-12], [1 / 8760], [1.0], [30.0]])
    for sigma in (1e-308, 1e-145, 1e-8, 0.8, 5.0, 20.0):
        for c in (True, False):
            for g in (
                bsm_greeks(100.0, strike, t, 0.05, 0.02, sigma, c),
                black76_greeks(100.0, strike, t, 0.05, sigma, c),
            ):
                for name in GREEK_NAMES:
                    assert np.all(np.isfinite(getattr(g, name))), (sigma, c, name)
                assert np.all(g.price >= 0)
    zeros = bsm_greeks([0.0, 100.0, 0.0], [100.0, 0.0, 0.0], 1.0, 0.05, 0.0, 0.3, True)
    for name in GREEK_NAMES:
        assert np.all(np.isfinite(getattr(zeros, name)))
    assert zeros.price[1] == pytest.approx(100.0)  # zero-strike call is the share


def test_high_vol_vix_style():
    """80 % - 500 % vols: no NaN, price within bounds, iv round-trips."""
    sigma = np.array([0.8, 1.5, 3.0, 5.0])
    g = black76_greeks(20.0, 25.0, 30 / 365, 0.04, sigma, True)
    disc = math.exp(-0.04 * 30 / 365)
    assert np.all((g.price > 0) & (g.price < 20.0 * disc))
    assert np.all(np.diff(g.price) > 0)
    got = implied_vol(g.price, 20.0, 25.0, 30 / 365, disc, True)
    np.testing.assert_allclose(got.iv, sigma, atol=1e-8)


def test_negative_inputs_raise():
    with pytest.raises(ValueError, match="spot must be >= 0"):
        bsm_price([100.0, -1.0], 100.0, 1.0, 0.0, 0.0, 0.2, True)
    with pytest.raises(ValueError, match="strike must be >= 0"):
        bsm_greeks(100.0, -5.0, 1.0, 0.0, 0.0, 0.2, True)
    with pytest.raises(ValueError, match="forward must be >= 0"):
        black76_price(-100.0, 100.0, 1.0, 0.0, 0.2, True)
    with pytest.raises(ValueError, match="strike must be >= 0"):
        black76_greeks(100.0, -100.0, 1.0, 0.0, 0.2, False)
    with pytest.raises(ValueError, match="is_call"):
        bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, "put")


def test_implied_vol_reasons():
    f, k, t, d = 100.0, 100.0, 0.5, 0.98
    cases = [
        # price, forward, strike, t, discount, is_call, reason
        (5.0, f, k, t, d, True, ""),
        (0.5, 120.0, k, t, d, True, "below_intrinsic"),  # intrinsic 0.98 * 20
        (19.6, 120.0, k, t, d, True, "below_intrinsic"),  # exactly intrinsic
        (98.0, f, k, t, d, True, "above_upper_bound"),  # = D F
        (99.0, f, k, t, d, False, "above_upper_bound"),  # > D K
        (5.0, f, k, 0.0, d, True, "nonpositive_time"),
        (5.0, f, k, -1.0, d, True, "nonpositive_time"),
        (0.0, f, k, t, d, True, "nonpositive_price"),
        (-1.0, f, k, t, d, False, "nonpositive_price"),
        (np.nan, f, k, t, d, True, "invalid_input"),
        (5.0, -f, k, t, d, True, "invalid_input"),
        (5.0, f, 0.0, t, d, True, "invalid_input"),
        (5.0, f, k, t, 0.0, True, "invalid_input"),
        (5.0, f, k, np.inf, d, True, "invalid_input"),
    ]
    cols = list(zip(*cases, strict=True))
    got = implied_vol(*(np.array(c) for c in cols[:6]))
    assert isinstance(got, IVResult)
    assert list(got.reason) == list(cols[6])
    assert np.isfinite(got.iv[0]) and np.all(np.isnan(got.iv[1:]))
    assert set(cols[6][1:]) <= set(IV_REASONS)


def test_implied_vol_no_convergence_is_reported():
    price = black76_price(100.0, 130.0, 0.5, 0.0, 0.4, True)
    got = implied_vol(price, 100.0, 130.0, 0.5, 1.0, True, max_iter=1)
    assert got.reason == "no_convergence" and np.isnan(got.iv)
    assert implied_vol(price, 100.0, 130.0, 0.5, 1.0, True).iv == pytest.approx(0.4, abs=1e-12)


def test_broadcasting_and_shapes():
    spot = np.array([[90.0], [100.0], [110.0]])  # (3, 1)
    strike = np.array([95.0, 100.0, 105.0, 120.0])  # (4,)
    is_call = np.array([True, False, True, False])
    g = bsm_greeks(spot, strike, 0.25, 0.03, 0.01, 0.2, is_call)
    assert isinstance(g, Greeks)
    for name in GREEK_NAMES:
        assert getattr(g, name).shape == (3, 4)
    np.testing.assert_array_equal(bsm_price(spot, strike, 0.25, 0.03, 0.01, 0.2, is_call), g.price)
    # Each element equals its scalar evaluation.
    assert g.price[1, 1] == bsm_price(100.0, 100.0, 0.25, 0.03, 0.01, 0.2, False)
    b = black76_greeks(spot, strike, [[0.1], [0.2], [0.3]], 0.03, 0.2, True)
    assert b.vega.shape == (3, 4)
    scalar = bsm_greeks(100.0, 100.0, 0.25, 0.03, 0.01, 0.2, True)
    assert all(getattr(scalar, n).shape == () for n in GREEK_NAMES)
    iv = implied_vol(g.price, spot * np.exp(0.02 * 0.25), strike, 0.25, np.exp(-0.0075), is_call)
    assert iv.iv.shape == (3, 4) and iv.reason.shape == (3, 4)
    np.testing.assert_allclose(iv.iv, 0.2, atol=1e-10)
    assert implied_vol(5.0, 100.0, 100.0, 0.5, 1.0, True).iv.shape == ()


def test_is_call_accepts_lists_and_ints():
    a = bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, [True, False])
    b = bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, np.array([1, 0]))
    np.testing.assert_array_equal(a, b)


def test_nan_inputs_propagate():
    g = bsm_greeks([np.nan, 100.0], 100.0, [1.0, np.nan], 0.0, 0.0, 0.2, True)
    for name in ("price", "delta", "gamma", "vega"):
        assert np.all(np.isnan(getattr(g, name))), name
