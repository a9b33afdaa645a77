"""Accounts and login sessions (SQL through SQLAlchemy only, bound parameters throughout)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import security
from gateway.db.models import Feedback, Play, PlayEvent, Rating, ScrobbleToken, User, UserSession, utcnow


class UsernameTaken(Exception):
    pass


@dataclass(frozen=True)
class AuthenticatedUser:
    """The user behind a valid session token (a plain value: safe to pass between threads)."""

    id: int
    username: str
    is_admin: bool
    msd_user_id: str | None
    created_at: dt.datetime
    session_id: int
    session_expires_at: dt.datetime


@dataclass(frozen=True)
class NewSession:
    token: str  # shown to the client once, never stored
    expires_at: dt.datetime


def find_user(session: Session, username: str) -> User | None:
    return session.execute(
        select(User).where(User.username == security.normalize_username(username))
    ).scalar_one_or_none()


def create_user(session: Session, username: str, password: str, *, is_admin: bool = False) -> User:
    """Insert a user with an Argon2 hash and commit; raises UsernameTaken."""
    if find_user(session, username) is not None:
        raise UsernameTaken(username)
    user = User(
        username=security.normalize_username(username),
        password_hash=security.hash_password(password),
        is_admin=is_admin,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent registration of the same name won
        session.rollback()
        raise UsernameTaken(username) from exc
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user when the password matches; upgrades an outdated hash on the way."""
    user = find_user(session, username)
    if not security.verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None and user.password_hash is not None
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
        session.commit()
    return user


def start_session(session: Session, user_id: int, ttl: dt.timedelta) -> NewSession:
    token = security.new_token()
    now = utcnow()
    expires = now + ttl
    session.add(UserSession(token_hash=security.token_hash(token), user_id=user_id, created_at=now, expires_at=expires))
    session.commit()
    return NewSession(token, expires)


def session_user(session: Session, token: str) -> AuthenticatedUser | None:
    """The user of a live (not expired, not revoked) session token, else None."""
    row = session.execute(
        select(User, UserSession.id, UserSession.expires_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == security.token_hash(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
        )
    ).one_or_none()
    if row is None:
        return None
    user, session_id, expires = row
    return AuthenticatedUser(
        user.id, user.username, user.is_admin, user.msd_user_id, user.created_at, session_id, expires
    )


def revoke_session(session: Session, token: str) -> bool:
    """Invalidate a token (logout); True when a live session was revoked."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == security.token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _live_sessions(session: Session, user_id: int, *, except_id: int | None = None) -> list[UserSession]:
    query = select(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow()
    )
    if except_id is not None:
        query = query.where(UserSession.id != except_id)
    return list(session.execute(query).scalars())


def change_password(
    session: Session, user_id: int, current: str, new: str, *, keep_session_id: int
) -> list[str] | None:
    """Set a new password when ``current`` is right and end every other live session of the user.

    Returns the token hashes of the sessions ended (their cache entries must go too), or None when
    ``current`` is wrong (nothing changed).
    """
    user = session.get(User, user_id)
    if user is None or not security.verify_password(user.password_hash, current):
        return None
    user.password_hash = security.hash_password(new)
    ended = _live_sessions(session, user_id, except_id=keep_session_id)
    now = utcnow()
    for row in ended:
        row.revoked_at = now
    session.commit()
    return [row.token_hash for row in ended]


def delete_user(session: Session, user_id: int, password: str) -> list[str] | None:
    """Delete the account and everything recorded for it (plays, play events, ratings, likes, sessions, tokens)
    in one transaction when ``password`` is right.

    Returns the token hashes of its sessions that were live, or None when the password is wrong.
    """
    user = session.get(User, user_id)
    if user is None or not security.verify_password(user.password_hash, password):
        return None
    live = [row.token_hash for row in _live_sessions(session, user_id)]
    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with a per-connection pragma.
    for model in (PlayEvent, Play, Rating, Feedback, UserSession, ScrobbleToken):
        session.execute(delete(model).where(model.user_id == user_id).execution_options(synchronize_session=False))
    session.delete(user)
    session.commit()
    return live


def list_users(
    session: Session, *, offset: int, limit: int, include_imported: bool
) -> tuple[int, list[tuple[User, int]]]:
    """Users (newest first) with how many songs each has played; imported listeners only on request."""
    where = [] if include_imported else [User.password_hash.is_not(None)]
    total = session.execute(select(func.count()).select_from(User).where(*where)).scalar_one()
    songs = select(Play.user_id, func.count().label("n")).group_by(Play.user_id).subquery()
    rows = session.execute(
        select(User, func.coalesce(songs.c.n, 0))
        .outerjoin(songs, songs.c.user_id == User.id)
        .where(*where)
        .order_by(User.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [(u, int(n)) for u, n in rows]
