"""Per-unit metrics of a candidate structure: credit, Greeks, theta, notional, max loss.

Every number here is per *unit of the structure* (one iron condor, one 1-1-2 …) in the
instrument's currency; the optimizer converts to the account currency. Pricing uses
Black-Scholes-Merton in forward form (rate and dividend yield implied by the candidate's forward
and discount factor), which equals Black-76 for futures options (forward = futures price).

Theta is per calendar day. For a structure with less than one calendar day to expiry (0DTE), the
analytic instantaneous theta exceeds the premium that can still decay, so theta is the decay over
the remaining life at unchanged spot and vol: ``intrinsic(spot) - V(t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.legs import Right
from models.market.pricing import bsm_greeks
from models.strategies import Candidate

__all__ = ["UnitMetrics", "unit_metrics", "payoff_at_expiry", "max_loss_at_expiry"]

_ONE_DAY = 1.0 / 365.0


@dataclass(frozen=True)
class UnitMetrics:
    """Per-unit metrics, instrument currency.

    Parameters
    ----------
    credit : float
        Net premium received when opening one unit (negative = debit), money.
    theta : float
        Theta per calendar day, money (positive = the position gains from time decay); capped by
        the remaining life for structures expiring within a day.
    delta : float
        Delta in underlying units (share/futures equivalents): ``sum q * delta * multiplier``.
    cash_delta : float
        ``delta * spot``, money.
    gamma : float
        Gamma in underlying units per 1 point of the underlying.
    vega : float
        Vega per 1 vol point, money.
    notional : float
        Gross underlying notional of the short legs: ``sum_short |q| * spot * multiplier``, money.
    max_loss : float
        Largest loss at expiry over all underlying prices (positive number, money; ``inf`` when
        unbounded), including the credit.
    """

    credit: float
    theta: float
    delta: float
    cash_delta: float
    gamma: float
    vega: float
    notional: float
    max_loss: float


def unit_metrics(c: Candidate, multiplier: float) -> UnitMetrics:
    """Compute :class:`UnitMetrics` for one candidate.

    Parameters
    ----------
    c : Candidate
        The structure (legs with strikes, per-share prices and the IVs that priced them).
    multiplier : float
        Contract multiplier (SPX 100, ES 50 …).

    Returns
    -------
    UnitMetrics
        Per-unit metrics in the instrument's currency.
    """
    opts = [(leg, iv) for leg, iv in zip(c.legs, c.ivs, strict=True) if leg.is_option]
    credit = -sum(leg.quantity * leg.price for leg in c.legs if leg.is_option) * multiplier
    delta = gamma = vega = theta = 0.0
    if opts:
        r, q = c.rate, c.div_yield
        k = np.array([leg.strike for leg, _ in opts])
        sig = np.array([iv for _, iv in opts])
        calls = np.array([leg.right is Right.CALL for leg, _ in opts])
        qty = np.array([leg.quantity for leg, _ in opts], dtype=float)
        g = bsm_greeks(c.spot, k, c.t, r, q, sig, calls)
        if c.t < _ONE_DAY:
            intrinsic = np.where(calls, np.maximum(c.spot - k, 0.0), np.maximum(k - c.spot, 0.0))
            leg_theta = intrinsic - np.asarray(g.price)
        else:
            leg_theta = np.asarray(g.theta)
        delta = float(qty @ np.asarray(g.delta)) * multiplier
        gamma = float(qty @ np.asarray(g.gamma)) * multiplier
        vega = float(qty @ np.asarray(g.vega)) * multiplier
        theta = float(qty @ leg_theta) * multiplier
    for leg in c.legs:
        if not leg.is_option:
            delta += leg.quantity * multiplier
    notional = sum(-leg.quantity for leg in c.legs if leg.quantity < 0) * c.spot * multiplier
    return UnitMetrics(
        credit=credit,
        theta=theta,
        delta=delta,
        cash_delta=delta * c.spot,
        gamma=gamma,
        vega=vega,
        notional=notional,
        max_loss=max_loss_at_expiry(c, multiplier),
    )


def payoff_at_expiry(c: Candidate, prices: np.ndarray, multiplier: float) -> np.ndarray:
    """P&L per unit at expiry for underlying prices ``prices`` (shape (n,)), credit included.

    Underlying legs are marked from their entry price. Money, instrument currency.
    """
    s = np.asarray(prices, dtype=float)[:, None]
    pnl = np.zeros(s.shape[0])
    for leg in c.legs:
        if leg.right is Right.CALL:
            pay = np.maximum(s[:, 0] - leg.strike, 0.0) - leg.price
        elif leg.right is Right.PUT:
            pay = np.maximum(leg.strike - s[:, 0], 0.0) - leg.price
        else:
            pay = s[:, 0] - leg.price
        pnl += leg.quantity * pay
    return pnl * multiplier


def max_loss_at_expiry(c: Candidate, multiplier: float) -> float:
    """Largest loss at expiry over all underlying prices (positive, money; ``inf`` if unbounded).

    The expiry P&L is piecewise linear with kinks at the strikes, so its minimum over [0, ∞) is at
    0, at a strike, or unbounded when the slope beyond the highest strike is negative.
    """
    slope_up = sum(leg.quantity for leg in c.legs if leg.right in (Right.CALL, Right.UNDERLYING))
    if slope_up < 0:
        return math.inf
    pts = [0.0] + [leg.strike for leg in c.legs if leg.is_option]
    worst = float(np.min(payoff_at_expiry(c, np.array(pts), multiplier)))
    return max(-worst, 0.0)
