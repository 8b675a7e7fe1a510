"""Loaders for the daily index histories shipped in ``scenarios/data`` (see its README).

* Cboe VIX history: columns ``DATE, OPEN, HIGH, LOW, CLOSE``; only CLOSE is used (OPEN/HIGH/LOW
  are inconsistent on some early rows at the source).
* S&P 500 (``^GSPC``) daily OHLCV: columns ``Date, Open, High, Low, Close, Adj Close, Volume``;
  ``Close`` is the price index (no dividends).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.errors import DataError

__all__ = ["load_index_history", "load_vix_history"]


def _load(path: str | Path, date_col: str, value_col: str, what: str) -> pd.Series:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read {what} history ({exc})") from None
    missing = {date_col, value_col} - set(df.columns)
    if missing:
        raise DataError(f"{path}: {what} history lacks column(s) {', '.join(sorted(missing))}")
    s = pd.Series(
        pd.to_numeric(df[value_col], errors="coerce").to_numpy(),
        index=pd.to_datetime(df[date_col], errors="coerce"),
        name=value_col,
    )
    s = s[s.index.notna() & s.notna() & (s > 0)].sort_index()
    s = s[~s.index.duplicated(keep="last")]
    if s.empty:
        raise DataError(f"{path}: {what} history has no usable rows")
    return s


def load_vix_history(path: str | Path) -> pd.Series:
    """VIX daily closes (index points) indexed by date.

    Raises
    ------
    DataError
        Unreadable file, missing columns, or no usable rows.
    """
    return _load(path, "DATE", "CLOSE", "VIX")


def load_index_history(path: str | Path) -> pd.Series:
    """S&P 500 daily closes (index points) indexed by date.

    Raises
    ------
    DataError
        Unreadable file, missing columns, or no usable rows.
    """
    return _load(path, "Date", "Close", "S&P 500")
