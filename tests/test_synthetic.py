"""The synthetic generator: planted structure, heavy tails, texts per community, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from graphsona.errors import ConfigError
from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset


def inside_share(net) -> float:  # type: ignore[no-untyped-def]
    comm = dict(zip(net.users["user_id"], net.users["planted_community"], strict=True))
    same = [comm[s] == comm[d] for s, d in zip(net.follows["src"], net.follows["dst"], strict=True)]
    return float(np.mean(same))


def test_deterministic_for_a_seed() -> None:
    a, b = (
        generate(SyntheticConfig(n_users=400, seed=5)),
        generate(SyntheticConfig(n_users=400, seed=5)),
    )
    c = generate(SyntheticConfig(n_users=400, seed=6))
    for name in ("users", "posts", "follows", "interactions"):
        assert getattr(a, name).equals(getattr(b, name))
    assert not a.follows.equals(c.follows)


@pytest.mark.parametrize("mixing", [0.05, 0.5])
def test_mixing_controls_follows_inside_communities(mixing: float) -> None:
    net = generate(SyntheticConfig(n_users=2000, n_communities=5, mixing=mixing, seed=1))
    expected = (1 - mixing) + mixing / 5  # a random community is sometimes the own one
    assert inside_share(net) == pytest.approx(expected, abs=0.03)


def test_heavy_tailed_in_degree_and_inactive_users() -> None:
    net = generate(SyntheticConfig(n_users=3000, inactive_fraction=0.1, seed=2))
    indeg = net.follows.group_by("dst").len()["len"].to_numpy()
    assert indeg.max() > 10 * np.median(indeg)  # a few influencers
    posters = set(net.posts["user_id"].unique().to_list())
    assert 0.05 < 1 - len(posters) / 3000 < 0.2  # inactive users write nothing


def test_posts_carry_their_community_topic() -> None:
    net = generate(SyntheticConfig(n_users=1000, n_communities=4, seed=3))
    posts = net.posts.join(net.users.select("user_id", "planted_community"), on="user_id")
    tags = posts.filter(pl.col("text").str.contains("#")).with_columns(
        pl.col("text").str.extract(r"#(\w+)").alias("tag")
    )
    # each community's hashtag is overwhelmingly its own theme
    purity = tags.group_by("planted_community").agg(
        pl.col("tag").mode().first().alias("tag"), pl.len()
    )
    assert purity["tag"].n_unique() == 4
    langs = set(net.posts["lang"].unique().to_list())
    assert {"en", "es", "de", "fr"} <= langs


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_written_dataset_loads_cleanly(tmp_path: Path, fmt: str) -> None:
    net = generate(SyntheticConfig(n_users=300, seed=4))
    ds, report = load_dataset(write_dataset(net, tmp_path / fmt, fmt))
    assert ds.users.height == 300 and ds.follows.height == net.follows.height
    assert ds.posts.height == net.posts.height
    assert set(report.issues) <= {"interactions.duplicate_merged"}


def test_bad_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError, match=r"n_users must be >= 2.*mixing must be in \[0, 1\]"):
        generate(SyntheticConfig(n_users=1, n_communities=1, mixing=2.0))
