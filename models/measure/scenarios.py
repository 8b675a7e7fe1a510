"""Joint market moves of the underlyings and their implied vols, and full repricing into P&L.

A :class:`MarketMoves` holds ``S`` scenarios of a horizon ``h``: for each of ``U`` underlyings the
log price return and the change of its at-the-money 30-day implied vol. Three generators:

* :func:`historical_moves` — overlapping ``horizon``-trading-day windows of the real S&P 500 and
  Cboe VIX daily closes (``scenarios/data``: S&P 500 ``^GSPC`` 1927-2023, Cboe VIX_History
  1990-2026; see ``scenarios/data/README.md``);
* :func:`monte_carlo_moves` — correlated Student-t (or Gaussian) returns with the implied vol change
  linked to the index return by a regression slope measured from that history
  (:func:`estimate_iv_sensitivity`);
* :func:`stress_moves` — named historical days from ``models/data/stress_days.csv`` (1987-10-19,
  2008-10-15, 2020-03-16, 2024-08-05 close and intraday) plus a grid of
  (return, vol change) points.

Each generator can also give the regular-session (open -> close) return of the scenario's day
(``MarketMoves.session_return``): intraday (0DTE) candidates are repriced at their own expiry on
the share of that session they are open, not on a whole close-to-close move (:func:`pnl_matrix`).

Every underlying is tied to the S&P 500 by an :class:`UnderlyingMap` stated in the scenario
(beta, correlation, own vol, IV beta), not estimated here. :func:`pnl_matrix` reprices every leg
of every candidate in every scenario (Black-Scholes-Merton in forward form with the candidate's
implied rate and carry) and returns the ``(S, K)`` P&L per contract unit in the account currency;
the same scenario row drives every candidate (common random numbers).

Shapes: ``S`` scenarios, ``U`` underlyings, ``K`` candidates, ``L`` legs. Units: log returns,
vols in decimal (0.05 = 5 vol points), horizons in calendar days, money in the account currency
per contract unit (one unit of the structure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator
from scipy import sparse

from models.errors import DataError
from models.instruments import parse_cell, read_reference_csv
from models.legs import Right
from models.market.pricing import black76_price
from models.strategies import Candidate

__all__ = [
    "IVSensitivity",
    "MarketMoves",
    "StressDay",
    "UnderlyingMap",
    "estimate_iv_sensitivity",
    "historical_moves",
    "monte_carlo_moves",
    "pnl_matrix",
    "stress_days",
    "stress_losses",
    "stress_moves",
    "term_factor",
]

DAYS_PER_YEAR = 365.0
"""Calendar days per year (time to expiry is calendar days / 365, as in :mod:`models.market.pricing`)."""

TRADING_DAYS_PER_YEAR = 252.0
"""Trading days per year: a window of ``h`` trading days spans ``h * 365 / 252`` calendar days."""

VIX_TENOR_DAYS = 30.0
"""The VIX (and VXO) measure 30-calendar-day implied vol (Cboe VIX white paper)."""

TERM_FACTOR_BOUNDS = (0.25, 2.0)
"""Clip of the term factor ``sqrt((30/365) / t)``: expiries under 7.5 days move 2x the VIX change,
expiries beyond 480 days 0.25x."""

SESSION_HOURS = 6.5
"""Hours of the regular US equity session (09:30 -> 16:00 ET)."""

INTRADAY_DAYS = 1.0
"""A candidate whose time to expiry is under this many calendar days is *intraday* (0DTE): it is
repriced at its own expiry on the move of its holding window (:func:`pnl_matrix`)."""

_KINDS = frozenset({"historical", "monte_carlo", "stress", "mixed"})
_CHUNK_ELEMENTS = 1 << 18  # scenario x leg elements repriced per block (bounds memory: ~25 MB)


# ----------------------------------------------------------------------------------------------
# Data types
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnderlyingMap:
    """How a non-S&P underlying moves with the S&P 500 (stated in the scenario, not estimated).

    The log return of the underlying over a horizon of ``h`` years is

    ``r_u = beta * r_SP + sqrt(1 - corr**2) * vol * sqrt(h) * eps``

    with ``eps`` standard (Gaussian for historical windows; the same Student-t mixing as the index
    for Monte Carlo). The stated ``corr`` is reproduced exactly when ``beta`` is the regression beta
    ``corr * vol / vol_SP``; otherwise the realised correlation is
    ``beta vol_SP / sqrt(beta**2 vol_SP**2 + (1 - corr**2) vol**2)``.
    Its ATM implied vol changes by ``iv_beta`` times the VIX change.

    Parameters
    ----------
    beta : float
        Log-return beta to the S&P 500 (XSP/ES/MES/SPX/SPY: 1.0).
    corr : float
        Correlation with the S&P 500 return, in [-1, 1]; below 1 adds the residual term.
    vol : float | None
        Annualized vol of the underlying (decimal); required when ``|corr| < 1``.
    iv_beta : float
        ATM IV change per unit of VIX change (vol points per VIX point).
    """

    beta: float = 1.0
    corr: float = 1.0
    vol: float | None = None
    iv_beta: float = 1.0

    def __post_init__(self) -> None:
        for name in ("beta", "corr", "iv_beta"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"UnderlyingMap.{name} must be a finite number, got {value!r}")
        if not -1.0 <= self.corr <= 1.0:
            raise ValueError(f"UnderlyingMap.corr must lie in [-1, 1], got {self.corr!r}")
        if self.vol is not None and not (math.isfinite(self.vol) and self.vol > 0):
            raise ValueError(f"UnderlyingMap.vol must be a finite number > 0, got {self.vol!r}")
        if abs(self.corr) < 1.0 and self.vol is None:
            raise ValueError(
                f"UnderlyingMap.vol is required when |corr| < 1 (corr={self.corr!r}): the residual "
                "is sqrt(1 - corr^2) * vol * sqrt(h) * eps"
            )

    @property
    def residual_vol(self) -> float:
        """Annualized vol of the residual (0 when ``|corr| == 1``), decimal."""
        if abs(self.corr) >= 1.0 or self.vol is None:
            return 0.0
        return math.sqrt(1.0 - self.corr**2) * self.vol


@dataclass(frozen=True, eq=False)
class MarketMoves:
    """Joint moves of ``U`` underlyings and their implied vols in ``S`` scenarios.

    Parameters
    ----------
    kind : str
        ``"historical"``, ``"monte_carlo"``, ``"stress"`` (or ``"mixed"`` after :meth:`concat` of
        different kinds).
    labels : tuple[str, ...]
        ``(S,)`` scenario names: window start dates (``"2008-10-14"``), ``"mc:17"``, stress names.
    underlyings : tuple[str, ...]
        ``(U,)`` underlying symbols, in column order.
    log_return : np.ndarray
        ``(S, U)`` log price return of each underlying over the horizon.
    iv_change : np.ndarray
        ``(S, U)`` change of the ATM 30-day implied vol, decimal (+0.05 = +5 vol points).
    horizon_days : float
        Calendar days the horizon spans (time decay applied in repricing), >= 0.
    probabilities : np.ndarray
        ``(S,)`` non-negative scenario weights summing to 1 (uniform for historical, Monte Carlo
        and stress sets).
    session_return : np.ndarray | None
        ``(S, U)`` log return of each underlying over the regular session (09:30 -> 16:00 ET,
        open -> close) of the scenario's day, or None (unknown). :func:`pnl_matrix` moves
        intraday candidates (life under one day, e.g. 0DTE) by it instead of ``log_return``.
        For historical windows the day is the first trading day of the window (the day whose
        close ends a one-day window); for stresses, the stress day.

    Notes
    -----
    Arrays are copied to read-only float64 on construction. Equality is identity (arrays).
    """

    kind: str
    labels: tuple[str, ...]
    underlyings: tuple[str, ...]
    log_return: np.ndarray
    iv_change: np.ndarray
    horizon_days: float
    probabilities: np.ndarray
    session_return: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"MarketMoves.kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        labels = tuple(str(x) for x in self.labels)
        unders = tuple(str(x) for x in self.underlyings)
        if len(set(unders)) != len(unders):
            raise ValueError(f"MarketMoves.underlyings has duplicates: {unders}")
        n, u = len(labels), len(unders)
        arrays = {}
        shapes = [("log_return", (n, u)), ("iv_change", (n, u)), ("probabilities", (n,))]
        if self.session_return is not None:
            shapes.append(("session_return", (n, u)))
        for name, shape in shapes:
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if arr.shape != shape:
                raise ValueError(f"MarketMoves.{name} has shape {arr.shape}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"MarketMoves.{name} has non-finite values")
            arr.flags.writeable = False
            arrays[name] = arr
        p = arrays["probabilities"]
        if n and (np.any(p < 0) or abs(float(p.sum()) - 1.0) > 1e-9):
            raise ValueError("MarketMoves.probabilities must be >= 0 and sum to 1")
        if not (math.isfinite(self.horizon_days) and self.horizon_days >= 0):
            raise ValueError(f"MarketMoves.horizon_days must be >= 0, got {self.horizon_days!r}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "underlyings", unders)
        object.__setattr__(self, "horizon_days", float(self.horizon_days))
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)

    @property
    def S(self) -> int:
        """Number of scenarios."""
        return len(self.labels)

    @property
    def U(self) -> int:
        """Number of underlyings."""
        return len(self.underlyings)

    def column(self, underlying: str) -> int:
        """Column index of ``underlying`` (ValueError naming it if absent)."""
        try:
            return self.underlyings.index(underlying)
        except ValueError:
            raise ValueError(
                f"underlying {underlying!r} is not in the market moves "
                f"(have: {', '.join(self.underlyings) or 'none'})"
            ) from None

    def subset(self, idx) -> MarketMoves:
        """Scenarios selected by ``idx`` (integer array, boolean mask or slice).

        Probabilities are renormalised to sum to 1 over the selection.

        Raises
        ------
        ValueError
            If the selection is empty or its probabilities sum to 0.
        """
        rows = np.arange(self.S)[idx]
        rows = np.atleast_1d(rows)
        if rows.size == 0:
            raise ValueError("MarketMoves.subset: empty selection")
        p = self.probabilities[rows]
        total = float(p.sum())
        if total <= 0:
            raise ValueError("MarketMoves.subset: the selected scenarios have zero probability")
        return MarketMoves(
            kind=self.kind,
            labels=tuple(self.labels[i] for i in rows),
            underlyings=self.underlyings,
            log_return=self.log_return[rows],
            iv_change=self.iv_change[rows],
            horizon_days=self.horizon_days,
            probabilities=p / total,
            session_return=None if self.session_return is None else self.session_return[rows],
        )

    def concat(self, other: MarketMoves, *, horizon_days: float | None = None) -> MarketMoves:
        """Stack the scenarios of ``other`` below these.

        Probabilities are weighted by scenario count (``p_a S_a`` and ``p_b S_b`` over
        ``S_a + S_b``), so two uniform sets give a uniform set.

        Session returns: kept when both sets have them, None when neither has. When only one
        has them, the other side's are filled with its own no-session fallback,
        ``log_return * sqrt(6.5 / (24 * horizon_days))`` (its horizon, before the concat): an
        intraday candidate open ``l <= 6.5`` hours then moves by
        ``log_return * sqrt(l / (24 * horizon_days))`` in those rows, exactly what
        :func:`pnl_matrix` applies to a set without session returns (variance proportional to
        clock time over the horizon).

        Parameters
        ----------
        other : MarketMoves
            Same underlyings in the same order.
        horizon_days : float | None
            Horizon of the result; required when the two horizons differ (e.g. stress days with
            ``horizon_days = 1`` and one-trading-day historical windows with ``365/252``).

        Raises
        ------
        ValueError
            Different underlyings, different horizons without ``horizon_days``, or a set without
            session returns over a zero horizon joined to one with them (nothing to fill from).
        """
        if other.underlyings != self.underlyings:
            raise ValueError(
                f"cannot concat moves of underlyings {self.underlyings} and {other.underlyings}"
            )
        if horizon_days is None:
            if not math.isclose(self.horizon_days, other.horizon_days, rel_tol=1e-12):
                raise ValueError(
                    f"cannot concat moves over {self.horizon_days:g} and {other.horizon_days:g} "
                    "calendar days without an explicit horizon_days"
                )
            horizon_days = self.horizon_days
        n = self.S + other.S
        p = np.concatenate([self.probabilities * self.S, other.probabilities * other.S]) / n
        if self.session_return is None and other.session_return is None:
            session = None
        else:
            session = np.vstack([self._session_or_fallback(), other._session_or_fallback()])
        return MarketMoves(
            kind=self.kind if self.kind == other.kind else "mixed",
            labels=self.labels + other.labels,
            underlyings=self.underlyings,
            log_return=np.vstack([self.log_return, other.log_return]),
            iv_change=np.vstack([self.iv_change, other.iv_change]),
            horizon_days=horizon_days,
            probabilities=p / p.sum(),
            session_return=session,
        )

    def _session_or_fallback(self) -> np.ndarray:
        """``(S, U)`` session returns, or the clock-time fallback used by :meth:`concat`."""
        if self.session_return is not None:
            return self.session_return
        if self.horizon_days <= 0:
            raise ValueError(
                "cannot concat moves without session returns over a zero horizon with moves "
                "that have them (no session move to fill in)"
            )
        return self.log_return * math.sqrt(SESSION_HOURS / (24.0 * self.horizon_days))

    def __repr__(self) -> str:
        return (
            f"MarketMoves(kind={self.kind!r}, S={self.S}, underlyings={self.underlyings}, "
            f"horizon_days={self.horizon_days:g})"
        )


class IVSensitivity(NamedTuple):
    """OLS fit of ``dVIX/100 = intercept + slope * r_SP + residual`` over overlapping windows.

    Attributes
    ----------
    slope : float
        Change of the VIX (decimal vol) per unit S&P 500 log return.
    intercept : float
        Mean VIX change at zero return (decimal vol).
    residual_std : float
        Standard deviation of the residual (decimal vol).
    """

    slope: float
    intercept: float
    residual_std: float


# ----------------------------------------------------------------------------------------------
# Historical windows
# ----------------------------------------------------------------------------------------------


def _joint_windows(
    vix: pd.Series, index: pd.Series, horizon: int, start, end
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Start dates, S&P log returns and VIX changes (decimal) of overlapping joint windows."""
    dates, sp, vx = _joint_dates(vix, index, horizon, start, end)
    r = np.log(sp[horizon:] / sp[:-horizon])
    dv = (vx[horizon:] - vx[:-horizon]) / 100.0
    return pd.DatetimeIndex(dates[:-horizon]), r, dv


