"""Reg-T / fixed margin: hand-worked examples (arithmetic written out) and hypothesis invariants.

References: Cboe Margin Manual; FINRA Rule 4210(f)(2) and Regulatory Notice 12-44; domain.md
section 9 (tastytrade strangle 1,030 and 1-wide vertical 65 examples). The last section tests the
``thetaplan margin`` position-file loader and command (optimizer/commands/margin.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from models.errors import ModelError, SpecError
from models.legs import Leg, Right
from models.margin import MarginClass, MarginRequirement, fixed, reg_t
from optimizer.commands.margin import load_position, register

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
