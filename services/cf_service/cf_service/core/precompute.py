"""Precomputed lists: top-100 for every user, 50 most co-listened songs for every song."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cf_service.core.members import BATCH
from cf_service.core.vote import RankFusionVote


def user_lists(vote: RankFusionVote, n: int = 100) -> Iterator[dict[str, Any]]:
    """``{"type": "user", "user_id", "songs", "scores", "member_ranks"}`` for every training user."""
    inter = vote.interactions
    for lo in range(0, inter.n_users, BATCH):
        users = np.arange(lo, min(lo + BATCH, inter.n_users), dtype=np.int64)
        idx, scores, ranks = vote.fused(users, None, n)
        for r, u in enumerate(users.tolist()):
            keep = idx[r] >= 0
            yield {
                "type": "user",
                "user_id": str(inter.users[u]),
                "songs": inter.songs[idx[r][keep]].tolist(),
                "scores": np.round(scores[r][keep].astype(np.float64), 6).tolist(),
                "member_ranks": {m: [int(x) if x > 0 else None for x in ranks[m][r][keep].tolist()] for m in ranks},
            }


def song_lists(vote: RankFusionVote, n: int = 50) -> Iterator[dict[str, Any]]:
    """``{"type": "song", "song_id", "similar", "scores"}``: item-kNN neighbours of every song."""
    inter = vote.interactions
    idx, val = vote.neighbours(n)
    for i in range(inter.n_songs):
        keep = idx[i] >= 0
        yield {
            "type": "song",
            "song_id": str(inter.songs[i]),
            "similar": inter.songs[idx[i][keep]].tolist(),
            "scores": np.round(val[i][keep].astype(np.float64), 6).tolist(),
        }


def precompute(vote: RankFusionVote, out: str | Path, n_user: int = 100, n_song: int = 50) -> dict[str, int]:
    """Write both kinds of lines to a JSONL file (via a temp file + rename); returns counts."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    counts = {"users": 0, "songs": 0}
    with open(tmp, "w") as handle:
        header = {
            "type": "meta",
            "version": vote.meta.get("version"),
            "trained_at": vote.meta.get("trained_at"),
            "n_user": n_user,
            "n_song": n_song,
        }
        handle.write(json.dumps(header) + "\n")
        for rec in user_lists(vote, n_user):
            handle.write(json.dumps(rec) + "\n")
            counts["users"] += 1
        for rec in song_lists(vote, n_song):
            handle.write(json.dumps(rec) + "\n")
            counts["songs"] += 1
    tmp.replace(path)
    return counts
