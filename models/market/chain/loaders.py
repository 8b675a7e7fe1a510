"""Option-chain file formats: Cboe delayed-quotes CSV, yfinance-style CSV and the tidy CSV.

All readers accept plain or gzip-compressed files (detected from the content, not the name).

**Tidy CSV** (thetaplan's own format; written by :meth:`OptionChain.to_tidy_csv`): one row per
contract, comma-separated, header row, columns

=================  ========  ==========================================================
column             required  meaning
=================  ========  ==========================================================
underlying         yes       underlying symbol, same on every row (e.g. ``SPX``)
valuation_time     yes       ISO naive exchange-local time, same on every row
                             (``2026-01-30T16:00:00``)
spot               yes       underlying price, same on every row; may be empty (then the
                             spot is inferred from parity, see ``load_chain``)
expiry             yes       ISO date-time of expiry (``2026-02-20T16:00:00``); a bare date
                             (``2026-02-20``) means 16:00 local
strike             yes       strike (price units)
right              yes       ``C`` or ``P`` (``call``/``put`` accepted)
bid, ask           yes       quotes per share (empty = missing)
open_interest      no        contracts
volume             no        contracts traded in the session
symbol             no        contract symbol (OCC; the root, e.g. SPXW, is parsed from it)
root               no        option root when there is no OCC symbol
source_iv          no        the source's IV (decimal); values <= 1e-4 are placeholders
source_delta       no        the source's delta
source_gamma       no        the source's gamma
=================  ========  ==========================================================
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import DataError
from models.files import read_bounded
from models.market.chain._time import parse_cboe_download_time, to_timestamp
from models.market.chain.core import OptionChain

__all__ = [
    "load_chain",
    "read_quotes",
    "detect_format",
    "write_tidy_csv",
    "TIDY_COLUMNS",
    "FORMATS",
]

FORMATS = ("auto", "cboe", "yfinance", "tidy")
TIDY_REQUIRED = ["underlying", "valuation_time", "spot", "expiry", "strike", "right", "bid", "ask"]
TIDY_OPTIONAL = [
    "open_interest",
    "volume",
    "symbol",
    "root",
    "source_iv",
    "source_delta",
    "source_gamma",
]
#: Column order written by :func:`write_tidy_csv` (optional columns only when they hold data).
TIDY_COLUMNS = TIDY_REQUIRED + TIDY_OPTIONAL
_YF_REQUIRED = ["strike", "bid", "ask", "option_type", "expiration"]
_CBOE_REQUIRED = ["Expiration Date", "Bid", "Ask", "Strike"]
#: Weekly/PM roots that belong to another underlying symbol.
_ROOT_TO_UNDERLYING = {
    "SPXW": "SPX",
    "SPXQ": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
    "XSPW": "XSP",
}
_OCC = r"^([A-Z]{1,6})\d{6}[CP]\d{8}$"


#: Largest chain file read, compressed or not (bytes): the shipped SPX chain of 53 expiries is
#: 3.4 MB uncompressed; a 1 GiB gzip bomb exhausted memory before.
MAX_CHAIN_BYTES = 200_000_000


def _read_text(path: str | Path) -> str:
    p = Path(path)
    if not p.exists():
        raise DataError(f"option chain file not found: {p}")
    data = read_bounded(p, MAX_CHAIN_BYTES, "option chain", gunzip=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"option chain file {p} is not UTF-8 text") from None
    if not text.strip():
        raise DataError(f"option chain file is empty: {p}")
    return text


def _header_fields(line: str) -> list[str]:
    try:
        return [f.strip() for f in next(csv.reader([line]), [])]
    except csv.Error as exc:  # a field over the csv module's 131,072-character limit
        raise DataError(f"option chain file: unreadable header line ({exc})") from None


def _detect(text: str) -> str | None:
    lines = text.splitlines()[:6]
    if any("Last:" in ln for ln in lines[:3]) and any(
        ln.lstrip('"').startswith("Date:") for ln in lines[:4]
    ):
        return "cboe"
    first = next((ln for ln in lines if ln.strip()), "")
    cols = set(_header_fields(first))
    if {"expiry", "strike", "right", "bid", "ask"} <= cols:
        return "tidy"
    if {"strike", "bid", "ask", "option_type", "expiration"} <= cols:
        return "yfinance"
    return None


def detect_format(path: str | Path) -> str:
    """Detect the chain format of ``path``: ``"cboe"``, ``"yfinance"`` or ``"tidy"``.

    Raises
    ------
    DataError
        If the file is missing, empty, unreadable or in none of the known formats.
    """
    fmt = _detect(_read_text(path))
    if fmt is None:
        raise DataError(
            f"unrecognized option chain format in {path}: expected a Cboe delayed-quotes export, a "
            "yfinance-style CSV (strike, bid, ask, option_type, expiration) or the tidy CSV "
            "(underlying, valuation_time, spot, expiry, strike, right, bid, ask)"
        )
    return fmt


def _underlying_from_symbols(symbols: pd.Series) -> str | None:
    roots = symbols.dropna().astype(str).str.extract(_OCC, expand=False).dropna()
    if roots.empty:
        return None
    root = roots.map(lambda r: _ROOT_TO_UNDERLYING.get(r, r)).value_counts().index[0]
    return str(root)


def _csv_frame(text: str, where: str, *, unique: bool = True) -> pd.DataFrame:
    try:
        df = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"cannot parse {where}: {str(exc).splitlines()[0]}") from exc
    if not unique:
        return df
    # pandas renames a repeated column ``col`` to ``col.1`` and reads the first: refuse it
    names = {str(c) for c in df.columns}
    for c in df.columns:
        base, dot, n = str(c).rpartition(".")
        if dot and n.isdigit() and base in names:
            raise DataError(f"{where}: column {base!r} appears more than once")
    return df


def _require(df: pd.DataFrame, cols: list[str], where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{where} misses column(s) {missing}")
    if len(df) == 0:
        raise DataError(f"{where} has a header but no quote rows")


def cboe_session_time(download: datetime) -> datetime:
    """Valuation time of a Cboe export downloaded at ``download`` (naive US/Eastern).

    Parameters
    ----------
    download : datetime
        The timestamp on line 3 of the export (``"Date: May 16, 2025 at 7:23 PM EDT"``,
        ``"Date: June 11, 2022, 8:47 PM EDT"`` …; see
        :func:`models.market.chain._time.parse_cboe_download_time`), naive US/Eastern.

    Returns
    -------
    datetime
        Weekday 09:30–16:00: the download time itself (an intraday snapshot; quotes ~15 min
        delayed). Weekday from 16:00: 16:00 that day (the quotes are the session's closing
        quotes). Weekday before 09:30: 16:00 of the previous weekday. Saturday/Sunday: 16:00 of
        the previous Friday. Exchange holidays are not known: pass ``valuation_time`` explicitly
        for a download on or after a holiday.
    """
    d = download
    close = d.replace(hour=16, minute=0, second=0, microsecond=0)
    if d.weekday() < 5:
        if d >= close:
            return close
        if d.hour > 9 or (d.hour == 9 and d.minute >= 30):
            return d.replace(second=0, microsecond=0)
        d = close - timedelta(days=1)
    else:
        d = close
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d.replace(hour=16, minute=0, second=0, microsecond=0)


def _parse_cboe(text: str, where: str) -> tuple[pd.DataFrame, dict]:
    lines = text.splitlines()
    meta: dict = {}
    hdr = next(
        (i for i, ln in enumerate(lines[:10]) if "Expiration Date" in ln and "Strike" in ln), None
    )
    if hdr is None:
        raise DataError(
            f"{where}: Cboe export without the 'Expiration Date,…,Strike,…' header line"
        )
    head = "\n".join(lines[:hdr])
    m = re.search(r"Last:\s*([-+0-9.,]+)", head)
    if m:
        try:
            meta["spot"] = float(m.group(1).replace(",", ""))
        except ValueError:
            pass
    try:
        download = parse_cboe_download_time(head)
    except DataError as exc:  # reported by load_chain only if no valuation_time is given
        download, meta["download_error"] = None, str(exc)
    if download is not None:
        meta["download_time"] = download
    elif "Date:" in head and "download_error" not in meta:
        stamp = head[head.index("Date:") :].splitlines()[0].split('"')[0].strip()
        meta["download_error"] = f"cannot read the download timestamp {stamp[:80]!r}"
    name = _header_fields(lines[1])[0] if len(lines) > 1 and "Last:" in lines[1] else ""
    meta["name"] = name
    # the call and the put columns share names (pandas reads the puts' as ``Bid.1`` …)
    df = _csv_frame("\n".join(lines[hdr:]), where, unique=False)
    cols = list(df.columns)
    _require(df, _CBOE_REQUIRED, where)
    si = cols.index("Strike")
    for side in (cols[:si], cols[si + 1 :]):
        bases = [re.sub(r"\.\d+$", "", str(c)) for c in side]
        twice = sorted({b for b in bases if bases.count(b) > 1 or b == "Strike"})
        if twice:
            raise DataError(f"{where}: column {twice[0]!r} appears more than once")
    call_cols = {re.sub(r"\.\d+$", "", c): c for c in cols[:si]}
    put_cols = {re.sub(r"\.\d+$", "", c): c for c in cols[si + 1 :]}
    for side, cmap in (("call", call_cols), ("put", put_cols)):
        if "Bid" not in cmap or "Ask" not in cmap:
            raise DataError(f"{where}: Cboe export without {side} Bid/Ask columns")
    expiry_text = df["Expiration Date"].astype(str).str.strip()
    expiry = pd.to_datetime(expiry_text, format="%a %b %d %Y", errors="coerce")
    fallback = expiry.isna()
    if fallback.any():
        expiry[fallback] = pd.to_datetime(expiry_text[fallback], errors="coerce", format="mixed")
    expiry = expiry.dt.normalize() + pd.Timedelta(hours=16)
    frames = []
    for right, cmap, sym in (("C", call_cols, "Calls"), ("P", put_cols, "Puts")):
        part = pd.DataFrame(
            {
                "expiry": expiry,
                "strike": df["Strike"],
                "right": right,
                "symbol": df[cmap[sym]] if sym in cmap else None,
                "bid": df[cmap["Bid"]],
                "ask": df[cmap["Ask"]],
            }
        )
        for src, dst in (
            ("Open Interest", "open_interest"),
            ("Volume", "volume"),
            ("IV", "source_iv"),
            ("Delta", "source_delta"),
            ("Gamma", "source_gamma"),
        ):
            part[dst] = df[cmap[src]] if src in cmap else np.nan
        frames.append(part)
    raw = pd.concat(frames, ignore_index=True)
    meta["underlying"] = (
        _underlying_from_symbols(raw["symbol"]) if raw["symbol"].notna().any() else None
    )
    return raw, meta


def _parse_yfinance(text: str, where: str) -> tuple[pd.DataFrame, dict]:
    df = _csv_frame(text, where)
    _require(df, _YF_REQUIRED, where)
    exp_text = df["expiration"].astype(str).str.strip()
    expiry = pd.to_datetime(exp_text, errors="coerce", format="mixed")
    date_only = exp_text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    expiry = expiry.where(~date_only, expiry.dt.normalize() + pd.Timedelta(hours=16))
    raw = pd.DataFrame(
        {
            "expiry": expiry,
            "strike": df["strike"],
            "right": df["option_type"],
            "symbol": df["contractSymbol"] if "contractSymbol" in df.columns else None,
            "bid": df["bid"],
            "ask": df["ask"],
            "open_interest": df["openInterest"] if "openInterest" in df.columns else np.nan,
            "volume": df["volume"] if "volume" in df.columns else np.nan,
            "source_iv": df["impliedVolatility"] if "impliedVolatility" in df.columns else np.nan,
        }
    )
    meta = {
        "underlying": _underlying_from_symbols(raw["symbol"])
        if raw["symbol"].notna().any()
        else None
    }
    return raw, meta


def _single_value(df: pd.DataFrame, col: str, where: str) -> object:
    vals = df[col].dropna()
    vals = vals[vals.astype(str).str.strip() != ""]
    uniq = pd.unique(vals.astype(str).str.strip())
    if len(uniq) > 1:
        raise DataError(
            f"{where}: column {col!r} must hold one value for the whole chain, found {len(uniq)}"
        )
    return uniq[0] if len(uniq) else None


def _parse_tidy(text: str, where: str) -> tuple[pd.DataFrame, dict]:
    df = _csv_frame(text, where)
    _require(df, TIDY_REQUIRED, where)
    meta: dict = {}
    meta["underlying"] = _single_value(df, "underlying", where)
    vt = _single_value(df, "valuation_time", where)
    meta["valuation_time"] = (
        to_timestamp(vt, what=f"{where}: valuation_time") if vt is not None else None
    )
    sp = _single_value(df, "spot", where)
    if sp is not None:
        try:
            meta["spot"] = float(sp)
        except ValueError:
            raise DataError(f"{where}: spot {sp!r} is not a number") from None
    exp_text = df["expiry"].astype(str).str.strip()
    expiry = pd.to_datetime(exp_text, errors="coerce", format="mixed")
    date_only = exp_text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    expiry = expiry.where(~date_only, expiry.dt.normalize() + pd.Timedelta(hours=16))
    raw = df[
        [c for c in ["strike", "right", "bid", "ask", *TIDY_OPTIONAL] if c in df.columns]
    ].copy()
    raw.insert(0, "expiry", expiry)
    return raw, meta


def read_quotes(path: str | Path, format: str = "auto") -> tuple[pd.DataFrame, dict, str]:
    """Read a chain file into a raw quote frame (no filtering, no pricing).

    Parameters
    ----------
    path : str or Path
        Chain file, plain or gzip.
    format : {"auto", "cboe", "yfinance", "tidy"}
        File format; ``"auto"`` detects it from the content.

    Returns
    -------
    raw : DataFrame
        Columns ``expiry, strike, right, bid, ask`` and whichever of ``symbol, root,
        open_interest, volume, source_iv, source_delta, source_gamma`` the file has.
    meta : dict
        What the file states: ``underlying``, ``spot``, ``valuation_time`` (tidy),
        ``download_time``, ``name`` and ``download_error`` (Cboe; why the ``Date:`` stamp could
        not be read).
    format : str
        The format read.

    Raises
    ------
    DataError
        Missing/empty/unreadable file, unknown format, missing columns.
    """
    if format not in FORMATS:
        raise DataError(f"unknown chain format {format!r}; choose one of {', '.join(FORMATS)}")
    text = _read_text(path)
    where = f"option chain file {path}"
    fmt = _detect(text) if format == "auto" else format
    if fmt is None:
        detect_format(path)  # raises the readable message
    parser = {"cboe": _parse_cboe, "yfinance": _parse_yfinance, "tidy": _parse_tidy}[fmt]
    raw, meta = parser(text, where)
    return raw, meta, fmt


def load_chain(
    path: str | Path,
    format: str = "auto",
    *,
    underlying: str | None = None,
    spot: float | None = None,
    valuation_time: object = None,
    rate: float | None = None,
) -> OptionChain:
    """Load an option chain file and build the :class:`OptionChain`.

    Parameters
    ----------
    path : str or Path
        Chain file (gzip transparently).
    format : {"auto", "cboe", "yfinance", "tidy"}, default "auto"
        ``"cboe"``: Cboe delayed-quotes export (spot from line 2 ``Last:``, valuation time from
        the download timestamp on line 3, see :func:`cboe_session_time`). ``"yfinance"``:
        yfinance-style CSV (no spot, no timestamp). ``"tidy"``: thetaplan's tidy CSV (module
        docstring).
    underlying : str, optional
        Overrides the symbol the file implies (OCC root, SPXW -> SPX; tidy ``underlying``).
    spot : float, optional
        Overrides the file's spot. If neither gives one (yfinance), the spot is inferred as the
        put-call-parity forward of the nearest expiry (within a few days' carry of the true spot;
        recorded in ``chain.notes``). Pass the real close when you know it (SPX 2026-01-30:
        6939.03).
    valuation_time : datetime or ISO str, optional
        Overrides the file's time. **Required** for yfinance-style files, which carry no
        timestamp (e.g. ``"2026-01-30T16:00"`` for quotes after the close).
    rate : float, optional
        Fallback continuous rate for expiries whose parity regression is rejected (see
        :meth:`OptionChain.from_quotes`).

    Returns
    -------
    OptionChain

    Raises
    ------
    DataError
        Missing/empty/unreadable file, unknown format, missing columns, no valuation time, no
        valid quotes. Messages are one readable line naming the file or field.
    """
    raw, meta, fmt = read_quotes(path, format)
    where = f"option chain file {path}"
    if valuation_time is not None:
        vt = to_timestamp(valuation_time, what="valuation_time")
    elif fmt == "cboe":
        if "download_time" not in meta:
            if "download_error" in meta:
                raise DataError(f"{where}: {meta['download_error']}; pass valuation_time")
            raise DataError(
                f"{where}: no 'Date: …' download timestamp on line 3; pass valuation_time"
            )
        vt = pd.Timestamp(cboe_session_time(meta["download_time"]))
    elif fmt == "tidy" and meta.get("valuation_time") is not None:
        vt = meta["valuation_time"]
    else:
        raise DataError(
            f"{where}: the {fmt} format carries no quote timestamp; pass valuation_time "
            "(e.g. 2026-01-30T16:00 for quotes taken after the close)"
        )
    if spot is None:
        spot = meta.get("spot")
    if underlying is not None and (not underlying.strip() or not underlying.isprintable()):
        raise DataError(f"underlying: {underlying!r} is not a symbol")
    if underlying is None and meta.get("underlying") is None and fmt == "yfinance":
        raise DataError(
            f"{where}: no contractSymbol column to tell the underlying from; pass it "
            "(thetaplan chain --underlying, or the market.chains key in a scenario)"
        )
    und = underlying or meta.get("underlying") or Path(path).name.split("_")[0].upper()
    return OptionChain.from_quotes(raw, underlying=und, valuation_time=vt, spot=spot, rate=rate)


def write_tidy_csv(chain: OptionChain, path: str | Path, *, include_dropped: bool = True) -> Path:
    """Write ``chain`` as a tidy CSV (format in the module docstring).

    Parameters
    ----------
    chain : OptionChain
        The chain to write.
    path : str or Path
        Output file; gzip-compressed when the name ends in ``.gz``. Parent folders are created.
    include_dropped : bool, default True
        Also write the dropped rows (with their raw quotes), so that :func:`load_chain` on the
        file rebuilds exactly ``chain`` (same filters, forwards, IVs). With False only the kept
        contracts are written.

    Returns
    -------
    Path
        The path written. Floats keep full precision (round trip is exact).

    Raises
    ------
    DataError
        If the file cannot be written.
    """
    p = Path(path)
    base = ["expiry", "strike", "right", "bid", "ask", *TIDY_OPTIONAL]
    frames = [chain.quotes]
    if include_dropped and len(chain.dropped):
        frames.append(chain.dropped)
    body = pd.concat([f[[c for c in base if c in f.columns]] for f in frames], ignore_index=True)
    out = pd.DataFrame(
        {
            "underlying": chain.underlying,
            "valuation_time": pd.Timestamp(chain.valuation_time).isoformat(),
            "spot": repr(float(chain.spot)),
        },
        index=body.index,
    )
    out["expiry"] = body["expiry"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    for c in base[1:]:
        if c in body.columns and body[c].notna().any() and not (body[c].astype(str) == "").all():
            out[c] = body[c]
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(p, index=False, compression="gzip" if p.suffix == ".gz" else None)
    except OSError as exc:
        raise DataError(f"cannot write tidy chain to {p}: {exc}") from exc
    return p
