"""Surfaces derived from another product's surface.

:class:`MovedSurface` carries a chain's surface to a later date and another underlying price
(the tracker values open positions at the close of its as-of date from the ledger's quotes):
sticky moneyness (implied vols read at the same strike / spot), the same carry, every vol × a
stated factor (the VIX ratio), and time to expiry counted from the new valuation time.

:class:`VixShiftedSurface` moves a chain's smile to another VIX level (studies that sweep the VIX):
``sticky_moneyness`` adds the VIX change times the square-root-of-time term factor
(:func:`models.measure.scenarios.term_factor`) to every implied vol at fixed log-moneyness (the rule the
income model's paths use); ``proportional`` scales every implied vol by the VIX ratio.

:class:`ScaledSurface` prices a product whose underlying is a fixed multiple of another's
(XSP = SPX / 10) or the same index through a future (ES/MES options as Black-76 on the SPX forward
with the SPX smile: ``scale = 1``; the futures basis to the option expiry's forward is ignored, which
is exact when the future and the option share the expiry and small otherwise). Implied vols are
read at the same log-moneyness, so the smile is shared.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from models.strategies import VolSurface

__all__ = ["MovedSurface", "ScaledSurface", "VixShiftedSurface"]


class ScaledSurface:
    """A :class:`~models.strategies.VolSurface` whose prices and strikes are ``scale`` × a base's.

    Parameters
    ----------
    base : VolSurface
        The source surface (e.g. the SPX chain's).
    scale : float
        Price scale (XSP: 0.1).
    strike_increment : float | None
        Listed strikes are the base's scaled strikes rounded to this increment (deduplicated);
        ``None`` keeps the scaled strikes as they are.
    """

    def __init__(self, base: VolSurface, scale: float, strike_increment: float | None = None):
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.base = base
        self.scale = float(scale)
        self.strike_increment = strike_increment
        self.spot = base.spot * self.scale
        self.valuation_time: datetime = base.valuation_time

    def time_to_expiry(self, expiry: datetime) -> float:
        """Years to ``expiry`` (calendar), as the base surface counts them."""
        return self.base.time_to_expiry(expiry)

    def forward(self, t):
        """Forward price for time ``t`` (years): the base forward × scale."""
        return np.asarray(self.base.forward(t)) * self.scale

    def discount_factor(self, t):
        """Discount factor for time ``t`` (years), from the base."""
        return self.base.discount_factor(t)

    def total_variance(self, strike, t):
        """Total implied variance at ``strike`` (this product's units) and ``t``."""
        return self.base.total_variance(np.asarray(strike, dtype=float) / self.scale, t)

    def iv(self, strike, t):
        """Implied vol (decimal) at ``strike`` (this product's units) and ``t``."""
        return self.base.iv(np.asarray(strike, dtype=float) / self.scale, t)

    def listed_expiries(self) -> list[datetime]:
        """The base's listed expiries."""
        return self.base.listed_expiries()

    def listed_strikes(self, expiry: datetime) -> np.ndarray:
        """The base's listed strikes × scale, snapped to ``strike_increment``."""
        k = np.asarray(self.base.listed_strikes(expiry), dtype=float) * self.scale
        if self.strike_increment:
            inc = self.strike_increment
            snapped = np.round(k / inc) * inc
            k = snapped[np.isclose(snapped, k, rtol=0, atol=1e-9 * max(inc, 1.0))]
        return np.unique(k)


class VixShiftedSurface:
    """A :class:`~models.strategies.VolSurface` whose smile is the base's moved to another VIX.

    With ``d = (vix - base_vix) / 100`` and ``k = ln(K / F(t))`` (the base's forward):

    * ``sticky_moneyness``: ``iv'(k, t) = max(iv(k, t) + term_factor(t) * d, floor)``;
    * ``proportional``: ``iv'(k, t) = iv(k, t) * vix / base_vix``.

    Forwards, discount factors, expiries and strikes are the base's (the underlying's price does
    not move with the VIX in a study; a study that also moves the price states it separately).

    Caution: the sticky-moneyness shift of a very short listed expiry is large (term factor up to
    2), and a 0DTE trade's variance is read off the first listed expiry and rescaled to its
    hours (:func:`models.strategies.intraday_expiry`), which multiplies the shift again (phase 4:
    about 6.6 vol points of 0DTE IV per VIX point). ``proportional`` keeps the 0DTE premium in
    step with the VIX; studies use it by default.

    Parameters
    ----------
    base : VolSurface
        The chain's surface at ``base_vix``.
    base_vix, vix : float
        VIX level of the quotes and the level to move to (index points, > 0).
    rule : str
        ``sticky_moneyness`` or ``proportional``.
    floor : float
        Lowest implied vol after a sticky-moneyness shift (decimal).

    Raises
    ------
    ValueError
        Non-positive VIX levels or an unknown rule.
    """

    RULES = ("sticky_moneyness", "proportional")

    def __init__(
        self, base: VolSurface, base_vix: float, vix: float, rule: str, floor: float = 0.01
    ):
        if not (base_vix > 0 and vix > 0):
            raise ValueError(f"VIX levels must be > 0, got {base_vix} and {vix}")
        if rule not in self.RULES:
            raise ValueError(f"rule must be one of {self.RULES}, got {rule!r}")
        self.base = base
        self.base_vix = float(base_vix)
        self.vix = float(vix)
        self.rule = rule
        self.floor = float(floor)
        self.spot = base.spot
        self.valuation_time: datetime = base.valuation_time

    def time_to_expiry(self, expiry: datetime) -> float:
        """Years to ``expiry`` (calendar), as the base surface counts them."""
        return self.base.time_to_expiry(expiry)

    def forward(self, t):
        """The base's forward."""
        return self.base.forward(t)

    def discount_factor(self, t):
        """The base's discount factor."""
        return self.base.discount_factor(t)

    def iv(self, strike, t):
        """Implied vol (decimal) at ``strike`` and ``t`` after the move."""
        from models.measure.scenarios import term_factor

        base = np.asarray(self.base.iv(strike, t), dtype=float)
        if self.rule == "proportional":
            return base * (self.vix / self.base_vix)
        d = (self.vix - self.base_vix) / 100.0
        return np.maximum(base + term_factor(np.asarray(t, dtype=float)) * d, self.floor)

    def total_variance(self, strike, t):
        """Total implied variance ``iv'^2 t`` at ``strike`` and ``t``."""
        return self.iv(strike, t) ** 2 * np.asarray(t, dtype=float)

    def listed_expiries(self) -> list[datetime]:
        """The base's listed expiries."""
        return self.base.listed_expiries()

    def listed_strikes(self, expiry: datetime) -> np.ndarray:
        """The base's listed strikes."""
        return self.base.listed_strikes(expiry)


class MovedSurface:
    """A :class:`~models.strategies.VolSurface` moved to a later valuation time and price.

    With ``s = spot / base.spot`` and ``t`` counted from ``valuation_time``:

    * forward ``F'(t) = s × F(t)`` and discount factor ``D'(t) = D(t)`` (the base's carry and
      rates at the same tenor);
    * implied vol ``iv'(K, t) = vol_scale × iv(K / s, t)`` — sticky moneyness (a strike keeps the
      vol of the strike at the same distance from the money) with the base's term structure read
      at the remaining tenor, every vol scaled by ``vol_scale`` (the VIX ratio: the
      ``proportional`` rule of :class:`VixShiftedSurface`);
    * time to an expiry: the base's years to it less the base's years to ``valuation_time``;
      listed expiries: the base's that are after ``valuation_time``; strikes: the base's.

    An approximation for valuing open positions between two chains: the smile's shape and the
    term structure are the base's. With ``spot = base.spot``, ``vol_scale = 1`` and the base's
    valuation time it is the base surface.

    Parameters
    ----------
    base : VolSurface
        The surface at its own valuation time.
    spot : float
        Underlying price at ``valuation_time`` (> 0, the base's units).
    valuation_time : datetime
        New valuation time (not before the base's).
    vol_scale : float
        Factor on every implied vol (> 0).

    Raises
    ------
    ValueError
        Non-positive spot or vol scale, or a valuation time before the base's.
    """

    def __init__(
        self, base: VolSurface, *, spot: float, valuation_time: datetime, vol_scale: float = 1.0
    ):
        if not (spot > 0 and vol_scale > 0):
            raise ValueError(f"spot and vol_scale must be > 0, got {spot} and {vol_scale}")
        if valuation_time < base.valuation_time:
            raise ValueError(
                f"valuation time {valuation_time} is before the base's {base.valuation_time}"
            )
        self.base = base
        self.spot = float(spot)
        self.ratio = self.spot / float(base.spot)
        self.vol_scale = float(vol_scale)
        self.valuation_time: datetime = valuation_time
        self._elapsed = float(base.time_to_expiry(valuation_time))

    def time_to_expiry(self, expiry: datetime) -> float:
        """Years (calendar) from the new valuation time to ``expiry``."""
        return float(self.base.time_to_expiry(expiry)) - self._elapsed

    def forward(self, t):
        """Forward for tenor ``t`` (years): the base's forward at ``t`` × the price ratio."""
        return np.asarray(self.base.forward(t)) * self.ratio

    def discount_factor(self, t):
        """The base's discount factor at tenor ``t``."""
        return self.base.discount_factor(t)

    def iv(self, strike, t):
        """Implied vol (decimal) at ``strike`` and tenor ``t`` (sticky moneyness × vol_scale)."""
        k = np.asarray(strike, dtype=float) / self.ratio
        return np.asarray(self.base.iv(k, t), dtype=float) * self.vol_scale

    def total_variance(self, strike, t):
        """Total implied variance ``iv'^2 t``."""
        return self.iv(strike, t) ** 2 * np.asarray(t, dtype=float)

    def listed_expiries(self) -> list[datetime]:
        """The base's listed expiries after the new valuation time."""
        return [e for e in self.base.listed_expiries() if e > self.valuation_time]

    def listed_strikes(self, expiry: datetime) -> np.ndarray:
        """The base's listed strikes."""
        return self.base.listed_strikes(expiry)
