"""``thetaplan ledger init|import``: the SQLite trade ledger (:mod:`optimizer.tracking.ledger`).

``init LEDGER`` creates a new ledger (error if the file exists). ``import LEDGER FILE.csv
[--format thetaplan|ibkr|tastytrade] [--strategy NAME] [--json]`` imports a CSV all-or-nothing and prints
one summary line (``imported N trades, M marks (…)``); with bad rows it prints ``error: FILE.csv
line N: reason`` lines on stderr (at most 20, then ``… and K more``), writes nothing and exits
with 2. ``--json`` prints ``{trades, closes, marks, skipped, already_imported, sha256}`` or, on
bad rows, ``{"errors": [{"line", "reason"}, …]}`` on stdout (still exit 2).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli.commands._group import LightHelpGroup

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` sub-app (``init``, ``import``) to ``app``."""
    sub = typer.Typer(
        name="ledger",
        cls=LightHelpGroup,  # `thetaplan ledger init --help` without pydantic
        help="Trade ledger (SQLite, one file per account): create it, import CSV trades.",
        no_args_is_help=True,
        add_completion=False,
    )

    @sub.command("init")
    def init_cmd(
        ledger: Annotated[Path, typer.Argument(help="New ledger file (must not exist).")],
    ) -> None:
        """Create a new, empty ledger."""
        from optimizer.tracking.ledger import SCHEMA_VERSION, init_ledger

        init_ledger(ledger).close()
        print(f"created {ledger} (schema version {SCHEMA_VERSION})")

    @sub.command("import")
    def import_cmd(
        ledger: Annotated[Path, typer.Argument(help="Existing ledger file.")],
        csv_file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="CSV to import.")],
        fmt: Annotated[
            str,
            typer.Option(
                "--format",
                help="thetaplan, ibkr (IB Flex Trades) or tastytrade (transaction history).",
            ),
        ] = "thetaplan",
        strategy: Annotated[
            str | None,
            typer.Option(
                "--strategy",
                help="ibkr/tastytrade: strategy of orders without a Strategy column.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    ) -> None:
        """Import a CSV file: all rows or none; re-importing the same file adds nothing."""
        from optimizer.tracking.ledger import ImportErrors, import_csv, open_ledger
        from optimizer.verdict.result import jsonable

        conn = open_ledger(ledger)
        try:
            summary = import_csv(conn, csv_file, fmt=fmt, strategy=strategy)
        except ImportErrors as exc:
            if as_json:
                errs = [{"line": ln, "reason": msg} for ln, msg in exc.errors]
                print(json.dumps(jsonable({"errors": errs}), indent=2, allow_nan=False))
            for line in exc.lines():
                print(line, file=sys.stderr)
            raise typer.Exit(2) from None
        finally:
            conn.close()
        if as_json:
            print(json.dumps(jsonable(asdict(summary)), indent=2, allow_nan=False))
        else:
            print(summary.line())

    app.add_typer(sub, name="ledger")
