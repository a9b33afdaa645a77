"""The logged-in user's own listening: plays, ratings, likes, history.

Every route acts on the authenticated user only: the user comes from the
session, never from the path, the query or the body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile, status
from musicrec_common.schemas import ErrorResponse
from musicrec_common.web import ApiError

from gateway.app.deps import Db, State, User, write_for_user
from gateway.app.schemas import (
    AppCredentialIn,
    AppCredentialOut,
    AppCredentialsOut,
    ExclusionIn,
    ExclusionOut,
    ExclusionsIn,
    ExclusionsOut,
    FeedbackIn,
    FeedbackOut,
    HistoryItemOut,
    HistoryKind,
    HistoryOut,
    ImportOut,
    PlayIn,
    PlayOut,
    RatingIn,
    RatingOut,
    ScrobbleTokenIn,
    ScrobbleTokenOut,
    ScrobbleTokensOut,
    SongOut,
)
from gateway.db import exclusions, listening
from gateway.db.listening import SongNotFound
from gateway.db.models import Feedback, Rating

router = APIRouter(
    prefix="/api/me",
    tags=["me"],
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)


def _not_found(exc: SongNotFound) -> ApiError:
    return ApiError(404, str(exc), code="song_not_found", details={"song_id": exc.song_id})


@router.post("/plays", response_model=PlayOut, status_code=status.HTTP_201_CREATED)
async def record_play(body: PlayIn, user: User, state: State) -> PlayOut:
    """Record `count` plays of a song, or how the player left it (`played_ms`, `ended`, `skipped`): a skip in the
    first 30 s is recorded as a skip (`recorded: "skip"`), which lowers the song, its artist and its neighbours in
    later lists, and is not a play. Answered only once committed."""
    skip = body.is_skip
    try:
        result = await write_for_user(
            state,
            user.id,
            lambda db: (
                listening.record_skip(db, user.id, body.song_id, body.played_ms)
                if skip
                else listening.record_play(db, user.id, body.song_id, body.count, body.played_ms)
            ),
        )
    except SongNotFound as exc:
        raise _not_found(exc) from None
    return PlayOut(
        song_id=result.song_id, count=result.total, played_at=result.played_at, recorded="skip" if skip else "play"
    )


@router.post("/imports", response_model=ImportOut, status_code=status.HTTP_201_CREATED)
async def import_history(file: UploadFile, user: User, state: State) -> ImportOut:
    """Your listening history from Last.fm (CSV), ListenBrainz (JSON / JSON lines) or Spotify
    (`StreamingHistory*.json`, `Streaming_History_Audio_*.json`), recognised from the content.

    Listens are matched to the catalog (MSD songs and your library) and become your plays; plays shorter
    than 30 s are skips. Importing the same file again adds nothing. A malformed file is rejected (422, with
    the line) and nothing is written.
    """
    from gateway.core.history import ExportError, read_export
    from gateway.db.history_import import import_history as run_import

    limit = int(state.settings.max_import_mb * 1024 * 1024)
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    if size > limit:
        raise ApiError(413, f"the export is larger than {state.settings.max_import_mb:g} MB", code="payload_too_large")
    if size == 0:
        raise ApiError(422, "the uploaded file is empty", code="bad_export", details=[{"field": "file"}])

    def work(db: Any) -> ImportOut:
        fmt, listens = read_export(file.file)  # type: ignore[arg-type]
        report = run_import(db, user.id, fmt, listens, state.matcher.index())
        db.commit()
        return ImportOut.model_validate(report, from_attributes=True)

    try:
        return await write_for_user(state, user.id, work)
    except ExportError as exc:
        raise ApiError(
            422, f"not a listening-history export: {exc}", code="bad_export", details={"line": exc.line}
        ) from None


@router.get("/scrobble-tokens", response_model=ScrobbleTokensOut)
def list_scrobble_tokens(user: User, db: Db) -> ScrobbleTokensOut:
    """Your scrobble tokens (without the secrets) and where players send listens."""
    from gateway.db import scrobble

    rows = scrobble.list_tokens(db, user.id)
    items = [ScrobbleTokenOut(id=r.id, name=r.name, created_at=r.created_at, last_used_at=r.last_used_at) for r in rows]
    return ScrobbleTokensOut(items=items, submit_url="/1/submit-listens")


@router.post(
    "/scrobble-tokens",
    response_model=ScrobbleTokenOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorResponse, "description": "The account has its maximum of tokens"}},
)
def create_scrobble_token(body: ScrobbleTokenIn, user: User, db: Db) -> ScrobbleTokenOut:
    """A token for a player's ListenBrainz plug-in (`Authorization: Token …`); shown once, here."""
    from gateway.db import scrobble

    try:
        row, token = scrobble.create_token(db, user.id, body.name)
    except scrobble.TooManyTokens:
        raise ApiError(409, f"at most {scrobble.MAX_TOKENS} tokens: revoke one first", code="too_many_tokens") from None
    return ScrobbleTokenOut(id=row.id, name=row.name, created_at=row.created_at, last_used_at=None, token=token)


