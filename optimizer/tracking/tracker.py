"""Monthly progress tracker: month-to-date income from the ledger, alerts, and the re-plan.

:func:`track` reads a ledger (:mod:`optimizer.tracking.ledger`) at an as-of date against a scenario (the
plan: account, target, allocation, caps, market) and returns a JSON-ready report:

* ``month_to_date``: realized and unrealized income per strategy, marked to market
  (:func:`optimizer.tracking.ledger.month_to_date`), its daily series and each strategy's share
  (``share``: of the net total, ``None`` unless the total is positive; ``share_of_gross``: its
  signed P&L over ``gross``, the sum of every strategy's absolute P&L, so within ±100% even when
  gains and losses cancel — what the reports show);
* ``pro_rata_target``: ``target × e / N`` after ``e`` of the month's ``N`` NYSE trading days;
* ``theta_per_day``: the Greek theta of the open positions now (per calendar day, account
  currency) beside the plan book's theta per calendar day held over a month;
* ``alerts``: ``{code, severity, message, …}`` — ``behind_pro_rata``, ``allocation_band``,
  ``bp_above_cap`` (buying power of the open positions above the VIX-table cap at the as-of
  VIX), ``correlation_group`` / ``group_risk`` (domain.md §6), ``drawdown`` / ``daily_loss`` /
  ``vix`` (the TK drawdown protocol and escalation levels, ``models/data/drawdown_protocol.csv``),
  ``stale_market``, ``unknown_strategy`` and ``unpriced_position`` (an open trade the scenario's
  market cannot price: an underlying it has no data for, or an expiry not after its valuation);
* ``replan``: the sizing problem re-solved with the open positions held (``held:``, their count
  fixed from below, so they use their share of every cap) and the remaining target, reported as
  the trades to add, or the verdict's relaxation when no catch-up fits the caps;
* ``rebalance``: the allocator's advice (:func:`optimizer.tracking.allocator.rebalance`) for the open
  positions.

Remaining target and horizon
----------------------------
With month-to-date income ``m``, target ``T`` and ``r`` of ``N`` trading days left, the re-plan
needs ``R = T − m`` more. The income model prices whole months, so the re-plan asks the book for
the monthly run rate ``R × N / r`` (``run_rate_target``): a book earning that rate earns ``R``
over the remaining ``r`` days when its income accrues evenly over trading days. This is the
approximation the re-plan rests on (a held position is valued at its steady-state monthly
rate, not at what is left of its own decay).

Equity for the drawdown protocol is ``account.net_liq`` (the net liquidation value at the start
of the month) plus month-to-date income; the drawdown is measured from the month's running peak.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date

import numpy as np

from models.calendar import month_trading_days
from models.errors import SpecError
from optimizer.inputs.spec import HeldPositionSpec, Scenario
from optimizer.tracking.alerts import alert, drawdown_alerts, exposure_alerts, progress_alerts
from optimizer.tracking.ledger import month_to_date_series, open_trades, quote_on

__all__ = ["MonthDay", "as_of_market", "held_positions", "replan_scenario", "track"]


@dataclass(frozen=True)
class MonthDay:
    """Month-to-date income at the close of one trading day (account currency)."""

    day: date
    per_strategy: dict[str, float]
    realized: float
    unrealized: float
    split: dict[str, dict[str, float]]  # strategy -> {"realized", "unrealized"}

    @property
    def total(self) -> float:
        """Realized plus unrealized."""
        return self.realized + self.unrealized


def held_positions(conn: sqlite3.Connection, as_of: date, strategies) -> tuple[list, list[dict]]:
    """Open trades at the end of ``as_of`` as ``held:`` entries of a scenario.

    Returns
    -------
    (held, skipped)
        :class:`~optimizer.inputs.spec.HeldPositionSpec` list (ledger order) and the open trades whose
        strategy the scenario does not have (``{id, strategy}``).
    """
    held, skipped = [], []
    for t in open_trades(conn, as_of):
        if t["strategy"] not in strategies:
            skipped.append({"id": t["external_id"], "strategy": t["strategy"]})
            continue
        legs = []
        for leg in t["legs"]:
            q = float(leg["quantity"])
            legs.append(
                {
                    "right": leg["right"],
                    "quantity": int(q) if q == int(q) else q,
                    "strike": leg["strike"],
                    "expiry": leg["expiry"],
                }
            )
        held.append(
            HeldPositionSpec(
                strategy=t["strategy"],
                underlying=t["underlying"],
                contracts=int(t["contracts"]),
                legs=legs,
                id=t["external_id"],
            )
        )
    return held, skipped


def replan_scenario(scenario: Scenario, held: list, run_rate_target: float) -> Scenario:
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

    Returns
    -------
    Scenario
        A copy with ``held`` and ``target.monthly_income`` replaced; every other field kept, so
        ``thetaplan solve`` of it written out equals the re-plan.
    """
    target = scenario.target.model_copy(update={"monthly_income": float(run_rate_target)})
    return scenario.model_copy(update={"held": list(held), "target": target})


