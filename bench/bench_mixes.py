"""Fresh daily mixes on the imported MSD listeners: day-to-day overlap, catalogue reach, ranking cost.

    OPENBLAS_NUM_THREADS=1 python bench/bench_mixes.py [--days 14] [--pool 300] [--no-write]

The vote (cf_service's three members, default parameters) is fitted on TRAIN of ``data/msd/split_10000_head``
(real Taste Profile listeners); each listener's ranked pool is its top ``--pool`` songs, which is the daily mix's
candidate list for a listener with no sound seeds (the fusion of one source keeps its order). For ``--days``
simulated days the daily mix (``gateway.core.mixes.daily``: 50 songs, rank-weighted, seeded by listener and day,
yesterday's draw held back, at most 2 per artist) is drawn, with the fixed list of before (the top 50, the same
every day) as the baseline. Listeners do not play anything in the simulation (a played song would leave the pool
and only lower the overlap further). Reported: the mean share of a mix that was in the day before's; the share
of the catalogue (TRAIN's songs) reached by all listeners' mixes over the days; NDCG@10 on TEST of the mix's first
10 songs against the vote's own top 10 (the held-out songs of the development split).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import publish

REPO = Path(__file__).resolve().parents[1]
SPLIT = REPO / "data" / "msd" / "split_10000_head"
SONGS = REPO / "data" / "msd" / "songs.tsv"
MIX = 50
START = dt.date(2026, 1, 1)


def artists_by_song() -> dict[str, str]:
    import csv

    with SONGS.open(newline="") as fh:
        return {r["song_id"]: r["artist"] for r in csv.DictReader(fh, delimiter="\t")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--pool", type=int, default=300)
    parser.add_argument("--users", type=int, default=None, help="at most this many evaluated listeners")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from cf_service.core.data import read_frame, read_interactions
    from cf_service.core.evaluate import fitted_vote, test_relevance
    from cf_service.core.metrics import ndcg_at_k
    from gateway.core import mixes
    from musicrec_common.progress import tqdm

    started = time.perf_counter()
    train = read_interactions(SPLIT / "TRAIN.tsv")
    test = read_frame(SPLIT / "TEST.tsv")
    users, relevant, _ = test_relevance(train, test)
    if args.users:
        users, relevant = users[: args.users], relevant[: args.users]
    vote = fitted_vote(train)
    pool, scores = vote.top_n_users(users, args.pool)
    pool = np.where(np.isfinite(scores), pool, -1)
    song_ids = np.asarray(train.songs)
    by_msd = artists_by_song()
    artist_of = {i: by_msd.get(str(song_ids[i])) for i in range(len(song_ids))}
    fit_s = time.perf_counter() - started

    days = [START + dt.timedelta(days=d) for d in range(args.days)]
    overlap: list[float] = []
    reached: set[int] = set()
    fixed_reached: set[int] = set()
    firsts = np.full((len(days), len(users), 10), -1, np.int64)
    drawn_s = 0.0
    for row, user in enumerate(tqdm(users, desc="listeners", unit="listener")):
        ranked = [int(s) for s in pool[row] if s >= 0]
        fixed: list[int] = []
        per_artist: dict[str, int] = {}
        for s in ranked:  # today's fixed list: the top, at most 2 per artist
            a = (artist_of.get(s) or "").casefold()
            if a and per_artist.get(a, 0) >= 2:
                continue
            per_artist[a] = per_artist.get(a, 0) + 1
            fixed.append(s)
            if len(fixed) == MIX:
                break
        fixed_reached.update(fixed)
        previous: list[int] | None = None
        for d, day in enumerate(days):
            t = time.perf_counter()
            mix = mixes.daily(ranked, MIX, int(user), day, artist_of=artist_of)
            drawn_s += time.perf_counter() - t
            reached.update(mix)
            if previous is not None:
                overlap.append(len(set(mix) & set(previous)) / max(len(mix), 1))
            firsts[d, row, : min(10, len(mix))] = mix[:10]
            previous = mix
    ndcg_vote = float(np.mean(ndcg_at_k(pool[:, :10], relevant, 10)))
    ndcg_mix = float(np.mean([np.mean(ndcg_at_k(firsts[d], relevant, 10)) for d in range(len(days))]))
    n_songs = len(song_ids)
    cost = 1 - ndcg_mix / ndcg_vote if ndcg_vote else 0.0
    body = f"""
Real data: {len(users):,} listeners of the development split's TEST (their TRAIN histories ranked by the vote,
pools of the top {args.pool}); {args.days} simulated days; catalogue = the {n_songs:,} songs of TRAIN. Mix sampling:
`gateway.core.mixes` (the first {mixes.HEAD}: alpha {mixes.HEAD_ALPHA}, half rank {mixes.HEAD_HALF_RANK}; the rest:
alpha {mixes.ALPHA}, half rank {mixes.HALF_RANK}, yesterday's songs x{mixes.YESTERDAY}; at most 2 per artist).

| | daily mix (50) | fixed list of before (top 50) | target |
|---|---|---|---|
| day-to-day overlap (mean share of a mix in the day before's) | {np.mean(overlap):.1%} | 100.0% | <= 30 % |
| catalogue reached by all listeners' mixes in {args.days} days | {len(reached) / n_songs:.1%} ({len(reached):,} songs) | {len(fixed_reached) / n_songs:.1%} ({len(fixed_reached):,} songs) | more than the fixed list |
| NDCG@10 on TEST (first 10 of the mix vs the vote's top 10) | {ndcg_mix:.4f} | {ndcg_vote:.4f} | at most 10 % lower |

Ranking-quality cost of the sampling: {cost:.1%} lower NDCG@10 (mean over the days' mixes). Drawing one mix took
{1000 * drawn_s / max(len(users) * args.days, 1):.2f} ms; fitting the vote and ranking the pools {fit_s:.0f} s.
"""
    publish("Fresh daily mixes: overlap, reach and ranking cost", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
