"""Queries of the trade ledger: open trades, realized P&L, marks and quotes on a date, trade
values and month-to-date income (account currency, per strategy).
"""

from __future__ import annotations

import sqlite3
from datetime import date

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
