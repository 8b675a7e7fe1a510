"""Seed 2 capital-scenario audit: the claimed table recomputed beside a Monte Carlo of its streams.

``thetaplan audit scenarios/quantai/capital_scenarios.yaml`` reads an audit file (schema below,
pydantic, unknown keys rejected, field path in every error) and produces an :class:`AuditResult`:

* ``claimed`` — the seed's own arithmetic (kuthy9/QuantAI ``scripts/small_capital_optimizer.py``
  ``calculate_blended_strategy_returns``; domain.md §8): gross = capital × Σ(allocation × monthly
  rate), net = gross − the seed's $1,771, "annual" = capital × ((1 + net/capital)^12 − 1),
  P(success) = 0.75 if net ≥ target else 0.45. Rates, mixes and costs come from the file.
* ``break_even.claimed`` — ``scripts/financial_projection_validator.py``: (itemised costs + 0.2% ×
  the $100k reference) / ((1 + 28% × size factor)^(1/12) − 1) = $102,208.
* ``checks`` — consistency of the stated per-trade parameters (implied win rates against the
  seed's own 60% validator win rate and an 80% plausibility bound, claimed monthly rates against
  what the per-trade figures imply, stakes against position limits, leverage against caps).
* ``simulated`` — :func:`models.streams.simulate_equity` of each capital level's mix with the
  stated per-trade parameters, seed 2's risk limits and the itemised operating costs;
  ``simulated_no_edge`` — the same with every stream at its no-edge win rate
  (:func:`models.streams.no_edge_win_probability`).
* ``break_even.recomputed`` — the smallest capital whose mean first-month net (simulated, with the
  seed's mix for that capital) is ≥ 0.
* ``optimized`` — the allocation LP of :mod:`optimizer.audit.streams_alloc` per capital level and the
  re-simulation of its allocation under the account-level limits.

Win rates the seed does not state are derived, never fitted to a claimed number: from the stated
average, stop and target (:func:`models.streams.implied_win_probability`) when it gives a stop and
a target; otherwise the seed's own validator win rate (60%) with a 1:1 payoff (win = loss =
average / (2p − 1)). Every such choice is listed in :attr:`AuditResult.assumptions`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import SpecError
from models.history import load_vix_history
from models.risk import success_probability
from models.streams import (
    EquitySimulation,
    RegimeChain,
    RiskLimits,
    Stream,
    fit_regime,
    implied_win_probability,
    no_edge_win_probability,
    simulate_equity,
)
from optimizer.audit.streams_alloc import AllocationResult, optimize_allocation
from optimizer.inputs.spec import _format_error, apply_overrides, read_yaml_mapping

__all__ = [
    "AuditResult",
    "AuditSpec",
    "ClaimedRow",
    "Finding",
    "SimulatedRow",
    "claimed_break_even",
    "claimed_table",
    "consistency_checks",
    "derive_streams",
    "equity_fan_figure",
    "load_audit",
    "mix_for",
    "monthly_distribution_figure",
    "risk_limits",
    "run_audit",
    "simulated_break_even",
    "write_audit_plots",
]

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Range = Annotated[list[PosFloat], Field(min_length=2, max_length=2)]

#: Quantile levels reported for drawdowns and 12-month outcomes.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: File names written into ``--plot-dir``.
MONTHLY_PNG = "audit_monthly_net.png"
FAN_PNG = "audit_equity_fan.png"


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
    trades_per_day: PosFloat
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
    seed: int = 0
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
    raw = apply_overrides(raw, list(overrides))
    raw["base_dir"] = p.parent.resolve()
    try:
        return AuditSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{p}: {_format_error(exc)}") from None


# ----------------------------------------------------------------------------- claimed
def _mid(v: float | list[float] | None) -> float | None:
    if v is None:
        return None
    return 0.5 * (v[0] + v[1]) if isinstance(v, list) else float(v)


def mix_for(spec: AuditSpec, capital: float) -> dict[str, float]:
    """The seed's mix for ``capital``: the first tier with ``capital ≤ up_to``."""
    for tier in spec.claimed.mixes:
        if tier.up_to is None or capital <= tier.up_to:
            return dict(tier.allocation)
    raise AssertionError("the last tier is open")  # pragma: no cover - schema guarantees it


@dataclass(frozen=True)
class ClaimedRow:
    """One capital level of the seed's table, recomputed with its own arithmetic.

    Attributes
    ----------
    capital : float
        Account size (USD).
    gross_monthly, net_monthly : float
        ``capital × Σ(allocation × rate)`` and that minus the seed's operating costs (USD/month).
    monthly_roi : float
        ``net / capital`` (fraction per month).
    annual : float
        ``capital × ((1 + monthly_roi)^12 − 1)`` (USD), the seed's "annual return".
    meets_target : bool
        ``net ≥ target``.
    p_success : float
        The seed's hard-coded probability (0.75 / 0.45).
    mix : dict
        Stream → allocation used.
    """

    capital: float
    gross_monthly: float
    net_monthly: float
    monthly_roi: float
    annual: float
    meets_target: bool
    p_success: float
    mix: dict[str, float]


