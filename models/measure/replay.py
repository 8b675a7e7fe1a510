"""Direct historical replay of fixed-moneyness option structures, against the income model.

The acceptance check of the income model (:mod:`models.measure.managed` on filtered-historical-simulation
paths, :mod:`models.measure.physical`): its expected P&L per trade of a structure at fixed moneyness must
equal the average P&L of the same structure entered on every historical day, within the
replay's confidence interval.

Structures (:func:`fixed_moneyness_structures`)
    Strikes are fractions of the entry spot (moneyness ``m = K / S_entry``); held to expiry, no
    management, no costs, zero rates and dividends (forward = spot, discount factor 1):

    * short put 5% OTM (``m = 0.95``), 30 calendar days;
    * iron condor: short put 0.95 and call 1.05, long wings 2.5% further (0.925, 1.075), 30 days;
    * LT112 (1-1-2): long put 0.93, short put 50 ES points below at 6,939.03
      (``m = 0.93 - 50 / 6939.03 = 0.92279``), two naked puts 0.88, 120 calendar days;
    * second variant, ``lt112_tk``: the same LT112 under the TK rules of the scenarios
      (:data:`TK_LT112`: the naked puts closed at 90% of their credit, everything at 21 DTE).

    A structure with ``t = days / 365`` years lives ``n = round(252 t)`` trading days — the
    engine's rule (:func:`models.measure.managed.trading_steps`): 21 for 30 days, **83** for 120 days
    (120 x 252 / 365 = 82.85; the calibration horizon of :mod:`models.measure.physical` rounds it to 82).
    The replay holds for the same ``n`` so both sides measure the same trade.
Shipped skew and the IV rule
    ``sigma_chain(k)``: the implied vol of the SPX chain of 2026-01-30
    (``scenarios/data/spx_yahoo_chain_2026-01-30.csv.gz``, :func:`models.market.chain.load_chain`) at
    the structure's tenor ``t`` and log-moneyness ``k = ln(K / F(t))``, i.e. read at strike
    ``F(t) m`` (:func:`chain_smile`). On a day with VIX close ``V`` a leg's IV is
    ``max(sigma_chain(ln m) + term_factor(t) (V - V_ref) / 100, 0.01)`` with the reference VIX
    ``V_ref = 17.44`` (Cboe close 2026-01-30) and :func:`models.measure.scenarios.term_factor` the
    square-root-of-time scale (1 at 30 days, 0.5 at 120 days): the engine's sticky-moneyness rule
    (:mod:`models.measure.managed`) with the IV shift measured from the reference day.
Direct historical replay (:func:`replay_hold_to_expiry`)
    For every S&P 500 trading day ``d`` in 1990-01-02 .. 2023-12-28 whose window ``d .. d + n``
    lies inside that range and that has a VIX close (:func:`models.measure.physical.window_returns`):
    enter at the close ``S_d`` with VIX ``V_d``; price the legs by Black-Scholes with forward =
    spot and rate 0 at the IVs above; settle at intrinsic value at the close ``n`` trading days
    later. P&L per unit of the structure per share, relative to the entry spot::

        pnl_d = sum_legs q (payoff(S_{d+n} / S_d; m) - BS(1, m, t, sigma_leg(V_d)))

    (``q`` signed quantity), so dates with different index levels are comparable; money per
    contract unit is ``pnl x multiplier x spot`` (MES at 6,939.03: x 34,695). The windows
    overlap (``n - 1`` days shared by neighbours), so the standard error of the mean is
    **Newey-West** (1987, Econometrica 55(3)) HAC with the Bartlett kernel and lag ``L = n``
    (:func:`newey_west_se`); the effective-sample rule ``sd / sqrt(N / n)`` is reported beside it
    (it is wider: for an MA(n-1) overlap the Bartlett kernel with lag ``n`` keeps only about 2/3
    of the long-run variance; both ignore clustering of losses beyond ``n`` days).
    With exit rules (:func:`replay_managed`) every leg is marked at every historical close by the
    same IV rule, read at the leg's current moneyness on the linear smile through the legs' IVs
    and the ATM IV, with that day's VIX and the remaining time's term factor. Run on the
    historical windows as paths (:func:`historical_paths`), the engine reproduces the replay
    trade for trade (``tests/models/test_pnl_replay.py``), so a model/replay difference is the
    measure's alone.
Model (:func:`model_trade_pnl`, :func:`model_hold_to_expiry`)
    The engine itself: :func:`models.measure.managed.simulate_managed` with one trade per path entered at
    the close of day 0 (``entries_per_month = 1000``: schedule spacing 0.021 days, so the
    rounded entry day is 0 on every path; ``D = n`` days, so no second trade completes), the
    structure's management (``Management()``: hold to expiry), no costs. The candidate's legs carry the chain smile at
    ``V_ref`` (:func:`structure_candidate`, spot 1, forward 1, discount factor 1), and the paths'
    IV shift is measured from the reference VIX, ``iv_shift = (vix - V_ref) / 100`` — so a path
    starting at VIX 30 enters at the shifted smile exactly like a replay day at VIX 30. Starting
    VIX levels are the replay's entry-day closes resampled with replacement. Paths: filtered
    historical simulation (:func:`models.measure.physical.fhs_paths`) or the light-tailed lognormal
    (:func:`models.measure.physical.lognormal_paths` with vol = VIX x the measured realized/implied ratio,
    :func:`models.income.measure_vol_ratio`). The model's standard error is the engine's
    ``expected_trade_se`` (independent paths). ``daily_vol = VIX / 100 / sqrt(252)`` only
    scales the engine's intraday bridge of 0DTE trades, unused here.
Comparison (:func:`pnl_replay_table`)
    Inside when ``|model - replay| <= 1.96 sqrt(SE_replay^2 + SE_model^2)``. Also the win rate
    (share of trades with P&L > 0) and the mean P&L of the other trades (mean loss when losing),
    each with a Newey-West standard error on the replay side (the mean loss by the delta method).

In-sample: the FHS residual pool is the same 1990-2023 history as the replay; what is tested is
that reshuffling it in blocks with a VIX AR(1), started at the replay's VIX levels, reproduces
the historical P&L of option structures priced by the shipped skew.

Result with the shipped data (30,000 paths; basis points of the entry spot): replay / FHS model
short put 41.9 [29.9, 53.9] / 41.0, iron condor 2.2 [-2.0, 6.5] / 0.6, LT112 186 [126, 246] /
184, LT112 TK 153 [104, 202] / 155 — all inside; the lognormal (no drift, vol VIX x 0.861) is
below the replay for all four (30.7, -12.5, 150, 123) and outside for the iron condor
(``benchmarks/calibration.py`` section 2).

Units: P&L and credits per share per unit of the structure, in units of the entry spot
(0.01 = 1% of spot); vols decimal; ``days`` calendar, ``n`` trading days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator, SeedSequence

from models.legs import Leg, Right
from models.market.pricing import black76_price
from models.measure.managed import UnderlyingPaths, simulate_managed, trading_steps
from models.measure.physical import (
    FilteredHistory,
    Paths,
    fhs_paths,
    lognormal_paths,
    window_returns,
)
from models.measure.scenarios import term_factor
from models.strategies import Candidate, Management

__all__ = [
    "MES_MULTIPLIER",
    "REFERENCE_SPOT",
    "REFERENCE_VIX",
    "REPLAY_END",
    "REPLAY_START",
    "REFERENCE_TIME",
    "TK_LT112",
    "FixedLeg",
    "FixedStructure",
    "PnlStats",
    "Replay",
    "chain_smile",
    "fixed_moneyness_structures",
    "historical_paths",
    "leg_ivs",
    "model_hold_to_expiry",
    "model_trade_pnl",
    "newey_west_se",
    "pnl_replay_table",
    "replay_hold_to_expiry",
    "replay_managed",
    "replay_strangle",
    "StrangleSpec",
    "StrangleStats",
    "TK_STRANGLE",
    "model_strangle",
    "strangle_candidate",
    "strangle_legs",
    "strangle_replay_table",
    "strangle_stats",
    "strangle_trades",
    "structure_candidate",
]

REFERENCE_VIX = 17.44
"""Cboe VIX close of 2026-01-30, the day of the shipped SPX chain (index points)."""

REFERENCE_SPOT = 6939.03
"""SPX close of 2026-01-30 (index points)."""

REFERENCE_TIME = datetime(2026, 1, 30, 16, 0)
"""Valuation time of the shipped SPX chain (after the close)."""

REPLAY_START, REPLAY_END = "1990-01-02", "2023-12-28"
"""Replay window: first VIX close .. last S&P 500 close of the shipped files."""

MES_MULTIPLIER = 5.0
"""Micro E-mini S&P 500 multiplier, USD per index point (for money per contract unit)."""

_IV_FLOOR = 0.01
_Z95 = 1.959963984540054
_ONE_AT_DAY_0 = 1000.0
"""Entries per month that put every path's first entry at day 0 (spacing 0.021 trading days)."""


