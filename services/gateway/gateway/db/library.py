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

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, Select, select
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


def _set_tags(file: LibraryFile, tags: Tags) -> None:
    file.title, file.artist, file.album, file.album_artist = tags.title, tags.artist, tags.album, tags.album_artist
    file.track_no = tags.track if tags.track is not None and 0 <= tags.track < 10_000 else None
    file.year, file.has_cover = tags.year, tags.has_cover


def _song_for(
    session: Session, index: MsdIndex, stat: FileStat, tags: Tags
) -> tuple[Song, float | None, str, str | None]:
    """The song a new file plays: the MSD song it matches (made playable), else a new library song.

    Returns ``(song, confidence, match status, candidates as JSON)``: ``accepted`` when the file joined an MSD
    song; ``ambiguous`` (with the candidates) when an admin should decide; ``none`` otherwise.
    """
    match = index.match(tags.artist, tags.title, tags.duration_s) if not tags.from_file_name or tags.artist else None
    status, candidates = "none", None
    if match is not None and match.status == "accepted" and match.song_id is not None:
        song = session.execute(select(Song).where(Song.msd_song_id == match.song_id)).scalar_one_or_none()
        if song is not None and song.audio_path is None:
            song.audio_path = str(stat.path)
            song.duration_s = song.duration_s or tags.duration_s
            song.release = song.release or tags.album
            song.updated_at = utcnow()
            return song, match.confidence, "accepted", None
        status = "ambiguous"  # the MSD song already plays another file: a duplicate, or a wrong match
    if match is not None and match.status == "ambiguous":
        status = "ambiguous"
    if status == "ambiguous" and match is not None:
        candidates = json.dumps([[sid, conf] for sid, conf in match.candidates])
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
    return song, None, status, candidates


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
                if existing.title is None:  # scanned before the file's own tags were kept
                    with contextlib.suppress(UnreadableFile, OSError):
                        _set_tags(existing, read_tags(stat.path))
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
        _set_tags(existing, tags)
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
    song, confidence, match_status, candidates = _song_for(session, index, stat, tags)
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
        match_status=match_status,
        match_candidates=candidates,
    )
    _set_tags(file, tags)
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


def playing_files() -> Select[LibraryFile, Song]:
    """``(file, song)`` of every present file and the song it plays (a file another file's song replaced is
    present but plays nothing)."""
    return (
        select(LibraryFile, Song)
        .join(Song, Song.id == LibraryFile.song_id)
        .where(LibraryFile.status == "present", Song.audio_path == LibraryFile.path)
    )


def playable_library(engine: Engine) -> list[tuple[int, str | None]]:
    """``(song id, MSD song id or None)`` of every song a present library file plays."""
    with Session(engine) as session:
        rows = session.execute(playing_files().with_only_columns(Song.id, Song.msd_song_id).distinct()).all()
    return [(int(i), m) for i, m in rows]


@dataclass
class Album:
    """Present library files grouped by album artist (or artist) and album; ``tracks`` in track order."""

    artist: str | None
    title: str | None
    year: int | None
    cover_song_id: int | None
    tracks: list[Song]


def library_albums(session: Session, query: str | None = None) -> list[Album]:
    """Every album of the present library files (optionally those whose names contain ``query``), by artist."""
    rows = session.execute(playing_files()).all()
    groups: dict[tuple[str, str], list[tuple[LibraryFile, Song]]] = {}
    needle = (query or "").casefold().strip()
    for file, song in rows:
        artist = file.album_artist or file.artist or song.artist
        album = file.album or song.release
        if needle and not any(needle in (v or "").casefold() for v in (artist, album, song.title, file.title)):
            continue
        groups.setdefault(((artist or "").casefold(), (album or "").casefold()), []).append((file, song))
    albums = []
    for members in groups.values():
        members.sort(key=lambda fs: (fs[0].track_no is None, fs[0].track_no or 0, (fs[1].title or "").casefold()))
        first = members[0][0]
        cover = next((s.id for f, s in members if f.has_cover), None)
        years = [f.year for f, _ in members if f.year]
        albums.append(
            Album(
                artist=first.album_artist or first.artist or members[0][1].artist,
                title=first.album or members[0][1].release,
                year=max(years) if years else None,
                cover_song_id=cover,
                tracks=[s for _, s in members],
            )
        )
    albums.sort(key=lambda a: ((a.artist or "\uffff").casefold(), a.year or 0, (a.title or "\uffff").casefold()))
    return albums


@dataclass
class LibrarySummary:
    files: int
    present: int
    missing: int
    songs: int
    matched: int
    ambiguous: int


def library_summary(session: Session) -> LibrarySummary:
    rows = session.execute(select(LibraryFile.status, LibraryFile.match_status, LibraryFile.song_id)).all()
    present = [r for r in rows if r[0] == "present"]
    return LibrarySummary(
        files=len(rows),
        present=len(present),
        missing=len(rows) - len(present),
        songs=len({r[2] for r in present}),
        matched=sum(1 for r in present if r[1] in ("accepted", "confirmed")),
        ambiguous=sum(1 for r in present if r[1] == "ambiguous"),
    )


