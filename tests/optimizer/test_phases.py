"""``thetaplan phases``: the phase table is the same numbers as separate solves of each phase.

The Tom King study (``scenarios/tom_king/phases.yaml``, four cases) is run once through the CLI
with study-wide ``--set`` overrides that keep CI fast (fewer income paths and out-of-sample
draws, light diagnostics); each phase file is then solved on its own with ``solve_scenario``,
the same overrides and the study's solve options read from the YAML here, after the prepare
cache is cleared. Everything the phase table shows must agree.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console

from optimizer.cli.app import main
from optimizer.cli.commands.phases import min_nlv_text, render_phases
from optimizer.formatting import money, relaxation_text
from optimizer.inputs.spec import load_scenario
from optimizer.pipeline import clear_cache, solve_scenario
from optimizer.studies.phases import CURVE_MULTIPLES, CaseRun, income_curve, phase_table
from optimizer.studies.study import load_study
from tests.golden.cases import PHASES_SCENARIO_SETS, PHASES_STUDY_SETS, phases_run

ROOT = Path(__file__).resolve().parents[2]
TK = ROOT / "scenarios" / "tom_king"
FIX = ROOT / "tests" / "fixtures" / "scenarios"
MINIMAL_RISK = FIX / "minimal_risk.yaml"

#: CI-sized overrides, applied to the study (``--set``) and to the separate solves alike
SCENARIO_SETS = PHASES_SCENARIO_SETS
STUDY_SETS = PHASES_STUDY_SETS


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _sets(items):
    return [a for item in items for a in ("--set", item)]


# ----------------------------------------------------------------------------- Tom King phases
@pytest.fixture(scope="module")
def tk():
    """(cases from the YAML, the CLI's JSON list, separate results in file order, stderr)."""
    raw = yaml.safe_load((TK / "phases.yaml").read_text())
    # the CLI run the golden test shares (tests/golden/cases.py: once per session)
    out, err = phases_run()
    doc = json.loads(out)
    clear_cache()  # the separate solves build their own candidates and simulations
    options = raw["solve"]
    separate = []
    for case in raw["cases"]:
        sc = load_scenario(TK / case["scenario"], SCENARIO_SETS)
        separate.append(
            solve_scenario(sc, min_nlv_search=options["min_nlv"], diagnostics_level="light")
        )
    return raw["cases"], doc, separate, err


def test_phases_json_equals_separate_solves(tk):
    cases, doc, separate, _ = tk
    assert isinstance(doc, list)
    assert [d["case"] for d in doc] == [c["name"] for c in cases]
    for d, res in zip(doc, separate, strict=True):
        ref = json.loads(res.to_json())
        assert set(d) == set(ref) | {"case"}  # solve --json's keys plus case
        v, rv = d["verdict"], ref["verdict"]
        assert v["status"] == rv["status"]
        assert v["max_income"] == pytest.approx(rv["max_income"], rel=1e-9, abs=1e-9)
        assert v["chosen_income"] == pytest.approx(rv["chosen_income"], rel=1e-9, abs=1e-9)
        assert v["achievement"] == pytest.approx(rv["achievement"], rel=1e-9, abs=1e-12)
        assert v["min_nlv"] == rv["min_nlv"]
        assert v["success_probability"] == pytest.approx(rv["success_probability"])
        assert v["success_probability_ci"] == pytest.approx(rv["success_probability_ci"])
        book = sorted((p["id"], p["contracts"]) for p in d["positions"])
        assert book == sorted((p["id"], p["contracts"]) for p in ref["positions"])
        for key in ("expected_monthly_income", "bp_used_pct", "theta_per_day"):
            assert d["portfolio"][key] == pytest.approx(ref["portfolio"][key], rel=1e-9)
        assert d["portfolio"]["cvar"]["value"] == pytest.approx(ref["portfolio"]["cvar"]["value"])
        # the study's options were in force: light diagnostics, minimum-account search run
        assert v["minimal_relaxation_note"].startswith("not computed")
        assert v["min_nlv"]["status"] != "not_searched"
    # the phases differ (each its own file): the comparison is not four copies of one solve
    assert len({d["verdict"]["target"] for d in doc}) == 4
    # the published phase-4 book is non-empty and costs are part of it
    assert doc[3]["positions"] and doc[3]["portfolio"]["costs_per_month"]["total"] > 0


def test_phases_progress_goes_to_stderr(tk):
    *_, err = tk
    assert "solved 4 points" in err and "4/4" in err


def test_phase_table_renders_the_results_in_80_columns(tk):
    cases, _, separate, _ = tk
    study = load_study(TK / "phases.yaml")
    from optimizer.studies.study import expand

    runs = [CaseRun(p, r) for p, r in zip(expand(study), separate, strict=True)]
    buf = io.StringIO()
    render_phases(phase_table(runs), Console(file=buf, width=80, color_system=None))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^(max income / month|chosen book income|verdict|NLV)\s{2,}(.*)$", line)
        if m:
            rows[m.group(1)] = m.group(2).split()
    v = [r.verdict for r in separate]
    assert rows["max income / month"] == [f"{x.max_income:,.0f}" for x in v]
    assert rows["chosen book income"] == [f"{x.chosen_income:,.0f}" for x in v]
    assert rows["verdict"] == [x.status.value for x in v]
    assert rows["NLV"] == [f"{r.portfolio['net_liq']:,.0f}" for r in separate]


# ----------------------------------------------------------------------------- small study
SMALL = """\
name: "minimal risk, two targets"
base: {base}
overrides: {{target.success_probability: null}}
cases:
  - {{name: "Target 100", overrides: {{target.monthly_income: 100}}}}
  - {{name: "Target 500 at 60k", overrides: {{target.monthly_income: 500, account.net_liq: 60000}}}}
solve: {{diagnostics: full, min_nlv: true}}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    study = d / "small.yaml"
    study.write_text(SMALL.format(base=MINIMAL_RISK))
    return study


def test_small_study_table_plots_and_minimal_relaxation(small, capsys, tmp_path):
    plot_dir = tmp_path / "plots"  # created by the command
    code, out, err = run(["phases", str(small), "--plot-dir", str(plot_dir)], capsys)
    assert code == 0, err
    # the table and notes fit 80 columns; written paths are printed whole, on one line
    table = [line for line in out.splitlines() if not line.startswith("wrote: ")]
    assert max(len(line) for line in table) <= 80
    clear_cache()
    sc = load_scenario(
        MINIMAL_RISK,
        ["target.success_probability=null", "target.monthly_income=500", "account.net_liq=60000"],
    )
    ref = solve_scenario(sc)
    steps = [relaxation_text(s) for s in ref.verdict.minimal_relaxation]
    assert steps, "the 500 target must need a relaxation for this test to mean something"
    for s in steps:
        assert s in out
    assert f"{len(steps)} cap" in out
    assert f"{ref.verdict.min_nlv.value:,.0f}" in out
    for name in ("phase_bars.png", "income_vs_nlv.png"):
        data = (plot_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote: {plot_dir / name}" in out


def test_income_curve_passes_through_the_verdict_and_brackets_min_nlv():
    sc = load_scenario(
        MINIMAL_RISK, ["target.success_probability=null", "target.monthly_income=500"]
    )
    res = solve_scenario(sc, diagnostics_level="light")
    v = res.verdict
    curve = income_curve(sc)
    assert list(curve["multiple"]) == pytest.approx(sorted(CURVE_MULTIPLES))
    at_one = curve.loc[np.isclose(curve["multiple"], 1.0), "max_income"].item()
    assert at_one == pytest.approx(v.max_income, rel=1e-9)  # the same MILP as the verdict's
    inc = curve["max_income"].to_numpy()
    assert np.all(np.diff(inc) >= -1e-6)  # caps grow with the account: never less income
    # the minimum account of the verdict's bisection: the target is reached there, not 1% below
    assert v.min_nlv.value is not None
    mn = v.min_nlv.value
    at = income_curve(sc, nlvs=[mn * 0.99, mn])["max_income"].to_numpy()
    assert at[1] >= v.target * (1 - 1e-4) and at[0] < v.target


# ----------------------------------------------------------------------------- errors
BAD_STUDIES = {
    "unknown_top": ("bogus: 1\ncases:\n  - {name: a}\n", "bogus"),
    "unknown_case_key": ("cases:\n  - {name: a, colour: red}\n", "cases.0.colour"),
    "bad_point": (
        "cases:\n  - {name: a}\n  - {name: b, overrides: {account.net_liq: -5}}\n",
        "cases[1]: minimal_risk.yaml: account.net_liq",
    ),
    "bad_point_key": (
        "cases:\n  - {name: a, overrides: {income.colour: 3}}\n",
        "cases[0]: minimal_risk.yaml: income.colour",
    ),
    "no_cases": ("cases: []\n", "at least one case"),
}


@pytest.mark.parametrize("name", sorted(BAD_STUDIES))
def test_bad_study_one_line_exit_2(name, capsys, tmp_path, monkeypatch):
    body, field = BAD_STUDIES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: bad\nbase: {MINIMAL_RISK}\n{body}")
    monkeypatch.setattr("optimizer.pipeline.solve_scenario", _no_solve)
    code, out, err = run(["phases", str(path), "--json"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], err


def _no_solve(*a, **k):  # pragma: no cover - reached only when a check is missing
    raise AssertionError("solved before the inputs were checked")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--set", "income.paths=abc"], "cases[0]: minimal_risk.yaml: income.paths"),
        (["--set", "income.paths"], "dotted.path=value"),
        (["--set", "solve.min_nlv=maybe"], "solve.min_nlv"),
        (["--set", "solve.bogus=1"], "solve.bogus"),
        (["--plot-dir", "{file}"], "--plot-dir"),
        (["--plot-dir", "{missing}/x"], "--plot-dir: folder"),
    ],
)
def test_bad_flags_fail_before_solving(extra, field, small, capsys, tmp_path, monkeypatch):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    extra = [e.format(file=afile, missing=tmp_path / "missing") for e in extra]
    monkeypatch.setattr("optimizer.pipeline.solve_scenario", _no_solve)
    code, out, err = run(["phases", str(small), *extra], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and field in err, err


def test_grid_study_is_not_a_phase_table(capsys, monkeypatch):
    monkeypatch.setattr("optimizer.pipeline.solve_scenario", _no_solve)
    code, _, err = run(["phases", str(FIX / "sweep_small.yaml")], capsys)
    assert code == 2 and "needs a study with cases" in err


# ----------------------------------------------------------------------------- real process
def test_json_stdout_is_exactly_one_document(tmp_path):
    study = tmp_path / "one.yaml"
    study.write_text(
        f"name: one\nbase: {MINIMAL_RISK}\ncases:\n  - {{name: only}}\n"
        "solve: {diagnostics: light, min_nlv: false}\n"
    )
    script = Path(sys.executable).parent / "thetaplan"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "optimizer.cli.app"]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [*cmd, "phases", str(study), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the whole of stdout: one document, nothing around it
    assert [d["case"] for d in doc] == ["only"]
    assert proc.stdout.lstrip().startswith("[") and proc.stdout.rstrip().endswith("]")
    assert "Running HiGHS" not in proc.stdout and "Running HiGHS" in proc.stderr
    assert "solved 1 point " in proc.stderr


def test_many_cases_are_split_into_blocks_that_fit(tk):
    """Six cases at 80 columns: blocks of at most four, every case shown once, nothing cut."""
    _, _, separate, _ = tk
    study = load_study(TK / "phases.yaml")
    from optimizer.studies.study import expand

    points = expand(study)
    runs = [CaseRun(p, r) for p, r in zip(points, separate, strict=True)]
    table = phase_table(runs + runs[:2])
    table.loc[4:, "case"] = ["Phase 1 again", "Phase 2 again"]
    table.loc[5, ["min_nlv", "min_nlv_note"]] = [float("nan"), "not searched"]
    buf = io.StringIO()
    render_phases(table, Console(file=buf, width=80, color_system=None))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "cases 1–4 of 6" in text and "cases 5–6 of 6" in text
    verdicts = [
        w for line in text.splitlines() if line.startswith("verdict") for w in line.split()[1:]
    ]
    assert verdicts == list(table["status"])
    assert min_nlv_text(table.iloc[5]) == "not searched"
    # searched: a money figure when found under positions.scale_with_nlv, else "none"
    first = table.iloc[0]
    assert min_nlv_text(first) == (
        money(first["min_nlv"]) if np.isfinite(first["min_nlv"]) else "none"
    )
