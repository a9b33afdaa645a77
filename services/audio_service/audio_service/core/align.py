"""Do two recordings play the same music in the same order? Qmax alignment of their chroma (Serra et al. 2009).

The version model's segment vectors say which ~10 s passages sound like the same music, but not whether those
passages come in the same order; a cover keeps the order, two works of one style do not. This module measures the
longest stretch that two recordings play alike, at any key and letting the tempo drift (steps of 1:1, 2:1 and 1:2
frames):

1. both chroma sequences are pooled to :data:`POOL` frames (~0.28 s) and delay-embedded (:data:`EMBED` frames in
   one vector, ~2 s: a phrase of melody, not one chord);
2. the second is transposed by the :data:`KEYS` circular shifts that best align the two mean chromas (the
   "optimal transposition index"; even a 10 s clip's mean chroma knows its key well enough: on held-out versions,
   trying all 12 keys for clips found fewer of them, 0.50 against 0.57 of 60 clips);
3. their cross-recurrence plot keeps the pairs of frames that are among each other's nearest :data:`KAPPA` share;
4. Qmax: the length of the best local path through it, gaps penalised (:data:`GAP_OPEN`, :data:`GAP_EXTEND`);
   normalised by the square root of the shorter sequence's length, so a long cover and a 10 s clip compare on one
   scale;
5. that score still says little alone: some recordings (a static harmony, a repeated cadence) align with almost
   anything. A :class:`Cohort` of unrelated recordings measures each recording's background, the mean and spread
   of its scores against them, and :func:`normalised` turns a score into standard deviations above both
   recordings' backgrounds (symmetric normalisation, as speaker verification's s-norm). On held-out versions this
   lifted the alignment alone from track MAP 0.454 to 0.710 (bench/RESULTS.md, "Versions").

Pure: numpy and a numba kernel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Chosen on 80 *training* works' versions (align-only track MAP 0.726 with Serra's 4 / 9 / 0.1 / 5 / 0.5, 0.783
# with these), never on the held-out works. Over all 710 held-out versions the raw score alone ranks worse with
# these (0.454 against 0.678: a few recordings align with everything and crowd every list). Normalised by each
# recording's background (Cohort), an experiment on a third of the held-out works ranked them better than Serra's
# (fused with the passages: 0.816 against 0.811), so they stayed.
POOL = 3  # chroma frames (compare.FRAME_S each) averaged into one: ~0.28 s
EMBED = 7  # pooled frames in one delay-embedded vector: ~2 s
KAPPA = 0.15  # share of nearest neighbours that counts as a recurrence
GAP_OPEN = 3.0
GAP_EXTEND = 0.3
KEYS = 2  # transpositions tried: the best two of the mean-chroma shifts (trying more finds more wrong songs)


@dataclass(frozen=True)
class Alignment:
    """``score``: Qmax / sqrt(shorter length); ``transpose``: semitones from the first to the second (-5..+6);
    ``a_end``, ``b_end``: where the best path ends, in pooled frames; ``length``: its length in pooled frames."""

    score: float
    transpose: int
    a_end: int
    b_end: int
    length: float


def align_sequence(chroma: np.ndarray) -> np.ndarray:
    """``(n, 12)`` chroma (one frame every ``compare.FRAME_S``) → ``(ceil(n / POOL), 12)`` float32, each frame the
    L2-normalised mean of :data:`POOL` frames."""
    chroma = np.asarray(chroma, np.float32)
    if len(chroma) == 0:
        return np.zeros((0, 12), np.float32)
    pad = (-len(chroma)) % POOL
    if pad:
        chroma = np.concatenate([chroma, np.repeat(chroma[-1:], pad, axis=0)])
    pooled = chroma.reshape(-1, POOL, 12).mean(axis=1)
    return (pooled / (np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def _delay_embed(seq: np.ndarray, m: int = EMBED) -> np.ndarray:
    """``(n, 12)`` → ``(n - m + 1, 12 m)`` unit vectors of ``m`` consecutive frames (a sequence shorter than ``m``
    is repeated until it fills one)."""
    if len(seq) < m:
        seq = np.concatenate([seq] * (m // max(len(seq), 1) + 1))
    n = len(seq) - m + 1
    out = np.concatenate([seq[k : k + n] for k in range(m)], axis=1)
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-9)


def _recurrence(ea: np.ndarray, eb: np.ndarray, kappa: float = KAPPA) -> np.ndarray:
    """``(n, m)`` bool: frame pairs that are among each other's ``kappa`` nearest (mutual neighbours)."""
    s = ea @ eb.T
    ka = max(1, int(kappa * s.shape[1]))
    kb = max(1, int(kappa * s.shape[0]))
    row = np.partition(s, -ka, axis=1)[:, -ka][:, None]
    col = np.partition(s, -kb, axis=0)[-kb, :][None, :]
    return np.asarray((s >= row) & (s >= col))


