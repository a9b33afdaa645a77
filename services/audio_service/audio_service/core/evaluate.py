"""Held-out evaluation: CNN vs a classic MFCC baseline vs random ranking.

* genre neighbours: precision@10 of same-collection songs among the 10 nearest catalog songs of
  each held-out song (itself excluded);
* identification: a random 5 s excerpt of each held-out song, ±5% time stretch, a gain change
  (-12..+6 dB) and white noise at 10 dB SNR, searched against the whole index: top-1 / top-10.
  The CNN uses patch-level voting (:mod:`audio_service.core.matching`); MFCC uses mean+std of 20
  MFCCs (z-scored, cosine) of the excerpt against those of each full song.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from audio_service.core.features import SR


def make_query(y: np.ndarray, rng: np.random.Generator, seconds: float = 5.0, snr_db: float = 10.0) -> np.ndarray:
    """Degraded excerpt of mono ``y``: ``(≈seconds·SR,)`` float32."""
    import librosa

    rate = float(rng.choice([0.95, 1.05]))  # librosa rate>1 = faster
    need = int(seconds * SR * rate) + 1
    start = int(rng.integers(0, max(1, len(y) - need)))
    seg = librosa.effects.time_stretch(y[start : start + need], rate=rate)[: int(seconds * SR)]
    seg = seg * 10 ** (rng.uniform(-12, 6) / 20)
    noise = rng.normal(size=seg.shape).astype(np.float32)
    noise *= np.sqrt(np.mean(seg**2) / (10 ** (snr_db / 10)) / np.mean(noise**2))
    return (seg + noise).astype(np.float32)


def identify_conditions(
    search: Any,
    catalog_dir: str | os.PathLike[str],
    songs: list[dict[str, Any]],
    seed: int = 0,
    seconds: float = 10.0,
    conditions: tuple[str, ...] | None = None,
    speeds: tuple[float, ...] | None = None,
    off_speed_weight: float = 0.9,
) -> dict[str, dict[str, float]]:
    """Identification top-1 / top-10 of a ``seconds`` excerpt of each song, separately under each degradation of
    :mod:`audio_service.core.degrade` (a phone held up to a speaker), searched against the whole index."""
    from musicrec_common.progress import tqdm

    from audio_service.core.decode import load_audio
    from audio_service.core.degrade import CONDITIONS, condition
    from audio_service.core.search import QUERY_SPEEDS

    names = conditions or CONDITIONS
    speeds = speeds or QUERY_SPEEDS  # what the service does with an uploaded clip
    ranks: dict[str, list[int]] = {c: [] for c in names}
    times: list[float] = []
    for k, s in enumerate(tqdm(songs, desc="conditions", unit="song")):
        y, _ = load_audio(Path(catalog_dir) / s["file"])
        n = int(seconds * SR)
        start = int(np.random.default_rng([seed, k]).integers(0, max(1, len(y) - n)))
        clip = y[start : start + n]
        for name in names:
            # Each condition draws from its own generator: the same song gets the same degradation in any run.
            rng = np.random.default_rng([seed, k, CONDITIONS.index(name)])
            q = condition(name, rng)(clip, SR)
            t1 = time.perf_counter()
            got = [m.song_id for m in search.query_waveform(q, n=10, speeds=speeds, off_speed_weight=off_speed_weight)]
            times.append(time.perf_counter() - t1)
            ranks[name].append(got.index(s["id"]) if s["id"] in got else 99)
    out: dict[str, dict[str, float]] = {}
    for name, r in ranks.items():
        arr = np.array(r)
        out[name] = {"top1": float(np.mean(arr == 0)), "top10": float(np.mean(arr < 10)), "n": float(len(arr))}
    out["median_query_s"] = {"value": float(np.median(times)) if times else 0.0}
    return out


def _precision_at_10(vectors: np.ndarray, labels: np.ndarray, query_rows: np.ndarray) -> float:
    sims = vectors[query_rows] @ vectors.T
    sims[np.arange(len(query_rows)), query_rows] = -np.inf
    top = np.argsort(-sims, axis=1)[:, :10]
    return float(np.mean(labels[top] == labels[query_rows][:, None]))


def evaluate(
    catalog_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    index_dir: str | os.PathLike[str],
    json_out: str | os.PathLike[str],
    report: str | os.PathLike[str] | None = None,
    map_out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    limit: int | None = None,
    conditions: bool = False,
    versions_dir: str | os.PathLike[str] | None = None,
    version_model_dir: str | os.PathLike[str] | None = None,
    versions_limit: int | None = None,
    hum: bool = False,
    hum_limit: int | None = None,
) -> dict[str, Any]:
    """Run the evaluation; writes ``json_out``, ``map.json`` and (optionally) the Markdown report + PNG.

    ``conditions``: also identify 10 s excerpts under each phone-microphone degradation (``id_conditions``).
    ``versions_dir``: also find other versions of held-out works of this versioned catalog (``versions``: the CNN,
    the version model of ``version_model_dir`` and the chroma baseline, with the whole catalog as distractors).
    ``hum``: also search synthetic hummed queries of held-out works' melodies (``hum``; needs ``build-melodies``).
    """
    from musicrec_common.progress import tqdm

    from audio_service.core.catalog import load_catalog
    from audio_service.core.decode import load_audio
    from audio_service.core.features import mfcc_vector
    from audio_service.core.search import QUERY_SPEEDS, AudioSearch
    from audio_service.core.train import catalog_mels

    t0 = time.perf_counter()
    search = AudioSearch.load(model_dir, index_dir)
    songs = [s for s in load_catalog(catalog_dir) if s["id"] in search.row_of]
    heldout = set(search.embedder.meta.get("heldout_ids", []))
    test = [s for s in songs if s["id"] in heldout][:limit]
    if not test:
        raise ValueError("no held-out song of the model is in the index")
    ids = [s["id"] for s in songs]
    pos = {sid: i for i, sid in enumerate(ids)}
    labels = np.array([s["collection"] for s in songs])
    rng = np.random.default_rng(seed)
    q_rows = np.array([pos[s["id"]] for s in test])

    # --- CNN track vectors (from the index) and MFCC vectors (z-scored over the catalog)
    cnn = np.stack([search.tracks.reconstruct(search.row_of[i]) for i in ids])
    mels = catalog_mels(catalog_dir, songs)
    import librosa

    def mfcc_from_mel(mel_db: np.ndarray) -> np.ndarray:
        m = librosa.feature.mfcc(S=mel_db.astype(np.float32), n_mfcc=20)
        return np.concatenate([m.mean(axis=1), m.std(axis=1)])

    mf = np.stack([mfcc_from_mel(mels[i]) for i in ids])
    mu, sd = mf.mean(axis=0), mf.std(axis=0) + 1e-8

    def mf_norm(v: np.ndarray) -> np.ndarray:
        z = (v - mu) / sd
        return z / np.linalg.norm(z, axis=-1, keepdims=True)

    mfn = mf_norm(mf)
    res: dict[str, dict[str, float]] = {
        "cnn": {"precision@10": _precision_at_10(cnn, labels, q_rows)},
        "mfcc": {"precision@10": _precision_at_10(mfn, labels, q_rows)},
    }
    rand_p = [
        float(np.mean(labels[rng.choice(np.delete(np.arange(len(ids)), r), 10, replace=False)] == labels[r]))
        for r in q_rows
    ]
    res["random"] = {"precision@10": float(np.mean(rand_p))}

    # --- identification
    hits: dict[str, list[int]] = {
        "cnn": [],
        "mfcc": [],
        "random": [],
    }  # rank of the true song (0 = top-1), 10+ = missed
    t_query = []
    for s in tqdm(test, desc="identify", unit="song"):
        y, _ = load_audio(Path(catalog_dir) / s["file"])
        q = make_query(y, rng)
        t1 = time.perf_counter()
        got = [m.song_id for m in search.query_waveform(q, n=10, speeds=QUERY_SPEEDS)]
        t_query.append(time.perf_counter() - t1)
        hits["cnn"].append(got.index(s["id"]) if s["id"] in got else 99)
        qm = mf_norm(mfcc_vector(q))
        order = np.argsort(-(mfn @ qm))[:10]
        top = [ids[i] for i in order]
        hits["mfcc"].append(top.index(s["id"]) if s["id"] in top else 99)
        rnd = [ids[i] for i in rng.choice(len(ids), 10, replace=False)]
        hits["random"].append(rnd.index(s["id"]) if s["id"] in rnd else 99)
    for name, ranks in hits.items():
        r = np.array(ranks)
        res[name]["id_top1"] = float(np.mean(r == 0))
        res[name]["id_top10"] = float(np.mean(r < 10))
    id_conditions: dict[str, dict[str, float]] = {}
    if conditions:
        id_conditions = identify_conditions(search, catalog_dir, test, seed=seed)
    versions: dict[str, dict[str, float]] = {}
    if versions_dir is not None:
        versions = _versions(search, versions_dir, version_model_dir, catalog_dir, songs, versions_limit)
    hum_result: dict[str, float] = {}
    if hum:
        from audio_service.core.melody import catalog_melodies, evaluate_hum
        from audio_service.core.versions import split_works

        melodies = catalog_melodies(catalog_dir)
        _, held_works = split_works(sorted(melodies))
        hum_result = evaluate_hum(melodies, held_works[:hum_limit], seed=seed)
    result = {
        "models": res,
        "n_songs": len(test),
        "n_index": len(ids),
        "model_version": search.embedder.version,
        "median_query_s": float(np.median(t_query)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if conditions:
        query_s = id_conditions.pop("median_query_s")["value"]
        result["id_conditions"] = id_conditions
        result["id_conditions_median_query_s"] = query_s
    if versions:
        result["versions"] = versions
    if hum_result:
        result["hum"] = hum_result
    Path(json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(json_out).write_text(json.dumps(result, indent=1))

    # --- 2-D map of every catalog song (PCA of the CNN track vectors)
    centered = cnn - cnn.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    xy = centered @ vt[:2].T
    map_path = Path(map_out) if map_out else Path(json_out).with_name("map.json")
    map_path.write_text(
        json.dumps(
            [
                {"id": i, "x": round(float(x), 5), "y": round(float(yv), 5), "collection": c}
                for i, (x, yv), c in zip(ids, xy, labels, strict=True)
            ]
        )
    )
    if report:
        _write_report(Path(report), result, xy, labels, heldout_mask=np.isin(np.array(ids), list(heldout)))
    return result


def _versions(
    search: Any,
    versions_dir: str | os.PathLike[str],
    version_model_dir: str | os.PathLike[str] | None,
    catalog_dir: str | os.PathLike[str],
    songs: list[dict[str, Any]],
    limit: int | None,
) -> dict[str, dict[str, float]]:
    """:func:`audio_service.core.version_eval.evaluate_versions` for the CNN, the version model and chroma, the
    whole catalog in each clip index as distractors."""
    from audio_service.core.decode import load_audio
    from audio_service.core.version_eval import Embed, chroma_vector, evaluate_versions
    from audio_service.core.version_model import Passages

    embedders: dict[str, Embed] = {"cnn": lambda y: search.embedder.embed_track(y).track}
    distractors: dict[str, np.ndarray | list[Passages]] = {
        "cnn": np.stack([search.tracks.reconstruct(search.row_of[s["id"]]) for s in songs])
    }
    chroma_vectors: list[np.ndarray] = []
    version_segments: list[Passages] = []
    model = None
    if version_model_dir is not None:
        from audio_service.core.version_model import VersionEmbedder

        model = VersionEmbedder.load(version_model_dir)
        version_model = model
        embedders["version_model"] = lambda y: version_model.passages_of_audio(y, SR)
    for s in songs:
        y, _ = load_audio(Path(catalog_dir) / s["file"])
        chroma_vectors.append(chroma_vector(y))
        if model is not None:
            version_segments.append(model.passages_of_audio(y, SR))
    distractors["chroma"] = np.stack(chroma_vectors)
    if model is not None:
        distractors["version_model"] = version_segments
    return evaluate_versions(
        versions_dir,
        embedders=embedders,
        distractors=distractors,
        limit=limit,
        distractor_works=[s["id"] for s in songs],  # a catalog song's id is its work's id
    )


def _write_report(
    path: Path, result: dict[str, Any], xy: np.ndarray, labels: np.ndarray, heldout_mask: np.ndarray
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    png = path.with_suffix(".png")
    fig, ax = plt.subplots(figsize=(8, 7))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(sorted(set(labels))):
        m = labels == c
        color = cmap(i % 10)  # one colour per collection, for its training songs and its held-out ones
        ax.scatter(xy[m & ~heldout_mask, 0], xy[m & ~heldout_mask, 1], s=6, alpha=0.6, color=color, label=c)
        ax.scatter(xy[m & heldout_mask, 0], xy[m & heldout_mask, 1], s=18, marker="x", color=color)
    ax.set_title("Catalog by sound: PCA of CNN track embeddings (x = held-out)")
    ax.legend(markerscale=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    rows = "\n".join(
        f"| {name} | {m['precision@10']:.3f} | {m['id_top1']:.3f} | {m['id_top10']:.3f} |"
        for name, m in result["models"].items()
    )
    path.write_text(
        f"# Audio similarity evaluation\n\nModel `{result['model_version']}`, {result['n_songs']} held-out songs, "
        f"index of {result['n_index']} songs.\n\n| model | precision@10 (same collection) | id top-1 | id top-10 |\n"
        f"|---|---|---|---|\n{rows}\n\nIdentification queries: random 5 s excerpt, ±5% time stretch, gain -12..+6 dB, "
        f"white noise at 10 dB SNR. Median CNN query time {result['median_query_s'] * 1000:.0f} ms.\n\n![map]({png.name})\n"
        + _extra_sections(result)
    )


def _extra_sections(result: dict[str, Any]) -> str:
    """The report's tables for identification under phone conditions, versions and humming, when measured."""
    out = ""
    if "id_conditions" in result:
        rows = "\n".join(
            f"| {name} | {m['top1']:.3f} | {m['top10']:.3f} | {int(m['n'])} |"
            for name, m in result["id_conditions"].items()
        )
        out += (
            "\n## Identification through a phone microphone\n\n10 s excerpts of the held-out songs, each condition "
            "separately (audio_service.core.degrade: phone = 300-3,400 Hz band, noise at 15-25 dB and a low-quality "
            "codec; reverb = RT60 0.3-0.8 s; noise5db = room noise at 5 dB SNR; speed10 = played 10 % faster or "
            "slower; lossy = Ogg Vorbis at its lowest quality).\n\n| condition | top-1 | top-10 | queries |\n"
            f"|---|---|---|---|\n{rows}\n"
        )
    if "versions" in result:
        rows = "\n".join(
            f"| {name} | {m['map']:.3f} | {m['top1']:.3f} | {m['top10']:.3f} | {int(m['n_works'])} |"
            for name, m in result["versions"].items()
        )
        out += (
            "\n## Other versions of held-out works\n\nTrack MAP over all versions; a 10 s clip of one version against "
            "an index holding another version of each held-out work plus the whole catalog. Versions are generated "
            "(other keys, tempi, instruments, voicings, SoundFonts). `version_model` is the version search as served "
            "(`version_score`: the version model's passages plus their Qmax alignment); the others compare one "
            "vector per song.\n\n| representation | MAP | clip top-1 | "
            f"clip top-10 | works |\n|---|---|---|---|---|\n{rows}\n"
        )
    if "hum" in result:
        h = result["hum"]
        out += (
            "\n## Query by humming (synthetic hummed queries)\n\nGenerated voices (formants, vibrato, drift, the "
            "singer's octave, a wrong tempo, breath noise), 8-15 s of held-out works' melodies, searched among "
            f"{int(h['n_melodies'])} melodies: top-1 {h['top1']:.3f}, top-10 {h['top10']:.3f}, MRR {h['mrr']:.3f} "
            f"({int(h['n_queries'])} queries).\n"
        )
    return out
