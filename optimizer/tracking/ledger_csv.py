"""Parsing of ledger CSV files: the ``thetaplan`` and ``ibkr`` formats (documented in
:mod:`optimizer.tracking.ledger`) into validated trade events, every row error with its line and
column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from models.errors import DataError

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


#: Largest magnitude of a price, strike, fee or quantity read from a trade file: no listed
#: option's price or strike comes near it in any currency; beyond it a value is a typo (1e308
#: reached the ledger and made every total ``null``).
MAX_ABS_NUMBER = 1e9
#: Most contracts in one trade (1e20 overflowed SQLite's 64-bit integers).
MAX_CONTRACTS = 1_000_000


def _num(s: str, col: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise _RowError(f"{col}: {s!r} is not a number") from None
    if not math.isfinite(x):
        raise _RowError(f"{col}: {s!r} is not a finite number")
    if abs(x) > MAX_ABS_NUMBER:
        raise _RowError(f"{col}: {s!r} is out of range (|value| <= {MAX_ABS_NUMBER:g})")
    return x


def _int_pos(s: str, col: str) -> int:
    x = _num(s, col)
    if x != int(x):
        raise _RowError(f"{col}: {s!r} is not a whole number")
    if x <= 0:
        raise _RowError(f"{col}: {s!r} must be positive")
    if x > MAX_CONTRACTS:
        raise _RowError(f"{col}: {s!r} is more than {MAX_CONTRACTS:,} contracts")
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
        qty, right, strike, expiry = _num(m[1], "legs quantity"), m[2], m[3], m[4]
        if qty == 0:
            raise _RowError(f"legs: {part!r} has quantity 0")
        if right == "U":
            if strike or expiry:
                raise _RowError(f"legs: {part!r}: an underlying leg has no strike or expiry")
            out.append(("U", None, None, qty))
        else:
            if not strike or not expiry:
                raise _RowError(f"legs: {part!r}: an option leg needs a strike and @expiry")
            out.append(
                (
                    right,
                    _num(strike, "legs strike"),
                    _iso(expiry, "legs expiry", date_only=True),
                    qty,
                )
            )
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
    opened: dict[str, int] = {}  # trade id -> line of its open in this file
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
                if ext in opened:  # the second was dropped as "already in the ledger"
                    raise _RowError(
                        f"trade_id {ext!r} is opened twice in this file (first on line "
                        f"{opened[ext]})"
                    )
                opened[ext] = line
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


def same_in_order(parsed: list[dict], oid: str, fields) -> None:
    """Refuse an order whose rows differ in any of ``fields`` (``(key, column name)`` pairs).

    Raises
    ------
    _RowError
        ``order OID: its rows differ in COLUMN``.
    """
    for key, what in fields:
        if len({p[key] for p in parsed}) > 1:
            raise _RowError(f"order {oid}: its rows differ in {what}")


def units_of_order(qty_by_leg: dict[tuple, int], oid: str) -> tuple[int, list[tuple]]:
    """Contracts and legs per unit of an order from its net signed quantity per leg.

    ``contracts`` is the gcd of the legs' absolute quantities; each leg ``(right, strike,
    expiry, quantity per unit)``, sorted (the ``ibkr`` and ``tastytrade`` rule of
    :mod:`optimizer.tracking.ledger`).

    Raises
    ------
    _RowError
        A leg nets to quantity 0.
    """
    if any(q == 0 for q in qty_by_leg.values()):
        raise _RowError(f"order {oid}: a leg nets to quantity 0")
    contracts = math.gcd(*(abs(q) for q in qty_by_leg.values()))
    legs = [(k[0], k[1], k[2], q / contracts) for k, q in sorted(qty_by_leg.items(), key=str)]
    return contracts, legs


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
            same_in_order(
                parsed,
                oid,
                (
                    ("oc", "Open/CloseIndicator"),
                    ("ccy", "CurrencyPrimary"),
                    ("mult", "Multiplier"),
                    ("und", "UnderlyingSymbol"),
                    ("account", "ClientAccountID"),
                    ("strategy", "Strategy"),
                ),
            )
            qty_by_leg: dict[tuple, int] = {}
            for p in parsed:
                qty_by_leg[p["leg"]] = qty_by_leg.get(p["leg"], 0) + p["qty"]
            contracts, legs = units_of_order(qty_by_leg, oid)
            credit = -sum(p["qty"] * p["price"] for p in parsed) / contracts
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
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ImportErrors(name, [(1, f"unreadable header ({exc})")]) from None
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:  # the last column of a name would silently win
        raise ImportErrors(name, [(1, f"duplicate column(s): {', '.join(dup)}")])
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportErrors(name, [(1, f"missing column(s): {', '.join(missing)}")])
    reader.fieldnames = header
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
            raise ImportErrors(name, [(reader.line_num, f"unreadable CSV ({exc})")]) from None
        line = reader.line_num
        if None in row:
            errors.append((line, f"{len(row[None])} more field(s) than the header"))
            continue
        if all(not (v or "").strip() for v in row.values()):
            continue
        rows.append((line, row))
    return rows
