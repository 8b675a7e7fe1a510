"""Cases of the fuzz matrix that are valid input (they must succeed) and cases still open.

:data:`ACCEPTED` is read from ``accepted.tsv`` beside this module: one accepted case a line,
``case id<TAB>one-line reason``. An accepted case must exit 0; for the scenario, ``--set``,
study and audit kinds, whose valid run is a full solve or Monte Carlo, it must load through the
kind's loader instead (:data:`tests.fuzz.cases.LOADERS`), so the matrix stays fast.

:data:`OPEN` lists cases that still succeed where an error is arguably due: they run as strict
``xfail`` (an unexpected pass, i.e. a fix, fails the suite until the entry is removed).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path


def _read(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            cid, reason = line.split("\t")
            assert cid not in out and reason.strip(), line
            out[cid] = reason
    return out


ACCEPTED: dict[str, str] = _read(Path(__file__).with_name("accepted.tsv"))

#: Still open (strict xfail): case glob -> what is wrong.
OPEN: tuple[tuple[str, str], ...] = ()


def open_cases(ids: list[str]) -> dict[str, str]:
    """Case id -> reason for the ids that an :data:`OPEN` glob names."""
    return {cid: reason for cid in ids for pattern, reason in OPEN if fnmatchcase(cid, pattern)}
