"""Model-free implied volatility in forward form, vectorized.

An option price ``V`` is read as the discounted Black (1976) value on the forward,
``V = D * Black(F, K, t, sigma)``, which inverts Black-Scholes-Merton (``F = S e^{(r-q)t}``,
``D = e^{-rt}``) and Black-76 alike.

Method
------
Work in Jäckel's normalised coordinates (P. Jäckel, "Let's Be Rational", *Wilmott* 2015, 40-53):
``x = ln(F/K)``, total volatility ``s = sigma sqrt(t)``, normalised price
``b = V / (D sqrt(F K))``. The in-the-money part is removed by put-call parity and puts are mapped
to calls (``b_put(x, s) = b_call(-x, s)``), so every option becomes an out-of-the-money call with
``x <= 0`` whose normalised price ``beta`` lies in ``(0, e^{x/2})``. The root of ``b(x, s) = beta``
is found by a bracketed, safeguarded Newton iteration on a well-scaled objective, split at the
inflection point ``s_c = sqrt(2|x|)``:

* below it, ``ln b(s) - ln beta``, with ``ln b`` evaluated in log space through the scaled
  complementary error function, ``b = exp(-(h^2+t^2)/2) / sqrt(2 pi) * [Y(h+t) - Y(h-t)]``,
  ``Y(z) = N(z)/n(z)``, ``h = x/s``, ``t = s/2``, so prices far below the smallest double still
  converge;
* above it, ``ln(e^{x/2} - beta) - ln(e^{x/2} - b(s))``, with ``e^{x/2} - b`` evaluated as a sum
  of two positive terms via ``log_ndtr`` (no cancellation near the upper bound).

Both objectives are increasing in ``s``; every evaluation narrows a bracket and a Halley (else
Newton) step that would leave it is replaced by a (geometric) bisection, so the iteration cannot
diverge.
Initial guesses use Jäckel's lower and upper asymptotic maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erfcx, log_ndtr, ndtr, ndtri

from models.market.pricing._common import as_float, as_is_call

__all__ = ["IV_REASONS", "IVResult", "implied_vol"]

IV_REASONS = (
    "below_intrinsic",
    "above_upper_bound",
    "nonpositive_time",
    "nonpositive_price",
    "no_convergence",
    "invalid_input",
)
"""Every non-empty value :attr:`IVResult.reason` can take."""

_EPS = np.finfo(np.float64).eps
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_HALF_PI = np.sqrt(0.5 * np.pi)
_INV_SQRT2 = np.sqrt(0.5)
_LOWER_MAP_SCALE = 2.0 * np.pi / np.sqrt(27.0)
_NOISE = 16.0 * _EPS  # attainable relative accuracy of the normalised price


@dataclass(frozen=True)
class IVResult:
    """Implied volatilities and, where none exists, why.

    Attributes
    ----------
    iv : np.ndarray
        float64, broadcast shape of the inputs: annualized implied volatility (decimal), NaN where
        no valid vol exists.
    reason : np.ndarray
        dtype object, same shape: ``""`` where ``iv`` is valid, else one of
        ``"invalid_input"`` (NaN/inf input, forward, strike or discount factor <= 0),
        ``"nonpositive_time"`` (``t <= 0``), ``"nonpositive_price"`` (``price <= 0``),
        ``"below_intrinsic"`` (``price <= D max(±(F-K), 0)``, or a time value so small it
        underflows when normalised),
        ``"above_upper_bound"`` (call ``price >= D F``, put ``price >= D K``),
        ``"no_convergence"`` (``max_iter`` reached). Checked in that order.
    """

    iv: np.ndarray
    reason: np.ndarray


def _y(z: np.ndarray) -> np.ndarray:
    """``Y(z) = N(z) / n(z) = sqrt(pi/2) erfcx(-z/sqrt(2))``, used for ``z < 0`` (no overflow)."""
    return _SQRT_HALF_PI * erfcx(-_INV_SQRT2 * z)


def _log_vega(h: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``ln(db/ds) = -(h^2 + t^2)/2 - ln sqrt(2 pi)``, the log of the normalised vega."""
    return -0.5 * (h * h + t * t) - _LOG_SQRT_2PI


def _curvature(h, t, s):
    """``(d2b/ds2) / (db/ds) = (h^2 - t^2) / s`` for the normalised Black price."""
    return (h - t) * (h + t) / s


