"""The 0DTE sleeve under both variance bases, and its edge against the implied/realized ratio.

A 0DTE trade's implied variance is read off the chain's first listed expiry
(:mod:`models.market.variance_time`): on the ``session`` basis (default) with the overnight and weekend
variance removed by the measured variance-time model, on the ``close_to_close`` basis with all of
it attributed to the session. The realized move the income model gives the trade is the session's
own open-to-close move on both. This module prices the book's 0DTE structures (the same strategy
parameters: short delta, wing width) on both bases and simulates them on one common path set, and
re-prices the session-basis structure with its IVs scaled so that the implied/realized session
variance ratio

``rho = atm_iv**2 * t / (sigma_day**2 * c**2 * hours / 6.5)``

(implied total variance to the close over the income model's expected session variance for the
trade at today's VIX: ``sigma_day`` the measure's daily vol, ``c**2`` its session share) takes the
values of a grid; the expected gross and net P&L per trade against ``rho`` give the edge's
sensitivity and its break-even ratio (the ratio at which the trade's expectation is zero).

Money: account currency per contract unit of the structure; per trade and per month.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.strategies import Candidate, ExpiryRule, generate_candidates
from optimizer.inputs.candidates import CandidateSet, variance_time
from optimizer.inputs.income_model import session_daily_vol, simulate_income
from optimizer.inputs.market import Market
from optimizer.inputs.spec import Scenario

__all__ = ["RATIO_GRID", "variance_basis_report"]

#: Implied/realized session variance ratios of the sensitivity table.
RATIO_GRID: tuple[float, ...] = (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 2.0)


def _realized_session_variance(scenario: Scenario, market: Market, hours: float) -> float:
    """Expected session variance of a ``hours``-long 0DTE trade under the income model."""
    sigma, c = session_daily_vol(scenario, market, market.vix)
    return float(sigma) ** 2 * c * c * hours / 6.5


def _scaled(c: Candidate, factor: float, tag: str) -> Candidate:
    """``c`` with every IV (legs and ATM) multiplied by ``factor``; a new id."""
    return dataclasses.replace(
        c,
        id=f"{c.id} [{tag}]",
        atm_iv=c.atm_iv * factor,
        ivs=tuple(v * factor for v in c.ivs),
    )


def _same_params(scenario: Scenario, market: Market, c: Candidate, basis: str) -> Candidate | None:
    """The structure with ``c``'s strategy parameters priced on ``basis``."""
    spec = scenario.strategies[c.strategy]
    e = spec.expiry
    as_basis = spec.model_copy(update={"expiry": e.model_copy(update={"variance_basis": basis})})
    vt = variance_time(scenario, as_basis)
    cands = generate_candidates(
        strategy=c.strategy,
        template_name=spec.template,
        legs=None,
        underlying=c.underlying,
        surface=market.surfaces[c.underlying],
        expiry_rule=ExpiryRule(intraday_hours=e.intraday_hours),
        grid={k: [v] for k, v in c.params.items()},
        variance_time=vt,
    )
    if not cands:
        return None
    out = cands[0]
    return dataclasses.replace(out, id=f"{out.id} [{basis}]")


def _break_even(ratios: Sequence[float], edge: Sequence[float]) -> float | None:
    """Smallest ratio at which ``edge`` crosses zero from below (linear interpolation)."""
    r, e = np.asarray(ratios, float), np.asarray(edge, float)
    for i in range(len(r) - 1):
        if e[i] <= 0.0 < e[i + 1] or e[i] >= 0.0 > e[i + 1]:
            return float(r[i] + (r[i + 1] - r[i]) * (0.0 - e[i]) / (e[i + 1] - e[i]))
    return None


def _zero_dte_positions(scenario: Scenario, cs: CandidateSet, counts: np.ndarray):
    """The book's 0DTE positions ``[(row, candidate, strategy spec)]`` and ``"book"``; without
    one, the 0DTE candidate of highest expected income and ``"best_candidate"``; ``None`` when
    the scenario has no 0DTE candidate."""

    def intraday(c: Candidate | None):
        if c is None:
            return None
        spec = scenario.strategies[c.strategy]
        if spec.expiry is None or spec.expiry.intraday_hours is None or spec.template == "custom":
            return None
        return spec

    held = [
        (i, c, spec)
        for i, cid in enumerate(cs.ids)
        if counts[i] > 0 and (spec := intraday(c := cs.structures.get(cid))) is not None
    ]
    source = "book"
    if not held:  # no 0DTE position: the 0DTE candidate with the highest expected income
        pool = [
            (i, c, spec)
            for i, cid in enumerate(cs.ids)
            if (spec := intraday(c := cs.structures.get(cid))) is not None
        ]
        if not pool:
            return None
        inc = cs.col("expected_monthly_income_per_contract")
        held = [max(pool, key=lambda x: inc[x[0]])]
        source = "best_candidate"
    return held, source


