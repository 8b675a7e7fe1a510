"""Every ``--json`` document is strict JSON (issue 20): no ``Infinity``/``NaN`` tokens, which
``json.dumps`` writes by default and other parsers reject; non-finite numbers become null."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _strict(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_audit_of_a_huge_capital_is_strict_json():
    # a capital of 1e308 overflows the annual figures to inf: they were written as Infinity
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "audit",
            str(ROOT / "scenarios/quantai/capital_scenarios.yaml"),
            "--json",
            "--set",
            "capital_levels=[1e308]",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    doc = _strict(proc.stdout)
    assert isinstance(doc, dict) and "null" in proc.stdout
