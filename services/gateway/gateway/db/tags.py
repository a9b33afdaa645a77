"""Songs by tag, genre and artist (the radio prompt), and the most common tags (the page's chips)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.core.prompt import Prompt
from gateway.core.taste import fold, tag_names
from gateway.db.models import Play, Song

PROMPT_LIMIT = 3000  # songs read per prompt before ranking


def songs_for_prompt(session: Session, prompt: Prompt, limit: int = PROMPT_LIMIT) -> list[tuple[Song, int, int]]:
    """``(song, terms matched, plays)`` of songs matching at least one of the prompt's terms, best first (more
    terms, then more plays)."""
    clauses = []
    for t in prompt.tags:
        clauses.append(func.lower(Song.tags).contains(t))
    for g in prompt.genres:
        clauses.append(func.lower(Song.genre) == g)
    for a in prompt.artists:
        clauses.append(func.lower(Song.artist) == a)
    plays = func.coalesce(func.sum(Play.count), 0)
    rows = session.execute(
        select(Song, plays)
        .outerjoin(Play, Play.song_id == Song.id)
        .where(or_(*clauses))
        .group_by(Song.id)
        .order_by(plays.desc(), Song.id)
        .limit(limit)
    ).all()
    # LIKE found candidates ("rock" is inside "hard rock"); the prompt's own match decides.
    scored = [(song, prompt.matches(song), int(n)) for song, n in rows]
    scored = [s for s in scored if s[1] > 0]
    scored.sort(key=lambda s: (-s[1], -s[2], s[0].id))
    return scored


def top_tags(session: Session, n: int) -> list[tuple[str, int]]:
    """The ``n`` tags most songs carry, ``(tag, songs)``, in the spelling most songs use."""
    counts: Counter[str] = Counter()
    spelling: dict[str, Counter[str]] = {}
    for (raw,) in session.execute(select(Song.tags).where(Song.tags.is_not(None)).execution_options(yield_per=5000)):
        for name in tag_names(_Tags(raw)):
            key = fold(name)
            counts[key] += 1
            spelling.setdefault(key, Counter())[name] += 1
    return [(spelling[k].most_common(1)[0][0], c) for k, c in counts.most_common(n)]


class _Tags:
    """Just the tags of a row, for :func:`tag_names`."""

    id = 0
    artist = None
    genre = None

    def __init__(self, tags: str | None) -> None:
        self.tags = tags