def _series(conn, days: list[date]) -> list[MonthDay]:
    return [
        MonthDay(
            d,
            {s: v["realized"] + v["unrealized"] for s, v in m.items()},
            sum(v["realized"] for v in m.values()),
            sum(v["unrealized"] for v in m.values()),
            m,
        )
        for d, m in zip(days, month_to_date_series(conn, days), strict=True)
    ]


def _vix_at(conn, scenario: Scenario, as_of: date) -> tuple[float, str]:
    q = quote_on(conn, "VIX", as_of)
    if q is not None:
        return q[1], f"ledger quote of {q[0]}"
    return float(scenario.market.vix), "the scenario's market.vix"


def as_of_market(
    conn: sqlite3.Connection, scenario: Scenario, market, as_of: date, vix: float
) -> tuple:
    """The scenario's market carried to the close of ``as_of`` for valuing open positions.

    Every surface becomes a :class:`models.market.surfaces.MovedSurface` at 16:00 on ``as_of``: its
    price from the ledger's quote of the symbol (latest within 5 days), else, for the S&P 500
    products (SPX, XSP, ES, MES …), the SPX quote × the product's ratio to SPX, else unchanged;
    the S&P 500 products' implied vols × ``vix / market.vix`` (the ``proportional`` VIX rule),
    other products' unchanged. An ``as_of`` not after the scenario's valuation date keeps the
    scenario's market.

    Returns
    -------
    (Market, datetime, str)
        The market, its valuation time and a one-line description of what moved.
    """
    import dataclasses
    from datetime import datetime, time

    from models.market.surfaces import MovedSurface
    from optimizer.inputs.income_model import SP500_FAMILY

    when = datetime.combine(as_of, time(16, 0))
    if when <= scenario.valuation_time:
        return market, scenario.valuation_time, "valued on the scenario's market"
    spx = quote_on(conn, "SPX", as_of)
    spx_surface = market.surfaces.get("SPX")
    moved, sources = {}, []
    for sym, surf in market.surfaces.items():
        own = quote_on(conn, sym, as_of)
        if own is not None:
            spot = own[1]
            sources.append(f"{sym} {spot:,.2f}")
        elif sym in SP500_FAMILY and spx is not None and spx_surface is not None:
            spot = surf.spot * spx[1] / spx_surface.spot
        else:
            spot = surf.spot
        scale = vix / market.vix if sym in SP500_FAMILY else 1.0
        moved[sym] = MovedSurface(surf, spot=spot, valuation_time=when, vol_scale=scale)
    if spx is not None and "SPX" not in {s.split()[0] for s in sources}:
        sources.append(f"SPX {spx[1]:,.2f}")
    how = (
        f"valued at the {as_of:%Y-%m-%d} close: the {scenario.valuation_time:%Y-%m-%d} smile at "
        f"sticky moneyness, "
        + (f"prices from ledger quotes ({', '.join(sources)})" if sources else "prices unchanged")
        + f", S&P 500 vols × VIX {vix:.2f} / {market.vix:.2f}"
    )
    return dataclasses.replace(market, surfaces=moved), when, how


