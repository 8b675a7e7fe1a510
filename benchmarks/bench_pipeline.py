"""Phase-4 sizing: CPU and wall time per stage, peak memory, and raw HiGHS on the same MILPs.

What is measured (CPU seconds are the stable figure on a shared machine, whose wall time varies
2-10x; CPU is ``time.process_time``, i.e. every thread of the process, HiGHS' included):

1. **Stages.** The median of ``--repeats`` runs of the full
   :func:`optimizer.pipeline.solve_scenario` on ``scenarios/tom_king/phase4.yaml`` (the cache
   cleared before each run: candidates, income model and risk data recomputed), per stage of
   ``result.timings`` in wall **and** CPU seconds. The pipeline is not edited: its clock is
   read through :class:`_recording.StageClock` (``optimizer.pipeline.time`` replaced by a
   proxy that returns the real ``perf_counter`` and logs the process CPU at each call), so each
   stage's CPU is the CPU between the two clock reads that gave its wall time. The
   ``build`` stage excludes the chosen solve's compile and solve (backend wall seconds), so its
   CPU is reported for the whole block (build + compile + solve).
2. **Fresh process.** ``thetaplan solve scenarios/tom_king/phase4.yaml --json`` in
   ``--repeats`` new processes: user + system CPU seconds and peak RSS of each (``os.wait4``),
   and the medians against issue 17's goal (at most 10 CPU-s and 400 MB = 381 MiB). This process runs
   with the CLI's thread pools (:func:`optimizer.cli.app.single_thread_blas`) so that sections 1 and
   3 measure what the CLI runs.
3. **Anchor.** One more solve records every :class:`~optimizer.solve.problem.SizingProblem` handed to
   a backend (:class:`_recording.Recorder`). Each is exported to MPS by highspy
   (``highs_backend.compile_problem(problem).highs.writeModel``; the file is read back and
   compared with the compiled model: columns with their integrality, bounds, costs, offset,
   rows, matrix), then a fresh ``highspy.Highs()`` reads the file and runs with the options the
   package's highs backend sets (:func:`_recording.backend_highs_options`). Reported per MILP
   class (the pipeline stage that asked: main solve, verdict, relaxations, minimal relaxation,
   minimum-NLV search, ...): the backend's CPU (compile + solve) and the raw HiGHS run CPU, and
   the total raw HiGHS CPU against the whole solve's CPU. The raw objective must equal the
   backend's (within the MIP gap; statuses for problems without a solution): mismatches are
   counted and listed.
4. ``--scaling``: one fresh process per run (``python -c``, full ``solve_scenario`` as
   ``thetaplan solve`` runs it unless ``--no-min-nlv``), by candidate count: phase 4 as shipped
   (89), ``phase4_wide.yaml`` narrowed to about 250 and 500, as shipped (1,004) and widened to
   about 2,000. Columns: candidates, process CPU-s, solve CPU-s and wall-s, peak RSS MiB, the
   backend calls stopped by a limit (time / node / iteration: FEASIBLE or NO_SOLUTION outcomes)
   out of all calls, verdict status and max income. ``--scaling-rows`` picks rows,
   ``--timeout`` caps each. ``--scaling-risk`` adds the risk-scenario and SAA-month rows.
5. ``--load N``: ``thetaplan solve <scenario> --json`` in a fresh process, alone and beside ``N``
   CPU-bound pure-Python busy loops (``multiprocessing``), for phase 4 and a ~473-candidate
   case (``phase4_wide`` with narrower grids; ``--load-scenario``/``--load-set`` for another):
   are the JSON documents identical (``timings`` and timing fields of ``solver`` removed), and
   the CPU and wall seconds of both runs.

Every run prints the machine (nproc, CPU model, load average) first. Run::

    .venv/bin/python benchmarks/bench_pipeline.py [--repeats 3] [--scaling [--scaling-rows 89,1000]
        [--timeout 900] [--no-min-nlv] [--scaling-risk]] [--load 2 [--load-scenario PATH]]
        [--skip-stages] [--skip-anchor]

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optimizer.cli.app import single_thread_blas  # noqa: E402  (imports no numpy)

single_thread_blas()  # the CLI's thread pools (one BLAS/OpenMP thread), before numpy loads
from _recording import (  # noqa: E402
    Recorder,
    StageClock,
    classify,
    objectives_match,
    print_machine,
    raw_highs_anchor,
    run_child,
    spin,
)

from optimizer.inputs.spec import load_scenario  # noqa: E402
from optimizer.pipeline import clear_cache, solve_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PHASE4 = ROOT / "scenarios" / "tom_king" / "phase4.yaml"
WIDE = ROOT / "scenarios" / "tom_king" / "phase4_wide.yaml"

#: Issue 17's must-show for ``thetaplan solve phase4.yaml``.
GOAL_CPU_S = 10.0
GOAL_RSS_MB = 400.0
#: bytes of a MiB over bytes of a MB
MIB_IN_MB = 1.048576

_LT112_WIDTHS = {"XSP": [2.5, 5, 7.5, 10], "ES": [25, 50, 75, 100], "MES": [25, 50, 75, 100]}
_STRANGLES = ("MCL", "CL", "MGC", "ZB", "6E")


def _steps(lo: float, hi: float, step: float) -> list[float]:
    n = int(round((hi - lo) / step)) + 1
    return [round(lo + i * step, 4) for i in range(n)]


def grid_overrides(
    *,
    spx: list[float],
    spx_wings: list[float],
    xsp: list[float],
    xsp_wings: list[float],
    naked: list[float],
    long_otm: list[float],
    widths: int,
    strangle: list[float],
) -> list[str]:
    """``--set`` overrides of ``phase4_wide.yaml``'s grids (short deltas, wings, LT112, strangles).

    ``widths`` is how many LT112 spread widths each product gets (from :data:`_LT112_WIDTHS`);
    ``strangle`` is both the put and the call deltas of every futures strangle.
    """
    s = [
        f"strategies.zero_dte.underlyings.SPX.grid.short_delta={spx}",
        f"strategies.zero_dte.underlyings.SPX.grid.wing_width={spx_wings}",
        f"strategies.zero_dte.underlyings.XSP.grid.short_delta={xsp}",
        f"strategies.zero_dte.underlyings.XSP.grid.wing_width={xsp_wings}",
    ]
    for u, w in _LT112_WIDTHS.items():
        s += [
            f"strategies.lt112.underlyings.{u}.grid.naked_otm={naked}",
            f"strategies.lt112.underlyings.{u}.grid.long_otm={long_otm}",
            f"strategies.lt112.underlyings.{u}.grid.spread_width={w[:widths]}",
        ]
    for u in _STRANGLES:
        s += [
            f"strategies.strangle.underlyings.{u}.grid.put_delta={strangle}",
            f"strategies.strangle.underlyings.{u}.grid.call_delta={strangle}",
        ]
    return s


_ZERO_DTE_9 = _steps(0.05, 0.25, 0.025)
#: ~250 candidates (254 with the 2026-01-30 chain).
NARROW_250 = grid_overrides(
    spx=_ZERO_DTE_9,
    spx_wings=[10, 25, 50],
    xsp=_ZERO_DTE_9,
    xsp_wings=[2, 5],
    naked=[0.10, 0.12, 0.14],
    long_otm=[0.05, 0.07],
    widths=2,
    strangle=[0.04, 0.05, 0.06, 0.07, 0.08, 0.10],
)
#: ~473 candidates (474 with the 2026-01-30 chain): the ``--load`` default.
NARROW_473 = grid_overrides(
    spx=_ZERO_DTE_9,
    spx_wings=[10, 20, 25, 30, 50],
    xsp=_ZERO_DTE_9,
    xsp_wings=[2, 3, 5],
    naked=_steps(0.08, 0.14, 0.02),
    long_otm=[0.04, 0.05, 0.06],
    widths=3,
    strangle=_steps(0.03, 0.10, 0.01),
)
#: ~500 candidates (497).
NARROW_500 = grid_overrides(
    spx=_ZERO_DTE_9,
    spx_wings=[10, 20, 30, 50],
    xsp=_ZERO_DTE_9,
    xsp_wings=[2, 3, 5],
    naked=_steps(0.08, 0.14, 0.02),
    long_otm=[0.04, 0.05, 0.06, 0.07],
    widths=3,
    strangle=_steps(0.03, 0.10, 0.01),
)
#: ~2,000 candidates (1,961): more short deltas, wings, LT112 strikes and strangle deltas.
WIDE_2000 = grid_overrides(
    spx=_steps(0.02, 0.40, 0.01),
    spx_wings=[5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 75, 100],
    xsp=_steps(0.02, 0.40, 0.01),
    xsp_wings=[1, 2, 3, 4, 5, 6, 7.5, 10, 12.5, 15],
    naked=_steps(0.06, 0.20, 0.02),
    long_otm=_steps(0.02, 0.09, 0.01),
    widths=3,
    strangle=_steps(0.02, 0.16, 0.01),
)

#: Scaling rows by candidate count: key -> (label, scenario, --set overrides).
SCALING = {
    "89": ("phase 4 as shipped", PHASE4, []),
    "250": ("phase4_wide, narrow grids", WIDE, NARROW_250),
    "500": ("phase4_wide, narrower grids", WIDE, NARROW_500),
    "1000": ("phase4_wide as shipped", WIDE, []),
    "2000": ("phase4_wide, widened grids", WIDE, WIDE_2000),
}
#: Second table (``--scaling-risk``): risk scenarios and SAA months on phase 4.
SCALING_RISK = {
    **{
        f"mc{n}": (
            f"risk scenarios: {n:,} Monte Carlo days",
            PHASE4,
            ["risk.scenarios=monte_carlo", f"risk.monte_carlo.n={n}"],
        )
        for n in (1000, 5000, 20000, 50000)
    },
    **{
        f"saa{m}": (
            f"SAA months: {m:,}",
            PHASE4,
            [f"target.chance.n_months={m}", f"income.paths={max(250, -(-m // 12))}"],
        )
        for m in (252, 1008, 4008)
    },
}


def _thetaplan() -> list[str]:
    exe = Path(sys.executable).with_name("thetaplan")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("thetaplan")
    return (
        [found] if found else [sys.executable, "-c", "from optimizer.cli.app import main; main()"]
    )


def cli_command(scenario: Path, sets: list[str], *extra: str) -> list[str]:
    """``thetaplan solve SCENARIO --json [--set ...]``."""
    cmd = [*_thetaplan(), "solve", str(scenario), "--json", *extra]
    for s in sets:
        cmd += ["--set", s]
    return cmd


# --------------------------------------------------------------------------------------
# 1. stages
# --------------------------------------------------------------------------------------


def stages(repeats: int) -> tuple[float, float]:
    """Median per-stage wall and CPU of the phase-4 solve; returns (median CPU, median wall)."""
    sc = load_scenario(PHASE4)
    solve_scenario(sc)  # warm the chain-parsing cache (a study's later points would share it)
    walls, cpus, totals = [], [], []
    available = True
    verdicts = set()
    for _ in range(repeats):
        clear_cache()  # candidates, income model, risk data: recomputed as in a fresh solve
        c0, w0 = time.process_time(), time.perf_counter()
        with StageClock() as clock:
            r = solve_scenario(sc)
        totals.append((time.process_time() - c0, time.perf_counter() - w0))
        available = available and clock.available
        walls.append({k: v for k, v in r.timings.items() if k != "cached"})
        cpus.append(clock.cpu_split(r.timings))
        verdicts.add((r.verdict.status.value, r.verdict.max_income))
    med = statistics.median
    print(f"1. phase-4 solve_scenario, median of {repeats} runs (cache cleared before each):")
    if not available:
        print(
            "   per-stage CPU not available (optimizer.pipeline does not read time.perf_counter "
            "through its `time` module): pipeline wall split and whole-solve CPU only"
        )
    print(f"   {'stage':<22} {'wall s':>8} {'CPU s':>8}")
    keys = list(walls[0])
    for key in keys:
        w = med(t.get(key, 0.0) for t in walls)
        if key == "build":
            c = [x.get("build+compile+solve") for x in cpus]
            wb = med(t.get("build", 0) + t.get("compile", 0) + t.get("solve", 0) for t in walls)
            cs = "n/a" if None in c else f"{med(c):8.3f}"
            print(f"   {'build':<22} {w:8.3f} {'':>8}")
            print(f"   {'  build+compile+solve':<22} {wb:8.3f} {cs:>8}")
            continue
        if key in ("compile", "solve"):
            print(f"   {key:<22} {w:8.3f} {'(above)':>8}")
            continue
        c = [x.get(key) for x in cpus]
        cs = "n/a" if None in c else f"{med(c):8.3f}"
        print(f"   {key:<22} {w:8.3f} {cs:>8}")
    cpu, wall = med(t[0] for t in totals), med(t[1] for t in totals)
    print(
        f"   whole solve (measured around solve_scenario): CPU {cpu:.2f} s, wall {wall:.2f} s "
        f"(CPU/wall {cpu / wall:.2f})"
    )
    if len(verdicts) > 1:
        print(f"   WARNING: the runs disagree: {sorted(verdicts)}")
    else:
        (status, best) = verdicts.pop()
        print(f"   verdict {status}, max income {best if best is None else f'{best:,.0f}'}")
    print(flush=True)
    return cpu, wall


# --------------------------------------------------------------------------------------
# 2. fresh process
# --------------------------------------------------------------------------------------


def fresh_process(repeats: int) -> None:
    """CPU and peak RSS of ``thetaplan solve phase4.yaml --json`` in ``repeats`` new processes."""
    cmd = cli_command(PHASE4, [])
    print(
        f"2. fresh process, median of {repeats}: "
        + " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
    )
    runs = []
    for _ in range(repeats):
        run = run_child(cmd, cwd=ROOT)
        if run.returncode != 0:
            print(f"   FAILED (exit {run.returncode}): {run.stderr.strip().splitlines()[-3:]}")
            return
        runs.append(run)
        print(
            f"   CPU {run.cpu:.2f} s (user {run.user:.2f} + sys {run.sys:.2f}), "
            f"wall {run.wall:.2f} s, peak RSS {run.maxrss_mib:.0f} MiB",
            flush=True,
        )
    med = statistics.median
    cpu, rss = med(r.cpu for r in runs), med(r.maxrss_mib for r in runs)
    cpu_ok = "met" if cpu <= GOAL_CPU_S else "NOT met"
    # ru_maxrss is in KiB: the goal is in MB (10^6 bytes), 1 MiB = 1.048576 MB
    rss_ok = "met" if rss * MIB_IN_MB <= GOAL_RSS_MB else "NOT met"
    print(
        f"   median CPU {cpu:.2f} s, wall {med(r.wall for r in runs):.2f} s, peak RSS {rss:.0f} MiB"
        f" = {rss * MIB_IN_MB:.0f} MB (max {max(r.maxrss_mib for r in runs):.0f} MiB)"
    )
    print(
        f"   goal (issue 17): <= {GOAL_CPU_S:g} CPU-s -> {cpu_ok}; <= {GOAL_RSS_MB:g} MB -> {rss_ok}"
    )
    print(flush=True)


# --------------------------------------------------------------------------------------
# 3. anchor
# --------------------------------------------------------------------------------------


def anchor(median_cpu: float | None) -> None:
    """Every MILP/LP of one phase-4 solve re-solved by a fresh HiGHS from MPS."""
    sc = load_scenario(PHASE4)
    clear_cache()
    c0, w0 = time.process_time(), time.perf_counter()
    with Recorder() as rec:
        r = solve_scenario(sc)
    solve_cpu, solve_wall = time.process_time() - c0, time.perf_counter() - w0
    print(
        f"3. anchor: the {len(rec.calls)} problems one phase-4 solve handed to a backend "
        f"(this solve: CPU {solve_cpu:.2f} s, wall {solve_wall:.2f} s, recorder on), each "
        "exported to MPS by highspy and run by a fresh Highs()"
    )
    by_class: dict[str, dict] = defaultdict(
        lambda: {"mip": 0, "lp": 0, "cpu": 0.0, "raw": 0.0, "read": 0.0, "limit": 0, "size": 0}
    )
    mismatches, roundtrip_bad, options = [], [], {}
    roundtrip_notes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench_anchor_") as tmp:
        for i, call in enumerate(rec.calls):
            raw = raw_highs_anchor(call.problem, call.options, tmp)
            options["MILP" if call.is_mip else "LP"] = raw.options
            row = by_class[classify(call.stage)]
            row["mip" if call.is_mip else "lp"] += 1
            row["cpu"] += call.cpu
            row["raw"] += raw.run_cpu
            row["read"] += raw.read_cpu
            row["limit"] += int(call.limit_stopped)
            row["size"] = max(row["size"], call.n_cols)
            ok, note = objectives_match(call, raw)
            if not ok:
                mismatches.append(f"#{i} {classify(call.stage)}: {note}")
            if not raw.roundtrip_ok:
                roundtrip_bad.append(f"#{i} {classify(call.stage)}: {raw.roundtrip_note}")
            elif raw.roundtrip_note:
                roundtrip_notes[raw.roundtrip_note] = roundtrip_notes.get(raw.roundtrip_note, 0) + 1
    for kind, opts in options.items():
        print(f"   raw HiGHS options for a {kind} (the highs backend's, output off): {opts}")
    print(
        f"   {'class':<38} {'MILP':>4} {'LP':>4} {'cols':>5} {'backend CPU':>11} "
        f"{'raw CPU':>8} {'ratio':>6} {'limit':>5}"
    )
    tot_cpu = tot_raw = tot_read = 0.0
    for name, row in by_class.items():
        ratio = row["cpu"] / row["raw"] if row["raw"] > 0 else float("inf")
        print(
            f"   {name:<38} {row['mip']:>4} {row['lp']:>4} {row['size']:>5} {row['cpu']:>11.3f} "
            f"{row['raw']:>8.3f} {ratio:>5.1f}x {row['limit']:>5}"
        )
        tot_cpu += row["cpu"]
        tot_raw += row["raw"]
        tot_read += row["read"]
    n_mip = sum(c.is_mip for c in rec.calls)
    print(
        f"   {'all':<38} {n_mip:>4} {len(rec.calls) - n_mip:>4} {'':>5} {tot_cpu:>11.3f} "
        f"{tot_raw:>8.3f} {tot_cpu / tot_raw if tot_raw else float('inf'):>5.1f}x "
        f"{rec.limit_stopped():>5}"
    )
    print(
        "   (backend CPU: the backend call, compile + solve; raw CPU: Highs.run only; "
        f"MPS reads {tot_read:.3f} CPU-s more; limit: calls stopped by a limit"
        + (
            ": " + ", ".join(sorted({f"{c.limit}" for c in rec.calls if c.limit_stopped}))
            if rec.limit_stopped()
            else ""
        )
        + ")"
    )
    ref = median_cpu if median_cpu is not None else solve_cpu
    which = "median of section 1" if median_cpu is not None else "this recorded solve"
    print(
        f"   raw HiGHS CPU over all {len(rec.calls)} problems {tot_raw:.3f} s vs the whole solve's "
        f"CPU {ref:.2f} s ({which}): solve / raw HiGHS = {ref / tot_raw if tot_raw else 0:.1f}x; "
        f"backend calls {tot_cpu / ref:.0%} of the solve's CPU"
    )
    print(
        f"   anchor checks: {len(mismatches)} objective mismatch(es) out of {len(rec.calls)}; "
        f"{len(roundtrip_bad)} MPS round-trip difference(s)"
    )
    for line in (mismatches + roundtrip_bad)[:10]:
        print(f"     {line}")
    for note, count in roundtrip_notes.items():
        print(f"     equivalent after reading back ({count} problem(s)): {note}")
    print(f"   verdict {r.verdict.status.value}, max income {r.verdict.max_income}", flush=True)
    print()


# --------------------------------------------------------------------------------------
# 4. scaling
# --------------------------------------------------------------------------------------

_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from _recording import Recorder, classify
from optimizer.pipeline import solve_scenario
from optimizer.inputs.spec import load_scenario
sc = load_scenario(sys.argv[2], json.loads(sys.argv[3]))
min_nlv = sys.argv[4] == "1"
c0, w0 = time.process_time(), time.perf_counter()
with Recorder(keep_problems=False) as rec:
    r = solve_scenario(sc, min_nlv_search=min_nlv)
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
limited = {}
for c in rec.calls:
    if c.limit_stopped:
        key = f"{classify(c.stage)} ({c.limit})"
        limited[key] = limited.get(key, 0) + 1
print(json.dumps({
    "k": len(r.candidates), "cpu": cpu, "wall": wall, "calls": len(rec.calls),
    "mips": sum(c.is_mip for c in rec.calls), "limited": limited,
    "status": r.verdict.status.value, "max": r.verdict.max_income,
    "solver_status": r.solver.get("status"),
}))
"""


