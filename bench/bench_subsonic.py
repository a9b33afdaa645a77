"""The Subsonic API under /rest/ on the real stack: malformed input, and latency over a large library.

Starts the real stack on loopback (tests/integration/conftest.py's ``Stack``: SQLite, redis-server, cf_service with
the model trained on the shipped listens, audio_service with the tiny test model and its catalog, the gateway),
then:

1. **Malformed input** to every Subsonic method, authenticated as a listener: required parameters missing,
   typed parameters (ids, numbers, booleans, years, ratings) given wrong-typed or out-of-range values, oversized
   values, too many values, unknown parameters, and broken authentication. Every answer must be a protocol answer
   (HTTP 200 with an XML or JSON ``subsonic-response``, or the file for a valid stream): no 5xx, no HTML body;
   and the database must be unchanged (every write-capable method is only sent invalid requests).
2. **Latency over a generated 10,000-song library** (generated and labelled as such: library rows tagged with the
   names of shipped MSD songs, 60 % of them matched to their MSD song, grouped 10 to an album; the files are not
   read). One client, one request at a time, token authentication with an app password as apps do it:
   ``getSimilarSongs`` (count 50) for seeds that are matched library songs (co-listening) and shipped recordings
   (sound), the first request of each seed with cold caches; ``search3`` with an empty query, 500 songs a page,
   paging through everything as apps syncing a library do; beside ``ping`` (authentication and envelope only)
   and a bare FastAPI endpoint (bench/hello_app.py) measured in the same run.

    python bench/bench_subsonic.py
    python bench/bench_subsonic.py --songs 2000 --rounds 1   # a quick check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import publish
from traffic import running_stack

TARGET_SIMILAR_P99_MS = 100.0
TARGET_SEARCH_PAGE_MS = 200.0

# Every method and its parameters: "id" (a song id), "album"/"artist"/"playlist" ids, "int", "bool", "str".
METHODS: dict[str, dict[str, str]] = {
    "ping": {},
    "getLicense": {},
    "getOpenSubsonicExtensions": {},
    "getMusicFolders": {},
    "getIndexes": {},
    "getArtists": {},
    "getArtist": {"id": "artist"},
    "getAlbum": {"id": "album"},
    "getSong": {"id": "id"},
    "getMusicDirectory": {"id": "album"},
    "getAlbumList": {"type": "type", "size": "int", "offset": "int"},
    "getAlbumList2": {"type": "type", "size": "int", "offset": "int", "fromYear": "int", "toYear": "int"},
    "getGenres": {},
    "search2": {"query": "str", "songCount": "int", "songOffset": "int"},
    "search3": {"query": "str", "artistCount": "int", "albumCount": "int", "songCount": "int", "songOffset": "int"},
    "getRandomSongs": {"size": "int", "fromYear": "int", "toYear": "int"},
    "getSongsByGenre": {"genre": "str", "count": "int", "offset": "int"},
    "stream": {"id": "id", "maxBitRate": "int"},
    "download": {"id": "id"},
    "getCoverArt": {"id": "id", "size": "int"},
    "star": {"id": "id", "albumId": "album", "artistId": "artist"},
    "unstar": {"id": "id", "albumId": "album", "artistId": "artist"},
    "getStarred": {},
    "getStarred2": {},
    "setRating": {"id": "id", "rating": "int"},
    "scrobble": {"id": "id", "time": "int", "submission": "bool"},
    "getNowPlaying": {},
    "getUser": {"username": "str"},
    "getPlaylists": {},
    "getPlaylist": {"id": "playlist"},
    "createPlaylist": {"playlistId": "playlist", "songId": "id"},
    "updatePlaylist": {"playlistId": "playlist", "songIdToAdd": "id", "songIndexToRemove": "int", "public": "bool"},
    "deletePlaylist": {"id": "playlist"},
    "getPlayQueue": {},
    "savePlayQueue": {"id": "id", "current": "id", "position": "int"},
    "getSimilarSongs": {"id": "id", "count": "int"},
    "getSimilarSongs2": {"id": "artist", "count": "int"},
    "getTopSongs": {"artist": "str", "count": "int"},
    "getArtistInfo2": {"id": "artist", "count": "int"},
    "getSonicSimilarTracks": {"id": "id", "count": "int"},
    "tokenInfo": {},
    "findSonicPath": {"startSongId": "id", "endSongId": "id", "count": "int"},
}
WRONG = {
    "id": ["abc", "-1", "0", "99999999999", "1.5", "", " ", "1;DROP TABLE songs", "١٢", "0x10", "ar-x", "al-x"],
    "album": ["al-000000000000", "", "1", "al-" + "f" * 60, "../../etc"],
    "artist": ["ar-000000000000", "", "7", "ar-\u00e9"],
    "playlist": ["pl-999999", "pl-", "pl-x", "-3", "999999999999999"],
    "int": ["abc", "-5", "1e309", "", "99999999999999999999999", "3.7", "NaN", "\u0661"],
    "bool": ["yes", "2", "", "TRUE!", "null"],
    "type": ["nonsense", "", "RANDOM", "byYear", "byGenre"],
    "str": ["x" * 5000],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def db_snapshot(url: str) -> dict[str, int]:
    from gateway.db.models import (
        AppCredential,
        Feedback,
        Play,
        PlayEvent,
        Playlist,
        PlaylistItem,
        PlayQueue,
        Rating,
        Song,
        Star,
    )
    from gateway.db.session import make_engine
    from sqlalchemy import func, select

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            m.__tablename__: int(conn.execute(select(func.count()).select_from(m)).scalar_one())
            for m in (Play, PlayEvent, Feedback, Rating, Playlist, PlaylistItem, PlayQueue, Star, AppCredential, Song)
        }
        out["play_count_sum"] = int(conn.execute(select(func.coalesce(func.sum(Play.count), 0))).scalar_one())
    engine.dispose()
    return out


def malformed_cases(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(method, parameters) pairs, none of them a valid request of its method."""
    rng = random.Random(seed)
    cases: list[tuple[str, dict[str, Any]]] = []
    for method, params in METHODS.items():
        typed = {k: v for k, v in params.items() if v != "str"}
        for name, kind in typed.items():
            for value in WRONG[kind]:
                cases.append((method, {name: value}))
                others = {k: rng.choice(WRONG[v]) for k, v in typed.items() if k != name}
                cases.append((method, {name: value, **others}))
        for name, kind in params.items():
            if kind == "str":
                cases.append((method, {name: "x" * 5000}))
        cases.append((method, {"id": ["1"] * 1200}))  # too many values
        junk = {f"zz{rng.randrange(10**6)}": rng.choice(["", "x", "\u2603", "1"]) for _ in range(5)}
        if not (method in ("savePlayQueue",) or not params):  # no required parameter: unknown ones alone are valid
            cases.append((method, junk))
        cases.append((method, {"f": "json", **junk, **{k: rng.choice(WRONG[v]) for k, v in typed.items()}}))
    return cases


