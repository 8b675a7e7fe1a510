"""Tail-risk family: CVaR caps (Rockafellar–Uryasev LP), exact VaR caps (MILP), stress-loss caps.

For a scenario P&L matrix ``P`` (S × K, money per contract unit) the book loses
``L_j(n) = -P_j · n`` in scenario j.

* ``cvar_<a>``: ``zeta + sum_j u_j / ((1 - a) S) <= cap`` with ``u_j >= L_j(n) - zeta``,
  ``u_j >= 0`` (Rockafellar & Uryasev, J. Risk 2000). Adds a free variable ``zeta`` and S
  non-negative ``u``; the S linking rows are family ``definition``.
* ``var_<a>``: ``L_j(n) <= cap + M_j z_j`` with binaries z and ``sum_j z_j <= floor((1-a) S)``:
  at most a (1-a) share of scenarios may lose more than the cap. ``M_j`` is the largest loss the
  count bounds allow in scenario j minus the cap. Exact, but one binary per scenario: use it for
  small scenario sets (the scenario file says so) or as a check.
* ``stress[<name>]``: ``L_s(n) <= cap`` per named stress scenario.
* ``max_drawdown_<a>``: CVaR at ``a`` over paths of the book's maximum drawdown at month ends.
  With ``C_p(t) = sum_{m<t} R_p[m] n`` (``C_p(0) = 0``) the drawdown is
  ``DD_p = max_{s<t} (C_p(s) - C_p(t))``, a maximum of linear functions of ``n``; the RU rows
  ``u_p >= (C_p(s) - C_p(t)) - zeta`` for every pair ``s < t`` (78 per 12-month path) make
  ``u_p >= DD_p - zeta`` exactly, so the cap row ``zeta + sum_p u_p / ((1 - a) P) <= cap`` is the
  exact CVaR cap (convex: a CVaR of a convex function of ``n``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit
from optimizer.formulation.families._rows import INF, Part
from optimizer.solve.problem import LinearBlock, VariableGroup, VarKind

__all__ = ["FAMILY", "Part", "alpha_tag", "cvar_part", "drawdown_part", "stress_part", "var_part"]


def alpha_tag(alpha: float) -> str:
    """Row-name tag of a confidence level: 0.95 -> ``95``, 0.975 -> ``97.5``."""
    return f"{alpha * 100:g}"


def _ru_variables(name: str, size: int) -> tuple[VariableGroup, VariableGroup]:
    """The Rockafellar-Uryasev pair: ``<name>_zeta`` (1, free) and ``<name>_u`` (size, >= 0)."""
    zeta = VariableGroup(
        name=f"{name}_zeta",
        kind=VarKind.CONTINUOUS,
        lower=np.array([-INF]),
        upper=np.array([INF]),
        labels=(f"{name}_zeta",),
    )
    u = VariableGroup(
        name=f"{name}_u",
        kind=VarKind.CONTINUOUS,
        lower=np.zeros(size),
        upper=np.full(size, INF),
        labels=tuple(f"{name}_u[{j}]" for j in range(size)),
    )
    return zeta, u


def _ru_cap_row(name: str, size: int, total: int, alpha: float, cap: float) -> LinearBlock:
    """The cap row ``zeta + sum(u) / ((1 - alpha) total) <= cap`` (family ``tail_risk``)."""
    return LinearBlock(
        name=name,
        family="tail_risk",
        terms={
            f"{name}_zeta": np.ones((1, 1)),
            f"{name}_u": np.full((1, size), 1.0 / ((1.0 - alpha) * total)),
        },
        lower=np.array([-INF]),
        upper=np.array([float(cap)]),
        row_names=(name,),
    )


def cvar_part(
    pnl: np.ndarray,
    alpha: float,
    cap: float,
    *,
    name: str | None = None,
    offset: float = 0.0,
    n_scenarios: int | None = None,
) -> Part:
    """RU CVaR cap on losses ``offset - P n``: ``CVaR_alpha <= cap`` (money).

    Parameters
    ----------
    pnl : ndarray, shape (S, K)
        Scenario P&L per contract unit, equally likely scenarios.
    alpha : float
        Confidence level in (0, 1).
    cap : float
        Cap on CVaR (money, positive = loss).
    name : str | None
        Base name (default ``cvar_<alpha>``).
    offset : float
        Constant added to every scenario loss (the chance surrogate uses the target here).
    n_scenarios : int | None
        Size of the full scenario set when ``pnl`` holds only a subset of its rows (cutting-plane
        solve: the omitted scenarios have ``u_j = 0``, so the row is a relaxation of the full
        CVaR cap); default ``pnl.shape[0]``.

    Returns
    -------
    Part
        Groups ``<name>_zeta`` (1, free) and ``<name>_u`` (S, ≥ 0); blocks ``<name>_tail``
        (S definition rows) and ``<name>`` (the cap row, family ``tail_risk``).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.asarray(pnl, dtype=float)
    s = p.shape[0]
    total = s if n_scenarios is None else int(n_scenarios)
    name = name or f"cvar_{alpha_tag(alpha)}"
    zeta, u = _ru_variables(name, s)
    # u_j + P_j n + zeta >= offset   <=>   u_j >= (offset - P_j n) - zeta
    tail = LinearBlock(
        name=f"{name}_tail",
        family="definition",
        terms={
            "n": p,
            f"{name}_u": sp.eye_array(s, format="csr"),
            f"{name}_zeta": np.ones((s, 1)),
        },
        lower=np.full(s, float(offset)),
        upper=np.full(s, INF),
        row_names=tuple(f"{name}_tail[{j}]" for j in range(s)),
    )
    cap_row = _ru_cap_row(name, s, total, alpha, cap)
    return Part((zeta, u), (tail, cap_row))