def scaling_table(rows: dict, title: str, *, min_nlv: bool, timeout: float) -> None:
    """One fresh process per row: CPU, wall, peak RSS, limit-stopped calls, verdict."""
    print(title)
    print(
        f"   {'run':<34} {'K':>5} {'proc CPU':>8} {'solve CPU':>9} {'wall':>7} {'peak MiB':>8} "
        f"{'limit/calls':>11}  verdict"
    )
    for label, scenario, sets in rows.values():
        cmd = [
            sys.executable,
            "-c",
            _CHILD,
            str(BENCH),
            str(scenario),
            json.dumps(sets),
            "1" if min_nlv else "0",
        ]
        run = run_child(cmd, timeout=timeout, cwd=ROOT)
        line = next((x for x in run.stdout.splitlines() if x.startswith("{")), None)
        if line is None:
            why = (
                f"timed out after {timeout:g} s"
                if run.timed_out
                else f"failed: {run.stderr.strip().splitlines()[-1:]}"
            )
            print(
                f"   {label:<34} {'?':>5} {run.cpu:>8.1f} {'':>9} {run.wall:>7.1f} "
                f"{run.maxrss_mib:>8.0f} {'':>11}  {why}",
                flush=True,
            )
            continue
        d = json.loads(line)
        lim = sum(d["limited"].values())
        where = " [" + ", ".join(f"{k}: {v}" for k, v in d["limited"].items()) + "]" if lim else ""
        frac = f"{lim}/{d['calls']}"
        print(
            f"   {label:<34} {d['k']:>5} {run.cpu:>8.1f} {d['cpu']:>9.1f} {d['wall']:>7.1f} "
            f"{run.maxrss_mib:>8.0f} {frac:>11}  {d['status']} "
            f"(max {d['max'] or 0:,.0f}; objective solve {d['solver_status']}){where}",
            flush=True,
        )
    print(
        "   (proc CPU: user+sys of the whole process, imports included; solve CPU and wall: "
        "around solve_scenario; limit/calls: backend calls stopped by a limit / all calls, "
        "[class (limit: nodes, time, other)])"
    )
    print(flush=True)


