"""Retention of versioned artifact folders (musicrec_common.versions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from musicrec_common.versions import prune_versions


def order(name: str) -> int | None:
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else None


def folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def make(root: Path, *names: str) -> None:
    for i, name in enumerate(names):
        (root / name).mkdir()
        (root / name / "model.npz").write_bytes(b"x" * 10)
        os.utime(root / name, ns=(i * 10**9, i * 10**9))


def test_keeps_the_newest_and_the_current_and_leaves_other_entries_alone(tmp_path: Path) -> None:
    make(tmp_path, "v1", "v2", "v3", "v4", "v5", ".v6.staging", "notes")
    (tmp_path / "current").write_text("v2")
    (tmp_path / "link").symlink_to(tmp_path / "v1")
    deleted = prune_versions(tmp_path, 2, "v2", order)
    assert deleted == ["v1", "v3"]
    assert folders(tmp_path) == {"v2", "v4", "v5", ".v6.staging", "notes", "current", "link"}
    assert prune_versions(tmp_path, 2, "v2", order) == []  # nothing more to do


def test_equal_keys_fall_back_to_modification_time(tmp_path: Path) -> None:
    make(tmp_path, "v9", "v7")  # "v7" written last but named lower: the key decides first
    assert prune_versions(tmp_path, 1, "v9", order) == ["v7"]
    same = tmp_path / "same"
    same.mkdir()
    make(same, "v1", "v01")  # same key (1): the later folder ("v01") is the newer one
    assert prune_versions(same, 1, None, order) == ["v1"]


def test_keep_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        prune_versions(tmp_path, 0, None, order)
