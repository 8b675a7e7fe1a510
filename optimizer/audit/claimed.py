"""Seed 2's own arithmetic recomputed (the claimed table and break-even) and the consistency checks of its stated per-trade parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from models.streams import (
    Stream,
    implied_win_probability,
    no_edge_win_probability,
)
from optimizer.audit.schema import AuditSpec, PlausibilitySpec, StreamSpec


# ----------------------------------------------------------------------------- claimed
def _mid(v: float | list[float] | None) -> float | None:
    if v is None:
        return None
    return 0.5 * (v[0] + v[1]) if isinstance(v, list) else float(v)


def mix_for(spec: AuditSpec, capital: float) -> dict[str, float]:
    """The seed's mix for ``capital``: the first tier with ``capital ≤ up_to``."""
    for tier in spec.claimed.mixes:
        if tier.up_to is None or capital <= tier.up_to:
            return dict(tier.allocation)
    raise AssertionError("the last tier is open")  # pragma: no cover - schema guarantees it


@dataclass(frozen=True)
class ClaimedRow:
    """One capital level of the seed's table, recomputed with its own arithmetic.

    Attributes
    ----------
    capital : float
        Account size (USD).
    gross_monthly, net_monthly : float
        ``capital × Σ(allocation × rate)`` and that minus the seed's operating costs (USD/month).
    monthly_roi : float
        ``net / capital`` (fraction per month).
    annual : float
        ``capital × ((1 + monthly_roi)^12 − 1)`` (USD), the seed's "annual return".
    meets_target : bool
        ``net ≥ target``.
    p_success : float
        The seed's hard-coded probability (0.75 / 0.45).
    mix : dict
        Stream → allocation used.
    """

    capital: float
    gross_monthly: float
    net_monthly: float
    monthly_roi: float
    annual: float
    meets_target: bool
    p_success: float
    mix: dict[str, float]


def claimed_table(spec: AuditSpec) -> list[ClaimedRow]:
    """The seed's capital table (``small_capital_optimizer.py``), one row per capital level."""
    rows = []
    c = spec.claimed
    for cap in spec.capital_levels:
        mix = mix_for(spec, cap)
        gross = sum(cap * a * spec.streams[k].claimed_monthly_rate for k, a in mix.items())
        net = gross - c.operating_costs
        roi = net / cap
        annual = cap * ((1 + roi) ** 12 - 1) if roi > -1 else -cap
        met = net >= spec.target_monthly
        p = c.success_probability.target_met if met else c.success_probability.otherwise
        rows.append(ClaimedRow(cap, gross, net, roi, annual, met, p, mix))
    return rows


def claimed_break_even(spec: AuditSpec) -> float:
    """The seed's break-even capital (``financial_projection_validator.py``), USD.

    ``(itemised costs + trading_cost_rate × reference) / ((1 + annual × factor)^(1/12) − 1)``
    with the size factor of the reference capital — 1,970.98 / 0.019284 = $102,208.
    """
    be = spec.break_even
    ref = be.reference_capital
    factor = next(f.factor for f in be.size_factors if f.up_to is None or ref <= f.up_to)
    monthly = (1 + be.annual_return * factor) ** (1 / 12) - 1
    return (spec.itemised_costs + be.trading_cost_rate * ref) / monthly


# ----------------------------------------------------------------------------- streams
@dataclass(frozen=True)
class Finding:
    """One consistency check of a stream's stated parameters.

    Attributes
    ----------
    stream : str
        Stream name.
    check : str
        ``implied_win_rate``, ``claimed_rate``, ``position_limit``, ``leverage``, ``spread``.
    severity : str
        ``impossible``, ``implausible``, ``inconsistent``, ``note`` or ``ok``.
    value : float
        The checked quantity (win probability, ratio, fraction …).
    message : str
        What was checked, against which rule and its source.
    """

    stream: str
    check: str
    severity: str
    value: float
    message: str


def _outcome(s: StreamSpec, plaus: PlausibilitySpec) -> tuple[float, float, float, str]:
    """(win probability, win return, loss return, how) of a stream as stated."""
    sl, tp = _mid(s.stop_loss), _mid(s.take_profit)
    if s.win_probability is not None and sl is not None:
        return s.win_probability, tp, sl, "win rate, stop and take-profit stated"
    if sl is not None:
        p = implied_win_probability(s.average_return, sl, tp)
        how = (
            f"win rate implied by the stated average {s.average_return:.2%}, stop {sl:.2%} and "
            f"take-profit {tp:.2%}: p = (avg + SL)/(TP + SL) = {p:.3f}"
        )
        return min(max(p, 0.0), 1.0), tp, sl, how
    p = s.win_probability if s.win_probability is not None else plaus.validator_win_rate
    w = s.average_return / (2 * p - 1)
    how = (
        f"no stop/take-profit stated: win rate {p:.0%} (the seed's validator win rate, "
        f"financial_projection_validator.py) with a 1:1 payoff, win = loss = avg/(2p − 1) = "
        f"{w:.2%} of the stake"
    )
    return p, w, w, how


