"""POST /api/me/imports: Last.fm, ListenBrainz and Spotify exports become a user's plays, once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.app.settings import Settings
from gateway.core.history import ExportError, read_export
from gateway.db.importer import import_data
from gateway.db.models import Play, PlayEvent, Song, User
from gateway.db.session import make_engine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .conftest import bearer, make_settings, register

REPO = Path(__file__).resolve().parents[2]
MSD = REPO / "data" / "msd"


@pytest.fixture(scope="module")
def msd_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("imports"))
    engine = make_engine(str(settings.database_url))
    import_data(engine, songs_path=MSD / "songs.tsv", listens_paths=[MSD / "listens_10000_head.tsv"])
    engine.dispose()
    return settings


@pytest.fixture
def client(msd_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(msd_settings)) as c:
        yield c


def lastfm_export_of_a_listener(settings: Settings) -> tuple[bytes, int]:
    """An imported MSD listener's history written as a Last.fm scrobble export (one row per play)."""
    engine = make_engine(str(settings.database_url))
    with Session(engine) as session:
        user_id = session.execute(
            select(Play.user_id)
            .join(Song, Song.id == Play.song_id)
            .join(User, User.id == Play.user_id)
            .where(Song.title.is_not(None), Song.artist.is_not(None), User.msd_user_id.is_not(None))
            .group_by(Play.user_id)
            .order_by(func.count().desc(), Play.user_id)
            .limit(1)
        ).scalar_one()
        rows = session.execute(
            select(Song.artist, Song.release, Song.title, Play.count)
            .join(Song, Song.id == Play.song_id)
            .where(Play.user_id == user_id, Song.title.is_not(None), Song.artist.is_not(None))
            .order_by(Song.id)
        ).all()
    engine.dispose()
    out = io.StringIO()
    writer = csv.writer(out)
    when = dt.datetime(2020, 1, 31, 18, 22)
    plays = 0
    for artist, album, title, count in rows:
        for _ in range(min(count, 3)):
            writer.writerow([artist, album or "", title, when.strftime("%d %b %Y %H:%M")])
            when -= dt.timedelta(minutes=4)
            plays += 1
    return out.getvalue().encode(), plays


def _plays(settings: Settings, username: str) -> tuple[int, int]:
    engine = make_engine(str(settings.database_url))
    with Session(engine) as session:
        uid = session.execute(select(User.id).where(User.username == username)).scalar_one()
        total = session.execute(select(func.coalesce(func.sum(Play.count), 0)).where(Play.user_id == uid)).scalar_one()
        events = session.execute(
            select(func.count()).select_from(PlayEvent).where(PlayEvent.user_id == uid)
        ).scalar_one()
    engine.dispose()
    return int(total), int(events)


def test_a_lastfm_export_becomes_plays_once(client: TestClient, msd_settings: Settings) -> None:
    data, plays = lastfm_export_of_a_listener(msd_settings)
    assert plays >= 50
    token = register(client, "newcomer")
    files = {"file": ("scrobbles.csv", data, "text/csv")}
    first = client.post("/api/me/imports", files=files, headers=bearer(token))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["format"] == "lastfm" and body["rows"] == plays
    assert body["matched"] >= 0.95 * plays, body
    assert body["added"] == body["matched"] and body["skips"] == 0
    assert _plays(msd_settings, "newcomer") == (body["added"], body["added"])
    me = client.get("/api/me", headers=bearer(token)).json()
    assert me["stats"]["plays"] == body["added"]

    again = client.post("/api/me/imports", files=files, headers=bearer(token)).json()
    assert (again["added"], again["already_imported"]) == (0, body["matched"])
    assert _plays(msd_settings, "newcomer") == (body["added"], body["added"])