# ----------------------------------------------------------------------------------------------
# Structures


@dataclass(frozen=True)
class FixedLeg:
    """One option leg at fixed moneyness.

    Parameters
    ----------
    right : Right
        Call or put.
    moneyness : float
        Strike as a fraction of the entry spot, ``K / S_entry`` (> 0).
    quantity : int
        Signed contracts per unit of the structure (negative = short).
    """

    right: Right
    moneyness: float
    quantity: int


@dataclass(frozen=True)
class FixedStructure:
    """An option structure with strikes at fixed moneyness (held to expiry unless ``management``).

    Parameters
    ----------
    name : str
        Label (``short_put``, ``iron_condor``, ``lt112``, ``lt112_tk``).
    template : str
        The built-in template it instantiates (:data:`models.strategies.TEMPLATES`; legs in the
        template's order).
    days : float
        Calendar days to expiry at entry.
    legs : tuple[FixedLeg, ...]
        Option legs per unit.
    management : Management
        Exit rules; ``Management()`` (the default) holds to expiry. The replay supports
        ``profit_target`` (whole structure or ``target_legs``, filled at the target),
        ``stop_loss`` and ``exit_dte`` (:func:`replay_managed`).
    """

    name: str
    template: str
    days: float
    legs: tuple[FixedLeg, ...]
    management: Management = field(default_factory=Management)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.days) and self.days > 0):
            raise ValueError(f"{self.name}: days must be a finite number > 0, got {self.days!r}")
        if not self.legs:
            raise ValueError(f"{self.name}: needs at least one leg")
        for leg in self.legs:
            if leg.right is Right.UNDERLYING or not (leg.moneyness > 0) or leg.quantity == 0:
                raise ValueError(f"{self.name}: legs must be options with moneyness > 0, qty != 0")
        mg = self.management
        unsupported = [
            name
            for name in (
                "delta_exit",
                "time_exit",
                "roll_untested_delta",
                "close_tested_delta",
                "vix_exit",
                "entry_iv_rank",
                "close_distance",
                "directional_move",
            )
            if getattr(mg, name, None) is not None
        ]
        if unsupported:
            raise ValueError(f"{self.name}: the replay supports no {', '.join(unsupported)}")

    @property
    def held_to_expiry(self) -> bool:
        """True when the structure has no exit rule."""
        return self.management == Management()

    @property
    def t(self) -> float:
        """Years to expiry at entry, ``days / 365``."""
        return self.days / 365.0

    @property
    def n_days(self) -> int:
        """Trading days held, ``round(252 t)`` (:func:`models.measure.managed.trading_steps`)."""
        return trading_steps(self.t)

    @property
    def taus(self) -> np.ndarray:
        """(n + 1,) years to expiry at entry and after each trading day, ``t (1 - j / n)``."""
        n = self.n_days
        return self.t * (1.0 - np.arange(n + 1) / n)

    @property
    def forced_step(self) -> int:
        """First step ``j >= 1`` with ``tau_j <= exit_dte / 365`` (``n`` without ``exit_dte``)."""
        if self.management.exit_dte is None:
            return self.n_days
        hit = np.nonzero(self.taus[1:] <= float(self.management.exit_dte) / 365.0 + 1e-9)[0]
        return int(hit[0]) + 1 if hit.size else self.n_days

    @property
    def moneyness(self) -> np.ndarray:
        """(L,) strikes / entry spot."""
        return np.array([leg.moneyness for leg in self.legs], dtype=float)

    @property
    def quantity(self) -> np.ndarray:
        """(L,) signed quantities."""
        return np.array([leg.quantity for leg in self.legs], dtype=float)

    @property
    def is_call(self) -> np.ndarray:
        """(L,) True for calls."""
        return np.array([leg.right is Right.CALL for leg in self.legs], dtype=bool)


TK_LT112 = Management(profit_target=0.9, exit_dte=21.0, target_legs=(2,))
"""The LT112 rules of ``scenarios/tom_king/phase*.yaml``: the naked puts (leg 2) closed at 90% of
their credit, everything closed at 21 days to expiry."""


def fixed_moneyness_structures(
    spot: float = REFERENCE_SPOT, *, managed: bool = False
) -> tuple[FixedStructure, ...]:
    """The structures of the replay check: short put, iron condor, LT112 (and LT112 managed).

    Parameters
    ----------
    spot : float
        Index level that turns the LT112's 50-point spread width into moneyness (6,939.03).
    managed : bool
        Also return ``lt112_tk``: the LT112 under :data:`TK_LT112`.

    Returns
    -------
    tuple[FixedStructure, ...]
        ``short_put`` (-1P 0.95, 30 d), ``iron_condor`` (-1P 0.95, +1P 0.925, -1C 1.05,
        +1C 1.075, 30 d), ``lt112`` (+1P 0.93, -1P 0.93 - 50/spot, -2P 0.88, 120 d), held to
        expiry; then ``lt112_tk`` if ``managed``.
    """
    P, C = Right.PUT, Right.CALL
    lt112 = (
        FixedLeg(P, 0.93, +1),
        FixedLeg(P, 0.93 - 50.0 / float(spot), -1),
        FixedLeg(P, 0.88, -2),
    )
    tk = (FixedStructure("lt112_tk", "lt112", 120.0, lt112, TK_LT112),) if managed else ()
    return (
        FixedStructure("short_put", "cash_secured_put", 30.0, (FixedLeg(P, 0.95, -1),)),
        FixedStructure(
            "iron_condor",
            "iron_condor",
            30.0,
            (
                FixedLeg(P, 0.95, -1),
                FixedLeg(P, 0.925, +1),
                FixedLeg(C, 1.05, -1),
                FixedLeg(C, 1.075, +1),
            ),
        ),
        FixedStructure("lt112", "lt112", 120.0, lt112),
    ) + tk


# ----------------------------------------------------------------------------------------------
# Skew and IVs


def chain_smile(surface, structure: FixedStructure) -> tuple[float, np.ndarray]:
    """ATM IV and leg IVs of the shipped smile at the structure's tenor.

    ``sigma_chain(k) = surface.iv(F(t) e^k, t)`` at ``k = ln(m)`` for each leg's moneyness ``m``
    and at ``k = 0``: the smile is read against the chain's forward (its rates and dividends),
    and applied with forward = spot in the replay and the model.

    Parameters
    ----------
    surface : models.market.chain.surface.SmileSurface
        E.g. ``load_chain(...).surface()`` of the shipped SPX chain.
    structure : FixedStructure

    Returns
    -------
    tuple[float, np.ndarray]
        ``(atm_iv, (L,) leg IVs)``, decimal.
    """
    t = structure.t
    fwd = float(np.asarray(surface.forward(t)))
    atm = float(np.asarray(surface.iv(fwd, t)))
    ivs = np.asarray(surface.iv(fwd * structure.moneyness, t), dtype=float).reshape(-1)
    if not (np.all(np.isfinite(ivs) & (ivs > 0)) and math.isfinite(atm) and atm > 0):
        raise ValueError(f"{structure.name}: the surface has no IV at its strikes")
    return atm, ivs


