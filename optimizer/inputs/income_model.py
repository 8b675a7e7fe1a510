"""The scenario's income model: physical-measure paths, trade costs and the managed simulation.

Wires :mod:`models.measure.physical` (filtered historical simulation or the light-tailed lognormal),
:mod:`models.costs` (fees, spreads, slippage, FX) and :mod:`models.measure.managed` (managed trades,
months by mark to market) for a scenario's candidates. The result feeds every income figure:
the per-contract expected monthly income (net of costs) the objective maximizes, the monthly
samples of the chance constraint and of the monthly risk caps, P(month >= target) and the win
rates.

Paths: one set for the S&P 500 (SPX, SPXW, XSP, SPY, ES, MES share it: common random numbers, so
a sell-off hits the 0DTE condors and the LT112 ladder together), and one per other underlying.
A futures underlying with a row in ``models/data/futures_vol.csv`` (CL/MCL, GC/MGC, ZB, 6E;
``risk.underlyings.<sym>.vol_model: auto|garch``) has its own conditional vol, a GARCH(1,1) with
Student-t innovations (:mod:`models.market.futures_vol`; crude fitted on the shipped WTI history, the
others stated parameters), started at today's ATM IV of its synthetic surface, and an IV that
follows its own conditional vol (implied/realized ratio x conditional vol). Its daily innovation
comes from the same historical day as the S&P 500 path: with ``history: wti`` and the FHS
measure, WTI's own standardized GARCH residual of that day (crash days co-occur); otherwise
``corr`` x the S&P 500's standardized move of the day plus an independent draw (WTI's residual
pool, or Student-t). ``vol_model: constant`` keeps the model before issue 16: the stated
``risk.underlyings`` beta and correlation to the S&P 500 path with a constant residual vol
``vol`` drawn from a fat-tailed pool (WTI's own EWMA-standardized returns for ``history: wti``,
else the S&P 500's standardized residuals) and an IV change of ``iv_beta`` x the VIX change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from models import costs as cost_model
from models.errors import SpecError
from models.instruments import get_instrument
from models.market import futures_vol
from models.market.history import load_wti_history
from models.measure import physical
from models.measure.managed import (
    COST_COMPONENTS,
    EXIT_REASONS,
    ManagedResult,
    TradeCostInputs,
    UnderlyingPaths,
    simulate_managed,
    trading_steps,
)
from models.strategies import Candidate, Management
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.history import fhs_history, index_ohlc
from optimizer.inputs.market import Market
from optimizer.inputs.spec import Scenario

__all__ = [
    "SP500_FAMILY",
    "IncomeSimulation",
    "cost_breakdown",
    "market_key",
    "physical_measure",
    "realize_income",
    "session_daily_vol",
    "simulate_income",
    "trade_cost_inputs",
    "warmup_days",
]


#: Products that are the S&P 500 index itself at another scale or through a future.
SP500_FAMILY = frozenset({"SPX", "SPXW", "XSP", "SPY", "ES", "MES"})
_FACTOR = "SPX"
MONTHS = 12
WTI_FILE = "wti_spot_fred_DCOILWTICO_1986-2019.csv.gz"


@dataclass(frozen=True)
class IncomeSimulation:
    """The income model's output for a set of candidates.

    Parameters
    ----------
    result : ManagedResult
        Per-candidate expectations, costs, trade statistics and aligned monthly samples.
    measure : str
        The physical measure, with its calibration window.
    ids : tuple[str, ...]
        Candidate ids, in the result's column order.
    """

    result: ManagedResult
    measure: str
    ids: tuple[str, ...]


@lru_cache(maxsize=2)
def _wti(path: str, index_path: str):
    wti = load_wti_history(path)
    close = index_ohlc(index_path)["close"]
    return physical.wti_residuals(wti, close)


def session_daily_vol(scenario: Scenario, market: Market, vix) -> tuple[np.ndarray, float]:
    """The income model's daily close-to-close vol at VIX level(s) ``vix`` and its session
    scale ``c`` (decimal per trading day; the session's vol is ``c`` times it).

    FHS: the filter's vol at the VIX close times the residuals' spread; lognormal:
    ``VIX / 100 x vol ratio / sqrt(252)`` with ``c = 1`` (no overnight gap).
    """
    v = np.asarray(vix, dtype=float)
    if scenario.income.measure == "lognormal":
        return v / 100.0 * market.vol_ratio / math.sqrt(252.0), 1.0
    hist = fhs_history(scenario)
    return hist.filter_sigma(v) * float(np.std(hist.z)), float(hist.session_scale)


def physical_measure(scenario: Scenario, market: Market) -> str:
    """Name and calibration window of the scenario's physical measure."""
    if scenario.income.measure == "lognormal":
        return (
            f"lognormal (light-tailed): constant vol = VIX {market.vix:g} x vol ratio "
            f"{market.vol_ratio:.3f} ({market.vol_ratio_source})"
        )
    return fhs_history(scenario).describe()


def _sp_paths(scenario: Scenario, market: Market, n_paths: int, n_days: int, seed: int):
    inc = scenario.income
    if inc.measure == "lognormal":
        p = physical.lognormal_paths(
            vix0=market.vix,
            vol_ratio=market.vol_ratio,
            n_paths=n_paths,
            n_days=n_days,
            seed=seed,
            session_fraction=1.0,
        )
    else:
        p = physical.fhs_paths(
            fhs_history(scenario),
            vix0=market.vix,
            n_paths=n_paths,
            n_days=n_days,
            seed=seed,
            mean_block=inc.mean_block,
        )
    vix = np.asarray(p.vix, dtype=float)
    daily_vol, scale = session_daily_vol(scenario, market, vix)  # at each simulated VIX close
    return p, UnderlyingPaths(
        log_return=p.log_return,
        iv_shift=(vix - vix[:, :1]) / 100.0,
        session_return=p.session_return,
        daily_vol=daily_vol,
        session_scale=scale,
        description=p.measure,
        vix=vix,
    )


def _residual_pool(scenario: Scenario, sym: str, spec) -> tuple[np.ndarray, float, float, str]:
    """(unit-variance residual pool, beta, corr, source) of a non-S&P underlying."""
    if spec.history == "wti":
        h = scenario.market.history
        if h is None:
            raise SpecError(f"risk.underlyings.{sym}.history: needs market.history")
        path = scenario.resolve(h.index).parent / WTI_FILE
        if not path.exists():
            raise SpecError(f"risk.underlyings.{sym}.history: {path} not found")
        w = _wti(str(path), str(scenario.resolve(h.index)))
        z = np.asarray(w.z, dtype=float)
        z = z / z.std()
        return z, float(w.beta), float(w.corr), "WTI spot history (FRED DCOILWTICO)"
    if scenario.income.measure == "fhs":
        z = np.asarray(fhs_history(scenario).z, dtype=float)
        return z / z.std(), spec.beta, spec.corr, "S&P 500 standardized residuals"
    return np.empty(0), spec.beta, spec.corr, "Gaussian"


def _other_paths(
    scenario: Scenario,
    sym: str,
    sp: UnderlyingPaths,
    n_paths: int,
    n_days: int,
    seed: int,
    days: np.ndarray | None = None,
    day_dates: pd.DatetimeIndex | None = None,
) -> UnderlyingPaths:
    risk = scenario.risk
    spec = risk.underlyings.get(sym) if risk is not None else None
    if spec is None:
        raise SpecError(
            f"risk.underlyings.{sym}: needed — how {sym} moves with the S&P 500 "
            "(beta, corr, vol, iv_beta, or history: wti)"
        )
    params = futures_vol.params_for(sym)
    if spec.vol_model == "garch" and params is None:
        raise SpecError(
            f"risk.underlyings.{sym}.vol_model: garch needs a row for {sym} in "
            "models/data/futures_vol.csv"
        )
    key = int.from_bytes(sym.encode("utf-8")[:8].ljust(8, b"\0"), "little")
    if spec.vol_model != "constant" and params is not None:
        return _garch_paths(
            scenario, sym, spec, params, sp, n_paths, n_days, seed, key, days, day_dates
        )
    pool, beta, corr, _ = _residual_pool(scenario, sym, spec)
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(7, key))))
    if pool.size:
        eps = pool[g.integers(0, pool.size, size=(n_paths, n_days))]
    else:
        eps = g.standard_normal((n_paths, n_days))
    vol = spec.vol or 0.0
    resid_vol = math.sqrt(max(0.0, 1.0 - corr * corr)) * vol / math.sqrt(252.0)
    r = beta * sp.log_return + resid_vol * eps - 0.5 * resid_vol**2
    day_vol = np.full((n_paths, n_days + 1), math.sqrt(beta**2 * 1e-4 + resid_vol**2))
    return UnderlyingPaths(
        log_return=r,
        iv_shift=spec.iv_beta * sp.iv_shift,
        session_return=r,
        daily_vol=day_vol,
        session_scale=1.0,
        description=f"{sym}: beta {beta:.3g} and corr {corr:.3g} to the S&P 500",
    )


