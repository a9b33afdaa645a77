"""Scrobbling like ListenBrainz: players with a ListenBrainz plug-in send their plays here.

``POST /1/submit-listens`` and ``GET /1/validate-token`` follow the ListenBrainz API (``Authorization:
Token <token>``, ``listen_type`` ``single`` / ``import`` / ``playing_now``, ``track_metadata`` with
``artist_name``, ``track_name``, ``release_name``, ``additional_info``) and answer in its shapes: errors
are ``{"code", "error"}``. A user creates and revokes tokens on the account page (``/api/me/scrobble-tokens``).
Submitted listens are matched to the catalog like history imports and become plays, once each
(``listened_at`` identifies a listen); ``playing_now`` records nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.app.deps import State
from gateway.core.history import Listen, parse_time
from gateway.db import scrobble
from gateway.db.recs import user_stamp

router = APIRouter(prefix="/1", tags=["listenbrainz"])
MAX_BODY = 10 * 1024 * 1024  # ListenBrainz caps a submission far lower; imports come in pages
MAX_LISTENS = 1000
LISTEN_TYPES = ("single", "import", "playing_now")


class LbError(BaseModel):
    code: int
    error: str


class LbStatus(BaseModel):
    status: str


class LbValidation(BaseModel):
    code: int
    message: str
    valid: bool
    user_name: str | None = None


LB_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": LbError, "description": "Malformed submission (ListenBrainz error shape)"},
    401: {"model": LbError, "description": "Missing or invalid token"},
    413: {"model": LbError, "description": "Submission too large"},
}
SUBMISSION_SCHEMA = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["listen_type", "payload"],
                "properties": {
                    "listen_type": {"type": "string", "enum": list(LISTEN_TYPES)},
                    "payload": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["track_metadata"],
                            "properties": {
                                "listened_at": {"type": "integer"},
                                "track_metadata": {
                                    "type": "object",
                                    "required": ["artist_name", "track_name"],
                                    "properties": {
                                        "artist_name": {"type": "string"},
                                        "track_name": {"type": "string"},
                                        "release_name": {"type": "string"},
                                        "additional_info": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                },
            }
        }
    },
}


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=code, content={"code": code, "error": message})


def _token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "token" and value and len(value) <= 256 else None


class BadSubmission(ValueError):
    pass


def parse_submission(body: object) -> tuple[str, list[Listen]]:
    """(listen_type, listens) of a ListenBrainz submission; raises :class:`BadSubmission` saying why."""
    if not isinstance(body, dict):
        raise BadSubmission("Invalid JSON document submitted.")
    listen_type = body.get("listen_type")
    if listen_type not in LISTEN_TYPES:
        raise BadSubmission(f"listen_type must be one of {', '.join(LISTEN_TYPES)}.")
    payload = body.get("payload")
    if not isinstance(payload, list) or not payload:
        raise BadSubmission("payload must be a non-empty list of listens.")
    if listen_type != "import" and len(payload) != 1:
        raise BadSubmission(f"{listen_type} submissions carry exactly one listen.")
    if len(payload) > MAX_LISTENS:
        raise BadSubmission(f"at most {MAX_LISTENS} listens per submission.")
    listens = []
    for number, item in enumerate(payload, start=1):
        meta = item.get("track_metadata") if isinstance(item, dict) else None
        if not isinstance(meta, dict):
            raise BadSubmission(f"listen {number}: track_metadata is required.")
        artist, title = meta.get("artist_name"), meta.get("track_name")
        if not isinstance(artist, str) or not artist.strip() or not isinstance(title, str) or not title.strip():
            raise BadSubmission(f"listen {number}: artist_name and track_name are required strings.")
        release = meta.get("release_name")
        if release is not None and not isinstance(release, str):
            raise BadSubmission(f"listen {number}: release_name must be a string.")
        if "additional_info" in meta and not isinstance(meta["additional_info"], dict):
            raise BadSubmission(f"listen {number}: additional_info must be an object.")
        if listen_type == "playing_now":
            continue
        when = item.get("listened_at")
        if not isinstance(when, int) or isinstance(when, bool) or when <= 0:
            raise BadSubmission(f"listen {number}: listened_at (a Unix time) is required.")
        try:
            played = parse_time(when)
        except ValueError as exc:
            raise BadSubmission(f"listen {number}: {exc}.") from None
        listens.append(Listen(number, artist.strip(), title.strip(), release, played))
    return str(listen_type), listens


@router.get("/validate-token", response_model=LbValidation, responses={400: LB_ERRORS[400]})
async def validate_token(
    state: State,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query(max_length=256)] = None,
) -> LbValidation | JSONResponse:
    """Whether a scrobble token is valid (as ListenBrainz answers: 200 either way, `valid` says)."""
    value = _token(authorization) or token
    if not value:
        return _error(400, "You need to provide an Authorization token.")

    def lookup() -> str | None:
        with state.sessions() as session:
            user = scrobble.user_for_token(session, value)
            return user.username if user is not None else None

    name = await run_in_threadpool(lookup)
    if name is None:
        return LbValidation(code=200, message="Token invalid.", valid=False)
    return LbValidation(code=200, message="Token valid.", valid=True, user_name=name)


@router.post(
    "/submit-listens", response_model=LbStatus, responses=LB_ERRORS, openapi_extra={"requestBody": SUBMISSION_SCHEMA}
)
async def submit_listens(
    request: Request, state: State, authorization: Annotated[str | None, Header()] = None
) -> LbStatus | JSONResponse:
    """Record the plays a player sends (`Authorization: Token <your scrobble token>`)."""
    token = _token(authorization)
    if token is None:
        return _error(401, "You need to provide an Authorization header.")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "Payload too large.")

    def check() -> int | None:
        with state.sessions() as session:
            user = scrobble.user_for_token(session, token)
            return user.id if user is not None else None

    user_id = await run_in_threadpool(check)
    if user_id is None:
        return _error(401, "Invalid authorization token.")
    try:
        listen_type, listens = parse_submission(json.loads(body))
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        message = str(exc) if isinstance(exc, BadSubmission) else "Cannot parse JSON document."
        return _error(400, message)
    if listen_type == "playing_now" or not listens:
        return LbStatus(status="ok")

    def record() -> str:
        index = state.matcher.index()
        with state.sessions() as session:
            scrobble.record_listens(session, token, listens, index)
            return user_stamp(session, user_id)

    stamp = await run_in_threadpool(record)
    await state.cache.put_stamp(user_id, stamp, state.settings.stamp_cache_ttl_s, after_write=True)
    return LbStatus(status="ok")
