"""The audit file's schema (pydantic, unknown keys rejected, field path in every error) and its loader."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import SpecError
from optimizer.inputs.spec import (
    _format_error,
    apply_overrides,
    check_file_kind,
    read_yaml_mapping,
)
from optimizer.inputs.spec_base import _NUMBER, Fraction, NonNegFloat, PosFloat

# the scenario's number kinds (finite; a YAML true/false is not a number)
Range = Annotated[list[PosFloat], Field(min_length=2, max_length=2)]


#: Quantile levels reported for drawdowns and 12-month outcomes.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: File names written into ``--plot-dir``.
MONTHLY_PNG = "audit_monthly_net.png"
FAN_PNG = "audit_equity_fan.png"


#: Largest random seed of a Monte Carlo (the 32-bit seed range of numpy's legacy generators).
MAX_SEED = 2**32 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MixTier(_Strict):
    """Capital ≤ ``up_to`` (USD; None = any larger capital) → allocation per stream (fractions)."""

    up_to: PosFloat | None
    allocation: dict[str, Fraction]

    @field_validator("allocation")
    @classmethod
    def _sum(cls, v):
        if not v:
            raise ValueError("allocation is empty")
        if sum(v.values()) > 1 + 1e-9:
            raise ValueError(f"allocations sum to {sum(v.values()):g} > 1")
        return v


class SuccessProbability(_Strict):
    """The seed's hard-coded P(success): ``target_met`` if net ≥ target, else ``otherwise``."""

    target_met: Fraction
    otherwise: Fraction


class ClaimedSpec(_Strict):
    """Inputs of the seed's own arithmetic (``small_capital_optimizer.py``)."""

    operating_costs: NonNegFloat
    success_probability: SuccessProbability
    mixes: list[MixTier] = Field(min_length=1)

    @field_validator("mixes")
    @classmethod
    def _tiers(cls, v):
        bounds = [t.up_to for t in v]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("only the last tier may (and must) have up_to: null")
        if any(b2 <= b1 for b1, b2 in zip(bounds[:-2], bounds[1:-1], strict=True)):
            raise ValueError("tiers must have increasing up_to")
        return v


class SizeFactor(_Strict):
    """Capital ≤ ``up_to`` → return scale factor (``financial_projection_validator.py``)."""

    up_to: PosFloat | None
    factor: PosFloat


class BreakEvenSpec(_Strict):
    """Inputs of the seed's break-even (``calculate_net_returns``)."""

    annual_return: PosFloat
    trading_cost_rate: NonNegFloat
    reference_capital: PosFloat
    size_factors: list[SizeFactor] = Field(min_length=1)

    @field_validator("size_factors")
    @classmethod
    def _last_open(cls, v):
        if v[-1].up_to is not None:
            raise ValueError("the last size factor must have up_to: null")
        return v


_ASSUMABLE = {
    "average_return",
    "stop_loss",
    "take_profit",
    "win_probability",
    "position_fraction",
    "leverage",
    "capital_efficiency",
    "position_limit",
    "cost_rate",
    "min_cost",
    "trades_per_day",
    "min_spread",
}


class StreamSpec(_Strict):
    """One stream's stated parameters (fractions of the stake; ranges simulated at midpoints)."""

    label: str = ""
    claimed_monthly_rate: NonNegFloat
    #: At most 1,000 trades a day: the simulation draws every trade of every path (a stated
    #: 1e9 asked for a 7.45 GiB array); the seed's streams state 3 to 50.
    trades_per_day: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False), _NUMBER]
    count: Literal["fixed", "poisson"] = "fixed"
    average_return: float | None = Field(default=None, allow_inf_nan=False)
    stop_loss: PosFloat | Range | None = None
    take_profit: PosFloat | Range | None = None
    win_probability: Fraction | None = None
    position_fraction: Fraction
    leverage: Annotated[float, Field(ge=1, allow_inf_nan=False)] | Range = 1.0
    capital_efficiency: Fraction = 1.0
    position_limit: Fraction | None = None
    cost_rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    min_cost: NonNegFloat = 0.0
    min_spread: PosFloat | None = None
    regime: bool = False
    assumed: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _outcome(self):
        if (self.stop_loss is None) != (self.take_profit is None):
            raise ValueError("give both stop_loss and take_profit, or neither")
        if self.average_return is None and (self.win_probability is None or self.stop_loss is None):
            raise ValueError(
                "average_return: required unless win_probability, stop_loss and take_profit "
                "are all given"
            )
        for name in ("leverage", "stop_loss", "take_profit"):
            v = getattr(self, name)
            if isinstance(v, list) and v[0] > v[1]:
                raise ValueError(f"{name}: range [{v[0]}, {v[1]}] must be [low, high]")
        if self.stop_loss is None:
            if self.average_return is not None and self.average_return <= 0:
                raise ValueError(
                    "average_return: must be > 0 without stop_loss/take_profit (1:1 payoff rule)"
                )
            if self.win_probability is not None and self.win_probability <= 0.5:
                raise ValueError(
                    "win_probability: must be > 0.5 without stop_loss/take_profit (1:1 payoff)"
                )
        bad = [a for a in self.assumed if a not in _ASSUMABLE]
        if bad:
            raise ValueError(f"assumed: unknown field {bad[0]!r} (one of {sorted(_ASSUMABLE)})")
        return self


