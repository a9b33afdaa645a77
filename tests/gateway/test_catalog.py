"""Catalog: search, song detail, charts, audio streaming with ranges, security headers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.app.middleware import CSP
from gateway.app.settings import Settings
from gateway.db.models import Song
from gateway.db.session import make_engine
from sqlalchemy import update

from .conftest import REPO_FIXTURES, add_songs, bearer, register

OGG = REPO_FIXTURES / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def titles(resp_json: dict[str, object]) -> list[str]:
    return [item["title"] for item in resp_json["items"]]  # type: ignore[attr-defined, index]


def test_search_tolerates_typos_and_case(client: TestClient) -> None:
    for query in ("radiohed", "RADIOHEAD", "Radio head"[:5]):
        body = client.get("/api/songs/search", params={"q": query}).json()
        assert {"Creep", "Karma Police"} <= set(titles(body)), query
    body = client.get("/api/songs/search", params={"q": "beetles"}).json()
    assert set(titles(body)) == {"Yesterday", "Hey Jude"}
    body = client.get("/api/songs/search", params={"q": "beetles yesterdy"}).json()
    assert titles(body) == ["Yesterday"]
    body = client.get("/api/songs/search", params={"q": "incompetech"}).json()  # collection
    assert titles(body) == ["Vibe Ace"]
    body = client.get("/api/songs/search", params={"q": "oldies"}).json()  # tags
    assert titles(body) == ["Yesterday"]


def test_search_ranks_exact_title_first(client: TestClient) -> None:
    body = client.get("/api/songs/search", params={"q": "creep"}).json()
    assert titles(body)[0] == "Creep"
    assert set(titles(body)[1:3]) == {"Creep (Live)", "Creeping Death"}
    assert body["items"][0]["artist"] == "Radiohead"
    assert body["items"][0]["score"] == 1.0


def test_search_paginates_with_total(client: TestClient) -> None:
    seen: list[str] = []
    for page in (1, 2):
        body = client.get("/api/songs/search", params={"q": "radiohead", "per_page": 2, "page": page}).json()
        assert body["total"] == 3 and body["page"] == page and body["per_page"] == 2
        seen += titles(body)
    assert sorted(seen) == ["Creep", "Creep (Live)", "Karma Police"]
    body = client.get("/api/songs/search", params={"q": "radiohead", "per_page": 2, "page": 3}).json()
    assert body["total"] == 3 and body["items"] == []


def test_search_source_filter_and_bad_input(client: TestClient) -> None:
    body = client.get("/api/songs/search", params={"q": "kevin", "source": "catalog"}).json()
    assert titles(body) == ["Vibe Ace"]
    assert client.get("/api/songs/search", params={"q": "kevin", "source": "upload"}).json()["total"] == 0
    resp = client.get("/api/songs/search", params={"q": "x", "source": "nope"})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "source"
    resp = client.get("/api/songs/search")
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "q"
    resp = client.get("/api/songs/search", params={"q": "creep", "per_page": 1000})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "per_page"
    assert client.get("/api/songs/search", params={"q": "zzqqxx"}).json() == {
        "query": "zzqqxx",
        "page": 1,
        "per_page": 20,
        "total": 0,
        "items": [],
    }


def test_search_index_refreshes_when_songs_are_added(client: TestClient, gw_settings: Settings) -> None:
    assert client.get("/api/songs/search", params={"q": "wonderwall"}).json()["total"] == 0
    assert gw_settings.database_url is not None
    add_songs(gw_settings.database_url, [{"title": "Wonderwall", "artist": "Oasis"}])
    client.app.state.app.search.invalidate()  # type: ignore[attr-defined]
    assert titles(client.get("/api/songs/search", params={"q": "wonderwal"}).json()) == ["Wonderwall"]


def test_song_detail_and_404(client: TestClient) -> None:
    resp = client.get("/api/songs/1")
    assert resp.status_code == 200
    body = resp.json()
    assert body["title"] == "Creep" and body["tags"] == ["alternative", "rock"]
    assert body["has_audio"] is False and body["audio_url"] is None and body["me"] is None
    assert body["stats"]["plays"] == 0 and body["stats"]["rating_avg"] is None
    resp = client.get("/api/songs/999999")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "song_not_found"
    assert client.get("/api/songs/abc").status_code == 422


def test_song_detail_shows_stats_and_my_state(client: TestClient) -> None:
    a, b = register(client, "amy"), register(client, "ben")
    client.post("/api/me/plays", json={"song_id": 3, "count": 4}, headers=bearer(a))
    client.post("/api/me/plays", json={"song_id": 3}, headers=bearer(b))
    client.put("/api/me/ratings/3", json={"rating": 4}, headers=bearer(a))
    client.put("/api/me/ratings/3", json={"rating": 1}, headers=bearer(b))
    client.put("/api/me/feedback/3", json={"kind": "like"}, headers=bearer(a))
    body = client.get("/api/songs/3", headers=bearer(a)).json()
    assert body["stats"] | {"recent_days": 7} == {
        "plays": 5,
        "plays_recent": 5,
        "recent_days": 7,
        "listeners": 2,
        "rating_avg": 2.5,
        "rating_count": 2,
        "likes": 1,
        "dislikes": 0,
    }
    assert body["me"]["plays"] == 4 and body["me"]["rating"] == 4 and body["me"]["feedback"] == "like"


def test_charts_all_time_and_recent(client: TestClient, gw_settings: Settings) -> None:
    import datetime as dt

    from gateway.db.models import Play, PlayEvent

    token = register(client, "cara")
    client.post("/api/me/plays", json={"song_id": 5, "count": 3}, headers=bearer(token))
    client.post("/api/me/plays", json={"song_id": 4}, headers=bearer(token))
    assert gw_settings.database_url is not None
    engine = make_engine(gw_settings.database_url)
    with engine.begin() as conn:  # an imported listener with lots of plays (no time) and an old event
        uid = conn.execute(Play.__table__.select().limit(1)).first().user_id  # type: ignore[union-attr]
        conn.execute(Play.__table__.insert(), [{"user_id": uid, "song_id": 9, "count": 50}])
        conn.execute(
            PlayEvent.__table__.insert(),
            [{"user_id": uid, "song_id": 9, "count": 50, "played_at": dt.datetime(2001, 1, 1)}],
        )
    engine.dispose()
    all_time = client.get("/api/charts", params={"window": "all", "n": 2}).json()
    assert all_time["window"] == "all"
    assert [(i["rank"], i["song"]["id"], i["plays"]) for i in all_time["items"]] == [(1, 9, 50), (2, 5, 3)]
    recent = client.get("/api/charts", params={"window": "7d"}).json()
    assert [(i["song"]["title"], i["plays"]) for i in recent["items"]] == [("Hey Jude", 3), ("Yesterday", 1)]
    resp = client.get("/api/charts", params={"window": "week"})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "window"


# --- audio -------------------------------------------------------------------


@pytest.fixture
def audio_song(gw_settings: Settings) -> tuple[int, bytes]:
    """Song 7 gets a real OGG file under VAR_DIR."""
    target = gw_settings.var_dir / "audio" / "vibe_ace.ogg"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(OGG, target)
    set_audio_path(gw_settings, 7, "audio/vibe_ace.ogg")
    return 7, target.read_bytes()


def set_audio_path(settings: Settings, song_id: int, path: str | None) -> None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(update(Song).where(Song.id == song_id).values(audio_path=path))
    engine.dispose()


def test_audio_full_and_ranges(client: TestClient, audio_song: tuple[int, bytes]) -> None:
    song_id, data = audio_song
    size = len(data)
    detail = client.get(f"/api/songs/{song_id}").json()
    assert detail["has_audio"] is True and detail["audio_url"] == f"/api/songs/{song_id}/audio"

    full = client.get(f"/api/songs/{song_id}/audio")
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "audio/ogg"
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-length"] == str(size)

    part = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == data[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{size}" and part.headers["content-length"] == "100"
    assert part.headers["content-type"] == "audio/ogg"

    tail = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"

    rest = client.get(f"/api/songs/{song_id}/audio", headers={"Range": f"bytes={size - 10}-"})
    assert rest.status_code == 206 and rest.content == data[-10:]
    clipped = client.get(f"/api/songs/{song_id}/audio", headers={"Range": f"bytes={size - 5}-{size + 100}"})
    assert clipped.status_code == 206 and clipped.content == data[-5:]

    beyond = client.get(f"/api/songs/{song_id}/audio", headers={"Range": f"bytes={size}-{size + 10}"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"

    stale = client.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == data


def test_audio_missing_is_404_no_audio(client: TestClient, gw_settings: Settings) -> None:
    resp = client.get("/api/songs/1/audio")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "no_audio"
    set_audio_path(gw_settings, 1, "audio/does-not-exist.ogg")
    assert client.get("/api/songs/1/audio").json()["error"]["code"] == "no_audio"
    assert client.get("/api/songs/424242/audio").json()["error"]["code"] == "song_not_found"


def test_audio_paths_outside_var_and_data_are_refused(
    client: TestClient, gw_settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "secret.ogg"
    secret.parent.mkdir()
    secret.write_bytes(b"OggS top secret")
    gw_settings.var_dir.mkdir(parents=True, exist_ok=True)
    (gw_settings.var_dir / "link.ogg").symlink_to(secret)
    for attempt in (
        "../outside/secret.ogg",
        "../../../../../../etc/passwd",
        "/etc/passwd",
        str(secret),
        "link.ogg",
        "audio/\x00.ogg",
    ):
        set_audio_path(gw_settings, 2, attempt)
        resp = client.get("/api/songs/2/audio")
        assert resp.status_code == 404, attempt
        assert resp.json()["error"]["code"] == "no_audio"
        assert b"secret" not in resp.content and b"root:" not in resp.content
    # An absolute path under DATA_DIR is allowed (the shipped fixtures).
    set_audio_path(gw_settings, 2, str(OGG))
    assert client.get("/api/songs/2/audio", headers={"Range": "bytes=0-3"}).content == b"OggS"


def test_security_headers_on_every_response(client: TestClient, audio_song: tuple[int, bytes]) -> None:
    for path in ("/api/health", "/api/songs/1", "/api/songs/999", "/api/me", f"/api/songs/{audio_song[0]}/audio", "/"):
        resp = client.get(path)
        assert resp.headers["content-security-policy"] == CSP, path
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "access-control-allow-origin" not in resp.headers
    assert "frame-ancestors 'none'" in CSP and "default-src 'self'" in CSP
    docs = client.get("/docs")
    assert docs.status_code == 200 and "http" not in docs.headers["content-security-policy"]
    # Swagger UI comes from this server (no network at run time), and its assets are really served.
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and not [a for a in assets if "://" in a], assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and "://cdn" not in redoc.text


def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    from gateway.app.main import create_app

    from .conftest import make_settings

    settings = make_settings(tmp_path, cors_origins="https://app.example.org")
    with TestClient(create_app(settings)) as client:
        ok = client.options(
            "/api/me/plays",
            headers={"Origin": "https://app.example.org", "Access-Control-Request-Method": "POST"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://app.example.org"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert ok.headers["content-security-policy"] == CSP
        evil = client.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers


def test_unhandled_error_is_json_500_with_headers(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.db import catalog

    def boom(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "get_song", boom)
    resp = client.get("/api/songs/1")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal_error", "message": "internal error", "details": None}}
    assert resp.headers["x-content-type-options"] == "nosniff"