def derive_streams(
    spec: AuditSpec, *, variant: Literal["stated", "no_edge"] = "stated"
) -> tuple[dict[str, Stream], dict[str, str]]:
    """Simulation streams from the stated parameters.

    Parameters
    ----------
    spec : AuditSpec
        The audit file.
    variant : {"stated", "no_edge"}
        ``stated``: win rates as stated or derived (module docstring); ``no_edge``: every
        stream at ``loss / (win + loss)``, zero expected gross return per trade.

    Returns
    -------
    (dict of name → Stream, dict of name → how the win rate was obtained)
    """
    out, how = {}, {}
    for name, s in spec.streams.items():
        p, w, lo, text = _outcome(s, spec.plausibility)
        if variant == "no_edge":
            p = no_edge_win_probability(lo, w)
            text = f"no-edge win rate loss/(win + loss) = {p:.3f} (zero expected gross per trade)"
        out[name] = Stream(
            name=name,
            trades_per_day=s.trades_per_day,
            win_probability=p,
            win_return=w,
            loss_return=lo,
            position_fraction=s.position_fraction,
            leverage=_mid(s.leverage),
            capital_efficiency=s.capital_efficiency,
            cost_rate=s.cost_rate,
            min_cost=s.min_cost,
            regime_only=s.regime,
            count=s.count,
        )
        how[name] = text
    return out, how


def consistency_checks(spec: AuditSpec, regime_share: float | None = None) -> list[Finding]:
    """Check the stated per-trade parameters against each other and the seed's own rules.

    * implied win rate ``(avg + SL)/(TP + SL)`` (at both ends of a take-profit range):
      > 1 impossible; > ``max_win_rate`` implausible; > the seed's validator win rate
      (``financial_projection_validator.py`` ``target_win_rate`` 60%) inconsistent with the
      seed's own assumption;
    * the claimed monthly rate against the rate the per-trade figures imply, trades/day × stake ×
      average × days per month (× the regime share for regime streams), simple sum: a ratio
      outside [1/2, 2] is inconsistent;
    * the stake against the stream's position limit and the code's 10% default
      (``RiskControlAgent``); leverage against the doc's 5× and the code's 2×;
    * an arbitrage average profit above its minimum spread (a spread capture cannot earn more
      than the spread).
    """
    out: list[Finding] = []
    pl = spec.plausibility
    dpm = spec.simulation.days_per_month
    for name, s in spec.streams.items():
        sl, tp = _mid(s.stop_loss), _mid(s.take_profit)
        if sl is not None and s.average_return is not None:
            tps = s.take_profit if isinstance(s.take_profit, list) else [tp]
            sls = s.stop_loss if isinstance(s.stop_loss, list) else [sl]
            ps = [implied_win_probability(s.average_return, a, b) for a in sls for b in tps]
            p = implied_win_probability(s.average_return, sl, tp)
            lo, hi = min(ps), max(ps)
            span = f"{p:.1%}" if lo == hi else f"{p:.1%} ({lo:.1%}–{hi:.1%} over the ranges)"
            if lo > 1:
                sev, rule = "impossible", "> 100%: no win rate produces the stated average"
            elif p > pl.max_win_rate:
                sev, rule = "implausible", f"> {pl.max_win_rate:.0%} (plausibility bound)"
            elif p > pl.validator_win_rate:
                sev = "inconsistent"
                rule = (
                    f"> the seed's own validator win rate {pl.validator_win_rate:.0%} "
                    "(financial_projection_validator.py)"
                )
            else:
                sev, rule = "ok", f"≤ {pl.validator_win_rate:.0%}"
            out.append(
                Finding(
                    name,
                    "implied_win_rate",
                    sev,
                    p,
                    f"average {s.average_return:.2%} with stop {sl:.2%} and take-profit "
                    f"{tp:.2%} needs a win rate of {span}: {rule}",
                )
            )
        if s.average_return is not None:
            share = regime_share if (s.regime and regime_share is not None) else 1.0
            implied = s.trades_per_day * s.position_fraction * s.capital_efficiency
            implied *= s.average_return * dpm * share
            ratio = implied / s.claimed_monthly_rate if s.claimed_monthly_rate > 0 else math.inf
            sev = "ok" if 0.5 <= ratio <= 2 else "inconsistent"
            extra = f" × regime share {share:.1%}" if s.regime else ""
            out.append(
                Finding(
                    name,
                    "claimed_rate",
                    sev,
                    ratio,
                    f"per-trade figures imply {implied:.0%}/month simple ({s.trades_per_day:g} "
                    f"trades × {s.position_fraction * s.capital_efficiency:.1%} stake × "
                    f"{s.average_return:.2%} × {dpm} days{extra}) against the claimed "
                    f"{s.claimed_monthly_rate:.0%}: ratio {ratio:.2f}",
                )
            )
        limits = [(s.position_limit, "the stream's stated position limit")]
        if spec.risk.code_position_limit is not None:
            limits.append((spec.risk.code_position_limit, "RiskControlAgent's 10% default"))
        for lim, what in limits:
            if lim is not None and s.position_fraction > lim + 1e-12:
                out.append(
                    Finding(
                        name,
                        "position_limit",
                        "inconsistent",
                        s.position_fraction,
                        f"stake {s.position_fraction:.0%} per trade exceeds {what} ({lim:.0%})",
                    )
                )
        lev = s.leverage if isinstance(s.leverage, list) else [s.leverage]
        for cap, what in (
            (spec.risk.leverage_cap, "the seed's 5× leverage limit"),
            (spec.risk.code_leverage, "RiskControlAgent's 2× default"),
        ):
            if cap is not None and max(lev) > cap + 1e-12:
                out.append(
                    Finding(
                        name,
                        "leverage",
                        "inconsistent",
                        max(lev),
                        f"leverage up to {max(lev):g}× exceeds {what} ({cap:g}×)",
                    )
                )
        if s.min_spread is not None and s.average_return is not None:
            ratio = s.average_return / s.min_spread
            out.append(
                Finding(
                    name,
                    "spread",
                    "implausible" if ratio > 1 else "ok",
                    ratio,
                    f"average profit {s.average_return:.2%} per arbitrage trade is "
                    f"{ratio:.1f}× the {s.min_spread:.2%} minimum spread it trades on",
                )
            )
    return out
