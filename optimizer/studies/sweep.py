"""Run a study's points: tidy results, per-point checkpoints, resume, sequential or on Dask.

:func:`run_sweep` solves every point of a :class:`optimizer.studies.study.Study` and returns one row per
point (``index``, ``name``, one column per swept dotted path, then :data:`RESULT_COLUMNS`). Each finished point is checkpointed as its own one-row Parquet file in
``<out>.parts/`` (written to a temporary file, synced, then renamed with :func:`os.replace`, so a
part is either absent or complete); at the end the parts are combined into ``out`` (atomically
too) and the folder is removed. A killed sweep (even ``SIGKILL``) loses only the points being
solved at that moment; ``resume=True`` solves the points that have no part yet (and those whose
part recorded an error) and never duplicates one: a part is named by the point's index and a
hash of :func:`optimizer.studies.study.point_key`, and the combined table takes exactly one part per
index. ``<out>.parts/manifest.json`` holds the study's name, its point keys and a digest of
every point's scenario and of the solve options, so resuming a *different* (or edited) study
into the same folder is an error.

Execution:

* sequential (default): in this process, the points of one market (everything but the account
  size and the caps, :func:`optimizer.pipeline.prepare._market_key`) one after another, so
  :func:`optimizer.pipeline.prepare` builds each market's candidates and income simulation once;
* ``workers=N``: a :class:`distributed.LocalCluster` of ``N`` single-threaded worker processes;
  ``scheduler=ADDRESS``: an existing Dask cluster. The client keeps one market group running per
  worker: a group's points are submitted one task at a time, each pinned to the worker that
  solved the previous one (its cache holds the group's market), and a worker that finishes a
  group starts the next one (when none is left, it takes the back half of the longest running
  group). Each point's result reaches the client — and its checkpoint — as soon as it is
  solved.

Results do not depend on the worker or the order a point is solved in: the income model and the
out-of-sample draws are seeded, and the cached market is what a fresh build returns
(``tests/optimizer/test_sweep.py`` compares a sequential and a 2-worker run, and rows against
single :func:`optimizer.pipeline.solve_scenario` calls).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from models.errors import SpecError
from optimizer.studies.checkpoints import _Checkpoints, parts_dir
from optimizer.studies.points import COLUMNS, RESULT_COLUMNS, _error_row, result_row, solve_point
from optimizer.studies.study import Point, SolveOptions, Study, expand, load_study

__all__ = [
    "COLUMNS",
    "RESULT_COLUMNS",
    "group_points",
    "parts_dir",
    "result_row",
    "run_sweep",
    "solve_point",
]

log = logging.getLogger(__name__)

#: At the end of a Dask sweep, an idle worker splits a running group with at least this many
#: points left (rebuilding its market costs about one fresh point).
_SPLIT_MIN = 4

#: Most worker processes of a local cluster (``--workers``): far more than any machine's cores;
#: a 30-digit count tried to start that many processes.
MAX_LOCAL_WORKERS = 256


def _group_key(point: Point) -> str:
    from optimizer.inputs.limits import phase_of
    from optimizer.pipeline.prepare import _market_key

    try:
        phase = phase_of(point.scenario)
    except Exception:  # the solve will report it; group the point on its own values
        return json.dumps(point.values, sort_keys=True, default=str)
    return _market_key(point.scenario, phase)


def group_points(points: Sequence[Point]) -> list[list[Point]]:
    """Points that share a market (all but account size and caps), in index order.

    Groups are ordered by their first point; solving a group's points one after another in one
    process builds its candidates and income simulation once (:func:`optimizer.pipeline.prepare`).
    """
    groups: dict[str, list[Point]] = {}
    for p in sorted(points, key=lambda p: p.index):
        groups.setdefault(_group_key(p), []).append(p)
    return list(groups.values())


# ----------------------------------------------------------------------------- progress
class _NoProgress:
    def advance(self, n: int = 1, errors: int = 0) -> None:
        pass


class _Progress:
    """A rich progress bar on standard error counting points (elapsed, ETA)."""

    def __init__(self, bar: Any, task: Any):
        self.bar, self.task, self.errors = bar, task, 0

    def advance(self, n: int = 1, errors: int = 0) -> None:
        self.errors += errors
        note = f"[red]{self.errors} failed[/]" if self.errors else ""
        self.bar.update(self.task, advance=n, note=note)


@contextlib.contextmanager
def _progress(
    enabled: bool, title: str, total: int, done: int, unit: str = "points"
) -> Iterator[Any]:
    if not enabled:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=Console(stderr=True),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bar:
        # points done by an earlier run count as done, but not in the rate (ETA) estimate
        task = bar.add_task(escape(title), total=total, completed=done, note="")
        yield _Progress(bar, task)


def _warm_highs() -> None:
    """Create one HiGHS instance, so its once-per-process banner is printed now (to stderr)."""
    from optimizer.outputs import stdout_to_stderr

    with stdout_to_stderr(), contextlib.suppress(ImportError):
        import highspy

        highspy.Highs()


# ----------------------------------------------------------------------------- executors
def _run_sequential(groups, todo, options, swept, store, bar, task) -> None:
    from optimizer.outputs import stdout_to_stderr

    with stdout_to_stderr():
        for group in groups:
            for point in group:
                if point.index not in todo:
                    continue
                row = task(point, options, swept)
                store.write(point, row)
                bar.advance(1, errors=row["error"] is not None)


@contextlib.contextmanager
def _quiet_logger(name: str, level: int) -> Iterator[None]:
    """Raise a logger's level inside the block (Dask's INFO lines would break the progress bar)."""
    logger = logging.getLogger(name)
    old = logger.level
    logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(old)


@contextlib.contextmanager
def _restored_environ() -> Iterator[None]:
    """Undo the environment changes of a local cluster's nannies (they export the workers'
    ``OMP_NUM_THREADS=1`` … into *this* process, and every later subprocess would inherit them)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in set(os.environ) - set(saved):
            del os.environ[k]
        for k, v in saved.items():
            if os.environ.get(k) != v:
                os.environ[k] = v


