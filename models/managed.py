"""The income model: managed trades on shared daily market paths, months marked to market.

One model gives every income figure of thetaplan (the objective's expected monthly income, the
chance constraint's monthly samples, P(month >= target), win rates, monthly VaR/CVaR and the
12-month drawdown): trades of each candidate are simulated on the same daily paths of the
underlying's price and implied-vol level (:class:`UnderlyingPaths`, usually filtered historical
simulation from :mod:`models.physical`), opened on a schedule, managed by the strategy's rules and
booked into calendar months by mark to market. Hold-to-expiry is one management rule (no rule),
not a second model.

Model
-----
Time
    Trading days. A path has ``D = warmup + 21 * months`` days; month ``m`` is days
    ``warmup + 21 m + 1 .. warmup + 21 (m + 1)``; the warm-up builds the steady-state book (a
    120-DTE ladder is full when month 0 starts) and is not reported. A structure with ``t``
    years to expiry lives ``n = max(1, round(252 t))`` trading-day steps; its time to expiry
    after step ``j`` is ``t (n - j) / n`` (calendar years, the convention of the IVs).
Units and schedule
    The optimizer's count of a candidate is the number of units held at a time. One unit is a
    slot: a trade is opened at a scheduled entry (every ``21 / entries_per_month`` trading days,
    with a phase drawn once per path and *strategy*, so all candidates of a strategy share their
    entry days), managed to its close, and the next trade opens at the first scheduled entry
    after that close. Trades are opened at a close; 0DTE trades (``t < 1/365``) are opened
    intraday on the entry day and closed by its end.
Strikes and IVs (sticky moneyness)
    A trade opened on day ``e`` has the candidate's strikes scaled by ``S_e / S_0`` (the same
    moneyness as today's candidate). Each leg's IV is read off today's smile of the candidate's
    expiry at the leg's current log-moneyness ``k = ln(K / F)`` (linear interpolation through the
    candidate's legs' IVs and its ATM IV at ``k = 0``, flat beyond) plus the path's change of the
    30-day ATM IV since today times :func:`models.scenarios.term_factor` of the remaining time
    (square-root-of-time rule, x2 for expiries under 7.5 days), floored at 1 vol point. So a
    trade opened after a vol spike collects the higher premium, and a sell-off marks the short
    puts up both by moneyness (skew) and by the level. The smile does not roll down the term
    structure as the trade ages.
Repricing
    Black-Scholes-Merton in forward form with the candidate's carry ``b = ln(F/S)/t`` and rate
    ``r = -ln(DF)/t``; options settle at intrinsic value at expiry.
0DTE trades
    The day's regular-session log return (``session_return``, open to close) times
    ``sqrt(life_hours / 6.5)`` is the trade's move from entry to the 16:00 close; the path inside
    the day is a Brownian bridge to that move over ``intraday_steps`` steps with the day's
    expected session vol (``daily_vol * session_scale``), so stops see intraday excursions; the
    IV level moves linearly from the previous close's level to the day's close level.
Management (:class:`models.strategies.Management`, checked at every step close)
    Reference ``ref = |net option premium at entry|`` (per path: the premium moves with the vol
    level). ``profit_target p``: P&L >= ``p ref`` closes the trade at the target (a resting
    limit order; ``limit_targets=False`` fills at the step's mark). With ``target_legs`` the
    target applies to those legs only (their own premium as reference): they are closed and the
    other legs stay open to their own exits (LT112: the naked puts closed at 90% of their credit,
    the debit spread kept). ``stop_loss m``: P&L <= ``-m ref`` closes at the step's mark (late
    fill: discrete monitoring). ``delta_exit d``: any short option leg's forward delta
    ``|N(d1)|`` >= ``d`` closes everything (TK strangle defence: "30 delta: exit all"; the
    roll/close-the-tested-side steps at 20/25 delta are not modelled). ``exit_dte``: closed at
    the mark at the first step with DTE <= ``exit_dte``; ``time_exit``: intraday, at that clock
    time; otherwise held to expiry.
Months by mark to market
    A month's P&L of a unit = realized P&L of trades closed in it + change of the mark of trades
    open across its boundaries + costs paid in it. Entry costs are paid on the entry day, exit
    costs on the close day.
Costs (:class:`TradeCostInputs`, money per unit, instrument currency)
    Entry: commissions and fees plus the spread paid. Exit, by reason: commissions and fees,
    spread, stop slippage (a partial close is costed as the final close of the whole structure).
    Expiry: exercise/assignment fees of legs that finish in the money. FX: ``fx_cost`` times the
    trade's absolute P&L when the instrument currency is not the account currency.
Common random numbers
    All candidates on one underlying use the same :class:`UnderlyingPaths` (and the same bridge
    normals for 0DTE days), so their losses coincide; the S&P 500 products share one path set.

Cost of the simulation: per candidate about ``paths x (warmup + 252) x legs`` option repricings
(vectorized over paths and legs; a Python loop over trades of a slot).

Units: money per contract unit of the structure (instrument currency x multiplier, times ``fx``
into the account currency when given); days are trading days unless said; vols are decimals.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from models.errors import ModelError
from models.legs import Right
from models.scenarios import term_factor
from models.strategies import Candidate, Management

__all__ = [
    "COST_COMPONENTS",
    "EXIT_REASONS",
    "ManagedResult",
    "TradeCostInputs",
    "UnderlyingPaths",
    "book_drawdowns",
    "simulate_managed",
    "time_grid",
    "trading_steps",
]

#: Why a trade was closed; :attr:`ManagedResult.exit_fractions` columns follow this tuple.
EXIT_REASONS: tuple[str, ...] = ("target", "stop", "time", "expiry", "delta")
_TARGET, _STOP, _TIME, _EXPIRY, _DELTA = range(5)

#: Cost components reported per month (:attr:`ManagedResult.costs_monthly` columns).
COST_COMPONENTS: tuple[str, ...] = ("commissions", "spread", "slippage", "fx")

TRADING_DAYS_PER_MONTH = 21
TRADING_DAYS_PER_YEAR = 252.0
SESSION_HOURS = 6.5
_DAY = 1.0 / 365.0
_SECONDS_PER_YEAR = 365.0 * 86400.0
_EPS_YEARS = 1e-9
_IV_FLOOR = 0.01


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, eq=False)
class UnderlyingPaths:
    """Daily market paths of one underlying (trading-day steps).

    Attributes
    ----------
    log_return : np.ndarray
        (P, D) close-to-close log return of day ``t`` (column ``t - 1``).
    iv_shift : np.ndarray
        (P, D + 1) change of the 30-day ATM implied vol at the close of day ``t`` (column ``t``)
        since the day the candidates' smiles were taken (usually today: column 0 is then 0; a
        path may start elsewhere, e.g. at another VIX level in a calibration), decimal
        (+0.05 = +5 vol points).
    session_return : np.ndarray
        (P, D) regular-session (open to close) log return of day ``t``.
    daily_vol : np.ndarray
        (P, D + 1) expected vol of one trading day's close-to-close return as of the close of day
        ``t`` (decimal), the scale of the 0DTE intraday bridge.
    session_scale : float
        Ratio of the session's vol to the close-to-close vol (measured from history).
    description : str
        What generated the paths (measure and calibration window).
    """

    log_return: np.ndarray
    iv_shift: np.ndarray
    session_return: np.ndarray
    daily_vol: np.ndarray
    session_scale: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        p, d = np.shape(self.log_return)
        for name, shape in (
            ("log_return", (p, d)),
            ("iv_shift", (p, d + 1)),
            ("session_return", (p, d)),
            ("daily_vol", (p, d + 1)),
        ):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != shape:
                raise ModelError(f"UnderlyingPaths.{name} has shape {arr.shape}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise ModelError(f"UnderlyingPaths.{name} has non-finite values")
            object.__setattr__(self, name, arr)

    @property
    def n_paths(self) -> int:
        """Number of paths ``P``."""
        return self.log_return.shape[0]

    @property
    def n_days(self) -> int:
        """Number of trading days ``D``."""
        return self.log_return.shape[1]


@dataclass(frozen=True)
class TradeCostInputs:
    """Costs of one trade of one unit, money in the instrument currency (see the module notes).

    Attributes
    ----------
    entry_commission, entry_spread : float
        Paid when the trade is opened.
    exit_commission, exit_spread, exit_slippage : tuple[float, ...]
        Per exit reason of :data:`EXIT_REASONS`.
    exercise_fee : tuple[float, ...]
        Per option leg (in leg order), paid when that leg finishes in the money at expiry.
    fx_cost : float
        Fraction of the trade's absolute P&L lost converting it to the account currency.
    """

    entry_commission: float = 0.0
    entry_spread: float = 0.0
    exit_commission: tuple[float, ...] = (0.0,) * 5
    exit_spread: tuple[float, ...] = (0.0,) * 5
    exit_slippage: tuple[float, ...] = (0.0,) * 5
    exercise_fee: tuple[float, ...] = ()
    fx_cost: float = 0.0


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, eq=False)
class ManagedResult:
    """Income model output for K candidates (arrays are read-only).

    Attributes
    ----------
    expected_monthly : np.ndarray
        (K,) mean monthly P&L net of costs, money per contract unit (account currency).
    expected_monthly_gross : np.ndarray
        (K,) the same before costs.
    costs_monthly : np.ndarray
        (K, 4) mean monthly cost per :data:`COST_COMPONENTS`, money per unit, >= 0.
    expected_monthly_se : np.ndarray
        (K,) standard error of ``expected_monthly`` (paths as clusters of months).
    monthly_samples : np.ndarray
        (P * M, K) net monthly P&L, row ``p * M + m`` = month ``m`` of path ``p``, aligned
        across candidates (common random numbers).
    months_per_path : int
        ``M`` (12).
    win_rate, avg_win, avg_loss : np.ndarray
        (K,) share of completed trades with net P&L > 0; mean net P&L of winners (>= 0) and of
        the other trades (<= 0).
    expected_trade, expected_trade_se : np.ndarray
        (K,) mean net P&L per completed trade and its standard error, treating trades as
        independent (trades of one path are correlated, so with many trades per path this
        understates the error; :attr:`expected_monthly_se` groups by path).
    expected_trade_gross : np.ndarray
        (K,) mean P&L per completed trade before costs.
    avg_days_held : np.ndarray
        (K,) mean calendar days from entry to close.
    trades_per_month : np.ndarray
        (K,) trades opened per month per unit (reported months).
    occupancy : np.ndarray
        (K,) share of calendar time a unit has a trade open.
    exit_fractions : np.ndarray
        (K, 5) share of completed trades closed by each of :data:`EXIT_REASONS`.
    partial_fraction : np.ndarray
        (K,) share of trades whose ``target_legs`` were closed at the target before the rest.
    candidate_ids : tuple[str, ...]
        (K,) ids in input order.
    description : str
        The paths' description (measure and window).
    """

    expected_monthly: np.ndarray
    expected_monthly_gross: np.ndarray
    costs_monthly: np.ndarray
    expected_monthly_se: np.ndarray
    monthly_samples: np.ndarray
    months_per_path: int
    win_rate: np.ndarray
    avg_win: np.ndarray
    avg_loss: np.ndarray
    expected_trade: np.ndarray
    expected_trade_se: np.ndarray
    expected_trade_gross: np.ndarray
    avg_days_held: np.ndarray
    trades_per_month: np.ndarray
    occupancy: np.ndarray
    exit_fractions: np.ndarray
    partial_fraction: np.ndarray
    candidate_ids: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def path_months(self) -> np.ndarray:
        """(P, M, K) view of :attr:`monthly_samples`."""
        s = self.monthly_samples
        return s.reshape(-1, self.months_per_path, s.shape[1])


def book_drawdowns(path_months: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Maximum drawdown of a book over each path, at month ends.

    ``DD_p = max_{s <= t} (C_p(s) - C_p(t))`` with ``C_p(0) = 0`` and ``C_p(t)`` the book's
    cumulative P&L after month ``t`` (the running peak includes the start).

    Parameters
    ----------
    path_months : np.ndarray
        (P, M, K) monthly P&L per unit (:meth:`ManagedResult.path_months`).
    counts : np.ndarray
        (K,) units of each candidate.

    Returns
    -------
    np.ndarray
        (P,) drawdowns, money (>= 0).
    """
    book = np.asarray(path_months, dtype=float) @ np.asarray(counts, dtype=float)
    cum = np.concatenate([np.zeros((book.shape[0], 1)), np.cumsum(book, axis=1)], axis=1)
    return np.max(np.maximum.accumulate(cum, axis=1) - cum, axis=1)


