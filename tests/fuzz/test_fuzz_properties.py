"""Property tests: random byte-level mutations of a valid file of each kind never escape as a
traceback. The loader (YAML kinds: the validation path, no solve) raises only a
``ThetaplanError``; the cheap commands (margin, chain, ledger import) exit 0 or 2, and on 2 print
``error:`` lines. Example budgets are small (``HYPOTHESIS_PROFILE=ci`` makes them deterministic).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.errors import ThetaplanError
from tests.fuzz.cases import (
    AUDIT,
    CHAIN_CBOE,
    CHAIN_TIDY,
    CHAIN_YF,
    LEDGER_IB,
    LEDGER_TP,
    POSITION,
    SCENARIO,
    SCENARIO_RISK,
    STUDY,
)
from tests.fuzz.runner import TRACEBACK, clean_error, clean_success, run_main

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw, valid: str) -> bytes:
    """``valid`` with 1-4 random edits: delete a span, insert bytes, or overwrite one byte."""
    data = bytearray(valid.encode())
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "insert", "replace"]))
        if op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif data:
            data[min(i, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


def _loader(kind: str):
    if kind == "scenario":
        from optimizer.inputs.spec import load_scenario

        return load_scenario
    if kind == "study":
        from optimizer.studies.study import load_study

        return load_study
    from optimizer.audit.schema import load_audit

    return load_audit


@pytest.mark.parametrize(
    "kind, valid", [("scenario", SCENARIO), ("study", STUDY), ("audit", AUDIT)]
)
def test_a_mutated_yaml_file_loads_or_raises_a_thetaplan_error(kind, valid):
    load = _loader(kind)

    @SETTINGS
    @given(data=mutated(valid))
    def check(data):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "minimal_risk.yaml").write_text(SCENARIO_RISK)
            path = Path(tmp) / "f.yaml"
            path.write_bytes(data)
            try:
                load(path)
            except ThetaplanError as exc:
                assert str(exc).strip()

    check()


@pytest.mark.parametrize(
    "kind, valid, argv",
    [
        ("position", POSITION, ("margin", "f")),
        ("chain_tidy", CHAIN_TIDY, ("chain", "f")),
        ("chain_yfinance", CHAIN_YF, ("chain", "f", "--valuation-time", "2025-03-07T16:00")),
        ("chain_cboe", CHAIN_CBOE, ("chain", "f")),
        ("ledger_tp", LEDGER_TP, ("ledger", "import", "l.db", "f")),
        ("ledger_ibkr", LEDGER_IB, ("ledger", "import", "l.db", "f", "--format", "ibkr")),
    ],
)
def test_a_mutated_file_exits_0_or_2_without_a_traceback(kind, valid, argv, capfd, monkeypatch):
    from optimizer.tracking.ledger import init_ledger

    @SETTINGS
    @given(data=mutated(valid))
    def check(data):
        with tempfile.TemporaryDirectory() as tmp:
            monkeypatch.chdir(tmp)
            Path(tmp, "f").write_bytes(data)
            init_ledger(Path(tmp, "l.db")).close()
            o = run_main(list(argv), capfd)
            assert clean_success(o) or clean_error(o), o.describe()
            assert TRACEBACK.search(o.out + o.err) is None

    check()
