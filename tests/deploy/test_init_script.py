"""deploy/docker/musicrec_init.py: the containers' one-shot preparation is `make run`'s own step list, every
command it runs parses as a real CLI invocation, and reloads reach every replica with the admin token."""

from __future__ import annotations

import argparse
import contextlib
import http.server
import importlib
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from musicrec_tools.devstack import audio_steps, preparation_steps


class Parsed(Exception):
    """Raised instead of running a command once argparse has accepted its arguments."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


def parse_only(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """Run ``python -m MODULE ARGS`` up to its argument parsing: proves the subcommand and options exist."""
    assert argv[1] == "-m", argv
    module, args = argv[2], argv[3:]
    original = argparse.ArgumentParser.parse_args

    def stop(self: argparse.ArgumentParser, *a: Any, **kw: Any) -> argparse.Namespace:
        raise Parsed(original(self, *a, **kw))

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", stop)
        with pytest.raises(Parsed) as parsed:
            importlib.import_module(f"{module}.__main__").main(args)
    return parsed.value.namespace


def names(steps: list[Any]) -> list[str]:
    return [s.name for s in steps]


def test_phases_are_devstacks_steps(init_script: ModuleType, tmp_path: Path) -> None:
    data, var = tmp_path / "data", tmp_path / "var"
    core, audio = names(preparation_steps(data, var)), names(audio_steps(data, var))
    assert names(init_script.plan("core", data, var)) == core
    assert names(init_script.plan("audio", data, var)) == audio
    assert names(init_script.plan("all", data, var)) == core + audio
    assert names(init_script.plan("retrain", data, var)) == ["export-plays", "train-cf"]
    # Same commands too, not just the same names (tiny sizes pass through).
    tiny = init_script.plan("audio", data, var, tiny_audio=True)
    assert [s.argv for s in tiny] == [s.argv for s in audio_steps(data, var, tiny=True)]
    parser = init_script.build_parser()
    assert [parser.parse_args([phase]).phase for phase in init_script.PHASES] == ["core", "audio", "retrain", "all"]
    with pytest.raises(SystemExit):
        parser.parse_args(["everything"])


def test_every_devstack_step_is_classified(init_script: ModuleType, tmp_path: Path) -> None:
    every = set(names(preparation_steps(tmp_path, tmp_path, tmp_path))) | set(names(audio_steps(tmp_path, tmp_path)))
    assert set(init_script.ALWAYS) | set(init_script.OUTPUTS) == every
    assert not set(init_script.ALWAYS) & set(init_script.OUTPUTS)


def test_database_steps_always_run_and_lost_outputs_drop_their_stamps(init_script: ModuleType, tmp_path: Path) -> None:
    var = tmp_path / "var"
    stamps = var / "stamps"
    stamps.mkdir(parents=True)
    for step in ("train-cf", "audio-catalog", "audio-index"):
        (stamps / f"{step}.sha256").write_text("old")
    (var / "audio" / "catalog").mkdir(parents=True)
    (var / "audio" / "catalog" / "catalog.json").write_text("{}")  # present: its stamp stays
    (var / "audio" / "index").mkdir()  # empty: as good as missing
    steps = {s.name: s for s in init_script.plan("all", tmp_path / "data", var, music_dir=tmp_path)}
    assert all(steps[name].always for name in init_script.ALWAYS)
    assert not any(steps[name].always for name in init_script.OUTPUTS)
    assert sorted(p.name for p in stamps.iterdir()) == ["audio-catalog.sha256"]


def test_every_command_is_a_real_cli_invocation(
    init_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, var = tmp_path / "data", tmp_path / "var"
    commands = [s.argv for s in init_script.plan("all", data, var, music_dir=tmp_path)]
    commands += [s.argv for s in init_script.plan("audio", data, var, tiny_audio=True)]
    commands.append(init_script.publish_argv(var, "redis://redis:6379/0"))
    for argv in commands:
        parse_only(argv, monkeypatch)
    publish = parse_only(init_script.publish_argv(var, "redis://redis:6379/0"), monkeypatch)
    assert publish.model_dir == str(var / "cf_models") and publish.redis_url == "redis://redis:6379/0"


def test_endpoints_of_database_and_redis_urls(init_script: ModuleType) -> None:
    assert init_script.endpoint("postgresql+psycopg://u:p@postgres:5432/db") == ("postgres", 5432)
    assert init_script.endpoint("postgresql+psycopg://u:p@db.internal/db") == ("db.internal", 5432)
    assert init_script.endpoint("redis://redis/0") == ("redis", 6379)
    assert init_script.endpoint("sqlite:////var/lib/musicrec/musicrec.db") is None


class Recorder(http.server.BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, str | None]]] = []
    status = 200

    def do_POST(self) -> None:
        type(self).calls.append(("POST", self.path, self.headers.get("Authorization")))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def recorder(status: int = 200) -> Iterator[tuple[str, list[tuple[str, str, str | None]]]]:
    class Handler(Recorder):
        calls: ClassVar[list[tuple[str, str, str | None]]] = []

    Handler.status = status
    handler = Handler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.calls
    finally:
        server.shutdown()
        server.server_close()


def test_reload_posts_to_every_address_with_the_token(init_script: ModuleType) -> None:
    with recorder() as (url, calls):
        done = init_script.reload_all(url, "secret-token")
    assert done == [f"{url}/admin/reload"]
    assert calls == [("POST", "/admin/reload", "Bearer secret-token")]


def test_a_failed_reload_stops_the_job(init_script: ModuleType) -> None:
    with (
        recorder(status=401) as (url, _),
        pytest.raises(SystemExit, match=r"reload http://127\.0\.0\.1:\d+/admin/reload failed"),
    ):
        init_script.reload_all(url, "wrong")
    with pytest.raises(SystemExit, match="cannot resolve"):
        init_script.reload_all("http://no-such-host.invalid:8001", None)
