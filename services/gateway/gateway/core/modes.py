"""The one table of recommendation modes: which sources a mode fuses, and with which weights.

A mode names the sources of a listener's list (``user``) and of a song's "more like this" list
(``song``); the sources themselves live in :mod:`gateway.app.recommending` (``SOURCES``). The route's
``mode`` parameter, its OpenAPI description, the cached-recommendations fast path and the
``RECS_DEFAULT_MODE`` setting all read :data:`MODES`. A new mode is one :func:`register` call here
(plus its source, if it needs a new one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mode:
    """One row of the table.

    Attributes:
        name: the ``mode`` query value.
        summary: what the list is, for people (OpenAPI, docs).
        user: source names fused into a listener's recommendations, in order.
        song: source names fused into a song's similar songs (empty: the mode has no song lists).
        weights: fusion weight per source *label* (``cf``, ``audio``, ...); labels not named take the
            settings' weights (``HYBRID_CF_WEIGHT``, ``HYBRID_AUDIO_WEIGHT``), others 1.
    """

    name: str
    summary: str
    user: tuple[str, ...]
    song: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)


MODES: dict[str, Mode] = {}


def register(mode: Mode) -> Mode:
    """Add (or replace) a row of the table."""
    MODES[mode.name] = mode
    return mode


@contextmanager
def registered(mode: Mode) -> Iterator[Mode]:
    """A row that exists only inside the ``with`` block (tests, experiments)."""
    previous = MODES.get(mode.name)
    register(mode)
    try:
        yield mode
    finally:
        if previous is None:
            MODES.pop(mode.name, None)
        else:
            MODES[mode.name] = previous


def describe() -> str:
    """One line per mode, for the ``mode`` parameter's OpenAPI description."""
    return "; ".join(f"`{m.name}`: {m.summary}" for m in MODES.values())


register(
    Mode(
        "hybrid",
        "what listeners like you play and what sounds like your recent plays, fused",
        user=("cf", "audio"),
        song=("cf-similar", "audio-similar"),
    )
)
register(Mode("cf", "what listeners like you play", user=("cf",), song=("cf-similar",)))
register(Mode("audio", "what sounds like your recent plays", user=("audio",), song=("audio-similar",)))
