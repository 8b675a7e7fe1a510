"""OptionChain: a cleaned option chain with per-expiry forward, discount factor, IV and Greeks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from models.errors import DataError
from models.market.chain._time import EXPIRY_TIME, to_datetime_ns, to_timestamp, year_fraction
from models.market.chain.parity import ParityFit, parity_forward
from models.market.chain.surface import ChainSurface
from models.market.pricing import bsm_greeks, implied_vol

__all__ = ["OptionChain", "FILTER_REASONS", "QUOTE_COLUMNS", "EXPIRY_COLUMNS", "PLACEHOLDER_IV_MAX"]

#: Source IVs at or below this are placeholders (yfinance writes 1e-05 on deep ITM rows, Cboe 0).
PLACEHOLDER_IV_MAX = 1e-4

#: A given spot more than this (log, plus 5%/yr of carry) off the nearest parity forward is noted.
SPOT_GAP_TOL = 0.002

#: Reasons a row is dropped, in the order they are checked. A row may have several (joined by
#: ";" in :attr:`OptionChain.dropped`); :attr:`OptionChain.filter_report` counts each reason.
FILTER_REASONS: dict[str, str] = {
    "bad_contract": "strike missing or <= 0, right not C/P, or expiry missing",
    "expired": "expiry <= valuation_time",
    "no_bid": "bid missing or <= 0",
    "no_ask": "ask missing or <= 0",
    "crossed": "bid > ask",
    "placeholder_iv": f"source IV <= {PLACEHOLDER_IV_MAX:g} (yfinance 1e-05 / Cboe 0 placeholder)",
    "duplicate": "same expiry, strike, right and root as a tighter quote",
    "no_forward": "no strike on the expiry has both a call and a put quote (no parity forward)",
    "iv_invalid": "mid outside the no-arbitrage bounds: implied vol undefined (detail column)",
    "greeks_invalid": "non-finite Greeks",
}

#: Columns of :attr:`OptionChain.quotes` (in order).
QUOTE_COLUMNS = [
    "expiry",
    "strike",
    "right",
    "root",
    "symbol",
    "bid",
    "ask",
    "mid",
    "t",
    "forward",
    "discount_factor",
    "rate",
    "div_yield",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
    "open_interest",
    "volume",
    "source_iv",
    "source_delta",
    "source_gamma",
]

#: Columns of :attr:`OptionChain.expiries` (in order).
EXPIRY_COLUMNS = [
    "expiry",
    "t",
    "forward",
    "discount_factor",
    "rate",
    "div_yield",
    "atm_iv",
    "n_quotes",
    "n_dropped",
    "parity_method",
    "parity_pairs",
    "parity_rmse",
    "rate_se",
]

_RAW_REQUIRED = ["expiry", "strike", "right", "bid", "ask"]
_RAW_OPTIONAL = [
    "root",
    "symbol",
    "open_interest",
    "volume",
    "source_iv",
    "source_delta",
    "source_gamma",
]
_OCC = r"^([A-Z]{1,6})\d{6}[CP]\d{8}$"


def _is_bare_date(value: object) -> bool:
    if isinstance(value, str):
        return len(value.strip()) <= 10
    return isinstance(value, date) and not isinstance(value, datetime)


def _normalize_raw(raw: pd.DataFrame) -> pd.DataFrame:
    """Coerce a raw quote frame to the canonical raw columns and dtypes."""
    missing = [c for c in _RAW_REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(
            f"option quotes miss required column(s) {missing}; have {list(raw.columns)}"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    values = pd.Series(raw["expiry"].to_numpy(), dtype=object)
    expiry = to_datetime_ns(values)
    bare = values.map(_is_bare_date).to_numpy(dtype=bool)  # a bare date means 16:00 that day
    expiry[bare] = expiry[bare] + pd.Timedelta(hours=EXPIRY_TIME.hour, minutes=EXPIRY_TIME.minute)
    out["expiry"] = expiry.to_numpy()
    out["strike"] = pd.to_numeric(raw["strike"].to_numpy(), errors="coerce").astype(float)
    right = pd.Series(raw["right"].to_numpy(), dtype=object).astype(str).str.strip().str.upper()
    out["right"] = (
        right.map({"C": "C", "CALL": "C", "P": "P", "PUT": "P"}).fillna("?").astype(object)
    )
    symbol = (
        pd.Series(raw["symbol"].to_numpy(), dtype=object)
        if "symbol" in raw.columns
        else pd.Series([None] * len(raw), dtype=object)
    )
    symbol = symbol.where(symbol.notna(), None)
    out["symbol"] = symbol.astype(object)
    if "root" in raw.columns:
        root = pd.Series(raw["root"].to_numpy(), dtype=object)
    else:
        root = symbol.astype(str).str.extract(_OCC, expand=False).astype(object)
    out["root"] = root.where(root.notna(), "").astype(str).astype(object)
    for col in ("bid", "ask"):
        out[col] = pd.to_numeric(raw[col].to_numpy(), errors="coerce").astype(float)
    for col in ("open_interest", "volume", "source_iv", "source_delta", "source_gamma"):
        if col in raw.columns:
            out[col] = pd.to_numeric(raw[col].to_numpy(), errors="coerce").astype(float)
        else:
            out[col] = np.nan
    return out


@dataclass(frozen=True, eq=False)
class OptionChain:
    """A cleaned option chain at one valuation time.

    Build one with :func:`models.market.chain.load_chain` (files) or :meth:`from_quotes` (a DataFrame).

    Attributes
    ----------
    underlying : str
        Underlying symbol (e.g. ``"SPX"``, ``"SPY"``).
    valuation_time : datetime
        Naive exchange-local time the quotes belong to (e.g. 2026-01-30 16:00 after the close).
    spot : float
        Underlying price (price units).
    quotes : DataFrame
        Kept contracts, one row per contract, sorted by expiry, strike, right. Columns
        :data:`QUOTE_COLUMNS`: ``expiry`` (datetime64, 16:00 local on the expiration date unless
        the source states a time), ``strike``, ``right`` (``"C"``/``"P"``), ``root`` (option root
        from the OCC symbol, e.g. SPX/SPXW; ``""`` if unknown), ``symbol``, ``bid``, ``ask``,
        ``mid`` (per share), ``t`` (years, calendar), ``forward``, ``discount_factor``, ``rate``
        and ``div_yield`` (continuous, per year, of the expiry), ``iv`` (decimal, recomputed from
        ``mid`` with the parity forward), ``delta``, ``gamma`` (per share), ``theta`` (per share
        per calendar day), ``vega`` (per share per vol point), ``rho`` (per 1%),
        ``open_interest``, ``volume``, and the source's own ``source_iv``, ``source_delta``,
        ``source_gamma`` (NaN when the file has none).
    expiries : DataFrame
        One row per expiry with kept quotes, columns :data:`EXPIRY_COLUMNS`: ``expiry, t,
        forward, discount_factor, rate, div_yield, atm_iv`` (surface IV at ``K = F``),
        ``n_quotes`` (kept), ``n_dropped``, ``parity_method`` (``"regression"`` or
        ``"fixed_df"``), ``parity_pairs``, ``parity_rmse`` (price units), ``rate_se``.
    filter_report : dict[str, int]
        ``input``, ``kept``, ``dropped`` row counts and the count of rows failing each reason of
        :data:`FILTER_REASONS` (a row can fail several, so reason counts may sum to more than
        ``dropped``).
    dropped : DataFrame
        Dropped rows (raw columns) with ``reason`` (reasons joined by ``";"``) and ``detail``.
    notes : tuple[str, ...]
        Human-readable notes (inferred spot, fallback discount rates, ...).
    """

    underlying: str
    valuation_time: datetime
    spot: float
    quotes: pd.DataFrame = field(repr=False)
    expiries: pd.DataFrame = field(repr=False)
    filter_report: dict[str, int] = field(repr=False)
    dropped: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = field(default=(), repr=False)
    _surface: ChainSurface | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_quotes(
        cls,
        raw: pd.DataFrame,
        *,
        underlying: str,
        valuation_time: object,
        spot: float | None = None,
        rate: float | None = None,
        n_parity: int = 12,
        max_rate_se: float = 0.01,
        rate_band: tuple[float, float] = (-0.05, 0.20),
    ) -> OptionChain:
        """Clean raw quotes and derive forwards, discount factors, IVs, Greeks and the surface.

        Parameters
        ----------
        raw : DataFrame
            One row per contract with columns ``expiry`` (datetime-like, naive local; a bare
            date string or ``datetime.date`` means 16:00 that day),
            ``strike``, ``right`` (C/P/call/put), ``bid``, ``ask`` (per share), optionally
            ``root``, ``symbol`` (OCC; the root is parsed from it), ``open_interest``, ``volume``,
            ``source_iv``, ``source_delta``, ``source_gamma``.
        underlying : str
            Underlying symbol.
        valuation_time : datetime or ISO str
            Naive exchange-local time of the quotes.
        spot : float, optional
            Underlying price. If omitted it is inferred as the parity forward of the nearest
            expiry (a few days of carry off the true spot; a note records it).
        rate : float, optional
            Continuous risk-free rate used for expiries whose parity regression is rejected.
            Default: the rates of the accepted expiries, interpolated linearly in ``t`` (flat
            outside); if no expiry's regression is accepted (a chain of only short-dated or
            American options, e.g. the SPY file), ``rate = 0`` with a note — for such chains the
            discount factor barely moves the IVs because ``F`` comes from parity anyway.
        n_parity : int, default 12
            Strikes nearest the money used in each parity fit.
        max_rate_se : float, default 0.01
            A parity regression is accepted only if the standard error of its implied rate is at
            most this (per year) ...
        rate_band : (float, float), default (-0.05, 0.20)
            ... and its rate ``-ln(DF)/t`` lies in this band, i.e. ``DF`` in
            ``[exp(-0.20 t), exp(0.05 t)]``. Rejected expiries use ``DF = exp(-r t)`` with the
            fallback rate and fit only ``F``.

        Returns
        -------
        OptionChain

        Raises
        ------
        DataError
            Empty input, missing columns, bad spot/rate/valuation time, or no valid quote left
            after filtering (the message gives the filter counts).

        Notes
        -----
        Pipeline: (1) quote filters (:data:`FILTER_REASONS` up to ``duplicate``); (2) per expiry,
        forward and DF from put-call parity on near-the-money strikes pairing a call and a put of
        the same root (:func:`~models.market.chain.parity.parity_forward`, Cboe VIX white paper);
        ``rate = -ln(DF)/t``, ``div_yield = rate - ln(F/spot)/t``; (3) IV from the mid with
        ``implied_vol(mid, F, K, t, DF)``; rows without IV are dropped; (4) Greeks from
        ``bsm_greeks(spot, K, t, rate, div_yield, iv)`` — spot Greeks, consistent with the
        parity forward. For American options (SPY) parity and the European IV are approximate.
        """
        if not isinstance(raw, pd.DataFrame) or len(raw) == 0:
            raise DataError("option chain is empty: no quote rows")
        vt = to_timestamp(valuation_time, what="valuation_time")
        if spot is not None:
            try:
                spot = float(spot)
            except (TypeError, ValueError):
                raise DataError(f"spot must be a number, got {spot!r}") from None
            if not np.isfinite(spot) or spot <= 0:
                raise DataError(f"spot must be a positive number, got {spot!r}")
        if rate is not None:
            try:
                rate = float(rate)
            except (TypeError, ValueError):
                raise DataError(f"rate must be a number, got {rate!r}") from None
            if not np.isfinite(rate):
                raise DataError(f"rate must be a finite number, got {rate!r}")
        underlying = str(underlying or "").strip() or "UNKNOWN"

        q = _normalize_raw(raw)
        n = len(q)
        q["mid"] = 0.5 * (q["bid"] + q["ask"])
        q["t"] = year_fraction(vt, q["expiry"])
        fails: dict[str, np.ndarray] = {}
        strike, bid, ask = q["strike"].to_numpy(), q["bid"].to_numpy(), q["ask"].to_numpy()
        fails["bad_contract"] = (
            ~(strike > 0) | (q["right"].to_numpy() == "?") | q["expiry"].isna().to_numpy()
        )
        fails["expired"] = ~fails["bad_contract"] & ~(q["t"].to_numpy() > 0)
        fails["no_bid"] = ~(bid > 0)
        fails["no_ask"] = ~(ask > 0)
        fails["crossed"] = bid > ask
        src_iv = q["source_iv"].to_numpy()
        fails["placeholder_iv"] = np.isfinite(src_iv) & (src_iv <= PLACEHOLDER_IV_MAX)
        ok = ~np.logical_or.reduce(list(fails.values()))
        # duplicates among otherwise-good rows: keep the tightest spread
        spread = (q["ask"] - q["bid"]).where(pd.Series(ok), np.inf)
        order = np.lexsort((np.arange(n), spread.to_numpy()))
        dup_sorted = (
            q.iloc[order].duplicated(["expiry", "strike", "right", "root"], keep="first").to_numpy()
        )
        dup = np.zeros(n, dtype=bool)
        dup[order] = dup_sorted
        fails["duplicate"] = ok & dup
        ok &= ~dup

        # ---- parity per expiry
        good = q.loc[ok]
        calls = good.loc[good["right"] == "C", ["expiry", "root", "strike", "mid"]]
        puts = good.loc[good["right"] == "P", ["expiry", "root", "strike", "mid"]]
        pairs = calls.merge(puts, on=["expiry", "root", "strike"], suffixes=("_c", "_p"))
        expiry_t = good.groupby("expiry")["t"].first()
        fits: dict[pd.Timestamp, ParityFit] = {}
        regressions: dict[pd.Timestamp, ParityFit] = {}
        pair_groups = {e: g for e, g in pairs.groupby("expiry")}
        lo_rate, hi_rate = rate_band
        for e, g in pair_groups.items():
            if len(g) < 3:
                continue
            t = float(expiry_t[e])
            try:
                fit = parity_forward(g["strike"], g["mid_c"], g["mid_p"], t, n_pairs=n_parity)
            except DataError:
                continue
            r_fit = -np.log(fit.discount_factor) / t
            if lo_rate <= r_fit <= hi_rate and fit.rate_se <= max_rate_se:
                regressions[e] = fit
        notes: list[str] = []
        rate_defaulted = False
        if rate is None and not regressions and pair_groups:
            # Short-dated (or American) chains pin F well but not DF; DF then hardly matters.
            rate = 0.0
            rate_defaulted = True
            notes.append(
                "discount rate not determinable from put-call parity (no expiry with a reliable fit: "
                "short-dated or American options); using rate=0 (pass rate= to set one)"
            )
        if regressions:
            acc_t = np.array([float(expiry_t[e]) for e in regressions])
            acc_r = np.array(
                [-np.log(f.discount_factor) / float(expiry_t[e]) for e, f in regressions.items()]
            )
            o = np.argsort(acc_t)
            acc_t, acc_r = acc_t[o], acc_r[o]
        n_fallback = 0
        for e, g in pair_groups.items():
            if e in regressions:
                fits[e] = regressions[e]
                continue
            t = float(expiry_t[e])
            r_fb = float(rate) if rate is not None else float(np.interp(t, acc_t, acc_r))
            fits[e] = parity_forward(
                g["strike"],
                g["mid_c"],
                g["mid_p"],
                t,
                discount_factor=float(np.exp(-r_fb * t)),
                n_pairs=n_parity,
            )
            n_fallback += 1
        if n_fallback and not rate_defaulted:
            src = (
                f"rate={float(rate):g}"
                if rate is not None
                else "the rates of the fitted expiries (interpolated in t)"
            )
            notes.append(
                f"{n_fallback} of {len(fits)} expiries: parity regression rejected (too few pairs, noisy, or rate "
                f"outside [{lo_rate:g}, {hi_rate:g}]); discount factor from {src}"
            )
        fwd = q["expiry"].map({e: f.forward for e, f in fits.items()}).to_numpy(float)
        dfs = q["expiry"].map({e: f.discount_factor for e, f in fits.items()}).to_numpy(float)
        fails["no_forward"] = ok & ~np.isfinite(fwd)
        ok &= np.isfinite(fwd)
        if not ok.any():
            raise DataError(f"no valid quotes in the option chain ({_report_text(fails, n)})")
        e0 = min(fits, key=lambda e: float(expiry_t[e]))
        if spot is None:
            spot = float(fits[e0].forward)
            notes.append(
                f"spot not given: inferred as the parity forward of the nearest expiry {e0:%Y-%m-%d} ({spot:.4f})"
            )
        else:
            t0, f0 = float(expiry_t[e0]), fits[e0]
            gap = np.log(f0.forward / spot) + np.log(f0.discount_factor)  # ln(F/S) - r t = -q t
            if abs(gap) > SPOT_GAP_TOL + 0.05 * t0:
                notes.append(
                    f"spot {spot:g} is {100 * (f0.forward / spot - 1):+.2f}% off the parity forward "
                    f"{f0.forward:.2f} of the nearest expiry {e0:%Y-%m-%d}: spot and option quotes are "
                    "probably from different times (e.g. an after-hours 'Last'); IVs use the parity "
                    "forward, Greeks use this spot (the dividend yield absorbs the gap); pass spot= to override"
                )
        q["forward"] = fwd
        q["discount_factor"] = dfs
        t_all = q["t"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            q["rate"] = 0.0 - np.log(dfs) / t_all
            q["div_yield"] = q["rate"].to_numpy() - np.log(fwd / spot) / t_all

        # ---- implied vol from mids
        idx = np.flatnonzero(ok)
        sub = q.iloc[idx]
        is_call = sub["right"].to_numpy() == "C"
        res = implied_vol(
            sub["mid"].to_numpy(),
            sub["forward"].to_numpy(),
            sub["strike"].to_numpy(),
            sub["t"].to_numpy(),
            sub["discount_factor"].to_numpy(),
            is_call,
        )
        iv = np.full(n, np.nan)
        iv[idx] = np.asarray(res.iv, dtype=float)
        detail = np.full(n, "", dtype=object)
        detail[idx] = np.asarray(res.reason, dtype=object)
        fails["iv_invalid"] = ok & ~(np.isfinite(iv) & (iv > 0))
        ok &= ~fails["iv_invalid"]
        q["iv"] = iv

        # ---- Greeks (spot Greeks, BSM with the expiry's r and q)
        idx = np.flatnonzero(ok)
        sub = q.iloc[idx]
        g = bsm_greeks(
            spot,
            sub["strike"].to_numpy(),
            sub["t"].to_numpy(),
            sub["rate"].to_numpy(),
            sub["div_yield"].to_numpy(),
            sub["iv"].to_numpy(),
            sub["right"].to_numpy() == "C",
        )
        for name in ("delta", "gamma", "theta", "vega", "rho"):
            col = np.full(n, np.nan)
            col[idx] = np.asarray(getattr(g, name), dtype=float)
            q[name] = col
        finite = np.isfinite(q[["delta", "gamma", "theta", "vega", "rho"]].to_numpy()).all(axis=1)
        fails["greeks_invalid"] = ok & ~finite
        ok &= finite
        if not ok.any():
            raise DataError(f"no valid quotes in the option chain ({_report_text(fails, n)})")

        # ---- assemble
        reasons = np.array(list(fails.values()))
        names = np.array(list(fails.keys()), dtype=object)
        reason_str = np.array(
            [";".join(names[reasons[:, i]]) for i in np.flatnonzero(~ok)], dtype=object
        )
        raw_cols = ["expiry", "strike", "right", "root", "symbol", "bid", "ask", "open_interest"]
        raw_cols += ["volume", "source_iv", "source_delta", "source_gamma"]
        dropped = q.loc[~ok, raw_cols].copy()
        dropped["reason"] = reason_str
        dropped["detail"] = detail[~ok]
        dropped = dropped.reset_index(drop=True)
        quotes = (
            q.loc[ok, QUOTE_COLUMNS]
            .sort_values(["expiry", "strike", "right", "root"], kind="stable")
            .reset_index(drop=True)
        )
        report = {"input": int(n), "kept": int(ok.sum()), "dropped": int((~ok).sum())}
        report.update({k: int(v.sum()) for k, v in fails.items()})

        surface = ChainSurface.from_quotes(spot, vt.to_pydatetime(), quotes)
        exp_rows = []
        kept_counts = quotes.groupby("expiry").size()
        dropped_counts = dropped.groupby("expiry").size()
        for e in kept_counts.index:
            f = fits[e]
            t = float(expiry_t[e])
            r = 0.0 - np.log(f.discount_factor) / t
            exp_rows.append(
                {
                    "expiry": e,
                    "t": t,
                    "forward": f.forward,
                    "discount_factor": f.discount_factor,
                    "rate": r,
                    "div_yield": r - np.log(f.forward / spot) / t,
                    "atm_iv": float(surface.iv(f.forward, t)),
                    "n_quotes": int(kept_counts[e]),
                    "n_dropped": int(dropped_counts.get(e, 0)),
                    "parity_method": f.method,
                    "parity_pairs": f.n_pairs,
                    "parity_rmse": f.rmse,
                    "rate_se": f.rate_se,
                }
            )
        expiries = pd.DataFrame(exp_rows, columns=EXPIRY_COLUMNS)
        expiries["expiry"] = expiries["expiry"].astype("datetime64[ns]")
        return cls(
            underlying=underlying,
            valuation_time=vt.to_pydatetime(),
            spot=float(spot),
            quotes=quotes,
            expiries=expiries,
            filter_report=report,
            dropped=dropped,
            notes=tuple(notes),
            _surface=surface,
        )

    # ------------------------------------------------------------------ accessors
    def surface(self) -> ChainSurface:
        """The interpolated implied-vol surface of this chain (see :class:`ChainSurface`)."""
        if self._surface is None:  # constructed directly rather than by from_quotes
            object.__setattr__(
                self,
                "_surface",
                ChainSurface.from_quotes(self.spot, self.valuation_time, self.quotes),
            )
        return self._surface

    def to_frame(self) -> pd.DataFrame:
        """Kept contracts with ``underlying``, ``valuation_time`` and ``spot`` prepended (copy)."""
        out = self.quotes.copy()
        out.insert(0, "spot", self.spot)
        out.insert(0, "valuation_time", pd.Timestamp(self.valuation_time))
        out.insert(0, "underlying", self.underlying)
        return out

    def to_tidy_csv(self, path: str | Path, *, include_dropped: bool = True) -> Path:
        """Write the chain in the tidy CSV format (gzip if the name ends in ``.gz``).

        With ``include_dropped=True`` (default) the dropped rows are written too, so that
        :func:`~models.market.chain.load_chain` on the file rebuilds exactly this chain. See
        :data:`models.market.chain.loaders.TIDY_COLUMNS` for the format.
        """
        from models.market.chain.loaders import write_tidy_csv

        return write_tidy_csv(self, path, include_dropped=include_dropped)

    def smile_summary(self, delta: float = 0.25) -> pd.DataFrame:
        """Per-expiry smile summary (what ``thetaplan chain`` prints).

        Parameters
        ----------
        delta : float, default 0.25
            Absolute spot delta of the wing points reported (0.25 = 25-delta put and call).

        Returns
        -------
        DataFrame
            ``expiry, dte`` (calendar days, fractional), ``forward, discount_factor, rate,
            div_yield, atm_iv, iv_put_{d}, iv_call_{d}`` (surface IV where the put delta is
            ``-delta`` / the call delta ``+delta``, spot delta; NaN if not reached),
            ``n_kept, n_dropped``. ``{d}`` is ``round(100 * delta)``, e.g. ``iv_put_25``.
        """
        s = self.surface()
        tag = f"{round(100 * delta)}"
        rows = []
        for e in self.expiries.itertuples(index=False):
            t = float(e.t)
            sd = max(float(e.atm_iv), 0.01) * np.sqrt(t)
            kgrid = e.forward * np.exp(np.linspace(-6 * sd, 6 * sd, 601))
            vol = s.iv(kgrid, t)
            out = {}
            for right, target in (("put", -delta), ("call", delta)):
                d = np.asarray(
                    bsm_greeks(self.spot, kgrid, t, e.rate, e.div_yield, vol, right == "call").delta
                )
                x = d - target
                cross = np.flatnonzero(np.sign(x[:-1]) * np.sign(x[1:]) <= 0)
                if cross.size:
                    i = cross[0] if right == "put" else cross[-1]
                    a = x[i] / (x[i] - x[i + 1]) if x[i] != x[i + 1] else 0.0
                    out[right] = float(vol[i] + a * (vol[i + 1] - vol[i]))
                else:
                    out[right] = np.nan
            rows.append(
                {
                    "expiry": e.expiry,
                    "dte": t * 365.0,
                    "forward": e.forward,
                    "discount_factor": e.discount_factor,
                    "rate": e.rate,
                    "div_yield": e.div_yield,
                    "atm_iv": e.atm_iv,
                    f"iv_put_{tag}": out["put"],
                    f"iv_call_{tag}": out["call"],
                    "n_kept": e.n_quotes,
                    "n_dropped": e.n_dropped,
                }
            )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (
            f"OptionChain(underlying={self.underlying!r}, valuation_time={self.valuation_time.isoformat()}, "
            f"spot={self.spot:g}, expiries={len(self.expiries)}, contracts={len(self.quotes)}, "
            f"dropped={self.filter_report.get('dropped', 0)})"
        )


def _report_text(fails: dict[str, np.ndarray], n: int) -> str:
    parts = [f"{k} {int(v.sum())}" for k, v in fails.items() if v.any()]
    return f"{n} rows; " + (", ".join(parts) if parts else "no filter hit")
