"""Filtered historical simulation (models.measure.physical).

References: closes and VIX levels copied by hand from the shipped CSV rows, OLS by numpy.polyfit
on independently aligned data, the stationary bootstrap's geometric block law, the lognormal
martingale property, an EWMA recursion written out as a loop.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from models.income import measure_vol_ratio
from models.market.history import load_index_ohlc, load_vix_history, load_wti_history
from models.measure.physical import (
    EWMA_WARMUP,
    VIX_CLIP,
    FilteredHistory,
    Paths,
    ewma_standardize,
    fhs_paths,
    filtered_history,
    history_paths,
    lognormal_paths,
    model_tail_probabilities,
    wti_residuals,
)

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"
WTI_FILE = DATA / "wti_spot_fred_DCOILWTICO_1986-2019.csv.gz"
SQRT252 = math.sqrt(252.0)


@pytest.fixture(scope="module")
def vix() -> pd.Series:
    return load_vix_history(VIX_FILE)


@pytest.fixture(scope="module")
def ohlc() -> pd.DataFrame:
    return load_index_ohlc(SPX_FILE)


@pytest.fixture(scope="module")
def hist(vix, ohlc) -> FilteredHistory:
    """The plain VIX filter (``vol_power=1``): sigma is the previous VIX close itself."""
    return filtered_history(vix, ohlc, vol_power=1.0)


@pytest.fixture(scope="module")
def hist_power(vix, ohlc) -> FilteredHistory:
    """The default filter: sigma a measured power of the previous VIX close."""
    return filtered_history(vix, ohlc)


@pytest.fixture(scope="module")
def hist_1950(vix, ohlc) -> FilteredHistory:
    return filtered_history(vix, ohlc, start="1950-01-01", vol_power=1.0)


def _at(h: FilteredHistory, date: str) -> int:
    return int(h.dates.get_loc(pd.Timestamp(date)))


# ----------------------------------------------------------------------------------------------
# filtered_history
# ----------------------------------------------------------------------------------------------


# (date, close, previous close, open, previous VIX close, session observed) from the CSV rows
HAND_ROWS = [
    # 2008-10-15: ^GSPC 998.010009765625 -> 907.8400268554688, open 994.5999755859375; VIX 55.13
    ("2008-10-15", 907.8400268554688, 998.010009765625, 994.5999755859375, 55.13, True),
    # 2020-03-16: 2711.02001953125 -> 2386.1298828125, open 2508.590087890625; VIX(03-13) 57.83
    ("2020-03-16", 2386.1298828125, 2711.02001953125, 2508.590087890625, 57.83, True),
    # 1991-03-04: no VIX row on 1991-03-01 (previous S&P day): the 1991-02-28 close 21.23 carries
    ("1991-03-04", 369.3299865722656, 370.4700012207031, 370.4700012207031, 21.23, False),
    # 2005-06-15: open == previous close (stale opening print, 2005 unusable): imputed session
    ("2005-06-15", 1206.5799560546875, 1203.9100341796875, 1203.9100341796875, 11.79, False),
]


@pytest.mark.parametrize(("date", "close", "prev", "open_", "vix_prev", "observed"), HAND_ROWS)
def test_z_is_return_over_previous_vix(hist, date, close, prev, open_, vix_prev, observed):
    i = _at(hist, date)
    sigma = vix_prev / 100.0 / SQRT252
    assert hist.sigma[i] == pytest.approx(sigma, rel=1e-14)
    assert hist.vix_prev[i] == pytest.approx(vix_prev, rel=1e-14)
    assert hist.z[i] == pytest.approx(math.log(close / prev) / sigma, rel=1e-12)
    assert bool(hist.session_observed[i]) is observed
    expected_session = (
        math.log(close / open_) / sigma if observed else hist.z[i] * hist.session_scale
    )
    assert hist.session_z[i] == pytest.approx(expected_session, rel=1e-12)
    assert hist.filter_kind[i] == "vix"


def test_measured_power_recomputed_from_binned_variances(hist, hist_power):
    """gamma = slope of ln mean(r^2) on ln mean(v^2) over 20 VIX-quantile bins (plain loop)."""
    v = hist.sigma  # previous VIX close as a daily vol (plain filter)
    r = hist.z * hist.sigma
    order = np.argsort(v, kind="stable")
    edges = np.quantile(v, np.linspace(0, 1, 21))
    xs, ys = [], []
    for i in range(20):
        lo, hi = edges[i], edges[i + 1]
        m = (v >= lo) & ((v < hi) if i < 19 else (v <= hi))
        xs.append(math.log(float(np.mean(v[m] ** 2))))
        ys.append(math.log(float(np.mean(r[m] ** 2))))
    slope = float(np.polyfit(xs, ys, 1)[0])
    assert order.size == v.size
    assert hist_power.vol_power == pytest.approx(slope, rel=1e-6)
    assert 1.1 < hist_power.vol_power < 1.5
    # the filter at a hand row: sigma = ref (v / ref)^gamma, ref = median v
    i = _at(hist_power, "2008-10-15")
    ref = float(np.median(hist.sigma))
    sig = ref * (55.13 / 100.0 / SQRT252 / ref) ** hist_power.vol_power
    assert hist_power.sigma[i] == pytest.approx(sig, rel=1e-12)
    assert hist_power.z[i] == pytest.approx(math.log(907.8400268554688 / 998.010009765625) / sig)


def test_power_filter_makes_residuals_homogeneous_across_vix_levels(hist, hist_power):
    """The point of the power: z's spread no longer rises with the VIX (FHS needs iid z)."""
    buckets = ((0, 15), (15, 20), (20, 30), (30, 1e9))

    def stds(h):
        v = h.vix_prev
        return [float(np.std(h.z[(v >= lo) & (v < hi)])) for lo, hi in buckets]

    plain, power = stds(hist), stds(hist_power)
    assert max(plain) - min(plain) > 0.2  # 0.70 .. 0.95 with the plain VIX filter
    assert max(power) - min(power) < 0.05


