"""Prepare a scenario: market, caps in force, candidates and the income simulation (cached).

Everything a solve needs before any solver runs (:func:`prepare`), the cache that lets a study's
points share candidates and simulations, and the rule that moves candidates and caps with the
account size (:func:`rule_for`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from optimizer.formulation.families import check_sections
from optimizer.inputs.candidates import CandidateSet, build_candidate_set, normalized_theta
from optimizer.inputs.income_model import (
    IncomeSimulation,
    market_key,
    physical_measure,
    simulate_income,
)
from optimizer.inputs.limits import Limits, allowed_products, resolve_limits
from optimizer.inputs.market import Market, build_market, market_vix
from optimizer.inputs.nlv_rule import NlvRule
from optimizer.inputs.risk_model import RiskData
from optimizer.inputs.spec import Scenario

__all__ = ["Prepared", "clear_cache", "prepare", "rule_for"]


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
    income : IncomeSimulation | None
        The income model's simulation of the chain-based candidates (``managed`` model), whose
        net expected monthly income is the candidates' ``expected_monthly_income_per_contract``.
    """

    candidates: CandidateSet
    limits: Limits
    market: Market
    timings: dict[str, float]
    notes: list[str]
    income: IncomeSimulation | None = None

    def __iter__(self):
        """Unpack as ``(candidates, limits, timings, notes)``."""
        return iter((self.candidates, self.limits, self.timings, self.notes))


#: Candidates, market and income simulations of recent scenarios, by :func:`_market_key`
#: (a study's points that differ only in account size or caps share them).
_PREPARED: OrderedDict[str, tuple] = OrderedDict()
_PREPARED_SIZE = 2


def _market_key(scenario: Scenario, phase: int) -> str:
    """What the candidates and the income simulation depend on (not NLV, not the caps).

    :func:`optimizer.inputs.income_model.market_key` plus the phase and the products it allows. Buying
    power stated as a fraction of NLV is rescaled by :meth:`CandidateSet.at_nlv`.
    """
    extra = {"phase": phase, "products_by_phase": scenario.positions.products_by_phase}
    return market_key(scenario) + json.dumps(extra, sort_keys=True)


def clear_cache() -> None:
    """Forget the cached candidates, income simulations and risk data (studies reuse them)."""
    from optimizer.inputs import risk_model

    _PREPARED.clear()
    risk_model.clear_cache()


