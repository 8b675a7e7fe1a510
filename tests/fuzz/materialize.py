"""Write a case's files (bytes or :class:`~tests.fuzz.cases.Special`) into a folder."""

from __future__ import annotations

import os
import sqlite3
import zlib
from functools import cache
from pathlib import Path

from tests.fuzz.cases import Case, Special


@cache
def gzip_zeros(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes, compressed in 1 MiB chunks (a few hundred kB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    chunk = bytes(1 << 20)
    parts = []
    left = size
    while left > 0:
        parts.append(comp.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(comp.flush())
    return b"".join(parts)


def write_files(case: Case, folder: Path) -> None:
    """Create every file of ``case`` in ``folder``."""
    from optimizer.tracking.ledger import init_ledger

    for name, data in case.files:
        path = folder / name
        if isinstance(data, bytes):
            path.write_bytes(data)
            continue
        assert isinstance(data, Special), data
        if data.what == "fifo":
            os.mkfifo(path)
        elif data.what == "dir":
            path.mkdir()
        elif data.what == "sparse":
            with open(path, "wb") as fh:
                fh.truncate(data.size)
        elif data.what == "gzip_bomb":
            path.write_bytes(gzip_zeros(data.size))
        elif data.what == "ledger":
            init_ledger(path).close()
        elif data.what == "sqlite_other":
            conn = sqlite3.connect(path)
            conn.execute("CREATE TABLE t (x)")
            conn.commit()
            conn.close()
        elif data.what != "missing":
            raise AssertionError(data)
