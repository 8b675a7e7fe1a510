"""Figures of a backtest (:mod:`optimizer.studies.backtest`): equity and drawdown, PIT histogram,
reliability of the forecast quantiles and of P(month ≥ target).

Each function draws on its own Agg figure, returns it and, given ``path``, saves it. Money in the
account currency (``ccy``); months are the backtest's 21-trading-day months.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from optimizer.plots._base import _TARGET_COLOR, _figure, _finish, _money_axis, _unit

__all__ = ["equity_drawdown", "pit_histogram", "reliability"]


def equity_drawdown(
    df: pd.DataFrame,
    put: pd.DataFrame | None = None,
    *,
    ccy: str = "",
    title: str = "",
    path: str | Path | None = None,
) -> Figure:
    """Equity curve (NLV of the first month plus cumulated realized income) and drawdown.

    Parameters
    ----------
    df : pandas.DataFrame
        The month table (``month``, ``nlv``, ``income_realized``, ``drawdown``).
    put : pandas.DataFrame | None
        :func:`optimizer.studies.backtest.put_index_months` (``month``, ``return``): drawn as the
        same NLV in a monthly cash-secured ATM put, money not reinvested.
    ccy, title, path
        Currency label, title, file to save to.
    """
    fig = _figure(9.0, 5.5)
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1.0))
    when = pd.to_datetime(df["month_end"].fillna(df["month"]))
    inc = pd.to_numeric(df["income_realized"], errors="coerce").fillna(0.0)
    nlv0 = float(df["nlv"].iloc[0])
    ax.plot(when, nlv0 + inc.cumsum(), color="#4c72b0", lw=1.4, label="plan (net of costs)")
    if put is not None and len(put):
        pw = pd.to_datetime(put["month"])
        ax.plot(
            pw,
            nlv0 * (1.0 + put["return"].cumsum()),
            color="#8c8c8c",
            lw=1.0,
            label="monthly ATM cash-secured put (PUT construction, no interest)",
        )
    ax.axhline(nlv0, color="black", lw=0.6)
    _money_axis(ax.yaxis)
    ax.set_ylabel(f"equity{_unit(ccy)}")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "Backtest: equity at a fixed NLV")
    dd = pd.to_numeric(df["drawdown"], errors="coerce").fillna(0.0)
    ax2.fill_between(when, dd, 0.0, color=_TARGET_COLOR, alpha=0.5, lw=0)
    ax2.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax2.set_ylabel("drawdown (% of peak)")
    ax2.set_xlabel("month end")
    return _finish(fig, path)


def pit_histogram(
    pit: np.ndarray, *, ks_pvalue: float | None = None, path: str | Path | None = None
) -> Figure:
    """Histogram of the realized months' PIT values (10 bins) against the uniform density.

    A calibrated forecast gives a flat histogram; a U shape says the forecast was too narrow,
    a hump too wide, a slope a biased mean.
    """
    pit = np.asarray(pit, dtype=float)
    pit = pit[np.isfinite(pit)]
    fig = _figure(6.0, 3.8)
    ax = fig.subplots()
    n = pit.size
    ax.hist(pit, bins=10, range=(0.0, 1.0), color="#4c72b0", edgecolor="white")
    if n:
        ax.axhline(n / 10.0, color="black", lw=1.0, ls="--", label="uniform (calibrated)")
        half = 1.96 * np.sqrt(n * 0.1 * 0.9)
        ax.axhspan(n / 10.0 - half, n / 10.0 + half, color="#8c8c8c", alpha=0.2, label="±1.96 SD")
        ax.legend(fontsize=8)
    ax.set_xlabel("PIT of the realized month under its forecast")
    ax.set_ylabel("months")
    note = f", KS p = {ks_pvalue:.3g}" if ks_pvalue is not None else ""
    ax.set_title(f"PIT of {n} realized months{note}")
    return _finish(fig, path)


def reliability(calib: dict, df: pd.DataFrame, *, path: str | Path | None = None) -> Figure:
    """Reliability: observed share of months at or below each forecast quantile against its
    level (with 95% binomial intervals), and realized frequency of P(month ≥ target) by forecast
    bin."""
    fig = _figure(9.0, 4.0)
    ax, ax2 = fig.subplots(1, 2)
    cov = calib.get("coverage", [])
    if cov:
        lv = np.array([c["level"] for c in cov])
        ob = np.array([c["observed"] for c in cov])
        lo = np.array([c["ci95"][0] for c in cov])
        hi = np.array([c["ci95"][1] for c in cov])
        ax.errorbar(lv, ob, yerr=[ob - lo, hi - ob], fmt="o", color="#4c72b0", capsize=3)
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("forecast quantile level")
    ax.set_ylabel("realized months at or below it")
    ax.set_title("Quantile coverage")
    ok = df[df["error"].isna() & df["pit"].notna()]
    p = pd.to_numeric(ok["p_target"], errors="coerce").to_numpy()
    hit = ok["target_hit"].astype(bool).to_numpy()
    if p.size:
        edges = np.linspace(0.0, 1.0, 11)
        b = np.clip(np.digitize(p, edges) - 1, 0, 9)
        xs, ys, ns = [], [], []
        for k in range(10):
            m = b == k
            if m.any():
                xs.append(p[m].mean())
                ys.append(hit[m].mean())
                ns.append(int(m.sum()))
        ax2.scatter(xs, ys, s=[20 + 3 * n for n in ns], color="#4c72b0")
        for x, y, n in zip(xs, ys, ns, strict=True):
            ax2.annotate(f"{n}", (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax2.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax2.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax2.set_xlabel("forecast P(month ≥ target)")
    ax2.set_ylabel("realized share of months at target")
    ax2.set_title("P(month ≥ target): months per bin")
    return _finish(fig, path)
