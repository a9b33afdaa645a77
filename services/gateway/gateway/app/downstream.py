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


# What a dead kept-alive connection raises (not a timeout: a slow service is not asked twice).
STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
STALE_ATTEMPTS = 4  # the pool may hold one dead connection per concurrent request of before


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
    url = base_url.rstrip("/") + path
    for attempt in range(1, STALE_ATTEMPTS + 1):
        try:
            resp = await http.request(method, url, timeout=timeout, **kwargs)
            break
        except STALE as exc:
            # A kept-alive connection to a process that has restarted since fails at once, before any answer:
            # the pool drops it and the next attempt takes another (or a new) connection. Every call here is a
            # read, so asking again is safe.
            if attempt < STALE_ATTEMPTS:
                continue
            metrics.inc("gateway_downstream_errors_total", service=service)
            raise ServiceDown(service, type(exc).__name__) from exc
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
