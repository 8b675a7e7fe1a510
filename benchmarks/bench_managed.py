"""Benchmark: managed Monte Carlo path-steps per second of a 4-leg iron condor, single core.

Plain script (not collected by pytest)::

    /work/venv/bin/python benchmarks/bench_managed.py [--paths N] [--repeat R]

Bar (DESIGN.md §6): >= 1M path-steps of a 4-leg structure per second per core. A path-step is one
path advanced one time step with all four legs re-priced (Black-Scholes at the entry IV) and the
management rules evaluated. The count is nominal (paths × grid steps): paths closed early by a rule
are still re-priced to the end of the grid, so management never inflates the figure.

Cases (synthetic flat-vol surface, ES-like 6000, 17 % ATM IV, vol ratio 0.861):

* ``iron_condor_90d``: 16-delta / 50-point-wing iron condor, 90 calendar days = 90 daily steps,
  50 % target, 2x stop, 21-DTE exit, ``--paths`` paths (default 10,000);
* ``iron_condor_0dte``: 16-delta / 30-point-wing 0DTE iron condor, 10:30 → 16:00, 11 half-hour
  steps, 50 % target, 2x stop, 15:00 time exit.

Timed per case: ``kernel`` = :func:`models.managed.simulate_trades` on pre-drawn innovations (path
construction, repricing, management); ``end-to-end`` = :func:`models.managed.simulate_managed`
with one candidate (innovation draws, trades, monthly aggregation), best of ``--repeat`` runs.
Threads of numpy's BLAS/OpenMP pools are pinned to 1 before numpy is imported.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

from models.chain import synthetic_surface  # noqa: E402
from models.managed import (  # noqa: E402
    simulate_innovations,
    simulate_managed,
    simulate_trades,
    time_grid,
)
from models.strategies import ExpiryRule, Management, generate_candidates  # noqa: E402

TARGET = 1_000_000.0  # path-steps per second per core (DESIGN.md §6)
VALUATION = datetime(2026, 1, 30, 10, 30)
VOL_RATIO = 0.861
MULTIPLIER = 50.0


def _condor(rule: ExpiryRule, wing: float):
    surface = synthetic_surface(6000.0, VALUATION, 0.17, strike_increment=5.0)
    (cand,) = generate_candidates(
        strategy="ic",
        template_name="iron_condor",
        legs=None,
        underlying="ES",
        surface=surface,
        expiry_rule=rule,
        grid={"short_delta": [0.16], "wing_width": [wing]},
    )
    return cand


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_case(name: str, cand, management: Management, n_paths: int, repeat: int) -> None:
    """Time one case and print its path-steps per second and the ratio to the bar."""
    steps = len(time_grid(cand)) - 1
    z = simulate_innovations([cand.underlying], n_paths=n_paths, n_steps=steps, seed=1)[0]

    def kernel():
        simulate_trades(cand, z, multiplier=MULTIPLIER, management=management, vol_ratio=VOL_RATIO)

    months, slots = max(n_paths // 5, 2), 5

    def end_to_end():
        simulate_managed(
            [cand],
            multipliers=[MULTIPLIER],
            management=[management],
            entries_per_month=[4.33],
            vol_ratio=VOL_RATIO,
            n_months=months,
            seed=1,
            max_trades_per_month=slots,
        )

    kernel()  # warm-up
    t_kernel = _best(kernel, repeat)
    t_e2e = _best(end_to_end, repeat)
    for label, secs, paths in (
        ("kernel", t_kernel, n_paths),
        ("end-to-end", t_e2e, months * slots),
    ):
        rate = paths * steps / secs
        print(
            f"{name:<18} {label:<11} {paths:>7,} paths x {steps:>3} steps  {secs * 1e3:8.1f} ms  "
            f"{rate / 1e6:6.2f} M path-steps/s  ratio to 1M/s target {rate / TARGET:5.1f}x"
        )


def main() -> None:
    """Parse arguments and run both cases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"single core (OMP/OPENBLAS/MKL threads = {os.environ['OMP_NUM_THREADS']})")
    run_case(
        "iron_condor_90d",
        _condor(ExpiryRule(dte=90), 50.0),
        Management(profit_target=0.5, stop_loss=2.0, exit_dte=21),
        args.paths,
        args.repeat,
    )
    run_case(
        "iron_condor_0dte",
        _condor(ExpiryRule(date=VALUATION + timedelta(hours=5.5)), 30.0),
        Management(profit_target=0.5, stop_loss=2.0, time_exit="15:00"),
        args.paths,
        args.repeat,
    )


if __name__ == "__main__":
    main()
