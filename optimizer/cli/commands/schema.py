"""``thetaplan schema KIND``: the JSON Schema of a file kind, from its pydantic model.

Kinds: ``scenario`` (:class:`optimizer.inputs.spec.Scenario`), ``study``
(:class:`optimizer.studies.study.Study`), ``position`` (a ``thetaplan margin`` position) and
``audit`` (:class:`optimizer.audit.schema.AuditSpec`) and ``ledger`` (one row of a ledger CSV,
:class:`optimizer.tracking.ledger_schema.LedgerRow`). The schema is the validation schema
(what a file may hold), without the loader's internal ``base_dir``; the generated reference in
``docs/schema/`` is this command's output (``tests/optimizer/test_schema_init.py`` keeps it current).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["KINDS", "register", "schema_of"]

#: File kind -> (module, model class).
KINDS = {
    "scenario": ("optimizer.inputs.spec", "Scenario"),
    "study": ("optimizer.studies.study", "Study"),
    "position": ("optimizer.cli.commands._margin_position", "PositionSpec"),
    "audit": ("optimizer.audit.schema", "AuditSpec"),
    "ledger": ("optimizer.tracking.ledger_schema", "LedgerRow"),
}


def schema_of(kind: str) -> dict:
    """The JSON Schema (draft 2020-12, pydantic's) of file kind ``kind``.

    Raises
    ------
    SpecError
        An unknown kind.
    """
    import importlib

    from models.errors import SpecError

    if kind not in KINDS:
        raise SpecError(f"schema: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    module, name = KINDS[kind]
    model = getattr(importlib.import_module(module), name)
    schema = model.model_json_schema(mode="validation")
    schema.get("properties", {}).pop("base_dir", None)
    schema["title"] = f"thetaplan {kind} file"
    return schema


def register(app: typer.Typer) -> None:
    """Add the ``schema`` command to ``app``."""

    @app.command("schema")
    def schema_cmd(
        kind: Annotated[str, typer.Argument(help="scenario, study, position, audit or ledger.")],
    ) -> None:
        """Print the JSON Schema of a file kind (scenario, study, position, audit, ledger row)."""
        print(json.dumps(schema_of(kind), indent=1, sort_keys=True))
