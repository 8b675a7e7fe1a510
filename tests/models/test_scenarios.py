"""Market moves (historical, Monte Carlo, stress) and full repricing into P&L.

References: Black-Scholes written out here with scipy.stats.norm (not models.pricing), closes read
straight from the shipped S&P 500 / VIX files, put-call parity, hand-picked windows.
"""

from __future__ import annotations

import gzip
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from models.errors import DataError
from models.history import load_index_history, load_vix_history
from models.legs import Leg, Right
from models.scenarios import (
    MarketMoves,
    UnderlyingMap,
    estimate_iv_sensitivity,
    historical_moves,
    monte_carlo_moves,
    pnl_matrix,
    stress_days,
    stress_losses,
    stress_moves,
    term_factor,
)
from models.strategies import Candidate

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"
VAL = datetime(2026, 1, 30, 16, 0)
SPX = {"SPX": UnderlyingMap()}


@pytest.fixture(scope="module")
def vix() -> pd.Series:
    return load_vix_history(VIX_FILE)


@pytest.fixture(scope="module")
def spx() -> pd.Series:
    return load_index_history(SPX_FILE)


# ---------------------------------------------------------------------------------------------
# Helpers: Black-Scholes written out, candidates built by hand
# ---------------------------------------------------------------------------------------------


def bs(spot, strike, t, r, q, sigma, call):
    """Black-Scholes-Merton with a dividend yield (Hull 17.4); intrinsic at t <= 0."""
    if t <= 0:
        return max(spot - strike, 0.0) if call else max(strike - spot, 0.0)
    sd = sigma * math.sqrt(t)
    d1 = (math.log(spot / strike) + (r - q) * t) / sd + 0.5 * sd
    d2 = d1 - sd
    if call:
        return spot * math.exp(-q * t) * norm.cdf(d1) - strike * math.exp(-r * t) * norm.cdf(d2)
    return strike * math.exp(-r * t) * norm.cdf(-d2) - spot * math.exp(-q * t) * norm.cdf(-d1)


def make_candidate(legs, *, spot=5000.0, dte=30.0, r=0.04, q=0.013, underlying="SPX", cid="c"):
    """legs: (right, strike, quantity, iv); prices from :func:`bs`."""
    t = dte / 365.0
    expiry = VAL + timedelta(days=dte)
    built, ivs = [], []
    for right, strike, qty, iv in legs:
        if right is Right.UNDERLYING:
            built.append(Leg(right, math.nan, None, qty, spot))
            ivs.append(math.nan)
        else:
            price = bs(spot, strike, t, r, q, iv, right is Right.CALL)
            built.append(Leg(right, strike, expiry, qty, price))
            ivs.append(iv)
    return Candidate(
        id=cid,
        strategy="s",
        template="custom",
        underlying=underlying,
        expiry=expiry,
        t=t,
        spot=spot,
        forward=spot * math.exp((r - q) * t),
        discount_factor=math.exp(-r * t),
        atm_iv=0.2,
        legs=tuple(built),
        ivs=tuple(ivs),
    )


def moves(returns, iv_changes, horizon_days=1.0, underlyings=("SPX",)):
    r = np.asarray(returns, dtype=float).reshape(len(returns), -1)
    dv = np.asarray(iv_changes, dtype=float).reshape(len(returns), -1)
    return MarketMoves(
        kind="stress",
        labels=tuple(f"s{i}" for i in range(len(r))),
        underlyings=underlyings,
        log_return=r,
        iv_change=dv,
        horizon_days=horizon_days,
        probabilities=np.full(len(r), 1.0 / len(r)),
    )


def pnl(cands, mv, **kw):
    k = len(cands)
    return pnl_matrix(cands, mv, multipliers=[100.0] * k, fx=[1.0] * k, **kw)


