"""Precision and recall of the MSD matcher on a labelled set with the tag noise real libraries have.

    python bench/match_eval.py [--cases 3000] [--seed 0] [--no-write]

The labelled set is built from ``data/msd/songs.tsv`` (real MSD artists and titles): each case takes a song
and writes its tags the way a tagger, a player or a scrobbler might (case, diacritics, "feat." credits,
"(Remastered 2009)", "- Radio Edit", a leading "The", "&"/"and", a typo, no artist tag, "Various Artists"
with "Artist - Title"), or is a song held out of the index (it must not match anything). The tag noise is
synthetic; the songs are real. A match counts as correct when it is the song itself or an MSD duplicate of
it (same normalised artist and title under another song id: the MSD has such duplicates).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SONGS = REPO / "data" / "msd" / "songs.tsv"

Row = tuple[str, str, str, float | None]  # song_id, artist, title, duration


@dataclass(frozen=True)
class Case:
    kind: str
    artist: str | None
    title: str
    duration_s: float | None
    truth: str | None  # the song id, None for a song that is not in the index


def read_songs(path: Path = SONGS) -> list[Row]:
    out = []
    with open(path, encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if rec["title"] and rec["artist"]:
                dur = float(rec["duration_s"]) if rec.get("duration_s") else None
                out.append((rec["song_id"], rec["artist"], rec["title"], dur))
    return out


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if len(text) < 6 or not letters:
        return text
    i = rng.choice(letters)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _strip_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


NOISE: dict[str, Callable[[Row, random.Random], tuple[str | None, str, float | None]]] = {
    "clean": lambda r, g: (r[1], r[2], r[3]),
    "case": lambda r, g: (r[1].upper() if g.random() < 0.5 else r[1].lower(), r[2].lower(), r[3]),
    "diacritics": lambda r, g: (_strip_accents(r[1]), _strip_accents(r[2]), r[3]),
    "feat": lambda r, g: (
        (f"{r[1]} feat. {g.choice(['Rihanna', 'Pitbull', 'Sia', 'Drake'])}", r[2], r[3])
        if g.random() < 0.5
        else (r[1], f"{r[2]} (feat. {g.choice(['Kanye West', 'Jay-Z', 'Nicki Minaj'])})", r[3])
    ),
    "remaster": lambda r, g: (
        r[1],
        f"{r[2]} ({g.choice(['Remastered 2009', '2011 Remaster', 'Deluxe Edition'])})",
        r[3],
    ),
    "radio-edit": lambda r, g: (
        r[1],
        f"{r[2]} - {g.choice(['Radio Edit', 'Single Version', 'Remastered 2011'])}",
        r[3],
    ),
    "the": lambda r, g: (r[1][4:] if r[1].lower().startswith("the ") else f"The {r[1]}", r[2], r[3]),
    "and": lambda r, g: (r[1].replace("&", "and") if "&" in r[1] else r[1].replace(" and ", " & "), r[2], r[3]),
    "typo": lambda r, g: (r[1], _typo(r[2], g), r[3]),
    "no-artist": lambda r, g: (None, r[2], r[3]),
    "various": lambda r, g: ("Various Artists", f"{r[1]} - {r[2]}", r[3]),
}


def labelled_set(
    rows: list[Row], cases: int = 3000, seed: int = 0, held_out: float = 0.15
) -> tuple[list[Row], list[Case]]:
    """(the index's rows, the labelled cases): ``held_out`` of the cases are songs removed from the index."""
    from gateway.core.matching import normalize_artist, normalize_title

    rng = random.Random(seed)
    keys = Counter((normalize_artist(a), normalize_title(t)) for _, a, t, _ in rows)
    picked = rng.sample(range(len(rows)), cases)
    n_out = int(cases * held_out)
    # Held-out songs: only those whose key is unique, so that nothing left in the index is the same song.
    out_ids = {
        rows[i][0] for i in picked[:n_out] if keys[(normalize_artist(rows[i][1]), normalize_title(rows[i][2]))] == 1
    }
    index_rows = [r for r in rows if r[0] not in out_ids]
    kinds = list(NOISE)
    labelled = []
    for n, i in enumerate(picked):
        row = rows[i]
        kind = kinds[n % len(kinds)]
        artist, title, duration = NOISE[kind](row, rng)
        truth = None if row[0] in out_ids else row[0]
        labelled.append(Case(kind if truth else f"absent/{kind}", artist, title, duration, truth))
    return index_rows, labelled


@dataclass
class Score:
    precision: float
    recall: float
    accepted: int
    correct: int
    positives: int
    false_accepts: int
    ambiguous: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (correct accepted, cases)


def score(index_rows: list[Row], cases: list[Case]) -> tuple[Score, float]:
    """Precision/recall of accepted matches, and the seconds the lookups took."""
    from gateway.core.matching import MsdIndex, normalize_artist, normalize_title

    index = MsdIndex.build(index_rows)
    key_of = {sid: (normalize_artist(a), normalize_title(t)) for sid, a, t, _ in index_rows}
    accepted = correct = false_accepts = ambiguous = 0
    by_kind: dict[str, list[int]] = {}
    start = time.perf_counter()
    for case in cases:
        m = index.match(case.artist, case.title, case.duration_s)
        tally = by_kind.setdefault(case.kind, [0, 0])
        tally[1] += 1
        if m.status == "ambiguous":
            ambiguous += 1
        if m.status != "accepted":
            continue
        accepted += 1
        ok = case.truth is not None and (m.song_id == case.truth or key_of.get(m.song_id) == key_of.get(case.truth))
        if ok:
            correct += 1
            tally[0] += 1
        else:
            false_accepts += 1
    seconds = time.perf_counter() - start
    positives = sum(1 for c in cases if c.truth is not None)
    return Score(
        precision=correct / accepted if accepted else 1.0,
        recall=correct / positives if positives else 1.0,
        accepted=accepted,
        correct=correct,
        positives=positives,
        false_accepts=false_accepts,
        ambiguous=ambiguous,
        by_kind={k: (v[0], v[1]) for k, v in sorted(by_kind.items())},
    ), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    rows = read_songs()
    index_rows, cases = labelled_set(rows, args.cases, args.seed)
    result, seconds = score(index_rows, cases)
    lines = [
        f"Labelled set: {len(cases):,} cases from `data/msd/songs.tsv` (real MSD artists and titles, synthetic tag",
        f"noise), {result.positives:,} of songs in the index of {len(index_rows):,} songs and "
        f"{len(cases) - result.positives:,} of songs held out of it (must not match).",
        "",
        f"**Precision {result.precision:.4f}, recall {result.recall:.4f}** ({result.correct:,} correct of "
        f"{result.accepted:,} accepted, {result.false_accepts} wrong, {result.ambiguous} left for an admin); "
        f"lookups {1000 * seconds / len(cases):.2f} ms a case.",
        "",
        "| tag noise | correct / cases |",
        "|---|---:|",
        *[f"| {kind} | {c} / {n} |" for kind, (c, n) in result.by_kind.items()],
    ]
    body = "\n".join(lines)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results import publish

    publish("Library matching: precision and recall against the MSD", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
