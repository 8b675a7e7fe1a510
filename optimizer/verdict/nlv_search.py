"""The minimum account: bisection on NLV of the max-income MILP, with its certificate.

:func:`minimum_nlv` searches the smallest account size whose max expected monthly income reaches
the target, the caps moved with the account by the scenario's rule; :class:`MinNLV` is its
answer (value, status, bracket, note and the certificate pair of solves).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from optimizer.solve.status import SolveStatus


@dataclass(frozen=True)
class MinNLV:
    """The smallest account (net liquidation value) whose max expected income reaches the target.

    Parameters
    ----------
    value : float | None
        The NLV found (account currency), ``None`` when none was found.
    status : str
        ``found`` (with a certificate), ``none`` (not reachable up to the searched NLV, see
        ``note``), ``undecided`` (a solver limit stopped the search), ``not_searched``.
    rule : str
        How the caps move with the account during the search (``positions.scale_with_nlv``).
    note : str
        How the value was found, or why there is none.
    certificate : dict | None
        ``{nlv, max_income, nlv_below, max_income_below, target}``: the max expected income
        re-solved at ``value`` reaches the target, and at ``nlv_below`` = 0.99 × ``value``
        it does not (both exact MILPs under the scaled caps).
    """

    value: float | None = None
    status: str = "not_searched"
    rule: str = ""
    note: str = "not searched"
    certificate: dict | None = None


def minimum_nlv(
    max_income_at: Callable[[float], tuple[float | None, SolveStatus]],
    target: float,
    nlv: float,
    *,
    income_at_nlv: float | None = None,
    factor: float = 64.0,
    rel_tol: float = 0.008,
    below: float = 0.99,
    rule: str = "",
    bound_at: Callable[[float], float | None] | None = None,
) -> MinNLV:
    """Smallest NLV whose max expected income reaches ``target`` (bisection, then a certificate).

    The max expected income is non-decreasing in NLV when every cap is (a larger account only
    widens the feasible set), so the search brackets the boundary upward from ``nlv`` when the
    target is out of reach there, downward when it is reached: from the proportional guess
    ``nlv × target / income(nlv)`` in geometric steps of 10% (to the range's end), then by
    bisection on a log scale.
    The answer is certified by two exact solves: at the reported NLV the max income reaches the
    target; at ``below`` × it, it does not. Should the map not be monotone there (a phase
    boundary), the reported NLV is lowered by that factor until the certificate holds.

    Parameters
    ----------
    max_income_at : callable
        ``nlv -> (max expected monthly income or None, status)``; ``inf`` when unbounded.
    target : float
        Monthly income target (account currency).
    nlv : float
        Current account size (account currency); the search spans
        ``[nlv / factor, nlv * factor]``.
    income_at_nlv : float | None
        The max expected income at ``nlv`` when already known (saves a solve).
    factor : float
        Search range multiple.
    rel_tol : float
        Relative width of the final bracket (0.8%: finer than the 1% certificate step, so
        on a monotone map the certificate's lower solve falls below the bracket).
    below : float
        Factor of the certificate's second solve.
    rule : str
        The caps' scaling rule, reported with the answer.
    bound_at : callable | None
        ``nlv -> upper bound on the max expected income or None`` (the LP relaxation). Where the
        bound is already below ``target`` the point is decided without the MILP: the search
        takes the same path (the MILP could only confirm "not reached"), and the certificate's
        two incomes are always exact MILP optima. Where the search ends with ``none``, the
        income quoted at the range's end ("at most ...") may be that bound.

    Returns
    -------
    MinNLV
        ``status`` ``found`` (with the certificate), ``none`` or ``undecided``.
    """

    oracle = _Oracle(target, max_income_at, bound_at)
    if income_at_nlv is not None:
        oracle.seen[nlv] = (income_at_nlv >= target * (1 - 1e-9), income_at_nlv)
    here, inc0 = oracle(nlv, exact=True)
    if here is None:
        return MinNLV(None, "undecided", rule, f"solver could not decide at NLV {nlv:,.0f}")
    # first guess: income roughly proportional to NLV when the caps scale with it; then a walk
    # with steps 10%, 21%, 46%, ... (each the square of the last) until the boundary is
    # bracketed or the range's end is reached
    guess = nlv * target / inc0 if inc0 is not None and 0 < inc0 < math.inf else None
    walk = _walk_down if here else _walk_up
    bracket = walk(oracle, nlv, factor, guess, rule)
    if isinstance(bracket, MinNLV):
        return bracket
    lo, hi = bracket
    while hi / lo - 1 > rel_tol and len(oracle.seen) < 80:
        mid = math.sqrt(lo * hi)
        r, _ = oracle(mid)
        if r is None:
            return MinNLV(
                None, "undecided", rule, f"bisection stopped: solver could not decide at {mid:,.0f}"
            )
        if r:
            hi = mid
        else:
            lo = mid
    return _certificate(oracle, hi, below, target, rule)


class _Oracle:
    """Whether the target is reached at an NLV, each point solved once (the LP bound first)."""

    def __init__(self, target, max_income_at, bound_at) -> None:
        self.target, self.max_income_at, self.bound_at = target, max_income_at, bound_at
        self.seen: dict[float, tuple[bool | None, float | None]] = {}
        self.by_bound: set[float] = set()  # points decided by ``bound_at`` alone
        self.milps = 0

    def __call__(self, v: float, exact: bool = False) -> tuple[bool | None, float | None]:
        """``(reached, max income)`` at NLV ``v``; ``(None, None)`` when the solver cannot say."""
        target, seen = self.target, self.seen
        if v in seen and not (exact and v in self.by_bound):
            return seen[v]
        if not exact and self.bound_at is not None:
            b = self.bound_at(v)
            if b is not None and b < target * (1 - 1e-9):
                seen[v] = (False, b)
                self.by_bound.add(v)
                return seen[v]
        self.by_bound.discard(v)
        inc, st = self.max_income_at(v)
        self.milps += 1
        if inc is None or (not st.has_solution and not math.isinf(inc)):
            seen[v] = (None, None)
        else:
            seen[v] = (inc >= target * (1 - 1e-9), inc)
        return seen[v]


def _walk_down(oracle: _Oracle, nlv: float, factor: float, guess, rule: str):
    """Reached at ``nlv``: walk down to a point that is not; ``(lo, hi)`` or the answer."""
    lo_end, step = nlv / factor, 1.1
    hi = nlv
    g = guess * step if guess is not None and guess < nlv else nlv / step
    while True:
        g = min(max(g, lo_end), hi)
        r, _ = oracle(g)
        if r is None:
            return MinNLV(None, "undecided", rule, f"solver could not decide at NLV {g:,.0f}")
        if not r:
            return g, hi
        hi = g
        if g <= lo_end:
            return MinNLV(
                lo_end,
                "found",
                rule,
                f"reachable already at {lo_end:,.0f} (lower end of the search range, "
                f"1/{factor:g} of the current NLV)",
            )
        g, step = g / step, step * step


def _walk_up(oracle: _Oracle, nlv: float, factor: float, guess, rule: str):
    """Not reached at ``nlv``: walk up to a point that is; ``(lo, hi)`` or the answer."""
    hi_end, step = nlv * factor, 1.1
    lo = nlv
    g = guess / step if guess is not None and guess > nlv else nlv * step
    while True:
        g = max(min(g, hi_end), lo)
        r, inc = oracle(g)
        if r is None:
            return MinNLV(None, "undecided", rule, f"solver could not decide at NLV {g:,.0f}")
        if r:
            return lo, g
        lo = g
        if g >= hi_end:
            return MinNLV(
                None,
                "none",
                rule,
                f"not reachable with any account up to {factor:g}x the current NLV "
                f"({hi_end:,.0f}: at most {round(inc):,} per month): caps that do not "
                f"scale with the account bind",
            )
        g, step = g * step, step * step


def _certificate(oracle: _Oracle, hi: float, below: float, target: float, rule: str) -> MinNLV:
    """The answer with its certificate: reached at ``hi``, not at ``below × hi`` (both exact
    MILPs; ``hi`` lowered while the map is not monotone)."""
    for _ in range(50):
        at_ok, at_inc = oracle(hi, exact=True)
        low_ok, low_inc = oracle(hi * below, exact=True)
        if at_ok is None or low_ok is None:
            return MinNLV(None, "undecided", rule, "solver could not decide the certificate")
        if not at_ok:  # cannot happen on a monotone map: the bracket's upper end reached
            return MinNLV(None, "undecided", rule, f"not monotone at {hi:,.0f}")
        if not low_ok:
            break
        hi *= below
    else:
        return MinNLV(None, "undecided", rule, "certificate not reached in 50 steps")
    solves = f"{oracle.milps} max-income MILPs"
    if oracle.bound_at is not None and oracle.by_bound:
        solves += f", {len(oracle.by_bound)} points decided by the LP bound"
    cert = {
        "nlv": hi,
        "max_income": at_inc,
        "nlv_below": hi * below,
        "max_income_below": low_inc,
        "target": target,
    }
    return MinNLV(
        hi,
        "found",
        rule,
        f"bisection on NLV ({solves}), to {1 - below:.0%}: "
        f"{at_inc:,.0f} per month at {hi:,.0f}, {low_inc:,.0f} at {hi * below:,.0f}",
        cert,
    )
