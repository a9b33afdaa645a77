"""The API side of song metadata: the "metadata uncertain" flag, untitled songs, the admin's correction."""

from __future__ import annotations

from fastapi.testclient import TestClient
from gateway.app.settings import Settings
from gateway.db.models import Song, User
from gateway.db.session import make_engine
from sqlalchemy import insert, select, update

from .conftest import bearer, register


def _admin(client: TestClient, settings: Settings) -> str:
    token = register(client, "meta_admin")
    engine = make_engine(settings.database_url)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == "meta_admin").values(is_admin=True))
    engine.dispose()
    return token


def _add(settings: Settings, **values: object) -> int:
    engine = make_engine(settings.database_url)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(insert(Song).values({"source": "msd"} | values))
        ident = conn.execute(select(Song.id).where(Song.msd_song_id == values["msd_song_id"])).scalar_one()
    engine.dispose()
    return int(ident)


def test_doubtful_song_keeps_its_name_and_carries_the_flag(client: TestClient, gw_settings: Settings) -> None:
    note = "The Million Song Dataset lists this song's track match as wrong."
    sid = _add(
        gw_settings,
        msd_song_id="SODOUBT",
        title="Maybe This",
        artist="Someone",
        metadata_uncertain=True,
        metadata_note=note,
    )
    body = client.get(f"/api/songs/{sid}").json()
    assert (body["title"], body["artist"], body["metadata_uncertain"], body["metadata_note"]) == (
        "Maybe This",
        "Someone",
        True,
        note,
    )
    client.app.state.app.search.invalidate()  # type: ignore[attr-defined]
    search = client.get("/api/songs/search", params={"q": "maybe this"}).json()
    assert [(i["title"], i["metadata_uncertain"]) for i in search["items"]][:1] == [("Maybe This", True)]
    plain = client.get("/api/songs/1").json()
    assert plain["metadata_uncertain"] is False and plain["metadata_note"] is None


def test_admin_corrects_a_song_and_bad_edits_change_nothing(client: TestClient, gw_settings: Settings) -> None:
    sid = _add(gw_settings, msd_song_id="SOUNTITLED")
    untitled = client.get(f"/api/songs/{sid}").json()
    assert untitled["title"] is None and untitled["msd_song_id"] == "SOUNTITLED"
    user = register(client, "plain_user")
    admin = _admin(client, gw_settings)
    assert client.patch(f"/api/admin/songs/{sid}", json={"title": "T"}, headers=bearer(user)).status_code == 403
    for bad in ({}, {"title": "   "}, {"year": 12}, {"msd_song_id": "X"}, {"title": "x" * 600}):
        resp = client.patch(f"/api/admin/songs/{sid}", json=bad, headers=bearer(admin))
        assert resp.status_code == 422, (bad, resp.text)
    assert client.patch("/api/admin/songs/999999", json={"title": "T"}, headers=bearer(admin)).status_code == 404
    assert client.get(f"/api/songs/{sid}").json()["title"] is None  # nothing changed so far

    resp = client.patch(f"/api/admin/songs/{sid}", json={"title": " Found It ", "year": 1999}, headers=bearer(admin))
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "Found It" and resp.json()["edited_fields"] == ["title", "year"]
    assert client.get(f"/api/songs/{sid}").json()["year"] == 1999
    # The search index notices the rename.
    found = client.get("/api/songs/search", params={"q": "found it"}).json()["items"]
    assert [i["id"] for i in found][:1] == [sid]
