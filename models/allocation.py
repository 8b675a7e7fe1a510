"""Strategy income allocation weights and their VIX tilts (seed 1's ``StrategyIncomeAllocator``).

The tilt table is data (``models/data/allocation_tilts.csv``, sources per row there and in
``models/data/README.md``); this module loads and applies it, solver-free. Rule ``tk`` is seed 1's
``adjustAllocationsForVIX`` (TKT e86541e ``TomKingTrader/src/strategyIncomeAllocator.js``,
domain.md §2e) on the 40/35/25 split:

- VIX < 15: ``zero_dte`` ×1.1, ``lt112`` ×1.05, ``strangle`` ×0.85;
- 35 ≤ VIX < 50: ``zero_dte`` ×0.9, ``lt112`` ×0.95, ``strangle`` ×1.15 (domain.md §2e lists only
  the strangle factor; the code has all three);
- VIX ≥ 50: every strategy ×0.5 (the code's ``else if`` chain: this *replaces* the 35–50 tilts);
- then the weights are renormalised to sum to 1.

Intervals are half-open ``[vix_min, vix_max)`` like every VIX table of the project; the seed
writes ``VIX > 35`` and ``VIX > 50``, so only VIX exactly 35 (seed: untilted) and exactly 50
(seed: the 35–50 tilt) are assigned differently.

A tilt that applies to every strategy (``strategy = *``) cancels under renormalisation: it is a
position-*size* multiplier, not an allocation change. :func:`tilted_weights` therefore ignores it
and :func:`size_multiplier` reports it. It is a different quantity from the seed calculator's
size multipliers (:func:`models.phases.vix_size_multiplier`, 1.2 / 1.0 / 0.8 / 0.6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from models.errors import DataError
from models.instruments import (
    finite_float,
    nonempty,
    parse_cell,
    positive_float,
    read_reference_csv,
    upper_bound,
)
from models.phases import STRATEGIES

__all__ = [
    "ALL_STRATEGIES",
    "DEFAULT_WEIGHTS",
    "Tilt",
    "allocation_tilts",
    "check_weights",
    "size_multiplier",
    "tilt_factors",
    "tilt_rules",
    "tilted_weights",
]

#: ``strategy`` value of a tilt row that applies to every strategy.
ALL_STRATEGIES = "*"

#: Seed 1's 40/35/25 split of the monthly income target (domain.md §2e).
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"zero_dte": 0.40, "lt112": 0.35, "strangle": 0.25}
)

#: Tolerance on ``sum(weights) == 1``.
_WEIGHT_SUM_TOL = 1e-6


@dataclass(frozen=True)
class Tilt:
    """One row of ``allocation_tilts.csv``: multiply a strategy's weight when the VIX is in range.

    Attributes
    ----------
    rule : str
        Rule set the row belongs to (``"tk"`` = seed 1's ``strategyIncomeAllocator.js``).
    vix_min : float
        Lower VIX bound, inclusive (VIX points); ``-inf`` for a blank cell.
    vix_max : float
        Upper VIX bound, exclusive (VIX points); ``+inf`` for a blank cell.
    strategy : str
        Strategy key (``zero_dte``, ``lt112``, ``strangle``, … as in
        :data:`models.phases.STRATEGIES`) or ``"*"`` for every strategy.
    multiplier : float
        Factor applied to the weight (> 0, dimensionless).
    source : str
        Provenance of the row.
    """

    rule: str
    vix_min: float
    vix_max: float
    strategy: str
    multiplier: float
    source: str

    def contains(self, vix: float) -> bool:
        """True when ``vix_min <= vix < vix_max``."""
        return self.vix_min <= vix < self.vix_max

    def applies_to(self, strategy: str) -> bool:
        """True for the row's own strategy, and for every strategy when the row's is ``*``."""
        return self.strategy in (ALL_STRATEGIES, strategy)


def _lower_bound(raw: str) -> float:
    return -math.inf if raw == "" else finite_float(raw)


def _strategy(raw: str) -> str:
    if raw != ALL_STRATEGIES and raw not in STRATEGIES:
        raise ValueError(f"unknown strategy; use '*' or one of {', '.join(STRATEGIES)}")
    return raw


@cache
def _tilts() -> dict[str, tuple[Tilt, ...]]:
    """All tilt rows by rule, in file order (cached; the file is read once)."""
    name = "allocation_tilts.csv"
    rows = read_reference_csv(name, tuple(Tilt.__dataclass_fields__))
    by_rule: dict[str, list[Tilt]] = {}
    for row in rows:
        tilt = Tilt(
            rule=parse_cell(row, "rule", nonempty),
            vix_min=parse_cell(row, "vix_min", _lower_bound),
            vix_max=parse_cell(row, "vix_max", upper_bound),
            strategy=parse_cell(row, "strategy", _strategy),
            multiplier=parse_cell(row, "multiplier", positive_float),
            source=parse_cell(row, "source", nonempty),
        )
        if not tilt.vix_min < tilt.vix_max:
            raise DataError(f"{row['__where__']}: needs vix_min < vix_max")
        same = [
            t for t in by_rule.get(tilt.rule, []) if t.strategy == tilt.strategy
        ]  # one strategy's intervals must not overlap: each VIX picks at most one row
        for t in same:
            if t.vix_min < tilt.vix_max and tilt.vix_min < t.vix_max:
                raise DataError(
                    f"{row['__where__']}: VIX interval [{tilt.vix_min}, {tilt.vix_max}) of rule "
                    f"{tilt.rule!r}, strategy {tilt.strategy!r} overlaps [{t.vix_min}, {t.vix_max})"
                )
        by_rule.setdefault(tilt.rule, []).append(tilt)
    return {rule: tuple(ts) for rule, ts in by_rule.items()}


def tilt_rules() -> tuple[str, ...]:
    """Rule names of ``allocation_tilts.csv``, in file order (e.g. ``("tk",)``)."""
    return tuple(_tilts())


def allocation_tilts(rule: str) -> tuple[Tilt, ...]:
    """The tilt rows of one rule set, in file order.

    Parameters
    ----------
    rule : str
        Rule name in ``models/data/allocation_tilts.csv``; ``"tk"`` is seed 1's
        ``adjustAllocationsForVIX`` (TKT e86541e ``strategyIncomeAllocator.js``, domain.md §2e).

    Returns
    -------
    tuple of Tilt

    Raises
    ------
    ValueError
        Unknown rule (the message lists the known ones).
    DataError
        The data file is missing or malformed (bad number, unknown strategy, empty source,
        ``vix_min >= vix_max``, overlapping intervals of one strategy).
    """
    table = _tilts()
    if rule not in table:
        raise ValueError(f"unknown allocation tilt rule {rule!r}; known: {', '.join(table)}")
    return table[rule]


def _check_vix(vix: float) -> float:
    try:
        value = float(vix)
    except (TypeError, ValueError):
        raise ValueError(f"vix must be a number, got {vix!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"vix must be a finite number >= 0 (VIX points), got {vix!r}")
    return value


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validate allocation weights: non-empty, finite, ``>= 0`` and summing to 1.

    Parameters
    ----------
    weights : Mapping of str to float
        Strategy -> share of the monthly income (dimensionless).

    Returns
    -------
    dict of str to float
        A plain-float copy, in the given order.

    Raises
    ------
    ValueError
        Empty mapping, a non-string key, a negative or non-finite weight, or a sum off 1 by more
        than 1e-6 (the message gives the sum).
    """
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError("weights must be a non-empty mapping strategy -> share of income")
    out: dict[str, float] = {}
    for key, raw in weights.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"weights: strategy names must be non-empty strings, got {key!r}")
        try:
            w = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"weights[{key!r}] must be a number, got {raw!r}") from None
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"weights[{key!r}] must be a finite number >= 0, got {raw!r}")
        out[key] = w
    total = math.fsum(out.values())
    if abs(total - 1.0) > _WEIGHT_SUM_TOL:
        raise ValueError(
            f"weights must sum to 1, got {total:.6g} ({', '.join(f'{k}={v:g}' for k, v in out.items())})"
        )
    return out


