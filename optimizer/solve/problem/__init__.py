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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from optimizer.solve.problem.parts import (
    LinearBlock,
    Objective,
    ObjectiveSense,
    VariableGroup,
    VarKind,
    _frozen_float_vector,
    _set,
)

__all__ = [
    "LinearBlock",
    "Objective",
    "ObjectiveSense",
    "SizingProblem",
    "VarKind",
    "VariableGroup",
]


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
