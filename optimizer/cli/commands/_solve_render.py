"""The terminal rendering of a solve: positions, portfolio, allocation, risk, the 0DTE report and the verdict, in tables laid out for 80 columns (``thetaplan solve`` and the notebooks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape

from optimizer.cli.format import house_table, indented, print_table
from optimizer.formatting import (
    expiry_label,
    fmt,
    gap_text,
    group_limit_text,
    horizon_label,
    money,
    nodes_text,
    pct,
    relaxation_text,
)

if TYPE_CHECKING:  # annotations only: the solver stack is imported when a command runs
    from optimizer.inputs.spec import Scenario
    from optimizer.verdict.result import SizingResult


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
        f"MIP gap {gap_text(s['mip_gap'])} (limit {s['mip_rel_gap']:g}), node limit "
        f"{nodes_text(s.get('node_limit'))}, wall-clock safety net {s['time_limit']:g}s; "
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
            f", required {fmt(v.required_probability, '.0%')}"
            if v.required_probability is not None
            else ""
        )
        prob = f"; P(month ≥ target) {fmt(v.success_probability, '.2%')} out of sample{req}"
    answer = (
        f"Answer: {money(v.target, ccy)}/month from {money(nlv, ccy)} is {word} under "
        f"these caps{prob}."
    )
    roc = v.return_on_capital or {}
    on_bp = roc.get("annual_net_on_bp")
    bp_s = f", {pct(on_bp)} on BP used" if on_bp is not None else ""
    mx = ""
    if v.max_income is not None and abs(v.max_income - v.chosen_income) > 0.5:
        mx = f"; max under the caps {money(v.max_income, ccy)}"
    book = (
        f"Best book: {money(v.chosen_income, ccy)}/month expected, net of costs = "
        f"{pct(roc.get('annual_net_on_nlv'))}/year on NLV{bp_s}{mx}."
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
                    else f"+{money(c.gain, ccy)}/month if lifted"
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
    t = house_table(f"Positions (qty = contracts; money per contract, {ccy})")
    t.add_column("position / legs (qty right strike)")
    for col in ("qty", "credit", "theta/d", "BP", "inc/mo"):
        t.add_column(col, justify="right")
    for _, r in result.positions.iterrows():
        head = f"{r['strategy']} {r['underlying']} {expiry_label(r['expiry'], r['dte'])}"
        t.add_row(
            f"{escape(head)}\n  [dim]{escape(str(r['strikes']))}[/]",
            str(int(r["contracts"])),
            fmt(r["credit_per_contract"], ",.2f"),
            fmt(r["theta_per_day_per_contract"], ",.2f"),
            fmt(r["bp_per_contract"], ",.0f"),
            fmt(r["expected_monthly_income_per_contract"], ",.0f"),
        )
    if result.positions.empty:
        t.add_row("(no position)", "0", "", "", "", "")
    print_table(console, t)


def _render_portfolio(result: SizingResult, console: Console) -> None:
    p = result.portfolio
    ccy = p["currency"]
    pt = house_table("Portfolio", show_header=False)
    pt.add_column("metric")
    pt.add_column("value", justify="right")
    rows = [
        ("net liquidation value", money(p["net_liq"], ccy)),
        ("expected monthly income (net)", money(p["expected_monthly_income"], ccy)),
    ]
    costs = p.get("costs_per_month")
    if costs:
        rows += [
            ("  gross, before costs", money(p["expected_monthly_income_gross"], ccy)),
            (
                "  costs per month",
                f"{money(costs['total'], ccy)} (commissions {money(costs['commissions'])}, "
                f"spread {money(costs['spread'])}, slippage {money(costs['slippage'])}, "
                f"FX {money(costs['fx'])})",
            ),
        ]
    mv = p.get("monthly_var")
    if mv:
        rows.append(
            (
                f"monthly VaR / CVaR {pct(mv['confidence'])}",
                f"{money(mv['value'], ccy)} / {money(p['monthly_cvar']['value'], ccy)}",
            )
        )
    rows += [
        ("theta per day (book, per calendar day)", f"{fmt(p['theta_per_day'], ',.2f')} {ccy}"),
        ("buying power used", f"{money(p['bp_used'], ccy)} ({pct(p['bp_used_pct'])} of NLV)"),
        (
            "buying power cap",
            f"{money(p['bp_cap'], ccy)} ({pct(result.limits.get('bp_fraction'))})",
        ),
        ("net credit", money(p["credit"], ccy)),
        ("cash delta", money(p["cash_delta"], ccy)),
        ("vega per vol point", f"{fmt(p['vega'], ',.1f')} {ccy}"),
        ("positions / contracts", f"{p['positions']} / {p['contracts']}"),
    ]
    for label, value in rows:
        pt.add_row(label, escape(value))
    print_table(console, pt)
    group = group_limit_text(result.limits.get("group_limit"))
    if group is not None:
        indented(console, f"correlation-group unit limits: {escape(group)}")


def _render_allocation(result: SizingResult, console: Console) -> None:
    enabled = result.limits.get("allocation_tolerance") is not None
    if enabled:
        tol = result.limits["allocation_tolerance"]
        at = house_table(
            f"Allocation of expected monthly income (share within weight ± {pct(tol)})"
        )
        cols = ("strategy", "weight", "target", "actual", "share", "shortfall", "achievement")
    else:
        at = house_table("Allocation disabled: expected monthly income by strategy (actual shares)")
        cols = ("strategy", "actual", "share")
    for col in cols:
        at.add_column(col, justify="left" if col == "strategy" else "right")
    for _, r in result.allocation.iterrows():
        cells = {
            "strategy": escape(str(r["strategy"])),
            "weight": pct(r["weight"]),
            "target": money(r["target"]),
            "actual": money(r["actual"]),
            "share": pct(r["share"]),
            "shortfall": money(r["shortfall"]),
            "achievement": pct(r["achievement"]),
        }
        at.add_row(*(cells[c] for c in cols))
    print_table(console, at)


def _render_risk(result: SizingResult, console: Console, scenario: Scenario | None) -> None:
    p = result.portfolio
    ccy = p["currency"]
    if "var" in p and p["var"]:
        var = p["var"]
        horizon = horizon_label(var["horizon_days"], var.get("scenarios"))
        rt = house_table(f"Tail risk over {horizon} ({ccy}, loss > 0)")
        for col in ("confidence", "VaR in", "CVaR in", "VaR out", "CVaR out"):
            rt.add_column(col, justify="right")
        for r in var["by_confidence"]:
            rt.add_row(
                pct(r["confidence"]),
                money(r["var_in_sample"]),
                money(r["cvar_in_sample"]),
                money(r["var_out_of_sample"]),
                money(r["cvar_out_of_sample"]),
            )
        print_table(console, rt)
        kind = str(var.get("scenarios", "")).replace("_", " ")
        oos = ""
        if scenario is not None and scenario.risk is not None:
            oos = " over " + horizon_label(scenario.risk.monte_carlo.horizon_days, "monte_carlo")
        indented(
            console,
            f"[dim]in: {kind} ({var['n_in_sample']:,} scenarios); out: Monte Carlo "
            f"({var['n_out_of_sample']:,} draws{oos})[/]",
        )
    if result.stress:
        worst = max(result.stress, key=lambda d: d["loss"])
        st = house_table(f"Named stresses (book loss, {ccy})")
        st.add_column("stress")
        st.add_column("loss", justify="right")
        st.add_column("% of NLV", justify="right")
        for d in result.stress:
            st.add_row(escape(d["name"]), money(d["loss"]), pct(d["loss"] / p["net_liq"]))
        print_table(console, st)
        indented(
            console, f"worst named stress: {escape(worst['name'])} {money(worst['loss'], ccy)}"
        )
    if result.win_rates:
        wt = house_table("Win rates: income model (net of costs) vs claimed (seed)")
        for col in ("strategy", "modelled", "claimed", "avg win", "avg loss", "days held", "basis"):
            wt.add_column(col, justify="left" if col in ("strategy", "basis") else "right")
        for w in result.win_rates:
            wt.add_row(
                escape(w["strategy"]),
                pct(w["win_rate"]),
                pct(w["claimed_win_rate"]),
                money(w["avg_win"]),
                money(w["avg_loss"]),
                fmt(w["avg_days_held"], ".2f"),
                escape(str(w["basis"])),
            )
        print_table(console, wt)
    if result.zero_dte:
        _render_zero_dte(result.zero_dte, result.portfolio["currency"], console)


def _render_zero_dte(z: dict, ccy: str, console: Console) -> None:
    """The 0DTE position(s) on both variance bases, today's ratio and the break-even ratio."""
    what = "book's 0DTE" if z["source"] == "book" else "best 0DTE candidate (none in the book)"
    zt = house_table(f"0DTE on both variance bases: the {what}, per contract ({ccy})")
    for col in ("basis", "strikes", "credit", "gross/trade", "net/trade", "win", "net/month"):
        zt.add_column(col, justify="left" if col in ("basis", "strikes") else "right")
    for pos in z["positions"]:
        for basis, b in pos["bases"].items():
            mark = " (used)" if basis == z["basis"] else ""
            zt.add_row(
                escape(basis + mark),
                escape(b["strikes"]),
                fmt(b["credit_per_contract"], ",.2f"),
                fmt(b["expected_trade_gross"], ",.2f"),
                fmt(b["expected_trade_net"], ",.2f"),
                pct(b["win_rate"]),
                fmt(b["expected_monthly_net"], ",.1f"),
            )
    print_table(console, zt)
    for pos in z["positions"]:
        be_g, be_n = pos["break_even_ratio_gross"], pos["break_even_ratio_net"]
        indented(
            console,
            f"implied/realized session variance today {fmt(pos['variance_ratio'], '.2f')} "
            f"({escape(z['basis'])} basis); the trade breaks even at "
            f"{fmt(be_g, '.2f') if be_g is not None else 'no ratio in the grid'} gross, "
            f"{fmt(be_n, '.2f') if be_n is not None else 'no ratio in the grid'} net of costs",
        )


