"""The validated dataset handed to stores and models, and the load report that goes with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["SCHEMAS", "TIME", "Dataset", "LoadReport"]

TIME = pl.Datetime("us", "UTC")
# Column types of validated frames (users: user_id plus whatever properties the file had).
SCHEMAS: dict[str, dict[str, Any]] = {
    "posts": {
        "post_id": pl.String,
        "user_id": pl.String,
        "text": pl.String,
        "created_at": TIME,
        "lang": pl.String,
    },
    "follows": {"src": pl.String, "dst": pl.String, "created_at": TIME},
    "interactions": {
        "src": pl.String,
        "dst": pl.String,
        "kind": pl.String,
        "weight": pl.Float64,
        "count": pl.Int64,
        "created_at": TIME,
        "last_at": TIME,
    },
}


@dataclass
class Dataset:
    """Validated frames, ready for a store.

    ``users``: ``user_id`` (str, unique) and properties; ``posts``: ``post_id``, ``user_id``,
    ``text``, ``created_at``, ``lang``; ``follows``: ``src``, ``dst``, ``created_at``;
    ``interactions``: ``src``, ``dst``, ``kind``, ``weight`` (summed over merged duplicates),
    ``count`` (how many rows were merged), ``created_at`` (first), ``last_at`` (last).
    Every time column is ``Datetime("us", "UTC")``.
    """

    users: pl.DataFrame
    posts: pl.DataFrame
    follows: pl.DataFrame
    interactions: pl.DataFrame
    sources: dict[str, str] = field(default_factory=dict)  # table -> file it was read from
    # how the loaders protected it (:meth:`graphsona.privacy.PrivacyPolicy.meta`), or None
    privacy: dict[str, Any] | None = None

    @property
    def user_properties(self) -> list[str]:
        return [c for c in self.users.columns if c != "user_id"]


@dataclass
class LoadReport:
    """What a load read, kept and dropped; ``issues`` counts each kind of repair.

    Issue keys: ``<table>.unknown_user`` (rows naming a user not in ``users``, dropped),
    ``<table>.self_loop`` (dropped), ``<table>.duplicate_merged``, ``posts.empty`` (dropped),
    ``posts.truncated``.
    """

    files: dict[str, str] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int) -> None:
        if n:
            self.issues[key] = self.issues.get(key, 0) + int(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": dict(self.files),
            "rows_read": dict(self.rows_read),
            "rows_kept": dict(self.rows_kept),
            "issues": dict(sorted(self.issues.items())),
        }

    def __str__(self) -> str:
        lines = ["table          read      kept  file"]
        for t, n in self.rows_read.items():
            lines.append(f"{t:<12} {n:>8} {self.rows_kept.get(t, 0):>9}  {self.files.get(t, '')}")
        if self.issues:
            lines.append("repairs:")
            lines += [f"  {k}: {v}" for k, v in sorted(self.issues.items())]
        else:
            lines.append("repairs: none")
        return "\n".join(lines)
