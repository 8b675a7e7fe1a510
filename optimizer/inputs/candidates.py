"""CandidateSet: the per-unit metrics table the sizing model is built from.

One row per candidate structure, all money per unit (one contract of the structure) in the
account currency after FX. Columns:

``id, strategy, template, underlying, expiry, dte, strikes, currency, fx, multiplier,
credit_per_contract, theta_per_day_per_contract`` (theta per calendar day of the book held over a
month: :func:`normalized_theta`), ``theta_greek_per_contract`` (the raw Greek), ``bp_per_contract, margin_rule, delta_per_contract
(underlying units), cash_delta_per_contract, gamma_per_contract, vega_per_contract (per vol point),
notional_per_contract, max_loss_per_contract, expected_monthly_income_per_contract,
correlation_group``.

``structures`` keeps each chain-based candidate's legs so every number can be recomputed from
:mod:`models` (tests do exactly that).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from models.errors import ModelError, SpecError
from models.income import IncomeModel, monthly_income
from models.instruments import get_instrument
from models.legs import Right
from models.margin.dispatch import margin_requirement
from models.margin.reg_t import fixed as fixed_margin
from models.market.variance_time import VarianceTime, default_variance_time
from models.strategies import (
    Candidate,
    ExpiryRule,
    LegTemplate,
    RuleKind,
    StrikeRule,
    generate_candidates,
    price_structure,
)
from models.valuation import unit_metrics
from optimizer.inputs.candidate_set import CandidateSet
from optimizer.inputs.history import variance_time as measured_variance_time
from optimizer.inputs.market import Market, fx_rate
from optimizer.inputs.spec import Scenario, StrategySpec

__all__ = [
    "CandidateSet",
    "build_candidate_set",
    "held_rows",
    "normalized_theta",
    "seed_expected_value",
]

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "credit_per_contract",
    "theta_per_day_per_contract",
    "bp_per_contract",
    "delta_per_contract",
    "cash_delta_per_contract",
    "gamma_per_contract",
    "vega_per_contract",
    "notional_per_contract",
    "max_loss_per_contract",
    "expected_monthly_income_per_contract",
)


def seed_expected_value(credit: float, win_rate: float, loss_multiple: float) -> float:
    """Seed 1's expected profit per trade (``monthlyIncomeCalculator.js``, domain.md §2e).

    ``credit * win_rate - loss_multiple * credit * (1 - win_rate)``, money per contract.
    """
    return credit * win_rate - loss_multiple * credit * (1.0 - win_rate)


def _theta_share(life_days: float, entries_per_month: float) -> float:
    """Factor turning a unit's theta Greek into theta per calendar day of the book over a month.

    A structure held all month earns its theta every calendar day (factor 1). A 0DTE structure
    (life under a day) has as its "theta per day" its whole remaining decay, earned once per
    trade: ``trades per month / (365.25 / 12)`` calendar days. The income model replaces this
    schedule-based share by the simulated one (:func:`normalized_theta`).
    """
    if life_days >= 1.0:
        return 1.0
    return entries_per_month / (365.25 / 12.0)


def normalized_theta(
    theta_greek: np.ndarray, life_days: np.ndarray, trades_per_month, occupancy
) -> np.ndarray:
    """Theta per calendar day of the book held over a month, from the simulated schedule.

    ``theta_greek * trades_per_month / (365.25/12)`` for 0DTE structures (their Greek is the
    decay per trade), ``theta_greek * occupancy`` (share of the month a unit is open) otherwise.
    Units: money per contract unit per calendar day.
    """
    g = np.asarray(theta_greek, dtype=float)
    intraday = np.asarray(life_days, dtype=float) < 1.0
    per_trade = g * np.asarray(trades_per_month, dtype=float) / (365.25 / 12.0)
    return np.where(intraday, per_trade, g * np.asarray(occupancy, dtype=float))


def _custom_legs(spec: StrategySpec) -> list[LegTemplate]:
    out = []
    for leg in spec.legs or []:
        right = Right(leg.right)
        rule = None
        if right is not Right.UNDERLYING:
            rule = StrikeRule(RuleKind(leg.rule), leg.param, ref=leg.ref, sign=leg.sign)
        out.append(LegTemplate(right, leg.quantity, rule))
    return out


def variance_time(scenario: Scenario, spec: StrategySpec) -> VarianceTime | None:
    """Variance-time shares for a strategy's 0DTE pricing (:mod:`models.market.variance_time`).

    ``None`` (the ``close_to_close`` basis) for non-intraday expiries, ``variance_basis:
    close_to_close``, and the managed model on the lognormal measure (no overnight gaps, so both
    bases coincide). Otherwise measured from ``market.history`` when the scenario gives it, else
    the shipped measurement (``models/data/variance_time.csv``).
    """
    e = spec.expiry
    if e is None or e.intraday_hours is None or e.variance_basis == "close_to_close":
        return None
    if scenario.income.model == "managed" and scenario.income.measure == "lognormal":
        return None
    if scenario.market.history is None:
        return default_variance_time()
    return measured_variance_time(scenario)


def _expiry_rule(spec: StrategySpec) -> ExpiryRule:
    e = spec.expiry
    return ExpiryRule(dte=e.dte, date=e.date, intraday_hours=e.intraday_hours)


def _row_fixed(name: str, spec: StrategySpec, scenario: Scenario) -> list[dict]:
    rows = []
    for i, f in enumerate(spec.fixed or []):
        try:
            group = get_instrument(f.underlying).correlation_group
        except ModelError:
            group = None
        ev = seed_expected_value(f.credit, f.win_rate, f.loss_multiple)
        rows.append(
            {
                "id": f"{name}:{f.underlying}:fixed{i}",
                "strategy": name,
                "template": "fixed",
                "underlying": f.underlying,
                "expiry": pd.NaT,
                "dte": np.nan,
                "strikes": f"credit {f.credit:g}, win {f.win_rate:g}, loss {f.loss_multiple:g}x",
                "currency": scenario.account.currency,
                "fx": 1.0,
                "multiplier": 1.0,
                "credit_per_contract": f.credit,
                "theta_per_day_per_contract": f.theta_per_day,
                "theta_greek_per_contract": f.theta_per_day,
                "bp_per_contract": f.bp_per_unit,
                "margin_rule": f"fixed {f.bp_per_unit:g} {scenario.account.currency} per contract",
                "delta_per_contract": 0.0,
                "cash_delta_per_contract": 0.0,
                "gamma_per_contract": 0.0,
                "vega_per_contract": 0.0,
                "notional_per_contract": 0.0,
                "max_loss_per_contract": f.loss_multiple * f.credit,
                "expected_monthly_income_per_contract": ev * spec.entries_per_month,
                "correlation_group": group,
            }
        )
    return rows


def _margin(spec: StrategySpec, c: Candidate, inst, scenario: Scenario) -> tuple[float, str, str]:
    """BP per unit, its currency and the rule text (per-underlying margin overrides the strategy's).

    ``span`` and ``portfolio`` reprice the candidate's legs with the IVs that priced them
    (``c.ivs``), its time to expiry ``c.t`` and the rates implied by ``c.discount_factor`` and
    ``c.forward``; the futures price for SPAN is ``c.spot``.
    """
    u = spec.underlyings.get(c.underlying)
    m = (u.margin if u is not None else None) or spec.margin
    if m.model in ("reg_t", "span", "portfolio"):
        if m.model == "portfolio" and inst.pm_class is None:
            raise SpecError(
                f"strategies.{c.strategy}.margin: portfolio margin does not apply to "
                f"{c.underlying} (futures options are margined by span)"
            )
        market = {} if m.model == "reg_t" else {"ivs": c.ivs, "t": c.t, "rate": c.rate}
        req = margin_requirement(
            m.model,
            c.legs,
            c.spot,
            inst.multiplier,
            margin_class=inst.margin_class,
            symbol=inst.symbol,
            pm_class=inst.pm_class,
            div_yield=c.div_yield if m.model == "portfolio" else 0.0,
            valuation_time=scenario.valuation_time,
            leverage_factor=inst.leverage_factor,
            **market,
        )
        return req.amount, inst.currency, req.rule
    if m.pct_of_nlv is not None:
        req = fixed_margin(pct_of_nlv=m.pct_of_nlv, nlv=scenario.account.net_liq)
        return req.amount, scenario.account.currency, req.rule
    if c.underlying not in m.per_unit:
        raise SpecError(f"strategies.{c.strategy}.margin.per_unit: no amount for {c.underlying}")
    req = fixed_margin(m.per_unit[c.underlying])
    return req.amount, m.currency or inst.currency, req.rule


def _rows_chain(
    name: str, spec: StrategySpec, scenario: Scenario, market: Market
) -> tuple[list[dict], dict[str, Candidate], list[dict]]:
    rows, structs, excluded = [], {}, []
    model = IncomeModel(scenario.income.model)
    legs = _custom_legs(spec) if spec.template == "custom" else None
    for sym, u in spec.underlyings.items():
        inst = get_instrument(sym)
        fx_inst = fx_rate(scenario, inst.currency)
        try:
            cands = generate_candidates(
                strategy=name,
                template_name=spec.template,
                legs=legs,
                underlying=sym,
                surface=market.surfaces[sym],
                expiry_rule=_expiry_rule(spec),
                grid=u.grid,
                min_credit=spec.min_credit,
                variance_time=variance_time(scenario, spec),
            )
        except ModelError as exc:
            raise SpecError(f"strategies.{name}.underlyings.{sym}: {exc}") from None
        if not cands:
            excluded.append(
                {
                    "id": f"{name}:{sym}",
                    "strategy": name,
                    "underlying": sym,
                    "reason": "no structure on the chain satisfies the strike rules of the grid",
                }
            )
        cost_spec = scenario.costs
        as_of = scenario.tracking.as_of
        for c in cands:
            if as_of is not None and c.expiry.date() <= as_of:
                excluded.append(
                    {
                        "id": c.id,
                        "strategy": name,
                        "underlying": sym,
                        "reason": f"expired by the as-of date {as_of:%Y-%m-%d}",
                    }
                )
                continue
            if cost_spec.max_rel_spread is not None or cost_spec.min_open_interest is not None:
                from models.costs import liquidity_reason

                why = liquidity_reason(
                    c,
                    market.quotes.get(sym),
                    max_rel_spread=cost_spec.max_rel_spread,
                    min_open_interest=cost_spec.min_open_interest,
                )
                if why is not None:
                    excluded.append(
                        {"id": c.id, "strategy": name, "underlying": sym, "reason": why}
                    )
                    continue
            row, why = _candidate_row(name, spec, c, inst, fx_inst, scenario, market, model)
            if row is None:
                excluded.append({"id": c.id, "strategy": name, "underlying": sym, "reason": why})
                continue
            rows.append(row)
            structs[c.id] = c
    return rows, structs, excluded


def _candidate_row(
    name: str,
    spec: StrategySpec,
    c: Candidate,
    inst,
    fx_inst: float,
    scenario: Scenario,
    market: Market,
    model: IncomeModel,
) -> tuple[dict | None, str | None]:
    """The metrics row of one priced candidate, or ``(None, reason)`` when pricing failed."""
    um = unit_metrics(c, inst.multiplier)
    bp, bp_ccy, rule = _margin(spec, c, inst, scenario)
    fx_bp = fx_rate(scenario, bp_ccy)
    if model is IncomeModel.MANAGED:
        income = math.nan  # filled by the income model (optimizer.inputs.income_model)
    else:
        income = monthly_income(
            model,
            candidate=c,
            multiplier=inst.multiplier,
            theta_per_day=um.theta,
            entries_per_month=spec.entries_per_month,
            days_per_month=scenario.income.days_per_month,
            vol_ratio=market.vol_ratio,
        )
    values = (um.credit, um.theta, um.delta, um.cash_delta, um.gamma, um.vega)
    bad_income = not math.isfinite(income) and model is not IncomeModel.MANAGED
    if not all(math.isfinite(v) for v in values) or bad_income:
        return None, "non-finite metric (pricing failed)"
    return (
        {
            "id": c.id,
            "strategy": name,
            "template": spec.template,
            "underlying": c.underlying,
            "expiry": pd.Timestamp(c.expiry),
            "dte": c.t * 365.0,
            "strikes": c.strikes_label,
            "currency": inst.currency,
            "fx": fx_inst,
            "multiplier": inst.multiplier,
            "credit_per_contract": um.credit * fx_inst,
            "theta_per_day_per_contract": um.theta
            * fx_inst
            * _theta_share(c.t * 365.0, spec.entries_per_month),
            "theta_greek_per_contract": um.theta * fx_inst,
            "bp_per_contract": bp * fx_bp,
            "margin_rule": rule,
            "delta_per_contract": um.delta,
            "cash_delta_per_contract": um.cash_delta * fx_inst,
            "gamma_per_contract": um.gamma,
            "vega_per_contract": um.vega * fx_inst,
            "notional_per_contract": um.notional * fx_inst,
            "max_loss_per_contract": um.max_loss * fx_inst,
            "expected_monthly_income_per_contract": income * fx_inst,
            "correlation_group": inst.correlation_group,
        },
        None,
    )


def held_rows(
    scenario: Scenario, market: Market, known: dict[str, int]
) -> tuple[list[dict], dict[str, Candidate], dict[str, int]]:
    """Rows of held positions (``scenario.held``) and the held count per candidate id.

    A held position whose legs equal a generated candidate's gets that candidate's id (``known``
    maps generated ids to row numbers) and adds no row; otherwise it becomes a candidate of its
    own, priced on the scenario's market by :func:`models.strategies.price_structure`.

    Returns
    -------
    (rows, structures, held)
        New candidate rows (columns as in the module docstring, account currency per contract),
        their :class:`~models.strategies.Candidate` by id, and contracts held per candidate id.

    Raises
    ------
    SpecError
        ``held.N…: …`` when a position's underlying has no market data or it cannot be priced
        (no option leg, expiry not after the valuation time, pricing failure).
    """
    rows: list[dict] = []
    structs: dict[str, Candidate] = {}
    held: dict[str, int] = {}
    model = IncomeModel(scenario.income.model)
    for i, h in enumerate(scenario.held):
        spec = scenario.strategies[h.strategy]
        if h.underlying not in market.surfaces:
            raise SpecError(f"held.{i}.underlying: no market data for {h.underlying}")
        try:
            inst = get_instrument(h.underlying)
        except ModelError as exc:
            raise SpecError(f"held.{i}.underlying: {exc}") from None
        expiries = {leg.expiry for leg in h.legs if leg.right != "U"}
        legs = [
            (Right(leg.right), float("nan") if leg.strike is None else leg.strike, leg.quantity)
            for leg in h.legs
        ]
        try:
            c = price_structure(
                strategy=h.strategy,
                template_name=spec.template,
                underlying=h.underlying,
                surface=market.surfaces[h.underlying],
                expiry=next(iter(expiries)),
                legs=legs,
            )
        except (ModelError, StopIteration) as exc:
            raise SpecError(f"held.{i}: cannot price the position on the market: {exc}") from None
        held[c.id] = held.get(c.id, 0) + h.contracts
        if c.id in known or c.id in structs:
            continue
        row, why = _candidate_row(
            h.strategy, spec, c, inst, fx_rate(scenario, inst.currency), scenario, market, model
        )
        if row is None:
            raise SpecError(f"held.{i}: {why}")
        rows.append(row)
        structs[c.id] = c
    return rows, structs, held


def build_candidate_set(
    scenario: Scenario,
    market: Market,
    *,
    allowed_products: dict[str, frozenset[str]] | None = None,
) -> CandidateSet:
    """Generate and evaluate every candidate of every strategy in ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    market : Market
        Surfaces per product.
    allowed_products : dict[str, frozenset[str]] | None
        Per strategy, the products the account phase allows; candidates on other products are
        moved to ``excluded`` with the reason (never dropped silently).

    Returns
    -------
    CandidateSet

    Raises
    ------
    SpecError
        When a strategy's rules cannot be applied (message names the strategy and underlying),
        or when no candidate at all can be built.
    """
    rows: list[dict] = []
    structs: dict[str, Candidate] = {}
    excluded: list[dict] = []
    for name, spec in scenario.strategies.items():
        if spec.template == "fixed":
            r = _row_fixed(name, spec, scenario)
        else:
            r, s, e = _rows_chain(name, spec, scenario, market)
            structs.update(s)
            excluded.extend(e)
        allowed = (allowed_products or {}).get(name)
        for row in r:
            if allowed is not None and row["underlying"] not in allowed:
                excluded.append(
                    {
                        "id": row["id"],
                        "strategy": name,
                        "underlying": row["underlying"],
                        "reason": "product not allowed in this account phase",
                    }
                )
                structs.pop(row["id"], None)
            else:
                rows.append(row)
    held: dict[str, int] = {}
    if scenario.held:
        # a held position is in the book whatever the phase or liquidity filters say
        known = {r["id"]: k for k, r in enumerate(rows)}
        hr, hs, held = held_rows(scenario, market, known)
        rows.extend(hr)
        structs.update(hs)
    if not rows:
        raise SpecError("strategies: no candidate could be built from the scenario")
    table = pd.DataFrame(rows).reset_index(drop=True)
    table["held_contracts"] = table["id"].map(held).fillna(0).astype(int)
    if table["id"].duplicated().any():
        dup = table.loc[table["id"].duplicated(), "id"].iloc[0]
        raise SpecError(f"strategies: duplicate candidate {dup!r}")
    # buying power stated as a fraction of NLV scales with the account (minimum-NLV search)
    frac = [
        _pct_of_nlv(scenario, s, u)
        for s, u in zip(table["strategy"], table["underlying"], strict=True)
    ]
    table["bp_nlv_fraction"] = np.where(
        np.asarray(frac) > 0, table["bp_per_contract"] / scenario.account.net_liq, 0.0
    )
    ex = pd.DataFrame(excluded, columns=["id", "strategy", "underlying", "reason"])
    log.info("built %d candidates (%d excluded)", len(table), len(ex))
    return CandidateSet(table, structs, ex, scenario.account.currency)


def _pct_of_nlv(scenario: Scenario, strategy: str, underlying: str) -> float:
    """The ``margin.pct_of_nlv`` in force for a candidate (0 when its BP is not NLV-based)."""
    spec = scenario.strategies[strategy]
    if spec.template == "fixed":
        return 0.0
    u = spec.underlyings.get(underlying)
    m = u.margin if u is not None and u.margin is not None else spec.margin
    if m is None or m.model != "fixed" or m.pct_of_nlv is None:
        return 0.0
    return float(m.pct_of_nlv)
