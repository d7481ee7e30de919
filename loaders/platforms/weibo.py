"""Weibo: saved responses of the Weibo open API (the shape most Weibo crawlers also write).

A folder with ``statuses/*.json`` (``{"statuses": [...]}`` pages of ``statuses/user_timeline``
and the like, or plain arrays of statuses), optionally ``comments/*.json`` (``{"comments":
[...]}`` of ``comments/show``), ``users/*.json`` (``{"users": [...]}`` or arrays) and
``friends/<uid>.json`` / ``followers/<uid>.json`` (``{"users": [...]}`` of
``friendships/friends`` and ``friendships/followers``).

========================================= =================================================
Weibo                                     graphsona
========================================= =================================================
``user.idstr`` / ``user.id``              ``users.user_id``
``screen_name``                           ``users.handle``
``description``, ``location``, ``gender``  ``users.bio``, ``users.location``, ``users.gender``
``followers_count``, ``verified``         ``users.followers_count``, ``users.verified``
``created_at`` (``Tue May 31 17:46:55     ``users.created_at`` / ``posts.created_at`` (UTC)
+0800 2011``)
status / comment ``idstr`` / ``id``       ``posts.post_id`` (comments as ``c<id>``)
``longText.longTextContent``, ``text``    ``posts.text`` (HTML removed); ``posts.lang``
                                          is left to detection
``retweeted_status``                      interaction ``repost`` (the original is a post of
                                          its author)
comment on a status / ``reply_comment``   interaction ``reply``
``@昵称`` in text                          interaction ``mention`` (when that screen name
                                          is among the users read)
friends / followers files                 ``follows``
========================================= =================================================

Counted repairs: ``weibo.deleted_status`` (a status the API returns as deleted: ``deleted``
set or no user), ``weibo.mention_unknown``. Errors: a file that is not JSON, a status without
``id`` or ``created_at``, an unreadable time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphsona.errors import DataValidationError
from graphsona.loaders.platforms._common import (
    Collector,
    Record,
    html_text,
    parse_time,
    read_json,
    records_of,
)

__all__ = ["read_weibo"]

MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")


def _records(file: Path, key: str) -> list[Record]:
    doc = read_json(file)
    items = doc.get(key) if isinstance(doc, dict) else doc
    if items is None:
        raise DataValidationError(f"expected a JSON array or '{key}'", file=str(file))
    return records_of(file, items, f"'{key}'")


class _Reader:
    def __init__(self) -> None:
        self.out = Collector("weibo")
        self.by_name: dict[str, str] = {}
        self.mentions: list[tuple[str, str, Any]] = []

    def user(self, rec: Record, u: Any) -> str:
        if not isinstance(u, dict) or not (u.get("idstr") or u.get("id")):
            raise rec.fail("a user needs id", "user.id")
        uid = str(u.get("idstr") or u["id"])
        if u.get("screen_name"):
            self.by_name[str(u["screen_name"])] = uid
        return self.out.user(
            uid,
            handle=u.get("screen_name"),
            bio=u.get("description") or None,
            location=u.get("location") or None,
            gender=u.get("gender") or None,
            followers_count=u.get("followers_count"),
            verified=u.get("verified") if isinstance(u.get("verified"), bool) else None,
            created_at=parse_time(rec, u.get("created_at"), "user.created_at"),
        )

    def status(self, rec: Record, s: dict[str, Any], prefix: str = "") -> str | None:
        if s.get("deleted") or not isinstance(s.get("user"), dict):
            self.out.repair("deleted_status")
            return None
        sid = str(s.get("idstr") or s.get("id") or "")
        if not sid or not s.get("created_at"):
            raise rec.fail("a status needs id and created_at", "id" if not sid else "created_at")
        uid = self.user(rec, s["user"])
        when = parse_time(rec, s["created_at"], "created_at")
        long = s.get("longText") or {}
        text = html_text(str(long.get("longTextContent") or s.get("text") or ""))
        self.out.post(prefix + sid, uid, text, when, None)
        self.mentions.extend((uid, name, when) for name in MENTION.findall(text))
        orig = s.get("retweeted_status")
        if isinstance(orig, dict) and self.status(rec, orig) is not None:
            self.out.interact(uid, self.user(rec, orig["user"]), "repost", when)
        return uid

    def comment(self, rec: Record) -> None:
        c = rec.data
        uid = self.status(rec, c, prefix="c")
        if uid is None:
            return
        when = parse_time(rec, c["created_at"], "created_at")
        target = c.get("reply_comment") or c.get("status")
        if isinstance(target, dict) and isinstance(target.get("user"), dict):
            self.out.interact(uid, self.user(rec, target["user"]), "reply", when)


def read_weibo(path: Path) -> Collector:
    if not path.is_dir():
        raise DataValidationError("a Weibo export is a folder", file=str(path))
    r = _Reader()
    found = False
    for sub, key in (("users", "users"), ("statuses", "statuses"), ("comments", "comments")):
        for file in sorted((path / sub).glob("*.json")):
            found = True
            r.out.files.append(str(file))
            for rec in _records(file, key):
                if sub == "users":
                    r.user(rec, rec.data)
                elif sub == "statuses":
                    r.status(rec, rec.data)
                else:
                    r.comment(rec)
    for sub, outgoing in (("friends", True), ("followers", False)):
        for file in sorted((path / sub).glob("*.json")):
            found = True
            r.out.files.append(str(file))
            owner = r.out.user(file.stem)
            for rec in _records(file, "users"):
                other = r.user(rec, rec.data)
                r.out.follow(*((owner, other) if outgoing else (other, owner)))
    if not found:
        raise DataValidationError(
            "no Weibo files found (statuses/*.json, comments/*.json, friends/*.json)",
            file=str(path),
        )
    for uid, name, when in r.mentions:
        target = r.by_name.get(name)
        if target is None:
            r.out.repair("mention_unknown")
            continue
        r.out.interact(uid, target, "mention", when)
    return r.out
