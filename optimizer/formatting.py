"""Plain-text formatting of results: numbers, money, percentages, risk horizons, relaxations.

Shared by the terminal and HTML renderers and by the study tables (no rich, no numpy): one
place decides how a money amount, a fraction or a minimal-relaxation step reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "axis_label",
    "CALENDAR_DAYS_PER_YEAR",
    "TRADING_DAYS_PER_YEAR",
    "expiry_label",
    "field_of",
    "fmt",
    "gap_text",
    "group_limit_text",
    "horizon_label",
    "money",
    "nodes_text",
    "pct",
    "plural",
    "relaxation_text",
]

#: Trading days per year (NYSE convention) and calendar days per year: the historical scenario
#: windows store ``h`` trading days as ``h * 365 / 252`` calendar days.
TRADING_DAYS_PER_YEAR = 252.0
CALENDAR_DAYS_PER_YEAR = 365.0


# ----------------------------------------------------------------------------- number formatting
def axis_label(path: str, ccy: str = "") -> str:
    """Axis label of a swept scenario field with its unit.

    ``account.net_liq`` and ``target.monthly_income`` get the account currency,
    ``market.vix`` "VIX points"; other paths are returned as given.
    """
    leaf = path.split(".")[-1]
    if leaf in ("net_liq", "monthly_income"):
        return f"{path} ({ccy})" if ccy else path
    if leaf == "vix":
        return f"{path} (VIX points)"
    return path


def fmt(x: Any, spec: str) -> str:
    """``format(x, spec)``; ``—`` for None/NaN/inf; never ``-0`` (a negative that rounds to 0)."""
    if x is None:
        return "—"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(xf):
        return "—"
    s = format(xf, spec)
    mantissa = s.split("e")[0]
    if s.startswith("-") and not any(c in "123456789" for c in mantissa):
        s = s[1:]
    return s


def money(x: float | None, ccy: str = "") -> str:
    """Whole units with thousands separators, then the currency: ``"12,345 GBP"``; ``—`` if missing."""
    s = fmt(x, ",.0f")
    return f"{s} {ccy}" if ccy and s != "—" else s


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal: ``0.123 -> "12.3%"``; ``—`` if missing."""
    return fmt(x, ".1%")


def nodes_text(limit: int | None) -> str:
    """A branch-and-bound node budget: ``"2,000"``, or ``"none"``."""
    return "none" if limit is None else f"{limit:,}"


def gap_text(g: float | None) -> str:
    """A relative MIP gap in scientific notation: ``"1.00e-04"``; ``—`` if missing."""
    return fmt(g, ".2e")


def plural(n: float, word: str) -> str:
    """``"1 trading day"``, ``"5 trading days"``."""
    return f"{n:g} {word}{'' if n == 1 else 's'}"


def horizon_label(horizon_days: float, kind: str | None) -> str:
    """The risk horizon in the unit the scenario set it in.

    Parameters
    ----------
    horizon_days : float
        Calendar days of the scenario set (``result.portfolio["var"]["horizon_days"]``).
    kind : str | None
        ``"historical"`` (windows of whole trading days, stored as ``h * 365 / 252`` calendar
        days) or ``"monte_carlo"`` (``risk.monte_carlo.horizon_days``, calendar days).

    Returns
    -------
    str
        ``"1 trading day"``, ``"5 trading days"``, ``"1 calendar day"`` …
    """
    h = float(horizon_days)
    if kind == "historical":
        n = h * TRADING_DAYS_PER_YEAR / CALENDAR_DAYS_PER_YEAR
        if round(n) >= 1 and abs(n - round(n)) < 1e-6:
            return plural(round(n), "trading day")
    return plural(float(fmt(h, ".4g")), "calendar day")


def relaxation_text(step: Any) -> str:
    """One line of the minimal relaxation: ``"bp_total 65% → 112% of NLV"``.

    ``step`` is an :class:`optimizer.verdict.verdict.RelaxationStep`. Units ``"fraction of NLV"``,
    ``"share of income"`` and ``"% of …"`` hold fractions (0.65) and print as percentages
    (``"65% → 112% of NLV"``); other units (``"GBP"``, ``"units"``) print as numbers followed
    by the unit.
    """
    unit = str(getattr(step, "unit", "") or "").strip()
    bound, needed = float(step.bound), float(step.needed)
    ratio = re.match(r"^(?:%|fraction|share)\s*(of\b.*)?$", unit)
    if ratio:
        rest = (ratio.group(1) or "").strip()
        b, n = _distinct(bound * 100, needed * 100, "%")
    else:
        rest = unit
        b, n = _distinct(bound, needed, "")
    beyond = " [beyond solvency]" if getattr(step, "beyond_solvency", False) else ""
    return f"{step.cap} {b} → {n}" + (f" {rest}" if rest else "") + beyond


def _distinct(a: float, b: float, suffix: str) -> tuple[str, str]:
    """Format ``a`` and ``b`` with the fewest decimals (0–2) that tell them apart."""
    for digits in (0, 1, 2):
        sa, sb = fmt(a, f",.{digits}f"), fmt(b, f",.{digits}f")
        integral = abs(a - round(a)) < 1e-9 and abs(b - round(b)) < 1e-9
        small = min(abs(a), abs(b)) < 10 and digits == 0 and not integral
        if (sa != sb or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)) and not small:
            return sa + suffix, sb + suffix
    return sa + suffix, sb + suffix


def field_of(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise (results of both shapes)."""
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def group_limit_text(limit: int | float | Mapping[str, Any] | None) -> str | None:
    """The correlation-group unit limit: one number for every group, or one per group."""
    if limit is None:
        return None
    if isinstance(limit, Mapping):
        if not limit:
            return None
        return ", ".join(f"{g} {fmt(v, ',.0f')}" for g, v in limit.items())
    return f"{fmt(limit, ',.0f')} units per group"


def expiry_label(expiry, dte: float) -> str:
    """An expiry with its DTE (calendar days): ``"2026-03-20 (48 DTE)"``, ``"0DTE (6.5h to close)"``."""
    if expiry is None or str(expiry) == "NaT" or not math.isfinite(dte):
        return "—"
    if dte < 1:
        return f"0DTE ({dte * 24:.1f}h to close)"
    return f"{expiry:%Y-%m-%d} ({dte:.0f} DTE)"
