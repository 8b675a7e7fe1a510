"""The defence rules of the managed income model (models.measure.managed, issue 16).

Every case is a hand-built deterministic path set (a few paths and days) on which the rule's
effect is worked out here, independently of the engine: Black-Scholes prices from
:func:`models.market.pricing.bsm_price`, forward deltas ``N(d1)`` from scipy, strikes at a delta by
``scipy.optimize.brentq``, the documented grid ``tau_j = t (n - j) / n`` and the documented
0DTE split of the session's move at the entry.

* strangle delta defence: the put's delta crosses 0.20 (the call is rolled to a new strike at its
  entry delta) and then 0.25 (the put is closed); the trade's P&L is the sum of the three legs'
  P&L computed by hand;
* ``vix_exit``: the VIX closing above 30 closes the trade that day, and blocks entries;
* ``entry_iv_rank``: an entry is delayed to the first scheduled day whose trailing IV percentile
  reaches the threshold (seen through the premium collected);
* ``close_distance``: the LT112 is closed at the first close within the distance of the naked
  strike, at that close's mark;
* ``directional_move``: a 0DTE day with a large move to the entry trades one side only, its P&L
  and costs those of that side;
* with every new field off, results are bit-identical to a run with rules set at levels that
  never fire (the engine's own results without the rules: tests/models/test_managed.py).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.optimize import brentq
from scipy.stats import norm

from models.errors import ModelError
from models.legs import Right
from models.market.chain import synthetic_surface
from models.market.pricing import bsm_price
from models.measure.managed import (
    EXIT_REASONS,
    MIN_RANK_CLOSES,
    ManagedResult,
    TradeCostInputs,
    UnderlyingPaths,
    iv_rank,
    simulate_managed,
    trading_steps,
)
from models.measure.physical import lognormal_paths
from models.strategies import Candidate, ExpiryRule, Management, generate_candidates
from optimizer.inputs.spec_strategies import ManagementSpec

VAL = datetime(2026, 1, 30, 10, 30)
MULT = 100.0
ONE_AT_DAY_0 = 1000.0  # spacing 0.021 days: every day is a scheduled entry, the first at day 0
R = {name: i for i, name in enumerate(EXIT_REASONS)}


# ------------------------------------------------------------------------------------------
# Builders and hand references


def _cand(template: str, grid: dict, *, dte=90, rule=None, surface=None, und="X") -> Candidate:
    cands = generate_candidates(
        strategy=template,
        template_name=template,
        legs=None,
        underlying=und,
        surface=surface or synthetic_surface(100.0, VAL, 0.20, strike_increment=0.25),
        expiry_rule=rule or ExpiryRule(dte=dte),
        grid=grid,
    )
    assert len(cands) == 1
    return cands[0]


def _strangle(put=0.10, call=0.10) -> Candidate:
    return _cand("short_strangle", {"put_delta": [put], "call_delta": [call]})


def _paths(lr: np.ndarray, iv=None, vix=None, session=None, daily_vol=0.01) -> UnderlyingPaths:
    p, d = lr.shape
    return UnderlyingPaths(
        log_return=lr,
        iv_shift=np.zeros((p, d + 1)) if iv is None else iv,
        session_return=lr.copy() if session is None else session,
        daily_vol=np.full((p, d + 1), daily_vol),
        vix=vix,
    )


def _run(cands, up, mg, *, entries=ONE_AT_DAY_0, **kw) -> ManagedResult:
    k = len(cands)
    return simulate_managed(
        cands,
        paths={c.underlying: up for c in cands},
        multipliers=[MULT] * k,
        management=mg if isinstance(mg, list) else [mg] * k,
        entries_per_month=[entries] * k,
        seed=3,
        **kw,
    )


def _tau(c: Candidate, j: int) -> float:
    n = trading_steps(c.t)
    return c.t * (n - j) / n


def _px(s: float, k: float, tau: float, iv: float, call: bool) -> float:
    """Black-Scholes price with zero rates (intrinsic value at tau = 0)."""
    if tau <= 0:
        return max((s - k) if call else (k - s), 0.0)
    return float(bsm_price(s, k, tau, 0.0, 0.0, iv, call))


def _delta(s: float, k: float, tau: float, iv: float, call: bool) -> float:
    """|forward delta| N(+-d1) with zero rates."""
    v = iv * math.sqrt(tau)
    d1 = math.log(s / k) / v + 0.5 * v
    return float(norm.cdf(d1 if call else -d1))


def _spot_at_delta(k: float, tau: float, iv: float, call: bool, target: float) -> float:
    return brentq(lambda s: _delta(s, k, tau, iv, call) - target, 1.0, 1000.0, xtol=1e-12)


# ------------------------------------------------------------------------------------------
# 1. Strangle delta defence (domain.md §3c: 20 roll the untested side, 25 close the tested)


def test_roll_the_untested_call_then_close_the_tested_put_by_hand():
    """Flat 20% vol, zero rates. Day 3 drops the spot so the put's delta is 0.225 (roll: the call
    is closed at the day-3 mark and a new call sold at the old call's entry delta, its strike
    solved here with brentq on N(d1)); day 6 drops it so the put's delta is 0.275 (the put is
    closed at the day-6 mark, below the 0.30 exit-all). The new call then runs to the 21-DTE
    exit. Reason 'tested' (a tested close, then the time exit); one roll, one tested close."""
    c = _strangle()
    put, call = c.legs
    assert put.right is Right.PUT and call.right is Right.CALL
    iv = 0.20
    assert np.allclose(c.ivs, iv)
    s0 = c.spot
    s3 = _spot_at_delta(put.strike, _tau(c, 3), iv, False, 0.225)
    s6 = _spot_at_delta(put.strike, _tau(c, 6), iv, False, 0.275)
    # the steps in between must stay below the thresholds (deltas grow only on the drop days)
    assert _delta(s0, put.strike, _tau(c, 2), iv, False) < 0.20
    assert _delta(s3, put.strike, _tau(c, 5), iv, False) < 0.25
    d = 60
    lr = np.zeros((1, d))
    lr[0, 2] = math.log(s3 / s0)  # day 3
    lr[0, 5] = math.log(s6 / s3)  # day 6
    mg = Management(exit_dte=21, roll_untested_delta=0.20, close_tested_delta=0.25, delta_exit=0.30)
    r = _run([c], _paths(lr), mg, months=1)
    n = trading_steps(c.t)
    forced = next(j for j in range(1, n + 1) if _tau(c, j) <= 21 / 365 + 1e-9)
    # hand P&L per share
    entry_delta = _delta(s0, call.strike, c.t, iv, True)
    k_new = brentq(
        lambda k: _delta(s3, k, _tau(c, 3), iv, True) - entry_delta, s3, 3 * s3, xtol=1e-12
    )
    old_call = _px(s0, call.strike, c.t, iv, True) - _px(s3, call.strike, _tau(c, 3), iv, True)
    old_put = _px(s0, put.strike, c.t, iv, False) - _px(s6, put.strike, _tau(c, 6), iv, False)
    new_call = _px(s3, k_new, _tau(c, 3), iv, True) - _px(s6, k_new, _tau(c, forced), iv, True)
    want = (old_call + old_put + new_call) * MULT
    assert r.expected_trade_gross[0] == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert r.exit_fractions[0, R["tested"]] == 1.0
    assert r.roll_fraction[0] == 1.0 and r.tested_fraction[0] == 1.0
    assert r.avg_days_held[0] == pytest.approx((c.t - _tau(c, forced)) * 365.0)
    # the new strike differs from the old one: the roll moved the call down with the spot
    assert k_new < call.strike


def test_roll_costs_two_fills_of_the_leg_share_of_the_entry_cost():
    """The roll's extra fills (close the untested call, sell the new one) each cost the leg's
    share (1 of 2 contracts) of the entry cost, on the roll day; the final close costs the
    'tested' reason's column (a five-reason tuple: the delta column)."""
    c = _strangle()
    s3 = _spot_at_delta(c.legs[0].strike, _tau(c, 3), 0.20, False, 0.225)
    lr = np.zeros((1, 60))
    lr[0, 2] = math.log(s3 / c.spot)
    mg = Management(exit_dte=21, roll_untested_delta=0.20, close_tested_delta=0.25)
    tc = TradeCostInputs(
        entry_commission=4.0,
        entry_spread=6.0,
        exit_commission=(1.0, 2.0, 3.0, 4.0, 5.0),
        exit_spread=(0.1, 0.2, 0.3, 0.4, 0.5),
    )
    free = _run([c], _paths(lr), mg, months=1)
    paid = _run([c], _paths(lr), mg, months=1, costs=[tc])
    assert paid.roll_fraction[0] == 1.0 and paid.tested_fraction[0] == 0.0
    reason = int(np.argmax(paid.exit_fractions[0]))
    assert EXIT_REASONS[reason] == "time"  # the put recovered no further: the 21-DTE exit
    per_trade = (4.0 + 6.0) * (1 + 2 * 0.5) + tc.exit_commission[reason] + tc.exit_spread[reason]
    assert free.expected_trade[0] - paid.expected_trade[0] == pytest.approx(per_trade)
    assert tc.exit_commission[R["tested"]] == tc.exit_commission[R["delta"]]


