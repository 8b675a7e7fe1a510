"""Black-Scholes-Merton: European options on a dividend-paying stock or index, vectorized.

Formula source: F. Black and M. Scholes, "The pricing of options and corporate liabilities",
*Journal of Political Economy* 81 (1973); R. C. Merton, "Theory of rational option pricing",
*Bell Journal of Economics and Management Science* 4 (1973) (continuous dividend yield);
Hull, *Options, Futures and Other Derivatives*, 9th ed., sections 15.8 and 17.4:

.. math::

    c = S e^{-qT} N(d_1) - K e^{-rT} N(d_2), \\qquad
    p = K e^{-rT} N(-d_2) - S e^{-qT} N(-d_1),

which is the Black formula on the forward :math:`F = S e^{(r-q)T}` discounted by
:math:`e^{-rT}` (the kernel shared with :mod:`models.market.pricing.black76`).

Units: prices per share, ``t`` in years (calendar days / 365, hours / 8760), ``rate`` and
``div_yield`` continuously compounded decimals, ``sigma`` annualized decimal.
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

__all__ = ["bsm_greeks", "bsm_price"]


def _inputs(spot, strike, t, rate, div_yield, sigma, is_call):
    spot, strike, t, rate, div_yield, sigma = (
        as_float(a) for a in (spot, strike, t, rate, div_yield, sigma)
    )
    check_nonnegative("spot", spot)
    check_nonnegative("strike", strike)
    t_eff = np.maximum(t, 0.0)
    growth = np.exp(-div_yield * t_eff)  # e^{-qT}
    discount = np.exp(-rate * t_eff)  # e^{-rT}
    with np.errstate(invalid="ignore", over="ignore"):
        forward = spot * growth / discount
    terms = black_terms(forward, strike, t, sigma, as_is_call(is_call))
    return spot, strike, rate, div_yield, sigma, terms, growth, discount


def bsm_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black-Scholes-Merton price of European options with a continuous dividend yield.

    Parameters
    ----------
    spot : array_like
        Underlying price, >= 0.
    strike : array_like
        Strike, >= 0.
    t : array_like
        Time to expiry in years (calendar days / 365, hours / 8760 for 0DTE). ``t <= 0`` gives the
        intrinsic value ``max(±(S - K), 0)``.
    rate : array_like
        Continuously compounded risk-free rate (decimal).
    div_yield : array_like
        Continuously compounded dividend yield (decimal).
    sigma : array_like
        Annualized volatility (decimal). ``sigma <= 0`` (or ``sigma sqrt(t) <= 1e-150``) gives
        the deterministic-forward value ``max(±(S e^{-qT} - K e^{-rT}), 0)``.
    is_call : array_like of bool
        True for a call, False for a put.

    Returns
    -------
    np.ndarray
        Price per share, float64, shape = broadcast of the inputs.

    Raises
    ------
    ValueError
        If a spot or strike is negative, or ``is_call`` is not boolean.

    Notes
    -----
    Black & Scholes (1973), Merton (1973); Hull, *Options, Futures and Other Derivatives*,
    eq. (17.4)-(17.5).
    """
    *_, terms, _, discount = _inputs(spot, strike, t, rate, div_yield, sigma, is_call)
    return np.asarray(discount * terms.undiscounted)


def bsm_greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Black-Scholes-Merton price and Greeks with a continuous dividend yield.

    Parameters are those of :func:`bsm_price`.

    Returns
    -------
    Greeks
        Arrays of the broadcast shape, per share, with ``w = +1`` for calls and ``-1`` for puts,
        ``n`` the standard normal density:

        - ``delta = w e^{-qT} N(w d1)`` (``dV/dS``),
        - ``gamma = e^{-qT} n(d1) / (S sigma sqrt(T))``,
        - ``vega = S e^{-qT} n(d1) sqrt(T) / 100`` (per vol point),
        - ``theta = (-S e^{-qT} n(d1) sigma / (2 sqrt(T)) - w r K e^{-rT} N(w d2)
          + w q S e^{-qT} N(w d1)) / 365`` (per calendar day),
        - ``rho = w K T e^{-rT} N(w d2) / 100`` (per 1 % of ``rate``, dividend yield fixed).

        At ``t <= 0`` the price is intrinsic, delta the exercise step (0.5 at the money) and gamma,
        vega, theta and rho are 0. At ``sigma <= 0`` gamma and vega are 0, delta is
        ``w e^{-qT}`` times the step and theta keeps only the rate and dividend terms.

    Raises
    ------
    ValueError
        If a spot or strike is negative, or ``is_call`` is not boolean.

    Notes
    -----
    Hull, *Options, Futures and Other Derivatives*, 9th ed., ch. 19 (Table 19.6).
    """
    spot, strike, rate, div_yield, sigma, terms, growth, discount = _inputs(
        spot, strike, t, rate, div_yield, sigma, is_call
    )
    sign = terms.sign
    price = discount * terms.undiscounted
    expired = terms.t <= 0
    has_pdf = terms.pdf1 != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = growth * terms.pdf1 / (spot * terms.total_vol)
        decay = spot * growth * terms.pdf1 * sigma / (2.0 * np.where(expired, 1.0, terms.sqrt_t))
    gamma = np.where(has_pdf, gamma, 0.0)
    decay = np.where(has_pdf, decay, 0.0)
    carry = sign * (div_yield * spot * growth * terms.n1 - rate * strike * discount * terms.n2)
    theta = np.where(expired, 0.0, carry - decay)
    return Greeks(
        price=price,
        delta=sign * growth * terms.n1,
        gamma=gamma,
        vega=spot * growth * terms.pdf1 * terms.sqrt_t / 100.0,
        theta=theta / DAYS_PER_YEAR,
        rho=sign * strike * terms.t * discount * terms.n2 / 100.0,
    )
