"""Buying-power family: total BP ≤ f·NLV (phase/VIX table), per-strategy BP caps.

``bp_total``: ``sum_k b_k n_k <= f * NLV`` with ``b_k`` the buying-power reduction per contract
(Reg-T strategy-based or fixed, account currency) and ``f`` from :class:`~optimizer.limits.Limits`.
``bp_cap[s]``: ``sum_{k in s} b_k n_k <= c_s * NLV``.
"""

from __future__ import annotations

from optimizer.candidates import CandidateSet
from optimizer.constraints._rows import INF, block
from optimizer.limits import Limits
from optimizer.problem import LinearBlock

__all__ = ["buying_power_blocks"]


def buying_power_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Rows ``bp_total`` and ``bp_cap[s]`` (account currency)."""
    b = cs.col("bp_per_contract")
    rows = [("bp_total", b, -INF, limits.bp_fraction * limits.nlv)]
    for s, cap in limits.strategy_bp_caps.items():
        rows.append((f"bp_cap[{s}]", b * cs.mask("strategy", s), -INF, cap * limits.nlv))
    return [block("buying_power", "buying_power", rows)]
