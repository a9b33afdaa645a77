"""Publish the served model's precomputed lists into the gateway's Redis cache.

Keys (JSON values), written under the model version so the switch is atomic:
``cf:{version}:recs:{user_id}`` (top-100 with per-member ranks and reasons),
``cf:{version}:similar:{song_id}`` (50 most co-listened songs), then
``cf:version`` is set to the new version last and the previous version's keys
are deleted. Readers see the old lists or the new ones, never a mix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
from musicrec_common import keys
from tqdm import tqdm

from cf_service.core.artifacts import load_current
from cf_service.core.members import BATCH
from cf_service.core.precompute import song_lists


def publish(
    model_dir: Path, redis_url: str, n_user: int = 100, n_song: int = 50, users_only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Score and write every training user's list (or only ``users_only``'s: the others are scored on demand
    and cached by the gateway) and every song's neighbours, then switch ``cf:version``."""
    started = time.perf_counter()
    vote = load_current(model_dir)
    version = str(vote.meta["version"])
    inter = vote.interactions
    client = redis.Redis.from_url(redis_url)
    previous = client.get(keys.CF_VERSION)
    pipe = client.pipeline(transaction=False)
    users = [str(u) for u in inter.users]
    if users_only is not None:
        wanted = set(users_only)
        users = [u for u in users if u in wanted]
    with tqdm(total=len(users) + inter.n_songs, desc="publish to redis", unit="list", disable=None) as bar:
        for lo in range(0, len(users), BATCH):
            batch = users[lo : lo + BATCH]
            for rec in vote.recommend(batch, n_user):
                items = rec.to_dict()["items"]
                pipe.set(keys.cf_recs(version, str(rec.user_id)), json.dumps(items, separators=(",", ":")))
            pipe.execute()
            bar.update(len(batch))
        for i, song_rec in enumerate(song_lists(vote, n_song)):
            items = [
                {"song_id": s, "score": sc, "rank": r}
                for r, (s, sc) in enumerate(zip(song_rec["similar"], song_rec["scores"], strict=True), start=1)
            ]
            pipe.set(keys.cf_similar(version, song_rec["song_id"]), json.dumps(items, separators=(",", ":")))
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        bar.update(inter.n_songs)
    removed = _switch(client, version, previous)
    return {
        "version": version,
        "users": len(users),
        "songs": int(inter.n_songs),
        "removed_previous": removed,
        "seconds": round(time.perf_counter() - started, 2),
        "list_length": n_user,
    }


def _switch(client: redis.Redis, version: str, previous: bytes | str | None) -> int:
    """Point ``cf:version`` at ``version``, then delete the previous version's keys (returns how many)."""
    client.set(keys.CF_VERSION, version)
    removed = 0
    old = previous.decode() if isinstance(previous, bytes) else previous
    if old and old != version:
        for key in client.scan_iter(match=keys.cf_version_pattern(old), count=1000):
            removed += int(client.unlink(key))
    return removed


def list_files(path: Path) -> list[Path]:
    """A precompute JSONL file, or the part files of a folder Spark wrote (sorted, ``_``/``.`` files skipped)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
        if not files:
            raise FileNotFoundError(f"no list files in {path}")
        return files
    return [path]


def read_meta(files: list[Path]) -> dict[str, Any]:
    """The ``{"type": "meta", "version": ...}`` line: the first line of one of ``files``."""
    for f in files:
        with open(f) as handle:
            first = handle.readline()
        if first.strip():
            rec = json.loads(first)
            if rec.get("type") == "meta" and rec.get("version"):
                return dict(rec)
    raise ValueError(f"no meta line with a version at the start of {[str(f) for f in files]}")


def publish_file(path: str | Path, redis_url: str, batch: int = 1000) -> dict[str, Any]:
    """Load precomputed lists (``precompute`` output or ``spark-train --lists``) into Redis.

    Streams the JSONL (bounded memory), writes the same keys and values as
    :func:`publish` under the file's version, then switches ``cf:version``.
    Reasons ("because you played") are not in the file, so ``because`` is empty.
    """
    started = time.perf_counter()
    files = list_files(Path(path))
    version = str(read_meta(files)["version"])
    client = redis.Redis.from_url(redis_url)
    previous = client.get(keys.CF_VERSION)
    pipe = client.pipeline(transaction=False)
    counts = {"users": 0, "songs": 0}
    pending = 0
    for f in files:
        with open(f) as handle:
            for line in handle:
                if not line.strip():
                    continue
                rec = json.loads(line)
                kind = rec.get("type")
                if kind == "user":
                    ranks = rec.get("member_ranks") or {}
                    items: list[dict[str, Any]] = [
                        {
                            "song_id": s,
                            "score": sc,
                            "rank": r,
                            "because": [],
                            "member_ranks": {m: v[r - 1] for m, v in ranks.items()},
                        }
                        for r, (s, sc) in enumerate(zip(rec["songs"], rec["scores"], strict=True), start=1)
                    ]
                    pipe.set(keys.cf_recs(version, rec["user_id"]), json.dumps(items, separators=(",", ":")))
                elif kind == "song":
                    items = [
                        {"song_id": s, "score": sc, "rank": r}
                        for r, (s, sc) in enumerate(zip(rec["similar"], rec["scores"], strict=True), start=1)
                    ]
                    pipe.set(keys.cf_similar(version, rec["song_id"]), json.dumps(items, separators=(",", ":")))
                else:
                    continue
                counts[f"{kind}s"] += 1
                pending += 1
                if pending >= batch:
                    pipe.execute()
                    pending = 0
    pipe.execute()
    removed = _switch(client, version, previous)
    return {
        "version": version,
        **counts,
        "files": len(files),
        "removed_previous": removed,
        "seconds": round(time.perf_counter() - started, 2),
    }
