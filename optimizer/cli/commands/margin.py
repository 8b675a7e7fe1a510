"""``thetaplan margin POSITION.yaml [--json]``: buying power of one structure, with the rule used.

The position file (YAML, ``safe_load``) describes one unit of a structure::

    underlying: SPX              # symbol; multiplier and margin class default from instruments
    underlying_price: 5000
    valuation_time: 2025-01-10T10:30:00   # optional; a bare date means 00:00
    # optional: multiplier, margin_class (broad_based_index | equity), cash_secured_puts,
    # leverage_factor, pm_class, model (reg_t | span | portfolio), rate, div_yield
    legs:
      - {right: P, strike: 4870, expiry: 2025-02-21, side: long, quantity: 1, price: 2.00}
      - {right: P, strike: 4900, expiry: 2025-02-21, quantity: -1, price: 3.50}

``quantity`` is signed (negative = short) unless ``side`` is given, in which case it is the
positive number of contracts. A bare ``expiry`` date means the 16:00 close that day. ``U`` legs
(the underlying: one contract's worth of shares) take no strike or expiry and default their
price to ``underlying_price``. Any validation failure raises :class:`SpecError` with one line
naming the field path (``legs.1.strike: ...``); the CLI maps it to exit code 2.

``model`` selects the margin model (default ``reg_t``): ``span`` (futures options,
:func:`models.margin.span.span_margin`; ``underlying_price`` is the futures price) or ``portfolio``
(:func:`models.margin.portfolio.portfolio_margin`). Both reprice the legs, so they need
``valuation_time`` and an implied volatility per option leg: ``iv`` on the leg (decimal), or
implied from its ``price`` (Black-76 on the futures price for ``span``, on the forward
``S exp((r - q) t)`` for ``portfolio``). ``--json`` prints one JSON document
``{underlying, underlying_price, model, requirement, currency, rule, components, legs}`` and
nothing else on stdout; requirement per unit in the instrument currency.

The file's pydantic model, :func:`load_position`, :func:`position_requirement` and
:func:`position_json` live in :mod:`optimizer.cli.commands._margin_position`, imported when the
command runs or one of these names is first used (they are re-exported here), so that
``thetaplan --help`` loads neither pydantic nor the margin models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models.errors import ModelError, SpecError

if TYPE_CHECKING:  # pydantic and the margin models: imported when the command runs
    from datetime import datetime

    from models.margin.reg_t import MarginRequirement
    from optimizer.cli.commands._margin_position import (
        Position,
        load_position,
        position_json,
        position_requirement,
    )

__all__ = [
    "Position",
    "load_position",
    "margin_command",
    "position_json",
    "position_requirement",
    "register",
]

#: Names defined in :mod:`optimizer.cli.commands._margin_position`, loaded on first access.
_LAZY = frozenset(
    {
        "EXPIRY_TIME",
        "LegSpec",
        "Position",
        "PositionSpec",
        "load_position",
        "position_json",
        "position_requirement",
    }
)


def __getattr__(name: str) -> Any:
    """The position-file names (:data:`_LAZY`), imported with pydantic on first access."""
    if name in _LAZY:
        from optimizer.cli.commands import _margin_position

        return getattr(_margin_position, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)


def _expiry_text(expiry: datetime | None) -> str:
    from optimizer.cli.commands._margin_position import EXPIRY_TIME

    if expiry is None:
        return ""
    return f"{expiry:%Y-%m-%d}" if expiry.time() == EXPIRY_TIME else f"{expiry:%Y-%m-%d %H:%M}"


def _render(position: Position, req: MarginRequirement, source: Path, console: Console) -> None:
    cur = position.currency or "instrument ccy"
    mc = position.margin_class.value if position.margin_class is not None else "n/a"
    console.print(
        f"[bold]{escape(source.name)}[/bold]: {escape(position.underlying)} at "
        f"{position.underlying_price:,.2f}, "
        f"multiplier {position.multiplier:g}, margin class {mc}, model {position.model}"
        + (
            f", valuation {position.valuation_time:%Y-%m-%d %H:%M}"
            if position.valuation_time
            else ""
        )
    )
    legs = Table(title="Legs (per unit)", title_justify="left")
    for col, justify in (
        ("#", "right"),
        ("side", "left"),
        ("qty", "right"),
        ("right", "left"),
        ("strike", "right"),
        ("expiry", "left"),
        ("price/share", "right"),
        (f"cash ({cur})", "right"),
    ):
        legs.add_column(col, justify=justify)
    for i, leg in enumerate(position.legs):
        cash = -leg.quantity * leg.price * position.multiplier
        legs.add_row(
            str(i),
            "short" if leg.is_short else "long",
            str(abs(leg.quantity)),
            leg.right.value,
            f"{leg.strike:g}" if leg.is_option else "",
            _expiry_text(leg.expiry),
            f"{leg.price:g}",
            f"{cash:+,.2f}",
        )
    console.print(legs)
    title = {"reg_t": "Reg-T", "span": "SPAN-like", "portfolio": "portfolio margin"}[position.model]
    comps = Table(title=f"Buying-power reduction ({title})", title_justify="left")
    comps.add_column("component")
    comps.add_column(f"amount ({cur})", justify="right")
    for name, amount in req.components:
        comps.add_row(escape(name), f"{amount:,.2f}")
    comps.add_row("[bold]total per unit[/bold]", f"[bold]{req.amount:,.2f}[/bold]")
    console.print(comps)
    console.print(f"[bold]Requirement per unit:[/bold] {req.amount:,.2f} {cur}")
    console.print(f"[bold]Rule:[/bold] {escape(req.rule)}", highlight=False)


def margin_command(
    position_file: Annotated[Path, typer.Argument(help="Position YAML file (one structure unit).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
    ] = False,
) -> None:
    """Buying-power reduction of one structure unit (Reg-T, SPAN-like or portfolio margin)."""
    from optimizer.cli.commands._margin_position import (
        load_position,
        position_json,
        position_requirement,
    )

    position = load_position(position_file)
    try:
        req = position_requirement(position)
    except ModelError as exc:
        raise ModelError(f"{position_file}: {exc}") from None
    except SpecError as exc:
        raise SpecError(f"{position_file}: {exc}") from None
    if as_json:
        from optimizer.verdict.result import jsonable

        typer.echo(json.dumps(jsonable(position_json(position, req)), allow_nan=False))
        return
    _render(position, req, Path(position_file), Console())


def register(app: typer.Typer) -> None:
    """Add the ``margin`` command to the thetaplan CLI."""
    app.command("margin")(margin_command)
