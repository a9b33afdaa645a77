"""Every Redis key the services write or read, built in one place.

``cf:*`` keys are written by cf_service (``python -m cf_service publish``) and read by the gateway;
``gw:*`` keys are the gateway's own cache-aside entries (the cached-recommendations fast path reads
them from a Lua script, which takes its prefixes from here too). What each holds:

- ``cf:version`` -> the cf model version whose precomputed lists are loaded;
- ``cf:{version}:recs:{msd_user_id}`` -> JSON list of :class:`~musicrec_common.schemas.RecommendedSong`;
- ``cf:{version}:similar:{msd_song_id}`` -> JSON list of :class:`~musicrec_common.schemas.SimilarSong`;
- ``gw:sess:{token_hash}`` -> the user behind a live session (or ``revoked``);
- ``gw:stamp:{user_id}`` -> the user's state stamp;
- ``gw:recs:{user_id}`` -> hash of the user's cached recommendation lists, field ``{stamp}:{mode}:{n}``;
- ``gw:asim:{audio_id}:{n}``, ``gw:similar:{song_id}:{mode}:{n}``, ``gw:map`` -> cached answers;
- ``gw:limit:{limit}:{key}`` -> sorted sets counting attempts for a rate limit.
"""

from __future__ import annotations

CF_VERSION = "cf:version"
SESSION_PREFIX = "gw:sess:"
STAMP_PREFIX = "gw:stamp:"
USER_RECS_PREFIX = "gw:recs:"
MAP = "gw:map"


def cf_version_pattern(version: str) -> str:
    """SCAN pattern of every key of one published cf version (deleted after the switch)."""
    return f"cf:{version}:*"


def cf_recs(version: str, msd_user_id: str) -> str:
    return f"cf:{version}:recs:{msd_user_id}"


def cf_similar(version: str, msd_song_id: str) -> str:
    return f"cf:{version}:similar:{msd_song_id}"


def session(token_hash: str) -> str:
    return f"{SESSION_PREFIX}{token_hash}"


def stamp(user_id: int) -> str:
    return f"{STAMP_PREFIX}{user_id}"


def user_recs(user_id: int) -> str:
    return f"{USER_RECS_PREFIX}{user_id}"


def user_recs_field(stamp_value: str, mode: str, n: int, scope: str = "all") -> str:
    """The field of one cached list in :func:`user_recs`: the state stamp, the mode, the scope and the length."""
    return f"{stamp_value}:{mode}:{scope}:{n}"


def audio_similar(audio_id: str, n: int) -> str:
    return f"gw:asim:{audio_id}:{n}"


def song_similar(song_id: int, mode: str, n: int, scope: str = "all") -> str:
    return f"gw:similar:{song_id}:{mode}:{scope}:{n}"


def limit(name: str, key: str) -> str:
    return f"gw:limit:{name}:{key}"
