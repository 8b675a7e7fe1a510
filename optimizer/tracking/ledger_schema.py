"""The ledger's CSV row (format ``thetaplan``) as a pydantic model, for ``thetaplan schema ledger``.

The CSV's cells are strings, so every field is a string with the pattern its column accepts;
which columns an event needs is a JSON Schema ``if``/``then`` per event. The rules are those of
:mod:`optimizer.tracking.ledger` ("CSV format ``thetaplan``"), which the importer
(:mod:`optimizer.tracking.ledger_csv`) enforces with line numbers; this model describes them for
editors and other tools (``tests/optimizer/test_ledger_schema.py`` validates the shipped CSV
against it and checks it names exactly the importer's columns).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["COLUMNS", "LedgerRow"]

_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_POSITIVE_INT = r"^\s*\+?0*[1-9]\d*(\.0*)?\s*$"
_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?)?\s*$"
_DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
_LEG = r"[+-]?\d+(\.\d+)?([CP]\d+(\.\d+)?@\d{4}-\d{2}-\d{2}|U)"
_LEGS = rf"^\s*{_LEG}(\s*;\s*{_LEG})*\s*;?\s*$"
_OPTIONAL = "^\\s*$|"  # a blank cell

_REQUIRED_BY_EVENT = {
    "open": [
        "trade_id",
        "timestamp",
        "account",
        "strategy",
        "underlying",
        "contracts",
        "price",
        "multiplier",
        "currency",
        "legs",
    ],
    "close": ["trade_id", "timestamp", "price"],
    "mark": ["trade_id", "timestamp", "price"],
    "quote": ["timestamp", "underlying", "price"],
}


def _nonblank(cols: list[str]) -> dict:
    return {c: {"pattern": r"\S"} for c in cols}


def _event_rules(schema: dict) -> None:
    rules = []
    for event, cols in _REQUIRED_BY_EVENT.items():
        then: dict = {"required": cols, "properties": _nonblank(cols)}
        if event in ("mark", "quote"):
            then["properties"]["timestamp"] = {"pattern": _DATE}
        rules.append({"if": {"properties": {"event": {"const": event}}}, "then": then})
    schema["allOf"] = rules


class LedgerRow(BaseModel):
    """One row of a ledger CSV in the ``thetaplan`` format (cells as strings; blank = absent).

    Prices are signed cash flows per unit per share in the trade's currency (a credit received
    positive); ``fees`` money paid in the trade's currency; ``fx_to_account`` account currency per
    unit of the trade's currency (:mod:`optimizer.tracking.ledger`, "Price convention").
    Required columns by event: open — every column but ``fees`` (default 0) and
    ``fx_to_account`` (default 1); close and mark — ``trade_id, timestamp, price`` (a mark's
    timestamp a date); quote — ``timestamp`` (a date), ``underlying``, ``price``.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_event_rules)

    trade_id: str = Field("", description="The trade's external id (blank for a quote).")
    event: Literal["open", "close", "mark", "quote"]
    timestamp: str = Field(
        "", pattern=_OPTIONAL + _TIMESTAMP, description="ISO 8601 date or date-time."
    )
    account: str = ""
    strategy: str = Field("", description="The scenario's strategy name of the trade.")
    underlying: str = Field("", description="Product symbol (SPX, XSP, /ES…) or quoted symbol.")
    contracts: str = Field(
        "", pattern=_OPTIONAL + _POSITIVE_INT, description="Units of the structure (1..1e6)."
    )
    price: str = Field(
        "", pattern=_OPTIONAL + _NUMBER, description="Net credit per unit per share (signed)."
    )
    multiplier: str = Field("", pattern=_OPTIONAL + _NUMBER, description="Shares per contract.")
    currency: str = Field("", pattern=r"^\s*$|^\s*[A-Z]{3}\s*$", description="ISO 4217 code.")
    fx_to_account: str = Field(
        "", pattern=_OPTIONAL + _NUMBER, description="Account currency per trade currency unit."
    )
    fees: str = Field(
        "", pattern=_OPTIONAL + _NUMBER, description="Money paid, trade currency (default 0)."
    )
    legs: str = Field(
        "",
        pattern=_OPTIONAL + _LEGS,
        description="';'-separated <signed qty><C|P><strike>@<YYYY-MM-DD>, or <signed qty>U.",
    )


#: The CSV columns of the ``thetaplan`` format, in the documented order.
COLUMNS = tuple(LedgerRow.model_fields)