def track(
    conn: sqlite3.Connection,
    scenario: Scenario,
    as_of: date,
    *,
    replan: bool = True,
    plan=None,
    diagnostics_level: str = "full",
    on_replan=None,
) -> dict:
    """Month-to-date progress, alerts and (optionally) the re-plan at the close of ``as_of``.

    Parameters
    ----------
    conn : sqlite3.Connection
        Open ledger.
    scenario : Scenario
        The plan (account at the start of the month, target, weights, caps, market).
    as_of : date
        Date whose close the report describes (a non-trading day reads as the last trading day
        before it).
    replan : bool
        Solve the plan (for its theta) and the re-plan; ``False`` gives the ledger figures and
        the alerts only (no solve).
    plan : SizingResult | None
        The plan's solve, when already at hand (saves one solve).
    diagnostics_level : str
        ``full`` (the re-plan's verdict includes the joint minimal relaxation) or ``light``.
    on_replan : callable, optional
        Called with the re-plan's :class:`~optimizer.inputs.spec.Scenario` before it is solved (the
        CLI's ``--write-scenario`` saves it).

    Returns
    -------
    dict
        JSON-ready: ``as_of, currency, month_to_date, pro_rata_target, target, trading_days,
        theta_per_day, vix, buying_power, alerts, replan, rebalance`` (see the module docstring).

    Raises
    ------
    DataError
        The month is outside the trading calendar's years.
    """
    from optimizer.inputs.limits import resolve_limits

    cfg = scenario.tracking
    nlv = float(scenario.account.net_liq)
    target = float(scenario.target.monthly_income or 0.0)
    month = month_trading_days(as_of)
    elapsed = [d for d in month if d <= as_of]
    n, e = len(month), len(elapsed)
    remaining = n - e
    pro_rata = target * e / n
    # the elapsed trading days and, when it is not one, the as-of date itself
    series = _series(conn, elapsed if elapsed and elapsed[-1] == as_of else [*elapsed, as_of])
    now = series[-1]
    total = now.total
    series = series[: len(elapsed)]
    vix, vix_source = _vix_at(conn, scenario, as_of)
    at_vix = scenario.model_copy(update={"market": scenario.market.model_copy(update={"vix": vix})})
    limits = resolve_limits(at_vix)
    weights = dict(limits.weights)  # phase renormalization and VIX tilts at the as-of VIX
    shares = {k: now.per_strategy.get(k, 0.0) / total for k in weights} if total > 0 else {}
    alerts = progress_alerts(scenario, weights, shares, total, pro_rata, e, n)
    dd_alerts, dd = drawdown_alerts(series, nlv, vix, vix_source)
    alerts += dd_alerts
    held, rows, counts, valued, when, held_alerts = _priced_positions(conn, scenario, as_of, vix)
    alerts += held_alerts
    bp_used, bp_cap, expo_alerts = exposure_alerts(rows, counts, limits, nlv, vix)
    alerts += expo_alerts
    stale = (as_of - scenario.valuation_time.date()).days
    if stale > cfg.stale_market_days:
        alerts.append(
            alert(
                "stale_market",
                "info",
                f"the scenario's market is of {scenario.valuation_time:%Y-%m-%d} ({stale} days "
                "before the as-of date): the re-plan prices on it (open positions: "
                f"{valued})",
            )
        )
    theta_now = float(
        sum(r["theta_greek_per_contract"] * c for r, c in zip(rows, counts, strict=True))
    )

    report: dict = {
        "as_of": as_of.isoformat(),
        "currency": scenario.account.currency,
        "target": target,
        "trading_days": {"month": n, "elapsed": e, "remaining": remaining},
        "pro_rata_target": pro_rata,
        "month_to_date": _month_to_date_doc(now, series, weights, shares, target, n),
        "vix": {"value": vix, "source": vix_source},
        "valuation": {"time": when.isoformat(), "open_positions": valued},
        "allocation": _targets(scenario, target, vix),
        "buying_power": {"used": bp_used, "cap": bp_cap, "cap_fraction": limits.bp_fraction},
        "drawdown": dd,
        "open_positions": _open_positions_doc(held, rows),
        "theta_per_day": {"now": theta_now, "plan": None},
        "alerts": alerts,
        "replan": None,
        "rebalance": None,
    }
    if not replan:
        return report
    _replan(report, scenario, held, plan, total, (n, remaining), diagnostics_level, on_replan)
    return report


def _replan(
    report: dict,
    scenario: Scenario,
    held: list,
    plan,
    total: float,
    days: tuple[int, int],
    diagnostics_level: str,
    on_replan,
) -> None:
    """Fill ``report``'s plan theta, ``replan`` and ``rebalance`` (the rest of the month's solve).

    ``days`` is ``(trading days in the month, trading days remaining)``.
    """
    from optimizer.pipeline import solve_scenario

    n, remaining = days
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
    run_rate = remaining_target * n / remaining
    sc = replan_scenario(scenario, held, run_rate)
    if on_replan is not None:
        on_replan(sc)
    res = solve_scenario(sc, diagnostics_level=diagnostics_level, min_nlv_search=False)
    report["replan"] = replan_report(res, remaining_target, run_rate, remaining / n)
    report["rebalance"] = _rebalance(sc, res)


