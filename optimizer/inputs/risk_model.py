"""Risk data of a scenario: market-scenario P&L, stress P&L and the income model's months.

Builds, from :mod:`models.measure.scenarios`, the 1-day market-scenario matrices the tail-risk family
needs (0DTE positions repriced over their own session only), carries the income model's monthly
samples (:mod:`optimizer.inputs.income_model`) for the chance and monthly-risk families (all per
contract unit, account currency, common random numbers across candidates), and re-evaluates a
chosen book on fresh, larger sets (out of sample).

S&P 500 products (SPX, SPXW, XSP, SPY, ES, MES) move one-for-one with the index (beta 1,
correlation 1, IV change = VIX change); every other traded product needs a stated
``risk.underlyings.<symbol>`` mapping (beta, correlation, vol, IV beta).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from models.errors import SpecError
from models.market.history import load_index_history, load_vix_history
from models.measure.managed import ManagedResult
from models.measure.scenarios import (
    MarketMoves,
    UnderlyingMap,
    historical_moves,
    monte_carlo_moves,
    pnl_matrix,
    stress_moves,
)
from models.strategies import Candidate
from optimizer.inputs.candidates import CandidateSet
from optimizer.inputs.history import index_ohlc, session_scale
from optimizer.inputs.income_model import (
    MONTHS,
    SP500_FAMILY,
    market_key,
    simulate_income,
)
from optimizer.inputs.market import Market
from optimizer.inputs.spec import Scenario

__all__ = [
    "RiskData",
    "SP500_FAMILY",
    "build_risk_data",
    "clear_cache",
    "evaluate_out_of_sample",
]

log = logging.getLogger(__name__)


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
        The income model (monthly samples (P*12, K), win rates …) in account currency.
    chance_months : int | None
        Leading monthly samples used in the optimization (chance constraint, monthly CVaR and
        drawdown caps) — whole paths of 12 months; None = all.
    """

    pnl: np.ndarray
    labels: tuple[str, ...]
    kind: str
    horizon_days: float
    stress_pnl: np.ndarray
    stress_labels: tuple[str, ...]
    managed: ManagedResult | None
    chance_months: int | None = None

    @property
    def monthly(self) -> np.ndarray | None:
        """(chance_months, K) monthly P&L samples the optimization uses (None without them)."""
        if self.managed is None:
            return None
        months = np.asarray(self.managed.monthly_samples)
        return months if self.chance_months is None else months[: self.chance_months]

    @property
    def path_months(self) -> np.ndarray | None:
        """(paths, 12, K) the same months grouped by path."""
        m = self.monthly
        return None if m is None else m.reshape(-1, self.managed.months_per_path, m.shape[1])


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


@lru_cache(maxsize=2)
def _opens(path: str):
    return index_ohlc(path)["open"]


def _moves(scenario: Scenario, maps, market: Market, *, kind: str, n: int, seed: int):
    vix, index = _histories(scenario)
    risk = scenario.risk
    if kind == "historical":
        hs = risk.historical
        opens = _opens(str(scenario.resolve(scenario.market.history.index)))
        return historical_moves(
            vix,
            index,
            horizon=hs.horizon,
            underlyings=maps,
            start=hs.start,
            end=hs.end,
            seed=seed,
            opens=opens,
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
        # share of the close-to-close variance in the regular session, measured on the S&P 500
        # (models.measure.physical.filtered_history: session_scale**2)
        session_fraction=session_scale(scenario) ** 2,
    )


