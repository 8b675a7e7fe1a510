"""scenario → market → candidates → problem → solve → verdict → SizingResult (one direction).

:func:`solve_scenario` runs named stages, each with a typed output:

1. :func:`~optimizer.pipeline.prepare.prepare` — market, caps, candidates, income simulation
   (:class:`~optimizer.pipeline.prepare.Prepared`, cached across a study's points);
2. risk data — market-scenario and monthly P&L per candidate (:class:`RiskData`);
3. :func:`~optimizer.pipeline.choose.choose_book` — the headline book under every cap, with the
   chance policy (:class:`~optimizer.pipeline.choose.BookChoice`);
4. :func:`~optimizer.pipeline.diagnose.assess_reach` — the verdict's max income, conflicts and
   binding caps (:class:`~optimizer.pipeline.diagnose.Reach`);
5. :func:`~optimizer.pipeline.assemble.assess_risk` — the book's out-of-sample risk
   (:class:`~optimizer.pipeline.assemble.BookRisk`);
6. :func:`optimizer.verdict.verdict.decide` — the status (the one place it is decided);
7. :func:`~optimizer.pipeline.diagnose.diagnose` — what each cap costs, minimal relaxations,
   minimum NLV (:class:`~optimizer.pipeline.diagnose.Diagnosis`);
8. :func:`~optimizer.pipeline.assemble.assemble` — the verdict and the
   :class:`~optimizer.verdict.result.SizingResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from models.errors import SpecError
from optimizer.inputs.risk_model import build_risk_data
from optimizer.inputs.spec import Scenario
from optimizer.inputs.spec_base import DiagnosticsLevel
from optimizer.pipeline.assemble import assemble, assess_risk, book_portfolio
from optimizer.pipeline.choose import choose_book
from optimizer.pipeline.diagnose import assess_reach, diagnose
from optimizer.pipeline.prepare import (
    Prepared,
    clear_cache,
    prepare,
    rule_for,
)
from optimizer.solve.solving import SolveContext
from optimizer.solve.status import SolveStatus
from optimizer.verdict.result import SizingResult
from optimizer.verdict.verdict import ChanceFinding, decide

__all__ = [
    "Prepared",
    "clear_cache",
    "prepare",
    "rule_for",
    "solve_scenario",
]


def solve_scenario(
    scenario: Scenario,
    *,
    backend: str | None = None,
    min_nlv_search: bool = True,
    diagnostics_level: DiagnosticsLevel | str = DiagnosticsLevel.FULL,
    progress: Callable[[str], None] | None = None,
) -> SizingResult:
    """Size a scenario and give its verdict.

    Orchestration only (the stages are listed in the module docstring): solving
    (:mod:`optimizer.solve.solving`), diagnostics (:mod:`optimizer.verdict.diagnostics`), the
    risk report (:mod:`optimizer.verdict.risk_report`) and the verdict
    (:func:`optimizer.verdict.verdict.decide`, the one place the status is decided) live in
    their own modules.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    backend : str | None
        ``cvxpy``, ``pulp`` or ``highs``; default from the scenario's ``solver.backend``.
    min_nlv_search : bool
        Run the bisection for the minimum account size.
    diagnostics_level : DiagnosticsLevel or {"full", "light", "book"}
        ``full`` (everything) or ``light`` (studies: no one-family relaxations and no joint
        minimal relaxation; the verdict, its max income, P(success) and risk are computed as in
        ``full``); ``book`` is ``light`` without the max-probability search of the chance
        policy (the same headline book; no max-probability alternative).

    progress : callable | None
        Called with each stage's name as it starts (the CLI's status line); ``None``: silent.

    Returns
    -------
    SizingResult
        Never raises on solver trouble: the verdict says UNKNOWN with the solver's message, and
        every failure-policy step is listed in ``verdict.fallbacks``.

    Raises
    ------
    SpecError
        Fixed-economics strategies in a scenario with a ``risk:`` section (they cannot be
        repriced in market scenarios).
    """
    t_all = time.perf_counter()
    say = progress or (lambda stage: None)
    level = DiagnosticsLevel(diagnostics_level)
    full = level is DiagnosticsLevel.FULL
    ctx = SolveContext(backend or scenario.solver.backend, scenario.solver.options())
    say("market, candidates and income model")
    prep = prepare(scenario)
    cs, limits, timings, notes = prep
    say("risk scenarios")
    risk = _risk_data(scenario, prep, timings)
    say("choosing the book")
    choice = choose_book(
        scenario, prep, risk, ctx, timings, search=level is not DiagnosticsLevel.BOOK
    )
    notes.extend(choice.notes)
    t0 = time.perf_counter()
    say("max income and binding caps")
    reach = assess_reach(cs, limits, ctx, risk, chance=choice.chance_ok)
    positions, portfolio = book_portfolio(prep, choice.counts)
    timings["verdict"] = choice.policy_seconds + time.perf_counter() - t0
    say("out-of-sample risk")
    book_risk = assess_risk(
        scenario, prep, risk, choice.counts, portfolio["expected_monthly_income"], timings
    )
    if risk is not None:
        portfolio["var"], portfolio["cvar"] = book_risk.var, book_risk.cvar
        portfolio.update(book_risk.monthly or {})
    chance, max_p = choice.chance, choice.max_probability
    p_req = limits.success_probability
    if risk is not None and p_req is not None and chance is None:
        p_in = book_risk.success.get("in_sample", 0.0)
        chance, max_p = ChanceFinding(p_req, met=True, p_in_sample=p_in), p_in
    inc = reach.max_income
    decision = decide(
        scenario.target.monthly_income,
        inc.outcome,
        inc.income,
        unbounded=inc.unbounded,
        chance=chance,
        conflicts=reach.conflicts,
    )
    say("diagnosis (relaxations, minimum NLV)" if full else "diagnosis")
    diagnosis = diagnose(
        scenario,
        prep,
        risk,
        ctx,
        reach,
        decision[0],
        decision[2],
        full=full,
        min_nlv_search=min_nlv_search,
        chance_in_force=choice.chance_ok and p_req is not None and risk is not None,
        timings=timings,
    )
    chosen = choice.outcome
    if chosen.status is not SolveStatus.OPTIMAL:
        notes.append(f"objective solve ended {chosen.status.value}: {chosen.message}")
    timings["total"] = time.perf_counter() - t_all
    return assemble(
        scenario,
        prep,
        ctx,
        risk,
        choice,
        reach,
        positions,
        portfolio,
        book_risk,
        decision,
        diagnosis,
        max_p,
        notes,
        timings,
        full=full,
    )


def _risk_data(scenario: Scenario, prep: Prepared, timings: dict[str, float]):
    """The scenario's risk data (``None`` without a ``risk:`` section); ``timings["risk_data"]``."""
    if scenario.risk is None:
        return None
    t0 = time.perf_counter()
    managed = prep.income.result if prep.income is not None else None
    if managed is not None and len(prep.income.ids) != len(prep.candidates):
        raise SpecError("risk: fixed-economics strategies cannot be repriced in market scenarios")
    risk = build_risk_data(scenario, prep.candidates, prep.market, managed=managed)
    timings["risk_data"] = time.perf_counter() - t0
    return risk
