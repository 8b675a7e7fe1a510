"""Closed-form per-unit income references and the measured realized/implied vol ratio.

The income model of thetaplan is the managed simulation (:mod:`models.measure.managed` on the physical
measure of :mod:`models.measure.physical`, wired by :mod:`optimizer.inputs.income_model`): every income figure
comes from it. This module keeps

``theta`` (seed 1's convention, ``income.model: theta``)
    ``theta_per_day * exposure_days`` where ``exposure_days = min(days_per_month,
    entries_per_month * max(life_days, 1))`` — reproduces the seed's claims; it books all decay
    as income and is not a model of P&L.

``expected_pnl_at_expiry`` (a closed-form reference)
    Expected P&L per cycle held to expiry under a lognormal with mean the forward and volatility
    ``sigma_R`` (Black 1976): the test reference of the managed simulation's hold-to-expiry rule
    on lognormal paths. It is light-tailed (no crash tail, no skew in the real-world density) and
    is no longer an income model of the optimizer.

``measure_vol_ratio``
    The realized/implied variance ratio measured against the VIX (the quantity it is applied to
    by the lognormal measure: vol = VIX x ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from models.legs import Right
from models.market.pricing import black76_price
from models.strategies import Candidate

__all__ = [
    "CALENDAR_DAYS_PER_MONTH",
    "IncomeModel",
    "VolRatio",
    "cycles_per_month",
    "expected_pnl_at_expiry",
    "exposure_days",
    "measure_vol_ratio",
    "monthly_income",
]

#: Average calendar days per month (365.25 / 12).
CALENDAR_DAYS_PER_MONTH = 365.25 / 12


class IncomeModel(StrEnum):
    """Per-unit monthly income model."""

    THETA = "theta"
    EXPIRY = "expiry"
    MANAGED = "managed"


def exposure_days(life_days: float, entries_per_month: float, days_per_month: float) -> float:
    """Days of theta a unit earns per month under the ``theta`` model.

    Parameters
    ----------
    life_days : float
        Calendar days from entry to expiry (fractional for 0DTE).
    entries_per_month : float
        How often the strategy opens a new unit per month (0DTE weekly: 4.33).
    days_per_month : float
        Trading days per month the book is held (21 by default).

    Returns
    -------
    float
        ``min(days_per_month, entries_per_month * max(life_days, 1))``.
    """
    return min(days_per_month, entries_per_month * max(life_days, 1.0))


def cycles_per_month(life_days: float, entries_per_month: float) -> float:
    """Completed cycles per month for the ``expiry`` model.

    ``min(entries_per_month, CALENDAR_DAYS_PER_MONTH / life_days)``: a 120-DTE structure held to
    expiry turns over a quarter of the book a month, however often it is entered.
    """
    return min(entries_per_month, CALENDAR_DAYS_PER_MONTH / max(life_days, 1e-9))


def expected_pnl_at_expiry(c: Candidate, vol_ratio: float, multiplier: float) -> float:
    """Expected P&L per unit, held to expiry, present value, instrument currency.

    ``credit - DF * E_P[payoff]`` with ``S_T`` lognormal, mean ``c.forward`` and volatility
    ``c.atm_iv * vol_ratio``; ``E_P[(S_T-K)^+]`` is the undiscounted Black (1976) formula.

    Raises
    ------
    ValueError
        If ``vol_ratio`` is not positive.
    """
    if not vol_ratio > 0:
        raise ValueError(f"vol_ratio must be > 0, got {vol_ratio}")
    sigma = c.atm_iv * vol_ratio
    pnl = 0.0
    for leg in c.legs:
        if leg.right is Right.UNDERLYING:
            pnl += leg.quantity * (c.forward - leg.price)  # mean drift of the stock leg
            continue
        expected = float(
            black76_price(c.forward, leg.strike, c.t, 0.0, sigma, leg.right is Right.CALL)
        )
        pnl += leg.quantity * (c.discount_factor * expected - leg.price)
    return pnl * multiplier


def monthly_income(
    model: IncomeModel,
    *,
    candidate: Candidate,
    multiplier: float,
    theta_per_day: float,
    entries_per_month: float,
    days_per_month: float = 21.0,
    vol_ratio: float = 1.0,
) -> float:
    """Expected monthly income per unit, instrument currency.

    Parameters
    ----------
    model : IncomeModel
        ``theta`` or ``expiry`` (``managed`` raises ValueError: it needs a joint simulation).
    candidate : Candidate
        The structure.
    multiplier : float
        Contract multiplier.
    theta_per_day : float
        The unit's theta per calendar day (money, from :func:`models.valuation.unit_metrics`).
    entries_per_month : float
        Entries per month of the strategy.
    days_per_month : float
        Trading days per month (``theta`` model).
    vol_ratio : float
        Realized/implied vol ratio (``expiry`` model).
    """
    life_days = candidate.t * 365.0
    if model is IncomeModel.MANAGED:
        raise ValueError(
            "the managed model prices candidates jointly: use models.measure.managed.simulate_managed"
        )
    if model is IncomeModel.THETA:
        return theta_per_day * exposure_days(life_days, entries_per_month, days_per_month)
    per_cycle = expected_pnl_at_expiry(candidate, vol_ratio, multiplier)
    return per_cycle * cycles_per_month(life_days, entries_per_month)


@dataclass(frozen=True)
class VolRatio:
    """Measured realized/implied volatility ratio.

    Parameters
    ----------
    ratio : float
        ``sqrt(mean(RV^2) / mean(VIX^2))`` — the variance ratio, the quantity that scales option
        expectations.
    mean_ratio : float
        ``mean(RV) / mean(VIX)``.
    median_ratio : float
        Median of ``RV / VIX`` day by day.
    n : int
        Number of overlapping windows.
    start, end : str
        First and last window start dates (ISO).
    horizon : int
        Window length in trading days.
    """

    ratio: float
    mean_ratio: float
    median_ratio: float
    n: int
    start: str
    end: str
    horizon: int


def measure_vol_ratio(vix_close: pd.Series, index_close: pd.Series, horizon: int = 21) -> VolRatio:
    """Measure the realized/implied vol ratio from VIX and S&P 500 daily closes.

    For each day d with a VIX close, the realized vol of the next ``horizon`` S&P 500 log returns
    (close to close, annualized with 252/horizon) is compared with VIX(d)/100, which is the
    market's 30-calendar-day implied vol (Cboe VIX white paper) — 21 trading days.

    Parameters
    ----------
    vix_close : pd.Series
        VIX closes (index points), DatetimeIndex.
    index_close : pd.Series
        S&P 500 closes, DatetimeIndex.
    horizon : int
        Trading days per window.

    Returns
    -------
    VolRatio

    Raises
    ------
    ValueError
        If the two series overlap on fewer than ``10 * horizon`` days.
    """
    r = np.log(index_close.sort_index()).diff()
    rv = np.sqrt((r**2).rolling(horizon).sum().shift(-horizon) * 252.0 / horizon)
    df = pd.concat([vix_close / 100.0, rv], axis=1, keys=["vix", "rv"], sort=True).dropna()
    df = df[df["vix"] > 0]
    if len(df) < 10 * horizon:
        raise ValueError(f"VIX and index histories overlap on only {len(df)} windows")
    return VolRatio(
        ratio=float(math.sqrt((df["rv"] ** 2).mean() / (df["vix"] ** 2).mean())),
        mean_ratio=float(df["rv"].mean() / df["vix"].mean()),
        median_ratio=float((df["rv"] / df["vix"]).median()),
        n=len(df),
        start=df.index[0].date().isoformat(),
        end=df.index[-1].date().isoformat(),
        horizon=horizon,
    )
