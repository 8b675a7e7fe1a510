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
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from optimizer.solve.problem import SizingProblem
from optimizer.solve.status import Fallback, SolveOutcome, SolveStatus
from optimizer.verdict.nlv_search import MinNLV, minimum_nlv

__all__ = [
    "Alternative",
    "BindingCap",
    "CapCost",
    "ChanceFinding",
    "Fallback",
    "MinNLV",
    "RelaxationStep",
    "Verdict",
    "VerdictStatus",
    "binding_caps",
    "book_change",
    "cap_costs",
    "decide",
    "minimum_nlv",
    "return_on_capital",
    "top_cap_clause",
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
    beyond_solvency : bool
        The needed bound is past what a solvent account can carry: buying power above 100% of
        NLV (no broker extends more buying power than the account's equity under Reg-T or
        portfolio margin), or a stress loss, VaR or CVaR at or above 100% of NLV (a loss of
        the whole account is insolvency).
    """

    cap: str
    bound: float
    needed: float
    unit: str = ""
    beyond_solvency: bool = False


@dataclass(frozen=True)
class Alternative:
    """A book shown beside the headline book (never instead of it).

    Parameters
    ----------
    name : str
        What it optimizes (``max_success_probability``).
    reason : str
        Why it is shown.
    expected_monthly_income : float
        Expected net monthly income of the book, account currency.
    success_probability : float | None
        P(month ≥ target) of the book on the out-of-sample months.
    success_probability_in_sample : float | None
        The same on the months the optimization used.
    positions : tuple[dict, ...]
        ``{id, strategy, underlying, expiry, strikes, contracts}`` per position held.
    """

    name: str
    reason: str
    expected_monthly_income: float
    success_probability: float | None
    success_probability_in_sample: float | None
    positions: tuple[dict, ...] = ()


@dataclass(frozen=True)
class CapCost:
    """What one cap family costs: the max expected income with it lifted (the others kept).

    Parameters
    ----------
    family : str
        The cap lifted (a :class:`~optimizer.formulation.families.Lift` label of its family).
    max_income_without : float | None
        Max expected monthly income with the family lifted, account currency (``None`` when
        unbounded or unsolved).
    gain : float | None
        ``max_income_without`` − the max expected income under every cap (account currency per
        month); ``inf`` when lifting the family leaves the income unbounded, ``None`` unsolved.
    status : str
        ``optimal``, ``unbounded`` or the solver status of the lifted solve.
    book_change : str
        How the max-income book changes when the family is lifted (positions that differ).
    """

    family: str
    max_income_without: float | None
    gain: float | None
    status: str
    book_change: str = ""


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
    min_nlv : MinNLV
        Smallest account (net liquidation value) whose max expected income reaches the target,
        with the scaling rule of the caps and a certificate.
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
        :class:`~optimizer.verdict.diagnostics.Relaxation` per active cap family: max expected income
        with that family lifted (``cap``, ``max_income``, ``status``, ``achievement``).
    minimal_relaxation : tuple[RelaxationStep, ...]
        Smallest weighted set of cap increases that makes the target reachable (empty when the
        target is reached or no relaxation of the relaxable caps reaches it).
    minimal_relaxation_note : str
        How the relaxation was found, or why it is absent.
    solvent_relaxation : tuple[RelaxationStep, ...]
        When the minimal relaxation goes beyond solvency: the smallest one with BP ≤ 100% of
        NLV and every stress/VaR/CVaR loss < 100% of NLV as hard limits (empty when none
        exists); otherwise the minimal relaxation itself.
    solvent_relaxation_note : str
        How it was found, or ``"no solvent set of caps reaches the target …"``.
    conflicts : tuple[str, ...]
        Names of the blocks of an irreducible infeasible set when the caps alone (no target)
        conflict; empty when the caps are consistent.
    fallbacks : tuple[Fallback, ...]
        Failure-policy steps taken, in order.
    alternatives : tuple[Alternative, ...]
        Books shown beside the headline book (e.g. the max-success-probability book when the
        required probability is out of reach); never the headline.
    return_on_capital : dict
        ``annual_net_on_nlv`` = 12 × the headline book's expected net monthly income / NLV and
        ``annual_net_on_bp`` = the same over the buying power it uses (``None`` with no BP);
        simple annualization, no compounding.
    cap_costs : tuple[CapCost, ...]
        One-family-lifted max incomes as gains over the max under every cap, largest first.
    """

    status: VerdictStatus
    target: float
    max_income: float | None
    achievement: float | None
    chosen_income: float
    chosen_achievement: float
    binding: tuple[BindingCap, ...] = ()
    min_nlv: MinNLV = MinNLV()
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
    solvent_relaxation: tuple[RelaxationStep, ...] = ()
    solvent_relaxation_note: str = ""
    conflicts: tuple[str, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    return_on_capital: dict = field(default_factory=dict)
    cap_costs: tuple[CapCost, ...] = ()

    @property
    def min_nlv_note(self) -> str:
        """How the minimum NLV was found, or why there is none (``min_nlv.note``)."""
        return self.min_nlv.note


def binding_caps(
    problem: SizingProblem,
    values: dict[str, np.ndarray],
    duals: dict[str, float] | None,
    exact: dict[str, float] | None = None,
) -> tuple[BindingCap, ...]:
    """Rows of ``problem`` that bind at the integer point ``values``.

    A row side binds when its slack is smaller than the smallest |coefficient| of any variable that
    moves the row toward that bound and can still increase (one more contract or position would
    violate it), or when the slack is zero. Rows of family ``definition`` (e.g. ``n_k <= U_k y_k``)
    define variables and are never reported. The book is read as it is held: a structure binary
    ``y`` is 1 exactly when its count is positive (a solver may leave ``y = 1`` on an empty
    position), and ``exact`` (row name -> value recomputed from the book, e.g. a CVaR cap's
    full-set CVaR) replaces the row activity of auxiliary variables a solver left anywhere in
    their degenerate range.
    """
    if "y" in values and "n" in values:
        values = {**values, "y": (np.asarray(values["n"]) > 0.5).astype(float)}
    act = problem.activity(values)
    for i, name in enumerate(problem.row_names):
        if exact and name in exact:
            act[i] = exact[name]
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


def return_on_capital(monthly_income: float, nlv: float, bp_used: float) -> dict:
    """Simple annualized return of a book's expected net monthly income.

    Parameters
    ----------
    monthly_income : float
        Expected net monthly income, account currency.
    nlv : float
        Net liquidation value, account currency.
    bp_used : float
        Buying-power reduction of the book, account currency.

    Returns
    -------
    dict
        ``annual_net_on_nlv`` = 12 × income / NLV and ``annual_net_on_bp`` = 12 × income / BP
        (``None`` when the book uses no BP); fractions per year, not compounded.
    """
    return {
        "annual_net_on_nlv": 12.0 * monthly_income / nlv,
        "annual_net_on_bp": 12.0 * monthly_income / bp_used if bp_used > 0 else None,
    }


def cap_costs(
    relaxations: tuple, max_income: float | None, book_changes: dict[str, str] | None = None
) -> tuple[CapCost, ...]:
    """The one-family-lifted table as gains over the max income under every cap, largest first.

    Parameters
    ----------
    relaxations : tuple of Relaxation
        :func:`optimizer.verdict.diagnostics.relaxations` rows (``cap``, ``max_income``, ``status``).
    max_income : float | None
        Max expected monthly income under every cap (account currency).
    book_changes : dict[str, str] | None
        Per family, how the max-income book changes when it is lifted.

    Returns
    -------
    tuple[CapCost, ...]
        Unbounded families first (gain ``inf``), then by gain, largest first; unsolved last.
    """
    changes = book_changes or {}
    out = []
    for r in relaxations:
        if r.status == "unbounded":
            gain = math.inf
        elif r.max_income is None or max_income is None:
            gain = None
        else:
            gain = r.max_income - max_income
        out.append(CapCost(r.cap, r.max_income, gain, r.status, changes.get(r.cap, "")))
    return tuple(sorted(out, key=lambda c: (c.gain is None, 0.0 if c.gain is None else -c.gain)))


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

    With a success-probability requirement the target needs both expected income ≥ target
    and P(month ≥ target) ≥ p: a proven shortfall of either is a proven INFEASIBLE; UNKNOWN
    only when neither is proven out of reach and one is undecided.

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
    elif st is SolveStatus.INFEASIBLE:
        # a proof (the PuLP mapping accepts CBC's claim only before its limit): no book, not
        # even the empty one, meets every cap -- held positions or minimum counts break a cap
        status, msg = (
            VerdictStatus.INFEASIBLE,
            "no book meets every cap: the held positions or minimum counts break a cap "
            "(see the minimal relaxation)",
        )
    else:
        gap = f", gap {max_outcome.mip_gap:.2%}" if max_outcome.mip_gap is not None else ""
        status, msg = (
            VerdictStatus.UNKNOWN,
            f"undecided: max-income solve ended {st.value}{gap} ({max_outcome.message})",
        )
    if chance is not None:
        if not chance.met and status is VerdictStatus.INFEASIBLE:
            # the target needs both: expected income ≥ target and P(month ≥ target) ≥ p; the
            # first is proven out of reach, so the verdict is proven whatever the probability
            msg += f"; {chance.note}"
        elif not chance.met:
            status = VerdictStatus.INFEASIBLE if chance.proven else VerdictStatus.UNKNOWN
            msg = chance.note
        elif status is VerdictStatus.FEASIBLE and chance.p_in_sample is not None:
            msg += (
                f"; P(month ≥ target) {chance.p_in_sample:.1%} in sample "
                f"(required {chance.required:.0%})"
            )
    return status, inc, msg


def book_change(
    strategies: Sequence[str], underlyings: Sequence[str], before: np.ndarray, after: np.ndarray
) -> str:
    """How a book changes, by strategy and underlying (contracts): ``zero_dte 9 XSP → 1 SPX``.

    Parameters
    ----------
    strategies, underlyings : sequence of str, shape (K,)
        Each candidate's strategy and underlying.
    before, after : ndarray, shape (K,)
        Contract counts of the two books.

    Returns
    -------
    str
        ``"; "``-joined ``strategy held-before → held-after`` for the strategies that differ,
        or ``"same book"``.
    """
    strat = np.asarray(strategies)
    under = np.asarray(underlyings)

    def held(c: np.ndarray, m: np.ndarray) -> str:
        by: dict[str, int] = {}
        for u, n in zip(under[m], np.asarray(c)[m], strict=True):
            if n > 0:
                by[u] = by.get(u, 0) + int(n)
        return " + ".join(f"{n} {u}" for u, n in by.items()) or "none"

    parts = []
    for s in dict.fromkeys(strat):
        m = strat == s
        a, b = held(before, m), held(after, m)
        if a != b:
            parts.append(f"{s} {a} → {b}")
    return "; ".join(parts) if parts else "same book"


def top_cap_clause(top: CapCost, ccy: str) -> str:
    """The verdict sentence's clause on the cap family that costs most (``""`` if unsolved)."""
    if top.gain is None:
        return ""
    if math.isinf(top.gain):
        return f"; lifting {top.family} alone leaves the income unbounded"
    if top.gain <= 0.5:
        return "; no single cap family costs income alone (the caps bind jointly)"
    change = f" ({top.book_change})" if top.book_change and top.book_change != "same book" else ""
    return (
        f"; the costliest cap is {top.family}: lifting it alone raises the max to "
        f"{top.max_income_without:,.0f} {ccy} (+{top.gain:,.0f}){change}"
    )