def leg_ivs(
    base_ivs: np.ndarray, t: float, vix: np.ndarray, reference_vix: float = REFERENCE_VIX
) -> np.ndarray:
    """Leg IVs on days with VIX ``vix``: the shipped smile shifted by the VIX change.

    ``max(base_iv + term_factor(t) (vix - reference_vix) / 100, 0.01)``.

    Parameters
    ----------
    base_ivs : np.ndarray
        (L,) the legs' IVs at the reference VIX (decimal).
    t : float
        Years to expiry (term factor ``sqrt((30/365) / t)``, clipped to [0.25, 2]).
    vix : np.ndarray
        (N,) VIX closes, index points.
    reference_vix : float
        VIX of the day the smile was observed.

    Returns
    -------
    np.ndarray
        (N, L) IVs, decimal.
    """
    shift = float(term_factor(t)) * (np.asarray(vix, dtype=float) - reference_vix) / 100.0
    return np.maximum(np.asarray(base_ivs, dtype=float)[None, :] + shift[:, None], _IV_FLOOR)


def _credit(structure: FixedStructure, ivs: np.ndarray) -> np.ndarray:
    """(N,) net premium received per share in units of spot (forward = spot = 1, rate 0)."""
    prem = black76_price(
        1.0, structure.moneyness[None, :], structure.t, 0.0, ivs, structure.is_call[None, :]
    )
    return -(prem * structure.quantity[None, :]).sum(axis=1)


def structure_candidate(
    structure: FixedStructure,
    atm_iv: float,
    base_ivs: np.ndarray,
    *,
    spot: float = 1.0,
    valuation_time: datetime = REFERENCE_TIME,
    underlying: str = "SPX",
) -> Candidate:
    """The structure as a :class:`models.strategies.Candidate` priced on the reference smile.

    Strikes ``m x spot``, forward = spot, discount factor 1, ``t = days / 365``; leg prices are
    Black-Scholes at ``base_ivs`` (per share, instrument units).

    Parameters
    ----------
    structure : FixedStructure
    atm_iv : float
        ATM IV at the reference VIX (decimal): the ``k = 0`` node of the engine's smile.
    base_ivs : np.ndarray
        (L,) leg IVs at the reference VIX (decimal).
    spot : float
        Spot (1 gives P&L in units of spot).
    valuation_time : datetime
        Entry time; expiry = valuation + ``days``.
    underlying : str
        Symbol (the engine's path key).

    Returns
    -------
    Candidate
    """
    expiry = valuation_time + timedelta(days=float(structure.days))
    base = np.asarray(base_ivs, dtype=float)
    legs = tuple(
        Leg(
            leg.right,
            float(leg.moneyness * spot),
            expiry,
            int(leg.quantity),
            float(
                spot
                * black76_price(1.0, leg.moneyness, structure.t, 0.0, iv, leg.right is Right.CALL)
            ),
        )
        for leg, iv in zip(structure.legs, base, strict=True)
    )
    return Candidate(
        id=f"{structure.name}:{underlying}:fixed-moneyness",
        strategy=structure.name,
        template=structure.template,
        underlying=underlying,
        expiry=expiry,
        t=structure.t,
        spot=float(spot),
        forward=float(spot),
        discount_factor=1.0,
        atm_iv=float(atm_iv),
        legs=legs,
        ivs=tuple(float(v) for v in base),
    )


# ----------------------------------------------------------------------------------------------
# Statistics


