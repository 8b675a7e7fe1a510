"""The answer of the least-BP rebalance (:func:`optimizer.tracking.allocator.rebalance`): its status and the advice (adds, BP, income and shares before and after, the smallest feasible tolerance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from optimizer.solve.status import Fallback


class RebalanceStatus(StrEnum):
    """Outcome of :func:`rebalance` (compares equal to the plain strings)."""

    IN_BAND = "in_band"
    REBALANCE = "rebalance"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True, eq=False)
class RebalanceAdvice:
    """Rebalancing advice for a book of held contracts (money in account currency).

    Attributes
    ----------
    status : RebalanceStatus
        ``in_band``: the held book already meets every band (no adds); ``rebalance``: the adds
        restore the band; ``infeasible``: no adds within ``max_add`` and ``bp_available`` do.
    adds : ndarray of int64, shape (K,)
        Contracts to add per candidate (zeros unless ``rebalance``); read-only.
    added_bp : float
        Buying power of the adds, ``bp @ adds``, account currency.
    income_before, income_after : float
        Book's expected income (held, held + adds), account currency per month.
    shares_before, shares_after : dict of str to float
        Strategy -> share of the book's income (NaN when the total is <= 0).
    over, under : tuple of str
        Strategies above / below their band *before* the adds.
    weights : dict of str to float
        Target share per strategy.
    tolerance : float
        Absolute share band (0.05 = ± 5 points).
    min_tolerance : float or None
        ``infeasible`` only: the smallest tolerance (within :data:`MIN_TOLERANCE_PRECISION`)
        at which adds within the same limits restore the band; None when none does (``message``
        says why) or the status is not ``infeasible``.
    message : str
        One readable line.
    fallbacks : tuple of Fallback
        Failure-policy steps taken by the solves (other backend after a solver error).
    """

    status: RebalanceStatus
    adds: np.ndarray
    added_bp: float
    income_before: float
    income_after: float
    shares_before: dict[str, float]
    shares_after: dict[str, float]
    over: tuple[str, ...]
    under: tuple[str, ...]
    weights: dict[str, float]
    tolerance: float
    min_tolerance: float | None
    message: str
    fallbacks: tuple[Fallback, ...] = field(default=())

    def table(self) -> pd.DataFrame:
        """Per strategy: ``weight, lower, upper, share_before, share_after`` (fractions)."""
        return pd.DataFrame(
            {
                "strategy": list(self.weights),
                "weight": list(self.weights.values()),
                "lower": [w - self.tolerance for w in self.weights.values()],
                "upper": [w + self.tolerance for w in self.weights.values()],
                "share_before": [self.shares_before[s] for s in self.weights],
                "share_after": [self.shares_after[s] for s in self.weights],
            }
        )

    def __repr__(self) -> str:
        return (
            f"RebalanceAdvice(status={self.status.value}, adds={self.adds.tolist()}, "
            f"added_bp={self.added_bp:.2f}, message={self.message!r})"
        )
