"""Who a Subsonic request is: ``u`` + ``p`` (plain or ``enc:``), ``u`` + ``t`` + ``s``, or ``apiKey``.

The account password is an Argon2 hash, which token authentication (md5 of the password and a salt) cannot use:
tokens are checked against the user's app passwords, which the server keeps encrypted
(:mod:`gateway.core.credentials`). ``p`` may be the account password or an app password. Every failure counts
toward the login limits (per username and per client address), as on the web page; a revoked credential is
gone from the database, so the next request with it fails.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from musicrec_common.web import ApiError

from gateway.app.deps import client_address
from gateway.app.state import AppState
from gateway.core import subsonic as ss
from gateway.db import accounts, app_credentials


@dataclass(frozen=True)
class Who:
    user_id: int
    username: str
    is_admin: bool


async def _limited(state: AppState, keys: list[str]) -> None:
    try:
        await state.login_limiter.enforce(keys, "failed logins")
    except ApiError as exc:
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, exc.message) from exc


async def authenticate(state: AppState, request: Request, params: dict[str, list[str]]) -> Who:
    """The user the request authenticates as, or a protocol error (10, 40, 42, 43, 44)."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    username, password, token, salt, api_key = (one(k) for k in ("u", "p", "t", "s", "apiKey"))
    address = f"ip:{client_address(request)}"
    if api_key is not None:
        if username is not None or password is not None or token is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either apiKey or u with p / t and s, not both")
        await _limited(state, [address])

        def by_key() -> Who | None:
            with state.sessions() as db:
                user = app_credentials.user_for_api_key(db, api_key)
                return Who(user.id, user.username, user.is_admin) if user is not None else None

        found = await run_in_threadpool(by_key)
        if found is None:
            await state.login_limiter.record([address])
            raise ss.SubsonicError(ss.INVALID_API_KEY, "invalid API key")
        return found
    if not username:
        raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: u")
    keys = [f"user:{username.strip().lower()}", address]
    if token is not None or salt is not None:
        if password is not None:
            raise ss.SubsonicError(ss.CONFLICTING_MECHANISMS, "give either p or t and s, not both")
        if not token or not salt:
            raise ss.SubsonicError(ss.MISSING_PARAMETER, "token authentication needs both t and s")
        await _limited(state, keys)

        def by_token() -> Who | None:
            with state.sessions() as db:
                user, passwords = app_credentials.app_passwords(db, username, state.vault)
                for credential_id, secret in passwords:
                    if ss.token_matches(secret, salt, token):
                        app_credentials.touch(db, credential_id)
                        assert user is not None
                        return Who(user.id, user.username, user.is_admin)
            return None

        found = await run_in_threadpool(by_token)
    else:
        if password is None:
            raise ss.SubsonicError(ss.MISSING_PARAMETER, "required parameter is missing: p (or t and s)")
        await _limited(state, keys)
        secret = ss.decode_password(password)

        def by_password() -> Who | None:
            with state.sessions() as db:
                user, passwords = app_credentials.app_passwords(db, username, state.vault)
                for credential_id, app_password in passwords:
                    if hmac.compare_digest(app_password.encode(), secret.encode()):
                        app_credentials.touch(db, credential_id)
                        assert user is not None
                        return Who(user.id, user.username, user.is_admin)
                account = accounts.authenticate(db, username, secret)
                return Who(account.id, account.username, account.is_admin) if account is not None else None

        found = await run_in_threadpool(by_password)
    if found is None:
        await state.login_limiter.record(keys)
        raise ss.SubsonicError(ss.WRONG_CREDENTIALS, "wrong username or password")
    await state.login_limiter.reset(keys[:1])
    return found
