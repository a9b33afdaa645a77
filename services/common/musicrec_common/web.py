"""HTTP-layer helpers shared by the services' thin FastAPI apps.

Every error leaves a service in one shape: ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("musicrec")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with the common error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


def require_bearer(authorization: str | None, token: str | None) -> None:
    """Raise 401 unless ``authorization`` is ``Bearer <token>``; no check when ``token`` is unset (local mode:
    production refuses to start without one). Compared in constant time."""
    if not token:
        return
    expected = f"Bearer {token}".encode()
    if authorization is None or not secrets.compare_digest(authorization.encode(), expected):
        raise ApiError(401, "a valid admin bearer token is required", headers={"WWW-Authenticate": "Bearer"})


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return error_response(
            exc.status_code,
            _CODES.get(exc.status_code, "error"),
            message,
            None if isinstance(exc.detail, str) else exc.detail,
            getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")) or None,
                "location": (err.get("loc") or ["?"])[0],
                "message": err.get("msg"),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        names = ", ".join(f["field"] or f["location"] for f in fields)
        return error_response(422, "validation_error", f"invalid request: {names}", fields)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error")


def serve(create_app: Any, settings: Any, port: int | None = None) -> None:
    """Run ``create_app(settings)`` with uvicorn on the settings' host and port (``port`` overrides it).

    The one serving block of every service's ``python -m <service> serve``; access logs are off (the
    services count requests in their metrics instead).
    """
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
