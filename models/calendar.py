"""NYSE trading days (full-day closures from ``models/data/nyse_holidays.csv``).

The tracker counts a month's elapsed and remaining trading days with these: the pro-rata
target after ``e`` of ``N`` trading days is ``target × e / N``.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.errors import DataError

__all__ = ["holiday_years", "month_trading_days", "trading_days"]

_FILE = Path(__file__).resolve().parent / "data" / "nyse_holidays.csv"


@lru_cache(maxsize=1)
def _holidays() -> tuple[date, ...]:
    try:
        with _FILE.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"{_FILE}: cannot read ({exc.strerror})") from None
    out = []
    for i, row in enumerate(rows, start=2):
        try:
            out.append(date.fromisoformat(row["date"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{_FILE.name} line {i}: date is not an ISO date") from None
    return tuple(sorted(out))


def holiday_years() -> tuple[int, int]:
    """First and last calendar year the holiday file covers (inclusive)."""
    h = _holidays()
    return h[0].year, h[-1].year


def trading_days(start: date, end: date) -> list[date]:
    """NYSE trading days in ``[start, end]`` (weekdays that are not full-day closures).

    Raises
    ------
    DataError
        When the range leaves the years ``models/data/nyse_holidays.csv`` covers (source: the
        NYSE's published holiday calendar; add the year's rows to extend it).
    """
    lo, hi = holiday_years()
    if start.year < lo or end.year > hi:
        raise DataError(
            f"no NYSE holiday data for {start.year}-{end.year} (models/data/nyse_holidays.csv "
            f"covers {lo}-{hi}); add the year's closures to the file"
        )
    if end < start:
        return []
    days = np.arange(np.datetime64(start), np.datetime64(end + timedelta(days=1)))
    ok = np.is_busday(days, holidays=np.array(_holidays(), dtype="datetime64[D]"))
    return [d.astype(object) for d in days[ok]]


def month_trading_days(day: date) -> list[date]:
    """NYSE trading days of the calendar month containing ``day``."""
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return trading_days(first, nxt - timedelta(days=1))
