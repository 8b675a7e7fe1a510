"""``thetaplan calibrate``: the calibration table on the project's window and on supplied histories.

* The default run (shipped files, 1990-01-02 .. 2023-12-28, the README's paths and seeds), as a
  real process with ``--json``: stdout is one JSON document with the specified keys; it
  reproduces the README's figures (FHS inside in 36 of 36 tail cells, lognormal 29; replay short
  put 41.9 [29.9, 53.9] bp vs FHS 41.0, ...); its realized frequencies equal an independent
  pandas recomputation from the CSV files; one Wilson interval is checked by hand.
* A history supplied as CSV files with the shipped columns (2010-2015 cut from the shipped files;
  2010-2011 moved to 2024-2025, wholly outside the model's window) runs unchanged and reports
  coverage, through ``CliRunner`` and a real process.
* Bad input exits with code 2 and one line naming the problem.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.errors import DataError
from models.market.history import load_index_history, load_vix_history
from models.measure.calibration import (
    SHIPPED_INDEX,
    SHIPPED_VIX,
    calibrate,
    evaluation_window,
    fit_model,
)
from optimizer.cli.app import app, main

ROOT = Path(__file__).resolve().parents[2]
THETAPLAN = Path(sys.executable).with_name("thetaplan")
FAST = ["--paths", "400", "--replay-paths", "400"]

TAIL_KEYS = {"horizon", "vix_bucket", "threshold", "model", "realized", "ci_low", "ci_high"}
TAIL_KEYS |= {"n_eff"}
REPLAY_KEYS = {"structure", "model", "replay", "ci_low", "ci_high", "win_rate_model"}
REPLAY_KEYS |= {"win_rate_replay"}
COVERAGE_KEYS = {"tails_inside", "tails_total", "replays_inside", "replays_total"}
BUCKETS = {"0-15": (0.0, 15.0), "15-20": (15.0, 20.0), "20-30": (20.0, 30.0), "30+": (30.0, 1e9)}


def _thetaplan(*args: str) -> subprocess.CompletedProcess:
    cmd = (
        [str(THETAPLAN), *args]
        if THETAPLAN.exists()
        else [sys.executable, "-c", "from optimizer.cli.app import main; main()", *args]
    )
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)


def _json_doc(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.lstrip().startswith("{") and text.rstrip().endswith("}")
    return json.loads(text)  # the whole of stdout: nothing before or after


def _check_keys(doc: dict) -> None:
    assert {"window", "tails", "replays", "coverage"} <= set(doc)
    assert len(doc["tails"]) == 36
    for row in doc["tails"]:
        assert TAIL_KEYS <= set(row)
    assert [r["structure"] for r in doc["replays"]] == [
        "short_put",
        "iron_condor",
        "lt112",
        "lt112_tk",
    ]
    for row in doc["replays"]:
        assert REPLAY_KEYS <= set(row)
    assert COVERAGE_KEYS <= set(doc["coverage"])


def _realized(index_csv: Path, vix_csv: Path, start: str, end: str) -> dict:
    """Independent recomputation from the CSV files: overlapping h-day windows inside
    [start, end], simple return C_{d+h}/C_d - 1, bucket of the VIX close of the start day."""
    spx = pd.read_csv(index_csv, usecols=["Date", "Close"], parse_dates=["Date"])
    spx = spx.dropna().set_index("Date")["Close"].sort_index()
    spx = spx.loc[start:end]
    vix = pd.read_csv(vix_csv, usecols=["DATE", "CLOSE"])
    vix = vix.set_index(pd.to_datetime(vix["DATE"]))["CLOSE"]
    out = {}
    for h in (1, 21, 82):
        ret = spx.shift(-h) / spx - 1.0
        frame = pd.DataFrame({"ret": ret, "vix": vix.reindex(spx.index)}).dropna()
        for label, (lo, hi) in BUCKETS.items():
            sel = frame[(frame["vix"] >= lo) & (frame["vix"] < hi)]
            for thr in (-0.05, -0.10, -0.20):
                out[(h, label, thr)] = (len(sel), int((sel["ret"] < thr).sum()))
    return out


# ----------------------------------------------------------------------------------------------
# The project's own window (the README table)


@pytest.fixture(scope="module")
def default_doc() -> dict:
    """``thetaplan calibrate --json`` with every default, in a real process (about 12 s)."""
    return _json_doc(_thetaplan("calibrate", "--json"))


def test_default_json_keys_and_window(default_doc):
    _check_keys(default_doc)
    w = default_doc["window"]
    assert (w["start"], w["end"]) == ("1990-01-02", "2023-12-28")
    assert w["model_window"] == ["1990-01-02", "2023-12-28"]
    assert w["model_overlap_days"] == w["index_days"] == 8564
    assert default_doc["model"]["paths"] == 40_000
    assert default_doc["model"]["replay_paths"] == 30_000


def test_default_reproduces_readme(default_doc):
    cov = default_doc["coverage"]
    assert (cov["tails_inside"], cov["tails_total"]) == (36, 36)
    assert (cov["replays_inside"], cov["replays_total"]) == (4, 4)
    assert cov["lognormal_tails_inside"] == 29  # "the lognormal lies outside in 7"
    bp = {r["structure"]: r for r in default_doc["replays"]}

    def fig(name, key, nd=1):
        return round(1e4 * bp[name][key], nd)

    # README: short put 41.9 [29.9, 53.9] vs FHS 41.0; condor 2.2 [-2.0, 6.5] vs 0.6;
    # LT112 186 [126, 246] vs 184; LT112 TK rules 153 [104, 202] vs 155
    assert [fig("short_put", k) for k in ("replay", "ci_low", "ci_high", "model")] == [
        41.9,
        29.9,
        53.9,
        41.0,
    ]
    assert [fig("iron_condor", k) for k in ("replay", "ci_low", "ci_high", "model")] == [
        2.2,
        -2.0,
        6.5,
        0.6,
    ]
    assert [fig("lt112", k, 0) for k in ("replay", "ci_low", "ci_high", "model")] == [
        186,
        126,
        246,
        184,
    ]
    assert [fig("lt112_tk", k, 0) for k in ("replay", "ci_low", "ci_high", "model")] == [
        153,
        104,
        202,
        155,
    ]
    # the lognormal understates them: 30.7, -12.5, 150, 123
    assert [fig(n, "lognormal", 1) for n in ("short_put", "iron_condor")] == [30.7, -12.5]
    assert [fig(n, "lognormal", 0) for n in ("lt112", "lt112_tk")] == [150, 123]
    # README: lognormal 0.00% for 21-day falls beyond -20% from a VIX under 20, history 0.12-0.15%
    cells = {(r["horizon"], r["vix_bucket"], r["threshold"]): r for r in default_doc["tails"]}
    for bucket in ("0-15", "15-20"):
        r = cells[(21, bucket, -0.2)]
        assert 0.0012 <= r["realized"] <= 0.0015 and r["lognormal"] < 5e-5
        assert r["inside"] and not r["lognormal_inside"]


def test_default_realized_equals_independent_recomputation(default_doc):
    ref = _realized(SHIPPED_INDEX, SHIPPED_VIX, "1990-01-02", "2023-12-28")
    assert len(ref) == 36
    for r in default_doc["tails"]:
        n, k = ref[(r["horizon"], r["vix_bucket"], r["threshold"])]
        assert r["n"] == n and r["count"] == k
        assert r["n_eff"] == pytest.approx(n / r["horizon"], rel=1e-12)
        assert r["realized"] == pytest.approx(k / n, rel=1e-12)


def test_wilson_interval_by_hand(default_doc):
    """1-day falls beyond -5% from a VIX >= 30: 18 of 721 days, n_eff = 721 (Wilson 1927)."""
    r = next(
        t
        for t in default_doc["tails"]
        if (t["horizon"], t["vix_bucket"], t["threshold"]) == (1, "30+", -0.05)
    )
    assert (r["count"], r["n"]) == (18, 721)
    z, n, p = 1.959963984540054, 721.0, 18 / 721
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert r["ci_low"] == pytest.approx(centre - half, rel=1e-12)
    assert r["ci_high"] == pytest.approx(centre + half, rel=1e-12)
    assert (round(100 * r["ci_low"], 2), round(100 * r["ci_high"], 2)) == (1.58, 3.91)
    # an 82-day cell: n_eff = n / 82
    r = next(
        t
        for t in default_doc["tails"]
        if (t["horizon"], t["vix_bucket"], t["threshold"]) == (82, "30+", -0.1)
    )
    n, p = r["n"] / 82, r["count"] / r["n"]
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert r["n_eff"] == pytest.approx(n)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((centre - half, centre + half), rel=1e-12)


def test_replay_intervals(default_doc):
    """Newey-West CI = replay -/+ 1.96 SE_NW; n_eff CI = replay -/+ 1.96 sd / sqrt(N / n_days)."""
    z = 1.959963984540054
    for r in default_doc["replays"]:
        assert r["n_eff"] == pytest.approx(r["n_entries"] / r["n_days"])
        assert r["ci_low"] == pytest.approx(r["replay"] - z * r["replay_se"], abs=1e-12)
        assert r["ci_neff_high"] == pytest.approx(r["replay"] + z * r["replay_se_neff"], abs=1e-12)
        # the module notes: the effective-sample interval is the wider one
        assert r["ci_neff_low"] < r["ci_low"] < r["replay"] < r["ci_high"] < r["ci_neff_high"]
        assert 0.8 < r["win_rate_replay"] < 1 and 0.8 < r["win_rate_model"] < 1
    entries = {r["structure"]: (r["n_entries"], r["n_days"]) for r in default_doc["replays"]}
    assert entries["short_put"] == (8539, 21) and entries["lt112"] == (8477, 83)


# ----------------------------------------------------------------------------------------------
# Supplied histories


def _cut(tmp: Path, start: str, end: str, shift_to: str | None = None) -> tuple[Path, Path]:
    """CSV files with the shipped columns, cut to [start, end]; ``shift_to`` relabels the dates
    as consecutive business days from that date (same closes, a window the model never saw)."""
    spx = pd.read_csv(SHIPPED_INDEX)
    vix = pd.read_csv(SHIPPED_VIX)
    spx = spx[(pd.to_datetime(spx["Date"]) >= start) & (pd.to_datetime(spx["Date"]) <= end)]
    vdates = pd.to_datetime(vix["DATE"])
    vix = vix[(vdates >= start) & (vdates <= end)]
    if shift_to is not None:
        spx = spx.copy()
        vix = vix.set_index(pd.to_datetime(vix["DATE"])).reindex(pd.to_datetime(spx["Date"]))
        new = pd.bdate_range(shift_to, periods=len(spx)).strftime("%Y-%m-%d")
        spx["Date"] = new
        vix = vix.assign(DATE=new).dropna()
    a, b = tmp / "spx.csv", tmp / "vix.csv"
    spx.to_csv(a, index=False)
    vix.to_csv(b, index=False)
    assert list(pd.read_csv(a).columns) == list(pd.read_csv(SHIPPED_INDEX, nrows=1).columns)
    assert list(pd.read_csv(b).columns) == list(pd.read_csv(SHIPPED_VIX, nrows=1).columns)
    return a, b


@pytest.fixture(scope="module")
def files_2010(tmp_path_factory) -> tuple[Path, Path]:
    return _cut(tmp_path_factory.mktemp("hist2010"), "2010-01-01", "2015-12-31")


@pytest.fixture(scope="module")
def model():
    return fit_model()


def test_supplied_csv_json_in_a_real_process(files_2010):
    spx, vix = files_2010
    args = ["calibrate", "--index-history", str(spx), "--vix-history", str(vix), "--json"]
    doc = _json_doc(_thetaplan(*args, *FAST))
    _check_keys(doc)
    assert (doc["window"]["start"], doc["window"]["end"]) == ("2010-01-04", "2015-12-31")
    assert doc["inputs"]["index_history"] == str(spx)
    cov = doc["coverage"]
    assert cov["tails_total"] == sum(r["n"] > 0 for r in doc["tails"]) > 0
    assert cov["replays_total"] == 4
    assert 0 <= cov["tails_inside"] <= cov["tails_total"]
    assert 0 <= cov["replays_inside"] <= 4
    ref = _realized(spx, vix, "2010-01-04", "2015-12-31")
    for r in doc["tails"]:
        n, k = ref[(r["horizon"], r["vix_bucket"], r["threshold"])]
        assert (r["n"], r["count"]) == (n, k)
        assert r["realized"] == (pytest.approx(k / n) if n else None)


def test_supplied_csv_text_and_window_cut_via_clirunner(files_2010):
    spx, vix = files_2010
    args = ["calibrate", "--index-history", str(spx), "--vix-history", str(vix)]
    args += ["--from", "2011-01-01", "--to", "2012-12-31", *FAST]
    res = CliRunner().invoke(app, args, terminal_width=100)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "evaluated 2011-01-03..2012-12-31" in out
    assert "model fitted on 1990-01-02..2023-12-28" in out
    assert "coverage: FHS inside the realized 95% CI in" in out
    assert "short_put" in out and "lt112_tk" in out
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["window"]["start"], doc["window"]["end"]) == ("2011-01-03", "2012-12-31")
    assert doc["window"]["requested_start"] == "2011-01-01"


def test_window_outside_the_models_own(tmp_path, model):
    """2010-2011 closes relabelled 2024-2025: no day of the model's window; runs, says so."""
    spx, vix = _cut(tmp_path, "2010-01-01", "2011-12-31", shift_to="2024-01-01")
    cal = calibrate(spx, vix, n_paths=300, replay_paths=300, model=model)
    assert cal.window.start == pd.Timestamp("2024-01-01")
    assert cal.window.model_overlap_days == 0
    assert "out of sample" in cal.window.describe()
    doc = cal.to_dict()
    _check_keys(doc)
    assert doc["coverage"]["replays_total"] == 4
    json.dumps(doc, allow_nan=False)  # NaN cells (empty buckets) are null


