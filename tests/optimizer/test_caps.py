"""Caps as the phase tables mean them (domain.md §5–6), each against a hand-worked book.

Every test builds a small candidate set whose answer is worked out by hand in the test (which
book is allowed, which is not) and checks the formulation against it: a book that breaks the
rule is infeasible for the built problem, the book at the limit is feasible.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import phases
from optimizer.formulation.build import build_problem
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits, resolve_limits
from optimizer.inputs.spec import ObjectiveKind, load_scenario
from optimizer.solve.solving import SolveContext, max_income
from optimizer.solve.status import SolverOptions, SolveStatus

ROOT = Path(__file__).resolve().parents[2]
TK = ROOT / "scenarios" / "tom_king"
CTX = SolveContext("highs", SolverOptions(mip_rel_gap=1e-9))


def _set(rows: list[dict]) -> CandidateSet:
    base = {
        "expected_monthly_income_per_contract": 100.0,
        "theta_per_day_per_contract": 5.0,
        "bp_per_contract": 100.0,
        "cash_delta_per_contract": 0.0,
        "notional_per_contract": 0.0,
        "max_loss_per_contract": 0.0,
        "vega_per_contract": 0.0,
        "correlation_group": None,
        "expiry": pd.Timestamp("2026-05-29"),
    }
    t = pd.DataFrame([{**base, "id": f"k{i}", **r} for i, r in enumerate(rows)])
    return CandidateSet(t, {}, pd.DataFrame(), "GBP")


def _limits(**kw) -> Limits:
    base = dict(
        nlv=100_000.0,
        phase=4,
        weights={"s": 1.0},
        weight_note="",
        allocation_tolerance=None,
        allocation_basis="income",
        bp_fraction=1.0,
        bp_source="",
        strategy_bp_caps={},
        max_positions={"s": None},
        group_limits={},
        group_excluded=frozenset(),
        group_risk_cap=None,
        leverage=None,
        one_per_expiry=False,
    )
    base.update(kw)
    return Limits(**base)


def _feasible(cs, lim, counts, y=None) -> bool:
    p = build_problem(cs, lim, ObjectiveKind.MAX_INCOME)
    values = {"n": np.asarray(counts, dtype=float)}
    if any(g.name == "y" for g in p.variables):
        values["y"] = (np.asarray(counts) > 0).astype(float) if y is None else y
    return p.is_feasible(values)


# ------------------------------------------------------------------ per-group limits


def test_group_limits_come_from_the_group_table_capped_by_the_phase():
    lim = resolve_limits(load_scenario(TK / "phase4.yaml"))
    # domain.md §6: A1 2, A2 3, B1 2, C1 2, C2 1, D2 1, E 2; phase 4 allows 3 per group
    assert lim.group_limits["A1"] == 2
    assert lim.group_limits["A2"] == 3
    assert lim.group_limits["C1"] == 2
    assert lim.group_limits["C2"] == 1
    assert lim.group_limits["D2"] == 1
    lim1 = resolve_limits(load_scenario(TK / "phase1.yaml"))
    assert lim1.group_limits["A2"] == 2  # phase limit 2 below £75k caps A2's own 3


def test_three_units_in_a_limit_two_group_are_infeasible():
    cs = _set([{"strategy": "s", "underlying": "CL", "correlation_group": "C1"}] * 1)
    lim = _limits(group_limits={"C1": 2})
    assert _feasible(cs, lim, [2])
    assert not _feasible(cs, lim, [3])
    out = max_income(cs, lim, CTX)
    assert out.value == pytest.approx(200.0)  # 2 units × 100


# ------------------------------------------------------------------ size-aware counting


def test_mes_counts_a_tenth_of_es():
    cs = _set(
        [
            {"strategy": "s", "underlying": "ES", "correlation_group": "A1"},
            {"strategy": "s", "underlying": "MES", "correlation_group": "A1"},
        ]
    )
    lim = _limits(max_positions={"s": 1}, group_limits={"A1": 2})
    assert phases.position_units("MES") == pytest.approx(0.1)
    assert _feasible(cs, lim, [1, 0])
    assert not _feasible(cs, lim, [2, 0])
    assert _feasible(cs, lim, [0, 10])  # ten MES = one ES
    assert not _feasible(cs, lim, [0, 11])
    assert not _feasible(cs, lim, [1, 1])
    contracts = dataclasses.replace(lim, position_basis="contracts")
    assert not _feasible(cs, contracts, [0, 2])  # size-blind: one MES is one position


def test_phase_tables_stated_in_mes_units_are_converted():
    sc = load_scenario(TK / "phase2.yaml")
    lim = resolve_limits(sc)
    assert lim.max_positions["lt112"] == 4
    # the v17 phase-2 LT112 limit counts MES units: 4 MES = 0.4 ES-equivalents
    assert lim.count_reference["lt112"] == pytest.approx(0.1)
    cs = _set(
        [
            {"strategy": "lt112", "underlying": "MES"},
            {"strategy": "lt112", "underlying": "ES"},
        ]
    )
    small = _limits(
        weights={"lt112": 1.0},
        max_positions={"lt112": 4},
        count_reference={"lt112": 0.1},
    )
    assert _feasible(cs, small, [4, 0])
    assert not _feasible(cs, small, [5, 0])
    assert not _feasible(cs, small, [0, 1])  # one ES LT112 is ten MES units


# ------------------------------------------------------------------ reserve, totals, VIX


def test_emergency_reserve_of_the_vix_table_is_applied():
    sc = load_scenario(TK / "phase4.yaml")  # VIX 17.44: 13-18 row, mid 65%
    lim = resolve_limits(sc)
    assert phases.emergency_reserve() == pytest.approx(0.20)
    assert lim.bp_fraction == pytest.approx(0.65 * 0.80)
    raw = resolve_limits(load_scenario(TK / "phase4.yaml", ["buying_power.reserve=0"]))
    assert raw.bp_fraction == pytest.approx(0.65)


def test_total_position_cap_by_phase():
    assert [phases.max_total_positions(p) for p in (1, 2, 3, 4)] == [3, 5, 7, 10]
    cs = _set(
        [
            {"strategy": "s", "underlying": "ES"},
            {"strategy": "t", "underlying": "CL"},
        ]
    )
    lim = _limits(
        weights={"s": 0.5, "t": 0.5}, max_positions={"s": 3, "t": 3}, max_total_positions=4
    )
    assert _feasible(cs, lim, [3, 1])
    assert _feasible(cs, lim, [2, 2])
    assert not _feasible(cs, lim, [3, 2])
    assert max_income(cs, lim, CTX).value == pytest.approx(400.0)


def test_vix_above_30_blocks_structures_that_sell_calls():
    sc = load_scenario(TK / "phase4.yaml", ["market.vix=35"])
    lim = resolve_limits(sc)
    assert lim.max_positions["strangle"] == 0
    assert lim.max_positions["zero_dte"] == 0  # iron condors sell calls
    assert lim.max_positions["lt112"] == 3  # put selling stays
    assert lim.bp_fraction == pytest.approx(0.80 * 0.80)  # crisis row 80%, 20% reserve
    assert any("protocol" in n for n in lim.notes)


# ------------------------------------------------------------------ expiry and loss rules


def test_one_position_per_strategy_group_and_expiry():
    cs = _set(
        [
            {"strategy": "s", "underlying": "ES", "correlation_group": "A1"},
            {"strategy": "s", "underlying": "MES", "correlation_group": "A1"},
            {
                "strategy": "s",
                "underlying": "ES",
                "correlation_group": "A1",
                "expiry": pd.Timestamp("2026-06-30"),
            },
        ]
    )
    lim = _limits(one_per_expiry=True)
    assert _feasible(cs, lim, [3, 0, 2])  # two expiries: one structure each
    assert not _feasible(cs, lim, [1, 1, 0])  # two structures on 2026-05-29
    out = max_income(cs, lim, CTX)
    n = np.rint(out.outcome.values["n"])
    assert (n[:2] > 0).sum() <= 1


def test_max_loss_per_position():
    cs = _set([{"strategy": "s", "underlying": "XSP", "max_loss_per_contract": 700.0}])
    lim = _limits(max_loss_per_position=0.02, max_loss_strategies=frozenset({"s"}))
    # 2% of 100,000 = 2,000 ≥ 2 × 700 but < 3 × 700
    assert _feasible(cs, lim, [2])
    assert not _feasible(cs, lim, [3])


def test_group_risk_readings():
    cs = _set(
        [
            {
                "strategy": "s",
                "underlying": "ES",
                "correlation_group": "A1",
                "cash_delta_per_contract": -4000.0,
                "bp_per_contract": 6000.0,
                "max_loss_per_contract": 9000.0,
            }
        ]
    )
    # cap 15% of 100,000 = 15,000: delta allows 3 (12,000), BP 2 (12,000), max loss 1 (9,000)
    for risk, allowed in (("cash_delta", 3), ("bp", 2), ("max_loss", 1)):
        lim = _limits(group_risk=risk, group_risk_cap=0.15)
        assert _feasible(cs, lim, [allowed]), risk
        assert not _feasible(cs, lim, [allowed + 1]), risk


# ------------------------------------------------------------------ allocation as a goal


def test_soft_allocation_never_forces_an_empty_book():
    # strategy "b" has no candidate: the hard 50/50 ± 5 band forces total income to zero
    cs = _set([{"strategy": "a", "underlying": "ES"}])
    hard = _limits(
        weights={"a": 0.5, "b": 0.5},
        allocation_tolerance=0.05,
        max_positions={"a": 4, "b": 4},
    )
    assert max_income(cs, hard, CTX).value == pytest.approx(0.0)
    soft = dataclasses.replace(hard, allocation_mode="soft", allocation_penalty=0.5)
    # each unit earns 100 and deviates by 100·(1 − 0.55) from the upper band and 100·0.45 from
    # the lower band of b: penalty 0.5 × 90 = 45 < 100, so holding all 4 units is optimal
    out = max_income(cs, soft, CTX)
    assert out.value == pytest.approx(400.0)
    assert out.outcome.objective_value == pytest.approx(400.0 - 0.5 * 4 * 90.0)


def test_soft_allocation_penalty_above_income_keeps_the_band():
    cs = _set([{"strategy": "a", "underlying": "ES"}])
    soft = _limits(
        weights={"a": 0.5, "b": 0.5},
        allocation_tolerance=0.05,
        max_positions={"a": 4, "b": 4},
        allocation_mode="soft",
        allocation_penalty=2.0,  # 2 × 90 = 180 > 100 per unit: deviation does not pay
    )
    assert max_income(cs, soft, CTX).value == pytest.approx(0.0)


# ------------------------------------------------------------------ unbounded relaxation


def test_lifting_the_last_cap_reports_unbounded_not_a_number():
    from optimizer.verdict.diagnostics import relaxations

    cs = _set([{"strategy": "s", "underlying": "ES"}])
    lim = _limits(target=1000.0)  # only the BP cap bounds the book
    assert max_income(cs, lim, CTX).value == pytest.approx(100_000.0)  # 1,000 units × 100
    got = {r.cap: r for r in relaxations(cs, lim, CTX)}
    bp = got["buying power (total and per strategy)"]
    assert bp.status == "unbounded"
    assert bp.max_income is None


def test_seed_calculator_bp_relaxation_is_unbounded():
    res_limits = resolve_limits(load_scenario(TK / "seed_calculator.yaml"))
    assert res_limits.bp_fraction == pytest.approx(0.35)
    from optimizer.pipeline import prepare
    from optimizer.verdict.diagnostics import relaxations

    cs, limits, _, _ = prepare(load_scenario(TK / "seed_calculator.yaml"))
    got = {r.cap: r for r in relaxations(cs, limits, CTX)}
    assert got["buying power (total and per strategy)"].status == "unbounded"


# ------------------------------------------------------------------ conflicting caps


def test_conflicting_caps_are_named():
    from optimizer.verdict.diagnostics import conflicts

    # a theta floor no book can meet once max positions forbid every unit
    cs = _set([{"strategy": "s", "underlying": "ES"}])
    lim = _limits(max_positions={"s": 0}, greeks={"theta": (50.0, 1e9)}, leverage=100.0)
    out = max_income(cs, lim, CTX)
    assert out.outcome.status is SolveStatus.INFEASIBLE
    assert set(conflicts(cs, lim, CTX)) == {"greeks", "max_positions"}


def test_consistent_caps_have_no_conflict():
    from optimizer.verdict.diagnostics import conflicts

    cs = _set([{"strategy": "s", "underlying": "ES"}])
    assert conflicts(cs, _limits(max_positions={"s": 2}), CTX) == ()


# ------------------------------------------------------------------ minimum account, % of NLV


def test_min_nlv_with_bp_stated_as_a_fraction_of_nlv():
    from optimizer.pipeline import prepare, solve_scenario

    sets = [
        "strategies.zero_dte.margin={model: fixed, pct_of_nlv: 0.05}",
        "strategies.strangle.margin={model: fixed, pct_of_nlv: 0.05}",
        "buying_power.max_fraction=0.5",
        "allocation.enabled=false",
        "positions.count=contracts",
        "positions.max_total=null",
        "positions.correlation_groups.enabled=false",
        "target.monthly_income=5000",
        "strategies.zero_dte.max_positions=100",
        "strategies.strangle.max_positions=100",
    ]
    sc = load_scenario(ROOT / "tests/fixtures/scenarios/minimal.yaml", sets)
    cs, limits, _, _ = prepare(sc)
    # 5% of NLV per unit and a 50% cap: ten units whatever the account
    assert cs.at_nlv(1e6).col("bp_per_contract") == pytest.approx(np.full(len(cs), 50_000.0))
    a = max_income(cs, limits, CTX)
    b = max_income(cs.at_nlv(10 * limits.nlv), limits.at_nlv(10 * limits.nlv), CTX)
    assert a.value == pytest.approx(b.value)
    assert np.rint(a.outcome.values["n"]).sum() == 10
    res = solve_scenario(sc)
    v = res.verdict
    if a.value < 5000:
        assert v.min_nlv.value is None and v.min_nlv.note.startswith("not reachable")
    else:
        assert v.min_nlv.value == pytest.approx(limits.nlv / 64)


# ------------------------------------------------------------------ joint minimal relaxation


@pytest.fixture(scope="module")
def minimal_relaxed():
    from optimizer.pipeline import prepare
    from optimizer.verdict.diagnostics import minimal_relaxation

    sc = load_scenario(ROOT / "tests/fixtures/scenarios/minimal.yaml")
    cs, limits, _, _ = prepare(sc)
    steps, note = minimal_relaxation(cs, limits, CTX, sc.target.monthly_income)
    return sc, cs, limits, steps, note


def _max_income_with(steps, cs, limits):
    from optimizer.solve.solving import solve_sizing
    from optimizer.verdict.diagnostics import apply_relaxation

    extra, allowance = apply_relaxation(steps, cs, limits)
    free = dataclasses.replace(limits, bound_counts=False)
    out, _ = solve_sizing(
        cs, free, ObjectiveKind.MAX_INCOME, CTX, extra=extra, cvar_allowance=allowance
    )
    assert out.status is SolveStatus.OPTIMAL
    return float(cs.col("expected_monthly_income_per_contract") @ np.rint(out.values["n"]))


def test_minimal_relaxation_is_a_certificate(minimal_relaxed):
    sc, cs, limits, steps, note = minimal_relaxed
    target = sc.target.monthly_income
    assert max_income(cs, limits, CTX).value < target  # the caps as stated miss the target
    assert steps, note
    # re-solving with the reported relaxation reaches the target
    assert _max_income_with(steps, cs, limits) >= target * (1 - 1e-9)
    # scaling any one increase down by 10% (the others kept) does not
    for i, s in enumerate(steps):
        smaller = dataclasses.replace(s, needed=s.bound + 0.9 * (s.needed - s.bound))
        trial = steps[:i] + (smaller,) + steps[i + 1 :]
        assert _max_income_with(trial, cs, limits) < target, s.cap


def test_minimal_relaxation_reports_caps_in_their_units(minimal_relaxed):
    _, _, limits, steps, _ = minimal_relaxed
    for s in steps:
        assert s.needed > s.bound if not s.cap.startswith("alloc_lower") else s.needed < s.bound
        if s.cap == "bp_total":
            assert s.unit == "fraction of NLV"
            assert s.bound == pytest.approx(limits.bp_fraction)
        if s.cap.startswith(("group_units", "max_positions")):
            assert s.unit == "units"


# ------------------------------------------------------------------ market VIX vs the chain


def test_vix_comes_from_history_at_the_chain_date_and_a_different_one_is_an_error():
    from models.errors import SpecError
    from optimizer.inputs.market import market_vix

    sc = load_scenario(TK / "phase4.yaml", ["market.vix=null"])
    assert market_vix(sc) == pytest.approx(17.44)  # Cboe VIX close 2026-01-30
    with pytest.raises(SpecError, match="market.vix: 25 differs from the VIX close 17.44"):
        market_vix(load_scenario(TK / "phase4.yaml", ["market.vix=25"]))
    assert market_vix(load_scenario(TK / "phase4.yaml")) == pytest.approx(17.44)
    # stated economics without a chain: the stated VIX is the input
    assert market_vix(load_scenario(TK / "seed_calculator.yaml")) > 0
