"""cf_service routes: recommendations, fold-in, similar songs, popularity, health, reload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import (
    FoldInRequest,
    HealthResponse,
    PopularResponse,
    RecommendationsResponse,
    SimilarRequest,
    SimilarResponse,
    SimilarSong,
)
from musicrec_common.web import ApiError, require_bearer

from cf_service import __version__
from cf_service.app.holder import ModelHolder, Served
from cf_service.app.settings import Settings
from cf_service.core.ranking import Recommendations

router = APIRouter()
N = Annotated[int, Query(ge=1, le=500, description="List length, 1-500")]
SongId = Annotated[str, Path(min_length=1, max_length=64)]
UserId = Annotated[str, Path(min_length=1, max_length=128)]


def holder(request: Request) -> ModelHolder:
    return request.app.state.holder  # type: ignore[no-any-return]


def served(h: Annotated[ModelHolder, Depends(holder)]) -> Served:
    current = h.current
    if current is None:
        raise ApiError(503, h.error or "no model loaded yet", code="model_unavailable")
    return current


def _recs(result: Recommendations, version: str) -> RecommendationsResponse:
    data = result.to_dict()
    return RecommendationsResponse(
        user_id=data.get("user_id"),
        model_version=version,
        fallback=data.get("fallback"),
        unknown_songs=data.get("unknown_songs", 0),
        items=data["items"],
    )


@router.get("/recommendations/{user_id}", response_model=RecommendationsResponse, tags=["recommendations"])
async def recommendations(user_id: UserId, s: Annotated[Served, Depends(served)], n: N = 10) -> RecommendationsResponse:
    """Top-n for a listener of the training data; unknown users get popular songs flagged `fallback: popular`."""
    result = await run_in_threadpool(s.model.recommend, user_id, n)
    return _recs(result, s.version)


@router.post("/recommendations/fold-in", response_model=RecommendationsResponse, tags=["recommendations"])
async def fold_in(body: FoldInRequest, s: Annotated[Served, Depends(served)]) -> RecommendationsResponse:
    """Top-n for a listener the model has not seen, from their (song, play count) history."""
    history = [(h.song_id, float(h.play_count)) for h in body.history]
    exclude = set(body.exclude)
    # Ask for enough extra to drop the excluded songs and still return n.
    result = await run_in_threadpool(
        lambda: s.model.recommend_for_history(history, body.n + len(exclude), within=body.within)
    )
    if exclude:
        result.items = [it for it in result.items if it.song_id not in exclude][: body.n]
        for rank, item in enumerate(result.items, start=1):
            item.rank = rank
    return _recs(result, s.version)


@router.get("/similar/{song_id}", response_model=SimilarResponse, tags=["similar"])
async def similar(song_id: SongId, s: Annotated[Served, Depends(served)], n: N = 10) -> SimilarResponse:
    """Songs most co-listened with this one; unknown songs get popular songs flagged `fallback: popular`."""
    result = await run_in_threadpool(s.model.similar_items, song_id, n)
    data = result.to_dict()
    return SimilarResponse(song_id=song_id, model_version=s.version, fallback=data.get("fallback"), items=data["items"])


@router.post("/similar/{song_id}", response_model=SimilarResponse, tags=["similar"])
async def similar_within(
    song_id: SongId, body: SimilarRequest, s: Annotated[Served, Depends(served)]
) -> SimilarResponse:
    """Songs most co-listened with this one among `within` (e.g. the songs a listener can play)."""
    result = await run_in_threadpool(lambda: s.model.similar_items(song_id, body.n, within=body.within))
    data = result.to_dict()
    return SimilarResponse(song_id=song_id, model_version=s.version, fallback=data.get("fallback"), items=data["items"])


@router.get("/popular", response_model=PopularResponse, tags=["similar"])
async def popular(s: Annotated[Served, Depends(served)], n: N = 10) -> PopularResponse:
    """Most-listened songs of the training data."""
    result = await run_in_threadpool(s.model.popular, n)
    items = [SimilarSong(song_id=it.song_id, score=it.score, rank=it.rank) for it in result.items]
    return PopularResponse(model_version=s.version, items=items)


@router.get("/health", response_model=HealthResponse, tags=["health"])
async def health(h: Annotated[ModelHolder, Depends(holder)]) -> HealthResponse:
    """Service version and the served model: version, trained at, users, songs."""
    current = h.current
    if current is None:
        return HealthResponse(
            service="cf_service", version=__version__, status="degraded", info={"model_version": None, "error": h.error}
        )
    meta = current.meta
    return HealthResponse(
        service="cf_service",
        version=__version__,
        status="ok",
        info={
            "model_version": current.version,
            "trained_at": meta.get("trained_at"),
            "users": meta.get("n_users"),
            "songs": meta.get("n_songs"),
            "listens": meta.get("n_listens"),
        },
    )


@router.post("/admin/reload", response_model=HealthResponse, tags=["admin"])
async def reload(
    request: Request, h: Annotated[ModelHolder, Depends(holder)], authorization: Annotated[str | None, Header()] = None
) -> HealthResponse:
    """Load the model folder `current` points at (after `python -m cf_service train`), atomically."""
    settings: Settings = request.app.state.settings
    require_bearer(authorization, settings.admin_token)
    await run_in_threadpool(h.reload)
    if h.error and h.current is None:
        raise ApiError(503, h.error, code="model_unavailable")
    return await health(h)
