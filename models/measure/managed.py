"""The income model: managed trades on shared daily market paths, months marked to market.

One model gives every income figure of thetaplan (the objective's expected monthly income, the
chance constraint's monthly samples, P(month >= target), win rates, monthly VaR/CVaR and the
12-month drawdown): trades of each candidate are simulated on the same daily paths of the
underlying's price and implied-vol level (:class:`UnderlyingPaths`, usually filtered historical
simulation from :mod:`models.measure.physical`), opened on a schedule, managed by the strategy's rules and
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
    30-day ATM IV since today times :func:`models.measure.scenarios.term_factor` of the remaining time
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
    ``k = v (v / 2 - sign N^-1(delta))``, :func:`_strike_at_delta`; each trade stops at its
    own first step below 1e-13), and the new leg's
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

Cost of the simulation
    About one option repricing per leg and open trade-step: candidates that share a strategy's
    schedule, step grid, management and leg layout are simulated together (their trades in one
    set of arrays, a Python loop over the steps of a batch of trades); a trade is priced from
    its entry to its close only (steps after the forced exit are never simulated, a closed
    trade leaves the batch); 0DTE condors, which all trade the same days, price each distinct
    leg once per trade and smile segment (:class:`_SharedLegs`), and candidates that differ in
    size and costs only (ES / MES) once per pair of trades. None of this changes a number: a
    candidate's results are those of simulating it alone, bit for bit (the monthly means over
    a (P M, K) array aside, which numpy sums in another order for another K).

Units: money per contract unit of the structure (instrument currency x multiplier, times ``fx``
into the account currency when given); days are trading days unless said; vols are decimals.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
from scipy.special import ndtr, ndtri

from models.errors import ModelError
from models.legs import Right
from models.measure.scenarios import term_factor
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
#: costed like the delta exit (itself costed like a stop by :mod:`optimizer.inputs.income_model`).
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
        the other trades (<= 0); NaN for a candidate without a completed trade
        (``require_trades=False``).
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


@dataclass(frozen=True)
class _Smiles:
    """The smiles of a group's candidates, read per trade with :func:`numpy.interp`'s arithmetic.

    ``nodes[c]``, ``values[c]``: candidate ``c``'s smile (log-moneyness ``ln(K / F)``, IV). The
    padded tables give the same numbers without a call per candidate: with ``m`` the number of
    ``c``'s nodes <= ``k``, the IV is ``slope[c, m] (k - x0[c, m]) + f0[c, m]`` (``m - 1`` the
    segment; slope 0 on the flat ends), which is ``numpy.interp``'s own formula, so both ways
    give identical bits.
    """

    nodes: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    node: np.ndarray  # (K, N) nodes, padded with +inf
    x0: np.ndarray  # (K, N + 1) segment start, log-moneyness
    f0: np.ndarray  # (K, N + 1) IV at the segment start
    slope: np.ndarray  # (K, N + 1) IV per unit of log-moneyness

    @classmethod
    def of(cls, books: Sequence[_Book]) -> _Smiles:
        width = max(b.smile_k.size for b in books)
        node = np.full((len(books), width), np.inf)
        x0 = np.empty((len(books), width + 1))
        f0 = np.empty_like(x0)
        slope = np.zeros_like(x0)
        for c, b in enumerate(books):
            xp, fp = b.smile_k, b.smile_v
            m = xp.size
            node[c, :m] = xp
            x0[c, 0], f0[c, 0] = xp[0], fp[0]
            x0[c, 1 : m + 1], f0[c, 1 : m + 1] = xp, fp
            x0[c, m + 1 :], f0[c, m + 1 :] = xp[-1], fp[-1]
            slope[c, 1:m] = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
        return cls(
            tuple(b.smile_k for b in books), tuple(b.smile_v for b in books), node, x0, f0, slope
        )

    def __call__(self, ci: np.ndarray, k: np.ndarray) -> np.ndarray:
        """IV at log-moneyness ``k`` (..., Q) on the smile of each trade's candidate ``ci`` (Q,).

        Long runs of one candidate (``ci`` is sorted in a batch) call :func:`numpy.interp` per
        run; otherwise the tables are read per element.
        """
        cuts = np.flatnonzero(ci[1:] != ci[:-1]) + 1
        if k.size >= _INTERP_RUN * (cuts.size + 1):
            out = np.empty_like(k)
            for a, b in zip((0, *cuts), (*cuts, ci.size), strict=True):
                c = ci[a]
                out[..., a:b] = np.interp(k[..., a:b], self.nodes[c], self.values[c])
            return out
        m = np.zeros(k.shape, dtype=np.intp)
        for i in range(self.node.shape[1]):
            m += k >= self.node[ci, i]
        idx = m + ci * self.x0.shape[1]
        return self.slope.ravel()[idx] * (k - self.x0.ravel()[idx]) + self.f0.ravel()[idx]


# --------------------------------------------------------------------------------------------
# Candidates simulated together

#: Trades simulated in one batch at most (bounds the per-trade arrays: ~2 MB each).
_MAX_TRADES = 1 << 17
#: The same for 0DTE batches priced per distinct leg (more members share more legs).
_MAX_SHARED = 1 << 16
#: A candidate's 0DTE trades are booked in blocks of this many (the monthly sums add block by
#: block, so the block is part of the result's bits).
_TRADE_BLOCK = 16384
#: Smile reads per candidate above which :func:`numpy.interp` is called per candidate.
_INTERP_RUN = 2048
#: A batch drops its closed trades once 1 / _COMPACT of it has closed.
_COMPACT = 4
#: Leg prices computed per chunk (L x trades): the temporaries stay in the L2 cache.
_PRICE_CHUNK = 1 << 13


@dataclass(frozen=True)
class _Group:
    """Candidates simulated together (K members, L option legs each).

    They share the entry schedule (strategy and spacing), the step grid, the forced exit, the
    management and the leg layout; each member has its own strikes, smile, carry, rate, money
    per unit, costs and path key. Trades of all members are priced in the same arrays.
    """

    members: np.ndarray  # (K,) positions in simulate_managed's candidates
    taus: np.ndarray  # (n + 1,) years to expiry at entry and after each step
    tf: np.ndarray  # (n + 1,) term factor of each step
    forced: int  # the step at which every trade is closed (the last one simulated)
    intraday: bool
    management: Management
    limit_targets: bool
    spacing: float  # trading days between scheduled entries
    offsets: np.ndarray  # (P,) first scheduled entry of each path, trading days
    life_share: float  # 0DTE: sqrt(min(1, life hours / session hours))
    pre_share: float  # 0DTE: share of the session before the entry
    qty: np.ndarray  # (L,)
    sign: np.ndarray  # (L,) +1 call, -1 put
    target_mask: np.ndarray | None  # (L,) legs the profit target applies to
    roll_legs: tuple[int, int] | None
    naked_put: int | None
    qty_underlying: float
    lk: np.ndarray  # (K, L) ln(K / S0)
    strike: np.ndarray  # (K, L) K / S0
    carry: np.ndarray  # (K,)
    money: np.ndarray  # (K,) multiplier x spot
    smiles: _Smiles
    carry_t: np.ndarray  # (K, n + 1) carry x t (t = 1 at expiry, as the pricing reads it)
    disc: np.ndarray  # (K, n + 1) exp(-rate t)
    root_t: np.ndarray  # (n + 1,) sqrt(t)
    costs: tuple[TradeCostInputs, ...]  # (K,)
    entry_cost: np.ndarray  # (2, K) commissions, spread
    exit_cost: np.ndarray  # (3, K, len(EXIT_REASONS)) commissions, spread, slippage
    fx_cost: np.ndarray  # (K,)
    path_row: np.ndarray  # (K,) first row of each member's path key in _GroupPaths
    filter_row: np.ndarray | None  # (K,) first row of each member's entry filter
    shared: _SharedLegs | None = None  # 0DTE without entry filters: legs priced per trade
    twin: np.ndarray | None = None  # (K,) the first member with the same legs, smile and paths


@dataclass(frozen=True)
class _GroupPaths:
    """The market paths of a group's path keys, stacked: row ``g P + p`` is path ``p`` of key
    ``g`` (entry filters likewise, by filter)."""

    n_days: int
    cum_x: np.ndarray  # (G P, D + 1) log spot at the close of day t relative to day 0
    iv_shift: np.ndarray  # (G P, D + 1)
    vix: np.ndarray | None  # (G P, D + 1)
    session_return: np.ndarray  # (G P, D)
    daily_vol: np.ndarray  # (G P, D + 1)
    session_scale: np.ndarray  # (G P,)
    bridge: np.ndarray | None  # (n + 1, G P, D) 0DTE Brownian bridges
    pre: np.ndarray | None  # (G P, D) 0DTE open -> entry normals
    entry_ok: np.ndarray | None  # (F P, D + 1) entry allowed at the close of day t


def _price(
    g: _Group,
    j: int,
    ci: np.ndarray,
    lk: np.ndarray,
    strike: np.ndarray,
    sign: np.ndarray | float,
    x: np.ndarray,
    shift: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Black-Scholes-Merton prices and ``|N(d1)|`` of legs at step ``j``, per share (spot 1 at
    the trade's entry), on each trade's sticky-moneyness smile.

    Parameters
    ----------
    g : _Group
        The group (grid, smiles, carry and discount of each member).
    j : int
        Step (0 = entry); at expiry (``tau = 0``) the intrinsic value and an in-the-money flag.
    ci : np.ndarray
        (Q,) member of each trade.
    lk, strike : np.ndarray
        (L, Q) or (Q,) log strike ``ln(K / S_entry)`` and strike ``K / S_entry``.
    sign : np.ndarray | float
        +1 call, -1 put; broadcasts against ``lk``.
    x, shift : np.ndarray
        (Q,) log spot since the entry and ATM IV change since today (decimal).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        Prices and ``|N(d1)|``, shaped like ``lk``.
    """
    if g.taus[j] <= 0:
        intrinsic = np.maximum(sign * (np.exp(x) - strike), 0.0)
        return intrinsic, (intrinsic > 0).astype(float)
    q = x.size
    per = max(1, _PRICE_CHUNK * q // lk.size)  # trades per chunk
    per_trade = np.ndim(lk) == 1 and np.ndim(sign) == 1  # one leg per trade (the roll's)
    price, n1 = np.empty(lk.shape), np.empty(lk.shape)
    for a in range(0, q, per):
        sl = slice(a, a + per)
        c = ci[sl]
        price[..., sl], n1[..., sl] = _bsm(
            g,
            j,
            lk[..., sl],
            strike[..., sl],
            sign[sl] if per_trade else sign,
            g.carry_t[c, j],
            g.disc[c, j],
            x[sl],
            shift[sl],
            partial(g.smiles, c),
        )
    return price, n1


def _bsm(g: _Group, j: int, lk, strike, sign, carry_t, disc, x, shift, smile):
    """:func:`_price` before expiry on arrays small enough to stay in cache: ``carry_t`` and
    ``disc`` are the trades' carry x t and discount factor at step ``j`` and ``smile(k)`` their
    IV at log-moneyness ``k`` (in place where the arithmetic allows: the same operations in
    the same order, so the same bits)."""
    fwd_ln = x + carry_t
    k = lk - fwd_ln
    v = smile(k)
    v += g.tf[j] * shift  # sigma
    np.maximum(v, _IV_FLOOR, out=v)
    v *= g.root_t[j]
    d1 = np.divide(k, v, out=k)
    np.negative(d1, out=d1)  # -k / v
    d1 += 0.5 * v
    n1 = ndtr(sign * d1)
    d1 -= v
    d1 *= sign
    n2 = ndtr(d1, out=d1)
    n2 *= strike
    price = np.exp(fwd_ln) * n1
    price -= n2
    price *= disc * sign
    return price, n1


def _linear(slope: np.ndarray, x0: np.ndarray, f0: np.ndarray):
    """The IV on smile segments (slope, start, IV at the start): ``numpy.interp``'s arithmetic."""
    return lambda k: slope * (k - x0) + f0


@dataclass(frozen=True)
class _SharedLegs:
    """The distinct option legs of a group's members, for pricing each leg once per trade for
    every member whose smile agrees with it around the leg's log-moneyness.

    A leg's IV is piecewise linear in ``k`` between its member's smile nodes. Between two
    consecutive nodes of *any* holder of the leg (a cell) each holder reads one segment, and
    holders reading the same segment (slope, start, IV) get the same price to the bit: each
    trade prices the leg once per distinct segment of the cell its ``k`` falls in. Used for
    0DTE batches, where every member trades on the same days.
    """

    leg: np.ndarray  # (K, L) distinct leg of each member's leg
    holders: tuple[tuple[tuple[int, int], ...], ...]  # (U,) (member, leg slot) of each leg
    cuts: tuple[np.ndarray, ...]  # (U,) union of the holders' smile nodes
    first: tuple[np.ndarray, ...]  # (U,) (cells + 1,) each cell's first segment in ``seg``
    seg: tuple[np.ndarray, ...]  # (U,) (3, segments) slope, start, IV, cell by cell
    rank: np.ndarray  # (K, L, cells) each member's leg's segment among its cell's

    @classmethod
    def of(cls, g: _Group, books: Sequence[_Book]) -> _SharedLegs:
        k_, n_legs = g.lk.shape
        index: dict[tuple, list[tuple[int, int]]] = {}
        for c in range(k_):
            for i in range(n_legs):
                key = (g.lk[c, i], g.strike[c, i], g.sign[i], g.carry[c], *g.disc[c])
                index.setdefault(key, []).append((c, i))
        holders = list(index.values())
        leg = np.empty((k_, n_legs), dtype=np.int64)
        for u, h in enumerate(holders):
            for c, i in h:
                leg[c, i] = u
        cuts = [np.unique(np.concatenate([books[c].smile_k for c, _ in h])) for h in holders]
        rank = np.zeros((k_, n_legs, max(cu.size for cu in cuts) + 1), dtype=np.int64)
        first, seg = [], []
        sm = g.smiles
        for u, h in enumerate(holders):
            # each holder's segment in each cell (cell b: b of the cuts are <= k)
            m = {
                (c, i): np.concatenate([[0], np.searchsorted(books[c].smile_k, cuts[u], "right")])
                for c, i in h
            }
            start, rows = [0], []
            for b in range(cuts[u].size + 1):
                here: dict[tuple[float, float, float], int] = {}
                for c, i in h:
                    mb = m[c, i][b]
                    triple = (sm.slope[c, mb], sm.x0[c, mb], sm.f0[c, mb])
                    rank[c, i, b] = here.setdefault(triple, len(here))
                rows.extend(here)
                start.append(len(rows))
            first.append(np.array(start))
            seg.append(np.array(rows, dtype=float).T.reshape(3, -1))
        return cls(leg, tuple(map(tuple, holders)), tuple(cuts), tuple(first), tuple(seg), rank)

    def prices(
        self,
        g: _Group,
        j: int,
        x: np.ndarray,
        shift: np.ndarray,
        ci: np.ndarray,
        tk: np.ndarray,
        want_delta: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(L, Q) prices (and ``|N(d1)|``) at step ``j`` of Q trades of members ``ci`` (sorted)
        on trades ``tk`` of a block whose log spots and IV changes are ``x``, ``shift`` (T,);
        each (distinct leg, trade, segment) is priced once."""
        n_legs, q = self.leg.shape[1], ci.size
        price = np.empty((n_legs, q))
        delta = np.empty((n_legs, q)) if want_delta else None
        cuts_at = np.flatnonzero(ci[1:] != ci[:-1]) + 1
        runs = {int(ci[a]): (a, b) for a, b in zip((0, *cuts_at), (*cuts_at, q), strict=True)}
        n_t = x.size
        mark = np.zeros(n_t, dtype=bool)
        cell = np.zeros(n_t, dtype=np.intp)
        at = np.zeros(n_t, dtype=np.intp)  # each trade's first segment in the priced list
        for u, holders in enumerate(self.holders):
            mine = [(c, i, *runs[c]) for c, i in holders if c in runs]
            if not mine:
                continue
            c0, i0 = holders[0]
            mark[:] = False
            for _, _, a, b in mine:
                mark[tk[a:b]] = True
            tl = np.flatnonzero(mark)
            lk, carry_t = g.lk[c0, i0], g.carry_t[c0, j]
            cb = np.searchsorted(self.cuts[u], lk - (x[tl] + carry_t), side="right")
            cell[tl] = cb
            # the segments of each trade's cell, trade by trade; priced where a holder reads one
            lo = self.first[u][cb]
            count = self.first[u][cb + 1] - lo
            ends = np.cumsum(count)
            at[tl] = ends - count
            need = np.zeros(int(ends[-1]), dtype=bool)
            idx = []
            for c, i, a, b in mine:
                t = tk[a:b]
                ix = at[t] + self.rank[c, i][cell[t]]
                need[ix] = True
                idx.append(ix)
            flat = np.flatnonzero(need)
            owner = np.repeat(np.arange(tl.size), count)[flat]  # position in tl
            sz = lo[owner] + (flat - (ends - count)[owner])
            tz = tl[owner]
            slope, x0, f0 = self.seg[u]
            p, d = _bsm(
                g,
                j,
                lk,
                g.strike[c0, i0],
                g.sign[i0],
                carry_t,
                g.disc[c0, j],
                x[tz],
                shift[tz],
                _linear(slope[sz], x0[sz], f0[sz]),
            )
            pos = np.empty(need.size, dtype=np.intp)
            pos[flat] = np.arange(flat.size)
            for (_, i, a, b), ix in zip(mine, idx, strict=True):
                at_p = pos[ix]
                price[i, a:b] = p[at_p]
                if delta is not None:
                    delta[i, a:b] = d[at_p]
        return price, delta


def _strike_at_delta(
    g: _Group,
    j: int,
    ci: np.ndarray,
    delta: np.ndarray,
    sign: np.ndarray,
    x: np.ndarray,
    shift: np.ndarray,
) -> np.ndarray:
    """Log strike (Q,) relative to each trade's entry spot whose ``|N(d1)|`` at step ``j`` is
    ``delta`` (Q,), at log spot ``x`` (Q,) and ATM IV change ``shift`` (Q,).

    Solves ``sign d1(k) = N^-1(delta)``, ``d1 = -k / v + v / 2``, ``v = sigma(k) sqrt(tau)``
    with ``sigma(k)`` the trade's smile at ``k = ln(K / F)``, by fixed-point iteration on
    ``k = v (v / 2 - sign N^-1(delta))`` (the smile's slope times ``sqrt(tau)`` is far below 1,
    so the map contracts); each trade stops at its first step smaller than 1e-13 (60 at most).
    """
    z = ndtri(np.clip(delta, 1e-9, 1.0 - 1e-9))
    tau = float(g.taus[j])
    root = math.sqrt(tau)
    tfs = float(g.tf[j]) * shift
    # each trade's smile as its own rows of the tables (numpy.interp's arithmetic, see _Smiles)
    sm = g.smiles
    node = sm.node[ci]
    base = np.arange(ci.size) * sm.x0.shape[1]
    slope, x0, f0 = sm.slope[ci].ravel(), sm.x0[ci].ravel(), sm.f0[ci].ravel()
    k = np.zeros_like(z)
    todo = np.ones(z.size, dtype=bool)
    for _ in range(60):
        at = base + (k[:, None] >= node).sum(axis=1)
        sigma = slope[at] * (k - x0[at]) + f0[at] + tfs
        v = np.maximum(sigma, _IV_FLOOR) * root
        k_new = v * (0.5 * v - sign * z)
        done = todo & (np.abs(k_new - k) < 1e-13)
        k = np.where(todo, k_new, k)
        todo &= ~done
        if not todo.any():
            break
    return k + x + g.carry[ci] * tau


def _defence_step(
    g: _Group, s: dict, j: int, price: np.ndarray, delta: np.ndarray, x, shift
) -> tuple[np.ndarray, ...]:
    """One step of the strangle delta defence (``roll_untested_delta``, ``close_tested_delta``)
    for the open trades of ``s`` (updated in place).

    Returns the option P&L (legs frozen at their close), the largest ``|N(d1)|`` of the short
    legs open during the step, the step at which no short leg is left open and the first
    tested close (``n + 1`` = not yet).
    """
    mg = g.management
    n = g.taus.size - 1
    never = n + 1
    live = g.taus[j] > 0
    short = np.flatnonzero(g.qty < 0)
    closed = s["closed"]
    roll = s["roll"]
    ct = mg.close_tested_delta
    if ct is not None and live:
        for i in short:
            closed[i, (closed[i] == never) & (delta[i] >= ct)] = j
    if mg.roll_untested_delta is not None and live and j < n:
        ip, ic = g.roll_legs
        now = np.flatnonzero(
            (roll == never) & (np.maximum(delta[ip], delta[ic]) >= mg.roll_untested_delta)
        )
        if now.size:
            u = np.where(delta[ip, now] >= delta[ic, now], ic, ip)  # the untested leg
            roll[now] = j
            s["u"][now] = u
            closed[u, now] = j
            sgn = g.sign[u]
            cw = s["ci"][now]
            # a new leg at the untested leg's entry delta, on the trade's smile at this step
            lk = _strike_at_delta(g, j, cw, s["d0"][u, now], sgn, x[now], shift[now])
            strike = np.exp(lk)
            p_new, _ = _price(g, j, cw, lk, strike, sgn, x[now], shift[now])
            s["new_lk"][now], s["new_strike"][now], s["new_sign"][now] = lk, strike, sgn
            s["new_qty"][now] = g.qty[u]
            s["new_entry"][now] = p_new
            s["new_held"][now] = p_new
            aq = np.abs(g.qty)
            s["roll_share"][now] = aq[u] / aq.sum()
    new_close = s["new_close"]
    new_d = np.zeros(roll.size)
    after = np.flatnonzero(roll < j)
    if after.size:
        p_new, d_new = _price(
            g,
            j,
            s["ci"][after],
            s["new_lk"][after],
            s["new_strike"][after],
            s["new_sign"][after],
            x[after],
            shift[after],
        )
        if ct is not None and live:
            new_close[after[(new_close[after] == never) & (d_new >= ct)]] = j
        open_new = j <= new_close[after]
        s["new_held"][after] = np.where(open_new, p_new, s["new_held"][after])
        new_d[after] = np.where(open_new, d_new, 0.0)
        s["new_last"][after] = d_new
    new_cum = np.where(roll <= j, s["new_qty"] * (s["new_held"] - s["new_entry"]), 0.0)
    held = np.where(j <= closed, price, s["held"])
    s["held"] = held
    cum = (g.qty[:, None] * (held - s["p0"])).sum(axis=0) + new_cum
    open_d = np.where(j <= closed[short], delta[short], 0.0)
    dmax = np.maximum(open_d.max(axis=0), new_d)
    rolled = roll < never
    all_closed = closed[short].max(axis=0)
    all_closed = np.where(rolled, np.maximum(all_closed, new_close), all_closed)
    by_test = closed[short].copy()
    if rolled.any():  # the untested leg was closed by the roll, not as the tested side
        w = np.flatnonzero(rolled)
        by_test[np.searchsorted(short, s["u"][w]), w] = never
    tested_at = np.minimum(by_test.min(axis=0), new_close)
    return cum, dmax, all_closed, tested_at


def _run(
    g: _Group,
    gp: _GroupPaths,
    ci: np.ndarray,
    pr: np.ndarray,
    e: np.ndarray,
    warmup: int,
    months: int,
    tk: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Simulate Q trades of group members ``ci`` opened on days ``e`` of paths ``pr`` (all (Q,)).

    Step by step from the entry to the forced exit, marking each trade to market as it goes
    (month sums per trade for trades held over days, the whole trade's sum for 0DTE). A closed
    trade's later marks are never used, so it leaves the step's arrays (the batch is compacted
    once ``1 / _COMPACT`` of it has closed). ``tk`` (Q,): each trade's position in its 0DTE
    block when every member of the batch trades the whole block (legs priced per distinct
    trade by :class:`_SharedLegs`).

    Returns the per-trade outputs booked by :func:`_record`: close day, gross P&L,
    reason, days held, costs by component, the defence's flags and the marks' sums.
    """
    mg = g.management
    n = g.taus.size - 1
    last = g.forced
    q = ci.size
    never = n + 1
    d_all = gp.n_days
    sign = g.sign[:, None]
    qty = g.qty[:, None]
    short = g.qty < 0
    mask = g.target_mask
    open_short = short if mask is None else short & ~mask  # after a partial close
    defence = mg.roll_untested_delta is not None or mg.close_tested_delta is not None
    watch_delta = mg.delta_exit is not None and short.any()
    target_p = mg.profit_target
    row = g.path_row[ci] + pr
    frac = np.arange(n + 1) / n
    # the open trades' state (last axis: trades)
    s: dict[str, np.ndarray] = {
        "id": np.arange(q),
        "ci": ci,
        "gone": np.zeros(q, dtype=bool),  # closed, not yet compacted away
        "prev": np.zeros(q),  # the mark after the previous step (0 at the entry)
    }
    s["strike"] = g.strike[ci].T
    if not (g.intraday and tk is not None and g.shared is not None):  # priced per trade
        s["lk"] = g.lk[ci].T
    active = None  # (L, Q) legs traded (0DTE directional variant)
    shared = None  # the shared-leg pricer, for a batch whose members all trade the same days
    if g.intraday:
        day = e - 1
        scale = g.money[ci] * np.exp(gp.cum_x[row, day])
        # the batch's distinct trades: the first n_t pairs (the block, with ``tk``), else each
        if tk is None:
            tk = np.arange(q)
        else:
            shared = g.shared
        n_t = int(tk.max()) + 1
        rt, dt = row[:n_t], day[:n_t]
        if mg.directional_move is not None:
            # the session's move split at the entry by a Brownian bridge: open -> entry is the
            # first share a of the session, entry -> close the rest (they add to the session)
            a = g.pre_share
            sess = gp.session_return[rt, dt]
            sig = gp.daily_vol[rt, dt] * gp.session_scale[rt]
            pre = a * sess + math.sqrt(a * (1.0 - a)) * sig * gp.pre[rt, dt]
            move = sess - pre
            calls = g.sign > 0
            act = np.ones((calls.size, n_t), dtype=bool)
            act[np.ix_(~calls, pre > mg.directional_move)] = False  # up: the call side
            act[np.ix_(calls, pre < -mg.directional_move)] = False  # down: the put side
            active = act[:, tk]
            s["active"] = active
        else:
            move = gp.session_return[rt, dt] * g.life_share
        vol = gp.daily_vol[rt, dt] * gp.session_scale[rt] * g.life_share
        s0 = gp.iv_shift[rt, dt]
        ds = gp.iv_shift[rt, e[:n_t]] - s0
        at_day = rt * gp.bridge.shape[2] + dt
        s["tk"] = tk
        s["inc"] = np.zeros(q)  # the trade's P&L, summed step by step
    else:
        scale = g.money[ci] * np.exp(gp.cum_x[row, e])
        s["row"], s["e"], s["x0"] = row, e, gp.cum_x[row, e]
        # month sums of the mark increments: slot w is month (e - warmup) // 21 + w
        span = (last - 1) // TRADING_DAYS_PER_MONTH + 2
        s["msum"] = np.zeros((span, q))
        s["m0"] = (e - warmup) // TRADING_DAYS_PER_MONTH

    s["scale"] = scale
    block: dict[str, np.ndarray] = {}  # 0DTE: log spot and IV change of the distinct trades
    if g.twin is not None and shared is None:
        # a member's twin (same legs, smile and paths) opens and closes the same trades: each
        # pair is priced as its twin's pair (its source; itself when it has no twin)
        code = (ci * g.offsets.size + pr) * (gp.n_days + 2) + e
        want = (g.twin[ci] * g.offsets.size + pr) * (gp.n_days + 2) + e
        order = np.argsort(code, kind="stable")
        at = np.minimum(np.searchsorted(code[order], want), q - 1)
        s["src"] = np.where(code[order][at] == want, order[at], np.arange(q))

    def path(j: int) -> tuple[np.ndarray, np.ndarray]:
        """Log spot since the entry and ATM IV change of the open trades after step ``j``."""
        if g.intraday:
            block["x"] = frac[j] * move + vol * gp.bridge[j].ravel()[at_day]
            block["shift"] = s0 + frac[j] * ds
            return block["x"][s["tk"]], block["shift"][s["tk"]]
        cols = np.minimum(s["e"] + j, d_all)
        return gp.cum_x[s["row"], cols] - s["x0"], gp.iv_shift[s["row"], cols]

    def legs(j: int, x, shift) -> tuple[np.ndarray, np.ndarray | None]:
        want_delta = watch_delta or defence or j == n
        if shared is not None and g.taus[j] > 0:
            price, dl = shared.prices(
                g, j, block["x"], block["shift"], s["ci"], s["tk"], want_delta
            )
        elif "src" in s:
            src = s["src"]
            lead = src == np.arange(src.size)
            own = np.flatnonzero(lead)
            price, dl = _price(
                g, j, s["ci"][own], s["lk"][:, own], s["strike"][:, own], sign, x[own], shift[own]
            )
            at = (np.cumsum(lead) - 1)[src]
            price, dl = price[:, at], dl[:, at]
        else:
            lk = s.get("lk")  # (not read at expiry)
            price, dl = _price(g, j, s["ci"], lk, s["strike"], sign, x, shift)
        if "active" in s:  # legs not traded have no value and no delta
            price = price * s["active"]
            dl = None if dl is None else dl * s["active"]
        return price, dl

    def underlying(x) -> np.ndarray | None:
        return g.qty_underlying * (np.exp(x) - 1.0) if g.qty_underlying else None

    # the entry: reference premium (per path: it moves with the vol level)
    x, shift = path(0)
    p0, d0 = legs(0, x, shift)
    contrib = qty * p0
    under = underlying(x)
    if mask is None:
        vr0 = contrib.sum(axis=0)
        s["vr0"] = vr0 if under is None else vr0 + under
        s["ref"] = np.abs(s["vr0"])
    else:
        vg0 = contrib[mask].sum(axis=0)
        vr0 = contrib[~mask].sum(axis=0)
        s["vr0"] = vr0 if under is None else vr0 + under
        s["vg0"], s["ref_g"] = vg0, np.abs(vg0)
        s["ref"] = np.abs(vg0 + s["vr0"])
        s["f1"] = np.full(q, never)  # the target legs' close step
        limit = target_p is not None and g.limit_targets
        s["frozen"] = np.full(q, target_p) * s["ref_g"] if limit else np.zeros(q)
    if defence:
        s["p0"], s["d0"], s["held"] = p0, d0, p0
        s["closed"] = np.full(p0.shape, never)
        s["roll"] = np.full(q, never)
        s["u"] = np.zeros(q, dtype=np.int64)
        for name in ("new_lk", "new_strike", "new_sign", "new_qty", "new_entry", "new_held"):
            s[name] = np.zeros(q)
        s["new_last"] = np.zeros(q)  # the new leg's |N(d1)| at the latest step
        s["new_close"] = np.full(q, never)
        s["roll_share"] = np.zeros(q)

    # per trade, filled at its close
    f = np.zeros(q, dtype=np.int64)
    reason = np.zeros(q, dtype=np.int64)
    realized = np.zeros(q)
    partial = np.zeros(q, dtype=bool)
    rolled = np.zeros(q, dtype=bool)
    tested = np.zeros(q, dtype=bool)
    roll_at = np.full(q, never)
    roll_share = np.zeros(q)
    u_leg = np.zeros(q, dtype=np.int64)
    itm = np.zeros((g.qty.size, q))
    new_itm = np.zeros(q)
    booked = np.zeros(q) if g.intraday else np.zeros_like(s["msum"])
    for j in range(1, last + 1):
        n_gone = np.count_nonzero(s["gone"])
        if n_gone == s["gone"].size:
            break
        if n_gone and _COMPACT * n_gone >= s["gone"].size:
            keep = ~s["gone"]
            s = {name: arr[..., keep] for name, arr in s.items()}
            if "src" in s:  # positions after the compaction (a pair whose source left: itself)
                new = np.cumsum(keep) - 1
                s["src"] = np.where(keep[s["src"]], new[s["src"]], np.arange(s["src"].size))
        x, shift = path(j)
        price, dl = legs(j, x, shift)
        size = x.size
        under = underlying(x)
        tested_at = None
        dmax = None
        if defence:
            cum, dmax, all_closed, tested_at = _defence_step(g, s, j, price, dl, x, shift)
            if under is not None:
                cum = cum + under
        elif mask is None:
            vr = (qty * price).sum(axis=0)
            if under is not None:
                vr = vr + under
            cum = vr - s["vr0"]
            if watch_delta:
                dmax = dl[short].max(axis=0)
        else:
            contrib = qty * price
            vg = contrib[mask].sum(axis=0)
            vr = contrib[~mask].sum(axis=0)
            if under is not None:
                vr = vr + under
            pg = vg - s["vg0"]
            if target_p is not None:
                ref_g = s["ref_g"]
                hit1 = (s["f1"] == never) & (pg >= target_p * ref_g) & (ref_g > 0)
                s["f1"][hit1] = j
                if not g.limit_targets:
                    s["frozen"][hit1] = pg[hit1]
            after = s["f1"] <= j
            cum = np.where(after, s["frozen"], pg) + (vr - s["vr0"])
            if watch_delta:
                # legs closed by the partial target no longer count for the delta rule
                rest = dl[open_short].max(axis=0) if open_short.any() else np.zeros(size)
                dmax = np.where(after, rest, dl[short].max(axis=0))
        # the exit rules at this step's close
        ref = s["ref"]
        hit = np.full(size, j >= g.forced)
        stop_hit = delta_hit = target_hit = vix_hit = dist_hit = done_hit = None
        if mg.stop_loss is not None:
            stop_hit = (cum <= -mg.stop_loss * ref) & (ref > 0)
            hit |= stop_hit
        if watch_delta and g.taus[j] > 0:  # (no delta at expiry)
            delta_hit = dmax >= mg.delta_exit
            hit |= delta_hit
        if mask is None and target_p is not None:
            target_hit = (cum >= target_p * ref) & (ref > 0)
            hit |= target_hit
        if mg.vix_exit is not None and not g.intraday:  # a 0DTE trade ends before the close
            vix_hit = gp.vix[s["row"], np.minimum(s["e"] + j, d_all)] > mg.vix_exit
            hit |= vix_hit
        if mg.close_distance is not None:
            i_n = g.naked_put
            dist_hit = np.exp(x) * (1.0 - mg.close_distance) <= s["strike"][i_n]
            if mask is not None and mask[i_n]:  # watched while the naked puts are open
                dist_hit &= j < s["f1"]
            hit |= dist_hit
        if defence:  # every short leg closed by the defence: the trade is over
            done_hit = j >= all_closed
            hit |= done_hit
        hit &= ~s["gone"]
        mark = cum * s["scale"]
        closing = np.flatnonzero(hit)
        if closing.size:
            ids = s["id"][closing]
            rs = np.full(ids.size, _EXPIRY if j == n else _TIME)
            for flag, code in (
                (done_hit, _TESTED),
                (dist_hit, _DISTANCE),
                (vix_hit, _VIX),
                (delta_hit, _DELTA),
                (stop_hit, _STOP),
            ):
                if flag is not None:
                    rs = np.where(flag[closing], code, rs)
            real = cum[closing]
            if target_hit is not None:
                is_t = target_hit[closing]
                rs = np.where(is_t, _TARGET, rs)
                if g.limit_targets:
                    real = np.where(is_t, target_p * ref[closing], real)
            runout = (rs == _TIME) | (rs == _EXPIRY)
            if mask is not None:
                part = s["f1"][closing] <= j
                partial[ids] = part
                rs = np.where(part & runout, _TARGET, rs)
            if defence:
                rolled[ids] = s["roll"][closing] < j
                tst = tested_at[closing] < j
                tested[ids] = tst
                rs = np.where(tst & runout, _TESTED, rs)
                roll_at[ids] = s["roll"][closing]
                roll_share[ids] = s["roll_share"][closing]
                u_leg[ids] = s["u"][closing]
            if j == n:  # held to expiry: legs that finish in the money are exercised
                it = dl[:, closing]
                if mask is not None:  # legs closed by the partial target are not exercised
                    it = np.where(mask[:, None] & (s["f1"][closing] <= n)[None, :], 0.0, it)
                if defence:  # legs closed by the defence are not; the new leg may be
                    it = np.where(s["closed"][:, closing] <= n, 0.0, it)
                    fresh = (s["roll"] < never) & (s["new_close"] == never)
                    new_itm[ids] = np.where(fresh, s["new_last"], 0.0)[closing]
                itm[:, ids] = it
            f[ids] = j
            reason[ids] = rs
            realized[ids] = real
            mark[closing] = real * s["scale"][closing]
        # marks to market: the step's increment into the trade's sum (0DTE) or month
        step = mark - s["prev"]
        s["prev"] = mark
        if g.intraday:
            s["inc"] = s["inc"] + step
        else:
            m = (s["e"] + j - warmup - 1) // TRADING_DAYS_PER_MONTH
            ok = np.flatnonzero((s["e"] + j > warmup) & (m < months))
            s["msum"][m[ok] - s["m0"][ok], ok] += step[ok]
        if closing.size:
            booked[..., ids] = (s["inc"] if g.intraday else s["msum"])[..., closing]
            s["gone"] = s["gone"] | hit

    share = np.ones(q)
    if active is not None:  # costs of the legs traded: their share of the contracts
        aq = np.abs(g.qty)
        share = (aq @ active) / aq.sum()
    c_exit = g.exit_cost[0][ci, reason] * share
    if np.any(f == n):
        cuts = np.flatnonzero(ci[1:] != ci[:-1]) + 1
        for a, b in zip((0, *cuts), (*cuts, q), strict=True):
            fees = g.costs[ci[a]].exercise_fee
            if not fees:
                continue
            fee = np.asarray(fees, dtype=float)
            at_n = f[a:b] == n
            c_exit[a:b] = c_exit[a:b] + np.where(at_n, fee @ itm[:, a:b], 0.0)
            if defence:
                c_exit[a:b] = c_exit[a:b] + np.where(at_n, fee[u_leg[a:b]] * new_itm[a:b], 0.0)
    gross_trade = realized * scale
    out = {
        "ci": ci,
        "pr": pr,
        "e": e,
        "booked": booked,
        "close_day": e if g.intraday else e + f,
        "gross": gross_trade,
        "reason": reason,
        "held": (g.taus[0] - g.taus[f]) * 365.0,
        "partial": partial,
        "c_exit": c_exit,
        "s_exit": g.exit_cost[1][ci, reason] * share,
        "slip": g.exit_cost[2][ci, reason] * share,
        "fx": g.fx_cost[ci] * np.abs(gross_trade),
        "share": share,
        "rolled": rolled,
        "tested": tested,
        "one_sided": ~active.all(axis=0) if active is not None else np.zeros(q, dtype=bool),
    }
    if not g.intraday:
        out["m0"] = (e - warmup) // TRADING_DAYS_PER_MONTH
    if defence:
        # the roll's two extra fills (close the untested leg, sell the new one), each costed as
        # the leg's share of the structure's entry cost
        w = 2.0 * np.where(rolled, roll_share, 0.0)
        out["roll_day"] = e + np.minimum(roll_at, n)
        out["c_roll"] = w * g.entry_cost[0][ci]
        out["s_roll"] = w * g.entry_cost[1][ci]
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


# --------------------------------------------------------------------------------------------
# Booking


@dataclass
class _Acc:
    """Accumulators of a group's K members (monthly arrays (K, P, M); trades per batch)."""

    gross: np.ndarray  # (K, P, M)
    costs: np.ndarray  # (4, K, P, M)
    opened: np.ndarray  # (K,) trades opened in the reported months
    open_days: list[float]  # (K,) calendar days held by those trades
    trades: list[dict[str, np.ndarray]] = field(default_factory=list)

    def by_member(self) -> list[dict[str, np.ndarray]]:
        """Completed trades of each member, in the order simulated.

        Consumes :attr:`trades`: each record is gathered, reordered by member and its batches
        released before the next one, so the batches and their reordered copy never all live
        at once (phase 4: ~30 MiB less at the income model's peak).
        """
        k = self.opened.size
        if not self.trades:
            return [{} for _ in range(k)]
        ci = np.concatenate([t["ci"] for t in self.trades], axis=-1)
        order = np.argsort(ci, kind="stable")
        ends = np.cumsum(np.bincount(ci, minlength=k))
        starts = np.concatenate([[0], ends[:-1]])
        del ci
        cat: dict[str, np.ndarray] = {}
        for name in list(self.trades[0]):
            cat[name] = np.concatenate([t.pop(name) for t in self.trades], axis=-1)[..., order]
        self.trades.clear()
        return [
            {name: arr[..., a:b] for name, arr in cat.items()}
            for a, b in zip(starts, ends, strict=True)
        ]


def _month_of(day: np.ndarray, warmup: int, months: int) -> np.ndarray:
    """Month index of trading day ``day`` (1-based), -1 outside the reported months."""
    m = (day - warmup - 1) // TRADING_DAYS_PER_MONTH
    return np.where((day > warmup) & (m < months), m, -1)


def _book_unique(arr: np.ndarray, slot, day, values, warmup: int, months: int) -> None:
    """Add ``values`` at (slot = member x path, month of ``day``) into ``arr`` (K, P, M), each
    bin at most once (one trade per slot in the batch)."""
    mi = _month_of(day, warmup, months)
    ok = mi >= 0
    arr.reshape(-1)[slot[ok] * months + mi[ok]] += values[ok]


def _book_block(arr: np.ndarray, slot, day, values, warmup: int, months: int) -> None:
    """Add ``values`` at (slot = member x path, month of ``day``) into ``arr`` (K, P, M): each
    bin's values summed in order (``np.bincount``) and then added, over the bins of the
    batch's members only."""
    mi = _month_of(day, warmup, months)
    ok = mi >= 0
    if np.any(ok):
        flat = slot[ok] * months + mi[ok]
        lo, hi = int(flat.min()), int(flat.max()) + 1
        arr.reshape(-1)[lo:hi] += np.bincount(flat - lo, weights=values[ok], minlength=hi - lo)


def _record(acc: _Acc, g: _Group, out: dict, warmup: int, months: int, d_all: int) -> None:
    """Book one batch of trades into the accumulators.

    Sums into a (member, path, month) bin follow the trades' order, as the monthly sums of one
    candidate simulated alone: trades held over days have one trade per (member, path) in a
    batch, so each bin gets one value; 0DTE trades of a block are summed by ``np.bincount``.
    """
    _, n_paths, _ = acc.gross.shape
    ci, pr, e = out["ci"], out["pr"], out["e"]
    slot = ci * n_paths + pr
    close = out["close_day"]
    book = _book_block if g.intraday else _book_unique
    if g.intraday:
        book(acc.gross, slot, e, out["booked"], warmup, months)
    else:
        gross = acc.gross.reshape(-1)
        for w, values in enumerate(out["booked"]):
            m = out["m0"] + w
            ok = (m >= 0) & (m < months)
            gross[slot[ok] * months + m[ok]] += values[ok]
    c_entry = g.entry_cost[0][ci] * out["share"]
    s_entry = g.entry_cost[1][ci] * out["share"]
    book(acc.costs[0], slot, e, c_entry, warmup, months)
    book(acc.costs[1], slot, e, s_entry, warmup, months)
    book(acc.costs[0], slot, close, out["c_exit"], warmup, months)
    book(acc.costs[1], slot, close, out["s_exit"], warmup, months)
    book(acc.costs[2], slot, close, out["slip"], warmup, months)
    book(acc.costs[3], slot, close, out["fx"], warmup, months)
    total = c_entry + s_entry + out["c_exit"] + out["s_exit"] + out["slip"] + out["fx"]
    if "roll_day" in out:
        book(acc.costs[0], slot, out["roll_day"], out["c_roll"], warmup, months)
        book(acc.costs[1], slot, out["roll_day"], out["s_roll"], warmup, months)
        total = total + out["c_roll"] + out["s_roll"]
    done = close <= d_all
    acc.trades.append(
        {
            "ci": ci[done],
            "pnl": (out["gross"] - total)[done],
            "gross": out["gross"][done],
            "days": out["held"][done],
            "reason": out["reason"][done],
            "partial": out["partial"][done],
            "flags": np.stack([out["rolled"], out["tested"], out["one_sided"]])[:, done],
        }
    )
    reported = _month_of(e, warmup, months) >= 0
    acc.opened += np.bincount(ci[reported], minlength=acc.opened.size)
    held, cr = out["held"][reported], ci[reported]
    cuts = np.flatnonzero(cr[1:] != cr[:-1]) + 1
    for a, b in zip((0, *cuts), (*cuts, cr.size), strict=True):
        if b > a:  # a member's days held summed as one array (numpy's pairwise sum)
            acc.open_days[cr[a]] += float(held[a:b].sum())


# --------------------------------------------------------------------------------------------
# Schedules


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


def _simulate_group(g: _Group, gp: _GroupPaths, warmup: int, months: int) -> _Acc:
    """Simulate every unit slot of the group's members on every path (see the module notes)."""
    k, p_all, d_all = g.members.size, g.offsets.size, gp.n_days
    acc = _Acc(
        gross=np.zeros((k, p_all, months)),
        costs=np.zeros((4, k, p_all, months)),
        opened=np.zeros(k, dtype=np.int64),
        open_days=[0.0] * k,
    )
    if g.intraday:
        for ci, pr, e, tk in _intraday_batches(g, gp):
            out = _run(g, gp, ci, pr, e, warmup, months, tk)
            _record(acc, g, out, warmup, months, d_all)
        return acc
    rows = np.arange(p_all)
    per_batch = max(1, _MAX_TRADES // p_all)
    for c0 in range(0, k, per_batch):
        cs = np.arange(c0, min(k, c0 + per_batch))
        off = np.broadcast_to(g.offsets[None, :], (cs.size, p_all))
        frow = None if g.filter_row is None else g.filter_row[cs][:, None] + rows[None, :]
        entry = _allowed(gp, frow, np.rint(off).astype(np.int64), off, g.spacing)
        while True:  # one trade of each (member, path) slot per batch
            live = entry <= d_all - 1
            if not np.any(live):
                break
            cc, pp = np.nonzero(live)
            out = _run(g, gp, cs[cc], pp, entry[cc, pp], warmup, months)
            _record(acc, g, out, warmup, months, d_all)
            close = out["close_day"]
            o = off[cc, pp]
            # the first scheduled entry strictly after the close
            i = np.floor((close - o) / g.spacing) + 1
            nxt = np.rint(o + i * g.spacing).astype(np.int64)
            nxt = np.where(nxt <= close, np.rint(o + (i + 1) * g.spacing).astype(np.int64), nxt)
            entry[cc, pp] = np.maximum(nxt, close + 1)  # a schedule denser than daily: next day
            entry = _allowed(gp, frow, entry, off, g.spacing)
    return acc


def _intraday_batches(g: _Group, gp: _GroupPaths):
    """(members, paths, entry days, trades) of the group's 0DTE trades, batch by batch: each
    member's trades are the schedule itself (a trade closes on its entry day), booked in blocks
    of ``_TRADE_BLOCK``; a batch holds one block of several members. Without entry filters
    every member trades the same days: ``trades`` (Q,) is then each pair's position in the
    block (the members' legs are priced per distinct trade), else None."""
    p_all, d_all = g.offsets.size, gp.n_days
    rows = np.arange(p_all)
    n_max = int(math.ceil(d_all / g.spacing)) + 1
    days = np.rint(1 + g.offsets[None, :] + g.spacing * np.arange(n_max)[:, None]).astype(np.int64)
    days = np.maximum.accumulate(days, axis=0)
    keep = np.concatenate([np.ones((1, p_all), bool), np.diff(days, axis=0) > 0]) & (days <= d_all)
    paths_of = np.broadcast_to(rows[None, :], days.shape)
    shared = (paths_of[keep], days[keep])
    k = g.members.size
    per_batch = max(1, (_MAX_TRADES if g.shared is None else _MAX_SHARED) // _TRADE_BLOCK)
    for c0 in range(0, k, per_batch):
        lists = []
        for c in range(c0, min(k, c0 + per_batch)):
            if g.filter_row is None:
                lists.append(shared)
            else:  # filters read at the previous close
                ok = (
                    keep & gp.entry_ok[g.filter_row[c] + rows[None, :], np.minimum(days, d_all) - 1]
                )
                lists.append((paths_of[ok], days[ok]))
        n_blocks = max(-(-pr.size // _TRADE_BLOCK) for pr, _ in lists)
        for a in range(0, n_blocks * _TRADE_BLOCK, _TRADE_BLOCK):
            ci = np.concatenate(
                [np.full(pr[a : a + _TRADE_BLOCK].size, c0 + i) for i, (pr, _) in enumerate(lists)]
            )
            if ci.size:
                pr = np.concatenate([pr[a : a + _TRADE_BLOCK] for pr, _ in lists])
                e = np.concatenate([e[a : a + _TRADE_BLOCK] for _, e in lists])
                tk = None
                if g.filter_row is None:
                    n_t = shared[0][a : a + _TRADE_BLOCK].size
                    tk = np.tile(np.arange(n_t), len(lists))
                yield ci, pr, e, tk


def _allowed(gp: _GroupPaths, frow, entry: np.ndarray, offsets, spacing: float) -> np.ndarray:
    """Move each slot's next entry past scheduled days the entry filters block (VIX, IV rank):
    the slot waits for the next scheduled entry. ``frow``: each slot's filter row (or None)."""
    if frow is None:
        return entry
    d_all = gp.n_days
    while True:
        blocked = (entry <= d_all - 1) & ~gp.entry_ok[frow, np.minimum(entry, d_all)]
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
    twice = np.zeros(iv.shape, dtype=np.int16)  # 2 x (closes below + half the ties), exact
    count = np.minimum(np.arange(iv.shape[1]), window).astype(float)
    for lag in range(1, min(window, iv.shape[1] - 1) + 1):
        now, then = iv[:, lag:], iv[:, :-lag]
        acc = twice[:, lag:]
        acc += then < now
        acc += then <= now
    with np.errstate(invalid="ignore", divide="ignore"):
        return (twice * 0.5) / count[None, :]


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
    entry_phase: float | None = None,
    require_trades: bool = True,
) -> ManagedResult:
    """Simulate managed trades of K candidates on shared paths and book them into months.

    Candidates that share a strategy's schedule, step grid, management and leg layout are
    simulated together (their trades priced in the same arrays); each candidate's results are
    those of simulating it alone.

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
    entry_phase : float | None
        Phase of every strategy's schedule on every path, in ``[0, 1)`` of the entry spacing
        (0: the first scheduled entry at the close of day 0, then every ``21 /
        entries_per_month`` days); ``None`` (default) draws it once per path and strategy. A
        backtest fixes it so a monthly trade opens at the close its month starts from.
    require_trades : bool
        A candidate without a completed trade on the paths is an error (default: its trade
        statistics would be undefined); ``False`` gives it NaN trade statistics and its booked
        months (one real path in a backtest, where the entry filters may block every entry).

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
    if entry_phase is not None and not (0.0 <= float(entry_phase) < 1.0):
        raise ModelError(f"entry_phase must be in [0, 1), got {entry_phase}")
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
    market = _Market(paths, seed, n_paths, n_days, intraday_steps, entry_phase)
    # every candidate's fixed inputs (validated in input order), grouped for the simulation
    setups = []
    groups: dict[tuple, list[int]] = {}
    for j, c in enumerate(candidates):
        mg = management[j]
        spacing = TRADING_DAYS_PER_MONTH / float(entries[j])
        market.offsets(c.strategy)
        if c.t < _DAY:
            market.bridge(keys[j], mg.directional_move is not None)
        fkey = market.entry_filter(keys[j], mg, c.id)
        book = _Book.of(c, mg)
        taus = time_grid(c, intraday_steps)
        forced = _forced_exit_step(c, mg, taus)
        tc = (costs[j] if costs is not None else None) or TradeCostInputs()
        setups.append((book, taus, forced, spacing, tc, fkey))
        mask = None if book.target_mask is None else tuple(book.target_mask)
        layout = (tuple(book.qty), tuple(book.sign[:, 0]), mask, book.roll_legs, book.naked_put)
        gkey = (c.strategy, spacing, float(c.t), forced, mg, layout, book.qty_underlying)
        groups.setdefault(gkey, []).append(j)
    results: dict[int, tuple[_Acc, int, dict[str, np.ndarray]]] = {}
    for members in groups.values():
        if candidates[members[0]].t < _DAY:  # members sharing legs in the same batches
            members = sorted(members, key=lambda j: _leg_order(keys[j], setups[j][0]))
        grp, gp = _group(members, candidates, setups, keys, mult, management, market, limit_targets)
        acc = _simulate_group(grp, gp, warmup, months)
        for i, (j, trades) in enumerate(zip(members, acc.by_member(), strict=True)):
            results[j] = (acc, i, trades)
    gross = np.empty((n_paths * months, k))
    cost_arr = np.empty((4, n_paths * months, k))
    stats = np.zeros((k, 8))
    exits = np.zeros((k, len(EXIT_REASONS)))
    flags = np.zeros((k, 3))
    tpm = np.zeros(k)
    occupancy = np.zeros(k)
    for j, c in enumerate(candidates):
        acc, i, trades = results[j]
        f = float(fx_arr[j])
        gross[:, j] = acc.gross[i].reshape(-1) * f
        cost_arr[:, :, j] = acc.costs[:, i].reshape(4, -1) * f
        if not trades or trades["pnl"].size == 0:
            if require_trades:
                raise ModelError(f"candidate {c.id}: no trade completed on the paths")
            # one real path (a backtest month): no completed trade is a fact, not an error;
            # its months are what was booked (nothing, or open trades' marks and costs)
            stats[j] = np.nan
            tpm[j] = int(acc.opened[i]) / (n_paths * months)
            occupancy[j] = min(1.0, acc.open_days[i] / (n_paths * months * 365.25 / 12.0))
            continue
        pnl = trades["pnl"] * f
        gr = trades["gross"] * f
        days = trades["days"]
        reason = trades["reason"].astype(int)
        partial = trades["partial"]
        flags[j] = trades["flags"].mean(axis=1)
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
        tpm[j] = int(acc.opened[i]) / (n_paths * months)
        occupancy[j] = min(1.0, acc.open_days[i] / (n_paths * months * 365.25 / 12.0))
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


def _leg_order(key: str, book: _Book) -> tuple:
    """Sort key putting candidates with the same short legs next to each other."""
    return (key, tuple(book.lk[book.short]), tuple(book.lk))


class _Market:
    """The simulation's shared random inputs, built on first use and kept for every candidate:
    entry phases per strategy, 0DTE bridges per path key, entry filters, cumulative returns."""

    def __init__(
        self,
        paths,
        seed: int,
        n_paths: int,
        n_days: int,
        intraday_steps: int,
        phase: float | None = None,
    ):
        self.paths = paths
        self.phase = phase
        self.seed = seed
        self.n_paths = n_paths
        self.n_days = n_days
        self.steps = intraday_steps
        self._offsets: dict[str, np.ndarray] = {}
        self._bridges: dict[str, np.ndarray] = {}
        self._pre: dict[str, np.ndarray] = {}
        self._filters: dict[tuple, np.ndarray | None] = {}
        self._cum_x: dict[str, np.ndarray] = {}

    def offsets(self, strategy: str) -> np.ndarray:
        """(P,) entry phase of each path in [0, 1), drawn once per strategy."""
        if strategy not in self._offsets:
            if self.phase is not None:
                self._offsets[strategy] = np.full(self.n_paths, float(self.phase))
            else:
                g = _generator(self.seed, 1, _key(strategy))
                self._offsets[strategy] = g.random(self.n_paths)
        return self._offsets[strategy]

    def bridge(self, key: str, pre: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """0DTE bridges of path key ``key`` and (with ``pre``) its open -> entry normals."""
        bkey = f"{key}|{self.steps}"
        if bkey not in self._bridges:
            self._bridges[bkey] = _bridge(
                _generator(self.seed, 2, _key(bkey)), self.steps, self.n_paths, self.n_days
            )
        if pre and bkey not in self._pre:
            # the open -> entry bridge point of each day (its own stream: adding the variant
            # changes no other draw)
            g = _generator(self.seed, 3, _key(bkey))
            self._pre[bkey] = g.standard_normal((self.n_paths, self.n_days))
        return self._bridges[bkey], self._pre.get(bkey)

    def entry_filter(self, key: str, mg: Management, cid: str) -> tuple | None:
        """The key of the entry filter of ``mg`` on path key ``key`` (None = no filter)."""
        fkey = (key, mg.vix_exit, mg.entry_iv_rank)
        if fkey not in self._filters:
            self._filters[fkey] = _entry_filter(self.paths[key], mg, cid)
        return None if self._filters[fkey] is None else fkey

    def cum_x(self, key: str) -> np.ndarray:
        """(P, D + 1) log spot at the close of day ``t`` relative to day 0."""
        if key not in self._cum_x:
            lr = self.paths[key].log_return
            self._cum_x[key] = np.concatenate(
                [np.zeros((self.n_paths, 1)), np.cumsum(lr, axis=1)], axis=1
            )
        return self._cum_x[key]


def _group(
    members: list[int],
    candidates: Sequence[Candidate],
    setups: list,
    keys: list[str],
    mult: np.ndarray,
    management: Sequence[Management],
    market: _Market,
    limit_targets: bool,
) -> tuple[_Group, _GroupPaths]:
    """The :class:`_Group` of candidates ``members`` and their stacked paths."""
    c0 = candidates[members[0]]
    book0, taus, forced, spacing, _, _ = setups[members[0]]
    mg = management[members[0]]
    books = [setups[j][0] for j in members]
    tcs = tuple(setups[j][4] for j in members)
    # path keys and entry filters of the members, stacked
    gkeys = list(dict.fromkeys(keys[j] for j in members))
    fkeys = list(dict.fromkeys(setups[j][5] for j in members if setups[j][5] is not None))
    p_all = market.n_paths
    ups = [market.paths[u] for u in gkeys]
    intraday = c0.t < _DAY
    bridge = pre = None
    if intraday:
        parts = [market.bridge(u, mg.directional_move is not None) for u in gkeys]
        bridge = np.concatenate([b for b, _ in parts], axis=1) if len(parts) > 1 else parts[0][0]
        if mg.directional_move is not None:
            pre = np.concatenate([p for _, p in parts], axis=0)
    gp = _GroupPaths(
        n_days=market.n_days,
        cum_x=np.concatenate([market.cum_x(u) for u in gkeys], axis=0),
        iv_shift=np.concatenate([up.iv_shift for up in ups], axis=0),
        vix=(np.concatenate([up.vix for up in ups], axis=0) if mg.vix_exit is not None else None),
        session_return=np.concatenate([up.session_return for up in ups], axis=0),
        daily_vol=np.concatenate([up.daily_vol for up in ups], axis=0),
        session_scale=np.repeat([float(up.session_scale) for up in ups], p_all),
        bridge=bridge,
        pre=pre,
        entry_ok=(np.concatenate([market._filters[fk] for fk in fkeys], axis=0) if fkeys else None),
    )
    life = min(1.0, c0.t * 365.0 * 24.0 / SESSION_HOURS)
    t_grid = np.where(taus > 0, taus, 1.0)
    carry = np.array([b.carry for b in books])
    rate = np.array([b.rate for b in books])
    grp = _Group(
        members=np.asarray(members),
        taus=taus,
        tf=term_factor(taus),
        forced=forced,
        intraday=intraday,
        management=mg,
        limit_targets=limit_targets,
        spacing=spacing,
        offsets=market.offsets(c0.strategy) * spacing,
        life_share=math.sqrt(life),
        pre_share=1.0 - life,
        qty=book0.qty,
        sign=book0.sign[:, 0],
        target_mask=book0.target_mask,
        roll_legs=book0.roll_legs,
        naked_put=book0.naked_put,
        qty_underlying=book0.qty_underlying,
        lk=np.stack([b.lk for b in books]),
        strike=np.stack([b.strike[:, 0] for b in books]),
        carry=carry,
        money=np.array([float(mult[j]) * float(candidates[j].spot) for j in members]),
        smiles=_Smiles.of(books),
        carry_t=carry[:, None] * t_grid[None, :],
        disc=np.exp(-rate[:, None] * t_grid[None, :]),
        root_t=np.sqrt(t_grid),
        costs=tcs,
        entry_cost=np.array([[tc.entry_commission for tc in tcs], [tc.entry_spread for tc in tcs]]),
        exit_cost=np.array(
            [
                [_per_reason(getattr(tc, name)) for tc in tcs]
                for name in ("exit_commission", "exit_spread", "exit_slippage")
            ]
        ),
        fx_cost=np.array([float(tc.fx_cost) for tc in tcs]),
        path_row=np.array([gkeys.index(keys[j]) * p_all for j in members]),
        filter_row=(
            np.array([fkeys.index(setups[j][5]) * p_all for j in members]) if fkeys else None
        ),
    )
    if intraday and not fkeys:  # every member trades the same days: price each leg once
        grp = replace(grp, shared=_SharedLegs.of(grp, books))
    else:  # members that differ in size and costs only (ES / MES) trade in lockstep
        first: dict[tuple, int] = {}
        twin = np.array(
            [
                first.setdefault(
                    (
                        grp.path_row[i],
                        None if grp.filter_row is None else grp.filter_row[i],
                        grp.lk[i].tobytes(),
                        grp.strike[i].tobytes(),
                        grp.carry_t[i].tobytes(),
                        grp.disc[i].tobytes(),
                        grp.smiles.nodes[i].tobytes(),
                        grp.smiles.values[i].tobytes(),
                    ),
                    i,
                )
                for i in range(len(members))
            ]
        )
        if np.any(twin != np.arange(len(members))):
            grp = replace(grp, twin=twin)
    return grp, gp
