"""The managed income model's fast paths against straightforward references.

:func:`models.measure.managed.simulate_managed` simulates candidates that share a strategy's schedule,
grid and management together: their trades are priced step by step in the same arrays, a
closed trade leaves the arrays, the step grid stops at the forced exit, and 0DTE condors that
trade the same days price each distinct leg once per trade and smile segment. None of that may
change a number. These tests check

* a candidate simulated with many others gives exactly (bit for bit) what it gives alone, for
  every management variant of the phase-4 mix (0DTE condors with the directional variant,
  LT112 with partial targets and the distance rule, strangles with the delta defence, the VIX
  and IV-rank filters, hold to expiry with exercise fees);
* a hand-written, trade-by-trade, leg-by-leg scalar simulation of the model as the module notes
  state it (sticky-moneyness smile, Black-Scholes-Merton, profit target, stop, 21-DTE exit,
  months by mark to market, entry and exit costs) matches the engine to 1e-9;
* the shared-leg pricer gives the same bits as pricing every member's legs on its own smile;
* the strike solved at a delta by the defence's roll has that delta;
* :func:`models.measure.managed.iv_rank` matches its definition counted by brute force.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy.special import ndtr

import models.measure.managed as managed
from models.market.chain import synthetic_surface
from models.measure.managed import (
    EXIT_REASONS,
    TradeCostInputs,
    UnderlyingPaths,
    iv_rank,
    simulate_managed,
    time_grid,
    trading_steps,
)
from models.measure.physical import lognormal_paths
from models.measure.scenarios import term_factor
from models.strategies import Candidate, ExpiryRule, Management, generate_candidates

VAL = datetime(2026, 1, 30, 10, 30)
MULT = 100.0
SEED = 11


def _cands(template: str, grid: dict, rule: ExpiryRule, strategy: str) -> list[Candidate]:
    surface = synthetic_surface(6000.0, VAL, 0.17, skew=-0.1, strike_increment=5.0)
    return generate_candidates(
        strategy=strategy,
        template_name=template,
        legs=None,
        underlying="SPX",
        surface=surface,
        expiry_rule=rule,
        grid=grid,
    )


def _paths(n_paths: int, n_days: int, seed: int = 4) -> UnderlyingPaths:
    p = lognormal_paths(
        vix0=22.0, vol_ratio=0.9, n_paths=n_paths, n_days=n_days, seed=seed, session_fraction=1.0
    )
    vix = np.asarray(p.vix, dtype=float)
    return UnderlyingPaths(
        log_return=p.log_return,
        iv_shift=(vix - vix[:, :1]) / 100.0,
        session_return=p.session_return,
        daily_vol=vix / 100.0 / math.sqrt(252.0),
        vix=vix,
    )


def _mix() -> list[tuple[Candidate, Management, float, TradeCostInputs | None]]:
    """Candidates of the phase-4 mix and more: (candidate, management, entries, costs)."""
    zero = _cands(
        "iron_condor",
        {"short_delta": [0.08, 0.12, 0.16], "wing_width": [10.0, 25.0, 40.0]},
        ExpiryRule(date=VAL + timedelta(hours=5.5)),
        "zero_dte",
    )
    lt112 = _cands(
        "lt112",
        {"long_otm": [0.05, 0.07], "spread_width": [50.0], "naked_otm": [0.10, 0.12]},
        ExpiryRule(dte=120),
        "lt112",
    )
    strangle = _cands(
        "short_strangle",
        {"put_delta": [0.08, 0.12], "call_delta": [0.08, 0.12]},
        ExpiryRule(dte=90),
        "strangle",
    )
    held = _cands(
        "short_strangle", {"put_delta": [0.3], "call_delta": [0.3]}, ExpiryRule(dte=30), "held"
    )
    cost = TradeCostInputs(
        entry_commission=3.0,
        entry_spread=5.0,
        exit_commission=(1.0, 2.0, 3.0, 4.0, 5.0),
        exit_spread=(0.5, 0.6, 0.7, 0.8, 0.9),
        exit_slippage=(0.0, 1.5, 0.0, 0.0, 1.5),
        fx_cost=0.01,
    )
    zdte = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00", directional_move=0.002)
    lmg = Management(profit_target=0.9, exit_dte=21, target_legs=(2,), close_distance=0.02)
    smg = Management(
        profit_target=0.5,
        exit_dte=21,
        roll_untested_delta=0.20,
        close_tested_delta=0.25,
        delta_exit=0.30,
        vix_exit=30.0,
        entry_iv_rank=0.3,
    )
    fee = dataclasses.replace(cost, exercise_fee=(2.0, 2.0))
    return (
        [(c, zdte, 4.33, cost) for c in zero]
        + [(c, lmg, 4.0, cost) for c in lt112]
        + [(lt112[0], lmg, 4.0, None)]  # a twin (ES / MES): same legs, other costs
        + [(c, smg, 1.0, cost) for c in strangle]
        + [(c, Management(), 1.0, fee) for c in held]
    )


def _simulate(items, up: UnderlyingPaths, warmup: int, months: int):
    return simulate_managed(
        [c for c, *_ in items],
        paths={"SPX": up},
        multipliers=[MULT] * len(items),
        management=[mg for _, mg, _, _ in items],
        entries_per_month=[e for _, _, e, _ in items],
        costs=[tc for *_, tc in items],
        seed=SEED,
        months=months,
        warmup_days=warmup,
    )


def _fields(r) -> dict[str, np.ndarray]:
    return {
        f.name: getattr(r, f.name)
        for f in dataclasses.fields(r)
        if isinstance(getattr(r, f.name), np.ndarray)
    }


#: Results reduced over the months of a (P M, K) array (the same bits only for the same K).
_ACROSS = ("expected_monthly", "expected_monthly_gross", "costs_monthly", "expected_monthly_se")


def test_a_candidate_simulated_with_others_gives_exactly_what_it_gives_alone():
    """Every result of each candidate of the mix, simulated in one call with all of them
    (grouped, 0DTE legs shared) and alone, is identical to the bit (its monthly samples, trade
    statistics and exit shares); the means over months agree to rounding."""
    items = _mix()
    longest = max(trading_steps(c.t) for c, *_ in items)
    warmup = 21 * math.ceil(longest / 21)
    months = 3
    up = _paths(40, warmup + 21 * months)
    together = _fields(_simulate(items, up, warmup, months))
    assert together["roll_fraction"].max() > 0  # the defence and the 0DTE variant were exercised
    assert together["one_sided_fraction"].max() > 0
    assert together["partial_fraction"].max() > 0
    for k, item in enumerate(items):
        alone = _fields(_simulate([item], up, warmup, months))
        for name, arr in alone.items():
            got = together[name][..., k] if name == "monthly_samples" else together[name][k]
            want = arr[..., 0] if name == "monthly_samples" else arr[0]
            if name in _ACROSS:  # numpy sums a column alone pairwise, among others row by row
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-12, err_msg=name)
            else:
                assert np.array_equal(got, want), f"candidate {k} ({item[0].strategy}): {name}"


def test_fewer_batches_give_the_same_bits(monkeypatch):
    """Small batches (one member per batch, compaction at every closed trade, tiny pricing
    chunks) and the default ones give identical results."""
    items = _mix()
    longest = max(trading_steps(c.t) for c, *_ in items)
    warmup = 21 * math.ceil(longest / 21)
    up = _paths(30, warmup + 42, seed=9)
    want = _fields(_simulate(items, up, warmup, 2))
    monkeypatch.setattr(managed, "_MAX_TRADES", 8)
    monkeypatch.setattr(managed, "_MAX_SHARED", 8)
    monkeypatch.setattr(managed, "_COMPACT", 1_000_000)
    monkeypatch.setattr(managed, "_PRICE_CHUNK", 7)
    got = _fields(_simulate(items, up, warmup, 2))
    for name, arr in want.items():
        assert np.array_equal(got[name], arr), name


# ------------------------------------------------------------------------------------------
# A straightforward reference: one candidate, trade by trade, leg by leg, in scalars


def _reference(c: Candidate, up: UnderlyingPaths, mg: Management, tc, warmup: int, months: int):
    """Monthly net P&L (P, M) and completed trades' (net P&L, reason) of one unit of ``c``,
    opened at day 0 and again the day after each close, from the module notes alone."""
    n_paths, n_days = up.log_return.shape
    taus = c.t * (1.0 - np.arange(trading_steps(c.t) + 1) / trading_steps(c.t))
    n = taus.size - 1
    forced = next(j for j in range(1, n + 1) if taus[j] <= mg.exit_dte / 365.0 + 1e-9)
    tf = term_factor(taus)
    nodes = {0.0: c.atm_iv}
    for leg, iv in zip(c.legs, c.ivs, strict=True):
        nodes[math.log(leg.strike / c.forward)] = iv
    smile_k = np.array(sorted(nodes))
    smile_v = np.array([nodes[k] for k in smile_k])
    carry, rate = c.carry, c.rate

    def value(x: float, tau: float, shift: float, j: int) -> float:
        total = 0.0
        for leg in c.legs:
            sign = 1.0 if leg.right.value == "C" else -1.0
            rel = leg.strike / c.spot  # sticky moneyness: strikes scale with the entry spot
            lk = math.log(rel)
            fwd_ln = x + carry * tau
            k = lk - fwd_ln
            sigma = float(np.interp(k, smile_k, smile_v)) + tf[j] * shift
            v = max(sigma, 0.01) * math.sqrt(tau)
            d1 = -k / v + 0.5 * v
            px = (
                math.exp(-rate * tau)
                * sign
                * (math.exp(fwd_ln) * ndtr(sign * d1) - rel * ndtr(sign * (d1 - v)))
            )
            total += leg.quantity * px
        return total

    cum_x = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(up.log_return, axis=1)], axis=1)
    monthly = np.zeros((n_paths, months))
    trades = []

    def book(p: int, day: int, amount: float) -> None:
        m = (day - warmup - 1) // 21
        if day > warmup and m < months:
            monthly[p, m] += amount

    comm = managed._per_reason(tc.exit_commission)
    for p in range(n_paths):
        e = 0
        while e <= n_days - 1:
            scale = MULT * c.spot * math.exp(cum_x[p, e])
            days = [min(e + j, n_days) for j in range(forced + 1)]
            vals = [
                value(cum_x[p, d] - cum_x[p, e], taus[j], up.iv_shift[p, d], j)
                for j, d in enumerate(days)
            ]
            ref = abs(vals[0])
            f, reason, realized = forced, "time", vals[forced] - vals[0]
            for j in range(1, forced + 1):
                pnl = vals[j] - vals[0]
                if pnl >= mg.profit_target * ref:
                    f, reason, realized = j, "target", mg.profit_target * ref
                    break
                if pnl <= -mg.stop_loss * ref:
                    f, reason, realized = j, "stop", pnl
                    break
                if j == forced:
                    break
            prev = 0.0
            for j in range(1, f + 1):
                mark = (realized if j == f else vals[j] - vals[0]) * scale
                book(p, e + j, mark - prev)
                prev = mark
            cost = tc.entry_commission + comm[EXIT_REASONS.index(reason)]
            book(p, e, -tc.entry_commission)
            book(p, e + f, -comm[EXIT_REASONS.index(reason)])
            if e + f <= n_days:
                trades.append((realized * scale - cost, reason))
            e = e + f + 1
    return monthly, trades


def test_one_candidate_matches_a_trade_by_trade_scalar_reference():
    (c,) = _cands(
        "short_strangle", {"put_delta": [0.16], "call_delta": [0.16]}, ExpiryRule(dte=45), "s"
    )
    mg = Management(profit_target=0.5, stop_loss=1.5, exit_dte=21)
    tc = TradeCostInputs(entry_commission=2.5, exit_commission=(1.0, 1.5, 2.0, 3.0, 4.0))
    months = 3
    warmup = 21 * math.ceil(trading_steps(c.t) / 21)
    up = _paths(6, warmup + 21 * months, seed=21)
    r = simulate_managed(
        [c],
        paths={"SPX": up},
        multipliers=[MULT],
        management=[mg],
        entries_per_month=[1000.0],  # every day is a scheduled entry, the first at day 0
        costs=[tc],
        seed=SEED,
        months=months,
        warmup_days=warmup,
    )
    monthly, trades = _reference(c, up, mg, tc, warmup, months)
    assert len(trades) > 20
    scale = np.max(np.abs(monthly))
    np.testing.assert_allclose(r.path_months()[:, :, 0], monthly, rtol=1e-9, atol=1e-9 * scale)
    pnl = np.array([t for t, _ in trades])
    assert r.expected_trade[0] == pytest.approx(pnl.mean(), rel=1e-9)
    assert r.win_rate[0] == pytest.approx((pnl > 0).mean())
    for name in ("target", "stop", "time"):
        share = np.mean([reason == name for _, reason in trades])
        assert r.exit_fractions[0, EXIT_REASONS.index(name)] == pytest.approx(share)


# ------------------------------------------------------------------------------------------
# Pieces


def test_shared_legs_price_like_each_members_own_smile():
    """The shared-leg pricer (each distinct leg, trade and smile segment once) gives the same
    bits as pricing every member's legs on its own smile."""
    items = [(c, Management(), 4.33, None) for c, *_ in _mix() if c.t < 1 / 365]
    cands = [c for c, *_ in items]
    assert len(cands) == 9
    up = _paths(20, 60)
    market = managed._Market({"SPX": up}, SEED, 20, 60, 11)
    setups, keys = [], []
    for c in cands:
        book = managed._Book.of(c, Management())
        taus = time_grid(c, 11)
        forced = managed._forced_exit_step(c, Management(), taus)
        setups.append((book, taus, forced, 4.85, TradeCostInputs(), None))
        keys.append("SPX")
        market.bridge("SPX", False)
    mgs = [Management()] * len(cands)
    g, _ = managed._group(
        list(range(len(cands))), cands, setups, keys, np.full(9, MULT), mgs, market, True
    )
    assert g.shared is not None
    assert len(g.shared.holders) < 9 * 4  # the 3 wings share short legs, the deltas long ones
    rng = np.random.default_rng(5)
    n_t = 300
    x = rng.normal(0.0, 0.01, n_t)
    shift = rng.normal(0.0, 0.02, n_t)
    ci = np.repeat(np.arange(9), n_t)
    tk = np.tile(np.arange(n_t), 9)
    keep = rng.random(ci.size) < 0.7  # some trades closed
    ci, tk = ci[keep], tk[keep]
    for j in (0, 3, 10):
        got, got_d = g.shared.prices(g, j, x, shift, ci, tk, True)
        want, want_d = managed._price(
            g, j, ci, g.lk[ci].T, g.strike[ci].T, g.sign[:, None], x[tk], shift[tk]
        )
        assert np.array_equal(got, want) and np.array_equal(got_d, want_d)


