"""Vectorized option pricing: Black-Scholes-Merton, Black-76, Greeks and implied volatility.

All functions take numpy-broadcastable arrays (scalars give 0-d arrays) and return prices per share
in the instrument's currency. Time is in years (calendar days / 365; hours / 8760 for 0DTE), rates
and dividend yields are continuously compounded decimals, volatilities annualized decimals.
Greeks: vega per vol point, theta per calendar day, rho per 1 % rate.
"""

from models.market.pricing._common import Greeks
from models.market.pricing.black76 import black76_greeks, black76_price
from models.market.pricing.bsm import bsm_greeks, bsm_price
from models.market.pricing.implied_vol import IV_REASONS, IVResult, implied_vol

__all__ = [
    "IV_REASONS",
    "Greeks",
    "IVResult",
    "black76_greeks",
    "black76_price",
    "bsm_greeks",
    "bsm_price",
    "implied_vol",
]
