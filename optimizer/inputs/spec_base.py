"""Shared types of the scenario schema: validated float kinds, the strict base model, the objective."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectiveKind(StrEnum):
    """What the sizing problem optimizes."""

    MAX_THETA = "max_theta"
    MAX_INCOME = "max_income"
    MIN_BP = "min_bp"
