"""The whole vote on Apache Spark: the three members computed by the executors, fused on the driver.

``python -m cf_service spark-train`` runs :func:`run_vote` (``--als-only``: the ALS member alone,
:func:`cf_service.jobs.spark_als.run`):

1. read, check and index the listens as the ALS job does (:func:`~cf_service.jobs.spark_als.read_listens`,
   ``StringIndexer``), and collect the play counts to the driver: the artifact holds them, as ``train``'s does;
2. **ALS**: ``pyspark.ml.recommendation.ALS`` with the member's hyper-parameters and weights
   (:func:`~cf_service.jobs.spark_als.fit_als`);
3. **item neighbourhood**: the weighted listens are broadcast and each task computes one block of candidate
   songs' co-occurrence counts (a sparse product, the blocks :meth:`ItemKNN.blocks` bounds) and keeps their
   top-``k`` neighbours (:meth:`ItemKNN.neighbour_block`); the driver stacks the blocks;
4. **EASE**: the listens of the capped song block are broadcast, each task computes a band of rows of their Gram
   matrix, the driver stacks the bands and solves (:meth:`EASE.solve`);
5. the three members form a :class:`~cf_service.core.vote.RankFusionVote` with the single-machine vote's weights
   (:data:`~cf_service.core.params.DEFAULT_PARAMS`, or ``--params``), saved as the ``DIR/<version>/`` +
   ``current.json`` artifact ``train`` writes;
6. optionally the top-N lists: the fitted vote is broadcast and each task writes the
   :mod:`cf_service.core.precompute` lines of a chunk of users (then of songs), the same code as ``precompute``.

Item neighbourhood, EASE and the lists therefore equal the single-machine ones; the ALS factors are Spark's.
Executors import cf_service (on ``local[N]`` they run this interpreter; on a cluster ship the package, e.g. with
``--py-files`` or the image of ``deploy/spark``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cf_service.core.artifacts import save_version
from cf_service.core.members import ALS, EASE, ItemKNN, Member
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.vote import RankFusionVote
from cf_service.jobs.spark_als import (
    SparkALSParams,
    SparkTrainResult,
    _interactions,
    fit_als,
    job_session,
    lists_meta,
    read_indexed,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import SparkSession

Log = Callable[[str], None]
USERS_PER_TASK = 4096  # users whose lists one task writes
GRAM_ROWS = 512  # rows of EASE's Gram matrix one task computes


def vote_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """:data:`DEFAULT_PARAMS` with ``params`` (shaped like it, e.g. an evaluate JSON's ``params``) laid over."""
    merged: dict[str, Any] = {k: v for k, v in DEFAULT_PARAMS.items() if k != "members"}
    merged["members"] = {k: dict(v) for k, v in DEFAULT_PARAMS["members"].items()}
    for key, value in (params or {}).items():
        if key == "members":
            for name, p in value.items():
                merged["members"].setdefault(name, {}).update({k: v for k, v in p.items() if k != "class"})
        else:
            merged[key] = value
    return merged


def als_params(members: dict[str, dict[str, Any]]) -> SparkALSParams:
    """The Spark ALS settings of the vote's ALS member."""
    p = members["als"]
    return SparkALSParams(
        rank=int(p.get("factors", SparkALSParams.rank)),
        regularization=float(p.get("regularization", SparkALSParams.regularization)),
        alpha=float(p.get("alpha", SparkALSParams.alpha)),
        iterations=int(p.get("iterations", SparkALSParams.iterations)),
        seed=int(p.get("seed", SparkALSParams.seed)),
        transform=dict(p.get("transform", {"kind": "bm25", "k1": 1.2, "b": 0.75})),
    )


def _neighbour_task(params: dict[str, Any], inputs_bc: Any) -> Callable[[tuple[int, int]], tuple[int, Any]]:
    def run(bounds: tuple[int, int]) -> tuple[int, Any]:
        lo, hi = bounds
        return lo, ItemKNN(**params).neighbour_block(inputs_bc.value, lo, hi)

    return run


def _gram_task(capped_bc: Any) -> Callable[[tuple[int, int]], tuple[int, np.ndarray]]:
    def run(bounds: tuple[int, int]) -> tuple[int, np.ndarray]:
        xc, xct = capped_bc.value
        lo, hi = bounds
        return lo, np.asarray((xct[lo:hi] @ xc).toarray(), dtype=np.float32)

    return run


def _lines(vote_bc: Any, n: int, kind: str) -> Callable[[tuple[int, int]], Iterator[str]]:
    """A task writing the precompute lines of the users (``kind="user"``) or songs of a range of inner ids."""

    def run(bounds: tuple[int, int]) -> Iterator[str]:
        from cf_service.core.precompute import song_lists, user_lists

        vote = vote_bc.value
        recs = (
            user_lists(vote, n, np.arange(*bounds, dtype=np.int64))
            if kind == "user"
            else song_lists(vote, n, range(*bounds))
        )
        for rec in recs:
            yield json.dumps(rec)

    return run


def ranges(total: int, step: int) -> list[tuple[int, int]]:
    return [(lo, min(total, lo + step)) for lo in range(0, total, step)]


def run_vote(
    listens: Sequence[str],
    model_dir: str | Path,
    *,
    params: dict[str, Any] | None = None,
    als: SparkALSParams | None = None,
    lists: str | None = None,
    n_user: int = 100,
    n_song: int = 50,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    on_error: str = "reject",
    spark: SparkSession | None = None,
    log: Log | None = None,
) -> SparkTrainResult:
    """Train the vote on ``listens`` (paths or URIs), write ``model_dir/<version>/`` and optionally the lists.

    Args:
        params: the vote's hyper-parameters shaped like :data:`DEFAULT_PARAMS` (defaults when None).
        als: Spark ALS settings overriding the ALS member's (``regParam``, blocks...).
        lists, n_user, n_song, master, conf, on_error, spark: as :func:`cf_service.jobs.spark_als.run`.
    """
    p = vote_params(params)
    a = als or als_params(p["members"])
    say: Log = log or (lambda _msg: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with job_session(spark, master, conf, "cf-vote") as session:
        sc = session.sparkContext
        seconds["start"] = time.perf_counter() - t0

        t = time.perf_counter()
        indexed, users, songs, n_listens = read_indexed(session, listens, on_error)
        inter = _interactions(indexed, users, songs)
        seconds["read_index"] = time.perf_counter() - t
        say(f"{n_listens} listens: {len(users)} users, {len(songs)} songs")

        t = time.perf_counter()
        fitted = fit_als(session, indexed, len(users), len(songs), int(n_listens), a)
        indexed.unpersist()
        mean_len = n_listens / max(1, len(users))
        member_als = ALS(**{**p["members"]["als"], "factors": a.rank, "regularization": fitted.reg_param * mean_len})
        member_als.attach(inter)
        member_als.user_factors, member_als.item_factors = fitted.user_factors, fitted.item_factors
        seconds["als"] = time.perf_counter() - t
        say(f"ALS fitted in {seconds['als']:.1f}s")

        t = time.perf_counter()
        knn = ItemKNN(**p["members"]["itemknn"])
        knn.attach(inter)
        assert knn.X is not None
        inputs_bc = sc.broadcast(knn.inputs(knn.X))
        blocks = knn.blocks(knn.X)
        task = _neighbour_task(dict(p["members"]["itemknn"]), inputs_bc)
        parts = sc.parallelize(blocks, len(blocks)).map(task).collect()
        knn.set_neighbours([block for _, block in sorted(parts, key=lambda x: x[0])])
        inputs_bc.destroy()
        seconds["itemknn"] = time.perf_counter() - t
        say(f"item neighbourhood: {len(blocks)} blocks in {seconds['itemknn']:.1f}s")

        t = time.perf_counter()
        ease = EASE(**p["members"]["ease"])
        ease.attach(inter)
        assert ease.X is not None
        xc = ease.capped(ease.X)
        capped_bc = sc.broadcast((xc, xc.T.tocsr()))
        bands = ranges(xc.shape[1], GRAM_ROWS)
        rows = sc.parallelize(bands, max(1, len(bands))).map(_gram_task(capped_bc)).collect()
        capped_bc.destroy()
        gram = np.zeros((xc.shape[1], xc.shape[1]), np.float32)
        for lo, band in rows:
            gram[lo : lo + band.shape[0]] = band
        ease.solve(gram, ease.X)
        seconds["ease"] = time.perf_counter() - t
        say(f"EASE: Gram of {xc.shape[1]} songs in {len(bands)} bands, solved in {seconds['ease']:.1f}s")

        t = time.perf_counter()
        members: dict[str, Member] = {"itemknn": knn, "ease": ease, "als": member_als}
        weights = {k: float(v) for k, v in p["weights"].items() if k in members}
        vote = RankFusionVote(members, weights, float(p["rrf_k"]), int(p.get("depth", 500)))
        vote.attach(inter)
        vote.fit_seconds = seconds["als"] + seconds["itemknn"] + seconds["ease"]
        path = save_version(
            vote,
            model_dir,
            manifest={
                "trainer": "spark",
                "source": [str(x) for x in listens],
                "member_fit_seconds": {k: round(seconds[k], 3) for k in ("itemknn", "ease", "als")},
                "spark": {
                    "version": session.version,
                    "master": sc.master,
                    "regParam": fitted.reg_param,
                    "weights": fitted.weights,
                    "members": ["itemknn", "ease", "als"],
                },
            },
        )
        seconds["save"] = time.perf_counter() - t
        version = path.name
        say(f"wrote {path}")

        if lists:
            t = time.perf_counter()
            write_vote_lists(session, vote, lists, lists_meta(path, n_user, n_song), n_user, n_song)
            seconds["lists"] = time.perf_counter() - t
            say(f"wrote lists to {lists} in {seconds['lists']:.1f}s")
        seconds["total"] = time.perf_counter() - t0
        return SparkTrainResult(
            version=version,
            path=str(path),
            lists=lists,
            n_users=len(users),
            n_songs=len(songs),
            n_listens=int(n_listens),
            reg_param=float(fitted.reg_param),
            seconds={k: round(v, 2) for k, v in seconds.items()},
            spark_version=session.version,
        )


def write_vote_lists(
    spark: SparkSession, vote: RankFusionVote, out: str, meta: dict[str, Any], n_user: int, n_song: int
) -> None:
    """The precompute-format JSONL lines of the whole vote under the folder ``out``, written by the executors
    (the meta line alone in the first part file, then users, then songs)."""
    from pyspark.sql.types import StringType, StructField, StructType

    sc = spark.sparkContext
    inter = vote.interactions
    vote_bc = sc.broadcast(vote)
    schema = StructType([StructField("value", StringType())])
    user_chunks = ranges(inter.n_users, USERS_PER_TASK)
    song_chunks = ranges(inter.n_songs, 8 * USERS_PER_TASK)
    rdds = [sc.parallelize([json.dumps(meta)], 1)]
    rdds.append(sc.parallelize(user_chunks, max(1, len(user_chunks))).flatMap(_lines(vote_bc, n_user, "user")))
    if n_song > 0:
        rdds.append(sc.parallelize(song_chunks, max(1, len(song_chunks))).flatMap(_lines(vote_bc, n_song, "song")))
    frames = [spark.createDataFrame(r.map(lambda line: (line,)), schema) for r in rdds]
    frame = frames[0]
    for part in frames[1:]:
        frame = frame.union(part)
    frame.write.mode("overwrite").text(out)
    vote_bc.destroy()
