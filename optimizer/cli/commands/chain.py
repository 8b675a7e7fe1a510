"""``thetaplan chain PATH``: load an option chain, print its smile summary, export per-contract IV/Greeks.

Renders only: every number comes from :mod:`models.market.chain`. Bad input raises
:class:`~models.errors.DataError` with one readable line (the CLI maps it to exit code 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models.errors import DataError
from optimizer.formatting import fmt
from optimizer.outputs import stdout_to_stderr

if TYPE_CHECKING:  # models.market.chain (numpy, pandas, scipy) is imported when the command runs
    from models.market.chain import OptionChain

__all__ = ["rate_warnings", "chain_command", "register", "OUTPUT_COLUMNS"]

#: Columns of the ``--output`` CSV, one row per kept contract (built on first access: it
#: derives from :data:`models.market.chain.QUOTE_COLUMNS`).
OUTPUT_COLUMNS: list[str]


def _output_columns() -> list[str]:
    """Columns of the ``--output`` CSV, one row per kept contract (:data:`OUTPUT_COLUMNS`)."""
    from models.market.chain import QUOTE_COLUMNS

    return ["underlying", "valuation_time", "spot"] + [c for c in QUOTE_COLUMNS if c != "symbol"]


def __getattr__(name: str) -> Any:
    """``OUTPUT_COLUMNS``, the columns of the ``--output`` CSV, built on first access.

    It derives from :data:`models.market.chain.QUOTE_COLUMNS`; importing :mod:`models.market.chain` (numpy,
    pandas, scipy) only then keeps ``import optimizer.cli.app`` light.
    """
    if name == "OUTPUT_COLUMNS":
        value = globals()["OUTPUT_COLUMNS"] = _output_columns()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Console width from which the smile table also shows the discount factor column.
_WIDE = 88


def _fmt(x: float, spec: str) -> str:
    """:func:`optimizer.formatting.fmt`, but empty instead of ``—`` for None/NaN."""
    s = fmt(x, spec)
    return "" if s == "—" else s


#: An expiry's parity-implied rate this far from the median of the chain's expiries is flagged.
RATE_OUTLIER = 0.015


def rate_warnings(summary) -> list[str]:
    """Warnings about implausible parity-implied rates in a smile summary.

    One curve of funding rates is smooth across expiries; an expiry whose implied rate is more
    than :data:`RATE_OUTLIER` (1.5 points) from the median of the chain's expiries, or a rate
    below -1% or above 10%, comes from wide or stale quotes, not from a rate (the shipped SPX
    chain of 2026-01-30: 3.0% to 8.9% across expiries, median 3.9%). Its forward is still the
    fitted one; ``--rate`` gives a fallback for expiries whose fit is rejected.

    Parameters
    ----------
    summary : pandas.DataFrame
        :meth:`OptionChain.smile_summary` (``expiry``, ``rate``).

    Returns
    -------
    list[str]
        Zero or one line.
    """
    import numpy as np
    import pandas as pd

    if not len(summary):
        return []
    rates = pd.to_numeric(summary["rate"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(rates)
    if not ok.any():
        return []
    med = float(np.median(rates[ok]))
    odd = ok & ((np.abs(rates - med) > RATE_OUTLIER) | (rates < -0.01) | (rates > 0.10))
    if not odd.any():
        return []
    shown = ", ".join(
        f"{pd.Timestamp(e):%Y-%m-%d} {r:.2%}"
        for e, r in zip(summary["expiry"][odd], rates[odd], strict=True)
    )
    n = int(odd.sum())
    what = "1 expiry has an implied rate" if n == 1 else f"{n} expiries have implied rates"
    return [
        f"{what} more than {RATE_OUTLIER:.1%} from the median {med:.2%} or outside -1%..10% "
        f"({shown}): put-call parity of wide or stale quotes, not funding rates; check the "
        "forwards of those expiries"
    ]


def render_chain(chain: OptionChain, console: Console) -> None:
    """Print the chain header, per-expiry smile summary, filter report and notes.

    The smile table fits 80 columns (the discount factor column is added from
    :data:`_WIDE` columns); expiry dates are never truncated.
    """
    import pandas as pd

    rep = chain.filter_report
    console.print(
        f"[bold]{escape(chain.underlying)}[/bold] chain at {chain.valuation_time:%Y-%m-%d %H:%M}, "
        f"spot {chain.spot:,.2f}: {rep['kept']:,} of {rep['input']:,} quotes kept, "
        f"{len(chain.expiries)} expiries",
        highlight=False,
    )
    summary = chain.smile_summary(0.25)
    stamps = pd.to_datetime(summary["expiry"]) if len(summary) else pd.Series([], dtype="M8[ns]")
    has_times = bool(((stamps.dt.hour != 16) | (stamps.dt.minute != 0)).any())
    # DF is redundant with rate and DTE (and is in --output): shown only when there is room
    show_df = console.width >= _WIDE
    table = Table(
        title="Smile per expiry (IV decimal; 25-delta = spot delta"
        + ("" if show_df else "; DF in --output")
        + ")",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    cols = ["expiry", "DTE", "forward", "DF", "rate", "ATM IV", "25d put", "25d call", "kept"]
    cols.append("dropped")
    if not show_df:
        cols.remove("DF")
    for col in cols:
        # expiries never fold or truncate; numbers fold rather than end in "…"
        table.add_column(
            col,
            justify="left" if col == "expiry" else "right",
            no_wrap=col == "expiry",
            overflow="fold",
            min_width=16 if col == "expiry" and has_times else None,
        )
    for row in summary.itertuples(index=False):
        expiry = pd.Timestamp(row.expiry)
        cells = {
            "expiry": f"{expiry:%Y-%m-%d}"
            if (expiry.hour, expiry.minute) == (16, 0)
            else f"{expiry:%Y-%m-%d %H:%M}",
            "DTE": f"{row.dte:.2f}" if row.dte < 1 else f"{row.dte:.1f}",
            "forward": _fmt(row.forward, ",.2f"),
            "DF": _fmt(row.discount_factor, ".5f"),
            "rate": _fmt(row.rate, ".4f"),
            "ATM IV": _fmt(row.atm_iv, ".4f"),
            "25d put": _fmt(row.iv_put_25, ".4f"),
            "25d call": _fmt(row.iv_call_25, ".4f"),
            "kept": f"{row.n_kept:,}",
            "dropped": f"{row.n_dropped:,}",
        }
        table.add_row(*(cells[c] for c in cols))
    console.print(table)
    for line in rate_warnings(summary):
        console.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False)
    reasons = [f"{k} {v:,}" for k, v in rep.items() if k not in ("input", "kept", "dropped") and v]
    console.print(
        f"[bold]Dropped {rep['dropped']:,}[/bold] (a row can have several reasons): "
        + (escape(", ".join(reasons)) if reasons else "none"),
        highlight=False,
    )
    for note in chain.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


def write_output(chain: OptionChain, path: Path) -> Path:
    """Write one row per kept contract (:data:`OUTPUT_COLUMNS`) to ``path`` (CSV; gzip if ``.gz``)."""
    import pandas as pd

    frame = chain.to_frame()
    frame = frame[[c for c in _output_columns() if c in frame.columns]]
    frame["valuation_time"] = pd.Timestamp(chain.valuation_time).isoformat()
    frame["expiry"] = frame["expiry"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, compression="gzip" if path.suffix == ".gz" else None)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc}") from exc
    return path


def chain_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Option chain file (Cboe export, yfinance-style CSV or tidy CSV; .gz ok)."
        ),
    ],
    format: Annotated[
        str, typer.Option("--format", help="File format: auto, cboe, yfinance or tidy.")
    ] = "auto",
    valuation_time: Annotated[
        str | None,
        typer.Option(
            "--valuation-time",
            help="Quote time, ISO naive exchange-local (e.g. 2026-01-30T16:00; a bare date means 16:00). "
            "Required for yfinance-style files.",
        ),
    ] = None,
    spot: Annotated[
        float | None,
        typer.Option(
            "--spot", help="Underlying price (default: from the file, else parity-inferred)."
        ),
    ] = None,
    underlying: Annotated[
        str | None, typer.Option("--underlying", help="Underlying symbol override.")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", help="Fallback continuous rate for expiries whose parity fit is rejected."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write per-contract IV and Greeks to this CSV.")
    ] = None,
) -> None:
    """Load an option chain: parity forwards, IV and Greeks from mids, smile summary per expiry."""
    import numpy as np

    from models.market.chain import FORMATS, load_chain

    if format not in FORMATS:
        raise DataError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if spot is not None and not (np.isfinite(spot) and spot > 0):
        raise DataError(f"--spot must be a positive number, got {spot!r}")
    if valuation_time is not None:
        import datetime as dt

        try:  # ISO only: 01/02/2026 is 2 January in one convention and 1 February in another
            dt.datetime.fromisoformat(valuation_time)
        except ValueError:
            raise DataError(
                f"--valuation-time: expected an ISO date or date-time (2026-01-30T16:00), "
                f"got {valuation_time!r}"
            ) from None
    with stdout_to_stderr() as stdout:  # stray native output must not mix with the tables
        chain = load_chain(
            path,
            format,
            underlying=underlying,
            spot=spot,
            valuation_time=valuation_time,
            rate=rate,
        )
        written = write_output(chain, output) if output is not None else None
    # the terminal's width (COLUMNS respected; 80 when not a terminal): the tables fit 80
    console = Console(file=stdout)
    render_chain(chain, console)
    if written is not None:
        console.print(
            f"wrote {len(chain.quotes):,} contracts to {escape(str(written))}", highlight=False
        )


def register(app: typer.Typer) -> None:
    """Add the ``chain`` command to the thetaplan CLI."""
    app.command("chain")(chain_command)
