"""Monte Carlo of the audit's capital levels: each mix simulated with the stated per-trade parameters, the risk limits and the operating costs; the simulated break-even; the optimizer's stand-alone months."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.risk import success_probability
from models.streams import (
    EquitySimulation,
    RegimeChain,
    RiskLimits,
    Stream,
    simulate_equity,
)
from optimizer.audit.claimed import mix_for
from optimizer.audit.schema import QUANTILES, AuditSpec
from optimizer.audit.streams_alloc import AllocationResult


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