def newey_west_se(x: np.ndarray, lag: int) -> float:
    """Newey-West (1987) HAC standard error of the mean of a series (Bartlett kernel).

    ``SE^2 = (g_0 + 2 sum_{j=1}^{L} (1 - j / (L + 1)) g_j) / N`` with
    ``g_j = sum_t (x_t - xbar)(x_{t-j} - xbar) / N``.

    Parameters
    ----------
    x : np.ndarray
        (N,) observations in time order.
    lag : int
        Truncation lag ``L >= 0`` (``0`` = the iid standard error with ``ddof = 0``).

    Returns
    -------
    float
        Standard error (NaN for ``N < 2``).
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 2:
        return float("nan")
    lag = max(0, min(int(lag), n - 1))
    u = x - x.mean()
    lrv = float(u @ u) / n
    for j in range(1, lag + 1):
        lrv += 2.0 * (1.0 - j / (lag + 1.0)) * float(u[j:] @ u[:-j]) / n
    return math.sqrt(max(lrv, 0.0) / n)


@dataclass(frozen=True)
class PnlStats:
    """Per-trade P&L statistics of one structure on one measure (units of the entry spot).

    Parameters
    ----------
    mean, se : float
        Mean P&L per trade and its standard error (replay: Newey-West; model: Monte Carlo).
    win_rate, win_rate_se : float
        Share of trades with P&L > 0 and its standard error.
    mean_loss, mean_loss_se : float
        Mean P&L of the trades with P&L <= 0 (<= 0) and its standard error (NaN for the model:
        the engine reports no per-trade samples; its Monte Carlo error is small beside the
        replay's).
    mean_credit : float
        Mean net premium received at entry.
    mean_return : float
        Mean simple return of the index over the holding period.
    n : int
        Trades (replay entry days or model paths).
    se_neff : float
        Replay only: ``sd / sqrt(N / n_days)`` (effective-sample rule); NaN for the model.
    """

    mean: float
    se: float
    win_rate: float
    win_rate_se: float
    mean_loss: float
    mean_loss_se: float
    mean_credit: float
    mean_return: float
    n: int
    se_neff: float = float("nan")

    @property
    def ci(self) -> tuple[float, float]:
        """95% interval ``mean -/+ 1.96 se``."""
        return self.mean - _Z95 * self.se, self.mean + _Z95 * self.se


@dataclass(frozen=True, eq=False)
class Replay:
    """A direct historical replay of one structure.

    Parameters
    ----------
    structure : FixedStructure
    trades : pd.DataFrame
        Indexed by entry date: ``vix`` (entry VIX close), ``simple_return``
        (``S_{d+n} / S_d - 1``), ``credit`` and ``pnl`` (units of the entry spot).
    stats : PnlStats
        Means with Newey-West standard errors (lag ``n_days``).
    base_ivs : np.ndarray
        (L,) leg IVs at the reference VIX.
    reference_vix : float
    """

    structure: FixedStructure
    trades: pd.DataFrame
    stats: PnlStats
    base_ivs: np.ndarray = field(repr=False)
    reference_vix: float = REFERENCE_VIX


def _stats(pnl: np.ndarray, credit: np.ndarray, growth: np.ndarray, lag: int, n: int) -> PnlStats:
    """Replay statistics of per-entry P&L (Newey-West standard errors with ``lag``)."""
    win = (pnl > 0).astype(float)
    loss, loss_se = _loss_stats(pnl, lag)
    return PnlStats(
        mean=float(pnl.mean()),
        se=newey_west_se(pnl, lag),
        win_rate=float(win.mean()),
        win_rate_se=newey_west_se(win, lag),
        mean_loss=loss,
        mean_loss_se=loss_se,
        mean_credit=float(credit.mean()),
        mean_return=float(growth.mean() - 1.0),
        n=int(pnl.size),
        se_neff=float(pnl.std(ddof=1) / math.sqrt(pnl.size / n)),
    )


def _loss_stats(pnl: np.ndarray, lag: int) -> tuple[float, float]:
    """Mean of the P&L <= 0 and its HAC standard error by the delta method.

    ``mu = E[x 1{x<=0}] / E[1{x<=0}]``; its influence function is ``(x - mu) 1{x<=0} / p``.
    """
    lose = pnl <= 0
    p = float(lose.mean())
    if p == 0:
        return 0.0, float("nan")
    mu = float(pnl[lose].mean())
    return mu, newey_west_se((pnl - mu) * lose / p, lag)


def replay_hold_to_expiry(
    structure: FixedStructure,
    close: pd.Series,
    vix: pd.Series,
    base_ivs: np.ndarray,
    *,
    reference_vix: float = REFERENCE_VIX,
    start=REPLAY_START,
    end=REPLAY_END,
    lag: int | None = None,
) -> Replay:
    """Enter the structure at every historical close, hold to expiry (module notes).

    Parameters
    ----------
    structure : FixedStructure
    close : pd.Series
        S&P 500 closes (:func:`models.market.history.load_index_history`).
    vix : pd.Series
        VIX closes (:func:`models.market.history.load_vix_history`).
    base_ivs : np.ndarray
        (L,) leg IVs at the reference VIX (:func:`chain_smile`).
    reference_vix : float
        VIX of the smile's day.
    start, end : date-like
        Window; entry and expiry closes both inside.
    lag : int | None
        Newey-West lag; default the holding period ``n_days``.

    Returns
    -------
    Replay
    """
    if not structure.held_to_expiry:
        raise ValueError(f"{structure.name} has exit rules: use replay_managed")
    n = structure.n_days
    lag = n if lag is None else int(lag)
    w = window_returns(close, vix, n, start=start, end=end)
    v = w["vix"].to_numpy()
    growth = 1.0 + w["simple_return"].to_numpy()
    credit = _credit(structure, leg_ivs(base_ivs, structure.t, v, reference_vix))
    sign = np.where(structure.is_call, 1.0, -1.0)
    payoff = np.maximum(sign[None, :] * (growth[:, None] - structure.moneyness[None, :]), 0.0)
    pnl = credit + (payoff * structure.quantity[None, :]).sum(axis=1)
    stats = _stats(pnl, credit, growth, lag, n)
    trades = pd.DataFrame(
        {"vix": v, "simple_return": growth - 1.0, "credit": credit, "pnl": pnl}, index=w.index
    )
    return Replay(structure, trades, stats, np.asarray(base_ivs, dtype=float), reference_vix)


def _bs_forward(
    x: np.ndarray, m: np.ndarray, tau: np.ndarray, sigma: np.ndarray, call
) -> np.ndarray:
    """Black-Scholes value per unit of entry spot, forward = spot ``e^x``, rate 0; intrinsic at
    ``tau = 0``."""
    return black76_price(np.exp(x), m, tau, 0.0, sigma, call)


def replay_managed(
    structure: FixedStructure,
    close: pd.Series,
    vix: pd.Series,
    atm_iv: float,
    base_ivs: np.ndarray,
    *,
    reference_vix: float = REFERENCE_VIX,
    start=REPLAY_START,
    end=REPLAY_END,
    lag: int | None = None,
) -> Replay:
    """Replay with the structure's exit rules, marking every leg at every historical close.

    Entry days are those of :func:`replay_hold_to_expiry`. After ``j`` trading days
    (``j = 0..n``) the trade has ``tau_j = t (1 - j / n)`` years left and log spot
    ``x_j = ln(S_{d+j} / S_d)``; each leg is marked by Black-Scholes (forward = spot, rate 0) at
    the documented sticky-moneyness IV: today's smile, linear in ``k`` through the legs' IVs and
    the ATM IV at ``k = 0`` (flat beyond), read at the leg's current ``k = ln(m) - x_j``, plus
    ``term_factor(tau_j) (V_{d+j} - V_ref) / 100`` with the historical VIX close of that day
    (carried over at most 5 missing days), floored at 0.01; intrinsic value at ``tau = 0``.
    Rules, checked at each close ``j >= 1`` (:class:`models.strategies.Management`):

    * ``profit_target p`` on the whole structure: P&L >= ``p |premium at entry|`` closes it,
      filled at exactly ``p |premium|`` (a resting limit order);
    * with ``target_legs``: those legs' own P&L >= ``p |their premium|`` closes them at the
      target; the other legs stay open;
    * ``stop_loss s``: P&L <= ``-s |premium|`` closes everything at that close's mark;
    * ``exit_dte``: everything is closed at the mark of the first close with
      ``tau_j <= exit_dte / 365``; otherwise settlement at expiry.

    With ``Management()`` this equals :func:`replay_hold_to_expiry` (the entry mark is the
    entry price; the final mark is the payoff).

    Parameters
    ----------
    structure : FixedStructure
    close, vix : pd.Series
        S&P 500 and VIX closes.
    atm_iv : float
        The smile's ATM node (decimal) (:func:`chain_smile`).
    base_ivs : np.ndarray
        (L,) leg IVs at the reference VIX.
    reference_vix, start, end, lag
        As in :func:`replay_hold_to_expiry`.

    Returns
    -------
    Replay
        ``trades`` also has ``close_step`` (trading days held) and ``target_hit`` (the profit
        target filled, on all or on the target legs).
    """
    n = structure.n_days
    lag = n if lag is None else int(lag)
    mg = structure.management
    idx, px, vpath = _windows(close, vix, n, start, end)
    x = np.log(px / px[:, :1])
    steps = np.arange(n + 1)
    taus = structure.taus
    m = structure.moneyness
    lk = np.log(m)
    nodes = {0.0: float(atm_iv)}
    for kk, iv in zip(lk, np.asarray(base_ivs, dtype=float), strict=True):
        nodes[float(kk)] = float(iv)
    smile_k = np.array(sorted(nodes))
    smile_v = np.array([nodes[k] for k in smile_k])
    tf = term_factor(taus)
    shift = tf[None, :] * (vpath - reference_vix) / 100.0  # (N, n+1)
    price = np.empty((len(m), *x.shape))
    for i, (mi, call) in enumerate(zip(m, structure.is_call, strict=True)):
        sig = np.maximum(np.interp(np.log(mi) - x, smile_k, smile_v) + shift, _IV_FLOOR)
        price[i] = _bs_forward(x, mi, taus[None, :], sig, bool(call))
    value = np.tensordot(structure.quantity, price, axes=1)  # (N, n+1)
    group = np.zeros(len(m), dtype=bool)  # the legs the profit target applies to, if any
    if mg.target_legs is not None:
        group[list(mg.target_legs)] = True
    vg = np.tensordot(structure.quantity * group, price, axes=1)
    vr = value - vg
    ref = np.abs(value[:, 0])
    p_t = mg.profit_target
    rows = np.arange(len(idx))
    cond = np.zeros(value.shape, dtype=bool)
    cond[:, structure.forced_step :] = True
    if mg.target_legs is not None and p_t is not None:
        ref_g = np.abs(vg[:, 0])
        pg = vg - vg[:, :1]
        hit = (pg >= p_t * ref_g[:, None]) & (steps[None, :] >= 1) & (ref_g[:, None] > 0)
        f1 = np.where(hit.any(axis=1), hit.argmax(axis=1), n + 1)
        frozen = p_t * ref_g
        cum = np.where(steps[None, :] >= f1[:, None], frozen[:, None], pg) + (vr - vr[:, :1])
        whole_target = None
    else:
        f1 = np.full(len(idx), n + 1)
        cum = value - value[:, :1]
        whole_target = (cum >= p_t * ref[:, None]) & (ref[:, None] > 0) if p_t is not None else None
        if whole_target is not None:
            cond |= whole_target
    if mg.stop_loss is not None:
        cond |= (cum <= -mg.stop_loss * ref[:, None]) & (ref[:, None] > 0)
    cond[:, 0] = False
    f = cond.argmax(axis=1)
    pnl = cum[rows, f]
    target_hit = f1 <= f
    if whole_target is not None:
        is_t = whole_target[rows, f]
        pnl = np.where(is_t, p_t * ref, pnl)
        target_hit = is_t
    credit = -value[:, 0]
    growth = px[:, n] / px[:, 0]
    stats = _stats(pnl, credit, growth, lag, n)
    trades = pd.DataFrame(
        {
            "vix": vpath[:, 0],
            "simple_return": growth - 1.0,
            "credit": credit,
            "pnl": pnl,
            "close_step": f,
            "target_hit": target_hit,
        },
        index=idx,
    )
    return Replay(structure, trades, stats, np.asarray(base_ivs, dtype=float), reference_vix)


def _windows(close: pd.Series, vix: pd.Series, n: int, start, end):
    """Entry days and their ``(N, n + 1)`` closes and VIX closes over the holding window.

    Entry days as :func:`models.measure.physical.window_returns` (a VIX close on the entry day, the exit
    close inside ``[start, end]``); VIX closes inside the window carry the last close over at
    most 5 missing days.
    """
    c = pd.Series(close, dtype=float)
    c = c[c.notna() & (c > 0)].sort_index()
    c = c[(c.index >= pd.Timestamp(start)) & (c.index <= pd.Timestamp(end))]
    w = window_returns(c, vix, n, start=start, end=end)
    pos = c.index.get_indexer(w.index)
    v = pd.Series(vix, dtype=float)
    v = v.reindex(v.index.union(c.index)).ffill(limit=5).reindex(c.index).to_numpy()
    cols = pos[:, None] + np.arange(n + 1)[None, :]
    px = c.to_numpy()[cols]
    vpath = v[cols]
    if not np.all(np.isfinite(vpath) & (vpath > 0)):
        raise ValueError("VIX closes missing inside some holding windows")
    return w.index, px, vpath


def historical_paths(
    close: pd.Series,
    vix: pd.Series,
    n_days: int,
    *,
    start=REPLAY_START,
    end=REPLAY_END,
    session_scale: float = 1.0,
) -> Paths:
    """The replay's historical windows as model paths, one path per entry day.

    Path ``i`` is the S&P 500 and VIX from the close of entry day ``d_i`` to ``n_days`` closes
    later: ``log_return[i, j] = ln(C_{d+j+1} / C_{d+j})``, ``vix[i, j] = V_{d+j}`` (entry days
    of :func:`replay_hold_to_expiry`). Running the engine on them (:func:`model_trade_pnl`)
    reproduces the direct replay trade by trade, so a model/replay difference is the measure's.

    Parameters
    ----------
    close, vix : pd.Series
        S&P 500 and VIX closes.
    n_days : int
        Trading days per window.
    start, end : date-like
        Replay window.
    session_scale : float
        The session move is this times the close-to-close move (used only by 0DTE trades).

    Returns
    -------
    Paths
        ``P`` = entry days, ``D = n_days``; ``day`` all ``-1``; ``measure`` names the window.
    """
    idx, px, vpath = _windows(close, vix, int(n_days), start, end)
    lr = np.diff(np.log(px), axis=1)
    return Paths(
        log_return=lr,
        vix=vpath,
        session_return=float(session_scale) * lr,
        day=np.full(lr.shape, -1, dtype=np.int32),
        measure=(
            f"historical S&P 500 / VIX windows of {int(n_days)} trading days entered "
            f"{idx[0].date()}..{idx[-1].date()} ({len(idx):,} entry days)"
        ),
        light_tailed=False,
    )


# ----------------------------------------------------------------------------------------------
# Model


def model_trade_pnl(
    structures: Sequence[FixedStructure],
    candidates: Sequence[Candidate],
    paths: Paths,
    *,
    session_scale: float,
    reference_vix: float = REFERENCE_VIX,
    seed: int = 0,
) -> list[PnlStats]:
    """The income model's P&L per trade of structures entered at day 0, under their own rules.

    Runs :func:`models.measure.managed.simulate_managed` on ``UnderlyingPaths(log_return,
    iv_shift = (vix - reference_vix) / 100, session_return, daily_vol = vix / 100 / sqrt(252),
    session_scale)`` with each structure's ``management``, no costs, multiplier 1,
    ``entries_per_month = 1000`` (every path's first entry at day 0), ``warmup_days = 0`` and
    ``months = 1``. One trade per path: the paths have ``D = n`` days, the trade opened at day 0
    closes at its forced step ``f`` (expiry, or ``exit_dte``), and a second trade, opened at
    ``f + 1`` or later, cannot complete when ``2 f + 1 > D``. Rules that can close the whole
    structure earlier (a whole-structure profit target, a stop) would let a second trade complete
    and are refused.

    Parameters
    ----------
    structures : Sequence[FixedStructure]
        K structures, all with ``n_days == paths.D``.
    candidates : Sequence[Candidate]
        (K,) their candidates (:func:`structure_candidate`, spot 1 for P&L in units of spot).
    paths : Paths
        ``P`` paths of ``D`` days whose ``vix[:, 0]`` are the entry VIX levels.
    session_scale : float
        Session / close-to-close vol ratio (used by the engine only for 0DTE trades).
    reference_vix : float
        VIX of the candidates' smile.
    seed : int
        Seed of the engine's entry phases.

    Returns
    -------
    list[PnlStats]
        (K,) the engine's ``expected_trade`` / ``expected_trade_se``, ``win_rate`` (binomial SE)
        and ``avg_loss``; the mean credit and index return recomputed from the paths.

    Raises
    ------
    ValueError
        A structure's holding period differs from ``paths.D``, its rules could close the whole
        structure before its forced step, or the engine did not close every trade at that step.
    """
    d = paths.D
    for s in structures:
        mg = s.management
        if s.n_days != d:
            raise ValueError(f"{s.name}: holds {s.n_days} days, the paths have {d}")
        early = mg.stop_loss is not None or (
            mg.profit_target is not None and mg.target_legs is None
        )
        if early or 2 * s.forced_step + 1 <= d:
            raise ValueError(f"{s.name}: its rules do not isolate one trade per path")
    vix = np.asarray(paths.vix, dtype=float)
    up = UnderlyingPaths(
        log_return=paths.log_return,
        iv_shift=(vix - reference_vix) / 100.0,
        session_return=paths.session_return,
        daily_vol=vix / 100.0 / math.sqrt(252.0),
        session_scale=float(session_scale),
        description=paths.measure,
    )
    k = len(candidates)
    res = simulate_managed(
        list(candidates),
        paths={c.underlying: up for c in candidates},
        multipliers=[1.0] * k,
        management=[s.management for s in structures],
        entries_per_month=[_ONE_AT_DAY_0] * k,
        seed=seed,
        months=1,
        warmup_days=0,
    )
    growth = float(np.mean(np.exp(np.sum(paths.log_return, axis=1))))
    out = []
    for j, (s, c) in enumerate(zip(structures, candidates, strict=True)):
        held = (s.taus[0] - s.taus[s.forced_step]) * 365.0
        if abs(float(res.avg_days_held[j]) - held) > 1e-6:
            raise ValueError(f"{s.name}: the engine did not close one trade per path at its step")
        credit = _credit(s, leg_ivs(np.asarray(c.ivs), s.t, vix[:, 0], reference_vix))
        p = float(res.win_rate[j])
        out.append(
            PnlStats(
                mean=float(res.expected_trade[j]),
                se=float(res.expected_trade_se[j]),
                win_rate=p,
                win_rate_se=math.sqrt(p * (1.0 - p) / paths.P),
                mean_loss=float(res.avg_loss[j]),
                mean_loss_se=float("nan"),
                mean_credit=float(credit.mean()),
                mean_return=growth - 1.0,
                n=paths.P,
            )
        )
    return out


def model_hold_to_expiry(
    structures: Sequence[FixedStructure],
    candidates: Sequence[Candidate],
    paths: Paths,
    *,
    session_scale: float,
    reference_vix: float = REFERENCE_VIX,
    seed: int = 0,
) -> list[PnlStats]:
    """:func:`model_trade_pnl` of structures without exit rules (``Management()``).

    Raises
    ------
    ValueError
        A structure has exit rules, or as :func:`model_trade_pnl`.
    """
    for s in structures:
        if not s.held_to_expiry:
            raise ValueError(f"{s.name} has exit rules: use model_trade_pnl")
    return model_trade_pnl(
        structures,
        candidates,
        paths,
        session_scale=session_scale,
        reference_vix=reference_vix,
        seed=seed,
    )


# ----------------------------------------------------------------------------------------------
# Futures strangles: replay on the underlying's own history against GARCH paths (issue 16)
#
# Separate section: the 90-DTE short strangles of the futures underlyings (CL/MCL on WTI),
# IV = implied/realized ratio x the underlying's own GARCH conditional vol
# (:mod:`models.market.futures_vol`), strikes by delta at each entry, the TK rules (profit target,
# exit DTE, delta exit). The same marking function prices the historical windows and the
# simulated GARCH paths, so a replay/model difference is the measure's alone.


TK_STRANGLE = Management(profit_target=0.5, exit_dte=21, delta_exit=0.30)
"""The TK futures-strangle rules of ``scenarios/tom_king/phase4.yaml``: 50% of the credit, 21 DTE,
"30 delta: exit all"."""


@dataclass(frozen=True)
class StrangleSpec:
    """A short strangle at fixed deltas on a parametric smile (per unit of the entry price).

    Parameters
    ----------
    days : float
        Calendar days to expiry at entry (90).
    put_delta, call_delta : float
        |Forward delta| of the short put and call at entry (0.06 = 6 delta).
    skew, curvature : float
        The smile of :class:`models.market.chain.surface.SyntheticSurface`:
        ``iv = atm (1 + skew x + curvature x^2)``, ``x = ln(K/F) / (atm sqrt(t))``.
    management : Management
        Exit rules (default :data:`TK_STRANGLE`).
    """

    days: float = 90.0
    put_delta: float = 0.06
    call_delta: float = 0.055
    skew: float = 0.0
    curvature: float = 0.0
    management: Management = TK_STRANGLE

    @property
    def t(self) -> float:
        """Years to expiry at entry, ``days / 365``."""
        return self.days / 365.0

    @property
    def n_days(self) -> int:
        """Trading days held at most, the engine's ``round(252 t)``."""
        return trading_steps(self.t)

    @property
    def taus(self) -> np.ndarray:
        """(n + 1,) years left after ``j`` trading days, ``t (n - j) / n``."""
        n = self.n_days
        return self.t * (n - np.arange(n + 1)) / n

    @property
    def forced_step(self) -> int:
        """First step with ``tau <= exit_dte / 365`` (else ``n``), the engine's rule."""
        mg = self.management
        if mg.exit_dte is None:
            return self.n_days
        hits = np.nonzero(self.taus[1:] <= float(mg.exit_dte) / 365.0 + 1e-9)[0]
        return int(hits[0]) + 1 if hits.size else self.n_days


def strangle_legs(spec: StrangleSpec, atm_iv) -> dict[str, np.ndarray]:
    """Strikes and IVs of the short strangle by delta at ATM IV(s) ``atm_iv``.

    Solves ``N(-d1) = put_delta`` and ``N(d1) = call_delta`` (forward deltas, Black-76, the
    leg's own smile IV) for the standardized moneyness ``x`` by bisection.

    Returns
    -------
    dict[str, np.ndarray]
        ``k_put, k_call`` (log-moneyness ``ln(K / F)``), ``iv_put, iv_call`` (decimal), each
        shaped like ``atm_iv``.
    """
    from scipy.special import ndtri

    a = np.asarray(atm_iv, dtype=float)
    rt = math.sqrt(spec.t)

    def s(x):
        return np.maximum(1.0 + spec.skew * x + spec.curvature * x * x, _IV_FLOOR / a)

    def solve(target_d1, lo, hi):
        lo = np.full(a.shape, lo)
        hi = np.full(a.shape, hi)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            sm = s(mid)
            f = -mid / sm + 0.5 * a * sm * rt - target_d1  # d1(x) - target, decreasing in x
            lo = np.where(f > 0, mid, lo)
            hi = np.where(f > 0, hi, mid)
        return 0.5 * (lo + hi)

    xp = solve(-float(ndtri(spec.put_delta)), -8.0, 0.0)
    xc = solve(float(ndtri(spec.call_delta)), 0.0, 8.0)
    return {
        "k_put": xp * a * rt,
        "k_call": xc * a * rt,
        "iv_put": a * s(xp),
        "iv_call": a * s(xc),
    }


def strangle_trades(spec: StrangleSpec, x: np.ndarray, iv: np.ndarray) -> pd.DataFrame:
    """Mark short strangles along price/IV paths under the spec's rules, one trade per row.

    Trade ``i`` is entered at the close of step 0 at the ATM IV ``iv[i, 0]`` with strikes by
    delta (:func:`strangle_legs`). After ``j`` trading days (``tau_j = t (n - j) / n``) each leg
    is marked by Black-76 (forward ``e^{x_j}``, rate 0) at the engine's sticky-moneyness IV: the
    entry smile, linear in ``k`` through the put, ATM and call nodes (flat beyond), read at the
    leg's current ``k = ln(K / F_0) - x_j``, plus ``term_factor(tau_j) (iv_j - iv_0)``, floored
    at 0.01; intrinsic value at ``tau = 0``. Rules at each close ``j >= 1``, as
    :func:`models.measure.managed.simulate_managed`: the profit target ``p`` fills at ``p x credit``; a
    stop ``s`` closes at the mark when P&L <= ``-s x credit``; ``delta_exit d`` closes at the mark
    when either short leg's ``|N(d1)| >= d`` (0 at expiry); ``exit_dte`` at the mark of the
    forced step; otherwise settlement at expiry. A target hit on the same close as another rule
    fills at the target.

    Parameters
    ----------
    spec : StrangleSpec
    x : np.ndarray
        (N, n + 1) log price relative to entry (column 0 = 0).
    iv : np.ndarray
        (N, n + 1) ATM implied vol level at each close (decimal); ``iv[:, 0]`` the entry level.

    Returns
    -------
    pd.DataFrame
        ``atm_iv, credit, pnl, close_step, reason`` (``target|stop|time|expiry|delta``), P&L
        and credit per unit of the entry price.
    """
    from scipy.special import ndtr

    n = spec.n_days
    x = np.asarray(x, dtype=float)
    iv = np.asarray(iv, dtype=float)
    if x.shape != iv.shape or x.ndim != 2 or x.shape[1] != n + 1:
        raise ValueError(f"x and iv must be (N, {n + 1}), got {x.shape} and {iv.shape}")
    legs = strangle_legs(spec, iv[:, 0])
    kp, kc = legs["k_put"][:, None], legs["k_call"][:, None]
    vp, vc, va = legs["iv_put"][:, None], legs["iv_call"][:, None], iv[:, :1]
    taus = spec.taus
    shift = term_factor(taus)[None, :] * (iv - iv[:, :1])
    live = taus > 0
    tt = np.where(live, taus, 1.0)[None, :]

    def smile(k):
        left = np.where(k <= kp, vp, vp + (va - vp) * (k - kp) / (0.0 - kp))
        right = np.where(k >= kc, vc, va + (vc - va) * k / kc)
        return np.where(k < 0.0, left, right)

    price = np.zeros_like(x)
    dmax = np.zeros_like(x)
    for lk, sign in ((kp, -1.0), (kc, 1.0)):
        k = lk - x
        sig = np.maximum(smile(k) + shift, _IV_FLOOR)
        v = sig * np.sqrt(tt)
        d1 = -k / v + 0.5 * v
        p = sign * (np.exp(x) * ndtr(sign * d1) - np.exp(lk) * ndtr(sign * (d1 - v)))
        intrinsic = np.maximum(sign * (np.exp(x) - np.exp(lk)), 0.0)
        price += np.where(live[None, :], p, intrinsic)
        dmax = np.maximum(dmax, np.where(live[None, :], ndtr(sign * d1), 0.0))
    credit = price[:, 0]
    cum = credit[:, None] - price
    mg = spec.management
    steps = np.arange(n + 1)[None, :]
    cond = np.broadcast_to(steps >= spec.forced_step, cum.shape).copy()
    target = stop = delta = None
    if mg.profit_target is not None:
        target = cum >= mg.profit_target * credit[:, None]
        cond |= target
    if mg.stop_loss is not None:
        stop = cum <= -mg.stop_loss * credit[:, None]
        cond |= stop
    if mg.delta_exit is not None:
        delta = dmax >= mg.delta_exit
        cond |= delta
    cond[:, 0] = False
    f = cond.argmax(axis=1)
    rows = np.arange(x.shape[0])
    pnl = cum[rows, f]
    reason = np.where(f == n, "expiry", "time").astype(object)
    if delta is not None:
        reason = np.where(delta[rows, f], "delta", reason)
    if stop is not None:
        reason = np.where(stop[rows, f], "stop", reason)
    if target is not None:
        hit = target[rows, f]
        reason = np.where(hit, "target", reason)
        pnl = np.where(hit, mg.profit_target * credit, pnl)
    return pd.DataFrame(
        {"atm_iv": iv[:, 0], "credit": credit, "pnl": pnl, "close_step": f, "reason": reason}
    )


@dataclass(frozen=True)
class StrangleStats:
    """Per-trade statistics of a strangle, relative to the mean credit.

    Parameters
    ----------
    edge, edge_se : float
        ``mean(pnl) / mean(credit)`` and its standard error (replay: Newey-West by the delta
        method, ``(pnl - edge credit) / mean(credit)``; model: the same with lag 0).
    loss, loss_se : float
        Mean P&L of the trades with P&L <= 0 over the mean credit (<= 0; the reviewer's "loss /
        credit"), and its standard error.
    win_rate, win_rate_se : float
        Share of trades with P&L > 0.
    mean_credit : float
        Mean credit per unit of the entry price.
    n : int
        Trades.
    lag : int
        Newey-West lag (0 for the model).
    """

    edge: float
    edge_se: float
    loss: float
    loss_se: float
    win_rate: float
    win_rate_se: float
    mean_credit: float
    n: int
    lag: int

    @property
    def edge_ci(self) -> tuple[float, float]:
        """95% interval of the edge."""
        return self.edge - _Z95 * self.edge_se, self.edge + _Z95 * self.edge_se

    @property
    def loss_ci(self) -> tuple[float, float]:
        """95% interval of the mean loss / credit."""
        return self.loss - _Z95 * self.loss_se, self.loss + _Z95 * self.loss_se


def strangle_stats(trades: pd.DataFrame, lag: int = 0) -> StrangleStats:
    """:class:`StrangleStats` of :func:`strangle_trades` rows in entry order (HAC ``lag``)."""
    pnl = trades["pnl"].to_numpy(dtype=float)
    credit = trades["credit"].to_numpy(dtype=float)
    c = float(credit.mean())
    edge = float(pnl.mean()) / c
    loss, loss_se = _loss_stats(pnl, lag)
    win = (pnl > 0).astype(float)
    return StrangleStats(
        edge=edge,
        edge_se=newey_west_se((pnl - edge * credit) / c, lag),
        loss=loss / c,
        loss_se=loss_se / c,
        win_rate=float(win.mean()),
        win_rate_se=newey_west_se(win, lag),
        mean_credit=c,
        n=int(pnl.size),
        lag=int(lag),
    )


def replay_strangle(
    close: pd.Series,
    params,
    spec: StrangleSpec,
    *,
    step: int = 1,
    warmup: int = 75,
    start=None,
    end=None,
) -> tuple[pd.DataFrame, StrangleStats]:
    """Replay short strangles on an underlying's own price history, IV from its GARCH vol.

    Conditional variance ``h`` by :func:`models.market.futures_vol.garch_filter` with ``params`` over the
    whole history; the ATM IV at the close of day ``d`` is ``ratio sqrt(252 h_{d+1})``
    (:func:`models.market.futures_vol.implied_vol`). A trade is entered at the close of every
    ``step``-th day ``d`` (after ``warmup`` days, in ``[start, end]``) whose window ``d .. d +
    n`` lies in the history, and marked on the historical closes and IVs of the window by
    :func:`strangle_trades`. The price history stands in for the futures (spot WTI for CL:
    no roll yield or contango); Black-76 with rate 0. Newey-West lag: the overlap in entries,
    ``ceil(n / step)``.

    Parameters
    ----------
    close : pd.Series
        Daily closes, date order.
    params : GarchParams
    spec : StrangleSpec
    step : int
        Entry every ``step`` trading days (1 = every day, 21 = monthly).
    warmup : int
        Days before the first entry (the filter's start-up).
    start, end : date-like, optional
        Window of the entry days.

    Returns
    -------
    tuple[pd.DataFrame, StrangleStats]
        Trades (:func:`strangle_trades` columns, indexed by entry date) and their statistics.
    """
    from models.market.futures_vol import garch_filter, implied_vol

    c = pd.Series(close, dtype=float)
    c = c[c.notna() & (c > 0)].sort_index()
    lr = np.log(c).diff().dropna()
    filt = garch_filter(lr, params)
    level = pd.Series(implied_vol(filt["sigma_next"].to_numpy() ** 2, params), index=lr.index)
    px = c.loc[lr.index].to_numpy()
    ivs = level.to_numpy()
    n = spec.n_days
    first = warmup
    pos = np.arange(first, len(px) - n, int(step))
    dates = lr.index[pos]
    keep = np.ones(pos.size, dtype=bool)
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    if end is not None:
        keep &= dates <= pd.Timestamp(end)
    pos, dates = pos[keep], dates[keep]
    cols = pos[:, None] + np.arange(n + 1)[None, :]
    x = np.log(px[cols] / px[pos][:, None])
    trades = strangle_trades(spec, x, ivs[cols])
    trades.index = dates
    lag = int(math.ceil(n / int(step)))
    return trades, strangle_stats(trades, lag)


def model_strangle(
    params,
    spec: StrangleSpec,
    atm_iv: np.ndarray,
    *,
    n_paths: int,
    seed: int,
    pool: np.ndarray | None = None,
    vol_model: str = "garch",
) -> tuple[pd.DataFrame, StrangleStats]:
    """The model's strangle trades: one per path on GARCH paths started at given ATM IVs.

    ``n_paths`` starting IVs are drawn with replacement from ``atm_iv`` (the replay's entry
    levels); each path starts at ``h = (iv / ratio)^2 / 252``
    (:func:`models.market.futures_vol.start_variance`) and runs :func:`models.market.futures_vol.simulate_garch`
    for ``n`` days with innovations resampled iid from ``pool`` (unit-variance standardized
    residuals: filtered historical simulation) or Student-t (``nu``); the IV path is
    ``ratio sqrt(252 h)``. ``vol_model="constant"``: the same innovations at the constant
    starting vol, IV constant (the light-tailed-in-time comparison).

    Returns
    -------
    tuple[pd.DataFrame, StrangleStats]
        Trades (:func:`strangle_trades`) and statistics with iid standard errors.
    """
    from models.market.futures_vol import implied_vol, simulate_garch, start_variance, t_innovations

    g = Generator(PCG64(SeedSequence(seed)))
    iv0 = g.choice(np.asarray(atm_iv, dtype=float), size=n_paths, replace=True)
    n = spec.n_days
    if pool is None:
        eps = t_innovations(g, params.nu, (n_paths, n))
    else:
        z = np.asarray(pool, dtype=float)
        eps = z[g.integers(0, z.size, size=(n_paths, n))]
    h0 = start_variance(iv0, params)
    if vol_model == "garch":
        r, h = simulate_garch(params, h0, eps)
        iv = implied_vol(h, params)
    elif vol_model == "constant":
        s = np.sqrt(h0)[:, None]
        r = s * eps - 0.5 * s * s
        iv = np.repeat(iv0[:, None], n + 1, axis=1)
    else:
        raise ValueError(f"vol_model must be 'garch' or 'constant', got {vol_model!r}")
    x = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(r, axis=1)], axis=1)
    trades = strangle_trades(spec, x, iv)
    return trades, strangle_stats(trades, 0)


