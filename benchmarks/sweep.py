"""Study sweeps: the cached re-solve path vs raw HiGHS and vs rebuilding, and 1 vs 2 workers.

On a small grid of the phase-4 scenario (3 VIX levels × 4 account sizes, light diagnostics, no
minimum-NLV search, expected income per point as in ``sweep_vix_account.yaml``):

(a) per point that differs from the previous one only in NLV (the market, candidates and income
    simulation come from :func:`optimizer.pipeline.prepare`'s cache), the point's whole solve
    time vs the raw HiGHS run time of every LP/MILP the point solved (each problem the pipeline
    handed to a backend is recorded, loaded into highspy by
    :func:`optimizer.backends.highs_backend.compile_problem` and only ``Highs.run()`` is timed).
    Goal of the issue: ≤ 1.5×; the median stage timings of those points say what dominates;
(b) the same points rebuilt from scratch (:func:`optimizer.pipeline.clear_cache` before each)
    vs the cached re-solve: goal ≥ 5× faster;
(c) :func:`optimizer.sweep.run_sweep` wall time in process, with 1 and with 2 Dask workers
    (``LocalCluster``), results compared.

All ratios are measured in the same run. Run: ``python benchmarks/sweep.py [--skip-dask]``.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from optimizer import solving
from optimizer.backends import highs_backend
from optimizer.pipeline import clear_cache, solve_scenario
from optimizer.status import SolverOptions
from optimizer.study import load_study
from optimizer.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
VIX = [15, 20, 25]
NLV = [50000, 75000, 100000, 150000]


def study_file(folder: Path) -> Path:
    """The 3 × 4 phase-4 grid study (written to ``folder``)."""
    path = folder / "phase4_grid.yaml"
    path.write_text(
        "name: phase 4, 3 VIX x 4 NLV (benchmark)\n"
        f"base: {ROOT / 'scenarios' / 'tom_king' / 'phase4.yaml'}\n"
        "overrides: {target.success_probability: null, account.phase: 4}\n"
        "grid:\n"
        "  axes:\n"
        f"    market.vix: {VIX}\n"
        f"    account.net_liq: {NLV}\n"
        "solve: {diagnostics: light, min_nlv: false}\n"
    )
    return path


class Recorder:
    """Record every problem the pipeline hands to a backend (``optimizer.solving.solve``)."""

    def __init__(self) -> None:
        self.problems: list = []
        self._orig = solving.solve

    def __enter__(self) -> Recorder:
        def recording(problem, backend, options):
            self.problems.append((problem, options))
            return self._orig(problem, backend, options)

        solving.solve = recording
        return self

    def __exit__(self, *exc) -> None:
        solving.solve = self._orig


def raw_highs_seconds(problem, options: SolverOptions) -> float:
    """``Highs.run()`` wall time of ``problem`` (model loaded beforehand, output off)."""
    model = highs_backend.compile_problem(problem)
    h = model.highs
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(options.time_limit))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    t0 = time.perf_counter()
    h.run()
    return time.perf_counter() - t0


def solve(point, study):
    return solve_scenario(
        point.scenario,
        min_nlv_search=study.solve.min_nlv,
        diagnostics_level=study.solve.diagnostics,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-dask", action="store_true", help="skip (c)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        run(Path(tmp), skip_dask=args.skip_dask)


def run(tmp: Path, *, skip_dask: bool) -> None:
    """Measure (a), (b) and (c) (module docstring); files go to ``tmp``."""
    from optimizer.cli_io import stdout_to_stderr
    from optimizer.study import expand

    study = load_study(study_file(tmp))
    points = expand(study)
    print(f"{study.name}: {len(points)} points", flush=True)

    # (a) re-solve path vs raw HiGHS, (b) vs from scratch
    resolve_t, raw_t, scratch_t, n_problems, stages = [], [], [], [], []
    with stdout_to_stderr():
        clear_cache()
        for p in points:
            with Recorder() as rec:
                t0 = time.perf_counter()
                r = solve(p, study)
                total = time.perf_counter() - t0
            if not r.timings.get("cached"):
                continue  # the first point of a VIX level builds the market
            resolve_t.append(total)
            raw_t.append(sum(raw_highs_seconds(pr, o) for pr, o in rec.problems))
            n_problems.append(len(rec.problems))
            stages.append(r.timings)
        scratch_by_index = {}
        for p in points:
            clear_cache()
            t0 = time.perf_counter()
            solve(p, study)
            scratch_by_index[p.index] = time.perf_counter() - t0
    cached_idx = [p.index for p in points if p.values["account.net_liq"] != NLV[0]]
    scratch_t = [scratch_by_index[i] for i in cached_idx]

    med = statistics.median
    print(f"\n(a) {len(resolve_t)} points that change only NLV (cached market), per point:")
    print(
        f"  sweep re-solve {med(resolve_t):.3f} s   raw HiGHS {med(raw_t):.3f} s over "
        f"{med(n_problems):.0f} LP/MILP solves   ratio (medians) {med(resolve_t) / med(raw_t):.1f}x"
        f"   ratio (totals) {sum(resolve_t) / sum(raw_t):.1f}x   (goal <= 1.5x)"
    )
    keys = [k for k in stages[0] if k not in ("total", "cached")]
    split = sorted(((med(s.get(k, 0.0) for s in stages), k) for k in keys), reverse=True)
    print("  median stage times (s): " + ", ".join(f"{k} {v:.3f}" for v, k in split if v >= 5e-4))
    # out_of_sample (the chosen book re-simulated on fresh paths) and risk_data (scenario P&L per
    # contract) do not depend on NLV for a fixed market: what caching them per market would leave
    rest = [
        t - s.get("out_of_sample", 0.0) - s.get("risk_data", 0.0)
        for t, s in zip(resolve_t, stages, strict=True)
    ]
    print(
        f"  without out_of_sample and risk_data: {med(rest):.3f} s per point = "
        f"{med(rest) / med(raw_t):.1f}x raw HiGHS (medians); from scratch would then be "
        f"{med(scratch_t) / med(rest):.1f}x slower"
    )
    print(
        f"\n(b) from scratch (cache cleared) {med(scratch_t):.3f} s per point vs re-solve "
        f"{med(resolve_t):.3f} s: {med(scratch_t) / med(resolve_t):.1f}x faster (medians), "
        f"{sum(scratch_t) / sum(resolve_t):.1f}x (totals)   (goal >= 5x)"
    )

    if skip_dask:
        return
    print("\n(c) run_sweep wall time (12 points):", flush=True)
    walls, frames = {}, {}
    for label, kw in (
        ("in process", {}),
        ("1 worker", {"workers": 1}),
        ("2 workers", {"workers": 2}),
    ):
        clear_cache()
        out = tmp / f"{label.replace(' ', '_')}.parquet"
        t0 = time.perf_counter()
        frames[label] = run_sweep(study, out=out, progress=False, **kw)
        walls[label] = time.perf_counter() - t0
        print(f"  {label:<11} {walls[label]:6.1f} s", flush=True)
    print(
        f"  1 worker / 2 workers = {walls['1 worker'] / walls['2 workers']:.2f}x;  "
        f"in process / 2 workers = {walls['in process'] / walls['2 workers']:.2f}x"
    )
    base = frames["in process"].drop(columns="seconds")
    for label in ("1 worker", "2 workers"):
        pd.testing.assert_frame_equal(base, frames[label].drop(columns="seconds"), check_exact=True)
    print("  results identical (all columns but seconds) in the three runs")


if __name__ == "__main__":
    sys.exit(main())
