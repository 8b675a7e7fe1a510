"""Leverage family: gross short notional ≤ L·NLV.

Notional per contract = ``sum_short |q| * spot * multiplier`` (account currency), the underlying
exposure the short legs could be assigned.
"""

from __future__ import annotations

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["FAMILY", "leverage_blocks", "leverage_part"]


def leverage_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Row ``leverage`` when a cap is set, else nothing."""
    if limits.leverage is None:
        return []
    rows = [("leverage", cs.col("notional_per_contract"), -INF, limits.leverage * limits.nlv)]
    return [block("leverage", "leverage", rows)]


def leverage_part(cs: CandidateSet, limits: Limits) -> Part:
    """The leverage row as a :class:`~optimizer.formulation.families._rows.Part`."""
    return Part(blocks=tuple(leverage_blocks(cs, limits)))


#: Gross short notional ≤ L·NLV.
FAMILY = CapFamily(
    name=Family.LEVERAGE,
    part=leverage_part,
    lifts=(
        Lift(
            "leverage",
            lambda lim: lim.leverage is not None,
            lambda lim: {"leverage": None},
            rank=80,
        ),
    ),
    relaxable=True,
    rows=(RowUnit(("leverage",), "fraction of NLV"),),
)