def test_delta_exit_after_the_roll_watches_the_open_legs():
    """A drop straight to a put delta of 0.35 on day 3: the 0.30 exit-all fires (reason 'delta',
    no roll, no tested close), at the day-3 mark of both original legs."""
    c = _strangle()
    put, call = c.legs
    s3 = _spot_at_delta(put.strike, _tau(c, 3), 0.20, False, 0.35)
    lr = np.zeros((1, 60))
    lr[0, 2] = math.log(s3 / c.spot)
    mg = Management(roll_untested_delta=0.20, close_tested_delta=0.25, delta_exit=0.30)
    r = _run([c], _paths(lr), mg, months=1)
    assert r.exit_fractions[0, R["delta"]] == 1.0
    assert r.roll_fraction[0] == 0.0 and r.tested_fraction[0] == 0.0
    want = sum(
        _px(c.spot, leg.strike, c.t, 0.2, leg.right is Right.CALL)
        - _px(s3, leg.strike, _tau(c, 3), 0.2, leg.right is Right.CALL)
        for leg in (put, call)
    )
    assert r.expected_trade_gross[0] == pytest.approx(want * MULT, rel=1e-9)


# ------------------------------------------------------------------------------------------
# 2. VIX > 30 (domain.md §4: close all strangles)


def test_vix_above_30_closes_the_trade_that_day_and_blocks_entries():
    """Flat spot and IV. Path 0: the VIX closes at 31 on day 5 -> the trade opened at day 0 is
    closed at the day-5 mark (reason 'vix'). Path 1: the VIX is 31 at the closes of days 0-2 ->
    no entry until day 3; the month's P&L is the time decay from day 3 to day 21."""
    c = _strangle()
    d = 63
    lr = np.zeros((2, d))
    vix = np.full((2, d + 1), 20.0)
    vix[0, 5] = 31.0
    vix[1, :3] = 31.0
    mg = Management(vix_exit=30.0)
    r = _run([c], _paths(lr, vix=vix), mg, months=3, warmup_days=0)

    def value(j: int) -> float:
        return sum(
            _px(c.spot, leg.strike, _tau(c, j), 0.2, leg.right is Right.CALL) for leg in c.legs
        )

    months = r.path_months()[:, :, 0]
    # path 0: opened at day 0, closed at day 5 (month 0); the next trade opens at day 6
    n = trading_steps(c.t)
    assert months[0, 0] == pytest.approx(MULT * ((value(0) - value(5)) + (value(0) - value(15))))
    # path 1: opened at day 3 (the first close with VIX <= 30), marked at day 21 (step 18)
    assert months[1, 0] == pytest.approx(MULT * (value(0) - value(18)))
    assert n > 21
    assert r.exit_fractions[0, R["vix"]] == 1.0  # the only completed trade: path 0's first


