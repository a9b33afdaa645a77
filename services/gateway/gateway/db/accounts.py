"""Accounts and login sessions (SQL through SQLAlchemy only, bound parameters throughout)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import security
from gateway.db.models import Play, User, UserSession, utcnow


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
