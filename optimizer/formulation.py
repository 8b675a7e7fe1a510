"""Assemble a backend-neutral :class:`~optimizer.problem.SizingProblem` from candidates and caps.

Decision variables: ``n_k`` ∈ ℤ≥0, contracts (structure units) of candidate k, with upper bounds
implied by the position and buying-power caps (they only tighten the formulation; the rows stay).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from optimizer.candidates import CandidateSet
from optimizer.constraints.allocation import allocation_blocks
from optimizer.constraints.buying_power import buying_power_blocks
from optimizer.constraints.chance import chance_cvar_part, chance_saa_part
from optimizer.constraints.greeks import greeks_blocks
from optimizer.constraints.leverage import leverage_blocks
from optimizer.constraints.positions import link_block, positions_blocks
from optimizer.constraints.tail_risk import Part, cvar_part, stress_part, var_part
from optimizer.limits import Limits
from optimizer.objectives import objective_for, target_block
from optimizer.problem import LinearBlock, SizingProblem, VariableGroup, VarKind
from optimizer.risk_model import RiskData
from optimizer.spec import ObjectiveKind

__all__ = ["FAMILIES", "build_problem", "count_upper_bounds", "risk_parts", "unit_caps"]

#: The constraint families, in the order their blocks appear.
FAMILIES: tuple[Callable[[CandidateSet, Limits], list[LinearBlock]], ...] = (
    allocation_blocks,
    buying_power_blocks,
    leverage_blocks,
    greeks_blocks,
    positions_blocks,
)

#: Upper bound for a count no cap limits (a candidate with zero BP and no position cap).
UNCAPPED = 10_000


def unit_caps(cs: CandidateSet, limits: Limits) -> list[tuple[np.ndarray, float]]:
    """``(mask, M)`` per strategy with a max-positions cap counted in contracts."""
    if limits.position_basis != "contracts":
        return []
    return [
        (cs.mask("strategy", s), float(m)) for s, m in limits.max_positions.items() if m is not None
    ]


def risk_parts(
    cs: CandidateSet,
    risk: RiskData,
    limits: Limits,
    ub: np.ndarray,
    *,
    chance: bool = True,
    cvar_rows: np.ndarray | None = None,
) -> list[Part]:
    """Tail-risk and chance parts for the caps in ``limits`` (money caps = fraction × NLV).

    ``cvar_rows`` restricts the CVaR rows to a subset of the scenarios (cutting-plane solve,
    :func:`optimizer.pipeline.solve_sizing`); the normalization keeps the full scenario count.
    """
    s = risk.pnl.shape[0]
    sub = risk.pnl if cvar_rows is None else risk.pnl[np.asarray(cvar_rows, dtype=int)]
    parts = [cvar_part(sub, a, cap * limits.nlv, n_scenarios=s) for a, cap in limits.cvar_caps]
    parts += [var_part(risk.pnl, a, cap * limits.nlv, ub) for a, cap in limits.var_caps]
    if limits.stress_cap is not None and risk.stress_pnl.shape[0]:
        parts.append(
            stress_part(risk.stress_pnl, risk.stress_labels, limits.stress_cap * limits.nlv)
        )
    p = limits.success_probability
    if chance and p is not None and risk.managed is not None and limits.target is not None:
        monthly = np.asarray(risk.managed.monthly_samples)
        if limits.chance_method == "cvar":
            parts.append(chance_cvar_part(monthly, limits.target, p))
        else:
            parts.append(chance_saa_part(monthly, limits.target, p, ub, unit_caps(cs, limits)))
    return parts


def count_upper_bounds(cs: CandidateSet, limits: Limits) -> np.ndarray:
    """Per-candidate upper bound on ``n_k`` implied by max positions and BP caps, shape (K,)."""
    ub = np.full(len(cs), float(UNCAPPED))
    bp = cs.col("bp_per_contract")
    strat = cs.table["strategy"].to_numpy()
    pos = bp > 0
    ub[pos] = np.minimum(ub[pos], np.floor(limits.bp_fraction * limits.nlv / bp[pos] + 1e-9))
    by_contracts = limits.position_basis == "contracts"
    for s, m in limits.max_positions.items():
        if m is not None:
            cap = m if by_contracts or m == 0 else ub[strat == s]
            ub[strat == s] = np.minimum(ub[strat == s], cap)
    if limits.max_contracts_per_position is not None:
        ub = np.minimum(ub, limits.max_contracts_per_position)
    for s, cap in limits.strategy_bp_caps.items():
        sel = (strat == s) & pos
        ub[sel] = np.minimum(ub[sel], np.floor(cap * limits.nlv / bp[sel] + 1e-9))
    if limits.group_limit is not None and by_contracts:
        counted = ~np.isin(strat, list(limits.group_excluded))
        grouped = cs.table["correlation_group"].notna().to_numpy() & counted
        ub[grouped] = np.minimum(ub[grouped], limits.group_limit)
    return np.maximum(ub, 0.0)


def build_problem(
    cs: CandidateSet,
    limits: Limits,
    objective: ObjectiveKind,
    *,
    target: float | None = None,
    risk: RiskData | None = None,
    chance: bool = True,
    cvar_rows: np.ndarray | None = None,
) -> SizingProblem:
    """The sizing MILP for ``cs`` under ``limits``.

    Parameters
    ----------
    cs : CandidateSet
        Candidates (K rows).
    limits : Limits
        Resolved caps.
    objective : ObjectiveKind
        ``max_theta``, ``max_income`` or ``min_bp``.
    target : float | None
        Monthly income target (account currency); required by ``min_bp`` (adds ``income_target``).
    risk : RiskData | None
        Scenario matrices; with them the tail-risk caps of ``limits`` (CVaR, VaR, stress) and,
        when ``chance`` and ``limits.success_probability`` are set, the chance family are added.
    chance : bool
        Include the chance constraint (the verdict builds problems without it).
    cvar_rows : ndarray | None
        Scenario rows the CVaR caps use (``None`` = all): see :func:`risk_parts`.

    Returns
    -------
    SizingProblem
        One integer group ``n`` (labels = candidate ids) and the named blocks of every family.

    Raises
    ------
    ValueError
        ``min_bp`` without a target.
    """
    ub = count_upper_bounds(cs, limits)
    n = VariableGroup(
        name="n", kind=VarKind.INTEGER, lower=np.zeros(len(cs)), upper=ub, labels=cs.ids
    )
    groups = [n]
    blocks: list[LinearBlock] = []
    if limits.position_basis == "structures":
        groups.append(
            VariableGroup(
                name="y",
                kind=VarKind.BINARY,
                lower=np.zeros(len(cs)),
                upper=(ub > 0).astype(float),
                labels=cs.ids,
            )
        )
        blocks.append(link_block(ub))
    for family in FAMILIES:
        blocks.extend(family(cs, limits))
    if risk is not None:
        for part in risk_parts(cs, risk, limits, ub, chance=chance, cvar_rows=cvar_rows):
            groups.extend(part.variables)
            blocks.extend(part.blocks)
    if ObjectiveKind(objective) is ObjectiveKind.MIN_BP:
        if target is None or not math.isfinite(target):
            raise ValueError("the min_bp objective needs a finite income target")
        blocks.append(target_block(cs, target))
    return SizingProblem(
        variables=tuple(groups), blocks=tuple(blocks), objective=objective_for(objective, cs)
    )
