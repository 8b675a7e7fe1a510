"""The income model: managed trades on shared daily paths, months by mark to market (models.measure.managed).

References, none of them the engine's own code path:

* the Black-76 expectation of the payoff under the lognormal measure (closed form,
  :func:`models.income.expected_pnl_at_expiry` and :func:`models.market.pricing.black76_price`);
* the empirical terminal distribution of the same filtered-historical-simulation path set,
  recomputed here from the daily log returns;
* Black-Scholes marks recomputed here from the documented sticky-moneyness rule (linear smile
  through the legs' IVs and the ATM IV, plus ``term_factor x`` the path's IV change);
* deterministic paths (flat prices, a single crash day, a constant session move per month) on
  which every trade's exit step, reason and P&L can be worked out by hand;
* the identities of the booking (costs = gross - net, entry costs = cost x trades opened).

Three tests were written against engine bugs they found (the next entry after a close on a
scheduled day, delta_exit watching legs already closed by target_legs, and the "None warm-up
days" error message); the engine is fixed and they pass.

Two configurations isolate single trades through the public API:

* ``entries_per_month = 1000`` makes the schedule spacing 0.021 days, so every path opens its
  first trade at the close of day 0; with ``D <= 2 n`` days the next trade (opened at day
  ``n + 1``) cannot finish, so the trade statistics are exactly one trade per path, entered at
  day 0 with today's spot and smile.
* a 0DTE trade with ``entries_per_month = 1`` and no warm-up is at most one trade per reported
  month (opened and closed on its day), so a month's sample *is* that trade's P&L.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from models.errors import ModelError
from models.income import expected_pnl_at_expiry
from models.legs import Right
from models.market.chain import synthetic_surface
from models.market.history import load_index_ohlc, load_vix_history
from models.market.pricing import black76_price, bsm_price
from models.measure.managed import (
    COST_COMPONENTS,
    EXIT_REASONS,
    ManagedResult,
    TradeCostInputs,
    UnderlyingPaths,
    book_drawdowns,
    simulate_managed,
    time_grid,
    trading_steps,
)
from models.measure.physical import fhs_paths, filtered_history, lognormal_paths
from models.strategies import Candidate, ExpiryRule, Management, generate_candidates

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"
VIX_FILE = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
SPX_FILE = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"

VAL = datetime(2026, 1, 30, 10, 30)
VIX0 = 20.0
VOL_RATIO = 0.861
MULT = 100.0
HOLD = Management()  # no rule: hold to expiry
ONE_AT_DAY_0 = 1000.0  # entries per month: spacing 0.021 days, every path's first entry at day 0
TARGET, STOP, TIME, EXPIRY, DELTA = (
    EXIT_REASONS.index(r) for r in ("target", "stop", "time", "expiry", "delta")
)
MONEY_FIELDS = (
    "expected_monthly",
    "expected_monthly_gross",
    "costs_monthly",
    "expected_monthly_se",
    "monthly_samples",
    "avg_win",
    "avg_loss",
    "expected_trade",
    "expected_trade_se",
    "expected_trade_gross",
)
OTHER_FIELDS = (
    "win_rate",
    "avg_days_held",
    "trades_per_month",
    "occupancy",
    "exit_fractions",
    "partial_fraction",
)


# ------------------------------------------------------------------------------------------
# Builders


def _surface(rate: float = 0.0, spot: float = 100.0, atm_iv: float = 0.20, inc: float = 0.25):
    return synthetic_surface(
        spot, VAL, atm_iv, skew=-0.1, rate=rate, carry=rate, strike_increment=inc
    )


def _one(template: str, grid: dict, *, dte=30, rule=None, strategy=None, surface=None, und="X"):
    cands = generate_candidates(
        strategy=strategy or template,
        template_name=template,
        legs=None,
        underlying=und,
        surface=surface or _surface(),
        expiry_rule=rule or ExpiryRule(dte=dte),
        grid=grid,
    )
    assert len(cands) == 1
    return cands[0]


def _put(dte=30, **kw) -> Candidate:
    return _one("cash_secured_put", {"short_delta": [0.25]}, dte=dte, **kw)


def _pcs(dte=45, **kw) -> Candidate:
    return _one("put_credit_spread", {"short_delta": [0.25], "wing_width": [5.0]}, dte=dte, **kw)


def _condor(dte=60, **kw) -> Candidate:
    return _one("iron_condor", {"short_delta": [0.16], "wing_width": [5.0]}, dte=dte, **kw)


def _strangle(dte=120, **kw) -> Candidate:
    return _one("short_strangle", {"put_delta": [0.16], "call_delta": [0.16]}, dte=dte, **kw)


def _lt112(**kw) -> Candidate:
    grid = {"long_otm": [0.07], "spread_width": [2.5], "naked_otm": [0.12]}
    return _one("lt112", grid, dte=120, **kw)


def _zero_dte(strategy: str = "zero_dte", und: str = "SPX") -> Candidate:
    """SPX-like 16-delta iron condor entered 10:30, expiring 16:00 the same day."""
    return _one(
        "iron_condor",
        {"short_delta": [0.16], "wing_width": [30.0]},
        rule=ExpiryRule(date=VAL + timedelta(hours=5.5)),
        surface=_surface(spot=6000.0, atm_iv=0.17, inc=5.0),
        strategy=strategy,
        und=und,
    )


def _credit(c: Candidate, legs=None) -> float:
    """Net option premium received per share (the candidate's own leg prices)."""
    idx = range(len(c.legs)) if legs is None else legs
    return -sum(c.legs[i].quantity * c.legs[i].price for i in idx)


def _payoff(c: Candidate, s_t: np.ndarray) -> np.ndarray:
    """Value at expiry of the position per share (negative for short options)."""
    out = np.zeros_like(s_t, dtype=float)
    for leg in c.legs:
        sign = 1.0 if leg.right is Right.CALL else -1.0
        out += leg.quantity * np.maximum(sign * (s_t - leg.strike), 0.0)
    return out


def _up(paths, session_scale: float = 1.0) -> UnderlyingPaths:
    """models.measure.physical.Paths -> UnderlyingPaths, as optimizer.inputs.income_model._sp_paths does."""
    vix = np.asarray(paths.vix, dtype=float)
    return UnderlyingPaths(
        log_return=paths.log_return,
        iv_shift=(vix - vix[:, :1]) / 100.0,
        session_return=paths.session_return,
        daily_vol=vix / 100.0 / math.sqrt(252.0),
        session_scale=session_scale,
        description=paths.measure,
    )


def _flat(p: int, d: int, *, log_return=None, iv_shift=None, session=None) -> UnderlyingPaths:
    """Deterministic paths: zero returns and a constant IV unless given."""
    lr = np.zeros((p, d)) if log_return is None else log_return
    return UnderlyingPaths(
        log_return=lr,
        iv_shift=np.zeros((p, d + 1)) if iv_shift is None else iv_shift,
        session_return=lr.copy() if session is None else session,
        daily_vol=np.full((p, d + 1), 0.01),
    )


def _lognormal(p: int, d: int, seed: int, vix0: float = VIX0, ratio: float = VOL_RATIO):
    return _up(
        lognormal_paths(
            vix0=vix0, vol_ratio=ratio, n_paths=p, n_days=d, seed=seed, session_fraction=1.0
        )
    )


def _run(cands, paths, management, *, entries=1.0, mult=MULT, seed=11, **kw) -> ManagedResult:
    k = len(cands)
    mg = management if isinstance(management, list) else [management] * k
    en = entries if isinstance(entries, list) else [entries] * k
    if not isinstance(paths, dict):
        paths = {c.underlying: paths for c in cands}
    return simulate_managed(
        cands,
        paths=paths,
        multipliers=[mult] * k,
        management=mg,
        entries_per_month=en,
        seed=seed,
        **kw,
    )


def _tau(c: Candidate, j: int) -> float:
    """Years to expiry after step ``j`` (the documented grid ``t (n - j) / n``)."""
    n = trading_steps(c.t)
    return c.t * (n - j) / n


def _flat_value(c: Candidate, j: int, legs=None) -> float:
    """Position value per share after step ``j`` on a flat path (spot, smile and rates fixed)."""
    tau = _tau(c, j)
    idx = range(len(c.legs)) if legs is None else legs
    r = -math.log(c.discount_factor) / c.t
    q = r - math.log(c.forward / c.spot) / c.t
    return sum(
        c.legs[i].quantity
        * float(
            bsm_price(c.spot, c.legs[i].strike, tau, r, q, c.ivs[i], c.legs[i].right is Right.CALL)
        )
        for i in idx
    )


def _fields_equal(a: ManagedResult, ia: int, b: ManagedResult, ib: int) -> None:
    for name in MONEY_FIELDS + OTHER_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if name == "monthly_samples":
            x, y = x[:, ia], y[:, ib]
        else:
            x, y = x[ia], y[ib]
        np.testing.assert_array_equal(x, y, err_msg=name)


# ------------------------------------------------------------------------------------------
# Path sets (session-scoped: built once)


@pytest.fixture(scope="session")
def ln_paths() -> UnderlyingPaths:
    """Lognormal (constant VIX 20, vol ratio 0.861): 200 paths x (168 warm-up + 252) days."""
    return _lognormal(200, 168 + 252, seed=3)


@pytest.fixture(scope="session")
def ln_paths2() -> UnderlyingPaths:
    """Another lognormal set of the same shape, independent of ``ln_paths``."""
    return _lognormal(200, 168 + 252, seed=99)


@pytest.fixture(scope="session")
def hv_paths() -> UnderlyingPaths:
    """High-vol lognormal (VIX 40, realized = implied): 100 paths x 420 days."""
    return _lognormal(100, 420, seed=4, vix0=40.0, ratio=1.0)


@pytest.fixture(scope="session")
def fhs_hist():
    return filtered_history(load_vix_history(VIX_FILE), load_index_ohlc(SPX_FILE))


# ------------------------------------------------------------------------------------------
# 1. Hold to expiry = the expiry integral under the same measure

HOLD_CASES = {
    "short_put_30d": lambda **kw: _put(30, **kw),
    "put_credit_spread_45d": lambda **kw: _pcs(45, **kw),
    "iron_condor_60d": lambda **kw: _condor(60, **kw),
    "short_strangle_120d": lambda **kw: _strangle(120, **kw),
}
RATE_CASE = {"short_strangle_90d_rate5": lambda **kw: _strangle(90, surface=_surface(0.05), **kw)}


@pytest.mark.parametrize("name", sorted(HOLD_CASES))
def test_hold_to_expiry_is_the_black76_expectation_on_lognormal_paths(name, ln_paths):
    """Constant VIX (iv_shift = 0): each trade's credit is the candidate's own leg prices (at
    entry the log-moneyness of every leg is its own node of the smile), the terminal move is
    lognormal with vol VIX0/100 x ratio over n = trading_steps(t) days and mean S_entry, so the
    mean trade P&L is the Black-76 expectation at the effective total variance. With rate 0
    (DF = 1, F = S0) that is expected_pnl_at_expiry at a vol ratio giving the same variance."""
    c = HOLD_CASES[name]()
    assert c.discount_factor == 1.0 and c.forward == c.spot
    n = trading_steps(c.t)
    sigma = VIX0 / 100.0 * VOL_RATIO
    ratio_eff = sigma / c.atm_iv * math.sqrt((n / 252.0) / c.t)
    want = expected_pnl_at_expiry(c, ratio_eff, MULT)
    r = _run([c], ln_paths, HOLD)
    assert r.exit_fractions[0, EXPIRY] == 1.0
    assert r.partial_fraction[0] == 0.0
    assert r.avg_days_held[0] == pytest.approx(c.t * 365.0)
    assert r.expected_trade_se[0] > 0
    assert abs(r.expected_trade_gross[0] - want) < 4.0 * r.expected_trade_se[0]
    np.testing.assert_array_equal(r.expected_trade, r.expected_trade_gross)  # no costs


def test_hold_to_expiry_with_rates_is_the_undiscounted_expectation(ln_paths):
    """Rate 5%: the entry value is the discounted leg prices, the payoff is not discounted and
    the paths have no drift (E[S_T] = S_entry), so E[P&L] = credit - Black76(F = S0, r = 0)."""
    c = _strangle(90, surface=_surface(rate=0.05))
    assert c.discount_factor < 1.0
    n = trading_steps(c.t)
    sigma = VIX0 / 100.0 * VOL_RATIO
    payoff = sum(
        -leg.quantity
        * float(black76_price(c.spot, leg.strike, n / 252.0, 0.0, sigma, leg.right is Right.CALL))
        for leg in c.legs
    )
    want = (_credit(c) - payoff) * MULT
    r = _run([c], ln_paths, HOLD)
    assert abs(r.expected_trade_gross[0] - want) < 4.0 * r.expected_trade_se[0]


@pytest.mark.parametrize("name", sorted(HOLD_CASES) + sorted(RATE_CASE))
def test_hold_to_expiry_is_the_empirical_expectation_on_fhs_paths(name, fhs_hist):
    """FHS paths (VIX moving, fat tails): one trade per path, entered at the close of day 0
    (entries_per_month = 1000, D = 2 n so the second trade cannot finish). Its P&L is exactly
    credit - payoff(S0 exp(sum of the first n log returns)) on that path: the trade statistics
    equal those of the empirical terminal distribution recomputed here, to rounding. With a 5%
    rate the entry value is still the (discounted) leg prices and the payoff is undiscounted."""
    c = {**HOLD_CASES, **RATE_CASE}[name]()
    n = trading_steps(c.t)
    p = fhs_paths(fhs_hist, vix0=VIX0, n_paths=300, n_days=2 * n, seed=21)
    up = _up(p, session_scale=fhs_hist.session_scale)
    r = _run([c], up, HOLD, entries=ONE_AT_DAY_0, months=1)
    s_t = c.spot * np.exp(np.cumsum(p.log_return, axis=1)[:, n - 1])
    pnl = (_credit(c) + _payoff(c, s_t)) * MULT  # payoff value is <= 0 for a short structure
    assert r.expected_trade_gross[0] == pytest.approx(pnl.mean(), rel=1e-10, abs=1e-9)
    # the standard error pins the number of trades: exactly one per path
    assert r.expected_trade_se[0] == pytest.approx(pnl.std(ddof=1) / math.sqrt(pnl.size), rel=1e-9)
    assert r.win_rate[0] == pytest.approx(np.mean(pnl > 0))
    assert r.avg_loss[0] == pytest.approx(pnl[pnl <= 0].mean(), rel=1e-10)
    assert r.exit_fractions[0, EXPIRY] == 1.0
    assert r.description == p.measure


def test_zero_dte_hold_is_credit_minus_payoff_of_the_session_move():
    """0DTE: the trade opens at the previous close's level S_{e-1}, its move from entry (10:30)
    to the close is session_return x sqrt(5.5 / 6.5) and the bridge ends there, so a held
    trade's P&L is (S_{e-1} / S0) x (credit - payoff(S0 exp(move))). With entries_per_month = 1
    and no warm-up a month holds one trade, on an unknown day: each month's sample matches this
    formula on exactly one day of the month, and those days are 21 apart (the schedule)."""
    c = _zero_dte()
    p_, m_ = 12, 6
    d = 21 * m_
    rng = np.random.default_rng(0)
    lr = rng.normal(0.0, 0.01, (p_, d))
    sr = rng.normal(0.0, 0.006, (p_, d))
    up = _flat(p_, d, log_return=lr, session=sr)
    r = _run([c], up, HOLD, months=m_, warmup_days=0)
    prev_close = np.exp(np.concatenate([np.zeros((p_, 1)), np.cumsum(lr, axis=1)[:, :-1]], 1))
    s_t = c.spot * np.exp(sr * math.sqrt(5.5 / 6.5))
    want = prev_close * (_credit(c) + _payoff(c, s_t)) * MULT  # (P, D): a trade on day t + 1
    got = r.path_months()[:, :, 0]
    traded = got != 0.0  # a phase rounding up to day 22 leaves month 0 of that path empty
    assert traded.sum() == round(r.trades_per_month[0] * p_ * m_)
    assert np.all(traded[:, 1:])
    for p in range(p_):
        days = []
        for m in np.nonzero(traded[p])[0]:
            block = want[p, 21 * m : 21 * (m + 1)]
            hit = np.nonzero(np.isclose(block, got[p, m], rtol=1e-10, atol=0.0))[0]
            assert hit.size == 1, (p, m)
            days.append(21 * m + hit[0])
        assert len(set(np.diff(days))) <= 1 and (len(days) < 2 or days[1] - days[0] == 21)
    assert r.exit_fractions[0, EXPIRY] == 1.0
    assert r.avg_days_held[0] == pytest.approx(5.5 / 24.0)
    assert r.occupancy[0] == pytest.approx(r.trades_per_month[0] * (5.5 / 24.0) / (365.25 / 12))


# ------------------------------------------------------------------------------------------
# 2. Months add up


def _smile_iv(c: Candidate, i: int, k: np.ndarray) -> np.ndarray:
    """IV of leg ``i`` at log-moneyness ``k``: linear through the legs' nodes and ATM, flat out."""
    nodes = {0.0: c.atm_iv}
    for leg, iv in zip(c.legs, c.ivs, strict=True):
        nodes[math.log(leg.strike / c.forward)] = iv
    xs = sorted(nodes)
    return np.interp(k, xs, [nodes[x] for x in xs])


def test_monthly_marks_telescope_to_the_trade_pnl(fhs_hist):
    """A 120-DTE short put entered at day 0 and held (83 steps) with no warm-up and 4 months:
    month m = mark(end of m) - mark(end of m - 1), marks recomputed here by Black-Scholes on the
    path (IV = smile at the current log-moneyness + term_factor(tau) x the VIX change, floored at
    1 point), the last month ending at expiry. Their sum is the realized P&L."""
    c = _put(120)
    n = trading_steps(c.t)
    assert n == 83
    months = 4
    p = fhs_paths(fhs_hist, vix0=VIX0, n_paths=3, n_days=21 * months, seed=8)
    up = _up(p, session_scale=fhs_hist.session_scale)
    r = _run([c], up, HOLD, entries=ONE_AT_DAY_0, months=months, warmup_days=0)
    leg = c.legs[0]
    spot = c.spot * np.exp(np.concatenate([np.zeros((3, 1)), np.cumsum(p.log_return, 1)], 1))
    marks = []
    for day in (21, 42, 63):
        tau = _tau(c, day)
        iv = _smile_iv(c, 0, np.log(leg.strike / spot[:, day]))
        tf = min(2.0, max(0.25, math.sqrt((30.0 / 365.0) / tau)))
        sigma = np.maximum(iv + tf * up.iv_shift[:, day], 0.01)
        price = bsm_price(spot[:, day], leg.strike, tau, 0.0, 0.0, sigma, False)
        marks.append((leg.price - price) * MULT)  # short one put: P&L = entry - current value
    final = (leg.price - np.maximum(leg.strike - spot[:, n], 0.0)) * MULT
    want = np.diff(np.column_stack([np.zeros(3), *marks, final]), axis=1)
    got = r.path_months()[:, :, 0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(got.sum(axis=1), final, rtol=1e-9)
    assert r.expected_trade_gross[0] == pytest.approx(final.mean(), rel=1e-10)
    # the expected month is the mean over paths and months
    assert r.expected_monthly_gross[0] * months == pytest.approx(got.sum(axis=1).mean())


def test_expected_month_is_trades_per_month_times_expected_trade(ln_paths):
    """Steady state: E[month] = trades opened per month x E[trade] (boundary terms cancel)."""
    c = _condor(45)
    r = _run([c], ln_paths, Management(profit_target=0.5, stop_loss=2.0), entries=2.0)
    got, want = r.expected_monthly[0], r.trades_per_month[0] * r.expected_trade[0]
    err = math.hypot(r.expected_monthly_se[0], r.trades_per_month[0] * r.expected_trade_se[0])
    assert abs(got - want) < 4.0 * err
    np.testing.assert_allclose(r.expected_monthly, r.monthly_samples.mean(axis=0))
    totals = r.path_months().sum(axis=1)[:, 0]
    assert r.expected_monthly_gross[0] * r.months_per_path == pytest.approx(totals.mean())


def test_next_trade_opens_on_a_scheduled_day(ln_paths):
    """A 30-DTE put (21 steps) held to expiry with one scheduled entry every 21 days closes on
    the next scheduled day. Whether the next trade may open at that same close (a roll: one
    trade a month) or waits for the following scheduled day (the docstring's "first scheduled
    entry after that close": one every 42 days), every path must follow the same rule, so
    trades/month is 1.0 or 0.5 (less a hair: an entry due at the close of the last day is not
    opened) — not a phase-dependent mixture."""
    r = _run([_put(30)], ln_paths, HOLD, entries=1.0)
    tpm = r.trades_per_month[0]
    assert abs(tpm - 0.5) < 0.01 or abs(tpm - 1.0) < 0.01, tpm


# ------------------------------------------------------------------------------------------
# 2b. Marks: IV floor, the 0DTE intraday path


def test_iv_floor_of_one_vol_point():
    """A 30-point IV drop after entry (flat prices): the marks use the 1-point floor, not a
    negative or zero vol. A 60-DTE put (41 steps) over 2 months: month 0 = entry value - the
    Black-Scholes value at 1% vol after 21 steps (a near-ATM put, so the floor's time value
    shows); month 1 takes it to expiry."""
    c = _one("cash_secured_put", {"short_delta": [0.5]}, dte=60)
    assert trading_steps(c.t) == 41
    iv = np.full((2, 43), -0.30)
    iv[:, 0] = 0.0
    r = _run([c], _flat(2, 42, iv_shift=iv), HOLD, entries=ONE_AT_DAY_0, months=2, warmup_days=0)
    leg = c.legs[0]
    floor = float(bsm_price(c.spot, leg.strike, _tau(c, 21), 0.0, 0.0, 0.01, False))
    got = r.path_months()[:, :, 0]
    np.testing.assert_allclose(got[:, 0], (leg.price - floor) * MULT, rtol=1e-12)
    assert floor > max(leg.strike - c.spot, 0.0) + 0.01  # 1% vol still has time value here
    payoff = max(leg.strike - c.spot, 0.0)
    np.testing.assert_allclose(got.sum(axis=1), (leg.price - payoff) * MULT, rtol=1e-12)


def _zero_dte_trade(c: Candidate, move, s0, s1, mg: Management, steps: int = 11) -> float:
    """P&L per share (spot 1 at entry) of one 0DTE trade on a bridge-free day, recomputed from
    the documented rules: x_j = (j / steps) move, IV = smile(k_j) + 2 x (s0 + (j / steps)(s1 - s0))
    floored at 1 point, Black-Scholes at tau_j, intrinsic at expiry; the target fills at p x ref,
    a stop or the time exit at the step's mark."""
    n = steps
    taus = c.t * (1 - np.arange(n + 1) / n)
    values = []
    for j in range(n + 1):
        x = move * j / n
        v = 0.0
        for i, leg in enumerate(c.legs):
            k_rel = leg.strike / c.spot
            call = leg.right is Right.CALL
            if j == n:
                price = max((1.0 if call else -1.0) * (math.exp(x) - k_rel), 0.0)
            else:
                iv = float(_smile_iv(c, i, math.log(k_rel) - x)) + 2.0 * (s0 + j / n * (s1 - s0))
                price = float(bsm_price(math.exp(x), k_rel, taus[j], 0.0, 0.0, max(iv, 0.01), call))
            v += leg.quantity * price
        values.append(v)
    ref = abs(values[0])
    h, m = (int(x) for x in mg.time_exit.split(":"))
    forced = next(j for j in range(1, n + 1) if taus[j] * 8760.0 <= 16 - h - m / 60 + 1e-9)
    for j in range(1, n + 1):
        pnl = values[j] - values[0]
        if pnl >= mg.profit_target * ref:
            return mg.profit_target * ref
        if pnl <= -mg.stop_loss * ref or j >= forced:
            return pnl
    raise AssertionError("unreachable")


def test_zero_dte_trades_recomputed_with_moving_iv():
    """Bridge-free days (daily_vol 0): each 0DTE trade moves linearly to its session close and
    its IV level linearly from the previous close's shift to the day's (x2 term factor). Each
    month's sample equals the recomputed trade of exactly one day of that month."""
    c = _zero_dte()
    p_, m_ = 4, 3
    d = 21 * m_
    rng = np.random.default_rng(5)
    sr = rng.normal(0.0, 0.005, (p_, d))
    iv = np.concatenate([np.zeros((p_, 1)), np.cumsum(rng.normal(0, 0.02, (p_, d)), 1)], 1)
    up = UnderlyingPaths(np.zeros((p_, d)), iv, sr, np.zeros((p_, d + 1)))
    mg = Management(profit_target=0.5, stop_loss=1.5, time_exit="15:00")
    r = _run([c], up, mg, months=m_, warmup_days=0)
    got = r.path_months()[:, :, 0]
    ls = math.sqrt(5.5 / 6.5)
    reasons = set()
    for p in range(p_):
        for m in range(m_):
            if got[p, m] == 0.0:
                continue
            want = [
                _zero_dte_trade(c, sr[p, t] * ls, iv[p, t], iv[p, t + 1], mg) * c.spot * MULT
                for t in range(21 * m, 21 * (m + 1))
            ]
            hit = np.isclose(want, got[p, m], rtol=1e-9, atol=0.0)
            assert hit.sum() == 1, (p, m)
            reasons.add(round(got[p, m] / (_credit(c) * MULT), 6))
    assert len(reasons) > 3


def test_zero_dte_bridge_scale_is_daily_vol_times_session_scale():
    """No session move: the intraday path is the Brownian bridge alone, of size daily_vol x
    session_scale x sqrt(5.5 / 6.5). Halving one and doubling the other changes nothing (same
    bridge normals); a zero scale leaves a flat day (no stop, the same trade every day)."""
    c = _zero_dte()
    p_, d = 30, 63

    def run(vol, scale):
        up = UnderlyingPaths(
            np.zeros((p_, d)),
            np.zeros((p_, d + 1)),
            np.zeros((p_, d)),
            np.full((p_, d + 1), vol),
            session_scale=scale,
        )
        return _run([c], up, Management(stop_loss=1.0), entries=21.0, months=3, warmup_days=0)

    a, b = run(0.01, 1.0), run(0.005, 2.0)
    np.testing.assert_allclose(a.monthly_samples, b.monthly_samples, rtol=1e-12)
    assert a.exit_fractions[0, STOP] > 0.1
    flat = run(0.01, 0.0)
    assert flat.exit_fractions[0, EXPIRY] == 1.0
    assert flat.expected_trade_gross[0] == pytest.approx(_credit(c) * MULT, rel=1e-12)


# ------------------------------------------------------------------------------------------
# 3. Management rules


def test_profit_target_fills_exactly_at_the_target_on_a_flat_path():
    """Flat prices and IVs: theta alone takes every trade to the target at the same step j
    (first step with value <= (1 - p) x entry value); a limit fill books exactly p x credit."""
    c = _condor(45)
    p = 0.5
    n = trading_steps(c.t)
    v0 = _flat_value(c, 0)
    assert v0 == pytest.approx(-_credit(c), rel=1e-12)
    j = next(j for j in range(1, n + 1) if _flat_value(c, j) - v0 >= -p * v0)
    assert j < n
    up = _flat(5, 168 + 252)
    r = _run([c], up, Management(profit_target=p), entries=2.0)
    assert r.exit_fractions[0, TARGET] == 1.0 and r.win_rate[0] == 1.0
    assert r.expected_trade_gross[0] == pytest.approx(p * _credit(c) * MULT, rel=1e-12)
    assert r.avg_win[0] == pytest.approx(p * _credit(c) * MULT, rel=1e-12)
    assert r.avg_days_held[0] == pytest.approx(c.t * 365.0 * j / n)
    # a fill at the step's mark overshoots the target
    m = _run([c], up, Management(profit_target=p), entries=2.0, limit_targets=False)
    want = (_flat_value(c, j) - v0) * MULT
    assert m.expected_trade_gross[0] == pytest.approx(want, rel=1e-9)
    assert want > p * _credit(c) * MULT
    # the threshold is exact: a target a hair below the P&L of step 20 fills at step 20, a hair
    # above it at step 21
    p20 = (_flat_value(c, 20) - v0) / _credit(c)
    for scale, step in ((1 - 1e-7, 20), (1 + 1e-7, 21)):
        t = _run([c], up, Management(profit_target=p20 * scale), entries=2.0)
        assert t.avg_days_held[0] == pytest.approx(c.t * 365.0 * step / n)


def test_zero_dte_target_and_stop_fills_trade_by_trade():
    """0DTE condor, one trade per month, session moves constant per month: a month whose
    sample is exactly 0.5 x credit was a target, <= -2 x credit a stop (at the step's mark,
    so at or beyond the stop); the counts equal exit_fractions x trades."""
    c = _zero_dte()
    credit = _credit(c) * MULT
    p_, m_ = 20, 12
    move = np.random.default_rng(1).normal(0.0, 0.008, (p_, m_))
    up = _flat(p_, 21 * m_, session=np.repeat(move, 21, axis=1))
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    r = _run([c], up, mg, months=m_, warmup_days=0)
    s = r.monthly_samples[:, 0]
    trades = round(r.trades_per_month[0] * p_ * m_)
    assert np.count_nonzero(s) == trades
    n_target = np.count_nonzero(np.isclose(s, 0.5 * credit, rtol=1e-12, atol=0.0))
    n_stop = np.count_nonzero(s <= -2.0 * credit)
    assert n_target > 0 and n_stop > 0
    assert n_target == round(r.exit_fractions[0, TARGET] * trades)
    assert n_stop == round(r.exit_fractions[0, STOP] * trades)
    assert r.exit_fractions[0, EXPIRY] == 0.0
    # the rest closed at 15:00 with a P&L between the stop and the target
    rest = s[(s != 0) & ~np.isclose(s, 0.5 * credit, rtol=1e-12, atol=0.0) & (s > -2 * credit)]
    assert rest.size == round(r.exit_fractions[0, TIME] * trades)
    assert np.all(rest < 0.5 * credit)


def test_stop_fills_at_the_mark_of_a_crash_day():
    """45-DTE strangle entered at day 0, flat for 20 days, then one crash day (day 21, the last
    day) of 0..-25% across 40 paths. Paths whose mark falls to <= -2 x credit are stopped that
    day (the only completed trades); the others are still open."""
    c = _strangle(45)
    p_ = 40
    lr = np.zeros((p_, 21))
    lr[:, 20] = np.linspace(0.0, -0.25, p_)
    r = _run(
        [c],
        _flat(p_, 21, log_return=lr),
        Management(stop_loss=2.0),
        entries=ONE_AT_DAY_0,
        months=1,
        warmup_days=0,
    )
    s = r.monthly_samples[:, 0]
    stopped = s <= -2.0 * _credit(c) * MULT
    assert 0 < stopped.sum() < p_
    assert r.exit_fractions[0, STOP] == 1.0 and r.win_rate[0] == 0.0
    assert r.expected_trade_gross[0] == pytest.approx(s[stopped].mean(), rel=1e-12)
    assert r.expected_trade_se[0] == pytest.approx(
        s[stopped].std(ddof=1) / math.sqrt(stopped.sum()), rel=1e-9
    )
    assert r.avg_days_held[0] == pytest.approx(c.t * 365.0 * 21 / trading_steps(c.t))


def test_exit_dte_closes_at_the_first_step_at_or_below_it(ln_paths):
    c = _strangle(45)
    n = trading_steps(c.t)
    j = next(j for j in range(1, n + 1) if _tau(c, j) * 365.0 <= 21.0 + 1e-9)
    assert (n, j) == (31, 17)
    r = _run([c], ln_paths, Management(exit_dte=21))
    assert r.exit_fractions[0, TIME] == 1.0
    assert r.avg_days_held[0] == pytest.approx(45.0 * j / n)
    # occupancy: calendar days held by the trades opened in the reported months / their length
    assert r.occupancy[0] == pytest.approx(r.trades_per_month[0] * 45.0 * j / n / (365.25 / 12))


def test_time_exit_closes_zero_dte_at_the_clock_time(ln_paths):
    c = _zero_dte()
    assert c.t == pytest.approx(5.5 / 24 / 365)
    assert len(time_grid(c)) == 12  # 11 half-hour steps
    up = {"SPX": ln_paths}
    timed = _run([c], up, Management(time_exit="15:00"), entries=4.33)
    assert timed.exit_fractions[0, TIME] == 1.0
    assert timed.avg_days_held[0] == pytest.approx(4.5 / 24.0)  # 10:30 -> 15:00
    managed = _run(
        [c], up, Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00"), entries=4.33
    )
    assert managed.exit_fractions[0, EXPIRY] == 0.0
    assert managed.exit_fractions[0, TARGET] > 0 and managed.exit_fractions[0, TIME] > 0
    assert managed.avg_days_held[0] < 4.5 / 24.0
    held = _run([c], up, HOLD, entries=4.33)
    assert held.exit_fractions[0, EXPIRY] == 1.0
    assert held.avg_days_held[0] == pytest.approx(5.5 / 24.0)
    assert held.trades_per_month[0] == pytest.approx(4.33, abs=0.05)
    late = _run([c], up, Management(time_exit="16:30"), entries=4.33)  # after the expiry
    _fields_equal(late, 0, held, 0)


def test_target_legs_close_the_naked_puts_and_keep_the_spread_on_a_flat_path():
    """LT112 on flat paths: the naked puts (leg 2) reach 90% of their own credit at step j1,
    are closed there at exactly 0.9 x their credit, and the debit spread stays to 21 DTE
    (step j2), marked by Black-Scholes at the unchanged smile."""
    c = _lt112()
    n = trading_steps(c.t)
    naked_v0 = _flat_value(c, 0, legs=[2])
    j1 = next(
        j for j in range(1, n + 1) if _flat_value(c, j, legs=[2]) - naked_v0 >= -0.9 * naked_v0
    )
    j2 = next(j for j in range(1, n + 1) if _tau(c, j) * 365.0 <= 21.0 + 1e-9)
    assert j1 < j2
    want = (0.9 * _credit(c, [2]) + _flat_value(c, j2, [0, 1]) - _flat_value(c, 0, [0, 1])) * MULT
    mg = Management(profit_target=0.9, exit_dte=21, target_legs=(2,))
    r = _run([c], _flat(3, 168 + 252), mg, entries=4.0)
    assert r.partial_fraction[0] == 1.0
    assert r.exit_fractions[0, TARGET] == 1.0  # a partial close then the time exit: 'target'
    assert r.avg_days_held[0] == pytest.approx(c.t * 365.0 * j2 / n)
    assert r.expected_trade_gross[0] == pytest.approx(want, rel=1e-9)


def test_target_legs_on_random_paths_keep_trades_open_to_the_exit_dte(ln_paths):
    c = _lt112()
    n = trading_steps(c.t)
    j2 = next(j for j in range(1, n + 1) if _tau(c, j) * 365.0 <= 21.0 + 1e-9)
    legs = _run([c], ln_paths, Management(profit_target=0.9, exit_dte=21, target_legs=(2,)))
    assert 0 < legs.partial_fraction[0] < 1
    assert legs.avg_days_held[0] == pytest.approx(c.t * 365.0 * j2 / n)  # nothing closes early
    assert legs.exit_fractions[0, TARGET] == pytest.approx(legs.partial_fraction[0])
    assert legs.exit_fractions[0, TIME] == pytest.approx(1 - legs.partial_fraction[0])
    whole = _run([c], ln_paths, Management(profit_target=0.9, exit_dte=21))
    assert whole.partial_fraction[0] == 0.0
    assert whole.avg_days_held[0] < legs.avg_days_held[0] - 5.0


def test_delta_exit_threshold_is_exact_on_a_flat_path():
    """Flat path: an OTM leg's |N(d1)| falls as time passes, so the largest short-leg delta after
    entry is at step 1. A threshold just below it closes every trade at step 1 ('delta'); just
    above it, the rule never fires and the trades are held to expiry."""
    c = _strangle(45)
    n = trading_steps(c.t)
    tau = _tau(c, 1)
    deltas = []
    for leg, iv in zip(c.legs, c.ivs, strict=True):
        v = iv * math.sqrt(tau)
        d1 = -math.log(leg.strike / c.forward) / v + 0.5 * v
        deltas.append(norm.cdf(d1 if leg.right is Right.CALL else -d1))
    d_max = max(deltas)
    up = _flat(3, 168 + 252)
    below = _run([c], up, Management(delta_exit=d_max * (1 - 1e-9)))
    assert below.exit_fractions[0, DELTA] == 1.0
    assert below.avg_days_held[0] == pytest.approx(c.t * 365.0 / n)
    above = _run([c], up, Management(delta_exit=d_max * (1 + 1e-9)))
    assert above.exit_fractions[0, EXPIRY] == 1.0
    # a crash on the expiry day itself: the legs settle in the money, no delta exit at expiry
    lr = np.zeros((2, 2 * n))
    lr[:, n - 1] = [-0.2, 0.2]
    late = _run(
        [c],
        _flat(2, 2 * n, log_return=lr),
        Management(delta_exit=0.5),
        entries=ONE_AT_DAY_0,
        months=1,
    )
    assert late.exit_fractions[0, EXPIRY] == 1.0
    assert late.win_rate[0] == 0.0


def test_delta_exit_fires_in_high_vol_and_a_silent_rule_changes_nothing(ln_paths, hv_paths):
    """TK's 30-delta defence fires often on high-vol paths (VIX 40, realized = implied), a 99-delta
    threshold much less; a threshold no leg reaches before 21 DTE on the VIX-20 paths leaves
    every result identical to the rule being absent. (0.99 itself does fire on a few VIX-20
    trades: a leg 11% beyond its strike at 21 DTE; held to expiry, deep-ITM legs reach it near
    expiry on most high-vol trades.)"""
    c = _strangle(90)
    base = Management(profit_target=0.5, exit_dte=21)
    tk = dataclasses.replace(base, delta_exit=0.30)
    far = dataclasses.replace(base, delta_exit=0.99)
    r = _run([c, c, c], hv_paths, [base, tk, far])
    assert r.exit_fractions[0, DELTA] == 0.0
    assert r.exit_fractions[1, DELTA] > 0.3
    assert 0.0 < r.exit_fractions[2, DELTA] < r.exit_fractions[1, DELTA]
    assert r.avg_days_held[1] < r.avg_days_held[0]
    silent = _run([c, c], ln_paths, [base, dataclasses.replace(base, delta_exit=0.9999)])
    assert silent.exit_fractions[1, DELTA] == 0.0
    _fields_equal(silent, 0, silent, 1)


def test_delta_exit_ignores_legs_closed_by_the_target():
    """Strangle with target_legs=(0,) (the put) and delta_exit 0.3: flat prices close the put at
    50% of its credit; a -12% day afterwards makes the *closed* put deep ITM while the open call's
    delta is near 0 — nothing open is tested, so the trade must run to expiry ('target' by the
    partial), not exit on delta."""
    c = _strangle(45)
    lr = np.zeros((1, 40))
    lr[0, 25] = -0.12
    mg = Management(profit_target=0.5, target_legs=(0,), delta_exit=0.3)
    r = _run([c], _flat(1, 40, log_return=lr), mg, entries=ONE_AT_DAY_0, months=1)
    assert r.partial_fraction[0] == 1.0
    assert r.exit_fractions[0, DELTA] == 0.0
    assert r.avg_days_held[0] == pytest.approx(c.t * 365.0)


# ------------------------------------------------------------------------------------------
# 4. Costs

COSTS = TradeCostInputs(
    entry_commission=1.5,
    entry_spread=2.0,
    exit_commission=(1.0, 2.0, 3.0, 4.0, 5.0),
    exit_spread=(0.5, 1.0, 1.5, 2.0, 2.5),
    exit_slippage=(0.0, 7.0, 0.0, 0.0, 7.0),
    exercise_fee=(0.3, 0.4, 0.5, 0.6),
    fx_cost=0.01,
)


def _exit_cost(reason: int) -> float:
    return COSTS.exit_commission[reason] + COSTS.exit_spread[reason] + COSTS.exit_slippage[reason]


@pytest.mark.parametrize("hold", [False, True], ids=["managed", "held"])
def test_costs_trade_by_trade_on_zero_dte(hold):
    """One 0DTE trade per month: net = gross - (entry + exit costs of its reason + exercise fees
    of the legs finishing in the money + fx_cost x |gross|), month by month; the monthly cost
    components are trades/month x the mean cost per trade."""
    c = _zero_dte()
    credit = _credit(c) * MULT
    p_, m_ = 16, 12
    move = np.random.default_rng(2).normal(0.0, 0.006, (p_, m_))
    up = _flat(p_, 21 * m_, session=np.repeat(move, 21, axis=1))
    mg = HOLD if hold else Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    free = _run([c], up, mg, months=m_, warmup_days=0)
    paid = _run([c], up, mg, months=m_, warmup_days=0, costs=[COSTS])
    g = free.path_months()[:, :, 0]
    net = paid.path_months()[:, :, 0]
    traded = g != 0
    if hold:
        reason = np.full(g.shape, EXPIRY)
        s_t = c.spot * np.exp(move * math.sqrt(5.5 / 6.5))
        fee = np.zeros(g.shape)
        for leg, f in zip(c.legs, COSTS.exercise_fee, strict=True):
            sign = 1.0 if leg.right is Right.CALL else -1.0
            fee += f * (sign * (s_t - leg.strike) > 0)
    else:
        reason = np.where(
            np.isclose(g, 0.5 * credit, rtol=1e-12, atol=0.0),
            TARGET,
            np.where(g <= -2.0 * credit, STOP, TIME),
        )
        fee = np.zeros(g.shape)
    cost = (
        COSTS.entry_commission
        + COSTS.entry_spread
        + np.vectorize(_exit_cost)(reason)
        + fee
        + COSTS.fx_cost * np.abs(g)
    )
    np.testing.assert_allclose((g - net)[traded], cost[traded], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(net[~traded], 0.0)
    # the same through the aggregates
    n_tr = round(paid.trades_per_month[0] * p_ * m_)
    assert n_tr == traded.sum()
    frac = paid.exit_fractions[0]
    np.testing.assert_array_equal(frac, free.exit_fractions[0])
    tpm = paid.trades_per_month[0]
    comm = COSTS.entry_commission + frac @ np.asarray(COSTS.exit_commission)
    comm += fee[traded].sum() / n_tr
    want = {
        "commissions": tpm * comm,
        "spread": tpm * (COSTS.entry_spread + frac @ np.asarray(COSTS.exit_spread)),
        "slippage": tpm * (frac @ np.asarray(COSTS.exit_slippage)),
        "fx": COSTS.fx_cost * np.abs(g).sum() / (p_ * m_),
    }
    for i, name in enumerate(COST_COMPONENTS):
        assert paid.costs_monthly[0, i] == pytest.approx(want[name], rel=1e-9), name
    per_trade = sum(want.values()) / tpm
    assert paid.expected_trade_gross[0] - paid.expected_trade[0] == pytest.approx(per_trade)
    assert paid.expected_trade_gross[0] == pytest.approx(free.expected_trade[0], rel=1e-12)


def test_cost_identities_on_daily_trades(ln_paths):
    """gross - net = sum of the components; costs >= 0; net <= gross sample by sample (the
    costs do not change the trades); entry commissions = commission x trades opened per month;
    a flat-path target trade pays exactly entry + the target exit."""
    cands = [_condor(45), _strangle(90, strategy="s")]
    mg = [Management(profit_target=0.5, stop_loss=2.0), Management(0.5, 2.0, 21)]
    costs = [COSTS, dataclasses.replace(COSTS, exercise_fee=(0.3, 0.4))]
    free = _run(cands, ln_paths, mg)
    paid = _run(cands, ln_paths, mg, costs=costs)
    np.testing.assert_allclose(
        paid.expected_monthly_gross - paid.expected_monthly,
        paid.costs_monthly.sum(axis=1),
        rtol=1e-12,
    )
    assert np.all(paid.costs_monthly >= 0) and np.all(paid.costs_monthly[:, 3] > 0)
    np.testing.assert_allclose(paid.expected_monthly_gross, free.expected_monthly, rtol=1e-12)
    assert np.all(paid.monthly_samples <= free.monthly_samples + 1e-9)
    assert np.all(paid.expected_monthly < paid.expected_monthly_gross)
    entry_only = TradeCostInputs(entry_commission=1.25)
    e = _run(cands, ln_paths, mg, costs=[entry_only, entry_only])
    np.testing.assert_allclose(e.costs_monthly[:, 0], 1.25 * e.trades_per_month, rtol=1e-12)
    np.testing.assert_array_equal(e.costs_monthly[:, 1:], 0.0)
    # flat path: every trade hits the target, cost per trade known exactly
    c = _condor(45)
    flat = _run([c], _flat(3, 168 + 252), Management(profit_target=0.5), costs=[COSTS])
    cost = COSTS.entry_commission + COSTS.entry_spread + _exit_cost(TARGET)
    cost += COSTS.fx_cost * 0.5 * _credit(c) * MULT
    assert flat.expected_trade[0] == pytest.approx(0.5 * _credit(c) * MULT - cost, rel=1e-12)


# ------------------------------------------------------------------------------------------
# 5. Common random numbers and determinism


def test_same_structure_same_strategy_identical_samples(ln_paths):
    c = _condor(45)
    twin = dataclasses.replace(c, id=c.id + "#twin")
    z = _zero_dte(und="X")
    r = _run([c, twin, z, z], ln_paths, Management(0.5, 2.0), entries=[2.0, 2.0, 4.33, 4.33])
    _fields_equal(r, 0, r, 1)
    _fields_equal(r, 2, r, 3)
    assert r.candidate_ids == (c.id, twin.id, z.id, z.id)


def test_same_seed_same_results_other_seed_other_phases(ln_paths):
    cands = [_condor(45), _strangle(90), _zero_dte(und="X")]
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    a = _run(cands, ln_paths, mg, seed=5)
    b = _run(cands, ln_paths, mg, seed=5)
    for k in range(3):
        _fields_equal(a, k, b, k)
    c = _run(cands, ln_paths, mg, seed=6)
    for k in range(3):
        assert not np.array_equal(a.monthly_samples[:, k], c.monthly_samples[:, k])


def test_other_path_keys_and_other_strategies_do_not_change_a_candidate(ln_paths, ln_paths2):
    c = _condor(45)
    z = _zero_dte()
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    paths = {"X": ln_paths, "SPX": ln_paths, "Y": ln_paths2}
    alone = _run([c, z], paths, mg, entries=[2.0, 4.33])
    crowd = _run(
        [_strangle(90, strategy="other"), c, _zero_dte(und="Y"), _pcs(45, strategy="third"), z],
        paths,
        mg,
        entries=[1.0, 2.0, 4.33, 3.0, 4.33],
        path_keys=["Y", "X", "Y", "X", "SPX"],
    )
    _fields_equal(alone, 0, crowd, 1)
    _fields_equal(alone, 1, crowd, 4)


def test_common_paths_make_losses_coincide(ln_paths, ln_paths2):
    """Two put structures of different strategies on the same paths: their monthly samples are
    strongly positively correlated; on independent paths they are not."""
    a, b = _pcs(45), _put(60, strategy="other")
    mg = Management(profit_target=0.5, stop_loss=2.0)
    same = _run([a, b], ln_paths, mg)
    indep = _run([a, b], {"X": ln_paths, "Y": ln_paths2}, mg, path_keys=["X", "Y"])
    assert np.corrcoef(same.monthly_samples.T)[0, 1] > 0.5
    assert abs(np.corrcoef(indep.monthly_samples.T)[0, 1]) < 0.15


# ------------------------------------------------------------------------------------------
# 6. Units


def test_fx_scales_every_money_output(ln_paths):
    cands = [_condor(45), _zero_dte(und="X")]
    mg = Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00")
    one = _run(cands, ln_paths, mg, entries=[2.0, 4.33], costs=[COSTS, COSTS])
    fx = _run(cands, ln_paths, mg, entries=[2.0, 4.33], costs=[COSTS, COSTS], fx=[0.8, 1.25])
    for k, f in enumerate((0.8, 1.25)):
        for name in MONEY_FIELDS:
            x, y = getattr(one, name), getattr(fx, name)
            x, y = (x[:, k], y[:, k]) if name == "monthly_samples" else (x[k], y[k])
            np.testing.assert_allclose(y, f * x, rtol=1e-12, atol=1e-12, err_msg=name)
        for name in OTHER_FIELDS:
            np.testing.assert_array_equal(getattr(one, name)[k], getattr(fx, name)[k])


def test_multiplier_scales_gross_not_per_unit_costs(ln_paths):
    c = _condor(45)
    mg = Management(profit_target=0.5, stop_loss=2.0)
    costs = [dataclasses.replace(COSTS, fx_cost=0.0)]
    a = _run([c], ln_paths, mg, mult=100.0, costs=costs)
    b = _run([c], ln_paths, mg, mult=50.0, costs=costs)
    assert b.expected_monthly_gross[0] == pytest.approx(0.5 * a.expected_monthly_gross[0])
    assert b.expected_trade_gross[0] == pytest.approx(0.5 * a.expected_trade_gross[0])
    np.testing.assert_allclose(b.costs_monthly, a.costs_monthly, rtol=1e-12)
    fa = _run([c], ln_paths, mg, mult=100.0)
    fb = _run([c], ln_paths, mg, mult=50.0)
    for name in MONEY_FIELDS:
        np.testing.assert_allclose(getattr(fb, name), 0.5 * getattr(fa, name), err_msg=name)
    for name in OTHER_FIELDS:
        np.testing.assert_array_equal(getattr(fb, name), getattr(fa, name))


# ------------------------------------------------------------------------------------------
# 7. Errors and results


def _bad_kwargs(up):
    return dict(
        paths={"X": up},
        multipliers=[MULT],
        management=[HOLD],
        entries_per_month=[1.0],
        seed=1,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"multipliers": [MULT, MULT]}, "multipliers has 2 entries for 1 candidates"),
        ({"management": []}, "management has 0 entries for 1 candidates"),
        ({"entries_per_month": [1.0, 2.0]}, "entries_per_month has 2 entries"),
        ({"fx": [1.0, 1.0]}, "fx has 2 entries"),
        ({"costs": [None, None]}, "costs has 2 entries"),
        ({"path_keys": ["X", "X"]}, "path_keys has 2 entries"),
        ({"path_keys": ["Y"]}, "no market paths for Y"),
        ({"paths": {"Z": None}}, "no market paths for X"),
        ({"entries_per_month": [0.0]}, "entries_per_month must be finite numbers > 0"),
        ({"entries_per_month": [-1.0]}, "entries_per_month must be finite numbers > 0"),
        ({"entries_per_month": [math.nan]}, "entries_per_month must be finite numbers > 0"),
        ({"multipliers": [0.0]}, "multipliers and fx must be finite numbers > 0"),
        ({"fx": [-1.0]}, "multipliers and fx must be finite numbers > 0"),
        ({"months": 21}, "cannot hold"),
        ({"months": 12, "warmup_days": 200}, "cannot hold 200 warm-up days and 12 months"),
        ({"warmup_days": -1}, "cannot hold -1 warm-up days"),
        ({"months": 0}, "months must be >= 1"),
        ({"intraday_steps": 0}, "intraday_steps must be >= 1"),
        ({"management": [Management(time_exit="3pm")]}, "HH:MM"),
        ({"management": [Management(time_exit="25:00")]}, "HH:MM"),
        ({"management": [Management(profit_target=0.5, target_legs=(4,))]}, "target_legs"),
    ],
)
def test_bad_inputs_raise_model_error(change, message, ln_paths):
    kw = _bad_kwargs(ln_paths)
    kw.update(change)
    c = _zero_dte(und="X") if "time_exit" in repr(change) else _pcs(45)
    with pytest.raises(ModelError, match=message):
        simulate_managed([c], **kw)


