"""Playable catalog rebuilt from packages alone: music21 corpus → MIDI → TimGM6mb.sf2 → OGG.

Each work of the selected corpus collections is parsed with music21, exported to MIDI, re-read
with pretty_midi, re-orchestrated deterministically (programs drawn, seeded by the work id, from one
pool shared by all collections so that timbre alone does not give the collection away), rendered
with tinysoundfont at 22.05 kHz mono and cut to a ≤30 s excerpt written as OGG Vorbis.
``catalog.json`` holds one metadata record per song; songs whose file and config hash already
match are not rendered again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

RENDER_VERSION = "1"
SR = 22050
EXCERPT_S = 30.0
MIN_DURATION_S = 6.0
#: General MIDI programs shared by every collection (keyboards, strings, winds, brass, plucked, voices).
PROGRAM_POOL: tuple[int, ...] = (
    0,
    4,
    6,
    11,
    12,
    19,
    21,
    24,
    25,
    40,
    41,
    42,
    45,
    48,
    52,
    56,
    57,
    60,
    68,
    70,
    71,
    73,
    74,
)
TEMPO_RANGE = (72.0, 132.0)  # bpm drawn per work when the score has no metronome mark


@dataclass(frozen=True)
class CollectionSpec:
    """A corpus collection: folders under music21/corpus, a cap, and how many tunes per opus file."""

    name: str
    folders: tuple[str, ...]
    cap: int
    extensions: tuple[str, ...] = (".mxl", ".xml", ".krn", ".abc", ".musicxml")
    per_file: int = 1  # >1: ABC "opus" files with many tunes (X: numbers)


COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec("bach", ("bach",), 190, (".mxl", ".xml", ".krn")),
    CollectionSpec("palestrina", ("palestrina",), 190),
    CollectionSpec("ryans_mammoth", ("ryansMammoth",), 190),
    CollectionSpec("essen_folksong", ("essenFolksong",), 190, per_file=7),
    CollectionSpec("oneills_1850", ("oneills1850",), 150, per_file=4),
    CollectionSpec("trecento", ("trecento",), 110),
    CollectionSpec("monteverdi", ("monteverdi",), 60, (".mxl", ".xml")),
    CollectionSpec(
        "classical",
        (
            "beethoven",
            "mozart",
            "haydn",
            "schumann_robert",
            "schumann_clara",
            "schubert",
            "chopin",
            "weber",
            "cpebach",
            "handel",
            "corelli",
            "verdi",
            "joplin",
            "beach",
            "liliuokalani",
            "johnson_j_r",
        ),
        90,
    ),
)


@dataclass(frozen=True)
class Work:
    """One composition to render."""

    id: str
    collection: str
    corpus_path: str  # relative to music21/corpus
    number: int | None = None  # tune number inside an ABC opus


@dataclass
class SongMeta:
    """Metadata of one rendered song (one line of catalog.json)."""

    id: str
    title: str
    composer: str
    collection: str
    instruments: list[str]
    programs: list[int]
    key: str
    tempo_bpm: float
    duration_s: float
    source_path: str
    number: int | None
    file: str
    config_hash: str
    extra: dict[str, Any] = field(default_factory=dict)


def corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.__file__).resolve().parent


def soundfont_path() -> Path:
    """TimGM6mb.sf2 shipped inside the pretty_midi wheel."""
    import pretty_midi

    path = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
    if not path.exists():
        raise FileNotFoundError(f"SoundFont not found: {path}")
    return path


def config_hash() -> str:
    """Hash of everything that changes the rendered audio (not the work itself)."""
    sf2 = soundfont_path()
    blob = json.dumps(
        [RENDER_VERSION, SR, EXCERPT_S, PROGRAM_POOL, TEMPO_RANGE, sf2.stat().st_size], sort_keys=True
    ).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _abc_numbers(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [int(m) for m in re.findall(r"^X:\s*(\d+)", text, flags=re.MULTILINE)]


def list_works(limit: int | None = None, collections: list[str] | None = None) -> list[Work]:
    """Deterministic list of works, interleaved across collections (so ``limit`` keeps them all)."""
    root = corpus_root()
    per_collection: list[list[Work]] = []
    for spec in COLLECTIONS:
        if collections and spec.name not in collections:
            continue
        works: list[Work] = []
        for folder in spec.folders:
            files = sorted(p for p in (root / folder).rglob("*") if p.suffix.lower() in spec.extensions)
            for path in files:
                rel = path.relative_to(root).as_posix()
                if spec.per_file > 1:
                    numbers = sorted(set(_abc_numbers(path)))
                    # spread the picks over the whole opus rather than its first tunes
                    picks = numbers[:: max(1, len(numbers) // spec.per_file)][: spec.per_file]
                    for n in picks:
                        works.append(Work(f"{spec.name}-{_slug(path.stem)}-{n}", spec.name, rel, n))
                else:
                    works.append(Work(f"{spec.name}-{_slug(Path(rel).with_suffix('').as_posix())}", spec.name, rel))
        if len(works) > spec.cap:  # even spread over the sorted files
            idx = np.linspace(0, len(works) - 1, spec.cap).round().astype(int)
            works = [works[i] for i in sorted(set(idx.tolist()))]
        per_collection.append(works)
    out: list[Work] = []
    seen: set[str] = set()
    for i in range(max(len(w) for w in per_collection)):
        for works in per_collection:
            if i < len(works):
                w = works[i]
                if w.id in seen:  # same stem, other format (e.g. bwv1.6.mxl vs bwv1-6.krn): keep both, distinct ids
                    w = Work(f"{w.id}-{Path(w.corpus_path).suffix.lstrip('.')}", w.collection, w.corpus_path, w.number)
                seen.add(w.id)
                out.append(w)
    return out[:limit] if limit else out


def work_seed(work_id: str) -> int:
    return int.from_bytes(hashlib.sha1(work_id.encode()).digest()[:8], "little")


_KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def estimate_key(pitches: np.ndarray, durations: np.ndarray) -> str:
    """Krumhansl–Schmuckler key of MIDI ``pitches`` weighted by ``durations`` (both ``(n_notes,)``)."""
    if pitches.size == 0:
        return "unknown"
    hist = np.bincount(pitches % 12, weights=durations, minlength=12)
    best, name = -np.inf, "unknown"
    for tonic in range(12):
        for profile, mode in ((_KS_MAJOR, "major"), (_KS_MINOR, "minor")):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best:
                best, name = r, f"{_PC_NAMES[tonic]} {mode}"
    return name


_SYNTH_CACHE: dict[str, bytes] = {}
DRUM_CHANNEL = 9


def _sf_bytes(path: Path | None = None) -> bytes:
    """The SoundFont's bytes (TimGM6mb by default), read once per process."""
    path = path or soundfont_path()
    key = str(path)
    if key not in _SYNTH_CACHE:
        _SYNTH_CACHE[key] = path.read_bytes()
    return _SYNTH_CACHE[key]


