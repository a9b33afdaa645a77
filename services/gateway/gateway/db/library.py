"""``scan-library``: the music folder into the database, incrementally, without ever losing user data.

For every audio file under the folder:

- same path, size and mtime as last time -> ``unchanged`` (not read again);
- a new path whose content hash is that of a known file no longer at its old path -> ``moved``: the file
  row (and so its song, with the song's plays, ratings and likes) follows it;
- a known path whose size or mtime changed -> ``updated`` (tags read again, same song);
- anything else -> ``added``: matched to an MSD song by its tags (:mod:`gateway.core.matching`); an
  accepted match makes the MSD song playable (one song row: playable, with its listening data), otherwise
  the file becomes a song of its own;
- unreadable (corrupt, not audio) -> ``failed`` with the reason; the scan goes on.

Known files not found any more are marked ``missing`` (their songs lose the file, keep everything else).
Work is committed every :data:`BATCH` files, so an interrupted scan keeps what it did and the next one
skips it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.core.library import FileStat, Tags, UnreadableFile, content_hash, read_tags, walk
from gateway.core.matching import MsdIndex
from gateway.db.models import LibraryFile, Song, SongSource, utcnow

BATCH = 100
Status = Literal["added", "unchanged", "moved", "updated", "missing", "failed"]


@dataclass
class FileRecord:
    """One line of ``scan-library --json``."""

    path: str
    status: Status
    song_id: int | None = None
    msd_song_id: str | None = None
    match: float | None = None
    reason: str | None = None


def library_audio_id(song_id: int, digest: str) -> str:
    """The id a library file's sound gets in audio_service's index: stable while the song and the bytes are
    (a moved file keeps it; a file whose content changed is analysed again under a new one)."""
    return f"lib-{song_id}-{digest[:12]}"


def _give_audio_id(session: Session, song: Song | None, digest: str) -> None:
    if song is None:
        return
    audio_id = library_audio_id(song.id, digest)
    if song.audio_id == audio_id:
        return
    if song.audio_id is None or song.audio_id.startswith("lib-"):  # never replace a catalog or upload id
        song.audio_id = audio_id


def path_key(path: Path) -> str:
    return hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()


def msd_index(session: Session) -> MsdIndex:
    """Every titled MSD song of the database, indexed for matching (streamed)."""
    rows = session.execute(
        select(Song.msd_song_id, Song.artist, Song.title, Song.duration_s)
        .where(Song.msd_song_id.is_not(None), Song.title.is_not(None))
        .execution_options(yield_per=50_000)
    )
    return MsdIndex.build((str(sid), artist, title, dur) for sid, artist, title, dur in rows)


def _extra(tags: Tags) -> str:
    extra = {
        "album_artist": tags.album_artist,
        "track": tags.track,
        "musicbrainz": tags.musicbrainz or None,
        "cover": tags.has_cover or None,
        "title_from_file_name": tags.from_file_name or None,
    }
    return json.dumps({k: v for k, v in extra.items() if v is not None})


def _song_for(session: Session, index: MsdIndex, stat: FileStat, tags: Tags) -> tuple[Song, float | None]:
    """The song a new file plays: the MSD song it matches (made playable), else a new library song."""
    match = index.match(tags.artist, tags.title, tags.duration_s) if not tags.from_file_name or tags.artist else None
    if match is not None and match.status == "accepted" and match.song_id is not None:
        song = session.execute(select(Song).where(Song.msd_song_id == match.song_id)).scalar_one_or_none()
        if song is not None and song.audio_path is None:
            song.audio_path = str(stat.path)
            song.duration_s = song.duration_s or tags.duration_s
            song.release = song.release or tags.album
            song.updated_at = utcnow()
            return song, match.confidence
    song = Song(
        source=SongSource.library,
        title=tags.title,
        artist=tags.artist,
        release=tags.album,
        year=tags.year,
        genre=tags.genre,
        duration_s=tags.duration_s,
        audio_path=str(stat.path),
        extra=_extra(tags),
        updated_at=utcnow(),
    )
    session.add(song)
    session.flush()
    return song, None


def _record(file: LibraryFile, song: Song | None, status: Status, reason: str | None = None) -> FileRecord:
    return FileRecord(
        path=file.path,
        status=status,
        song_id=song.id if song is not None else file.song_id,
        msd_song_id=song.msd_song_id if song is not None else None,
        match=file.match_confidence,
        reason=reason,
    )


def scan(engine: Engine, folder: Path, *, progress: Callable[[int], None] | None = None) -> list[FileRecord]:
    """Bring the database up to date with ``folder``; one :class:`FileRecord` per file seen or missing."""
    folder = folder.resolve()
    out: list[FileRecord] = []
    with Session(engine) as session:
        known = {f.path_key: f for f in session.execute(select(LibraryFile)).scalars()}
        by_hash: dict[str, list[LibraryFile]] = {}
        for f in known.values():
            by_hash.setdefault(f.content_hash, []).append(f)
        index = msd_index(session)
        seen: set[int] = set()
        pending = 0
        for stat in walk(folder):
            key = path_key(stat.path)
            existing = known.get(key)
            if existing is not None and existing.size == stat.size and existing.mtime_ns == stat.mtime_ns:
                seen.add(existing.id)
                if existing.status != "present":  # back where it was
                    existing.status = "present"
                    song = session.get(Song, existing.song_id)
                    if song is not None:
                        song.audio_path = str(stat.path)
                song = session.get(Song, existing.song_id)
                _give_audio_id(session, song, existing.content_hash)  # scans before sound analysis gave none
                out.append(_record(existing, song, "unchanged"))
            else:
                out.append(_scan_file(session, index, stat, key, existing, by_hash, seen))
            pending += 1
            if progress is not None:
                progress(1)
            if pending >= BATCH:
                session.commit()  # an interrupted scan keeps what it did
                pending = 0
        now = utcnow()
        for f in known.values():
            if f.id in seen:
                continue
            if f.status == "missing":
                out.append(_record(f, None, "missing", "not found (still missing)"))
                continue
            # Gone: the file row and its song stay (plays, ratings, likes); only the audio is lost.
            f.status = "missing"
            f.scanned_at = now
            song = session.get(Song, f.song_id)
            if song is not None and song.audio_path == f.path:
                song.audio_path = None
            out.append(_record(f, song, "missing", "not found"))
        session.commit()
    return out


def _scan_file(
    session: Session,
    index: MsdIndex,
    stat: FileStat,
    key: str,
    existing: LibraryFile | None,
    by_hash: dict[str, list[LibraryFile]],
    seen: set[int],
) -> FileRecord:
    try:
        tags = read_tags(stat.path)
        digest = content_hash(stat.path)
    except (UnreadableFile, OSError) as exc:
        return FileRecord(path=str(stat.path), status="failed", reason=str(exc)[:300])
    now = utcnow()
    if existing is not None:  # same path, new content or new mtime: same song, tags read again
        existing.size, existing.mtime_ns, existing.content_hash = stat.size, stat.mtime_ns, digest
        existing.status, existing.scanned_at = "present", now
        seen.add(existing.id)
        song = session.get(Song, existing.song_id)
        if song is not None:
            song.audio_path = str(stat.path)
            if song.source == SongSource.library:
                song.title, song.artist, song.release = tags.title, tags.artist, tags.album
                song.duration_s, song.updated_at = tags.duration_s, now
        _give_audio_id(session, song, digest)
        return _record(existing, song, "updated")
    moved = next(
        (f for f in by_hash.get(digest, []) if f.id not in seen and not Path(f.path).exists()),
        None,
    )
    if moved is not None:  # the same bytes at a new path: the song (and its plays) follows
        moved.path, moved.path_key = str(stat.path), key
        moved.size, moved.mtime_ns, moved.status, moved.scanned_at = stat.size, stat.mtime_ns, "present", now
        seen.add(moved.id)
        song = session.get(Song, moved.song_id)
        if song is not None:
            song.audio_path = str(stat.path)
        _give_audio_id(session, song, digest)
        return _record(moved, song, "moved")
    song, confidence = _song_for(session, index, stat, tags)
    file = LibraryFile(
        song_id=song.id,
        path=str(stat.path),
        path_key=key,
        size=stat.size,
        mtime_ns=stat.mtime_ns,
        content_hash=digest,
        status="present",
        match_confidence=confidence,
        scanned_at=now,
    )
    session.add(file)
    _give_audio_id(session, song, digest)
    session.flush()
    seen.add(file.id)
    by_hash.setdefault(digest, []).append(file)
    reason = "untagged: title from the file name" if tags.from_file_name else None
    return _record(file, song, "added", reason)


@dataclass(frozen=True)
class AnalysisItem:
    """A present library file whose sound audio_service should know."""

    audio_id: str
    path: str
    title: str | None
    artist: str | None


def analysis_items(engine: Engine) -> list[AnalysisItem]:
    """Every present library file with the audio id of its song (what audio_service is asked to index)."""
    with Session(engine) as session:
        rows = session.execute(
            select(Song.audio_id, LibraryFile.path, Song.title, Song.artist)
            .join(Song, Song.id == LibraryFile.song_id)
            .where(LibraryFile.status == "present", Song.audio_id.like("lib-%"), Song.audio_path == LibraryFile.path)
            .order_by(LibraryFile.id)
        ).all()
    return [AnalysisItem(str(a), str(p), t, ar) for a, p, t, ar in rows]


def as_json_lines(records: list[FileRecord]) -> str:
    return "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in records)


def summary(records: list[FileRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    counts["matched"] = sum(1 for r in records if r.msd_song_id and r.status in ("added", "moved", "unchanged"))
    return counts
