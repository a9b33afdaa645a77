"""The radio prompt: tags, genres and artists a radio should play, in one line.

Syntax (``GET /api/radio?q=``)::

    tag:jazz tag:mellow artist:"Norah Jones" genre:Blues -tag:live mellow

* ``tag:x`` a Last.fm tag (or the catalog's collection or instrument), ``genre:x`` a tagtraum genre, ``artist:x``
  an artist; a value with spaces goes in double quotes (``tag:"hard rock"``);
* a word without a key is a tag (``mellow`` = ``tag:mellow``);
* a leading ``-`` keeps songs with it out (``-tag:live``).

Names are compared casefolded. Pure: :func:`parse` returns a :class:`Prompt` or raises :class:`PromptError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.core.taste import Rules, SongFacts, fold, tags_of

KEYS = ("tag", "genre", "artist")
MAX_TERMS = 20
_TOKEN = re.compile(r'\s*(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"|([^\s"]+))')


class PromptError(ValueError):
    """The prompt cannot be read; the message says where."""


@dataclass(frozen=True)
class Prompt:
    tags: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    artists: tuple[str, ...] = ()
    without: Rules = field(default_factory=Rules)

    @property
    def terms(self) -> int:
        return len(self.tags) + len(self.genres) + len(self.artists)

    def canonical(self) -> str:
        """One spelling of the prompt (seeds the day's draw: the same prompt, the same radio all day)."""
        parts = [f'tag:"{t}"' for t in sorted(self.tags)]
        parts += [f'genre:"{g}"' for g in sorted(self.genres)]
        parts += [f'artist:"{a}"' for a in sorted(self.artists)]
        parts += [f'-artist:"{a}"' for a in sorted(self.without.artists)]
        parts += [f'-genre:"{g}"' for g in sorted(self.without.genres)]
        parts += [f'-tag:"{t}"' for t in sorted(self.without.tags)]
        return " ".join(parts)

    def matches(self, song: SongFacts) -> int:
        """How many of the prompt's terms the song has (0 also when a ``-`` term excludes it)."""
        if self.without.excludes(song):
            return 0
        tags = tags_of(song)
        hits = sum(1 for t in self.tags if t in tags)
        hits += sum(1 for g in self.genres if g == fold(song.genre))
        hits += sum(1 for a in self.artists if a == fold(song.artist))
        return hits


def parse(text: str) -> Prompt:
    """Read a prompt (see the module's docstring); :class:`PromptError` when it names nothing or is malformed."""
    found: dict[str, list[str]] = {k: [] for k in KEYS}
    out: dict[str, list[str]] = {k: [] for k in KEYS}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PromptError(f"cannot read the prompt at character {pos + 1}: {text[pos : pos + 20]!r}")
        minus, key, quoted, bare = m.groups()
        if key is None and bare is not None and bare.endswith(":"):
            raise PromptError(f"{bare} needs a value (e.g. {bare}jazz)")
        key = (key or "tag").lower()
        if key not in KEYS:
            raise PromptError(f"unknown key {key!r}: use tag:, genre: or artist:")
        value = fold(quoted if quoted is not None else bare)
        if not value:
            raise PromptError(f"{key}: needs a value")
        target = out if minus else found
        if value not in target[key]:
            target[key].append(value)
        pos = m.end()
    if sum(len(v) for v in found.values()) == 0:
        raise PromptError("name at least one tag, genre or artist to play (e.g. tag:jazz)")
    if sum(len(v) for v in found.values()) + sum(len(v) for v in out.values()) > MAX_TERMS:
        raise PromptError(f"at most {MAX_TERMS} terms")
    return Prompt(
        tuple(found["tag"]),
        tuple(found["genre"]),
        tuple(found["artist"]),
        Rules(frozenset(out["artist"]), frozenset(out["genre"]), frozenset(out["tag"])),
    )
