"""Buying-power family: total BP ≤ f·NLV (phase/VIX table), per-strategy BP caps.

``bp_total``: ``sum_k b_k n_k <= f * NLV`` with ``b_k`` the buying-power reduction per contract
(Reg-T strategy-based or fixed, account currency) and ``f`` from :class:`~optimizer.inputs.limits.Limits`.
``bp_cap[s]``: ``sum_{k in s} b_k n_k <= c_s * NLV``.
"""

from __future__ import annotations

import numpy as np

from optimizer.formulation.families._rows import INF, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock

__all__ = ["bp_caps", "buying_power_blocks"]


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
