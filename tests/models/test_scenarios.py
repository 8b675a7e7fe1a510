"""Market moves (historical, Monte Carlo, stress) and full repricing into P&L.

References: Black-Scholes written out here with scipy.stats.norm (not models.market.pricing), closes read
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
from models.legs import Leg, Right
from models.market.history import load_index_history, load_index_ohlc, load_vix_history
from models.measure.scenarios import (
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
from models.risk import cvar
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


@pytest.fixture(scope="module")
def opens() -> pd.Series:
    return load_index_ohlc(SPX_FILE)["open"]


@pytest.fixture(scope="module")
def raw_spx() -> pd.DataFrame:
    """The S&P 500 file as shipped (reference for opens and closes)."""
    with gzip.open(SPX_FILE, "rt") as fh:
        return pd.read_csv(fh, index_col="Date", parse_dates=True)


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
    # A one-day life (not intraday) expiring inside a two-day horizon: the whole move applies.
    cand = make_candidate([(Right.PUT, 4900.0, -1, 0.3), (Right.CALL, 5100.0, 1, 0.3)], dte=1.0)
    rets = np.array([-0.05, 0.0, 0.05])
    out = pnl([cand], moves(rets, [0.5, 0.5, 0.5], horizon_days=2.0))[:, 0]
    t = 1.0 / 365
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
        "import sys, models.measure.scenarios; "
        "bad = [m for m in ('cvxpy', 'pulp', 'highspy', 'optimizer') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# Intraday (0DTE) candidates: held over their own life, on the session move
# ---------------------------------------------------------------------------------------------

LIFE_HOURS = 5.5  # entered 10:30, expires 16:00 the same day
DTE_0 = LIFE_HOURS / 24.0  # calendar days: t = 5.5 / 24 / 365
IC_0DTE = [
    (Right.PUT, 4925.0, 1, 0.17),
    (Right.PUT, 4950.0, -1, 0.16),
    (Right.CALL, 5050.0, -1, 0.13),
    (Right.CALL, 5075.0, 1, 0.13),
]
ONE_DAY = 365 / 252  # calendar days of a one-trading-day historical window


def moves_with_session(returns, session, iv_changes, horizon_days=ONE_DAY):
    base = moves(returns, iv_changes, horizon_days=horizon_days)
    return MarketMoves(
        base.kind,
        base.labels,
        base.underlyings,
        base.log_return,
        base.iv_change,
        base.horizon_days,
        base.probabilities,
        session_return=np.asarray(session, dtype=float).reshape(-1, 1),
    )


def expiry_pnl(legs, x, *, spot=5000.0, dte=DTE_0, r=0.04, q=0.013):
    """Per-contract P&L of holding ``legs`` to expiry when the spot moves by ``exp(x)``."""
    t = dte / 365
    new_s = spot * np.exp(np.asarray(x, dtype=float))
    out = np.zeros_like(new_s)
    for right, k, qty, iv in legs:
        call = right is Right.CALL
        payoff = np.maximum(new_s - k, 0.0) if call else np.maximum(k - new_s, 0.0)
        out += qty * (payoff - bs(spot, k, t, r, q, iv, call))
    return out * 100.0


def credit_and_max_loss(legs, *, dte=DTE_0, width=25.0):
    credit = -100.0 * sum(qty * bs(5000.0, k, dte / 365, 0.04, 0.013, iv, right is Right.CALL)
                          for right, k, qty, iv in legs)  # fmt: skip
    return credit, width * 100.0 - credit


def test_0dte_condor_is_repriced_at_expiry_on_its_share_of_the_session():
    cand = make_candidate(IC_0DTE, dte=DTE_0, cid="0dte")
    assert cand.t == pytest.approx(5.5 / 24 / 365, rel=1e-15) and cand.t * 365 < 1
    session = np.array([-0.03, -0.008, 0.0, 0.004, 0.012, 0.05])
    close_to_close = 2.0 * session - 0.001  # must not be used when the session is given
    mv = moves_with_session(close_to_close, session, 0.3 * np.ones(6))
    got = pnl([cand], mv)[:, 0]
    expected = expiry_pnl(IC_0DTE, session * math.sqrt(5.5 / 6.5))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)
    # Hand check of one row: -0.8% session, 5.5 of 6.5 hours -> S' = 5000 exp(-0.00736) = 4963.3,
    # inside the short strikes: the condor keeps its whole credit.
    credit, _ = credit_and_max_loss(IC_0DTE)
    assert 5000 * math.exp(-0.008 * math.sqrt(5.5 / 6.5)) == pytest.approx(4963.34, abs=0.01)
    assert got[1] == pytest.approx(credit, rel=1e-9) and credit > 0
    # No IV dependence at expiry.
    mv_flat = moves_with_session(close_to_close, session, np.zeros(6))
    np.testing.assert_array_equal(pnl([cand], mv_flat)[:, 0], got)


@pytest.mark.parametrize("horizon", [1.0, ONE_DAY, 3.0])
def test_0dte_without_session_uses_the_clock_time_fallback(horizon):
    cand = make_candidate(IC_0DTE, dte=DTE_0)
    rets = np.array([-0.06, -0.02, -0.005, 0.0, 0.01, 0.03])
    got = pnl([cand], moves(rets, 0.1 * np.ones(6), horizon_days=horizon))[:, 0]
    expected = expiry_pnl(IC_0DTE, rets * math.sqrt(LIFE_HOURS / (24 * horizon)))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-9)


def test_longer_dated_candidates_ignore_the_session_return():
    cands = [
        make_candidate(IC, cid="ic45"),
        make_candidate([(Right.PUT, 4900.0, -1, 0.2)], dte=1.0, cid="1dte"),
        make_candidate([(Right.PUT, 4900.0, -1, 0.2)], dte=7.0, cid="7dte"),
        make_candidate([(Right.UNDERLYING, math.nan, 1, math.nan), (Right.CALL, 5200, -1, 0.18)]),
    ]
    rets = np.array([-0.05, -0.01, 0.0, 0.02])
    dv = np.array([0.2, 0.02, 0.0, -0.02])
    with_s = pnl(cands, moves_with_session(rets, [0.3, -0.3, 0.1, 0.0], dv))
    np.testing.assert_array_equal(with_s, pnl(cands, moves(rets, dv, horizon_days=ONE_DAY)))


def test_intraday_rule_needs_the_horizon_to_reach_expiry():
    """Under a zero horizon (instant shock) or one shorter than its life, a 0DTE is not expired."""
    cand = make_candidate(IC_0DTE, dte=DTE_0)
    rets, dv = np.array([-0.01, 0.0, 0.01]), np.array([0.05, 0.0, -0.02])
    for horizon in (0.0, 0.1):
        plain = pnl([cand], moves(rets, dv, horizon_days=horizon))
        session = pnl([cand], moves_with_session(rets, [0.2, 0.2, 0.2], dv, horizon_days=horizon))
        np.testing.assert_array_equal(plain, session)
    t, t1 = DTE_0 / 365, (DTE_0 - 0.1) / 365
    k, iv = 4950.0, 0.16
    short_put = make_candidate([(Right.PUT, k, -1, iv)], dte=DTE_0)
    got = pnl([short_put], moves([-0.01], [0.0], horizon_days=0.1))[0, 0]
    new = bs(5000 * math.exp(-0.01), k, t1, 0.04, 0.013, iv, False)
    assert got == pytest.approx(-(new - bs(5000, k, t, 0.04, 0.013, iv, False)) * 100, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    session=st.floats(-0.5, 0.5, allow_nan=False),
    close=st.floats(-0.5, 0.5, allow_nan=False),
    dv=st.floats(-0.5, 1.5, allow_nan=False),
    life=st.floats(0.05, 23.9),
    with_session=st.booleans(),
)
def test_intraday_pnl_is_bounded_by_credit_and_max_loss(session, close, dv, life, with_session):
    dte = life / 24.0
    cand = make_candidate(IC_0DTE, dte=dte)
    mv = moves_with_session([close], [session], [dv]) if with_session else moves([close], [dv])
    got = pnl([cand], mv)[0, 0]
    credit, max_loss = credit_and_max_loss(IC_0DTE, dte=dte)
    assert -max_loss - 1e-7 <= got <= credit + 1e-7


# ---------------------------------------------------------------------------------------------
# Session returns of the generators
# ---------------------------------------------------------------------------------------------


def reference_scale(raw: pd.DataFrame, vix: pd.Series) -> float:
    """c = sqrt(mean ln(C/O)^2 / mean ln(C_d/C_d-1)^2) over 2000+ joint days with a real open."""
    prev_close = raw["Close"].shift(1)
    joint = raw.index.intersection(vix.index).sort_values()
    day, before = joint[1:], joint[:-1]
    close, open_ = raw.loc[day, "Close"].to_numpy(), raw.loc[day, "Open"].to_numpy()
    c2c = np.log(close / raw.loc[before, "Close"].to_numpy())
    oc = np.log(close / open_)
    ok = (day >= "2000-01-01") & (open_ != prev_close.loc[day].to_numpy())
    assert ok.sum() == 4274  # 2000-01-03 .. 2023-12-28 less the placeholder opens
    return math.sqrt(np.mean(oc[ok] ** 2) / np.mean(c2c[ok] ** 2))


def test_historical_session_returns_open_to_close_and_imputed(vix, spx, opens, raw_spx):
    mv = historical_moves(vix, spx, horizon=1, underlyings=SPX, opens=opens)
    plain = historical_moves(vix, spx, horizon=1, underlyings=SPX)
    np.testing.assert_array_equal(mv.log_return, plain.log_return)
    assert mv.session_return.shape == (mv.S, 1) and plain.session_return is None
    # 2008-10-15 (the window labelled 2008-10-14 ends on it): open 994.60, close 907.84.
    i = mv.labels.index("2008-10-14")
    row = raw_spx.loc["2008-10-15"]
    assert row["Open"] == pytest.approx(994.60, abs=0.005)
    assert mv.session_return[i, 0] == pytest.approx(math.log(row["Close"] / row["Open"]), abs=1e-12)
    i = mv.labels.index("2020-03-13")  # 2020-03-16: gap down 7.5%, then -4.9% in the session
    row = raw_spx.loc["2020-03-16"]
    assert mv.session_return[i, 0] == pytest.approx(math.log(2386.13 / 2508.59), abs=1e-6)
    assert mv.session_return[i, 0] == pytest.approx(math.log(row["Close"] / row["Open"]), abs=1e-12)
    # The measured scale, and the imputation before 2000 and on placeholder opens.
    c = reference_scale(raw_spx, vix)
    assert 0.5 < c < 1.0 and c == pytest.approx(0.879, abs=5e-4)
    for label in ("1990-01-02", "1995-06-01", "1999-12-30"):  # the session of the next day
        i = mv.labels.index(label)
        assert mv.session_return[i, 0] == pytest.approx(c * mv.log_return[i, 0], rel=1e-9)
    assert raw_spx.loc["2000-01-04", "Open"] == raw_spx.loc["2000-01-03", "Close"]  # placeholder
    i = mv.labels.index("2000-01-03")
    assert mv.session_return[i, 0] == pytest.approx(c * mv.log_return[i, 0], rel=1e-9)
    # Overall the session moves less than close to close.
    assert np.std(mv.session_return) < np.std(mv.log_return)


def test_historical_session_of_longer_windows_and_other_underlyings(vix, spx, opens, raw_spx):
    u = {"SPX": UnderlyingMap(), "QQQ": UnderlyingMap(beta=1.2, corr=0.9, vol=0.25)}
    one = historical_moves(vix, spx, horizon=1, underlyings=u, opens=opens, start="2010-01-01")
    five = historical_moves(vix, spx, horizon=5, underlyings=u, opens=opens, start="2010-01-01")
    # Horizon 5: the session of the window's first day, the same day as the one-day window's.
    # (Placeholder opens of 2011-2013 are imputed with the c of each window set, 0.83109 for
    # both to 5 digits: they differ by the last four windows.)
    n = five.S
    np.testing.assert_allclose(five.session_return[:, 0], one.session_return[:n, 0], rtol=1e-5)
    i = five.labels.index("2015-08-20")  # first day 2015-08-21
    row = raw_spx.loc["2015-08-21"]
    assert five.session_return[i, 0] == pytest.approx(math.log(row["Close"] / row["Open"]))
    # Other underlyings: beta times the index session plus the residual scaled to 6.5 hours.
    for mv, h in ((one, 1), (five, 5)):
        resid_window = mv.log_return[:, 1] - 1.2 * mv.log_return[:, 0]
        resid_session = mv.session_return[:, 1] - 1.2 * mv.session_return[:, 0]
        np.testing.assert_allclose(
            resid_session, resid_window * math.sqrt(6.5 / 24 / h), rtol=1e-9, atol=1e-15
        )
    # Short window sets measure c on the full history (here: none after 2000 in range).
    early = historical_moves(vix, spx, horizon=1, underlyings=SPX, opens=opens, end="1999-12-31")
    c = reference_scale(raw_spx, vix)
    np.testing.assert_allclose(early.session_return[:, 0], c * early.log_return[:, 0], rtol=1e-6)
    with pytest.raises(DataError, match="reliable open"):
        historical_moves(vix, spx, horizon=1, underlyings=SPX, opens=opens[:"1999"])


def test_monte_carlo_and_stress_session_returns(vix, spx):
    kw = dict(underlyings=MC_U, index_vol=0.18, horizon_days=1.0, n=300, seed=5)
    plain, sess = monte_carlo_moves(**kw), monte_carlo_moves(session_fraction=0.77, **kw)
    assert plain.session_return is None
    np.testing.assert_array_equal(sess.log_return, plain.log_return)
    np.testing.assert_allclose(sess.session_return, plain.log_return * math.sqrt(0.77))
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="session_fraction"):
            monte_carlo_moves(session_fraction=bad, **kw)
    st_ = stress_moves(vix=vix, index=spx, underlyings=SPX, grid=[(-0.1, 0.2)])
    np.testing.assert_array_equal(st_.session_return, st_.log_return)


def test_session_return_container_rules(vix, spx, opens):
    with pytest.raises(ValueError, match="session_return has shape"):
        MarketMoves("stress", ("a",), ("SPX",), [[0.0]], [[0.0]], 1.0, [1.0], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="session_return has non-finite"):
        MarketMoves("stress", ("a",), ("SPX",), [[0.0]], [[0.0]], 1.0, [1.0], [[math.inf]])
    src = np.array([[0.01]])
    mv = MarketMoves("stress", ("a",), ("SPX",), [[0.0]], [[0.0]], 1.0, [1.0], src)
    src[0, 0] = 9.0  # copied
    assert mv.session_return[0, 0] == 0.01
    with pytest.raises(ValueError):
        mv.session_return[0, 0] = 1.0  # read-only
    h = historical_moves(vix, spx, horizon=1, underlyings=SPX, opens=opens)
    sub = h.subset(np.array([3, 7]))
    np.testing.assert_array_equal(sub.session_return, h.session_return[[3, 7]])
    s = stress_moves(vix=vix, index=spx, underlyings=SPX)
    both = sub.concat(s, horizon_days=1.0)
    np.testing.assert_array_equal(both.session_return[:2], sub.session_return)
    np.testing.assert_array_equal(both.session_return[2:], s.log_return)
    plain = historical_moves(vix, spx, horizon=1, underlyings=SPX).subset(np.array([3, 7]))
    assert plain.concat(plain).session_return is None
    # One side without: filled with its own clock-time fallback, so its P&L does not change.
    mixed = plain.concat(s, horizon_days=1.0)
    np.testing.assert_allclose(
        mixed.session_return[:2], plain.log_return * math.sqrt(6.5 / (24 * ONE_DAY))
    )
    cand = make_candidate(IC_0DTE, dte=DTE_0)
    np.testing.assert_allclose(pnl([cand], mixed)[:2], pnl([cand], plain), rtol=1e-12)
    np.testing.assert_allclose(pnl([cand], mixed)[2:], pnl([cand], s), rtol=1e-12)
    instant = moves([0.0], [0.0], horizon_days=0.0)
    with pytest.raises(ValueError, match="zero horizon"):
        instant.concat(moves_with_session([0.0], [0.0], [0.0], horizon_days=0.0))


def test_0dte_tail_is_no_longer_its_max_loss_on_session_moves(vix, spx, opens):
    """The defect: a 0DTE condor repriced on close-to-close days had CVaR99 = max loss."""
    wide = [
        (Right.PUT, 4820.0, 1, 0.20),
        (Right.PUT, 4845.0, -1, 0.19),
        (Right.CALL, 5155.0, -1, 0.13),
        (Right.CALL, 5180.0, 1, 0.13),
    ]
    cand = make_candidate(wide, dte=DTE_0)
    credit, max_loss = credit_and_max_loss(wide)
    mv = historical_moves(vix, spx, horizon=1, underlyings=SPX, opens=opens)
    fixed = pnl([cand], mv)[:, 0]
    old = expiry_pnl(wide, mv.log_return[:, 0])  # the whole close-to-close move, as before
    assert np.sum(old <= -max_loss + 1e-6) > 0.01 * mv.S  # > 1% of days beyond a wing
    assert cvar(-old, 0.99) == pytest.approx(max_loss, rel=1e-9)
    assert np.sum(fixed <= -max_loss + 1e-6) < 0.01 * mv.S
    assert cvar(-fixed, 0.99) < max_loss - 1.0
    assert -credit - 1e-9 <= cvar(-fixed, 0.99)
