"""``thetaplan report SCENARIO|STUDY --out DIR``: a self-contained HTML report.

One file, ``DIR/report.html``, rendered from the Jinja2 template
``optimizer/cli/templates/report.html.j2``: CSS inline, every figure embedded as a base64 PNG
(``<img src="data:image/png;base64,…">``), no script and no network — it reads in any browser,
without Python. Every table has an ``id`` and a ``<caption>``.

* **scenario**: the verdict sentence and headline cards (max income, achievement, chosen income,
  P(success), minimum account), positions, portfolio with the gross − costs = net line,
  allocation, tail risk (1 day and monthly), named stresses, win rates, what the caps cost (one
  family lifted, the joint minimal relaxation, binding caps) and the monthly P&L histogram;
* **study with cases**: the phase table of ``thetaplan phases``, the achievement bars and the
  income-vs-NLV curves (with their numbers);
* **study with a grid**: the tidy table of every point (sorted by the swept axes) and, with two
  swept axes, the achievement heatmap.

``DIR`` is checked before anything is solved; the report is written to a temporary file in
``DIR`` and renamed, so a failure leaves no partial ``report.html``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from models.errors import SpecError
from optimizer.cli.commands._report_blocks import (
    REPORT_NAME,
    _ci_text,
    _figure,
    _income_vs_nlv_section,
    _section,
    _table,
    _version,
    build_scenario_report,
)
from optimizer.cli.commands.phases import min_nlv_text, progress_solve
from optimizer.formatting import axis_label, fmt, money, pct
from optimizer.outputs import atomic_write, check_output_dir
from optimizer.studies.phases import CaseRun, curve_table, phase_table

if TYPE_CHECKING:  # pandas and the solver stack: imported when a command runs
    import pandas as pd

    from optimizer.studies.study import Study

__all__ = [
    "REPORT_NAME",
    "build_cases_report",
    "build_grid_report",
    "build_scenario_report",
    "grid_table",
    "register",
    "render_html",
    "write_report",
]


# ----------------------------------------------------------------------------- cases study
def _phase_rows(t) -> tuple[list[tuple[str, bool]], list[list]]:
    """Columns ``(header, numeric)`` and rows of the report's phase table (:func:`phase_table`)."""
    import numpy as np

    cols = [
        ("case", False),
        ("NLV", True),
        ("target / month", True),
        ("max income / month", True),
        ("achievement", True),
        ("chosen income / month", True),
        ("BP used", True),
        ("CVaR (1 day)", True),
        ("P(month ≥ target)", True),
        ("95% CI", True),
        ("verdict", False),
        ("minimum NLV", True),
        ("joint minimal relaxation", False),
    ]
    rows = []
    for r in t.to_dict(orient="records"):
        cvar = money(r["cvar"])
        if np.isfinite(r["cvar_confidence"]):
            cvar += f" ({r['cvar_confidence']:.0%})"
        ci = (
            _ci_text((r["success_ci_low"], r["success_ci_high"]))
            if np.isfinite(r["success_ci_low"])
            else "—"
        )
        rows.append(
            [
                r["case"],
                money(r["nlv"]),
                money(r["target"]),
                money(r["max_income"]),
                pct(r["achievement"]),
                money(r["chosen_income"]),
                pct(r["bp_used_pct"]),
                cvar,
                fmt(r["success_probability"], ".2%"),
                ci,
                r["status"],
                min_nlv_text(r),
                {"lines": r["relaxation"] or [r["relaxation_short"]]},
            ]
        )
    return cols, rows


def _curves_section(t, curves, ccy: str, unit: str) -> dict:
    """The income-vs-NLV section: every case's curve and its table."""
    from optimizer import plots

    fig = plots.income_vs_nlv(
        curves,
        dict(zip(t["case"], t["target"], strict=True)),
        ccy=ccy,
        current=dict(zip(t["case"], t["nlv"], strict=True)),
        min_nlv={c: m for c, m in zip(t["case"], t["min_nlv"], strict=True) if m == m},
    )
    crow = [
        [c["case"], money(c["nlv"]), f"{c['multiple']:g}×", money(c["max_income"])]
        for c in curves.to_dict(orient="records")
    ]
    return _income_vs_nlv_section(
        fig,
        "Max expected monthly income (net of costs) at other account sizes "
        "under each case's caps moved with the account "
        "(positions.scale_with_nlv: caps stated as fractions of NLV scale; "
        "phases by NLV, count caps × NLV / £75k above phase 4), up to the "
        "minimum NLV found (dotted); each point an exact max-income MILP.",
        _table(
            "income-vs-nlv-table",
            f"Max expected monthly income by account size ({unit})",
            [
                ("case", False),
                ("NLV", True),
                ("× case NLV", True),
                ("max income / month", True),
            ],
            crow,
        ),
    )


