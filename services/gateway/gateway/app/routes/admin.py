"""Administration (admin accounts only: 401 anonymous, 403 for other users)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError

from gateway.app.deps import Admin, Db, State
from gateway.app.schemas import AdminSongOut, AdminUserOut, AdminUsersOut, SongEditIn, SongOut
from gateway.db import accounts, catalog

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
)


@router.get("/users", response_model=AdminUsersOut)
def list_users(
    _: Admin,
    db: Db,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    include_imported: Annotated[bool, Query(description="Also list the imported Taste Profile listeners")] = False,
) -> AdminUsersOut:
    """Accounts, newest first, with how many songs each has played."""
    total, rows = accounts.list_users(
        db, offset=(page - 1) * per_page, limit=per_page, include_imported=include_imported
    )
    items = [
        AdminUserOut(
            id=u.id,
            username=u.username,
            is_admin=u.is_admin,
            created_at=u.created_at,
            has_password=u.password_hash is not None,
            msd_user_id=u.msd_user_id,
            songs_played=n,
        )
        for u, n in rows
    ]
    return AdminUsersOut(page=page, per_page=per_page, total=total, items=items)


@router.patch("/songs/{song_id}", response_model=AdminSongOut, responses={404: {"model": ErrorResponse}})
def edit_song(song_id: int, body: SongEditIn, _: Admin, db: Db, state: State) -> AdminSongOut:
    """Correct a song's title, artist, release, year or genre; `import-data` never changes an edited field."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise ApiError(422, "name at least one field to change", code="nothing_to_change")
    song = catalog.edit_song(db, song_id, changes)
    if song is None:
        raise ApiError(404, f"song {song_id} not found", code="song_not_found", details={"song_id": song_id})
    state.search.invalidate()
    return AdminSongOut(
        **SongOut.of(song).model_dump(), edited_fields=[f for f in (song.edited_fields or "").split(",") if f]
    )
