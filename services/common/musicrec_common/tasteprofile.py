"""Streaming reader for the Echo Nest Taste Profile format.

Each line is ``user_id<TAB>song_id<TAB>play_count``, optionally preceded by a
header naming the three columns (in any order). The full ``train_triplets.txt``
has 48,373,586 rows, so the reader works in chunks of lines: each chunk is
parsed by pandas' C parser and validated with vectorised checks; only a chunk
that fails is re-scanned line by line to name the offending line numbers.

Ids are encoded to dense int32 codes as they stream in, so memory grows with
the number of *distinct* users and songs plus 12 bytes a row, never with the
text size.

Pure module: numpy and pandas only.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

COLUMNS = ("user_id", "song_id", "play_count")
INT32_MAX = 2**31 - 1
OnError = Literal["reject", "skip"]


class TasteProfileError(ValueError):
    """A malformed input; ``line`` is 1-based, as an editor shows it."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}: line {line}: {reason}")


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass
class Listens:
    """A whole file's listens, id-encoded.

    Attributes:
        users: (n_users,) object array of raw user ids; ``user_codes`` index it.
        songs: (n_songs,) object array of raw song ids; ``song_codes`` index it.
        user_codes: (n_rows,) int32.
        song_codes: (n_rows,) int32.
        counts: (n_rows,) int32 play counts, >= 1.
        bad_lines: lines skipped when reading with ``on_error="skip"``.
    """

    users: np.ndarray
    songs: np.ndarray
    user_codes: np.ndarray
    song_codes: np.ndarray
    counts: np.ndarray
    bad_lines: list[BadLine] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """(n_rows, 3) frame with categorical id columns and int32 counts."""
        return pd.DataFrame(
            {
                "user_id": pd.Categorical.from_codes(self.user_codes, categories=pd.Index(self.users)),
                "song_id": pd.Categorical.from_codes(self.song_codes, categories=pd.Index(self.songs)),
                "play_count": self.counts,
            }
        )


def _detect_header(first_line: str, path: str) -> tuple[bool, list[int]]:
    """Return (has_header, order) where order maps file column -> COLUMNS index."""
    parts = first_line.rstrip("\r\n").split("\t")
    names = [p.strip().lower() for p in parts]
    if set(names) == set(COLUMNS) and len(names) == 3:
        return True, [COLUMNS.index(n) for n in names]
    if len(parts) == 3 and parts[2].strip().isdigit():
        return False, [0, 1, 2]
    if set(names) & set(COLUMNS) or (len(parts) == 3 and not any(ch.isdigit() for ch in parts[2])):
        # Reads as a header, but not one we know how to map.
        raise TasteProfileError(
            path,
            1,
            f"unknown column order {parts!r}: expected a header with exactly "
            f"{', '.join(COLUMNS)} (any order) or no header and three tab-separated fields",
        )
    reason = _check_line(first_line)
    raise TasteProfileError(path, 1, reason or "unreadable first line")


def _check_line(text: str) -> str | None:
    """Why one data line is malformed, or None; the slow path for error reports."""
    parts = text.rstrip("\r\n").split("\t")
    if len(parts) != 3:
        return f"expected 3 tab-separated fields, found {len(parts)}"
    user, song, count = parts
    if not user.strip() or not song.strip():
        return "empty user or song id"
    if not count.strip().isdigit():
        return f"play count {count!r} is not a positive integer"
    value = int(count)
    if value < 1 or value > INT32_MAX:
        return f"play count {value} is out of range 1..{INT32_MAX}"
    return None


def _parse_fast(lines: list[str], order: list[int]) -> pd.DataFrame | None:
    """Parse a chunk with the C parser; None if anything in it looks wrong."""
    names = [COLUMNS[i] for i in order]
    try:
        frame = pd.read_csv(
            io.StringIO("".join(lines)),
            sep="\t",
            header=None,
            names=names,
            dtype={"user_id": str, "song_id": str, "play_count": np.int64},
            engine="c",
            quoting=3,  # QUOTE_NONE: ids never carry quotes
            keep_default_na=False,
            na_values={"user_id": [""], "song_id": [""]},
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError, OverflowError):
        return None  # a non-integer count, a wrong field count ...: the slow path names the line
    if len(frame) != len(lines) or frame[["user_id", "song_id"]].isna().to_numpy().any():
        return None
    counts = frame["play_count"].to_numpy()
    if counts.min() < 1 or counts.max() > INT32_MAX:
        return None
    frame["play_count"] = counts.astype(np.int32)
    return frame[list(COLUMNS)]


