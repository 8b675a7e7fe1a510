"""``thetaplan solve SCENARIO``: size a scenario and print positions, portfolio, allocation, verdict.

Tables follow the terminal's width (``COLUMNS`` is respected; 80 columns when the output is not a
terminal) and are laid out to fit 80 columns. ``--json`` prints one JSON document and nothing
else on standard output: native solver banners are sent to standard error
(:func:`optimizer.outputs.stdout_to_stderr`). Output flags are checked before the solve.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from optimizer.formatting import (
    group_limit_text,
    horizon_label,
    relaxation_text,
)

if TYPE_CHECKING:  # annotations only: the solver stack is imported when a command runs
    from optimizer.inputs.spec import Scenario
    from optimizer.verdict.result import SizingResult

from optimizer.cli.commands._solve_render import render

__all__ = ["register", "render", "horizon_label", "relaxation_text", "group_limit_text"]


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
    from optimizer.inputs.spec import load_scenario
    from optimizer.pipeline import solve_scenario

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
    import sys

    if sys.stderr.isatty():  # a status line on the terminal while the solve runs
        from rich.console import Console as _Console

        with _Console(stderr=True).status("solve: loading") as status:
            result = solve_scenario(
                sc,
                backend=backend,
                min_nlv_search=not no_min_nlv,
                progress=lambda stage: status.update(f"solve: {stage}"),
            )
    else:
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
        from optimizer.outputs import check_output_path, check_plot_path, stdout_to_stderr

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
