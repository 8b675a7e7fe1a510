"""``thetaplan solve SCENARIO``: size a scenario and print positions, portfolio, allocation, verdict."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optimizer.result import SizingResult

__all__ = ["register", "render"]


def _money(x: float | None, ccy: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:,.0f}{(' ' + ccy) if ccy else ''}"


def _pct(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.1%}"


def _gap(g: float | None) -> str:
    return "—" if g is None else f"{g:.2e}"


def _expiry_label(expiry, dte: float) -> str:
    if expiry is None or str(expiry) == "NaT" or not math.isfinite(dte):
        return "—"
    if dte < 1:
        return f"0DTE ({dte * 24:.1f}h to close)"
    return f"{expiry:%Y-%m-%d} ({dte:.0f} DTE)"


def render(result: SizingResult, console: Console) -> None:
    """Print a :class:`SizingResult` as rich tables (positions, portfolio, allocation, verdict)."""
    ccy = result.portfolio["currency"]
    console.rule(f"[bold]{result.scenario}")

    t = Table(title="Positions (per contract money in " + ccy + ")", show_lines=False)
    for col, just in (
        ("strategy", "left"),
        ("underlying", "left"),
        ("expiry", "left"),
        ("strikes (qty right strike)", "left"),
        ("contracts", "right"),
        ("credit", "right"),
        ("theta/day", "right"),
        ("BP", "right"),
        ("income/month", "right"),
    ):
        t.add_column(col, justify=just)
    for _, r in result.positions.iterrows():
        exp_s = _expiry_label(r["expiry"], r["dte"])
        t.add_row(
            escape(r["strategy"]),
            escape(r["underlying"]),
            exp_s,
            escape(str(r["strikes"])),
            str(int(r["contracts"])),
            f"{r['credit_per_contract']:,.2f}",
            f"{r['theta_per_day_per_contract']:,.2f}",
            f"{r['bp_per_contract']:,.0f}",
            f"{r['expected_monthly_income_per_contract']:,.0f}",
        )
    if result.positions.empty:
        t.add_row("(no position)", "", "", "", "0", "", "", "", "")
    console.print(t)

    p = result.portfolio
    pt = Table(title="Portfolio", show_header=False)
    pt.add_column("metric")
    pt.add_column("value", justify="right")
    for label, value in (
        ("net liquidation value", _money(p["net_liq"], ccy)),
        ("expected monthly income", _money(p["expected_monthly_income"], ccy)),
        ("theta per day", f"{p['theta_per_day']:,.2f} {ccy}"),
        ("buying power used", f"{_money(p['bp_used'], ccy)} ({_pct(p['bp_used_pct'])} of NLV)"),
        ("buying power cap", f"{_money(p['bp_cap'], ccy)} ({_pct(result.limits['bp_fraction'])})"),
        ("net credit", _money(p["credit"], ccy)),
        ("cash delta", _money(p["cash_delta"], ccy)),
        ("vega per vol point", f"{p['vega']:,.1f} {ccy}"),
        ("positions / contracts", f"{p['positions']} / {p['contracts']}"),
    ):
        pt.add_row(label, value)
    console.print(pt)

    at = Table(title="Allocation (expected monthly income)")
    for col in ("strategy", "weight", "target", "actual", "share", "shortfall", "achievement"):
        at.add_column(col, justify="left" if col == "strategy" else "right")
    for _, r in result.allocation.iterrows():
        at.add_row(
            escape(str(r["strategy"])),
            _pct(r["weight"]),
            _money(r["target"]),
            _money(r["actual"]),
            _pct(r["share"]),
            _money(r["shortfall"]),
            _pct(r["achievement"]),
        )
    console.print(at)

    _render_risk(result, console)

    v = result.verdict
    color = {"FEASIBLE": "green", "INFEASIBLE": "red"}.get(v.status.value, "yellow")
    console.print(f"[bold {color}]Verdict: {v.status.value}[/] — {escape(v.message)}")
    console.print(
        f"  chosen book: {_money(v.chosen_income, ccy)} expected per month "
        f"({_pct(v.chosen_achievement)} of {_money(v.target, ccy)}); max achievable "
        f"{_money(v.max_income, ccy)} ({_pct(v.achievement)})"
    )
    if v.required_probability is not None or v.success_probability is not None:
        ci = v.success_probability_ci
        ci_s = f" (95% CI {ci[0]:.2%}–{ci[1]:.2%})" if ci else ""
        req = f", required {v.required_probability:.0%}" if v.required_probability else ""
        mx = (
            f"; highest reachable in sample {v.max_success_probability:.1%}"
            if v.max_success_probability is not None
            else ""
        )
        console.print(
            f"  P(month ≥ target): {_pct(v.success_probability)} out of sample{ci_s}, "
            f"{_pct(v.success_probability_in_sample)} in sample{req}{mx}"
        )
        if v.income_at_probability is not None:
            console.print(
                f"  the book makes ≥ {_money(v.income_at_probability, ccy)} in "
                f"{v.required_probability:.0%} of simulated months (out of sample)"
            )
    if v.min_nlv is not None:
        console.print(
            f"  minimum account for the target: {_money(v.min_nlv, ccy)} ({escape(v.min_nlv_note)})"
        )
    else:
        console.print(f"  minimum account for the target: none — {escape(v.min_nlv_note)}")
    if v.relaxations:
        xt = Table(title="Max expected income with one cap family lifted (others kept)")
        xt.add_column("cap lifted")
        xt.add_column("max income", justify="right")
        xt.add_column("of target", justify="right")
        for r in v.relaxations:
            xt.add_row(escape(r["cap"]), _money(r["max_income"]), _pct(r["achievement"]))
        console.print(xt)
    if v.binding:
        bt = Table(title="Binding caps at the max-income book")
        for col in ("cap", "family", "value", "bound", "slack", "shadow price"):
            bt.add_column(col, justify="left" if col in ("cap", "family") else "right")
        for b in v.binding:
            bt.add_row(
                escape(b.row),
                b.family,
                f"{b.activity:,.2f}",
                f"{b.bound:,.2f}",
                f"{b.slack:,.2f}",
                "—" if b.shadow_price is None else f"{b.shadow_price:,.4f}",
            )
        console.print(bt)
    s = result.solver
    tm = result.timings
    console.print(
        f"[dim]solver {s['backend']} ({s['status']}, book from {escape(s['book_from'])}, "
        f"MIP gap {_gap(s['mip_gap'])} (limit {s['mip_rel_gap']:g}), time limit {s['time_limit']:g}s); "
        f"{s['candidates']} candidates, {s['rows']} rows; timings: "
        + ", ".join(f"{k} {val:.2f}s" for k, val in tm.items())
        + "[/]"
    )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if not result.excluded.empty:
        console.print(f"[dim]{len(result.excluded)} candidate(s) excluded (see --json)[/]")


def _render_risk(result: SizingResult, console: Console) -> None:
    p = result.portfolio
    ccy = p["currency"]
    if "var" in p:
        rt = Table(title="Tail risk of the book (positive = loss, " + ccy + ")")
        for col in ("confidence", "horizon (days)", "VaR in", "CVaR in", "VaR out", "CVaR out"):
            rt.add_column(col, justify="right")
        for r in p["var"]["by_confidence"]:
            rt.add_row(
                f"{r['confidence']:.1%}",
                f"{r['horizon_days']:.2f}",
                _money(r["var_in_sample"]),
                _money(r["cvar_in_sample"]),
                _money(r["var_out_of_sample"]),
                _money(r["cvar_out_of_sample"]),
            )
        console.print(rt)
        console.print(
            f"[dim]in sample: {p['var']['scenarios']} ({p['var']['n_in_sample']:,} scenarios); "
            f"out of sample: Monte Carlo ({p['var']['n_out_of_sample']:,})[/]"
        )
    if result.stress:
        worst = max(result.stress, key=lambda d: d["loss"])
        st = Table(title="Named stresses (book loss, " + ccy + ")")
        st.add_column("stress")
        st.add_column("loss", justify="right")
        st.add_column("% of NLV", justify="right")
        for d in result.stress:
            st.add_row(escape(d["name"]), _money(d["loss"]), _pct(d["loss"] / p["net_liq"]))
        console.print(st)
        console.print(f"  worst named stress: {escape(worst['name'])} {_money(worst['loss'], ccy)}")
    if result.win_rates:
        wt = Table(title="Win rates: managed Monte Carlo vs claimed (seed)")
        for col in ("strategy", "modelled", "claimed", "avg win", "avg loss", "days held", "basis"):
            wt.add_column(col, justify="left" if col in ("strategy", "basis") else "right")
        for w in result.win_rates:
            wt.add_row(
                escape(w["strategy"]),
                _pct(w["win_rate"]),
                _pct(w["claimed_win_rate"]),
                _money(w["avg_win"]),
                _money(w["avg_loss"]),
                f"{w['avg_days_held']:.2f}",
                w["basis"],
            )
        console.print(wt)


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
            bool, typer.Option("--json", help="Print JSON instead of tables.")
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
                "candidate, per contract, account currency).",
            ),
        ] = None,
        plot: Annotated[
            Path | None,
            typer.Option("--plot", help="Save the monthly P&L distribution of the book (PNG)."),
        ] = None,
    ) -> None:
        """Size SCENARIO: integer contracts per candidate, portfolio, allocation and verdict."""
        from models.errors import SpecError
        from optimizer.pipeline import solve_scenario
        from optimizer.spec import load_scenario

        if backend is not None and backend not in ("cvxpy", "pulp", "highs"):
            raise SpecError(f"--backend: expected cvxpy, pulp or highs, got {backend!r}")
        sc = load_scenario(scenario, overrides or [])
        result = solve_scenario(sc, backend=backend, min_nlv_search=not no_min_nlv)
        if candidates_out is not None:
            result.candidates.to_csv(candidates_out, index=False)
        if scenarios_out is not None:
            if result.scenario_pnl is None:
                raise SpecError("--scenarios-out: the scenario has no risk section (no scenarios)")
            result.scenario_pnl.reset_index().to_parquet(scenarios_out, index=False)
        if plot is not None:
            if result.monthly_pnl is None:
                raise SpecError("--plot: needs monthly P&L samples (risk section, managed model)")
            fig = result.plot_monthly_pnl()
            fig.savefig(plot, dpi=120, bbox_inches="tight")
        if as_json:
            sys.stdout.write(result.to_json() + "\n")
        else:
            render(result, Console(width=160))
