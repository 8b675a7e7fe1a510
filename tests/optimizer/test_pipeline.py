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
from models.margin.reg_t import reg_t
from models.market.pricing import bsm_greeks
from models.phases import position_units
from optimizer.formulation.build import build_problem
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.spec import ObjectiveKind, load_scenario
from optimizer.pipeline import prepare, solve_scenario
from optimizer.solve.backends import solve
from optimizer.solve.solving import SolveContext, max_income
from optimizer.solve.status import SolverOptions, SolveStatus
from optimizer.verdict.verdict import VerdictStatus
from tests.optimizer.conftest import PHASE4_BOOK

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
            *PHASE4_BOOK,
            "positions.count=structures",
            "target.success_probability=null",
            "risk.cvar=[]",
            "risk.stress.cap=null",
        ],
    )
    res = solve_scenario(sc)
    v = res.verdict
    mn = v.min_nlv.value
    assert mn is not None, v.min_nlv.note
    cs, limits, _, _ = prepare(sc)
    ctx = SolveContext("cvxpy", SolverOptions(time_limit=60, mip_rel_gap=1e-6))
    # the documented rule (positions.scale_with_nlv): phase-4 count caps × NLV / GBP 75,000
    f = mn / 75_000.0
    scaled = dataclasses.replace(
        limits,
        max_positions={s: None if m is None else m * f for s, m in limits.max_positions.items()},
        max_total_positions=limits.max_total_positions * f,
        group_limits={g: x * f for g, x in limits.group_limits.items()},
    )
    at = max_income(cs.at_nlv(mn), scaled.at_nlv(mn), ctx)
    below_limits = dataclasses.replace(
        scaled,
        max_positions={s: None if m is None else m * 0.99 for s, m in scaled.max_positions.items()},
        max_total_positions=scaled.max_total_positions * 0.99,
        group_limits={g: x * 0.99 for g, x in scaled.group_limits.items()},
    )
    below = max_income(cs.at_nlv(mn * 0.99), below_limits.at_nlv(mn * 0.99), ctx)
    target = sc.target.monthly_income
    assert at.value >= target * (1 - 1e-4)
    assert below.value < target


# ----------------------------------------------------------------------------- brute force
#
# The reference below is written from the documented definitions (optimizer/inputs/spec.py
# PositionsSpec / CorrelationSpec, domain.md §5–6, models/data/README.md), not from the
# formulation: it imports nothing from optimizer.formulation.families or optimizer.formulation.build and counts
# positions straight from the candidate table (strategy, underlying, correlation_group, expiry,
# contracts). ``Limits`` is read only for the numbers the caps state.


def _documented_sizes() -> dict[str, float]:
    """Full-size-equivalent size per symbol, read straight from ``position_units.csv``.

    Symbols the file does not list are full-size and count 1 (models/data/README.md).
    """
    t = pd.read_csv(ROOT / "models" / "data" / "position_units.csv")
    return dict(zip(t["symbol"].astype(str), t["units"].astype(float), strict=True))


_SIZES = _documented_sizes()


def _position_counts(books: np.ndarray, table: pd.DataFrame, basis: str) -> np.ndarray:
    """What each contract counts toward a position limit, per book, shape (B, K).

    ``units``: a contract counts its full-size-equivalent size (MES 0.1, ES 1);
    ``contracts``: every contract counts 1 whatever its size;
    ``structures``: a candidate held (any number of contracts) counts 1.
    """
    if basis == "units":
        size = np.array([_SIZES.get(str(u), 1.0) for u in table["underlying"]])
        return books * size
    if basis == "contracts":
        return books.astype(float)
    if basis == "structures":
        return (books > 0).astype(float)
    raise AssertionError(f"unknown basis {basis!r}")


def _stated_limit(lim: Limits, strategy: str, m: float) -> float:
    """A strategy's max-positions number in the counting unit of the basis.

    The table's number is stated in a contract of size ``count_reference`` (phase-2 LT112: 4
    MES). ``units`` counts full-size equivalents, so the number is converted (4 MES = 0.4);
    ``contracts`` and ``structures`` take it as stated.
    """
    if lim.position_basis == "units":
        return m * lim.count_reference.get(strategy, 1.0)
    return float(m)


