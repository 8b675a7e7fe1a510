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
    IV level moves linearly from the previous close's level to the day's close level. With
    ``directional_move`` (below) the session's move is instead split at the entry: the move from
    the open to the entry is ``a R + sqrt(a (1 - a)) sigma Z`` (the Brownian bridge from 0 to the
    session's return ``R`` at the share ``a = 1 - life_hours / 6.5`` of the session, ``sigma =
    daily_vol x session_scale``, ``Z`` a normal of its own stream per path key and day), and the
    trade's move from the entry to the close is the rest, ``R`` minus that (the two add to the
    session's move; the entry -> close variance ``(1 - a) sigma^2`` is that of the unsplit
    model, but the draws differ, so compare the variant with a level never reached, e.g.
    ``directional_move=0.5``, rather than with the rule unset). Sizing stays at the previous
    close.
Management (:class:`models.strategies.Management`, checked at every step close)
    Reference ``ref = |net option premium at entry|`` (per path: the premium moves with the vol
    level). ``profit_target p``: P&L >= ``p ref`` closes the trade at the target (a resting
    limit order; ``limit_targets=False`` fills at the step's mark). With ``target_legs`` the
    target applies to those legs only (their own premium as reference): they are closed and the
    other legs stay open to their own exits (LT112: the naked puts closed at 90% of their credit,
    the debit spread kept). ``stop_loss m``: P&L <= ``-m ref`` closes at the step's mark (late
    fill: discrete monitoring). ``delta_exit d``: any short option leg's forward delta
    ``|N(d1)|`` >= ``d`` closes everything (TK strangle defence: "30 delta: exit all"), watching
    the short legs open during the step. ``exit_dte``: closed at the mark at the first step with
    DTE <= ``exit_dte``; ``time_exit``: intraday, at that clock time; otherwise held to expiry.
    When several rules fire at one step: target, stop, delta, vix, distance, tested, then the
    time exit or expiry.
