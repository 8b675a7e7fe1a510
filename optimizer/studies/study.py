"""Study files: many solves from one base scenario — named cases or a grid over dotted paths.

A study is YAML, validated like a scenario (unknown keys rejected, the field path in every
error)::

    name: "VIX × account"
    base: phase4.yaml                       # a scenario file, relative to the study file
    overrides: {target.success_probability: null}   # applied to every point
    vix_rule: proportional                  # how a swept market.vix moves the chains' smiles
    grid:
      mode: product                         # or zip (axes of equal length, walked together)
      axes:
        market.vix: [12, 15, 20, 25, 30]
        account.net_liq: [35000, 50000, 75000, 100000]

or, instead of ``grid``, named ``cases`` (each its own scenario file and/or overrides)::

    cases:
      - {name: "Phase 1", scenario: phase1.yaml}
      - {name: "Phase 4, soft allocation", overrides: {allocation.mode: soft}}

Every point's scenario is built by applying the study's ``overrides``, then the case's or grid
point's values, to the base (or case) scenario file, and validated: an invalid point is an error
naming the study field (``grid.axes.market.vix[3]: …``) before anything is solved. Sweeping
``market.vix`` sets ``market.vix_rule`` (default ``proportional``: every IV × the VIX ratio), so
the option prices move with the VIX, not only the VIX-table caps
(:class:`models.market.surfaces.VixShiftedSurface`). ``sticky_moneyness`` (IV + the VIX change × the
square-root-of-time term factor) is the other rule; composed with the 0DTE session clock (a 0DTE
trade's variance is read off the first listed expiry, three calendar days away on a Friday
chain, then scaled to 5.5 hours) it moves a 0DTE IV by about 6.6 × the VIX change in vol
points — a 1.4-point VIX drop lowers the phase-4 0DTE premium by ~19% — so it is not the
default.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.errors import SpecError
from optimizer.inputs.spec import (
    Scenario,
    _format_error,
    apply_overrides,
    check_file_kind,
    read_yaml_mapping,
)
from optimizer.inputs.spec_base import DiagnosticsLevel

__all__ = ["Point", "Study", "case_scenario", "expand", "load_study", "point_key"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Most points of one study (the 400-point sweep takes ~5 minutes on 2 cores).
MAX_POINTS = 20_000


class CaseSpec(_Strict):
    """One named case: a scenario file (default: the study's ``base``) and overrides."""

    name: Annotated[str, Field(min_length=1)]
    scenario: Path | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class GridSpec(_Strict):
    """Axes (dotted scenario paths → values) walked as a ``product`` or in step (``zip``)."""

    mode: Literal["product", "zip"] = "product"
    axes: dict[str, Annotated[list[Any], Field(min_length=1)]]

    @model_validator(mode="after")
    def _axes(self):
        if not self.axes:
            raise ValueError("axes: at least one axis is needed")
        if self.mode == "zip":
            sizes = {len(v) for v in self.axes.values()}
            if len(sizes) > 1:
                raise ValueError(f"axes: zip needs axes of equal length, got {sorted(sizes)}")
        n = (
            len(next(iter(self.axes.values())))
            if self.mode == "zip"
            else math.prod(len(v) for v in self.axes.values())
        )
        if n > MAX_POINTS:
            # every point is validated before anything is solved: a 1000 x 1000 grid spent
            # minutes building a million scenarios
            raise ValueError(f"axes: {n:,} points; a study holds at most {MAX_POINTS:,}")
        return self


class SolveOptions(_Strict):
    """What each point's solve computes (``full`` = everything ``thetaplan solve`` does).

    ``light`` skips the per-point diagnostics a sweep does not tabulate (one-family relaxations,
    the joint minimal relaxation, conflicts); ``min_nlv`` runs the minimum-account search.
    """

    diagnostics: DiagnosticsLevel = DiagnosticsLevel.LIGHT
    min_nlv: bool = False


class Study(_Strict):
    """A validated study (see the module docstring)."""

    name: str
    description: str = ""
    base: Path | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    vix_rule: Literal["sticky_moneyness", "proportional"] = "proportional"
    cases: Annotated[list[CaseSpec], Field(max_length=MAX_POINTS)] | None = None
    grid: GridSpec | None = None
    solve: SolveOptions = SolveOptions()
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.cases is None) == (self.grid is None):
            raise ValueError("a study needs exactly one of cases or grid")
        if self.grid is not None and self.base is None:
            raise ValueError("base: a grid study needs a base scenario file")
        if self.cases is not None:
            if not self.cases:
                raise ValueError("cases: at least one case is needed")
            names = [c.name for c in self.cases]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"cases: duplicate name(s) {', '.join(dup)}")
            for i, c in enumerate(self.cases):
                if c.scenario is None and self.base is None:
                    raise ValueError(f"cases[{i}].scenario: no scenario file and no study base")
        return self

    @property
    def kind(self) -> str:
        """``cases`` or ``grid``."""
        return "grid" if self.grid is not None else "cases"

    @property
    def swept(self) -> list[str]:
        """The dotted paths a grid sweeps (empty for cases)."""
        return list(self.grid.axes) if self.grid is not None else []


