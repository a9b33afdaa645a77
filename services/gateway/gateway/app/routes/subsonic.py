"""The Subsonic / OpenSubsonic API under ``/rest/``: the one route that parses, authenticates and dispatches.

Every method answers at ``/rest/<method>`` and ``/rest/<method>.view``, by GET or by POST with a form body (the
``formPost`` extension), in XML or with ``f=json`` in JSON. Parameters, authentication and errors follow the
protocol (:mod:`gateway.core.subsonic`): a bad request is an error answer in its shape, never a 5xx or a page.
The methods live in :mod:`gateway.app.subsonic` (browse, annotate, discovery), registered by name.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway import __version__
from gateway.app.state import AppState
from gateway.app.subsonic import annotate, browse, discovery  # noqa: F401  (they register their methods)
from gateway.app.subsonic.auth import authenticate
from gateway.app.subsonic.protocol import BINARY, EXTENSIONS, METHODS, Call, method
from gateway.core import subsonic as ss

router = APIRouter(tags=["subsonic"])
log = logging.getLogger(__name__)
MAX_VALUE = 4096  # characters of one parameter value
MAX_PARAMS = 1000  # values of all parameters (a playlist of many songs sends one `songId` each)


@method("ping")
async def ping(call: Call) -> ss.Answer:
    return ss.Answer()


@method("getLicense")
async def get_license(call: Call) -> ss.Answer:
    return ss.Answer({"license": {"valid": True}})


@method("getOpenSubsonicExtensions")
async def get_extensions(call: Call) -> ss.Answer:
    return ss.Answer({"openSubsonicExtensions": EXTENSIONS})


@method("tokenInfo")
async def token_info(call: Call) -> ss.Answer:
    """Whose API key this is (the ``apiKeyAuthentication`` extension)."""
    return ss.Answer({"tokenInfo": {"username": call.username}})


async def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            try:
                form = await request.form(max_files=0, max_fields=MAX_PARAMS)
            except Exception as exc:  # too many fields, a broken body: Starlette refuses it before we see it
                raise ss.SubsonicError(ss.GENERIC, "the form body could not be read (at most 1000 fields)") from exc
            for key, item in form.multi_items():
                if isinstance(item, str):
                    params.setdefault(key, []).append(item)
    if sum(len(v) for v in params.values()) > MAX_PARAMS:
        raise ss.SubsonicError(ss.GENERIC, f"too many parameters (at most {MAX_PARAMS})")
    for key, values in params.items():
        if len(key) > 64 or any(len(v) > MAX_VALUE for v in values):
            raise ss.SubsonicError(ss.GENERIC, f"parameter {key[:64]!r} is longer than {MAX_VALUE} characters")
        if any("\x00" in v for v in values):
            raise ss.SubsonicError(ss.GENERIC, f"parameter {key[:64]!r} holds a NUL character")
    return params


@router.api_route("/rest/{name}", methods=["GET", "POST"], include_in_schema=False)
async def dispatch(name: str, request: Request) -> Response:
    """Every Subsonic method: ``/rest/<method>`` or ``/rest/<method>.view``."""
    state: AppState = request.app.state.app
    fmt = "json" if request.query_params.get("f") == "json" else "xml"
    try:
        params = await _params(request)
        fmt = "json" if (params.get("f") or ["xml"])[0] == "json" else "xml"
        wanted = name.removesuffix(".view")
        handler = METHODS.get(wanted)
        binary = BINARY.get(wanted)
        if handler is None and binary is None:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no method {name[:64]!r} on this server")
        for required in ("v", "c"):
            if not (params.get(required) or [""])[0]:
                raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {required}")
        ss.check_client_version(params["v"][0])
        who = await authenticate(state, request, params)
        call = Call(state, who.user_id, who.username, who.is_admin, params)
        if binary is not None:  # the file itself (stream, download, cover art); errors in the protocol's shape
            return await binary(call, request)
        assert handler is not None
        answer = await handler(call)
        content, media = ss.render(answer.body, fmt, __version__)
    except ss.SubsonicError as exc:
        content, media = ss.render_error(exc, fmt, __version__)
    return Response(content=content, media_type=media)
