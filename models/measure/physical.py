"""The physical (real-world) measure: filtered historical simulation of the S&P 500 and the VIX.

Filtered historical simulation (FHS; Barone-Adesi, Giannopoulos & Vosper 1999, "VaR without
correlations for portfolios of derivative securities", J. Futures Markets 19(5)): each historical
daily S&P 500 log return is divided by the volatility the market expected for that day — here the
VIX close of the previous trading day, ``sigma_{d-1} = VIX_{d-1} / 100 / sqrt(252)`` — and the
standardized residuals ``z`` are resampled and multiplied by the simulated VIX of the day. Days are
resampled in blocks by the stationary bootstrap (Politis & Romano 1994, "The stationary
bootstrap", JASA 89(428)), so the residual clustering the VIX does not remove, and the joint
move of index and VIX on each day (the leverage effect), are kept. The VIX follows an AR(1) of
its logarithm whose residuals are taken from the same historical day as the return.

``z`` is deliberately *not* rescaled to unit variance: its standard deviation (0.778 on
1990-2023) is the realized/implied ratio at daily frequency, so rescaling by a simulated VIX
reproduces the variance risk premium against the quantity it was measured against.

Futures without an option-implied history (WTI crude: CL/MCL) are standardized by an EWMA vol
instead (RiskMetrics 1996): :func:`ewma_standardize`, :func:`wti_residuals`.

Calibration helpers (:func:`window_returns`, :func:`historical_tail_frequencies`,
:func:`model_tail_probabilities`, :func:`tail_calibration`) compare the simulated tail
probabilities of multi-day returns with the historical frequencies, VIX bucket by VIX bucket
(``tests/models/test_calibration.py``, ``benchmarks/calibration.py``).

Shapes: ``N`` historical days, ``P`` paths, ``D`` simulated trading days. Units: log returns,
VIX in index points (annualized percent), daily vols in decimal per trading day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator, SeedSequence
from scipy.signal import lfilter

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_HORIZONS",
    "DEFAULT_THRESHOLDS",
    "EWMA_WARMUP",
    "SESSION_MIN_YEAR",
    "VIX_CLIP",
    "FilteredHistory",
    "Paths",
    "WtiFilter",
    "bootstrap_days",
    "ewma_standardize",
    "fhs_paths",
    "filtered_history",
    "history_paths",
    "historical_tail_frequencies",
    "lognormal_paths",
    "model_tail_probabilities",
    "tail_calibration",
    "window_returns",
    "wti_residuals",
]

TRADING_DAYS_PER_YEAR = 252.0
"""Trading days per year: the VIX (annualized, percent) is a daily vol of VIX / 100 / sqrt(252)."""

VIX_CLIP = (5.0, 150.0)
"""Bounds of a simulated VIX close (index points); the 1990-2023 closes range over 9.14 .. 82.69."""

EWMA_WARMUP = 21
"""Returns used to initialise an EWMA variance (their mean square); no residual is output for them."""

SESSION_MIN_YEAR = 2000
"""First calendar year whose opening prints may be used for the session (open -> close) move."""

_STALE_OPEN_MAX_SHARE = 0.02
"""A calendar year's opens are used only if at most this share of them equals the previous close."""

_VIX_FFILL_LIMIT = 5
"""S&P 500 days without a VIX close carry the last VIX close for at most this many days."""

_SQRT252 = math.sqrt(TRADING_DAYS_PER_YEAR)
_Z95 = 1.959963984540054


