"""Playlists as files: M3U (extended) out, JSPF (the JSON playlist format ListenBrainz uses) out and in.

Pure: songs come in as :class:`Track` values; the gateway resolves an imported JSPF's tracks to its songs
(:func:`parse_jspf` gives what each track names: our own song id when the file came from here, an MSD id, a
MusicBrainz recording, or just creator and title).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

EXTENSION = "https://musicrec.invalid/jspf/song"  # our own track extension: the song's ids here
MAX_TRACKS = 10_000


class PlaylistFormatError(ValueError):
    """A file that is not a playlist we can read; the message says what is wrong."""


@dataclass(frozen=True)
class Track:
    """A playlist entry as the formats see it."""

    song_id: int | None = None
    title: str | None = None
    creator: str | None = None
    album: str | None = None
    duration_ms: int | None = None
    location: str | None = None  # an absolute URL the audio plays from
    msd_song_id: str | None = None
    identifiers: tuple[str, ...] = field(default_factory=tuple)


def _line(text: str | None) -> str:
    return " ".join((text or "").split())


def to_m3u(title: str, tracks: list[Track]) -> str:
    """Extended M3U: ``#EXTINF:seconds,Artist - Title`` then the location; a song without audio is a comment
    (players skip it, people still see what it was)."""
    out = ["#EXTM3U", f"#PLAYLIST:{_line(title)}"]
    for t in tracks:
        seconds = round(t.duration_ms / 1000) if t.duration_ms else -1
        name = " - ".join(x for x in (_line(t.creator), _line(t.title)) if x) or "unknown"
        out.append(f"#EXTINF:{seconds},{name}")
        out.append(t.location if t.location else f"# no audio here for: {name}")
    return "\n".join(out) + "\n"


def to_jspf(title: str, creator: str, tracks: list[Track], when: dt.datetime | None = None) -> dict[str, Any]:
    """A JSPF document (``{"playlist": {...}}``)."""
    items = []
    for t in tracks:
        item: dict[str, Any] = {}
        if t.title:
            item["title"] = t.title
        if t.creator:
            item["creator"] = t.creator
        if t.album:
            item["album"] = t.album
        if t.duration_ms:
            item["duration"] = int(t.duration_ms)
        if t.location:
            item["location"] = [t.location]
        if t.identifiers:
            item["identifier"] = list(t.identifiers)
        item["extension"] = {EXTENSION: {"song_id": t.song_id, "msd_song_id": t.msd_song_id}}
        items.append(item)
    stamp = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"playlist": {"title": title, "creator": creator, "date": stamp, "track": items}}


_MBID = re.compile(r"musicbrainz\.org/recording/([0-9a-f-]{36})", re.I)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlaylistFormatError("track fields title, creator and album must be text")
    return _line(value)[:512] or None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise PlaylistFormatError("location and identifier must be text or lists of text")
    return [v for v in values if v]


def parse_jspf(doc: Any) -> tuple[str, list[Track]]:
    """The title and tracks of a JSPF document; :class:`PlaylistFormatError` when it is not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("playlist"), dict):
        raise PlaylistFormatError('a JSPF file is a JSON object with a "playlist" object')
    playlist = doc["playlist"]
    title = _text(playlist.get("title")) or "Imported playlist"
    raw = playlist.get("track", [])
    if not isinstance(raw, list):
        raise PlaylistFormatError('"track" must be a list')
    if len(raw) > MAX_TRACKS:
        raise PlaylistFormatError(f"at most {MAX_TRACKS} tracks")
    tracks = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise PlaylistFormatError(f"track {n} is not an object")
        ours = (item.get("extension") or {}).get(EXTENSION) if isinstance(item.get("extension"), dict) else None
        song_id = ours.get("song_id") if isinstance(ours, dict) else None
        msd = ours.get("msd_song_id") if isinstance(ours, dict) else None
        duration = item.get("duration")
        locations = _list(item.get("location"))
        tracks.append(
            Track(
                song_id=song_id if isinstance(song_id, int) and not isinstance(song_id, bool) else None,
                title=_text(item.get("title")),
                creator=_text(item.get("creator")),
                album=_text(item.get("album")),
                duration_ms=int(duration) if isinstance(duration, int | float) and duration > 0 else None,
                location=locations[0] if locations else None,
                msd_song_id=msd if isinstance(msd, str) else None,
                identifiers=tuple(_list(item.get("identifier"))),
            )
        )
    return title, tracks
