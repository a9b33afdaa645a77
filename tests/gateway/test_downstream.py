"""Calls to the services: a dead kept-alive connection is asked again at once; a slow service is not."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from gateway.app.downstream import STALE_ATTEMPTS, ServiceDown, call
from gateway.app.metrics import Metrics


def in_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: another test module may leave a loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run(failures: list[Exception]) -> tuple[object, int]:
    """``call`` through a transport that raises ``failures`` in turn, then answers; returns (body, attempts)."""
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if failures:
            raise failures.pop(0)
        return httpx.Response(200, json={"ok": True})

    async def go() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await call(http, Metrics(), "cf", "http://cf", "GET", "/x", timeout=1.0)

    return in_thread(go()), attempts


def test_a_restarted_services_dead_connections_are_retried() -> None:
    dead = [httpx.RemoteProtocolError("Server disconnected"), httpx.ReadError("reset")]
    assert run(dead) == ({"ok": True}, 3)
    with pytest.raises(ServiceDown):
        run([httpx.RemoteProtocolError("gone")] * STALE_ATTEMPTS)


def test_a_timeout_is_not_asked_twice() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ReadTimeout("slow")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await call(http, Metrics(), "cf", "http://cf", "GET", "/x", timeout=1.0)

    with pytest.raises(ServiceDown):
        in_thread(go())
    assert attempts == 1
