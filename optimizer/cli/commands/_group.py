"""The typer group class of ``thetaplan`` and its sub-apps (``ledger``).

:class:`LightHelpGroup` keeps ``thetaplan COMMAND --help`` from importing pydantic. typer (0.29)
coerces every parsed parameter value that is not already a ``bool`` through a pydantic
``TypeAdapter`` built on first use, and the ``--help`` flag it adds to a group has no default:
when the flag is absent at the group's level (``thetaplan solve --help`` parses the root group
first) its value is ``None``, which made typer import pydantic (about 0.1 s) just to pass the
``None`` through. With the flag's default set to ``False`` the value is a ``bool`` and typer
skips the coercion. Nothing else changes: the help text does not show the default, and
``False`` and ``None`` both mean "no help asked" to the flag's callback.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

__all__ = ["LightHelpGroup"]


class LightHelpGroup(TyperGroup):
    """A :class:`typer.core.TyperGroup` whose ``--help`` flag defaults to ``False``."""

    def get_help_option(self, ctx: Any) -> Any:
        """The group's help option, with ``default=False`` (typer leaves it ``None``)."""
        opt = super().get_help_option(ctx)
        if opt is not None and opt.default is None:
            opt.default = False
        return opt
