"""Engine and session factory with the per-backend settings that matter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and full fsync on commit.

    ``synchronous=FULL`` so a commit the API acknowledged survives a crash of
    the process *and* of the machine.
    """
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", 30)
        if ":memory:" in url or url in ("sqlite://", "sqlite+pysqlite://"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            # WAL lets readers run concurrently: enough connections for the thread pool's requests.
            kwargs.setdefault("pool_size", 16)
            kwargs.setdefault("max_overflow", 16)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("mysql"):
        kwargs.setdefault("pool_recycle", 3600)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
