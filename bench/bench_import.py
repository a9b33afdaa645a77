"""History import at size: a ~100 MB Last.fm-format export, its speed and the process's peak memory.

    python bench/bench_import.py [--mb 100] [--no-write]

The export is generated (labelled as such): rows ``artist, album, title, date`` drawn from the real titled
songs of ``data/msd/songs.tsv`` (Zipf-like popularity, one listen every 3 minutes going back in time), 5 %
of them songs that are not in the catalog. It is imported for one user into a fresh SQLite database that
holds the shipped MSD metadata, through the same code as ``POST /api/me/imports`` (parse, match, record, one
transaction). Peak memory is the process's maximum RSS (``getrusage``), read before and after the import.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SONGS = REPO / "data" / "msd" / "songs.tsv"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_export(path: Path, target_mb: float, seed: int = 0) -> int:
    rng = random.Random(seed)
    songs = []
    with open(SONGS, encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if rec["title"] and rec["artist"]:
                songs.append((rec["artist"], rec["release"] or "", rec["title"]))
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(songs))]
    when = dt.datetime(2024, 1, 1)
    rows = 0
    target = int(target_mb * 1024 * 1024)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        while out.tell() < target:
            for artist, album, title in rng.choices(songs, weights, k=10_000):
                if rng.random() < 0.05:
                    artist, title = f"Unknown Act {rng.randrange(5000)}", f"Lost Song {rng.randrange(50000)}"
                writer.writerow([artist, album, title, when.strftime("%d %b %Y %H:%M")])
                when -= dt.timedelta(minutes=3)
                rows += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from gateway.core.history import read_export
    from gateway.db.history_import import catalog_index, import_history
    from gateway.db.importer import import_data
    from gateway.db.migrate import upgrade
    from gateway.db.models import User
    from gateway.db.session import make_engine
    from sqlalchemy.orm import Session

    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        export = Path(tmp) / "scrobbles.csv"
        rows = write_export(export, args.mb)
        size_mb = export.stat().st_size / 1024 / 1024
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        import_data(engine, songs_path=SONGS, listens_paths=[])
        with Session(engine) as session:
            user = User(username="bench", is_admin=False)
            session.add(user)
            session.commit()
            user_id = user.id
            index_start = time.perf_counter()
            index = catalog_index(session)
            index_s = time.perf_counter() - index_start
            before = peak_mb()
            start = time.perf_counter()
            with open(export, "rb") as raw:
                fmt, listens = read_export(io.BufferedReader(raw))  # type: ignore[arg-type]
                report = import_history(session, user_id, fmt, listens, index)
                session.commit()
            seconds = time.perf_counter() - start
            after = peak_mb()
            again_start = time.perf_counter()
            with open(export, "rb") as raw:
                fmt, listens = read_export(io.BufferedReader(raw))  # type: ignore[arg-type]
                second = import_history(session, user_id, fmt, listens, index)
                session.commit()
            again_s = time.perf_counter() - again_start
        engine.dispose()
    body = f"""
Generated export (synthetic listens of real MSD songs, 5 % songs not in the catalog): {size_mb:.1f} MB,
{rows:,} rows, imported for one user into SQLite holding the shipped MSD metadata (matching index of the catalog
built in {index_s:.1f} s, before the import).

| what | measured |
|---|---:|
| import (parse, match, record, one transaction) | {seconds:.1f} s ({rows / seconds:,.0f} listens/s, {size_mb / seconds:.2f} MB/s) |
| matched / unmatched | {report.matched:,} / {report.unmatched:,} |
| plays added | {report.added:,} |
| peak RSS of the process before / after the import | {before:.0f} MB / {after:.0f} MB |
| the same file again (adds {second.added}) | {again_s:.1f} s |
"""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results import publish

    publish("History import: a 100 MB export", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
