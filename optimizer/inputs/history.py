"""The scenario's S&P 500 / VIX history, parsed and fitted once per process.

One owner for what the income model, the candidates (0DTE variance time) and the risk scenarios
read from ``market.history``: the OHLC file, the FHS measure
(:func:`models.measure.physical.filtered_history`) and the variance-time shares
(:mod:`models.market.variance_time`), cached by file and window.
"""

from __future__ import annotations

from functools import lru_cache

from models.errors import SpecError
from models.market.history import load_index_ohlc, load_vix_history
from models.market.variance_time import VarianceTime, measure_variance_time
from models.measure import physical
from optimizer.inputs.spec import Scenario

__all__ = ["fhs_history", "filtered_window", "index_ohlc", "session_scale", "variance_time"]


@lru_cache(maxsize=2)
def index_ohlc(index_path: str):
    """The S&P 500 daily OHLC file, parsed once per process (income model and risk scenarios)."""
    return load_index_ohlc(index_path)


@lru_cache(maxsize=4)
def _history(vix_path: str, index_path: str, start, end):
    vix = load_vix_history(vix_path)
    ohlc = index_ohlc(index_path)
    return physical.filtered_history(vix, ohlc, start=start, end=end)


def _history_key(scenario: Scenario, what: str) -> tuple[str, str, str | None, str | None]:
    """``(vix path, index path, start, end)`` of the scenario's history (the caches' key)."""
    h = scenario.market.history
    if h is None:
        raise SpecError(f"market.history: {what} needs the VIX and S&P 500 files")
    inc = scenario.income
    start = None if inc.history_start is None else inc.history_start.date().isoformat()
    end = None if inc.history_end is None else inc.history_end.date().isoformat()
    return str(scenario.resolve(h.vix)), str(scenario.resolve(h.index)), start, end


def fhs_history(scenario: Scenario) -> physical.FilteredHistory:
    """The scenario's filtered-historical-simulation measure (fitted once per history and window).

    Raises
    ------
    SpecError
        No ``market.history``.
    """
    return _history(*_history_key(scenario, "the fhs physical measure"))


def filtered_window(scenario: Scenario, start: str | None, end: str | None):
    """The filtered history of ``market.history`` over ``start .. end`` (ISO dates, ``None`` =
    the file's own bounds), fitted once per process like :func:`fhs_history` (the backtest's
    real paths read it from 1960: EWMA-filtered before the VIX starts).

    Raises
    ------
    SpecError
        No ``market.history``.
    """
    vix, index, _, _ = _history_key(scenario, "the history window")
    return _history(vix, index, start, end)


def session_scale(scenario: Scenario) -> float:
    """Regular-session / close-to-close vol ratio of the S&P 500 measured from the history.

    1.0 when the scenario has no history (then the session is taken as the whole day).
    """
    if scenario.market.history is None:
        return 1.0
    return float(fhs_history(scenario).session_scale)


@lru_cache(maxsize=4)
def _variance_time(vix_path: str, index_path: str, start, end) -> VarianceTime:
    hist = _history(vix_path, index_path, start, end)
    return measure_variance_time(
        index_ohlc(index_path),
        load_vix_history(vix_path),
        session_share=float(hist.session_scale) ** 2,
        start=start,
        end=end,
    )


def variance_time(scenario: Scenario) -> VarianceTime:
    """The variance-time shares of the scenario's history (:mod:`models.market.variance_time`).

    The session share is the FHS measure's own ``session_scale ** 2``; the day variances by
    nights before the open are measured on the same window (``income.history_start`` /
    ``history_end``).

    Raises
    ------
    SpecError
        No ``market.history``.
    """
    return _variance_time(*_history_key(scenario, "the variance-time model"))
