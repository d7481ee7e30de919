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

__all__ = ["FORMATS", "TABLES", "TableSpec"]

FORMATS = (".csv", ".parquet", ".jsonl")


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
