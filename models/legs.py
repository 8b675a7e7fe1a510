"""Option and underlying legs: the atoms every structure, margin rule and income model shares.

A :class:`Leg` is one line of a structure *per unit of the structure*: e.g. an LT112 unit is
four legs (1 long put, 1 short put, 2 short puts expressed as ``quantity=-2``).
Prices are per share in the instrument's own currency; multiply by the contract multiplier for
per-contract money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Leg", "Right"]


class Right(StrEnum):
    """What a leg holds: a call, a put, or the underlying itself (stock/ETF shares or a future)."""

    CALL = "C"
    PUT = "P"
    UNDERLYING = "U"


@dataclass(frozen=True)
class Leg:
    """One leg of a structure, per unit of the structure.

    Parameters
    ----------
    right : Right
        ``C``, ``P`` or ``U`` (underlying: shares for equities/ETFs, one future for futures).
    strike : float
        Strike in the instrument's price units; ``nan`` for an underlying leg.
    expiry : datetime | None
        Expiry timestamp (naive, exchange local time); ``None`` for an underlying leg.
    quantity : int
        Signed number of contracts per structure unit: positive = long, negative = short.
    price : float
        Mid price per share at valuation, instrument currency (premium for options, the
        underlying price for ``U``). Always >= 0; the sign of the cash flow follows ``quantity``.
    """

    right: Right
    strike: float
    expiry: datetime | None
    quantity: int
    price: float

    def __post_init__(self) -> None:
        if self.quantity == 0:
            raise ValueError("Leg.quantity must be non-zero (positive long, negative short)")
        if not (self.price >= 0 and math.isfinite(self.price)):
            raise ValueError(f"Leg.price must be a finite number >= 0, got {self.price!r}")
        if self.right is not Right.UNDERLYING:
            if not (self.strike > 0 and math.isfinite(self.strike)):
                raise ValueError(f"Leg.strike must be a finite number > 0, got {self.strike!r}")
            if self.expiry is None:
                raise ValueError("an option Leg needs an expiry")

    @property
    def is_short(self) -> bool:
        """True for a short (sold) leg."""
        return self.quantity < 0

    @property
    def is_option(self) -> bool:
        """True for a call or put leg."""
        return self.right is not Right.UNDERLYING
