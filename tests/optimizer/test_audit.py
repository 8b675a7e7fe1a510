"""Seed 2 capital-scenario audit: claimed table exact, checks, schema errors, CLI and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from models.errors import SpecError
from optimizer.audit.capital_scenarios import (
    claimed_break_even,
    claimed_table,
    consistency_checks,
    derive_streams,
    load_audit,
    run_audit,
)
from optimizer.cli.commands import audit as audit_cmd

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "scenarios" / "quantai" / "capital_scenarios.yaml"
FAST = ["simulation.paths=40", "simulation.break_even_paths=20", "optimizer.paths=15"]

# seed 2's table (domain.md §8): capital, gross, net, ROI %, annual, P
SEED_TABLE = [
    (1000, 1980, 209, 20.9, 8752, 0.45),
    (2500, 4000, 2229, 89.2, 5244266, 0.45),
    (5000, 8000, 6229, 124.6, 82299377, 0.45),
    (7500, 10575, 8804, 117.4, 83525120, 0.45),
    (10000, 14100, 12329, 123.3, 153604172, 0.75),
]


@pytest.fixture(scope="module")
def spec():
    return load_audit(FILE)


@pytest.fixture(scope="module")
def small_result():
    return run_audit(load_audit(FILE, FAST))


def test_claimed_table_reproduces_the_seed_exactly(spec):
    rows = claimed_table(spec)
    assert [r.capital for r in rows] == [s[0] for s in SEED_TABLE]
    for r, (cap, gross, net, roi, annual, p) in zip(rows, SEED_TABLE, strict=True):
        assert round(r.gross_monthly) == gross
        assert round(r.net_monthly) == net
        assert round(r.monthly_roi * 100, 1) == roi
        assert round(r.annual) == annual
        assert r.p_success == p
        assert r.meets_target == (cap == 10000)
    assert round(claimed_break_even(spec)) == 102208
    assert spec.itemised_costs == pytest.approx(1770.98)


def test_checks_report_the_implied_win_rates(spec):
    checks = {(f.stream, f.check): f for f in consistency_checks(spec, 0.173)}
    scalp = checks[("scalping", "implied_win_rate")]
    assert scalp.value == pytest.approx(1.3 / 1.7)
    assert scalp.severity == "inconsistent"  # above the seed's own 60%, below 80%
    assert checks[("momentum", "implied_win_rate")].value == pytest.approx(8 / 12)
    assert checks[("arbitrage", "spread")].severity == "implausible"
    assert checks[("wheel", "claimed_rate")].severity == "inconsistent"
    # an average the stop and target cannot produce is impossible
    bad = load_audit(FILE, ["streams.scalping.average_return=0.02"])
    f = next(x for x in consistency_checks(bad) if x.check == "implied_win_rate")
    assert f.severity == "impossible" and f.value > 1
    high = load_audit(FILE, ["streams.scalping.average_return=0.01"])  # p = 1.5/1.7 = 0.88
    f = next(x for x in consistency_checks(high) if x.check == "implied_win_rate")
    assert f.severity == "implausible"


def test_derived_streams_follow_the_stated_rules(spec):
    stated, how = derive_streams(spec)
    s = stated["scalping"]
    assert s.expected_trade_return == pytest.approx(0.008)
    assert stated["wheel"].win_probability == pytest.approx(0.6)
    assert stated["wheel"].expected_trade_return == pytest.approx(0.04)  # 1:1 payoff keeps avg
    assert stated["momentum"].leverage == 4.0  # midpoint of 3–5
    assert "implied" in how["scalping"] and "validator" in how["wheel"]
    flat, _ = derive_streams(spec, variant="no_edge")
    for st in flat.values():
        assert st.expected_trade_return == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("streams.scalping.bogus=1", "streams.scalping.bogus"),
        ("claimed.mixes.0.allocation.nosuch=0.1", "claimed.mixes.0.allocation.nosuch"),
        ("streams.wheel.position_fraction=1.5", "streams.wheel.position_fraction"),
        ("simulation.paths=0", "simulation.paths"),
        ("streams.scalping.take_profit=null", "streams.scalping"),
    ],
)
def test_bad_fields_name_their_path(override, where):
    with pytest.raises(SpecError) as err:
        load_audit(FILE, [override])
    assert where in str(err.value)


def test_small_run_json_document(small_result):
    doc = small_result.to_dict()
    json.dumps(doc)
    assert [r["capital"] for r in doc["claimed"]] == [s[0] for s in SEED_TABLE]
    for key in ("claimed", "simulated", "break_even", "assumptions", "optimized"):
        assert key in doc
    sim = doc["simulated"][0]
    for key in (
        "capital",
        "mean_net_monthly",
        "median_net_monthly",
        "p_net_ge_target",
        "p_kill_switch_12m",
        "drawdown_quantiles",
        "outcome_12m_quantiles",
    ):
        assert key in sim
    assert set(doc["break_even"]) >= {"claimed", "recomputed"}
    assert round(doc["break_even"]["claimed"]) == 102208
    assert len(doc["assumptions"]) >= 10
    # with no edge the plan loses money on average at every level (costs and fees)
    assert all(r["mean_net_monthly"] < 0 for r in doc["simulated_no_edge"])
    assert [(o["capital"], o["objective"]) for o in doc["optimized"]] == [
        (s[0], obj) for s in SEED_TABLE for obj in ("mean", "log_growth")
    ]
    for mean, kelly in zip(doc["optimized"][::2], doc["optimized"][1::2], strict=True):
        if mean["status"] == kelly["status"] == "optimal":  # each optimizes its own objective
            assert mean["expected_monthly_return"] >= kelly["expected_monthly_return"] - 1e-9
            assert kelly["expected_log_growth"] >= mean["expected_log_growth"] - 1e-7


def test_cli_runner_table_and_plots(tmp_path):
    app = typer.Typer()
    audit_cmd.register(app)
    app.command("noop")(lambda: None)  # two commands: typer keeps sub-command names
    out = CliRunner().invoke(
        app,
        [
            "audit",
            str(FILE),
            "--plot-dir",
            str(tmp_path / "p"),
            *sum((["--set", s] for s in FAST), []),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "As claimed" in out.output and "153,604,172" in out.output
    assert (tmp_path / "p" / "audit_equity_fan.png").stat().st_size > 1000
    assert (tmp_path / "p" / "audit_monthly_net.png").stat().st_size > 1000


_RUN = (
    "import sys\n"
    "from optimizer.cli import app as cli\n"
    "from optimizer.cli.commands import audit\n"
    "names = {c.name for c in cli.app.registered_commands}\n"
    "'audit' in names or audit.register(cli.app)\n"
    "cli.main(sys.argv[1:])\n"
)


def _thetaplan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_json_stdout_is_one_document_in_a_real_process():
    sets = sum((["--set", s] for s in FAST), [])
    proc = _thetaplan("audit", str(FILE), "--json", "--paths", "40", "--seed", "3", *sets)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["paths"] == 40 and doc["seed"] == 3
    assert round(doc["claimed"][-1]["annual"]) == 153604172
    assert "Running HiGHS" not in proc.stdout


def test_bad_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FILE.read_text().replace("target_monthly: 10000", "target_monthly: -5"))
    proc = _thetaplan("audit", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "target_monthly" in lines[-1]
