"""Strategy templates, strike rules and candidate generation.

A *strategy template* is data: a tuple of :class:`LegTemplate` (right, signed quantity, strike rule).
Strike rules resolve against a vol surface (:class:`models.market.chain.SmileSurface` or a synthetic one):

* ``delta``: the listed strike whose Black-Scholes |delta| (surface IV at that strike) is nearest a
  target, on the OTM side of the forward;
* ``pct_otm``: ``F * (1 - p)`` for puts, ``F * (1 + p)`` for calls, snapped to the nearest listed strike;
* ``points_from``: a signed offset in price points from another leg's resolved strike (``-30`` =
  30 points below), snapped to the nearest listed strike strictly on the requested side;
* ``expected_move``: ``F * (1 -/+ m * sigma_atm * sqrt(t))`` for puts/calls.

A :class:`Candidate` is one concrete structure (underlying, expiry, resolved strikes, per-share leg
prices) of one strategy. The decision variable of the optimizer is its integer count; one count = one
unit of the structure (e.g. one 1-1-2 = 1 long put + 1 short put + 2 short puts).

Templates follow the Tom King methodology as summarised in ``docs/domain.md`` §3 (iron condor,
credit spreads, strangles, LT112 / 1-1-2) and the standard income structures (cash-secured put,
covered call).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np

from models.errors import ModelError
from models.legs import Leg, Right
from models.market.pricing import bsm_greeks
from models.market.variance_time import VarianceTime, session_variance_scale

__all__ = [
    "Candidate",
    "ExpiryRule",
    "LegTemplate",
    "Management",
    "RuleKind",
    "StrikeRule",
    "TEMPLATES",
    "VolSurface",
    "generate_candidates",
    "intraday_expiry",
    "next_session_close",
    "price_structure",
    "resolve_expiry",
    "template",
]


class VolSurface(Protocol):
    """What strike rules and valuation need from a chain (see :mod:`models.market.chain`)."""

    spot: float
    valuation_time: datetime

    def time_to_expiry(self, expiry: datetime) -> float:
        """Years (calendar) from the valuation time to ``expiry``."""
        ...

    def forward(self, t):
        """Forward price for time ``t`` in years (vectorized)."""
        ...

    def discount_factor(self, t):
        """Discount factor for time ``t`` in years (vectorized)."""
        ...

    def total_variance(self, strike, t):
        """Total implied variance ``iv**2 * t`` at ``strike`` and ``t`` (vectorized)."""
        ...

    def iv(self, strike, t):
        """Implied vol (decimal, annualized) at ``strike`` and ``t`` (vectorized)."""
        ...

    def listed_expiries(self) -> list[datetime]:
        """Listed expiries (empty for synthetic surfaces)."""
        ...

    def listed_strikes(self, expiry: datetime) -> np.ndarray:
        """Listed strikes for ``expiry`` (a strike grid for synthetic surfaces)."""
        ...


class RuleKind(StrEnum):
    """How a leg's strike is chosen."""

    DELTA = "delta"
    PCT_OTM = "pct_otm"
    POINTS_FROM = "points_from"
    EXPECTED_MOVE = "expected_move"


@dataclass(frozen=True)
class StrikeRule:
    """A strike rule whose numeric value comes from a named grid parameter.

    Parameters
    ----------
    kind : RuleKind
        The rule (see module docstring).
    param : str
        Name of the grid parameter holding the rule's value (e.g. ``short_delta``: |delta| as a
        decimal; ``wing_width``: points; ``put_otm``: fraction of the forward).
    ref : int | None
        For ``points_from``: index of the leg the offset is measured from (must come earlier).
    sign : int
        For ``points_from``: +1 above the reference strike, -1 below.
    """

    kind: RuleKind
    param: str
    ref: int | None = None
    sign: int = -1


@dataclass(frozen=True)
class LegTemplate:
    """One leg of a template: right, signed quantity per unit, and its strike rule (None for U)."""

    right: Right
    quantity: int
    rule: StrikeRule | None


