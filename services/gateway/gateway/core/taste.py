"""What a listener's own signals do to every list they get: skips, dislikes and likes, and their exclusion rules.

Pure logic over plain values (the database and the services are read by :mod:`gateway.app.recommending`).

* **Signals** (:class:`Signal`): an early skip (-1), a dislike (-2) or a bad rating (-1.5) lowers a song; a like
  (+0.5) raises it. A signal reaches, with a smaller share, the song's **artist** (:data:`ARTIST_SHARE`) and its
  nearest **neighbours** in sound and co-listening (:data:`NEIGHBOUR_SHARE`). Skips fade with a half-life of
  :data:`SKIP_HALF_LIFE_DAYS` (a mood passes); likes and dislikes are explicit and stay. A song's fused score is
  multiplied by ``exp(sum of what reaches it)``; one that falls under :data:`DROP_BELOW` is left out (three fresh
  skips of one artist's songs: ``exp(-3 x 0.6) = 0.17``, the artist is gone until the skips fade).
* **Rules** (:class:`Rules`): artists, genres and tags the listener never wants; a song matching one is left out
  of every list.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

SKIP_WEIGHT = -1.0
DISLIKE_WEIGHT = -2.0
BAD_RATING_WEIGHT = -1.5
LIKE_WEIGHT = 0.5
ARTIST_SHARE = 0.6
NEIGHBOUR_SHARE = 0.35
SKIP_HALF_LIFE_DAYS = 30.0
SKIP_MEMORY_DAYS = 120  # older skips weigh under 1/16 of a fresh one: not read at all
DROP_BELOW = 0.18

RuleKind = Literal["artist", "genre", "tag"]
RULE_KINDS: tuple[RuleKind, ...] = ("artist", "genre", "tag")


class SongFacts(Protocol):
    """What the rules and signals read of a song (the database's ``Song`` has these)."""

    @property
    def id(self) -> int: ...
    @property
    def artist(self) -> str | None: ...
    @property
    def genre(self) -> str | None: ...
    @property
    def tags(self) -> str | None: ...


def fold(text: str | None) -> str:
    """The form names are compared in: casefolded, inner spaces collapsed."""
    return " ".join((text or "").casefold().split())


def tag_names(song: SongFacts) -> list[str]:
    """A song's tags as stored, in order, each once: Last.fm tags are ``|``-separated; the catalog's (its collection
    and instruments) space-separated."""
    raw = song.tags or ""
    parts = raw.split("|") if "|" in raw else raw.split()
    out: list[str] = []
    seen: set[str] = set()
    for p in parts:
        name = " ".join(p.split())
        if name and fold(name) not in seen:
            seen.add(fold(name))
            out.append(name)
    return out


def tags_of(song: SongFacts) -> set[str]:
    """A song's tags, folded (:func:`fold`), for comparisons."""
    return {fold(t) for t in tag_names(song)}


@dataclass(frozen=True)
class Signal:
    """One thing the listener did to a song: ``weight`` < 0 lowers it (and its artist and neighbours), > 0 raises."""

    song_id: int
    artist: str | None
    weight: float
    at: dt.datetime | None = None
    fades: bool = False  # skips fade; likes and dislikes stay

    def strength(self, now: dt.datetime) -> float:
        if not self.fades or self.at is None:
            return self.weight
        age_days = max((now - self.at).total_seconds() / 86400.0, 0.0)
        return self.weight * 0.5 ** (age_days / SKIP_HALF_LIFE_DAYS)


@dataclass(frozen=True)
class Rules:
    """Artists, genres and tags kept out of every list (stored folded: :func:`fold`)."""

    artists: frozenset[str] = frozenset()
    genres: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    @classmethod
    def of(cls, rules: Iterable[tuple[str, str]]) -> Rules:
        """From ``(kind, value)`` pairs."""
        found: dict[str, set[str]] = {k: set() for k in RULE_KINDS}
        for kind, value in rules:
            if kind in found and fold(value):
                found[kind].add(fold(value))
        return cls(frozenset(found["artist"]), frozenset(found["genre"]), frozenset(found["tag"]))

    def __bool__(self) -> bool:
        return bool(self.artists or self.genres or self.tags)

    def excludes(self, song: SongFacts) -> bool:
        if not self:
            return False
        if self.artists and fold(song.artist) in self.artists:
            return True
        if self.genres and fold(song.genre) in self.genres:
            return True
        return bool(self.tags and not self.tags.isdisjoint(tags_of(song)))


@dataclass
class Taste:
    """A listener's signals and rules, ready to weigh candidates.

    Attributes:
        signals: what they did (:class:`Signal`).
        rules: what they never want.
        neighbours: a signal's song id -> the song ids nearest to it (sound, co-listening).
        now: the time the signals' fading is measured at.
    """

    signals: list[Signal] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)
    neighbours: Mapping[int, Collection[int]] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    _by_song: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _by_artist: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _by_neighbour: dict[int, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.prepare()

    def prepare(self) -> None:
        """Sum the signals by song, artist and neighbour (again after ``neighbours`` changed)."""
        self._by_song, self._by_artist, self._by_neighbour = {}, {}, {}
        for s in self.signals:
            w = s.strength(self.now)
            self._by_song[s.song_id] = self._by_song.get(s.song_id, 0.0) + w
            if fold(s.artist):
                self._by_artist[fold(s.artist)] = self._by_artist.get(fold(s.artist), 0.0) + ARTIST_SHARE * w
            for other in self.neighbours.get(s.song_id, ()):
                if other != s.song_id:
                    self._by_neighbour[other] = self._by_neighbour.get(other, 0.0) + NEIGHBOUR_SHARE * w

    @property
    def active(self) -> bool:
        return bool(self.signals or self.rules)

    def negative_songs(self, limit: int) -> list[int]:
        """The songs of the most recent negative signals (whose neighbours are worth looking up)."""
        neg = sorted((s for s in self.signals if s.weight < 0), key=lambda s: s.at or dt.datetime.min, reverse=True)
        out: list[int] = []
        for s in neg:
            if s.song_id not in out:
                out.append(s.song_id)
        return out[:limit]

    def factor(self, song: SongFacts | None) -> float:
        """What a song's fused score is multiplied by: 0 when a rule or the signals leave it out."""
        if song is None:
            return 1.0
        if self.rules.excludes(song):
            return 0.0
        total = (
            self._by_song.get(song.id, 0.0)
            + self._by_artist.get(fold(song.artist), 0.0)
            + self._by_neighbour.get(song.id, 0.0)
        )
        f = math.exp(total)
        return 0.0 if f < DROP_BELOW else f
