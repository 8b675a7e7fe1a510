"""Summary, forecast calibration and the PUT-index comparison of a backtest's month table.

Reads the table of :func:`optimizer.studies.backtest.run_backtest` (one row per 21-trading-day
month): returns are fractions of each month's NLV, net of costs; annualized with 252 / 21 = 12
months a year.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.measure import physical
from optimizer.studies.backtest import _QCOLS, MONTH_DAYS, QUANTILES

__all__ = [
    "PUT_PUBLISHED",
    "calibration",
    "put_comparison",
    "put_index_months",
    "summary",
]

#: The Cboe S&P 500 PutWrite index (PUT) as published: Bondarenko (2019), "Historical
#: Performance of Put-Writing Strategies", Cboe, Table 1, 2006-06 .. 2018-12 (annualized
#: return, annualized SD, maximum drawdown; T-bill collateral interest included).
PUT_PUBLISHED = {
    "source": "Bondarenko (2019), Cboe PUT index, 2006-2018",
    "annual_return": 0.0954,
    "annual_sd": 0.0995,
    "max_drawdown": -0.327,
}


# ----------------------------------------------------------------------------- summaries
def _returns(df: pd.DataFrame) -> pd.Series:
    ok = df["error"].isna()
    r = pd.to_numeric(df["income_realized"], errors="coerce") / pd.to_numeric(df["nlv"])
    return r[ok]


def _stats(r: pd.Series, equity: np.ndarray | None = None) -> dict[str, float]:
    """Annualized arithmetic and geometric return, SD, max drawdown of monthly returns ``r``."""
    r = pd.Series(r, dtype=float).dropna()
    n = len(r)
    if n == 0:
        return {"months": 0}
    per_year = 252.0 / MONTH_DAYS
    growth = np.cumprod(1.0 + r.to_numpy())
    wealth = np.concatenate([[1.0], growth])
    dd = float((wealth / np.maximum.accumulate(wealth) - 1.0).min())
    geo = float(growth[-1] ** (per_year / n) - 1.0) if growth[-1] > 0 else -1.0
    return {
        "months": n,
        "annual_return": float(r.mean() * per_year),
        "annual_return_compounded": geo,
        "monthly_sd": float(r.std(ddof=1)) if n > 1 else 0.0,
        "annual_sd": float(r.std(ddof=1) * math.sqrt(per_year)) if n > 1 else 0.0,
        "max_drawdown_compounded": dd,
        "share_positive": float((r > 0).mean()),
    }


def _vix_regime(v: float) -> str:
    for hi, name in ((15, "VIX < 15"), (20, "15-20"), (30, "20-30")):
        if v < hi:
            return name
    return "VIX >= 30"


def summary(df: pd.DataFrame, target: float) -> dict[str, Any]:
    """Headline figures of a month table (net of costs, on each month's NLV).

    ``annual_return`` is the mean monthly return x 12 (252 / 21 months a year);
    ``annual_return_compounded`` the geometric rate; ``max_drawdown`` is from the table's equity
    curve (``drawdown``: fixed NLV, money not reinvested), ``max_drawdown_compounded`` from the
    compounded monthly returns. By year (calendar year of the month's start) and by VIX regime at
    the month's start: months, income, return, months at target.
    """
    ok = df[df["error"].isna()].copy()
    r = _returns(df)
    out: dict[str, Any] = {"months": int(len(df)), "failed": int(df["error"].notna().sum())}
    out.update(_stats(r))
    inc = pd.to_numeric(ok["income_realized"], errors="coerce")
    out["max_drawdown"] = float(pd.to_numeric(df["drawdown"], errors="coerce").min())
    if len(ok):
        w = int(inc.to_numpy().argmin())
        out["worst_month"] = {
            "month": ok["month"].iloc[w],
            "income": float(inc.iloc[w]),
            "return": float(inc.iloc[w] / ok["nlv"].iloc[w]),
            "vix": float(ok["vix"].iloc[w]),
        }
        out["mean_monthly_income"] = float(inc.mean())
        out["months_at_target"] = float((inc >= target).mean())
        out["months_with_a_book"] = float((ok["contracts"] > 0).mean())
        out["total_costs"] = float(pd.to_numeric(ok["costs"]).sum())
    ok["ret"] = inc / ok["nlv"]
    ok["hit"] = inc >= target
    ok["year"] = pd.to_datetime(ok["month"]).dt.year
    ok["regime"] = ok["vix"].map(_vix_regime)

    def table(key):
        g = ok.groupby(key, sort=True)
        return [
            {
                key: k,
                "months": int(len(v)),
                "income": float(v["income_realized"].sum()),
                "mean_return": float(v["ret"].mean()),
                "months_at_target": int(v["hit"].sum()),
                "worst_month_income": float(v["income_realized"].min()),
            }
            for k, v in g
        ]

    out["by_year"] = table("year")
    out["by_vix_regime"] = table("regime")
    return out


def calibration(df: pd.DataFrame) -> dict[str, Any]:
    """How well each month's forecast described the realized month.

    On the months with a non-empty book and a forecast: coverage of the forecast quantiles
    (share of realized months at or below each, against the level), the PIT values'
    uniformity — Kolmogorov-Smirnov against U(0, 1) (``scipy.stats.kstest``) and a chi-square
    over 10 equal bins — with the 5% critical KS distance ``1.358 / sqrt(N)`` as the test's
    resolution, the lag-1 autocorrelation of the PIT, and the Brier score of P(month ≥ target)
    (mean of ``(p - hit)^2``) beside the mean forecast probability and the realized frequency.

    The tests treat the months as independent: the months' P&L do not overlap (consecutive
    21-day months), but their risk does (a month's open trades were opened in the month before,
    volatility clusters), so the effective number of months is below N and the p-values are
    optimistic; the lag-1 autocorrelation says how much.
    """
    from scipy import stats

    ok = df[df["error"].isna() & df["pit"].notna()]
    n = int(len(ok))
    out: dict[str, Any] = {"months": n}
    if n == 0:
        out["note"] = "no month with a book: nothing to check"
        return out
    real = pd.to_numeric(ok["income_realized"]).to_numpy()
    cover = []
    for q, c in zip(QUANTILES, _QCOLS, strict=True):
        hit = real <= pd.to_numeric(ok[c]).to_numpy()
        k = int(hit.sum())
        lo, hi = stats.binomtest(k, n, q).proportion_ci(0.95) if n else (0, 0)
        p = float(stats.binomtest(k, n, q).pvalue)
        cover.append(
            {"level": q, "observed": k / n, "months": k, "binomial_p": p, "ci95": [lo, hi]}
        )
    out["coverage"] = cover
    pit = pd.to_numeric(ok["pit"]).to_numpy()
    ks = stats.kstest(pit, "uniform")
    counts = np.histogram(pit, bins=10, range=(0.0, 1.0))[0]
    chi = stats.chisquare(counts)
    out["pit"] = {
        "mean": float(pit.mean()),
        "sd": float(pit.std(ddof=1)) if n > 1 else 0.0,
        "uniform_sd": 1.0 / math.sqrt(12.0),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_critical_5pct": 1.358 / math.sqrt(n),
        "chi2_statistic": float(chi.statistic),
        "chi2_pvalue": float(chi.pvalue),
        "bins": counts.tolist(),
        "lag1_autocorrelation": float(np.corrcoef(pit[:-1], pit[1:])[0, 1]) if n > 2 else None,
    }
    p = pd.to_numeric(ok["p_target"]).to_numpy()
    hit = ok["target_hit"].astype(bool).to_numpy()
    out["target"] = {
        "mean_forecast_probability": float(p.mean()),
        "realized_frequency": float(hit.mean()),
        "brier_score": float(np.mean((p - hit) ** 2)),
        "brier_score_climatology": float(np.mean((hit.mean() - hit) ** 2)),
    }
    return out


# ----------------------------------------------------------------------------- PUT index
def put_index_months(history: physical.FilteredHistory, months, *, days: int = 30) -> pd.DataFrame:
    """A monthly at-the-money cash-secured put on the S&P 500, on the backtest's months.

    The Cboe PUT index construction (sell a one-month ATM put, collateral = strike, hold to
    expiry, roll) on the same months and the same IV rule as the replay of
    :mod:`models.measure.replay` (:func:`~models.measure.replay.replay_hold_to_expiry`: the
    shipped SPX smile of 2026-01-30 at the put's moneyness, moved by the square-root-of-time
    rule to each day's VIX; Black-Scholes with forward = spot, rate 0; settled at intrinsic
    value after 21 trading days). The month's return on collateral is the replay's P&L per unit
    of strike. No T-bill interest on the collateral (no rate history is shipped) and no costs:
    the published PUT figures include the T-bill interest (about 1%/year over 2006-2018).

    Parameters
    ----------
    history : FilteredHistory
        The path history (its closes are recovered from its returns' dates via the index file).
    months : list
        :func:`month_starts` output.
    days : int
        Calendar days to expiry (30: 21 trading days).

    Returns
    -------
    pandas.DataFrame
        ``month``, ``vix``, ``credit``, ``return`` (fraction of collateral).
    """
    from models.measure.replay import (
        FixedLeg,
        FixedStructure,
        chain_smile,
        replay_hold_to_expiry,
    )

    structure = FixedStructure("put_index", "short_put", days, (FixedLeg("P", 1.0, -1),))
    surface = _reference_surface()
    _, ivs = chain_smile(surface, structure)
    dates = history.dates
    lr = pd.Series(history.z * history.sigma, index=dates)
    close = np.exp(lr.cumsum())
    vix = pd.Series(history.vix, index=dates)[history.filter_kind == "vix"]
    lo, hi = months[0][0], months[-1][2]
    rep = replay_hold_to_expiry(structure, close, vix, ivs, start=lo, end=hi)
    t = rep.trades
    sel = [d for d, _, _ in months if d in t.index]
    out = t.loc[sel, ["vix", "credit", "pnl"]].rename(columns={"pnl": "return"})
    out.insert(0, "month", [d.date().isoformat() for d in sel])
    return out.reset_index(drop=True)


@lru_cache(maxsize=1)
def _reference_surface():
    from models.market.chain.loaders import load_chain
    from models.measure.replay import REFERENCE_SPOT, REFERENCE_TIME

    path = Path(__file__).resolve().parents[2] / "scenarios/data/spx_yahoo_chain_2026-01-30.csv.gz"
    chain = load_chain(path, "yfinance", spot=REFERENCE_SPOT, valuation_time=REFERENCE_TIME)
    return chain.surface()


def put_comparison(history, months, nlv_df: pd.DataFrame | None = None) -> dict[str, Any]:
    """PUT-construction statistics on the backtest's window and on 2006-06 .. 2018-12, beside
    :data:`PUT_PUBLISHED`."""
    put = put_index_months(history, months)
    r = put.set_index(pd.to_datetime(put["month"]))["return"]
    window = r[(r.index >= "2006-06-01") & (r.index <= "2018-12-31")]
    return {
        "construction": (
            "monthly ATM 30-day SPX put, cash-secured, held to expiry (replay IV rule, no "
            "T-bill interest, no costs)"
        ),
        "backtest_window": _stats(r),
        "2006_2018": _stats(window),
        "published": PUT_PUBLISHED,
        "months": put,
    }
