"""Cap rules as documented, on a small phase-2 instance, against an enumeration of every book.

The instance (real SPX chain, synthetic MCL surface, ``income.model: theta``) has five
candidates: a Friday XSP iron condor, an MES and an ES LT112 on the same expiry, and two naked
MCL strangles (unlimited maximum loss) on the same expiry. For each setting of
``positions.count`` (units / contracts / structures), ``correlation_groups.risk`` (cash_delta /
bp / max_loss) and ``positions.max_loss_per_position`` (every strategy), the solver's optimum
(max theta and max income) must equal the best book of an enumeration of every integer book in
a box the buying-power caps imply, each book checked by the brute-force reference of
``test_pipeline`` (written from the documented definitions); the solver's book must meet the
documented rules too. The numbers the caps state are checked against the shipped tables, read
directly from ``models/data/*.csv``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app as cli
from optimizer.formulation.build import build_problem
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.spec import ObjectiveKind, load_scenario
from optimizer.pipeline import prepare
from optimizer.solve.solving import SolveContext, counts_of, max_income, solve_sizing
from optimizer.solve.status import SolverOptions, SolveStatus
from tests.optimizer.test_pipeline import _feasible_books, _feasible_by_definition

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "models" / "data"
CTX = SolveContext("highs", SolverOptions(mip_rel_gap=1e-9))

PHASE2 = {
    "name": "phase-2 cap rules (five candidates)",
    "valuation_time": "2026-01-30T16:00:00",
    "account": {"net_liq": 50000, "currency": "GBP", "fx": {"USD": 0.7299}, "phase": 2},
    "market": {
        "vix": 17.44,
        "chains": {
            "SPX": {
                "path": str(ROOT / "scenarios" / "data" / "spx_yahoo_chain_2026-01-30.csv.gz"),
                "format": "yfinance",
                "spot": 6939.03,
            }
        },
        "derived": {
            "XSP": {"from": "SPX", "scale": 0.1},
            "ES": {"from": "SPX"},
            "MES": {"from": "SPX"},
        },
        "synthetic": {
            "MCL": {"price": 65.0, "atm_iv": 0.32, "skew": -0.08, "curvature": 0.03, "rate": 0.036}
        },
    },
    "target": {"monthly_income": 5000},
    "income": {"model": "theta"},
    "objective": "max_theta",
    "strategies": {
        "zero_dte": {
            "template": "iron_condor",
            "weight": 0.4,
            "entries_per_month": 4.33,
            "expiry": {"intraday_hours": 5.5},
            "underlyings": {"XSP": {"grid": {"short_delta": [0.1], "wing_width": [5]}}},
            "margin": {"model": "reg_t"},
        },
        "lt112": {
            "template": "lt112",
            "weight": 0.35,
            "entries_per_month": 1,
            "expiry": {"dte": 120},
            "underlyings": {
                sym: {"grid": {"long_otm": [0.05], "spread_width": [50], "naked_otm": [0.12]}}
                for sym in ("MES", "ES")
            },
            "margin": {"model": "fixed", "per_unit": {"MES": 2500, "ES": 6000}, "currency": "GBP"},
        },
        "strangle": {
            "template": "short_strangle",
            "weight": 0.25,
            "entries_per_month": 1,
            "expiry": {"dte": 90},
            "underlyings": {"MCL": {"grid": {"put_delta": [0.06, 0.08], "call_delta": [0.06]}}},
            "margin": {"model": "fixed", "currency": "USD", "per_unit": {"MCL": 3000}},
        },
    },
    "allocation": {"enabled": False},
    "buying_power": {"max_fraction": 0.48, "reserve": 0, "strategy_caps": {"zero_dte": 0.05}},
    "positions": {"correlation_groups": {"exclude_strategies": ["zero_dte"]}},
}

#: case → ``--set`` overrides (default: units, group risk read as cash delta, 15% cap)
CASES = {
    **{
        f"{basis}-{risk}": [f"positions.count={basis}", f"positions.correlation_groups.risk={risk}"]
        for basis in ("units", "contracts", "structures")
        for risk in ("cash_delta", "bp", "max_loss")
    },
    "max_loss_per_position=0.02": ["positions.max_loss_per_position=0.02"],
    "max_loss_per_position=0.9": ["positions.max_loss_per_position=0.9"],
    "max_loss_per_position=0.9-contracts": [
        "positions.max_loss_per_position=0.9",
        "positions.count=contracts",
    ],
    "max_loss-cap_1": [
        "positions.correlation_groups.risk=max_loss",
        "positions.correlation_groups.risk_cap=1.0",
    ],
    "max_loss-every_strategy_counts": [
        "positions.correlation_groups.risk=max_loss",
        "positions.correlation_groups.risk_cap=1.0",
        "positions.correlation_groups.exclude_strategies=[]",
    ],
    "max_loss-strangles_excluded": [
        "positions.correlation_groups.risk=max_loss",
        "positions.correlation_groups.exclude_strategies=[zero_dte, strangle]",
    ],
}


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cap_rules") / "phase2_small.yaml"
    path.write_text(yaml.safe_dump(PHASE2, sort_keys=False))
    return path


def _box(cs, lim) -> np.ndarray:
    """Every book with ``n_k`` ≤ what the BP caps alone allow (each cap holds for any book)."""
    bp = cs.col("bp_per_contract")
    strat = cs.table["strategy"].to_numpy()
    top = np.floor(lim.bp_fraction * lim.nlv / bp + 1e-9)
    for s, c in lim.strategy_bp_caps.items():
        top = np.where(strat == s, np.minimum(top, np.floor(c * lim.nlv / bp + 1e-9)), top)
    assert math.prod(int(t) + 1 for t in top) <= 100_000
    return np.array(list(itertools.product(*(range(int(t) + 1) for t in top))), dtype=float)


@pytest.fixture(scope="module")
def solved(scenario_file):
    """case → (candidates, limits, {objective: (enumerated best, solver value, solver book)})."""
    out = {}
    for case, overrides in CASES.items():
        cs, lim, _, _ = prepare(load_scenario(scenario_file, overrides))
        books = _box(cs, lim)
        feasible = books[_feasible_books(books, cs, lim)]
        res = {}
        theta = cs.col("theta_per_day_per_contract")
        outcome, _ = solve_sizing(cs, lim, ObjectiveKind.MAX_THETA, CTX)
        assert outcome.status is SolveStatus.OPTIMAL, (case, outcome.message)
        n = counts_of(outcome, len(cs))
        res["max_theta"] = (float((feasible @ theta).max()), float(theta @ n), n)
        inc = max_income(cs, lim, CTX)
        assert inc.outcome.status is SolveStatus.OPTIMAL and not inc.unbounded, case
        mu = cs.col("expected_monthly_income_per_contract")
        res["max_income"] = (
            float((feasible @ mu).max()),
            inc.value,
            counts_of(inc.outcome, len(cs)),
        )
        out[case] = (cs, lim, res)
    return out


def _index(cs, strategy: str, underlying: str) -> list[int]:
    t = cs.table
    return list(np.flatnonzero((t["strategy"] == strategy) & (t["underlying"] == underlying)))


# ----------------------------------------------------------------------------- the instance


def test_the_instance_states_the_tables_numbers(solved):
    cs, lim, _ = solved["units-cash_delta"]
    mp = pd.read_csv(DATA / "max_positions.csv").set_index("strategy")
    units = pd.read_csv(DATA / "position_units.csv").set_index("symbol")["units"]
    phases = pd.read_csv(DATA / "phases.csv").set_index("phase")
    groups = pd.read_csv(DATA / "correlation_groups.csv").set_index("group")
    for s in ("zero_dte", "lt112", "strangle"):
        assert lim.max_positions[s] == mp.loc[s, "phase_2"]
        stated = str(mp.loc[s, "count_unit_by_phase"]).split(";")[1] if s == "lt112" else None
        assert lim.count_reference[s] == pytest.approx(units[stated] if stated else 1.0)
    assert lim.max_positions["lt112"] == 4 and lim.count_reference["lt112"] == 0.1  # 4 MES
    assert lim.max_total_positions == phases.loc[2, "max_total_positions"]
    for g in ("A1", "C1"):
        assert lim.group_limits[g] == min(
            groups.loc[g, "limit"], phases.loc[2, "correlation_group_limit"]
        )
    members = {
        g: set(f"{r.members};{r.thetaplan_additions}".split(";")) for g, r in groups.iterrows()
    }
    for u, g in zip(cs.table["underlying"], cs.table["correlation_group"], strict=True):
        assert u in members[g]
    assert lim.bp_fraction == 0.48 and lim.nlv == 50000
    # the naked strangles' maximum loss is unlimited; the LT112s' and the condor's is not
    ml = cs.col("max_loss_per_contract")
    strat = cs.table["strategy"].to_numpy()
    assert np.all(np.isinf(ml[strat == "strangle"]))
    assert np.all(np.isfinite(ml[strat != "strangle"]))
    assert len(cs) == 5


# ----------------------------------------------------------------------------- optimum = enumeration


@pytest.mark.parametrize("objective", ["max_theta", "max_income"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_solver_optimum_equals_the_enumerated_optimum(solved, case, objective):
    cs, lim, res = solved[case]
    best, value, book = res[objective]
    assert value == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert _feasible_by_definition(book, cs, lim)  # the documented rules, ex post


def test_contracts_basis_admits_one_mes_lt112(solved):
    """Phase 2: "4 MES" LT112; with ``contracts`` one MES 1-1-2 counts 1 against the 4."""
    cs, lim, res = solved["contracts-cash_delta"]
    mes = _index(cs, "lt112", "MES")
    for objective in ("max_theta", "max_income"):
        best, value, book = res[objective]
        assert book[mes].sum() == 1  # the 15% cash-delta cap of A1 leaves room for one
    # without its LT112 the book is strictly worse: the LT112 limit does not read 0.4
    theta = cs.col("theta_per_day_per_contract")
    books = _box(cs, lim)
    no_lt112 = books[(books[:, cs.table["strategy"] == "lt112"] == 0).all(axis=1)]
    assert res["max_theta"][0] > float((no_lt112[_feasible_books(no_lt112, cs, lim)] @ theta).max())


def test_contracts_count_an_es_lt112_as_one_and_units_as_ten(solved):
    """Under BP group risk an ES LT112 fits A1's 7,500: ``contracts`` holds it, ``units`` not."""
    cs, _, res = solved["contracts-bp"]
    es = _index(cs, "lt112", "ES")
    assert res["max_theta"][2][es].sum() == 1
    cs, _, res = solved["units-bp"]
    assert res["max_theta"][2][es].sum() == 0  # 1 ES = 10 MES units > 4


