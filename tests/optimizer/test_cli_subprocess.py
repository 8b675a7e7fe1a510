"""The CLI as a real process: what reaches file descriptors 1 and 2.

``CliRunner`` and ``capsys`` only see Python's ``sys.stdout``; HiGHS prints its banner from C on
file descriptor 1, so only a subprocess shows whether ``--json`` output is one JSON document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scenarios"
CHAINS = ROOT / "tests" / "fixtures" / "chains"
BANNER = "Running HiGHS"


def _thetaplan(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "thetaplan"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from optimizer.cli.app import main; main()"]
    )
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
    )


@pytest.mark.parametrize(
    ("name", "status"), [("minimal.yaml", "INFEASIBLE"), ("minimal_risk.yaml", "FEASIBLE")]
)
def test_solve_json_stdout_is_exactly_one_json_document(name, status):
    proc = _thetaplan("solve", str(FIX / name), "--json", "--no-min-nlv")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the whole of stdout, nothing before or after
    assert doc["verdict"]["status"] == status
    assert BANNER not in proc.stdout
    assert proc.stdout.lstrip().startswith("{") and proc.stdout.rstrip().endswith("}")


def test_solve_json_seed_calculator_scenario():
    proc = _thetaplan(
        "solve", str(ROOT / "scenarios" / "tom_king" / "seed_calculator.yaml"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["scenario"] and BANNER not in proc.stdout


def test_solve_json_lists_written_files_on_stderr_only(tmp_path):
    out = tmp_path / "cands.csv"
    proc = _thetaplan(
        "solve", str(FIX / "minimal.yaml"), "--json", "--no-min-nlv", "--candidates-out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)
    assert f"wrote: {out}" in proc.stderr and out.is_file()


def test_solve_tables_not_interleaved_with_solver_banners():
    proc = _thetaplan("solve", str(FIX / "minimal.yaml"), "--no-min-nlv", columns=80)
    assert proc.returncode == 0, proc.stderr
    assert BANNER not in proc.stdout
    lines = proc.stdout.splitlines()
    assert "minimal test scenario" in lines[0]  # the title rule comes first
    assert max(len(line) for line in lines) <= 80


def test_error_is_one_line_on_stderr_and_nothing_on_stdout(tmp_path):
    proc = _thetaplan(
        "solve", str(FIX / "minimal.yaml"), "--json", "--set", "valuation_time=2026-02-30"
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "valuation_time" in lines[0] and "Traceback" not in proc.stderr


def test_chain_tables_fit_80_columns_without_truncated_expiries():
    proc = _thetaplan("chain", str(CHAINS / "cboe_small.csv"), columns=80)
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    assert "…" not in proc.stdout
    assert "2025-03-21" in proc.stdout


def test_version_and_short_help():
    proc = _thetaplan("--version")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("thetaplan ")
    for cmd in ([], ["solve"], ["chain"], ["margin"]):
        proc = _thetaplan(*cmd, "-h")
        assert proc.returncode == 0 and "Usage" in proc.stdout, (cmd, proc.stderr)
