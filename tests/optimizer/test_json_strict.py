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


from tests.golden.cases import AUDIT_FAST  # noqa: E402  (the small audit settings)


def _audit(capital: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "audit",
            str(ROOT / "scenarios/quantai/capital_scenarios.yaml"),
            "--json",
            "--set",
            f"capital_levels=[{capital}]",
            *[a for kv in AUDIT_FAST for a in ("--set", kv)],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_audit_of_a_huge_capital_is_refused_and_the_largest_is_strict_json():
    # a capital of 1e308 overflowed the annual figures to inf, written as Infinity; capitals are
    # now bounded (|x| <= 1e12, the fuzz matrix's finding) and the bound's JSON is strict
    proc = _audit("1e308")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "capital_levels.0" in proc.stderr
    proc = _audit("1e12")
    assert proc.returncode == 0, proc.stderr
    doc = _strict(proc.stdout)
    assert isinstance(doc, dict)
