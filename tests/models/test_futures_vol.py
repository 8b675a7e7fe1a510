"""Futures conditional vol (models.market.futures_vol) and the strangle replay (models.measure.replay, issue 16).

References: ``arch``'s own maximum-likelihood fit on the shipped WTI history, the GARCH
unconditional-variance formula, the sample autocorrelation of squared returns, the
:func:`models.measure.physical.fhs_paths` day draws, and the managed engine itself
(:func:`models.measure.managed.simulate_managed`) for the strangle marking.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from models.market import futures_vol as fv
from models.market.history import load_index_ohlc, load_vix_history, load_wti_history
from models.measure import replay
from models.measure.managed import UnderlyingPaths, simulate_managed
from models.measure.physical import bootstrap_days, fhs_paths, filtered_history
from models.strategies import Management

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"
WTI = DATA / "wti_spot_fred_DCOILWTICO_1986-2019.csv.gz"


@pytest.fixture(scope="module")
def wti():
    return load_wti_history(WTI)


@pytest.fixture(scope="module")
def crude():
    return fv.load_params()["crude"]


@pytest.fixture(scope="module")
def pool(wti, crude):
    z = fv.garch_filter(np.log(wti).diff().dropna(), crude)["z"].to_numpy()[75:]
    return z / z.std()


def _acf_sq(r: np.ndarray) -> float:
    """Mean over paths of the lag-1 autocorrelation of squared daily returns."""
    x = r**2 - (r**2).mean(axis=1, keepdims=True)
    return float(np.mean((x[:, 1:] * x[:, :-1]).sum(axis=1) / (x * x).sum(axis=1)))


def test_csv_rows_and_sources():
    rows = fv.load_params()
    assert set(rows) == {"crude", "gold", "treasury_bond", "eurusd"}
    for p in rows.values():
        assert p.source and 0.9 < p.persistence < 1
    assert rows["crude"].fitted and not rows["gold"].fitted
    assert fv.params_for("MCL") is rows["crude"] and fv.params_for("MGC") is rows["gold"]
    assert fv.params_for("SPX") is None


def test_crude_row_is_arch_refit(wti, crude):
    refit, filt = fv.fit_garch_t(np.log(wti).diff().dropna(), "crude", crude.iv_rv_ratio)
    assert refit.n == crude.n == 8320
    assert (refit.start, refit.end) == (crude.start, crude.end)
    assert refit.omega == pytest.approx(crude.omega, rel=1e-4)
    for name in ("alpha", "beta", "nu"):
        assert getattr(refit, name) == pytest.approx(getattr(crude, name), rel=1e-4)
    assert crude.long_run_vol == pytest.approx(0.4137, abs=5e-4)
    # the recursion with the csv parameters reproduces arch's conditional vol after start-up
    mine = fv.garch_filter(np.log(wti).diff().dropna(), crude)["sigma"].to_numpy()
    assert np.allclose(mine[500:], filt["sigma"].to_numpy()[500:], rtol=1e-3)


def test_unconditional_vol_and_clustering(crude):
    g = np.random.default_rng(3)
    eps = fv.t_innovations(g, crude.nu, (400, 2000))
    r, h = fv.simulate_garch(crude, crude.long_run_variance, eps, martingale=False)
    vol = float(r[:, 200:].std() * math.sqrt(252))
    assert vol == pytest.approx(crude.long_run_vol, rel=0.04)
    const = math.sqrt(crude.long_run_variance) * eps
    assert _acf_sq(r) > 0.05
    assert abs(_acf_sq(const)) < 0.01


def test_iv_follows_conditional_vol(crude):
    g = np.random.default_rng(4)
    h0 = fv.start_variance(0.32, crude)
    eps = fv.t_innovations(g, crude.nu, (2000, 250))
    r, h = fv.simulate_garch(crude, h0, eps, martingale=False)
    iv = fv.implied_vol(h, crude)
    assert iv[0, 0] == pytest.approx(0.32)
    # IV^2 / ratio^2 = 252 x the expected square of the next day's return, on average
    ratio = math.sqrt(float(np.mean(iv[:, :-1] ** 2)) / (252.0 * float(np.mean(r**2))))
    assert ratio == pytest.approx(crude.iv_rv_ratio, rel=0.02)


def test_bootstrap_days_match_fhs_paths():
    ohlc = load_index_ohlc(DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz")
    vix = load_vix_history(DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz")
    hist = filtered_history(vix, ohlc, start="2015-01-01")
    p = fhs_paths(hist, vix0=17.0, n_paths=30, n_days=40, seed=11, mean_block=21.0)
    day = bootstrap_days(hist.n, n_paths=30, n_days=40, seed=11, mean_block=21.0)
    assert np.array_equal(day, p.day)


def test_strangle_marking_equals_engine(crude, pool):
    """One trade per path (exit at 21 DTE only): the engine and strangle_trades agree."""
    spec = replay.StrangleSpec(
        put_delta=0.06,
        call_delta=0.055,
        skew=-0.08,
        curvature=0.03,
        management=Management(exit_dte=21),
    )
    n = spec.n_days
    g = np.random.default_rng(5)
    eps = pool[g.integers(0, pool.size, (400, n))]
    r, h = fv.simulate_garch(crude, fv.start_variance(0.32, crude), eps)
    iv = fv.implied_vol(h, crude)
    x = np.concatenate([np.zeros((400, 1)), np.cumsum(r, axis=1)], axis=1)
    mine = replay.strangle_trades(spec, x, iv)
    up = UnderlyingPaths(
        log_return=r, iv_shift=iv - iv[:, :1], session_return=r, daily_vol=np.sqrt(h)
    )
    c = replay.strangle_candidate(spec, 0.32)
    res = simulate_managed(
        [c],
        paths={"CL": up},
        multipliers=[1.0],
        management=[spec.management],
        entries_per_month=[1000.0],
        seed=0,
        months=1,
        warmup_days=0,
    )
    assert mine["credit"].iloc[0] == pytest.approx(-sum(q.quantity * q.price for q in c.legs))
    assert float(res.expected_trade[0]) == pytest.approx(mine["pnl"].mean(), rel=1e-6, abs=1e-9)
    assert float(res.win_rate[0]) == pytest.approx((mine["pnl"] > 0).mean())


def test_garch_strangle_tail_heavier_than_constant_vol(crude, pool):
    spec = replay.StrangleSpec(skew=-0.08, curvature=0.03)
    levels = np.array([0.32])
    gt, gs = replay.model_strangle(crude, spec, levels, n_paths=4000, seed=1, pool=pool)
    ct, cs = replay.model_strangle(
        crude, spec, levels, n_paths=4000, seed=1, pool=pool, vol_model="constant"
    )
    assert gs.loss < cs.loss  # mean loss / credit deeper
    q = 0.05
    assert np.quantile(gt["pnl"] / gs.mean_credit, q) < np.quantile(ct["pnl"] / cs.mean_credit, q)


def test_crude_strangle_replay_ci_contains_model(wti, crude, pool):
    """Crude (WTI 1986-2019): the GARCH model's edge and mean loss / credit lie inside the
    replay's 95% interval (Newey-West); constant vol misses the mean loss."""
    spec = replay.StrangleSpec(put_delta=0.06, call_delta=0.055, skew=-0.08, curvature=0.03)
    table = replay.strangle_replay_table(wti, crude, [spec], pool=pool, n_paths=3000, seed=7)
    row = table.iloc[0]
    assert row["n_entries"] > 8000
    assert row["garch_edge_in"] and row["garch_loss_in"]
    assert row["garch_loss"] < row["constant_loss"]
    assert not row["constant_loss_in"]