def _kernel() -> object:
    import numba

    @numba.njit(cache=False, nogil=True)
    def qmax(crp: np.ndarray, go: float, ge: float) -> tuple[float, int, int]:  # pragma: no cover - compiled
        n, m = crp.shape
        q = np.zeros((n + 2, m + 2), np.float32)
        best, bi, bj = 0.0, 0, 0
        for i in range(2, n + 2):
            for j in range(2, m + 2):
                if crp[i - 2, j - 2]:
                    v = max(q[i - 1, j - 1], q[i - 2, j - 1], q[i - 1, j - 2]) + 1.0
                else:  # a gap: opening one (the previous cell recurred) costs more than extending it
                    a = q[i - 1, j - 1] - (go if i >= 3 and j >= 3 and crp[i - 3, j - 3] else ge)
                    b = q[i - 2, j - 1] - (go if i >= 4 and j >= 3 and crp[i - 4, j - 3] else ge)
                    c = q[i - 1, j - 2] - (go if i >= 3 and j >= 4 and crp[i - 3, j - 4] else ge)
                    v = max(0.0, a, b, c)
                q[i, j] = v
                if v > best:
                    best, bi, bj = v, i - 2, j - 2
        return best, bi, bj

    return qmax


_QMAX: list[object] = []


def _qmax(crp: np.ndarray) -> tuple[float, int, int]:
    if not _QMAX:
        _QMAX.append(_kernel())  # compiled on first use (about a second), not at import
    fn = _QMAX[0]
    best, i, j = fn(np.ascontiguousarray(crp), GAP_OPEN, GAP_EXTEND)  # type: ignore[operator]
    return float(best), int(i), int(j)


class _Other:
    """The second sequence ``b (m, 12)`` of alignments against many first ones (a background: one recording
    against a whole cohort): its mean chroma at each of the 12 shifts and its delay embedding at each shift tried,
    computed once, not once per alignment (the same arrays, so the same scores)."""

    def __init__(self, b: np.ndarray) -> None:
        self.b = b
        mb = b.mean(axis=0)
        self.rolled_means = [np.roll(mb, k) for k in range(12)]
        self._embedded: dict[int, np.ndarray] = {}

    def keys(self, ma: np.ndarray, keys: int) -> list[int]:
        """The ``keys`` circular shifts of ``b``'s pitch classes that best match a first sequence's mean chroma
        ``ma (12,)``, best first."""
        return [int(k) for k in np.argsort([-float(r @ ma) for r in self.rolled_means], kind="stable")[:keys]]

    def embedded(self, shift: int) -> np.ndarray:
        """:func:`_delay_embed` of ``b`` rolled by ``shift`` pitch classes."""
        if shift not in self._embedded:
            self._embedded[shift] = _delay_embed(np.roll(self.b, shift, axis=1))
        return self._embedded[shift]


def align(a: np.ndarray, b: np.ndarray, keys: int = KEYS) -> Alignment:
    """Qmax alignment of two :func:`align_sequence` outputs ``a (n, 12)`` and ``b (m, 12)``, at the ``keys`` most
    likely transpositions."""
    if len(a) == 0 or len(b) == 0:
        return Alignment(0.0, 0, 0, 0, 0.0)
    return _align(len(a), _delay_embed(a), a.mean(axis=0), _Other(b), keys)


