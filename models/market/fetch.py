"""Conversion of data-client responses (yfinance, tastytrade) into thetaplan's file formats.

Every function here takes plain data in the shape the client returns (pandas frames, dicts of the
API's JSON) and returns frames in a format the project already reads, so that tests feed recorded
responses and no network is needed:

* option chains → the tidy CSV of :mod:`models.market.chain.loaders` (one row per contract, with
  the underlying price and a valuation time), read by ``thetaplan chain`` and scenario chains;
* daily histories → the shipped history formats of :mod:`models.market.history`: S&P 500
  ``Date, Open, High, Low, Close, Adj Close, Volume`` and Cboe VIX ``DATE, OPEN, HIGH, LOW,
  CLOSE`` (6 decimals).

The clients themselves are called in :mod:`models.market.fetch_sources`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import DataError
from models.market.chain.loaders import TIDY_COLUMNS

__all__ = [
    "YF_CHAIN_COLUMNS",
    "HISTORY_FORMATS",
    "yfinance_chain_frame",
    "yfinance_history_frame",
    "tastytrade_chain_frame",
    "select_expiries",
    "write_frame",
]

#: Columns of yfinance's ``Ticker.option_chain(date).calls`` / ``.puts`` frames that are used
#: (yfinance 1.x also returns lastTradeDate, lastPrice, change, percentChange, inTheMoney,
#: contractSize and currency).
YF_CHAIN_COLUMNS = ("contractSymbol", "strike", "bid", "ask", "volume", "openInterest")

#: The shipped history formats: file columns and how the yfinance frame's columns map to them.
HISTORY_FORMATS = {
    "index": {
        "columns": ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"],
        "from": ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"],
        "float_format": None,
    },
    "vix": {
        "columns": ["DATE", "OPEN", "HIGH", "LOW", "CLOSE"],
        "from": ["Date", "Open", "High", "Low", "Close"],
        "float_format": "%.6f",
    },
}


def _tidy(rows: pd.DataFrame, underlying: str, spot: float, valuation_time: datetime):
    """Tidy-CSV frame (columns :data:`TIDY_COLUMNS` that hold data) from per-contract rows."""
    if not np.isfinite(spot) or spot <= 0:
        raise DataError(f"{underlying}: the underlying price {spot!r} is not a positive number")
    out = pd.DataFrame(
        {
            "underlying": underlying,
            "valuation_time": pd.Timestamp(valuation_time).isoformat(),
            "spot": repr(float(spot)),
        },
        index=rows.index,
    )
    for col in TIDY_COLUMNS[3:]:
        if col in rows.columns:
            out[col] = rows[col]
    return out.sort_values(["expiry", "right", "strike"], kind="stable").reset_index(drop=True)


def select_expiries(
    expiries: list[str],
    valuation_date: object,
    *,
    wanted: list[str] | None = None,
    max_dte: int | None = None,
) -> list[str]:
    """The expiries (ISO dates) to fetch: after the valuation date, the wanted ones, within DTE.

    Parameters
    ----------
    expiries : list of str
        Expiration dates the source lists (``YYYY-MM-DD``).
    valuation_date : date-like
        Quotes' date; expiries on or before it are left out (expired at 16:00).
    wanted : list of str, optional
        Only these expiries (each must be listed by the source).
    max_dte : int, optional
        Only expiries at most this many calendar days after ``valuation_date``.

    Returns
    -------
    list of str
        Sorted ISO dates.

    Raises
    ------
    DataError
        A wanted expiry the source does not list, or no expiry left.
    """
    day = pd.Timestamp(valuation_date).normalize()
    listed = sorted({pd.Timestamp(e).date().isoformat() for e in expiries})
    if wanted:
        want = sorted({pd.Timestamp(w).date().isoformat() for w in wanted})
        missing = [w for w in want if w not in listed]
        if missing:
            raise DataError(
                f"expiries {', '.join(missing)} are not listed by the source "
                f"({len(listed)} listed, {listed[0] if listed else '-'} … "
                f"{listed[-1] if listed else '-'})"
            )
        listed = want
    out = [e for e in listed if pd.Timestamp(e) > day]
    if max_dte is not None:
        out = [e for e in out if (pd.Timestamp(e) - day).days <= max_dte]
    if not out:
        raise DataError("no expiry left to fetch (check --expiries / --max-dte)")
    return out


def yfinance_chain_frame(
    chains: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    *,
    underlying: str,
    spot: float,
    valuation_time: datetime,
) -> pd.DataFrame:
    """Tidy chain from yfinance ``option_chain(date)`` responses.

    Parameters
    ----------
    chains : mapping of str to (DataFrame, DataFrame)
        Expiration date (``YYYY-MM-DD``) → the ``(calls, puts)`` frames of
        ``yfinance.Ticker(symbol).option_chain(date)`` (columns :data:`YF_CHAIN_COLUMNS` used;
        ``impliedVolatility`` kept as ``source_iv``).
    underlying : str
        Symbol written in the file (``SPX``, ``XSP``, ``SPY``).
    spot : float
        Underlying price (index points / USD).
    valuation_time : datetime
        Naive exchange-local time of the quotes.

    Returns
    -------
    DataFrame
        Tidy-CSV columns; each expiry at 16:00 on its date (PM settlement; SPX AM-settled
        monthlies are treated the same, as in the loader).

    Raises
    ------
    DataError
        No expiry, a frame without the needed columns, or no contract at all.
    """
    if not chains:
        raise DataError(f"{underlying}: the source returned no expiry")
    parts = []
    for exp, pair in chains.items():
        for right, frame in zip(("C", "P"), pair, strict=True):
            if frame is None or not isinstance(frame, pd.DataFrame):
                raise DataError(f"{underlying} {exp}: the {right} side is not a table")
            if frame.empty:
                continue
            missing = [c for c in YF_CHAIN_COLUMNS if c not in frame.columns]
            if missing:
                raise DataError(f"{underlying} {exp}: response lacks column(s) {missing}")
            part = pd.DataFrame(
                {
                    "expiry": f"{pd.Timestamp(exp):%Y-%m-%d}T16:00:00",
                    "strike": pd.to_numeric(frame["strike"], errors="coerce"),
                    "right": right,
                    "bid": pd.to_numeric(frame["bid"], errors="coerce"),
                    "ask": pd.to_numeric(frame["ask"], errors="coerce"),
                    "open_interest": pd.to_numeric(frame["openInterest"], errors="coerce"),
                    "volume": pd.to_numeric(frame["volume"], errors="coerce"),
                    "symbol": frame["contractSymbol"].astype(str),
                }
            )
            if "impliedVolatility" in frame.columns:
                part["source_iv"] = pd.to_numeric(frame["impliedVolatility"], errors="coerce")
            parts.append(part)
    if not parts:
        raise DataError(f"{underlying}: the source returned expiries without any contract")
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows["strike"].notna() & (rows["strike"] > 0)]
    if rows.empty:
        raise DataError(f"{underlying}: no contract with a positive strike in the response")
    return _tidy(rows, underlying, spot, valuation_time)


def yfinance_history_frame(history: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A shipped-format history frame from ``yfinance.Ticker(sym).history(auto_adjust=False)``.

    Parameters
    ----------
    history : DataFrame
        Indexed (or with a column) ``Date`` (tz-aware exchange dates), columns ``Open, High, Low,
        Close, Adj Close, Volume`` (``Dividends``/``Stock Splits`` ignored).
    kind : {"index", "vix"}
        ``"index"``: the S&P 500 file format (``Date, Open, High, Low, Close, Adj Close,
        Volume``; a missing ``Adj Close`` is the close, a price index). ``"vix"``: the Cboe VIX
        file format (``DATE, OPEN, HIGH, LOW, CLOSE``).

    Returns
    -------
    DataFrame
        Dates as ``YYYY-MM-DD`` strings, sorted, one row per date (the last kept), rows without a
        positive close dropped.

    Raises
    ------
    DataError
        Unknown kind, missing columns or no usable row.
    """
    if kind not in HISTORY_FORMATS:
        raise DataError(f"unknown history kind {kind!r}; choose index or vix")
    spec = HISTORY_FORMATS[kind]
    if not isinstance(history, pd.DataFrame) or history.empty:
        raise DataError(f"the {kind} history response is empty")
    df = history.reset_index() if "Date" not in history.columns else history.copy()
    if "Adj Close" not in df.columns and "Close" in df.columns:
        df["Adj Close"] = df["Close"]
    missing = [c for c in spec["from"] if c not in df.columns]
    if missing:
        raise DataError(f"the {kind} history response lacks column(s) {missing}")
    dates = pd.to_datetime(df["Date"], errors="coerce", utc=False)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # the exchange-local date, as the shipped files
    out = pd.DataFrame({spec["columns"][0]: dates.dt.strftime("%Y-%m-%d")})
    for src, dst in zip(spec["from"][1:], spec["columns"][1:], strict=True):
        out[dst] = pd.to_numeric(df[src], errors="coerce").to_numpy()
    close = out[spec["columns"][4]]
    out = out[dates.notna().to_numpy() & close.notna().to_numpy() & (close > 0).to_numpy()]
    if "Volume" in out.columns:
        out["Volume"] = out["Volume"].fillna(0).astype("int64")
    out = out.drop_duplicates(spec["columns"][0], keep="last").sort_values(spec["columns"][0])
    if out.empty:
        raise DataError(f"the {kind} history response has no row with a positive close")
    return out.reset_index(drop=True)


