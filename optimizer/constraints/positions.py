"""Positions family: per-strategy max positions, correlation-group limits (domain.md §5–6).

* ``max_positions[s]``: ``sum_{k in s} n_k <= M_s`` — units of the structure held (one iron condor,
  one 1-1-2 …), the Tom King max-positions table by phase; with the ``structures`` basis the rows
  count distinct candidates held, ``sum_{k in s} y_k <= M_s``, linked by ``n_k <= U_k y_k``
  (block ``position_link``).
* ``group_units[g]``: ``sum_{k in g} n_k <= limit`` over strategies that count toward correlation
  groups (a scenario may exclude intraday strategies, and must say so).
* ``group_delta[g]``: ``|sum_{k in g} cash_delta_k n_k| <= cap * NLV`` (Tom King group risk:
  delta × underlying × multiplier ≤ 15% of the account), over the same counted strategies.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimizer.candidates import CandidateSet
from optimizer.constraints._rows import INF, block
from optimizer.limits import Limits
from optimizer.problem import LinearBlock

__all__ = ["link_block", "positions_blocks"]


def positions_blocks(cs: CandidateSet, limits: Limits) -> list[LinearBlock]:
    """Blocks ``max_positions`` and ``correlation_groups``."""
    out = []
    rows = []
    g_count = "y" if limits.position_basis == "structures" else "n"
    for s, m in limits.max_positions.items():
        if m is not None:
            rows.append((f"max_positions[{s}]", cs.mask("strategy", s).astype(float), -INF, m))
    b = block("max_positions", "positions", rows, group=g_count)
    if b is not None:
        out.append(b)
    units = []
    groups = cs.table["correlation_group"]
    counted = ~cs.table["strategy"].isin(limits.group_excluded).to_numpy()
    cash_delta = cs.col("cash_delta_per_contract")
    rows = []
    for g in sorted({x for x in groups if isinstance(x, str) and x}):
        in_g = (groups == g).to_numpy()
        if limits.group_limit is not None and (in_g & counted).any():
            units.append(
                (f"group_units[{g}]", (in_g & counted).astype(float), -INF, limits.group_limit)
            )
        held = in_g & counted
        if limits.group_delta_cap is not None and np.any(cash_delta[held] != 0):
            cap = limits.group_delta_cap * limits.nlv
            rows.append((f"group_delta[{g}]", cash_delta * held, -cap, cap))
    for b in (
        block("correlation_groups", "positions", units, group=g_count),
        block("group_delta", "positions", rows),
    ):
        if b is not None:
            out.append(b)
    return out


def link_block(upper: np.ndarray) -> LinearBlock:
    """Rows ``position_link[k]``: ``n_k - U_k y_k <= 0`` (a contract needs its position open)."""
    k = len(upper)
    return LinearBlock(
        name="position_link",
        family="definition",
        terms={
            "n": sp.eye_array(k, format="csr"),
            "y": sp.diags_array(-np.asarray(upper, dtype=float), format="csr"),
        },
        lower=np.full(k, -INF),
        upper=np.zeros(k),
        row_names=tuple(f"position_link[{i}]" for i in range(k)),
    )