def prepare(scenario: Scenario, *, cache: bool = True) -> Prepared:
    """Market, caps and candidates of a scenario, with stage timings and notes.

    With ``cache`` the market, candidates and income simulation of the last scenarios that share
    everything but the account size and the caps are reused (``timings["cached"] = 1``): the
    income model is seeded, so the reuse returns exactly what a fresh run would.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if scenario.market.vix is None:  # resolved from the VIX history at the chains' quote date
        scenario = scenario.model_copy(
            update={"market": scenario.market.model_copy(update={"vix": market_vix(scenario)})}
        )
    caps = check_sections(scenario.caps)
    limits = dataclasses.replace(resolve_limits(scenario), extra=caps)
    key = _market_key(scenario, limits.phase) if cache else None
    if key is not None and key in _PREPARED:
        _PREPARED.move_to_end(key)
        market, cs, income = _PREPARED[key]
        cs = cs.at_nlv(scenario.account.net_liq)
        timings.update({"market": 0.0, "candidates": time.perf_counter() - t0, "cached": 1.0})
    else:
        market = build_market(scenario)
        timings["market"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cs = build_candidate_set(
            scenario, market, allowed_products=allowed_products(scenario, limits.phase)
        )
        timings["candidates"] = time.perf_counter() - t0
        income = None
        if scenario.income.model == "managed":
            rows = [i for i, c in enumerate(cs.ids) if c in cs.structures]
            if rows:
                t0 = time.perf_counter()
                income = simulate_income(scenario, cs, market, rows)
                cs = _with_income(cs, income, rows)
                timings["income"] = time.perf_counter() - t0
        if key is not None:
            _PREPARED[key] = (market, cs, income)
            while len(_PREPARED) > _PREPARED_SIZE:
                _PREPARED.popitem(last=False)
    fixed = [n for n, s in scenario.strategies.items() if s.template == "fixed"]
    notes = [
        (
            f"{', '.join(fixed)}: stated per-contract economics (seed 1 EV formula); "
            if fixed
            else ""
        )
        + f"income model: {scenario.income.model}"
        + (
            f" ({scenario.income.days_per_month:g} days per month; seed 1's convention)"
            if scenario.income.model == "theta"
            else (
                f" (managed trades, net of costs, on {physical_measure(scenario, market)})"
                if income is not None
                else " (no chain-based candidate to simulate)"
            )
        ),
        f"BP cap {limits.bp_fraction:.1%} of NLV: {limits.bp_source}",
        f"allocation weights: {limits.weight_note}",
        *limits.notes,
    ]
    return Prepared(cs, limits, market, timings, notes, income)


def _with_income(cs: CandidateSet, income: IncomeSimulation, rows: list[int]) -> CandidateSet:
    """Candidates with the income model's per-contract figures in their columns.

    ``expected_monthly_income_per_contract`` (net of costs), ``..._gross_per_contract``,
    ``costs_per_month_per_contract`` and ``theta_per_day_per_contract`` normalized by the
    simulated schedule (:func:`optimizer.inputs.candidates.normalized_theta`). Fixed-economics rows keep
    their stated figures (gross = net, no cost line).
    """
    r = income.result
    table = cs.table.copy()
    net = table["expected_monthly_income_per_contract"].to_numpy(dtype=float).copy()
    gross = net.copy()
    cost = np.zeros(len(table))
    theta = table["theta_per_day_per_contract"].to_numpy(dtype=float).copy()
    idx = np.asarray(rows, dtype=int)
    net[idx] = r.expected_monthly
    gross[idx] = r.expected_monthly_gross
    cost[idx] = np.asarray(r.costs_monthly).sum(axis=1)
    greek = table["theta_greek_per_contract"].to_numpy(dtype=float)[idx]
    life = table["dte"].to_numpy(dtype=float)[idx]
    theta[idx] = normalized_theta(greek, life, r.trades_per_month, r.occupancy)
    table["expected_monthly_income_per_contract"] = net
    table["expected_monthly_income_gross_per_contract"] = gross
    table["costs_per_month_per_contract"] = cost
    table["theta_per_day_per_contract"] = theta
    return CandidateSet(table, cs.structures, cs.excluded, cs.currency)


def rule_for(scenario: Scenario, prep, risk: RiskData | None) -> NlvRule:
    """The :class:`NlvRule` of a prepared scenario (``positions.scale_with_nlv`` decides it).

    Parameters
    ----------
    scenario : Scenario
        The scenario (its VIX is resolved from ``prep`` when not stated).
    prep : optimizer.pipeline.Prepared
        Its prepared candidates, caps and market.
    risk : RiskData | None
        Its risk data.

    Returns
    -------
    NlvRule
        Candidates, caps and risk data at any account size; a phase whose products differ is
        prepared (:func:`optimizer.pipeline.prepare`, cached) on first use.
    """
    sc = scenario
    if sc.market.vix is None:
        sc = sc.model_copy(update={"market": sc.market.model_copy(update={"vix": prep.market.vix})})

    def build(phase: int) -> tuple[CandidateSet, RiskData | None]:
        from optimizer.inputs.risk_model import build_risk_data

        other = sc.model_copy(update={"account": sc.account.model_copy(update={"phase": phase})})
        p = prepare(other)
        rk = None
        if risk is not None:
            managed = p.income.result if p.income is not None else None
            rk = build_risk_data(other, p.candidates, p.market, managed=managed)
        return p.candidates, rk

    return NlvRule(sc, prep.candidates, prep.limits, risk, bool(sc.positions.scale_with_nlv), build)