# ---------------------------------------------------------------------------------------------
# Stress: hand-computed repricing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dte", [30.0, 60.0])
def test_stress_pnl_of_short_put_equals_hand_repricing(vix, spx, dte):
    d0, d1 = pd.Timestamp("2008-10-14"), pd.Timestamp("2008-10-15")
    r_move = math.log(spx[d1] / spx[d0])  # 907.84 / 998.01
    dv = (vix[d1] - vix[d0]) / 100.0  # 55.13 -> 69.25
    assert r_move == pytest.approx(-0.0947, abs=1e-4) and dv == pytest.approx(0.1412, abs=1e-9)

    spot, k, iv, r, q = 5000.0, 4500.0, 0.20, 0.04, 0.013
    cand = make_candidate([(Right.PUT, k, -1, iv)], spot=spot, dte=dte, r=r, q=q)
    mv = stress_moves(["2008-10-15"], vix=vix, index=spx, underlyings=SPX)
    got = pnl([cand], mv)[0, 0]

    t = dte / 365.0
    factor = min(max(math.sqrt((30 / 365) / t), 0.25), 2.0)
    p_old = bs(spot, k, t, r, q, iv, False)
    p_new = bs(spot * math.exp(r_move), k, t - 1 / 365, r, q, iv + factor * dv, False)
    assert got == pytest.approx(-(p_new - p_old) * 100.0, rel=1e-10)
    assert got < 0


def test_stress_days_values_and_sources(vix, spx):
    mv = stress_moves(vix=vix, index=spx, underlyings=SPX)
    assert mv.labels == (
        "1987-10-19",
        "2008-10-15",
        "2020-03-16",
        "2024-08-05 close",
        "2024-08-05 intraday",
    )
    assert mv.kind == "stress" and mv.horizon_days == 1.0
    got = dict(
        zip(mv.labels, zip(mv.log_return[:, 0], mv.iv_change[:, 0], strict=True), strict=True)
    )
    # 1987-10-19: S&P 500 from the data (282.70 -> 224.84), VXO 36.37 -> 150.19 stated.
    assert got["1987-10-19"][0] == pytest.approx(math.log(224.84 / 282.70), abs=1e-6)
    assert got["1987-10-19"][0] == pytest.approx(-0.229, abs=5e-4)
    assert got["1987-10-19"][1] == pytest.approx(1.1382, abs=1e-12)
    assert got["2020-03-16"][0] == pytest.approx(math.log(2386.13 / 2711.02), abs=1e-6)
    assert got["2020-03-16"][1] == pytest.approx((82.69 - 57.83) / 100, abs=1e-12)
    # 2024-08-05: S&P 500 -3.00% stated; VIX close from data, intraday 16 -> 65 stated.
    for name in ("2024-08-05 close", "2024-08-05 intraday"):
        assert math.expm1(got[name][0]) == pytest.approx(-0.0300, abs=5e-5)
    assert got["2024-08-05 close"][1] == pytest.approx((38.57 - 23.39) / 100, abs=1e-12)
    assert got["2024-08-05 intraday"][1] == pytest.approx(0.4937, abs=1e-12)
    for day in stress_days():
        assert day.sp500_source and day.vol_source


def test_stated_vix_levels_match_the_cboe_file():
    with gzip.open(VIX_FILE, "rt") as fh:
        raw = pd.read_csv(fh, index_col="DATE", parse_dates=True)
    day = {d.name: d for d in stress_days()}["2024-08-05 intraday"]
    assert day.vol_before == raw.loc["2024-07-31", "CLOSE"]
    assert day.vol_after == raw.loc["2024-08-05", "HIGH"]
    assert raw.loc["2024-08-05", "CLOSE"] == 38.57


def test_stress_grid_and_betas(vix, spx):
    u = {"SPX": UnderlyingMap(), "GLD": UnderlyingMap(beta=-0.2, corr=-0.1, vol=0.15, iv_beta=0.5)}
    mv = stress_moves([], vix=vix, index=spx, underlyings=u, grid=[(-0.10, 0.20), (0.05, -0.03)])
    assert mv.labels == ("grid r=-0.10 dv=+0.20", "grid r=+0.05 dv=-0.03")
    np.testing.assert_allclose(mv.log_return, [[-0.10, 0.02], [0.05, -0.01]])
    np.testing.assert_allclose(mv.iv_change, [[0.20, 0.10], [-0.03, -0.015]])


