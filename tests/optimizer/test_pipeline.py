"""End-to-end sizing: phase scenarios, backend agreement, reported == recomputed, brute force.

Independent references:
* every reported per-contract and portfolio figure is recomputed from ``models`` (pricing, margin,
  income) on the chosen legs;
* small sizing problems are solved by enumerating every integer book and checking each cap from
  its definition (not through ``SizingProblem``), then compared with both backends;
* the seed calculator's optimum is enumerated with the seed's own formulas;
* the minimum account size is checked by re-solving just above and just below it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.instruments import get_instrument
from models.legs import Right
from models.margin import reg_t
from models.phases import position_units
from models.pricing import bsm_greeks
from optimizer.backends import solve
from optimizer.candidates import CandidateSet
from optimizer.formulation import build_problem
from optimizer.limits import Limits
from optimizer.pipeline import prepare, solve_scenario
from optimizer.solving import SolveContext, max_income
from optimizer.spec import ObjectiveKind, load_scenario
from optimizer.status import SolverOptions, SolveStatus
from optimizer.verdict import VerdictStatus

ROOT = Path(__file__).resolve().parents[2]
TK = ROOT / "scenarios" / "tom_king"


@pytest.fixture(scope="module")
def phase4(phase4_run):
    sc, _, res = phase4_run
    return sc, res


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_phase_solves_and_backends_agree(n):
    sc = load_scenario(TK / f"phase{n}.yaml")
    cs, limits, _, _ = prepare(sc)
    problem = build_problem(cs, limits, sc.objective, target=sc.target.monthly_income)
    opts = SolverOptions(time_limit=60, mip_rel_gap=1e-6)
    a = solve(problem, "cvxpy", opts)
    b = solve(problem, "pulp", opts)
    assert a.status is SolveStatus.OPTIMAL and b.status is SolveStatus.OPTIMAL
    assert a.objective_value == pytest.approx(b.objective_value, rel=1e-5, abs=1e-6)
    assert problem.is_feasible(a.values) and problem.is_feasible(b.values)
    assert a.objective_value >= 0  # holding nothing is always feasible


def test_phase1_renormalizes_lt112_away():
    sc = load_scenario(TK / "phase1.yaml")
    _, limits, _, notes = prepare(sc)
    assert limits.max_positions["lt112"] == 0
    assert limits.weights["lt112"] == 0
    assert limits.weights["zero_dte"] == pytest.approx(0.40 / 0.65)
    assert limits.weights["strangle"] == pytest.approx(0.25 / 0.65)
    assert any("lt112 not allowed" in note for note in notes)


def test_reported_figures_equal_recomputation_from_models(phase4, phase4_run):
    sc, res = phase4
    pos = res.positions
    assert len(pos) > 0
    prep = phase4_run[1]
    structures = prep.candidates.structures
    sim = prep.income.result
    ids = list(prep.income.ids)
    fx_usd = sc.account.fx["USD"]
    for _, row in pos.iterrows():
        cand = res.candidates.set_index("id").loc[row["id"]]
        inst = get_instrument(row["underlying"])
        c = structures[row["id"]]
        r = -math.log(c.discount_factor) / c.t
        q = r - math.log(c.forward / c.spot) / c.t
        opts = [(leg, iv) for leg, iv in zip(c.legs, c.ivs, strict=True) if leg.is_option]
        g = bsm_greeks(
            c.spot,
            np.array([leg.strike for leg, _ in opts]),
            c.t,
            r,
            q,
            np.array([iv for _, iv in opts]),
            np.array([leg.right is Right.CALL for leg, _ in opts]),
        )
        qty = np.array([leg.quantity for leg, _ in opts])
        credit = -float(qty @ g.price) * inst.multiplier * fx_usd
        assert row["credit_per_contract"] == pytest.approx(credit, rel=1e-9)
        if c.t >= 1 / 365:
            theta = float(qty @ g.theta) * inst.multiplier * fx_usd
        else:  # 0DTE: the remaining decay at unchanged spot
            intrinsic = np.where(
                [leg.right is Right.CALL for leg, _ in opts],
                np.maximum(c.spot - np.array([leg.strike for leg, _ in opts]), 0),
                np.maximum(np.array([leg.strike for leg, _ in opts]) - c.spot, 0),
            )
            theta = float(qty @ (intrinsic - g.price)) * inst.multiplier * fx_usd
        # the raw Greek, and the normalized theta per calendar day of the book over a month
        assert row["theta_greek_per_contract"] == pytest.approx(theta, rel=1e-9)
        k = ids.index(row["id"])
        if c.t >= 1 / 365:
            share = sim.occupancy[k]
        else:  # 0DTE: its Greek is the decay per trade, earned trades-per-month times
            share = sim.trades_per_month[k] / (365.25 / 12)
        assert row["theta_per_day_per_contract"] == pytest.approx(theta * share, rel=1e-9)
        # margin: Reg-T recomputed, or the fixed per-unit figure of the scenario
        u = sc.strategies[row["strategy"]].underlyings[row["underlying"]]
        m = u.margin or sc.strategies[row["strategy"]].margin
        if m.model == "reg_t":
            bp = reg_t(c.legs, c.spot, inst.multiplier, inst.margin_class).amount * fx_usd
        else:
            ccy = m.currency or inst.currency
            bp = m.per_unit[row["underlying"]] * (1.0 if ccy == "GBP" else sc.account.fx[ccy])
        assert row["bp_per_contract"] == pytest.approx(bp, rel=1e-9)
        # income: the income model's net expectation; gross - costs = net
        assert row["expected_monthly_income_per_contract"] == pytest.approx(
            sim.expected_monthly[k], rel=1e-12
        )
        assert row["expected_monthly_income_gross_per_contract"] - row[
            "costs_per_month_per_contract"
        ] == pytest.approx(row["expected_monthly_income_per_contract"], abs=1e-9)
        assert row["costs_per_month_per_contract"] >= 0
        assert int(cand["contracts"]) == int(row["contracts"])
    # portfolio totals are sums over positions
    p = res.portfolio
    n = pos["contracts"].to_numpy()
    assert p["theta_per_day"] == pytest.approx(float(n @ pos["theta_per_day_per_contract"]))
    assert p["bp_used"] == pytest.approx(float(n @ pos["bp_per_contract"]))
    assert p["expected_monthly_income"] == pytest.approx(
        float(n @ pos["expected_monthly_income_per_contract"])
    )
    assert p["bp_used"] <= res.limits["bp_fraction"] * p["net_liq"] + 1e-6
    # allocation table recomputed
    alloc = res.allocation.set_index("strategy")
    total = p["expected_monthly_income"]
    for s, w in res.limits["weights"].items():
        actual = float(pos.loc[pos["strategy"] == s, "expected_monthly_income"].sum())
        assert alloc.loc[s, "actual"] == pytest.approx(actual)
        if total > 0 and res.limits["allocation_tolerance"] is not None:
            tol = res.limits["allocation_tolerance"]
            assert w - tol - 1e-9 <= actual / total <= w + tol + 1e-9
    # max positions and group limits honoured, counted in full-size units (MES = 0.1 ES)
    units = pos["underlying"].map(position_units).to_numpy() * pos["contracts"].to_numpy()
    ref = {"lt112": 0.1} if res.limits["phase"] == 2 else {}
    for s, m in res.limits["max_positions"].items():
        if m is not None:
            held = units[(pos["strategy"] == s).to_numpy()].sum()
            assert held <= m * ref.get(s, 1.0) + 1e-9
    counted = ~pos["strategy"].isin(res.limits["group_excluded"]).to_numpy()
    group = pos["id"].map(res.candidates.set_index("id")["correlation_group"]).to_numpy()
    for g, lim in res.limits["group_limit"].items():
        held = units[(group == g) & counted].sum()
        assert held <= lim + 1e-9


def test_verdict_is_consistent_with_max_income(phase4):
    sc, res = phase4
    v = res.verdict
    assert v.status in (VerdictStatus.FEASIBLE, VerdictStatus.INFEASIBLE)
    assert v.max_income >= res.portfolio["expected_monthly_income"] - 1e-6 * max(1, v.max_income)
    assert v.achievement == pytest.approx(v.max_income / sc.target.monthly_income)
    if v.status is VerdictStatus.INFEASIBLE:
        assert v.max_income < sc.target.monthly_income
    for b in v.binding:
        assert b.slack >= -1e-6


def test_minimum_nlv_brackets_the_target():
    sc = load_scenario(
        TK / "phase4.yaml",
        [
            "positions.count=structures",
            "target.success_probability=null",
            "risk.cvar=[]",
            "risk.stress.cap=null",
        ],
    )
    res = solve_scenario(sc)
    v = res.verdict
    assert v.min_nlv is not None, v.min_nlv_note
    cs, limits, _, _ = prepare(sc)
    ctx = SolveContext("cvxpy", SolverOptions(time_limit=60, mip_rel_gap=1e-6))
    at = max_income(cs.at_nlv(v.min_nlv), limits.at_nlv(v.min_nlv), ctx)
    below = max_income(cs.at_nlv(v.min_nlv * 0.99), limits.at_nlv(v.min_nlv * 0.99), ctx)
    target = sc.target.monthly_income
    assert at.value >= target * (1 - 1e-4)
    assert below.value < target


# ----------------------------------------------------------------------------- brute force


#: full-size-equivalent size per underlying, written out from the contract specifications
#: (ES 1, MES 0.1, XSP 0.1): the brute force does not read models/data/position_units.csv.
_UNITS = {"ES": 1.0, "MES": 0.1, "XSP": 0.1}


def _tiny_set(rng) -> CandidateSet:
    k = 5
    strategies = ["a", "a", "b", "b", "c"]
    t = pd.DataFrame(
        {
            "id": [f"k{i}" for i in range(k)],
            "strategy": strategies,
            "underlying": ["ES", "MES", "ES", "XSP", "MES"],
            "correlation_group": ["G", "G", "H", None, "G"],
            "expiry": pd.to_datetime(
                ["2026-05-29", "2026-05-29", "2026-05-29", "2026-06-30", "2026-05-29"]
            ),
            "expected_monthly_income_per_contract": rng.uniform(20, 400, k).round(2),
            "theta_per_day_per_contract": rng.uniform(1, 30, k).round(3),
            "bp_per_contract": rng.uniform(300, 4000, k).round(0),
            "cash_delta_per_contract": rng.uniform(-3000, 3000, k).round(0),
            "notional_per_contract": rng.uniform(1000, 20000, k).round(0),
            "max_loss_per_contract": rng.uniform(500, 5000, k).round(0),
            "vega_per_contract": rng.uniform(-50, 0, k),
        }
    )
    return CandidateSet(t, {}, pd.DataFrame(), "GBP")


def _limits(rng, basis="contracts", **extra) -> Limits:
    return Limits(
        nlv=10000.0,
        phase=4,
        weights={"a": 0.5, "b": 0.3, "c": 0.2},
        weight_note="",
        allocation_tolerance=float(rng.choice([0.1, 0.2, 0.35])),
        allocation_basis="income",
        bp_fraction=float(rng.uniform(0.5, 1.2)),
        bp_source="",
        strategy_bp_caps={"a": 0.6},
        max_positions={"a": 3, "b": 2, "c": 2},
        group_limits={"G": 3, "H": 2},
        group_excluded=frozenset({"c"}),
        group_risk_cap=0.5,
        leverage=4.0,
        position_basis=basis,
        max_contracts_per_position=3,  # the enumeration covers 0..3 per candidate
        **extra,
    )


def _feasible_by_definition(n, cs: CandidateSet, lim: Limits) -> bool:
    t = cs.table
    inc = t["expected_monthly_income_per_contract"].to_numpy() * n
    total = inc.sum()
    if lim.allocation_tolerance is not None:
        for s, w in lim.weights.items():
            share_num = inc[(t["strategy"] == s).to_numpy()].sum()
            if share_num > (w + lim.allocation_tolerance) * total + 1e-9:
                return False
            if share_num < (w - lim.allocation_tolerance) * total - 1e-9:
                return False
    bp = t["bp_per_contract"].to_numpy() * n
    if bp.sum() > lim.bp_fraction * lim.nlv + 1e-9:
        return False
    if bp[(t["strategy"] == "a").to_numpy()].sum() > 0.6 * lim.nlv + 1e-9:
        return False
    if (t["notional_per_contract"].to_numpy() * n).sum() > lim.leverage * lim.nlv + 1e-9:
        return False
    if lim.max_contracts_per_position is not None and n.max() > lim.max_contracts_per_position:
        return False
    held = n > 0
    size = t["underlying"].map(_UNITS).to_numpy() if lim.position_basis == "units" else 1.0

    def used(sel):
        if lim.position_basis == "structures":
            return held[sel].sum()
        return (size * n)[sel].sum()

    for s, m in lim.max_positions.items():
        sel = (t["strategy"] == s).to_numpy()
        ref = 1.0 if lim.position_basis == "structures" else lim.count_reference.get(s, 1.0)
        if m is not None and used(sel) > m * ref + 1e-9:
            return False
    if lim.max_total_positions is not None:
        if used(np.ones(len(n), bool)) > lim.max_total_positions + 1e-9:
            return False
    counted = ~t["strategy"].isin(lim.group_excluded).to_numpy()
    for g in ("G", "H"):
        sel = (t["correlation_group"] == g).to_numpy() & counted
        if g in lim.group_limits and used(sel) > lim.group_limits[g] + 1e-9:
            return False
        if lim.group_risk_cap is not None:
            risk = (t["cash_delta_per_contract"].to_numpy() * n)[sel].sum()
            if abs(risk) > lim.group_risk_cap * lim.nlv + 1e-9:
                return False
    if lim.one_per_expiry:
        key = t["strategy"] + "|" + t["correlation_group"].fillna(t["underlying"]) + "|"
        key = key + t["expiry"].dt.strftime("%Y-%m-%d")
        for k in set(key):
            if held[(key == k).to_numpy()].sum() > 1:
                return False
    if lim.max_loss_per_position is not None:
        ml = t["max_loss_per_contract"].to_numpy() * n
        sel = t["strategy"].isin(lim.max_loss_strategies).to_numpy()
        if np.any(ml[sel] > lim.max_loss_per_position * lim.nlv + 1e-9):
            return False
    return True


_RULES = {
    "plain": {},
    "units_total_expiry": {
        "max_total_positions": 4,
        "one_per_expiry": True,
        "count_reference": {"b": 0.1},
    },
    "max_loss": {"max_loss_per_position": 0.4, "max_loss_strategies": frozenset({"a", "b"})},
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("basis", ["units", "contracts", "structures"])
@pytest.mark.parametrize("rules", sorted(_RULES))
def test_brute_force_agrees_with_both_backends(seed, basis, rules):
    rng = np.random.default_rng(seed)
    cs = _tiny_set(rng)
    lim = _limits(rng, basis, **_RULES[rules])
    for kind, col in (
        (ObjectiveKind.MAX_INCOME, "expected_monthly_income_per_contract"),
        (ObjectiveKind.MAX_THETA, "theta_per_day_per_contract"),
    ):
        c = cs.col(col)
        best = -math.inf
        for combo in itertools.product(range(4), repeat=len(cs)):
            n = np.array(combo)
            if _feasible_by_definition(n, cs, lim):
                best = max(best, float(c @ n))
        problem = build_problem(cs, lim, kind)
        for backend in ("cvxpy", "pulp"):
            out = solve(problem, backend, SolverOptions(mip_rel_gap=1e-9))
            assert out.status is SolveStatus.OPTIMAL
            assert out.objective_value == pytest.approx(best, abs=1e-6), (backend, kind)
            assert _feasible_by_definition(np.rint(out.values["n"]).astype(int), cs, lim)


def test_min_bp_objective_meets_target_by_enumeration():
    rng = np.random.default_rng(3)
    cs = _tiny_set(rng)
    lim = _limits(rng)
    mu, bp = cs.col("expected_monthly_income_per_contract"), cs.col("bp_per_contract")
    target = 0.5 * max(
        float(mu @ np.array(x))
        for x in itertools.product(range(4), repeat=len(cs))
        if _feasible_by_definition(np.array(x), cs, lim)
    )
    best = min(
        float(bp @ np.array(x))
        for x in itertools.product(range(4), repeat=len(cs))
        if _feasible_by_definition(np.array(x), cs, lim) and mu @ np.array(x) >= target
    )
    out = solve(build_problem(cs, lim, ObjectiveKind.MIN_BP, target=target), "cvxpy")
    assert out.objective_value == pytest.approx(best, abs=1e-6)


def test_seed_calculator_optimum_by_enumeration():
    sc = load_scenario(TK / "seed_calculator.yaml")
    res = solve_scenario(sc, min_nlv_search=False)
    nlv = 75000.0
    ev = {
        "zero_dte": (50 * 0.88 - 1.5 * 50 * 0.12) * 4.33,
        "lt112": (150 * 0.73 - 1.3 * 150 * 0.27) * 4,
        "strangle": (400 * 0.72 - 1.6 * 400 * 0.28) * 2,
    }
    bp = {"zero_dte": 2000, "lt112": 3500, "strangle": 2500}
    cap = {"zero_dte": 0.20 * 0.85, "lt112": 0.30 * 0.85, "strangle": 0.25 * 0.85}
    w = {"zero_dte": 0.40, "lt112": 0.35, "strangle": 0.25}
    best, arg = -1.0, None
    for n in itertools.product(range(15), repeat=3):
        d = dict(zip(ev, n, strict=True))
        if sum(bp[s] * d[s] for s in d) > 0.35 * nlv:
            continue
        if any(bp[s] * d[s] > cap[s] * nlv for s in d):
            continue
        total = sum(ev[s] * d[s] for s in d)
        if total > 0 and any(abs(ev[s] * d[s] / total - w[s]) > 0.05 + 1e-12 for s in d):
            continue
        if total > best:
            best, arg = total, d
    assert res.verdict.max_income == pytest.approx(best, rel=1e-6)
    got = res.positions.set_index("strategy")["contracts"].to_dict()
    assert sum(ev[s] * got.get(s, 0) for s in ev) == pytest.approx(best, rel=1e-6)
    assert res.verdict.status is VerdictStatus.INFEASIBLE  # £10k is out of reach at 35% BP
    assert arg is not None


@pytest.mark.parametrize("seed", range(3))
def test_relaxations_match_brute_force_without_each_cap(seed):
    from optimizer.diagnostics import relaxations
    from optimizer.solving import SolveContext

    rng = np.random.default_rng(seed)
    cs = _tiny_set(rng)
    lim = _limits(rng)
    mu = cs.col("expected_monthly_income_per_contract")
    got = {
        r.cap: r.max_income
        for r in relaxations(cs, lim, SolveContext("cvxpy", SolverOptions(mip_rel_gap=1e-9)))
    }

    def brute(**change):
        best = 0.0
        relaxed = dataclasses.replace(lim, **change)
        for combo in itertools.product(range(4), repeat=len(cs)):
            n = np.array(combo)
            if _feasible_by_definition(n, cs, relaxed):
                best = max(best, float(mu @ n))
        return best

    assert got["allocation (40/35/25 ± tol)"] == pytest.approx(
        brute(allocation_tolerance=None), rel=1e-4, abs=1e-6
    )
    assert got["correlation-group risk caps"] == pytest.approx(
        brute(group_risk_cap=None), rel=1e-4, abs=1e-6
    )
    assert got["correlation-group unit limits"] == pytest.approx(
        brute(group_limits={}), rel=1e-4, abs=1e-6
    )