def test_spotify_and_listenbrainz_exports(client: TestClient, msd_settings: Settings) -> None:
    token = register(client, "streamer")
    spotify = [
        {"ts": "2021-03-01T10:00:00Z", "master_metadata_track_name": "Revelry",
         "master_metadata_album_artist_name": "Kings Of Leon", "ms_played": 201000},
        {"ts": "2021-03-01T10:04:00Z", "master_metadata_track_name": "Revelry",
         "master_metadata_album_artist_name": "Kings Of Leon", "ms_played": 12000},  # a skip
        {"ts": "2021-03-01T10:05:00Z", "master_metadata_track_name": None,
         "master_metadata_album_artist_name": None, "ms_played": 600000},  # a podcast
        {"ts": "2021-03-01T10:20:00Z", "master_metadata_track_name": "No Such Song Anywhere",
         "master_metadata_album_artist_name": "Nobody At All", "ms_played": 180000},
    ]  # fmt: skip
    files = {"file": ("Streaming_History_Audio_2021.json", json.dumps(spotify).encode(), "application/json")}
    body = client.post("/api/me/imports", files=files, headers=bearer(token)).json()
    assert body["format"] == "spotify" and body["rows"] == 3
    assert (body["matched"], body["skips"], body["unmatched"], body["added"]) == (1, 1, 1, 1)
    assert body["skipped"] == [{"line": 1, "reason": "played 12 s: a skip"}]
    assert body["top_unmatched"] == [{"artist": "Nobody At All", "title": "No Such Song Anywhere", "listens": 1}]

    listens = [
        {"listened_at": 1614600000 + i * 300, "track_metadata": {"artist_name": "Florence + The Machine",
         "track_name": "Dog Days Are Over (Radio Edit)", "release_name": "Lungs"}}
        for i in range(3)
    ]  # fmt: skip
    lines = "\n".join(json.dumps(x) for x in listens).encode()
    body = client.post("/api/me/imports", files={"file": ("listens.jsonl", lines)}, headers=bearer(token)).json()
    assert body["format"] == "listenbrainz" and (body["rows"], body["matched"], body["added"]) == (3, 3, 3)
    assert _plays(msd_settings, "streamer") == (4, 4)


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"Kings Of Leon,Only By The Night,Revelry,31 Jan 2020 18:22\nKings Of Leon,Revelry\n", 2),
        (b"Kings Of Leon,Only By The Night,Revelry,yesterday-ish\n", 1),
        (b'[{"listened_at": 1, "track_metadata": {"track_name": "x"}}, {"listened_at": 2}]', 1),
        (b"\xff\xfe\x00binary", 1),
        (b'{"something": "else"}', 1),
    ],
)
def test_a_malformed_export_is_a_422_naming_the_line_and_writes_nothing(
    client: TestClient, msd_settings: Settings, content: bytes, line: int
) -> None:
    token = register(client, f"careful{line}{len(content)}")
    resp = client.post("/api/me/imports", files={"file": ("x", content)}, headers=bearer(token))
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "bad_export" and resp.json()["error"]["details"]["line"] == line
    assert _plays(msd_settings, f"careful{line}{len(content)}") == (0, 0)


def test_empty_and_anonymous_imports_are_refused(client: TestClient) -> None:
    assert client.post("/api/me/imports", files={"file": ("x.csv", b"a,b,c,d\n")}).status_code == 401
    token = register(client, "empty")
    assert client.post("/api/me/imports", files={"file": ("x.csv", b"")}, headers=bearer(token)).status_code == 422


def test_large_json_arrays_stream_item_by_item() -> None:
    """A JSON array read through a small buffer: every item, the right line numbers."""
    items = [{"listened_at": 1600000000 + i, "track_metadata": {"track_name": f"t{i}"}} for i in range(5000)]
    raw = ("[\n" + ",\n".join(json.dumps(x) for x in items) + "\n]").encode()
    fmt, listens = read_export(io.BytesIO(raw))
    got = list(listens)
    assert fmt == "listenbrainz" and len(got) == 5000 and got[0].line == 2 and got[-1].line == 5001
    bad = raw.replace(b'"t4321"', b"t4321")
    with pytest.raises(ExportError) as info:
        list(read_export(io.BytesIO(bad))[1])
    assert info.value.line == 4323


def test_the_import_layer_on_every_backend(migrated_url: str) -> None:
    """The same import, twice, directly on SQLite, PostgreSQL and MariaDB: counts add up once."""
    from gateway.db.history_import import catalog_index, import_history

    engine = make_engine(migrated_url)
    with Session(engine) as session:
        session.add_all(
            [
                Song(source="msd", msd_song_id="SO1", title="Revelry", artist="Kings Of Leon"),
                Song(source="library", title="Our Song", artist="The Garage Band"),
                User(username="importer", is_admin=False),
            ]
        )
        session.commit()
        user_id = session.execute(select(User.id).where(User.username == "importer")).scalar_one()
        rows = (
            "".join(f"Kings Of Leon,Only By The Night,Revelry,{1600000000 + i * 200}\n" for i in range(5))
            + "Garage Band,Demo,Our Song,1600005000\nNobody,None,Nothing,1600006000\n"
        )
        for expected_added in (6, 0):
            fmt, listens = read_export(io.BytesIO(rows.encode()))
            report = import_history(session, user_id, fmt, listens, catalog_index(session))
            session.commit()
            assert (report.rows, report.matched, report.unmatched, report.added) == (7, 6, 1, expected_added)
        counts = dict(
            session.execute(
                select(Song.title, Play.count).join(Play, Play.song_id == Song.id).where(Play.user_id == user_id)
            ).all()
        )
        assert counts == {"Revelry": 5, "Our Song": 1}
        last = session.execute(select(func.max(Play.last_played_at)).where(Play.user_id == user_id)).scalar_one()
        assert last == dt.datetime(2020, 9, 13, 13, 50)
    engine.dispose()