def _dask_task(point: Point, options: SolveOptions, swept: Sequence[str], task):
    """Worker side: run ``task`` on one point; return its row and the worker's address."""
    from distributed import get_worker

    from optimizer.outputs import stdout_to_stderr

    with stdout_to_stderr():
        row = task(point, options, swept)
    return row, get_worker().address


def check_scheduler_address(address: str) -> None:
    """Refuse a Dask scheduler address that cannot name one, before any connection attempt.

    Accepted: ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` with a port in 1..65535 (Dask's
    address form; a scheme-less or out-of-range address waited out the 10 s connect timeout).

    Raises
    ------
    SpecError
        The address has no tcp/tls scheme, no host, or no valid port.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None or port < 1:
        raise SpecError(
            f"--scheduler: {address!r} is not a scheduler address (tcp://HOST:PORT or "
            "tls://HOST:PORT, port 1 to 65535)"
        )


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: of a new local cluster (``workers`` processes) or of ``scheduler``.

    Workers are started and have printed their HiGHS banner before the block (so before the
    progress bar); Dask's INFO logging is silenced and the local cluster's environment changes
    are undone when the block ends.
    """
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_logger("distributed", logging.ERROR))
        stack.enter_context(_restored_environ())
        if scheduler is None:
            # glibc's eager trimming (Dask's default MALLOC_TRIM_THRESHOLD_=65536) makes the income
            # simulation's large temporary arrays fault their pages in again and again: ~1.6x
            # slower per point; BLAS stays single-threaded (one worker per core)
            stack.enter_context(
                dask.config.set(
                    {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
                )
            )
            # the workers' scratch space: a private folder (0700) of this run, removed after it,
            # not Dask's shared default under the system temp folder
            import tempfile

            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="thetaplan-dask-"))
            cluster = stack.enter_context(
                LocalCluster(
                    local_directory=scratch,
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
        if cluster is None:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:
                raise SpecError(f"--scheduler: cannot connect to {scheduler} ({exc})") from None
            if not str(scheduler).startswith("tls://"):
                log.warning(
                    "--scheduler %s: tasks and results travel unencrypted and are unpickled "
                    "here; use only a cluster you run (tls:// with Dask's TLS settings "
                    "encrypts the link)",
                    scheduler,
                )
        else:
            client = stack.enter_context(Client(cluster))
        client.run(_warm_highs)
        yield client


def _run_dask(client, groups, todo, options, swept, store, bar, task) -> None:
    """Solve on ``client``: one market group running per worker (see the module docstring)."""
    from distributed import as_completed

    pending = deque(deque(p for p in g if p.index in todo) for g in groups)
    pending = deque(g for g in pending if g)
    if not pending:
        return
    # one point at a time per worker process: prepare()'s cache is process-local and not
    # shared between threads
    slots = max(1, len(client.nthreads()))
    run = uuid.uuid4().hex[:8]
    ac = as_completed()
    meta: dict[Any, tuple[Point, deque]] = {}

    def submit(group: deque, where: str | None) -> None:
        point = group.popleft()
        fut = client.submit(
            _dask_task,
            point,
            options,
            list(swept),
            task,
            key=f"sweep-{run}-{point.index:05d}",
            pure=False,
            # the worker that holds the group's market in its cache; another one if it is gone
            **({"workers": [where], "allow_other_workers": True} if where else {}),
        )
        meta[fut.key] = (point, group)
        ac.add(fut)

    for _ in range(min(slots, len(pending))):
        submit(pending.popleft(), None)
    for fut in ac:
        point, group = meta.pop(fut.key)
        where = None
        try:
            row, where = fut.result()
        except Exception as exc:  # lost worker, unpicklable result …: the point failed
            row = _error_row(point, swept, exc)
        fut.release()
        store.write(point, row)
        bar.advance(1, errors=row["error"] is not None)
        if group:
            submit(group, where)
        elif pending:
            submit(pending.popleft(), where)
        else:  # the tail: an idle worker takes the back half of the longest running group
            running = [g for _, g in meta.values()]
            donor = max(running, key=len, default=None)
            if donor is not None and len(donor) >= _SPLIT_MIN:
                back = deque(donor.pop() for _ in range(len(donor) // 2))
                back.reverse()
                submit(back, where)


# ----------------------------------------------------------------------------- API
def run_sweep(
    study: Study | str | Path,
    *,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    task=None,
    columns: Sequence[str] | None = None,
    unit: str = "points",
) -> pd.DataFrame:
    """Solve every point of a study, checkpointing each one, and write the tidy table to ``out``.

    Parameters
    ----------
    study : Study | str | Path
        A loaded study, or a study file (:func:`optimizer.studies.study.load_study`).
    out : str | Path
        Parquet file of the results; checkpoints go to ``<out>.parts/`` (removed at the end).
    workers : int | None
        Solve on a local Dask cluster of this many single-threaded worker processes.
    scheduler : str | None
        Address of an existing Dask scheduler (``tcp://host:8786``); exclusive with ``workers``.
    resume : bool
        Continue an interrupted sweep: points with a checkpoint are not solved again (points that
        recorded an error are). Without it an existing ``out`` or parts folder is an error.
    progress : bool
        Show a progress bar (points done, elapsed, ETA) on standard error.
    task : callable | None
        ``task(point, options, swept) -> row`` run for each point (default :func:`solve_point`);
        a module-level function (it is sent to Dask workers). A task that computes something
        else than a sweep row (the backtest's months, :mod:`optimizer.studies.backtest`) gives
        its ``columns``.
    columns : Sequence[str] | None
        The table's columns (default: ``index``, ``name``, the swept paths,
        :data:`RESULT_COLUMNS`).
    unit : str
        What the progress bar counts.

    Returns
    -------
    pandas.DataFrame
        One row per point, sorted by ``index`` (shape ``(n_points, 2 + n_swept + 12)``):
        ``index``, ``name``, one column per swept dotted path (its value), then
        :data:`RESULT_COLUMNS`. Money in the account currency (monthly for incomes and costs).

    Raises
    ------
    SpecError
        Before anything is solved: bad ``workers``/``scheduler``, an unwritable ``out``, an
        existing output or parts folder without ``resume``, a parts folder of another study.
    """
    from optimizer.outputs import check_output_path

    if workers is not None and scheduler is not None:
        raise SpecError("--workers and --scheduler: give one of them, not both")
    if workers is not None and not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise SpecError(f"--workers: expected 1 to {MAX_LOCAL_WORKERS}, got {workers}")
    if scheduler is not None:
        check_scheduler_address(scheduler)
    if not isinstance(study, Study):
        study = load_study(study)
    out = check_output_path(Path(out), "--out")
    points = expand(study)
    swept = study.swept
    if task is None:
        task = solve_point
    if columns is None:
        columns = ("index", "name", *swept, *RESULT_COLUMNS)
    store = _Checkpoints(out, study, points)
    store.preflight(resume)
    store.open()
    try:
        done = store.done(points) if resume else {}
        todo = {p.index for p in points} - set(done)
        groups = group_points(points)
        log.info(
            "sweep %r: %d points in %d market groups, %d to solve",
            study.name,
            len(points),
            len(groups),
            len(todo),
        )
        with contextlib.ExitStack() as stack:
            client = None
            if todo and (workers is not None or scheduler is not None):
                client = stack.enter_context(_dask_client(workers, scheduler))
            elif todo:
                _warm_highs()
            with _progress(progress, study.name, len(points), len(points) - len(todo), unit) as bar:
                if client is None:
                    _run_sequential(groups, todo, study.solve, swept, store, bar, task)
                else:
                    _run_dask(client, groups, todo, study.solve, swept, store, bar, task)
        df = store.combine(points, columns)
    except BaseException:
        store.close()
        if not resume and not any(store.dir.glob("0*.parquet")):
            # nothing was checkpointed (e.g. the scheduler was unreachable): leave no folder
            # that would make a plain rerun ask for --resume
            store.remove()
        raise
    store.remove()
    return df
