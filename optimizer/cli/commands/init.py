"""``thetaplan init FILE``: write a commented starter scenario that solves as written.

The starter (``optimizer/cli/templates/starter_scenario.yaml``) sizes weekly XSP short puts
on the shipped SPX chain; its data paths are written absolute (the shipped
``scenarios/data`` folder), so the file works wherever it is saved. An existing file is never
overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "starter_text"]

_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "starter_scenario.yaml"
_DATA = Path(__file__).resolve().parents[3] / "scenarios" / "data"


def starter_text() -> str:
    """The starter scenario with the shipped data folder's absolute path filled in."""
    return _TEMPLATE.read_text(encoding="utf-8").replace("{DATA}", _DATA.as_posix())


def register(app: typer.Typer) -> None:
    """Add the ``init`` command to ``app``."""

    @app.command("init")
    def init_cmd(
        path: Annotated[Path, typer.Argument(help="The scenario file to write (.yaml).")],
    ) -> None:
        """Write a commented starter scenario (weekly XSP short puts) to PATH."""
        from models.errors import SpecError
        from optimizer.outputs import atomic_write, check_output_path

        if path.exists():
            raise SpecError(f"init: {path} exists; choose another name")
        check_output_path(path, "init")
        text = starter_text()
        atomic_write(path, lambda p: Path(p).write_text(text, encoding="utf-8"))
        print(f"wrote: {path} (then: thetaplan solve {path})")
