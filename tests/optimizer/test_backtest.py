"""``thetaplan backtest``: the plan walked through history against its forecasts.

The fixture scenario is one structure — a 29-DTE short put 5% out of the money on a synthetic
SPX chain priced by Black-Scholes at zero rates (so forward = spot, as the replay assumes), held
to expiry, one entry a month, no costs — walked over 6 months of 2010 (~1 s a month). Its
realized months are checked against :func:`models.measure.replay.replay_hold_to_expiry` of the
same entry days (an independent implementation: closes and Black-Scholes at each entry, payoff
at expiry), the summary and the calibration against hand-worked numbers, and the runner for
resume after SIGKILL (a real process) and for Dask.

29 DTE, not 30: a unit of the income model re-enters at the first scheduled entry *after* its
trade closed (:mod:`models.measure.managed`), so a 30-calendar-day (21-trading-day) put entered
once a month expires on the close of the next scheduled entry and skips a month; 29 days (20
trading days) is the longest monthly put that rolls every month.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.market.history import load_index_history, load_vix_history
from models.market.pricing import black76_price
from models.measure.replay import FixedLeg, FixedStructure, replay_hold_to_expiry
from optimizer.inputs.income_model import warmup_days
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare
from optimizer.studies import backtest as bt
from optimizer.studies import backtest_stats as bs
from optimizer.studies.study import expand

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "scenarios" / "data"
SPOT = 6939.03
REF_VIX = 17.44  # Cboe close of 2026-01-30, the chain's quote date (shipped VIX history)
WINDOW = ("2010-01-01", "2010-07-31")  # 6 months of 21 trading days


def _write_put_scenario(folder: Path, dte: int = 29) -> Path:
    rows = []
    expiry = (pd.Timestamp("2026-01-30 16:00") + pd.Timedelta(days=dte)).isoformat()
    t = dte / 365.0
    for strike in np.arange(4000.0, 9000.0 + 1e-9, 5.0):
        k = math.log(strike / SPOT)
        iv = max(0.17 - 0.35 * k + 0.4 * k * k, 0.05)
        for right, call in (("C", True), ("P", False)):
            px = float(black76_price(SPOT, strike, t, 0.0, iv, call))
            if px >= 0.05:
                rows.append(
                    {
                        "underlying": "SPX",
                        "valuation_time": "2026-01-30T16:00:00",
                        "spot": SPOT,
                        "expiry": expiry,
                        "strike": strike,
                        "right": right,
                        "bid": repr(px),
                        "ask": repr(px),
                        "open_interest": 100,
                        "volume": 10,
                    }
                )
    pd.DataFrame(rows).to_csv(folder / "chain.csv", index=False)
    path = folder / "put.yaml"
    path.write_text(
        f"""name: one short put a month
valuation_time: 2026-01-30T16:00:00
account: {{net_liq: 500000, currency: USD, fx: {{GBP: 1.37}}, phase: 4}}
market:
  chains:
    SPX: {{path: chain.csv, format: tidy, spot: {SPOT}}}
  history:
    vix: {DATA}/vix_daily_cboe_1990-01-02_2026-07-23.csv.gz
    index: {DATA}/sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz
target: {{monthly_income: 12000}}
income: {{model: managed, measure: fhs, paths: 20, seed: 3}}
costs: {{enabled: false}}
objective: max_theta
strategies:
  put:
    template: custom
    weight: 1.0
    entries_per_month: 1
    expiry: {{dte: {dte}}}
    legs: [{{right: P, quantity: -1, rule: pct_otm, param: otm}}]
    underlyings:
      SPX: {{grid: {{otm: [0.05]}}}}
    management: {{}}
    max_positions: null