def test_vix_resid_hand_row(hist):
    i = _at(hist, "2008-10-15")  # VIX 55.13 -> 69.25
    expected = math.log(69.25) - hist.ar_a - hist.ar_b * math.log(55.13)
    assert hist.vix_resid[i] == pytest.approx(expected, rel=1e-12)
    assert hist.vix[i] == pytest.approx(69.25)


def test_default_window_and_measured_numbers(hist):
    """The numbers the docstrings state (so the documentation stays true)."""
    assert hist.dates[0] == pd.Timestamp("1990-01-03")  # 1990-01-02 has no previous VIX
    assert hist.dates[-1] == pd.Timestamp("2023-12-28")
    assert hist.n == 8563
    assert hist.n_ewma == 0 and hist.ewma_scale is None
    assert float(np.std(hist.z)) == pytest.approx(0.778, abs=5e-4)
    assert hist.ar_a == pytest.approx(0.0538, abs=5e-5)
    assert hist.ar_b == pytest.approx(0.9815, abs=5e-5)
    assert hist.ar_resid_std == pytest.approx(0.0666, abs=5e-5)
    assert hist.session_scale == pytest.approx(0.869, abs=5e-4)
    assert hist.n_session == 3259
    text = hist.describe()
    assert "1990-01-03..2023-12-28 (8,563 days)" in text and "mean block 21 days" in text


def test_session_scale_between_half_and_one(hist):
    assert 0.5 < hist.session_scale < 1.0
    obs = hist.session_observed
    c = math.sqrt(np.mean(hist.session_z[obs] ** 2) / np.mean(hist.z[obs] ** 2))
    assert c == pytest.approx(hist.session_scale, rel=1e-12)


def test_stale_opening_years_are_not_observed(hist):
    years = pd.Series(hist.session_observed, index=hist.dates.year).groupby(level=0).mean()
    assert years.loc[1990:2007].max() == 0.0  # stale opens up to 2007
    assert years.loc[2011:2013].max() == 0.0  # 9-26% stale opens
    assert years.loc[[2008, 2009, 2010]].min() > 0.98
    assert years.loc[2014:2023].min() > 0.99


