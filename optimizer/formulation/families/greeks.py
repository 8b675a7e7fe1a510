"""Greeks family: portfolio bounds on cash delta, vega (per vol point) and theta (per day).

Rows ``greek[cash_delta]`` etc.: ``lo <= sum_k g_k n_k <= hi`` in the account currency.
"""

from __future__ import annotations

from optimizer.formulation.families._family import CapFamily, Family, Lift
from optimizer.formulation.families._rows import Part, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["FAMILY", "GREEK_COLUMNS", "greeks_blocks", "greeks_part"]

#: Bound name -> CandidateSet column.
GREEK_COLUMNS = {
    "cash_delta": "cash_delta_per_contract",
    "vega": "vega_per_contract",
    "theta": "theta_per_day_per_contract",
}


def greeks_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """One two-sided row per bounded Greek."""
    rows = [
        (f"greek[{name}]", cs.col(GREEK_COLUMNS[name]), lo, hi)
        for name, (lo, hi) in limits.greeks.items()
    ]
    b = block("greeks", "greeks", rows)
    return [b] if b is not None else []


def greeks_part(cs: CandidateSet, limits: Limits) -> Part:
    """The Greek rows as a :class:`~optimizer.formulation.families._rows.Part`."""
    return Part(blocks=tuple(greeks_blocks(cs, limits)))


#: Portfolio Greek bounds (account currency); not raised by the minimal relaxation.
FAMILY = CapFamily(
    name=Family.GREEKS,
    part=greeks_part,
    lifts=(
        Lift("Greek bounds", lambda lim: bool(lim.greeks), lambda lim: {"greeks": {}}, rank=90),
    ),
)