Defence rules (off unless set; domain.md §3a–3d, §4)
    ``roll_untested_delta`` (TK strangles 0.20, §3c "20 roll the untested side"): at the first
    step at which a short leg's ``|N(d1)|`` reaches it, the other short leg (the untested side)
    is bought back at the step's mark and a new one of the same right sold on the same expiry at
    the untested leg's entry delta (its ``|N(d1)|`` at the trade's entry on the path): the strike
    is solved per trade on the trade's smile at the step's spot and IV level (fixed point of
    ``k = v (v / 2 - sign N^-1(delta))``, :meth:`_Book.strike_at_delta`), and the new leg's
    premium is collected at that mark. Once per trade (TK: "never roll losers", §3d; rolling the
    untested, profitable side is the exception TK states); needs one short put and one short
    call. The two extra fills cost the leg's share of the contracts times the structure's entry
    cost (commissions + spread) each, on the roll day.
    ``close_tested_delta`` (0.25, "25 close the tested side"): a short leg (an original one or
    the rolled one) whose ``|N(d1)|`` reaches it is closed at the step's mark; the other legs
    stay open to their own exits; when no short leg is left open the trade is over (reason
    ``tested``). A trade with a tested close that then ends by the time exit or expiry is
    reported as ``tested`` (as a partial target is reported as ``target``). The profit target
    and stop keep the whole trade's P&L (closed legs' realized plus open legs' marks) against
    the entry credit. The delta levels must rise: roll <= close tested <= ``delta_exit``; the
    defence cannot be combined with ``target_legs``.
    ``vix_exit`` (30, §4 "VIX > 30 protocol: close all strangles"): closed at the mark of the
    first close with the VIX (``UnderlyingPaths.vix``, the S&P 500's, shared by every
    underlying) above it, and no entry at a close above it (the slot waits for the next
    scheduled entry). 0DTE trades end before the VIX closes: only their entry is filtered (on
    the previous close).
    ``entry_iv_rank`` (0.30, §3c "IV rank > 30th percentile"): a scheduled entry is skipped
    (the slot waits for the next) when the IV percentile of the entry close (:func:`iv_rank`:
    share of the path's previous closes, up to 252, with a lower IV level, ties half) is below
    it. The rank reads the path's own history only: early in a path the window is shorter than
    a year (what exists is used), and with fewer than ``MIN_RANK_CLOSES`` previous closes (the
    first month of the warm-up) the filter does not apply.
    ``close_distance`` (TK LT112, §3b "100 points safe, 75 monitor, 50 prepare, 25 close all",
    in ES points: 25 / 6939 = 0.36%): everything is closed at the mark of the first step with
    ``(S - K) / S <= close_distance``, ``K`` the strike of the most out-of-the-money short put
    (the naked puts), watched while that leg is open (not after ``target_legs`` closed it).
    ``directional_move`` (0DTE 0.005, §3a): by the open -> entry move (see 0DTE trades), up
    more than it trades only the structure's call legs, down more only its put legs, else all
    legs. The side keeps the condor's strikes (TK's spreads at 0.7 ATR instead of the condor's
    0.5 ATR are not modelled); its reference premium, P&L, deltas and exercise are its own
    legs', and its entry and exit costs are scaled by its share of the contracts.
    Not modelled: the LT112's weekly calls against the long put (§3b: "after day 30, sell
    weekly calls about 5 points above the long put on Mondays; stop if ES touches the long
    put"). Read literally the call is struck about 7% *below* the spot (the long put is ~7%
    OTM), deep in the money: its premium is nearly all intrinsic value, so selling it is a
    short delta-one position with a few points of extrinsic value, and the stop ("ES touches
    the long put") is the only state in which the call would be near the money. No reading of
    the rule as stated gives the "hedge monetisation" it describes, so it is left out rather
    than guessed.
Months by mark to market
    A month's P&L of a unit = realized P&L of trades closed in it + change of the mark of trades
    open across its boundaries + costs paid in it. Entry costs are paid on the entry day, exit
    costs on the close day.
Costs (:class:`TradeCostInputs`, money per unit, instrument currency)
    Entry: commissions and fees plus the spread paid. Exit, by reason: commissions and fees,
    spread, stop slippage (a partial close is costed as the final close of the whole structure;
    the defence exits vix, tested and distance as a delta exit when the cost tuples have the
    first five reasons only). A roll adds two fills of the rolled leg's share of the entry cost.
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
from scipy.special import ndtr, ndtri

from models.errors import ModelError
from models.legs import Right
from models.scenarios import term_factor
from models.strategies import Candidate, Management

__all__ = [
    "COST_COMPONENTS",
    "EXIT_REASONS",
    "MIN_RANK_CLOSES",
    "ManagedResult",
    "TradeCostInputs",
    "UnderlyingPaths",
    "book_drawdowns",
    "iv_rank",
    "simulate_managed",
    "time_grid",
    "trading_steps",
]

#: Why a trade was closed; :attr:`ManagedResult.exit_fractions` columns follow this tuple.
EXIT_REASONS: tuple[str, ...] = (
    "target",
    "stop",
    "time",
    "expiry",
    "delta",
    "vix",
    "tested",
    "distance",
)
_TARGET, _STOP, _TIME, _EXPIRY, _DELTA, _VIX, _TESTED, _DISTANCE = range(8)
#: Cost column of each exit reason when a :class:`TradeCostInputs` tuple has only the first five
#: reasons: the defence exits (vix, tested, distance) are closes at the mark under stress,
#: costed like the delta exit (itself costed like a stop by :mod:`optimizer.income_model`).
_COST_COLUMN: tuple[int, ...] = (0, 1, 2, 3, 4, 4, 4, 4)

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
    vix : np.ndarray | None
        (P, D + 1) VIX close of day ``t`` (column ``t``), the S&P 500's implied-vol index shared
        by every underlying (read by ``Management.vix_exit``); None = unknown.
    """

    log_return: np.ndarray
    iv_shift: np.ndarray
    session_return: np.ndarray
    daily_vol: np.ndarray
    session_scale: float = 1.0
    description: str = ""
    vix: np.ndarray | None = None

    def __post_init__(self) -> None:
        p, d = np.shape(self.log_return)
        for name, shape in (
            ("log_return", (p, d)),
            ("iv_shift", (p, d + 1)),
            ("session_return", (p, d)),
            ("daily_vol", (p, d + 1)),
            ("vix", (p, d + 1)),
        ):
            if getattr(self, name) is None:
                continue
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
        Per exit reason of :data:`EXIT_REASONS`. Given for its first five only (target, stop,
        time, expiry, delta), they are extended: the defence exits (vix, tested, distance) are
        costed like a delta exit.
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

    def __post_init__(self) -> None:
        for name in ("exit_commission", "exit_spread", "exit_slippage"):
            object.__setattr__(
                self, name, tuple(float(v) for v in _per_reason(getattr(self, name)))
            )


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
        (K, len(EXIT_REASONS)) share of completed trades closed by each of :data:`EXIT_REASONS`.
    partial_fraction : np.ndarray
        (K,) share of trades whose ``target_legs`` were closed at the target before the rest.
    roll_fraction : np.ndarray
        (K,) share of completed trades whose untested side was rolled (``roll_untested_delta``).
    tested_fraction : np.ndarray
        (K,) share of completed trades with a short leg closed by ``close_tested_delta``.
    one_sided_fraction : np.ndarray
        (K,) share of completed 0DTE trades that traded one side only (``directional_move``).
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
    roll_fraction: np.ndarray
    tested_fraction: np.ndarray
    one_sided_fraction: np.ndarray
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


def _check_defence(
    c: Candidate,
    mg: Management,
    qty: np.ndarray,
    sign: np.ndarray,
    strike: np.ndarray,
    mask: np.ndarray | None,
) -> tuple[tuple[int, int] | None, int | None]:
    """Validate the defence rules for ``c``; (short put, short call) legs to roll and the most
    out-of-the-money short put (or None)."""
    intraday = c.t < _DAY

    def bad(what: str) -> ModelError:
        return ModelError(f"candidate {c.id}: management {what}")

    levels = [
        (name, getattr(mg, name))
        for name in ("roll_untested_delta", "close_tested_delta", "delta_exit")
        if getattr(mg, name) is not None
    ]
    for name, v in levels:
        if not 0.0 < v <= 1.0:
            raise bad(f"{name} must be in (0, 1], got {v}")
    if [v for _, v in levels] != sorted(v for _, v in levels):
        raise bad(
            "delta levels must rise roll_untested_delta <= close_tested_delta <= delta_exit, "
            f"got {dict(levels)}"
        )
    for name, ok, what in (
        ("vix_exit", lambda v: v > 0, "> 0"),
        ("entry_iv_rank", lambda v: 0 <= v <= 1, "in [0, 1]"),
        ("close_distance", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("directional_move", lambda v: 0 < v < 1, "in (0, 1)"),
    ):
        v = getattr(mg, name)
        if v is not None and not (math.isfinite(v) and ok(v)):
            raise bad(f"{name} must be a finite number {what}, got {v}")
    short_put = np.flatnonzero((qty < 0) & (sign < 0))
    short_call = np.flatnonzero((qty < 0) & (sign > 0))
    roll_legs = None
    if mg.roll_untested_delta is not None or mg.close_tested_delta is not None:
        if intraday:
            raise bad("delta defence (roll/close tested) is for trades held over days, not 0DTE")
        if mask is not None:
            raise bad("delta defence (roll/close tested) cannot be combined with target_legs")
    if mg.roll_untested_delta is not None:
        if short_put.size != 1 or short_call.size != 1:
            raise bad("roll_untested_delta needs one short put and one short call (a strangle)")
        roll_legs = (int(short_put[0]), int(short_call[0]))
    naked = None
    if mg.close_distance is not None:
        if short_put.size == 0:
            raise bad("close_distance needs a short put")
        naked = int(short_put[np.argmin(strike[short_put])])
    if mg.directional_move is not None and not intraday:
        raise bad("directional_move is the 0DTE variant (trades opened and closed intraday)")
    return roll_legs, naked


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
    roll_legs: tuple[int, int] | None = None  # (short put, short call) for roll_untested_delta
    naked_put: int | None = None  # the most OTM short put, watched by close_distance

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
        roll_legs, naked_put = _check_defence(c, management, qty, sign, strike, mask)
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
            roll_legs=roll_legs,
            naked_put=naked_put,
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
        return self._price(
            self.lk[:, None, None],
            self.strike[:, :, None],
            self.sign[:, :, None],
            x,
            tau,
            shift,
            tf,
        )

    def new_leg_value(
        self,
        lk: np.ndarray,
        sign: np.ndarray,
        x: np.ndarray,
        tau: np.ndarray,
        shift: np.ndarray,
        tf: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(S, Q) price and ``|N(d1)|`` of one leg per trade, log strike ``lk`` (Q,) relative to
        the trade's entry spot and right ``sign`` (Q,) (+1 call, -1 put), on the same smile."""
        price, n1 = self._price(
            lk[None, None, :], np.exp(lk)[None, None, :], sign[None, None, :], x, tau, shift, tf
        )
        return price[0], n1[0]

    def _price(self, lk, strike, sign, x, tau, shift, tf) -> tuple[np.ndarray, np.ndarray]:
        """Black-Scholes-Merton on the sticky-moneyness smile; ``lk, strike, sign`` broadcast to
        (L, S, Q)."""
        spot = np.exp(x)[None, :, :]
        live = tau > 0
        t = np.where(live, tau, 1.0)[None, :, None]
        fwd_ln = x[None, :, :] + self.carry * t
        k = lk - fwd_ln
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

    def strike_at_delta(
        self,
        delta: np.ndarray,
        sign: np.ndarray,
        x: np.ndarray,
        tau: float,
        shift: np.ndarray,
        tf: float,
    ) -> np.ndarray:
        """Log strike (Q,) relative to the trade's entry spot whose ``|N(d1)|`` is ``delta`` (Q,)
        at log spot ``x`` (Q,), ``tau`` years to expiry and ATM IV change ``shift`` (Q,).

        Solves ``sign d1(k) = N^-1(delta)``, ``d1 = -k / v + v / 2``, ``v = sigma(k) sqrt(tau)``
        with ``sigma(k)`` the trade's smile at ``k = ln(K / F)``, by fixed-point iteration on
        ``k = v (v / 2 - sign N^-1(delta))`` (the smile's slope times ``sqrt(tau)`` is far below
        1, so the map contracts).
        """
        z = ndtri(np.clip(delta, 1e-9, 1.0 - 1e-9))
        root = math.sqrt(tau)
        k = np.zeros_like(z)
        for _ in range(60):
            sigma = np.interp(k, self.smile_k, self.smile_v) + tf * shift
            v = np.maximum(sigma, _IV_FLOOR) * root
            k_new = v * (0.5 * v - sign * z)
            if np.max(np.abs(k_new - k), initial=0.0) < 1e-13:
                k = k_new
                break
            k = k_new
        return k + x + self.carry * tau


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
    trade_flags: list = field(default_factory=list)  # (3, Q) rolled, tested, one-sided
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
    pre_share: float = 0.0  # share of the session before a 0DTE entry: 1 - life_share**2
    entry_ok: np.ndarray | None = None  # (P, D + 1) entry allowed at the close of day t


def _batch(
    slot: _Slot,
    up: UnderlyingPaths,
    cum_x: np.ndarray,
    pr: np.ndarray,
    e: np.ndarray,
    bridge,
    pre_normals: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Simulate Q trades opened on days ``e`` of paths ``pr`` (both (Q,))."""
    book, taus, n = slot.book, slot.taus, len(slot.taus) - 1
    mg = slot.management
    q = pr.size
    steps = np.arange(n + 1)[:, None]
    d_all = up.n_days
    active = None  # (L, Q) legs traded (0DTE directional variant)
    cols = None
    if slot.intraday:
        scale = slot.money * np.exp(cum_x[pr, e - 1])
        if mg.directional_move is not None:
            # the session's move split at the entry by a Brownian bridge: open -> entry is the
            # first share a of the session, entry -> close the rest (they add to the session)
            a = slot.pre_share
            sess = up.session_return[pr, e - 1]
            sig = up.daily_vol[pr, e - 1] * up.session_scale
            pre = a * sess + math.sqrt(a * (1.0 - a)) * sig * pre_normals[pr, e - 1]
            move = sess - pre
            calls = book.sign[:, 0] > 0
            active = np.ones((calls.size, q), dtype=bool)
            active[np.ix_(~calls, pre > mg.directional_move)] = False  # up: the call side
            active[np.ix_(calls, pre < -mg.directional_move)] = False  # down: the put side
        else:
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
    if active is not None:  # legs not traded have no value and no delta
        price = price * active[:, None, :]
        dl = dl * active[:, None, :]
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
    dfc = None
    if vg is None:
        ref = np.abs(vr[0])
        cum = vr - vr[0]
        f1 = np.full(q, n + 1)
        if mg.roll_untested_delta is not None or mg.close_tested_delta is not None:
            dfc = _defence(slot, x, shift, price, dl)
            cum = dfc["cum"]
            if book.qty_underlying:
                cum = cum + book.qty_underlying * (np.exp(x) - 1.0)
            dmax = dfc["dmax"]
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
    stop_hit = delta_hit = target_hit = vix_hit = dist_hit = done_hit = None
    if mg.stop_loss is not None:
        stop_hit = (cum <= -mg.stop_loss * ref) & (ref > 0)
        cond |= stop_hit
    if mg.delta_exit is not None and book.short.any():
        delta_hit = dmax >= mg.delta_exit
        cond |= delta_hit
    if vg is None and target_p is not None:
        target_hit = (cum >= target_p * ref) & (ref > 0)
        cond |= target_hit
    if mg.vix_exit is not None and cols is not None:  # a 0DTE trade ends before the VIX closes
        vix_hit = up.vix[pr[None, :], cols] > mg.vix_exit
        cond |= vix_hit
    if mg.close_distance is not None:
        i_n = book.naked_put
        dist_hit = np.exp(x) * (1.0 - mg.close_distance) <= book.strike[i_n, 0]
        if mask is not None and mask[i_n]:  # watched while the naked puts are open
            dist_hit &= steps < f1[None, :]
        cond |= dist_hit
    if dfc is not None:  # every short leg closed by the defence: the trade is over
        done_hit = steps >= dfc["all_closed"][None, :]
        cond |= done_hit
    cond[0] = False
    f = cond.argmax(axis=0)
    reason = np.where(f == n, _EXPIRY, _TIME)
    for hit_, code in ((done_hit, _TESTED), (dist_hit, _DISTANCE), (vix_hit, _VIX)):
        if hit_ is not None:
            reason = np.where(hit_[f, cidx], code, reason)
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
    rolled = tested = np.zeros(q, dtype=bool)
    if dfc is not None:
        rolled = dfc["roll"] < f
        tested = dfc["tested"] < f
        runout = (reason == _TIME) | (reason == _EXPIRY)
        reason = np.where(tested & runout, _TESTED, reason)
    marks = cum * scale[None, :]
    marks[f, cidx] = realized * scale
    inc = np.diff(marks, axis=0)
    inc[steps[1:] > f[None, :]] = 0.0
    close_day = e if slot.intraday else e + f
    costs = slot.costs
    share = np.ones(q)
    if active is not None:  # costs of the legs traded: their share of the contracts
        aq = np.abs(book.qty)
        share = (aq @ active) / aq.sum()
    c_exit = _per_reason(costs.exit_commission)[reason] * share
    if costs.exercise_fee:
        fee = np.asarray(costs.exercise_fee, dtype=float)
        itm = dl[:, n, :]
        if mask is not None:  # legs closed by the partial target are not exercised
            itm = np.where(mask[:, None] & (f1 <= n)[None, :], 0.0, itm)
        if dfc is not None:  # legs closed by the defence are not exercised; the new leg may be
            itm = np.where(dfc["closed"] <= n, 0.0, itm)
        c_exit = c_exit + np.where(f == n, fee @ itm, 0.0)
        if dfc is not None:
            c_exit = c_exit + np.where(f == n, fee[dfc["u"]] * dfc["new_itm"], 0.0)
    gross_trade = realized * scale
    out = {
        "inc": inc,
        "day_of": day_of[1:],
        "close_day": close_day,
        "gross": gross_trade,
        "reason": reason,
        "held": (taus[0] - taus[f]) * 365.0,
        "partial": partial,
        "c_exit": c_exit,
        "s_exit": _per_reason(costs.exit_spread)[reason] * share,
        "slip": _per_reason(costs.exit_slippage)[reason] * share,
        "fx": float(costs.fx_cost) * np.abs(gross_trade),
        "share": share,
        "rolled": rolled,
        "tested": tested,
        "one_sided": ~active.all(axis=0) if active is not None else np.zeros(q, dtype=bool),
    }
    if dfc is not None:
        # the roll's two extra fills (close the untested leg, sell the new one), each costed as
        # the leg's share of the structure's entry cost
        w = 2.0 * np.where(rolled, dfc["roll_share"], 0.0)
        out["roll_day"] = e + np.minimum(dfc["roll"], n)
        out["c_roll"] = w * costs.entry_commission
        out["s_roll"] = w * costs.entry_spread
    return out


def _per_reason(values: tuple[float, ...]) -> np.ndarray:
    """A cost tuple per :data:`EXIT_REASONS` (a five-reason tuple mapped by ``_COST_COLUMN``)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == len(EXIT_REASONS):
        return arr
    if arr.size == 5:
        return arr[list(_COST_COLUMN)]
    raise ModelError(
        f"TradeCostInputs exit tuples need 5 or {len(EXIT_REASONS)} entries, got {arr.size}"
    )


def _defence(slot: _Slot, x, shift, price, dl) -> dict[str, np.ndarray]:
    """The strangle delta defence of Q trades (``roll_untested_delta``, ``close_tested_delta``).

    Returns the option P&L ``cum`` (S, Q) with each leg frozen at its close step, the largest
    delta of the short legs open during each step ``dmax`` (S, Q), the roll step ``roll`` (Q,),
    the first tested-leg close ``tested`` (Q,), the step ``all_closed`` (Q,) at which no short
    leg is open, ``closed`` (L, Q) close steps of the original legs, the untested leg ``u``
    (Q,), the new leg's in-the-money flag at expiry ``new_itm`` (Q,) and the untested leg's
    share of the contracts ``roll_share`` (Q,); ``n + 1`` = never.
    """
    book, taus, mg = slot.book, slot.taus, slot.management
    n = taus.size - 1
    n_legs, _, q = price.shape
    never = n + 1
    steps = np.arange(n + 1)[:, None]
    cidx = np.arange(q)
    live = (taus > 0)[:, None] & (steps >= 1)  # (S, 1) steps at which the rules are checked

    def first(hit: np.ndarray) -> np.ndarray:
        return np.where(hit.any(axis=0), hit.argmax(axis=0), never)

    closed = np.full((n_legs, q), never)
    if mg.close_tested_delta is not None:
        for i in np.flatnonzero(book.short):
            closed[i] = first((dl[i] >= mg.close_tested_delta) & live)
    roll = np.full(q, never)
    u = np.zeros(q, dtype=np.int64)
    new_cum = np.zeros((n + 1, q))
    new_d = np.zeros((n + 1, q))
    new_close = np.full(q, never)
    new_itm = np.zeros(q)
    roll_share = np.zeros(q)
    if mg.roll_untested_delta is not None:
        ip, ic = book.roll_legs
        roll = first((np.maximum(dl[ip], dl[ic]) >= mg.roll_untested_delta) & live & (steps < n))
        rc = np.minimum(roll, n)
        did = roll < never
        u = np.where(dl[ip, rc, cidx] >= dl[ic, rc, cidx], ic, ip)  # the untested leg
        closed[u[did], cidx[did]] = roll[did]  # a tested close of it would come later
        if did.any():
            sign = book.sign[u, 0]
            # the solve at each trade's own roll step (tau, term factor of that step)
            lk = np.empty(q)
            for j in np.unique(rc[did]):
                sel = did & (rc == j)
                lk[sel] = book.strike_at_delta(
                    dl[u[sel], 0, cidx[sel]],
                    sign[sel],
                    x[j, sel],
                    float(taus[j]),
                    shift[j, sel],
                    float(slot.tf[j]),
                )
            lk[~did] = 0.0
            p_new, d_new = book.new_leg_value(lk, sign, x, taus, shift, slot.tf)
            opened = (steps > roll[None, :]) & did[None, :]
            if mg.close_tested_delta is not None:
                new_close = first((d_new >= mg.close_tested_delta) & live & opened)
            new_close = np.where(did, new_close, never)
            at = np.minimum(steps, new_close[None, :])
            frozen = np.take_along_axis(p_new, at, axis=0)
            entry_px = p_new[rc, cidx]
            qty_u = book.qty[u]
            new_cum = np.where(steps >= roll[None, :], qty_u * (frozen - entry_px), 0.0)
            new_d = np.where(opened & (steps <= new_close[None, :]), d_new, 0.0)
            new_itm = np.where(did & (new_close == never), d_new[n], 0.0)
            aq = np.abs(book.qty)
            roll_share = aq[u] / aq.sum()
    at = np.minimum(steps[None, :, :], closed[:, None, :])  # (L, S, Q)
    frozen = np.take_along_axis(price, at, axis=1)
    cum = (book.qty[:, None, None] * (frozen - price[:, :1, :])).sum(axis=0) + new_cum
    short = np.flatnonzero(book.short)
    open_d = np.where(steps[None, :, :] <= closed[short][:, None, :], dl[short], 0.0)
    dmax = np.maximum(open_d.max(axis=0), new_d)
    dmax[taus <= 0] = 0.0
    rolled = roll < never
    all_closed = closed[short].max(axis=0)
    all_closed = np.where(rolled, np.maximum(all_closed, new_close), all_closed)
    by_test = closed[short].copy()
    if rolled.any():  # the untested leg was closed by the roll, not as the tested side
        pos = np.searchsorted(short, u)
        by_test[pos[rolled], cidx[rolled]] = never
    tested = np.minimum(by_test.min(axis=0), new_close)
    return {
        "cum": cum,
        "dmax": dmax,
        "roll": roll,
        "tested": tested,
        "all_closed": all_closed,
        "closed": closed,
        "u": u,
        "new_itm": new_itm,
        "roll_share": roll_share,
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
    c_entry = np.full(q, costs.entry_commission) * out["share"]
    s_entry = np.full(q, costs.entry_spread) * out["share"]
    _book_into(acc.costs[0], pr, e, c_entry, warmup, months)
    _book_into(acc.costs[1], pr, e, s_entry, warmup, months)
    _book_into(acc.costs[0], pr, close, out["c_exit"], warmup, months)
    _book_into(acc.costs[1], pr, close, out["s_exit"], warmup, months)
    _book_into(acc.costs[2], pr, close, out["slip"], warmup, months)
    _book_into(acc.costs[3], pr, close, out["fx"], warmup, months)
    total = c_entry + s_entry + out["c_exit"] + out["s_exit"] + out["slip"] + out["fx"]
    if "roll_day" in out:
        _book_into(acc.costs[0], pr, out["roll_day"], out["c_roll"], warmup, months)
        _book_into(acc.costs[1], pr, out["roll_day"], out["s_roll"], warmup, months)
        total = total + out["c_roll"] + out["s_roll"]
    done = close <= d_all
    acc.trade_pnl.append((out["gross"] - total)[done])
    acc.trade_gross.append(out["gross"][done])
    acc.trade_days.append(out["held"][done])
    acc.trade_reason.append(out["reason"][done])
    acc.trade_partial.append(out["partial"][done])
    acc.trade_flags.append(np.stack([out["rolled"], out["tested"], out["one_sided"]])[:, done])
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
    pre_normals: np.ndarray | None = None,
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
        if slot.entry_ok is not None:  # filters read at the previous close
            keep &= slot.entry_ok[rows[None, :], np.minimum(days, d_all) - 1]
        pr_all = np.broadcast_to(rows[None, :], days.shape)[keep]
        e_all = days[keep]
        for a in range(0, pr_all.size, _TRADE_BLOCK):
            pr, e = pr_all[a : a + _TRADE_BLOCK], e_all[a : a + _TRADE_BLOCK]
            out = _batch(slot, up, cum_x, pr, e, bridge, pre_normals)
            _record(acc, slot, pr, e, out, warmup, months, d_all)
        return acc
    entry = _allowed(slot, np.rint(offsets).astype(np.int64), offsets, spacing, d_all)
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
        entry = _allowed(slot, entry, offsets, spacing, d_all)
    return acc


def _allowed(slot: _Slot, entry: np.ndarray, offsets, spacing: float, d_all: int) -> np.ndarray:
    """Move each path's next entry past scheduled days the entry filters block (VIX, IV rank):
    the slot waits for the next scheduled entry."""
    if slot.entry_ok is None:
        return entry
    rows = np.arange(entry.size)
    while True:
        blocked = (entry <= d_all - 1) & ~slot.entry_ok[rows, np.minimum(entry, d_all)]
        if not blocked.any():
            return entry
        day, off = entry[blocked], offsets[blocked]
        i = np.floor((day - off) / spacing) + 1
        nxt = np.rint(off + i * spacing).astype(np.int64)
        nxt = np.where(nxt <= day, np.rint(off + (i + 1) * spacing).astype(np.int64), nxt)
        entry[blocked] = np.maximum(nxt, day + 1)


def iv_rank(iv: np.ndarray, window: int = 252) -> np.ndarray:
    """IV percentile of each close among the previous ``window`` closes of the same path.

    Parameters
    ----------
    iv : np.ndarray
        (P, T) implied-vol level (or its change since a fixed day: the rank is the same).
    window : int
        Trailing closes compared (a year of trading days).

    Returns
    -------
    np.ndarray
        (P, T) share of the previous ``min(t, window)`` closes below close ``t`` (ties count
        half); NaN at ``t = 0``.
    """
    iv = np.asarray(iv, dtype=float)
    below = np.zeros_like(iv)
    count = np.minimum(np.arange(iv.shape[1]), window).astype(float)
    for lag in range(1, min(window, iv.shape[1] - 1) + 1):
        now, then = iv[:, lag:], iv[:, :-lag]
        below[:, lag:] += (then < now) + 0.5 * (then == now)
    with np.errstate(invalid="ignore", divide="ignore"):
        return below / count[None, :]


#: Fewer trailing closes than this: the IV-rank entry filter does not apply (the path's start).
MIN_RANK_CLOSES = 21


def _entry_filter(up: UnderlyingPaths, mg: Management, cid: str) -> np.ndarray | None:
    """(P, D + 1) whether an entry may open at the close of day ``t`` (VIX and IV-rank rules)."""
    if mg.vix_exit is None and mg.entry_iv_rank is None:
        return None
    ok = np.ones(up.iv_shift.shape, dtype=bool)
    if mg.vix_exit is not None:
        if up.vix is None:
            raise ModelError(f"candidate {cid}: vix_exit needs the VIX level (UnderlyingPaths.vix)")
        ok &= up.vix <= mg.vix_exit
    if mg.entry_iv_rank is not None:
        rank = iv_rank(up.iv_shift)
        short = np.arange(up.iv_shift.shape[1]) < MIN_RANK_CLOSES
        ok &= short[None, :] | (rank >= mg.entry_iv_rank)
    return ok


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
    pre: dict[str, np.ndarray] = {}
    filters: dict[tuple, np.ndarray | None] = {}
    offsets: dict[str, np.ndarray] = {}
    gross = np.empty((n_paths * months, k))
    cost_arr = np.empty((4, n_paths * months, k))
    stats = np.zeros((k, 8))
    exits = np.zeros((k, len(EXIT_REASONS)))
    flags = np.zeros((k, 3))
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
            if management[j].directional_move is not None and bkey not in pre:
                # the open -> entry bridge point of each day (its own stream: adding the
                # variant changes no other draw)
                pre[bkey] = _generator(seed, 3, _key(bkey)).standard_normal((n_paths, n_days))
        mg = management[j]
        fkey = (keys[j], mg.vix_exit, mg.entry_iv_rank)
        if fkey not in filters:
            filters[fkey] = _entry_filter(up, mg, c.id)
        life = min(1.0, c.t * 365.0 * 24.0 / SESSION_HOURS)
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
            life_share=math.sqrt(life),
            limit_targets=limit_targets,
            pre_share=1.0 - life,
            entry_ok=filters[fkey],
        )
        acc = _simulate_slot(
            slot,
            up,
            spacing=spacing,
            offsets=offsets[okey] * spacing,
            warmup=warmup,
            months=months,
            bridge=bridge,
            pre_normals=pre.get(f"{keys[j]}|{intraday_steps}"),
        )
        f = float(fx_arr[j])
        gross[:, j] = acc.gross.reshape(-1) * f
        cost_arr[:, :, j] = acc.costs.reshape(4, -1) * f
        pnl = np.concatenate(acc.trade_pnl) * f
        gr = np.concatenate(acc.trade_gross) * f
        days = np.concatenate(acc.trade_days)
        reason = np.concatenate(acc.trade_reason).astype(int)
        partial = np.concatenate(acc.trade_partial)
        flags[j] = np.concatenate(acc.trade_flags, axis=1).mean(axis=1) if pnl.size else 0.0
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
        roll_fraction=flags[:, 0],
        tested_fraction=flags[:, 1],
        one_sided_fraction=flags[:, 2],
        candidate_ids=tuple(c.id for c in candidates),
        description=desc,
    )
