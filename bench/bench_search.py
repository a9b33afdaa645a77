"""Latency of the gateway's catalog search over the whole shipped catalog, with typos.

Imports the shipped MSD songs and listens into a fresh SQLite database (or uses
``--db``), builds the in-memory index, then runs 200 realistic queries (exact
artists and titles, artist + title words, one-edit typos, prefixes, tags) three
times each: through the index alone (``gateway.core.search``) and through the
HTTP route ``GET /api/songs/search`` in-process (index + one SQL query for the
page's rows + JSON). Also reports how often a typo'd query still finds what it
was meant to find in the first 10 results.

    python bench/bench_search.py
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section

REPO = Path(__file__).resolve().parents[1]
TAGS = ["rock", "jazz", "hip hop", "80s", "female vocalists", "electronic", "punk", "soul", "metal", "country"]
FIXED = ["beetles", "radiohed", "the", "love", "a"]


def typo(word: str, rng: random.Random) -> str:
    """One edit (substitute, delete, transpose or insert) away from ``word``, never at its first letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["sub", "del", "swap", "ins"])
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "sub":
        return word[:i] + letter + word[i + 1 :]
    if kind == "del":
        return word[:i] + word[i + 1 :]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + letter + word[i:]


def make_queries(songs: list[tuple[str, str]], seed: int = 7) -> list[tuple[str, str, str | None]]:
    """(kind, query, expected artist or None) for 200 queries."""
    rng = random.Random(seed)
    picks = rng.sample(songs, 200)
    out: list[tuple[str, str, str | None]] = []
    for _title, artist in picks[:50]:
        out.append(("artist", rng.choice([artist, artist.lower(), artist.upper()]), artist))
    for title, artist in picks[50:90]:
        out.append(("title", title, artist))
    for title, artist in picks[90:120]:
        word = max(title.split(), key=len)
        out.append(("artist + title word", f"{artist} {word}", artist))
    for _title, artist in picks[120:150]:
        words = artist.split()
        j = max(range(len(words)), key=lambda k: len(words[k]))
        words[j] = typo(words[j], rng)
        out.append(("artist with a typo", " ".join(words), artist))
    for title, artist in picks[150:170]:
        words = title.split()
        j = max(range(len(words)), key=lambda k: len(words[k]))
        words[j] = typo(words[j], rng)
        out.append(("title with a typo", " ".join(words), artist))
    for _title, artist in picks[170:185]:
        out.append(("artist prefix", artist[: rng.randint(3, 6)], None))
    for tag in TAGS:
        out.append(("tag", tag, None))
    for query in FIXED:
        out.append(("fixed", query, None))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of an already imported database")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only, do not update bench/RESULTS.md")
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from gateway.app.main import create_app
    from gateway.app.settings import Settings
    from gateway.core.search import normalize
    from gateway.db.importer import import_data
    from gateway.db.migrate import upgrade
    from gateway.db.models import Song
    from gateway.db.session import make_engine
    from sqlalchemy import select

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        if args.db is None:
            upgrade(url)
            t = time.perf_counter()
            import_data(
                engine,
                songs_path=REPO / "data/msd/songs.tsv",
                listens_paths=[REPO / "data/msd/listens_10000_head.tsv"],
            )
            print(f"imported in {time.perf_counter() - t:.1f}s")
        with engine.connect() as conn:
            n_songs = conn.execute(select(Song.id)).all()
            titled = [
                (t, a)
                for t, a in conn.execute(select(Song.title, Song.artist).where(Song.title.is_not(None)))
                if t and a and len(t) > 3 and len(a) > 3
            ]
        engine.dispose()
        queries = make_queries(titled)

        settings = Settings(
            database_url=url, var_dir=Path(tmp), redis_url="redis://127.0.0.1:1/0", serve_frontend=False
        )
        with TestClient(create_app(settings)) as client:
            service = client.app.state.app.search  # type: ignore[attr-defined]
            t = time.perf_counter()
            index = service.index()  # waits for the start-up build if it is still running
            build_wait = time.perf_counter() - t
            t = time.perf_counter()
            service._build()  # a full rebuild, timed on its own
            build = time.perf_counter() - t
            index = service.index()

            core_ms: list[float] = []
            http_ms: list[float] = []
            by_kind: dict[str, list[float]] = {}
            found: dict[str, list[bool]] = {}
            for _kind, q, _ in queries:  # warm-up pass
                index.search(q)
            for rep in range(args.repeat):
                for kind, q, expected in queries:
                    t0 = time.perf_counter()
                    page = index.search(q, limit=20)
                    core_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    resp = client.get("/api/songs/search", params={"q": q, "per_page": 20})
                    elapsed = (time.perf_counter() - t0) * 1000
                    http_ms.append(elapsed)
                    by_kind.setdefault(kind, []).append(elapsed)
                    assert resp.status_code == 200, resp.text
                    if expected is not None and rep == 0:
                        artists = {normalize(i["artist"]) for i in resp.json()["items"][:10]}
                        found.setdefault(kind, []).append(normalize(expected) in artists)
                    del page

    rows = "\n".join(
        f"| {kind} | {len(v) // args.repeat} | {pct(v, 0.5):.1f} ms | {pct(v, 0.95):.1f} ms |"
        + (f" {100 * sum(found[kind]) / len(found[kind]):.0f} % |" if kind in found else " |")
        for kind, v in by_kind.items()
    )
    body = f"""
Catalog: {len(n_songs):,} songs ({len(index):,} indexed, {len(index.vocab):,} distinct words). Index build:
{build:.2f} s (start-up build still running when first asked: waited {build_wait:.2f} s). {len(queries)} queries,
each run {args.repeat} times after a warm-up pass ({len(core_ms)} samples per line).

| path | p50 | p95 | max |
|---|---:|---:|---:|
| index only (`SearchIndex.search`) | {pct(core_ms, 0.5):.2f} ms | {pct(core_ms, 0.95):.2f} ms | {max(core_ms):.2f} ms |
| HTTP `GET /api/songs/search` in-process (index + SQL for the page + JSON) | {pct(http_ms, 0.5):.2f} ms | {pct(http_ms, 0.95):.2f} ms | {max(http_ms):.2f} ms |

By kind of query (HTTP), and how often the intended artist is among the first 10 results:

| kind | queries | p50 | p95 | intended artist in top 10 |
|---|---:|---:|---:|---:|
{rows}
"""
    print(body)
    if not args.no_write:
        write_section("Catalog search latency (gateway)", "python bench/bench_search.py", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