def _frozen(arr, dtype=np.float64) -> np.ndarray:
    """A read-only array of ``dtype``: a copy, unless ``arr`` already is a read-only array of that
    dtype owning its data (the simulators hand over their freshly built arrays this way)."""
    if (
        isinstance(arr, np.ndarray)
        and arr.dtype == dtype
        and not arr.flags.writeable
        and arr.base is None
    ):
        return arr
    out = np.array(arr, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


def _sealed(arr: np.ndarray) -> np.ndarray:
    """Mark a freshly built array read-only (so :class:`Paths` keeps it without a copy)."""
    arr.flags.writeable = False
    return arr


def _int_arg(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------
# EWMA filter (RiskMetrics 1996)
# ----------------------------------------------------------------------------------------------


def _ewma_post_variance(r: np.ndarray, lam: float) -> np.ndarray:
    """EWMA variance known at the close of each day, ``(n,)``; NaN during the warm-up.

    ``s2[w-1] = mean(r[:w]^2)`` with ``w = EWMA_WARMUP``, then
    ``s2[t] = lam s2[t-1] + (1 - lam) r[t]^2``.
    """
    n = r.size
    out = np.full(n, np.nan)
    w = EWMA_WARMUP
    if n < w:
        return out
    s0 = float(np.mean(r[:w] ** 2))
    out[w - 1] = s0
    if n > w:
        out[w:], _ = lfilter([1.0 - lam], [1.0, -lam], r[w:] ** 2, zi=[lam * s0])
    return out


def _check_lambda(lam: float) -> float:
    lam = float(lam)
    if not (math.isfinite(lam) and 0.0 < lam < 1.0):
        raise ValueError(f"the EWMA lambda must lie in (0, 1), got {lam!r}")
    return lam


def ewma_standardize(returns: pd.Series, lam: float = 0.94) -> pd.DataFrame:
    """Standardize daily returns by an exponentially weighted moving-average vol (RiskMetrics 1996).

    The variance forecast for day ``t`` uses returns up to ``t - 1`` only:
    ``sigma_t^2 = lam sigma_{t-1}^2 + (1 - lam) r_{t-1}^2``, initialised with the mean square of the
    first ``EWMA_WARMUP`` (21) returns, which produce no output row. ``z_t = r_t / sigma_t``; its
    variance is close to 1 by construction (not exactly: the forecast lags the true vol).

    Parameters
    ----------
    returns : pd.Series
        ``(n,)`` daily (log) returns in date order; NaNs are dropped.
    lam : float
        Decay factor in (0, 1); 0.94 is the RiskMetrics daily value.

    Returns
    -------
    pd.DataFrame
        Columns ``z`` (standardized residual) and ``sigma`` (daily vol forecast, decimal), indexed
        like ``returns`` minus the warm-up rows; ``n - 21`` rows.

    Raises
    ------
    ValueError
        ``lam`` outside (0, 1), or fewer than 22 returns.
    """
    lam = _check_lambda(lam)
    r = pd.Series(returns, dtype=float).dropna().sort_index()
    if r.size <= EWMA_WARMUP:
        raise ValueError(f"ewma_standardize needs more than {EWMA_WARMUP} returns, got {r.size}")
    x = r.to_numpy()
    post = _ewma_post_variance(x, lam)
    sigma = np.sqrt(post[EWMA_WARMUP - 1 : -1])
    z = x[EWMA_WARMUP:] / sigma
    return pd.DataFrame({"z": z, "sigma": sigma}, index=r.index[EWMA_WARMUP:])


@dataclass(frozen=True, eq=False)
class WtiFilter:
    """EWMA-standardized WTI residuals and WTI's daily link to the S&P 500.

    Parameters
    ----------
    z : pd.Series
        WTI daily log returns divided by their EWMA vol forecast (:func:`ewma_standardize`); the
        resampling pool for CL/MCL moves (std close to 1 by construction).
    sigma : pd.Series
        The EWMA daily vol forecast of each day (decimal).
    beta : float
        OLS slope of the WTI daily log return on the S&P 500 daily log return over the overlap.
    corr : float
        Correlation of the two daily log returns over the overlap.
    vol : float
        Annualized vol of WTI daily log returns over the overlap, ``std * sqrt(252)`` (decimal).
    sp_vol : float
        Annualized vol of the S&P 500 daily log returns on the same days (decimal).
    n : int
        Overlapping daily returns used for ``beta``, ``corr``, ``vol``.
    start, end : str
        First and last overlapping day (ISO).
    lam : float
        EWMA decay factor.
    """

    z: pd.Series
    sigma: pd.Series
    beta: float
    corr: float
    vol: float
    sp_vol: float
    n: int
    start: str
    end: str
    lam: float


def wti_residuals(
    wti: pd.Series, sp_close: pd.Series, *, lam: float = 0.94, start="1990-01-02", end=None
) -> WtiFilter:
    """WTI crude EWMA residual pool and its measured daily beta/correlation to the S&P 500.

    WTI has no option-implied vol history here, so its daily log returns (on its own trading
    days) are standardized by an EWMA vol (:func:`ewma_standardize`). The link to the S&P 500 is
    measured on the dates both series have in ``[start, end]``: log returns between consecutive
    common dates, OLS ``r_WTI = alpha + beta r_SP``, their correlation and annualized vols. With
    the shipped files (7,282 returns 1990-01-03 .. 2019-01-03): beta 0.250, correlation 0.112,
    WTI vol 39.3%, S&P 500 vol 17.6%; the residual pool (8,299 days from 1986) has std 1.055.
    WTI spot stands in for the futures (no roll yield or contango: ``scenarios/data/README.md``).

    Parameters
    ----------
    wti : pd.Series
        WTI spot closes, USD/bbl (:func:`models.market.history.load_wti_history`).
    sp_close : pd.Series
        S&P 500 closes (:func:`models.market.history.load_index_history`).
    lam : float
        EWMA decay factor.
    start, end : date-like, optional
        Window of the beta/correlation/vol measurement (the residual pool uses the whole series).

    Returns
    -------
    WtiFilter

    Raises
    ------
    ValueError
        Fewer than 250 common days in the window, or bad ``lam``.
    """
    w = pd.Series(wti, dtype=float)
    w = w[w.notna() & (w > 0)].sort_index()
    s = pd.Series(sp_close, dtype=float)
    s = s[s.notna() & (s > 0)].sort_index()
    std = ewma_standardize(np.log(w).diff().dropna(), lam)
    both = pd.concat([np.log(w), np.log(s)], axis=1, keys=["wti", "sp"], join="inner")
    if start is not None:
        both = both[both.index >= pd.Timestamp(start)]
    if end is not None:
        both = both[both.index <= pd.Timestamp(end)]
    r = both.diff().dropna()
    if len(r) < 250:
        raise ValueError(f"WTI and S&P 500 share only {len(r)} daily returns in the window")
    cov = np.cov(r["wti"], r["sp"], ddof=1)
    return WtiFilter(
        z=std["z"].rename("z"),
        sigma=std["sigma"].rename("sigma"),
        beta=float(cov[0, 1] / cov[1, 1]),
        corr=float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])),
        vol=float(math.sqrt(cov[0, 0] * TRADING_DAYS_PER_YEAR)),
        sp_vol=float(math.sqrt(cov[1, 1] * TRADING_DAYS_PER_YEAR)),
        n=len(r),
        start=r.index[0].date().isoformat(),
        end=r.index[-1].date().isoformat(),
        lam=lam,
    )


def bootstrap_days(
    n: int, *, n_paths: int, n_days: int, seed: int, mean_block: float
) -> np.ndarray:
    """The historical day indices :func:`fhs_paths` draws for the same arguments.

    Replays the stationary bootstrap of :func:`fhs_paths` (same generator, same draws in the
    same order: both call one sampler) for a caller that has the seed but not the paths; the
    income model takes the days from :attr:`Paths.day` directly. ``tests/models/
    test_futures_vol.py`` checks that the two agree.

    Parameters
    ----------
    n : int
        Historical days ``N`` of the :class:`FilteredHistory`.
    n_paths, n_days, seed, mean_block
        As passed to :func:`fhs_paths`.

    Returns
    -------
    np.ndarray
        ``(P, D)`` int32 indices into the history's days.
    """
    n = _int_arg("n", n, 1)
    rng = Generator(PCG64(SeedSequence(_int_arg("seed", seed, 0))))
    return _stationary_days(rng, n, n_paths, n_days, float(mean_block))


def _stationary_days(
    rng: Generator, n: int, n_paths: int, n_days: int, mean_block: float
) -> np.ndarray:
    """(P, D) day indices of the stationary bootstrap (Politis & Romano 1994) drawn from ``rng``:
    a path continues with the next historical day, or jumps to a uniform day with probability
    ``1 / mean_block`` (and at the end of the history)."""
    p_new = 1.0 / mean_block
    day = np.empty((n_paths, n_days), dtype=np.int32)
    cur = rng.integers(0, n, n_paths)
    day[:, 0] = cur
    for t in range(1, n_days):
        fresh = rng.integers(0, n, n_paths)
        jump = rng.random(n_paths) < p_new
        nxt = cur + 1
        cur = np.where(jump | (nxt >= n), fresh, nxt)
        day[:, t] = cur
    return day


