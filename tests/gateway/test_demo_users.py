"""`python -m gateway create-demo-users`: idempotent, passwords printed once, production refuses defaults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gateway.__main__ import main
from gateway.app.main import create_app
from gateway.app.settings import Settings, get_settings
from gateway.db.importer import import_data
from gateway.db.migrate import upgrade
from gateway.db.models import Play, User
from gateway.db.session import make_engine
from pydantic import ValidationError
from sqlalchemy import func, select

# Listeners by number of songs: only 40..120 qualify; the most songs first.
LISTENERS = {"u_sixty": 60, "u_fifty": 50, "u_fortyfive": 45, "u_fortyone": 41, "u_few": 30, "u_many": 130}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    listens = tmp_path / "listens.tsv"
    listens.write_text(
        "".join(f"{user}\tSONG{i:04d}\t{i % 7 + 1}\n" for user, n in LISTENERS.items() for i in range(n))
    )
    engine = make_engine(url)
    import_data(engine, songs_path=None, listens_paths=[listens])
    engine.dispose()
    for name in ("ADMIN_PASSWORD", "DEMO_PASSWORD", "SECRET_KEY", "APP_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def users(url: str) -> dict[str, tuple[str | None, bool, int]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(User.username, User.msd_user_id, User.password_hash.is_not(None), func.count(Play.id))
            .outerjoin(Play, Play.user_id == User.id)
            .group_by(User.id, User.username, User.msd_user_id, User.password_hash)
        ).all()
    engine.dispose()
    return {name: (msd, bool(has_pw), int(n)) for name, msd, has_pw, n in rows}


def test_demo_users_are_rich_listeners_idempotent_passwords_once(
    env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["create-demo-users"]) == 0
    out = capsys.readouterr().out
    passwords = dict(re.findall(r"^(\w+): created .*password (\S+)  \(generated", out, re.M))
    assert set(passwords) == {"admin", "alice", "bob", "carol", "dave"}
    found = users(env)
    assert found["alice"] == ("u_sixty", True, 60)  # the listener's own plays are the account's history
    assert found["bob"] == ("u_fifty", True, 50)
    assert found["carol"] == ("u_fortyfive", True, 45)
    assert found["dave"] == ("u_fortyone", True, 41)
    assert found["admin"] == (None, True, 0)
    assert "msd_u_sixty" not in found and "msd_u_many" in found and len(found) == 7

    # Nothing is stored in clear: the printed password is not in the database file.
    assert passwords["alice"].encode() not in Path(env.removeprefix("sqlite:///")).read_bytes()

    assert main(["create-demo-users"]) == 0
    again = capsys.readouterr().out
    assert "password" not in again and again.count("exists, unchanged") == 5
    assert users(env) == found

    with TestClient(create_app(Settings(redis_url="redis://127.0.0.1:1/0"))) as client:
        resp = client.post("/api/auth/login", json={"username": "alice", "password": passwords["alice"]})
        assert resp.status_code == 200
        history = client.get("/api/me/history", headers={"Authorization": f"Bearer {resp.json()['token']}"})
        assert history.json()["total"] == 60
        admin = client.post("/api/auth/login", json={"username": "admin", "password": passwords["admin"]})
        assert admin.json()["user"]["is_admin"] is True


def test_passwords_from_environment(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", "admin-password-from-env")
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-from-env")
    assert main(["create-demo-users"]) == 0
    out = capsys.readouterr().out
    assert "generated" not in out and "demo-password-from-env" not in out
    assert "alice: created" in out and "password from DEMO_PASSWORD" in out


def test_production_refuses_default_demo_password(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MODE", "production")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-real-admin-password")
    monkeypatch.setenv("CREDENTIALS_SECRET", "a-real-credentials-secret")
    for weak in ("demo", "password", "short-pw"):
        monkeypatch.setenv("DEMO_PASSWORD", weak)
        get_settings.cache_clear()
        with pytest.raises(ValidationError, match="DEMO_PASSWORD"):
            main(["create-demo-users"])
    assert users(env).keys() == {f"msd_{u}" for u in LISTENERS}


def test_production_without_demo_password_creates_only_admin(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_MODE", "production")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-real-admin-password")
    monkeypatch.setenv("CREDENTIALS_SECRET", "a-real-credentials-secret")
    assert main(["create-demo-users"]) == 0
    captured = capsys.readouterr()
    assert "demo accounts are not created" in captured.err
    assert "admin: created (administrator); password from ADMIN_PASSWORD" in captured.out
    assert "alice" not in users(env)
