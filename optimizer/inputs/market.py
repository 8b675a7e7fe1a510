"""Market state of a scenario: one vol surface per product, FX, VIX, measured vol ratio.

Raw files are parsed by :mod:`models.market.chain` (this module only asks it to); surfaces for derived
and synthetic products come from :mod:`models.market.surfaces` and :func:`models.market.chain.synthetic_surface`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from models.errors import DataError, SpecError
from models.income import VolRatio, measure_vol_ratio
from models.instruments import get_instrument
from models.market.chain import load_chain, synthetic_surface
from models.market.history import load_index_history, load_vix_history
from models.market.surfaces import ScaledSurface, VixShiftedSurface
from models.strategies import VolSurface
from optimizer.inputs.spec import Scenario

__all__ = ["Market", "build_market", "fx_rate", "market_vix", "recorded_vix"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Market:
    """Surfaces per product symbol, the VIX level, the vol ratio used and the chain filter reports.

    Parameters
    ----------
    surfaces : dict[str, VolSurface]
        One surface per product the scenario trades.
    vix : float
        VIX level (index points) at valuation.
    vol_ratio : float
        Realized/implied vol ratio for the ``expiry`` income model.
    vol_ratio_source : str
        How ``vol_ratio`` was obtained (measured window and estimator, or "stated in scenario").
    filter_reports : dict[str, dict]
        Per chain, the quote-filter counts from :mod:`models.market.chain`.
    quotes : dict[str, pd.DataFrame]
        Per chain product, its kept quotes (``expiry, strike, right, bid, ask, mid,
        open_interest``; per share) for trading costs and liquidity filters. Derived and
        synthetic products have none.
    """

    surfaces: dict[str, VolSurface]
    vix: float
    vol_ratio: float
    vol_ratio_source: str
    filter_reports: dict[str, dict] = field(default_factory=dict)
    quotes: dict[str, pd.DataFrame] = field(default_factory=dict)


#: Quote columns kept for trading costs and liquidity filters.
QUOTE_COST_COLUMNS = ("expiry", "strike", "right", "bid", "ask", "mid", "open_interest")


@lru_cache(maxsize=8)
def _load_chain_cached(path: str, fmt: str, spot: float | None, valuation_time, underlying: str):
    return load_chain(
        path, format=fmt, spot=spot, valuation_time=valuation_time, underlying=underlying
    )


@lru_cache(maxsize=4)
def _vol_ratio_cached(vix_path: str, index_path: str) -> VolRatio:
    return measure_vol_ratio(load_vix_history(vix_path), load_index_history(index_path))


def fx_rate(scenario: Scenario, currency: str) -> float:
    """Value of one unit of ``currency`` in the account currency.

    Raises
    ------
    SpecError
        If the scenario states no rate for ``currency``.
    """
    if currency == scenario.account.currency:
        return 1.0
    try:
        return scenario.account.fx[currency]
    except KeyError:
        raise SpecError(
            f"account.fx.{currency}: needed to convert {currency} into "
            f"{scenario.account.currency}, not given"
        ) from None


def _synthetic(s, scenario: Scenario, inc: float):
    return synthetic_surface(
        s.price,
        scenario.valuation_time,
        s.atm_iv,
        skew=s.skew,
        curvature=s.curvature,
        rate=s.rate,
        carry=s.carry,
        strike_increment=inc,
    )


def build_market(scenario: Scenario) -> Market:
    """Load chains and build every product's surface for ``scenario``.

    Raises
    ------
    SpecError
        A chain file is missing (message names the field), or an unknown product symbol.
    DataError
        A chain file cannot be used (from :mod:`models.market.chain`).
    """
    m = scenario.market
    surfaces: dict[str, VolSurface] = {}
    reports: dict[str, dict] = {}
    quotes: dict[str, pd.DataFrame] = {}
    for sym, spec in m.chains.items():
        path = scenario.resolve(spec.path)
        if not Path(path).exists():
            raise SpecError(f"market.chains.{sym}.path: file not found: {path}")
        try:
            chain = _load_chain_cached(
                str(path), spec.format, spec.spot, scenario.valuation_time, sym
            )
        except DataError as exc:
            raise DataError(f"market.chains.{sym}: {exc}") from None
        surfaces[sym] = chain.surface()
        reports[sym] = dict(getattr(chain, "filter_report", {}) or {})
        cols = [c for c in QUOTE_COST_COLUMNS if c in chain.quotes.columns]
        quotes[sym] = chain.quotes[cols]
    vix = market_vix(scenario)
    moved = m.vix_rule != "none" and m.chains
    if moved:  # a study moves the chains' smiles to the stated VIX
        recorded = recorded_vix(scenario)
        if recorded is None:
            raise SpecError(
                "market.vix_rule: needs the VIX close of the chains' quote date in "
                "market.history.vix to move the smiles from"
            )
        if abs(vix - recorded) > VIX_TOLERANCE:
            for sym in m.chains:
                surfaces[sym] = VixShiftedSurface(surfaces[sym], recorded, vix, m.vix_rule)
    for sym, d in m.derived.items():
        inc = d.strike_increment
        if inc is None:
            inc = get_instrument(sym).strike_increment
        surfaces[sym] = ScaledSurface(surfaces[d.source], d.scale, inc)
    for sym, s in m.synthetic.items():
        inc = s.strike_increment or get_instrument(sym).strike_increment
        try:
            surfaces[sym] = _synthetic(s, scenario, inc)
        except DataError as exc:
            raise DataError(f"market.synthetic.{sym}: {exc}") from None
    vr = scenario.income.vol_ratio

    if vr == "measured":
        if m.history is None:
            ratio, source = 1.0, "not used (theta income model)"
        else:
            for key in ("vix", "index"):
                if not Path(scenario.resolve(getattr(m.history, key))).exists():
                    raise SpecError(f"market.history.{key}: file not found")
            res = _vol_ratio_cached(
                str(scenario.resolve(m.history.vix)), str(scenario.resolve(m.history.index))
            )
            ratio = res.ratio
            source = (
                f"measured: sqrt(mean RV^2 / mean VIX^2) over {res.n} overlapping "
                f"{res.horizon}-day windows {res.start}..{res.end} = {res.ratio:.3f} "
                f"(mean ratio {res.mean_ratio:.3f}, median {res.median_ratio:.3f})"
            )
    else:
        ratio, source = float(vr), "stated in scenario"
    return Market(surfaces, vix, ratio, source, reports, quotes)


#: Largest difference between a stated VIX and the recorded close that counts as the same level.
VIX_TOLERANCE = 0.005


@cache
def _vix_history_cached(path: str):
    return load_vix_history(path)


def recorded_vix(scenario: Scenario) -> float | None:
    """The Cboe VIX close of the chains' quote date from ``market.history.vix`` (None if absent)."""
    m = scenario.market
    if not (m.chains and m.history is not None):
        return None
    path = scenario.resolve(m.history.vix)
    if not Path(path).exists():
        raise SpecError("market.history.vix: file not found")
    hist = _vix_history_cached(str(path))
    day = pd.Timestamp(scenario.valuation_time).normalize()
    past = hist.loc[:day]
    if len(past) and day - past.index[-1] <= pd.Timedelta(days=4):
        return float(past.iloc[-1])
    return None


