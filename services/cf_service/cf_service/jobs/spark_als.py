"""Scale-out training of the latent-factor member on Apache Spark.

``python -m cf_service spark-train`` (or ``spark-submit deploy/spark/als_job.py``)
runs :func:`run`:

1. read Taste Profile TSV files (``user_id<TAB>song_id<TAB>play_count``; a
   header line with those names is skipped) from local paths or any URI Spark
   can read (``s3a://``, ``gs://``, ``hdfs://``...), reject malformed lines,
   sum repeated ``(user, song)`` pairs;
2. index the raw ids with ``StringIndexer`` (alphabetical, so inner id = rank
   of the raw id);
3. weigh play counts with the single-machine member's transform (BM25 by
   default: idf of the song, length of the user's history; the formulas of
   :class:`cf_service.core.transforms.PreferenceTransform`), then turn the
   weight ``w`` into Spark's rating ``r = w - 1/alpha`` (clamped just above
   0): Spark's confidence ``1 + alpha * r`` then equals ``alpha * w``, the
   confidence ``implicit`` (the single-machine solver) gives the same listen;
4. fit ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` with the
   member's rank, iterations, alpha and seed. Spark scales the L2 penalty by
   each user's (item's) number of ratings (ALS-WR) where ``implicit`` uses a
   constant, so ``regParam`` defaults to ``regularization / mean songs per
   user``: the average user gets the single-machine shrinkage;
5. collect the factors and the play-count matrix to the driver and write them
   with :func:`cf_service.core.factors.save_als_version`: the same
   ``DIR/<version>/`` + ``current.json`` artifact ``train`` writes, which
   cf_service loads and serves unchanged (known users, fold-in, similar songs);
6. optionally write top-N lists for every user (played songs excluded) and
   the most similar songs of every song (cosine of item factors) in the
   :mod:`cf_service.core.precompute` JSONL format, computed on the executors,
   for ``python -m cf_service publish --from-file`` to load into Redis.

Spark's ``recommendForAllUsers`` cannot exclude played songs, and over-asking
by the longest history (thousands of songs in the Taste Profile) makes every
user's candidate queue that long; the lists are therefore scored on the
executors with numpy, a block of users at a time against the broadcast item
factors (n_songs x rank floats: 200 MB at the full catalogue), which also
keeps the exact tie order of cf_service's ``top_n``.

pyspark is imported inside the functions only: cf_service works without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from cf_service.core.data import Interactions
from cf_service.core.params import DEFAULT_PARAMS

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame, SparkSession

Log = Callable[[str], None]
RATING_FLOOR = 1e-6  # weights at or below 1/alpha still count as played (Spark: rating > 0)
SMALL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
}


@dataclass
class SparkALSParams:
    """Hyper-parameters; defaults are the single-machine member's (:data:`DEFAULT_PARAMS`)."""

    rank: int = int(DEFAULT_PARAMS["members"]["als"]["factors"])
    regularization: float = float(DEFAULT_PARAMS["members"]["als"]["regularization"])
    reg_param: float | None = None  # Spark's regParam; None: regularization / mean songs per user
    alpha: float = float(DEFAULT_PARAMS["members"]["als"]["alpha"])
    iterations: int = int(DEFAULT_PARAMS["members"]["als"]["iterations"])
    seed: int = int(DEFAULT_PARAMS["members"]["als"]["seed"])
    transform: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS["members"]["als"]["transform"]))
    blocks: int | None = None  # ALS user/item blocks; None: Spark's default (10)


def spark_session(master: str | None = None, conf: dict[str, str] | None = None, app: str = "cf-als") -> SparkSession:
    """A SparkSession (``master`` None: the one spark-submit set, else ``local[*]``)."""
    from pyspark.sql import SparkSession

    if master and master.startswith("local"):
        # Local executors run this interpreter (numpy, pyarrow); on a cluster set PYSPARK_PYTHON.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# --- reading ---------------------------------------------------------------------------
