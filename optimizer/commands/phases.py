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

The helpers (:func:`optimizer.study.load_study`, :func:`solve_cases`, :func:`income_curve`,
:func:`phase_table`) are shared with ``thetaplan report``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from models.errors import SpecError
from optimizer.commands.solve import (
    _fmt,
    _money,
    _pct,
    _print_table,
    _table,
    horizon_label,
    relaxation_text,
)

if TYPE_CHECKING:  # numpy, pandas and the solver stack are imported when a command runs
    import pandas as pd

    from optimizer.result import SizingResult
    from optimizer.spec import Scenario
    from optimizer.study import Point, Study

__all__ = [
    "CURVE_MULTIPLES",
    "CaseRun",
    "check_output_dir",
    "curve_table",
    "curve_nlvs",
    "income_curve",
    "min_nlv_text",
    "phase_table",
    "progress_solve",
    "register",
    "render_phases",
    "solve_cases",
    "write_phase_plots",
]

#: Account sizes of the income-vs-NLV curve, as multiples of each case's NLV (1.0 included,
#: so the curve passes through the case's own max income).
CURVE_MULTIPLES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)

#: File names written into ``--plot-dir``.
PHASE_BARS_PNG = "phase_bars.png"
INCOME_VS_NLV_PNG = "income_vs_nlv.png"


