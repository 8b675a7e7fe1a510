"""Input that used to get through silently (issue 20): repeated YAML keys, booleans where numbers
belong, misspelt keys without a hint. Each is a one-line ``SpecError`` naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from models.errors import SpecError
from optimizer.inputs.spec import load_scenario, read_yaml_mapping
from optimizer.studies.study import load_study

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
MINIMAL = (FIX / "minimal.yaml").read_text()


@pytest.fixture
def scenario_file(tmp_path):
    """Write a scenario text to ``tmp_path`` with the fixture's chain path made absolute."""
    data = FIX.parents[2] / "scenarios" / "data"
    made = iter(range(1000))

    def make(text: str) -> Path:
        p = tmp_path / f"s{next(made)}.yaml"
        p.write_text(text.replace("../../../scenarios/data/", f"{data}/"))
        return p

    return make


def test_a_repeated_key_is_refused_with_both_lines(scenario_file):
    text = MINIMAL.replace("  net_liq: 75000\n", "  net_liq: 75000\n  net_liq: 750\n", 1)
    with pytest.raises(SpecError, match=r"line 5: duplicate key 'net_liq' \(first on line 4\)"):
        load_scenario(scenario_file(text))


def test_a_repeated_key_in_a_nested_flow_mapping_is_refused(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: {b: 1, b: 2}\n")
    with pytest.raises(SpecError, match="duplicate key 'b'"):
        read_yaml_mapping(p, "scenario")


def test_a_merge_key_may_still_be_overridden(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 5\n")
    assert read_yaml_mapping(p, "scenario")["other"] == {"x": 5, "y": 2}
    assert yaml.safe_load(p.read_text())["other"] == {"x": 5, "y": 2}  # YAML's own reading


@pytest.mark.parametrize("value", ["true", "false", "yes"])
def test_a_boolean_is_not_a_number(scenario_file, value):
    text = MINIMAL.replace("  net_liq: 75000\n", f"  net_liq: {value}\n", 1)
    with pytest.raises(SpecError, match=r"account\.net_liq: expected a number, got (true|false)"):
        load_scenario(scenario_file(text))


def test_a_boolean_override_is_not_a_number():
    with pytest.raises(SpecError, match="target.monthly_income: expected a number, got true"):
        load_scenario(FIX / "minimal.yaml", ["target.monthly_income=true"])


def test_numbers_still_read_as_numbers():
    sc = load_scenario(
        FIX / "minimal.yaml", ["account.net_liq=80000", "target.monthly_income=2.5e3"]
    )
    assert sc.account.net_liq == 80000.0 and sc.target.monthly_income == 2500.0


def test_a_misspelt_required_key_says_what_it_may_be(scenario_file):
    text = MINIMAL.replace("target:\n", "targt:\n", 1)
    with pytest.raises(SpecError) as err:
        load_scenario(scenario_file(text))
    assert "targt: Extra inputs are not permitted; did you mean 'target'?" in str(err.value)


def test_a_misspelt_key_in_a_study_scenario_names_the_case(tmp_path, scenario_file):
    base = scenario_file(MINIMAL)
    study = tmp_path / "st.yaml"
    study.write_text(
        f"name: s\nbase: {base}\ncases:\n  - {{name: a, overrides: {{account.net_liqq: 1}}}}\n"
    )
    with pytest.raises(SpecError, match=r"cases\[0\]: .*account\.net_liqq: Extra inputs"):
        load_study(study)


ROOT = FIX.parents[2]


@pytest.mark.parametrize(
    "command, file, message",
    [
        ("phases", "scenarios/tom_king/phase4.yaml", "this is a scenario file, not a study file"),
        ("sweep", "scenarios/tom_king/phase4.yaml", "this is a scenario file, not a study file"),
        ("audit", "scenarios/tom_king/phase4.yaml", "this is a scenario file, not an audit file"),
        ("solve", "scenarios/tom_king/phases.yaml", "this is a study file, not a scenario file"),
        ("backtest", "scenarios/tom_king/phases.yaml", "this is a study file, not a scenario"),
        ("solve", "scenarios/quantai/capital_scenarios.yaml", "this is an audit file, not a"),
    ],
)
def test_a_file_of_the_wrong_kind_is_named(command, file, message, capsys):
    from optimizer.cli.app import main

    with pytest.raises(SystemExit) as info:
        main([command, str(ROOT / file)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_BOMB)
    assert len(_BOMB) < 1000
    t0 = __import__("time").process_time()
    with pytest.raises(SpecError, match="expands to more than 200,000 values"):
        read_yaml_mapping(p, "study")
    assert __import__("time").process_time() - t0 < 5  # CPU, not wall: bounded work


def test_an_alias_bomb_in_a_set_value_is_refused():
    value = "{" + _BOMB.replace("\n", ", ").rstrip(", ") + "}"
    with pytest.raises(SpecError, match=r"--set name: value refused: the document expands"):
        load_scenario(FIX / "minimal.yaml", [f"name={value}"])


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    p = tmp_path / "deep.yaml"
    p.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(SpecError, match="nested deeper than 100 levels"):
        read_yaml_mapping(p, "scenario")


def test_a_huge_integer_is_refused(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "9" * 5000 + "\n")
    with pytest.raises(SpecError, match="file refused"):
        read_yaml_mapping(p, "scenario")


def test_a_fifo_is_not_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        read_yaml_mapping(fifo, "scenario")


def test_a_large_file_is_refused(tmp_path):
    p = tmp_path / "large.yaml"
    p.write_text("a: '" + "x" * 1_100_000 + "'\n")
    with pytest.raises(SpecError, match="larger than 1,000,000 bytes"):
        read_yaml_mapping(p, "scenario")


@pytest.mark.parametrize("n, message", [(200, "at most 40 items"), (30, "too many legs")])
def test_a_position_with_many_legs_fails_before_the_grouping_search(tmp_path, capsys, n, message):
    """200 legs enumerated O(n^4) Reg-T blocks before the size check (issue 20)."""
    import time

    from optimizer.cli.app import main

    legs = [
        {
            "right": "C" if i % 2 else "P",
            "strike": 40 + i,
            "expiry": "2025-03-21",
            "side": "short" if i % 3 else "long",
            "quantity": 1,
            "price": 1.0,
        }
        for i in range(n)
    ]
    p = tmp_path / "pos.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "underlying": "XYZ",
                "underlying_price": 45,
                "multiplier": 100,
                "margin_class": "equity",
                "legs": legs,
            }
        )
    )
    t0 = time.process_time()
    with pytest.raises(SystemExit) as info:
        main(["margin", str(p)])
    assert info.value.code == 2 and time.process_time() - t0 < 10
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "old, new, where",
    [
        ("name: minimal test scenario", 'name: "evil \\e[2J name"', "name: control character"),
        ("  zero_dte:\n", '  "zero\\u0007dte":\n', "strategies.zero\\x07dte: control character"),
    ],
)
def test_control_characters_in_names_are_refused(scenario_file, old, new, where):
    """An escape sequence in a name would reach the terminal and the reports (issue 20)."""
    assert old in MINIMAL
    with pytest.raises(SpecError) as err:
        load_scenario(scenario_file(MINIMAL.replace(old, new, 1)))
    assert where in str(err.value) and "\x1b" not in str(err.value)