allocation: {{enabled: false}}
buying_power: {{max_fraction: 0.5}}
positions: {{correlation_groups: {{risk_cap: 1.0}}}}
"""
    )
    return path


@pytest.fixture(scope="module")
def put_scenario(tmp_path_factory) -> Path:
    return _write_put_scenario(tmp_path_factory.mktemp("bt"))


def _study(path: Path, **kw):
    opts = bt.BacktestOptions(vix_rule="sticky_moneyness", **kw)
    return bt.backtest_study(path, start=WINDOW[0], end=WINDOW[1], options=opts)


@pytest.fixture(scope="module")
def baseline(put_scenario, tmp_path_factory):
    """The 6-month backtest, in process: ``(DataFrame, Parquet path)``."""
    out = tmp_path_factory.mktemp("bt_out") / "base.parquet"
    return bt.run_backtest(_study(put_scenario), out=out, progress=False), out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in bt.COLUMNS if c != "seconds"]
    a, b = a[cols].astype(object), b[cols].astype(object)
    pd.testing.assert_frame_equal(
        a.where(a.notna(), None), b.where(b.notna(), None), check_exact=True
    )


# ----------------------------------------------------------------------------- the replay
def test_realized_months_equal_the_replay_of_the_same_entries(put_scenario, baseline):
    df, _ = baseline
    assert len(df) == 6 and df["error"].isna().all()
    assert (df["contracts"] > 0).all() and (df["positions"] == 1).all()
    # the replay's inputs: the candidate's moneyness and its IV at the chain's own VIX
    sc = load_scenario(put_scenario)
    prep = prepare(sc)
    (cand,) = prep.candidates.structures.values()
    m = cand.legs[0].strike / cand.spot
    assert abs(m - 0.95) < 0.001  # 5% out of the money, on the 5-point strike grid
    structure = FixedStructure("put", "custom", 29, (FixedLeg("P", m, -1),))
    assert structure.n_days == 20 and abs(structure.t - cand.t) < 1e-15
    close = load_index_history(DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz")
    vix = load_vix_history(DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz")
    rep = replay_hold_to_expiry(
        structure, close, vix, np.array(cand.ivs), reference_vix=REF_VIX, start="2009-06-01"
    )
    warm = warmup_days(prep.candidates)
    assert warm == 21
    for _, row in df.iterrows():
        day = pd.Timestamp(row["month"])
        j = close.index.get_loc(day)
        # the engine's path starts at today's spot `warm` closes before the entry
        spot_at_entry = SPOT * close.iloc[j] / close.iloc[j - warm]
        expected = rep.trades.loc[day, "pnl"] * spot_at_entry * 100.0 * row["contracts"]
        assert row["income_realized"] == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert row["vix"] == pytest.approx(vix.loc[day])
    # the month's end is 21 trading days later and the next month starts there
    assert (df["month"].iloc[1:].to_numpy() == df["month_end"].iloc[:-1].to_numpy()).all()


def test_a_30_dte_monthly_put_skips_every_other_month(tmp_path):
    """The engine's schedule rule, seen through the backtest (see the module docstring)."""
    path = _write_put_scenario(tmp_path, dte=30)
    df = bt.run_backtest(_study(path), out=tmp_path / "o.parquet", progress=False)
    assert (df["contracts"] > 0).all()
    assert (df["income_realized"] == 0.0).all()  # the month's trade opens at its last close


