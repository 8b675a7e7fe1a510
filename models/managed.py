"""The ``managed`` income model: Monte Carlo price paths with trade-management rules applied.

DESIGN.md §3 ("managed"): per unit of a candidate structure, simulate the underlying under a
real-world measure, re-price the structure along each path, close it when a management rule fires
(profit target, stop, exit DTE, intraday time exit; Tom King's rules, ``docs/domain.md`` §3) and
aggregate the trades into monthly P&L samples aligned across candidates. Win rates are *outputs*
to compare with the seeds' claimed 88 / 73 / 72 % (domain.md §2c), never inputs.

Model
-----
Paths
    Per underlying, log-price increments over a step of ``dt`` years::

        ln S(t+dt) - ln S(t) = (b - sigma_R**2 / 2) dt + sigma_R sqrt(dt) Z

    with ``sigma_R = atm_iv * vol_ratio`` (the candidate's at-the-forward IV scaled by the
    realized/implied ratio, as in the ``expiry`` model), carry ``b = ln(F / S) / t`` from the
    candidate's forward, so ``E[S_T] = F`` (zero risk premium). ``Z`` is standard normal (GBM) or
    a variance-normalised Student-t: ``Z = eps * sqrt((dof - 2) / W)``, ``W ~ chi2(dof)``, which
    has unit variance and kurtosis ``3 + 6 / (dof - 4)`` (Hull, *Options, Futures and Other
    Derivatives*, ch. 15 for GBM; Demarta & McNeil, "The t copula and related copulas", 2005 for
    the multivariate t). Several underlyings are correlated through a Cholesky factor applied to
    ``eps``; under Student-t one ``W`` per (step, path) is shared by all underlyings (multivariate
    t: joint crashes). The drift uses the Gaussian convexity term also for Student-t innovations
    (a t variable has no moment generating function); the resulting bias of ``E[S_T]`` is of order
    ``sigma**4 dt**2`` per step, far below the Monte Carlo error.

Common random numbers
    The standardized innovations ``Z[step, path]`` are drawn once per underlying; every candidate
    on that underlying uses them (candidates with the same expiry and ATM IV see identical price
    paths; other expiries see the same shocks scaled by their own vol). Each underlying's normal
    stream is keyed by ``(seed, symbol)`` and drawn step-major, so adding candidates or other
    underlyings (without correlation) does not change an underlying's paths.

Time grid
    Calendar days: every calendar day is one step of ``dt = 1/365`` (the convention of the IVs and
    of :mod:`models.income`, whose ``expiry`` model spreads the variance over calendar time); the
    last step is the remaining fraction of a day. Weekends therefore carry variance, which is a
    simplification of the daily path (not of the terminal distribution, which is exact). A
    structure with less than one day to expiry (0DTE, ``t < 1/365``) uses ``intraday_steps`` equal
    steps over its life (11 half-hour steps for a 10:30 → 16:00 trade).

Repricing
    Every leg is re-priced with Black-Scholes-Merton (forward form: carry ``b``, discount rate
    ``r = -ln(DF) / t``) at its **entry IV** (sticky strike): the smile does not move with the
    underlying and does not roll down; the skew premium paid at entry is earned as in the
    ``expiry`` model. Optionally ``iv_sensitivity`` moves every leg's IV with the log-return,
    ``sigma_leg = sigma_entry * exp(iv_sensitivity * ln(S / S0))`` (negative for equity indices:
    IV up in a sell-off). At expiry legs settle at intrinsic value. P&L per share at a step is
    ``V(step) - V(entry)`` with ``V = sum(quantity * mark)`` (= credit − cost to close for options;
    underlying legs are marked from their entry price). Interest on the credit is ignored.

Management (:class:`models.strategies.Management`)
    With the reference amount ``ref = |net option premium|`` (the credit; a debit structure uses its
    debit), checked at each step close after entry:

    * ``profit_target p``: P&L ≥ ``p * ref`` → closed, filled **at the target** (a resting
      buy-to-close limit order, how the "50 % rule" is run). The path is continuous, so a target
      crossed between two step closes would have filled at the limit. Set ``limit_targets=False``
      to fill at the step-close mark instead (optimistic).
    * ``stop_loss m``: P&L ≤ ``-m * ref`` → closed at the step-close mark, i.e. at or beyond the
      stop. Monitoring is discrete (daily, or every half hour intraday): a breach that reverts
      within a step is missed, a breach is filled late at the close of its step; bid/ask and
      overnight gaps are not modelled. The net effect on stop slippage versus a live stop order
      is not signed; with daily steps the realized stop losses are typically *larger* than
      ``m * ref`` and fewer trades are stopped than with continuous monitoring.
    * ``exit_dte d``: closed at the mark at the first step with DTE ≤ ``d`` (a structure entered
      at or inside ``d`` DTE is closed after its first step).
    * ``time_exit "HH:MM"``: for intraday structures only, closed at the mark at the first step at
      or after that clock time on the expiry day (15:00 for a 16:00 expiry). Ignored for
      structures with a day or more to expiry (their grid has no clock time).
    * otherwise held to expiry and settled at intrinsic value.

    A target and a stop cannot fire at the same step; if a forced exit (DTE/time/expiry) coincides
    with a target or stop, the target/stop is recorded. A zero reference amount disables the
    target and stop.

Monthly aggregation
    Paths are indexed ``(j, i)``: month-sample ``j`` (``0..n_months-1``), trade slot ``i``
    (``0..max_trades_per_month-1``); the same index is the same path for every candidate on that
    underlying. Candidate ``k`` runs ``m_jk`` trades in month ``j`` with ``E[m_jk]`` the cycles per
    month ``c_k = min(entries_per_month, (365.25/12) / mean_days_held)`` (one unit at a time
    turns over when it is closed and the next scheduled entry comes; mean holding time from the
    same simulation; :func:`models.income.cycles_per_month`). ``m_jk = floor(c_k) + [U_j <
    frac(c_k)]`` with one uniform ``U_j`` per month and *strategy* (seeded by the strategy name),
    so candidates of the same strategy with equal ``c_k`` get identical counts and counts are
    monotone in ``c_k``. ``R[j, k] = fx_k * sum_{i < m_jk} P&L_k(j, i)``. Consecutive months are
    independent (serial correlation, e.g. a trade straddling a month end or volatility clustering,
    is ignored). Per-trade statistics (win rate, average win/loss, days held) use all
    ``n_months * max_trades_per_month`` simulated trades of a candidate.

Cost
    Vectorized over paths and legs, one Python iteration per time step; memory
    ``O(steps * paths)`` per underlying (innovations) plus one candidate's P&L matrix at a time.
    ``benchmarks/bench_managed.py`` measures about 7M path-steps per second per core for a 4-leg
    iron condor (DESIGN.md §6 asks for 1M). Paths closed early are still re-priced to the end of
    the grid (the first trigger is found afterwards with ``argmax``), so the cost does not depend on
    the management rules.

Units: money per contract unit (instrument currency × multiplier, times ``fx`` when given); days
are calendar days; vols annualized decimals; times in years (calendar).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from models.errors import ModelError
from models.income import cycles_per_month
from models.legs import Right
from models.strategies import Candidate, Management

__all__ = [
    "EXIT_REASONS",
    "ManagedResult",
    "Trades",
    "simulate_innovations",
    "simulate_managed",
    "simulate_trades",
    "time_grid",
]

#: Why a trade was closed; :attr:`Trades.reason` indexes this tuple.
EXIT_REASONS: tuple[str, ...] = ("target", "stop", "time", "expiry")
_TARGET, _STOP, _TIME, _EXPIRY = range(4)

_DAY = 1.0 / 365.0  # one calendar day in years
_SECONDS_PER_YEAR = 365.0 * 86400.0
_EPS_YEARS = 1e-9  # ~0.03 s: tolerance when comparing grid times


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, eq=False)
class Trades:
    """Simulated trades of one candidate, one per path.

    Attributes
    ----------
    pnl : np.ndarray
        (paths,) P&L per unit, money (instrument currency × multiplier).
    days_held : np.ndarray
        (paths,) calendar days from entry to close.
    reason : np.ndarray
        (paths,) int8 index into :data:`EXIT_REASONS`.
    """

    pnl: np.ndarray
    days_held: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True, eq=False)
class ManagedResult:
    """Managed income model output for K candidates (arrays are read-only).

    Attributes
    ----------
    expected_monthly : np.ndarray
        (K,) mean of ``monthly_samples`` over months, money per contract unit.
    win_rate : np.ndarray
        (K,) fraction of simulated trades with P&L > 0.
    avg_win : np.ndarray
        (K,) mean P&L of winning trades, money, >= 0 (0 when there is no winning trade).
    avg_loss : np.ndarray
        (K,) mean P&L of the other trades (P&L <= 0), money, <= 0 (0 when every trade wins).
    avg_days_held : np.ndarray
        (K,) mean calendar days from entry to close.
    trades_per_month : np.ndarray
        (K,) expected cycles per month used, ``min(entries_per_month, 365.25/12/avg_days_held)``.
    monthly_samples : np.ndarray
        (n_months, K) monthly P&L ``R[j, k]``, aligned across candidates (same month index = same
        paths of each underlying), money per contract unit.
    expected_monthly_se : np.ndarray
        (K,) Monte Carlo standard error of ``expected_monthly``: ``std(R[:, k]) / sqrt(n_months)``.
    expected_trade : np.ndarray
        (K,) mean P&L per trade over all simulated trades, money per contract unit.
    expected_trade_se : np.ndarray
        (K,) Monte Carlo standard error of ``expected_trade``.
    trade_counts : np.ndarray
        (n_months, K) int, trades ``m_jk`` run in each month-sample.
    exit_fractions : np.ndarray
        (K, 4) fraction of trades closed by each of :data:`EXIT_REASONS`.
    candidate_ids : tuple[str, ...]
        (K,) the candidates' ids, in input order.
    """

    expected_monthly: np.ndarray
    win_rate: np.ndarray
    avg_win: np.ndarray
    avg_loss: np.ndarray
    avg_days_held: np.ndarray
    trades_per_month: np.ndarray
    monthly_samples: np.ndarray
    expected_monthly_se: np.ndarray
    expected_trade: np.ndarray
    expected_trade_se: np.ndarray
    trade_counts: np.ndarray
    exit_fractions: np.ndarray
    candidate_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False


# --------------------------------------------------------------------------------------------
# Random numbers


def _key(name: str) -> int:
    """Stable 32-bit key of a name (``hash()`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def _generator(seed: int, *key: int) -> np.random.Generator:
    """``Generator(PCG64)`` of an independent stream keyed by ``(seed, *key)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _correlation_matrix(
    underlyings: Sequence[str], correlation: Mapping[tuple[str, str], float] | None
) -> np.ndarray:
    """Correlation matrix over ``underlyings`` from pair entries (missing pairs: 0).

    Pairs naming other symbols are ignored (a scenario matrix may cover more products).
    """
    n = len(underlyings)
    rho = np.eye(n)
    if not correlation:
        return rho
    index = {u: i for i, u in enumerate(underlyings)}
    seen: dict[tuple[int, int], float] = {}
    for pair, value in correlation.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ModelError(f"correlation keys must be (symbol, symbol) pairs, got {pair!r}")
        a, b = pair
        v = float(value)
        if not (math.isfinite(v) and -1.0 <= v <= 1.0):
            raise ModelError(f"correlation {a}/{b} must be in [-1, 1], got {value!r}")
        if a not in index or b not in index:
            continue
        i, j = index[a], index[b]
        if i == j:
            if v != 1.0:
                raise ModelError(f"correlation {a}/{a} must be 1, got {value!r}")
            continue
        ij = (min(i, j), max(i, j))
        if ij in seen and seen[ij] != v:
            raise ModelError(f"correlation {a}/{b} given twice with different values")
        seen[ij] = v
        rho[i, j] = rho[j, i] = v
    return rho


def _factor(rho: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``rho``; a singular PSD matrix (|rho| = 1) via its eigenvectors."""
    try:
        return np.linalg.cholesky(rho)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(rho)
        if w.min() < -1e-10:
            raise ModelError("the correlation matrix is not positive semi-definite") from None
        return v * np.sqrt(np.maximum(w, 0.0))


def simulate_innovations(
    underlyings: Sequence[str],
    *,
    n_paths: int,
    n_steps: int,
    seed: int,
    correlation: Mapping[tuple[str, str], float] | None = None,
    dof: float | None = None,
) -> np.ndarray:
    """Standardized, correlated innovations shared by all candidates on each underlying.

    Parameters
    ----------
    underlyings : Sequence[str]
        Distinct symbols (the output follows this order).
    n_paths, n_steps : int
        Paths and steps to draw (>= 1).
    seed : int
        Seed; each underlying's stream is keyed by ``(seed, symbol)``.
    correlation : Mapping[tuple[str, str], float] | None
        Pairwise correlations of the innovations (missing pairs 0; pairs naming other symbols
        ignored); must form a positive semi-definite matrix.
    dof : float | None
        Student-t degrees of freedom (> 2), variance-normalised; ``None`` = Gaussian.

    Returns
    -------
    np.ndarray
        (U, n_steps, n_paths) float64, zero mean, unit variance, the given correlation.

    Raises
    ------
    ModelError
        Bad sizes, ``dof <= 2``, repeated symbols, or a correlation matrix that is not positive
        semi-definite.
    """
    if n_paths < 1 or n_steps < 1:
        raise ModelError(f"need n_paths >= 1 and n_steps >= 1, got {n_paths}, {n_steps}")
    if len(set(underlyings)) != len(underlyings):
        raise ModelError("simulate_innovations: underlyings must be distinct")
    if dof is not None and not (math.isfinite(dof) and dof > 2):
        raise ModelError(f"dof must be > 2 (finite variance), got {dof!r}")
    rho = _correlation_matrix(underlyings, correlation)
    chol = _factor(rho)
    eps = np.stack(
        [_generator(seed, 0, _key(u)).standard_normal((n_steps, n_paths)) for u in underlyings]
    )
    if len(underlyings) > 1 and not np.allclose(chol, np.eye(len(underlyings))):
        eps = np.einsum("uv,vsp->usp", chol, eps)
    if dof is not None:
        w = _generator(seed, 2).chisquare(dof, size=(n_steps, n_paths))
        eps *= np.sqrt((dof - 2.0) / w)
    return eps


def _strategy_uniforms(seed: int, strategy: str, n_months: int) -> np.ndarray:
    """(n_months,) uniforms for randomized rounding, one stream per strategy name."""
    return _generator(seed, 1, _key(strategy)).random(n_months)


# --------------------------------------------------------------------------------------------
# One candidate


def time_grid(c: Candidate, intraday_steps: int = 11) -> np.ndarray:
    """Remaining times to expiry at entry and at each step close.

    Parameters
    ----------
    c : Candidate
        The structure (``c.t`` years to expiry).
    intraday_steps : int
        Equal steps over the life of a structure with ``t < 1/365``.

    Returns
    -------
    np.ndarray
        (steps + 1,) years to expiry, ``[t, ..., 0]``: daily steps of 1/365 (the last one the
        remaining fraction), or ``intraday_steps`` equal steps.
    """
    t = float(c.t)
    if t < _DAY:
        return np.linspace(t, 0.0, intraday_steps + 1)
    n_full = int(math.floor(t / _DAY + _EPS_YEARS / _DAY))
    taus = t - _DAY * np.arange(n_full + 1)
    taus = taus[taus > _EPS_YEARS]
    return np.append(taus, 0.0)


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
    deadline = 0.0  # years to expiry at which the position must be closed
    if management.exit_dte is not None:
        deadline = max(deadline, float(management.exit_dte) * _DAY)
    if management.time_exit is not None and c.t < _DAY:
        h, m = _parse_hhmm(management.time_exit)
        at = c.expiry.replace(hour=h, minute=m, second=0, microsecond=0)
        deadline = max(deadline, (c.expiry - at).total_seconds() / _SECONDS_PER_YEAR)
    hits = np.nonzero(taus[1:] <= deadline + _EPS_YEARS)[0]
    return int(hits[0]) + 1 if hits.size else n


@dataclass(frozen=True)
class _Book:
    """A candidate's legs as arrays (per share, instrument currency); L = option legs."""

    strike: np.ndarray  # (L,)
    ln_strike: np.ndarray  # (L, 1)
    sigma: np.ndarray  # (L,) entry IVs
    sign: np.ndarray  # (L, 1) +1 call, -1 put
    qty: np.ndarray  # (L,) signed quantity
    qsign: np.ndarray  # (L,) qty * sign
    qsign_strike: np.ndarray  # (L,) qty * sign * strike
    qty_underlying: float  # sum of underlying-leg quantities
    entry_value: float  # V(entry) = sum quantity * entry price (all legs)
    ref: float  # |net option premium|: the management reference amount

    @classmethod
    def of(cls, c: Candidate) -> _Book:
        opts = [(leg, iv) for leg, iv in zip(c.legs, c.ivs, strict=True) if leg.is_option]
        strike = np.array([leg.strike for leg, _ in opts], dtype=float)
        sigma = np.array([iv for _, iv in opts], dtype=float)
        if not np.all(np.isfinite(sigma) & (sigma > 0)):
            raise ModelError(f"candidate {c.id}: every option leg needs a finite IV > 0")
        sign = np.array([1.0 if leg.right is Right.CALL else -1.0 for leg, _ in opts])
        qty = np.array([leg.quantity for leg, _ in opts], dtype=float)
        premium = float(qty @ np.array([leg.price for leg, _ in opts], dtype=float))
        under = [leg for leg in c.legs if leg.right is Right.UNDERLYING]
        return cls(
            strike=strike,
            ln_strike=np.log(strike)[:, None],
            sigma=sigma,
            sign=sign[:, None],
            qty=qty,
            qsign=qty * sign,
            qsign_strike=qty * sign * strike,
            qty_underlying=float(sum(leg.quantity for leg in under)),
            entry_value=premium + float(sum(leg.quantity * leg.price for leg in under)),
            ref=abs(premium),
        )

    def value(
        self,
        x: np.ndarray,
        tau: float,
        carry: float,
        rate: float,
        iv_scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mark value ``sum(quantity * price)`` per share.

        Parameters
        ----------
        x : np.ndarray
            (paths,) log underlying price.
        tau : float
            Years to expiry; ``<= 0`` settles options at intrinsic value.
        carry, rate : float
            Forward carry ``b`` and discount rate ``r`` (continuous, per year).
        iv_scale : np.ndarray | None
            (paths,) factor on every leg's entry IV (``iv_sensitivity``); ``None`` = sticky strike.

        Returns
        -------
        np.ndarray
            (paths,) value per share, instrument currency.
        """
        spot = np.exp(x)
        out = self.qty_underlying * spot
        if self.strike.size == 0:
            return out
        if tau <= 0.0:
            intrinsic = np.maximum(self.sign * (spot - self.strike[:, None]), 0.0)
            return out + self.qty @ intrinsic
        v = (self.sigma * math.sqrt(tau))[:, None]
        if iv_scale is not None:
            v = v * iv_scale
        d1 = (x + carry * tau - self.ln_strike) / v + 0.5 * v
        n1 = ndtr(self.sign * d1)
        n2 = ndtr(self.sign * (d1 - v))
        opt = (spot * math.exp(carry * tau)) * (self.qsign @ n1) - self.qsign_strike @ n2
        return out + math.exp(-rate * tau) * opt


def _carry_and_rate(c: Candidate) -> tuple[float, float]:
    """Continuous carry ``ln(F/S)/t`` and discount rate ``-ln(DF)/t`` of a candidate."""
    if not (c.t > 0 and c.spot > 0 and c.forward > 0 and 0 < c.discount_factor <= 10):
        raise ModelError(f"candidate {c.id}: needs t, spot, forward and discount factor > 0")
    return math.log(c.forward / c.spot) / c.t, -math.log(c.discount_factor) / c.t


def simulate_trades(
    c: Candidate,
    z: np.ndarray,
    *,
    multiplier: float,
    management: Management,
    vol_ratio: float,
    intraday_steps: int = 11,
    iv_sensitivity: float = 0.0,
    limit_targets: bool = True,
) -> Trades:
    """Simulate one managed trade of ``c`` per path.

    Parameters
    ----------
    c : Candidate
        The structure.
    z : np.ndarray
        (>= steps, paths) standardized innovations of ``c.underlying``
        (:func:`simulate_innovations`); the first ``steps`` rows are used
        (``steps = len(time_grid(c, intraday_steps)) - 1``).
    multiplier : float
        Contract multiplier (money per point per contract).
    management : Management
        Profit target, stop, exit DTE, time exit (see the module notes).
    vol_ratio : float
        Real-world / implied vol ratio: ``sigma_R = c.atm_iv * vol_ratio``.
    intraday_steps : int
        Steps over the life of a structure with less than a day to expiry.
    iv_sensitivity : float
        ``d ln(IV) / d ln(S)`` of every leg (0 = sticky strike).
    limit_targets : bool
        Fill profit targets at the target (True) or at the step-close mark (False).

    Returns
    -------
    Trades
        Per-path P&L (money per unit), days held and exit reason.

    Raises
    ------
    ModelError
        Bad inputs, or ``z`` has fewer rows than the structure has steps.
    """
    if not (vol_ratio > 0 and math.isfinite(vol_ratio)):
        raise ModelError(f"vol_ratio must be a finite number > 0, got {vol_ratio!r}")
    if intraday_steps < 1:
        raise ModelError(f"intraday_steps must be >= 1, got {intraday_steps}")
    carry, rate = _carry_and_rate(c)
    book = _Book.of(c)
    taus = time_grid(c, intraday_steps)
    n = len(taus) - 1
    if z.ndim != 2 or z.shape[0] < n:
        raise ModelError(f"candidate {c.id} needs {n} steps of innovations, got {z.shape}")
    sigma = float(c.atm_iv) * vol_ratio
    x0 = math.log(c.spot)
    x = np.full(z.shape[1], x0)
    pnl = np.empty((n, z.shape[1]))  # per share
    for i in range(1, n + 1):
        dt = taus[i - 1] - taus[i]
        x += (carry - 0.5 * sigma * sigma) * dt + (sigma * math.sqrt(dt)) * z[i - 1]
        scale = np.exp(iv_sensitivity * (x - x0)) if iv_sensitivity else None
        pnl[i - 1] = book.value(x, taus[i], carry, rate, scale)
    pnl -= book.entry_value
    return _manage(
        pnl,
        taus,
        book.ref,
        management,
        _forced_exit_step(c, management, taus),
        multiplier,
        limit_targets,
    )


def _manage(
    pnl: np.ndarray,
    taus: np.ndarray,
    ref: float,
    management: Management,
    forced: int,
    multiplier: float,
    limit_targets: bool,
) -> Trades:
    """Apply the management rules to a (steps, paths) P&L-per-share matrix."""
    n, n_paths = pnl.shape
    cond = np.zeros((n, n_paths), dtype=bool)
    cond[forced - 1 :] = True
    target = stop = None
    if ref > 0 and management.profit_target is not None:
        target = float(management.profit_target) * ref
        hit_target = pnl >= target
        cond |= hit_target
    if ref > 0 and management.stop_loss is not None:
        stop = -float(management.stop_loss) * ref
        hit_stop = pnl <= stop
        cond |= hit_stop
    first = cond.argmax(axis=0)  # first step (row) where a rule fires; forced rows always do
    cols = np.arange(n_paths)
    out = pnl[first, cols]
    reason = np.where(first == n - 1, _EXPIRY, _TIME).astype(np.int8)
    if stop is not None:
        reason[hit_stop[first, cols]] = _STOP
    if target is not None:
        is_target = hit_target[first, cols]
        reason[is_target] = _TARGET
        if limit_targets:
            out = np.where(is_target, target, out)
    days = (taus[0] - taus[first + 1]) * 365.0
    return Trades(pnl=out * multiplier, days_held=days, reason=reason)


# --------------------------------------------------------------------------------------------
# Many candidates, monthly aggregation


def _check_lengths(k: int, **seqs: Sequence | None) -> None:
    for name, seq in seqs.items():
        if seq is not None and len(seq) != k:
            raise ModelError(f"{name} has {len(seq)} entries for {k} candidates")


def _monthly_counts(
    cycles: np.ndarray, strategies: Sequence[str], seed: int, n_months: int
) -> np.ndarray:
    """(n_months, K) randomized rounding of ``cycles``, one uniform stream per strategy."""
    uniforms = {s: _strategy_uniforms(seed, s, n_months) for s in dict.fromkeys(strategies)}
    base = np.floor(cycles)
    frac = cycles - base
    u = np.stack([uniforms[s] for s in strategies], axis=1)  # (n_months, K)
    return (base[None, :] + (u < frac[None, :])).astype(np.int64)


def _trade_stats(pnl: np.ndarray) -> tuple[float, float, float, float, float]:
    """Win rate, average win, average loss, mean and its standard error of per-trade P&L."""
    win = pnl > 0
    n_win = int(win.sum())
    n_loss = pnl.size - n_win
    avg_win = float(pnl[win].mean()) if n_win else 0.0
    avg_loss = float(pnl[~win].mean()) if n_loss else 0.0
    se = float(pnl.std(ddof=1) / math.sqrt(pnl.size)) if pnl.size > 1 else 0.0
    return n_win / pnl.size, avg_win, avg_loss, float(pnl.mean()), se


def simulate_managed(
    candidates: Sequence[Candidate],
    *,
    multipliers: Sequence[float],
    management: Sequence[Management],
    entries_per_month: Sequence[float],
    vol_ratio: float,
    n_months: int,
    seed: int,
    correlation: Mapping[tuple[str, str], float] | None = None,
    dof: float | None = None,
    intraday_steps: int = 11,
    fx: Sequence[float] | None = None,
    max_trades_per_month: int = 6,
    iv_sensitivity: float = 0.0,
    limit_targets: bool = True,
) -> ManagedResult:
    """Managed Monte Carlo income model for K candidates (see the module notes).

    Parameters
    ----------
    candidates : Sequence[Candidate]
        K structures, any mix of underlyings, strategies and expiries.
    multipliers : Sequence[float]
        (K,) contract multipliers.
    management : Sequence[Management]
        (K,) management rules (usually the candidate's strategy's rules).
    entries_per_month : Sequence[float]
        (K,) scheduled entries per month of the candidate's strategy (0DTE weekly: 4.33).
    vol_ratio : float
        Real-world / implied vol ratio, ``sigma_R = atm_iv * vol_ratio`` (e.g. 0.861, measured by
        :func:`models.income.measure_vol_ratio`).
    n_months : int
        Month-samples (>= 2); paths per underlying = ``n_months * max_trades_per_month``.
    seed : int
        Seed of every random stream (paths per underlying, Student-t mixing, rounding per strategy).
    correlation : Mapping[tuple[str, str], float] | None
        Pairwise correlations of the underlyings' innovations (missing pairs 0).
    dof : float | None
        Student-t degrees of freedom (> 2) of the innovations; ``None`` = Gaussian (GBM).
    intraday_steps : int
        Steps over the life of structures with less than a day to expiry.
    fx : Sequence[float] | None
        (K,) factor converting each candidate's money (instrument currency) to the account
        currency; ``None`` = 1.
    max_trades_per_month : int
        Trade slots per month-sample; must be >= ``ceil(entries_per_month)`` of every candidate.
    iv_sensitivity : float
        ``d ln(IV) / d ln(S)`` of every leg along the paths (0 = sticky strike).
    limit_targets : bool
        Fill profit targets at the target (resting limit order) instead of the step-close mark.

    Returns
    -------
    ManagedResult
        Per-candidate expectations, trade statistics and (n_months, K) aligned monthly samples.

    Raises
    ------
    ModelError
        Mismatched lengths, non-positive inputs, ``entries_per_month`` above
        ``max_trades_per_month``, a bad correlation matrix or a bad ``time_exit``.
    """
    k = len(candidates)
    if k == 0:
        raise ModelError("simulate_managed needs at least one candidate")
    _check_lengths(
        k,
        multipliers=multipliers,
        management=management,
        entries_per_month=entries_per_month,
        fx=fx,
    )
    if n_months < 2:
        raise ModelError(f"n_months must be >= 2 (a standard error needs two), got {n_months}")
    if max_trades_per_month < 1:
        raise ModelError(f"max_trades_per_month must be >= 1, got {max_trades_per_month}")
    entries = np.asarray(entries_per_month, dtype=float)
    if not np.all(np.isfinite(entries) & (entries > 0)):
        raise ModelError("entries_per_month must be finite numbers > 0")
    too_many = np.nonzero(np.ceil(entries - 1e-9) > max_trades_per_month)[0]
    if too_many.size:
        i = int(too_many[0])
        raise ModelError(
            f"candidate {candidates[i].id}: entries_per_month {entries[i]:g} exceeds "
            f"max_trades_per_month {max_trades_per_month}; raise max_trades_per_month"
        )
    mult = np.asarray(multipliers, dtype=float)
    fx_arr = np.ones(k) if fx is None else np.asarray(fx, dtype=float)
    if not np.all(np.isfinite(mult) & (mult > 0)) or not np.all(np.isfinite(fx_arr) & (fx_arr > 0)):
        raise ModelError("multipliers and fx must be finite numbers > 0")

    n_paths = n_months * max_trades_per_month
    underlyings = sorted({c.underlying for c in candidates})
    n_steps = max(len(time_grid(c, intraday_steps)) - 1 for c in candidates)
    z = simulate_innovations(
        underlyings,
        n_paths=n_paths,
        n_steps=n_steps,
        seed=seed,
        correlation=correlation,
        dof=dof,
    )
    row = {u: i for i, u in enumerate(underlyings)}

    pnl = np.empty((k, n_paths))
    days = np.empty(k)
    stats = np.empty((k, 5))
    exits = np.empty((k, len(EXIT_REASONS)))
    for j, c in enumerate(candidates):
        trades = simulate_trades(
            c,
            z[row[c.underlying]],
            multiplier=float(mult[j]) * float(fx_arr[j]),
            management=management[j],
            vol_ratio=vol_ratio,
            intraday_steps=intraday_steps,
            iv_sensitivity=iv_sensitivity,
            limit_targets=limit_targets,
        )
        pnl[j] = trades.pnl
        days[j] = trades.days_held.mean()
        stats[j] = _trade_stats(trades.pnl)
        exits[j] = np.bincount(trades.reason, minlength=len(EXIT_REASONS)) / n_paths

    cycles = np.array([cycles_per_month(days[j], entries[j]) for j in range(k)], dtype=float)
    counts = _monthly_counts(cycles, [c.strategy for c in candidates], seed, n_months)
    slots = np.arange(max_trades_per_month)
    per_month = pnl.reshape(k, n_months, max_trades_per_month)  # path (j, i) = j * M + i
    used = slots[None, None, :] < counts.T[:, :, None]  # (K, n_months, M)
    samples = np.where(used, per_month, 0.0).sum(axis=2).T  # (n_months, K)
    return ManagedResult(
        expected_monthly=samples.mean(axis=0),
        win_rate=stats[:, 0],
        avg_win=stats[:, 1],
        avg_loss=stats[:, 2],
        avg_days_held=days,
        trades_per_month=cycles,
        monthly_samples=samples,
        expected_monthly_se=samples.std(axis=0, ddof=1) / math.sqrt(n_months),
        expected_trade=stats[:, 3],
        expected_trade_se=stats[:, 4],
        trade_counts=counts,
        exit_fractions=exits,
        candidate_ids=tuple(c.id for c in candidates),
    )
