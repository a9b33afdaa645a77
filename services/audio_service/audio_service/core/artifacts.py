"""Versioned artifact folders with an atomically switched ``current`` pointer.

Layout: ``ROOT/<version>/...`` plus ``ROOT/current`` (a text file holding the version name). The
pointer is replaced with ``os.replace`` so readers see either the old or the new version, never a
half-written one. After a switch, :func:`prune` keeps the newest few versions (the current one always):
a song added to the index writes a whole new index version.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from musicrec_common.versions import KEEP_VERSIONS, prune_versions


def new_version_dir(root: str | os.PathLike[str], prefix: str = "v") -> Path:
    """Create and return a fresh ``ROOT/<prefix><UTC timestamp>`` folder (unique)."""
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # Counters continue after the highest one of this second: a name pruned meanwhile is never reused,
    # so names keep sorting in the order the versions were written.
    same = [_counter(p.name, prefix + stamp) for p in base.iterdir()]
    first = max((c + 1 for c in same if c is not None), default=0)
    for i in range(first, first + 1000):
        path = base / (f"{prefix}{stamp}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a version folder under {base}")


def _counter(name: str, head: str) -> int | None:
    """The counter of ``<head>`` (0) or ``<head>-<n>`` (n); None for other names."""
    if name == head:
        return 0
    tail = name[len(head) + 1 :] if name.startswith(head + "-") else ""
    return int(tail) if tail.isdigit() else None


def set_current(root: str | os.PathLike[str], version: str) -> None:
    """Point ``ROOT/current`` at ``version`` atomically."""
    base = Path(root)
    tmp = base / f".current.{os.getpid()}.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, base / "current")


def current_dir(root: str | os.PathLike[str]) -> Path:
    """The folder ``current`` points to; raises FileNotFoundError when there is none."""
    base = Path(root)
    pointer = base / "current"
    if not pointer.exists():
        raise FileNotFoundError(f"no current version under {base}")
    path = base / pointer.read_text().strip()
    if not path.is_dir():
        raise FileNotFoundError(f"current version {path} is missing")
    return path


def prune(root: str | os.PathLike[str], prefix: str, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete ``ROOT/<prefix><stamp>`` folders older than the newest ``keep``, never the current one."""
    pattern = re.compile(re.escape(prefix) + r"(\d{8}-\d{6})(?:-(\d+))?")

    def order(name: str) -> tuple[str, int] | None:
        m = pattern.fullmatch(name)
        return (m.group(1), int(m.group(2) or 0)) if m else None

    pointer = Path(root) / "current"
    current = pointer.read_text().strip() if pointer.exists() else None
    return prune_versions(Path(root), keep, current, order)
