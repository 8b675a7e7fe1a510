"""Verdict: is the monthly target reachable under the caps, how close, what binds, what it takes.

Never a bare "infeasible" (DESIGN.md §4):

* **status** — FEASIBLE when the maximum expected monthly income over every integer book that
  satisfies the caps reaches the target; INFEASIBLE when the proven maximum falls short; UNKNOWN
  when a solver limit or failure prevents a proof (with the incumbent and gap).
* **achievement** — maximum achievable income / target (the plan's capacity), and the chosen book's
  income / target.
* **binding caps** — rows of the max-income book with less slack than one more contract of the
  cheapest contributor needs, with the LP-relaxation shadow price (expected monthly income per
  unit of the row: e.g. £/month per £ of BP).
* **minimum account** — the smallest net liquidation value at which the target becomes reachable
  with the same phase, strategies and caps (caps that scale with NLV scale), found by bisection on
  the max-income MILP (monotone in NLV: every cap is non-decreasing in NLV). ``None`` with a note
  when no account up to 64× the current one reaches it (count caps bind).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from optimizer.problem import SizingProblem
from optimizer.status import SolveOutcome, SolveStatus

__all__ = [
    "BindingCap",
    "ChanceFinding",
    "Fallback",
    "RelaxationStep",
    "Verdict",
    "VerdictStatus",
    "binding_caps",
    "decide",
    "minimum_nlv",
]


class VerdictStatus(StrEnum):
    """Answer to "is the target reachable under these caps?"."""

    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class BindingCap:
    """A cap that limits the max-income book.

    Parameters
    ----------
    row : str
        Row name (``bp_total``, ``max_positions[lt112]`` …).
    family : str
        Constraint family.
    activity : float
        Row value at the max-income book (row units: money, units, …).
    bound : float
        The bound it presses against.
    slack : float
        Distance to the bound (>= 0).
    shadow_price : float | None
        LP-relaxation dual: change of max expected monthly income per unit increase of the bound
        (``None`` when the relaxation did not solve).
    """

    row: str
    family: str
    activity: float
    bound: float
    slack: float
    shadow_price: float | None


@dataclass(frozen=True)
class RelaxationStep:
    """One cap increase of the joint minimal relaxation (elastic MILP).

    Parameters
    ----------
    cap : str
        Cap family or row name (``bp_total``, ``cvar_99``, ``max_positions[lt112]`` …).
    bound : float
        The cap in force, in the row's unit (money in account currency, units, fraction of NLV
        where ``unit`` says so).
    needed : float
        The cap the target needs (same unit as ``bound``).
    unit : str
        Unit of ``bound`` and ``needed`` (``"GBP"``, ``"units"``, ``"% of NLV"`` …).
    """

    cap: str
    bound: float
    needed: float
    unit: str = ""


@dataclass(frozen=True)
class Fallback:
    """One step of the failure policy that was taken (recorded, never silent).

    Parameters
    ----------
    step : str
        What was done instead (``max_probability``, ``drop_chance``, ``incumbent``,
        ``other_backend`` …).
    reason : str
        Why (the solver status or message that triggered it).
    """

    step: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The feasibility verdict of a scenario (money in the account currency, per month).

    Parameters
    ----------
    status : VerdictStatus
    target : float
        Monthly income target.
    max_income : float | None
        Maximum expected monthly income under the caps (proven, or best incumbent when UNKNOWN).
    achievement : float | None
        ``max_income / target``.
    chosen_income : float
        Expected monthly income of the book the scenario's objective chose.
    chosen_achievement : float
        ``chosen_income / target``.
    binding : tuple[BindingCap, ...]
        Caps binding at the max-income book.
    min_nlv : float | None
        Smallest account (net liquidation value) that reaches the target under the same caps.
    min_nlv_note : str
        How ``min_nlv`` was found or why it is absent.
    solver_status : str
        Status of the max-income solve.
    mip_gap : float | None
        Relative MIP gap of the max-income solve.
    message : str
        One-sentence explanation.
    required_probability : float | None
        ``target.success_probability`` when asked.
    success_probability : float | None
        P(month ≥ target) of the chosen book on a fresh out-of-sample month set (≥ 20k).
    success_probability_in_sample : float | None
        The same on the month samples the optimization used.
    success_probability_ci : tuple[float, float] | None
        95% Clopper–Pearson interval of the out-of-sample probability.
    max_success_probability : float | None
        Highest in-sample probability reachable under the caps (equals the in-sample
        probability of the chosen book when the requirement is met).
    income_at_probability : float | None
        Monthly P&L the chosen book reaches or beats in a share ``required_probability`` of the
        out-of-sample months (their ``1 - p`` quantile), account currency.
    relaxations : tuple
        :class:`~optimizer.diagnostics.Relaxation` per active cap family: max expected income
        with that family lifted (``cap``, ``max_income``, ``status``, ``achievement``).
    minimal_relaxation : tuple[RelaxationStep, ...]
        Smallest weighted set of cap increases that makes the target reachable (empty when the
        target is reached or no relaxation of the relaxable caps reaches it).
    minimal_relaxation_note : str
        How the relaxation was found, or why it is absent.
    conflicts : tuple[str, ...]
        Names of the blocks of an irreducible infeasible set when the caps alone (no target)
        conflict; empty when the caps are consistent.
    fallbacks : tuple[Fallback, ...]
        Failure-policy steps taken, in order.
    """

    status: VerdictStatus
    target: float
    max_income: float | None
    achievement: float | None
    chosen_income: float
    chosen_achievement: float
    binding: tuple[BindingCap, ...] = ()
    min_nlv: float | None = None
    min_nlv_note: str = ""
    solver_status: str = ""
    mip_gap: float | None = None
    message: str = ""
    required_probability: float | None = None
    success_probability: float | None = None
    success_probability_in_sample: float | None = None
    success_probability_ci: tuple[float, float] | None = None
    max_success_probability: float | None = None
    income_at_probability: float | None = None
    relaxations: tuple = ()
    minimal_relaxation: tuple[RelaxationStep, ...] = ()
    minimal_relaxation_note: str = ""
    conflicts: tuple[str, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()


def binding_caps(
    problem: SizingProblem, values: dict[str, np.ndarray], duals: dict[str, float] | None
) -> tuple[BindingCap, ...]:
    """Rows of ``problem`` that bind at the integer point ``values``.

    A row side binds when its slack is smaller than the smallest |coefficient| of any variable that
    moves the row toward that bound and can still increase (one more contract or position would
    violate it), or when the slack is zero. Rows of family ``definition`` (e.g. ``n_k <= U_k y_k``)
    define variables and are never reported.
    """
    act = problem.activity(values)
    lower, upper = problem.row_lower, problem.row_upper
    family = {name: b.family for b in problem.blocks for name in b.row_names}
    mats = {g.name: problem.matrix(g.name).toarray() for g in problem.variables}
    room = {g.name: values[g.name] < g.upper - 1e-9 for g in problem.variables}
    out = []
    for i, name in enumerate(problem.row_names):
        if family[name] == "definition":  # variable-linking rows are not caps
            continue
        for side, bound in (("upper", upper[i]), ("lower", lower[i])):
            if not math.isfinite(bound):
                continue
            slack = (bound - act[i]) if side == "upper" else (act[i] - bound)
            step = math.inf
            for g, a in mats.items():
                row = a[i]
                toward = (row > 0) if side == "upper" else (row < 0)
                sel = toward & room[g]
                if sel.any():
                    step = min(step, float(np.min(np.abs(row[sel]))))
            tight = slack <= 1e-6 * max(1.0, abs(bound))
            if tight or (math.isfinite(step) and slack < step - 1e-9):
                dual = None if duals is None else float(duals.get(name, 0.0))
                out.append(
                    BindingCap(name, family[name], float(act[i]), float(bound), float(slack), dual)
                )
    return tuple(out)


def minimum_nlv(
    max_income_at: Callable[[float], tuple[float | None, SolveStatus]],
    target: float,
    nlv: float,
    *,
    factor: float = 64.0,
    rel_tol: float = 0.005,
) -> tuple[float | None, str]:
    """Smallest NLV whose max expected income reaches ``target`` (bisection on a monotone map).

    Parameters
    ----------
    max_income_at : callable
        ``nlv -> (max expected monthly income or None, status)``.
    target : float
        Monthly income target.
    nlv : float
        Current account size; the search spans ``[nlv / factor, nlv * factor]``.
    factor : float
        Search range multiple.
    rel_tol : float
        Relative precision of the answer.

    Returns
    -------
    (float | None, str)
        The minimum NLV (upper end of the final bracket, so it is reachable) and a note.
    """

    def ok(v: float) -> bool | None:
        inc, st = max_income_at(v)
        if not st.has_solution or inc is None:
            return None
        return inc >= target * (1 - 1e-9)

    hi = nlv * factor
    hi_ok = ok(hi)
    if hi_ok is None:
        return None, f"solver could not decide at NLV {hi:,.0f}"
    if not hi_ok:
        return None, (
            f"not reachable with any account up to {factor:g}x the current NLV: caps that do not "
            f"scale with the account bind"
        )
    lo = nlv / factor
    lo_ok = ok(lo)
    if lo_ok:
        return lo, f"reachable already at {lo:,.0f} (lower end of the search range)"
    steps = 0
    while hi / lo - 1 > rel_tol and steps < 60:
        mid = math.sqrt(lo * hi)
        r = ok(mid)
        if r is None:
            return hi, f"bisection stopped: solver could not decide at {mid:,.0f}"
        if r:
            hi = mid
        else:
            lo = mid
        steps += 1
    return hi, f"bisection on NLV ({steps + 2} MILP solves), precision {rel_tol:.1%}"


@dataclass(frozen=True)
class ChanceFinding:
    """What the solve found about ``P(month ≥ target) ≥ p`` (inputs of :func:`decide`).

    Parameters
    ----------
    required : float
        Required probability p.
    met : bool
        The chance-constrained solve found a book.
    proven : bool
        When not met: unreachability is proven (infeasible, or the proven upper bound < p).
    note : str
        Explanation when not met (which book is shown instead).
    p_in_sample : float | None
        In-sample probability of the chosen book.
    """

    required: float
    met: bool
    proven: bool = True
    note: str = ""
    p_in_sample: float | None = None


def decide(
    target: float,
    max_outcome: SolveOutcome,
    max_income: float | None,
    *,
    unbounded: bool = False,
    chance: ChanceFinding | None = None,
    conflicts: tuple[str, ...] = (),
) -> tuple[VerdictStatus, float | None, str]:
    """The verdict, decided in one place: status, max expected income and a one-line message.

    Parameters
    ----------
    target : float
        Monthly income target, account currency.
    max_outcome : SolveOutcome
        The max-expected-income solve under the caps (chance constraint included when it could
        be met).
    max_income : float | None
        Expected monthly income of that solve's book (account currency).
    unbounded : bool
        No cap limits the income (a count rests on its artificial bound).
    chance : ChanceFinding | None
        The success-probability requirement, when the scenario states one.
    conflicts : tuple[str, ...]
        Blocks of an irreducible infeasible set when the caps alone admit no book.

    Returns
    -------
    (VerdictStatus, float | None, str)
    """
    if conflicts:
        return (
            VerdictStatus.INFEASIBLE,
            None,
            f"the caps conflict: no book satisfies {', '.join(conflicts)} together",
        )
    st = max_outcome.status
    inc = max_income if st.has_solution else None
    if unbounded:
        status, msg = (
            VerdictStatus.FEASIBLE,
            "target reachable: no cap limits the expected income (unbounded)",
        )
    elif st is SolveStatus.OPTIMAL and inc is not None:
        if inc >= target * (1 - 1e-9):
            status, msg = (
                VerdictStatus.FEASIBLE,
                f"target reachable: up to {inc:,.0f} expected per month under the caps "
                f"({inc / target:.0%} of target)",
            )
        else:
            status, msg = (
                VerdictStatus.INFEASIBLE,
                f"target not reachable under the caps: at most {inc:,.0f} expected per month "
                f"({inc / target:.0%} of target)",
            )
    elif st is SolveStatus.FEASIBLE and inc is not None and inc >= target * (1 - 1e-9):
        status, msg = (
            VerdictStatus.FEASIBLE,
            f"target reachable (a book reaching it was found before the time limit; "
            f"{inc:,.0f} per month)",
        )
    else:
        gap = f", gap {max_outcome.mip_gap:.2%}" if max_outcome.mip_gap is not None else ""
        status, msg = (
            VerdictStatus.UNKNOWN,
            f"undecided: max-income solve ended {st.value}{gap} ({max_outcome.message})",
        )
    if chance is not None:
        if not chance.met:
            status = VerdictStatus.INFEASIBLE if chance.proven else VerdictStatus.UNKNOWN
            msg = chance.note
        elif status is VerdictStatus.FEASIBLE and chance.p_in_sample is not None:
            msg += (
                f"; P(month ≥ target) {chance.p_in_sample:.1%} in sample "
                f"(required {chance.required:.0%})"
            )
    return status, inc, msg
