"""Buying-power family: total BP ≤ f·NLV (phase/VIX table), per-strategy BP caps.

``bp_total``: ``sum_k b_k n_k <= f * NLV`` with ``b_k`` the buying-power reduction per contract
(Reg-T strategy-based or fixed, account currency) and ``f`` from :class:`~optimizer.inputs.limits.Limits`.
``bp_cap[s]``: ``sum_{k in s} b_k n_k <= c_s * NLV``.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["FAMILY", "bp_caps", "buying_power_blocks", "buying_power_part"]


def bp_caps(cs: CandidateSet, limits: Limits) -> list[tuple[str, np.ndarray, float]]:
    """``(row name, BP per contract (K,), cap)`` of ``bp_total`` and each ``bp_cap[s]``.

    Account currency: ``cost · n <= cap``. The rows of :func:`buying_power_blocks`, and the
    budgets of the chance constraint's knapsack bounds
    (:func:`optimizer.formulation.build.budget_caps`).
    """
    b = cs.col("bp_per_contract")
    out = [("bp_total", b, limits.bp_fraction * limits.nlv)]
    for s, cap in limits.strategy_bp_caps.items():
        out.append((f"bp_cap[{s}]", b * cs.mask("strategy", s), cap * limits.nlv))
    return out


def buying_power_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Rows ``bp_total`` and ``bp_cap[s]`` (account currency)."""
    rows = [(name, cost, -INF, cap) for name, cost, cap in bp_caps(cs, limits)]
    return [block("buying_power", "buying_power", rows)]


def buying_power_part(cs: CandidateSet, limits: Limits) -> Part:
    """The buying-power rows as a :class:`~optimizer.formulation.families._rows.Part`."""
    return Part(blocks=tuple(buying_power_blocks(cs, limits)))


#: Total and per-strategy BP caps, fractions of NLV, bounded by solvency when relaxed.
FAMILY = CapFamily(
    name=Family.BUYING_POWER,
    part=buying_power_part,
    lifts=(
        Lift(
            "buying power (total and per strategy)",
            lambda lim: True,
            lambda lim: {"bp_fraction": math.inf, "strategy_bp_caps": {}},
            rank=20,
        ),
    ),
    relaxable=True,
    rows=(RowUnit(("bp_total", "bp_cap["), "fraction of NLV", "bp"),),
)
