"""Per-candidate upper bounds on the counts ``n_k`` implied by the caps.

The bounds only tighten the formulation (the rows stay); they also give the big-M of the
structure binaries and the chance constraint. A count no cap limits gets :data:`UNCAPPED`; a
solution that reaches it means the problem is unbounded in that direction
(:func:`hits_artificial_bound`).

A structure whose maximum loss is unlimited (a naked strangle: ``max_loss_per_contract`` is
``inf``) cannot be held under a cap on maximum loss (``positions.max_loss_per_position`` for its
strategy, or a ``correlation_groups.risk: max_loss`` cap on its group): no finite cap admits
one contract. Its bound is 0 whatever the NLV and the cap's size (:func:`unlimited_loss`), also
when the cap-derived bounds are off (``Limits.bound_counts``); the positions family adds the
matching finite row so a held book that breaks the rule is reported, never a non-finite
coefficient.
"""

from __future__ import annotations

import numpy as np

from models import phases as phase_tables
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits

__all__ = [
    "UNCAPPED",
    "count_upper_bounds",
    "count_weights",
    "held_counts",
    "hits_artificial_bound",
    "max_positions_weights",
    "unlimited_loss",
]

#: Upper bound for a count no cap limits (a candidate with zero BP and no position cap).
UNCAPPED = 10_000


def count_weights(cs: CandidateSet, limits: Limits) -> np.ndarray:
    """Weight of one contract of each candidate in position counts, shape (K,).

    Full-size-equivalent units with the ``units`` basis (``models/data/position_units.csv``:
    ES/SPX 1, MES/XSP 0.1 …), else 1.
    """
    if limits.position_basis != "units":
        return np.ones(len(cs))
    return cs.derived("position_units", _position_units)


def _position_units(cs: CandidateSet) -> np.ndarray:
    units = {u: phase_tables.position_units(u) for u in set(cs.table["underlying"])}
    return cs.table["underlying"].map(units).to_numpy(dtype=float)


def max_positions_weights(cs: CandidateSet, limits: Limits, strategy: str) -> np.ndarray:
    """Coefficients of the row ``max_positions[strategy]``, shape (K,) (0 off the strategy).

    * ``units``: ``w_k / r_s`` over ``n`` — a contract's full-size-equivalent size over the size
      of the contract the limit is stated in (``Limits.count_reference``: 0.1 for the v17
      phase-2 LT112 limit of 4 *MES*, so one MES LT112 counts 1 and one ES LT112 10);
    * ``contracts``: 1 per contract over ``n``, whatever its size (the limit as stated);
    * ``structures``: 1 per candidate held, over the binaries ``y``.
    """
    mine = cs.mask("strategy", strategy).astype(float)
    if limits.position_basis != "units":
        return mine
    return mine * count_weights(cs, limits) / limits.count_reference.get(strategy, 1.0)


