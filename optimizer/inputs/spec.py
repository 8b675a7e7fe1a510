"""Scenario file schema (pydantic, unknown keys rejected) and loader.

A scenario YAML maps one-to-one onto :class:`Scenario`. Paths inside it resolve relative to the
file. ``--set dotted.path=value`` overrides are applied to the raw mapping before validation, with
``value`` parsed as YAML (``--set account.net_liq=80000``, ``--set objective=max_income``).
Every validation failure becomes one :class:`~models.errors.SpecError` line naming the field path.
"""

from __future__ import annotations

import math
import re
from datetime import date as Date
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.errors import ModelError, SpecError
from models.instruments import get_instrument
from models.legs import Right
from models.strategies import TEMPLATES, template, template_params

__all__ = [
    "Account",
    "AllocationSpec",
    "BuyingPowerSpec",
    "ChainSpec",
    "DerivedSpec",
    "FixedCandidateSpec",
    "GreeksSpec",
    "HeldLegSpec",
    "HeldPositionSpec",
    "IncomeSpec",
    "MarginSpec",
    "MarketSpec",
    "ObjectiveKind",
    "PositionsSpec",
    "Scenario",
    "SolverSpec",
    "StrategySpec",
    "SyntheticSpec",
    "TargetSpec",
    "TrackingSpec",
    "load_scenario",
    "apply_overrides",
    "scenario_to_yaml",
    "read_yaml_mapping",
]

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


class Account(_Strict):
    """The trading account.

    ``net_liq`` is the net liquidation value in ``currency``; ``fx`` gives the value of one unit of
    each other currency in the account currency (``USD: 0.7299`` = GBPUSD 1.37); ``phase`` is the
    Tom King account phase (1–4) or ``auto`` (from ``net_liq`` via the phase table, in GBP).
    """

    net_liq: PosFloat
    currency: str = Field(min_length=3, max_length=3)
    fx: dict[str, PosFloat] = Field(default_factory=dict)
    phase: int | Literal["auto"] = "auto"

    @field_validator("phase")
    @classmethod
    def _phase(cls, v):
        if isinstance(v, int) and not 1 <= v <= 4:
            raise ValueError("phase must be 1, 2, 3, 4 or 'auto'")
        return v


class ChainSpec(_Strict):
    """A real option chain file (``format``: auto, cboe, yfinance, tidy)."""

    path: Path
    format: Literal["auto", "cboe", "yfinance", "tidy"] = "auto"
    spot: PosFloat | None = None


