"""App passwords and API keys of Subsonic apps (:class:`~gateway.db.models.AppCredential`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from gateway.core import credentials as cred
from gateway.core.security import normalize_username
from gateway.db.models import AppCredential, User, utcnow

Kind = Literal["password", "api_key"]
MAX_CREDENTIALS = 20  # per user
TOUCH_EVERY = dt.timedelta(minutes=1)


class TooManyCredentials(Exception):
    pass


def create(session: Session, user_id: int, kind: Kind, name: str, vault: cred.Vault) -> tuple[AppCredential, str]:
    """A new app password or API key: the row and the secret itself (shown once; only sealed or hashed here)."""
    count = len(session.execute(select(AppCredential.id).where(AppCredential.user_id == user_id)).all())
    if count >= MAX_CREDENTIALS:
        raise TooManyCredentials
    if kind == "password":
        secret = cred.new_app_password()
        row = AppCredential(user_id=user_id, kind=kind, name=name, secret_encrypted=vault.seal(secret))
    else:
        secret = cred.new_api_key()
        row = AppCredential(user_id=user_id, kind=kind, name=name, key_hash=cred.key_hash(secret))
    row.created_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, secret


def list_for(session: Session, user_id: int) -> Sequence[AppCredential]:
    stmt = select(AppCredential).where(AppCredential.user_id == user_id).order_by(AppCredential.id)
    return session.execute(stmt).scalars().all()


def revoke(session: Session, user_id: int, credential_id: int) -> bool:
    done = session.execute(
        delete(AppCredential).where(AppCredential.id == credential_id, AppCredential.user_id == user_id)
    )
    session.commit()
    return bool(done.rowcount)  # type: ignore[attr-defined]


def app_passwords(session: Session, username: str, vault: cred.Vault) -> tuple[User | None, list[tuple[int, str]]]:
    """The user named ``username`` and their app passwords, opened: ``[(credential id, password)]``.
    (Apps authenticate every request: this is one indexed read and a decryption per app password.)

    A password that no longer opens (the server's secret changed) is left out: it cannot be checked.
    """
    user = session.execute(select(User).where(User.username == normalize_username(username))).scalar_one_or_none()
    if user is None:
        return None, []
    rows = session.execute(
        select(AppCredential.id, AppCredential.secret_encrypted).where(
            AppCredential.user_id == user.id, AppCredential.kind == "password"
        )
    ).all()
    opened = []
    for row_id, sealed in rows:
        try:
            opened.append((int(row_id), vault.open(sealed or "")))
        except cred.UnreadableSecret:
            continue
    return user, opened


def user_for_api_key(session: Session, api_key: str) -> User | None:
    row = session.execute(
        select(AppCredential).where(AppCredential.key_hash == cred.key_hash(api_key), AppCredential.kind == "api_key")
    ).scalar_one_or_none()
    if row is None:
        return None
    touch(session, row.id)
    return session.get(User, row.user_id)


def touch(session: Session, credential_id: int) -> None:
    """Record a use (shown on the account page); commits. At most once a minute per credential: apps send
    their credential with every request, which should not each be a write."""
    now = utcnow()
    done = session.execute(
        update(AppCredential)
        .where(
            AppCredential.id == credential_id,
            or_(AppCredential.last_used_at.is_(None), AppCredential.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )
    if done.rowcount:  # type: ignore[attr-defined]
        session.commit()
    else:
        session.rollback()
