"""The plan walked forward through history, month by month, against what the model predicted.

:func:`run_backtest` re-sizes a scenario every month of a window of the S&P 500 / VIX history,
runs the book it chose on what happened next, and keeps the model's forecast of that month beside
the realized month, so the forecast can be checked (:func:`calibration`).

Months
    A month is the income model's month: 21 trading days (:mod:`models.measure.managed`). The
    window is cut into consecutive 21-trading-day months from the first trading day on or after
    ``start`` (with 252 trading days a year the month starts stay within a few days of the
    calendar months' first days over decades); month ``k`` is sized at the close of its start day
    ``s_k`` and held over the 21 closes ``s_k + 1 .. s_k + 21``; ``s_{k+1} = s_k + 21``, so the
    months tile the window and the equity curve has no gap and no overlap.
Market of a month
    The scenario's market with ``market.vix`` = the VIX close of ``s_k`` and the chains' smiles
    moved to it by ``vix_rule`` (:class:`models.market.surfaces.VixShiftedSurface`; default the
    scenario's own rule, else ``proportional``, the studies' default). The underlying's *level*
    stays the scenario's (today's chain, today's contract sizes, fixed per-contract margins and
    fees): the history enters through returns and the VIX, so a 1990 month is the 1990 move
    applied to today's contracts. Reading the level from history instead would price 1990's
    index with today's fixed margins (ES GBP 12,000 per unit), fees and futures prices.
    Futures underlyings keep their stated levels and their own vol model
    (:mod:`optimizer.inputs.income_model`), driven by the real S&P 500 days (crude oil by WTI's own
    residual of the date, through 2019): no gold, bond or euro history is shipped, so the
    realized months of those strangles carry the model's own idiosyncratic draws (seeded per
    month). ``income_realized_sp500`` is the part of the realized month from the S&P 500
    products (SPX, XSP, ES, MES …), which is history alone.
Sizing
    :func:`optimizer.pipeline.solve_scenario` at the month's NLV (``book`` diagnostics: no
    relaxations, no max-probability search, no minimum-NLV search): the same book ``thetaplan solve`` gives for that market. The NLV is the
    scenario's every month (``nlv="fixed"``) or the previous month's NLV plus its realized income
    (``"compound"``, months one after another).
Realized month
    :func:`optimizer.inputs.income_model.realize_income`: the income model's engine, with the
    strategies' management rules and costs, run on the one real path whose warm-up ends at the
    close of ``s_k``: the steady-state book of the month (its ladder built on the real history
    before ``s_k``, every schedule starting on the warm-up's first day, so a monthly trade opens
    at the close of ``s_k``), its trades closed or marked to market at the close of ``s_k + 21``.
    This is exactly the quantity the model forecasts (a steady-state month of the book), on what
    happened instead of on simulated paths. The trades open at the month's start are the ones
    the month's book would have opened on the real path before it (the book is rebalanced to its
    new counts at no cost at every month start): positions carried from an earlier month keep
    running on the real path, but at the current book's counts and moneyness.
Forecast of a month
    The solve's out-of-sample months of the chosen book (``SizingResult.monthly_pnl``: the months
    of its P(month ≥ target) and monthly quantiles); without a ``risk:`` section the in-sample
    months of the chance constraint. Per month: the mean, the 5/25/50/75/95% quantiles,
    P(month ≥ target), and the PIT of the realized month, ``F(x) = P(X < x) + P(X = x) / 2``
    (the mid-distribution PIT for samples with ties). A month with an empty book has no forecast
    to check (PIT missing).
Model window
    ``model_window="full"`` (default) keeps the scenario's income-model history (1990-2023 for
    the shipped files): every month's forecast has seen the whole history, the later crashes
    included, so the check is in sample. ``"expanding"`` sets ``income.history_end`` to the
    month's start day: the FHS measure and the variance-time shares only know the past (the
    1-day VaR scenario set and the named stresses still use the whole file).

Execution as :func:`optimizer.studies.sweep.run_sweep`: each month is a study point (a case
overriding ``market.vix``), checkpointed to ``<out>.parts/`` as it finishes, resumable after a
kill, solved in process or on Dask (months are independent with a fixed NLV); with a
compounding NLV the months run one after another in this process.

Units: money in the account currency per month; returns are fractions of the month's NLV.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from models.errors import SpecError
from models.measure import physical
from optimizer.studies.study import CaseSpec, Point, SolveOptions, Study, expand

__all__ = [
    "COLUMNS",
    "MONTH_DAYS",
    "QUANTILES",
    "BacktestOptions",
    "backtest_study",
    "month_row",
    "month_starts",
    "path_history",
    "run_backtest",
]

#: Trading days of a month (the income model's month).
MONTH_DAYS = 21
#: Quantile levels of the forecast kept per month.
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
_QCOLS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)
#: First day of the history the realized paths are read from (EWMA-filtered before the VIX):
#: warm-ups of the first months of 1990 reach back into 1989.
_PATH_HISTORY_START = "1960-01-04"

#: Columns of the month table, in order.
COLUMNS: tuple[str, ...] = (
    "index",
    "month",
    "month_end",
    "nlv",
    "vix",
    "positions",
    "contracts",
    "book",
    "income_expected",
    "income_predicted_mean",
    "income_realized",
    "income_realized_gross",
    "income_realized_sp500",
    "costs",
    "pit",
    *_QCOLS,
    "p_target",
    "target_hit",
    "forecast_basis",
    "drawdown",
    "status",
    "error",
    "seconds",
)


@dataclass(frozen=True)
class BacktestOptions:
    """How the plan is walked (see the module docstring).

    Parameters
    ----------
    nlv : {"fixed", "compound"}
        The scenario's NLV every month, or the previous NLV plus its realized income.
    vix_rule : {"sticky_moneyness", "proportional"} | None
        How the chains' smiles move to a month's VIX; ``None`` = the scenario's rule, else
        ``proportional``.
    model_window : {"full", "expanding"}
        The income model's history: the scenario's, or only the days up to the month's start.
    diagnostics : str
        Diagnostics level of each month's solve (``book``: the headline book, its verdict
        and out-of-sample risk, no relaxations, no max-probability search).
    """

    nlv: Literal["fixed", "compound"] = "fixed"
    vix_rule: Literal["sticky_moneyness", "proportional"] | None = None
    model_window: Literal["full", "expanding"] = "full"
    diagnostics: str = "book"


# ----------------------------------------------------------------------------- history
def path_history(scenario) -> physical.FilteredHistory:
    """The S&P 500 / VIX history of ``scenario.market.history`` the realized months are read
    from (:func:`models.measure.physical.filtered_history` from 1960, EWMA-filtered before the
    VIX starts), parsed once per process.

    Raises
    ------
    SpecError
        No ``market.history``.
    """
    h = scenario.market.history
    if h is None:
        raise SpecError("market.history: the backtest needs the VIX and S&P 500 histories")
    from optimizer.inputs.history import filtered_window

    return filtered_window(scenario, _PATH_HISTORY_START, None)


def month_starts(
    history: physical.FilteredHistory, start=None, end=None
) -> list[tuple[pd.Timestamp, int, pd.Timestamp]]:
    """The backtest's months: ``(start day, its index in history.dates, end day)``.

    Consecutive 21-trading-day months from the first day on or after ``start`` that has a real
    VIX close; the last month ends on or before ``end`` (default the end of the history).

    Raises
    ------
    SpecError
        No complete month in the window.
    """
    dates = history.dates
    vix_day = history.filter_kind == "vix"
    lo = pd.Timestamp(start) if start is not None else dates[vix_day][0]
    hi = pd.Timestamp(end) if end is not None else dates[-1]
    first = int(np.searchsorted(dates, lo))
    while first < len(dates) and not vix_day[first]:
        first += 1
    out = []
    i = first
    while i + MONTH_DAYS < len(dates) and dates[i + MONTH_DAYS] <= hi:
        out.append((dates[i], i, dates[i + MONTH_DAYS]))
        i += MONTH_DAYS
    if not out:
        raise SpecError(
            f"--from/--to: no complete {MONTH_DAYS}-trading-day month between {lo.date()} and "
            f"{hi.date()} in the history ({history.window})"
        )
    return out


# ----------------------------------------------------------------------------- study
def backtest_study(
    scenario_path: str | Path,
    *,
    sets: list[str] | tuple[str, ...] = (),
    start=None,
    end=None,
    index_history: str | Path | None = None,
    vix_history: str | Path | None = None,
    options: BacktestOptions = BacktestOptions(),
) -> Study:
    """The backtest as a study: one case per month (its start date, its VIX).

    Parameters
    ----------
    scenario_path : str | Path
        The scenario file.
    sets : sequence of str
        ``dotted.path=value`` overrides applied to every month (as ``solve --set``).
    start, end : date-like | None
        Window (default the history's VIX days).
    index_history, vix_history : path | None
        CSV files replacing ``market.history.index`` / ``.vix`` (same columns as the shipped
        files), for the months and the income model alike.
    options : BacktestOptions

    Returns
    -------
    Study
        Cases named by their start date (ISO); ``solve`` = the options' diagnostics level, no
        minimum-NLV search.

    Raises
    ------
    SpecError
        Invalid scenario or overrides, a scenario the backtest cannot walk (no managed income
        model, held positions, fixed-economics strategies), no month in the window.
    """
    from optimizer.inputs.spec import apply_overrides, load_scenario

    path = Path(scenario_path)
    overrides: dict[str, Any] = {}
    for item in sets:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected dotted.path=value")
        key, value = item.split("=", 1)
        overrides[key.strip()] = apply_overrides({}, [f"v={value}"])["v"]
    for flag, key, value in (
        ("--index-history", "market.history.index", index_history),
        ("--vix-history", "market.history.vix", vix_history),
    ):
        if value is not None:
            p = Path(value).resolve()
            if not p.is_file():
                raise SpecError(f"{flag}: file not found: {value}")
            overrides[key] = str(p)
    base = load_scenario(path, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    _check_walkable(base)
    rule = options.vix_rule
    if rule is None:
        rule = base.market.vix_rule if base.market.vix_rule != "none" else "proportional"
    hist = path_history(base)
    months = month_starts(hist, start, end)
    cases = []
    for day, i, _ in months:
        case: dict[str, Any] = {"market.vix": round(float(hist.vix[i]), 6)}
        if options.model_window == "expanding":
            case["income.history_end"] = day.date().isoformat()
        cases.append(CaseSpec(name=day.date().isoformat(), overrides=case))
    name = (
        f"backtest {base.name} [nlv {options.nlv}, vix_rule {rule}, model {options.model_window}]"
    )
    return Study(
        name=name,
        base=path.resolve(),
        overrides=overrides,
        vix_rule=rule,
        cases=cases,
        solve=SolveOptions(diagnostics=options.diagnostics, min_nlv=False),
        base_dir=path.resolve().parent,
    )


def _check_walkable(scenario) -> None:
    if scenario.income.model != "managed":
        raise SpecError(
            "income.model: the backtest runs the managed income model on history; "
            f"{scenario.income.model!r} has no trades to walk"
        )
    if scenario.held:
        raise SpecError("held: the backtest sizes the whole book every month; remove held:")
    fixed = [n for n, s in scenario.strategies.items() if getattr(s, "template", None) == "fixed"]
    if fixed:
        raise SpecError(
            f"strategies.{fixed[0]}: stated economics (template fixed) cannot be walked "
            "through history"
        )
    if scenario.market.history is None:
        raise SpecError("market.history: the backtest needs the VIX and S&P 500 histories")


# ----------------------------------------------------------------------------- one month
def _seed(scenario, day: str) -> int:
    return zlib.crc32(f"{scenario.income.seed}|{day}".encode())


def _pit(x: np.ndarray, r: float) -> float:
    """Mid-distribution PIT ``P(X < r) + P(X = r) / 2`` of ``r`` under the sample ``x``."""
    return float(np.mean(x < r) + 0.5 * np.mean(x == r))


def month_row(
    point: Point, options: SolveOptions, swept, nlv: float | None = None
) -> dict[str, Any]:
    """Size, realize and forecast one month (a backtest study point); errors become the row's.

    Parameters
    ----------
    point : Point
        The month's point (name = its start date, scenario at its VIX).
    options : SolveOptions
        Diagnostics level and minimum-NLV search of the solve.
    swept : sequence
        Unused (the sweep runner's signature).
    nlv : float | None
        NLV of the month (compounding); default the scenario's.

    Returns
    -------
    dict
        One row of :data:`COLUMNS` (``drawdown`` is filled in by :func:`run_backtest`).
    """
    from optimizer.pipeline import prepare, solve_scenario

    t0 = time.perf_counter()
    scenario = point.scenario
    if nlv is not None:
        scenario = scenario.model_copy(
            update={"account": scenario.account.model_copy(update={"net_liq": float(nlv)})}
        )
    day = pd.Timestamp(point.name)
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(index=point.index, month=day.date().isoformat(), nlv=scenario.account.net_liq)
    try:
        hist = path_history(scenario)
        start = int(hist.dates.get_loc(day))
        row["month_end"] = hist.dates[start + MONTH_DAYS].date().isoformat()
        row["vix"] = float(hist.vix[start])
        result = solve_scenario(
            scenario, min_nlv_search=options.min_nlv, diagnostics_level=options.diagnostics
        )
        prep = prepare(scenario)
        pos = result.positions
        counts = {
            str(i): int(n) for i, n in zip(pos["id"], pos["contracts"], strict=True) if int(n) > 0
        }
        row["status"] = result.verdict.status.value
        row["positions"] = len(counts)
        row["contracts"] = int(sum(counts.values()))
        row["book"] = json.dumps(counts, sort_keys=True)
        row["income_expected"] = float(result.portfolio["expected_monthly_income"])
        target = float(scenario.target.monthly_income)
        if counts:
            row.update(_realized(scenario, prep, result, counts, hist, start, row["month"]))
        else:
            row.update(
                income_realized=0.0,
                income_realized_gross=0.0,
                income_realized_sp500=0.0,
                costs=0.0,
                income_predicted_mean=0.0,
                p_target=float(0.0 >= target),
                target_hit=bool(0.0 >= target),
                forecast_basis="empty book",
                **{c: 0.0 for c in _QCOLS},
            )
    except Exception as exc:  # a failing month is a result: the backtest goes on
        from optimizer.studies.points import _one_line

        row["error"] = _one_line(exc)
    row["seconds"] = time.perf_counter() - t0
    return row


def _realized(scenario, prep, result, counts: dict[str, int], hist, start: int, month: str):
    """The book's realized month (engine on history) and its forecast's figures."""
    from optimizer.inputs.income_model import SP500_FAMILY, realize_income

    target = float(scenario.target.monthly_income)
    ids = list(prep.candidates.ids)
    rows = [ids.index(c) for c in counts]
    n = np.array(list(counts.values()), dtype=float)
    real = realize_income(
        scenario, prep.candidates, prep.market, rows, hist, start, seed=_seed(scenario, month)
    )
    per = np.asarray(real.monthly_samples[0], dtype=float) * n
    net = float(per.sum())
    sp500 = np.array([prep.candidates.structures[c].underlying in SP500_FAMILY for c in counts])
    costs = float(np.asarray(real.costs_monthly).sum(axis=1) @ n)
    if result.monthly_pnl is not None:
        x, basis = np.asarray(result.monthly_pnl, dtype=float), "out of sample"
    else:
        inc = prep.income
        cols = [inc.ids.index(c) for c in counts]
        x = np.asarray(inc.result.monthly_samples)[:, cols] @ n
        basis = "in sample"
    qs = np.quantile(x, QUANTILES)
    return dict(
        income_realized=net,
        income_realized_gross=net + costs,
        income_realized_sp500=float(per[sp500].sum()),
        costs=costs,
        income_predicted_mean=float(x.mean()),
        pit=_pit(x, net),
        p_target=float(np.mean(x >= target)),
        target_hit=bool(net >= target),
        forecast_basis=basis,
        **{c: float(q) for c, q in zip(_QCOLS, qs, strict=True)},
    )


# ----------------------------------------------------------------------------- the walk
def run_backtest(
    study: Study,
    *,
    out: str | Path,
    nlv: Literal["fixed", "compound"] = "fixed",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Walk the months of a :func:`backtest_study`, checkpointed, and write the month table.

    Parameters
    ----------
    study : Study
        From :func:`backtest_study`.
    out : str | Path
        Parquet file of the month table (checkpoints in ``<out>.parts/``).
    nlv : {"fixed", "compound"}
        ``compound`` runs the months one after another in this process (``workers`` and
        ``scheduler`` are then an error).
    workers, scheduler, resume, progress
        As :func:`optimizer.studies.sweep.run_sweep`.

    Returns
    -------
    pandas.DataFrame
        One row per month (:data:`COLUMNS`), ``drawdown`` from the equity curve (NLV of the
        first month plus the cumulated realized income; compounding: each month's NLV plus its
        income), as a fraction of the running peak (<= 0).

    Raises
    ------
    SpecError
        Bad flags or output paths (before anything is solved).
    """
    from optimizer.studies import sweep

    if nlv == "compound" and (workers is not None or scheduler is not None):
        # each month's NLV needs the month before: in process, in order
        raise SpecError("--nlv compound runs the months in order: drop --workers/--scheduler")
    if nlv == "fixed":
        # months of one market (the same VIX close) share a worker and its cached market
        df = sweep.run_sweep(
            study,
            out=out,
            workers=workers,
            scheduler=scheduler,
            resume=resume,
            progress=progress,
            task=month_row,
            columns=COLUMNS,
            unit="months",
        )
    else:
        df = _run_compound(study, Path(out), resume, progress)
    return _with_drawdown(df, Path(out))


def _run_compound(study: Study, out: Path, resume: bool, progress: bool) -> pd.DataFrame:
    from optimizer.outputs import check_output_path, stdout_to_stderr
    from optimizer.studies import sweep
    from optimizer.studies.checkpoints import _Checkpoints

    out = check_output_path(out, "--out")
    points = expand(study)
    store = _Checkpoints(out, study, points)
    store.preflight(resume)
    store.open()
    try:
        done = store.done(points) if resume else {}
        with sweep._progress(progress, study.name, len(points), len(done), "months") as bar:
            with stdout_to_stderr():
                nlv = float(points[0].scenario.account.net_liq)
                for p in points:
                    if p.index in done:
                        row = done[p.index]
                    else:
                        if nlv <= 0:
                            row = {c: None for c in COLUMNS}
                            row.update(
                                index=p.index,
                                month=p.name,
                                nlv=nlv,
                                seconds=0.0,
                                error="account exhausted: NLV <= 0",
                            )
                        else:
                            row = month_row(p, study.solve, (), nlv=nlv)
                        store.write(p, row)
                        bar.advance(1, errors=row["error"] is not None)
                    inc = row.get("income_realized")
                    if inc is not None and not pd.isna(inc):
                        nlv = float(row["nlv"]) + float(inc)
        df = store.combine(points, COLUMNS)
    except BaseException:
        store.close()
        raise
    store.remove()
    return df


def _with_drawdown(df: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Fill ``drawdown`` from the equity curve and rewrite ``out`` (atomically)."""
    from optimizer.outputs import atomic_write

    inc = pd.to_numeric(df["income_realized"], errors="coerce").fillna(0.0).to_numpy()
    nlv = pd.to_numeric(df["nlv"], errors="coerce").to_numpy()
    if len(df):
        # the first month's NLV plus every realized month so far: with a fixed NLV the money is
        # not reinvested; compounding, it is each month's NLV plus its income (the same sum)
        equity = nlv[0] + np.cumsum(inc)
        start = np.concatenate([[nlv[0]], equity])
        peak = np.maximum.accumulate(start)[1:]
        df["drawdown"] = equity / peak - 1.0
    atomic_write(out, lambda p: df.to_parquet(p, index=False))
    return df