def _quote_map(quotes: list[Mapping]) -> dict[str, tuple[float, float]]:
    """``eventSymbol`` → (bid, ask) from DXLink ``Quote`` events (the last event wins)."""
    out = {}
    for q in quotes:
        sym = q.get("eventSymbol")
        if sym:
            bid = pd.to_numeric(q.get("bidPrice"), errors="coerce")
            ask = pd.to_numeric(q.get("askPrice"), errors="coerce")
            out[str(sym)] = (float(bid), float(ask))
    return out


def tastytrade_chain_frame(
    nested: Mapping,
    quotes: list[Mapping],
    *,
    underlying: str,
    valuation_time: datetime,
    expiries: list[str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Tidy chain from a tastytrade nested futures-option chain and DXLink quotes.

    Parameters
    ----------
    nested : mapping
        JSON of ``GET /futures-option-chains/{ES}/nested`` (``futures`` and ``option-chains``,
        each expiration with ``expiration-date``, ``underlying-symbol`` and ``strikes`` of
        ``strike-price, call, put, call-streamer-symbol, put-streamer-symbol``); the SDK's
        ``NestedFutureOptionChain`` model dumped by alias gives the same.
    quotes : list of mapping
        DXLink ``Quote`` events (``eventSymbol, bidPrice, askPrice``) for the option streamer
        symbols and the underlying futures' streamer symbols.
    underlying : str
        Symbol written in the file (``ES``, ``MES``, ``MGC``, ``MCL``).
    valuation_time : datetime
        Naive exchange-local time of the quotes.
    expiries : list of str, optional
        Only these expiration dates.

    Returns
    -------
    (DataFrame, str)
        Tidy-CSV rows (expiry 16:00 on its date) and the futures symbol whose mid price is the
        file's ``spot``: the underlying of the nearest expiry written (each expiry's forward is
        fitted from its own quotes by the loader).

    Raises
    ------
    DataError
        No option chain, no expiry, no quote for any option, or no quote of the future.
    """
    chains = nested.get("option-chains") or []
    futures = {f.get("symbol"): f.get("streamer-symbol") for f in nested.get("futures") or []}
    q = _quote_map(quotes)
    rows = []
    for ch in chains:
        for ex in ch.get("expirations") or []:
            exp = str(ex.get("expiration-date"))
            if expiries and exp not in expiries:
                continue
            for s in ex.get("strikes") or []:
                for right, key in (("C", "call"), ("P", "put")):
                    bid, ask = q.get(s.get(f"{key}-streamer-symbol"), (np.nan, np.nan))
                    rows.append((exp, float(s["strike-price"]), right, bid, ask, s.get(key), ex))
    if not rows:
        raise DataError(f"{underlying}: the chain response holds no expiry with strikes")
    df = pd.DataFrame(rows, columns=["exp", "strike", "right", "bid", "ask", "symbol", "ex"])
    if df[["bid", "ask"]].isna().all().all():
        raise DataError(f"{underlying}: no quote received for any of {len(df)} options")
    nearest = df.loc[df["exp"].idxmin(), "ex"]
    fut = nearest.get("underlying-symbol")
    fq = q.get(futures.get(fut) or "", (np.nan, np.nan))
    spot = (fq[0] + fq[1]) / 2
    if not np.isfinite(spot):
        raise DataError(f"{underlying}: no quote for the underlying future {fut}")
    df["expiry"] = df["exp"].map(lambda e: f"{pd.Timestamp(e):%Y-%m-%d}T16:00:00")
    df["root"] = df["ex"].map(lambda e: e.get("option-root-symbol"))
    return _tidy(df.drop(columns=["exp", "ex"]), underlying, spot, valuation_time), str(fut)


def write_frame(
    frame: pd.DataFrame,
    path: str | Path,
    provenance: Mapping,
    *,
    float_format: str | None = None,
) -> tuple[Path, Path]:
    """Write ``frame`` as CSV (gzip when the name ends in ``.gz``) and its provenance side-file.

    The provenance goes to ``<path>.provenance.json`` (the CSV stays exactly in its format:
    the loaders read no comment lines) with ``rows`` added.

    Returns
    -------
    (Path, Path)
        The CSV and the provenance file.

    Raises
    ------
    DataError
        If either file cannot be written.
    """
    p = Path(path)
    side = p.with_name(p.name + ".provenance.json")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(
            p,
            index=False,
            float_format=float_format,
            compression={"method": "gzip", "mtime": 0} if p.suffix == ".gz" else None,
        )
        side.write_text(json.dumps({**provenance, "rows": len(frame)}, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p, side