def test_vix_exit_needs_the_vix_path():
    c = _strangle()
    with pytest.raises(ModelError, match="vix_exit needs the VIX"):
        _run([c], _paths(np.zeros((1, 60))), Management(vix_exit=30.0), months=1)


# ------------------------------------------------------------------------------------------
# 3. IV rank entry filter (domain.md §3c: IV rank > 30th percentile)


def test_iv_rank_by_hand():
    """Share of the previous min(t, window) closes below close t, ties half; NaN at t = 0."""
    iv = np.array([[0.2, 0.3, 0.1, 0.3, 0.25]])
    want = [math.nan, 1.0, 0.0, (2 + 0.5) / 3, 2 / 4]
    np.testing.assert_allclose(iv_rank(iv)[0], want)
    np.testing.assert_allclose(iv_rank(iv, window=2)[0], [math.nan, 1.0, 0.0, 0.75, 0.5])


def test_low_iv_rank_delays_the_entry_to_the_next_allowed_day():
    """A 30-DTE put held to expiry on a flat spot. IV shift rises 0.001 a day to day 21 (the
    first trade, at day 0, is not filtered: fewer than 21 trailing closes), falls to new lows on
    days 22-25 (IV percentile 0: entries skipped) and jumps to +0.03 on day 26 (percentile 1).
    The second trade is sold on day 26: its premium is priced with the +0.03 shift (times the
    term factor of its expiry), not with day 22's -0.001."""
    from models.measure.scenarios import term_factor

    c = _cand("cash_secured_put", {"short_delta": [0.25]}, dte=30)
    n = trading_steps(c.t)
    assert n == 21 and MIN_RANK_CLOSES <= 22
    d = 63
    iv = np.zeros((1, d + 1))
    iv[0, :22] = 0.001 * np.arange(22)
    iv[0, 22:26] = -0.001 * np.arange(1, 5)
    iv[0, 26:] = 0.03
    up = _paths(np.zeros((1, d)), iv=iv)
    hold = Management()
    on = _run([c], up, Management(entry_iv_rank=0.30), months=3, warmup_days=0)
    off = _run([c], up, hold, months=3, warmup_days=0)
    leg = c.legs[0]
    tf = float(term_factor(np.array([c.t]))[0])

    def premium(shift: float) -> float:
        return _px(c.spot, leg.strike, c.t, c.ivs[0] + tf * shift, False) * MULT

    # completed trades: day 0 -> 21 and the second (day 26 -> 47 filtered, day 22 -> 43 not)
    assert on.expected_trade_gross[0] == pytest.approx((premium(0.0) + premium(0.03)) / 2)
    assert off.expected_trade_gross[0] == pytest.approx((premium(0.0) + premium(-0.001)) / 2)


