"""How well a representation finds other versions of the same work (measured on held-out works only).

Two protocols over the versioned catalog (:mod:`audio_service.core.version_catalog`):

* **track MAP**: every held-out version queries all the others; its relevant items are the other versions of its
  work; mean average precision over queries.
* **clip top-k**: a 10 s clip from the middle of a version queries an index holding one other version of each
  held-out work (plus, when given, the whole catalog as distractors); a hit is that work's version in the top k.

Representations: the **chroma baseline** (twelve numbers per song: mean chroma, compared at the best of the 12
circular shifts, so a transposed version still matches) and any embedding function (the CNN's track vector today,
the version model next).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from audio_service.core.version_model import Passages

CLIP_S = 10.0
# mono 22.05 kHz waveform (n,) -> a vector (d,), or the version model's Passages (songs and clips are then compared
# by version_model.version_score: passages and alignment, exactly as the version index judges its candidates).
Embed = Callable[[np.ndarray], "np.ndarray | Passages"]


def chroma_vector(y: np.ndarray, sr: int = 22050) -> np.ndarray:
    """Mean chroma ``(12,)`` of a waveform, L2-normalised (librosa STFT chroma)."""
    import librosa

    chroma = librosa.feature.chroma_stft(y=y.astype(np.float32), sr=sr, hop_length=2048)
    v = chroma.mean(axis=1)
    return (v / (np.linalg.norm(v) + 1e-9)).astype(np.float32)


def key_invariant_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, m)`` cosine of chroma vectors ``a (n, 12)`` and ``b (m, 12)`` at the best of the 12 key shifts."""
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    return np.max(np.stack([a @ np.roll(b, k, axis=1).T for k in range(12)]), axis=0)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, m)`` cosine of ``a (n, d)`` and ``b (m, d)``."""
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    return a @ b.T


def track_map(sim: np.ndarray, works: np.ndarray) -> float:
    """Mean average precision: row ``i`` of ``sim (n, n)`` ranks the other items; relevant = same ``works``."""
    aps = []
    for i in range(len(works)):
        scores = np.delete(sim[i], i)
        labels = np.delete(works, i) == works[i]
        if not labels.any():
            continue
        order = np.argsort(-scores, kind="stable")
        hits = labels[order]
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    return float(np.mean(aps)) if aps else 0.0


def clip_topk(
    sim: np.ndarray, query_works: np.ndarray, index_works: np.ndarray, ks: tuple[int, ...] = (1, 10)
) -> dict[str, float]:
    """``{"top1": x, "top10": x}``: the share of queries (rows of ``sim (q, k)``) whose work is in their top k."""
    order = np.argsort(-sim, axis=1, kind="stable")
    found = index_works[order] == query_works[:, None]
    return {f"top{k}": float(np.mean(found[:, :k].any(axis=1))) for k in ks}


def clip_topk_passages(
    queries: list[Passages],
    query_works: np.ndarray,
    index: list[Passages],
    index_works: np.ndarray,
    ks: tuple[int, ...] = (1, 10),
) -> dict[str, float]:
    """Like :func:`clip_topk` for a passage model: each clip is scored against every index song by
    :func:`~audio_service.core.version_model.version_score` (the clip judged by how well it is found)."""
    from audio_service.core.version_model import version_score

    sim = np.array([[version_score(q, song, symmetric=False) for song in index] for q in queries], np.float32)
    return clip_topk(sim, query_works, index_works, ks)


def _labels(n: int, works: list[str] | None) -> np.ndarray:
    if works is not None and len(works) == n:
        return np.array(works)
    return np.array(["\x00distractor"] * n)


def _middle_clip(y: np.ndarray, sr: int) -> np.ndarray:
    n = int(CLIP_S * sr)
    if len(y) <= n:
        return y
    start = (len(y) - n) // 2
    return y[start : start + n]


def evaluate_versions(
    versions_dir: str | os.PathLike[str],
    embedders: dict[str, Embed] | None = None,
    distractors: dict[str, np.ndarray | list[Passages]] | None = None,
    limit: int | None = None,
    distractor_works: list[str] | None = None,
    halves: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, dict[str, float]]:
    """Track MAP and clip top-1/top-10 of the chroma baseline and of each embedder, on held-out works.

    Args:
        embedders: name -> function from a waveform to a vector (the chroma baseline is always measured).
        distractors: name -> ``(n, d)`` vectors of other songs (the whole catalog) added to that method's clip
            index; for the chroma baseline use the key ``"chroma"`` with ``(n, 12)`` mean chroma vectors; for a
            passage model, a list of each song's :class:`~audio_service.core.version_model.Passages`.
        limit: at most this many held-out works (the first by id).
        distractor_works: the work each distractor plays (the catalog renders every work once: its render of a
            held-out work is one more version of it, and finding it is a hit); default: none of them.
        halves: filled, for each passage model, with its ``(n, n)`` pair matrices of the passage similarity
            (``"shared"``) and the normalised alignment (``"aligned"``) over the held-out versions, and their
            ``"works"`` (the bench reports what each half finds alone).
    """
    from musicrec_common.progress import tqdm

    from audio_service.core.decode import AudioDecodeError, load_audio
    from audio_service.core.version_catalog import load_versions

    root = Path(versions_dir)
    held = [v for v in load_versions(root) if v["split"] == "held_out"]
    works_sorted = sorted({v["work_id"] for v in held})[:limit]
    chosen = set(works_sorted)
    held = [v for v in held if v["work_id"] in chosen]
    by_work: dict[str, int] = {}
    for v in held:
        by_work[v["work_id"]] = by_work.get(v["work_id"], 0) + 1
    held = [v for v in held if by_work[v["work_id"]] >= 2]  # a version needs another version to be found
    if not held:
        raise ValueError(f"no held-out work with two versions in {root}")
    methods: dict[str, Embed] = {"chroma": lambda y: chroma_vector(y)} | dict(embedders or {})
    whole: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    clips: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    passages: dict[str, list[Passages]] = {}  # passage models: each version whole ...
    clip_passages: dict[str, list[Passages]] = {}  # ... and its clip
    kept = []
    for v in tqdm(held, desc="versions", unit="version"):
        try:
            y, sr = load_audio(root / v["file"])
        except AudioDecodeError:  # rendered silent: not a version anyone could hear
            continue
        kept.append(v)
        clip = _middle_clip(y, sr)
        for name, fn in methods.items():
            out, clip_out = fn(y), fn(clip)
            if isinstance(out, np.ndarray) and isinstance(clip_out, np.ndarray):
                whole[name].append(out)
                clips[name].append(clip_out)
            else:
                passages.setdefault(name, []).append(out)  # type: ignore[arg-type]
                clip_passages.setdefault(name, []).append(clip_out)  # type: ignore[arg-type]
    held = kept
    works = np.array([v["work_id"] for v in held])
    # The clip index: each work's first version; the queries: clips of its other versions.
    first: dict[str, int] = {}
    for i, v in enumerate(held):
        first.setdefault(v["work_id"], i)
    index_rows = np.array(sorted(first.values()))
    query_rows = np.array([i for i in range(len(held)) if i not in set(index_rows.tolist())])
    results: dict[str, dict[str, float]] = {}
    for name in methods:
        extra = (distractors or {}).get(name)
        index_works = works[index_rows]
        if extra is not None and len(extra):
            index_works = np.concatenate([index_works, _labels(len(extra), distractor_works)])
        if name in passages:  # songs as passages, judged as the version index judges them
            from audio_service.core.version_model import ALIGN_WEIGHT, version_score_parts

            songs = passages[name]
            index = [songs[i] for i in index_rows] + list(extra if extra is not None else [])  # type: ignore[arg-type]
            queries = [clip_passages[name][i] for i in query_rows]
            clip_scores = clip_topk_passages(queries, works[query_rows], index, index_works)
            n = len(songs)
            shared, aligned = np.zeros((n, n)), np.zeros((n, n))  # the diagonal is never ranked
            for i in range(n):
                for j in range(i + 1, n):
                    shared[i, j], aligned[i, j] = version_score_parts(songs[i], songs[j])
            shared, aligned = shared + shared.T, aligned + aligned.T
            sim = shared + ALIGN_WEIGHT * aligned  # = version_score
            if halves is not None:
                halves[name] = {"shared": shared, "aligned": aligned, "works": works}
        else:
            vectors, clip_vectors = np.stack(whole[name]), np.stack(clips[name])
            compare = key_invariant_similarity if name == "chroma" else cosine_similarity
            index_vectors = vectors[index_rows]
            if extra is not None and len(extra):
                index_vectors = np.concatenate([index_vectors, np.asarray(extra)])
            clip_scores = clip_topk(compare(clip_vectors[query_rows], index_vectors), works[query_rows], index_works)
            sim = compare(vectors, vectors)
        results[name] = {"map": track_map(sim, works)} | clip_scores
        results[name]["n_versions"] = float(len(held))
        results[name]["n_works"] = float(len(first))
    return results
