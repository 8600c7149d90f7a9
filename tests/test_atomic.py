"""Atomic writes: the target appears whole or not at all, with normal file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from squeezeseg.atomic import atomic_open, atomic_path, atomic_write_text


def test_failed_write_leaves_old_content_and_no_temporary(tmp_path):
    target = tmp_path / "labels.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt"]


def test_new_file_gets_umask_permissions_and_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        atomic_write_text(new, "x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("a")
        kept.chmod(0o640)
        with atomic_path(kept) as tmp:
            tmp.write_text("b")
        assert kept.read_text() == "b" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    finally:
        os.umask(old)
