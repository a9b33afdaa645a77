"""The listener's signals and rules (gateway.core.taste) and how fusion applies them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from gateway.app.schemas import PlayIn
from gateway.core.fusion import Candidate, fuse
from gateway.core.taste import DROP_BELOW, Rules, Signal, Taste, tag_names
from pydantic import ValidationError

NOW = dt.datetime(2026, 12, 6, 12, 0)


@dataclass(frozen=True)
class S:
    """A song as the rules read it."""

    id: int
    artist: str | None = None
    genre: str | None = None
    tags: str | None = None


def skip(song: S, days_ago: float = 0.0) -> Signal:
    return Signal(song.id, song.artist, -1.0, NOW - dt.timedelta(days=days_ago), fades=True)


def test_three_fresh_skips_of_an_artist_leave_it_out_two_only_lower_it() -> None:
    a1, a2, a3, a4 = (S(i, "Band A") for i in range(1, 5))
    other = S(9, "Band B")
    two = Taste([skip(a1), skip(a2)], now=NOW)
    assert DROP_BELOW < two.factor(a4) < 0.5 and two.factor(other) == 1.0
    three = Taste([skip(a1), skip(a2), skip(a3)], now=NOW)
    assert three.factor(a4) == 0.0 and three.factor(other) == 1.0
    # The same skips two months ago have faded: the artist is back, still lowered.
    old = Taste([skip(a1, 60), skip(a2, 60), skip(a3, 60)], now=NOW)
    assert 0.5 < old.factor(a4) < 1.0


def test_neighbours_of_a_skipped_song_are_lowered_and_a_like_raises() -> None:
    skipped, near, far = S(1, "A"), S(2, "B"), S(3, "C")
    taste = Taste([skip(skipped)], neighbours={1: [2]}, now=NOW)
    assert taste.factor(near) < 1.0 and taste.factor(far) == 1.0
    liked = Taste([Signal(3, "C", 0.5)], now=NOW)
    assert liked.factor(S(4, "C")) > 1.0


def test_rules_match_artists_genres_and_tags_whatever_the_case() -> None:
    rules = Rules.of([("artist", "  norah   JONES "), ("genre", "Jazz"), ("tag", "Hard Rock")])
    assert rules.excludes(S(1, "Norah Jones"))
    assert rules.excludes(S(2, "x", genre="jazz"))
    assert rules.excludes(S(3, "x", tags="rock|hard rock|90s"))
    assert not rules.excludes(S(4, "x", tags="rock|90s"))
    assert not Rules.of([]).excludes(S(1, "Norah Jones"))
    # The catalog's tags are words (its collection and instruments); Last.fm's are |-separated phrases.
    assert tag_names(S(5, tags="bach flute Flute")) == ["bach", "flute"]
    assert tag_names(S(6, tags="hard rock|Hard Rock|90s")) == ["hard rock", "90s"]


def test_fusion_multiplies_by_the_factor_and_drops_zero() -> None:
    lists = {"cf": [Candidate(i, r) for r, i in enumerate([1, 2, 3, 4], start=1)]}
    taste = {1: 0.0, 2: 0.1, 3: 1.0, 4: 1.0}
    out = fuse(lists, {"cf": 1.0}, n=4, factor=lambda s: taste[s])
    assert [f.song_id for f in out] == [3, 4, 2]


def test_a_skip_is_early_and_only_one() -> None:
    assert PlayIn(song_id=1, skipped=True, played_ms=5_000).is_skip
    assert PlayIn(song_id=1, skipped=True).is_skip  # the player did not say how long: a skip
    assert not PlayIn(song_id=1, skipped=True, played_ms=45_000).is_skip  # left after 30 s: a play
    assert not PlayIn(song_id=1, ended=True, played_ms=200_000).is_skip
    with pytest.raises(ValidationError):
        PlayIn(song_id=1, skipped=True, ended=True)
    with pytest.raises(ValidationError):
        PlayIn(song_id=1, skipped=True, count=3)
