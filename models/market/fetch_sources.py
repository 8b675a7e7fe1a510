"""Calls to the optional data clients (yfinance, tastytrade) behind ``thetaplan data fetch``.

Both libraries are the optional ``data`` extra (``pip install -c constraints.txt -e ".[data]"``)
and are imported only when a fetch runs; a missing one is a :class:`~models.errors.DataError`
naming that command. Every function takes its client as a parameter (``client=None`` imports the
real library), so tests inject a fake client that replays recorded responses: no network.

* yfinance: ``Ticker(sym).options`` (expiration dates), ``Ticker(sym).option_chain(date)``
  (``calls``/``puts`` frames), ``Ticker(sym).history(...)`` (daily OHLCV).
* tastytrade (tastyware's SDK, 13.x): OAuth :class:`tastytrade.Session` from the environment
  variables ``TT_SECRET`` (provider secret) and ``TT_REFRESH`` (refresh token), the SDK's own
  defaults; ``NestedFutureOptionChain.get`` for the chain and a DXLink streamer for the quotes,
  kept behind :class:`TastytradeSources` so that recorded data replaces both.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from models.errors import DataError
from models.market.chain.loaders import cboe_session_time
from models.market.fetch import (
    select_expiries,
    tastytrade_chain_frame,
    yfinance_chain_frame,
    yfinance_history_frame,
)

__all__ = [
    "DATA_EXTRA",
    "YF_SYMBOLS",
    "HISTORY_SYMBOLS",
    "TT_SYMBOLS",
    "TastytradeSources",
    "import_client",
    "session_time",
    "fetch_yfinance_chain",
    "fetch_yfinance_history",
    "fetch_tastytrade_chain",
]

#: The install command of the optional data clients.
DATA_EXTRA = 'pip install -c constraints.txt -e ".[data]"'
#: thetaplan symbol → yfinance ticker (Yahoo's index tickers carry a caret).
YF_SYMBOLS = {"SPX": "^SPX", "XSP": "^XSP", "SPY": "SPY"}
#: History kind → yfinance ticker.
HISTORY_SYMBOLS = {"index": "^GSPC", "vix": "^VIX"}
#: tastytrade futures roots supported by ``data fetch chain --source tastytrade``.
TT_SYMBOLS = ("/ES", "/MES", "/MGC", "/MCL")
_EASTERN = ZoneInfo("America/New_York")


def import_client(name: str):
    """Import the optional client library ``name`` (``yfinance`` or ``tastytrade``).

    Raises
    ------
    DataError
        If it is not installed; the message names :data:`DATA_EXTRA`.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise DataError(f"{name} is not installed; install the data extra: {DATA_EXTRA}") from None


def session_time(now: datetime) -> datetime:
    """Valuation time (naive US/Eastern) of delayed quotes fetched at ``now`` (tz-aware).

    The rule of :func:`models.market.chain.loaders.cboe_session_time`: during the session the
    fetch time, after 16:00 the day's close, on a weekend or before 09:30 the previous weekday's
    close (exchange holidays are not known).
    """
    if now.tzinfo is None:
        raise DataError("the fetch time must be timezone-aware")
    return cboe_session_time(now.astimezone(_EASTERN).replace(tzinfo=None))


def _call(what: str, fn: Callable, *args, **kwargs):
    """Call the client; any failure of the library becomes one readable DataError line."""
    try:
        return fn(*args, **kwargs)
    except DataError:
        raise
    except Exception as exc:  # the clients raise many types (HTTP, JSON, rate limits, ...)
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{what} failed: {type(exc).__name__}: {msg[:300]}") from None


def _provenance(source: str, symbol: str, now: datetime, version: str, **more) -> dict:
    return {
        "source": source,
        "symbol": symbol,
        "fetched_at_utc": now.astimezone(UTC).isoformat(timespec="seconds"),
        "library": f"{source} {version}",
        **more,
    }