def _steps(console: Console, title: str, steps: Sequence[Any], note: str) -> None:
    """A relaxation: its title, one line per raised cap, and how it was found (dim)."""
    indented(console, title)
    for step in steps:
        indented(console, escape(relaxation_text(step)), indent=4)
    if note:
        indented(console, f"[dim]{escape(note)}[/]", indent=4)


def _render_cap_tables(v, ccy: str, console: Console) -> None:
    """What each cap costs (one family lifted at a time) and the binding caps with shadow prices."""
    if v.cap_costs:
        xt = house_table(f"What each cap costs: max income with one family lifted ({ccy}/month)")
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
                "unbounded" if unbounded else money(c.max_income_without),
                "unbounded" if unbounded else money(c.gain),
                pct(None if c.max_income_without is None else c.max_income_without / v.target),
            )
        print_table(console, xt)
    if v.binding:
        bt = house_table("Binding caps at the max-income book (by family)")
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
                    fmt(b.activity, ",.2f"),
                    fmt(b.bound, ",.2f"),
                    fmt(b.slack, ",.2f"),
                    fmt(b.shadow_price, ",.4f"),
                )
        print_table(console, bt)
        indented(
            console,
            "[dim]binding: the slack is below what one more contract (or position) of the "
            "cheapest contributor needs, so the integer book cannot grow along this cap; "
            "shadow: LP-relaxation change of max income per unit of bound[/]",
        )


