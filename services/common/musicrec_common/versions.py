"""Retention of versioned artifact folders: keep the newest few, never the current one.

Every training (cf_service, audio_service) and every song added to the audio index writes a complete new
version folder next to the old ones (so that a reader switches atomically); without retention they
pile up: about 265 MB per cf model and one FAISS index per added song. Pure: no service imports.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP_VERSIONS = 3


def prune_versions(root: str | Path, keep: int, current: str | None, order: Callable[[str], Any | None]) -> list[str]:
    """Delete the version folders of ``root`` older than the newest ``keep``; never ``current``.

    ``order`` maps a folder name to a sort key (newer is larger), or None for anything that is not a
    version (pointer files, hidden staging folders of a write in progress): those are left alone.
    Names with equal keys (two versions in the same second) are ordered by the folder's modification time.
    Returns the deleted names, oldest first. Running services hold their model in memory, so deleting
    the folder of an old version does not disturb them.
    """
    if keep < 1:
        raise ValueError("keep at least one version")
    base = Path(root)
    keyed = []
    for path in base.iterdir():
        key = order(path.name)
        if key is not None and path.is_dir() and not path.is_symlink():
            keyed.append((key, path.stat().st_mtime_ns, path.name))
    keyed.sort()
    doomed = [name for _, _, name in keyed[:-keep] if name != current]
    for name in doomed:
        shutil.rmtree(base / name, ignore_errors=True)
    return doomed
