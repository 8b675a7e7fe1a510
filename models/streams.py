"""Return-stream strategies (seed 2, QuantAI) and a Monte Carlo of daily equity paths.

A *return stream* is a strategy described only by its trade statistics — trades per day, a
win probability, the return of a winning and of a losing trade, the stake per trade — as in
seed 2's ``scripts/small_capital_optimizer.py`` (kuthy9/QuantAI; domain.md §8). This module is
solver-free and knows nothing about the seed's claims: it simulates what stated trade
parameters imply under seed 2's risk framework.

The model (**per-trade Bernoulli with fixed win/loss returns on the stake, i.i.d. trades,
sequential compounding inside the day, Markov-chain regime days**):

* Stream ``k`` trades ``n_k`` times per trading day (``count="fixed"``) or ``N ~ Poisson(n_k)``
  times (``count="poisson"``, truncated at ``n_k + 10 sqrt(n_k) + 10``, a truncation
  probability below 1e-12). A ``regime_only`` stream trades only on regime days.
* Every trade stakes ``a_k · position_fraction_k · capital_efficiency_k`` of the *current*
  equity (``a_k`` = the stream's allocation, a fraction of the account) and returns
  ``+win_return`` of the stake with probability ``win_probability``, else ``-loss_return``;
  trades are independent of each other, across streams and across days (Bernoulli outcomes,
  no serial correlation of outcomes). Costs per round trip: ``cost_rate`` × the exposure
  (stake × leverage) plus ``min_cost`` (account currency) divided by the day's opening equity.
  Returns are on the stake with leverage already included ("6% per leveraged trade"); the
  leverage only sizes the exposure (for costs, the leverage cap and the position limits).
* Trades of all streams are interleaved in one session: stream ``k``'s slots sit at times
  ``(i + 1/2) / slots_k`` of the day and are executed in time order (ties in stream order).
* Regime days (e.g. VIX close > 25) follow a two-state Markov chain (:class:`RegimeChain`)
  fitted on a daily history by :func:`fit_regime`; paths start from its stationary
  distribution.
* Seed 2's risk framework ("Risk Management Framework" of the seed document;
  ``KillSwitch``/``RiskControlAgent`` defaults in its code): after every trade, if the day's
  equity is at or below ``1 - daily_loss_limit`` of the day's opening equity, trading stops
  for the day (the trade that crossed the limit stands); if equity is at or below
  ``1 - kill_drawdown`` of its running peak (marked after every trade), the kill switch stops
  the plan for good: no more trades and no more operating costs (the system is shut down).
* Monthly operating costs (account currency) are paid from the account at the close of every
  ``days_per_month``-th day; an account that cannot pay them is ruined (equity set to 0, the
  plan stops). The payment is a withdrawal, not a trading loss: drawdowns are those of the
  time-weighted return (the running peak shrinks in proportion to the payment), so the kill
  switch and the drawdown statistics watch trading only.

Units: money in the account currency (USD for seed 2); returns and limits as fractions (0.05 =
5%); days are trading days (21 per month, 252 per year as in seed 2's
``financial_projection_validator.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from models.errors import ModelError

__all__ = [
    "EquitySimulation",
    "RegimeChain",
    "RiskLimits",
    "Stream",
    "analytic_mean_growth",
    "fit_regime",
    "implied_win_probability",
    "no_edge_win_probability",
    "simulate_equity",
]

CountModel = Literal["fixed", "poisson"]


def implied_win_probability(average: float, stop_loss: float, take_profit: float) -> float:
    """Win rate a two-point trade needs to average ``average`` with the given stop and target.

    ``p · take_profit - (1 - p) · stop_loss = average``  ⇒  ``p = (average + stop_loss) /
    (take_profit + stop_loss)``: the only win rate at which a trade that either reaches its
    take-profit or its stop produces the stated average.

    Parameters
    ----------
    average : float
        Stated average return per trade (fraction of the stake; 0.008 = 0.8%).
    stop_loss, take_profit : float
        Loss at the stop and gain at the target (positive fractions of the stake).

    Returns
    -------
    float
        The implied win probability; > 1 or < 0 means no win rate can produce the average.

    Raises
    ------
    ValueError
        If ``stop_loss`` or ``take_profit`` is not positive.
    """
    if not (stop_loss > 0 and take_profit > 0):
        raise ValueError("stop_loss and take_profit must be positive")
    return (average + stop_loss) / (take_profit + stop_loss)


def no_edge_win_probability(stop_loss: float, take_profit: float) -> float:
    """Win rate of a stop/target trade on a driftless price: ``stop_loss / (stop_loss + take_profit)``.

    For a martingale price that is stopped at ``+take_profit`` or ``-stop_loss`` (optional
    stopping theorem; the gambler's-ruin probability), the expected gross return of the trade
    is zero, so ``p · TP = (1 - p) · SL``. It is the win rate of a strategy with no forecasting
    edge, the benchmark against which a stated edge is an assumption.

    Raises
    ------
    ValueError
        If ``stop_loss`` or ``take_profit`` is not positive.
    """
    if not (stop_loss > 0 and take_profit > 0):
        raise ValueError("stop_loss and take_profit must be positive")
    return stop_loss / (stop_loss + take_profit)


# ----------------------------------------------------------------------------- regime
@dataclass(frozen=True)
class RegimeChain:
    """Two-state Markov chain of regime days (e.g. VIX close above a threshold).

    Attributes
    ----------
    threshold : float
        The level the condition compares the history with (VIX points).
    p_enter : float
        P(regime tomorrow | no regime today), per trading day.
    p_stay : float
        P(regime tomorrow | regime today), per trading day.
    source : str
        What it was fitted on (file, dates, number of days), for the assumptions list.
    """

    threshold: float
    p_enter: float
    p_stay: float
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("p_enter", "p_stay"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ModelError(f"regime {name} must lie in [0, 1], got {v}")

    @property
    def stationary(self) -> float:
        """Long-run share of regime days: ``p_enter / (1 - p_stay + p_enter)``."""
        den = 1.0 - self.p_stay + self.p_enter
        return 0.0 if den <= 0 else self.p_enter / den

    @property
    def mean_spell(self) -> float:
        """Mean length of a regime spell in trading days, ``1 / (1 - p_stay)``."""
        return math.inf if self.p_stay >= 1 else 1.0 / (1.0 - self.p_stay)

    @property
    def transition(self) -> np.ndarray:
        """Transition matrix, shape (2, 2), state 0 = no regime, 1 = regime; rows sum to 1."""
        return np.array([[1 - self.p_enter, self.p_enter], [1 - self.p_stay, self.p_stay]])

    def sample(self, rng: np.random.Generator, n_paths: int, n_days: int) -> np.ndarray:
        """Regime indicator per path and day, shape (n_paths, n_days), bool.

        Day 0 is drawn from the stationary distribution; later days from the chain.
        """
        out = np.empty((n_paths, n_days), dtype=bool)
        if n_days == 0:
            return out
        state = rng.random(n_paths) < self.stationary
        out[:, 0] = state
        for t in range(1, n_days):
            u = rng.random(n_paths)
            state = np.where(state, u < self.p_stay, u < self.p_enter)
            out[:, t] = state
        return out


def fit_regime(
    history: pd.Series,
    threshold: float,
    *,
    start: str | None = None,
    end: str | None = None,
    source: str = "",
) -> RegimeChain:
    """Fit :class:`RegimeChain` on a daily history: regime day = close > ``threshold``.

    The maximum-likelihood estimates of a two-state chain are the transition frequencies
    between consecutive observations (trading days of the history).

    Parameters
    ----------
    history : pd.Series
        Daily closes indexed by date (e.g. :func:`models.market.history.load_vix_history`).
    threshold : float
        Regime when the close is strictly above it.
    start, end : str, optional
        ISO dates bounding the fit window (inclusive).
    source : str
        Label of the data (file name) for :attr:`RegimeChain.source`.

    Raises
    ------
    ModelError
        Fewer than two observations in the window, or no day outside (inside) the regime.
    """
    s = history.sort_index()
    if start is not None:
        s = s[s.index >= pd.Timestamp(start)]
    if end is not None:
        s = s[s.index <= pd.Timestamp(end)]
    on = s.to_numpy(dtype=float) > threshold
    if on.size < 2:
        raise ModelError(f"regime fit needs at least 2 days of history, got {on.size}")
    prev, nxt = on[:-1], on[1:]
    n_off, n_on = int((~prev).sum()), int(prev.sum())
    if n_off == 0 or n_on == 0:
        raise ModelError(
            f"regime fit: the history is {'always' if n_off == 0 else 'never'} above "
            f"{threshold:g}; a two-state chain cannot be fitted"
        )
    p_enter = float((nxt & ~prev).sum() / n_off)
    p_stay = float((nxt & prev).sum() / n_on)
    label = (
        f"{source + ': ' if source else ''}close > {threshold:g} on {on.mean():.1%} of "
        f"{on.size:,} trading days {s.index[0].date()}…{s.index[-1].date()}"
    )
    return RegimeChain(threshold=float(threshold), p_enter=p_enter, p_stay=p_stay, source=label)


# ----------------------------------------------------------------------------- streams
@dataclass(frozen=True)
class Stream:
    """One return stream: trade frequency, two-point trade outcome, stake and costs.

    Attributes
    ----------
    name : str
        Label (``"scalping"``).
    trades_per_day : float
        Trades per trading day (exact count for ``count="fixed"``, then an integer; the
        Poisson mean otherwise).
    win_probability : float
        P(a trade wins), in [0, 1].
    win_return : float
        Return of a winning trade, fraction of the stake (≥ 0).
    loss_return : float
        Loss of a losing trade, positive fraction of the stake, at most ``leverage``.
    position_fraction : float
        Stake per trade as a fraction of the stream's capital (seed: "25% per trade").
    leverage : float
        Exposure per unit of stake (≥ 1); sizes costs and the leverage/position checks.
    capital_efficiency : float
        Share of the allocated capital that is deployed (seed: ``capital_efficiency``); the
        stake is ``position_fraction × capital_efficiency`` of the stream's capital.
    cost_rate : float
        Round-trip trading cost as a fraction of the exposure (commission, spread, slippage).
    min_cost : float
        Minimum round-trip cost per trade, account currency (commission minimums).
    regime_only : bool
        Trade only on regime days.
    count : {"fixed", "poisson"}
        Trade-count model.
    """

    name: str
    trades_per_day: float
    win_probability: float
    win_return: float
    loss_return: float
    position_fraction: float
    leverage: float = 1.0
    capital_efficiency: float = 1.0
    cost_rate: float = 0.0
    min_cost: float = 0.0
    regime_only: bool = False
    count: CountModel = "fixed"

    def __post_init__(self) -> None:
        where = f"stream {self.name!r}"
        checks = [
            ("trades_per_day", self.trades_per_day >= 0),
            ("win_probability", 0.0 <= self.win_probability <= 1.0),
            ("win_return", self.win_return >= 0),
            ("loss_return", 0 <= self.loss_return <= self.leverage),
            ("position_fraction", 0 <= self.position_fraction <= 1),
            ("leverage", self.leverage >= 1),
            ("capital_efficiency", 0 <= self.capital_efficiency <= 1),
            ("cost_rate", 0 <= self.cost_rate < 1),
            ("min_cost", self.min_cost >= 0),
        ]
        for name, ok in checks:
            value = getattr(self, name)
            if not ok or not math.isfinite(float(value)):
                raise ModelError(f"{where}: {name} = {value!r} is out of range")
        if self.count not in ("fixed", "poisson"):
            raise ModelError(f"{where}: count must be 'fixed' or 'poisson', got {self.count!r}")
        if self.count == "fixed" and float(self.trades_per_day) != int(self.trades_per_day):
            raise ModelError(
                f"{where}: count 'fixed' needs a whole number of trades per day, got "
                f"{self.trades_per_day} (use count: poisson for a mean)"
            )

    @property
    def stake(self) -> float:
        """Stake per trade as a fraction of the stream's capital."""
        return self.position_fraction * self.capital_efficiency

    @property
    def exposure(self) -> float:
        """Exposure of one open position per unit of the stream's capital (stake × leverage)."""
        return self.stake * self.leverage

    @property
    def expected_trade_return(self) -> float:
        """Expected gross return of a trade on its stake: ``p W - (1 - p) L``."""
        p = self.win_probability
        return p * self.win_return - (1 - p) * self.loss_return

    @property
    def slots(self) -> int:
        """Trade slots per day: the count (fixed) or the Poisson truncation point."""
        n = float(self.trades_per_day)
        if self.count == "fixed":
            return int(n)
        return int(math.ceil(n + 10 * math.sqrt(n) + 10)) if n > 0 else 0

    def with_win_probability(self, p: float) -> Stream:
        """A copy with another win probability."""
        return Stream(**{**self.__dict__, "win_probability": float(p)})


@dataclass(frozen=True)
class RiskLimits:
    """Seed 2's risk framework as simulated.

    Attributes
    ----------
    daily_loss_limit : float or None
        Stop trading for the day once equity ≤ (1 - limit) × the day's opening equity (seed:
        "Daily Loss Limits: 5% of capital per day"; ``KillSwitch`` 5% daily loss). None: off.
    kill_drawdown : float or None
        Stop the plan once equity ≤ (1 - kill) × its running peak (seed: "Maximum Drawdown:
        15%" and "Kill Switch: automatic shutdown on excessive losses"). None: off.
    monthly_costs : float
        Operating costs paid at each month end, account currency (seed: $1,770.98 itemised).
    days_per_month : int
        Trading days per month (21, seed 2's ``trading_days_per_month``).
    """

    daily_loss_limit: float | None = 0.05
    kill_drawdown: float | None = 0.15
    monthly_costs: float = 0.0
    days_per_month: int = 21

    def __post_init__(self) -> None:
        for name in ("daily_loss_limit", "kill_drawdown"):
            v = getattr(self, name)
            if v is not None and not 0 < v <= 1:
                raise ModelError(f"risk limit {name} must lie in (0, 1], got {v}")
        if self.monthly_costs < 0 or not math.isfinite(self.monthly_costs):
            raise ModelError(f"monthly_costs must be ≥ 0, got {self.monthly_costs}")
        if self.days_per_month < 1:
            raise ModelError(f"days_per_month must be ≥ 1, got {self.days_per_month}")


@dataclass(frozen=True)
class EquitySimulation:
    """Daily equity paths of an allocation of streams under the risk limits.

    Attributes
    ----------
    capital : float
        Starting equity (account currency).
    equity : ndarray, shape (P, D + 1)
        Equity at the open of day 0 and at every day's close, after that day's operating
        costs (account currency).
    killed_day : ndarray, shape (P,), int
        Day (0-based) the kill switch fired; -1 if it never did.
    ruined_day : ndarray, shape (P,), int
        Day the account could not pay its operating costs; -1 if never.
    max_drawdown : ndarray, shape (P,)
        Largest peak-to-trough fall of the time-weighted equity (operating costs are
        withdrawals), marked after every trade (fraction of the peak).
    limit_days : ndarray, shape (P,), int
        Days on which the daily loss limit stopped trading.
    trades : ndarray, shape (P,), int
        Trades executed.
    days_per_month : int
        Trading days per month.
    """

    capital: float
    equity: np.ndarray
    killed_day: np.ndarray
    ruined_day: np.ndarray
    max_drawdown: np.ndarray
    limit_days: np.ndarray
    trades: np.ndarray
    days_per_month: int = 21
    regime_share: float = field(default=float("nan"))

    @property
    def n_paths(self) -> int:
        """Number of paths P."""
        return int(self.equity.shape[0])

    @property
    def n_days(self) -> int:
        """Simulated trading days D."""
        return int(self.equity.shape[1] - 1)

    @property
    def month_end(self) -> np.ndarray:
        """Equity at the start and at each month end, shape (P, M + 1) (account currency)."""
        idx = np.arange(0, self.n_days + 1, self.days_per_month)
        return self.equity[:, idx]

    @property
    def monthly_net(self) -> np.ndarray:
        """Net result of each month (change of equity, after costs), shape (P, M), money."""
        return np.diff(self.month_end, axis=1)

    @property
    def monthly_return(self) -> np.ndarray:
        """Each month's change of equity over its opening equity, shape (P, M) (0 if it was 0)."""
        me = self.month_end
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(me[:, :-1] > 0, me[:, 1:] / me[:, :-1] - 1.0, 0.0)
        return r

    def stopped_within(self, days: int) -> np.ndarray:
        """(P,) bool: kill switch or ruin within the first ``days`` trading days."""
        k = (self.killed_day >= 0) & (self.killed_day < days)
        r = (self.ruined_day >= 0) & (self.ruined_day < days)
        return k | r


def _slot_layout(streams: Sequence[Stream]) -> tuple[np.ndarray, np.ndarray]:
    """Stream index and within-stream index of every slot of a day, in time order."""
    times, owner, index = [], [], []
    for k, s in enumerate(streams):
        n = s.slots
        if n == 0:
            continue
        times.append((np.arange(n) + 0.5) / n)
        owner.append(np.full(n, k))
        index.append(np.arange(n))
    if not times:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    t, o, i = np.concatenate(times), np.concatenate(owner), np.concatenate(index)
    order = np.lexsort((o, t))
    return o[order], i[order]


def simulate_equity(
    streams: Sequence[Stream],
    allocations: Sequence[float] | np.ndarray,
    capital: float,
    limits: RiskLimits,
    *,
    n_paths: int,
    n_months: int = 12,
    seed: int | np.random.Generator | None = 0,
    regime: RegimeChain | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EquitySimulation:
    """Monte Carlo of daily equity paths of an allocation of streams (see the module docstring).

    Parameters
    ----------
    streams : sequence of Stream, length K
        The streams.
    allocations : array_like, shape (K,)
        Fraction of the account each stream trades with (≥ 0, sum ≤ 1; the rest is cash at 0%).
    capital : float
        Starting equity, account currency (> 0).
    limits : RiskLimits
        Daily loss limit, kill switch, monthly operating costs, days per month.
    n_paths : int
        Number of simulated paths P.
    n_months : int
        Months simulated (D = n_months × days_per_month trading days).
    seed : int or numpy Generator or None
        Seed of ``numpy.random.default_rng`` (or a generator): same seed, same paths.
    regime : RegimeChain, optional
        Regime-day chain; required when a stream is ``regime_only``.
    progress : callable, optional
        ``progress(day, n_days)`` after each simulated day.

    Returns
    -------
    EquitySimulation

    Raises
    ------
    ModelError
        Bad allocations, non-positive capital, or a regime-only stream without a chain.
    """
    streams = tuple(streams)
    a = np.asarray(allocations, dtype=float)
    if a.shape != (len(streams),):
        raise ModelError(f"allocations must have shape ({len(streams)},), got {a.shape}")
    if np.any(a < -1e-12) or a.sum() > 1 + 1e-9 or not np.all(np.isfinite(a)):
        raise ModelError(f"allocations must be ≥ 0 with a sum ≤ 1, got {a.tolist()}")
    a = np.clip(a, 0.0, None)
    if not (capital > 0 and math.isfinite(capital)):
        raise ModelError(f"capital must be positive, got {capital}")
    if n_paths < 1 or n_months < 1:
        raise ModelError("n_paths and n_months must be ≥ 1")
    if any(s.regime_only for s in streams) and regime is None:
        raise ModelError("a regime-only stream needs a regime chain")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    dpm = limits.days_per_month
    n_days = n_months * dpm
    owner, index = _slot_layout(streams)
    n_slots = owner.size
    p_win = np.array([s.win_probability for s in streams])[owner]
    stake = (a * np.array([s.stake for s in streams]))[owner]
    up = stake * np.array([s.win_return for s in streams])[owner]
    down = -stake * np.array([s.loss_return for s in streams])[owner]
    rate_cost = (a * np.array([s.exposure * s.cost_rate for s in streams]))[owner]
    min_cost = np.array([s.min_cost for s in streams])[owner] * (stake > 0)
    regime_slot = np.array([s.regime_only for s in streams], dtype=bool)[owner]
    poisson = [k for k, s in enumerate(streams) if s.count == "poisson" and s.slots > 0]
    lam = np.array([float(s.trades_per_day) for s in streams])

    regime_days = (
        regime.sample(rng, n_paths, n_days)
        if regime is not None and regime_slot.any()
        else np.zeros((n_paths, n_days), dtype=bool)
    )
    dl = limits.daily_loss_limit
    kd = limits.kill_drawdown
    floor_day = -np.inf if dl is None or dl >= 1 else math.log1p(-dl)
    floor_kill = -np.inf if kd is None or kd >= 1 else math.log1p(-kd)

    equity = np.empty((n_paths, n_days + 1))
    equity[:, 0] = capital
    eq = np.full(n_paths, float(capital))
    peak = eq.copy()
    alive = np.ones(n_paths, dtype=bool)
    killed_day = np.full(n_paths, -1)
    ruined_day = np.full(n_paths, -1)
    max_dd = np.zeros(n_paths)
    limit_days = np.zeros(n_paths, dtype=int)
    trades = np.zeros(n_paths, dtype=int)
    cols = np.arange(n_slots)

    for day in range(n_days):
        if n_slots and alive.any():
            active = np.broadcast_to(alive[:, None], (n_paths, n_slots)).copy()
            if regime_slot.any():
                active[:, regime_slot] &= regime_days[:, day, None]
            for k in poisson:
                counts = rng.poisson(lam[k], n_paths)
                sel = owner == k
                active[:, sel] &= index[sel][None, :] < counts[:, None]
            win = rng.random((n_paths, n_slots)) < p_win
            with np.errstate(divide="ignore"):
                fixed = np.where(eq > 0, 1.0 / eq, 0.0)
            r = np.where(win, up, down) - rate_cost - min_cost * fixed[:, None]
            r = np.where(active, np.maximum(r, -1.0), 0.0)
            with np.errstate(divide="ignore"):
                g = np.log1p(r)  # -inf for a total loss
            cum = np.cumsum(g, axis=1)
            # running peak relative to the day's open (log), including the peak before today
            peak_rel = np.log(peak / np.where(eq > 0, eq, 1.0))
            run_peak = np.maximum(np.maximum.accumulate(cum, axis=1), peak_rel[:, None])
            kill_hit = (cum - run_peak <= floor_kill + 1e-12) & active & (kd is not None)
            day_hit = (cum <= floor_day + 1e-12) & active & (dl is not None)
            hit = kill_hit | day_hit
            any_hit = hit.any(axis=1)
            first = np.where(any_hit, hit.argmax(axis=1), n_slots)
            done = cols[None, :] <= first[:, None]
            executed = active & done
            g_exec = np.where(done, g, 0.0)
            cum = np.cumsum(g_exec, axis=1)
            run_peak = np.maximum(np.maximum.accumulate(cum, axis=1), peak_rel[:, None])
            dd = 1.0 - np.exp(np.where(executed, cum - run_peak, 0.0))
            max_dd = np.maximum(max_dd, dd.max(axis=1))
            end = np.exp(cum[:, -1])
            new_peak = eq * np.exp(np.maximum(run_peak[:, -1], peak_rel))
            peak = np.where(alive, np.maximum(peak, new_peak), peak)
            trades += executed.sum(axis=1)
            killed_now = (
                alive & any_hit & kill_hit[np.arange(n_paths), np.minimum(first, n_slots - 1)]
            )
            limit_days += (alive & any_hit & ~killed_now).astype(int)
            eq = np.where(alive, eq * end, eq)
            eq = np.where(np.isfinite(eq), eq, 0.0)
            broke = alive & (eq <= 0)  # a total loss is ruin, whatever else fired
            killed_now &= ~broke
            ruined_day = np.where(broke, day, ruined_day)
            killed_day = np.where(killed_now & (killed_day < 0), day, killed_day)
            alive &= ~(killed_now | broke)
        if (day + 1) % dpm == 0 and limits.monthly_costs > 0:
            pay = alive
            before = eq
            eq = np.where(pay, eq - limits.monthly_costs, eq)
            broke = pay & (eq <= 0)
            ruined_day = np.where(broke, day, ruined_day)
            eq = np.where(broke, 0.0, eq)
            alive &= ~broke
            # a withdrawal, not a trading loss: the peak shrinks in proportion (time-weighted)
            with np.errstate(divide="ignore", invalid="ignore"):
                peak = np.where(alive, peak * eq / np.where(before > 0, before, 1.0), peak)
        equity[:, day + 1] = eq
        if progress is not None:
            progress(day + 1, n_days)
    return EquitySimulation(
        capital=float(capital),
        equity=equity,
        killed_day=killed_day,
        ruined_day=ruined_day,
        max_drawdown=max_dd,
        limit_days=limit_days,
        trades=trades,
        days_per_month=dpm,
        regime_share=float(regime_days.mean()) if regime_days.size else float("nan"),
    )


def analytic_mean_growth(
    streams: Sequence[Stream],
    allocations: Sequence[float] | np.ndarray,
    n_days: int,
    *,
    regime: RegimeChain | None = None,
) -> float:
    """Exact E[equity after ``n_days`` / starting equity] without limits, costs or minimum fees.

    Trades are independent, so the expected growth of a day is the product over its trades of
    ``1 + mu_k`` with ``mu_k = a_k · stake_k · (p W - (1 - p) L) - a_k · exposure_k · cost_rate``:
    ``(1 + mu_k)^n_k`` for a fixed count, ``exp(n_k mu_k)`` for a Poisson count (its probability
    generating function; the truncation of :attr:`Stream.slots` is ignored). Regime-only streams
    contribute on regime days only; the expectation over the chain's days (started from its
    stationary law) is ``pi' (G T)^(n-1) G 1`` with ``G = diag(growth off, growth on)``.

    Parameters
    ----------
    streams, allocations
        As in :func:`simulate_equity` (``min_cost`` must be 0 for this to be exact).
    n_days : int
        Horizon in trading days.
    regime : RegimeChain, optional
        Required when a stream is regime-only.

    Returns
    -------
    float
        Expected growth factor (1.0 = flat).
    """
    a = np.asarray(allocations, dtype=float)
    g = [1.0, 1.0]  # growth of a day without / with the regime
    for ak, s in zip(a, streams, strict=True):
        mu = ak * s.stake * s.expected_trade_return - ak * s.exposure * s.cost_rate
        n = float(s.trades_per_day)
        day = (1.0 + mu) ** n if s.count == "fixed" else math.exp(n * mu)
        g[1] *= day
        if not s.regime_only:
            g[0] *= day
    if n_days <= 0:
        return 1.0
    if regime is None:
        if any(s.regime_only for s in streams):
            raise ModelError("a regime-only stream needs a regime chain")
        return g[0] ** n_days
    pi = np.array([1.0 - regime.stationary, regime.stationary])
    G = np.diag(g)
    v = pi @ G
    T = regime.transition
    for _ in range(n_days - 1):
        v = (v @ T) @ G
    return float(v.sum())
