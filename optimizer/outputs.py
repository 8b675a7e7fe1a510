"""Output files and the terminal: atomic writes, output-path checks, native stdout, progress bars.

Shared by the library (studies write checkpoints and tables) and the CLI; it imports neither.

:func:`stdout_to_stderr` keeps native libraries from writing into a command's standard output:
HiGHS (through highspy) prints its ``Running HiGHS …`` banner from C straight onto file
descriptor 1, below Python's ``sys.stdout``. While a command computes, file descriptor 1 points at
standard error; the command writes its document (JSON or tables) after the block, on the real
standard output.

:func:`check_output_path` and :func:`check_plot_path` validate output flags before any work is
done, so that a bad ``--plot`` or ``--candidates-out`` fails in a second instead of after the
solve.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from models.errors import SpecError

__all__ = [
    "package_version",
    "atomic_write",
    "check_output_dir",
    "check_output_path",
    "check_plot_path",
    "plot_formats",
    "progress_bar",
    "stdout_to_stderr",
]


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: push C stdio buffers (HiGHS banners) to their file descriptors."""
    import ctypes  # here: ``import optimizer.cli.app`` stays light

    try:
        libc = ctypes.CDLL(None)
        libc.fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C runtime symbols (exotic builds)
        pass


def _flush_python() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    """Send everything written to standard output inside the block to standard error.

    Both levels are redirected: file descriptor 1 is pointed at file descriptor 2 with
    :func:`os.dup2` (C and C++ output of native libraries such as HiGHS), and ``sys.stdout`` is
    replaced by ``sys.stderr`` (Python ``print``). Python and C stdio buffers are flushed on
    entry and exit, so nothing written inside the block reaches the real standard output later.

    Yields
    ------
    TextIO
        The ``sys.stdout`` in force before the block. Write the command's document to it
        *after* the block (file descriptor 1 is restored on exit, also when the block raises).

    Notes
    -----
    When file descriptor 1 or 2 is closed (``os.dup`` fails), only the Python-level redirection
    is done.
    """
    original = sys.stdout
    _flush_python()
    _flush_c_stdio()
    try:
        saved: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield original
    finally:
        _flush_python()
        _flush_c_stdio()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def check_output_path(path: Path, flag: str) -> Path:
    """Check that ``path`` can be created or overwritten, before any work is done.

    Parameters
    ----------
    path : Path
        The file a flag names.
    flag : str
        The flag, for the message (``--candidates-out``).

    Returns
    -------
    Path
        ``path`` unchanged.

    Raises
    ------
    SpecError
        ``<flag>: …`` when the path is a folder, its folder does not exist or is not a folder,
        or the file or folder is not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise SpecError(f"{flag}: {p} is a folder, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise SpecError(f"{flag}: folder {parent} does not exist")
    if not parent.is_dir():
        raise SpecError(f"{flag}: {parent} is not a folder")
    if p.exists() and not os.access(p, os.W_OK):
        raise SpecError(f"{flag}: cannot write {p} (permission denied)")
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(f"{flag}: cannot write into folder {parent} (permission denied)")
    return p


def plot_formats() -> dict[str, str]:
    """Image formats matplotlib can save: extension (no dot) → description."""
    from matplotlib.backend_bases import FigureCanvasBase

    return dict(FigureCanvasBase.get_supported_filetypes())


def check_plot_path(path: Path, flag: str = "--plot") -> Path:
    """Check a plot file name: writable (:func:`check_output_path`) with a known image extension.

    Raises
    ------
    SpecError
        ``--plot: …`` for a missing or unknown extension (the message lists matplotlib's
        formats) or an unwritable path.
    """
    p = check_output_path(path, flag)
    formats = plot_formats()
    ext = p.suffix.lower().lstrip(".")
    known = ", ".join(sorted(formats))
    if not ext:
        raise SpecError(f"{flag}: {p} has no file extension; use one of {known}")
    if ext not in formats:
        raise SpecError(f"{flag}: unknown image format .{ext}; use one of {known}")
    return p


def progress_bar():
    """A rich progress bar on standard error: description, bar, done/total, elapsed time.

    Returns
    -------
    rich.progress.Progress
        Not started; use it as a context manager (``with progress_bar() as bar: …``).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=False,
    )


def atomic_write(path: Path, write) -> None:
    """Write a file whole or not at all: ``write(tmp)`` next to ``path``, fsync, rename.

    Parameters
    ----------
    path : Path
        The file to create or replace.
    write : callable
        ``write(tmp_path)`` writes the content to the temporary path it is given.

    Raises
    ------
    OSError
        From ``write``, the sync or the rename; the temporary file is removed in every case.

    Notes
    -----
    The temporary file is created by :func:`tempfile.mkstemp` in the target's folder: an
    unpredictable name opened with ``O_CREAT | O_EXCL`` (a symlink planted under a predictable
    name redirected a write before), then given the umask's usual permissions; the rename
    replaces a symlink at ``path`` itself, never the file it points to.
    """
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_output_dir(path: Path, flag: str) -> Path:
    """Check, before any work, that ``path`` is a folder that exists or can be created.

    Parameters
    ----------
    path : Path
        The folder a flag names (``--plot-dir``, ``--out``); created when it is written to.
    flag : str
        The flag, for the message.

    Returns
    -------
    Path
        ``path`` unchanged.

    Raises
    ------
    SpecError
        ``<flag>: …`` when the path is a file, its parent folder is missing, or either is not
        writable.
    """
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise SpecError(f"{flag}: {p} is a file, expected a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise SpecError(f"{flag}: cannot write into folder {p} (permission denied)")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(f"{flag}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(f"{flag}: cannot create {p} (permission denied in {parent})")
    return p


def package_version() -> str:
    """Installed version of the ``thetaplan`` distribution (``"unknown"`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("thetaplan")
    except PackageNotFoundError:
        return "unknown"