def render_midi_events(
    notes: list[tuple[float, float, int, int, int]],
    programs: list[int],
    duration_s: float,
    soundfont: Path | None = None,
) -> np.ndarray:
    """Render ``notes`` = [(start_s, end_s, pitch, velocity, channel)] to mono float32 ``(n_samples,)``.

    ``programs[channel]`` is the General MIDI program of each channel; channel 9 plays the SoundFont's drum kit
    (General MIDI percussion: the pitch picks the drum). ``soundfont``: a General MIDI SoundFont (TimGM6mb.sf2
    when None).
    """
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SR, gain=-3.0)
    sfid = synth.sfload(_sf_bytes(soundfont))
    for chan, prog in enumerate(programs):
        if chan == DRUM_CHANNEL:
            synth.program_select(chan, sfid, 0, 0, is_drums=True)
        else:
            synth.program_select(chan, sfid, 0, prog)
    events: list[tuple[int, int, int, int, int]] = []  # (sample, order, chan, pitch, vel); offs first
    total = int(duration_s * SR)
    for start, end, pitch, vel, chan in notes:
        s0 = int(start * SR)
        if s0 >= total:
            continue
        events.append((s0, 1, chan, pitch, vel))
        events.append((min(int(end * SR), total), 0, chan, pitch, 0))
    events.sort()
    out = np.zeros(total * 2, dtype=np.float32)
    pos = 0
    for sample, kind, chan, pitch, vel in events:
        if sample > pos:
            out[pos * 2 : sample * 2] = np.frombuffer(synth.generate(sample - pos), dtype=np.float32)
            pos = sample
        if kind == 1:
            synth.noteon(chan, pitch, vel)
        else:
            synth.noteoff(chan, pitch)
    if total > pos:
        out[pos * 2 :] = np.frombuffer(synth.generate(total - pos), dtype=np.float32)
    mono = out.reshape(-1, 2).mean(axis=1)
    # loudness normalisation to -20 dBFS RMS, peak-limited, so level does not identify a collection
    rms = float(np.sqrt(np.mean(mono**2))) + 1e-9
    mono *= 0.1 / rms
    peak = float(np.abs(mono).max())
    if peak > 0.98:
        mono *= 0.98 / peak
    return mono.astype(np.float32)


