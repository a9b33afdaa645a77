"""Idempotent import of the shipped MSD data: song metadata and Taste Profile listens.

Everything happens in one transaction: a file rejected half-way leaves the
database exactly as it was. Importing the same files twice changes nothing:
existing users and (user, song) plays are left untouched, so plays the app
recorded since are never overwritten or doubled. Existing songs get what a newer
metadata file fills in or corrects, never an empty value over a known one and
never over a field an admin edited.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from musicrec_common.tasteprofile import BadLine, OnError, TasteProfileError, iter_chunks
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from tqdm import tqdm

from gateway.db.models import Play, Song, SongSource, User, utcnow

SONG_COLUMNS = (
    "song_id",
    "track_id",
    "title",
    "artist",
    "release",
    "year",
    "duration_s",
    "tempo_bpm",
    "genre",
    "lastfm_tags",
)
BATCH = 1000  # rows per executemany / IN (...) list; portable across SQLite, PostgreSQL, MySQL
T = TypeVar("T")


@dataclass
class ImportReport:
    listens_read: int = 0
    listens_inserted: int = 0
    listens_existing: int = 0
    users_in_files: int = 0
    users_created: int = 0
    songs_listened: int = 0
    songs_created_from_listens: int = 0
    songs_in_metadata: int = 0
    songs_created_from_metadata: int = 0
    songs_updated: int = 0  # existing songs whose metadata the file filled in or corrected
    fields_updated: int = 0
    songs_doubtful_in_file: int = 0
    songs_flag_changed: int = 0  # "metadata uncertain" set or cleared
    tracks_read: int = 0  # lines of unique_tracks.txt
    songs_created_from_tracks: int = 0
    songs_filled_from_tracks: int = 0  # existing songs that got a missing title, artist or track id
    bad_lines: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _clean(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _read_songs(path: Path) -> pd.DataFrame:
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
    missing = [c for c in ("song_id", "title", "artist") if c not in header]
    if missing:
        raise TasteProfileError(str(path), 1, f"song metadata header lacks {missing}; found {header}")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""], quoting=3)
    for col in ("year",):
        if col in frame:
            bad = frame[col].notna() & ~frame[col].fillna("").str.fullmatch(r"\d{1,4}")
            if bad.any():
                line = int(bad.to_numpy().nonzero()[0][0]) + 2
                raise TasteProfileError(str(path), line, f"year {frame[col][bad].iloc[0]!r} is not a year")
    for col in ("duration_s", "tempo_bpm"):
        if col in frame:
            numeric = pd.to_numeric(frame[col], errors="coerce")
            bad = frame[col].notna() & numeric.isna()
            if bad.any():
                line = int(bad.to_numpy().nonzero()[0][0]) + 2
                raise TasteProfileError(str(path), line, f"{col} {frame[col][bad].iloc[0]!r} is not a number")
            frame[col] = numeric
    empty = frame["song_id"].isna()
    if empty.any():
        raise TasteProfileError(str(path), int(empty.to_numpy().nonzero()[0][0]) + 2, "empty song_id")
    return frame


def _key_map(conn: Connection, key_column: Any, id_column: Any) -> dict[str, int]:
    """All existing (key -> id) pairs in one streamed query; large IN lists are slow on PostgreSQL."""
    result = conn.execute(
        select(key_column, id_column).where(key_column.is_not(None)).execution_options(yield_per=50_000)
    )
    return {key: ident for key, ident in result}


def _insert_keyed(
    conn: Connection, table: Any, id_column: Any, key_column: Any, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert rows and return their new ids by key, without RETURNING (MySQL has none)."""
    if not rows:
        return {}
    before = conn.execute(select(func.coalesce(func.max(id_column), 0))).scalar_one()
    for part in _batches(rows):
        conn.execute(insert(table), list(part))
    found = conn.execute(select(key_column, id_column).where(id_column > before))
    return {key: ident for key, ident in found}


# Metadata columns an import may fill in or correct: file column -> Song attribute.
METADATA_FIELDS = {
    "track_id": "msd_track_id",
    "title": "title",
    "artist": "artist",
    "release": "release",
    "year": "year",
    "duration_s": "duration_s",
    "tempo_bpm": "tempo_bpm",
    "genre": "genre",
    "lastfm_tags": "tags",
}


