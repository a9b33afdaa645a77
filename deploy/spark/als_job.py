"""spark-submit entry point of the scale-out training of the vote (same job as ``python -m cf_service spark-train``).

    spark-submit --master spark://HOST:7077 --driver-memory 8g \\
        deploy/spark/als_job.py --listens s3a://bucket/train_triplets.txt \\
        --out /models/cf --lists /models/cf-lists

Takes the options of ``python -m cf_service spark-train`` (``--help``); the
master and resources come from spark-submit. The driver needs cf_service
importable (``pip install -e services/common -e services/cf_service``, or run
from a checkout: this script then adds the two package folders to
``sys.path``); so do the executors (with ``--als-only`` they need only numpy and
pyarrow). See deploy/spark/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _importable() -> None:
    try:
        import cf_service  # noqa: F401
    except ImportError:  # running from a checkout without the packages installed
        repo = Path(__file__).resolve().parents[2]
        sys.path[:0] = [str(repo / "services" / "cf_service"), str(repo / "services" / "common")]


def main(argv: list[str] | None = None) -> int:
    _importable()
    from cf_service.cli import main as cli_main

    return cli_main(["spark-train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
