"""The ListenBrainz-compatible scrobbling API: tokens, validation, submissions and their error shapes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import bearer, register


def _listen(artist: str, title: str, when: int | None = 1_700_000_000, **meta: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"track_metadata": {"artist_name": artist, "track_name": title, **meta}}
    if when is not None:
        item["listened_at"] = when
    return item


def _token(client: TestClient, session: str, name: str = "phone") -> dict[str, Any]:
    resp = client.post("/api/me/scrobble-tokens", json={"name": name}, headers=bearer(session))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _plays(client: TestClient, session: str) -> int:
    return int(client.get("/api/me", headers=bearer(session)).json()["stats"]["plays"])


def lb(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def test_tokens_are_shown_once_validated_and_revoked(client: TestClient) -> None:
    session = register(client, "scrobbler")
    made = _token(client, session)
    assert made["token"] and made["name"] == "phone"
    listed = client.get("/api/me/scrobble-tokens", headers=bearer(session)).json()
    assert [t["id"] for t in listed["items"]] == [made["id"]] and listed["items"][0]["token"] is None
    assert listed["submit_url"] == "/1/submit-listens"

    ok = client.get("/1/validate-token", headers=lb(made["token"])).json()
    assert ok == {"code": 200, "message": "Token valid.", "valid": True, "user_name": "scrobbler"}
    assert client.get("/1/validate-token", params={"token": made["token"]}).json()["valid"] is True
    assert client.get("/1/validate-token", headers=lb("nope")).json()["valid"] is False
    missing = client.get("/1/validate-token")
    assert missing.status_code == 400 and missing.json()["code"] == 400

    other = register(client, "someone_else")
    assert client.delete(f"/api/me/scrobble-tokens/{made['id']}", headers=bearer(other)).status_code == 404
    assert client.delete(f"/api/me/scrobble-tokens/{made['id']}", headers=bearer(session)).status_code == 204
    assert client.get("/1/validate-token", headers=lb(made["token"])).json()["valid"] is False


def test_submissions_record_plays_once_and_bad_ones_record_nothing(client: TestClient) -> None:
    session = register(client, "player_user")
    token = _token(client, session)["token"]
    single = {"listen_type": "single", "payload": [_listen("Radiohead", "Karma Police", release_name="OK Computer")]}
    resp = client.post("/1/submit-listens", json=single, headers=lb(token))
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    assert _plays(client, session) == 1
    assert client.post("/1/submit-listens", json=single, headers=lb(token)).status_code == 200
    assert _plays(client, session) == 1  # the same listen (same time) again: not a second play

    batch = {
        "listen_type": "import",
        "payload": [_listen("The Beatles", "Yesterday", 1_700_000_100), _listen("Beatles", "Hey Jude", 1_700_000_400)],
    }
    assert client.post("/1/submit-listens", json=batch, headers=lb(token)).status_code == 200
    assert _plays(client, session) == 3
    now = {"listen_type": "playing_now", "payload": [_listen("Radiohead", "Creep", None)]}
    assert client.post("/1/submit-listens", json=now, headers=lb(token)).json() == {"status": "ok"}
    assert _plays(client, session) == 3  # playing now is not a play

    for headers in ({}, lb("wrong-token"), {"Authorization": f"Bearer {session}"}):
        resp = client.post(
            "/1/submit-listens", json=single | {"payload": [_listen("Radiohead", "Creep")]}, headers=headers
        )
        assert resp.status_code == 401 and resp.json()["code"] == 401 and resp.json()["error"]
    bad_payloads: list[Any] = [
        {"listen_type": "sometimes", "payload": [_listen("Radiohead", "Creep")]},
        {"listen_type": "single", "payload": []},
        {"listen_type": "single", "payload": [_listen("Radiohead", "Creep", None)]},  # no listened_at
        {"listen_type": "single", "payload": [_listen("Radiohead", "Creep"), _listen("Radiohead", "Creep", 5)]},
        {"listen_type": "import", "payload": [{"track_metadata": {"track_name": "Creep"}}]},
        {"listen_type": "single", "payload": [_listen("Radiohead", "Creep", "yesterday")]},  # type: ignore[arg-type]
        ["not", "an", "object"],
    ]
    for body in bad_payloads:
        resp = client.post("/1/submit-listens", json=body, headers=lb(token))
        assert resp.status_code == 400, (body, resp.text)
        assert set(resp.json()) == {"code", "error"} and resp.json()["code"] == 400
    raw = client.post(
        "/1/submit-listens", content=b"{not json", headers=lb(token) | {"Content-Type": "application/json"}
    )
    assert raw.status_code == 400 and raw.json()["error"] == "Cannot parse JSON document."
    assert _plays(client, session) == 3