def test_stress_errors(vix, spx):
    with pytest.raises(ValueError, match="unknown stress name.*'1929-10-28'.*known: 1987-10-19"):
        stress_moves(["1929-10-28"], vix=vix, index=spx, underlyings=SPX)
    with pytest.raises(DataError, match="2008-10-15.*does not cover"):
        stress_moves(["2008-10-15"], vix=vix, index=spx[:"2000"], underlyings=SPX)
    with pytest.raises(ValueError, match="no named stress"):
        stress_moves([], vix=vix, index=spx, underlyings=SPX)


# ---------------------------------------------------------------------------------------------
# Historical windows
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("h", [1, 5, 21])
def test_historical_windows_match_the_closes(vix, spx, h):
    mv = historical_moves(vix, spx, horizon=h, underlyings=SPX)
    joint = spx.index.intersection(vix.index)
    assert mv.S == len(joint) - h
    assert mv.horizon_days == pytest.approx(h * 365 / 252)
    assert mv.labels[0] == "1990-01-02"  # the VIX starts 1990; 1987 is a stress, not a window
    np.testing.assert_allclose(mv.probabilities, 1.0 / mv.S)
    for start in ("2008-10-14", "2020-03-13", "2001-09-10", "2015-08-20"):
        i = mv.labels.index(start)
        pos = joint.get_loc(pd.Timestamp(start))
        a, b = joint[pos], joint[pos + h]
        assert mv.log_return[i, 0] == pytest.approx(math.log(spx[b] / spx[a]), abs=1e-12)
        assert mv.iv_change[i, 0] == pytest.approx((vix[b] - vix[a]) / 100.0, abs=1e-12)


def test_historical_one_day_known_moves(vix, spx):
    mv = historical_moves(vix, spx, horizon=1, underlyings=SPX)
    i = mv.labels.index("2008-10-14")  # the window ending on 2008-10-15
    assert mv.log_return[i, 0] == pytest.approx(math.log(907.84 / 998.01), abs=1e-6)
    assert mv.iv_change[i, 0] == pytest.approx(0.1412, abs=1e-9)
    # 1987-10-19 (-22.9% log) predates the VIX: check it in the S&P file directly.
    assert math.log(spx["1987-10-19"] / spx["1987-10-16"]) == pytest.approx(-0.229, abs=5e-4)


def test_historical_range_betas_and_residual(vix, spx):
    u = {
        "SPX": UnderlyingMap(),
        "MES": UnderlyingMap(beta=1.0),
        "QQQ": UnderlyingMap(beta=1.2, corr=0.9, vol=0.25, iv_beta=1.1),
    }
    a = historical_moves(vix, spx, horizon=5, underlyings=u, start="2000-01-01", end="2009-12-31")
    assert a.labels[0] >= "2000-01-01" and a.labels[-1] <= "2009-12-31"
    assert a.underlyings == ("SPX", "MES", "QQQ")
    np.testing.assert_array_equal(a.log_return[:, 0], a.log_return[:, 1])
    np.testing.assert_allclose(a.iv_change[:, 2], 1.1 * a.iv_change[:, 0])
    resid = a.log_return[:, 2] - 1.2 * a.log_return[:, 0]
    expected_sd = math.sqrt(1 - 0.9**2) * 0.25 * math.sqrt(5 / 252)
    assert resid.std() == pytest.approx(expected_sd, rel=0.05)
    b = historical_moves(vix, spx, horizon=5, underlyings=u, start="2000-01-01", end="2009-12-31")
    np.testing.assert_array_equal(a.log_return, b.log_return)
    c = historical_moves(
        vix, spx, horizon=5, underlyings=u, start="2000-01-01", end="2009-12-31", seed=1
    )
    assert not np.array_equal(a.log_return[:, 2], c.log_return[:, 2])
    with pytest.raises(DataError):
        historical_moves(vix, spx, horizon=5, underlyings=u, start="2024-01-01")
    with pytest.raises(ValueError, match="horizon"):
        historical_moves(vix, spx, horizon=0, underlyings=u)


