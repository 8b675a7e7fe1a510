"""Checkpoints of a study run: one Parquet part per finished point, a manifest, a lock.

The store behind :func:`optimizer.studies.sweep.run_sweep` and the backtest
(:mod:`optimizer.studies.backtest`): ``<out>.parts/`` holds ``manifest.json`` (the study's name,
its point keys and a digest of every point's scenario, the contents of the data files it reads
and the solve options), a ``.lock`` (one run at a time) and one part per finished point, each
written atomically (:func:`optimizer.outputs.atomic_write`), so a part is either absent or
complete and a killed run loses only the points in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from models.errors import SpecError
from optimizer.outputs import atomic_write
from optimizer.studies.study import Point, Study, point_key

__all__ = ["parts_dir"]

log = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_LOCK = ".lock"
_FORMAT = 1


def parts_dir(out: str | Path) -> Path:
    """The checkpoint folder of an output file: ``<out>.parts``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _digest(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _part_name(point: Point) -> str:
    return f"{point.index:05d}-{_digest(point_key(point))}.parquet"


def _data_files(point: Point) -> list[Path]:
    """The files a point's scenario reads: its chains and its S&P 500 / VIX histories."""
    sc = point.scenario
    files = [sc.resolve(c.path) for c in sc.market.chains.values()]
    if sc.market.history is not None:
        files += [sc.resolve(sc.market.history.vix), sc.resolve(sc.market.history.index)]
    return files


def _file_digest(path: Path, cache: dict[str, str]) -> str:
    key = str(Path(path).resolve())
    if key not in cache:
        h = hashlib.sha256()
        try:
            with open(key, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            cache[key] = h.hexdigest()
        except OSError:
            cache[key] = "unreadable"
    return cache[key]


def _manifest(study: Study, points: Sequence[Point]) -> dict[str, Any]:
    scenarios = hashlib.sha256()
    files: dict[str, str] = {}
    for p in points:
        scenarios.update(p.scenario.model_dump_json().encode())
        # the contents of the data files too: a chain file edited between a kill and the
        # resume would otherwise mix two markets in one table
        for f in _data_files(p):
            scenarios.update(f"{f}={_file_digest(f, files)}".encode())
    scenarios.update(study.solve.model_dump_json().encode())
    return {
        "format": _FORMAT,
        "study": study.name,
        "points": [point_key(p) for p in points],
        "scenarios": scenarios.hexdigest(),
    }


class _Checkpoints:
    """The parts folder of one sweep: manifest, lock, one Parquet file per finished point."""

    def __init__(self, out: Path, study: Study, points: Sequence[Point]):
        self.out = out
        self.dir = parts_dir(out)
        self.manifest = _manifest(study, points)
        self._lock_fd: int | None = None

    def preflight(self, resume: bool) -> None:
        """Refuse to overwrite or to mix studies (before anything is solved)."""
        if not resume:
            if self.dir.exists():
                raise SpecError(
                    f"--out: {self.dir} exists (an interrupted sweep); use --resume to continue "
                    "it, or remove the folder"
                )
            if self.out.exists():
                raise SpecError(
                    f"--out: {self.out} exists; remove it or choose another --out "
                    "(--resume continues an interrupted sweep)"
                )
            return
        if not self.dir.exists():
            if self.out.exists():
                raise SpecError(
                    f"--resume: {self.out} exists and there is no {self.dir.name} folder: the "
                    "sweep is complete (remove the file to run it again)"
                )
            return
        if not self.dir.is_dir():
            raise SpecError(f"--resume: {self.dir} is not a folder")
        try:
            found = json.loads((self.dir / _MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise SpecError(
                f"--resume: {self.dir} has no readable {_MANIFEST} ({type(exc).__name__}): "
                "not the checkpoint folder of a sweep"
            ) from None
        if found.get("study") != self.manifest["study"] or found.get("points") != list(
            self.manifest["points"]
        ):
            raise SpecError(
                f"--resume: {self.dir} holds the checkpoints of another study "
                f"({found.get('study')!r}, {len(found.get('points') or [])} points), not "
                f"{self.manifest['study']!r} ({len(self.manifest['points'])} points)"
            )
        if found.get("scenarios") != self.manifest["scenarios"]:
            raise SpecError(
                f"--resume: {self.dir} was written by another version of study "
                f"{self.manifest['study']!r} (its scenarios, their data files or the solve options "
                "changed)"
            )

    def open(self) -> None:
        """Create the folder and manifest, and take the folder's lock (one sweep at a time)."""
        self.dir.mkdir(exist_ok=True)
        self._lock()
        for stale in self.dir.glob(".*.tmp"):  # writes cut short by a killed run
            with contextlib.suppress(OSError):
                stale.unlink()
        text = json.dumps(self.manifest, indent=1)
        path = self.dir / _MANIFEST
        if not path.exists() or path.read_text() != text:
            atomic_write(path, lambda p: p.write_text(text))

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        fd = os.open(self.dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SpecError(f"--out: another sweep is writing to {self.dir}") from None
        self._lock_fd = fd

    def close(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def done(self, points: Sequence[Point]) -> dict[int, dict[str, Any]]:
        """Rows of the points that have a part without an error (index → row)."""
        rows: dict[int, dict[str, Any]] = {}
        for p in points:
            path = self.dir / _part_name(p)
            if not path.exists():
                continue
            try:
                row = pd.read_parquet(path).iloc[0].to_dict()
            except Exception as exc:  # unreadable part: solve the point again
                log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
                continue
            if pd.isna(row.get("error")):
                rows[p.index] = row
        return rows

    def write(self, point: Point, row: dict[str, Any]) -> None:
        """Checkpoint one finished point (atomic)."""
        frame = _arrow_safe(pd.DataFrame([row]))
        atomic_write(self.dir / _part_name(point), lambda p: frame.to_parquet(p, index=False))

    def combine(self, points: Sequence[Point], columns: Sequence[str]) -> pd.DataFrame:
        """One row per point from its part, sorted by index, written atomically to ``out``."""
        frames = [pd.read_parquet(self.dir / _part_name(p)) for p in points]
        df = pd.concat(frames, ignore_index=True).reindex(columns=list(columns))
        df = _arrow_safe(df.sort_values("index", kind="stable").reset_index(drop=True))
        atomic_write(self.out, lambda p: df.to_parquet(p, index=False))
        # what the file holds (dtypes as read back), text columns with None where missing
        df = pd.read_parquet(self.out)
        for col in ("status", "error"):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        return df

    def remove(self) -> None:
        """Delete the parts folder (after :meth:`combine`)."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix value types (a swept path taking ``null`` and numbers, or text and
    numbers) become text, so that Parquet can store them; uniform columns are kept as they are."""
    out = df
    for col in df.columns:
        if df[col].dtype != object:
            continue
        kinds = {type(v) for v in df[col] if v is not None}
        if len(kinds) > 1 and not kinds <= {int, float, bool}:
            if out is df:
                out = df.copy()
            out[col] = [None if v is None else str(v) for v in df[col]]
    return out