def build_cases_report(study: Study, runs: Sequence[CaseRun], *, source: str) -> dict:
    """The report document of a study with cases: phase table, bars and income-vs-NLV curves.

    Parameters
    ----------
    study : Study
        The study.
    runs : sequence of CaseRun
        Its solved cases (with curves for the income-vs-NLV plot), in file order.
    source : str
        The input file, for the footer.

    Returns
    -------
    dict
        The template's ``doc`` (see :func:`build_scenario_report`); tables ``phases`` and
        ``income-vs-nlv-table``.
    """

    from optimizer import plots

    t = phase_table(runs)
    ccys = list(dict.fromkeys(t["currency"]))
    ccy = ccys[0] if len(ccys) == 1 else ""
    cols, rows = _phase_rows(t)
    unit = f"money in {ccy}" if ccy else "money in each case's currency"
    blocks = [
        _table(
            "phases",
            f"Phase table ({unit}; income per month, net of costs)",
            cols,
            rows,
            status_col=10,
        )
    ]
    blocks.append(
        _figure(
            "phase-bars",
            plots.phase_bars(t, ccy=ccy),
            "Max achievable monthly income as a share of each case's target (bar), the chosen "
            "book (tick) and the 100% line.",
            "bar chart of achievement per case",
        )
    )
    curves = curve_table(runs)
    sections = [
        _section(
            "phases",
            "Phase table",
            blocks,
            intro=[study.description.strip()] if study.description.strip() else [],
        )
    ]
    if not curves.empty:
        sections.append(_curves_section(t, curves, ccy, unit))
    counts = t["status"].value_counts()
    return {
        "title": study.name,
        "subtitle": f"thetaplan study report: {len(runs)} cases",
        "version": _version(),
        "source": source,
        "verdict": None,
        "summary": [(s, str(int(counts.get(s, 0)))) for s in ("FEASIBLE", "INFEASIBLE", "UNKNOWN")],
        "sections": sections,
    }


# ----------------------------------------------------------------------------- grid study
def grid_table(runs: Sequence[CaseRun], swept: Sequence[str]) -> pd.DataFrame:
    """The tidy table of a grid study: one row per point, sorted by the swept axes.

    Parameters
    ----------
    runs : sequence of CaseRun
        Solved grid points.
    swept : sequence of str
        The swept dotted paths (``Study.swept``), the first columns, in order.

    Returns
    -------
    pd.DataFrame
        The swept columns, then ``status``, ``target``, ``max_income``, ``achievement``
        (fraction), ``chosen_income``, ``success_probability`` (fraction, NaN when not
        computed), ``bp_used_pct`` (fraction of NLV), ``min_nlv`` (NaN when none or not
        searched) and ``min_nlv_note``; money in the account currency, income per month.
    """
    import pandas as pd

    nan = float("nan")
    rows = []
    for run in runs:
        v, p = run.result.verdict, run.result.portfolio
        rows.append(
            {
                **{k: run.point.values[k] for k in swept},
                "status": v.status.value,
                "target": float(v.target),
                "max_income": nan if v.max_income is None else float(v.max_income),
                "achievement": nan if v.achievement is None else float(v.achievement),
                "chosen_income": float(v.chosen_income),
                "success_probability": (
                    nan if v.success_probability is None else float(v.success_probability)
                ),
                "bp_used_pct": float(p["bp_used_pct"]),
                "min_nlv": nan if v.min_nlv.value is None else float(v.min_nlv.value),
                "min_nlv_note": v.min_nlv_note,
            }
        )
    df = pd.DataFrame(rows)
    return df.sort_values(list(swept), kind="stable").reset_index(drop=True)


def _value_text(v: Any) -> str:
    import numpy as np

    if isinstance(v, float | int | np.floating | np.integer) and not isinstance(v, bool):
        return fmt(v, ",.10g")
    return str(v)