def test_iv_sensitivity_justifies_the_monte_carlo_defaults(vix, spx):
    import inspect

    defaults = inspect.signature(monte_carlo_moves).parameters
    fit = estimate_iv_sensitivity(vix, spx, 21)
    assert -0.95 < fit.slope < -0.80  # measured -0.88 (21 trading days ~ the VIX's 30 days)
    assert defaults["iv_sensitivity"].default == pytest.approx(fit.slope, abs=0.05)
    assert defaults["iv_noise"].default == pytest.approx(fit.residual_std, rel=0.05)
    one_day = estimate_iv_sensitivity(vix, spx, 1)
    assert one_day.slope < fit.slope  # short windows react more


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------

MC_U = {
    "SPX": UnderlyingMap(),
    # beta = corr * vol / index_vol makes the stated corr the realised one
    "QQQ": UnderlyingMap(beta=0.9 * 0.25 / 0.18, corr=0.9, vol=0.25, iv_beta=1.2),
    "GLD": UnderlyingMap(beta=0.1 * 0.15 / 0.18, corr=0.1, vol=0.15, iv_beta=0.3),
}


def test_monte_carlo_reproducible_by_seed():
    kw = dict(underlyings=MC_U, index_vol=0.18, horizon_days=30, n=500)
    a, b, c = (monte_carlo_moves(seed=s, **kw) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.log_return, b.log_return)
    np.testing.assert_array_equal(a.iv_change, b.iv_change)
    assert not np.array_equal(a.log_return, c.log_return)
    assert not np.array_equal(a.iv_change, c.iv_change)
    assert a.labels[:2] == ("mc:0", "mc:1") and a.kind == "monte_carlo"


@pytest.mark.parametrize("dof", [None, 4.0])
def test_monte_carlo_moments(dof):
    n, h, vol = 200_000, 30.0, 0.18
    mv = monte_carlo_moves(underlyings=MC_U, index_vol=vol, horizon_days=h, n=n, seed=3, dof=dof)
    r = mv.log_return
    np.testing.assert_allclose(np.exp(r).mean(axis=0), 1.0, atol=1e-12)
    sd = vol * math.sqrt(h / 365)
    assert r[:, 0].std() == pytest.approx(sd, rel=0.01 if dof is None else 0.05)
    corr = np.corrcoef(r, rowvar=False)
    assert corr[0, 1] == pytest.approx(0.9, abs=0.01)
    assert corr[0, 2] == pytest.approx(0.1, abs=0.01 if dof is None else 0.02)
    # IV linked to the index return: regression recovers the slope and the noise.
    slope, intercept = np.polyfit(r[:, 0], mv.iv_change[:, 0], 1)
    assert slope == pytest.approx(-0.9, abs=0.02)
    resid = mv.iv_change[:, 0] - (intercept + slope * r[:, 0])
    assert resid.std() == pytest.approx(0.035 * math.sqrt(h / 30), rel=0.02)
    np.testing.assert_allclose(mv.iv_change[:, 1], 1.2 * mv.iv_change[:, 0])
    if dof is not None:  # fat tails: excess kurtosis well above the Gaussian 0
        z = (r[:, 0] - r[:, 0].mean()) / r[:, 0].std()
        assert np.mean(z**4) - 3 > 2


def test_monte_carlo_validation():
    with pytest.raises(ValueError, match="dof"):
        monte_carlo_moves(underlyings=SPX, index_vol=0.2, horizon_days=1, n=10, seed=0, dof=2)
    with pytest.raises(ValueError, match="vol is required"):
        UnderlyingMap(corr=0.5)
    with pytest.raises(ValueError, match="corr"):
        UnderlyingMap(corr=1.5, vol=0.2)


