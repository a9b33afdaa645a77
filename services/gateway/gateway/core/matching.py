"""Match a song as people's tags name it (artist, title, maybe a duration) to a Million Song Dataset song.

Library files, scrobble exports and ListenBrainz submissions name songs the way taggers and players
write them: "The Beatles" or "Beatles", "Björk" or "Bjork", "Dog Days Are Over (Radio Edit)",
"Jay-Z feat. Alicia Keys", "Various Artists" with "Artist - Title" in the title. :func:`normalize_artist`
and :func:`normalize_title` reduce both sides to a comparable key (Unicode NFKC, case and diacritics,
featured credits, parentheticals and edition suffixes, a leading "The", "&"/"and", punctuation);
:class:`MsdIndex` keeps the candidates by normalised artist (and, for songs without an artist tag, by
normalised title), so a lookup compares a handful of candidates, never all pairs; :func:`MsdIndex.match`
scores them with rapidfuzz and uses the duration as a check when both sides know it.

A :class:`Match` is ``accepted`` (one clear candidate above :data:`ACCEPT`), ``ambiguous`` (a plausible
candidate an admin should confirm: between :data:`REVIEW` and :data:`ACCEPT`, or two close candidates
for different songs) or ``none``. Pure: no database, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

ACCEPT = 0.90  # confidence from which a match is taken without asking
REVIEW = 0.72  # confidence from which a candidate is worth showing an admin
CLOSE = 0.03  # two candidates for different songs closer than this: ask instead of guessing
DURATION_TOLERANCE_S = 12.0  # versions of one recording differ by a few seconds (silence, fades)

VARIOUS = {"various artists", "various", "va", "varios artistas", "verschiedene interpreten", "compilation"}
_FEAT = re.compile(r"\s*(?:[\(\[]\s*)?\b(?:feat\.?|ft\.?|featuring|with)\s+[^\)\]]*[\)\]]?", re.I)
_BRACKETS = re.compile(r"\s*[\(\[\{][^\)\]\}]*[\)\]\}]")
# " - Radio Edit", " - Remastered 2009", " - Live at Wembley", " - 2011 Remaster", " - Single Version" ...
_SUFFIX = re.compile(
    r"\s+[-–—]\s+(?:[^-–—]*\b(?:edit|remaster(?:ed)?|version|mix|remix|live|mono|stereo|demo|edition|"
    r"single|acoustic|instrumental|bonus|take|recording)\b[^-–—]*)$",
    re.I,
)
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def _fold(text: str) -> str:
    """NFKC, case-folded, diacritics removed ("Björk" -> "bjork"), "&" read as "and"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return text.replace("&", " and ").replace("+", " and ")


def _squash(text: str) -> str:
    text = _NON_WORD.sub(" ", text.replace("'", "").replace("’", ""))
    return _SPACES.sub(" ", text).strip()


def normalize_artist(artist: str | None) -> str:
    """Comparable artist key: featured credits and a leading "The" dropped. "" for none."""
    if not artist:
        return ""
    text = _fold(artist)
    text = _FEAT.sub("", text)
    text = re.split(r"\s+(?:x|vs\.?|versus)\s+|\s*[,;/]\s*", text)[0] if len(text) > 3 else text
    text = _squash(text)
    return text[4:] if text.startswith("the ") and len(text) > 4 else text


def normalize_title(title: str | None) -> str:
    """Comparable title key: featured credits, parentheticals and edition suffixes dropped. "" for none."""
    if not title:
        return ""
    text = _fold(title)
    text = _FEAT.sub("", text)
    stripped = _BRACKETS.sub("", text)
    text = stripped if _squash(stripped) else text  # "(I Can't Get No) Satisfaction" keeps something
    for _ in range(2):  # "Song - 2011 Remaster - Radio Edit"
        text = _SUFFIX.sub("", text)
    text = _squash(text)
    return text[4:] if text.startswith("the ") and len(text) > 4 else text


def is_various(artist: str | None) -> bool:
    return normalize_artist(artist) in VARIOUS


@dataclass(frozen=True)
class Candidate:
    """One MSD song as the index keeps it."""

    song_id: str
    artist: str  # as loaded (for people)
    title: str
    artist_key: str
    title_key: str
    duration_s: float | None = None


@dataclass(frozen=True)
class Match:
    """The answer for one query: the best MSD song (if any), how sure, and the runners-up."""

    status: Literal["accepted", "ambiguous", "none"]
    song_id: str | None
    confidence: float | None
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (song_id, confidence), best first


NO_MATCH = Match("none", None, None, [])


