"""The vega cap family (``caps: vega:``): |Σ vega_k n_k| ≤ f × NLV per vol point.

The optimum is checked against a brute-force enumeration written from the rule itself (every
book of a small candidate set, kept when its BP and |vega| are within the caps); the cap moves
with NLV; the diagnostics lift it and report its relaxation in fraction of NLV; bad settings
get one-line errors naming the field.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.errors import SpecError
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare, solve_scenario
from optimizer.solve.solving import SolveContext, max_income
from optimizer.solve.status import SolverOptions
from optimizer.verdict import diagnostics

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
CTX = SolveContext("highs", SolverOptions(mip_rel_gap=1e-9))
NLV = 100_000.0
# income, BP and vega (per vol point) per contract; a short-vega book earns the most
INCOME = np.array([100.0, 70.0, 10.0])
BP = np.array([1_000.0, 1_000.0, 1_000.0])
VEGA = np.array([-40.0, -25.0, 10.0])


def _set() -> CandidateSet:
    rows = [
        {
            "id": f"k{i}",
            "strategy": "s",
            "underlying": "SPX",
            "expected_monthly_income_per_contract": INCOME[i],
            "theta_per_day_per_contract": 1.0,
            "bp_per_contract": BP[i],
            "cash_delta_per_contract": 0.0,
            "notional_per_contract": 0.0,
            "max_loss_per_contract": 0.0,
            "vega_per_contract": VEGA[i],
            "correlation_group": None,
            "expiry": pd.Timestamp("2026-05-29"),
        }
        for i in range(3)
    ]
    return CandidateSet(pd.DataFrame(rows), {}, pd.DataFrame(), "GBP")


def _limits(extra: dict) -> Limits:
    return Limits(
        nlv=NLV,
        phase=4,
        weights={"s": 1.0},
        weight_note="",
        allocation_tolerance=None,
        allocation_basis="income",
        bp_fraction=0.06,  # at most 6 contracts in all
        bp_source="",
        strategy_bp_caps={},
        max_positions={"s": None},
        group_limits={},
        group_excluded=frozenset(),
        group_risk_cap=None,
        leverage=None,
        extra=extra,
    )


def _brute_force(cap: float, short_only: bool) -> float:
    """Max income over every book with BP ≤ 6% of NLV and the vega rule, by enumeration."""
    best = 0.0
    for n in itertools.product(range(7), repeat=3):
        n = np.array(n)
        vega = float(VEGA @ n)
        if BP @ n > 0.06 * NLV or vega < -cap or (not short_only and vega > cap):
            continue
        best = max(best, float(INCOME @ n))
    return best


@pytest.mark.parametrize("fraction", [0.0005, 0.001, 0.0015, 0.003])
@pytest.mark.parametrize("short_only", [False, True])
def test_max_income_equals_brute_force(fraction, short_only):
    settings = {"max_fraction": fraction, "short_only": short_only}
    res = max_income(_set(), _limits({"vega": settings}), CTX)
    assert res.value == pytest.approx(_brute_force(fraction * NLV, short_only), abs=1e-6)
    n = np.rint(res.outcome.values["n"])
    assert VEGA @ n >= -fraction * NLV - 1e-9  # ex post, from the returned book
    if not short_only:
        assert VEGA @ n <= fraction * NLV + 1e-9


def test_without_the_section_the_cap_is_absent():
    assert max_income(_set(), _limits({}), CTX).value == pytest.approx(600.0)  # 6 × k0


def test_cap_scales_with_nlv():
    lim = _limits({"vega": {"max_fraction": 0.001}})
    small = max_income(_set(), lim, CTX).value
    double = max_income(_set().at_nlv(2 * NLV), dataclasses.replace(lim, nlv=2 * NLV), CTX).value
    assert small == pytest.approx(_brute_force(100.0, False))
    assert double > small


def _cheapest_relaxation(target: float, cap: float) -> tuple[float, np.ndarray]:
    """The elastic programme's optimum by enumeration, from its documented weights.

    Each raised cap costs its increase over max(|bound|, 1% of NLV) for money rows (BP 6,000,
    vega ±100 → 1,000): minimize that sum over books reaching ``target``.
    """
    best = (np.inf, None)
    for n in itertools.product(range(11), repeat=3):
        n = np.array(n)
        if INCOME @ n < target:
            continue
        vega = float(VEGA @ n)
        cost = max(0.0, BP @ n - 0.06 * NLV) / (0.06 * NLV)
        cost += (max(0.0, -vega - cap) + max(0.0, vega - cap)) / max(cap, 0.01 * NLV)
        best = min(best, (cost, n), key=lambda b: b[0])
    return best


def test_diagnostics_lift_and_relax_it():
    lim = dataclasses.replace(_limits({"vega": {"max_fraction": 0.001}}), target=500.0)
    relax = {r.cap: r for r in diagnostics.relaxations(_set(), lim, CTX)}
    assert relax["vega cap (fraction of NLV)"].max_income == pytest.approx(600.0)
    steps, _ = diagnostics.minimal_relaxation(_set(), lim, CTX, 500.0)
    cost, book = _cheapest_relaxation(500.0, 100.0)
    assert BP @ book <= 0.06 * NLV  # the cheapest way keeps the BP cap: only vega is raised
    assert [s.cap for s in steps] == ["vega_nlv"]
    vega = steps[0]
    # the short side binds: its bound, -0.1% of NLV, is lowered to the book's vega
    assert vega.unit == "fraction of NLV" and vega.bound == pytest.approx(-0.001)
    assert vega.needed == pytest.approx(float(VEGA @ book) / NLV, rel=1e-9)


def test_scenario_section_reaches_the_book_and_the_report():
    sc = load_scenario(FIX / "minimal.yaml", ["caps.vega.max_fraction=0.0001"])
    result = solve_scenario(sc, min_nlv_search=False)
    assert result.limits["vega"] == {"max_fraction": 0.0001, "short_only": False}
    cs = prepare(sc).candidates
    vega = float(cs.col("vega_per_contract") @ result.candidates["contracts"].to_numpy())
    assert abs(vega) <= 0.0001 * sc.account.net_liq + 1e-6


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "caps.vega.max_fractoin=0.01",
            "caps.vega.max_fraction: Field required; "
            "caps.vega.max_fractoin: Extra inputs are not permitted",
        ),
        ("caps.vega.max_fraction=-1", "caps.vega.max_fraction: Input should be greater than 0"),
        ("caps.vgea.max_fraction=0.01", "caps.vgea: unknown cap family; known: vega"),
    ],
)
def test_bad_settings_name_the_field(override, message):
    sc = load_scenario(FIX / "minimal.yaml", [override])
    with pytest.raises(SpecError) as e:
        prepare(sc)
    assert str(e.value) == message
