"""One entry point for every option-margin model: Reg-T, SPAN and portfolio margin.

:func:`margin_requirement` picks the model by name (the scenario's ``margin.model`` and the
``thetaplan margin`` position file's ``model``) and passes each the inputs it reads: Reg-T the
legs at the underlying price (Cboe Margin Manual, FINRA Rule 4210(f)(2)); SPAN and portfolio
margin the legs repriced at their implied vols, time to expiry and rates (CME SPAN; Cboe/OCC
TIMS-style portfolio margin, FINRA Rule 4210(g)). The ``fixed`` model of the scenarios (a stated
amount per unit) needs no market inputs and stays :func:`models.margin.reg_t.fixed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from numpy.typing import ArrayLike

from models.errors import ModelError
from models.legs import Leg
from models.margin.reg_t import MarginClass, MarginRequirement, reg_t

__all__ = ["MarginModel", "margin_requirement"]


class MarginModel(StrEnum):
    """Option-margin models (compare equal to the plain strings of the scenario files)."""

    REG_T = "reg_t"
    SPAN = "span"
    PORTFOLIO = "portfolio"


def margin_requirement(
    model: MarginModel | str,
    legs: Sequence[Leg],
    underlying_price: float,
    multiplier: float,
    *,
    margin_class: MarginClass | None = None,
    symbol: str | None = None,
    pm_class: str | None = None,
    ivs: ArrayLike | None = None,
    t: ArrayLike | None = None,
    rate: float = 0.0,
    div_yield: float = 0.0,
    valuation_time: datetime | None = None,
    cash_secured_puts: bool = False,
    leverage_factor: float = 1.0,
) -> MarginRequirement:
    """Margin requirement of one unit of a structure under ``model``.

    Parameters
    ----------
    model : MarginModel or {"reg_t", "span", "portfolio"}
        The margin model.
    legs : sequence of Leg
        The structure's legs (quantity per unit).
    underlying_price : float
        Underlying (SPAN: futures) price.
    multiplier : float
        Contract multiplier.
    margin_class : MarginClass, optional
        Reg-T class of the underlying (required by ``reg_t``).
    symbol : str, optional
        SPAN product (required by ``span``).
    pm_class : str, optional
        Portfolio-margin class (required by ``portfolio``).
    ivs, t : array_like, optional
        Per leg: implied vol and years to expiry (required by ``span`` and ``portfolio``).
    rate, div_yield : float
        Continuously compounded rate and dividend yield (``span`` reads ``rate`` only).
    valuation_time : datetime, optional
        Reg-T: the time long options' remaining life is measured from.
    cash_secured_puts : bool
        Reg-T: short puts secured by cash (full strike) instead of naked.
    leverage_factor : float
        Leveraged ETFs: the factor the percentages scale with (Reg-T, portfolio margin).

    Returns
    -------
    MarginRequirement
        Per unit, in the instrument's currency, with the rule applied.

    Raises
    ------
    ModelError
        An unknown model, or an input the model needs is missing (and whatever the model
        itself refuses: futures options under Reg-T, an unknown SPAN product, expired legs).
    """
    try:
        which = MarginModel(model)
    except ValueError:
        raise ModelError(
            f"unknown margin model {model!r}; known: {', '.join(m.value for m in MarginModel)}"
        ) from None
    if which is MarginModel.REG_T:
        if margin_class is None:
            raise ModelError("reg_t margin needs the underlying's margin class")
        return reg_t(
            legs,
            underlying_price,
            multiplier,
            margin_class,
            valuation_time=valuation_time,
            cash_secured_puts=cash_secured_puts,
            leverage_factor=leverage_factor,
        )
    if ivs is None or t is None:
        raise ModelError(f"{which.value} margin needs each leg's implied vol and time to expiry")
    if which is MarginModel.SPAN:
        from models.margin.span import span_margin

        if symbol is None:
            raise ModelError("span margin needs the SPAN product symbol")
        return span_margin(legs, underlying_price, multiplier, symbol, ivs=ivs, t=t, rate=rate)
    from models.margin.portfolio import portfolio_margin

    if pm_class is None:
        raise ModelError("portfolio margin needs a portfolio-margin class")
    return portfolio_margin(
        legs,
        underlying_price,
        multiplier,
        pm_class,
        ivs=ivs,
        t=t,
        rate=rate,
        div_yield=div_yield,
        leverage_factor=leverage_factor,
    )
