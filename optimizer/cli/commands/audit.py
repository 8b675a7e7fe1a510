"""``thetaplan audit FILE``: seed 2's capital table as claimed beside a Monte Carlo of its streams.

Renders :func:`optimizer.audit.capital_scenarios.run_audit`: the claimed table (the seed's own arithmetic), the
consistency checks of the stated per-trade parameters, the simulated table (stated parameters,
then no-edge win rates), the break-even capital both ways, the allocation LP per capital level
and the assumptions. ``--json`` prints :meth:`~optimizer.audit.capital_scenarios.AuditResult.to_dict` alone on
standard output; ``--plot-dir DIR`` writes the monthly-net distribution and the equity fan.
A rich progress bar runs on standard error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from optimizer.cli.format import house_table, print_table
from optimizer.formatting import fmt, money, pct
from optimizer.outputs import check_output_dir

if TYPE_CHECKING:  # the audit pulls in scipy.stats: imported when the command runs
    from optimizer.audit.capital_scenarios import AuditResult, SimulatedRow

__all__ = ["progress_audit", "register", "render_audit"]


def progress_audit(spec, **kw) -> AuditResult:
    """:func:`run_audit` with a rich progress bar on standard error (keywords passed on)."""
    from optimizer.audit.capital_scenarios import run_audit
    from optimizer.outputs import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("auditing", total=None)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what)

        return run_audit(spec, progress=step, **kw)


def _big(x: float) -> str:
    """Money that may be astronomically large: 1,234 / 12.3M / 4.5e+12."""
    if x is None:
        return "—"
    ax = abs(x)
    if ax < 1e6:
        return money(x)
    if ax < 1e9:
        return f"{x / 1e6:,.1f}M"
    return fmt(x, ".2e")


def _ci(r: SimulatedRow) -> str:
    lo, hi = r.p_net_ge_target_ci
    return f"{lo * 100:.1f}–{hi * 100:.1f}%"


def _sim_table(title: str, rows: list[SimulatedRow], console: Console, target: float) -> None:
    t = house_table(title)
    t.add_column("", no_wrap=True)
    for r in rows:
        t.add_column(f"${r.capital:,.0f}", justify="right")
    lines = [
        ("mean net, month 1", lambda r: money(r.mean_net_monthly)),
        ("median net, month 1", lambda r: money(r.median_net_monthly)),
        (f"P(net ≥ {target:,.0f}), month 1", lambda r: pct(r.p_net_ge_target)),
        ("  95% CI", _ci),
        ("months ≥ target (all)", lambda r: pct(r.share_months_ge_target)),
        ("P(kill/ruin ≤ 12 mo)", lambda r: pct(r.p_kill_switch_12m)),
        ("  of which ruin", lambda r: pct(r.p_ruin_12m)),
        ("days at daily limit", lambda r: pct(r.p_daily_limit_day)),
        ("max drawdown p50", lambda r: pct(r.drawdown_quantiles["p50"])),
        ("max drawdown p95", lambda r: pct(r.drawdown_quantiles["p95"])),
        ("12-mo outcome p05", lambda r: _big(r.outcome_12m_quantiles["p05"])),
        ("12-mo outcome p50", lambda r: _big(r.outcome_12m_quantiles["p50"])),
        ("12-mo outcome p95", lambda r: _big(r.outcome_12m_quantiles["p95"])),
    ]
    for label, fn in lines:
        t.add_row(label, *(escape(fn(r)) for r in rows))
    print_table(console, t)


def _render_allocations(result: AuditResult, console: Console) -> None:
    """The allocation LP per capital level and objective, re-simulated at account level."""
    t = house_table(
        "Allocation (obj. mean: max expected monthly return; Kelly: max expected log "
        "growth; leverage, CVaR of the month and CVaR-of-drawdown caps; net m1, P≥target and "
        "P(kill) within 12 months re-simulated at account level)"
    )
    t.add_column("capital", no_wrap=True)
    t.add_column("obj.", no_wrap=True)
    t.add_column("allocation", min_width=16)
    t.add_column("mean/mo", justify="right")
    t.add_column("log/mo", justify="right")
    t.add_column("net m1", justify="right")
    t.add_column("P≥target", justify="right")
    t.add_column("P(kill)", justify="right")
    for o in result.optimized:
        a = o.allocation
        alloc = ", ".join(
            f"{n} {v:.0%}" for n, v in zip(a.labels, a.allocation, strict=True) if v > 1e-6
        )
        s = o.simulated
        t.add_row(
            f"${o.capital:,.0f}",
            "Kelly" if a.objective == "log_growth" else "mean",
            escape(alloc or "—") if a.status == "optimal" else escape(a.status),
            pct(a.expected_monthly_return),
            fmt(a.expected_log_growth, ".3f"),
            money(s.mean_net_monthly) if s else "—",
            pct(s.p_net_ge_target) if s else "—",
            pct(s.p_kill_switch_12m) if s else "—",
        )
    print_table(console, t)


def render_audit(result: AuditResult, console: Console) -> None:
    """Print the audit: claimed, checks, simulated (two variants), break-even, LP, assumptions."""
    ccy = result.currency
    t = house_table(f"As claimed (the seed's arithmetic; {ccy} per month unless stated)")
    t.add_column("", no_wrap=True)
    for r in result.claimed:
        t.add_column(f"${r.capital:,.0f}", justify="right")
    for label, fn in [
        ("gross", lambda r: money(r.gross_monthly)),
        ("net", lambda r: money(r.net_monthly)),
        ("monthly ROI", lambda r: pct(r.monthly_roi)),
        ("'annual' (compounded)", lambda r: money(r.annual)),
        ("meets target", lambda r: "yes" if r.meets_target else "no"),
        ("P(success) (hard-coded)", lambda r: fmt(r.p_success, ".0%")),
    ]:
        t.add_row(label, *(escape(fn(r)) for r in result.claimed))
    print_table(console, t)

    t = house_table("Consistency of the stated per-trade parameters")
    t.add_column("stream", no_wrap=True)
    t.add_column("check", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("detail")
    for f in result.checks:
        t.add_row(escape(f.stream), escape(f.check), escape(f.severity), escape(f.message))
    print_table(console, t)

    _sim_table(
        f"Simulated: stated per-trade parameters ({result.paths:,} paths, seed {result.seed})",
        result.simulated,
        console,
        result.target_monthly,
    )
    _sim_table(
        "Simulated: no-edge win rates (same streams, zero expected gross per trade)",
        result.simulated_no_edge,
        console,
        result.target_monthly,
    )

    be = result.break_even
    t = house_table(f"Break-even capital ({ccy})")
    t.add_column("", no_wrap=True)
    t.add_column("capital", justify="right")
    t.add_column("how")
    t.add_row("as claimed", money(be["claimed"]), escape(be["claimed_note"]))
    t.add_row("recomputed (stated)", money(be["recomputed"]), escape(be["recomputed_note"]))
    t.add_row(
        "recomputed (no edge)",
        money(be["recomputed_no_edge"]),
        escape(be["recomputed_no_edge_note"]),
    )
    print_table(console, t)

    if result.optimized:
        _render_allocations(result, console)

    console.print("[bold]Assumptions[/]", highlight=False)
    for a in result.assumptions:
        console.print(f"  • {escape(a)}", highlight=False)
    console.print(f"[dim]audit computed in {result.seconds:.1f} s[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to ``app``."""

    @app.command("audit")
    def audit_cmd(
        file: Annotated[Path, typer.Argument(help="Audit YAML (scenarios/quantai/…).")],
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON document on standard output.")
        ] = False,
        plot_dir: Annotated[
            Path | None,
            typer.Option(
                "--plot-dir",
                help="Write audit_monthly_net.png and audit_equity_fan.png there.",
            ),
        ] = None,
        paths: Annotated[
            int | None,
            typer.Option("--paths", min=10, max=200_000, help="Monte Carlo paths (default: file)."),
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Random seed (default: the file's).")
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a field: dotted.path=value (repeatable)."),
        ] = None,
    ) -> None:
        """Recompute seed 2's capital table as claimed and beside a Monte Carlo of its streams."""
        from optimizer.audit.capital_scenarios import load_audit, write_audit_plots
        from optimizer.outputs import stdout_to_stderr

        if plot_dir is not None:
            check_output_dir(plot_dir, "--plot-dir")
        with stdout_to_stderr() as stdout:
            spec = load_audit(file, list(overrides or []))
            result = progress_audit(spec, paths=paths, seed=seed)
            written = write_audit_plots(result, plot_dir) if plot_dir is not None else []
        if as_json:
            from optimizer.verdict.result import jsonable

            stdout.write(json.dumps(jsonable(result.to_dict()), indent=2, allow_nan=False) + "\n")
            stdout.flush()
            for p in written:
                print(f"wrote: {p}", file=sys.stderr)
        else:
            console = Console(file=stdout)
            console.rule(f"[bold]{escape(spec.name)}[/]")
            render_audit(result, console)
            for p in written:
                console.print(f"wrote: {escape(str(p))}", highlight=False, soft_wrap=True)
