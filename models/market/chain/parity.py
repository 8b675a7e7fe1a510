"""Forward price and discount factor of one expiry from put-call parity.

For European options on the same underlying, expiry and strike, put-call parity reads
``C - P = DF * (F - K)``: the call-minus-put mid price is linear in the strike with slope ``-DF``
and root ``K = F``. Following the Cboe VIX white paper (Cboe, *VIX Index Mathematics Methodology*,
"determine the forward index level"), the at-the-money strike ``K*`` is the strike at which
``|C - P|`` is smallest; instead of reading ``F = K* + (C - P) / DF`` off that single strike with an
external rate, we regress ``C - P`` on the strikes nearest ``K*`` (least squares for ``DF`` and
``F``), which estimates the discount factor from the quotes themselves and averages out quote
noise. One pass of outlier trimming (residuals beyond ``outlier_mad`` robust standard deviations)
protects against stale quotes.

American options (equity/ETF, e.g. SPY) satisfy parity only approximately (early-exercise premium,
discrete dividends); near the money the error is small and acceptable for this toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from models.errors import DataError

__all__ = ["ParityFit", "parity_forward"]


@dataclass(frozen=True)
class ParityFit:
    """Result of a put-call parity fit on one expiry.

    Attributes
    ----------
    forward : float
        Forward price ``F`` (price units of the underlying).
    discount_factor : float
        Discount factor ``DF`` to the expiry (dimensionless).
    method : str
        ``"regression"`` (``F`` and ``DF`` both fitted) or ``"fixed_df"`` (``DF`` given by the
        caller, ``F`` averaged over the pairs).
    n_pairs : int
        Number of (call, put) strike pairs used after outlier trimming.
    atm_strike : float
        Strike ``K*`` with the smallest ``|C - P|``.
    rmse : float
        Root mean square residual of ``C - P - DF (F - K)`` over the pairs used (price units).
    rate_se : float
        Standard error of the implied continuously compounded rate ``-ln(DF)/t`` (per year);
        ``inf`` when it cannot be estimated (three pairs or fewer) and ``nan`` for ``"fixed_df"``.
    """

    forward: float
    discount_factor: float
    method: str
    n_pairs: int
    atm_strike: float
    rmse: float
    rate_se: float


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray, float]:
    """Fit ``y = a + b x`` (x already centred near zero); return a, b, residuals, se(b)."""
    n = x.size
    xm = x.mean()
    xc = x - xm
    sxx = float(xc @ xc)
    b = float(xc @ (y - y.mean())) / sxx
    a = float(y.mean() - b * xm)
    resid = y - (a + b * x)
    if n > 3:
        s2 = float(resid @ resid) / (n - 2)
        se_b = float(np.sqrt(s2 / sxx))
    else:
        se_b = float("inf")
    return a, b, resid, se_b


def parity_forward(
    strike: ArrayLike,
    call_price: ArrayLike,
    put_price: ArrayLike,
    t: float,
    *,
    discount_factor: float | None = None,
    n_pairs: int = 12,
    outlier_mad: float = 4.0,
) -> ParityFit:
    """Estimate the forward (and discount factor) of one expiry from put-call parity.

    Parameters
    ----------
    strike, call_price, put_price : array_like, shape (n,)
        Strikes that have both a call and a put quote on the same expiry (and, for indices with
        several roots, the same root), with the call and put mid prices per share. Non-finite
        entries are ignored.
    t : float
        Time to expiry in years (calendar, seconds / (365 * 86400)); must be > 0.
    discount_factor : float, optional
        If given, ``DF`` is held fixed and only ``F`` is estimated, as the trimmed mean of
        ``K + (C - P) / DF`` over the pairs. If omitted, ``DF`` and ``F`` are both fitted by least
        squares (needs at least 3 pairs).
    n_pairs : int, default 12
        Number of strikes nearest ``K*`` (the strike with the smallest ``|C - P|``) used.
    outlier_mad : float, default 4.0
        Pairs whose residual exceeds this many robust standard deviations
        (1.4826 * median absolute residual) are dropped and the fit repeated once.

    Returns
    -------
    ParityFit

    Raises
    ------
    DataError
        If there is no usable pair, fewer than 3 pairs for a regression, ``t <= 0`` or the fitted
        discount factor is not positive.

    Notes
    -----
    The regression is ``C - P = DF * F - DF * K``, solved with strikes centred on ``K*`` for
    numerical accuracy. On exact European prices it recovers ``F`` and ``DF`` to rounding
    error. Source: Cboe, *VIX White Paper* (forward index level from put-call parity at the
    strike where the call/put price difference is smallest).
    """
    k = np.asarray(strike, dtype=float).ravel()
    c = np.asarray(call_price, dtype=float).ravel()
    p = np.asarray(put_price, dtype=float).ravel()
    if not (k.size == c.size == p.size):
        raise DataError(
            "parity_forward: strike, call_price and put_price must have the same length"
        )
    if not np.isfinite(t) or t <= 0:
        raise DataError(f"parity_forward: time to expiry must be > 0 years, got {t!r}")
    ok = np.isfinite(k) & np.isfinite(c) & np.isfinite(p) & (k > 0)
    k, d = k[ok], (c - p)[ok]
    if k.size == 0:
        raise DataError("put-call parity: no strike with both a call and a put quote")
    order = np.argsort(k, kind="stable")
    k, d = k[order], d[order]
    k_star = float(k[np.argmin(np.abs(d))])
    near = np.argsort(np.abs(k - k_star), kind="stable")[: max(int(n_pairs), 1)]
    k, d = k[near], d[near]
    floor = 1e-9 * k_star + 1e-12

    if discount_factor is None:
        if k.size < 3:
            raise DataError(
                f"put-call parity: {k.size} strike pair(s) near the money; need 3 to fit the discount factor"
            )
        x = k - k_star
        a, b, resid, se_b = _ols(x, d)
        if k.size >= 5:
            scale = 1.4826 * float(np.median(np.abs(resid)))
            keep = np.abs(resid) <= outlier_mad * max(scale, floor)
            if 3 <= keep.sum() < k.size:
                x, d, k = x[keep], d[keep], k[keep]
                a, b, resid, se_b = _ols(x, d)
        df = -b
        if not np.isfinite(df) or df <= 0:
            raise DataError(
                f"put-call parity: fitted discount factor {df:.6g} is not positive (quotes inconsistent)"
            )
        forward = k_star + a / df
        rmse = float(np.sqrt(np.mean(resid**2)))
        return ParityFit(
            forward=float(forward),
            discount_factor=float(df),
            method="regression",
            n_pairs=int(k.size),
            atm_strike=k_star,
            rmse=rmse,
            rate_se=float(se_b / (df * t)),
        )

    df = float(discount_factor)
    if not np.isfinite(df) or df <= 0:
        raise DataError(f"parity_forward: discount_factor must be > 0, got {discount_factor!r}")
    f_i = k + d / df
    f_med = float(np.median(f_i))
    if k.size >= 3:
        scale = 1.4826 * float(np.median(np.abs(f_i - f_med)))
        keep = np.abs(f_i - f_med) <= outlier_mad * max(scale, floor)
        f_i, k, d = f_i[keep], k[keep], d[keep]
    forward = float(np.mean(f_i))
    resid = d - df * (forward - k)
    return ParityFit(
        forward=forward,
        discount_factor=df,
        method="fixed_df",
        n_pairs=int(k.size),
        atm_strike=k_star,
        rmse=float(np.sqrt(np.mean(resid**2))),
        rate_se=float("nan"),
    )
