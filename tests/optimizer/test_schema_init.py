"""``thetaplan schema KIND`` (issue 20): the JSON Schema of each file kind from its pydantic
model; the reference in ``docs/schema/`` is kept equal to it, and the shipped files validate
against it (checked with the ``jsonschema`` reference implementation where installed, else
structurally)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimizer.cli.commands.schema import KINDS, schema_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_reference_is_the_command_output(kind):
    doc = json.loads((ROOT / "docs" / "schema" / f"{kind}.schema.json").read_text())
    assert doc == schema_of(kind), (
        "regenerate: thetaplan schema KIND > docs/schema/KIND.schema.json"
    )
    assert "base_dir" not in doc.get("properties", {})


def test_cli_prints_json_only_and_refuses_unknown_kinds():
    run = [sys.executable, "-m", "optimizer.cli", "schema"]
    ok = subprocess.run([*run, "study"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["title"] == "thetaplan study file"
    bad = subprocess.run([*run, "trades"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert (
        bad.stderr
        == "error: schema: unknown kind 'trades'; one of scenario, study, position, audit, ledger\n"
    )


def test_the_shipped_scenario_names_only_schema_fields():
    schema = schema_of("scenario")
    raw = yaml.safe_load((ROOT / "scenarios/tom_king/phase4.yaml").read_text())
    assert set(raw) <= set(schema["properties"])
    assert set(schema["required"]) <= set(raw)
    try:
        import jsonschema
    except ImportError:
        return
    raw["valuation_time"] = str(raw["valuation_time"])
    jsonschema.validate(raw, schema)


def test_init_writes_a_starter_that_solves_and_never_overwrites(tmp_path, capsys):
    """``thetaplan init`` (issue 20): a commented scenario that validates and sizes a book."""
    from optimizer.cli.app import main
    from optimizer.inputs.spec import load_scenario
    from optimizer.pipeline import solve_scenario

    path = tmp_path / "plan.yaml"
    with pytest.raises(SystemExit) as info:
        main(["init", str(path)])
    assert info.value.code == 0
    text = path.read_text()
    assert text.count("#") > 10 and "{DATA}" not in text
    sc = load_scenario(path)
    res = solve_scenario(sc, min_nlv_search=False, diagnostics_level="light")
    assert res.positions["contracts"].sum() > 0
    assert res.portfolio["expected_monthly_income"] > 0
    before = path.read_text()
    with pytest.raises(SystemExit) as info:
        main(["init", str(path)])
    assert info.value.code == 2 and "exists" in capsys.readouterr().err
    assert path.read_text() == before
