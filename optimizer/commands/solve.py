"""``thetaplan solve SCENARIO``: size a scenario and print positions, portfolio, allocation, verdict.

Tables follow the terminal's width (``COLUMNS`` is respected; 80 columns when the output is not a
terminal) and are laid out to fit 80 columns. ``--json`` prints one JSON document and nothing
else on standard output: native solver banners are sent to standard error
(:func:`optimizer.cli_io.stdout_to_stderr`). Output flags are checked before the solve.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

if TYPE_CHECKING:  # annotations only: the solver stack is imported when a command runs
    from optimizer.result import SizingResult
    from optimizer.spec import Scenario

__all__ = ["register", "render", "horizon_label", "relaxation_text", "group_limit_text"]

_TRADING_DAYS_PER_YEAR = 252.0
_CALENDAR_DAYS_PER_YEAR = 365.0


# ----------------------------------------------------------------------------- number formatting
def _fmt(x: Any, spec: str) -> str:
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


def _money(x: float | None, ccy: str = "") -> str:
    s = _fmt(x, ",.0f")
    return f"{s} {ccy}" if ccy and s != "—" else s


def _pct(x: float | None) -> str:
    return _fmt(x, ".1%")


def _nodes(limit: int | None) -> str:
    return "none" if limit is None else f"{limit:,}"


def _gap(g: float | None) -> str:
    return _fmt(g, ".2e")


def _plural(n: float, word: str) -> str:
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
        n = h * _TRADING_DAYS_PER_YEAR / _CALENDAR_DAYS_PER_YEAR
        if round(n) >= 1 and abs(n - round(n)) < 1e-6:
            return _plural(round(n), "trading day")
    return _plural(float(_fmt(h, ".4g")), "calendar day")


def relaxation_text(step: Any) -> str:
    """One line of the minimal relaxation: ``"bp_total 65% → 112% of NLV"``.

    ``step`` is an :class:`optimizer.verdict.RelaxationStep`. Units ``"fraction of NLV"``,
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
        sa, sb = _fmt(a, f",.{digits}f"), _fmt(b, f",.{digits}f")
        integral = abs(a - round(a)) < 1e-9 and abs(b - round(b)) < 1e-9
        small = min(abs(a), abs(b)) < 10 and digits == 0 and not integral
        if (sa != sb or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)) and not small:
            return sa + suffix, sb + suffix
    return sa + suffix, sb + suffix


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise (results of both shapes)."""
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def group_limit_text(limit: int | float | Mapping[str, Any] | None) -> str | None:
    """The correlation-group unit limit: one number for every group, or one per group."""
    if limit is None:
        return None
    if isinstance(limit, Mapping):
        if not limit:
            return None
        return ", ".join(f"{g} {_fmt(v, ',.0f')}" for g, v in limit.items())
    return f"{_fmt(limit, ',.0f')} units per group"


def _expiry_label(expiry, dte: float) -> str:
    if expiry is None or str(expiry) == "NaT" or not math.isfinite(dte):
        return "—"
    if dte < 1:
        return f"0DTE ({dte * 24:.1f}h to close)"
    return f"{expiry:%Y-%m-%d} ({dte:.0f} DTE)"


def _table(title: str, **kw) -> Table:
    """A table in the house style: light rules, no vertical borders, title printed above it.

    The title is kept on the table (``_title_text``) and printed by :func:`_print_table` as a
    line of its own, so that a narrow table does not fold a long title.
    """
    kw.setdefault("box", box.SIMPLE_HEAD)
    kw.setdefault("pad_edge", False)
    kw.setdefault("show_edge", False)
    kw.setdefault("collapse_padding", True)
    t = Table(**kw)
    t._title_text = title  # type: ignore[attr-defined]
    return t


def _print_table(console: Console, t: Table) -> None:
    """Print the title line, then the table; cells fold instead of ending in "…"."""
    for col in t.columns:
        col.overflow = "fold"
    title = getattr(t, "_title_text", "")
    if title:
        console.print(f"[bold]{escape(title)}[/]", highlight=False)
    console.print(t)


def _indented(console: Console, text: str, indent: int = 2) -> None:
    """Print ``text`` (markup) indented, wrapped lines indented too."""
    console.print(Padding(text, (0, 0, 0, indent)))


# ----------------------------------------------------------------------------- render
def render(
    result: SizingResult,
    console: Console,
    *,
    scenario: Scenario | None = None,
    overrides: Sequence[str] = (),
) -> None:
    """Print a :class:`SizingResult` as rich tables fitting ``console.width`` (≥ 80 columns).

    Parameters
    ----------
    result : SizingResult
        The solve result.
    console : Console
        Where to print; its width decides the wrapping.
    scenario : Scenario, optional
        The scenario solved; gives the out-of-sample Monte Carlo horizon its unit.
    overrides : sequence of str
        ``--set`` overrides, shown in the title rule.
    """
    _title(result.scenario, overrides, console)
    for line in headline_lines(result):
        console.print(escape(line), highlight=False)
    _render_positions(result, console)
    _render_portfolio(result, console)
    _render_allocation(result, console)
    _render_risk(result, console, scenario)
    _render_verdict(result, console)
    s = result.solver
    tm = result.timings
    console.print(
        f"[dim]solver {s['backend']} ({s['status']}, book from {escape(s['book_from'])}, "
        f"MIP gap {_gap(s['mip_gap'])} (limit {s['mip_rel_gap']:g}), node limit "
        f"{_nodes(s.get('node_limit'))}, wall-clock safety net {s['time_limit']:g}s; "
        f"{len(s.get('stopped_at_limit') or ())} MILPs stopped at a limit); "
        f"{s['candidates']} candidates, {s['rows']} rows; timings: "
        + ", ".join(f"{k} {val:.2f}s" for k, val in tm.items())
        + "[/]"
    )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if not result.excluded.empty:
        console.print(f"[dim]{len(result.excluded)} candidate(s) excluded (see --json)[/]")


def headline_lines(result: SizingResult) -> list[str]:
    """The three plain lines the text output leads with.

    1. the answer: the target reachable or not, and with what probability;
    2. the headline book's expected net income and its return on NLV (and on BP used);
    3. what holds it: the cap families whose lifting alone adds the most income.

    Parameters
    ----------
    result : SizingResult
        A solve result.

    Returns
    -------
    list[str]
        Three lines (plain text, money in the account currency).
    """
    v = result.verdict
    p = result.portfolio
    ccy = p["currency"]
    nlv = p["net_liq"]
    word = {
        "FEASIBLE": "reachable",
        "INFEASIBLE": "not reachable",
        "UNKNOWN": "undecided (a solver limit stopped the proof)",
    }[v.status.value]
    prob = ""
    if v.success_probability is not None:
        req = (
            f", required {_fmt(v.required_probability, '.0%')}"
            if v.required_probability is not None
            else ""
        )
        prob = f"; P(month ≥ target) {_fmt(v.success_probability, '.2%')} out of sample{req}"
    answer = (
        f"Answer: {_money(v.target, ccy)}/month from {_money(nlv, ccy)} is {word} under "
        f"these caps{prob}."
    )
    roc = v.return_on_capital or {}
    on_bp = roc.get("annual_net_on_bp")
    bp_s = f", {_pct(on_bp)} on BP used" if on_bp is not None else ""
    mx = ""
    if v.max_income is not None and abs(v.max_income - v.chosen_income) > 0.5:
        mx = f"; max under the caps {_money(v.max_income, ccy)}"
    book = (
        f"Best book: {_money(v.chosen_income, ccy)}/month expected, net of costs = "
        f"{_pct(roc.get('annual_net_on_nlv'))}/year on NLV{bp_s}{mx}."
    )
    gains = [c for c in (v.cap_costs or ()) if c.gain is not None and c.gain > 0.5]
    if gains:
        held = (
            "Held by: "
            + "; ".join(
                f"{c.family} "
                + (
                    "(unbounded without it)"
                    if c.gain == float("inf")
                    else f"+{_money(c.gain, ccy)}/month if lifted"
                )
                for c in gains[:3]
            )
            + "."
        )
    elif v.cap_costs:
        held = "Held by: no single cap family alone; the caps bind jointly (see below)."
    else:
        held = "Held by: not computed (light diagnostics)."
    return [answer, book, held]


def _title(name: str, overrides: Sequence[str], console: Console) -> None:
    sets = " ".join(f"--set {o}" for o in overrides)
    full = f"{name} ({sets})" if sets else name
    if not sets or cell_len(full) + 6 <= console.width:
        console.rule(f"[bold]{escape(full)}")
    else:  # too long for the rule: the rule would truncate it
        console.rule(f"[bold]{escape(name)}")
        console.print(escape(sets), highlight=False)


def _render_positions(result: SizingResult, console: Console) -> None:
    ccy = result.portfolio["currency"]
    t = _table(f"Positions (qty = contracts; money per contract, {ccy})")
    t.add_column("position / legs (qty right strike)")
    for col in ("qty", "credit", "theta/d", "BP", "inc/mo"):
        t.add_column(col, justify="right")
    for _, r in result.positions.iterrows():
        head = f"{r['strategy']} {r['underlying']} {_expiry_label(r['expiry'], r['dte'])}"
        t.add_row(
            f"{escape(head)}\n  [dim]{escape(str(r['strikes']))}[/]",
            str(int(r["contracts"])),
            _fmt(r["credit_per_contract"], ",.2f"),
            _fmt(r["theta_per_day_per_contract"], ",.2f"),
            _fmt(r["bp_per_contract"], ",.0f"),
            _fmt(r["expected_monthly_income_per_contract"], ",.0f"),
        )
    if result.positions.empty:
        t.add_row("(no position)", "0", "", "", "", "")
    _print_table(console, t)


def _render_portfolio(result: SizingResult, console: Console) -> None:
    p = result.portfolio
    ccy = p["currency"]
    pt = _table("Portfolio", show_header=False)
    pt.add_column("metric")
    pt.add_column("value", justify="right")
    rows = [
        ("net liquidation value", _money(p["net_liq"], ccy)),
        ("expected monthly income (net)", _money(p["expected_monthly_income"], ccy)),
    ]
    costs = p.get("costs_per_month")
    if costs:
        rows += [
            ("  gross, before costs", _money(p["expected_monthly_income_gross"], ccy)),
            (
                "  costs per month",
                f"{_money(costs['total'], ccy)} (commissions {_money(costs['commissions'])}, "
                f"spread {_money(costs['spread'])}, slippage {_money(costs['slippage'])}, "
                f"FX {_money(costs['fx'])})",
            ),
        ]
    mv = p.get("monthly_var")
    if mv:
        rows.append(
            (
                f"monthly VaR / CVaR {_pct(mv['confidence'])}",
                f"{_money(mv['value'], ccy)} / {_money(p['monthly_cvar']['value'], ccy)}",
            )
        )
    rows += [
        ("theta per day (book, per calendar day)", f"{_fmt(p['theta_per_day'], ',.2f')} {ccy}"),
        ("buying power used", f"{_money(p['bp_used'], ccy)} ({_pct(p['bp_used_pct'])} of NLV)"),
        (
            "buying power cap",
            f"{_money(p['bp_cap'], ccy)} ({_pct(result.limits.get('bp_fraction'))})",
        ),
        ("net credit", _money(p["credit"], ccy)),
        ("cash delta", _money(p["cash_delta"], ccy)),
        ("vega per vol point", f"{_fmt(p['vega'], ',.1f')} {ccy}"),
        ("positions / contracts", f"{p['positions']} / {p['contracts']}"),
    ]
    for label, value in rows:
        pt.add_row(label, escape(value))
    _print_table(console, pt)
    group = group_limit_text(result.limits.get("group_limit"))
    if group is not None:
        _indented(console, f"correlation-group unit limits: {escape(group)}")


def _render_allocation(result: SizingResult, console: Console) -> None:
    enabled = result.limits.get("allocation_tolerance") is not None
    if enabled:
        tol = result.limits["allocation_tolerance"]
        at = _table(f"Allocation of expected monthly income (share within weight ± {_pct(tol)})")
        cols = ("strategy", "weight", "target", "actual", "share", "shortfall", "achievement")
    else:
        at = _table("Allocation disabled: expected monthly income by strategy (actual shares)")
        cols = ("strategy", "actual", "share")
    for col in cols:
        at.add_column(col, justify="left" if col == "strategy" else "right")
    for _, r in result.allocation.iterrows():
        cells = {
            "strategy": escape(str(r["strategy"])),
            "weight": _pct(r["weight"]),
            "target": _money(r["target"]),
            "actual": _money(r["actual"]),
            "share": _pct(r["share"]),
            "shortfall": _money(r["shortfall"]),
            "achievement": _pct(r["achievement"]),
        }
        at.add_row(*(cells[c] for c in cols))
    _print_table(console, at)


def _render_risk(result: SizingResult, console: Console, scenario: Scenario | None) -> None:
    p = result.portfolio
    ccy = p["currency"]
    if "var" in p and p["var"]:
        var = p["var"]
        horizon = horizon_label(var["horizon_days"], var.get("scenarios"))
        rt = _table(f"Tail risk over {horizon} ({ccy}, loss > 0)")
        for col in ("confidence", "VaR in", "CVaR in", "VaR out", "CVaR out"):
            rt.add_column(col, justify="right")
        for r in var["by_confidence"]:
            rt.add_row(
                _pct(r["confidence"]),
                _money(r["var_in_sample"]),
                _money(r["cvar_in_sample"]),
                _money(r["var_out_of_sample"]),
                _money(r["cvar_out_of_sample"]),
            )
        _print_table(console, rt)
        kind = str(var.get("scenarios", "")).replace("_", " ")
        oos = ""
        if scenario is not None and scenario.risk is not None:
            oos = " over " + horizon_label(scenario.risk.monte_carlo.horizon_days, "monte_carlo")
        _indented(
            console,
            f"[dim]in: {kind} ({var['n_in_sample']:,} scenarios); out: Monte Carlo "
            f"({var['n_out_of_sample']:,} draws{oos})[/]",
        )
    if result.stress:
        worst = max(result.stress, key=lambda d: d["loss"])
        st = _table(f"Named stresses (book loss, {ccy})")
        st.add_column("stress")
        st.add_column("loss", justify="right")
        st.add_column("% of NLV", justify="right")
        for d in result.stress:
            st.add_row(escape(d["name"]), _money(d["loss"]), _pct(d["loss"] / p["net_liq"]))
        _print_table(console, st)
        _indented(
            console, f"worst named stress: {escape(worst['name'])} {_money(worst['loss'], ccy)}"
        )
    if result.win_rates:
        wt = _table("Win rates: income model (net of costs) vs claimed (seed)")
        for col in ("strategy", "modelled", "claimed", "avg win", "avg loss", "days held", "basis"):
            wt.add_column(col, justify="left" if col in ("strategy", "basis") else "right")
        for w in result.win_rates:
            wt.add_row(
                escape(w["strategy"]),
                _pct(w["win_rate"]),
                _pct(w["claimed_win_rate"]),
                _money(w["avg_win"]),
                _money(w["avg_loss"]),
                _fmt(w["avg_days_held"], ".2f"),
                escape(str(w["basis"])),
            )
        _print_table(console, wt)
    if result.zero_dte:
        _render_zero_dte(result.zero_dte, result.portfolio["currency"], console)


def _render_zero_dte(z: dict, ccy: str, console: Console) -> None:
    """The 0DTE position(s) on both variance bases, today's ratio and the break-even ratio."""
    what = "book's 0DTE" if z["source"] == "book" else "best 0DTE candidate (none in the book)"
    zt = _table(f"0DTE on both variance bases: the {what}, per contract ({ccy})")
    for col in ("basis", "strikes", "credit", "gross/trade", "net/trade", "win", "net/month"):
        zt.add_column(col, justify="left" if col in ("basis", "strikes") else "right")
    for pos in z["positions"]:
        for basis, b in pos["bases"].items():
            mark = " (used)" if basis == z["basis"] else ""
            zt.add_row(
                escape(basis + mark),
                escape(b["strikes"]),
                _fmt(b["credit_per_contract"], ",.2f"),
                _fmt(b["expected_trade_gross"], ",.2f"),
                _fmt(b["expected_trade_net"], ",.2f"),
                _pct(b["win_rate"]),
                _fmt(b["expected_monthly_net"], ",.1f"),
            )
    _print_table(console, zt)
    for pos in z["positions"]:
        be_g, be_n = pos["break_even_ratio_gross"], pos["break_even_ratio_net"]
        _indented(
            console,
            f"implied/realized session variance today {_fmt(pos['variance_ratio'], '.2f')} "
            f"({escape(z['basis'])} basis); the trade breaks even at "
            f"{_fmt(be_g, '.2f') if be_g is not None else 'no ratio in the grid'} gross, "
            f"{_fmt(be_n, '.2f') if be_n is not None else 'no ratio in the grid'} net of costs",
        )


