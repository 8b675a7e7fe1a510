"""The position file of ``thetaplan margin`` and its margin requirement (the heavy half).

Holds the pydantic models of the file, :func:`load_position`, :func:`position_requirement` and
:func:`position_json`; the file format is described in :mod:`optimizer.cli.commands.margin`, which
re-exports these names. Kept apart so that ``import optimizer.cli.app`` loads neither pydantic nor
the margin models (numpy, scipy) before the command runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from models.legs import Leg, Right
from models.margin.dispatch import margin_requirement
from models.margin.portfolio import PMClass
from models.margin.reg_t import MarginClass, MarginRequirement
from models.market.pricing import implied_vol
from optimizer.inputs.spec import read_yaml_mapping
from optimizer.inputs.spec_base import FiniteFloat, NonNegFloat, PosFloat

__all__ = [
    "EXPIRY_TIME",
    "LegSpec",
    "Position",
    "PositionSpec",
    "load_position",
    "position_json",
    "position_requirement",
]

# the scenario's number kinds: true/false refused, |value| <= 1e12 (a 1e308 price overflowed)
PositiveFloat = PosFloat
NonNegativeFloat = NonNegFloat

EXPIRY_TIME = time(16, 0)


class LegSpec(BaseModel):
    """One leg of the position file."""

    model_config = ConfigDict(extra="forbid")

    right: Literal["C", "P", "U"]
    strike: PositiveFloat | None = None
    expiry: datetime | date | None = None
    side: Literal["short", "long"] | None = None
    quantity: StrictInt
    price: NonNegativeFloat | None = None
    iv: PositiveFloat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LegSpec:
        if self.quantity == 0:
            raise ValueError("quantity: must be non-zero")
        if self.side is not None and self.quantity < 0:
            raise ValueError("quantity: must be positive when side is given")
        if self.right == "U":
            if self.strike is not None:
                raise ValueError("strike: not allowed on an underlying (U) leg")
            if self.expiry is not None:
                raise ValueError("expiry: not allowed on an underlying (U) leg")
            if self.iv is not None:
                raise ValueError("iv: not allowed on an underlying (U) leg")
        else:
            if self.strike is None:
                raise ValueError("strike: required for an option leg (C or P)")
            if self.expiry is None:
                raise ValueError("expiry: required for an option leg (C or P)")
            if self.price is None:
                raise ValueError("price: required for an option leg (C or P)")
        return self

    @property
    def signed_quantity(self) -> int:
        """Quantity with its sign: negative for short."""
        return -self.quantity if self.side == "short" else self.quantity


class PositionSpec(BaseModel):
    """The position file."""

    model_config = ConfigDict(extra="forbid")

    underlying: str = Field(min_length=1)
    underlying_price: PositiveFloat
    margin_class: MarginClass | None = None
    multiplier: PositiveFloat | None = None
    valuation_time: datetime | date | None = None
    cash_secured_puts: bool = False
    model: Literal["reg_t", "span", "portfolio"] = "reg_t"
    leverage_factor: FiniteFloat | None = None
    pm_class: PMClass | None = None
    rate: FiniteFloat = 0.0
    div_yield: FiniteFloat = 0.0
    #: 40 legs: far above any listed structure (a butterfly condor has 8); the Reg-T grouping
    #: search is exact and grows exponentially, so a 200-leg file must fail before it starts.
    legs: list[LegSpec] = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _model_inputs(self) -> PositionSpec:
        if self.leverage_factor == 0:
            raise ValueError("leverage_factor: must be non-zero")
        if self.model != "reg_t" and self.valuation_time is None:
            raise ValueError(f"valuation_time: required for model {self.model} (legs are repriced)")
        return self


@dataclass(frozen=True)
class Position:
    """A validated position: legs per unit plus everything the margin models need.

    ``currency`` is the instrument currency, or ``None`` for a symbol not in the instrument table.
    ``margin_class`` is None only for an unknown symbol margined by ``span`` / ``portfolio``;
    ``ivs`` holds each leg's stated ``iv`` (None where not given or for ``U`` legs).
    """

    underlying: str
    underlying_price: float
    multiplier: float
    margin_class: MarginClass | None
    currency: str | None
    valuation_time: datetime | None
    cash_secured_puts: bool
    legs: tuple[Leg, ...]
    model: str = "reg_t"
    leverage_factor: float = 1.0
    pm_class: PMClass | None = None
    rate: float = 0.0
    div_yield: float = 0.0
    ivs: tuple[float | None, ...] = ()


def _as_datetime(value: datetime | date | None, default_time: time) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, default_time)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    path = [str(p) for p in err["loc"]]
    msg = str(err["msg"]).removeprefix("Value error, ")
    field = re.match(r"^(\w+): (.*)$", msg)
    if err["type"] == "value_error" and field:
        path.append(field.group(1))
        msg = field.group(2)
    more = len(exc.errors()) - 1
    suffix = f" (+{more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{'.'.join(path) or '(top level)'}: {msg}{suffix}"


def load_position(path: str | Path) -> Position:
    """Read and validate a position file.

    Raises
    ------
    SpecError
        Unreadable file, bad YAML, or a field that fails validation; one line naming the file
        and the field path.
    """
    p = Path(path)
    data = read_yaml_mapping(p, "position")
    try:
        spec = PositionSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{p}: {_first_error(exc)}") from None

    currency: str | None = None
    multiplier, margin_class = spec.multiplier, spec.margin_class
    leverage, pm_class = spec.leverage_factor, spec.pm_class
    try:
        inst = get_instrument(spec.underlying)
    except ModelError as exc:
        if spec.model == "reg_t" and (multiplier is None or margin_class is None):
            raise SpecError(
                f"{p}: underlying: {exc}; or give multiplier and margin_class"
            ) from None
        if spec.model == "portfolio" and (multiplier is None or pm_class is None):
            raise SpecError(f"{p}: underlying: {exc}; or give multiplier and pm_class") from None
        if multiplier is None:
            raise SpecError(f"{p}: underlying: {exc}; or give multiplier") from None
    else:
        currency = inst.currency
        multiplier = inst.multiplier if multiplier is None else multiplier
        margin_class = inst.margin_class if margin_class is None else margin_class
        leverage = inst.leverage_factor if leverage is None else leverage
        pm_class = inst.pm_class if pm_class is None else pm_class

    legs = []
    for i, leg in enumerate(spec.legs):
        right = Right(leg.right)
        price = spec.underlying_price if leg.price is None else leg.price
        try:
            legs.append(
                Leg(
                    right=right,
                    strike=leg.strike if leg.strike is not None else math.nan,
                    expiry=_as_datetime(leg.expiry, EXPIRY_TIME),
                    quantity=leg.signed_quantity,
                    price=price,
                )
            )
        except ValueError as exc:  # pragma: no cover - the pydantic model checks the same
            raise SpecError(f"{p}: legs.{i}: {exc}") from None
    return Position(
        underlying=spec.underlying.strip().upper(),
        underlying_price=spec.underlying_price,
        multiplier=float(multiplier),
        margin_class=None if margin_class is None else MarginClass(margin_class),
        currency=currency,
        valuation_time=_as_datetime(spec.valuation_time, time(0, 0)),
        cash_secured_puts=spec.cash_secured_puts,
        legs=tuple(legs),
        model=spec.model,
        leverage_factor=1.0 if leverage is None else float(leverage),
        pm_class=pm_class,
        rate=spec.rate,
        div_yield=spec.div_yield,
        ivs=tuple(leg.iv for leg in spec.legs),
    )


def _years(position: Position) -> list[float]:
    """Time to expiry per leg in years (calendar seconds / 365 days); 0 for ``U`` legs."""
    vt = position.valuation_time
    if vt is None:
        raise ModelError(f"valuation_time: required for model {position.model} (legs are repriced)")
    out = []
    for i, leg in enumerate(position.legs):
        if not leg.is_option:
            out.append(0.0)
            continue
        seconds = (leg.expiry - vt).total_seconds()
        if seconds < 0:
            raise ModelError(
                f"legs.{i} ({leg.right.value} {leg.strike:g}) expired {leg.expiry:%Y-%m-%d %H:%M} "
                f"before the valuation time {vt:%Y-%m-%d %H:%M}"
            )
        out.append(seconds / (365.0 * 86400.0))
    return out


def _leg_ivs(position: Position, t: list[float]) -> list[float]:
    """Each option leg's stated ``iv``, or the Black volatility implied from its price."""
    r, q = position.rate, position.div_yield
    out = []
    for i, leg in enumerate(position.legs):
        stated = position.ivs[i] if i < len(position.ivs) else None
        if not leg.is_option:
            out.append(math.nan)
        elif stated is not None:
            out.append(stated)
        else:
            s = position.underlying_price
            forward = s if position.model == "span" else s * math.exp((r - q) * t[i])
            res = implied_vol(
                leg.price, forward, leg.strike, t[i], math.exp(-r * t[i]), leg.right is Right.CALL
            )
            iv = float(res.iv)
            if not (math.isfinite(iv) and iv > 0):
                raise SpecError(
                    f"legs.{i}.iv: cannot imply a volatility from price {leg.price:g} "
                    f"({np.asarray(res.reason).item()}); "
                    "give iv"
                )
            out.append(iv)
    return out


