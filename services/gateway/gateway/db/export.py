"""Export the plays for training: imported listens plus the app's own plays, in Taste Profile format.

Ids the collaborative filter sees: an MSD listener keeps their MSD user id, an
app account becomes ``gw-user:<id>``; an MSD song keeps its MSD song id, any
other song (catalog renderings, uploads) becomes ``gw:<id>``. The gateway maps
them back with :func:`cf_song_key` / :func:`parse_cf_song_key`.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from sqlalchemy import Engine, select

from gateway.db.models import Feedback, Play, PlayEvent, Rating, Song, User, UserSession


def cf_user_key(user_id: int, msd_user_id: str | None) -> str:
    return msd_user_id or f"gw-user:{user_id}"


def cf_song_key(song_id: int, msd_song_id: str | None) -> str:
    return msd_song_id or f"gw:{song_id}"


def parse_cf_song_key(key: str) -> int | None:
    """The gateway id inside a ``gw:<id>`` key, or None for an MSD id."""
    if key.startswith("gw:") and key[3:].isdigit():
        return int(key[3:])
    return None


def export_plays(engine: Engine, out: Path) -> dict[str, int]:
    """Write ``user_id, song_id, play_count`` rows (with header), atomically; returns counts."""
    out.parent.mkdir(parents=True, exist_ok=True)
    query = (
        select(User.id, User.msd_user_id, Song.id, Song.msd_song_id, Play.count)
        .join(User, User.id == Play.user_id)
        .join(Song, Song.id == Play.song_id)
        .order_by(Play.user_id, Play.song_id)
        .execution_options(yield_per=50_000)
    )
    rows = 0
    fd, tmp = tempfile.mkstemp(prefix=".plays.", suffix=".tsv", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as handle, engine.connect() as conn:
            handle.write("user_id\tsong_id\tplay_count\n")
            for user_id, msd_user, song_id, msd_song, count in conn.execute(query):
                handle.write(f"{cf_user_key(user_id, msd_user)}\t{cf_song_key(song_id, msd_song)}\t{count}\n")
                rows += 1
        # Same content as last time: keep the old file (and its mtime) so cached training is reused.
        if out.exists() and out.read_bytes() == Path(tmp).read_bytes():
            Path(tmp).unlink()
        else:
            os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"rows": rows}


def active_listeners(engine: Engine, days: float, now: dt.datetime | None = None) -> list[str]:
    """The cf user keys (:func:`cf_user_key`) of the accounts active in the last ``days``: signed in, or played,
    rated or gave feedback in the app. Their lists are worth precomputing; any other listener is scored on demand
    (``python -m cf_service precompute --users-file``)."""
    since = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)) - dt.timedelta(days=days)
    active = (
        select(UserSession.user_id.label("uid"))
        .where(UserSession.created_at >= since)
        .union(
            select(PlayEvent.user_id).where(PlayEvent.played_at >= since),
            select(Rating.user_id).where(Rating.updated_at >= since),
            select(Feedback.user_id).where(Feedback.created_at >= since),
        )
        .subquery()
    )
    query = select(User.id, User.msd_user_id).where(User.id.in_(select(active.c.uid))).order_by(User.id)
    with engine.connect() as conn:
        return [cf_user_key(uid, msd) for uid, msd in conn.execute(query)]


def export_active(engine: Engine, days: float, out: Path) -> dict[str, int]:
    """Write :func:`active_listeners` one per line, atomically; returns the count."""
    keys = active_listeners(engine, days)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".active.", suffix=".txt", dir=out.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"# listeners active in the last {days:g} days\n")
        handle.writelines(f"{k}\n" for k in keys)
    os.replace(tmp, out)
    return {"listeners": len(keys)}