# --------------------------------------------------------------------------------------------
# Random streams


def _key(name: str) -> int:
    """Stable 32-bit key of a name (``hash()`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def _generator(seed: int, *key: int) -> np.random.Generator:
    """``Generator(PCG64)`` of an independent stream keyed by ``(seed, *key)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


# --------------------------------------------------------------------------------------------
# Grids


def trading_steps(t: float) -> int:
    """Trading-day steps of a structure with ``t`` years to expiry: ``max(1, round(252 t))``."""
    return max(1, int(round(float(t) * TRADING_DAYS_PER_YEAR)))


def time_grid(c: Candidate, intraday_steps: int = 11) -> np.ndarray:
    """Remaining times to expiry (years) at entry and after each step: ``[t, ..., 0]``.

    ``trading_steps(t)`` equal steps, or ``intraday_steps`` equal steps for ``t < 1/365``.
    """
    t = float(c.t)
    n = intraday_steps if t < _DAY else trading_steps(t)
    return t * (1.0 - np.arange(n + 1) / n)


def _parse_hhmm(text: str) -> tuple[int, int]:
    try:
        hh, mm = text.split(":")
        h, m = int(hh), int(mm)
    except (AttributeError, ValueError):
        raise ModelError(f"time_exit must be 'HH:MM', got {text!r}") from None
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ModelError(f"time_exit must be 'HH:MM', got {text!r}")
    return h, m


