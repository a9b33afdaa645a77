"""Lists that listen back, on the shipped data through the real stack: skips, dislikes and exclusion rules change
every later list (recommendations, radio), and a list stays full after leaving songs out."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def listener(stack: Any, plays: int = 3) -> httpx.Client:
    """A new account that played a few songs of the shipped data (its recommendations come from fold-in)."""
    client = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    name = f"lb_{uuid.uuid4().hex[:10]}"
    resp = client.post("/api/auth/register", json={"username": name, "password": "listening-back-1"})
    assert resp.status_code == 201, resp.text
    client.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    found = client.get("/api/songs/search", params={"q": "love", "per_page": 20}).json()["items"]
    played = [s["id"] for s in found if s["msd_song_id"]][:plays]
    # ... and two catalog songs (they have audio, and tags: their collection and instruments).
    played += [p["song_id"] for p in client.get("/api/catalog/map").json()["points"][:2]]
    for song_id in played:
        assert client.post("/api/me/plays", json={"song_id": song_id}).status_code == 201
    return client


def radio_seed(client: httpx.Client) -> int:
    return int(client.get("/api/me/recommendations", params={"mode": "cf", "n": 5}).json()["items"][0]["song"]["id"])


def songs_of(client: httpx.Client, artist: str) -> list[dict[str, Any]]:
    found = client.get("/api/songs/search", params={"q": artist, "per_page": 50}).json()["items"]
    return [s for s in found if (s["artist"] or "").casefold() == artist.casefold()]


def test_three_skips_of_an_artist_keep_it_out_of_radio_and_recommendations(stack: Any) -> None:
    client = listener(stack)
    seed = radio_seed(client)
    radio = client.get(f"/api/songs/{seed}/radio").json()
    # An artist of this radio with at least three songs in the catalog.
    artist, theirs = next(
        (a, s)
        for a in dict.fromkeys(i["song"]["artist"] for i in radio["items"] if i["song"]["artist"])
        if len(s := songs_of(client, a)) >= 3
    )
    for song in theirs[:3]:
        resp = client.post("/api/me/plays", json={"song_id": song["id"], "skipped": True, "played_ms": 4000})
        assert resp.status_code == 201 and resp.json()["recorded"] == "skip" and resp.json()["count"] == 0
    # Skips are not plays: the history does not list them.
    history = {i["song"]["id"] for i in client.get("/api/me/history", params={"per_page": 100}).json()["items"]}
    assert not history & {s["id"] for s in theirs[:3]}
    again = client.get(f"/api/songs/{seed}/radio").json()
    assert len(again["items"]) == 25
    assert artist not in {i["song"]["artist"] for i in again["items"]}
    assert again["left_out"] >= 1
    recs = client.get("/api/me/recommendations", params={"n": 50}).json()
    assert len(recs["items"]) == 50 and artist not in {i["song"]["artist"] for i in recs["items"]}
    daily = client.get("/api/me/mixes/daily").json()
    assert len(daily["items"]) == 50 and artist not in {i["song"]["artist"] for i in daily["items"]}
    # Anonymous radio does not know this listener: the artist is still there.
    anonymous = httpx.get(stack.url("gateway", f"/api/songs/{seed}/radio"), timeout=60).json()
    assert artist in {i["song"]["artist"] for i in anonymous["items"]}


def test_an_excluded_tag_never_appears_and_lists_stay_full(stack: Any) -> None:
    client = listener(stack)
    seen = client.get("/api/me/recommendations", params={"n": 50}).json()["items"]
    tags = Counter(t.casefold() for i in seen for t in i["song"]["tags"])
    assert tags, "the catalog songs that sound like the listener's carry tags"
    tag = tags.most_common(1)[0][0]
    resp = client.post("/api/me/exclusions", json={"kind": "tag", "value": tag.upper()})
    assert resp.status_code == 201 and [(r["kind"], r["value"]) for r in resp.json()["rules"]] == [("tag", tag.upper())]
    seed = radio_seed(client)
    lists = {
        "recommendations": client.get("/api/me/recommendations", params={"n": 50}).json(),
        "cf": client.get("/api/me/recommendations", params={"mode": "cf", "n": 100}).json(),
        "sound": client.get("/api/me/recommendations", params={"mode": "audio", "n": 100}).json(),
        "radio": client.get(f"/api/songs/{seed}/radio").json(),
        "catalog radio": client.get(f"/api/songs/{seen[0]['song']['id']}/radio").json(),
        "daily mix": client.get("/api/me/mixes/daily").json(),
        "rediscover": client.get("/api/me/mixes/rediscover").json(),
    }
    for name, body in lists.items():
        songs = [i["song"] for i in body["items"]]
        assert all(tag not in {t.casefold() for t in s["tags"]} for s in songs), name
        assert len(songs) == len({s["id"] for s in songs}), name
    assert len(lists["recommendations"]["items"]) == 50 and lists["recommendations"]["left_out"] >= 1
    assert len(lists["radio"]["items"]) == 25 and len(lists["daily mix"]["items"]) == 50
    # 100 sound-alikes asked of two seeds' neighbours, songs left out: filled up from the charts, and it says so.
    assert len(lists["sound"]["items"]) == 100
    assert lists["sound"]["left_out"] >= 1 and lists["sound"]["refilled"] >= 1
    # The rules are the listener's: replaced whole by PUT, bad ones refused without a change.
    assert client.put("/api/me/exclusions", json={"rules": [{"kind": "mood", "value": "x"}]}).status_code == 422
    assert client.put("/api/me/exclusions", json={"rules": [{"kind": "tag", "value": "  "}]}).status_code == 422
    assert [r["value"] for r in client.get("/api/me/exclusions").json()["rules"]] == [tag.upper()]
    assert client.put("/api/me/exclusions", json={"rules": []}).json() == {"rules": []}


def test_a_disliked_song_never_returns(stack: Any) -> None:
    client = listener(stack)
    recs = client.get("/api/me/recommendations", params={"n": 20}).json()["items"]
    disliked = recs[0]["song"]["id"]
    seed = recs[1]["song"]["id"]
    radio = [i["song"]["id"] for i in client.get(f"/api/songs/{seed}/radio").json()["items"]]
    assert client.put(f"/api/me/feedback/{disliked}", json={"kind": "dislike"}).status_code == 200
    after = [i["song"]["id"] for i in client.get("/api/me/recommendations", params={"n": 100}).json()["items"]]
    assert disliked not in after
    for song in [seed, *radio[:3]]:
        assert disliked not in [i["song"]["id"] for i in client.get(f"/api/songs/{song}/radio").json()["items"]]
    for kind in ("daily", "rediscover"):
        assert disliked not in [i["song"]["id"] for i in client.get(f"/api/me/mixes/{kind}").json()["items"]]


def test_the_daily_mix_is_fixed_for_the_day_and_spread(stack: Any) -> None:
    client = listener(stack)
    first = client.get("/api/me/mixes/daily").json()
    again = client.get("/api/me/mixes/daily").json()
    ids = [i["song"]["id"] for i in first["items"]]
    assert first["kind"] == "daily" and len(ids) == 50 == len(set(ids))
    assert ids == [i["song"]["id"] for i in again["items"]]  # the same all day
    artists = Counter(i["song"]["artist"] for i in first["items"] if i["song"]["artist"])
    assert max(artists.values()) <= 2
    # Drawn, not the top of the list: it reaches beyond the listener's top 50 recommendations.
    top = {i["song"]["id"] for i in client.get("/api/me/recommendations", params={"n": 50}).json()["items"]}
    assert 10 <= len(set(ids) & top) < 50
    played = {i["song"]["id"] for i in client.get("/api/me/history", params={"per_page": 100}).json()["items"]}
    assert not played & set(ids)


def test_rediscover_brings_back_old_favourites_among_new_songs(stack: Any) -> None:
    alice = httpx.Client(base_url=stack.url("gateway", ""), timeout=60)
    token = alice.post("/api/auth/login", json={"username": "alice", "password": stack.env["DEMO_PASSWORD"]})
    alice.headers["Authorization"] = f"Bearer {token.json()['token']}"
    body = alice.get("/api/me/mixes/rediscover", params={"n": 20}).json()
    assert body["kind"] == "rediscover" and len(body["items"]) == 20
    history = [
        item
        for page in (1, 2, 3)
        for item in alice.get("/api/me/history", params={"per_page": 100, "page": page}).json()["items"]
    ]
    favourites = {i["song"]["id"] for i in history if i["count"] >= 2 and i["last_played_at"] is None}
    old = [i for i in body["items"] if i["song"]["id"] in favourites]
    assert len(old) == 10 and all("a favourite you have not played lately" in i["reasons"] for i in old)


def catalog_point_songs(client: httpx.Client) -> list[dict[str, Any]]:
    points = client.get("/api/catalog/map").json()["points"]
    return [client.get(f"/api/songs/{p['song_id']}").json() for p in points]


def test_tag_radio_plays_the_prompt_and_extends_it_by_sound(stack: Any) -> None:
    client = listener(stack)
    chips = client.get("/api/tags", params={"n": 50}).json()["tags"]
    assert chips and chips == sorted(chips, key=lambda t: -t["songs"])
    catalog = catalog_point_songs(client)
    collection = Counter(t for s in catalog for t in s["tags"]).most_common(1)[0][0]  # the catalog's own tags
    body = client.get("/api/radio", params={"q": f'tag:"{collection.upper()}" -tag:nonexistent'}).json()
    assert body["matched"] >= 1 and body["prompt"].startswith(f'tag:"{collection.casefold()}"')
    items = body["items"]
    assert 0 < len(items) <= 25 and len({i["song"]["id"] for i in items}) == len(items)
    tagged = [i for i in items if collection.casefold() in {t.casefold() for t in i["song"]["tags"]}]
    assert tagged and all(i["basis"] in ("tags", "sound") for i in items)
    # The same prompt (any spelling) gives the same radio all day.
    again = client.get("/api/radio", params={"q": f'tag:"{collection}"  -tag:NONEXISTENT'}).json()
    assert [i["song"]["id"] for i in again["items"]] == [i["song"]["id"] for i in items]
    # An artist and a tag together; a minus term keeps a tag out of the whole radio.
    artist = next(s["artist"] for s in catalog if collection in s["tags"] and s["artist"])
    both = client.get("/api/radio", params={"q": f'artist:"{artist}" tag:"{collection}" -tag:piano'}).json()
    assert all("piano" not in {t.casefold() for t in i["song"]["tags"]} for i in both["items"])
    bad = client.get("/api/radio", params={"q": "mood:happy"})
    assert bad.status_code == 422 and "unknown key" in bad.json()["error"]["message"]


def test_a_path_between_two_songs_moves_in_small_steps(stack: Any) -> None:
    client = listener(stack)
    catalog = catalog_point_songs(client)
    a, b = catalog[0]["id"], catalog[-1]["id"]
    body = client.get(f"/api/songs/{a}/path/{b}", params={"n": 6}).json()
    ids = [s["id"] for s in body["items"]]
    assert body["basis"] == "sound" and ids[0] == a and ids[-1] == b and len(ids) == len(set(ids)) <= 6
    assert len(ids) >= 3
    # Songs without audio walk through co-listening.
    recs = client.get("/api/me/recommendations", params={"mode": "cf", "n": 20}).json()["items"]
    x, y = recs[0]["song"]["id"], recs[-1]["song"]["id"]
    walk = client.get(f"/api/songs/{x}/path/{y}", params={"n": 8}).json()
    steps = [s["id"] for s in walk["items"]]
    assert walk["basis"] == "listeners" and steps[0] == x and steps[-1] == y and 3 <= len(steps) <= 8
    assert len(steps) == len(set(steps))
    assert client.get(f"/api/songs/{x}/path/{x}").status_code == 422
    assert client.get(f"/api/songs/{x}/path/999999999").status_code == 404
