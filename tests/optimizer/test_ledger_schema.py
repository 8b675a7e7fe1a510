"""``thetaplan schema ledger``: the ledger CSV row's JSON Schema agrees with the importer.

The schema is checked with ``jsonschema`` (an independent validator) against the shipped month
CSV (every row valid) and against mutated rows, each of which the importer itself refuses
(differential: schema and importer agree on every case).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jsonschema
import pytest

from models.errors import DataError
from optimizer.cli.commands.schema import schema_of
from optimizer.tracking import ledger as L
from optimizer.tracking.ledger_csv import _TP_REQUIRED
from optimizer.tracking.ledger_schema import COLUMNS

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"
MONTH = FIX / "month_2026-02.csv"


@pytest.fixture(scope="module")
def validator():
    schema = schema_of("ledger")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_columns_are_the_documented_ones():
    doc = L.__doc__.split("CSV format ``thetaplan``")[1].split("* ``event=open``")[0]
    documented = re.findall(r"[a-z_]+", doc.split("::", 1)[1])
    assert tuple(documented) == COLUMNS
    assert set(_TP_REQUIRED) <= set(COLUMNS)


def test_every_row_of_the_shipped_month_is_valid(validator):
    rows = _rows(MONTH)
    assert len(rows) > 50 and {r["event"] for r in rows} == {"open", "close", "mark", "quote"}
    for n, row in enumerate(rows, 2):
        errors = [e.message for e in validator.iter_errors(row)]
        assert not errors, f"line {n}: {errors}"


def _first(event: str) -> dict:
    return next(r for r in _rows(MONTH) if r["event"] == event)


BAD = [
    ("open", {"legs": ""}),
    ("open", {"legs": "-1X6850@2026-02-20"}),
    ("open", {"contracts": "0"}),
    ("open", {"contracts": "1.5"}),
    ("open", {"price": "abc"}),
    ("open", {"strategy": ""}),
    ("open", {"timestamp": "02/02/2026"}),
    ("open", {"event": "opened"}),
    ("close", {"price": ""}),
    ("mark", {"timestamp": "2026-02-03T10:00:00"}),
    ("quote", {"underlying": ""}),
]


@pytest.mark.parametrize(("event", "change"), BAD, ids=[f"{e}-{next(iter(c))}" for e, c in BAD])
def test_rows_the_importer_refuses_are_invalid(validator, tmp_path, event, change):
    row = {**_first(event), **change}
    assert list(validator.iter_errors(row)), f"schema accepts {row}"
    rows = [_first("open")] if event in ("close", "mark") else []
    path = tmp_path / "one.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows([*rows, row])
    conn = L.init_ledger(tmp_path / "l.db")
    with pytest.raises(DataError):
        L.import_csv(conn, path)
    conn.close()
