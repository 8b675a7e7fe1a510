"""Chance family: P(monthly income ≥ target) ≥ p.

``saa`` — sample average approximation with one binary per month sample (Luedtke & Ahmed, SIAM
J. Optim. 19(2), 2008): ``R_j · n + M_j z_j >= target`` and ``sum_j z_j <= floor((1 - p) S)``,
with ``M_j = target - sum_k min(R_jk, 0) U_k`` (the largest shortfall the count bounds allow).

``cvar`` — the convex conservative surrogate (Nemirovski & Shapiro 2006): ``CVaR_p(target - R n)
<= 0`` implies ``P(R n < target) <= 1 - p``; an LP, never more optimistic than the SAA.

``max_probability_part`` builds the "highest reachable probability" problem: the same rows without
the count cap; the caller maximizes the number of successful months.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from optimizer.formulation.families._family import CapFamily, Family
from optimizer.formulation.families._rows import INF
from optimizer.formulation.families.tail_risk import Part, cvar_part
from optimizer.solve.problem import LinearBlock, VariableGroup, VarKind

__all__ = ["FAMILY", "chance_cvar_part", "chance_saa_part", "hopeless_months", "success_rows"]


def _budget_bound(
    r: np.ndarray, ub: np.ndarray, cost: np.ndarray, budget: float, *, upper: bool
) -> np.ndarray:
    """(S,) bound of ``R_j · n`` over ``cost · n <= budget``, ``0 <= n <= ub`` (fractional knapsack).

    The LP bound of a single budget row: the best (``upper``) or worst month value is the
    budget times the best (worst) value per unit of cost over the candidates that cost
    something, plus the candidates that cost nothing at their count bounds. Valid for every
    integer book meeting the row (a relaxation of it).
    """
    c = np.asarray(cost, dtype=float)
    paid = c > 0
    part = np.maximum(r, 0.0) if upper else np.minimum(r, 0.0)
    free = part[:, ~paid] @ ub[~paid]
    if not paid.any():
        return free
    per = r[:, paid] / c[paid]
    best = per.max(axis=1) if upper else per.min(axis=1)
    best = np.maximum(best, 0.0) if upper else np.minimum(best, 0.0)
    return free + max(float(budget), 0.0) * best


def hopeless_months(
    monthly: np.ndarray,
    target: float,
    upper_counts: np.ndarray,
    unit_caps: Sequence[tuple[np.ndarray, float]] = (),
    budgets: Sequence[tuple[np.ndarray, float]] = (),
) -> np.ndarray:
    """(S,) mask of months no book within the count bounds can lift to ``target``.

    The best a book can do in month j is bounded by ``sum_k max(R_jk, 0) U_k``; ``unit_caps``
    (``(weights, M)`` pairs: ``sum_k weights_k n_k <= M`` over the candidates with a positive
    weight, e.g. max positions per strategy counted in full-size units) tighten it to
    ``min(sum_{k in g} max(R_jk,0) U_k, M max_{k in g} R_jk^+ / weights_k)`` per group.
    Candidates in no group keep the plain bound. ``budgets`` (``(cost, C)`` pairs: ``cost · n
    <= C`` over every candidate, e.g. the buying-power cap) each give another valid bound
    (:func:`_budget_bound`); the smallest is kept. A valid upper bound, so a month flagged
    hopeless can never succeed.
    """
    r = np.maximum(np.asarray(monthly, dtype=float), 0.0)
    ub = np.asarray(upper_counts, dtype=float)
    covered = np.zeros(r.shape[1], dtype=bool)
    best = np.zeros(r.shape[0])
    for weights, cap in unit_caps:
        w = np.asarray(weights, dtype=float)
        m = (w > 0) & ~covered
        if not m.any():
            continue
        covered |= m
        plain = r[:, m] @ ub[m]
        best += np.minimum(plain, cap * (r[:, m] / w[m]).max(axis=1))
    best += r[:, ~covered] @ ub[~covered]
    raw = np.asarray(monthly, dtype=float)
    for cost, cap in budgets:
        best = np.minimum(best, _budget_bound(raw, ub, cost, cap, upper=True))
    return best < target


def _worst_month(
    r: np.ndarray,
    ub: np.ndarray,
    unit_caps: Sequence[tuple[np.ndarray, float]],
    budgets: Sequence[tuple[np.ndarray, float]] = (),
) -> np.ndarray:
    """(S,) lower bound of ``R_j · n`` over the count bounds, unit caps and budgets (big-M).

    The largest of the valid lower bounds is kept: the tighter the bound, the smaller the
    big-M of the month's row and the stronger the LP relaxation of the chance MILP.
    """
    neg = np.minimum(r, 0.0)
    covered = np.zeros(r.shape[1], dtype=bool)
    worst = np.zeros(r.shape[0])
    for weights, cap in unit_caps:
        w = np.asarray(weights, dtype=float)
        m = (w > 0) & ~covered
        if not m.any():
            continue
        covered |= m
        worst += np.maximum(neg[:, m] @ ub[m], cap * (neg[:, m] / w[m]).min(axis=1))
    worst = worst + neg[:, ~covered] @ ub[~covered]
    for cost, cap in budgets:
        worst = np.maximum(worst, _budget_bound(r, ub, cost, cap, upper=False))
    return worst


def success_rows(
    monthly: np.ndarray,
    target: float,
    upper_counts: np.ndarray,
    unit_caps: Sequence[tuple[np.ndarray, float]] = (),
    budgets: Sequence[tuple[np.ndarray, float]] = (),
) -> Part:
    """Binaries ``chance_z`` and rows ``chance[j]``: month j succeeds unless ``z_j = 1``.

    Months that cannot succeed whatever the book (:func:`hopeless_months`) get no row and no
    binary: they are failures by construction, and the callers count them.
    """
    r = np.asarray(monthly, dtype=float)
    r = r[~hopeless_months(r, target, upper_counts, unit_caps, budgets)]
    s = r.shape[0]
    if s == 0:
        return Part((), ())
    worst = _worst_month(r, np.asarray(upper_counts, dtype=float), unit_caps, budgets)
    big_m = np.maximum(target - worst, 0.0) + 1.0
    z = VariableGroup(
        name="chance_z",
        kind=VarKind.BINARY,
        lower=np.zeros(s),
        upper=np.ones(s),
        labels=tuple(f"chance_z[{j}]" for j in range(s)),
    )
    rows = LinearBlock(
        name="chance_months",
        family="definition",
        terms={"n": r, "chance_z": sp.diags_array(big_m, format="csr")},
        lower=np.full(s, float(target)),
        upper=np.full(s, INF),
        row_names=tuple(f"chance[{j}]" for j in range(s)),
    )
    return Part((z,), (rows,))


def chance_saa_part(
    monthly: np.ndarray,
    target: float,
    probability: float,
    upper_counts: np.ndarray,
    unit_caps: Sequence[tuple[np.ndarray, float]] = (),
    budgets: Sequence[tuple[np.ndarray, float]] = (),
) -> Part:
    """SAA chance constraint: at most ``floor((1-p) S)`` months below ``target``.

    Parameters
    ----------
    monthly : ndarray, shape (S, K)
        Monthly P&L samples per contract unit (money), aligned across candidates.
    target : float
        Monthly income target (money).
    probability : float
        Required success probability p.
    upper_counts : ndarray, shape (K,)
        Count upper bounds (big-M).
    unit_caps : sequence of (mask, M)
        Unit caps used to detect months that can never succeed (:func:`hopeless_months`).
    budgets : sequence of (cost, C)
        Budget rows ``cost · n <= C`` (buying power) that tighten the big-M and the hopeless
        test (:func:`_budget_bound`).
    """
    base = success_rows(monthly, target, upper_counts, unit_caps, budgets)
    total = np.asarray(monthly).shape[0]
    s = base.variables[0].size if base.variables else 0
    allowed = math.floor((1 - probability) * total + 1e-9) - (total - s)
    if s == 0:  # every month is hopeless: feasible only if that many failures are allowed
        k = np.asarray(monthly).shape[1]
        row = LinearBlock(
            name="chance",
            family="chance",
            terms={"n": np.zeros((1, k))},
            lower=np.array([-INF]),
            upper=np.array([float(allowed)]),
            row_names=("chance_failures",),
        )
        return Part((), (row,))
    count = LinearBlock(
        name="chance",
        family="chance",
        terms={"chance_z": np.ones((1, s))},
        lower=np.array([-INF]),
        upper=np.array([float(allowed)]),
        row_names=("chance_failures",),
    )
    return Part(base.variables, base.blocks + (count,))


def chance_cvar_part(monthly: np.ndarray, target: float, probability: float) -> Part:
    """CVaR surrogate: ``CVaR_p(target - R n) <= 0`` (row ``chance_cvar``)."""
    return cvar_part(monthly, probability, 0.0, name="chance_cvar", offset=target)


#: P(month ≥ target) ≥ p (built from the income model's months in
#: :func:`optimizer.formulation.build.risk_parts`); never relaxed as a cap.
FAMILY = CapFamily(name=Family.CHANCE)
