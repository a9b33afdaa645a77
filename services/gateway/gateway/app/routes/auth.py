"""Accounts: register, log in, log out, and who am I."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError

from gateway.app.deps import SESSION_COOKIE, Db, State, User, client_address, request_token
from gateway.app.schemas import (
    AccountDeleteIn,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    RegisterIn,
    SessionOut,
    UserOut,
    UserStats,
)
from gateway.app.settings import Settings
from gateway.app.state import AppState
from gateway.core import security
from gateway.db import accounts, listening
from gateway.db.accounts import AuthenticatedUser, NewSession

router = APIRouter(prefix="/api", tags=["accounts"])
ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}


def _set_cookie(response: Response, settings: Settings, new: NewSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=int(settings.session_ttl_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.production,
        path="/",
    )


def _session_out(user: UserOut, new: NewSession) -> SessionOut:
    return SessionOut(user=user, token=new.token, expires_at=new.expires_at)


@router.post("/auth/register", response_model=SessionOut, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def register(body: RegisterIn, response: Response, db: Db, state: State) -> SessionOut:
    """Create an account and log it in (cookie set, token returned)."""
    try:
        user = accounts.create_user(db, body.username, body.password)
    except accounts.UsernameTaken:
        raise ApiError(409, "this username is taken", code="username_taken", details={"field": "username"}) from None
    new = accounts.start_session(db, user.id, dt.timedelta(hours=state.settings.session_ttl_hours))
    _set_cookie(response, state.settings, new)
    return _session_out(UserOut.model_validate(user, from_attributes=True), new)


@router.post("/auth/login", response_model=SessionOut, responses=ERRORS)
async def login(body: LoginIn, request: Request, response: Response, state: State) -> SessionOut:
    """Check the password and open a session; 5 failures in 5 minutes per username or address → 429.

    The failures are counted in Redis, so the limit holds across gateway replicas.
    """
    keys = [f"user:{body.username.strip().lower()}", f"ip:{client_address(request)}"]
    limiter = state.login_limiter
    await limiter.enforce(keys, "failed logins")
    # Password hashing and the database in the thread pool, with a short session of their own.
    opened = await run_in_threadpool(_authenticate, state, body)
    if opened is None:
        await limiter.record(keys)
        raise ApiError(401, "wrong username or password", code="invalid_credentials")
    # Only the account's count: a success must not clear the address's, or logging in to one's own account
    # between guesses would let one address try passwords on any number of accounts.
    await limiter.reset(keys[:1])
    user, new = opened
    _set_cookie(response, state.settings, new)
    return _session_out(user, new)


def _authenticate(state: AppState, body: LoginIn) -> tuple[UserOut, NewSession] | None:
    """The user and a new session when the password is right, else None."""
    with state.sessions() as db:
        user = accounts.authenticate(db, body.username, body.password)
        if user is None:
            return None
        new = accounts.start_session(db, user.id, dt.timedelta(hours=state.settings.session_ttl_hours))
        return UserOut.model_validate(user, from_attributes=True), new


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, state: State) -> Response:
    """Revoke the current session token (if any) and clear the cookie; always 204."""
    token = request_token(request)
    if token and len(token) <= 256:
        await run_in_threadpool(_revoke, state, token)
        # After the database: a request racing the logout then finds the revocation either way.
        await state.cache.forget_session(security.token_hash(token), state.settings.session_cache_ttl_s + 60)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=state.settings.production)
    return response


def _revoke(state: AppState, token: str) -> None:
    with state.sessions() as db:
        accounts.revoke_session(db, token)


@router.get("/me", response_model=MeOut, responses={401: {"model": ErrorResponse}})
def me(user: User, db: Db) -> MeOut:
    """The logged-in account and its totals."""
    return MeOut(
        id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        created_at=user.created_at,
        msd_user_id=user.msd_user_id,
        session_expires_at=user.session_expires_at,
        stats=UserStats(**listening.user_stats(db, user.id)),
    )


# --- the account itself: password and deletion ---------------------------------------------------

ACCOUNT_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse, "description": "The password given is wrong"},
    429: {"model": ErrorResponse},
}


async def _check_password_guard(state: AppState, user: AuthenticatedUser, request: Request) -> list[str]:
    """The login limiter's keys for this account and address, raising 429 while they are blocked: the
    password forms below must not become a way around the login limit."""
    keys = [f"user:{user.username}", f"ip:{client_address(request)}"]
    await state.login_limiter.enforce(keys, "wrong passwords")
    return keys


async def _wrong_password(state: AppState, keys: list[str], field: str) -> ApiError:
    await state.login_limiter.record(keys)
    # 403, not 401: the session is fine (a 401 would log the web page out).
    return ApiError(403, "the password is wrong", code="wrong_password", details={"field": field})


async def _forget(state: AppState, token_hashes: list[str]) -> None:
    for token_hash in token_hashes:
        await state.cache.forget_session(token_hash, state.settings.session_cache_ttl_s + 60)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=ACCOUNT_ERRORS)
async def change_password(body: PasswordChangeIn, request: Request, user: User, state: State) -> Response:
    """Set a new password (the current one is asked again); every other session of the account ends."""
    keys = await _check_password_guard(state, user, request)

    def work() -> list[str] | None:
        with state.sessions() as db:
            return accounts.change_password(
                db, user.id, body.current_password, body.new_password, keep_session_id=user.session_id
            )

    ended = await run_in_threadpool(work)
    if ended is None:
        raise await _wrong_password(state, keys, "current_password")
    await _forget(state, ended)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses=ACCOUNT_ERRORS)
async def delete_account(body: AccountDeleteIn, request: Request, user: User, state: State) -> Response:
    """Delete the account and everything recorded for it (plays, ratings, likes, sessions); asks the password."""
    keys = await _check_password_guard(state, user, request)

    def work() -> list[str] | None:
        with state.sessions() as db:
            return accounts.delete_user(db, user.id, body.password)

    ended = await run_in_threadpool(work)
    if ended is None:
        raise await _wrong_password(state, keys, "password")
    await _forget(state, ended)
    await state.cache.forget_user(user.id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=state.settings.production)
    return response
