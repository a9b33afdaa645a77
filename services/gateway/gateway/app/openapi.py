"""The OpenAPI schema names every status an operation can answer with (checked by schemathesis).

FastAPI documents each route's success status and 422. The errors that come from app-wide mechanisms
are added here, derived from each route itself, so a new route is documented without anyone
remembering to:

- 400: a request body that cannot be parsed at all (bytes that are not UTF-8 JSON, broken multipart);
- 401 for routes that need a session (the ``current_user`` dependency), 403 as well for admin routes;
- 404 for routes with an id in their path (no such song; ids beyond the database's range included);
- 413 and 415 for file uploads (the size limit; bytes that are not a readable media file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from gateway.app.deps import current_user, require_admin
from gateway.core.modes import MODES

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
DESCRIPTIONS = {
    400: "The request body could not be parsed",
    401: "Not logged in (session missing, expired or revoked)",
    403: "Administrators only",
    404: "Not found",
    413: "Upload too large",
    415: "Not a readable media file",
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, dependant) of every API route, those of included routers too."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), route.dependant
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for ctx in route.effective_route_contexts():
                yield ctx.path, set(ctx.methods), ctx.dependant


def _calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def error_statuses(path: str, dependant: Any, operation: dict[str, Any]) -> set[int]:
    codes: set[int] = set()
    calls = set(_calls(dependant))
    if require_admin in calls:
        codes |= {401, 403}
    elif current_user in calls:
        codes.add(401)
    if "_id}" in path:
        codes.add(404)
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        codes.add(400)
    if "multipart/form-data" in body:
        codes |= {413, 415}
    return codes


def _mode_enum(path: str, operation: dict[str, Any]) -> None:
    """The ``mode`` parameter lists the rows of the mode table (those with song sources on song routes)."""
    names = [m.name for m in MODES.values() if m.song or not path.startswith("/api/songs/")]
    for param in operation.get("parameters", []):
        if param.get("name") != "mode" or param.get("in") != "query":
            continue
        schema = param.get("schema", {})
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch["enum"] = names


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the app-wide error responses to every operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, methods, dependant in api_routes(app):
            for method in methods:
                operation = schema.get("paths", {}).get(path, {}).get(method.lower())
                if operation is None:  # not in the schema (include_in_schema=False)
                    continue
                responses = operation.setdefault("responses", {})
                for code in sorted(error_statuses(path, dependant, operation)):
                    responses.setdefault(str(code), {"description": DESCRIPTIONS[code], "content": ERROR})
                _mode_enum(path, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
