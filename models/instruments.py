"""Contract specifications of the tradable underlyings, loaded from ``models/data/instruments.csv``.

One :class:`Instrument` per option root (SPX, SPY, ES, MCL, ...): contract multiplier, currency,
exercise style, settlement, margin class (which margin rules apply), correlation group (the
Tom King groups A1...E of domain.md section 6), the strike increment used when synthesizing
strikes, and Tom King's fixed margin figures where domain.md section 9 quotes one.

The table is read once from the installed package data (``importlib.resources``); sources per
column are in ``models/data/README.md`` and in the ``source`` / ``margin_source`` columns.

The small CSV helpers here (:func:`read_reference_csv` and the ``parse_*`` functions) are shared
by :mod:`models.phases`; every malformed cell raises :class:`~models.errors.DataError` naming the
file, row and column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import TypeVar

from models.errors import DataError, ModelError
from models.margin.portfolio import PMClass
from models.margin.reg_t import MarginClass

__all__ = [
    "parse_reference_csv",
    "ExerciseStyle",
    "Instrument",
    "InstrumentKind",
    "Settlement",
    "all_instruments",
    "get_instrument",
]

T = TypeVar("T")


class InstrumentKind(StrEnum):
    """What the option's underlying is."""

    BROAD_INDEX = "broad_index"
    ETF = "etf"
    EQUITY = "equity"
    FUTURE = "future"


class ExerciseStyle(StrEnum):
    """Option exercise style of the standard listed series."""

    EUROPEAN = "european"
    AMERICAN = "american"


class Settlement(StrEnum):
    """What exercise delivers: cash, or the underlying (shares, or the futures contract)."""

    CASH = "cash"
    PHYSICAL = "physical"


@dataclass(frozen=True)
class Instrument:
    """Contract specification of one option root.

    Parameters
    ----------
    symbol : str
        Root symbol, e.g. ``"SPX"``, ``"MES"``.
    description : str
        Human-readable name.
    kind : InstrumentKind
        Broad index, ETF, single equity or future.
    multiplier : float
        Money per point of option price, per contract, in ``currency`` (SPX 100, ES 50, CL 1,000,
        6E 125,000). Per-contract money = per-share price x multiplier.
    currency : str
        ISO code of the premium and strike currency (all USD here).
    exercise : ExerciseStyle
        Exercise style of the standard (monthly / quarterly) series.
    settlement : Settlement
        ``cash`` or ``physical``; for futures options ``physical`` means exercise into the future.
    margin_class : MarginClass
        Which margin regime applies: Reg-T broad-based index (15%; also ETFs on a broad-based
        index: SPY, QQQ, IWM, DIA and the leveraged S&P 500 / Nasdaq-100 funds), Reg-T equity
        (20%) or futures (SPAN-like / fixed; Reg-T refuses it).
    correlation_group : str
        Tom King correlation group id (``A1`` ... ``E``), see :func:`models.phases.correlation_groups`.
    underlying_price_source : str
        Which price is the model's ``S`` (index level, ETF share price, or the underlying future).
    strike_increment : float
        Strike spacing used for synthetic strikes, in price units.
    has_options : bool
        False for a futures-only row kept for its margin figure and group (M6E).
    fixed_margin_per_strangle : float | None
        Tom King's buying power per strangle (domain.md section 9), in ``fixed_margin_currency``;
        None where no figure is quoted.
    fixed_margin_currency : str | None
        Currency of ``fixed_margin_per_strangle`` (``"USD"`` or ``"GBP"``).
    tk_futures_margin_gbp : float | None
        Tom King's outright futures margin figure, GBP per future (domain.md section 9).
    source : str
        Exchange specification the row follows.
    margin_source : str
        Where the fixed margin figures come from (empty if none).
    leverage_factor : float
        Signed leverage of a leveraged / inverse ETF (SSO 2, UPRO 3, SDS -2); 1 otherwise. Reg-T
        multiplies the naked percentages and the 10% floor by ``|leverage_factor|`` (capped at
        100%); portfolio margin multiplies the valuation range by it (Cboe RG09-97, FINRA
        Regulatory Notices 09-53).
    pm_class : PMClass | None
        Portfolio-margin class (FINRA 4210(g) valuation range); None for futures options.
    class_source : str
        Source of ``margin_class``, ``leverage_factor`` and ``pm_class``.
    """

    symbol: str
    description: str
    kind: InstrumentKind
    multiplier: float
    currency: str
    exercise: ExerciseStyle
    settlement: Settlement
    margin_class: MarginClass
    correlation_group: str
    underlying_price_source: str
    strike_increment: float
    has_options: bool
    fixed_margin_per_strangle: float | None
    fixed_margin_currency: str | None
    tk_futures_margin_gbp: float | None
    source: str
    margin_source: str
    leverage_factor: float
    pm_class: PMClass | None
    class_source: str


# ----------------------------------------------------------------------------------------------
# Shared reference-data helpers (also used by models.phases)
# ----------------------------------------------------------------------------------------------


