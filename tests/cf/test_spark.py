"""Spark scale-out training: the job on local[2], its artifact served by the normal code, its lists in Redis.

One session-scoped ``python -m cf_service spark-train`` run on the shipped
sample's TRAIN split (master ``local[2]``, 4 shuffle partitions, 1 GB driver,
no UI) is shared by every test that needs Spark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from cf_service.app.publish import list_files, publish_file, read_meta
from cf_service.core import ALS, evaluate, load_current, read_interactions
from cf_service.core.artifacts import current_version
from cf_service.core.data import Interactions, read_frame
from cf_service.core.factors import save_als_version
from cf_service.core.members import EASE, ItemKNN, Member, load_member
from cf_service.core.metrics import DEPTH, all_metrics
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.precompute import precompute
from cf_service.core.transforms import PreferenceTransform
from cf_service.core.vote import build_vote
from musicrec_tools.procs import free_port, python_module, start_redis

REPO = Path(__file__).resolve().parents[2]
SPLIT = REPO / "data" / "msd" / "split_10000_head"
TRAIN, TEST = SPLIT / "TRAIN.tsv", SPLIT / "TEST.tsv"


def spark_train(out: Path, *extra: str) -> dict[str, Any]:
    """``python -m cf_service spark-train`` on the sample's TRAIN, exactly as a user runs it."""
    argv = python_module(
        "cf_service", "spark-train",
        "--listens", str(TRAIN),
        "--out", str(out / "models"),
        "--lists", str(out / "lists"),
        "--master", "local[2]",
        "--small",  # spark.sql.shuffle.partitions=4, driver 1g, UI off
        "--blocks", "2",  # two ALS blocks per side: one per core on a tiny matrix
        *extra,
    )  # fmt: skip
    env = dict(os.environ) | {"OPENBLAS_NUM_THREADS": "1", "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"spark-train {' '.join(extra)} failed:\n{proc.stderr[-4000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"result": result, "models": out / "models", "lists": out / "lists"}


@pytest.fixture(scope="session")
def spark_job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The ALS member alone on Spark (``--als-only``), run once."""
    return spark_train(tmp_path_factory.mktemp("spark"), "--als-only", "--quiet")


@pytest.fixture(scope="session")
def spark_vote_job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole vote on Spark (the default job), run once."""
    return spark_train(tmp_path_factory.mktemp("spark_vote"))


@pytest.fixture(scope="session")
def train_inter() -> Interactions:
    return read_interactions(TRAIN)


def ndcg_on_test(model: Member, inter: Interactions) -> tuple[float, int]:
    """NDCG@10 on the sample's TEST with the evaluation protocol's own pieces; (value, users evaluated)."""
    users, relevant, _info = evaluate.test_relevance(inter, read_frame(TEST))
    idx, vals = model.top_n_users(users, DEPTH)
    return all_metrics(np.where(np.isfinite(vals), idx, -1), relevant)["ndcg@10"], len(users)


def test_spark_ndcg_is_within_10_percent_of_the_single_machine_member(
    spark_job: dict[str, Any], train_inter: Interactions, record_property: Any
) -> None:
    single = ALS(**DEFAULT_PARAMS["members"]["als"]).fit(train_inter)
    single_ndcg, n_single = ndcg_on_test(single, train_inter)
    # The Spark model as cf_service serves it: loaded from current.json, ranked by the vote.
    vote = load_current(spark_job["models"])
    spark_ndcg, n_spark = ndcg_on_test(vote, vote._require())
    record_property("ndcg_single", round(single_ndcg, 4))
    record_property("ndcg_spark", round(spark_ndcg, 4))
    print(f"NDCG@10 on TEST: single-machine ALS {single_ndcg:.4f}, Spark ALS {spark_ndcg:.4f} ({n_spark} users)")
    assert n_spark == n_single > 250  # the same test users on both sides
    assert single_ndcg > 0.05  # a real model, not noise (popularity scores ~0.03 here)
    assert abs(spark_ndcg - single_ndcg) <= 0.10 * single_ndcg


def test_the_vote_on_spark_ranks_within_5_percent_of_the_single_machine_vote(
    spark_vote_job: dict[str, Any], train_inter: Interactions, record_property: Any
) -> None:
    single = build_vote().fit(train_inter)
    single_ndcg, n_single = ndcg_on_test(single, train_inter)
    vote = load_current(spark_vote_job["models"])
    spark_ndcg, n_spark = ndcg_on_test(vote, vote._require())
    record_property("ndcg_single_vote", round(single_ndcg, 4))
    record_property("ndcg_spark_vote", round(spark_ndcg, 4))
    print(f"NDCG@10 on TEST: single-machine vote {single_ndcg:.4f}, vote on Spark {spark_ndcg:.4f} ({n_spark} users)")
    assert n_spark == n_single > 250
    assert list(vote.members) == ["itemknn", "ease", "als"] and vote.weights == single.weights
    assert vote.rrf_k == single.rrf_k
    assert single_ndcg > 0.10  # the vote, well above any member alone on this split
    assert abs(spark_ndcg - single_ndcg) <= 0.05 * single_ndcg
    # The neighbourhood and EASE came from the executors' blocks: the single machine's, under the raw ids (Spark
    # numbers songs alphabetically, the loader in file order).
    inter = vote._require()
    to_single = np.asarray([train_inter.song_index[str(song)] for song in inter.songs])
    knn, knn_single = vote.members["itemknn"], single.members["itemknn"]
    assert isinstance(knn, ItemKNN) and isinstance(knn_single, ItemKNN)
    assert knn.N is not None and knn_single.N is not None
    assert knn.N.nnz == knn_single.N.nnz
    for j in range(0, inter.n_songs, 37):  # each song's neighbour weights (songs tied at the k-th may differ)
        mine, theirs = knn.N[j], knn_single.N[int(to_single[j])]
        np.testing.assert_allclose(np.sort(mine.data), np.sort(theirs.data), rtol=1e-5)
        top = mine.data > np.sort(mine.data)[-min(len(mine.data), knn.k)] if mine.nnz else mine.data > 0
        assert set(to_single[mine.indices[top]].tolist()) <= set(theirs.indices.tolist())
    ease, ease_single = vote.members["ease"], single.members["ease"]
    assert isinstance(ease, EASE) and isinstance(ease_single, EASE)
    assert ease.B is not None and ease_single.B is not None
    assert sorted(to_single[ease.items].tolist()) == ease_single.items.tolist()
    at = ease_single.pos[to_single[ease.items]]  # row of each Spark song in the single machine's B
    np.testing.assert_allclose(ease.B, ease_single.B[np.ix_(at, at)], atol=1e-4)


def test_the_vote_on_spark_writes_the_vote_lists_the_served_model_gives(spark_vote_job: dict[str, Any]) -> None:
    meta, users, songs = read_lists(spark_vote_job["lists"])
    vote = load_current(spark_vote_job["models"])
    inter = vote._require()
    manifest = json.loads((Path(spark_vote_job["models"]) / meta["version"] / "manifest.json").read_text())
    assert manifest["trainer"] == "spark" and manifest["spark"]["members"] == ["itemknn", "ease", "als"]
    assert meta["version"] == vote.meta["version"] and len(users) == inter.n_users and len(songs) == inter.n_songs
    sample = [str(inter.users[u]) for u in range(0, inter.n_users, 11)]
    for user, rec in zip(sample, vote.recommend(sample, 100), strict=True):
        scores = [it.score for it in rec.items]
        np.testing.assert_allclose(users[user]["scores"], scores, atol=1e-6)  # the file rounds to 6 decimals
        above = [it.song_id for it in rec.items if it.score > scores[-1] + 2e-6]  # ties at the cut may swap
        assert users[user]["songs"][: len(above)] == above and len(above) >= 90
        assert set(users[user]["member_ranks"]) == {"itemknn", "ease", "als"}
    for song in [str(inter.songs[j]) for j in range(0, inter.n_songs, 97)]:
        expected = vote.members["itemknn"].similar_items(song, 50)
        np.testing.assert_allclose(songs[song]["scores"], [it.score for it in expected.items], atol=1e-6)
        cut = expected.items[-1].score if len(expected.items) == 50 else -1.0  # songs tied at the cut may differ
        above = [it.song_id for it in expected.items if it.score > cut + 2e-6]
        assert songs[song]["similar"][: len(above)] == above


def test_spark_artifact_is_the_normal_format_and_serves(spark_job: dict[str, Any], train_inter: Interactions) -> None:
    models: Path = spark_job["models"]
    version = current_version(models)
    assert version == spark_job["result"]["version"]
    folder = models / version
    for name in ("vote.json", "manifest.json", "interactions.npz", "members/als/meta.json", "members/als/model.npz"):
        assert (folder / name).is_file(), name
    with np.load(folder / "members" / "als" / "model.npz", allow_pickle=False) as z:
        assert z["user_factors"].shape == (train_inter.n_users, DEFAULT_PARAMS["members"]["als"]["factors"])
        assert z["item_factors"].shape == (train_inter.n_songs, DEFAULT_PARAMS["members"]["als"]["factors"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["trainer"] == "spark" and manifest["n_listens"] == train_inter.nnz

    with np.load(folder / "interactions.npz", allow_pickle=False) as z:
        member = load_member(folder / "members" / "als", Interactions.from_arrays(z))
    assert isinstance(member, ALS) and member.get_params()["transform"] == DEFAULT_PARAMS["members"]["als"]["transform"]
    vote = load_current(models)
    inter = vote._require()
    assert (inter.n_users, inter.n_songs, inter.nnz) == (train_inter.n_users, train_inter.n_songs, train_inter.nnz)
    # Same play counts under the raw ids, whatever the inner order.
    user = str(train_inter.users[7])
    row = train_inter.counts[train_inter.user_index[user]]
    history = {str(train_inter.songs[j]): float(c) for j, c in zip(row.indices, row.data, strict=True)}
    mine = inter.counts[inter.user_index[user]]
    assert {str(inter.songs[j]): float(c) for j, c in zip(mine.indices, mine.data, strict=True)} == history

    recs = vote.recommend(user, n=10)
    assert recs.fallback is None and len(recs.items) == 10
    assert not set(recs.song_ids) & set(history)
    assert all(it.member_ranks == {"als": it.rank} for it in recs.items)
    folded = vote.recommend_for_history(list(history.items()), n=10)  # fold-in of the same history
    assert folded.fallback is None and len(folded.items) == 10 and not set(folded.song_ids) & set(history)
    # Fold-in solves the same normal equations: most of its list agrees with the learned user vector's.
    assert len(set(folded.song_ids[:10]) & set(vote.recommend(user, n=30).song_ids)) >= 5
    similar = vote.similar_items(recs.song_ids[0], n=10)
    assert similar.fallback is None and len(similar.items) == 10


def test_spark_weights_are_the_single_machine_transform(spark_job: dict[str, Any], train_inter: Interactions) -> None:
    """The BM25 weights computed in Spark equal PreferenceTransform's on the same counts."""
    folder = Path(spark_job["models"]) / spark_job["result"]["version"]
    stats = json.loads((folder / "manifest.json").read_text())["spark"]["weights"]
    t = PreferenceTransform.from_params(DEFAULT_PARAMS["members"]["als"]["transform"]).fit(train_inter.counts)
    w = t.apply(train_inter.counts).data.astype(np.float64)
    assert stats["count"] == len(w)
    assert stats["sum"] == pytest.approx(w.sum(), rel=1e-5)
    assert stats["min"] == pytest.approx(w.min(), rel=1e-5)
    assert stats["max"] == pytest.approx(w.max(), rel=1e-5)
    alpha = float(DEFAULT_PARAMS["members"]["als"]["alpha"])
    assert stats["clamped"] == int((alpha * w <= 1.0).sum())  # confidence <= 1: kept as played, confidence ~1


def read_lists(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    files = list_files(folder)
    meta = read_meta(files)
    users: dict[str, dict[str, Any]] = {}
    songs: dict[str, dict[str, Any]] = {}
    for f in files:
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if rec["type"] == "user":
                users[rec["user_id"]] = rec
            elif rec["type"] == "song":
                songs[rec["song_id"]] = rec
    return meta, users, songs


def test_spark_lists_cover_every_user_and_match_the_served_model(spark_job: dict[str, Any]) -> None:
    meta, users, songs = read_lists(spark_job["lists"])
    vote = load_current(spark_job["models"])
    inter = vote._require()
    assert meta["version"] == vote.meta["version"] and meta["n_user"] == 100
    assert len(users) == inter.n_users and len(songs) == inter.n_songs
    als = vote.members["als"]
    sample = np.arange(0, inter.n_users, 7)
    idx, vals = als.top_n_users(sample, 100)
    overlap = []
    for r, u in enumerate(sample.tolist()):
        rec = users[str(inter.users[u])]
        played = {str(inter.songs[j]) for j in inter.counts[u].indices}
        assert len(rec["songs"]) == 100 and not set(rec["songs"]) & played
        assert rec["scores"] == sorted(rec["scores"], reverse=True)
        assert rec["member_ranks"] == {"als": list(range(1, 101))}
        # Executors score with the same float32 product: equal scores rank for rank (ties may swap).
        np.testing.assert_allclose(rec["scores"], vals[r], atol=2e-5)
        overlap.append(len(set(rec["songs"]) & {str(inter.songs[j]) for j in idx[r]}) / 100)
    assert np.mean(overlap) > 0.99
    song = str(inter.songs[0])
    assert len(songs[song]["similar"]) == 50 and song not in songs[song]["similar"]
    expected = vote.members["als"].similar_items(song, 50)
    np.testing.assert_allclose(songs[song]["scores"], [it.score for it in expected.items], atol=2e-5)


def test_publish_from_file_loads_the_spark_lists_into_redis(spark_job: dict[str, Any], tmp_path: Path) -> None:
    port = free_port()
    server = start_redis(port, tmp_path / "redis", tmp_path / "redis.log")
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        client.set("cf:version", "old")
        client.set("cf:old:recs:someone", "[]")
        proc = subprocess.run(
            python_module("cf_service", "publish", "--redis-url", url, "--from-file", str(spark_job["lists"])),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        meta, users, songs = read_lists(spark_job["lists"])
        version = meta["version"]
        assert summary["version"] == version and summary["removed_previous"] == 1
        assert summary["users"] == len(users) and summary["songs"] == len(songs)
        assert client.get("cf:version") == version.encode() and client.get("cf:old:recs:someone") is None
        assert sum(1 for _ in client.scan_iter(match=f"cf:{version}:recs:*", count=1000)) == len(users)
        user, rec = next(iter(users.items()))
        items = json.loads(client.get(f"cf:{version}:recs:{user}") or b"null")
        # The shape `publish` writes from a live model (what the gateway reads).
        assert [it["song_id"] for it in items] == rec["songs"]
        assert items[0] == {"song_id": rec["songs"][0], "score": rec["scores"][0], "rank": 1, "because": [],
                            "member_ranks": {"als": 1}}  # fmt: skip
        song, srec = next(iter(songs.items()))
        similar = json.loads(client.get(f"cf:{version}:similar:{song}") or b"null")
        assert [it["song_id"] for it in similar] == srec["similar"] and similar[0]["rank"] == 1
    finally:
        server.stop()


def test_publish_from_file_also_loads_single_machine_precompute(toy: Any, tmp_path: Path) -> None:
    vote = build_vote()
    vote.fit(toy)
    vote.meta["version"] = "toy-1"
    precompute(vote, tmp_path / "lists.jsonl", n_user=5, n_song=3)
    port = free_port()
    server = start_redis(port, tmp_path / "redis", tmp_path / "redis.log")
    try:
        url = f"redis://127.0.0.1:{port}/0"
        summary = publish_file(tmp_path / "lists.jsonl", url, batch=3)
        client = redis.Redis.from_url(url)
        assert summary["users"] == 16 and summary["songs"] == 12 and client.get("cf:version") == b"toy-1"
        items = json.loads(client.get("cf:toy-1:recs:rock0") or b"null")
        expected = vote.recommend("rock0", n=5)
        assert [it["song_id"] for it in items] == expected.song_ids
        assert items[0]["song_id"] == "R5"  # the obvious next song of the rock block
        assert set(items[0]["member_ranks"]) == {"itemknn", "ease", "als"}
    finally:
        server.stop()


def test_external_factors_round_trip_through_the_artifact(train_inter: Interactions, tmp_path: Path) -> None:
    """save_als_version (what the Spark job calls) + load_current serve exactly the given factors."""
    params = {**DEFAULT_PARAMS["members"]["als"], "factors": 16, "iterations": 3}
    fitted = ALS(**params).fit(train_inter)
    assert fitted.user_factors is not None and fitted.item_factors is not None
    path = save_als_version(tmp_path, train_inter, fitted.user_factors, fitted.item_factors, params, fit_seconds=1.5)
    vote = load_current(tmp_path)
    assert vote.meta["version"] == path.name and list(vote.members) == ["als"]
    users = np.arange(0, train_inter.n_users, 50)
    got_i, got_v = vote.members["als"].top_n_users(users, 20)
    want_i, want_v = fitted.top_n_users(users, 20)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_v, want_v)
    with pytest.raises(ValueError, match="do not match"):
        save_als_version(tmp_path, train_inter, fitted.user_factors[:-1], fitted.item_factors, params)


def test_spark_submit_entry_point_runs_the_cli_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/spark/als_job.py (what spark-submit runs) hands its arguments to ``cf_service spark-train``."""
    import importlib.util

    import cf_service.cli

    spec = importlib.util.spec_from_file_location("als_job", REPO / "deploy" / "spark" / "als_job.py")
    assert spec is not None and spec.loader is not None
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(list(argv))
        return 0

    monkeypatch.setattr(cf_service.cli, "main", fake_main)
    assert job.main(["--listens", "s3a://bucket/triplets.txt", "--out", "/models"]) == 0
    assert seen == [["spark-train", "--listens", "s3a://bucket/triplets.txt", "--out", "/models"]]
    args = cf_service.cli.build_parser().parse_args(["spark-train", "--listens", "a", "--listens", "b", "--out", "o"])
    assert args.listens == ["a", "b"] and args.top_n == 100 and args.n_song == 50 and args.master is None