def protocol_code(resp: httpx.Response) -> str:
    """The answer's Subsonic error code (``ok`` for a successful one), from XML or JSON."""
    from xml.etree import ElementTree as ET

    if resp.headers.get("content-type", "").startswith("application/json"):
        body = resp.json()["subsonic-response"]
        return str(body["error"]["code"]) if body["status"] == "failed" else "ok"
    root = ET.fromstring(resp.content)
    error = root.find("{http://subsonic.org/restapi}error")
    return error.attrib["code"] if error is not None else "ok"


def run_malformed(stack: Any, seed: int) -> tuple[str, bool]:
    base = stack.url("gateway", "")
    auth = {"u": "bench", "p": "bench-password-123", "v": "1.16.1", "c": "bench"}
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    problems: list[str] = []
    before = db_snapshot(stack.env["DATABASE_URL"])
    cases = malformed_cases(seed)
    bad_auth = [
        {"v": "1.16.1", "c": "x"},
        {"u": "bench", "v": "1.16.1", "c": "x"},
        {"u": "bench", "t": "x" * 33, "s": "", "v": "1.16.1", "c": "x"},
        {"u": "bench", "t": "z", "v": "1.16.1", "c": "x"},
        {"apiKey": "", "v": "1.16.1", "c": "x"},
        {"apiKey": "k" * 5000, "v": "1.16.1", "c": "x"},
        {"u": "bench", "p": "enc:zz", "v": "x.y", "c": "x"},
        {"u": "bench", "p": "bench-password-123", "v": "1.16.1"},
    ]
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=60) as client:
        requests = [("GET", m, auth | p) for m, p in cases] + [("POST", m, auth | p) for m, p in cases]
        requests += [("GET", m, a) for m in METHODS for a in bad_auth]
        requests += [("GET", "noSuchMethod" + str(i), auth) for i in range(20)]
        for verb, method, params in requests:
            path = f"/rest/{method}" + (".view" if len(params) % 2 else "")
            resp = client.get(path, params=params) if verb == "GET" else client.post(path, data=params)
            statuses[resp.status_code] += 1
            kind = resp.headers.get("content-type", "")
            if resp.status_code >= 500 or "html" in kind or resp.text.lstrip().lower().startswith("<!doctype html"):
                problems.append(f"{verb} {method} {str(params)[:120]}: {resp.status_code} {kind} {resp.text[:120]}")
            elif resp.status_code == 200 and not (kind.startswith("text/xml") or kind.startswith("application/json")):
                problems.append(f"{verb} {method} {str(params)[:120]}: a file ({kind}) for an invalid request")
            else:
                try:
                    codes[protocol_code(resp)] += 1
                except Exception as exc:  # an answer apps could not parse
                    problems.append(f"{verb} {method} {str(params)[:120]}: unreadable answer ({exc})")
    seconds = time.monotonic() - started
    after = db_snapshot(stack.env["DATABASE_URL"])
    unchanged = before == after
    ok = not problems and unchanged
    body = f"""
Real stack on loopback; {len(requests):,} requests in {seconds:.0f} s to the {len(METHODS)} Subsonic methods (GET with the
query and POST with a form body, `/rest/<method>` and `.view`): for each, every typed parameter (song, album, artist
and playlist ids, numbers, booleans, list types) given each of a set of wrong-typed or out-of-range values, alone
and with the others wrong too, oversized values (5,000 characters), 1,200 values of one parameter, unknown
parameters, broken authentication ({len(bad_auth)} kinds) and 20 unknown methods.
HTTP statuses: {", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))}; 5xx or HTML bodies: **{len(problems)}**;
protocol answers by error code: {", ".join(f"{k}: {v:,}" for k, v in sorted(codes.items()))}
{"" if not problems else "- " + "; ".join(problems[:5])}.
Database (rows of plays, play events, likes, ratings, playlists and their songs, play queues, stars, app
credentials, songs; total play count) before {before}, after {after}: {"unchanged" if unchanged else "**CHANGED**"}.

Verdict: {"PASS" if ok else "FAIL"}.
"""
    return body, ok


