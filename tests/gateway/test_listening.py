"""Plays, ratings, likes and history over HTTP: acknowledged writes are in the database, users are isolated."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.app.settings import Settings
from gateway.db.models import Play, PlayEvent, Rating, SkipEvent
from gateway.db.session import make_engine
from sqlalchemy import select

from .conftest import bearer, register


def db_rows(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        out = {
            "plays": [tuple(r) for r in conn.execute(select(Play.user_id, Play.song_id, Play.count).order_by(Play.id))],
            "events": [tuple(r) for r in conn.execute(select(PlayEvent.user_id, PlayEvent.song_id, PlayEvent.count))],
            "ratings": [tuple(r) for r in conn.execute(select(Rating.user_id, Rating.song_id, Rating.rating))],
        }
    engine.dispose()
    return out


def test_play_is_acknowledged_after_commit(client: TestClient, gw_settings: Settings) -> None:
    token = register(client, "lena")
    me = client.get("/api/me", headers=bearer(token)).json()
    first = client.post("/api/me/plays", json={"song_id": 4}, headers=bearer(token))
    assert first.status_code == 201 and first.json()["count"] == 1 and first.json()["song_id"] == 4
    second = client.post("/api/me/plays", json={"song_id": 4, "count": 3}, headers=bearer(token))
    assert second.status_code == 201 and second.json()["count"] == 4
    assert first.json()["played_at"].endswith("Z")  # UTC, with its offset
    rows = db_rows(gw_settings)
    assert rows["plays"] == [(me["id"], 4, 4)]
    assert sorted(rows["events"]) == [(me["id"], 4, 1), (me["id"], 4, 3)]
    stats = client.get("/api/me", headers=bearer(token)).json()["stats"]
    assert stats["plays"] == 4 and stats["songs_played"] == 1


def test_bad_play_input_changes_nothing(client: TestClient, gw_settings: Settings) -> None:
    token = register(client, "milo")
    before = db_rows(gw_settings)
    for body, field in (
        ({"song_id": 999}, None),
        ({"song_id": 1, "count": 0}, "count"),
        ({"song_id": "x"}, "song_id"),
        ({}, "song_id"),
        ({"song_id": 1, "user_id": 1}, "user_id"),  # the user never comes from the client
    ):
        resp = client.post("/api/me/plays", json=body, headers=bearer(token))
        if field is None:
            assert resp.status_code == 404 and resp.json()["error"]["code"] == "song_not_found"
        else:
            assert resp.status_code == 422 and field in [d["field"] for d in resp.json()["error"]["details"]]
    assert db_rows(gw_settings) == before


def test_concurrent_plays_all_count(client: TestClient, gw_settings: Settings) -> None:
    token = register(client, "nina")

    def play(_: int) -> int:
        return client.post("/api/me/plays", json={"song_id": 6}, headers=bearer(token)).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(play, range(40)))
    assert codes == [201] * 40
    rows = db_rows(gw_settings)
    assert [r[2] for r in rows["plays"]] == [40]
    assert len(rows["events"]) == 40


def test_rating_upsert_delete_and_validation(client: TestClient, gw_settings: Settings) -> None:
    token = register(client, "otto")
    resp = client.put("/api/me/ratings/2", json={"rating": 4}, headers=bearer(token))
    assert resp.status_code == 200 and resp.json()["rating"] == 4
    assert client.put("/api/me/ratings/2", json={"rating": 2}, headers=bearer(token)).json()["rating"] == 2
    before = db_rows(gw_settings)
    assert [r[1:] for r in before["ratings"]] == [(2, 2)]
    for bad in ({"rating": 6}, {"rating": 0}, {"rating": 3.5}, {"rating": "five"}, {}):
        resp = client.put("/api/me/ratings/2", json=bad, headers=bearer(token))
        assert resp.status_code == 422, bad
        error = resp.json()["error"]
        assert error["details"][0]["field"] == "rating" and "rating" in error["message"]
    assert client.put("/api/me/ratings/4242", json={"rating": 3}, headers=bearer(token)).status_code == 404
    assert db_rows(gw_settings) == before
    assert client.delete("/api/me/ratings/2", headers=bearer(token)).status_code == 204
    assert client.delete("/api/me/ratings/2", headers=bearer(token)).status_code == 204  # idempotent
    assert db_rows(gw_settings)["ratings"] == []


def test_feedback_like_dislike(client: TestClient) -> None:
    token = register(client, "pia")
    assert client.put("/api/me/feedback/3", json={"kind": "like"}, headers=bearer(token)).json()["kind"] == "like"
    assert client.put("/api/me/feedback/3", json={"kind": "dislike"}, headers=bearer(token)).status_code == 200
    resp = client.put("/api/me/feedback/3", json={"kind": "love"}, headers=bearer(token))
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "kind"
    history = client.get("/api/me/history", params={"kind": "feedback"}, headers=bearer(token)).json()
    assert [(i["song"]["id"], i["kind"]) for i in history["items"]] == [(3, "dislike")]
    assert client.delete("/api/me/feedback/3", headers=bearer(token)).status_code == 204
    assert client.get("/api/me", headers=bearer(token)).json()["stats"]["dislikes"] == 0


def test_history_most_recent_first_with_songs(client: TestClient) -> None:
    token = register(client, "quin")
    for song_id in (1, 2, 3, 1):
        client.post("/api/me/plays", json={"song_id": song_id}, headers=bearer(token))
    body = client.get("/api/me/history", params={"per_page": 2}, headers=bearer(token)).json()
    assert body["kind"] == "plays" and body["total"] == 3
    assert [(i["song"]["title"], i["count"]) for i in body["items"]] == [("Creep", 2), ("Karma Police", 1)]
    page2 = client.get("/api/me/history", params={"per_page": 2, "page": 2}, headers=bearer(token)).json()
    assert [i["song"]["title"] for i in page2["items"]] == ["Creep (Live)"]
    client.put("/api/me/ratings/5", json={"rating": 5}, headers=bearer(token))
    ratings = client.get("/api/me/history", params={"kind": "ratings"}, headers=bearer(token)).json()
    assert [(i["song"]["title"], i["rating"]) for i in ratings["items"]] == [("Hey Jude", 5)]
    resp = client.get("/api/me/history", params={"kind": "friends"}, headers=bearer(token))
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "kind"


def test_user_a_never_touches_user_b(client: TestClient, gw_settings: Settings) -> None:
    a, b = register(client, "anna"), register(client, "bert")
    client.post("/api/me/plays", json={"song_id": 1, "count": 2}, headers=bearer(b))
    client.put("/api/me/ratings/1", json={"rating": 5}, headers=bearer(b))
    client.put("/api/me/feedback/1", json={"kind": "like"}, headers=bearer(b))
    b_before = {
        k: client.get("/api/me/history", params={"kind": k}, headers=bearer(b)).json()
        for k in ("plays", "ratings", "feedback")
    }

    # A writes to the same songs, tries to smuggle a user id, deletes "B's" rating: only A's data changes.
    client.post("/api/me/plays", json={"song_id": 1, "count": 7}, headers=bearer(a))
    assert client.post("/api/me/plays?user_id=2", json={"song_id": 1}, headers=bearer(a)).status_code == 201
    client.put("/api/me/ratings/1", json={"rating": 1}, headers=bearer(a))
    client.delete("/api/me/ratings/1", headers=bearer(a))
    client.put("/api/me/feedback/1", json={"kind": "dislike"}, headers=bearer(a))
    client.delete("/api/me/feedback/1", headers=bearer(a))

    for kind, before in b_before.items():
        assert client.get("/api/me/history", params={"kind": kind}, headers=bearer(b)).json() == before
    a_plays = client.get("/api/me/history", headers=bearer(a)).json()
    assert [(i["song"]["id"], i["count"]) for i in a_plays["items"]] == [(1, 8)]
    assert client.get("/api/me/history", params={"kind": "ratings"}, headers=bearer(a)).json()["total"] == 0
    me_b = client.get("/api/me", headers=bearer(b)).json()
    assert me_b["username"] == "bert" and me_b["stats"]["plays"] == 2 and me_b["stats"]["ratings"] == 1
    # No route takes a user id: the OpenAPI schema has none under /api/me or /api/songs.
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/api/me") and "user" in p]
    # /1/ is the ListenBrainz-compatible API (players append it to the server URL); it takes tokens, not ids.
    assert all(p.startswith(("/api", "/health", "/metrics", "/1/")) for p in paths)


def test_an_early_skip_is_kept_as_a_skip_not_a_play(client: TestClient, gw_settings: Settings, tmp_path: Path) -> None:
    from gateway.db.export import export_plays

    token = register(client, "skipper")
    me = client.get("/api/me", headers=bearer(token)).json()
    played = client.post(
        "/api/me/plays", json={"song_id": 2, "ended": True, "played_ms": 201_000}, headers=bearer(token)
    )
    assert played.status_code == 201 and played.json()["recorded"] == "play" and played.json()["count"] == 1
    late = client.post(
        "/api/me/plays", json={"song_id": 3, "skipped": True, "played_ms": 95_000}, headers=bearer(token)
    )
    assert late.json()["recorded"] == "play"  # left after 30 s: listened to, a play
    early = client.post(
        "/api/me/plays", json={"song_id": 4, "skipped": True, "played_ms": 3_000}, headers=bearer(token)
    )
    assert early.status_code == 201 and early.json() | {"played_at": None} == {
        "song_id": 4,
        "count": 0,
        "played_at": None,
        "recorded": "skip",
    }
    bad = client.post("/api/me/plays", json={"song_id": 4, "skipped": True, "ended": True}, headers=bearer(token))
    assert bad.status_code == 422
    rows = db_rows(gw_settings)
    assert sorted(r for r in rows["plays"] if r[0] == me["id"]) == [(me["id"], 2, 1), (me["id"], 3, 1)]
    assert database_url(gw_settings)
    engine = make_engine(database_url(gw_settings))
    with engine.connect() as conn:
        skips = [tuple(r) for r in conn.execute(select(SkipEvent.user_id, SkipEvent.song_id, SkipEvent.played_ms))]
        lengths = sorted(r[0] for r in conn.execute(select(PlayEvent.played_ms).where(PlayEvent.user_id == me["id"])))
    assert skips == [(me["id"], 4, 3_000)] and lengths == [95_000, 201_000]
    # What training reads: the plays; the skip is no positive count.
    out = tmp_path / "plays.tsv"
    export_plays(engine, out)
    engine.dispose()
    mine = [line.split("\t") for line in out.read_text().splitlines() if line.startswith(f"gw-user:{me['id']}\t")]
    assert sorted((song, count.strip()) for _, song, count in mine) == [("gw:2", "1"), ("gw:3", "1")]


def test_the_listeners_active_lately_are_exported_for_precompute(
    client: TestClient, gw_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.__main__ import main as gateway_main
    from gateway.app.settings import get_settings
    from gateway.db.export import active_listeners
    from gateway.db.models import User

    token = register(client, "lately")
    me = client.get("/api/me", headers=bearer(token)).json()
    engine = make_engine(database_url(gw_settings))
    with engine.begin() as conn:  # an MSD listener with imported plays who never signed in
        conn.execute(User.__table__.insert().values(username="dormant", password_hash="x", msd_user_id="msd-dormant"))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    active = active_listeners(engine, 30, now)
    assert f"gw-user:{me['id']}" in active and "msd-dormant" not in active
    assert f"gw-user:{me['id']}" not in active_listeners(engine, 30, now + dt.timedelta(days=31))  # out of the window
    later = now + dt.timedelta(days=40)
    assert client.post("/api/me/plays", json={"song_id": 2}, headers=bearer(token)).status_code == 201
    assert active_listeners(engine, 30, later) == []  # a play is an event of today, not of 40 days on
    engine.dispose()
    out = tmp_path / "active.txt"
    monkeypatch.setenv("DATABASE_URL", database_url(gw_settings))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        assert gateway_main(["export-active", "--days", "7", "--out", str(out)]) == 0
        lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
        assert f"gw-user:{me['id']}" in lines and "msd-dormant" not in lines
        assert gateway_main(["export-active", "--days", "0", "--out", str(out)]) == 2
    finally:
        get_settings.cache_clear()  # other tests read their own settings


def database_url(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url
