"""``python -m cf_service serve`` runs the API; other commands live in :mod:`cf_service.cli`."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        import argparse

        from musicrec_common.web import serve

        from cf_service.app.main import create_app
        from cf_service.app.settings import get_settings

        parser = argparse.ArgumentParser(prog="python -m cf_service serve")
        parser.add_argument("--port", type=int, default=None, help="default: CF_PORT")
        args = parser.parse_args(argv[1:])
        settings = get_settings()
        serve(create_app, settings, args.port)
        return 0
    if argv[:1] == ["publish"]:
        import argparse
        import json

        from cf_service.app.publish import publish
        from cf_service.app.settings import get_settings

        parser = argparse.ArgumentParser(
            prog="python -m cf_service publish", description="write the current model's precomputed lists into Redis"
        )
        parser.add_argument("--redis-url", required=True)
        parser.add_argument("--model-dir", default=None, help="default: CF_MODEL_DIR")
        parser.add_argument(
            "--from-file",
            default=None,
            help="load lists from a precompute JSONL file or a `spark-train --lists` folder instead of the model",
        )
        parser.add_argument(
            "--users-file",
            default=None,
            help="only these training users' lists (one id per line, e.g. the listeners active lately); the others "
            "are scored on demand",
        )
        args = parser.parse_args(argv[1:])
        if args.from_file:
            from cf_service.app.publish import publish_file

            print(json.dumps(publish_file(args.from_file, args.redis_url)))
            return 0
        model_dir = Path(args.model_dir) if args.model_dir else get_settings().effective_model_dir
        from cf_service.cli import read_ids

        only = read_ids(args.users_file) if args.users_file else None
        print(json.dumps(publish(model_dir, args.redis_url, users_only=only)))
        return 0
    from cf_service.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
