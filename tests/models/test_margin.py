"""Reg-T / fixed margin: hand-worked examples (arithmetic written out) and hypothesis invariants.

References: Cboe Margin Manual; FINRA Rule 4210(f)(2) and Regulatory Notice 12-44; domain.md
section 9 (tastytrade strangle 1,030 and 1-wide vertical 65 examples). The last section tests the
``thetaplan margin`` position-file loader and command (optimizer/cli/commands/margin.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from models.legs import Leg, Right
from models.margin.reg_t import MarginClass, MarginRequirement, fixed, reg_t
from optimizer.cli.commands.margin import load_position, register

C, P, U = Right.CALL, Right.PUT, Right.UNDERLYING
EQ, IDX = MarginClass.EQUITY, MarginClass.BROAD_BASED_INDEX
T0 = datetime(2025, 1, 10, 10, 30)
EXP = datetime(2025, 2, 21, 16, 0)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "positions"


def leg(right, strike, qty, price, expiry=EXP):
    return Leg(right=right, strike=strike, expiry=expiry, quantity=qty, price=price)


def components_sum(req: MarginRequirement) -> float:
    return sum(a for _, a in req.components)


# ---------------------------------------------------------------------------------------------
# Hand-worked examples
# ---------------------------------------------------------------------------------------------


def test_tastytrade_short_strangle_is_1030():
    # domain.md section 9: S = 45, short 47 C @ 2.10, short 43 P @ 1.20, equity 20%
    # call: 2.10 + max(0.20*45 - (47-45), 0.10*45) = 2.10 + max(7.00, 4.50) = 9.10 -> 910
    # put:  1.20 + max(0.20*45 - (45-43), 0.10*43) = 1.20 + max(7.00, 4.30) = 8.20 -> 820
    # strangle: greater side 910 + other premium 120 = 1,030
    req = reg_t([leg(C, 47, -1, 2.10), leg(P, 43, -1, 1.20)], 45, 100, EQ)
    assert req.amount == pytest.approx(1030.0)
    assert req.components == (("short strangle C47/P43", pytest.approx(1030.0)),)
    assert "greater naked side (call 9.10) + put premium 1.20" in req.rule


def test_tastytrade_credit_vertical_is_65():
    # 1-wide put credit spread for 0.35: (1.00 - 0.35) * 100 = 65
    req = reg_t([leg(P, 100, -1, 0.50), leg(P, 99, 1, 0.15)], 110, 100, EQ)
    assert req.amount == pytest.approx(65.0)
    assert "width 1.00 - net credit 0.35" in req.rule


def test_spx_iron_condor():
    # puts 4870/4900, calls 5100/5130, credit (3.50 - 2.00) + (3.20 - 0.60) = 4.10
    # wider side 30 - 4.10 = 25.90 -> 2,590 (one side only: both cannot lose at expiry)
    legs = [
        leg(P, 4870, 1, 2.00),
        leg(P, 4900, -1, 3.50),
        leg(C, 5100, -1, 3.20),
        leg(C, 5130, 1, 0.60),
    ]
    req = reg_t(legs, 5000, 100, IDX)
    assert req.amount == pytest.approx(2590.0)
    assert "wider side width 30.00 - total credit 4.10 = 25.90 x 100 = 2,590.00" in req.rule


def test_broken_wing_iron_condor_uses_the_wider_side():
    # put wing 50 wide, call wing 30 wide, credit (6.00-2.50) + (3.00-1.50) = 5.00
    # 50 - 5 = 45 -> 4,500
    legs = [
        leg(P, 4850, 1, 2.50),
        leg(P, 4900, -1, 6.00),
        leg(C, 5100, -1, 3.00),
        leg(C, 5130, 1, 1.50),
    ]
    assert reg_t(legs, 5000, 100, IDX).amount == pytest.approx(4500.0)


def test_iron_butterfly():
    # long 4950 P @25, short 5000 P @45, short 5000 C @44, long 5050 C @24: credit 40
    # 50 - 40 = 10 -> 1,000
    legs = [leg(P, 4950, 1, 25), leg(P, 5000, -1, 45), leg(C, 5000, -1, 44), leg(C, 5050, 1, 24)]
    req = reg_t(legs, 5000, 100, IDX)
    assert req.amount == pytest.approx(1000.0)
    assert req.rule.count("iron butterfly") == 1


def test_spx_lt112_is_debit_spread_plus_two_naked_puts():
    # long 4650 P @53, short 4600 P @45 -> debit spread 8.00 -> 800
    # 2 naked 4400 P @16: 16 + max(0.15*5000 - (5000-4400), 0.10*4400)
    #                   = 16 + max(750 - 600, 440) = 16 + 440 = 456 -> 45,600 each
    # total 800 + 2 * 45,600 = 92,000
    legs = [leg(P, 4650, 1, 53.0), leg(P, 4600, -1, 45.0), leg(P, 4400, -2, 16.0)]
    req = reg_t(legs, 5000, 100, IDX, valuation_time=T0)
    assert req.amount == pytest.approx(92_000.0)
    assert dict(req.components) == {
        "put debit spread 4650/4600": pytest.approx(800.0),
        "2 x naked short put 4400": pytest.approx(91_200.0),
    }
    assert "(10% floor)" in req.rule


def test_spx_naked_put_15pct_branch_taken():
    # K = 4900 @20: 20 + max(0.15*5000 - 100, 0.10*4900) = 20 + max(650, 490) = 670 -> 67,000
    req = reg_t([leg(P, 4900, -1, 20.0)], 5000, 100, IDX)
    assert req.amount == pytest.approx(67_000.0)
    assert "(15% branch)" in req.rule


def test_spx_naked_put_10pct_floor_taken():
    # K = 4400 @3: 3 + max(0.15*5000 - 600, 0.10*4400) = 3 + max(150, 440) = 443 -> 44,300
    req = reg_t([leg(P, 4400, -1, 3.0)], 5000, 100, IDX)
    assert req.amount == pytest.approx(44_300.0)
    assert "(10% floor)" in req.rule


def test_equity_naked_calls_both_branches():
    # K = 105 @1: 1 + max(0.20*100 - 5, 0.10*100) = 1 + 15 = 16 -> 1,600
    assert reg_t([leg(C, 105, -1, 1.0)], 100, 100, EQ).amount == pytest.approx(1600.0)
    # K = 150 @0.10: 0.10 + max(20 - 50, 10) = 10.10 -> 1,010 (floor is 10% of S for calls)
    assert reg_t([leg(C, 150, -1, 0.10)], 100, 100, EQ).amount == pytest.approx(1010.0)
    # ITM call K = 90 @11: OTM amount 0: 11 + max(20, 10) = 31 -> 3,100
    assert reg_t([leg(C, 90, -1, 11.0)], 100, 100, EQ).amount == pytest.approx(3100.0)


def test_short_straddle():
    # S = 100, C100 @4.00, P100 @3.50: call 4 + 20 = 24, put 3.5 + 20 = 23.5
    # 24 + 3.50 = 27.50 -> 2,750
    req = reg_t([leg(C, 100, -1, 4.0), leg(P, 100, -1, 3.5)], 100, 100, EQ)
    assert req.amount == pytest.approx(2750.0)
    assert "short straddle" in req.rule


def test_call_debit_spread_costs_its_debit():
    # long 100 C @3.00, short 105 C @1.20 -> 1.80 -> 180
    req = reg_t([leg(C, 100, 1, 3.0), leg(C, 105, -1, 1.2)], 100, 100, EQ)
    assert req.amount == pytest.approx(180.0)
    assert "debit 1.80" in req.rule


def test_wide_spread_is_capped_at_the_naked_requirement():
    # FINRA 4210: short leg needs the lesser of its naked requirement and the max loss
    # short 95 P @1.00: naked 1 + max(20 - 5, 9.5) = 16; width 95 - 10 = 85
    # min(85, 16) = 16 - net credit (1.00 - 0.01) = 15.01 -> 1,501
    req = reg_t([leg(P, 95, -1, 1.0), leg(P, 10, 1, 0.01)], 100, 100, EQ)
    assert req.amount == pytest.approx(1501.0)
    assert "min(width 85.00, naked short 16.00)" in req.rule


def test_long_options_paid_in_full_or_75pct_beyond_nine_months():
    near = T0 + timedelta(days=90)
    far = datetime(2026, 1, 16, 16)  # > 9 months after 2025-01-10
    # 100% x 5.00 x 100 = 500
    assert reg_t(
        [leg(C, 100, 1, 5.0, near)], 100, 100, EQ, valuation_time=T0
    ).amount == pytest.approx(500.0)
    # 75% x 20.00 x 100 = 1,500
    req = reg_t([leg(P, 100, 1, 20.0, far)], 100, 100, EQ, valuation_time=T0)
    assert req.amount == pytest.approx(1500.0)
    assert "75%" in req.rule
    # without a valuation time every long is paid in full (conservative): 2,000
    assert reg_t([leg(P, 100, 1, 20.0, far)], 100, 100, EQ).amount == pytest.approx(2000.0)


def test_calendar_with_the_short_further_out_is_long_plus_naked():
    # long C100 Mar @2.00 paid 200; short C100 Jun @4.00 naked 4 + max(20, 10) = 24 -> 2,400
    # the long expires first, so no spread: 200 + 2,400 = 2,600
    mar, jun = datetime(2025, 3, 21, 16), datetime(2025, 6, 20, 16)
    req = reg_t(
        [leg(C, 100, 1, 2.0, mar), leg(C, 100, -1, 4.0, jun)], 100, 100, EQ, valuation_time=T0
    )
    assert req.amount == pytest.approx(2600.0)


def test_diagonals_with_the_long_further_out_are_spreads():
    mar, jun = datetime(2025, 3, 21, 16), datetime(2025, 6, 20, 16)
    # long C100 Jun @6.00, short C105 Mar @2.00: no loss at the strikes -> debit 4.00 -> 400
    assert reg_t(
        [leg(C, 100, 1, 6.0, jun), leg(C, 105, -1, 2.0, mar)], 100, 100, EQ
    ).amount == pytest.approx(400.0)
    # long C110 Jun @1.50, short C105 Mar @2.00: width 5 - credit 0.50 = 4.50 -> 450
    assert reg_t(
        [leg(C, 110, 1, 1.5, jun), leg(C, 105, -1, 2.0, mar)], 100, 100, EQ
    ).amount == pytest.approx(450.0)


def test_cash_secured_put():
    # strike 43.00 - premium 1.20 = 41.80 -> 4,180
    req = reg_t([leg(P, 43, -1, 1.20)], 45, 100, EQ, cash_secured_puts=True)
    assert req.amount == pytest.approx(4180.0)
    assert "cash-secured put 43" in req.rule


def test_covered_call_is_half_the_stock():
    # 100 shares at 500 (one U leg) + short 510 C: 50% x 500 x 100 = 25,000; call needs nothing
    stock = Leg(right=U, strike=float("nan"), expiry=None, quantity=1, price=500.0)
    req = reg_t([stock, leg(C, 510, -1, 4.25)], 500, 100, EQ)
    assert req.amount == pytest.approx(25_000.0)
    assert "covered call 510" in req.rule
    # a second short call is not covered: + 4.25 + max(100 - 10, 50) = 94.25 -> 9,425
    req2 = reg_t([stock, leg(C, 510, -2, 4.25)], 500, 100, EQ)
    assert req2.amount == pytest.approx(25_000.0 + 9_425.0)


def test_scaled_lt112_scales_linearly():
    unit = [leg(P, 4650, 1, 53.0), leg(P, 4600, -1, 45.0), leg(P, 4400, -2, 16.0)]
    three = [leg(P, 4650, 3, 53.0), leg(P, 4600, -3, 45.0), leg(P, 4400, -6, 16.0)]
    assert reg_t(three, 5000, 100, IDX).amount == pytest.approx(3 * 92_000.0)
    assert reg_t(unit * 3, 5000, 100, IDX).amount == pytest.approx(3 * 92_000.0)


def test_strangle_plus_far_wing_pays_for_the_wing():
    # Reg-T gives no strangle relief between a spread and a naked short, so a far wing that
    # does not help is simply paid: 1,030 + 0.05 x 100 = 1,035 (documented counter-example
    # to "a long wing never increases the requirement" outside single-right structures)
    legs = [leg(C, 47, -1, 2.10), leg(P, 43, -1, 1.20), leg(P, 30, 1, 0.05)]
    assert reg_t(legs, 45, 100, EQ).amount == pytest.approx(1035.0)


def test_components_sum_to_amount_and_rule_names_the_class():
    legs = [
        leg(P, 4650, 1, 53.0),
        leg(P, 4600, -1, 45.0),
        leg(P, 4400, -2, 16.0),
        leg(C, 5300, -1, 9.0),
    ]
    req = reg_t(legs, 5000, 100, IDX)
    assert components_sum(req) == pytest.approx(req.amount)
    assert req.rule.startswith("Reg-T broad-based-index (naked 15%, floor 10%): ")
    assert "total" in req.rule


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_futures_class_is_refused():
    with pytest.raises(
        ModelError, match="Reg-T does not apply to futures options; use fixed or SPAN"
    ):
        reg_t([leg(P, 4900, -1, 3.0)], 5000, 50, MarginClass.FUTURES)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"legs": []}, "at least one leg"),
        ({"underlying_price": 0}, "underlying_price"),
        ({"underlying_price": float("nan")}, "underlying_price"),
        ({"multiplier": -100}, "multiplier"),
        ({"margin_class": "crypto"}, "unknown margin class"),
        ({"legs": ["not a leg"]}, "not a Leg"),
        ({"valuation_time": datetime(2025, 3, 1)}, "expired"),
    ],
)
def test_bad_inputs_raise_model_error(kwargs, match):
    args = {
        "legs": [leg(P, 4900, -1, 3.0)],
        "underlying_price": 5000,
        "multiplier": 100,
        "margin_class": IDX,
    }
    args.update(kwargs)
    vt = args.pop("valuation_time", None)
    with pytest.raises(ModelError, match=match):
        reg_t(
            args["legs"],
            args["underlying_price"],
            args["multiplier"],
            args["margin_class"],
            valuation_time=vt,
        )


def test_too_many_distinct_legs_raise():
    legs = [leg(P, 4000 + 10 * i, (-1) ** i, 1.0 + i) for i in range(13)]
    with pytest.raises(ModelError, match="too many legs"):
        reg_t(legs, 5000, 100, IDX)


def test_fixed_margin():
    assert fixed(2500).amount == 2500.0
    req = fixed(pct_of_nlv=0.025, nlv=75_000)  # v17 micro strangle 2.5% of GBP 75k
    assert req.amount == pytest.approx(1875.0)
    assert "2.5% of NLV 75,000.00" in req.rule
    for bad in (
        lambda: fixed(),
        lambda: fixed(100, pct_of_nlv=0.1, nlv=1),
        lambda: fixed(-1),
        lambda: fixed(float("nan")),
        lambda: fixed(pct_of_nlv=0.02),
        lambda: fixed(pct_of_nlv=2.5, nlv=1000),
        lambda: fixed(100, nlv=1000),
    ):
        with pytest.raises(ModelError):
            bad()


# ---------------------------------------------------------------------------------------------
# Hypothesis invariants
# ---------------------------------------------------------------------------------------------

S0 = 100.0
prices = st.floats(min_value=0.0, max_value=40.0, allow_nan=False)
strikes = st.integers(min_value=60, max_value=140).map(float)
expiries = st.sampled_from([EXP, EXP + timedelta(days=28)])
classes = st.sampled_from([EQ, IDX])


@st.composite
def random_legs(draw, max_legs=4):
    n = draw(st.integers(1, max_legs))
    out = []
    for _ in range(n):
        right = draw(st.sampled_from([C, P, C, P, U]))
        qty = draw(st.sampled_from([-2, -1, 1, 2]))
        if right is U:
            out.append(Leg(right=U, strike=float("nan"), expiry=None, quantity=qty, price=S0))
        else:
            out.append(leg(right, draw(strikes), qty, draw(prices), draw(expiries)))
    return out


@settings(max_examples=300, deadline=None)
@given(random_legs(), classes)
def test_requirement_is_finite_nonnegative_and_components_add_up(legs, mc):
    req = reg_t(legs, S0, 100, mc)
    assert req.amount >= 0 and req.amount < float("inf")
    assert components_sum(req) == pytest.approx(req.amount)


@st.composite
def short_with_wing(draw):
    right = draw(st.sampled_from([C, P]))
    k = draw(strikes)
    width = draw(st.integers(1, 40))
    k_wing = k - width if right is P else k + width
    p_short = draw(st.floats(min_value=0.01, max_value=30))
    p_wing = p_short * draw(st.floats(min_value=0, max_value=1))  # an OTM wing costs no more
    return leg(right, k, -1, p_short), leg(right, k_wing, 1, p_wing)


@settings(max_examples=300, deadline=None)
@given(short_with_wing(), classes)
def test_spread_never_exceeds_the_naked_short(pair, mc):
    short, wing = pair
    spread = reg_t([short, wing], S0, 100, mc).amount
    naked = reg_t([short], S0, 100, mc).amount
    assert spread <= naked + 1e-9


@settings(max_examples=300, deadline=None)
@given(st.data(), classes)
def test_adding_a_long_wing_to_single_right_shorts_never_increases(data, mc):
    right = data.draw(st.sampled_from([C, P]))
    shorts = data.draw(
        st.lists(
            st.tuples(strikes, st.floats(0.01, 30), st.sampled_from([-1, -2])),
            min_size=1,
            max_size=3,
        )
    )
    legs = [leg(right, k, q, p) for k, p, q in shorts]
    k, p, _ = data.draw(st.sampled_from(shorts))
    width = data.draw(st.integers(1, 40))
    wing = leg(right, k - width if right is P else k + width, 1, p * data.draw(st.floats(0, 1)))
    assert reg_t([*legs, wing], S0, 100, mc).amount <= reg_t(legs, S0, 100, mc).amount + 1e-9


@settings(max_examples=300, deadline=None)
@given(random_legs(max_legs=3), strikes, prices, expiries, classes)
def test_adding_any_long_costs_at_most_its_premium(legs, k, p, expiry, mc):
    extra = leg(P if k < S0 else C, k, 1, p, expiry)
    before = reg_t(legs, S0, 100, mc).amount
    after = reg_t([*legs, extra], S0, 100, mc).amount
    assert after <= before + p * 100 + 1e-6


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_legs(max_legs=3), st.integers(2, 3), classes)
def test_scaling_quantities_scales_linearly(legs, k, mc):
    scaled = [Leg(lg.right, lg.strike, lg.expiry, lg.quantity * k, lg.price) for lg in legs]
    assert reg_t(scaled, S0, 100, mc).amount == pytest.approx(
        k * reg_t(legs, S0, 100, mc).amount, rel=1e-9, abs=1e-6
    )


@settings(max_examples=100, deadline=None)
@given(random_legs(), classes)
def test_leg_order_does_not_matter(legs, mc):
    assert reg_t(legs, S0, 100, mc).amount == pytest.approx(reg_t(legs[::-1], S0, 100, mc).amount)


# ---------------------------------------------------------------------------------------------
# Position files and the `thetaplan margin` command
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "amount"),
    [
        ("spx_iron_condor.yaml", 2590.0),
        ("spx_lt112.yaml", 92_000.0),
        ("equity_strangle.yaml", 1030.0),
        ("spy_covered_call.yaml", 25_000.0),
    ],
)
def test_fixture_positions(name, amount):
    pos = load_position(FIXTURES / name)
    req = reg_t(
        pos.legs,
        pos.underlying_price,
        pos.multiplier,
        pos.margin_class,
        valuation_time=pos.valuation_time,
    )
    assert req.amount == pytest.approx(amount)


def test_position_defaults_come_from_the_instrument_table():
    pos = load_position(FIXTURES / "spx_iron_condor.yaml")
    assert (pos.multiplier, pos.margin_class, pos.currency) == (100.0, IDX, "USD")
    assert pos.legs[0].expiry == datetime(2025, 2, 21, 16, 0)  # bare date = 16:00 close
    assert [lg.quantity for lg in pos.legs] == [1, -1, -1, 1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "legs:\n  - {right: P, strike: -1, expiry: 2025-02-21, quantity: -1, price: 1}",
            "legs.0.strike: Input should be greater than 0",
        ),
        (
            "legs:\n  - {right: P, expiry: 2025-02-21, quantity: -1, price: 1}",
            "legs.0.strike: required for an option leg",
        ),
        ("legs:\n  - {right: P, strike: 10, quantity: -1, price: 1}", "legs.0.expiry: required"),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, quantity: -1}",
            "legs.0.price: required",
        ),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, quantity: 0, price: 1}",
            "legs.0.quantity: must be non-zero",
        ),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, side: short, quantity: -1, price: 1}",
            "legs.0.quantity: must be positive",
        ),
        ("legs:\n  - {right: U, strike: 10, quantity: 1}", "legs.0.strike: not allowed"),
        (
            "legs:\n  - {right: X, strike: 10, expiry: 2025-02-21, quantity: 1, price: 1}",
            "legs.0.right:",
        ),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, quantity: 1, price: .nan}",
            "legs.0.price:",
        ),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, quantity: 1.5, price: 1}",
            "legs.0.quantity:",
        ),
        (
            "legs:\n  - {right: P, strike: 10, expiry: 2025-02-21, quantity: 1, price: 1, colour: red}",
            "legs.0.colour: Extra inputs",
        ),
        ("legs: []", "legs: List should have at least 1 item"),
        ("legs: [}", "invalid YAML"),
    ],
)
def test_bad_position_files_name_the_field(tmp_path, body, message):
    f = tmp_path / "pos.yaml"
    f.write_text("underlying: SPX\nunderlying_price: 5000\n" + body + "\n")
    with pytest.raises(SpecError) as info:
        load_position(f)
    assert message in str(info.value)
    assert str(f) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_underlying_needs_multiplier_and_margin_class(tmp_path):
    f = tmp_path / "pos.yaml"
    f.write_text(
        "underlying: FOO\nunderlying_price: 50\nlegs:\n  - {right: P, strike: 45, expiry: 2025-02-21, quantity: -1, price: 1}\n"
    )
    with pytest.raises(
        SpecError, match=r"underlying: unknown instrument 'FOO'.*give multiplier and margin_class"
    ):
        load_position(f)


def test_missing_file_and_top_level_list(tmp_path):
    with pytest.raises(SpecError, match="cannot read position file"):
        load_position(tmp_path / "nope.yaml")
    f = tmp_path / "list.yaml"
    f.write_text("- 1\n")
    with pytest.raises(SpecError, match="a position file must be a YAML mapping"):
        load_position(f)


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)

    @app.callback()
    def _root() -> None:  # keep `margin` as a sub-command
        pass

    return app


def test_margin_command_prints_legs_requirement_and_rule():
    result = CliRunner().invoke(
        _app(), ["margin", str(FIXTURES / "spx_iron_condor.yaml")], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "2,590.00" in result.output
    assert "iron condor P 4870/4900 C 5100/5130" in result.output
    assert "wider side width 30.00 - total credit 4.10" in result.output


def test_margin_command_shows_repeated_blocks_literally():
    result = CliRunner().invoke(
        _app(), ["margin", str(FIXTURES / "spx_lt112.yaml")], terminal_width=300
    )
    assert result.exit_code == 0, result.output
    assert "2 x [naked short put 4400" in result.output
    assert "92,000.00" in result.output


def test_margin_command_futures_underlying_raises_model_error(tmp_path):
    f = tmp_path / "es.yaml"
    f.write_text(
        "underlying: ES\nunderlying_price: 5000\nlegs:\n  - {right: P, strike: 4900, expiry: 2025-02-21, quantity: -1, price: 3}\n"
    )
    result = CliRunner().invoke(_app(), ["margin", str(f)])
    assert isinstance(result.exception, ModelError)
    assert "Reg-T does not apply to futures options" in str(result.exception)


# ---------------------------------------------------------------------------------------------
# Complex spreads at their maximum loss (universal spread rule; FINRA 4210(f)(2)(G) as amended
# in 2012, Regulatory Notice 12-44). Before it, each of these was a debit vertical + a credit
# vertical.
# ---------------------------------------------------------------------------------------------


def test_balanced_long_call_butterfly_costs_its_debit():
    # SPX 4950/5000/5050 calls @ 60 / 30 / 8: debit 60 - 2 x 30 + 8 = 8.00
    # expiry payoff >= 0 everywhere (0 outside the wings, +50 at the body): max loss = debit
    # 8.00 x 100 = 800 (the vertical pairing gave debit 30.00 + credit spread 50 - 22 = 58.00
    # -> 5,800)
    fly = [leg(C, 4950, 1, 60.0), leg(C, 5000, -2, 30.0), leg(C, 5050, 1, 8.0)]
    req = reg_t(fly, 5000, 100, IDX)
    assert req.amount == pytest.approx(800.0)
    assert "universal spread rule" in req.rule
    assert "net debit 8.00 = 8.00 x 100 = 800.00" in req.rule
    # the two verticals on their own: debit 4950/5000 = 30.00 -> 3,000;
    # credit 5000/5050: width 50 - credit 22 = 28 -> 2,800; together 5,800 (the old answer)
    low = reg_t([leg(C, 4950, 1, 60.0), leg(C, 5000, -1, 30.0)], 5000, 100, IDX).amount
    high = reg_t([leg(C, 5000, -1, 30.0), leg(C, 5050, 1, 8.0)], 5000, 100, IDX).amount
    assert low + high == pytest.approx(5800.0)


def test_long_put_condor_costs_its_debit():
    # SPX puts +4800 @10, -4850 @14, -4900 @20, +4950 @28: debit 10 - 14 - 20 + 28 = 4.00
    # payoff at 4950+: 0; 4900: 50; 4850: 100 - 50 = 50; 4800: 150 - 100 - 50 = 0; 0: 0
    # -> max loss = debit 4.00 -> 400
    legs = [
        leg(P, 4800, 1, 10.0),
        leg(P, 4850, -1, 14.0),
        leg(P, 4900, -1, 20.0),
        leg(P, 4950, 1, 28.0),
    ]
    req = reg_t(legs, 5000, 100, IDX)
    assert req.amount == pytest.approx(400.0)
    assert req.components == (("complex spread +1P4800 -1P4850 -1P4900 +1P4950", 400.0),)


def test_broken_wing_put_butterfly_is_the_wide_side_loss_less_the_credit():
    # +1 P5000 @60, -2 P4950 @40, +1 P4880 @18: credit 80 - 60 - 18 = 2.00
    # payoff: 0 above 5000, +50 at 4950, at 4880: 120 - 2 x 70 = -20, flat below (slope 0)
    # wide side 70 - narrow side 50 = 20 max loss; 20.00 - 2.00 credit = 18.00 -> 1,800
    # (verticals: debit 5000/4950 20.00 + credit 4950/4880 70 - 22 = 48.00 -> 6,800)
    legs = [leg(P, 5000, 1, 60.0), leg(P, 4950, -2, 40.0), leg(P, 4880, 1, 18.0)]
    req = reg_t(legs, 5000, 100, IDX)
    assert req.amount == pytest.approx(1800.0)
    assert "payoff loss at the strikes 20.00 - net credit 2.00 = 18.00" in req.rule


def test_one_by_three_by_two_call_ratio_fly_uses_the_whole_group():
    # equity S = 100: +1 C100 @4.00, -3 C105 @2.00, +2 C110 @0.80: credit 6 - 4 - 1.60 = 0.40
    # payoff: 0 at 100, +5 at 105, 10 - 15 = -5 at 110 and flat above (1 - 3 + 2 = 0)
    # max loss 5.00 - 0.40 = 4.60 -> 460
    legs = [leg(C, 100, 1, 4.0), leg(C, 105, -3, 2.0), leg(C, 110, 2, 0.8)]
    assert reg_t(legs, 100, 100, EQ).amount == pytest.approx(460.0)


def test_scaled_butterfly_is_twice_the_unit():
    # 2 x the 800 fly = 1,600
    fly2 = [leg(C, 4950, 2, 60.0), leg(C, 5000, -4, 30.0), leg(C, 5050, 2, 8.0)]
    assert reg_t(fly2, 5000, 100, IDX).amount == pytest.approx(1600.0)


def test_iron_fly_and_condor_keep_their_rule():
    # iron butterfly: 50 wide - 40 credit = 10 -> 1,000; iron condor 30 - 4.10 = 25.90 -> 2,590.
    # The universal rule gives the same numbers (max loss = wider side - credit); the iron rule
    # text is kept on ties.
    ifly = [leg(P, 4950, 1, 25), leg(P, 5000, -1, 45), leg(C, 5000, -1, 44), leg(C, 5050, 1, 24)]
    req = reg_t(ifly, 5000, 100, IDX)
    assert req.amount == pytest.approx(1000.0)
    assert "universal" not in req.rule
    ic = [
        leg(P, 4870, 1, 2.00),
        leg(P, 4900, -1, 3.50),
        leg(C, 5100, -1, 3.20),
        leg(C, 5130, 1, 0.60),
    ]
    req = reg_t(ic, 5000, 100, IDX)
    assert req.amount == pytest.approx(2590.0)
    assert "universal" not in req.rule


def test_calendar_butterfly_is_not_a_universal_spread():
    # legs of two expiries are never grouped: the near fly and a far long are margined apart
    far = EXP + timedelta(days=28)
    legs = [leg(C, 4950, 1, 60.0), leg(C, 5000, -2, 30.0), leg(C, 5050, 1, 8.0, far)]
    assert reg_t(legs, 5000, 100, IDX).amount > 800.0


@st.composite
def balanced_one_expiry(draw):
    """A random fly, condor or iron condor with random (possibly arbitrage) prices."""
    kind = draw(st.sampled_from(["call_fly", "put_fly", "call_condor", "put_condor", "iron"]))
    base = draw(st.integers(60, 100))
    w1, w2, w3 = (draw(st.integers(1, 15)) for _ in range(3))
    p = [draw(prices) for _ in range(4)]
    if kind in ("call_fly", "put_fly"):
        r = C if kind == "call_fly" else P
        return [leg(r, base, 1, p[0]), leg(r, base + w1, -2, p[1]), leg(r, base + w1 + w2, 1, p[2])]
    ks = [base, base + w1, base + w1 + w2, base + w1 + w2 + w3]
    if kind == "iron":
        return [
            leg(P, ks[0], 1, p[0]),
            leg(P, ks[1], -1, p[1]),
            leg(C, ks[2], -1, p[2]),
            leg(C, ks[3], 1, p[3]),
        ]
    r = C if kind == "call_condor" else P
    return [
        leg(r, ks[0], 1, p[0]),
        leg(r, ks[1], -1, p[1]),
        leg(r, ks[2], -1, p[2]),
        leg(r, ks[3], 1, p[3]),
    ]


def brute_force_max_loss(legs) -> float:
    """Max loss at expiry net of premium on a 0.01 grid over [0, 300] (strikes are integers)."""
    s = np.linspace(0.0, 300.0, 30_001)
    pnl = np.zeros_like(s)
    for lg in legs:
        intrinsic = np.maximum(s - lg.strike, 0) if lg.right is C else np.maximum(lg.strike - s, 0)
        pnl += lg.quantity * (intrinsic - lg.price)
    return max(-float(pnl.min()), 0.0)


@settings(max_examples=200, deadline=None)
@given(balanced_one_expiry(), classes)
def test_universal_spread_never_above_max_loss_nor_the_vertical_pairing(legs, mc):
    req = reg_t(legs, S0, 100, mc).amount
    assert req >= 0.0
    # universal spread rule: never more than the maximum potential loss (brute-force grid)
    assert req <= brute_force_max_loss(legs) * 100 + 1e-6
    # never more than margining the pieces separately (the old vertical-pairing answer)
    if len(legs) == 3:  # fly: (wing, body) + (body, wing)
        a, b, c = legs
        half = Leg(b.right, b.strike, b.expiry, -1, b.price)
        pieces = [[a, half], [half, c]]
    else:
        pieces = [legs[:2], legs[2:]]
    assert req <= sum(reg_t(pc, S0, 100, mc).amount for pc in pieces) + 1e-6


# ---------------------------------------------------------------------------------------------
# Leveraged ETFs (Cboe RG09-97, FINRA RN 09-53) and broad-based ETFs at 15%
# ---------------------------------------------------------------------------------------------


def test_two_x_leveraged_etf_short_put_equity_percentages():
    # S = 100, put 90 @2.00, 2x leverage on the 20% / 10% percentages:
    # 2.00 + max(2 x 20% x 100 - 10, 2 x 10% x 90) = 2.00 + max(30, 18) = 32.00 -> 3,200
    req = reg_t([leg(P, 90, -1, 2.0)], 100, 100, EQ, leverage_factor=2)
    assert req.amount == pytest.approx(3200.0)
    assert "leverage 2x" in req.rule and "naked 40%, floor 20%" in req.rule


def test_sso_from_the_instrument_table_is_a_2x_broad_based_etf():
    # SSO: broad-based (S&P 500) ETF, leverage 2 -> 30% / 20%
    # put 90 @2.00 at S = 100: 2.00 + max(0.30 x 100 - 10, 0.20 x 90) = 2.00 + max(20, 18)
    # = 22.00 -> 2,200
    sso = get_instrument("SSO")
    assert (sso.margin_class, sso.leverage_factor) == (IDX, 2.0)
    req = reg_t([leg(P, 90, -1, 2.0)], 100, sso.multiplier, sso.margin_class, leverage_factor=2)
    assert req.amount == pytest.approx(2200.0)
    # far OTM put 60 @0.10: 0.10 + max(30 - 40, 0.20 x 60 = 12) = 12.10 -> 1,210 (floor x 2)
    req = reg_t([leg(P, 60, -1, 0.10)], 100, 100, IDX, leverage_factor=2)
    assert req.amount == pytest.approx(1210.0)
    assert "(20% floor)" in req.rule


def test_inverse_etf_uses_the_absolute_leverage_and_percentages_cap_at_100pct():
    # SDS -2 margins like +2: same 2,200 as SSO above
    assert get_instrument("SDS").leverage_factor == -2.0
    assert reg_t([leg(P, 90, -1, 2.0)], 100, 100, IDX, leverage_factor=-2).amount == pytest.approx(
        2200.0
    )
    # 6x on 20% = 120% -> capped at 100%; call 100 @5 at S = 100:
    # 5 + max(1.00 x 100 - 0, min(6 x 10%, 100%) x 100 = 60) = 105 -> 10,500
    assert reg_t([leg(C, 100, -1, 5.0)], 100, 100, EQ, leverage_factor=6).amount == pytest.approx(
        10_500.0
    )


@pytest.mark.parametrize(
    ("symbol", "leverage"),
    [
        ("SSO", 2),
        ("UPRO", 3),
        ("SPXL", 3),
        ("SDS", -2),
        ("TQQQ", 3),
        ("QLD", 2),
        ("SPY", 1),
        ("SPX", 1),
        ("ES", 1),
    ],
)
def test_leverage_factor_column(symbol, leverage):
    # fund objectives: ProShares Ultra (2x) / UltraPro (3x) / UltraShort (-2x), Direxion 3x
    assert get_instrument(symbol).leverage_factor == leverage


def test_broad_based_index_etfs_use_15pct():
    # Cboe Margin Manual / RG09-97: options on an ETF based on a broad-based index use 15%.
    # SPY 500, short put 480 @3.00: 3 + max(0.15 x 500 - 20, 0.10 x 480) = 3 + max(55, 48)
    # = 58 -> 5,800 (at the 20% previously assumed: 3 + max(80, 48) = 83 -> 8,300)
    for sym in ("SPY", "QQQ", "IWM", "DIA"):
        assert get_instrument(sym).margin_class is IDX, sym
    spy = get_instrument("SPY")
    req = reg_t([leg(P, 480, -1, 3.0)], 500, spy.multiplier, spy.margin_class)
    assert req.amount == pytest.approx(5800.0)
    # commodity / bond ETFs stay equity (20%)
    for sym in ("GLD", "TLT", "SLV"):
        assert get_instrument(sym).margin_class is EQ, sym


@pytest.mark.parametrize("bad", [0, float("nan"), "two"])
def test_bad_leverage_raises(bad):
    with pytest.raises(ModelError, match="leverage_factor"):
        reg_t([leg(P, 90, -1, 2.0)], 100, 100, EQ, leverage_factor=bad)