# ------------------------------------------------------------------------------------------
# 4. LT112 distance defence (domain.md §3b: 25 points from the naked strike: close all)


def test_lt112_closed_at_the_first_close_within_the_distance_of_the_naked_strike():
    """Flat 20% vol, zero rates, the spot falls 1% a day. The naked puts (most OTM short put)
    are watched: the trade is closed at the first step with S (1 - 0.01) <= K_naked, at that
    step's mark (reason 'distance'). The path is 21 days long: only that first trade completes
    (the next one, smaller by the spot's fall, is still open at the end)."""
    c = _cand("lt112", {"long_otm": [0.07], "spread_width": [2.5], "naked_otm": [0.12]}, dte=120)
    naked = min((leg for leg in c.legs if leg.quantity < 0), key=lambda leg: leg.strike)
    d = 21
    lr = np.full((1, d), -0.01)
    mg = Management(profit_target=0.9, exit_dte=21, target_legs=(2,), close_distance=0.01)
    r = _run([c], _paths(lr), mg, months=1, warmup_days=0)
    j = next(j for j in range(1, d) if c.spot * math.exp(-0.01 * j) * 0.99 <= naked.strike)
    s = c.spot * math.exp(-0.01 * j)
    want = sum(
        leg.quantity
        * (
            _px(s, leg.strike, _tau(c, j), 0.2, leg.right is Right.CALL)
            - _px(c.spot, leg.strike, c.t, 0.2, leg.right is Right.CALL)
        )
        for leg in c.legs
    )
    assert r.exit_fractions[0, R["distance"]] == 1.0
    assert r.expected_trade_gross[0] == pytest.approx(want * MULT, rel=1e-9)
    assert r.avg_days_held[0] == pytest.approx((c.t - _tau(c, j)) * 365.0)


# ------------------------------------------------------------------------------------------
# 5. The 0DTE directional variant (domain.md §3a)


def _zero_dte() -> Candidate:
    return _cand(
        "iron_condor",
        {"short_delta": [0.16], "wing_width": [30.0]},
        rule=ExpiryRule(date=VAL + timedelta(hours=5.5)),
        surface=synthetic_surface(6000.0, VAL, 0.17, skew=-0.1, strike_increment=5.0),
        und="SPX",
    )


