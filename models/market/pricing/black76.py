"""Black-76: European options on a forward or future, vectorized.

Formula source: F. Black, "The pricing of commodity contracts", *Journal of Financial Economics*
3 (1976) 167-179; Hull, *Options, Futures and Other Derivatives*, 9th ed., section 18.8. With
discount factor :math:`D = e^{-rT}`,

.. math::

    c = D [F N(d_1) - K N(d_2)], \\qquad p = D [K N(-d_2) - F N(-d_1)].

Units: prices per unit of the underlying forward (per share), ``t`` in years (calendar
days / 365, hours / 8760), ``rate`` continuously compounded decimal, ``sigma`` annualized decimal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models.market.pricing._common import (
    DAYS_PER_YEAR,
    Greeks,
    as_float,
    as_is_call,
    black_terms,
    check_nonnegative,
)

__all__ = ["black76_greeks", "black76_price"]


def _inputs(forward, strike, t, rate, sigma, is_call):
    forward, strike, t, rate, sigma = (as_float(a) for a in (forward, strike, t, rate, sigma))
    check_nonnegative("forward", forward)
    check_nonnegative("strike", strike)
    terms = black_terms(forward, strike, t, sigma, as_is_call(is_call))
    discount = np.exp(-rate * terms.t)
    return forward, rate, sigma, terms, discount


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-76 price of European options on a forward/future.

    Parameters
    ----------
    forward : array_like
        Forward (futures) price, >= 0.
    strike : array_like
        Strike, >= 0.
    t : array_like
        Time to expiry in years (calendar days / 365). ``t <= 0`` gives intrinsic value,
        undiscounted.
    rate : array_like
        Continuously compounded discount rate (decimal); discount factor ``exp(-rate * t)``.
    sigma : array_like
        Annualized volatility (decimal). ``sigma <= 0`` (or ``sigma sqrt(t) <= 1e-150``) gives the
        discounted intrinsic value of the forward, ``exp(-rate t) max(±(F - K), 0)``.
    is_call : array_like of bool
        True for a call, False for a put.

    Returns
    -------
    np.ndarray
        Price per unit of the underlying, float64, shape = broadcast of the inputs.

    Raises
    ------
    ValueError
        If a forward or strike is negative, or ``is_call`` is not boolean.

    Notes
    -----
    Black (1976); Hull, *Options, Futures and Other Derivatives*, eq. (18.9)-(18.10).
    """
    _, _, _, terms, discount = _inputs(forward, strike, t, rate, sigma, is_call)
    return np.asarray(discount * terms.undiscounted)


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Black-76 price and Greeks (sensitivities to the forward, vol, time and rate).

    Parameters are those of :func:`black76_price`.

    Returns
    -------
    Greeks
        Arrays of the broadcast shape, per unit of the underlying:

        - ``delta = D N(±d1)`` (``dV/dF``, sign +1 call / -1 put),
        - ``gamma = D n(d1) / (F sigma sqrt(T))`` (``d2V/dF2``),
        - ``vega = D F n(d1) sqrt(T) / 100`` (per vol point),
        - ``theta = (r V - D F n(d1) sigma / (2 sqrt(T))) / 365`` (per calendar day, forward held
          fixed),
        - ``rho = -T V / 100`` (per 1 % rate, forward held fixed).

        With ``n`` the standard normal density. At ``t <= 0`` the price is the intrinsic value,
        delta the exercise step (0.5 at the money) and gamma, vega, theta and rho are 0. At
        ``sigma <= 0`` gamma and vega are 0, delta is the discounted step and theta is ``r V / 365``.

    Raises
    ------
    ValueError
        If a forward or strike is negative, or ``is_call`` is not boolean.

    Notes
    -----
    Black (1976); Hull, *Options, Futures and Other Derivatives*, sections 18.8 and 19.
    """
    forward, rate, sigma, terms, discount = _inputs(forward, strike, t, rate, sigma, is_call)
    price = discount * terms.undiscounted
    expired = terms.t <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = (
            discount * forward * terms.pdf1 * sigma / (2.0 * np.where(expired, 1.0, terms.sqrt_t))
        )
        gamma = discount * terms.pdf1 / (forward * terms.total_vol)
    gamma = np.where(terms.pdf1 == 0, 0.0, gamma)
    theta = np.where(expired, 0.0, (rate * price - np.where(terms.pdf1 == 0, 0.0, decay)))
    return Greeks(
        price=price,
        delta=discount * terms.sign * terms.n1,
        gamma=gamma,
        vega=discount * forward * terms.pdf1 * terms.sqrt_t / 100.0,
        theta=theta / DAYS_PER_YEAR,
        rho=-terms.t * price / 100.0,
    )
