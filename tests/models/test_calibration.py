"""Calibration of the physical measure: simulated S&P 500 tail probabilities against history.

For each horizon (1, 21, 82 trading days), starting-VIX bucket ([0,15), [15,20), [20,30), 30+)
and threshold (-5%, -10%, -20% simple return), the historical frequency over overlapping windows
1990-01-02 .. 2023-12-28 has a 95% Wilson interval on ``n_eff = n / h`` windows
(:func:`models.measure.physical.historical_tail_frequencies`). FHS paths (40,000 per cell, seeded) start
at VIX levels resampled from the bucket's historical start days.

Cells asserted: every cell with windows, except those with no historical event and
``n_eff < 30`` (none with the shipped data): 36 cells. The FHS (default filter: a measured power
of the VIX) lies inside the interval in all 36; the plain VIX filter misses the 1-day VIX >= 30
cell, shown below. The lognormal
(vol = VIX x the measured 21-day variance ratio 0.861) lies outside where the FHS lies inside in
at least one cell of every horizon >= 21.

Reference for the historical frequencies: a plain loop over the closes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.income import measure_vol_ratio
from models.market.history import load_index_history, load_index_ohlc, load_vix_history
from models.measure.physical import (
    filtered_history,
    historical_tail_frequencies,
    tail_calibration,
    window_returns,
)

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"
N_PATHS = 40_000
SEED = 20_240_805

KNOWN_SHORTFALLS: set[tuple[int, str, float]] = set()
"""Cells where the FHS is below the historical interval (reported, not tuned away): none.

With the plain VIX filter (``vol_power=1``) the 1-day, VIX >= 30, fall > 5% cell was below it
(history 18 of 721 days = 2.50% [1.58%, 3.91%]; FHS 1.10%): the std of ``z`` rose from 0.70 to
0.95 with the VIX, so a pooled ``z`` scaled by a high VIX made 1-day moves too small. The default
filter is a measured power of the VIX (``sigma ∝ VIX^1.28``), which makes ``z`` homogeneous
across VIX levels (``tests/models/test_physical.py``); that cell is then inside (2.5%).
"""


@pytest.fixture(scope="module")
def data():
    vix = load_vix_history(VIX_FILE)
    close = load_index_history(SPX_FILE)
    hist = filtered_history(vix, load_index_ohlc(SPX_FILE))
    ratio = measure_vol_ratio(vix, close).ratio
    return vix, close, hist, ratio


@pytest.fixture(scope="module")
def table(data) -> pd.DataFrame:
    vix, close, hist, ratio = data
    return tail_calibration(hist, close, vix, vol_ratio=ratio, n_paths=N_PATHS, seed=SEED)


def _asserted(t: pd.DataFrame) -> pd.Series:
    return (t["n"] > 0) & ~((t["count"] == 0) & (t["n_eff"] < 30))


def _key(row) -> tuple[int, str, float]:
    return (int(row.horizon), str(row.bucket), float(row.threshold))


def test_table_shape_and_asserted_cells(data, table):
    assert len(table) == 3 * 4 * 3
    assert int(_asserted(table).sum()) == 36
    assert data[3] == pytest.approx(0.861, abs=5e-4)  # lognormal vol ratio


def test_historical_frequencies_by_hand(data):
    vix, close, _, _ = data
    c = close.loc["1990-01-02":"2023-12-28"]
    dates, x = list(c.index), c.to_numpy()
    h, lo, thr = 21, 30.0, -0.10
    n = k = 0
    for i in range(len(x) - h):
        level = vix.get(dates[i])
        if level is None or not level >= lo:
            continue
        n += 1
        k += x[i + h] / x[i] - 1.0 < thr
    t = historical_tail_frequencies(close, vix, horizons=(h,), thresholds=(thr,))
    row = t[t["bucket"] == "30+"].iloc[0]
    assert (row["n"], row["count"]) == (n, k) == (721, 50)
    assert row["n_eff"] == pytest.approx(721 / 21)
    assert row["freq"] == pytest.approx(50 / 721)


def test_wilson_interval():
    # p = 0.5 on 100 independent draws: Wilson (0.4038, 0.5962); here n = 2100 windows of 21 days
    i = np.arange(2121)
    close = pd.Series(  # 21-day blocks alternating 100, 50: every other window falls 50%
        np.where((i // 21) % 2 == 0, 100.0, 50.0), index=pd.bdate_range("2000-01-03", periods=2121)
    )
    vix = pd.Series(20.0, index=close.index)
    w = window_returns(close, vix, 21, start="2000-01-01", end="2030-01-01")
    assert len(w) == 2100
    t = historical_tail_frequencies(
        close,
        vix,
        horizons=(21,),
        thresholds=(-0.2,),
        buckets=((0, 100),),
        start="2000-01-01",
        end="2030-01-01",
    )
    row = t.iloc[0]
    assert row["count"] == 1050 and row["n_eff"] == pytest.approx(100.0)
    assert row["ci_low"] == pytest.approx(0.40383, abs=1e-5)
    assert row["ci_high"] == pytest.approx(0.59617, abs=1e-5)


def test_fhs_inside_historical_interval(table):
    cells = table[_asserted(table)]
    known = cells.apply(lambda r: _key(r) in KNOWN_SHORTFALLS, axis=1)
    bad = cells[~known & ~cells["fhs_in_ci"]]
    assert bad.empty, bad[["horizon", "bucket", "threshold", "freq", "ci_low", "ci_high", "fhs"]]


def test_plain_vix_filter_shortfall_is_what_the_power_fixes(data, table):
    """The plain VIX filter's 1-day, VIX >= 30 probability, computed exactly, is below the
    historical interval; the default (power) filter's lies inside it."""
    vix, close, hist, _ = data
    row = table[
        (table["horizon"] == 1) & (table["bucket"] == "30+") & (table["threshold"] == -0.05)
    ]
    row = row.iloc[0]
    assert (row["count"], row["n"]) == (18, 721)
    assert row["ci_low"] <= row["fhs"] <= row["ci_high"]
    w = window_returns(close, vix, 1)
    levels = w.loc[w["vix"] >= 30, "vix"].to_numpy()
    zs = np.sort(hist.z)
    # default filter: P(z sigma(v) < ln(0.95)), exact over the bucket's start levels
    cut = math.log(0.95) / hist.filter_sigma(levels)
    exact = float(np.mean(np.searchsorted(zs, cut) / zs.size))
    assert row["fhs"] == pytest.approx(exact, abs=4 * row["fhs_se"] + 1e-4)
    plain = filtered_history(vix, load_index_ohlc(SPX_FILE), vol_power=1.0)
    zp = np.sort(plain.z)
    cut_p = math.log(0.95) * 100 * math.sqrt(252) / levels
    exact_plain = float(np.mean(np.searchsorted(zp, cut_p) / zp.size))
    assert exact_plain < row["ci_low"]


def test_lognormal_fails_where_fhs_holds(table):
    cells = table[_asserted(table)]
    contrast = cells["fhs_in_ci"] & ~cells["lognormal_in_ci"]
    for h in (21, 82):
        assert contrast[cells["horizon"] == h].any(), f"lognormal inside every {h}-day cell"
    # the light tail: a 20% fall in 21 days has essentially zero lognormal probability, below the
    # historical interval, where the FHS lies inside
    light = contrast & (cells["threshold"] == -0.20) & (cells["lognormal"] < cells["ci_low"])
    assert light[cells["horizon"] == 21].any()