def test_too_many_months_message_names_the_numbers(ln_paths):
    kw = _bad_kwargs(ln_paths)
    with pytest.raises(ModelError) as err:
        simulate_managed([_pcs(45)], months=21, **kw)
    assert "None" not in str(err.value)


def test_more_errors(ln_paths):
    with pytest.raises(ModelError, match="at least one candidate"):
        simulate_managed([], **_bad_kwargs(ln_paths))
    other = _lognormal(10, 300, seed=1)
    with pytest.raises(ModelError, match="differ in shape"):
        _run([_pcs(45), _put(30, und="Y")], {"X": ln_paths, "Y": other}, HOLD)
    with pytest.raises(ModelError, match="no trade completed"):
        _run([_strangle(120)], _flat(2, 60), HOLD, months=1)
    with pytest.raises(ModelError, match=r"UnderlyingPaths.iv_shift has shape \(2, 10\)"):
        UnderlyingPaths(np.zeros((2, 10)), np.zeros((2, 10)), np.zeros((2, 10)), np.ones((2, 11)))
    with pytest.raises(ModelError, match="UnderlyingPaths.log_return has non-finite"):
        bad = np.zeros((2, 10))
        bad[1, 3] = math.nan
        UnderlyingPaths(bad, np.zeros((2, 11)), np.zeros((2, 10)), np.ones((2, 11)))
    c = _pcs(45)
    with pytest.raises(ModelError, match="IV > 0"):
        _run([dataclasses.replace(c, ivs=(0.2, math.nan))], ln_paths, HOLD)


