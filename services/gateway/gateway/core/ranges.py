"""HTTP ``Range: bytes=...`` parsing (RFC 9110 section 14), single range only."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)


class RangeNotSatisfiable(Exception):
    """The range is well-formed but lies outside the file: answer 416."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range to serve, or None to serve the whole file.

    Malformed headers and multi-range requests are ignored (a server may always
    answer 200 with the full body); a satisfiable-looking range beyond the end
    raises :class:`RangeNotSatisfiable`.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header)
    if match is None:  # includes "bytes=0-1,5-9": we serve the whole file instead
        return None
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignore
    if start >= size:
        raise RangeNotSatisfiable
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1))