class MsdIndex:
    """MSD songs by normalised artist (and by normalised title), built once, queried many times.

    Memory is a few hundred bytes a song; the full MSD (1,000,000 tracks) fits in well under a GB.
    """

    def __init__(self) -> None:
        self.by_artist: dict[str, list[Candidate]] = {}
        self.by_title: dict[str, list[Candidate]] = {}
        self._artists: list[str] | None = None
        self._fuzzy_artists: dict[str, list[tuple[str, float]]] = {}  # exports repeat artists: look up once
        self.size = 0

    @classmethod
    def build(cls, songs: Iterable[tuple[str, str | None, str | None, float | None]]) -> MsdIndex:
        """From ``(song_id, artist, title, duration_s)`` rows; rows without a title are skipped."""
        index = cls()
        for song_id, artist, title, duration in songs:
            index.add(song_id, artist, title, duration)
        return index

    def add(self, song_id: str, artist: str | None, title: str | None, duration_s: float | None = None) -> None:
        title_key = normalize_title(title)
        if not title_key:
            return
        cand = Candidate(song_id, artist or "", title or "", normalize_artist(artist), title_key, duration_s)
        self.by_artist.setdefault(cand.artist_key, []).append(cand)
        self.by_title.setdefault(title_key, []).append(cand)
        self._artists = None
        self._fuzzy_artists.clear()
        self.size += 1

    def _artist_keys(self, artist_key: str) -> list[tuple[str, float]]:
        """Index artists close to ``artist_key``: the exact key, else fuzzy ones (score 0-1)."""
        if artist_key in self.by_artist:
            return [(artist_key, 1.0)]
        cached = self._fuzzy_artists.get(artist_key)
        if cached is not None:
            return cached
        if self._artists is None:
            self._artists = list(self.by_artist)
        found = process.extract(artist_key, self._artists, scorer=fuzz.ratio, score_cutoff=85, limit=3)
        result = [(key, score / 100.0) for key, score, _ in found]
        if len(self._fuzzy_artists) > 200_000:  # bounded
            self._fuzzy_artists.clear()
        self._fuzzy_artists[artist_key] = result
        return result

    def match(self, artist: str | None, title: str | None, duration_s: float | None = None) -> Match:
        """The MSD song these tags name, if the index holds one."""
        if is_various(artist) and title and re.search(r"\s[-–—]\s", title):
            # Compilations: "Various Artists" / "Artist - Title".
            artist, title = re.split(r"\s[-–—]\s", title, maxsplit=1)
        title_key = normalize_title(title)
        if not title_key:
            return NO_MATCH
        artist_key = "" if is_various(artist) else normalize_artist(artist)
        scored: dict[str, tuple[float, Candidate]] = {}
        if artist_key:
            for key, artist_score in self._artist_keys(artist_key):
                for cand in self.by_artist[key]:
                    title_score = fuzz.ratio(title_key, cand.title_key) / 100.0
                    if title_score < 0.6:
                        continue
                    score = 0.65 * title_score + 0.35 * artist_score
                    score *= _duration_factor(duration_s, cand.duration_s)
                    if score > scored.get(cand.song_id, (0.0, cand))[0]:
                        scored[cand.song_id] = (score, cand)
        else:
            # No artist: the title alone, believed only when the duration agrees too.
            for cand in self.by_title.get(title_key, []):
                close = duration_s is not None and cand.duration_s is not None
                agree = close and abs(float(duration_s) - float(cand.duration_s)) <= 3.0  # type: ignore[arg-type]
                scored[cand.song_id] = (0.92 if agree else 0.75, cand)
        if not scored:
            return NO_MATCH
        ranked = sorted(scored.values(), key=lambda sc: (-sc[0], sc[1].song_id))
        candidates = [(c.song_id, round(s, 4)) for s, c in ranked[:5]]
        best_score, best = ranked[0]
        if best_score < REVIEW:
            return Match("none", None, round(best_score, 4), candidates)
        # Two close candidates that are different songs (not MSD duplicates of one): ask.
        rival = next(
            (s for s, c in ranked[1:] if (c.artist_key, c.title_key) != (best.artist_key, best.title_key)), None
        )
        if best_score < ACCEPT or (rival is not None and best_score - rival < CLOSE):
            return Match("ambiguous", best.song_id, round(best_score, 4), candidates)
        return Match("accepted", best.song_id, round(best_score, 4), candidates)


def _duration_factor(a: float | None, b: float | None) -> float:
    """1 when the durations agree or one is unknown; lower the further apart (a cover, a live take)."""
    if a is None or b is None or a <= 0 or b <= 0:
        return 1.0
    gap = abs(a - b)
    if gap <= DURATION_TOLERANCE_S:
        return 1.0
    return max(0.8, 1.0 - (gap - DURATION_TOLERANCE_S) / 200.0)  # never below REVIEW alone: an admin looks
