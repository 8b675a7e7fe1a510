"""Calibration of the physical measure against any S&P 500 / VIX history (``thetaplan calibrate``).

The model is fitted on its own window, the evaluation runs on the supplied one:

Model (fixed)
    The filtered historical simulation (:func:`models.measure.physical.filtered_history`) is built from
    the shipped S&P 500 and VIX files (:data:`SHIPPED_INDEX`, :data:`SHIPPED_VIX`), i.e. on
    :data:`MODEL_WINDOW` 1990-01-02 .. 2023-12-28; the lognormal alternative uses the
    realized/implied ratio measured on the same files (:func:`models.income.measure_vol_ratio`,
    0.861). Option legs are priced off the shipped SPX skew of 2026-01-30 (:mod:`models.measure.replay`).
Evaluation window (supplied)
    The S&P 500 closes (``Date, Close`` columns, as the shipped ``^GSPC`` file) and VIX closes
    (``DATE, CLOSE``, as the shipped Cboe file) of the supplied files, restricted to the
    intersection of both files' date ranges and ``[start, end]`` (:func:`evaluation_window`).
    Every realized number — tail frequencies, replayed trades — and the models' starting VIX
    levels come from that window only.
Tail table (:func:`models.measure.physical.tail_calibration`)
    For ``h`` in 1, 21, 82 trading days, start-VIX buckets [0, 15), [15, 20), [20, 30), 30+ and
    thresholds -5%, -10%, -20%: the realized frequency of ``C_{d+h} / C_d - 1 < threshold`` over
    the overlapping windows whose start day ``d`` has a VIX close in the bucket and whose two
    ends lie in the window; its 95% Wilson (1927, JASA 22(158)) score interval on the effective
    sample ``n_eff = n / h`` (non-overlapping windows); the FHS probability on ``n_paths`` paths
    started at VIX levels resampled from the bucket's start days. Inside when
    ``ci_low <= model <= ci_high``.
Replay table (:func:`models.measure.replay.pnl_replay_table`)
    Short put 5% OTM 30 days, iron condor +/-5% 30 days, LT112 120 days held to expiry and the
    LT112 under the TK rules, entered at every close of the window: the mean P&L per trade with
    two 95% intervals —

    * Newey-West (1987, Econometrica 55(3)) HAC standard error, Bartlett kernel, lag = the
      holding period ``n`` trading days: ``replay -/+ 1.96 SE_NW``;
    * effective sample: ``n_eff = N x (entry spacing / holding period) = N / n`` (entries every
      trading day, ``n``-day trades, so ``N / n`` non-overlapping trades) and
      ``SE_neff = sd(pnl) / sqrt(n_eff)``: ``replay -/+ 1.96 SE_neff``.

    The model (FHS) side is the income engine (:func:`models.measure.managed.simulate_managed`) on
    ``replay_paths`` paths per holding period, started at the replay's entry VIX levels. Inside
    when ``|model - replay| <= 1.96 sqrt(SE_NW^2 + SE_model^2)`` (the rule of
    :mod:`models.measure.replay`). P&L in units of the entry spot (1e-4 = one basis point).
Coverage
    Tail cells with at least one window, and structures with at least one entry, where the model
    is inside; the same for the lognormal.

With the shipped files and the defaults (40,000 paths per tail cell, seed 20,240,805; 30,000
paths per holding period, seed 20,260,130; mean block 21 days) the result is the README's
calibration table: FHS inside in 36 of 36 tail cells (lognormal 29) and 4 of 4 structures.
On the default window the evaluation is in sample (the FHS residual pool is the same history).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from models.errors import DataError
from models.income import measure_vol_ratio
from models.market.history import load_index_history, load_index_ohlc, load_vix_history
from models.measure import replay
from models.measure.calibration_defaults import (  # defined there so the CLI can show them lightly
    DEFAULT_MEAN_BLOCK,
    DEFAULT_PATHS,
    DEFAULT_REPLAY_PATHS,
    DEFAULT_REPLAY_SEED,
    DEFAULT_SEED,
)
from models.measure.physical import (
    DEFAULT_HORIZONS,
    FilteredHistory,
    filtered_history,
    tail_calibration,
)

__all__ = [
    "DEFAULT_MEAN_BLOCK",
    "DEFAULT_PATHS",
    "DEFAULT_REPLAY_PATHS",
    "DEFAULT_REPLAY_SEED",
    "DEFAULT_SEED",
    "MODEL_WINDOW",
    "SHIPPED_CHAIN",
    "SHIPPED_INDEX",
    "SHIPPED_VIX",
    "Calibration",
    "CalibrationModel",
    "EvaluationWindow",
    "calibrate",
    "evaluation_window",
    "fit_model",
    "replay_table",
    "tail_table",
]

DATA = Path(__file__).resolve().parents[2] / "scenarios" / "data"

#: Most model paths per tail cell or replay period (a 30-digit ``--paths`` overflowed numpy).
MAX_PATHS = 10_000_000
SHIPPED_VIX = DATA / "vix_daily_cboe_1990-01-02_2026-07-23.csv.gz"
"""Cboe VIX daily history shipped with the project (``DATE, OPEN, HIGH, LOW, CLOSE``)."""
SHIPPED_INDEX = DATA / "sp500_gspc_daily_ohlcv_1927-12-30_2023-12-28.csv.gz"
"""S&P 500 ``^GSPC`` daily OHLCV shipped with the project (``Date, Open, ..., Close, ...``)."""
SHIPPED_CHAIN = DATA / "spx_yahoo_chain_2026-01-30.csv.gz"
"""SPX option chain of 2026-01-30: the skew of the replayed structures."""

MODEL_WINDOW = (pd.Timestamp("1990-01-02"), pd.Timestamp("2023-12-28"))
"""The model's own window: first VIX close .. last S&P 500 close of the shipped files."""