# ----------------------------------------------------------------------------- unlimited loss


def _finite_blocks(problem) -> None:
    for b in problem.blocks:
        for a in b.terms.values():
            data = a.data if hasattr(a, "data") and not isinstance(a, np.ndarray) else a
            assert np.all(np.isfinite(np.asarray(data))), b.name


@pytest.mark.parametrize(
    ("case", "row"),
    [
        ("max_loss_per_position=0.02", "max_loss_unlimited"),
        ("units-max_loss", "group_risk_unlimited[C1]"),
    ],
)
def test_unlimited_loss_is_fixed_to_zero_by_finite_rows(solved, case, row):
    cs, lim, res = solved[case]
    strangles = list(np.flatnonzero(cs.table["strategy"] == "strangle"))
    problem = build_problem(cs, lim, ObjectiveKind.MAX_THETA)
    _finite_blocks(problem)
    n = next(g for g in problem.variables if g.name == "n")
    assert np.all(n.upper[strangles] == 0)
    assert row in problem.row_names
    for objective in ("max_theta", "max_income"):
        assert res[objective][2][strangles].sum() == 0
    # a held naked strangle breaks the rule: infeasible, reported by the solver, no traceback
    table = cs.table.copy()
    table["held_contracts"] = 0.0
    table.loc[strangles[0], "held_contracts"] = 1.0
    held = CandidateSet(table, cs.structures, cs.excluded, cs.currency)
    out = CTX.solve(build_problem(held, lim, ObjectiveKind.MAX_THETA))
    assert out.status in (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE_OR_UNBOUNDED)