def market_vix(scenario: Scenario) -> float:
    """The VIX level a scenario is priced at, checked against the chains' quote date.

    In a scenario priced from option chains, the VIX is the market's VIX on the chains' quote
    date (the Cboe close of the last session on or before ``valuation_time``, from
    ``market.history.vix``): ``market.vix`` may be omitted, and a stated value that differs from
    that close is an error — the chain's IVs would not move with it, so only the BP cap would
    (moving the surface with the VIX is a study setting, not a scenario one). Without chains
    (stated economics), ``market.vix`` is required and taken as stated.

    Returns
    -------
    float
        VIX level, index points.

    Raises
    ------
    SpecError
        ``market.vix`` missing where nothing gives it, or different from the recorded close.
    """
    m = scenario.market
    recorded, when = None, None
    if m.chains and m.history is not None:
        path = scenario.resolve(m.history.vix)
        if not Path(path).exists():
            raise SpecError("market.history.vix: file not found")
        hist = _vix_history_cached(str(path))
        day = pd.Timestamp(scenario.valuation_time).normalize()
        past = hist.loc[:day]
        # a valuation after the end of the shipped history cannot be checked against it
        if len(past) and day - past.index[-1] <= pd.Timedelta(days=4):
            recorded, when = float(past.iloc[-1]), past.index[-1].date()
    if m.vix is None:
        if recorded is None:
            raise SpecError(
                "market.vix: not stated and not in market.history.vix for the valuation date; "
                "state the VIX level"
            )
        return recorded
    if recorded is not None and abs(m.vix - recorded) > VIX_TOLERANCE and m.vix_rule == "none":
        raise SpecError(
            f"market.vix: {m.vix:g} differs from the VIX close {recorded:g} of {when} (the "
            f"chains' quote date); the option prices would not move with it. Omit market.vix, "
            f"or sweep VIX in a study, which moves the surface"
        )
    return float(m.vix)