def _feasible_books(books, cs: CandidateSet, lim: Limits) -> np.ndarray:
    """Which integer books (B, K) meet every cap of ``lim``, each from its definition, shape (B,)."""
    n = np.atleast_2d(np.asarray(books)).astype(float)
    t = cs.table
    # caps the reference does not model must be absent (never silently ignored)
    assert not lim.greeks and not lim.cvar_caps and not lim.var_caps and lim.stress_cap is None
    assert not lim.monthly_cvar_caps and lim.drawdown_cap is None
    assert lim.allocation_mode == "hard"
    if "held_contracts" in t:
        assert not np.any(t["held_contracts"].to_numpy(dtype=float))
    eps = 1e-9
    nlv = lim.nlv
    strat = t["strategy"].astype(str).to_numpy()
    ok = n.min(axis=1) >= 0

    # allocation: each strategy's share of the basis within weight ± tolerance
    if lim.allocation_tolerance is not None:
        col = {
            "income": "expected_monthly_income_per_contract",
            "theta": "theta_per_day_per_contract",
        }[lim.allocation_basis]
        v = n * t[col].to_numpy(dtype=float)
        total = v.sum(axis=1)
        for s, w in lim.weights.items():
            share = v[:, strat == s].sum(axis=1)
            ok &= share <= (w + lim.allocation_tolerance) * total + eps
            ok &= share >= (w - lim.allocation_tolerance) * total - eps

    # buying power: total and per strategy
    bp = n * t["bp_per_contract"].to_numpy(dtype=float)
    ok &= bp.sum(axis=1) <= lim.bp_fraction * nlv + eps
    for s, c in lim.strategy_bp_caps.items():
        ok &= bp[:, strat == s].sum(axis=1) <= c * nlv + eps
    if lim.leverage is not None:
        notional = n @ t["notional_per_contract"].to_numpy(dtype=float)
        ok &= notional <= lim.leverage * nlv + eps
    if lim.max_contracts_per_position is not None:
        ok &= n.max(axis=1) <= lim.max_contracts_per_position

    # position limits, counted per the basis
    counts = _position_counts(n, t, lim.position_basis)
    for s, m in lim.max_positions.items():
        if m is not None:
            ok &= counts[:, strat == s].sum(axis=1) <= _stated_limit(lim, s, m) + eps
    if lim.max_total_positions is not None:
        ok &= counts.sum(axis=1) <= lim.max_total_positions + eps

    # correlation groups: the group's own candidates of the strategies that count
    group = t["correlation_group"].to_numpy(dtype=object)
    counted = ~np.isin(strat, list(lim.group_excluded))
    ml = t["max_loss_per_contract"].to_numpy(dtype=float)
    for g in sorted({x for x in group if isinstance(x, str) and x}):
        mine = (group == g) & counted
        if g in lim.group_limits:
            ok &= counts[:, mine].sum(axis=1) <= lim.group_limits[g] + eps
        if lim.group_risk_cap is None:
            continue
        cap = lim.group_risk_cap * nlv
        if lim.group_risk == "cash_delta":
            risk = np.abs(n[:, mine] @ t["cash_delta_per_contract"].to_numpy(dtype=float)[mine])
        elif lim.group_risk == "bp":
            risk = bp[:, mine].sum(axis=1)
        elif lim.group_risk == "max_loss":
            finite = mine & np.isfinite(ml)
            unbounded = mine & ~np.isfinite(ml)
            risk = n[:, finite] @ ml[finite]
            risk = np.where((n[:, unbounded] > 0).any(axis=1), np.inf, risk)
        else:
            raise AssertionError(lim.group_risk)
        ok &= risk <= cap + eps

    # never several positions of one strategy and group on the same expiry
    if lim.one_per_expiry:
        exp = pd.to_datetime(t["expiry"])
        key = (
            t["strategy"].astype(str)
            + "|"
            + t["correlation_group"].fillna(t["underlying"]).astype(str)
            + "|"
            + exp.dt.strftime("%Y-%m-%d")
        ).to_numpy()
        dated = exp.notna().to_numpy()
        for k in set(key[dated]):
            ok &= (n[:, (key == k) & dated] > 0).sum(axis=1) <= 1

    # each position's maximum loss ≤ cap × NLV; an unlimited loss never meets a finite cap
    if lim.max_loss_per_position is not None:
        applies = np.isin(strat, list(lim.max_loss_strategies))
        loss = np.where(n > 0, n * np.where(np.isfinite(ml), ml, 1.0), 0.0)
        loss = np.where((n > 0) & ~np.isfinite(ml), np.inf, loss)
        ok &= np.all(loss[:, applies] <= lim.max_loss_per_position * nlv + eps, axis=1)
    return ok


