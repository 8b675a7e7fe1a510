"""The re-plan of ``thetaplan track``: the rest of the month's solve with the open trades held.

:func:`replan_scenario` is the plan with the open trades as ``held:`` positions, the monthly run
rate as target and ``tracking.as_of`` set (candidates expiring by then are excluded); the re-plan
is refused (status ``stale_chain``) when the scenario's market is more than
``tracking.stale_market_days`` before the as-of date. See :mod:`optimizer.tracking.tracker` for
the remaining-target rule.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from optimizer.inputs.spec import Scenario

__all__ = ["replan", "replan_report", "replan_scenario", "stale_chain"]


def replan_scenario(
    scenario: Scenario, held: list, run_rate_target: float, as_of: date | None = None
) -> Scenario:
    """The scenario of a re-plan: ``held`` positions and the monthly run-rate target.

    Parameters
    ----------
    scenario : Scenario
        The plan.
    held : list of HeldPositionSpec
        Open positions (:func:`held_positions`), fixed from below in the solve.
    run_rate_target : float
        Monthly income the book must earn (account currency per month): the remaining target
        ``× N / r`` (module docstring).
    as_of : date, optional
        The as-of date, stored as ``tracking.as_of``: candidates expiring on or before it are
        excluded.

    Returns
    -------
    Scenario
        A copy with ``held``, ``target.monthly_income`` (and ``tracking.as_of``) replaced; every
        other field kept, so
        ``thetaplan solve`` of it written out equals the re-plan.
    """
    target = scenario.target.model_copy(update={"monthly_income": float(run_rate_target)})
    update = {"held": list(held), "target": target}
    if as_of is not None:
        update["tracking"] = scenario.tracking.model_copy(update={"as_of": as_of})
    return scenario.model_copy(update=update)


def replan(
    report: dict,
    scenario: Scenario,
    held: list,
    plan,
    total: float,
    days: tuple[int, int, date],
    diagnostics_level: str,
    on_replan,
) -> None:
    """Fill ``report``'s plan theta, ``replan`` and ``rebalance`` (the rest of the month's solve).

    Parameters
    ----------
    report : dict
        The tracker's report (:func:`optimizer.tracking.tracker.track`), filled in place:
        ``theta_per_day.plan`` (account currency per calendar day), ``replan`` (status
        ``month_over``, ``target_met``, ``stale_chain`` or the verdict's, see
        :func:`replan_report`) and ``rebalance``.
    scenario : Scenario
        The plan.
    held : list of HeldPositionSpec
        The open trades.
    plan : SizingResult | None
        The plan's solve when at hand (else solved here, ``light``).
    total : float
        Month-to-date income, account currency.
    days : (int, int, date)
        Trading days in the month, trading days remaining, the as-of date.
    diagnostics_level : str
        Diagnostics of the re-plan's solve (``full`` or ``light``).
    on_replan : callable or None
        Called with the re-plan's scenario before it is solved.
    """
    from optimizer.pipeline import solve_scenario

    n, remaining, as_of = days
    target = float(scenario.target.monthly_income or 0.0)
    if plan is None:
        plan = solve_scenario(scenario, diagnostics_level="light", min_nlv_search=False)
    report["theta_per_day"]["plan"] = float(plan.portfolio["theta_per_day"])
    remaining_target = target - total
    if remaining == 0:
        report["replan"] = {
            "status": "month_over",
            "message": "no trading day left in the month",
            "remaining_target": remaining_target,
        }
        return
    if remaining_target <= 0:
        report["replan"] = {
            "status": "target_met",
            "message": f"month-to-date income {total:,.0f} already meets the target",
            "remaining_target": remaining_target,
        }
        return
    stale = stale_chain(scenario, as_of)
    if stale is not None:
        report["replan"] = {**stale, "remaining_target": remaining_target}
        return
    run_rate = remaining_target * n / remaining
    sc = replan_scenario(scenario, held, run_rate, as_of)
    if on_replan is not None:
        on_replan(sc)
    res = solve_scenario(sc, diagnostics_level=diagnostics_level, min_nlv_search=False)
    report["replan"] = replan_report(res, remaining_target, run_rate, remaining / n)
    report["rebalance"] = _rebalance(sc, res)


def stale_chain(scenario: Scenario, as_of: date) -> dict | None:
    """The re-plan's refusal when the scenario's market is too old to size new trades on.

    The re-plan's candidates are the scenario's chain's structures at its quotes; a market more
    than ``tracking.stale_market_days`` calendar days before ``as_of`` prices them on old quotes
    and offers contracts that have since expired. Returns ``None`` when the market is recent
    enough, else the ``replan`` document with status ``stale_chain`` and ``needs_chain_dated``
    (the earliest valuation date the re-plan accepts).
    """
    from datetime import timedelta

    days = scenario.tracking.stale_market_days
    valued = scenario.valuation_time.date()
    if (as_of - valued).days <= days:
        return None
    needed = as_of - timedelta(days=days)
    return {
        "status": "stale_chain",
        "catch_up": False,
        "needs_chain_dated": needed.isoformat(),
        "message": (
            f"no re-plan: it needs a chain dated {needed:%Y-%m-%d} or later (the scenario's "
            f"market is of {valued:%Y-%m-%d}, {(as_of - valued).days} days before the as-of "
            f"date {as_of:%Y-%m-%d}; tracking.stale_market_days is {days}); point "
            "market.chains at a current chain (thetaplan data fetch) and run track again"
        ),
        "positions": [],
    }


def replan_report(res, remaining_target: float, run_rate: float, fraction: float) -> dict:
    """JSON of a re-plan solve: the trades to add (``positions``), held positions, verdict.

    Parameters
    ----------
    res : SizingResult
        Solve of :func:`replan_scenario`.
    remaining_target : float
        Income still needed this month (account currency).
    run_rate : float
        The monthly run rate asked of the book (account currency per month).
    fraction : float
        Remaining trading days / trading days in the month.

    Returns
    -------
    dict
        ``status`` (the verdict's), ``catch_up`` (bool), ``message`` (the trades to add, or "no
        feasible catch-up under the caps" with the joint minimal relaxation), ``positions``
        (``solve --json`` rows with ``contracts_to_add`` > 0), ``held``, ``remaining_target``,
        ``run_rate_target``, ``remaining_fraction``, ``expected_remaining_income`` (the book's
        expected monthly income × ``fraction``), ``verdict``, ``portfolio``.
    """
    doc = res.to_dict()
    positions = []
    held = []
    for p in doc["positions"]:
        add = int(p["contracts"]) - int(p.get("held_contracts", 0))
        if p.get("held_contracts", 0):
            held.append(p)
        if add > 0:
            positions.append({**p, "contracts_to_add": add})
    v = doc["verdict"]
    feasible = v["status"] == "FEASIBLE"
    expected = float(doc["portfolio"]["expected_monthly_income"]) * fraction
    if feasible:
        msg = (
            f"catch-up: add {sum(p['contracts_to_add'] for p in positions)} contracts; the book "
            f"expects {expected:,.0f} over the remaining {fraction:.0%} of the month "
            f"(needed {remaining_target:,.0f})"
        )
    else:
        relax = v.get("minimal_relaxation") or []
        msg = "no feasible catch-up under the caps" + (
            ": the smallest joint relaxation that admits the target: "
            + "; ".join(
                f"{r['cap']} {r['bound']:.4g} → {r['needed']:.4g} {r.get('unit', '')}".rstrip()
                for r in relax
            )
            if relax
            else ""
        )
    return {
        "status": v["status"],
        "catch_up": feasible,
        "message": msg,
        "remaining_target": remaining_target,
        "run_rate_target": run_rate,
        "remaining_fraction": fraction,
        "expected_remaining_income": expected,
        "positions": positions,
        "held": held,
        "verdict": v,
        "portfolio": doc["portfolio"],
    }


def _rebalance(sc: Scenario, res) -> dict | None:
    """The allocator's advice for the held positions on the re-plan's candidates."""
    try:
        from optimizer.tracking.allocator import rebalance
    except ImportError:  # pragma: no cover - the allocator ships with the tracker
        return None
    from optimizer.formulation.families.bounds import count_upper_bounds
    from optimizer.pipeline import prepare
    from optimizer.verdict.result import jsonable

    prep = prepare(sc)
    cs, limits = prep.candidates, prep.limits
    held = cs.col("held_contracts").astype(int)
    if held.sum() == 0 or not sc.allocation.enabled:
        return None
    weights = dict(limits.weights)
    missing = sorted(set(weights) - set(cs.table["strategy"]))
    if missing:  # e.g. every 0DTE candidate expired by the as-of date
        return {
            "status": "infeasible",
            "message": (
                f"no rebalance: {', '.join(missing)} has no candidate on the re-plan's market "
                "(see the excluded candidates), so its allocation band cannot be restored"
            ),
            "adds": [],
            "added_bp": 0.0,
            "shares_before": {},
            "shares_after": {},
        }
    ub = count_upper_bounds(cs, limits)
    bp = cs.col("bp_per_contract")
    advice = rebalance(
        strategy=cs.table["strategy"].to_numpy(),
        income=cs.col("expected_monthly_income_per_contract"),
        bp=bp,
        held=held,
        max_add=np.maximum(ub - held, 0).astype(int),
        weights=weights,
        tolerance=sc.allocation.tolerance,
        bp_available=max(limits.bp_fraction * limits.nlv - float(bp @ held), 0.0),
    )
    adds = [
        {"id": cs.ids[i], "strategy": cs.table["strategy"].iat[i], "contracts_to_add": int(a)}
        for i, a in enumerate(advice.adds)
        if a > 0
    ]
    return {
        "status": advice.status,
        "message": advice.message,
        "adds": adds,
        "added_bp": float(advice.added_bp),
        "shares_before": jsonable(dict(advice.shares_before)),
        "shares_after": jsonable(dict(advice.shares_after)),
    }
