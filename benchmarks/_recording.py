"""Shared measuring helpers of the benchmarks: machine header, solve recorder, raw-HiGHS anchor.

Used by ``bench_pipeline.py``, ``sweep.py`` and ``bench_solve.py``; not a benchmark itself and
not collected by pytest.

* :func:`print_machine` prints nproc, the CPU model (``/proc/cpuinfo``) and the load average:
  shared machines vary 2-10x in wall time, so every benchmark says where it ran.
* :class:`Recorder` records every :class:`~optimizer.solve.problem.SizingProblem` handed to a backend
  (``optimizer.solve.backends.solve`` and the backend modules' ``solve`` / ``solve_compiled``, under
  every name a module imported them by), with the options, the outcome, the CPU and wall
  seconds of the backend call and the pipeline stage that asked for it (read from the call
  stack: the function :func:`optimizer.pipeline.solve_scenario` called, or the ``what`` label of
  :meth:`optimizer.solve.solving.SolveContext.solve`).
* :func:`raw_highs_anchor` exports a recorded problem to MPS through highspy
  (``highs_backend.compile_problem(problem).highs.writeModel``), checks that the file reads back
  as the same model (every column with its integrality, bounds, costs, offset and matrix) and
  times a fresh ``highspy.Highs()`` that ``readModel``\\ s the file and ``run``\\ s with the
  HiGHS options the package's highs backend sets for the same :class:`SolverOptions` (read off a
  solved model, so new limits such as node or iteration caps are picked up). CPU seconds are
  ``time.process_time`` deltas (the whole process, HiGHS' worker threads included).
* :func:`run_child` runs a command in a fresh process and returns its user + system CPU seconds
  and peak RSS (``os.wait4``: that child only).
* :class:`StageClock` gives the CPU seconds of the pipeline's own timing stages without editing
  the pipeline: while active, ``optimizer.pipeline``'s ``time`` module is replaced by a proxy
  whose ``perf_counter`` returns the real wall clock (behaviour unchanged) and also logs
  ``time.process_time()`` at each call; a stage's wall seconds in ``result.timings`` are then the
  difference of two logged calls, and the CPU difference of the same two calls is its CPU time.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from optimizer.solve.status import SolveOutcome, SolverOptions, SolveStatus

__all__ = [
    "AnchorRun",
    "Call",
    "ChildRun",
    "Recorder",
    "StageClock",
    "backend_highs_options",
    "classify",
    "machine_lines",
    "objectives_match",
    "print_machine",
    "raw_highs_anchor",
    "run_child",
    "spin",
]


# --------------------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------------------


def machine_lines() -> list[str]:
    """nproc, CPU model, load average, Python and HiGHS versions, as printable lines."""
    ncpu = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = ncpu
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "n/a"
    try:
        from importlib.metadata import version

        hv = version("highspy")
    except Exception:  # noqa: BLE001 - informative only
        hv = "?"
    return [
        f"machine: nproc {usable} (of {ncpu}), CPU {model}",
        f"         load average (1/5/15 min) {load}; Python {platform.python_version()}, "
        f"highspy {hv}",
    ]


def print_machine(title: str) -> None:
    """Print ``title`` and the machine lines (to stdout, flushed)."""
    print(title)
    for line in machine_lines():
        print(line)
    print(flush=True)


# --------------------------------------------------------------------------------------
# recorder
# --------------------------------------------------------------------------------------

#: Stage (function ``solve_scenario`` called, or ``SolveContext.solve``'s ``what``) -> class.
CLASSES: dict[str, str] = {
    "solve_sizing": "main (scenario objective)",
    "max_probability": "max-probability search",
    "max_income": "verdict: max income",
    "LP relaxation": "verdict: LP relaxation (binding caps)",
    "conflicts": "conflict search",
    "relaxations": "relaxations (one cap family each)",
    "minimal_relaxation": "minimal relaxation (elastic)",
    "min_nlv": "minimum-NLV search",
    "_caps_at": "caps at 64x NLV (min-NLV note)",
}


def classify(stage: str) -> str:
    """Readable MILP class of a recorded stage (the stage name itself when unknown)."""
    return CLASSES.get(stage, stage)


@dataclass
class Call:
    """One problem handed to a backend.

    Attributes
    ----------
    problem : SizingProblem or None
        The problem (None when the recorder does not keep problems).
    options : SolverOptions
        Options of the call.
    backend : str
        Backend asked for (``cvxpy``, ``highs``, ``pulp``, or a backend module's name).
    stage : str
        See :class:`Recorder`.
    what : str or None
        ``SolveContext.solve``'s ``what`` label, if the call came through it.
    outcome : SolveOutcome
        What the backend returned.
    cpu, wall : float
        Process CPU seconds and wall seconds of the backend call (compile + solve).
    is_mip : bool
        The problem has integer columns.
    n_cols, n_rows : int
        Problem size.
    """

    problem: object
    options: SolverOptions
    backend: str
    stage: str
    what: str | None
    outcome: SolveOutcome
    cpu: float
    wall: float
    is_mip: bool
    n_cols: int
    n_rows: int

    @property
    def limit(self) -> str | None:
        """The limit that stopped the backend: ``SolveOutcome.limit`` (``"nodes"``, ``"time"``,
        ``"other"``) where the outcome has it, else ``"limit"`` for a FEASIBLE / NO_SOLUTION
        outcome; None when the solve finished."""
        if hasattr(self.outcome, "limit"):
            return self.outcome.limit
        if self.outcome.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION):
            return "limit"
        return None

    @property
    def limit_stopped(self) -> bool:
        """The backend stopped at a limit (see :attr:`limit`)."""
        return self.limit is not None


def _stage_of(frame) -> tuple[str, str | None]:
    """(stage, what) of a backend call, from the frames above it."""
    what = None
    child = None
    f = frame
    while f is not None:
        code = f.f_code
        if what is None and code.co_name == "solve" and code.co_filename.endswith("solving.py"):
            w = f.f_locals.get("what")
            what = w if isinstance(w, str) else None
        if code.co_name == "solve_scenario" and code.co_filename.endswith("pipeline.py"):
            if child is None:
                return "solve_scenario", what
            name = child.f_code.co_name
            if name == "solve" and child.f_code.co_filename.endswith("solving.py"):
                return (what or "solve"), what
            return name, what
        child = f
        f = f.f_back
    return "outside solve_scenario", what


class Recorder:
    """Record every problem the code hands to a backend (context manager).

    Wraps ``optimizer.solve.backends.solve`` and ``solve`` / ``solve_compiled`` of the cvxpy, highs and
    pulp backend modules, replacing every module attribute under ``optimizer`` that is one of
    them (so ``from optimizer.solve.backends import solve`` in the pipeline's modules is caught too).
    Nested calls (``backends.solve`` -> ``cvxpy_backend.solve`` -> ``solve_compiled``) are one
    record, the outermost. The wrappers pass straight through once the recorder has exited.

    A call's ``stage`` is the function :func:`optimizer.pipeline.solve_scenario` called that led
    to it (``solve_sizing``, ``max_income``, ``relaxations``, ``minimal_relaxation``,
    ``min_nlv``, ...; :func:`classify` names them), or the ``what`` label when
    ``solve_scenario`` called :meth:`~optimizer.solve.solving.SolveContext.solve` itself (``LP
    relaxation``); ``"outside solve_scenario"`` otherwise.

    Parameters
    ----------
    keep_problems : bool
        Keep each :class:`~optimizer.solve.problem.SizingProblem` (needed by the anchor; costs memory).
    """

    _lock = threading.Lock()

    def __init__(self, keep_problems: bool = True) -> None:
        self.keep_problems = keep_problems
        self.calls: list[Call] = []
        self._patched: list[tuple[ModuleType, str, Callable]] = []
        self._local = threading.local()
        self._holds_lock = False
        self._active = False

    # -- patching ------------------------------------------------------------------------
    def _targets(self) -> list[tuple[Callable, str]]:
        import optimizer.solve.backends as backends
        from optimizer.solve.backends import cvxpy_backend, highs_backend, pulp_backend

        out: list[tuple[Callable, str]] = [(backends.solve, "dispatch")]
        for mod in (cvxpy_backend, highs_backend, pulp_backend):
            for name in ("solve", "solve_compiled"):
                fn = getattr(mod, name, None)
                if callable(fn):
                    out.append((fn, mod.BACKEND_NAME))
        return out

    def _wrap(self, fn: Callable, kind: str) -> Callable:
        rec = self

        def wrapper(*args, **kwargs):
            if not rec._active or getattr(rec._local, "depth", 0):
                return fn(*args, **kwargs)
            rec._local.depth = 1
            try:
                c0, w0 = time.process_time(), time.perf_counter()
                out = fn(*args, **kwargs)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            finally:
                rec._local.depth = 0
            rec._record(kind, args, kwargs, out, cpu, wall, sys._getframe(1))
            return out

        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        return wrapper

    def _record(self, kind, args, kwargs, out, cpu, wall, frame) -> None:
        from optimizer.solve.problem import SizingProblem

        first = args[0] if args else kwargs.get("problem", kwargs.get("model"))
        problem = first if isinstance(first, SizingProblem) else getattr(first, "problem", None)
        if not isinstance(problem, SizingProblem):
            return
        if kind == "dispatch":
            backend = args[1] if len(args) > 1 else kwargs.get("backend", "cvxpy")
            options = args[2] if len(args) > 2 else kwargs.get("options", SolverOptions())
        else:
            backend = kind
            options = args[1] if len(args) > 1 else kwargs.get("options", SolverOptions())
        stage, what = _stage_of(frame)
        self.calls.append(
            Call(
                problem=problem if self.keep_problems else None,
                options=options,
                backend=str(backend),
                stage=stage,
                what=what,
                outcome=out,
                cpu=cpu,
                wall=wall,
                is_mip=bool(problem.is_mip),
                n_cols=int(problem.n_variables),
                n_rows=int(problem.n_rows),
            )
        )

    def __enter__(self) -> Recorder:
        if not Recorder._lock.acquire(blocking=False):
            raise RuntimeError("another Recorder is active (recorders do not nest)")
        self._holds_lock = True
        self._active = True
        try:
            for fn, kind in self._targets():
                wrapper = self._wrap(fn, kind)
                for mod in list(sys.modules.values()):
                    name = getattr(mod, "__name__", "") or ""
                    if not (name == "optimizer" or name.startswith("optimizer.")):
                        continue
                    for attr, value in list(vars(mod).items()):
                        if value is fn:
                            setattr(mod, attr, wrapper)
                            self._patched.append((mod, attr, fn))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._active = False
        for mod, attr, fn in reversed(self._patched):
            setattr(mod, attr, fn)
        self._patched.clear()
        if self._holds_lock:
            self._holds_lock = False
            Recorder._lock.release()

    # -- summaries -----------------------------------------------------------------------
    @property
    def problems(self) -> list[tuple[object, SolverOptions]]:
        """``(problem, options)`` per call (what ``sweep.py``'s old recorder kept)."""
        return [(c.problem, c.options) for c in self.calls]

    def limit_stopped(self) -> int:
        """Number of calls the backend stopped at a limit."""
        return sum(c.limit_stopped for c in self.calls)


# --------------------------------------------------------------------------------------
# raw HiGHS anchor
# --------------------------------------------------------------------------------------

_OPTIONS_CACHE: dict[tuple[SolverOptions, bool], dict[str, object]] = {}


def _option_names() -> list[str]:
    import highspy

    return [
        n
        for n in dir(highspy.HighsOptions)
        if not n.startswith("_") and not callable(getattr(highspy.HighsOptions, n, None))
    ]


def _option_value(h, name: str) -> object:
    """``Highs.getOptionValue`` as a plain value (highspy returns ``(status, value)``)."""
    got = h.getOptionValue(name)
    if isinstance(got, tuple) and len(got) == 2:
        return got[1]
    return got


def backend_highs_options(options: SolverOptions, mip: bool = True) -> dict[str, object]:
    """HiGHS options the package's highs backend sets for ``options`` (non-default ones).

    Compiles a one-column problem (integer if ``mip``, else continuous: the backend applies
    MILP-only settings to MILPs only) with
    :func:`optimizer.solve.backends.highs_backend.compile_problem`, solves it with
    ``solve_compiled(model, options)`` and reads every HiGHS option of the model that differs
    from the same probe run with HiGHS' defaults: exactly what the backend applies before a run
    (time limit, gap, threads, node limit, presolve and MIP settings, whatever it adds later),
    without calling private helpers. ``output_flag`` is left out (always off here).
    """
    key = (options, bool(mip))
    if key in _OPTIONS_CACHE:
        return dict(_OPTIONS_CACHE[key])
    from optimizer.solve.backends import highs_backend
    from optimizer.solve.problem import (
        LinearBlock,
        Objective,
        SizingProblem,
        VariableGroup,
        VarKind,
    )

    kind = VarKind.INTEGER if mip else VarKind.CONTINUOUS
    g = VariableGroup.build("x", kind, 1, upper=np.array([1.0]))
    p = SizingProblem(
        (g,),
        (LinearBlock("r", "probe", {"x": np.array([[1.0]])}, -np.inf, 1.0, ("r",)),),
        Objective("o", "maximize", {"x": np.array([1.0])}),
    )
    model = highs_backend.compile_problem(p)
    highs_backend.solve_compiled(model, dataclasses.replace(options, verbose=False))
    # the same probe run with HiGHS' defaults: a MIP run changes some options itself
    # (e.g. primal_feasibility_tolerance), which cancels out of the comparison
    ref = highs_backend.compile_problem(p).highs
    ref.setOptionValue("output_flag", False)
    ref.run()
    out: dict[str, object] = {}
    for name in _option_names():
        try:
            a = _option_value(model.highs, name)
            b = _option_value(ref, name)
        except Exception:  # noqa: BLE001 - option not readable through the API
            continue
        if a != b and name not in ("output_flag", "log_to_console"):
            out[name] = a
    _OPTIONS_CACHE[key] = dict(out)
    return out


@dataclass
class AnchorRun:
    """A recorded problem re-solved by a fresh HiGHS from its exported MPS file.

    Attributes
    ----------
    read_cpu : float
        CPU seconds of ``Highs.readModel``.
    run_cpu, run_wall : float
        CPU and wall seconds of ``Highs.run`` (the anchor).
    status : str
        HiGHS model status name.
    objective : float or None
        HiGHS' objective value (None without a primal solution).
    roundtrip_ok : bool
        The MPS file read back as the compiled model (see :func:`raw_highs_anchor`).
    roundtrip_note : str
        What differed, if anything (or an equivalence note, e.g. free rows dropped).
    options : dict
        HiGHS options set (besides ``output_flag``).
    """

    read_cpu: float
    run_cpu: float
    run_wall: float
    status: str
    objective: float | None
    roundtrip_ok: bool
    roundtrip_note: str
    options: dict = field(default_factory=dict)


def _lp_arrays(h) -> dict[str, np.ndarray | float | int]:
    import scipy.sparse as sp

    lp = h.getLp()
    a = lp.a_matrix_
    shape = (lp.num_row_, lp.num_col_)
    start, index, value = (np.asarray(x) for x in (a.start_, a.index_, a.value_))
    if int(a.format_) == 1:  # kColwise
        m = sp.csc_array((value, index, start), shape=shape)
    else:
        m = sp.csr_array((value, index, start), shape=shape)
    integ = np.asarray([int(t) for t in lp.integrality_], dtype=int)
    if integ.size == 0:
        integ = np.zeros(lp.num_col_, dtype=int)
    sense = -1.0 if "Maximize" in str(lp.sense_) else 1.0
    return {
        "num_col": lp.num_col_,
        "num_row": lp.num_row_,
        "cost": np.asarray(lp.col_cost_, dtype=float),
        "col_lower": np.asarray(lp.col_lower_, dtype=float),
        "col_upper": np.asarray(lp.col_upper_, dtype=float),
        "row_lower": np.asarray(lp.row_lower_, dtype=float),
        "row_upper": np.asarray(lp.row_upper_, dtype=float),
        "integrality": integ,
        "offset": float(lp.offset_),
        "sense": sense,
        "matrix": sp.csr_array(m),
    }


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    inf_a, inf_b = np.abs(a) >= 1e30, np.abs(b) >= 1e30
    if not np.array_equal(inf_a, inf_b) or not np.array_equal(np.sign(a[inf_a]), np.sign(b[inf_b])):
        return False
    fa, fb = a[~inf_a], b[~inf_b]
    return bool(np.all(np.abs(fa - fb) <= 1e-12 * np.maximum(1.0, np.abs(fa))))


def _drop_free_rows(ref: dict) -> tuple[dict, int]:
    """``ref`` without its free rows (both bounds infinite): MPS ``N`` rows, which HiGHS' reader
    drops (they constrain nothing)."""
    free = (ref["row_lower"] <= -1e30) & (ref["row_upper"] >= 1e30)
    if not free.any():
        return ref, 0
    keep = ~free
    out = dict(ref)
    out["num_row"] = int(keep.sum())
    out["row_lower"], out["row_upper"] = ref["row_lower"][keep], ref["row_upper"][keep]
    out["matrix"] = ref["matrix"][keep.nonzero()[0], :]
    return out, int(free.sum())


def _compare_models(ref: dict, got: dict) -> tuple[bool, str]:
    """(same model?, note): ``got`` (read back from MPS) against ``ref`` (compiled)."""
    note = ""
    if ref["num_row"] != got["num_row"]:
        ref, n_free = _drop_free_rows(ref)
        if n_free:
            note = f"{n_free} free row(s) dropped by the MPS reader (they constrain nothing)"
    bad = []
    for k in ("num_col", "num_row"):
        if ref[k] != got[k]:
            bad.append(f"{k} {ref[k]} vs {got[k]}")
    if bad:
        return False, "; ".join(bad)
    if not np.array_equal(ref["integrality"], got["integrality"]):
        n = int(np.sum(ref["integrality"] != got["integrality"]))
        bad.append(f"integrality of {n} columns")
    # HiGHS' MPS writer may store a maximisation as a minimisation of -c (then -offset)
    flip = ref["sense"] * got["sense"]
    if not _same(ref["cost"], flip * got["cost"]):
        bad.append("costs")
    if abs(ref["offset"] - flip * got["offset"]) > 1e-9 * max(1.0, abs(ref["offset"])):
        bad.append(f"offset {ref['offset']} vs {flip * got['offset']}")
    for k in ("col_lower", "col_upper", "row_lower", "row_upper"):
        if not _same(ref[k], got[k]):
            bad.append(k)
    d = (ref["matrix"] - got["matrix"]).tocoo()
    if d.nnz and np.max(np.abs(d.data)) > 1e-12 * max(1.0, np.max(np.abs(ref["matrix"].data))):
        bad.append("matrix")
    if bad:
        return False, "; ".join(bad) + (f" ({note})" if note else "")
    return True, note


def raw_highs_anchor(
    problem, options: SolverOptions, folder: str | os.PathLike | None = None
) -> AnchorRun:
    """Export ``problem`` to MPS via highspy, read it into a fresh HiGHS and time ``run()``.

    Parameters
    ----------
    problem : SizingProblem
        A recorded problem.
    options : SolverOptions
        The options it was solved with (HiGHS gets :func:`backend_highs_options` of them, the
        MILP or the LP set by ``problem.is_mip``).
    folder : path-like, optional
        Where the ``.mps`` file goes (a temporary folder if None); the file is deleted.

    Returns
    -------
    AnchorRun
    """
    import highspy

    from optimizer.solve.backends import highs_backend

    opts = backend_highs_options(options, mip=bool(problem.is_mip))
    compiled = highs_backend.compile_problem(problem)
    ref = _lp_arrays(compiled.highs)
    with tempfile.TemporaryDirectory(dir=folder, prefix="anchor_") as tmp:
        path = str(Path(tmp) / "model.mps")
        compiled.highs.setOptionValue("output_flag", False)
        compiled.highs.writeModel(path)
        del compiled
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        c0 = time.process_time()
        h.readModel(path)
        read_cpu = time.process_time() - c0
    same, note = _compare_models(ref, _lp_arrays(h))
    for name, value in opts.items():
        h.setOptionValue(name, value)
    h.setOptionValue("output_flag", False)
    c0, w0 = time.process_time(), time.perf_counter()
    h.run()
    run_cpu, run_wall = time.process_time() - c0, time.perf_counter() - w0
    status = h.getModelStatus().name
    info = h.getInfo()
    has_point = int(info.primal_solution_status) == int(
        highspy.SolutionStatus.kSolutionStatusFeasible
    )
    objective = float(info.objective_function_value) if has_point else None
    return AnchorRun(read_cpu, run_cpu, run_wall, status, objective, same, note, opts)


def objectives_match(call: Call, raw: AnchorRun) -> tuple[bool, str]:
    """Does the fresh HiGHS run agree with the backend's outcome on the same problem?

    Both without a solution: agree if both say infeasible (or both another no-solution status).
    Both with one: objectives equal within the MIP gap (``mip_rel_gap`` times the larger
    magnitude, at least 1e-6 absolute plus 1e-9 relative: two HiGHS runs on differently ordered
    but equal models may stop at different incumbents inside the gap).
    """
    out = call.outcome
    back = out.objective_value if out.status.has_solution else None
    if back is None and raw.objective is None:
        return True, f"no solution ({out.status.value} / {raw.status})"
    if back is None or raw.objective is None:
        return False, f"backend {out.status.value} {back} vs raw {raw.status} {raw.objective}"
    scale = max(abs(back), abs(raw.objective), 1.0)
    tol = 1e-6 + 1e-9 * scale
    if call.is_mip:
        tol += float(call.options.mip_rel_gap) * scale
    ok = abs(back - raw.objective) <= tol
    return ok, f"backend {back:.10g} vs raw {raw.objective:.10g} (tol {tol:.3g})"


# --------------------------------------------------------------------------------------
# child processes
# --------------------------------------------------------------------------------------


@dataclass
class ChildRun:
    """A finished child process: exit code, output, CPU seconds, peak RSS, wall seconds."""

    returncode: int
    stdout: str
    stderr: str
    user: float
    sys: float
    maxrss_mib: float
    wall: float
    timed_out: bool = False

    @property
    def cpu(self) -> float:
        """User + system CPU seconds of the child."""
        return self.user + self.sys


def run_child(
    cmd: Sequence[str], *, timeout: float | None = None, cwd: str | os.PathLike | None = None
) -> ChildRun:
    """Run ``cmd`` in a fresh process; its own CPU seconds and peak RSS via ``os.wait4``.

    Parameters
    ----------
    cmd : sequence of str
        Command line.
    timeout : float, optional
        Seconds; the child is killed (SIGKILL, by its pid) when exceeded.
    cwd : path-like, optional
        Working directory.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        w0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=cwd)
        timed_out = False
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - w0 > timeout:
                timed_out = True
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - w0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            ru.ru_utime,
            ru.ru_stime,
            ru.ru_maxrss / 1024.0,  # KiB on Linux -> MiB
            wall,
            timed_out,
        )


def spin() -> None:
    """Pure-Python CPU-bound busy loop (a ``multiprocessing`` target; runs until terminated)."""
    x = 0
    while True:
        x = (x + 1) & 0xFFFF


# --------------------------------------------------------------------------------------
# per-stage CPU of the pipeline's own timings
# --------------------------------------------------------------------------------------


class _ClockProxy:
    """``time`` stand-in: ``perf_counter`` is the real one, each call also logs process CPU."""

    def __init__(self, log: list[tuple[float, float]]) -> None:
        self._log = log

    def perf_counter(self) -> float:
        w = time.perf_counter()
        self._log.append((w, time.process_time()))
        return w

    def __getattr__(self, name: str):
        return getattr(time, name)


class StageClock:
    """CPU seconds of ``optimizer.pipeline``'s timing stages (context manager).

    While active, ``optimizer.pipeline.time`` is a proxy whose ``perf_counter`` returns the real
    wall clock (the pipeline behaves exactly as without it) and logs ``(wall, process_time)`` at
    each call. :meth:`cpu_split` matches each ``result.timings[key]`` to the two logged calls whose
    wall difference it is and returns their CPU difference. ``build`` is the
    ``solve_sizing`` block less the chosen solve's backend compile and solve seconds (wall,
    from the backend): its CPU is reported for the whole block (build + compile + solve) under
    ``"build+compile+solve"``. ``available`` is False when the pipeline does not read the clock
    as ``time.perf_counter`` (then no per-stage CPU).
    """

    def __init__(self) -> None:
        self.log: list[tuple[float, float]] = []
        self._module = None
        self._orig = None
        self.available = False

    def __enter__(self) -> StageClock:
        from optimizer import pipeline

        self._module = pipeline
        self._orig = getattr(pipeline, "time", None)
        if self._orig is time:
            pipeline.time = _ClockProxy(self.log)  # type: ignore[assignment]
            self.available = True
        return self

    def __exit__(self, *exc) -> None:
        if self.available and self._module is not None:
            self._module.time = self._orig

    def _pair(self, target: float) -> float | None:
        log = self.log
        best, best_err = None, math.inf
        for j in range(len(log)):
            wj, cj = log[j]
            for i in range(j):
                err = abs((wj - log[i][0]) - target)
                if err < best_err:
                    best, best_err = cj - log[i][1], err
        return best if best_err <= 1e-9 + 1e-12 * abs(target) else None

    def cpu_split(self, timings: dict[str, float]) -> dict[str, float | None]:
        """Stage -> CPU seconds (None when no logged pair matches the stage's wall time)."""
        out: dict[str, float | None] = {}
        if not self.available:
            return {k: None for k in timings}
        for key, v in timings.items():
            if key == "cached" or not isinstance(v, float):
                continue
            if v == 0.0:
                out[key] = 0.0
                continue
            if key == "build" and "compile" in timings and "solve" in timings:
                out["build+compile+solve"] = self._pair(v + timings["compile"] + timings["solve"])
                continue
            if key in ("compile", "solve"):
                continue
            out[key] = self._pair(v)
        return out