def _variants(
    scenario: Scenario,
    market: Market,
    cs: CandidateSet,
    held: list,
    ratios: Sequence[float],
) -> tuple[dict, list[dict], list]:
    """Per position: the structure on both variance bases and re-priced at each ratio.

    Returns the structures by id, their candidate rows and the plan
    ``[(row, candidate, variants by basis, today's ratio, [(ratio, structure)])]``.
    """
    structs: dict[str, Candidate] = {}
    rows: list[dict] = []
    plan = []
    for i, c, spec in held:
        hours = float(spec.expiry.intraday_hours)
        base = cs.table.iloc[i].to_dict()
        own = spec.expiry.variance_basis
        variants = {own: dataclasses.replace(c, id=f"{c.id} [{own}]")}  # the candidate itself
        other = "close_to_close" if own == "session" else "session"
        v = _same_params(scenario, market, c, other)
        if v is not None:
            variants[other] = v
        ref = variants.get(own)
        realized = _realized_session_variance(scenario, market, hours)
        rho0 = None
        sens = []
        if ref is not None and realized > 0:
            rho0 = ref.atm_iv**2 * ref.t / realized
            grid = sorted({*(float(r) for r in ratios), rho0})
            for r in grid:
                sens.append((r, _scaled(ref, math.sqrt(r / rho0), f"rho={r:.6g}")))
        for cand in [*variants.values(), *(s for _, s in sens)]:
            structs[cand.id] = cand
            rows.append({**base, "id": cand.id})
        plan.append((i, c, variants, rho0, sens))
    return structs, rows, plan


def variance_basis_report(
    scenario: Scenario,
    market: Market,
    cs: CandidateSet,
    counts: np.ndarray,
    *,
    ratios: Sequence[float] = RATIO_GRID,
) -> dict | None:
    """The book's 0DTE positions on both variance bases and their edge against ``rho``.

    Parameters
    ----------
    scenario, market, cs
        The solved scenario, its market and candidates.
    counts : np.ndarray
        (K,) contracts of the book, in ``cs`` order.
    ratios : Sequence[float]
        Implied/realized session variance ratios of the sensitivity table.

    Returns
    -------
    dict | None
        ``None`` when the scenario has no intraday (0DTE) chain-based candidate. Otherwise
        ``{basis, source, positions: [...], sleeve: {session, close_to_close}, note}``:
        ``source`` is ``book`` (the book's 0DTE positions) or ``best_candidate`` (the book holds
        none: the 0DTE candidate with the highest expected income, ``contracts`` 0); per position:
        ``id, contracts, variance_ratio`` (today's ``rho`` on the scenario's basis),
        ``bases.{session, close_to_close}`` with ``strikes, credit_per_contract,
        expected_trade_gross, expected_trade_net, win_rate, expected_monthly_gross,
        expected_monthly_net`` (account currency per contract), and ``sensitivity`` rows
        ``{ratio, expected_trade_gross, expected_trade_net}`` with the break-even ratios.

    Raises
    ------
    SpecError
        Missing histories for the ``session`` basis (from :func:`optimizer.inputs.candidates.variance_time`).
    """
    counts = np.asarray(counts, dtype=float)
    picked = _zero_dte_positions(scenario, cs, counts)
    if picked is None:
        return None
    held, source = picked
    structs, rows, plan = _variants(scenario, market, cs, held, ratios)
    mini = CandidateSet(pd.DataFrame(rows).reset_index(drop=True), structs, currency=cs.currency)
    sim = simulate_income(scenario, mini, market).result
    at = {cid: j for j, cid in enumerate(mini.ids)}

    def stats(cid: str) -> dict:
        j = at[cid]
        return {
            "expected_trade_gross": float(sim.expected_trade_gross[j]),
            "expected_trade_net": float(sim.expected_trade[j]),
            "win_rate": float(sim.win_rate[j]),
            "expected_monthly_gross": float(sim.expected_monthly_gross[j]),
            "expected_monthly_net": float(sim.expected_monthly[j]),
        }

    positions, sleeve = [], {"session": [0.0, 0.0], "close_to_close": [0.0, 0.0]}
    for i, c, variants, rho0, sens in plan:
        n = float(counts[i])
        bases = {}
        for basis, v in variants.items():
            mult = float(cs.table.iloc[i]["multiplier"]) * float(cs.table.iloc[i]["fx"])
            credit = sum(-leg.quantity * leg.price for leg in v.legs)
            bases[basis] = {
                "strikes": v.strikes_label,
                "credit_per_contract": credit * mult,
                **stats(v.id),
            }
            sleeve[basis][0] += n * bases[basis]["expected_monthly_gross"]
            sleeve[basis][1] += n * bases[basis]["expected_monthly_net"]
        table = [
            {
                "ratio": r,
                "today": r == rho0,
                **{k: stats(s.id)[k] for k in ("expected_trade_gross", "expected_trade_net")},
            }
            for r, s in sens
        ]
        positions.append(
            {
                "id": c.id,
                "contracts": n,
                "variance_ratio": rho0,
                "bases": bases,
                "sensitivity": table,
                "break_even_ratio_gross": _break_even(
                    [t["ratio"] for t in table], [t["expected_trade_gross"] for t in table]
                ),
                "break_even_ratio_net": _break_even(
                    [t["ratio"] for t in table], [t["expected_trade_net"] for t in table]
                ),
            }
        )
    return {
        "basis": held[0][2].expiry.variance_basis,
        "source": source,
        "positions": positions,
        "sleeve": {
            b: {"expected_monthly_gross": g, "expected_monthly_net": nn}
            for b, (g, nn) in sleeve.items()
        },
        "note": (
            "0DTE structures with the book's strategy parameters priced on both variance bases "
            "(models.market.variance_time) and simulated on one common path set; sensitivity: the "
            "session-basis structure re-priced at implied/realized session variance ratios"
        ),
    }
