"""The efficient frontier (optimizer.studies.frontier): exact optima, caps met ex post, monotone.

References: the realized CVaR of each point's book recomputed from the scenario P&L matrix, an
independent max-income solve at one cap, and monotonicity (a looser cap cannot lower the optimum).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from models.risk import cvar
from optimizer.inputs.risk_model import build_risk_data
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import prepare
from optimizer.solve.solving import SolveContext, max_income
from optimizer.solve.status import SolverOptions
from optimizer.studies.frontier import frontier

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
SETS = ["target.success_probability=null", "income.paths=17"]


@pytest.fixture(scope="module")
def run():
    sc = load_scenario(FIX / "minimal_risk.yaml", SETS)
    return sc, frontier(sc, points=5)


def test_points_are_monotone_and_meet_their_cap_ex_post(run):
    sc, f = run
    pts = f.points
    assert len(pts) == 5
    assert np.all(np.diff(pts["cap"]) > 0)
    assert np.all(np.diff(pts["max_income"]) >= -1e-6)  # a looser cap never lowers the optimum
    prep = prepare(sc)
    risk = build_risk_data(sc, prep.candidates, prep.market, managed=prep.income.result)
    ids = list(prep.candidates.ids)
    for r in pts.itertuples():
        n = np.zeros(len(ids))
        for item in filter(None, r.book.split(", ")):
            cid, count = item.rsplit(":", 1)
            n[ids.index(cid)] = float(count)
        loss = -(risk.pnl @ n)
        assert cvar(loss, f.alpha) <= r.cap * sc.account.net_liq * (1 + 1e-6) + 1e-9
        assert r.cvar == pytest.approx(cvar(loss, f.alpha), abs=1e-6)
        assert r.max_income == pytest.approx(
            float(prep.candidates.col("expected_monthly_income_per_contract") @ n), abs=1e-6
        )


def test_a_point_equals_an_independent_max_income_solve(run):
    sc, f = run
    prep = prepare(sc)
    risk = build_risk_data(sc, prep.candidates, prep.market, managed=prep.income.result)
    r = f.points.iloc[2]
    lim = dataclasses.replace(prep.limits, cvar_caps=((f.alpha, float(r["cap"])),))
    ctx = SolveContext("highs", SolverOptions(time_limit=60, mip_rel_gap=1e-9))
    ref = max_income(prep.candidates, lim, ctx, risk=risk)
    assert r["max_income"] == pytest.approx(ref.value, rel=1e-4, abs=1e-6)


def test_the_chosen_book_lies_on_or_below_the_frontier(run):
    sc, f = run
    c = f.chosen
    top = f.points["max_income"].max()
    assert c["income"] <= top + 1e-6
    assert c["cap"] == pytest.approx(0.05)


def test_cli_json_is_one_document_through_a_real_process():
    """HiGHS prints on fd 1: the --json output must still be one JSON document."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from optimizer.cli.app import main; main()"]
    args = ["frontier", str(FIX / "minimal_risk.yaml"), "--json", "--points", "3"]
    for s in SETS:
        args += ["--set", s]
    out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [d.get("chosen", False) for d in doc] == [False, False, False, True]
    for d in doc[:-1]:
        assert {"cap", "max_income", "cvar", "success_probability"} <= set(d)
    bad = subprocess.run(
        cmd + ["frontier", str(FIX / "minimal_risk.yaml"), "--cap", "vega"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --cap")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_probability_is_in_sample_and_the_cli_plot_says_so_with_units(run, tmp_path, monkeypatch):
    """P(month ≥ target) is the share of the income model's (in-sample) months: the plot says so.

    The plot labelled it "out of sample" while the table's footnote said in sample, and its axes
    had no units (``cap``, ``max expected monthly income``).
    """
    sc, f = run
    prep = prepare(sc)
    risk = build_risk_data(sc, prep.candidates, prep.market, managed=prep.income.result)
    ids = list(prep.candidates.ids)
    target = sc.target.monthly_income
    for r in f.points.itertuples():
        n = np.zeros(len(ids))
        for item in filter(None, r.book.split(", ")):
            cid, count = item.rsplit(":", 1)
            n[ids.index(cid)] = float(count)
        assert r.success_probability == pytest.approx(np.mean(risk.monthly @ n >= target))
    from optimizer import plots
    from optimizer.cli.app import main

    figs = []
    real = plots.frontier
    monkeypatch.setattr(plots, "frontier", lambda *a, **k: figs.append(real(*a, **k)) or figs[-1])
    args = ["frontier", str(FIX / "minimal_risk.yaml"), "--points", "3", "--plot"]
    with pytest.raises(SystemExit) as exc:
        main([*args, str(tmp_path / "f.png"), *sum((["--set", s] for s in SETS), [])])
    assert exc.value.code in (0, None)
    ax, ax2 = figs[0].axes
    assert ax.get_xlabel() == "CVaR 99% (1 day) cap (% of NLV)"
    assert ax.xaxis.get_major_formatter()(0.05, 0) == "5.0%"  # the cap, a fraction, in percent
    assert ax.get_ylabel() == "max expected monthly income (GBP)"
    assert ax2.get_ylabel() == "P(month ≥ target), in sample (% of months)"
    assert "out of sample" not in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