def test_result_shapes_and_read_only(ln_paths):
    cands = [_condor(45), _strangle(90)]
    r = _run(cands, ln_paths, Management(0.5, 2.0))
    assert r.monthly_samples.shape == (200 * 12, 2) and r.months_per_path == 12
    assert r.path_months().shape == (200, 12, 2)
    assert r.costs_monthly.shape == (2, len(COST_COMPONENTS))
    assert r.exit_fractions.shape == (2, len(EXIT_REASONS))
    assert r.candidate_ids == tuple(c.id for c in cands)
    with pytest.raises(ValueError):
        r.monthly_samples[0, 0] = 1.0


def test_book_drawdowns_by_hand():
    pm = np.array([[[1.0, 0.0], [-3.0, 1.0], [2.0, 0.0]], [[-1.0, -1.0], [0.0, 0.0], [4.0, 0.0]]])
    # book = 2 x first + 1 x second: path 0: 2, -5, 4 -> cum 0, 2, -3, 1: DD 5
    #                                 path 1: -3, 0, 8 -> cum 0, -3, -3, 5: DD 3
    np.testing.assert_allclose(book_drawdowns(pm, np.array([2.0, 1.0])), [5.0, 3.0])


# ------------------------------------------------------------------------------------------
# 8. Property test: random small path sets and random rules