def test_group_risk_sums_only_the_groups_own_candidates(solved):
    cs, lim, res = solved["max_loss-strangles_excluded"]
    problem = build_problem(cs, lim, ObjectiveKind.MAX_THETA)
    _finite_blocks(problem)
    row = problem.matrix("n").toarray()[problem.row_names.index("group_risk[A1]")]
    a1 = (cs.table["correlation_group"] == "A1").to_numpy() & (cs.table["strategy"] != "zero_dte")
    assert np.all(row[~a1] == 0)
    assert row[a1] == pytest.approx(cs.col("max_loss_per_contract")[a1])
    # strangles do not count toward groups here: they may be held (and the optimum holds them)
    strangles = (cs.table["strategy"] == "strangle").to_numpy()
    assert res["max_theta"][2][strangles].sum() > 0
    assert not any(r.startswith("group_risk_unlimited") for r in problem.row_names)


# ----------------------------------------------------------------------------- CLI


def test_cli_max_loss_per_position_with_every_strategy_exits_0(scenario_file):
    out = CliRunner().invoke(
        cli.app,
        ["solve", str(scenario_file), "--set", "positions.max_loss_per_position=0.02", "--json"],
    )
    assert out.exit_code == 0, out.output
    assert out.exception is None
    doc = json.loads(out.stdout[out.stdout.index("{") :])
    assert not [p for p in doc["positions"] if p["strategy"] == "strangle"]
    assert doc["limits"]["max_loss_per_position"] == 0.02
