"""Offline commands of audio_service (``python -m audio_service <command>``).

``build-catalog``, ``train``, ``index``, ``evaluate`` and ``embed-time``; ``serve`` stays in
:mod:`audio_service.__main__`. Heavy imports (TensorFlow, librosa, music21) happen inside each command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DEFAULT_CATALOG = Path("var/audio/catalog")
DEFAULT_MODELS = Path("var/audio/models")
DEFAULT_INDEX = Path("var/audio/index")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audio_service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build-catalog", help="render music21 corpus works to OGG + catalog.json")
    p.add_argument("--out", type=Path, default=DEFAULT_CATALOG)
    p.add_argument("--limit", type=int, default=None, help="first N works (interleaved across collections)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--collections", default=None, help="comma-separated subset of collections")

    p = sub.add_parser(
        "build-versions",
        help="render every work as several versions (key, tempo, voicing, instruments) + versions.json",
    )
    p.add_argument("--out", type=Path, default=Path("var/audio/versions"))
    p.add_argument("--versions", type=int, default=3, help="versions per work")
    p.add_argument("--limit", type=int, default=None, help="first N works (interleaved across collections)")
    p.add_argument("--held-out", type=float, default=0.2, help="share of works kept out of training, by work id")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--collections", default=None, help="comma-separated subset of collections")
    p.add_argument("--soundfont", type=Path, action="append", default=None, help="General MIDI SoundFonts to draw from")

    p = sub.add_parser("evaluate-versions", help="find-the-other-version quality on held-out works: chroma vs models")
    p.add_argument("--versions", type=Path, default=Path("var/audio/versions"))
    p.add_argument("--model-dir", type=Path, default=None, help="also measure this CNN's track vectors")
    p.add_argument("--version-model-dir", type=Path, default=None, help="also measure this version model")
    p.add_argument("--limit", type=int, default=None, help="at most N held-out works")
    p.add_argument("--json", type=Path, default=None)

    p = sub.add_parser("build-melodies", help="read the tune of every catalog song from its score (query by humming)")
    p.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    p.add_argument("--workers", type=int, default=2)

    p = sub.add_parser("evaluate-hum", help="synthetic hummed queries of held-out works against every melody")
    p.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    p.add_argument("--limit", type=int, default=None, help="at most N queries")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train-versions", help="train the version model on the versioned catalog's training works")
    p.add_argument("--versions", type=Path, default=Path("var/audio/versions"))
    p.add_argument("--out", type=Path, default=Path("var/audio/version_models"))
    p.add_argument("--catalog", type=Path, default=None, help="the catalog's renders as one more training version")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget (minutes)")
    p.add_argument("--batch", type=int, default=64, help="works per step (two versions each)")
    p.add_argument("--chroma", choices=("cqt", "stft"), default="cqt", help="the chroma the model reads")
    p.add_argument("--melody-pairs", type=float, default=0.0, help="share of melody-alone vs band pairs")
    p.add_argument("--init", type=Path, default=None, help="start from this model folder's weights (fine-tune)")
    p.add_argument("--learning-rate", type=float, default=None, help="peak learning rate (cosine decay)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train-melody", help="train the melody-line extractor on the versioned catalog's training works")
    p.add_argument("--versions", type=Path, default=Path("var/audio/versions"))
    p.add_argument("--out", type=Path, default=Path("var/audio/melody_models"))
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget (minutes)")
    p.add_argument("--works", type=int, default=300, help="training works read")
    p.add_argument("--held-out-works", type=int, default=40, help="held-out works its accuracy is measured on")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("version-cohort", help="(re)write a version model's cohort.npz (alignment backgrounds)")
    p.add_argument("--versions", type=Path, default=Path("var/audio/versions"))
    p.add_argument("--model-dir", type=Path, required=True, help="a version model folder (or its parent)")
    p.add_argument("--songs", type=int, default=None, help="training works in the cohort")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--melody",
        type=Path,
        default=None,
        help="a melody-line model folder (train-melody) to put beside the weights, with its melody cohort",
    )

    p = sub.add_parser("train", help="train the CNN on the catalog (held-out songs never seen)")
    p.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    p.add_argument("--out", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (at most; --minutes still caps the time)")
    p.add_argument("--minutes", type=float, default=10.0, help="training time budget (minutes)")
    p.add_argument("--batch", type=int, default=48, help="songs per step (two views each)")
    p.add_argument("--holdout", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class-weight", type=float, default=None, help="weight of the collection classifier loss")
    p.add_argument("--near-fraction", type=float, default=None, help="share of identification-like pairs")
    p.add_argument("--same-collection", type=float, default=None, help="share of a batch from one collection")
    p.add_argument("--temperature", type=float, default=None, help="NT-Xent temperature")
    p.add_argument("--microphone", type=float, default=None, help="share of query views through a phone and a room")

    p = sub.add_parser("index", help="build the FAISS index from the catalog and/or add a folder of audio")
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    p.add_argument("--catalog", type=Path, default=None, help="(re)build the index from this catalog")
    p.add_argument("--folder", type=Path, default=None, help="add every mp3/ogg/flac/wav under this folder")
    p.add_argument("--hnsw-threshold", type=int, default=None)

    p = sub.add_parser("evaluate", help="held-out evaluation: CNN vs MFCC vs random")
    p.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--report", type=Path, default=None, help="Markdown report (+ PNG map beside it)")
    p.add_argument("--map", type=Path, default=None, help="map.json (default: beside --json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N held-out songs")
    p.add_argument("--conditions", action="store_true", help="identification under phone-microphone conditions")
    p.add_argument("--versions", type=Path, default=None, help="versioned catalog: find other versions")
    p.add_argument("--version-model-dir", type=Path, default=None, help="the version model to measure")
    p.add_argument("--versions-limit", type=int, default=None, help="at most N held-out works for versions")
    p.add_argument("--hum", action="store_true", help="synthetic hummed queries of held-out melodies")
    p.add_argument("--hum-limit", type=int, default=None, help="at most N hummed queries")

    p = sub.add_parser("embed-time", help="time embedding of an audio file (default: a 30 s catalog song)")
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=10)
    return parser


def _print(obj: object) -> None:
    print(json.dumps(obj, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "build-catalog":
        from audio_service.core.catalog import build_catalog

        summary = build_catalog(
            args.out,
            limit=args.limit,
            workers=args.workers,
            collections=args.collections.split(",") if args.collections else None,
        )
        _print({k: v for k, v in summary.items() if k != "failures"} | {"failures": summary["failures"]})
        return 0
    if args.command == "build-versions":
        from audio_service.core.version_catalog import build_versions

        summary = build_versions(
            args.out,
            n_versions=args.versions,
            limit=args.limit,
            collections=args.collections.split(",") if args.collections else None,
            soundfonts=args.soundfont,
            held_out=args.held_out,
            workers=args.workers,
        )
        _print(summary)
        return 0
    if args.command == "evaluate-versions":
        from audio_service.core.version_eval import Embed, evaluate_versions

        embedders: dict[str, Embed] = {}
        if args.model_dir is not None:
            from audio_service.core.embed import Embedder

            embedder = Embedder.load(args.model_dir)
            embedders["cnn"] = lambda y: embedder.embed_track(y).track
        if args.version_model_dir is not None:
            from audio_service.core.version_model import VersionEmbedder

            version_model = VersionEmbedder.load(args.version_model_dir)
            embedders["version_model"] = lambda y: version_model.passages_of_audio(y, 22050)
        result = evaluate_versions(args.versions, embedders=embedders, limit=args.limit)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
        _print(result)
        return 0
    if args.command == "build-melodies":
        from audio_service.core.melody import catalog_melodies

        melodies = catalog_melodies(args.catalog, workers=args.workers)
        _print({"n_melodies": len(melodies), "path": str(args.catalog / "melodies.npz")})
        return 0
    if args.command == "evaluate-hum":
        from audio_service.core.melody import catalog_melodies, evaluate_hum
        from audio_service.core.versions import split_works

        melodies = catalog_melodies(args.catalog)
        _, held_out = split_works(sorted(melodies))
        hum = evaluate_hum(melodies, held_out[: args.limit], seed=args.seed)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(hum, indent=1))
        _print(hum)
        return 0
    if args.command == "train-versions":
        from audio_service.core.version_model import VersionTrainConfig, train_version_model

        vcfg = VersionTrainConfig(
            steps=args.steps,
            minutes=args.minutes,
            batch=args.batch,
            seed=args.seed,
            chroma=args.chroma,
            melody_pairs=args.melody_pairs,
            init=str(args.init) if args.init else None,
            learning_rate=args.learning_rate or VersionTrainConfig.learning_rate,
        )
        _print(train_version_model(args.versions, args.out, vcfg, catalog_dir=args.catalog))
        return 0
    if args.command == "train-melody":
        from audio_service.core.melody_line import (
            MelodyExtractor,
            MelodyTrainConfig,
            train_melody_model,
            training_examples,
        )

        mcfg = MelodyTrainConfig(steps=args.steps, minutes=args.minutes, works=args.works, seed=args.seed)
        summary = train_melody_model(args.versions, args.out, mcfg)
        held = training_examples(args.versions, args.held_out_works, args.seed, split="held_out")
        summary["held_out_accuracy"] = MelodyExtractor.load(summary["path"]).accuracy(held)
        meta_path = Path(summary["path"]) / "meta.json"
        meta_path.write_text(json.dumps(json.loads(meta_path.read_text()) | summary, indent=1))
        _print(summary)
        return 0
    if args.command == "version-cohort":
        from audio_service.core.embed import model_folder
        from audio_service.core.version_model import COHORT_FILE, COHORT_SONGS, VersionEmbedder, build_cohort

        folder = model_folder(args.model_dir)
        if args.melody is not None:
            import shutil

            from audio_service.core.version_model import MELODY_FILE

            tmp = folder / f".{MELODY_FILE}.tmp"
            shutil.copyfile(model_folder(args.melody) / "model.keras", tmp)
            os.replace(tmp, folder / MELODY_FILE)
        vmodel = VersionEmbedder.load(folder)
        cohort = build_cohort(args.versions, vmodel.band, vmodel.chroma_kind, args.songs or COHORT_SONGS, args.seed)
        cohort.save(folder / COHORT_FILE)
        report: dict[str, object] = {"cohort": str(folder / COHORT_FILE), "songs": len(cohort.songs)}
        if vmodel.melody is not None:
            from audio_service.core.version_model import MELODY_COHORT_FILE, build_melody_cohort

            tunes = build_melody_cohort(args.versions, vmodel.melody, args.songs or COHORT_SONGS, args.seed)
            tunes.save(folder / MELODY_COHORT_FILE)
            report |= {"melody_cohort": str(folder / MELODY_COHORT_FILE), "melody_songs": len(tunes.songs)}
        print(json.dumps(report))
        return 0

    if args.command == "train":
        from audio_service.core.train import TrainConfig, train

        cfg = TrainConfig(
            batch=args.batch, holdout=args.holdout, seed=args.seed, steps=args.steps, minutes=args.minutes
        )
        if args.class_weight is not None:
            cfg.class_weight = args.class_weight
        if args.near_fraction is not None:
            cfg.near_fraction = args.near_fraction
        if args.same_collection is not None:
            cfg.same_collection = args.same_collection
        if args.temperature is not None:
            cfg.temperature = args.temperature
        if args.microphone is not None:
            cfg.microphone = args.microphone
        _print(train(args.catalog, args.out, cfg))
        return 0
    if args.command == "index":
        from audio_service.core.search import AudioSearch, build_index_from_catalog

        if args.catalog is None and args.folder is None:
            print("index: give --catalog and/or --folder", file=sys.stderr)
            return 2
        if args.catalog is not None:
            _print(build_index_from_catalog(args.catalog, args.model_dir, args.index_dir, args.hnsw_threshold))
        if args.folder is not None:
            search = AudioSearch.load(args.model_dir, args.index_dir, create=True)
            _print(search.add_folder(args.folder))
            search.save()
        return 0
    if args.command == "evaluate":
        from audio_service.core.evaluate import evaluate

        result = evaluate(
            args.catalog,
            args.model_dir,
            args.index_dir,
            json_out=args.json,
            report=args.report,
            map_out=args.map,
            seed=args.seed,
            limit=args.limit,
            conditions=args.conditions,
            versions_dir=args.versions,
            version_model_dir=args.version_model_dir,
            versions_limit=args.versions_limit,
            hum=args.hum,
            hum_limit=args.hum_limit,
        )
        _print(result)
        return 0
    if args.command == "embed-time":
        from audio_service.core.decode import load_audio
        from audio_service.core.embed import Embedder

        embedder = Embedder.load(args.model_dir)
        y, _ = load_audio(args.file)
        embedder.embed_track(y)  # warm-up (graph tracing)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            embedder.embed_track(y)
            times.append(time.perf_counter() - t0)
        _print(
            {
                "file": str(args.file),
                "duration_s": len(y) / 22050,
                "median_s": sorted(times)[len(times) // 2],
                "min_s": min(times),
                "max_s": max(times),
            }
        )
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
