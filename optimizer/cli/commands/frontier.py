"""``thetaplan frontier SCENARIO``: max expected monthly income against the CVaR or BP cap.

Every point is an exact max-income MILP (:mod:`optimizer.studies.frontier`); the table marks the
scenario's own book. ``--json`` prints one JSON document: a list of ``{cap, max_income, cvar,
success_probability, bp_used_pct, status, contracts, book}`` (``cap`` a fraction of NLV, money
in the account currency), then the scenario's book as the last element with ``"chosen": true``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register"]


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _save_plot(f, target: float, ccy: str, label: str, path: Path) -> None:
    """The frontier plot: the cap in % of NLV, income in ``ccy``, P(month ≥ target) in sample.

    :func:`optimizer.studies.frontier.frontier` computes each point's probability over the
    income model's months (the in-sample months the books are sized on), as the table's
    footnote says.
    """
    from optimizer import plots

    fig = plots.frontier(
        f.points,
        chosen=f.chosen,
        target=target,
        cap_label=f"{label} cap (% of NLV)",
        cap_percent=True,
        p_sample="in sample",
        ccy=ccy,
        title=f"Max expected monthly income vs the {label} cap",
    )
    fig.savefig(path, dpi=120, bbox_inches="tight")


def register(app: typer.Typer) -> None:
    """Add the ``frontier`` command to ``app``."""

    @app.command("frontier")
    def frontier_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (with a risk section).")],
        cap: Annotated[str, typer.Option("--cap", help="cvar (1-day CVaR cap) or bp.")] = "cvar",
        points: Annotated[int, typer.Option("--points", help="Number of cap values.")] = 12,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
        plot: Annotated[
            Path | None, typer.Option("--plot", help="Write the frontier plot (PNG).")
        ] = None,
        sets: Annotated[
            list[str] | None,
            typer.Option("--set", help="Override a scenario field: dotted.path=value."),
        ] = None,
        backend: Annotated[str | None, typer.Option("--backend", help="Solver backend.")] = None,
    ) -> None:
        """Max expected monthly income vs a cap; every point an exact MILP optimum."""
        from models.errors import SpecError
        from optimizer.inputs.spec import load_scenario
        from optimizer.outputs import check_plot_path, stdout_to_stderr

        if cap not in ("cvar", "bp"):
            raise SpecError(f"--cap: {cap!r} is not cvar or bp")
        if plot is not None:
            check_plot_path(plot, "--plot")
        sc = load_scenario(scenario, list(sets or []))
        with stdout_to_stderr():
            from optimizer.studies.frontier import frontier

            f = frontier(sc, cap=cap, points=points, backend=backend)
        ccy = sc.account.currency
        label = f"CVaR {f.alpha:.0%} (1 day)" if f.cap == "cvar" else "BP"
        if plot is not None:
            _save_plot(f, float(sc.target.monthly_income), ccy, label, plot)
        if as_json:
            rows = [
                {k: (_num(v) if isinstance(v, float) else v) for k, v in r.items()}
                for r in f.points.to_dict(orient="records")
            ]
            chosen = {k: _num(v) for k, v in f.chosen.items()}
            rows.append({**chosen, "max_income": chosen["income"], "chosen": True})
            from optimizer.verdict.result import jsonable

            print(json.dumps(jsonable(rows), indent=2, allow_nan=False))
            return
        from optimizer.cli.format import house_table, print_table
        from optimizer.formatting import money, pct

        console = Console()
        t = house_table(f"Max expected monthly income vs the {label} cap ({ccy})")
        for col in ("cap % NLV", "max income", "CVaR", "BP %", "P(month≥target)", "status"):
            t.add_column(col, justify="right")
        for r in f.points.itertuples():
            t.add_row(
                pct(r.cap),
                money(r.max_income),
                money(r.cvar),
                pct(r.bp_used_pct),
                pct(r.success_probability),
                str(r.status),
            )
        c = f.chosen
        t.add_row(
            f"{pct(c['cap'])} *",
            money(c["income"]),
            money(c["cvar"]),
            pct(c["bp_used_pct"]),
            pct(c["success_probability"]),
            "chosen",
        )
        print_table(console, t)
        console.print(
            "  * the scenario's own book (its objective under its own caps); P over the income "
            "model's in-sample months"
        )
        if plot is not None:
            print(f"wrote {plot}", file=sys.stderr)