def claimed_table(spec: AuditSpec) -> list[ClaimedRow]:
    """The seed's capital table (``small_capital_optimizer.py``), one row per capital level."""
    rows = []
    c = spec.claimed
    for cap in spec.capital_levels:
        mix = mix_for(spec, cap)
        gross = sum(cap * a * spec.streams[k].claimed_monthly_rate for k, a in mix.items())
        net = gross - c.operating_costs
        roi = net / cap
        annual = cap * ((1 + roi) ** 12 - 1) if roi > -1 else -cap
        met = net >= spec.target_monthly
        p = c.success_probability.target_met if met else c.success_probability.otherwise
        rows.append(ClaimedRow(cap, gross, net, roi, annual, met, p, mix))
    return rows


def claimed_break_even(spec: AuditSpec) -> float:
    """The seed's break-even capital (``financial_projection_validator.py``), USD.

    ``(itemised costs + trading_cost_rate × reference) / ((1 + annual × factor)^(1/12) − 1)``
    with the size factor of the reference capital — 1,970.98 / 0.019284 = $102,208.
    """
    be = spec.break_even
    ref = be.reference_capital
    factor = next(f.factor for f in be.size_factors if f.up_to is None or ref <= f.up_to)
    monthly = (1 + be.annual_return * factor) ** (1 / 12) - 1
    return (spec.itemised_costs + be.trading_cost_rate * ref) / monthly


# ----------------------------------------------------------------------------- streams
@dataclass(frozen=True)
class Finding:
    """One consistency check of a stream's stated parameters.

    Attributes
    ----------
    stream : str
        Stream name.
    check : str
        ``implied_win_rate``, ``claimed_rate``, ``position_limit``, ``leverage``, ``spread``.
    severity : str
        ``impossible``, ``implausible``, ``inconsistent``, ``note`` or ``ok``.
    value : float
        The checked quantity (win probability, ratio, fraction …).
    message : str
        What was checked, against which rule and its source.
    """

    stream: str
    check: str
    severity: str
    value: float
    message: str


def _outcome(s: StreamSpec, plaus: PlausibilitySpec) -> tuple[float, float, float, str]:
    """(win probability, win return, loss return, how) of a stream as stated."""
    sl, tp = _mid(s.stop_loss), _mid(s.take_profit)
    if s.win_probability is not None and sl is not None:
        return s.win_probability, tp, sl, "win rate, stop and take-profit stated"
    if sl is not None:
        p = implied_win_probability(s.average_return, sl, tp)
        how = (
            f"win rate implied by the stated average {s.average_return:.2%}, stop {sl:.2%} and "
            f"take-profit {tp:.2%}: p = (avg + SL)/(TP + SL) = {p:.3f}"
        )
        return min(max(p, 0.0), 1.0), tp, sl, how
    p = s.win_probability if s.win_probability is not None else plaus.validator_win_rate
    w = s.average_return / (2 * p - 1)
    how = (
        f"no stop/take-profit stated: win rate {p:.0%} (the seed's validator win rate, "
        f"financial_projection_validator.py) with a 1:1 payoff, win = loss = avg/(2p − 1) = "
        f"{w:.2%} of the stake"
    )
    return p, w, w, how


def derive_streams(
    spec: AuditSpec, *, variant: Literal["stated", "no_edge"] = "stated"
) -> tuple[dict[str, Stream], dict[str, str]]:
    """Simulation streams from the stated parameters.

    Parameters
    ----------
    spec : AuditSpec
        The audit file.
    variant : {"stated", "no_edge"}
        ``stated``: win rates as stated or derived (module docstring); ``no_edge``: every
        stream at ``loss / (win + loss)``, zero expected gross return per trade.

    Returns
    -------
    (dict of name → Stream, dict of name → how the win rate was obtained)
    """
    out, how = {}, {}
    for name, s in spec.streams.items():
        p, w, lo, text = _outcome(s, spec.plausibility)
        if variant == "no_edge":
            p = no_edge_win_probability(lo, w)
            text = f"no-edge win rate loss/(win + loss) = {p:.3f} (zero expected gross per trade)"
        out[name] = Stream(
            name=name,
            trades_per_day=s.trades_per_day,
            win_probability=p,
            win_return=w,
            loss_return=lo,
            position_fraction=s.position_fraction,
            leverage=_mid(s.leverage),
            capital_efficiency=s.capital_efficiency,
            cost_rate=s.cost_rate,
            min_cost=s.min_cost,
            regime_only=s.regime,
            count=s.count,
        )
        how[name] = text
    return out, how


