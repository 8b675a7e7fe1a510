"""Risk data of a scenario: market-scenario P&L, stress P&L and managed monthly P&L samples.

Builds, from :mod:`models.scenarios` and :mod:`models.managed`, the matrices the tail-risk and
chance families need (all per contract unit, account currency, common random numbers across
candidates), and re-evaluates a chosen book on fresh, larger sets (out of sample).

S&P 500 products (SPX, SPXW, XSP, SPY, ES, MES) move one-for-one with the index (beta 1,
correlation 1, IV change = VIX change); every other traded product needs a stated
``risk.underlyings.<symbol>`` mapping (beta, correlation, vol, IV beta).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np

from models.errors import SpecError
from models.history import load_index_history, load_vix_history
from models.managed import ManagedResult, simulate_managed
from models.scenarios import (
    MarketMoves,
    UnderlyingMap,
    historical_moves,
    monte_carlo_moves,
    pnl_matrix,
    stress_moves,
)
from models.strategies import Candidate, Management
from optimizer.candidates import CandidateSet
from optimizer.market import Market
from optimizer.spec import Scenario

__all__ = ["RiskData", "SP500_FAMILY", "build_risk_data", "evaluate_out_of_sample"]

log = logging.getLogger(__name__)

#: Products that are the S&P 500 index itself at another scale or through a future.
SP500_FAMILY = frozenset({"SPX", "SPXW", "XSP", "SPY", "ES", "MES"})
_FACTOR = "SPX"


@dataclass(frozen=True)
class RiskData:
    """Scenario matrices of a candidate set (rows = scenarios, columns = candidates in order).

    Parameters
    ----------
    pnl : ndarray, shape (S, K)
        Market-scenario P&L per contract unit over ``horizon_days``, account currency.
    labels : tuple[str, ...]
        (S,) scenario labels.
    kind : str
        ``historical`` or ``monte_carlo``.
    horizon_days : float
        Calendar days of the scenario horizon.
    stress_pnl : ndarray, shape (T, K)
        P&L per contract unit in each named stress (and grid point).
    stress_labels : tuple[str, ...]
        (T,) stress names.
    managed : ManagedResult | None
        Managed Monte Carlo (monthly samples (M, K), win rates …) in account currency.
    """

    pnl: np.ndarray
    labels: tuple[str, ...]
    kind: str
    horizon_days: float
    stress_pnl: np.ndarray
    stress_labels: tuple[str, ...]
    managed: ManagedResult | None


def _maps(scenario: Scenario, symbols) -> dict[str, UnderlyingMap]:
    risk = scenario.risk
    out = {}
    for sym in sorted(set(symbols)):
        if sym in risk.underlyings:
            u = risk.underlyings[sym]
            out[sym] = UnderlyingMap(beta=u.beta, corr=u.corr, vol=u.vol, iv_beta=u.iv_beta)
        elif sym in SP500_FAMILY:
            out[sym] = UnderlyingMap()
        else:
            raise SpecError(
                f"risk.underlyings.{sym}: needed — how {sym} moves with the S&P 500 "
                f"(beta, corr, vol, iv_beta)"
            )
    return out


def _histories(scenario: Scenario):
    h = scenario.market.history
    if h is None:
        raise SpecError("market.history: risk scenarios need the VIX and S&P 500 histories")
    return load_vix_history(scenario.resolve(h.vix)), load_index_history(scenario.resolve(h.index))


def _structures(cs: CandidateSet, idx=None) -> list[Candidate]:
    ids = cs.ids if idx is None else [cs.ids[i] for i in idx]
    missing = [i for i in ids if i not in cs.structures]
    if missing:
        raise SpecError(
            f"risk: candidate {missing[0]!r} has no priced legs (fixed-economics strategies "
            f"cannot be repriced in market scenarios)"
        )
    return [cs.structures[i] for i in ids]


def _moves(scenario: Scenario, maps, market: Market, *, kind: str, n: int, seed: int):
    vix, index = _histories(scenario)
    risk = scenario.risk
    if kind == "historical":
        hs = risk.historical
        return historical_moves(
            vix, index, horizon=hs.horizon, underlyings=maps, start=hs.start, end=hs.end, seed=seed
        )
    mc = risk.monte_carlo
    vol = mc.index_vol if mc.index_vol is not None else market.vix / 100.0 * market.vol_ratio
    return monte_carlo_moves(
        underlyings=maps,
        index_vol=vol,
        horizon_days=mc.horizon_days,
        n=n,
        seed=seed,
        dof=mc.dof,
    )


def _factor_candidates(cands: list[Candidate]) -> list[Candidate]:
    """Candidates on S&P products share the index's paths in the managed Monte Carlo."""
    return [
        dataclasses.replace(c, underlying=_FACTOR) if c.underlying in SP500_FAMILY else c
        for c in cands
    ]


def _correlations(maps: dict[str, UnderlyingMap]) -> dict[tuple[str, str], float]:
    """One-factor correlations: ``corr(u, SPX) = corr_u``, ``corr(u, v) = corr_u corr_v``."""
    others = [s for s in maps if s not in SP500_FAMILY]
    out = {(s, _FACTOR): maps[s].corr for s in others}
    for i, a in enumerate(others):
        for b in others[i + 1 :]:
            out[(a, b)] = maps[a].corr * maps[b].corr
    return out


def _management(scenario: Scenario, strategy: str) -> Management:
    m = scenario.strategies[strategy].management
    return Management(
        profit_target=m.profit_target,
        stop_loss=m.stop_loss,
        exit_dte=m.exit_dte,
        time_exit=m.time_exit,
    )


