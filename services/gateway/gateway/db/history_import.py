"""A user's listening history from another service, matched to the catalog and recorded as their plays.

Each listen of the export (:mod:`gateway.core.history`) is matched to a song of the database with the
same matcher as library files (:mod:`gateway.core.matching`): MSD songs by their MSD id, every other
titled song (library, catalog, uploads) by its gateway key. A matched listen becomes a timestamped play
event and adds to the (user, song) play count; a listen already imported (same user, song and time) is
not added again, so importing the same export twice adds nothing. Listens shorter than 30 s (Spotify
tells) are skips, not plays. Everything happens in one transaction: a malformed line rejects the file
and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from gateway.core.history import Format, Listen
from gateway.core.matching import MsdIndex
from gateway.db.export import cf_song_key
from gateway.db.models import Play, PlayEvent, Song

BATCH = 2000
MAX_SKIPPED_LISTED = 100
TOP_UNMATCHED = 20


@dataclass
class ImportReport:
    format: str
    rows: int = 0
    matched: int = 0
    unmatched: int = 0
    added: int = 0  # new plays recorded
    already_imported: int = 0
    skips: int = 0  # listens under 30 s
    skipped: list[dict[str, Any]] = field(default_factory=list)  # the first skips: {line, reason}
    top_unmatched: list[dict[str, Any]] = field(default_factory=list)  # most frequent unmatched songs


def catalog_index(session: Session) -> MsdIndex:
    """Every titled song of the database, keyed as the cf model keys songs (MSD id, else ``gw:<id>``)."""
    rows = session.execute(
        select(Song.id, Song.msd_song_id, Song.artist, Song.title, Song.duration_s)
        .where(Song.title.is_not(None))
        .execution_options(yield_per=50_000)
    )
    return MsdIndex.build((cf_song_key(i, msd), artist, title, dur) for i, msd, artist, title, dur in rows)


def _ids_by_key(session: Session, keys: Iterable[str]) -> dict[str, int]:
    msd = [k for k in keys if not k.startswith("gw:")]
    out = {k: int(k[3:]) for k in keys if k.startswith("gw:")}
    for part in range(0, len(msd), 1000):
        rows = session.execute(select(Song.msd_song_id, Song.id).where(Song.msd_song_id.in_(msd[part : part + 1000])))
        out.update({str(m): int(i) for m, i in rows})
    return out


def _batches(listens: Iterator[Listen], size: int) -> Iterator[list[Listen]]:
    batch: list[Listen] = []
    for listen in listens:
        batch.append(listen)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_history(
    session: Session, user_id: int, fmt: Format, listens: Iterator[Listen], index: MsdIndex
) -> ImportReport:
    """Record the export's matched listens as ``user_id``'s plays (the caller commits)."""
    report = ImportReport(format=fmt)
    matches: dict[tuple[str | None, str | None], str | None] = {}
    unmatched: Counter[tuple[str | None, str | None]] = Counter()
    # Play counts are added once at the end: one statement per song, not one per song and batch.
    per_song: Counter[int] = Counter()
    last: dict[int, dt.datetime] = {}
    for batch in _batches(listens, BATCH):
        report.rows += len(batch)
        wanted: list[tuple[Listen, str]] = []
        for listen in batch:
            if listen.skipped:
                report.skips += 1
                if len(report.skipped) < MAX_SKIPPED_LISTED:
                    seconds = (listen.ms_played or 0) / 1000
                    report.skipped.append({"line": listen.line, "reason": f"played {seconds:.0f} s: a skip"})
                continue
            key = (listen.artist, listen.title)
            if key not in matches:
                m = index.match(listen.artist, listen.title)
                matches[key] = m.song_id if m.status == "accepted" else None
            song_key = matches[key]
            if song_key is None:
                report.unmatched += 1
                unmatched[key] += 1
                continue
            wanted.append((listen, song_key))
        report.matched += len(wanted)
        if wanted:
            for song_id, played_at in _record_events(session, user_id, wanted, report):
                per_song[song_id] += 1
                last[song_id] = max(played_at, last.get(song_id, played_at))
    _add_counts(session, user_id, per_song, last)
    report.top_unmatched = [
        {"artist": a, "title": t, "listens": n} for (a, t), n in unmatched.most_common(TOP_UNMATCHED)
    ]
    return report


def _record_events(
    session: Session, user_id: int, wanted: list[tuple[Listen, str]], report: ImportReport
) -> list[tuple[int, dt.datetime]]:
    """Insert the play events not imported before; returns them as (song id, time)."""
    ids = _ids_by_key(session, {k for _, k in wanted})
    events = [(ids[k], listen.played_at) for listen, k in wanted if k in ids]
    if not events:
        return []
    lo, hi = min(t for _, t in events), max(t for _, t in events)
    rows = session.execute(
        select(PlayEvent.song_id, PlayEvent.played_at).where(
            PlayEvent.user_id == user_id, PlayEvent.played_at >= lo, PlayEvent.played_at <= hi
        )
    )
    existing = {(int(s), t) for s, t in rows}
    new: list[tuple[int, dt.datetime]] = []
    for event in events:
        if event in existing:
            report.already_imported += 1
            continue
        existing.add(event)  # the same listen twice in one file counts once
        new.append(event)
    if new:
        session.execute(
            insert(PlayEvent), [{"user_id": user_id, "song_id": s, "count": 1, "played_at": t} for s, t in new]
        )
        report.added += len(new)
    return new


def _add_counts(session: Session, user_id: int, per_song: Counter[int], last: dict[int, dt.datetime]) -> None:
    """Add the new plays to the (user, song) counts: executemany UPDATEs for known rows, INSERTs for new ones."""
    songs = list(per_song)
    have: set[int] = set()
    for part in range(0, len(songs), 1000):
        have.update(
            session.execute(
                select(Play.song_id).where(Play.user_id == user_id, Play.song_id.in_(songs[part : part + 1000]))
            ).scalars()
        )
    updates = [{"_song": s, "_n": per_song[s], "_last": last[s]} for s in songs if s in have]
    if updates:
        statement = (
            update(Play)
            .where(Play.user_id == user_id, Play.song_id == bindparam("_song"))
            .values(
                count=Play.count + bindparam("_n"),
                last_played_at=case(
                    (Play.last_played_at > bindparam("_last"), Play.last_played_at), else_=bindparam("_last")
                ),
            )
            .execution_options(synchronize_session=False)
        )
        session.connection().execute(statement, updates)
    inserts = [
        {"user_id": user_id, "song_id": s, "count": per_song[s], "last_played_at": last[s]}
        for s in songs
        if s not in have
    ]
    if inserts:
        session.execute(insert(Play), inserts)
