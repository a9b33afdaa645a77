"""The version model on held-out works: how well it finds other versions, and where its threshold sits.

    python bench/bench_versions.py --versions var/audio/versions [--version-model-dir data/audio/version_model]
                                   [--model-dir var/audio/models] [--catalog var/audio/catalog]

1. ``evaluate_versions`` (track MAP over all held-out versions; 10 s clips of one version against an index holding
   another version of each held-out work, plus the whole catalog when ``--catalog`` is given) for the version model,
   the key-invariant mean-chroma baseline and, with ``--model-dir``, the sound CNN.
2. Track similarity from passages: a pair of songs scored by its best-matching segments (the mean over each song's
   segments of its best match in the other, both ways), the MAP it gives.
3. The "possible versions" threshold: the best passage cosine of every pair of held-out versions, same work or
   not; for a few thresholds, the share of same-work pairs above it (recall) and of other-work pairs above it (false
   positives per song in a catalog of this size).

The versions are generated (other keys, tempi, instruments, voicings and SoundFonts of public-domain scores).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import publish

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    from audio_service.core.version_catalog import load_versions
    from audio_service.core.version_eval import Embed, evaluate_versions, track_map
    from audio_service.core.version_index import THRESHOLD
    from audio_service.core.version_model import SEGMENT_FRAMES, VersionEmbedder, version_chroma

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=Path, default=REPO / "var/audio/versions")
    parser.add_argument("--version-model-dir", type=Path, default=REPO / "data/audio/version_model")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--catalog", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch bench/RESULTS.md")
    args = parser.parse_args()

    model = VersionEmbedder.load(args.version_model_dir)
    embedders: dict[str, Embed] = {"version_model": lambda y: model.embed_audio(y, 22050)[:2]}
    distractors: dict[str, np.ndarray | list[np.ndarray]] = {}
    distractor_works: list[str] | None = None
    if args.model_dir is not None:
        from audio_service.core.embed import Embedder

        cnn = Embedder.load(args.model_dir)
        embedders["cnn"] = lambda y: cnn.embed_track(y).track
    if args.catalog is not None:
        from audio_service.core.catalog import load_catalog
        from audio_service.core.decode import load_audio
        from audio_service.core.version_eval import chroma_vector

        songs = load_catalog(args.catalog)
        chroma_vecs, segs, cnn_vecs = [], [], []
        for s in songs:
            y, _ = load_audio(args.catalog / s["file"])
            chroma_vecs.append(chroma_vector(y))
            segs.append(model.embed_audio(y, 22050)[1])
            if args.model_dir is not None:
                cnn_vecs.append(cnn.embed_track(y).track)
        distractors = {"chroma": np.stack(chroma_vecs), "version_model": segs}
        if cnn_vecs:
            distractors["cnn"] = np.stack(cnn_vecs)
        distractor_works = [s["id"] for s in songs]
    result = evaluate_versions(
        args.versions, embedders=embedders, distractors=distractors, distractor_works=distractor_works
    )
    print(json.dumps(result, indent=1), flush=True)

    # Passages: pairwise best-segment scores over the held-out versions.
    held = [v for v in load_versions(args.versions) if v["split"] == "held_out"]
    chroma = version_chroma(args.versions, held, model.band)
    held = [v for v in held if len(chroma[v["id"]]) >= SEGMENT_FRAMES // 2]
    seg = [model.embed_chroma(chroma[v["id"]].astype(np.float32))[1] for v in held]
    works = np.array([v["work_id"] for v in held])
    n = len(held)
    passage_sim = np.zeros((n, n))
    best = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s = seg[i] @ seg[j].T
            passage_sim[i, j] = passage_sim[j, i] = 0.5 * (s.max(axis=1).mean() + s.max(axis=0).mean())
            best[i, j] = best[j, i] = s.max()
    passage_map = track_map(passage_sim, works)
    iu = np.triu_indices(n, 1)
    same = works[iu[0]] == works[iu[1]]
    rows = []
    for t in sorted({0.6, 0.65, 0.7, 0.75, 0.8, 0.85, THRESHOLD}):
        cells = []
        for scores in (passage_sim[iu], best[iu]):
            recall = float(np.mean(scores[same] >= t))
            false_per_song = float(np.sum(scores[~same] >= t)) * 2 / n
            cells.append(f"{recall:.3f} | {false_per_song:.2f}")
        rows.append(f"| {t:.2f}{' (shipped)' if t == THRESHOLD else ''} | {' | '.join(cells)} |")
    table = "\n".join(f"| {name} | {m['map']:.3f} | {m['top1']:.3f} | {m['top10']:.3f} |" for name, m in result.items())
    first = next(iter(result.values()))
    body = (
        f"Held-out works of the versioned catalog: {int(first['n_works'])} works, {int(first['n_versions'])} "
        "versions (generated: other keys, tempi, instruments, voicings, SoundFonts of public-domain scores; never "
        f"seen in training). Version model `{model.version}`"
        + (", the whole catalog in each clip index" if args.catalog else "")
        + ".\n\n| representation | track MAP | 10 s clip top-1 | clip top-10 |\n|---|---:|---:|---:|\n"
        + table
        + "\n\nThe version model's track MAP ranks songs by passage similarity (each segment's best match in the "
        f"other song, averaged both ways: {passage_map:.3f} recomputed here); the chroma baseline and the CNN by "
        "the cosine of one vector per song.\n\n"
        '"Possible versions" threshold, on the passage similarity of two songs (what the product filters and ranks '
        "by) and, for comparison, on their single best passage: the share of same-work pairs above it (recall) and "
        f"the other-work songs above it per song among these {n}:\n\n| threshold | passage: recall | passage: false "
        "per song | best passage: recall | best passage: false per song |\n|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows)
        + "\n"
    )
    publish("Versions: the version model on held-out works", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
