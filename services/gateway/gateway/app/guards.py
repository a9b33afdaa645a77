"""Checks that run before every route (an app-wide dependency)."""

from __future__ import annotations

from fastapi import Request
from musicrec_common.web import ApiError

#: Ids are 32-bit integer columns (PostgreSQL ``integer``). A larger id cannot exist, and handing it to
#: the database is not a lookup but an error (SQLite: OverflowError past 2**63; PostgreSQL: out of range
#: past 2**31) that would surface as a 500.
MAX_ID = 2**31 - 1


async def ids_in_range(request: Request) -> None:
    """An id in the path (``{song_id}`` ...) beyond any stored id is simply not found: 404, not a 500."""
    for name, raw in request.path_params.items():
        if not name.endswith("_id") or not isinstance(raw, str):
            continue
        digits = raw.strip().lstrip("+-")
        if digits.isdigit() and (len(digits) > 10 or int(digits) > MAX_ID):
            what = name.removesuffix("_id")
            raise ApiError(404, f"{what} {raw[:24]} not found", code=f"{what}_not_found", details={name: raw[:24]})
