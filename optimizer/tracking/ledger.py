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

import csv
import hashlib
import io
import math
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from models.errors import DataError

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

#: Env var (seconds): sleep after every insert of an import, for fault-injection tests only.
SLOW_WRITE_ENV = "THETAPLAN_LEDGER_SLOW_WRITE"

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


# ----------------------------------------------------------------------------- parsing


class ImportErrors(DataError):
    """Bad rows of an import: ``errors`` is a list of ``(line, reason)``; nothing was written."""

    def __init__(self, name: str, errors: list[tuple[int, str]]):
        self.name = name
        self.errors = sorted(errors)
        super().__init__(f"{name}: {len(self.errors)} bad row(s); nothing imported")

    def lines(self, limit: int = 20) -> list[str]:
        """``"error: NAME line N: reason"`` lines, at most ``limit`` then ``… and K more``."""
        out = [f"error: {self.name} line {ln}: {msg}" for ln, msg in self.errors[:limit]]
        if len(self.errors) > limit:
            out.append(f"… and {len(self.errors) - limit} more")
        return out


@dataclass
class ImportSummary:
    """What an import wrote (counts of rows) or why it wrote nothing."""

    trades: int = 0
    closes: int = 0
    marks: int = 0
    quotes: int = 0
    skipped: int = 0
    already_imported: bool = False
    sha256: str = ""

    def line(self) -> str:
        """One-line human summary."""
        s = f"imported {self.trades} trades, {self.marks} marks, {self.quotes} quotes"
        s += f" ({self.closes} closes"
        s += f", {self.skipped} skipped as already in the ledger)"
        if self.already_imported:
            s += "; file already imported"
        return s


@dataclass
class _Open:
    line: int
    ext: str
    account: str
    strategy: str
    underlying: str
    opened_at: str
    contracts: int
    price: float
    multiplier: float
    currency: str
    fx: float
    fees: float
    legs: list[tuple[str, float | None, str | None, float]]


@dataclass
class _Close:
    line: int
    ext: str  # the trade's external id (thetaplan) or None-matching (ibkr: matched by legs)
    close_ext: str
    closed_at: str
    price: float
    contracts: int | None
    fees: float
    fx: float | None
    # ibkr: match by legs
    underlying: str | None = None
    legs: list[tuple[str, float | None, str | None, float]] = field(default_factory=list)


@dataclass
class _Mark:
    line: int
    ext: str
    date: str
    mark: float
    fx: float | None


@dataclass
class _Quote:
    line: int
    date: str
    symbol: str
    price: float
    ext: str = ""


class _RowError(Exception):
    pass