# --------------------------------------------------------------------------------------
# 5. load
# --------------------------------------------------------------------------------------

_TIMING_WORDS = ("second", "wall", "cpu", "elapsed", "runtime", "run_time", "timing")


def comparable(doc: dict) -> dict:
    """The JSON document without ``timings`` and the timing fields of ``solver``."""
    out = {k: v for k, v in doc.items() if k != "timings"}
    if isinstance(out.get("solver"), dict):
        out["solver"] = {
            k: v for k, v in out["solver"].items() if not any(w in k.lower() for w in _TIMING_WORDS)
        }
    return out


def _diff(a, b, path="", out=None, limit=8):
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'alone' if k in a else 'loaded'}")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out, limit)
    elif a != b:
        out.append(f"{path}: {str(a)[:80]!r} vs {str(b)[:80]!r}")
    return out


def load_test(n: int, cases: list[tuple[str, Path, list[str]]], timeout: float) -> None:
    """Each case alone and beside ``n`` busy loops: identical JSON? CPU and wall of both."""
    print(f"5. load: thetaplan solve --json alone and beside {n} CPU-bound busy loop(s)")
    ctx = multiprocessing.get_context("spawn")
    for label, scenario, sets in cases:
        cmd = cli_command(scenario, sets)
        alone = run_child(cmd, timeout=timeout, cwd=ROOT)
        spinners = [ctx.Process(target=spin, daemon=True) for _ in range(n)]
        for p in spinners:
            p.start()
        try:
            time.sleep(2.0)  # let them start spinning
            loaded = run_child(cmd, timeout=timeout, cwd=ROOT)
        finally:
            for p in spinners:
                p.terminate()
            for p in spinners:
                p.join()
        docs = []
        for run in (alone, loaded):
            try:
                docs.append(comparable(json.loads(run.stdout)))
            except json.JSONDecodeError:
                docs.append(None)
        k = (docs[0] or {}).get("solver", {}).get("candidates", "?")
        print(f"   {label} ({k} candidates):")
        for name, run in (("alone", alone), (f"beside {n}", loaded)):
            extra = " TIMED OUT" if run.timed_out else ""
            print(
                f"     {name:<10} CPU {run.cpu:7.2f} s  wall {run.wall:7.2f} s  "
                f"peak {run.maxrss_mib:5.0f} MiB  exit {run.returncode}{extra}"
            )
        if None in docs:
            print("     JSON: could not compare (a run printed no JSON document)")
        elif docs[0] == docs[1]:
            print("     JSON identical (timings and solver timing fields removed)")
        else:
            print("     JSON DIFFERS:")
            for line in _diff(docs[0], docs[1]):
                print(f"       {line}")
        sys.stdout.flush()
    print()


