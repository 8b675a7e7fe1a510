"""Argument checks shared by the margin models (:mod:`models.margin.reg_t`, :mod:`models.margin.span`,
:mod:`models.margin.portfolio`): one wording for every bad-input error."""

from __future__ import annotations

import math

import numpy as np

from models.errors import ModelError

__all__ = ["per_leg", "positive"]


def positive(name: str, value: float) -> float:
    """``value`` as a finite float > 0.

    Raises
    ------
    ModelError
        Not a number, not finite, or ``<= 0`` (the message names ``name``).
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise ModelError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def per_leg(name: str, value, n: int) -> np.ndarray:
    """A scalar broadcast to, or an array checked as, one float per leg: shape ``(n,)``.

    Raises
    ------
    ModelError
        An array of another shape.
    """
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ModelError(
            f"{name} must be a number or one value per leg ({n}), got shape {arr.shape}"
        )
    return arr