def consistency_checks(spec: AuditSpec, regime_share: float | None = None) -> list[Finding]:
    """Check the stated per-trade parameters against each other and the seed's own rules.

    * implied win rate ``(avg + SL)/(TP + SL)`` (at both ends of a take-profit range):
      > 1 impossible; > ``max_win_rate`` implausible; > the seed's validator win rate
      (``financial_projection_validator.py`` ``target_win_rate`` 60%) inconsistent with the
      seed's own assumption;
    * the claimed monthly rate against the rate the per-trade figures imply, trades/day × stake ×
      average × days per month (× the regime share for regime streams), simple sum: a ratio
      outside [1/2, 2] is inconsistent;
    * the stake against the stream's position limit and the code's 10% default
      (``RiskControlAgent``); leverage against the doc's 5× and the code's 2×;
    * an arbitrage average profit above its minimum spread (a spread capture cannot earn more
      than the spread).
    """
    out: list[Finding] = []
    pl = spec.plausibility
    dpm = spec.simulation.days_per_month
    for name, s in spec.streams.items():
        sl, tp = _mid(s.stop_loss), _mid(s.take_profit)
        if sl is not None and s.average_return is not None:
            tps = s.take_profit if isinstance(s.take_profit, list) else [tp]
            sls = s.stop_loss if isinstance(s.stop_loss, list) else [sl]
            ps = [implied_win_probability(s.average_return, a, b) for a in sls for b in tps]
            p = implied_win_probability(s.average_return, sl, tp)
            lo, hi = min(ps), max(ps)
            span = f"{p:.1%}" if lo == hi else f"{p:.1%} ({lo:.1%}–{hi:.1%} over the ranges)"
            if lo > 1:
                sev, rule = "impossible", "> 100%: no win rate produces the stated average"
            elif p > pl.max_win_rate:
                sev, rule = "implausible", f"> {pl.max_win_rate:.0%} (plausibility bound)"
            elif p > pl.validator_win_rate:
                sev = "inconsistent"
                rule = (
                    f"> the seed's own validator win rate {pl.validator_win_rate:.0%} "
                    "(financial_projection_validator.py)"
                )
            else:
                sev, rule = "ok", f"≤ {pl.validator_win_rate:.0%}"
            out.append(
                Finding(
                    name,
                    "implied_win_rate",
                    sev,
                    p,
                    f"average {s.average_return:.2%} with stop {sl:.2%} and take-profit "
                    f"{tp:.2%} needs a win rate of {span}: {rule}",
                )
            )
        if s.average_return is not None:
            share = regime_share if (s.regime and regime_share is not None) else 1.0
            implied = s.trades_per_day * s.position_fraction * s.capital_efficiency
            implied *= s.average_return * dpm * share
            ratio = implied / s.claimed_monthly_rate if s.claimed_monthly_rate > 0 else math.inf
            sev = "ok" if 0.5 <= ratio <= 2 else "inconsistent"
            extra = f" × regime share {share:.1%}" if s.regime else ""
            out.append(
                Finding(
                    name,
                    "claimed_rate",
                    sev,
                    ratio,
                    f"per-trade figures imply {implied:.0%}/month simple ({s.trades_per_day:g} "
                    f"trades × {s.position_fraction * s.capital_efficiency:.1%} stake × "
                    f"{s.average_return:.2%} × {dpm} days{extra}) against the claimed "
                    f"{s.claimed_monthly_rate:.0%}: ratio {ratio:.2f}",
                )
            )
        limits = [(s.position_limit, "the stream's stated position limit")]
        if spec.risk.code_position_limit is not None:
            limits.append((spec.risk.code_position_limit, "RiskControlAgent's 10% default"))
        for lim, what in limits:
            if lim is not None and s.position_fraction > lim + 1e-12:
                out.append(
                    Finding(
                        name,
                        "position_limit",
                        "inconsistent",
                        s.position_fraction,
                        f"stake {s.position_fraction:.0%} per trade exceeds {what} ({lim:.0%})",
                    )
                )
        lev = s.leverage if isinstance(s.leverage, list) else [s.leverage]
        for cap, what in (
            (spec.risk.leverage_cap, "the seed's 5× leverage limit"),
            (spec.risk.code_leverage, "RiskControlAgent's 2× default"),
        ):
            if cap is not None and max(lev) > cap + 1e-12:
                out.append(
                    Finding(
                        name,
                        "leverage",
                        "inconsistent",
                        max(lev),
                        f"leverage up to {max(lev):g}× exceeds {what} ({cap:g}×)",
                    )
                )
        if s.min_spread is not None and s.average_return is not None:
            ratio = s.average_return / s.min_spread
            out.append(
                Finding(
                    name,
                    "spread",
                    "implausible" if ratio > 1 else "ok",
                    ratio,
                    f"average profit {s.average_return:.2%} per arbitrage trade is "
                    f"{ratio:.1f}× the {s.min_spread:.2%} minimum spread it trades on",
                )
            )
    return out


