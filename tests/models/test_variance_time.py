"""Variance time: the 0DTE session variance read off the first listed expiry.

References: the rule of models/market/variance_time.py worked by hand on calendar examples (weekend,
holiday, intraday valuation), a synthetic history whose day variances are known, and the shipped
history's shares recomputed independently with plain pandas.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelError
from models.market.history import load_index_ohlc, load_vix_history
from models.market.variance_time import (
    VarianceTime,
    measure_variance_time,
    session_variance_scale,
    trading_days_between,
)
from models.strategies import intraday_expiry
from tests.models.test_strategies import _Listed

DATA = "scenarios/data/"
VT = VarianceTime(session_share=0.755, day_one_night=0.975, day_long_gap=1.092)
FRI = datetime(2026, 1, 30, 16)
MON = datetime(2026, 2, 2, 16)


def test_friday_chain_monday_expiry_by_hand():
    # Monday's expiry covers the weekend gap day (v(2+)) only: one long-gap day
    assert session_variance_scale(FRI, MON, 5.5, VT) == pytest.approx(0.755 * (5.5 / 6.5) / 1.092)
    # the close-to-close basis: the whole Monday variance per session
    assert session_variance_scale(FRI, MON, 5.5, None) == pytest.approx(5.5 / 6.5)


def test_midweek_and_multi_day_by_hand():
    tue, wed, fri = datetime(2026, 2, 3, 16), datetime(2026, 2, 4, 16), datetime(2026, 2, 6, 16)
    assert session_variance_scale(tue, wed, 6.5, VT) == pytest.approx(0.755 / 0.975)
    # Wednesday close -> Friday expiry: Thu and Fri, both after one night
    assert session_variance_scale(wed, fri, 3.0, VT) == pytest.approx(
        0.755 * (3.0 / 6.5) / (2 * 0.975)
    )
    # Friday close -> Wednesday: Mon (weekend), Tue, Wed
    assert session_variance_scale(FRI, wed, 5.5, VT) == pytest.approx(
        0.755 * (5.5 / 6.5) / (1.092 + 2 * 0.975)
    )


def test_holiday_gap_counts_as_long_gap():
    # Thursday 2026-04-02 close; Good Friday 2026-04-03 closed; Monday 2026-04-06 expiry
    thu, mon = datetime(2026, 4, 2, 16), datetime(2026, 4, 6, 16)
    assert trading_days_between(thu, mon) == [(datetime(2026, 4, 6).date(), 4)]
    assert session_variance_scale(thu, mon, 5.5, VT) == pytest.approx(0.755 * (5.5 / 6.5) / 1.092)


def test_intraday_valuation_counts_the_rest_of_the_session():
    # valuation Monday 13:00, first expiry Monday 16:00: 3 of 6.5 hours of today's session
    at = datetime(2026, 2, 2, 13)
    assert session_variance_scale(at, MON, 2.0, VT) == pytest.approx(
        0.755 * (2.0 / 6.5) / (0.755 * 3.0 / 6.5)
    )


def test_bad_hours_refused():
    with pytest.raises(ModelError, match="hours"):
        session_variance_scale(FRI, MON, 7.0, VT)
    with pytest.raises(ModelError, match="session_share"):
        VarianceTime(session_share=0.0)


def test_intraday_expiry_uses_the_basis():
    s = _Listed(FRI, [MON, datetime(2026, 2, 3, 16)])
    t, scale, first = intraday_expiry(s, 5.5, variance_time=VT)
    assert first == MON and t == pytest.approx(5.5 / 8760)
    assert scale == pytest.approx(0.755 * (5.5 / 6.5) / 1.092)
    assert intraday_expiry(s, 5.5)[1] == pytest.approx(5.5 / 6.5)


@given(
    hours=st.floats(0.25, 6.5),
    c2=st.floats(0.3, 1.0),
    v1=st.floats(0.5, 1.5),
    v2=st.floats(0.5, 2.5),
    n_days=st.integers(1, 9),
)
@settings(max_examples=60, deadline=None)
def test_session_share_of_the_whole_interval(hours, c2, v1, v2, n_days):
    """Summed over the interval's days, the day weights give the whole variance back; the
    scale is linear in hours and never above the close-to-close basis when c**2 <= v(g)."""
    vt = VarianceTime(session_share=c2, day_one_night=v1, day_long_gap=v2)
    expiry = pd.Timestamp(FRI) + pd.offsets.BDay(n_days)
    days = trading_days_between(FRI, expiry.to_pydatetime())
    units = sum(vt.day_variance(g) for _, g in days)
    s = session_variance_scale(FRI, expiry.to_pydatetime(), hours, vt)
    assert s == pytest.approx(c2 * hours / 6.5 / units)
    assert session_variance_scale(FRI, expiry.to_pydatetime(), hours / 2, vt) == pytest.approx(
        s / 2
    )
    if c2 <= min(v1, v2):
        assert s <= session_variance_scale(FRI, expiry.to_pydatetime(), hours, None) + 1e-12


def test_measure_on_a_synthetic_history():
    """Known day variances: +-a after one night, +-b after a weekend, VIX flat."""
    days = pd.bdate_range("2015-01-05", periods=600)
    sigma = 16.0 / 100.0 / math.sqrt(252.0)
    a, b = 1.0 * sigma, 1.5 * sigma
    nights = pd.Series(days, index=days).diff().dt.days.fillna(1).to_numpy()
    sign = np.where(np.arange(len(days)) % 2 == 0, 1.0, -1.0)
    r = np.where(nights > 1, b, a) * sign
    r[0] = 0.0
    close = pd.DataFrame({"close": 2000.0 * np.exp(np.cumsum(r))}, index=days)
    vix = pd.Series(16.0, index=days)
    vt = measure_variance_time(close, vix, session_share=0.7)
    m = nights[1:] > 1
    avg = (np.sum(~m) * 1.0 + np.sum(m) * 1.5**2) / m.size
    assert vt.day_one_night == pytest.approx(1.0 / avg)
    assert vt.day_long_gap == pytest.approx(1.5**2 / avg)
    assert vt.session_share == 0.7 and vt.n_days == len(days) - 1


def test_shipped_history_shares_recomputed_independently():
    ohlc = load_index_ohlc(DATA + "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz")
    vix = load_vix_history(DATA + "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz")
    vt = measure_variance_time(ohlc, vix, session_share=0.755)
    # independent: numpy arrays on the S&P 500 trading days (the rule: each close-to-close
    # day's squared log return over the previous S&P day's VIX-implied daily variance)
    c = ohlc["close"].to_numpy()
    dates = ohlc.index.to_numpy()
    vix_on = vix.reindex(ohlc.index).to_numpy()
    z2 = (np.log(c[1:] / c[:-1]) / (vix_on[:-1] / 100 / np.sqrt(252))) ** 2
    nights = (dates[1:] - dates[:-1]) / np.timedelta64(1, "D")
    ok = np.isfinite(z2)
    df = pd.DataFrame({"z2": z2[ok]})
    gap = pd.Series(nights[ok])
    mean = df.z2.mean()
    assert vt.day_long_gap == pytest.approx(df.z2[gap > 1].mean() / mean, rel=1e-9)
    assert vt.day_one_night == pytest.approx(df.z2[gap == 1].mean() / mean, rel=1e-9)
    # weekend/holiday days carry more variance than days after one night (the measured fact
    # the session basis rests on)
    assert vt.day_long_gap > vt.day_one_night


def test_shipped_default_is_the_measurement():
    """models/data/variance_time.csv is the phase-4 history's measurement (regenerate it from
    ``optimizer.inputs.history.variance_time`` when the shipped history changes)."""
    from models.market.variance_time import default_variance_time
    from optimizer.inputs.history import variance_time
    from optimizer.inputs.spec import load_scenario

    measured = variance_time(load_scenario("scenarios/tom_king/phase4.yaml"))
    shipped = default_variance_time()
    assert shipped.session_share == pytest.approx(measured.session_share, rel=1e-12)
    assert shipped.day_one_night == pytest.approx(measured.day_one_night, rel=1e-12)
    assert shipped.day_long_gap == pytest.approx(measured.day_long_gap, rel=1e-12)
    assert shipped.n_days == measured.n_days
