"""Retrying a transaction that lost a race with another one (deadlock, serialization failure, busy)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

T = TypeVar("T")

# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected.
_PG_RETRY = {"40001", "40P01"}
# MySQL/MariaDB: lock wait timeout, deadlock.
_MYSQL_RETRY = {1205, 1213}


def is_transient(exc: BaseException) -> bool:
    """True when the transaction failed only because of a concurrent one and may simply run again.

    Follows the exception's context: when MySQL picks a transaction inside a
    savepoint as a deadlock victim it rolls the whole transaction back, and the
    error the caller sees is the failed ``ROLLBACK TO SAVEPOINT`` that followed.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if _transient_here(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _transient_here(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RETRY:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRY:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def run_transaction(session: Session, work: Callable[[Session], T], attempts: int = 10) -> T:
    """Run ``work`` and commit; on a transient failure roll back and run it again from the start.

    ``work`` must do all of its reads and writes through ``session`` and must
    not commit: the value is returned only once the commit succeeded.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work(session)
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if attempt == attempts or not is_transient(exc):
                raise
            time.sleep(random.uniform(0.002, 0.02) * attempt)  # jitter: the racers must not collide again
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")