# ----------------------------------------------------------------------------- simulation
def _quantiles(x: np.ndarray) -> dict[str, float]:
    q = np.quantile(np.asarray(x, dtype=float), QUANTILES)
    return {
        f"p{int(round(level * 100)):02d}": float(v) for level, v in zip(QUANTILES, q, strict=True)
    }


@dataclass(frozen=True)
class SimulatedRow:
    """Monte Carlo result of one capital level (money in USD, probabilities as fractions).

    Attributes
    ----------
    capital : float
        Starting equity.
    mix : dict
        Stream → allocation simulated.
    mean_net_monthly, median_net_monthly : float
        Mean and median net result of the first month (equity change after operating costs),
        the like-for-like figure of the seed's "net/month".
    p_net_ge_target : float
        P(first-month net ≥ target), with its 95% Clopper–Pearson interval ``p_net_ge_target_ci``.
    share_months_ge_target : float
        Share of all simulated months (every path, every month) with net ≥ target.
    p_kill_switch_12m : float
        P(kill switch or ruin within the horizon's first 12 months).
    p_ruin_12m : float
        P(the account cannot pay its operating costs within 12 months).
    p_daily_limit_day : float
        Share of path-days on which the daily loss limit stopped trading.
    drawdown_quantiles : dict
        Quantiles (p05 … p95) of the maximum drawdown (fraction of the peak).
    outcome_12m_quantiles : dict
        Quantiles of equity after 12 months minus the capital (USD) — the seed's "annual".
    mean_outcome_12m : float
        Mean of the same.
    """

    capital: float
    mix: dict[str, float]
    mean_net_monthly: float
    median_net_monthly: float
    p_net_ge_target: float
    p_net_ge_target_ci: tuple[float, float]
    share_months_ge_target: float
    p_kill_switch_12m: float
    p_ruin_12m: float
    p_daily_limit_day: float
    drawdown_quantiles: dict[str, float]
    outcome_12m_quantiles: dict[str, float]
    mean_outcome_12m: float


def _row(sim: EquitySimulation, mix: dict[str, float], target: float) -> SimulatedRow:
    net = sim.monthly_net
    first = net[:, 0]
    p, lo, hi, _ = success_probability(first, target)
    horizon = min(12, net.shape[1]) * sim.days_per_month
    e12 = sim.equity[:, horizon] - sim.capital
    ruin = (sim.ruined_day >= 0) & (sim.ruined_day < horizon)
    return SimulatedRow(
        capital=sim.capital,
        mix=mix,
        mean_net_monthly=float(first.mean()),
        median_net_monthly=float(np.median(first)),
        p_net_ge_target=p,
        p_net_ge_target_ci=(lo, hi),
        share_months_ge_target=float(np.mean(net >= target)),
        p_kill_switch_12m=float(sim.stopped_within(horizon).mean()),
        p_ruin_12m=float(ruin.mean()),
        p_daily_limit_day=float(sim.limit_days.sum() / (sim.n_paths * sim.n_days)),
        drawdown_quantiles=_quantiles(sim.max_drawdown),
        outcome_12m_quantiles=_quantiles(e12),
        mean_outcome_12m=float(e12.mean()),
    )


def risk_limits(spec: AuditSpec, costs: float | None = None) -> RiskLimits:
    """The file's risk framework as :class:`~models.streams.RiskLimits` (itemised costs default)."""
    return RiskLimits(
        daily_loss_limit=spec.risk.daily_loss_limit,
        kill_drawdown=spec.risk.kill_drawdown,
        monthly_costs=spec.itemised_costs if costs is None else costs,
        days_per_month=spec.simulation.days_per_month,
    )


def _simulate_mix(
    spec: AuditSpec,
    streams: dict[str, Stream],
    mix: dict[str, float],
    capital: float,
    *,
    paths: int,
    months: int,
    seed: int,
    regime: RegimeChain | None,
) -> EquitySimulation:
    names = list(mix)
    return simulate_equity(
        [streams[n] for n in names],
        [mix[n] for n in names],
        capital,
        risk_limits(spec),
        n_paths=paths,
        n_months=months,
        seed=seed,
        regime=regime if any(streams[n].regime_only for n in names) else None,
    )


