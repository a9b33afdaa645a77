"""Health of the gateway and of everything it depends on."""

from __future__ import annotations

import asyncio
import time

from fastapi.concurrency import run_in_threadpool
from musicrec_common import progress
from musicrec_common.progress import LABELS, Preparation, StepProgress
from musicrec_common.schemas import ComponentHealth, HealthResponse, Status
from sqlalchemy import func, select, text

from gateway import __version__
from gateway.app.state import AppState
from gateway.db.models import Song, User


def _check_db(state: AppState) -> ComponentHealth:
    start = time.perf_counter()
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            users = conn.execute(select(func.count()).select_from(User)).scalar_one()
            songs = conn.execute(select(func.count()).select_from(Song)).scalar_one()
        return ComponentHealth(
            status="ok",
            latency_ms=(time.perf_counter() - start) * 1000,
            info={"backend": state.engine.dialect.name, "users": users, "songs": songs},
        )
    except Exception as exc:
        return ComponentHealth(status="down", detail=type(exc).__name__ + ": " + str(exc)[:200])


async def _check_redis(state: AppState) -> ComponentHealth:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(state.redis.ping(), timeout=state.settings.redis_timeout_s)
        return ComponentHealth(status="ok", latency_ms=(time.perf_counter() - start) * 1000)
    except Exception as exc:
        return ComponentHealth(status="down", detail=type(exc).__name__ + ": " + str(exc)[:200])


async def _check_service(state: AppState, base_url: str) -> ComponentHealth:
    start = time.perf_counter()
    try:
        resp = await state.http.get(base_url.rstrip("/") + "/health", timeout=state.settings.service_timeout_s)
        health = HealthResponse.model_validate_json(resp.content)  # the contract every service answers with
        status: Status = health.status if resp.status_code == 200 else "down"
        return ComponentHealth(
            status=status,
            latency_ms=(time.perf_counter() - start) * 1000,
            info={"version": health.version, **health.info},
        )
    except Exception as exc:
        return ComponentHealth(status="down", detail=type(exc).__name__ + ": " + str(exc)[:200])


async def aggregate(state: AppState) -> HealthResponse:
    db, cache, cf, audio = await asyncio.gather(
        run_in_threadpool(_check_db, state),
        _check_redis(state),
        _check_service(state, state.settings.cf_service_url),
        _check_service(state, state.settings.audio_service_url),
    )
    components = {"database": db, "redis": cache, "cf_service": cf, "audio_service": audio}
    overall: Status
    if db.status == "down":
        overall = "down"
    elif all(c.status == "ok" for c in components.values()):
        overall = "ok"
    else:
        overall = "degraded"
    return HealthResponse(
        service="gateway",
        version=__version__,
        status=overall,
        components=components,
        info={"mode": state.settings.app_mode},
        preparation=await run_in_threadpool(preparation, state, audio),
    )


def preparation(state: AppState, audio: ComponentHealth) -> Preparation | None:
    """The first start's audio pipeline (its progress files), else the music folder's sound analysis."""
    pipeline = progress.read(state.settings.var_dir / "audio" / "progress")
    if pipeline is not None and pipeline.active:
        return pipeline
    library = audio.info.get("library") if audio.status == "ok" else None
    if isinstance(library, dict) and (library.get("queued") or library.get("running")):
        done = int(library.get("done") or 0) + int(library.get("failed") or 0)
        total = done + int(library.get("queued") or 0) + (1 if library.get("running") else 0)
        eta = library.get("eta_s")
        step = StepProgress(
            name="library-analysis",
            label=LABELS["library-analysis"],
            state="running",
            done=done,
            total=total,
            unit="song",
            eta_s=float(eta) if isinstance(eta, int | float) else None,
        )
        return Preparation(active=True, step=step, position=1, steps=1, items=[step])
    return pipeline
