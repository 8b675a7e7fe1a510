"""Shared kernel of the pricing layer: input handling and the Black d1/d2 terms.

Both Black-Scholes-Merton (:mod:`models.market.pricing.bsm`) and Black-76 (:mod:`models.market.pricing.black76`)
are the discounted Black formula on a forward,

.. math::

    V = D \\, \\theta \\, [F N(\\theta d_1) - K N(\\theta d_2)], \\qquad
    d_{1,2} = \\frac{\\ln(F/K)}{\\sigma\\sqrt{T}} \\pm \\frac{\\sigma\\sqrt{T}}{2},

with :math:`\\theta = +1` for a call and :math:`-1` for a put (Black 1976; Hull, *Options, Futures
and Other Derivatives*, ch. 15 and 18). This module computes the model-independent pieces once;
each model only maps its own inputs to ``(F, D)`` and assembles its Greeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = [
    "DAYS_PER_YEAR",
    "MIN_TOTAL_VOL",
    "BlackTerms",
    "Greeks",
    "as_float",
    "as_is_call",
    "black_terms",
    "check_nonnegative",
]

DAYS_PER_YEAR = 365.0
"""Calendar days per year: ``t`` is measured in calendar days / 365 and theta is per calendar day."""

MIN_TOTAL_VOL = 1e-150
"""``sigma * sqrt(t)`` at or below this is treated as zero volatility (deterministic forward).

It is about the square root of the smallest normal double: above it ``gamma = n(d1) / (F sigma
sqrt(t))`` stays finite for any sane forward; below it the time value of an at-the-money option is
under ``1e-150 F`` and nothing else is observable.
"""

_INV_SQRT_2PI = 0.3989422804014327


@dataclass(frozen=True)
class Greeks:
    """Price and first-order sensitivities of European options, per share.

    Every field is a float64 ndarray of the broadcast shape of the inputs (0-d for scalar inputs),
    in the instrument's currency per share (multiply by the contract multiplier for per-contract
    money).

    Attributes
    ----------
    price : np.ndarray
        Option value.
    delta : np.ndarray
        ``dV/dS`` for Black-Scholes-Merton, ``dV/dF`` for Black-76.
    gamma : np.ndarray
        ``d2V/dS2`` (BSM) or ``d2V/dF2`` (Black-76).
    vega : np.ndarray
        ``dV/dsigma`` per 1 vol point, i.e. the derivative per 1.00 of vol divided by 100.
    theta : np.ndarray
        ``dV/dt`` per calendar day, i.e. ``-dV/dT / 365`` with ``T`` the time to expiry in years;
        normally negative for a long option.
    rho : np.ndarray
        ``dV/dr`` per 1 % of the continuously compounded rate (derivative per 1.00 divided by 100).
        For Black-76 the forward is held fixed, so ``rho = -T V / 100``.
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray

    def __post_init__(self) -> None:
        for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))


def as_float(value: object) -> np.ndarray:
    """Return ``value`` as a float64 ndarray (no copy when already float64)."""
    return np.asarray(value, dtype=np.float64)


def as_is_call(is_call: object) -> np.ndarray:
    """Return ``is_call`` as a bool ndarray.

    Raises
    ------
    ValueError
        If ``is_call`` is not boolean or integer (strings like ``"put"`` would silently be truthy).
    """
    arr = np.asarray(is_call)
    if arr.dtype.kind not in "biu":
        raise ValueError(
            f"is_call must be a bool array (True = call, False = put), got dtype {arr.dtype}"
        )
    return arr.astype(bool)


def check_nonnegative(name: str, value: np.ndarray) -> None:
    """Raise a clear ``ValueError`` if any element of ``value`` is negative (NaN passes through).

    Raises
    ------
    ValueError
        Naming the argument, the number of offending elements and the first offending value.
    """
    bad = value < 0
    if np.any(bad):
        first = float(value[bad].flat[0])
        raise ValueError(
            f"{name} must be >= 0 (prices and strikes are non-negative); "
            f"{int(np.count_nonzero(bad))} negative value(s), first {first!r}"
        )


