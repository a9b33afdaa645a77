"""Query by humming: the melodies of the catalog's songs, a sung or hummed query's pitch contour, and the match.

Melodies come from the scores the catalog is rendered from (the tune is the part
:func:`audio_service.core.versions.melody_index` picks), in the rendered song's time. A query is pitch-tracked with
librosa's ``pyin``. Both become contours: one pitch (MIDI, fractional) every :data:`FRAME_S` seconds, NaN where
nothing is sung. A query matches a passage of a melody when, after removing the best constant transposition (a
singer hums in their own key and octave) at one of a grid of tempo ratios (hummed too slow or too fast), the two
contours stay close: the cost is the mean absolute difference in semitones, capped so that a few wrong notes do
not sink a good match, plus a penalty for sung frames that fall on the melody's rests.

Also here: the synthetic hummed queries the evaluation uses (:func:`synth_hum`), openly synthetic: a voice-like
source with formants, vibrato, slow pitch drift, a wrong tempo, the singer's own octave and breath noise.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

FRAME_S = 0.1  # contour resolution
HUM_SR = 16000
RATIOS = tuple(float(r) for r in np.round(np.exp(np.linspace(np.log(0.7), np.log(1.45), 13)), 4))
COST_CAP = 2.5  # semitones: a wrong note costs at most this much
REST_PENALTY = 1.5  # per sung frame that falls on a rest of the melody
MIN_SUNG_S = 2.0

Notes = np.ndarray  # (k, 3) float32: start_s, end_s, MIDI pitch


# ----------------------------------------------------------------------------------------------- melodies
def melody_notes(parts: list[list[tuple[float, float, int]]], max_seconds: float | None = None) -> Notes:
    """The tune of a work: its melody part's notes ``(k, 3)``, overlapping notes reduced to the highest."""
    from audio_service.core.versions import melody_index

    if not parts:
        return np.zeros((0, 3), np.float32)
    notes = sorted(parts[melody_index(parts)])
    out: list[tuple[float, float, float]] = []
    for start, end, pitch in notes:
        if max_seconds is not None and start >= max_seconds:
            break
        if out and start < out[-1][1] - 1e-6:  # a chord in the tune: keep its top note
            if start - out[-1][0] < 1e-3:
                if pitch > out[-1][2]:
                    out[-1] = (out[-1][0], out[-1][1], float(pitch))
                continue
            out[-1] = (out[-1][0], start, out[-1][2])
        out.append((start, end if max_seconds is None else min(end, max_seconds), float(pitch)))
    return np.array(out, np.float32).reshape(-1, 3)


def contour(notes: Notes, frame_s: float = FRAME_S) -> np.ndarray:
    """``(n,)`` pitch every ``frame_s`` seconds from ``notes (k, 3)``, NaN on rests."""
    if len(notes) == 0:
        return np.zeros(0, np.float32)
    n = int(np.ceil(float(notes[:, 1].max()) / frame_s))
    out = np.full(n, np.nan, np.float32)
    for start, end, pitch in notes:
        a = round(float(start) / frame_s)
        b = max(round(float(end) / frame_s), a + 1)
        out[a:b] = pitch
    return out


def _catalog_job(args: tuple[str, str, str, int | None]) -> tuple[str, np.ndarray | str]:
    from audio_service.core.catalog import EXCERPT_S, Work, parse_work, work_seed

    song_id, collection, corpus_path, number = args
    work = Work(song_id, collection, corpus_path, number)
    try:
        # The catalog renders a work with the generator of its id: the same tempo, so the same times.
        _, parts, _ = parse_work(work, np.random.default_rng(work_seed(work.id)))
    except Exception as exc:  # music21 raises many kinds
        return song_id, f"{type(exc).__name__}: {exc}"[:200]
    return song_id, melody_notes([p for p in parts if p][:15], EXCERPT_S)


