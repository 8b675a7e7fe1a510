"""Command-line interface (typer + rich). Renders results; never computes them itself.

Every expected failure (bad scenario, bad data, bad usage) prints one line and exits with 2;
solver trouble is a verdict, not an error.

Importing this module and printing any help page load no numerical, solver, plotting, cluster or
validation library (numpy, pandas, scipy, the solvers, matplotlib, Dask, pydantic …): the command
modules import them inside the command bodies, and the option types and defaults they show are
plain Python (``tests/optimizer/test_cli_startup.py`` checks it). Keep it so: ``thetaplan
--help`` then starts in about 0.2 s instead of 2.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from models.errors import ThetaplanError
from optimizer.cli.commands._group import LightHelpGroup
from optimizer.outputs import package_version

app = typer.Typer(
    name="thetaplan",
    cls=LightHelpGroup,  # `thetaplan COMMAND --help` without pydantic (see the class)
    help="Integer sizing, feasibility verdicts and studies for options income plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # -h everywhere: sub-command contexts inherit help_option_names from this one
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"thetaplan {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the thetaplan version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Integer sizing, feasibility verdicts and studies for options income plans."""


def _register() -> None:
    from optimizer.cli.commands import (
        audit,
        backtest,
        calibrate,
        chain,
        data,
        frontier,
        init,
        ledger,
        margin,
        phases,
        report,
        schema,
        solve,
        sweep,
        track,
    )

    for mod in (
        solve,
        chain,
        margin,
        phases,
        sweep,
        backtest,
        frontier,
        report,
        ledger,
        track,
        audit,
        schema,
        init,
    ):
        mod.register(app)
    calibrate.register(app)
    data.register(app)


def _hide_flag_types() -> None:
    """No type column for flags that take no value (``--json``, not ``--json <bool>``).

    typer's rich help prints every option's type, ``<bool>`` for a flag too; its plain help
    (``TyperOption.get_help_record``) leaves flags without one. This gives the rich help the
    plain help's rule; other options keep their types.
    """
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "_flags_hidden", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return original(self, ctx)

    display_type_rich._flags_hidden = True
    TyperOption.display_type_rich = display_type_rich


_register()
_hide_flag_types()


#: Characters ``str.splitlines`` breaks on (a YAML key can hold any of them).
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _one_line(text: str) -> str:
    """An error message on one line: line-break characters shown escaped (``\\n``, ``\\x0c``)."""
    return "".join(repr(ch)[1:-1] if ch in _LINE_BREAKS else ch for ch in text)


#: Thread-pool sizes the CLI sets before numpy, scipy or pyarrow load, unless the user set them.
#: The matrices of one solve are small (scenario rows x candidates): a second OpenBLAS/OpenMP
#: thread gains no wall time and spin-waits between calls; on phase 4 (2-core AMD EPYC, idle)
#: the CLI took 12.3-13.7 user CPU-s with the libraries' defaults and 10.2-10.6 with one thread,
#: wall 10.3-11.5 s vs 9.8-10.2 s (``benchmarks/bench_pipeline.py``). Dask workers get the same
#: from ``distributed`` (its nanny sets ``OMP_NUM_THREADS=1``).
SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_thread_blas() -> None:
    """Default the BLAS/OpenMP pools to one thread (effective only before numpy is imported)."""
    for name in SINGLE_THREAD_ENV:
        os.environ.setdefault(name, "1")


def main(argv: list[str] | None = None) -> None:
    """Console entry point; user errors become one line on stderr and exit code 2.

    Sets :data:`SINGLE_THREAD_ENV` to ``1`` where the user has not set them (before any numeric
    library loads), then runs the typer app.
    """
    single_thread_blas()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=argv, standalone_mode=False)
    except ThetaplanError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # the reader went away (``thetaplan solve S | head``): stop quietly, like other tools
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:
        # typer vendors click: its usage errors carry format_message() and an exit code
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer >= 0.20 printed the help already
            sys.exit(0)
        if type(exc).__name__ == "NoArgsIsHelp" and getattr(exc, "ctx", None) is not None:
            print(exc.ctx.get_help())
            sys.exit(0)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            print(f"error: {exc.format_message()}", file=sys.stderr)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)
