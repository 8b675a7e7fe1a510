"""``thetaplan sweep STUDY``: solve every point of a study into one tidy Parquet table.

Checkpoints each point as it finishes (``<out>.parts/``), resumes an interrupted sweep
(``--resume``), runs in process or on Dask (``--workers N``: a local cluster; ``--scheduler
ADDRESS``: an existing one) and can draw the achievement heatmap over the two swept axes
(``--plot``). A progress bar (points, elapsed, ETA) goes to standard error; standard output gets a
summary once the table is written. Every check (flags, study, output paths, an existing output
or checkpoint folder) happens before the first solve. See :mod:`optimizer.studies.sweep`.

``python -m optimizer.cli.commands.sweep STUDY …`` runs the command on its own (:func:`main`), with
the CLI's error handling (one line, exit code 2).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["main", "register"]


def _plot_axes(swept: Sequence[str]) -> tuple[str, str]:
    """The heatmap's (x, y): the study's first and second swept paths."""
    from models.errors import SpecError

    if len(swept) != 2:
        raise SpecError(
            f"--plot: the heatmap needs a grid study with two swept axes, got {len(swept)}"
            + (f" ({', '.join(swept)})" if swept else "")
        )
    return swept[0], swept[1]


def _save_heatmap(df, x: str, y: str, path: Path, title: str, ccy: str) -> None:
    from models.errors import SpecError
    from optimizer.formatting import axis_label
    from optimizer.plots import achievement_heatmap

    fig = achievement_heatmap(
        df,
        x,
        y,
        value="achievement",
        target=1.0,
        title=title,
        xlabel=axis_label(x, ccy),
        ylabel=axis_label(y, ccy),
    )
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise SpecError(f"--plot: cannot write {path} ({exc.strerror or exc})") from None


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""

    @app.command("sweep")
    def sweep_cmd(
        study: Annotated[Path, typer.Argument(help="Study YAML file (cases or a grid).")],
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers",
                help="Solve on a local Dask cluster of N worker processes (default: in process).",
            ),
        ] = None,
        scheduler: Annotated[
            str | None,
            typer.Option(
                "--scheduler", help="Solve on an existing Dask cluster (tcp://host:8786)."
            ),
        ] = None,
        resume: Annotated[
            bool,
            typer.Option(
                "--resume",
                help="Continue an interrupted sweep from its checkpoints (<out>.parts/).",
            ),
        ] = False,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Results table (Parquet). Default: <study file name>.parquet in the current "
                "folder.",
            ),
        ] = None,
        plot: Annotated[
            Path | None,
            typer.Option(
                "--plot",
                help="Save the achievement heatmap over the two swept axes (image; png, pdf, "
                "svg …).",
            ),
        ] = None,
        overrides: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="Override a scenario field at every point: dotted.path=value (repeatable).",
            ),
        ] = None,
        no_progress: Annotated[
            bool, typer.Option("--no-progress", help="No progress bar.")
        ] = False,
    ) -> None:
        """Solve every point of STUDY; one row per point (verdict, income, risk, error)."""
        from rich.console import Console
        from rich.markup import escape

        from optimizer.outputs import check_plot_path
        from optimizer.studies.study import load_study
        from optimizer.studies.sweep import run_sweep

        t0 = time.perf_counter()
        st = load_study(study, list(overrides or []))
        if plot is not None:
            check_plot_path(plot, "--plot")
            x, y = _plot_axes(st.swept)
            import optimizer.plots  # noqa: F401  (fail now, not after the sweep)
        target = out if out is not None else Path(f"{study.stem}.parquet")
        df = run_sweep(
            st,
            out=target,
            workers=workers,
            scheduler=scheduler,
            resume=resume,
            progress=not no_progress,
        )
        written = [target]
        if plot is not None:
            from optimizer.studies.study import base_scenario

            ccy = base_scenario(st).account.currency
            _save_heatmap(df, x, y, plot, st.name, ccy)
            written.append(plot)
        console = Console()
        counts = df["status"].value_counts()
        failed = int(df["error"].notna().sum())
        parts = [f"{int(n)} {escape(str(s))}" for s, n in counts.items()]
        if failed:
            parts.append(f"[red]{failed} failed[/]")
        where = (
            f"{workers} workers" if workers else (f"on {scheduler}" if scheduler else "in process")
        )
        console.print(
            f"{escape(st.name)}: {len(df)} points — {', '.join(parts) or 'none'} "
            f"({time.perf_counter() - t0:,.0f} s, {where})",
            highlight=False,
            soft_wrap=True,
        )
        for p in written:
            console.print(f"wrote: {escape(str(p))}", highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> None:
    """``thetaplan sweep …`` on its own (``argv`` without the command name).

    Same conventions as :func:`optimizer.cli.app.main`: an expected error (bad study, bad flag, an
    existing output …) prints one line on standard error and exits with code 2.
    """
    import logging

    from models.errors import ThetaplanError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """thetaplan sweep (stand-alone)."""

    register(app)
    args = ["sweep", *(sys.argv[1:] if argv is None else argv)]
    try:
        code = app(args=args, standalone_mode=False)
    except ThetaplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage errors
            print(f"error: {exc.format_message()}", file=sys.stderr)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
