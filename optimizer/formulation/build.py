"""Assemble a backend-neutral :class:`~optimizer.solve.problem.SizingProblem` from candidates and caps.

Decision variables: ``n_k`` ∈ ℤ≥0, contracts (structure units) of candidate k, with upper bounds
implied by the position and buying-power caps (they only tighten the formulation; the rows stay).
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.formulation.families import registry
from optimizer.formulation.families._rows import Part
from optimizer.formulation.families.bounds import (
    UNCAPPED,
    count_upper_bounds,
    held_counts,
    max_positions_weights,
)
from optimizer.formulation.families.buying_power import bp_caps
from optimizer.formulation.families.chance import chance_cvar_part, chance_saa_part
from optimizer.formulation.families.tail_risk import (
    alpha_tag,
    cvar_part,
    drawdown_part,
    stress_part,
    var_part,
)
from optimizer.formulation.objectives import objective_for, target_block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.limits import Limits
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.problem import Objective, SizingProblem, VariableGroup, VarKind

__all__ = [
    "UNCAPPED",
    "build_problem",
    "count_upper_bounds",
    "risk_parts",
    "budget_caps",
    "unit_caps",
]


def unit_caps(cs: CandidateSet, limits: Limits) -> list[tuple[np.ndarray, float]]:
    """``(weights, M)`` per strategy with a max-positions cap counted over ``n``.

    ``weights`` (K,) are the coefficients of the strategy's ``max_positions`` row
    (:func:`~optimizer.formulation.families.bounds.max_positions_weights`: ``w_k / r_s`` with ``units``,
    1 with ``contracts``; 0 off the strategy): the chance constraint's big-M uses
    ``sum_k weights_k n_k <= M``.
    """
    if limits.position_basis == "structures":
        return []
    return [
        (max_positions_weights(cs, limits, s), float(m))
        for s, m in limits.max_positions.items()
        if m is not None
    ]


def budget_caps(cs: CandidateSet, limits: Limits) -> list[tuple[np.ndarray, float]]:
    """``(cost, C)`` per buying-power row: ``cost · n <= C`` (total and per strategy).

    Account currency; only finite caps. The chance constraint's big-M and hopeless-month test
    use them as knapsack bounds (:func:`optimizer.formulation.families.chance.hopeless_months`).
    """
    return [(cost, float(cap)) for _, cost, cap in bp_caps(cs, limits) if np.isfinite(cap)]


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
    if risk.managed is not None:
        monthly = risk.monthly
        for a, cap in limits.monthly_cvar_caps:
            name = f"monthly_cvar_{alpha_tag(a)}"
            parts.append(cvar_part(monthly, a, cap * limits.nlv, name=name))
        if limits.drawdown_cap is not None:
            a, cap = limits.drawdown_cap
            parts.append(drawdown_part(risk.path_months, a, cap * limits.nlv))
    p = limits.success_probability
    if chance and p is not None and risk.managed is not None and limits.target is not None:
        monthly = risk.monthly
        if limits.chance_method == "cvar":
            parts.append(chance_cvar_part(monthly, limits.target, p))
        else:
            parts.append(
                chance_saa_part(
                    monthly, limits.target, p, ub, unit_caps(cs, limits), budget_caps(cs, limits)
                )
            )
    return parts


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
        name="n", kind=VarKind.INTEGER, lower=held_counts(cs), upper=ub, labels=cs.ids
    )
    parts = [family.part(cs, limits) for family in registry() if family.part is not None]
    if risk is not None:
        parts += risk_parts(cs, risk, limits, ub, chance=chance, cvar_rows=cvar_rows)
    if ObjectiveKind(objective) is ObjectiveKind.MIN_BP:
        if target is None or not math.isfinite(target):
            raise ValueError("the min_bp objective needs a finite income target")
        parts.append(Part(blocks=(target_block(cs, target),)))
    base = objective_for(objective, cs)
    terms = dict(base.terms)
    for part in parts:
        for group, coef in part.objective_terms:
            terms[group] = terms.get(group, 0.0) + base.sign * np.asarray(coef, dtype=float)
    return SizingProblem(
        variables=(n, *(v for p in parts for v in p.variables)),
        blocks=tuple(b for p in parts for b in p.blocks),
        objective=Objective(name=base.name, sense=base.sense, terms=terms),
    )
