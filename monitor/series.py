"""Series over time per community and per topic.

:func:`timed_posts` joins the per-post results (time, sentiment, topic) with each author's
community; :func:`series` counts them per group and bucket: ``volume`` (posts), ``scored`` (posts
with a sentiment score), ``negative`` (posts labelled negative), ``mean_sentiment`` and
``negative_share`` (of the scored posts). Every bucket between the first and the last post is
present for every group (zero-filled), so a quiet day reads as zero, not as a gap.
"""

from __future__ import annotations

import re
from datetime import datetime

import polars as pl
from graphsona.errors import ConfigError

__all__ = ["BUCKETS", "GROUP_KINDS", "check_bucket", "series", "timed_posts"]

BUCKETS = re.compile(r"^[1-9]\d{0,3}[mhdw]$")
GROUP_KINDS = ("community", "topic")
TIME = pl.Datetime("us", "UTC")


def check_bucket(bucket: str) -> str:
    """``bucket`` if it is a count and a unit (``15m``, ``1h``, ``6h``, ``1d``, ``1w``)."""
    if not BUCKETS.fullmatch(bucket):
        raise ConfigError(
            f"bucket must be a count and a unit m/h/d/w, e.g. 1h, 6h, 1d, 1w (got {bucket!r})"
        )
    return bucket


def timed_posts(
    post_sentiment: pl.DataFrame, memberships: pl.DataFrame, post_topics: pl.DataFrame | None
) -> pl.DataFrame:
    """Posts with a time: ``post_id, user_id, created_at, sentiment, sentiment_label,
    community_id, topic_id`` (topic ``-1`` when unknown). Posts without a time are dropped
    (:func:`untimed` counts them)."""
    if "created_at" not in post_sentiment.columns:
        raise ConfigError(
            "posts have no created_at: monitoring over time needs each post's time "
            "(the posts file's created_at column, ISO-8601 or epoch seconds)"
        )
    frame = post_sentiment.select(
        "post_id", "user_id", pl.col("created_at").cast(TIME), "sentiment", "sentiment_label"
    ).join(memberships.select("user_id", "community_id"), on="user_id", how="left")
    if post_topics is not None:
        frame = frame.join(post_topics.select("post_id", "topic_id"), on="post_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Int64).alias("topic_id"))
    return frame.with_columns(pl.col("topic_id").fill_null(-1)).drop_nulls("created_at")


def series(posts: pl.DataFrame, by: str, bucket: str = "1d") -> pl.DataFrame:
    """Per ``by`` group (``community_id`` or ``topic_id``; topic ``-1`` left out) and bucket:
    ``bucket_start, volume, scored, negative, mean_sentiment, negative_share``, sorted by group
    and time, with every bucket from the first post to the last."""
    check_bucket(bucket)
    empty = pl.DataFrame(
        schema={
            by: pl.Int64,
            "bucket_start": TIME,
            "volume": pl.UInt32,
            "scored": pl.UInt32,
            "negative": pl.UInt32,
            "mean_sentiment": pl.Float64,
            "negative_share": pl.Float64,
        }
    )
    posts = posts.drop_nulls(by)
    if by == "topic_id":
        posts = posts.filter(pl.col("topic_id") != -1)
    if posts.is_empty():
        return empty
    posts = posts.with_columns(pl.col("created_at").dt.truncate(bucket).alias("bucket_start"))
    counted = posts.group_by(by, "bucket_start").agg(
        pl.len().cast(pl.UInt32).alias("volume"),
        pl.col("sentiment").count().cast(pl.UInt32).alias("scored"),
        (pl.col("sentiment_label") == "negative").sum().cast(pl.UInt32).alias("negative"),
        pl.col("sentiment").mean().alias("mean_sentiment"),
    )
    lo, hi = posts["bucket_start"].min(), posts["bucket_start"].max()
    assert isinstance(lo, datetime) and isinstance(hi, datetime)
    grid = pl.Series("bucket_start", pl.datetime_range(lo, hi, bucket, eager=True, time_zone="UTC"))
    groups = posts.select(pl.col(by).unique().sort())
    full = groups.join(grid.to_frame(), how="cross").join(
        counted, on=[by, "bucket_start"], how="left"
    )
    return (
        full.with_columns(pl.col("volume", "scored", "negative").fill_null(0))
        .with_columns(
            pl.when(pl.col("scored") > 0)
            .then(pl.col("negative") / pl.col("scored"))
            .otherwise(None)
            .alias("negative_share")
        )
        .select(empty.columns)
        .cast({by: pl.Int64, "bucket_start": TIME})
        .sort(by, "bucket_start")
    )
