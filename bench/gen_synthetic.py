"""Write a synthetic Taste-Profile-shaped listens file (see bench/synth.py).

    python bench/gen_synthetic.py --fraction 0.1 --out var/synthetic/listens_0.1.tsv [--seed 0]

``--fraction 1`` is the full size: 1,019,318 users x 384,546 songs x 48,373,586
listens (about 3.2 GB of text); memory stays bounded (a block of 10,000 users
at a time).
"""

from __future__ import annotations

import argparse
import json
import time

from synth import Shape, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.1, help="of the full Taste Profile (0 < f <= 1)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--header", action="store_true", help="write a user_id/song_id/play_count header line")
    args = parser.parse_args()
    start = time.perf_counter()
    info = generate(args.out, fraction=args.fraction, seed=args.seed, header=args.header)
    target = Shape.at(args.fraction)
    print(
        json.dumps(
            {**info, "target_songs": target.songs, "seconds": round(time.perf_counter() - start, 1), "out": args.out}
        )
    )


if __name__ == "__main__":
    main()