# ----------------------------------------------------------------------------------------------
# Filtered history
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FilteredHistory:
    """S&P 500 daily residuals standardized by the previous VIX close, and the VIX's AR(1).

    Built by :func:`filtered_history`; every array is ``(N,)``, read-only, aligned on ``dates``.

    Parameters
    ----------
    dates : pd.DatetimeIndex
        The historical days ``d`` (S&P 500 trading days with a previous close and a filter).
    z : np.ndarray
        ``ln(C_d / C_{d-1}) / sigma_{d-1}``; not rescaled to unit variance.
    session_z : np.ndarray
        ``ln(C_d / O_d) / sigma_{d-1}`` where the opening print is usable (``session_observed``),
        else ``z * session_scale``.
    sigma : np.ndarray
        The filter level ``sigma_{d-1}``: daily vol, decimal (``VIX_{d-1} / 100 / sqrt(252)``, or
        the scaled EWMA vol on ``"ewma"`` days).
    vix : np.ndarray
        VIX close of day ``d`` (index points); synthetic (``100 sqrt(252) k * EWMA vol``) on
        ``"ewma"`` days.
    vix_prev : np.ndarray
        The level of day ``d - 1`` the filter and the AR(1) use (``sigma * 100 * sqrt(252)``).
    vix_resid : np.ndarray
        AR(1) residual ``ln vix - ar_a - ar_b ln vix_prev``.
    filter_kind : np.ndarray
        ``"vix"`` or ``"ewma"`` (str) per day.
    session_observed : np.ndarray
        bool: the session move is measured (True) or imputed (False).
    ar_a, ar_b, ar_resid_std : float
        OLS fit ``ln V_d = a + b ln V_{d-1} + e_d`` on the ``"vix"`` days; residual std with
        ``ddof = 2``.
    session_scale : float
        ``c = sqrt(mean(session_z^2) / mean(z^2))`` over the observed session days.
    n_session : int
        Observed session days ``c`` was measured on.
    ewma_scale : float | None
        ``k = mean(VIX / 100 / sqrt(252)) / mean(EWMA vol)`` over the VIX/S&P overlap; None when
        no day uses the EWMA filter.
    ewma_lambda : float
        EWMA decay factor (used only on ``"ewma"`` days).
    vol_power, vol_ref : float
        The filter ``sigma = vol_ref * (v / vol_ref) ** vol_power`` of a VIX level ``v`` expressed
        as a daily vol (``VIX / 100 / sqrt(252)``); ``vol_ref`` is the sample's median ``v`` (so
        at the median VIX the filter is the VIX itself).
    """

    dates: pd.DatetimeIndex
    z: np.ndarray
    session_z: np.ndarray
    sigma: np.ndarray
    vix: np.ndarray
    vix_prev: np.ndarray
    vix_resid: np.ndarray
    filter_kind: np.ndarray
    session_observed: np.ndarray
    ar_a: float
    ar_b: float
    ar_resid_std: float
    session_scale: float
    n_session: int
    ewma_scale: float | None
    ewma_lambda: float
    vol_power: float = 1.0
    vol_ref: float = 1.0

    def __post_init__(self) -> None:
        n = len(self.dates)
        for name in ("z", "session_z", "sigma", "vix", "vix_prev", "vix_resid"):
            arr = _frozen(getattr(self, name))
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"FilteredHistory.{name} must be ({n},) and finite")
            object.__setattr__(self, name, arr)
        kind = _frozen(self.filter_kind, dtype="<U4")
        obs = _frozen(self.session_observed, dtype=bool)
        if kind.shape != (n,) or obs.shape != (n,):
            raise ValueError("FilteredHistory.filter_kind and session_observed must be (N,)")
        if not np.all(np.isin(kind, ("vix", "ewma"))):
            raise ValueError("FilteredHistory.filter_kind must be 'vix' or 'ewma'")
        object.__setattr__(self, "filter_kind", kind)
        object.__setattr__(self, "session_observed", obs)
        object.__setattr__(self, "dates", pd.DatetimeIndex(self.dates))
        if n < 2:
            raise ValueError("FilteredHistory needs at least 2 days")

    def filter_sigma(self, vix: np.ndarray) -> np.ndarray:
        """Daily vol the filter assigns to VIX level(s) ``vix`` (index points), decimal."""
        base = np.asarray(vix, dtype=float) / (100.0 * _SQRT252)
        return self.vol_ref * (base / self.vol_ref) ** self.vol_power

    @property
    def n(self) -> int:
        """Number of historical days ``N``."""
        return len(self.dates)

    @property
    def n_ewma(self) -> int:
        """Days standardized by the EWMA filter (before the VIX starts)."""
        return int(np.count_nonzero(self.filter_kind == "ewma"))

    @property
    def window(self) -> str:
        """``"first..last"`` ISO dates of the sample."""
        return f"{self.dates[0].date().isoformat()}..{self.dates[-1].date().isoformat()}"

    def describe(self, mean_block: float | None = 21.0) -> str:
        """One-line description of the measure (sample, filter, VIX dynamics, bootstrap)."""
        text = (
            "filtered historical simulation (Barone-Adesi et al. 1999): S&P 500 daily log returns "
            f"{self.window} ({self.n:,} days) standardized by the previous VIX close "
            f"(sigma ∝ VIX^{self.vol_power:.2f}), rescaled to today's VIX "
            f"(z std {float(np.std(self.z)):.3f})"
        )
        if self.n_ewma:
            text += (
                f"; {self.n_ewma:,} days before the VIX standardized by an EWMA vol "
                f"(lambda {self.ewma_lambda:g}) x k={self.ewma_scale:.3f} (synthetic VIX moves)"
            )
        text += (
            f"; ln VIX AR(1) a={self.ar_a:.4f}, b={self.ar_b:.4f}, resid std "
            f"{self.ar_resid_std:.4f}; session/close-to-close scale c={self.session_scale:.3f}"
        )
        if mean_block is not None:
            text += f"; stationary bootstrap, mean block {mean_block:g} days"
        return text


def _usable_opens(ohlc: pd.DataFrame, prev_close: pd.Series) -> pd.Series:
    """Days whose opening print is a real open (bool Series on ``ohlc.index``).

    In the shipped ``^GSPC`` file the open equals the same day's close before 1962, and the
    previous close on 16-98% of the days of every year from 1982 to 2007 and on 9-26% in 2011-2013
    (stale opening prints; 0-1.6% in 2008-2010 and 2014-2023). A day is usable when its calendar
    year is ``>= SESSION_MIN_YEAR`` (earlier opens are not used at all), at most 2% of that year's
    opens equal the previous close, and its own open differs from the previous close.
    """
    op = ohlc["open"]
    stale = (op == prev_close) | op.isna() | ~(op > 0)
    year = pd.Series(ohlc.index.year, index=ohlc.index)
    share = stale.groupby(year).mean()
    good_year = year.map(share <= _STALE_OPEN_MAX_SHARE) & (year >= SESSION_MIN_YEAR)
    return good_year.astype(bool) & ~stale & prev_close.notna()