_H_CANDS = {
    "condor_7d": _condor(7, strategy="a"),
    "strangle_14d": _strangle(14, strategy="b"),
    "pcs_30d": _pcs(30, strategy="c"),
    "lt112": _lt112(strategy="d"),
    "zero_dte": _zero_dte(strategy="e", und="X"),
}
_H_NLEGS = {"condor_7d": 4, "strangle_14d": 2, "pcs_30d": 2, "lt112": 3, "zero_dte": 4}


@st.composite
def _management(draw, name):
    opt = lambda s: st.one_of(st.none(), s)  # noqa: E731
    legs = None
    if draw(st.booleans()):
        legs = (draw(st.integers(0, _H_NLEGS[name] - 1)),)
    return Management(
        profit_target=draw(opt(st.floats(0.05, 1.0))),
        stop_loss=draw(opt(st.floats(0.2, 4.0))),
        exit_dte=draw(opt(st.floats(0.0, 20.0))),
        time_exit=draw(opt(st.sampled_from(["11:00", "13:30", "15:00", "15:45"]))),
        target_legs=legs,
        delta_exit=draw(opt(st.floats(0.05, 0.95))),
    )


@st.composite
def _case(draw):
    names = draw(st.lists(st.sampled_from(sorted(_H_CANDS)), min_size=1, max_size=3))
    return (
        names,
        [draw(_management(n)) for n in names],
        draw(st.integers(2, 20)),  # paths
        draw(st.integers(1, 3)),  # months
        draw(st.floats(0.002, 0.04)),  # daily vol
        draw(st.floats(0.0, 0.03)),  # daily IV change vol
        draw(st.lists(st.floats(1.0, 8.0), min_size=3, max_size=3)),  # entries per month
        draw(st.booleans()),  # limit targets
        draw(st.booleans()),  # costs
        draw(st.integers(0, 2**16)),  # seed
    )