def _render_verdict(result: SizingResult, console: Console) -> None:
    ccy = result.portfolio["currency"]
    v = result.verdict
    color = {"FEASIBLE": "green", "INFEASIBLE": "red"}.get(v.status.value, "yellow")
    console.print(f"[bold {color}]Verdict: {v.status.value}[/] — {escape(v.message)}")
    indented(
        console,
        f"chosen book: {money(v.chosen_income, ccy)} expected per month "
        f"({pct(v.chosen_achievement)} of {money(v.target, ccy)}); max achievable "
        f"{money(v.max_income, ccy)} ({pct(v.achievement)})",
    )
    if v.required_probability is not None or v.success_probability is not None:
        ci = v.success_probability_ci
        ci_s = f" (95% CI {fmt(ci[0], '.2%')}–{fmt(ci[1], '.2%')})" if ci else ""
        req = f", required {fmt(v.required_probability, '.0%')}" if v.required_probability else ""
        mx = (
            f"; highest reachable in sample {pct(v.max_success_probability)}"
            if v.max_success_probability is not None
            else ""
        )
        indented(
            console,
            f"P(month ≥ target): {pct(v.success_probability)} out of sample{ci_s}, "
            f"{pct(v.success_probability_in_sample)} in sample{req}{mx}",
        )
        if v.income_at_probability is not None and v.required_probability is not None:
            indented(
                console,
                f"the book makes ≥ {money(v.income_at_probability, ccy)} in "
                f"{fmt(v.required_probability, '.0%')} of simulated months (out of sample)",
            )
    mn = v.min_nlv
    if mn.value is not None:
        indented(
            console,
            f"minimum account for the target: {money(mn.value, ccy)} ({escape(mn.note)})",
        )
        if mn.rule:
            indented(console, f"[dim]rule: {escape(mn.rule)}[/]", indent=4)
    else:
        indented(console, f"minimum account for the target: none — {escape(mn.note)}")
    for alt in tuple(v.alternatives or ()):
        held = ", ".join(
            f"{a['contracts']} {a['strategy']} {a['underlying']}" for a in alt.positions
        )
        indented(
            console,
            f"alternative ({escape(alt.name)}): {money(alt.expected_monthly_income, ccy)} "
            f"expected per month, P(month ≥ target) {pct(alt.success_probability)} out of "
            f"sample — {escape(held)}",
        )
        indented(console, f"[dim]{escape(alt.reason)}[/]", indent=4)
    conflicts = tuple(getattr(v, "conflicts", ()) or ())
    if conflicts:
        indented(console, f"[bold red]caps conflict:[/] {escape(', '.join(conflicts))}")
    steps = tuple(getattr(v, "minimal_relaxation", ()) or ())
    note = str(getattr(v, "minimal_relaxation_note", "") or "")
    if steps:
        _steps(console, "smallest joint cap relaxation that reaches the target:", steps, note)
    elif note:
        indented(console, f"minimal cap relaxation: {escape(note)}")
    if any(getattr(x, "beyond_solvency", False) for x in steps):
        solvent = tuple(getattr(v, "solvent_relaxation", ()) or ())
        snote = str(getattr(v, "solvent_relaxation_note", "") or "")
        if solvent:
            title = "smallest solvent relaxation (BP ≤ 100%, losses < 100% of NLV):"
            _steps(console, title, solvent, snote)
        elif snote:
            indented(console, f"[bold red]{escape(snote)}[/]")
    for fb in tuple(getattr(v, "fallbacks", ()) or ()):
        indented(console, f"[yellow]fallback:[/] {escape(fb.step)} — {escape(fb.reason)}")
    _render_cap_tables(v, ccy, console)