def catalog_melodies(
    catalog_dir: str | os.PathLike[str], workers: int = 2, progress: bool = True
) -> dict[str, np.ndarray]:
    """The tune ``(k, 3)`` of every catalog song, read from its score; cached in ``CATALOG/melodies.npz``."""
    from musicrec_common.progress import tqdm

    from audio_service.core.catalog import load_catalog

    root = Path(catalog_dir)
    cache = root / "melodies.npz"
    have: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            have = {k: z[k] for k in z.files}
    songs = [s for s in load_catalog(root) if s["id"] not in have and s.get("source_path")]
    for s in list(songs):  # written by build-catalog beside the recording: no need to read the score again
        sidecar = root / f"{str(s['file']).rsplit('.', 1)[0]}.melody.npy"
        if sidecar.exists():
            notes = np.load(sidecar, allow_pickle=False)
            if len(notes):
                have[s["id"]] = notes.astype(np.float32)
            songs.remove(s)
    jobs = [(s["id"], s["collection"], s["source_path"], s.get("number")) for s in songs]
    if not jobs:
        if len(have) != _cached_count(cache):
            _save(cache, have)
        return have
    pool = get_context("fork").Pool(workers, maxtasksperchild=50) if workers > 1 and len(jobs) > 1 else None
    results = pool.imap_unordered(_catalog_job, jobs, chunksize=4) if pool is not None else map(_catalog_job, jobs)
    try:
        for song_id, notes in tqdm(results, total=len(jobs), desc="melodies", unit="song", disable=not progress):
            if isinstance(notes, np.ndarray) and len(notes):
                have[song_id] = notes
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    _save(cache, have)
    return have


def _cached_count(cache: Path) -> int:
    if not cache.exists():
        return 0
    with np.load(cache, allow_pickle=False) as z:
        return len(z.files)


def _save(cache: Path, melodies: dict[str, np.ndarray]) -> None:
    tmp = cache.with_name("melodies.tmp.npz")
    np.savez(tmp, **melodies)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    os.replace(tmp, cache)


# ----------------------------------------------------------------------------------------------- queries
def pitch_contour(y: np.ndarray, sr: int, frame_s: float = FRAME_S) -> np.ndarray:
    """The sung pitch of ``y`` every ``frame_s`` seconds (MIDI, fractional), NaN where nothing is sung (pyin)."""
    import librosa

    if sr != HUM_SR:
        y = librosa.resample(y.astype(np.float32), orig_sr=sr, target_sr=HUM_SR)
    hop = HUM_SR // 50  # 20 ms
    f0, voiced, _ = librosa.pyin(
        y.astype(np.float32), fmin=65.0, fmax=1050.0, sr=HUM_SR, frame_length=1024, hop_length=hop, center=True
    )
    midi = np.where(voiced & np.isfinite(f0), librosa.hz_to_midi(np.where(np.isfinite(f0), f0, 1.0)), np.nan)
    per = max(1, round(frame_s * 50))
    n = len(midi) // per
    blocks = midi[: n * per].reshape(n, per)
    sung = np.sum(np.isfinite(blocks), axis=1) > per // 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks are rests
        med = np.nanmedian(np.where(np.isfinite(blocks), blocks, np.nan), axis=1)
    return np.where(sung, med, np.nan).astype(np.float32)


def _stretch(q: np.ndarray, ratio: float) -> np.ndarray:
    """``q`` played ``ratio`` times as fast (nearest frame, so rests stay rests)."""
    m = max(2, round(len(q) / ratio))
    return q[np.minimum((np.arange(m) * ratio).round().astype(int), len(q) - 1)]


@dataclass(frozen=True)
class HumMatch:
    song_id: str
    score: float  # 1 / (1 + cost): 1 is a perfect match
    cost: float
    song_start: float
    song_end: float
    transpose: float  # semitones from the query to the song
    tempo_ratio: float  # the song's speed relative to the query


def match_contour(
    query: np.ndarray,
    ref: np.ndarray,
    hop: int = 2,
    ratios: tuple[float, ...] = RATIOS,
    robust: bool = True,
) -> tuple[float, int, int, float, float]:
    """Best placement of ``query`` in ``ref`` (both contours): ``(cost, start, length, transpose, ratio)``.

    ``robust``: the key is the median difference (a few wrong notes do not move it); else the mean (a quick
    first pass over every melody).
    """
    best = (np.inf, 0, 0, 0.0, 1.0)
    sung = np.isfinite(query)
    if sung.sum() * FRAME_S < MIN_SUNG_S or len(ref) == 0:
        return best
    # Trim silence around the query: its sung part is what is looked for.
    idx = np.flatnonzero(sung)
    query = query[idx[0] : idx[-1] + 1]
    for ratio in ratios:
        q = _stretch(query, ratio)
        if len(q) > len(ref):
            # A query longer than the melody: compare its beginning.
            q = q[: len(ref)]
        windows = np.lib.stride_tricks.sliding_window_view(ref, len(q))[::hop]  # (w, L)
        qs = np.isfinite(q)
        diff = windows[:, qs] - q[qs][None, :]  # (w, sung frames)
        on = np.isfinite(diff)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # windows that are all rest
            # The singer's key: the median difference, or the mean on the quick pass.
            shift = np.nanmedian(diff, axis=1) if robust else np.where(on, diff, 0.0).sum(axis=1) / on.sum(axis=1)
            err = np.minimum(np.abs(diff - shift[:, None]), COST_CAP)
            err = np.where(on, err, REST_PENALTY)
        cost = err.mean(axis=1)
        cost = np.where(np.isfinite(shift), cost, np.inf)
        k = int(np.argmin(cost))
        if cost[k] < best[0]:
            best = (float(cost[k]), k * hop, len(q), float(shift[k]), ratio)
    return best


