"""The constraint families of the sizing problem, one module each, and their registry.

A module that declares ``FAMILY = CapFamily(...)`` (:mod:`._family`) is a family. The built-in
families come first, in the row order of the problem; any other family module of this package
follows, by name. See :class:`~optimizer.formulation.families._family.CapFamily`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from optimizer.formulation.families._family import CapFamily, Family, Lift, RowUnit

__all__ = ["CapFamily", "Family", "Lift", "RowUnit", "check_sections", "registry"]

#: Built-in family modules, in the problem's row order.
_BUILTIN = ("allocation", "buying_power", "leverage", "greeks", "positions", "tail_risk", "chance")


@functools.cache
def registry() -> tuple[CapFamily, ...]:
    """Every constraint family: the built-in ones in row order, then the others by module name.

    Returns
    -------
    tuple[CapFamily, ...]
    """
    names = list(_BUILTIN) + sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _BUILTIN
    )
    out = []
    for name in names:
        fam = getattr(importlib.import_module(f"{__name__}.{name}"), "FAMILY", None)
        if isinstance(fam, CapFamily):
            out.append(fam)
    return tuple(out)


def check_sections(caps: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a scenario's ``caps:`` section against the families that own one.

    Parameters
    ----------
    caps : Mapping[str, Any]
        ``scenario.caps``: section name -> its settings.

    Returns
    -------
    dict[str, Any]
        Section name -> its validated settings model (what ``Limits.extra`` holds after
        :func:`optimizer.pipeline.prepare`, so no build validates it again).

    Raises
    ------
    SpecError
        ``caps.<name>: unknown cap family …`` or ``caps.<name>.<field>: …``.
    """
    from models.errors import SpecError
    from optimizer.formulation.families._family import validate_section

    owners = {f.section: f for f in registry() if f.section is not None}
    out = {}
    for name, raw in caps.items():
        if name not in owners:
            known = ", ".join(sorted(owners)) or "none"
            raise SpecError(f"caps.{name}: unknown cap family; known: {known}")
        out[name] = validate_section(owners[name], raw)
    return out
