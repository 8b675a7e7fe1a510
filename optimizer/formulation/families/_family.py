"""What a constraint family is: one object holding its rows, how it is lifted and relaxed, and
how its rows read.

Every module of :mod:`optimizer.formulation.families` that declares ``FAMILY = CapFamily(...)``
is a constraint family; :func:`optimizer.formulation.families.registry` collects them. The
problem builder, the diagnostics (one-family relaxations, the elastic minimal relaxation, the
units and solvency limits of a raised cap) and the JSON report of the caps in force read the
registry, so a new cap is one module (and its test).

A family configured from the scenario's ``caps:`` section (``section`` set) owns its settings:
a pydantic model validated when the scenario is prepared, its value in
``Limits.extra[section]`` (the raw mapping; :meth:`CapFamily.settings_of` validates it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from optimizer.formulation.families._rows import Part
    from optimizer.inputs.candidates import CandidateSet
    from optimizer.inputs.limits import Limits

__all__ = ["CapFamily", "Family", "Lift", "RowUnit", "Solvency", "Unit"]


class Family(StrEnum):
    """The built-in constraint families (the ``family`` of their row blocks)."""

    ALLOCATION = "allocation"
    BUYING_POWER = "buying_power"
    LEVERAGE = "leverage"
    GREEKS = "greeks"
    POSITIONS = "positions"
    TAIL_RISK = "tail_risk"
    CHANCE = "chance"


#: How a cap row's bound reads: a fraction of NLV (money rows), a share of expected income
#: (allocation rows) or a count (units, contracts, positions).
Unit = Literal["fraction of NLV", "share of income", "units"]
#: Which solvency limit a raised cap must respect: buying power ≤ 100% of NLV (FINRA Rule
#: 4210(d)/(g): no broker extends more buying power than the equity), a loss < 100% of NLV.
Solvency = Literal["bp", "loss"]


@dataclass(frozen=True)
class RowUnit:
    """How the rows whose names start with ``prefixes`` read.

    Parameters
    ----------
    prefixes : tuple[str, ...]
        Row-name prefixes (``"bp_total"``, ``"bp_cap["`` …).
    unit : Unit
        The unit a raised bound is reported in.
    solvency : Solvency | None
        The solvency limit of a raised bound, if any.
    """

    prefixes: tuple[str, ...]
    unit: Unit = "units"
    solvency: Solvency | None = None


@dataclass(frozen=True)
class Lift:
    """One cap of a family lifted by the one-family relaxations ("what does this cap cost").

    Parameters
    ----------
    label : str or callable
        The cap's name in the relaxation table (``"leverage"``, ``"CVaR caps"`` …), or
        ``label(limits) -> str`` when it names the scenario's values (see :meth:`name`).
    active : callable
        ``active(limits) -> bool``: the cap is in force.
    lifted : callable
        ``lifted(limits) -> dict``: the :class:`~optimizer.inputs.limits.Limits` fields that
        remove it (for :func:`dataclasses.replace`).
    rank : int
        Position in the relaxation table (built-in caps 10, 20, …; new families default after).
    """

    label: str | Callable[[Limits], str]
    active: Callable[[Limits], bool]
    lifted: Callable[[Limits], dict]
    rank: int = 1000

    def name(self, limits: Limits) -> str:
        """The label for ``limits`` (a label may depend on them, e.g. the allocation's weights)."""
        return self.label(limits) if callable(self.label) else self.label


@dataclass(frozen=True)
class CapFamily:
    """A constraint family.

    Parameters
    ----------
    name : str
        The ``family`` of its row blocks (a :class:`Family` member for the built-in ones).
    part : callable | None
        ``part(candidates, limits) -> Part``: its variables, rows and objective terms; ``None``
        for families built from risk data (:func:`optimizer.formulation.build.risk_parts`).
    lifts : tuple[Lift, ...]
        Its caps as the one-family relaxations lift them.
    relaxable : bool
        Whether the elastic minimal relaxation may raise its rows.
    rows : tuple[RowUnit, ...]
        How its rows read (units, solvency).
    section : str | None
        Key of its settings under the scenario's ``caps:`` section (families that own their
        settings), else ``None`` (settings in the scenario's own sections).
    settings : type[BaseModel] | None
        Pydantic model of that section (unknown keys rejected).
    report : callable | None
        ``report(settings) -> dict``: its entry in the JSON ``limits`` (families with a section).
    """

    name: str
    part: Callable[[CandidateSet, Limits], Part] | None = None
    lifts: tuple[Lift, ...] = ()
    relaxable: bool = False
    rows: tuple[RowUnit, ...] = ()
    section: str | None = None
    settings: type[BaseModel] | None = None
    report: Callable[[Any], dict] | None = field(default=None)

    def settings_of(self, limits: Limits) -> Any:
        """This family's validated settings in ``limits`` (``None`` when not configured).

        Raises
        ------
        SpecError
            ``caps.<section>.<field>: …`` when the section does not validate.
        """
        if self.section is None or self.settings is None:
            return None
        raw = limits.extra.get(self.section)
        if raw is None or isinstance(raw, self.settings):
            return raw  # validated once by check_sections when the scenario was prepared
        return validate_section(self, raw)


def validate_section(family: CapFamily, raw: Mapping[str, Any] | Any) -> Any:
    """Validate one ``caps:`` section with its family's model, errors named by field path.

    Raises
    ------
    SpecError
        ``caps.<section>.<field>: <message>``, every error on one line (``; ``-separated).
    """
    from pydantic import ValidationError

    from models.errors import SpecError

    try:
        return family.settings.model_validate(raw)
    except ValidationError as e:
        parts = [
            ".".join(str(p) for p in ("caps", family.section, *err["loc"])) + f": {err['msg']}"
            for err in e.errors()
        ]
        raise SpecError("; ".join(parts)) from None