# ---------------------------------------------------------------------------------------------
# MarketMoves container
# ---------------------------------------------------------------------------------------------


def test_market_moves_subset_concat_and_validation(vix, spx):
    h = historical_moves(vix, spx, horizon=1, underlyings=SPX)
    sub = h.subset(np.arange(10))
    assert sub.S == 10 and sub.labels == h.labels[:10]
    np.testing.assert_allclose(sub.probabilities, 0.1)
    s = stress_moves(vix=vix, index=spx, underlyings=SPX)
    with pytest.raises(ValueError, match="horizon_days"):
        sub.concat(s)
    both = sub.concat(s, horizon_days=1.0)
    assert both.S == 15 and both.kind == "mixed" and both.labels[-1] == "2024-08-05 intraday"
    np.testing.assert_allclose(both.probabilities, 1 / 15)
    with pytest.raises(ValueError, match="underlyings"):
        sub.concat(stress_moves(vix=vix, index=spx, underlyings={"ES": UnderlyingMap()}))
    with pytest.raises(ValueError):
        h.log_return[0, 0] = 1.0  # read-only
    with pytest.raises(ValueError, match="probabilities"):
        MarketMoves("stress", ("a",), ("SPX",), [[0.0]], [[0.0]], 1.0, [0.5])
    with pytest.raises(ValueError, match="shape"):
        MarketMoves("stress", ("a",), ("SPX",), [[0.0, 0.0]], [[0.0]], 1.0, [1.0])


# ---------------------------------------------------------------------------------------------
# pnl_matrix properties
# ---------------------------------------------------------------------------------------------

IC = [
    (Right.PUT, 4500.0, -1, 0.24),
    (Right.PUT, 4450.0, 1, 0.25),
    (Right.CALL, 5300.0, -1, 0.15),
    (Right.CALL, 5350.0, 1, 0.15),
]


def test_zero_move_zero_horizon_is_zero_pnl():
    cands = [
        make_candidate(IC, cid="ic"),
        make_candidate([(Right.PUT, 4000.0, -1, 0.3)], dte=0.1, cid="0dte"),
        make_candidate([(Right.UNDERLYING, math.nan, 100, math.nan), (Right.CALL, 5200, -1, 0.18)]),
    ]
    out = pnl(cands, moves([0.0, 0.0], [0.0, 0.0], horizon_days=0.0))
    np.testing.assert_allclose(out, 0.0, atol=1e-9)


@pytest.mark.parametrize("horizon", [0.0, 1.0, 10.0])
def test_put_call_parity(horizon):
    r, q, dte, k, spot = 0.04, 0.013, 30.0, 5000.0, 5000.0
    call = make_candidate([(Right.CALL, k, 1, 0.2)], r=r, q=q, dte=dte)
    put = make_candidate([(Right.PUT, k, 1, 0.2)], r=r, q=q, dte=dte)
    rets = np.linspace(-0.2, 0.1, 7)
    mv = moves(rets, np.linspace(0.3, -0.05, 7), horizon_days=horizon)
    out = pnl([call, put], mv)
    t, t1 = dte / 365, (dte - horizon) / 365
    fwd_pnl = [
        math.exp(-r * t1) * (spot * math.exp(x + (r - q) * t1) - k)
        - math.exp(-r * t) * (spot * math.exp((r - q) * t) - k)
        for x in rets
    ]
    np.testing.assert_allclose(out[:, 0] - out[:, 1], np.array(fwd_pnl) * 100, rtol=1e-9, atol=1e-7)


