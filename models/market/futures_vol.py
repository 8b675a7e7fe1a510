"""Conditional volatility of the futures underlyings: GARCH(1,1) with Student-t innovations.

Each futures product (CL/MCL crude, GC/MGC gold, ZB Treasury bond, 6E euro) has its own
GARCH(1,1) (Bollerslev 1986, "Generalized autoregressive conditional heteroskedasticity",
J. Econometrics 31(3)) with Student-t innovations (Bollerslev 1987, REStat 69(3)) for its daily
log return ``r_t``::

    r_t = sqrt(h_t) eps_t,    h_{t+1} = omega + alpha r_t^2 + beta h_t

``h_t`` is the variance of day ``t`` known at the close of day ``t - 1`` (decimal per trading day);
the long-run variance is ``omega / (1 - alpha - beta)``. Parameters per underlying are in
``models/data/futures_vol.csv`` with their source (:func:`load_params`):

* crude (CL, MCL): fitted here (:func:`fit_garch_t`, the ``arch`` package, zero mean, on
  ``100 x`` the WTI spot daily log returns 1986-01-03 .. 2019-01-03, FRED DCOILWTICO shipped in
  ``scenarios/data``): omega 4.97e-6, alpha 0.0650, beta 0.9277, nu 6.13 — persistence 0.9927,
  long-run vol 41.4%, half-life 94 trading days;
* gold, Treasury bond, euro: no permissively licensed daily history is shipped (the
  ODC-PDDL ``datasets/gold-prices`` package is monthly; daily LBMA fixes are ICE/LBMA-licensed).
  Stated assumptions: alpha 0.06 = 1 - 0.94, the RiskMetrics daily decay factor estimated
  across asset classes (J.P. Morgan/Reuters, RiskMetrics Technical Document, 4th ed. 1996,
  §5.3.2 — an IGARCH(1,1) with alpha 0.06), made mean-reverting with beta 0.93 (persistence
  0.99, half-life 69 trading days, close to crude's fitted 0.993); nu 6 (crude's fitted 6.1);
  long-run vols gold 17%, ZB 10%, 6E 8% (assumptions of the order of the long-run realized
  vols). Their IV history is not shipped either; see the csv's ``source`` column.

Implied vol follows the conditional vol: the ATM IV at the close of day ``t`` is
``iv_t = ratio sqrt(252 h_{t+1})`` (:func:`implied_vol`) with ``ratio`` the implied/realized
vol ratio (csv column ``iv_rv_ratio``). No futures IV history is shipped, so the ratio is a
stated assumption: 1 / 0.861 = 1.161, the S&P 500's measured realized/implied ratio
(:func:`models.income.measure_vol_ratio`, 21-day windows 1990-2023) transferred to the futures
(``benchmarks/strangle_replay.py`` shows the sensitivity to ratio 1). A path started from
today's ATM IV starts at ``h = (atm_iv / ratio)^2 / 252`` (:func:`start_variance`), so its IV
shift at day 0 is 0.

Simulation (:func:`simulate_garch`): the recursion above on ``(P, D)`` unit-variance
innovations the caller supplies — resampled standardized residuals of the underlying's own
fitted model (filtered historical simulation, crude), or a mix with the S&P 500's standardized
move of the same historical day for the co-movement (:mod:`optimizer.inputs.income_model`).

Units: daily log returns and variances in decimals (per trading day); vols annualized with
``sqrt(252)`` unless said; ``omega`` in decimal^2 (the ``arch`` fit's ``omega`` / 1e4).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "PRODUCTS",
    "GarchParams",
    "fit_garch_t",
    "garch_filter",
    "implied_vol",
    "load_params",
    "params_for",
    "simulate_garch",
    "start_variance",
    "t_innovations",
]

TRADING_DAYS_PER_YEAR = 252.0
DATA_FILE = "futures_vol.csv"

#: Futures product -> underlying row of ``futures_vol.csv``.
PRODUCTS: dict[str, str] = {
    "CL": "crude",
    "MCL": "crude",
    "GC": "gold",
    "MGC": "gold",
    "ZB": "treasury_bond",
    "6E": "eurusd",
    "M6E": "eurusd",
}

_H_MAX = 4.0**2 / TRADING_DAYS_PER_YEAR
"""Cap of a simulated daily variance: 400% annualized (WTI's largest filtered vol is ~190%)."""


@dataclass(frozen=True)
class GarchParams:
    """GARCH(1,1)-t parameters of one underlying (one row of ``futures_vol.csv``).

    Parameters
    ----------
    underlying : str
        Row key (``crude``, ``gold``, ``treasury_bond``, ``eurusd``).
    omega : float
        Variance intercept, decimal^2 per trading day.
    alpha, beta : float
        ARCH and GARCH coefficients (``alpha + beta < 1``).
    nu : float
        Student-t degrees of freedom (> 2) of the innovations.
    iv_rv_ratio : float
        Implied / realized vol ratio: ATM IV = ratio x conditional vol.
    start, end : str
        Fit window (ISO dates), empty for stated parameters.
    n : int
        Returns in the fit (0 for stated parameters).
    fitted : bool
        True when fitted here on shipped data.
    source : str
        Where the numbers come from.
    """

    underlying: str
    omega: float
    alpha: float
    beta: float
    nu: float
    iv_rv_ratio: float
    start: str = ""
    end: str = ""
    n: int = 0
    fitted: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if not (self.omega > 0 and self.alpha >= 0 and self.beta >= 0):
            raise ValueError(f"{self.underlying}: omega must be > 0, alpha and beta >= 0")
        if not self.alpha + self.beta < 1:
            raise ValueError(f"{self.underlying}: alpha + beta must be < 1 (stationary)")
        if not (self.nu > 2 and self.iv_rv_ratio > 0):
            raise ValueError(f"{self.underlying}: nu must be > 2 and iv_rv_ratio > 0")

    @property
    def persistence(self) -> float:
        """``alpha + beta``."""
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        """``omega / (1 - alpha - beta)``, decimal^2 per trading day."""
        return self.omega / (1.0 - self.persistence)

    @property
    def long_run_vol(self) -> float:
        """Annualized unconditional vol, ``sqrt(252 x long-run variance)`` (decimal)."""
        return math.sqrt(TRADING_DAYS_PER_YEAR * self.long_run_variance)

    @property
    def half_life(self) -> float:
        """Trading days for a variance shock to halve, ``ln 0.5 / ln(alpha + beta)``."""
        return math.log(0.5) / math.log(self.persistence)

    def describe(self) -> str:
        """One line: the parameters and their source."""
        window = f" on {self.start}..{self.end} ({self.n:,} returns)" if self.fitted else ""
        return (
            f"GARCH(1,1)-t {self.underlying}{window}: omega {self.omega:.3g}, alpha "
            f"{self.alpha:.4f}, beta {self.beta:.4f}, nu {self.nu:.2f} (long-run vol "
            f"{self.long_run_vol:.1%}, half-life {self.half_life:.0f} days), IV = "
            f"{self.iv_rv_ratio:.3f} x conditional vol"
        )


def _row(d: dict[str, str]) -> GarchParams:
    return GarchParams(
        underlying=d["underlying"],
        omega=float(d["omega"]),
        alpha=float(d["alpha"]),
        beta=float(d["beta"]),
        nu=float(d["nu"]),
        iv_rv_ratio=float(d["iv_rv_ratio"]),
        start=d["start"],
        end=d["end"],
        n=int(d["n"] or 0),
        fitted=d["fitted"].strip().lower() == "true",
        source=d["source"],
    )


@lru_cache(maxsize=1)
def load_params() -> dict[str, GarchParams]:
    """The rows of ``models/data/futures_vol.csv`` by underlying (read once).

    Returns
    -------
    dict[str, GarchParams]
        Keyed by ``underlying``; the csv's ``long_run_vol`` column is checked against
        ``omega / (1 - alpha - beta)`` (within 0.1 vol point).
    """
    text = (resources.files("models") / "data" / DATA_FILE).read_text(encoding="utf-8")
    out = {}
    for d in csv.DictReader(io.StringIO(text)):
        p = _row(d)
        if abs(p.long_run_vol - float(d["long_run_vol"])) > 1e-3:
            raise ValueError(f"{DATA_FILE}: {p.underlying} long_run_vol disagrees with omega")
        out[p.underlying] = p
    return out


def params_for(product: str) -> GarchParams | None:
    """GARCH parameters of a futures product (``PRODUCTS``), or None when it has none."""
    key = PRODUCTS.get(product)
    return None if key is None else load_params().get(key)


def fit_garch_t(
    returns: pd.Series, underlying: str, iv_rv_ratio: float, source: str = ""
) -> tuple[GarchParams, pd.DataFrame]:
    """Fit GARCH(1,1) with Student-t innovations to daily log returns with ``arch``.

    ``arch.arch_model(100 r, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)``,
    maximum likelihood (``fit(disp="off")``; arch's backcast initialises the variance).

    Parameters
    ----------
    returns : pd.Series
        Daily log returns (decimal) in date order; NaNs dropped.
    underlying : str
        Row key.
    iv_rv_ratio : float
        Implied / realized ratio stored with the fit.
    source : str
        Source text stored with the fit.

    Returns
    -------
    tuple[GarchParams, pd.DataFrame]
        The parameters (``omega`` converted to decimal^2) and, indexed like the returns,
        ``sigma`` (conditional daily vol of each day, decimal) and ``z`` (standardized
        residual ``r / sigma``).
    """
    from arch import arch_model

    r = pd.Series(returns, dtype=float).dropna().sort_index()
    res = arch_model(100.0 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
        disp="off"
    )
    p = res.params
    params = GarchParams(
        underlying=underlying,
        omega=float(p["omega"]) / 1e4,
        alpha=float(p["alpha[1]"]),
        beta=float(p["beta[1]"]),
        nu=float(p["nu"]),
        iv_rv_ratio=float(iv_rv_ratio),
        start=r.index[0].date().isoformat(),
        end=r.index[-1].date().isoformat(),
        n=int(r.size),
        fitted=True,
        source=source,
    )
    sigma = np.asarray(res.conditional_volatility, dtype=float) / 100.0
    return params, pd.DataFrame({"sigma": sigma, "z": r.to_numpy() / sigma}, index=r.index)


def garch_filter(returns: pd.Series, params: GarchParams, h0: float | None = None) -> pd.DataFrame:
    """Run the GARCH recursion over a return history with given parameters.

    ``h_1 = h0`` (default the mean square of the first 75 returns, a backcast like ``arch``'s),
    ``h_{t+1} = omega + alpha r_t^2 + beta h_t``.

    Parameters
    ----------
    returns : pd.Series
        Daily log returns (decimal), date order.
    params : GarchParams
    h0 : float | None
        Variance of the first day.

    Returns
    -------
    pd.DataFrame
        Indexed like ``returns``: ``sigma`` (vol of the day, known the day before), ``z``
        (``r / sigma``) and ``sigma_next`` (vol of the next day, known at this close), decimal.
    """
    r = pd.Series(returns, dtype=float).dropna().sort_index()
    x = r.to_numpy()
    h = np.empty(x.size + 1)
    h[0] = float(np.mean(x[:75] ** 2)) if h0 is None else float(h0)
    a, b, w = params.alpha, params.beta, params.omega
    for t in range(x.size):
        h[t + 1] = w + a * x[t] * x[t] + b * h[t]
    s = np.sqrt(h)
    return pd.DataFrame({"sigma": s[:-1], "z": x / s[:-1], "sigma_next": s[1:]}, index=r.index)


def implied_vol(h: np.ndarray, params: GarchParams) -> np.ndarray:
    """ATM implied vol of a conditional daily variance: ``ratio sqrt(252 h)`` (decimal)."""
    return params.iv_rv_ratio * np.sqrt(TRADING_DAYS_PER_YEAR * np.asarray(h, dtype=float))


def start_variance(atm_iv, params: GarchParams) -> np.ndarray | float:
    """Daily variance consistent with an ATM IV: ``(atm_iv / ratio)^2 / 252``."""
    v = (np.asarray(atm_iv, dtype=float) / params.iv_rv_ratio) ** 2 / TRADING_DAYS_PER_YEAR
    return float(v) if np.ndim(v) == 0 else v


def t_innovations(g: np.random.Generator, nu: float, shape) -> np.ndarray:
    """Student-t draws with ``nu`` degrees of freedom scaled to unit variance."""
    return g.standard_t(nu, size=shape) * math.sqrt((nu - 2.0) / nu)


def simulate_garch(
    params: GarchParams, h0, eps: np.ndarray, *, martingale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) paths driven by given unit-variance innovations.

    ``u_t = sqrt(h_t) eps_t``, ``h_{t+1} = min(omega + alpha u_t^2 + beta h_t, 4^2 / 252)``;
    the log return is ``u_t - h_t / 2`` (``martingale``: ``E[exp(r_t) | h_t] = 1`` for Gaussian
    ``eps``, no drift) or ``u_t``.

    Parameters
    ----------
    params : GarchParams
    h0 : float | np.ndarray
        Variance of day 1 (decimal^2), a number or ``(P,)``.
    eps : np.ndarray
        ``(P, D)`` innovations, unit variance.
    martingale : bool
        Subtract ``h_t / 2`` from each day's log return.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``log_return`` ``(P, D)`` and ``h`` ``(P, D + 1)``: ``h[:, t]`` is the variance of day
        ``t + 1`` known at the close of day ``t``.
    """
    eps = np.asarray(eps, dtype=float)
    p, d = eps.shape
    h = np.empty((p, d + 1))
    h[:, 0] = np.broadcast_to(np.asarray(h0, dtype=float), (p,))
    u = np.empty((p, d))
    a, b, w = params.alpha, params.beta, params.omega
    for t in range(d):
        u[:, t] = np.sqrt(h[:, t]) * eps[:, t]
        np.minimum(w + a * u[:, t] ** 2 + b * h[:, t], _H_MAX, out=h[:, t + 1])
    r = u - 0.5 * h[:, :-1] if martingale else u
    return r, h
