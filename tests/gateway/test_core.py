"""Pure logic of the gateway: search ranking, HTTP ranges, the login limiter, audio paths, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.core import security
from gateway.core.audiofiles import content_type, resolve_audio_path
from gateway.core.ranges import ByteRange, RangeNotSatisfiable, parse_range
from gateway.core.ratelimit import SlidingWindowLimiter
from gateway.core.search import SearchIndex, SongDoc, normalize, trigrams


def index() -> SearchIndex:
    return SearchIndex(
        [
            SongDoc(1, "Creep", "Radiohead", popularity=10),
            SongDoc(2, "Creep (Acoustic)", "Radiohead", popularity=500),
            SongDoc(3, "Everything In Its Right Place", "Radiohead", "Kid A"),
            SongDoc(4, "Help!", "The Beatles", tags="oldies|british invasion", msd_song_id="SOAAAAA12A8C130995"),
            SongDoc(5, "Nocturne Op. 9 No. 2", "Frédéric Chopin", collection="Musopen", source="catalog"),
            SongDoc(6, None, None, msd_song_id="SOBBBBB12A8C130995"),
        ]
    )


def ids(page: object) -> list[int]:
    return [h.song_id for h in page.hits]  # type: ignore[attr-defined]


def test_normalize_and_trigrams() -> None:
    assert normalize("  Frédéric CHOPIN's  Nocturne—Op.9 ") == "frederic chopins nocturne op 9"
    assert trigrams("ab") == {"  a", " ab", "ab "}


def test_typos_accents_and_fields() -> None:
    idx = index()
    assert ids(idx.search("beetles")) == [4]
    assert set(ids(idx.search("radiohed"))) == {1, 2, 3}
    assert ids(idx.search("chopin nocturne")) == [5]
    assert ids(idx.search("frederic")) == [5]
    assert ids(idx.search("musopen")) == [5]
    assert ids(idx.search("british invasion")) == [4]
    assert ids(idx.search("kid a")) == [3]
    assert ids(idx.search("soaaaaa12a8c130995")) == [4]
    assert ids(idx.search("SOBBBBB12A8C130995")) == [6]  # untitled songs are found by id only
    assert idx.search("   ").total == 0 and idx.search("qqqzzz").total == 0


def test_exact_title_beats_popularity_then_popularity_breaks_ties() -> None:
    idx = index()
    assert ids(idx.search("creep")) == [1, 2]  # exact title first, although 2 is far more played
    assert ids(idx.search("radiohead"))[:2] == [2, 1]  # same tier and score: most played first
    assert ids(idx.search("everything in its")) == [3]  # title prefix


def test_pagination_source_filter_and_partial_fallback() -> None:
    idx = index()
    page = idx.search("radiohead", offset=1, limit=1)
    assert page.total == 3 and len(page.hits) == 1
    assert ids(idx.search("chopin", source="catalog")) == [5]
    assert idx.search("chopin", source="msd").total == 0
    assert idx.search("chopin", source="upload").total == 0
    # No song has both words: the songs with the most of them come back.
    assert sorted(ids(idx.search("creep zzzqqq"))) == [1, 2]


def test_empty_index() -> None:
    assert SearchIndex([]).search("anything").total == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes=5-1", None),  # invalid: ignored
        ("bytes=0-1,5-9", None),  # multi-range: served whole
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_limiter_blocks_then_frees_and_resets() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(3, 60, clock=lambda: now[0])
    for t in (0, 10, 20):
        now[0] = t
        assert limiter.retry_after(["user:a"]) is None
        limiter.record(["user:a", "ip:1"])
    assert limiter.retry_after(["user:a"]) == 40  # the failure at t=0 leaves the window at t=60
    assert limiter.retry_after(["user:b", "ip:1"]) == 40  # the address is blocked for every name
    now[0] = 60.5
    assert limiter.retry_after(["user:a"]) is None
    limiter.record(["user:a"])
    assert limiter.retry_after(["user:a"]) is not None
    limiter.reset(["user:a"])
    assert limiter.retry_after(["user:a"]) is None


def test_limiter_memory_is_bounded() -> None:
    limiter = SlidingWindowLimiter(3, 60, max_keys=100)
    for i in range(1000):
        limiter.record([f"ip:{i}"])
    assert len(limiter._failures) <= 100


def test_audio_paths(tmp_path: Path) -> None:
    var, data = tmp_path / "var", tmp_path / "data"
    (var / "audio").mkdir(parents=True)
    data.mkdir()
    (var / "audio" / "a.ogg").write_bytes(b"x")
    (data / "b.mp3").write_bytes(b"x")
    (tmp_path / "c.wav").write_bytes(b"x")
    assert resolve_audio_path("audio/a.ogg", var, data) == (var / "audio" / "a.ogg").resolve()
    assert resolve_audio_path(str(data / "b.mp3"), var, data) == (data / "b.mp3").resolve()
    for bad in ("../c.wav", str(tmp_path / "c.wav"), "audio", "audio/../../c.wav", "", None, "/etc/passwd"):
        assert resolve_audio_path(bad, var, data) is None, bad
    assert content_type(Path("x.OGG")) == "audio/ogg" and content_type(Path("x.flac")) == "audio/flac"
    assert content_type(Path("x.mp3")) == "audio/mpeg" and content_type(Path("x.wav")) == "audio/wav"


def test_tokens_and_username_rules() -> None:
    token = security.new_token()
    assert len(token) == 43 and security.token_hash(token) != token and len(security.token_hash(token)) == 64
    assert security.username_problem("alice") is None
    assert security.username_problem("a.b-c_9") is None
    for bad in ("ab", "x" * 33, "white space", "ümlaut", "MSD_abc"):
        assert security.username_problem(bad) is not None
    assert security.verify_password(None, "anything") is False
    assert security.verify_password("not-a-hash", "anything") is False


def test_default_hasher_is_argon2id_rfc9106() -> None:
    from argon2 import PasswordHasher

    default = PasswordHasher()
    assert default.time_cost >= 3 and default.memory_cost >= 65536  # what production uses
    stored = security.hash_password("long-password")
    assert stored.startswith("$argon2id$") and security.verify_password(stored, "long-password")