def cover_path(session: Session, song_id: int) -> Path | None:
    """The present file of ``song_id`` that embeds a cover (None: no such file)."""
    path = session.execute(
        select(LibraryFile.path)
        .where(LibraryFile.song_id == song_id, LibraryFile.status == "present", LibraryFile.has_cover.is_(True))
        .limit(1)
    ).scalar_one_or_none()
    return Path(path) if path else None


def present_file(session: Session, song_id: int) -> Path | None:
    """A present file that plays ``song_id`` (None: none)."""
    path = session.execute(
        select(LibraryFile.path).where(LibraryFile.song_id == song_id, LibraryFile.status == "present").limit(1)
    ).scalar_one_or_none()
    return Path(path) if path else None


@dataclass
class Review:
    """A file whose MSD match an admin should decide: its tags, the song it plays now, the candidates."""

    file: LibraryFile
    song: Song
    candidates: list[tuple[Song, float]]


def ambiguous_matches(session: Session, limit: int = 200) -> list[Review]:
    files = (
        session.execute(
            select(LibraryFile)
            .where(LibraryFile.match_status == "ambiguous", LibraryFile.status == "present")
            .order_by(LibraryFile.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    out = []
    for f in files:
        pairs = [(str(sid), float(conf)) for sid, conf in json.loads(f.match_candidates or "[]")]
        by_msd = {
            s.msd_song_id: s
            for s in session.execute(select(Song).where(Song.msd_song_id.in_([p[0] for p in pairs]))).scalars()
        }
        song = session.get(Song, f.song_id)
        if song is None:
            continue
        out.append(Review(f, song, [(by_msd[sid], conf) for sid, conf in pairs if sid in by_msd]))
    return out


class ReviewError(ValueError):
    """The decision cannot be applied (unknown file, not under review, a candidate it does not have)."""


def resolve_match(
    session: Session, file_id: int, action: Literal["confirm", "reject"], msd_song_id: str | None
) -> Song:
    """Apply an admin's decision on an ambiguous file; returns the song the file plays afterwards.

    ``confirm``: the file plays the chosen MSD song from now on; the plays, ratings and likes its own song had
    move to that song (counts added, the newer rating and feedback kept), so nothing is lost. ``reject``: the
    file stays a song of its own and is not asked about again. The caller commits.
    """
    file = session.get(LibraryFile, file_id)
    if file is None or file.match_status != "ambiguous":
        raise ReviewError(f"library file {file_id} has no match to review")
    current = session.get(Song, file.song_id)
    assert current is not None
    if action == "reject":
        file.match_status, file.match_candidates = "rejected", None
        return current
    allowed = {str(sid) for sid, _ in json.loads(file.match_candidates or "[]")}
    if msd_song_id not in allowed:
        raise ReviewError(f"{msd_song_id!r} is not a candidate of library file {file_id}")
    target = session.execute(select(Song).where(Song.msd_song_id == msd_song_id)).scalar_one()
    if target.audio_path is not None and target.audio_path != file.path:
        raise ReviewError(f"{msd_song_id} already plays another file ({Path(target.audio_path).name})")
    if target.id != current.id:
        _move_user_data(session, current.id, target.id)
        audio_id = current.audio_id
        if current.audio_path == file.path:
            current.audio_path = None
        current.audio_id = None
        session.flush()  # the audio id is unique: free it before the target takes it
        target.audio_path, target.audio_id = file.path, audio_id or target.audio_id
        target.duration_s = target.duration_s or current.duration_s
        target.updated_at = utcnow()
        file.song_id = target.id
    conf = dict(json.loads(file.match_candidates or "[]")).get(msd_song_id)
    file.match_status, file.match_candidates, file.match_confidence = "confirmed", None, conf
    return target


def _move_user_data(session: Session, old: int, new: int) -> None:
    """Plays, play events, ratings and feedback of song ``old`` become song ``new``'s (merged per user)."""
    from gateway.db.models import Feedback, Play, PlayEvent, Rating

    for play in session.execute(select(Play).where(Play.song_id == old)).scalars().all():
        there = session.execute(
            select(Play).where(Play.song_id == new, Play.user_id == play.user_id)
        ).scalar_one_or_none()
        if there is None:
            play.song_id = new
            continue
        there.count += play.count
        if play.last_played_at and (there.last_played_at is None or play.last_played_at > there.last_played_at):
            there.last_played_at = play.last_played_at
        session.delete(play)
    for event in session.execute(select(PlayEvent).where(PlayEvent.song_id == old)).scalars().all():
        event.song_id = new
    for rating in session.execute(select(Rating).where(Rating.song_id == old)).scalars().all():
        there_r = session.execute(
            select(Rating).where(Rating.song_id == new, Rating.user_id == rating.user_id)
        ).scalar_one_or_none()
        if there_r is None:
            rating.song_id = new
        elif rating.updated_at > there_r.updated_at:
            there_r.rating = rating.rating
            session.delete(rating)
        else:
            session.delete(rating)
    for fb in session.execute(select(Feedback).where(Feedback.song_id == old)).scalars().all():
        there_f = session.execute(
            select(Feedback).where(Feedback.song_id == new, Feedback.user_id == fb.user_id)
        ).scalar_one_or_none()
        if there_f is None:
            fb.song_id = new
        else:
            session.delete(fb)
    session.flush()