class DerivedSpec(_Strict):
    """A product priced off another product's chain, its prices and strikes scaled by ``scale``.

    ``XSP: {from: SPX, scale: 0.1}``; ``ES: {from: SPX}`` prices ES options as Black-76 on the SPX
    forward with the SPX smile (the futures basis is ignored).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    source: str = Field(alias="from")
    scale: PosFloat = 1.0
    strike_increment: PosFloat | None = None


class SyntheticSpec(_Strict):
    """A synthetic surface for a product without a chain (stated assumptions, not market data).

    ``iv = atm_iv * (1 + skew * x + curvature * x**2)``, ``x = ln(K/F) / (atm_iv * sqrt(t))``.
    """

    price: PosFloat
    # annualized vol as a fraction: 0.32 = 32%; above 500% it is a typo, not a market
    atm_iv: Annotated[float, Field(gt=0, le=5.0, allow_inf_nan=False)]
    skew: FiniteFloat = 0.0
    curvature: FiniteFloat = 0.0
    # continuously compounded, per year, as a fraction (0.036 = 3.6%)
    rate: Annotated[float, Field(ge=-0.5, le=1.0, allow_inf_nan=False)] = 0.0
    carry: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] = 0.0
    strike_increment: PosFloat | None = None
    source: str = ""


class HistorySpec(_Strict):
    """Daily VIX and S&P 500 histories (CSV, gzip allowed) used to measure the vol ratio."""

    vix: Path
    index: Path


class MarketSpec(_Strict):
    """Market state at valuation: VIX level, chains, derived and synthetic products, history.

    ``vix``: with chains, optional — the Cboe close of the chains' quote date from
    ``history.vix``; a stated value must equal it (:func:`optimizer.inputs.market.market_vix`) unless
    ``vix_rule`` says how the chains' smiles move to it: ``sticky_moneyness`` (every IV + the VIX
    change × the square-root-of-time term factor, at fixed log-moneyness) or ``proportional``
    (every IV × the VIX ratio) — :class:`models.surfaces.VixShiftedSurface`. Studies that sweep
    ``market.vix`` set it.
    """

    vix: PosFloat | None = None
    vix_rule: Literal["none", "sticky_moneyness", "proportional"] = "none"
    chains: dict[str, ChainSpec] = Field(default_factory=dict)
    derived: dict[str, DerivedSpec] = Field(default_factory=dict)
    synthetic: dict[str, SyntheticSpec] = Field(default_factory=dict)
    history: HistorySpec | None = None

    @model_validator(mode="after")
    def _sources(self):
        for sym, d in self.derived.items():
            if d.source not in self.chains:
                raise ValueError(f"derived.{sym}.from: {d.source!r} is not one of market.chains")
        dup = (set(self.chains) & set(self.derived)) | (set(self.chains) & set(self.synthetic))
        dup |= set(self.derived) & set(self.synthetic)
        if dup:
            raise ValueError(f"product(s) defined twice: {', '.join(sorted(dup))}")
        return self


class ChanceSpec(_Strict):
    """How ``P(monthly income ≥ target) ≥ p`` enters the model.

    ``saa``: sample average approximation with one binary per month sample (Luedtke & Ahmed 2008);
    ``cvar``: the conservative CVaR surrogate (an LP). The samples are the first ``n_months``
    simulated months of the income model (``income.paths`` paths of 12 months each; fewer if the
    simulation has fewer).
    """

    method: Literal["saa", "cvar"] = "saa"
    n_months: Annotated[int, Field(ge=50, le=20000)] = 1000


class TargetSpec(_Strict):
    """Monthly income target (account currency) and, optionally, the required success probability."""

    monthly_income: PosFloat
    success_probability: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    chance: ChanceSpec = ChanceSpec()


class IncomeSpec(_Strict):
    """The income model (:mod:`models.managed` on paths of :mod:`models.physical`).

    ``model``: ``managed`` — managed trades (the strategies' management rules; hold to expiry is
    the rule ``management: {}``) on shared daily paths of the physical measure, months marked to
    market, net of costs: the one model behind the objective, the chance constraint,
    P(month >= target), win rates and monthly risk. ``theta`` — seed 1's convention (theta per
    day x ``days_per_month``), kept only to reproduce the seed's claims.

    ``measure``: ``fhs`` — filtered historical simulation of the S&P 500 and VIX history
    (``history_start`` .. ``history_end``, default 1990-01-02 .. the end of the S&P file;
    stationary bootstrap with mean block ``mean_block`` trading days); ``lognormal`` — the
    light-tailed alternative (constant vol = VIX x ``vol_ratio``).

    ``paths`` x 12 months are simulated in sample (``seed``); ``intraday_steps`` steps per 0DTE
    trade.
    """

    model: Literal["managed", "theta"] = "managed"
    measure: Literal["fhs", "lognormal"] = "fhs"
    history_start: datetime | None = None
    history_end: datetime | None = None
    mean_block: Annotated[float, Field(ge=1, le=252, allow_inf_nan=False)] = 21.0
    paths: Annotated[int, Field(ge=5, le=20000)] = 250
    seed: int = 5
    intraday_steps: Annotated[int, Field(ge=1, le=390)] = 11
    days_per_month: PosFloat = 21.0
    vol_ratio: PosFloat | Literal["measured"] = "measured"

    @field_validator("model", mode="before")
    @classmethod
    def _no_expiry(cls, v):
        if v == "expiry":
            raise ValueError(
                "'expiry' is no longer a separate model: hold to expiry is a management rule "
                "(strategies.<name>.management: {}) of the managed model"
            )
        return v


class CostsSpec(_Strict):
    """Trading costs (:mod:`models.costs`, fees in ``models/data/fees.csv``) and liquidity filters.

    Fractions of the quoted half-spread paid: ``spread_fraction`` at entry (0 = mid, 1 = the
    natural price), ``exit_fraction`` at DTE/time exits, ``stop_fraction`` at stops (plus
    ``stop_slippage_ticks`` ticks per leg); profit targets fill at the limit. ``fx_cost``: fraction
    of a trade's absolute P&L lost converting it into the account currency. Candidates with a leg
    whose ``(ask - bid) / mid`` exceeds ``max_rel_spread`` or whose open interest is below
    ``min_open_interest`` are excluded (where the chain has them). ``enabled: false`` = free fills.
    """

    enabled: bool = True
    spread_fraction: Fraction = 0.5
    exit_fraction: Fraction = 0.5
    stop_fraction: Fraction = 1.0
    stop_slippage_ticks: NonNegFloat = 1.0
    fx_cost: Fraction = 0.0002
    max_rel_spread: PosFloat | None = None
    min_open_interest: NonNegFloat | None = None


class MarginSpec(_Strict):
    """Buying-power model of a strategy.

    ``reg_t``: Cboe/FINRA strategy-based. ``span``: SPAN-like 16-scenario risk array for futures
    options (``models.span``, parameters from ``models/data/span_parameters.csv``).
    ``portfolio``: TIMS-style worst loss over 10 moves, standalone per unit
    (``models.portfolio_margin``). ``fixed``: ``per_unit`` (per symbol, in ``currency``) or
    ``pct_of_nlv`` per unit.
    """

    model: Literal["reg_t", "span", "portfolio", "fixed"] = "reg_t"
    per_unit: dict[str, PosFloat] = Field(default_factory=dict)
    pct_of_nlv: Fraction | None = None
    currency: str | None = None

    @model_validator(mode="after")
    def _fixed(self):
        if self.model == "fixed" and not self.per_unit and self.pct_of_nlv is None:
            raise ValueError("margin model 'fixed' needs per_unit or pct_of_nlv")
        return self


class ManagementSpec(_Strict):
    """Management rules applied by the income model (:class:`models.strategies.Management`).

    ``target_legs``: option legs (0-based) the profit target closes, the others stay open
    (LT112: ``[2]``, the naked puts); ``delta_exit``: close all when a short leg's |delta|
    reaches it. The defence rules (domain.md §3–4, off when absent; :mod:`models.managed`):
    ``roll_untested_delta`` (strangles 0.20: roll the untested side once),
    ``close_tested_delta`` (0.25: close the tested leg), ``vix_exit`` (30: close all and open
    nothing while the VIX closes above it), ``entry_iv_rank`` (0.30: skip entries below this
    trailing-year IV percentile), ``close_distance`` (LT112: close all when the spot is within
    this fraction of the spot above the naked put strike) and ``directional_move`` (0DTE 0.005:
    a call or put spread instead of the condor after a larger move from the open to the entry).
    The delta levels must rise: roll <= close tested <= delta_exit.
    """

    profit_target: PosFloat | None = None
    stop_loss: PosFloat | None = None
    exit_dte: NonNegFloat | None = None
    time_exit: str | None = None
    target_legs: list[Annotated[int, Field(ge=0)]] | None = None
    delta_exit: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    roll_untested_delta: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    close_tested_delta: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    vix_exit: PosFloat | None = None
    entry_iv_rank: Fraction | None = None
    close_distance: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    directional_move: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _delta_levels(self):
        names = ("roll_untested_delta", "close_tested_delta", "delta_exit")
        set_ = [(n, getattr(self, n)) for n in names if getattr(self, n) is not None]
        for (a, va), (b, vb) in zip(set_, set_[1:], strict=False):
            if va > vb:
                raise ValueError(f"{a} ({va:g}) must not exceed {b} ({vb:g})")
        if self.target_legs is not None and (
            self.roll_untested_delta is not None or self.close_tested_delta is not None
        ):
            raise ValueError(
                "roll_untested_delta / close_tested_delta cannot be combined with target_legs"
            )
        return self


class ExpirySpec(_Strict):
    """Exactly one of ``dte``, ``date``, ``intraday_hours``.

    ``variance_basis`` (intraday expiries only) says how a 0DTE trade's implied variance is read
    off the chain's first listed expiry (:mod:`models.variance_time`): ``session`` (default)
    removes the overnight and weekend variance with the variance-time model measured from the
    S&P 500 history, so the implied session variance is on the footing of the realized session
    move the income model uses; ``close_to_close`` attributes the first expiry's whole variance
    to its sessions (the convention before issue 16, kept for comparison). The shares are
    measured from ``market.history`` when given, else the shipped measurement
    (``models/data/variance_time.csv``); under the managed model's lognormal measure (no
    overnight gaps) the two bases coincide.
    """

    dte: PosFloat | None = None
    date: datetime | None = None
    intraday_hours: Annotated[float, Field(gt=0, le=6.5)] | None = None
    variance_basis: Literal["session", "close_to_close"] = "session"

    @model_validator(mode="after")
    def _one(self):
        if sum(x is not None for x in (self.dte, self.date, self.intraday_hours)) != 1:
            raise ValueError("give exactly one of dte, date, intraday_hours")
        return self


class LegSpec(_Strict):
    """A leg of a ``custom`` structure."""

    right: Literal["C", "P", "U"]
    quantity: int
    rule: Literal["delta", "pct_otm", "points_from", "expected_move"] | None = None
    param: str | None = None
    ref: int | None = None
    sign: Literal[-1, 1] = -1

    @model_validator(mode="after")
    def _rule(self):
        if self.quantity == 0:
            raise ValueError("quantity must be non-zero")
        if self.right != "U" and (self.rule is None or self.param is None):
            raise ValueError("an option leg needs rule and param")
        if self.rule == "points_from" and self.ref is None:
            raise ValueError("rule points_from needs ref (index of an earlier leg)")
        return self


class UnderlyingSpec(_Strict):
    """Per-underlying settings of a strategy: the parameter grid and an optional margin override."""

    grid: dict[str, list[FiniteFloat]]
    margin: MarginSpec | None = None

    @field_validator("grid")
    @classmethod
    def _nonempty(cls, v):
        for k, vals in v.items():
            if not vals:
                raise ValueError(f"{k}: needs at least one value")
        return v


class FixedCandidateSpec(_Strict):
    """A candidate with stated per-unit economics (seed 1's calculator), no option chain.

    Expected profit per entry = ``credit * win_rate - loss_multiple * credit * (1 - win_rate)``
    (``monthlyIncomeCalculator.js``, domain.md §2e); money in the account currency.
    """

    underlying: str
    credit: PosFloat
    win_rate: Fraction
    loss_multiple: NonNegFloat
    bp_per_unit: PosFloat
    theta_per_day: FiniteFloat = 0.0


class StrategySpec(_Strict):
    """One strategy of the plan.

    ``claimed_win_rate`` records a planning document's claim (seed 1: 88/73/72%) so the managed
    model's win rate can be shown beside it; it is never an input to any model.
    """

    template: str
    weight: Fraction
    entries_per_month: PosFloat
    expiry: ExpirySpec | None = None
    underlyings: dict[str, UnderlyingSpec] = Field(default_factory=dict)
    legs: list[LegSpec] | None = None
    fixed: list[FixedCandidateSpec] | None = None
    margin: MarginSpec = MarginSpec()
    management: ManagementSpec = ManagementSpec()
    max_positions: int | Literal["phase"] | None = "phase"
    limits_key: str | None = None
    claimed_win_rate: Fraction | None = None
    min_credit: FiniteFloat | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.template not in TEMPLATES and self.template not in ("custom", "fixed"):
            known = ", ".join(sorted([*TEMPLATES, "custom", "fixed"]))
            raise ValueError(f"template: unknown {self.template!r}; known: {known}")
        if self.template in TEMPLATES:
            need = set(template_params(TEMPLATES[self.template]))
            for sym, u in self.underlyings.items():
                missing, extra = need - set(u.grid), set(u.grid) - need
                if missing or extra:
                    raise ValueError(
                        f"underlyings.{sym}.grid: template {self.template} needs exactly "
                        f"{', '.join(sorted(need))}"
                        + (f" (missing {', '.join(sorted(missing))})" if missing else "")
                        + (f" (unknown {', '.join(sorted(extra))})" if extra else "")
                    )
        if self.template == "fixed":
            if not self.fixed:
                raise ValueError("template 'fixed' needs a 'fixed' list of candidates")
        else:
            if self.expiry is None:
                raise ValueError("needs an expiry rule")
            if not self.underlyings:
                raise ValueError("needs at least one entry in underlyings")
        if self.template == "custom" and not self.legs:
            raise ValueError("template 'custom' needs legs")
        if isinstance(self.max_positions, int) and self.max_positions < 0:
            raise ValueError("max_positions must be >= 0")
        return self


class HeldLegSpec(_Strict):
    """One leg of a held position, per unit: ``quantity`` signed (short < 0)."""

    right: Literal["C", "P", "U"]
    quantity: int
    strike: PosFloat | None = None
    expiry: Date | None = None

    @model_validator(mode="after")
    def _leg(self):
        if self.quantity == 0:
            raise ValueError("quantity must be non-zero")
        if self.right != "U" and (self.strike is None or self.expiry is None):
            raise ValueError("an option leg needs strike and expiry")
        return self


class HeldPositionSpec(_Strict):
    """An open position the book already holds (``thetaplan track`` writes these).

    A held position is priced on the scenario's market like a candidate of its strategy and its
    count is fixed from below: the solve keeps at least ``contracts`` of it and may add more. Its
    buying power, Greeks, risk and income count against every cap, so a re-plan fits new trades
    into what is left. ``id`` is the ledger's trade id (reporting only).
    """

    strategy: str
    underlying: str
    contracts: Annotated[int, Field(gt=0)]
    legs: list[HeldLegSpec]
    id: str | None = None

    @model_validator(mode="after")
    def _legs(self):
        if not self.legs:
            raise ValueError("legs: at least one leg is needed")
        expiries = {leg.expiry for leg in self.legs if leg.right != "U"}
        if len(expiries) > 1:
            raise ValueError("legs: every option leg of a held position must share one expiry")
        return self


class TrackingSpec(_Strict):
    """Alert thresholds of ``thetaplan track`` (month-to-date progress).

    ``behind_threshold``: alert when month-to-date income is below the pro-rata target by more
    than this fraction of the pro-rata target. ``min_days_for_shares``: the strategies' shares of
    month-to-date income are checked against the allocation band from this many elapsed trading
    days on (early in the month one trade moves the shares by tens of points), and only when
    month-to-date income is at least ``min_share_basis`` × the pro-rata target (shares of a
    total near zero are noise: 925 of a 94 total is 981%).
    ``stale_market_days``: say so when the scenario's valuation is older than this many calendar
    days at the as-of date (the re-plan prices on the scenario's market).
    """

    behind_threshold: Fraction = 0.25
    min_days_for_shares: Annotated[int, Field(ge=0)] = 5
    min_share_basis: NonNegFloat = 0.5
    stale_market_days: Annotated[int, Field(ge=0)] = 3


class AllocationSpec(_Strict):
    """Strategy income allocation: each share within ``weight ± tolerance`` (absolute).

    ``renormalize``: how weights of strategies the phase does not allow (max positions 0) are
    handled — ``proportional`` rescales the allowed strategies' weights to sum to 1, ``none`` keeps
    the stated weights (the disallowed strategy's lower bound then forces zero income).

    ``mode``: ``hard`` — the shares are walls (a book outside the band is infeasible);
    ``soft`` — a goal: the band's rows get a non-negative deviation variable (account currency
    of the basis) and the objective pays ``penalty`` objective units per unit of deviation, so
    one strategy that cannot be held never forces an empty book.

    ``vix_tilts``: a rule of ``models/data/allocation_tilts.csv`` (``tk``: seed 1's
    ``StrategyIncomeAllocator`` tilts, domain.md §2e) applied to the weights at ``market.vix``
    before anything else (strategies are matched by ``limits_key`` or their name); ``None``
    (default) keeps the stated weights.
    """

    enabled: bool = True
    basis: Literal["income", "theta"] = "income"
    tolerance: Fraction = 0.05
    renormalize: Literal["proportional", "none"] = "proportional"
    mode: Literal["hard", "soft"] = "hard"
    penalty: NonNegFloat = 0.5
    vix_tilts: str | None = None


class BuyingPowerSpec(_Strict):
    """Buying-power caps: total as a fraction of NLV (``auto`` = phase/VIX table), per strategy.

    ``reserve``: fraction of the cap kept unused; ``table`` = the TK-PDF emergency reserve of
    ``models/data/risk_parameters.yaml`` (20%: available BP = NLV × multiplier × 0.8) when the
    cap comes from the phase/VIX tables (``max_fraction: auto``), none for a stated cap.
    """

    max_fraction: Fraction | Literal["auto"] = "auto"
    vix_bound: Literal["low", "mid", "high"] = "mid"
    reserve: Fraction | Literal["table"] = "table"
    strategy_caps: dict[str, Fraction] = Field(default_factory=dict)


class LeverageSpec(_Strict):
    """Gross short-notional cap as a multiple of NLV."""

    max_notional_multiple: PosFloat | None = None


class GreeksSpec(_Strict):
    """Portfolio Greek bounds, account currency: cash delta, vega per vol point, theta per day."""

    cash_delta: tuple[FiniteFloat, FiniteFloat] | None = None
    vega: tuple[FiniteFloat, FiniteFloat] | None = None
    theta: tuple[FiniteFloat, FiniteFloat] | None = None


class CorrelationSpec(_Strict):
    """Correlation-group limits (domain.md §6).

    ``limit``: ``phase`` = each group's own TK-PDF limit (``correlation_groups.csv``: A1 2,
    C2 1 …) capped by the phase limit (2 below £75k, 3 from £75k); an integer replaces the phase
    limit (still capped by each group's own limit).

    ``risk`` says how the TK "group risk ≤ 15% of the account" is read (``risk_cap`` × NLV):

    * ``cash_delta`` — |Σ delta × underlying × multiplier| of the group (the TK-PDF formula,
      domain.md §6: "Group risk = Σ(delta × underlying × multiplier) ≤ 15% of the account");
    * ``bp`` — buying-power reduction of the group (the v17 reading of per-position BP %:
      "BP per position, % of account", domain.md §5);
    * ``max_loss`` — sum of the structures' maximum loss at expiry (the "≤ 2% risk per trade"
      reading extended to a group). A structure with unlimited maximum loss (a naked strangle)
      makes its group's risk unbounded, so under this reading it cannot be held in a group with a
      cap (its count is fixed to 0); structures of ``exclude_strategies`` and of other groups do
      not count.

    Each group's risk sums only the group's own candidates of the strategies that count toward
    groups.
    """

    enabled: bool = True
    limit: int | Literal["phase"] = "phase"
    exclude_strategies: list[str] = Field(default_factory=list)
    risk: Literal["cash_delta", "bp", "max_loss"] = "cash_delta"
    risk_cap: Fraction | None = Field(
        default=0.15, validation_alias=AliasChoices("risk_cap", "delta_notional_cap")
    )


class PositionsSpec(_Strict):
    """Position-count limits and which strategies the phase product list applies to.

    ``count`` says what the max-positions, total and correlation-group limits count:

    * ``units`` (default) — full-size-equivalent units of the structure: one ES or SPX unit
      counts 1, one MES or XSP unit 0.1, micro futures by their ratio
      (``models/data/position_units.csv``); a phase limit stated in another contract (the v17
      phase-2 LT112 limit of 4 *MES*) is converted (``max_positions.csv``
      ``count_unit_by_phase``): 4 MES units = 0.4 full-size units, so four MES LT112 or no ES
      LT112;
    * ``contracts`` — each contract of a structure counts 1 whatever its size (one MES 1-1-2 =
      one ES 1-1-2), and every limit is the table's number as stated (phase-2 LT112: 4
      contracts, MES or ES);
    * ``structures`` — distinct candidates held, each with any number of contracts (binary
      y_k with n_k ≤ U_k y_k), optionally capped by ``max_contracts_per_position``; every limit
      is the table's number as stated.

    ``max_total``: cap on all positions together (``phase`` = ``phases.csv``
    ``max_total_positions``, 3/5/7/10; ``null`` = none). ``one_per_expiry``: at most one
    structure per strategy, correlation group and expiry (TK-PDF: "never put several
    positions on the same expiry"). ``max_loss_per_position``: each position's maximum loss at
    expiry ≤ this fraction of NLV ("≤ 2% risk per trade"), for ``max_loss_strategies`` (default
    every strategy); a structure with unlimited maximum loss (a naked strangle) never meets a
    finite cap, so under it such a structure cannot be held (its count is fixed to 0).

    ``scale_with_nlv`` (default ``true``): how the count caps move with the account in the
    minimum-NLV search, the income-vs-NLV curves and the scenario's own solve — phases by NLV
    as ``phases.csv`` says, and above the phase-4 floor (GBP 75,000) every count cap the tables
    give (``max_positions``, ``max_total``, correlation-group ``limit`` set to ``phase``) × NLV /
    GBP 75,000 (thetaplan's stated assumption; :func:`optimizer.inputs.limits.count_scale`,
    :mod:`optimizer.inputs.nlv_rule`); limits stated as numbers stay as stated. ``false`` keeps the
    phase and the count caps of the scenario's own NLV.
    """

    count: Literal["units", "contracts", "structures"] = "units"
    scale_with_nlv: bool = True
    max_contracts_per_position: Annotated[int, Field(ge=1)] | None = None
    correlation_groups: CorrelationSpec = CorrelationSpec()
    products_by_phase: list[str] = Field(default_factory=list)
    max_total: int | Literal["phase"] | None = "phase"
    one_per_expiry: bool = True
    max_loss_per_position: Fraction | None = None
    max_loss_strategies: list[str] | None = None


#: Default branch-and-bound node budget per MILP (``solver.node_limit``).
DEFAULT_NODE_LIMIT = 2_000


class SolverSpec(_Strict):
    """Backend and limits (always reported).

    ``node_limit``: the branch-and-bound node budget of every MILP of the scenario (HiGHS
    ``mip_max_nodes``, CBC ``-maxNodes``): deterministic, so the same scenario gives the same
    verdict on any machine and under any load; a MILP it stops is reported with its gap.
    ``time_limit`` (wall-clock seconds per solver call) is only the outer safety net: a solve
    it stops is reported as stopped by the wall clock, whose result depends on the machine.

    ``threads``: HiGHS threads of every solve, 1 by default. HiGHS' MILP search with worker
    threads explores a different tree (on the 1,004-candidate scenario's headline MILP, a
    300-node budget ends after 398 nodes with HiGHS' automatic choice on 2 cores and after 300
    with one thread, at a different bound), so with HiGHS' automatic choice a result stopped
    by the node budget would depend on the machine's core count; one thread also spends no CPU
    on idle workers (phase 4: ~1 CPU-s less, same JSON).

    ``relaxation_weights``: multiplier per cap family of the default weight of the joint minimal
    relaxation (each cap costs its increase in % of its bound; a weight of 2 makes a family's
    increases twice as expensive).
    """

    backend: Literal["cvxpy", "pulp", "highs"] = "cvxpy"
    time_limit: PosFloat = 60.0
    node_limit: Annotated[int, Field(ge=0)] | None = DEFAULT_NODE_LIMIT
    mip_gap: Annotated[float, Field(ge=0, le=1)] = 1e-4
    threads: Annotated[int, Field(ge=1, le=64)] | None = 1
    relaxation_weights: dict[
        Literal["buying_power", "positions", "allocation", "tail_risk", "leverage"], PosFloat
    ] = Field(default_factory=dict)

    def options(self):
        """The :class:`~optimizer.solve.status.SolverOptions` of every solve of the scenario."""
        from optimizer.solve.status import SolverOptions

        return SolverOptions(
            time_limit=self.time_limit,
            mip_rel_gap=self.mip_gap,
            node_limit=self.node_limit,
            threads=self.threads,
        )


class UnderlyingRiskSpec(_Strict):
    """How an underlying moves with the S&P 500 (stated), or its own history (``history: wti``).

    With ``history: wti`` (CL, MCL) the income model measures beta and correlation to the S&P 500
    from the shipped WTI spot history and draws the residual moves from WTI's own standardized
    daily returns; ``vol`` is still the residual's size.

    ``vol_model`` (income model only): ``garch`` gives the underlying its own GARCH(1,1)-t
    conditional vol from ``models/data/futures_vol.csv`` (:mod:`models.futures_vol`), started at
    today's ATM IV, with IV = implied/realized ratio x its conditional vol (``iv_beta`` and
    ``vol`` are then unused; ``corr`` links its innovation to the S&P 500's move of the same
    historical day, except with ``history: wti``, where WTI's own residual of that day is used);
    ``constant`` keeps the constant residual vol and ``iv_beta`` x the VIX change (the model
    before issue 16); ``auto`` (default) is ``garch`` when the csv has the product, else
    ``constant``.
    """

    beta: FiniteFloat = 1.0
    corr: Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)] = 1.0
    vol: PosFloat | None = None
    iv_beta: FiniteFloat = 1.0
    history: Literal["wti"] | None = None
    vol_model: Literal["auto", "garch", "constant"] = "auto"

    @model_validator(mode="after")
    def _vol(self):
        if self.corr < 1 and self.vol is None:
            raise ValueError("vol: needed when corr < 1 (the residual move's size)")
        return self


class HistoricalSpec(_Strict):
    """Overlapping ``horizon``-trading-day windows of the real S&P 500 and VIX history."""

    horizon: Annotated[int, Field(ge=1, le=63)] = 1
    start: datetime | None = None
    end: datetime | None = None


class MonteCarloSpec(_Strict):
    """Correlated Student-t (``dof``) or Gaussian (``dof: null``) moves; IV linked to returns."""

    n: Annotated[int, Field(ge=100, le=200000)] = 5000
    seed: int = 7
    dof: Annotated[float, Field(gt=2, allow_inf_nan=False)] | None = 4.0
    horizon_days: PosFloat = 1.0
    index_vol: PosFloat | None = None


class CvarCapSpec(_Strict):
    """CVaR at confidence ``alpha`` over the scenario horizon ≤ ``cap`` × NLV."""

    alpha: Annotated[float, Field(gt=0, lt=1)]
    cap: PosFloat


class VarCapSpec(_Strict):
    """Exact VaR (binaries, small scenario sets) at ``alpha`` ≤ ``cap`` × NLV."""

    alpha: Annotated[float, Field(gt=0, lt=1)]
    cap: PosFloat


class StressSpec(_Strict):
    """Named stress days (``all`` or a list from models/data/stress_days.csv), cap × NLV, grid."""

    names: list[str] | Literal["all"] = "all"
    cap: PosFloat | None = None
    grid: list[tuple[FiniteFloat, FiniteFloat]] = Field(default_factory=list)


class OutOfSampleSpec(_Strict):
    """Fresh, larger scenario and month sets for re-evaluating the chosen book."""

    n: Annotated[int, Field(ge=1000, le=200000)] = 20000
    seed: int = 1234


class RiskSpec(_Strict):
    """Market scenarios, tail-risk caps and stresses; monthly caps on the income model's months.

    ``cvar``/``var``/``stress``: caps on the 1-day market-scenario losses (0DTE positions repriced
    over their own session only). ``monthly_cvar``: CVaR of a month's P&L (income model months)
    ≤ cap × NLV. ``max_drawdown``: CVaR at ``alpha`` of the 12-month maximum drawdown (at month
    ends) over the simulated paths ≤ cap × NLV.
    """

    scenarios: Literal["historical", "monte_carlo"] = "historical"
    historical: HistoricalSpec = HistoricalSpec()
    monte_carlo: MonteCarloSpec = MonteCarloSpec()
    underlyings: dict[str, UnderlyingRiskSpec] = Field(default_factory=dict)
    cvar: list[CvarCapSpec] = Field(default_factory=list)
    var: list[VarCapSpec] = Field(default_factory=list)
    stress: StressSpec = StressSpec()
    report_alphas: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.95, 0.99]
    )
    monthly_cvar: list[CvarCapSpec] = Field(default_factory=list)
    max_drawdown: CvarCapSpec | None = None
    out_of_sample: OutOfSampleSpec = OutOfSampleSpec()


class Scenario(_Strict):
    """A sizing scenario: account, market, strategies, caps, objective and solver settings."""

    name: str
    description: str = ""
    valuation_time: datetime
    account: Account
    market: MarketSpec
    target: TargetSpec
    income: IncomeSpec = IncomeSpec()
    costs: CostsSpec = CostsSpec()
    objective: ObjectiveKind = ObjectiveKind.MAX_THETA
    strategies: dict[str, StrategySpec]
    allocation: AllocationSpec = AllocationSpec()
    buying_power: BuyingPowerSpec = BuyingPowerSpec()
    leverage: LeverageSpec = LeverageSpec()
    greeks: GreeksSpec = GreeksSpec()
    positions: PositionsSpec = PositionsSpec()
    solver: SolverSpec = SolverSpec()
    risk: RiskSpec | None = None
    held: list[HeldPositionSpec] = Field(default_factory=list)
    tracking: TrackingSpec = TrackingSpec()
    #: Settings of the cap families that own a section (one module each in
    #: :mod:`optimizer.formulation.families`, e.g. ``caps: {vega: {max_fraction: 0.01}}``);
    #: validated by the family's own model when the scenario is prepared.
    caps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _cross(self):
        if not self.strategies:
            raise ValueError("strategies: at least one strategy is needed")
        total = sum(s.weight for s in self.strategies.values())
        if self.allocation.enabled and not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"strategies: weights sum to {total:.4f}, must sum to 1")
        known = set(self.market.chains) | set(self.market.derived) | set(self.market.synthetic)
        for section in ("chains", "derived", "synthetic"):
            for sym in getattr(self.market, section):
                try:
                    get_instrument(sym)
                except ModelError as exc:
                    raise ValueError(f"market.{section}.{sym}: {exc}") from None
        for name, s in self.strategies.items():
            for sym in s.underlyings:
                if sym not in known:
                    raise ValueError(
                        f"strategies.{name}.underlyings.{sym}: no market data for {sym} "
                        f"(define it under market.chains, market.derived or market.synthetic)"
                    )
        for i, h in enumerate(self.held):
            if h.strategy not in self.strategies:
                raise ValueError(f"held.{i}.strategy: unknown strategy {h.strategy!r}")
            if self.strategies[h.strategy].template == "fixed":
                raise ValueError(
                    f"held.{i}.strategy: {h.strategy!r} has stated economics (template fixed); "
                    "held positions need a chain-based strategy"
                )
            if h.underlying not in known:
                raise ValueError(
                    f"held.{i}.underlying: no market data for {h.underlying} "
                    "(define it under market.chains, market.derived or market.synthetic)"
                )
        for name in self.buying_power.strategy_caps:
            if name not in self.strategies:
                raise ValueError(f"buying_power.strategy_caps.{name}: unknown strategy")
        for name in self.positions.correlation_groups.exclude_strategies:
            if name not in self.strategies:
                raise ValueError(
                    f"positions.correlation_groups.exclude_strategies: unknown {name!r}"
                )
        for name in self.positions.max_loss_strategies or []:
            if name not in self.strategies:
                raise ValueError(f"positions.max_loss_strategies: unknown strategy {name!r}")
        for name in self.positions.products_by_phase:
            if name not in self.strategies:
                raise ValueError(f"positions.products_by_phase: unknown strategy {name!r}")
        if self.target.success_probability is not None and self.income.model != "managed":
            raise ValueError(
                "target.success_probability: needs income.model 'managed' (the monthly samples)"
            )
        chain_based = any(s.template != "fixed" for s in self.strategies.values())
        if self.income.model == "managed" and chain_based and self.market.history is None:
            if self.income.measure == "fhs":
                raise ValueError(
                    "market.history: the managed income model's physical measure (fhs) needs "
                    "the VIX and S&P 500 histories"
                )
            if self.income.vol_ratio == "measured":
                raise ValueError("income.vol_ratio: 'measured' needs market.history")
        for name, s in self.strategies.items():
            tl = s.management.target_legs
            if tl is not None and s.template not in ("custom", "fixed"):
                n_opt = sum(leg.right is not Right.UNDERLYING for leg in template(s.template))
                bad = [i for i in tl if i >= n_opt]
                if bad:
                    raise ValueError(
                        f"strategies.{name}.management.target_legs: leg {bad[0]} does not exist "
                        f"({s.template} has {n_opt} option legs)"
                    )
        return self

    def resolve(self, path: Path) -> Path:
        """Resolve a path from the scenario relative to the scenario file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)