def test_strike_at_delta_has_the_delta():
    """The roll's strike: |N(d1)| at the solved strike, on the trade's smile, is the target."""
    (c,) = _cands(
        "short_strangle", {"put_delta": [0.1], "call_delta": [0.1]}, ExpiryRule(dte=90), "s"
    )
    mg = Management(roll_untested_delta=0.2, close_tested_delta=0.25)
    up = _paths(3, 80)
    market = managed._Market({"SPX": up}, SEED, 3, 80, 11)
    book = managed._Book.of(c, mg)
    taus = time_grid(c)
    setups = [(book, taus, managed._forced_exit_step(c, mg, taus), 21.0, TradeCostInputs(), None)]
    g, _ = managed._group([0], [c], setups, ["SPX"], np.array([MULT]), [mg], market, True)
    target = np.array([0.05, 0.1, 0.16, 0.3, 0.1, 0.2])
    sign = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    x = np.array([0.0, 0.02, -0.03, 0.01, -0.05, 0.04])
    shift = np.array([0.0, 0.01, 0.03, -0.01, 0.05, 0.0])
    ci = np.zeros(6, dtype=np.int64)
    for j in (1, 20, 40):
        lk = managed._strike_at_delta(g, j, ci, target, sign, x, shift)
        _, n1 = managed._price(g, j, ci, lk, np.exp(lk), sign, x, shift)
        np.testing.assert_allclose(n1, target, rtol=0, atol=1e-12)


def test_iv_rank_counts_the_previous_closes_below():
    rng = np.random.default_rng(3)
    iv = np.round(rng.normal(0.0, 0.01, (4, 40)), 3)  # ties on purpose
    window = 10
    got = iv_rank(iv, window)
    for p in range(iv.shape[0]):
        assert math.isnan(got[p, 0])
        for t in range(1, iv.shape[1]):
            prev = iv[p, max(0, t - window) : t]
            want = (np.sum(prev < iv[p, t]) + 0.5 * np.sum(prev == iv[p, t])) / prev.size
            assert got[p, t] == want
