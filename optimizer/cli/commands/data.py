"""``thetaplan data fetch chain|history``: today's option chains and index histories.

``data fetch chain SYMBOL [--source yfinance|tastytrade] [--expiries D1,D2] [--max-dte N]
[--out FILE | --out-dir DIR]`` writes a tidy-CSV chain (gzip) that ``thetaplan chain`` and the
scenarios' ``market.chains`` read; ``data fetch history [index|vix|all] [--start DATE]
[--out-dir DIR]`` writes the S&P 500 (^GSPC) and VIX daily histories in the shipped formats.
Each file gets a ``<file>.provenance.json`` beside it (source, symbol, fetch time UTC, library
version, rows). yfinance and tastytrade are the optional ``data`` extra; a missing one is one
``error:`` line naming the install command (exit 2). Every number comes from
:mod:`models.market.fetch`; this module only renders.

Tests replace :data:`clients` (the library objects) and :data:`clock` (the fetch time) with
recorded responses and a fixed time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.commands._group import LightHelpGroup

__all__ = ["register", "clients", "clock"]

#: Client objects by name (``yfinance``: a module-like object with ``Ticker``; ``tastytrade``:
#: a :class:`models.market.fetch_sources.TastytradeSources`); None = the real library.
clients: dict[str, object] = {"yfinance": None, "tastytrade": None}


def clock() -> datetime:
    """The fetch time (tz-aware UTC)."""
    return datetime.now(UTC)


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _chain_cmd(
    symbol: Annotated[
        str, typer.Argument(help="SPX, XSP, SPY (yfinance); /ES, /MES, /MGC, /MCL (tastytrade).")
    ],
    source: Annotated[str, typer.Option("--source", help="yfinance or tastytrade.")] = "yfinance",
    expiries: Annotated[
        str | None, typer.Option("--expiries", help="Only these expiries: YYYY-MM-DD,YYYY-MM-DD.")
    ] = None,
    max_dte: Annotated[
        int | None, typer.Option("--max-dte", help="Only expiries within N calendar days.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (.csv or .csv.gz).")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder of the default file name.")
    ] = Path("."),
) -> None:
    """Fetch an option chain and write it as a tidy CSV (+ provenance side-file)."""
    from models.errors import DataError
    from models.market.fetch import write_frame
    from models.market.fetch_sources import fetch_tastytrade_chain, fetch_yfinance_chain

    if max_dte is not None and max_dte < 0:
        raise DataError("--max-dte must be >= 0")
    now = clock()
    kw = {"now": now, "expiries": _split(expiries), "max_dte": max_dte}
    if source == "yfinance":
        frame, prov = fetch_yfinance_chain(symbol, client=clients["yfinance"], **kw)
    elif source == "tastytrade":
        frame, prov = fetch_tastytrade_chain(symbol, sources=clients["tastytrade"], **kw)
    else:
        raise DataError(f"--source: {source!r} is not yfinance or tastytrade")
    und = prov["underlying"]
    day = prov["valuation_time"][:10]
    path = out or out_dir / f"{und.lower()}_{source}_chain_{day}.csv.gz"
    csv_path, side = write_frame(frame, path, prov)
    print(
        f"wrote {csv_path} ({len(frame)} contracts, {len(prov['expiries'])} expiries, "
        f"{und} {float(prov['spot']):g} at {prov['valuation_time']}); provenance {side}"
    )


def _history_cmd(
    which: Annotated[str, typer.Argument(help="index (^GSPC), vix (^VIX) or all.")] = "all",
    start: Annotated[
        str | None, typer.Option("--start", help="First date YYYY-MM-DD (default: all).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Output folder.")] = Path("."),
) -> None:
    """Fetch daily ^GSPC / ^VIX histories in the shipped file formats (+ provenance)."""
    from models.errors import DataError
    from models.market.fetch import HISTORY_FORMATS, write_frame
    from models.market.fetch_sources import fetch_yfinance_history

    if which not in ("index", "vix", "all"):
        raise DataError(f"history: {which!r} is not index, vix or all")
    names = {"index": "sp500_gspc_daily_ohlcv", "vix": "vix_daily_yfinance"}
    now = clock()
    for kind in ("index", "vix") if which == "all" else (which,):
        frame, prov = fetch_yfinance_history(kind, now=now, start=start, client=clients["yfinance"])
        path = out_dir / f"{names[kind]}_{prov['first']}_{prov['last']}.csv.gz"
        csv_path, _ = write_frame(
            frame, path, prov, float_format=HISTORY_FORMATS[kind]["float_format"]
        )
        print(f"wrote {csv_path} ({len(frame)} days, {prov['first']} … {prov['last']})")


def register(app: typer.Typer) -> None:
    """Add the ``data`` sub-app (``fetch chain``, ``fetch history``) to ``app``."""
    sub = typer.Typer(
        name="data",
        cls=LightHelpGroup,
        help="Market data in: fetch today's chains and index histories (optional data extra).",
        no_args_is_help=True,
        add_completion=False,
    )
    fetch = typer.Typer(
        name="fetch",
        cls=LightHelpGroup,
        help="Fetch from yfinance or tastytrade into files thetaplan reads.",
        no_args_is_help=True,
        add_completion=False,
    )
    fetch.command("chain")(_chain_cmd)
    fetch.command("history")(_history_cmd)
    sub.add_typer(fetch, name="fetch")
    app.add_typer(sub, name="data")