@lru_cache(maxsize=2)
def _wti_garch(path: str, index_path: str) -> tuple[pd.Series, float]:
    """WTI's GARCH-standardized daily residuals by date (unit variance) and its S&P 500 corr."""
    wti = load_wti_history(path)
    z = futures_vol.garch_filter(np.log(wti).diff().dropna(), futures_vol.params_for("CL"))["z"]
    z = z.iloc[75:]  # the filter's start-up
    return z / z.std(), float(_wti(path, index_path).corr)


def _garch_paths(
    scenario: Scenario,
    sym: str,
    spec,
    params: futures_vol.GarchParams,
    sp: UnderlyingPaths,
    n_paths: int,
    n_days: int,
    seed: int,
    key: int,
    days: np.ndarray | None,
    day_dates: pd.DatetimeIndex | None = None,
) -> UnderlyingPaths:
    """A futures underlying on its own GARCH(1,1)-t vol, moving with the S&P 500 day by day.

    Innovation of day ``t``: with ``history: wti`` and the FHS measure, WTI's own standardized
    GARCH residual of the historical day the S&P 500 path drew for ``t``
    (``days``, :attr:`models.measure.physical.Paths.day`); where WTI has no return that day (after
    2019-01-03, holidays), and for the other futures, ``corr x`` the S&P 500's standardized
    move of the day ``+ sqrt(1 - corr^2) x`` an independent draw (WTI's residual pool, else
    Student-t with the row's ``nu``). The variance starts at today's ATM IV (the synthetic
    surface's ``atm_iv``; else the long-run variance) and follows
    :func:`models.market.futures_vol.simulate_garch`; the IV shift is ``ratio x`` the change of the
    conditional vol. Rows of stated (unfitted) parameters get their long-run variance anchored
    at today's (``omega = h_0 (1 - alpha - beta)``): clustering without a drift toward an assumed
    level; fitted rows (crude) keep their fitted long-run level.
    """
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(7, key))))
    raw = sp.log_return / sp.daily_vol[:, :-1]
    z_sp = raw / raw.std()
    corr = spec.corr
    src = f"S&P 500 move x corr {corr:.3g} + Student-t({params.nu:.3g})"
    own = None
    if spec.history == "wti":
        h = scenario.market.history
        if h is None:
            raise SpecError(f"risk.underlyings.{sym}.history: needs market.history")
        path = scenario.resolve(h.index).parent / WTI_FILE
        if not path.exists():
            raise SpecError(f"risk.underlyings.{sym}.history: {path} not found")
        zw, corr = _wti_garch(str(path), str(scenario.resolve(h.index)))
        pool = zw.to_numpy()
        indep = pool[g.integers(0, pool.size, size=(n_paths, n_days))]
        src = f"WTI's own GARCH residuals; else S&P 500 move x corr {corr:.3g} + WTI residual"
        if scenario.income.measure == "fhs" and days is not None:
            # the historical days the S&P 500 paths drew (models.measure.physical.Paths.day)
            dates = fhs_history(scenario).dates if day_dates is None else day_dates
            own = zw.reindex(dates).to_numpy()[days]
            src = (
                "WTI's own GARCH residual of the S&P 500 path's historical day; after "
                f"2019-01-03 S&P 500 move x corr {corr:.3g} + WTI residual"
            )
    else:
        indep = futures_vol.t_innovations(g, params.nu, (n_paths, n_days))
    eps = corr * z_sp + math.sqrt(max(0.0, 1.0 - corr * corr)) * indep
    if own is not None:
        eps = np.where(np.isfinite(own), own, eps)
    syn = scenario.market.synthetic.get(sym)
    h0 = (
        futures_vol.start_variance(syn.atm_iv, params)
        if syn is not None
        else params.long_run_variance
    )
    if not params.fitted:
        # stated (unfitted) parameters carry no information about the long-run level: anchor
        # it at today's variance, so the vol clusters but does not drift (no view that today's
        # IV will mean-revert to an assumed level)
        h_today = float(np.mean(h0))
        params = dataclasses.replace(params, omega=h_today * (1.0 - params.persistence))
    r, hv = futures_vol.simulate_garch(params, h0, eps)
    iv = futures_vol.implied_vol(hv, params)
    return UnderlyingPaths(
        log_return=r,
        iv_shift=iv - iv[:, :1],
        session_return=r,
        daily_vol=np.sqrt(hv),
        session_scale=1.0,
        description=f"{sym}: {params.describe()}; innovations: {src}",
    )


