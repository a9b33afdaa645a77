"""Typo-tolerant catalog search over an in-memory token and trigram index (pure: numpy only).

The index is built once from the songs (title, artist, release, collection,
tags) and answers a query in a few milliseconds:

1. the query and the songs are normalized (case, accents, punctuation) and split into words;
2. each query word is expanded to the catalog words that equal it, start with it, or are
   close to it by trigram similarity (Dice coefficient of padded 3-grams, as in pg_trgm),
   so "beetles" reaches "beatles" and "radiohed" reaches "radiohead";
3. a song's score sums, over the query words, the best similarity among its words times
   the weight of the field the word is in (title and artist count most);
4. every query word must match (AND); only when nothing matches all words are songs
   matching some of them returned, most matched words first;
5. ranking: exact title, exact artist, title or artist starting with the query, every word
   matched exactly, then the trigram score, then popularity (plays).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FIELD_WEIGHTS = {"title": 1.0, "artist": 1.0, "release": 0.6, "collection": 0.6, "tags": 0.4}
MIN_FUZZY_SIMILARITY = 0.5  # Dice of trigram sets: "beetles"/"beatles" = 0.625
MAX_EXPANSIONS = 60  # catalog words tried per query word (prefix and fuzzy each)
MAX_QUERY_WORDS = 8
_MSD_SONG_ID = re.compile(r"^SO[A-Z0-9]{16}$", re.I)

# Ranking tiers, best first.
TIER_TITLE_EXACT = 5
TIER_ARTIST_EXACT = 4
TIER_PREFIX = 3
TIER_ALL_WORDS_EXACT = 2
TIER_FUZZY = 1


_APOSTROPHES = re.compile(r"['’`´]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=65_536)  # artists and albums repeat across songs: normalize each once
def normalize(text: str | None) -> str:
    """Lower case, accents removed, apostrophes dropped, any other punctuation a space."""
    if not text:
        return ""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", _APOSTROPHES.sub("", text.lower())).strip()


def words(text: str | None) -> list[str]:
    return normalize(text).split()


def trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@dataclass(frozen=True)
class SongDoc:
    """What the index needs to know of one song."""

    song_id: int
    title: str | None = None
    artist: str | None = None
    release: str | None = None
    collection: str | None = None
    tags: str | None = None
    source: str = "msd"
    popularity: float = 0.0
    msd_song_id: str | None = None


@dataclass(frozen=True)
class SearchHit:
    song_id: int
    score: float
    tier: int


@dataclass(frozen=True)
class SearchPage:
    total: int
    hits: list[SearchHit]


IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]


class SearchIndex:
    """Immutable index over a list of songs; build a new one when the catalog changes."""

    def __init__(self, docs: Iterable[SongDoc]) -> None:
        docs = list(docs)
        self.size = len(docs)
        self.song_ids = np.array([d.song_id for d in docs], dtype=np.int64)
        self.popularity = np.array([d.popularity for d in docs], dtype=np.float64)
        sources = sorted({d.source for d in docs})
        self._source_codes = {s: i for i, s in enumerate(sources)}
        self.sources = np.array([self._source_codes[d.source] for d in docs], dtype=np.int16)
        self._msd_ids = {d.msd_song_id.upper(): i for i, d in enumerate(docs) if d.msd_song_id}

        # Flat (word, doc, weight) triples; a word in several fields of a song keeps its best weight.
        word_ids: dict[str, int] = {}
        w_list: list[int] = []
        d_list: list[int] = []
        f_list: list[float] = []
        for i, doc in enumerate(docs):
            for field, weight in FIELD_WEIGHTS.items():
                value = getattr(doc, field)
                if not value:
                    continue
                for word in _word_set(value):
                    w_list.append(word_ids.setdefault(word, len(word_ids)))
                    d_list.append(i)
                    f_list.append(weight)

        self.vocab: list[str] = sorted(word_ids)  # sorted: prefixes are contiguous ranges
        self._vid = {w: v for v, w in enumerate(self.vocab)}
        remap = np.empty(len(word_ids), dtype=np.int64)
        remap[[word_ids[w] for w in self.vocab]] = np.arange(len(self.vocab))
        w_arr = remap[np.asarray(w_list, dtype=np.int64)] if w_list else np.zeros(0, dtype=np.int64)
        d_arr = np.asarray(d_list, dtype=np.int32)
        f_arr = np.asarray(f_list, dtype=np.float32)
        order = np.lexsort((-f_arr, d_arr, w_arr))
        w_arr, d_arr, f_arr = w_arr[order], d_arr[order], f_arr[order]
        first = np.ones(len(w_arr), dtype=bool)
        first[1:] = (w_arr[1:] != w_arr[:-1]) | (d_arr[1:] != d_arr[:-1])
        w_arr, self._post_doc, self._post_w = w_arr[first], d_arr[first], f_arr[first]
        self._df = np.bincount(w_arr, minlength=len(self.vocab))
        self._post_off = np.concatenate(([0], np.cumsum(self._df))).astype(np.int64)

        # Trigram -> vocabulary words containing it, and each word's trigram count.
        grams: dict[str, list[int]] = {}
        gram_counts = np.zeros(len(self.vocab), dtype=np.int32)
        for v, word in enumerate(self.vocab):
            tg = trigrams(word)
            gram_counts[v] = len(tg)
            for g in tg:
                grams.setdefault(g, []).append(v)
        self._gram_counts = gram_counts
        self._grams = {g: np.array(vs, dtype=np.int32) for g, vs in grams.items()}

        # Whole normalized titles and artist names, sorted, each with its songs (CSR): exact and prefix lookups.
        self._titles = _Groups([normalize(d.title) for d in docs])
        self._artists = _Groups([normalize(d.artist) for d in docs])

    def __len__(self) -> int:
        return self.size

    # --- query -----------------------------------------------------------------

    def _postings(self, vid: int) -> tuple[IntArray, FloatArray]:
        lo, hi = self._post_off[vid], self._post_off[vid + 1]
        return self._post_doc[lo:hi], self._post_w[lo:hi]

    def expand(self, word: str) -> dict[int, float]:
        """Catalog words (vocabulary ids) that a query word stands for, with a similarity in (0, 1]."""
        found: dict[int, float] = {}
        exact = self._vid.get(word)
        if exact is not None:
            found[exact] = 1.0
        if len(word) >= 2:
            lo = bisect_left(self.vocab, word)
            hi = bisect_left(self.vocab, word + "\x7f", lo)
            prefixed = np.arange(lo, hi)
            if len(prefixed) > MAX_EXPANSIONS:  # keep the most common completions
                prefixed = prefixed[np.argsort(-self._df[prefixed], kind="stable")[:MAX_EXPANSIONS]]
            for v in prefixed.tolist():
                if v != exact:
                    found[v] = 0.7 + 0.25 * len(word) / len(self.vocab[v])
        if len(word) >= 3 and self.vocab:
            query_grams = trigrams(word)
            lists = [self._grams[g] for g in query_grams if g in self._grams]
            if lists:
                shared = np.bincount(np.concatenate(lists), minlength=len(self.vocab))
                candidates = np.flatnonzero(shared * 2 >= MIN_FUZZY_SIMILARITY * (len(query_grams) + 1))
                dice = 2.0 * shared[candidates] / (len(query_grams) + self._gram_counts[candidates])
                keep = dice >= MIN_FUZZY_SIMILARITY
                candidates, dice = candidates[keep], dice[keep]
                if len(candidates) > MAX_EXPANSIONS:
                    top = np.argsort(-dice, kind="stable")[:MAX_EXPANSIONS]
                    candidates, dice = candidates[top], dice[top]
                for v, sim in zip(candidates.tolist(), dice.tolist(), strict=True):
                    found[v] = max(found.get(v, 0.0), 0.9 * sim)
        return found

    def search(self, query: str, *, offset: int = 0, limit: int = 20, source: str | None = None) -> SearchPage:
        """Ranked matches of ``query``; ``total`` counts them all, ``hits`` is the page asked for."""
        if self.size == 0:
            return SearchPage(0, [])
        allowed: npt.NDArray[np.bool_] | None = None
        if source is not None:
            code = self._source_codes.get(source)
            if code is None:
                return SearchPage(0, [])
            allowed = self.sources == code

        stripped = query.strip()
        if _MSD_SONG_ID.match(stripped):
            i = self._msd_ids.get(stripped.upper())
            if i is not None and (allowed is None or allowed[i]):
                hits = [SearchHit(int(self.song_ids[i]), 1.0, TIER_TITLE_EXACT)]
                return SearchPage(1, hits[offset : offset + limit])

        qnorm = normalize(query)
        qwords = list(dict.fromkeys(qnorm.split()))[:MAX_QUERY_WORDS]
        if not qwords:
            return SearchPage(0, [])

        score = np.zeros(self.size, dtype=np.float32)
        matched = np.zeros(self.size, dtype=np.int16)
        all_exact = np.ones(self.size, dtype=bool)
        for word in qwords:
            best = np.zeros(self.size, dtype=np.float32)
            exact_hit = np.zeros(self.size, dtype=bool)
            for vid, sim in self.expand(word).items():
                docs, weights = self._postings(vid)
                best[docs] = np.maximum(best[docs], weights * np.float32(sim))  # docs are unique per word
                if sim == 1.0:
                    exact_hit[docs] = True
            score += best
            matched += best > 0
            all_exact &= exact_hit

        needed = len(qwords)
        keep = matched >= needed
        if allowed is not None:
            keep &= allowed
        if not keep.any():  # nothing has every word: fall back to songs with the most of them
            partial = matched if allowed is None else np.where(allowed, matched, 0)
            most = int(partial.max())
            if most == 0:
                return SearchPage(0, [])
            keep = partial >= most
        candidates = np.flatnonzero(keep)

        tier = np.zeros(self.size, dtype=np.int8)
        tier[candidates] = TIER_FUZZY
        tier[candidates[all_exact[candidates]]] = TIER_ALL_WORDS_EXACT
        if len(qnorm) >= 2:
            for docs in (self._titles.prefixed(qnorm), self._artists.prefixed(qnorm)):
                tier[docs] = np.maximum(tier[docs], TIER_PREFIX)
        artist_docs = self._artists.exact(qnorm)
        tier[artist_docs] = np.maximum(tier[artist_docs], TIER_ARTIST_EXACT)
        tier[self._titles.exact(qnorm)] = TIER_TITLE_EXACT

        c_tier = tier[candidates]
        c_score = np.round(score[candidates] / needed, 3)  # near-equal scores tie, popularity decides
        c_pop = self.popularity[candidates]
        order = np.lexsort((self.song_ids[candidates], -c_pop, -c_score, -c_tier))
        page = order[offset : offset + limit]
        hits = [
            SearchHit(int(self.song_ids[candidates[j]]), round(float(c_score[j]), 3), int(c_tier[j]))
            for j in page.tolist()
        ]
        return SearchPage(len(candidates), hits)


@lru_cache(maxsize=65_536)
def _word_set(value: str) -> tuple[str, ...]:
    """The distinct words of a field value (tags are ``|``-separated)."""
    return tuple(set(words(value.replace("|", " "))))


class _Groups:
    """Songs grouped by a normalized key (title or artist), keys sorted, for exact and prefix lookups."""

    def __init__(self, keys: Sequence[str]) -> None:
        order = sorted((k, i) for i, k in enumerate(keys) if k)
        self.keys = [k for k, _ in order]  # one entry per song: bisect gives contiguous song ranges
        self.docs: IntArray = np.array([i for _, i in order], dtype=np.int32)

    def exact(self, key: str) -> IntArray:
        lo = bisect_left(self.keys, key)
        hi = bisect_left(self.keys, key + "\x00", lo)
        return self.docs[lo:hi]

    def prefixed(self, prefix: str) -> IntArray:
        lo = bisect_left(self.keys, prefix)
        hi = bisect_left(self.keys, prefix + "\x7f", lo)
        return self.docs[lo:hi]
