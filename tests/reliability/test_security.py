"""Security checks of the gateway (issue 8, item 5).

- An authorisation matrix: every route of the app (enumerated from ``app.routes``, so a new route fails
  here until it is classified) x anonymous, a forged token, user A, user B and an admin, with the token as
  a bearer header and as the cookie.
- Sessions: the TTL setting, expiry and logout, with the real Redis session cache in the way.
- Login rate limiting, including that a success on one's own account does not reset the address's count.
- Security headers on every kind of response; a CSP the frontend passes (static check of frontend/, and
  in a real Chromium against the real stack); CORS only for the configured origin.
- Production mode refuses default secrets (settings and the real process).
- SQL only through bound parameters (a check of the services' source), and injection attempts.

The in-process app uses a real redis-server of its own (so the Redis session cache is exercised) and a
SQLite database with the gateway tests' songs; cf_service and audio_service are down.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from gateway.app.deps import SESSION_COOKIE, db_session
from gateway.app.main import create_app
from gateway.app.openapi import api_routes
from gateway.app.settings import Settings
from gateway.db import accounts
from gateway.db.models import Song, User
from gateway.db.session import make_engine, make_sessionmaker
from musicrec_common.settings import INSECURE_DEFAULTS
from musicrec_tools.procs import ManagedProcess, free_port, python_module, start_redis
from pydantic import ValidationError
from sqlalchemy import func, select

from ..conftest import load_test_module
from .conftest import REPO

gw = load_test_module("gateway/conftest.py")  # make_settings, add_songs, SONGS: the gateway tests' fixtures
FRONTEND = REPO / "frontend"
PASSWORD = "correct-horse-7"

# Who may call each route: public (anyone), user (a live session), admin (a session with the admin flag).
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/health"): "public",
    ("GET", "/api/health"): "public",
    ("GET", "/metrics"): "public",
    ("POST", "/api/auth/register"): "public",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/logout"): "public",
    ("GET", "/api/me"): "user",
    ("DELETE", "/api/me"): "user",
    ("POST", "/api/me/password"): "user",
    ("GET", "/api/songs/search"): "public",
    ("GET", "/api/songs/{song_id}"): "public",
    ("GET", "/api/songs/{song_id}/audio"): "public",
    ("GET", "/api/charts"): "public",
    ("POST", "/api/me/plays"): "user",
    ("POST", "/api/me/imports"): "user",
    ("GET", "/api/me/scrobble-tokens"): "user",
    ("POST", "/api/me/scrobble-tokens"): "user",
    ("DELETE", "/api/me/scrobble-tokens/{token_id}"): "user",
    ("GET", "/api/me/app-credentials"): "user",
    ("POST", "/api/me/app-credentials"): "user",
    ("DELETE", "/api/me/app-credentials/{credential_id}"): "user",
    # The ListenBrainz API takes its own scrobble tokens, never a login session.
    ("GET", "/1/validate-token"): "scrobble-token",
    ("POST", "/1/submit-listens"): "scrobble-token",
    ("PUT", "/api/me/ratings/{song_id}"): "user",
    ("DELETE", "/api/me/ratings/{song_id}"): "user",
    ("PUT", "/api/me/feedback/{song_id}"): "user",
    ("GET", "/api/me/exclusions"): "user",
    ("GET", "/api/me/playlists"): "user",
    ("POST", "/api/me/playlists"): "user",
    ("GET", "/api/me/playlists/{playlist_id}"): "user",
    ("PATCH", "/api/me/playlists/{playlist_id}"): "user",
    ("DELETE", "/api/me/playlists/{playlist_id}"): "user",
    ("GET", "/api/me/playlists/{playlist_id}/export"): "user",
    ("POST", "/api/me/playlists/import"): "user",
    ("GET", "/api/me/mixes/daily"): "user",
    ("GET", "/api/me/mixes/rediscover"): "user",
    ("PUT", "/api/me/exclusions"): "user",
    ("POST", "/api/me/exclusions"): "user",
    ("DELETE", "/api/me/feedback/{song_id}"): "user",
    ("GET", "/api/me/history"): "user",
    ("GET", "/api/admin/users"): "admin",
    ("PATCH", "/api/admin/songs/{song_id}"): "admin",
    ("GET", "/api/me/recommendations"): "user",
    ("GET", "/api/songs/{song_id}/similar"): "public",
    ("GET", "/api/songs/{song_id}/radio"): "public",
    ("GET", "/api/songs/{song_id}/path/{end_id}"): "public",
    ("GET", "/api/radio"): "public",
    ("GET", "/api/tags"): "public",
    ("POST", "/api/audio/query"): "public",
    ("POST", "/api/audio/compare"): "public",
    ("POST", "/api/audio/hum"): "public",
    ("GET", "/api/songs/{song_id}/versions"): "public",
    ("GET", "/api/catalog/map"): "public",
    ("GET", "/api/library"): "public",
    ("GET", "/api/library/albums"): "public",
    ("GET", "/api/songs/{song_id}/cover"): "public",
    ("GET", "/api/admin/library/matches"): "admin",
    # There is no music folder here: an admin's decision names no file (404), anyone else is refused first.
    ("POST", "/api/admin/library/matches/{file_id}"): "admin-404",
    # The Subsonic API authenticates each request itself (u + p, ...): protocol errors, always HTTP 200.
    ("GET", "/rest/{name}"): "subsonic",
    ("POST", "/rest/{name}"): "subsonic",
    # The API documentation pages (API routes outside the schema when served by fastapi-offline).
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
}
#: Entries that are plain Starlette routes (not API routes) in some set-ups: they may be absent.
OPTIONAL = {("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    proc.stop()


@pytest.fixture
def make_app(tmp_path: Path, redis_url: str, cheap_hashing: Any) -> Iterator[Callable[..., TestClient]]:
    """A started app (TestClient) with real Redis, dead services and the gateway tests' songs."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        redis.Redis.from_url(redis_url).flushdb()  # nothing cached by another test's app (same user ids)
        folder = tmp_path / f"app{len(clients)}"
        folder.mkdir()
        settings = gw.make_settings(folder, **({"redis_url": redis_url} | overrides))
        gw.add_songs(settings.database_url, gw.SONGS)
        client = TestClient(create_app(settings)).__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def from_address(client: TestClient, host: str) -> TestClient:
    """A client of the same running app from another address, on the app's event loop (its Redis
    connections belong to that loop, as in a real process)."""
    other = TestClient(client.app, client=(host, 40000))
    other.portal = client.portal
    return other