@settings(max_examples=60, deadline=None)
@given(_case())
def test_outputs_are_well_formed_for_random_paths_and_rules(case):
    names, mgs, p_, m_, vol, ivvol, entries, limit, with_costs, seed = case
    rng = np.random.default_rng(seed)
    d = 110 + 21 * m_  # 110-day warm-up: the 120-DTE LT112 completes a trade
    lr = vol * rng.standard_normal((p_, d)) - 0.5 * vol**2
    iv = np.concatenate([np.zeros((p_, 1)), np.cumsum(ivvol * rng.standard_normal((p_, d)), 1)], 1)
    up = UnderlyingPaths(
        log_return=lr,
        iv_shift=iv,
        session_return=0.8 * lr,
        daily_vol=np.full((p_, d + 1), vol),
        session_scale=0.9,
    )
    cands = [_H_CANDS[n] for n in names]
    k = len(cands)
    r = simulate_managed(
        cands,
        paths={"X": up},
        multipliers=[MULT] * k,
        management=mgs,
        entries_per_month=entries[:k],
        seed=seed,
        months=m_,
        costs=[COSTS if with_costs and _H_NLEGS[n] == 4 else None for n in names],
        limit_targets=limit,
    )
    for name in MONEY_FIELDS + OTHER_FIELDS:
        assert np.all(np.isfinite(getattr(r, name))), name
    assert r.monthly_samples.shape == (p_ * m_, k)
    assert np.all((r.win_rate >= 0) & (r.win_rate <= 1))
    assert np.all((r.occupancy >= 0) & (r.occupancy <= 1))
    assert np.all((r.partial_fraction >= 0) & (r.partial_fraction <= 1))
    assert np.all(r.exit_fractions >= 0)
    np.testing.assert_allclose(r.exit_fractions.sum(axis=1), 1.0)
    assert np.all(r.avg_win >= 0) and np.all(r.avg_loss <= 0)
    assert np.all(r.costs_monthly >= 0)
    np.testing.assert_allclose(
        r.expected_monthly_gross - r.expected_monthly, r.costs_monthly.sum(axis=1), atol=1e-9
    )
    life = np.array([c.t * 365.0 for c in cands])
    assert np.all((r.avg_days_held > 0) & (r.avg_days_held <= life * (1 + 1e-12)))
    assert np.all(r.trades_per_month >= 0)


