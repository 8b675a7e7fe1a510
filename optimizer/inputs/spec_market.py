"""Scenario schema, account and market: the account, option chains and synthetic surfaces, histories, the target, the income model and trading costs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from optimizer.inputs.spec_base import (
    _NUMBER,
    ChanceMethod,
    FiniteFloat,
    Fraction,
    Int,
    NonNegFloat,
    PosFloat,
    _Strict,
)


class Account(_Strict):
    """The trading account.

    ``net_liq`` is the net liquidation value in ``currency``; ``fx`` gives the value of one unit of
    each other currency in the account currency (``USD: 0.7299`` = GBPUSD 1.37); ``phase`` is the
    Tom King account phase (1–4) or ``auto`` (from ``net_liq`` via the phase table, in GBP).
    """

    net_liq: PosFloat
    currency: str = Field(min_length=3, max_length=3)
    fx: dict[str, PosFloat] = Field(default_factory=dict)
    phase: Int | Literal["auto"] = "auto"

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
    atm_iv: Annotated[float, Field(gt=0, le=5.0, allow_inf_nan=False), _NUMBER]
    skew: FiniteFloat = 0.0
    curvature: FiniteFloat = 0.0
    # continuously compounded, per year, as a fraction (0.036 = 3.6%)
    rate: Annotated[float, Field(ge=-0.5, le=1.0, allow_inf_nan=False), _NUMBER] = 0.0
    carry: Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False), _NUMBER] = 0.0
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
    (every IV × the VIX ratio) — :class:`models.market.surfaces.VixShiftedSurface`. Studies that sweep
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

    method: ChanceMethod = ChanceMethod.SAA
    n_months: Annotated[int, Field(ge=50, le=20000), _NUMBER] = 1000


class TargetSpec(_Strict):
    """Monthly income target (account currency) and, optionally, the required success probability."""

    monthly_income: PosFloat
    success_probability: (
        Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False), _NUMBER] | None
    ) = None
    chance: ChanceSpec = ChanceSpec()


class IncomeSpec(_Strict):
    """The income model (:mod:`models.measure.managed` on paths of :mod:`models.measure.physical`).

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
    mean_block: Annotated[float, Field(ge=1, le=252, allow_inf_nan=False), _NUMBER] = 21.0
    paths: Annotated[int, Field(ge=5, le=20000), _NUMBER] = 250
    seed: Int = 5
    intraday_steps: Annotated[int, Field(ge=1, le=390), _NUMBER] = 11
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