def build_grid_report(study: Study, runs: Sequence[CaseRun], *, source: str) -> dict:
    """The report document of a grid study: tidy table and, with two swept axes, the heatmap.

    Parameters
    ----------
    study : Study
        The study (``study.swept`` gives the axes).
    runs : sequence of CaseRun
        Its solved points.
    source : str
        The input file, for the footer.

    Returns
    -------
    dict
        The template's ``doc``; table ``sweep`` (one row per point, sorted by the swept axes).
    """
    import pandas as pd

    from optimizer import plots

    swept = study.swept
    df = grid_table(runs, swept)
    ccy = runs[0].result.portfolio["currency"] if runs else ""
    cols = [(s, True) for s in swept] + [
        ("verdict", False),
        ("target / month", True),
        ("max income / month", True),
        ("achievement", True),
        ("chosen income / month", True),
        ("P(month ≥ target)", True),
        ("BP used", True),
        ("minimum NLV", True),
    ]
    rows = [
        [_value_text(r[s]) for s in swept]
        + [
            r["status"],
            money(r["target"]),
            money(r["max_income"]),
            pct(r["achievement"]),
            money(r["chosen_income"]),
            fmt(r["success_probability"], ".2%"),
            pct(r["bp_used_pct"]),
            min_nlv_text(r),
        ]
        for r in df.to_dict(orient="records")
    ]
    blocks: list[dict] = []
    if len(swept) == 2:
        fig = plots.achievement_heatmap(
            df,
            swept[0],
            swept[1],
            xlabel=axis_label(swept[0], ccy),
            ylabel=axis_label(swept[1], ccy),
            title=f"{study.name}: max expected income / target",
        )
        blocks.append(
            _figure(
                "heatmap",
                fig,
                "Achievement (max expected monthly income / target) at every point; dashed: "
                "100% of the target; outlined: the points whose verdict is FEASIBLE.",
                "heatmap of achievement over the two swept axes",
            )
        )
    blocks.append(
        _table(
            "sweep",
            f"Every point, sorted by {', '.join(swept)} (money in {ccy}; income per month)",
            cols,
            rows,
            status_col=len(swept),
        )
    )
    counts = df["status"].value_counts() if not df.empty else pd.Series(dtype=int)
    intro = [study.description.strip()] if study.description.strip() else []
    return {
        "title": study.name,
        "subtitle": f"thetaplan sweep report: {len(runs)} points over {' × '.join(swept)}",
        "version": _version(),
        "source": source,
        "verdict": None,
        "summary": [(s, str(int(counts.get(s, 0)))) for s in ("FEASIBLE", "INFEASIBLE", "UNKNOWN")],
        "sections": [_section("sweep", "Sweep", blocks, intro=intro)],
    }


# ----------------------------------------------------------------------------- HTML
def render_html(doc: dict) -> str:
    """Render a report document with ``optimizer/cli/templates/report.html.j2`` (autoescaped)."""
    from importlib.resources import files

    import jinja2

    text = files("optimizer.cli").joinpath("templates", "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(text).render(doc=doc)


def write_report(html: str, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` atomically (temporary file in ``out_dir``, then rename).

    Parameters
    ----------
    html : str
        The document.
    out_dir : Path
        The folder (created when missing; its parent must exist).

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    SpecError
        ``--out: cannot write …`` (nothing is left behind: no temporary file, and the folder is
        removed again if this call created it).
    """
    created = not out_dir.exists()
    target = out_dir / REPORT_NAME
    try:
        out_dir.mkdir(exist_ok=True)
        atomic_write(target, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise SpecError(f"--out: cannot write {target} ({exc.strerror or exc})") from None
    return target


def _is_study(path: Path) -> bool:
    from optimizer.inputs.spec import read_yaml_mapping

    raw = read_yaml_mapping(path, "scenario or study")
    return "cases" in raw or "grid" in raw


def _source(path: Path, sets: Sequence[str]) -> str:
    return str(path) + "".join(f" --set {item}" for item in sets)


def _build(path: Path, sets: list[str]) -> dict:
    """Load, solve and build the document for a scenario or a study."""
    from optimizer.inputs.spec import load_scenario
    from optimizer.pipeline import solve_scenario
    from optimizer.studies.study import load_study

    if not _is_study(path):
        from optimizer.studies.phases import curve_nlvs, income_curve

        sc = load_scenario(path, sets)
        result = solve_scenario(sc)
        curve = None
        if result.verdict.min_nlv.value is not None:
            sizes = curve_nlvs(sc.account.net_liq, result.verdict.min_nlv.value)
            curve = income_curve(sc, nlvs=sizes)
        return build_scenario_report(result, source=_source(path, sets), curve=curve)
    study: Study = load_study(path, sets)
    if study.kind == "cases":
        runs = progress_solve(study, curves=True)
        return build_cases_report(study, runs, source=_source(path, sets))
    runs = progress_solve(study, curves=False)
    return build_grid_report(study, runs, source=_source(path, sets))


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command("report")
    def report_cmd(
        source: Annotated[
            Path, typer.Argument(help="Scenario YAML, or study YAML (cases or grid).")
        ],
        out: Annotated[
            Path,
            typer.Option("--out", help="Folder to write report.html into (created if missing)."),
        ],
        overrides: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="Override a scenario field (every point's, for a study): dotted.path=value "
                "(repeatable); for a study, solve.* sets its solve options.",
            ),
        ] = None,
    ) -> None:
        """Solve SCENARIO or STUDY and write a self-contained HTML report into --out."""
        from optimizer.outputs import stdout_to_stderr

        check_output_dir(out, "--out")
        with stdout_to_stderr():
            doc = _build(source, list(overrides or []))
            path = write_report(render_html(doc), out)
        print(f"wrote: {path}", file=sys.stderr)
