"""Typed errors shared by every layer.

The CLI turns any :class:`ThetaplanError` into one readable line and exit code 2; anything else is
a bug. Messages name the offending field or file and say how to fix it.
"""

from __future__ import annotations

__all__ = ["ThetaplanError", "DataError", "SpecError", "ModelError"]


class ThetaplanError(Exception):
    """Base class of every expected, user-facing error (bad input, bad data)."""


class DataError(ThetaplanError):
    """Market or reference data that cannot be used (unreadable file, empty chain, bad quotes)."""


class SpecError(ThetaplanError):
    """A scenario/position/study file that fails validation; the message names the field path."""


class ModelError(ThetaplanError):
    """A request the domain model cannot answer (e.g. Reg-T margin asked for a futures option)."""