def _steps(console: Console, title: str, steps: Sequence[Any], note: str) -> None:
    """A relaxation: its title, one line per raised cap, and how it was found (dim)."""
    _indented(console, title)
    for step in steps:
        _indented(console, escape(relaxation_text(step)), indent=4)
    if note:
        _indented(console, f"[dim]{escape(note)}[/]", indent=4)


def _render_verdict(result: SizingResult, console: Console) -> None:
    ccy = result.portfolio["currency"]
    v = result.verdict
    color = {"FEASIBLE": "green", "INFEASIBLE": "red"}.get(v.status.value, "yellow")
    console.print(f"[bold {color}]Verdict: {v.status.value}[/] — {escape(v.message)}")
    _indented(
        console,
        f"chosen book: {_money(v.chosen_income, ccy)} expected per month "
        f"({_pct(v.chosen_achievement)} of {_money(v.target, ccy)}); max achievable "
        f"{_money(v.max_income, ccy)} ({_pct(v.achievement)})",
    )
    if v.required_probability is not None or v.success_probability is not None:
        ci = v.success_probability_ci
        ci_s = f" (95% CI {_fmt(ci[0], '.2%')}–{_fmt(ci[1], '.2%')})" if ci else ""
        req = f", required {_fmt(v.required_probability, '.0%')}" if v.required_probability else ""
        mx = (
            f"; highest reachable in sample {_pct(v.max_success_probability)}"
            if v.max_success_probability is not None
            else ""
        )
        _indented(
            console,
            f"P(month ≥ target): {_pct(v.success_probability)} out of sample{ci_s}, "
            f"{_pct(v.success_probability_in_sample)} in sample{req}{mx}",
        )
        if v.income_at_probability is not None and v.required_probability is not None:
            _indented(
                console,
                f"the book makes ≥ {_money(v.income_at_probability, ccy)} in "
                f"{_fmt(v.required_probability, '.0%')} of simulated months (out of sample)",
            )
    mn = v.min_nlv
    if mn.value is not None:
        _indented(
            console,
            f"minimum account for the target: {_money(mn.value, ccy)} ({escape(mn.note)})",
        )
        if mn.rule:
            _indented(console, f"[dim]rule: {escape(mn.rule)}[/]", indent=4)
    else:
        _indented(console, f"minimum account for the target: none — {escape(mn.note)}")
    for alt in tuple(v.alternatives or ()):
        held = ", ".join(
            f"{a['contracts']} {a['strategy']} {a['underlying']}" for a in alt.positions
        )
        _indented(
            console,
            f"alternative ({escape(alt.name)}): {_money(alt.expected_monthly_income, ccy)} "
            f"expected per month, P(month ≥ target) {_pct(alt.success_probability)} out of "
            f"sample — {escape(held)}",
        )
        _indented(console, f"[dim]{escape(alt.reason)}[/]", indent=4)
    conflicts = tuple(getattr(v, "conflicts", ()) or ())
    if conflicts:
        _indented(console, f"[bold red]caps conflict:[/] {escape(', '.join(conflicts))}")
    steps = tuple(getattr(v, "minimal_relaxation", ()) or ())
    note = str(getattr(v, "minimal_relaxation_note", "") or "")
    if steps:
        _steps(console, "smallest joint cap relaxation that reaches the target:", steps, note)
    elif note:
        _indented(console, f"minimal cap relaxation: {escape(note)}")
    if any(getattr(x, "beyond_solvency", False) for x in steps):
        solvent = tuple(getattr(v, "solvent_relaxation", ()) or ())
        snote = str(getattr(v, "solvent_relaxation_note", "") or "")
        if solvent:
            title = "smallest solvent relaxation (BP ≤ 100%, losses < 100% of NLV):"
            _steps(console, title, solvent, snote)
        elif snote:
            _indented(console, f"[bold red]{escape(snote)}[/]")
    for fb in tuple(getattr(v, "fallbacks", ()) or ()):
        _indented(console, f"[yellow]fallback:[/] {escape(fb.step)} — {escape(fb.reason)}")
    if v.cap_costs:
        xt = _table(f"What each cap costs: max income with one family lifted ({ccy}/month)")
        xt.add_column("cap lifted")
        xt.add_column("max income", justify="right")
        xt.add_column("gain", justify="right")
        xt.add_column("of target", justify="right")
        for c in v.cap_costs:
            unbounded = c.status == "unbounded"
            xt.add_row(
                escape(c.family)
                + (
                    f"\n  [dim]{escape(c.book_change)}[/]"
                    if c.book_change and c.book_change != "same book" and (c.gain or 0) > 0.5
                    else ""
                ),
                "unbounded" if unbounded else _money(c.max_income_without),
                "unbounded" if unbounded else _money(c.gain),
                _pct(None if c.max_income_without is None else c.max_income_without / v.target),
            )
        _print_table(console, xt)
    if v.binding:
        bt = _table("Binding caps at the max-income book (by family)")
        bt.add_column("cap")
        for col in ("value", "bound", "slack", "shadow"):
            bt.add_column(col, justify="right")
        families: dict[str, list] = {}
        for b in v.binding:
            families.setdefault(b.family, []).append(b)
        for family, caps in families.items():
            bt.add_row(f"[dim italic]{escape(family)}[/]")
            for b in caps:
                bt.add_row(
                    "  " + escape(b.row),
                    _fmt(b.activity, ",.2f"),
                    _fmt(b.bound, ",.2f"),
                    _fmt(b.slack, ",.2f"),
                    _fmt(b.shadow_price, ",.4f"),
                )
        _print_table(console, bt)
        _indented(
            console,
            "[dim]binding: the slack is below what one more contract (or position) of the "
            "cheapest contributor needs, so the integer book cannot grow along this cap; "
            "shadow: LP-relaxation change of max income per unit of bound[/]",
        )