class MelodyIndex:
    """Contours of songs' melodies; :meth:`search` ranks them for a hummed contour."""

    def __init__(self, melodies: dict[str, np.ndarray]) -> None:
        self.contours = {sid: contour(notes) for sid, notes in melodies.items() if len(notes)}
        self.contours = {sid: c for sid, c in self.contours.items() if np.isfinite(c).sum() * FRAME_S >= MIN_SUNG_S}

    def __len__(self) -> int:
        return len(self.contours)

    def search(
        self, query: np.ndarray, n: int = 10, within: set[str] | None = None, shortlist: int = 80
    ) -> list[HumMatch]:
        """The ``n`` best songs for the query contour ``(m,)``, best first.

        A quick pass (every other tempo ratio, every 4th offset, the mean key) ranks every melody; the
        ``shortlist`` best are matched again at full resolution with the median key.
        """
        candidates = [(sid, ref) for sid, ref in self.contours.items() if within is None or sid in within]
        if len(candidates) > shortlist:
            quick = [match_contour(query, ref, hop=4, ratios=RATIOS[::2], robust=False)[0] for _, ref in candidates]
            keep = np.argsort(quick, kind="stable")[:shortlist]
            candidates = [candidates[i] for i in keep]
        found = []
        for sid, ref in candidates:
            cost, start, length, shift, ratio = match_contour(query, ref)
            if np.isfinite(cost):
                found.append(
                    HumMatch(
                        song_id=sid,
                        score=round(1.0 / (1.0 + cost), 4),
                        cost=round(cost, 4),
                        song_start=round(start * FRAME_S, 2),
                        song_end=round((start + length) * FRAME_S, 2),
                        transpose=round(shift, 2),
                        tempo_ratio=ratio,
                    )
                )
        found.sort(key=lambda m: m.cost)
        return found[:n]


# ----------------------------------------------------------------------------------------------- synthetic hums
VOWELS = {"a": (730, 1090, 2440), "o": (570, 840, 2410), "u": (300, 870, 2240), "m": (280, 1000, 2300)}


def _resonator(x: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * freq / sr
    return np.asarray(lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x), np.float32)