def fetch_yfinance_chain(
    symbol: str,
    *,
    now: datetime,
    expiries: list[str] | None = None,
    max_dte: int | None = None,
    client=None,
) -> tuple[pd.DataFrame, dict]:
    """Fetch an index/ETF option chain from yfinance as a tidy-CSV frame.

    Parameters
    ----------
    symbol : {"SPX", "XSP", "SPY"}
        Underlying (:data:`YF_SYMBOLS` gives the Yahoo ticker).
    now : datetime
        Fetch time, tz-aware (the valuation time follows :func:`session_time`).
    expiries, max_dte
        Selection (:func:`models.market.fetch.select_expiries`); all listed expiries by default.
    client : module, optional
        Object with ``Ticker`` and ``__version__`` (default: the ``yfinance`` module).

    Returns
    -------
    (DataFrame, dict)
        The tidy chain and its provenance (source, ticker, fetch time UTC, library version,
        expiries, contracts, spot and its date).

    Raises
    ------
    DataError
        Unknown symbol, missing library, empty or malformed response, client failure.
    """
    if symbol.upper() not in YF_SYMBOLS:
        raise DataError(f"yfinance chains: {symbol!r} is not one of {', '.join(YF_SYMBOLS)}")
    symbol = symbol.upper()
    yf = client or import_client("yfinance")
    ticker_sym = YF_SYMBOLS[symbol]
    ticker = _call(f"yfinance Ticker({ticker_sym})", yf.Ticker, ticker_sym)
    listed = list(_call(f"yfinance {ticker_sym} options", lambda: ticker.options) or [])
    if not listed:
        raise DataError(f"yfinance lists no option expiry for {ticker_sym}")
    vt = session_time(now)
    chosen = select_expiries(listed, vt.date(), wanted=expiries, max_dte=max_dte)
    hist = _call(f"yfinance {ticker_sym} history", ticker.history, period="5d")
    close = yfinance_history_frame(hist, "index")
    spot, spot_date = float(close["Close"].iloc[-1]), str(close["Date"].iloc[-1])
    chains = {}
    for exp in chosen:
        oc = _call(f"yfinance {ticker_sym} option_chain({exp})", ticker.option_chain, exp)
        chains[exp] = (getattr(oc, "calls", None), getattr(oc, "puts", None))
    frame = yfinance_chain_frame(chains, underlying=symbol, spot=spot, valuation_time=vt)
    prov = _provenance(
        "yfinance",
        ticker_sym,
        now,
        str(getattr(yf, "__version__", "unknown")),
        underlying=symbol,
        valuation_time=vt.isoformat(),
        spot=spot,
        spot_date=spot_date,
        expiries=chosen,
        contracts=len(frame),
    )
    return frame, prov


def fetch_yfinance_history(
    kind: str, *, now: datetime, start: str | None = None, client=None
) -> tuple[pd.DataFrame, dict]:
    """Fetch the daily ^GSPC (``kind="index"``) or ^VIX (``"vix"``) history from yfinance.

    Parameters
    ----------
    kind : {"index", "vix"}
        Which history; the file format is the shipped one
        (:func:`models.market.fetch.yfinance_history_frame`).
    now : datetime
        Fetch time, tz-aware (provenance only).
    start : str, optional
        First date (``YYYY-MM-DD``); default the whole history (``period="max"``).
    client : module, optional
        Object with ``Ticker`` and ``__version__`` (default: the ``yfinance`` module).

    Returns
    -------
    (DataFrame, dict)
        The history frame and its provenance (first/last date added).

    Raises
    ------
    DataError
        Unknown kind, missing library, empty or malformed response, client failure.
    """
    if kind not in HISTORY_SYMBOLS:
        raise DataError(f"unknown history {kind!r}; choose index (^GSPC) or vix (^VIX)")
    yf = client or import_client("yfinance")
    sym = HISTORY_SYMBOLS[kind]
    ticker = _call(f"yfinance Ticker({sym})", yf.Ticker, sym)
    args = {"start": start} if start else {"period": "max"}
    hist = _call(
        f"yfinance {sym} history", ticker.history, auto_adjust=False, actions=False, **args
    )
    frame = yfinance_history_frame(hist, kind)
    first, last = str(frame.iloc[0, 0]), str(frame.iloc[-1, 0])
    prov = _provenance(
        "yfinance", sym, now, str(getattr(yf, "__version__", "unknown")), first=first, last=last
    )
    return frame, prov


