"""Portfolio margin (models.margin.portfolio): valuation points, worst loss and the minimum.

Ranges typed from FINRA Rule 4210(g)(2)(F): high-cap broad-based index -8% / +6%, other broad
index +/-10%, equity +/-15%, 10 equidistant points (5 per side), minimum $.375 x multiplier per
option contract. Theoretical values come from QuantLib's Black formula on the forward
``S exp((r - q) t)`` (= Black-Scholes-Merton), independent of models.market.pricing.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelError
from models.instruments import get_instrument
from models.legs import Leg, Right
from models.margin.portfolio import (
    PMClass,
    pm_minimum,
    pm_move_pnl,
    pm_moves,
    portfolio_margin,
)

C, P, U = Right.CALL, Right.PUT, Right.UNDERLYING
EXP = datetime(2025, 3, 21, 16, 0)


def bsm(is_call: bool, k: float, s: float, sigma: float, t: float, r: float, q: float) -> float:
    kind = ql.Option.Call if is_call else ql.Option.Put
    fwd = s * math.exp((r - q) * t)
    return ql.blackFormula(kind, k, fwd, sigma * math.sqrt(t), math.exp(-r * t))


def expiry_pnl(legs, s0: float, moves: np.ndarray, m: float) -> np.ndarray:
    """Brute-force P&L of expired options (intrinsic) at s0 (1 + moves), from intrinsic at s0."""
    s = s0 * (1 + moves)

    def intrinsic(lg, x):
        return np.maximum(x - lg.strike, 0) if lg.right is C else np.maximum(lg.strike - x, 0)

    return sum(lg.quantity * (intrinsic(lg, s) - intrinsic(lg, s0)) for lg in legs) * m


def test_valuation_points():
    # equity +/-15%: +/-3, 6, 9, 12, 15%
    np.testing.assert_allclose(
        pm_moves("equity"), [-0.15, -0.12, -0.09, -0.06, -0.03, 0.03, 0.06, 0.09, 0.12, 0.15]
    )
    # high-cap broad index: down in 1.6% steps to -8%, up in 1.2% steps to +6%
    np.testing.assert_allclose(
        pm_moves(PMClass.HIGH_CAP_BROAD_INDEX),
        [-0.08, -0.064, -0.048, -0.032, -0.016, 0.012, 0.024, 0.036, 0.048, 0.06],
    )
    np.testing.assert_allclose(
        pm_moves("broad_index"), [-0.10, -0.08, -0.06, -0.04, -0.02, 0.02, 0.04, 0.06, 0.08, 0.10]
    )
    # 2x S&P 500 fund (SSO): -16% / +12%; inverse -2x (SDS): -12% / +16%
    np.testing.assert_allclose(
        pm_moves("high_cap_broad_index", 2),
        [-0.16, -0.128, -0.096, -0.064, -0.032, 0.024, 0.048, 0.072, 0.096, 0.12],
    )
    np.testing.assert_allclose(
        pm_moves("high_cap_broad_index", -2),
        [-0.12, -0.096, -0.072, -0.048, -0.024, 0.032, 0.064, 0.096, 0.128, 0.16],
    )


def test_expired_put_spread_worst_loss_at_the_lowest_point():
    # S = 100 equity: short P88 @1.10, long P85 @0.20, valued at expiry (t = 0, intrinsic)
    # at -15% (S 85): short put -(88 - 85) = -3, long 0 -> -3 x 100 = -300; 0 at every other point
    # minimum: short 37.50 + long min(37.50, 0.20 x 100 = 20) = 57.50 -> requirement 300
    legs = [Leg(P, 88, EXP, -1, 1.10), Leg(P, 85, EXP, 1, 0.20)]
    pnl = pm_move_pnl(legs, 100, 100, "equity", ivs=0.3, t=0.0)
    np.testing.assert_allclose(pnl, [-300, 0, 0, 0, 0, 0, 0, 0, 0, 0], atol=1e-9)
    assert pm_minimum(legs, 100) == pytest.approx(57.50)
    req = portfolio_margin(legs, 100, 100, "equity", ivs=0.3, t=0.0)
    assert req.amount == pytest.approx(300.0)
    # brute force: 1,001 points over [-15%, +15%]; the strikes sit on valuation points, so the
    # piecewise-linear payoff's worst is at a point: same 300
    fine = np.linspace(-0.15, 0.15, 1001)
    assert -expiry_pnl(legs, 100, fine, 100).min() == pytest.approx(req.amount)


def test_short_spx_strangle_by_hand_with_quantlib():
    # SPX 5000, short P4800 (IV 20%) + short C5200 (IV 15%), 30 days, r 4%, q 1.3%
    s0, t, r, q = 5000.0, 30 / 365, 0.04, 0.013
    legs = [Leg(P, 4800, EXP, -1, 30.0), Leg(C, 5200, EXP, -1, 20.0)]
    ivs = [0.20, 0.15]
    moves = [-0.08, -0.064, -0.048, -0.032, -0.016, 0.012, 0.024, 0.036, 0.048, 0.06]

    def value(s):
        return -bsm(False, 4800, s, 0.20, t, r, q) - bsm(True, 5200, s, 0.15, t, r, q)

    expected = [(value(s0 * (1 + x)) - value(s0)) * 100 for x in moves]
    pnl = pm_move_pnl(legs, s0, 100, "high_cap_broad_index", ivs=ivs, t=t, rate=r, div_yield=q)
    np.testing.assert_allclose(pnl, expected, rtol=1e-9, atol=1e-6)
    req = portfolio_margin(legs, s0, 100, "high_cap_broad_index", ivs=ivs, t=t, rate=r, div_yield=q)
    assert req.amount == pytest.approx(max(-min(expected), 2 * 37.50))
    # brute force over a fine grid: a short strangle loses most at an end of the range (-8%)
    fine = np.linspace(-0.08, 0.06, 1001)
    worst_fine = max(-(value(s0 * (1 + x)) - value(s0)) * 100 for x in fine)
    assert req.amount == pytest.approx(worst_fine, rel=1e-9)


@pytest.mark.parametrize(
    ("legs", "minimum"),
    [
        # long P50 @0.50 at S = 100: no loss anywhere in +/-15%; min(37.50, 0.50 x 100) = 37.50
        ([Leg(P, 50, EXP, 1, 0.50)], 37.50),
        # long P50 @0.10: the long's minimum is capped at its value 0.10 x 100 = 10
        ([Leg(P, 50, EXP, 1, 0.10)], 10.0),
        # 3 short C200 @0.05: worthless within +15%; 3 x 37.50 = 112.50
        ([Leg(C, 200, EXP, -3, 0.05)], 112.50),
    ],
)
def test_per_contract_minimum(legs, minimum):
    req = portfolio_margin(legs, 100, 100, "equity", ivs=0.3, t=0.0)
    assert req.amount == pytest.approx(minimum)
    assert req.components == (("per-contract minimum", pytest.approx(minimum)),)


def test_instrument_pm_classes():
    assert get_instrument("SPX").pm_class is PMClass.HIGH_CAP_BROAD_INDEX
    assert get_instrument("SPY").pm_class is PMClass.HIGH_CAP_BROAD_INDEX
    assert get_instrument("IWM").pm_class is PMClass.BROAD_INDEX
    assert get_instrument("GLD").pm_class is PMClass.EQUITY
    assert get_instrument("ES").pm_class is None  # futures options: SPAN


def test_leveraged_etf_short_put_range_doubles():
    # SSO 100, short P90 at expiry: at -16% (S 84) the put is 6 in the money -> -600
    legs = [Leg(P, 90, EXP, -1, 2.0)]
    pnl = pm_move_pnl(legs, 100, 100, "high_cap_broad_index", ivs=0.4, t=0.0, leverage_factor=2)
    assert pnl[0] == pytest.approx(-600.0)
    assert portfolio_margin(
        legs, 100, 100, "high_cap_broad_index", ivs=0.4, t=0.0, leverage_factor=2
    ).amount == pytest.approx(600.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pm_class": "futures"}, "unknown portfolio-margin class"),
        ({"leverage_factor": 0}, "leverage_factor"),
        ({"ivs": float("nan")}, "implied vol"),
        ({"t": -1.0}, "time to expiry"),
        ({"legs": []}, "at least one leg"),
        ({"underlying_price": -5}, "underlying_price"),
    ],
)
def test_bad_inputs_raise_model_error(kwargs, match):
    args = {
        "legs": [Leg(P, 90, EXP, -1, 2.0)],
        "underlying_price": 100,
        "pm_class": "equity",
        "ivs": 0.3,
        "t": 0.1,
        "leverage_factor": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(ModelError, match=match):
        portfolio_margin(
            args["legs"],
            args["underlying_price"],
            100,
            args["pm_class"],
            ivs=args["ivs"],
            t=args["t"],
            leverage_factor=args["leverage_factor"],
        )


# ---------------------------------------------------------------------------------------------
# Hypothesis invariants
# ---------------------------------------------------------------------------------------------


@st.composite
def expired_legs(draw):
    n = draw(st.integers(1, 4))
    return [
        Leg(
            draw(st.sampled_from([C, P])),
            float(draw(st.integers(80, 120))),
            EXP,
            draw(st.sampled_from([-2, -1, 1, 2])),
            draw(st.floats(0, 10)),
        )
        for _ in range(n)
    ]


@settings(max_examples=150, deadline=None)
@given(expired_legs(), st.integers(2, 4))
def test_expiry_pnl_matches_brute_force_and_scales(legs, k):
    pnl = pm_move_pnl(legs, 100, 100, "equity", ivs=0.3, t=0.0)
    # the 10 points are nodes of the fine grid (step 0.03%): same values there
    fine = np.linspace(-0.15, 0.15, 1001)
    brute = expiry_pnl(legs, 100, fine, 100)
    nodes = np.rint((pm_moves("equity") + 0.15) / 0.0003).astype(int)
    np.testing.assert_allclose(pnl, brute[nodes], atol=1e-6)
    # PM's worst loss never exceeds the fine grid's, and the requirement is >= 0
    req = portfolio_margin(legs, 100, 100, "equity", ivs=0.3, t=0.0)
    assert req.amount >= 0
    assert max(-pnl.min(), 0.0) <= max(-brute.min(), 0.0) + 1e-6
    # linear in the quantities (the book-level epigraph relies on it)
    scaled = [Leg(lg.right, lg.strike, lg.expiry, k * lg.quantity, lg.price) for lg in legs]
    np.testing.assert_allclose(
        pm_move_pnl(scaled, 100, 100, "equity", ivs=0.3, t=0.0), k * pnl, atol=1e-6
    )