def _song_values(record: dict[str, Any]) -> dict[str, Any]:
    """One songs.tsv record as Song attribute values; None where the file leaves a cell empty."""
    out: dict[str, Any] = {attr: _clean(record.get(column)) for column, attr in METADATA_FIELDS.items()}
    year = out["year"]
    out["year"] = int(str(year)) if year not in (None, "0") else None
    return out


def _same(old: object, new: object) -> bool:
    # MySQL's FLOAT is single precision: 240.3 reads back as 240.300003, which is no change.
    if isinstance(old, float) and isinstance(new, float):
        return math.isclose(old, new, rel_tol=1e-6, abs_tol=1e-6)
    return old == new


def _changes(current: dict[str, Any], values: dict[str, Any], locked: set[str]) -> dict[str, Any]:
    """Fields to write: a non-empty value that differs, never one an admin edited, never an empty one."""
    return {
        attr: value
        for attr, value in values.items()
        if value is not None and attr not in locked and not _same(current.get(attr), value)
    }


def import_songs(conn: Connection, path: Path, report: ImportReport) -> None:
    """Insert new songs and bring existing MSD songs up to date with the file.

    A song first imported untitled (from listens only) gets its title; a value the
    new file corrects is corrected. A cell the file leaves empty never erases what
    the database holds, and fields named in ``edited_fields`` (admin edits) are kept.
    """
    frame = _read_songs(path)
    report.songs_in_metadata = len(frame)
    records = frame.to_dict("records")
    attrs = list(METADATA_FIELDS.values())
    columns = [getattr(Song, a) for a in attrs]
    existing: dict[str, tuple[int, dict[str, Any], set[str]]] = {}
    query = select(Song.msd_song_id, Song.id, Song.edited_fields, *columns).where(Song.msd_song_id.is_not(None))
    for row in conn.execute(query.execution_options(yield_per=50_000)):
        locked = {f.strip() for f in (row[2] or "").split(",") if f.strip()}
        existing[row[0]] = (row[1], dict(zip(attrs, row[3:], strict=True)), locked)

    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    # Rows that change the same set of fields are written with one executemany.
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record in records:
        values = _song_values(record)
        known = existing.get(record["song_id"])
        if known is None:
            new_rows.append({"source": SongSource.msd, "msd_song_id": record["song_id"], "updated_at": now} | values)
            continue
        ident, current, locked = known
        changed = _changes(current, values, locked)
        if changed:
            updates.setdefault(tuple(sorted(changed)), []).append({"_id": ident} | changed)
            report.fields_updated += len(changed)
    for part in tqdm(list(_batches(new_rows)), desc="songs", unit="batch", leave=False, disable=None):
        conn.execute(insert(Song), list(part))
    report.songs_created_from_metadata = len(new_rows)
    report.songs_updated += _update_songs(conn, updates, now)


def _update_songs(conn: Connection, updates: dict[tuple[str, ...], list[dict[str, Any]]], now: dt.datetime) -> int:
    """Write ``{fields: [{"_id": song id, field: value, ...}]}``, one executemany per set of fields; returns rows."""
    for fields, rows in updates.items():
        statement = (
            update(Song)
            .where(Song.id == bindparam("_id"))
            .values({f: bindparam(f) for f in fields} | {"updated_at": now})
        )
        for part in _batches(rows):
            conn.execute(statement, list(part))
    return sum(len(rows) for rows in updates.values())


