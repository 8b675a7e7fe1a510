"""scenario → market → candidates → problem → solve → verdict → SizingResult (one direction)."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.risk import book_pnl, cvar, success_probability, value_at_risk
from optimizer.backends import solve
from optimizer.candidates import CandidateSet, build_candidate_set
from optimizer.constraints.chance import success_rows
from optimizer.formulation import build_problem, count_upper_bounds, unit_caps
from optimizer.limits import Limits, allowed_products, resolve_limits
from optimizer.market import Market, build_market
from optimizer.problem import Objective, SizingProblem
from optimizer.result import (
    SizingResult,
    allocation_table,
    portfolio_metrics,
    positions_table,
)
from optimizer.risk_model import OutOfSample, RiskData, build_risk_data, evaluate_out_of_sample
from optimizer.spec import ObjectiveKind, Scenario
from optimizer.status import SolveOutcome, SolverOptions, SolveStatus
from optimizer.verdict import Verdict, VerdictStatus, binding_caps, decide, minimum_nlv

__all__ = ["Prepared", "max_income", "prepare", "relaxations", "solve_scenario", "solve_sizing"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """Everything a solve needs, before any solver runs.

    Parameters
    ----------
    candidates : CandidateSet
        Candidates with per-contract metrics (account currency).
    limits : Limits
        Caps in force.
    market : Market
        Surfaces, VIX, vol ratio and chain filter reports.
    timings : dict[str, float]
        Seconds for ``market`` and ``candidates``.
    notes : list[str]
        Modelling choices in force (income model, BP cap source, weights).
    """

    candidates: CandidateSet
    limits: Limits
    market: Market
    timings: dict[str, float]
    notes: list[str]

    def __iter__(self):
        """Unpack as ``(candidates, limits, timings, notes)``."""
        return iter((self.candidates, self.limits, self.timings, self.notes))


def prepare(scenario: Scenario) -> Prepared:
    """Market, caps and candidates of a scenario, with stage timings and notes."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    market = build_market(scenario)
    timings["market"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    limits = resolve_limits(scenario)
    cs = build_candidate_set(
        scenario, market, allowed_products=allowed_products(scenario, limits.phase)
    )
    timings["candidates"] = time.perf_counter() - t0
    fixed = [n for n, s in scenario.strategies.items() if s.template == "fixed"]
    notes = [
        (
            f"{', '.join(fixed)}: stated per-contract economics (seed 1 EV formula); "
            if fixed
            else ""
        )
        + f"income model: {scenario.income.model}"
        + (
            f" ({scenario.income.days_per_month:g} days per month)"
            if scenario.income.model == "theta"
            else f" (vol ratio {market.vol_ratio:.3f}: {market.vol_ratio_source})"
        ),
        f"BP cap {limits.bp_fraction:.1%} of NLV: {limits.bp_source}",
        f"allocation weights: {limits.weight_note}",
    ]
    return Prepared(cs, limits, market, timings, notes)


def max_income(
    cs: CandidateSet,
    limits: Limits,
    options: SolverOptions,
    backend: str,
    *,
    risk: RiskData | None = None,
) -> SolveOutcome:
    """Solve the max-expected-income MILP for ``cs`` under ``limits`` (tail-risk caps included
    when ``risk`` is given; the chance constraint is not)."""
    out, _ = solve_sizing(
        cs, limits, ObjectiveKind.MAX_INCOME, options, backend, risk=risk, chance=False
    )
    return out


def _caps_at(cs: CandidateSet, limits: Limits, options: SolverOptions, backend: str) -> str:
    """Names of the caps binding at the max-income book for ``limits`` (for verdict notes)."""
    problem = build_problem(cs, limits, ObjectiveKind.MAX_INCOME)
    out = solve(problem, backend, options)
    if not out.status.has_solution or out.values is None:
        return ""
    rows = [
        b.row for b in binding_caps(problem, out.values, None) if b.slack < 1e-6 or "[" in b.row
    ]
    return f" (at {limits.nlv:,.0f}: {', '.join(rows)} bind)" if rows else ""


def _tail_scenarios(losses: np.ndarray, alpha: float, exclude: np.ndarray) -> np.ndarray:
    """Indices of the ``ceil((1 - alpha) S)`` largest losses, not already in ``exclude``."""
    k = int(np.ceil((1 - alpha) * losses.size)) + 1
    order = np.argsort(-losses, kind="stable")
    fresh = order[~np.isin(order, exclude)]
    return fresh[:k]


def solve_sizing(
    cs: CandidateSet,
    limits: Limits,
    objective: ObjectiveKind,
    options: SolverOptions,
    backend: str,
    *,
    target: float | None = None,
    risk: RiskData | None = None,
    chance: bool = True,
    extra: Callable[[SizingProblem], SizingProblem] | None = None,
    max_rounds: int = 25,
) -> tuple[SolveOutcome, SizingProblem]:
    """Build and solve a sizing problem; CVaR caps by cutting planes over the scenario set.

    With CVaR caps, the problem is first solved with the CVaR rows of a small scenario subset
    (normalized by the full count: a relaxation of the full cap). The full-set CVaR of the
    solution is then computed ex post; if a cap is exceeded, the scenarios in that solution's
    tail are added and the problem is re-solved. A solution that meets every cap on the full set
    is optimal for the full problem (it is optimal for a relaxation and feasible for the full
    problem). This is the scenario-generation form of the Rockafellar–Uryasev LP (Künzi-Bay &
    Mayer, Comput. Manag. Sci. 3, 2006); it is exact, not an approximation.

    Parameters
    ----------
    extra : callable | None
        Applied to each built problem before solving (e.g. to add variables and a new objective).

    Returns
    -------
    (SolveOutcome, SizingProblem)
        The final outcome and the problem it solved.
    """

    def build(rows):
        problem = build_problem(
            cs, limits, objective, target=target, risk=risk, chance=chance, cvar_rows=rows
        )
        return extra(problem) if extra is not None else problem

    if risk is None or not limits.cvar_caps:
        problem = build(None)
        return solve(problem, backend, options), problem
    pnl = risk.pnl
    alpha_min = min(a for a, _ in limits.cvar_caps)
    # seed: the tail of a proxy book holding every candidate once, scaled by its P&L spread
    proxy = pnl @ (1.0 / np.maximum(pnl.std(axis=0), 1e-12))
    rows = _tail_scenarios(-proxy, alpha_min, np.array([], dtype=int))
    out = problem = None
    for _ in range(max_rounds):
        problem = build(np.sort(rows))
        out = solve(problem, backend, options)
        if not out.status.has_solution or out.values is None:
            return out, problem
        losses = -(pnl @ out.values["n"])
        worst = [
            a
            for a, cap in limits.cvar_caps
            if cvar(losses, a) > cap * limits.nlv * (1 + 1e-7) + 1e-6
        ]
        if not worst:
            return out, problem
        new = np.concatenate([_tail_scenarios(losses, a, rows) for a in worst])
        rows = np.union1d(rows, new)
    log.warning(
        "CVaR cutting planes did not converge in %d rounds; solving the full set", max_rounds
    )
    problem = build(None)
    return solve(problem, backend, options), problem


#: One-at-a-time relaxations the verdict tries: label -> how the caps change.
_RELAXATIONS: tuple[tuple[str, Callable[[Limits], dict]], ...] = (
    ("allocation (40/35/25 ± tol)", lambda lim: {"allocation_tolerance": None}),
    (
        "buying power (total and per strategy)",
        lambda lim: {"bp_fraction": 100.0, "strategy_bp_caps": {}},
    ),
    ("max positions per strategy", lambda lim: {"max_positions": dict.fromkeys(lim.max_positions)}),
    ("correlation-group unit limits", lambda lim: {"group_limit": None}),
    ("correlation-group delta caps", lambda lim: {"group_delta_cap": None}),
    ("leverage", lambda lim: {"leverage": None}),
    ("Greek bounds", lambda lim: {"greeks": {}}),
    ("CVaR caps", lambda lim: {"cvar_caps": ()}),
    ("VaR caps", lambda lim: {"var_caps": ()}),
    ("stress-loss cap", lambda lim: {"stress_cap": None}),
)


def _is_active(label: str, limits: Limits) -> bool:
    return {
        "allocation (40/35/25 ± tol)": limits.allocation_tolerance is not None,
        "buying power (total and per strategy)": True,
        "max positions per strategy": any(v is not None for v in limits.max_positions.values()),
        "correlation-group unit limits": limits.group_limit is not None,
        "correlation-group delta caps": limits.group_delta_cap is not None,
        "leverage": limits.leverage is not None,
        "Greek bounds": bool(limits.greeks),
        "CVaR caps": bool(limits.cvar_caps),
        "VaR caps": bool(limits.var_caps),
        "stress-loss cap": limits.stress_cap is not None,
    }[label]


def relaxations(
    cs: CandidateSet,
    limits: Limits,
    options: SolverOptions,
    backend: str,
    *,
    risk: RiskData | None = None,
) -> list[dict]:
    """Max expected monthly income with one cap family lifted at a time (the others kept).

    Answers "which cap costs how much": a family whose removal alone reaches the target is a
    sufficient relaxation; when none does, several caps bind jointly. The chance constraint is
    not included (expected income only).

    Returns
    -------
    list[dict]
        ``{"cap", "max_income"}`` per active cap family (``max_income`` None when the solver could
        not decide).
    """
    out = []
    for label, change in _RELAXATIONS:
        if not _is_active(label, limits):
            continue
        relaxed = dataclasses.replace(limits, **change(limits))
        res = max_income(cs, relaxed, options, backend, risk=risk)
        value = res.objective_value if res.status.has_solution else None
        out.append({"cap": label, "max_income": value, "status": res.status.value})
    return out


def _counts(outcome: SolveOutcome, k: int) -> np.ndarray:
    if outcome.status.has_solution and outcome.values is not None:
        return np.rint(outcome.values["n"]).astype(int)
    return np.zeros(k, dtype=int)


def _max_probability(
    cs: CandidateSet, limits: Limits, risk: RiskData, options: SolverOptions, backend: str
) -> tuple[SolveOutcome | None, float, float]:
    """Book maximizing the number of months ≥ target under every other cap (SAA, in-sample).

    Returns
    -------
    (outcome, p_found, p_upper)
        The solve, the in-sample probability of its book and a proven upper bound on the
        reachable probability (equal to ``p_found`` when solved to optimality; from the MIP bound
        when a limit stopped the solver).
    """
    monthly = np.asarray(risk.managed.monthly_samples)
    total = monthly.shape[0]
    ub = count_upper_bounds(cs, limits)
    part = success_rows(monthly, limits.target, ub, unit_caps(cs, limits))
    if not part.variables:
        return None, 0.0, 0.0
    size = part.variables[0].size

    def with_successes(base: SizingProblem) -> SizingProblem:
        return SizingProblem(
            variables=base.variables + part.variables,
            blocks=base.blocks + part.blocks,
            objective=Objective(
                name="success_months", sense="maximize", terms={"chance_z": -np.ones(size)}
            ),
        )

    out, _ = solve_sizing(
        cs,
        limits,
        ObjectiveKind.MAX_INCOME,
        options,
        backend,
        risk=risk,
        chance=False,
        extra=with_successes,
    )
    if not out.status.has_solution:
        return out, float("nan"), size / total
    # count successes ex post: a limit-stopped incumbent may flag months that do succeed
    found = float(np.mean(monthly @ out.values["n"] >= limits.target))
    if out.status is SolveStatus.OPTIMAL:
        upper = found
    elif out.best_bound is not None and math.isfinite(out.best_bound):
        upper = min(size, math.floor(size + out.best_bound + 1e-6)) / total
    else:
        upper = size / total
    return out, found, upper


def _risk_report(
    scenario: Scenario,
    risk: RiskData,
    oos: OutOfSample,
    counts: np.ndarray,
    chosen_idx: list[int],
) -> tuple[dict, dict, list[dict], dict]:
    """VaR/CVaR (in and out of sample), stress losses and P(success) of the chosen book."""
    rs = scenario.risk
    alphas = sorted({a for a, _ in ((c.alpha, c.cap) for c in rs.cvar)} | set(rs.report_alphas))
    primary = rs.cvar[0].alpha if rs.cvar else rs.report_alphas[0]
    loss_in = -book_pnl(risk.pnl, counts)
    loss_out = -book_pnl(oos.pnl, counts[chosen_idx]) if chosen_idx else np.zeros(oos.pnl.shape[0])
    table = [
        {
            "confidence": a,
            "horizon_days": risk.horizon_days,
            "var_in_sample": value_at_risk(loss_in, a),
            "cvar_in_sample": cvar(loss_in, a),
            "var_out_of_sample": value_at_risk(loss_out, a),
            "cvar_out_of_sample": cvar(loss_out, a),
        }
        for a in alphas
    ]
    row = next(t for t in table if t["confidence"] == primary)
    var_d = {
        "value": row["var_in_sample"],
        "in_sample": row["var_in_sample"],
        "out_of_sample": row["var_out_of_sample"],
        "confidence": primary,
        "horizon_days": risk.horizon_days,
        "scenarios": risk.kind,
        "n_in_sample": int(risk.pnl.shape[0]),
        "n_out_of_sample": int(oos.pnl.shape[0]),
        "by_confidence": table,
    }
    cvar_d = {
        "value": row["cvar_in_sample"],
        "in_sample": row["cvar_in_sample"],
        "out_of_sample": row["cvar_out_of_sample"],
        "confidence": primary,
        "horizon_days": risk.horizon_days,
    }
    stress_losses = -book_pnl(risk.stress_pnl, counts)
    stress = [
        {"name": n, "loss": float(v)}
        for n, v in zip(risk.stress_labels, stress_losses, strict=True)
    ]
    success: dict = {}
    target = scenario.target.monthly_income
    if risk.managed is not None:
        monthly_in = book_pnl(risk.managed.monthly_samples, counts)
        p_in, lo_in, hi_in, n_in = success_probability(monthly_in, target)
        success = {"in_sample": p_in, "in_sample_ci": [lo_in, hi_in], "n_in_sample": n_in}
        if oos.monthly is not None:
            monthly_out = book_pnl(oos.monthly, counts[chosen_idx])
            p_out, lo, hi, n_out = success_probability(monthly_out, target)
            success.update({"out_of_sample": p_out, "ci": [lo, hi], "n_out_of_sample": n_out})
            success["monthly_out_of_sample"] = monthly_out
            p_req = scenario.target.success_probability
            if p_req is not None:
                # the monthly income the book reaches in a share p of fresh months
                success["income_at_probability"] = float(np.quantile(monthly_out, 1 - p_req))
    return var_d, cvar_d, stress, success


def _win_rates(scenario: Scenario, cs: CandidateSet, risk: RiskData | None, counts) -> list[dict]:
    """Managed-model win rates per strategy (contract-weighted over the book) vs claimed ones."""
    if risk is None or risk.managed is None:
        return []
    m = risk.managed
    out = []
    strat = cs.table["strategy"].to_numpy()
    for name, spec in scenario.strategies.items():
        sel = strat == name
        if not sel.any():
            continue
        w = counts * sel
        basis = "book"
        if w.sum() == 0:
            w = sel.astype(float)
            basis = "all candidates"
        w = w / w.sum()
        out.append(
            {
                "strategy": name,
                "win_rate": float(w @ np.asarray(m.win_rate)),
                "claimed_win_rate": spec.claimed_win_rate,
                "avg_win": float(w @ np.asarray(m.avg_win)),
                "avg_loss": float(w @ np.asarray(m.avg_loss)),
                "avg_days_held": float(w @ np.asarray(m.avg_days_held)),
                "basis": basis,
            }
        )
    return out


def solve_scenario(
    scenario: Scenario, *, backend: str | None = None, min_nlv_search: bool = True
) -> SizingResult:
    """Size a scenario and give its verdict.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    backend : str | None
        ``cvxpy``, ``pulp`` or ``highs``; default from the scenario's ``solver.backend``.
    min_nlv_search : bool
        Run the bisection for the minimum account size.

    Returns
    -------
    SizingResult
        Never raises on solver trouble: the verdict says UNKNOWN with the solver's message.
    """
    t_all = time.perf_counter()
    backend = backend or scenario.solver.backend
    options = SolverOptions(
        time_limit=scenario.solver.time_limit, mip_rel_gap=scenario.solver.mip_gap
    )
    prep = prepare(scenario)
    cs, limits, timings, notes = prep
    target = scenario.target.monthly_income
    p_req = limits.success_probability

    risk = None
    if scenario.risk is not None:
        t0 = time.perf_counter()
        need_managed = scenario.income.model == "managed" or p_req is not None
        risk = build_risk_data(scenario, cs, prep.market, managed=need_managed)
        if scenario.income.model == "managed":
            cs = cs.with_column(
                "expected_monthly_income_per_contract", risk.managed.expected_monthly
            )
        timings["risk_data"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen, problem = solve_sizing(
        cs, limits, scenario.objective, options, backend, target=target, risk=risk
    )
    timings["build"] = time.perf_counter() - t0 - chosen.compile_seconds - chosen.solve_seconds
    timings["compile"] = chosen.compile_seconds
    timings["solve"] = chosen.solve_seconds
    counts = _counts(chosen, len(cs))

    t0 = time.perf_counter()
    max_p, prob_note = None, ""
    chance_ok = True
    book_from = scenario.objective.value
    undecided = False
    if p_req is not None and risk is not None and not chosen.status.has_solution:
        chance_ok = False
        out, max_p, p_upper = _max_probability(cs, limits, risk, options, backend)
        proven = chosen.status is SolveStatus.INFEASIBLE or p_upper < p_req
        undecided = not proven
        found_s = "no book" if max_p != max_p else f"{max_p:.1%}"
        bound_s = (
            ""
            if out is None or out.status is SolveStatus.OPTIMAL
            else (f" (solver stopped at a limit: proven upper bound {p_upper:.1%})")
        )
        if out is not None and out.status.has_solution and max_p > 0:
            counts = _counts(out, len(cs))
            chosen, book_from = out, "max success probability"
            prob_note = (
                f"P(month ≥ target) ≥ {p_req:.0%} "
                + ("is not reachable" if proven else "was not reached within the limits")
                + f" under the caps; the book shown maximizes the in-sample success probability "
                f"({found_s}){bound_s}"
            )
        else:
            fallback, _ = solve_sizing(
                cs,
                limits,
                scenario.objective,
                options,
                backend,
                target=target,
                risk=risk,
                chance=False,
            )
            counts = _counts(fallback, len(cs))
            chosen, book_from = (
                fallback,
                f"{scenario.objective.value} without the chance constraint",
            )
            prob_note = (
                f"P(month ≥ target) ≥ {p_req:.0%} is not reachable: no book under the caps "
                f"reaches the target in any simulated month{bound_s}; the book shown optimizes "
                f"{scenario.objective.value} without the chance constraint"
            )
            max_p = 0.0 if max_p != max_p else max_p
    if scenario.objective is ObjectiveKind.MAX_INCOME and chance_ok:
        inc_problem, inc_outcome = problem, chosen
    else:
        inc_outcome, inc_problem = solve_sizing(
            cs, limits, ObjectiveKind.MAX_INCOME, options, backend, risk=risk, chance=chance_ok
        )
    positions = positions_table(cs.table, counts)
    portfolio = portfolio_metrics(
        positions,
        net_liq=limits.nlv,
        bp_cap=limits.bp_fraction * limits.nlv,
        currency=cs.currency,
    )
    status, best, message = decide(target, inc_outcome, portfolio["expected_monthly_income"])
    binding = ()
    if inc_outcome.status.has_solution and inc_outcome.values is not None:
        relaxed = solve(inc_problem.relaxed(), backend, options)
        duals = relaxed.duals if relaxed.status is SolveStatus.OPTIMAL else None
        binding = binding_caps(inc_problem, inc_outcome.values, duals)
    timings["verdict"] = time.perf_counter() - t0

    stress, success, var_d, cvar_d, monthly_oos = [], {}, None, None, None
    if risk is not None:
        t0 = time.perf_counter()
        chosen_idx = [int(i) for i in np.flatnonzero(counts)]
        oos = evaluate_out_of_sample(
            scenario, cs, prep.market, chosen_idx, managed=risk.managed is not None
        )
        var_d, cvar_d, stress, success = _risk_report(scenario, risk, oos, counts, chosen_idx)
        monthly_oos = success.pop("monthly_out_of_sample", None)
        portfolio["var"], portfolio["cvar"] = var_d, cvar_d
        timings["out_of_sample"] = time.perf_counter() - t0
        if p_req is not None:
            p_in = success.get("in_sample", 0.0)
            if not chance_ok:
                status = VerdictStatus.UNKNOWN if undecided else VerdictStatus.INFEASIBLE
                message = prob_note
            elif status is VerdictStatus.FEASIBLE:
                message += f"; P(month ≥ target) {p_in:.1%} in sample (required {p_req:.0%})"
            max_p = max_p if max_p is not None else p_in

    t0 = time.perf_counter()
    relax = relaxations(cs, limits, options, backend, risk=risk)
    for r in relax:
        r["achievement"] = None if r["max_income"] is None else r["max_income"] / target
    timings["relaxations"] = time.perf_counter() - t0

    min_nlv, note = None, "not searched"
    if min_nlv_search:
        t0 = time.perf_counter()

        def at(nlv: float):
            out = max_income(cs, limits.at_nlv(nlv), options, backend, risk=risk)
            return out.objective_value, out.status

        min_nlv, note = minimum_nlv(at, target, limits.nlv)
        if min_nlv is None and note.startswith("not reachable"):
            note += _caps_at(cs, limits.at_nlv(limits.nlv * 64.0), options, backend)
        if p_req is not None:
            note += " (expected income only; the probability requirement is not part of it)"
        timings["min_nlv"] = time.perf_counter() - t0
    if chosen.status is not SolveStatus.OPTIMAL:
        notes.append(f"objective solve ended {chosen.status.value}: {chosen.message}")
    if prob_note:
        notes.append(prob_note)
    verdict = Verdict(
        status=status,
        target=target,
        max_income=best,
        achievement=(best / target) if best is not None else None,
        chosen_income=portfolio["expected_monthly_income"],
        chosen_achievement=portfolio["expected_monthly_income"] / target,
        binding=binding,
        min_nlv=min_nlv,
        min_nlv_note=note,
        solver_status=inc_outcome.status.value,
        mip_gap=inc_outcome.mip_gap,
        message=message,
        required_probability=p_req,
        success_probability=success.get("out_of_sample"),
        success_probability_in_sample=success.get("in_sample"),
        success_probability_ci=tuple(success["ci"]) if "ci" in success else None,
        max_success_probability=max_p,
        income_at_probability=success.get("income_at_probability"),
        relaxations=tuple(relax),
    )
    candidates = cs.table.copy()
    candidates["contracts"] = counts
    timings["total"] = time.perf_counter() - t_all
    return SizingResult(
        scenario=scenario.name,
        positions=positions,
        portfolio=portfolio,
        allocation=allocation_table(positions, limits.weights, target),
        verdict=verdict,
        candidates=candidates,
        excluded=cs.excluded,
        limits={
            "phase": limits.phase,
            "bp_fraction": limits.bp_fraction,
            "bp_source": limits.bp_source,
            "weights": limits.weights,
            "allocation_tolerance": limits.allocation_tolerance,
            "max_positions": limits.max_positions,
            "group_limit": limits.group_limit,
            "group_excluded": sorted(limits.group_excluded),
            "group_delta_cap": limits.group_delta_cap,
            "strategy_bp_caps": limits.strategy_bp_caps,
            "leverage": limits.leverage,
            "cvar_caps": [list(c) for c in limits.cvar_caps],
            "var_caps": [list(c) for c in limits.var_caps],
            "stress_cap": limits.stress_cap,
            "success_probability": p_req,
        },
        solver={
            "backend": chosen.backend,
            "status": chosen.status.value,
            "objective": scenario.objective.value,
            "book_from": book_from,
            "objective_value": chosen.objective_value,
            "mip_gap": chosen.mip_gap,
            "time_limit": options.time_limit,
            "mip_rel_gap": options.mip_rel_gap,
            "candidates": len(cs),
            "rows": sum(b.m for b in problem.blocks),
        },
        timings=timings,
        notes=tuple(notes),
        market={
            "vix": prep.market.vix,
            "vol_ratio": prep.market.vol_ratio,
            "vol_ratio_source": prep.market.vol_ratio_source,
            "income_model": scenario.income.model,
            "chain_filters": prep.market.filter_reports,
        },
        stress=tuple(stress),
        win_rates=tuple(_win_rates(scenario, cs, risk, counts)),
        scenario_pnl=(
            pd.DataFrame(
                risk.pnl, columns=list(cs.ids), index=pd.Index(risk.labels, name="scenario")
            )
            if risk is not None
            else None
        ),
        monthly_pnl=monthly_oos,
    )