# ----------------------------------------------------------------------------- command
def _solve(
    scenario: Path,
    backend: str | None,
    overrides: list[str],
    no_min_nlv: bool,
    candidates_out: Path | None,
    scenarios_out: Path | None,
    plot: Path | None,
) -> tuple[SizingResult, Scenario, list[Path]]:
    """Load, check the flags against the scenario, solve and write the output files."""
    from models.errors import SpecError
    from optimizer.pipeline import solve_scenario
    from optimizer.spec import load_scenario

    sc = load_scenario(scenario, overrides)
    if scenarios_out is not None and sc.risk is None:
        raise SpecError(
            "--scenarios-out: the scenario has no risk: section, so there are no market "
            "scenarios to write"
        )
    if plot is not None and (sc.risk is None or sc.income.model != "managed"):
        raise SpecError(
            "--plot: needs monthly P&L samples: a risk: section and income.model: managed"
        )
    result = solve_scenario(sc, backend=backend, min_nlv_search=not no_min_nlv)
    written: list[Path] = []

    def _write(path: Path, flag: str, fn) -> None:
        try:
            fn(path)
        except OSError as exc:
            raise SpecError(f"{flag}: cannot write {path} ({exc.strerror or exc})") from None
        written.append(path)

    if candidates_out is not None:
        _write(
            candidates_out,
            "--candidates-out",
            lambda p: result.candidates.to_csv(p, index=False),
        )
    if scenarios_out is not None:
        if result.scenario_pnl is None:  # pragma: no cover - checked above
            raise SpecError("--scenarios-out: the solve produced no scenario P&L")
        _write(
            scenarios_out,
            "--scenarios-out",
            lambda p: result.scenario_pnl.reset_index().to_parquet(p, index=False),
        )
    if plot is not None:
        if result.monthly_pnl is None:  # pragma: no cover - checked above
            raise SpecError("--plot: the solve produced no monthly P&L samples")
        fig = result.plot_monthly_pnl()
        _write(plot, "--plot", lambda p: fig.savefig(p, dpi=120, bbox_inches="tight"))
    return result, sc, written