def strangle_candidate(
    spec: StrangleSpec,
    atm_iv: float,
    *,
    underlying: str = "CL",
    valuation_time: datetime = REFERENCE_TIME,
) -> Candidate:
    """The strangle at ATM IV ``atm_iv`` as an engine candidate (spot = forward = 1, DF 1).

    Lets :func:`models.measure.managed.simulate_managed` mark the same trade as
    :func:`strangle_trades` (``tests/models/test_futures_vol.py`` checks they agree).
    """
    legs_ = strangle_legs(spec, np.array([float(atm_iv)]))
    expiry = valuation_time + timedelta(days=float(spec.days))
    legs = []
    ivs = []
    for right, k, v in (
        (Right.PUT, legs_["k_put"][0], legs_["iv_put"][0]),
        (Right.CALL, legs_["k_call"][0], legs_["iv_call"][0]),
    ):
        strike = math.exp(float(k))
        price = float(black76_price(1.0, strike, spec.t, 0.0, float(v), right is Right.CALL))
        legs.append(Leg(right, strike, expiry, -1, price))
        ivs.append(float(v))
    return Candidate(
        id=f"strangle:{underlying}:{spec.put_delta:g}p/{spec.call_delta:g}c",
        strategy="strangle",
        template="short_strangle",
        underlying=underlying,
        expiry=expiry,
        t=spec.t,
        spot=1.0,
        forward=1.0,
        discount_factor=1.0,
        atm_iv=float(atm_iv),
        legs=tuple(legs),
        ivs=tuple(ivs),
    )