def build_risk_data(
    scenario: Scenario, cs: CandidateSet, market: Market, *, managed: ManagedResult | None
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
    managed : ManagedResult | None
        The income model's result for every candidate of ``cs`` (its monthly samples feed the
        chance and monthly-risk families), or None.

    Raises
    ------
    SpecError
        Missing ``risk.underlyings`` mapping or history files; fixed-economics candidates.
    """
    key = (market_key(scenario), tuple(cs.ids))
    if key not in _RISK:
        _RISK[key] = _scenario_pnl(scenario, cs, market)
        while len(_RISK) > 2:
            _RISK.popitem(last=False)
    pnl, labels, kind, horizon, stress_pnl, stress_labels = _RISK[key]
    months = None
    if managed is not None:
        total = managed.monthly_samples.shape[0]
        per = managed.months_per_path
        months = min(total, per * max(1, math.ceil(scenario.target.chance.n_months / per)))
    return RiskData(
        pnl=pnl,
        labels=labels,
        kind=kind,
        horizon_days=horizon,
        stress_pnl=stress_pnl,
        stress_labels=stress_labels,
        managed=managed,
        chance_months=months,
    )


#: In-sample scenario and stress P&L by market and candidate set (study points share them).
_RISK: OrderedDict = OrderedDict()


def _scenario_pnl(scenario: Scenario, cs: CandidateSet, market: Market) -> tuple:
    """(pnl, labels, kind, horizon_days, stress_pnl, stress_labels) of the candidate set."""
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
    return pnl, moves.labels, moves.kind, moves.horizon_days, stress_pnl, stress.labels


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
    have no fresh history to draw from); the monthly samples come from the income model with the
    out-of-sample seed and ``ceil(n / 12)`` fresh paths of 12 months.
    """
    oos = scenario.risk.out_of_sample
    if not idx:  # an empty book: zero P&L in every fresh scenario and month
        monthly = np.zeros((oos.n, 0)) if managed else None
        return OutOfSample(np.zeros((oos.n, 0)), scenario.risk.monte_carlo.horizon_days, monthly)
    # Every candidate's fresh columns depend only on the candidate and the market (the moves
    # cover all the set's underlyings; the income paths' warm-up fits the whole set), so they
    # are cached per candidate: study points that differ in NLV or caps reuse them.
    base = (
        market_key(scenario),
        oos.n,
        oos.seed,
        _longest(cs),
        tuple(sorted(set(cs.table["underlying"]))),
    )
    moves_key = (base, "moves")
    if moves_key not in _OOS:
        maps = _maps(scenario, cs.table["underlying"])
        _remember(
            moves_key, _moves(scenario, maps, market, kind="monte_carlo", n=oos.n, seed=oos.seed)
        )
    moves = _OOS[moves_key]
    need_pnl = [i for i in idx if (base, "pnl", cs.ids[i]) not in _OOS]
    if need_pnl:
        rows = cs.table.iloc[need_pnl]
        cols = pnl_matrix(
            _structures(cs, need_pnl),
            moves,
            multipliers=rows["multiplier"].to_numpy(dtype=float),
            fx=rows["fx"].to_numpy(dtype=float),
        )
        for j, i in enumerate(need_pnl):
            _remember((base, "pnl", cs.ids[i]), cols[:, j].copy())
    pnl = np.column_stack([_OOS[(base, "pnl", cs.ids[i])] for i in idx])
    monthly = None
    if managed:
        need = [i for i in idx if (base, "months", cs.ids[i]) not in _OOS]
        if need:
            sim = simulate_income(
                scenario, cs, market, need, n_paths=math.ceil(oos.n / MONTHS), seed=oos.seed
            )
            samples = np.asarray(sim.result.monthly_samples)
            for j, i in enumerate(need):
                _remember((base, "months", cs.ids[i]), samples[:, j].copy())
        monthly = np.column_stack([_OOS[(base, "months", cs.ids[i])] for i in idx])
    return OutOfSample(pnl, moves.horizon_days, monthly)


#: Out-of-sample moves and per-candidate columns (1-day P&L, simulated months), by market.
_OOS: OrderedDict = OrderedDict()
_OOS_SIZE = 256  # entries (a candidate's two columns: ~0.3 MB at 20,000 draws)


def _remember(key, value) -> None:
    _OOS[key] = value
    _OOS.move_to_end(key)
    while len(_OOS) > _OOS_SIZE:
        _OOS.popitem(last=False)


def _longest(cs: CandidateSet) -> float:
    return max((c.t for c in cs.structures.values()), default=0.0)


def clear_cache() -> None:
    """Forget cached out-of-sample columns and in-sample risk data."""
    _OOS.clear()
    _RISK.clear()
