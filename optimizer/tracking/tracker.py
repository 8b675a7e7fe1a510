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

from models.calendar import month_trading_days
from models.errors import SpecError
from optimizer.inputs.spec import HeldPositionSpec, Scenario
from optimizer.tracking.alerts import alert, drawdown_alerts, exposure_alerts, progress_alerts
from optimizer.tracking.ledger import month_to_date_series, open_trades, quote_on
from optimizer.tracking.replan import replan as replan_month
from optimizer.tracking.replan import replan_scenario, stale_chain

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
    if stale_chain(scenario, as_of) is not None:  # the re-plan's own refusal rule
        stale = (as_of - scenario.valuation_time.date()).days
        alerts.append(
            alert(
                "stale_market",
                "info",
                f"the scenario's market is of {scenario.valuation_time:%Y-%m-%d} ({stale} days "
                "before the as-of date): the re-plan needs a more recent chain (open positions: "
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
    replan_month(
        report, scenario, held, plan, total, (n, remaining, as_of), diagnostics_level, on_replan
    )
    return report


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
