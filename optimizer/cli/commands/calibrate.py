"""``thetaplan calibrate``: the physical measure's tail probabilities and structure replays against history.

Renders only: every number comes from :mod:`models.measure.calibration`. The model (filtered historical
simulation) is fitted on its own window, the shipped 1990-01-02 .. 2023-12-28 history; the
realized side comes from ``--index-history`` / ``--vix-history`` (default: the shipped files)
restricted to ``--from`` / ``--to`` and to the two files' common dates. With the defaults the
output is the README's calibration table. Bad input raises
:class:`~models.errors.DataError` with one readable line (the CLI maps it to exit code 2).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from models.measure.calibration_defaults import (
    DEFAULT_MEAN_BLOCK,
    DEFAULT_PATHS,
    DEFAULT_REPLAY_PATHS,
    DEFAULT_REPLAY_SEED,
    DEFAULT_SEED,
)
from optimizer.outputs import stdout_to_stderr

if TYPE_CHECKING:  # models.measure.calibration (pandas, scipy) is imported when the command runs
    from models.measure.calibration import Calibration

__all__ = ["calibrate_command", "register", "render_calibration"]


def _pct(x: float) -> str:
    import pandas as pd

    return "" if pd.isna(x) else f"{100 * x:.2f}"


def _bp(x: float) -> str:
    import pandas as pd

    return "" if pd.isna(x) else f"{1e4 * x:.1f}"


def _yes(flag: bool, has: bool = True) -> str:
    if not has:
        return ""
    return "yes" if flag else "[red]NO[/red]"


def _table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        pad_edge=False,
        show_edge=False,
    )


def _render_replays(cal, s: dict, console: Console) -> None:
    """The replay tables: expected P&L per trade with its intervals, win rate and mean loss."""
    rt = _table(
        "Expected P&L per trade, replay of every entry day vs model (bp of entry spot; 95% CI: "
        "Newey-West with lag = holding days, and sd/sqrt(n_eff) with n_eff = entries / holding "
        f"days; {s['replay_paths']:,} model paths, seed {s['replay_seed']})"
    )
    cols = ("structure", "credit", "replay", "NW CI", "n_eff CI", "FHS", "± se", "in", "logn")
    for col in cols:
        rt.add_column(col, justify="left" if col == "structure" else "right", no_wrap=True)
    wt = _table("Win rate and mean loss when losing (bp of entry spot)")
    cols = ("structure", "days", "entries", "n_eff", "win% replay", "FHS", "loss replay", "FHS")
    for col in cols:
        wt.add_column(col, justify="left" if col == "structure" else "right", no_wrap=True)
    for name, r in cal.replays.iterrows():
        rt.add_row(
            str(name),
            _bp(r["credit"]),
            _bp(r["replay"]),
            f"[{_bp(r['ci_low'])}, {_bp(r['ci_high'])}]",
            f"[{_bp(r['ci_neff_low'])}, {_bp(r['ci_neff_high'])}]",
            _bp(r["fhs"]),
            _bp(r["fhs_se"]),
            _yes(bool(r["fhs_in_ci"])),
            _bp(r["lognormal"]),
        )
        wt.add_row(
            str(name),
            str(int(r["n_days"])),
            f"{int(r['n_entries']):,}",
            f"{r['n_eff']:.1f}",
            f"{100 * r['replay_win']:.1f}",
            f"{100 * r['fhs_win']:.1f}",
            _bp(r["replay_loss"]),
            _bp(r["fhs_loss"]),
        )
    console.print(rt)
    console.print(wt)


def render_calibration(cal: Calibration, console: Console) -> None:
    """Print the evaluated window, the tail table, the replay table and the coverage."""
    s = cal.settings
    cov = cal.coverage()
    console.print(escape(cal.window.describe()), highlight=False, soft_wrap=True)
    console.print(
        f"inputs: S&P 500 {escape(str(s['index_history']))}, VIX {escape(str(s['vix_history']))}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"FHS: {escape(str(cal.tails.attrs['measure']))}", highlight=False, soft_wrap=True
    )
    console.print(
        f"lognormal: vol = VIX x {cal.tails.attrs['vol_ratio']:.3f}, VIX constant, no drift",
        highlight=False,
    )

    t = _table(
        f"S&P 500 tail probabilities by start VIX (%; realized 95% Wilson CI on n_eff = n/h; "
        f"{s['paths']:,} paths per cell, seed {s['seed']})"
    )
    cols = ("h", "VIX", "thr%", "n", "n_eff", "realized", "95% CI", "FHS", "logn", "FHS in")
    for col in (*cols, "logn in"):
        t.add_column(col, justify="left" if col == "VIX" else "right", no_wrap=True)
    for r in cal.tails.itertuples(index=False):
        has = r.n > 0
        t.add_row(
            str(r.horizon),
            r.bucket,
            f"{100 * r.threshold:.0f}",
            f"{r.n:,}",
            f"{r.n_eff:.1f}",
            _pct(r.freq) if has else "none",
            f"[{_pct(r.ci_low)}, {_pct(r.ci_high)}]" if has else "",
            _pct(r.fhs),
            _pct(r.lognormal),
            _yes(r.fhs_in_ci, has),
            _yes(r.lognormal_in_ci, has),
        )
    console.print(t)

    _render_replays(cal, s, console)
    console.print(
        f"[bold]coverage[/bold]: FHS inside the realized 95% CI in {cov['tails_inside']} of "
        f"{cov['tails_total']} tail cells and {cov['replays_inside']} of "
        f"{cov['replays_total']} structures (replay: |FHS - replay| <= 1.96 x combined SE); "
        f"lognormal {cov['lognormal_tails_inside']} of {cov['tails_total']} and "
        f"{cov['lognormal_replays_inside']} of {cov['replays_total']}",
        highlight=False,
        soft_wrap=True,
    )


def calibrate_command(
    index_history: Annotated[
        Path | None,
        typer.Option(
            "--index-history",
            help="S&P 500 daily CSV with Date and Close columns, like the shipped ^GSPC file "
            "(default: the shipped 1927-2023 file).",
        ),
    ] = None,
    vix_history: Annotated[
        Path | None,
        typer.Option(
            "--vix-history",
            help="VIX daily CSV with DATE and CLOSE columns, like the shipped Cboe file "
            "(default: the shipped 1990-2026 file).",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="First date evaluated (YYYY-MM-DD; default: files' start)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last date evaluated (YYYY-MM-DD; default: files' end)."),
    ] = None,
    paths: Annotated[
        int, typer.Option("--paths", help="Model paths per (horizon, VIX bucket) tail cell.")
    ] = DEFAULT_PATHS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the tail table.")] = DEFAULT_SEED,
    replay_paths: Annotated[
        int, typer.Option("--replay-paths", help="Model paths per holding period of the replays.")
    ] = DEFAULT_REPLAY_PATHS,
    replay_seed: Annotated[
        int, typer.Option("--replay-seed", help="Seed of the replay table.")
    ] = DEFAULT_REPLAY_SEED,
    mean_block: Annotated[
        float, typer.Option("--mean-block", help="Bootstrap mean block, trading days.")
    ] = DEFAULT_MEAN_BLOCK,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON document: window, model, tails, replays, coverage."
        ),
    ] = False,
) -> None:
    """Tail probabilities and structure replays of the model (fitted 1990-2023) on any history."""
    from models.measure.calibration import calibrate

    t0, c0 = time.perf_counter(), time.process_time()
    with stdout_to_stderr() as stdout:  # stray native output must not mix with the document
        cal = calibrate(
            index_history,
            vix_history,
            start,
            end,
            n_paths=paths,
            seed=seed,
            replay_paths=replay_paths,
            replay_seed=replay_seed,
            mean_block=mean_block,
        )
    cpu = time.process_time() - c0
    wall = time.perf_counter() - t0
    if as_json:
        stdout.write(json.dumps(cal.to_dict(), indent=2, allow_nan=False) + "\n")
        stdout.flush()
        print(f"calibrate: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
        return
    console = Console(file=stdout)
    render_calibration(cal, console)
    console.print(f"{wall:.1f} s wall, {cpu:.1f} s CPU", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``calibrate`` command to the thetaplan CLI."""
    app.command("calibrate")(calibrate_command)