def var_part(pnl: np.ndarray, alpha: float, cap: float, upper_counts: np.ndarray) -> Part:
    """Exact VaR cap with one binary per scenario (see module docstring).

    Parameters
    ----------
    pnl : ndarray, shape (S, K)
        Scenario P&L per contract unit.
    alpha : float
        Confidence level.
    cap : float
        VaR cap (money).
    upper_counts : ndarray, shape (K,)
        Upper bounds of the counts (for the big-M of each scenario).
    """
    p = np.asarray(pnl, dtype=float)
    s = p.shape[0]
    name = f"var_{alpha_tag(alpha)}"
    worst = np.maximum(-p, 0.0) @ np.asarray(upper_counts, dtype=float)
    big_m = np.maximum(worst - cap, 0.0) + 1.0
    z = VariableGroup(
        name=f"{name}_z",
        kind=VarKind.BINARY,
        lower=np.zeros(s),
        upper=np.ones(s),
        labels=tuple(f"{name}_z[{j}]" for j in range(s)),
    )
    # -P_j n - M_j z_j <= cap
    rows = LinearBlock(
        name=f"{name}_scenarios",
        family="definition",
        terms={"n": -p, f"{name}_z": sp.diags_array(-big_m, format="csr")},
        lower=np.full(s, -INF),
        upper=np.full(s, float(cap)),
        row_names=tuple(f"{name}_scenario[{j}]" for j in range(s)),
    )
    count = LinearBlock(
        name=name,
        family="tail_risk",
        terms={f"{name}_z": np.ones((1, s))},
        lower=np.array([-INF]),
        upper=np.array([float(math.floor((1 - alpha) * s + 1e-9))]),
        row_names=(name,),
    )
    return Part((z,), (rows, count))


def stress_part(stress_pnl: np.ndarray, labels: Sequence[str], cap: float) -> Part:
    """Rows ``stress[<label>]``: loss in each named stress ≤ ``cap`` (money)."""
    p = np.asarray(stress_pnl, dtype=float)
    block = LinearBlock(
        name="stress",
        family="tail_risk",
        terms={"n": -p},
        lower=np.full(p.shape[0], -INF),
        upper=np.full(p.shape[0], float(cap)),
        row_names=tuple(f"stress[{lab}]" for lab in labels),
    )
    return Part((), (block,))


def drawdown_part(path_months: np.ndarray, alpha: float, cap: float) -> Part:
    """CVaR cap on the maximum drawdown over paths (see the module docstring).

    Parameters
    ----------
    path_months : ndarray, shape (P, M, K)
        Monthly P&L per contract unit of each path (equally likely paths).
    alpha : float
        Confidence level in (0, 1).
    cap : float
        Cap on the CVaR of the drawdown (money).

    Returns
    -------
    Part
        Groups ``max_drawdown_<a>_zeta`` (free) and ``_u`` (P, >= 0); blocks ``..._pairs``
        (P x M(M+1)/2 definition rows) and the cap row ``max_drawdown_<a>`` (family
        ``tail_risk``).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    r = np.asarray(path_months, dtype=float)
    n_p, n_m, n_k = r.shape
    cum = np.concatenate([np.zeros((n_p, 1, n_k)), np.cumsum(r, axis=1)], axis=1)
    s_idx, t_idx = np.triu_indices(n_m + 1, k=1)
    # row (p, pair): u_p + (C_p(t) - C_p(s)) n + zeta >= 0
    coef = (cum[:, t_idx, :] - cum[:, s_idx, :]).reshape(-1, n_k)
    pairs = s_idx.size
    owner = np.repeat(np.arange(n_p), pairs)
    name = f"max_drawdown_{alpha_tag(alpha)}"
    zeta, u = _ru_variables(name, n_p)
    rows = LinearBlock(
        name=f"{name}_pairs",
        family="definition",
        terms={
            "n": coef,
            f"{name}_u": sp.csr_array(
                (np.ones(owner.size), (np.arange(owner.size), owner)), shape=(owner.size, n_p)
            ),
            f"{name}_zeta": np.ones((owner.size, 1)),
        },
        lower=np.zeros(owner.size),
        upper=np.full(owner.size, INF),
        row_names=tuple(f"{name}_pair[{p},{i}]" for p in range(n_p) for i in range(pairs)),
    )
    cap_row = _ru_cap_row(name, n_p, n_p, alpha, cap)
    return Part((zeta, u), (rows, cap_row))


#: CVaR, VaR, stress and drawdown caps, built from the risk data
#: (:func:`optimizer.formulation.build.risk_parts`); losses stay below 100% of NLV when relaxed.
FAMILY = CapFamily(
    name=Family.TAIL_RISK,
    lifts=(
        Lift("CVaR caps", lambda lim: bool(lim.cvar_caps), lambda lim: {"cvar_caps": ()}, rank=100),
        Lift("VaR caps", lambda lim: bool(lim.var_caps), lambda lim: {"var_caps": ()}, rank=110),
        Lift(
            "stress-loss cap",
            lambda lim: lim.stress_cap is not None,
            lambda lim: {"stress_cap": None},
            rank=120,
        ),
    ),
    relaxable=True,
    rows=(
        RowUnit(("cvar_", "monthly_cvar_", "max_drawdown_", "stress["), "fraction of NLV", "loss"),
        RowUnit(("var_",), "units", "loss"),
    ),
)
