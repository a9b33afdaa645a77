"""Demo accounts: ``admin`` and a few listeners who can log in and already have rich histories.

A demo listener *is* an imported Taste Profile listener (chosen among those
with 40 to 120 songs, most songs with metadata first) that is given a name and
a password: its plays stay its plays, and its ``msd_user_id`` still ties it to
the collaborative-filtering models trained on the same data. Idempotent: an
account that exists is left exactly as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from gateway.core import security
from gateway.db.models import Play, Song, User

DEMO_NAMES = ("alice", "bob", "carol", "dave")
MIN_SONGS, MAX_SONGS = 40, 120


@dataclass
class DemoAccount:
    username: str
    created: bool
    password: str | None = None  # set only when generated here: printed once, then forgotten
    msd_user_id: str | None = None
    songs: int = 0
    is_admin: bool = False


def pick_listeners(session: Session, k: int) -> list[tuple[int, str, int]]:
    """(user id, MSD id, songs) of imported listeners with rich histories, not yet turned into demo accounts."""
    songs = func.count(Play.id)
    titled = func.count(Song.title)
    rows = session.execute(
        select(User.id, User.msd_user_id, songs)
        .join(Play, Play.user_id == User.id)
        .join(Song, Song.id == Play.song_id)
        .where(
            User.password_hash.is_(None),
            User.msd_user_id.is_not(None),
            User.username.startswith("msd_", autoescape=True),
        )
        .group_by(User.id, User.msd_user_id)
        .having(songs.between(MIN_SONGS, MAX_SONGS))
        .order_by(titled.desc(), songs.desc(), User.id)
        .limit(k)
    ).all()
    return [(int(uid), str(msd), int(n)) for uid, msd, n in rows]


def create_demo_users(
    engine: Engine, *, admin_password: str | None, demo_password: str | None, create_demo: bool = True
) -> list[DemoAccount]:
    """Create ``admin`` and the demo listeners that do not exist yet; return what was done."""
    out: list[DemoAccount] = []
    with Session(engine) as session, session.begin():
        admin = session.execute(select(User).where(User.username == "admin")).scalar_one_or_none()
        if admin is None:
            generated = None if admin_password else security.generate_password()
            password = admin_password or generated
            assert password is not None
            session.add(User(username="admin", password_hash=security.hash_password(password), is_admin=True))
            out.append(DemoAccount("admin", True, generated, is_admin=True))
        else:
            out.append(DemoAccount("admin", False, is_admin=True))
        if not create_demo:
            return out

        existing = set(session.execute(select(User.username).where(User.username.in_(DEMO_NAMES))).scalars())
        missing = [name for name in DEMO_NAMES if name not in existing]
        listeners = pick_listeners(session, len(missing))
        for name in DEMO_NAMES:
            if name in existing:
                row = session.execute(select(User.msd_user_id).where(User.username == name)).scalar_one()
                out.append(DemoAccount(name, False, msd_user_id=row))
        for i, name in enumerate(missing):
            generated = None if demo_password else security.generate_password()
            password_hash = security.hash_password(demo_password or generated or "")
            if i < len(listeners):
                uid, msd_id, n = listeners[i]
                session.execute(
                    update(User)
                    .where(User.id == uid)
                    .values(username=name, password_hash=password_hash)
                    .execution_options(synchronize_session=False)
                )
                out.append(DemoAccount(name, True, generated, msd_id, n))
            else:  # no imported data: an account without history still lets one try the app
                session.add(User(username=name, password_hash=password_hash, is_admin=False))
                out.append(DemoAccount(name, True, generated))
    return out