@dataclass(frozen=True)
class Point:
    """One solve of a study.

    Parameters
    ----------
    index : int
        Position in the study (0-based), stable across runs.
    name : str
        Case name, or ``"market.vix=12, account.net_liq=35000"`` for a grid point.
    values : dict[str, Any]
        The swept values (grid) or the case's overrides.
    scenario : Scenario
        The validated scenario of the point.
    """

    index: int
    name: str
    values: dict[str, Any]
    scenario: Scenario


def point_key(point: Point) -> str:
    """A stable key of a point (its index and values), for checkpoints."""
    return f"{point.index:05d}:" + json.dumps(point.values, sort_keys=True, default=str)


def load_study(path: str | Path, sets: Sequence[str] = ()) -> Study:
    """Read and validate a study (scenario paths relative to it), with ``--set`` overrides.

    Parameters
    ----------
    path : str | Path
        The study YAML file.
    sets : sequence of str
        ``dotted.path=value`` items (value parsed as YAML, as ``thetaplan solve --set``).
        ``solve.*`` paths set the study's own solve options (``solve.diagnostics=light``); every
        other path is a scenario field added to the study's ``overrides`` (applied to every point,
        after the study's own overrides and before a case's); a path a grid sweeps is an error.

    Raises
    ------
    SpecError
        Unreadable file, a malformed override, a swept path, a schema error (with the field
        path) or a point whose scenario is invalid (with the study field that produced it).
    """
    p = Path(path)
    raw = read_yaml_mapping(p, "study")
    check_file_kind(raw, p, "study")
    study_sets, point_sets = [], {}
    for item in sets:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected dotted.path=value")
        key, value = item.split("=", 1)
        key = ".".join(k for k in key.strip().split(".") if k)
        if key == "solve" or key.startswith("solve."):
            study_sets.append(item)
        else:
            point_sets[key] = apply_overrides({}, [f"v={value}"])["v"]
    raw = apply_overrides(raw, study_sets)
    if point_sets:
        base = raw.get("overrides") or {}
        if not isinstance(base, dict):
            raise SpecError(f"{p}: overrides: expected a mapping of dotted paths to values")
        raw["overrides"] = {**base, **point_sets}
    try:
        study = Study.model_validate({**raw, "base_dir": p.resolve().parent})
    except ValidationError as exc:
        raise SpecError(f"{p}: {_format_error(exc)}") from None
    swept = [k for k in point_sets if k in study.swept]
    if swept:
        raise SpecError(f"--set {swept[0]}: the path is swept by the study")
    expand(study)  # every point must validate before anything is solved
    return study


def _scenario(study: Study, file: Path, overrides: dict[str, Any], where: str) -> Scenario:
    path = file if file.is_absolute() else study.base_dir / file
    raw = read_yaml_mapping(path, "scenario")
    items = {**study.overrides, **overrides}
    if "market.vix" in items and "market.vix_rule" not in items:
        items["market.vix_rule"] = study.vix_rule
    try:
        raw = apply_overrides(raw, [f"{k}={json.dumps(v)}" for k, v in items.items()])
        return Scenario.model_validate({**raw, "base_dir": path.resolve().parent})
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise SpecError(f"{where}: {path.name}: {_format_error(exc)}") from None


def _label(values: dict[str, Any]) -> str:
    def fmt(v):
        if isinstance(v, float) and math.isfinite(v) and v == int(v):
            return str(int(v))
        return str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in values.items())


def case_scenario(study: Study, i: int) -> Scenario:
    """The validated scenario of case ``i`` alone (what :func:`expand` builds for it, without
    building every other point).

    Raises
    ------
    SpecError
        Not a cases study, ``i`` out of range, or the case's scenario is invalid.
    """
    if study.cases is None or not 0 <= i < len(study.cases):
        raise SpecError(f"cases[{i}]: the study has no such case")
    case = study.cases[i]
    return _scenario(study, case.scenario or study.base, case.overrides, f"cases[{i}]")


def base_scenario(study: Study) -> Scenario:
    """The study's base scenario with the study's overrides, no grid value applied.

    A cases study without a base gives its first case's scenario.

    Raises
    ------
    SpecError
        The scenario is invalid (message starting with ``base``).
    """
    if study.base is None:
        return case_scenario(study, 0)
    return _scenario(study, study.base, {}, "base")


def expand(study: Study) -> list[Point]:
    """Every point of the study, in a stable order, with its validated scenario.

    Grid points are in row-major order of the axes as written (the last axis fastest).

    Raises
    ------
    SpecError
        A point's scenario is invalid; the message starts with the study field
        (``cases[2]`` or ``grid.axes.<path>[i]``).
    """
    points: list[Point] = []
    if study.cases is not None:
        for i, case in enumerate(study.cases):
            points.append(Point(i, case.name, dict(case.overrides), case_scenario(study, i)))
        return points
    axes = study.grid.axes
    names = list(axes)
    if study.grid.mode == "zip":
        combos = [
            tuple((j, axes[n][j]) for n in names) for j in range(len(next(iter(axes.values()))))
        ]
    else:
        combos = list(itertools.product(*[list(enumerate(axes[n])) for n in names]))
    for i, combo in enumerate(combos):
        values = {n: v for n, (_, v) in zip(names, combo, strict=True)}
        where = ", ".join(f"grid.axes.{n}[{j}]" for n, (j, _) in zip(names, combo, strict=True))
        sc = _scenario(study, study.base, values, where)
        points.append(Point(i, _label(values), values, sc))
    return points
