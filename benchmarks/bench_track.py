"""Tracker timing on the fixture month, against the solves it wraps (same run, same machine).

``python benchmarks/bench_track.py``

* ledger figures and alerts (``track(..., replan=False)``) for each of the 19 trading days of
  the fixture month (tests/fixtures/ledger), against the bare month-to-date query
  (:func:`optimizer.tracking.ledger.month_to_date`) of the same days;
* the day-10 re-plan (``track(..., replan=True)``: the plan's solve, the re-plan's solve with
  full diagnostics and the rebalancing MILP) against ``solve_scenario`` of the same re-plan
  scenario (the reference: what the tracker adds to the solve it needs).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from models.calendar import month_trading_days
from optimizer import pipeline
from optimizer.inputs.spec import load_scenario
from optimizer.tracking.ledger import import_csv, init_ledger, month_to_date
from optimizer.tracking.tracker import held_positions, replan_scenario, track

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ledger"


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    sc = load_scenario(FIX / "month_scenario.yaml")
    days = month_trading_days(date(2026, 2, 2))
    with tempfile.TemporaryDirectory() as tmp:
        conn = init_ledger(Path(tmp) / "month.db")
        import_csv(conn, FIX / "month_2026-02.csv")
        pipeline.prepare(sc)  # market and candidates cached, as in a tracking session
        alerts = _time(lambda: [track(conn, sc, d, replan=False) for d in days])
        bare = _time(lambda: [month_to_date(conn, d) for d in days])
        print(f"alerts, 19 days:        {alerts:7.3f} s  ({alerts / len(days) * 1e3:.1f} ms/day)")
        print(f"month_to_date, 19 days: {bare:7.3f} s  ratio {alerts / bare:.1f}x")
        day10 = days[9]
        rep = track(conn, sc, day10, replan=False)
        total = rep["month_to_date"]["total"]
        run_rate = (sc.target.monthly_income - total) * 19 / 9
        held, _ = held_positions(conn, day10, sc.strategies)
        derived = replan_scenario(sc, held, run_rate)

        def full():
            pipeline.clear_cache()
            track(conn, sc, day10, replan=True)

        def reference():
            pipeline.clear_cache()
            pipeline.solve_scenario(derived, min_nlv_search=False)

        t_full = _time(full, repeat=2)
        t_ref = _time(reference, repeat=2)
        print(f"day-10 track + re-plan: {t_full:7.2f} s")
        print(f"solve of the re-plan:   {t_ref:7.2f} s  ratio {t_full / t_ref:.2f}x")
        conn.close()


if __name__ == "__main__":
    main()
