"""Subsonic methods in process: app passwords and API keys, lists and search, stars, ratings, scrobbles,
playlists, the play queue and the user; the shipped recordings appear as albums beside the music folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.core import subsonic as ss
from gateway.db.library import scan
from gateway.db.models import Song, SongSource
from gateway.db.session import make_engine
from sqlalchemy import text
from sqlalchemy.orm import Session

from .conftest import PASSWORD, bearer, make_settings, register
from .test_library import _tag, _tone

ALBUMS = {  # album artist, album, year, genre -> titles in track order
    ("The Garage Band", "First Light", "1999", "Rock"): ["Opening", "Middle", "Closing"],
    ("Aurora", "Northern", "2012", "Electronic"): ["Glow", "Drift"],
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    music = tmp_path / "music"
    seed = 0
    for (artist, album, year, _genre), titles in ALBUMS.items():
        folder = music / artist / album
        folder.mkdir(parents=True)
        for n, title in enumerate(titles, start=1):
            seed += 1
            path = folder / f"{n:02d}.flac"
            _tone(path, seed, "FLAC")
            _tag(path, {"title": title, "artist": artist, "album": album, "tracknumber": str(n), "date": year})
    from PIL import Image

    Image.new("RGB", (300, 200), (200, 40, 40)).save(music / "Aurora" / "Northern" / "Cover.JPG", "JPEG")
    settings = make_settings(tmp_path, music_dir=music)
    engine = make_engine(str(settings.database_url))
    scan(engine, music)
    with Session(engine) as db:  # a shipped recording (a rendered score) and an MSD song without audio
        recording = tmp_path / "var" / "bwv1.wav"
        recording.parent.mkdir(parents=True, exist_ok=True)
        _tone(recording, 99, "WAV")
        db.add(
            Song(
                source=SongSource.catalog,
                title="BWV 1.6",
                artist="J. S. Bach",
                release="Bach chorales",
                collection="Bach chorales",
                genre="Classical",
                audio_path=str(recording),
                audio_id="catalog-bwv1",
            )
        )
        db.add(Song(source=SongSource.msd, msd_song_id="SOXXXX", title="No Audio", artist="Nobody"))
        db.commit()
        for song in db.query(Song).filter(Song.source != SongSource.msd):
            db.execute(
                text("UPDATE songs SET genre = :g WHERE id = :i AND genre IS NULL"),
                {"g": "Rock" if song.artist == "The Garage Band" else "Electronic", "i": song.id},
            )
        db.commit()
    with TestClient(create_app(settings)) as client:
        token = register(client, "listener")
        yield client, token
    engine.dispose()


def call(client: TestClient, method: str, auth: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    auth = auth if auth is not None else {"u": "listener", "p": PASSWORD}
    resp = client.post(f"/rest/{method}", data={"v": "1.16.1", "c": "test", "f": "json", **auth, **params})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json"), resp.text
    return resp.json()["subsonic-response"]  # type: ignore[no-any-return]


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert body["status"] == "ok", body
    return body


def token_auth(password: str, salt: str = "c19b2d") -> dict[str, str]:
    return {"u": "listener", "t": hashlib.md5((password + salt).encode()).hexdigest(), "s": salt}


def test_app_passwords_and_api_keys(app: tuple[TestClient, Any], tmp_path: Path) -> None:
    client, token = app
    made = client.post("/api/me/app-credentials", json={"name": "phone"}, headers=bearer(token))
    assert made.status_code == 201, made.text
    secret, cred_id = made.json()["secret"], made.json()["id"]
    assert len(secret) == 23 and made.json()["kind"] == "password"
    ok(call(client, "ping", token_auth(secret)))
    ok(call(client, "ping", {"u": "listener", "p": secret}))  # apps that send p get the app password too
    ok(call(client, "ping", {"u": "listener", "p": "enc:" + secret.encode().hex()}))
    assert call(client, "ping", token_auth(secret + "x"))["error"]["code"] == ss.WRONG_CREDENTIALS
    assert call(client, "ping", token_auth(PASSWORD))["error"]["code"] == ss.WRONG_CREDENTIALS  # never the account's
    listed = client.get("/api/me/app-credentials", headers=bearer(token)).json()
    assert listed["items"][0]["last_used_at"] is not None and "secret" not in {
        k for k, v in listed["items"][0].items() if v
    }
    key = client.post("/api/me/app-credentials", json={"name": "desk", "kind": "api_key"}, headers=bearer(token))
    api_key = key.json()["secret"]
    ok(call(client, "ping", {"apiKey": api_key}))
    assert ok(call(client, "tokenInfo", {"apiKey": api_key}))["tokenInfo"] == {"username": "listener"}
    assert call(client, "ping", {"apiKey": api_key, "u": "listener"})["error"]["code"] == ss.CONFLICTING_MECHANISMS
    # Neither secret is stored as it is.
    raw = (tmp_path / "gateway.db").read_bytes()
    assert secret.encode() not in raw and api_key.encode() not in raw
    # Revoked: refused at once.
    assert client.delete(f"/api/me/app-credentials/{cred_id}", headers=bearer(token)).status_code == 204
    assert call(client, "ping", token_auth(secret))["error"]["code"] == ss.WRONG_CREDENTIALS
    assert client.delete(f"/api/me/app-credentials/{key.json()['id']}", headers=bearer(token)).status_code == 204
    assert call(client, "ping", {"apiKey": api_key})["error"]["code"] == ss.INVALID_API_KEY
    assert client.delete("/api/me/app-credentials/9999", headers=bearer(token)).status_code == 404
    assert client.post("/api/me/app-credentials", json={"kind": "root"}, headers=bearer(token)).status_code == 422
    assert client.get("/api/me/app-credentials").status_code == 401


def test_the_secret_is_kept_in_var_and_required_in_production(tmp_path: Path) -> None:
    from gateway.app.settings import Settings

    settings = Settings(var_dir=tmp_path / "v")
    first = settings.effective_credentials_secret()
    assert first == settings.effective_credentials_secret() and len(first) >= 32
    assert oct((tmp_path / "v" / "credentials.secret").stat().st_mode)[-3:] == "600"
    with pytest.raises(ValueError, match="CREDENTIALS_SECRET"):
        Settings(app_mode="production", admin_password="a-strong-password-1")


def test_browsing_lists_and_search(app: tuple[TestClient, Any]) -> None:
    client, _ = app
    artists = ok(call(client, "getArtists"))["artists"]
    names = [a["name"] for i in artists["index"] for a in i["artist"]]
    assert names == ["Aurora", "The Garage Band", "J. S. Bach"]  # under A, G ("The" ignored), J: the composer too
    everything = ok(call(client, "search3", query='""', songCount=500))["searchResult3"]
    titles = {s["title"] for s in everything["song"]}
    assert titles == {"Opening", "Middle", "Closing", "Glow", "Drift", "BWV 1.6"}  # never the MSD song without audio
    paged = [
        s["id"]
        for offset in range(0, 6, 2)
        for s in ok(call(client, "search3", query="", songCount=2, songOffset=offset))["searchResult3"]["song"]
    ]
    assert sorted(paged) == sorted(s["id"] for s in everything["song"])
    found = ok(call(client, "search3", query="garage clos"))["searchResult3"]
    assert [s["title"] for s in found["song"]] == ["Closing"] and found["artist"] == []
    by_name = ok(call(client, "getAlbumList2", type="alphabeticalByName", size=10))["albumList2"]["album"]
    assert [a["name"] for a in by_name] == ["Bach chorales", "First Light", "Northern"]
    by_year = ok(call(client, "getAlbumList2", type="byYear", fromYear=2020, toYear=1990))["albumList2"]["album"]
    assert [a["name"] for a in by_year] == ["Northern", "First Light"]  # from > to: newest first
    by_genre = ok(call(client, "getAlbumList2", type="byGenre", genre="Rock"))["albumList2"]["album"]
    assert [a["name"] for a in by_genre] == ["First Light"]
    for kind in ("random", "newest", "alphabeticalByArtist"):
        assert len(ok(call(client, "getAlbumList2", type=kind))["albumList2"]["album"]) == 3, kind
    for kind in ("frequent", "recent", "starred", "highest"):
        assert ok(call(client, "getAlbumList2", type=kind))["albumList2"].get("album", []) == [], kind
    assert call(client, "getAlbumList2", type="nonsense")["error"]["code"] == ss.GENERIC
    assert call(client, "getAlbumList2", type="byYear")["error"]["code"] == ss.MISSING_PARAMETER
    assert call(client, "getAlbumList2", type="random", size="many")["error"]["code"] == ss.GENERIC
    genres = {g["value"]: g for g in ok(call(client, "getGenres"))["genres"]["genre"]}
    assert genres["Rock"]["songCount"] == 3 and genres["Rock"]["albumCount"] == 1
    randoms = ok(call(client, "getRandomSongs", size=4, genre="Electronic"))["randomSongs"]["song"]
    assert {s["title"] for s in randoms} == {"Glow", "Drift"}
    bach = next(a for a in by_name if a["name"] == "Bach chorales")
    album = ok(call(client, "getAlbum", id=bach["id"]))["album"]
    assert album["artist"] == "J. S. Bach" and [s["title"] for s in album["song"]] == ["BWV 1.6"]
    user = ok(call(client, "getUser", username="listener"))["user"]
    assert user["username"] == "listener" and user["streamRole"] is True and user["adminRole"] is False
    assert call(client, "getUser", username="admin")["error"]["code"] == ss.NOT_AUTHORISED


def test_stars_ratings_scrobbles_and_recent(app: tuple[TestClient, Any]) -> None:
    client, token = app
    albums = {a["name"]: a for a in ok(call(client, "getAlbumList2", type="alphabeticalByName"))["albumList2"]["album"]}
    songs = ok(call(client, "getAlbum", id=albums["Northern"]["id"]))["album"]["song"]
    glow, drift = songs[0]["id"], songs[1]["id"]
    ok(call(client, "star", id=glow, albumId=albums["First Light"]["id"]))
    starred = ok(call(client, "getStarred2"))["starred2"]
    assert [s["title"] for s in starred["song"]] == ["Glow"] and [a["name"] for a in starred["album"]] == [
        "First Light"
    ]
    # A star is the web page's like.
    assert client.get(f"/api/songs/{glow}", headers=bearer(token)).json()["me"]["feedback"] == "like"
    assert call(client, "star", id=[drift, "999999"])["error"]["code"] == ss.NOT_FOUND  # one bad id: nothing written
    assert [s["title"] for s in ok(call(client, "getStarred2"))["starred2"]["song"]] == ["Glow"]
    ok(call(client, "unstar", id=glow))
    assert ok(call(client, "getStarred2"))["starred2"].get("song", []) == []
    ok(call(client, "setRating", id=drift, rating=4))
    assert ok(call(client, "getSong", id=drift))["song"]["userRating"] == 4
    assert call(client, "setRating", id=drift, rating=9)["error"]["code"] == ss.GENERIC
    ok(call(client, "setRating", id=drift, rating=0))
    assert "userRating" not in ok(call(client, "getSong", id=drift))["song"]
    # Now playing, then the play itself: through the web page's path (it shows in the history).
    ok(call(client, "scrobble", id=drift, submission="false"))
    playing = ok(call(client, "getNowPlaying"))["nowPlaying"]["entry"]
    assert playing[0]["id"] == drift and playing[0]["username"] == "listener"
    ok(call(client, "scrobble", id=drift))
    history = client.get("/api/me/history", headers=bearer(token)).json()
    assert [i["song"]["id"] for i in history["items"]] == [int(drift)]
    recent = ok(call(client, "getAlbumList2", type="recent"))["albumList2"]["album"]
    assert [a["name"] for a in recent] == ["Northern"] and recent[0]["playCount"] == 1
    assert ok(call(client, "getSong", id=drift))["song"]["playCount"] == 1
    assert call(client, "scrobble", id="999999")["error"]["code"] == ss.NOT_FOUND
    assert call(client, "scrobble", id=drift, time="yesterday")["error"]["code"] == ss.GENERIC
    assert len(client.get("/api/me/history", headers=bearer(token)).json()["items"]) == 1  # nothing written


def test_playlists_and_the_play_queue(app: tuple[TestClient, Any]) -> None:
    client, _ = app
    songs = ok(call(client, "search3", query="", songCount=10))["searchResult3"]["song"]
    ids = [s["id"] for s in songs]
    made = ok(call(client, "createPlaylist", name="Road trip", songId=ids[:3]))["playlist"]
    assert made["songCount"] == 3 and [e["id"] for e in made["entry"]] == ids[:3]
    ok(
        call(
            client, "updatePlaylist", playlistId=made["id"], name="Long road", songIdToAdd=ids[4], songIndexToRemove="0"
        )
    )
    got = ok(call(client, "getPlaylist", id=made["id"]))["playlist"]
    assert got["name"] == "Long road" and [e["id"] for e in got["entry"]] == [ids[1], ids[2], ids[4]]
    listed = ok(call(client, "getPlaylists"))["playlists"]["playlist"]
    assert [p["name"] for p in listed] == ["Long road"] and "entry" not in listed[0]
    assert call(client, "updatePlaylist", playlistId=made["id"], songIndexToRemove="7")["error"]["code"] == ss.NOT_FOUND
    assert call(client, "createPlaylist", name="bad", songId="999999")["error"]["code"] == ss.NOT_FOUND
    assert len(ok(call(client, "getPlaylists"))["playlists"]["playlist"]) == 1  # nothing half-made
    ok(call(client, "deletePlaylist", id=made["id"]))
    assert call(client, "getPlaylist", id=made["id"])["error"]["code"] == ss.NOT_FOUND
    assert ok(call(client, "getPlayQueue")).get("playQueue") is None
    ok(call(client, "savePlayQueue", id=ids[:2], current=ids[1], position=61000))
    queue = ok(call(client, "getPlayQueue", c="other app"))["playQueue"]
    assert [e["id"] for e in queue["entry"]] == ids[:2] and queue["current"] == ids[1] and queue["position"] == 61000
    assert queue["changedBy"] == "test"


def test_xml_answers_follow_the_schema(app: tuple[TestClient, Any]) -> None:
    from tests.conftest import load_test_module

    schema = load_test_module("subsonic_schema.py")
    client, _ = app
    songs = ok(call(client, "search3", query="", songCount=10))["searchResult3"]["song"]
    album_id, artist_id, sid = songs[0]["albumId"], songs[0]["artistId"], songs[0]["id"]
    ok(call(client, "star", id=sid, albumId=album_id, artistId=artist_id))
    ok(call(client, "setRating", id=sid, rating=5))
    ok(call(client, "scrobble", id=sid))
    ok(call(client, "scrobble", id=sid, submission="false"))
    playlist = ok(call(client, "createPlaylist", name="Mine", songId=[s["id"] for s in songs[:3]]))["playlist"]
    ok(call(client, "savePlayQueue", id=sid, position=10))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ping", {}),
        ("getLicense", {}),
        ("getOpenSubsonicExtensions", {}),
        ("getMusicFolders", {}),
        ("getIndexes", {}),
        ("getArtists", {}),
        ("getArtist", {"id": artist_id}),
        ("getAlbum", {"id": album_id}),
        ("getSong", {"id": sid}),
        ("getMusicDirectory", {"id": album_id}),
        ("getAlbumList", {"type": "newest"}),
        ("getAlbumList2", {"type": "frequent"}),
        ("getGenres", {}),
        ("search3", {"query": ""}),
        ("search2", {"query": "o"}),
        ("getRandomSongs", {"size": 3}),
        ("getSongsByGenre", {"genre": "Rock"}),
        ("getStarred", {}),
        ("getStarred2", {}),
        ("getNowPlaying", {}),
        ("getUser", {"username": "listener"}),
        ("getPlaylists", {}),
        ("getPlaylist", {"id": playlist["id"]}),
        ("getPlayQueue", {}),
        ("getTopSongs", {"artist": "Aurora"}),
        ("getSimilarSongs", {"id": sid}),  # services down here: an empty list, still in shape
        ("getSimilarSongs2", {"id": artist_id}),
        ("getArtistInfo2", {"id": artist_id}),
        ("getSonicSimilarTracks", {"id": "999999"}),
        ("getAlbum", {"id": "al-none"}),
    ]
    for method, params in calls:
        resp = client.post(f"/rest/{method}", data={"v": "1.16.1", "c": "t", "u": "listener", "p": PASSWORD, **params})
        assert resp.headers["content-type"].startswith("text/xml")
        assert schema.check(resp.content) == [], (method, resp.text[:400])
    # The checker itself finds departures.
    bad = b'<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1"><song id="1"/></subsonic-response>'
    assert any("isDir" in p for p in schema.check(bad)) and any("title" in p for p in schema.check(bad))


def test_folder_covers_scaled_to_the_size_apps_ask(app: tuple[TestClient, Any]) -> None:
    import io

    from PIL import Image

    client, _ = app
    albums = {a["name"]: a for a in ok(call(client, "getAlbumList2", type="alphabeticalByName"))["albumList2"]["album"]}
    northern = albums["Northern"]
    assert northern["coverArt"] == northern["id"] and "coverArt" not in albums["Bach chorales"]
    auth = {"u": "listener", "p": PASSWORD, "v": "1.16.1", "c": "test"}
    full = client.get("/rest/getCoverArt", params=auth | {"id": northern["coverArt"]})
    assert full.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(full.content)).size == (300, 200)
    small = client.get("/rest/getCoverArt", params=auth | {"id": northern["coverArt"], "size": 60})
    assert Image.open(io.BytesIO(small.content)).size == (60, 40)
    song = ok(call(client, "getAlbum", id=northern["id"]))["album"]["song"][0]
    assert client.get("/rest/getCoverArt", params=auth | {"id": song["coverArt"]}).status_code == 200
    missing = call(client, "getCoverArt", id=albums["First Light"]["id"])  # no picture in that folder
    assert missing["error"]["code"] == ss.NOT_FOUND
    assert call(client, "getCoverArt", id=northern["id"], size="big")["error"]["code"] == ss.GENERIC