def filtered_history(
    vix: pd.Series,
    ohlc: pd.DataFrame,
    *,
    start=None,
    end=None,
    ewma_lambda: float = 0.94,
    vol_power: float | str = "measured",
) -> FilteredHistory:
    """Standardize S&P 500 daily returns by the previous VIX close (filtered historical simulation).

    Days ``d`` are the S&P 500 trading days in ``[start, end]`` with a previous close (default
    ``start`` = first VIX date, ``end`` = last S&P 500 date; with the shipped files
    1990-01-03 .. 2023-12-28, 8,563 days: 1990-01-02 has no previous VIX close).

    * Filter: ``sigma_{d-1} = VIX_{d-1} / 100 / sqrt(252)``, the VIX close of the previous
      S&P 500 trading day (the VIX is the annualized 30-day implied vol; the 4 S&P days without a
      VIX close — 1991-03-01, 1997-01-31, 1997-11-26, 1999-12-31 — carry the last close).
      ``z = ln(C_d / C_{d-1}) / sigma_{d-1}``, *not* rescaled: on 1990-2023 its std is 0.778 and
      its mean 0.024 — the realized/implied ratio at daily frequency
      (:func:`models.income.measure_vol_ratio`'s 21-day variance ratio is 0.861 because it
      weights the high-vol windows more). The ratio rises with the VIX: the std of ``z`` is
      0.70, 0.77, 0.82, 0.95 for a previous VIX close in [0, 15), [15, 20), [20, 30), [30, inf);
      a pooled ``z`` therefore understates 1-day tails when the VIX is high (see
      ``tests/models/test_calibration.py``).
    * Before the VIX (only when ``start`` is earlier than its first date): the filter is an EWMA
      vol (RiskMetrics 1996, ``ewma_lambda``) of close-to-close returns run over the whole
      ``ohlc`` history, times ``k = mean(VIX/100/sqrt(252)) / mean(EWMA vol)`` measured over the
      VIX/S&P overlap (1.2435 on 1990-2023), so the level is VIX-equivalent;
      ``filter_kind = "ewma"``. The VIX moves of those days are synthetic (the AR(1) residuals of
      the scaled EWMA level); so are their VIX levels.
    * VIX dynamics: OLS ``ln V_d = a + b ln V_{d-1} + e_d`` on the ``"vix"`` days of the sample;
      1990-2023: a = 0.0538, b = 0.9815, residual std 0.0666 (long-run level
      ``exp(a / (1 - b))`` = 18.3, half-life 37 trading days).
    * Session (regular hours) move: ``session_z = ln(C_d / O_d) / sigma_{d-1}`` on the days whose
      opening print is usable, else ``z * c`` with ``c = sqrt(mean(session_z^2) / mean(z^2))``
      measured on all usable days of the inputs (independently of ``[start, end]``). The
      ``^GSPC`` open equals the previous close on 16-98% of the days of every year from 1982 to
      2007 and on 9-26% of 2011-2013 (stale opening prints), so only years from 2000 with at most
      2% such opens are used — 2008-2010 and 2014-2023, 3,259 days: c = 0.869 (0.844 on 2014-2023
      alone; about 0.93 if every day of 2000-2023 were used, the stale opens pulling it to 1).
      The std of ``session_z`` is 0.701 against 0.834 for close-to-close Monday (Fri -> Mon)
      days: ratio 0.84, against the issue's claimed 0.79% / 0.872% = 0.906 (0.79% is the session
      sigma at a VIX of 17.9). The index's opening print may still mix in stale component prices
      (stocks that have not yet traded), which would bias ``c`` up.

    Parameters
    ----------
    vix : pd.Series
        Cboe VIX daily closes (index points) (:func:`models.market.history.load_vix_history`).
    ohlc : pd.DataFrame
        S&P 500 ``open, high, low, close`` (:func:`models.market.history.load_index_ohlc`).
    start, end : date-like, optional
        Sample window of the days ``d``.
    ewma_lambda : float
        EWMA decay factor of the pre-VIX filter.
    vol_power : float | "measured"
        Exponent ``gamma`` of the filter ``sigma = ref (v / ref)^gamma`` (``v`` the previous
        VIX close as a daily vol, ``ref`` its median over the sample): 1 = the VIX itself;
        ``"measured"`` = the slope of ``ln mean(r^2)`` on ``ln mean(v^2)`` over 20 VIX-quantile
        bins of the sample's VIX days (1990-2023: see :attr:`FilteredHistory.vol_power`).

    Returns
    -------
    FilteredHistory

    Raises
    ------
    ValueError
        Fewer than 250 days in the window, fewer than 250 VIX-filtered days for the AR(1), no
        usable opens, or bad ``ewma_lambda``.
    """
    lam = _check_lambda(ewma_lambda)
    v = pd.Series(vix, dtype=float)
    v = v[v.notna() & (v > 0)].sort_index()
    if v.empty:
        raise ValueError("filtered_history: the VIX history is empty")
    px = pd.DataFrame(ohlc).sort_index()
    close = px["close"].astype(float)
    prev_close = close.shift(1)
    first_vix = v.index[0]
    start_ts = first_vix if start is None else pd.Timestamp(start)
    end_ts = close.index[-1] if end is None else pd.Timestamp(end)

    # VIX level on each S&P day (last close carried over a few missing days), and of the day before
    vix_on = v.reindex(close.index.union(v.index)).ffill(limit=_VIX_FFILL_LIMIT)
    vix_on = vix_on.reindex(close.index)
    vix_on[close.index < first_vix] = np.nan
    vix_prev_on = vix_on.shift(1)
    log_r = np.log(close / prev_close)

    # EWMA filter (close of each day) scaled to a VIX-equivalent level
    ewma_post = pd.Series(
        np.sqrt(_ewma_post_variance(log_r.to_numpy()[1:], lam)), index=close.index[1:]
    ).reindex(close.index)
    vix_real = v.reindex(close.index)  # VIX closes on S&P days, none carried over
    overlap = vix_real.notna() & ewma_post.notna()
    k = float((vix_real[overlap] / 100.0 / _SQRT252).mean() / ewma_post[overlap].mean())
    syn = 100.0 * _SQRT252 * k * ewma_post  # synthetic VIX level at the close of each day
    syn_prev = syn.shift(1)

    in_window = (close.index >= start_ts) & (close.index <= end_ts) & prev_close.notna().to_numpy()
    is_vix = in_window & (vix_prev_on.notna() & vix_on.notna()).to_numpy()
    keep = is_vix.copy()
    if start_ts < first_vix:  # EWMA filter on the window's days before the VIX
        keep |= in_window & (syn_prev.notna() & syn.notna()).to_numpy()
    if int(keep.sum()) < 250:
        raise ValueError(
            f"filtered_history: only {int(keep.sum())} usable days in "
            f"[{start_ts.date()}, {end_ts.date()}]; need at least 250"
        )
    ewma_day = ~is_vix[keep]
    level_prev = np.where(ewma_day, syn_prev.to_numpy()[keep], vix_prev_on.to_numpy()[keep])
    level = np.where(ewma_day, syn.to_numpy()[keep], vix_on.to_numpy()[keep])
    base = level_prev / 100.0 / _SQRT252
    r = log_r.to_numpy()[keep]
    ref = float(np.median(base[~ewma_day])) if np.any(~ewma_day) else float(np.median(base))
    gamma = _vol_power(vol_power, r[~ewma_day], base[~ewma_day])
    sigma = ref * (base / ref) ** gamma
    z = r / sigma

    # ln VIX AR(1) on the VIX days of the sample
    x, y = np.log(level_prev[~ewma_day]), np.log(level[~ewma_day])
    if x.size < 250:
        raise ValueError(f"filtered_history: only {x.size} VIX days in the sample for the AR(1)")
    design = np.column_stack([np.ones_like(x), x])
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    resid_std = float(np.std(y - a - b * x, ddof=2))
    vix_resid = np.log(level) - a - b * np.log(level_prev)

    # session move: measured on usable opens (whole input), imputed elsewhere
    usable = _usable_opens(px, prev_close) & vix_prev_on.notna()
    sig_all = ref * (vix_prev_on / 100.0 / _SQRT252 / ref) ** gamma
    sz_all = np.log(close / px["open"].astype(float)) / sig_all
    z_all = log_r / sig_all
    if int(usable.sum()) < 250:
        raise ValueError(
            f"filtered_history: only {int(usable.sum())} days with a usable opening print"
        )
    c = float(math.sqrt((sz_all[usable] ** 2).mean() / (z_all[usable] ** 2).mean()))
    observed = usable.to_numpy()[keep] & ~ewma_day
    session_z = np.where(observed, sz_all.to_numpy()[keep], z * c)

    return FilteredHistory(
        dates=close.index[keep],
        z=z,
        session_z=session_z,
        sigma=sigma,
        vix=level,
        vix_prev=level_prev,
        vix_resid=vix_resid,
        filter_kind=np.where(ewma_day, "ewma", "vix"),
        session_observed=observed,
        ar_a=float(a),
        ar_b=float(b),
        ar_resid_std=resid_std,
        session_scale=c,
        n_session=int(usable.sum()),
        ewma_scale=k if bool(np.any(ewma_day)) else None,
        ewma_lambda=lam,
        vol_power=gamma,
        vol_ref=ref,
    )


