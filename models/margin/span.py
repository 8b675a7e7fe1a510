"""SPAN-like margin for futures options: the CME 16-scenario risk array, repriced with Black-76.

Method (CME Group, "CME SPAN: Standard Portfolio Analysis of Risk", methodology overview):

- **Risk array**: the structure is revalued in 16 scenarios of the futures price ``F`` and of
  each leg's implied volatility. Scenarios 1-14: ``F`` unchanged or moved by 1/3, 2/3 or 3/3 of
  the product's *price scan range* (up and down), each with the volatility moved up and down by
  the *vol scan range*; scenarios 15-16: ``F`` moved by 3 x the price scan range with the
  volatility unchanged, and only 33% of that loss counted (the "extreme move cover"). The table
  is read from ``models/data/margin_rules.yaml`` (``span.scenarios``).
- **Scan risk** = the largest scenario loss (0 if every scenario gains).
- **Intra-commodity (calendar) spread charge**: option deltas (Black-76, futures equivalents)
  are netted per expiry; the delta that is long in one expiry and short in another is a
  calendar spread, charged ``intra_commodity_charge`` per future-equivalent. A structure with one
  expiry pays 0.
- **Short option minimum**: ``short_option_minimum`` per short option contract.
- **Requirement** = ``max(scan risk + intra-commodity charge, short option minimum x shorts)``.

Not modelled: the net option value (SPAN subtracts long option value and adds short option
value at the account level; brokers' buying-power figures for a new position usually exclude
it), inter-commodity spread credits, delivery-month charges, and time decay between scenarios
(the risk array uses today's time to expiry, as SPAN does).

Units: ``futures_price``, strikes and leg prices in futures price points; the scan range in the
same points (so MES and ES share it: ES money = 10 x MES money for the same structure); vol
scan range in vol points (5 = +/-0.05 annualized); every money amount per **unit of the
structure** (legs as given, with their signed quantities) in the product currency.
Parameters per product come from ``models/data/span_parameters.csv`` (approximate values, see
that file's ``source`` column and ``models/data/README.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources

import numpy as np
import yaml
from numpy.typing import ArrayLike

from models._checks import per_leg, positive
from models.errors import DataError, ModelError
from models.instruments import (
    finite_float,
    nonempty,
    parse_cell,
    positive_float,
    read_reference_csv,
)
from models.legs import Leg, Right
from models.margin.reg_t import MarginRequirement
from models.market.pricing import black76_greeks, black76_price

__all__ = [
    "candidate_span_risk_array",
    "N_SCENARIOS",
    "SpanParameters",
    "SpanScenario",
    "all_span_parameters",
    "span_margin",
    "span_parameters",
    "span_risk_array",
    "span_scenarios",
]

#: Number of SPAN risk-array scenarios.
N_SCENARIOS = 16


@dataclass(frozen=True)
class SpanScenario:
    """One risk-array scenario.

    Parameters
    ----------
    price_fraction : float
        Futures price move as a fraction of the price scan range (e.g. -2/3, or 3 for the
        extreme moves).
    vol_sign : int
        +1 volatility up by the vol scan range, -1 down, 0 unchanged.
    cover : float
        Fraction of the scenario loss counted (1, or 0.33 for the extreme moves).
    """

    price_fraction: float
    vol_sign: int
    cover: float

    @property
    def label(self) -> str:
        """E.g. ``"F +2/3 scan, vol up"`` or ``"F -3x scan (extreme, 33% cover)"``."""
        thirds = round(self.price_fraction * 3)
        if abs(self.price_fraction) > 1.0 + 1e-9:
            move = f"F {self.price_fraction:+g}x scan (extreme, {self.cover * 100:g}% cover)"
        elif thirds == 0:
            move = "F unchanged"
        else:
            move = f"F {'+' if thirds > 0 else '-'}{abs(thirds)}/3 scan"
        vol = {1: ", vol up", -1: ", vol down", 0: ""}[self.vol_sign]
        return move + vol


@dataclass(frozen=True)
class SpanParameters:
    """SPAN parameters of one futures product (one row of ``span_parameters.csv``).

    Parameters
    ----------
    product : str
        Futures root (``ES``, ``MES``, ``CL`` ...), as in ``instruments.csv``.
    price_scan_range : float
        Price scan range in futures price points (ES 250 = USD 12,500 per ES contract).
    vol_scan_range : float
        Volatility scan range in vol points (5 = +/-0.05 annualized volatility).
    short_option_minimum : float
        Minimum per short option contract, money in ``currency``.
    intra_commodity_charge : float
        Calendar-spread charge per future-equivalent spread between two expiries, money.
    currency : str
        Currency of the money amounts (the product's currency).
    source : str
        Where the numbers come from (approximate values are labelled as such).
    as_of : datetime.date
        Date the values describe.
    """

    product: str
    price_scan_range: float
    vol_scan_range: float
    short_option_minimum: float
    intra_commodity_charge: float
    currency: str
    source: str
    as_of: date


def _nonneg(raw: str) -> float:
    value = finite_float(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


@cache
def _table() -> dict[str, SpanParameters]:
    table: dict[str, SpanParameters] = {}
    for row in read_reference_csv(
        "span_parameters.csv", tuple(SpanParameters.__dataclass_fields__)
    ):
        p = SpanParameters(
            product=parse_cell(row, "product", nonempty).upper(),
            price_scan_range=parse_cell(row, "price_scan_range", positive_float),
            vol_scan_range=parse_cell(row, "vol_scan_range", _nonneg),
            short_option_minimum=parse_cell(row, "short_option_minimum", _nonneg),
            intra_commodity_charge=parse_cell(row, "intra_commodity_charge", _nonneg),
            currency=parse_cell(row, "currency", nonempty),
            source=parse_cell(row, "source", nonempty),
            as_of=parse_cell(row, "as_of", date.fromisoformat),
        )
        if p.product in table:
            raise DataError(f"{row['__where__']}: duplicate product {p.product}")
        table[p.product] = p
    return table


def all_span_parameters() -> tuple[SpanParameters, ...]:
    """Every product's SPAN parameters, in file order."""
    return tuple(_table().values())


def span_parameters(product: str) -> SpanParameters:
    """SPAN parameters of one futures product (case-insensitive root symbol).

    Raises
    ------
    ModelError
        Unknown product; the message lists the known ones.
    """
    table = _table()
    key = product.strip().upper() if isinstance(product, str) else product
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ModelError(
            f"no SPAN parameters for {product!r}; known: {', '.join(table)} "
            "(models/data/span_parameters.csv)"
        ) from None


@cache
def _rules() -> tuple[tuple[SpanScenario, ...], float]:
    text = (resources.files("models") / "data" / "margin_rules.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)["span"]
        scenarios = tuple(SpanScenario(float(f), int(v), float(c)) for f, v, c in data["scenarios"])
        min_vol = float(data["min_vol"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"margin_rules.yaml: missing or bad span entry ({exc})") from exc
    if len(scenarios) != N_SCENARIOS:
        raise DataError(f"margin_rules.yaml: span.scenarios needs {N_SCENARIOS} rows")
    if not all(s.vol_sign in (-1, 0, 1) and 0 <= s.cover <= 1 for s in scenarios):
        raise DataError("margin_rules.yaml: span vol_sign must be -1, 0 or 1 and cover in [0, 1]")
    return scenarios, min_vol


def span_scenarios() -> tuple[SpanScenario, ...]:
    """The 16 risk-array scenarios, in CME order (see the module docstring)."""
    return _rules()[0]


def _params(params: SpanParameters | str) -> SpanParameters:
    if isinstance(params, SpanParameters):
        return params
    return span_parameters(params)


@dataclass(frozen=True)
class _Inputs:
    legs: tuple[Leg, ...]
    f: float
    m: float
    ivs: np.ndarray
    t: np.ndarray
    rate: float
    opt: np.ndarray  # bool mask of option legs


def _inputs(legs, futures_price, multiplier, ivs, t, rate) -> _Inputs:
    if not legs:
        raise ModelError("SPAN margin needs at least one leg")
    for k, leg in enumerate(legs):
        if not isinstance(leg, Leg):
            raise ModelError(f"legs[{k}] is not a Leg (got {type(leg).__name__})")
    n = len(legs)
    f = positive("futures_price", futures_price)
    m = positive("multiplier", multiplier)
    sig = per_leg("ivs", ivs, n)
    tt = per_leg("t", t, n)
    r = float(rate)
    if not math.isfinite(r):
        raise ModelError(f"rate must be finite, got {rate!r}")
    opt = np.array([leg.is_option for leg in legs])
    bad_iv = opt & ~(np.isfinite(sig) & (sig > 0))
    if bad_iv.any():
        k = int(np.argmax(bad_iv))
        raise ModelError(f"legs[{k}]: implied vol must be a finite number > 0, got {sig[k]!r}")
    bad_t = opt & ~(np.isfinite(tt) & (tt >= 0))
    if bad_t.any():
        k = int(np.argmax(bad_t))
        raise ModelError(f"legs[{k}]: time to expiry must be a finite number >= 0, got {tt[k]!r}")
    return _Inputs(tuple(legs), f, m, sig, tt, r, opt)


def _value(x: _Inputs, forward: float, vol_shift: float, min_vol: float) -> float:
    """Money value of one unit at ``forward`` with every IV shifted by ``vol_shift``."""
    total = 0.0
    opt = x.opt
    if opt.any():
        k = np.array([leg.strike for leg in x.legs])[opt]
        q = np.array([leg.quantity for leg in x.legs], dtype=float)[opt]
        calls = np.array([leg.right is Right.CALL for leg in x.legs])[opt]
        sig = np.maximum(x.ivs[opt] + vol_shift, min_vol)
        prices = black76_price(forward, k, x.t[opt], x.rate, sig, calls)
        total += float(q @ prices)
    for leg in x.legs:
        if leg.right is Right.UNDERLYING:
            total += leg.quantity * forward
    return total * x.m


def span_risk_array(
    legs: Sequence[Leg],
    futures_price: float,
    multiplier: float,
    params: SpanParameters | str,
    *,
    ivs: ArrayLike,
    t: ArrayLike,
    rate: float = 0.0,
) -> np.ndarray:
    """Risk array of one unit of a futures-option structure: the 16 SPAN scenario losses.

    Parameters
    ----------
    legs : sequence of Leg
        The structure per unit (signed quantities). ``U`` legs are futures contracts.
    futures_price : float
        Current price of the underlying future, points, > 0 (all legs are valued off it).
    multiplier : float
        Contract multiplier (ES 50, MES 5), money per point.
    params : SpanParameters or str
        The product's parameters, or its root symbol to look them up.
    ivs : array_like
        Implied volatility per leg (decimal; one number, or shape ``(n_legs,)``; ignored for
        ``U`` legs, where ``nan`` is fine).
    t : array_like
        Time to expiry per leg in years (one number, or shape ``(n_legs,)``; ignored for ``U``).
    rate : float, default 0
        Continuously compounded discount rate for Black-76.

    Returns
    -------
    np.ndarray
        Shape ``(16,)``, float64: loss of one unit in each scenario of :func:`span_scenarios`
        (positive = loss, negative = gain), money in the product currency, the extreme
        scenarios already multiplied by their cover fraction. Losses are measured from the
        Black-76 value at the current futures price and IVs (so "F unchanged" with an unchanged
        vol would be 0). A down move that would take the future below 0 stops at 0.

    Raises
    ------
    ModelError
        No legs, a non-Leg, non-positive price / multiplier, a missing or non-positive IV or a
        negative time on an option leg, unknown product.

    Notes
    -----
    CME Group SPAN methodology (16-scenario risk array). Linear in the quantities: the array
    of k units is k times the array of one unit.
    """
    p = _params(params)
    x = _inputs(legs, futures_price, multiplier, ivs, t, rate)
    scenarios, min_vol = _rules()
    base = _value(x, x.f, 0.0, min_vol)
    out = np.empty(N_SCENARIOS)
    for j, s in enumerate(scenarios):
        f_s = max(x.f + s.price_fraction * p.price_scan_range, 0.0)
        v_s = _value(x, f_s, s.vol_sign * p.vol_scan_range / 100.0, min_vol)
        out[j] = -(v_s - base) * s.cover
    return out


def _intra_commodity(x: _Inputs) -> tuple[float, str]:
    """Future-equivalent calendar spreads between expiries and their description."""
    if not x.opt.any():
        return 0.0, ""
    idx = np.flatnonzero(x.opt)
    legs = [x.legs[i] for i in idx]
    k = np.array([leg.strike for leg in legs])
    calls = np.array([leg.right is Right.CALL for leg in legs])
    g = black76_greeks(x.f, k, x.t[idx], x.rate, x.ivs[idx], calls)
    deltas = np.asarray(g.delta, dtype=float)
    by_expiry: dict[datetime, float] = {}
    for leg, d in zip(legs, deltas, strict=True):
        by_expiry[leg.expiry] = by_expiry.get(leg.expiry, 0.0) + leg.quantity * float(d)
    # futures legs belong to the earliest option expiry (the future the options exercise into)
    front = min(by_expiry)
    for leg in x.legs:
        if leg.right is Right.UNDERLYING:
            by_expiry[front] += leg.quantity
    longs = sum(v for v in by_expiry.values() if v > 0)
    shorts = -sum(v for v in by_expiry.values() if v < 0)
    spreads = min(longs, shorts) if len(by_expiry) > 1 else 0.0
    return spreads, f"{len(by_expiry)} expiries, net deltas " + ", ".join(
        f"{e:%Y-%m-%d} {v:+.3f}" for e, v in sorted(by_expiry.items())
    )


def span_margin(
    legs: Sequence[Leg],
    futures_price: float,
    multiplier: float,
    params: SpanParameters | str,
    *,
    ivs: ArrayLike,
    t: ArrayLike,
    rate: float = 0.0,
) -> MarginRequirement:
    """SPAN-like requirement of one unit of a futures-option structure.

    ``max(scan risk + intra-commodity charge, short option minimum x short contracts)``, see the
    module docstring. Parameters as in :func:`span_risk_array`.

    Returns
    -------
    MarginRequirement
        ``amount`` per unit in the product currency (>= 0), the ``rule`` naming the worst
        scenario and the numbers, ``components`` summing to ``amount``.

    Raises
    ------
    ModelError
        As :func:`span_risk_array`.

    Notes
    -----
    CME Group SPAN methodology; parameters from ``models/data/span_parameters.csv``.
    """
    p = _params(params)
    x = _inputs(legs, futures_price, multiplier, ivs, t, rate)
    array = span_risk_array(legs, futures_price, multiplier, p, ivs=ivs, t=t, rate=rate)
    worst = int(np.argmax(array))
    scan = max(float(array[worst]), 0.0)
    spreads, spread_text = _intra_commodity(x)
    intra = spreads * p.intra_commodity_charge
    n_short = sum(-leg.quantity for leg in x.legs if leg.is_option and leg.quantity < 0)
    som = n_short * p.short_option_minimum
    risk = scan + intra
    scen = span_scenarios()[worst]
    head = (
        f"SPAN-like {p.product} (price scan {p.price_scan_range:g} pts, vol scan "
        f"{p.vol_scan_range:g} vol pts): scan risk {scan:,.2f} "
        f"(worst scenario {worst + 1}: {scen.label})"
    )
    if intra > 0:
        head += f" + intra-commodity {spreads:.3f} spreads x {p.intra_commodity_charge:g} = {intra:,.2f} ({spread_text})"
    head += f"; short option minimum {n_short} x {p.short_option_minimum:g} = {som:,.2f}"
    if som > risk:
        amount = som
        components: tuple[tuple[str, float], ...] = (("short option minimum", som),)
        rule = f"{head}; requirement = short option minimum {som:,.2f}"
    else:
        amount = risk
        components = (("scan risk", scan),)
        if intra > 0:
            components += (("intra-commodity spread charge", intra),)
        rule = f"{head}; requirement = {risk:,.2f}"
    return MarginRequirement(amount=amount, rule=rule, components=components)


def candidate_span_risk_array(candidate, instrument) -> np.ndarray:
    """:func:`span_risk_array` of one unit of a generated candidate on a futures product.

    Parameters
    ----------
    candidate : models.strategies.Candidate
        Uses ``legs``, ``ivs``, ``spot`` (the futures price), ``t`` and ``discount_factor``
        (rate ``-ln(D) / t``, 0 when ``t = 0``).
    instrument : models.instruments.Instrument
        Uses ``symbol`` (the SPAN product) and ``multiplier``.

    Returns
    -------
    np.ndarray
        Shape ``(16,)``: scenario losses per unit (positive = loss), product currency. Stack the
        rows of candidates on one product into ``L`` of shape ``(n_candidates, 16)``; the book's
        scan risk is ``max(max_j (L.T @ n)_j, 0)``.

    Raises
    ------
    ModelError
        No SPAN parameters for the product, or bad inputs.
    """
    c = candidate
    return span_risk_array(
        c.legs, c.spot, instrument.multiplier, instrument.symbol, ivs=c.ivs, t=c.t, rate=c.rate
    )
