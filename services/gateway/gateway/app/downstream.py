"""Calls to cf_service and audio_service through the one shared ``httpx.AsyncClient``.

A timeout, a refused connection or a 5xx becomes :class:`ServiceDown`: the
routes catch it, leave that source out and report it in ``degraded``.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.app.metrics import Metrics


class ServiceDown(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service


class ServiceRejected(Exception):
    """A 4xx from a service: the request itself was bad (e.g. an unreadable clip)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


async def call(
    http: httpx.AsyncClient,
    metrics: Metrics,
    service: str,
    base_url: str,
    method: str,
    path: str,
    *,
    timeout: float,
    **kwargs: Any,
) -> Any:
    try:
        resp = await http.request(method, base_url.rstrip("/") + path, timeout=timeout, **kwargs)
    except (httpx.HTTPError, OSError) as exc:
        metrics.inc("gateway_downstream_errors_total", service=service)
        raise ServiceDown(service, type(exc).__name__) from exc
    if resp.status_code >= 500:
        metrics.inc("gateway_downstream_errors_total", service=service)
        raise ServiceDown(service, f"HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError as exc:
        metrics.inc("gateway_downstream_errors_total", service=service)
        raise ServiceDown(service, "invalid JSON") from exc
    if resp.status_code >= 400:
        raise ServiceRejected(resp.status_code, body)
    return body