def _smile_iv(c: Candidate, k: float) -> float:
    """The documented smile: linear through (ln(K/F), IV) of the legs and (0, ATM IV), flat
    beyond."""
    nodes = {0.0: c.atm_iv}
    for leg, iv in zip(c.legs, c.ivs, strict=True):
        nodes[math.log(leg.strike / c.forward)] = iv
    ks = sorted(nodes)
    return float(np.interp(k, ks, [nodes[x] for x in ks]))


def _zero_dte_by_hand(c: Candidate, legs: list[int], move: float, mg: Management) -> float:
    """P&L per share (spot 1 at entry) of the 0DTE legs ``legs`` on a bridge-free day moving
    linearly by ``move`` from the entry to the close (no IV change, 11 steps)."""
    n = 11
    taus = c.t * (1 - np.arange(n + 1) / n)
    vals = []
    for j in range(n + 1):
        s = math.exp(move * j / n)
        v = 0.0
        for i in legs:
            leg = c.legs[i]
            kr = leg.strike / c.spot
            iv = max(_smile_iv(c, math.log(kr) - math.log(s)), 0.01)
            v += leg.quantity * _px(s, kr, taus[j], iv, leg.right is Right.CALL)
        vals.append(v)
    ref = abs(vals[0])
    forced = next(j for j in range(1, n + 1) if taus[j] * 8760.0 <= 1.0 + 1e-9)  # 15:00
    for j in range(1, n + 1):
        pnl = vals[j] - vals[0]
        if pnl >= mg.profit_target * ref:
            return mg.profit_target * ref
        if pnl <= -mg.stop_loss * ref or j >= forced:
            return pnl
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("session", "legs", "one_sided"),
    [(0.04, [2, 3], True), (-0.04, [0, 1], True), (0.01, [0, 1, 2, 3], False)],
    ids=["up-call-spread", "down-put-spread", "small-condor"],
)
def test_directional_day_trades_one_side_and_pays_its_costs(session, legs, one_sided):
    """Bridge-free days (daily_vol 0) with the same session move every day: the open -> entry
    move is the first (6.5 - 5.5) / 6.5 of the session exactly, so +-4% sessions move
    +-0.615% by 10:30 (> 0.5%: one side) and a 1% session 0.154% (the condor). The entry ->
    close move is the rest of the session. Each month's sample is one trade (entries 1 a month,
    no warm-up): its P&L is the side's own (the side's credit as the reference), its costs the
    side's share (2 of 4 contracts) of the entry and exit costs."""
    c = _zero_dte()
    assert [leg.right for leg in c.legs] == [Right.PUT, Right.PUT, Right.CALL, Right.CALL]
    m_ = 3
    d = 21 * m_
    sess = np.full((2, d), session)
    up = UnderlyingPaths(
        np.zeros((2, d)), np.zeros((2, d + 1)), sess, np.zeros((2, d + 1)), vix=None
    )
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00", directional_move=0.005)
    tc = TradeCostInputs(entry_commission=4.0, exit_commission=(1.0, 2.0, 3.0, 4.0, 5.0))
    r = _run([c], up, mg, entries=1.0, months=m_, warmup_days=0, costs=[tc])
    free = _run([c], up, mg, entries=1.0, months=m_, warmup_days=0)
    a = 1.0 / 6.5
    want = _zero_dte_by_hand(c, legs, (1 - a) * session, mg) * c.spot * MULT
    got = free.path_months()[:, :, 0]
    traded = got != 0.0
    assert traded.sum() >= 4
    np.testing.assert_allclose(got[traded], want, rtol=1e-9)
    assert r.one_sided_fraction[0] == (1.0 if one_sided else 0.0)
    share = len(legs) / 4
    reason = int(np.argmax(r.exit_fractions[0]))
    assert r.exit_fractions[0, reason] == 1.0
    cost = share * (4.0 + tc.exit_commission[reason])
    np.testing.assert_allclose(free.expected_trade - r.expected_trade, cost)


# ------------------------------------------------------------------------------------------
# 6. Off means off; validation


def _fields(r: ManagedResult) -> dict:
    return {
        f.name: getattr(r, f.name)
        for f in dataclasses.fields(r)
        if isinstance(getattr(r, f.name), np.ndarray)
    }


