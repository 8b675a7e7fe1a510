"""Portfolio margin (TIMS-style, FINRA Rule 4210(g)): worst theoretical loss over 10 moves.

Method (FINRA Rule 4210(g)(2)(F); OCC TIMS, "Theoretical Intermarket Margining System"):

- The position is revalued at **10 equidistant valuation points** of the underlying price,
  5 down and 5 up, spanning the range of its class: high-capitalization broad-based index
  (S&P 500, Nasdaq-100, Dow: SPX, XSP, SPY, QQQ, DIA) **-8% / +6%**; other broad-based index
  (Russell 2000: IWM) **+/-10%**; equities, narrow-based indices and other ETFs **+/-15%**
  (so +/-3, 6, 9, 12, 15%). A leveraged ETF moves by its leverage times its index's range (a 2x
  S&P 500 fund -16% / +12%; an inverse -2x fund -12% / +16%; FINRA Regulatory Notice 09-53).
  The ranges are read from ``models/data/margin_rules.yaml`` (``portfolio_margin``).
- Options are repriced with Black-Scholes-Merton at the moved price with their current implied
  volatility and time to expiry (no volatility shock: FINRA's minimum; house rules add more);
  the underlying (``U`` legs) moves one-for-one.
- **Requirement** = ``max(worst loss, minimum)``, the minimum being $.375 x multiplier ($37.50
  for a 100-share option) per option contract, long or short, a long option's minimum capped at
  its value (FINRA 4210(g)(2)(F)).

:func:`pm_move_pnl` returns the per-unit P&L vector at the move points so that an optimizer can
margin a whole book as ``max_k -sum_i n_i pnl_ik`` (an epigraph over the moves, one per class
group); :func:`portfolio_margin` is the standalone per-unit requirement.

Units: prices per share in the instrument currency; money per **unit of the structure** (legs
as given with their signed quantities) = per-share x multiplier, instrument currency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

import numpy as np
import yaml
from numpy.typing import ArrayLike

from models._checks import per_leg, positive
from models.errors import DataError, ModelError
from models.legs import Leg, Right
from models.margin.reg_t import MarginRequirement
from models.market.pricing import bsm_price

__all__ = [
    "candidate_pm_move_pnl",
    "PMClass",
    "PortfolioMarginParameters",
    "pm_minimum",
    "pm_move_pnl",
    "pm_moves",
    "pm_parameters",
    "portfolio_margin",
]


class PMClass(StrEnum):
    """Portfolio-margin product class (FINRA 4210(g)(2)(F) valuation range)."""

    HIGH_CAP_BROAD_INDEX = "high_cap_broad_index"
    BROAD_INDEX = "broad_index"
    EQUITY = "equity"


@dataclass(frozen=True)
class PortfolioMarginParameters:
    """Portfolio-margin rules from ``models/data/margin_rules.yaml``.

    Parameters
    ----------
    ranges : dict[PMClass, tuple[float, float]]
        ``(down, up)`` underlying moves as fractions (e.g. ``(-0.08, 0.06)``).
    points_per_side : int
        Valuation points on each side of the current price (5: 10 points in all).
    min_per_contract_per_multiplier : float
        Minimum per option contract per unit of multiplier (0.375: $37.50 for 100 shares).
    """

    ranges: dict[PMClass, tuple[float, float]]
    points_per_side: int
    min_per_contract_per_multiplier: float


@cache
def pm_parameters() -> PortfolioMarginParameters:
    """Load the portfolio-margin rules once from the package data.

    Raises
    ------
    DataError
        Missing keys, a range that is not ``down < 0 < up``, or a bad point count / minimum.
    """
    text = (resources.files("models") / "data" / "margin_rules.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)["portfolio_margin"]
        ranges = {PMClass(k): (float(v[0]), float(v[1])) for k, v in data["ranges"].items()}
        params = PortfolioMarginParameters(
            ranges=ranges,
            points_per_side=int(data["points_per_side"]),
            min_per_contract_per_multiplier=float(data["min_per_contract_per_multiplier"]),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(
            f"margin_rules.yaml: missing or bad portfolio_margin entry ({exc})"
        ) from exc
    if set(ranges) != set(PMClass):
        raise DataError("margin_rules.yaml: portfolio_margin.ranges needs every PM class")
    if not all(-1 < lo < 0 < hi for lo, hi in ranges.values()):
        raise DataError("margin_rules.yaml: portfolio_margin ranges must be [down < 0, up > 0]")
    if params.points_per_side < 1 or params.min_per_contract_per_multiplier < 0:
        raise DataError("margin_rules.yaml: bad portfolio_margin points_per_side or minimum")
    return params


def _pm_class(pm_class: PMClass | str) -> PMClass:
    try:
        return PMClass(pm_class)
    except ValueError:
        raise ModelError(
            f"unknown portfolio-margin class {pm_class!r}; use one of "
            f"{', '.join(c.value for c in PMClass)} (futures options use SPAN)"
        ) from None


def _leverage(leverage_factor: float) -> float:
    try:
        lev = float(leverage_factor)
    except (TypeError, ValueError):
        raise ModelError(f"leverage_factor must be a number, got {leverage_factor!r}") from None
    if not (math.isfinite(lev) and lev != 0):
        raise ModelError(f"leverage_factor must be finite and non-zero, got {leverage_factor!r}")
    return lev


def pm_moves(pm_class: PMClass | str, leverage_factor: float = 1.0) -> np.ndarray:
    """The valuation points as fractional moves of the underlying price.

    Parameters
    ----------
    pm_class : PMClass or str
        The instrument's portfolio-margin class.
    leverage_factor : float, default 1
        Leverage of a leveraged / inverse ETF (signed: SDS -2); the index range is multiplied
        by it (an inverse fund's range flips), and moves below -100% are clipped to -100%.

    Returns
    -------
    np.ndarray
        Shape ``(2 * points_per_side,)`` = ``(10,)``, ascending, excluding 0: for ``equity``
        ``[-0.15, -0.12, -0.09, -0.06, -0.03, 0.03, 0.06, 0.09, 0.12, 0.15]``.

    Raises
    ------
    ModelError
        Unknown class or a zero / non-finite leverage.
    """
    p = pm_parameters()
    lo, hi = p.ranges[_pm_class(pm_class)]
    lev = _leverage(leverage_factor)
    n = p.points_per_side
    steps = np.arange(1, n + 1) / n
    index_moves = np.concatenate([lo * steps[::-1], hi * steps])
    return np.maximum(np.sort(lev * index_moves), -1.0)


def _check_legs(legs: Sequence[Leg]) -> None:
    if not legs:
        raise ModelError("portfolio margin needs at least one leg")
    for k, leg in enumerate(legs):
        if not isinstance(leg, Leg):
            raise ModelError(f"legs[{k}] is not a Leg (got {type(leg).__name__})")


def pm_move_pnl(
    legs: Sequence[Leg],
    underlying_price: float,
    multiplier: float,
    pm_class: PMClass | str,
    *,
    ivs: ArrayLike,
    t: ArrayLike,
    rate: float = 0.0,
    div_yield: float = 0.0,
    leverage_factor: float = 1.0,
) -> np.ndarray:
    """Theoretical P&L of one unit of a structure at each portfolio-margin valuation point.

    Parameters
    ----------
    legs : sequence of Leg
        The structure per unit (signed quantities). ``U`` legs: one contract's worth of the
        underlying (``multiplier`` shares).
    underlying_price : float
        Current underlying price ``S`` (index level or share price), > 0.
    multiplier : float
        Contract multiplier (100 for SPX / SPY options), > 0.
    pm_class : PMClass or str
        Portfolio-margin class of the underlying (``instruments.csv`` column ``pm_class``).
    ivs : array_like
        Implied volatility per leg, decimal (one number or shape ``(n_legs,)``; ignored for
        ``U`` legs). Kept unchanged in every move.
    t : array_like
        Time to expiry per leg in years (one number or shape ``(n_legs,)``); ``0`` values the
        option at intrinsic (expiry payoff).
    rate, div_yield : float, default 0
        Continuously compounded rate and dividend yield for Black-Scholes-Merton.
    leverage_factor : float, default 1
        Signed leverage of a leveraged / inverse ETF underlying (see :func:`pm_moves`).

    Returns
    -------
    np.ndarray
        Shape ``(n_moves,)`` = ``(10,)``, float64: P&L of one unit (positive = gain) at
        ``S * (1 + pm_moves(pm_class, leverage_factor))``, measured from the model value at
        ``S``; money in the instrument currency. Linear in the quantities, so a book of
        ``n_i`` units of structures ``i`` (same underlying) has P&L ``sum_i n_i pnl_i``.

    Raises
    ------
    ModelError
        No legs, a non-Leg, non-positive price / multiplier, a missing IV or negative time on
        an option leg, unknown class, bad leverage.

    Notes
    -----
    FINRA Rule 4210(g)(2)(F); OCC TIMS valuation points.
    """
    _check_legs(legs)
    s = positive("underlying_price", underlying_price)
    m = positive("multiplier", multiplier)
    moves = pm_moves(pm_class, leverage_factor)
    n = len(legs)
    sig = per_leg("ivs", ivs, n)
    tt = per_leg("t", t, n)
    r, q = float(rate), float(div_yield)
    if not (math.isfinite(r) and math.isfinite(q)):
        raise ModelError("rate and div_yield must be finite")
    prices = np.concatenate([[s], s * (1.0 + moves)])  # (1 + n_moves,)
    value = np.zeros(prices.shape)
    for k, leg in enumerate(legs):
        if leg.right is Right.UNDERLYING:
            value += leg.quantity * prices
            continue
        if not (math.isfinite(sig[k]) and sig[k] > 0):
            raise ModelError(f"legs[{k}]: implied vol must be a finite number > 0, got {sig[k]!r}")
        if not (math.isfinite(tt[k]) and tt[k] >= 0):
            raise ModelError(
                f"legs[{k}]: time to expiry must be a finite number >= 0, got {tt[k]!r}"
            )
        v = bsm_price(prices, leg.strike, tt[k], r, q, sig[k], leg.right is Right.CALL)
        value += leg.quantity * np.asarray(v, dtype=float)
    return (value[1:] - value[0]) * m


def pm_minimum(legs: Sequence[Leg], multiplier: float) -> float:
    """Portfolio-margin minimum of one unit: $.375 x multiplier per option contract.

    Parameters
    ----------
    legs : sequence of Leg
        The structure per unit; every option contract counts, long or short; a long option's
        minimum is capped at its value (``price x multiplier``).
    multiplier : float
        Contract multiplier.

    Returns
    -------
    float
        Money per unit, instrument currency (100-share options: $37.50 per contract).

    Notes
    -----
    FINRA Rule 4210(g)(2)(F).
    """
    _check_legs(legs)
    m = positive("multiplier", multiplier)
    per = pm_parameters().min_per_contract_per_multiplier * m
    total = 0.0
    for leg in legs:
        if leg.is_option:
            cap = leg.price * m if leg.quantity > 0 else math.inf
            total += abs(leg.quantity) * min(per, cap)
    return total


def portfolio_margin(
    legs: Sequence[Leg],
    underlying_price: float,
    multiplier: float,
    pm_class: PMClass | str,
    *,
    ivs: ArrayLike,
    t: ArrayLike,
    rate: float = 0.0,
    div_yield: float = 0.0,
    leverage_factor: float = 1.0,
) -> MarginRequirement:
    """Portfolio-margin requirement of one unit of a structure, standalone.

    ``max(worst loss over the valuation points, pm_minimum)``; parameters as in
    :func:`pm_move_pnl`.

    Returns
    -------
    MarginRequirement
        ``amount`` per unit in the instrument currency (>= 0), the ``rule`` naming the worst
        move, ``components`` summing to ``amount``.

    Raises
    ------
    ModelError
        As :func:`pm_move_pnl`.

    Notes
    -----
    FINRA Rule 4210(g)(2)(F); OCC TIMS. A book's requirement is not the sum of its units'
    standalone requirements (gains at a move offset losses of other structures there).
    """
    pnl = pm_move_pnl(
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
    moves = pm_moves(pm_class, leverage_factor)
    worst = int(np.argmin(pnl))
    loss = max(-float(pnl[worst]), 0.0)
    minimum = pm_minimum(legs, multiplier)
    lo, hi = float(moves[0]), float(moves[-1])
    n_contracts = sum(abs(leg.quantity) for leg in legs if leg.is_option)
    head = (
        f"portfolio margin {PMClass(pm_class).value} (10 moves {lo * 100:+g}% .. {hi * 100:+g}%"
        + (f", leverage {float(leverage_factor):g}x" if float(leverage_factor) != 1.0 else "")
        + f"): worst loss {loss:,.2f} at {moves[worst] * 100:+.4g}%; minimum "
        f"{n_contracts} option contracts = {minimum:,.2f}"
    )
    if minimum > loss:
        return MarginRequirement(
            amount=minimum,
            rule=f"{head}; requirement = per-contract minimum {minimum:,.2f}",
            components=(("per-contract minimum", minimum),),
        )
    return MarginRequirement(
        amount=loss,
        rule=f"{head}; requirement = worst loss {loss:,.2f}",
        components=(("worst loss over the moves", loss),),
    )


def candidate_pm_move_pnl(candidate, instrument) -> np.ndarray:
    """:func:`pm_move_pnl` of one unit of a generated candidate, from its own market inputs.

    Parameters
    ----------
    candidate : models.strategies.Candidate
        Uses ``legs``, ``ivs``, ``spot``, ``t``, ``forward`` and ``discount_factor`` (rate
        ``r = -ln(D) / t``, dividend yield ``q = r - ln(F / S) / t``; both 0 when ``t = 0``).
    instrument : models.instruments.Instrument
        Uses ``multiplier``, ``pm_class`` and ``leverage_factor``.

    Returns
    -------
    np.ndarray
        Shape ``(10,)``: P&L per unit at the valuation points, instrument currency. Stack the
        rows of candidates on one underlying into a ``(n_candidates, 10)`` matrix ``A``; the
        book's portfolio margin is then ``max(max_k -(A.T @ n)_k, minimum)``.

    Raises
    ------
    ModelError
        The instrument has no ``pm_class`` (futures options: use SPAN), or bad inputs.
    """
    if instrument.pm_class is None:
        raise ModelError(
            f"portfolio margin does not apply to {instrument.symbol} (futures options: use span)"
        )
    c = candidate
    return pm_move_pnl(
        c.legs,
        c.spot,
        instrument.multiplier,
        instrument.pm_class,
        ivs=c.ivs,
        t=c.t,
        rate=c.rate,
        div_yield=c.div_yield,
        leverage_factor=instrument.leverage_factor,
    )
