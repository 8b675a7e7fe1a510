"""Surfaces derived from another product's surface.

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

__all__ = ["ScaledSurface"]


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
