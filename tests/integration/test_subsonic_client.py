"""A real Subsonic client library (py-sonic, from PyPI) against the real gateway process on loopback, in JSON
(the library's own format) and in XML (the protocol's default: the same library asked without ``f=json``, each
answer checked against the 1.16.1 schema's structure).

The music folder is generated (labelled as such): short synthetic recordings tagged with the names of the most
played MSD song and of songs its listeners also play (so the files match MSD songs and the vote knows them), and
three tagged with names no MSD song has (sound only).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import libsonic
import pytest
from gateway.db.models import Play, Song
from gateway.db.session import make_engine
from musicrec_tools.procs import python_module
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import load_test_module

pytestmark = pytest.mark.integration
NS = "{http://subsonic.org/restapi}"


class XmlConnection(libsonic.Connection):  # type: ignore[misc]
    """py-sonic asking for the protocol's default format, XML: the same requests, the answers parsed here."""

    last: bytes = b""

    def _getBaseQdict(self) -> dict[str, str]:
        query: dict[str, str] = super()._getBaseQdict()
        query.pop("f", None)
        return query

    def _doInfoReq(self, req: Any) -> dict[str, Any]:
        self.last = self._opener.open(req).read()
        root = ET.fromstring(self.last)
        error = root.find(f"{NS}error")
        return {"status": root.attrib["status"], "root": root, "error": dict(error.attrib) if error is not None else {}}


def _most_played_with_neighbours(stack: Any) -> tuple[str, list[str], dict[str, tuple[str, str]]]:
    engine = make_engine(stack.env["DATABASE_URL"])
    with Session(engine) as session:
        top = session.execute(
            select(Song.msd_song_id)
            .join(Play, Play.song_id == Song.id)
            .where(Song.title.is_not(None), Song.artist.is_not(None), Song.msd_song_id.is_not(None))
            .group_by(Song.msd_song_id)
            .order_by(func.sum(Play.count).desc())
            .limit(20)
        ).scalars()
        for seed in top:
            neighbours = [i["song_id"] for i in stack.get("cf_service", f"/similar/{seed}?n=60")["items"]]
            rows = session.execute(
                select(Song.msd_song_id, Song.artist, Song.title).where(
                    Song.msd_song_id.in_([seed, *neighbours]), Song.title.is_not(None), Song.artist.is_not(None)
                )
            ).all()
            names = {str(m): (str(a), str(t)) for m, a, t in rows}
            named = [n for n in neighbours if n in names]
            if seed in names and len(named) >= 12:
                engine.dispose()
                return seed, named[:12], names
    raise AssertionError("no played MSD song with 12 named co-listened songs")


def _song_ids(conn: libsonic.Connection) -> dict[str, dict[str, Any]]:
    found = conn.search3("", artistCount=0, albumCount=0, songCount=500)["searchResult3"].get("song", [])
    return {s["title"]: s for s in found}


