"""Scenario schema, caps and solver: allocation, buying power, leverage, Greeks, positions and correlation groups, solver settings and the tail-risk section."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    model_validator,
)

from optimizer.inputs.spec_base import (
    _NUMBER,
    AllocationMode,
    FiniteFloat,
    Fraction,
    Int,
    NonNegFloat,
    PosFloat,
    PositionBasis,
    _Strict,
)
from optimizer.solve.status import Backend


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
    mode: AllocationMode = AllocationMode.HARD
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
    limit: Int | Literal["phase"] = "phase"
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

    count: PositionBasis = PositionBasis.UNITS
    scale_with_nlv: bool = True
    max_contracts_per_position: Annotated[int, Field(ge=1), _NUMBER] | None = None
    correlation_groups: CorrelationSpec = CorrelationSpec()
    products_by_phase: list[str] = Field(default_factory=list)
    max_total: Int | Literal["phase"] | None = "phase"
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

    backend: Backend = Backend.CVXPY
    time_limit: PosFloat = 60.0
    node_limit: Annotated[int, Field(ge=0), _NUMBER] | None = DEFAULT_NODE_LIMIT
    mip_gap: Annotated[float, Field(ge=0, le=1), _NUMBER] = 1e-4
    threads: Annotated[int, Field(ge=1, le=64), _NUMBER] | None = 1
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
    conditional vol from ``models/data/futures_vol.csv`` (:mod:`models.market.futures_vol`), started at
    today's ATM IV, with IV = implied/realized ratio x its conditional vol (``iv_beta`` and
    ``vol`` are then unused; ``corr`` links its innovation to the S&P 500's move of the same
    historical day, except with ``history: wti``, where WTI's own residual of that day is used);
    ``constant`` keeps the constant residual vol and ``iv_beta`` x the VIX change (the model
    before issue 16); ``auto`` (default) is ``garch`` when the csv has the product, else
    ``constant``.
    """

    beta: FiniteFloat = 1.0
    corr: Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False), _NUMBER] = 1.0
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

    horizon: Annotated[int, Field(ge=1, le=63), _NUMBER] = 1
    start: datetime | None = None
    end: datetime | None = None


class MonteCarloSpec(_Strict):
    """Correlated Student-t (``dof``) or Gaussian (``dof: null``) moves; IV linked to returns."""

    n: Annotated[int, Field(ge=100, le=200000), _NUMBER] = 5000
    seed: Int = 7
    dof: Annotated[float, Field(gt=2, allow_inf_nan=False), _NUMBER] | None = 4.0
    horizon_days: PosFloat = 1.0
    index_vol: PosFloat | None = None


class CvarCapSpec(_Strict):
    """CVaR at confidence ``alpha`` over the scenario horizon ≤ ``cap`` × NLV."""

    alpha: Annotated[float, Field(gt=0, lt=1), _NUMBER]
    cap: PosFloat


class VarCapSpec(_Strict):
    """Exact VaR (binaries, small scenario sets) at ``alpha`` ≤ ``cap`` × NLV."""

    alpha: Annotated[float, Field(gt=0, lt=1), _NUMBER]
    cap: PosFloat


class StressSpec(_Strict):
    """Named stress days (``all`` or a list from models/data/stress_days.csv), cap × NLV, grid."""

    names: list[str] | Literal["all"] = "all"
    cap: PosFloat | None = None
    grid: list[tuple[FiniteFloat, FiniteFloat]] = Field(default_factory=list)


class OutOfSampleSpec(_Strict):
    """Fresh, larger scenario and month sets for re-evaluating the chosen book."""

    n: Annotated[int, Field(ge=1000, le=200000), _NUMBER] = 20000
    seed: Int = 1234


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
    report_alphas: list[Annotated[float, Field(gt=0, lt=1), _NUMBER]] = Field(
        default_factory=lambda: [0.95, 0.99]
    )
    monthly_cvar: list[CvarCapSpec] = Field(default_factory=list)
    max_drawdown: CvarCapSpec | None = None
    out_of_sample: OutOfSampleSpec = OutOfSampleSpec()