def _management(scenario: Scenario, strategy: str) -> Management:
    m = scenario.strategies[strategy].management
    return Management(
        profit_target=m.profit_target,
        stop_loss=m.stop_loss,
        exit_dte=m.exit_dte,
        time_exit=m.time_exit,
        target_legs=tuple(m.target_legs) if m.target_legs is not None else None,
        delta_exit=m.delta_exit,
        roll_untested_delta=m.roll_untested_delta,
        close_tested_delta=m.close_tested_delta,
        vix_exit=m.vix_exit,
        entry_iv_rank=m.entry_iv_rank,
        close_distance=m.close_distance,
        directional_move=m.directional_move,
    )


def trade_cost_inputs(
    scenario: Scenario, market: Market, c: Candidate, multiplier: float
) -> TradeCostInputs:
    """Costs of one trade of one unit of ``c`` (instrument currency) under ``scenario.costs``.

    Half-spreads (:func:`models.costs.leg_half_spreads`): the chain's quote of the leg where the
    market has quotes of the candidate's product, else the measured / derived row of
    ``models/data/half_spreads.csv`` for the leg's product, DTE and moneyness, else the fee
    file's assumed half-spread. Fees from ``models/data/fees.csv`` with the premium and order-size
    tiers of ``models/data/fee_tiers.csv``: entry at the legs' prices, the target exit at
    ``1 - profit_target`` of them (the strategy's management), stop / time exits at the entry
    prices; one order per unit (:func:`models.costs.trade_costs`).
    """
    spec = scenario.costs
    if not spec.enabled:
        return TradeCostInputs()
    fees = cost_model.fees_for(c.underlying)
    model = cost_model.CostModel(
        spread_fraction=spec.spread_fraction,
        exit_fraction=spec.exit_fraction,
        stop_fraction=spec.stop_fraction,
        stop_slippage_ticks=spec.stop_slippage_ticks,
        fx_cost=spec.fx_cost,
    )
    half = cost_model.leg_half_spreads(c, market.quotes.get(c.underlying), fees=fees)
    strategy = scenario.strategies.get(c.strategy)
    target = None if strategy is None else strategy.management.profit_target
    tc = cost_model.trade_costs(
        c, multiplier=multiplier, half_spreads=half, fees=fees, model=model, profit_target=target
    )
    inst = get_instrument(c.underlying)
    fx_cost = spec.fx_cost if inst.currency != scenario.account.currency else 0.0
    # the stop's slippage ticks are their own cost line (models.costs folds them into the spread)
    n_contracts = float(sum(abs(leg.quantity) for leg in c.legs))
    slip = spec.stop_slippage_ticks * fees.tick * n_contracts * multiplier
    reasons = EXIT_REASONS[:4]  # target, stop, time, expiry; a delta exit is costed as a stop
    spread = {r: float(tc.exit_spread[r]) for r in reasons}
    spread["stop"] = max(0.0, spread["stop"] - slip)
    exit_comm = tuple(float(tc.commission_close[r]) for r in reasons) + (
        float(tc.commission_close["stop"]),
    )
    exit_spread = tuple(spread[r] for r in reasons) + (spread["stop"],)
    exit_slip = (0.0, slip, 0.0, 0.0, slip)
    # exercise/assignment fee per contract of each option leg that finishes in the money
    ex_fee = tuple(float(fees.exercise_fee) * abs(leg.quantity) for leg in c.legs if leg.is_option)
    return TradeCostInputs(
        entry_commission=float(tc.commission_open),
        entry_spread=float(tc.entry_spread),
        exit_commission=exit_comm,
        exit_spread=exit_spread,
        exit_slippage=exit_slip,
        exercise_fee=ex_fee,
        fx_cost=fx_cost,
    )


