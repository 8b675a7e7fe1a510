"""Allocation family: each strategy's share of total expected income within ``w_s ± tol``.

Linear form (DESIGN.md §4): ``sum_{k in s} v_k n_k - (w_s + tol) sum_k v_k n_k <= 0`` and
``sum_{k in s} v_k n_k - (w_s - tol) sum_k v_k n_k >= 0`` with ``v`` the basis (expected monthly
income per contract, or theta per day). A strategy with a positive lower share but no candidate
keeps its row: it then forces total income to zero, which the verdict reports, rather than being
dropped silently.
"""

from __future__ import annotations

from optimizer.candidates import CandidateSet
from optimizer.constraints._rows import INF, block
from optimizer.limits import Limits
from optimizer.problem import LinearBlock

__all__ = ["allocation_blocks", "basis_column"]


def basis_column(basis: str) -> str:
    """CandidateSet column of an allocation basis (``income`` or ``theta``)."""
    return {
        "income": "expected_monthly_income_per_contract",
        "theta": "theta_per_day_per_contract",
    }[basis]


def allocation_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Rows ``alloc_upper[s]`` and ``alloc_lower[s]`` for every weighted strategy.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K rows).
    limits : Limits
        Effective weights and tolerance; allocation disabled when the tolerance is ``None``.

    Returns
    -------
    list[LinearBlock]
        One block ``allocation`` (empty list when disabled).
    """
    tol = limits.allocation_tolerance
    if tol is None:
        return []
    v = cs.col(basis_column(limits.allocation_basis))
    rows = []
    for s, w in limits.weights.items():
        own = v * cs.mask("strategy", s)
        if w + tol < 1.0:
            rows.append((f"alloc_upper[{s}]", own - (w + tol) * v, -INF, 0.0))
        if w - tol > 0.0:
            rows.append((f"alloc_lower[{s}]", own - (w - tol) * v, 0.0, INF))
    b = block("allocation", "allocation", rows)
    return [b] if b is not None else []
