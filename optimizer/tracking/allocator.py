"""Strategy income allocator: per-strategy targets and least-BP rebalancing advice (issue 9).

Seed 1's ``StrategyIncomeAllocator`` (TKT e86541e ``TomKingTrader/src/strategyIncomeAllocator.js``,
domain.md §2e) allocates the monthly target 40/35/25 over 0DTE / LT112 / strangles, tilted by the
VIX, and asks to "balance, enforce, rebalance". In thetaplan:

* **targets** — :func:`allocation_targets`: money per month per strategy from the (optionally
  VIX-tilted) weights; the tilt table is data (``models/data/allocation_tilts.csv``, loaded by
  :mod:`models.allocation`, re-exported here);
* **enforcement** — the existing allocation family (:mod:`optimizer.formulation.families.allocation`) of
  every sizing solve;
* **rebalancing** — :func:`rebalance`: given the contracts already held, the fewest-BP integer
  adds that bring every strategy's income share back within ``weight ± tolerance``, built as a
  :class:`~optimizer.solve.problem.SizingProblem` with the same row form as the allocation family and
  solved by the project's backends (HiGHS by default).

Money is in the account currency: income per month, buying power (BP) as money.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.allocation import (
    DEFAULT_WEIGHTS,
    Tilt,
    allocation_tilts,
    check_weights,
    size_multiplier,
    tilted_weights,
)
from optimizer.solve.backends import Backend
from optimizer.solve.problem import (
    LinearBlock,
    Objective,
    ObjectiveSense,
    SizingProblem,
    VariableGroup,
)
from optimizer.solve.solving import SolveContext
from optimizer.solve.status import SolveOutcome, SolverOptions, SolveStatus
from optimizer.tracking.rebalance_advice import RebalanceAdvice, RebalanceStatus
from optimizer.tracking.targets import allocation_targets

__all__ = [
    "DEFAULT_WEIGHTS",
    "RebalanceAdvice",
    "RebalanceStatus",
    "Tilt",
    "allocation_targets",
    "allocation_tilts",
    "rebalance",
    "rebalance_problem",
    "size_multiplier",
    "tilted_weights",
]

#: Variable group of the adds (contracts added per candidate).
ADD = "add"

#: Absolute precision of :attr:`RebalanceAdvice.min_tolerance` (share points as a fraction).
MIN_TOLERANCE_PRECISION = 1e-5

#: Default solver options of :func:`rebalance`: the problems are tiny, so solve to a zero gap
#: (the least BP is then exact, not within HiGHS' default relative gap).
REBALANCE_OPTIONS = SolverOptions(time_limit=60.0, mip_rel_gap=0.0)


@dataclass(frozen=True)
class _Book:
    """Validated inputs of :func:`rebalance`."""

    strategy: tuple[str, ...]
    income: np.ndarray
    bp: np.ndarray
    held: np.ndarray
    max_add: np.ndarray
    weights: dict[str, float]
    tolerance: float
    bp_available: float

    def masks(self) -> dict[str, np.ndarray]:
        labels = np.array(self.strategy, dtype=object)
        return {s: (labels == s).astype(float) for s in self.weights}

    def strategy_income(self, n: np.ndarray) -> dict[str, float]:
        v = self.income * n
        return {s: float(v @ m) for s, m in self.masks().items()}

    def shares(self, n: np.ndarray) -> dict[str, float]:
        total = float(self.income @ n)
        per = self.strategy_income(n)
        return {s: (per[s] / total if total > 0 else math.nan) for s in self.weights}

    def outside(self, n: np.ndarray, tol: float | None = None) -> tuple[list[str], list[str]]:
        """Strategies over / under ``weight ± tol`` by the linear rows (``T`` = total income)."""
        tol = self.tolerance if tol is None else tol
        total = float(self.income @ n)
        eps = 1e-9 * max(1.0, float(np.abs(self.income) @ n))
        per = self.strategy_income(n)
        over = [s for s, w in self.weights.items() if per[s] - (w + tol) * total > eps]
        under = [s for s, w in self.weights.items() if per[s] - (w - tol) * total < -eps]
        return over, under


def _int_vector(values: object, k: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (k,):
        raise ValueError(f"{what} must have shape ({k},) like strategy, got {arr.shape}")
    try:
        flt = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must hold integers") from None
    if not np.all(np.isfinite(flt)) or np.any(flt != np.round(flt)):
        raise ValueError(f"{what} must hold whole numbers of contracts, got {arr.tolist()}")
    bad = np.flatnonzero(flt < 0)
    if bad.size:
        raise ValueError(f"{what}[{bad[0]}] = {flt[bad[0]]:g} must be >= 0 (contracts)")
    return flt.astype(np.int64)


def _float_vector(values: object, k: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must hold numbers") from None
    if arr.shape != (k,):
        raise ValueError(f"{what} must have shape ({k},) like strategy, got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{what}[{bad[0]}] is not finite ({arr[bad[0]]})")
    return arr


def _book(
    strategy: Sequence[str],
    income: object,
    bp: object,
    held: object,
    max_add: object,
    weights: Mapping[str, float],
    tolerance: float,
    bp_available: float,
) -> _Book:
    labels = tuple(np.asarray(strategy, dtype=object).ravel().tolist())
    if np.ndim(np.asarray(strategy, dtype=object)) != 1 or not labels:
        raise ValueError("strategy must be a non-empty 1-D sequence of strategy names (K,)")
    if not all(isinstance(s, str) and s for s in labels):
        raise ValueError("strategy labels must be non-empty strings")
    k = len(labels)
    inc = _float_vector(income, k, "income")
    cost = _float_vector(bp, k, "bp")
    bad = np.flatnonzero(cost <= 0)
    if bad.size:
        raise ValueError(f"bp[{bad[0]}] = {cost[bad[0]]:g} must be > 0 (BP per contract)")
    n0 = _int_vector(held, k, "held")
    cap = _int_vector(max_add, k, "max_add")
    w = check_weights(weights)
    present = set(labels)
    missing = [s for s in w if s not in present]
    if missing:
        raise ValueError(
            f"unknown strategy in weights: {', '.join(map(repr, missing))} has no candidate "
            f"(candidate strategies: {', '.join(sorted(present))})"
        )
    unweighted = sorted(present - set(w))
    if unweighted:
        raise ValueError(
            f"candidate strategy {', '.join(map(repr, unweighted))} has no weight "
            "(give it one, 0 allowed)"
        )
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        raise ValueError(f"tolerance must be a number, got {tolerance!r}") from None
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tolerance must be a finite share >= 0 (0.05 = ±5 points), got {tol!r}")
    try:
        room = float(bp_available)
    except (TypeError, ValueError):
        raise ValueError(f"bp_available must be a number, got {bp_available!r}") from None
    if math.isnan(room) or room < 0:
        raise ValueError(
            f"bp_available must be >= 0 (money left under the BP cap; +inf = no cap), got "
            f"{bp_available!r}; a book already over its cap has 0 left"
        )
    for arr in (inc, cost, n0, cap):
        arr.setflags(write=False)
    return _Book(labels, inc, cost, n0, cap, w, tol, room)


def _problem(book: _Book, tolerance: float) -> SizingProblem:
    held_income = book.income * book.held
    total0 = float(held_income.sum())
    coef, lower, upper, names = [], [], [], []
    for s, mask in book.masks().items():
        own = book.income * mask
        own0 = float(held_income @ mask)
        w = book.weights[s]
        # I_s(n) - (w ± tol) T(n) over n = held + add, the held part moved to the bounds
        for side, share in (("upper", w + tolerance), ("lower", w - tolerance)):
            a = own - share * book.income
            rhs = share * total0 - own0
            coef.append(a)
            names.append(f"alloc_{side}[{s}]")
            lower.append(-np.inf if side == "upper" else rhs)
            upper.append(rhs if side == "upper" else np.inf)
    blocks = [
        LinearBlock(
            name="allocation",
            family="allocation",
            terms={ADD: np.vstack(coef)},
            lower=np.array(lower),
            upper=np.array(upper),
            row_names=tuple(names),
        ),
        LinearBlock(
            name="income_floor",
            family="income",
            terms={ADD: book.income[None, :]},
            lower=np.array([max(total0, 0.0) - total0]),
            upper=np.array([np.inf]),
            row_names=("income_floor",),
        ),
    ]
    if math.isfinite(book.bp_available):
        blocks.append(
            LinearBlock(
                name="bp_added",
                family="buying_power",
                terms={ADD: book.bp[None, :]},
                lower=np.array([-np.inf]),
                upper=np.array([book.bp_available]),
                row_names=("bp_added",),
            )
        )
    group = VariableGroup.build(
        ADD,
        "integer",
        lower=0.0,
        upper=book.max_add.astype(float),
        labels=[f"{i}:{s}" for i, s in enumerate(book.strategy)],
    )
    objective = Objective(name="added_bp", sense=ObjectiveSense.MINIMIZE, terms={ADD: book.bp})
    return SizingProblem((group,), tuple(blocks), objective)


def rebalance_problem(
    strategy: Sequence[str],
    income: Sequence[float] | np.ndarray,
    bp: Sequence[float] | np.ndarray,
    held: Sequence[int] | np.ndarray,
    max_add: Sequence[int] | np.ndarray,
    *,
    weights: Mapping[str, float],
    tolerance: float,
    bp_available: float,
) -> SizingProblem:
    """The least-BP rebalancing MILP of :func:`rebalance` as a backend-neutral problem.

    Variables: integer group ``add`` (K,), ``0 <= add_i <= max_add_i`` contracts. With
    ``n = held + add``, ``T(n) = income @ n`` and ``I_s(n)`` the income of strategy ``s``:

    * block ``allocation``: rows ``alloc_upper[s]``: ``I_s - (w_s + tol) T <= 0`` and
      ``alloc_lower[s]``: ``I_s - (w_s - tol) T >= 0`` — the row form of
      :mod:`optimizer.formulation.families.allocation` with the held part moved to the bounds (every
      row is kept, also where ``w_s ± tol`` leaves ``[0, 1]``, because incomes may be negative);
    * block ``income_floor``: ``T(held + add) >= max(T(held), 0)`` — adds never reduce the
      book's income, and the book's income is never negative after them;
    * block ``bp_added`` (omitted when ``bp_available`` is +inf): ``bp @ add <= bp_available``;
    * objective ``added_bp``: minimise ``bp @ add`` (account currency).

    Parameters and errors are those of :func:`rebalance`.

    Returns
    -------
    SizingProblem
    """
    book = _book(strategy, income, bp, held, max_add, weights, tolerance, bp_available)
    return _problem(book, book.tolerance)


def _values(outcome: SolveOutcome) -> np.ndarray:
    assert outcome.values is not None
    return np.asarray(outcome.values[ADD], dtype=np.int64)


def _solve(ctx: SolveContext, problem: SizingProblem, what: str) -> SolveOutcome | None:
    """Solve; None when proven infeasible; RuntimeError on anything else without a solution."""
    out = ctx.solve(problem, what=what)
    if out.status is SolveStatus.OPTIMAL:
        return out
    if out.status in (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE_OR_UNBOUNDED):
        # the box bounds make every problem here bounded: "or unbounded" means infeasible
        return None
    raise RuntimeError(
        f"rebalance {what}: solver returned {out.status.value} ({out.message}); "
        "raise SolverOptions.time_limit or try another backend"
    )


def _deviation(book: _Book, n: np.ndarray) -> float:
    """Largest ``|I_s / T - w_s|`` of a book with ``T > 0``."""
    total = float(book.income @ n)
    per = book.strategy_income(n)
    return max(abs(per[s] / total - w) for s, w in book.weights.items())


def _min_tolerance(book: _Book, ctx: SolveContext) -> tuple[float | None, str]:
    """Smallest feasible tolerance by bisection, or ``(None, reason)``."""
    base = _problem(book, book.tolerance).without_blocks("allocation")
    best_income = base.with_objective(
        Objective(name="income", sense=ObjectiveSense.MAXIMIZE, terms={ADD: book.income})
    )
    out = _solve(ctx, best_income, "max income")
    if out is None:  # y = 0 violates the income floor and no add lifts the income to 0
        return None, "no adds within max_add lift the book's income to 0 or more"
    y = _values(out)
    n = book.held + y
    total = float(book.income @ n)
    if total <= 1e-9 * max(1.0, float(np.abs(book.income) @ n)):
        return None, (
            f"no adds within max_add and bp_available give the book a positive income "
            f"(best {total:,.2f}/month): no income share is defined"
        )
    lo, hi = book.tolerance, _deviation(book, n)
    while hi - lo > MIN_TOLERANCE_PRECISION:
        mid = 0.5 * (lo + hi)
        out = _solve(ctx, _problem(book, mid), f"tolerance {mid:.6f}")
        if out is None:
            lo = mid
        else:
            n = book.held + _values(out)
            hi = min(mid, _deviation(book, n)) if book.income @ n > 0 else mid
    return hi, ""


def _fmt_shares(shares: Mapping[str, float], names: Sequence[str]) -> str:
    return ", ".join(
        f"{s} {shares[s]:.1%}" if math.isfinite(shares[s]) else f"{s} n/a" for s in names
    )


def _out_of_band(before: dict, over, under, income0: float) -> str:
    """What is outside the band: strategies over and under it, a negative book income."""
    return "; ".join(
        part
        for part in (
            f"over: {_fmt_shares(before, over)}" if over else "",
            f"under: {_fmt_shares(before, under)}" if under else "",
            f"book income {income0:,.2f}/month is negative" if income0 < 0 else "",
        )
        if part
    )


def _least_bp_then_income(
    ctx: SolveContext, book: _Book, problem: SizingProblem, first: SolveOutcome
) -> np.ndarray:
    """The adds (K,): among the least-BP solutions, the one with the most added income.

    Lexicographic: the least BP of ``first`` becomes a row (with a 1e-9 relative allowance)
    and the added income is maximized under it; ``first``'s adds when that solve fails.
    """
    least_bp = float(first.objective_value)
    cap = least_bp + 1e-9 * max(1.0, least_bp)
    second_problem = problem.with_blocks(
        LinearBlock(
            name="bp_least",
            family="buying_power",
            terms={ADD: book.bp[None, :]},
            lower=np.array([-np.inf]),
            upper=np.array([cap]),
            row_names=("bp_least",),
        )
    ).with_objective(
        Objective(name="added_income", sense=ObjectiveSense.MAXIMIZE, terms={ADD: book.income})
    )
    second = _solve(ctx, second_problem, "max income at least BP")
    return _values(second if second is not None else first)


def rebalance(
    strategy: Sequence[str],
    income: Sequence[float] | np.ndarray,
    bp: Sequence[float] | np.ndarray,
    held: Sequence[int] | np.ndarray,
    max_add: Sequence[int] | np.ndarray,
    *,
    weights: Mapping[str, float],
    tolerance: float,
    bp_available: float,
    backend: Backend | str = Backend.HIGHS,
    options: SolverOptions = REBALANCE_OPTIONS,
) -> RebalanceAdvice:
    """Least-BP integer adds that bring every strategy's income share back into its band.

    Seed 1's ``StrategyIncomeAllocator`` asks to "balance, enforce, rebalance" the 40/35/25
    split (domain.md §2e, issue 9); thetaplan answers with a MILP over the contracts to add
    (:func:`rebalance_problem`): with ``n = held + y``, ``T = income @ n`` and ``I_s`` the income
    of strategy ``s``,

    * every strategy ``(w_s - tol) T <= I_s <= (w_s + tol) T`` (share within ``w_s ± tol``);
    * **income floor**: ``T >= max(T(held), 0)`` — adds never reduce the book's income (and the
      book's income may not end negative);
    * ``bp @ y <= bp_available`` and ``0 <= y <= max_add``, ``y`` integer;
    * minimise the added BP ``bp @ y``. **Tie-break, lexicographic**: among the least-BP adds
      the one with the largest added income is taken (a second solve with the BP fixed at its
      minimum); remaining ties are resolved by the solver, deterministically for the same
      inputs.

    Adds only: closing contracts is not advised. A book that already meets every band is
    ``in_band`` (no solve; the BP budget is not checked). An empty book (no income, every
    strategy at 0) meets the rows trivially and is ``in_band``.

    Parameters
    ----------
    strategy : sequence of str, shape (K,)
        Strategy of each candidate (one per structure that may be added or is held).
    income : array_like of float, shape (K,)
        Expected monthly income per contract, account currency per month (may be negative).
    bp : array_like of float, shape (K,)
        Buying-power reduction per contract, account currency (> 0).
    held : array_like of int, shape (K,)
        Contracts currently held (>= 0).
    max_add : array_like of int, shape (K,)
        Most contracts that may be added per candidate (>= 0).
    weights : Mapping of str to float
        Strategy -> target share of income (>= 0, summing to 1); its keys must be exactly the
        candidates' strategies.
    tolerance : float
        Absolute share band (0.05 = ± 5 points), >= 0.
    bp_available : float
        Money left under the BP cap, account currency (>= 0; ``math.inf`` = no cap). The adds'
        BP must fit.
    backend : Backend or str
        ``"highs"`` (default), ``"cvxpy"`` or ``"pulp"``; a solver error is retried once on
        another backend (recorded in ``fallbacks``).
    options : SolverOptions
        Default: 60 s, relative MIP gap 0.

    Returns
    -------
    RebalanceAdvice
        ``in_band`` / ``rebalance`` (with the adds) / ``infeasible`` (with ``min_tolerance``,
        the smallest tolerance at which the same limits would suffice, or the reason none does).

    Raises
    ------
    ValueError
        Shape mismatches; non-finite numbers; ``bp <= 0``; negative or fractional ``held`` /
        ``max_add``; weights not >= 0 or not summing to 1; a weighted strategy without a
        candidate or a candidate strategy without a weight; ``tolerance < 0``;
        ``bp_available < 0``; an unknown backend.
    RuntimeError
        The solver ended without a verdict (time limit without a solution, solver error on
        both backends).
    """
    book = _book(strategy, income, bp, held, max_add, weights, tolerance, bp_available)
    try:
        which = Backend(backend)
    except ValueError:
        raise ValueError(
            f"unknown backend {backend!r}; choose one of {[b.value for b in Backend]}"
        ) from None
    ctx = SolveContext(which.value, options)
    k = len(book.strategy)
    income0 = float(book.income @ book.held)
    before = book.shares(book.held)
    over, under = book.outside(book.held)
    pts = f"±{book.tolerance * 100:g} pts"

    def advice(status, adds, min_tol, message) -> RebalanceAdvice:
        adds = np.asarray(adds, dtype=np.int64).copy()
        adds.setflags(write=False)
        n = book.held + adds
        return RebalanceAdvice(
            status=RebalanceStatus(status),
            adds=adds,
            added_bp=float(book.bp @ adds),
            income_before=income0,
            income_after=float(book.income @ n),
            shares_before=before,
            shares_after=book.shares(n),
            over=tuple(over),
            under=tuple(under),
            weights=dict(book.weights),
            tolerance=book.tolerance,
            min_tolerance=min_tol,
            message=message,
            fallbacks=tuple(ctx.fallbacks),
        )

    if not over and not under and income0 >= 0:
        what = "book has no income" if income0 == 0 else _fmt_shares(before, list(book.weights))
        return advice(
            RebalanceStatus.IN_BAND, np.zeros(k), None, f"in band ({pts}): {what}; no adds"
        )

    problem = _problem(book, book.tolerance)
    out_of_band = _out_of_band(before, over, under, income0)
    first = _solve(ctx, problem, "least BP")
    if first is None:
        min_tol, reason = _min_tolerance(book, ctx)
        limits = f"max_add and bp_available {book.bp_available:,.2f}"
        tail = (
            f"smallest feasible tolerance ±{min_tol * 100:.3f} pts"
            if min_tol is not None
            else reason
        )
        return advice(
            RebalanceStatus.INFEASIBLE,
            np.zeros(k),
            min_tol,
            f"infeasible: no adds within {limits} restore the {pts} band ({out_of_band}); {tail}",
        )
    adds = _least_bp_then_income(ctx, book, problem, first)
    after = book.shares(book.held + adds)
    if not adds.any():  # held book within the solver's feasibility tolerance
        return advice(
            RebalanceStatus.IN_BAND, adds, None, f"in band ({pts}) within solver tolerance; no adds"
        )
    labels = np.array(book.strategy, dtype=object)
    added = ", ".join(
        f"{s} {int(adds[labels == s].sum())}" for s in book.weights if adds[labels == s].any()
    )
    return advice(
        RebalanceStatus.REBALANCE,
        adds,
        None,
        f"rebalance ({pts}): {out_of_band}; add {int(adds.sum())} contract(s) ({added}) "
        f"for {float(book.bp @ adds):,.2f} BP -> {_fmt_shares(after, list(book.weights))}",
    )
