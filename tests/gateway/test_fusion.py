"""Rank fusion of cf and audio lists: order, exclusions, artist spread, reasons."""

from __future__ import annotations

from gateway.core.fusion import Candidate, fuse


def cands(ids: list[int], reason: str | None = None) -> list[Candidate]:
    return [Candidate(song_id=s, rank=r, reason=reason and f"{reason} {s}") for r, s in enumerate(ids, start=1)]


def test_agreement_beats_a_single_top_rank() -> None:
    out = fuse({"cf": cands([1, 2, 3]), "audio": cands([9, 3, 2])}, {"cf": 1.0, "audio": 1.0}, n=5)
    # 3 and 2 are in both lists, so both outrank the lists' single-source leaders.
    assert [f.song_id for f in out][:2] in ([2, 3], [3, 2])
    assert out[0].sources.keys() == {"cf", "audio"}


def test_weights_decide_between_sources() -> None:
    lists = {"cf": cands([1]), "audio": cands([2])}
    assert fuse(lists, {"cf": 2.0, "audio": 1.0}, n=2)[0].song_id == 1
    assert fuse(lists, {"cf": 1.0, "audio": 2.0}, n=2)[0].song_id == 2
    assert [f.song_id for f in fuse(lists, {"cf": 1.0, "audio": 0.0}, n=2)] == [1]


def test_exclusions_and_length() -> None:
    out = fuse({"cf": cands(list(range(1, 30)))}, {}, n=10, exclude={1, 2, 3})
    assert [f.song_id for f in out] == list(range(4, 14))


def test_at_most_two_songs_per_artist_in_the_top_ten() -> None:
    artist = {s: ("A" if s <= 6 else f"other{s}") for s in range(1, 30)}
    out = fuse({"cf": cands(list(range(1, 30)))}, {}, n=12, artist_of=artist)
    top10 = [f.song_id for f in out[:10]]
    assert sum(artist[s] == "A" for s in top10) == 2
    assert top10[:2] == [1, 2]
    assert len(out) == 12 and out[10].song_id == 3  # deferred songs follow, in fused order


def test_reasons_are_kept_from_every_source() -> None:
    out = fuse({"cf": cands([5], "because you played"), "audio": cands([5], "sounds like")}, {}, n=1)
    assert out[0].reasons == ["because you played 5", "sounds like 5"]


def test_each_reason_keeps_its_source_and_the_song_it_names() -> None:
    from gateway.core.fusion import Candidate, Why, fuse

    lists = {
        "cf": [
            Candidate(7, 1, 0.9, "because you played A", about=1),
            Candidate(8, 2, 0.5, "popular with listeners like you"),
        ],
        "audio": [Candidate(7, 3, 0.8, "sounds like B", about=2)],
    }
    fused = {f.song_id: f for f in fuse(lists, {"cf": 1.0, "audio": 1.0}, n=5)}
    assert fused[7].why == [Why("cf", "because you played A", 1), Why("audio", "sounds like B", 2)]
    assert fused[8].why == [Why("cf", "popular with listeners like you", None)]
