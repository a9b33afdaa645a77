"""Versioned model artifacts with an atomic ``current`` switch.

Layout under a model directory ``DIR``::

    DIR/<version>/vote.json, interactions.npz, members/<name>/{meta.json,model.npz}
    DIR/<version>/manifest.json      # version, trained_at, sizes, params, timings
    DIR/current.json                 # {"version": "<version>"}, replaced atomically

``<version>`` is ``YYYYmmddTHHMMSSZ-<8 hex>`` (UTC time + a hash of the
parameters and training data), so versions sort by time. A new version is
written completely, then ``current.json`` is swapped with ``os.replace`` (atomic
on POSIX): a reader sees either the old or the new model, never a half one.
Only ``.npz`` (loaded with ``allow_pickle=False``) and ``.json`` are written. After the switch,
versions older than the newest ``keep`` (3 by default) are deleted, the current one never.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from musicrec_common.versions import KEEP_VERSIONS, prune_versions

from cf_service.core.data import Interactions
from cf_service.core.vote import RankFusionVote

POINTER = "current.json"
VERSION_RE = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{8}")


def version_order(name: str) -> str | None:
    """Sort key of a version folder name (its UTC timestamp), None for anything else."""
    m = VERSION_RE.fullmatch(name)
    return m.group(1) if m else None


def make_version(inter: Interactions, params: dict[str, Any], now: datetime | None = None) -> str:
    """``<UTC timestamp>-<short hash of params + data>``."""
    now = now or datetime.now(UTC)
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(inter.counts.indptr).tobytes())
    h.update(np.ascontiguousarray(inter.counts.indices).tobytes())
    h.update(np.ascontiguousarray(inter.counts.data).tobytes())
    h.update(os.urandom(4))  # two trainings in the same second never collide
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{h.hexdigest()[:8]}"


def write_pointer(model_dir: str | Path, version: str) -> None:
    """Atomically point ``model_dir/current.json`` at ``version``."""
    root = Path(model_dir)
    fd, tmp = tempfile.mkstemp(prefix=".current.", suffix=".json", dir=root)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": version}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, root / POINTER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_version(model_dir: str | Path) -> str | None:
    path = Path(model_dir) / POINTER
    if not path.exists():
        return None
    return str(json.loads(path.read_text())["version"])


def save_version(
    vote: RankFusionVote,
    model_dir: str | Path,
    manifest: dict[str, Any] | None = None,
    keep: int = KEEP_VERSIONS,
) -> Path:
    """Write ``vote`` into a new version folder, switch ``current`` to it, then keep only the newest ``keep``."""
    inter = vote.interactions
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    params = vote.get_params()
    version = make_version(inter, params)
    # Build in a hidden temp folder, rename into place, then flip the pointer.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root))
    os.chmod(staging, 0o755)  # mkdtemp makes 0700; serving may run as another user
    now = datetime.now(UTC).isoformat(timespec="seconds")
    vote.meta = {**vote.meta, "version": version, "trained_at": now}
    vote.save(staging)
    info = {
        "version": version,
        "trained_at": now,
        "n_users": inter.n_users,
        "n_songs": inter.n_songs,
        "n_listens": inter.nnz,
        "params": params,
        "fit_seconds": round(vote.fit_seconds, 3),
        **(manifest or {}),
    }
    (staging / "manifest.json").write_text(json.dumps(info, indent=1, default=str))
    final = root / version
    os.replace(staging, final)
    write_pointer(root, version)
    prune_versions(root, keep, version, version_order)
    return final


def load_version(model_dir: str | Path, version: str) -> RankFusionVote:
    path = Path(model_dir) / version
    vote = RankFusionVote.load(path).warm()
    manifest = path / "manifest.json"
    if manifest.exists():
        vote.meta = {**vote.meta, **json.loads(manifest.read_text())}
    return vote


def load_current(model_dir: str | Path) -> RankFusionVote:
    """The vote that ``model_dir/current.json`` points at (raises FileNotFoundError if none)."""
    version = current_version(model_dir)
    if version is None:
        raise FileNotFoundError(f"no {POINTER} in {model_dir}: train a model first")
    return load_version(model_dir, version)


def model_info(vote: RankFusionVote) -> dict[str, Any]:
    """Metadata for an API: version, trained_at, sizes, params."""
    inter = vote.interactions
    return {
        "version": vote.meta.get("version"),
        "trained_at": vote.meta.get("trained_at"),
        "n_users": inter.n_users,
        "n_songs": inter.n_songs,
        "n_listens": inter.nnz,
        "members": list(vote.members),
        "weights": vote.weights,
        "rrf_k": vote.rrf_k,
    }