def simulated_break_even(
    spec: AuditSpec,
    streams: dict[str, Stream],
    *,
    regime: RegimeChain | None,
    paths: int,
    seed: int,
    low: float = 100.0,
    high: float = 1e7,
    grid: int = 30,
    iterations: int = 14,
) -> tuple[float | None, str]:
    """Smallest capital whose mean simulated first-month net is ≥ 0 (seed's mix per capital).

    A geometric grid of ``grid`` capitals in [``low``, ``high``] finds the first sign change
    of the mean first-month net (same seed at every capital: common random numbers), then
    ``iterations`` bisection steps on the log scale narrow it (to within 0.1% of the capital at
    14 steps of a grid ratio of 1.37).

    Returns
    -------
    (float or None, str)
        The capital (USD) or None, and how it was found.
    """

    def mean_net(c: float) -> float:
        sim = _simulate_mix(
            spec, streams, mix_for(spec, c), c, paths=paths, months=1, seed=seed, regime=regime
        )
        return float(sim.monthly_net[:, 0].mean())

    caps = np.geomspace(low, high, grid)
    prev = None
    for c in caps:
        v = mean_net(float(c))
        if v >= 0:
            if prev is None:
                return float(c), f"mean first-month net ≥ 0 already at the lowest capital {c:,.0f}"
            lo, hi = prev, float(c)
            for _ in range(iterations):
                mid = math.sqrt(lo * hi)
                if mean_net(mid) >= 0:
                    hi = mid
                else:
                    lo = mid
            return hi, (
                f"mean first-month net (itemised costs, seed's mix for the capital, {paths} paths)"
                f" crosses 0 at {hi:,.0f} (geometric bisection, bracket {lo:,.2f}–{hi:,.2f})"
            )
        prev = float(c)
    return None, f"mean first-month net stays < 0 up to {high:,.0f}"


# ----------------------------------------------------------------------------- optimizer
def _standalone_months(
    spec: AuditSpec,
    streams: dict[str, Stream],
    capital: float,
    *,
    paths: int,
    seed: int,
    regime: RegimeChain | None,
) -> np.ndarray:
    """Monthly returns of each stream trading the whole capital alone, shape (P, M, K).

    Each stream has its own daily loss limit and kill switch and no operating costs; one seed
    for all (the same regime days).
    """
    lim = risk_limits(spec, costs=0.0)
    cols = []
    for s in streams.values():
        sim = simulate_equity(
            [s],
            [1.0],
            capital,
            lim,
            n_paths=paths,
            n_months=spec.simulation.months,
            seed=seed,
            regime=regime if s.regime_only else None,
        )
        cols.append(sim.monthly_return)
    return np.stack(cols, axis=-1)


