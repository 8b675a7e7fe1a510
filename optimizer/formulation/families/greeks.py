"""Greeks family: portfolio bounds on cash delta, vega (per vol point) and theta (per day).

Rows ``greek[cash_delta]`` etc.: ``lo <= sum_k g_k n_k <= hi`` in the account currency.
"""

from __future__ import annotations

from optimizer.formulation.families._rows import block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["greeks_blocks", "GREEK_COLUMNS"]

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
