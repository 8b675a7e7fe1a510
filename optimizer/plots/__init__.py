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
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from optimizer.plots._base import (
    _TARGET_COLOR,
    _figure,
    _finish,
    _money_axis,
    _unit,
    png_bytes,
    save,
)
from optimizer.plots._base import STATUS_COLORS as STATUS_COLORS
from optimizer.plots.verdicts import frontier, income_vs_nlv, monthly_histogram, phase_bars

__all__ = [
    "achievement_heatmap",
    "frontier",
    "income_vs_nlv",
    "monthly_histogram",
    "phase_bars",
    "png_bytes",
    "save",
]


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
    cmap, norm, side = _heat_scale(zmin, zmax, target)
    fig = _figure(max(6.5, 0.62 * len(xs) + 3.0), max(4.5, 0.4 * len(ys) + 2.0))
    ax = fig.subplots()
    ix, iy = np.arange(len(xs)), np.arange(len(ys))
    mesh = ax.pcolormesh(ix, iy, np.ma.masked_invalid(z), cmap=cmap, norm=norm, shading="nearest")
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(f"{value} (max expected income / target){side}")
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
        size = 9 if n_cells <= 100 else 8
        for i in iy:
            for j in ix:
                if np.isfinite(z[i, j]):
                    r, g, b, _ = cmap(norm(z[i, j]))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # white text on dark cells
                    ax.text(
                        j,
                        i,
                        f"{z[i, j]:,.0%}",
                        ha="center",
                        va="center",
                        fontsize=size,
                        color="white" if dark else "black",
                    )
    ax.set_xticks(ix, _axis_ticks(xs), rotation=45 if len(xs) > 8 else 0, fontsize=9)
    ax.set_yticks(iy, _axis_ticks(ys), fontsize=9)
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


def _heat_scale(zmin: float, zmax: float, target: float) -> tuple:
    """Colour map, norm and colour-bar note of the heatmap: the colours span the data shown.

    Values on both sides of ``target``: the whole red–yellow–green scale, yellow at the target
    (:class:`~matplotlib.colors.TwoSlopeNorm` from ``zmin`` to ``zmax``). All at or below it:
    the red–yellow half stretched over ``[zmin, zmax]``; all at or above it: the yellow–green
    half. So a sweep of 0–27% of the target spans red to yellow instead of one dark red (a
    scale fixed to 0–125% left it there).
    """
    if zmax <= zmin:  # one value: a band around it
        pad = max(abs(zmin) * 0.05, 0.01)
        zmin, zmax = zmin - pad, zmax + pad
    full = _cmap()
    if zmin < target < zmax:
        return full, TwoSlopeNorm(vcenter=target, vmin=zmin, vmax=zmax), ""
    below = zmax <= target
    half = np.linspace(0.0, 0.5, 256) if below else np.linspace(0.5, 1.0, 256)
    cmap = ListedColormap(full(half)).with_extremes(bad="#d9d9d9")
    note = ", all below the target" if below else ", all at or above the target"
    return cmap, Normalize(vmin=zmin, vmax=zmax), note


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
