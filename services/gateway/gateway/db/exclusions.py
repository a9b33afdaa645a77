"""A listener's exclusion rules (artists, genres, tags kept out of every list): read, replace, add."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.taste import fold
from gateway.db.models import Exclusion, utcnow
from gateway.db.retry import run_transaction

MAX_RULES = 500


class TooManyRules(ValueError):
    pass


Rule = tuple[int, str, str]  # id, kind, value


def list_rules(session: Session, user_id: int) -> list[Rule]:
    """``(id, kind, value)`` of the listener's rules, by kind and value."""
    rows = session.execute(
        select(Exclusion.id, Exclusion.kind, Exclusion.value)
        .where(Exclusion.user_id == user_id)
        .order_by(Exclusion.kind, Exclusion.value_key)
    ).all()
    return [(int(i), str(k), str(v)) for i, k, v in rows]


def _unique(rules: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for kind, value in rules:
        key = (kind, fold(value))
        if key[1] and key not in seen:
            seen.add(key)
            out.append((kind, " ".join(value.split())))
    return out


def replace_rules(session: Session, user_id: int, rules: Sequence[tuple[str, str]]) -> list[Rule]:
    """The listener's rules become exactly ``rules`` (duplicates by folded value kept once), in one transaction."""
    wanted = _unique(rules)
    if len(wanted) > MAX_RULES:
        raise TooManyRules(f"at most {MAX_RULES} rules")

    def work(s: Session) -> list[Rule]:
        s.execute(delete(Exclusion).where(Exclusion.user_id == user_id).execution_options(synchronize_session=False))
        now = utcnow()
        for kind, value in wanted:
            s.add(Exclusion(user_id=user_id, kind=kind, value=value, value_key=fold(value), created_at=now))
        s.flush()
        return list_rules(s, user_id)

    return run_transaction(session, work)


def add_rule(session: Session, user_id: int, kind: str, value: str) -> list[Rule]:
    """Add one rule (already there: nothing changes); returns all the listener's rules."""

    def work(s: Session) -> list[Rule]:
        existing = list_rules(s, user_id)
        if any(k == kind and fold(v) == fold(value) for _, k, v in existing):
            return existing
        if len(existing) >= MAX_RULES:
            raise TooManyRules(f"at most {MAX_RULES} rules")
        try:
            with s.begin_nested():
                s.add(
                    Exclusion(
                        user_id=user_id,
                        kind=kind,
                        value=" ".join(value.split()),
                        value_key=fold(value),
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # a concurrent request added the same rule: the rule is there, which is what was asked
        return list_rules(s, user_id)

    return run_transaction(session, work)
