"""Figures of the verdicts: phases, income vs account size, frontier, monthly P&L, sweep heatmap.

Every function draws on its own :class:`matplotlib.figure.Figure` with an Agg canvas (no pyplot,
no global backend switch, safe in threads and without a display), returns the figure and, given
``path``, also saves it (the extension picks the format; PNG at 120 dpi by default).
:func:`png_bytes` renders a figure to PNG bytes (for reports that embed images).

Money is in the account currency (``ccy`` labels the axes); achievements are fractions of the
monthly target (1.0 = 100%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

__all__ = [
    "achievement_heatmap",
    "frontier",
    "income_vs_nlv",
    "monthly_histogram",
    "phase_bars",
    "png_bytes",
    "save",
]

#: Verdict status → bar colour (green reachable, red not, grey unknown).
STATUS_COLORS = {"FEASIBLE": "#55a868", "INFEASIBLE": "#c44e52", "UNKNOWN": "#8c8c8c"}
_TARGET_COLOR = "#c44e52"
_DPI = 120


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = _DPI) -> Path:
    """Save ``fig`` to ``path`` (format from the extension) and return the path."""
    p = Path(path)
    fig.savefig(p, dpi=dpi)
    return p


def png_bytes(fig: Figure, dpi: int = _DPI) -> bytes:
    """The figure as PNG bytes (for embedding, e.g. base64 in HTML)."""
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _money_axis(ax_axis) -> None:
    ax_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _unit(ccy: str) -> str:
    return f" ({ccy})" if ccy else ""


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        save(fig, path)
    return fig


# ----------------------------------------------------------------------------- phases
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
    cap_label: str = "cap",
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
        (fraction, NaN when not computed; drawn on a right-hand axis).
    chosen : mapping, optional
        The chosen book: ``{"cap": …, "max_income": …}`` (``income`` is accepted for
        ``max_income``), marked with a star.
    target : float, optional
        Monthly income target (account currency), a dashed line.
    cap_label : str
        The x-axis label (the cap and its unit, e.g. ``"CVaR₉₉ cap (fraction of NLV)"``).
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
            label=f"chosen: cap {chosen['cap']:g}, {float(y):,.0f}",
        )
    ax.set_xlabel(cap_label)
    ax.set_ylabel(f"max expected monthly income{_unit(ccy)}")
    _money_axis(ax.yaxis)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if "success_probability" in d:
        p = pd.to_numeric(d["success_probability"], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(p).any():
            ax2 = ax.twinx()
            ax2.plot(cap, p, color="C2", ls=":", marker="s", ms=3, label="P(month ≥ target)")
            ax2.set_ylabel("P(month ≥ target), out of sample")
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
    ccy: str = "",
    title: str = "Monthly P&L of the book",
    path: str | Path | None = None,
) -> Figure:
    """Histogram of simulated monthly P&L with the target and, optionally, VaR and CVaR.

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
    ax.axvline(
        float(np.mean(x)) if x.size else 0.0,
        color="#dd8452",
        lw=1.5,
        label=f"mean {float(np.mean(x)) if x.size else 0.0:,.0f}",
    )
    p_hit = float(np.mean(x >= target)) if x.size else float("nan")
    ax.set_title(f"{title} — P(month ≥ target) = {p_hit:.1%}")
    ax.set_xlabel(f"monthly P&L{_unit(ccy)}, {x.size:,} simulated months")
    ax.set_ylabel("months")
    _money_axis(ax.xaxis)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _finish(fig, path)


# ----------------------------------------------------------------------------- sweep heatmap
def _axis_ticks(values: np.ndarray) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, int | float | np.integer | np.floating):
            fv = float(v)
            out.append(f"{fv:,.0f}" if fv == round(fv) and abs(fv) >= 1000 else f"{fv:g}")
        else:
            out.append(str(v))
    return out


def _outline_segments(mask: np.ndarray) -> list[list[tuple[float, float]]]:
    """Cell edges between ``True`` and ``False`` cells (or the border) of a 2-D mask.

    Cell ``(i, j)`` spans ``[j - 0.5, j + 0.5] × [i - 0.5, i + 0.5]`` (column j on x, row i on
    y), as drawn by ``pcolormesh`` on integer centres.
    """
    ny, nx = mask.shape
    pad = np.zeros((ny + 2, nx + 2), dtype=bool)
    pad[1:-1, 1:-1] = mask
    segs = []
    for i in range(ny):
        for j in range(nx):
            if not mask[i, j]:
                continue
            x0, x1, y0, y1 = j - 0.5, j + 0.5, i - 0.5, i + 0.5
            if not pad[i, j + 1]:  # below
                segs.append([(x0, y0), (x1, y0)])
            if not pad[i + 1, j + 2]:  # right
                segs.append([(x1, y0), (x1, y1)])
            if not pad[i + 2, j + 1]:  # above
                segs.append([(x0, y1), (x1, y1)])
            if not pad[i + 1, j]:  # left
                segs.append([(x0, y0), (x0, y1)])
    return segs


