"""Typed clients of cf_service and audio_service: requests and answers are `musicrec_common` models.

A call that times out, is refused, answers 5xx or answers something that does not parse as the
contract's model raises :class:`~gateway.app.downstream.ServiceDown`; a 4xx raises
:class:`~gateway.app.downstream.ServiceRejected` with the error body. No untyped answer leaves here.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from musicrec_common.schemas import (
    AudioSimilarResponse,
    ClipQueryResponse,
    CompareResponse,
    FoldInRequest,
    HumResponse,
    LibraryAnalyzeRequest,
    LibraryAnalyzeResponse,
    LibraryStatusResponse,
    MapResponse,
    RecommendationsResponse,
    SimilarRequest,
    SimilarResponse,
    SonicPathRequest,
    SonicPathResponse,
    VersionsResponse,
)
from pydantic import BaseModel, ValidationError

from gateway.app.downstream import ServiceDown, call
from gateway.app.metrics import Metrics

M = TypeVar("M", bound=BaseModel)


class ServiceClient:
    """One downstream service on the shared ``httpx.AsyncClient``."""

    service = "service"

    def __init__(self, http: httpx.AsyncClient, metrics: Metrics, base_url: str, timeout_s: float) -> None:
        self.http = http
        self.metrics = metrics
        self.base_url = base_url
        self.timeout_s = timeout_s

    async def _call(self, model: type[M], method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> M:
        body = await call(
            self.http,
            self.metrics,
            self.service,
            self.base_url,
            method,
            path,
            timeout=self.timeout_s if timeout is None else timeout,
            **kwargs,
        )
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            self.metrics.inc("gateway_downstream_errors_total", service=self.service)
            raise ServiceDown(self.service, f"answer is not a {model.__name__}") from exc


class CfClient(ServiceClient):
    """cf_service: the vote's lists for listeners, fold-in for new histories, co-listened songs."""

    service = "cf"

    async def recommendations(self, msd_user_id: str, n: int) -> RecommendationsResponse:
        return await self._call(RecommendationsResponse, "GET", f"/recommendations/{msd_user_id}", params={"n": n})

    async def fold_in(self, request: FoldInRequest) -> RecommendationsResponse:
        return await self._call(
            RecommendationsResponse, "POST", "/recommendations/fold-in", json=request.model_dump(mode="json")
        )

    async def similar(self, song_key: str, n: int) -> SimilarResponse:
        return await self._call(SimilarResponse, "GET", f"/similar/{song_key}", params={"n": n})

    async def similar_within(self, song_key: str, n: int, within: list[str]) -> SimilarResponse:
        body = SimilarRequest(n=n, within=within).model_dump(mode="json")
        return await self._call(SimilarResponse, "POST", f"/similar/{song_key}", json=body)


class AudioClient(ServiceClient):
    """audio_service: sound-alike songs, search by clip, the catalog map, the library's sound analysis."""

    service = "audio"

    def __init__(
        self, http: httpx.AsyncClient, metrics: Metrics, base_url: str, timeout_s: float, admin_token: str | None = None
    ) -> None:
        super().__init__(http, metrics, base_url, timeout_s)
        self.admin_token = admin_token

    async def library_analyze(self, request: LibraryAnalyzeRequest) -> LibraryAnalyzeResponse:
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        return await self._call(
            LibraryAnalyzeResponse,
            "POST",
            "/library/analyze",
            timeout=max(self.timeout_s, 30.0),  # a few thousand paths are checked on disk
            json=request.model_dump(mode="json"),
            headers=headers,
        )

    async def library_status(self) -> LibraryStatusResponse:
        return await self._call(LibraryStatusResponse, "GET", "/library/status")

    async def similar(self, audio_id: str, n: int) -> AudioSimilarResponse:
        return await self._call(AudioSimilarResponse, "GET", f"/similar/{audio_id}", params={"n": n})

    async def path(self, request: SonicPathRequest) -> SonicPathResponse:
        return await self._call(SonicPathResponse, "POST", "/path", json=request.model_dump(mode="json"))

    async def query(self, name: str, data: bytes, content_type: str, n: int) -> ClipQueryResponse:
        # Decoding a clip takes longer than a lookup: at least 15 s.
        return await self._call(
            ClipQueryResponse,
            "POST",
            "/query",
            timeout=max(self.timeout_s, 15.0),
            params={"n": n},
            files={"file": (name, data, content_type)},
        )

    async def compare(self, a: str | tuple[str, bytes, str], b: str | tuple[str, bytes, str]) -> CompareResponse:
        """Compare two sides, each an audio id or an uploaded clip ``(name, bytes, content type)``."""
        data = {name: side for name, side in (("a", a), ("b", b)) if isinstance(side, str)}
        files = {f"file_{name}": side for name, side in (("a", a), ("b", b)) if not isinstance(side, str)}
        # Two whole recordings are decoded and aligned: allow at least 30 s.
        return await self._call(
            CompareResponse, "POST", "/compare", timeout=max(self.timeout_s, 30.0), data=data, files=files or None
        )

    async def versions(self, audio_id: str, n: int) -> VersionsResponse:
        return await self._call(VersionsResponse, "GET", f"/versions/{audio_id}", params={"n": n})

    async def hum(self, name: str, data: bytes, content_type: str, n: int) -> HumResponse:
        # Pitch tracking a query and matching every melody: at least 30 s.
        return await self._call(
            HumResponse,
            "POST",
            "/hum",
            timeout=max(self.timeout_s, 30.0),
            params={"n": n},
            files={"file": (name, data, content_type)},
        )

    async def map(self) -> MapResponse:
        return await self._call(MapResponse, "GET", "/map")