def score_events(score: Any, bpm: float, max_seconds: float) -> list[list[tuple[float, float, int]]]:
    """Notes of each part as ``[(start_s, end_s, midi_pitch)]``, up to ``max_seconds``.

    Reads the music21 stream directly (one constant tempo, repeats as written): music21's own MIDI
    export expands repeats and is 10-20x slower on long works, which breaks the build budget.
    """
    spq = 60.0 / bpm  # seconds per quarter note
    max_q = max_seconds / spq
    parts = list(score.parts) if getattr(score, "parts", None) else [score]
    out: list[list[tuple[float, float, int]]] = []
    for part in parts:
        events: list[tuple[float, float, int]] = []
        for n in part.flatten().notes:
            off = float(n.offset)
            if off >= max_q:
                break
            dur = max(float(n.quarterLength), 0.125)
            tie = getattr(n, "tie", None)
            if tie is not None and tie.type in ("stop", "continue"):
                continue  # the tied note sounds on from its start: do not re-attack
            if tie is not None and tie.type == "start":
                dur *= 2  # approximate: most ties join two notes of similar length
            for p in n.pitches:
                events.append((off * spq, (off + dur) * spq, int(p.midi)))
        if events:
            out.append(events)
    return out


def parse_work(
    work: Work, rng: np.random.Generator | None = None
) -> tuple[Any, list[list[tuple[float, float, int]]], float]:
    """``(music21 score, parts as note lists in seconds up to EXCERPT_S, quarter-note bpm)``; raises on a score
    music21 cannot read. The tempo is the score's mark, else drawn from ``rng`` (the work's own generator,
    :func:`work_seed`, when None)."""
    from music21 import converter, tempo

    if rng is None:
        rng = np.random.default_rng(work_seed(work.id))
    path = corpus_root() / work.corpus_path
    # no pickle cache: writing it costs ~20% and it would live outside DIR
    kw: dict[str, Any] = {"forceSource": True, "storePickle": False}
    score = converter.parse(path, number=work.number, **kw) if work.number is not None else converter.parse(path, **kw)
    if hasattr(score, "scores") and not hasattr(score, "parts"):  # an Opus: take its first score
        score = score.scores[0]
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    bpm_score = float(marks[0].getQuarterBPM()) if marks and marks[0].number else None
    bpm = bpm_score if bpm_score and 30 <= bpm_score <= 260 else float(rng.uniform(*TEMPO_RANGE))
    return score, score_events(score, bpm, EXCERPT_S), bpm


def write_song(out_dir: Path, rel: str, audio: np.ndarray, record: dict[str, Any]) -> None:
    """``out_dir/rel`` as OGG Vorbis (written aside, then renamed) and its ``.json`` sidecar (``record``), so an
    interrupted build can reuse the song without the catalog file."""
    import soundfile as sf

    target = out_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.ogg")
    sf.write(tmp, audio, SR, format="OGG", subtype="VORBIS")
    os.replace(tmp, target)
    target.with_suffix(".json").write_text(json.dumps(record))


