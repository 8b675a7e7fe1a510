"""Allocation family: each strategy's share of total expected income within ``w_s ± tol``.

Linear form (DESIGN.md §4): ``sum_{k in s} v_k n_k - (w_s + tol) sum_k v_k n_k <= 0`` and
``sum_{k in s} v_k n_k - (w_s - tol) sum_k v_k n_k >= 0`` with ``v`` the basis (expected monthly
income per contract, or theta per day). A strategy with a positive lower share but no candidate
keeps its row: it then forces total income to zero, which the verdict reports, rather than being
dropped silently.

Soft mode (``allocation.mode: soft``): each row gets its own deviation ``d_r >= 0`` (account
currency of the basis per month, or per day for the theta basis) —
``own - (w_s + tol) total - d_r <= 0`` and ``own - (w_s - tol) total + d_r >= 0`` — and the
objective loses ``penalty × d_r``: a goal programme (Charnes & Cooper) instead of a wall, so one
strategy that cannot be held does not force an empty book.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock, VariableGroup, VarKind

__all__ = ["FAMILY", "allocation_blocks", "allocation_part", "basis_column"]


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


def allocation_part(cs: CandidateSet, limits: Limits) -> Part:
    """The allocation family as a :class:`Part`: hard rows, or soft rows with deviations.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K rows).
    limits : Limits
        Weights, tolerance, ``allocation_mode`` and ``allocation_penalty``.

    Returns
    -------
    Part
        Hard: the block of :func:`allocation_blocks`. Soft: the same rows over ``n`` plus the
        continuous group ``alloc_dev`` (one per row, >= 0) and the objective penalty.
    """
    blocks = allocation_blocks(cs, limits)
    if not blocks or limits.allocation_mode != "soft":
        return Part(blocks=tuple(blocks))
    b = blocks[0]
    m = b.m
    sign = np.where(np.isfinite(b.upper), -1.0, 1.0)  # upper rows: -d; lower rows: +d
    dev = VariableGroup(
        name="alloc_dev",
        kind=VarKind.CONTINUOUS,
        lower=np.zeros(m),
        upper=np.full(m, INF),
        labels=tuple(f"dev:{r}" for r in b.row_names),
    )
    soft = LinearBlock(
        name=b.name,
        family=b.family,
        terms={"n": b.terms["n"], "alloc_dev": sp.diags_array(sign, format="csr")},
        lower=b.lower,
        upper=b.upper,
        row_names=b.row_names,
    )
    return Part(
        variables=(dev,),
        blocks=(soft,),
        objective_terms=(("alloc_dev", -limits.allocation_penalty * np.ones(m)),),
    )


def _split(weights) -> str:
    """The weights as percentages, ``"40/35/25"`` for the Tom King split (scenario order)."""
    return "/".join(f"{100 * float(w):.3g}" for w in dict(weights).values())


#: Allocation rows read as shares of expected income; the minimal relaxation may widen them.
FAMILY = CapFamily(
    name=Family.ALLOCATION,
    part=allocation_part,
    lifts=(
        Lift(
            lambda lim: f"allocation ({_split(lim.weights)} ± tol)",
            lambda lim: lim.allocation_tolerance is not None,
            lambda lim: {"allocation_tolerance": None},
            rank=10,
        ),
    ),
    relaxable=True,
    rows=(RowUnit(("alloc_",), "share of income"),),
)
