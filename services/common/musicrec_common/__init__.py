"""Shared code of the music recommendation services (no web framework, no DB, no Redis imports)."""

__version__ = "0.1.0"