def render_work(work: Work, out_dir: Path, cfg_hash: str) -> dict[str, Any]:
    """Parse, orchestrate and render one work. Returns a SongMeta dict, or ``{"error": ...}``."""
    import pretty_midi

    rng = np.random.default_rng(work_seed(work.id))
    try:
        score, parts, bpm = parse_work(work, rng)
    except Exception as exc:  # music21 raises many kinds; any failure = skip and count
        return {"error": f"{type(exc).__name__}: {exc}"[:200], "id": work.id}
    parts = parts[:15]
    if not parts:
        return {"error": "no notes", "id": work.id}
    channels = [c for c in range(16) if c != 9][: len(parts)]
    programs_by_chan = [0] * 16
    programs: list[int] = []
    notes: list[tuple[float, float, int, int, int]] = []
    pitches: list[int] = []
    durs: list[float] = []
    for events, chan in zip(parts, channels, strict=True):
        prog = int(rng.choice(PROGRAM_POOL))
        programs_by_chan[chan] = prog
        programs.append(prog)
        base_vel = float(rng.uniform(70, 100))
        jitter = rng.normal(0.0, 6.0, size=len(events))
        for (start, end, pitch), j in zip(events, jitter, strict=True):
            if not 0 <= pitch <= 127:
                continue
            notes.append((start, end, pitch, int(np.clip(base_vel + j, 30, 127)), chan))
            pitches.append(pitch)
            durs.append(min(end, EXCERPT_S) - start)
    end_s = max(e for _, e, *_ in notes)
    duration = float(min(EXCERPT_S, end_s + 1.0))
    if duration < MIN_DURATION_S:
        return {"error": f"too short ({duration:.1f} s)", "id": work.id}
    audio = render_midi_events(notes, programs_by_chan, duration)
    rel = f"audio/{work.collection}/{work.id}.ogg"
    md = score.metadata
    title = (md.title or md.movementName or "").strip() if md is not None else ""
    composer = (md.composer or "").strip() if md is not None else ""
    meta = SongMeta(
        id=work.id,
        title=title or Path(work.corpus_path).stem + (f" #{work.number}" if work.number is not None else ""),
        composer=composer or work.corpus_path.split("/")[0],
        collection=work.collection,
        instruments=[pretty_midi.program_to_instrument_name(p) for p in programs],
        programs=programs,
        key=estimate_key(np.array(pitches), np.array(durs)),
        tempo_bpm=round(bpm, 2),
        duration_s=round(duration, 3),
        source_path=work.corpus_path,
        number=work.number,
        file=rel,
        config_hash=cfg_hash,
    )
    record = asdict(meta)
    # The tune, read while the score is open (query by humming; core/melody.py collects these files).
    from audio_service.core.melody import melody_notes

    melody_path = out_dir / f"{rel.rsplit('.', 1)[0]}.melody.npy"
    melody_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(melody_path, melody_notes(parts, EXCERPT_S))
    write_song(out_dir, rel, audio, record)
    return record


def _render_job(args: tuple[Work, str, str]) -> dict[str, Any]:
    work, out_dir, cfg = args
    return render_work(work, Path(out_dir), cfg)


def load_catalog(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Songs of ``DIR/catalog.json`` (empty list if absent)."""
    path = Path(out_dir) / "catalog.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text())["songs"])


def build_catalog(
    out_dir: str | os.PathLike[str],
    limit: int | None = None,
    workers: int = 2,
    progress: bool = True,
    collections: list[str] | None = None,
) -> dict[str, Any]:
    """Render (or reuse) every work; write ``catalog.json``. Returns a summary with counts and timing."""
    from musicrec_common.progress import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config_hash()
    works = list_works(limit, collections)
    existing = {s["id"]: s for s in load_catalog(out)}
    done: dict[str, dict[str, Any]] = {}
    todo: list[Work] = []
    for w in works:
        old = existing.get(w.id)
        sidecar = out / f"audio/{w.collection}/{w.id}.json"
        if old is None and sidecar.exists():
            old = json.loads(sidecar.read_text())
        if old and old.get("config_hash") == cfg and (out / old["file"]).exists():
            done[w.id] = old  # cached
        else:
            todo.append(w)
    failures: dict[str, str] = {}
    t0 = time.perf_counter()
    jobs = [(w, str(out), cfg) for w in todo]
    results: Iterable[dict[str, Any]]
    if workers > 1 and len(jobs) > 1:
        ctx = get_context("fork")
        pool = ctx.Pool(workers, maxtasksperchild=50)  # music21 caches grow; recycle workers
        results = pool.imap_unordered(_render_job, jobs, chunksize=1)
    else:
        pool = None
        results = map(_render_job, jobs)
    try:
        for res in tqdm(results, total=len(jobs), desc="render", disable=not progress, unit="song"):
            if "error" in res:
                failures[res["id"]] = res["error"]
            else:
                done[res["id"]] = res
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    elapsed = time.perf_counter() - t0
    songs = [done[w.id] for w in works if w.id in done]
    summary = {
        "n_songs": len(songs),
        "n_rendered": len(todo) - len(failures),
        "n_cached": len(works) - len(todo),
        "n_failed": len(failures),
        "failures": failures,
        "render_seconds": round(elapsed, 2),
        "seconds_per_rendered_song": round(elapsed / max(1, len(todo)), 3),
        "config_hash": cfg,
        "collections": {c.name: n for c in COLLECTIONS if (n := sum(1 for s in songs if s["collection"] == c.name))},
    }
    payload = {"version": RENDER_VERSION, "config_hash": cfg, "sample_rate": SR, "songs": songs, "summary": summary}
    tmp = out / "catalog.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, out / "catalog.json")
    return summary
