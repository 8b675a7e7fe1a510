"""The margin dispatcher gives each model's own answer, and refuses what a model cannot price."""

from __future__ import annotations

from datetime import datetime

import pytest

from models.errors import ModelError
from models.legs import Leg, Right
from models.margin.dispatch import MarginModel, margin_requirement
from models.margin.portfolio import portfolio_margin
from models.margin.reg_t import MarginClass, reg_t
from models.margin.span import span_margin

C, P = Right.CALL, Right.PUT
EXP = datetime(2025, 3, 21, 16, 0)
NOW = datetime(2025, 2, 21, 16, 0)
CONDOR = [
    Leg(P, 4800, EXP, -1, 30.0),
    Leg(P, 4750, EXP, 1, 22.0),
    Leg(C, 5200, EXP, -1, 20.0),
    Leg(C, 5250, EXP, 1, 14.0),
]
IVS, T = [0.2, 0.21, 0.17, 0.16], 28 / 365


def test_reg_t_is_the_reg_t_rule():
    direct = reg_t(CONDOR, 5000.0, 100, MarginClass.BROAD_BASED_INDEX, valuation_time=NOW)
    via = margin_requirement(
        "reg_t", CONDOR, 5000.0, 100, margin_class=MarginClass.BROAD_BASED_INDEX, valuation_time=NOW
    )
    assert via == direct
    # an iron condor at its maximum loss: 50-point wings x 100 - the net credit 14 x 100
    assert via.amount == pytest.approx(50 * 100 - 14 * 100)


def test_portfolio_is_portfolio_margin():
    kw = {"ivs": IVS, "t": T, "rate": 0.04, "div_yield": 0.013}
    direct = portfolio_margin(CONDOR, 5000.0, 100, "high_cap_broad_index", **kw)
    via = margin_requirement(
        MarginModel.PORTFOLIO, CONDOR, 5000.0, 100, pm_class="high_cap_broad_index", **kw
    )
    assert via == direct


def test_span_is_span_margin():
    legs = [Leg(P, 4800, EXP, -1, 30.0), Leg(C, 5200, EXP, -1, 20.0)]
    direct = span_margin(legs, 5000.0, 50, "ES", ivs=IVS[:2], t=T, rate=0.04)
    via = margin_requirement("span", legs, 5000.0, 50, symbol="ES", ivs=IVS[:2], t=T, rate=0.04)
    assert via == direct


@pytest.mark.parametrize(
    ("model", "kw", "message"),
    [
        ("cboe", {}, "unknown margin model 'cboe'"),
        ("reg_t", {}, "reg_t margin needs the underlying's margin class"),
        ("span", {"symbol": "ES"}, "span margin needs each leg's implied vol"),
        ("portfolio", {"ivs": IVS, "t": T}, "portfolio margin needs a portfolio-margin class"),
    ],
)
def test_missing_inputs_are_refused(model, kw, message):
    with pytest.raises(ModelError, match=message):
        margin_requirement(model, CONDOR, 5000.0, 100, **kw)