def read_listens(spark: SparkSession, paths: Sequence[str], on_error: str = "reject") -> DataFrame:
    """``(user_id, song_id, play_count)`` with repeated pairs summed.

    Malformed lines (not three fields, empty id, count not an integer >= 1)
    raise ``ValueError`` with examples (``on_error="reject"``, as the
    single-machine loader does) or are dropped (``"skip"``).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType(
        [StructField(name, StringType()) for name in ("user_id", "song_id", "play_count")]
        + [StructField("_extra", StringType())]
    )
    raw = spark.read.csv(list(paths), sep="\t", schema=schema, header=False, quote="", mode="PERMISSIVE")
    header = (F.lower(F.col("user_id")) == "user_id") & (F.lower(F.col("song_id")) == "song_id")
    count = F.expr("try_cast(trim(play_count) AS BIGINT)")
    ok = (
        F.col("user_id").isNotNull()
        & (F.length(F.trim("user_id")) > 0)
        & F.col("song_id").isNotNull()
        & (F.length(F.trim("song_id")) > 0)
        & count.isNotNull()
        & (count >= 1)
        & (count <= 2**31 - 1)
        & F.col("_extra").isNull()
    )
    body = raw.filter(~F.coalesce(header, F.lit(False)))
    if on_error == "reject":
        bad = body.filter(~F.coalesce(ok, F.lit(False))).limit(5).collect()
        if bad:
            shown = "; ".join("\t".join(str(v) for v in row if v is not None) for row in bad)
            raise ValueError(f"malformed listens (first {len(bad)}): {shown}")
    elif on_error != "skip":
        raise ValueError("on_error must be 'reject' or 'skip'")
    return (
        body.filter(ok)
        .select("user_id", "song_id", count.alias("play_count"))  # ids verbatim, as the single-machine loader
        .groupBy("user_id", "song_id")
        .agg(F.sum("play_count").alias("play_count"))
    )


def index_listens(listens: DataFrame) -> tuple[DataFrame, np.ndarray, np.ndarray]:
    """``(u, i, user_id, play_count)`` with dense int ids, plus the raw id arrays (``users[u]``, ``songs[i]``)."""
    from pyspark.ml.feature import StringIndexer
    from pyspark.sql import functions as F

    model = StringIndexer(inputCols=["user_id", "song_id"], outputCols=["u", "i"], stringOrderType="alphabetAsc").fit(
        listens
    )
    users, songs = (np.asarray(labels, dtype=str) for labels in model.labelsArray)
    indexed = model.transform(listens).select(
        F.col("u").cast("int").alias("u"),
        F.col("i").cast("int").alias("i"),
        "user_id",
        F.col("play_count").cast("double").alias("play_count"),
    )
    return indexed, users, songs


def with_ratings(indexed: DataFrame, n_users: int, n_listens: int, params: SparkALSParams) -> DataFrame:
    """Add ``weight`` (the member's transform of the play count) and Spark's implicit ``rating``."""
    from pyspark.sql import functions as F

    from cf_service.core.transforms import PreferenceTransform

    t = PreferenceTransform.from_params(params.transform)
    c = F.col("play_count")
    df = indexed
    if t.kind in ("bm25", "tfidf"):
        # Smoothed idf exactly as PreferenceTransform.fit: log1p(n_users / (1 + listeners)).
        listeners = indexed.groupBy("i").agg(F.count(F.lit(1)).alias("df"))
        df = df.join(F.broadcast(listeners), "i").withColumn(
            "idf", F.log1p(F.lit(float(n_users)) / (1.0 + F.col("df")))
        )
    if t.kind == "binary":
        weight = F.lit(1.0)
    elif t.kind == "log1p":
        weight = F.log1p(c)
    elif t.kind == "confidence":
        weight = 1.0 + t.alpha * F.log1p(c / t.eps)
    elif t.kind == "tfidf":
        weight = F.log1p(c) * F.col("idf")
    else:  # bm25
        lengths = indexed.groupBy("u").agg(F.count(F.lit(1)).alias("len"))
        avg_len = n_listens / max(1, n_users)  # every indexed user has >= 1 song
        df = df.join(lengths, "u")
        norm = t.k1 * (1.0 - t.b + t.b * F.col("len") / F.lit(max(avg_len, 1e-9)))
        weight = c * (t.k1 + 1.0) / (norm + c) * F.col("idf")
    rating = F.greatest(weight - F.lit(1.0 / params.alpha), F.lit(RATING_FLOOR))
    return df.select("u", "i", "user_id", "play_count", weight.alias("weight"), rating.alias("rating"))


def weight_stats(ratings: DataFrame, alpha: float) -> dict[str, float]:
    """Count, sum, min, max of the weights and how many were clamped (``alpha * w <= 1``); recorded in the manifest."""
    from pyspark.sql import functions as F

    row = ratings.agg(
        F.count(F.lit(1)).alias("count"),
        F.sum("weight").alias("sum"),
        F.min("weight").alias("min"),
        F.max("weight").alias("max"),
        F.sum(F.when(F.col("weight") * F.lit(alpha) <= 1.0, 1).otherwise(0)).alias("clamped"),
    ).collect()[0]
    return {k: (int(row[k]) if k in ("count", "clamped") else float(row[k] or 0.0)) for k in row.asDict()}


# --- factors and play counts to the driver -----------------------------------------------
def _factor_matrix(frame: DataFrame, n: int, rank: int) -> np.ndarray:
    """(n, rank) float32 from an ALS ``(id, features)`` factor frame (rows placed by id)."""
    table = frame.toArrow()
    ids = table.column("id").to_numpy()
    feats = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    out = np.zeros((n, rank), np.float32)
    out[ids] = feats.reshape(len(ids), rank)
    return out


def _interactions(ratings: DataFrame, users: np.ndarray, songs: np.ndarray) -> Interactions:
    table = ratings.select("u", "i", "play_count").toArrow()
    counts = sp.csr_matrix(
        (
            table.column("play_count").to_numpy().astype(np.float32),
            (table.column("u").to_numpy().astype(np.int64), table.column("i").to_numpy().astype(np.int64)),
        ),
        shape=(len(users), len(songs)),
    )
    return Interactions(users, songs, counts)


# --- top-N on the executors ------------------------------------------------------------------
def _top_lists_fn(factors_bc: Any, songs_bc: Any, n: int, kind: str, normalise: bool) -> Callable[..., Any]:
    """A ``mapInArrow`` function: ``(id, raw, features, seen)`` rows -> JSONL ``value`` rows.

    ``raw`` is the raw user id (``kind="user"``); songs' raw ids come from the broadcast array.

    Defined as a closure with local imports so it pickles by value: executors
    need numpy and pyarrow, not cf_service. Scores are float32 ``x @ Y^T``
    (cosine when ``normalise``); ``seen`` songs get ``-inf``; ties break by
    song index, as :func:`cf_service.core.ranking.top_n` does.
    """

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import json as _json

        import numpy as _np
        import pyarrow as pa

        items = factors_bc.value
        song_ids = songs_bc.value
        if normalise:
            norms = _np.linalg.norm(items, axis=1) + 1e-9
            items = (items / norms[:, None]).astype(_np.float32)
        m, rank = items.shape
        k = max(0, min(n, m))
        step = max(1, (1 << 24) // max(1, m))  # bounds the dense score block to 64 MB
        for batch in batches:
            ids_col = batch.column("id").to_numpy()
            raw = batch.column("raw").to_pylist() if kind == "user" else song_ids[ids_col].tolist()
            feats = batch.column("features").flatten().to_numpy(zero_copy_only=False).astype(_np.float32)
            feats = feats.reshape(len(raw), rank)
            if normalise:
                feats = feats / (_np.linalg.norm(feats, axis=1, keepdims=True) + 1e-9)
            seen_col = batch.column("seen")
            offsets = seen_col.offsets.to_numpy()
            seen_vals = seen_col.values.to_numpy()
            lines: list[str] = []
            for lo in range(0, len(raw), step):
                hi = min(len(raw), lo + step)
                scores = feats[lo:hi] @ items.T
                start, stop = offsets[lo], offsets[hi]
                rows = _np.repeat(_np.arange(hi - lo), _np.diff(offsets[lo : hi + 1]))
                scores[rows, seen_vals[start:stop]] = -_np.inf
                if k == 0:
                    part = _np.zeros((hi - lo, 0), _np.int64)
                elif k < m:
                    part = _np.argpartition(-scores, k - 1, axis=1)[:, :k]
                else:
                    part = _np.tile(_np.arange(m), (hi - lo, 1))
                vals = _np.take_along_axis(scores, part, axis=1)
                order = _np.lexsort((part, -vals), axis=1)
                idx = _np.take_along_axis(part, order, axis=1)
                vals = _np.take_along_axis(vals, order, axis=1)
                for r in range(hi - lo):
                    keep = _np.isfinite(vals[r])
                    ids = song_ids[idx[r][keep]].tolist()
                    sc = _np.round(vals[r][keep].astype(_np.float64), 6).tolist()
                    if kind == "user":
                        rec: dict[str, Any] = {
                            "type": "user",
                            "user_id": raw[lo + r],
                            "songs": ids,
                            "scores": sc,
                            "member_ranks": {"als": list(range(1, len(ids) + 1))},
                        }
                    else:
                        rec = {"type": "song", "song_id": raw[lo + r], "similar": ids, "scores": sc}
                    lines.append(_json.dumps(rec))
            yield pa.RecordBatch.from_arrays([pa.array(lines, pa.string())], names=["value"])

    return run


def write_lists(
    spark: SparkSession,
    ratings: DataFrame,
    model: Any,
    songs: np.ndarray,
    item_factors: np.ndarray,
    out: str,
    meta: dict[str, Any],
    n_user: int,
    n_song: int,
) -> None:
    """Write the precompute-format JSONL lines under the folder ``out`` (Spark text output).

    The meta line is alone in the first part file; user lines then song lines follow.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    sc = spark.sparkContext
    factors_bc = sc.broadcast(item_factors)
    songs_bc = sc.broadcast(songs)
    schema = StructType([StructField("value", StringType())])
    seen = ratings.groupBy("u", "user_id").agg(F.collect_list("i").alias("seen"))
    users = (
        model.userFactors.withColumnRenamed("id", "u")
        .join(seen, "u")
        .select(F.col("u").alias("id"), F.col("user_id").alias("raw"), "features", "seen")
    )
    parts = [spark.createDataFrame([(json.dumps(meta),)], schema).coalesce(1)]
    parts.append(users.mapInArrow(_top_lists_fn(factors_bc, songs_bc, n_user, "user", False), schema))
    if n_song > 0:
        items = model.itemFactors.select(
            "id",
            F.lit("").alias("raw"),  # looked up in the broadcast song ids
            "features",
            F.array(F.col("id")).alias("seen"),  # a song is not its own neighbour
        )
        parts.append(items.mapInArrow(_top_lists_fn(factors_bc, songs_bc, n_song, "song", True), schema))
    frame = parts[0]
    for part in parts[1:]:
        frame = frame.union(part)
    frame.write.mode("overwrite").text(out)
    factors_bc.unpersist()
    songs_bc.unpersist()


# --- the ALS fit ------------------------------------------------------------------------------
@dataclass
class FittedALS:
    """Factors on the driver, the fitted Spark model (its factor frames feed the lists) and what was used."""

    user_factors: np.ndarray  # (n_users, rank) float32
    item_factors: np.ndarray  # (n_songs, rank) float32
    reg_param: float
    weights: dict[str, float]
    model: Any


def fit_als(
    session: SparkSession, indexed: DataFrame, n_users: int, n_songs: int, n_listens: int, p: SparkALSParams
) -> FittedALS:
    """``pyspark.ml.recommendation.ALS`` on ``(u, i, user_id, play_count)`` with the member's weights."""
    from pyspark import StorageLevel
    from pyspark.ml.recommendation import ALS as SparkALS

    ratings = with_ratings(indexed, n_users, n_listens, p).persist(StorageLevel.MEMORY_AND_DISK)
    weights = weight_stats(ratings, p.alpha)
    mean_len = n_listens / max(1, n_users)
    reg_param = p.reg_param if p.reg_param is not None else p.regularization / mean_len
    als = SparkALS(
        rank=p.rank,
        maxIter=p.iterations,
        regParam=reg_param,
        alpha=p.alpha,
        implicitPrefs=True,
        seed=p.seed,
        userCol="u",
        itemCol="i",
        ratingCol="rating",
        coldStartStrategy="drop",
    )
    if p.blocks:
        als = als.setNumUserBlocks(p.blocks).setNumItemBlocks(p.blocks)
    model = als.fit(ratings)
    user_factors = _factor_matrix(model.userFactors, n_users, p.rank)
    item_factors = _factor_matrix(model.itemFactors, n_songs, p.rank)
    ratings.unpersist()
    return FittedALS(user_factors, item_factors, float(reg_param), weights, model)


# --- what every job shares -----------------------------------------------------------------------
@contextlib.contextmanager
def job_session(
    spark: SparkSession | None, master: str | None, conf: dict[str, str] | None, app: str
) -> Iterator[SparkSession]:
    """The given session, or a new one stopped at the end; on ``local`` masters a temporary checkpoint folder (ALS
    truncates its lineage every 10 iterations when one is set; on a cluster pass ``spark.checkpoint.dir`` on shared
    storage)."""
    session = spark or spark_session(master, conf, app=app)
    checkpoint = tempfile.mkdtemp(prefix="cf-spark-ckpt-")
    try:
        sc = session.sparkContext
        if sc.getCheckpointDir() is None and str(sc.master).startswith("local"):
            sc.setCheckpointDir(checkpoint)
        yield session
    finally:
        if spark is None:
            session.stop()
        shutil.rmtree(checkpoint, ignore_errors=True)


def read_indexed(
    session: SparkSession, listens: Sequence[str], on_error: str
) -> tuple[DataFrame, np.ndarray, np.ndarray, int]:
    """Read, check and index the listens: the persisted ``(u, i, user_id, play_count)`` frame, the raw user and song
    ids of the inner ids, and the number of (user, song) pairs."""
    from pyspark import StorageLevel

    summed = read_listens(session, listens, on_error).persist(StorageLevel.MEMORY_AND_DISK)
    indexed, users, songs = index_listens(summed)
    indexed = indexed.persist(StorageLevel.MEMORY_AND_DISK)
    n_listens = int(indexed.count())
    summed.unpersist()
    return indexed, users, songs, n_listens


def lists_meta(path: Path, n_user: int, n_song: int) -> dict[str, Any]:
    """The meta line of the lists of the model version written at ``path``."""
    trained_at = json.loads((path / "manifest.json").read_text())["trained_at"]
    return {
        "type": "meta",
        "version": path.name,
        "trained_at": trained_at,
        "n_user": n_user,
        "n_song": n_song,
        "trainer": "spark",
    }


# --- the job ----------------------------------------------------------------------------------
@dataclass
class SparkTrainResult:
    version: str
    path: str
    lists: str | None
    n_users: int
    n_songs: int
    n_listens: int
    reg_param: float
    seconds: dict[str, float]
    spark_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(
    listens: Sequence[str],
    model_dir: str | Path,
    *,
    params: SparkALSParams | None = None,
    lists: str | None = None,
    n_user: int = 100,
    n_song: int = 50,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    on_error: str = "reject",
    spark: SparkSession | None = None,
    log: Log | None = None,
) -> SparkTrainResult:
    """Train on ``listens`` (paths or URIs), write ``model_dir/<version>/`` and optionally the lists.

    Args:
        lists: folder (path or URI) for the JSONL top-N lists; None: no lists.
        n_user, n_song: list lengths (``n_song=0`` skips the similar-song lines).
        master, conf: a new session's master and settings (ignored when ``spark`` is given).
    """
    from cf_service.core.factors import save_als_version

    p = params or SparkALSParams()
    say: Log = log or (lambda _msg: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with job_session(spark, master, conf, "cf-als") as session:
        sc = session.sparkContext
        seconds["start"] = time.perf_counter() - t0

        t = time.perf_counter()
        indexed, users, songs, n_listens = read_indexed(session, listens, on_error)
        seconds["read_index"] = time.perf_counter() - t
        say(f"{n_listens} listens: {len(users)} users, {len(songs)} songs")

        t = time.perf_counter()
        fitted = fit_als(session, indexed, len(users), len(songs), int(n_listens), p)
        user_factors, item_factors = fitted.user_factors, fitted.item_factors
        reg_param, weights = fitted.reg_param, fitted.weights
        mean_len = n_listens / max(1, len(users))
        seconds["als_fit"] = time.perf_counter() - t
        say(f"ALS fitted in {seconds['als_fit']:.1f}s (rank {p.rank}, regParam {reg_param:.5g})")

        t = time.perf_counter()
        inter = _interactions(indexed, users, songs)
        member_params = {
            "factors": p.rank,
            # The constant-penalty equivalent, used by fold-in: regParam x mean songs per user.
            "regularization": reg_param * mean_len,
            "alpha": p.alpha,
            "iterations": p.iterations,
            "seed": p.seed,
            "transform": dict(p.transform),
        }
        path = save_als_version(
            model_dir,
            inter,
            user_factors,
            item_factors,
            member_params,
            fit_seconds=seconds["als_fit"],
            manifest={
                "trainer": "spark",
                "source": [str(x) for x in listens],
                "spark": {
                    "version": session.version,
                    "master": sc.master,
                    "regParam": reg_param,
                    "weights": weights,
                    "rating": "max(weight - 1/alpha, 1e-6); Spark confidence 1 + alpha * rating = alpha * weight",
                    **{k: v for k, v in asdict(p).items() if k != "transform"},
                },
            },
        )
        seconds["save"] = time.perf_counter() - t
        version = path.name
        say(f"wrote {path}")

        if lists:
            t = time.perf_counter()
            meta = lists_meta(path, n_user, n_song)
            write_lists(session, indexed, fitted.model, songs, item_factors, lists, meta, n_user, n_song)
            seconds["lists"] = time.perf_counter() - t
            say(f"wrote lists to {lists} in {seconds['lists']:.1f}s")
        indexed.unpersist()
        seconds["total"] = time.perf_counter() - t0
        return SparkTrainResult(
            version=version,
            path=str(path),
            lists=lists,
            n_users=len(users),
            n_songs=len(songs),
            n_listens=int(n_listens),
            reg_param=float(reg_param),
            seconds={k: round(v, 2) for k, v in seconds.items()},
            spark_version=session.version,
        )


def parse_conf(items: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> dict (for ``--conf``)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--conf expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out
