"""Figures of verdicts: phase achievement bars, income against account size, the efficient frontier, the monthly P&L histogram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter, PercentFormatter

from optimizer.plots._base import (
    _TARGET_COLOR,
    STATUS_COLORS,
    _figure,
    _finish,
    _money_axis,
    _unit,
)


def phase_bars(
    table: pd.DataFrame,
    *,
    ccy: str = "",
    title: str = "Max achievable monthly income as a share of each target",
    path: str | Path | None = None,
) -> Figure:
    """Achievement per phase (max expected monthly income / target) as bars, with the 100% line.

    Parameters
    ----------
    table : pd.DataFrame
        One row per phase (case), in display order, with columns ``case`` (str),
        ``achievement`` (float, fraction of the target; NaN when unknown or unbounded) and
        optionally ``status`` (``FEASIBLE`` / ``INFEASIBLE`` / ``UNKNOWN``: the bar colour),
        ``max_income`` and ``target`` (account currency per month: printed above each bar) and
        ``chosen_achievement`` (fraction: a black tick for the book the objective chose).
    ccy : str
        Account currency, for the labels.
    title : str
        Figure title.
    path : str | Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(table)
    fig = _figure(max(6.0, 1.6 * n + 2.0), 4.8)
    ax = fig.subplots()
    x = np.arange(n)
    ach = pd.to_numeric(table["achievement"], errors="coerce").to_numpy(dtype=float)
    status = table["status"].astype(str).tolist() if "status" in table else ["UNKNOWN"] * n
    colors = [STATUS_COLORS.get(s, STATUS_COLORS["UNKNOWN"]) for s in status]
    # the axis shows up to 3× the target; a bar beyond is cut at the top and says so
    top = max(1.25, min(float(np.nanmax(ach, initial=0.0)), 3.0) * 1.25)
    heights = np.clip(np.where(np.isfinite(ach), ach, 0.0), 0.0, top)
    ax.bar(x, heights, color=colors, width=0.6, zorder=2)
    ax.set_ylim(0.0, top)
    ax.axhline(1.0, color=_TARGET_COLOR, ls="--", lw=1.5, zorder=3)
    if "chosen_achievement" in table:
        chosen = pd.to_numeric(table["chosen_achievement"], errors="coerce").to_numpy(float)
        ok = np.isfinite(chosen) & (chosen <= top)
        ax.scatter(x[ok], chosen[ok], marker="_", s=600, color="black", zorder=4)
    for i in range(n):
        if not np.isfinite(ach[i]):
            label = "n/a"
        else:
            label = f"{ach[i]:,.1%}"
            if "max_income" in table and "target" in table:
                label += (
                    f"\n{float(table['max_income'].iloc[i]):,.0f} of "
                    f"{float(table['target'].iloc[i]):,.0f}"
                )
        cut = np.isfinite(ach[i]) and ach[i] > top
        if cut:
            label = "▲ " + label
        ax.annotate(
            label,
            (x[i], heights[i]),
            xytext=(0, -4 if cut else 4),
            textcoords="offset points",
            ha="center",
            va="top" if cut else "bottom",
            fontsize=9,
            zorder=5,
        )
    ax.set_xticks(x, [str(c) for c in table["case"]], fontsize=9)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("max expected monthly income / target")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    handles = [Patch(color=STATUS_COLORS[s], label=s) for s in STATUS_COLORS if s in status]
    handles.append(Line2D([], [], color=_TARGET_COLOR, ls="--", label="target (100%)"))
    if "chosen_achievement" in table:
        handles.append(Line2D([], [], color="black", marker="_", ls="", ms=14, label="chosen book"))
    if "max_income" in table:
        handles.append(Patch(color="none", label=f"labels: max income of target{_unit(ccy)}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return _finish(fig, path)


def income_vs_nlv(
    curve: pd.DataFrame,
    target: float | Mapping[str, float],
    *,
    ccy: str = "",
    current: Mapping[str, float] | None = None,
    min_nlv: Mapping[str, float] | None = None,
    title: str = "Max expected monthly income vs account size (each point an exact MILP)",
    path: str | Path | None = None,
) -> Figure:
    """Max expected monthly income against the net liquidation value, as a step curve per case.

    Parameters
    ----------
    curve : pd.DataFrame
        Columns ``nlv`` and ``max_income`` (account currency; NaN where unbounded or unsolved),
        and ``case`` when there are several curves (one per case, drawn in file order).
    target : float or mapping
        Monthly income target (account currency), one for all or per case name: a dashed line
        in the curve's colour.
    ccy : str
        Account currency, for the labels.
    current : mapping, optional
        Case name → the case's own NLV, marked with a ring on its curve.
    min_nlv : mapping, optional
        Case name → the minimum NLV found for its target (``verdict.min_nlv``), marked with a
        dotted vertical line and its value. A curve spanning more than 20× in NLV is drawn on a
        logarithmic NLV axis.
    title : str
        Figure title.
    path : str | Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The max-income MILP is solved at discrete account sizes only; the curve is drawn as steps
    that hold each solved value until the next account size (``steps-post``), markers at the
    solved points. When the targets are more than 3× the highest income, a second panel
    zooms on the curves.
    """
    cases = list(dict.fromkeys(curve["case"])) if "case" in curve else [None]
    parts = []
    for i, case in enumerate(cases):
        part = (curve if case is None else curve[curve["case"] == case]).sort_values("nlv")
        tgt = target.get(case) if isinstance(target, Mapping) else target
        parts.append((case, f"C{i % 10}", part, tgt))
    top_income = float(np.nanmax(pd.to_numeric(curve["max_income"], errors="coerce"), initial=0))
    top_target = max((float(t) for *_, t in parts if t is not None), default=0.0)
    # targets far above every curve flatten the curves: add a panel zoomed on the curves
    zoom = top_target > 3.0 * max(top_income, 1e-9) and top_income > 0
    fig = _figure(8.5, 8.0 if zoom else 5.0)
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.3]) if zoom else [fig.subplots()]
    for k, ax in enumerate(axes):
        for case, color, part, tgt in parts:
            nlv = part["nlv"].to_numpy(dtype=float)
            inc = pd.to_numeric(part["max_income"], errors="coerce").to_numpy(dtype=float)
            label = str(case) if case is not None else "max expected income"
            ax.plot(nlv, inc, drawstyle="steps-post", color=color, lw=1.8, label=label)
            ax.plot(nlv, inc, "o", color=color, ms=4)
            if tgt is not None and k == 0:
                ax.hlines(tgt, nlv.min(), nlv.max(), colors=color, linestyles="--", lw=1.2)
                ax.annotate(
                    f"target {tgt:,.0f}",
                    (nlv.max(), tgt),
                    xytext=(-2, 3),
                    textcoords="offset points",
                    ha="right",
                    color=color,
                    fontsize=8,
                )
            if min_nlv is not None and case in min_nlv and k == 0:
                at = float(min_nlv[case])
                ax.axvline(at, color=color, ls=":", lw=1.2)
                ax.annotate(
                    f"min NLV {at:,.0f}",
                    (at, tgt if tgt is not None else 0.0),
                    xytext=(-4, -12),
                    textcoords="offset points",
                    ha="right",
                    color=color,
                    fontsize=8,
                )
            if current is not None and case in current and nlv.size:
                at = float(current[case])
                y = float(np.interp(at, nlv, np.nan_to_num(inc)))
                ax.plot([at], [y], "o", ms=10, mfc="none", mec=color, mew=1.5)
        _money_axis(ax.xaxis)
        _money_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        ax.set_ylabel(f"max expected monthly income{_unit(ccy)}")
    axes[0].set_ylim(bottom=min(0.0, axes[0].get_ylim()[0]))
    sizes = pd.to_numeric(curve["nlv"], errors="coerce").to_numpy(dtype=float)
    if sizes.size and np.nanmin(sizes) > 0 and np.nanmax(sizes) / np.nanmin(sizes) > 20:
        for ax in axes:
            ax.set_xscale("log")
            _money_axis(ax.xaxis)
            ax.xaxis.set_minor_formatter(NullFormatter())
    if zoom:
        axes[1].set_ylim(min(0.0, axes[1].get_ylim()[0]), top_income * 1.12)
        axes[1].set_title("zoom on the curves (targets above)", fontsize=9)
    axes[-1].set_xlabel(f"net liquidation value{_unit(ccy)}")
    axes[0].set_title(title)
    handles, _ = axes[0].get_legend_handles_labels()
    handles += [
        Line2D([], [], color="gray", ls="--", label="target (dashed, same colour)"),
        Line2D([], [], color="gray", marker="o", mfc="none", ls="", ms=9, label="current account"),
    ]
    if min_nlv:
        handles.append(
            Line2D([], [], color="gray", ls=":", label="minimum NLV for the target (dotted)")
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return _finish(fig, path)


# ----------------------------------------------------------------------------- frontier
def frontier(
    df: pd.DataFrame,
    chosen: Mapping[str, float] | None = None,
    *,
    target: float | None = None,
    cap_label: str = "cap (fraction of NLV)",
    cap_percent: bool = False,
    p_sample: str = "in sample",
    ccy: str = "",
    title: str = "Max expected monthly income vs cap",
    path: str | Path | None = None,
) -> Figure:
    """The income frontier: max expected monthly income against a cap, P(success) beside it.

    Parameters
    ----------
    df : pd.DataFrame
        One row per cap value: ``cap`` (float, in the cap's unit), ``max_income`` (account
        currency per month; NaN where unbounded or unsolved) and ``success_probability``
        (fraction, NaN when not computed; drawn on a right-hand axis, labelled with
        ``p_sample``).
    chosen : mapping, optional
        The chosen book: ``{"cap": …, "max_income": …}`` (``income`` is accepted for
        ``max_income``), marked with a star.
    target : float, optional
        Monthly income target (account currency), a dashed line.
    cap_label : str
        The x-axis label (the cap and its unit, e.g. ``"CVaR 99% (1 day) cap (% of NLV)"``).
    cap_percent : bool
        Print the cap axis (a fraction) in percent (``0.05`` → ``5%``).
    p_sample : str
        Which months ``success_probability`` is the share of: ``"in sample"`` (the income
        model's months the books were sized on, as :func:`optimizer.studies.frontier.frontier`
        computes it) or ``"out of sample"``.
    ccy : str
        Account currency, for the labels.
    title : str
        Figure title.
    path : str | Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """

    def cap_text(c: float) -> str:
        return f"{c:.1%}" if cap_percent else f"{c:g}"

    d = df.sort_values("cap")
    cap = d["cap"].to_numpy(dtype=float)
    inc = pd.to_numeric(d["max_income"], errors="coerce").to_numpy(dtype=float)
    fig = _figure(8.0, 4.8)
    ax = fig.subplots()
    ax.plot(cap, inc, drawstyle="steps-post", color="C0", lw=1.8, label="max expected income")
    ax.plot(cap, inc, "o", color="C0", ms=4)
    if target is not None:
        ax.axhline(target, color=_TARGET_COLOR, ls="--", lw=1.3, label=f"target {target:,.0f}")
    if chosen is not None:
        y = chosen.get("max_income", chosen.get("income"))
        ax.plot(
            [chosen["cap"]],
            [y],
            marker="*",
            ms=16,
            color="gold",
            mec="black",
            ls="",
            zorder=5,
            label=f"chosen: cap {cap_text(chosen['cap'])}, {float(y):,.0f}",
        )
    ax.set_xlabel(cap_label)
    if cap_percent:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(f"max expected monthly income{_unit(ccy)}")
    _money_axis(ax.yaxis)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if "success_probability" in d:
        p = pd.to_numeric(d["success_probability"], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(p).any():
            ax2 = ax.twinx()
            ax2.plot(
                cap, p, color="C2", ls=":", marker="s", ms=3, label=f"P(month ≥ target), {p_sample}"
            )
            ax2.set_ylabel(f"P(month ≥ target), {p_sample} (% of months)")
            ax2.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax2.set_ylim(0.0, 1.0)
            h2, _ = ax2.get_legend_handles_labels()
            handles += h2
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set_title(title)
    return _finish(fig, path)


# ----------------------------------------------------------------------------- monthly P&L
def monthly_histogram(
    monthly: Sequence[float] | np.ndarray,
    target: float,
    var: float | None = None,
    cvar: float | None = None,
    *,
    confidence: float | None = None,
    expected: float | None = None,
    sample: str = "out of sample",
    ccy: str = "",
    title: str = "Monthly P&L of the book",
    path: str | Path | None = None,
) -> Figure:
    """Histogram of simulated monthly P&L with the target and, optionally, VaR and CVaR.

    The legend names the sample of each number: the histogram's mean is labelled with
    ``sample`` (``mean out of sample 417``) and the optional ``expected`` income with ``in
    sample`` (``expected in sample 410``), so a mean of fresh months is not mistaken for the
    expectation the book was sized on (they differ by sampling error).

    Parameters
    ----------
    monthly : array_like, shape (n,)
        Monthly P&L samples of the book (account currency; profit > 0).
    target : float
        Monthly income target (account currency): a red line; the share of months at or above
        it is printed in the title.
    var, cvar : float, optional
        Monthly VaR and CVaR as losses (> 0 is a loss, account currency), drawn at ``-var`` and
        ``-cvar``.
    confidence : float, optional
        Their confidence level (0.95), for the legend.
    expected : float, optional
        The book's expected monthly income over the months it was sized on (in sample, account
        currency; the report's tables), drawn as a second line.
    sample : str
        Which sample ``monthly`` is (``"out of sample"``: months the optimizer did not see), for
        the mean's legend entry.
    ccy : str
        Account currency, for the labels.
    title : str
        Figure title (the P(month ≥ target) is appended).
    path : str | Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.asarray(monthly, dtype=float)
    x = x[np.isfinite(x)]
    fig = _figure(8.0, 4.5)
    ax = fig.subplots()
    ax.hist(x, bins=min(120, max(10, x.size // 20)), color="#4c72b0", alpha=0.85)
    conf = f" {confidence:.0%}" if confidence is not None else ""
    ax.axvline(target, color=_TARGET_COLOR, lw=2, label=f"target {target:,.0f}")
    if var is not None:
        ax.axvline(-var, color="black", ls="--", label=f"VaR{conf} (1 month) {var:,.0f}")
    if cvar is not None:
        ax.axvline(-cvar, color="black", ls=":", label=f"CVaR{conf} (1 month) {cvar:,.0f}")
    mean = float(np.mean(x)) if x.size else 0.0
    ax.axvline(mean, color="#dd8452", lw=1.5, label=f"mean {sample} {mean:,.0f}")
    if expected is not None:
        ax.axvline(
            expected, color="#55a868", lw=1.5, ls="-.", label=f"expected in sample {expected:,.0f}"
        )
    p_hit = float(np.mean(x >= target)) if x.size else float("nan")
    ax.set_title(f"{title} — P(month ≥ target) = {p_hit:.1%}")
    ax.set_xlabel(f"monthly P&L{_unit(ccy)}, {x.size:,} simulated months {sample}")
    ax.set_ylabel("months")
    _money_axis(ax.xaxis)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _finish(fig, path)


# ----------------------------------------------------------------------------- sweep heatmap