# ----------------------------------------------------------------------------- loading
def check_output_dir(path: Path, flag: str) -> Path:
    """Check, before any work, that ``path`` is a folder that exists or can be created.

    Parameters
    ----------
    path : Path
        The folder a flag names (``--plot-dir``, ``--out``); created when it is written to.
    flag : str
        The flag, for the message.

    Returns
    -------
    Path
        ``path`` unchanged.

    Raises
    ------
    SpecError
        ``<flag>: …`` when the path is a file, its parent folder is missing, or either is not
        writable.
    """
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise SpecError(f"{flag}: {p} is a file, expected a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise SpecError(f"{flag}: cannot write into folder {p} (permission denied)")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(f"{flag}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(f"{flag}: cannot create {p} (permission denied in {parent})")
    return p


# ----------------------------------------------------------------------------- solving
@dataclass(frozen=True)
class CaseRun:
    """One solved case of a study.

    Parameters
    ----------
    point : Point
        The study point (name, overrides, validated scenario).
    result : SizingResult
        Its solve, with the study's solve options.
    curve : pd.DataFrame | None
        Its income-vs-NLV curve (:func:`income_curve`), when asked for.
    """

    point: Point
    result: SizingResult
    curve: pd.DataFrame | None = None


def curve_nlvs(nlv: float, min_nlv: float | None, points: int = 8) -> list[float]:
    """Account sizes of an income-vs-NLV curve, reaching the minimum NLV when one was found.

    Parameters
    ----------
    nlv : float
        The scenario's NLV (account currency).
    min_nlv : float | None
        The minimum NLV found (``verdict.min_nlv.value``), or ``None``.
    points : int
        Log-spaced sizes added from the last multiple up to ``min_nlv``.

    Returns
    -------
    list[float]
        ``nlv`` × :data:`CURVE_MULTIPLES`, plus (when ``min_nlv`` lies beyond them) ``points``
        log-spaced sizes up to ``min_nlv`` and 0.99 × ``min_nlv`` (the certificate's pair),
        increasing.
    """
    import numpy as np

    sizes = {nlv * m for m in CURVE_MULTIPLES}
    if min_nlv is not None and math.isfinite(min_nlv):
        top = max(sizes)
        if min_nlv > top:
            sizes |= {float(x) for x in np.geomspace(top, min_nlv, points + 1)[1:]}
        sizes |= {float(min_nlv), 0.99 * float(min_nlv)}
    return sorted(sizes)


def income_curve(
    scenario: Scenario,
    multiples: Sequence[float] = CURVE_MULTIPLES,
    *,
    nlvs: Sequence[float] | None = None,
    backend: str | None = None,
) -> pd.DataFrame:
    """Max expected monthly income of a scenario at other account sizes.

    Each point is an exact max-income MILP (:func:`optimizer.solving.max_income`) on the
    scenario's candidates rescaled to the account size, under its caps moved with the account
    by the scenario's rule (:mod:`optimizer.nlv_rule`, ``positions.scale_with_nlv``: caps stated
    as fractions of NLV scale; phases by NLV and count caps × NLV / GBP 75,000 above phase 4)
    with its tail-risk caps and without the chance constraint — the problem the
    minimum-account search bisects on. At the scenario's own NLV it is the
    verdict's max income whenever the chance constraint is not in force.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario (its candidates and income simulation come from the
        :func:`optimizer.pipeline.prepare` cache when it was just solved).
    multiples : sequence of float
        Account sizes as multiples of ``account.net_liq`` (ignored when ``nlvs`` is given).
    nlvs : sequence of float, optional
        Account sizes (account currency), instead of ``multiples``.
    backend : str, optional
        Solver backend (default: the scenario's).

    Returns
    -------
    pd.DataFrame
        One row per account size, increasing: ``nlv`` (account currency), ``multiple`` (of the
        scenario's NLV), ``max_income`` (account currency per month; NaN when unbounded or
        unsolved), ``unbounded`` (bool) and ``status`` (the solver's).
    """
    import pandas as pd

    from optimizer.nlv_rule import rule_for
    from optimizer.pipeline import prepare
    from optimizer.risk_model import build_risk_data
    from optimizer.solving import SolveContext, max_income

    base = float(scenario.account.net_liq)
    sizes = sorted(float(v) for v in (nlvs if nlvs is not None else [base * m for m in multiples]))
    prep = prepare(scenario)
    cs = prep.candidates
    risk = None
    if scenario.risk is not None:
        managed = prep.income.result if prep.income is not None else None
        risk = build_risk_data(scenario, cs, prep.market, managed=managed)
    ctx = SolveContext(
        backend or scenario.solver.backend,
        scenario.solver.options(),
    )
    rule = rule_for(scenario, prep, risk)
    rows = []
    for nlv in sizes:
        c, lim, rk = rule.at(nlv)
        res = max_income(c, lim, ctx, risk=rk)
        value = res.value
        rows.append(
            {
                "nlv": nlv,
                "multiple": nlv / base,
                "max_income": float("nan") if value is None else float(value),
                "unbounded": bool(res.unbounded),
                "status": res.outcome.status.value,
            }
        )
    return pd.DataFrame(rows)


def solve_cases(
    study: Study,
    *,
    curves: bool = False,
    backend: str | None = None,
    progress: Callable[[Point, int, int], None] | None = None,
) -> list[CaseRun]:
    """Solve every point of a study with its solve options, in file order.

    Parameters
    ----------
    study : Study
        A validated study (cases or grid).
    curves : bool
        Also compute each point's :func:`income_curve` (right after its solve, so the
        prepared candidates are reused).
    backend : str, optional
        Solver backend (default: each scenario's).
    progress : callable, optional
        Called as ``progress(point, i, n)`` before point ``i`` (0-based) of ``n`` is solved.

    Returns
    -------
    list[CaseRun]
        One per point, in the study's order.
    """
    from optimizer.pipeline import solve_scenario
    from optimizer.study import expand

    points = expand(study)
    runs = []
    for i, point in enumerate(points):
        if progress is not None:
            progress(point, i, len(points))
        result = solve_scenario(
            point.scenario,
            backend=backend,
            min_nlv_search=study.solve.min_nlv,
            diagnostics_level=study.solve.diagnostics,
        )
        curve = None
        if curves:
            sizes = curve_nlvs(point.scenario.account.net_liq, result.verdict.min_nlv.value)
            curve = income_curve(point.scenario, nlvs=sizes, backend=backend)
        runs.append(CaseRun(point, result, curve))
    return runs


# ----------------------------------------------------------------------------- table
def _relaxation_summary(result: SizingResult) -> tuple[list[str], str]:
    v = result.verdict
    steps = [relaxation_text(s) for s in (v.minimal_relaxation or ())]
    note = str(v.minimal_relaxation_note or "")
    if steps:
        short = f"{len(steps)} cap{'s' if len(steps) != 1 else ''}"
    elif v.conflicts:
        short = "caps conflict"
    elif note.startswith("not needed"):
        short = "not needed"
    elif note.startswith("not computed"):
        short = "not computed"
    else:
        short = "none found"
    return steps, short


def phase_table(runs: Sequence[CaseRun]) -> pd.DataFrame:
    """The phase table: one row per case, the headline numbers of its verdict.

    Parameters
    ----------
    runs : sequence of CaseRun
        Solved cases, in display order.

    Returns
    -------
    pd.DataFrame
        Columns ``case``, ``currency``, ``nlv``, ``target``, ``max_income``, ``achievement``
        (fraction), ``chosen_income``, ``chosen_achievement``, ``bp_used_pct`` (fraction of
        NLV), ``cvar`` (1-day CVaR of the book at the primary confidence, in-sample value the
        cap uses; NaN without a ``risk:`` section), ``cvar_confidence``, ``cvar_horizon`` (text,
        ``"1 trading day"``), ``success_probability``, ``success_ci_low``, ``success_ci_high`` (out of
        sample, fractions; NaN when not computed), ``status``, ``min_nlv`` (NaN when none),
        ``min_nlv_note``, ``relaxation`` (list of the joint minimal relaxation's steps as text)
        and ``relaxation_short`` (``"3 caps"``, ``"not needed"`` …). Money is in each case's
        account currency, income per month.
    """
    import pandas as pd

    nan = float("nan")
    rows = []
    for run in runs:
        r = run.result
        v, p = r.verdict, r.portfolio
        cv = p.get("cvar") or {}
        ci = v.success_probability_ci or (nan, nan)
        steps, short = _relaxation_summary(r)
        rows.append(
            {
                "case": run.point.name,
                "currency": p["currency"],
                "nlv": float(p["net_liq"]),
                "target": float(v.target),
                "max_income": nan if v.max_income is None else float(v.max_income),
                "achievement": nan if v.achievement is None else float(v.achievement),
                "chosen_income": float(v.chosen_income),
                "chosen_achievement": float(v.chosen_achievement),
                "bp_used_pct": float(p["bp_used_pct"]),
                "cvar": float(cv.get("value", nan)),
                "cvar_confidence": float(cv.get("confidence", nan)),
                "cvar_horizon": (
                    horizon_label(cv["horizon_days"], (p.get("var") or {}).get("scenarios"))
                    if "horizon_days" in cv
                    else None
                ),
                "success_probability": (
                    nan if v.success_probability is None else float(v.success_probability)
                ),
                "success_ci_low": float(ci[0]),
                "success_ci_high": float(ci[1]),
                "status": v.status.value,
                "min_nlv": nan if v.min_nlv.value is None else float(v.min_nlv.value),
                "min_nlv_note": v.min_nlv_note,
                "relaxation": steps,
                "relaxation_short": short,
            }
        )
    return pd.DataFrame(rows)


def curve_table(runs: Sequence[CaseRun]) -> pd.DataFrame:
    """Every case's income-vs-NLV curve in one table.

    Returns
    -------
    pd.DataFrame
        The :func:`income_curve` columns plus ``case``, cases in order; empty when no run
        carries a curve.
    """
    import pandas as pd

    parts = [run.curve.assign(case=run.point.name) for run in runs if run.curve is not None]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


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
        return _money(row["min_nlv"])
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
        return f"{_fmt(r['success_ci_low'], '.2%')}–{_fmt(r['success_ci_high'], '.2%')}"

    def cvar(r) -> str:
        s = _money(r["cvar"])
        if cvar_each and np.isfinite(r["cvar_confidence"]):
            s += f" @{r['cvar_confidence']:.0%}"
        return s

    lines: list[tuple[str, Callable[[Any], str]]] = [
        ("NLV", lambda r: _money(r["nlv"])),
        ("target / month", lambda r: _money(r["target"])),
        ("max income / month", lambda r: _money(r["max_income"])),
        ("achievement", lambda r: _pct(r["achievement"])),
        ("chosen book income", lambda r: _money(r["chosen_income"])),
        ("BP used (of NLV)", lambda r: _pct(r["bp_used_pct"])),
        (cvar_label, cvar),
        ("P(month ≥ target)", lambda r: _fmt(r["success_probability"], ".2%")),
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
        t = _table(title)
        t.add_column("", no_wrap=True)
        for r in block:
            t.add_column(escape(str(r["case"])), justify="right")
        for label, fn in lines:
            t.add_row(label, *(escape(fn(r)) for r in block))
        _print_table(console, t)
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
    from optimizer.cli_io import progress_bar

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
        from optimizer.cli_io import stdout_to_stderr
        from optimizer.study import load_study

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
            stdout.write(json.dumps(doc, indent=2) + "\n")
            stdout.flush()
            for p in written:
                print(f"wrote: {p}", file=sys.stderr)
        else:
            console = Console(file=stdout)
            console.rule(f"[bold]{escape(st.name)}[/]")
            render_phases(phase_table(runs), console)
            for p in written:
                console.print(f"wrote: {escape(str(p))}", highlight=False, soft_wrap=True)
