"""optimizer.plots: what each figure draws is the data it was given (no solves, fast).

Every check reads the drawn artists back (bar heights, line data, mesh values, outline
segments) and compares them with the input recomputed here; the saved files are checked as
PNGs with PIL.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.colors import to_hex
from PIL import Image

from optimizer import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def _texts(fig) -> str:
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes]
    for leg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        out += [t.get_text() for t in leg.get_texts()]
    return "\n".join(out)


# ----------------------------------------------------------------------------- phase bars
PHASES = pd.DataFrame(
    {
        "case": ["P1", "P2", "P3", "huge"],
        "achievement": [0.047, 0.0, 1.25, 50.7],
        "status": ["INFEASIBLE", "INFEASIBLE", "FEASIBLE", "FEASIBLE"],
        "max_income": [141.0, 0.0, 9375.0, 253.5],
        "target": [3000.0, 5000.0, 7500.0, 5.0],
        "chosen_achievement": [0.046, 0.0, 1.1, 50.0],
    }
)


def test_phase_bars_heights_colours_target_line_and_file(tmp_path):
    path = tmp_path / "bars.png"
    fig = plots.phase_bars(PHASES, ccy="GBP", path=path)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == len(PHASES)
    top = ax.get_ylim()[1]
    # the axis shows at most 3× the target (× 1.25 headroom); a taller bar is cut at the top
    assert top == pytest.approx(3.0 * 1.25)
    expected = np.minimum(PHASES["achievement"].to_numpy(), top)
    assert [b.get_height() for b in bars] == pytest.approx(list(expected))
    colours = [to_hex(b.get_facecolor()) for b in bars]
    assert colours == [plots.STATUS_COLORS[s].lower() for s in PHASES["status"]]
    lines = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [1.0, 1.0]]
    assert lines, "no 100% target line"
    text = _texts(fig)
    assert "4.7%\n141 of 3,000" in text and "▲ 5,070.0%" in text  # the cut bar says so
    assert [t.get_text() for t in ax.get_xticklabels()] == list(PHASES["case"])
    w, h = _png_size(path.read_bytes())
    assert w > 100 and h > 100


# ----------------------------------------------------------------------------- income vs NLV
def test_income_vs_nlv_draws_each_curve_and_its_target():
    curve = pd.DataFrame(
        {
            "case": ["a"] * 3 + ["b"] * 3,
            "nlv": [40_000.0, 20_000.0, 80_000.0, 50_000.0, 100_000.0, 25_000.0],
            "max_income": [250.0, 120.0, 490.0, 300.0, np.nan, 100.0],
        }
    )
    targets = {"a": 500.0, "b": 5_000.0}
    fig = plots.income_vs_nlv(curve, targets, ccy="GBP", current={"a": 40_000.0})
    # 5,000 > 3 × 490: a zoom panel is added under the full-scale one
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    steps = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    assert [ln.get_label() for ln in steps] == ["a", "b"]
    for ln, case in zip(steps, ["a", "b"], strict=True):
        want = curve[curve["case"] == case].sort_values("nlv")
        np.testing.assert_array_equal(ln.get_xdata(), want["nlv"].to_numpy())
        np.testing.assert_array_equal(ln.get_ydata(), want["max_income"].to_numpy())
    hl = [c for c in ax.collections if isinstance(c, LineCollection)]
    levels = sorted(seg[0][1] for c in hl for seg in c.get_segments())
    assert levels == [500.0, 5_000.0]
    assert "target 5,000" in _texts(fig)
    # the zoom panel shows the curves, not the targets
    assert fig.axes[1].get_ylim()[1] == pytest.approx(490.0 * 1.12)
    assert "GBP" in fig.axes[1].get_xlabel()


def test_income_vs_nlv_single_curve_no_zoom():
    curve = pd.DataFrame({"nlv": [1e4, 2e4], "max_income": [100.0, 180.0]})
    fig = plots.income_vs_nlv(curve, 150.0)
    assert len(fig.axes) == 1


# ----------------------------------------------------------------------------- frontier
def test_frontier_line_chosen_star_and_probability_axis():
    df = pd.DataFrame(
        {
            "cap": [0.10, 0.02, 0.05],
            "max_income": [520.0, 100.0, 254.0],
            "success_probability": [0.6, 0.3, 0.47],
        }
    )
    fig = plots.frontier(df, {"cap": 0.05, "max_income": 254.0}, target=500.0, ccy="GBP")
    ax = fig.axes[0]
    steps = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    np.testing.assert_array_equal(steps[0].get_xdata(), [0.02, 0.05, 0.10])
    np.testing.assert_array_equal(steps[0].get_ydata(), [100.0, 254.0, 520.0])
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xydata()[0]) == [0.05, 254.0]
    assert len(fig.axes) == 2  # P(success) on a twin axis
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_ydata(), [0.3, 0.47, 0.6])
    # without probabilities there is no second axis
    fig2 = plots.frontier(df.assign(success_probability=np.nan))
    assert len(fig2.axes) == 1


# ----------------------------------------------------------------------------- histogram
def test_monthly_histogram_counts_lines_and_probability():
    rng = np.random.default_rng(3)
    x = rng.normal(200.0, 900.0, 4000)
    x[:3] = np.nan  # dropped
    fig = plots.monthly_histogram(x, 500.0, var=1300.0, cvar=1900.0, confidence=0.95, ccy="GBP")
    ax = fig.axes[0]
    finite = x[np.isfinite(x)]
    assert sum(p.get_height() for p in ax.patches) == finite.size
    vlines = {ln.get_label().split(" ")[0]: ln.get_xdata()[0] for ln in ax.get_lines()}
    assert vlines["target"] == 500.0
    assert vlines["VaR"] == -1300.0 and vlines["CVaR"] == -1900.0
    assert vlines["mean"] == pytest.approx(finite.mean())
    assert f"P(month ≥ target) = {np.mean(finite >= 500.0):.1%}" in ax.get_title()
    assert "GBP" in ax.get_xlabel() and f"{finite.size:,}" in ax.get_xlabel()


# ----------------------------------------------------------------------------- heatmap
def _sweep() -> pd.DataFrame:
    rows = []
    for vix in (12, 16, 20, 30):
        for nlv in (35_000, 75_000, 150_000):
            a = nlv / 100_000 * (1 + (vix - 17) / 40)
            rows.append(
                {
                    "market.vix": vix,
                    "account.net_liq": nlv,
                    "achievement": a,
                    "status": "FEASIBLE" if a >= 1 else "INFEASIBLE",
                }
            )
    df = pd.DataFrame(rows)
    df.loc[(df["market.vix"] == 12) & (df["account.net_liq"] == 35_000), "achievement"] = np.nan
    return df.sample(frac=1.0, random_state=1)  # any row order


def test_heatmap_values_outline_and_contour(tmp_path):
    df = _sweep()
    fig = plots.achievement_heatmap(
        df, "market.vix", "account.net_liq", path=tmp_path / "h.png", ylabel="NLV (GBP)"
    )
    ax = fig.axes[0]
    xs, ys = [12, 16, 20, 30], [35_000, 75_000, 150_000]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    z = np.ma.getdata(mesh.get_array()).reshape(len(ys), len(xs))
    mask = np.ma.getmaskarray(mesh.get_array()).reshape(len(ys), len(xs))
    by_point = {(r["market.vix"], r["account.net_liq"]): r for r in df.to_dict("records")}
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            want = by_point[(x, y)]["achievement"]
            if np.isnan(want):
                assert mask[i, j]
            else:
                assert not mask[i, j] and z[i, j] == pytest.approx(want)
    # the outline: every segment separates a FEASIBLE cell from a non-FEASIBLE one (or the
    # border), and every such cell edge is drawn once
    feas = np.array([[by_point[(x, y)]["status"] == "FEASIBLE" for x in xs] for y in ys])
    outline = next(c for c in ax.collections if c.get_gid() == "feasible-outline")
    segs = {tuple(map(tuple, np.round(s, 6))) for s in outline.get_segments()}

    def cell(i, j):
        return bool(feas[i, j]) if 0 <= i < len(ys) and 0 <= j < len(xs) else False

    expected = set()
    for i in range(-1, len(ys)):
        for j in range(-1, len(xs)):
            if cell(i, j) != cell(i + 1, j) and 0 <= j < len(xs):  # horizontal edge
                expected.add(((j - 0.5, i + 0.5), (j + 0.5, i + 0.5)))
            if cell(i, j) != cell(i, j + 1) and 0 <= i < len(ys):  # vertical edge
                expected.add(((j + 0.5, i - 0.5), (j + 0.5, i + 0.5)))
    assert segs == expected
    assert len(outline.get_segments()) == len(expected)
    # the 100% contour: every vertex lies where the bilinear interpolation of the cell values
    # (unknown cells at the minimum) is 100%
    contour = next(c for c in ax.collections if c.get_gid() == "target-contour")
    assert list(contour.levels) == [1.0]
    filled = np.where(mask, np.nanmin(np.where(mask, np.nan, z)), z)
    vertices = np.concatenate([p.vertices for p in contour.get_paths()])
    assert len(vertices) >= 2
    for vx, vy in vertices:
        j0, i0 = min(int(vx), len(xs) - 2), min(int(vy), len(ys) - 2)
        fx, fy = vx - j0, vy - i0
        value = (
            filled[i0, j0] * (1 - fx) * (1 - fy)
            + filled[i0, j0 + 1] * fx * (1 - fy)
            + filled[i0 + 1, j0] * (1 - fx) * fy
            + filled[i0 + 1, j0 + 1] * fx * fy
        )
        assert value == pytest.approx(1.0, abs=1e-6)
    # tick labels carry the swept values
    assert [t.get_text() for t in ax.get_yticklabels()] == ["35,000", "75,000", "150,000"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["12", "16", "20", "30"]
    assert ax.get_ylabel() == "NLV (GBP)" and ax.get_xlabel() == "market.vix"
    w, h = _png_size((tmp_path / "h.png").read_bytes())
    assert w > 100 and h > 100


def test_heatmap_rejects_more_than_two_axes():
    df = pd.concat([_sweep().assign(z=1), _sweep().assign(z=2)])
    with pytest.raises(ValueError, match="several rows"):
        plots.achievement_heatmap(df, "market.vix", "account.net_liq")


def test_png_bytes_is_a_png():
    fig = plots.monthly_histogram(np.arange(100.0), 50.0)
    w, h = _png_size(plots.png_bytes(fig))
    assert w > 100 and h > 100


def test_figures_show_as_png_in_jupyter():
    """IPython's display asks ``_repr_png_``: the notebooks printed "<Figure size …>" text
    because thetaplan draws without pyplot (issue 20); ``run_all.py`` now fails a notebook
    with no image output."""
    from IPython.core.formatters import PNGFormatter

    from optimizer.plots import phase_bars

    df = __import__("pandas").DataFrame(
        {
            "case": ["a"],
            "net_liq": [1.0],
            "target": [2.0],
            "max_income": [1.0],
            "achievement": [0.5],
            "status": ["INFEASIBLE"],
        }
    )
    fig = phase_bars(df)
    png = PNGFormatter()(fig)
    assert png is not None and png[:4] == b"\x89PNG"


def _grid(values: np.ndarray) -> pd.DataFrame:
    ny, nx = values.shape
    return pd.DataFrame(
        [
            {
                "market.vix": 10 + j,
                "account.net_liq": 35_000 + 5_000 * i,
                "achievement": values[i, j],
            }
            for i in range(ny)
            for j in range(nx)
        ]
    )


def test_heatmap_colours_span_the_data_and_labels_are_legible():
    """A 20 × 20 sweep at 0–27% of the target: the colour scale is the data's 0–27%.

    The scale used to run from 0 to 125% (at least 125% of the target whatever the data), so
    every cell was the same dark red, and 400 cells were annotated in 5-point type.
    """
    z = np.linspace(0.0, 0.27, 400).reshape(20, 20)
    fig = plots.achievement_heatmap(_grid(z), "market.vix", "account.net_liq")
    ax, cbar = fig.axes
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    assert (mesh.norm.vmin, mesh.norm.vmax) == pytest.approx((0.0, 0.27))
    assert cbar.get_ylim() == pytest.approx((0.0, 0.27))
    lo, hi = (np.array(mesh.cmap(mesh.norm(v))[:3]) for v in (0.0, 0.27))
    assert np.abs(hi - lo).max() > 0.5  # the lowest and highest cells look different
    texts = [t for t in ax.texts if t.get_text().endswith("%")]
    assert len(texts) == 400 and min(t.get_fontsize() for t in texts) >= 8
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 9
    assert "all below the target" in cbar.get_ylabel()
    # values on both sides of the target: the full scale, centred on it, from the data's min to max
    z2 = np.linspace(0.4, 1.6, 9).reshape(3, 3)
    mesh2 = next(
        c
        for c in plots.achievement_heatmap(_grid(z2), "market.vix", "account.net_liq")
        .axes[0]
        .collections
        if isinstance(c, QuadMesh)
    )
    assert (mesh2.norm.vmin, mesh2.norm.vcenter, mesh2.norm.vmax) == pytest.approx((0.4, 1.0, 1.6))


def test_monthly_histogram_says_which_sample_each_number_is():
    """The legend's mean is of out-of-sample months, the report's income in sample: both labelled."""
    x = np.array([400.0, 434.0])  # mean 417
    fig = plots.monthly_histogram(x, 500.0, expected=410.0, ccy="GBP")
    ax = fig.axes[0]
    lines = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines()}
    assert lines["mean out of sample 417"] == pytest.approx(417.0)
    assert lines["expected in sample 410"] == 410.0
    assert ax.get_xlabel() == "monthly P&L (GBP), 2 simulated months out of sample"
