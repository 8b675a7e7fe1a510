"""Ex-post risk measures of a book on a scenario P&L matrix, and binomial confidence intervals.

Conventions (DESIGN.md §5): losses are positive numbers; VaR and CVaR at confidence ``alpha`` over
the scenario set's horizon, in the account currency.

* ``VaR_alpha``: the smallest loss level ``v`` such that at most ``floor((1 - alpha) S)`` of the
  ``S`` equally likely scenarios lose more than ``v`` — the ``(floor((1-alpha) S) + 1)``-th largest
  loss. This is the value the exact VaR MILP (``optimizer.formulation.families.tail_risk``) attains.
* ``CVaR_alpha``: Rockafellar & Uryasev (2000), ``min_z z + E[(L - z)^+] / (1 - alpha)``; for
  discrete scenarios the minimum is attained at ``z = VaR_alpha`` (the upper alpha-quantile) —
  the mean of the worst ``(1 - alpha)`` tail with the boundary scenario weighted fractionally.

References: R. T. Rockafellar and S. Uryasev, "Optimization of conditional value-at-risk",
Journal of Risk 2(3), 2000; C. J. Clopper and E. S. Pearson, Biometrika 26(4), 1934.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["book_pnl", "cvar", "success_probability", "value_at_risk"]


def book_pnl(pnl: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Scenario P&L of a book: ``pnl @ counts``.

    Parameters
    ----------
    pnl : ndarray, shape (S, K)
        P&L per contract unit per scenario (money).
    counts : ndarray, shape (K,)
        Contracts per candidate.

    Returns
    -------
    ndarray, shape (S,)
    """
    return np.asarray(pnl, dtype=float) @ np.asarray(counts, dtype=float)


def value_at_risk(losses: np.ndarray, alpha: float) -> float:
    """Empirical VaR of equally likely ``losses`` (shape (S,)): the ``(floor((1-alpha)S)+1)``-th largest.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1) or ``losses`` is empty.
    """
    x = np.sort(np.asarray(losses, dtype=float))[::-1]
    if x.size == 0 or not 0 < alpha < 1:
        raise ValueError("value_at_risk needs losses and 0 < alpha < 1")
    k = int(math.floor((1 - alpha) * x.size + 1e-9))
    return float(x[min(k, x.size - 1)])


def cvar(losses: np.ndarray, alpha: float) -> float:
    """Rockafellar–Uryasev CVaR of equally likely ``losses`` (shape (S,)) at confidence ``alpha``.

    ``VaR + sum((L - VaR)^+) / ((1 - alpha) S)``, which equals the LP optimum of the RU model.
    """
    x = np.asarray(losses, dtype=float)
    v = value_at_risk(x, alpha)
    return float(v + np.maximum(x - v, 0.0).sum() / ((1 - alpha) * x.size))


def success_probability(
    monthly: np.ndarray, target: float, confidence: float = 0.95
) -> tuple[float, float, float, int]:
    """Share of months with P&L ≥ ``target`` and its Clopper–Pearson interval.

    Parameters
    ----------
    monthly : ndarray, shape (n,)
        Monthly P&L samples of a book (money).
    target : float
        Monthly income target (money).
    confidence : float
        Two-sided confidence level of the interval.

    Returns
    -------
    (p_hat, low, high, n)
    """
    x = np.asarray(monthly, dtype=float)
    n = int(x.size)
    k = int(np.count_nonzero(x >= target))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return k / n, float(ci.low), float(ci.high), n