def strangle_replay_table(
    close: pd.Series,
    params,
    specs: Sequence[StrangleSpec],
    *,
    pool: np.ndarray | None = None,
    n_paths: int = 20_000,
    seed: int = 20_260_130,
    step: int = 1,
    start=None,
    end=None,
) -> pd.DataFrame:
    """Replay against the GARCH model (and constant vol), one row per strangle spec.

    Per spec: :func:`replay_strangle` on ``close``, then :func:`model_strangle` started at the
    replay's entry ATM IVs (GARCH and constant vol, the same seed: common random numbers).
    Inside when ``|model - replay| <= 1.96 sqrt(se_replay^2 + se_model^2)`` (edge, loss).

    Returns
    -------
    pd.DataFrame
        Indexed by ``"<put>p/<call>c"``: ``n_entries, lag, credit``; ``replay_edge, replay_edge_se,
        replay_loss, replay_loss_se, replay_win, replay_win_se``; for ``garch`` and ``constant``:
        ``<m>_edge, <m>_edge_se, <m>_loss, <m>_loss_se, <m>_win, <m>_edge_in, <m>_loss_in``.
        ``attrs``: ``params`` (description), ``n_paths``, ``step``.
    """
    rows = []
    for spec in specs:
        trades, r = replay_strangle(close, params, spec, step=step, start=start, end=end)
        row = {
            "spec": f"{spec.put_delta:g}p/{spec.call_delta:g}c",
            "n_entries": r.n,
            "lag": r.lag,
            "credit": r.mean_credit,
            "replay_edge": r.edge,
            "replay_edge_se": r.edge_se,
            "replay_loss": r.loss,
            "replay_loss_se": r.loss_se,
            "replay_win": r.win_rate,
            "replay_win_se": r.win_rate_se,
        }
        levels = trades["atm_iv"].to_numpy()
        for vm in ("garch", "constant"):
            _, m = model_strangle(
                params, spec, levels, n_paths=n_paths, seed=seed, pool=pool, vol_model=vm
            )
            row.update(
                {
                    f"{vm}_edge": m.edge,
                    f"{vm}_edge_se": m.edge_se,
                    f"{vm}_loss": m.loss,
                    f"{vm}_loss_se": m.loss_se,
                    f"{vm}_win": m.win_rate,
                    f"{vm}_edge_in": bool(
                        abs(m.edge - r.edge) <= _Z95 * math.hypot(m.edge_se, r.edge_se)
                    ),
                    f"{vm}_loss_in": bool(
                        abs(m.loss - r.loss) <= _Z95 * math.hypot(m.loss_se, r.loss_se)
                    ),
                }
            )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("spec")
    table.attrs.update(params=params.describe(), n_paths=int(n_paths), step=int(step))
    return table


