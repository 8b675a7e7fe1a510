"""Shared helpers of the figures: the figure factory, PNG output, money axes, status colours."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

STATUS_COLORS = {"FEASIBLE": "#55a868", "INFEASIBLE": "#c44e52", "UNKNOWN": "#8c8c8c"}
_TARGET_COLOR = "#c44e52"
_DPI = 120


class ReportFigure(Figure):
    """A matplotlib :class:`~matplotlib.figure.Figure` that shows itself as a PNG in Jupyter.

    thetaplan draws without pyplot (no global backend, safe in threads), so Jupyter's inline
    backend never sees its figures and printed ``<Figure size … with 1 Axes>``; IPython's rich
    display protocol asks an object for ``_repr_png_``, which this answers (at the package's
    120 dpi).
    """

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def _figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    fig = ReportFigure(figsize=(width, height), layout=layout)
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
