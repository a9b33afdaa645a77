"""Precomputed lists: top-100 for every (active) user, 50 most co-listened songs for every song.

The users are split into chunks scored by worker processes (forked, so the fitted vote is shared, not copied);
each chunk's lines go to a part file and the parts are joined in order, so the output does not depend on the
number of workers. Every member scores a batch at a cost that grows with the batch's listens (item-kNN's sparse
product) or with a capped song block (EASE, ALS), and the fusion touches only the listed songs: the whole run
grows with the data, not with users x songs.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cf_service.core.members import BATCH
from cf_service.core.vote import RankFusionVote

CHUNK = 8 * BATCH  # users per worker task
_VOTE: RankFusionVote | None = None  # the forked workers' vote (set before the pool starts)


def user_lists(vote: RankFusionVote, n: int = 100, users: np.ndarray | None = None) -> Iterator[dict[str, Any]]:
    """``{"type": "user", "user_id", "songs", "scores", "member_ranks"}`` for the training users ``users`` ((u,)
    inner ids; every user when None)."""
    inter = vote.interactions
    chosen = np.arange(inter.n_users, dtype=np.int64) if users is None else np.asarray(users, np.int64)
    for lo in range(0, len(chosen), BATCH):
        batch = chosen[lo : lo + BATCH]
        idx, scores, ranks = vote.fused(batch, None, n)
        for r, u in enumerate(batch.tolist()):
            keep = idx[r] >= 0
            yield {
                "type": "user",
                "user_id": str(inter.users[u]),
                "songs": inter.songs[idx[r][keep]].tolist(),
                "scores": np.round(scores[r][keep].astype(np.float64), 6).tolist(),
                "member_ranks": {m: [int(x) if x > 0 else None for x in ranks[m][r][keep].tolist()] for m in ranks},
            }


def song_lists(vote: RankFusionVote, n: int = 50, songs: range | None = None) -> Iterator[dict[str, Any]]:
    """``{"type": "song", "song_id", "similar", "scores"}``: item-kNN neighbours of the inner ids ``songs`` (every
    song when None)."""
    inter = vote.interactions
    rows = range(inter.n_songs) if songs is None else songs
    idx, val = vote.neighbours(n, rows)
    for r, i in enumerate(rows):
        keep = idx[r] >= 0
        yield {
            "type": "song",
            "song_id": str(inter.songs[i]),
            "similar": inter.songs[idx[r][keep]].tolist(),
            "scores": np.round(val[r][keep].astype(np.float64), 6).tolist(),
        }


def active_users(vote: RankFusionVote, user_ids: Sequence[str]) -> np.ndarray:
    """(u,) sorted inner ids of the raw ``user_ids`` the model knows (the others are scored on demand anyway)."""
    index = vote.interactions.user_index
    return np.unique(np.asarray([index[u] for u in user_ids if u in index], np.int64))


def _write_chunk(task: tuple[np.ndarray, int, str]) -> int:
    users, n, path = task
    assert _VOTE is not None
    count = 0
    with open(path, "w") as handle:
        for rec in user_lists(_VOTE, n, users):
            handle.write(json.dumps(rec) + "\n")
            count += 1
    return count


def precompute(
    vote: RankFusionVote,
    out: str | Path,
    n_user: int = 100,
    n_song: int = 50,
    users: np.ndarray | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write both kinds of lines to a JSONL file (via a temp file + rename); returns counts.

    Args:
        users: (u,) inner ids of the users to list (e.g. :func:`active_users`); every training user when None.
        workers: processes scoring users (default: the CPU count); 1 scores in this process.
        progress: called with the number of users each finished chunk held.
    """
    global _VOTE
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    inter = vote.interactions
    chosen = np.arange(inter.n_users, dtype=np.int64) if users is None else np.asarray(users, np.int64)
    chunks = [chosen[lo : lo + CHUNK] for lo in range(0, len(chosen), CHUNK)]
    parts = [f"{tmp}.part{k}" for k in range(len(chunks))]
    tasks = [(c, n_user, p) for c, p in zip(chunks, parts, strict=True)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    counts = {"users": 0, "songs": 0}
    _VOTE = vote
    try:
        # fork: the workers see the loaded vote without pickling it
        with multiprocessing.get_context("fork").Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
            for k, done in enumerate(pool.imap(_write_chunk, tasks) if pool else map(_write_chunk, tasks)):
                counts["users"] += done
                if progress:
                    progress(len(chunks[k]))
        with open(tmp, "w") as handle:
            header = {
                "type": "meta",
                "version": vote.meta.get("version"),
                "trained_at": vote.meta.get("trained_at"),
                "n_user": n_user,
                "n_song": n_song,
            }
            handle.write(json.dumps(header) + "\n")
            for part in parts:
                with open(part) as src:
                    shutil.copyfileobj(src, handle)
            for rec in song_lists(vote, n_song):
                handle.write(json.dumps(rec) + "\n")
                counts["songs"] += 1
        tmp.replace(path)
    finally:
        _VOTE = None
        for part in parts:
            Path(part).unlink(missing_ok=True)
    return counts
