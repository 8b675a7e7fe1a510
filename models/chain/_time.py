"""Time conventions shared by the chain and surface modules.

Times are naive ``datetime`` values in the exchange's local time. Time to expiry is calendar time,
``seconds / (365 * 86400)`` years. An expiry given as a bare date means 16:00 local on that date.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd

from models.errors import DataError

__all__ = ["SECONDS_PER_YEAR", "EXPIRY_TIME", "to_timestamp", "to_datetime_ns", "year_fraction"]

SECONDS_PER_YEAR = 365.0 * 86400.0
EXPIRY_TIME = time(16, 0)


def to_timestamp(value: object, *, what: str = "time") -> pd.Timestamp:
    """Convert ``value`` to a naive :class:`pandas.Timestamp` (a bare date means 16:00).

    Accepts ``datetime``, ``date``, ``pandas.Timestamp``, ``numpy.datetime64`` and ISO strings
    (``"2026-02-20"``, ``"2026-02-20T16:00"``).

    Raises
    ------
    DataError
        If the value cannot be parsed or carries a time zone.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            ts = pd.Timestamp(text)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"cannot parse {what} {value!r} (expected ISO, e.g. 2026-01-30T16:00)"
            ) from exc
        if len(text) <= 10:  # bare date
            ts = ts.normalize() + pd.Timedelta(hours=EXPIRY_TIME.hour, minutes=EXPIRY_TIME.minute)
    elif isinstance(value, datetime | pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(value)
    elif isinstance(value, date):
        ts = pd.Timestamp(datetime.combine(value, EXPIRY_TIME))
    else:
        raise DataError(f"{what} must be a datetime or ISO string, got {type(value).__name__}")
    if ts is pd.NaT or pd.isna(ts):
        raise DataError(f"{what} is missing (NaT)")
    if ts.tzinfo is not None:
        raise DataError(f"{what} {ts} carries a time zone; use naive exchange-local time")
    return ts


_MIN_TIME = pd.Timestamp("1900-01-01")
_MAX_TIME = pd.Timestamp("2200-01-01")


def to_datetime_ns(values: object) -> pd.Series:
    """Parse datetimes leniently to a naive ``datetime64[ns]`` Series (NaT where unusable).

    Unparseable values and dates outside 1900–2200 become NaT (they are then reported as bad
    contracts rather than raising).

    Raises
    ------
    DataError
        If the values carry a time zone.
    """
    s = pd.Series(pd.to_datetime(pd.Series(values).to_numpy(), errors="coerce", format="mixed"))
    if getattr(s.dt, "tz", None) is not None:
        raise DataError("option expiries carry a time zone; use naive exchange-local times")
    s = s.where((s >= _MIN_TIME) & (s <= _MAX_TIME))
    return s.astype("datetime64[ns]")


def year_fraction(start: pd.Timestamp, end: object) -> float | np.ndarray:
    """Calendar years from ``start`` to ``end`` (seconds / (365 * 86400)).

    ``end`` may be a scalar (returns a float) or array-like of datetimes (returns an ndarray of
    the same length, NaN where ``end`` is missing).
    """
    scalar = np.ndim(end) == 0 and not isinstance(end, pd.Series | pd.Index)
    ends = pd.to_datetime(pd.Series(np.atleast_1d(end) if scalar else end)).to_numpy(
        "datetime64[ns]"
    )
    delta = ends - np.datetime64(pd.Timestamp(start).to_datetime64(), "ns")
    out = delta.astype(np.int64) / 1e9 / SECONDS_PER_YEAR
    out[np.isnat(delta)] = np.nan
    return float(out[0]) if scalar else out
