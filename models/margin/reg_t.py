"""Buying-power models: Reg-T / Cboe strategy-based margin and fixed per-unit amounts.

Every function returns a :class:`MarginRequirement` **per unit of the structure** (one unit =
the legs as given, each with its signed ``quantity``), in the **instrument currency**; per
contract money = per-share amount x multiplier x |quantity|. Converting to the account currency
is the caller's job.

Reg-T rules implemented by :func:`reg_t` (Cboe Margin Manual; FINRA Rule 4210(f)(2) including
the 2012 option-spread amendments, Regulatory Notice 12-44; Regulation T; domain.md section 9).
Percentages come from ``models/data/margin_rules.yaml``; ``pct`` is 15% for broad-based index
options and for ETFs on a broad-based index, 20% for equity / narrow-based options. For a
**leveraged ETF** both the naked percentage and the 10% floor are multiplied by
``|leverage_factor|`` and capped at 100% of the underlying value (Cboe Regulatory Circular
RG09-97, 2009; FINRA Regulatory Notice 09-53: a 2x broad-based ETF uses 30% / 20%):

- **long option**: paid in full (100% of premium) when it expires within 9 months of the
  valuation time, 75% of premium when longer;
- **naked short call**: premium + max(pct x S - OTM, 10% x S); **naked short put**: premium +
  max(pct x S - OTM, 10% x K); OTM = out-of-the-money amount;
- **vertical / diagonal spread** (same right, long expiry >= short expiry): the long is paid in
  full and the short needs the lesser of its naked requirement and the spread's maximum loss
  at the strikes (FINRA 4210); shown **net of the premium received**, as brokers display
  buying-power reduction: a credit spread costs width - net credit, a debit spread its debit;
- **short strangle / straddle**: the greater naked side + the other side's premium;
- **iron condor / iron butterfly** (a put spread and a call spread, one expiry): the greater
  side's requirement (the wider width for credit spreads) - total net credit;
- **complex spread at its maximum loss** (the universal spread rule: FINRA Rule 4210(f)(2)(G)
  as amended in 2012, Regulatory Notice 12-44; Cboe Margin Manual, butterfly / condor / iron
  spreads): a group of option legs of **one expiry**, with as many long as short contracts of
  each right (so every short is paired with a long of its right and the loss is bounded), needs
  its maximum potential loss at expiry net of the premium paid or received: the expiry payoff
  evaluated at 0 and at every strike (beyond the highest strike the payoff is flat), floored
  at 0. A long balanced butterfly or condor therefore costs its net debit, a broken-wing fly
  the loss on its wide side less the credit. Blocks searched: per expiry, every balanced
  sub-group (>= 3 contracts) of the option legs of that expiry with their counts divided by
  the gcd of the counts (flies, condors, iron flies / condors, boxes, 1x3x2 broken wings ...);
  a block is used only where it is cheaper than the vertical-spread pairing (ties keep the
  vertical / iron rule text);
- **covered call** (a ``U`` leg of +1 = one contract's worth of shares, + a short call):
  50% of the stock value (Reg-T initial); the covered call needs nothing and its premium is
  not credited; a short ``U`` leg likewise covers a short put;
- **cash-secured put** (``cash_secured_puts=True``): strike - premium;
- unpaired ``U`` legs: 50% of their value (Reg-T initial, long or short).

A leg list is margined by the cheapest grouping of its (quantity-expanded) legs into the blocks
above: spreads, covers, strangles and iron pairs, remaining shorts naked, remaining longs paid.
The search is exact (dynamic programming over the multiset of legs), so an LT112 comes out as
a debit spread plus two naked puts and a long butterfly as one complex spread at its debit.
FUTURES margin class raises :class:`ModelError`: futures options are margined by SPAN
(:mod:`models.margin.span`), not Reg-T.
"""

from __future__ import annotations

import calendar
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources

import yaml

from models._checks import positive
from models.errors import DataError, ModelError
from models.legs import Leg, Right

