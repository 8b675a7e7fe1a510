"""Backtest speed: months per second, and what a month costs beside a plain solve.

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--months 12] [--from 2008-01-01]``.

For ``--months`` months of phase 4 (``scenarios/tom_king/phase4.yaml``, fixed NLV, the
backtest's ``book`` diagnostics) in this process, sequentially:

* **backtest month**: :func:`optimizer.studies.backtest.month_row` — the month's solve, the
  realized month on history (engine) and the forecast's figures;
* **reference, in the same run**: :func:`optimizer.pipeline.solve_scenario` alone on the same
  months' scenarios (the same diagnostics, a cleared cache), i.e. what ``thetaplan solve`` of
  each month would cost.

Prints CPU and wall seconds per month for both, their ratio, months per second, and the CPU time
a 408-month (34-year) walk needs, with the wall time it takes on 2 worker processes if the
months divide evenly (the Dask runner keeps one month per worker; measure the real run with
``thetaplan backtest … --workers 2``). CPU seconds are ``time.process_time`` deltas.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _recording import print_machine  # noqa: E402

from optimizer.outputs import stdout_to_stderr  # noqa: E402
from optimizer.pipeline import clear_cache, solve_scenario  # noqa: E402
from optimizer.studies import backtest as bt  # noqa: E402
from optimizer.studies.study import expand  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--from", dest="start", default="2008-01-01")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios/tom_king/phase4.yaml"))
    args = ap.parse_args()
    print_machine("backtest: months per second (phase 4)")
    st = bt.backtest_study(args.scenario, start=args.start)
    points = expand(st)[: args.months]
    with stdout_to_stderr():
        solve_scenario(points[0].scenario, min_nlv_search=False, diagnostics_level="book")
        clear_cache()
        bt.path_history(points[0].scenario)  # parsed once per process in either case
        c0, w0 = time.process_time(), time.perf_counter()
        rows = [bt.month_row(p, st.solve, ()) for p in points]
        c1, w1 = time.process_time(), time.perf_counter()
        clear_cache()
        for p in points:
            solve_scenario(p.scenario, min_nlv_search=False, diagnostics_level="book")
        c2, w2 = time.process_time(), time.perf_counter()
    n = len(points)
    failed = sum(r["error"] is not None for r in rows)
    books = sum((r["contracts"] or 0) > 0 for r in rows)
    bcpu, bwall = (c1 - c0) / n, (w1 - w0) / n
    scpu, swall = (c2 - c1) / n, (w2 - w1) / n
    print(f"months: {n} from {points[0].name} ({books} with a book, {failed} failed)")
    print(f"{'':28s}{'CPU s/month':>12s}{'wall s/month':>14s}")
    print(f"{'backtest month':28s}{bcpu:12.2f}{bwall:14.2f}")
    print(f"{'reference: solve alone':28s}{scpu:12.2f}{swall:14.2f}")
    print(f"ratio backtest / solve: CPU {bcpu / scpu:.2f}x, wall {bwall / swall:.2f}x")
    print(f"months per second (1 process): {1.0 / bwall:.3f}")
    total = 408 * bcpu
    print(
        f"408 months (1990-2023): {total / 60:.1f} CPU-min; on 2 worker processes about "
        f"{total / 2 / 60:.1f} min of wall if the CPU is free"
    )


if __name__ == "__main__":
    main()
