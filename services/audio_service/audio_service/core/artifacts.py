"""Versioned artifact folders with an atomically switched ``current`` pointer.

Layout: ``ROOT/<version>/...`` plus ``ROOT/current`` (a text file holding the version name). The
pointer is replaced with ``os.replace`` so readers see either the old or the new version, never a
half-written one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def new_version_dir(root: str | os.PathLike[str], prefix: str = "v") -> Path:
    """Create and return a fresh ``ROOT/<prefix><UTC timestamp>`` folder (unique)."""
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for i in range(1000):
        path = base / (f"{prefix}{stamp}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a version folder under {base}")


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
