"""Keeping audio_service's index in step with the music folder.

The database knows the library's present files and the audio id each one's sound gets
(:func:`gateway.db.library.analysis_items`); audio_service analyses what it does not index yet and skips
the rest. So sending the whole list is always safe: after a scan, at start-up, and every
``LIBRARY_SYNC_S`` seconds (which also re-queues whatever an audio_service restart or a catalog re-index
lost). A sync while audio_service is down is simply tried again at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from musicrec_common.schemas import LibraryAnalyzeRequest, LibraryFileIn
from sqlalchemy import Engine

from gateway.app.clients import AudioClient
from gateway.app.downstream import ServiceDown, ServiceRejected
from gateway.db.library import AnalysisItem, analysis_items

log = logging.getLogger("gateway.library")
CHUNK = 1000  # files per request (the contract allows 5000)


@dataclass
class SyncReport:
    files: int = 0
    queued: int = 0
    already: int = 0
    rejected: int = 0
    error: str | None = None


async def submit(audio: AudioClient, items: list[AnalysisItem]) -> SyncReport:
    """Send ``items`` to audio_service in chunks; stops at the first failure (reported, not raised)."""
    report = SyncReport(files=len(items))
    for lo in range(0, len(items), CHUNK):
        body = LibraryAnalyzeRequest(
            items=[
                LibraryFileIn(audio_id=i.audio_id, path=i.path, title=_cut(i.title), artist=_cut(i.artist))
                for i in items[lo : lo + CHUNK]
            ]
        )
        try:
            answer = await audio.library_analyze(body)
        except ServiceDown as exc:
            report.error = f"audio_service unavailable ({exc})"
            return report
        except ServiceRejected as exc:
            report.error = f"audio_service refused the files (HTTP {exc.status})"
            return report
        report.queued += answer.queued
        report.already += answer.already
        report.rejected += len(answer.rejected)
        for r in answer.rejected[:5]:
            log.warning("audio_service will not analyse %s: %s", r.audio_id, r.reason)
    return report


def _cut(text: str | None) -> str | None:
    return text[:512] if text else None


async def sync_once(engine: Engine, audio: AudioClient) -> SyncReport:
    items = await run_in_threadpool(analysis_items, engine)
    if not items:
        return SyncReport()
    return await submit(audio, items)


RETRY_S = 15.0  # audio_service still starting (or training its model): ask again soon


async def sync_forever(engine: Engine, audio: AudioClient, interval_s: float) -> None:
    """The gateway's background task: a sync now and every ``interval_s`` seconds (sooner after a failure)."""
    while True:
        wait = interval_s
        try:
            report = await sync_once(engine, audio)
            if report.queued:
                log.info("library: %d files queued for sound analysis", report.queued)
            if report.error:
                wait = min(interval_s, RETRY_S)
        except Exception:  # the database may be briefly unavailable; never let the task die
            log.exception("library sync failed")
            wait = min(interval_s, RETRY_S)
        await asyncio.sleep(wait)