def _num(s: str, col: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise _RowError(f"{col}: {s!r} is not a number") from None
    if not math.isfinite(x):
        raise _RowError(f"{col}: {s!r} is not a finite number")
    return x


def _int_pos(s: str, col: str) -> int:
    x = _num(s, col)
    if x != int(x):
        raise _RowError(f"{col}: {s!r} is not a whole number")
    if x <= 0:
        raise _RowError(f"{col}: {s!r} must be positive")
    return int(x)


def _iso(s: str, col: str, *, date_only: bool = False) -> str:
    s = s.strip()
    try:
        if date_only:
            return date.fromisoformat(s).isoformat()
        if len(s) == 10:
            return date.fromisoformat(s).isoformat()
        return datetime.fromisoformat(s).isoformat()
    except ValueError:
        kind = "date (YYYY-MM-DD)" if date_only else "ISO timestamp"
        raise _RowError(f"{col}: {s!r} is not an {kind}") from None


_LEG = re.compile(r"^([+-]?\d+(?:\.\d+)?)([CPU])(\d+(?:\.\d+)?)?(?:@(\S+))?$")


def _legs(s: str) -> list[tuple[str, float | None, str | None, float]]:
    out = []
    for part in [p.strip() for p in s.split(";") if p.strip()]:
        m = _LEG.match(part)
        if not m:
            raise _RowError(f"legs: {part!r} is not <qty><C|P><strike>@<YYYY-MM-DD> or <qty>U")
        qty, right, strike, expiry = float(m[1]), m[2], m[3], m[4]
        if qty == 0:
            raise _RowError(f"legs: {part!r} has quantity 0")
        if right == "U":
            if strike or expiry:
                raise _RowError(f"legs: {part!r}: an underlying leg has no strike or expiry")
            out.append(("U", None, None, qty))
        else:
            if not strike or not expiry:
                raise _RowError(f"legs: {part!r}: an option leg needs a strike and @expiry")
            out.append((right, float(strike), _iso(expiry, "legs expiry", date_only=True), qty))
    if not out:
        raise _RowError("legs: missing (an open needs at least one leg)")
    return out


def _need(row: dict[str, str], col: str) -> str:
    v = (row.get(col) or "").strip()
    if not v:
        raise _RowError(f"{col}: missing")
    return v


def _opt(row: dict[str, str], col: str) -> str:
    return (row.get(col) or "").strip()


_TP_REQUIRED = ("trade_id", "event", "timestamp", "price")


def _parse_thetaplan(rows, errors, bad_ids):
    events = []
    for line, row in rows:
        try:
            ev = _need(row, "event").lower()
            if ev == "quote":
                price = _num(_need(row, "price"), "price")
                if price <= 0:
                    raise _RowError("price: a quote must be positive")
                events.append(
                    _Quote(
                        line,
                        _iso(_need(row, "timestamp")[:10], "timestamp", date_only=True),
                        _need(row, "underlying").upper(),
                        price,
                    )
                )
                continue
            ext = _need(row, "trade_id")
            if ev == "open":
                fx = _num(_opt(row, "fx_to_account") or "1", "fx_to_account")
                if fx <= 0:
                    raise _RowError("fx_to_account: must be positive")
                fees = _num(_opt(row, "fees") or "0", "fees")
                if fees < 0:
                    raise _RowError("fees: must not be negative (money paid)")
                mult = _num(_need(row, "multiplier"), "multiplier")
                if mult <= 0:
                    raise _RowError("multiplier: must be positive")
                events.append(
                    _Open(
                        line,
                        ext,
                        _need(row, "account"),
                        _need(row, "strategy"),
                        _need(row, "underlying"),
                        _iso(_need(row, "timestamp"), "timestamp"),
                        _int_pos(_need(row, "contracts"), "contracts"),
                        _num(_need(row, "price"), "price"),
                        mult,
                        _need(row, "currency").upper(),
                        fx,
                        fees,
                        _legs(_need(row, "legs")),
                    )
                )
            elif ev == "close":
                c = _opt(row, "contracts")
                fx = _opt(row, "fx_to_account")
                fees = _num(_opt(row, "fees") or "0", "fees")
                if fees < 0:
                    raise _RowError("fees: must not be negative (money paid)")
                fxv = _num(fx, "fx_to_account") if fx else None
                if fxv is not None and fxv <= 0:
                    raise _RowError("fx_to_account: must be positive")
                events.append(
                    _Close(
                        line,
                        ext,
                        ext,
                        _iso(_need(row, "timestamp"), "timestamp"),
                        _num(_need(row, "price"), "price"),
                        _int_pos(c, "contracts") if c else None,
                        fees,
                        fxv,
                    )
                )
            elif ev == "mark":
                fx = _opt(row, "fx_to_account")
                fxv = _num(fx, "fx_to_account") if fx else None
                if fxv is not None and fxv <= 0:
                    raise _RowError("fx_to_account: must be positive")
                events.append(
                    _Mark(
                        line,
                        ext,
                        _iso(_need(row, "timestamp")[:10], "timestamp", date_only=True),
                        _num(_need(row, "price"), "price"),
                        fxv,
                    )
                )
            else:
                raise _RowError(f"event: {ev!r} is not open, close, mark or quote")
        except _RowError as exc:
            errors.append((line, str(exc)))
            if _opt(row, "trade_id"):
                bad_ids.add(_opt(row, "trade_id"))
    return events


_IB_REQUIRED = (
    "IBOrderID",
    "TradeID",
    "DateTime",
    "UnderlyingSymbol",
    "Put/Call",
    "Strike",
    "Expiry",
    "Quantity",
    "TradePrice",
    "Multiplier",
    "CurrencyPrimary",
    "FXRateToBase",
    "IBCommission",
    "Open/CloseIndicator",
)


def _ib_time(s: str) -> str:
    s = s.strip()
    for fmt in ("%Y%m%d;%H%M%S", "%Y-%m-%d;%H:%M:%S", "%Y%m%d %H%M%S", "%Y%m%d"):
        try:
            return datetime.strptime(s, fmt).isoformat()
        except ValueError:
            pass
    return _iso(s.replace(";", "T"), "DateTime")


def _ib_expiry(s: str) -> str:
    s = s.strip()
    try:
        return datetime.strptime(s, "%Y%m%d").date().isoformat()
    except ValueError:
        return _iso(s, "Expiry", date_only=True)


def _parse_ibkr(rows, errors, strategy, bad_ids):
    groups: dict[str, list[tuple[int, dict]]] = {}
    for line, row in rows:
        try:
            oid = _need(row, "IBOrderID")
        except _RowError as exc:
            errors.append((line, str(exc)))
            continue
        groups.setdefault(oid, []).append((line, row))
    events = []
    for oid, members in groups.items():
        first = members[0][0]
        parsed = []
        bad = False
        for line, row in members:
            try:
                oc = _need(row, "Open/CloseIndicator").upper()
                if oc not in ("O", "C"):
                    raise _RowError(f"Open/CloseIndicator: {oc!r} is not O or C")
                _need(row, "TradeID")
                pc = _opt(row, "Put/Call").upper()
                if pc not in ("", "C", "P"):
                    raise _RowError(f"Put/Call: {pc!r} is not C, P or empty")
                qty = _num(_need(row, "Quantity"), "Quantity")
                if qty == 0 or qty != int(qty):
                    raise _RowError(f"Quantity: {qty!r} must be a non-zero whole number")
                fx = _num(_need(row, "FXRateToBase"), "FXRateToBase")
                if fx <= 0:
                    raise _RowError("FXRateToBase: must be positive")
                mult = _num(_need(row, "Multiplier"), "Multiplier")
                if mult <= 0:
                    raise _RowError("Multiplier: must be positive")
                if pc:
                    leg = (
                        pc,
                        _num(_need(row, "Strike"), "Strike"),
                        _ib_expiry(_need(row, "Expiry")),
                    )
                else:
                    leg = ("U", None, None)
                parsed.append(
                    dict(
                        line=line,
                        oc=oc,
                        leg=leg,
                        qty=int(qty),
                        price=_num(_need(row, "TradePrice"), "TradePrice"),
                        mult=mult,
                        ccy=_need(row, "CurrencyPrimary").upper(),
                        fx=fx,
                        comm=_num(_opt(row, "IBCommission") or "0", "IBCommission"),
                        und=_need(row, "UnderlyingSymbol"),
                        when=_ib_time(_need(row, "DateTime")),
                        account=_opt(row, "ClientAccountID"),
                        strategy=_opt(row, "Strategy") or (strategy or ""),
                    )
                )
            except _RowError as exc:
                errors.append((line, str(exc)))
                bad = True
        if bad:
            bad_ids.update("und:" + _opt(row, "UnderlyingSymbol") for _, row in members)
            continue
        try:
            for key, what in (
                ("oc", "Open/CloseIndicator"),
                ("ccy", "CurrencyPrimary"),
                ("mult", "Multiplier"),
                ("und", "UnderlyingSymbol"),
                ("account", "ClientAccountID"),
                ("strategy", "Strategy"),
            ):
                if len({p[key] for p in parsed}) > 1:
                    raise _RowError(f"order {oid}: its rows differ in {what}")
            qty_by_leg: dict[tuple, int] = {}
            for p in parsed:
                qty_by_leg[p["leg"]] = qty_by_leg.get(p["leg"], 0) + p["qty"]
            if any(q == 0 for q in qty_by_leg.values()):
                raise _RowError(f"order {oid}: a leg nets to quantity 0")
            contracts = math.gcd(*(abs(q) for q in qty_by_leg.values()))
            credit = -sum(p["qty"] * p["price"] for p in parsed) / contracts
            legs = [
                (k[0], k[1], k[2], q / contracts) for k, q in sorted(qty_by_leg.items(), key=str)
            ]
            fees = -sum(p["comm"] for p in parsed)
            when = min(p["when"] for p in parsed)
            p0 = parsed[0]
            if p0["oc"] == "O":
                if not p0["strategy"]:
                    raise _RowError(
                        f"order {oid}: no strategy (add a Strategy column or pass --strategy)"
                    )
                events.append(
                    _Open(
                        first,
                        oid,
                        p0["account"],
                        p0["strategy"],
                        p0["und"],
                        when,
                        contracts,
                        credit,
                        p0["mult"],
                        p0["ccy"],
                        p0["fx"],
                        fees,
                        legs,
                    )
                )
            else:
                events.append(
                    _Close(first, "", oid, when, credit, contracts, fees, p0["fx"], p0["und"], legs)
                )
        except _RowError as exc:
            errors.append((first, str(exc)))
            bad = True
        if bad:  # closes on this underlying may belong to this order: not re-reported
            bad_ids.update("und:" + _opt(row, "UnderlyingSymbol") for _, row in members)
    events.sort(key=lambda e: (e.opened_at if isinstance(e, _Open) else e.closed_at, e.line))
    return events


def _read_csv(data: bytes, name: str, required: tuple[str, ...], errors):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportErrors(name, [(1, f"not UTF-8 text ({exc.reason})")]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportErrors(name, [(1, f"missing column(s): {', '.join(missing)}")])
    reader.fieldnames = header
    rows = []
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append((line, f"{len(row[None])} more field(s) than the header"))
            continue
        if all(not (v or "").strip() for v in row.values()):
            continue
        rows.append((line, row))
    return rows


# ----------------------------------------------------------------------------- writing


def _legs_key(legs, sign=1.0):
    return sorted((r, s, e, round(sign * q, 9)) for r, s, e, q in legs)


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
        ``"thetaplan"`` or ``"ibkr"``.
    strategy
        ``ibkr`` only: strategy of orders without a ``Strategy`` column value.

    Returns
    -------
    ImportSummary
        Counts of trades opened, closes applied, marks and skipped events.

    Raises
    ------
    ImportErrors
        One or more bad rows (with line numbers); nothing was written.
    DataError
        Unreadable file or unknown format.
    """
    path = Path(path)
    name = path.name
    if fmt not in ("thetaplan", "ibkr"):
        raise DataError(f"--format: {fmt!r} is not thetaplan or ibkr")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    sha = hashlib.sha256(data).hexdigest()
    errors: list[tuple[int, str]] = []
    bad_ids: set[str] = set()  # trade ids of bad rows: their other events are not re-reported
    if fmt == "thetaplan":
        rows = _read_csv(data, name, _TP_REQUIRED, errors)
        events = _parse_thetaplan(rows, errors, bad_ids)
    else:
        rows = _read_csv(data, name, _IB_REQUIRED, errors)
        events = _parse_ibkr(rows, errors, strategy, bad_ids)
    events = [
        e
        for e in events
        if not (e.ext and e.ext in bad_ids)
        and not (isinstance(e, _Close) and e.underlying and "und:" + e.underlying in bad_ids)
    ]

    slow = float(os.environ.get(SLOW_WRITE_ENV, "0") or 0)
    summary = ImportSummary(sha256=sha)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not errors and conn.execute("SELECT 1 FROM imports WHERE sha256 = ?", (sha,)).fetchone():
            conn.execute("ROLLBACK")
            summary.already_imported = True
            return summary
        _apply(conn, events, fmt, sha, errors, summary, slow)
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


def _tick(slow: float) -> None:
    if slow > 0:
        print("ledger: inserted", file=sys.stderr, flush=True)
        time.sleep(slow)


def _apply(conn, events, source, sha, errors, summary, slow) -> None:
    for ev in events:
        try:
            if isinstance(ev, _Open):
                row = conn.execute(
                    "SELECT id FROM trades WHERE source = ? AND external_id = ?", (source, ev.ext)
                ).fetchone()
                if row:
                    summary.skipped += 1
                    continue
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
                    "INSERT INTO legs (trade_id, right, strike, expiry, quantity)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(cur.lastrowid, *leg) for leg in ev.legs],
                )
                summary.trades += 1
                _tick(slow)
            elif isinstance(ev, _Close):
                if source == "ibkr":
                    done = conn.execute(
                        "SELECT id FROM trades WHERE source = ? AND close_external_id = ?",
                        (source, ev.close_ext),
                    ).fetchone()
                    if done:
                        summary.skipped += 1
                        continue
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
                            continue
                        raise _RowError(
                            f"trade_id {ev.ext!r} is already closed (at {t['closed_at']})"
                        )
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
                _tick(slow)
            elif isinstance(ev, _Quote):
                cur = conn.execute(
                    "INSERT OR IGNORE INTO quotes (date, symbol, price) VALUES (?, ?, ?)",
                    (ev.date, ev.symbol, ev.price),
                )
                if cur.rowcount:
                    summary.quotes += 1
                else:
                    summary.skipped += 1
            else:
                t = conn.execute(
                    "SELECT * FROM trades WHERE source = ? AND external_id = ?", (source, ev.ext)
                ).fetchone()
                if t is None:
                    raise _RowError(f"mark for trade_id {ev.ext!r} that was never opened")
                if ev.date < t["opened_at"][:10]:
                    raise _RowError(f"mark on {ev.date} before the open ({t['opened_at']})")
                cur = conn.execute(
                    "INSERT OR IGNORE INTO marks (trade_id, date, mark, fx_to_account)"
                    " VALUES (?, ?, ?, ?)",
                    (t["id"], ev.date, ev.mark, ev.fx if ev.fx is not None else t["fx_to_account"]),
                )
                if cur.rowcount:
                    summary.marks += 1
                    _tick(slow)
                else:
                    summary.skipped += 1
        except _RowError as exc:
            errors.append((ev.line, str(exc)))


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


# ----------------------------------------------------------------------------- queries


def _d(x: date | str) -> str:
    return x.isoformat()[:10] if isinstance(x, date) else str(x)[:10]


def open_trades(conn: sqlite3.Connection, as_of: date | str) -> list[dict]:
    """Trades open at the end of ``as_of``: opened on or before it, not closed by then.

    Returns
    -------
    list of dict
        One dict per trade (every ``trades`` column) with ``legs``: a list of
        ``{right, strike, expiry, quantity}``; ordered by ``opened_at``.
    """
    d = _d(as_of)
    rows = conn.execute(
        "SELECT * FROM trades WHERE substr(opened_at, 1, 10) <= ?"
        " AND (closed_at IS NULL OR substr(closed_at, 1, 10) > ?) ORDER BY opened_at, id",
        (d, d),
    ).fetchall()
    out = []
    for r in rows:
        t = dict(r)
        t["legs"] = [
            dict(x)
            for x in conn.execute(
                "SELECT right, strike, expiry, quantity FROM legs WHERE trade_id = ? ORDER BY id",
                (r["id"],),
            )
        ]
        out.append(t)
    return out


def realized_pnl(conn: sqlite3.Connection, start: date | str, end: date | str) -> dict[str, float]:
    """Realized P&L per strategy of trades closed in ``[start, end]`` (dates inclusive).

    ``((open_price + close_price) * contracts * multiplier - fees) * fx_to_account``, money in
    the account currency (see the module docstring for the sign convention).

    Returns
    -------
    dict
        ``{strategy: pnl}``; strategies with no close in the window are absent.
    """
    rows = conn.execute(
        "SELECT strategy, SUM(((open_price + close_price) * contracts * multiplier - fees)"
        " * fx_to_account) AS pnl FROM trades WHERE closed_at IS NOT NULL"
        " AND substr(closed_at, 1, 10) BETWEEN ? AND ? GROUP BY strategy ORDER BY strategy",
        (_d(start), _d(end)),
    ).fetchall()
    return {r["strategy"]: float(r["pnl"]) for r in rows}


def marks_on(conn: sqlite3.Connection, on: date | str) -> list[dict]:
    """Marks dated ``on``: ``{trade_id, external_id, strategy, mark, fx_to_account,
    unrealized}`` with ``unrealized = (open_price + mark) * contracts * multiplier * fx``
    (account currency, fees excluded), for trades still open at the end of that date."""
    d = _d(on)
    rows = conn.execute(
        "SELECT m.trade_id, t.external_id, t.strategy, m.mark, m.fx_to_account,"
        " (t.open_price + m.mark) * t.contracts * t.multiplier * m.fx_to_account AS unrealized"
        " FROM marks m JOIN trades t ON t.id = m.trade_id WHERE m.date = ?"
        " AND (t.closed_at IS NULL OR substr(t.closed_at, 1, 10) > ?) ORDER BY m.trade_id",
        (d, d),
    ).fetchall()
    return [dict(r) for r in rows]


def quote_on(
    conn: sqlite3.Connection, symbol: str, on: date | str, *, max_age_days: int = 5
) -> tuple[str, float] | None:
    """The latest quote of ``symbol`` dated on or before ``on``, at most ``max_age_days`` old.

    Returns
    -------
    (date, price) or None
        ISO date and close of the quote; ``None`` when there is none that recent.
    """
    d = _d(on)
    row = conn.execute(
        "SELECT date, price FROM quotes WHERE symbol = ? AND date <= ? ORDER BY date DESC LIMIT 1",
        (symbol.upper(), d),
    ).fetchone()
    if row is None:
        return None
    age = (date.fromisoformat(d) - date.fromisoformat(row["date"])).days
    return (row["date"], float(row["price"])) if age <= max_age_days else None


def trade_values(conn: sqlite3.Connection, on: date | str) -> list[dict]:
    """Every trade opened on or before ``on`` with its P&L since the open at the end of ``on``.

    A trade closed by then carries its realized P&L ``((open + close) × contracts × multiplier −
    fees) × fx`` (every fee of the trade included); an open trade its unrealized P&L at its
    latest mark dated on or before ``on``, ``(open + mark) × contracts × multiplier × fx_mark``
    (fees excluded until the close; 0 when it has no mark yet: valued at its open price).
    Money in the account currency.

    Returns
    -------
    list of dict
        ``{id, external_id, strategy, underlying, opened_at, closed_at, closed, pnl,
        marked_on}`` ordered by open time; ``closed`` says whether ``pnl`` is realized.
    """
    d = _d(on)
    rows = conn.execute(
        "SELECT t.*, (SELECT m.mark FROM marks m WHERE m.trade_id = t.id AND m.date <= ?"
        " ORDER BY m.date DESC LIMIT 1) AS mark, (SELECT m.fx_to_account FROM marks m"
        " WHERE m.trade_id = t.id AND m.date <= ? ORDER BY m.date DESC LIMIT 1) AS mark_fx,"
        " (SELECT m.date FROM marks m WHERE m.trade_id = t.id AND m.date <= ?"
        " ORDER BY m.date DESC LIMIT 1) AS mark_date"
        " FROM trades t WHERE substr(t.opened_at, 1, 10) <= ? ORDER BY t.opened_at, t.id",
        (d, d, d, d),
    ).fetchall()
    out = []
    for r in rows:
        closed = r["closed_at"] is not None and r["closed_at"][:10] <= d
        size = r["contracts"] * r["multiplier"]
        if closed:
            pnl = ((r["open_price"] + r["close_price"]) * size - r["fees"]) * r["fx_to_account"]
        elif r["mark"] is not None:
            pnl = (r["open_price"] + r["mark"]) * size * r["mark_fx"]
        else:
            pnl = 0.0
        out.append(
            {
                "id": r["id"],
                "external_id": r["external_id"],
                "strategy": r["strategy"],
                "underlying": r["underlying"],
                "opened_at": r["opened_at"],
                "closed_at": r["closed_at"] if closed else None,
                "closed": closed,
                "pnl": float(pnl),
                "marked_on": None if closed else r["mark_date"],
            }
        )
    return out


def month_to_date(conn: sqlite3.Connection, as_of: date | str) -> dict[str, dict[str, float]]:
    """Month-to-date income per strategy, marked to market, account currency.

    For every trade, the change of its P&L since the open (:func:`trade_values`) between the end
    of the previous month and the end of ``as_of``: a trade opened before the month counts only
    what it made this month (from its last mark of the previous month, or its open price when it
    had none). The change is ``realized`` when the trade closed by ``as_of`` and ``unrealized``
    when it is still open.

    Returns
    -------
    dict
        ``{strategy: {"realized": float, "unrealized": float}}`` for every strategy with a trade
        that counts (opened before ``as_of`` and not closed before the month).
    """
    return month_to_date_series(conn, [as_of])[0]


def month_to_date_series(
    conn: sqlite3.Connection, days: list[date | str]
) -> list[dict[str, dict[str, float]]]:
    """:func:`month_to_date` at each of ``days`` (the previous month's baseline read once per
    month, not once per day).

    Returns
    -------
    list of dict
        One ``{strategy: {"realized", "unrealized"}}`` mapping per day, in order.
    """
    bases: dict[str, dict] = {}
    out = []
    for day in days:
        d = date.fromisoformat(_d(day))
        prev = date.fromordinal(d.replace(day=1).toordinal() - 1).isoformat()
        if prev not in bases:
            bases[prev] = {t["id"]: t for t in trade_values(conn, prev)}
        base = bases[prev]
        acc: dict[str, dict[str, float]] = {}
        for t in trade_values(conn, d):
            b = base.get(t["id"])
            if b is not None and b["closed"]:
                continue  # closed before the month
            change = t["pnl"] - (b["pnl"] if b is not None else 0.0)
            row = acc.setdefault(t["strategy"], {"realized": 0.0, "unrealized": 0.0})
            row["realized" if t["closed"] else "unrealized"] += change
        out.append(acc)
    return out
