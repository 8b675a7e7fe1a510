"""Alerts of the month tracker: progress against the pro-rata target and the allocation band, the
drawdown protocol (drawdown, daily loss and VIX escalation levels of
``models/data/drawdown_protocol.csv``), and the open positions' buying power and correlation
groups against the caps in force at the as-of VIX.

Each alert is a dict ``{code, severity, message, **extra}`` (``severity``: ``info``, ``warning``
or ``critical``); money in the account currency.
"""

from __future__ import annotations

import numpy as np

from models import phases as phase_tables
from optimizer.inputs.spec import Scenario

__all__ = ["alert", "drawdown_alerts", "exposure_alerts", "progress_alerts"]


def alert(code: str, severity: str, message: str, **extra) -> dict:
    """One alert: ``{code, severity, message, **extra}``."""
    return {"code": code, "severity": severity, "message": message, **extra}


def progress_alerts(
    scenario: Scenario,
    weights: dict[str, float],
    shares: dict[str, float],
    total: float,
    pro_rata: float,
    e: int,
    n: int,
) -> list[dict]:
    """Alerts on the month-to-date income: behind the pro-rata target, outside the allocation band."""
    cfg = scenario.tracking
    tol = scenario.allocation.tolerance
    alerts: list[dict] = []
    if e > 0 and pro_rata > 0 and total < pro_rata * (1.0 - cfg.behind_threshold):
        alerts.append(
            alert(
                "behind_pro_rata",
                "warning",
                f"month-to-date income {total:,.0f} is {1 - total / pro_rata:.0%} below the "
                f"pro-rata target {pro_rata:,.0f} ({e} of {n} trading days)",
                value=total,
                limit=pro_rata * (1.0 - cfg.behind_threshold),
            )
        )
    share_basis = total > 0 and total >= cfg.min_share_basis * pro_rata
    if scenario.allocation.enabled and e >= cfg.min_days_for_shares and share_basis:
        for k, w in weights.items():
            sh = shares.get(k, 0.0)
            if abs(sh - w) > tol + 1e-12:
                alerts.append(
                    alert(
                        "allocation_band",
                        "warning",
                        f"{k}: {sh * total:,.0f} of {total:,.0f} month-to-date income "
                        f"({sh:.0%}), band {w - tol:.0%}–{w + tol:.0%}",
                        strategy=k,
                        value=sh,
                        limit=[w - tol, w + tol],
                    )
                )

    return alerts


def drawdown_alerts(
    series: list, nlv: float, vix: float, vix_source: str
) -> tuple[list[dict], float]:
    """Drawdown-protocol alerts (drawdown from the month's peak, the day's loss, VIX) and the drawdown."""
    alerts: list[dict] = []
    equity = nlv + np.array([0.0] + [s.total for s in series])
    peak = np.maximum.accumulate(equity)
    dd = float(1.0 - equity[-1] / peak[-1])
    day_loss = float(-(equity[-1] - equity[-2]) / nlv) if len(equity) > 1 else 0.0
    steps = phase_tables.drawdown_protocol()
    for kind, measure, label in (
        ("drawdown", dd, f"drawdown {dd:.1%} from the month's peak equity"),
        ("daily_loss", day_loss, f"loss of {day_loss:.1%} of NLV on the day"),
        ("vix", vix, f"VIX {vix:.2f} ({vix_source})"),
    ):
        hit = [s for s in steps if s.kind == kind and measure >= s.threshold]
        if hit:
            s = hit[-1]
            alerts.append(
                alert(kind, s.severity, f"{label}: {s.action}", value=measure, limit=s.threshold)
            )

    return alerts, dd


def exposure_alerts(
    rows: list[dict], counts: list[int], limits, nlv: float, vix: float
) -> tuple[float, float, list[dict]]:
    """Buying power of the open positions and its cap, correlation-group units and cash delta: ``(bp_used, bp_cap, alerts)``."""
    alerts: list[dict] = []
    bp_used = float(sum(r["bp_per_contract"] * c for r, c in zip(rows, counts, strict=True)))
    bp_cap = limits.bp_fraction * nlv
    if bp_used > bp_cap + 1e-6:
        alerts.append(
            alert(
                "bp_above_cap",
                "critical",
                f"buying power of the open positions {bp_used:,.0f} ({bp_used / nlv:.1%} of NLV) "
                f"is above the cap {bp_cap:,.0f} ({limits.bp_fraction:.1%}) at VIX {vix:.2f}",
                value=bp_used,
                limit=bp_cap,
            )
        )
    units: dict[str, float] = {}
    risk: dict[str, float] = {}
    for r, c in zip(rows, counts, strict=True):
        g = r["correlation_group"]
        if not g:
            continue
        if r["strategy"] not in limits.group_excluded:
            u = 1.0
            if limits.position_basis == "units":
                u = phase_tables.position_units(r["underlying"])
            units[g] = units.get(g, 0.0) + u * c
        risk[g] = risk.get(g, 0.0) + r["cash_delta_per_contract"] * c
    for g, u in sorted(units.items()):
        lim = limits.group_limits.get(g)
        if lim is not None and u > lim + 1e-9:
            alerts.append(
                alert(
                    "correlation_group",
                    "critical",
                    f"group {g}: {u:g} positions open, limit {lim}",
                    group=g,
                    value=u,
                    limit=lim,
                )
            )
    if limits.group_risk_cap is not None:
        cap = limits.group_risk_cap * nlv
        for g, v in sorted(risk.items()):
            if abs(v) > cap + 1e-6:
                alerts.append(
                    alert(
                        "group_risk",
                        "critical",
                        f"group {g}: cash delta {v:,.0f} beyond ±{cap:,.0f} "
                        f"({limits.group_risk_cap:.0%} of NLV)",
                        group=g,
                        value=v,
                        limit=cap,
                    )
                )
    return bp_used, bp_cap, alerts
