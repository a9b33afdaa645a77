"""Recommendations through the real gateway, cf_service and Redis on loopback.

Covers: reasons, fold-in after a play (no retrain), the precomputed lists in
Redis (hits counted in /metrics), similar songs and radio, and each
degradation: cf_service down, Redis down -> still 200 with ``degraded``.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest
import redis
from musicrec_tools.procs import python_module, start_redis, wait_http

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def alice(stack: Any) -> httpx.Client:
    client = httpx.Client(base_url=stack.url("gateway", ""), timeout=30)
    resp = client.post("/api/auth/login", json={"username": "alice", "password": stack.env["DEMO_PASSWORD"]})
    assert resp.status_code == 200, resp.text
    client.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return client


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def test_cf_recommendations_have_reasons_and_exclude_history(alice: httpx.Client) -> None:
    resp = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 10})
    assert resp.status_code == 200
    body = resp.json()
    assert body["degraded"] == [] and body["fallback"] is None
    assert len(body["items"]) == 10
    history = alice.get("/api/me/history", params={"per_page": 100}).json()
    played = {item["song"]["id"] for item in history["items"]}
    assert played and not played & {item["song"]["id"] for item in body["items"]}
    assert all(item["reasons"] for item in body["items"])
    assert any(r.startswith("because you played ") for item in body["items"] for r in item["reasons"])
    artists = [item["song"]["artist"] for item in body["items"] if item["song"]["artist"]]
    assert max(artists.count(a) for a in set(artists)) <= 2


def test_precomputed_lists_in_redis_are_used(stack: Any, alice: httpx.Client) -> None:
    out = subprocess.run(
        python_module("cf_service", "publish", "--redis-url", stack.env["REDIS_URL"]),
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    published = json.loads(out.stdout.strip().splitlines()[-1])
    assert published["users"] == 1630
    before = metric(alice, "gateway_cache_hits_total", kind="cf_recs")
    # Bob did nothing in the app yet, so his precomputed list applies.
    bob = httpx.Client(base_url=stack.url("gateway", ""), timeout=30)
    token = bob.post("/api/auth/login", json={"username": "bob", "password": stack.env["DEMO_PASSWORD"]}).json()
    resp = bob.get(
        "/api/me/recommendations", params={"mode": "cf"}, headers={"Authorization": f"Bearer {token['token']}"}
    )
    assert resp.status_code == 200 and resp.json()["items"]
    assert metric(alice, "gateway_cache_hits_total", kind="cf_recs") == before + 1


def test_a_listener_outside_the_precomputed_lists_is_scored_on_demand_and_cached(stack: Any) -> None:
    """Publishing only the active listeners' lists: dave's is missing, so cf_service scores him on demand, and the
    gateway keeps the answer under the precomputed list's key: the same list publishing him would have written."""
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    dave = httpx.Client(base_url=stack.url("gateway", ""), timeout=30)
    token = dave.post("/api/auth/login", json={"username": "dave", "password": stack.env["DEMO_PASSWORD"]}).json()
    dave.headers["Authorization"] = f"Bearer {token['token']}"
    msd_user = dave.get("/api/me").json()["msd_user_id"]
    assert msd_user
    publish = python_module("cf_service", "publish", "--redis-url", stack.env["REDIS_URL"])
    subprocess.run(publish, env=stack.env, check=True, capture_output=True)
    version = r.get("cf:version").decode()
    key = f"cf:{version}:recs:{msd_user}"
    precomputed = json.loads(r.get(key))
    assert len(precomputed) == 100
    r.delete(key)  # as if he had been outside the active window when the lists were published
    active = stack.tmp / "active_users.txt"
    active.write_text(
        "# listeners active lately\n"
        + "\n".join(u.decode().rsplit(":", 1)[-1] for u in r.keys("cf:*:recs:*")[:50])
        + "\n"
    )
    out = subprocess.run([*publish, "--users-file", str(active)], env=stack.env, check=True, capture_output=True)
    assert json.loads(out.stdout.decode().strip().splitlines()[-1])["users"] == 50
    assert not r.exists(key)
    hits = metric(dave, "gateway_cache_hits_total", kind="cf_recs")
    first = dave.get("/api/me/recommendations", params={"mode": "cf", "n": 10})
    assert first.status_code == 200 and first.json()["degraded"] == []
    cached = json.loads(r.get(key))  # scored on demand, then kept
    assert [i["song_id"] for i in cached] == [i["song_id"] for i in precomputed]
    assert 0 < r.ttl(key) <= 86_400
    assert metric(dave, "gateway_cache_hits_total", kind="cf_recs") == hits
    r.delete(f"gw:recs:{dave.get('/api/me').json()['id']}")  # past the gateway's own answer cache
    again = dave.get("/api/me/recommendations", params={"mode": "cf", "n": 10})
    assert [i["song"]["id"] for i in again.json()["items"]] == [i["song"]["id"] for i in first.json()["items"]]
    assert metric(dave, "gateway_cache_hits_total", kind="cf_recs") == hits + 1
    r.close()


