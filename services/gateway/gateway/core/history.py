"""Listening-history exports of other services, read as a stream of listens (pure parsing).

Formats, recognised from the content (never from the file name):

- **Last.fm** scrobble exports: CSV rows ``artist, album, title, date`` (the common exporters' layout;
  with or without a header; ``date`` as ``31 Jan 2020 18:22``, ISO 8601 or a Unix time);
- **ListenBrainz** listens exports: a JSON array or JSON lines of ``{"listened_at", "track_metadata":
  {"artist_name", "track_name", "release_name"}}``;
- **Spotify** streaming history: ``StreamingHistory*.json`` (``endTime``, ``artistName``, ``trackName``,
  ``msPlayed``) and the extended ``Streaming_History_Audio_*.json`` (``ts``,
  ``master_metadata_album_artist_name``, ``master_metadata_track_name``, ``ms_played``).

:func:`read_export` yields :class:`Listen` records and raises :class:`ExportError` naming the line of the
first malformed record. JSON arrays are parsed item by item (``json.JSONDecoder.raw_decode`` over a buffered
stream), so a 100 MB export never sits in memory whole.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

Format = Literal["lastfm", "listenbrainz", "spotify"]
SKIP_MS = 30_000  # a play shorter than this is a skip, not a play
READ = 1 << 16


class ExportError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Listen:
    """One listen of an export. ``played_at`` is naive UTC; ``ms_played`` None when the format has none."""

    line: int
    artist: str | None
    title: str | None
    album: str | None
    played_at: dt.datetime
    ms_played: int | None = None

    @property
    def skipped(self) -> bool:
        return self.ms_played is not None and self.ms_played < SKIP_MS


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def parse_time(value: object) -> dt.datetime:
    """A Unix time (s or ms), ISO 8601, or Last.fm's ``31 Jan 2020 18:22``, as naive UTC."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        try:
            return _utc(dt.datetime.fromtimestamp(seconds, dt.UTC))
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"time {value!r} is out of range") from None
    text = str(value).strip()
    for fmt in ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return _utc(dt.datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return _utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"unreadable time {text[:40]!r}") from None


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def detect(head: str) -> Format:
    """The format of an export from its first characters."""
    start = head.lstrip("\ufeff \t\r\n")
    if start.startswith(("[", "{")):
        probe = start[:20_000]
        if "master_metadata_track_name" in probe or "msPlayed" in probe or "ms_played" in probe:
            return "spotify"
        if "track_metadata" in probe:
            return "listenbrainz"
        raise ExportError(1, "JSON that is neither a ListenBrainz nor a Spotify export")
    return "lastfm"


def _json_items(stream: IO[str]) -> Iterator[tuple[int, Any]]:
    """(line, item) of a JSON array or of JSON lines, read incrementally."""
    decoder = json.JSONDecoder()
    buf = ""
    line = 1
    pos = 0
    eof = False
    in_array: bool | None = None

    def fill() -> bool:
        nonlocal buf, pos, eof
        chunk = stream.read(READ)
        if not chunk:
            eof = True
            return False
        buf = buf[pos:] + chunk
        pos = 0
        return True

    while True:
        # Skip whitespace, the array's brackets and commas, counting lines.
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,\ufeff[]":
                if buf[pos] == "\n":
                    line += 1
                elif buf[pos] == "[" and in_array is None:
                    in_array = True
                pos += 1
            if pos < len(buf) or not fill():
                break
        if pos >= len(buf) and eof:
            return
        if in_array is None:
            in_array = False
        while True:
            try:
                item, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                if not eof and fill():
                    continue
                raise ExportError(line + buf.count("\n", pos, exc.pos), f"invalid JSON: {exc.msg}") from None
        yield line, item
        line += buf.count("\n", pos, end)
        pos = end


def _lastfm(stream: IO[str]) -> Iterator[Listen]:
    reader = csv.reader(stream)
    for row in reader:
        number = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if number == 1 and [c.strip().lower() for c in row[:4]] in (
            ["artist", "album", "title", "date"],
            ["artist", "album", "track", "date"],
            ["artist", "album", "song", "date"],
        ):
            continue
        if len(row) < 4:
            raise ExportError(number, f"expected 4 columns (artist, album, title, date), found {len(row)}")
        artist, album, title, when = row[0], row[1], row[2], row[3]
        if not title.strip():
            raise ExportError(number, "empty title")
        try:
            played = parse_time(when)
        except ValueError as exc:
            raise ExportError(number, str(exc)) from None
        yield Listen(number, _text(artist), _text(title), _text(album), played)


def _listenbrainz(stream: IO[str]) -> Iterator[Listen]:
    for line, item in _json_items(stream):
        meta = item.get("track_metadata") if isinstance(item, dict) else None
        if not isinstance(meta, dict) or not _text(meta.get("track_name")):
            raise ExportError(line, "a listen needs track_metadata.track_name")
        if "listened_at" not in item:
            raise ExportError(line, "a listen needs listened_at")
        try:
            played = parse_time(item["listened_at"])
        except ValueError as exc:
            raise ExportError(line, str(exc)) from None
        yield Listen(
            line,
            _text(meta.get("artist_name")),
            _text(meta.get("track_name")),
            _text(meta.get("release_name")),
            played,
            None,  # a ListenBrainz duration is the song's length, not the time played
        )


def _spotify(stream: IO[str]) -> Iterator[Listen]:
    for line, item in _json_items(stream):
        if not isinstance(item, dict):
            raise ExportError(line, "a Spotify entry is a JSON object")
        extended = "ts" in item
        title = item.get("master_metadata_track_name") if extended else item.get("trackName")
        artist = item.get("master_metadata_album_artist_name") if extended else item.get("artistName")
        album = item.get("master_metadata_album_album_name") if extended else None
        when = item.get("ts") if extended else item.get("endTime")
        ms = item.get("ms_played") if extended else item.get("msPlayed")
        if when is None or ms is None:
            raise ExportError(line, "a Spotify entry needs ts/endTime and ms_played/msPlayed")
        if not _text(title):
            continue  # podcasts and audiobooks have no track name: not music
        try:
            played = parse_time(when)
            ms_played = int(ms)
        except (ValueError, TypeError) as exc:
            raise ExportError(line, str(exc)) from None
        yield Listen(line, _text(artist), _text(title), _text(album), played, ms_played)


def read_export(raw: IO[bytes]) -> tuple[Format, Iterator[Listen]]:
    """The export's format and its listens (lazily); raises :class:`ExportError` for what is not an export."""
    stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type,type-var]
    head = stream.peek(20_000)[:20_000]
    try:
        text_head = codecs.getincrementaldecoder("utf-8")(errors="strict").decode(head, final=False)
    except UnicodeDecodeError:
        raise ExportError(1, "not UTF-8 text") from None
    fmt = detect(text_head)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    readers = {"lastfm": _lastfm, "listenbrainz": _listenbrainz, "spotify": _spotify}

    def listens() -> Iterator[Listen]:
        try:
            yield from readers[fmt](text)
        except UnicodeDecodeError:
            raise ExportError(1, "not UTF-8 text") from None

    return fmt, listens()
