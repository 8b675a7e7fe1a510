"""Study sweeps: tidy rows, checkpoints and resume after SIGKILL, Dask, failing points, pre-flight.

The small fixture study (``sweep_small.yaml``: 2 VIX levels × 3 account sizes on
``minimal_risk.yaml``, 6 points, ~2 s) runs once in process (:func:`baseline`); the other runs are
compared with it, all columns but ``seconds`` exactly.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from models.errors import SpecError
from optimizer.pipeline import clear_cache, solve_scenario
from optimizer.studies import checkpoints as ck
from optimizer.studies import sweep as sw
from optimizer.studies.study import expand, load_study, point_key

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scenarios"
SMALL = FIX / "sweep_small.yaml"
DATA = ROOT / "scenarios" / "data"
SWEPT = ["market.vix", "account.net_liq"]


def _text_as_objects(df: pd.DataFrame) -> pd.DataFrame:
    """``status`` and ``error`` as objects with None where missing (as run_sweep returns them;
    a Parquet file read back gives pandas' string dtype)."""
    df = df.drop(columns="seconds")
    for col in ("status", "error"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal in every column but the timing, exactly (seeded models: no tolerance)."""
    pd.testing.assert_frame_equal(_text_as_objects(a), _text_as_objects(b), check_exact=True)


def _run_cli(*args: str, log: Path | None = None, delay: float = 0.0) -> subprocess.Popen:
    """``thetaplan sweep ARGS`` as a real process (the stand-alone entry point).

    With ``log``, each solved point's index is appended to it (before its checkpoint is
    written) and the process sleeps ``delay`` seconds between solving a point and writing it.
    """
    code = (
        "import sys, time\n"
        "import optimizer.studies.sweep as sw\n"
        f"LOG, DELAY = {str(log) if log else None!r}, {delay!r}\n"
        "solve = sw.solve_point\n"
        "def logged(point, options, swept):\n"
        "    row = solve(point, options, swept)\n"
        "    if LOG:\n"
        "        with open(LOG, 'a') as f:\n"
        "            f.write(f'{point.index}\\n')\n"
        "    time.sleep(DELAY)\n"
        "    return row\n"
        "sw.solve_point = logged\n"
        "from optimizer.cli.commands.sweep import main\n"
        "main(sys.argv[1:])\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _logged(log: Path) -> list[int]:
    return [int(s) for s in log.read_text().split()] if log.exists() else []


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """An uninterrupted in-process run of the small study: ``(DataFrame, Parquet path)``."""
    out = tmp_path_factory.mktemp("sweep") / "base.parquet"
    df = sw.run_sweep(load_study(SMALL), out=out, progress=False)
    return df, out


def test_rows_are_tidy_and_sorted(baseline):
    df, out = baseline
    assert list(df.columns) == ["index", "name", *SWEPT, *sw.RESULT_COLUMNS]
    assert df["index"].tolist() == list(range(6))
    assert df[SWEPT].values.tolist() == [[v, n] for v in (15, 20) for n in (50000, 75000, 100000)]
    assert df["name"][0] == "market.vix=15, account.net_liq=50000"
    assert df["error"].isna().all() and all(e is None for e in df["error"])
    assert set(df["status"]) <= {"FEASIBLE", "INFEASIBLE", "UNKNOWN"}
    assert df["cvar"].gt(0).all() and df["seconds"].gt(0).all()  # the fixture has a risk section
    assert df["success_probability"].between(0, 1).all()
    # net = gross - costs for the book returned
    assert (df["income_gross"] - df["costs_per_month"]).sub(df["chosen_income"]).abs().max() < 1e-6
    _same(pd.read_parquet(out), df)  # what the file holds is what is returned
    assert not sw.parts_dir(out).exists()  # checkpoints removed once combined


@pytest.mark.parametrize("index", [1, 5])
def test_row_equals_a_separate_solve_of_its_point(baseline, index):
    df, _ = baseline
    study = load_study(SMALL)
    point = expand(study)[index]
    clear_cache()  # a fresh build: the sweep's cached market gives the same numbers
    result = solve_scenario(
        point.scenario,
        min_nlv_search=study.solve.min_nlv,
        diagnostics_level=study.solve.diagnostics,
    )
    expected = sw.result_row(result)
    row = df.iloc[index]
    assert row["name"] == point.name and row["market.vix"] == point.values["market.vix"]
    for col, value in expected.items():
        got = row[col]
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got), col
        else:
            assert got == value, col


def test_sigkill_then_resume_equals_an_uninterrupted_run(baseline, tmp_path):
    base, _ = baseline
    out = tmp_path / "killed.parquet"
    parts = sw.parts_dir(out)
    log1, log2 = tmp_path / "first.log", tmp_path / "resume.log"
    proc = _run_cli(str(SMALL), "--out", str(out), "--no-progress", log=log1, delay=0.4)
    deadline = time.monotonic() + 120
    while len(list(parts.glob("0*.parquet"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    kept = sorted(int(p.name[:5]) for p in parts.glob("0*.parquet"))
    assert 2 <= len(kept) < 6 and not out.exists()
    assert set(kept) <= set(_logged(log1))  # a checkpoint is a solved point
    assert not list(parts.glob("*.tmp"))  # atomic parts: no partial file left

    proc = _run_cli(str(SMALL), "--out", str(out), "--resume", "--no-progress", log=log2)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    # only the points without a checkpoint were solved again (those in flight included)
    assert sorted(_logged(log2)) == sorted(set(range(6)) - set(kept))
    final = pd.read_parquet(out)
    assert final["index"].tolist() == list(range(6))  # nothing lost, nothing twice
    _same(final, pd.read_parquet(baseline[1]))
    _same(final, base)
    assert not parts.exists()
    assert "6 points" in stdout and f"wrote: {out}" in stdout


def test_dask_two_workers_equal_the_sequential_run(baseline, tmp_path):
    env = dict(os.environ)
    df = sw.run_sweep(load_study(SMALL), out=tmp_path / "dask.parquet", workers=2, progress=False)
    _same(df, baseline[0])
    # the local cluster's nannies export OMP_NUM_THREADS=1 … into this process: undone
    assert dict(os.environ) == env


def test_a_failing_point_records_its_error_and_the_others_complete(tmp_path):
    vix_file = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
    study_file = tmp_path / "failing.yaml"
    study_file.write_text(
        f"name: failing\n"
        f"base: {FIX / 'minimal_risk.yaml'}\n"
        "overrides: {target.success_probability: null, income.paths: 12, "
        "risk.out_of_sample.n: 1000}\n"
        "grid:\n"
        "  axes:\n"
        f"    market.history.vix: [{vix_file}, {tmp_path / 'missing_vix.csv.gz'}]\n"
        "    account.net_liq: [50000, 75000]\n"
    )
    df = sw.run_sweep(load_study(study_file), out=tmp_path / "f.parquet", progress=False)
    assert df["index"].tolist() == [0, 1, 2, 3]
    ok, bad = df.iloc[:2], df.iloc[2:]
    assert ok["status"].isin(["FEASIBLE", "INFEASIBLE"]).all() and ok["error"].isna().all()
    assert ok["max_income"].notna().all()
    assert bad["status"].isna().all() and bad["max_income"].isna().all()
    for message in bad["error"]:
        assert message.startswith("SpecError: market.history.vix: file not found")
        assert "\n" not in message


def test_existing_output_is_a_one_line_error_before_any_solve(baseline, tmp_path):
    out = tmp_path / "exists.parquet"
    out.write_bytes(baseline[1].read_bytes())
    before = out.read_bytes()
    proc = _run_cli(str(SMALL), "--out", str(out), log=tmp_path / "solved.log")
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --out: {out} exists")
    assert not (tmp_path / "solved.log").exists()  # nothing solved
    assert out.read_bytes() == before and not sw.parts_dir(out).exists()


def test_preflight_errors_solve_nothing(baseline, tmp_path, monkeypatch):
    def never(*_a, **_k):
        raise AssertionError("a point was solved")

    monkeypatch.setattr(sw, "solve_point", never)
    study = load_study(SMALL)
    out = tmp_path / "r.parquet"
    with pytest.raises(SpecError, match="give one of them"):
        sw.run_sweep(study, out=out, workers=2, scheduler="tcp://127.0.0.1:1", progress=False)
    with pytest.raises(SpecError, match="--workers: expected 1 to 256"):
        sw.run_sweep(study, out=out, workers=0, progress=False)

    # checkpoints of the small study: the manifest and one part, as a killed run leaves them
    parts = sw.parts_dir(out)
    points = expand(study)
    store = ck._Checkpoints(out, study, points)
    store.open()
    store.write(points[0], baseline[0].iloc[0].to_dict())
    store.close()
    with pytest.raises(SpecError, match=r"r\.parquet\.parts exists .*--resume"):
        sw.run_sweep(study, out=out, progress=False)
    # another study into the same folder
    other = study.model_copy(update={"name": "another"})
    with pytest.raises(SpecError, match="checkpoints of another study"):
        sw.run_sweep(other, out=out, resume=True, progress=False)
    # the same study, edited (--set changes every point's scenario)
    edited = load_study(SMALL, ["income.paths=13"])
    with pytest.raises(SpecError, match="another version of study"):
        sw.run_sweep(edited, out=out, resume=True, progress=False)
    with pytest.raises(SpecError, match="market.vix: the path is swept"):
        load_study(SMALL, ["market.vix=20"])
    assert sorted(p.name for p in parts.iterdir() if not p.name.startswith(".")) == [
        "00000-" + ck._digest(point_key(points[0])) + ".parquet",
        "manifest.json",
    ]


def test_resume_skips_checkpointed_points(baseline, tmp_path, monkeypatch):
    """A resume solves only the points without a part (and those whose part is an error)."""
    study = load_study(SMALL)
    points = expand(study)
    out = tmp_path / "r.parquet"
    store = ck._Checkpoints(out, study, points)
    store.open()
    base = baseline[0]
    for i in (0, 2, 3):
        store.write(points[i], base.iloc[i].to_dict())
    store.write(points[4], {**base.iloc[4].to_dict(), "error": "RuntimeError: transient"})
    store.close()
    solved: list[int] = []
    solve = sw.solve_point

    def counting(point, options, swept):
        solved.append(point.index)
        return solve(point, options, swept)

    monkeypatch.setattr(sw, "solve_point", counting)
    df = sw.run_sweep(study, out=out, resume=True, progress=False)
    assert sorted(solved) == [1, 4, 5]
    _same(df, base)


def test_plot_writes_a_heatmap_png(baseline, tmp_path):
    pytest.importorskip("optimizer.plots")
    from optimizer.cli.commands.sweep import main

    out, png = tmp_path / "p.parquet", tmp_path / "heat.png"
    with pytest.raises(SystemExit) as exc:
        main([str(SMALL), "--out", str(out), "--plot", str(png), "--no-progress"])
    assert exc.value.code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    _same(pd.read_parquet(out), baseline[0])


def test_heatmap_axes_carry_units(baseline, tmp_path, monkeypatch):
    """The sweep's heatmap labels its axes with units (it showed bare field paths)."""
    import optimizer.plots as P
    from optimizer.cli.commands.sweep import _save_heatmap

    seen = []
    original = P.achievement_heatmap

    def keep(*args, **kwargs):
        seen.append(original(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(P, "achievement_heatmap", keep)
    _save_heatmap(baseline[0], *SWEPT, tmp_path / "h.png", "small", "GBP")
    ax = seen[0].axes[0]
    assert ax.get_xlabel() == "market.vix (VIX points)"
    assert ax.get_ylabel() == "account.net_liq (GBP)"


def test_plot_path_is_checked_before_solving(tmp_path, capsys):
    from optimizer.cli.commands.sweep import main

    out = tmp_path / "p.parquet"
    with pytest.raises(SystemExit) as exc:
        main([str(SMALL), "--out", str(out), "--plot", str(tmp_path / "heat.nope")])
    assert exc.value.code == 2
    assert "--plot: unknown image format .nope" in capsys.readouterr().err
    assert not out.exists() and not sw.parts_dir(out).exists()


def test_resume_refuses_a_changed_data_file(tmp_path):
    """The manifest hashes the contents of every chain and history file a point reads: a chain
    edited between a kill and the resume would otherwise mix two markets (issue 20)."""
    import shutil

    data = ROOT / "scenarios" / "data"
    chain = tmp_path / "chain.csv.gz"
    shutil.copy(data / "spx_yahoo_chain_2026-01-30.csv.gz", chain)
    base = tmp_path / "base.yaml"
    base.write_text(
        (FIX / "minimal_risk.yaml")
        .read_text()
        .replace("../../../scenarios/data/spx_yahoo_chain_2026-01-30.csv.gz", str(chain))
        .replace("../../../scenarios/data/", f"{data}/")
    )
    study_file = tmp_path / "st.yaml"
    study_file.write_text(SMALL.read_text().replace("base: minimal_risk.yaml", f"base: {base}"))
    study = load_study(study_file)
    points = expand(study)
    out = tmp_path / "o.parquet"
    store = ck._Checkpoints(out, study, points)
    store.preflight(False)
    store.open()
    store.close()
    ck._Checkpoints(out, study, points).preflight(True)  # unchanged: resumable
    with open(chain, "ab") as f:  # same path, other contents
        f.write(b"\0")
    with pytest.raises(SpecError, match="their data files"):
        ck._Checkpoints(out, study, points).preflight(True)


def test_an_unreachable_scheduler_is_one_line_and_leaves_no_folder(tmp_path):
    """It failed after 30 s with a traceback and left a .parts folder that blocked a rerun."""
    out = tmp_path / "s.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "sweep",
            str(SMALL),
            "--scheduler",
            "tcp://127.0.0.1:1",
            "--out",
            str(out),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --scheduler: cannot connect to")
    assert not out.exists() and not sw.parts_dir(out).exists()
