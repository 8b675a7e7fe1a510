"""Trading costs and liquidity: commissions and fees, bid/ask spread paid, exercise fees, FX.

Sources
-------
Per-product fees come from ``models/data/fees.csv`` (one row per product of
``models/data/instruments.csv``; schedules, pages and unverified figures are listed in each row's
``source`` column and in ``models/data/README.md``): the retail broker's commission (Interactive
Brokers), the exchange fee (Cboe, CME Group), the clearing fee (OCC for US securities options;
included in the CME fee for futures options) and the regulatory fee (options regulatory fee and
FINRA trading activity fee; NFA fee for futures), each **per contract per side** (one opening or
one closing fill) in the product currency; the exercise / assignment fee per contract; the minimum
price increment; and an *assumed* half-spread used only when no quote is available.

Spread model (:class:`CostModel`)
---------------------------------
A leg's half-spread ``h`` is half the quoted ``ask - bid`` of its contract (per share / point),
floored at half a tick (:func:`leg_half_spreads`). Relative to the mid, a fill pays a fraction
``f`` of it: a sold leg fills at ``mid - f * h``, a bought leg at ``mid + f * h``; ``f = 0`` is a
mid fill and ``f = 1`` the natural price (bid for a sale, ask for a purchase). Money per leg is
``|quantity| * f * h * multiplier``. The fractions per kind of fill:

* entry: ``spread_fraction`` (default 0.5, a limit order worked to about the mid-to-natural
  midpoint);
* target exit: 0 -- the profit target is a resting limit order, filled at its limit; it pays
  commissions only;
* time / DTE exit: ``exit_fraction`` (default 0.5, as the entry);
* stop exit: ``stop_fraction`` (default 1.0: a stop is a market order and pays the whole
  half-spread) plus ``stop_slippage_ticks`` ticks (default 1) per contract for the move through
  the quote;
* expiry: no spread and no closing commission; legs finishing in the money pay the product's
  ``exercise_fee`` (:func:`exercise_costs`).

Commissions (:func:`trade_costs`): ``commission + exchange_fee + clearing_fee + regulatory_fee``
per contract per side, times ``sum |quantity|`` over every leg -- an underlying leg (shares of a
covered call, a future) is counted as one more fill at the same per-contract rate, an
approximation. Order minimums (IBKR USD 1.00 per options order), value-based fees (SEC fee on
sales) and monthly volume tiers are not modelled.

FX: when the instrument currency differs from the account currency, converting the P&L costs
``fx_cost`` times its absolute value (:meth:`CostModel.fx_conversion_cost`).

Units: every money amount is **per unit of the structure** (legs with their signed quantities) in
the instrument currency; half-spreads and ticks are per share / point (option price units).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models._checks import per_leg, positive
from models.errors import DataError, ModelError
from models.instruments import (
    finite_float,
    nonempty,
    parse_cell,
    parse_reference_csv,
    positive_float,
)

if TYPE_CHECKING:
    from models.legs import Leg
    from models.strategies import Candidate

__all__ = [
    "EXIT_REASONS",
    "CostModel",
    "Fees",
    "TradeCosts",
    "exercise_costs",
    "fee_schedule",
    "fees_for",
    "leg_half_spreads",
    "liquidity_reason",
    "trade_costs",
]

#: Exit reasons a cost is quoted for, in the order of :meth:`TradeCosts.exit_array`.
EXIT_REASONS: tuple[str, ...] = ("target", "stop", "time", "expiry")

_FILE = "fees.csv"
_DEFAULT_LABEL = f"models/data/{_FILE}"
_QUOTE_REQUIRED = ("expiry", "strike", "right", "bid", "ask")


# ----------------------------------------------------------------------------------------------
# Fee schedule
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fees:
    """Fees of one product (one row of ``models/data/fees.csv``).

    Parameters
    ----------
    product : str
        Root symbol as in ``instruments.csv`` (``SPX``, ``ES``, ``M6E`` ...).
    currency : str
        ISO code of every money amount of the row (the product currency).
    commission : float
        Broker commission per contract per side (one opening or one closing fill), money.
    exchange_fee : float
        Exchange transaction fee per contract per side (Cboe index-option fee, CME Globex
        non-member fee ...), money.
    clearing_fee : float
        Clearing fee per contract per side (OCC for US securities options; 0 where the exchange
        fee includes clearing), money.
    regulatory_fee : float
        Regulatory fees per contract per side (options regulatory fee + FINRA TAF; NFA fee for
        futures), money.
    exercise_fee : float
        Fee per contract exercised or assigned at expiry (0 where none is charged), money.
    tick : float
        Minimum price increment of the options, per share / point (price units).
    assumed_half_spread : float
        Half of the bid/ask spread assumed when no quote is available, per share / point. An
        assumption, not a measurement (see ``source``).
    broker : str
        Commission schedule the row follows.
    source : str
        Pages and schedules of every figure; unverified figures say so.
    as_of : datetime.date
        Date of the schedule (or the compile date where the pages are undated).
    """

    product: str
    currency: str
    commission: float
    exchange_fee: float
    clearing_fee: float
    regulatory_fee: float
    exercise_fee: float
    tick: float
    assumed_half_spread: float
    broker: str
    source: str
    as_of: date

    @property
    def per_side(self) -> float:
        """Money per contract per fill: commission + exchange + clearing + regulatory fees."""
        return self.commission + self.exchange_fee + self.clearing_fee + self.regulatory_fee


_COLUMNS = tuple(f.name for f in fields(Fees))


def _nonneg(raw: str) -> float:
    value = finite_float(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _parse(text: str, label: str) -> Mapping[str, Fees]:
    table: dict[str, Fees] = {}
    for row in parse_reference_csv(text, label, _COLUMNS):
        fees = Fees(
            product=parse_cell(row, "product", nonempty).upper(),
            currency=parse_cell(row, "currency", nonempty).upper(),
            commission=parse_cell(row, "commission", _nonneg),
            exchange_fee=parse_cell(row, "exchange_fee", _nonneg),
            clearing_fee=parse_cell(row, "clearing_fee", _nonneg),
            regulatory_fee=parse_cell(row, "regulatory_fee", _nonneg),
            exercise_fee=parse_cell(row, "exercise_fee", _nonneg),
            tick=parse_cell(row, "tick", positive_float),
            assumed_half_spread=parse_cell(row, "assumed_half_spread", _nonneg),
            broker=parse_cell(row, "broker", nonempty),
            source=parse_cell(row, "source", nonempty),
            as_of=parse_cell(row, "as_of", date.fromisoformat),
        )
        if fees.product in table:
            raise DataError(f"{row['__where__']}, column product: duplicate product {fees.product}")
        table[fees.product] = fees
    return MappingProxyType(table)


@cache
def _default_schedule() -> Mapping[str, Fees]:
    try:
        text = (resources.files("models") / "data" / _FILE).read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # pragma: no cover - packaging error
        raise DataError(f"reference data file {_DEFAULT_LABEL} is missing") from exc
    return _parse(text, _FILE)


def fee_schedule(path: str | os.PathLike[str] | None = None) -> Mapping[str, Fees]:
    """Every product's fees, keyed by upper-case product symbol, in file order.

    Parameters
    ----------
    path : str or path-like, optional
        A fees CSV with the columns of ``models/data/fees.csv``; default the packaged file
        (read once and cached; a given path is read on every call).

    Returns
    -------
    Mapping[str, Fees]
        Read-only mapping product -> :class:`Fees`.

    Raises
    ------
    DataError
        Unreadable file, a missing column, a row with the wrong number of cells, a numeric cell
        that is not a finite number >= 0 (``tick``: > 0), a bad date, an empty text cell or a
        duplicate product; the message names the file line and column.
    """
    if path is None:
        return _default_schedule()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read fee schedule {p}: {exc}") from exc
    return _parse(text, p.name)


def fees_for(product: str, *, path: str | os.PathLike[str] | None = None) -> Fees:
    """Fees of one product (case-insensitive root symbol).

    Parameters
    ----------
    product : str
        Root symbol (``"SPX"``, ``"mes"`` ...).
    path : str or path-like, optional
        Fees CSV to read instead of the packaged ``models/data/fees.csv``.

    Raises
    ------
    DataError
        No row for ``product``; the message names the product, the file and the known products.
    """
    table = fee_schedule(path)
    key = product.strip().upper() if isinstance(product, str) else product
    try:
        return table[key]
    except (KeyError, TypeError):
        where = _DEFAULT_LABEL if path is None else str(path)
        raise DataError(
            f"no fee row for product {product!r} in {where}; known: {', '.join(table)}"
        ) from None


# ----------------------------------------------------------------------------------------------
# Cost model
# ----------------------------------------------------------------------------------------------


def _nonneg_arg(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not (math.isfinite(x) and x >= 0):
        raise ModelError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


@dataclass(frozen=True)
class CostModel:
    """How much of the bid/ask spread each kind of fill pays, plus slippage and FX.

    Parameters
    ----------
    spread_fraction : float
        Fraction of each leg's quoted half-spread paid at entry: a sold leg fills at
        ``mid - spread_fraction * half_spread``, a bought leg at ``mid + ...`` (0 = mid, 1 = the
        natural price). Default 0.5.
    exit_fraction : float
        The same for a close at a DTE / time exit (a limit order worked like the entry).
        Default 0.5.
    stop_fraction : float
        The same for a stop (a market order: the full half-spread). Default 1.0.
    stop_slippage_ticks : float
        Extra ticks per contract a stop pays beyond the natural price. Default 1.0.
    fx_cost : float
        Fraction of the absolute P&L lost converting it from the instrument currency to the
        account currency, applied only when they differ. Default 0.0002 (2 bp): IBKR spot FX
        charges 0.20 bp of the value with a USD 2.00 minimum per conversion (as encoded in
        QuantConnect Lean's IB fee model; not checked on IBKR's page) -- USD 2 is 2 bp of a
        USD 10,000 conversion -- plus about a 1 bp half-spread on major pairs; rounded up.

    Notes
    -----
    Target exits are resting limit orders filled at the limit (no spread cost, commissions
    only); expiry settlement pays no spread and no closing commission, only the exercise fee of
    legs finishing in the money.

    Raises
    ------
    ModelError
        A parameter that is not a finite number >= 0.
    """

    spread_fraction: float = 0.5
    exit_fraction: float = 0.5
    stop_fraction: float = 1.0
    stop_slippage_ticks: float = 1.0
    fx_cost: float = 0.0002

    def __post_init__(self) -> None:
        for f in fields(self):
            _nonneg_arg(f"CostModel.{f.name}", getattr(self, f.name))

    def fx_conversion_cost(
        self, pnl, *, instrument_currency: str, account_currency: str
    ) -> np.ndarray:
        """Cost of converting P&L to the account currency: ``fx_cost * |pnl|``, or 0.

        Parameters
        ----------
        pnl : array_like
            P&L in the instrument currency, any shape.
        instrument_currency, account_currency : str
            ISO codes (case-insensitive).

        Returns
        -------
        numpy.ndarray
            Same shape as ``pnl``, >= 0, in the instrument currency; all zero when the
            currencies are equal.
        """
        x = np.abs(np.asarray(pnl, dtype=float))
        if instrument_currency.strip().upper() == account_currency.strip().upper():
            return np.zeros_like(x)
        return self.fx_cost * x


# ----------------------------------------------------------------------------------------------
# Quotes and half-spreads
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Quotes:
    """Quote columns as numpy arrays (one entry per row) for fast per-leg matching."""

    day: np.ndarray  # datetime64[D]
    strike: np.ndarray
    right: np.ndarray  # "C" / "P"
    bid: np.ndarray
    ask: np.ndarray
    mid: np.ndarray
    open_interest: np.ndarray
    root: np.ndarray  # upper-case, "" when unknown


def _column(quotes: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(quotes[name], errors="coerce").to_numpy(dtype=float)


def _prepare_quotes(quotes: pd.DataFrame) -> _Quotes:
    missing = [c for c in _QUOTE_REQUIRED if c not in quotes.columns]
    if missing:
        raise DataError(
            f"option quotes miss required column(s) {missing}; have {list(quotes.columns)}"
        )
    n = len(quotes)
    bid, ask = _column(quotes, "bid"), _column(quotes, "ask")
    mid = _column(quotes, "mid") if "mid" in quotes.columns else (bid + ask) / 2.0
    oi = (
        _column(quotes, "open_interest")
        if "open_interest" in quotes.columns
        else np.full(n, np.nan)
    )
    if "root" in quotes.columns:
        root = quotes["root"].fillna("").astype(str).str.strip().str.upper().to_numpy()
    else:
        root = np.full(n, "", dtype=object)
    return _Quotes(
        day=pd.to_datetime(quotes["expiry"]).to_numpy().astype("datetime64[D]"),
        strike=_column(quotes, "strike"),
        right=quotes["right"].astype(str).str.strip().str.upper().str[:1].to_numpy(),
        bid=bid,
        ask=ask,
        mid=mid,
        open_interest=oi,
        root=root,
    )


def _match(q: _Quotes, candidate: Candidate, leg: Leg, *, exact: bool) -> int | None:
    """Row index of ``leg``'s quote: same expiry date and right; same strike or (``exact=False``)
    the nearest listed one. Rows of the candidate's own root are preferred when there are any;
    ties go to the widest quote."""
    day = np.datetime64(leg.expiry.date(), "D")
    rows = np.flatnonzero((q.day == day) & (q.right == leg.right.value) & np.isfinite(q.strike))
    own = rows[q.root[rows] == candidate.underlying.strip().upper()]
    if own.size:
        rows = own
    if rows.size == 0:
        return None
    dist = np.abs(q.strike[rows] - leg.strike)
    if exact:
        rows = rows[dist <= 1e-9 * max(1.0, abs(leg.strike))]
    else:
        rows = rows[dist == dist.min()]
    if rows.size == 0:
        return None
    width = np.nan_to_num(q.ask[rows] - q.bid[rows], nan=-np.inf)
    return int(rows[np.argmax(width)])


def _label(leg: Leg) -> str:
    if not leg.is_option:
        return f"leg {leg.quantity:+d}U"
    return f"leg {leg.quantity:+d}{leg.right.value}{leg.strike:g} {leg.expiry:%Y-%m-%d}"


def leg_half_spreads(
    candidate: Candidate, quotes: pd.DataFrame | None, *, fees: Fees
) -> np.ndarray:
    """Half of each leg's bid/ask spread, per share / point.

    Parameters
    ----------
    candidate : Candidate
        The structure; its ``L`` legs are priced in order.
    quotes : pandas.DataFrame or None
        Option quotes with at least ``expiry, strike, right, bid, ask`` (e.g.
        :attr:`models.chain.OptionChain.quotes`; an optional ``root`` column restricts the match
        to the candidate's own root when that root is present). None when there is no chain
        (derived XSP / ES surfaces, synthetic futures surfaces).
    fees : Fees
        The product's fee row: ``tick`` and ``assumed_half_spread``.

    Returns
    -------
    numpy.ndarray
        Shape ``(L,)``, per share / point, each >= ``fees.tick / 2``:

        * option leg with a quote of the same expiry **date** (calendar day) and right:
          ``(ask - bid) / 2`` of the row with the same strike, else of the nearest listed strike
          of that expiry and right (equidistant strikes: the wider quote);
        * option leg when ``quotes`` is None, has no row of that expiry date and right, or the
          row's bid/ask is missing: ``fees.assumed_half_spread``;
        * underlying leg (shares or a future): half a tick.
    """
    q = None if quotes is None else _prepare_quotes(quotes)
    floor = fees.tick / 2.0
    out = np.empty(len(candidate.legs))
    for i, leg in enumerate(candidate.legs):
        if not leg.is_option:
            out[i] = floor
            continue
        i_row = None if q is None else _match(q, candidate, leg, exact=False)
        half = fees.assumed_half_spread
        if i_row is not None:
            quoted = (q.ask[i_row] - q.bid[i_row]) / 2.0
            if math.isfinite(quoted):
                half = float(quoted)
        out[i] = max(half, floor)
    return out


# ----------------------------------------------------------------------------------------------
# Costs of a trade
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeCosts:
    """Costs of opening and closing one unit of a structure, money in ``currency``.

    Parameters
    ----------
    currency : str
        Currency of every amount (the product / instrument currency).
    entry_spread : float
        Spread paid at entry: ``sum |q| * spread_fraction * half_spread * multiplier``.
    commission_open : float
        Commissions and fees of the opening fills: per-side fees x ``sum |q|`` over all legs.
    exit_spread : Mapping[str, float]
        Spread (and slippage) paid closing, per reason of :data:`EXIT_REASONS`: ``target`` 0,
        ``stop`` with ``stop_fraction`` and the slippage ticks, ``time`` with ``exit_fraction``,
        ``expiry`` 0.
    commission_close : Mapping[str, float]
        Commissions and fees of the closing fills per reason; 0 for ``expiry`` (exercise fees
        depend on moneyness: :func:`exercise_costs`).
    """

    currency: str
    entry_spread: float
    commission_open: float
    exit_spread: Mapping[str, float]
    commission_close: Mapping[str, float]

    @property
    def entry(self) -> float:
        """Total cost of opening: entry spread + opening commissions."""
        return self.entry_spread + self.commission_open

    def exit(self, reason: str) -> float:
        """Total cost of closing for ``reason`` (spread + closing commissions).

        Raises
        ------
        ModelError
            ``reason`` not in :data:`EXIT_REASONS`.
        """
        if reason not in EXIT_REASONS:
            raise ModelError(f"unknown exit reason {reason!r}; known: {', '.join(EXIT_REASONS)}")
        return self.exit_spread[reason] + self.commission_close[reason]

    def exit_array(self) -> np.ndarray:
        """Closing cost per reason, shape ``(4,)`` in :data:`EXIT_REASONS` order."""
        return np.array([self.exit(r) for r in EXIT_REASONS])

    def round_trip(self, reason: str) -> float:
        """Entry cost + closing cost for ``reason`` (exercise fees excluded)."""
        return self.entry + self.exit(reason)

    def describe(self) -> str:
        """Multi-line summary: entry, then one line per exit reason."""
        lines = [
            f"costs per unit ({self.currency}): entry {self.entry_spread:.2f} spread "
            f"+ {self.commission_open:.2f} fees = {self.entry:.2f}"
        ]
        for r in EXIT_REASONS:
            note = " (+ exercise fees of legs in the money)" if r == "expiry" else ""
            lines.append(
                f"  exit {r:<6}: {self.exit_spread[r]:.2f} spread + "
                f"{self.commission_close[r]:.2f} fees = {self.exit(r):.2f}{note}"
            )
        return "\n".join(lines)


def trade_costs(
    candidate: Candidate,
    *,
    multiplier: float,
    half_spreads: np.ndarray,
    fees: Fees,
    model: CostModel,
) -> TradeCosts:
    """Spread and commission costs of one unit of ``candidate``, per exit reason.

    Parameters
    ----------
    candidate : Candidate
        The structure (``L`` legs with signed quantities per unit).
    multiplier : float
        Contract multiplier, money per point per contract (SPX 100, ES 50).
    half_spreads : numpy.ndarray
        Shape ``(L,)`` per share / point, e.g. from :func:`leg_half_spreads`.
    fees : Fees
        The product's fee row (per-side fees and ``tick``).
    model : CostModel
        Fractions of the half-spread paid per kind of fill, stop slippage.

    Returns
    -------
    TradeCosts
        Money per unit of the structure in ``fees.currency``; every amount >= 0.

    Raises
    ------
    ModelError
        ``multiplier`` not > 0, or ``half_spreads`` of the wrong shape, negative or not finite.
    """
    m = positive("multiplier", multiplier)
    h = per_leg("half_spreads", half_spreads, len(candidate.legs))
    if not (np.all(np.isfinite(h)) and np.all(h >= 0)):
        raise ModelError(f"half_spreads must be finite numbers >= 0, got {h.tolist()}")
    q = np.array([abs(leg.quantity) for leg in candidate.legs], dtype=float)
    n = float(q.sum())
    spread_money = float(q @ h) * m
    stop = (model.stop_fraction * float(q @ h) + model.stop_slippage_ticks * fees.tick * n) * m
    close_fees = fees.per_side * n
    return TradeCosts(
        currency=fees.currency,
        entry_spread=model.spread_fraction * spread_money,
        commission_open=close_fees,
        exit_spread=MappingProxyType(
            {
                "target": 0.0,
                "stop": stop,
                "time": model.exit_fraction * spread_money,
                "expiry": 0.0,
            }
        ),
        commission_close=MappingProxyType(
            {"target": close_fees, "stop": close_fees, "time": close_fees, "expiry": 0.0}
        ),
    )


def exercise_costs(candidate: Candidate, itm, *, multiplier: float, fees: Fees) -> np.ndarray:
    """Exercise / assignment fees at expiry, per path and unit of the structure.

    Parameters
    ----------
    candidate : Candidate
        The structure (``L`` legs).
    itm : array_like of bool
        Shape ``(L, paths)`` (or ``(L,)`` for one path): True where the leg finishes in the
        money. Underlying legs are ignored (nothing is exercised).
    multiplier : float
        Contract multiplier; checked (> 0) but not used: exercise fees are per contract.
    fees : Fees
        The product's fee row (``exercise_fee`` per contract).

    Returns
    -------
    numpy.ndarray
        Shape ``(paths,)``: ``exercise_fee * sum |q|`` over option legs in the money, money in
        ``fees.currency``.

    Raises
    ------
    ModelError
        ``itm`` whose first dimension is not ``L``, or ``multiplier`` not > 0.
    """
    positive("multiplier", multiplier)
    mask = np.asarray(itm, dtype=bool)
    if mask.ndim == 1:
        mask = mask[:, None]
    n_legs = len(candidate.legs)
    if mask.ndim != 2 or mask.shape[0] != n_legs:
        raise ModelError(f"itm must have shape (legs={n_legs}, paths), got {mask.shape}")
    q = np.array([abs(leg.quantity) if leg.is_option else 0 for leg in candidate.legs], float)
    return fees.exercise_fee * (q @ mask.astype(float))


# ----------------------------------------------------------------------------------------------
# Liquidity
# ----------------------------------------------------------------------------------------------


def liquidity_reason(
    candidate: Candidate,
    quotes: pd.DataFrame | None,
    *,
    max_rel_spread: float | None,
    min_open_interest: float | None,
) -> str | None:
    """Why ``candidate`` fails the liquidity filter, or None when it passes.

    Parameters
    ----------
    candidate : Candidate
        The structure; each option leg is checked against its own quote (same expiry date,
        right and strike; no nearest-strike substitute).
    quotes : pandas.DataFrame or None
        Option quotes with ``expiry, strike, right, bid, ask`` and optionally ``mid``,
        ``open_interest`` and ``root`` (see :func:`leg_half_spreads`). None: nothing can be
        checked, the candidate passes.
    max_rel_spread : float or None
        Largest allowed ``(ask - bid) / mid`` per leg (e.g. 0.5); None disables the check.
    min_open_interest : float or None
        Smallest allowed open interest per leg (contracts); None disables the check. Applied only
        where ``quotes`` has an ``open_interest`` column and the leg's value is not NaN.

    Returns
    -------
    str or None
        None when every checkable leg passes; otherwise the failures joined by ``"; "``, each
        naming the leg, e.g. ``"leg -1P6850 2026-02-02: (ask-bid)/mid 0.83 > 0.5"``.

    Notes
    -----
    Legs with no quote (no row of that expiry, right and strike) and underlying legs cannot be
    checked and pass. A quote with a mid <= 0 fails any ``max_rel_spread``.

    Raises
    ------
    ModelError
        ``max_rel_spread`` not > 0, or ``min_open_interest`` negative / not finite.
    """
    if max_rel_spread is not None:
        positive("max_rel_spread", max_rel_spread)
    if min_open_interest is not None:
        _nonneg_arg("min_open_interest", min_open_interest)
    if quotes is None or (max_rel_spread is None and min_open_interest is None):
        return None
    q = _prepare_quotes(quotes)
    reasons: list[str] = []
    for leg in candidate.legs:
        if not leg.is_option:
            continue
        r = _match(q, candidate, leg, exact=True)
        if r is None:
            continue
        if max_rel_spread is not None:
            mid = q.mid[r] if math.isfinite(q.mid[r]) else (q.bid[r] + q.ask[r]) / 2.0
            width = q.ask[r] - q.bid[r]
            rel = width / mid if mid > 0 else math.inf
            if math.isfinite(width) and rel > max_rel_spread:
                reasons.append(f"{_label(leg)}: (ask-bid)/mid {rel:.2f} > {max_rel_spread:g}")
        if min_open_interest is not None:
            oi = q.open_interest[r]
            if math.isfinite(oi) and oi < min_open_interest:
                reasons.append(f"{_label(leg)}: open interest {oi:g} < {min_open_interest:g}")
    return "; ".join(reasons) if reasons else None
