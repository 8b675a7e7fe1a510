"""Helpers shared by the constraint families: build one named LinearBlock over the counts ``n``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.solve.problem import LinearBlock, VariableGroup

INF = np.inf


@dataclass(frozen=True)
class Part:
    """Variables and blocks a constraint family adds to the sizing problem.

    Parameters
    ----------
    variables : tuple[VariableGroup, ...]
        Auxiliary variable groups (CVaR ``u``/``zeta``, binaries ``y``, deviations …).
    blocks : tuple[LinearBlock, ...]
        Named row blocks.
    objective_terms : tuple[tuple[str, ndarray], ...]
        ``(group, coefficients)`` added to the objective in *maximization* terms (a penalty is
        negative); the problem builder flips the sign for minimizing objectives.
    """

    variables: tuple[VariableGroup, ...] = ()
    blocks: tuple[LinearBlock, ...] = ()
    objective_terms: tuple[tuple[str, np.ndarray], ...] = ()


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