def test_a_play_changes_the_next_recommendations_without_retraining(alice: httpx.Client) -> None:
    first = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 20}).json()
    top = first["items"][0]["song"]["id"]
    assert alice.post("/api/me/plays", json={"song_id": top, "count": 3}).status_code == 201
    second = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 20}).json()
    assert top not in [item["song"]["id"] for item in second["items"]]
    assert [i["song"]["id"] for i in second["items"]] != [i["song"]["id"] for i in first["items"]]
    hybrid = alice.get("/api/me/recommendations", params={"mode": "hybrid", "n": 20}).json()
    assert top not in [item["song"]["id"] for item in hybrid["items"]]


def test_cached_lists_are_one_redis_hash_per_user_that_a_play_deletes(stack: Any, alice: httpx.Client) -> None:
    r = redis.Redis.from_url(stack.env["REDIS_URL"])
    user_id = alice.get("/api/me").json()["id"]
    key = f"gw:recs:{user_id}"
    first = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 7})
    assert first.status_code == 200 and first.json()["degraded"] == []
    fields = [f.decode() for f in r.hkeys(key)]
    assert [f for f in fields if f.endswith(":cf:all:7")], fields
    assert 0 < r.ttl(key) <= 300
    hits = metric(alice, "gateway_fastpath_hits_total", kind="user_recs")
    again = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 7})
    assert again.content == first.content
    assert metric(alice, "gateway_fastpath_hits_total", kind="user_recs") == hits + 1
    song = first.json()["items"][0]["song"]["id"]
    assert alice.post("/api/me/plays", json={"song_id": song}).status_code == 201
    assert not r.exists(key)  # deleted, not left to expire
    r.close()


def test_similar_songs_and_radio(alice: httpx.Client) -> None:
    seed = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 1}).json()["items"][0]["song"]["id"]
    similar = alice.get(f"/api/songs/{seed}/similar", params={"mode": "cf", "n": 8}).json()
    assert len(similar["items"]) == 8 and seed not in [i["song"]["id"] for i in similar["items"]]
    assert all(r.startswith("often played with") for i in similar["items"] for r in i["reasons"])
    radio = alice.get(f"/api/songs/{seed}/radio").json()
    ids = [i["song"]["id"] for i in radio["items"]]
    assert radio["seed"]["id"] == seed and len(ids) == len(set(ids)) and seed not in ids
    assert 0 < len(ids) <= 25
    artists = [i["song"]["artist"] for i in radio["items"] if i["song"]["artist"]]
    assert max(artists.count(a) for a in set(artists)) <= 2
    assert alice.get("/api/songs/999999999/radio").status_code == 404


def test_cf_service_down_still_answers_200(stack: Any, alice: httpx.Client) -> None:
    stack.procs["cf_service"].stop()
    try:
        alice.post("/api/me/plays", json={"song_id": 1, "count": 1})  # new state: no cached answer applies
        resp = alice.get("/api/me/recommendations", params={"mode": "hybrid", "n": 10})
        assert resp.status_code == 200
        body = resp.json()
        assert "cf" in body["degraded"] and body["fallback"] == "popular" and body["items"]
        assert alice.get("/api/health").json()["components"]["cf_service"]["status"] == "down"
        seed = body["items"][0]["song"]["id"]
        # Co-listened songs still come from the lists published to Redis.
        similar = alice.get(f"/api/songs/{seed}/similar", params={"mode": "cf"}).json()
        assert similar["degraded"] == [] and similar["items"]
        assert metric(alice, "gateway_downstream_errors_total", service="cf") >= 1
    finally:
        stack.procs["cf_service"].start()
        wait_http(stack.url("cf_service", "/health"), timeout=90, proc=stack.procs["cf_service"])
    assert alice.get("/api/me/recommendations", params={"mode": "cf"}).json()["degraded"] == []


def test_redis_down_still_answers_200(stack: Any, alice: httpx.Client) -> None:
    stack.procs["redis"].stop()
    try:
        resp = alice.get("/api/me/recommendations", params={"mode": "cf", "n": 5})
        assert resp.status_code == 200
        assert resp.json()["degraded"] == ["cache"] and len(resp.json()["items"]) == 5
        assert alice.get("/api/health").json()["components"]["redis"]["status"] == "down"
    finally:
        stack.procs["redis"] = start_redis(stack.redis_port, stack.tmp / "redis", stack.tmp / "redis.log")
    assert alice.get("/api/me/recommendations", params={"mode": "cf", "n": 5}).json()["degraded"] == []