@router.delete("/scrobble-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_scrobble_token(token_id: int, user: User, db: Db) -> Response:
    """Revoke one of your tokens: players using it get 401 from then on."""
    from gateway.db import scrobble

    if not scrobble.revoke_token(db, user.id, token_id):
        raise ApiError(404, f"no token {token_id}", code="token_not_found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/app-credentials", response_model=AppCredentialsOut)
def list_app_credentials(user: User, db: Db) -> AppCredentialsOut:
    """Your app passwords and API keys for Subsonic apps (without the secrets)."""
    from gateway.db import app_credentials

    items = [
        AppCredentialOut(id=r.id, kind=r.kind, name=r.name, created_at=r.created_at, last_used_at=r.last_used_at)  # type: ignore[arg-type]
        for r in app_credentials.list_for(db, user.id)
    ]
    return AppCredentialsOut(items=items, server_path="/rest")


@router.post(
    "/app-credentials",
    response_model=AppCredentialOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorResponse, "description": "The account has its maximum of app credentials"}},
)
def create_app_credential(body: AppCredentialIn, user: User, db: Db, state: State) -> AppCredentialOut:
    """An app password (or API key) for a Subsonic app; the secret is in this answer only.

    Your account password is never given to apps: it stays an Argon2 hash, which token authentication cannot use.
    """
    from gateway.db import app_credentials

    try:
        row, secret = app_credentials.create(db, user.id, body.kind, body.name, state.vault)
    except app_credentials.TooManyCredentials:
        raise ApiError(
            409,
            f"at most {app_credentials.MAX_CREDENTIALS} app credentials: revoke one first",
            code="too_many_credentials",
        ) from None
    return AppCredentialOut(
        id=row.id, kind=body.kind, name=row.name, created_at=row.created_at, last_used_at=None, secret=secret
    )


@router.delete("/app-credentials/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_app_credential(credential_id: int, user: User, db: Db) -> Response:
    """Revoke an app password or API key: the next request of an app using it is refused."""
    from gateway.db import app_credentials

    if not app_credentials.revoke(db, user.id, credential_id):
        raise ApiError(404, f"no app credential {credential_id}", code="credential_not_found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/ratings/{song_id}", response_model=RatingOut)
async def put_rating(song_id: int, body: RatingIn, user: User, state: State) -> RatingOut:
    """Rate a song 1 to 5 (replaces an earlier rating)."""
    try:
        when = await write_for_user(state, user.id, lambda db: listening.set_rating(db, user.id, song_id, body.rating))
    except SongNotFound as exc:
        raise _not_found(exc) from None
    return RatingOut(song_id=song_id, rating=body.rating, updated_at=when)


@router.delete("/ratings/{song_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rating(song_id: int, user: User, state: State) -> Response:
    """Remove the rating (204 whether or not there was one)."""
    try:
        await write_for_user(state, user.id, lambda db: listening.remove(db, Rating, user.id, song_id))
    except SongNotFound as exc:
        raise _not_found(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/feedback/{song_id}", response_model=FeedbackOut)
async def put_feedback(song_id: int, body: FeedbackIn, user: User, state: State) -> FeedbackOut:
    """Like or dislike a song (the latest of the two wins)."""
    try:
        when = await write_for_user(state, user.id, lambda db: listening.set_feedback(db, user.id, song_id, body.kind))
    except SongNotFound as exc:
        raise _not_found(exc) from None
    return FeedbackOut(song_id=song_id, kind=body.kind, created_at=when)


@router.delete("/feedback/{song_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feedback(song_id: int, user: User, state: State) -> Response:
    """Remove the like or dislike (204 whether or not there was one)."""
    try:
        await write_for_user(state, user.id, lambda db: listening.remove(db, Feedback, user.id, song_id))
    except SongNotFound as exc:
        raise _not_found(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/history", response_model=HistoryOut)
def history(
    user: User,
    db: Db,
    kind: HistoryKind = "plays",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryOut:
    """Plays (app plays by time, then imported listens by count), ratings or likes; most recent first."""
    total, rows = listening.history(db, user.id, kind, offset=(page - 1) * per_page, limit=per_page)
    items = [HistoryItemOut(song=SongOut.of(song), **values) for song, values in rows]
    return HistoryOut(kind=kind, page=page, per_page=per_page, total=total, items=items)


def _rules_out(rules: list[exclusions.Rule]) -> ExclusionsOut:
    return ExclusionsOut(rules=[ExclusionOut(id=i, kind=k, value=v) for i, k, v in rules])  # type: ignore[arg-type]


@router.get("/exclusions", response_model=ExclusionsOut)
def get_exclusions(user: User, db: Db) -> ExclusionsOut:
    """Your exclusion rules: artists, genres and tags kept out of every list (recommendations, radio, mixes)."""
    return _rules_out(exclusions.list_rules(db, user.id))


@router.put("/exclusions", response_model=ExclusionsOut)
async def put_exclusions(body: ExclusionsIn, user: User, state: State) -> ExclusionsOut:
    """Replace your exclusion rules with these (an empty list removes them all)."""
    pairs = [(r.kind, r.value) for r in body.rules]
    return _rules_out(await write_for_user(state, user.id, lambda db: exclusions.replace_rules(db, user.id, pairs)))


@router.post("/exclusions", response_model=ExclusionsOut, status_code=status.HTTP_201_CREATED)
async def add_exclusion(body: ExclusionIn, user: User, state: State) -> ExclusionsOut:
    """Add one rule (from a song's or an artist's menu); one already there changes nothing."""
    try:
        rules = await write_for_user(state, user.id, lambda db: exclusions.add_rule(db, user.id, body.kind, body.value))
    except exclusions.TooManyRules as exc:
        raise ApiError(422, str(exc), code="validation_error") from None
    return _rules_out(rules)