def test_window_is_the_intersection_of_files_and_request():
    close, vix = load_index_history(SHIPPED_INDEX), load_vix_history(SHIPPED_VIX)
    assert vix.index[-1] > pd.Timestamp("2026-01-01")  # the VIX runs past the S&P 500 file
    w = evaluation_window(close, vix, "2023-01-01", "2026-06-30")
    assert (w.start, w.end) == (pd.Timestamp("2023-01-03"), pd.Timestamp("2023-12-28"))
    assert w.requested_end == pd.Timestamp("2026-06-30")
    assert w.joint_days == w.index_days == int(np.sum(close.loc["2023"].index >= "2023-01-03"))
    w = evaluation_window(close, vix)
    assert (w.start, w.end) == (pd.Timestamp("1990-01-02"), pd.Timestamp("2023-12-28"))
    with pytest.raises(DataError, match="need at least 84"):
        evaluation_window(close, vix, "2023-09-01", None)


# ----------------------------------------------------------------------------------------------
# Bad input: exit code 2, one line naming the problem


def _fails(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_missing_file(tmp_path, capsys):
    err = _fails(["calibrate", "--index-history", str(tmp_path / "nope.csv")], capsys)
    assert "nope.csv" in err and "cannot read S&P 500 history" in err


def test_wrong_columns(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Price\n2020-01-02,3200\n2020-01-03,3210\n")
    err = _fails(["calibrate", "--index-history", str(bad)], capsys)
    assert "bad.csv" in err and "lacks column(s) Close" in err
    err = _fails(["calibrate", "--vix-history", str(bad)], capsys)
    assert "VIX history lacks column(s) CLOSE, DATE" in err


def test_from_after_to(capsys):
    err = _fails(["calibrate", "--from", "2012-01-01", "--to", "2011-01-01"], capsys)
    assert "--from 2012-01-01 is after --to 2011-01-01" in err


def test_bad_date(capsys):
    err = _fails(["calibrate", "--from", "yesterday-ish"], capsys)
    assert "--from must be a date" in err


def test_window_too_short_or_without_vix(tmp_path, capsys):
    err = _fails(["calibrate", "--from", "2023-10-01"], capsys)
    assert "window 2023-10-02..2023-12-28 has" in err and "need at least 84" in err
    err = _fails(["calibrate", "--from", "2024-01-01"], capsys)  # S&P 500 file ends 2023-12-28
    assert "no common dates" in err and "S&P 500 file 1927-12-30..2023-12-28" in err
    short = tmp_path / "vix_short.csv"
    short.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n1985-01-02,1,1,1,20\n1985-01-03,1,1,1,21\n")
    err = _fails(["calibrate", "--vix-history", str(short)], capsys)
    assert "window 1985-01-02..1985-01-03 has 2 S&P 500 closes with a VIX close" in err
    late = tmp_path / "vix_late.csv"  # VIX only after the S&P 500 file ends: no overlap
    late.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n2025-01-02,1,1,1,20\n2025-01-03,1,1,1,21\n")
    err = _fails(["calibrate", "--vix-history", str(late)], capsys)
    assert "no common dates" in err and "VIX file 2025-01-02..2025-01-03" in err


def test_bad_simulation_size(capsys):
    err = _fails(["calibrate", "--paths", "0"], capsys)
    assert "--paths must be 1 to 10,000,000, got 0" in err