def test_ar1_equals_polyfit_on_independently_aligned_data(vix, ohlc, hist):
    close = ohlc["close"]
    v = vix.reindex(close.index.union(vix.index)).ffill().reindex(close.index)
    df = pd.DataFrame({"x": np.log(v.shift(1)), "y": np.log(v)})
    df = df.loc["1990-01-03":"2023-12-28"].dropna()
    assert len(df) == hist.n
    b, a = np.polyfit(df["x"], df["y"], 1)
    assert hist.ar_a == pytest.approx(a, rel=1e-9)
    assert hist.ar_b == pytest.approx(b, rel=1e-12)
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(df)), df["x"]]), df["y"], rcond=None)
    assert np.allclose([hist.ar_a, hist.ar_b], coef, rtol=1e-10)
    resid = df["y"] - a - b * df["x"]
    assert hist.ar_resid_std == pytest.approx(float(np.std(resid, ddof=2)), rel=1e-9)
    assert np.allclose(hist.vix_resid, resid.to_numpy(), atol=1e-10)


def test_arrays_read_only(hist):
    with pytest.raises(ValueError):
        hist.z[0] = 0.0
    with pytest.raises(ValueError):
        hist.filter_kind[0] = "ewma"


def test_start_end_window(vix, ohlc):
    h = filtered_history(vix, ohlc, start="2010-01-01", end="2012-12-31")
    assert h.dates[0] == pd.Timestamp("2010-01-04") and h.dates[-1] == pd.Timestamp("2012-12-31")
    assert set(h.filter_kind) == {"vix"}
    with pytest.raises(ValueError, match="usable days"):
        filtered_history(vix, ohlc, start="2010-01-01", end="2010-03-01")
    with pytest.raises(ValueError, match="lambda"):
        filtered_history(vix, ohlc, ewma_lambda=1.0)


def test_ewma_filter_before_the_vix(ohlc, hist, hist_1950):
    h = hist_1950
    kind = pd.Series(h.filter_kind, index=h.dates)
    assert (kind.loc[:"1990-01-02"] == "ewma").all()  # 1990-01-02: no previous VIX close
    assert (kind.loc["1990-01-03":] == "vix").all()
    assert h.n_ewma == len(kind.loc[:"1990-01-02"])
    # AR(1) fitted on the VIX days only: the same as the 1990-2023 sample
    assert h.ar_a == pytest.approx(hist.ar_a, rel=1e-12)
    assert h.ar_b == pytest.approx(hist.ar_b, rel=1e-12)
    # hand EWMA recursion over the whole close history
    r = np.log(ohlc["close"]).diff().dropna()
    x = r.to_numpy()
    s2 = np.mean(x[:EWMA_WARMUP] ** 2)
    post = np.full(x.size, np.nan)
    post[EWMA_WARMUP - 1] = s2
    for t in range(EWMA_WARMUP, x.size):
        s2 = 0.94 * s2 + 0.06 * x[t] ** 2
        post[t] = s2
    ewma = pd.Series(np.sqrt(post), index=r.index)
    vix = load_vix_history(VIX_FILE)
    both = pd.concat([vix.reindex(ewma.index), ewma], axis=1, keys=["v", "e"]).dropna()
    k = (both["v"] / 100.0 / SQRT252).mean() / both["e"].mean()
    assert h.ewma_scale == pytest.approx(k, rel=1e-9)
    assert h.ewma_scale == pytest.approx(1.2435, abs=5e-5)
    i = _at(h, "1987-10-19")  # Black Monday under the EWMA filter
    prev_day = ewma.index[ewma.index.get_loc(pd.Timestamp("1987-10-19")) - 1]
    sigma = k * ewma.loc[prev_day]
    assert h.sigma[i] == pytest.approx(sigma, rel=1e-9)
    assert h.z[i] == pytest.approx(r.loc["1987-10-19"] / sigma, rel=1e-9)
    assert h.vix[i] == pytest.approx(100 * SQRT252 * k * ewma.loc["1987-10-19"], rel=1e-9)
    assert not h.session_observed[i]
    assert h.session_z[i] == pytest.approx(h.z[i] * h.session_scale, rel=1e-12)
    assert "EWMA" in h.describe() and "synthetic" in h.describe()