__all__ = [
    "MAX_GROUPING_STATES",
    "MarginClass",
    "MarginRequirement",
    "RegTParameters",
    "fixed",
    "reg_t",
    "reg_t_parameters",
]

#: Largest number of partial states the grouping search may visit: prod(|quantity_i| + 1) over
#: distinct legs. 256 = any 8 expanded legs; repeated identical legs go much further (an LT112
#: scaled x10 needs 2,541 states).
MAX_GROUPING_STATES = 4096


class MarginClass(StrEnum):
    """Which margin regime applies to an instrument's options."""

    BROAD_BASED_INDEX = "broad_based_index"
    EQUITY = "equity"
    FUTURES = "futures"


@dataclass(frozen=True)
class MarginRequirement:
    """Buying-power reduction of one unit of a structure.

    Parameters
    ----------
    amount : float
        Requirement per unit of the structure, instrument currency (or the currency the caller
        passed to :func:`fixed`). Always >= 0.
    rule : str
        Human-readable rule that produced it, with the numbers.
    components : tuple of (str, float)
        Named pieces summing to ``amount`` (e.g. one entry per spread, naked leg, strangle).
    """

    amount: float
    rule: str
    components: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class RegTParameters:
    """Reg-T percentages from ``models/data/margin_rules.yaml`` (fractions)."""

    naked_pct: dict[MarginClass, float]
    naked_floor_pct: float
    long_option_full_payment_months: int
    long_option_long_dated_pct: float
    stock_initial_pct: float