# ----------------------------------------------------------------------------- the forecast
def test_forecast_columns_are_the_solves_months(baseline):
    df, _ = baseline
    q = df[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert df["pit"].between(0, 1).all()
    assert (df["forecast_basis"] == "in sample").all()  # no risk section: the SAA months
    assert (df["target_hit"] == (df["income_realized"] >= 12000)).all()


def test_pit_is_the_mid_distribution_transform():
    x = np.array([-2.0, 0.0, 0.0, 1.0, 5.0])
    assert bt._pit(x, 0.0) == pytest.approx((1 + 0.5 * 2) / 5)
    assert bt._pit(x, 3.0) == pytest.approx(4 / 5)
    assert bt._pit(x, -9.0) == 0.0 and bt._pit(x, 9.0) == 1.0


def _table(income, nlv=1000.0, pit=None, p=None, q=None):
    n = len(income)
    df = pd.DataFrame({c: [None] * n for c in bt.COLUMNS})
    df["index"] = range(n)
    df["month"] = [f"2001-{i + 1:02d}-01" for i in range(n)]
    df["nlv"] = nlv
    df["vix"] = 18.0
    df["contracts"] = 1
    df["income_realized"] = income
    df["costs"] = 0.0
    df["error"] = None
    df["pit"] = pit if pit is not None else np.nan
    df["p_target"] = p if p is not None else 0.0
    df["target_hit"] = [x >= 50 for x in income]
    for c, v in zip(bt._QCOLS, q or (0, 0, 0, 0, 0), strict=True):
        df[c] = v
    return df


def test_summary_by_hand(tmp_path):
    df = bt._with_drawdown(_table([10.0, -30.0, 20.0, 5.0]), tmp_path / "t.parquet")
    # equity 1010, 980, 1000, 1005 after a start of 1000: drawdown 0, -30/1010, -10/1010, -5/1010
    assert df["drawdown"].tolist() == pytest.approx([0.0, -30 / 1010, -10 / 1010, -5 / 1010])
    s = bs.summary(df, target=50.0)
    r = np.array([0.01, -0.03, 0.02, 0.005])
    assert s["annual_return"] == pytest.approx(r.mean() * 12)
    assert s["monthly_sd"] == pytest.approx(r.std(ddof=1))
    assert s["annual_sd"] == pytest.approx(r.std(ddof=1) * math.sqrt(12))
    assert s["annual_return_compounded"] == pytest.approx(np.prod(1 + r) ** (12 / 4) - 1)
    assert s["max_drawdown"] == pytest.approx(-30 / 1010)
    assert s["worst_month"]["month"] == "2001-02-01" and s["worst_month"]["income"] == -30.0
    assert s["months_at_target"] == 0.0
    assert pd.read_parquet(tmp_path / "t.parquet")["drawdown"].tolist() == df["drawdown"].tolist()


def test_calibration_by_hand():
    pit = [0.05, 0.15, 0.35, 0.55, 0.65, 0.95, 0.97, 0.99]
    income = [100.0, -5.0, 40.0, 60.0, 0.0, 70.0, 10.0, 55.0]
    p = [0.9, 0.1, 0.2, 0.6, 0.1, 0.8, 0.3, 0.5]
    df = _table(income, pit=pit, p=p, q=(-10.0, 5.0, 20.0, 50.0, 80.0))
    cal = bs.calibration(df)
    assert cal["months"] == 8
    # realized <= q: q05=-10 none; q25=5: -5, 0 -> 2; q50=20: +10 -> 3; q75=50: +40 -> 4; q95=80:
    # all but 100 -> 7
    assert [c["months"] for c in cal["coverage"]] == [0, 2, 3, 4, 7]
    # Kolmogorov-Smirnov distance of the sorted PIT against U(0, 1), by hand
    u = np.sort(pit)
    i = np.arange(1, 9)
    d = max(np.max(i / 8 - u), np.max(u - (i - 1) / 8))
    assert cal["pit"]["ks_statistic"] == pytest.approx(d)
    assert cal["pit"]["bins"] == [1, 1, 0, 1, 0, 1, 1, 0, 0, 3]
    hit = np.array(income) >= 50
    assert cal["target"]["brier_score"] == pytest.approx(np.mean((np.array(p) - hit) ** 2))
    assert cal["target"]["realized_frequency"] == pytest.approx(hit.mean())


def test_months_tile_the_history(put_scenario):
    hist = bt.path_history(load_scenario(put_scenario))
    months = bt.month_starts(hist, "2008-01-01", "2008-12-31")
    idx = [i for _, i, _ in months]
    assert np.all(np.diff(idx) == 21) and len(months) == 12  # 2008: 253 trading days
    assert months[0][0] == pd.Timestamp("2008-01-02")  # first trading day of 2008
    assert all(end == hist.dates[i + 21] for _, i, end in months)
    assert months[-1][2] <= pd.Timestamp("2008-12-31")
    assert all(hist.filter_kind[i] == "vix" for i in idx)


# ----------------------------------------------------------------------------- the runner
def test_compound_nlv_carries_the_realized_income(put_scenario, baseline, tmp_path):
    st = bt.backtest_study(
        put_scenario,
        start=WINDOW[0],
        end="2010-04-30",
        options=bt.BacktestOptions(vix_rule="sticky_moneyness", nlv="compound"),
    )
    df = bt.run_backtest(st, out=tmp_path / "c.parquet", nlv="compound", progress=False)
    assert df["nlv"].iloc[0] == 500000
    for k in range(1, len(df)):
        assert df["nlv"].iloc[k] == pytest.approx(
            df["nlv"].iloc[k - 1] + df["income_realized"].iloc[k - 1]
        )
    equity = df["nlv"] + df["income_realized"]
    peak = np.maximum.accumulate(np.concatenate([[500000.0], equity]))[1:]
    assert df["drawdown"].to_numpy() == pytest.approx((equity / peak - 1).to_numpy())


def test_dask_two_workers_equal_the_sequential_run(put_scenario, baseline, tmp_path):
    df = bt.run_backtest(
        _study(put_scenario), out=tmp_path / "d.parquet", workers=2, progress=False
    )
    _same(df, baseline[0])


def _run_cli(*args: str, delay: float = 0.0) -> subprocess.Popen:
    """``thetaplan backtest ARGS`` as a real process, sleeping ``delay`` s after each month."""
    code = (
        "import sys, time\n"
        "import optimizer.studies.backtest as bt\n"
        "month = bt.month_row\n"
        "def slow(*a, **k):\n"
        "    row = month(*a, **k)\n"
        f"    time.sleep({delay!r})\n"
        "    return row\n"
        "bt.month_row = slow\n"
        "from optimizer.cli.app import main\n"
        "main(sys.argv[1:])\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, "backtest", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_then_resume_equals_an_uninterrupted_run(put_scenario, baseline, tmp_path):
    out = tmp_path / "killed.parquet"
    parts = out.parent / f"{out.name}.parts"
    common = [
        str(put_scenario),
        "--from",
        WINDOW[0],
        "--to",
        WINDOW[1],
        "--vix-rule",
        "sticky_moneyness",
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = _run_cli(*common, delay=0.5)
    deadline = time.monotonic() + 120
    while len(list(parts.glob("0*.parquet"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    kept = list(parts.glob("0*.parquet"))
    assert 2 <= len(kept) < 6 and not out.exists()
    proc = _run_cli(*common, "--resume", "--json")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    _same(pd.read_parquet(out), baseline[0])
    assert not parts.exists()
    doc = json.loads(stdout)  # --json: one JSON document on standard output, nothing else
    assert doc["window"]["months"] == 6 and doc["out"] == str(out)
    assert doc["calibration"]["months"] == 6
    assert doc["summary"]["annual_return"] == pytest.approx(
        (baseline[0]["income_realized"] / 500000).mean() * 12
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nlv", "both"], "--nlv: expected fixed or compound"),
        (["--nlv", "compound", "--workers", "2"], "--nlv compound runs the months in order"),
        (["--from", "01/02/2010"], "--from: expected an ISO date"),
        (["--from", "1980-01-01", "--to", "1980-06-30"], "no complete 21-trading-day month"),
        (["--index-history", "missing.csv"], "--index-history: file not found"),
        (["--set", "income.model=theta"], "income.model: the backtest runs the managed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(put_scenario, tmp_path, args, message):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "backtest",
            str(put_scenario),
            *args,
            "--out",
            str(tmp_path / "x.parquet"),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "x.parquet").exists()


def test_put_index_months_are_the_replay_at_the_money(put_scenario):
    hist = bt.path_history(load_scenario(put_scenario))
    months = bt.month_starts(hist, "2008-09-01", "2009-03-31")
    put = bs.put_index_months(hist, months)
    assert put["month"].tolist() == [d.date().isoformat() for d, _, _ in months]
    # the October 2008 month loses: the index fell ~25% in the month after 2008-09-30
    worst = put.loc[put["return"].idxmin()]
    assert worst["return"] < -0.10
    assert (put["credit"] > 0).all()
    # an ATM put's return is at most its credit (premium per unit of strike)
    assert (put["return"] <= put["credit"] + 1e-12).all()


def test_book_diagnostics_keep_the_headline_book_without_the_search():
    """``book`` skips only the max-probability search: the same headline book as ``light``."""
    from optimizer.pipeline import clear_cache, solve_scenario

    path = ROOT / "tests" / "fixtures" / "scenarios" / "minimal_risk.yaml"
    sc = load_scenario(path, ["target.monthly_income=20", "target.success_probability=0.9"])
    light = solve_scenario(sc, min_nlv_search=False, diagnostics_level="light")
    clear_cache()
    book = solve_scenario(sc, min_nlv_search=False, diagnostics_level="book")
    steps = [f.step.value for f in book.verdict.fallbacks]
    assert "drop_chance" in steps and "max_probability" not in steps
    assert "max_probability" in [f.step.value for f in light.verdict.fallbacks]
    assert book.positions["contracts"].sum() > 0
    assert book.positions[["id", "contracts"]].values.tolist() == (
        light.positions[["id", "contracts"]].values.tolist()
    )
    assert book.verdict.status == light.verdict.status
    assert book.verdict.success_probability == light.verdict.success_probability


def test_expanding_model_window_only_knows_the_past(put_scenario):
    st = bt.backtest_study(
        put_scenario,
        start=WINDOW[0],
        end="2010-02-28",
        options=bt.BacktestOptions(vix_rule="sticky_moneyness", model_window="expanding"),
    )
    points = expand(st)
    assert [p.values["income.history_end"] for p in points] == [p.name for p in points]
    from optimizer.inputs.history import fhs_history

    hist = fhs_history(points[0].scenario)
    assert hist.dates[-1] <= pd.Timestamp(points[0].name)
    row = bt.month_row(points[0], st.solve, ())
    assert row["error"] is None and row["contracts"] > 0 and 0 <= row["pit"] <= 1
