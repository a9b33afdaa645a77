"""Fixtures of the deployment tests: docker-compose.yml, the Dockerfiles, the init script, the manifests.

Nothing here needs a Docker engine or a cluster: compose is validated by ``docker compose config`` (the v2
plugin when present, else Debian's ``docker-compose``, which ``make install-dev`` installs), the rest is
parsed in Python.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "deploy" / "docker"
COMPOSE_FILE = REPO / "docker-compose.yml"

# The secrets docker-compose.yml requires through ${VAR:?}; test values only.
SECRETS = {
    "POSTGRES_PASSWORD": "pgTestPassw0rd",
    "ADMIN_PASSWORD": "admin-test-password",
    "DEMO_PASSWORD": "demo-test-password-12",
    "CF_ADMIN_TOKEN": "cf-test-token-123",
    "AUDIO_ADMIN_TOKEN": "audio-test-token-123",
    "CREDENTIALS_SECRET": "credentials-test-secret",
}

# Compose service -> (Dockerfile, Python package it serves); the one-shots share the init image.
SERVICE_IMAGES = {
    "gateway": ("gateway.Dockerfile", "gateway"),
    "cf_service": ("cf_service.Dockerfile", "cf_service"),
    "audio_service": ("audio_service.Dockerfile", "audio_service"),
    "init": ("init.Dockerfile", None),
    "init-audio": ("init.Dockerfile", None),
    "retrain": ("init.Dockerfile", None),
}
ONE_SHOTS = {"init", "init-audio", "retrain"}


def compose_command() -> list[str]:
    """`docker compose` (v2) when the plugin works, else `docker-compose`; the test fails when neither exists."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed: `make install-dev` installs Debian's "
        "docker-compose (apt-get install docker-compose)"
    )


def run_compose(args: list[str], secrets: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """`compose -f docker-compose.yml --profile tools <args>` with exactly ``secrets`` in the environment.

    An empty --env-file keeps a developer's .env out of it; the secrets are removed from the inherited
    environment, so "missing" really means missing.
    """
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | secrets
    env_file = tmp / "empty.env"
    env_file.write_text("")
    argv = [*compose_command(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "--profile", "tools", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp, check=False, timeout=120)


@pytest.fixture(scope="session")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The resolved compose configuration, with every required secret set."""
    result = run_compose(["config"], SECRETS, tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    return config


@dataclass
class Stage:
    """One build stage of a Dockerfile: its FROM line and its instructions (continuations joined)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]  # ARG defaults before the first FROM
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def parse_dockerfile(path: Path) -> Dockerfile:
    text = re.sub(
        r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    )
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{path.name}: only ARG may precede FROM, got {keyword}"
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(path, args, stages)


@pytest.fixture(scope="session")
def dockerfiles() -> dict[str, Dockerfile]:
    """Every deploy/docker/*.Dockerfile, parsed, by file name."""
    found = {p.name: parse_dockerfile(p) for p in sorted(DOCKER_DIR.glob("*.Dockerfile"))}
    assert found, "no Dockerfiles in deploy/docker"
    return found


@pytest.fixture(scope="session")
def init_script() -> ModuleType:
    """deploy/docker/musicrec_init.py, imported from its file (it is copied into the init image)."""
    path = DOCKER_DIR / "musicrec_init.py"
    spec = importlib.util.spec_from_file_location("musicrec_init", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("musicrec_init", module)
    spec.loader.exec_module(module)
    return module


def compose_file() -> dict[str, Any]:
    """docker-compose.yml as written (no interpolation): image names, build sections."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def compose_images() -> dict[str, str]:
    """Compose service -> image repository (tag dropped) for every service, built or pulled."""
    return {name: image_repository(svc["image"]) for name, svc in compose_file()["services"].items()}


def image_repository(image: str) -> str:
    """`registry/name` without tag or digest: ``musicrec/gateway:${MUSICREC_TAG:-latest}`` -> ``musicrec/gateway``."""
    head, _, last = image.split("@")[0].rpartition("/")
    last = last.partition(":")[0]
    return f"{head}/{last}" if head else last