def _read_doubtful(path: Path) -> dict[str, str | None]:
    """songs_doubtful.tsv: MSD song id -> a note for the song page (the Echo Nest's own name when known)."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        if "song_id" not in header:
            raise TasteProfileError(str(path), 1, f"doubtful-songs header lacks 'song_id'; found {header}")
        col = {name: i for i, name in enumerate(header)}
        out: dict[str, str | None] = {}
        for number, line in enumerate(handle, start=2):
            cells = line.rstrip("\r\n").split("\t")
            song_id = cells[col["song_id"]].strip() if len(cells) > col["song_id"] else ""
            if not song_id:
                raise TasteProfileError(str(path), number, "empty song_id")
            side = (
                cells[col["echo_nest_song_side"]].strip()
                if "echo_nest_song_side" in col and len(cells) > col["echo_nest_song_side"]
                else ""
            )
            note = "The Million Song Dataset lists this song's track match as wrong: the name may belong to another recording."
            out[song_id] = f"{note} The Echo Nest names it “{side}”." if side else note
    return out


def mark_doubtful(conn: Connection, path: Path, report: ImportReport) -> None:
    """Flag the MSD songs on the doubtful list (and clear the flag of songs no longer on it)."""
    doubtful = _read_doubtful(path)
    report.songs_doubtful_in_file = len(doubtful)
    now = utcnow()
    current = {
        msd: (ident, flag, note)
        for msd, ident, flag, note in conn.execute(
            select(Song.msd_song_id, Song.id, Song.metadata_uncertain, Song.metadata_note).where(
                Song.msd_song_id.is_not(None)
            )
        )
    }
    rows = [
        {"_id": ident, "flag": True, "note": doubtful[msd]}
        for msd, (ident, flag, note) in current.items()
        if msd in doubtful and (not flag or note != doubtful[msd])
    ]
    rows += [
        {"_id": ident, "flag": False, "note": None}
        for msd, (ident, flag, _) in current.items()
        if flag and msd not in doubtful
    ]
    statement = (
        update(Song)
        .where(Song.id == bindparam("_id"))
        .values(metadata_uncertain=bindparam("flag"), metadata_note=bindparam("note"), updated_at=now)
    )
    for part in _batches(rows):
        conn.execute(statement, list(part))
    report.songs_flag_changed = len(rows)


def import_listens(
    conn: Connection, path: Path, report: ImportReport, *, on_error: OnError = "reject", chunk_rows: int = 200_000
) -> None:
    users = _key_map(conn, User.msd_user_id, User.id)
    songs = _key_map(conn, Song.msd_song_id, Song.id)
    preexisting_user_ids = set(users.values())  # only these can already have plays
    seen_users: set[str] = set()
    seen_songs: set[str] = set()
    bad: list[BadLine] = []
    progress = tqdm(desc=f"listens {path.name}", unit="rows", unit_scale=True, disable=None)
    for chunk in iter_chunks(path, chunk_rows=chunk_rows, on_error=on_error, bad_lines=bad):
        # Taste Profile files have no repeated (user, song); sum them if one does.
        chunk = chunk.groupby(["user_id", "song_id"], as_index=False, sort=False, observed=True)["play_count"].sum()
        report.listens_read += len(chunk)
        chunk_users = chunk["user_id"].unique().tolist()
        chunk_songs = chunk["song_id"].unique().tolist()
        seen_users.update(chunk_users)
        seen_songs.update(chunk_songs)

        create = [u for u in chunk_users if u not in users]
        users.update(
            _insert_keyed(
                conn,
                User,
                User.id,
                User.msd_user_id,
                [{"username": f"msd_{u}", "msd_user_id": u, "is_admin": False} for u in create],
            )
        )
        report.users_created += len(create)
        create = [s for s in chunk_songs if s not in songs]
        songs.update(
            _insert_keyed(
                conn, Song, Song.id, Song.msd_song_id, [{"source": SongSource.msd, "msd_song_id": s} for s in create]
            )
        )
        report.songs_created_from_listens += len(create)

        uid = chunk["user_id"].map(users).astype("int64").to_numpy()
        sid = chunk["song_id"].map(songs).astype("int64").to_numpy()
        counts = chunk["play_count"].to_numpy()
        present: set[tuple[int, int]] = set()
        for part in _batches(sorted(set(uid.tolist()) & preexisting_user_ids)):
            present.update(
                (u, s) for u, s in conn.execute(select(Play.user_id, Play.song_id).where(Play.user_id.in_(part)))
            )
        rows = [
            {"user_id": u, "song_id": s, "count": c}
            for u, s, c in zip(uid.tolist(), sid.tolist(), counts.tolist(), strict=True)
            if (u, s) not in present
        ]
        for part in _batches(rows, 5000):
            conn.execute(insert(Play), list(part))
        report.listens_inserted += len(rows)
        report.listens_existing += len(chunk) - len(rows)
        progress.update(len(chunk))
    progress.close()
    report.users_in_files += len(seen_users)
    report.songs_listened += len(seen_songs)
    report.bad_lines.extend({"file": str(path), "line": b.line, "reason": b.reason} for b in bad)


SEP = "<SEP>"
TRACK_CHUNK = 50_000  # lines of unique_tracks.txt held at a time


def _track_lines(
    path: Path, chunk_lines: int, on_error: OnError, report: ImportReport
) -> Iterator[list[tuple[str, str, str | None, str | None]]]:
    """``(track_id, song_id, artist, title)`` rows of the MSD's ``unique_tracks.txt``, ``chunk_lines`` at a time."""
    chunk: list[tuple[str, str, str | None, str | None]] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("latin-1")  # a few MSD names are Latin-1; never a replacement character
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split(SEP)
            reason = None
            if len(parts) != 4:
                reason = f"expected track_id<SEP>song_id<SEP>artist<SEP>title, got {len(parts)} fields"
            elif not parts[0].startswith("TR") or not parts[1].startswith("SO") or len(parts[1]) > 32:
                reason = "the track id must start with TR and the song id with SO"
            if reason is not None:
                if on_error == "reject":
                    raise TasteProfileError(str(path), number, reason)
                report.bad_lines.append({"line": number, "reason": reason})
                continue
            track, song, artist, title = (p.strip() for p in parts)
            chunk.append((track, song, artist[:512] or None, title[:512] or None))
            if len(chunk) >= chunk_lines:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def import_tracks(
    conn: Connection, path: Path, report: ImportReport, *, on_error: OnError = "reject", chunk_lines: int = TRACK_CHUNK
) -> None:
    """The MSD's full track list (1,000,000 lines, ``track_id<SEP>song_id<SEP>artist<SEP>title``) as songs to match.

    Read in chunks of ``chunk_lines`` (memory stays bounded whatever the file's size): songs not in the database
    are added with their artist and title; songs already there only get what they lack (a title, an artist, a
    track id), never a change to a name the richer ``songs.tsv`` or an admin gave them.
    """
    now = utcnow()
    progress = tqdm(desc="tracks", unit="line", unit_scale=True, leave=False, disable=None)
    for chunk in _track_lines(path, chunk_lines, on_error, report):
        report.tracks_read += len(chunk)
        progress.update(len(chunk))
        first: dict[str, tuple[str, str | None, str | None]] = {}
        for track, song, artist, title in chunk:
            first.setdefault(song, (track, artist, title))  # several tracks per song: the first names it
        existing: dict[str, tuple[int, str | None, str | None, str | None, str | None]] = {}
        ids = list(first)
        for id_part in _batches(ids):
            for row in conn.execute(
                select(Song.msd_song_id, Song.id, Song.msd_track_id, Song.artist, Song.title, Song.edited_fields).where(
                    Song.msd_song_id.in_(list(id_part))
                )
            ):
                existing[str(row[0])] = (row[1], row[2], row[3], row[4], row[5])
        new_rows = [
            {
                "source": SongSource.msd,
                "msd_song_id": sid,
                "msd_track_id": t,
                "artist": a,
                "title": ti,
                "updated_at": now,
            }
            for sid, (t, a, ti) in first.items()
            if sid not in existing
        ]
        for part in _batches(new_rows):
            conn.execute(insert(Song), list(part))
        report.songs_created_from_tracks += len(new_rows)
        fills: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for sid, (ident, old_track, old_artist, old_title, edited) in existing.items():
            track, artist, title = first[sid]
            locked = {f.strip() for f in (edited or "").split(",")}
            change = {
                attr: value
                for attr, old, value in (
                    ("msd_track_id", old_track, track),
                    ("artist", old_artist, artist),
                    ("title", old_title, title),
                )
                if old is None and value is not None and attr not in locked
            }
            if change:
                fills.setdefault(tuple(sorted(change)), []).append({"_id": ident} | change)
        report.songs_filled_from_tracks += _update_songs(conn, fills, now)
    progress.close()


def import_data(
    engine: Engine,
    *,
    songs_path: Path | None,
    listens_paths: Sequence[Path],
    doubtful_path: Path | None = None,
    on_error: OnError = "reject",
    tracks_path: Path | None = None,
) -> ImportReport:
    """Import metadata (``songs.tsv``, then the MSD's ``unique_tracks.txt`` if given), then listens, then the
    doubtful flags, in a single transaction.

    Raises TasteProfileError on bad input (and then writes nothing).
    """
    report = ImportReport()
    with engine.begin() as conn:
        if songs_path is not None:
            import_songs(conn, songs_path, report)
        if tracks_path is not None:
            import_tracks(conn, tracks_path, report, on_error=on_error)
        for path in listens_paths:
            import_listens(conn, path, report, on_error=on_error)
        if doubtful_path is not None:  # last: listened songs without a metadata row exist by now
            mark_doubtful(conn, doubtful_path, report)
    return report
