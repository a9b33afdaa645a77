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
) -> dict[str, Any]:
    """Run the evaluation; writes ``json_out``, ``map.json`` and (optionally) the Markdown report + PNG."""
    from musicrec_common.progress import tqdm

    from audio_service.core.catalog import load_catalog
    from audio_service.core.decode import load_audio
    from audio_service.core.features import mfcc_vector
    from audio_service.core.search import AudioSearch
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
        got = [m.song_id for m in search.query_waveform(q, n=10)]
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
    result = {
        "models": res,
        "n_songs": len(test),
        "n_index": len(ids),
        "model_version": search.embedder.version,
        "median_query_s": float(np.median(t_query)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
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
    )
