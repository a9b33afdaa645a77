"""Discovery for apps: similar songs and artists from listeners and sound, top songs, ``sonicSimilarity``.

``getSimilarSongs`` (a song, an album or an artist) and ``getSimilarSongs2`` (an artist) answer with the
product's fused list (the vote of co-listening and the sound model, :mod:`gateway.app.recommending`), drawn only
from the songs apps can play, at most 2 songs of one artist in any 10, never a song the user disliked.
``getSonicSimilarTracks`` is the sound model's neighbours alone and ``findSonicPath`` a path of small steps
through the sound embedding (audio_service ``POST /path``).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import SonicPathRequest
from sqlalchemy import func, select

from gateway.app import recommending
from gateway.app.downstream import ServiceDown, ServiceRejected
from gateway.app.subsonic.browse import artist_node, child, find_album, find_artist, find_song, marks_of
from gateway.app.subsonic.protocol import Call, method
from gateway.core import subsonic as ss
from gateway.core.browse import Catalog, Track
from gateway.core.fusion import Candidate, fuse, spread
from gateway.core.modes import MODES
from gateway.db.browse import Marks
from gateway.db.export import cf_song_key
from gateway.db.models import Play, Song
from gateway.db.recs import songs_by_keys

SEEDS = 3  # songs of an album or an artist that seed its mix


def _within(catalog: Catalog) -> tuple[frozenset[int], tuple[str, ...]]:
    """The playable songs: gateway ids and their keys in the cf model (derived once per catalog)."""
    if "within" not in catalog.memo:
        keys = tuple(sorted(cf_song_key(t.id, t.msd_song_id) for t, _ in catalog.songs.values()))
        catalog.memo["within"] = (frozenset(catalog.songs), keys)
    return catalog.memo["within"]  # type: ignore[return-value]


async def _orm_songs(call: Call, ids: Sequence[int]) -> dict[int, Song]:
    def load() -> dict[int, Song]:
        with call.state.sessions() as db:
            return songs_by_keys(db, (), (), ids)[2]

    return await run_in_threadpool(load)


async def fused_similar(call: Call, catalog: Catalog, marks: Marks, seeds: list[Track], n: int) -> list[int]:
    """Song ids like ``seeds`` (the vote and the sound model fused), playable, no dislikes, artists spread."""
    within, within_cf = _within(catalog)
    exclude = frozenset(marks.disliked) | {s.id for s in seeds}
    orm = await _orm_songs(call, [s.id for s in seeds])
    lists: dict[str, list[Candidate]] = {}
    for i, seed in enumerate(s for s in seeds if s.id in orm):
        ctx = recommending.Context(call.state, set(), seed=orm[seed.id], depth=max(n, 50))
        ctx.within, ctx.within_cf = within, within_cf
        found = await recommending.for_song(ctx, MODES["hybrid"], n * 2, artist_window=n * 2, exclude=exclude)
        lists[f"seed{i}"] = [Candidate(f.song_id, rank) for rank, f in enumerate(found, 1)]
    artist_of = _artist_of(catalog)
    if len(lists) > 1:
        merged = [f.song_id for f in fuse(lists, {}, n=n * 2, exclude=exclude, artist_of=artist_of, artist_window=n)]
    else:
        merged = [c.song_id for found in lists.values() for c in found]
    return spread([s for s in merged if s in catalog.songs], artist_of)[:n]


def _artist_of(catalog: Catalog) -> dict[int, str]:
    """Song id -> its artist (the album's when the song has none), for the artist spread (derived once per catalog)."""
    if "artist_of" not in catalog.memo:
        catalog.memo["artist_of"] = {sid: t.artist or a.artist for sid, (t, a) in catalog.songs.items()}
    return catalog.memo["artist_of"]  # type: ignore[return-value]


def _seeds_of(catalog: Catalog, marks: Marks, raw: str) -> list[Track]:
    """A song itself; an album's or an artist's most played songs (by this user), else its first ones."""
    if raw in catalog.albums_by_id:
        tracks = list(find_album(catalog, raw).tracks)
    elif raw in catalog.artists:
        tracks = [t for a in find_artist(catalog, raw).albums for t in a.tracks]
    else:
        return [find_song(catalog, raw)[0]]
    tracks.sort(key=lambda t: -marks.plays.get(t.id, 0))
    return tracks[:SEEDS]


@method("getSimilarSongs")
async def get_similar_songs(call: Call) -> ss.Answer:
    count = call.integer("count", 50, 1, 500)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    seeds = _seeds_of(catalog, marks, call.required("id"))
    ids = await fused_similar(call, catalog, marks, seeds, count)
    return ss.Answer({"similarSongs": {"song": [child(*catalog.songs[s], marks) for s in ids]}})


@method("getSimilarSongs2")
async def get_similar_songs2(call: Call) -> ss.Answer:
    count = call.integer("count", 50, 1, 500)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    seeds = _seeds_of(catalog, marks, find_artist(catalog, call.required("id")).id)
    ids = await fused_similar(call, catalog, marks, seeds, count)
    return ss.Answer({"similarSongs2": {"song": [child(*catalog.songs[s], marks) for s in ids]}})


@method("getTopSongs")
async def get_top_songs(call: Call) -> ss.Answer:
    """An artist's playable songs by plays (imported listens and the app's own, every listener)."""
    name = call.required("artist").casefold().strip()
    count = call.integer("count", 50, 1, 500)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    songs = [
        sid
        for sid, (t, a) in catalog.songs.items()
        if (t.artist or "").casefold().strip() == name or a.artist.casefold().strip() == name
    ]

    def totals() -> dict[int, int]:
        with call.state.sessions() as db:
            rows = db.execute(
                select(Play.song_id, func.sum(Play.count)).where(Play.song_id.in_(songs)).group_by(Play.song_id)
            )
            return {int(s): int(n) for s, n in rows}

    played = await run_in_threadpool(totals) if songs else {}
    ranked = sorted(songs, key=lambda s: (-played.get(s, 0), (catalog.songs[s][0].title or "").casefold()))
    return ss.Answer({"topSongs": {"song": [child(*catalog.songs[s], marks) for s in ranked[:count]]}})


@method("getArtistInfo2", "getArtistInfo")
async def get_artist_info2(call: Call) -> ss.Answer:
    """Similar artists: the artists of the fused similar songs of the artist's songs (listeners and sound)."""
    count = call.integer("count", 20, 1, 100)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    artist = find_artist(catalog, call.required("id"))
    seeds = _seeds_of(catalog, marks, artist.id)
    ids = await fused_similar(call, catalog, marks, seeds, 100)
    weight: dict[str, float] = {}
    for rank, sid in enumerate(ids, 1):
        other = catalog.songs[sid][1].artist_id
        if other != artist.id:
            weight[other] = weight.get(other, 0.0) + 1.0 / (10 + rank)  # the closest songs count most
    best = sorted(weight, key=lambda a: -weight[a])[:count]
    similar = [catalog.artists[a] for a in best if a in catalog.artists]
    node = {"similarArtist": [artist_node(a, marks) for a in similar]}
    return ss.Answer({"artistInfo2": node})


def _similarity(cosine: float) -> float:
    """The extension's score: 1 is the same song, 0 the most different (cosine mapped from [-1, 1])."""
    return round(max(0.0, min(1.0, (cosine + 1.0) / 2.0)), 4)


def _by_audio(catalog: Catalog) -> dict[str, int]:
    """Audio id -> song id of the playable songs that have been analysed (derived once per catalog)."""
    if "by_audio" not in catalog.memo:
        catalog.memo["by_audio"] = {t.audio_id: t.id for t, _ in catalog.songs.values() if t.audio_id}
    return catalog.memo["by_audio"]  # type: ignore[return-value]


@method("getSonicSimilarTracks")
async def get_sonic_similar_tracks(call: Call) -> ss.Answer:
    count = call.integer("count", 10, 1, 500)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    track, _ = find_song(catalog, call.required("id"))
    matches: list[ss.Node] = []
    if track.audio_id:
        degraded: set[str] = set()
        items = await recommending.audio_similar(call.state, track.audio_id, max(count * 3, 300), degraded)
        if "audio" in degraded:
            raise ss.SubsonicError(ss.GENERIC, "the sound model is unavailable right now; try again shortly")
        by_audio = _by_audio(catalog)
        for item in items:
            sid = by_audio.get(item.song_id)
            if sid is None or sid == track.id or sid in marks.disliked:
                continue
            matches.append({"entry": child(*catalog.songs[sid], marks), "similarity": _similarity(item.score)})
            if len(matches) == count:
                break
    return ss.Answer({"sonicMatch": matches})


@method("findSonicPath")
async def find_sonic_path(call: Call) -> ss.Answer:
    count = call.integer("count", 25, 2, 100)
    catalog, marks = await call.state.browse.get(), await marks_of(call)
    start, _ = find_song(catalog, call.required("startSongId"))
    end, _ = find_song(catalog, call.required("endSongId"))
    for t in (start, end):
        if not t.audio_id:
            raise ss.SubsonicError(ss.NOT_FOUND, f"song {t.id} has not been analysed for sound yet")
    by_audio = _by_audio(catalog)
    within = [a for a, sid in by_audio.items() if sid not in marks.disliked]
    request = SonicPathRequest(start=start.audio_id or "", end=end.audio_id or "", n=count, within=within)
    try:
        answer = await call.state.audio.path(request)
    except (ServiceDown, ServiceRejected) as exc:
        raise ss.SubsonicError(ss.GENERIC, "the sound model is unavailable right now; try again shortly") from exc
    matches = [
        {"entry": child(*catalog.songs[by_audio[i.song_id]], marks), "similarity": _similarity(i.score)}
        for i in answer.items
        if i.song_id in by_audio
    ]
    return ss.Answer({"sonicMatch": matches})
