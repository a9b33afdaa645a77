"""The radio prompt's syntax (gateway.core.prompt)."""

from __future__ import annotations

import pytest
from gateway.core.prompt import PromptError, parse

from .test_taste import S


def test_keys_quotes_bare_words_and_minus() -> None:
    p = parse('tag:jazz  TAG:Mellow artist:"Norah   Jones" genre:Blues -tag:live chill tag:jazz')
    assert p.tags == ("jazz", "mellow", "chill") and p.artists == ("norah jones",) and p.genres == ("blues",)
    assert p.without.tags == frozenset({"live"})
    assert p.canonical() == parse(p.canonical()).canonical()  # one spelling, read back the same
    assert p.matches(S(1, "Norah Jones", tags="jazz|mellow")) == 3
    assert p.matches(S(2, "x", genre="blues")) == 1
    assert p.matches(S(3, "Norah Jones", tags="jazz|live")) == 0  # a minus term keeps it out
    assert p.matches(S(4, "x", tags="hard rock")) == 0


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "mood:happy", 'artist:"Norah', "tag:", "-tag:live", " ".join(f"tag:t{i}" for i in range(21))],
)
def test_bad_prompts_say_why(bad: str) -> None:
    with pytest.raises(PromptError):
        parse(bad)
