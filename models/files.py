"""Bounded reads of user-given data files (ledgers, histories, chains): a regular file only, at most a
stated number of bytes, gzip decompressed in bounded size.

A FIFO or a device blocked the read forever and an unbounded ``read_bytes`` or ``pd.read_csv``
took a file of any size (or a gzip bomb) into memory; every data reader that is given a path by
the user goes through :func:`read_bounded`.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

from models.errors import DataError

__all__ = ["read_bounded"]

_GZIP_MAGIC = b"\x1f\x8b"


def read_bounded(path: str | Path, limit: int, what: str, *, gunzip: bool = False) -> bytes:
    """The bytes of ``path``, refused past ``limit`` bytes (after decompression with ``gunzip``).

    Parameters
    ----------
    path
        The file.
    limit
        Largest size accepted, bytes (of the decompressed content when ``gunzip``).
    what
        What the file is, for messages (``"ledger CSV"``).
    gunzip
        Decompress content that starts with the gzip magic bytes ``1f 8b`` (RFC 1952), whatever
        the file name.

    Returns
    -------
    bytes
        The (decompressed) content.

    Raises
    ------
    DataError
        A missing path, a path that is not a regular file (a FIFO, a directory, a device), an
        unreadable file, a file larger than ``limit`` bytes, or a corrupt gzip stream; one line
        naming the path.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise DataError(f"{p}: cannot read {what} file (no such file)")
        if not p.is_file():
            raise DataError(f"{p}: not a regular file (a {what} file is read whole)")
        if p.stat().st_size > limit:
            raise DataError(f"{p}: {what} file larger than {limit:,} bytes")
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
        if gunzip and data[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(limit + 1)  # decompressed in bounded size
    except OSError as exc:
        raise DataError(f"{p}: cannot read {what} file ({exc.strerror or exc})") from None
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{p}: corrupt gzip {what} file ({exc})") from None
    if len(data) > limit:
        raise DataError(f"{p}: {what} file larger than {limit:,} bytes (uncompressed)")
    return data