class RiskSpec(_Strict):
    """Seed 2's risk framework (fractions; None switches a limit off)."""

    daily_loss_limit: Annotated[float, Field(gt=0, le=1)] | None = 0.05
    kill_drawdown: Annotated[float, Field(gt=0, le=1)] | None = 0.15
    leverage_cap: PosFloat | None = 5.0
    code_leverage: PosFloat | None = None
    code_position_limit: Fraction | None = None


class PlausibilitySpec(_Strict):
    """Win-rate rules of the consistency checks."""

    validator_win_rate: Annotated[float, Field(gt=0.5, lt=1)] = 0.60
    max_win_rate: Annotated[float, Field(gt=0, le=1)] = 0.80


class RegimeSpec(_Strict):
    """Regime days: two-state chain of ``history`` close > ``threshold`` (VIX points)."""

    history: Path
    threshold: PosFloat = 25.0
    start: date | None = None
    end: date | None = None


class SimulationSpec(_Strict):
    """Monte Carlo sizes (paths, months, days per month) and seed."""

    paths: Annotated[int, Field(ge=10, le=200_000)] = 2000
    months: Annotated[int, Field(ge=1, le=120)] = 12
    days_per_month: Annotated[int, Field(ge=1, le=31)] = 21
    # numpy SeedSequence takes any integer >= 0; 2**32 - 1 keeps it the classic seed range
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    break_even_paths: Annotated[int, Field(ge=10, le=100_000)] = 500


class CapSpec(_Strict):
    """A CVaR cap: confidence ``alpha`` and ``cap`` (fraction of capital)."""

    alpha: Annotated[float, Field(gt=0, lt=1)]
    cap: PosFloat


class OptimizerSpec(_Strict):
    """Allocation settings (None caps are left out).

    ``objectives``: ``mean`` (max expected monthly return, the LP) and/or ``log_growth`` (max
    expected monthly log growth, the Kelly criterion), each under the same caps
    (:func:`optimizer.audit.streams_alloc.optimize_allocation`).
    """

    enabled: bool = True
    objectives: list[Literal["mean", "log_growth"]] = Field(
        default_factory=lambda: ["mean", "log_growth"], min_length=1
    )
    paths: Annotated[int, Field(ge=10, le=5000)] = 200
    cvar: CapSpec | None = None
    drawdown: CapSpec | None = None
    max_allocation: Fraction = 1.0


class AuditSpec(_Strict):
    """A capital-scenario audit file (``scenarios/quantai/capital_scenarios.yaml``)."""

    name: str
    currency: str = Field(default="USD", min_length=3, max_length=3)
    target_monthly: PosFloat
    capital_levels: list[PosFloat] = Field(min_length=1)
    claimed: ClaimedSpec
    operating_costs: dict[str, NonNegFloat] = Field(min_length=1)
    break_even: BreakEvenSpec
    streams: dict[str, StreamSpec] = Field(min_length=1)
    risk: RiskSpec = RiskSpec()
    plausibility: PlausibilitySpec = PlausibilitySpec()
    regime: RegimeSpec | None = None
    simulation: SimulationSpec = SimulationSpec()
    optimizer: OptimizerSpec = OptimizerSpec()
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _cross(self):
        for i, tier in enumerate(self.claimed.mixes):
            for name in tier.allocation:
                if name not in self.streams:
                    raise ValueError(
                        f"claimed.mixes.{i}.allocation.{name}: unknown stream (streams: "
                        f"{', '.join(self.streams)})"
                    )
        if self.regime is None:
            for name, s in self.streams.items():
                if s.regime:
                    raise ValueError(f"streams.{name}.regime: needs a regime: section")
        return self

    @property
    def itemised_costs(self) -> float:
        """Sum of the itemised monthly operating costs (account currency)."""
        return float(sum(self.operating_costs.values()))

    def resolve(self, path: Path) -> Path:
        """A path of the file, relative to the file's folder."""
        return path if path.is_absolute() else self.base_dir / path


def load_audit(path: str | Path, overrides: Sequence[str] = ()) -> AuditSpec:
    """Read and validate an audit file (``--set dotted.path=value`` overrides applied first).

    Raises
    ------
    SpecError
        Unreadable file, invalid YAML, or ``<file>: <field.path>: <what is wrong>``.
    """
    p = Path(path)
    raw = read_yaml_mapping(p, "audit")
    check_file_kind(raw, p, "audit")
    raw = apply_overrides(raw, list(overrides))
    raw["base_dir"] = p.parent.resolve()
    try:
        return AuditSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{p}: {_format_error(exc)}") from None