def _date_reason(text: str) -> str | None:
    """Why ``text`` is not an ISO date or date-time (Python's reason), or None if it is one."""
    try:
        datetime.fromisoformat(text.strip())
    except ValueError as exc:
        return str(exc)
    return None


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    # a key may hold any character: control characters (a newline in a YAML key) are shown
    # escaped, so the message stays one line
    loc = ".".join(str(p) if str(p).isprintable() else repr(str(p))[1:-1] for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    if str(err.get("type", "")).startswith(("datetime", "date")) and isinstance(
        err.get("input"), str
    ):
        # impossible dates (2026-02-30, kept as text by the loader): say what is wrong with it
        reason = _date_reason(err["input"])
        if reason is not None:
            msg = f"{err['input']!r} is not a valid date or date-time ({reason})"
    # model-level validators put the (relative) field path at the start of their message
    head = re.match(r"^([A-Za-z0-9_.\-]+): (.*)$", msg, re.S)
    if head and loc:
        return f"{loc}.{head.group(1)}: {head.group(2)}{more}"
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def scenario_to_yaml(scenario: Scenario) -> str:
    """A scenario as YAML text that :func:`load_scenario` reads back to an equal scenario.

    Fields equal to their defaults are left out; the file paths of the market (chains,
    histories) are written absolute, so the file can be saved anywhere.
    """
    raw = scenario.model_dump(mode="json", exclude_defaults=True)
    market = raw.get("market", {})
    for name, chain in (market.get("chains") or {}).items():
        chain["path"] = str(scenario.resolve(scenario.market.chains[name].path).resolve())
    if scenario.market.history is not None:
        market["history"] = {
            "vix": str(scenario.resolve(scenario.market.history.vix).resolve()),
            "index": str(scenario.resolve(scenario.market.history.index).resolve()),
        }
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` overrides to a raw scenario mapping (value parsed as YAML).

    Raises
    ------
    SpecError
        If an override is not of the form ``path=value`` or walks through a non-mapping.
    """
    out = dict(raw)
    for item in overrides:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected dotted.path=value")
        path, value = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise SpecError(f"--set {item!r}: empty path")
        node = out
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise SpecError(f"--set {item!r}: {'.'.join(keys[: i + 1])} is not a mapping")
            child = dict(child)
            node[key] = child
            node = child
        try:
            node[keys[-1]] = _load_yaml(value)
        except yaml.YAMLError as exc:
            raise SpecError(f"--set {item!r}: value is not valid YAML ({exc})") from None
    return out


class _YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that keeps an impossible date (``2026-02-30``) as its text.

    PyYAML raises a bare ``ValueError`` from ``datetime`` for such a timestamp, with no field
    path; kept as text, the value reaches the schema, which reports it under its field path
    (``valuation_time: …``).
    """


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with impossible dates kept as text (see :class:`_YamlLoader`)."""
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file (``safe_load``) that must hold a mapping.

    Impossible dates (``2026-02-30``) are kept as text so that schema validation reports them
    under their field path.

    Raises
    ------
    SpecError
        Unreadable file, a file that is not UTF-8 text (the first bad byte and its offset),
        invalid YAML (with the line), or a document that is not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read {what} file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        byte = f"byte 0x{bad[0]:02x}" if bad else "truncated character"
        raise SpecError(f"{path}: not UTF-8 text ({byte} at offset {exc.start})") from None
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}:{where} invalid YAML") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a {what} file must be a YAML mapping")
    return raw


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario YAML file.

    Parameters
    ----------
    path : str | Path
        Scenario file.
    overrides : list[str] | None
        ``dotted.path=value`` strings.

    Returns
    -------
    Scenario

    Raises
    ------
    SpecError
        Unreadable file, invalid YAML, or a validation failure (message names the field path).
    """
    p = Path(path)
    raw = read_yaml_mapping(p, "scenario")
    raw = apply_overrides(raw, overrides or [])
    raw["base_dir"] = p.parent.resolve()
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{p}: {_format_error(exc)}") from None
