"""Time conventions shared by the chain and surface modules.

Times are naive ``datetime`` values in the exchange's local time. Time to expiry is calendar time,
``seconds / (365 * 86400)`` years. An expiry given as a bare date means 16:00 local on that date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from models.errors import DataError

__all__ = [
    "SECONDS_PER_YEAR",
    "EXPIRY_TIME",
    "parse_cboe_download_time",
    "to_timestamp",
    "to_datetime_ns",
    "year_fraction",
]

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


_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
#: Hours to add to a US time-zone clock reading to get US/Eastern (the zones move together).
_TZ_TO_EASTERN = {
    "ET": 0,
    "EST": 0,
    "EDT": 0,
    "CT": 1,
    "CST": 1,
    "CDT": 1,
    "MT": 2,
    "MST": 2,
    "MDT": 2,
    "PT": 3,
    "PST": 3,
    "PDT": 3,
}
_CBOE_DATE = re.compile(
    r"Date:\s*"
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s+)?"  # optional weekday
    r"(?P<month>[A-Za-z]{3,9})\.?\s+"
    r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s*,?\s*"
    r"(?P<year>\d{4})\s*,?\s*"
    r"(?:at\s+)?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*"
    r"(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?"
    r"(?:\s*(?P<tz>[A-Z]{2,4})\b(?!:))?"
)


def parse_cboe_download_time(text: str) -> datetime | None:
    """The download time stamped on a Cboe delayed-quotes export, naive US/Eastern.

    Accepts the layouts Cboe has used, with or without commas and ``at``, full or abbreviated
    month names, 12- or 24-hour clocks and an optional US time zone::

        Date: May 16, 2025 at 7:23 PM EDT
        Date: June 11, 2022, 8:47 PM EDT
        Date: February 5 2022, 8:09 PM EST
        Date: Mar 8 2025 11:05 AM

    Parameters
    ----------
    text : str
        The header lines of the export (the ``Date:`` stamp is searched in them).

    Returns
    -------
    datetime | None
        The stamp as naive US/Eastern time (a Central/Mountain/Pacific stamp is shifted to
        Eastern), or None when there is no ``Date:`` stamp.

    Raises
    ------
    DataError
        A ``Date:`` stamp that names an impossible date or time, or a time zone other than a
        US one (ET/EST/EDT, CT, MT, PT and their standard/daylight forms).
    """
    m = _CBOE_DATE.search(text)
    if m is None:
        return None
    stamp = m.group(0).strip()
    month = _MONTHS.get(m.group("month").lower())
    if month is None:
        raise DataError(f"unknown month {m.group('month')!r} in the download stamp {stamp!r}")
    hour, minute = int(m.group("hour")), int(m.group("minute"))
    second = int(m.group("second") or 0)
    ampm = (m.group("ampm") or "").replace(".", "").replace(" ", "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            raise DataError(f"hour {hour} with {ampm} in the download stamp {stamp!r}")
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    tz = (m.group("tz") or "").upper()
    if tz and tz not in _TZ_TO_EASTERN:
        raise DataError(
            f"download stamp {stamp!r} is in time zone {tz}; expected US Eastern (EST/EDT)"
        )
    try:
        when = datetime(int(m.group("year")), month, int(m.group("day")), hour, minute, second)
    except ValueError as exc:
        raise DataError(f"impossible download stamp {stamp!r} ({exc})") from None
    return when + timedelta(hours=_TZ_TO_EASTERN.get(tz, 0))
