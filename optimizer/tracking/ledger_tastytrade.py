"""Ledger import of tastytrade's transaction-history CSV (``ledger import --format tastytrade``).

Layout (tastytrade web "History → Transactions → CSV", 2024 on)::

    Date,Type,Sub Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,
    Commissions,Fees,Multiplier,Root Symbol,Underlying Symbol,Expiration Date,Strike Price,
    Call or Put,Order #,Total,Currency

one row per leg fill, newest first. Required: ``Date, Type, Action, Symbol, Instrument Type,
Value, Quantity, Commissions, Fees, Multiplier, Underlying Symbol, Expiration Date, Strike Price,
Call or Put``; ``Sub Type``, ``Order #``, ``Currency`` (default USD), ``Strategy`` (thetaplan's
own addition) are optional, so the older layout without ``Sub Type``/``Order #``/``Currency``
is read too. Values as exported: ``Date`` ISO with offset (``2026-04-02T06:46:35-0700``, stored
as the local wall time), ``Value`` the signed cash of the row (credit +, debit −, thousands
separators allowed), ``Quantity`` unsigned, ``Commissions``/``Fees`` negative money paid (``--``
= none), ``Expiration Date`` ``M/D/YY``, ``Call or Put`` ``CALL``/``PUT``; option symbols are OCC
(``SPY   260320P00560000``) or CME (``./ESH6 EW3H6 260320P5800``): strike, expiry and right are
read from their own columns, not parsed from the symbol.

Rules (as :func:`optimizer.tracking.ledger_csv._parse_ibkr`):

* ``Type`` ``Trade`` rows with ``Action`` ``BUY_TO_OPEN``/``SELL_TO_OPEN``/``BUY_TO_CLOSE``/
  ``SELL_TO_CLOSE`` (futures: ``BUY``/``SELL`` with ``Sub Type`` "Buy to Open" …) sharing an
  ``Order #`` are one order; without ``Order #`` the rows of one ``Date``, underlying and
  open/close are one order. ``Receive Deliver`` rows (``Sub Type`` Expiration, Assignment,
  Exercise, Cash Settled …) of one date and underlying are one close (or open, for delivered
  stock); a removal row without ``Action`` closes whichever side was open. Other types (``Money
  Movement`` …) are not trades and are skipped.
* Leg quantity: + for BUY, − for SELL; contracts = gcd of the legs' quantities; net credit per
  unit per share = ``sum(Value) / (contracts × Multiplier)``; fees =
  ``−sum(Commissions + Fees)``. So realized P&L = credit − debit − fees, the sum of the rows'
  ``Value`` minus their costs. Futures options are exported with ``Multiplier`` 1 and ``Value``
  in dollars: the stored price is then dollars per contract, the P&L the same.
* An open starts a trade (external id ``Order #``); a close matches the earliest open
  tastytrade trade on the same underlying with exactly the opposite legs, or else a set of whole
  open trades whose legs it covers exactly (an expiration of two trades on one date); none is an
  error. Value and fees of a close are shared by quantity.
* Strategy: the ``Strategy`` column, else ``--strategy``, else the order is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from optimizer.tracking.ledger_csv import (
    _Close,
    _iso,
    _num,
    _Open,
    _opt,
    _RowError,
    same_in_order,
    units_of_order,
)

__all__ = ["TT_REQUIRED", "parse_tastytrade", "write_tastytrade_close"]

TT_REQUIRED = (
    "Date",
    "Type",
    "Action",
    "Symbol",
    "Instrument Type",
    "Value",
    "Quantity",
    "Commissions",
    "Fees",
    "Multiplier",
    "Underlying Symbol",
    "Expiration Date",
    "Strike Price",
    "Call or Put",
)
_ACTIONS = {
    "BUY_TO_OPEN": (1, "O"),
    "SELL_TO_OPEN": (-1, "O"),
    "BUY_TO_CLOSE": (1, "C"),
    "SELL_TO_CLOSE": (-1, "C"),
}
_RD_SUBTYPES = ("expiration", "assignment", "exercise", "cash settled")


@dataclass
class TTClose(_Close):
    """A tastytrade close: legs ``(right, strike, expiry)`` → [sign (0 unknown), qty, value]."""

    pieces: dict = field(default_factory=dict)


def _money(s: str, col: str) -> float:
    s = s.strip().replace(",", "")
    return 0.0 if s in ("", "--") else _num(s, col)


def _when(s: str) -> str:
    try:
        return datetime.fromisoformat(s.strip()).replace(tzinfo=None).isoformat()
    except ValueError:
        return _iso(s, "Date")


def _expiry(s: str) -> str:
    for fmt in ("%m/%d/%y", "%m/%d/%Y"):
        try:
            return datetime.strptime(s.strip(), fmt).date().isoformat()
        except ValueError:
            pass
    return _iso(s, "Expiration Date", date_only=True)


def _side(row: dict) -> tuple[int, str] | None:
    """(sign, O/C) of a row; None for a row that is not a trade (skipped)."""
    typ = _opt(row, "Type").lower()
    action = _opt(row, "Action").upper()
    sub = _opt(row, "Sub Type").lower()
    if typ not in ("trade", "receive deliver"):
        return None
    if action in _ACTIONS:
        return _ACTIONS[action]
    if action in ("BUY", "SELL") and ("to open" in sub or "to close" in sub):
        return (1 if action == "BUY" else -1, "O" if "to open" in sub else "C")
    if typ == "receive deliver" and not action and sub.startswith(_RD_SUBTYPES):
        return (0, "C")  # removal of an assigned/exercised option: the open side is closed
    raise _RowError(
        f"Action: {action or '(empty)'!r} is not BUY_TO_OPEN, SELL_TO_OPEN, BUY_TO_CLOSE or "
        "SELL_TO_CLOSE"
    )


def _row(line: int, row: dict, strategy: str | None) -> dict | None:
    side = _side(row)
    if side is None:
        return None
    qty = _money(row.get("Quantity") or "", "Quantity")
    if qty <= 0 or qty != int(qty):
        raise _RowError(f"Quantity: {qty!r} must be a positive whole number")
    mult = _money(_opt(row, "Multiplier") or "1", "Multiplier")
    if mult <= 0:
        raise _RowError("Multiplier: must be positive")
    if "option" in _opt(row, "Instrument Type").lower():
        right = _opt(row, "Call or Put").upper()[:1]
        if right not in ("C", "P"):
            raise _RowError(f"Call or Put: {_opt(row, 'Call or Put')!r} is not CALL or PUT")
        strike = _num(_opt(row, "Strike Price").replace(",", "") or "nan", "Strike Price")
        leg = (right, strike, _expiry(_opt(row, "Expiration Date")))
    else:
        leg = ("U", None, None)
    und = _opt(row, "Underlying Symbol") or _opt(row, "Symbol")
    if not und:
        raise _RowError("Underlying Symbol: missing")
    return dict(
        line=line,
        sign=side[0],
        oc=side[1],
        leg=leg,
        qty=int(qty),
        value=_money(_opt(row, "Value"), "Value"),
        fees=-(_money(_opt(row, "Commissions"), "Commissions") + _money(_opt(row, "Fees"), "Fees")),
        mult=mult,
        ccy=(_opt(row, "Currency") or "USD").upper(),
        und=und,
        when=_when(_opt(row, "Date")),
        strategy=_opt(row, "Strategy") or (strategy or ""),
        key=_opt(row, "Order #"),
        rd=_opt(row, "Type").lower() == "receive deliver",
    )


def _event(oid: str, parsed: list[dict]):
    same_in_order(
        parsed,
        oid,
        (
            ("oc", "open/close (Action)"),
            ("ccy", "Currency"),
            ("mult", "Multiplier"),
            ("und", "Underlying Symbol"),
            ("strategy", "Strategy"),
        ),
    )
    p0 = parsed[0]
    when = min(p["when"] for p in parsed)
    fees = sum(p["fees"] for p in parsed)
    value = sum(p["value"] for p in parsed)
    if p0["oc"] == "C":
        pieces: dict = {}
        for p in parsed:
            sign, q, v = pieces.get(p["leg"], [p["sign"], 0, 0.0])
            if sign != p["sign"]:
                raise _RowError(f"order {oid}: leg {p['leg']} is both bought and sold")
            pieces[p["leg"]] = [sign, q + p["qty"], v + p["value"]]
        contracts = math.gcd(*(q for _, q, _ in pieces.values()))
        return TTClose(
            p0["line"], "", oid, when, value, contracts, fees, None, p0["und"], pieces=pieces
        )
    qty_by_leg: dict = {}
    for p in parsed:
        qty_by_leg[p["leg"]] = qty_by_leg.get(p["leg"], 0) + p["sign"] * p["qty"]
    contracts, legs = units_of_order(qty_by_leg, oid)
    if not p0["strategy"]:
        raise _RowError(f"order {oid}: no strategy (add a Strategy column or pass --strategy)")
    credit = value / (contracts * p0["mult"])
    return _Open(
        p0["line"], oid, "", p0["strategy"], p0["und"], when, contracts, credit, p0["mult"],
        p0["ccy"], 1.0, fees, legs,
    )  # fmt: skip


def parse_tastytrade(rows, errors, strategy, bad_ids):
    """Trade events of a tastytrade CSV (rules in the module docstring).

    Parameters
    ----------
    rows : list of (int, dict)
        ``(line, row)`` from :func:`optimizer.tracking.ledger_csv._read_csv`.
    errors : list
        Receives ``(line, reason)`` of bad rows and orders.
    strategy : str or None
        Strategy of orders without a ``Strategy`` value.
    bad_ids : set
        Receives ``"und:<underlying>"`` of bad orders (their closes are not re-reported).

    Returns
    -------
    list
        :class:`~optimizer.tracking.ledger_csv._Open` and :class:`TTClose` events in time order.
    """
    groups: dict[str, list[dict]] = {}
    for line, row in rows:
        try:
            p = _row(line, row, strategy)
        except _RowError as exc:
            errors.append((line, str(exc)))
            bad_ids.add("und:" + (_opt(row, "Underlying Symbol") or _opt(row, "Symbol")))
            continue
        if p is None:
            continue
        if p["rd"]:
            oid = f"RD {p['when'][:10]} {p['und']} {p['oc']}"
        else:
            oid = p["key"] or f"{p['when']} {p['und']} {p['oc']}"
        groups.setdefault(oid, []).append(p)
    events = []
    for oid, parsed in groups.items():
        parsed.sort(key=lambda p: p["line"])
        try:
            events.append(_event(oid, parsed))
        except _RowError as exc:
            errors.append((parsed[0]["line"], str(exc)))
            bad_ids.add("und:" + parsed[0]["und"])
    events.sort(key=lambda e: (e.opened_at if isinstance(e, _Open) else e.closed_at, e.line))
    return events


def _fits(t, legs, remaining) -> bool:
    for r, s, e, q in legs:
        piece = remaining.get((r, s, e))
        need = abs(q) * t["contracts"]
        if piece is None or piece[1] < need - 1e-9:
            return False
        if piece[0] != 0 and piece[0] != (-1 if q > 0 else 1):
            return False
    return True


def _matches(conn, ev: TTClose) -> list:
    """The open trades ``ev`` closes: one with exactly the opposite legs, else whole trades."""
    remaining = {k: [s, q, v] for k, (s, q, v) in ev.pieces.items()}
    cands = []
    for t in conn.execute(
        "SELECT * FROM trades WHERE source = 'tastytrade' AND closed_at IS NULL"
        " AND underlying = ? AND opened_at <= ? ORDER BY opened_at, id",
        (ev.underlying, ev.closed_at),
    ).fetchall():
        legs = [
            tuple(r)
            for r in conn.execute(
                "SELECT right, strike, expiry, quantity FROM legs WHERE trade_id = ?", (t["id"],)
            ).fetchall()
        ]
        cands.append((t, legs))
    exact = [
        (t, legs)
        for t, legs in cands
        if {(r, s, e) for r, s, e, _ in legs} == set(remaining)
        and all(
            abs(abs(q) * t["contracts"] - remaining[(r, s, e)][1]) < 1e-9 for r, s, e, q in legs
        )
        and _fits(t, legs, remaining)
    ]
    chosen = exact[:1]
    if not chosen:
        left = {k: list(v) for k, v in remaining.items()}
        for t, legs in cands:
            if _fits(t, legs, left):
                chosen.append((t, legs))
                for r, s, e, q in legs:
                    left[(r, s, e)][1] -= abs(q) * t["contracts"]
        if any(v[1] > 1e-9 for v in left.values()):
            return []
    return chosen


def write_tastytrade_close(conn, ev: TTClose, source: str, sha: str, summary) -> None:
    """Close the trade(s) ``ev`` matches (value and fees shared by quantity).

    Raises
    ------
    _RowError
        The close matches no open trade (or set of whole trades) with the opposite legs.
    """
    if conn.execute(
        "SELECT 1 FROM trades WHERE source = ? AND close_external_id = ?", (source, ev.close_ext)
    ).fetchone():
        summary.skipped += 1
        return
    chosen = _matches(conn, ev)
    if not chosen:
        raise _RowError(
            f"close without open: {ev.close_ext} matches no open {ev.underlying} trade with the "
            "opposite legs (partial closes are not supported)"
        )
    total = sum(q for _, q, _ in ev.pieces.values())
    for t, legs in chosen:
        value = share = 0.0
        for r, s, e, q in legs:
            _, qty, v = ev.pieces[(r, s, e)]
            need = abs(q) * t["contracts"]
            value += v * need / qty
            share += need
        conn.execute(
            "UPDATE trades SET closed_at = ?, close_price = ?, fees = fees + ?,"
            " close_external_id = ? WHERE id = ?",
            (
                ev.closed_at,
                value / (t["contracts"] * t["multiplier"]),
                ev.fees * share / total,
                ev.close_ext,
                t["id"],
            ),
        )
        summary.closes += 1