def _align(n: int, ea: np.ndarray, ma: np.ndarray, other: _Other, keys: int) -> Alignment:
    """:func:`align` of a first sequence of ``n`` frames, given its delay embedding ``ea`` and mean chroma
    ``ma (12,)``, against a non-empty ``other``."""
    best = Alignment(0.0, 0, 0, 0, 0.0)
    norm = float(np.sqrt(min(n, len(other.b))))
    for shift in other.keys(ma, keys):
        length, i, j = _qmax(_recurrence(ea, other.embedded(shift)))
        if length / norm > best.score or best.length == 0.0:
            transpose = (-shift) % 12  # b rolled back by `shift` lines up with a: b is a moved up this much
            transpose = transpose - 12 if transpose > 6 else transpose
            best = Alignment(length / norm, transpose, i + EMBED - 1, j + EMBED - 1, length)
    return best


def score(a: np.ndarray, b: np.ndarray, keys: int = KEYS) -> float:
    """:func:`align`'s score alone."""
    return align(a, b, keys).score


MIN_SPREAD = 0.1  # floor of a background's standard deviation (a silent or one-chord recording has almost none)


@dataclass(frozen=True)
class Cohort:
    """Unrelated recordings against which each recording's background is measured: ``songs``, a list of
    :func:`align_sequence` outputs ``(n_i, 12)``, and ``clips``, the middle ``clip_frames`` of each (a 10 s clip
    meets other recordings than a whole song does: its scores have their own spread)."""

    songs: list[np.ndarray]
    clip_frames: int

    @cached_property  # once per cohort, not on every background() call
    def clips(self) -> list[np.ndarray]:
        out = []
        for s in self.songs:
            start = max(0, (len(s) - self.clip_frames) // 2)
            out.append(s[start : start + self.clip_frames])
        return out

    def background(self, seq: np.ndarray) -> np.ndarray:
        """``(4,)`` float32: mean and standard deviation of :func:`score` of ``seq (n, 12)`` against the cohort's
        songs, then against its clips (:data:`NO_BACKGROUND` for an empty cohort or sequence)."""
        if not self.songs or len(seq) == 0:
            return NO_BACKGROUND.copy()
        other = _Other(seq)  # seq against 2 x len(songs) recordings: its rolls and embeddings once
        songs = np.array([_align(len(c), e, m, other, KEYS).score if len(c) else 0.0 for c, e, m in self._songs])
        clips = np.array([_align(len(c), e, m, other, KEYS).score if len(c) else 0.0 for c, e, m in self._clips])
        return np.array(
            [songs.mean(), max(songs.std(), MIN_SPREAD), clips.mean(), max(clips.std(), MIN_SPREAD)], np.float32
        )

    @cached_property  # each song with its delay embedding and mean chroma, once per cohort
    def _songs(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [(s, _delay_embed(s) if len(s) else s, s.mean(axis=0) if len(s) else s) for s in self.songs]

    @cached_property  # ... and each clip
    def _clips(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [(s, _delay_embed(s) if len(s) else s, s.mean(axis=0) if len(s) else s) for s in self.clips]

    def save(self, path: str | os.PathLike[str]) -> None:
        lengths = np.array([len(s) for s in self.songs], np.int32)
        rows = np.concatenate(self.songs) if self.songs else np.zeros((0, 12), np.float32)
        np.savez(path, aligned=rows.astype(np.float16), lengths=lengths, clip_frames=np.int32(self.clip_frames))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cohort:
        with np.load(path, allow_pickle=False) as z:
            rows, lengths, clip_frames = z["aligned"].astype(np.float32), z["lengths"], int(z["clip_frames"])
        return cls(list(np.split(rows, np.cumsum(lengths)[:-1])) if len(lengths) else [], clip_frames)


# No cohort: scores pass through unchanged (mean 0, spread 1, for songs and for clips).
NO_BACKGROUND = np.array([0.0, 1.0, 0.0, 1.0], np.float32)


def normalised(s: float, query: np.ndarray, other: np.ndarray, clip: bool = False) -> float:
    """A :func:`score` ``s`` of ``query`` against ``other`` as standard deviations above their backgrounds
    (:meth:`Cohort.background`), averaged over both sides: symmetric for two songs. ``clip``: the query is a clip,
    so ``other``'s background is the one measured with clips (``query``'s own, against whole songs, is already
    clip-against-song)."""
    mu_o, sd_o = (other[2], other[3]) if clip else (other[0], other[1])
    return float(0.5 * ((s - mu_o) / sd_o + (s - query[0]) / query[1]))
