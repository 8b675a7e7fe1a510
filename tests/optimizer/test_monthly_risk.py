"""Monthly CVaR and 12-month drawdown caps on the income model's months.

References: the drawdown of a book recomputed by a plain loop over month ends, the CVaR of
losses by :func:`models.risk.cvar`, brute-force enumeration of small integer books, and the
cap's effect on a real solve (the capped book meets the cap ex post; the uncapped one does not).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.measure.managed import book_drawdowns
from models.risk import cvar
from optimizer.formulation.families.tail_risk import drawdown_part
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare, solve_scenario
from optimizer.solve.backends import solve
from optimizer.solve.problem import Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.status import SolverOptions

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scenarios"


def _drawdown_loop(path_months: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = []
    for months in path_months:
        level, peak, worst = 0.0, 0.0, 0.0
        for m in months:
            level += float(m @ n)
            peak = max(peak, level)
            worst = max(worst, peak - level)
        out.append(worst)
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=0, max_value=10_000),
)
def test_book_drawdowns_match_a_loop(p, m, k, seed):
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 100, (p, m, k))
    n = rng.integers(0, 4, k).astype(float)
    np.testing.assert_allclose(book_drawdowns(r, n), _drawdown_loop(r, n), atol=1e-9)


def _max_income_with_drawdown_cap(r: np.ndarray, income: np.ndarray, alpha, cap, ub) -> tuple:
    k = income.size
    n = VariableGroup("n", VarKind.INTEGER, np.zeros(k), np.full(k, float(ub)), tuple("abc"[:k]))
    part = drawdown_part(r, alpha, cap)
    problem = SizingProblem(
        variables=(n, *part.variables),
        blocks=part.blocks,
        objective=Objective(name="income", sense="maximize", terms={"n": income}),
    )
    out = solve(problem, "highs", SolverOptions(time_limit=30, mip_rel_gap=0.0))
    return out, np.rint(out.values["n"]) if out.values is not None else None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drawdown_cap_equals_brute_force(seed):
    """Max income s.t. CVaR_a(drawdown) <= cap over a 3-candidate, 0..4 grid, by enumeration."""
    rng = np.random.default_rng(seed)
    p, m, k, ub = 8, 12, 3, 4
    r = rng.normal(20, 150, (p, m, k))
    income = r.mean(axis=(0, 1))
    alpha, cap = 0.75, 600.0
    best, best_n = -np.inf, None
    for combo in itertools.product(range(ub + 1), repeat=k):
        n = np.array(combo, dtype=float)
        if cvar(book_drawdowns(r, n), alpha) <= cap + 1e-9 and income @ n > best + 1e-12:
            best, best_n = float(income @ n), n
    out, n = _max_income_with_drawdown_cap(r, income, alpha, cap, ub)
    assert out.status.has_solution
    assert float(income @ n) == pytest.approx(best, abs=1e-6), (n, best_n)
    assert cvar(book_drawdowns(r, n), alpha) <= cap + 1e-6


@pytest.fixture(scope="module")
def capped():
    """minimal_risk with and without a tight monthly CVaR and drawdown cap."""
    base = ["target.success_probability=null", "objective=max_income"]
    free = solve_scenario(load_scenario(FIX / "minimal_risk.yaml", base), min_nlv_search=False)
    caps = [
        "risk.monthly_cvar=[{alpha: 0.95, cap: 0.004}]",
        "risk.max_drawdown={alpha: 0.9, cap: 0.006}",
    ]
    sc = load_scenario(FIX / "minimal_risk.yaml", base + caps)
    return sc, free, solve_scenario(sc, min_nlv_search=False)


def test_monthly_caps_hold_ex_post_and_bind(capped):
    sc, free, res = capped
    prep = prepare(sc)
    sim = prep.income.result
    months = np.asarray(sim.monthly_samples)
    n_months = sc.target.chance.n_months
    per = sim.months_per_path
    rows = per * int(np.ceil(n_months / per))
    ids = list(prep.candidates.ids)

    def book(res_):
        n = np.zeros(len(ids))
        for _, row in res_.positions.iterrows():
            n[ids.index(row["id"])] = row["contracts"]
        return n

    nlv = sc.account.net_liq
    n_cap, n_free = book(res), book(free)
    m = months[:rows]
    pm = m.reshape(-1, per, m.shape[1])
    assert cvar(-(m @ n_cap), 0.95) <= 0.004 * nlv * (1 + 1e-6)
    assert cvar(book_drawdowns(pm, n_cap), 0.9) <= 0.006 * nlv * (1 + 1e-6)
    # without the caps the max-income book breaks at least one of them: the caps bind
    broken = (
        cvar(-(m @ n_free), 0.95) > 0.004 * nlv
        or cvar(book_drawdowns(pm, n_free), 0.9) > 0.006 * nlv
    )
    assert broken
    assert res.verdict.max_income <= free.verdict.max_income + 1e-6
