"""The version search on held-out works: how well it finds other versions, what each half of it adds, and where
its threshold sits.

    python bench/bench_versions.py --versions var/audio/versions [--version-model-dir data/audio/version_model]
                                   [--model-dir var/audio/models] [--catalog var/audio/catalog]

1. ``evaluate_versions`` (track MAP over all held-out versions; 10 s clips of one version against an index holding
   another version of each held-out work, plus the whole catalog when ``--catalog`` is given) for the version
   search (``version_score``: the version model's passages plus Qmax alignment), the key-invariant mean-chroma
   baseline and, with ``--model-dir``, the sound CNN.
2. What each half adds: track MAP from the passage similarity alone, from the alignment alone, and from their sum.
3. The served path: every held-out version goes into a ``VersionIndex``; the share of each song's other versions
   that ``versions_of`` judges at all (its candidate shortlist) and finds in its first 10.
4. The "possible versions" threshold on ``version_score``: for a few thresholds, the share of same-work pairs above
   it (recall) and the other-work songs above it per song among these versions.

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
    from audio_service.core.version_index import THRESHOLD, VersionIndex
    from audio_service.core.version_model import (
        ALIGN_WEIGHT,
        SEGMENT_FRAMES,
        Passages,
        VersionEmbedder,
        version_chroma,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=Path, default=REPO / "var/audio/versions")
    parser.add_argument("--version-model-dir", type=Path, default=REPO / "data/audio/version_model")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--catalog", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch bench/RESULTS.md")
    args = parser.parse_args()

    model = VersionEmbedder.load(args.version_model_dir)
    embedders: dict[str, Embed] = {"version_model": lambda y: model.passages_of_audio(y, 22050)}
    distractors: dict[str, np.ndarray | list[Passages]] = {}
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
        chroma_vecs, passages, cnn_vecs = [], [], []
        for s in songs:
            y, _ = load_audio(args.catalog / s["file"])
            chroma_vecs.append(chroma_vector(y))
            passages.append(model.passages_of_audio(y, 22050))
            if args.model_dir is not None:
                cnn_vecs.append(cnn.embed_track(y).track)
        distractors = {"chroma": np.stack(chroma_vecs), "version_model": passages}
        if cnn_vecs:
            distractors["cnn"] = np.stack(cnn_vecs)
        distractor_works = [s["id"] for s in songs]
    parts: dict[str, dict[str, np.ndarray]] = {}
    result = evaluate_versions(
        args.versions, embedders=embedders, distractors=distractors, distractor_works=distractor_works, halves=parts
    )
    print(json.dumps(result, indent=1), flush=True)

    # Each half alone, and both, over the held-out versions (the pairs evaluate_versions scored).
    shared, aligned, works = (parts["version_model"][k] for k in ("shared", "aligned", "works"))
    both = shared + ALIGN_WEIGHT * aligned
    n = len(works)
    halves = {
        "passages": track_map(shared, works),
        "alignment": track_map(aligned, works),
        "both": track_map(both, works),
    }
    held = [v for v in load_versions(args.versions) if v["split"] == "held_out"]
    chroma = version_chroma(args.versions, held, model.band, model.chroma_kind)
    held = [v for v in held if len(chroma[v["id"]]) >= SEGMENT_FRAMES // 2]

    # The served path: a VersionIndex of these versions, each song's versions_of.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        index = VersionIndex(model, tmp)
        for v in held:
            melody = None
            if model.melody is not None:  # the melody line, as the service reads it from the recording
                from audio_service.core.decode import load_audio

                melody = model.melody_chroma(*load_audio(args.versions / v["file"]))
            index.add(v["id"], chroma[v["id"]].astype(np.float32), melody)
        judged_share, top10_share = [], []
        for v in held:
            others = {u["id"] for u in held if u["work_id"] == v["work_id"] and u["id"] != v["id"]}
            if not others:
                continue
            found = [m.song_id for m in index.versions_of(v["id"], n=10_000, threshold=-np.inf)]
            judged_share.append(len(others & set(found)) / len(others))
            top10_share.append(len(others & set(found[:10])) / len(others))

    iu = np.triu_indices(n, 1)
    same = works[iu[0]] == works[iu[1]]
    rows = []
    for t in sorted({0.8, 1.0, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0, THRESHOLD}):
        recall = float(np.mean(both[iu][same] >= t))
        false_per_song = float(np.sum(both[iu][~same] >= t)) * 2 / n
        rows.append(f"| {t:.2f}{' (shipped)' if t == THRESHOLD else ''} | {recall:.3f} | {false_per_song:.2f} |")
    table = "\n".join(f"| {name} | {m['map']:.3f} | {m['top1']:.3f} | {m['top10']:.3f} |" for name, m in result.items())
    first = next(iter(result.values()))
    body = (
        f"Held-out works of the versioned catalog: {int(first['n_works'])} works, {int(first['n_versions'])} "
        "versions (generated: other keys, tempi, instruments, voicings, SoundFonts of public-domain scores; never "
        f"seen in training). Version model `{model.version}` ({model.chroma_kind} chroma)"
        + (", the whole catalog in each clip index" if args.catalog else "")
        + ".\n\n| representation | track MAP | 10 s clip top-1 | clip top-10 |\n|---|---:|---:|---:|\n"
        + table
        + "\n\n`version_model` is the version search as served: two songs (or a clip and a song) scored by "
        "`version_score`, the version model's passage similarity (each ~10 s segment's best match in the other "
        f"song, averaged both ways) plus {ALIGN_WEIGHT} x their Qmax alignment (the longest stretch played alike "
        "in order, at the best key, the tempo free to drift) in standard deviations above both songs' backgrounds "
        + ("(of their chroma, plus that of their melody lines read by the melody-line model) " if model.melody else "")
        + f"(their alignments with a cohort of {len(model.cohort.songs) if model.cohort else 0} training-work "
        "versions). The chroma baseline and the CNN: the cosine of one "
        "vector per song.\n\nTrack MAP of each half alone over these versions: passages "
        f"{halves['passages']:.3f}, alignment {halves['alignment']:.3f}, both {halves['both']:.3f}.\n\n"
        f"Served path (`VersionIndex.versions_of` over these {len(held)} versions): the candidate shortlist holds "
        f"{np.mean(judged_share):.3f} of each song's other versions; its first 10 hold {np.mean(top10_share):.3f}.\n\n"
        '"Possible versions" threshold on `version_score`: the share of same-work pairs above it (recall) and the '
        f"other-work songs above it per song among these {n}:\n\n| threshold | recall | false per song |\n"
        "|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    publish("Versions: the version model on held-out works", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
