"""Accounts: register, login, logout, sessions, rate limit, authorisation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.core import security
from gateway.db.models import Feedback, Play, PlayEvent, Rating, Song, User, UserSession
from gateway.db.session import make_engine
from sqlalchemy import func, select, update

from .conftest import PASSWORD, bearer, make_settings, register


def test_register_login_me_logout(client: TestClient) -> None:
    resp = client.post("/api/auth/register", json={"username": "Alice_1", "password": PASSWORD})
    assert resp.status_code == 201
    body = resp.json()
    assert body["user"]["username"] == "alice_1" and body["user"]["is_admin"] is False
    assert len(body["token"]) >= 43  # 256 bits, URL-safe base64
    me = client.get("/api/me")  # the cookie set by register
    assert me.status_code == 200 and me.json()["username"] == "alice_1"
    assert me.json()["stats"] == {"songs_played": 0, "plays": 0, "ratings": 0, "likes": 0, "dislikes": 0}

    client.cookies.clear()
    login = client.post("/api/auth/login", json={"username": "ALICE_1", "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["token"]
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer(token)).json()["username"] == "alice_1"
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    resp = client.get("/api/me", headers=bearer(token))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


def test_cookie_flags_and_logout_clears_cookie(client: TestClient) -> None:
    resp = client.post("/api/auth/register", json={"username": "bob", "password": PASSWORD})
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("musicrec_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # local mode over plain http
    out = client.post("/api/auth/logout")
    assert out.status_code == 204
    assert 'musicrec_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/api/me").status_code == 401


def test_production_cookie_is_secure(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, app_mode="production", admin_password="a-real-admin-password", credentials_secret="a-real-secret"
    )
    with TestClient(create_app(settings)) as client:
        resp = client.post("/api/auth/register", json={"username": "carol", "password": PASSWORD})
        assert "Secure" in resp.headers["set-cookie"]
        assert resp.headers["strict-transport-security"].startswith("max-age=")


def test_passwords_are_argon2_and_tokens_only_hashed(client: TestClient, gw_settings: object) -> None:
    token = register(client, "dave")
    engine = make_engine(gw_settings.database_url)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = conn.execute(select(User.password_hash).where(User.username == "dave")).scalar_one()
        hashes = conn.execute(select(UserSession.token_hash)).scalars().all()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert hashes == [security.token_hash(token)] and token not in hashes


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": "x" * 33, "password": PASSWORD}, "username"),
        ({"username": "msd_abc", "password": PASSWORD}, "username"),
        ({"username": "erin", "password": "short"}, "password"),
        ({"username": "erin", "password": PASSWORD, "is_admin": True}, "is_admin"),
    ],
)
def test_register_validation_names_the_field(client: TestClient, body: dict[str, object], field: str) -> None:
    resp = client.post("/api/auth/register", json=body)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_error" and field in error["message"]
    assert [d["field"] for d in error["details"]] == [field]
    assert client.post("/api/auth/login", json={"username": "erin", "password": PASSWORD}).status_code == 401


def test_duplicate_username_is_409_case_insensitive(client: TestClient) -> None:
    register(client, "frank")
    resp = client.post("/api/auth/register", json={"username": "Frank", "password": PASSWORD})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "username_taken"


def test_wrong_password_and_unknown_user_are_401(client: TestClient) -> None:
    register(client, "gina")
    for body in ({"username": "gina", "password": "wrong-password"}, {"username": "nobody", "password": PASSWORD}):
        resp = client.post("/api/auth/login", json=body)
        assert resp.status_code == 401
        assert resp.json()["error"] == {
            "code": "invalid_credentials",
            "message": "wrong username or password",
            "details": None,
        }
        assert "set-cookie" not in resp.headers


def test_login_rate_limit_per_username_then_reset_on_success(client: TestClient) -> None:
    register(client, "hugo")
    for _ in range(5):
        assert client.post("/api/auth/login", json={"username": "hugo", "password": "nope-nope"}).status_code == 401
    blocked = client.post("/api/auth/login", json={"username": "hugo", "password": PASSWORD})
    assert blocked.status_code == 429  # even the right password waits
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 300

    state = client.app.state.app  # type: ignore[attr-defined]
    state.login_limiter.local.reset(["user:hugo", "ip:testclient"])  # as if the window had passed (Redis is down)
    assert client.post("/api/auth/login", json={"username": "hugo", "password": PASSWORD}).status_code == 200
    for _ in range(4):  # success reset the count: 4 more failures are still answered 401
        assert client.post("/api/auth/login", json={"username": "hugo", "password": "nope-nope"}).status_code == 401


def test_login_rate_limit_per_address(client: TestClient) -> None:
    for i in range(5):
        client.post("/api/auth/login", json={"username": f"guess{i}", "password": "nope-nope"})
    resp = client.post("/api/auth/login", json={"username": "someone-else", "password": "nope-nope"})
    assert resp.status_code == 429 and "retry-after" in resp.headers


def test_expired_session_is_refused(client: TestClient, gw_settings: object) -> None:
    token = register(client, "ivan")
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    engine = make_engine(gw_settings.database_url)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(expires_at=dt.datetime(2000, 1, 1)))
    engine.dispose()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_session_ttl_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, session_ttl_hours=1.0)
    with TestClient(create_app(settings)) as client:
        resp = client.post("/api/auth/register", json={"username": "judy", "password": PASSWORD})
        expires = dt.datetime.fromisoformat(resp.json()["expires_at"])
        left = expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(minutes=59) < left <= dt.timedelta(hours=1)
        assert "Max-Age=3600" in resp.headers["set-cookie"]


def test_garbage_tokens_are_401(client: TestClient) -> None:
    for header in ("Bearer ", "Bearer not-a-token", "Basic abc", "Bearer " + "x" * 5000):
        assert client.get("/api/me", headers={"Authorization": header}).status_code == 401
    client.cookies.set("musicrec_session", "forged")
    assert client.get("/api/me").status_code == 401


def test_anonymous_gets_401_on_every_me_route(client: TestClient) -> None:
    calls = [
        ("GET", "/api/me", None),
        ("GET", "/api/me/history", None),
        ("POST", "/api/me/plays", {"song_id": 1}),
        ("PUT", "/api/me/ratings/1", {"rating": 3}),
        ("DELETE", "/api/me/ratings/1", None),
        ("PUT", "/api/me/feedback/1", {"kind": "like"}),
        ("DELETE", "/api/me/feedback/1", None),
        ("GET", "/api/admin/users", None),
        ("PATCH", "/api/admin/songs/1", {"title": "x"}),
    ]
    for method, path, body in calls:
        resp = client.request(method, path, json=body)
        assert resp.status_code == 401, (method, path)
        assert resp.json()["error"]["code"] == "unauthorized"


def test_admin_routes_need_the_admin_flag(client: TestClient, gw_settings: object) -> None:
    user = register(client, "kim")
    admin = register(client, "root_admin")
    engine = make_engine(gw_settings.database_url)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == "root_admin").values(is_admin=True))
        imported = conn.execute(select(func.count()).select_from(User)).scalar_one()
    engine.dispose()
    resp = client.get("/api/admin/users", headers=bearer(user))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    resp = client.get("/api/admin/users", headers=bearer(admin))
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == imported == 2
    assert {u["username"] for u in body["items"]} == {"kim", "root_admin"}
    assert all(u["has_password"] for u in body["items"])


# --- changing the password, deleting the account -----------------------------------------------------


def _login(client: TestClient, username: str, password: str) -> int:
    client.cookies.clear()
    status = client.post("/api/auth/login", json={"username": username, "password": password}).status_code
    client.cookies.clear()
    return status


def test_password_change_asks_the_current_one_and_ends_the_other_sessions(client: TestClient) -> None:
    here = register(client, "pia")
    elsewhere = client.post("/api/auth/login", json={"username": "pia", "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    new = "a-brand-new-passphrase"
    wrong = client.post(
        "/api/me/password", json={"current_password": "not-it", "new_password": new}, headers=bearer(here)
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    assert wrong.json()["error"]["details"] == {"field": "current_password"}
    assert client.get("/api/me", headers=bearer(elsewhere)).status_code == 200  # nothing changed
    short = client.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": "x"}, headers=bearer(here)
    )
    assert short.status_code == 422
    ok = client.post("/api/me/password", json={"current_password": PASSWORD, "new_password": new}, headers=bearer(here))
    assert ok.status_code == 204
    assert client.get("/api/me", headers=bearer(here)).status_code == 200  # this session goes on
    assert client.get("/api/me", headers=bearer(elsewhere)).status_code == 401  # the other one ended
    assert _login(client, "pia", PASSWORD) == 401 and _login(client, "pia", new) == 200


def test_password_forms_count_toward_the_login_limit(client: TestClient) -> None:
    token = register(client, "quin")
    body = {"current_password": "guess-000", "new_password": "another-passphrase"}
    for _ in range(5):
        assert client.post("/api/me/password", json=body, headers=bearer(token)).status_code == 403
    blocked = client.post("/api/me/password", json=body | {"current_password": PASSWORD}, headers=bearer(token))
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=bearer(token)).status_code == 429
    assert _login(client, "quin", PASSWORD) == 429  # the same account's count


def test_deleting_the_account_removes_everything_recorded_for_it(client: TestClient) -> None:
    token = register(client, "remy")
    keeper = register(client, "sol")
    engine = make_engine(client.app.state.app.settings.effective_database_url)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        song = conn.execute(select(func.min(Song.id))).scalar_one()
    for who in (token, keeper):
        assert client.post("/api/me/plays", json={"song_id": song, "count": 2}, headers=bearer(who)).status_code == 201
        assert client.put(f"/api/me/ratings/{song}", json={"rating": 4}, headers=bearer(who)).status_code == 200
        assert client.put(f"/api/me/feedback/{song}", json={"kind": "like"}, headers=bearer(who)).status_code == 200
    user_id = client.get("/api/me", headers=bearer(token)).json()["id"]

    def rows() -> dict[str, int]:
        with engine.connect() as conn:
            return {
                m.__tablename__: conn.execute(
                    select(func.count()).select_from(m).where(m.user_id == user_id)
                ).scalar_one()
                for m in (Play, PlayEvent, Rating, Feedback, UserSession)
            }

    before = rows()
    assert all(before.values()), before
    wrong = client.request("DELETE", "/api/me", json={"password": "not-it"}, headers=bearer(token))
    assert wrong.status_code == 403 and wrong.json()["error"]["details"] == {"field": "password"}
    assert rows() == before  # a refused deletion changes nothing
    gone = client.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=bearer(token))
    assert gone.status_code == 204
    assert 'musicrec_session=""' in gone.headers["set-cookie"] or "Max-Age=0" in gone.headers["set-cookie"]
    assert rows() == dict.fromkeys(before, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(User).where(User.id == user_id)).scalar_one() == 0
    engine.dispose()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert _login(client, "remy", PASSWORD) == 401
    stats = client.get("/api/me", headers=bearer(keeper)).json()["stats"]
    assert stats["plays"] == 2 and stats["ratings"] == 1 and stats["likes"] == 1  # the other account is untouched
    assert client.post("/api/auth/register", json={"username": "remy", "password": PASSWORD}).status_code == 201