def test_markdown_values_are_escaped():
    from optimizer.cli.commands.track import _md_escape

    assert _md_escape("<script>alert(1)</script> | x & y") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\| x &amp; y"
    )
    assert _md_escape(3.5) == 3.5


@pytest.mark.parametrize(
    "item, message",
    [
        ("streams.scalping.trades_per_day=1e9", "less than or equal to 1000"),
        ("target_monthly=true", "expected a number, got true"),
    ],
)
def test_audit_numbers_are_bounded(item, message):
    from optimizer.audit.schema import load_audit

    with pytest.raises(SpecError, match=message):
        load_audit(ROOT / "scenarios/quantai/capital_scenarios.yaml", [item])


def test_a_huge_grid_is_refused_before_any_point_is_built(tmp_path):
    import time

    study = tmp_path / "big.yaml"
    axis = ", ".join(str(10 + i * 0.01) for i in range(1000))
    study.write_text(
        f"name: big\nbase: {FIX / 'minimal.yaml'}\n"
        f"grid: {{axes: {{market.vix: [{axis}], account.net_liq: [{axis}]}}}}\n"
    )
    t0 = time.process_time()
    with pytest.raises(SpecError, match="1,000,000 points; a study holds at most 20,000"):
        load_study(study)
    assert time.process_time() - t0 < 5


def test_a_generic_strategy_name_has_no_tom_king_position_limit(scenario_file):
    """The default ``max_positions: phase`` is TK's table; a strategy it does not list gets no
    count limit (and a note) instead of an error; stated explicitly, it is still an error."""
    from optimizer.inputs.limits import resolve_limits

    text = MINIMAL.replace("  zero_dte:\n", "  wheel:\n", 1).replace(
        "    - zero_dte", "    - wheel"
    )
    lim = resolve_limits(load_scenario(scenario_file(text)))
    assert lim.max_positions["wheel"] is None
    explicit = text.replace("  wheel:\n", "  wheel:\n    max_positions: phase\n", 1)
    with pytest.raises(SpecError, match="strategies.wheel.max_positions: unknown strategy 'wheel'"):
        resolve_limits(load_scenario(scenario_file(explicit)))