def test_long_and_short_legs_cancel():
    both = IC + [(right, k, -qty, iv) for right, k, qty, iv in IC]
    mv = monte_carlo_moves(underlyings=SPX, index_vol=0.2, horizon_days=5, n=200, seed=1)
    np.testing.assert_allclose(pnl([make_candidate(both)], mv), 0.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(-20, 20), min_size=3, max_size=3),
    scale=st.integers(-5, 5),
    qty=st.integers(1, 6),
)
def test_counts_scale_portfolio_pnl_linearly(counts, scale, qty):
    mv = moves([-0.1, -0.02, 0.0, 0.03], [0.2, 0.03, 0.0, -0.02], horizon_days=3)
    base = [
        make_candidate(IC, cid="ic"),
        make_candidate([(Right.PUT, 4800.0, -1, 0.21)], dte=10, cid="p"),
        make_candidate([(Right.CALL, 5100.0, 1, 0.17)], dte=60, cid="c"),
    ]
    p = pnl(base, mv)
    n = np.array(counts, dtype=float)
    np.testing.assert_allclose(
        stress_losses(p, scale * n, mv.labels), scale * stress_losses(p, n, mv.labels), atol=1e-6
    )
    # A unit holding qty times each leg is worth qty units.
    big = make_candidate([(r_, k, q * qty, iv) for r_, k, q, iv in IC], cid="ic_x")
    np.testing.assert_allclose(pnl([big], mv)[:, 0], qty * p[:, 0], rtol=1e-10, atol=1e-8)


def test_short_put_pnl_decreases_with_the_down_move():
    rets = np.linspace(0.0, -0.35, 36)
    short_put = make_candidate([(Right.PUT, 4600.0, -1, 0.22)], dte=45)
    for dv in (np.zeros(36), -0.9 * rets):  # vol flat, and vol up as the market falls
        out = pnl([short_put], moves(rets, dv, horizon_days=1))[:, 0]
        assert np.all(np.diff(out) < 0)


def test_expired_legs_are_intrinsic_at_the_new_spot():
    cand = make_candidate([(Right.PUT, 4900.0, -1, 0.3), (Right.CALL, 5100.0, 1, 0.3)], dte=0.25)
    rets = np.array([-0.05, 0.0, 0.05])
    out = pnl([cand], moves(rets, [0.5, 0.5, 0.5], horizon_days=1.0))[:, 0]
    t = 0.25 / 365
    old = -bs(5000, 4900, t, 0.04, 0.013, 0.3, False) + bs(5000, 5100, t, 0.04, 0.013, 0.3, True)
    new_s = 5000 * np.exp(rets)
    new = -np.maximum(4900 - new_s, 0) + np.maximum(new_s - 5100, 0)
    np.testing.assert_allclose(out, (new - old) * 100, rtol=1e-10)


def test_term_scaling_iv_floor_multiplier_fx_and_underlying_legs():
    assert term_factor(30 / 365) == pytest.approx(1.0)
    assert term_factor(1 / 365) == 2.0 and term_factor(3.0) == 0.25
    assert term_factor(3.0, enabled=False) == 1.0
    short = make_candidate([(Right.PUT, 4500.0, -1, 0.2)], dte=7)
    long_ = make_candidate([(Right.PUT, 4500.0, -1, 0.2)], dte=120)
    mv = moves([0.0], [0.10], horizon_days=0)
    on, off = pnl([short, long_], mv), pnl([short, long_], mv, term_scaling=False)
    t7, t120 = 7 / 365, 120 / 365
    f7, f120 = min(math.sqrt((30 / 365) / t7), 2), math.sqrt((30 / 365) / t120)
    p7 = bs(5000, 4500, t7, 0.04, 0.013, 0.2 + f7 * 0.1, False)
    p120 = bs(5000, 4500, t120, 0.04, 0.013, 0.2 + f120 * 0.1, False)
    assert on[0, 0] == pytest.approx(-(p7 - bs(5000, 4500, t7, 0.04, 0.013, 0.2, False)) * 100)
    assert on[0, 1] == pytest.approx(-(p120 - bs(5000, 4500, t120, 0.04, 0.013, 0.2, False)) * 100)
    p7_flat = bs(5000, 4500, t7, 0.04, 0.013, 0.3, False)
    assert off[0, 0] == pytest.approx(
        -(p7_flat - bs(5000, 4500, t7, 0.04, 0.013, 0.2, False)) * 100
    )
    # IV floor: a -50 point shock floors at 1%
    crash = pnl([long_], moves([0.0], [-0.5], horizon_days=0), iv_floor=0.01)[0, 0]
    p_floor = bs(5000, 4500, t120, 0.04, 0.013, 0.01, False)
    assert crash == pytest.approx(-(p_floor - bs(5000, 4500, t120, 0.04, 0.013, 0.2, False)) * 100)
    # multiplier and fx
    mv2 = moves([-0.05], [0.1], horizon_days=1)
    one = pnl_matrix([short], mv2, multipliers=[100.0], fx=[1.0])[0, 0]
    gbp = pnl_matrix([short], mv2, multipliers=[5.0], fx=[0.79])[0, 0]
    assert gbp == pytest.approx(one * 5 * 0.79 / 100)
    # covered call: shares move with the spot
    cc = make_candidate([(Right.UNDERLYING, math.nan, 1, math.nan)], spot=500.0)
    out = pnl([cc], moves([0.1, -0.1], [0.0, 0.0], horizon_days=5))[:, 0]
    np.testing.assert_allclose(out, 500.0 * np.expm1([0.1, -0.1]) * 100)