# --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="solves per stage median (default 3)")
    ap.add_argument("--skip-stages", action="store_true", help="skip sections 1 and 2")
    ap.add_argument("--skip-anchor", action="store_true", help="skip section 3")
    ap.add_argument("--scaling", action="store_true", help="the scaling table by candidates")
    ap.add_argument(
        "--scaling-rows",
        default=",".join(SCALING),
        help=f"comma-separated subset of {','.join(SCALING)} (default all)",
    )
    ap.add_argument("--scaling-risk", action="store_true", help="risk / SAA-month rows too")
    ap.add_argument("--no-min-nlv", action="store_true", help="scaling: no minimum-NLV search")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child process")
    ap.add_argument("--load", type=int, default=0, metavar="N", help="busy loops beside a solve")
    ap.add_argument("--load-scenario", type=Path, help="second --load case (default ~473 K)")
    ap.add_argument("--load-set", action="append", default=[], help="--set for --load-scenario")
    args = ap.parse_args()

    print_machine("bench_pipeline: phase-4 sizing, CPU and wall seconds")
    median_cpu = None
    if not args.skip_stages:
        median_cpu, _ = stages(args.repeats)
        fresh_process(args.repeats)
    if not args.skip_anchor:
        anchor(median_cpu)
    if args.scaling:
        keys = [k.strip() for k in args.scaling_rows.split(",") if k.strip()]
        unknown = [k for k in keys if k not in SCALING]
        if unknown:
            ap.error(f"--scaling-rows: unknown {unknown}; choose from {list(SCALING)}")
        scaling_table(
            {k: SCALING[k] for k in keys},
            "4. scaling by candidate count (one fresh process per run, "
            f"{'no' if args.no_min_nlv else 'with'} minimum-NLV search, timeout "
            f"{args.timeout:g} s):",
            min_nlv=not args.no_min_nlv,
            timeout=args.timeout,
        )
        if args.scaling_risk:
            scaling_table(
                SCALING_RISK,
                "4b. scaling by risk scenarios and SAA months (phase 4, one process per run):",
                min_nlv=not args.no_min_nlv,
                timeout=args.timeout,
            )
    if args.load:
        second = (
            (str(args.load_scenario), args.load_scenario, args.load_set)
            if args.load_scenario
            else ("phase4_wide, narrow grids (~473)", WIDE, NARROW_473)
        )
        load_test(args.load, [("phase 4 as shipped", PHASE4, []), second], args.timeout)


if __name__ == "__main__":
    main()