def test_ewma_standardize_matches_loop():
    rng = np.random.default_rng(3)
    r = pd.Series(rng.standard_normal(300) * 0.01, index=pd.bdate_range("2001-01-01", periods=300))
    out = ewma_standardize(r, lam=0.9)
    assert len(out) == 300 - EWMA_WARMUP and out.index[0] == r.index[EWMA_WARMUP]
    x = r.to_numpy()
    s2 = np.mean(x[:EWMA_WARMUP] ** 2)
    for j, t in enumerate(range(EWMA_WARMUP, 300)):
        assert out["sigma"].iloc[j] == pytest.approx(math.sqrt(s2), rel=1e-12)
        assert out["z"].iloc[j] == pytest.approx(x[t] / math.sqrt(s2), rel=1e-12)
        s2 = 0.9 * s2 + 0.1 * x[t] ** 2
    with pytest.raises(ValueError):
        ewma_standardize(r.iloc[:EWMA_WARMUP])


def test_wti_residuals(ohlc):
    wti = load_wti_history(WTI_FILE)
    f = wti_residuals(wti, ohlc["close"])
    both = pd.concat([np.log(wti), np.log(ohlc["close"])], axis=1, join="inner").loc["1990-01-02":]
    r = both.diff().dropna().to_numpy()
    slope, _ = np.polyfit(r[:, 1], r[:, 0], 1)
    assert f.beta == pytest.approx(slope, rel=1e-9)
    assert f.corr == pytest.approx(np.corrcoef(r[:, 0], r[:, 1])[0, 1], rel=1e-9)
    assert f.vol == pytest.approx(np.std(r[:, 0], ddof=1) * SQRT252, rel=1e-9)
    assert f.n == len(r) == 7282 and (f.start, f.end) == ("1990-01-03", "2019-01-03")
    assert (round(f.beta, 3), round(f.corr, 3), round(f.vol, 3)) == (0.250, 0.112, 0.393)
    assert 0.95 < float(f.z.std()) < 1.1  # unit variance by construction, roughly
    assert len(f.z) == len(wti) - 1 - EWMA_WARMUP


# ----------------------------------------------------------------------------------------------
# FHS paths
# ----------------------------------------------------------------------------------------------


def test_rescaling_identity_and_vix_recursion(hist):
    p = fhs_paths(hist, vix0=18.0, n_paths=500, n_days=60, seed=7)
    assert (p.P, p.D) == (500, 60)
    assert p.log_return.shape == p.session_return.shape == p.day.shape == (500, 60)
    assert p.vix.shape == (500, 61) and np.all(p.vix[:, 0] == 18.0)
    level = p.vix[:, :-1]
    assert np.allclose(p.log_return * 100 * SQRT252 / level, hist.z[p.day], rtol=1e-12, atol=0)
    assert np.allclose(
        p.session_return * 100 * SQRT252 / level, hist.session_z[p.day], rtol=1e-12, atol=0
    )
    lo, hi = np.log(VIX_CLIP)
    expected = np.clip(hist.ar_a + hist.ar_b * np.log(level) + hist.vix_resid[p.day], lo, hi)
    assert np.allclose(np.log(p.vix[:, 1:]), expected, rtol=0, atol=1e-12)
    assert not p.light_tailed and "Barone-Adesi" in p.measure and "1990-01-03" in p.measure
    with pytest.raises(ValueError):
        p.log_return[0, 0] = 1.0


def test_seed_reproducible(hist):
    a = fhs_paths(hist, vix0=15.0, n_paths=200, n_days=30, seed=11)
    b = fhs_paths(hist, vix0=15.0, n_paths=200, n_days=30, seed=11)
    c = fhs_paths(hist, vix0=15.0, n_paths=200, n_days=30, seed=12)
    assert np.array_equal(a.day, b.day) and np.array_equal(a.log_return, b.log_return)
    assert np.array_equal(a.vix, b.vix)
    assert not np.array_equal(a.day, c.day)


def test_vix0_per_path(hist):
    v0 = np.linspace(10.0, 60.0, 40)
    p = fhs_paths(hist, vix0=v0, n_paths=40, n_days=5, seed=1)
    assert np.array_equal(p.vix[:, 0], v0)
    assert np.allclose(p.log_return[:, 0], hist.z[p.day[:, 0]] * v0 / 100 / SQRT252)
    with pytest.raises(ValueError, match="one level per path"):
        fhs_paths(hist, vix0=v0, n_paths=41, n_days=5, seed=1)
    with pytest.raises(ValueError, match="vix0"):
        fhs_paths(hist, vix0=-1.0, n_paths=4, n_days=5, seed=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_paths": 0},
        {"n_days": 0},
        {"mean_block": 0.5},
        {"mean_block": float("nan")},
        {"seed": -1},
        {"n_paths": 2.0},
    ],
)
def test_fhs_bad_arguments(hist, kwargs):
    args = {"vix0": 20.0, "n_paths": 3, "n_days": 3, "seed": 0, **kwargs}
    with pytest.raises(ValueError):
        fhs_paths(hist, **args)


