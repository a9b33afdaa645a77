"""FastAPI dependencies: the database session and who is calling.

The caller is identified only by a session token, from the ``Authorization:
Bearer`` header (API clients) or the httpOnly cookie (the browser); no route
ever takes a user id from the client. Dependencies are async (a sync
dependency costs a thread-pool hop even when it does nothing); database work
inside them goes to the thread pool explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from musicrec_common.web import ApiError
from sqlalchemy.orm import Session

from gateway.app.state import AppState
from gateway.db.accounts import AuthenticatedUser, session_user

SESSION_COOKIE = "musicrec_session"


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.app
    return state


def db_session(state: Annotated[AppState, Depends(app_state)]) -> Iterator[Session]:
    """One SQLAlchemy session per request, closed (and rolled back if still open) afterwards."""
    with state.sessions() as session:
        yield session


def request_token(request: Request) -> str | None:
    """The session token of the request: bearer header first, then the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def optional_user(request: Request, state: Annotated[AppState, Depends(app_state)]) -> AuthenticatedUser | None:
    token = request_token(request)
    if not token or len(token) > 256:
        return None
    # One thread-pool hop with a short session of its own: the connection goes back to the pool at once
    # instead of being held for the whole request.
    return await run_in_threadpool(_lookup_session, state, token)


def _lookup_session(state: AppState, token: str) -> AuthenticatedUser | None:
    with state.sessions() as session:
        return session_user(session, token)


async def current_user(user: Annotated[AuthenticatedUser | None, Depends(optional_user)]) -> AuthenticatedUser:
    if user is None:
        raise ApiError(
            401, "log in first (session missing, expired or revoked)", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


async def require_admin(user: Annotated[AuthenticatedUser, Depends(current_user)]) -> AuthenticatedUser:
    if not user.is_admin:
        raise ApiError(403, "administrators only")
    return user


State = Annotated[AppState, Depends(app_state)]
Db = Annotated[Session, Depends(db_session)]
User = Annotated[AuthenticatedUser, Depends(current_user)]
MaybeUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]
Admin = Annotated[AuthenticatedUser, Depends(require_admin)]
