"""Synthetic generator speed: 1M users and ~10M follows (the foundation issue's target: < 60 s).

Run: ``python bench/bench_generate.py [--users 1000000]``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from graphsona.loaders import SyntheticConfig, generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--avg-follows", type=float, default=11.5)
    ap.add_argument("--posts-per-user", type=float, default=2.0)
    args = ap.parse_args()
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
    print(
        json.dumps(
            {
                "users": net.users.height,
                "follows": net.follows.height,
                "posts": net.posts.height,
                "interactions": net.interactions.height,
                "seconds": round(dt, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