def market_key(scenario: Scenario) -> str:
    """What a candidate's simulated months and repricing depend on, besides the candidate.

    The scenario's valuation time, market, strategies, income and cost settings, FX, the
    futures mappings and the risk-scenario settings (not the account size, not the caps).
    """
    import json

    d = scenario.model_dump(
        mode="json", include={"valuation_time", "market", "strategies", "income", "costs", "held"}
    )
    d["fx"] = scenario.account.fx
    d["currency"] = scenario.account.currency
    d["base_dir"] = str(scenario.base_dir)
    if scenario.risk is not None:
        d["risk"] = scenario.risk.model_dump(
            mode="json",
            include={"scenarios", "historical", "monte_carlo", "underlyings", "stress"},
        )
        d["risk"]["stress"].pop("cap", None)
    return json.dumps(d, sort_keys=True, default=str)


def warmup_days(cs: CandidateSet) -> int:
    """Warm-up trading days before the first reported month: the longest structure of the whole
    candidate set, rounded up to whole 21-day months (so a candidate's simulated months do not
    depend on which other candidates are simulated with it)."""
    longest = max(trading_steps(c.t) for c in cs.structures.values())
    return 21 * math.ceil(longest / 21)


def _simulate(
    scenario: Scenario,
    cs: CandidateSet,
    market: Market,
    rows: list[int],
    sp_raw: physical.Paths,
    sp: UnderlyingPaths,
    *,
    months: int,
    seed: int,
    realized: bool = False,
    day_dates: pd.DatetimeIndex | None = None,
) -> ManagedResult:
    """The managed simulation of rows ``rows`` on the S&P 500 paths ``sp``."""
    ids = [cs.ids[i] for i in rows]
    cands = [cs.structures[i] for i in ids]
    table = cs.table.iloc[rows]
    n_paths, n_days = sp.n_paths, sp.n_days
    paths = {_FACTOR: sp}
    keys = []
    for c in cands:
        key = _FACTOR if c.underlying in SP500_FAMILY else c.underlying
        if key not in paths:
            # the VIX (management's vix_exit) is the S&P 500's, shared by every underlying
            other = _other_paths(
                scenario, key, sp, n_paths, n_days, seed, days=sp_raw.day, day_dates=day_dates
            )
            paths[key] = replace(other, vix=sp.vix)
        keys.append(key)
    mult = table["multiplier"].to_numpy(dtype=float)
    costs = [
        trade_cost_inputs(scenario, market, c, float(m)) for c, m in zip(cands, mult, strict=True)
    ]
    return simulate_managed(
        cands,
        paths=paths,
        multipliers=mult,
        management=[_management(scenario, s) for s in table["strategy"]],
        entries_per_month=[scenario.strategies[s].entries_per_month for s in table["strategy"]],
        seed=seed,
        months=months,
        warmup_days=warmup_days(cs),
        intraday_steps=scenario.income.intraday_steps,
        fx=table["fx"].to_numpy(dtype=float),
        costs=costs,
        path_keys=keys,
        entry_phase=0.0 if realized else None,  # a real path: schedules start on day 0
        require_trades=not realized,  # and its entry filters may block every entry
    )


