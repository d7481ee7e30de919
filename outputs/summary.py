"""A store summary for people: counts, degrees, most-followed users, groups by a user column."""

from __future__ import annotations

from typing import Any

import polars as pl
from graphsona.errors import ConfigError, StoreError
from graphsona.graph._base import GraphStore
from graphsona.queries.library import run_named

__all__ = ["NO_PROFILES", "community_table", "graph_summary", "profile_card", "require_profiles"]

NO_PROFILES = "the store has no profiles yet: run graphsona profile first"


def require_profiles(
    users: pl.DataFrame, profile_property: str = "profile", *, also: tuple[str, ...] = ()
) -> None:
    """Raise :class:`StoreError` (:data:`NO_PROFILES`) unless ``users`` carry profiling results.

    A store that was loaded but never profiled has no ``profile_property`` column, or (a store
    whose schema declares it) only nulls; ``also`` names further result columns needed.
    """
    need = [profile_property, *also]
    if any(c not in users.columns for c in need) or (
        users.height and users[profile_property].null_count() == users.height
    ):
        raise StoreError(NO_PROFILES)


def community_table(store: GraphStore, profile_property: str = "profile") -> pl.DataFrame:
    """Every community, largest first (the ``communities`` named query, unlimited); an
    unprofiled store raises :class:`StoreError` (:data:`NO_PROFILES`)."""
    try:
        frame = run_named(store, "communities", {"limit": 10**9})
    except StoreError:  # e.g. the embedded store's "Binder exception" on an unprofiled store
        require_profiles(store.read_users(), profile_property, also=("community_id",))
        raise
    if frame.height == 0:  # Neo4j answers an unprofiled store with no rows
        require_profiles(store.read_users(), profile_property, also=("community_id",))
    return frame


def graph_summary(
    store: GraphStore, truth_column: str | None = None, top: int = 5
) -> dict[str, Any]:
    """Counts, mean out-degree, the ``top`` most-followed users and, when ``truth_column`` names a
    user property, users per value with the share of their follows that stay inside the group."""
    counts = store.counts()
    # ids only unless a group column is asked for: properties (profile vectors) are the bulk
    ids = store.read_user_ids().to_frame()
    follows = store.read_follows()
    followers = follows.group_by("dst").len("followers").rename({"dst": "user_id"})
    top_rows = (
        ids.join(followers, on="user_id", how="left")
        .with_columns(pl.col("followers").fill_null(0))
        .sort(["followers", "user_id"], descending=[True, False])
        .head(top)
    )
    # post counts of the top users only, one batch of posts in memory at a time
    posts = [
        batch.filter(pl.col("user_id").is_in(top_rows["user_id"].implode()))
        .group_by("user_id")
        .len("posts")
        for batch in store.iter_posts()
    ]
    per_user = (
        pl.concat(posts).group_by("user_id").agg(pl.col("posts").sum())
        if posts
        else pl.DataFrame(schema={"user_id": pl.String, "posts": pl.UInt32})
    )
    top_rows = top_rows.join(per_user, on="user_id", how="left", maintain_order="left")
    top_rows = top_rows.with_columns(pl.col("posts").fill_null(0))
    out: dict[str, Any] = {
        "counts": counts,
        "mean_out_degree": follows.height / max(ids.height, 1),
        "top_followed": top_rows.to_dicts(),
    }
    users = store.read_users() if truth_column else ids
    if truth_column and truth_column in users.columns:
        g = users.select("user_id", pl.col(truth_column).alias("group"))
        e = follows.join(g.rename({"user_id": "src", "group": "gs"}), on="src").join(
            g.rename({"user_id": "dst", "group": "gd"}), on="dst"
        )
        inside = e.group_by("gs").agg((pl.col("gs") == pl.col("gd")).mean().alias("inside_share"))
        groups = (
            g.group_by("group")
            .len("users")
            .join(inside.rename({"gs": "group"}), on="group", how="left")
            .with_columns(pl.col("inside_share").fill_null(0.0))
            .sort("group")
        )
        out["truth_column"] = truth_column
        out["groups"] = groups.to_dicts()
    return out


def profile_card(
    store: GraphStore, user_id: str, *, property: str = "profile", k: int = 5
) -> dict[str, Any]:
    """A user's enriched profile: community, influence and the ``k`` most similar users."""
    everyone = store.read_users()
    require_profiles(everyone, property)
    users = everyone.filter(pl.col("user_id") == user_id)
    if users.height == 0:
        raise ConfigError(f"unknown user {user_id!r}")
    row = users.row(0, named=True)
    vector = row.get(property)
    similar: list[tuple[str, float]] = []
    if vector is not None:
        index = store.create_vector_index(property, len(vector))
        hits = store.vector_search(index, list(vector), k=k + 1).filter(
            pl.col("user_id") != user_id
        )
        similar = [(r["user_id"], float(r["score"])) for r in hits.head(k).iter_rows(named=True)]
    return {
        "user_id": user_id,
        "community_id": row.get("community_id"),
        "community_name": row.get("community_name"),
        "influence": row.get("influence"),
        "influence_rank": row.get("influence_rank"),
        "similar": similar,
    }
