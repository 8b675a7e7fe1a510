"""SPAN-like futures-option margin (models.margin.span): risk array worked with an independent Black-76.

The scenario table, the ES / MES parameters (models/data/span_parameters.csv: price scan 250
points, vol scan 5 vol points, short option minimum 200 / 20, intra-commodity 200 / 20 USD) and
the 33% extreme-move cover are typed here from the CME SPAN methodology, not read from the code.
Option values come from QuantLib's ``blackFormula`` (Black 1976), independent of models.market.pricing.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelError
from models.instruments import InstrumentKind, all_instruments
from models.legs import Leg, Right
from models.margin.span import (
    N_SCENARIOS,
    all_span_parameters,
    span_margin,
    span_parameters,
    span_risk_array,
    span_scenarios,
)

C, P, U = Right.CALL, Right.PUT, Right.UNDERLYING
EXP = datetime(2025, 3, 21, 16, 0)
EXP2 = datetime(2025, 6, 20, 16, 0)

# CME SPAN: (price move in scan ranges, vol move in vol scan ranges, cover)
CME_SCENARIOS = [
    (0, +1, 1.0), (0, -1, 1.0),
    (1 / 3, +1, 1.0), (1 / 3, -1, 1.0), (-1 / 3, +1, 1.0), (-1 / 3, -1, 1.0),
    (2 / 3, +1, 1.0), (2 / 3, -1, 1.0), (-2 / 3, +1, 1.0), (-2 / 3, -1, 1.0),
    (1, +1, 1.0), (1, -1, 1.0), (-1, +1, 1.0), (-1, -1, 1.0),
    (3, 0, 0.33), (-3, 0, 0.33),
]  # fmt: skip

ES_SCAN, ES_VOL_SCAN, ES_SOM, ES_INTRA = 250.0, 0.05, 200.0, 200.0


def black(is_call: bool, k: float, f: float, sigma: float, t: float, r: float) -> float:
    kind = ql.Option.Call if is_call else ql.Option.Put
    return ql.blackFormula(kind, k, f, sigma * math.sqrt(t), math.exp(-r * t))


def test_scenario_table_is_cmes():
    got = [(s.price_fraction, s.vol_sign, s.cover) for s in span_scenarios()]
    assert len(got) == N_SCENARIOS == 16
    for (f, v, c), (ef, ev, ec) in zip(got, CME_SCENARIOS, strict=True):
        assert (f, v, c) == (pytest.approx(ef), ev, pytest.approx(ec))


def test_risk_array_of_one_short_es_put_by_hand():
    # short 1 ES 4900 put, F = 5000, IV 20%, 30 days, r = 4%; ES multiplier 50.
    # loss_j = cover_j x 50 x [Black(F + f_j x 250, 20% + v_j x 5 vol pts) - Black(F, 20%)]
    # (short: a rise in the put's value is a loss)
    f0, k, sig, t, r = 5000.0, 4900.0, 0.20, 30 / 365, 0.04
    v0 = black(False, k, f0, sig, t, r)
    expected = [
        cover * 50.0 * (black(False, k, f0 + frac * ES_SCAN, sig + vs * ES_VOL_SCAN, t, r) - v0)
        for frac, vs, cover in CME_SCENARIOS
    ]
    legs = [Leg(P, k, EXP, -1, round(v0, 2))]
    array = span_risk_array(legs, f0, 50, "ES", ivs=[sig], t=[t], rate=r)
    assert array.shape == (16,)
    np.testing.assert_allclose(array, expected, rtol=1e-9, atol=1e-7)
    # worst: extreme down move (F 4250) at 33% cover vs -3/3 vol up (F 4750, 25%)
    assert max(expected) == pytest.approx(max(expected[12], expected[15]))
    req = span_margin(legs, f0, 50, "ES", ivs=sig, t=t, rate=r)
    # one short option: max(scan risk + 0 intra, 1 x 200 SOM)
    assert req.amount == pytest.approx(max(max(expected), ES_SOM))
    assert req.amount == pytest.approx(max(expected))  # the scan risk binds (thousands of USD)
    assert req.components == (("scan risk", pytest.approx(max(expected))),)


def test_short_option_minimum_binds_far_out_of_the_money():
    # short ES 3000 put, F = 5000, 15%, 7 days: even F - 3 x 250 = 4250 leaves it worthless
    # -> scan risk ~ 0 < 1 short x 200 -> 200; two short contracts -> 400
    legs = [Leg(P, 3000, EXP, -2, 0.0)]
    req = span_margin(legs, 5000, 50, "ES", ivs=0.15, t=7 / 365)
    assert req.amount == pytest.approx(2 * ES_SOM)
    assert req.components == (("short option minimum", pytest.approx(400.0)),)


def test_es_is_ten_times_mes_for_the_same_structure():
    # same scan range in points, multiplier 50 vs 5, SOM / intra charges 200 vs 20
    legs = [
        Leg(P, 4800, EXP, -1, 30.0),
        Leg(C, 5200, EXP, -1, 25.0),
        Leg(P, 4700, EXP2, 1, 60.0),
    ]
    kw = {"ivs": [0.18, 0.15, 0.19], "t": [30 / 365, 30 / 365, 120 / 365], "rate": 0.03}
    es = span_margin(legs, 5000, 50, "ES", **kw).amount
    mes = span_margin(legs, 5000, 5, "MES", **kw).amount
    assert es == pytest.approx(10 * mes, rel=1e-12)
    np.testing.assert_allclose(
        span_risk_array(legs, 5000, 50, "ES", **kw),
        10 * span_risk_array(legs, 5000, 5, "MES", **kw),
        rtol=1e-12,
    )
    # a short-option-minimum case too: 2 far OTM shorts -> 400 vs 40
    far = [Leg(P, 3000, EXP, -1, 0.0), Leg(C, 7000, EXP, -1, 0.0)]
    es = span_margin(far, 5000, 50, "ES", ivs=0.15, t=7 / 365).amount
    mes = span_margin(far, 5000, 5, "MES", ivs=0.15, t=7 / 365).amount
    assert (es, mes) == (pytest.approx(400.0), pytest.approx(40.0))


def test_calendar_spread_pays_the_intra_commodity_charge():
    # long 1 ES 5000 call June (120 d), short 1 ES 5000 call March (30 d), F = 5000, 20%, r = 0
    # Black-76 call delta = N(d1), d1 = sigma sqrt(t) / 2 at the money
    # net deltas: June +N(d1_120), March -N(d1_30); spread = min of the two -> x 200 USD
    def n(x):
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    d_jun = n(0.20 * math.sqrt(120 / 365) / 2)
    d_mar = n(0.20 * math.sqrt(30 / 365) / 2)
    intra = ES_INTRA * min(d_jun, d_mar)
    t = [120 / 365, 30 / 365]
    legs = [Leg(C, 5000, EXP2, 1, 230.0), Leg(C, 5000, EXP, -1, 115.0)]
    scan = max(float(span_risk_array(legs, 5000, 50, "ES", ivs=0.20, t=t).max()), 0.0)
    req = span_margin(legs, 5000, 50, "ES", ivs=0.20, t=t)
    assert req.amount == pytest.approx(max(scan + intra, ES_SOM))
    assert dict(req.components)["intra-commodity spread charge"] == pytest.approx(intra)
    # a vertical inside one expiry pays no intra-commodity charge
    same = [Leg(C, 5000, EXP, 1, 115.0), Leg(C, 5050, EXP, -1, 95.0)]
    r2 = span_margin(same, 5000, 50, "ES", ivs=0.20, t=30 / 365)
    assert "intra-commodity spread charge" not in dict(r2.components)


def test_long_future_moves_one_for_one():
    # 1 long ES future: scenario losses = -move x 50; worst = extreme down 3 x 250 x 50 x 0.33
    legs = [Leg(U, math.nan, None, 1, 5000.0)]
    array = span_risk_array(legs, 5000, 50, "ES", ivs=math.nan, t=0.0)
    expected = [-frac * ES_SCAN * 50 * cover for frac, _, cover in CME_SCENARIOS]
    np.testing.assert_allclose(array, expected, atol=1e-9)
    assert span_margin(legs, 5000, 50, "ES", ivs=math.nan, t=0.0).amount == pytest.approx(
        12_500.0  # 3/3 down move 250 x 50 (> 750 x 50 x 0.33 = 12,375)
    )


def test_every_future_instrument_has_honestly_labelled_span_parameters():
    futures = {i.symbol for i in all_instruments() if i.kind is InstrumentKind.FUTURE}
    table = {p.product: p for p in all_span_parameters()}
    assert futures <= set(table)
    for p in table.values():
        assert "approximate" in p.source and "not verified" in p.source, p.product
        assert isinstance(p.as_of, date)
        assert p.price_scan_range > 0 and p.vol_scan_range >= 0
    # micro = the same scan range in points; money charges in the ratio of the multipliers
    for big, micro, ratio in (
        ("ES", "MES", 10),
        ("NQ", "MNQ", 10),
        ("CL", "MCL", 10),
        ("GC", "MGC", 10),
    ):
        b, m = table[big], table[micro]
        assert b.price_scan_range == m.price_scan_range
        assert b.short_option_minimum == pytest.approx(ratio * m.short_option_minimum)
        assert b.intra_commodity_charge == pytest.approx(ratio * m.intra_commodity_charge)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": "SPX"}, "no SPAN parameters for 'SPX'"),
        ({"legs": []}, "at least one leg"),
        ({"ivs": [0.0]}, "implied vol"),
        ({"ivs": [0.2, 0.2]}, "one value per leg"),
        ({"t": [-0.1]}, "time to expiry"),
        ({"futures_price": 0}, "futures_price"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"legs": ["x"]}, "not a Leg"),
    ],
)
def test_bad_inputs_raise_model_error(kwargs, match):
    args = {
        "legs": [Leg(P, 4900, EXP, -1, 40.0)],
        "futures_price": 5000,
        "multiplier": 50,
        "params": "ES",
        "ivs": [0.2],
        "t": [0.1],
    }
    args.update(kwargs)
    with pytest.raises(ModelError, match=match):
        span_margin(
            args["legs"],
            args["futures_price"],
            args["multiplier"],
            args["params"],
            ivs=args["ivs"],
            t=args["t"],
        )
    assert span_parameters("mes").product == "MES"


# ---------------------------------------------------------------------------------------------
# Hypothesis invariants
# ---------------------------------------------------------------------------------------------


@st.composite
def es_legs(draw):
    n = draw(st.integers(1, 4))
    legs, ivs, ts = [], [], []
    for _ in range(n):
        right = draw(st.sampled_from([C, P]))
        k = float(draw(st.integers(40, 60)) * 100)
        q = draw(st.sampled_from([-2, -1, 1, 2]))
        expiry = draw(st.sampled_from([EXP, EXP2]))
        legs.append(Leg(right, k, expiry, q, 10.0))
        ivs.append(draw(st.floats(0.08, 0.6)))
        ts.append(30 / 365 if expiry == EXP else 120 / 365)
    return legs, ivs, ts


@settings(max_examples=100, deadline=None)
@given(es_legs(), st.integers(2, 5))
def test_requirement_is_nonnegative_and_scales_linearly_with_quantity(data, k):
    legs, ivs, ts = data
    one = span_margin(legs, 5000, 50, "ES", ivs=ivs, t=ts)
    scaled = [Leg(lg.right, lg.strike, lg.expiry, k * lg.quantity, lg.price) for lg in legs]
    many = span_margin(scaled, 5000, 50, "ES", ivs=ivs, t=ts)
    assert one.amount >= 0
    assert sum(a for _, a in one.components) == pytest.approx(one.amount)
    assert many.amount == pytest.approx(k * one.amount, rel=1e-9, abs=1e-6)
    np.testing.assert_allclose(
        span_risk_array(scaled, 5000, 50, "ES", ivs=ivs, t=ts),
        k * span_risk_array(legs, 5000, 50, "ES", ivs=ivs, t=ts),
        rtol=1e-9,
        atol=1e-6,
    )
