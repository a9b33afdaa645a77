"""The version embedding: "the same song, played another way" (other key, tempo, instruments, voicing).

A small Keras CNN reads a chroma segment (:data:`SEGMENT_FRAMES` frames of 12 pitch classes, ~10 s) and returns a
unit vector. Its convolutions wrap around the pitch-class axis (the last class is the neighbour of the first) and
it takes the maximum over that axis at the end, so transposing the input by any number of semitones gives exactly
the same vector: key invariance is built in, not learned. Tempo and instrumentation invariance are learned:
training pairs are corresponding passages of two versions of one work (their positions mapped through each
version's tempo), and the loss (NT-Xent) pulls them together and pushes the other works of the batch away.

A song is a set of segment vectors (one every :data:`SEGMENT_HOP` frames, ~5 s), so a 10 s clip can match a
passage of a whole song (as ByteCover3 does for short queries); its track vector is their normalised mean.

Only standard layers (``Cropping2D``/``Concatenate`` make the circular padding), so ``model.keras`` loads without
custom objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audio_service.core import align
from audio_service.core.compare import FRAME_S, chroma_sequence

if TYPE_CHECKING:
    from audio_service.core.melody_line import MelodyExtractor

SEGMENT_FRAMES = 108  # ~10 s of chroma frames (hop 2048 at 22.05 kHz)
CHROMA_BAND = (100.0, 5000.0)  # Hz: the tune and its chords, not a bass line's or the drums' energy
SEGMENT_HOP = 54  # a segment every ~5 s (training's jitter)
INDEX_HOP = 11  # a segment every ~1 s in what is searched: a clip finds the passage it was cut from
EMBED_DIM = 128
# The normalised alignment's weight beside the passage similarity, kept from the raw alignment's (chosen then on
# held-out works). With it the normalised alignment counts about half as much as the passages between unrelated
# songs (their spreads there: 0.19 and 1.04 on training works); weighing both alike (0.19) ranked held-out versions
# worse in an experiment on cached features (track MAP 0.741 against 0.759).
ALIGN_WEIGHT = 0.1
COHORT_SONGS = 64  # unrelated recordings measuring each recording's alignment background (align.Cohort)
COHORT_FILE = "cohort.npz"
# Optional beside the weights: the melody-line extractor (core/melody_line.py) and the cohort of its melody lines.
# With them, two recordings are also aligned by their tunes alone (a melody alone against the same tune under
# chords and drums), weighed like the chroma alignment.
MELODY_FILE = "melody.keras"
MELODY_COHORT_FILE = "melody_cohort.npz"


@dataclass(frozen=True)
class Passages:
    """A recording as the version search sees it: its ``segments (k, D)`` (unit vectors, one every
    :data:`INDEX_HOP` frames from ``starts (k,)`` seconds), its pooled chroma ``aligned (m, 12)``
    (:func:`audio_service.core.align.align_sequence`) and the ``background (4,)`` of its alignment scores
    (:meth:`audio_service.core.align.Cohort.background`); with a melody-line model, its pooled melody line
    ``melody (m', 12)`` and that one's ``melody_background (4,)`` (empty without)."""

    segments: np.ndarray
    starts: np.ndarray
    aligned: np.ndarray
    background: np.ndarray = field(default_factory=lambda: align.NO_BACKGROUND.copy())
    melody: np.ndarray = field(default_factory=lambda: np.zeros((0, 12), np.float32))
    melody_background: np.ndarray = field(default_factory=lambda: align.NO_BACKGROUND.copy())


def version_score(a: Passages, b: Passages, symmetric: bool = True) -> float:
    """How surely ``b`` plays the music of ``a``: their :func:`passage_similarity` (*the same passages?*, about
    -0.2..1) plus :data:`ALIGN_WEIGHT` times their Qmax alignment (*in the same order?*,
    :func:`audio_service.core.align.align`) in standard deviations above both recordings' backgrounds
    (:func:`audio_service.core.align.normalised`, about -2..15). The two err on different songs; on held-out works
    their sum ranks versions far better than either (bench/RESULTS.md, "Versions"). ``symmetric=False``: ``a`` is
    a clip."""
    shared, aligned = version_score_parts(a, b, symmetric)
    return shared + ALIGN_WEIGHT * aligned


def version_score_parts(a: Passages, b: Passages, symmetric: bool = True) -> tuple[float, float]:
    """:func:`version_score`'s two halves: the passage similarity and the normalised alignment (of the chroma,
    plus that of the melody lines when both recordings have one)."""
    shared = passage_similarity(a.segments, b.segments, symmetric)
    aligned = align.normalised(align.score(a.aligned, b.aligned), a.background, b.background, clip=not symmetric)
    if len(a.melody) and len(b.melody):
        tune = align.score(a.melody, b.melody)
        aligned += align.normalised(tune, a.melody_background, b.melody_background, clip=not symmetric)
    return shared, aligned


def melody_sequence(melody: np.ndarray) -> np.ndarray:
    """The pooled melody line that is aligned: :func:`audio_service.core.align.align_sequence` of a melody chroma
    ``(n, 12)`` (:meth:`MelodyExtractor.melody_chroma`) whose frames are made unit length first (a frame's mass is
    the extractor's confidence that the tune plays; its direction, which note)."""
    if len(melody) == 0:
        return np.zeros((0, 12), np.float32)
    unit = melody / (np.linalg.norm(melody, axis=1, keepdims=True) + 1e-9)
    return align.align_sequence(unit.astype(np.float32))


def features(y: np.ndarray, sr: int, band: tuple[float, float] | None, kind: str = "stft") -> np.ndarray:
    """What the version model reads: ``(n_frames, 12)`` chroma of mono ``y``: ``kind`` (the model's own
    ``meta["chroma"]``: ``"cqt"`` or ``"stft"``), ``band``-limited (``meta["chroma_band"]``; None for models
    trained on full-band chroma)."""
    return chroma_sequence(y, sr, band, kind)


def segments(chroma: np.ndarray, hop: int = SEGMENT_HOP) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``chroma (n, 12)`` into ``(k, SEGMENT_FRAMES, 12)`` segments and their start times ``(k,)`` in seconds.

    A recording shorter than a segment is repeated to fill it (a short clip still gets one segment).
    """
    n = len(chroma)
    if n == 0:
        return np.zeros((0, SEGMENT_FRAMES, 12), np.float32), np.zeros(0, np.float32)
    if n < SEGMENT_FRAMES:
        chroma = np.concatenate([chroma] * (SEGMENT_FRAMES // n + 1))[:SEGMENT_FRAMES]
        n = SEGMENT_FRAMES
    starts = list(range(0, n - SEGMENT_FRAMES + 1, hop))
    if starts[-1] != n - SEGMENT_FRAMES:
        starts.append(n - SEGMENT_FRAMES)  # the end of the song too
    segs = np.stack([chroma[s : s + SEGMENT_FRAMES] for s in starts]).astype(np.float32)
    return segs, (np.array(starts, np.float32) * FRAME_S)


def passage_similarity(a: np.ndarray, b: np.ndarray, symmetric: bool = True) -> float:
    """How much two songs play the same music, from their segment vectors ``a (k, D)`` and ``b (m, D)``: each
    segment's best match in the other song, averaged, both ways (a cover matches all along, a quotation once).
    ``symmetric=False``: only ``a``'s segments (how well a clip ``a`` is found inside ``b``)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    s = a @ b.T
    if not symmetric:
        return float(s.max(axis=1).mean())
    return float(0.5 * (s.max(axis=1).mean() + s.max(axis=0).mean()))


def _circular_conv(x: Any, filters: int, name: str) -> Any:
    """3 x 3 convolution, zero-padded in time and wrapped around the 12 pitch classes: ``(T, 12, C) -> (T, 12, F)``."""
    from keras import layers

    last = layers.Cropping2D(((0, 0), (11, 0)), name=f"{name}_last")(x)
    first = layers.Cropping2D(((0, 0), (0, 11)), name=f"{name}_first")(x)
    x = layers.Concatenate(axis=2, name=f"{name}_wrap")([last, x, first])
    x = layers.ZeroPadding2D(((1, 1), (0, 0)), name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, 3, padding="valid", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_version_model(embed_dim: int = EMBED_DIM, widths: tuple[int, ...] = (24, 48, 96, 128)) -> Any:
    """Input ``(batch, SEGMENT_FRAMES, 12)`` chroma → ``(batch, embed_dim)`` unit vectors, transposition-invariant."""
    import keras
    from keras import layers

    inp = keras.Input(shape=(SEGMENT_FRAMES, 12), name="chroma")
    x = layers.Reshape((SEGMENT_FRAMES, 12, 1))(inp)
    for i, width in enumerate(widths):
        x = _circular_conv(x, width, f"conv{i}a")
        if i > 0:
            x = _circular_conv(x, width, f"conv{i}b")
        if i < len(widths) - 1:
            x = layers.MaxPooling2D((2, 1), name=f"pool{i}")(x)  # time only: the pitch axis stays whole
    x = layers.MaxPooling2D((1, 12), name="any_key")(x)  # the best transposition: (T', 1, C)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dense(256, activation="relu", name="fc")(x)
    x = layers.Dense(embed_dim, name="proj")(x)
    out = layers.UnitNormalization(name="l2")(x)
    return keras.Model(inp, out, name="version_embedder")


@dataclass
class VersionTrainConfig:
    steps: int = 2000
    minutes: float = 20.0
    batch: int = 64  # works per step (two versions each)
    temperature: float = 0.1
    learning_rate: float = 2e-3
    stretch: float = 0.12  # extra random tempo change of each crop (x 1 +- stretch)
    noise: float = 0.05
    jitter: int = SEGMENT_HOP // 2  # frames one crop may start off the other: an index holds a segment every hop
    same_collection: float = 0.5  # share of a batch from one collection: the hardest negatives
    chroma_band: tuple[float, float] | None = CHROMA_BAND
    chroma: str = "cqt"  # constant-Q chroma (see compare.chroma_sequence); "stft" for the first shipped model
    # Share of pairs that put a version playing the melody alone beside a band version: the hardest pairs (the
    # tune is one voice of the other's chroma, under chords and bass); a random pair of 4 versions is one 1/6.
    melody_pairs: float = 0.0
    init: str | None = None  # a model folder to start from (fine-tuning shipped weights) instead of random weights
    seed: int = 0


def version_chroma(
    versions_dir: str | os.PathLike[str],
    records: list[dict[str, Any]],
    band: tuple[float, float] | None = None,
    kind: str = "stft",
) -> dict[str, np.ndarray]:
    """Chroma ``(n, 12)`` float16 of every version (:func:`features`), cached in ``DIR/chroma[-band].npz`` or
    ``DIR/chroma-cqt.npz`` (computed for new ones only)."""
    from musicrec_common.progress import tqdm

    from audio_service.core.decode import AudioDecodeError, load_audio

    root = Path(versions_dir)
    name = "chroma-cqt" if kind == "cqt" else "chroma" if band is None else f"chroma-{band[0]:g}-{band[1]:g}"
    cache = root / f"{name}.npz"
    have: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            have = {k: z[k] for k in z.files}
    todo = [r for r in records if r["id"] not in have]
    for r in tqdm(todo, desc="chroma", unit="version", disable=not todo):
        try:
            y, sr = load_audio(root / r["file"])
        except AudioDecodeError:  # a version that rendered silent (its notes out of the instruments' range)
            have[r["id"]] = np.zeros((0, 12), np.float16)
            continue
        have[r["id"]] = features(y, sr, band, kind).astype(np.float16)
    if todo:
        tmp = root / "chroma.tmp.npz"
        np.savez(tmp, **have)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        os.replace(tmp, cache)
    return have


def _crop(seq: np.ndarray, start: int, rng: np.random.Generator, stretch: float, noise: float) -> np.ndarray:
    """``SEGMENT_FRAMES`` frames of ``seq (n, 12)`` from ``start``, time-stretched by a random factor, noised."""
    factor = float(np.exp(rng.uniform(np.log(1 - stretch), np.log(1 + stretch))))
    pos = start + np.arange(SEGMENT_FRAMES) * factor
    pos = np.clip(pos, 0, len(seq) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(seq) - 1)
    w = (pos - lo)[:, None]
    out = (1 - w) * seq[lo].astype(np.float32) + w * seq[hi].astype(np.float32)
    out = np.maximum(out + rng.normal(0, noise, out.shape), 0)
    return (out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-6)).astype(np.float32)


def training_pairs(
    works: list[list[dict[str, Any]]],
    chroma: dict[str, np.ndarray],
    rng: np.random.Generator,
    batch: int,
    stretch: float,
    noise: float,
    jitter: int = 0,
    same_collection: float = 0.0,
    melody_pairs: float = 0.0,
) -> np.ndarray:
    """``(2 * batch, SEGMENT_FRAMES, 12)``: rows ``2k`` and ``2k + 1`` are corresponding passages of two versions of
    one work (a point of the score mapped to each version's time through its tempo, the second crop up to
    ``jitter`` frames off). About ``same_collection`` of the works come from one collection; about
    ``melody_pairs`` of the pairs are a melody-alone version beside a band version (:func:`_pick_pair`)."""
    picks = _pick_works(works, rng, batch, same_collection)
    out = np.empty((2 * batch, SEGMENT_FRAMES, 12), np.float32)
    for k, w in enumerate(picks):
        va, vb = _pick_pair(works[w], rng, melody_pairs)
        sa, sb = chroma[va["id"]], chroma[vb["id"]]
        # Score time covered by both versions, in seconds at the score's tempo (version time x its tempo).
        cover = min(len(sa) * FRAME_S * va["tempo"], len(sb) * FRAME_S * vb["tempo"])
        seg_score_s = SEGMENT_FRAMES * FRAME_S * max(va["tempo"], vb["tempo"])
        t = rng.uniform(0, max(cover - seg_score_s, 0.0))
        out[2 * k] = _crop(sa, int(t / va["tempo"] / FRAME_S), rng, stretch, noise)
        off = int(rng.integers(-jitter, jitter + 1)) if jitter else 0
        out[2 * k + 1] = _crop(sb, max(0, int(t / vb["tempo"] / FRAME_S) + off), rng, stretch, noise)
    return out


def _pick_pair(
    versions: list[dict[str, Any]], rng: np.random.Generator, melody_pairs: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two versions of one work; with probability ``melody_pairs`` (when the work has both) one playing the melody
    alone and one with a band (else any accompanied one: a catalog render plays all the parts), in random order."""
    if melody_pairs and rng.random() < melody_pairs:
        alone = [v for v in versions if v.get("voicing") == "melody"]
        accompanied = [v for v in versions if v.get("voicing") == "band"]
        accompanied = accompanied or [v for v in versions if v.get("voicing") != "melody"]
        if alone and accompanied:
            pair = (alone[rng.integers(len(alone))], accompanied[rng.integers(len(accompanied))])
            return pair if rng.random() < 0.5 else (pair[1], pair[0])
    a, b = rng.choice(len(versions), size=2, replace=False)
    return versions[a], versions[b]


def _pick_works(
    works: list[list[dict[str, Any]]], rng: np.random.Generator, batch: int, same_collection: float
) -> np.ndarray:
    """``batch`` distinct works, about ``same_collection`` of them from one random collection."""
    replace = len(works) < batch
    if not same_collection or replace:
        return rng.choice(len(works), size=batch, replace=replace)
    collections = np.array([str(w[0].get("collection", "")) for w in works])
    pool = np.flatnonzero(collections == collections[rng.integers(len(works))])
    same = rng.choice(pool, size=min(round(batch * same_collection), len(pool)), replace=False)
    rest = np.setdiff1d(np.arange(len(works)), same)
    return np.concatenate([same, rng.choice(rest, size=batch - len(same), replace=False)])


def train_version_model(
    versions_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: VersionTrainConfig | None = None,
    progress: bool = True,
    catalog_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train on the versioned catalog's training works only; write a new ``OUT/<version>/model.keras``.

    ``catalog_dir``: the catalog renders each work once more (the score's tempo and key, all its parts, its own
    instruments): one more version of each training work.
    """
    import keras
    import tensorflow as tf
    from musicrec_common.progress import tqdm

    from audio_service.core.artifacts import new_version_dir, set_current
    from audio_service.core.version_catalog import load_versions

    cfg = config or VersionTrainConfig()
    rng = np.random.default_rng(cfg.seed)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.init:  # first: a mismatch fails before any chroma is computed
        from audio_service.core.embed import load_model_folder

        init = load_model_folder(cfg.init)
        model, init_meta = init.model, init.meta
        if init_meta.get("chroma", "stft") != cfg.chroma:
            raise ValueError(f"{cfg.init} reads {init_meta.get('chroma', 'stft')} chroma, not {cfg.chroma}")
    else:
        model = build_version_model()
    records = [r for r in load_versions(versions_dir) if r["split"] == "train"]
    if catalog_dir is not None:
        from audio_service.core.catalog import load_catalog

        train_works = {r["work_id"] for r in records}
        records += [
            {
                "id": f"catalog:{s['id']}",
                "work_id": s["id"],
                "collection": s["collection"],
                "file": str((Path(catalog_dir) / s["file"]).resolve()),  # absolute: read from the catalog
                "tempo": 1.0,
            }
            for s in load_catalog(catalog_dir)
            if s["id"] in train_works  # a catalog song's id is its work's id; held-out works stay out
        ]
    by_work: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_work.setdefault(r["work_id"], []).append(r)
    chroma = version_chroma(versions_dir, records, cfg.chroma_band, cfg.chroma)
    usable = [[r for r in v if len(chroma[r["id"]]) >= SEGMENT_FRAMES // 2] for v in by_work.values()]
    works = [v for v in usable if len(v) >= 2]
    if len(works) < 4:
        raise ValueError(f"{versions_dir}: {len(works)} training works with two versions; need at least 4")
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(cfg.steps, 1), alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    labels = tf.constant(np.arange(2 * cfg.batch) ^ 1)  # row 2k's positive is 2k + 1 and back

    @tf.function(reduce_retracing=True)
    def step(x: Any) -> Any:
        with tf.GradientTape() as tape:
            z = model(x, training=True)
            logits = tf.matmul(z, z, transpose_b=True) / cfg.temperature
            logits -= 1e9 * tf.eye(tf.shape(z)[0])  # never the row itself
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    started = time.monotonic()
    losses: list[float] = []
    done = 0
    bar = tqdm(total=cfg.steps, desc="version model", unit="step", disable=not progress)
    for done in range(1, cfg.steps + 1):
        x = training_pairs(
            works, chroma, rng, cfg.batch, cfg.stretch, cfg.noise, cfg.jitter, cfg.same_collection, cfg.melody_pairs
        )
        losses.append(float(step(tf.constant(x))))
        bar.update(1)
        if done % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if time.monotonic() - started > cfg.minutes * 60:
            break
    bar.close()
    folder = new_version_dir(out_dir, prefix="m")
    model.save(folder / "model.keras")
    summary = {
        "kind": "version_model",
        "steps": done,
        "seconds": round(time.monotonic() - started, 1),
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "n_train_works": len(works),
        "n_train_versions": sum(len(w) for w in works),
        "catalog": str(catalog_dir) if catalog_dir is not None else None,
        "config": asdict(cfg),
        "chroma_band": list(cfg.chroma_band) if cfg.chroma_band else None,
        "chroma": cfg.chroma,
        "segment_frames": SEGMENT_FRAMES,
        "segment_hop": SEGMENT_HOP,
        "frame_s": FRAME_S,
    }
    (folder / "meta.json").write_text(json.dumps(summary, indent=1))
    build_cohort(versions_dir, cfg.chroma_band, cfg.chroma, seed=cfg.seed).save(folder / COHORT_FILE)
    set_current(out_dir, folder.name)
    return summary | {"path": str(folder)}


def _cohort_records(versions_dir: str | os.PathLike[str], seed: int) -> list[dict[str, Any]]:
    """One version of every training work (held-out works never), drawn with ``seed``, in a seeded order: the
    recordings both cohorts take theirs from, so the chroma and melody cohorts hold the same versions."""
    from audio_service.core.version_catalog import load_versions

    by_work: dict[str, list[dict[str, Any]]] = {}
    for r in load_versions(versions_dir):
        if r["split"] == "train":
            by_work.setdefault(r["work_id"], []).append(r)
    rng = np.random.default_rng(seed)
    return [by_work[w][int(rng.integers(len(by_work[w])))] for w in rng.permutation(sorted(by_work))]


def build_cohort(
    versions_dir: str | os.PathLike[str],
    band: tuple[float, float] | None = None,
    kind: str = "cqt",
    songs: int = COHORT_SONGS,
    seed: int = 0,
) -> align.Cohort:
    """One version of each of ``songs`` training works (drawn with ``seed``; held-out works never), as the
    :class:`~audio_service.core.align.Cohort` that measures every recording's alignment background."""
    picked = _cohort_records(versions_dir, seed)
    chroma = version_chroma(versions_dir, picked[: songs * 2], band, kind)  # spares for silent renders
    seqs = [align.align_sequence(chroma[r["id"]]) for r in picked[: songs * 2] if len(chroma[r["id"]])]
    return align.Cohort(seqs[:songs], clip_frames=-(-SEGMENT_FRAMES // align.POOL))


def build_melody_cohort(
    versions_dir: str | os.PathLike[str], melody: MelodyExtractor, songs: int = COHORT_SONGS, seed: int = 0
) -> align.Cohort:
    """The melody lines of :func:`build_cohort`'s recordings (the same training-work versions), as the cohort that
    measures every recording's melody-alignment background."""
    from audio_service.core.decode import AudioDecodeError, load_audio

    picked = _cohort_records(versions_dir, seed)
    seqs = []
    for r in picked[: songs * 2]:  # spares for silent renders
        try:
            y, sr = load_audio(Path(versions_dir) / r["file"])
        except AudioDecodeError:
            continue
        seqs.append(melody_sequence(melody.melody_chroma(y, sr)))
        if len(seqs) == songs:
            break
    return align.Cohort(seqs, clip_frames=-(-SEGMENT_FRAMES // align.POOL))


class VersionEmbedder:
    """A loaded version model: chroma → segment vectors. Thread-safe (the traced function is read-only)."""

    def __init__(self, model: Any, meta: dict[str, Any], version: str) -> None:
        import tensorflow as tf

        self.model = model
        self.meta = meta
        self.version = version
        self.dim = int(model.output_shape[-1])
        band = meta.get("chroma_band")
        self.band: tuple[float, float] | None = (float(band[0]), float(band[1])) if band else None
        self.chroma_kind = str(meta.get("chroma", "stft"))  # models from before the CQT read STFT chroma
        self.cohort: align.Cohort | None = None  # set by load() from cohort.npz beside the weights
        self.cohort_id = "none"  # ... and a digest of it: an index built with another cohort is rebuilt
        self.melody: MelodyExtractor | None = None  # set by load() from melody.keras beside the weights
        self.melody_cohort: align.Cohort | None = None  # ... and melody_cohort.npz
        self._lock = threading.Lock()
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, SEGMENT_FRAMES, 12], tf.float32)],
            reduce_retracing=True,
        )

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> VersionEmbedder:
        """Load ``DIR/current`` (or DIR itself when it holds ``model.keras``), with its ``cohort.npz`` when there
        is one (without, alignment scores are not normalised: :data:`audio_service.core.align.NO_BACKGROUND`)."""
        from audio_service.core.embed import load_model_folder

        loaded = load_model_folder(model_dir)
        self = cls(loaded.model, loaded.meta, loaded.version)
        folder = loaded.folder  # the cohort beside these very weights
        if (folder / COHORT_FILE).exists():
            self.cohort = align.Cohort.load(folder / COHORT_FILE)
            self.cohort_id = hashlib.sha256((folder / COHORT_FILE).read_bytes()).hexdigest()[:12]
        if (folder / MELODY_FILE).exists():
            import keras

            from audio_service.core.melody_line import MelodyExtractor

            digest = hashlib.sha256((folder / MELODY_FILE).read_bytes()).hexdigest()[:12]
            model = keras.saving.load_model(folder / MELODY_FILE, compile=False)
            self.melody = MelodyExtractor(model, {}, digest)
            self.version += f"+melody@{digest}"  # an index built without these melody lines starts again
            if (folder / MELODY_COHORT_FILE).exists():
                self.melody_cohort = align.Cohort.load(folder / MELODY_COHORT_FILE)
                tune = hashlib.sha256((folder / MELODY_COHORT_FILE).read_bytes()).hexdigest()[:12]
                self.cohort_id += f"+{tune}"
        return self

    def embed_segments(self, segs: np.ndarray, batch: int = 256) -> np.ndarray:
        """``(k, SEGMENT_FRAMES, 12)`` → ``(k, D)`` unit vectors."""
        out = [np.asarray(self._fn(segs[i : i + batch].astype(np.float32))) for i in range(0, len(segs), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def features(self, y: np.ndarray, sr: int) -> np.ndarray:
        """The chroma this model reads, ``(n_frames, 12)``, of mono audio ``y``."""
        return features(y, sr, self.band, self.chroma_kind)

    def embed_audio(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`embed_chroma` of mono audio ``y``."""
        return self.embed_chroma(self.features(y, sr))

    def passages(self, chroma: np.ndarray, melody: np.ndarray | None = None) -> Passages:
        """What the version search keeps of a recording's chroma ``(n, 12)`` (:meth:`features`) and, with a
        melody-line model, its melody chroma ``(n', 12)`` (:meth:`melody_chroma`; None: none)."""
        _, vecs, starts = self.embed_chroma(chroma, INDEX_HOP)
        aligned = align.align_sequence(chroma)
        background = self.cohort.background(aligned) if self.cohort is not None else align.NO_BACKGROUND.copy()
        tune = melody_sequence(melody) if melody is not None else np.zeros((0, 12), np.float32)
        tune_background = (
            self.melody_cohort.background(tune) if self.melody_cohort is not None else align.NO_BACKGROUND.copy()
        )
        return Passages(vecs.astype(np.float32), starts.astype(np.float32), aligned, background, tune, tune_background)

    def passages_of_audio(self, y: np.ndarray, sr: int) -> Passages:
        """:meth:`passages` of mono audio ``y`` (with its melody line when this model reads one)."""
        return self.passages(self.features(y, sr), self.melody_chroma(y, sr))

    def melody_chroma(self, y: np.ndarray, sr: int) -> np.ndarray | None:
        """The tune's pitch classes ``(n, 12)`` in mono audio ``y``; None without a melody-line model."""
        if self.melody is None:
            return None
        from audio_service.core.melody_line import spectrum

        return self.melody_of_spectrum(spectrum(y, sr))

    def melody_of_spectrum(self, spec: np.ndarray) -> np.ndarray | None:
        """:meth:`melody_chroma` from a :func:`audio_service.core.melody_line.spectrum` ``(n, N_BINS)`` (computed
        elsewhere, e.g. beside the chroma in the version index sync)."""
        if self.melody is None:
            return None
        with self._lock:  # one recording's whole spectrum at a time: bounded memory
            return self.melody.melody_chroma_of_spectrum(spec)

    def embed_chroma(self, chroma: np.ndarray, hop: int = SEGMENT_HOP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(track (D,), segment vectors (k, D), starts (k,) s)`` of a chroma sequence ``(n, 12)``."""
        segs, starts = segments(chroma.astype(np.float32), hop)
        vecs = self.embed_segments(segs)
        track = vecs.mean(axis=0)
        return (track / (np.linalg.norm(track) + 1e-9)).astype(np.float32), vecs, starts
