"""The pieces of a sizing problem: variable groups (kind, bounds, labels), named linear row blocks and the objective, each validated when built."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

import numpy as np
import scipy.sparse as sp


class VarKind(StrEnum):
    """Domain of a variable group."""

    INTEGER = "integer"
    CONTINUOUS = "continuous"
    BINARY = "binary"


class ObjectiveSense(StrEnum):
    """Optimisation direction.  Compares equal to the plain strings."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


def _frozen_float_vector(values: object, size: int, what: str) -> np.ndarray:
    """Return a read-only float64 ``(size,)`` copy of ``values`` (scalars broadcast)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    elif arr.shape != (size,):
        raise ValueError(f"{what} must have shape ({size},), got {arr.shape}")
    else:
        arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------------------
# Variables
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VariableGroup:
    """A vector of decision variables sharing one name and one domain.

    Attributes
    ----------
    name : str
        Group name used as key everywhere (e.g. ``"n"`` contracts per candidate,
        ``"zeta"`` VaR level, ``"u"`` CVaR excess, ``"z"`` chance binaries).
    kind : VarKind
        INTEGER, CONTINUOUS or BINARY.
    lower : ndarray, shape (size,)
        Lower bounds (variable units, e.g. contracts); ``-inf`` allowed for
        CONTINUOUS and INTEGER groups.  Scalars are broadcast.
    upper : ndarray, shape (size,)
        Upper bounds; ``+inf`` allowed.  BINARY bounds must lie in [0, 1].
    labels : tuple of str, shape (size,)
        One label per element (e.g. candidate ids); used in exports and reports.
    """

    name: str
    kind: VarKind
    lower: np.ndarray
    upper: np.ndarray
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"VariableGroup.name must be a non-empty string, got {self.name!r}")
        try:
            kind = VarKind(self.kind)
        except ValueError:
            raise ValueError(
                f"group {self.name!r}: kind must be one of {[k.value for k in VarKind]}, "
                f"got {self.kind!r}"
            ) from None
        _set(self, "kind", kind)
        labels = tuple(str(label) for label in self.labels)
        if not labels:
            raise ValueError(f"group {self.name!r}: needs at least one element (labels is empty)")
        _set(self, "labels", labels)
        size = len(labels)
        lower = _frozen_float_vector(self.lower, size, f"group {self.name!r}: lower")
        upper = _frozen_float_vector(self.upper, size, f"group {self.name!r}: upper")
        for arr, side in ((lower, "lower"), (upper, "upper")):
            bad = np.flatnonzero(np.isnan(arr))
            if bad.size:
                raise ValueError(
                    f"group {self.name!r}: NaN {side} bound at element {labels[bad[0]]!r}"
                )
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"group {self.name!r}: lower {lower[i]} > upper {upper[i]} at element {labels[i]!r}"
            )
        bad = np.flatnonzero((lower == np.inf) | (upper == -np.inf))
        if bad.size:
            raise ValueError(
                f"group {self.name!r}: infeasible infinite bound at element {labels[bad[0]]!r}"
            )
        if kind is VarKind.BINARY:
            bad = np.flatnonzero((lower < 0) | (upper > 1))
            if bad.size:
                raise ValueError(
                    f"group {self.name!r}: BINARY bounds must lie in [0, 1], element "
                    f"{labels[bad[0]]!r} has [{lower[bad[0]]}, {upper[bad[0]]}]"
                )
        _set(self, "lower", lower)
        _set(self, "upper", upper)

    @classmethod
    def build(
        cls,
        name: str,
        kind: VarKind | str,
        size: int | None = None,
        *,
        lower: float | np.ndarray | None = None,
        upper: float | np.ndarray | None = None,
        labels: Iterable[str] | None = None,
    ) -> VariableGroup:
        """Convenience constructor with defaults.

        Parameters
        ----------
        name : str
            Group name.
        kind : VarKind or str
            Variable domain.
        size : int, optional
            Number of elements; inferred from ``labels`` when omitted.
        lower, upper : float or ndarray, optional
            Bounds (scalars broadcast).  Defaults: ``[0, 1]`` for BINARY,
            ``[0, +inf)`` otherwise.
        labels : iterable of str, optional
            Element labels; default ``"{name}[{i}]"``.

        Returns
        -------
        VariableGroup
        """
        kind = VarKind(kind)
        if labels is not None:
            labels = tuple(str(label) for label in labels)
            if size is not None and size != len(labels):
                raise ValueError(f"group {name!r}: size {size} != number of labels {len(labels)}")
        elif size is None:
            raise ValueError(f"group {name!r}: give size or labels")
        else:
            labels = tuple(f"{name}[{i}]" for i in range(size))
        if lower is None:
            lower = 0.0
        if upper is None:
            upper = 1.0 if kind is VarKind.BINARY else np.inf
        n = len(labels)
        return cls(
            name=name,
            kind=kind,
            lower=_frozen_float_vector(lower, n, f"group {name!r}: lower"),
            upper=_frozen_float_vector(upper, n, f"group {name!r}: upper"),
            labels=labels,
        )

    @property
    def size(self) -> int:
        """Number of scalar variables in the group."""
        return len(self.labels)

    @property
    def is_integral(self) -> bool:
        """True for INTEGER and BINARY groups."""
        return self.kind is not VarKind.CONTINUOUS

    def __repr__(self) -> str:
        return f"VariableGroup(name={self.name!r}, kind={self.kind.value}, size={self.size})"


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------

Coefficients = np.ndarray | sp.sparray | sp.spmatrix


@dataclass(frozen=True, eq=False)
class LinearBlock:
    """Rows ``lower <= sum_g terms[g] @ x_g <= upper``: one named family block.

    Attributes
    ----------
    name : str
        Block name, unique in the problem (e.g. ``"bp_total"``, ``"alloc"``).
    family : str
        Constraint family (``"buying_power"``, ``"allocation"``, ``"positions"``,
        ``"tail_risk"``, ...), used for grouping in reports.
    terms : Mapping of str to ndarray or scipy sparse, each shape (m, group.size)
        Group name -> coefficients in row units per variable unit.  Dense arrays
        are stored as read-only float64, sparse ones as ``csr_array``.
    lower : ndarray, shape (m,)
        Row lower bounds (row units); ``-inf`` allowed.  Scalars are broadcast.
    upper : ndarray, shape (m,)
        Row upper bounds; ``+inf`` allowed.  ``lower == upper`` is an equality row.
    row_names : tuple of str, shape (m,)
        Unique across the whole problem, e.g. ``"bp_total"``,
        ``"alloc_upper[zero_dte]"``.
    """

    name: str
    family: str
    terms: Mapping[str, Coefficients]
    lower: np.ndarray
    upper: np.ndarray
    row_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"LinearBlock.name must be a non-empty string, got {self.name!r}")
        where = f"block {self.name!r}"
        if not isinstance(self.family, str) or not self.family:
            raise ValueError(f"{where}: family must be a non-empty string, got {self.family!r}")
        if not isinstance(self.terms, Mapping) or not self.terms:
            raise ValueError(f"{where}: terms must be a non-empty mapping group name -> matrix")
        row_names = tuple(self.row_names)
        m = len(row_names)
        if m == 0:
            raise ValueError(f"{where}: has no rows (row_names is empty)")
        for r in row_names:
            if not isinstance(r, str) or not r:
                raise ValueError(f"{where}: row names must be non-empty strings, got {r!r}")
        if len(set(row_names)) != m:
            seen: set[str] = set()
            dup = next(r for r in row_names if r in seen or seen.add(r))
            raise ValueError(f"{where}: duplicate row name {dup!r}")
        _set(self, "row_names", row_names)

        terms: dict[str, np.ndarray | sp.csr_array] = {}
        for group, coef in self.terms.items():
            if not isinstance(group, str) or not group:
                raise ValueError(f"{where}: term keys must be group names, got {group!r}")
            if sp.issparse(coef):
                mat = sp.csr_array(coef, dtype=float, copy=True)
                if mat.ndim != 2:
                    raise ValueError(f"{where}: terms[{group!r}] must be 2-D, got {mat.shape}")
                data = mat.data
                bad = np.flatnonzero(~np.isfinite(data))
                bad_row = (
                    int(np.searchsorted(mat.indptr, bad[0], side="right") - 1) if bad.size else -1
                )
            else:
                mat = np.array(coef, dtype=float)
                if mat.ndim != 2:
                    raise ValueError(
                        f"{where}: terms[{group!r}] must be 2-D with shape (m, group.size), got "
                        f"shape {mat.shape} (use np.atleast_2d for a single row)"
                    )
                finite = np.isfinite(mat)
                bad_row = -1
                if not finite.all():
                    bad_row = int(np.argwhere(~finite)[0, 0])
                mat.setflags(write=False)
            if mat.shape[0] != m:
                raise ValueError(
                    f"{where}: terms[{group!r}] has {mat.shape[0]} rows but the block has "
                    f"{m} row names"
                )
            if bad_row >= 0:
                raise ValueError(
                    f"{where}: non-finite (NaN/inf) coefficient in terms[{group!r}] at row "
                    f"{row_names[bad_row]!r}"
                )
            terms[group] = mat
        _set(self, "terms", MappingProxyType(terms))

        lower = _frozen_float_vector(self.lower, m, f"{where}: lower")
        upper = _frozen_float_vector(self.upper, m, f"{where}: upper")
        for arr, side in ((lower, "lower"), (upper, "upper")):
            bad = np.flatnonzero(np.isnan(arr))
            if bad.size:
                raise ValueError(f"{where}: NaN {side} bound at row {row_names[bad[0]]!r}")
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"{where}: lower {lower[i]} > upper {upper[i]} at row {row_names[i]!r}"
            )
        bad = np.flatnonzero((lower == np.inf) | (upper == -np.inf))
        if bad.size:
            raise ValueError(f"{where}: infeasible infinite bound at row {row_names[bad[0]]!r}")
        _set(self, "lower", lower)
        _set(self, "upper", upper)

    @property
    def m(self) -> int:
        """Number of rows."""
        return len(self.row_names)

    def __repr__(self) -> str:
        groups = ", ".join(self.terms)
        return (
            f"LinearBlock(name={self.name!r}, family={self.family!r}, m={self.m}, "
            f"groups=[{groups}])"
        )


# --------------------------------------------------------------------------------------
# Objective
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Objective:
    """Linear objective ``sum_g terms[g] @ x_g + constant``.

    Attributes
    ----------
    name : str
        ``"theta"``, ``"expected_income"``, ``"bp"``, ...
    sense : ObjectiveSense or {"maximize", "minimize"}
        Normalised to :class:`ObjectiveSense` (which equals the plain string).
    terms : Mapping of str to ndarray, each shape (group.size,)
        Objective units per variable unit (e.g. account currency per contract).
        Groups not listed have zero cost.
    constant : float
        Offset in objective units.
    """

    name: str
    sense: ObjectiveSense | Literal["maximize", "minimize"]
    terms: Mapping[str, np.ndarray]
    constant: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Objective.name must be a non-empty string, got {self.name!r}")
        where = f"objective {self.name!r}"
        try:
            _set(self, "sense", ObjectiveSense(self.sense))
        except ValueError:
            raise ValueError(
                f"{where}: sense must be 'maximize' or 'minimize', got {self.sense!r}"
            ) from None
        if not isinstance(self.terms, Mapping):
            raise ValueError(f"{where}: terms must be a mapping group name -> vector")
        terms: dict[str, np.ndarray] = {}
        for group, coef in self.terms.items():
            arr = np.array(coef, dtype=float)
            if arr.ndim != 1:
                raise ValueError(
                    f"{where}: terms[{group!r}] must be 1-D (group.size,), got shape {arr.shape}"
                )
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise ValueError(
                    f"{where}: non-finite (NaN/inf) coefficient in terms[{group!r}] at element {bad[0]}"
                )
            arr.setflags(write=False)
            terms[group] = arr
        _set(self, "terms", MappingProxyType(terms))
        constant = float(self.constant)
        if not math.isfinite(constant):
            raise ValueError(f"{where}: constant must be finite, got {self.constant!r}")
        _set(self, "constant", constant)

    @property
    def sign(self) -> float:
        """+1.0 when maximising, -1.0 when minimising."""
        return 1.0 if self.sense is ObjectiveSense.MAXIMIZE else -1.0

    def __repr__(self) -> str:
        return (
            f"Objective(name={self.name!r}, sense={self.sense.value}, "
            f"groups=[{', '.join(self.terms)}], constant={self.constant:g})"
        )


# --------------------------------------------------------------------------------------
# Problem
# --------------------------------------------------------------------------------------