def _table_key(strategy: str, aliases: Mapping[str, str]) -> str:
    key = aliases.get(strategy, strategy)
    if key not in STRATEGIES:
        hint = (
            f"strategy_aliases maps it to {key!r}, not a tilt-table key"
            if strategy in aliases
            else "pass strategy_aliases, e.g. {'0DTE': 'zero_dte'}"
        )
        raise ValueError(
            f"unknown strategy {strategy!r}: tilt-table keys are {', '.join(STRATEGIES)} ({hint})"
        )
    return key


def tilt_factors(
    strategies: tuple[str, ...] | list[str],
    vix: float,
    rule: str = "tk",
    strategy_aliases: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Product of the strategy-specific tilt multipliers in force at ``vix``, per strategy.

    ``*`` rows are left out (they cancel under renormalisation; see :func:`size_multiplier`).

    Parameters
    ----------
    strategies : sequence of str
        Strategy names (table keys, or names mapped by ``strategy_aliases``).
    vix : float
        VIX level, points (finite, >= 0).
    rule : str
        Tilt rule set (default ``"tk"``, seed 1, domain.md §2e).
    strategy_aliases : Mapping of str to str, optional
        Caller's name -> tilt-table key (e.g. ``{"0DTE": "zero_dte"}``).

    Returns
    -------
    dict of str to float
        Strategy (caller's name) -> multiplier (1.0 when no row applies).

    Raises
    ------
    ValueError
        Bad ``vix``, unknown rule, or a strategy that is no tilt-table key after aliasing.
    """
    value = _check_vix(vix)
    aliases = dict(strategy_aliases or {})
    active = [t for t in allocation_tilts(rule) if t.contains(value)]
    out: dict[str, float] = {}
    for s in strategies:
        key = _table_key(s, aliases)
        factor = 1.0
        for t in active:
            if t.strategy == key:
                factor *= t.multiplier
        out[s] = factor
    return out


def size_multiplier(vix: float, rule: str = "tk") -> float:
    """Product of the tilts that apply to *every* strategy (``strategy = *``) at ``vix``.

    Such a tilt scales all weights alike and cancels when they are renormalised, so it is not
    an allocation change but a position-size multiplier; this function reports it instead of
    letting it vanish. Rule ``tk``: 0.5 for VIX >= 50, else 1.0 (seed 1's "VIX > 50 all ×0.5",
    domain.md §2e).

    Parameters
    ----------
    vix : float
        VIX level, points (finite, >= 0).
    rule : str
        Tilt rule set (default ``"tk"``).

    Returns
    -------
    float
        Dimensionless multiplier (1.0 when no ``*`` row applies).

    Raises
    ------
    ValueError
        Bad ``vix`` or unknown rule.
    """
    value = _check_vix(vix)
    factor = 1.0
    for t in allocation_tilts(rule):
        if t.strategy == ALL_STRATEGIES and t.contains(value):
            factor *= t.multiplier
    return factor


def tilted_weights(
    weights: Mapping[str, float],
    vix: float,
    rule: str = "tk",
    strategy_aliases: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Allocation weights tilted for the VIX level, renormalised to sum to 1.

    Each strategy's weight is multiplied by every tilt of ``rule`` whose interval
    ``[vix_min, vix_max)`` contains ``vix`` and that names the strategy; the results are divided
    by their sum. Seed 1's ``adjustAllocationsForVIX`` (TKT e86541e
    ``strategyIncomeAllocator.js``, domain.md §2e) at VIX 12 on 40/35/25:
    0.44 / 0.3675 / 0.2125, sum 1.02 -> 0.4314 / 0.3603 / 0.2083.

    A tilt that applies to every strategy (rule ``tk``: VIX >= 50, all ×0.5) cancels under the
    renormalisation: it is a sizing multiplier, not an allocation change. It is therefore not
    applied here; :func:`size_multiplier` returns it (0.5), and
    :func:`optimizer.tracking.allocator.allocation_targets` reports it.

    Parameters
    ----------
    weights : Mapping of str to float
        Strategy -> base share of the monthly income (>= 0, summing to 1). Keys are tilt-table
        keys (``zero_dte``, ``lt112``, ``strangle``, …) or names mapped by ``strategy_aliases``.
    vix : float
        VIX level, points (finite, >= 0).
    rule : str
        Tilt rule set in ``allocation_tilts.csv`` (default ``"tk"``).
    strategy_aliases : Mapping of str to str, optional
        Caller's name -> tilt-table key, e.g. ``{"0DTE": "zero_dte", "LT112": "lt112",
        "STRANGLE": "strangle"}`` for the seed's names.

    Returns
    -------
    dict of str to float
        Strategy (the caller's keys, same order) -> tilted weight; the values sum to 1.

    Raises
    ------
    ValueError
        Weights that are not finite, >= 0 and summing to 1; a bad ``vix``; an unknown rule; a
        strategy that is no tilt-table key after aliasing.
    """
    base = check_weights(weights)
    factors = tilt_factors(tuple(base), vix, rule, strategy_aliases)
    raw = {s: w * factors[s] for s, w in base.items()}
    total = math.fsum(raw.values())
    return {s: v / total for s, v in raw.items()}
