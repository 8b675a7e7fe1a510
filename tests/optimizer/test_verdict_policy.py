"""Issue 15: a verdict a trader can act on.

Headline book policy (the scenario's objective under every cap; the max-probability book only as
an alternative), return on capital, monthly income quantiles, the minimum account under the
documented scaling rule (with its certificate re-solved here from the rule as written), solvency
of the joint relaxation, the cost of each cap, and the verdict's decision when the probability
is undecided but the expected income is proven short.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from optimizer.inputs.risk_model import build_risk_data
from optimizer.inputs.spec import ObjectiveKind, load_scenario
from optimizer.pipeline import solve_scenario
from optimizer.solve.solving import SolveContext, max_income, solve_sizing
from optimizer.solve.status import SolveOutcome, SolverOptions, SolveStatus
from optimizer.verdict.diagnostics import apply_relaxation
from optimizer.verdict.verdict import ChanceFinding, VerdictStatus, cap_costs, decide
from tests.optimizer.conftest import PHASE4_BOOK, TK

CTX = SolveContext("cvxpy", SolverOptions(time_limit=120, mip_rel_gap=1e-6))
#: phases.csv: the phase-4 floor in GBP (the documented anchor of positions.scale_with_nlv)
P4_FLOOR_GBP = 75_000.0


@pytest.fixture(scope="module")
def phase4_risk(phase4_run):
    sc, prep, _ = phase4_run
    return build_risk_data(sc, prep.candidates, prep.market, managed=prep.income.result)


# ----------------------------------------------------------------------------- headline book
@pytest.fixture(scope="module")
def no_allocation_max_income():
    sc = load_scenario(
        TK / "phase4.yaml",
        # a target some simulated months reach (the book's P95 month is about £2,500)
        [
            *PHASE4_BOOK,
            "allocation.enabled=false",
            "objective=max_income",
            "target.monthly_income=2000",
            "target.chance.n_months=120",  # a small SAA: the max-probability MILP proves optimality
        ],
    )
    return sc, solve_scenario(sc, min_nlv_search=False, diagnostics_level="light")


def test_headline_is_the_objective_not_the_max_probability_book(no_allocation_max_income):
    sc, res = no_allocation_max_income
    v = res.verdict
    # the requested 85% is out of reach: a few months reach the target, so a max-probability
    # book exists, and it is an alternative, never the headline
    assert v.required_probability == 0.85
    assert v.success_probability_in_sample is not None and v.success_probability_in_sample < 0.85
    names = [a.name for a in v.alternatives]
    assert names == ["max_success_probability"]
    alt = v.alternatives[0]
    assert 0 < alt.success_probability_in_sample < 0.85
    assert "max success probability" not in res.solver["book_from"]
    # with max_income the headline's expected income is the verdict's max income (MIP gap)
    income = res.portfolio["expected_monthly_income"]
    gap = max(sc.solver.mip_gap, res.verdict.mip_gap or 0.0)
    assert income == pytest.approx(v.max_income, rel=gap + 1e-9, abs=1e-6)
    # recomputed ex post from the positions returned
    ex_post = float(
        (res.positions["expected_monthly_income_per_contract"] * res.positions["contracts"]).sum()
    )
    assert ex_post == pytest.approx(income, rel=1e-12, abs=1e-9)
    # the alternative is a different, poorer book (it gave up income for probability)
    alt_book = sorted((p["id"], p["contracts"]) for p in alt.positions)
    head_book = sorted(zip(res.positions["id"], res.positions["contracts"], strict=True))
    assert alt_book != head_book
    assert alt.expected_monthly_income <= income + 1e-6
    steps = [f.step for f in v.fallbacks]
    assert "drop_chance" in steps and "max_probability" in steps


# ----------------------------------------------------------------------------- return, months
def test_return_on_capital_and_month_quantiles(phase4_run):
    _, _, res = phase4_run
    p, v = res.portfolio, res.verdict
    roc = v.return_on_capital
    assert roc["annual_net_on_nlv"] == 12 * p["expected_monthly_income"] / p["net_liq"]
    assert roc["annual_net_on_bp"] == 12 * p["expected_monthly_income"] / p["bp_used"]
    q = p["monthly_income_quantiles"]
    values = [q[k] for k in ("p5", "p25", "p50", "p75", "p95")]
    assert values == sorted(values) and values[0] < values[-1]
    # the quantiles are those of the book's out-of-sample months
    months = np.asarray(res.monthly_pnl)
    assert q["n_months"] == months.size
    assert q["p50"] == pytest.approx(float(np.median(months)))
    assert q["mean"] == pytest.approx(float(months.mean()))
    assert q["standard_error"] == pytest.approx(float(months.std(ddof=1) / math.sqrt(months.size)))
    # their mean is the reported (in-sample) expected income within the standard error of the
    # difference of the two sample means
    both = math.hypot(q["standard_error"], q["standard_error_in_sample"])
    assert abs(q["mean"] - p["expected_monthly_income"]) <= both


# ----------------------------------------------------------------------------- minimum NLV
def _by_the_rule(limits, nlv):
    """The documented rule, written out: phase 4 count caps × NLV / GBP 75,000 (account in GBP)."""
    f = max(nlv, P4_FLOOR_GBP) / P4_FLOOR_GBP
    return dataclasses.replace(
        limits,
        nlv=float(nlv),
        max_positions={s: None if m is None else m * f for s, m in limits.max_positions.items()},
        max_total_positions=limits.max_total_positions * f,
        group_limits={g: x * f for g, x in limits.group_limits.items()},
    )


def test_min_nlv_is_certified_under_the_scaling_rule(phase4_run, phase4_risk):
    sc, prep, res = phase4_run
    mn = res.verdict.min_nlv
    assert mn.status == "found", mn.note
    assert sc.account.currency == "GBP" and prep.limits.phase == 4
    target = sc.target.monthly_income
    cs, limits = prep.candidates, prep.limits

    def best(nlv):
        out = max_income(cs.at_nlv(nlv), _by_the_rule(limits, nlv), CTX, risk=phase4_risk)
        assert out.outcome.status is SolveStatus.OPTIMAL and not out.unbounded
        return out.value

    at, below = best(mn.value), best(0.99 * mn.value)
    assert at >= target * (1 - 1e-9)
    assert below < target
    cert = mn.certificate
    assert cert["nlv"] == mn.value and cert["nlv_below"] == pytest.approx(0.99 * mn.value)
    assert cert["max_income"] == pytest.approx(at, rel=1e-4)
    assert cert["max_income_below"] == pytest.approx(below, rel=1e-4)
    assert "scale_with_nlv" in mn.rule


def test_min_nlv_without_scaling_says_none():
    sc = load_scenario(
        TK / "phase4.yaml",
        [
            *PHASE4_BOOK,
            "positions.scale_with_nlv=false",
            "target.success_probability=null",
            "risk.cvar=[]",
            "risk.stress.cap=null",
        ],
    )
    v = solve_scenario(sc, diagnostics_level="light").verdict
    assert v.min_nlv.status == "none" and v.min_nlv.value is None
    assert v.min_nlv.note.startswith("not reachable with any account up to 64x")


# ----------------------------------------------------------------------------- solvency
def test_phase4_relaxation_marks_beyond_solvency(phase4_run, phase4_risk):
    sc, prep, res = phase4_run
    v = res.verdict
    steps = {s.cap: s for s in v.minimal_relaxation}
    assert steps["bp_total"].beyond_solvency and steps["bp_total"].needed > 1.0
    assert steps["stress[1987-10-19]"].beyond_solvency
    for s in v.minimal_relaxation:  # the documented rule, row by row
        if s.cap.startswith(("bp_total", "bp_cap[")):
            assert s.beyond_solvency == (s.needed > 1.0)
        elif s.cap.startswith(("stress[", "cvar_", "var_", "monthly_cvar_", "max_drawdown_")):
            assert s.beyond_solvency == (s.needed >= 1.0)
        else:
            assert not s.beyond_solvency
    # the solvent relaxation keeps BP ≤ 100% and losses < 100% of NLV, and is a certificate:
    # re-solving with its caps reaches the target
    solvent = v.solvent_relaxation
    assert solvent, v.solvent_relaxation_note
    for s in solvent:
        assert not s.beyond_solvency
        if s.cap == "bp_total":
            assert s.needed <= 1.0 + 1e-9
        if s.cap.startswith(("stress[", "cvar_")):
            assert s.needed < 1.0
    cs, limits = prep.candidates, prep.limits
    extra, allowance = apply_relaxation(solvent, cs, limits)
    free = dataclasses.replace(limits, bound_counts=False)
    out, _ = solve_sizing(
        cs,
        free,
        ObjectiveKind.MAX_INCOME,
        CTX,
        risk=phase4_risk,
        chance=False,
        extra=extra,
        cvar_allowance=allowance,
    )
    assert out.status is SolveStatus.OPTIMAL
    n = np.rint(out.values["n"])
    assert float(cs.col("expected_monthly_income_per_contract") @ n) >= sc.target.monthly_income
    # BP and 1987 loss of that book, recomputed ex post, are within solvency
    assert float(cs.col("bp_per_contract") @ n) <= limits.nlv * (1 + 1e-9)
    labels = list(phase4_risk.stress_labels)
    loss_1987 = -float(phase4_risk.stress_pnl[labels.index("1987-10-19")] @ n)
    assert loss_1987 < limits.nlv
    assert "solvent" in v.message


# ----------------------------------------------------------------------------- cap costs
def test_cap_costs_sorted_and_named_in_the_verdict(phase4_run):
    _, _, res = phase4_run
    v = res.verdict
    costs = v.cap_costs
    assert len(costs) == len(v.relaxations)
    gains = [c.gain for c in costs]
    assert gains == sorted(gains, reverse=True)
    for c in costs:
        r = next(r for r in v.relaxations if r.cap == c.family)
        assert c.gain == pytest.approx(r.max_income - v.max_income)
    top = costs[0]
    assert top.family.startswith("allocation")
    assert top.family in v.message and f"+{top.gain:,.0f}" in v.message


def test_cap_costs_order_unbounded_first_unsolved_last():
    from optimizer.verdict.diagnostics import Relaxation

    rel = (
        Relaxation("a", 10.0, "optimal", None),
        Relaxation("b", None, "unbounded", None),
        Relaxation("c", None, "time_limit", None),
        Relaxation("d", 30.0, "optimal", None),
    )
    out = cap_costs(rel, 5.0)
    assert [c.family for c in out] == ["b", "d", "a", "c"]
    assert out[0].gain == math.inf and out[1].gain == 25.0 and out[3].gain is None


# ----------------------------------------------------------------------------- decision
def _outcome(status):
    return SolveOutcome(
        status=status,
        objective_value=0.0,
        values=None,
        duals=None,
        reduced_costs=None,
        mip_gap=0.0,
        best_bound=None,
        compile_seconds=0.0,
        solve_seconds=0.0,
        backend="x",
        message="",
    )


def test_probability_undecided_but_income_proven_short_is_infeasible():
    unproven = ChanceFinding(0.85, met=False, proven=False, note="not reached within limits")
    status, best, msg = decide(10_000, _outcome(SolveStatus.OPTIMAL), 8_865.0, chance=unproven)
    assert status is VerdictStatus.INFEASIBLE and best == 8_865.0
    assert "not reached within limits" in msg
    # when the expected income could reach the target, an undecided probability stays UNKNOWN
    status, _, _ = decide(10_000, _outcome(SolveStatus.OPTIMAL), 12_000.0, chance=unproven)
    assert status is VerdictStatus.UNKNOWN
    proven = dataclasses.replace(unproven, proven=True)
    status, _, _ = decide(10_000, _outcome(SolveStatus.OPTIMAL), 12_000.0, chance=proven)
    assert status is VerdictStatus.INFEASIBLE


# ----------------------------------------------------------------------------- text output
def test_text_output_leads_with_the_three_lines(phase4_run):
    """Answer, best book with its return on capital, what holds it — before any table."""
    import io

    from rich.console import Console

    from optimizer.cli.commands.solve import render

    sc, _, res = phase4_run
    buf = io.StringIO()
    render(res, Console(file=buf, width=80, color_system=None), scenario=sc)
    text = " ".join(buf.getvalue().split())  # unwrap the 80-column lines
    first_table = text.index("Positions (qty")
    head = text[:first_table]
    assert head.index("Answer:") < head.index("Best book:") < head.index("Held by:")
    assert "not reachable" in head and "required 85%" in head
    roc = res.verdict.return_on_capital
    assert f"{roc['annual_net_on_nlv']:.1%}/year on NLV" in head
    top = res.verdict.cap_costs[0]
    assert f"{top.family} +{top.gain:,.0f} GBP/month if lifted" in head


def test_scaling_rule_scales_the_tables_limits_only():
    """Phase 4 at £150k: the table's count caps × 2 (150k / 75k); a stated limit stays."""
    from optimizer.inputs.limits import resolve_limits

    base = load_scenario(TK / "phase4.yaml", PHASE4_BOOK)
    at = load_scenario(
        TK / "phase4.yaml",
        [*PHASE4_BOOK, "account.net_liq=150000", "strategies.zero_dte.max_positions=2"],
    )
    off = load_scenario(
        TK / "phase4.yaml",
        [*PHASE4_BOOK, "account.net_liq=150000", "positions.scale_with_nlv=false"],
    )
    lb, la, lo = resolve_limits(base), resolve_limits(at), resolve_limits(off)
    assert la.max_positions["zero_dte"] == 2  # stated by the scenario
    assert la.max_positions["lt112"] == 2 * lb.max_positions["lt112"] == 6
    assert la.max_positions["strangle"] == 2 * lb.max_positions["strangle"] == 10
    assert la.max_total_positions == 2 * lb.max_total_positions == 20
    assert la.group_limits == {g: 2 * v for g, v in lb.group_limits.items()}
    assert lo.max_positions == lb.max_positions and lo.group_limits == lb.group_limits
    assert any("scale_with_nlv" in n for n in la.notes)