def _managed(
    scenario: Scenario, cs: CandidateSet, market: Market, maps, idx, *, n_months: int, seed: int
) -> ManagedResult:
    rows = cs.table.iloc[list(idx)] if idx is not None else cs.table
    cands = _factor_candidates(_structures(cs, idx))
    ms = scenario.risk.managed
    entries = [scenario.strategies[s].entries_per_month for s in rows["strategy"]]
    return simulate_managed(
        cands,
        multipliers=rows["multiplier"].to_numpy(dtype=float),
        management=[_management(scenario, s) for s in rows["strategy"]],
        entries_per_month=entries,
        vol_ratio=market.vol_ratio,
        n_months=n_months,
        seed=seed,
        correlation=_correlations(maps),
        dof=ms.dof,
        intraday_steps=ms.intraday_steps,
        fx=rows["fx"].to_numpy(dtype=float),
        max_trades_per_month=max(6, math.ceil(max(entries, default=1)) + 1),
    )


def build_risk_data(
    scenario: Scenario, cs: CandidateSet, market: Market, *, managed: bool
) -> RiskData:
    """In-sample risk data for every candidate of ``cs``.

    Parameters
    ----------
    scenario : Scenario
        Needs ``risk`` and ``market.history``.
    cs : CandidateSet
        Chain-based candidates (fixed-economics ones cannot be repriced).
    market : Market
        Surfaces, VIX and the vol ratio.
    managed : bool
        Also run the managed Monte Carlo (monthly samples for the chance constraint and the
        managed income model).

    Raises
    ------
    SpecError
        Missing ``risk.underlyings`` mapping or history files; fixed-economics candidates.
    """
    risk = scenario.risk
    maps = _maps(scenario, cs.table["underlying"])
    cands = _structures(cs)
    mult = cs.table["multiplier"].to_numpy(dtype=float)
    fx = cs.table["fx"].to_numpy(dtype=float)
    kind = risk.scenarios
    moves: MarketMoves = _moves(
        scenario, maps, market, kind=kind, n=risk.monte_carlo.n, seed=risk.monte_carlo.seed
    )
    pnl = pnl_matrix(cands, moves, multipliers=mult, fx=fx)
    vix, index = _histories(scenario)
    names = None if risk.stress.names == "all" else list(risk.stress.names)
    try:
        stress = stress_moves(
            names, vix=vix, index=index, underlyings=maps, grid=[tuple(g) for g in risk.stress.grid]
        )
    except (KeyError, ValueError) as exc:
        raise SpecError(f"risk.stress.names: {exc}") from None
    stress_pnl = pnl_matrix(cands, stress, multipliers=mult, fx=fx)
    man = None
    if managed:
        man = _managed(
            scenario,
            cs,
            market,
            maps,
            None,
            n_months=_months(scenario),
            seed=_month_seed(scenario),
        )
    return RiskData(
        pnl=pnl,
        labels=moves.labels,
        kind=moves.kind,
        horizon_days=moves.horizon_days,
        stress_pnl=stress_pnl,
        stress_labels=stress.labels,
        managed=man,
    )


def _months(scenario: Scenario) -> int:
    if scenario.target.success_probability is not None:
        return scenario.target.chance.n_months
    return scenario.risk.managed.n_months


def _month_seed(scenario: Scenario) -> int:
    if scenario.target.success_probability is not None:
        return scenario.target.chance.seed
    return scenario.risk.managed.seed


@dataclass(frozen=True)
class OutOfSample:
    """Fresh scenario sets for the chosen candidates (columns = chosen, in the given order).

    Parameters
    ----------
    pnl : ndarray, shape (S', k)
        Market-scenario P&L per contract unit (Monte Carlo, fresh seed).
    horizon_days : float
        Horizon of ``pnl``.
    monthly : ndarray, shape (M', k) | None
        Managed monthly P&L samples (fresh seed), or None when no managed model was asked.
    """

    pnl: np.ndarray
    horizon_days: float
    monthly: np.ndarray | None


def evaluate_out_of_sample(
    scenario: Scenario, cs: CandidateSet, market: Market, idx: list[int], *, managed: bool
) -> OutOfSample:
    """Re-simulate the chosen candidates ``idx`` on fresh sets of ``risk.out_of_sample.n``.

    The market scenarios are Monte Carlo with the out-of-sample seed (historical in-sample sets
    have no fresh history to draw from); the monthly samples come from the managed Monte Carlo
    with the out-of-sample seed.
    """
    oos = scenario.risk.out_of_sample
    if not idx:  # an empty book: zero P&L in every fresh scenario and month
        monthly = np.zeros((oos.n, 0)) if managed else None
        return OutOfSample(np.zeros((oos.n, 0)), scenario.risk.monte_carlo.horizon_days, monthly)
    rows = cs.table.iloc[idx]
    maps = _maps(scenario, rows["underlying"])
    moves = _moves(scenario, maps, market, kind="monte_carlo", n=oos.n, seed=oos.seed)
    pnl = pnl_matrix(
        _structures(cs, idx),
        moves,
        multipliers=rows["multiplier"].to_numpy(dtype=float),
        fx=rows["fx"].to_numpy(dtype=float),
    )
    monthly = None
    if managed:
        monthly = _managed(
            scenario, cs, market, maps, idx, n_months=oos.n, seed=oos.seed
        ).monthly_samples
    return OutOfSample(pnl, moves.horizon_days, monthly)