@pytest.mark.parametrize("phase", [-0.1, 1.0, float("nan")])
def test_entry_phase_outside_zero_one_is_refused(phase):
    from models.errors import ModelError
    from models.measure.managed import simulate_managed

    with pytest.raises(ModelError, match="entry_phase"):
        simulate_managed(
            [object()],
            paths={},
            multipliers=[1.0],
            management=[None],
            entries_per_month=[1.0],
            seed=0,
            entry_phase=phase,
        )


def test_a_real_path_without_a_completed_trade_books_nothing():
    """vix_exit below every VIX close blocks every entry: an error on simulated paths (no trade
    statistics), a zero month on one real path with ``require_trades=False``."""
    import dataclasses

    from models.errors import ModelError

    c = _put(dte=30)
    up = dataclasses.replace(_flat(1, 42), vix=np.full((1, 43), 40.0))
    mg = Management(vix_exit=30.0)
    with pytest.raises(ModelError, match="no trade completed"):
        _run([c], up, mg, months=1, warmup_days=21)
    res = _run([c], up, mg, months=1, warmup_days=21, require_trades=False, entry_phase=0.0)
    assert res.monthly_samples.tolist() == [[0.0]]
    assert math.isnan(res.win_rate[0]) and res.trades_per_month[0] == 0.0
