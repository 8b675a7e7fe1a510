"""Command-line interface (typer + rich). Renders results; never computes them itself."""

from __future__ import annotations

import sys

import typer

from models.errors import ThetaplanError

app = typer.Typer(
    name="thetaplan",
    help="Integer sizing, feasibility verdicts and studies for options income plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from optimizer.commands import chain as _chain
    from optimizer.commands import margin as _margin

    for mod in (_chain, _margin):
        mod.register(app)


def main() -> None:
    """Console entry point: runs the typer app; user errors become one line and exit code 2."""
    _register()
    try:
        app(standalone_mode=False)
    except ThetaplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