def test_rules_off_or_silent_change_nothing():
    """On lognormal paths (VIX 20, 30 paths): the VIX filter at 1e9 and an IV-rank floor of 0 are
    bit-identical to the rules unset (the same arithmetic); roll / close-tested at delta 1 (never
    reached before expiry) agree to rounding (the P&L is then summed leg by leg)."""
    p = lognormal_paths(
        vix0=20, vol_ratio=0.86, n_paths=30, n_days=84 + 252, seed=4, session_fraction=1.0
    )
    vix = np.asarray(p.vix, dtype=float)
    up = UnderlyingPaths(
        p.log_return,
        (vix - vix[:, :1]) / 100.0,
        p.session_return,
        vix / 100.0 / math.sqrt(252.0),
        vix=vix,
    )
    s = _strangle(0.16, 0.16)
    base = Management(profit_target=0.5, exit_dte=21, delta_exit=0.30, stop_loss=2.0)
    silent = dataclasses.replace(base, vix_exit=1e9, entry_iv_rank=0.0)
    never = dataclasses.replace(base, roll_untested_delta=0.3, close_tested_delta=0.3)
    never = dataclasses.replace(never, delta_exit=1.0, roll_untested_delta=1.0)
    never = dataclasses.replace(never, close_tested_delta=1.0)
    ref_never = dataclasses.replace(base, delta_exit=1.0)
    r = _run([s, s, s, s], up, [base, silent, never, ref_never], entries=1.0)
    for name, arr in _fields(r).items():
        a0 = arr[:, 0] if name == "monthly_samples" else arr[0]
        a1 = arr[:, 1] if name == "monthly_samples" else arr[1]
        np.testing.assert_array_equal(a0, a1, err_msg=name)
        a2 = arr[:, 2] if name == "monthly_samples" else arr[2]
        a3 = arr[:, 3] if name == "monthly_samples" else arr[3]
        np.testing.assert_allclose(a2, a3, rtol=1e-9, atol=1e-7, err_msg=name)
    assert r.roll_fraction[2] == 0.0 and r.tested_fraction[2] == 0.0
    assert np.all(r.exit_fractions[:, 5:] == 0.0)


@pytest.mark.parametrize(
    ("cand", "mg", "message"),
    [
        ("lt112", Management(roll_untested_delta=0.2), "one short put and one short call"),
        ("strangle", Management(close_tested_delta=0.3, delta_exit=0.25), "must rise"),
        ("strangle", Management(directional_move=0.005), "0DTE"),
        ("strangle", Management(close_tested_delta=0.25, target_legs=(0,)), "target_legs"),
        ("condor", Management(close_distance=0.01, directional_move=-1.0), "directional_move"),
        ("zero_dte", Management(close_tested_delta=0.25), "not 0DTE"),
    ],
)
def test_bad_rules_raise(cand, mg, message):
    cands = {
        "lt112": lambda: _cand(
            "lt112", {"long_otm": [0.07], "spread_width": [2.5], "naked_otm": [0.12]}, dte=120
        ),
        "strangle": _strangle,
        "condor": lambda: _cand("iron_condor", {"short_delta": [0.16], "wing_width": [5.0]}),
        "zero_dte": _zero_dte,
    }
    c = cands[cand]()
    with pytest.raises(ModelError, match=message):
        _run([c], _paths(np.zeros((1, 130))), mg, months=1)


def test_spec_validates_the_rules_with_field_paths():
    ok = ManagementSpec(
        profit_target=0.5,
        roll_untested_delta=0.2,
        close_tested_delta=0.25,
        delta_exit=0.3,
        vix_exit=30,
        entry_iv_rank=0.3,
    )
    assert ok.close_tested_delta == 0.25
    with pytest.raises(ValidationError, match="close_tested_delta .* must not exceed delta_exit"):
        ManagementSpec(close_tested_delta=0.35, delta_exit=0.3)
    with pytest.raises(ValidationError) as err:
        ManagementSpec(entry_iv_rank=1.5)
    assert err.value.errors()[0]["loc"] == ("entry_iv_rank",)
    with pytest.raises(ValidationError) as err:
        ManagementSpec(close_distance=1.0)
    assert err.value.errors()[0]["loc"] == ("close_distance",)
    with pytest.raises(ValidationError, match="target_legs"):
        ManagementSpec(target_legs=[2], close_tested_delta=0.25)
