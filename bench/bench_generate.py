"""Synthetic generator speed: 1M users and ~10M follows (the foundation issue's target: < 60 s).

Run: ``python bench/bench_generate.py [--users 1000000] [--results-dir DIR]``; prints one JSON
line and writes ``bench/results/generate-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance
from graphsona.loaders import SyntheticConfig, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--avg-follows", type=float, default=11.5)
    ap.add_argument("--posts-per-user", type=float, default=2.0)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("generate", args.results_dir)
    cfg = SyntheticConfig(
        n_users=args.users,
        n_communities=50,
        avg_follows=args.avg_follows,
        posts_per_user=args.posts_per_user,
        interactions_per_user=2.0,
        seed=0,
    )
    t = time.perf_counter()
    net = generate(cfg)
    dt = time.perf_counter() - t
    res = {
        "config": {
            "users": args.users,
            "communities": 50,
            "avg_follows": args.avg_follows,
            "posts_per_user": args.posts_per_user,
            "interactions_per_user": 2.0,
            "seed": 0,
        },
        "users": net.users.height,
        "follows": net.follows.height,
        "posts": net.posts.height,
        "interactions": net.interactions.height,
        "seconds": round(dt, 1),
    }
    print(json.dumps(res))
    run.write(res)


if __name__ == "__main__":
    main()