# ----------------------------------------------------------------------------------------------
# Comparison


def _inside(a: PnlStats, b: PnlStats) -> tuple[float, bool]:
    """``(z, inside)``: ``z = (b - a) / sqrt(se_a^2 + se_b^2)``, inside when ``|z| <= 1.96``."""
    s = math.hypot(a.se, b.se)
    z = (b.mean - a.mean) / s if s > 0 else float("inf")
    return z, bool(abs(z) <= _Z95)


def pnl_replay_table(
    close: pd.Series,
    vix: pd.Series,
    hist: FilteredHistory,
    surface,
    *,
    vol_ratio: float,
    n_paths: int = 30_000,
    seed: int = 20_260_130,
    mean_block: float = 21.0,
    structures: Sequence[FixedStructure] | None = None,
    reference_vix: float = REFERENCE_VIX,
    start=REPLAY_START,
    end=REPLAY_END,
) -> pd.DataFrame:
    """Replay against the FHS model and the lognormal, one row per structure.

    Per holding period ``n``: ``n_paths`` starting VIX levels are drawn with replacement (seeded)
    from the replay's entry-day VIX closes; FHS paths (``mean_block``) and lognormal paths (vol =
    VIX x ``vol_ratio``, session fraction ``session_scale^2``) start there; every structure of
    that period is simulated on the same paths (common random numbers). Structures with exit
    rules are replayed by :func:`replay_managed`, the others by :func:`replay_hold_to_expiry`.

    Parameters
    ----------
    close, vix : pd.Series
        S&P 500 and VIX closes.
    hist : FilteredHistory
        FHS residual pool (:func:`models.measure.physical.filtered_history`).
    surface : SmileSurface
        The shipped chain's surface (the skew).
    vol_ratio : float
        Lognormal realized/implied ratio (:func:`models.income.measure_vol_ratio`).
    n_paths, seed, mean_block
        Simulation size, seed (level draws ``seed``, FHS ``seed + 1 + i``, lognormal
        ``seed + 1001 + i`` for the ``i``-th holding period), bootstrap block.
    structures : Sequence[FixedStructure] | None
        Default ``fixed_moneyness_structures(managed=True)`` (the four of the module notes).
    reference_vix : float
        VIX of the smile's day.
    start, end : date-like
        Replay window.

    Returns
    -------
    pd.DataFrame
        Indexed by structure name: ``days, n_days, n_entries, credit``; for the replay ``replay,
        replay_se, replay_se_neff, ci_low, ci_high, replay_win, replay_win_se, replay_loss,
        replay_loss_se, replay_return``; for ``fhs`` and ``lognormal`` each ``<m>, <m>_se,
        <m>_z, <m>_in_ci, <m>_win, <m>_win_se, <m>_loss, <m>_return`` (``z`` = (model -
        replay) / combined SE). ``attrs``: ``measure``, ``vol_ratio``, ``n_paths``,
        ``reference_vix``, ``replays`` (name -> :class:`Replay`).
    """
    if structures is None:
        structures = fixed_moneyness_structures(managed=True)
    structures = tuple(structures)
    pick = Generator(PCG64(SeedSequence(seed)))
    replays: dict[str, Replay] = {}
    smiles: dict[str, tuple[float, np.ndarray]] = {}
    for s in structures:
        smiles[s.name] = chain_smile(surface, s)
        atm, base = smiles[s.name]
        replays[s.name] = (
            replay_hold_to_expiry(
                s, close, vix, base, reference_vix=reference_vix, start=start, end=end
            )
            if s.held_to_expiry
            else replay_managed(
                s, close, vix, atm, base, reference_vix=reference_vix, start=start, end=end
            )
        )
    model: dict[str, dict[str, PnlStats]] = {s.name: {} for s in structures}
    for i, n in enumerate(sorted({s.n_days for s in structures})):
        group = [s for s in structures if s.n_days == n]
        levels = replays[group[0].name].trades["vix"].to_numpy()
        v0 = pick.choice(levels, size=n_paths, replace=True)
        cands = [structure_candidate(s, *smiles[s.name]) for s in group]
        measures = {
            "fhs": fhs_paths(
                hist, vix0=v0, n_paths=n_paths, n_days=n, seed=seed + 1 + i, mean_block=mean_block
            ),
            "lognormal": lognormal_paths(
                vix0=v0,
                vol_ratio=vol_ratio,
                n_paths=n_paths,
                n_days=n,
                seed=seed + 1001 + i,
                session_fraction=hist.session_scale**2,
            ),
        }
        for name, p in measures.items():
            stats = model_trade_pnl(
                group,
                cands,
                p,
                session_scale=hist.session_scale,
                reference_vix=reference_vix,
                seed=seed,
            )
            for s, st in zip(group, stats, strict=True):
                model[s.name][name] = st
    rows = []
    for s in structures:
        r = replays[s.name].stats
        lo, hi = r.ci
        row = {
            "structure": s.name,
            "days": s.days,
            "n_days": s.n_days,
            "n_entries": r.n,
            "credit": r.mean_credit,
            "replay": r.mean,
            "replay_se": r.se,
            "replay_se_neff": r.se_neff,
            "ci_low": lo,
            "ci_high": hi,
            "replay_win": r.win_rate,
            "replay_win_se": r.win_rate_se,
            "replay_loss": r.mean_loss,
            "replay_loss_se": r.mean_loss_se,
            "replay_return": r.mean_return,
        }
        for name in ("fhs", "lognormal"):
            m = model[s.name][name]
            z, inside = _inside(r, m)
            row.update(
                {
                    name: m.mean,
                    f"{name}_se": m.se,
                    f"{name}_z": z,
                    f"{name}_in_ci": inside,
                    f"{name}_win": m.win_rate,
                    f"{name}_win_se": m.win_rate_se,
                    f"{name}_loss": m.mean_loss,
                    f"{name}_return": m.mean_return,
                }
            )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("structure")
    table.attrs.update(
        measure=hist.describe(mean_block),
        vol_ratio=float(vol_ratio),
        n_paths=int(n_paths),
        reference_vix=float(reference_vix),
        replays=replays,
    )
    return table
