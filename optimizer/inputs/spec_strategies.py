"""Scenario schema, strategies: margin, management rules, expiries, legs, underlyings, fixed economics, held positions and the month tracker's settings."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from models.strategies import TEMPLATES, template_params
from optimizer.inputs.spec_base import (
    _NUMBER,
    FiniteFloat,
    Fraction,
    Int,
    NonNegFloat,
    PosFloat,
    _Strict,
)


class MarginSpec(_Strict):
    """Buying-power model of a strategy.

    ``reg_t``: Cboe/FINRA strategy-based. ``span``: SPAN-like 16-scenario risk array for futures
    options (``models.margin.span``, parameters from ``models/data/span_parameters.csv``).
    ``portfolio``: TIMS-style worst loss over 10 moves, standalone per unit
    (``models.margin.portfolio``). ``fixed``: ``per_unit`` (per symbol, in ``currency``) or
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
    reaches it. The defence rules (domain.md §3–4, off when absent; :mod:`models.measure.managed`):
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
    target_legs: list[Annotated[int, Field(ge=0), _NUMBER]] | None = None
    delta_exit: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _NUMBER] | None = None
    roll_untested_delta: (
        Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _NUMBER] | None
    ) = None
    close_tested_delta: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _NUMBER] | None = (
        None
    )
    vix_exit: PosFloat | None = None
    entry_iv_rank: Fraction | None = None
    close_distance: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False), _NUMBER] | None = None
    directional_move: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False), _NUMBER] | None = (
        None
    )

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
    off the chain's first listed expiry (:mod:`models.market.variance_time`): ``session`` (default)
    removes the overnight and weekend variance with the variance-time model measured from the
    S&P 500 history, so the implied session variance is on the footing of the realized session
    move the income model uses; ``close_to_close`` attributes the first expiry's whole variance
    to its sessions (the convention before issue 16, kept for comparison). The shares are
    measured from ``market.history`` when given, else the shipped measurement
    (``models/data/variance_time.csv``); under the managed model's lognormal measure (no
    overnight gaps) the two bases coincide.
    """

    # at most ten years: the longest listed options (LEAPS) run about three; a 1e308 or 30-digit
    # dte overflowed the calendar arithmetic
    dte: Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False), _NUMBER] | None = None
    date: datetime | None = None
    intraday_hours: Annotated[float, Field(gt=0, le=6.5), _NUMBER] | None = None
    variance_basis: Literal["session", "close_to_close"] = "session"

    @model_validator(mode="after")
    def _one(self):
        if sum(x is not None for x in (self.dte, self.date, self.intraday_hours)) != 1:
            raise ValueError("give exactly one of dte, date, intraday_hours")
        return self


class LegSpec(_Strict):
    """A leg of a ``custom`` structure."""

    right: Literal["C", "P", "U"]
    quantity: Int
    rule: Literal["delta", "pct_otm", "points_from", "expected_move"] | None = None
    param: str | None = None
    ref: Int | None = None
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


def _check_grid_ranges(legs, sym: str, grid: dict[str, list[float]]) -> None:
    """A delta grid value must lie in (0, 1) and a wing width (``points_from``) be > 0.

    Raises
    ------
    ValueError
        ``underlyings.SYM.grid.PARAM: VALUE ...`` for the first value out of range (a delta of 0
        or -1 or a negative wing width built a degenerate structure without a word).
    """
    for leg in legs:
        rule = leg.rule
        if rule is None:
            continue
        for v in grid.get(rule.param, ()):
            if rule.kind == "delta" and not 0 < v < 1:
                raise ValueError(
                    f"underlyings.{sym}.grid.{rule.param}: {v:g} is not a delta in (0, 1)"
                )
            if rule.kind == "points_from" and not v > 0:
                raise ValueError(
                    f"underlyings.{sym}.grid.{rule.param}: {v:g} is not a width > 0 points"
                )


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
    max_positions: Int | Literal["phase"] | None = "phase"
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
                _check_grid_ranges(TEMPLATES[self.template], sym, u.grid)
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
    quantity: Int
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
    contracts: Annotated[int, Field(gt=0), _NUMBER]
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
    ``stale_market_days``: the re-plan prices its candidates on the scenario's market, so it is
    refused (status ``stale_chain``, "needs a chain dated … or later") when that market's
    valuation is more than this many calendar days before the as-of date; 3 covers a weekend.
    ``as_of``: set by the re-plan (:func:`optimizer.tracking.tracker.replan_scenario`) to the
    as-of date; candidates whose expiry falls on or before it are excluded (reason "expired by
    the as-of date"), so a re-plan on a chain a few days old never offers an expired contract.
    """

    behind_threshold: Fraction = 0.25
    min_days_for_shares: Annotated[int, Field(ge=0), _NUMBER] = 5
    min_share_basis: NonNegFloat = 0.5
    stale_market_days: Annotated[int, Field(ge=0), _NUMBER] = 3
    as_of: Date | None = None
