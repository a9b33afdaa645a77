"""The playable catalog as Subsonic apps browse it: artists → albums → songs (pure: no database, no HTTP).

What apps list is only what they can play: the files of the music folder (grouped by their album artist and
album tags) and the shipped recordings (grouped by composer and collection). Ids are stable across restarts:
an album is ``al-`` and an artist ``ar-`` followed by 12 hex digits of the SHA-1 of their names, a song is its
database id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

ARTICLES = ("The", "El", "La", "Los", "Las", "Le", "Les")
_ARTICLE_RE = re.compile(r"^(" + "|".join(ARTICLES) + r")\s+", re.I)
UNKNOWN_ARTIST = "Unknown artist"
UNKNOWN_ALBUM = "Unknown album"


def item_key(prefix: str, *names: str | None) -> str:
    """``ar-…`` / ``al-…``: 12 hex digits of the SHA-1 of the case-folded names."""
    text = "\x1f".join((n or "").casefold() for n in names)
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def sort_name(name: str) -> str:
    """The name without a leading article, case-folded (how indexes sort and letter artists)."""
    return _ARTICLE_RE.sub("", name).casefold()


@dataclass(frozen=True)
class Track:
    """One playable song and where it comes from (a library file's tags, or a shipped recording's names)."""

    id: int
    title: str | None
    artist: str | None
    album: str | None
    album_artist: str | None
    track_no: int | None
    year: int | None
    genre: str | None
    duration_s: float | None
    path: str
    has_cover: bool
    added: dt.datetime | None
    msd_song_id: str | None = None
    audio_id: str | None = None
    from_library: bool = False  # a file of the music folder (its folder may hold a cover picture)


@dataclass
class AlbumEntry:
    id: str
    name: str
    artist: str
    artist_id: str
    year: int | None
    genre: str | None
    tracks: list[Track]
    cover_song_id: int | None
    added: dt.datetime | None

    @property
    def may_have_cover(self) -> bool:
        """An embedded cover, or music-folder files whose folder may hold a picture."""
        return self.cover_song_id is not None or any(t.from_library for t in self.tracks)

    @property
    def duration_s(self) -> int:
        return int(sum(t.duration_s or 0 for t in self.tracks))


@dataclass
class ArtistEntry:
    id: str
    name: str
    albums: list[AlbumEntry] = field(default_factory=list)


@dataclass
class Catalog:
    """Everything apps can browse, indexed by id. Built once per change of the library (:func:`build`)."""

    albums: list[AlbumEntry]
    artists: dict[str, ArtistEntry]
    albums_by_id: dict[str, AlbumEntry]
    songs: dict[int, tuple[Track, AlbumEntry]]
    genres: list[tuple[str, int, int]]  # (genre, songs, albums), most songs first
    _haystack: list[tuple[str, Track]] = field(default_factory=list, repr=False)
    memo: dict[str, object] = field(default_factory=dict, repr=False)  # what callers derive once per catalog

    def find_songs(self, query: str) -> list[Track]:
        """Songs whose title, artist or album contain every word of ``query`` (all songs for an empty query)."""
        words = query.casefold().split()
        if not words:
            return [t for _, t in self._haystack]
        return [t for text, t in self._haystack if all(w in text for w in words)]

    def find_albums(self, query: str) -> list[AlbumEntry]:
        words = query.casefold().split()
        return [a for a in self.albums if all(w in f"{a.name} {a.artist}".casefold() for w in words)]

    def find_artists(self, query: str) -> list[ArtistEntry]:
        words = query.casefold().split()
        found = [a for a in self.artists.values() if all(w in a.name.casefold() for w in words)]
        return sorted(found, key=lambda a: sort_name(a.name))


def build(tracks: list[Track]) -> Catalog:
    """Group ``tracks`` into albums (album artist or artist, album) in track order, albums by artist and year."""
    groups: dict[str, list[Track]] = {}
    names: dict[str, tuple[str, str]] = {}
    for t in tracks:
        artist = t.album_artist or t.artist or UNKNOWN_ARTIST
        album = t.album or UNKNOWN_ALBUM
        key = item_key("al", artist, album)
        groups.setdefault(key, []).append(t)
        names.setdefault(key, (artist, album))
    albums: list[AlbumEntry] = []
    for key, members in groups.items():
        members.sort(key=lambda t: (t.track_no is None, t.track_no or 0, (t.title or "").casefold(), t.id))
        artist, album = names[key]
        years = [t.year for t in members if t.year]
        genre_count = Counter(t.genre for t in members if t.genre)
        added = [t.added for t in members if t.added is not None]
        albums.append(
            AlbumEntry(
                id=key,
                name=album,
                artist=artist,
                artist_id=item_key("ar", artist),
                year=max(years) if years else None,
                genre=genre_count.most_common(1)[0][0] if genre_count else None,
                tracks=members,
                cover_song_id=next((t.id for t in members if t.has_cover), None),
                added=max(added) if added else None,
            )
        )
    albums.sort(key=lambda a: (sort_name(a.artist), a.year or 0, a.name.casefold()))
    artists: dict[str, ArtistEntry] = {}
    for a in albums:
        artists.setdefault(a.artist_id, ArtistEntry(a.artist_id, a.artist)).albums.append(a)
    songs = {t.id: (t, a) for a in albums for t in a.tracks}
    song_genres = Counter(t.genre for t in tracks if t.genre)
    album_genres = Counter(g for a in albums for g in {t.genre for t in a.tracks if t.genre})
    genres = sorted(((g, n, album_genres[g]) for g, n in song_genres.items()), key=lambda x: (-x[1], x[0]))
    haystack = [
        (" ".join(filter(None, (t.title, t.artist, a.artist, a.name))).casefold(), t) for a in albums for t in a.tracks
    ]
    return Catalog(albums, artists, {a.id: a for a in albums}, songs, genres, haystack)


def index_letters(artists: list[ArtistEntry]) -> list[tuple[str, list[ArtistEntry]]]:
    """Artists under the first letter of their name without its article (``#`` for any other first character)."""
    groups: dict[str, list[ArtistEntry]] = {}
    for artist in sorted(artists, key=lambda a: sort_name(a.name)):
        first = sort_name(artist.name)[:1].upper()
        groups.setdefault(first if first.isalpha() else "#", []).append(artist)
    return sorted(groups.items())
