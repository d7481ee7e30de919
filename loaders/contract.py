"""The data contract: which tables a dataset has, their columns and what each column must hold.

A dataset is a directory holding one file per table, each as ``.csv``, ``.parquet`` or ``.jsonl``:

========== ======================== ==========================================================
table      required columns         optional columns
========== ======================== ==========================================================
users      ``user_id``              ``handle``, ``bio``, ``created_at``; any other column is
                                    kept as a user property (name must be a plain identifier)
posts      ``user_id``, ``text``    ``post_id`` (unique), ``created_at``, ``lang``
follows    ``src``, ``dst``         ``created_at`` (``src`` follows ``dst``)
interactions ``src``, ``dst``,      ``weight`` (default 1), ``created_at``
           ``kind``
========== ======================== ==========================================================

``users`` and at least one of ``follows``/``interactions`` are required; ``posts`` is optional.
``created_at`` is ISO-8601 (with or without a UTC offset; naive times are taken as UTC) or epoch
seconds. ``kind`` is one word (reply, repost, quote, mention, like or any other), lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = [
    "FORMATS",
    "MAX_ID_CHARS",
    "OUTPUT_PREFIXES",
    "OUTPUT_USER_COLUMNS",
    "RESULT_COLUMNS",
    "TABLES",
    "TIME_RANGE",
    "TableSpec",
    "ordinal_post_ids",
]

FORMATS = (".csv", ".parquet", ".jsonl")


def ordinal_post_ids() -> pl.Expr:
    """Post ids where a posts table has none: the user's id and the post's ordinal among that
    user's rows (``u1/0``, ``u1/1``, ...), so earlier posts keep their ids when a file grows."""
    return (pl.col("user_id") + "/" + pl.int_range(pl.len()).over("user_id").cast(pl.String)).alias(
        "post_id"
    )


# User properties that `graphsona profile` writes back: a users file may not bring its own
# column of that name (it would be overwritten, or read back as a result of the wrong type).
RESULT_COLUMNS = (
    "community_id",
    "community_name",
    "influence",
    "influence_rank",
    "pagerank",
    "follow_bias",
    "mood",
    "negative_share",
    "scored_posts",
    "top_topics",
    "topic_shares",
    "profile_run_id",
    "result_run_id",
    "profiled_at",
)
OUTPUT_USER_COLUMNS = frozenset({"profile", *RESULT_COLUMNS})
OUTPUT_PREFIXES = ("pred_",)  # label-head predictions: pred_<name>, pred_<name>_p
# Neo4j indexes ids (uniqueness constraints) and refuses keys over ~8 KB; 1,024 characters stay
# under that even at 4 bytes a character, and no platform's ids come near it.
MAX_ID_CHARS = 1024
# Times outside these years are refused: they are almost always epoch milliseconds or
# microseconds read as seconds (2024 in epoch ms is the year 56,000), or sentinel values.
TIME_RANGE = (1900, 2200)


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    id_columns: tuple[str, ...]  # cast to non-empty strings
    mandatory: bool
    keep_extra: bool = False  # other columns become properties (users only)


TABLES: dict[str, TableSpec] = {
    "users": TableSpec(
        "users", ("user_id",), ("handle", "bio", "created_at"), ("user_id",), True, keep_extra=True
    ),
    "posts": TableSpec(
        "posts", ("user_id", "text"), ("post_id", "created_at", "lang"), ("user_id",), False
    ),
    "follows": TableSpec("follows", ("src", "dst"), ("created_at",), ("src", "dst"), False),
    "interactions": TableSpec(
        "interactions", ("src", "dst", "kind"), ("weight", "created_at"), ("src", "dst"), False
    ),
}