def _clean(series: pd.Series) -> pd.Series:
    """Positive, finite values of a daily series, sorted by date."""
    s = pd.Series(series).astype(float)
    return s[s.notna() & (s > 0)].sort_index()


def _joint_dates(
    vix: pd.Series, index: pd.Series, horizon: int, start, end
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Joint dates of the S&P 500 and VIX histories in range, with their closes there."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer number of trading days >= 1, got {horizon!r}")
    v = _clean(vix)
    s = _clean(index)
    dates = s.index.intersection(v.index).sort_values()
    if start is not None:
        dates = dates[dates >= pd.Timestamp(start)]
    if end is not None:
        dates = dates[dates <= pd.Timestamp(end)]
    if len(dates) <= horizon:
        raise DataError(
            f"the S&P 500 and VIX histories share {len(dates)} dates in the requested range; "
            f"need more than horizon={horizon}"
        )
    return pd.DatetimeIndex(dates), s.loc[dates].to_numpy(), v.loc[dates].to_numpy()


RELIABLE_OPENS_FROM = pd.Timestamp("2000-01-01")
"""First day whose S&P 500 open in the shipped ``^GSPC`` file is used as measured: before it the
source's open is usually the previous close (96-98% of 1996-1999 days)."""

_MIN_SCALE_DAYS = 250  # measured sessions needed to estimate the session scale on a window set


