"""Positions family: max positions, total positions, correlation groups, expiry and loss rules.

Counting (``Limits.position_basis``, DESIGN.md "Counting"; ``positions.count`` in
:class:`optimizer.inputs.spec.PositionsSpec`): with ``units`` a contract of candidate k weighs ``w_k`` =
its full-size-equivalent size (one ES or SPX unit 1, one MES or XSP unit 0.1;
``models/data/position_units.csv``); with ``contracts`` every contract weighs 1 whatever its
size; with ``structures`` the rows count distinct candidates held (binaries ``y_k``).

* ``max_positions[s]``: the phase table's limit ``M_s`` (domain.md §5 max-positions table):

  - ``units``: ``sum_{k in s} (w_k / r_s) n_k <= M_s`` with ``r_s`` the size of the contract
    the table states the limit in (``max_positions.csv`` ``count_unit_by_phase``: 0.1 for the
    v17 phase-2 "4 MES" LT112 limit, so 4 MES or 0.4 ES-equivalents; 1 otherwise);
  - ``contracts``: ``sum_{k in s} n_k <= M_s``, the number as stated (4 LT112 contracts of any
    size in phase 2);
  - ``structures``: ``sum_{k in s} y_k <= M_s``.
* ``max_positions_total``: ``sum_k w_k n_k <= T`` (HEAD 3 / 5 / 7 / 10 by phase, domain.md §5;
  ``w_k`` = 1 with ``contracts``, ``y_k`` with ``structures``).
* ``group_units[g]``: ``sum_{k in g} w_k n_k <= L_g`` with ``L_g = min(group limit, phase limit)``
  (domain.md §6: A1 2, C2 1 …; never more than 3, 2 below £75k), over the strategies that count
  toward correlation groups (same basis as above).
* ``group_risk[g]``: the TK group risk ≤ cap × NLV over the group's own counted candidates, read
  as ``cash_delta`` (``|sum_{k in g} cash_delta_k n_k|``), ``bp`` (``sum b_k n_k``) or
  ``max_loss`` (``sum maxloss_k n_k``). Under ``max_loss`` a structure whose maximum loss is
  unlimited (a naked strangle, ``maxloss_k = inf``) makes its group's risk unbounded, so it cannot
  be held under a finite cap: ``group_risk_unlimited[g]``: ``sum n_k <= 0`` over those members
  (and their count bound is 0, :func:`optimizer.formulation.families.bounds.unlimited_loss`).
* ``one_per_expiry[s, g, e]``: ``sum y_k <= 1`` over the candidates of one strategy, correlation
  group and expiry ("never put several positions on the same expiry", domain.md §6), with
  ``n_k <= U_k y_k`` (block ``position_link``).
* ``max_loss[k]``: ``maxloss_k n_k <= cap × NLV`` for the strategies the cap applies to
  ("≤ 2% risk per trade", domain.md §3d). A structure of those strategies with unlimited maximum
  loss cannot be held under the cap: ``max_loss_unlimited``: ``sum n_k <= 0`` over them (and
  their count bound is 0).

No row ever carries a non-finite coefficient: unlimited losses enter only through the
``*_unlimited`` rows above, with coefficient 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part, block
from optimizer.formulation.families.bounds import (
    count_upper_bounds,
    count_weights,
    max_positions_weights,
    unlimited_loss,
)
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.solve.problem import LinearBlock, VariableGroup, VarKind

__all__ = [
    "FAMILY",
    "count_weights",
    "expiry_clusters",
    "link_block",
    "needs_binaries",
    "positions_part",
]


def expiry_clusters(cs: CandidateSet) -> list[tuple[str, np.ndarray]]:
    """Groups of candidates sharing strategy, correlation group and expiry (size ≥ 2).

    Returns
    -------
    list of (label, mask (K,))
        ``label`` is ``strategy|group|YYYY-MM-DD``; candidates without an expiry (fixed
        economics) are not clustered.
    """
    return list(cs.derived_object("expiry_clusters", _expiry_clusters))


def _expiry_clusters(cs: CandidateSet) -> tuple[tuple[str, np.ndarray], ...]:
    t = cs.table
    out = []
    if "expiry" not in t:
        return ()
    exp = pd.to_datetime(t["expiry"])
    keys = pd.DataFrame(
        {
            "s": t["strategy"].astype(str),
            "g": t["correlation_group"].fillna(t["underlying"]).astype(str),
            "e": exp.dt.strftime("%Y-%m-%d"),
        }
    )
    valid = exp.notna().to_numpy()
    for (s, g, e), idx in keys[valid].groupby(["s", "g", "e"], sort=True).groups.items():
        if len(idx) >= 2:
            mask = np.zeros(len(cs), dtype=bool)
            mask[np.asarray(idx)] = True
            mask.flags.writeable = False
            out.append((f"{s}|{g}|{e}", mask))
    return tuple(out)


def needs_binaries(cs: CandidateSet, limits: Limits) -> bool:
    """Whether the problem needs the structure binaries ``y`` (structures basis or expiry rule)."""
    return limits.position_basis == "structures" or (
        limits.one_per_expiry and bool(expiry_clusters(cs))
    )


def _group_risk_coeffs(cs: CandidateSet, limits: Limits) -> tuple[np.ndarray, bool]:
    """Per-contract group-risk measure and whether the row is two-sided (signed)."""
    col = {
        "cash_delta": "cash_delta_per_contract",
        "bp": "bp_per_contract",
        "max_loss": "max_loss_per_contract",
    }[limits.group_risk]
    return cs.col(col), limits.group_risk == "cash_delta"


def positions_part(cs: CandidateSet, limits: Limits) -> Part:
    """Blocks ``max_positions``, ``correlation_groups``, ``group_risk``, ``one_per_expiry``,
    ``max_loss`` (and the ``y`` binaries with ``position_link`` when needed).

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K rows).
    limits : Limits
        Resolved caps.

    Returns
    -------
    Part
        Rows over ``n`` (and ``y``), named as in the module docstring.
    """
    blocks: list[LinearBlock | None] = []
    structures = limits.position_basis == "structures"
    g_count = "y" if structures else "n"
    w = count_weights(cs, limits)
    strat = cs.labels("strategy")
    rows = []
    for s, m in limits.max_positions.items():
        if m is None:
            continue
        rows.append((f"max_positions[{s}]", max_positions_weights(cs, limits, s), -INF, float(m)))
    if limits.max_total_positions is not None:
        rows.append(("max_positions_total", w, -INF, float(limits.max_total_positions)))
    blocks.append(block("max_positions", "positions", rows, group=g_count))

    counted = ~np.isin(cs.labels("strategy"), list(limits.group_excluded))
    risk, signed = _group_risk_coeffs(cs, limits)
    unlimited, unlimited_in_group = unlimited_loss(cs, limits)
    units, risk_rows = [], []
    for g in cs.label_values("correlation_group"):
        mine = cs.mask("correlation_group", g) & counted
        if not mine.any():
            continue
        if g in limits.group_limits:
            units.append(
                (f"group_units[{g}]", np.where(mine, w, 0.0), -INF, float(limits.group_limits[g]))
            )
        if limits.group_risk_cap is None:
            continue
        # only the group's own finite measures: never inf × 0 from another group's strangle
        own = mine & np.isfinite(risk)
        if np.any(risk[own] != 0):
            cap = limits.group_risk_cap * limits.nlv
            coef = np.where(own, risk, 0.0)
            risk_rows.append((f"group_risk[{g}]", coef, -cap if signed else -INF, cap))
        if g in unlimited_in_group:
            risk_rows.append(
                (f"group_risk_unlimited[{g}]", unlimited_in_group[g].astype(float), -INF, 0.0)
            )
    blocks.append(block("correlation_groups", "positions", units, group=g_count))
    blocks.append(block("group_risk", "positions", risk_rows))

    variables: tuple[VariableGroup, ...] = ()
    if needs_binaries(cs, limits):
        ub = count_upper_bounds(cs, limits)
        big_m = count_upper_bounds(cs, limits, money_caps=False)  # NLV-free: fixed matrix
        variables = (
            VariableGroup(
                name="y",
                kind=VarKind.BINARY,
                lower=np.zeros(len(cs)),
                upper=(ub > 0).astype(float),
                labels=cs.ids,
            ),
        )
        blocks.append(link_block(big_m))
        if limits.one_per_expiry:
            rows = [
                (f"one_per_expiry[{label}]", mask.astype(float), -INF, 1.0)
                for label, mask in expiry_clusters(cs)
            ]
            blocks.append(block("one_per_expiry", "positions", rows, group="y"))

    if limits.max_loss_per_position is not None:
        ml = cs.col("max_loss_per_contract")
        applies = np.isin(strat, list(limits.max_loss_strategies)) & np.isfinite(ml) & (ml > 0)
        cap = limits.max_loss_per_position * limits.nlv
        rows = []
        for k in np.flatnonzero(applies):
            coef = np.zeros(len(cs))
            coef[k] = ml[k]
            rows.append((f"max_loss[{cs.ids[k]}]", coef, -INF, cap))
        if unlimited.any():
            rows.append(("max_loss_unlimited", unlimited.astype(float), -INF, 0.0))
        blocks.append(block("max_loss", "positions", rows))
    return Part(variables=variables, blocks=tuple(b for b in blocks if b is not None))


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


#: Position counts, correlation groups, one per expiry and max loss per position.
FAMILY = CapFamily(
    name=Family.POSITIONS,
    part=positions_part,
    lifts=(
        Lift(
            "max positions (per strategy and total)",
            lambda lim: (
                any(v is not None for v in lim.max_positions.values())
                or lim.max_total_positions is not None
            ),
            lambda lim: {
                "max_positions": dict.fromkeys(lim.max_positions),
                "max_total_positions": None,
            },
            rank=30,
        ),
        Lift(
            "correlation-group unit limits",
            lambda lim: bool(lim.group_limits),
            lambda lim: {"group_limits": {}},
            rank=40,
        ),
        Lift(
            "correlation-group risk caps",
            lambda lim: lim.group_risk_cap is not None,
            lambda lim: {"group_risk_cap": None},
            rank=50,
        ),
        Lift(
            "one position per expiry",
            lambda lim: lim.one_per_expiry,
            lambda lim: {"one_per_expiry": False},
            rank=60,
        ),
        Lift(
            "max loss per position",
            lambda lim: lim.max_loss_per_position is not None,
            lambda lim: {"max_loss_per_position": None},
            rank=70,
        ),
    ),
    relaxable=True,
    rows=(RowUnit(("group_risk[", "max_loss["), "fraction of NLV"),),
)
