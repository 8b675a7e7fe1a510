"""Benchmark: the seed 2 capital-scenario audit against a raw draw of its Bernoulli trades.

Plain script (not collected by pytest)::

    .venv/bin/python benchmarks/bench_audit.py [--paths 2000] [--repeat 3]

Rows, measured in the same run:

* ``simulate_equity $10k``: one Monte Carlo of the seed's $10,000 mix (scalping, wheel,
  momentum, vol spike; 12 months × 21 days) under the risk limits — the engine the audit calls
  for every capital level and variant;
* ``reference: raw Bernoulli draw``: ``rng.random(n) < p`` over as many trade slots
  (paths × days × slots per day), the irreducible cost of drawing the same trades; ``x ref`` is
  the engine's time over it;
* ``run_audit (whole)``: the full audit of ``scenarios/quantai/capital_scenarios.yaml`` (claimed
  table, checks, 10 simulations, two break-even searches, five allocation LPs and their
  re-simulations) — the command's goal is under a minute.

Threads of numpy's BLAS/OpenMP pools are pinned to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from models.market.history import load_vix_history  # noqa: E402
from models.streams import fit_regime, simulate_equity  # noqa: E402
from optimizer.audit.capital_scenarios import (  # noqa: E402
    derive_streams,
    load_audit,
    mix_for,
    risk_limits,
    run_audit,
)

REPO = Path(__file__).resolve().parents[1]
FILE = REPO / "scenarios" / "quantai" / "capital_scenarios.yaml"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    spec = load_audit(FILE)
    regime = fit_regime(load_vix_history(spec.resolve(spec.regime.history)), spec.regime.threshold)
    streams, _ = derive_streams(spec)
    mix = mix_for(spec, 10_000.0)
    chosen = [streams[n] for n in mix]
    alloc = [mix[n] for n in mix]
    months = spec.simulation.months
    days = months * spec.simulation.days_per_month
    slots = sum(s.slots for s in chosen)

    def engine():
        simulate_equity(
            chosen,
            alloc,
            10_000.0,
            risk_limits(spec),
            n_paths=args.paths,
            n_months=months,
            seed=1,
            regime=regime,
        )

    rng = np.random.default_rng(0)

    def reference():
        for _ in range(days):
            rng.random((args.paths, slots)) < 0.6  # noqa: B015 - the draw is the work

    t_engine = _best(engine, args.repeat)
    t_ref = _best(reference, args.repeat)
    t0 = time.perf_counter()
    res = run_audit(spec, paths=args.paths)
    t_audit = time.perf_counter() - t0
    n = args.paths * days * slots
    print(f"paths {args.paths}, {days} days, {slots} trade slots per day: {n:,} trade draws")
    print(f"{'case':<32}{'seconds':>10}{'draws/s':>14}{'x ref':>8}")
    print(
        f"{'simulate_equity $10k':<32}{t_engine:>10.3f}{n / t_engine:>14.3g}"
        f"{t_engine / t_ref:>8.1f}"
    )
    print(f"{'reference: raw Bernoulli draw':<32}{t_ref:>10.3f}{n / t_ref:>14.3g}{1.0:>8.1f}")
    print(f"{'run_audit (whole)':<32}{t_audit:>10.3f}{'':>14}{t_audit / t_ref:>8.1f}")
    print(f"audit goal < 60 s: {'met' if res.seconds < 60 else 'MISSED'} ({res.seconds:.1f} s)")


if __name__ == "__main__":
    main()
