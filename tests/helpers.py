"""Small helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.loaders import SyntheticConfig, generate


def write_table(root: Path, name: str, frame: pl.DataFrame | str, fmt: str = "csv") -> Path:
    """Write one table file; a str is written verbatim (for malformed input)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.{fmt}"
    if isinstance(frame, str):
        path.write_text(frame, encoding="utf-8")
    elif fmt == "csv":
        frame.write_csv(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    return path


TABLES = ("users", "posts", "follows", "interactions")
N_USERS = 600  # users of split_network's default network


def split_network(
    root: Path, n_new: int = 4, seed: int = 5, *, n_users: int = N_USERS, dense: bool = False
) -> dict[str, Any]:
    """A sparse synthetic network cut in two: ``base/`` (loaded and profiled first) and
    ``delta/`` (``n_new`` new users with their posts and links, 3 new follows between earlier
    users, one new post by an earlier user). Sparse, so that the encoder's reach of the
    changes (two hops) leaves most users untouched; ``dense``: clear communities instead."""
    net = generate(
        SyntheticConfig(
            n_users=n_users,
            n_communities=3 if not dense else 4,
            avg_follows=2 if not dense else 8,
            posts_per_user=3,
            interactions_per_user=0.5 if not dense else 5.0,
            seed=seed,
        )
    )
    users = net.users.sort("user_id")
    new_ids = users["user_id"].sample(n_new, seed=1).to_list()
    is_new = lambda c: pl.col(c).is_in(new_ids)  # noqa: E731
    old_follows = net.follows.filter(~is_new("src") & ~is_new("dst"))
    moved = old_follows.sample(3, seed=2)
    old_posts = net.posts.filter(~is_new("user_id"))
    author = old_posts["user_id"][0]
    extra_post = pl.DataFrame(
        {
            "post_id": ["late-1"],
            "user_id": [author],
            "text": ["a late post about the recallgate affair and its fallout"],
            "created_at": [old_posts["created_at"].max()],
            "lang": ["en"],
        },
        schema=net.posts.schema,
    )
    parts = {
        "base": {
            "users": users.filter(~is_new("user_id")),
            "posts": old_posts,
            "follows": old_follows.join(moved, on=["src", "dst"], how="anti"),
            "interactions": net.interactions.filter(~is_new("src") & ~is_new("dst")),
        },
        "delta": {
            "users": users.filter(is_new("user_id")),
            "posts": pl.concat([net.posts.filter(is_new("user_id")), extra_post]),
            "follows": pl.concat([net.follows.filter(is_new("src") | is_new("dst")), moved]),
            "interactions": net.interactions.filter(is_new("src") | is_new("dst")),
        },
    }
    for name, tables in parts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for table, frame in tables.items():
            frame.write_parquet(root / name / f"{table}.parquet")
    (root / "full").mkdir(exist_ok=True)
    for table in TABLES:
        pl.concat(
            [parts["base"][table], parts["delta"][table]], how="diagonal_relaxed"
        ).write_parquet(root / "full" / f"{table}.parquet")
    return {"new": new_ids, "author": author, "net": net}


def update_config(root: Path, work: str = "work") -> ProfileJobConfig:
    return ProfileJobConfig(
        embedder_kind="static",
        cache=root / "vectors.sqlite",
        dim=16,
        epochs=15,
        work_dir=root / work,
    )


def run_cli(*args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    """``graphsona ARGS`` in a fresh process (offline); ``crash`` names a crash point of
    :mod:`graphsona._faults` that kills it with SIGKILL."""
    env = {k: v for k, v in os.environ.items() if k != "GRAPHSONA_CRASH_AT"}
    env["HF_HUB_OFFLINE"] = "1"
    if crash:
        env["GRAPHSONA_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "graphsona.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