def _print_written(paths: Iterable[Path], console: Console | None) -> None:
    for p in paths:
        if console is None:
            print(f"wrote: {p}", file=sys.stderr)
        else:
            console.print(f"wrote: {escape(str(p))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``solve`` command to ``app``."""

    @app.command("solve")
    def solve_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        backend: Annotated[
            str | None,
            typer.Option("--backend", help="cvxpy (HiGHS), pulp (CBC) or highs (highspy direct)."),
        ] = None,
        as_json: Annotated[
            bool,
            typer.Option(
                "--json", help="Print one JSON document (nothing else) instead of tables."
            ),
        ] = False,
        candidates_out: Annotated[
            Path | None,
            typer.Option("--candidates-out", help="Write every candidate with its count (CSV)."),
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option(
                "--set", help="Override a scenario field: dotted.path=value (repeatable)."
            ),
        ] = None,
        no_min_nlv: Annotated[
            bool, typer.Option("--no-min-nlv", help="Skip the minimum-account search.")
        ] = False,
        scenarios_out: Annotated[
            Path | None,
            typer.Option(
                "--scenarios-out",
                help="Write the scenario P&L matrix used by the solve (Parquet; one column per "
                "candidate, per contract, account currency). Needs a risk: section.",
            ),
        ] = None,
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                help="Save the monthly P&L distribution of the book (image; the extension "
                "picks the format: png, pdf, svg …). Needs a risk: section and monthly samples.",
            ),
        ] = None,
    ) -> None:
        """Size SCENARIO: integer contracts per candidate, portfolio, allocation and verdict."""
        from models.errors import SpecError
        from optimizer.cli_io import check_output_path, check_plot_path, stdout_to_stderr

        if backend is not None and backend not in ("cvxpy", "pulp", "highs"):
            raise SpecError(f"--backend: expected cvxpy, pulp or highs, got {backend!r}")
        # output flags first: a bad path must not cost a whole solve
        if candidates_out is not None:
            check_output_path(candidates_out, "--candidates-out")
        if scenarios_out is not None:
            check_output_path(scenarios_out, "--scenarios-out")
        if plot is not None:
            check_plot_path(plot, "--plot")
        sets = list(overrides or [])
        with stdout_to_stderr() as stdout:
            result, sc, written = _solve(
                scenario, backend, sets, no_min_nlv, candidates_out, scenarios_out, plot
            )
        if as_json:
            stdout.write(result.to_json() + "\n")
            stdout.flush()
            _print_written(written, None)
        else:
            console = Console(file=stdout)
            render(result, console, scenario=sc, overrides=sets)
            _print_written(written, console)
