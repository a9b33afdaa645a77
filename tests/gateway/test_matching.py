"""The MSD matcher: tag normalisation, the decision rules, and precision/recall on a labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.core.matching import MsdIndex, normalize_artist, normalize_title

from ..conftest import load_bench_module

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Björk", "BJORK"),
        ("The Beatles", "Beatles"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("Jay-Z feat. Alicia Keys", "Jay Z"),
        ("Florence + The Machine", "Florence and the Machine"),
    ],
)
def test_artists_that_name_the_same_act_normalise_alike(a: str, b: str) -> None:
    assert normalize_artist(a) == normalize_artist(b) != ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Dog Days Are Over (Radio Edit)", "Dog Days Are Over"),
        ("Revelry - Remastered 2011", "revelry"),
        ("Umbrella (feat. Jay-Z)", "Umbrella"),
        ("Horn Concerto No. 4 in E flat K495: II. Romance", "horn concerto no 4 in e flat k495 ii romance"),
        ("Don’t Stop Me Now", "Dont Stop Me Now"),
    ],
)
def test_titles_that_name_the_same_song_normalise_alike(a: str, b: str) -> None:
    assert normalize_title(a) == normalize_title(b) != ""


def test_a_title_that_is_all_parenthetical_keeps_its_words() -> None:
    assert normalize_title("(Untitled)") == "untitled"
    assert normalize_title("(I Can't Get No) Satisfaction") == "satisfaction"


def test_decisions_accept_ask_or_refuse() -> None:
    index = MsdIndex.build(
        [
            ("S1", "Kings Of Leon", "Revelry", 201.0),
            ("S2", "Kings Of Leon", "Use Somebody", 231.0),
            ("S3", "Someone", "Hello", 200.0),
            ("S4", "Someone", "Hallo", 200.0),
            ("S5", "Other", "Lonely Title", 180.0),
        ]
    )
    clear = index.match("Kings of Leon", "Revelry (Remastered)", 200.0)
    assert (clear.status, clear.song_id) == ("accepted", "S1") and clear.confidence is not None
    assert clear.confidence >= 0.9
    # Two different songs almost equally close: an admin decides.
    assert index.match("Someone", "Hellö", None).status in ("accepted", "ambiguous")
    assert index.match("Someone", "Hxllo", None).status == "ambiguous"
    # A duration far from the candidate's lowers the confidence below acceptance.
    assert index.match("Kings Of Leon", "Revelry", 420.0).status == "ambiguous"
    # No artist: believed only with an agreeing duration.
    assert index.match(None, "Lonely Title", 181.0).status == "accepted"
    assert index.match(None, "Lonely Title", None).status == "ambiguous"
    assert index.match("Nobody", "Nothing Like It", 100.0).status == "none"
    # Compilations name the artist in the title.
    various = index.match("Various Artists", "Kings Of Leon - Use Somebody", None)
    assert (various.status, various.song_id) == ("accepted", "S2")


def test_precision_and_recall_on_the_labelled_set() -> None:
    """Real MSD artists and titles with synthetic tag noise (see bench/match_eval.py)."""
    evaluation = load_bench_module("match_eval")
    index_rows, cases = evaluation.labelled_set(evaluation.read_songs(), cases=3000, seed=0)
    result, _ = evaluation.score(index_rows, cases)
    assert result.positives > 2000 and len(cases) - result.positives > 300
    assert result.precision >= 0.98, result
    assert result.recall >= 0.90, result
    for kind in ("clean", "case", "diacritics", "feat", "remaster", "radio-edit", "the", "and", "various"):
        correct, total = result.by_kind[kind]
        assert correct >= 0.95 * total, (kind, correct, total)
