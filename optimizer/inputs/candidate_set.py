"""The candidate table of a solve: one row per candidate structure with its per-contract metrics (account currency), the structures it was built from and the candidates excluded with their reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.strategies import (
    Candidate,
)


@dataclass(frozen=True)
class CandidateSet:
    """Candidates with per-unit metrics in the account currency.

    Parameters
    ----------
    table : pd.DataFrame
        One row per candidate (K rows, RangeIndex), columns as in the module docstring.
    structures : dict[str, Candidate]
        Chain-based candidates by id (fixed-economics candidates have none).
    excluded : pd.DataFrame
        Candidates removed before optimization, with ``id, strategy, underlying, reason``.
    currency : str
        Account currency of every money column.
    """

    table: pd.DataFrame
    structures: dict[str, Candidate]
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    currency: str = "GBP"

    def __post_init__(self) -> None:
        # columns read as arrays, memoized: a solve reads the same columns for every row block
        # of every MILP (the table is never changed in place; with_column makes a new set)
        object.__setattr__(self, "_arrays", {})

    def __len__(self) -> int:
        return len(self.table)

    @property
    def ids(self) -> tuple[str, ...]:
        """Candidate ids, in variable order."""
        cache = self._cache()
        got = cache.get(("ids",))
        if got is None:
            got = cache[("ids",)] = tuple(self.table["id"])
        return got

    def _cache(self) -> dict:
        cache = self.__dict__.get("_arrays")
        if cache is None:  # unpickled from an older version
            cache = {}
            object.__setattr__(self, "_arrays", cache)
        return cache

    def col(self, name: str) -> np.ndarray:
        """A metric column as a float array of shape (K,) (read-only; copy to change it)."""
        cache = self._cache()
        got = cache.get(name)
        if got is None:
            got = self.table[name].to_numpy(dtype=float, copy=True)
            got.flags.writeable = False
            cache[name] = got
        return got

    def derived(self, key: str, compute) -> np.ndarray:
        """``compute(self)`` (an array of shape (K,)), computed once per candidate set."""
        cache = self._cache()
        got = cache.get(("derived", key))
        if got is None:
            got = np.asarray(compute(self))
            got.flags.writeable = False
            cache[("derived", key)] = got
        return got

    def derived_object(self, key: str, compute):
        """``compute(self)`` (any immutable value), computed once per candidate set."""
        cache = self._cache()
        if ("object", key) not in cache:
            cache[("object", key)] = compute(self)
        return cache[("object", key)]

    def mask(self, column: str, value) -> np.ndarray:
        """Boolean (K,) mask of rows whose ``column`` equals ``value`` (pandas ``==``: missing
        labels never match), computed once per candidate set (read-only; copy to change it)."""
        cache = self._cache()
        key = ("mask", column, value)
        got = cache.get(key)
        if got is None:
            got = (self.table[column] == value).to_numpy()
            got.flags.writeable = False
            cache[key] = got
        return got

    def labels(self, column: str) -> np.ndarray:
        """A label column (``strategy``, ``correlation_group``, ``underlying`` …) as a read-only
        object array of shape (K,), read once per candidate set."""
        cache = self._cache()
        key = ("labels", column)
        got = cache.get(key)
        if got is None:
            got = self.table[column].to_numpy(dtype=object, copy=True)
            got.flags.writeable = False
            cache[key] = got
        return got

    def label_values(self, column: str) -> tuple[str, ...]:
        """Sorted distinct non-empty string labels of ``column`` (e.g. the correlation groups)."""
        return self.derived_object(
            f"label_values:{column}",
            lambda cs: tuple(sorted({x for x in cs.labels(column) if isinstance(x, str) and x})),
        )

    def with_column(self, name: str, values) -> CandidateSet:
        """A copy with column ``name`` replaced by ``values`` (shape (K,))."""
        table = self.table.copy()
        table[name] = np.asarray(values, dtype=float)
        return CandidateSet(table, self.structures, self.excluded, self.currency)

    def at_nlv(self, nlv: float) -> CandidateSet:
        """The same candidates at another account size.

        Only buying power stated as a fraction of NLV (``margin.pct_of_nlv``, column
        ``bp_nlv_fraction``) changes: ``bp_per_contract = fraction × nlv``.
        """
        if "bp_nlv_fraction" not in self.table:
            return self
        frac = self.col("bp_nlv_fraction")
        if not np.any(frac > 0):
            return self
        bp = np.where(frac > 0, frac * float(nlv), self.col("bp_per_contract"))
        return self.with_column("bp_per_contract", bp)

    @property
    def strategies(self) -> list[str]:
        """Strategy names present, in first-appearance order."""
        return list(dict.fromkeys(self.table["strategy"]))