def generate_library(url: str, n: int, music_dir: Path, seed: int) -> tuple[list[int], list[int]]:
    """``n`` generated library files (rows only) named after shipped MSD songs, 60 % matched to them (the most
    played ones), 10 to an album.

    Returns the ids of the matched songs and of the shipped recordings (the similar-songs seeds).
    """
    from gateway.db.models import LibraryFile, Play, Song, SongSource, utcnow
    from gateway.db.session import make_engine
    from sqlalchemy import func, insert, select, update
    from sqlalchemy.orm import Session

    rng = random.Random(seed)
    engine = make_engine(url)
    with Session(engine) as db:
        # A listener's library holds songs people play: the matched files are the most played titled MSD songs
        # (the vote knows them), the others named after titled MSD songs nobody played here (sound only).
        played = db.execute(
            select(Song.id, Song.title, Song.artist, Song.year)
            .join(Play, Play.song_id == Song.id)
            .where(Song.source == SongSource.msd, Song.title.is_not(None), Song.artist.is_not(None))
            .group_by(Song.id, Song.title, Song.artist, Song.year)
            .order_by(func.sum(Play.count).desc(), Song.id)
        ).all()
        matched_n = int(0.6 * n)
        matched_rows = played[:matched_n]
        taken = {r[0] for r in matched_rows}
        others = [
            r
            for r in db.execute(
                select(Song.id, Song.title, Song.artist, Song.year)
                .where(Song.source == SongSource.msd, Song.title.is_not(None), Song.artist.is_not(None))
                .order_by(Song.id)
            ).all()
            if r[0] not in taken
        ]
        rng.shuffle(others)
        picked = list(matched_rows) + others[: n - len(matched_rows)]
        matched_n = len(matched_rows)
        shipped = [int(i) for i in db.execute(select(Song.id).where(Song.source == SongSource.catalog)).scalars()]
        now = utcnow()
        files, new_songs, matched_ids = [], [], []
        for k, (song_id, title, artist, year) in enumerate(picked):
            album = k // 10
            path = str(music_dir / f"generated/{album:05d}/{k % 10 + 1:02d}.flac")
            key = hashlib.sha256(path.encode()).hexdigest()
            row = {
                "path": path,
                "path_key": key,
                "size": 5_000_000,
                "mtime_ns": 0,
                "content_hash": key,
                "status": "present",
                "scanned_at": now,
                "title": title,
                "artist": artist,
                "album": f"Generated album {album}",
                "album_artist": f"Generated artist {album % 700}",
                "track_no": k % 10 + 1,
                "year": year,
                "has_cover": False,
            }
            if k < matched_n:
                files.append(row | {"song_id": song_id, "match_status": "accepted", "match_confidence": 0.95})
                matched_ids.append(int(song_id))
            else:
                new_songs.append((row, title, artist, year))
        db.execute(
            update(Song), [{"id": r["song_id"], "audio_path": r["path"]} for r in files]
        )  # matched: the MSD song plays the file
        for row, title, artist, year in new_songs:
            song = Song(source=SongSource.library, title=title, artist=artist, year=year, audio_path=row["path"])
            db.add(song)
            db.flush()
            files.append(row | {"song_id": song.id, "match_status": "none", "match_confidence": None})
        db.execute(insert(LibraryFile), files)
        db.commit()
    engine.dispose()
    return matched_ids, shipped


