"""Ledger import of tastytrade's transaction-history CSV (``ledger import --format tastytrade``).

The fixture ``tests/fixtures/ledger/tastytrade_transactions.csv`` (newest row first, as exported)
holds an SPY iron condor opened and closed, two short SPY puts that expire worthless (a
``Receive Deliver`` / ``Expiration`` row without an order number), an /ES put spread with
exchange fees, and a ``Money Movement`` row that is not a trade. The realized P&L below is
computed by hand from the fills in the rows' descriptions with the documented rule
(credit − debit − commissions and fees, × multiplier), not from the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from optimizer.cli.commands.ledger import register
from optimizer.tracking import ledger as L

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"
TT = FIXTURES / "tastytrade_transactions.csv"

# Hand-computed realized P&L (USD):
# iron condor 560/550 P, 620/630 C: credit 2.40 - 1.60 + 1.90 - 1.10 = 1.60, debit to close
# 0.90 - 0.40 + 0.70 - 0.20 = 1.00; commissions 4 x 1.00 at the open, fees 8 x 0.14.
IC_PNL = (1.60 - 1.00) * 100 - (4 * 1.00 + 8 * 0.14)  # 54.88
# 2 short 570 puts at 1.25 expire worthless: commissions 2.00, fees 0.28.
PUT_PNL = 1.25 * 2 * 100 - (2.00 + 0.28)  # 247.72
# /ES 6500/6400 put spread, $50 per point: credit 20.00 - 12.50 = 7.50, debit 8.00 - 4.00 = 4.00;
# commissions 2 x 1.25, exchange and clearing fees 4 x 1.57.
ES_PNL = (7.50 - 4.00) * 50 - (2 * 1.25 + 4 * 1.57)  # 166.22


@pytest.fixture
def conn(tmp_path):
    c = L.init_ledger(tmp_path / "ledger.db")
    yield c
    c.close()


def _realized(conn) -> dict[str, float]:
    rows = conn.execute(
        "SELECT external_id, (open_price + close_price) * contracts * multiplier - fees AS pnl"
        " FROM trades WHERE closed_at IS NOT NULL"
    ).fetchall()
    return {r["external_id"]: r["pnl"] for r in rows}


def test_import_groups_orders_matches_closes_and_realizes_pnl(conn):
    s = L.import_csv(conn, TT, fmt="tastytrade", strategy="tt")
    assert (s.trades, s.closes, s.skipped) == (3, 3, 0)
    assert _realized(conn) == pytest.approx({"1001": IC_PNL, "1003": PUT_PNL, "1004": ES_PNL})
    assert L.realized_pnl(conn, "2026-02-01", "2026-02-28") == pytest.approx(
        {"tt": IC_PNL + PUT_PNL + ES_PNL}
    )
    ic = conn.execute("SELECT * FROM trades WHERE external_id = '1001'").fetchone()
    assert (ic["contracts"], ic["open_price"], ic["multiplier"]) == (1, pytest.approx(1.60), 100)
    assert (ic["opened_at"], ic["closed_at"]) == ("2026-02-02T10:00:00", "2026-02-27T10:15:00")
    legs = conn.execute(
        "SELECT right, strike, expiry, quantity FROM legs WHERE trade_id = ? ORDER BY right, strike",
        (ic["id"],),
    ).fetchall()
    assert [tuple(r) for r in legs] == [
        ("C", 620.0, "2026-03-20", -1.0),
        ("C", 630.0, "2026-03-20", 1.0),
        ("P", 550.0, "2026-03-20", 1.0),
        ("P", 560.0, "2026-03-20", -1.0),
    ]
    put = conn.execute("SELECT * FROM trades WHERE external_id = '1003'").fetchone()
    assert (put["contracts"], put["close_price"], put["closed_at"][:10]) == (2, 0.0, "2026-02-20")
    # the same file again adds nothing
    assert L.import_csv(conn, TT, fmt="tastytrade", strategy="tt").already_imported


def test_older_layout_without_sub_type_and_order_number(conn, tmp_path):
    # the pre-2024 export: no Sub Type, Root Symbol, Order #, Total or Currency columns
    f = tmp_path / "old.csv"
    f.write_text(
        "Date,Type,Action,Symbol,Instrument Type,Description,Value,Quantity,Average Price,"
        "Commissions,Fees,Multiplier,Underlying Symbol,Expiration Date,Strike Price,Call or Put\n"
        "2023-05-10T15:00:00-0400,Trade,BUY_TO_CLOSE,XSP   230616P00400000,Equity Option,"
        "Bought 1 XSP 06/16/23 Put 400.00 @ 0.55,-55.00,1,-55.00,0.00,-0.12,100,XSP,6/16/23,400,PUT\n"
        "2023-05-01T10:00:00-0400,Trade,SELL_TO_OPEN,XSP   230616P00400000,Equity Option,"
        "Sold 1 XSP 06/16/23 Put 400.00 @ 1.80,180.00,1,180.00,-1.00,-0.12,100,XSP,6/16/23,400,PUT\n"
    )
    s = L.import_csv(conn, f, fmt="tastytrade", strategy="tt")
    assert (s.trades, s.closes) == (1, 1)
    assert list(_realized(conn).values()) == pytest.approx([(1.80 - 0.55) * 100 - (1.00 + 0.24)])


def _cli(args):
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return CliRunner().invoke(app, ["ledger", *args])


def _bad(tmp_path, edit) -> Path:
    lines = TT.read_text().splitlines()
    edit(lines)
    f = tmp_path / "bad.csv"
    f.write_text("\n".join(lines) + "\n")
    return f


def test_bad_rows_are_one_line_errors_with_row_numbers(tmp_path):
    db = tmp_path / "l.db"
    L.init_ledger(db).close()

    def unknown_action(lines):
        lines[11] = lines[11].replace("SELL_TO_OPEN", "SELL_SHORT")  # file line 12

    def mixed_currency(lines):
        lines[13] = lines[13][: -len("USD")] + "EUR"  # line 14, order 1001 starts on line 13

    def bad_quantity(lines):
        lines[1] = lines[1].replace(",-90.00,1,", ",-90.00,one,")

    for edit, expected in (
        (
            unknown_action,
            "error: bad.csv line 12: Action: 'SELL_SHORT' is not BUY_TO_OPEN, SELL_TO_OPEN, "
            "BUY_TO_CLOSE or SELL_TO_CLOSE",
        ),
        (mixed_currency, "error: bad.csv line 13: order 1001: its rows differ in Currency"),
        (bad_quantity, "error: bad.csv line 2: Quantity: 'one' is not a number"),
    ):
        res = _cli(["import", str(db), str(_bad(tmp_path, edit)), "--format", "tastytrade",
                    "--strategy", "tt"])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert res.stderr.splitlines()[0] == expected
    conn = L.open_ledger(db)
    assert conn.execute("SELECT COUNT(*) FROM trades").fetchone()[0] == 0  # nothing written
    conn.close()


def test_missing_columns_strategy_and_unmatched_close(conn, tmp_path):
    f = tmp_path / "nocol.csv"
    f.write_text(TT.read_text().replace(",Value,", ",Amount,", 1))
    with pytest.raises(L.ImportErrors) as exc:
        L.import_csv(conn, f, fmt="tastytrade", strategy="tt")
    assert exc.value.errors == [(1, "missing column(s): Value")]
    with pytest.raises(L.ImportErrors) as exc:
        L.import_csv(conn, TT, fmt="tastytrade")
    assert (13, "order 1001: no strategy (add a Strategy column or pass --strategy)") in (
        exc.value.errors
    )
    # the close of the condor without its open
    lines = TT.read_text().splitlines()
    g = tmp_path / "close_only.csv"
    g.write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(L.ImportErrors) as exc:
        L.import_csv(conn, g, fmt="tastytrade", strategy="tt")
    assert exc.value.errors == [
        (
            2,
            "close without open: 1002 matches no open SPY trade with the opposite legs "
            "(partial closes are not supported)",
        )
    ]


def test_one_expiration_closes_two_trades(conn, tmp_path):
    # two separate short puts on SPY expire the same day: one Receive Deliver group closes both
    head, *_ = TT.read_text().splitlines()
    put = (
        "{d},Trade,Sell to Open,SELL_TO_OPEN,SPY   260220P00{k}000,Equity Option,Sold 1 SPY "
        "02/20/26 Put {k}.00 @ {p},{v},1,{v},-1.00,-0.14,100,SPY,SPY,2/20/26,{k},PUT,{o},0,USD"
    )
    exp = (
        "2026-02-20T16:00:00-0500,Receive Deliver,Expiration,BUY_TO_CLOSE,SPY   260220P00{k}000,"
        "Equity Option,Removal,0.00,1,0.00,--,0.00,100,SPY,SPY,2/20/26,{k},PUT,,0.00,USD"
    )
    f = tmp_path / "two.csv"
    f.write_text(
        "\n".join(
            [
                head,
                exp.format(k=560),
                exp.format(k=550),
                put.format(d="2026-02-03T10:00:00-0500", k=550, p="0.80", v="80.00", o="7"),
                put.format(d="2026-02-02T10:00:00-0500", k=560, p="1.10", v="110.00", o="6"),
            ]
        )
        + "\n"
    )
    s = L.import_csv(conn, f, fmt="tastytrade", strategy="tt")
    assert (s.trades, s.closes) == (2, 2)
    assert _realized(conn) == pytest.approx({"6": 110.0 - 1.14, "7": 80.0 - 1.14})
