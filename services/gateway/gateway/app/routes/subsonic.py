"""The Subsonic / OpenSubsonic API under ``/rest/`` (first part: the protocol, authentication, system methods).

Every method answers at ``/rest/<method>`` and ``/rest/<method>.view``, by GET or by POST with a form body (the
``formPost`` extension), in XML or with ``f=json`` in JSON. Parameters, authentication and errors follow the
protocol (:mod:`gateway.core.subsonic`): a bad request is an error answer in its shape, never a 5xx or a page.
Authentication: ``u`` + ``p`` (plain or ``enc:``) against the account's password, under the login limits.
Token authentication (``t`` + ``s``) and API keys need app passwords, which this server does not issue yet:
they are refused with 41 and 44.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from musicrec_common.web import ApiError

from gateway import __version__
from gateway.app.deps import client_address
from gateway.app.state import AppState
from gateway.core import subsonic as ss
from gateway.db import accounts

router = APIRouter(tags=["subsonic"])
MAX_VALUE = 4096  # characters of one parameter value
MAX_PARAMS = 200
EXTENSIONS = [{"name": "formPost", "versions": [1]}]


@dataclass
class Call:
    """One authenticated request: who, and its parameters (repeated names keep every value)."""

    state: AppState
    user_id: int
    username: str
    params: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {name}")
        return value


Method = Callable[[Call], Awaitable[ss.Answer]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return register


@method("ping")
async def ping(call: Call) -> ss.Answer:
    return ss.Answer()


@method("getLicense")
async def get_license(call: Call) -> ss.Answer:
    return ss.Answer({"license": {"valid": True}})


@method("getOpenSubsonicExtensions")
async def get_extensions(call: Call) -> ss.Answer:
    return ss.Answer({"openSubsonicExtensions": EXTENSIONS})


async def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            form = await request.form(max_files=0, max_fields=MAX_PARAMS)
            for key, item in form.multi_items():
                if isinstance(item, str):
                    params.setdefault(key, []).append(item)
    if sum(len(v) for v in params.values()) > MAX_PARAMS:
        raise ss.SubsonicError(ss.GENERIC, f"too many parameters (at most {MAX_PARAMS})")
    for key, values in params.items():
        if len(key) > 64 or any(len(v) > MAX_VALUE for v in values):
            raise ss.SubsonicError(ss.GENERIC, f"parameter {key[:64]!r} is longer than {MAX_VALUE} characters")
    return params


async def _authenticate(state: AppState, request: Request, params: dict[str, list[str]]) -> tuple[int, str]:
    """The user the request authenticates as, or a protocol error (10, 40, 41, 42, 43, 44)."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    username, password, token, salt, api_key = (one(k) for k in ("u", "p", "t", "s", "apiKey"))
    if api_key is not None:
        if username is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either apiKey or u, not both")
        raise ss.SubsonicError(ss.INVALID_API_KEY, "invalid API key")
    if not username:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: u")
    if token is not None or salt is not None:
        if password is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either p or t and s, not both")
        raise ss.SubsonicError(
            ss.TOKEN_NOT_SUPPORTED, "token authentication needs an app password, which this server does not issue yet"
        )
    if password is None:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: p (or t and s)")
    keys = [f"user:{username.strip().lower()}", f"ip:{client_address(request)}"]
    try:
        await state.login_limiter.enforce(keys, "failed logins")
    except ApiError as exc:
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, exc.message) from exc
    secret = ss.decode_password(password)

    def check() -> tuple[int, str] | None:
        with state.sessions() as db:
            user = accounts.authenticate(db, username, secret)
            return (user.id, user.username) if user is not None else None

    found = await run_in_threadpool(check)
    if found is None:
        await state.login_limiter.record(keys)
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, "wrong username or password")
    await state.login_limiter.reset(keys[:1])
    return found


@router.api_route("/rest/{name}", methods=["GET", "POST"], include_in_schema=False)
async def dispatch(name: str, request: Request) -> Response:
    """Every Subsonic method: ``/rest/<method>`` or ``/rest/<method>.view``."""
    state: AppState = request.app.state.app
    fmt = "json" if request.query_params.get("f") == "json" else "xml"
    try:
        params = await _params(request)
        fmt = "json" if (params.get("f") or ["xml"])[0] == "json" else "xml"
        handler = METHODS.get(name.removesuffix(".view"))
        if handler is None:
            raise ss.SubsonicError(ss.NOT_FOUND, f"no method {name[:64]!r} on this server")
        for required in ("v", "c"):
            if not (params.get(required) or [""])[0]:
                raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {required}")
        ss.check_client_version(params["v"][0])
        user_id, username = await _authenticate(state, request, params)
        answer = await handler(Call(state, user_id, username, params))
        content, media = ss.render(answer.body, fmt, __version__)
    except ss.SubsonicError as exc:
        content, media = ss.render_error(exc, fmt, __version__)
    return Response(content=content, media_type=media)
