"""One point of a sweep: its solve with the study's solve options and its row of the tidy results table (failures become rows with an error, never a crash)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from optimizer.studies.study import Point, SolveOptions

#: the sweep's logger: a point logs under the sweep (its quiet-logger handling covers both)
log = logging.getLogger("optimizer.studies.sweep")

#: Per-point result columns, after ``index``, ``name`` and one column per swept dotted path.
#: Money in the account currency per month unless stated; probabilities and fractions in [0, 1].
RESULT_COLUMNS: tuple[str, ...] = (
    "status",  # verdict status: FEASIBLE / INFEASIBLE / UNKNOWN (None when the point failed)
    "max_income",  # max expected monthly income under the caps (net of costs)
    "achievement",  # max_income / target
    "chosen_income",  # expected monthly income (net) of the book returned
    "success_probability",  # P(month ≥ target) of the book, out of sample
    "success_probability_in_sample",  # the same on the months the solve used
    "cvar",  # CVaR of the book at the first risk.cvar confidence (money), in sample; NaN: no risk
    "bp_used_pct",  # buying power used, fraction of NLV (0.156 = 15.6%)
    "income_gross",  # expected monthly income of the book before costs
    "costs_per_month",  # total expected monthly costs of the book (NaN: no income model costs)
    "error",  # None, or "<ExceptionType>: <first line of the message>"
    "seconds",  # wall time of the point's solve (worker side)
)

#: Columns of a sweep without swept paths (cases); a grid has ``index, name, *swept, ...``.
COLUMNS: tuple[str, ...] = ("index", "name", *RESULT_COLUMNS)


# ----------------------------------------------------------------------------- one point
def _num(x: Any) -> float:
    """``float(x)``; NaN for None or anything that is not a number."""
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _one_line(exc: BaseException) -> str:
    lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def result_row(result: Any) -> dict[str, Any]:
    """The tabulated figures of a :class:`optimizer.verdict.result.SizingResult` (no index, no timing).

    Returns
    -------
    dict[str, Any]
        :data:`RESULT_COLUMNS` except ``error`` and ``seconds``; money in the account currency
        (per month for incomes and costs), NaN where the solve produced no figure.
    """
    v, pf = result.verdict, result.portfolio
    cvar = pf.get("cvar")
    costs = pf.get("costs_per_month")
    return {
        "status": v.status.value,
        "max_income": _num(v.max_income),
        "achievement": _num(v.achievement),
        "chosen_income": _num(v.chosen_income),
        "success_probability": _num(v.success_probability),
        "success_probability_in_sample": _num(v.success_probability_in_sample),
        "cvar": _num(cvar.get("in_sample", cvar.get("value"))) if cvar else math.nan,
        "bp_used_pct": _num(pf.get("bp_used_pct")),
        "income_gross": _num(pf.get("expected_monthly_income_gross")),
        "costs_per_month": _num(costs.get("total")) if costs else math.nan,
    }


def _empty_result() -> dict[str, Any]:
    return {c: (None if c == "status" else math.nan) for c in RESULT_COLUMNS[:-2]}


def _row_head(point: Point, swept: Sequence[str]) -> dict[str, Any]:
    return {"index": point.index, "name": point.name, **{p: point.values.get(p) for p in swept}}


def solve_point(point: Point, options: SolveOptions, swept: Sequence[str]) -> dict[str, Any]:
    """Solve one point and return its row; an exception becomes the row's ``error``.

    Parameters
    ----------
    point : Point
        The study point (its validated scenario).
    options : SolveOptions
        The study's ``solve`` section (diagnostics level, minimum-NLV search).
    swept : Sequence[str]
        Swept dotted paths: one column each, holding the point's value.

    Returns
    -------
    dict[str, Any]
        ``index``, ``name``, the swept values and :data:`RESULT_COLUMNS`.
    """
    from optimizer.pipeline import solve_scenario

    row = _row_head(point, swept)
    t0 = time.perf_counter()
    try:
        result = solve_scenario(
            point.scenario,
            min_nlv_search=options.min_nlv,
            diagnostics_level=options.diagnostics,
        )
    except Exception as exc:  # a failing point is a result: the sweep goes on
        log.debug("point %d failed", point.index, exc_info=True)
        row.update(_empty_result(), error=_one_line(exc))
    else:
        row.update(result_row(result), error=None)
    row["seconds"] = time.perf_counter() - t0
    return row


def _error_row(point: Point, swept: Sequence[str], exc: BaseException) -> dict[str, Any]:
    return {**_row_head(point, swept), **_empty_result(), "error": _one_line(exc), "seconds": 0.0}


# ----------------------------------------------------------------------------- grouping