def synth_hum(notes: Notes, rng: np.random.Generator, sr: int = HUM_SR) -> tuple[np.ndarray, dict[str, Any]]:
    """A synthetic hummed or sung rendition of ``notes (k, 3)``: what human humming has, generated.

    The singer's octave (the tune moved so its median lands in a voice's range, plus a random key), a wrong tempo
    (x 0.8-1.25), onsets off by up to 40 ms, a slow pitch drift of up to +-50 cents, vibrato (5-6.5 Hz, 20-50
    cents) on held notes, a glottal-like source through three vowel formants, breath noise at 20-30 dB below
    the voice and breaths between phrases. Returns the waveform ``(n,)`` at ``sr`` and what was drawn.
    """
    tempo = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    voice_centre = float(rng.choice([52.0, 57.0, 64.0]))  # low male, high male / low female, high female (MIDI)
    shift = round(voice_centre - float(np.median(notes[:, 2]))) + int(rng.integers(-2, 3))
    start0 = float(notes[0, 0])
    dur = (float(notes[:, 1].max()) - start0) / tempo + 0.5
    n = int(dur * sr)
    t = np.arange(n) / sr
    pitch = np.full(n, np.nan)
    amp = np.zeros(n)
    for s, e, p in notes:
        a = int(((s - start0) / tempo + rng.uniform(-0.04, 0.04)) * sr)
        b = int(((e - start0) / tempo) * sr)
        a, b = max(a, 0), min(b, n)
        if b - a < int(0.03 * sr):
            continue
        pitch[a:b] = p + shift
        env = np.ones(b - a)
        att, rel = min(int(0.04 * sr), (b - a) // 3), min(int(0.06 * sr), (b - a) // 3)
        env[:att] = np.linspace(0, 1, att)
        env[len(env) - rel :] = np.linspace(1, 0.2, rel)
        amp[a:b] = env * rng.uniform(0.7, 1.0)
    # Glide between notes instead of jumping (a voice slides), then drift and vibrato.
    idx = np.flatnonzero(np.isfinite(pitch))
    if len(idx) == 0:
        return np.zeros(n, np.float32), {}
    pitch = np.interp(np.arange(n), idx, pitch[idx])
    walk = np.cumsum(rng.normal(0, 1, n // 400 + 2))
    walk = 0.5 * walk / (np.abs(walk).max() + 1e-9)  # +-50 cents at most
    drift = np.interp(np.arange(n), np.linspace(0, n, len(walk)), walk)
    vib_rate, vib_depth = rng.uniform(5.0, 6.5), rng.uniform(0.2, 0.5)
    vibrato = vib_depth * np.sin(2 * np.pi * vib_rate * t) * np.clip(amp, 0, 1)
    f0 = 440.0 * 2 ** ((pitch + drift + vibrato - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    # Harmonics below Nyquist only, each where it fits (a high voice has fewer).
    source = np.sum([(k * f0 < 0.45 * sr) * np.sin(k * phase) / k**1.5 for k in range(1, 25)], axis=0)
    vowel = VOWELS[str(rng.choice(list(VOWELS)))]
    voice = sum(_resonator(source, f, 80 + 0.05 * f, sr) for f in vowel)
    voice = np.asarray(voice) * amp
    voice /= np.abs(voice).max() + 1e-9
    snr_db = rng.uniform(20, 30)
    breath = _resonator(rng.normal(0, 1, n), 1500, 2000, sr)
    breath *= (np.sqrt(np.mean(voice**2)) / (np.sqrt(np.mean(breath**2)) + 1e-9)) * 10 ** (-snr_db / 20)
    breath *= 1 + 4 * (amp < 0.05)  # audible breaths in the gaps
    y = (0.8 * (voice + breath) / (np.abs(voice + breath).max() + 1e-9)).astype(np.float32)
    return y, {"tempo": round(tempo, 3), "shift": shift, "vibrato_hz": round(vib_rate, 2), "snr_db": round(snr_db, 1)}


def hum_excerpt(notes: Notes, rng: np.random.Generator, min_s: float = 8.0, max_s: float = 15.0) -> Notes:
    """A random 8-15 s passage of a melody (whole notes only), as a person would hum a part of a tune."""
    length = rng.uniform(min_s, max_s)
    end_all = float(notes[:, 1].max())
    start = rng.uniform(0, max(end_all - length, 0.0))
    keep = (notes[:, 0] >= start) & (notes[:, 0] < start + length)
    out = notes[keep]
    return out if len(out) >= 4 else notes[: max(4, len(out))]


def evaluate_hum(
    melodies: dict[str, np.ndarray],
    query_ids: list[str],
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Top-1, top-10 and MRR of synthetic hummed queries of ``query_ids`` against every melody of ``melodies``."""
    from musicrec_common.progress import tqdm

    index = MelodyIndex(melodies)
    rng = np.random.default_rng(seed)
    ranks: list[int] = []
    started = time.perf_counter()
    for sid in tqdm(query_ids, desc="hum", unit="query", disable=not progress):
        if sid not in index.contours:
            continue
        y, _ = synth_hum(hum_excerpt(melodies[sid], rng), rng)
        found = [m.song_id for m in index.search(pitch_contour(y, HUM_SR), n=len(index))]
        ranks.append(found.index(sid) + 1 if sid in found else len(index) + 1)
    r = np.array(ranks, float)
    return {
        "top1": float(np.mean(r <= 1)) if len(r) else 0.0,
        "top10": float(np.mean(r <= 10)) if len(r) else 0.0,
        "mrr": float(np.mean(1.0 / r)) if len(r) else 0.0,
        "n_queries": float(len(r)),
        "n_melodies": float(len(index)),
        "seconds_per_query": round((time.perf_counter() - started) / max(len(r), 1), 3),
    }
