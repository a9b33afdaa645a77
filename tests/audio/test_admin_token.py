"""audio_service's writes (``POST /songs`` adds to the index, ``POST /admin/reload``) need AUDIO_ADMIN_TOKEN."""

from __future__ import annotations

from pathlib import Path

import pytest
from audio_service.app.main import create_app
from audio_service.app.settings import Settings
from fastapi.testclient import TestClient
from pydantic import ValidationError

TOKEN = "a" * 32
CLIP = {"file": ("clip.ogg", b"OggS" + b"\0" * 64, "audio/ogg")}


def test_writes_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, admin_token=TOKEN)  # no model yet: the service is up, search is not
    with TestClient(create_app(settings)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            reload = client.post("/admin/reload", headers=headers)
            assert reload.status_code == 401 and reload.headers["www-authenticate"] == "Bearer", reload.text
            assert reload.json()["error"]["code"] == "unauthorized"
            assert client.post("/songs", files=CLIP, headers=headers).status_code == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/admin/reload", headers=good).status_code == 200
        # Past the token check: refused for the missing model, not for the caller.
        assert client.post("/songs", files=CLIP, headers=good).status_code == 503
        assert not (tmp_path / "audio" / "uploads").exists()  # nothing written by the refused calls
        # Searching stays open to the gateway without a token.
        assert client.post("/query", files=CLIP).status_code != 401


def test_production_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="AUDIO_ADMIN_TOKEN"):
        Settings(var_dir=tmp_path, app_mode="production")
    with pytest.raises(ValidationError, match="AUDIO_ADMIN_TOKEN"):
        Settings(var_dir=tmp_path, app_mode="production", admin_token="change-me")
    with pytest.raises(ValidationError, match="AUDIO_ADMIN_TOKEN"):
        Settings(var_dir=tmp_path, app_mode="production", admin_token="changeme")
    assert Settings(var_dir=tmp_path, app_mode="production", admin_token=TOKEN).admin_token == TOKEN
