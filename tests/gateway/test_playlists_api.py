"""Playlists over the JSON API: save, reorder, rename, share, delete; M3U and JSPF out, JSPF in."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from gateway.core.playlist_formats import EXTENSION

from .conftest import bearer, register


def ids_of(client: TestClient, token: str, *titles: str) -> list[int]:
    out = []
    for title in titles:
        items = client.get("/api/songs/search", params={"q": title}, headers=bearer(token)).json()["items"]
        out.append(next(i["id"] for i in items if i["title"] == title))
    return out


def test_save_reorder_rename_share_and_delete(client: TestClient) -> None:
    me, other = register(client, "pia"), register(client, "olaf")
    creep, karma, jude = ids_of(client, me, "Creep", "Karma Police", "Hey Jude")
    made = client.post(
        "/api/me/playlists", json={"name": " Road  trip ", "song_ids": [creep, karma, jude]}, headers=bearer(me)
    )
    assert made.status_code == 201, made.text
    pl = made.json()
    assert pl["name"] == "Road trip" and [s["id"] for s in pl["songs"]] == [creep, karma, jude] and pl["mine"]
    moved = client.patch(
        f"/api/me/playlists/{pl['id']}", json={"song_ids": [jude, creep], "name": "Trip"}, headers=bearer(me)
    ).json()
    assert moved["name"] == "Trip" and [s["id"] for s in moved["songs"]] == [jude, creep]
    listed = client.get("/api/me/playlists", headers=bearer(me)).json()["playlists"]
    assert [(p["name"], p["songs"]) for p in listed] == [("Trip", 2)]
    # Private: another listener neither sees nor changes it; shared, they see it but still cannot change it.
    assert client.get(f"/api/me/playlists/{pl['id']}", headers=bearer(other)).status_code == 404
    assert client.get("/api/me/playlists", headers=bearer(other)).json()["playlists"] == []
    client.patch(f"/api/me/playlists/{pl['id']}", json={"public": True}, headers=bearer(me))
    assert client.get(f"/api/me/playlists/{pl['id']}", headers=bearer(other)).json()["mine"] is False
    assert client.patch(f"/api/me/playlists/{pl['id']}", json={"name": "x"}, headers=bearer(other)).status_code == 403
    assert client.delete(f"/api/me/playlists/{pl['id']}", headers=bearer(other)).status_code == 403
    # Bad input changes nothing.
    assert client.post("/api/me/playlists", json={"name": "", "song_ids": []}, headers=bearer(me)).status_code == 422
    bad = client.patch(f"/api/me/playlists/{pl['id']}", json={"song_ids": [jude, 999_999]}, headers=bearer(me))
    assert bad.status_code == 404
    assert [s["id"] for s in client.get(f"/api/me/playlists/{pl['id']}", headers=bearer(me)).json()["songs"]] == [
        jude,
        creep,
    ]
    assert client.delete(f"/api/me/playlists/{pl['id']}", headers=bearer(me)).status_code == 204
    assert client.get(f"/api/me/playlists/{pl['id']}", headers=bearer(me)).status_code == 404


def test_export_m3u_and_jspf_and_import_jspf(client: TestClient) -> None:
    me = register(client, "ezra")
    creep, yesterday, zombie = ids_of(client, me, "Creep", "Yesterday", "Zombie")
    pl = client.post(
        "/api/me/playlists", json={"name": "Mix/1", "song_ids": [creep, yesterday, zombie]}, headers=bearer(me)
    ).json()
    m3u = client.get(f"/api/me/playlists/{pl['id']}/export", params={"format": "m3u"}, headers=bearer(me))
    assert m3u.status_code == 200 and m3u.headers["content-type"].startswith("audio/x-mpegurl")
    assert 'filename="Mix_1.m3u"' in m3u.headers["content-disposition"]
    lines = m3u.text.splitlines()
    assert (
        lines[0] == "#EXTM3U"
        and "#EXTINF:-1,Radiohead - Creep" in lines
        and "#EXTINF:-1,The Beatles - Yesterday" in lines
    )
    jspf = client.get(f"/api/me/playlists/{pl['id']}/export", params={"format": "jspf"}, headers=bearer(me))
    doc = jspf.json()
    tracks = doc["playlist"]["track"]
    assert doc["playlist"]["title"] == "Mix/1" and doc["playlist"]["creator"] == "ezra"
    assert [(t["creator"], t["title"]) for t in tracks] == [
        ("Radiohead", "Creep"),
        ("The Beatles", "Yesterday"),
        ("The Cranberries", "Zombie"),
    ]
    assert tracks[0]["extension"][EXTENSION]["song_id"] == creep
    # Round trip: the exported file comes back as the same songs in the same order.
    back = client.post(
        "/api/me/playlists/import", files={"file": ("mix.jspf", jspf.content, "application/json")}, headers=bearer(me)
    )
    assert back.status_code == 201, back.text
    body = back.json()
    assert body["matched"] == 3 and body["unmatched"] == []
    assert [s["id"] for s in body["playlist"]["songs"]] == [creep, yesterday, zombie]
    # A file from elsewhere: creator and title only, one track this catalog does not hold.
    foreign = {
        "playlist": {
            "title": "From ListenBrainz",
            "track": [
                {"creator": "The Beatles", "title": "Hey Jude"},
                {"creator": "Nobody Here", "title": "Unheard Song"},
                {"creator": "radiohead", "title": "karma police"},
            ],
        }
    }
    got = client.post(
        "/api/me/playlists/import",
        files={"file": ("lb.jspf", json.dumps(foreign).encode(), "application/json")},
        headers=bearer(me),
    ).json()
    assert [s["title"] for s in got["playlist"]["songs"]] == ["Hey Jude", "Karma Police"]
    assert got["unmatched"] == [{"position": 1, "title": "Unheard Song", "creator": "Nobody Here"}]
    before = len(client.get("/api/me/playlists", headers=bearer(me)).json()["playlists"])
    for bad in (b"not json", b'{"tracks": []}', b'{"playlist": {"track": [1]}}'):
        resp = client.post(
            "/api/me/playlists/import", files={"file": ("x.jspf", bad, "application/json")}, headers=bearer(me)
        )
        assert resp.status_code == 422, bad
    assert len(client.get("/api/me/playlists", headers=bearer(me)).json()["playlists"]) == before
