"""A music folder as files with tags: walking it, reading each file's tags, hashing its content.

Pure file-system work (no database): :func:`walk` lists the audio files under a folder, :func:`read_tags`
reads one file's tags with mutagen (mp3, flac, ogg/opus, m4a/aac, wav), :func:`content_hash` identifies
a file by its bytes so that a moved or renamed file is recognised. A file without tags gets its title
from its name ("03 - Artist - Title.flac" -> artist "Artist", title "Title").
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_EXTENSIONS = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav"}
HASH_CHUNK = 1 << 20


class UnreadableFile(Exception):
    """The file is not audio mutagen can read (corrupt, truncated, not what its name says)."""


@dataclass(frozen=True)
class FileStat:
    path: Path
    size: int
    mtime_ns: int


@dataclass
class Tags:
    """What a file says about itself; None where it says nothing."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    track: int | None = None
    year: int | None = None
    genre: str | None = None
    duration_s: float | None = None
    musicbrainz: dict[str, str] = field(default_factory=dict)  # recording / release / artist ids
    has_cover: bool = False
    from_file_name: bool = False  # the title (and artist) come from the file name: no tags


def walk(folder: Path) -> Iterator[FileStat]:
    """Every audio file under ``folder`` (sorted, symlinks not followed), with its size and mtime."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.suffix.lower() not in AUDIO_EXTENSIONS or path.is_symlink():
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            yield FileStat(path, st.st_size, st.st_mtime_ns)


def content_hash(path: Path) -> str:
    """sha256 of the file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _first(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(value: str | None) -> int | None:
    m = re.match(r"\s*(\d+)", value or "")
    return int(m.group(1)) if m else None


def names_from_file(path: Path) -> tuple[str | None, str]:
    """(artist or None, title) from a file name such as ``03 - Artist - Title.flac``."""
    stem = re.sub(r"^\s*\d+\s*[-._ ]\s*", "", path.stem).replace("_", " ").strip() or path.stem
    parts = [p.strip() for p in re.split(r"\s+-\s+", stem) if p.strip()]
    if len(parts) >= 2:
        return parts[0], " - ".join(parts[1:])
    return None, stem


def read_tags(path: Path) -> Tags:
    """The file's tags (easy tags across formats); raises :class:`UnreadableFile` when it is not audio."""
    import mutagen

    try:
        audio = mutagen.File(path, easy=True)
    except Exception as exc:  # mutagen raises many kinds for broken files
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc
    if audio is None:
        raise UnreadableFile("not an audio file mutagen recognises")
    info = getattr(audio, "info", None)
    length = float(getattr(info, "length", 0.0) or 0.0)
    if length <= 0:
        raise UnreadableFile("no audio stream (length 0)")
    get = (lambda key: _first(audio.get(key))) if audio.tags is not None or hasattr(audio, "get") else lambda _: None
    tags = Tags(
        title=get("title"),
        artist=get("artist"),
        album=get("album"),
        album_artist=get("albumartist"),
        track=_number(get("tracknumber")),
        year=_number(get("date") or get("year")),
        genre=get("genre"),
        duration_s=round(length, 3),
        musicbrainz={
            k: v
            for k, v in {
                "recording": get("musicbrainz_trackid"),
                "release": get("musicbrainz_albumid"),
                "artist": get("musicbrainz_artistid"),
            }.items()
            if v
        },
        has_cover=_has_cover(path),
    )
    if tags.year is not None and not 1000 <= tags.year <= 2100:
        tags.year = None
    if not tags.title:
        artist, title = names_from_file(path)
        tags.title, tags.artist = title, tags.artist or artist
        tags.from_file_name = True
    return tags


def _has_cover(path: Path) -> bool:
    """Whether the file embeds a picture (ID3 APIC, FLAC pictures, MP4 covr, Vorbis METADATA_BLOCK_PICTURE)."""
    import mutagen

    try:
        raw = mutagen.File(path)
    except Exception:
        return False
    if raw is None:
        return False
    if getattr(raw, "pictures", None):
        return True
    tags = getattr(raw, "tags", None)
    if tags is None:
        return False
    keys = [str(k) for k in (tags.keys() if hasattr(tags, "keys") else [])]
    return any(k.startswith("APIC") or k == "covr" or k.lower() == "metadata_block_picture" for k in keys)


MAX_COVER_BYTES = 8 << 20


def read_cover(path: Path) -> tuple[bytes, str] | None:
    """The file's embedded front cover ``(bytes, MIME type)``, or None (ID3 APIC, FLAC/Vorbis pictures, MP4 covr)."""
    import base64

    import mutagen

    try:
        raw = mutagen.File(path)
    except Exception:
        return None
    if raw is None:
        return None
    pictures = list(getattr(raw, "pictures", None) or [])
    tags = getattr(raw, "tags", None)
    if tags is not None and hasattr(tags, "keys"):
        for key in list(tags.keys()):
            name = str(key)
            if name.startswith("APIC"):
                frame = tags[key]
                pictures.append(frame)
            elif name == "covr":
                for cover in tags[key]:
                    fmt = getattr(cover, "imageformat", 13)
                    mime = "image/png" if fmt == 14 else "image/jpeg"
                    return (bytes(cover), mime) if len(cover) <= MAX_COVER_BYTES else None
            elif name.lower() == "metadata_block_picture":
                from mutagen.flac import Picture

                for value in tags[key]:
                    try:
                        pictures.append(Picture(base64.b64decode(value)))
                    except Exception:
                        continue
    # The front cover (picture type 3) first, else the first picture.
    pictures.sort(key=lambda p: 0 if getattr(p, "type", 3) == 3 else 1)
    for pic in pictures:
        data = bytes(getattr(pic, "data", b""))
        if data and len(data) <= MAX_COVER_BYTES:
            return data, str(getattr(pic, "mime", "") or "image/jpeg")
    return None


FOLDER_COVER_NAMES = ("cover", "folder", "front", "album", "albumart")


def folder_cover(folder: Path) -> tuple[bytes, str] | None:
    """An album folder's own picture (``cover.jpg``, ``folder.png`` …, any case), or None."""
    try:
        entries = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    except OSError:
        return None
    for stem in FOLDER_COVER_NAMES:
        for ext, mime in ((".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".png", "image/png")):
            path = entries.get(stem + ext)
            if path is not None and path.stat().st_size <= MAX_COVER_BYTES:
                return path.read_bytes(), mime
    return None