@dataclass(frozen=True)
class Management:
    """Trade-management rules recorded with each strategy (applied by the managed income model).

    Parameters
    ----------
    profit_target : float | None
        Close when the profit reaches this fraction of the credit (0.5 = 50%).
    stop_loss : float | None
        Close when the loss reaches this multiple of the credit (2.0 = 200%).
    exit_dte : float | None
        Close at this many calendar days to expiry (21-DTE rule).
    time_exit : str | None
        Intraday time stop, exchange local ``HH:MM`` (0DTE: ``"15:00"``).
    target_legs : tuple[int, ...] | None
        Option legs (0-based, in the structure's order) the profit target applies to; those legs
        are closed at the target and the others stay open (TK LT112: the naked puts, leg 2, are
        closed at 90% of their credit and the debit spread is kept). ``None`` = the whole
        structure.
    delta_exit : float | None
        Close everything when a short option leg's absolute delta reaches this value (TK futures
        strangle defence: "30 delta: exit all").
    roll_untested_delta : float | None
        When a short leg's absolute delta first reaches this value, close the other (untested)
        short leg and sell a new one on the same expiry at the untested leg's entry delta (TK
        strangle defence: "20 roll the untested side"; once per trade). Needs one short put and
        one short call.
    close_tested_delta : float | None
        Close a short leg (the tested side) when its absolute delta reaches this value; the other
        legs stay open to their own exits (TK strangle defence: "25 close the tested side").
    vix_exit : float | None
        Close everything when the VIX closes above this level, and open no trade while it is
        above it (TK VIX > 30 protocol: "close all strangles").
    entry_iv_rank : float | None
        Skip a scheduled entry when the underlying's IV percentile over the trailing year is below
        this fraction (TK strangles: "IV rank > 30th percentile").
    close_distance : float | None
        Close everything when the spot comes within this fraction of the spot above the most
        out-of-the-money short put's strike (TK LT112: "25 [ES points from the naked strike]:
        close all").
    directional_move : float | None
        0DTE: when the move from the open to the entry exceeds this fraction up (down), trade only
        the structure's call (put) legs instead of the whole condor (TK Friday 0DTE).

    The defence rules are off when ``None``; :mod:`models.measure.managed` documents how each is applied.
    """

    profit_target: float | None = None
    stop_loss: float | None = None
    exit_dte: float | None = None
    time_exit: str | None = None
    target_legs: tuple[int, ...] | None = None
    delta_exit: float | None = None
    roll_untested_delta: float | None = None
    close_tested_delta: float | None = None
    vix_exit: float | None = None
    entry_iv_rank: float | None = None
    close_distance: float | None = None
    directional_move: float | None = None


def _otm(right: Right, kind: RuleKind, param: str) -> LegTemplate:
    return LegTemplate(right, -1, StrikeRule(kind, param))


_P, _C = Right.PUT, Right.CALL

#: The built-in templates: name -> legs. Parameters named in the rules form each template's grid.
TEMPLATES: dict[str, tuple[LegTemplate, ...]] = {
    "iron_condor": (
        LegTemplate(_P, -1, StrikeRule(RuleKind.DELTA, "short_delta")),
        LegTemplate(_P, +1, StrikeRule(RuleKind.POINTS_FROM, "wing_width", ref=0, sign=-1)),
        LegTemplate(_C, -1, StrikeRule(RuleKind.DELTA, "short_delta")),
        LegTemplate(_C, +1, StrikeRule(RuleKind.POINTS_FROM, "wing_width", ref=2, sign=+1)),
    ),
    "put_credit_spread": (
        LegTemplate(_P, -1, StrikeRule(RuleKind.DELTA, "short_delta")),
        LegTemplate(_P, +1, StrikeRule(RuleKind.POINTS_FROM, "wing_width", ref=0, sign=-1)),
    ),
    "call_credit_spread": (
        LegTemplate(_C, -1, StrikeRule(RuleKind.DELTA, "short_delta")),
        LegTemplate(_C, +1, StrikeRule(RuleKind.POINTS_FROM, "wing_width", ref=0, sign=+1)),
    ),
    "short_strangle": (
        LegTemplate(_P, -1, StrikeRule(RuleKind.DELTA, "put_delta")),
        LegTemplate(_C, -1, StrikeRule(RuleKind.DELTA, "call_delta")),
    ),
    # LT112 / 1-1-2 (TK-PDF): long put ~7% OTM, short put a spread width below, 2 naked puts ~12% OTM.
    "lt112": (
        LegTemplate(_P, +1, StrikeRule(RuleKind.PCT_OTM, "long_otm")),
        LegTemplate(_P, -1, StrikeRule(RuleKind.POINTS_FROM, "spread_width", ref=0, sign=-1)),
        LegTemplate(_P, -2, StrikeRule(RuleKind.PCT_OTM, "naked_otm")),
    ),
    "cash_secured_put": (LegTemplate(_P, -1, StrikeRule(RuleKind.DELTA, "short_delta")),),
    "covered_call": (
        LegTemplate(Right.UNDERLYING, +1, None),
        LegTemplate(_C, -1, StrikeRule(RuleKind.DELTA, "short_delta")),
    ),
}


