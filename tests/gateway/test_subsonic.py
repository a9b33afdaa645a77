"""The Subsonic / OpenSubsonic protocol layer: envelopes in XML and JSON, authentication, error codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.core import subsonic as ss

from .conftest import PASSWORD, make_settings, register

NS = "{http://subsonic.org/restapi}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as c:
        register(c, "listener")
        yield c


def xml(resp: object) -> ET.Element:
    root = ET.fromstring(resp.content)  # type: ignore[attr-defined]
    assert root.tag == f"{NS}subsonic-response"
    return root


def base(**extra: str) -> dict[str, str]:
    return {"u": "listener", "p": PASSWORD, "v": "1.16.1", "c": "test"} | extra


def test_ping_in_xml_and_json_with_the_envelope(client: TestClient) -> None:
    for path in ("/rest/ping", "/rest/ping.view"):
        resp = client.get(path, params=base())
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
        root = xml(resp)
        assert root.attrib == {
            "status": "ok",
            "version": "1.16.1",
            "type": "musicrec",
            "serverVersion": root.attrib["serverVersion"],
            "openSubsonic": "true",
        }
    body = client.get("/rest/ping", params=base(f="json")).json()["subsonic-response"]
    assert body["status"] == "ok" and body["openSubsonic"] is True and body["version"] == "1.16.1"
    # formPost: the same parameters in a form body
    posted = client.post("/rest/ping.view", data=base(f="json"))
    assert posted.json()["subsonic-response"]["status"] == "ok"
    license_ = xml(client.get("/rest/getLicense", params=base())).find(f"{NS}license")
    assert license_ is not None and license_.attrib["valid"] == "true"
    ext = client.get("/rest/getOpenSubsonicExtensions", params=base(f="json")).json()["subsonic-response"]
    assert {"name": "formPost", "versions": [1]} in ext["openSubsonicExtensions"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (base(p="wrong password"), ss.WRONG_CREDENTIALS),
        (base(p="enc:" + b"wrong".hex()), ss.WRONG_CREDENTIALS),
        (base(p="enc:zz"), ss.WRONG_CREDENTIALS),
        (base(u="nobody"), ss.WRONG_CREDENTIALS),
        ({k: v for k, v in base().items() if k != "u"}, ss.MISSING_PARAMETER),
        ({k: v for k, v in base().items() if k != "v"}, ss.MISSING_PARAMETER),
        ({k: v for k, v in base().items() if k != "p"}, ss.MISSING_PARAMETER),
        (base(v="0.9.0"), ss.CLIENT_TOO_OLD),
        (base(v="2.0.0"), ss.SERVER_TOO_OLD),
        (base(v="one"), ss.MISSING_PARAMETER),
        ({k: v for k, v in base().items() if k != "p"} | {"t": "a" * 32, "s": "salt"}, ss.WRONG_CREDENTIALS),
        ({k: v for k, v in base().items() if k != "p"} | {"t": "a" * 32}, ss.MISSING_PARAMETER),
        (base(t="a" * 32, s="salt"), ss.CONFLICTING_MECHANISMS),
        (base(apiKey="key"), ss.CONFLICTING_MECHANISMS),
        ({"apiKey": "key", "v": "1.16.1", "c": "t"}, ss.INVALID_API_KEY),
        (base(extra="x" * 5000), ss.GENERIC),
    ],
)
def test_errors_answer_in_the_protocols_shape(client: TestClient, params: dict[str, str], code: int) -> None:
    for fmt in ("xml", "json"):
        resp = client.get("/rest/ping", params=params | ({"f": "json"} if fmt == "json" else {}))
        assert resp.status_code == 200
        if fmt == "json":
            body = resp.json()["subsonic-response"]
            assert body["status"] == "failed" and body["error"]["code"] == code, body
            assert body["error"]["message"]
        else:
            root = xml(resp)
            error = root.find(f"{NS}error")
            assert root.attrib["status"] == "failed" and error is not None and error.attrib["code"] == str(code)


def test_the_right_password_in_hex_and_unknown_methods(client: TestClient) -> None:
    ok = client.get("/rest/ping", params=base(p="enc:" + PASSWORD.encode().hex(), f="json")).json()
    assert ok["subsonic-response"]["status"] == "ok"
    unknown = client.get("/rest/noSuchMethod.view", params=base(f="json")).json()["subsonic-response"]
    assert unknown["error"]["code"] == ss.NOT_FOUND
    form = {"content-type": "application/x-www-form-urlencoded"}
    junk = client.post("/rest/ping", content=b"\xff\x00=%zz", headers=form)
    assert junk.status_code == 200 and xml(junk).attrib["status"] == "failed"
    crowded = client.post("/rest/ping", content="&".join(["id=1"] * 1200).encode(), headers=form)
    assert crowded.status_code == 200 and xml(crowded).find(f"{NS}error").attrib["code"] == str(ss.GENERIC)  # type: ignore[union-attr]


def test_wrong_passwords_meet_the_login_limit(client: TestClient) -> None:
    for _ in range(6):
        client.get("/rest/ping", params=base(p="wrong password"))
    body = client.get("/rest/ping", params=base(f="json")).json()["subsonic-response"]
    assert body["status"] == "failed" and body["error"]["code"] == ss.WRONG_CREDENTIALS  # even the right one, for now


def test_token_check_and_xml_rendering() -> None:
    assert ss.token_matches("sesame", "c19b2d", "26719a1196d2a940705a59634eb18eab")  # the protocol's own example
    assert not ss.token_matches("sesame", "c19b2d", "0" * 32)
    content, media = ss.render({"genres": {"genre": [{"songCount": 2, "value": "Rock & Roll"}]}}, "xml", "1.0")
    assert media == "text/xml" and b'<genre songCount="2">Rock &amp; Roll</genre>' in content
    odd, _ = ss.render(
        {"song": {"id": "1", "title": "Esc\x1b[0m and \x00 nul"}, "genre": {"value": "a\x0bb"}}, "xml", "1"
    )
    root = ET.fromstring(odd)  # characters XML cannot hold are replaced, so the answer still parses
    assert root.find(f"{NS}song").attrib["title"] == "Esc\ufffd[0m and \ufffd nul"  # type: ignore[union-attr]


def test_browsing_streaming_and_covers_of_the_music_folder(tmp_path: Path) -> None:
    from gateway.db.library import scan
    from gateway.db.session import make_engine

    from .test_library import _cover, _tag, _tone

    music = tmp_path / "music"
    (music / "Band" / "First").mkdir(parents=True)
    for n, title in enumerate(["Opening", "Middle", "Closing"], start=1):
        path = music / "Band" / "First" / f"{n:02d}.flac"
        _tone(path, n, "FLAC")
        _tag(path, {"title": title, "artist": "The Garage Band", "album": "First Light", "tracknumber": str(n)})
    _cover(music / "Band" / "First" / "01.flac")
    settings = make_settings(tmp_path, music_dir=music)
    engine = make_engine(str(settings.database_url))
    scan(engine, music)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        register(client, "listener")
        artists = client.get("/rest/getArtists", params=base(f="json")).json()["subsonic-response"]["artists"]
        index = {i["name"]: i["artist"] for i in artists["index"]}
        assert [a["name"] for a in index["G"]] == ["The Garage Band"]  # "The" is an ignored article
        artist_id = index["G"][0]["id"]
        artist = client.get("/rest/getArtist", params=base(id=artist_id, f="json")).json()["subsonic-response"]
        album_id = artist["artist"]["album"][0]["id"]
        album = client.get("/rest/getAlbum.view", params=base(id=album_id)).content
        root = ET.fromstring(album)
        songs = root.findall(f"{NS}album/{NS}song")
        assert [s.attrib["title"] for s in songs] == ["Opening", "Middle", "Closing"]
        assert {s.attrib["isDir"] for s in songs} == {"false"} and all(int(s.attrib["duration"]) >= 1 for s in songs)
        first = songs[0].attrib["id"]
        song = client.get("/rest/getSong", params=base(id=first, f="json")).json()["subsonic-response"]["song"]
        assert song["albumId"] == album_id and song["suffix"] == "flac"
        stream = client.get("/rest/stream", params=base(id=first), headers={"Range": "bytes=0-99"})
        assert stream.status_code == 206 and len(stream.content) == 100 and stream.content.startswith(b"fLaC")
        cover = client.get("/rest/getCoverArt", params=base(id=album_id))
        assert cover.status_code == 200 and cover.content.startswith(b"\x89PNG")
        for method_, params in (
            ("getAlbum", {"id": "al-nope"}),
            ("getSong", {"id": "abc"}),
            ("stream", {"id": "999999"}),
        ):
            body = client.get(f"/rest/{method_}", params=base(f="json", **params)).json()["subsonic-response"]
            assert body["error"]["code"] == ss.NOT_FOUND, (method_, body)
        missing = client.get("/rest/getAlbum", params=base(f="json")).json()["subsonic-response"]
        assert missing["error"]["code"] == ss.MISSING_PARAMETER
