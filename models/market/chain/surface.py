"""Implied-volatility surfaces: interpolated from an option chain, or synthetic from parameters.

Every surface implements :class:`SmileSurface`, the interface the strategy layer uses: forward and
discount factor by time, implied vol and total variance by (strike, time), and the listed
expiries/strikes a strike rule can resolve against.

Conventions: ``t`` is calendar time in years (seconds / (365 * 86400)); vols are decimals
(0.18 = 18%); total variance ``w = iv**2 * t``; log-moneyness ``k = ln(K / F(t))``. All methods
broadcast ``strike`` against ``t`` (numpy rules) and return ndarrays of the broadcast shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator

from models.errors import DataError, ModelError
from models.market.chain._time import to_timestamp, year_fraction
from models.market.pricing import Greeks, bsm_greeks

__all__ = ["SmileSurface", "ChainSurface", "SyntheticSurface", "synthetic_surface"]

_T_EPS = 1e-12  # years; below this a time is treated as zero when dividing by t


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


class SmileSurface(ABC):
    """Abstract implied-vol surface (interface shared by chain-based and synthetic surfaces).

    Subclasses implement :meth:`forward`, :meth:`discount_factor`, :meth:`total_variance`,
    :meth:`listed_expiries` and :meth:`listed_strikes`; everything else derives from those.

    Parameters
    ----------
    spot : float
        Underlying price at ``valuation_time`` (price units; for a futures option the futures price).
    valuation_time : datetime
        Naive exchange-local valuation time.
    """

    def __init__(self, spot: float, valuation_time: datetime) -> None:
        spot = float(spot)
        if not np.isfinite(spot) or spot <= 0:
            raise DataError(f"surface spot must be a positive number, got {spot!r}")
        self._spot = spot
        self._valuation_time = to_timestamp(valuation_time, what="valuation_time").to_pydatetime()

    @property
    def spot(self) -> float:
        """Underlying price at the valuation time (price units)."""
        return self._spot

    @property
    def valuation_time(self) -> datetime:
        """Naive exchange-local valuation time."""
        return self._valuation_time

    def time_to_expiry(self, expiry: object) -> float | np.ndarray:
        """Calendar years from the valuation time to ``expiry``.

        Parameters
        ----------
        expiry : datetime, date, str or array-like of those
            A bare date means 16:00 local on that date.

        Returns
        -------
        float or ndarray
            ``(expiry - valuation_time).total_seconds() / (365 * 86400)``; negative if expired.
        """
        if isinstance(expiry, str) or np.ndim(expiry) == 0:
            return year_fraction(self._valuation_time, to_timestamp(expiry, what="expiry"))
        return year_fraction(self._valuation_time, [to_timestamp(e, what="expiry") for e in expiry])

    @abstractmethod
    def forward(self, t: ArrayLike) -> np.ndarray:
        """Forward price for delivery at time ``t`` (years), same units as ``spot``."""

    @abstractmethod
    def discount_factor(self, t: ArrayLike) -> np.ndarray:
        """Discount factor to time ``t`` (years), dimensionless."""

    @abstractmethod
    def total_variance(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """Total implied variance ``w = iv**2 * t`` at (strike, t); 0 for ``t <= 0``."""

    @abstractmethod
    def listed_expiries(self) -> list[datetime]:
        """Expiries with market quotes (empty for a synthetic surface)."""

    @abstractmethod
    def listed_strikes(self, expiry: object) -> np.ndarray:
        """Strikes available on ``expiry`` (sorted, price units)."""

    def iv(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """Implied volatility (decimal, annualized on calendar time) at (strike, t).

        For ``t <= 0`` the limit ``t -> 0+`` at the same log-moneyness is returned. NaN for
        non-positive or non-finite strikes.
        """
        k, tt = np.broadcast_arrays(_as_float(strike), _as_float(t))
        tpos = np.maximum(tt, _T_EPS)
        return np.sqrt(np.maximum(self.total_variance(k, tpos), 0.0) / tpos)

    def log_moneyness(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """``k = ln(K / F(t))`` (dimensionless)."""
        k, tt = np.broadcast_arrays(_as_float(strike), _as_float(t))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(k / self.forward(tt))

    def rate(self, t: ArrayLike) -> np.ndarray:
        """Continuously compounded risk-free rate to ``t``: ``-ln(DF(t)) / t`` (per year)."""
        tt = np.maximum(_as_float(t), 1e-8)
        return -np.log(self.discount_factor(tt)) / tt

    def div_yield(self, t: ArrayLike) -> np.ndarray:
        """Continuous dividend yield (or convenience yield) to ``t``: ``r - ln(F/S) / t``."""
        tt = np.maximum(_as_float(t), 1e-8)
        return self.rate(tt) - np.log(self.forward(tt) / self._spot) / tt

    def greeks(self, strike: ArrayLike, t: ArrayLike, is_call: ArrayLike) -> Greeks:
        """Model price and Greeks per share from the surface (Black-Scholes-Merton on the spot).

        Uses ``bsm_greeks(spot, K, t, rate(t), div_yield(t), iv(K, t), is_call)``, which prices
        off the surface forward and discount factor. Returns :class:`models.market.pricing.Greeks`
        (price per share, delta, gamma, vega per vol point, theta per calendar day, rho per 1%).
        """
        k, tt, c = np.broadcast_arrays(
            _as_float(strike), _as_float(t), np.asarray(is_call, dtype=bool)
        )
        return bsm_greeks(self._spot, k, tt, self.rate(tt), self.div_yield(tt), self.iv(k, tt), c)

    def price(self, strike: ArrayLike, t: ArrayLike, is_call: ArrayLike) -> np.ndarray:
        """Model option price per share at (strike, t) (see :meth:`greeks`)."""
        return np.asarray(self.greeks(strike, t, is_call).price)

    def quotes(self, expiry: object, strikes: ArrayLike | None = None) -> pd.DataFrame:
        """Model quote table for one expiry: one row per (strike, right).

        Parameters
        ----------
        expiry : datetime, date or str
            Expiry (a bare date means 16:00).
        strikes : array_like, optional
            Strikes to price; default :meth:`listed_strikes` of the expiry.

        Returns
        -------
        DataFrame
            Columns ``expiry, strike, right ("C"/"P"), t, forward, discount_factor, iv, mid,
            delta, gamma, theta, vega`` (per share; theta per calendar day, vega per vol point).
            ``mid`` is the model price; there is no bid/ask.

        Raises
        ------
        ModelError
            If the expiry is not after the valuation time.
        """
        ts = to_timestamp(expiry, what="expiry")
        t = float(self.time_to_expiry(ts))
        if t <= 0:
            raise ModelError(f"expiry {ts} is not after the valuation time {self._valuation_time}")
        k = np.sort(_as_float(self.listed_strikes(ts) if strikes is None else strikes).ravel())
        kk = np.concatenate([k, k])
        is_call = np.repeat([True, False], k.size)
        g = self.greeks(kk, t, is_call)
        return pd.DataFrame(
            {
                "expiry": pd.Series([ts] * kk.size, dtype="datetime64[ns]"),
                "strike": kk,
                "right": np.where(is_call, "C", "P"),
                "t": t,
                "forward": float(self.forward(t)),
                "discount_factor": float(self.discount_factor(t)),
                "iv": self.iv(kk, t),
                "mid": np.asarray(g.price),
                "delta": np.asarray(g.delta),
                "gamma": np.asarray(g.gamma),
                "theta": np.asarray(g.theta),
                "vega": np.asarray(g.vega),
            }
        ).sort_values(["strike", "right"], kind="stable", ignore_index=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spot={self._spot:g}, valuation_time={self._valuation_time.isoformat()})"


class ChainSurface(SmileSurface):
    """Implied-vol surface interpolated from the quotes of an :class:`~models.market.chain.OptionChain`.

    Method (Gatheral, *The Volatility Surface*, 2006, ch. 3 and the calendar-spread condition of
    ch. 5 — total variance non-decreasing in ``t`` at fixed log-moneyness):

    * **Nodes** (cleaned points, :meth:`from_quotes`). Per listed expiry ``t_i``: out-of-the-money
      quotes only (puts with ``K < F``, calls with ``K > F``, both averaged at ``K = F``); quotes
      whose relative spread ``(ask - bid) / mid`` exceeds ``max_rel_spread`` (default 1, i.e.
      ask > 3 x bid: minimum-tick wing quotes whose IV is noise) are left out; IVs of duplicate
      strikes (several roots, e.g. SPX/SPXW) averaged; log-moneyness ``k = ln(K / F_i)``; total
      variance ``w = iv**2 * t_i``.
    * **Smile (in k).** Monotone cubic (PCHIP) interpolation of ``w`` in ``k`` through the nodes:
      it reproduces every node exactly and never overshoots between nodes (no spurious wiggles
      from noisy quotes). Beyond the outermost nodes the vol is held flat (``w`` constant).
    * **Calendar fix** (``calendar_fix=True``, default). Expiry ``i`` uses
      ``W_i(k) = max_{j <= i} w_j(k)``: where the input has no calendar arbitrage this is
      ``w_i(k)`` itself; where it has (quote noise, or one expiry's flat-extrapolated wing below an
      earlier expiry's quoted wing), the total variance is lifted to the earlier expiry's value.
      :meth:`calendar_violations` lists the raw violations; ``nodes["calendar_adjusted"]`` flags
      nodes the fix moved.
    * **Term (in t).** At fixed ``k`` (measured against the interpolated forward ``F(t)``), ``w``
      is linear in ``t`` between neighbouring expiries; before the first expiry
      ``w = W_1(k) * t / t_1`` (flat vol of the first expiry at the same ``k``, e.g. a 0DTE expiry
      a few hours out); after the last expiry ``w = W_n(k) * t / t_n`` (flat vol). With the
      calendar fix the result is non-decreasing in ``t`` at every fixed ``k``.
    * **Forward and discount factor.** Linear in ``t`` of ``ln F`` and ``ln DF`` between expiries,
      anchored at ``F(0) = spot``, ``DF(0) = 1`` (so flat carry and flat rate before the first
      expiry); after the last expiry the last expiry's average carry and rate are held flat.

    Limits: butterfly (convexity in strike) arbitrage is neither checked nor removed; PCHIP
    follows the quotes, including the small SPX/SPXW saw-tooth. Flat-vol wings understate far-OTM
    vols beyond the last clean quote. Interpolation in ``t`` is in calendar time, so weekends and
    holidays count as full days (no event/business-day weighting). The forward interpolation
    ignores discrete dividends between expiries.

    Parameters
    ----------
    spot : float
        Underlying price (price units).
    valuation_time : datetime
        Naive exchange-local valuation time.
    nodes : DataFrame
        Smile nodes with columns ``expiry, t, forward, discount_factor, strike, iv`` (one row per
        node; ``forward``/``discount_factor``/``t`` constant per expiry; strikes unique per
        expiry). Usually built by :meth:`from_quotes`.
    strikes : dict, optional
        ``{expiry Timestamp: ndarray}`` of listed strikes with valid quotes per expiry; default the
        node strikes.
    calendar_fix : bool, default True
        Apply the running-maximum calendar fix described above.

    Raises
    ------
    DataError
        If there are no nodes, a node is invalid (non-positive t, forward, DF, strike or iv), or
        two expiries have the same time to expiry.
    """

    def __init__(
        self,
        spot: float,
        valuation_time: datetime,
        nodes: pd.DataFrame,
        strikes: dict[pd.Timestamp, np.ndarray] | None = None,
        *,
        calendar_fix: bool = True,
    ) -> None:
        super().__init__(spot, valuation_time)
        self._calendar_fix = bool(calendar_fix)
        need = {"expiry", "t", "forward", "discount_factor", "strike", "iv"}
        missing = need - set(nodes.columns)
        if missing:
            raise DataError(f"surface nodes miss columns {sorted(missing)}")
        nd = nodes.loc[:, ["expiry", "t", "forward", "discount_factor", "strike", "iv"]].copy()
        nd["expiry"] = pd.to_datetime(nd["expiry"])
        vals = nd[["t", "forward", "discount_factor", "strike", "iv"]].to_numpy(float)
        if len(nd) == 0:
            raise DataError("cannot build a vol surface: no valid quotes")
        if not np.all(np.isfinite(vals)) or np.any(vals <= 0):
            raise DataError(
                "cannot build a vol surface: non-finite or non-positive t/forward/DF/strike/iv in nodes"
            )
        nd = nd.sort_values(["t", "strike"], kind="stable", ignore_index=True)
        if nd.duplicated(["expiry", "strike"]).any():
            raise DataError("cannot build a vol surface: duplicate (expiry, strike) nodes")
        nd["k"] = np.log(nd["strike"] / nd["forward"])
        nd["w"] = nd["iv"] ** 2 * nd["t"]
        self._nodes = nd
        self._expiries: list[pd.Timestamp] = []
        t_nodes, f_nodes, df_nodes, smiles = [], [], [], []
        for expiry, g in nd.groupby("expiry", sort=True):
            self._expiries.append(pd.Timestamp(expiry))
            t_nodes.append(float(g["t"].iloc[0]))
            f_nodes.append(float(g["forward"].iloc[0]))
            df_nodes.append(float(g["discount_factor"].iloc[0]))
            k = g["k"].to_numpy()
            w = g["w"].to_numpy()
            if k.size >= 2:
                smiles.append((k[0], k[-1], PchipInterpolator(k, w, extrapolate=False), w[0]))
            else:
                smiles.append((k[0], k[0], None, w[0]))
        order = np.argsort(t_nodes, kind="stable")
        self._t = np.asarray(t_nodes)[order]
        if np.any(np.diff(self._t) <= 0):
            raise DataError("cannot build a vol surface: two expiries with the same time to expiry")
        self._f = np.asarray(f_nodes)[order]
        self._df = np.asarray(df_nodes)[order]
        self._smiles = [smiles[i] for i in order]
        self._expiries = [self._expiries[i] for i in order]
        self._log_f_knots = np.concatenate([[np.log(self._spot)], np.log(self._f)])
        self._log_df_knots = np.concatenate([[0.0], np.log(self._df)])
        self._t_knots = np.concatenate([[0.0], self._t])
        if strikes is None:
            strikes = {e: np.unique(g["strike"].to_numpy()) for e, g in nd.groupby("expiry")}
        self._strikes = {
            pd.Timestamp(e): np.sort(np.asarray(v, dtype=float)) for e, v in strikes.items()
        }
        for e in self._expiries:
            self._strikes.setdefault(e, np.unique(nd.loc[nd["expiry"] == e, "strike"].to_numpy()))
        # node diagnostics: the surface's own value at each node
        w_surf = self.total_variance(nd["strike"].to_numpy(), nd["t"].to_numpy())
        nd["w_surface"] = w_surf
        nd["calendar_adjusted"] = w_surf > nd["w"].to_numpy() * (1.0 + 1e-9) + 1e-15

    @classmethod
    def from_quotes(
        cls,
        spot: float,
        valuation_time: datetime,
        quotes: pd.DataFrame,
        *,
        max_rel_spread: float = 1.0,
        calendar_fix: bool = True,
    ) -> ChainSurface:
        """Build the surface from a chain's quote table (node cleaning as in the class notes).

        Parameters
        ----------
        spot : float
            Underlying price.
        valuation_time : datetime
            Naive exchange-local valuation time.
        quotes : DataFrame
            Kept quotes with columns ``expiry, t, forward, discount_factor, strike, right, iv``
            and, for the spread filter, ``bid, ask`` (optional).
        max_rel_spread : float, default 1.0
            Quotes with ``(ask - bid) / mid`` above this are not used as nodes (they stay in the
            chain and their strikes stay listed). If an expiry would lose all its OTM nodes the
            filter is not applied to it.
        calendar_fix : bool, default True
            See the class notes.

        Returns
        -------
        ChainSurface

        Raises
        ------
        DataError
            If no quote has a valid IV.
        """
        iv = quotes["iv"].to_numpy(float)
        q = quotes.loc[np.isfinite(iv) & (iv > 0)]
        if len(q) == 0:
            raise DataError("cannot build a vol surface: no quote with a valid implied vol")
        k_rel = q["strike"].to_numpy(float) / q["forward"].to_numpy(float)
        right = q["right"].to_numpy()
        exp_key = q["expiry"].to_numpy()
        otm = ((right == "P") & (k_rel < 1.0)) | ((right == "C") & (k_rel > 1.0)) | (k_rel == 1.0)
        # an expiry without any OTM quote keeps its ITM points
        has_otm = pd.Series(otm).groupby(exp_key).transform("any").to_numpy()
        use = otm | ~has_otm
        if {"bid", "ask"} <= set(q.columns):
            bid, ask = q["bid"].to_numpy(float), q["ask"].to_numpy(float)
            tight = (ask - bid) <= max_rel_spread * 0.5 * (ask + bid)
            has_tight = pd.Series(use & tight).groupby(exp_key).transform("any").to_numpy()
            use &= tight | ~has_tight
        cols = ["expiry", "t", "forward", "discount_factor", "strike"]
        nodes = q.loc[use].groupby(cols, as_index=False, sort=True)["iv"].mean()
        strikes = {
            pd.Timestamp(e): np.unique(g["strike"].to_numpy(float)) for e, g in q.groupby("expiry")
        }
        return cls(spot, valuation_time, nodes, strikes, calendar_fix=calendar_fix)

    @property
    def nodes(self) -> pd.DataFrame:
        """Smile nodes (copy), one row per (expiry, strike) used.

        Columns ``expiry, t, forward, discount_factor, strike, iv`` (input IV), ``k`` (ln K/F),
        ``w`` (input total variance), ``w_surface`` (the surface's value there) and
        ``calendar_adjusted`` (True where the calendar fix lifted the node).
        """
        return self._nodes.copy()

    def listed_expiries(self) -> list[datetime]:
        """Listed expiries (ascending) with at least one valid quote."""
        return [e.to_pydatetime() for e in self._expiries]

    def listed_strikes(self, expiry: object) -> np.ndarray:
        """Listed strikes with valid quotes on ``expiry`` (sorted).

        For an expiry that is not listed, the strikes of the listed expiry nearest in time are
        returned (e.g. a 0DTE expiry the chain lacks borrows the nearest daily's strikes).
        """
        ts = to_timestamp(expiry, what="expiry")
        if ts in self._strikes:
            return self._strikes[ts].copy()
        t = float(self.time_to_expiry(ts))
        nearest = self._expiries[int(np.argmin(np.abs(self._t - t)))]
        return self._strikes[nearest].copy()

    def forward(self, t: ArrayLike) -> np.ndarray:
        """Forward price at ``t`` (linear in t of ln F between expiries, flat carry outside)."""
        tt = _as_float(t)
        out = np.interp(tt, self._t_knots, self._log_f_knots)
        beyond = tt > self._t[-1]
        if np.any(beyond):
            carry = (self._log_f_knots[-1] - self._log_f_knots[0]) / self._t[-1]
            out = np.where(beyond, self._log_f_knots[0] + carry * tt, out)
        return np.exp(out)

    def discount_factor(self, t: ArrayLike) -> np.ndarray:
        """Discount factor at ``t`` (linear in t of ln DF between expiries, flat rate outside)."""
        tt = _as_float(t)
        out = np.interp(np.maximum(tt, 0.0), self._t_knots, self._log_df_knots)
        beyond = tt > self._t[-1]
        if np.any(beyond):
            out = np.where(beyond, self._log_df_knots[-1] / self._t[-1] * tt, out)
        return np.exp(out)

    def _smile_w(self, idx: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Total variance of listed expiry ``idx[j]`` at log-moneyness ``k[j]`` (flat wings)."""
        out = np.full(k.shape, np.nan)
        for i in np.unique(idx):
            m = idx == i
            k_lo, k_hi, interp, w0 = self._smiles[i]
            if interp is None:
                out[m] = w0
            else:
                out[m] = interp(np.clip(k[m], k_lo, k_hi))
        out[~np.isfinite(k)] = np.nan
        return out

    def _node_w(
        self, k: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Total variance of listed expiries ``lo`` and ``hi`` at ``k``.

        With the calendar fix, expiry ``i`` contributes ``max_{j <= i} w_j(k)`` (running maximum
        over earlier expiries), else ``w_i(k)``.
        """
        if not self._calendar_fix:
            return self._smile_w(lo, k), self._smile_w(hi, k)
        w_lo = np.full(k.shape, np.nan)
        w_hi = np.full(k.shape, np.nan)
        run = np.full(k.shape, -np.inf)
        top = int(hi.max()) if hi.size else -1
        for j in range(top + 1):
            need = hi >= j
            run[need] = np.maximum(run[need], self._smile_w(np.full(int(need.sum()), j), k[need]))
            m = lo == j
            w_lo[m] = run[m]
            m = hi == j
            w_hi[m] = run[m]
        w_lo[~np.isfinite(k)] = np.nan
        w_hi[~np.isfinite(k)] = np.nan
        return w_lo, w_hi

    def total_variance(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """Total implied variance ``w(K, t) = iv**2 * t`` (see the class notes for the method).

        Parameters
        ----------
        strike : array_like
            Strikes (price units); NaN is returned for non-positive strikes.
        t : array_like
            Times in years, broadcast against ``strike``; ``w = 0`` for ``t <= 0``.

        Returns
        -------
        ndarray
            Broadcast shape of ``strike`` and ``t``.
        """
        kk, tt = np.broadcast_arrays(_as_float(strike), _as_float(t))
        shape = kk.shape
        kk, tt = kk.ravel(), tt.ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.log(kk / self.forward(tt))
        k[~(kk > 0)] = np.nan
        n = self._t.size
        j = np.searchsorted(self._t, tt, side="right") - 1  # last listed expiry with t_i <= t
        lo = np.clip(j, 0, n - 1)
        hi = np.where((j >= 0) & (j < n - 1), j + 1, lo)
        w_lo, w_hi = self._node_w(k, lo, hi)
        w = w_lo.copy()
        inner = (j >= 0) & (j < n - 1)
        if np.any(inner):
            t_lo, t_hi = self._t[lo[inner]], self._t[hi[inner]]
            a = (tt[inner] - t_lo) / (t_hi - t_lo)
            w[inner] = (1.0 - a) * w_lo[inner] + a * w_hi[inner]
        before = j < 0
        w[before] = w_lo[before] * np.maximum(tt[before], 0.0) / self._t[0]
        after = j >= n - 1
        w[after] = w_lo[after] * tt[after] / self._t[-1]
        return w.reshape(shape)

    def calendar_violations(
        self, k_grid: ArrayLike | None = None, tol: float = 0.0
    ) -> pd.DataFrame:
        """Where the listed (raw, unadjusted) smiles have total variance decreasing in t.

        These are calendar-spread arbitrages in the input; with ``calendar_fix=True`` the surface
        lifts them (see the class notes).

        Parameters
        ----------
        k_grid : array_like, optional
            Log-moneyness grid; default 41 points in [-0.3, 0.2].
        tol : float
            Decreases smaller than ``tol`` (total variance units) are ignored.

        Returns
        -------
        DataFrame
            ``expiry, next_expiry, k, w, w_next`` for every violating (pair, k).
        """
        kg = np.linspace(-0.3, 0.2, 41) if k_grid is None else _as_float(k_grid).ravel()
        rows = []
        n = self._t.size
        wprev = self._smile_w(np.zeros(kg.size, dtype=int), kg)
        for i in range(1, n):
            wi = self._smile_w(np.full(kg.size, i), kg)
            bad = wi < wprev - tol
            for kb, a, b in zip(kg[bad], wprev[bad], wi[bad], strict=True):
                rows.append((self._expiries[i - 1], self._expiries[i], kb, a, b))
            wprev = wi
        return pd.DataFrame(rows, columns=["expiry", "next_expiry", "k", "w", "w_next"])


class SyntheticSurface(SmileSurface):
    """Parametric smile for products without an option chain (futures options: CL, GC, ZB, 6E…).

    The parameters are **stated assumptions from the scenario, not market data**. With the
    standardized moneyness ``x = ln(K / F(t)) / (atm_iv * sqrt(t))``::

        iv(K, t) = max(atm_iv * (1 + skew * x + curvature * x**2), iv_floor)
        F(t)     = spot * exp(carry * t)        # carry = 0 when spot is a futures price
        DF(t)    = exp(-rate * t)

    ``skew < 0`` gives a put skew (higher vol at low strikes); ``curvature > 0`` a smile. The ATM
    vol is flat in ``t``. If ``x_max`` is set, ``x`` is clipped to ``[-x_max, x_max]`` (flat vol
    beyond that many standard deviations; by default no clipping, so a positive curvature makes
    the far wings of very short expiries very large). Listed strikes are the multiples of
    ``strike_increment`` within ``F * exp(+-5 * atm_iv * sqrt(t))`` (always including the two
    around ``F``). As ``t -> 0`` the standardized moneyness of a fixed strike grows without bound,
    so away from the money the vol tends to the floor or grows large, depending on the signs of
    ``skew``/``curvature`` (set ``x_max`` to bound it); ``t <= 0`` is evaluated at ``t = 1e-12``
    years (``atm_iv`` at the money, always finite) and the total variance there is 0.

    See :func:`synthetic_surface` for the parameters.
    """

    def __init__(
        self,
        spot: float,
        valuation_time: datetime,
        atm_iv: float,
        *,
        skew: float = 0.0,
        curvature: float = 0.0,
        rate: float = 0.0,
        carry: float = 0.0,
        strike_increment: float,
        iv_floor: float = 0.01,
        x_max: float | None = None,
    ) -> None:
        super().__init__(spot, valuation_time)
        checks = {
            "atm_iv": (atm_iv, lambda v: v > 0),
            "skew": (skew, lambda v: True),
            "curvature": (curvature, lambda v: True),
            "rate": (rate, lambda v: True),
            "carry": (carry, lambda v: True),
            "strike_increment": (strike_increment, lambda v: v > 0),
            "iv_floor": (iv_floor, lambda v: v > 0),
        }
        if x_max is not None:
            checks["x_max"] = (x_max, lambda v: v > 0)
        for name, (value, ok) in checks.items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"synthetic surface: {name} must be a number, got {value!r}"
                ) from None
            if not np.isfinite(v) or not ok(v):
                raise DataError(f"synthetic surface: invalid {name} = {value!r}")
        self.atm_iv = float(atm_iv)
        self.skew = float(skew)
        self.curvature = float(curvature)
        self.flat_rate = float(rate)
        self.carry = float(carry)
        self.strike_increment = float(strike_increment)
        self.iv_floor = float(iv_floor)
        self.x_max = None if x_max is None else float(x_max)

    def forward(self, t: ArrayLike) -> np.ndarray:
        """``spot * exp(carry * t)``."""
        return self._spot * np.exp(self.carry * _as_float(t))

    def discount_factor(self, t: ArrayLike) -> np.ndarray:
        """``exp(-rate * t)``."""
        return np.exp(-self.flat_rate * _as_float(t))

    def iv(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """Parametric implied vol (decimal) at (strike, t); see the class notes."""
        kk, tt = np.broadcast_arrays(_as_float(strike), _as_float(t))
        tpos = np.maximum(tt, _T_EPS)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            k = np.log(kk / self.forward(tpos))
            x = k / (self.atm_iv * np.sqrt(tpos))
            if self.x_max is not None:
                x = np.clip(x, -self.x_max, self.x_max)
            vol = np.maximum(
                self.atm_iv * (1.0 + self.skew * x + self.curvature * x * x), self.iv_floor
            )
        return np.where(kk > 0, vol, np.nan)

    def total_variance(self, strike: ArrayLike, t: ArrayLike) -> np.ndarray:
        """``iv**2 * max(t, 0)``."""
        kk, tt = np.broadcast_arrays(_as_float(strike), _as_float(t))
        return self.iv(kk, tt) ** 2 * np.maximum(tt, 0.0)

    def listed_expiries(self) -> list[datetime]:
        """Always empty: a synthetic surface has no listed expiries."""
        return []

    def listed_strikes(self, expiry: object) -> np.ndarray:
        """Multiples of ``strike_increment`` within ``F * exp(+-5 atm_iv sqrt(t))`` of the forward.

        Raises
        ------
        ModelError
            If the expiry is not after the valuation time.
        """
        ts = to_timestamp(expiry, what="expiry")
        t = float(self.time_to_expiry(ts))
        if t <= 0:
            raise ModelError(f"expiry {ts} is not after the valuation time {self._valuation_time}")
        f = float(self.forward(t))
        half = 5.0 * self.atm_iv * np.sqrt(t)
        inc = self.strike_increment
        lo = min(np.ceil(f * np.exp(-half) / inc), np.floor(f / inc))
        hi = max(np.floor(f * np.exp(half) / inc), np.ceil(f / inc))
        n = np.arange(max(lo, 1.0), hi + 1.0)
        return np.round(n * inc, 10)

    def __repr__(self) -> str:
        return (
            f"SyntheticSurface(spot={self._spot:g}, valuation_time={self._valuation_time.isoformat()}, "
            f"atm_iv={self.atm_iv:g}, skew={self.skew:g}, curvature={self.curvature:g}, "
            f"rate={self.flat_rate:g}, carry={self.carry:g}, strike_increment={self.strike_increment:g})"
        )


def synthetic_surface(
    spot: float,
    valuation_time: datetime,
    atm_iv: float,
    *,
    skew: float = 0.0,
    curvature: float = 0.0,
    rate: float = 0.0,
    carry: float = 0.0,
    strike_increment: float,
    iv_floor: float = 0.01,
    x_max: float | None = None,
) -> SyntheticSurface:
    """Build a :class:`SyntheticSurface` for a product with no option chain.

    Parameters
    ----------
    spot : float
        Underlying price; for futures options the futures price (then ``carry = 0``).
    valuation_time : datetime
        Naive exchange-local valuation time.
    atm_iv : float
        At-the-money implied vol (decimal), flat in time. A scenario assumption.
    skew : float, default 0
        Vol change per standardized-moneyness unit, relative to ``atm_iv``; ``< 0`` = put skew.
    curvature : float, default 0
        Relative vol change per squared standardized-moneyness unit (``> 0`` = smile).
    rate : float, default 0
        Continuously compounded discount rate (per year).
    carry : float, default 0
        Continuous carry ``r - q`` (per year) so that ``F(t) = spot * exp(carry * t)``.
    strike_increment : float
        Listed-strike spacing (price units), e.g. 0.5 for CL, 5 for GC.
    iv_floor : float, default 0.01
        Lower bound on the vol (decimal).
    x_max : float, optional
        Clip the standardized moneyness to ``[-x_max, x_max]`` (flat vol beyond); default none.

    Returns
    -------
    SyntheticSurface

    Raises
    ------
    DataError
        If a parameter is non-finite or out of range (``spot, atm_iv, strike_increment,
        iv_floor, x_max`` must be > 0); the message names the parameter.
    """
    return SyntheticSurface(
        spot,
        valuation_time,
        atm_iv,
        skew=skew,
        curvature=curvature,
        rate=rate,
        carry=carry,
        strike_increment=strike_increment,
        iv_floor=iv_floor,
        x_max=x_max,
    )
