"""Fixtures of the gateway tests: a migrated SQLite database, an app client, songs and accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from gateway.app.main import create_app
from gateway.app.settings import Settings
from gateway.core import security
from gateway.db.migrate import upgrade
from gateway.db.models import Song
from gateway.db.session import make_engine
from musicrec_tools.procs import free_port
from sqlalchemy import insert

PASSWORD = "correct-horse-7"
REPO_FIXTURES = Path(__file__).resolve().parents[2] / "data" / "audio" / "fixtures"

SONGS: list[dict[str, Any]] = [
    {"title": "Creep", "artist": "Radiohead", "release": "Pablo Honey", "tags": "alternative|rock"},
    {"title": "Creep (Live)", "artist": "Radiohead", "release": "Live Recordings"},
    {"title": "Karma Police", "artist": "Radiohead", "release": "OK Computer", "tags": "alternative"},
    {"title": "Yesterday", "artist": "The Beatles", "release": "Help!", "tags": "oldies|pop"},
    {"title": "Hey Jude", "artist": "The Beatles", "release": "Hey Jude"},
    {"title": "Creeping Death", "artist": "Metallica", "release": "Ride the Lightning", "tags": "metal"},
    {"title": "Vibe Ace", "artist": "Kevin MacLeod", "collection": "Incompetech", "source": "catalog"},
    {"title": "Hungarian Dance No. 5", "artist": "Johannes Brahms", "collection": "Musopen", "source": "catalog"},
    {"title": "Zombie", "artist": "The Cranberries", "release": "No Need to Argue", "genre": "Pop_Rock"},
]


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with minimal cost: the default profile takes ~0.5 s a hash on a shared 2-core machine."""
    previous = security.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    security.use_hasher(previous)


def add_songs(url: str, rows: list[dict[str, Any]]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for row in rows:  # one by one: rows have different keys
            conn.execute(insert(Song).values({"source": "msd"} | row))
    engine.dispose()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    dead = free_port()  # nothing listens there: Redis and the services are down
    values: dict[str, Any] = {
        "database_url": url,
        "var_dir": tmp_path / "var",
        "redis_url": f"redis://127.0.0.1:{dead}/0",
        "cf_service_url": f"http://127.0.0.1:{dead}",
        "audio_service_url": f"http://127.0.0.1:{dead}",
        "service_timeout_s": 0.3,
        "redis_timeout_s": 0.3,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def gw_settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    assert settings.database_url is not None
    add_songs(settings.database_url, SONGS)
    return settings


@pytest.fixture
def client(gw_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(gw_settings)) as c:
        yield c


def register(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Register (which also logs in) and return the bearer token; the client's cookie jar is cleared."""
    resp = client.post("/api/auth/register", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.text
    client.cookies.clear()
    return str(resp.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