def achievement_heatmap(
    df: pd.DataFrame,
    x: str,
    y: str,
    value: str = "achievement",
    target: float = 1.0,
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Heatmap of a sweep over two axes: colour = achievement, the target contour, FEASIBLE outline.

    Parameters
    ----------
    df : pd.DataFrame
        The sweep's tidy table, one row per point: columns ``x`` and ``y`` (the swept values,
        e.g. ``market.vix`` and ``account.net_liq``), ``value`` (float; NaN where unknown or
        unbounded: grey cell) and optionally ``status`` (the verdict): the cells with
        ``status == "FEASIBLE"`` are outlined in black.
    x, y : str
        Columns on the horizontal and vertical axes. Cells are evenly spaced (one per distinct
        value, in increasing order), labelled with the values.
    value : str
        Column coloured, a fraction of the target (``achievement``: max expected monthly
        income / target).
    target : float
        The level that reaches the target (1.0 = 100%): centre of the diverging colour scale
        (red below, green above) and the dashed contour.
    xlabel, ylabel : str, optional
        Axis labels (default: the column names); give the unit (``account.net_liq (GBP)``).
    title : str, optional
        Figure title.
    annotate : bool, optional
        Print the value in each cell (default: when there are at most 400 cells).
    path : str | Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If two rows share the same ``(x, y)`` (the table has more than two swept axes).
    """
    if df.duplicated([x, y]).any():
        raise ValueError(f"achievement_heatmap: several rows per ({x}, {y}); pick one slice first")
    xs = np.array(sorted(df[x].unique()))
    ys = np.array(sorted(df[y].unique()))
    grid = df.pivot(index=y, columns=x, values=value).reindex(index=ys, columns=xs)
    z = grid.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    feasible = None
    if "status" in df:
        st = df.pivot(index=y, columns=x, values="status").reindex(index=ys, columns=xs)
        feasible = (st == "FEASIBLE").to_numpy()
    finite = z[np.isfinite(z)]
    zmin = float(finite.min()) if finite.size else 0.0
    zmax = float(finite.max()) if finite.size else target
    norm = TwoSlopeNorm(
        vcenter=target, vmin=min(0.0, zmin, target * 0.5), vmax=max(zmax, target * 1.25)
    )
    fig = _figure(max(6.5, 0.45 * len(xs) + 3.0), max(4.5, 0.35 * len(ys) + 2.0))
    ax = fig.subplots()
    ix, iy = np.arange(len(xs)), np.arange(len(ys))
    cmap = _cmap()
    mesh = ax.pcolormesh(ix, iy, np.ma.masked_invalid(z), cmap=cmap, norm=norm, shading="nearest")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(f"{value} (max expected income / target)")
    cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    contour = bool(finite.size) and zmin < target < zmax and min(z.shape) >= 2
    if contour:
        cs = ax.contour(
            ix,
            iy,
            np.nan_to_num(z, nan=zmin),
            levels=[target],
            colors="black",
            linestyles="--",
            linewidths=1.2,
        )
        cs.set_gid("target-contour")
    if feasible is not None and feasible.any():
        outline = LineCollection(_outline_segments(feasible), colors="black", lw=2.4)
        outline.set_clip_on(False)  # the border of the grid stays visible on the spine
        outline.set_gid("feasible-outline")
        ax.add_collection(outline)
    n_cells = z.size
    if annotate is None:
        annotate = n_cells <= 400
    if annotate:
        size = 8 if n_cells <= 100 else 6 if n_cells <= 225 else 5
        for i in iy:
            for j in ix:
                if np.isfinite(z[i, j]):
                    ax.text(j, i, f"{z[i, j]:,.0%}", ha="center", va="center", fontsize=size)
    ax.set_xticks(ix, _axis_ticks(xs), rotation=45 if len(xs) > 8 else 0, fontsize=8)
    ax.set_yticks(iy, _axis_ticks(ys), fontsize=8)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    handles = []
    if contour:
        handles.append(Line2D([], [], color="black", ls="--", label=f"{target:.0%} of target"))
    if feasible is not None and feasible.any():
        handles.append(Line2D([], [], color="black", lw=2.2, label="FEASIBLE region"))
    if not np.isfinite(z).all():
        handles.append(Patch(color="#d9d9d9", label="unknown / unbounded"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title(title or f"{value} over {x} × {y}")
    return _finish(fig, path)


def _cmap():
    return colormaps["RdYlGn"].with_extremes(bad="#d9d9d9")


# ----------------------------------------------------------------------------- tracker
def income_curve(
    dates: Sequence[str],
    income: Sequence[float],
    realized: Sequence[float],
    pro_rata: Sequence[float],
    target: float,
    *,
    ccy: str = "",
    title: str = "Month-to-date income against the target",
    path: str | Path | None = None,
) -> Figure:
    """Month-to-date income by trading day against the pro-rata target line.

    Parameters
    ----------
    dates : sequence of str, shape (e,)
        ISO dates of the elapsed trading days.
    income, realized : array_like, shape (e,)
        Month-to-date income (realized + unrealized, marked to market) and its realized part at
        each close (account currency).
    pro_rata : array_like, shape (e,)
        Pro-rata target at each close (``target × day / trading days in the month``).
    target : float
        Monthly target (account currency): a dashed line.
    """
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(dates))
    ax.plot(x, income, marker="o", lw=1.8, label="month-to-date income (marked to market)")
    ax.plot(x, realized, lw=1.2, ls="--", label="realized")
    ax.plot(x, pro_rata, color=_TARGET_COLOR, lw=1.2, label="pro-rata target")
    ax.axhline(target, color=_TARGET_COLOR, ls=":", lw=1, label=f"monthly target {target:,.0f}")
    ax.axhline(0, color="#444", lw=0.6)
    ax.set_xticks(x, [d[5:] for d in dates], rotation=60, fontsize=7)
    _money_axis(ax.yaxis)
    ax.set_ylabel(f"income{_unit(ccy)}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return _finish(fig, path)


def allocation_drift(
    dates: Sequence[str],
    income: Mapping[str, Sequence[float]],
    weights: Mapping[str, float],
    tolerance: float,
    pro_rata: Sequence[float],
    *,
    ccy: str = "",
    share_range: tuple[float, float] = (-0.25, 1.25),
    title: str = "Allocation drift: income by strategy against its share of the target",
    path: str | Path | None = None,
) -> Figure:
    """Each strategy's month-to-date income and share of it, against the allocation.

    Top panel: month-to-date income per strategy (solid) and its allocated share of the
    pro-rata target, ``weight × pro_rata`` (dashed, same colour). Bottom panel: each strategy's
    share of the month-to-date total with its band ``weight ± tolerance`` shaded, on days the
    total is positive; a share outside ``share_range`` (a small total makes shares explode) is
    drawn as a triangle on the edge.

    Parameters
    ----------
    dates : sequence of str, shape (e,)
        ISO dates of the elapsed trading days.
    income : mapping str -> array_like, shape (e,)
        Month-to-date income per strategy (account currency).
    weights : mapping str -> float
        Allocation weight per strategy.
    tolerance : float
        Absolute band half-width (0.05 = ±5 points).
    pro_rata : array_like, shape (e,)
        Pro-rata target of the whole book at each close (account currency).
    """
    fig = _figure(7.5, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = np.arange(len(dates))
    colors = colormaps["tab10"].colors
    names = list(weights)
    inc = {k: np.asarray(income.get(k, np.zeros(len(x))), dtype=float) for k in names}
    total = np.sum([inc[k] for k in names], axis=0) if names else np.zeros(len(x))
    lo, hi = share_range
    for i, name in enumerate(names):
        c, w = colors[i % len(colors)], weights[name]
        top.plot(x, inc[name], color=c, marker="o", ms=3, lw=1.5, label=name)
        top.plot(x, w * np.asarray(pro_rata, dtype=float), color=c, ls="--", lw=1)
        bottom.axhspan(w - tolerance, w + tolerance, color=c, alpha=0.12)
        share = np.where(total > 0, inc[name] / np.where(total > 0, total, 1.0), np.nan)
        inside = (share >= lo) & (share <= hi)
        bottom.plot(
            x,
            np.where(inside, share, np.nan),
            color=c,
            marker="o",
            ms=3,
            lw=1.2,
            label=f"{name} (band {w - tolerance:.0%}–{w + tolerance:.0%})",
        )
        above, below = share > hi, share < lo
        bottom.scatter(x[above], np.full(above.sum(), hi), color=c, marker="^", s=30)
        bottom.scatter(x[below], np.full(below.sum(), lo), color=c, marker="v", s=30)
    top.axhline(0, color="#444", lw=0.6)
    _money_axis(top.yaxis)
    top.set_ylabel(f"income{_unit(ccy)}")
    top.legend(fontsize=7, loc="best", title="dashed: weight × pro-rata target", title_fontsize=7)
    top.set_title(title, fontsize=10)
    bottom.set_ylim(lo - 0.05, hi + 0.05)
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
    bottom.set_ylabel("share of income")
    bottom.set_xticks(x, [d[5:] for d in dates], rotation=60, fontsize=7)
    bottom.legend(fontsize=6, loc="upper right")
    return _finish(fig, path)
