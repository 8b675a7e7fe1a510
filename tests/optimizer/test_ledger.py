"""The SQLite trade ledger: schema migrations, validated all-or-nothing CSV import, queries.

Concurrency and crash safety are checked with real processes: two importers at once, and an
importer SIGKILLed in the middle of its write transaction (slowed down by a sqlite trace
callback that the test's subprocess installs when ``THETAPLAN_TEST_SLOW_WRITE`` is set: it
announces and sleeps before every trade insert).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from models.errors import DataError
from optimizer.cli.commands.ledger import register
from optimizer.tracking import ledger as L

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"
ROOT = Path(__file__).resolve().parents[2]

#: Env var of the subprocess below (seconds): sleep before every trade insert (fault injection).
SLOW_WRITE_ENV = "THETAPLAN_TEST_SLOW_WRITE"

# builds the app the way optimizer.cli.app does, without depending on the lead's wiring; with
# SLOW_WRITE_ENV set, every ledger connection announces and sleeps before each trade insert
_APP_SRC = (
    "import os, sys, time, typer\n"
    "from optimizer.tracking import ledger as _ledger\n"
    "_slow = float(os.environ.get('THETAPLAN_TEST_SLOW_WRITE', '0') or 0)\n"
    "def _trace(stmt):\n"
    "    if stmt.lstrip().upper().startswith('INSERT INTO TRADES'):\n"
    "        print('ledger: inserted', file=sys.stderr, flush=True); time.sleep(_slow)\n"
    "if _slow:\n"
    "    _connect = _ledger._connect\n"
    "    def _slow_connect(path):\n"
    "        conn = _connect(path); conn.set_trace_callback(_trace); return conn\n"
    "    _ledger._connect = _slow_connect\n"
    "from optimizer.cli.commands.ledger import register\n"
    "from models.errors import ThetaplanError\n"
    "app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)\n"
    "@app.callback()\n"
    "def _root():\n    pass\n"
    "register(app)\n"
    "try:\n    code = app(args=sys.argv[1:], standalone_mode=False)\n"
    "except ThetaplanError as e:\n    print(f'error: {e}', file=sys.stderr); sys.exit(2)\n"
    "sys.exit(code if isinstance(code, int) else 0)\n"
)


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def _proc(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    e = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", _APP_SRC, *args],
        cwd=ROOT,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("trades", "legs", "marks", "imports")
        } | {
            "closed": conn.execute(
                "SELECT COUNT(*) FROM trades WHERE closed_at IS NOT NULL"
            ).fetchone()[0]
        }
    finally:
        conn.close()


def _write_opens(path: Path, prefix: str, n: int, day: int = 5) -> Path:
    lines = [
        "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,"
        "currency,fx_to_account,fees,legs"
    ]
    for i in range(n):
        lines.append(
            f"{prefix}{i},open,2026-01-{day:02d},U1,pcs,SPX,1,{1 + i / 10:.2f},100,USD,1,1,"
            f"-1P{6000 + i}@2026-03-20;+1P{5950 + i}@2026-03-20"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "acct.sqlite"
    L.init_ledger(path).close()
    return path


# ----------------------------------------------------------------------------- schema


def test_init_creates_current_version_and_refuses_existing(tmp_path):
    path = tmp_path / "l.sqlite"
    conn = L.init_ledger(path)
    assert L.schema_version(conn) == L.SCHEMA_VERSION == len(L.MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "trades", "legs", "marks", "imports"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with pytest.raises(DataError, match="already exists"):
        L.init_ledger(path)


def test_old_v1_file_is_migrated_keeping_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(L.MIGRATIONS[0] + "UPDATE schema_version SET version = 1;")
    raw.execute(
        "INSERT INTO trades (account, strategy, underlying, opened_at, contracts, open_price,"
        " multiplier, currency, fx_to_account, fees, external_id, source, source_sha256)"
        " VALUES ('U1', 'pcs', 'SPX', '2026-01-05', 2, 5.0, 100, 'USD', 0.8, 4, 'T1',"
        " 'thetaplan', 'x')"
    )
    raw.commit()
    assert "marks" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()

    conn = L.open_ledger(path)
    assert L.schema_version(conn) == L.SCHEMA_VERSION
    assert [
        tuple(r) for r in conn.execute("SELECT external_id, close_external_id FROM trades")
    ] == [("T1", None)]
    conn.execute("SELECT * FROM marks").fetchall()  # the v2 table exists
    # the migrated ledger accepts a close and a mark of the old trade
    csv = tmp_path / "c.csv"
    csv.write_text(
        "trade_id,event,timestamp,price\nT1,mark,2026-01-10,-2\nT1,close,2026-01-20,-1\n"
    )
    s = L.import_csv(conn, csv)
    assert (s.closes, s.marks) == (1, 1)
    assert L.realized_pnl(conn, "2026-01-01", "2026-01-31") == {
        "pcs": pytest.approx(((5 - 1) * 2 * 100 - 4) * 0.8)
    }
    conn.close()


def test_newer_schema_is_refused(db):
    raw = sqlite3.connect(db)
    raw.execute("UPDATE schema_version SET version = ?", (L.SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(DataError, match="newer than this thetaplan knows"):
        L.open_ledger(db)


def test_open_missing_or_foreign_file(tmp_path):
    with pytest.raises(DataError, match="no such ledger"):
        L.open_ledger(tmp_path / "nope.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    with pytest.raises(DataError, match="not a thetaplan ledger"):
        L.open_ledger(other)


# ----------------------------------------------------------------------------- import + queries


def test_import_fixture_and_hand_computed_pnl(db):
    conn = L.open_ledger(db)
    s = L.import_csv(conn, FIXTURES / "trades.csv")
    assert (s.trades, s.closes, s.marks, s.skipped) == (3, 2, 2, 0)
    # pcs: credit 5.00, closed for a 1.00 debit, 2 lots x 100, fees 4 + 4, closed at FX 0.78
    # lt112: debit 1.50, sold for 2.00, 3 lots x 100, fees 3 + 3, FX stays 0.80
    assert L.realized_pnl(conn, "2026-01-01", "2026-01-31") == {
        "pcs": pytest.approx(((5.0 - 1.0) * 2 * 100 - 8.0) * 0.78)
    }
    assert L.realized_pnl(conn, "2026-02-01", "2026-02-28") == {
        "lt112": pytest.approx(((-1.5 + 2.0) * 3 * 100 - 6.0) * 0.80)
    }
    assert L.realized_pnl(conn, "2026-01-01", "2026-02-28") == pytest.approx(
        {"pcs": 617.76, "lt112": 115.2}
    )
    assert [t["external_id"] for t in L.open_trades(conn, "2026-01-15")] == ["T1", "T2", "T3"]
    assert [t["external_id"] for t in L.open_trades(conn, "2026-01-20")] == ["T2", "T3"]
    assert [t["external_id"] for t in L.open_trades(conn, "2026-02-03")] == ["T2"]
    assert L.open_trades(conn, "2026-01-04") == []
    t2 = L.open_trades(conn, "2026-02-03")[0]
    assert t2["legs"] == [
        {"right": "P", "strike": 6500.0, "expiry": "2026-03-20", "quantity": -1.0},
        {"right": "C", "strike": 7200.0, "expiry": "2026-03-20", "quantity": -1.0},
    ]
    marks = {m["external_id"]: m for m in L.marks_on(conn, "2026-01-15")}
    assert marks["T1"]["unrealized"] == pytest.approx((5.0 - 2.5) * 2 * 100 * 0.8)
    assert marks["T2"]["unrealized"] == pytest.approx((12.5 - 10.0) * 1 * 50 * 0.8)
    assert L.marks_on(conn, "2026-01-16") == []
    conn.close()


def test_reimport_same_file_adds_nothing(db):
    conn = L.open_ledger(db)
    L.import_csv(conn, FIXTURES / "trades.csv")
    before = _counts(db)
    s = L.import_csv(conn, FIXTURES / "trades.csv")
    assert s.already_imported and (s.trades, s.marks, s.closes) == (0, 0, 0)
    assert _counts(db) == before
    conn.close()


def test_overlapping_file_skips_known_events(db, tmp_path):
    conn = L.open_ledger(db)
    L.import_csv(conn, FIXTURES / "trades.csv")
    before = _counts(db)
    # a different file (other bytes) repeating every event plus one new mark
    text = (FIXTURES / "trades.csv").read_text() + "T2,mark,2026-01-31,,,,,-8.00,,,,,\n"
    (tmp_path / "more.csv").write_text(text)
    s = L.import_csv(conn, tmp_path / "more.csv")
    assert (s.trades, s.closes, s.marks, s.skipped) == (0, 0, 1, 7)
    after = _counts(db)
    assert after["marks"] == before["marks"] + 1 and after["trades"] == before["trades"]
    # the same close with another price is a conflict, not a skip
    (tmp_path / "conflict.csv").write_text(
        "trade_id,event,timestamp,price\nT1,close,2026-01-20T15:00:00,-1.10\n"
    )
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, tmp_path / "conflict.csv")
    assert ei.value.errors == [(2, "trade_id 'T1' is already closed (at 2026-01-20T15:00:00)")]
    conn.close()


def test_every_bad_row_reported_with_its_line_and_nothing_written(db):
    conn = L.open_ledger(db)
    before = _counts(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, FIXTURES / "bad.csv")
    errs = dict(ei.value.errors)
    assert sorted(errs) == [3, 4, 5, 6, 7, 8]
    assert errs[3] == "contracts: '-2' must be positive"
    assert errs[4] == "price: 'abc' is not a number"
    assert errs[5] == "timestamp: '2026-13-01' is not an ISO timestamp"
    assert errs[6] == "event: 'expire' is not open, close, mark or quote"
    assert errs[7] == "close without open: trade_id 'B9' was never opened"
    assert errs[8] == "strategy: missing"
    assert _counts(db) == before  # the good open (line 2) and mark (line 9) were not written
    conn.close()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("X,open,2026-01-05,U,s,SPX,1,5,100,USD,1,0,-1Q6850@2026-02-20", "legs: '-1Q6850"),
        ("X,open,2026-01-05,U,s,SPX,1,5,100,USD,1,0,-1P6850", "needs a strike and @expiry"),
        ("X,open,2026-01-05,U,s,SPX,1.5,5,100,USD,1,0,+100U", "contracts: '1.5' is not a whole"),
        ("X,open,2026-01-05,U,s,SPX,1,5,0,USD,1,0,+100U", "multiplier: must be positive"),
        ("X,open,2026-01-05,U,s,SPX,1,5,100,USD,1,-3,+100U", "fees: must not be negative"),
        ("X,open,2026-01-05,U,s,SPX,1,nan,100,USD,1,0,+100U", "not a finite number"),
        ("X,open,2026-01-05,U,s,SPX,1,5,100,USD,1,0,", "legs: missing"),
        ("X,mark,2026-01-05,,,,,1,,,,,", "mark for trade_id 'X' that was never opened"),
        ("X,open,2026-01-05,U,s,SPX,1,5,100,USD,1,0,+100U,extra", "more field(s) than"),
    ],
)
def test_single_bad_row(db, tmp_path, row, reason):
    f = tmp_path / "one.csv"
    f.write_text((FIXTURES / "trades.csv").read_text().splitlines()[0] + "\n\n" + row + "\n")
    conn = L.open_ledger(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, f)
    [(line, msg)] = ei.value.errors
    assert line == 3 and reason in msg  # blank line 2 is skipped but still counted
    assert _counts(db)["trades"] == 0
    conn.close()


def test_close_checks_against_open(db, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(
        "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,"
        "currency,legs\n"
        "A,open,2026-01-05,U,s,SPX,2,5,100,USD,-1P6850@2026-02-20\n"
        "A,close,2026-01-04,,,,,-1,,,\n"
        "B,open,2026-01-05,U,s,SPX,2,5,100,USD,-1P6850@2026-02-20\n"
        "B,close,2026-01-09,,,,1,-1,,,\n"
    )
    conn = L.open_ledger(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, f)
    assert ei.value.errors == [
        (3, "close at 2026-01-04 before the open (2026-01-05)"),
        (5, "close of 1 contracts, trade has 2 (partial closes are not supported)"),
    ]
    assert _counts(db)["trades"] == 0
    conn.close()


def test_missing_column_is_line_1(db, tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("trade_id,event,price\nA,open,1\n")
    conn = L.open_ledger(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, f)
    assert ei.value.errors == [(1, "missing column(s): timestamp")]
    conn.close()


# ----------------------------------------------------------------------------- ibkr


def test_ibkr_groups_legs_into_trades(db, tmp_path):
    conn = L.open_ledger(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, FIXTURES / "ibkr_trades.csv", fmt="ibkr")
    assert [ln for ln, _ in ei.value.errors] == [2, 4]  # first line of each opening order
    assert all("no strategy" in m for _, m in ei.value.errors)
    assert _counts(db)["trades"] == 0

    s = L.import_csv(conn, FIXTURES / "ibkr_trades.csv", fmt="ibkr", strategy="ib")
    assert (s.trades, s.closes, s.marks) == (2, 1, 0)
    [strangle] = L.open_trades(conn, "2026-01-21")
    assert strangle["external_id"] == "1002" and strangle["contracts"] == 2
    assert strangle["open_price"] == pytest.approx((10.0 + 10.2 + 2 * 3.0) / 2)  # 13.10
    assert strangle["fees"] == pytest.approx(3.0)
    assert sorted((leg["right"], leg["quantity"]) for leg in strangle["legs"]) == [
        ("C", -1.0),
        ("P", -1.0),
    ]
    spread = conn.execute("SELECT * FROM trades WHERE external_id = '1001'").fetchone()
    assert (spread["open_price"], spread["close_price"]) == pytest.approx((5.0, -1.0))
    assert spread["close_external_id"] == "1003" and spread["account"] == "U123"
    assert L.realized_pnl(conn, "2026-01-01", "2026-01-31") == {
        "ib": pytest.approx(((5.0 - 1.0) * 2 * 100 - 4 * 1.30) * 0.78)
    }
    # the next export overlaps: known orders are skipped, nothing duplicated
    (tmp_path / "again.csv").write_text((FIXTURES / "ibkr_trades.csv").read_text() + "\n")
    s2 = L.import_csv(conn, tmp_path / "again.csv", fmt="ibkr", strategy="ib")
    assert (s2.trades, s2.closes, s2.skipped) == (0, 0, 3)
    conn.close()


def test_ibkr_close_without_matching_open(db, tmp_path):
    lines = (FIXTURES / "ibkr_trades.csv").read_text().splitlines()
    f = tmp_path / "close_only.csv"
    f.write_text("\n".join([lines[0], lines[6], lines[7].replace(",6800,", ",6790,")]) + "\n")
    conn = L.open_ledger(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, f, fmt="ibkr")
    [(line, msg)] = ei.value.errors
    assert line == 2 and msg.startswith("close without open: order 1003")
    conn.close()


# ----------------------------------------------------------------------------- CLI


def test_cli_init_import_and_errors(tmp_path):
    runner = CliRunner()
    app = _app()
    path = tmp_path / "a.sqlite"
    r = runner.invoke(app, ["ledger", "init", str(path)])
    assert r.exit_code == 0 and path.exists()
    r = runner.invoke(app, ["ledger", "init", str(path)])
    assert r.exit_code != 0 and isinstance(r.exception, DataError)
    r = runner.invoke(app, ["ledger", "import", str(path), str(FIXTURES / "trades.csv")])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().startswith("imported 3 trades, 2 marks")
    r = runner.invoke(app, ["ledger", "import", str(path), str(FIXTURES / "trades.csv"), "--json"])
    assert json.loads(r.stdout)["already_imported"] is True


def test_cli_subprocess_bad_rows_capped_at_20(tmp_path):
    path = tmp_path / "a.sqlite"
    assert _proc("ledger", "init", str(path)).wait(30) == 0
    header = (FIXTURES / "trades.csv").read_text().splitlines()[0]
    bad = tmp_path / "many.csv"
    bad.write_text(header + "\n" + "".join(f"Z{i},nope,2026-01-01,,,,,1,,,,,\n" for i in range(25)))
    p = _proc("ledger", "import", str(path), str(bad))
    out, err = p.communicate(timeout=600)
    assert p.returncode == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 21
    assert lines[0] == "error: many.csv line 2: event: 'nope' is not open, close, mark or quote"
    assert lines[19].startswith("error: many.csv line 21:")
    assert lines[20] == "… and 5 more"
    p = _proc("ledger", "import", str(path), str(FIXTURES / "trades.csv"))
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert out.startswith("imported 3 trades, 2 marks")


# ----------------------------------------------------------------------------- processes


def test_two_processes_importing_at_once(db, tmp_path):
    a = _write_opens(tmp_path / "a.csv", "A", 8)
    b = _write_opens(tmp_path / "b.csv", "B", 8)
    env = {SLOW_WRITE_ENV: "0.05"}
    procs = [
        _proc("ledger", "import", str(db), str(f), env=env) for f in (a, b, a, b)
    ]  # two different files, each imported twice at the same time
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    outs = sorted(o for o, _ in results)
    assert sum("imported 8 trades" in o for o in outs) == 2
    assert sum("file already imported" in o for o in outs) == 2
    assert _counts(db) == {"trades": 16, "legs": 32, "marks": 0, "imports": 2, "closed": 0}
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_sigkill_mid_write_leaves_ledger_unchanged(db, tmp_path):
    conn = L.open_ledger(db)
    L.import_csv(conn, FIXTURES / "trades.csv")
    conn.close()
    before = _counts(db)
    f = _write_opens(tmp_path / "big.csv", "K", 30)
    p = _proc("ledger", "import", str(db), str(f), env={SLOW_WRITE_ENV: "0.2"})
    seen = 0
    deadline = time.monotonic() + 30
    while seen < 3 and time.monotonic() < deadline:
        if "inserted" in p.stderr.readline():
            seen += 1
    assert seen == 3  # the process is inside its write transaction, 3 trades inserted
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    p.stdout.close()
    p.stderr.close()
    assert p.returncode == -signal.SIGKILL
    assert _counts(db) == before
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    # the ledger still works: the same file imports completely afterwards
    conn = L.open_ledger(db)
    assert L.import_csv(conn, f).trades == 30
    conn.close()


def test_out_of_range_numbers_are_refused_by_row(db, tmp_path):
    """1e20 contracts overflowed SQLite; a 1e308 price made every total null (issue 20)."""
    head = "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,currency,fx_to_account,fees,legs\n"
    legs = "-1P6850@2026-02-20"
    (tmp_path / "huge.csv").write_text(
        head
        + f"H1,open,2026-01-05,U1,pcs,SPX,1e20,5.00,100,USD,0.80,1.00,{legs}\n"
        + f"H2,open,2026-01-05,U1,pcs,SPX,2,1e308,100,USD,0.80,1.00,{legs}\n"
        + "H3,open,2026-01-05,U1,pcs,SPX,2,5.00,100,USD,0.80,1.00,-1P1e12@2026-02-20\n"
        + f"H4,open,2026-01-05,U1,pcs,SPX,1000000,5.00,100,USD,0.80,1.00,{legs}\n"
        + f"H5,open,2026-01-05,U1,pcs,SPX,2000000,5.00,100,USD,0.80,1.00,{legs}\n"
    )
    conn = L.open_ledger(db)
    before = _counts(db)
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, tmp_path / "huge.csv")
    errs = dict(ei.value.errors)
    assert errs[2] == "contracts: '1e20' is out of range (|value| <= 1e+09)"
    assert errs[6] == "contracts: '2000000' is more than 1,000,000 contracts"
    assert errs[3] == "price: '1e308' is out of range (|value| <= 1e+09)"
    assert 4 in errs and 5 not in errs  # a strike written 1e12 is not a leg; 1e6 contracts are
    assert _counts(db) == before
    conn.close()


def test_malformed_files_are_refused_whole(db, tmp_path):
    """Duplicate header columns (last won), one id opened twice in a file (the second was
    dropped as 'already in the ledger'), a field over csv's 131,072-character limit (a
    traceback) — issue 20."""
    head = "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,currency,fx_to_account,fees,legs"
    row = "D1,open,2026-01-05,U1,pcs,SPX,1,5.00,100,USD,0.80,1.00,-1P6850@2026-02-20"
    cases = {
        "dup_header.csv": (head + ",price\n" + row + ",7.00\n", (1, "duplicate column(s): price")),
        "twice.csv": (
            f"{head}\n{row}\n{row.replace('5.00', '6.00')}\n",
            (3, "trade_id 'D1' is opened twice in this file (first on line 2)"),
        ),
        "huge_field.csv": (f"{head}\n{row}\nD2,open," + "x" * 200_000 + "\n", None),
    }
    conn = L.open_ledger(db)
    before = _counts(db)
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(L.ImportErrors) as ei:
            L.import_csv(conn, tmp_path / name)
        if expected is not None:
            assert expected in ei.value.errors, ei.value.errors
        else:
            assert "unreadable CSV" in ei.value.errors[0][1]
    assert _counts(db) == before
    conn.close()


def test_a_corrected_reimport_is_a_conflict_not_ignored(db, tmp_path):
    """Same id, another price: it was silently skipped as 'already in the ledger' (issue 20)."""
    head = "trade_id,event,timestamp,account,strategy,underlying,contracts,price,multiplier,currency,fx_to_account,fees,legs"
    row = "C1,open,2026-01-05,U1,pcs,SPX,1,5.00,100,USD,0.80,1.00,-1P6850@2026-02-20"
    conn = L.open_ledger(db)
    (tmp_path / "a.csv").write_text(f"{head}\n{row}\n")
    L.import_csv(conn, tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text(f"{head}\n{row}\n\n")  # same trade, another file: skipped
    assert L.import_csv(conn, tmp_path / "b.csv").skipped == 1
    (tmp_path / "c.csv").write_text(f"{head}\n{row.replace('5.00', '5.50')}\n")
    with pytest.raises(L.ImportErrors) as ei:
        L.import_csv(conn, tmp_path / "c.csv")
    assert ei.value.errors == [
        (
            2,
            "trade_id 'C1' is already in the ledger with other values (opened "
            "2026-01-05, 1 contracts at 5); a corrected trade needs a new ledger or its own id",
        )
    ]
    conn.close()
