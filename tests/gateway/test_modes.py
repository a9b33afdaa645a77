"""The mode table: a mode added there alone is served by the route, the fast path and documented."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient
from gateway.core.modes import MODES, Mode, registered

from .conftest import bearer, register
from .test_session_cache import _metric, app_client, rclient, redis_server  # noqa: F401 (fixtures)

CHARTS = Mode("charts", "the all-time charts, without what you played", user=("popular",))


def test_a_mode_registered_in_the_table_is_served_by_the_route_and_the_fast_path(
    app_client: TestClient,  # noqa: F811
    rclient: redis.Redis,  # noqa: F811
) -> None:
    assert "charts" not in MODES
    fan = register(app_client, "fan")
    songs = [s["id"] for s in app_client.get("/api/songs/search", params={"q": "radiohead"}).json()["items"]]
    for song, times in zip(songs[:3], (3, 2, 1), strict=True):
        for _ in range(times):
            assert app_client.post("/api/me/plays", json={"song_id": song}, headers=bearer(fan)).status_code == 201
    listener = register(app_client, "listener")
    assert app_client.post("/api/me/plays", json={"song_id": songs[0]}, headers=bearer(listener)).status_code == 201
    assert app_client.get("/api/me/recommendations?mode=charts", headers=bearer(listener)).status_code == 422
    # An empty value names no mode: refused, not read as "the default" (schemathesis found this).
    assert app_client.get("/api/me/recommendations?mode=", headers=bearer(listener)).status_code == 422

    with registered(CHARTS):
        app_client.app.openapi_schema = None  # type: ignore[attr-defined]  # rebuilt: the table changed
        schema = app_client.app.openapi()  # type: ignore[attr-defined]
        mode_param = next(
            p for p in schema["paths"]["/api/me/recommendations"]["get"]["parameters"] if p["name"] == "mode"
        )
        assert "charts" in mode_param["schema"]["anyOf"][0]["enum"]

        before = _metric(app_client, "gateway_fastpath_hits_total", "user_recs")
        first = app_client.get("/api/me/recommendations?mode=charts&n=5", headers=bearer(listener))
        assert first.status_code == 200, first.text
        body = first.json()
        # The charts in order, without the song the listener played; every item says where it came from.
        assert body["mode"] == "charts" and body["degraded"] == []
        assert [i["song"]["id"] for i in body["items"]] == songs[1:3]
        assert all(i["sources"] == {"popular": r} for r, i in enumerate(body["items"], start=1))
        assert _metric(app_client, "gateway_fastpath_hits_total", "user_recs") == before

        again = app_client.get("/api/me/recommendations?mode=charts&n=5", headers=bearer(listener))
        assert again.status_code == 200 and again.json() == body
        assert _metric(app_client, "gateway_fastpath_hits_total", "user_recs") == before + 1

        # A mode without song sources is not a "similar songs" mode.
        assert app_client.get(f"/api/songs/{songs[0]}/similar", params={"mode": "charts"}).status_code == 422
    assert "charts" not in MODES
    assert app_client.get("/api/me/recommendations?mode=charts", headers=bearer(listener)).status_code == 422
