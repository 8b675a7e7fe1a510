"""Objectives: max portfolio theta (default), max expected income, min BP subject to a target.

The min-BP objective ("required positions", seed 1's MonthlyIncomeCalculator) adds the row
``income_target``: ``sum_k mu_k n_k >= target``.
"""

from __future__ import annotations

from optimizer.formulation.families._rows import INF, block
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.spec import ObjectiveKind
from optimizer.solve.problem import LinearBlock, Objective

__all__ = ["objective_for", "target_block"]

_COLUMN = {
    ObjectiveKind.MAX_THETA: ("theta", "maximize", "theta_per_day_per_contract"),
    ObjectiveKind.MAX_INCOME: (
        "expected_income",
        "maximize",
        "expected_monthly_income_per_contract",
    ),
    ObjectiveKind.MIN_BP: ("bp", "minimize", "bp_per_contract"),
}


def objective_for(kind: ObjectiveKind, cs: CandidateSet) -> Objective:
    """The linear objective over the counts ``n`` (account currency per day or per month)."""
    name, sense, col = _COLUMN[ObjectiveKind(kind)]
    return Objective(name=name, sense=sense, terms={"n": cs.col(col)})


def target_block(cs: CandidateSet, target: float) -> LinearBlock:
    """Row ``income_target``: expected monthly income ≥ ``target`` (account currency)."""
    mu = cs.col("expected_monthly_income_per_contract")
    return block("target", "target", [("income_target", mu, target, INF)])
