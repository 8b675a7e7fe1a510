"""Shared types of the scenario schema: validated float kinds, the strict base model, the objective."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)


def _not_bool(value):
    """A YAML ``true``/``false`` where a number is expected is an error, not 1 or 0."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


_NUMBER = BeforeValidator(_not_bool)

#: Largest magnitude of any number in a thetaplan file (1e12: a trillion of any currency, far
#: beyond any account, price or count; 1e308 and 30-digit integers overflowed the solver's
#: coefficients and the calendar arithmetic with a traceback).
MAX_MAGNITUDE = 1e12

FiniteFloat = Annotated[
    float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, allow_inf_nan=False), _NUMBER
]
PosFloat = Annotated[float, Field(gt=0, le=MAX_MAGNITUDE, allow_inf_nan=False), _NUMBER]
NonNegFloat = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE, allow_inf_nan=False), _NUMBER]
#: An integer where ``true``/``false`` is refused (pydantic's lax mode reads them as 1 and 0).
Int = Annotated[int, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE), _NUMBER]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _NUMBER]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectiveKind(StrEnum):
    """What the sizing problem optimizes."""

    MAX_THETA = "max_theta"
    MAX_INCOME = "max_income"
    MIN_BP = "min_bp"


class DiagnosticsLevel(StrEnum):
    """How much of the diagnosis a solve runs: everything; the verdict without the one-family
    relaxations and the joint minimal relaxation (``light``, studies); or ``book``: ``light``
    without the search for the highest reachable P(month ≥ target) when the chance constraint
    is not met (the headline book does not depend on it; the backtest re-sizes every month)."""

    FULL = "full"
    LIGHT = "light"
    BOOK = "book"


class PositionBasis(StrEnum):
    """What position, total and group limits count: full-size units, contracts or structures."""

    UNITS = "units"
    CONTRACTS = "contracts"
    STRUCTURES = "structures"


class AllocationMode(StrEnum):
    """The income allocation band as hard walls or as a penalized deviation."""

    HARD = "hard"
    SOFT = "soft"


class ChanceMethod(StrEnum):
    """The chance constraint as sample-average approximation (binaries) or its CVaR bound."""

    SAA = "saa"
    CVAR = "cvar"
