"""Bluesky (AT Protocol): repository records saved as JSON, e.g. pages of
``com.atproto.repo.listRecords`` (``{"records": [{"uri", "cid", "value"}]}``) for the
collections ``app.bsky.feed.post``, ``app.bsky.feed.repost``, ``app.bsky.feed.like``,
``app.bsky.graph.follow`` and ``app.bsky.actor.profile``, in any ``*.json`` file under the
folder (or ``.jsonl`` with one ``{"uri", "value"}`` record per line, as a firehose or Jetstream
consumer writes them), and optionally ``app.bsky.actor.getProfiles`` responses
(``{"profiles": [...]}``) for handles.

A record's author is the DID in its ``at://`` URI; it is ``users.user_id`` (handles change,
DIDs do not).

========================================== ================================================
AT Protocol                                graphsona
========================================== ================================================
DID of the record's repository             ``users.user_id``
profile ``handle`` (getProfiles)           ``users.handle``
``displayName``, ``description``           ``users.name``, ``users.bio``
``createdAt`` (profile view)               ``users.created_at``
post record URI                            ``posts.post_id``
``text``, ``createdAt``, ``langs[0]``      ``posts.text``, ``posts.created_at``,
                                           ``posts.lang``
``reply.parent.uri``                       interaction ``reply`` (to the parent's DID)
``embed`` of a record (``app.bsky.embed.   interaction ``quote``
record`` or ``recordWithMedia``)
facet feature ``#mention`` ``did``         interaction ``mention``
``app.bsky.feed.repost`` ``subject.uri``   interaction ``repost``
``app.bsky.feed.like`` ``subject.uri``     interaction ``like``
``app.bsky.graph.follow`` ``subject``      ``follows`` (with ``createdAt``)
========================================== ================================================

Counted repairs: ``bluesky.other_collection`` (records of other collections: lists, blocks,
threadgates...). Errors: a file that is not JSON, a record without an ``at://`` ``uri`` or a
``value``, a post without ``createdAt``, an unreadable time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphsona.errors import DataValidationError
from graphsona.loaders.platforms._common import (
    Collector,
    Record,
    files_in,
    iter_ndjson,
    parse_time,
    read_json,
    records_of,
)

__all__ = ["read_bluesky"]


def did_of(uri: str) -> str | None:
    """``at://did:plc:abc/app.bsky.feed.post/3k...`` -> ``did:plc:abc``."""
    if not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0] or None


def _records(file: Path) -> list[Record]:
    if file.suffix == ".jsonl":
        return list(iter_ndjson(file))
    doc = read_json(file)
    items: Any = doc
    if isinstance(doc, dict):
        items = doc.get("records", doc.get("profiles"))
        if items is None:
            raise DataValidationError(
                "expected listRecords ('records') or getProfiles ('profiles') JSON",
                file=str(file),
            )
    return records_of(file, items, "a listRecords/getProfiles file")


def _profile(out: Collector, rec: Record) -> None:
    d = rec.data
    out.user(
        str(rec.need("did")),
        handle=d.get("handle"),
        name=d.get("displayName"),
        bio=d.get("description") or None,
        created_at=parse_time(rec, d.get("createdAt"), "createdAt"),
        followers_count=d.get("followersCount"),
    )


def read_bluesky(path: Path) -> Collector:
    out = Collector("bluesky")
    for file in files_in(path, (".json", ".jsonl")):
        out.files.append(str(file))
        for rec in _records(file):
            if "did" in rec.data and "uri" not in rec.data:
                _profile(out, rec)
                continue
            uri = str(rec.need("uri"))
            author = did_of(uri)
            if author is None:
                raise rec.fail(f"not an at:// URI: {uri!r}", "uri")
            v = rec.need("value")
            if not isinstance(v, dict):
                raise rec.fail("a record's value must be an object", "value")
            parts = uri[5:].split("/")
            kind = str(v.get("$type") or (parts[1] if len(parts) > 1 else ""))
            out.user(author)
            when = parse_time(rec, v.get("createdAt"), "value.createdAt")
            if kind == "app.bsky.feed.post":
                if when is None:
                    raise rec.fail("a post needs createdAt", "value.createdAt")
                langs = v.get("langs") or []
                out.post(uri, author, str(v.get("text") or ""), when, langs[0] if langs else None)
                parent = ((v.get("reply") or {}).get("parent") or {}).get("uri")
                if parent and did_of(str(parent)):
                    out.interact(author, out.user(did_of(str(parent))), "reply", when)
                embed = v.get("embed") or {}
                quoted = (embed.get("record") or {}) if isinstance(embed, dict) else {}
                quoted = quoted.get("record", quoted) if isinstance(quoted, dict) else {}
                if isinstance(quoted, dict) and did_of(str(quoted.get("uri") or "")):
                    out.interact(author, out.user(did_of(str(quoted["uri"]))), "quote", when)
                for facet in v.get("facets") or []:
                    for feat in facet.get("features") or [] if isinstance(facet, dict) else []:
                        if str(feat.get("$type", "")).endswith("#mention") and feat.get("did"):
                            out.interact(author, out.user(str(feat["did"])), "mention", when)
            elif kind in ("app.bsky.feed.repost", "app.bsky.feed.like"):
                target = did_of(str((v.get("subject") or {}).get("uri") or ""))
                if target is None:
                    raise rec.fail("needs subject.uri", "value.subject.uri")
                name = "repost" if kind.endswith("repost") else "like"
                out.interact(author, out.user(target), name, when)
            elif kind == "app.bsky.graph.follow":
                subject = str(v.get("subject") or "")
                if not subject.startswith("did:"):
                    raise rec.fail("a follow needs a DID subject", "value.subject")
                out.follow(author, out.user(subject), when)
            elif kind == "app.bsky.actor.profile":
                out.user(author, name=v.get("displayName"), bio=v.get("description") or None)
            else:
                out.repair("other_collection")
    return out
