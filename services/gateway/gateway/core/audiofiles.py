"""Where a song's audio file may live, and what it is (pure path logic)."""

from __future__ import annotations

from pathlib import Path

CONTENT_TYPES = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
}


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def resolve_audio_path(
    audio_path: str | None, var_dir: Path, data_dir: Path, music_dir: Path | None = None
) -> Path | None:
    """The file to serve for ``audio_path``, or None when there is none or it is not allowed.

    A relative path is taken relative to ``var_dir``; an absolute one must lie
    under ``var_dir``, ``data_dir`` or the user's ``music_dir``. Symlinks and ``..``
    are resolved first, so nothing outside those folders is ever served.
    """
    if not audio_path or "\x00" in audio_path:
        return None
    roots = [var_dir.resolve(), data_dir.resolve(), *([music_dir.resolve()] if music_dir else [])]
    raw = Path(audio_path)
    candidate = raw if raw.is_absolute() else roots[0] / raw
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    allowed = roots if raw.is_absolute() else roots[:1]
    if not any(resolved.is_relative_to(root) for root in allowed):
        return None
    return resolved if resolved.is_file() else None
