"""Allocation of capital across return streams: max expected return or log growth under caps.

The decision is a vector of continuous allocations ``a`` (fractions of the account, one per
stream; the rest is cash at 0%). Each stream trades its own sub-account, so a month's return of
the account is exactly ``sum_k a_k R_k`` when ``R_k`` is the month's return of stream ``k``
trading alone (sub-accounts are re-sized to the allocation at each month start and not
rebalanced inside the month). Scenarios ``R`` (S months × K streams) come from
:func:`models.streams.simulate_equity` run on each stream alone with its own daily loss limit
and kill switch (common random numbers: one seed, the same regime days).

The linear program is a :class:`~optimizer.solve.problem.SizingProblem` with variable group ``n``
(the allocations, continuous, plus one column ``operating_costs`` fixed at 1 whose monthly
"return" is ``-costs / capital``, so that every row sees the costs):

* objective ``maximize mean_j R_j · n`` — expected monthly return net of operating costs;
* ``budget``: ``sum_k a_k <= 1``; ``alloc_upper[k]``: per-stream caps as variable bounds;
* ``leverage``: ``sum_k a_k · exposure_k <= leverage_cap`` (exposure = stake × leverage of one
  open position per unit of the stream's capital; seed 2: "Leverage Limits: 5x maximum");
* ``cvar_<a>``: Rockafellar–Uryasev CVaR of the monthly loss ``-R_j · n`` at ``alpha`` ≤ cap
  (:func:`optimizer.formulation.families.tail_risk.cvar_part`; R. T. Rockafellar and S. Uryasev,
  J. Risk 2(3), 2000) over every simulated month;
* ``max_drawdown_<a>``: CVaR of the 12-month maximum drawdown at month ends of the cumulative
  return ``sum_{m<t} R_p[m] · n`` ≤ cap (:func:`~optimizer.formulation.families.tail_risk.drawdown_part`,
  exact LP). It is the **CVaR surrogate of the chance constraint** ``P(drawdown > cap) <= 1 -
  alpha``: CVaR ≥ VaR, so the cap on CVaR implies the probability cap (conservative, convex; no
  binaries). Drawdowns are of cumulative *arithmetic* monthly returns at month ends (constant
  capital at risk), not of compounded intramonth equity: the ex-post re-simulation reports the
  latter.

Solved with HiGHS through :func:`optimizer.solve.backends.solve` (``highs`` backend).

``objective="log_growth"`` keeps every row and replaces the objective by the expected log growth
``mean_j log(1 + R_j · n)`` (the Kelly criterion: J. L. Kelly, Bell Syst. Tech. J. 35, 1956;
the growth-optimal portfolio of L. Breiman, 1961), the objective a plan that compounds its
equity month after month should maximize. It is concave: the same rows are compiled by
:func:`optimizer.solve.backends.cvxpy_backend.compile_problem` and solved with Clarabel (an interior
point conic solver shipped with cvxpy). A month whose return can reach -100% makes the log
undefined; such allocations are excluded (operating costs above the capital make every
allocation so: the result is then ``infeasible``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.risk import cvar
from optimizer.formulation.families._rows import INF
from optimizer.formulation.families.tail_risk import alpha_tag, cvar_part, drawdown_part
from optimizer.solve.backends import solve
from optimizer.solve.problem import LinearBlock, Objective, SizingProblem, VariableGroup, VarKind
from optimizer.solve.status import SolverOptions, SolveStatus

__all__ = [
    "AllocationResult",
    "allocation_problem",
    "drawdowns",
    "optimize_allocation",
]

COST_LABEL = "operating_costs"


def drawdowns(path_months: np.ndarray, allocation: np.ndarray) -> np.ndarray:
    """Maximum drawdown at month ends of each path's cumulative arithmetic return.

    Parameters
    ----------
    path_months : ndarray, shape (P, M, K)
        Monthly returns per unit allocation (fractions).
    allocation : ndarray, shape (K,)
        Allocation (the cost column included when ``path_months`` has it).

    Returns
    -------
    ndarray, shape (P,)
        ``max_{s<t} (C(s) - C(t))`` with ``C(0) = 0`` (fractions of the capital; 0 if none).
    """
    r = np.asarray(path_months, dtype=float) @ np.asarray(allocation, dtype=float)
    cum = np.concatenate([np.zeros((r.shape[0], 1)), np.cumsum(r, axis=1)], axis=1)
    peak = np.maximum.accumulate(cum, axis=1)
    return (peak - cum).max(axis=1)


def _with_costs(months: np.ndarray, cost_fraction: float) -> np.ndarray:
    """Append the fixed operating-cost column (return ``-cost_fraction`` every month)."""
    m = np.asarray(months, dtype=float)
    col = np.full(m.shape[:-1] + (1,), -float(cost_fraction))
    return np.concatenate([m, col], axis=-1)


def allocation_problem(
    path_months: np.ndarray,
    labels: Sequence[str],
    *,
    exposure: Sequence[float] | np.ndarray,
    max_allocation: Sequence[float] | np.ndarray | float = 1.0,
    leverage_cap: float | None = None,
    cost_fraction: float = 0.0,
    cvar_alpha: float = 0.95,
    cvar_cap: float | None = None,
    drawdown_alpha: float = 0.9,
    drawdown_cap: float | None = None,
    budget: float = 1.0,
) -> SizingProblem:
    """Build the allocation LP (see the module docstring).

    Parameters
    ----------
    path_months : ndarray, shape (P, M, K)
        Monthly returns of each stream trading alone (fraction of its capital), per path.
    labels : sequence of str, length K
        Stream names (variable labels).
    exposure : array_like, shape (K,)
        Exposure of one open position per unit allocation (stake × leverage).
    max_allocation : float or array_like, shape (K,)
        Per-stream allocation caps (fractions of the account).
    leverage_cap : float, optional
        Cap on ``sum_k a_k exposure_k``.
    cost_fraction : float
        Monthly operating costs over the capital (1,770.98 / 10,000 = 0.177).
    cvar_alpha, cvar_cap : float
        Confidence and cap (fraction of capital) of the CVaR of the monthly loss; None: no cap.
    drawdown_alpha, drawdown_cap : float
        Confidence and cap of the CVaR of the 12-month drawdown; None: no cap.
    budget : float
        Cap on the sum of allocations (1 = no borrowing beyond the streams' own leverage).

    Returns
    -------
    SizingProblem
        Group ``n`` has K + 1 columns (the last one the fixed cost column).

    Raises
    ------
    ValueError
        Shapes that do not match.
    """
    r = np.asarray(path_months, dtype=float)
    if r.ndim != 3:
        raise ValueError(f"path_months must have shape (P, M, K), got {r.shape}")
    n_p, n_m, k = r.shape
    labels = tuple(labels)
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for {k} streams")
    ub = np.broadcast_to(np.asarray(max_allocation, dtype=float), (k,))
    exp_k = np.asarray(exposure, dtype=float)
    if exp_k.shape != (k,):
        raise ValueError(f"exposure must have shape ({k},), got {exp_k.shape}")
    full = _with_costs(r, cost_fraction)
    months = full.reshape(n_p * n_m, k + 1)
    n = VariableGroup(
        name="n",
        kind=VarKind.CONTINUOUS,
        lower=np.concatenate([np.zeros(k), [1.0]]),
        upper=np.concatenate([ub, [1.0]]),
        labels=labels + (COST_LABEL,),
    )
    variables = [n]
    blocks = [
        LinearBlock(
            name="budget",
            family="allocation",
            terms={"n": np.concatenate([np.ones(k), [0.0]])[None, :]},
            lower=np.array([-INF]),
            upper=np.array([float(budget)]),
            row_names=("budget",),
        )
    ]
    if leverage_cap is not None:
        blocks.append(
            LinearBlock(
                name="leverage",
                family="leverage",
                terms={"n": np.concatenate([exp_k, [0.0]])[None, :]},
                lower=np.array([-INF]),
                upper=np.array([float(leverage_cap)]),
                row_names=("leverage",),
            )
        )
    if cvar_cap is not None:
        part = cvar_part(months, cvar_alpha, cvar_cap)
        variables += list(part.variables)
        blocks += list(part.blocks)
    if drawdown_cap is not None:
        part = drawdown_part(full, drawdown_alpha, drawdown_cap)
        variables += list(part.variables)
        blocks += list(part.blocks)
    objective = Objective(
        name="expected_monthly_return", sense="maximize", terms={"n": months.mean(axis=0)}
    )
    return SizingProblem(tuple(variables), tuple(blocks), objective)


@dataclass(frozen=True)
class AllocationResult:
    """Optimal allocation and its in-sample risk.

    Attributes
    ----------
    labels : tuple of str, length K
        Stream names.
    allocation : ndarray, shape (K,)
        Fractions of the account (zeros when the LP has no solution).
    status : str
        Solver status (``OPTIMAL``, ``INFEASIBLE`` …).
    expected_monthly_return : float
        Mean monthly return net of operating costs (fraction of capital), in sample; NaN
        without a solution.
    cvar : float
        CVaR at ``cvar_alpha`` of the monthly loss, recomputed ex post from the allocation
        (fraction of capital).
    drawdown_cvar : float
        CVaR at ``drawdown_alpha`` of the 12-month month-end drawdown, ex post.
    p_drawdown_over_cap : float
        Share of paths whose month-end drawdown exceeds ``drawdown_cap`` (in sample; NaN
        without a cap).
    binding : tuple of str
        Caps at their bound (slack ≤ 1e-7 of the bound scale).
    problem : SizingProblem
        The LP solved (its rows; with ``log_growth`` the objective was replaced).
    objective : str
        ``mean`` (expected monthly return) or ``log_growth`` (expected monthly log growth).
    expected_log_growth : float
        Mean of ``log(1 + monthly return)`` of the allocation, in sample (NaN when a month
        loses everything or there is no solution).
    """

    labels: tuple[str, ...]
    allocation: np.ndarray
    status: str
    expected_monthly_return: float
    cvar: float
    drawdown_cvar: float
    p_drawdown_over_cap: float
    binding: tuple[str, ...]
    problem: SizingProblem
    objective: str = "mean"
    expected_log_growth: float = float("nan")

    def to_dict(self) -> dict:
        """JSON-ready mapping (allocations by stream name)."""
        return {
            "status": self.status,
            "objective": self.objective,
            "allocation": dict(zip(self.labels, map(float, self.allocation), strict=True)),
            "expected_monthly_return": _num(self.expected_monthly_return),
            "expected_log_growth": _num(self.expected_log_growth),
            "cvar_monthly": _num(self.cvar),
            "drawdown_cvar": _num(self.drawdown_cvar),
            "p_drawdown_over_cap_in_sample": _num(self.p_drawdown_over_cap),
            "binding": list(self.binding),
        }


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def optimize_allocation(
    path_months: np.ndarray,
    labels: Sequence[str],
    *,
    exposure: Sequence[float] | np.ndarray,
    max_allocation: Sequence[float] | np.ndarray | float = 1.0,
    leverage_cap: float | None = None,
    cost_fraction: float = 0.0,
    cvar_alpha: float = 0.95,
    cvar_cap: float | None = None,
    drawdown_alpha: float = 0.9,
    drawdown_cap: float | None = None,
    budget: float = 1.0,
    options: SolverOptions | None = None,
    objective: str = "mean",
) -> AllocationResult:
    """Solve :func:`allocation_problem` and recompute its risk ex post.

    Parameters are those of :func:`allocation_problem`; ``options`` are the solver options
    (time limit in seconds, default 60); ``objective`` is ``mean`` (the LP, HiGHS) or
    ``log_growth`` (expected log growth under the same rows, Clarabel; module docstring).

    Raises
    ------
    ValueError
        An unknown objective.

    Returns
    -------
    AllocationResult
        Infeasible or failed solves are a status with a zero allocation, never an exception.
    """
    r = np.asarray(path_months, dtype=float)
    labels = tuple(labels)
    problem = allocation_problem(
        r,
        labels,
        exposure=exposure,
        max_allocation=max_allocation,
        leverage_cap=leverage_cap,
        cost_fraction=cost_fraction,
        cvar_alpha=cvar_alpha,
        cvar_cap=cvar_cap,
        drawdown_alpha=drawdown_alpha,
        drawdown_cap=drawdown_cap,
        budget=budget,
    )
    if objective not in ("mean", "log_growth"):
        raise ValueError(f"objective must be 'mean' or 'log_growth', got {objective!r}")
    full = _with_costs(r, cost_fraction)
    if objective == "mean":
        out = solve(problem, "highs", options or SolverOptions(time_limit=60.0))
        status, values = out.status, out.values
    else:
        status, values = _solve_log_growth(problem, full.reshape(-1, full.shape[-1]))
    k = len(labels)
    nan = float("nan")
    if not (status is SolveStatus.OPTIMAL and values is not None):
        return AllocationResult(
            labels, np.zeros(k), status.value, nan, nan, nan, nan, (), problem, objective
        )
    x = np.asarray(values["n"], dtype=float)
    alloc = np.clip(x[:k], 0.0, None)
    months = full.reshape(-1, k + 1) @ x
    dd = drawdowns(full, x)
    slack = problem.row_slack(values)
    tol = 1e-7
    binding = [
        name
        for name in ("budget", "leverage")
        if name in slack
        and slack[name] <= tol * max(1.0, abs(problem.row_upper[problem.row_index[name]]))
    ]
    cap_rows = []
    if cvar_cap is not None:
        cap_rows.append(f"cvar_{alpha_tag(cvar_alpha)}")
    if drawdown_cap is not None:
        cap_rows.append(f"max_drawdown_{alpha_tag(drawdown_alpha)}")
    binding += [c for c in cap_rows if slack[c] <= 1e-6]
    binding += [
        f"alloc_upper[{lab}]"
        for lab, a, ub in zip(labels, alloc, problem.group("n").upper[:k], strict=True)
        if np.isfinite(ub) and a >= ub - 1e-9
    ]
    return AllocationResult(
        labels=labels,
        allocation=alloc,
        status=status.value,
        expected_monthly_return=float(months.mean()),
        cvar=cvar(-months, cvar_alpha),
        drawdown_cvar=cvar(dd, drawdown_alpha),
        p_drawdown_over_cap=(
            float(np.mean(dd > drawdown_cap + 1e-12)) if drawdown_cap is not None else nan
        ),
        binding=tuple(binding),
        problem=problem,
        objective=objective,
        expected_log_growth=(
            float(np.mean(np.log1p(months))) if np.all(months > -1.0) else float("-inf")
        ),
    )


def _solve_log_growth(problem: SizingProblem, months: np.ndarray):
    """Maximize ``mean log(1 + months @ n)`` under the rows and bounds of ``problem``.

    Returns
    -------
    (SolveStatus, dict or None)
        ``OPTIMAL`` with every group's values, ``INFEASIBLE``, or ``ERROR``.
    """
    import cvxpy as cp

    from optimizer.solve.backends.cvxpy_backend import compile_problem

    model = compile_problem(problem)
    x = model.variables["n"]
    growth = cp.sum(cp.log(1.0 + months @ x)) / months.shape[0]
    cp_problem = cp.Problem(cp.Maximize(growth), [c for _, _, c in model.constraints])
    try:
        cp_problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError:
        return SolveStatus.ERROR, None
    if cp_problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and x.value is not None:
        return SolveStatus.OPTIMAL, {
            name: np.asarray(v.value, dtype=float) for name, v in model.variables.items()
        }
    if cp_problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return SolveStatus.INFEASIBLE, None
    return SolveStatus.ERROR, None