def template(name: str) -> tuple[LegTemplate, ...]:
    """Return the legs of a built-in template.

    Raises
    ------
    ModelError
        If ``name`` is not a built-in template (the message lists the known ones).
    """
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ModelError(
            f"unknown strategy template {name!r}; known: {', '.join(sorted(TEMPLATES))}"
        ) from None


def template_params(legs: Sequence[LegTemplate]) -> tuple[str, ...]:
    """Names of the grid parameters a template needs, in leg order, without repeats."""
    seen: dict[str, None] = {}
    for leg in legs:
        if leg.rule is not None:
            seen.setdefault(leg.rule.param, None)
    return tuple(seen)


@dataclass(frozen=True)
class ExpiryRule:
    """Which expiry a strategy trades.

    Exactly one field is set:

    * ``dte``: the listed expiry nearest ``dte`` calendar days (synthetic surfaces: exactly
      valuation + ``dte`` days at the valuation's time of day);
    * ``date``: an explicit expiry timestamp;
    * ``intraday_hours``: a 0DTE trade entered this many hours before a session close; the expiry is
      that close (:func:`next_session_close`) and the variance is taken from the first listed
      expiry on a trading-time clock (see :func:`intraday_expiry`).
    """

    dte: float | None = None
    date: datetime | None = None
    intraday_hours: float | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.dte, self.date, self.intraday_hours)) != 1:
            raise ModelError("an expiry rule needs exactly one of dte, date, intraday_hours")