_Z95 = 1.959963984540054


# ----------------------------------------------------------------------------------------------
# Window


@dataclass(frozen=True)
class EvaluationWindow:
    """The window a calibration actually evaluates.

    Parameters
    ----------
    start, end : pd.Timestamp
        First and last date evaluated: the intersection of both files' date ranges and the
        requested ``[from, to]``.
    requested_start, requested_end : pd.Timestamp | None
        ``--from`` / ``--to`` as given (None = open).
    index_range, vix_range : tuple[pd.Timestamp, pd.Timestamp]
        First and last usable date of the S&P 500 and VIX files.
    index_days : int
        S&P 500 closes in the window.
    joint_days : int
        Those with a VIX close on the same date.
    model_overlap_days : int
        S&P 500 closes of the window inside :data:`MODEL_WINDOW` (in-sample days).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    requested_start: pd.Timestamp | None
    requested_end: pd.Timestamp | None
    index_range: tuple[pd.Timestamp, pd.Timestamp]
    vix_range: tuple[pd.Timestamp, pd.Timestamp]
    index_days: int
    joint_days: int
    model_overlap_days: int

    def describe(self) -> str:
        """One line: the evaluated window, its size and its overlap with the model's window."""
        lo, hi = MODEL_WINDOW
        if self.model_overlap_days == 0:
            sample = "out of sample (no day inside the model's window)"
        elif self.model_overlap_days == self.index_days:
            sample = "in sample (every day inside the model's window)"
        else:
            sample = f"{self.model_overlap_days:,} of its days inside the model's window"
        return (
            f"evaluated {self.start.date()}..{self.end.date()}: {self.index_days:,} S&P 500 "
            f"closes, {self.joint_days:,} with a VIX close; model fitted on "
            f"{lo.date()}..{hi.date()}; {sample}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ISO dates)."""

        def day(x) -> str | None:
            return None if x is None else str(pd.Timestamp(x).date())

        return {
            "start": day(self.start),
            "end": day(self.end),
            "requested_start": day(self.requested_start),
            "requested_end": day(self.requested_end),
            "index_range": [day(x) for x in self.index_range],
            "vix_range": [day(x) for x in self.vix_range],
            "index_days": self.index_days,
            "joint_days": self.joint_days,
            "model_window": [day(x) for x in MODEL_WINDOW],
            "model_overlap_days": self.model_overlap_days,
        }


def _date(value, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None
    if pd.isna(ts) or not 1 <= ts.year <= 9999:  # year 0 parses but has no datetime.date
        raise DataError(f"{name} must be a date (YYYY-MM-DD), got {value!r}")
    return ts.normalize()


def _min_days(structures: Sequence[replay.FixedStructure], horizons: Sequence[int]) -> int:
    """Joint closes a window needs: the longest trade or horizon in trading days, plus one."""
    return max([int(h) for h in horizons] + [s.n_days for s in structures]) + 1


def evaluation_window(
    close: pd.Series,
    vix: pd.Series,
    start=None,
    end=None,
    *,
    min_days: int | None = None,
) -> EvaluationWindow:
    """The window evaluated: both files' common date range, cut to ``[start, end]``.

    Parameters
    ----------
    close, vix : pd.Series
        S&P 500 and VIX closes (:mod:`models.market.history` loaders).
    start, end : date-like | None
        Requested first and last date (None = open).
    min_days : int | None
        Fewest S&P 500 closes with a VIX close the window must hold; default 84 (the LT112's 83
        trading days plus one; the 82-day tail horizon needs 83).

    Returns
    -------
    EvaluationWindow

    Raises
    ------
    DataError
        ``start`` after ``end``, no overlap of the two files with the request, or fewer than
        ``min_days`` joint closes.
    """
    req_lo, req_hi = _date(start, "--from"), _date(end, "--to")
    if req_lo is not None and req_hi is not None and req_lo > req_hi:
        raise DataError(f"--from {req_lo.date()} is after --to {req_hi.date()}")
    if min_days is None:
        min_days = _min_days(replay.fixed_moneyness_structures(managed=True), DEFAULT_HORIZONS)
    c, v = close.sort_index(), vix.sort_index()
    idx_range = (c.index[0], c.index[-1])
    vix_range = (v.index[0], v.index[-1])
    lo = max(x for x in (idx_range[0], vix_range[0], req_lo) if x is not None)
    hi = min(x for x in (idx_range[1], vix_range[1], req_hi) if x is not None)
    ranges = (
        f"S&P 500 file {idx_range[0].date()}..{idx_range[1].date()}, VIX file "
        f"{vix_range[0].date()}..{vix_range[1].date()}"
        + (
            f", requested {req_lo.date() if req_lo is not None else '…'}.."
            f"{req_hi.date() if req_hi is not None else '…'}"
            if req_lo is not None or req_hi is not None
            else ""
        )
    )
    if lo > hi:
        raise DataError(f"no common dates to evaluate ({ranges})")
    days = c.index[(c.index >= lo) & (c.index <= hi)]
    joint = int(days.isin(v.index).sum())
    if joint < min_days:
        first, last = (days[0], days[-1]) if days.size else (lo, hi)
        raise DataError(
            f"window {first.date()}..{last.date()} has {joint} S&P 500 closes with a VIX close; "
            f"need at least {min_days} (longest holding period + 1) ({ranges})"
        )
    overlap = int(((days >= MODEL_WINDOW[0]) & (days <= MODEL_WINDOW[1])).sum())
    return EvaluationWindow(
        start=pd.Timestamp(days[0]),
        end=pd.Timestamp(days[-1]),
        requested_start=req_lo,
        requested_end=req_hi,
        index_range=idx_range,
        vix_range=vix_range,
        index_days=int(days.size),
        joint_days=joint,
        model_overlap_days=overlap,
    )


# ----------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True, eq=False)
class CalibrationModel:
    """The physical measure fitted on its own window, and the skew of the replayed structures.

    Parameters
    ----------
    hist : FilteredHistory
        FHS residual pool of the shipped files (1990-01-03 .. 2023-12-28).
    vol_ratio : float
        Realized/implied ratio of the lognormal, measured on the same files.
    surface : SmileSurface
        The shipped 2026-01-30 SPX chain's surface.
    """

    hist: FilteredHistory
    vol_ratio: float
    surface: Any = field(repr=False)


def fit_model(
    index_history: str | Path = SHIPPED_INDEX,
    vix_history: str | Path = SHIPPED_VIX,
    chain: str | Path = SHIPPED_CHAIN,
) -> CalibrationModel:
    """Fit the model on its own window (default: the shipped files, :data:`MODEL_WINDOW`).

    Parameters
    ----------
    index_history, vix_history : str | Path
        S&P 500 OHLC and VIX files the FHS is built from.
    chain : str | Path
        yfinance-style SPX chain whose skew prices the replayed legs.

    Returns
    -------
    CalibrationModel

    Raises
    ------
    DataError
        Unreadable or unusable files.
    """
    from models.market.chain import load_chain

    vix = load_vix_history(vix_history)
    ohlc = load_index_ohlc(index_history)
    try:
        hist = filtered_history(vix, ohlc)
        ratio = measure_vol_ratio(vix, ohlc["close"]).ratio
    except ValueError as exc:
        raise DataError(f"cannot fit the model on {index_history} / {vix_history}: {exc}") from None
    surface = load_chain(
        chain,
        format="yfinance",
        spot=replay.REFERENCE_SPOT,
        valuation_time=replay.REFERENCE_TIME,
        underlying="SPX",
    ).surface()
    return CalibrationModel(hist=hist, vol_ratio=float(ratio), surface=surface)


# ----------------------------------------------------------------------------------------------
# Tables


def tail_table(
    model: CalibrationModel,
    close: pd.Series,
    vix: pd.Series,
    window: EvaluationWindow,
    *,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    mean_block: float = DEFAULT_MEAN_BLOCK,
) -> pd.DataFrame:
    """Tail probabilities, model against realized, on the evaluation window (module notes).

    Parameters
    ----------
    model : CalibrationModel
        :func:`fit_model`.
    close, vix : pd.Series
        S&P 500 and VIX closes of the evaluation files.
    window : EvaluationWindow
        :func:`evaluation_window`.
    n_paths, seed, mean_block
        Paths per cell, base seed, bootstrap mean block (trading days).

    Returns
    -------
    pd.DataFrame
        :func:`models.measure.physical.tail_calibration`'s columns (``horizon, bucket, threshold, n,
        n_eff, count, freq, ci_low, ci_high, fhs, fhs_se, lognormal, lognormal_se, fhs_in_ci,
        lognormal_in_ci``; probabilities as fractions). ``attrs``: ``measure``, ``vol_ratio``.
    """
    try:
        table = tail_calibration(
            model.hist,
            close,
            vix,
            vol_ratio=model.vol_ratio,
            n_paths=n_paths,
            seed=seed,
            mean_block=mean_block,
            start=window.start,
            end=window.end,
        )
    except ValueError as exc:
        raise DataError(
            f"tail table on {window.start.date()}..{window.end.date()}: {exc}"
        ) from None
    table.attrs["measure"] = model.hist.describe(mean_block)
    table.attrs["vol_ratio"] = model.vol_ratio
    return table


def replay_table(
    model: CalibrationModel,
    close: pd.Series,
    vix: pd.Series,
    window: EvaluationWindow,
    *,
    n_paths: int = DEFAULT_REPLAY_PATHS,
    seed: int = DEFAULT_REPLAY_SEED,
    mean_block: float = DEFAULT_MEAN_BLOCK,
) -> pd.DataFrame:
    """Structure replays, model against history, on the evaluation window (module notes).

    Parameters
    ----------
    model : CalibrationModel
        :func:`fit_model`.
    close, vix : pd.Series
        S&P 500 and VIX closes of the evaluation files.
    window : EvaluationWindow
        :func:`evaluation_window`.
    n_paths, seed, mean_block
        Model paths per holding period, seed, bootstrap mean block (trading days).

    Returns
    -------
    pd.DataFrame
        :func:`models.measure.replay.pnl_replay_table`'s columns (P&L in units of the entry spot) plus
        ``n_eff = n_entries / n_days`` and the effective-sample interval ``ci_neff_low``,
        ``ci_neff_high`` (``replay -/+ 1.96 replay_se_neff``).
    """
    try:
        table = replay.pnl_replay_table(
            close,
            vix,
            model.hist,
            model.surface,
            vol_ratio=model.vol_ratio,
            n_paths=n_paths,
            seed=seed,
            mean_block=mean_block,
            start=window.start,
            end=window.end,
        )
    except ValueError as exc:
        raise DataError(
            f"replay table on {window.start.date()}..{window.end.date()}: {exc}"
        ) from None
    table["n_eff"] = table["n_entries"] / table["n_days"]
    table["ci_neff_low"] = table["replay"] - _Z95 * table["replay_se_neff"]
    table["ci_neff_high"] = table["replay"] + _Z95 * table["replay_se_neff"]
    return table


# ----------------------------------------------------------------------------------------------
# Result


def _num(x) -> float | None:
    """A JSON number: None for NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    Parameters
    ----------
    window : EvaluationWindow
    tails : pd.DataFrame
        :func:`tail_table`.
    replays : pd.DataFrame
        :func:`replay_table`.
    settings : dict
        ``paths, seed, replay_paths, replay_seed, mean_block, index_history, vix_history``.
    """

    window: EvaluationWindow
    tails: pd.DataFrame
    replays: pd.DataFrame
    settings: dict[str, Any]

    def coverage(self) -> dict[str, int]:
        """Cells / structures where the model is inside the realized interval.

        Returns
        -------
        dict[str, int]
            ``tails_inside, tails_total`` (cells with at least one window), ``replays_inside,
            replays_total`` for the FHS; ``lognormal_tails_inside``,
            ``lognormal_replays_inside`` for the lognormal.
        """
        cells = self.tails[self.tails["n"] > 0]
        reps = self.replays[self.replays["n_entries"] > 0]
        return {
            "tails_inside": int(cells["fhs_in_ci"].sum()),
            "tails_total": len(cells),
            "replays_inside": int(reps["fhs_in_ci"].sum()),
            "replays_total": len(reps),
            "lognormal_tails_inside": int(cells["lognormal_in_ci"].sum()),
            "lognormal_replays_inside": int(reps["lognormal_in_ci"].sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``thetaplan calibrate --json`` document.

        Returns
        -------
        dict
            ``window`` (:meth:`EvaluationWindow.to_dict`), ``model`` (measure, vol ratio,
            paths, seeds), ``tails`` (``horizon`` trading days, ``vix_bucket``, ``threshold``
            simple return, ``model`` FHS probability, ``realized`` frequency, 95% Wilson
            ``ci_low``/``ci_high``, ``n_eff`` = n / h, plus ``n``, ``count``, ``model_se``,
            ``inside``, ``lognormal``, ``lognormal_inside``), ``replays`` (``structure``,
            ``model`` and ``replay`` mean P&L per trade in units of the entry spot, Newey-West
            95% ``ci_low``/``ci_high``, ``win_rate_model``, ``win_rate_replay``, plus
            ``ci_neff_low``/``ci_neff_high``, ``n_entries``, ``n_days``, ``n_eff``,
            ``replay_se``, ``replay_se_neff``, ``model_se``, ``credit``, ``mean_loss_model``,
            ``mean_loss_replay``, ``inside``, ``lognormal``, ``lognormal_inside``) and
            ``coverage`` (:meth:`coverage`). NaN becomes null.
        """
        tails = [
            {
                "horizon": int(r.horizon),
                "vix_bucket": str(r.bucket),
                "threshold": float(r.threshold),
                "model": _num(r.fhs),
                "realized": _num(r.freq),
                "ci_low": _num(r.ci_low),
                "ci_high": _num(r.ci_high),
                "n_eff": _num(r.n_eff),
                "n": int(r.n),
                "count": int(r.count),
                "model_se": _num(r.fhs_se),
                "inside": bool(r.fhs_in_ci),
                "lognormal": _num(r.lognormal),
                "lognormal_inside": bool(r.lognormal_in_ci),
            }
            for r in self.tails.itertuples(index=False)
        ]
        replays = [
            {
                "structure": str(name),
                "model": _num(r["fhs"]),
                "replay": _num(r["replay"]),
                "ci_low": _num(r["ci_low"]),
                "ci_high": _num(r["ci_high"]),
                "win_rate_model": _num(r["fhs_win"]),
                "win_rate_replay": _num(r["replay_win"]),
                "ci_neff_low": _num(r["ci_neff_low"]),
                "ci_neff_high": _num(r["ci_neff_high"]),
                "n_entries": int(r["n_entries"]),
                "n_days": int(r["n_days"]),
                "n_eff": _num(r["n_eff"]),
                "replay_se": _num(r["replay_se"]),
                "replay_se_neff": _num(r["replay_se_neff"]),
                "model_se": _num(r["fhs_se"]),
                "credit": _num(r["credit"]),
                "mean_loss_model": _num(r["fhs_loss"]),
                "mean_loss_replay": _num(r["replay_loss"]),
                "inside": bool(r["fhs_in_ci"]),
                "lognormal": _num(r["lognormal"]),
                "lognormal_inside": bool(r["lognormal_in_ci"]),
            }
            for name, r in self.replays.iterrows()
        ]
        s = self.settings
        return {
            "window": self.window.to_dict(),
            "model": {
                "measure": self.tails.attrs.get("measure"),
                "vol_ratio": _num(self.tails.attrs.get("vol_ratio")),
                "paths": int(s["paths"]),
                "seed": int(s["seed"]),
                "replay_paths": int(s["replay_paths"]),
                "replay_seed": int(s["replay_seed"]),
                "mean_block": float(s["mean_block"]),
            },
            "inputs": {
                "index_history": str(s["index_history"]),
                "vix_history": str(s["vix_history"]),
            },
            "units": {
                "tails": "probabilities as fractions; horizon in trading days; threshold simple return",
                "replays": "P&L per trade per share in units of the entry spot (1e-4 = 1 bp)",
            },
            "tails": tails,
            "replays": replays,
            "coverage": self.coverage(),
        }


def calibrate(
    index_history: str | Path | None = None,
    vix_history: str | Path | None = None,
    start=None,
    end=None,
    *,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    replay_paths: int = DEFAULT_REPLAY_PATHS,
    replay_seed: int = DEFAULT_REPLAY_SEED,
    mean_block: float = DEFAULT_MEAN_BLOCK,
    model: CalibrationModel | None = None,
) -> Calibration:
    """Tail table and structure replays of the model fitted on its own window, on a supplied one.

    Parameters
    ----------
    index_history : str | Path | None
        S&P 500 daily CSV with ``Date`` and ``Close`` columns (default :data:`SHIPPED_INDEX`).
    vix_history : str | Path | None
        VIX daily CSV with ``DATE`` and ``CLOSE`` columns (default :data:`SHIPPED_VIX`).
    start, end : date-like | None
        Requested window; the evaluated one is cut to both files' common range
        (:func:`evaluation_window`).
    n_paths, seed : int
        Paths per tail cell and its seed.
    replay_paths, replay_seed : int
        Model paths per holding period of the replays and their seed.
    mean_block : float
        Stationary-bootstrap mean block, trading days.
    model : CalibrationModel | None
        Pre-fitted model (default :func:`fit_model` on the shipped files).

    Returns
    -------
    Calibration

    Raises
    ------
    DataError
        Unreadable file, missing columns, ``start`` after ``end``, a window without enough
        joint closes, or bad simulation sizes.
    """
    for name, value in (("--paths", n_paths), ("--replay-paths", replay_paths)):
        if not 1 <= int(value) <= MAX_PATHS:
            raise DataError(f"{name} must be 1 to {MAX_PATHS:,}, got {value}")
    if not (math.isfinite(mean_block) and mean_block >= 1.0):
        raise DataError(f"--mean-block must be at least 1 trading day, got {mean_block}")
    index_history = SHIPPED_INDEX if index_history is None else Path(index_history)
    vix_history = SHIPPED_VIX if vix_history is None else Path(vix_history)
    close = load_index_history(index_history)
    vix = load_vix_history(vix_history)
    window = evaluation_window(close, vix, start, end)
    model = fit_model() if model is None else model
    tails = tail_table(
        model, close, vix, window, n_paths=int(n_paths), seed=int(seed), mean_block=mean_block
    )
    reps = replay_table(
        model,
        close,
        vix,
        window,
        n_paths=int(replay_paths),
        seed=int(replay_seed),
        mean_block=mean_block,
    )
    settings = {
        "paths": int(n_paths),
        "seed": int(seed),
        "replay_paths": int(replay_paths),
        "replay_seed": int(replay_seed),
        "mean_block": float(mean_block),
        "index_history": index_history,
        "vix_history": vix_history,
    }
    return Calibration(window=window, tails=tails, replays=reps, settings=settings)
