"""``thetaplan track LEDGER --scenario S``: month-to-date progress, alerts and the re-plan.

``[--as-of DATE] [--json] [--report FILE.html|FILE.md] [--write-scenario FILE.yaml] [--no-replan]
[--set path=value]``

Prints the month-to-date income per strategy (realized, unrealized, share of the gross P&L —
its P&L over the sum of every strategy's absolute P&L, bounded by ±100% where a share of a net
total near zero is not — beside the allocation weight), the pro-rata target, theta per day now and in the plan, the alerts and
the re-plan (trades to add, or why no catch-up fits the caps) — see :mod:`optimizer.tracking.tracker`.
``--json`` prints one JSON document (nothing else on stdout). ``--report`` writes the monthly
report: HTML (one self-contained file, figures embedded) or Markdown (figures written beside it
as ``<stem>_income.png`` and ``<stem>_allocation.png``), with the income curve against the
target line and the allocation-drift chart. ``--write-scenario`` saves the re-plan's scenario
(the plan with the open trades as ``held:`` and the run-rate target): ``thetaplan solve`` of it
gives the re-plan's book. Output paths are checked before any solve.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from models.errors import SpecError

__all__ = ["register", "report_figures", "write_report"]


def report_figures(report: dict, scenario) -> tuple:
    """The monthly report's two figures for a :func:`optimizer.tracking.tracker.track` report.

    Returns
    -------
    (Figure, Figure)
        The income curve against the pro-rata target
        (:func:`optimizer.plots.income_curve`) and the allocation drift
        (:func:`optimizer.plots.allocation_drift`).
    """
    from optimizer import plots

    daily = report["month_to_date"]["daily"]
    dates = [d["date"] for d in daily]
    ccy = report["currency"]
    fig1 = plots.income_curve(
        dates,
        [d["total"] for d in daily],
        [d["realized"] for d in daily],
        [d["pro_rata_target"] for d in daily],
        report["target"],
        ccy=ccy,
    )
    weights = {r["strategy"]: r["weight"] for r in report["allocation"]["targets"]}
    income = {k: [d["per_strategy"].get(k, 0.0) for d in daily] for k in weights}
    fig2 = plots.allocation_drift(
        dates,
        income,
        weights,
        report["allocation"]["tolerance"],
        [d["pro_rata_target"] for d in daily],
        ccy=ccy,
    )
    return fig1, fig2


def _md_escape(value):
    """A value as Markdown text: HTML special characters escaped, table pipes backslashed."""
    import html

    if isinstance(value, str):
        return html.escape(value, quote=False).replace("|", "\\|")
    return value


def write_report(report: dict, scenario, path: Path) -> list[Path]:
    """Write the monthly report to ``path`` (``.html`` or ``.md``); returns the files written.

    The file is written to a temporary name in the same folder and renamed, so a failure leaves
    no partial report.

    Raises
    ------
    SpecError
        Unsupported extension or unwritable path.
    """
    from importlib.resources import files

    from jinja2 import Environment, select_autoescape

    from optimizer.outputs import atomic_write
    from optimizer.plots import png_bytes

    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise SpecError(f"--report: {path.name}: expected a .html or .md file")
    fig1, fig2 = report_figures(report, scenario)
    written: list[Path] = []
    ctx = {"r": report, "name": scenario.name}
    if suffix == ".md":
        inc = path.with_name(f"{path.stem}_income.png")
        alloc = path.with_name(f"{path.stem}_allocation.png")
        inc.write_bytes(png_bytes(fig1))
        alloc.write_bytes(png_bytes(fig2))
        written += [inc, alloc]
        ctx.update(income_png=inc.name, allocation_png=alloc.name)
        template = "track.md.j2"
        # Markdown renders raw HTML: every value is written with <, >, & escaped and table
        # pipes backslashed (a strategy named "<script>" is shown, not run)
        env = Environment(  # noqa: S701 - escaping is the finalize below
            autoescape=False, trim_blocks=True, lstrip_blocks=True, finalize=_md_escape
        )
    else:
        ctx.update(
            income_png=base64.b64encode(png_bytes(fig1)).decode(),
            allocation_png=base64.b64encode(png_bytes(fig2)).decode(),
        )
        template = "track.html.j2"
        env = Environment(autoescape=select_autoescape(["html"]), trim_blocks=True)
    env.filters["money"] = lambda v: "—" if v is None else f"{v:,.0f}"
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    text = env.from_string(
        files("optimizer.cli.templates").joinpath(template).read_text(encoding="utf-8")
    ).render(**ctx)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return [path, *written]


def _save_scenario(scenario, path: Path) -> None:
    from optimizer.inputs.spec import scenario_to_yaml

    try:
        path.write_text(scenario_to_yaml(scenario), encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"--write-scenario: cannot write {path} ({exc.strerror})") from None


def _render(report: dict, console) -> None:
    from rich.table import Table

    ccy = report["currency"]
    m = report["month_to_date"]
    td = report["trading_days"]
    console.rule(f"Month to date at the close of {report['as_of']}")
    t = Table(title=f"Income per strategy ({ccy})", title_justify="left")
    for col in ("strategy", "realized", "unrealized", "share of gross", "band"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for k, v in m["per_strategy"].items():
        w = v.get("weight")
        band = "" if w is None else f"{w:.0%}"
        sg = v.get("share_of_gross")
        share = "—" if sg is None else f"{sg:.0%}"
        t.add_row(k, f"{v['realized']:,.0f}", f"{v['unrealized']:,.0f}", share, band)
    t.add_row("total", f"{m['realized']:,.0f}", f"{m['unrealized']:,.0f}", "", "")
    console.print(t)
    console.print(
        f"share of gross: each strategy's P&L over the sum of the absolute P&L of all "
        f"({m['gross']:,.0f} {ccy}), signed"
    )
    console.print(
        f"income {m['total']:,.0f} {ccy} against a pro-rata target of "
        f"{report['pro_rata_target']:,.0f} ({td['elapsed']} of {td['month']} trading days; "
        f"monthly target {report['target']:,.0f})"
    )
    th = report["theta_per_day"]
    plan = "—" if th["plan"] is None else f"{th['plan']:,.2f}"
    console.print(f"theta per day: now {th['now']:,.2f}, plan {plan} {ccy}")
    bp = report["buying_power"]
    console.print(
        f"buying power of the open positions {bp['used']:,.0f} of a {bp['cap']:,.0f} cap "
        f"(VIX {report['vix']['value']:.2f}, {report['vix']['source']})"
    )
    console.rule("Alerts")
    if not report["alerts"]:
        console.print("none")
    for a in report["alerts"]:
        console.print(f"[{a['severity']}] {a['code']}: {a['message']}", markup=False)
    rp = report.get("replan")
    if rp is not None:
        console.rule("Re-plan for the rest of the month")
        console.print(rp["message"], markup=False)
        for p in rp.get("positions", []):
            console.print(
                f"  add {p['contracts_to_add']} × {p['strategy']} {p['underlying']} "
                f"{str(p['expiry'])[:10]} {p['strikes']}",
                markup=False,
            )
    rb = report.get("rebalance")
    if rb is not None:
        console.rule("Allocation rebalance")
        console.print(rb["message"], markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``track`` command to ``app``."""

    @app.command("track")
    def track_cmd(
        ledger: Annotated[Path, typer.Argument(help="Ledger file (thetaplan ledger init).")],
        scenario: Annotated[
            Path, typer.Option("--scenario", help="The plan: a scenario YAML file.")
        ],
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of", help="Date (YYYY-MM-DD) whose close is reported; default today."
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON document (nothing else).")
        ] = False,
        report: Annotated[
            Path | None,
            typer.Option("--report", help="Write the monthly report (FILE.html or FILE.md)."),
        ] = None,
        write_scenario: Annotated[
            Path | None,
            typer.Option(
                "--write-scenario",
                help="Save the re-plan's scenario (held positions, run-rate target) as YAML: "
                "thetaplan solve of it gives the re-plan.",
            ),
        ] = None,
        no_replan: Annotated[
            bool, typer.Option("--no-replan", help="Ledger figures and alerts only (no solve).")
        ] = False,
        overrides: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a scenario field: dotted.path=value."),
        ] = None,
    ) -> None:
        """Month-to-date income vs the plan, alerts, and the re-plan of the rest of the month."""
        from rich.console import Console

        from optimizer.inputs.spec import load_scenario
        from optimizer.outputs import check_output_path, stdout_to_stderr
        from optimizer.tracking.ledger import open_ledger
        from optimizer.tracking.tracker import track
        from optimizer.verdict.result import jsonable

        try:
            day = date.today() if as_of is None else date.fromisoformat(as_of)
        except ValueError:
            raise SpecError(f"--as-of: {as_of!r} is not a YYYY-MM-DD date") from None
        if report is not None:
            if report.suffix.lower() not in (".html", ".htm", ".md"):
                raise SpecError(f"--report: {report.name}: expected a .html or .md file")
            check_output_path(report, "--report")
        if write_scenario is not None:
            if no_replan:
                raise SpecError("--write-scenario: needs the re-plan (drop --no-replan)")
            check_output_path(write_scenario, "--write-scenario")
        if not ledger.exists():
            raise SpecError(f"{ledger}: no such ledger (create it with thetaplan ledger init)")
        sc = load_scenario(scenario, list(overrides or []))
        conn = open_ledger(ledger)
        try:
            with stdout_to_stderr() as stdout:
                doc = track(
                    conn,
                    sc,
                    day,
                    replan=not no_replan,
                    on_replan=None
                    if write_scenario is None
                    else lambda s: _save_scenario(s, write_scenario),
                )
                written = write_report(doc, sc, report) if report is not None else []
        finally:
            conn.close()
        doc = jsonable(doc)
        if as_json:
            stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
            stdout.flush()
        else:
            console = Console(file=stdout)
            _render(doc, console)
            for p in written + ([write_scenario] if write_scenario is not None else []):
                console.print(f"wrote {p}")
