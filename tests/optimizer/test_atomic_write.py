"""``atomic_write`` (issue 20): an unpredictable O_EXCL temporary file, so a symlink planted
under the old predictable name (``.<name>.<pid>.tmp``) redirects nothing; the result is whole,
with the umask's permissions, and a symlink at the target is replaced, not followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optimizer.outputs import atomic_write


def test_a_planted_symlink_redirects_nothing(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "report.html"
    (tmp_path / f".{target.name}.{os.getpid()}.tmp").symlink_to(victim)
    atomic_write(target, lambda p: Path(p).write_text("report"))
    assert victim.read_text() == "keep me"
    assert target.read_text() == "report"


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.txt"
    target.symlink_to(victim)
    atomic_write(target, lambda p: Path(p).write_text("new"))
    assert not target.is_symlink() and target.read_text() == "new"
    assert victim.read_text() == "keep me"


def test_permissions_follow_the_umask_and_nothing_is_left(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.txt", lambda p: Path(p).write_text("x"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_leaves_no_file(tmp_path):
    def boom(p):
        Path(p).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "b.txt", boom)
    assert list(tmp_path.iterdir()) == []
