"""FastAPI dependencies: the database session and who is calling.

The caller is identified only by a session token, from the ``Authorization:
Bearer`` header (API clients) or the httpOnly cookie (the browser); no route
ever takes a user id from the client. These are sync functions, so FastAPI
runs them (and their database calls) in its thread pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from musicrec_common.web import ApiError
from sqlalchemy.orm import Session

from gateway.app.state import AppState
from gateway.db.accounts import AuthenticatedUser, session_user

SESSION_COOKIE = "musicrec_session"


def app_state(request: Request) -> AppState:
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


def optional_user(request: Request, session: Annotated[Session, Depends(db_session)]) -> AuthenticatedUser | None:
    token = request_token(request)
    if not token or len(token) > 256:
        return None
    user = session_user(session, token)
    session.commit()  # end the read transaction: the route starts its own
    return user


def current_user(user: Annotated[AuthenticatedUser | None, Depends(optional_user)]) -> AuthenticatedUser:
    if user is None:
        raise ApiError(
            401, "log in first (session missing, expired or revoked)", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def require_admin(user: Annotated[AuthenticatedUser, Depends(current_user)]) -> AuthenticatedUser:
    if not user.is_admin:
        raise ApiError(403, "administrators only")
    return user


State = Annotated[AppState, Depends(app_state)]
Db = Annotated[Session, Depends(db_session)]
User = Annotated[AuthenticatedUser, Depends(current_user)]
MaybeUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]
Admin = Annotated[AuthenticatedUser, Depends(require_admin)]