def disposable_account(client: TestClient, *, admin: bool) -> str:
    name = f"d_{uuid.uuid4().hex[:10]}"
    register(client, name)
    if admin:
        make_admin(client, name)
    return name


def register(client: TestClient, name: str) -> str:
    resp = client.post("/api/auth/register", json={"username": name, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    client.cookies.clear()
    return str(resp.json()["token"])


def settings_of(client: TestClient) -> Settings:
    return client.app.state.app.settings  # type: ignore[attr-defined,no-any-return]


def new_session(client: TestClient, username: str) -> str:
    """A fresh login session straight in the database (no password hashing, no rate limit)."""
    sessions = make_sessionmaker(make_engine(settings_of(client).effective_database_url))
    with sessions() as db:
        user = accounts.find_user(db, username)
        assert user is not None
        return accounts.start_session(db, user.id, dt.timedelta(hours=1)).token


def make_admin(client: TestClient, username: str) -> None:
    engine = make_engine(settings_of(client).effective_database_url)
    with engine.begin() as conn:
        conn.execute(User.__table__.update().where(User.username == username).values(is_admin=True))
    engine.dispose()


# --- authorisation ----------------------------------------------------------------------------


def request_for(method: str, path: str, login_as: str) -> dict[str, Any]:
    """A valid request for the route: only who asks changes between identities."""
    url = (
        path.replace("{song_id}", "1")
        .replace("{end_id}", "2")
        .replace("{playlist_id}", "1")
        .replace("{token_id}", "1")
        .replace("{file_id}", "1")
        .replace("{name}", "ping")
    )
    kwargs: dict[str, Any] = {}
    if path == "/api/auth/register":
        kwargs["json"] = {"username": f"m_{uuid.uuid4().hex[:10]}", "password": PASSWORD}
    elif path == "/api/auth/login":
        kwargs["json"] = {"username": login_as, "password": PASSWORD}
    elif path == "/api/me/plays":
        kwargs["json"] = {"song_id": 1}
    elif path == "/api/me/password":
        kwargs["json"] = {"current_password": PASSWORD, "new_password": PASSWORD}  # valid, and changes nothing
    elif path == "/api/me" and method == "DELETE":
        kwargs["json"] = {"password": PASSWORD}
    elif path.startswith("/api/me/ratings") and method == "PUT":
        kwargs["json"] = {"rating": 4}
    elif path.startswith("/api/me/feedback") and method == "PUT":
        kwargs["json"] = {"kind": "like"}
    elif path == "/api/me/exclusions" and method == "PUT":
        kwargs["json"] = {"rules": [{"kind": "tag", "value": "matrix"}]}
    elif path == "/api/me/exclusions" and method == "POST":
        kwargs["json"] = {"kind": "tag", "value": "matrix"}
    elif path == "/1/submit-listens":
        kwargs["json"] = {
            "listen_type": "playing_now",
            "payload": [{"track_metadata": {"artist_name": "a", "track_name": "b"}}],
        }
    elif path in ("/api/me/scrobble-tokens", "/api/me/app-credentials") and method == "POST":
        kwargs["json"] = {"name": "matrix"}
    elif path == "/api/me/imports":
        kwargs["files"] = {"file": ("history.csv", b"artist,album,title,date\n", "text/csv")}  # valid, no rows
    elif path in ("/api/audio/query", "/api/audio/hum"):
        kwargs["files"] = {"file": ("clip.ogg", b"OggS" + b"\0" * 64, "audio/ogg")}
    elif path == "/api/audio/compare":
        kwargs["files"] = {
            "file_a": ("a.ogg", b"OggS" + b"\0" * 64, "audio/ogg"),
            "file_b": ("b.ogg", b"OggS" + b"\0" * 64, "audio/ogg"),
        }
    elif path == "/api/admin/library/matches/{file_id}":
        kwargs["json"] = {"action": "reject"}
    elif path == "/api/admin/songs/{song_id}":
        kwargs["json"] = {"title": "Creep"}  # the song's own title: valid, and changes nothing visible
    elif path == "/api/songs/search":
        kwargs["params"] = {"q": "creep"}
    elif path == "/api/me/playlists" and method == "POST":
        kwargs["json"] = {"name": "matrix", "song_ids": [1]}
    elif path == "/api/me/playlists/{playlist_id}" and method == "PATCH":
        kwargs["json"] = {"name": "matrix"}
    elif path == "/api/me/playlists/import":
        kwargs["files"] = {"file": ("p.jspf", b'{"playlist": {"title": "m", "track": []}}', "application/json")}
    elif path == "/api/radio":
        kwargs["params"] = {"q": "tag:rock"}
    return {"method": method, "url": url, **kwargs}


def test_authorisation_matrix_covers_every_route(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    for name in ("user_a", "user_b", "the_admin"):
        register(client, name)
    make_admin(client, "the_admin")
    routes = {(m, p) for p, methods, _ in api_routes(client.app) for m in methods}  # type: ignore[arg-type]
    assert routes - set(ACCESS) == set(), "classify the new routes in ACCESS"
    assert set(ACCESS) - routes <= OPTIONAL, "routes gone: update ACCESS"

    identities: dict[str, str | None] = {
        "anonymous": None,
        "forged": None,
        "a": "user_a",
        "b": "user_b",
        "admin": "the_admin",
    }
    seen = 0
    for (method, path), access in sorted(ACCESS.items()):
        if (method, path) not in routes:
            continue
        for who, username in identities.items():
            for carrier in ("bearer", "cookie"):
                if (method, path) == ("DELETE", "/api/me") and username:
                    username = disposable_account(client, admin=who == "admin")  # this call deletes it
                token = new_session(client, username) if username else ("f" * 43 if who == "forged" else None)
                client.cookies.clear()
                req = request_for(method, path, login_as="user_a")
                if (method, path) == ("DELETE", "/api/me/scrobble-tokens/{token_id}") and token and username:
                    made = client.post(
                        "/api/me/scrobble-tokens", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
                    )
                    req["url"] = f"/api/me/scrobble-tokens/{made.json()['id']}"  # one of this user's own
                if (method, path) == ("DELETE", "/api/me/app-credentials/{credential_id}") and token and username:
                    made = client.post(
                        "/api/me/app-credentials", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
                    )
                    req["url"] = f"/api/me/app-credentials/{made.json()['id']}"
                if "{playlist_id}" in path and token and username:
                    made = client.post(
                        "/api/me/playlists",
                        json={"name": "x", "song_ids": [1]},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    req["url"] = req["url"].replace("/playlists/1", f"/playlists/{made.json()['id']}")
                if token and carrier == "bearer":
                    req["headers"] = {"Authorization": f"Bearer {token}"}
                elif token:
                    client.cookies.set(SESSION_COOKIE, token)
                status = client.request(**req).status_code
                seen += 1
                label = f"{method} {path} as {who} ({carrier}): {status}"
                assert status < 500, label
                logged_in = who in ("a", "b", "admin")
                if access == "public":
                    assert status not in (401, 403), label
                elif access == "user":
                    assert status == (401 if not logged_in else status) and (status < 400) == logged_in, label
                elif access == "subsonic":
                    assert status == 200, label  # a session is not Subsonic authentication: an error answer
                elif access == "scrobble-token":
                    assert status in (400, 401), label  # a session is not a scrobble token
                else:  # admin, admin-404
                    allowed = 404 if access == "admin-404" else 200
                    expected = allowed if who == "admin" else 403 if logged_in else 401
                    assert status == expected, label
    client.cookies.clear()
    assert seen == len(routes) * len(identities) * 2


def test_user_a_cannot_read_or_change_user_b(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    a, b = register(client, "anna"), register(client, "bert")

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    client.post("/api/me/plays", json={"song_id": 3, "count": 4}, headers=auth(b))
    client.put("/api/me/ratings/3", json={"rating": 5}, headers=auth(b))
    client.put("/api/me/feedback/3", json={"kind": "dislike"}, headers=auth(b))
    # A: song 3's page shows A's own (empty) state, not B's; no parameter names another user.
    detail = client.get("/api/songs/3", headers=auth(a)).json()
    assert detail["me"] == {"plays": 0, "last_played_at": None, "rating": None, "feedback": None}
    for params in ({"user_id": 2}, {"user": "bert"}, {"username": "bert"}):
        for kind in ("plays", "ratings", "feedback"):
            hist = client.get("/api/me/history", params={"kind": kind, **params}, headers=auth(a)).json()
            assert hist["total"] == 0, (kind, params)
    smuggled = client.post("/api/me/plays", json={"song_id": 3, "user_id": 2}, headers=auth(a))
    assert smuggled.status_code == 422  # unknown body fields are refused, never used or ignored
    assert client.delete("/api/me/ratings/3", headers=auth(a)).status_code == 204
    # B's data is untouched; the admin listing shows no secrets.
    state = client.get("/api/songs/3", headers=auth(b)).json()["me"]
    assert (state["plays"], state["rating"], state["feedback"]) == (4, 5, "dislike")
    register(client, "root_admin")
    make_admin(client, "root_admin")
    listing = client.get("/api/admin/users", headers=auth(new_session(client, "root_admin"))).text
    assert "argon2" not in listing and "token" not in listing and b not in listing


# --- sessions ---------------------------------------------------------------------------------


def test_session_ttl_is_a_setting_and_applies_through_the_redis_cache(make_app: Callable[..., TestClient]) -> None:
    assert Settings.model_fields["session_ttl_hours"].default == 336.0
    ttl_s = 2.0
    client = make_app(session_ttl_hours=ttl_s / 3600)
    resp = client.post("/api/auth/register", json={"username": "short_lived", "password": PASSWORD})
    token = resp.json()["token"]
    assert f"Max-Age={int(ttl_s)}" in resp.headers["set-cookie"] and "HttpOnly" in resp.headers["set-cookie"]
    expires = dt.datetime.fromisoformat(resp.json()["expires_at"])
    assert dt.timedelta(0) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=ttl_s)
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).status_code == 200  # now cached in Redis
    assert client.get("/api/me", headers=headers).status_code == 200
    time.sleep(ttl_s + 0.5)
    assert client.get("/api/me", headers=headers).status_code == 401
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/me").status_code == 401
    client.cookies.clear()


def test_logout_ends_a_cached_session_at_once_and_only_that_one(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    register(client, "leaver")
    first = client.post("/api/auth/login", json={"username": "leaver", "password": PASSWORD}).json()["token"]
    second = client.post("/api/auth/login", json={"username": "leaver", "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    for token in (first, second):  # both sessions are in the Redis cache now
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    out = client.post("/api/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/api/me").status_code == 401
    assert client.post("/api/auth/logout").status_code == 204  # again: still 204, still logged out
    client.cookies.clear()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


# --- login rate limiting ----------------------------------------------------------------------


def test_login_limit_per_account_ignores_case_and_spaces(make_app: Callable[..., TestClient]) -> None:
    client = make_app(login_max_failures=5)
    register(client, "victim")
    # From five addresses (the per-address limit stays out of it), with the name written five ways.
    for i, name in enumerate(("victim", "VICTIM", " Victim ", "vIcTiM", "victim ")):
        other = from_address(client, f"10.0.0.{i}")
        assert other.post("/api/auth/login", json={"username": name, "password": "wrong-guess"}).status_code == 401
    blocked = from_address(client, "10.0.0.9").post(
        "/api/auth/login", json={"username": "victim", "password": PASSWORD}
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["error"]["code"] == "rate_limited"


def test_a_success_on_ones_own_account_does_not_reset_the_address_limit(
    make_app: Callable[..., TestClient],
) -> None:
    """Found by this suite: a successful login used to clear the address's count too, so interleaving
    logins to one's own account let one address guess passwords of any number of accounts."""
    client = make_app(login_max_failures=5)
    register(client, "attacker")
    for round_no in range(2):
        for i in range(2):
            resp = client.post("/api/auth/login", json={"username": f"target{round_no}{i}", "password": "guess-1"})
            assert resp.status_code == 401
        assert client.post("/api/auth/login", json={"username": "attacker", "password": PASSWORD}).status_code == 200
    assert client.post("/api/auth/login", json={"username": "target9", "password": "guess-1"}).status_code == 401
    # Five failures from this address in the window: the next guess, on yet another account, waits.
    blocked = client.post("/api/auth/login", json={"username": "target10", "password": "guess-1"})
    assert blocked.status_code == 429, blocked.text


def test_limits_hold_across_gateway_replicas_sharing_redis(make_app: Callable[..., TestClient], redis_url: str) -> None:
    """Production runs several gateway replicas: an address must not get the limit once per replica."""
    first = make_app(login_max_failures=4, audio_query_limit=2)
    second = make_app(login_max_failures=4, audio_query_limit=2)  # another process's app, the same Redis
    for i in range(4):
        replica = first if i % 2 == 0 else second
        assert replica.post("/api/auth/login", json={"username": f"t{i}", "password": "guess-1"}).status_code == 401
    for replica in (first, second):
        blocked = replica.post("/api/auth/login", json={"username": "t9", "password": "guess-1"})
        assert blocked.status_code == 429, blocked.text
    clip = {"file": ("clip.ogg", b"OggS" + b"\0" * 64, "audio/ogg")}
    assert first.post("/api/audio/query", files=clip).status_code == 200
    assert second.post("/api/audio/query", files=clip).status_code == 200
    assert first.post("/api/audio/query", files=clip).status_code == 429
    keys = sorted(k.decode() for k in redis.Redis.from_url(redis_url).scan_iter("gw:limit:*"))
    assert keys == ["gw:limit:audio_query:ip:testclient", "gw:limit:login:ip:testclient"] + [
        f"gw:limit:login:user:t{i}" for i in range(4)
    ]
    assert all(0 < redis.Redis.from_url(redis_url).pttl(k) <= 300_000 for k in keys)  # they expire with the window


def test_without_redis_each_replica_still_limits_on_its_own(make_app: Callable[..., TestClient]) -> None:
    client = make_app(login_max_failures=3, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    for i in range(3):
        assert client.post("/api/auth/login", json={"username": f"u{i}", "password": "guess-1"}).status_code == 401
    assert client.post("/api/auth/login", json={"username": "u9", "password": "guess-1"}).status_code == 429


def test_sound_search_is_limited_per_address_and_frees_up_after_the_window(
    make_app: Callable[..., TestClient],
) -> None:
    """Anyone may search by sound, and each search is a CNN inference: an address gets so many per window."""
    client = make_app(audio_query_limit=3, audio_query_window_s=1.5)
    other = from_address(client, "198.51.100.7")  # another address, same running app
    clip = {"file": ("clip.ogg", b"OggS" + b"\0" * 64, "audio/ogg")}
    # Every attempt counts, a rejected one too (decoding it cost as much).
    assert client.post("/api/audio/query", files={"file": ("empty.ogg", b"", "audio/ogg")}).status_code == 422
    for _ in range(2):
        assert client.post("/api/audio/query", files=clip).status_code == 200  # audio_service is down: degraded
    blocked = client.post("/api/audio/query", files=clip)
    assert blocked.status_code == 429, blocked.text
    assert blocked.json()["error"]["code"] == "rate_limited"
    wait = int(blocked.headers["retry-after"])
    assert 1 <= wait <= 2 and blocked.json()["error"]["details"]["retry_after_s"] == wait
    assert other.post("/api/audio/query", files=clip).status_code == 200  # not this address's count
    assert client.get("/api/health").status_code == 200  # nothing else is limited
    # Documented, so API clients (and schemathesis) expect it.
    responses = client.get("/openapi.json").json()["paths"]["/api/audio/query"]["post"]["responses"]
    assert "429" in responses
    time.sleep(wait + 0.05)
    assert client.post("/api/audio/query", files=clip).status_code == 200


# --- headers, CSP, CORS -----------------------------------------------------------------------


def directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}


def test_security_headers_on_every_kind_of_response(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    calls = {
        "page": ("GET", "/"),
        "static js": ("GET", "/js/main.js"),
        "static css": ("GET", "/css/app.css"),
        "json": ("GET", "/api/health"),
        "404": ("GET", "/api/songs/999999"),
        "401": ("GET", "/api/me"),
        "422": ("GET", "/api/charts?n=0"),
        "405": ("PUT", "/api/charts"),
        "openapi": ("GET", "/openapi.json"),
        "docs": ("GET", "/docs"),
    }
    responses = {name: client.request(method, path) for name, (method, path) in calls.items()}

    def broken_database() -> None:
        raise RuntimeError("the database is gone")

    client.app.dependency_overrides[db_session] = broken_database  # type: ignore[attr-defined]
    responses["500"] = client.get("/api/charts")
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert responses["500"].status_code == 500 and responses["405"].status_code == 405
    for name, resp in responses.items():
        h = resp.headers
        assert h["x-content-type-options"] == "nosniff", name
        assert h["x-frame-options"] == "DENY", name
        assert h["referrer-policy"] == "strict-origin-when-cross-origin", name
        csp = directives(h["content-security-policy"])
        assert csp["frame-ancestors"] == ["'none'"] and csp["default-src"] == ["'self'"], name
        assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"], name
        assert "strict-transport-security" not in h, name  # local mode is plain http
        if name != "docs":  # Swagger UI needs its CDN and an inline script; only /docs gets that
            for directive in ("script-src", "style-src", "connect-src"):
                assert csp[directive] == ["'self'"], (name, directive, csp[directive])
    prod = make_app(app_mode="production", admin_password="a-real-admin-password", credentials_secret="a-real-secret-1")
    assert prod.get("/api/health").headers["strict-transport-security"].startswith("max-age=63072000")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in a
        if tag == "style":
            self.problems.append("<style> element")
        for key, value in attrs:
            if key == "style" or key.startswith("on"):
                self.problems.append(f"<{tag} {key}=...> inline attribute")
            if key in ("src", "href") and value and re.match(r"\s*(javascript:|https?:|//)", value, re.I):
                self.problems.append(f"<{tag} {key}={value}> not same-origin")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline <script> code")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def test_frontend_uses_nothing_the_csp_blocks() -> None:
    """The CSP allows only same-origin scripts, styles and connections: no inline code or styles."""
    problems: list[str] = []
    for page in FRONTEND.rglob("*.html"):
        parser = _Tags()
        parser.feed(page.read_text())
        problems += [f"{page.name}: {p}" for p in parser.problems]
    blocked_js = re.compile(
        r"\beval\s*\(|new\s+Function\s*\(|set(?:Timeout|Interval)\s*\(\s*['\"`]|\.innerHTML\b|\.outerHTML\b|"
        r"insertAdjacentHTML|document\.write|setAttribute\(\s*['\"](?:style|on\w+)['\"]|"
        r"h\([^)]*\{[^}]*\bstyle\s*:|fetch\(\s*['\"`]https?:|new\s+WebSocket"
    )
    scripts = list(FRONTEND.rglob("*.js"))
    for script in scripts:
        for no, line in enumerate(script.read_text().splitlines(), 1):
            if blocked_js.search(line) and not line.lstrip().startswith(("//", "*")):
                problems.append(f"{script.relative_to(FRONTEND)}:{no}: {line.strip()[:100]}")
    for css in FRONTEND.rglob("*.css"):
        if re.search(r"@import\s+url\(\s*['\"]?https?:|url\(\s*['\"]?https?:", css.read_text()):
            problems.append(f"{css.name}: loads from another origin")
    assert len(scripts) >= 5 and problems == []


def test_cors_only_for_the_configured_origin(make_app: Callable[..., TestClient]) -> None:
    allowed = "https://music.example.org"
    client = make_app(cors_origins=allowed)
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options("/api/me/plays", headers={"Origin": allowed, **preflight})
    assert ok.headers["access-control-allow-origin"] == allowed
    assert ok.headers["access-control-allow-credentials"] == "true"
    simple = client.get("/api/health", headers={"Origin": allowed})
    assert simple.headers["access-control-allow-origin"] == allowed and "Origin" in simple.headers["vary"]
    for origin in ("https://evil.example", "null", allowed + ".evil.example", "http://music.example.org"):
        denied = client.options("/api/me/plays", headers={"Origin": origin, **preflight})
        assert "access-control-allow-origin" not in denied.headers, origin
        assert "access-control-allow-origin" not in client.get("/api/health", headers={"Origin": origin}).headers
    default = make_app()  # nothing configured: no cross-origin access at all
    for origin in (allowed, "https://evil.example"):
        assert "access-control-allow-origin" not in default.get("/api/health", headers={"Origin": origin}).headers
        resp = default.options("/api/me/plays", headers={"Origin": origin, **preflight})
        assert "access-control-allow-origin" not in resp.headers


def test_a_json_api_call_cannot_be_forged_by_a_plain_form(make_app: Callable[..., TestClient]) -> None:
    """Cross-site forms can send text/plain or form bodies with the cookie; the API takes only JSON."""
    client = make_app()
    register(client, "formed")
    client.cookies.set(SESSION_COOKIE, new_session(client, "formed"))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        resp = client.post("/api/me/plays", content=b'{"song_id": 1}', headers={"Content-Type": content_type})
        assert resp.status_code in (400, 415, 422), (content_type, resp.status_code)
    assert client.get("/api/me/history").json()["total"] == 0
    cookie = client.post("/api/auth/login", json={"username": "formed", "password": PASSWORD}).headers["set-cookie"]
    assert "SameSite=lax" in cookie and "HttpOnly" in cookie
    client.cookies.clear()


# --- production mode --------------------------------------------------------------------------


def test_production_refuses_default_secrets(tmp_path: Path) -> None:
    for weak in sorted(INSECURE_DEFAULTS | {"short", "1234567"}):
        with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
            Settings(app_mode="production", admin_password=weak)
        with pytest.raises(ValidationError, match="DEMO_PASSWORD"):
            Settings(
                app_mode="production",
                admin_password="a-real-admin-password",
                credentials_secret="a-real-credentials-secret",
                demo_password=weak or "x",
            )
        with pytest.raises(ValidationError, match="CREDENTIALS_SECRET"):
            Settings(app_mode="production", admin_password="a-real-admin-password", credentials_secret=weak)
    real = {"admin_password": "a-real-admin-password", "credentials_secret": "a-real-credentials-secret"}
    assert Settings(app_mode="production", **real).production
    # The real process refuses to start, with the reason, before it listens.
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_PASSWORD", "DEMO_PASSWORD")}
    env |= {"APP_MODE": "production", "ADMIN_PASSWORD": "admin", "VAR_DIR": str(tmp_path)}
    port = free_port()
    proc = ManagedProcess(
        "gateway", python_module("gateway", "serve", "--port", str(port)), env=env, log_path=tmp_path / "gateway.log"
    ).start()
    try:
        assert proc.proc is not None and proc.proc.wait(timeout=60) != 0
    finally:
        proc.stop()
    assert "ADMIN_PASSWORD" in (tmp_path / "gateway.log").read_text()


# --- SQL ------------------------------------------------------------------------------------------


def _sql_problems(path: Path) -> list[str]:
    """Calls that could put request data into SQL text: text()/execute() of anything but a literal."""
    problems = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (
            name == "text"
            and isinstance(func, ast.Attribute)
            and getattr(func.value, "id", "") not in ("sa", "sqlalchemy")
        ):
            continue  # another library's .text() (e.g. Spark's DataFrameWriter), not SQLAlchemy's
        if name == "exec_driver_sql":
            problems.append(f"{path}:{node.lineno}: exec_driver_sql")
        if name in ("text", "execute", "executescript", "executemany") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr | ast.BinOp) or (
                isinstance(arg, ast.Call) and getattr(arg.func, "attr", "") in ("format", "join")
            ):
                problems.append(f"{path}:{node.lineno}: {name}() of a built string")
            if name == "text" and not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                problems.append(f"{path}:{node.lineno}: text() of a non-literal")
    return problems


def test_sql_only_through_bound_parameters() -> None:
    sources = [p for p in (REPO / "services").rglob("*.py") if "migrations" not in p.parts]
    assert len(sources) > 50
    assert [problem for p in sources for problem in _sql_problems(p)] == []
    # The check itself catches the patterns it is for.
    bad = "from sqlalchemy import text\ndef f(c, q):\n    c.execute(text(f\"SELECT * FROM songs WHERE t = '{q}'\"))\n"
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"sql_probe_{uuid.uuid4().hex}.py"
    probe.write_text(bad)
    try:
        assert len(_sql_problems(probe)) == 2
    finally:
        probe.unlink()


def test_injection_attempts_are_just_data(make_app: Callable[..., TestClient]) -> None:
    client = make_app()
    register(client, "injector")
    payloads = [
        "' OR 1=1 --",
        "creep' UNION SELECT password_hash, username FROM users --",
        '"; DROP TABLE songs; --',
        "%' AND 1=CAST((SELECT password_hash FROM users LIMIT 1) AS INT) --",
        "\\'; DELETE FROM sessions; --",
        "creep%00",
    ]
    for q in payloads:
        resp = client.get("/api/songs/search", params={"q": q})
        assert resp.status_code == 200, (q, resp.text)
        assert "argon2" not in resp.text
    for username in ("admin' --", "' OR '1'='1", "injector' --", "injector'/*"):
        resp = client.post("/api/auth/login", json={"username": username, "password": "' OR '1'='1"})
        assert resp.status_code == 401, (username, resp.status_code)
    for path in ("/api/songs/1 OR 1=1", "/api/songs/1;DROP TABLE songs", "/api/songs/1'--"):
        assert client.get(path).status_code in (404, 422), path
    assert client.get("/api/charts", params={"window": "all'; DROP TABLE songs; --"}).status_code == 422
    engine = make_engine(settings_of(client).effective_database_url)
    with engine.connect() as conn:  # everything still there
        assert conn.execute(select(func.count()).select_from(Song)).scalar_one() == len(gw.SONGS)
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == 1
    engine.dispose()


# --- the CSP in a real browser -------------------------------------------------------------------

CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.mark.integration
@pytest.mark.slow
def test_every_view_runs_under_the_csp_in_chromium(stack: Any, demo_tokens: dict[str, str], browser: Any) -> None:
    """The frontend in Chromium against the real stack: no CSP violation on any view, logged in or not."""
    base = stack.url("gateway", "")
    song = httpx.get(f"{base}/api/charts", params={"n": 1}).json()["items"][0]["song"]["id"]
    views = [
        "#/home",
        "#/search?q=love",
        "#/sound",
        "#/charts",
        "#/map",
        "#/history",
        "#/account",
        f"#/song/{song}",
        "#/nowhere",
    ]
    violations: list[str] = []
    console: list[str] = []
    # The session's shared browser (tests/conftest.py): Playwright's sync API runs one instance at a time.
    for logged_in in (False, True):
        context = browser.new_context(base_url=base)
        if logged_in:
            context.add_cookies([{"name": SESSION_COOKIE, "value": demo_tokens["carol"], "url": base}])
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.on("console", lambda m: "Content Security Policy" in m.text and console.append(m.text))
        first = page.goto(f"{base}/#/login")
        assert first is not None and "frame-ancestors 'none'" in first.headers["content-security-policy"]
        for view in views:
            page.goto(f"{base}/{view}")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            found = page.evaluate("() => { const v = window.__csp; window.__csp = []; return v; }")
            violations += [f"{view}: {v}" for v in found]
        assert page.locator("#view").inner_text().strip(), "the app rendered nothing"
        context.close()
    assert violations == [] and console == []


def test_ids_beyond_the_database_range_are_not_found_not_500(make_app: Callable[..., TestClient]) -> None:
    """Found by the fuzzer: an id past SQLite's 2**63 (PostgreSQL's 2**31) reached the database and came
    back as a 500, on every route with a song id. Now any such id is a plain 404 (a body's is a 422)."""
    client = make_app()
    register(client, "big_ids")
    headers = {"Authorization": f"Bearer {new_session(client, 'big_ids')}"}
    with_ids = sorted((m, p) for p, methods, _ in api_routes(client.app) for m in methods if "{song_id}" in p)  # type: ignore[arg-type]
    assert len(with_ids) >= 8
    for method, path in with_ids:
        for song_id in (2**31, 10**20, 10**400):
            req = request_for(method, path, login_as="big_ids")
            req["url"] = path.replace("{song_id}", str(song_id))
            resp = client.request(**req, headers=headers)
            assert resp.status_code == 404 and resp.json()["error"]["code"] == "song_not_found", (method, path)
    resp = client.post("/api/me/plays", json={"song_id": 10**20}, headers=headers)
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "song_id"