def iter_chunks(
    path: str | Path,
    *,
    chunk_rows: int = 250_000,
    on_error: OnError = "reject",
    bad_lines: list[BadLine] | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield frames of at most ``chunk_rows`` valid rows (columns ``COLUMNS``).

    With ``on_error="reject"`` the first malformed line raises
    :class:`TasteProfileError`; with ``"skip"`` it is appended to ``bad_lines``
    (line number and reason) and left out.
    """
    path_s = str(path)
    with open(path, encoding="utf-8", newline="") as handle:
        first = handle.readline()
        if not first:
            return
        has_header, order = _detect_header(first, path_s)
        pending = [] if has_header else [first]
        line_no = 1 if has_header else 0  # lines consumed before `pending`
        while True:
            lines = pending + list(itertools.islice(handle, chunk_rows - len(pending)))
            pending = []
            if not lines:
                return
            start = line_no + 1
            line_no += len(lines)
            # A file whose last line lacks "\n" is fine; a blank trailing line is too.
            while lines and not lines[-1].strip():
                lines.pop()
            frame = _parse_fast(lines, order) if lines else None
            if frame is None and lines:
                keep: list[str] = []
                for offset, text in enumerate(lines):
                    ordered = _reorder(text, order)
                    reason = _check_line(ordered)
                    if reason is None:
                        keep.append(ordered)
                        continue
                    if on_error == "reject":
                        raise TasteProfileError(path_s, start + offset, reason)
                    if bad_lines is not None:
                        bad_lines.append(BadLine(start + offset, reason))
                frame = _parse_fast(keep, [0, 1, 2]) if keep else None
            if frame is not None and len(frame):
                yield frame


def _reorder(text: str, order: list[int]) -> str:
    if order == [0, 1, 2]:
        return text
    parts = text.rstrip("\r\n").split("\t")
    if len(parts) != 3:
        return text
    out = [""] * 3
    for file_col, col in enumerate(order):
        out[col] = parts[file_col]
    return "\t".join(out) + "\n"


class _Encoder:
    """Incremental raw-id -> int32 code mapping, vectorised with a pandas hash index."""

    def __init__(self) -> None:
        self.known = pd.Index([], dtype=object)

    def encode(self, values: pd.Series) -> np.ndarray:
        # Factorize the chunk, then look its distinct ids up in one hashed pass.
        codes, uniques = pd.factorize(values, sort=False)
        mapping = self.known.get_indexer(uniques)
        new = mapping < 0
        if new.any():
            start = len(self.known)
            mapping[new] = np.arange(start, start + int(new.sum()))
            self.known = self.known.append(pd.Index(uniques[new], dtype=object))
        return mapping.astype(np.int32)[codes]

    def labels(self) -> np.ndarray:
        return self.known.to_numpy(dtype=object)


def read_listens(
    path: str | Path,
    *,
    chunk_rows: int = 250_000,
    on_error: OnError = "reject",
) -> Listens:
    """Read a whole Taste Profile file into id-encoded int32 arrays.

    Peak memory is the encoded arrays (12 bytes a row) plus the id dictionaries
    plus one chunk of text; see ``bench/bench_loader.py``.
    """
    users, songs = _Encoder(), _Encoder()
    parts_u: list[np.ndarray] = []
    parts_s: list[np.ndarray] = []
    parts_c: list[np.ndarray] = []
    bad: list[BadLine] = []
    for frame in iter_chunks(path, chunk_rows=chunk_rows, on_error=on_error, bad_lines=bad):
        parts_u.append(users.encode(frame["user_id"]))
        parts_s.append(songs.encode(frame["song_id"]))
        parts_c.append(frame["play_count"].to_numpy(dtype=np.int32))

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)

    return Listens(
        users=users.labels(),
        songs=songs.labels(),
        user_codes=cat(parts_u),
        song_codes=cat(parts_s),
        counts=cat(parts_c),
        bad_lines=bad,
    )