#: VIX-quantile bins of the measured filter exponent.
_POWER_BINS = 20


def _vol_power(vol_power, r: np.ndarray, base: np.ndarray) -> float:
    """The filter exponent: stated, or measured over VIX-quantile bins (see filtered_history)."""
    if vol_power != "measured":
        g = float(vol_power)
        if not (math.isfinite(g) and 0.0 < g <= 3.0):
            raise ValueError(f"vol_power must be in (0, 3] or 'measured', got {vol_power!r}")
        return g
    edges = np.quantile(base, np.linspace(0.0, 1.0, _POWER_BINS + 1))
    idx = np.clip(np.searchsorted(edges, base, side="right") - 1, 0, _POWER_BINS - 1)
    x = np.array([np.log(np.mean(base[idx == i] ** 2)) for i in range(_POWER_BINS)])
    y = np.array([np.log(np.mean(r[idx == i] ** 2)) for i in range(_POWER_BINS)])
    slope = float(np.polyfit(x, y, 1)[0])
    return slope


# ----------------------------------------------------------------------------------------------
# Paths
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Paths:
    """Simulated daily S&P 500 returns and VIX closes over ``D`` trading days, ``P`` paths.

    Convention: day ``t`` (1..D) has close-to-close log return ``log_return[:, t-1]`` drawn with
    the VIX level ``vix[:, t-1]`` of the previous close; ``vix[:, t]`` is the VIX at the close of
    day ``t``; ``vix[:, 0]`` is today's level.

    Parameters
    ----------
    log_return : np.ndarray
        ``(P, D)`` daily close-to-close S&P 500 log returns.
    vix : np.ndarray
        ``(P, D + 1)`` VIX level (index points) at the close of day ``t``.
    session_return : np.ndarray
        ``(P, D)`` open -> close log return of day ``t`` (regular trading hours).
    day : np.ndarray
        ``(P, D)`` int32 index into the :class:`FilteredHistory` day of each simulated day
        (``-1`` for lognormal paths).
    measure : str
        Description of the measure, including its calibration window.
    light_tailed : bool
        True for the lognormal alternative.

    Notes
    -----
    Arrays are copied read-only on construction (an array that is already read-only and owns its
    data is kept as is). Equality is identity.
    """

    log_return: np.ndarray
    vix: np.ndarray
    session_return: np.ndarray
    day: np.ndarray
    measure: str
    light_tailed: bool

    def __post_init__(self) -> None:
        lr = _frozen(self.log_return)
        if lr.ndim != 2:
            raise ValueError(f"Paths.log_return must be (P, D), got shape {lr.shape}")
        p, d = lr.shape
        vx = _frozen(self.vix)
        sr = _frozen(self.session_return)
        day = _frozen(self.day, dtype=np.int32)
        if vx.shape != (p, d + 1):
            raise ValueError(f"Paths.vix has shape {vx.shape}, expected {(p, d + 1)}")
        if sr.shape != (p, d) or day.shape != (p, d):
            raise ValueError("Paths.session_return and Paths.day must have log_return's shape")
        for name, arr in (("log_return", lr), ("vix", vx), ("session_return", sr)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"Paths.{name} has non-finite values")
        if np.any(vx <= 0):
            raise ValueError("Paths.vix must be > 0")
        object.__setattr__(self, "log_return", lr)
        object.__setattr__(self, "vix", vx)
        object.__setattr__(self, "session_return", sr)
        object.__setattr__(self, "day", day)
        object.__setattr__(self, "measure", str(self.measure))
        object.__setattr__(self, "light_tailed", bool(self.light_tailed))

    @property
    def P(self) -> int:
        """Number of paths."""
        return self.log_return.shape[0]

    @property
    def D(self) -> int:
        """Number of simulated trading days."""
        return self.log_return.shape[1]

    def __repr__(self) -> str:
        return f"Paths(P={self.P}, D={self.D}, light_tailed={self.light_tailed})"