def _reliable_opens(
    index: pd.Series, opens: pd.Series, days: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Opens of ``days`` (index-aligned) and the mask of those taken as measured.

    Measured: the day is on or after :data:`RELIABLE_OPENS_FROM`, the open is finite and > 0, and
    it differs from the previous close of ``index`` (an open equal to the previous close is the
    source's placeholder, not a price).
    """
    o = pd.Series(opens).astype(float)
    o = o[~o.index.duplicated(keep="last")]
    o_d = o.reindex(days).to_numpy()
    prev = index.shift(1).reindex(days).to_numpy()
    with np.errstate(invalid="ignore"):
        ok = (days >= RELIABLE_OPENS_FROM) & np.isfinite(o_d) & (o_d > 0) & (o_d != prev)
    return o_d, np.asarray(ok, dtype=bool)


def _session_scale(session: np.ndarray, close_to_close: np.ndarray) -> float:
    """``sqrt(mean(session**2) / mean(close_to_close**2))`` over matched days."""
    den = float(np.mean(close_to_close**2)) if close_to_close.size else 0.0
    if session.size == 0 or den <= 0:
        raise DataError("no S&P 500 day with a reliable open to measure the session scale on")
    return math.sqrt(float(np.mean(session**2)) / den)


def _session_returns(
    index: pd.Series, opens: pd.Series, days: pd.DatetimeIndex, close: np.ndarray, r1: np.ndarray
) -> tuple[np.ndarray, float]:
    """Session log returns of ``days`` (measured or imputed) and the scale ``c`` used.

    ``close`` and ``r1`` are the day's close and close-to-close log return (``(n,)``). Measured
    days give ``log(close / open)``; the others ``c * r1`` with ``c`` measured on the measured
    days (at least ``_MIN_SCALE_DAYS`` of them), else on every day of the full histories with a
    measured open.
    """
    o_d, ok = _reliable_opens(index, opens, days)
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = np.log(close / o_d)
    if np.count_nonzero(ok) >= _MIN_SCALE_DAYS:
        c = _session_scale(measured[ok], r1[ok])
    else:
        all_days = index.index[1:]
        o_all, ok_all = _reliable_opens(index, opens, all_days)
        c_all = index.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            sess_all = np.log(c_all[1:] / o_all)
        c = _session_scale(sess_all[ok_all], np.log(c_all[1:] / c_all[:-1])[ok_all])
    return np.where(ok, measured, c * r1), c


def estimate_iv_sensitivity(
    vix: pd.Series, index: pd.Series, horizon: int, *, start=None, end=None
) -> IVSensitivity:
    """Regress the VIX change on the S&P 500 log return over overlapping windows.

    Used to calibrate :func:`monte_carlo_moves`' ``iv_sensitivity`` and ``iv_noise`` defaults.
    Measured on the shipped histories (Cboe VIX 1990-01-02 .. S&P 500 2023-12-28, 8,560 joint
    days): slope -1.13 (h = 1), -1.00 (h = 5), -0.88 (h = 21 trading days ~ 30 calendar days,
    the VIX tenor); residual std 0.010, 0.020, 0.035. By decade the 21-day slope ranges from
    -0.62 (1990s) to -1.20 (2020-2023), and it is steeper for falls than for rises.

    Parameters
    ----------
    vix : pd.Series
        Cboe VIX daily closes (index points), DatetimeIndex.
    index : pd.Series
        S&P 500 daily closes, DatetimeIndex.
    horizon : int
        Window length in trading days (rows of the joint history).
    start, end : date-like, optional
        Restrict the joint history to ``[start, end]``.

    Returns
    -------
    IVSensitivity
        ``(slope, intercept, residual_std)``; slope in decimal vol per unit log return.
    """
    _, r, dv = _joint_windows(vix, index, horizon, start, end)
    slope, intercept = np.polyfit(r, dv, 1)
    resid = dv - (intercept + slope * r)
    return IVSensitivity(float(slope), float(intercept), float(resid.std(ddof=2)))


def _columns(
    underlyings: Mapping[str, UnderlyingMap],
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    if not underlyings:
        raise ValueError("underlyings must name at least one underlying")
    names = tuple(underlyings)
    maps = [underlyings[n] for n in names]
    for name, m in zip(names, maps, strict=True):
        if not isinstance(m, UnderlyingMap):
            raise ValueError(f"underlyings[{name!r}] must be an UnderlyingMap, got {m!r}")
    beta = np.array([m.beta for m in maps])
    resid = np.array([m.residual_vol for m in maps])
    iv_beta = np.array([m.iv_beta for m in maps])
    return names, beta, resid, iv_beta


def historical_moves(
    vix: pd.Series,
    index: pd.Series,
    *,
    horizon: int,
    underlyings: Mapping[str, UnderlyingMap],
    start=None,
    end=None,
    seed: int = 0,
    opens: pd.Series | None = None,
) -> MarketMoves:
    """Overlapping ``horizon``-trading-day windows of the real S&P 500 and VIX.

    On the dates both histories have (S&P 500 ``^GSPC`` closes and Cboe VIX closes, the files in
    ``scenarios/data``: 1990-01-02 .. 2023-12-28), window ``i`` runs from joint date ``d_i`` to
    ``d_{i+h}``: S&P log return ``log(close[d_{i+h}] / close[d_i])``, implied vol change
    ``(VIX[d_{i+h}] - VIX[d_i]) / 100``. Underlying ``u`` gets ``beta_u`` times the S&P return
    plus, when ``|corr_u| < 1``, a seeded Gaussian residual
    ``sqrt(1 - corr_u**2) * vol_u * sqrt(h / 252) * eps``; its IV change is ``iv_beta_u`` times
    the VIX change.

    **Session returns** (``opens`` given): the regular-session (open -> close) log return of the
    first trading day of each window, ``d_{i+1}`` — for a one-day window the day whose close ends
    it — is ``log(close[d_{i+1}] / open[d_{i+1}])``. The opens of the shipped ``^GSPC`` file are
    unreliable early on: the open equals the previous close on 95-98% of 1996-2005 days (43% in
    2006, 9-26% in 2011-2013, almost never from 2014). A day before 2000-01-01 (:data:`RELIABLE_OPENS_FROM`), or whose
    open equals the previous close exactly, or has no usable open, gets the imputed
    ``c * log(close[d_{i+1}] / close[d_i])`` with

    ``c = sqrt(mean(log(C/O)**2) / mean(log(C_d / C_{d-1})**2))``

    measured over the window set's days with a measured open (the same days in numerator and
    denominator; over every measured day of the full histories when the window set has fewer
    than 250). On the shipped histories (1990-01-02 .. 2023-12-28, 8,559 one-day windows, 4,274
    measured sessions 2000-2023): **c = 0.879** (the session carries 77% of the close-to-close
    variance; correlation 0.955). Underlying ``u`` gets ``beta_u`` times the S&P 500 session
    return plus its residual draw (the same ``eps`` as its window return, so the two co-move)
    scaled to a session: ``sqrt(1 - corr_u**2) * vol_u * sqrt(1 / 252) * sqrt(6.5 / 24) * eps``
    (one trading day's residual variance spread evenly over 24 hours, 6.5 of them in session).

    Parameters
    ----------
    vix : pd.Series
        VIX daily closes, index points (:func:`models.market.history.load_vix_history`).
    index : pd.Series
        S&P 500 daily closes (:func:`models.market.history.load_index_history`).
    horizon : int
        Window length in trading days (>= 1).
    underlyings : Mapping[str, UnderlyingMap]
        Column order of the result and how each underlying follows the S&P 500.
    start, end : date-like, optional
        Use only joint dates in ``[start, end]`` (both ends of every window inside).
    seed : int
        Seed of the residual draws (``numpy.random.Generator(PCG64(seed))``).
    opens : pd.Series | None
        S&P 500 daily opens, index points, DatetimeIndex
        (``models.market.history.load_index_ohlc(path)["open"]``); None = no session returns.

    Returns
    -------
    MarketMoves
        ``kind="historical"``, labels = window start dates (ISO), ``S`` = number of joint dates
        minus ``horizon``, uniform probabilities, ``horizon_days = horizon * 365 / 252``;
        ``session_return`` ``(S, U)`` when ``opens`` is given, else None.

    Raises
    ------
    DataError
        If the histories share no more than ``horizon`` dates in the range, or ``opens`` has no
        measured open (2000 on, not the previous close) to measure ``c`` on.
    """
    names, beta, resid, iv_beta = _columns(underlyings)
    dates, sp, vx = _joint_dates(vix, index, horizon, start, end)
    starts = dates[:-horizon]
    r = np.log(sp[horizon:] / sp[:-horizon])
    dv = (vx[horizon:] - vx[:-horizon]) / 100.0
    n = r.size
    h_years = horizon / TRADING_DAYS_PER_YEAR
    eps = Generator(PCG64(seed)).standard_normal((n, len(names)))
    log_return = r[:, None] * beta[None, :] + eps * (resid * math.sqrt(h_years))[None, :]
    session = None
    if opens is not None:
        closes = _clean(index)
        closes = closes[~closes.index.duplicated(keep="last")]
        first = slice(1, n + 1)  # d_{i+1}: the first trading day of window i
        r1 = np.log(sp[first] / sp[:n])
        sess_sp, _ = _session_returns(closes, opens, dates[first], sp[first], r1)
        day_resid = resid * math.sqrt(SESSION_HOURS / 24.0 / TRADING_DAYS_PER_YEAR)
        session = sess_sp[:, None] * beta[None, :] + eps * day_resid[None, :]
    return MarketMoves(
        kind="historical",
        labels=tuple(d.date().isoformat() for d in starts),
        underlyings=names,
        log_return=log_return,
        iv_change=dv[:, None] * iv_beta[None, :],
        horizon_days=horizon * DAYS_PER_YEAR / TRADING_DAYS_PER_YEAR,
        probabilities=np.full(n, 1.0 / n),
        session_return=session,
    )


# ----------------------------------------------------------------------------------------------
# Monte Carlo
# ----------------------------------------------------------------------------------------------


def monte_carlo_moves(
    *,
    underlyings: Mapping[str, UnderlyingMap],
    index_vol: float,
    horizon_days: float,
    n: int,
    seed: int,
    dof: float | None = 4.0,
    iv_sensitivity: float = -0.9,
    iv_noise: float = 0.035,
    session_fraction: float | None = None,
) -> MarketMoves:
    """Correlated Student-t (or Gaussian) moves with the implied vol linked to the index return.

    With ``h = horizon_days / 365``, ``z_0, z_u, e`` independent standard normals and one
    mixing variable ``m = sqrt((dof - 2) / W)``, ``W ~ chi2(dof)`` per scenario (``m = 1`` when
    ``dof`` is None), a multivariate Student-t with unit variance (tail dependence: all
    underlyings share the crash):

    * ``x_SP = index_vol * sqrt(h) * m * z_0``;
    * ``x_u = beta_u * x_SP + sqrt(1 - corr_u**2) * vol_u * sqrt(h) * m * z_u``;
    * ``r = x - log(mean_S exp(x))`` per column: the sample mean of ``exp(r)`` is exactly 1, so
      every underlying (and a forward on it) has zero expected P&L over the scenario set. (An
      analytic ``-var/2`` correction is not available: a Student-t has no exponential moment);
    * ``dVIX/100 = iv_sensitivity * r_SP + iv_noise * sqrt(horizon_days / 30) * e`` and
      ``iv_change_u = iv_beta_u * dVIX/100``.

    Defaults from :func:`estimate_iv_sensitivity` on the shipped histories (1990-2023):
    ``iv_sensitivity = -0.9`` (measured -0.88 over 21-trading-day windows, the VIX's 30-day tenor;
    -1.00 over 5 days, -1.13 over 1 day), ``iv_noise = 0.035`` (residual std 0.035 over 21 trading
    days; the ``sqrt`` scaling gives 0.008 at one trading day against 0.010 measured).

    Parameters
    ----------
    underlyings : Mapping[str, UnderlyingMap]
        Column order and how each underlying follows the S&P 500.
    index_vol : float
        Annualized S&P 500 vol (decimal); the index return's std over the horizon is
        ``index_vol * sqrt(horizon_days / 365)``.
    horizon_days : float
        Horizon in calendar days (> 0).
    n : int
        Number of scenarios.
    seed : int
        Seed of ``numpy.random.Generator(PCG64(seed))``; same seed, same moves.
    dof : float | None
        Student-t degrees of freedom (> 2), or None for Gaussian returns.
    iv_sensitivity : float
        VIX change (decimal vol) per unit S&P 500 log return.
    iv_noise : float
        Std of the unexplained VIX change over 30 calendar days (decimal vol), >= 0.
    session_fraction : float | None
        Share of the horizon's return variance that falls in the regular session of the
        scenario's day, in (0, 1]; None = no session returns. Given, ``session_return =
        log_return * sqrt(session_fraction)`` — the same draw scaled, so the session and the
        horizon move together (intraday and longer-dated candidates keep their co-movement).
        Over one trading day the shipped S&P 500 history gives 0.879**2 = 0.77 (session /
        close-to-close, 2000-2023, :func:`historical_moves`); ``6.5 / 24 / horizon_days`` is the
        clock-time share.

    Returns
    -------
    MarketMoves
        ``kind="monte_carlo"``, labels ``"mc:0" .. "mc:{n-1}"``, uniform probabilities;
        ``session_return`` ``(S, U)`` when ``session_fraction`` is given, else None.
    """
    names, beta, resid, iv_beta = _columns(underlyings)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (math.isfinite(index_vol) and index_vol > 0):
        raise ValueError(f"index_vol must be a finite number > 0, got {index_vol!r}")
    if not (math.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon_days must be a finite number > 0, got {horizon_days!r}")
    if dof is not None and not (math.isfinite(dof) and dof > 2):
        raise ValueError(f"dof must be > 2 (finite variance) or None, got {dof!r}")
    if not math.isfinite(iv_sensitivity):
        raise ValueError(f"iv_sensitivity must be finite, got {iv_sensitivity!r}")
    if not (math.isfinite(iv_noise) and iv_noise >= 0):
        raise ValueError(f"iv_noise must be a finite number >= 0, got {iv_noise!r}")
    if session_fraction is not None and not (
        math.isfinite(session_fraction) and 0 < session_fraction <= 1
    ):
        raise ValueError(
            f"session_fraction must lie in (0, 1] or be None, got {session_fraction!r}"
        )
    u = len(names)
    rng = Generator(PCG64(seed))
    z = rng.standard_normal((n, u + 1))
    e = rng.standard_normal(n)
    if dof is None:
        mix = np.ones(n)
    else:
        mix = np.sqrt((dof - 2.0) / rng.chisquare(dof, n))
    sqrt_h = math.sqrt(horizon_days / DAYS_PER_YEAR)
    x_index = index_vol * sqrt_h * mix * z[:, 0]
    x = x_index[:, None] * beta[None, :] + (mix[:, None] * z[:, 1:]) * (resid * sqrt_h)[None, :]
    r = x - _log_mean_exp(x)[None, :]
    r_index = x_index - _log_mean_exp(x_index[:, None])[0]
    dvix = iv_sensitivity * r_index + iv_noise * math.sqrt(horizon_days / VIX_TENOR_DAYS) * e
    return MarketMoves(
        kind="monte_carlo",
        labels=tuple(f"mc:{i}" for i in range(n)),
        underlyings=names,
        log_return=r,
        iv_change=dvix[:, None] * iv_beta[None, :],
        horizon_days=horizon_days,
        probabilities=np.full(n, 1.0 / n),
        session_return=None if session_fraction is None else r * math.sqrt(session_fraction),
    )


def _log_mean_exp(x: np.ndarray) -> np.ndarray:
    """``log(mean(exp(x), axis=0))`` computed stably, shape ``(columns,)``."""
    top = x.max(axis=0)
    return top + np.log(np.mean(np.exp(x - top[None, :]), axis=0))


# ----------------------------------------------------------------------------------------------
# Stress days
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StressDay:
    """One row of ``models/data/stress_days.csv``.

    Parameters
    ----------
    name : str
        Scenario label.
    date : pd.Timestamp
        The day of the move.
    sp500_prev_close, sp500_close : float | None
        Stated S&P 500 closes (previous trading day, the day); None = take them from the history.
    sp500_source : str
        Where the S&P 500 move comes from.
    vol_index : str
        ``VIX`` or ``VXO`` (the S&P 100 volatility index, for days before 1990).
    vol_before, vol_after : float | None
        Stated vol index levels; None = the VIX closes of the previous trading day and the day.
    vol_source : str
        Where the vol move comes from.
    note : str
        What the day was.
    """

    name: str
    date: pd.Timestamp
    sp500_prev_close: float | None
    sp500_close: float | None
    sp500_source: str
    vol_index: str
    vol_before: float | None
    vol_after: float | None
    vol_source: str
    note: str


def _optional_positive(raw: str) -> float | None:
    if raw == "":
        return None
    value = float(raw)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("must be a finite number > 0")
    return value


def _pair(row: dict[str, str], a: str, b: str) -> tuple[float | None, float | None]:
    x, y = parse_cell(row, a, _optional_positive), parse_cell(row, b, _optional_positive)
    if (x is None) != (y is None):
        raise DataError(f"{row['__where__']}: state both {a} and {b} or neither")
    return x, y


@cache
def stress_days() -> tuple[StressDay, ...]:
    """The named stress days of ``models/data/stress_days.csv`` (sources in its columns).

    Raises
    ------
    DataError
        Malformed file (missing columns, bad numbers, duplicate names, a stated value without a
        source).
    """
    cols = (
        "name", "date", "sp500_prev_close", "sp500_close", "sp500_source",
        "vol_index", "vol_before", "vol_after", "vol_source", "note",
    )  # fmt: skip
    out: list[StressDay] = []
    for row in read_reference_csv("stress_days.csv", cols):
        sp0, sp1 = _pair(row, "sp500_prev_close", "sp500_close")
        v0, v1 = _pair(row, "vol_before", "vol_after")
        for col in ("name", "sp500_source", "vol_source"):
            if not row[col]:
                raise DataError(f"{row['__where__']}, column {col}: empty")
        if row["vol_index"] not in ("VIX", "VXO"):
            raise DataError(f"{row['__where__']}, column vol_index: expected VIX or VXO")
        out.append(
            StressDay(
                name=row["name"],
                date=parse_cell(row, "date", pd.Timestamp),
                sp500_prev_close=sp0,
                sp500_close=sp1,
                sp500_source=row["sp500_source"],
                vol_index=row["vol_index"],
                vol_before=v0,
                vol_after=v1,
                vol_source=row["vol_source"],
                note=row["note"],
            )
        )
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        raise DataError("stress_days.csv: duplicate names")
    return tuple(out)


def _day_change(series: pd.Series, date: pd.Timestamp, what: str, name: str) -> tuple[float, float]:
    """(previous close, close) of ``series`` on ``date``; DataError if the history lacks it."""
    s = pd.Series(series).astype(float).sort_index()
    s = s[s.notna() & (s > 0)]
    if date not in s.index:
        span = f"{s.index[0].date()} .. {s.index[-1].date()}" if len(s) else "empty"
        raise DataError(
            f"stress {name!r} takes the {what} move of {date.date()} from the history, which "
            f"does not cover it ({span}); state it in models/data/stress_days.csv"
        )
    pos = s.index.get_loc(date)
    if pos == 0:
        raise DataError(f"stress {name!r}: the {what} history has no close before {date.date()}")
    return float(s.iloc[pos - 1]), float(s.iloc[pos])


def _stress_values(day: StressDay, vix: pd.Series, index: pd.Series) -> tuple[float, float]:
    """(S&P 500 log return, vol change in decimal) of a named stress day."""
    if day.sp500_prev_close is None:
        sp0, sp1 = _day_change(index, day.date, "S&P 500", day.name)
    else:
        sp0, sp1 = day.sp500_prev_close, day.sp500_close
    if day.vol_before is None:
        v0, v1 = _day_change(vix, day.date, "VIX", day.name)
    else:
        v0, v1 = day.vol_before, day.vol_after
    return math.log(sp1 / sp0), (v1 - v0) / 100.0


def stress_moves(
    names: Sequence[str] | None = None,
    *,
    vix: pd.Series,
    index: pd.Series,
    underlyings: Mapping[str, UnderlyingMap],
    grid: Sequence[tuple[float, float]] = (),
) -> MarketMoves:
    """Named stress days and a grid of (S&P 500 log return, vol change) points.

    Named days come from ``models/data/stress_days.csv``: the S&P 500 log return and VIX change
    of the day are taken from the histories where they cover it, else from the stated levels in
    the file (each with its source column):

    ====================  =================  =======================================
    name                  S&P 500 log ret.   vol change (vol points)
    ====================  =================  =======================================
    1987-10-19            -0.2290 (data)     +113.82 (VXO 36.37 -> 150.19, stated)
    2008-10-15            -0.0947 (data)     +14.12 (VIX 55.13 -> 69.25, data)
    2020-03-16            -0.1277 (data)     +24.86 (VIX 57.83 -> 82.69, data)
    2024-08-05 close      -0.0304 (stated)   +15.18 (VIX 23.39 -> 38.57, data)
    2024-08-05 intraday   -0.0304 (stated)   +49.37 (VIX 16.36 -> 65.73 high, stated)
    ====================  =================  =======================================

    Underlying ``u`` moves by ``beta_u`` times the S&P 500 return (no residual: a stress is
    deterministic) and its IV by ``iv_beta_u`` times the vol change. Grid points
    ``(r, dv)`` are applied the same way and labelled ``"grid r=-0.10 dv=+0.20"``.

    The session return of every stress is its full day's move (``session_return =
    log_return``): a crash day's move is taken to happen in the regular session, which is
    conservative for intraday (0DTE) candidates (:func:`pnl_matrix`): part of a crash day's
    move is often an overnight gap (2020-03-16 opened about 7.5% below the previous close) that
    a position opened in the session does not see.

    Parameters
    ----------
    names : Sequence[str] | None
        Named stresses to include, in this order; None = all rows of the file; ``()`` = none.
    vix, index : pd.Series
        VIX and S&P 500 daily closes (:mod:`models.market.history`).
    underlyings : Mapping[str, UnderlyingMap]
        Column order and how each underlying follows the S&P 500.
    grid : Sequence[tuple[float, float]]
        Extra (log return, IV change in decimal) points.

    Returns
    -------
    MarketMoves
        ``kind="stress"``, ``horizon_days = 1``, uniform probabilities (stresses are not a
        distribution; use :func:`stress_losses` per scenario), ``session_return`` equal to
        ``log_return``.

    Raises
    ------
    ValueError
        Unknown stress name (the message lists the known ones), non-finite grid point, or no
        scenario at all.
    DataError
        A data-derived move whose day the history does not cover.
    """
    cols, beta, _, iv_beta = _columns(underlyings)
    days = {d.name: d for d in stress_days()}
    chosen = list(days) if names is None else [str(x) for x in names]
    unknown = [x for x in chosen if x not in days]
    if unknown:
        raise ValueError(
            f"unknown stress name(s) {', '.join(map(repr, unknown))}; known: {', '.join(days)}"
        )
    labels: list[str] = []
    points: list[tuple[float, float]] = []
    for name in chosen:
        labels.append(name)
        points.append(_stress_values(days[name], vix, index))
    for point in grid:
        r, dv = (float(x) for x in point)
        if not (math.isfinite(r) and math.isfinite(dv)):
            raise ValueError(f"grid point {point!r} must be two finite numbers")
        labels.append(f"grid r={r:+.2f} dv={dv:+.2f}")
        points.append((r, dv))
    if not points:
        raise ValueError("stress_moves: no named stress and no grid point")
    arr = np.array(points)
    log_return = arr[:, :1] * beta[None, :]
    return MarketMoves(
        kind="stress",
        labels=tuple(labels),
        underlyings=cols,
        log_return=log_return,
        iv_change=arr[:, 1:] * iv_beta[None, :],
        horizon_days=1.0,
        probabilities=np.full(len(points), 1.0 / len(points)),
        session_return=log_return,
    )


# ----------------------------------------------------------------------------------------------
# Repricing
# ----------------------------------------------------------------------------------------------


def term_factor(t: np.ndarray | float, *, enabled: bool = True) -> np.ndarray:
    """Scale of a leg's IV change relative to the 30-day (VIX) change: ``sqrt((30/365) / t)``.

    Short-dated implied vols move more than long-dated ones; the square-root-of-time rule
    (vol changes along the term structure roughly proportional to ``1 / sqrt(T)``, as in
    time-weighted vega) maps the 30-day VIX change to expiry ``t``. Clipped to
    ``TERM_FACTOR_BOUNDS`` = [0.25, 2.0] (2x for expiries under 7.5 days, including 0DTE;
    0.25x beyond 480 days). ``enabled=False`` gives 1 (a parallel shift).

    Parameters
    ----------
    t : array_like
        Time to expiry at entry, years.
    """
    t = np.asarray(t, dtype=float)
    if not enabled:
        return np.ones_like(t)
    lo, hi = TERM_FACTOR_BOUNDS
    with np.errstate(divide="ignore"):
        return np.clip(np.sqrt((VIX_TENOR_DAYS / DAYS_PER_YEAR) / np.maximum(t, 0.0)), lo, hi)


@dataclass(frozen=True)
class _Legs:
    """All legs of all candidates, flattened (length ``L``)."""

    col: np.ndarray  # moves column of the leg's underlying
    is_option: np.ndarray
    is_call: np.ndarray
    strike: np.ndarray
    sigma: np.ndarray
    t: np.ndarray
    rate: np.ndarray  # -log(DF) / t
    carry: np.ndarray  # log(F / S) / t = r - q
    spot: np.ndarray
    base: np.ndarray  # value per share at entry (model value; spot for U legs)
    weight: sparse.csr_matrix  # (L, K): quantity * multiplier * fx


def _flatten(candidates: Sequence[Candidate], moves: MarketMoves, multipliers, fx) -> _Legs:
    k = len(candidates)
    mult = np.asarray(multipliers, dtype=float).reshape(-1)
    fxa = np.asarray(fx, dtype=float).reshape(-1)
    if mult.size != k or fxa.size != k:
        raise ValueError(
            f"multipliers ({mult.size}) and fx ({fxa.size}) need one value per candidate ({k})"
        )
    if not (np.all(np.isfinite(mult)) and np.all(mult > 0)):
        raise ValueError("multipliers must be finite and > 0")
    if not (np.all(np.isfinite(fxa)) and np.all(fxa > 0)):
        raise ValueError("fx rates must be finite and > 0")
    rows: list[tuple] = []
    owner: list[int] = []
    for j, c in enumerate(candidates):
        if c.underlying not in moves.underlyings:
            raise ValueError(
                f"candidate {c.id!r}: underlying {c.underlying!r} is not in the market moves "
                f"(have: {', '.join(moves.underlyings)})"
            )
        col = moves.underlyings.index(c.underlying)
        if not (c.t > 0 and c.spot > 0 and c.forward > 0 and 0 < c.discount_factor):
            raise ValueError(
                f"candidate {c.id!r}: needs t > 0, spot > 0, forward > 0 and discount_factor > 0"
            )
        rate, carry = c.rate, c.carry
        for leg, iv in zip(c.legs, c.ivs, strict=True):
            if leg.is_option and not (math.isfinite(iv) and iv >= 0):
                raise ValueError(f"candidate {c.id!r}: leg IV {iv!r} must be finite and >= 0")
            rows.append(
                (
                    col,
                    leg.is_option,
                    leg.right is Right.CALL,
                    leg.strike if leg.is_option else 0.0,
                    iv if leg.is_option else 0.0,
                    c.t,
                    rate,
                    carry,
                    c.spot,
                    leg.quantity * mult[j] * fxa[j],
                )
            )
            owner.append(j)
    n_legs = len(rows)
    if n_legs:
        cols = list(zip(*rows, strict=True))
    else:
        cols = [()] * 10
    col, is_opt, is_call, strike, sigma, t, rate, carry, spot, w = (np.asarray(x) for x in cols)
    col = col.astype(np.intp)
    is_opt = is_opt.astype(bool)
    is_call = is_call.astype(bool)
    strike, sigma, t, rate, carry, spot, w = (
        x.astype(float) for x in (strike, sigma, t, rate, carry, spot, w)
    )
    base = spot.copy()
    if np.any(is_opt):
        o = is_opt
        fwd = spot[o] * np.exp(carry[o] * t[o])
        base[o] = black76_price(fwd, strike[o], t[o], rate[o], sigma[o], is_call[o])
    weight = sparse.csr_matrix(
        (w, (np.arange(n_legs), np.asarray(owner, dtype=np.intp))), shape=(n_legs, k)
    )
    return _Legs(col, is_opt, is_call, strike, sigma, t, rate, carry, spot, base, weight)


def pnl_matrix(
    candidates: Sequence[Candidate],
    moves: MarketMoves,
    *,
    multipliers: Sequence[float],
    fx: Sequence[float],
    term_scaling: bool = True,
    iv_floor: float = 0.01,
) -> np.ndarray:
    """Full-repricing P&L of every candidate in every scenario.

    Per option leg with entry spot ``S``, forward ``F``, discount factor ``D``, time ``t``
    (years), rate ``r = -log(D)/t`` and carry ``b = log(F/S)/t = r - q`` held at their entry
    values, in scenario ``s`` for the leg's underlying column ``u``:

    * ``S' = S exp(r_su)``; ``t' = t - horizon_days / 365``;
    * ``F' = S' exp(b max(t', 0))`` (= ``F exp(r_su)`` at zero horizon, and for futures options
      where ``F = S``; with a positive horizon the forward also rolls down its carry: the S&P 500
      history is a spot price-index return, and the value stays continuous as ``t' -> 0``);
    * ``sigma' = max(sigma + term_factor(t) * dIV_su, min(iv_floor, sigma))``
      (:func:`term_factor`; parallel shift when ``term_scaling`` is False; the floor bounds a
      fall and never lifts a vol above its entry value);
    * value ``exp(-r max(t', 0)) Black(F', K, t', sigma')`` — the intrinsic value at ``S'`` when
      ``t' <= 0``.

    The entry value is the same model at the entry inputs (so a zero move over a zero horizon
    gives exactly zero P&L, whatever mid the leg's ``price`` records). Underlying legs
    (``Right.U``: shares or a future) gain ``S' - S`` per share.
    P&L = ``sum_legs quantity * (V' - V) * multiplier * fx``.

    **Intraday candidates** (life ``t * 365 < 1`` calendar day, e.g. a 0DTE structure entered at
    10:30 and expiring at 16:00, ``t = 5.5 / 24 / 365``) that expire within the horizon
    (``0 < t <= horizon_days / 365``) are held over their own life only, not over the horizon:
    every leg (options and underlying legs alike) is repriced at the candidate's expiry
    (``t' = 0``: the option is worth its intrinsic value at ``S'``; no IV dependence) with
    ``S' = S exp(x_su)`` where, with ``life_hours = t * 365 * 24``,

    * ``x_su = session_return_su * min(sqrt(life_hours / 6.5), 1)`` when ``moves`` carries
      session returns: the share of the regular session (09:30 -> 16:00 ET, 6.5 hours) the
      position is open, variance proportional to session time;
    * ``x_su = log_return_su * sqrt(life_hours / (24 * horizon_days))`` otherwise — the fallback:
      variance proportional to clock time over the horizon (weekends and nights count as time,
      so it understates a session move; state session returns where they exist).

    Repricing a 0DTE position on a whole close-to-close move (1.45 calendar days on average,
    weekends included) would make its tail loss its maximum loss although it is open a few
    hours. Every other candidate — a life of a day or more, an intraday one outliving a shorter
    horizon, any under a zero horizon (an instantaneous shock) — follows the rules above.

    Parameters
    ----------
    candidates : Sequence[Candidate]
        ``K`` candidates; each ``underlying`` must be a column of ``moves``.
    moves : MarketMoves
        ``S`` scenarios; the same row drives every candidate (common random numbers).
        ``moves.session_return`` (optional) drives intraday candidates.
    multipliers : Sequence[float]
        ``(K,)`` contract multipliers (money per point per contract, instrument currency).
    fx : Sequence[float]
        ``(K,)`` account-currency value of one unit of each candidate's currency.
    term_scaling : bool
        Scale each leg's IV change by :func:`term_factor` (default) or shift all expiries equally.
    iv_floor : float
        Lower bound of the shifted IV (decimal, >= 0); a leg priced below it at entry keeps its
        entry IV as the bound.

    Returns
    -------
    np.ndarray
        ``(S, K)`` P&L per contract unit, account currency (positive = gain).

    Raises
    ------
    ValueError
        A candidate's underlying is not in ``moves`` (named), mismatched lengths, bad inputs.

    Notes
    -----
    Vectorized over scenarios and legs in blocks of about 1M scenario-legs; the per-candidate sum
    is a sparse ``(L, K)`` product. Intraday legs only swap their column of returns (one gather
    and one scaling per block).
    """
    if not (math.isfinite(iv_floor) and iv_floor >= 0):
        raise ValueError(f"iv_floor must be a finite number >= 0, got {iv_floor!r}")
    legs = _flatten(candidates, moves, multipliers, fx)
    n_s, n_l, n_k = moves.S, legs.col.size, len(candidates)
    out = np.zeros((n_s, n_k))
    if n_l == 0 or n_s == 0:
        return out
    h = moves.horizon_days / DAYS_PER_YEAR
    t_new = np.maximum(legs.t - h, 0.0)
    # Intraday legs: held to their own expiry on the move of their holding window.
    intra = np.flatnonzero((legs.t * DAYS_PER_YEAR < INTRADAY_DAYS) & (legs.t <= h) & (h > 0))
    session = moves.session_return
    if intra.size:
        t_new[intra] = 0.0
        life_hours = legs.t[intra] * DAYS_PER_YEAR * 24.0
        if session is not None:
            intra_scale = np.minimum(np.sqrt(life_hours / SESSION_HOURS), 1.0)
            intra_src = session
        else:
            intra_scale = np.minimum(np.sqrt(life_hours / (24.0 * moves.horizon_days)), 1.0)
            intra_src = moves.log_return
        intra_col = legs.col[intra]
    grow = np.exp(legs.carry * t_new)  # F'/S'
    shift = term_factor(legs.t, enabled=term_scaling)
    opt = legs.is_option
    floor = np.minimum(iv_floor, legs.sigma)[opt]  # the floor never lifts a vol above entry
    oi = np.flatnonzero(opt)
    ui = np.flatnonzero(~opt)
    step = max(1, _CHUNK_ELEMENTS // n_l)
    for a in range(0, n_s, step):
        b = min(n_s, a + step)
        x = moves.log_return[a:b][:, legs.col]  # (s, L) log(S'/S)
        if intra.size:
            x[:, intra] = intra_src[a:b][:, intra_col] * intra_scale
        ret = np.exp(x)
        change = np.empty((b - a, n_l))
        if ui.size:
            change[:, ui] = legs.spot[ui] * (ret[:, ui] - 1.0)
        if oi.size:
            fwd = legs.spot[oi] * grow[oi] * ret[:, oi]
            sig = np.maximum(
                legs.sigma[oi] + shift[oi] * moves.iv_change[a:b][:, legs.col[oi]], floor
            )
            value = black76_price(
                fwd, legs.strike[oi], t_new[oi], legs.rate[oi], sig, legs.is_call[oi]
            )
            change[:, oi] = value - legs.base[oi]
        out[a:b] = np.asarray(legs.weight.T @ change.T).T
    return out


def stress_losses(pnl: np.ndarray, counts: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """Loss of a book in each scenario (positive = loss), typically the stress rows.

    Parameters
    ----------
    pnl : np.ndarray
        ``(S, K)`` P&L per contract unit (:func:`pnl_matrix`), account currency.
    counts : np.ndarray
        ``(K,)`` contracts of each candidate (signed allowed).
    labels : Sequence[str]
        ``(S,)`` scenario names (``MarketMoves.labels``).

    Returns
    -------
    pd.Series
        ``-(pnl @ counts)`` indexed by label, name ``"loss"``, account currency.
    """
    p = np.asarray(pnl, dtype=float)
    n = np.asarray(counts, dtype=float).reshape(-1)
    labels = list(labels)
    if p.ndim != 2 or p.shape[1] != n.size or p.shape[0] != len(labels):
        raise ValueError(
            f"pnl {p.shape}, counts ({n.size},) and labels ({len(labels)},) do not conform"
        )
    return pd.Series(-(p @ n), index=pd.Index(labels, name="scenario"), name="loss")
