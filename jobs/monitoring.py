"""``graphsona monitor`` and ``graphsona topics``: series and alerts recomputed from what the
profile job wrote into the store (per-post sentiment and topic, communities, influence, topics),
at any bucket and window, without rerunning the job."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from graphsona import queries
from graphsona.errors import ConfigError, StoreError
from graphsona.graph import GraphStore
from graphsona.monitor.alerts import detect_alerts, no_topics
from graphsona.monitor.series import TIME, check_bucket, series
from graphsona.privacy.groups import publishable_alerts, topic_authors

__all__ = ["monitor_store", "post_results"]


def post_results(store: GraphStore) -> pl.DataFrame:
    """Every post with its sentiment, topic, author, community and time, as written back."""
    query = queries.render("read_post_results", store.dialect, **store._names())
    try:
        posts = store.run(query)
    except StoreError as e:
        raise ConfigError(
            "the store's posts carry no sentiment or topic yet: run graphsona profile first"
        ) from e
    if posts.is_empty() or posts["sentiment_label"].null_count() == posts.height:
        raise ConfigError(
            "the store's posts carry no sentiment or topic yet: run graphsona profile first"
        )
    users = store.read_users()
    if "community_id" not in users.columns:
        raise ConfigError("the store's users have no communities yet: run graphsona profile first")
    posts = posts.with_columns(
        pl.col("created_at")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC", non_existent="null")
        if posts.schema["created_at"] != TIME
        else pl.col("created_at"),
        pl.col("topic_id").cast(pl.Int64).fill_null(-1),
        pl.col("sentiment").cast(pl.Float64),
    )
    members = users.select("user_id", pl.col("community_id").cast(pl.Int64))
    return posts.join(members, on="user_id", how="left")


def monitor_store(
    store: GraphStore,
    *,
    bucket: str = "1d",
    since: datetime | None = None,
    until: datetime | None = None,
    min_group_size: int = 5,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Alerts and series (community and topic series stacked: ``group``, ``group_id``, ...)
    from the store, at ``bucket``; posts after ``until`` ignored, alerts and series before
    ``since`` left out (baselines still use them). Communities with fewer than
    ``min_group_size`` members and topics with fewer authors get no series and no alerts
    (:mod:`graphsona.privacy.groups`)."""
    check_bucket(bucket)
    if since is not None and until is not None and since >= until:
        raise ConfigError(f"--since ({since}) must be before --until ({until})")
    posts = post_results(store)
    timed = posts.drop_nulls("created_at")
    if timed.is_empty():
        raise ConfigError(
            "no post has a time (created_at): monitoring over time needs the posts file's "
            "created_at column"
        )
    users = store.read_users()
    influence = users.select(
        "user_id",
        pl.col("influence").cast(pl.Float64)
        if "influence" in users.columns
        else pl.lit(0.0).alias("influence"),
    )
    topics = store.read_topics()
    if topics.is_empty():
        topics = no_topics()
    alerts = detect_alerts(timed, topics, influence, bucket=bucket, since=since, until=until)
    sizes = users.group_by(pl.col("community_id").cast(pl.Int64)).len("members")
    small = sizes.filter(pl.col("members") < min_group_size)["community_id"].to_list()
    authors = topic_authors(posts.select("user_id", "topic_id"))
    small_topics = authors.filter(pl.col("authors") < min_group_size)["topic_id"].to_list()
    alerts = publishable_alerts(alerts, small, small_topics)
    if until is not None:
        timed = timed.filter(pl.col("created_at") < until)
    parts = []
    for group, by, hidden in (
        ("community", "community_id", small),
        ("topic", "topic_id", small_topics),
    ):
        s = series(timed, by, bucket).filter(~pl.col(by).is_in(hidden)).rename({by: "group_id"})
        parts.append(s.select(pl.lit(group).alias("group"), pl.all()))
    stacked = pl.concat(parts)
    if since is not None:
        stacked = stacked.filter(pl.col("bucket_start") >= since)
    return alerts, stacked
