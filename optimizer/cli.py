"""Command-line interface (typer + rich). Renders results; never computes them itself.

Every expected failure (bad scenario, bad data, bad usage) prints one line and exits with 2;
solver trouble is a verdict, not an error.
"""

from __future__ import annotations

import logging
import sys

import click
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
    from optimizer.commands import chain, margin, solve

    for mod in (solve, chain, margin):
        mod.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point; user errors become one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, standalone_mode=False)
    except ThetaplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelp:
        sys.exit(0)
    except click.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
