"""Peak memory and speed of the streaming Taste Profile reader on a generated file.

Generates a file with the Taste Profile's shape (40-hex user ids, 18-char song
ids, power-law song popularity and user activity), then reads it in a child
process and reports the child's peak RSS. The whole text is never in memory:
the reader keeps 12 bytes a row plus the id dictionaries plus one chunk.

    python bench/bench_loader.py --rows 10000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section


def generate(path: Path, rows: int, users: int, songs: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    user_ids = np.array([f"{x:040x}" for x in rng.integers(0, 2**63, size=users, dtype=np.int64)])
    song_ids = np.array([f"SO{x:016X}" for x in rng.integers(0, 2**63, size=songs, dtype=np.int64)])
    # Zipf-like popularity: rank r gets weight r^-0.9 (songs) and r^-0.6 (user activity).
    song_p = np.arange(1, songs + 1, dtype=np.float64) ** -0.9
    song_p /= song_p.sum()
    user_p = np.arange(1, users + 1, dtype=np.float64) ** -0.6
    user_p /= user_p.sum()
    with open(path, "w") as out:
        out.write("user_id\tsong_id\tplay_count\n")
        step = 1_000_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            u = np.sort(rng.choice(users, size=n, p=user_p))  # grouped by user, like the real file
            s = rng.choice(songs, size=n, p=song_p)
            c = np.minimum(rng.geometric(0.35, size=n), 5000)
            lines = np.char.add(
                np.char.add(np.char.add(user_ids[u], "\t"), np.char.add(song_ids[s], "\t")), c.astype(str)
            )
            out.write("\n".join(lines.tolist()))
            out.write("\n")


# ru_maxrss survives exec (Linux keeps the parent's high-water mark), so read VmHWM instead.
CHILD = """
import sys, time, json
from musicrec_common.tasteprofile import read_listens
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t = time.perf_counter()
l = read_listens(sys.argv[1], chunk_rows=int(sys.argv[2]))
print(json.dumps({"rows": len(l), "users": len(l.users), "songs": len(l.songs), "seconds": time.perf_counter() - t,
                  "peak_rss_mb": hwm()}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=211_000, help="10M/48M of the full file's 1,019,318 users")
    parser.add_argument("--songs", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--file", type=Path, default=Path("/tmp/taste_profile_bench.tsv"))
    args = parser.parse_args()
    import json

    if not args.file.exists() or args.file.stat().st_size == 0:
        t = time.perf_counter()
        generate(args.file, args.rows, args.users, args.songs)
        print(f"generated {args.file} in {time.perf_counter() - t:.0f}s")
    size_mb = args.file.stat().st_size / 2**20
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.file), str(args.chunk_rows)], capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout)
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import musicrec_common.tasteprofile; "
            "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status') "
            "if l.startswith('VmHWM:')][0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    base_mb = float(baseline.stdout)
    print(json.dumps(res | {"file_mb": size_mb, "import_baseline_mb": base_mb}, indent=2))
    per_row = (res["peak_rss_mb"] - base_mb) * 2**20 / res["rows"]
    body = f"""
| rows | distinct users | distinct songs | file size | read time | rows/s | peak RSS | RSS after imports (numpy, pandas) | per row above baseline |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| {res["rows"]:,} | {res["users"]:,} | {res["songs"]:,} | {size_mb:,.0f} MB | {res["seconds"]:.1f} s | {res["rows"] / res["seconds"]:,.0f} | {res["peak_rss_mb"]:,.0f} MB | {base_mb:,.0f} MB | {per_row:.0f} B |

Chunks of {args.chunk_rows:,} lines. Peak memory holds the int32 arrays (12 B a row), the id dictionaries and one
chunk of text: it does not grow with the file's size in text. Extrapolated to the full `train_triplets.txt`
(48,373,586 rows, 1,019,318 users, 384,546 songs): about {(res["peak_rss_mb"] - base_mb) / res["rows"] * 48_373_586 + base_mb:,.0f} MB if memory grew linearly in rows (an upper bound: the dictionaries grow with distinct ids, not rows).
"""
    write_section(
        "Taste Profile loader: peak memory on a 10 M-row file", f"python bench/bench_loader.py --rows {args.rows}", body
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
