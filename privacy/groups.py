"""Minimum group size for anything published: communities, topics and alerts about fewer than
``k`` users (``[privacy] min_group_size``, default 5) are suppressed where graphsona writes
them, so the store, the named queries, exports and the report all show the same thing.

* a community under ``k`` members keeps its id and size, but its name becomes ``small group
  <id>`` and its description, terms, hashtags, top members, mood and topic mix are emptied
  (``suppressed = true``); its members' ``community_name`` says the same;
* a topic whose posts come from fewer than ``k`` users keeps its id, size and centroid (used
  to place new posts, never exported) but loses its name and terms;
* an alert about a suppressed community or topic is not published; suppressed ids are taken
  out of the other alerts' community and topic lists.

Communities already come out of Leiden merged up to ``[communities] min_size`` (default 5);
``k`` above it suppresses the communities between the two.
"""

from __future__ import annotations

import polars as pl

__all__ = ["publishable_alerts", "publishable_communities", "publishable_topics", "small_name"]


def small_name(community_id: int) -> str:
    return f"small group {community_id}"


def _suppress(
    frame: pl.DataFrame, small: pl.Expr, keep: tuple[str, ...], name: pl.Expr
) -> pl.DataFrame:
    exprs = []
    for col, dtype in frame.schema.items():
        if col in keep:
            continue
        if col == "name":
            exprs.append(pl.when(small).then(name).otherwise(pl.col(col)).alias(col))
        elif dtype == pl.String:
            exprs.append(pl.when(small).then(pl.lit("")).otherwise(pl.col(col)).alias(col))
        elif isinstance(dtype, pl.List) and not dtype.inner.is_numeric():
            exprs.append(
                pl.when(small).then(pl.col(col).list.head(0)).otherwise(pl.col(col)).alias(col)
            )
        else:
            exprs.append(pl.when(small).then(None).otherwise(pl.col(col)).alias(col))
    return frame.with_columns(*exprs, small.alias("suppressed"))


def publishable_communities(names: pl.DataFrame, k: int) -> pl.DataFrame:
    """``names`` (one row per community, with ``size``) with communities under ``k`` members
    suppressed (see the module docstring)."""
    small = pl.col("size").fill_null(0) < k
    label = pl.lit("small group ") + pl.col("community_id").cast(pl.String)
    return _suppress(names, small, ("community_id", "size"), label)


def topic_authors(posts: pl.DataFrame) -> pl.DataFrame:
    """``topic_id, authors`` from posts with ``user_id`` and ``topic_id``."""
    return (
        posts.filter(pl.col("topic_id") >= 0)
        .group_by("topic_id")
        .agg(pl.col("user_id").n_unique().alias("authors"))
    )


def publishable_topics(topics: pl.DataFrame, authors: pl.DataFrame, k: int) -> pl.DataFrame:
    """``topics`` with those written by fewer than ``k`` users suppressed."""
    if topics.height == 0:
        return topics.with_columns(pl.lit(False).alias("suppressed"))
    joined = topics.join(authors, on="topic_id", how="left", maintain_order="left")
    small = pl.col("authors").fill_null(0) < k
    label = pl.lit("small topic ") + pl.col("topic_id").cast(pl.String)
    keep = ("topic_id", "size", "centroid", "floor", "authors")
    return _suppress(joined, small, keep, label).drop("authors")


def publishable_alerts(
    alerts: pl.DataFrame, small_communities: list[int], small_topics: list[int]
) -> pl.DataFrame:
    """``alerts`` without those about suppressed groups; suppressed ids dropped from lists."""
    if alerts.height == 0:
        return alerts
    about_small = pl.col("community_id").is_in(small_communities).fill_null(False) | pl.col(
        "topic_id"
    ).is_in(small_topics).fill_null(False)
    out = alerts.filter(~about_small)
    lists = []
    if "communities" in out.columns:
        lists.append(
            pl.col("communities").list.eval(
                pl.element().filter(~pl.element().is_in(small_communities))
            )
        )
    if "topics" in out.columns:
        lists.append(
            pl.col("topics").list.eval(pl.element().filter(~pl.element().is_in(small_topics)))
        )
    return out.with_columns(lists) if lists else out