def _month_to_date_doc(
    now, series: list, weights: dict, shares: dict, target: float, n: int
) -> dict:
    """The ``month_to_date`` document: totals, per strategy (share against weight), per day."""
    mtd = now.split
    realized, unrealized, total = now.realized, now.unrealized, now.total
    names = sorted(set(weights) | set(mtd))
    pnl = {
        k: mtd.get(k, {}).get("realized", 0.0) + mtd.get(k, {}).get("unrealized", 0.0)
        for k in names
    }
    gross = sum(abs(v) for v in pnl.values())
    return {
        "realized": realized,
        "unrealized": unrealized,
        "total": total,
        "gross": gross,
        "per_strategy": {
            k: {
                "realized": mtd.get(k, {}).get("realized", 0.0),
                "unrealized": mtd.get(k, {}).get("unrealized", 0.0),
                "share": shares.get(k) if shares else None,
                "share_of_gross": pnl[k] / gross if gross > 0 else None,
                "weight": weights.get(k),
            }
            for k in names
        },
        "daily": [
            {
                "date": s.day.isoformat(),
                "total": s.total,
                "realized": s.realized,
                "per_strategy": s.per_strategy,
                "pro_rata_target": target * (i + 1) / n,
            }
            for i, s in enumerate(series)
        ],
    }


def _open_positions_doc(held: list, rows: list[dict]) -> list[dict]:
    """The ``open_positions`` document: per priced position, its BP and theta per day (money)."""
    return [
        {
            "id": h.id,
            "strategy": h.strategy,
            "underlying": h.underlying,
            "contracts": h.contracts,
            "bp": r["bp_per_contract"] * h.contracts,
            "theta_per_day": r["theta_greek_per_contract"] * h.contracts,
        }
        for h, r in zip(held, rows, strict=True)
    ]


def _priced_positions(conn: sqlite3.Connection, scenario: Scenario, as_of: date, vix: float):
    """The open positions priced on the as-of market: ``(held, rows, counts, valued, when, alerts)``."""
    from optimizer.inputs.candidates import held_rows
    from optimizer.pipeline import prepare

    alerts: list[dict] = []
    held, skipped = held_positions(conn, as_of, scenario.strategies)
    for sk in skipped:
        alerts.append(
            alert(
                "unknown_strategy",
                "warning",
                f"open trade {sk['id']}: strategy {sk['strategy']!r} is not in the scenario "
                "(left out of the re-plan)",
            )
        )
    base = prepare(scenario)
    market, when, valued = as_of_market(conn, scenario, base.market, as_of, vix)
    rows: list[dict] = []  # the priced row of each held position, in ledger order
    counts: list[int] = []
    priced = []
    for h in held:
        probe = scenario.model_copy(update={"held": [h], "valuation_time": when})
        try:
            r, _, _ = held_rows(probe, market, {})
        except SpecError as exc:
            why = re.sub(r"^held\.0(\.\w+)?: ", "", str(exc))
            alerts.append(
                alert(
                    "unpriced_position",
                    "warning",
                    f"open trade {h.id} ({h.strategy} {h.underlying}): {why}; left out of the "
                    "buying power, groups, theta and the re-plan",
                )
            )
            continue
        priced.append(h)
        rows.append(r[0])
        counts.append(h.contracts)
    held = priced
    return held, rows, counts, valued, when, alerts


def _targets(scenario: Scenario, target: float, vix: float) -> dict:
    """The allocator's monthly income targets per strategy (VIX tilts at the as-of VIX)."""
    from optimizer.tracking.allocator import allocation_targets

    rule = scenario.allocation.vix_tilts
    base = {k: s.weight for k, s in scenario.strategies.items()}
    aliases = {k: s.limits_key or k for k, s in scenario.strategies.items()}
    df = allocation_targets(
        target,
        base,
        vix=vix if rule else None,
        tilts=rule,
        strategy_aliases=aliases if rule else None,
    )
    return {
        "rule": rule,
        "tolerance": scenario.allocation.tolerance,
        "targets": df.to_dict(orient="records"),
        "size_multiplier": float(df.attrs.get("size_multiplier", 1.0)),
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