def test_block_one_gives_iid_uniform_days(hist):
    p = fhs_paths(hist, vix0=20.0, n_paths=2000, n_days=50, seed=5, mean_block=1.0)
    counts = np.bincount(p.day.ravel() * 20 // hist.n, minlength=20)
    assert stats.chisquare(counts).pvalue > 1e-3
    follow = np.mean(p.day[:, 1:] == p.day[:, :-1] + 1)
    assert follow < 10.0 / hist.n  # only chance continuations (probability 1/N)


@pytest.mark.parametrize("block", [5.0, 21.0])
def test_mean_run_length_is_block(hist, block):
    p = fhs_paths(hist, vix0=20.0, n_paths=8000, n_days=250, seed=9, mean_block=block)
    cont = p.day[:, 1:] == p.day[:, :-1] + 1
    q = float(cont.mean())  # continuation probability 1 - 1/L (minus wraps, ~1/N)
    se = math.sqrt(q * (1 - q) / cont.size)
    assert abs(q - (1 - 1 / block)) < 5 * se + 1.0 / hist.n
    # the first block of each path: geometric with mean L (memoryless, so not length-biased;
    # later complete blocks inside a finite window are biased short)
    first = np.where(cont.all(axis=1), p.D, np.argmin(cont, axis=1) + 1)
    sd = math.sqrt(block * (block - 1)) / math.sqrt(p.P)
    assert abs(first.mean() - block) < 4.5 * sd


@settings(max_examples=40, deadline=None)
@given(
    n_paths=st.integers(1, 30),
    n_days=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    vix0=st.floats(1.0, 400.0),
    block=st.floats(1.0, 100.0),
)
def test_fhs_invariants(hist, n_paths, n_days, seed, vix0, block):
    p = fhs_paths(hist, vix0=vix0, n_paths=n_paths, n_days=n_days, seed=seed, mean_block=block)
    assert p.log_return.shape == p.session_return.shape == p.day.shape == (n_paths, n_days)
    assert p.vix.shape == (n_paths, n_days + 1) and np.all(p.vix[:, 0] == vix0)
    assert np.all(np.isfinite(p.log_return)) and np.all(np.isfinite(p.session_return))
    tail = p.vix[:, 1:]
    assert np.all(tail >= VIX_CLIP[0] * (1 - 1e-12)) and np.all(tail <= VIX_CLIP[1] * (1 + 1e-12))
    assert p.day.min() >= 0 and p.day.max() < hist.n


# ----------------------------------------------------------------------------------------------
# Lognormal paths and Paths
# ----------------------------------------------------------------------------------------------


def test_lognormal_martingale_and_std(vix, ohlc):
    ratio = measure_vol_ratio(vix, ohlc["close"]).ratio
    n, d = 200_000, 21
    p = lognormal_paths(
        vix0=20.0, vol_ratio=ratio, n_paths=n, n_days=d, seed=3, session_fraction=0.75
    )
    s = 0.20 * ratio / SQRT252
    total = p.log_return.sum(axis=1)
    growth = np.exp(total)
    assert abs(growth.mean() - 1.0) < 4 * growth.std() / math.sqrt(n)
    assert total.std() == pytest.approx(s * math.sqrt(d), rel=0.01)
    assert total.mean() == pytest.approx(-0.5 * s**2 * d, abs=4 * s * math.sqrt(d / n))
    assert np.array_equal(p.session_return, math.sqrt(0.75) * p.log_return)
    assert np.all(p.vix == 20.0) and np.all(p.day == -1)
    assert p.light_tailed and p.measure.startswith("lognormal (light-tailed)")


def test_lognormal_vix0_per_path_and_errors():
    v0 = np.array([10.0, 40.0])
    p = lognormal_paths(
        vix0=v0, vol_ratio=1.0, n_paths=2, n_days=50_000, seed=0, session_fraction=1.0
    )
    sd = p.log_return.std(axis=1)
    assert np.allclose(sd, v0 / 100 / SQRT252, rtol=0.02)
    with pytest.raises(ValueError):
        lognormal_paths(vix0=20.0, vol_ratio=0.0, n_paths=2, n_days=2, seed=0, session_fraction=1)
    with pytest.raises(ValueError):
        lognormal_paths(vix0=20.0, vol_ratio=1.0, n_paths=2, n_days=2, seed=0, session_fraction=2)


def test_paths_validation():
    ok = {
        "log_return": np.zeros((2, 3)),
        "vix": np.full((2, 4), 20.0),
        "session_return": np.zeros((2, 3)),
        "day": np.zeros((2, 3), dtype=int),
        "measure": "m",
        "light_tailed": False,
    }
    p = Paths(**ok)
    assert p.day.dtype == np.int32 and not p.vix.flags.writeable
    src = np.zeros((2, 3))
    p = Paths(**{**ok, "log_return": src})
    src[0, 0] = 1.0  # a writable input is copied
    assert p.log_return[0, 0] == 0.0
    for key, bad in (
        ("vix", np.full((2, 3), 20.0)),
        ("day", np.zeros((2, 4))),
        ("log_return", np.zeros(3)),
        ("vix", np.zeros((2, 4))),
        ("session_return", np.full((2, 3), np.nan)),
    ):
        with pytest.raises(ValueError):
            Paths(**{**ok, key: bad})


def test_model_tail_probabilities_hand_paths():
    lr = np.log(np.array([[0.97, 0.90, 1.0], [1.0, 1.0, 0.70], [0.94, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    p = Paths(
        log_return=lr,
        vix=np.full((4, 4), 20.0),
        session_return=lr,
        day=np.zeros((4, 3), dtype=int),
        measure="hand",
        light_tailed=False,
    )
    out = model_tail_probabilities(p, [1, 2, 3], [-0.05, -0.10, -0.20])
    # cumulative simple returns: day 1: -3%, 0, -6%, 0; day 2: -12.7%, 0, -6%, 0;
    # day 3: -12.7%, -30%, -6%, 0
    assert out.loc[(1, -0.05), "prob"] == 0.25 and out.loc[(1, -0.10), "prob"] == 0.0
    assert out.loc[(2, -0.05), "prob"] == 0.5 and out.loc[(2, -0.10), "prob"] == 0.25
    assert out.loc[(3, -0.10), "prob"] == 0.5 and out.loc[(3, -0.20), "prob"] == 0.25
    assert out.loc[(3, -0.20), "se"] == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    with pytest.raises(ValueError, match="exceeds"):
        model_tail_probabilities(p, [4], [-0.05])


@pytest.mark.parametrize("date", ["1989-11-01", "2008-10-01", "2020-03-02"])
def test_history_paths_are_the_history_in_order(hist_1950, ohlc, vix, date):
    """The backtest's path: the real closes' log returns, session moves and VIX closes."""
    i = _at(hist_1950, date)
    p = history_paths(hist_1950, i, 30)
    assert p.P == 1 and p.D == 30
    close = ohlc["close"]
    j = close.index.get_loc(pd.Timestamp(date))
    want = np.log(close.iloc[j : j + 30].to_numpy() / close.iloc[j - 1 : j + 29].to_numpy())
    assert np.max(np.abs(p.log_return[0] - want)) < 1e-14
    assert p.day[0].tolist() == list(range(i, i + 30))
    if pd.Timestamp(date) >= pd.Timestamp("1990-01-03"):  # real VIX closes (before: synthetic)
        days = close.index[j - 1 : j + 30]
        assert np.allclose(p.vix[0], vix.reindex(days).ffill().to_numpy())
    obs = hist_1950.session_observed[i : i + 30]
    want_s = np.log(close.iloc[j : j + 30].to_numpy() / ohlc["open"].iloc[j : j + 30].to_numpy())
    assert np.allclose(p.session_return[0][obs], want_s[obs], atol=1e-14)
    with pytest.raises(ValueError, match="not inside the history"):
        history_paths(hist_1950, hist_1950.n - 5, 30)