@dataclass
class TastytradeSources:
    """What a tastytrade chain fetch reads: the nested chain JSON and a quote snapshot.

    ``chain(symbol)`` returns the JSON of ``GET /futures-option-chains/{root}/nested`` (dashed
    keys); ``quotes(symbols)`` returns DXLink ``Quote`` events as dicts (``eventSymbol,
    bidPrice, askPrice``). :meth:`live` builds both on the SDK; tests pass recorded data.
    """

    chain: Callable[[str], dict]
    quotes: Callable[[list[str]], list[dict]]
    version: str = "unknown"

    @classmethod
    def live(cls, timeout: float = 20.0) -> TastytradeSources:
        """Sources on the tastytrade SDK (credentials from ``TT_SECRET`` and ``TT_REFRESH``).

        Raises
        ------
        DataError
            Missing library or credentials.
        """
        tt = import_client("tastytrade")
        missing = [v for v in ("TT_SECRET", "TT_REFRESH") if not os.environ.get(v)]
        if missing:
            raise DataError(
                f"tastytrade credentials: set {' and '.join(missing)} in the environment "
                "(OAuth provider secret and refresh token)"
            )
        import anyio

        def chain(symbol: str) -> dict:
            return anyio.run(_live_chain, tt, symbol)

        def quotes(symbols: list[str]) -> list[dict]:
            return anyio.run(_live_quotes, tt, symbols, timeout)

        return cls(chain=chain, quotes=quotes, version=str(tt.__version__))


async def _live_chain(tt, symbol: str) -> dict:  # pragma: no cover - needs the network
    from tastytrade.instruments import NestedFutureOptionChain

    async with tt.Session() as session:
        chain = await NestedFutureOptionChain.get(session, symbol)
    return chain.model_dump(by_alias=True, mode="json")


async def _live_quotes(tt, symbols: list[str], timeout: float) -> list[dict]:  # pragma: no cover
    import anyio
    from tastytrade.dxfeed import Quote

    got: dict[str, dict] = {}
    async with tt.Session() as session, tt.DXLinkStreamer(session) as streamer:
        await streamer.subscribe(Quote, symbols)
        with anyio.move_on_after(timeout):
            async for q in streamer.listen(Quote):
                got[q.event_symbol] = q.model_dump(by_alias=True, mode="json")
                if len(got) >= len(symbols):
                    break
    return list(got.values())


def fetch_tastytrade_chain(
    symbol: str,
    *,
    now: datetime,
    expiries: list[str] | None = None,
    max_dte: int | None = None,
    sources: TastytradeSources | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Fetch a futures-option chain (/ES, /MES, /MGC, /MCL) from tastytrade as a tidy frame.

    Parameters
    ----------
    symbol : str
        Futures root, one of :data:`TT_SYMBOLS`.
    now : datetime
        Fetch time, tz-aware (valuation time by :func:`session_time`).
    expiries, max_dte
        Selection (:func:`models.market.fetch.select_expiries`).
    sources : TastytradeSources, optional
        Chain and quote sources (default: :meth:`TastytradeSources.live`).

    Returns
    -------
    (DataFrame, dict)
        The tidy chain (underlying without the slash, e.g. ``ES``) and its provenance.

    Raises
    ------
    DataError
        Unknown root, missing library or credentials, empty response, no quotes.
    """
    root = symbol.upper()
    if root not in TT_SYMBOLS:
        raise DataError(f"tastytrade chains: {symbol!r} is not one of {', '.join(TT_SYMBOLS)}")
    src = sources or TastytradeSources.live()
    nested = _call(f"tastytrade chain {root}", src.chain, root)
    if not isinstance(nested, dict) or not nested.get("option-chains"):
        raise DataError(f"tastytrade returned no option chain for {root}")
    listed = [
        str(e.get("expiration-date"))
        for ch in nested["option-chains"]
        for e in ch.get("expirations") or []
    ]
    vt = session_time(now)
    chosen = select_expiries(listed, vt.date(), wanted=expiries, max_dte=max_dte)
    symbols = [f.get("streamer-symbol") for f in nested.get("futures") or []]
    for ch in nested["option-chains"]:
        for e in ch.get("expirations") or []:
            if str(e.get("expiration-date")) in chosen:
                for s in e.get("strikes") or []:
                    symbols += [s.get("call-streamer-symbol"), s.get("put-streamer-symbol")]
    symbols = sorted({s for s in symbols if s})
    quotes = _call(f"tastytrade quotes ({len(symbols)} symbols)", src.quotes, symbols)
    frame, fut = tastytrade_chain_frame(
        nested, list(quotes or []), underlying=root[1:], valuation_time=vt, expiries=chosen
    )
    prov = _provenance(
        "tastytrade",
        root,
        now,
        src.version,
        underlying=root[1:],
        valuation_time=vt.isoformat(),
        spot=float(frame["spot"].iloc[0]),
        spot_symbol=fut,
        expiries=chosen,
        contracts=len(frame),
        quoted=int(frame["bid"].notna().sum()),
    )
    return frame, prov