def test_futures_option_forward_moves_with_the_return():
    # Futures options: spot = forward = futures price (no carry), Black-76 discounting.
    r = 0.04
    fut = make_candidate([(Right.CALL, 80.0, 1, 0.35)], spot=78.0, r=r, q=r, underlying="CL")
    mv = moves([0.05], [0.0], horizon_days=2, underlyings=("CL",))
    t, t1 = 30 / 365, 28 / 365
    new = bs(78 * math.exp(0.05), 80, t1, r, r, 0.35, True)
    assert pnl([fut], mv)[0, 0] == pytest.approx((new - bs(78, 80, t, r, r, 0.35, True)) * 100)


def test_missing_underlying_is_named():
    cand = make_candidate(IC, underlying="MES", cid="lt112:MES")
    with pytest.raises(ValueError, match="'lt112:MES'.*underlying 'MES'.*have: SPX"):
        pnl([cand], moves([0.0], [0.0]))
    with pytest.raises(ValueError, match="one value per candidate"):
        pnl_matrix([make_candidate(IC)], moves([0.0], [0.0]), multipliers=[100, 5], fx=[1.0])


def test_common_scenarios_drive_every_candidate_and_chunking(vix, spx):
    """Candidates on different underlyings see the same scenario row; blocks do not matter."""
    u = {"SPX": UnderlyingMap(), "XSP": UnderlyingMap()}
    mv = historical_moves(vix, spx, horizon=5, underlyings=u)
    a = make_candidate(IC, cid="spx")
    b = make_candidate([(r_, k / 10, q, iv) for r_, k, q, iv in IC], spot=500.0, underlying="XSP")
    out = pnl([a, b], mv)
    assert out.shape == (mv.S, 2)
    np.testing.assert_allclose(out[:, 1] * 10, out[:, 0], rtol=1e-9, atol=1e-6)
    one_by_one = np.concatenate([pnl([a], mv.subset(slice(i, i + 1))) for i in (0, 777, mv.S - 1)])
    np.testing.assert_allclose(one_by_one[:, 0], out[[0, 777, mv.S - 1], 0], rtol=1e-12)


def test_stress_losses_series():
    p = np.array([[10.0, -5.0], [-100.0, 20.0]])
    s = stress_losses(p, np.array([2, 1]), ["a", "b"])
    assert list(s.index) == ["a", "b"] and s.name == "loss"
    np.testing.assert_allclose(s.to_numpy(), [-15.0, 180.0])
    with pytest.raises(ValueError, match="conform"):
        stress_losses(p, np.array([1, 2, 3]), ["a", "b"])


def test_models_never_import_a_solver():
    code = (
        "import sys, models.scenarios; "
        "bad = [m for m in ('cvxpy', 'pulp', 'highspy', 'optimizer') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