@dataclass(frozen=True)
class OptimizedRow:
    """The allocation LP at one capital level and its re-simulation.

    Attributes
    ----------
    capital : float
        Account size (USD).
    allocation : AllocationResult
        LP result (in-sample on the stand-alone stream scenarios).
    simulated : SimulatedRow or None
        The optimal allocation re-simulated at account level (limits on the whole account,
        itemised costs); None when the LP has no solution.
    """

    capital: float
    allocation: AllocationResult
    simulated: SimulatedRow | None


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AuditResult:
    """Everything the audit computed (see the module docstring); :meth:`to_dict` is the JSON.

    Attributes
    ----------
    name, currency, target_monthly
        From the file.
    claimed : list of ClaimedRow
    simulated, simulated_no_edge : list of SimulatedRow
    break_even : dict
        ``claimed`` (USD), ``recomputed`` (USD or None), ``recomputed_no_edge``, notes.
    checks : list of Finding
    optimized : list of OptimizedRow
    assumptions : list of str
    regime : RegimeChain or None
    paths, seed : int
    seconds : float
    fan : dict
        Capital level → daily equity quantiles (``{"days", "q05", "q25", "q50", "q75", "q95"}``)
        of the stated and no-edge simulations, for the plots.
    first_month : dict
        Capital level → first-month nets (stated, no-edge) for the plots, arrays (P,).
    """

    name: str
    currency: str
    target_monthly: float
    claimed: list[ClaimedRow]
    simulated: list[SimulatedRow]
    simulated_no_edge: list[SimulatedRow]
    break_even: dict[str, Any]
    checks: list[Finding]
    optimized: list[OptimizedRow]
    assumptions: list[str]
    regime: RegimeChain | None
    paths: int
    seed: int
    seconds: float
    fan: dict[str, dict[float, dict[str, np.ndarray]]] = field(repr=False, default_factory=dict)
    first_month: dict[str, dict[float, np.ndarray]] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``thetaplan audit --json``."""

        def sim(rows: list[SimulatedRow]) -> list[dict]:
            return [{**asdict(r), "p_net_ge_target_ci": list(r.p_net_ge_target_ci)} for r in rows]

        return {
            "name": self.name,
            "currency": self.currency,
            "target_monthly": self.target_monthly,
            "paths": self.paths,
            "seed": self.seed,
            "claimed": [asdict(r) for r in self.claimed],
            "simulated": sim(self.simulated),
            "simulated_no_edge": sim(self.simulated_no_edge),
            "break_even": dict(self.break_even),
            "checks": [asdict(f) for f in self.checks],
            "optimized": [
                {
                    "capital": o.capital,
                    **o.allocation.to_dict(),
                    "simulated": None if o.simulated is None else sim([o.simulated])[0],
                }
                for o in self.optimized
            ],
            "regime": None if self.regime is None else asdict(self.regime),
            "assumptions": list(self.assumptions),
            "seconds": self.seconds,
        }


def _fan(sim: EquitySimulation) -> dict[str, np.ndarray]:
    q = np.quantile(sim.equity, QUANTILES, axis=0)
    out = {f"q{int(round(level * 100)):02d}": q[i] for i, level in enumerate(QUANTILES)}
    out["days"] = np.arange(sim.equity.shape[1])
    return out


def _assumptions(
    spec: AuditSpec, how: dict[str, str], regime: RegimeChain | None, paths: int, seed: int
) -> list[str]:
    sim = spec.simulation
    out = [
        "model: per-trade Bernoulli win/loss with fixed returns on the stake, fixed trades per "
        "day (Poisson where a stream says count: poisson), trades independent across trades, "
        "streams and days; sequential compounding on current equity inside the day; stream "
        "slots evenly spaced over the session",
        f"Monte Carlo: {paths} paths × {sim.months} months × {sim.days_per_month} trading days, "
        f"numpy default_rng(seed={seed})",
        "returns, stops and take-profits are fractions of the stake (capital committed to a "
        "trade), leverage included ('per leveraged trade'); stake = allocation × "
        "position_fraction × capital_efficiency of current equity; leverage sizes the exposure "
        "(costs, leverage cap) only",
        "a [low, high] range (momentum take-profit 8–12%, leverage 3–5×) is simulated at its "
        "midpoint",
        f"risk limits on the whole account: daily loss limit {spec.risk.daily_loss_limit} of the "
        f"day's opening equity (stop trading for the day); kill switch at a "
        f"{spec.risk.kill_drawdown} drawdown from the running peak marked after every trade "
        "(plan stopped: no trades, no further operating costs)",
        f"operating costs: itemised {spec.itemised_costs:,.2f} {spec.currency}/month "
        "(financial_projection_validator.py) paid at each month end from the account; the "
        f"claimed table uses the seed's rounded {spec.claimed.operating_costs:,.0f}",
        "an account that cannot pay its month's operating costs is ruined (equity 0, plan "
        "stopped); the payment is a withdrawal: drawdowns and the kill switch follow the "
        "time-weighted trading return",
        "simulated 'net monthly' = first month's change of equity after costs; 12-month outcome "
        "= equity after 12 months − capital (the seed's 'annual' compounds the first month 12 times)",
        "no-edge variant: every stream wins with probability loss/(win + loss), the rate at which "
        "a stop/target trade on a driftless price breaks even before costs (optional stopping)",
        "allocation LP: streams trade separate sub-accounts with their own limits; scenario "
        "months of each stream trading alone (common seed), returns additive across "
        "sub-accounts; drawdown cap as a CVaR surrogate over month ends",
    ]
    for name, text in how.items():
        out.append(f"{name}: {text}")
    for name, s in spec.streams.items():
        if s.assumed:
            vals = ", ".join(f"{a} = {getattr(s, a)}" for a in s.assumed)
            out.append(f"{name}: not stated by the seed, assumed: {vals}")
    if regime is not None:
        out.append(
            f"regime days (VIX > {regime.threshold:g}): two-state Markov chain fitted on "
            f"{regime.source}; P(enter) {regime.p_enter:.4f}/day, P(stay) {regime.p_stay:.4f}/day, "
            f"stationary share {regime.stationary:.1%}, mean spell {regime.mean_spell:.1f} days; "
            "paths start from the stationary law"
        )
    return out


def run_audit(
    spec: AuditSpec,
    *,
    paths: int | None = None,
    seed: int | None = None,
    optimize: bool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AuditResult:
    """Run the whole audit (claimed table, checks, Monte Carlo, break-even, allocation LP).

    Parameters
    ----------
    spec : AuditSpec
        Validated audit file.
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    optimize : bool, optional
        Override ``optimizer.enabled``.
    progress : callable, optional
        ``progress(step, done, total)`` before each step and once at the end.

    Returns
    -------
    AuditResult

    Raises
    ------
    DataError
        The regime history file cannot be read.
    """
    t0 = time.perf_counter()
    sim_spec = spec.simulation
    n_paths = int(paths or sim_spec.paths)
    rng_seed = int(sim_spec.seed if seed is None else seed)
    do_opt = spec.optimizer.enabled if optimize is None else optimize
    levels = list(spec.capital_levels)
    total = 2 * len(levels) + 2 + (len(levels) if do_opt else 0)
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        if progress is not None:
            progress(what, step, total)
        step += 1

    regime = None
    if spec.regime is not None:
        path = spec.resolve(spec.regime.history)
        regime = fit_regime(
            load_vix_history(path),
            spec.regime.threshold,
            start=None if spec.regime.start is None else spec.regime.start.isoformat(),
            end=None if spec.regime.end is None else spec.regime.end.isoformat(),
            source=path.name,
        )
    stated, how = derive_streams(spec, variant="stated")
    no_edge, _ = derive_streams(spec, variant="no_edge")
    checks = consistency_checks(spec, regime.stationary if regime is not None else None)
    claimed = claimed_table(spec)

    rows: dict[str, list[SimulatedRow]] = {"stated": [], "no_edge": []}
    fan: dict[str, dict[float, dict[str, np.ndarray]]] = {"stated": {}, "no_edge": {}}
    first: dict[str, dict[float, np.ndarray]] = {"stated": {}, "no_edge": {}}
    for variant, streams in (("stated", stated), ("no_edge", no_edge)):
        for cap in levels:
            tick(f"simulating {variant.replace('_', '-')} ${cap:,.0f}")
            mix = mix_for(spec, cap)
            sim = _simulate_mix(
                spec,
                streams,
                mix,
                cap,
                paths=n_paths,
                months=sim_spec.months,
                seed=rng_seed,
                regime=regime,
            )
            rows[variant].append(_row(sim, mix, spec.target_monthly))
            fan[variant][cap] = _fan(sim)
            first[variant][cap] = sim.monthly_net[:, 0].copy()

    be_paths = min(sim_spec.break_even_paths, n_paths)
    tick("break-even (stated)")
    be, be_note = simulated_break_even(spec, stated, regime=regime, paths=be_paths, seed=rng_seed)
    tick("break-even (no edge)")
    be0, be0_note = simulated_break_even(
        spec, no_edge, regime=regime, paths=be_paths, seed=rng_seed
    )
    break_even = {
        "claimed": claimed_break_even(spec),
        "recomputed": be,
        "recomputed_no_edge": be0,
        "claimed_note": "financial_projection_validator.py: (itemised costs + 0.2% × $100k) / "
        "monthly rate at 28% × 0.92",
        "recomputed_note": be_note,
        "recomputed_no_edge_note": be0_note,
    }

    optimized: list[OptimizedRow] = []
    if do_opt:
        opt = spec.optimizer
        names = list(stated)
        caps = [min(opt.max_allocation, 1.0)] * len(names)
        exposure = [stated[n].exposure for n in names]
        for cap in levels:
            tick(f"allocation LP ${cap:,.0f}")
            months = _standalone_months(
                spec, stated, cap, paths=min(opt.paths, n_paths), seed=rng_seed, regime=regime
            )
            for objective in opt.objectives:
                res = optimize_allocation(
                    months,
                    names,
                    exposure=exposure,
                    max_allocation=caps,
                    leverage_cap=spec.risk.leverage_cap,
                    cost_fraction=spec.itemised_costs / cap,
                    cvar_alpha=opt.cvar.alpha if opt.cvar else 0.95,
                    cvar_cap=opt.cvar.cap if opt.cvar else None,
                    drawdown_alpha=opt.drawdown.alpha if opt.drawdown else 0.9,
                    drawdown_cap=opt.drawdown.cap if opt.drawdown else None,
                    objective=objective,
                )
                resim = None
                if res.status == "optimal":
                    mix = {
                        n: float(a) for n, a in zip(names, res.allocation, strict=True) if a > 1e-9
                    }
                    if mix:
                        sim = _simulate_mix(
                            spec,
                            stated,
                            mix,
                            cap,
                            paths=n_paths,
                            months=sim_spec.months,
                            seed=rng_seed + 1,
                            regime=regime,
                        )
                        resim = _row(sim, mix, spec.target_monthly)
                optimized.append(OptimizedRow(cap, res, resim))
    if progress is not None:
        progress("done", total, total)
    return AuditResult(
        name=spec.name,
        currency=spec.currency,
        target_monthly=spec.target_monthly,
        claimed=claimed,
        simulated=rows["stated"],
        simulated_no_edge=rows["no_edge"],
        break_even=break_even,
        checks=checks,
        optimized=optimized,
        assumptions=_assumptions(spec, how, regime, n_paths, rng_seed),
        regime=regime,
        paths=n_paths,
        seed=rng_seed,
        seconds=time.perf_counter() - t0,
        fan=fan,
        first_month=first,
    )


# ----------------------------------------------------------------------------- plots
def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def monthly_distribution_figure(result: AuditResult, path: str | Path | None = None):
    """Distribution of the first month's net per capital level (stated and no-edge panels).

    Each panel shows one empirical CDF per capital level on a symmetric-log money axis, the
    target as a vertical line and the seed's claimed net as a marker on each curve's colour.
    Returns the matplotlib Figure (Agg canvas); saved to ``path`` when given.
    """
    from matplotlib.ticker import NullFormatter

    fig, axes = _figure(11, 4.5, ncols=2)
    claimed = {r.capital: r.net_monthly for r in result.claimed}
    for ax, variant, title in zip(
        axes,
        ("stated", "no_edge"),
        ("stated per-trade parameters", "no-edge win rates"),
        strict=True,
    ):
        for i, (cap, x) in enumerate(result.first_month.get(variant, {}).items()):
            xs = np.sort(x)
            ys = np.arange(1, xs.size + 1) / xs.size
            color = f"C{i}"
            ax.step(xs, ys, where="post", color=color, label=f"${cap:,.0f}")
            ax.plot([claimed[cap]], [0.5], marker="D", color=color, markersize=6)
        ax.axvline(result.target_monthly, color="k", linestyle="--", linewidth=1)
        ax.set_xscale("symlog", linthresh=1000)
        # 0 and the decades from 10^3 out (the default labels inside the linear band overlap)
        lo, hi = ax.get_xlim()
        ticks = [0.0] + [sg * 10.0**k for k in range(3, 9) for sg in (-1.0, 1.0)]
        ax.set_xticks(sorted(t for t in ticks if lo <= t <= hi))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo, hi)
        ax.set_xlabel(f"first-month net ({result.currency}, symlog)")
        ax.set_ylabel("P(net ≤ x)")
        ax.set_title(f"{title}\n(diamonds: claimed net; dashed: target)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def equity_fan_figure(
    result: AuditResult, capital: float | None = None, path: str | Path | None = None
):
    """Equity fan (5–95% and 25–75% bands, median) of one capital level, both variants.

    The seed's claimed path ``capital × (1 + monthly ROI)^(day / 21)`` is dashed. Log scale.
    Returns the Figure; saved to ``path`` when given.
    """
    levels = [r.capital for r in result.claimed]
    cap = levels[-1] if capital is None else capital
    roi = next(r.monthly_roi for r in result.claimed if r.capital == cap)
    fig, axes = _figure(11, 4.5, ncols=2)
    for ax, variant, title in zip(
        axes,
        ("stated", "no_edge"),
        ("stated per-trade parameters", "no-edge win rates"),
        strict=True,
    ):
        f = result.fan.get(variant, {}).get(cap)
        if f is None:
            continue
        days = f["days"]
        floor = 1.0
        ax.fill_between(
            days,
            np.maximum(f["q05"], floor),
            np.maximum(f["q95"], floor),
            alpha=0.2,
            color="C0",
            label="5–95%",
        )
        ax.fill_between(
            days,
            np.maximum(f["q25"], floor),
            np.maximum(f["q75"], floor),
            alpha=0.4,
            color="C0",
            label="25–75%",
        )
        ax.plot(days, np.maximum(f["q50"], floor), color="C0", label="median")
        dpm = 21
        if roi > -1:
            ax.plot(days, cap * (1 + roi) ** (days / dpm), "k--", linewidth=1, label="claimed")
        ax.set_yscale("log")
        ax.set_xlabel("trading day")
        ax.set_ylabel(f"equity ({result.currency}, log)")
        ax.set_title(f"${cap:,.0f}: {title}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def write_audit_plots(result: AuditResult, folder: Path) -> list[Path]:
    """Write ``audit_monthly_net.png`` and ``audit_equity_fan.png`` into ``folder``.

    Raises
    ------
    SpecError
        ``--plot-dir: cannot write …`` when the folder or a file cannot be written.
    """
    try:
        folder.mkdir(exist_ok=True)
        a, b = folder / MONTHLY_PNG, folder / FAN_PNG
        monthly_distribution_figure(result, a)
        equity_fan_figure(result, path=b)
    except OSError as exc:
        raise SpecError(f"--plot-dir: cannot write {folder} ({exc.strerror or exc})") from None
    return [a, b]
