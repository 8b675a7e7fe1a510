"""Loaders for the daily index histories shipped in ``scenarios/data`` (see its README).

* Cboe VIX history: columns ``DATE, OPEN, HIGH, LOW, CLOSE``; only CLOSE is used (OPEN/HIGH/LOW
  are inconsistent on some early rows at the source).
* S&P 500 (``^GSPC``) daily OHLCV: columns ``Date, Open, High, Low, Close, Adj Close, Volume``;
  ``Close`` is the price index (no dividends).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from models.errors import DataError
from models.files import read_bounded

__all__ = ["load_index_history", "load_index_ohlc", "load_vix_history", "load_wti_history"]

#: Largest history read (bytes, uncompressed): the shipped 1927-2023 S&P 500 file is about
#: 2 MB; a larger file, a gzip bomb or a FIFO is refused before pandas parses it.
MAX_HISTORY_BYTES = 50_000_000


def _read_csv(path: str | Path, what: str, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` of a bounded read of ``path`` (plain or gzip; see :func:`read_bounded`).

    Raises
    ------
    DataError
        Not a regular file, over :data:`MAX_HISTORY_BYTES`, corrupt gzip, or not parseable CSV.
    """
    data = read_bounded(path, MAX_HISTORY_BYTES, f"{what} history", gunzip=True)
    try:
        return pd.read_csv(io.BytesIO(data), **kwargs)
    except (ValueError, OverflowError) as exc:  # ParserError, EmptyDataError, UnicodeDecodeError
        raise DataError(f"{path}: cannot read {what} history ({exc})") from None


def _load(path: str | Path, date_col: str, value_col: str, what: str) -> pd.Series:
    df = _read_csv(path, what)
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
        Unreadable, not a regular or over :data:`MAX_HISTORY_BYTES` file, missing columns, or no
        usable rows.
    """
    return _load(path, "DATE", "CLOSE", "VIX")


def load_index_history(path: str | Path) -> pd.Series:
    """S&P 500 daily closes (index points) indexed by date.

    Raises
    ------
    DataError
        Unreadable, not a regular or over :data:`MAX_HISTORY_BYTES` file, missing columns, or no
        usable rows.
    """
    return _load(path, "Date", "Close", "S&P 500")


def load_index_ohlc(path: str | Path) -> pd.DataFrame:
    """S&P 500 daily ``open, high, low, close`` (index points) indexed by date.

    Rows with a missing or non-positive close are dropped; ``open``/``high``/``low`` are kept as
    given (before 1962 they equal the close; before about 2000 ``open`` is often the previous
    close in this source, so open-to-close moves are only meaningful from 2000 on).

    Raises
    ------
    DataError
        Unreadable, not a regular or over :data:`MAX_HISTORY_BYTES` file, missing columns, or no
        usable rows.
    """
    df = _read_csv(path, "S&P 500")
    cols = {"Date", "Open", "High", "Low", "Close"}
    missing = cols - set(df.columns)
    if missing:
        raise DataError(f"{path}: S&P 500 history lacks column(s) {', '.join(sorted(missing))}")
    out = pd.DataFrame(
        {c.lower(): pd.to_numeric(df[c], errors="coerce").to_numpy() for c in cols - {"Date"}},
        index=pd.to_datetime(df["Date"], errors="coerce"),
    )[["open", "high", "low", "close"]]
    out = out[out.index.notna() & out["close"].notna() & (out["close"] > 0)].sort_index()
    out = out[~out.index.duplicated(keep="last")]
    if out.empty:
        raise DataError(f"{path}: S&P 500 history has no usable rows")
    return out


def load_wti_history(path: str | Path) -> pd.Series:
    """WTI crude spot daily closes (USD per barrel, FRED ``DCOILWTICO``) indexed by date.

    Holiday rows (``.`` at the source) are dropped.

    Raises
    ------
    DataError
        Unreadable, not a regular or over :data:`MAX_HISTORY_BYTES` file, missing columns, or no
        usable rows.
    """
    df = _read_csv(path, "WTI", na_values=".")
    if "DCOILWTICO" not in df.columns:
        raise DataError(f"{path}: WTI history lacks column DCOILWTICO")
    date_col = "DATE" if "DATE" in df.columns else df.columns[0]
    s = pd.Series(
        pd.to_numeric(df["DCOILWTICO"], errors="coerce").to_numpy(),
        index=pd.to_datetime(df[date_col], errors="coerce", format="mixed"),
        name="DCOILWTICO",
    )
    s = s[s.index.notna() & s.notna() & (s > 0)].sort_index()
    s = s[~s.index.duplicated(keep="last")]
    if s.empty:
        raise DataError(f"{path}: WTI history has no usable rows")
    return s