@dataclass(frozen=True)
class BlackTerms:
    """The model-independent pieces of the Black formula, broadcast to a common shape.

    Attributes
    ----------
    t : np.ndarray
        Time to expiry in years floored at 0 (``t <= 0`` is expiry: no time value).
    sqrt_t : np.ndarray
        ``sqrt(t)``.
    sign : np.ndarray
        ``+1.0`` for calls, ``-1.0`` for puts.
    n1, n2 : np.ndarray
        ``N(sign * d1)`` and ``N(sign * d2)``. Where the option has no optionality left
        (``t <= 0``, ``sigma <= 0``, ``F == 0`` or ``K == 0``) both equal the exercise step:
        1 in the money, 0 out of the money, 0.5 at the money.
    pdf1 : np.ndarray
        Standard normal density at ``d1``; 0 where there is no optionality.
        (``sigma sqrt(t) <= MIN_TOTAL_VOL`` counts as ``sigma <= 0``.)
    total_vol : np.ndarray
        ``sigma * sqrt(t)`` where there is optionality, else 1 (a safe divisor; ``pdf1`` is 0).
    undiscounted : np.ndarray
        ``sign * (F n1 - K n2)``, the undiscounted Black value, clipped at 0 against round-off.
    """

    t: np.ndarray
    sqrt_t: np.ndarray
    sign: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    pdf1: np.ndarray
    total_vol: np.ndarray
    undiscounted: np.ndarray


def black_terms(
    forward: np.ndarray, strike: np.ndarray, t: np.ndarray, sigma: np.ndarray, is_call: np.ndarray
) -> BlackTerms:
    """Compute :class:`BlackTerms` for a forward, strike, time, volatility and call/put flag.

    Parameters
    ----------
    forward, strike : np.ndarray
        Non-negative forward and strike (validated by the caller), any broadcastable shapes.
    t : np.ndarray
        Time to expiry in years; ``t <= 0`` means expired (intrinsic value).
    sigma : np.ndarray
        Annualized volatility (decimal); ``sigma <= 0`` means a deterministic forward.
    is_call : np.ndarray
        Bool, True for a call.

    Returns
    -------
    BlackTerms
        All arrays of the broadcast shape, float64.
    """
    forward, strike, t, sigma, is_call = np.broadcast_arrays(forward, strike, t, sigma, is_call)
    sign = np.where(is_call, 1.0, -1.0)
    t_eff = np.maximum(t, 0.0)
    # NaN times stay NaN so that they propagate rather than being read as "expired".
    t_eff = np.where(np.isnan(t), np.nan, t_eff)
    sqrt_t = np.sqrt(t_eff)
    total_vol = sigma * sqrt_t
    live = (total_vol > MIN_TOTAL_VOL) & (forward > 0) & (strike > 0)

    safe_s = np.where(live, total_vol, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_moneyness = np.log(np.where(live, forward / strike, 1.0))
        d1 = log_moneyness / safe_s + 0.5 * safe_s
        d2 = d1 - safe_s
    step = np.where(sign * (forward - strike) > 0, 1.0, np.where(forward == strike, 0.5, 0.0))
    # NaN inputs must give NaN, not a step.
    nan_in = np.isnan(forward) | np.isnan(strike) | np.isnan(total_vol)
    step = np.where(nan_in, np.nan, step)
    n1 = np.where(live, ndtr(sign * d1), step)
    n2 = np.where(live, ndtr(sign * d2), step)
    with np.errstate(over="ignore"):  # |d1| -> inf as sigma sqrt(t) -> 0: density 0
        pdf1 = np.where(live, _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1), np.where(nan_in, np.nan, 0.0))
    with np.errstate(invalid="ignore"):
        # 0 * inf (F or K infinite) is not a valid input; let it surface as NaN.
        undiscounted = np.maximum(sign * (forward * n1 - strike * n2), 0.0)
    return BlackTerms(
        t=t_eff,
        sqrt_t=sqrt_t,
        sign=sign,
        n1=n1,
        n2=n2,
        pdf1=pdf1,
        total_vol=safe_s,
        undiscounted=undiscounted,
    )