def position_requirement(position: Position) -> MarginRequirement:
    """Margin requirement of one unit of a loaded position under its ``model``.

    Returns
    -------
    MarginRequirement
        Per unit, instrument currency (see :func:`models.margin.reg_t.reg_t`,
        :func:`models.margin.span.span_margin`, :func:`models.margin.portfolio.portfolio_margin`).

    Raises
    ------
    ModelError
        The model refuses the position (Reg-T on futures options, unknown SPAN product,
        portfolio margin without a class, expired legs ...).
    SpecError
        An option leg without ``iv`` whose price implies no volatility.
    """
    market = {}
    if position.model != "reg_t":
        t = _years(position)
        market = {"ivs": _leg_ivs(position, t), "t": t, "rate": position.rate}
    if position.model == "portfolio" and position.pm_class is None:
        raise ModelError(
            f"portfolio margin does not apply to {position.underlying} (no pm_class: futures "
            "options are margined by span); give pm_class to override"
        )
    return margin_requirement(
        position.model,
        position.legs,
        position.underlying_price,
        position.multiplier,
        margin_class=position.margin_class,
        symbol=position.underlying,
        pm_class=position.pm_class,
        div_yield=position.div_yield if position.model == "portfolio" else 0.0,
        valuation_time=position.valuation_time,
        cash_secured_puts=position.cash_secured_puts,
        leverage_factor=position.leverage_factor,
        **market,
    )


def position_json(position: Position, req: MarginRequirement) -> dict:
    """The ``--json`` document: requirement per unit, currency, model, rule, components, legs."""
    return {
        "underlying": position.underlying,
        "underlying_price": position.underlying_price,
        "model": position.model,
        "requirement": req.amount,
        "currency": position.currency,
        "rule": req.rule,
        "components": [{"name": name, "amount": amount} for name, amount in req.components],
        "legs": [
            {
                "right": leg.right.value,
                "strike": leg.strike if leg.is_option else None,
                "expiry": leg.expiry.isoformat() if leg.expiry is not None else None,
                "quantity": leg.quantity,
                "price": leg.price,
            }
            for leg in position.legs
        ],
    }
