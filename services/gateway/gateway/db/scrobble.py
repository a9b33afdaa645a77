"""Scrobble tokens and the listens players send with them (the ListenBrainz-compatible API)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.core import security
from gateway.core.history import Listen
from gateway.core.matching import MsdIndex
from gateway.db.history_import import ImportReport, import_history
from gateway.db.models import ScrobbleToken, User, utcnow

MAX_TOKENS = 20  # per user


class TooManyTokens(Exception):
    pass


def create_token(session: Session, user_id: int, name: str) -> tuple[ScrobbleToken, str]:
    """A new token for ``user_id``: the row and the token itself (shown once, never stored)."""
    count = len(session.execute(select(ScrobbleToken.id).where(ScrobbleToken.user_id == user_id)).all())
    if count >= MAX_TOKENS:
        raise TooManyTokens
    token = security.new_token()
    row = ScrobbleToken(user_id=user_id, token_hash=security.token_hash(token), name=name, created_at=utcnow())
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, token


def list_tokens(session: Session, user_id: int) -> Sequence[ScrobbleToken]:
    return (
        session.execute(select(ScrobbleToken).where(ScrobbleToken.user_id == user_id).order_by(ScrobbleToken.id))
        .scalars()
        .all()
    )


def revoke_token(session: Session, user_id: int, token_id: int) -> bool:
    done = session.execute(delete(ScrobbleToken).where(ScrobbleToken.id == token_id, ScrobbleToken.user_id == user_id))
    session.commit()
    return bool(done.rowcount)  # type: ignore[attr-defined]


def user_for_token(session: Session, token: str) -> User | None:
    """The user a token belongs to (None for an unknown or revoked token)."""
    row = session.execute(
        select(ScrobbleToken).where(ScrobbleToken.token_hash == security.token_hash(token))
    ).scalar_one_or_none()
    return session.get(User, row.user_id) if row is not None else None


def record_listens(session: Session, token: str, listens: list[Listen], index: MsdIndex) -> ImportReport | None:
    """Record submitted listens as the token owner's plays (once each); None for a bad token. Commits."""
    row = session.execute(
        select(ScrobbleToken).where(ScrobbleToken.token_hash == security.token_hash(token))
    ).scalar_one_or_none()
    if row is None:
        return None
    report = import_history(session, row.user_id, "listenbrainz", iter(listens), index)
    row.last_used_at = utcnow()
    session.commit()
    return report