# ----------------------------------------------------------------------------- LP bounds
def _step_income(threshold: float, rate: float = 0.1):
    """A monotone max-income map: ``rate`` × NLV above ``threshold``, 0 below (a phase step)."""
    return lambda v: rate * v if v >= threshold else 0.0


@pytest.mark.parametrize("threshold", [60_000.0, 75_000.0, 130_000.0, 1_000_000.0])
@pytest.mark.parametrize("slack", [0.0, 500.0, 5_000.0])
def test_min_nlv_lp_bound_prunes_milps_without_changing_the_answer(threshold, slack):
    """An upper bound that proves "not reached" replaces the MILP there; the answer and its
    certificate are those of the search without bounds, and the certificate's incomes are the
    exact map's (never the bound)."""
    from optimizer.verdict.verdict import minimum_nlv

    income = _step_income(threshold)
    calls = {"milp": 0, "bound": 0}

    def exact(v):
        calls["milp"] += 1
        return income(v), SolveStatus.OPTIMAL

    def bound(v):
        calls["bound"] += 1
        return income(v) + slack  # a valid upper bound, ``slack`` above the optimum

    target = 10_000.0
    plain = minimum_nlv(lambda v: (income(v), SolveStatus.OPTIMAL), target, 75_000.0)
    pruned = minimum_nlv(exact, target, 75_000.0, bound_at=bound)
    assert pruned.status == plain.status == "found"
    assert pruned.value == plain.value
    assert pruned.certificate == plain.certificate
    # hand check of the certificate against the map itself
    assert income(pruned.value) >= target > income(0.99 * pruned.value)
    # every point below the threshold is decided by the bound when the bound is below target
    plain_milps = int(plain.note.split("(")[1].split(" ")[0])
    assert calls["milp"] <= plain_milps
    if threshold > 75_000.0:
        # the walk up from 75k meets points below the threshold (income 0, bound = slack <
        # target): decided by the bound, no MILP there
        assert calls["milp"] < plain_milps
        assert "decided by the LP bound" in pruned.note


