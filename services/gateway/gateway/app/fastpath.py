"""A cached ``GET /api/me/recommendations`` answered in one Redis round trip, before FastAPI routing.

The hottest request of the product is a user reloading their recommendations. When everything it needs
is already in Redis (the session's user, the user's state stamp and the recommendations cached under
that stamp), one Lua script reads the three in a single round trip and the stored bytes are sent as
they are. Anything else (no token, unusual query parameters, a miss, a revoked or expired session,
Redis slow or down) falls through to the normal route, which authenticates against the database if it
must, fills the cache and reports degradation. So this layer can only answer what the route would have
answered from the same entries, never more.

The script reads keys it computes (user id, then stamp): fine on a single Redis, not on Redis Cluster.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from musicrec_common import keys
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app.cache import REVOKED, live_session
from gateway.app.deps import request_token
from gateway.core import security
from gateway.core.modes import MODES

PATH = "/api/me/recommendations"

LOOKUP = f"""
local s = redis.call('GET', KEYS[1])
if (not s) or s == ARGV[2] then return {{s or false, false, false}} end
local ok, d = pcall(cjson.decode, s)
if (not ok) or type(d) ~= 'table' or d['id'] == nil then return {{s, false, false}} end
local uid = string.format('%d', d['id'])
local st = redis.call('GET', '{keys.STAMP_PREFIX}' .. uid)
if not st then return {{s, false, false}} end
return {{s, st, redis.call('HGET', '{keys.USER_RECS_PREFIX}' .. uid, st .. ':' .. ARGV[1])}}
"""


def _params(query: bytes, default_mode: str) -> tuple[str, int] | None:
    """``(mode, n)`` as the route would validate them, or None for anything the route should judge."""
    mode, n = default_mode, 20
    seen: set[str] = set()
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key in seen:
            return None
        seen.add(key)
        if key == "mode" and value in MODES:
            mode = value
        elif key == "n" and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= 100:
            n = int(value)
        else:
            return None
    return mode, n


class CachedRecommendationsFastPath:
    """Pure ASGI middleware: serves cache hits of ``GET /api/me/recommendations`` (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._script: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            body = await self._hit(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _hit(self, scope: Scope) -> bytes | None:
        state = getattr(getattr(scope.get("app"), "state", None), "app", None)
        token = request_token(Request(scope))
        if state is None or token is None or len(token) > 256:
            return None
        params = _params(scope.get("query_string", b""), state.settings.recs_default_mode)
        if params is None:
            return None
        cache = state.cache
        if not cache.available():
            return None
        if self._script is None:
            self._script = cache.client.register_script(LOOKUP)
        key = keys.session(security.token_hash(token))
        # The script reads field "{stamp}:" + ARGV[1] of keys.user_recs: keys.user_recs_field's layout.
        try:
            # Without a `scope` parameter the route uses the default scope (library once there is one).
            field = keys.user_recs_field("", params[0], params[1], state.library.known_default)[1:]
            session, stamp, body = await asyncio.wait_for(
                self._script(keys=[key], args=[field, REVOKED]), cache.timeout_s
            )
        except Exception:
            return None  # the route will try again and report it
        if session is None or body is None or stamp is None or cache.has_pending():
            return None
        if live_session(session if isinstance(session, bytes) else str(session).encode()) is None:
            return None
        state.metrics.inc("gateway_cache_hits_total", kind="session")
        state.metrics.inc("gateway_cache_hits_total", kind="user_recs")
        state.metrics.inc("gateway_fastpath_hits_total", kind="user_recs")
        return body if isinstance(body, bytes) else str(body).encode()