def _feasible_by_definition(n, cs: CandidateSet, lim: Limits) -> bool:
    """:func:`_feasible_books` for one book."""
    return bool(_feasible_books(np.asarray(n)[None, :], cs, lim)[0])


def _all_books(k: int, top: int = 3) -> np.ndarray:
    """Every book with 0..top contracts per candidate, shape ((top + 1)^k, k)."""
    return np.array(list(itertools.product(range(top + 1), repeat=k)), dtype=float)


def _tiny_set(rng, unlimited: bool = False) -> CandidateSet:
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
    if unlimited:  # naked structures (unlimited maximum loss): k1 in group G, k3 in no group
        t.loc[[1, 3], "max_loss_per_contract"] = np.inf
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


#: name → (extra Limits fields, whether k1 and k3 have unlimited maximum loss)
_RULES = {
    "plain": ({}, False),
    "units_total_expiry": (
        {"max_total_positions": 4, "one_per_expiry": True, "count_reference": {"b": 0.1}},
        False,
    ),
    "max_loss": (
        {"max_loss_per_position": 0.4, "max_loss_strategies": frozenset({"a", "b"})},
        False,
    ),
    "max_loss_unlimited": (
        {"max_loss_per_position": 0.4, "max_loss_strategies": frozenset({"a", "b", "c"})},
        True,
    ),
    "group_risk_bp": ({"group_risk": "bp"}, False),
    "group_risk_max_loss": ({"group_risk": "max_loss"}, True),
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("basis", ["units", "contracts", "structures"])
@pytest.mark.parametrize("rules", sorted(_RULES))
def test_brute_force_agrees_with_both_backends(seed, basis, rules):
    rng = np.random.default_rng(seed)
    extra, unlimited = _RULES[rules]
    cs = _tiny_set(rng, unlimited)
    lim = _limits(rng, basis, **extra)
    books = _all_books(len(cs))
    feasible = books[_feasible_books(books, cs, lim)]
    assert len(feasible) >= 1  # the empty book
    for kind, col in (
        (ObjectiveKind.MAX_INCOME, "expected_monthly_income_per_contract"),
        (ObjectiveKind.MAX_THETA, "theta_per_day_per_contract"),
    ):
        c = cs.col(col)
        best = float((feasible @ c).max())
        problem = build_problem(cs, lim, kind)
        for backend in ("cvxpy", "pulp"):
            out = solve(problem, backend, SolverOptions(mip_rel_gap=1e-9))
            assert out.status is SolveStatus.OPTIMAL
            assert out.objective_value == pytest.approx(best, abs=1e-6), (backend, kind)
            assert _feasible_by_definition(np.rint(out.values["n"]).astype(int), cs, lim)


def test_reference_counts_each_basis_as_documented():
    """The reference itself on hand-worked books (phase-2 LT112 limit: 4, stated in MES)."""
    t = pd.DataFrame({"underlying": ["ES", "MES", "XSP", "MCL", "ZZZ"], "strategy": ["s"] * 5})
    book = np.array([[2.0, 3.0, 0.0, 10.0, 1.0]])
    assert _position_counts(book, t, "units")[0] == pytest.approx([2.0, 0.3, 0.0, 1.0, 1.0])
    assert _position_counts(book, t, "contracts")[0] == pytest.approx(book[0])
    assert _position_counts(book, t, "structures")[0] == pytest.approx([1, 1, 0, 1, 1])

    rows = [("lt112", "MES", 1000.0), ("lt112", "ES", 10000.0), ("strangle", "MCL", np.inf)]
    cs = CandidateSet(
        pd.DataFrame(
            {
                "id": ["mes", "es", "mcl"],
                "strategy": [r[0] for r in rows],
                "underlying": [r[1] for r in rows],
                "correlation_group": ["A1", "A1", "C1"],
                "expiry": pd.to_datetime(["2026-05-29", "2026-06-30", "2026-04-30"]),
                "expected_monthly_income_per_contract": 1.0,
                "theta_per_day_per_contract": 1.0,
                "bp_per_contract": 1.0,
                "cash_delta_per_contract": 0.0,
                "notional_per_contract": 0.0,
                "max_loss_per_contract": [r[2] for r in rows],
                "vega_per_contract": 0.0,
            }
        ),
        {},
        pd.DataFrame(),
        "GBP",
    )
    lim = Limits(
        nlv=100_000.0,
        phase=2,
        weights={"lt112": 0.5, "strangle": 0.5},
        weight_note="",
        allocation_tolerance=None,
        allocation_basis="income",
        bp_fraction=1.0,
        bp_source="",
        strategy_bp_caps={},
        max_positions={"lt112": 4, "strangle": None},
        group_limits={},
        group_excluded=frozenset(),
        group_risk_cap=None,
        leverage=None,
        position_basis="units",
        count_reference={"lt112": 0.1},
        max_loss_strategies=frozenset({"lt112", "strangle"}),
    )

    def ok(basis, book, **kw):
        changed = dataclasses.replace(lim, position_basis=basis, **kw)
        return _feasible_by_definition(np.array(book), cs, changed)

    assert ok("units", [4, 0, 0]) and not ok("units", [5, 0, 0])  # 4 MES
    assert not ok("units", [0, 1, 0])  # one ES LT112 = 10 MES units
    assert ok("contracts", [4, 0, 0]) and not ok("contracts", [5, 0, 0])
    assert ok("contracts", [0, 1, 0]) and ok("contracts", [2, 2, 0])  # size-blind
    assert not ok("contracts", [3, 2, 0])
    assert ok("structures", [9, 9, 0])  # two structures of any size
    # an unlimited loss never meets a finite cap, per position or in its group's max loss
    assert ok("units", [0, 0, 5])
    assert not ok("units", [0, 0, 1], max_loss_per_position=0.9)
    assert ok("units", [1, 0, 0], max_loss_per_position=0.01)  # 1000 ≤ 1000
    assert not ok("units", [2, 0, 0], max_loss_per_position=0.01)
    risk = {"group_risk": "max_loss", "group_risk_cap": 0.5}
    assert not ok("units", [0, 0, 1], **risk)
    assert ok("units", [4, 0, 0], **risk)  # A1 holds no strangle: its risk is 4,000
    assert ok("units", [0, 0, 1], group_excluded=frozenset({"strangle"}), **risk)


def test_min_bp_objective_meets_target_by_enumeration():
    rng = np.random.default_rng(3)
    cs = _tiny_set(rng)
    lim = _limits(rng)
    mu, bp = cs.col("expected_monthly_income_per_contract"), cs.col("bp_per_contract")
    books = _all_books(len(cs))
    feasible = books[_feasible_books(books, cs, lim)]
    target = 0.5 * float((feasible @ mu).max())
    best = float((feasible[feasible @ mu >= target] @ bp).min())
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
    from optimizer.solve.solving import SolveContext
    from optimizer.verdict.diagnostics import relaxations

    rng = np.random.default_rng(seed)
    cs = _tiny_set(rng)
    lim = _limits(rng)
    mu = cs.col("expected_monthly_income_per_contract")
    got = {
        r.cap: r.max_income
        for r in relaxations(cs, lim, SolveContext("cvxpy", SolverOptions(mip_rel_gap=1e-9)))
    }

    books = _all_books(len(cs))

    def brute(**change):
        relaxed = dataclasses.replace(lim, **change)
        return max(0.0, float((books[_feasible_books(books, cs, relaxed)] @ mu).max()))

    # the label names these limits' weights (it said 40/35/25 whatever the weights were)
    assert got["allocation (50/30/20 ± tol)"] == pytest.approx(
        brute(allocation_tolerance=None), rel=1e-4, abs=1e-6
    )
    assert got["correlation-group risk caps"] == pytest.approx(
        brute(group_risk_cap=None), rel=1e-4, abs=1e-6
    )
    assert got["correlation-group unit limits"] == pytest.approx(
        brute(group_limits={}), rel=1e-4, abs=1e-6
    )
