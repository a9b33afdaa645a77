"""The gateway app in-process: health aggregation and the common error shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.app.settings import Settings
from gateway.db.migrate import upgrade
from musicrec_tools.procs import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    dead = free_port()  # nothing listens there: every remote component is down
    return Settings(
        database_url=url,
        var_dir=tmp_path,
        redis_url=f"redis://127.0.0.1:{dead}/0",
        cf_service_url=f"http://127.0.0.1:{dead}",
        audio_service_url=f"http://127.0.0.1:{dead}",
        service_timeout_s=0.5,
        redis_timeout_s=0.3,
    )


def test_health_reports_each_component_and_stays_200(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        resp = client.get("/api/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["service"] == "gateway" and body["status"] == "degraded"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["info"]["backend"] == "sqlite"
    for name in ("redis", "cf_service", "audio_service"):
        assert body["components"][name]["status"] == "down"
        assert body["components"][name]["detail"]


def test_unknown_route_uses_the_error_shape(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "Not Found", "details": None}}


def test_frontend_is_served_at_root(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        resp = client.get("/")
    assert resp.status_code == 200
    assert "text/html" in resp.headers["content-type"]
