"""A few matrix cases end to end in a real ``python -m optimizer.cli`` process: exit 2, one
``error:`` line on stderr, nothing on stdout, no traceback (the in-process runner's captures
are not the real streams)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.materialize import write_files
from tests.fuzz.matrix import all_cases
from tests.fuzz.runner import TRACEBACK

ROOT = Path(__file__).resolve().parents[2]
IDS = (
    "scenario.account.net_liq=hugeint",
    "ledger_tp.file.fifo",
    "history.vix.sparse_60mb",
    "chain_cboe.file.long_field_200k",
    "flag.calibrate.paths.huge",
)


@pytest.mark.parametrize("cid", IDS)
def test_a_malformed_input_is_one_error_line_in_a_real_process(cid, tmp_path):
    case = next(c for c in all_cases() if c.id == cid)
    write_files(case, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "optimizer.cli", *case.argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert TRACEBACK.search(run.stderr) is None
