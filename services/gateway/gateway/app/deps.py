"""FastAPI dependencies: the database session and who is calling.

The caller is identified only by a session token, from the ``Authorization:
Bearer`` header (API clients) or the httpOnly cookie (the browser); no route
ever takes a user id from the client. Dependencies are async (a sync
dependency costs a thread-pool hop even when it does nothing); database work
inside them goes to the thread pool explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from musicrec_common.web import ApiError
from sqlalchemy.orm import Session

from gateway.app.state import AppState
from gateway.core import security
from gateway.db.accounts import AuthenticatedUser, session_user
from gateway.db.recs import user_stamp

T = TypeVar("T")

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


def client_address(request: Request) -> str:
    """The caller's address (behind the proxy: the one it forwards, see FORWARDED_ALLOW_IPS), for rate limits."""
    return request.client.host if request.client else "unknown"


async def optional_user(request: Request, state: Annotated[AppState, Depends(app_state)]) -> AuthenticatedUser | None:
    token = request_token(request)
    if not token or len(token) > 256:
        return None
    # Redis first: an authenticated request that hits the cache costs no database query and no thread hop.
    digest = security.token_hash(token)
    user = await state.cache.get_session(digest)
    if user is not None:
        return user
    # One thread-pool hop with a short session of its own: the connection goes back to the pool at once
    # instead of being held for the whole request.
    user = await run_in_threadpool(_lookup_session, state, token)
    if user is not None:
        await state.cache.put_session(digest, user, state.settings.session_cache_ttl_s)
    return user


def _lookup_session(state: AppState, token: str) -> AuthenticatedUser | None:
    with state.sessions() as session:
        return session_user(session, token)


async def state_stamp(state: AppState, user_id: int, degraded: set[str]) -> str:
    """The user's state stamp: from Redis, else from the database (and then cached for the next request)."""
    stamp = await state.cache.get_stamp(user_id, degraded)
    if stamp is None:
        stamp = await run_in_threadpool(_stamp, state, user_id)
        if "cache" not in degraded:
            await state.cache.put_stamp(user_id, stamp, state.settings.stamp_cache_ttl_s, after_write=False)
    return stamp


def _stamp(state: AppState, user_id: int) -> str:
    with state.sessions() as session:
        return user_stamp(session, user_id)


async def write_for_user(state: AppState, user_id: int, work: Callable[[Session], T]) -> T:
    """Run a committing write of ``user_id``'s data in the thread pool, then publish the new state stamp.

    The stamp is read after the commit and written to Redis before the caller acknowledges, so the
    user's next request can not be answered from an entry cached before this write. If Redis is
    unreachable at that moment, an old stamp can outlive the write by at most ``STAMP_CACHE_TTL_S``.
    """

    def run() -> tuple[T, str]:
        with state.sessions() as session:
            result = work(session)
            return result, user_stamp(session, user_id)

    result, stamp = await run_in_threadpool(run)
    await state.cache.put_stamp(user_id, stamp, state.settings.stamp_cache_ttl_s, after_write=True)
    return result


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