def simulate_income(
    scenario: Scenario,
    cs: CandidateSet,
    market: Market,
    idx: list[int] | None = None,
    *,
    n_paths: int | None = None,
    seed: int | None = None,
) -> IncomeSimulation:
    """Run the income model for the chain-based candidates ``idx`` of ``cs`` (default all).

    Parameters
    ----------
    scenario, cs, market
        The scenario, its candidates and market.
    idx : list[int] | None
        Candidate rows (positions in ``cs``); fixed-economics candidates are not allowed.
    n_paths : int | None
        Paths of 12 months (default ``income.paths``).
    seed : int | None
        Seed (default ``income.seed``).

    Raises
    ------
    SpecError
        Fixed-economics candidates, missing mappings or histories.
    """
    inc = scenario.income
    rows = list(range(len(cs))) if idx is None else list(idx)
    ids = [cs.ids[i] for i in rows]
    missing = [i for i in ids if i not in cs.structures]
    if missing:
        raise SpecError(
            f"income: candidate {missing[0]!r} has no priced legs (fixed-economics strategies "
            "are not simulated)"
        )
    n_paths = inc.paths if n_paths is None else n_paths
    seed = inc.seed if seed is None else seed
    warmup = warmup_days(cs)
    n_days = warmup + 21 * MONTHS
    sp_raw, sp = _sp_paths(scenario, market, n_paths, n_days, seed)
    result = _simulate(scenario, cs, market, rows, sp_raw, sp, months=MONTHS, seed=seed)
    return IncomeSimulation(result=result, measure=sp_raw.measure, ids=tuple(ids))


