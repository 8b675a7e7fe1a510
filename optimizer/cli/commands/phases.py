"""``thetaplan phases STUDY``: solve every case of a study and tabulate the phase verdicts.

Each case (a scenario file and/or overrides) is solved with the study's solve options
(``solve.diagnostics``, ``solve.min_nlv``) exactly as ``thetaplan solve`` would solve that
scenario, and one column per case shows NLV, target, max achievable income, achievement, the
chosen book's income, BP used, 1-day CVaR, P(success) with its interval, the verdict, the minimum
account and the joint minimal relaxation. ``--json`` prints a list with, per case in file order,
the document of ``thetaplan solve --json`` plus ``case``.

``--plot-dir DIR`` writes ``phase_bars.png`` (achievement per case against the 100% line) and
``income_vs_nlv.png`` (max expected monthly income at 12 account sizes from 0.5× to 4× each
case's NLV: 12 extra max-income MILPs per case, about 0.1–0.6 s each for the Tom King phases).

The computation is :mod:`optimizer.studies.phases` (:func:`~optimizer.studies.phases.solve_cases`,
:func:`~optimizer.studies.phases.income_curve`, :func:`~optimizer.studies.phases.phase_table`),
shared with ``thetaplan report`` and the notebooks; this module renders it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from models.errors import SpecError
from optimizer.cli.format import house_table, print_table
from optimizer.formatting import fmt, money, pct
from optimizer.outputs import check_output_dir
from optimizer.studies.phases import (
    CaseRun,
    curve_table,
    phase_table,
    solve_cases,
)

if TYPE_CHECKING:  # numpy, pandas and the solver stack are imported when a command runs
    import pandas as pd

    from optimizer.studies.study import Point, Study

__all__ = [
    "min_nlv_text",
    "progress_solve",
    "register",
    "render_phases",
    "write_phase_plots",
]

#: File names written into ``--plot-dir``.
PHASE_BARS_PNG = "phase_bars.png"
INCOME_VS_NLV_PNG = "income_vs_nlv.png"


# ----------------------------------------------------------------------------- table
def _cvar_label(t: pd.DataFrame) -> tuple[str, bool]:
    """Row label of the CVaR line; whether each cell must carry its own confidence."""
    conf = t["cvar_confidence"].dropna().unique()
    hor = t["cvar_horizon"].dropna().unique()
    if len(conf) == 1 and len(hor) == 1:
        return f"CVaR {conf[0]:.0%} ({hor[0].replace('trading ', '')})", False
    return "CVaR (1 day)", True


def min_nlv_text(row: Any) -> str:
    """The minimum-account cell of a :func:`phase_table` row: money, ``none`` or ``not searched``."""
    import numpy as np

    if np.isfinite(row["min_nlv"]):
        return money(row["min_nlv"])
    return "not searched" if row["min_nlv_note"] == "not searched" else "none"


def render_phases(table: pd.DataFrame, console: Console) -> None:
    """Print the phase table (one column per case, as many per block as fit) and relaxations.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`phase_table`.
    console : Console
        Where to print; blocks of cases are sized to ``console.width`` (80 → 4 cases).
    """
    import numpy as np

    ccys = list(dict.fromkeys(table["currency"]))
    cvar_label, cvar_each = _cvar_label(table)
    ccy_note = f"money in {ccys[0]}" if len(ccys) == 1 else "money in each case's currency"

    def ci(r) -> str:
        if not np.isfinite(r["success_ci_low"]):
            return "—"
        return f"{fmt(r['success_ci_low'], '.2%')}–{fmt(r['success_ci_high'], '.2%')}"

    def cvar(r) -> str:
        s = money(r["cvar"])
        if cvar_each and np.isfinite(r["cvar_confidence"]):
            s += f" @{r['cvar_confidence']:.0%}"
        return s

    lines: list[tuple[str, Callable[[Any], str]]] = [
        ("NLV", lambda r: money(r["nlv"])),
        ("target / month", lambda r: money(r["target"])),
        ("max income / month", lambda r: money(r["max_income"])),
        ("achievement", lambda r: pct(r["achievement"])),
        ("chosen book income", lambda r: money(r["chosen_income"])),
        ("BP used (of NLV)", lambda r: pct(r["bp_used_pct"])),
        (cvar_label, cvar),
        ("P(month ≥ target)", lambda r: fmt(r["success_probability"], ".2%")),
        ("  95% CI", ci),
        ("verdict", lambda r: r["status"]),
        ("minimum NLV", min_nlv_text),
        ("min relaxation", lambda r: r["relaxation_short"]),
    ]
    if len(ccys) > 1:
        lines.insert(0, ("currency", lambda r: r["currency"]))
    label_w = max(len(label) for label, _ in lines) + 1
    per_block = max(1, (max(console.width, 40) - label_w) // 15)
    records = table.to_dict(orient="records")
    for start in range(0, len(records), per_block):
        block = records[start : start + per_block]
        title = f"Phase table ({ccy_note}; income per month, net of costs)"
        if len(records) > per_block:
            title += f" — cases {start + 1}–{start + len(block)} of {len(records)}"
        t = house_table(title)
        t.add_column("", no_wrap=True)
        for r in block:
            t.add_column(escape(str(r["case"])), justify="right")
        for label, fn in lines:
            t.add_row(label, *(escape(fn(r)) for r in block))
        print_table(console, t)
    with_steps = [r for r in records if r["relaxation"]]
    if with_steps:
        console.print(
            "[bold]Joint minimal relaxation[/] (smallest cap increases, weighted by 1/bound, "
            "that reach the target)",
            highlight=False,
        )
        for r in with_steps:
            console.print(f"  {escape(str(r['case']))}:", highlight=False)
            for s in r["relaxation"]:
                console.print(f"    {escape(s)}", highlight=False)
    for r in records:
        if not np.isfinite(r["min_nlv"]) and r["min_nlv_note"] != "not searched":
            console.print(
                f"[dim]minimum NLV, {escape(str(r['case']))}: {escape(r['min_nlv_note'])}[/]",
                highlight=False,
            )


# ----------------------------------------------------------------------------- plots
def write_phase_plots(runs: Sequence[CaseRun], folder: Path) -> list[Path]:
    """Write ``phase_bars.png`` and (with curves) ``income_vs_nlv.png`` into ``folder``.

    Returns
    -------
    list[Path]
        The files written.

    Raises
    ------
    SpecError
        ``--plot-dir: cannot write …`` when the folder or a file cannot be written.
    """
    from optimizer import plots

    table = phase_table(runs)
    ccys = list(dict.fromkeys(table["currency"]))
    ccy = ccys[0] if len(ccys) == 1 else ""
    written = []
    try:
        folder.mkdir(exist_ok=True)
        bars = folder / PHASE_BARS_PNG
        plots.phase_bars(table, ccy=ccy, path=bars)
        written.append(bars)
        curves = curve_table(runs)
        if not curves.empty:
            path = folder / INCOME_VS_NLV_PNG
            plots.income_vs_nlv(
                curves,
                dict(zip(table["case"], table["target"], strict=True)),
                ccy=ccy,
                current=dict(zip(table["case"], table["nlv"], strict=True)),
                min_nlv={
                    c: m for c, m in zip(table["case"], table["min_nlv"], strict=True) if m == m
                },
                path=path,
            )
            written.append(path)
    except OSError as exc:
        raise SpecError(f"--plot-dir: cannot write {folder} ({exc.strerror or exc})") from None
    return written


# ----------------------------------------------------------------------------- command
def progress_solve(study: Study, *, curves: bool, backend: str | None = None) -> list[CaseRun]:
    """:func:`solve_cases` with a rich progress bar on standard error.

    Parameters
    ----------
    study : Study
        A validated study.
    curves : bool
        Also compute each point's :func:`income_curve`.
    backend : str, optional
        Solver backend (default: each scenario's).

    Returns
    -------
    list[CaseRun]
        One per point, in the study's order.
    """
    from optimizer.outputs import progress_bar

    with progress_bar() as bar:
        n = len(study.cases or []) if study.kind == "cases" else None
        task = bar.add_task("solving", total=n)

        def step(point: Point, i: int, total: int) -> None:
            bar.update(task, completed=i, total=total, description=f"solving {point.name}")

        runs = solve_cases(study, curves=curves, backend=backend, progress=step)
        done = f"solved {len(runs)} point{'s' if len(runs) != 1 else ''}"
        bar.update(task, completed=len(runs), description=done)
    return runs


def register(app: typer.Typer) -> None:
    """Add the ``phases`` command to ``app``."""

    @app.command("phases")
    def phases_cmd(
        study: Annotated[Path, typer.Argument(help="Study YAML file with cases.")],
        as_json: Annotated[
            bool,
            typer.Option(
                "--json",
                help="Print one JSON document (a list: per case, solve --json's keys + case).",
            ),
        ] = False,
        plot_dir: Annotated[
            Path | None,
            typer.Option(
                "--plot-dir",
                help="Write phase_bars.png and income_vs_nlv.png there (the curve costs 12 "
                "max-income MILPs per case).",
            ),
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="Override a field of every case's scenario: dotted.path=value "
                "(repeatable); solve.diagnostics / solve.min_nlv set the study's solve options.",
            ),
        ] = None,
    ) -> None:
        """Solve every case of STUDY and print the phase table (verdict per case)."""
        from optimizer.outputs import stdout_to_stderr
        from optimizer.studies.study import load_study

        if plot_dir is not None:
            check_output_dir(plot_dir, "--plot-dir")
        with stdout_to_stderr() as stdout:
            st = load_study(study, list(overrides or []))
            if st.kind != "cases":
                raise SpecError(
                    f"{study}: grid: phases needs a study with cases (a grid is a sweep: use "
                    "thetaplan report for its table and heatmap)"
                )
            runs = progress_solve(st, curves=plot_dir is not None)
            written = write_phase_plots(runs, plot_dir) if plot_dir is not None else []
        if as_json:
            doc = [{"case": run.point.name, **run.result.to_dict()} for run in runs]
            from optimizer.verdict.result import jsonable

            stdout.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
            stdout.flush()
            for p in written:
                print(f"wrote: {p}", file=sys.stderr)
        else:
            console = Console(file=stdout)
            console.rule(f"[bold]{escape(st.name)}[/]")
            render_phases(phase_table(runs), console)
            for p in written:
                console.print(f"wrote: {escape(str(p))}", highlight=False, soft_wrap=True)
