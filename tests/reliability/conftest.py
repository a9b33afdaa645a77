"""Fixtures of the reliability tests (issue 8).

The tests that need the whole product use the session's real stack (``stack`` in tests/conftest.py, the
same one the integration tests use); the load generator and the fault helpers are those of the bench
scripts (bench/traffic.py), so the short tests and the long benches run the same code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from gateway.core import security

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "data" / "audio" / "fixtures"
CLIP = FIXTURES / "sorohanro_-_solo-trumpet-06.ogg"
sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture
def cheap_hashing() -> Iterator[None]:
    """Argon2 at minimal cost for accounts the tests create in-process (the default costs ~0.5 s a hash)."""
    previous = security.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    security.use_hasher(previous)


def login(base_url: str, username: str, password: str) -> str:
    resp = httpx.post(f"{base_url}/api/auth/login", json={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


@pytest.fixture(autouse=True)
def whole_stack(request: pytest.FixtureRequest) -> None:
    """Before a test that uses the session's stack: every process of it running. A test before (of this
    folder or another) may have stopped one and failed before starting it again."""
    if "stack" not in request.fixturenames:
        return
    from traffic import restart

    stack = request.getfixturevalue("stack")
    for name, proc in list(stack.procs.items()):
        if not proc.alive():
            restart(stack, name)


@pytest.fixture(scope="session")
def demo_tokens(stack: Any) -> dict[str, str]:
    """Session tokens of the stack's demo listeners, logged in once (failed logins are rate-limited)."""
    base = stack.url("gateway", "")
    return {name: login(base, name, stack.env["DEMO_PASSWORD"]) for name in ("alice", "bob", "carol", "dave")}
