"""A solver library that cannot be imported is a solver error (issue 20): the other backend is
tried and recorded, and when none can be loaded the verdict is UNKNOWN — no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import clear_cache, solve_scenario

MINIMAL = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "minimal.yaml"


def _block(monkeypatch, library: str, module: str) -> None:
    import optimizer.solve.backends as backends

    monkeypatch.setitem(sys.modules, library, None)  # `import library` raises ImportError
    monkeypatch.delitem(sys.modules, f"optimizer.solve.backends.{module}", raising=False)
    monkeypatch.delattr(backends, module, raising=False)  # `from … import module` re-imports


def test_missing_pulp_falls_back_to_highs(monkeypatch):
    sc = load_scenario(MINIMAL)
    clear_cache()
    ref = solve_scenario(sc, backend="highs", min_nlv_search=False, diagnostics_level="light")
    _block(monkeypatch, "pulp", "pulp_backend")
    res = solve_scenario(sc, backend="pulp", min_nlv_search=False, diagnostics_level="light")
    steps = [(f.step.value, f.reason) for f in res.verdict.fallbacks]
    assert any(s == "other_backend" and "pulp backend cannot be loaded" in r for s, r in steps)
    assert res.verdict.status == ref.verdict.status
    assert res.portfolio["expected_monthly_income"] == pytest.approx(
        ref.portfolio["expected_monthly_income"], rel=1e-9
    )


def test_no_backend_loadable_is_an_unknown_verdict(monkeypatch):
    sc = load_scenario(MINIMAL)
    _block(monkeypatch, "pulp", "pulp_backend")
    _block(monkeypatch, "highspy", "highs_backend")
    res = solve_scenario(sc, backend="pulp", min_nlv_search=False, diagnostics_level="light")
    assert res.verdict.status.value == "UNKNOWN"
    assert "cannot be loaded" in res.verdict.message


def test_solve_reports_its_stages_in_order():
    """The CLI's status line (issue 20: ``solve`` showed nothing while it ran)."""
    stages: list[str] = []
    solve_scenario(load_scenario(MINIMAL), min_nlv_search=False, progress=stages.append)
    assert stages == [
        "market, candidates and income model",
        "risk scenarios",
        "choosing the book",
        "max income and binding caps",
        "out-of-sample risk",
        "diagnosis (relaxations, minimum NLV)",
    ]