def _vix0(vix0, n_paths: int) -> np.ndarray:
    arr = np.asarray(vix0, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n_paths, float(arr))
    if arr.shape != (n_paths,):
        raise ValueError(
            f"vix0 must be a number or one level per path ({n_paths}), got {arr.shape}"
        )
    if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError("vix0 must be finite and > 0")
    return arr


def fhs_paths(
    hist: FilteredHistory,
    *,
    vix0,
    n_paths: int,
    n_days: int,
    seed: int,
    mean_block: float = 21.0,
) -> Paths:
    """Filtered-historical-simulation paths of the S&P 500 and the VIX.

    Day indices by the stationary bootstrap (Politis & Romano 1994): each path starts at a
    uniform random historical day; each next day is the following historical day with
    probability ``1 - 1 / mean_block``, else (and always after the last day of the sample) a fresh
    uniform day — blocks of geometric length with mean ``mean_block``. With ``d_t`` the day drawn
    for simulated day ``t``::

        log_return[:, t-1]     = z[d_t]         * sigma(vix[:, t-1])
        session_return[:, t-1] = session_z[d_t] * sigma(vix[:, t-1])
        ln vix[:, t] = clip(a + b ln vix[:, t-1] + vix_resid[d_t], ln 5, ln 150)

    so the return and the VIX move of a simulated day come from the same historical day. The
    default block of 21 trading days is the VIX's 30-calendar-day tenor: it keeps the
    month-scale clustering the VIX filter leaves in ``z``. No drift adjustment: the paths carry
    the historical mean of ``z`` (the price index's drift, about 0.02 sigma a day).

    Parameters
    ----------
    hist : FilteredHistory
        The residual pool (:func:`filtered_history`).
    vix0 : float | np.ndarray
        Today's VIX close (index points), or ``(P,)`` one level per path. Kept as given in
        ``vix[:, 0]``; the simulated levels are clipped to ``VIX_CLIP``.
    n_paths, n_days : int
        ``P >= 1`` and ``D >= 1``.
    seed : int
        ``numpy.random.Generator(PCG64(SeedSequence(seed)))``; same seed, same paths.
    mean_block : float
        Mean block length in trading days, ``>= 1`` (1 = iid days).

    Returns
    -------
    Paths
        ``light_tailed=False``; ``measure`` = :meth:`FilteredHistory.describe`.

    Notes
    -----
    Vectorized over paths with a loop over days: 20,000 x 273 in about 0.12 s.
    """
    n_paths = _int_arg("n_paths", n_paths, 1)
    n_days = _int_arg("n_days", n_days, 1)
    seed = _int_arg("seed", seed, 0)
    mean_block = float(mean_block)
    if not (math.isfinite(mean_block) and mean_block >= 1.0):
        raise ValueError(f"mean_block must be a finite number >= 1, got {mean_block!r}")
    v0 = _vix0(vix0, n_paths)
    rng = Generator(PCG64(SeedSequence(seed)))
    day = _stationary_days(rng, hist.n, n_paths, n_days, mean_block)

    lo, hi = math.log(VIX_CLIP[0]), math.log(VIX_CLIP[1])
    vix = np.empty((n_paths, n_days + 1))
    vix[:, 0] = np.log(v0)
    for t in range(n_days):
        step = hist.ar_a + hist.ar_b * vix[:, t] + hist.vix_resid[day[:, t]]
        np.clip(step, lo, hi, out=vix[:, t + 1])
    np.exp(vix, out=vix)
    vix[:, 0] = v0
    scale = hist.filter_sigma(vix[:, :-1])
    log_return = hist.z[day]
    log_return *= scale
    session = hist.session_z[day]
    session *= scale
    return Paths(
        log_return=_sealed(log_return),
        vix=_sealed(vix),
        session_return=_sealed(session),
        day=_sealed(day),
        measure=hist.describe(mean_block),
        light_tailed=False,
    )


def history_paths(hist: FilteredHistory, first: int, n_days: int) -> Paths:
    """The history itself as one path: days ``first .. first + n_days - 1`` in their order.

    The filtered-historical-simulation path with one block that never ends, started at a real
    day and with the real VIX instead of the AR(1): for ``j = 0 .. n_days - 1`` and ``d = first
    + j``::

        log_return[0, j]     = z[d] * sigma[d]          (= ln(C_d / C_{d-1}))
        session_return[0, j] = session_z[d] * sigma[d]  (ln(C_d / O_d) where the open is usable,
                                                         else the imputed c x close-to-close move)
        vix[0, 0] = vix_prev[first],  vix[0, j + 1] = vix[d]
        day[0, j] = d

    so path day ``0`` is the close of the day before ``first`` and path day ``j + 1`` the close of
    day ``first + j``. Before the VIX starts (``"ewma"`` days) the VIX is the filter's synthetic
    level (:func:`filtered_history`). Used by the backtest (:mod:`optimizer.studies.backtest`):
    the income model's engine run on what happened.

    Parameters
    ----------
    hist : FilteredHistory
        The history (its ``dates`` are the days ``d``).
    first : int
        Index of the path's first return day in ``hist.dates`` (``>= 0``).
    n_days : int
        Trading days ``D >= 1``; ``first + n_days <= hist.n``.

    Returns
    -------
    Paths
        ``P = 1``, ``D = n_days``; ``measure`` names the dates.

    Raises
    ------
    ValueError
        The window is not inside the history.
    """
    first = _int_arg("first", first, 0)
    n_days = _int_arg("n_days", n_days, 1)
    if first + n_days > hist.n:
        raise ValueError(
            f"history_paths: days {first}..{first + n_days - 1} are not inside the history "
            f"({hist.n} days, {hist.window})"
        )
    d = np.arange(first, first + n_days)
    vix = np.concatenate([[hist.vix_prev[first]], hist.vix[d]])
    return Paths(
        log_return=(hist.z[d] * hist.sigma[d])[None, :],
        vix=vix[None, :],
        session_return=(hist.session_z[d] * hist.sigma[d])[None, :],
        day=d[None, :].astype(np.int32),
        measure=(
            f"S&P 500 / VIX history {hist.dates[first].date()}..{hist.dates[d[-1]].date()} "
            f"({n_days} trading days, as they happened)"
        ),
        light_tailed=False,
    )