def test_apps_browse_stream_scrobble_and_get_fused_mixes(stack: Any, music_folder: Path) -> None:
    helpers = load_test_module("integration/test_library_recs.py")
    schema = load_test_module("subsonic_schema.py")
    seed, neighbours, names = _most_played_with_neighbours(stack)
    folder = music_folder / "phone"
    folder.mkdir()
    for n, msd in enumerate([seed, *neighbours]):
        helpers._recording(folder / f"m{n:02d}.ogg", 500 + n)
        helpers._tag(folder / f"m{n:02d}.ogg", *names[msd], "Listeners' Mix")
    for n in range(3):  # names no MSD song has: these songs are known by their sound only
        helpers._recording(folder / f"t{n}.ogg", 900 + n)
        helpers._tag(folder / f"t{n}.ogg", "Generated Tones", f"Tone study {n}", "Test Tones")
    scan = python_module("gateway", "scan-library", stack.env["MUSIC_DIR"], "--analyse", "wait")
    done = subprocess.run(scan, env=stack.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    web = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    reg = web.post("/api/auth/register", json={"username": "phone-user", "password": "phone-user-password"})
    assert reg.status_code == 201, reg.text
    web.headers["Authorization"] = f"Bearer {reg.json()['token']}"
    made = web.post("/api/me/app-credentials", json={"name": "phone"})
    assert made.status_code == 201, made.text
    app_password = made.json()["secret"]
    port = int(stack.url("gateway", "").rsplit(":", 1)[1])
    conn = libsonic.Connection("http://127.0.0.1", "phone-user", app_password, port=port, appName="pytest")
    assert conn.ping()  # token authentication: py-sonic sends t = md5(password + salt) and s

    deadline = time.monotonic() + 30  # the gateway re-reads the playable catalog every few seconds
    while "Tone study 2" not in (songs := _song_ids(conn)):
        assert time.monotonic() < deadline, sorted(songs)
        time.sleep(1)
    artists = [a["name"] for i in conn.getArtists()["artists"]["index"] for a in i["artist"]]
    assert "Generated Tones" in artists and names[seed][0] in artists
    albums = {a["name"]: a for a in conn.getAlbumList2("alphabeticalByName", size=500)["albumList2"]["album"]}
    tones = conn.getAlbum(albums["Test Tones"]["id"])["album"]["song"]
    assert [s["title"] for s in tones] == ["Tone study 0", "Tone study 1", "Tone study 2"]

    # Stream with a Range request, scrobble, and find the album among the recent ones.
    ranged = libsonic.Connection(
        "http://127.0.0.1",
        "phone-user",
        app_password,
        port=port,
        appName="pytest",
        customHeaders={"Range": "bytes=0-99"},
    )
    stream = ranged.stream(tones[1]["id"])
    assert stream.status == 206 and len(stream.read()) == 100 and stream.headers["X-Transcoding"] == "none"
    assert conn.scrobble(tones[1]["id"])
    recent = conn.getAlbumList2("recent")["albumList2"]["album"]
    assert recent[0]["id"] == albums["Test Tones"]["id"]
    history = web.get("/api/me/history").json()["items"]
    assert [i["song"]["id"] for i in history] == [int(tones[1]["id"])]  # one play, through the web page's path

    # A wrong token is error 40, in JSON and in XML.
    wrong = libsonic.Connection("http://127.0.0.1", "phone-user", "not-the-password", port=port, appName="pytest")
    with pytest.raises(libsonic.errors.CredentialError):
        wrong.ping()
    wrong_xml = XmlConnection("http://127.0.0.1", "phone-user", "not-the-password", port=port, appName="pytest")
    with pytest.raises(libsonic.errors.CredentialError):
        wrong_xml.ping()
    assert ET.fromstring(wrong_xml.last).find(f"{NS}error").attrib["code"] == "40"  # type: ignore[union-attr]
    assert schema.check(wrong_xml.last) == []

    # "Instant mix" of the matched song: the fused list; the web API's reasons for the same seed show both kinds.
    seed_id = songs[names[seed][1]]["id"]
    mix = conn.getSimilarSongs(seed_id, count=10)["similarSongs"]["song"]
    assert len(mix) >= 5 and seed_id not in {s["id"] for s in mix}
    for window in range(max(1, len(mix) - 9)):
        artists_in = [s["artist"] for s in mix[window : window + 10]]
        assert max(artists_in.count(a) for a in artists_in) <= 2, artists_in
    explained = web.get(f"/api/songs/{seed_id}/similar", params={"scope": "library", "n": 50}).json()["items"]
    basis = {str(i["song"]["id"]): i["basis"] for i in explained}
    kinds = {basis[s["id"]] for s in mix if s["id"] in basis}
    assert kinds & {"listeners", "both"} and kinds & {"sound", "both"}, (kinds, mix)

    # A song without an MSD match: its mix and its sonic neighbours come from sound.
    tone_mix = conn.getSimilarSongs(tones[0]["id"], count=10)["similarSongs"]["song"]
    assert tone_mix, "a song with sound neighbours never gets an empty mix"
    sonic = conn._doInfoReq(conn._getRequest("getSonicSimilarTracks.view", {"id": tones[0]["id"], "count": 5}))
    assert sonic["status"] == "ok" and 1 <= len(sonic["sonicMatch"]) <= 5
    assert all(0.0 <= m["similarity"] <= 1.0 and m["entry"]["id"] != tones[0]["id"] for m in sonic["sonicMatch"])
    query = {"startSongId": tones[0]["id"], "endSongId": seed_id, "count": 6}
    path = conn._doInfoReq(conn._getRequest("findSonicPath.view", query))["sonicMatch"]
    ids = [m["entry"]["id"] for m in path]
    assert ids[0] == tones[0]["id"] and ids[-1] == seed_id and len(ids) == len(set(ids)) and 2 <= len(ids) <= 6

    # The same library in XML, each answer in the schema's structure.
    xml = XmlConnection("http://127.0.0.1", "phone-user", app_password, port=port, appName="pytest")
    for call in (
        lambda: xml.getArtists(),
        lambda: xml.getAlbumList2("recent"),
        lambda: xml.getAlbum(albums["Listeners' Mix"]["id"]),
        lambda: xml.search3("", songCount=2, songOffset=2),
        lambda: xml.getSimilarSongs(seed_id, count=10),
        lambda: xml.getTopSongs(names[seed][0]),
        lambda: xml.getArtistInfo2(albums["Test Tones"]["artistId"]),
        lambda: xml.getRandomSongs(size=5),
    ):
        answer = call()
        assert answer["status"] == "ok" and schema.check(xml.last) == [], xml.last[:500]
    paged = xml.search3("", artistCount=0, albumCount=0, songCount=2, songOffset=2)["root"]
    assert len(paged.findall(f"{NS}searchResult3/{NS}song")) == 2

    # Revoked: the app is refused at once.
    assert web.delete(f"/api/me/app-credentials/{made.json()['id']}").status_code == 204
    with pytest.raises(libsonic.errors.CredentialError):
        conn.ping()
