"""``thetaplan margin POSITION.yaml --json`` and the span / portfolio wiring of candidates.

The JSON document must be the only thing on stdout (checked through CliRunner and a real
subprocess of the installed ``thetaplan`` entry point); errors stay one ``error: ...`` line on
stderr with exit code 2. The candidate ``_margin`` tests check that ``margin.model: span`` and
``portfolio`` reach models.margin.span / models.margin.portfolio with the candidate's own IVs, time
and rates.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from models.legs import Leg, Right
from models.margin.portfolio import portfolio_margin
from models.margin.span import span_margin
from models.strategies import Candidate
from optimizer.cli.commands.margin import load_position, position_requirement, register
from optimizer.inputs.candidates import _margin
from optimizer.inputs.spec import MarginSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "positions"
THETAPLAN = Path(sys.executable).with_name("thetaplan")


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)

    @app.callback()
    def _root() -> None:  # keep `margin` as a sub-command
        pass

    return app


def _run(*args: str) -> subprocess.CompletedProcess:
    cmd = (
        [str(THETAPLAN), *args]
        if THETAPLAN.exists()
        else [sys.executable, "-c", "from optimizer.cli.app import main; main()", *args]
    )
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_json_via_clirunner_is_the_only_stdout():
    result = CliRunner().invoke(
        _app(), ["margin", str(FIXTURES / "spx_iron_condor.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # wider side 30 - credit 4.10 = 25.90 x 100 = 2,590
    assert doc["requirement"] == pytest.approx(2590.0)
    assert (doc["currency"], doc["model"], doc["underlying"]) == ("USD", "reg_t", "SPX")
    assert "iron condor" in doc["rule"]
    assert [lg["quantity"] for lg in doc["legs"]] == [1, -1, -1, 1]
    assert doc["legs"][0] == {
        "right": "P",
        "strike": 4870.0,
        "expiry": "2025-02-21T16:00:00",
        "quantity": 1,
        "price": 2.0,
    }
    assert sum(c["amount"] for c in doc["components"]) == pytest.approx(doc["requirement"])


def test_json_via_a_real_subprocess():
    proc = _run("margin", str(FIXTURES / "spx_lt112.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # debit spread 8.00 x 100 + 2 x (16 + 440) x 100 = 800 + 91,200 = 92,000
    assert doc["requirement"] == pytest.approx(92_000.0)
    assert set(doc) >= {"requirement", "rule", "legs", "currency", "model"}


def test_json_errors_stay_one_line_on_stderr(tmp_path):
    f = tmp_path / "es.yaml"
    f.write_text(
        "underlying: ES\nunderlying_price: 5000\nlegs:\n"
        "  - {right: P, strike: 4900, expiry: 2025-02-21, quantity: -1, price: 3}\n"
    )
    proc = _run("margin", str(f), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "Reg-T does not apply to futures options" in proc.stderr
    # span without a valuation time: the position file is refused, one line, exit 2
    g = tmp_path / "es_span.yaml"
    g.write_text("model: span\n" + f.read_text())
    proc = _run("margin", str(g), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "valuation_time: required for model span" in proc.stderr


def test_position_file_selects_span(tmp_path):
    # ES short 4900 put, F 5000, IV stated 20%, 30 days to the 16:00 expiry
    f = tmp_path / "es_span.yaml"
    f.write_text(
        "underlying: ES\nunderlying_price: 5000\nmodel: span\n"
        "valuation_time: 2025-02-19T16:00:00\nlegs:\n"
        "  - {right: P, strike: 4900, expiry: 2025-03-21, quantity: -1, price: 40, iv: 0.2}\n"
    )
    result = CliRunner().invoke(_app(), ["margin", str(f), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    legs = [Leg(Right.PUT, 4900, datetime(2025, 3, 21, 16), -1, 40.0)]
    direct = span_margin(legs, 5000, 50, "ES", ivs=0.2, t=30 / 365)
    assert doc["model"] == "span"
    assert doc["requirement"] == pytest.approx(direct.amount)
    assert doc["rule"].startswith("SPAN-like ES")
    # the human-readable table works too
    text = CliRunner().invoke(_app(), ["margin", str(f)], terminal_width=200)
    assert text.exit_code == 0 and "SPAN-like" in text.output


def test_position_file_selects_portfolio_with_iv_implied_from_price(tmp_path):
    f = tmp_path / "spx_pm.yaml"
    f.write_text(
        "underlying: SPX\nunderlying_price: 5000\nmodel: portfolio\n"
        "valuation_time: 2025-02-19T16:00:00\nlegs:\n"
        "  - {right: P, strike: 4800, expiry: 2025-03-21, quantity: -1, price: 30}\n"
    )
    pos = load_position(f)
    req = position_requirement(pos)
    assert req.rule.startswith("portfolio margin high_cap_broad_index")
    # re-deriving with the implied vol gives the same requirement
    from models.market.pricing import implied_vol

    iv = float(implied_vol(30.0, 5000.0, 4800.0, 30 / 365, 1.0, False).iv)
    direct = portfolio_margin(pos.legs, 5000, 100, "high_cap_broad_index", ivs=iv, t=30 / 365)
    assert req.amount == pytest.approx(direct.amount, rel=1e-9)


def test_portfolio_refuses_futures(tmp_path):
    f = tmp_path / "es_pm.yaml"
    f.write_text(
        "underlying: ES\nunderlying_price: 5000\nmodel: portfolio\n"
        "valuation_time: 2025-02-19T16:00:00\nlegs:\n"
        "  - {right: P, strike: 4900, expiry: 2025-03-21, quantity: -1, price: 40, iv: 0.2}\n"
    )
    with pytest.raises(ModelError, match="portfolio margin does not apply to ES"):
        position_requirement(load_position(f))


# ---------------------------------------------------------------------------------------------
# optimizer.inputs.candidates._margin wiring
# ---------------------------------------------------------------------------------------------


def _candidate(sym: str, legs, ivs, spot: float, t: float = 30 / 365, r: float = 0.04):
    return Candidate(
        id=f"x:{sym}",
        strategy="x",
        template="custom",
        underlying=sym,
        expiry=legs[0].expiry,
        t=t,
        spot=spot,
        forward=spot * math.exp(0.01 * t),
        discount_factor=math.exp(-r * t),
        atm_iv=0.2,
        legs=tuple(legs),
        ivs=tuple(ivs),
    )


def _spec(sym: str, model: str):
    margin = MarginSpec(model=model)
    return SimpleNamespace(underlyings={sym: SimpleNamespace(margin=None)}, margin=margin)


SCENARIO = SimpleNamespace(valuation_time=None, account=SimpleNamespace(currency="USD"))


def test_candidate_margin_span_and_portfolio():
    exp = datetime(2025, 3, 21, 16)
    es = _candidate("ES", [Leg(Right.PUT, 4900, exp, -1, 40.0)], [0.2], 5000.0)
    amount, ccy, rule = _margin(_spec("ES", "span"), es, get_instrument("ES"), SCENARIO)
    r = 0.04
    expected = span_margin(es.legs, 5000, 50, "ES", ivs=[0.2], t=es.t, rate=r).amount
    assert (amount, ccy) == (pytest.approx(expected), "USD")
    assert rule.startswith("SPAN-like ES")

    spx = _candidate("SPX", [Leg(Right.PUT, 4800, exp, -1, 30.0)], [0.2], 5000.0)
    amount, ccy, rule = _margin(_spec("SPX", "portfolio"), spx, get_instrument("SPX"), SCENARIO)
    q = r - 0.01  # forward = spot e^{0.01 t} with r = 4%: q = 3%
    expected = portfolio_margin(
        spx.legs, 5000, 100, "high_cap_broad_index", ivs=[0.2], t=spx.t, rate=r, div_yield=q
    ).amount
    assert amount == pytest.approx(expected)
    with pytest.raises(SpecError, match="portfolio margin does not apply to ES"):
        _margin(_spec("ES", "portfolio"), es, get_instrument("ES"), SCENARIO)


def test_candidate_margin_reg_t_applies_the_leverage_factor():
    # SSO put 90 @2.00 at 100: 2 + max(2 x 15% x 100 - 10, 2 x 10% x 90) = 22 -> 2,200
    exp = datetime(2025, 3, 21, 16)
    sso = _candidate("SSO", [Leg(Right.PUT, 90, exp, -1, 2.0)], [0.4], 100.0)
    amount, _, rule = _margin(_spec("SSO", "reg_t"), sso, get_instrument("SSO"), SCENARIO)
    assert amount == pytest.approx(2200.0)
    assert "leverage 2x" in rule


def test_candidate_matrix_helpers_match_the_standalone_functions():
    # rows of the (n_candidates, n_moves) matrices the book-level epigraph will use
    import numpy as np

    from models.margin.portfolio import candidate_pm_move_pnl, pm_move_pnl
    from models.margin.span import candidate_span_risk_array, span_risk_array

    exp = datetime(2025, 3, 21, 16)
    es = _candidate("ES", [Leg(Right.PUT, 4900, exp, -1, 40.0)], [0.2], 5000.0)
    np.testing.assert_allclose(
        candidate_span_risk_array(es, get_instrument("ES")),
        span_risk_array(es.legs, 5000, 50, "ES", ivs=[0.2], t=es.t, rate=0.04),
        rtol=1e-12,
    )
    spx = _candidate("SPX", [Leg(Right.PUT, 4800, exp, -1, 30.0)], [0.2], 5000.0)
    pnl = candidate_pm_move_pnl(spx, get_instrument("SPX"))
    assert pnl.shape == (10,)
    np.testing.assert_allclose(
        pnl,
        pm_move_pnl(
            spx.legs,
            5000,
            100,
            "high_cap_broad_index",
            ivs=[0.2],
            t=spx.t,
            rate=0.04,
            div_yield=0.03,
        ),
        rtol=1e-12,
    )
    with pytest.raises(ModelError, match="portfolio margin does not apply to ES"):
        candidate_pm_move_pnl(es, get_instrument("ES"))
