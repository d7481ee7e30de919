"""Reddit dumps: the monthly NDJSON files of submissions (``RS_*``) and comments (``RC_*``)
that Pushshift and its successors publish, plain or zstandard-compressed (``.zst``), streamed
record by record.

================================ ==================================================
Reddit field                     graphsona
================================ ==================================================
``author``                       ``users.user_id`` and ``users.handle``
``author_created_utc``           ``users.created_at`` (when present)
submission ``id``                ``posts.post_id`` = ``t3_<id>`` (Reddit's fullname)
comment ``id``                   ``posts.post_id`` = ``t1_<id>``
``title`` + ``selftext``         ``posts.text`` (submission; a removed body is left out)
``body``                         ``posts.text`` (comment)
``created_utc``                  ``posts.created_at`` (epoch seconds)
comment ``parent_id``            interaction ``reply`` from the comment's author to the
                                 parent's author (resolved once the whole dump is read)
``u/name`` in text               interaction ``mention``
================================ ==================================================

A record is a submission when it has ``title``, a comment when it has ``body``. Counted
repairs: ``reddit.deleted_author`` (``[deleted]``/``[removed]`` author: skipped),
``reddit.removed_text`` (the post is skipped, its reply still counts),
``reddit.parent_not_in_dump`` (a reply whose parent the files do not hold),
``reddit.unknown_record`` (neither kind). Errors: a line that is not a JSON object, a record
without ``id`` or ``created_utc``, an unreadable time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
from graphsona.loaders.platforms._common import (
    BUCKETS,
    TIME,
    Collector,
    Rows,
    files_in,
    iter_ndjson,
    parse_time,
)

__all__ = ["read_reddit"]

SUFFIXES = (".zst", ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")
GONE = {"[deleted]", "[removed]", ""}
MENTION = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})\b")


def read_reddit(path: Path, spill: Path | None = None) -> Collector:
    """The rows of a dump; with ``spill`` (a folder) posts, edges and the reply bookkeeping go
    to Parquet files there as they are read (``graphsona convert``: memory does not grow with
    the posts, only with the distinct authors)."""
    out = Collector("reddit", spill)

    def rows(schema: dict[str, Any], name: str, key: str | None = None) -> Rows:
        if spill is None:
            return Rows(schema)
        return Rows(schema, spill / f"{name}.work.parquet", buckets=BUCKETS if key else 1, key=key)

    # resolved once everything is read (a parent may come later, or in another file); when
    # spilling, both tables are in hash buckets of the fullname and join a bucket at a time
    authors = rows({"parent": pl.String, "dst": pl.String}, "authors", "parent")
    replies = rows({"src": pl.String, "parent": pl.String, "created_at": TIME}, "replies", "parent")
    mentions = rows({"src": pl.String, "name": pl.String, "created_at": TIME}, "mentions")
    for file in files_in(path, SUFFIXES):
        out.files.append(str(file))
        for rec in iter_ndjson(file):
            d = rec.data
            if "body" in d:
                prefix = "t1_"
            elif "title" in d:
                prefix = "t3_"
            else:
                out.repair("unknown_record")
                continue
            rid = str(rec.need("id"))
            when = parse_time(rec, rec.need("created_utc"), "created_utc")
            author = str(d.get("author") or "")
            if author in GONE:
                out.repair("deleted_author")
                continue
            uid = out.user(
                author,
                handle=author,
                created_at=parse_time(rec, d.get("author_created_utc"), "author_created_utc"),
            )
            fullname = prefix + rid
            authors.add(fullname, uid)
            if prefix == "t1_":
                text = str(d.get("body") or "")
                parent = d.get("parent_id")
                if parent:
                    replies.add(uid, str(parent), when)
            else:
                body = str(d.get("selftext") or "")
                title = str(d.get("title") or "")
                text = title if body in GONE else f"{title}\n\n{body}"
            if text.strip() in GONE:
                out.repair("removed_text")
                continue
            out.post(fullname, uid, text, when, d.get("lang"))
            for name in MENTION.findall(text):
                mentions.add(uid, name, when)
    for b in range(replies.buckets):
        found = replies.bucket(b).join(authors.bucket(b), on="parent", how="left").collect()
        out.repair("parent_not_in_dump", found["dst"].null_count())
        out.interactions.add_frame(
            found.drop_nulls("dst").select(
                "src", "dst", pl.lit("reply").alias("kind"), "created_at"
            )
        )
    # Reddit names are unique without case: u/Foo is the author foo when foo wrote here
    known = {u.lower(): u for u in out.users}
    for batch in mentions.batches():
        for src, name, when in batch.iter_rows():
            target = known.get(name.lower()) or out.user(name, handle=name)
            out.interact(src, target, "mention", when)
    for work in (authors, replies, mentions):
        work.remove()
    return out
