"""Study sweeps: the cached re-solve path vs raw HiGHS and vs rebuilding, and 1 vs 2 workers.

CPU seconds (``time.process_time``: the whole process, HiGHS' threads included) are the figure
compared; wall seconds are printed beside them (a shared machine's wall time varies 2-10x).

Default: a small grid of the phase-4 scenario (3 VIX levels × 4 account sizes, light
diagnostics, no minimum-NLV search, expected income per point as in ``sweep_vix_account.yaml``):

(a) per point that differs from the previous one only in NLV (the market, candidates and income
    simulation come from :func:`optimizer.pipeline.prepare`'s cache), the point's whole solve
    CPU vs the raw HiGHS CPU of every LP/MILP the point solved: each problem the pipeline handed
    to a backend is recorded (:class:`_recording.Recorder`), exported to MPS by highspy
    (``highs_backend.compile_problem(problem).highs.writeModel``: every column, integrality
    included; checked by reading it back), read by a fresh ``highspy.Highs()`` and run with the
    options the highs backend sets; only ``Highs.run()`` is timed
    (:func:`_recording.raw_highs_anchor`). Per-point ratio (median) and the ratio of totals;
    goal of the issue: ≤ 1.5×. The raw objective must equal the backend's (within the MIP
    gap): mismatches are counted. The median stage times (wall and CPU, read through
    :class:`_recording.StageClock`) say what dominates;
(b) the same points rebuilt from scratch (:func:`optimizer.pipeline.clear_cache` before each)
    vs the cached re-solve: goal ≥ 5× faster (CPU);
(c) :func:`optimizer.studies.sweep.run_sweep` wall time in process, with 1 and with 2 Dask workers
    (``LocalCluster``), results compared (wall only: the workers are other processes).

``--points N``: (a) on the first ``N`` points (row-major: VIX outer, NLV inner) of the study
``scenarios/tom_king/sweep_vix_account.yaml`` (400 points, 20 VIX × 20 NLV) instead of the
small grid; (b) and (c) are skipped. The first point of each VIX level builds the market and is
reported apart.

All ratios are measured in the same run; the machine (nproc, CPU model, load average) is printed
first. Run::

    .venv/bin/python benchmarks/sweep.py [--skip-dask] [--points 400]

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optimizer.cli.app import single_thread_blas  # noqa: E402  (imports no numpy)

single_thread_blas()  # the CLI's thread pools (one BLAS/OpenMP thread), before numpy loads
import pandas as pd  # noqa: E402
from _recording import (  # noqa: E402
    Recorder,
    StageClock,
    classify,
    objectives_match,
    print_machine,
    raw_highs_anchor,
)

from optimizer.pipeline import clear_cache, solve_scenario  # noqa: E402
from optimizer.studies.study import load_study  # noqa: E402
from optimizer.studies.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STUDY_400 = ROOT / "scenarios" / "tom_king" / "sweep_vix_account.yaml"
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


def solve(point, study):
    return solve_scenario(
        point.scenario,
        min_nlv_search=study.solve.min_nlv,
        diagnostics_level=study.solve.diagnostics,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-dask", action="store_true", help="skip (c)")
    ap.add_argument(
        "--points",
        type=int,
        default=0,
        metavar="N",
        help="(a) on the first N points of sweep_vix_account.yaml (400 = all); skips (b), (c)",
    )
    args = ap.parse_args()
    print_machine("sweep: study re-solve path vs raw HiGHS (CPU seconds, wall beside)")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        if args.points:
            study = load_study(STUDY_400)
            resolve_vs_raw(study, Path(tmp), limit=args.points)
        else:
            run(Path(tmp), skip_dask=args.skip_dask)


def resolve_vs_raw(study, tmp: Path, *, limit: int | None = None) -> dict:
    """(a): every point solved in order; re-solve points' CPU vs raw HiGHS CPU on their MILPs.

    Returns the per-point measurements (``cpu``, ``wall``, ``raw_cpu``, ``raw_wall``, ``n``,
    ``stages``, ``stages_cpu`` for the cached points; ``built`` for the others; ``index``).
    """
    from optimizer.outputs import stdout_to_stderr
    from optimizer.studies.study import expand

    points = expand(study)
    total_points = len(points)
    if limit:
        points = points[:limit]
    print(f"{study.name}: {len(points)} of {total_points} points", flush=True)
    m = {k: [] for k in ("cpu", "wall", "raw_cpu", "raw_wall", "n", "mip", "stages", "stages_cpu")}
    m["index"], m["built"] = [], []
    mismatches, roundtrip, limited, classes = [], [], {}, {}
    t_start = time.perf_counter()
    with stdout_to_stderr():
        clear_cache()
        for p in points:
            with Recorder() as rec, StageClock() as clock:
                c0, w0 = time.process_time(), time.perf_counter()
                r = solve(p, study)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            if not r.timings.get("cached"):
                m["built"].append((cpu, wall))  # the first point of a VIX level builds the market
                continue
            raw_cpu = raw_wall = 0.0
            for call in rec.calls:
                raw = raw_highs_anchor(call.problem, call.options, tmp)
                raw_cpu += raw.run_cpu
                raw_wall += raw.run_wall
                ok, note = objectives_match(call, raw)
                if not ok:
                    mismatches.append(f"point {p.index} {classify(call.stage)}: {note}")
                if not raw.roundtrip_ok:
                    roundtrip.append(f"point {p.index}: {raw.roundtrip_note}")
                if call.limit_stopped:
                    limited[call.limit] = limited.get(call.limit, 0) + 1
                classes[classify(call.stage)] = classes.get(classify(call.stage), 0) + 1
            m["index"].append(p.index)
            m["cpu"].append(cpu)
            m["wall"].append(wall)
            m["raw_cpu"].append(raw_cpu)
            m["raw_wall"].append(raw_wall)
            m["n"].append(len(rec.calls))
            m["mip"].append(sum(c.is_mip for c in rec.calls))
            m["stages"].append(r.timings)
            m["stages_cpu"].append(clock.cpu_split(r.timings))
            if limit and len(m["cpu"]) % 50 == 0:
                print(
                    f"  ... {len(m['cpu'])} re-solve points ({time.perf_counter() - t_start:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

    med = statistics.median
    n = len(m["cpu"])
    print(f"\n(a) {n} points that change only NLV (cached market), per point:")
    if not n:
        print("  none (every point built its market)")
        return m
    ratios = [c / r if r > 0 else float("inf") for c, r in zip(m["cpu"], m["raw_cpu"], strict=True)]
    print(
        f"  sweep re-solve CPU {med(m['cpu']):.3f} s (wall {med(m['wall']):.3f} s)   raw HiGHS "
        f"CPU {med(m['raw_cpu']):.4f} s (wall {med(m['raw_wall']):.4f} s) over "
        f"{med(m['n']):.0f} LP/MILP solves ({med(m['mip']):.0f} MILPs)"
    )
    print(
        f"  CPU ratio per point: median {med(ratios):.2f}x, min {min(ratios):.1f}x, "
        f"max {max(ratios):.1f}x;  ratio of totals {sum(m['cpu']) / sum(m['raw_cpu']):.2f}x"
        f"   (goal <= 1.5x)"
    )
    print(
        f"  wall ratio (medians) {med(m['wall']) / med(m['raw_wall']):.1f}x, "
        f"(totals) {sum(m['wall']) / sum(m['raw_wall']):.1f}x"
    )
    print(
        f"  problems by class: {classes}; stopped by a limit: {sum(limited.values())} "
        f"{limited or ''}; anchor checks: "
        f"{len(mismatches)} objective mismatch(es), {len(roundtrip)} MPS round-trip difference(s)"
    )
    for line in (mismatches + roundtrip)[:10]:
        print(f"    {line}")
    if m["built"]:
        print(
            f"  {len(m['built'])} market-building points (not in the ratios): median CPU "
            f"{med(c for c, _ in m['built']):.2f} s, wall {med(w for _, w in m['built']):.2f} s"
        )
    keys = [k for k in m["stages"][0] if k not in ("total", "cached")]
    split = []
    for k in keys:
        w = med(s.get(k, 0.0) for s in m["stages"])
        ck = "build+compile+solve" if k == "build" else k
        cs = [s.get(ck) for s in m["stages_cpu"]]
        c = None if None in cs or k in ("compile", "solve") else med(cs)
        split.append((w, k if k != "build" else "build (CPU: +compile+solve)", c))
    split.sort(key=lambda x: x[0], reverse=True)
    print(
        "  median stage times, wall s / CPU s: "
        + ", ".join(
            f"{k} {w:.3f}/{'-' if c is None else f'{c:.3f}'}" for w, k, c in split if w >= 5e-4
        )
    )
    # out_of_sample (the chosen book re-simulated on fresh paths) and risk_data (scenario P&L per
    # contract) do not depend on NLV for a fixed market: what caching them per market would leave
    rest = [
        t - (sc.get("out_of_sample") or 0.0) - (sc.get("risk_data") or 0.0)
        for t, sc in zip(m["cpu"], m["stages_cpu"], strict=True)
    ]
    print(
        f"  without out_of_sample and risk_data: {med(rest):.3f} CPU-s per point = "
        f"{med(rest) / med(m['raw_cpu']):.1f}x raw HiGHS (medians)"
    )
    return m


def run(tmp: Path, *, skip_dask: bool) -> None:
    """Measure (a), (b) and (c) (module docstring) on the 3 × 4 grid; files go to ``tmp``."""
    from optimizer.outputs import stdout_to_stderr
    from optimizer.studies.study import expand

    study = load_study(study_file(tmp))
    m = resolve_vs_raw(study, tmp)

    points = expand(study)
    scratch = {}
    with stdout_to_stderr():
        for p in points:
            if p.index not in m["index"]:
                continue
            clear_cache()
            c0, w0 = time.process_time(), time.perf_counter()
            solve(p, study)
            scratch[p.index] = (time.process_time() - c0, time.perf_counter() - w0)
    med = statistics.median
    s_cpu = [scratch[i][0] for i in m["index"]]
    s_wall = [scratch[i][1] for i in m["index"]]
    print(
        f"\n(b) from scratch (cache cleared) CPU {med(s_cpu):.3f} s (wall {med(s_wall):.3f} s) per "
        f"point vs re-solve CPU {med(m['cpu']):.3f} s (wall {med(m['wall']):.3f} s): "
        f"{med(s_cpu) / med(m['cpu']):.1f}x faster (CPU, medians), "
        f"{sum(s_cpu) / sum(m['cpu']):.1f}x (CPU, totals), "
        f"{med(s_wall) / med(m['wall']):.1f}x (wall, medians)   (goal >= 5x)"
    )

    if skip_dask:
        return
    print(f"\n(c) run_sweep wall time ({len(points)} points; workers are separate processes):")
    walls, frames = {}, {}
    for label, kw in (
        ("in process", {}),
        ("1 worker", {"workers": 1}),
        ("2 workers", {"workers": 2}),
    ):
        clear_cache()
        out = tmp / f"{label.replace(' ', '_')}.parquet"
        c0, t0 = time.process_time(), time.perf_counter()
        frames[label] = run_sweep(study, out=out, progress=False, **kw)
        walls[label] = time.perf_counter() - t0
        print(
            f"  {label:<11} {walls[label]:6.1f} s wall  (this process's CPU "
            f"{time.process_time() - c0:6.1f} s)",
            flush=True,
        )
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