def test_min_nlv_lp_bound_says_none_with_the_bound():
    """Out of reach everywhere: no MILP after the first point, the note quotes the bound."""
    from optimizer.verdict.verdict import minimum_nlv

    calls = {"milp": 0}

    def exact(v):
        calls["milp"] += 1
        return 0.0, SolveStatus.OPTIMAL

    out = minimum_nlv(exact, 10_000.0, 75_000.0, bound_at=lambda v: -1e-9)
    assert out.status == "none"
    assert calls["milp"] == 1  # the current NLV only (exact: it seeds the search)
    assert "at most 0 per month" in out.note  # never "-0"


def test_min_nlv_point_above_the_bound_is_solved_exactly():
    """A bound at or above the target proves nothing: the MILP decides the point."""
    from optimizer.verdict.verdict import minimum_nlv

    income = _step_income(200_000.0)
    seen = []

    def exact(v):
        seen.append(v)
        return income(v), SolveStatus.OPTIMAL

    out = minimum_nlv(exact, 10_000.0, 75_000.0, bound_at=lambda v: 1e9)
    plain = minimum_nlv(lambda v: (income(v), SolveStatus.OPTIMAL), 10_000.0, 75_000.0)
    assert out.value == plain.value and out.certificate == plain.certificate
    assert "decided by the LP bound" not in out.note
    assert len(seen) == int(plain.note.split("(")[1].split(" ")[0])  # every point a MILP