def _forced_exit_step(c: Candidate, management: Management, taus: np.ndarray) -> int:
    """Index (1..steps) of the first step at which the position is closed regardless of P&L."""
    n = len(taus) - 1
    deadline = 0.0
    if management.exit_dte is not None:
        deadline = max(deadline, float(management.exit_dte) * _DAY)
    if management.time_exit is not None and c.t < _DAY:
        h, m = _parse_hhmm(management.time_exit)
        at = c.expiry.replace(hour=h, minute=m, second=0, microsecond=0)
        deadline = max(deadline, (c.expiry - at).total_seconds() / _SECONDS_PER_YEAR)
    hits = np.nonzero(taus[1:] <= deadline + _EPS_YEARS)[0]
    return int(hits[0]) + 1 if hits.size else n


# --------------------------------------------------------------------------------------------
# One structure, normalized to spot 1


@dataclass(frozen=True)
class _Book:
    """Option legs of a candidate with strikes in units of today's spot (L = option legs)."""

    lk: np.ndarray  # (L,) ln(K / S0)
    strike: np.ndarray  # (L, 1) K / S0
    sign: np.ndarray  # (L, 1) +1 call, -1 put
    qty: np.ndarray  # (L,)
    short: np.ndarray  # (L,) bool, short legs
    smile_k: np.ndarray  # smile nodes: log-moneyness ln(K / F0)
    smile_v: np.ndarray  # smile nodes: IV
    qty_underlying: float
    carry: float
    rate: float
    target_mask: np.ndarray | None  # (L,) legs the profit target applies to

    @classmethod
    def of(cls, c: Candidate, management: Management) -> _Book:
        if not (c.t > 0 and c.spot > 0 and c.forward > 0 and 0 < c.discount_factor <= 10):
            raise ModelError(f"candidate {c.id}: needs t, spot, forward and discount factor > 0")
        opts = [(leg, iv) for leg, iv in zip(c.legs, c.ivs, strict=True) if leg.is_option]
        strike = np.array([leg.strike for leg, _ in opts], dtype=float)
        ivs = np.array([iv for _, iv in opts], dtype=float)
        if not np.all(np.isfinite(ivs) & (ivs > 0)):
            raise ModelError(f"candidate {c.id}: every option leg needs a finite IV > 0")
        if not (math.isfinite(c.atm_iv) and c.atm_iv > 0):
            raise ModelError(f"candidate {c.id}: needs a finite ATM IV > 0")
        qty = np.array([leg.quantity for leg, _ in opts], dtype=float)
        sign = np.array([1.0 if leg.right is Right.CALL else -1.0 for leg, _ in opts])
        k = np.log(strike / c.forward)
        nodes = {0.0: float(c.atm_iv)}
        for kk, v in zip(k, ivs, strict=True):
            nodes[float(kk)] = float(v)
        smile_k = np.array(sorted(nodes))
        smile_v = np.array([nodes[x] for x in smile_k])
        mask = None
        if management.target_legs is not None:
            idx = [int(i) for i in management.target_legs]
            if any(i < 0 or i >= len(opts) for i in idx):
                raise ModelError(
                    f"candidate {c.id}: target_legs {idx} outside its {len(opts)} option legs"
                )
            mask = np.zeros(len(opts), dtype=bool)
            mask[idx] = True
        return cls(
            lk=np.log(strike / c.spot),
            strike=(strike / c.spot)[:, None],
            sign=sign[:, None],
            qty=qty,
            short=qty < 0,
            smile_k=smile_k,
            smile_v=smile_v,
            qty_underlying=float(sum(leg.quantity for leg in c.legs if not leg.is_option)),
            carry=c.carry,
            rate=c.rate,
            target_mask=mask,
        )

    def legs_value(
        self, x: np.ndarray, tau: np.ndarray, shift: np.ndarray, tf: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-leg value per share (spot 1 at entry) and |forward delta| (ITM flag at expiry).

        Parameters
        ----------
        x : np.ndarray
            (S, Q) log spot relative to entry at S steps of Q trades.
        tau : np.ndarray
            (S,) years to expiry at each step (0 = settle at intrinsic value).
        shift : np.ndarray
            (S, Q) ATM IV change since today.
        tf : np.ndarray
            (S,) term factor of each step.

        Returns
        -------
        tuple[np.ndarray, np.ndarray]
            (L, S, Q) prices and (L, S, Q) ``|N(d1)|`` (at expiry: 1 if in the money, else 0).
        """
        spot = np.exp(x)[None, :, :]
        sign = self.sign[:, :, None]
        strike = self.strike[:, :, None]
        live = tau > 0
        t = np.where(live, tau, 1.0)[None, :, None]
        fwd_ln = x[None, :, :] + self.carry * t
        k = self.lk[:, None, None] - fwd_ln
        sigma = np.interp(k, self.smile_k, self.smile_v) + tf[None, :, None] * shift[None, :, :]
        v = np.maximum(sigma, _IV_FLOOR) * np.sqrt(t)
        d1 = -k / v + 0.5 * v
        n1 = ndtr(sign * d1)
        n2 = ndtr(sign * (d1 - v))
        price = np.exp(-self.rate * t) * sign * (np.exp(fwd_ln) * n1 - strike * n2)
        if not live.all():
            intrinsic = np.maximum(sign * (spot - strike), 0.0)
            dead = ~live[None, :, None]
            price = np.where(dead, intrinsic, price)
            n1 = np.where(dead, (intrinsic > 0).astype(float), n1)
        return price, n1


# --------------------------------------------------------------------------------------------
# The simulation


@dataclass
class _Acc:
    """Accumulators of one candidate (monthly arrays (P, M); per-trade lists)."""

    gross: np.ndarray
    costs: np.ndarray  # (4, P, M)
    trade_pnl: list = field(default_factory=list)
    trade_gross: list = field(default_factory=list)
    trade_days: list = field(default_factory=list)
    trade_reason: list = field(default_factory=list)
    trade_partial: list = field(default_factory=list)
    opened: int = 0
    open_days: float = 0.0


def _month_of(day: np.ndarray, warmup: int, months: int) -> np.ndarray:
    """Month index of trading day ``day`` (1-based), -1 outside the reported months."""
    m = (day - warmup - 1) // TRADING_DAYS_PER_MONTH
    return np.where((day > warmup) & (m < months), m, -1)


def _book_into(arr: np.ndarray, rows: np.ndarray, day: np.ndarray, values: np.ndarray, w, m):
    """Add ``values`` at (path, month of day) into ``arr`` (P, M)."""
    mi = _month_of(day, w, m)
    ok = mi >= 0
    if np.any(ok):
        flat = rows[ok] * m + mi[ok]
        arr += np.bincount(flat, weights=values[ok], minlength=arr.size).reshape(arr.shape)


@dataclass(frozen=True)
class _Slot:
    """Everything fixed about one candidate's trades."""

    book: _Book
    taus: np.ndarray
    tf: np.ndarray
    forced: int
    intraday: bool
    management: Management
    costs: TradeCostInputs
    money: float
    life_share: float  # sqrt(min(1, life hours / session hours)) for 0DTE
    limit_targets: bool


def _batch(
    slot: _Slot, up: UnderlyingPaths, cum_x: np.ndarray, pr: np.ndarray, e: np.ndarray, bridge
) -> dict[str, np.ndarray]:
    """Simulate Q trades opened on days ``e`` of paths ``pr`` (both (Q,))."""
    book, taus, n = slot.book, slot.taus, len(slot.taus) - 1
    mg = slot.management
    q = pr.size
    steps = np.arange(n + 1)[:, None]
    d_all = up.n_days
    if slot.intraday:
        scale = slot.money * np.exp(cum_x[pr, e - 1])
        move = up.session_return[pr, e - 1] * slot.life_share
        vol = up.daily_vol[pr, e - 1] * up.session_scale * slot.life_share
        frac = steps / n
        x = frac * move[None, :] + vol[None, :] * bridge[:, pr, e - 1]
        s0, s1 = up.iv_shift[pr, e - 1], up.iv_shift[pr, e]
        shift = s0[None, :] + frac * (s1 - s0)[None, :]
        day_of = np.broadcast_to(e[None, :], (n + 1, q))
    else:
        scale = slot.money * np.exp(cum_x[pr, e])
        cols = np.minimum(e[None, :] + steps, d_all)
        x = cum_x[pr[None, :], cols] - cum_x[pr, e][None, :]
        shift = up.iv_shift[pr[None, :], cols]
        day_of = e[None, :] + steps
    price, dl = book.legs_value(x, taus, shift, slot.tf)
    contrib = book.qty[:, None, None] * price  # (L, n+1, Q)
    mask = book.target_mask
    if mask is None:
        vg = None
        vr = contrib.sum(axis=0)
    else:
        vg = contrib[mask].sum(axis=0)
        vr = contrib[~mask].sum(axis=0)
    if book.qty_underlying:
        vr = vr + book.qty_underlying * (np.exp(x) - 1.0)
    if book.short.any():
        dmax = dl[book.short].max(axis=0)
        dmax[taus <= 0] = 0.0
    else:
        dmax = np.zeros((n + 1, q))
    open_short = book.short if mask is None else book.short & ~mask  # after a partial close
    cidx = np.arange(q)
    target_p = mg.profit_target
    if vg is None:
        ref = np.abs(vr[0])
        cum = vr - vr[0]
        f1 = np.full(q, n + 1)
    else:
        ref_g = np.abs(vg[0])
        pg = vg - vg[0]
        if target_p is not None:
            hit = (pg >= target_p * ref_g) & (steps >= 1) & (ref_g > 0)
            f1 = np.where(hit.any(axis=0), hit.argmax(axis=0), n + 1)
            at = pg[np.minimum(f1, n), cidx]
            frozen = np.full(q, target_p) * ref_g if slot.limit_targets else at
        else:
            f1 = np.full(q, n + 1)
            frozen = np.zeros(q)
        after = steps >= f1[None, :]
        cum = np.where(after, frozen[None, :], pg) + (vr - vr[0])
        ref = np.abs(vg[0] + vr[0])
        # legs closed by the partial target no longer count for the delta rule
        if open_short.any():
            rest = dl[open_short].max(axis=0)
            rest[taus <= 0] = 0.0
        else:
            rest = np.zeros((n + 1, q))
        dmax = np.where(after, rest, dmax)
    cond = np.broadcast_to(steps >= slot.forced, cum.shape).copy()
    stop_hit = delta_hit = target_hit = None
    if mg.stop_loss is not None:
        stop_hit = (cum <= -mg.stop_loss * ref) & (ref > 0)
        cond |= stop_hit
    if mg.delta_exit is not None and book.short.any():
        delta_hit = dmax >= mg.delta_exit
        cond |= delta_hit
    if vg is None and target_p is not None:
        target_hit = (cum >= target_p * ref) & (ref > 0)
        cond |= target_hit
    cond[0] = False
    f = cond.argmax(axis=0)
    reason = np.where(f == n, _EXPIRY, _TIME)
    if delta_hit is not None:
        reason = np.where(delta_hit[f, cidx], _DELTA, reason)
    if stop_hit is not None:
        reason = np.where(stop_hit[f, cidx], _STOP, reason)
    realized = cum[f, cidx].copy()
    if target_hit is not None:
        is_t = target_hit[f, cidx]
        reason = np.where(is_t, _TARGET, reason)
        if slot.limit_targets:
            realized = np.where(is_t, target_p * ref, realized)
    partial = f1 <= f
    if vg is not None:
        reason = np.where(partial & ((reason == _TIME) | (reason == _EXPIRY)), _TARGET, reason)
    marks = cum * scale[None, :]
    marks[f, cidx] = realized * scale
    inc = np.diff(marks, axis=0)
    inc[steps[1:] > f[None, :]] = 0.0
    close_day = e if slot.intraday else e + f
    costs = slot.costs
    c_exit = np.asarray(costs.exit_commission, dtype=float)[reason]
    if costs.exercise_fee:
        fee = np.asarray(costs.exercise_fee, dtype=float)
        itm = dl[:, n, :]
        if mask is not None:  # legs closed by the partial target are not exercised
            itm = np.where(mask[:, None] & (f1 <= n)[None, :], 0.0, itm)
        c_exit = c_exit + np.where(f == n, fee @ itm, 0.0)
    gross_trade = realized * scale
    return {
        "inc": inc,
        "day_of": day_of[1:],
        "close_day": close_day,
        "gross": gross_trade,
        "reason": reason,
        "held": (taus[0] - taus[f]) * 365.0,
        "partial": partial,
        "c_exit": c_exit,
        "s_exit": np.asarray(costs.exit_spread, dtype=float)[reason],
        "slip": np.asarray(costs.exit_slippage, dtype=float)[reason],
        "fx": float(costs.fx_cost) * np.abs(gross_trade),
    }


def _record(acc: _Acc, slot: _Slot, pr, e, out, warmup: int, months: int, d_all: int) -> None:
    """Book one batch of trades into the accumulators."""
    costs = slot.costs
    q = pr.size
    if slot.intraday:
        _book_into(acc.gross, pr, e, out["inc"].sum(axis=0), warmup, months)
    else:
        dd = out["day_of"]
        pp = np.broadcast_to(pr[None, :], dd.shape)
        _book_into(acc.gross, pp.ravel(), dd.ravel(), out["inc"].ravel(), warmup, months)
    close = out["close_day"]
    c_entry = np.full(q, costs.entry_commission)
    s_entry = np.full(q, costs.entry_spread)
    _book_into(acc.costs[0], pr, e, c_entry, warmup, months)
    _book_into(acc.costs[1], pr, e, s_entry, warmup, months)
    _book_into(acc.costs[0], pr, close, out["c_exit"], warmup, months)
    _book_into(acc.costs[1], pr, close, out["s_exit"], warmup, months)
    _book_into(acc.costs[2], pr, close, out["slip"], warmup, months)
    _book_into(acc.costs[3], pr, close, out["fx"], warmup, months)
    total = c_entry + s_entry + out["c_exit"] + out["s_exit"] + out["slip"] + out["fx"]
    done = close <= d_all
    acc.trade_pnl.append((out["gross"] - total)[done])
    acc.trade_gross.append(out["gross"][done])
    acc.trade_days.append(out["held"][done])
    acc.trade_reason.append(out["reason"][done])
    acc.trade_partial.append(out["partial"][done])
    reported = _month_of(e, warmup, months) >= 0
    acc.opened += int(reported.sum())
    acc.open_days += float(out["held"][reported].sum())


#: 0DTE trades priced per block (bounds the (legs, steps, trades) temporaries: ~6 MB each).
_TRADE_BLOCK = 16384


def _bridge(g: np.random.Generator, n: int, n_paths: int, n_days: int) -> np.ndarray:
    """(n + 1, P, D) standard Brownian bridges on [0, 1] at ``j / n`` (0 at both ends).

    Built in place (no temporaries of the full size): ``W_j = sum_{i<=j} Z_i / sqrt(n)``,
    ``B_j = W_j - (j / n) W_n``; the normals are drawn in the same order as
    ``g.standard_normal((n, P, D))``.
    """
    b = np.empty((n + 1, n_paths, n_days))
    b[0] = 0.0
    b[1:] = g.standard_normal((n, n_paths, n_days))
    np.cumsum(b[1:], axis=0, out=b[1:])
    b[1:] *= 1.0 / math.sqrt(n)
    last = b[n].copy()
    for j in range(1, n + 1):
        b[j] -= (j / n) * last
    return b


def _simulate_slot(
    slot: _Slot,
    up: UnderlyingPaths,
    *,
    spacing: float,
    offsets: np.ndarray,
    warmup: int,
    months: int,
    bridge: np.ndarray | None,
) -> _Acc:
    """Simulate one unit slot of a candidate on every path (see the module notes)."""
    p_all, d_all = up.log_return.shape
    cum_x = np.concatenate([np.zeros((p_all, 1)), np.cumsum(up.log_return, axis=1)], axis=1)
    acc = _Acc(gross=np.zeros((p_all, months)), costs=np.zeros((4, p_all, months)))
    rows = np.arange(p_all)
    if slot.intraday:
        # a 0DTE trade closes on its entry day: the entries are the schedule itself
        n_max = int(math.ceil(d_all / spacing)) + 1
        days = np.rint(1 + offsets[None, :] + spacing * np.arange(n_max)[:, None]).astype(np.int64)
        days = np.maximum.accumulate(days, axis=0)
        keep = np.concatenate([np.ones((1, p_all), bool), np.diff(days, axis=0) > 0]) & (
            days <= d_all
        )
        pr_all = np.broadcast_to(rows[None, :], days.shape)[keep]
        e_all = days[keep]
        for a in range(0, pr_all.size, _TRADE_BLOCK):
            pr, e = pr_all[a : a + _TRADE_BLOCK], e_all[a : a + _TRADE_BLOCK]
            out = _batch(slot, up, cum_x, pr, e, bridge)
            _record(acc, slot, pr, e, out, warmup, months, d_all)
        return acc
    entry = np.rint(offsets).astype(np.int64)
    while True:
        live = entry <= d_all - 1
        if not np.any(live):
            break
        pr = rows[live]
        e = entry[live]
        out = _batch(slot, up, cum_x, pr, e, None)
        _record(acc, slot, pr, e, out, warmup, months, d_all)
        close = out["close_day"]
        off = offsets[live]
        # the first scheduled entry strictly after the close
        i = np.floor((close - off) / spacing) + 1
        nxt = np.rint(off + i * spacing).astype(np.int64)
        nxt = np.where(nxt <= close, np.rint(off + (i + 1) * spacing).astype(np.int64), nxt)
        entry[live] = np.maximum(nxt, close + 1)  # a schedule denser than daily: the next day
    return acc


def simulate_managed(
    candidates: Sequence[Candidate],
    *,
    paths: Mapping[str, UnderlyingPaths],
    multipliers: Sequence[float],
    management: Sequence[Management],
    entries_per_month: Sequence[float],
    seed: int,
    months: int = 12,
    warmup_days: int | None = None,
    intraday_steps: int = 11,
    fx: Sequence[float] | None = None,
    costs: Sequence[TradeCostInputs | None] | None = None,
    path_keys: Sequence[str] | None = None,
    limit_targets: bool = True,
) -> ManagedResult:
    """Simulate managed trades of K candidates on shared paths and book them into months.

    Parameters
    ----------
    candidates : Sequence[Candidate]
        K structures.
    paths : Mapping[str, UnderlyingPaths]
        Daily paths per path key; all must have the same ``P`` and ``D``.
    multipliers : Sequence[float]
        (K,) contract multipliers.
    management : Sequence[Management]
        (K,) management rules.
    entries_per_month : Sequence[float]
        (K,) scheduled entries per month (> 0; 0DTE weekly 4.33).
    seed : int
        Seed of the entry phases (per strategy) and the 0DTE bridge normals (per path key).
    months : int
        Reported months per path ``M`` (>= 1).
    warmup_days : int | None
        Trading days before month 0; default ``D - 21 M``.
    intraday_steps : int
        Steps of a 0DTE trade.
    fx : Sequence[float] | None
        (K,) account-currency value of one unit of each candidate's currency (None = 1).
    costs : Sequence[TradeCostInputs | None] | None
        (K,) trade costs in the instrument currency (None = free fills).
    path_keys : Sequence[str] | None
        (K,) key into ``paths`` of each candidate (default its ``underlying``).
    limit_targets : bool
        Fill profit targets at the target (resting limit) instead of the step's mark.

    Returns
    -------
    ManagedResult

    Raises
    ------
    ModelError
        Mismatched lengths, bad inputs, missing paths, or paths too short for ``months``.
    """
    k = len(candidates)
    if k == 0:
        raise ModelError("simulate_managed needs at least one candidate")
    for name, seq in (
        ("multipliers", multipliers),
        ("management", management),
        ("entries_per_month", entries_per_month),
        ("fx", fx),
        ("costs", costs),
        ("path_keys", path_keys),
    ):
        if seq is not None and len(seq) != k:
            raise ModelError(f"{name} has {len(seq)} entries for {k} candidates")
    if months < 1:
        raise ModelError(f"months must be >= 1, got {months}")
    if intraday_steps < 1:
        raise ModelError(f"intraday_steps must be >= 1, got {intraday_steps}")
    entries = np.asarray(entries_per_month, dtype=float)
    if not np.all(np.isfinite(entries) & (entries > 0)):
        raise ModelError("entries_per_month must be finite numbers > 0")
    mult = np.asarray(multipliers, dtype=float)
    fx_arr = np.ones(k) if fx is None else np.asarray(fx, dtype=float)
    if not np.all(np.isfinite(mult) & (mult > 0)) or not np.all(np.isfinite(fx_arr) & (fx_arr > 0)):
        raise ModelError("multipliers and fx must be finite numbers > 0")
    keys = list(path_keys) if path_keys is not None else [c.underlying for c in candidates]
    missing = sorted({u for u in keys if u not in paths})
    if missing:
        raise ModelError(f"no market paths for {', '.join(missing)}")
    shapes = {paths[u].log_return.shape for u in set(keys)}
    if len(shapes) != 1:
        raise ModelError(f"market paths differ in shape: {sorted(shapes)}")
    n_paths, n_days = shapes.pop()
    warmup = n_days - TRADING_DAYS_PER_MONTH * months if warmup_days is None else warmup_days
    if warmup < 0 or warmup + TRADING_DAYS_PER_MONTH * months > n_days:
        raise ModelError(
            f"paths of {n_days} days cannot hold {warmup} warm-up days and {months} months"
        )
    bridges: dict[str, np.ndarray] = {}
    offsets: dict[str, np.ndarray] = {}
    gross = np.empty((n_paths * months, k))
    cost_arr = np.empty((4, n_paths * months, k))
    stats = np.zeros((k, 8))
    exits = np.zeros((k, len(EXIT_REASONS)))
    tpm = np.zeros(k)
    occupancy = np.zeros(k)
    for j, c in enumerate(candidates):
        up = paths[keys[j]]
        spacing = TRADING_DAYS_PER_MONTH / float(entries[j])
        okey = f"{c.strategy}"
        if okey not in offsets:
            offsets[okey] = _generator(seed, 1, _key(okey)).random(n_paths)
        bridge = None
        if c.t < _DAY:
            bkey = f"{keys[j]}|{intraday_steps}"
            if bkey not in bridges:
                bridges[bkey] = _bridge(
                    _generator(seed, 2, _key(bkey)), intraday_steps, n_paths, n_days
                )
            bridge = bridges[bkey]
        tc = (costs[j] if costs is not None else None) or TradeCostInputs()
        slot = _Slot(
            book=_Book.of(c, management[j]),
            taus=time_grid(c, intraday_steps),
            tf=term_factor(time_grid(c, intraday_steps)),
            forced=_forced_exit_step(c, management[j], time_grid(c, intraday_steps)),
            intraday=c.t < _DAY,
            management=management[j],
            costs=tc,
            money=float(mult[j]) * float(c.spot),
            life_share=math.sqrt(min(1.0, c.t * 365.0 * 24.0 / SESSION_HOURS)),
            limit_targets=limit_targets,
        )
        acc = _simulate_slot(
            slot,
            up,
            spacing=spacing,
            offsets=offsets[okey] * spacing,
            warmup=warmup,
            months=months,
            bridge=bridge,
        )
        f = float(fx_arr[j])
        gross[:, j] = acc.gross.reshape(-1) * f
        cost_arr[:, :, j] = acc.costs.reshape(4, -1) * f
        pnl = np.concatenate(acc.trade_pnl) * f
        gr = np.concatenate(acc.trade_gross) * f
        days = np.concatenate(acc.trade_days)
        reason = np.concatenate(acc.trade_reason).astype(int)
        partial = np.concatenate(acc.trade_partial)
        if pnl.size == 0:
            raise ModelError(f"candidate {c.id}: no trade completed on the paths")
        win = pnl > 0
        stats[j] = (
            win.mean(),
            pnl[win].mean() if win.any() else 0.0,
            pnl[~win].mean() if (~win).any() else 0.0,
            pnl.mean(),
            pnl.std(ddof=1) / math.sqrt(pnl.size) if pnl.size > 1 else 0.0,
            gr.mean(),
            days.mean(),
            partial.mean(),
        )
        exits[j] = np.bincount(reason, minlength=len(EXIT_REASONS)) / pnl.size
        tpm[j] = acc.opened / (n_paths * months)
        occupancy[j] = min(1.0, acc.open_days / (n_paths * months * 365.25 / 12.0))
    costs_total = cost_arr.sum(axis=0)
    net = gross - costs_total
    per_path = net.reshape(n_paths, months, k).mean(axis=1)
    se = per_path.std(axis=0, ddof=1) / math.sqrt(n_paths) if n_paths > 1 else np.zeros(k)
    desc = "; ".join(sorted({paths[u].description for u in set(keys) if paths[u].description}))
    return ManagedResult(
        expected_monthly=net.mean(axis=0),
        expected_monthly_gross=gross.mean(axis=0),
        costs_monthly=cost_arr.mean(axis=1).T,
        expected_monthly_se=se,
        monthly_samples=net,
        months_per_path=months,
        win_rate=stats[:, 0],
        avg_win=stats[:, 1],
        avg_loss=stats[:, 2],
        expected_trade=stats[:, 3],
        expected_trade_se=stats[:, 4],
        expected_trade_gross=stats[:, 5],
        avg_days_held=stats[:, 6],
        trades_per_month=tpm,
        occupancy=occupancy,
        exit_fractions=exits,
        partial_fraction=stats[:, 7],
        candidate_ids=tuple(c.id for c in candidates),
        description=desc,
    )
