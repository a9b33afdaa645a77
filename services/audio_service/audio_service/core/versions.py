"""Versions of the catalog's works, for learning and measuring "the same song, played another way".

Real versions (covers, arrangements, live takes) change the instruments, the tempo, the key, the voicing (a
melody alone, with its accompaniment, with a band under it), the production, and sometimes the melody's octave.
:func:`plan_versions` draws, deterministically from the work's id, ``n`` such versions of one work and
:func:`arrange` applies one to the work's parts (the note lists :func:`audio_service.core.catalog.score_events`
reads). Works are split into training and held-out works once (:func:`split_works`): a held-out work is never seen
in training, in any version.

Pure: numpy only; rendering is :func:`audio_service.core.catalog.render_midi_events`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from audio_service.core.catalog import DRUM_CHANNEL, PROGRAM_POOL

Voicing = Literal["melody", "melody+accompaniment", "band"]
VOICINGS: tuple[Voicing, ...] = ("melody", "melody+accompaniment", "band")
TRANSPOSE_RANGE = (-5, 6)  # semitones, both included
TEMPO_RANGE = (0.8, 1.25)  # playing-speed factor: 1.25 plays 25 % faster
BASS_PROGRAMS = (32, 33, 34, 35, 38)  # acoustic, finger, pick, fretless, synth bass
KICK, SNARE, HIHAT = 36, 38, 42  # General MIDI percussion

Note = tuple[float, float, int]  # (start_s, end_s, midi pitch)
Voiced = tuple[float, float, int, int, int]  # (start_s, end_s, pitch, velocity, channel)


def _seed(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "little")


@dataclass(frozen=True)
class VersionSpec:
    """How one version differs from the score.

    Attributes:
        work_id: the work.
        index: the version's number (0, 1, ...).
        transpose: semitones added to every pitched note.
        tempo: playing-speed factor (times are divided by it).
        voicing: which parts sound (the melody alone; with the other parts; with the other parts, a bass line
            and a drum pattern).
        melody_octave: octaves added to the melody only (-1, 0 or +1).
        programs: General MIDI program of each part (the melody first).
        bass_program: the bass line's program (``band`` only).
        soundfont: index into the SoundFonts the renderer is given.
    """

    work_id: str
    index: int
    transpose: int
    tempo: float
    voicing: Voicing
    melody_octave: int
    programs: tuple[int, ...]
    bass_program: int
    soundfont: int

    @property
    def id(self) -> str:
        return f"{self.work_id}~v{self.index}"


def plan_versions(work_id: str, n_parts: int, n: int = 3, n_soundfonts: int = 1) -> list[VersionSpec]:
    """``n`` versions of a work with ``n_parts`` parts, the same every time for the same work.

    The voicings cycle so that any 3 consecutive versions hold all three; keys, tempos and octaves are drawn
    without repeating a key within the first 12 versions; every version draws its own instruments.
    """
    rng = np.random.default_rng(_seed("versions", work_id))
    keys = rng.permutation(np.arange(TRANSPOSE_RANGE[0], TRANSPOSE_RANGE[1] + 1))
    first_voicing = int(rng.integers(len(VOICINGS)))
    specs = []
    for i in range(n):
        programs = tuple(int(p) for p in rng.choice(PROGRAM_POOL, size=max(n_parts, 1)))
        specs.append(
            VersionSpec(
                work_id=work_id,
                index=i,
                transpose=int(keys[i % len(keys)]),
                tempo=round(float(np.exp(rng.uniform(np.log(TEMPO_RANGE[0]), np.log(TEMPO_RANGE[1])))), 4),
                voicing=VOICINGS[(first_voicing + i) % len(VOICINGS)],
                melody_octave=int(rng.choice((-1, 0, 0, 1))),
                programs=programs,
                bass_program=int(rng.choice(BASS_PROGRAMS)),
                soundfont=int(rng.integers(max(n_soundfonts, 1))),
            )
        )
    return specs


def melody_index(parts: list[list[Note]]) -> int:
    """The part that carries the tune: the highest by duration-weighted mean pitch (the first on a tie)."""
    best, best_pitch = 0, -np.inf
    for i, notes in enumerate(parts):
        if not notes:
            continue
        durs = np.array([max(e - s, 1e-3) for s, e, _ in notes])
        mean = float(np.average([p for _, _, p in notes], weights=durs))
        if mean > best_pitch + 1e-9:
            best, best_pitch = i, mean
    return best


def _bass_line(parts: list[list[Note]], beat_s: float, end_s: float) -> list[Note]:
    """On every beat, the lowest sounding pitch class, in the bass register (E1..E3 = 28..52)."""
    notes = [n for part in parts for n in part]
    out: list[Note] = []
    t = 0.0
    while t < end_s:
        sounding = [p for s, e, p in notes if s <= t + 1e-6 < e]
        if sounding:
            pitch = min(sounding)
            while pitch > 52:
                pitch -= 12
            while pitch < 28:
                pitch += 12
            out.append((t, t + beat_s * 0.95, pitch))
        t += beat_s
    return out


def _drums(beat_s: float, end_s: float) -> list[Note]:
    """Kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every half beat."""
    out: list[Note] = []
    beat, t = 0, 0.0
    while t < end_s:
        out.append((t, t + 0.1, KICK if beat % 2 == 0 else SNARE))
        out.append((t, t + 0.05, HIHAT))
        if t + beat_s / 2 < end_s:
            out.append((t + beat_s / 2, t + beat_s / 2 + 0.05, HIHAT))
        beat, t = beat + 1, t + beat_s
    return out


def arrange(
    parts: list[list[Note]], spec: VersionSpec, beat_s: float, max_seconds: float
) -> tuple[list[Voiced], list[int], float]:
    """Apply ``spec`` to a work's ``parts`` (times in seconds at the score's tempo, ``beat_s`` a quarter note).

    Returns:
        ``(notes, programs_by_channel, duration_s)``: notes as ``(start_s, end_s, pitch, velocity, channel)``
        sorted by start, 16 programs (channel 9 is the drum kit), and the version's length (≤ ``max_seconds``).
    """
    rng = np.random.default_rng(_seed("arrange", spec.id))
    melody = melody_index(parts)
    order = [melody] + [i for i in range(len(parts)) if i != melody]
    if spec.voicing == "melody":
        order = order[:1]
    channels = [c for c in range(16) if c != DRUM_CHANNEL]
    programs = [0] * 16
    scale = 1.0 / spec.tempo
    out: list[Voiced] = []
    for slot, part_index in enumerate(order[: len(channels) - 1]):
        chan = channels[slot]
        programs[chan] = spec.programs[slot % len(spec.programs)]
        shift = spec.transpose + (12 * spec.melody_octave if slot == 0 else 0)
        velocity = float(rng.uniform(80, 105) if slot == 0 else rng.uniform(55, 85))  # the tune on top
        for start, end, pitch in parts[part_index]:
            p = pitch + shift
            if 0 <= p <= 127 and start * scale < max_seconds:
                out.append((start * scale, min(end * scale, max_seconds), p, int(velocity), chan))
    if not out:
        return [], programs, 0.0
    end_s = min(max(e for _, e, *_ in out), max_seconds)
    if spec.voicing == "band":
        beat = beat_s * scale
        bass_chan = channels[min(len(order), len(channels) - 1)]
        programs[bass_chan] = spec.bass_program
        transposed = [[(s * scale, e * scale, p + spec.transpose) for s, e, p in parts[i]] for i in order]
        out += [(s, e, p, 90, bass_chan) for s, e, p in _bass_line(transposed, beat, end_s)]
        out += [(s, e, p, 70 if p == HIHAT else 100, DRUM_CHANNEL) for s, e, p in _drums(beat, end_s)]
    out = sorted((s, min(e, max_seconds), p, v, c) for s, e, p, v, c in out if s < max_seconds)
    return out, programs, float(min(max_seconds, end_s + 0.5))


def split_works(work_ids: list[str], held_out: float = 0.2, salt: str = "versions-v1") -> tuple[list[str], list[str]]:
    """``(training, held-out)`` works: a work's side depends only on its id, so it never changes as the catalog
    grows, and no version of a held-out work is ever trained on."""
    train: list[str] = []
    test: list[str] = []
    for work_id in work_ids:
        (test if (_seed(salt, work_id) % 10_000) / 10_000 < held_out else train).append(work_id)
    return train, test