def lognormal_paths(
    *,
    vix0,
    vol_ratio: float,
    n_paths: int,
    n_days: int,
    seed: int,
    session_fraction: float,
) -> Paths:
    """Light-tailed alternative: iid Gaussian daily log returns at a constant vol.

    ``log_return = s eps - s^2 / 2`` with ``s = vix0 / 100 * vol_ratio / sqrt(252)`` and ``eps``
    standard normal, so ``E[S_T / S_0] = 1`` (no drift, no equity premium); the VIX stays at
    ``vix0``. The lognormal model has no intraday structure: the session return is the same
    day's log return scaled, ``session_return = sqrt(session_fraction) * log_return`` (perfectly
    correlated, variance ``session_fraction`` times the day's; pass
    ``FilteredHistory.session_scale ** 2`` to match the FHS).

    Parameters
    ----------
    vix0 : float | np.ndarray
        VIX level (index points), or ``(P,)`` one per path.
    vol_ratio : float
        Realized/implied vol ratio (> 0), e.g. :func:`models.income.measure_vol_ratio`'s
        ``ratio`` (0.861 on 1990-2023).
    n_paths, n_days, seed : int
        Shape and seed (``Generator(PCG64(SeedSequence(seed)))``).
    session_fraction : float
        Session share of the daily variance, in [0, 1].

    Returns
    -------
    Paths
        ``light_tailed=True``, ``day`` all ``-1``.
    """
    n_paths = _int_arg("n_paths", n_paths, 1)
    n_days = _int_arg("n_days", n_days, 1)
    seed = _int_arg("seed", seed, 0)
    vol_ratio = float(vol_ratio)
    if not (math.isfinite(vol_ratio) and vol_ratio > 0):
        raise ValueError(f"vol_ratio must be a finite number > 0, got {vol_ratio!r}")
    session_fraction = float(session_fraction)
    if not (math.isfinite(session_fraction) and 0.0 <= session_fraction <= 1.0):
        raise ValueError(f"session_fraction must lie in [0, 1], got {session_fraction!r}")
    v0 = _vix0(vix0, n_paths)
    rng = Generator(PCG64(SeedSequence(seed)))
    s = (v0 / 100.0 * vol_ratio / _SQRT252)[:, None]
    log_return = s * rng.standard_normal((n_paths, n_days)) - 0.5 * s**2
    vix = np.repeat(v0[:, None], n_days + 1, axis=1)
    return Paths(
        log_return=_sealed(log_return),
        vix=_sealed(vix),
        session_return=_sealed(math.sqrt(session_fraction) * log_return),
        day=_sealed(np.full((n_paths, n_days), -1, dtype=np.int32)),
        measure=(
            f"lognormal (light-tailed): iid Gaussian daily log returns, vol = VIX x {vol_ratio:.3f}"
            f" (realized/implied ratio), VIX constant, E[S_T] = S_0; session = "
            f"sqrt({session_fraction:.3f}) x daily return"
        ),
        light_tailed=True,
    )


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------

DEFAULT_HORIZONS = (1, 21, 82)
"""Calibration horizons, trading days: one day, one month (the VIX tenor), 82 days (~120 calendar)."""

DEFAULT_THRESHOLDS = (-0.05, -0.10, -0.20)
"""Calibration thresholds on the simple S&P 500 return over the horizon."""

DEFAULT_BUCKETS = ((0.0, 15.0), (15.0, 20.0), (20.0, 30.0), (30.0, math.inf))
"""Starting-VIX buckets ``[lo, hi)``, index points."""


def _bucket_label(lo: float, hi: float) -> str:
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def window_returns(
    hist_close: pd.Series, vix: pd.Series, horizon: int, *, start="1990-01-02", end="2023-12-28"
) -> pd.DataFrame:
    """Overlapping ``horizon``-day S&P 500 windows with the VIX close of their start day.

    Window ``i`` starts on S&P 500 trading day ``d_i`` (in ``[start, end]``, with a VIX close on
    that date) and ends ``horizon`` S&P 500 trading days later, also inside ``[start, end]``.

    Parameters
    ----------
    hist_close : pd.Series
        S&P 500 closes (:func:`models.market.history.load_index_history`).
    vix : pd.Series
        VIX closes (:func:`models.market.history.load_vix_history`).
    horizon : int
        Trading days, ``>= 1``.
    start, end : date-like
        Sample window.

    Returns
    -------
    pd.DataFrame
        Indexed by start date: ``vix`` (start day's close, index points) and ``simple_return``
        ``C_{d+h} / C_d - 1``.
    """
    horizon = _int_arg("horizon", horizon, 1)
    c = pd.Series(hist_close, dtype=float)
    c = c[c.notna() & (c > 0)].sort_index()
    c = c[(c.index >= pd.Timestamp(start)) & (c.index <= pd.Timestamp(end))]
    if c.size <= horizon:
        raise ValueError(f"only {c.size} S&P 500 closes in the window; need more than {horizon}")
    x = c.to_numpy()
    ret = pd.Series(x[horizon:] / x[:-horizon] - 1.0, index=c.index[:-horizon])
    v = pd.Series(vix, dtype=float).reindex(ret.index)
    ok = v.notna() & (v > 0)
    return pd.DataFrame({"vix": v[ok], "simple_return": ret[ok]})