def _lower_objective(x, s, log_beta):
    """``g = ln b(x, s) - ln beta``, ``g'``, ``g''/g'`` and the noise level of ``g``; ``x <= 0``."""
    h = x / s
    t = 0.5 * s
    far = h + t < 0.0
    g = np.empty_like(s)
    dg = np.empty_like(s)
    noise = np.empty_like(s)
    # Far out of the money: ln b = ln vega + ln(Y(h+t) - Y(h-t)) and d ln b / ds = 1 / (Y - Y).
    hf, tf = h[far], t[far]
    y_plus = _y(hf + tf)
    diff = y_plus - _y(hf - tf)
    with np.errstate(divide="ignore"):
        g[far] = _log_vega(hf, tf) + np.log(diff) - log_beta[far]
        dg[far] = 1.0 / diff
        noise[far] = _NOISE * y_plus / diff
    # Otherwise b is not small: evaluate it directly.
    near = ~far
    hn, tn, xn = h[near], t[near], x[near]
    big = np.exp(0.5 * xn) * ndtr(hn + tn)
    b = big - np.exp(-0.5 * xn) * ndtr(hn - tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        g[near] = np.log(b) - log_beta[near]
        dg[near] = np.exp(_log_vega(hn, tn)) / b
        noise[near] = _NOISE * big / b
    # g = ln b: g'' / g' = b''/b' - b'/b.
    return g, dg, _curvature(h, t, s) - dg, noise


def _upper_objective(x, s, log_u_beta):
    """``g = ln(e^{x/2} - beta) - ln(e^{x/2} - b(x, s))``, ``g'``, ``g''/g'``, noise; ``x <= 0``."""
    h = x / s
    t = 0.5 * s
    # e^{x/2} - b = e^{x/2} N(-(h+t)) + e^{-x/2} N(h-t): two positive terms.
    log_u = np.logaddexp(0.5 * x + log_ndtr(-(h + t)), -0.5 * x + log_ndtr(h - t))
    g = log_u_beta - log_u
    dg = np.exp(_log_vega(h, t) - log_u)
    # g = -ln(e^{x/2} - b): g'' / g' = b''/b' + b'/(e^{x/2} - b).
    return g, dg, _curvature(h, t, s) + dg, np.full_like(s, _NOISE)


def _normalised_call(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Normalised Black call ``e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)`` (``s > 0``)."""
    h = x / s
    return np.exp(0.5 * x) * ndtr(h + 0.5 * s) - np.exp(-0.5 * x) * ndtr(h - 0.5 * s)


def _bisect(s: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fallback point inside the bracket ``[lo, hi]`` (``hi`` may be inf, ``lo`` may be 0).

    Geometric midpoint while the bracket spans more than a factor 2 (total vols span decades),
    arithmetic midpoint after; doubling / quartering while one side is still open.
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        wide = hi > 2.0 * lo
        mid = np.where(wide, np.sqrt(lo * hi), 0.5 * (lo + hi))
        return np.where(np.isinf(hi), 2.0 * np.maximum(s, lo), np.where(lo <= 0, 0.25 * hi, mid))


def _solve(x, beta, tol, max_iter):
    """Total vol ``s`` with ``b(x, s) = beta`` for OTM calls: ``x <= 0``, ``0 < beta < e^{x/2}``.

    Returns ``(s, converged)``, 1-D arrays.
    """
    n = x.size
    ax = -x
    s_c = np.sqrt(2.0 * ax)
    with np.errstate(invalid="ignore", divide="ignore"):
        b_c = np.where(s_c > 0, _normalised_call(x, np.where(s_c > 0, s_c, 1.0)), 0.0)
    lower = beta < b_c
    b_max = np.exp(0.5 * x)

    log_target = np.empty(n)
    log_target[lower] = np.log(beta[lower])
    u_beta = b_max[~lower] - beta[~lower]
    log_target[~lower] = np.log(u_beta)

    s = np.empty(n)
    lo = np.where(lower, 0.0, s_c)
    hi = np.where(lower, s_c, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Jäckel's lower map: b ~ (2 pi / sqrt 27) |x| N(-|x| / (sqrt(3) s))^3 for small s.
        f = np.cbrt(beta[lower] / (_LOWER_MAP_SCALE * ax[lower]))
        guess = ax[lower] / (np.sqrt(3.0) * np.abs(ndtri(np.minimum(f, 0.5))))
        guess = np.where(np.isfinite(guess) & (guess > 0), guess, 0.5 * s_c[lower])
        s[lower] = np.minimum(guess, s_c[lower])
        # Upper map: e^{x/2} - b ~ (e^{x/2} + e^{-x/2}) N(-s/2) for large s.
        guess = -2.0 * ndtri(u_beta / (b_max[~lower] + 1.0 / b_max[~lower]))
        guess = np.where(np.isfinite(guess), guess, 2.0 * s_c[~lower] + 1.0)
        s[~lower] = np.maximum(guess, s_c[~lower])
    s = np.where(s > 0, s, np.where(lower, 0.5 * s_c, 1.0))

    converged = np.zeros(n, dtype=bool)
    active = np.arange(n)
    for _ in range(max_iter):
        if active.size == 0:
            break
        x_a, s_a, low, target = x[active], s[active], lower[active], log_target[active]
        g, dg, curv, noise = (np.empty_like(s_a) for _ in range(4))
        g[low], dg[low], curv[low], noise[low] = _lower_objective(x_a[low], s_a[low], target[low])
        up = ~low
        g[up], dg[up], curv[up], noise[up] = _upper_objective(x_a[up], s_a[up], target[up])

        # The objective increases in s: its sign tells which side of the root s_a is on.
        lo_a = np.where(g < 0, s_a, lo[active])
        hi_a = np.where(g > 0, s_a, hi[active])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            newton = -g / dg
            # Halley step newton / (1 + newton (g''/g') / 2); plain Newton if that misbehaves.
            denom = 1.0 + 0.5 * newton * curv
            proposal = s_a + np.where(denom > 0.1, newton / denom, newton)
        usable = np.isfinite(proposal) & (proposal >= lo_a) & (proposal <= hi_a)
        done = (g == 0) | (hi_a - lo_a <= tol * lo_a)
        done |= usable & ((np.abs(proposal - s_a) <= tol * proposal) | (np.abs(g) <= noise))
        s[active] = np.where(g == 0, s_a, np.where(usable, proposal, _bisect(s_a, lo_a, hi_a)))
        lo[active] = lo_a
        hi[active] = hi_a
        converged[active[done]] = True
        active = active[~done]
    return s, converged


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    discount_factor: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> IVResult:
    """Implied Black volatility of European option prices, model-free in forward form.

    Solves ``price = D * Black(F, K, t, sigma)`` for ``sigma`` element-wise (vectorized over all
    options; only the iterations loop in Python).

    Parameters
    ----------
    price : array_like
        Option prices per unit of the underlying (e.g. mid quotes per share).
    forward : array_like
        Forward price of the underlying to expiry: ``S e^{(r-q)t}`` for a stock/index,
        the futures price for a futures option.
    strike : array_like
        Strikes.
    t : array_like
        Time to expiry in years (calendar days / 365, hours / 8760 for 0DTE).
    discount_factor : array_like
        Discount factor to the premium payment/expiry, e.g. ``exp(-rate * t)``.
    is_call : array_like of bool
        True for calls, False for puts.
    tol : float, optional
        Relative tolerance on the volatility (Newton step ``|ds| <= tol * s``), default 1e-12.
        Iteration also stops once the price residual is at double-precision noise.
    max_iter : int, optional
        Maximum number of iterations (each is one vectorized sweep), default 100.

    Returns
    -------
    IVResult
        ``iv`` (float64 decimal annualized vol, NaN where invalid) and ``reason`` (object array,
        ``""`` where valid), both of the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``is_call`` is not boolean. Bad numbers never raise: they are reported per element
        with a reason, so one bad quote cannot break a whole chain.

    Notes
    -----
    Arbitrage bounds (open intervals): a call price must lie in ``(D max(F-K, 0), D F)``, a put in
    ``(D max(K-F, 0), D K)``. Accuracy: the volatility is recovered to about
    ``eps * price / vega`` (``eps`` = 2.2e-16), i.e. to 1e-8 absolute or better wherever the
    price carries that information, including 0DTE (``t`` = 1 hour), ``|ln(K/F)|`` up to 1 and
    vols from 1 % to 300 %. See P. Jäckel, "Let's Be Rational" (2015) for the normalised
    coordinates and asymptotic maps used for the initial guesses.
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    arrays = np.broadcast_arrays(
        *(as_float(a) for a in (price, forward, strike, t, discount_factor)), as_is_call(is_call)
    )
    shape = arrays[0].shape
    price, forward, strike, t, discount, call = (a.ravel() for a in arrays)
    n = price.size

    reason = np.full(n, "", dtype=object)
    iv = np.full(n, np.nan)
    pending = np.ones(n, dtype=bool)

    def flag(mask: np.ndarray, why: str) -> None:
        nonlocal pending
        hit = pending & mask
        reason[hit] = why
        pending &= ~hit

    finite = np.isfinite(price) & np.isfinite(forward) & np.isfinite(strike)
    finite &= np.isfinite(t) & np.isfinite(discount)
    with np.errstate(invalid="ignore"):
        flag(~finite | ~(forward > 0) | ~(strike > 0) | ~(discount > 0), "invalid_input")
        flag(t <= 0, "nonpositive_time")
        flag(price <= 0, "nonpositive_price")
        sign = np.where(call, 1.0, -1.0)
        intrinsic = discount * np.maximum(sign * (forward - strike), 0.0)
        flag(price <= intrinsic, "below_intrinsic")
        flag(price >= discount * np.where(call, forward, strike), "above_upper_bound")

    idx = np.flatnonzero(pending)
    if idx.size:
        f, k = forward[idx], strike[idx]
        x = -np.abs(np.log(f / k))
        beta = (price[idx] - intrinsic[idx]) / (discount[idx] * np.sqrt(f) * np.sqrt(k))
        # Round-off in the normalisation can push a price just inside a bound onto it: a time
        # value that underflows to 0 is indistinguishable from intrinsic value.
        over = beta >= np.exp(0.5 * x)
        under = ~(beta > 0)
        reason[idx[over]] = "above_upper_bound"
        reason[idx[under & ~over]] = "below_intrinsic"
        keep = ~(over | under)
        idx, x, beta = idx[keep], x[keep], beta[keep]
        s, converged = _solve(x, beta, tol, max_iter)
        iv[idx[converged]] = s[converged] / np.sqrt(t[idx[converged]])
        reason[idx[~converged]] = "no_convergence"
    return IVResult(iv=iv.reshape(shape), reason=reason.reshape(shape))
