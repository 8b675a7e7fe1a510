"""Variance time: how much of a listed expiry's implied variance belongs to one trading session.

A 0DTE trade is entered during a session and expires at its close, but the shortest expiry a
chain quoted after the close lists is the next session's close (on a Friday chain, Monday's), and
its implied variance covers the *whole* interval to it: the overnight (or weekend) gap before the
next open **and** the session. The realized move the income model gives a 0DTE trade is the
session's own open-to-close move (:attr:`models.measure.physical.FilteredHistory.session_z`, variance
share ``c**2`` of a close-to-close day). Pricing the trade at the first expiry's whole variance
per session therefore compares implied variance that includes the gap with realized variance
that does not (the ``close_to_close`` basis, kept for comparison).

The ``session`` basis puts both on the same footing with a variance-time model measured from the
S&P 500 history (VIX-standardized squared returns, so calm and turbulent years weigh alike):

* the implied variance ``w_first`` of the first listed expiry is spread over the trading days
  to it in proportion to each day's measured close-to-close variance ``v(g)``, relative to an
  average day, by the calendar nights ``g`` before its open (``v(1)`` for a day after one night,
  ``v(2+)`` after a weekend or holiday);
* one session carries ``c**2`` of an average day (the income model's own session share);
* a trade entered ``h`` hours before the close of a 6.5-hour session sees ``h / 6.5`` of it
  (a uniform trading-time clock inside the session: the same clock the income model's
  Brownian bridge uses, so implied and realized stay comparable; the U-shaped intraday volatility
  pattern is not modelled on either side).

So ``w_0DTE(k) = w_first(k) * c**2 * (h / 6.5) / sum_d v(g_d)`` where the sum runs over the
trading days from the valuation to the first expiry (a valuation during a session counts the rest
of that session as ``c**2 * remaining / 6.5``). The ``close_to_close`` basis is
``w_first(k) * (h / 6.5) / n_sessions`` (every unit of the first expiry's variance attributed to
sessions).

Measured on the shipped ``^GSPC`` and Cboe VIX files: ``c**2 = 0.755`` (usable opening prints
2008–2010 and 2014–2023, see :func:`models.measure.physical.filtered_history`), ``v(1) = 0.975`` and
``v(2+) = 1.092`` (8,559 days 1990-01-03 … 2023-12-28). A Friday-close chain's Monday expiry gives
a same-session trade ``0.755 / 1.092 = 0.691`` of its variance per session (vol x 0.831),
against 1 on the ``close_to_close`` basis.

Published evidence on the 0DTE variance premium (abstracts; the papers' numerical magnitudes were
not available to this project, so none are used as inputs): Vilkov (2023, "0DTE Trading Rules",
SSRN 4641356; SPX 0DTEs 09/2016–01/2024, positions opened at 10:00 and held to the close):
"0DTEs deliver significant variance risk premium for the whole sample period", while the mean
returns of most strategies are statistically insignificant; Almeida, Freire & Hizmeri (2024,
"0DTE Asset Pricing", SSRN 4701401): a high intraday variance risk premium, mainly compensation
for upside risk; Johannes, Kaeck, Seeger & Shah (2024, "Expected 1DTE Option Returns"): 1DTE call
and put returns insignificant on most days, significant on macroeconomic announcement days.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import DataError, ModelError

__all__ = [
    "SESSION_HOURS",
    "VarianceTime",
    "default_variance_time",
    "measure_variance_time",
    "session_variance_scale",
    "trading_days_between",
]

#: Length of the regular US equity-index options session, hours (09:30–16:00 ET).
SESSION_HOURS = 6.5
_OPEN = time(9, 30)
_CLOSE = time(16, 0)


@dataclass(frozen=True)
class VarianceTime:
    """Measured variance-time shares of the S&P 500 (all relative to an average trading day).

    Parameters
    ----------
    session_share : float
        ``c**2``: open-to-close variance of a session / close-to-close variance of an average day.
    day_one_night : float
        ``v(1)``: close-to-close variance of a day whose open follows one calendar night.
    day_long_gap : float
        ``v(2+)``: close-to-close variance of a day after a weekend or holiday (2+ nights).
    n_days : int
        Days in the measurement (0 for a stated, unmeasured model).
    window : str
        Measurement window and source.
    """

    session_share: float
    day_one_night: float = 1.0
    day_long_gap: float = 1.0
    n_days: int = 0
    window: str = "stated"

    def __post_init__(self) -> None:
        for name in ("session_share", "day_one_night", "day_long_gap"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ModelError(f"VarianceTime.{name} must be finite and > 0, got {v!r}")

    def day_variance(self, nights: int) -> float:
        """``v(g)`` of a trading day whose open follows ``nights`` calendar nights."""
        return self.day_one_night if nights <= 1 else self.day_long_gap

    def describe(self) -> str:
        """One line: the shares and their window."""
        return (
            f"session share c^2 = {self.session_share:.3f}, day variance after one night "
            f"{self.day_one_night:.3f} and after a weekend/holiday {self.day_long_gap:.3f} "
            f"(relative to an average day; {self.window})"
        )


@lru_cache(maxsize=1)
def default_variance_time() -> VarianceTime:
    """The shipped measurement (``models/data/variance_time.csv``), for scenarios without a
    ``market.history`` to measure it from.

    Raises
    ------
    DataError
        Unreadable file or a bad row.
    """
    path = Path(__file__).resolve().parents[1] / "data" / "variance_time.csv"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            (row,) = list(csv.DictReader(fh))
        return VarianceTime(
            session_share=float(row["session_share"]),
            day_one_night=float(row["day_one_night"]),
            day_long_gap=float(row["day_long_gap"]),
            n_days=int(row["n_days"]),
            window=f"shipped measurement: {row['window']}",
        )
    except (OSError, KeyError, TypeError, ValueError, ModelError) as exc:
        raise DataError(f"{path}: cannot read the variance-time row ({exc})") from None


def measure_variance_time(
    ohlc: pd.DataFrame, vix: pd.Series, *, session_share: float, start=None, end=None
) -> VarianceTime:
    """Measure the day-variance shares ``v(1)``, ``v(2+)`` from daily closes and the VIX.

    Each close-to-close log return is standardized by the previous close's VIX
    (``VIX / 100 / sqrt(252)``); ``v(g)`` is the mean squared standardized return of the days
    after ``g`` calendar nights over the mean of all days.

    Parameters
    ----------
    ohlc : pd.DataFrame
        Daily S&P 500 with a ``close`` column (index points), indexed by date.
    vix : pd.Series
        Cboe VIX closes (index points), indexed by date.
    session_share : float
        ``c**2`` to carry (the income model's own measurement,
        ``FilteredHistory.session_scale ** 2``), so implied and realized session variance use
        the same figure.
    start, end : date-like, optional
        Window (inclusive); default the overlap of the two series.

    Returns
    -------
    VarianceTime

    Raises
    ------
    ModelError
        Fewer than 250 days with a previous VIX close in the window.
    """
    close = ohlc["close"].astype(float)
    if start is not None:
        close = close[close.index >= pd.Timestamp(start)]
    if end is not None:
        close = close[close.index <= pd.Timestamp(end)]
    prev_vix = vix.reindex(close.index).shift(1)
    r = np.log(close / close.shift(1))
    z2 = (r / (prev_vix / 100.0 / math.sqrt(252.0))) ** 2
    nights = pd.Series(close.index, index=close.index).diff().dt.days
    ok = z2.notna() & np.isfinite(z2) & nights.notna()
    if int(ok.sum()) < 250:
        raise ModelError(f"variance time: only {int(ok.sum())} days with a previous VIX close")
    z2, nights = z2[ok], nights[ok]
    avg = float(z2.mean())
    one = float(z2[nights <= 1].mean()) / avg
    long = float(z2[nights > 1].mean()) / avg
    lo, hi = z2.index[0].date(), z2.index[-1].date()
    return VarianceTime(
        session_share=float(session_share),
        day_one_night=one,
        day_long_gap=long,
        n_days=int(ok.sum()),
        window=f"S&P 500 closes / previous VIX close {lo}..{hi}, {int(ok.sum())} days",
    )


def trading_days_between(valuation: datetime, expiry: datetime) -> list[tuple[date, int]]:
    """Trading days after ``valuation``'s date up to ``expiry``'s date, with nights before each.

    NYSE closures come from ``models/data/nyse_holidays.csv`` where it covers the years, else
    weekdays are taken as trading days.

    Returns
    -------
    list[tuple[date, int]]
        ``(day, calendar nights since the previous trading day)``; the first day's gap counts
        from the valuation date.
    """
    from models import calendar as cal

    start, stop = valuation.date() + timedelta(days=1), expiry.date()
    if stop < start:
        return []
    lo, hi = cal.holiday_years()
    if lo <= start.year and stop.year <= hi:
        days = cal.trading_days(start, stop)
    else:
        rng = np.arange(np.datetime64(start), np.datetime64(stop + timedelta(days=1)))
        days = [d.astype(object) for d in rng[np.is_busday(rng)]]
    out, prev = [], valuation.date()
    for d in days:
        out.append((d, (d - prev).days))
        prev = d
    return out


def session_variance_scale(
    valuation: datetime,
    first_expiry: datetime,
    hours: float,
    vt: VarianceTime | None,
    *,
    session_hours: float = SESSION_HOURS,
) -> float:
    """Factor on the first listed expiry's total variance for a 0DTE trade ``hours`` long.

    Parameters
    ----------
    valuation : datetime
        Time the chain was quoted (exchange local time).
    first_expiry : datetime
        The first listed expiry after ``valuation`` (its variance is scaled).
    hours : float
        Hours from the trade's entry to the close (10:30 → 16:00 is 5.5).
    vt : VarianceTime | None
        The measured shares (``session`` basis); ``None`` gives the ``close_to_close`` basis:
        ``(hours / session_hours) / n_sessions``.
    session_hours : float
        Length of a session, hours.

    Returns
    -------
    float
        ``w_0DTE / w_first`` at the same log-moneyness (see the module notes).

    Raises
    ------
    ModelError
        ``hours`` outside (0, session_hours] or no trading time before the expiry.
    """
    if not (0 < hours <= session_hours):
        raise ModelError(f"a 0DTE trade lasts (0, {session_hours}] hours, got {hours!r}")
    days = trading_days_between(valuation, first_expiry)
    # a valuation before today's close on a trading day: the rest of today's session counts
    today_left = 0.0
    vd = valuation.date()
    if np.is_busday(np.datetime64(vd)) and valuation.time() < _CLOSE:
        start = max(valuation, datetime.combine(vd, _OPEN))
        today_left = (datetime.combine(vd, _CLOSE) - start).total_seconds() / 3600.0
        today_left = min(max(today_left, 0.0), session_hours) / session_hours
    if vt is None:  # every unit of the first expiry's variance attributed to its sessions
        start = np.datetime64(valuation.date() + timedelta(days=1))
        sessions = int(
            np.busday_count(start, np.datetime64(first_expiry.date() + timedelta(days=1)))
        )
        return (hours / session_hours) / max(sessions, 1)
    units = sum(vt.day_variance(g) for _, g in days) + vt.session_share * today_left
    if units <= 0:
        raise ModelError("no trading session between the valuation and the first expiry")
    return vt.session_share * (hours / session_hours) / units