@cache
def reg_t_parameters() -> RegTParameters:
    """Load the Reg-T percentages once from the package data."""
    text = (resources.files("models") / "data" / "margin_rules.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    try:
        params = RegTParameters(
            naked_pct={MarginClass(k): float(v) for k, v in data["naked_pct"].items()},
            naked_floor_pct=float(data["naked_floor_pct"]),
            long_option_full_payment_months=int(data["long_option_full_payment_months"]),
            long_option_long_dated_pct=float(data["long_option_long_dated_pct"]),
            stock_initial_pct=float(data["stock_initial_pct"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"margin_rules.yaml: missing or bad entry ({exc})") from exc
    fractions = [
        *params.naked_pct.values(),
        params.naked_floor_pct,
        params.long_option_long_dated_pct,
        params.stock_initial_pct,
    ]
    if not all(0.0 <= f <= 1.0 for f in fractions):
        raise DataError("margin_rules.yaml: percentages must be fractions in [0, 1]")
    return params


# ----------------------------------------------------------------------------------------------
# Formatting helpers
# ----------------------------------------------------------------------------------------------


def _n(x: float) -> str:
    """Per-share number: 2 decimals unless that would hide digits (FX options)."""
    return f"{x:,.2f}" if abs(round(x, 2) - x) < 1e-9 else f"{x:.6g}"


def _k(x: float) -> str:
    return f"{x:g}"


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


# ----------------------------------------------------------------------------------------------
# Leg types and blocks
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Type:
    """A distinct leg (right, strike, expiry, price, side); ``count`` expanded units per unit."""

    right: Right
    strike: float
    expiry: datetime | None
    price: float
    short: bool
    count: int
    long_dated: bool

    @property
    def name(self) -> str:
        word = {Right.CALL: "call", Right.PUT: "put", Right.UNDERLYING: "underlying"}[self.right]
        if self.right is Right.UNDERLYING:
            return word
        return f"{word} {_k(self.strike)}"


@dataclass(frozen=True)
class _Block:
    """One group of expanded legs margined together; ``uses`` lists the leg-type indices."""

    uses: tuple[int, ...]
    cost: float  # per block, money (x multiplier)
    label: str
    rule: str


class _Context:
    """Everything a block formula needs: S, multiplier, percentages."""

    def __init__(
        self, s: float, m: float, mc: MarginClass, cash_secured_puts: bool, leverage: float = 1.0
    ) -> None:
        p = reg_t_parameters()
        self.s = s
        self.m = m
        # leveraged ETFs: both percentages x |leverage|, capped at 100% (Cboe RG09-97)
        self.leverage = leverage
        self.pct = min(p.naked_pct[mc] * leverage, 1.0)
        self.floor = min(p.naked_floor_pct * leverage, 1.0)
        self.long_dated_pct = p.long_option_long_dated_pct
        self.stock_pct = p.stock_initial_pct
        self.months = p.long_option_full_payment_months
        self.cash_secured_puts = cash_secured_puts

    # naked requirement per share, including the premium, and its explanation
    def naked(self, t: _Type) -> tuple[float, str]:
        if t.right is Right.CALL:
            otm = max(t.strike - self.s, 0.0)
            base, floor_of = self.s, "S"
        else:
            otm = max(self.s - t.strike, 0.0)
            base, floor_of = t.strike, "K"
        main = self.pct * self.s - otm
        floor = self.floor * base
        req = t.price + max(main, floor)
        branch = f"{_pct(self.floor)} floor" if floor > main else f"{_pct(self.pct)} branch"
        text = (
            f"premium {_n(t.price)} + max({_pct(self.pct)} x S {_n(self.s)} - OTM {_n(otm)}, "
            f"{_pct(self.floor)} x {floor_of} {_n(base)}) = {_n(req)} ({branch})"
        )
        return req, text

    def money(self, per_share: float) -> str:
        return f"{_n(per_share)} x {_k(self.m)} = {_money(per_share * self.m)}"


def _single(ctx: _Context, i: int, t: _Type) -> _Block:
    if t.right is Right.UNDERLYING:
        side = "short" if t.short else "long"
        c = ctx.stock_pct * t.price
        rule = f"{side} underlying (Reg-T initial): {_pct(ctx.stock_pct)} x {_n(t.price)} = {ctx.money(c)}"
        return _Block((i,), c * ctx.m, f"{side} underlying", rule)
    if not t.short:
        f = ctx.long_dated_pct if t.long_dated else 1.0
        c = f * t.price
        why = f" (expires > {ctx.months} months out)" if t.long_dated else ""
        rule = f"long {t.name} paid: {_pct(f)} x premium {_n(t.price)}{why} = {ctx.money(c)}"
        return _Block((i,), c * ctx.m, f"long {t.name}", rule)
    if t.right is Right.PUT and ctx.cash_secured_puts:
        c = max(t.strike - t.price, 0.0)
        rule = f"cash-secured put {_k(t.strike)}: strike {_n(t.strike)} - premium {_n(t.price)} = {ctx.money(c)}"
        return _Block((i,), c * ctx.m, f"cash-secured put {_k(t.strike)}", rule)
    req, text = ctx.naked(t)
    rule = f"naked short {t.name}: {text} -> {ctx.money(req)}"
    return _Block((i,), req * ctx.m, f"naked short {t.name}", rule)


def _spread_risk(ctx: _Context, lo: _Type, sh: _Type) -> tuple[float, float, float]:
    """(max loss at the strikes, naked requirement of the short, requirement = lesser)."""
    if sh.right is Right.PUT:
        width = max(sh.strike - lo.strike, 0.0)
    else:
        width = max(lo.strike - sh.strike, 0.0)
    naked, _ = ctx.naked(sh)
    return width, naked, min(width, naked)


def _is_spread(lo: _Type, sh: _Type) -> bool:
    return (
        lo.right is sh.right
        and lo.right is not Right.UNDERLYING
        and not lo.short
        and sh.short
        and lo.expiry is not None
        and sh.expiry is not None
        and lo.expiry >= sh.expiry
    )


def _spread(ctx: _Context, i: int, lo: _Type, j: int, sh: _Type) -> _Block:
    width, naked, risk = _spread_risk(ctx, lo, sh)
    credit = sh.price - lo.price
    word = "call" if sh.right is Right.CALL else "put"
    strikes = f"short {_k(sh.strike)} / long {_k(lo.strike)}"
    if width == 0.0:
        c = max(-credit, 0.0)
        label = f"{word} debit spread {_k(lo.strike)}/{_k(sh.strike)}"
        rule = f"{word} debit spread long {_k(lo.strike)} / short {_k(sh.strike)}: debit {ctx.money(c)}"
        return _Block((i, j), c * ctx.m, label, rule)
    c_raw = risk - credit
    c = max(c_raw, 0.0)
    if risk < width:
        first = f"min(width {_n(width)}, naked short {_n(naked)}) = {_n(risk)}"
    else:
        first = f"width {_n(width)}"
    floor_note = " (floored at 0)" if c_raw < 0 else ""
    label = f"{word} credit spread {_k(sh.strike)}/{_k(lo.strike)}"
    rule = f"{word} credit spread {strikes}: {first} - net credit {_n(credit)}{floor_note} = {ctx.money(c)}"
    return _Block((i, j), c * ctx.m, label, rule)


def _cover(ctx: _Context, i: int, u: _Type, j: int, sh: _Type) -> _Block:
    c = ctx.stock_pct * u.price
    kind = "covered call" if sh.right is Right.CALL else "covered put (short stock)"
    side = "short" if u.short else "long"
    rule = (
        f"{kind} {_k(sh.strike)}: {_pct(ctx.stock_pct)} x {side} stock {_n(u.price)} = "
        f"{ctx.money(c)}; the covered short {sh.name} needs nothing"
    )
    return _Block((i, j), c * ctx.m, f"{kind} {_k(sh.strike)}", rule)


def _strangle(ctx: _Context, i: int, call: _Type, j: int, put: _Type) -> _Block:
    nc, _ = ctx.naked(call)
    np_, _ = ctx.naked(put)
    if nc >= np_:
        greater, other, other_p = f"call {_n(nc)}", "put", put.price
    else:
        greater, other, other_p = f"put {_n(np_)}", "call", call.price
    c = max(nc, np_) + other_p
    word = "straddle" if call.strike == put.strike else "strangle"
    label = f"short {word} C{_k(call.strike)}/P{_k(put.strike)}"
    rule = (
        f"short {word} call {_k(call.strike)} / put {_k(put.strike)}: greater naked side "
        f"({greater}) + {other} premium {_n(other_p)} = {ctx.money(c)}"
    )
    return _Block((i, j), c * ctx.m, label, rule)


def _iron(
    ctx: _Context, put_pair: tuple[int, _Type, int, _Type], call_pair: tuple[int, _Type, int, _Type]
) -> _Block:
    ip, pl, jp, ps = put_pair
    ic, cl, jc, cs = call_pair
    wp, _, rp = _spread_risk(ctx, pl, ps)
    wc, _, rc = _spread_risk(ctx, cl, cs)
    credit = ps.price + cs.price - pl.price - cl.price
    risk = max(rp, rc)
    c_raw = risk - credit
    c = max(c_raw, 0.0)
    word = "iron butterfly" if ps.strike == cs.strike else "iron condor"
    strikes = f"P {_k(pl.strike)}/{_k(ps.strike)} C {_k(cs.strike)}/{_k(cl.strike)}"
    if rp == wp and rc == wc:
        first = f"wider side width {_n(risk)}"
    else:
        first = f"greater side requirement {_n(risk)} (lesser of width and naked short per side)"
    floor_note = " (floored at 0)" if c_raw < 0 else ""
    rule = f"{word} {strikes}: {first} - total credit {_n(credit)}{floor_note} = {ctx.money(c)}"
    return _Block((ip, jp, ic, jc), c * ctx.m, f"{word} {strikes}", rule)


def _balanced(types: list[_Type], use: Counter[int]) -> bool:
    """True if ``use`` holds as many long as short contracts of each right, at least one short."""
    net = {Right.CALL: 0, Right.PUT: 0}
    shorts = 0
    for i, n in use.items():
        t = types[i]
        net[t.right] += -n if t.short else n
        shorts += n if t.short else 0
    return shorts > 0 and net[Right.CALL] == 0 and net[Right.PUT] == 0


def _complex_spread(ctx: _Context, types: list[_Type], use: Counter[int]) -> _Block:
    """One-expiry balanced option group margined at its maximum loss at the strikes (net)."""
    legs = [(types[i], n) for i, n in sorted(use.items(), key=lambda x: types[x[0]].strike)]
    points = [0.0, *sorted({t.strike for t, _ in legs})]
    premium = sum((n if t.short else -n) * t.price for t, n in legs)  # > 0 = net credit
    worst = math.inf
    for x in points:
        pay = 0.0
        for t, n in legs:
            intrinsic = max(x - t.strike, 0.0) if t.right is Right.CALL else max(t.strike - x, 0.0)
            pay += (-n if t.short else n) * intrinsic
        worst = min(worst, pay)
    loss = -worst if worst < 0 else 0.0  # balanced per right: flat beyond the highest strike
    c_raw = loss - premium
    c = max(c_raw, 0.0)
    desc = " ".join(f"{'-' if t.short else '+'}{n}{t.right.value}{_k(t.strike)}" for t, n in legs)
    if premium >= 0:
        text = f"payoff loss at the strikes {_n(loss)} - net credit {_n(premium)}"
    else:
        text = f"payoff loss at the strikes {_n(loss)} + net debit {_n(-premium)}"
    floor_note = " (floored at 0)" if c_raw < 0 else ""
    label = f"complex spread {desc}"
    rule = f"complex spread {desc} (universal spread rule): {text}{floor_note} = {ctx.money(c)}"
    uses = tuple(i for i, n in sorted(use.items()) for _ in range(n))
    return _Block(uses, c * ctx.m, label, rule)


def _complex_spreads(ctx: _Context, types: list[_Type]) -> list[_Block]:
    """Universal-spread blocks: balanced sub-groups of each expiry's primitive option group.

    Per expiry, the option legs' counts are divided by their greatest common divisor (a fly
    given as +2/-4/+2 becomes +1/-2/+1); every sub-group of that primitive group with at least
    3 contracts and as many long as short contracts of each right is offered as a block
    (2-contract groups are verticals, which the spread block already prices as cheaply).
    Taking sub-groups of the *primitive* group keeps the block set the same for k units as for
    one, so k units cost k times one unit; sub-groups that exist only at some multiples (a fly
    body borrowed from two verticals) are not offered.
    """
    by_expiry: dict[datetime, list[int]] = {}
    for i, t in enumerate(types):
        if t.right is not Right.UNDERLYING and t.expiry is not None:
            by_expiry.setdefault(t.expiry, []).append(i)
    blocks: list[_Block] = []
    for idx in by_expiry.values():
        if len(idx) < 2:
            continue
        g = math.gcd(*(types[i].count for i in idx))
        primitive = [types[i].count // g for i in idx]
        if math.prod(c + 1 for c in primitive) > MAX_GROUPING_STATES:
            continue  # _best_grouping refuses this leg list anyway
        for counts in itertools.product(*(range(c + 1) for c in primitive)):
            if sum(counts) < 3:
                continue
            use = Counter({i: n for i, n in zip(idx, counts, strict=True) if n})
            if _balanced(types, use):
                blocks.append(_complex_spread(ctx, types, use))
    return blocks


def _blocks(ctx: _Context, types: list[_Type]) -> list[_Block]:
    """Every admissible block over the distinct leg types: quads, pairs, singles, complex spreads.

    Complex spreads come last so that, at equal cost, the vertical / iron rule is reported.
    """
    idx = list(enumerate(types))
    spreads = [(i, a, j, b) for i, a in idx for j, b in idx if _is_spread(a, b)]
    blocks: list[_Block] = []
    puts = [s for s in spreads if s[3].right is Right.PUT]
    calls = [s for s in spreads if s[3].right is Right.CALL]
    for p in puts:
        for c in calls:
            same_expiry = p[1].expiry == p[3].expiry == c[1].expiry == c[3].expiry
            if same_expiry:
                blocks.append(_iron(ctx, p, c))
    blocks.extend(_spread(ctx, i, a, j, b) for i, a, j, b in spreads)
    for i, u in idx:
        if u.right is not Right.UNDERLYING:
            continue
        covered = Right.PUT if u.short else Right.CALL
        for j, sh in idx:
            if sh.short and sh.right is covered:
                blocks.append(_cover(ctx, i, u, j, sh))
    if not ctx.cash_secured_puts:
        for i, c in idx:
            for j, p in idx:
                if c.short and p.short and c.right is Right.CALL and p.right is Right.PUT:
                    blocks.append(_strangle(ctx, i, c, j, p))
    blocks.extend(_single(ctx, i, t) for i, t in idx)
    blocks.extend(_complex_spreads(ctx, types))
    return blocks


def _check_grouping_size(types: list[_Type]) -> None:
    """Refuse a structure whose grouping search is too large, before any block is built (the
    block enumeration grows with the fourth power of the leg types)."""
    counts = tuple(t.count for t in types)
    n_states = math.prod(c + 1 for c in counts)
    if n_states > MAX_GROUPING_STATES:
        raise ModelError(
            f"too many legs to search the cheapest Reg-T grouping ({sum(counts)} expanded legs, "
            f"{n_states} states > {MAX_GROUPING_STATES}); split the structure into smaller units"
        )


def _best_grouping(types: list[_Type], blocks: list[_Block]) -> list[_Block]:
    """Exact minimum-cost partition of the leg multiset into blocks (memoized DP)."""
    counts = tuple(t.count for t in types)
    _check_grouping_size(types)
    by_first: dict[int, list[tuple[_Block, Counter[int]]]] = {i: [] for i in range(len(types))}
    for b in blocks:
        use = Counter(b.uses)
        for i in set(b.uses):
            by_first[i].append((b, use))
    memo: dict[tuple[int, ...], tuple[float, _Block | None, tuple[int, ...] | None]] = {}

    def solve(state: tuple[int, ...]) -> float:
        if state in memo:
            return memo[state][0]
        first = next((i for i, c in enumerate(state) if c), None)
        if first is None:
            memo[state] = (0.0, None, None)
            return 0.0
        best: tuple[float, _Block | None, tuple[int, ...] | None] = (math.inf, None, None)
        for block, use in by_first[first]:
            if any(state[k] < n for k, n in use.items()):
                continue
            rest = tuple(c - use.get(k, 0) for k, c in enumerate(state))
            total = block.cost + solve(rest)
            if total < best[0] - 1e-9:
                best = (total, block, rest)
        memo[state] = best
        return best[0]

    solve(counts)
    chosen: list[_Block] = []
    state: tuple[int, ...] | None = counts
    while state is not None:
        _, block, nxt = memo[state]
        if block is None:
            break
        chosen.append(block)
        state = nxt
    return chosen


def _add_months(t: datetime, months: int) -> datetime:
    month0 = t.month - 1 + months
    year, month = t.year + month0 // 12, month0 % 12 + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def _naive(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=None) if t is not None and t.tzinfo is not None else t


def _types(legs: Sequence[Leg], valuation_time: datetime | None, months: int) -> list[_Type]:
    horizon = _add_months(valuation_time, months) if valuation_time is not None else None
    merged: dict[tuple, int] = {}
    for k, leg in enumerate(legs):
        if not isinstance(leg, Leg):
            raise ModelError(f"legs[{k}] is not a Leg (got {type(leg).__name__})")
        expiry = _naive(leg.expiry)
        if leg.is_option and valuation_time is not None and expiry < valuation_time:
            raise ModelError(
                f"legs[{k}] ({leg.right.value} {leg.strike:g}) expired {expiry:%Y-%m-%d %H:%M} "
                f"before the valuation time {valuation_time:%Y-%m-%d %H:%M}"
            )
        strike = leg.strike if leg.is_option else 0.0
        key = (leg.right, strike, expiry, leg.price, leg.is_short)
        merged[key] = merged.get(key, 0) + abs(leg.quantity)
    return [
        _Type(
            right=right,
            strike=strike,
            expiry=expiry,
            price=price,
            short=short,
            count=count,
            long_dated=bool(horizon is not None and expiry is not None and expiry > horizon),
        )
        for (right, strike, expiry, price, short), count in merged.items()
    ]


def reg_t(
    legs: Sequence[Leg],
    underlying_price: float,
    multiplier: float,
    margin_class: MarginClass,
    *,
    valuation_time: datetime | None = None,
    cash_secured_puts: bool = False,
    leverage_factor: float = 1.0,
) -> MarginRequirement:
    """Reg-T / Cboe strategy-based buying-power reduction of one unit of a structure.

    Parameters
    ----------
    legs : sequence of Leg
        The structure per unit (signed quantities; prices per share, instrument currency).
        A ``U`` leg of quantity +1 is one contract's worth of the underlying (``multiplier``
        shares), e.g. 100 SPY shares for a covered call.
    underlying_price : float
        Spot ``S`` (index level or share price), instrument currency, > 0.
    multiplier : float
        Contract multiplier (100 for SPX/SPY options), > 0.
    margin_class : MarginClass
        ``BROAD_BASED_INDEX`` (15%: broad-based index options and ETFs on a broad-based index)
        or ``EQUITY`` (20%); ``FUTURES`` raises.
    valuation_time : datetime, optional
        Needed for the 9-month rule on long options; without it every long option is paid in
        full (conservative). Option legs expiring before it raise.
    cash_secured_puts : bool, default False
        Treat every short put not in a spread as cash-secured (strike - premium) instead of
        margined naked; strangle pairing is then off.
    leverage_factor : float, default 1
        Leverage of a leveraged / inverse ETF underlying (SSO 2, UPRO 3, SDS -2); the naked
        percentage and the 10% floor are multiplied by ``|leverage_factor|`` and capped at 100%
        (Cboe Regulatory Circular RG09-97; FINRA Regulatory Notice 09-53). Must be non-zero.

    Returns
    -------
    MarginRequirement
        ``amount`` per unit of the structure in instrument currency, the ``rule`` with its
        numbers and one component per block of the cheapest grouping.

    Raises
    ------
    ModelError
        Futures margin class, empty or non-Leg input, bad price/multiplier/leverage, expired
        legs, or a leg list too large to search (:data:`MAX_GROUPING_STATES`).

    Notes
    -----
    Sources: Cboe Margin Manual (2000); FINRA Rule 4210(f)(2)(D)-(G) and Regulatory Notice
    12-44 (spreads: long paid in full, short at the lesser of its naked requirement and the
    maximum loss; butterflies, condors, iron and box spreads at their maximum potential loss);
    Cboe RG09-97 / FINRA RN 09-53 (leveraged ETFs); Regulation T 50% initial on stock;
    domain.md section 9 (tastytrade strangle and vertical examples). House rules (e.g. a
    $100/contract naked minimum) are not applied. The complex-spread rule is applied whatever
    the exercise style (FINRA's 2012 amendments admit American-style components in a margin
    account); a broker that restricts it to European / cash-settled series charges more.
    """
    try:
        mc = MarginClass(margin_class)
    except ValueError:
        raise ModelError(
            f"unknown margin class {margin_class!r}; use one of {', '.join(m.value for m in MarginClass)}"
        ) from None
    if mc is MarginClass.FUTURES:
        raise ModelError("Reg-T does not apply to futures options; use fixed or SPAN")
    if not legs:
        raise ModelError("reg_t needs at least one leg")
    s = positive("underlying_price", underlying_price)
    m = positive("multiplier", multiplier)
    try:
        lev = abs(float(leverage_factor))
    except (TypeError, ValueError):
        raise ModelError(f"leverage_factor must be a number, got {leverage_factor!r}") from None
    if not (math.isfinite(lev) and lev > 0):
        raise ModelError(f"leverage_factor must be finite and non-zero, got {leverage_factor!r}")
    ctx = _Context(s, m, mc, cash_secured_puts, lev)
    types = _types(legs, _naive(valuation_time), ctx.months)
    _check_grouping_size(types)
    chosen = _best_grouping(types, _blocks(ctx, types))

    grouped: dict[str, list[_Block]] = {}
    for block in chosen:
        grouped.setdefault(block.rule, []).append(block)
    components: list[tuple[str, float]] = []
    rules: list[str] = []
    for rule, blocks in grouped.items():
        n = len(blocks)
        amount = sum(b.cost for b in blocks)
        components.append((f"{n} x {blocks[0].label}" if n > 1 else blocks[0].label, amount))
        rules.append(f"{n} x [{rule}]" if n > 1 else rule)
    total = sum(a for _, a in components)
    lev_note = f", leverage {lev:g}x" if lev != 1.0 else ""
    head = (
        f"Reg-T {mc.value.replace('_', '-')} (naked {_pct(ctx.pct)}, floor {_pct(ctx.floor)}"
        f"{lev_note})"
    )
    rule = f"{head}: " + "; ".join(rules)
    if len(rules) > 1:
        rule += f"; total {_money(total)}"
    return MarginRequirement(amount=total, rule=rule, components=tuple(components))


def fixed(
    per_unit: float | None = None,
    *,
    pct_of_nlv: float | None = None,
    nlv: float | None = None,
) -> MarginRequirement:
    """A fixed buying-power amount per unit (seed 1's constants, Tom King's figures).

    Parameters
    ----------
    per_unit : float, optional
        Amount per unit of the structure, in whatever currency the caller states (e.g. the
        instrument's ``fixed_margin_currency``).
    pct_of_nlv : float, optional
        Fraction of net liquidation value per unit (0.025 = 2.5%, v17's micro strangle),
        in [0, 1]; requires ``nlv``.
    nlv : float, optional
        Net liquidation value, account currency; the result is then in account currency.

    Exactly one of ``per_unit`` or ``pct_of_nlv`` must be given.

    Raises
    ------
    ModelError
        Both or neither given, negative / non-finite values, or ``pct_of_nlv`` without ``nlv``.
    """
    if (per_unit is None) == (pct_of_nlv is None):
        raise ModelError("fixed margin needs exactly one of per_unit or pct_of_nlv")

    def finite_nonneg(name: str, value: float) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"{name} must be a number, got {value!r}") from None
        if not (math.isfinite(x) and x >= 0):
            raise ModelError(f"{name} must be a finite number >= 0, got {value!r}")
        return x

    if per_unit is not None:
        if nlv is not None:
            raise ModelError("nlv is only used with pct_of_nlv")
        amount = finite_nonneg("per_unit", per_unit)
        return MarginRequirement(
            amount=amount,
            rule=f"fixed: {_money(amount)} per unit",
            components=(("fixed per unit", amount),),
        )
    pct = finite_nonneg("pct_of_nlv", pct_of_nlv)
    if pct > 1:
        raise ModelError(f"pct_of_nlv is a fraction in [0, 1] (0.025 = 2.5%), got {pct_of_nlv!r}")
    if nlv is None:
        raise ModelError("pct_of_nlv needs nlv (net liquidation value, account currency)")
    base = finite_nonneg("nlv", nlv)
    amount = pct * base
    return MarginRequirement(
        amount=amount,
        rule=f"fixed: {pct * 100:g}% of NLV {_money(base)} = {_money(amount)} per unit",
        components=(("fixed % of NLV", amount),),
    )