@dataclass(frozen=True)
class Candidate:
    """One concrete structure of one strategy: the optimizer's unit of decision.

    Parameters
    ----------
    id : str
        Unique, human-readable key, e.g. ``"zero_dte:SPX:2026-01-30:P6850/6820 C7030/7060"``.
    strategy : str
        Name of the strategy (scenario key) it belongs to.
    template : str
        Template name (``iron_condor`` …).
    underlying : str
        Instrument symbol.
    expiry : datetime
        Expiry of the structure (all legs share it).
    t : float
        Time to expiry in years (calendar).
    spot : float
        Underlying price at valuation (index level, ETF price or futures price).
    forward : float
        Forward price for the expiry (from put-call parity or the synthetic surface).
    discount_factor : float
        Discount factor to the expiry.
    atm_iv : float
        At-the-forward implied vol for the expiry (decimal), used by the ``expiry`` income model.
    legs : tuple[Leg, ...]
        Legs per unit with per-share model prices.
    ivs : tuple[float, ...]
        Implied vol used to price each leg (decimal); ``nan`` for an underlying leg.
    params : Mapping[str, float]
        The grid parameter values that produced it.
    """

    id: str
    strategy: str
    template: str
    underlying: str
    expiry: datetime
    t: float
    spot: float
    forward: float
    discount_factor: float
    atm_iv: float
    legs: tuple[Leg, ...]
    ivs: tuple[float, ...]
    params: Mapping[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Continuous rate implied by the discount factor, ``-ln(D) / t`` (0 when ``t <= 0``)."""
        return -math.log(self.discount_factor) / self.t if self.t > 0 else 0.0

    @property
    def carry(self) -> float:
        """Continuous carry implied by the forward, ``ln(F / S) / t`` (0 when ``t <= 0``)."""
        return math.log(self.forward / self.spot) / self.t if self.t > 0 else 0.0

    @property
    def div_yield(self) -> float:
        """Dividend (convenience) yield ``rate - carry`` (forward form of Black–Scholes–Merton)."""
        return self.rate - self.carry

    @property
    def strikes_label(self) -> str:
        """Compact strikes description, e.g. ``"+1P6500 -1P6450 -2P6100"``."""
        return " ".join(
            f"{leg.quantity:+d}{leg.right.value}{_fmt_strike(leg.strike)}"
            if leg.is_option
            else f"{leg.quantity:+d}U"
            for leg in self.legs
        )


def _fmt_strike(k: float) -> str:
    return f"{k:g}"


# --------------------------------------------------------------------------------------------
# Expiries


def resolve_expiry(rule: ExpiryRule, surface: VolSurface) -> datetime:
    """Resolve an expiry rule to a timestamp on ``surface``.

    Returns
    -------
    datetime
        For ``dte`` on a surface with listed expiries, the listed expiry nearest
        ``valuation + dte days`` (ties: the later); with none listed, exactly that date.

    Raises
    ------
    ModelError
        If the resolved expiry is not after the valuation time.
    """
    v = surface.valuation_time
    if rule.date is not None:
        expiry = rule.date
    elif rule.intraday_hours is not None:
        expiry = next_session_close(v, rule.intraday_hours)
    else:
        target = v + timedelta(days=float(rule.dte))
        listed = [e for e in surface.listed_expiries() if e > v]
        if listed:
            expiry = min(listed, key=lambda e: (abs((e - target).total_seconds()), -e.timestamp()))
        else:
            expiry = target
    if expiry <= v:
        raise ModelError(f"expiry {expiry:%Y-%m-%d %H:%M} is not after the valuation time {v}")
    return expiry


def next_session_close(valuation: datetime, hours: float, close: time = time(16, 0)) -> datetime:
    """Close of the session a 0DTE trade entered ``hours`` before the close would expire in.

    The chain is the market state at ``valuation``; the trade is the next one that can still be
    entered ``hours`` before a close: the same day when ``valuation`` is at least that early on a
    business day, else the next business day. Timestamps are exchange-local (16:00 ET for
    SPX/SPXW PM-settled options); exchange holidays are not known.
    """
    day = valuation.date()
    entry_cutoff = datetime.combine(day, close) - timedelta(hours=hours)
    if not (np.is_busday(day) and valuation <= entry_cutoff):
        day = np.busday_offset(day, 1, roll="forward").astype(object)
    return datetime.combine(day, close)


def intraday_expiry(
    surface: VolSurface,
    hours: float,
    *,
    session_hours: float = 6.5,
    variance_time: VarianceTime | None = None,
) -> tuple[float, float, datetime]:
    """Calendar time and variance scale for a 0DTE trade ``hours`` before the close.

    The chain's first listed expiry carries the market's variance for the trading sessions up to it
    (on a Friday-after-close chain, the Monday expiry covers one session plus the weekend). A 0DTE
    trade entered ``hours`` before the close of a session sees ``hours / session_hours`` of one
    session's variance. Two bases (:mod:`models.market.variance_time`):

    * ``session`` (``variance_time`` given): the first expiry's variance is spread over its
      trading days by their measured close-to-close variance (a day after a weekend carries
      more), and one session carries the measured open-to-close share ``c**2`` of a day:
      ``w_0DTE(k) = w_first(k) * c**2 * (hours / session_hours) / sum_d v(g_d)``;
    * ``close_to_close`` (``variance_time=None``): every unit of the first expiry's variance,
      overnight and weekend gaps included, is attributed to its sessions:
      ``w_0DTE(k) = w_first(k) * (hours / session_hours) / n_sessions``.

    Parameters
    ----------
    surface : VolSurface
        The chain's surface (must list at least one expiry).
    hours : float
        Hours from entry to the close (10:30 → 16:00 ET is 5.5).
    session_hours : float
        Length of a regular session in hours (6.5 for US equity index options).
    variance_time : VarianceTime | None
        Measured variance-time shares (``session`` basis); ``None`` for ``close_to_close``.

    Returns
    -------
    t : float
        Calendar time to expiry in years (``hours / 8760``), used for discounting and theta.
    variance_scale : float
        Factor applied to the first expiry's total variance (at the same log-moneyness).
    first_expiry : datetime
        The listed expiry the variance comes from.

    Raises
    ------
    ModelError
        If the surface lists no expiry (synthetic surfaces have no session information).
    """
    listed = [e for e in surface.listed_expiries() if e > surface.valuation_time]
    if not listed:
        raise ModelError("an intraday (0DTE) expiry needs a surface with listed expiries")
    first = min(listed)
    scale = session_variance_scale(
        surface.valuation_time, first, hours, variance_time, session_hours=session_hours
    )
    return hours / 8760.0, scale, first


# --------------------------------------------------------------------------------------------
# Strike rules


@dataclass(frozen=True)
class _Slice:
    """Pricing inputs of one expiry on one surface (forward form)."""

    surface: VolSurface
    expiry: datetime
    t: float  # calendar years used for discounting/Greeks
    t_var: float  # time at which the surface's total variance is read
    var_scale: float  # multiplies the total variance read at t_var
    forward: float
    df: float
    strikes: np.ndarray

    def iv(self, strikes: np.ndarray) -> np.ndarray:
        """Implied vol at ``strikes`` for this slice (intraday variance scaling applied)."""
        k = np.asarray(strikes, dtype=float)
        if self.var_scale == 1.0 and self.t_var == self.t:
            return np.asarray(self.surface.iv(k, self.t), dtype=float)
        w = np.asarray(self.surface.total_variance(k, self.t_var), dtype=float) * self.var_scale
        return np.sqrt(np.maximum(w, 0.0) / self.t)

    def greeks(self, strikes: np.ndarray, is_call: np.ndarray):
        """BSM Greeks per share and the IVs used, with rate/yield implied by F and DF."""
        k = np.asarray(strikes, dtype=float)
        sig = self.iv(k)
        s = self.surface.spot
        r = -math.log(self.df) / self.t
        q = r - math.log(self.forward / s) / self.t
        return bsm_greeks(s, k, self.t, r, q, sig, is_call), sig


def _slice(
    surface: VolSurface,
    rule: ExpiryRule,
    session_hours: float,
    variance_time: VarianceTime | None = None,
) -> _Slice:
    if rule.intraday_hours is not None:
        t, scale, first = intraday_expiry(
            surface, rule.intraday_hours, session_hours=session_hours, variance_time=variance_time
        )
        expiry = next_session_close(surface.valuation_time, rule.intraday_hours)
        t_var = surface.time_to_expiry(first)
        strikes = np.asarray(surface.listed_strikes(first), dtype=float)
    else:
        expiry = resolve_expiry(rule, surface)
        t = surface.time_to_expiry(expiry)
        t_var, scale = t, 1.0
        strikes = np.asarray(surface.listed_strikes(expiry), dtype=float)
    if strikes.size == 0:
        raise ModelError(f"no strikes listed for expiry {expiry:%Y-%m-%d}")
    fwd = float(np.asarray(surface.forward(t)))
    df = float(np.asarray(surface.discount_factor(t)))
    return _Slice(surface, expiry, t, t_var, scale, fwd, df, np.unique(strikes))


def _nearest(strikes: np.ndarray, target: float) -> float:
    return float(strikes[np.argmin(np.abs(strikes - target))])


def _resolve_strike(
    leg: LegTemplate, value: float, sl: _Slice, resolved: list[float], deltas: dict
) -> float | None:
    rule = leg.rule
    assert rule is not None
    is_put = leg.right is Right.PUT
    f = sl.forward
    ks = sl.strikes
    if rule.kind is RuleKind.DELTA:
        side = ks[ks < f] if is_put else ks[ks > f]
        if side.size == 0:
            return None
        key = ("P" if is_put else "C", id(sl))
        if key not in deltas:
            g, _ = sl.greeks(side, np.full(side.shape, not is_put))
            deltas[key] = (side, np.abs(np.asarray(g.delta)))
        side, absd = deltas[key]
        i = int(np.argmin(np.abs(absd - value)))
        # reject targets far outside what the chain offers (e.g. 0.25 delta on a 5-strike chain)
        if abs(absd[i] - value) > max(0.25 * value, 0.01):
            return None
        return float(side[i])
    if rule.kind is RuleKind.PCT_OTM:
        return _nearest(ks, f * (1 - value) if is_put else f * (1 + value))
    if rule.kind is RuleKind.EXPECTED_MOVE:
        atm = float(sl.iv(np.array([f]))[0])
        move = value * atm * math.sqrt(sl.t)
        return _nearest(ks, f * (1 - move) if is_put else f * (1 + move))
    # POINTS_FROM
    ref = resolved[rule.ref]
    target = ref + rule.sign * value
    side = ks[ks < ref] if rule.sign < 0 else ks[ks > ref]
    if side.size == 0:
        return None
    return _nearest(side, target)


def _grid_points(grid: Mapping[str, Sequence[float]], names: Sequence[str]) -> list[dict]:
    missing = [n for n in names if n not in grid]
    if missing:
        raise ModelError(f"grid is missing parameter(s) {', '.join(missing)}")
    extra = [n for n in grid if n not in names]
    if extra:
        raise ModelError(
            f"grid has parameter(s) {', '.join(extra)} the template does not use "
            f"(it uses {', '.join(names)})"
        )
    values = [list(grid[n]) for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def generate_candidates(
    *,
    strategy: str,
    template_name: str,
    legs: Sequence[LegTemplate] | None,
    underlying: str,
    surface: VolSurface,
    expiry_rule: ExpiryRule,
    grid: Mapping[str, Sequence[float]],
    session_hours: float = 6.5,
    min_credit: float | None = None,
    variance_time: VarianceTime | None = None,
) -> list[Candidate]:
    """Resolve a strategy's strike rules over its parameter grid into concrete candidates.

    Parameters
    ----------
    strategy : str
        Strategy name (scenario key).
    template_name : str
        Built-in template name, or ``"custom"`` with ``legs`` given.
    legs : Sequence[LegTemplate] | None
        Leg templates for ``custom``; ignored otherwise.
    underlying : str
        Instrument symbol the surface belongs to.
    surface : VolSurface
        Vol surface of the underlying.
    expiry_rule : ExpiryRule
        Which expiry to trade.
    grid : Mapping[str, Sequence[float]]
        Values per template parameter; the Cartesian product is enumerated.
    session_hours : float
        Session length for intraday expiries.
    min_credit : float | None
        Drop structures whose net credit per share is below this (instrument price units);
        ``None`` keeps debits too.
    variance_time : VarianceTime | None
        Intraday expiries only: the measured variance-time shares of the ``session`` basis
        (:func:`intraday_expiry`); ``None`` is the ``close_to_close`` basis.

    Returns
    -------
    list[Candidate]
        Distinct structures (duplicates from different grid points are merged; the first grid
        point is kept in ``params``). Structures whose rules cannot be met on the chain (a delta
        target the strikes do not reach, a wing with no strike beyond it) are skipped.

    Raises
    ------
    ModelError
        Unknown template, grid/template parameter mismatch, no strikes for the expiry.
    """
    tmpl = tuple(legs) if template_name == "custom" else template(template_name)
    if not tmpl:
        raise ModelError(f"strategy {strategy!r}: a structure needs at least one leg")
    names = template_params(tmpl)
    sl = _slice(surface, expiry_rule, session_hours, variance_time)
    out: dict[tuple, Candidate] = {}
    deltas: dict = {}
    for point in _grid_points(grid, names):
        strikes: list[float] = []
        ok = True
        for leg in tmpl:
            if leg.rule is None:
                strikes.append(float("nan"))
                continue
            k = _resolve_strike(leg, float(point[leg.rule.param]), sl, strikes, deltas)
            if k is None:
                ok = False
                break
            strikes.append(k)
        if not ok:
            continue
        key = tuple((leg.right, leg.quantity, k) for leg, k in zip(tmpl, strikes, strict=True))
        if key in out or _degenerate(tmpl, strikes):
            continue
        cand = _price(strategy, template_name, underlying, sl, tmpl, strikes, point)
        if min_credit is not None and _net_credit(cand.legs) < min_credit:
            continue
        out[key] = cand
    return list(out.values())


def price_structure(
    *,
    strategy: str,
    template_name: str,
    underlying: str,
    surface: VolSurface,
    expiry: date,
    legs: Sequence[tuple[Right, float, int]],
) -> Candidate:
    """Price a stated structure (an open position's legs) on ``surface``.

    The legs are put in the order of the strategy's template when every template leg is matched
    by exactly one stated leg of the same right and quantity (so template-indexed management
    rules such as ``target_legs`` apply to the right legs); otherwise the stated order is kept.
    The expiry time is the surface's listed expiry on that date (16:00 when none is listed),
    so a position opened from a generated candidate gets that candidate's id.

    Parameters
    ----------
    strategy, template_name, underlying : str
        Strategy (scenario key), template name and instrument symbol.
    surface : VolSurface
        Vol surface of the underlying at the valuation time.
    expiry : date
        Expiry date shared by the option legs.
    legs : Sequence[tuple[Right, float, int]]
        ``(right, strike, quantity per unit)``; strike ``nan`` for an underlying leg.

    Returns
    -------
    Candidate
        Legs priced at the surface's implied vols (Black–Scholes–Merton with the rate and yield
        implied by the surface's forward and discount factor), ``params`` empty.

    Raises
    ------
    ModelError
        No option leg, or the expiry is not after the valuation time.
    """
    if not any(r is not Right.UNDERLYING for r, _, _ in legs):
        raise ModelError("a held structure needs at least one option leg")
    listed = [e for e in surface.listed_expiries() if e.date() == expiry]
    when = listed[0] if listed else datetime.combine(expiry, time(16, 0))
    t = surface.time_to_expiry(when)
    if not t > 0:
        raise ModelError(f"expiry {expiry:%Y-%m-%d} is not after the valuation time")
    ordered = list(legs)
    try:
        tmpl_legs = template(template_name)
    except ModelError:
        tmpl_legs = ()
    if len(tmpl_legs) == len(legs):
        pool = list(legs)
        picked = []
        for lt in tmpl_legs:
            hits = [x for x in pool if x[0] is lt.right and x[2] == lt.quantity]
            if len(hits) != 1:
                picked = []
                break
            picked.append(hits[0])
            pool.remove(hits[0])
        if picked:
            ordered = picked
    tmpl = tuple(LegTemplate(r, q, None) for r, _, q in ordered)
    strikes = [float(k) for _, k, _ in ordered]
    fwd = float(np.asarray(surface.forward(t)))
    df = float(np.asarray(surface.discount_factor(t)))
    sl = _Slice(surface, when, t, t, 1.0, fwd, df, np.unique(np.asarray(strikes)))
    return _price(strategy, template_name, underlying, sl, tmpl, strikes, {})


def _degenerate(tmpl: Sequence[LegTemplate], strikes: Sequence[float]) -> bool:
    """True when two opposite-sign legs of the same right share a strike (they cancel)."""
    for (a, ka), (b, kb) in itertools.combinations(zip(tmpl, strikes, strict=True), 2):
        if a.right is b.right and a.right is not Right.UNDERLYING and ka == kb:
            if (a.quantity > 0) != (b.quantity > 0):
                return True
    return False


def _net_credit(legs: Iterable[Leg]) -> float:
    return -sum(leg.quantity * leg.price for leg in legs if leg.is_option)


def _price(
    strategy: str,
    template_name: str,
    underlying: str,
    sl: _Slice,
    tmpl: Sequence[LegTemplate],
    strikes: Sequence[float],
    point: Mapping[str, float],
) -> Candidate:
    legs: list[Leg] = []
    ivs: list[float] = []
    opt = [i for i, lt in enumerate(tmpl) if lt.right is not Right.UNDERLYING]
    if opt:
        ks = np.array([strikes[i] for i in opt])
        calls = np.array([tmpl[i].right is Right.CALL for i in opt])
        g, sig = sl.greeks(ks, calls)
        prices = dict(zip(opt, np.asarray(g.price, dtype=float), strict=True))
        vols = dict(zip(opt, np.asarray(sig, dtype=float), strict=True))
    for i, lt in enumerate(tmpl):
        if lt.right is Right.UNDERLYING:
            legs.append(Leg(Right.UNDERLYING, float("nan"), None, lt.quantity, sl.surface.spot))
            ivs.append(float("nan"))
        else:
            legs.append(
                Leg(lt.right, strikes[i], sl.expiry, lt.quantity, max(float(prices[i]), 0.0))
            )
            ivs.append(float(vols[i]))
    label = " ".join(
        f"{leg.quantity:+d}{leg.right.value}{_fmt_strike(leg.strike)}" if leg.is_option else "+U"
        for leg in legs
    )
    cid = f"{strategy}:{underlying}:{sl.expiry:%Y-%m-%dT%H:%M}:{label}"
    return Candidate(
        id=cid,
        strategy=strategy,
        template=template_name,
        underlying=underlying,
        expiry=sl.expiry,
        t=sl.t,
        spot=float(sl.surface.spot),
        forward=sl.forward,
        discount_factor=sl.df,
        atm_iv=float(sl.iv(np.array([sl.forward]))[0]),
        legs=tuple(legs),
        ivs=tuple(ivs),
        params=dict(point),
    )
