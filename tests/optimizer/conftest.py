"""Shared expensive solves (session-scoped: each runs once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.pipeline import prepare, solve_scenario
from optimizer.spec import load_scenario

TK = Path(__file__).resolve().parents[2] / "scenarios" / "tom_king"


@pytest.fixture(scope="session")
def phase4_run():
    """The shipped phase-4 scenario: ``(scenario, prepare(scenario), solve_scenario(...))``.

    The solve runs in full (minimum-NLV search included, as ``thetaplan solve`` does); the
    income model is seeded, so ``prepare`` gives the same candidates and simulation the solve
    used.
    """
    sc = load_scenario(TK / "phase4.yaml")
    return sc, prepare(sc), solve_scenario(sc)
