"""Helpers shared by the constraint families: build one named LinearBlock over the counts ``n``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.problem import LinearBlock

INF = np.inf


def block(
    name: str,
    family: str,
    rows: Sequence[tuple[str, np.ndarray, float, float]],
    group: str = "n",
) -> LinearBlock | None:
    """A block from ``(row_name, coeffs (K,), lower, upper)`` tuples over one variable group.

    Returns ``None`` for no rows, so families can skip empty blocks.
    """
    if not rows:
        return None
    a = np.vstack([np.asarray(r[1], dtype=float) for r in rows])
    return LinearBlock(
        name=name,
        family=family,
        terms={group: a},
        lower=np.array([r[2] for r in rows], dtype=float),
        upper=np.array([r[3] for r in rows], dtype=float),
        row_names=tuple(r[0] for r in rows),
    )
