"""One Subsonic request (:class:`Call`) and the registries of methods that answer it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from gateway.app.state import AppState
from gateway.core import subsonic as ss

MAX_ID = 10**12


@dataclass
class Call:
    """One authenticated request: who, with which client, and its parameters (repeated names keep every value)."""

    state: AppState
    user_id: int
    username: str
    is_admin: bool
    params: dict[str, list[str]]

    @property
    def client(self) -> str:
        return (self.get("c") or "app")[:128]

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for v in self.params.get(name, []) if v != ""]

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise ss.SubsonicError(ss.MISSING_PARAMETER, f"required parameter is missing: {name}")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        """An integer parameter within ``[lo, hi]`` (larger values are capped, as servers do for sizes)."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ss.SubsonicError(ss.GENERIC, f"parameter {name} must be an integer, not {raw[:32]!r}") from None
        if value < lo:
            raise ss.SubsonicError(ss.GENERIC, f"parameter {name} must be at least {lo}")
        return min(value, hi)

    def optional_int(self, name: str, lo: int, hi: int) -> int | None:
        raw = self.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise ss.SubsonicError(ss.GENERIC, f"parameter {name} must be an integer, not {raw[:32]!r}") from None
        if not lo <= value <= hi:
            raise ss.SubsonicError(ss.GENERIC, f"parameter {name} must be between {lo} and {hi}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ss.SubsonicError(ss.GENERIC, f"parameter {name} must be true or false, not {raw[:32]!r}")


def song_id(raw: str) -> int:
    """A song id as apps send it back (the database id); anything else is not found (70)."""
    if not raw.isdigit() or len(raw) > 12 or int(raw) >= MAX_ID:
        raise ss.SubsonicError(ss.NOT_FOUND, f"no song {raw[:64]!r}")
    return int(raw)


Method = Callable[[Call], Awaitable[ss.Answer]]
Binary = Callable[[Call, Request], Awaitable[Response]]
METHODS: dict[str, Method] = {}
BINARY: dict[str, Binary] = {}
EXTENSIONS: list[ss.Node] = [
    {"name": "formPost", "versions": [1]},
    {"name": "apiKeyAuthentication", "versions": [1]},
    {"name": "sonicSimilarity", "versions": [1]},
]


def method(*names: str) -> Callable[[Method], Method]:
    """Register ``fn`` as the answer to the Subsonic methods ``names``."""

    def register(fn: Method) -> Method:
        for name in names:
            METHODS[name] = fn
        return fn

    return register


def binary(*names: str) -> Callable[[Binary], Binary]:
    """Register ``fn`` as a method whose answer is a file (stream, download, cover art)."""

    def register(fn: Binary) -> Binary:
        for name in names:
            BINARY[name] = fn
        return fn

    return register