def realize_income(
    scenario: Scenario,
    cs: CandidateSet,
    market: Market,
    idx: list[int],
    history: physical.FilteredHistory,
    start: int,
    *,
    seed: int,
) -> ManagedResult:
    """The income model's month of candidates ``idx`` on what happened: the engine on history.

    The steady-state book of the model (:func:`simulate_income`: its warm-up ``W`` =
    :func:`warmup_days`, then one 21-trading-day month) run on the one path
    :func:`models.measure.physical.history_paths` of ``history`` whose day ``W`` is the close of
    history day ``start`` (the day the book is sized at, priced on ``market``): the month is the
    21 trading days after that close. The IV shift is measured from ``market.vix``; schedules
    start at path day 0 (``entry_phase = 0``); futures follow their model of
    :func:`simulate_income`, driven by the real S&P 500 days (WTI's residual of the date).

    Parameters
    ----------
    scenario, cs, market
        The month's scenario, candidates and market.
    idx : list[int]
        Candidate rows (positions in ``cs``) with priced legs.
    history : FilteredHistory
        The S&P 500 / VIX history the path is read from (with ``W`` days before ``start``).
    start : int
        Index in ``history.dates`` of the day the month starts from (its close).
    seed : int
        Seed of the 0DTE intraday bridges and the futures' own draws.

    Returns
    -------
    ManagedResult
        ``P = 1``, ``M = 1``: ``monthly_samples`` (1, K) is each candidate's realized month per
        contract unit, account currency, net of costs.

    Raises
    ------
    SpecError
        The history does not hold the warm-up before ``start`` and the month after it.
    """
    warmup = warmup_days(cs)
    first = int(start) - warmup + 1
    if first < 0 or int(start) + 21 >= history.n:
        day = history.dates[min(max(int(start), 0), history.n - 1)].date()
        raise SpecError(f"backtest: the history ({history.window}) lacks the days around {day}")
    sp_raw = physical.history_paths(history, first, warmup + 21)
    vix = np.asarray(sp_raw.vix, dtype=float)
    daily_vol, scale = session_daily_vol(scenario, market, vix)
    sp = UnderlyingPaths(
        log_return=sp_raw.log_return,
        iv_shift=(vix - float(market.vix)) / 100.0,
        session_return=sp_raw.session_return,
        daily_vol=daily_vol,
        session_scale=scale,
        description=sp_raw.measure,
        vix=vix,
    )
    return _simulate(
        scenario,
        cs,
        market,
        list(idx),
        sp_raw,
        sp,
        months=1,
        seed=seed,
        realized=True,
        day_dates=history.dates,
    )


def cost_breakdown(result: ManagedResult, counts: np.ndarray) -> dict[str, float]:
    """Expected monthly costs of a book by component (account currency), with ``total``."""
    per = np.asarray(result.costs_monthly, dtype=float).T @ np.asarray(counts, dtype=float)
    out = {name: float(v) for name, v in zip(COST_COMPONENTS, per, strict=True)}
    out["total"] = float(per.sum())
    return out
