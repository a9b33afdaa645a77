"""Matching a 10,000-song library against a million MSD tracks: the import of ``unique_tracks.txt`` and the lookups.

    python bench/bench_match_scale.py [--tracks 1000000] [--library 10000] [--no-write]

The track list is generated (labelled as such) in the MSD's ``unique_tracks.txt`` format: every titled song of
``data/msd/songs.tsv`` (real names and ids) plus synthetic tracks up to ``--tracks`` lines, whose artists and titles
are pseudo-words (about 22 tracks per artist, Zipf-like, as in the MSD: 1,000,000 tracks by 44,745 artists).
It is imported with ``python -m gateway import-data --tracks`` into a fresh SQLite database (a child process: its
time and peak RSS are measured). The library is ``bench/match_eval.py``'s labelled set, drawn from the real
songs with the tag noise real libraries have (15 % held out of the index), matched against everything imported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

SYLLABLES = [
    "ka", "lo", "mi", "ra", "ten", "vo", "shi", "dan", "bel", "or", "que", "zu", "pal", "ny", "ar", "el",
    "fin", "go", "ha", "jo", "ki", "lu", "mo", "ne", "pe", "ri", "sa", "tu", "va", "wy", "xe", "yo",
]  # fmt: skip


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def write_tracks(path: Path, n_tracks: int, real: list[tuple[str, str, str, float | None]], seed: int = 0) -> int:
    """Real songs first, then synthetic tracks; returns the number of lines."""
    rng = random.Random(seed)
    lines = 0
    with open(path, "w", encoding="utf-8") as out:
        for i, (sid, artist, title, _) in enumerate(real):
            out.write(f"TRREAL{i:012d}<SEP>{sid}<SEP>{artist}<SEP>{title}\n")
            lines += 1
        n_artists = max(1, (n_tracks - lines) // 22)
        artists = [f"{word(rng)} {word(rng)}" for _ in range(n_artists)]
        weights = [1.0 / (i + 1) ** 0.6 for i in range(n_artists)]
        picks = rng.choices(range(n_artists), weights=weights, k=max(0, n_tracks - lines))
        for j, a in enumerate(picks):
            title = " ".join(word(rng) for _ in range(rng.randint(1, 4)))
            out.write(f"TRSYN{j:013d}<SEP>SOSYN{j:013d}<SEP>{artists[a]}<SEP>{title}\n")
            lines += 1
    return lines


def child_import(url: str, tracks: Path) -> None:
    from gateway.db.importer import import_data
    from gateway.db.session import make_engine

    engine = make_engine(url)
    start = time.perf_counter()
    report = import_data(engine, songs_path=None, listens_paths=[], tracks_path=tracks)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read": report.tracks_read,
                "created": report.songs_created_from_tracks,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def child_match(url: str, library: int) -> None:
    from gateway.db.library import msd_index
    from gateway.db.session import make_engine
    from match_eval import labelled_set, read_songs
    from sqlalchemy.orm import Session

    rows = read_songs()
    index_rows, cases = labelled_set(rows, cases=library, seed=1)
    held_out = {r[0] for r in rows} - {r[0] for r in index_rows}
    engine = make_engine(url)
    if held_out:  # the held-out songs leave the database too: a library has songs the MSD does not
        from gateway.db.models import Song
        from sqlalchemy import delete

        with engine.begin() as conn:
            ids = sorted(held_out)
            for lo in range(0, len(ids), 1000):
                conn.execute(delete(Song).where(Song.msd_song_id.in_(ids[lo : lo + 1000])))
    start = time.perf_counter()
    with Session(engine) as session:
        index = msd_index(session)
    build = time.perf_counter() - start
    start = time.perf_counter()
    accepted = correct = 0
    for case in cases:
        m = index.match(case.artist, case.title, case.duration_s)
        if m.status == "accepted":
            accepted += 1
            correct += int(case.truth is not None and m.song_id == case.truth)
    seconds = time.perf_counter() - start
    positives = sum(1 for c in cases if c.truth is not None)
    print(
        json.dumps(
            {
                "build_s": build,
                "match_s": seconds,
                "cases": len(cases),
                "precision": correct / max(1, accepted),
                "recall": correct / max(1, positives),
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_child(*args: str) -> dict[str, float]:
    env = dict(os.environ)
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"child {args[:1]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--library", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child-import", nargs=2, metavar=("URL", "TRACKS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-match", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_import:
        child_import(args.child_import[0], Path(args.child_import[1]))
        return 0
    if args.child_match:
        child_match(args.child_match[0], int(args.child_match[1]))
        return 0

    from gateway.db.migrate import upgrade
    from match_eval import read_songs

    with tempfile.TemporaryDirectory(prefix="bench_match_") as tmp:
        tracks = Path(tmp) / "unique_tracks.txt"
        lines = write_tracks(tracks, args.tracks, read_songs())
        size_mb = tracks.stat().st_size / 1024 / 1024
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        imp = run_child("--child-import", url, str(tracks))
        print(f"import: {imp}", flush=True)
        match = run_child("--child-match", url, str(args.library))
        print(f"match: {match}", flush=True)
    body = f"""
Generated track list in the `unique_tracks.txt` format ({lines:,} lines, {size_mb:.0f} MB: the
{len(read_songs()):,} titled songs of `data/msd/songs.tsv` plus synthetic tracks with pseudo-word names, ~22 per
artist), imported into a fresh SQLite database; then a library of {int(match["cases"]):,} tagged files (the
labelled set of `bench/match_eval.py`: real songs with the tag noise of real libraries, 15 % of them not in the
database) matched against everything imported. Each step runs in its own process (peak RSS of that process).

| step | time | peak RSS |
|---|---:|---:|
| `import-data --tracks` ({imp["created"]:,.0f} songs created, chunks of 50,000 lines) | {imp["seconds"]:.0f} s ({imp["read"] / imp["seconds"]:,.0f} lines/s) | {imp["rss_mb"]:.0f} MB |
| matching index of every titled song (built by normalised artist) | {match["build_s"]:.0f} s | {match["rss_mb"]:.0f} MB |
| {int(match["cases"]):,} library files matched | {match["match_s"]:.1f} s ({match["cases"] / match["match_s"]:,.0f} files/s) | |

Accepted matches against the {lines:,} tracks: precision {match["precision"]:.4f}, recall {match["recall"]:.4f}.
"""
    from results import publish

    publish("Matching a 10,000-song library against a million MSD tracks", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