def read_reference_csv(filename: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Read ``models/data/<filename>`` into a list of rows (column -> stripped string).

    Parameters
    ----------
    filename : str
        File name inside the package's ``data`` directory.
    required : tuple of str
        Columns that must be present in the header.

    Returns
    -------
    list of dict
        One dict per data row; each carries a ``"__where__"`` entry ("file line N") for errors.

    Raises
    ------
    DataError
        Missing file, missing columns, a row with the wrong number of cells, or no rows.
    """
    try:
        text = (resources.files("models") / "data" / filename).read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # pragma: no cover - packaging error
        raise DataError(f"reference data file models/data/{filename} is missing") from exc
    return parse_reference_csv(text, filename, required)


def parse_reference_csv(text: str, label: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a reference CSV's text (column -> stripped string), checked for shape.

    Parameters
    ----------
    text : str
        The file's text.
    label : str
        The file's name in error messages (``fees.csv line 7: …``).
    required : tuple of str
        Columns that must be present in the header.

    Returns
    -------
    list of dict
        One dict per data row; each carries a ``"__where__"`` entry ("file line N") for errors.

    Raises
    ------
    DataError
        Missing columns, a row with the wrong number of cells, or no rows.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(missing)}")
    rows: list[dict[str, str]] = []
    for row in reader:
        where = f"{label} line {reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            raise DataError(f"{where}: expected {len(header)} cells")
        clean = {k: v.strip() for k, v in row.items()}
        clean["__where__"] = where
        rows.append(clean)
    if not rows:
        raise DataError(f"{label}: no data rows")
    return rows


def parse_cell(row: dict[str, str], column: str, convert: Callable[[str], T]) -> T:
    """Convert one cell with ``convert``; any failure becomes a DataError naming the cell."""
    raw = row[column]
    try:
        return convert(raw)
    except (ValueError, KeyError) as exc:
        raise DataError(f"{row['__where__']}, column {column}: bad value {raw!r} ({exc})") from exc


def finite_float(raw: str) -> float:
    """Parse a finite float; raise ValueError otherwise."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def positive_float(raw: str) -> float:
    """Parse a finite float > 0."""
    value = finite_float(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def optional_float(raw: str) -> float | None:
    """Parse a finite float >= 0, or None for an empty cell."""
    if raw == "":
        return None
    value = finite_float(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def upper_bound(raw: str) -> float:
    """Parse an interval's upper bound: empty cell = +inf."""
    return math.inf if raw == "" else finite_float(raw)


def boolean(raw: str) -> bool:
    """Parse ``true`` / ``false``."""
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ValueError("expected true or false")
    return lowered == "true"


def nonempty(raw: str) -> str:
    """Return a non-empty string."""
    if not raw:
        raise ValueError("empty")
    return raw


# ----------------------------------------------------------------------------------------------
# Instruments
# ----------------------------------------------------------------------------------------------

_COLUMNS = tuple(Instrument.__dataclass_fields__)


def _leverage(raw: str) -> float:
    value = finite_float(raw)
    if value == 0 or abs(value) > 10:
        raise ValueError("leverage must be non-zero with |leverage| <= 10")
    return value


def _instrument(row: dict[str, str]) -> Instrument:
    currency = parse_cell(row, "fixed_margin_currency", lambda s: s or None)
    strangle = parse_cell(row, "fixed_margin_per_strangle", optional_float)
    if (strangle is None) != (currency is None):
        raise DataError(
            f"{row['__where__']}: fixed_margin_per_strangle and fixed_margin_currency "
            "must be given together"
        )
    return Instrument(
        symbol=parse_cell(row, "symbol", nonempty),
        description=parse_cell(row, "description", nonempty),
        kind=parse_cell(row, "kind", InstrumentKind),
        multiplier=parse_cell(row, "multiplier", positive_float),
        currency=parse_cell(row, "currency", nonempty),
        exercise=parse_cell(row, "exercise", ExerciseStyle),
        settlement=parse_cell(row, "settlement", Settlement),
        margin_class=parse_cell(row, "margin_class", MarginClass),
        correlation_group=parse_cell(row, "correlation_group", nonempty),
        underlying_price_source=parse_cell(row, "underlying_price_source", nonempty),
        strike_increment=parse_cell(row, "strike_increment", positive_float),
        has_options=parse_cell(row, "has_options", boolean),
        fixed_margin_per_strangle=strangle,
        fixed_margin_currency=currency,
        tk_futures_margin_gbp=parse_cell(row, "tk_futures_margin_gbp", optional_float),
        source=parse_cell(row, "source", nonempty),
        margin_source=row["margin_source"],
        leverage_factor=parse_cell(row, "leverage_factor", _leverage),
        pm_class=parse_cell(row, "pm_class", lambda s: PMClass(s) if s else None),
        class_source=parse_cell(row, "class_source", nonempty),
    )


@cache
def _table() -> dict[str, Instrument]:
    table: dict[str, Instrument] = {}
    for row in read_reference_csv("instruments.csv", _COLUMNS):
        inst = _instrument(row)
        if inst.symbol in table:
            raise DataError(f"{row['__where__']}: duplicate symbol {inst.symbol}")
        table[inst.symbol] = inst
    return table


def all_instruments() -> tuple[Instrument, ...]:
    """Every instrument in the reference table, in file order."""
    return tuple(_table().values())


def get_instrument(symbol: str) -> Instrument:
    """Look up one instrument by root symbol (case-insensitive).

    Raises
    ------
    ModelError
        Unknown symbol; the message lists the known ones.
    """
    table = _table()
    key = symbol.strip().upper() if isinstance(symbol, str) else symbol
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ModelError(
            f"unknown instrument {symbol!r}; known: {', '.join(sorted(table))}"
        ) from None
