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
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from cf_service.core.artifacts import load_current
from cf_service.core.members import BATCH
from cf_service.core.precompute import song_lists


def publish(model_dir: Path, redis_url: str, n_user: int = 100, n_song: int = 50) -> dict[str, Any]:
    started = time.perf_counter()
    vote = load_current(model_dir)
    version = str(vote.meta["version"])
    inter = vote._require()
    client = redis.Redis.from_url(redis_url)
    previous = client.get("cf:version")
    pipe = client.pipeline(transaction=False)
    users = [str(u) for u in inter.users]
    with tqdm(total=len(users) + inter.n_songs, desc="publish to redis", unit="list", disable=None) as bar:
        for lo in range(0, len(users), BATCH):
            batch = users[lo : lo + BATCH]
            for rec in vote.recommend(batch, n_user):
                items = rec.to_dict()["items"]
                pipe.set(f"cf:{version}:recs:{rec.user_id}", json.dumps(items, separators=(",", ":")))
            pipe.execute()
            bar.update(len(batch))
        for i, rec in enumerate(song_lists(vote, n_song)):
            items = [{"song_id": s, "score": sc, "rank": r} for r, (s, sc) in
                     enumerate(zip(rec["similar"], rec["scores"], strict=True), start=1)]
            pipe.set(f"cf:{version}:similar:{rec['song_id']}", json.dumps(items, separators=(",", ":")))
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        bar.update(inter.n_songs)
    client.set("cf:version", version)
    removed = 0
    if previous and previous.decode() != version:
        for key in client.scan_iter(match=f"cf:{previous.decode()}:*", count=1000):
            removed += int(client.unlink(key))
    return {"version": version, "users": len(users), "songs": int(inter.n_songs),
            "removed_previous": removed, "seconds": round(time.perf_counter() - started, 2),
            "list_length": n_user}
