"""Backend-neutral sizing problem: variable groups + named linear row blocks.

A :class:`SizingProblem` is the seam between the formulation (``constraints/``,
``objectives.py``) and the backends (``backends/``)::

    maximise / minimise   sum_g c_g @ x_g + constant
    subject to            lower_r <= sum_g A_{r,g} @ x_g <= upper_r     for every row r
                          lower_g <= x_g <= upper_g                     (elementwise)
                          x_g integer for INTEGER / BINARY groups

Rows come in named :class:`LinearBlock` s (one family block each, e.g. ``bp_total``,
``alloc``); every row has a problem-wide unique name so that verdicts can say which
cap binds.  Objects are frozen; the ``with_*`` / ``without_*`` / ``relaxed`` methods
return new problems (blocks and groups are shared, not copied).

Validation happens at construction: unknown group names, shape mismatches,
duplicate names, ``lower > upper`` and non-finite coefficients raise
:class:`ValueError` naming the block / row / group at fault.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Literal

import numpy as np
import scipy.sparse as sp

__all__ = [
    "LinearBlock",
    "Objective",
    "ObjectiveSense",
    "SizingProblem",
    "VarKind",
    "VariableGroup",
]


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


@dataclass(frozen=True, eq=False)
class SizingProblem:
    """Variables + named linear blocks + objective; what every backend compiles.

    Attributes
    ----------
    variables : tuple of VariableGroup
        Unique group names; order fixes the column order of exports.
    blocks : tuple of LinearBlock
        Unique block names and row names; order fixes the row order.
    objective : Objective
        Linear objective over (a subset of) the groups.

    Notes
    -----
    Derived, cached arrays over all rows (order = block order, then row order):
    :attr:`row_names`, :attr:`row_lower`, :attr:`row_upper`, :meth:`matrix`.
    """

    variables: tuple[VariableGroup, ...]
    blocks: tuple[LinearBlock, ...]
    objective: Objective
    _groups: Mapping[str, VariableGroup] = field(init=False, repr=False)
    _blocks: Mapping[str, LinearBlock] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        variables = tuple(self.variables)
        blocks = tuple(self.blocks)
        if not variables:
            raise ValueError("SizingProblem needs at least one VariableGroup")
        groups: dict[str, VariableGroup] = {}
        for g in variables:
            if not isinstance(g, VariableGroup):
                raise ValueError(f"variables must be VariableGroup objects, got {type(g).__name__}")
            if g.name in groups:
                raise ValueError(f"duplicate variable group name {g.name!r}")
            groups[g.name] = g
        known = ", ".join(groups)
        by_name: dict[str, LinearBlock] = {}
        row_owner: dict[str, str] = {}
        for b in blocks:
            if not isinstance(b, LinearBlock):
                raise ValueError(f"blocks must be LinearBlock objects, got {type(b).__name__}")
            if b.name in by_name:
                raise ValueError(f"duplicate block name {b.name!r}")
            by_name[b.name] = b
            for gname, mat in b.terms.items():
                if gname not in groups:
                    raise ValueError(
                        f"block {b.name!r}: unknown variable group {gname!r} (known: {known})"
                    )
                if mat.shape[1] != groups[gname].size:
                    raise ValueError(
                        f"block {b.name!r}: terms[{gname!r}] has shape {mat.shape} but group "
                        f"{gname!r} has size {groups[gname].size} (expected ({b.m}, "
                        f"{groups[gname].size}))"
                    )
            for r in b.row_names:
                other = row_owner.setdefault(r, b.name)
                if other != b.name:
                    raise ValueError(f"duplicate row name {r!r} in blocks {other!r} and {b.name!r}")
        if not isinstance(self.objective, Objective):
            raise ValueError(f"objective must be an Objective, got {type(self.objective).__name__}")
        for gname, vec in self.objective.terms.items():
            if gname not in groups:
                raise ValueError(
                    f"objective {self.objective.name!r}: unknown variable group {gname!r} "
                    f"(known: {known})"
                )
            if vec.shape != (groups[gname].size,):
                raise ValueError(
                    f"objective {self.objective.name!r}: terms[{gname!r}] has shape {vec.shape} "
                    f"but group {gname!r} has size {groups[gname].size}"
                )
        _set(self, "variables", variables)
        _set(self, "blocks", blocks)
        _set(self, "_groups", MappingProxyType(groups))
        _set(self, "_blocks", MappingProxyType(by_name))

    # ---- lookup ---------------------------------------------------------------------

    def group(self, name: str) -> VariableGroup:
        """Return the variable group called ``name`` (ValueError if unknown)."""
        try:
            return self._groups[name]
        except KeyError:
            raise ValueError(
                f"unknown variable group {name!r} (known: {', '.join(self._groups)})"
            ) from None

    def block(self, name: str) -> LinearBlock:
        """Return the block called ``name`` (ValueError if unknown)."""
        try:
            return self._blocks[name]
        except KeyError:
            raise ValueError(
                f"unknown block {name!r} (known: {', '.join(self._blocks) or 'none'})"
            ) from None

    @property
    def is_mip(self) -> bool:
        """True if any group is INTEGER or BINARY."""
        return any(g.is_integral for g in self.variables)

    @property
    def n_variables(self) -> int:
        """Total number of scalar variables."""
        return sum(g.size for g in self.variables)

    @property
    def n_rows(self) -> int:
        """Total number of rows over all blocks."""
        return sum(b.m for b in self.blocks)

    @cached_property
    def row_names(self) -> tuple[str, ...]:
        """All row names in row order, shape (n_rows,)."""
        return tuple(r for b in self.blocks for r in b.row_names)

    @cached_property
    def row_index(self) -> Mapping[str, int]:
        """Row name -> position in :attr:`row_names`."""
        return MappingProxyType({r: i for i, r in enumerate(self.row_names)})

    @cached_property
    def row_lower(self) -> np.ndarray:
        """Row lower bounds over all blocks, shape (n_rows,), read-only."""
        return self._concat_bounds("lower")

    @cached_property
    def row_upper(self) -> np.ndarray:
        """Row upper bounds over all blocks, shape (n_rows,), read-only."""
        return self._concat_bounds("upper")

    def _concat_bounds(self, side: str) -> np.ndarray:
        arr = (
            np.concatenate([getattr(b, side) for b in self.blocks]) if self.blocks else np.zeros(0)
        )
        arr.setflags(write=False)
        return arr

    @cached_property
    def _matrices(self) -> Mapping[str, sp.csr_array]:
        out: dict[str, sp.csr_array] = {}
        for g in self.variables:
            parts = []
            for b in self.blocks:
                coef = b.terms.get(g.name)
                if coef is None:
                    parts.append(sp.csr_array((b.m, g.size)))
                else:
                    parts.append(sp.csr_array(coef))
            if parts:
                out[g.name] = sp.csr_array(sp.vstack(parts, format="csr"))
            else:
                out[g.name] = sp.csr_array((0, g.size))
        return MappingProxyType(out)

    def matrix(self, group: str) -> sp.csr_array:
        """Stacked coefficients of ``group`` over all rows, shape (n_rows, group.size).

        Cached; do not modify the returned matrix.
        """
        self.group(group)
        return self._matrices[group]

    def objective_vector(self, group: str) -> np.ndarray:
        """Objective coefficients of ``group``, shape (group.size,) (zeros if absent)."""
        g = self.group(group)
        vec = self.objective.terms.get(group)
        return np.zeros(g.size) if vec is None else vec

    # ---- derived problems -----------------------------------------------------------

    def with_objective(self, objective: Objective) -> SizingProblem:
        """Same variables and rows, new objective."""
        return SizingProblem(self.variables, self.blocks, objective)

    def with_blocks(self, *blocks: LinearBlock) -> SizingProblem:
        """Append ``blocks`` (names and row names must stay unique)."""
        return SizingProblem(self.variables, self.blocks + tuple(blocks), self.objective)

    def without_blocks(self, *names: str) -> SizingProblem:
        """Drop the blocks called ``names`` (ValueError for unknown names)."""
        for n in names:
            self.block(n)
        drop = set(names)
        return SizingProblem(
            self.variables, tuple(b for b in self.blocks if b.name not in drop), self.objective
        )

    def with_variables(self, *groups: VariableGroup) -> SizingProblem:
        """Append variable groups (e.g. CVaR auxiliaries) before adding their rows."""
        return SizingProblem(self.variables + tuple(groups), self.blocks, self.objective)

    def relaxed(self) -> SizingProblem:
        """Continuous relaxation: INTEGER/BINARY groups become CONTINUOUS.

        Bounds are kept (a BINARY group keeps ``[0, 1]``).  Combine with
        :meth:`with_fixed` to get LP duals at fixed integer counts:
        ``problem.with_fixed("n", counts).relaxed()``.
        """
        groups = tuple(
            dataclasses.replace(g, kind=VarKind.CONTINUOUS) if g.is_integral else g
            for g in self.variables
        )
        return SizingProblem(groups, self.blocks, self.objective)

    def with_fixed(self, group: str, values: float | np.ndarray) -> SizingProblem:
        """Fix ``group`` at ``values`` (``lower = upper = values``; scalars broadcast).

        Parameters
        ----------
        group : str
            Group name.
        values : float or array_like, shape (group.size,)
            Values in variable units; must be integral (within 1e-9) for
            INTEGER/BINARY groups and in [0, 1] for BINARY.

        Returns
        -------
        SizingProblem
            The group keeps its kind; everything else is shared.
        """
        g = self.group(group)
        vals = np.array(
            _frozen_float_vector(values, g.size, f"with_fixed({group!r}): values"), dtype=float
        )
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"with_fixed({group!r}): values must be finite")
        if g.is_integral:
            rounded = np.round(vals)
            bad = np.flatnonzero(np.abs(vals - rounded) > 1e-9)
            if bad.size:
                raise ValueError(
                    f"with_fixed({group!r}): {g.kind.value} group needs integral values, element "
                    f"{g.labels[bad[0]]!r} is {vals[bad[0]]}"
                )
            vals = rounded
        fixed = dataclasses.replace(g, lower=vals, upper=vals)
        groups = tuple(fixed if v.name == group else v for v in self.variables)
        return SizingProblem(groups, self.blocks, self.objective)

    # ---- evaluation -----------------------------------------------------------------

    def _coerce_values(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for g in self.variables:
            if g.name not in values:
                raise ValueError(f"values: missing variable group {g.name!r}")
            arr = np.asarray(values[g.name], dtype=float)
            if arr.shape != (g.size,):
                raise ValueError(f"values[{g.name!r}] must have shape ({g.size},), got {arr.shape}")
            out[g.name] = arr
        extra = set(values) - set(out)
        if extra:
            raise ValueError(f"values: unknown variable group(s) {sorted(extra)}")
        return out

    def activity(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Row activities ``sum_g A_g @ x_g`` in row order, shape (n_rows,) (row units)."""
        vals = self._coerce_values(values)
        act = np.zeros(self.n_rows)
        for g in self.variables:
            act += self._matrices[g.name] @ vals[g.name]
        return act

    def row_activity(self, values: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Row name -> ``sum_g terms[g] @ x_g`` (row units)."""
        return dict(zip(self.row_names, self.activity(values).tolist(), strict=True))

    def _slack_vector(self, act: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            up = self.row_upper - act
            lo = act - self.row_lower
        return np.fmin(np.where(np.isfinite(up), up, np.inf), np.where(np.isfinite(lo), lo, np.inf))

    def row_slack(self, values: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Row name -> distance to the nearest finite bound (row units).

        ``min(upper - activity, activity - lower)`` over finite bounds: >= 0 when
        the row holds, negative by the size of the violation, ``+inf`` for a free
        row.
        """
        slack = self._slack_vector(self.activity(values))
        return dict(zip(self.row_names, slack.tolist(), strict=True))

    def is_feasible(self, values: Mapping[str, np.ndarray], tol: float = 1e-6) -> bool:
        """Check bounds, integrality and rows.

        Parameters
        ----------
        values : Mapping of str to ndarray
            Group name -> ``(group.size,)`` values; every group required.
        tol : float
            Violations up to ``tol * max(1, |bound|)`` are accepted for bounds and
            rows; integrality within ``tol`` absolute.

        Returns
        -------
        bool
        """
        vals = self._coerce_values(values)
        for g in self.variables:
            x = vals[g.name]
            if not np.all(np.isfinite(x)):
                return False
            if np.any(x < g.lower - tol * np.maximum(1.0, np.abs(g.lower))):
                return False
            if np.any(x > g.upper + tol * np.maximum(1.0, np.abs(g.upper))):
                return False
            if g.is_integral and np.any(np.abs(x - np.round(x)) > tol):
                return False
        if self.n_rows == 0:
            return True
        act = self.activity(vals)
        with np.errstate(invalid="ignore"):
            scale_u = tol * np.maximum(1.0, np.abs(self.row_upper))
            scale_l = tol * np.maximum(1.0, np.abs(self.row_lower))
        ok_u = ~np.isfinite(self.row_upper) | (act <= self.row_upper + scale_u)
        ok_l = ~np.isfinite(self.row_lower) | (act >= self.row_lower - scale_l)
        return bool(np.all(ok_u & ok_l))

    def objective_value(self, values: Mapping[str, np.ndarray]) -> float:
        """``sum_g c_g @ x_g + constant`` in objective units."""
        vals = self._coerce_values(values)
        total = self.objective.constant
        for gname, vec in self.objective.terms.items():
            total += float(vec @ vals[gname])
        return float(total)

    def __repr__(self) -> str:
        groups = ", ".join(f"{g.name}:{g.kind.value}[{g.size}]" for g in self.variables)
        blocks = ", ".join(f"{b.name}[{b.m}]" for b in self.blocks)
        return (
            f"SizingProblem({self.objective.sense.value} {self.objective.name!r}; "
            f"variables: {groups}; blocks: {blocks or 'none'})"
        )
