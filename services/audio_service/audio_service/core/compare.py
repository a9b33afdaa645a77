"""Compare two recordings for shared music (the plagiarism check's core): key, tempo and the aligned passages.

Both songs become chroma sequences (12 pitch classes every ~93 ms). The transposition is the circular shift that
best aligns their mean chroma; then, for each tempo ratio of a grid (0.8-1.25), the second song's sequence is
resampled to the first song's speed and their frame-by-frame cosine (the cross-similarity matrix) is read along its
diagonals: a passage both songs share is a diagonal stripe of high similarity. Passages are the best-scoring
diagonal windows, grown while they stay above the threshold.

Pure: numpy and librosa's chroma only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 22050
HOP = 2048
FRAME_S = HOP / SR
RATIOS = tuple(float(r) for r in np.round(np.exp(np.linspace(np.log(0.8), np.log(1.25), 19)), 4))
WINDOW_S = 6.0  # the shortest passage considered
MIN_WINDOW_S = 3.0  # ... or most of a shorter clip, down to this
THRESHOLD = 0.85  # mean cosine along a diagonal window that counts as the same music
KEY_CANDIDATES = 3
TEMPO_WINDOW_S = 15.0
CQT_FMIN = 65.40639  # C2 in Hz
MAX_FRAMES = 2400  # longer recordings are compared on pooled frames (the matrix stays under 2400 x 2400)


@dataclass(frozen=True)
class Passage:
    a_start: float
    a_end: float
    b_start: float
    b_end: float
    transpose_semitones: int
    tempo_ratio: float
    score: float


@dataclass(frozen=True)
class Comparison:
    """``similarity``: the best passage's score (0 when none); ``matrix``: the cross-similarity at the chosen key
    and tempo, ``(len_a, len_b)`` frames downsampled to at most 128 x 128 for a picture."""

    similarity: float
    transpose_semitones: int
    tempo_ratio: float
    passages: list[Passage]
    matrix: np.ndarray
    threshold: float = THRESHOLD


def chroma_sequence(
    y: np.ndarray, sr: int = SR, band: tuple[float, float] | None = None, kind: str = "stft"
) -> np.ndarray:
    """``(n_frames, 12)`` L2-normalised chroma, one frame every ``HOP`` samples; with ``band``, only the energy
    between those frequencies (Hz) counts (leaving out a bass line's and the drums' energy). ``kind="cqt"``: from
    a constant-Q transform over C2-C8 (one bin every third of a semitone) instead of the STFT: the low notes keep
    their semitones apart, which 2048-point STFT bins do not (``band`` is then ignored: the CQT's range is the
    band)."""
    import librosa

    if kind == "cqt":
        c = librosa.feature.chroma_cqt(
            y=y.astype(np.float32), sr=sr, hop_length=HOP, fmin=CQT_FMIN, n_octaves=6, bins_per_octave=36
        ).T
    elif band is None:
        c = librosa.feature.chroma_stft(y=y.astype(np.float32), sr=sr, hop_length=HOP).T
    else:
        power = np.abs(librosa.stft(y.astype(np.float32), n_fft=2048, hop_length=HOP)) ** 2
        freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
        power[(freqs < band[0]) | (freqs > band[1])] = 0.0
        c = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=2048, hop_length=HOP).T
    return (c / (np.linalg.norm(c, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def _resample(seq: np.ndarray, ratio: float) -> np.ndarray:
    """``seq`` resampled to ``ratio`` of its length: ``(round(n * ratio), 12)`` frames (linear interpolation)."""
    n = len(seq)
    m = max(2, round(n * ratio))
    pos = np.linspace(0, n - 1, m)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo)[:, None]
    out = (1 - w) * seq[lo] + w * seq[hi]
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-9)


def _pool(seq: np.ndarray, factor: int) -> np.ndarray:
    """Mean of every ``factor`` consecutive frames, renormalised: ``(ceil(n / factor), 12)``."""
    if factor <= 1:
        return seq
    n = len(seq)
    padded = np.concatenate([seq, np.repeat(seq[-1:], (-n) % factor, axis=0)])
    out = padded.reshape(-1, factor, seq.shape[1]).mean(axis=1)
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-9)


def _window_means(sim: np.ndarray, width: int) -> np.ndarray:
    """``(n - width + 1, m - width + 1)``: cell ``(i, j)`` is the mean of ``sim (n, m)`` along the diagonal window
    of ``width`` frames starting at ``(i, j)`` (empty when ``width`` exceeds a side)."""
    n, m = sim.shape
    if width > n or width > m:
        return np.zeros((0, 0), np.float32)
    # Cumulative sums along the diagonals: cum[i + 1, j + 1] = sim[i, j] + cum[i, j].
    cum = np.zeros((n + 1, m + 1), np.float64)
    for i in range(n):
        cum[i + 1, 1:] = sim[i] + cum[i, :-1]
    return ((cum[width:, width:] - cum[: n - width + 1, : m - width + 1]) / width).astype(np.float32)


def compare(a: np.ndarray, b: np.ndarray, threshold: float = THRESHOLD, max_passages: int = 5) -> Comparison:
    """Compare chroma sequences ``a (n, 12)`` and ``b (m, 12)`` (:func:`chroma_sequence`).

    ``transpose_semitones``: how far ``b`` is transposed from ``a`` (-5..+6); ``tempo_ratio``: ``b``'s speed
    relative to ``a`` (0.9: ``b`` is 10 % slower).
    """
    factor = -(-max(len(a), len(b)) // MAX_FRAMES)
    a, b = _pool(a, factor), _pool(b, factor)
    frame_s = FRAME_S * factor
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    # The key: the shifts that best align the mean chroma are tried (modal music can fool the first one).
    candidates = np.argsort([-float(np.roll(mean_a, k) @ mean_b) for k in range(12)])[:KEY_CANDIDATES]
    # A clip shorter than the window is matched whole (down to MIN_WINDOW_S).
    width = max(round(MIN_WINDOW_S / frame_s), min(round(WINDOW_S / frame_s), int(0.9 * min(len(a), len(b)))))
    # Tempo and key are judged on long windows (a wrong tempo drifts off the diagonal), passages on short ones.
    long_width = max(width, min(round(TEMPO_WINDOW_S / frame_s), int(0.6 * min(len(a), len(b)))))
    best: tuple[float, float, np.ndarray, int] | None = None
    for shift in (int(k) for k in candidates):
        a_key = np.roll(a, shift, axis=1)  # a in b's key
        for ratio in RATIOS:
            b_fast = _resample(b, ratio)  # b at a's speed when ratio is b's speed relative to a
            if len(b_fast) < width or len(a_key) < width:
                continue
            sim = a_key @ b_fast.T
            scores = _window_means(sim, min(long_width, len(b_fast), len(a_key)))
            top = float(scores.max()) if scores.size else 0.0
            if best is None or top > best[0]:
                best = (top, ratio, sim, shift)
    shift = best[3] if best is not None else int(candidates[0])
    transpose = shift if shift <= 6 else shift - 12
    if best is None:
        return Comparison(0.0, transpose, 1.0, [], np.zeros((0, 0), np.float32), threshold)
    _, ratio, sim, _ = best
    # b squeezed to `ratio` of its length lines up with a: b plays at `ratio` times a's speed (0.9: 10 % slower).
    tempo_ratio = round(ratio, 4)
    windows = _window_means(sim, width)
    above = np.flatnonzero(windows >= threshold)
    passages: list[Passage] = []
    used = np.zeros(sim.shape, bool)
    for idx in above[np.argsort(-windows.ravel()[above], kind="stable")]:
        if len(passages) >= max_passages:
            break
        i, j = divmod(int(idx), windows.shape[1])
        if used[i : i + width, j : j + width].any():
            continue
        end = width  # grow along the diagonal while the next frames still match
        while i + end < sim.shape[0] and j + end < sim.shape[1] and sim[i + end, j + end] >= threshold - 0.1:
            end += 1
        used[max(0, i - width) : i + end + width, max(0, j - width) : j + end + width] = True
        passages.append(
            Passage(
                a_start=round(i * frame_s, 2),
                a_end=round((i + end) * frame_s, 2),
                b_start=round(j * frame_s / ratio, 2),
                b_end=round((j + end) * frame_s / ratio, 2),
                transpose_semitones=transpose,
                tempo_ratio=tempo_ratio,
                score=round(float(windows.ravel()[idx]), 4),
            )
        )
    step_a, step_b = max(1, sim.shape[0] // 128), max(1, sim.shape[1] // 128)
    picture = sim[::step_a, ::step_b][:128, :128].astype(np.float32)
    similarity = passages[0].score if passages else 0.0
    return Comparison(similarity, transpose, tempo_ratio, passages, picture, threshold)
