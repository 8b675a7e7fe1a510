"""Leverage family: gross short notional ≤ L·NLV.

Notional per contract = ``sum_short |q| * spot * multiplier`` (account currency), the underlying
exposure the short legs could be assigned.
"""

from __future__ import annotations

from optimizer.formulation.families._rows import INF, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["leverage_blocks"]


def leverage_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Row ``leverage`` when a cap is set, else nothing."""
    if limits.leverage is None:
        return []
    rows = [("leverage", cs.col("notional_per_contract"), -INF, limits.leverage * limits.nlv)]
    return [block("leverage", "leverage", rows)]