def timed(client: httpx.Client, path: str, params: dict[str, Any], check: Any = None) -> float:
    start = time.perf_counter()
    resp = client.get(path, params=params)
    elapsed = (time.perf_counter() - start) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"{path}: {resp.status_code} {resp.text[:300]}")
    if check is not None:
        check(resp)
    return elapsed


def run_latency(stack: Any, songs: int, rounds: int, seed: int) -> tuple[str, bool]:
    from musicrec_tools.procs import ManagedProcess, free_port

    matched, shipped = generate_library(stack.env["DATABASE_URL"], songs, Path(stack.env["MUSIC_DIR"]), seed)
    base = stack.url("gateway", "")
    web = httpx.Client(base_url=base, timeout=60)
    token = web.post("/api/auth/login", json={"username": "bench", "password": "bench-password-123"}).json()["token"]
    web.headers["Authorization"] = f"Bearer {token}"
    app_password = web.post("/api/me/app-credentials", json={"name": "bench"}).json()["secret"]
    salt = "5a1t"
    auth = {
        "u": "bench",
        "t": hashlib.md5((app_password + salt).encode()).hexdigest(),
        "s": salt,
        "v": "1.16.1",
        "c": "bench",
        "f": "json",
    }
    hello_port = free_port()
    hello = ManagedProcess(
        "hello",
        [sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(hello_port), "--log-level", "warning"],
        env=stack.env,
        cwd=Path(__file__).parent,
    ).start()
    try:
        client = httpx.Client(base_url=base, timeout=60)
        bare = httpx.Client(base_url=f"http://127.0.0.1:{hello_port}", timeout=60)
        deadline = time.monotonic() + 30
        while True:  # the gateway's catalog is rebuilt once it notices the new files
            total = client.get("/rest/search3", params=auth | {"query": "", "songCount": 1, "songOffset": songs}).json()
            if total["subsonic-response"]["searchResult3"].get("song"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the generated library did not appear: {json.dumps(total)[:300]}")
            time.sleep(1)
        for _ in range(50):  # warm-up of every connection and code path
            timed(bare, "/hello", {})
            timed(client, "/rest/ping", auth)
        rng = random.Random(seed)
        seeds = rng.sample(matched, min(60, len(matched))) + shipped[:20]
        rng.shuffle(seeds)
        sizes: dict[str, list[int]] = {"matched": [], "shipped": []}
        shipped_set = set(shipped)

        def similar_ok(resp: httpx.Response) -> None:
            body = resp.json()["subsonic-response"]
            if body["status"] != "ok":
                raise RuntimeError(f"getSimilarSongs failed: {body}")
            kind = "shipped" if int(resp.request.url.params["id"]) in shipped_set else "matched"
            sizes[kind].append(len(body["similarSongs"].get("song", [])))

        cold = [timed(client, "/rest/getSimilarSongs", auth | {"id": s, "count": 50}, similar_ok) for s in seeds]
        warm = [
            timed(client, "/rest/getSimilarSongs", auth | {"id": s, "count": 50}, similar_ok)
            for _ in range(rounds)
            for s in seeds
        ]
        pages = -(-songs // 500)
        search = [
            timed(
                client,
                "/rest/search3",
                auth | {"query": "", "artistCount": 0, "albumCount": 0, "songCount": 500, "songOffset": 500 * p},
            )
            for _ in range(rounds)
            for p in range(pages + 1)
        ]
        ping = [timed(client, "/rest/ping", auth) for _ in range(len(warm))]
        hello_ms = [timed(bare, "/hello", {}) for _ in range(len(warm))]
    finally:
        hello.stop()
    similar = cold + warm

    def line(name: str, values: list[float]) -> str:
        return (
            f"| {name} | {len(values):,} | {statistics.median(values):.1f} | {percentile(values, 99):.1f} | "
            f"{max(values):.1f} |"
        )

    ok = percentile(similar, 99) < TARGET_SIMILAR_P99_MS and percentile(search, 99) < TARGET_SEARCH_PAGE_MS
    body = f"""
Real stack on loopback (2 cores), one client, one request at a time, token authentication with an app password.
Library: **{songs:,} generated songs** (rows named after shipped MSD songs, 10 to an album; {len(matched):,} matched to
their MSD song, the most played ones, the others named after songs nobody played here) plus the {len(shipped)} shipped recordings of the stack's tiny catalog. `getSimilarSongs` (count 50, the fused
list of co-listening and sound, restricted to the playable songs) for {len(seeds)} seeds (matched library songs
and shipped recordings): each seed once with cold caches, then {rounds} warm round(s); songs per answer: median
{statistics.median(sizes["matched"]):.0f} (min {min(sizes["matched"])}) for matched library songs, median
{statistics.median(sizes["shipped"]):.0f} (min {min(sizes["shipped"])}) for shipped recordings. `search3` with an empty query, 500 songs a page, every page of
the library ({pages + 1} pages) {rounds} time(s).

| request | n | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|
{line("bare FastAPI endpoint (bench/hello_app.py)", hello_ms)}
{line("`ping` (authentication + envelope)", ping)}
{line("`getSimilarSongs`, all", similar)}
{line("`getSimilarSongs`, cold caches (first per seed)", cold)}
{line("`getSimilarSongs`, warm", warm)}
{line("`search3` page of 500, empty query", search)}

Targets (2 cores): `getSimilarSongs` p99 under {TARGET_SIMILAR_P99_MS:.0f} ms: {percentile(similar, 99):.1f} ms;
a `search3` page under {TARGET_SEARCH_PAGE_MS:.0f} ms (p99): {percentile(search, 99):.1f} ms. Verdict: {"PASS" if ok else "FAIL"}.
"""
    return body, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=10_000, help="generated library songs")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds of the latency measurements")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--skip-malformed", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-subsonic-") as tmp, running_stack(Path(tmp)) as stack:
        reg = httpx.post(
            stack.url("gateway", "/api/auth/register"),
            json={"username": "bench", "password": "bench-password-123"},
            timeout=60,
        )
        reg.raise_for_status()
        # Latency first: the malformed phase ends with broken logins, which the login limits then hold against
        # this address for a while.
        body, fast = run_latency(stack, args.songs, args.rounds, args.seed)
        publish("Subsonic API: latency over a 10,000-song library", body, write=not args.no_write)
        ok = True
        if not args.skip_malformed:
            body, ok = run_malformed(stack, args.seed)
            publish("Subsonic API: malformed input", body, write=not args.no_write)
    return 0 if ok and fast else 1


if __name__ == "__main__":
    raise SystemExit(main())
