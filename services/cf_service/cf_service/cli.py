"""Command line of cf_service: ``split``, ``evaluate``, ``train``, ``precompute``, ``spark-train``.

``python -m cf_service <command> --help`` for the options of each.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("cf_service")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _cmd_split(args: argparse.Namespace) -> int:
    from cf_service.core.data import read_frame, write_frame
    from cf_service.core.split import protocol_split

    result = protocol_split(
        read_frame(args.input), seed=args.seed, test_frac=args.test_frac, holdout_frac=args.holdout_frac
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_frame(result.train, out / "TRAIN.tsv")
    write_frame(result.test, out / "TEST.tsv")
    (out / "split_stats.json").write_text(json.dumps(result.stats, indent=1))
    _say(json.dumps(result.stats))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from cf_service.core.evaluate import evaluate

    params: dict[str, Any] | None = None
    if args.params:
        loaded = json.loads(Path(args.params).read_text())
        params = loaded.get("params", loaded)
    tune_kwargs: dict[str, Any] = {}
    if args.max_items is not None:
        tune_kwargs["max_items"] = args.max_items
    start = time.perf_counter()
    result = evaluate(
        args.train,
        args.test,
        seed=args.seed,
        do_tune=not args.no_tune,
        params=params,
        tune_kwargs=tune_kwargs,
        seed_vote=not args.no_seed_vote,
        log=None if args.quiet else _say,
    )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    if args.report:
        from cf_service.core.report import write_report

        write_report(result, args.report)
    if not args.quiet:
        for name, m in result["models"].items():
            _say(
                f"{name:16s} ndcg@10={m['ndcg@10']:.4f} recall@20={m['recall@20']:.4f} "
                f"recall@50={m['recall@50']:.4f} map@500={m['map@500']:.4f} fit={m['fit_s']:.1f}s score={m['score_s']:.2f}s"
            )
        _say(f"total {time.perf_counter() - start:.1f}s -> {out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from cf_service.core.training import train

    params = None
    if args.params:
        loaded = json.loads(Path(args.params).read_text())
        params = loaded.get("params", loaded)
    result = train(
        args.listens,
        args.out,
        params=params,
        tune=args.tune,
        progress=not args.quiet,
        log=None if args.quiet else _say,
        keep=args.keep,
    )
    print(json.dumps({"version": result.version, "path": str(result.path), "seconds": round(result.seconds, 2)}))
    return 0


def _cmd_precompute(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cf_service.core.artifacts import load_current
    from cf_service.core.precompute import precompute

    start = time.perf_counter()
    vote = load_current(args.model_dir)
    users = None
    if args.users_file:
        from cf_service.core.precompute import active_users

        users = active_users(vote, read_ids(args.users_file))
    total = vote.interactions.n_users if users is None else len(users)
    with tqdm(total=total, desc="precompute", unit="user", disable=args.quiet or None) as bar:
        counts = precompute(
            vote, args.out, n_user=args.n_user, n_song=args.n_song, users=users, workers=args.workers,
            progress=bar.update,
        )  # fmt: skip
    print(json.dumps({**counts, "out": args.out, "seconds": round(time.perf_counter() - start, 2)}))
    return 0


def read_ids(path: str) -> list[str]:
    """One raw id per line (blank lines and ``#`` comments skipped)."""
    lines = Path(path).read_text().splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def _cmd_spark_train(args: argparse.Namespace) -> int:
    from cf_service.jobs.spark_als import SMALL_CONF, SparkALSParams, parse_conf, run

    conf = {**(SMALL_CONF if args.small else {}), **parse_conf(args.conf or [])}
    common: dict[str, Any] = {
        "lists": args.lists,
        "n_user": args.top_n,
        "n_song": args.n_song,
        "master": args.master,
        "conf": conf,
        "on_error": args.on_error,
        "log": None if args.quiet else _say,
    }
    vote_params: dict[str, Any] | None = None
    if args.params:
        loaded = json.loads(Path(args.params).read_text())
        vote_params = loaded.get("params", loaded)
    if args.als_only:
        params = SparkALSParams()
    else:
        from cf_service.jobs.spark_vote import als_params
        from cf_service.jobs.spark_vote import vote_params as merged_params

        params = als_params(merged_params(vote_params)["members"])
    for name in ("rank", "regularization", "reg_param", "alpha", "iterations", "seed", "blocks"):
        value = getattr(args, name)
        if value is not None:
            setattr(params, name, value)
    if args.transform:
        params.transform = json.loads(args.transform)
    if args.als_only:
        result = run(args.listens, args.out, params=params, **common)
    else:
        from cf_service.jobs.spark_vote import run_vote

        result = run_vote(args.listens, args.out, params=vote_params, als=params, **common)
    print(json.dumps(result.to_dict()))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cf_service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("split", help="Mult-VAE protocol train/test split of a listens TSV")
    p.add_argument("--input", required=True, help="listens TSV (user_id, song_id, play_count)")
    p.add_argument("--out", required=True, help="output folder for TRAIN.tsv, TEST.tsv, split_stats.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-frac", type=float, default=0.2)
    p.add_argument("--holdout-frac", type=float, default=0.2)
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("evaluate", help="tune on TRAIN, report ranking metrics on TEST")
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--json", required=True, help="metrics JSON output")
    p.add_argument("--report", help="optional Markdown report (a PNG chart is written beside it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation carve of TRAIN")
    p.add_argument("--no-tune", action="store_true", help="use --params or the defaults instead of tuning")
    p.add_argument("--params", help="JSON with hyper-parameters (an evaluate JSON works)")
    p.add_argument("--max-items", type=int, default=None, help="EASE catalogue cap (default 8000)")
    p.add_argument("--no-seed-vote", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("train", help="fit the vote and publish DIR/<version> + DIR/current.json")
    p.add_argument("--listens", required=True, action="append", help="listens TSV; repeat for several files")
    p.add_argument("--out", required=True, help="model directory")
    p.add_argument("--params", help="JSON with hyper-parameters (an evaluate JSON works)")
    p.add_argument("--tune", action="store_true", help="re-tune on a validation carve of the listens first")
    p.add_argument(
        "--keep", type=_positive, default=3, help="model versions kept in DIR, the new one included (default 3)"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "spark-train",
        help="the vote on Apache Spark -> DIR/<version> (the artifact `train` writes) + top-N lists",
        description="Train the whole vote on Spark (needs requirements/spark.txt and Java 17+): pyspark.ml ALS, the "
        "item neighbourhood's co-occurrence blocks and EASE's Gram matrix on the executors, fused with the "
        "single-machine vote's weights. --als-only trains the ALS member alone. Defaults are the single-machine "
        "hyper-parameters.",
    )
    p.add_argument("--als-only", action="store_true", help="the ALS member alone (a one-member vote)")
    p.add_argument("--params", help="JSON with the vote's hyper-parameters (an evaluate JSON works)")
    p.add_argument("--listens", required=True, action="append", help="TSV path or URI (s3a://...); repeatable")
    p.add_argument("--out", required=True, help="model directory (DIR/<version>/ + DIR/current.json)")
    p.add_argument("--lists", help="folder (path or URI) for the JSONL top-N lists (precompute format)")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: the one spark-submit sets, else local[*])")
    p.add_argument("--conf", action="append", metavar="KEY=VALUE", help="Spark setting; repeatable")
    p.add_argument("--small", action="store_true", help="test-size settings: 4 shuffle partitions, 1g driver, no UI")
    p.add_argument("--rank", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--alpha", type=float, default=None)
    p.add_argument("--regularization", type=float, default=None, help="single-machine L2 penalty")
    p.add_argument(
        "--reg-param", type=float, default=None, help="Spark regParam (default: regularization / mean songs per user)"
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--blocks", type=int, default=None, help="ALS user and item blocks")
    p.add_argument("--transform", help='JSON, e.g. \'{"kind": "bm25", "k1": 1.2, "b": 0.75}\'')
    p.add_argument("--top-n", type=int, default=100, help="list length per user")
    p.add_argument("--n-song", type=int, default=50, help="similar songs per song (0: none)")
    p.add_argument("--on-error", choices=("reject", "skip"), default="reject", help="malformed lines")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_spark_train)

    p = sub.add_parser(
        "precompute", help="top-100 per user (every user, or --users-file) + 50 neighbours per song as JSONL"
    )
    p.add_argument("--model-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n-user", type=int, default=100)
    p.add_argument("--n-song", type=int, default=50)
    p.add_argument(
        "--users-file",
        help="only these training users (one id per line: e.g. the listeners active lately); the others are scored "
        "on demand by cf_service and cached by the gateway",
    )
    p.add_argument("--workers", type=_positive, default=None, help="processes scoring users (default: CPU count)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_precompute)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