def unlimited_loss(cs: CandidateSet, limits: Limits) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Candidates with unlimited maximum loss that a maximum-loss cap keeps out of the book.

    Returns
    -------
    (per_position, per_group)
        ``per_position`` (K,) bool: non-finite ``max_loss_per_contract`` under
        ``max_loss_per_position`` (strategies of ``max_loss_strategies``). ``per_group``: group
        name → (K,) bool mask of the group's own counted candidates with non-finite max loss,
        when group risk is read as ``max_loss`` under a cap. Both are empty without the caps.
    """
    k = len(cs)
    per_position = np.zeros(k, dtype=bool)
    group_cap = limits.group_risk == "max_loss" and limits.group_risk_cap is not None
    if limits.max_loss_per_position is None and not group_cap:
        return per_position, {}  # no maximum-loss cap: nothing to keep out
    ml = cs.col("max_loss_per_contract")
    unbounded = ~np.isfinite(ml)
    strat = cs.labels("strategy")
    if limits.max_loss_per_position is not None:
        per_position = unbounded & np.isin(strat, list(limits.max_loss_strategies))
    per_group: dict[str, np.ndarray] = {}
    if group_cap:
        counted = ~np.isin(strat, list(limits.group_excluded))
        for g in cs.label_values("correlation_group"):
            mask = cs.mask("correlation_group", g) & counted & unbounded
            if mask.any():
                per_group[g] = mask
    return per_position, per_group


def count_upper_bounds(cs: CandidateSet, limits: Limits, *, money_caps: bool = True) -> np.ndarray:
    """Per-candidate upper bound on ``n_k`` implied by the position, BP and loss caps.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K rows).
    limits : Limits
        Resolved caps.
    money_caps : bool
        Include the bounds from caps in money (BP, max loss), which move with NLV. Off for
        big-M coefficients, so that a compiled model keeps its matrix when NLV changes.

    Returns
    -------
    ndarray, shape (K,)
        Non-negative integral bounds (contracts); :data:`UNCAPPED` where no cap applies.
    """
    ub = np.full(len(cs), float(UNCAPPED))
    bp = cs.col("bp_per_contract")
    strat = cs.labels("strategy")
    w = count_weights(cs, limits)
    eps = 1e-9

    def cap(mask: np.ndarray, limit: float, per: np.ndarray) -> None:
        sel = mask & (per > 0)
        ub[sel] = np.minimum(ub[sel], np.floor(limit / per[sel] + eps))

    structures = limits.position_basis == "structures"
    per_position, per_group = unlimited_loss(cs, limits)
    ub[per_position] = 0.0  # structural: no NLV and no finite cap admits an unlimited loss
    for mask in per_group.values():
        ub[mask] = 0.0
    if not limits.bound_counts:
        if limits.max_contracts_per_position is not None:
            ub = np.minimum(ub, limits.max_contracts_per_position)
        return np.maximum(ub, held_counts(cs))
    everything = np.ones(len(cs), dtype=bool)
    if money_caps:
        cap(everything, limits.bp_fraction * limits.nlv, bp)
        for s, c in limits.strategy_bp_caps.items():
            cap(strat == s, c * limits.nlv, bp)
    for s, m in limits.max_positions.items():
        if m is None:
            continue
        sel = strat == s
        if structures:
            if m == 0:
                ub[sel] = 0.0
        else:
            cap(sel, float(m), max_positions_weights(cs, limits, s))
    if limits.max_contracts_per_position is not None:
        ub = np.minimum(ub, limits.max_contracts_per_position)
    if not structures:
        if limits.max_total_positions is not None:
            cap(everything, float(limits.max_total_positions), w)
        counted = ~np.isin(strat, list(limits.group_excluded))
        for g, lim in limits.group_limits.items():
            cap(cs.mask("correlation_group", g) & counted, float(lim), w)
    if limits.max_loss_per_position is not None and money_caps:
        ml = cs.col("max_loss_per_contract")
        cap(
            np.isin(strat, list(limits.max_loss_strategies)) & np.isfinite(ml),
            limits.max_loss_per_position * limits.nlv,
            ml,
        )
    if "held_contracts" in cs.table:
        # a held position stays in the book: its own bound never cuts below what is held (a
        # held book that breaks a cap makes the cap's row infeasible, which the verdict reports)
        ub = np.maximum(ub, cs.col("held_contracts"))
    return np.maximum(ub, 0.0)


def held_counts(cs: CandidateSet) -> np.ndarray:
    """Contracts already held per candidate, shape (K,) (zeros without held positions)."""
    if "held_contracts" not in cs.table:
        return np.zeros(len(cs))
    return cs.col("held_contracts")


def hits_artificial_bound(cs: CandidateSet, limits: Limits, counts: np.ndarray) -> bool:
    """True when a count sits at :data:`UNCAPPED`: no cap limits it, the optimum is unbounded."""
    ub = count_upper_bounds(cs, limits)
    free = ub >= UNCAPPED
    return bool(np.any(free & (np.asarray(counts) >= UNCAPPED - 0.5)))