def _wilson(p: float, n_eff: float) -> tuple[float, float]:
    """95% Wilson score interval for a frequency ``p`` on an effective sample ``n_eff``."""
    if n_eff <= 0:
        return 0.0, 1.0
    z2 = _Z95**2
    denom = 1.0 + z2 / n_eff
    centre = (p + z2 / (2.0 * n_eff)) / denom
    half = _Z95 * math.sqrt(p * (1.0 - p) / n_eff + z2 / (4.0 * n_eff**2)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def historical_tail_frequencies(
    hist_close: pd.Series,
    vix: pd.Series,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    buckets: Sequence[tuple[float, float]] = DEFAULT_BUCKETS,
    start="1990-01-02",
    end="2023-12-28",
) -> pd.DataFrame:
    """Historical frequency of ``h``-day S&P 500 falls beyond a threshold, by starting VIX bucket.

    Over the overlapping windows of :func:`window_returns`, a window belongs to the bucket
    ``lo <= VIX_d < hi`` of its start day's VIX close. ``freq = count / n`` with ``count`` the
    windows whose simple return ``C_{d+h}/C_d - 1`` is below ``threshold``. Overlapping windows
    are not independent: the 95% interval is the Wilson score interval evaluated at ``freq`` with
    the effective sample size ``n_eff = n / h`` (the number of non-overlapping windows; it
    still ignores the clustering of a bucket's days in time, so it is, if anything, too narrow).

    Parameters
    ----------
    hist_close, vix : pd.Series
        S&P 500 and VIX closes.
    horizons : Sequence[int]
        Window lengths, trading days.
    thresholds : Sequence[float]
        Simple-return thresholds (``-0.05`` = a fall of more than 5%).
    buckets : Sequence[tuple[float, float]]
        ``[lo, hi)`` VIX ranges (index points).
    start, end : date-like
        Sample window (both ends of every window inside).

    Returns
    -------
    pd.DataFrame
        One row per (horizon, bucket, threshold): ``horizon, bucket, lo, hi, threshold, n,
        n_eff, count, freq, ci_low, ci_high``.
    """
    rows = []
    for h in horizons:
        w = window_returns(hist_close, vix, h, start=start, end=end)
        for lo, hi in buckets:
            sel = w[(w["vix"] >= lo) & (w["vix"] < hi)]
            n = len(sel)
            n_eff = n / h
            for thr in thresholds:
                k = int((sel["simple_return"] < thr).sum())
                freq = k / n if n else float("nan")
                ci = _wilson(freq, n_eff) if n else (float("nan"), float("nan"))
                rows.append(
                    {
                        "horizon": int(h),
                        "bucket": _bucket_label(lo, hi),
                        "lo": float(lo),
                        "hi": float(hi),
                        "threshold": float(thr),
                        "n": n,
                        "n_eff": n_eff,
                        "count": k,
                        "freq": freq,
                        "ci_low": ci[0],
                        "ci_high": ci[1],
                    }
                )
    return pd.DataFrame(rows)


def model_tail_probabilities(
    paths: Paths, horizons: Sequence[int], thresholds: Sequence[float]
) -> pd.DataFrame:
    """Model probability that the ``h``-day simple return falls below each threshold.

    ``P(exp(sum_{t<=h} log_return_t) - 1 < threshold)`` over the paths, with the Monte Carlo
    standard error ``sqrt(p (1 - p) / P)`` (paths are independent).

    Parameters
    ----------
    paths : Paths
        ``D >= max(horizons)``.
    horizons : Sequence[int]
        Trading days.
    thresholds : Sequence[float]
        Simple-return thresholds.

    Returns
    -------
    pd.DataFrame
        Indexed by ``(horizon, threshold)``; columns ``prob``, ``se``.
    """
    cum = np.cumsum(paths.log_return, axis=1)
    rows = []
    for h in horizons:
        h = _int_arg("horizon", h, 1)
        if h > paths.D:
            raise ValueError(f"horizon {h} exceeds the {paths.D} simulated days")
        ret = np.expm1(cum[:, h - 1])
        for thr in thresholds:
            p = float(np.mean(ret < thr))
            rows.append((h, float(thr), p, math.sqrt(p * (1.0 - p) / paths.P)))
    df = pd.DataFrame(rows, columns=["horizon", "threshold", "prob", "se"])
    return df.set_index(["horizon", "threshold"])


def tail_calibration(
    hist: FilteredHistory,
    hist_close: pd.Series,
    vix: pd.Series,
    *,
    vol_ratio: float,
    n_paths: int = 20_000,
    seed: int = 0,
    mean_block: float = 21.0,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    buckets: Sequence[tuple[float, float]] = DEFAULT_BUCKETS,
    start="1990-01-02",
    end="2023-12-28",
) -> pd.DataFrame:
    """Historical tail frequencies next to the FHS and lognormal probabilities, bucket by bucket.

    For each (horizon, bucket): ``n_paths`` start levels are drawn with replacement (seeded) from
    the VIX closes of the bucket's historical window start days; FHS paths
    (:func:`fhs_paths`) and lognormal paths (:func:`lognormal_paths` at ``vol_ratio``) start at
    those levels, and their probabilities (:func:`model_tail_probabilities`) are set beside the
    historical frequency and its 95% interval (:func:`historical_tail_frequencies`).

    Parameters
    ----------
    hist : FilteredHistory
        Residual pool of the FHS.
    hist_close, vix : pd.Series
        S&P 500 and VIX closes for the historical windows.
    vol_ratio : float
        Lognormal realized/implied ratio.
    n_paths, seed, mean_block
        Simulation size, base seed (cell ``i`` uses ``seed + i``), bootstrap block.
    horizons, thresholds, buckets, start, end
        As in :func:`historical_tail_frequencies`.

    Returns
    -------
    pd.DataFrame
        :func:`historical_tail_frequencies`' columns plus ``fhs``, ``fhs_se``, ``lognormal``,
        ``lognormal_se``, ``fhs_in_ci``, ``lognormal_in_ci`` (NaN/False where ``n == 0``).
    """
    table = historical_tail_frequencies(
        hist_close, vix, horizons, thresholds, buckets, start=start, end=end
    )
    pick = Generator(PCG64(SeedSequence(seed)))
    out = []
    i = 0
    for h in horizons:
        w = window_returns(hist_close, vix, h, start=start, end=end)
        for lo, hi in buckets:
            levels = w.loc[(w["vix"] >= lo) & (w["vix"] < hi), "vix"].to_numpy()
            cell = table[(table["horizon"] == h) & (table["bucket"] == _bucket_label(lo, hi))]
            cell = cell.copy()
            if levels.size == 0:
                for col in ("fhs", "fhs_se", "lognormal", "lognormal_se"):
                    cell[col] = np.nan
                out.append(cell)
                i += 1
                continue
            v0 = pick.choice(levels, size=n_paths, replace=True)
            fhs = fhs_paths(
                hist, vix0=v0, n_paths=n_paths, n_days=h, seed=seed + 1 + i, mean_block=mean_block
            )
            lgn = lognormal_paths(
                vix0=v0,
                vol_ratio=vol_ratio,
                n_paths=n_paths,
                n_days=h,
                seed=seed + 100_001 + i,
                session_fraction=hist.session_scale**2,
            )
            pf = model_tail_probabilities(fhs, [h], thresholds)
            pl = model_tail_probabilities(lgn, [h], thresholds)
            keys = list(zip(cell["horizon"], cell["threshold"], strict=True))
            cell["fhs"] = pf.loc[keys, "prob"].to_numpy()
            cell["fhs_se"] = pf.loc[keys, "se"].to_numpy()
            cell["lognormal"] = pl.loc[keys, "prob"].to_numpy()
            cell["lognormal_se"] = pl.loc[keys, "se"].to_numpy()
            out.append(cell)
            i += 1
    res = pd.concat(out, ignore_index=True)
    for m in ("fhs", "lognormal"):
        res[f"{m}_in_ci"] = (res[m] >= res["ci_low"]) & (res[m] <= res["ci_high"])
    return res
