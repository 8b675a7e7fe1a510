"""Monthly income targets per strategy from the allocation weights, with the VIX tilts and the
size multiplier of the allocation tables (``models/data/allocation_tilts.csv``,
``models/data/vix_size_multipliers.csv``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from models.allocation import (
    DEFAULT_WEIGHTS,
    check_weights,
    size_multiplier,
    tilt_factors,
    tilted_weights,
)

# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


def allocation_targets(
    monthly_target: float,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    *,
    vix: float | None = None,
    tilts: str | None = None,
    strategy_aliases: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Monthly income target per strategy: ``weight × monthly_target``.

    Seed 1's ``allocateMonthlyIncome`` / ``calculateStrategyTargets`` (domain.md §2e): the base
    split (40/35/25 by default), tilted for the VIX when ``tilts`` names a rule of
    ``models/data/allocation_tilts.csv`` (see :func:`models.allocation.tilted_weights`).

    Parameters
    ----------
    monthly_target : float
        Income target, account currency per month (finite, >= 0).
    weights : Mapping of str to float
        Strategy -> base share (>= 0, summing to 1); default 40/35/25 over ``zero_dte``,
        ``lt112``, ``strangle``.
    vix : float, optional
        VIX level (points); required with ``tilts``.
    tilts : str, optional
        Tilt rule (``"tk"``); None = untilted weights.
    strategy_aliases : Mapping of str to str, optional
        Caller's strategy name -> tilt-table key (only used with ``tilts``).

    Returns
    -------
    pandas.DataFrame
        One row per strategy (order of ``weights``), columns ``strategy``; ``base_weight``;
        ``tilt`` (product of the strategy's own tilt multipliers at ``vix``, 1.0 untilted);
        ``weight`` (``base_weight × tilt`` renormalised, sums to 1); ``target`` (account
        currency per month, sums to ``monthly_target``). ``DataFrame.attrs`` holds ``vix``,
        ``rule`` and ``size_multiplier``: the product of the tilts applying to every strategy
        (rule ``tk``: 0.5 for VIX >= 50), which cancels in the weights and is a position-size
        multiplier, reported rather than dropped.

    Raises
    ------
    ValueError
        Bad target or weights; ``tilts`` without ``vix`` or ``vix`` without ``tilts``; a bad
        ``vix``, unknown rule or strategy (see :func:`models.allocation.tilted_weights`).
    """
    try:
        target = float(monthly_target)
    except (TypeError, ValueError):
        raise ValueError(f"monthly_target must be a number, got {monthly_target!r}") from None
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(
            f"monthly_target must be a finite amount >= 0 (account currency per month), "
            f"got {monthly_target!r}"
        )
    base = check_weights(weights)
    if tilts is None and vix is not None:
        raise ValueError(
            "vix given without tilts: pass tilts='tk' to tilt the weights, or drop vix"
        )
    if tilts is not None and vix is None:
        raise ValueError(f"tilts={tilts!r} needs the VIX level: pass vix=...")
    if tilts is None:
        factors = dict.fromkeys(base, 1.0)
        weight = dict(base)
        size = 1.0
    else:
        factors = tilt_factors(tuple(base), vix, tilts, strategy_aliases)
        weight = tilted_weights(base, vix, tilts, strategy_aliases)
        size = size_multiplier(vix, tilts)
    frame = pd.DataFrame(
        {
            "strategy": list(base),
            "base_weight": [base[s] for s in base],
            "tilt": [factors[s] for s in base],
            "weight": [weight[s] for s in base],
            "target": [weight[s] * target for s in base],
        }
    )
    frame.attrs.update({"vix": vix, "rule": tilts, "size_multiplier": size})
    return frame


# --------------------------------------------------------------------------------------
# Rebalancing
# --------------------------------------------------------------------------------------
