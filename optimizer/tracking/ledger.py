"""Trade ledger in SQLite: one file per account, forward migrations, validated CSV import.

Schema
------
``schema_version(version)`` holds one row; :data:`MIGRATIONS` is the list of SQL scripts that
take a file from version ``i`` to ``i + 1``. :func:`init_ledger` creates a new file at
:data:`SCHEMA_VERSION`; :func:`open_ledger` migrates an older file forward inside one
``BEGIN IMMEDIATE`` transaction and refuses a file newer than the code.

Tables (version 3): ``trades`` (one row per opened structure), ``legs`` (its legs, quantity per
unit), ``marks`` (mark per unit per share of an open trade on a date), ``quotes`` (close of a
symbol on a date), ``imports`` (sha256 of every imported file).

Price convention
----------------
Every price is a **signed cash flow per unit, per share**, in the trade's currency: a credit
received is positive, a debit paid negative. ``open_price`` is the net credit at the open,
``close_price`` the net credit at the close (buying back a short put for 2.00 is ``-2.00``), a
mark the net credit a close at the mark would bring. So, in the account currency::

    realized   = ((open_price + close_price) * contracts * multiplier - fees) * fx_to_account
    unrealized = (open_price + mark) * contracts * multiplier * fx  (fees already paid excluded)

``fees`` is the total money paid (open + close) in the trade's currency; ``fx_to_account`` is
account currency per unit of the trade currency, the open rate, replaced by the close rate when
the trade closes (realized P&L is converted at the close rate). Timestamps are ISO 8601 strings
(``2026-02-02`` or ``2026-02-02T10:30:00``); date queries compare their first 10 characters.

CSV format ``thetaplan``
------------------------
Header row, then one row per trade event; columns (order free, extra columns ignored)::

    trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,
    currency,fx_to_account,fees,legs

* ``event=open``: every column is required except ``fees`` (default 0) and ``fx_to_account``
  (default 1). ``contracts`` is a positive integer, ``price`` the net credit per unit per share,
  ``legs`` a ``;``-separated list of ``<signed qty per unit><C|P><strike>@<YYYY-MM-DD>`` option
  legs or ``<signed qty>U`` for the underlying, e.g. ``-1P6850@2026-02-20;+1P6800@2026-02-20``.
* ``event=close``: ``trade_id, timestamp, price`` required; ``contracts`` if given must equal the
  open's (partial closes are not supported); ``fees`` added to the trade's fees; ``fx_to_account``
  if given becomes the trade's rate. The trade must be opened earlier in the file or be open in
  the ledger. Other columns are ignored.
* ``event=mark``: ``trade_id, timestamp`` (a date), ``price`` (the mark) required;
  ``fx_to_account`` optional (default: the trade's rate).

* ``event=quote``: ``timestamp`` (a date), ``underlying`` (a symbol such as ``VIX`` or ``SPX``)
  and ``price`` (its close) required; ``trade_id`` may be blank. The tracker reads the VIX at
  its as-of date from these quotes (an existing (date, symbol) quote is skipped).

``trade_id`` is the trade's external id (unique per source). Blank lines are skipped.

CSV format ``ibkr``
-------------------
An Interactive Brokers Flex "Trades" section, one row per leg execution. Required columns:
``IBOrderID, TradeID, DateTime, UnderlyingSymbol, Put/Call, Strike, Expiry, Quantity,
TradePrice, Multiplier, CurrencyPrimary, FXRateToBase, IBCommission, Open/CloseIndicator``;
optional ``ClientAccountID`` (the account, default empty) and ``Strategy``.

* Rows with the same ``IBOrderID`` are one order = one trade event. All its rows must share
  ``Open/CloseIndicator`` (``O`` or ``C``), currency, multiplier and underlying.
* ``contracts`` is the gcd of the legs' absolute quantities, quantity per unit = Quantity /
  contracts (fills of the same leg are summed); net credit per unit per share =
  ``-sum(Quantity * TradePrice) / contracts``; fees = ``-sum(IBCommission)`` (IB reports
  commissions as negative numbers); ``Put/Call`` empty means the underlying (leg ``U``).
* An ``O`` order opens a trade with external id ``IBOrderID``. A ``C`` order closes the earliest
  opened, still open ibkr trade on the same underlying whose legs are exactly the opposite
  (same rights, strikes, expiries, opposite quantities, same contracts); none is an error.
* Strategy: the row's ``Strategy`` column when present and non-empty, else ``--strategy``
  (:func:`import_csv` ``strategy=``), else the order is an error.
* ``DateTime`` as ``YYYYMMDD;HHMMSS``, ``YYYY-MM-DD;HH:MM:SS`` or ISO; ``Expiry`` as ``YYYYMMDD``
  or ISO date.

CSV format ``tastytrade``
-------------------------
tastytrade's transaction-history export, grouped into orders and matched like ``ibkr``; the
layout and rules are in :mod:`optimizer.tracking.ledger_tastytrade`.

Import
------
:func:`import_csv` parses and validates every row first (events of a trade id whose row is bad
are not checked further), then, inside one ``BEGIN IMMEDIATE``
transaction, checks the rows against the ledger (close without open…) and writes everything or
nothing: any bad row raises :class:`ImportErrors` listing ``(line, reason)`` and nothing is
written. A file whose sha256 is already in ``imports`` adds nothing; an open whose external id is
already in the ledger, a close already applied and an existing (trade, date) mark are skipped.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from models.errors import DataError
from models.files import read_bounded
from optimizer.tracking.ledger_csv import (
    _IB_REQUIRED,
    _TP_REQUIRED,
    ImportErrors,
    ImportSummary,
    _Close,
    _Mark,
    _Open,
    _parse_ibkr,
    _parse_thetaplan,
    _Quote,
    _read_csv,
    _RowError,
)
from optimizer.tracking.ledger_queries import (
    marks_on,
    month_to_date,
    month_to_date_series,
    open_trades,
    quote_on,
    realized_pnl,
    trade_values,
)
from optimizer.tracking.ledger_tastytrade import (
    TT_REQUIRED,
    TTClose,
    parse_tastytrade,
    write_tastytrade_close,
)

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ImportErrors",
    "ImportSummary",
    "import_csv",
    "init_ledger",
    "marks_on",
    "month_to_date",
    "month_to_date_series",
    "quote_on",
    "trade_values",
    "open_ledger",
    "open_trades",
    "realized_pnl",
    "schema_version",
]

#: Forward migrations: ``MIGRATIONS[i]`` takes a ledger from version ``i`` to ``i + 1``.
MIGRATIONS: list[str] = [
    # v1: trades, legs, imports
    """
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (0);
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        rows INTEGER NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE trades (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        strategy TEXT NOT NULL,
        underlying TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        contracts INTEGER NOT NULL CHECK (contracts > 0),
        open_price REAL NOT NULL,
        close_price REAL,
        multiplier REAL NOT NULL CHECK (multiplier > 0),
        currency TEXT NOT NULL,
        fx_to_account REAL NOT NULL CHECK (fx_to_account > 0),
        fees REAL NOT NULL DEFAULT 0,
        external_id TEXT NOT NULL,
        source TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        UNIQUE (source, external_id)
    );
    CREATE TABLE legs (
        id INTEGER PRIMARY KEY,
        trade_id INTEGER NOT NULL REFERENCES trades(id),
        right TEXT NOT NULL CHECK (right IN ('C', 'P', 'U')),
        strike REAL,
        expiry TEXT,
        quantity REAL NOT NULL
    );
    """,
    # v2: marks, the close's external id, indexes
    """
    CREATE TABLE marks (
        id INTEGER PRIMARY KEY,
        trade_id INTEGER NOT NULL REFERENCES trades(id),
        date TEXT NOT NULL,
        mark REAL NOT NULL,
        fx_to_account REAL NOT NULL CHECK (fx_to_account > 0),
        UNIQUE (trade_id, date)
    );
    ALTER TABLE trades ADD COLUMN close_external_id TEXT;
    CREATE INDEX trades_closed_at ON trades (closed_at);
    CREATE INDEX legs_trade ON legs (trade_id);
    """,
    # v3: closing quotes of underlyings and indexes (VIX, SPX …) for the tracker
    """
    CREATE TABLE quotes (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL,
        symbol TEXT NOT NULL,
        price REAL NOT NULL,
        UNIQUE (date, symbol)
    );
    """,
]

#: Schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)

_BUSY_TIMEOUT_S = 60.0


def _statements(script: str) -> list[str]:
    out, buf = [], ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """Schema version of an open ledger (0 for an empty database)."""
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if not has:
        return 0
    return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        v = schema_version(conn)
        if v > SCHEMA_VERSION:
            raise DataError(
                f"{path}: ledger schema version {v} is newer than this thetaplan knows "
                f"({SCHEMA_VERSION}); upgrade thetaplan"
            )
        for i in range(v, SCHEMA_VERSION):
            for stmt in _statements(MIGRATIONS[i]):
                conn.execute(stmt)
            conn.execute("UPDATE schema_version SET version = ?", (i + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def init_ledger(path: str | Path) -> sqlite3.Connection:
    """Create a new ledger at ``path`` (schema :data:`SCHEMA_VERSION`, WAL journal).

    Raises
    ------
    DataError
        ``path`` already exists.
    """
    path = Path(path)
    if path.exists():
        raise DataError(f"{path}: already exists; a ledger is never overwritten")
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise DataError(f"{path}: already exists; a ledger is never overwritten") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot create ({exc.strerror})") from None
    os.close(fd)
    conn = _connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    _migrate(conn, path)
    return conn


def open_ledger(path: str | Path) -> sqlite3.Connection:
    """Open an existing ledger, migrating an older schema forward (autocommit connection).

    Raises
    ------
    DataError
        Missing file, not a ledger, or a schema newer than this code.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ledger (create it with `thetaplan ledger init`)")
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        if schema_version(conn) == 0:
            raise DataError(f"{path}: not a thetaplan ledger (no schema_version table)")
        _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataError(f"{path}: not a thetaplan ledger ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


# ----------------------------------------------------------------------------- writing


def _legs_key(legs, sign=1.0):
    return sorted((r, s, e, round(sign * q, 9)) for r, s, e, q in legs)


#: Largest trade CSV imported (bytes): a year of leg executions of an active account is a few
#: MB; a larger file (or a FIFO) is refused before it is read.
MAX_LEDGER_CSV_BYTES = 50_000_000


def import_csv(
    conn: sqlite3.Connection,
    path: str | Path,
    fmt: str = "thetaplan",
    strategy: str | None = None,
) -> ImportSummary:
    """Import a CSV file into the ledger: everything or nothing.

    Parameters
    ----------
    conn
        Connection from :func:`open_ledger` (autocommit; this function opens its own
        ``BEGIN IMMEDIATE`` transaction).
    path
        CSV file in ``fmt`` (see the module docstring).
    fmt
        ``"thetaplan"``, ``"ibkr"`` or ``"tastytrade"``
        (:mod:`optimizer.tracking.ledger_tastytrade`).
    strategy
        ``ibkr``/``tastytrade``: strategy of orders without a ``Strategy`` column value.

    Returns
    -------
    ImportSummary
        Counts of trades opened, closes applied, marks and skipped events.

    Raises
    ------
    ImportErrors
        One or more bad rows (with line numbers); nothing was written.
    DataError
        Unreadable file, not a regular file, larger than :data:`MAX_LEDGER_CSV_BYTES`, or
        unknown format.
    """
    path = Path(path)
    name = path.name
    if fmt not in ("thetaplan", "ibkr", "tastytrade"):
        raise DataError(f"--format: {fmt!r} is not thetaplan, ibkr or tastytrade")
    data = read_bounded(path, MAX_LEDGER_CSV_BYTES, "trade CSV")
    sha = hashlib.sha256(data).hexdigest()
    errors: list[tuple[int, str]] = []
    bad_ids: set[str] = set()  # trade ids of bad rows: their other events are not re-reported
    if fmt == "thetaplan":
        rows = _read_csv(data, name, _TP_REQUIRED, errors)
        events = _parse_thetaplan(rows, errors, bad_ids)
    elif fmt == "ibkr":
        rows = _read_csv(data, name, _IB_REQUIRED, errors)
        events = _parse_ibkr(rows, errors, strategy, bad_ids)
    else:
        rows = _read_csv(data, name, TT_REQUIRED, errors)
        events = parse_tastytrade(rows, errors, strategy, bad_ids)
    events = [
        e
        for e in events
        if not (e.ext and e.ext in bad_ids)
        and not (isinstance(e, _Close) and e.underlying and "und:" + e.underlying in bad_ids)
    ]

    summary = ImportSummary(sha256=sha)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not errors and conn.execute("SELECT 1 FROM imports WHERE sha256 = ?", (sha,)).fetchone():
            conn.execute("ROLLBACK")
            summary.already_imported = True
            return summary
        _apply(conn, events, fmt, sha, errors, summary)
        if errors:
            raise ImportErrors(name, errors)
        conn.execute(
            "INSERT INTO imports (sha256, name, rows, imported_at) VALUES (?, ?, ?, ?)",
            (sha, name, len(rows), datetime.now().astimezone().isoformat(timespec="seconds")),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return summary


def _apply(conn, events, source, sha, errors, summary) -> None:
    """Write each event inside the caller's transaction; a row error is kept, not raised."""
    write = {
        _Open: _write_open,
        _Close: _write_close,
        TTClose: write_tastytrade_close,
        _Quote: _write_quote,
        _Mark: _write_mark,
    }
    for ev in events:
        try:
            write[type(ev)](conn, ev, source, sha, summary)
        except _RowError as exc:
            errors.append((ev.line, str(exc)))


def _write_open(conn, ev, source: str, sha: str, summary: ImportSummary) -> None:
    """An opened trade and its legs (skipped when the same external id is in the ledger)."""
    row = conn.execute(
        "SELECT opened_at, contracts, open_price, fees FROM trades"
        " WHERE source = ? AND external_id = ?",
        (source, ev.ext),
    ).fetchone()
    if row:
        # the same open again is skipped; a corrected one (other time, size, price or fees)
        # is a conflict, not silently ignored
        same = (row[0], row[1], row[2]) == (ev.opened_at, ev.contracts, ev.price)
        if same:
            summary.skipped += 1
            return
        raise _RowError(
            f"trade_id {ev.ext!r} is already in the ledger with other values (opened "
            f"{row[0]}, {row[1]} contracts at {row[2]:g}); a corrected trade needs a new "
            "ledger or its own id"
        )
    cur = conn.execute(
        "INSERT INTO trades (account, strategy, underlying, opened_at, contracts,"
        " open_price, multiplier, currency, fx_to_account, fees, external_id, source,"
        " source_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ev.account,
            ev.strategy,
            ev.underlying,
            ev.opened_at,
            ev.contracts,
            ev.price,
            ev.multiplier,
            ev.currency,
            ev.fx,
            ev.fees,
            ev.ext,
            source,
            sha,
        ),
    )
    conn.executemany(
        "INSERT INTO legs (trade_id, right, strike, expiry, quantity) VALUES (?, ?, ?, ?, ?)",
        [(cur.lastrowid, *leg) for leg in ev.legs],
    )
    summary.trades += 1


def _write_close(conn, ev, source: str, sha: str, summary: ImportSummary) -> None:
    """A close: matched to its open (IBKR: the opposite legs), checked, and written."""
    if source == "ibkr":
        done = conn.execute(
            "SELECT id FROM trades WHERE source = ? AND close_external_id = ?",
            (source, ev.close_ext),
        ).fetchone()
        if done:
            summary.skipped += 1
            return
        t = _match_ibkr(conn, ev)
        if t is None:
            raise _RowError(
                f"close without open: order {ev.close_ext} matches no open "
                f"{ev.underlying} trade with the opposite legs"
            )
    else:
        t = conn.execute(
            "SELECT * FROM trades WHERE source = ? AND external_id = ?",
            (source, ev.ext),
        ).fetchone()
        if t is None:
            raise _RowError(f"close without open: trade_id {ev.ext!r} was never opened")
        if t["closed_at"] is not None:
            if t["closed_at"] == ev.closed_at and t["close_price"] == ev.price:
                summary.skipped += 1
                return
            raise _RowError(f"trade_id {ev.ext!r} is already closed (at {t['closed_at']})")
    if ev.contracts is not None and ev.contracts != t["contracts"]:
        raise _RowError(
            f"close of {ev.contracts} contracts, trade has {t['contracts']} "
            "(partial closes are not supported)"
        )
    if ev.closed_at < t["opened_at"]:
        raise _RowError(f"close at {ev.closed_at} before the open ({t['opened_at']})")
    conn.execute(
        "UPDATE trades SET closed_at = ?, close_price = ?, fees = fees + ?,"
        " fx_to_account = ?, close_external_id = ? WHERE id = ?",
        (
            ev.closed_at,
            ev.price,
            ev.fees,
            ev.fx if ev.fx is not None else t["fx_to_account"],
            ev.close_ext,
            t["id"],
        ),
    )
    summary.closes += 1


def _write_quote(conn, ev, source: str, sha: str, summary: ImportSummary) -> None:
    """A close of a symbol on a date (an existing one is kept)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO quotes (date, symbol, price) VALUES (?, ?, ?)",
        (ev.date, ev.symbol, ev.price),
    )
    if cur.rowcount:
        summary.quotes += 1
    else:
        summary.skipped += 1


def _write_mark(conn, ev, source: str, sha: str, summary: ImportSummary) -> None:
    """A mark of an open trade on a date (an existing one is kept)."""
    t = conn.execute(
        "SELECT * FROM trades WHERE source = ? AND external_id = ?", (source, ev.ext)
    ).fetchone()
    if t is None:
        raise _RowError(f"mark for trade_id {ev.ext!r} that was never opened")
    if ev.date < t["opened_at"][:10]:
        raise _RowError(f"mark on {ev.date} before the open ({t['opened_at']})")
    cur = conn.execute(
        "INSERT OR IGNORE INTO marks (trade_id, date, mark, fx_to_account) VALUES (?, ?, ?, ?)",
        (t["id"], ev.date, ev.mark, ev.fx if ev.fx is not None else t["fx_to_account"]),
    )
    if cur.rowcount:
        summary.marks += 1
    else:
        summary.skipped += 1


def _match_ibkr(conn, ev: _Close):
    want = _legs_key(ev.legs, -1.0)
    for t in conn.execute(
        "SELECT * FROM trades WHERE source = 'ibkr' AND closed_at IS NULL AND underlying = ?"
        " AND contracts = ? AND opened_at <= ? ORDER BY opened_at, id",
        (ev.underlying, ev.contracts, ev.closed_at),
    ).fetchall():
        legs = conn.execute(
            "SELECT right, strike, expiry, quantity FROM legs WHERE trade_id = ?", (t["id"],)
        ).fetchall()
        if _legs_key([tuple(r) for r in legs]) == want:
            return t
    return None
