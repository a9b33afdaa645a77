"""Repaired MSD metadata (issue 13): coverage of the shipped file, updating an existing database, doubtful matches.

Runs on SQLite and, when configured, on PostgreSQL and MariaDB (the ``migrated_url`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway.core.fusion import named_first_on_ties
from gateway.db import catalog
from gateway.db.importer import ImportReport, import_data
from gateway.db.listening import record_play
from gateway.db.models import Play, PlayEvent, Song, User
from gateway.db.session import make_engine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "msd"
OLD_SONGS = Path(__file__).resolve().parent / "data" / "songs_before_repair.tsv"
LISTENS = [DATA / "listens_10000_head.tsv"]
REPLACEMENT = "\ufffd"

# Songs the issue names: untitled in the old file, named in the repaired one.
REVELRY = "SOSXLTC12AF72A7F54"
BJORK_SONG = "SOAUWYT12A81C206F1"  # "Undo", by "Bj\ufffdrk" in the old file


def _named_share(session: Session) -> float:
    """Share of imported play counts on songs with both a title and an artist."""
    total = session.execute(select(func.sum(Play.count))).scalar_one()
    named = session.execute(
        select(func.sum(Play.count))
        .join(Song, Song.id == Play.song_id)
        .where(Song.title.is_not(None), Song.artist.is_not(None))
    ).scalar_one()
    return float(named) / float(total)


def _snapshot(session: Session) -> dict[str, object]:
    """Everything an import must never change for a user: plays, events and accounts."""
    return {
        "plays": sorted(tuple(r) for r in session.execute(select(Play.user_id, Play.song_id, Play.count))),
        "events": session.execute(select(func.count(), func.sum(PlayEvent.count)).select_from(PlayEvent)).one(),
        "users": session.execute(select(func.count()).select_from(User)).scalar_one(),
    }


def test_shipped_metadata_names_the_listened_songs(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    report = import_data(
        engine, songs_path=DATA / "songs.tsv", listens_paths=LISTENS, doubtful_path=DATA / "songs_doubtful.tsv"
    )
    assert report.songs_in_metadata == 33_129 and report.songs_created_from_listens == 915
    assert report.songs_doubtful_in_file == 611
    with Session(engine) as session:
        share = _named_share(session)
        assert share >= 0.95, share
        top = catalog.chart(session, since=None, n=50)
        assert len(top) == 50
        unnamed = [song.msd_song_id for song, _ in top if not (song.title and song.artist)]
        assert len(unnamed) <= 3, unnamed
        bad = session.execute(
            select(func.count())
            .select_from(Song)
            .where(Song.title.contains(REPLACEMENT) | Song.artist.contains(REPLACEMENT))
        ).scalar_one()
        assert bad == 0
        flagged = session.execute(select(func.count()).select_from(Song).where(Song.metadata_uncertain)).scalar_one()
        assert flagged == 611
    engine.dispose()


def test_repaired_file_updates_an_existing_database_without_touching_plays(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    import_data(engine, songs_path=OLD_SONGS, listens_paths=LISTENS)
    with Session(engine) as session:
        revelry = session.execute(select(Song).where(Song.msd_song_id == REVELRY)).scalar_one()
        assert revelry.title is None  # listened, but the old file had no row for it
        old_share = _named_share(session)
        assert old_share < 0.6
        broken = session.execute(select(Song.artist).where(Song.msd_song_id == BJORK_SONG)).scalar_one()
        assert broken is not None and REPLACEMENT in broken
        # The app records plays on an untitled song and on a named one; an admin corrects a title.
        user = User(username="listener", is_admin=False)
        session.add(user)
        session.commit()
        user_id = user.id
        named_id = session.execute(select(Song.id).where(Song.title.is_not(None)).limit(1)).scalar_one()
        record_play(session, user_id, revelry.id, 3)
        record_play(session, user_id, named_id, 1)
        edited = catalog.edit_song(session, named_id, {"title": "Edited by the admin"})
        assert edited is not None and edited.edited_fields == "title"
        before = _snapshot(session)

    first = import_data(
        engine, songs_path=DATA / "songs.tsv", listens_paths=LISTENS, doubtful_path=DATA / "songs_doubtful.tsv"
    )
    assert first.listens_inserted == 0 and first.songs_updated > 3_000
    with Session(engine) as session:
        assert _snapshot(session) == before  # no play lost or duplicated
        revelry = session.execute(select(Song).where(Song.msd_song_id == REVELRY)).scalar_one()
        assert (revelry.title, revelry.artist) == ("Revelry", "Kings Of Leon")
        assert (
            session.execute(select(Play.count).where(Play.song_id == revelry.id, Play.user_id == user_id)).scalar_one()
            == 3
        )
        artist = session.execute(select(Song.artist).where(Song.msd_song_id == BJORK_SONG)).scalar_one()
        assert artist == "Bj\u00f6rk"
        assert session.get(Song, named_id).title == "Edited by the admin"  # type: ignore[union-attr]
        assert _named_share(session) >= 0.95

    second = import_data(
        engine, songs_path=DATA / "songs.tsv", listens_paths=LISTENS, doubtful_path=DATA / "songs_doubtful.tsv"
    )
    assert (second.songs_updated, second.fields_updated, second.songs_flag_changed) == (0, 0, 0)
    assert second.songs_created_from_metadata == 0 and second.listens_inserted == 0
    with Session(engine) as session:
        assert _snapshot(session) == before
    engine.dispose()


def test_an_empty_cell_never_erases_a_known_value(migrated_url: str, tmp_path: Path) -> None:
    header = "song_id\ttrack_id\ttitle\tartist\trelease\tyear\tduration_s\ttempo_bpm\tgenre\tlastfm_tags\n"
    full = tmp_path / "full.tsv"
    full.write_text(header + "SOX1\tTRX1\tA Song\tAn Artist\tAn Album\t1999\t200.5\t120\tRock\trock|indie\n")
    sparse = tmp_path / "sparse.tsv"
    sparse.write_text(header + "SOX1\t\tA Song (Remastered)\t\t\t\t\t\t\t\n")
    engine = make_engine(migrated_url)
    import_data(engine, songs_path=full, listens_paths=[])
    report = import_data(engine, songs_path=sparse, listens_paths=[])
    assert (report.songs_updated, report.fields_updated) == (1, 1)
    with Session(engine) as session:
        song = session.execute(select(Song).where(Song.msd_song_id == "SOX1")).scalar_one()
        assert (song.title, song.artist, song.release, song.year, song.msd_track_id, song.genre) == (
            "A Song (Remastered)",
            "An Artist",
            "An Album",
            1999,
            "TRX1",
            "Rock",
        )
    engine.dispose()


def test_doubtful_flag_is_cleared_when_a_song_leaves_the_list(migrated_url: str, tmp_path: Path) -> None:
    header = "song_id\ttrack_id\ttitle\tartist\trelease\tyear\tduration_s\ttempo_bpm\tgenre\tlastfm_tags\n"
    songs = tmp_path / "songs.tsv"
    songs.write_text(header + "SOX1\t\tOne\tArtist\t\t\t\t\t\t\nSOX2\t\tTwo\tArtist\t\t\t\t\t\t\n")
    doubtful = tmp_path / "doubtful.tsv"
    doubtful.write_text("song_id\tissue\techo_nest_song_side\nSOX1\tsid_mismatch\tOther Name - Other Artist\n")
    engine = make_engine(migrated_url)
    report = import_data(engine, songs_path=songs, listens_paths=[], doubtful_path=doubtful)
    assert report.songs_flag_changed == 1
    with Session(engine) as session:
        flags = dict(session.execute(select(Song.msd_song_id, Song.metadata_uncertain)).all())
        assert flags == {"SOX1": True, "SOX2": False}
        note = session.execute(select(Song.metadata_note).where(Song.msd_song_id == "SOX1")).scalar_one()
        assert note is not None and "Other Name - Other Artist" in note
    doubtful.write_text("song_id\tissue\techo_nest_song_side\n")
    assert import_data(engine, songs_path=songs, listens_paths=[], doubtful_path=doubtful).songs_flag_changed == 1
    with Session(engine) as session:
        assert not session.execute(select(Song.metadata_uncertain).where(Song.msd_song_id == "SOX1")).scalar_one()
    engine.dispose()


def test_chart_ties_list_named_songs_first(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with Session(engine) as session:
        user = User(username="u", is_admin=False)
        songs = [
            Song(source="msd", msd_song_id="S1"),  # untitled, 2 plays
            Song(source="msd", msd_song_id="S2", title="Named", artist="Someone"),  # 2 plays
            Song(source="msd", msd_song_id="S3"),  # untitled, 5 plays: still first
            Song(source="msd", msd_song_id="S4", title="Named too", artist="Someone"),  # 1 play
        ]
        session.add_all([user, *songs])
        session.commit()
        for song, n in zip(songs, (2, 2, 5, 1), strict=True):
            record_play(session, user.id, song.id, n)
        order = [(song.msd_song_id, total) for song, total in catalog.chart(session, since=None, n=10)]
        assert order == [("S3", 5), ("S2", 2), ("S1", 2), ("S4", 1)]
    engine.dispose()


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # (id, score, named): only runs of equal score are reordered, stably.
        ([("a", 3.0, False), ("b", 2.0, False), ("c", 2.0, True), ("d", 1.0, True)], ["a", "c", "b", "d"]),
        ([("a", 1.0, False), ("b", 1.0, True), ("c", 1.0, False), ("d", 1.0, True)], ["b", "d", "a", "c"]),
        ([("a", 3.0, False), ("b", 2.0, True)], ["a", "b"]),
    ],
)
def test_named_first_on_ties_keeps_the_ranking(items: list[tuple[str, float, bool]], expected: list[str]) -> None:
    out = named_first_on_ties(items, lambda i: i[1], lambda i: i[2])
    assert [i[0] for i in out] == expected


def test_unique_tracks_adds_names_in_chunks_and_only_fills_gaps(migrated_url: str, tmp_path: Path) -> None:
    from gateway.db.importer import import_tracks
    from gateway.db.library import msd_index
    from musicrec_common.tasteprofile import TasteProfileError

    songs = tmp_path / "songs.tsv"
    songs.write_text("song_id\ttitle\tartist\nSOKNOWN0000000001\tThe Right Name\tThe Right Band\n")
    listens = tmp_path / "listens.tsv"
    listens.write_text("u1\tSOUNTITLED00000001\t3\n")
    engine = make_engine(migrated_url)
    import_data(engine, songs_path=songs, listens_paths=[listens])
    tracks = tmp_path / "unique_tracks.txt"
    lines = [
        "TRA0000000000001<SEP>SOKNOWN0000000001<SEP>Another Band<SEP>Another Name",  # known: names kept
        "TRA0000000000002<SEP>SOUNTITLED00000001<SEP>Sigur Rós<SEP>Hoppípolla",  # untitled: filled in
        *(f"TRB00000000000{i:02d}<SEP>SONEW00000000000{i:02d}<SEP>Band {i}<SEP>Song {i}" for i in range(10)),
        "TRB0000000000099<SEP>SONEW0000000000003<SEP>Band 3<SEP>Song 3 (another track of it)",
    ]
    tracks.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    bad = tmp_path / "bad_tracks.txt"
    bad.write_text(lines[2] + "\nnot a track line\n")

    with engine.begin() as conn:  # chunks of 3 lines: the duplicate song id falls in another chunk
        report = ImportReport()
        import_tracks(conn, tracks, report, chunk_lines=3)
    assert (report.tracks_read, report.songs_created_from_tracks, report.songs_filled_from_tracks) == (13, 10, 2)
    with pytest.raises(TasteProfileError, match="line 2"):
        import_data(engine, songs_path=None, listens_paths=[], tracks_path=bad)
    again = import_data(engine, songs_path=None, listens_paths=[], tracks_path=tracks)
    assert (again.songs_created_from_tracks, again.songs_filled_from_tracks) == (0, 0)
    skipped = import_data(engine, songs_path=None, listens_paths=[], tracks_path=bad, on_error="skip")
    assert skipped.bad_lines == [{"line": 2, "reason": skipped.bad_lines[0]["reason"]}]
    with Session(engine) as session:
        known = session.execute(select(Song).where(Song.msd_song_id == "SOKNOWN0000000001")).scalar_one()
        assert (known.title, known.artist, known.msd_track_id) == (
            "The Right Name",
            "The Right Band",
            "TRA0000000000001",
        )
        filled = session.execute(select(Song).where(Song.msd_song_id == "SOUNTITLED00000001")).scalar_one()
        assert (filled.title, filled.artist) == ("Hoppípolla", "Sigur Rós")
        three = session.execute(select(Song).where(Song.msd_song_id == "SONEW0000000000003")).scalar_one()
        assert three.title == "Song 3" and three.msd_track_id == "TRB0000000000003"
        assert session.execute(select(func.count()).select_from(Song)).scalar_one() == 12
        assert session.execute(select(func.sum(Play.count))).scalar_one() == 3  # listens untouched
        index = msd_index(session)
    match = index.match("sigur ros", "Hoppipolla", None)
    assert match.status == "accepted" and match.song_id == "SOUNTITLED00000001"
    engine.dispose()
