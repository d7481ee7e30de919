"""Mastodon (and other fediverse servers): REST API JSON saved to files, or an account
archive's ActivityPub ``outbox.json``.

Users are named ``name@host`` (``alice@mastodon.social``), the one id that means the same
account on every server and in both layouts; it is ``users.user_id`` and ``users.handle``.

A folder may hold, in any mix:

- ``statuses/*.json``: arrays of Status entities (any saved timeline or account page);
- ``following/<account id or name@host>.json`` and ``followers/<...>.json``: arrays of Account
  entities (the accounts that one follows / that follow it);
- ``accounts/*.json``: arrays of Account entities (profiles);
- an archive: ``outbox.json`` (``orderedItems`` of ``Create``/``Announce`` activities),
  ``actor.json``, optionally ``likes.json`` and ``following_accounts.csv``.

============================================ ===============================================
Mastodon                                     graphsona
============================================ ===============================================
Account ``username`` + host of ``url``        ``users.user_id``, ``users.handle``
Account ``display_name``, ``note`` (HTML)     ``users.name``, ``users.bio`` (text)
Account ``created_at``, ``bot``,              ``users.created_at``, ``users.bot``,
``followers_count``                           ``users.followers_count``
Status ``id`` / Note ``id`` (URI)             ``posts.post_id``
Status/Note ``content`` (HTML)                ``posts.text`` (text; ``spoiler_text`` first)
``created_at`` / ``published``                ``posts.created_at``
``language`` / ``contentMap`` key             ``posts.lang``
``in_reply_to_account_id`` / ``inReplyTo``    interaction ``reply``
``reblog`` / ``Announce``                     interaction ``boost`` (the boosted status is a
                                              post of its author)
``quote.quoted_status``                       interaction ``quote``
``mentions`` / ``tag`` of type ``Mention``    interaction ``mention``
``likes.json`` item                           interaction ``like``
following / followers files, CSV              ``follows``
============================================ ===============================================

Counted repairs: ``mastodon.reply_target_unknown`` (a reply to an account the files never
show), ``mastodon.unknown_activity`` (outbox items other than Create and Announce),
``mastodon.empty_post`` (a status with no text: media only). Errors: a file that is not JSON, a
status without ``id``, ``account`` or ``created_at``, an unreadable time.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from graphsona.errors import DataValidationError
from graphsona.loaders.platforms._common import (
    Collector,
    Record,
    html_text,
    iter_json_array,
    parse_time,
    read_json,
)

__all__ = ["read_mastodon"]

_ACTOR = re.compile(r"^https?://([^/]+)/(?:users|@)/?([^/?#]+)")


def actor_name(url: str) -> str:
    """``https://host/users/name`` (or ``/@name``, or a status under it) -> ``name@host``."""
    m = _ACTOR.match(url or "")
    if not m:
        return url
    return f"{m.group(2).lstrip('@')}@{m.group(1)}".lower()


class _Reader:
    def __init__(self) -> None:
        self.out = Collector("mastodon")
        self.by_id: dict[str, str] = {}  # API account id -> name@host
        self.replies: list[tuple[str, str, Any]] = []  # (user, target account id, time)

    # ------------------------------------------------------------------ API entities
    def account(self, rec: Record, a: Any) -> str:
        if not isinstance(a, dict) or not (a.get("username") or a.get("acct")):
            raise rec.fail("an account needs username or acct", "account")
        host = urlparse(str(a.get("url") or "")).hostname
        acct = str(a.get("acct") or a["username"])
        name = f"{acct.split('@')[0]}@{host}" if host else acct
        name = name.lower()
        if a.get("id") is not None:
            self.by_id[str(a["id"])] = name
        return self.out.user(
            name,
            handle=name,
            name=a.get("display_name"),
            bio=html_text(a.get("note")) or None,
            created_at=parse_time(rec, a.get("created_at"), "account.created_at"),
            bot=a.get("bot") if isinstance(a.get("bot"), bool) else None,
            followers_count=a.get("followers_count"),
        )

    def status(self, rec: Record, s: dict[str, Any]) -> str:
        """Add one Status (and what it boosts or quotes); returns its post id."""
        sid = str(s.get("id") or "")
        if not sid or "account" not in s or not s.get("created_at"):
            missing = next(k for k in ("id", "account", "created_at") if not s.get(k))
            raise rec.fail(f"a status needs {missing}", missing)
        uid = self.account(rec, s["account"])
        when = parse_time(rec, s["created_at"], "created_at")
        boosted = s.get("reblog")
        if isinstance(boosted, dict):  # a boost carries no text of its own
            orig = self.status(rec, boosted)
            author = self.account(rec, boosted["account"])
            self.out.interact(uid, author, "boost", when)
            return orig
        text = html_text(s.get("content"))
        if s.get("spoiler_text"):
            text = f"{s['spoiler_text']}\n\n{text}".strip()
        if text:
            self.out.post(sid, uid, text, when, s.get("language"))
        else:
            self.out.repair("empty_post")
        for m in s.get("mentions") or []:
            if isinstance(m, dict) and (m.get("username") or m.get("acct")):
                self.out.interact(uid, self.account(rec, m), "mention", when)
        if s.get("in_reply_to_account_id"):
            self.replies.append((uid, str(s["in_reply_to_account_id"]), when))
        quote = s.get("quote")
        quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
        if isinstance(quoted, dict) and isinstance(quoted.get("account"), dict):
            self.status(rec, quoted)
            self.out.interact(uid, self.account(rec, quoted["account"]), "quote", when)
        return sid

    def follows(self, file: Path, outgoing: bool) -> None:
        who = file.stem
        owner = self.by_id.get(who, who.lower())
        for rec in iter_json_array(file):
            other = self.account(rec, rec.data)
            src, dst = (owner, other) if outgoing else (other, owner)
            self.out.user(owner, handle=owner)
            self.out.follow(src, dst)

    # ------------------------------------------------------------------ ActivityPub archive
    def archive(self, root: Path) -> None:
        actor_file = root / "actor.json"
        me = ""
        if actor_file.exists():
            actor = read_json(actor_file)
            if not isinstance(actor, dict):
                raise DataValidationError(
                    "actor.json must hold a JSON object", file=str(actor_file)
                )
            me = actor_name(str(actor.get("id", "")))
            one = Record(actor_file, 1, actor)
            self.out.user(
                me,
                handle=me,
                name=actor.get("name"),
                bio=html_text(actor.get("summary")) or None,
                created_at=parse_time(one, actor.get("published"), "published"),
            )
        for rec in iter_json_array(root / "outbox.json", "orderedItems"):
            kind = rec.data.get("type")
            actor = actor_name(str(rec.data.get("actor") or me))
            when = parse_time(rec, rec.data.get("published"), "published")
            self.out.user(actor, handle=actor)
            obj = rec.data.get("object")
            if kind == "Announce":
                target = actor_name(str(obj.get("id") if isinstance(obj, dict) else obj))
                self.out.interact(actor, self.out.user(target, handle=target), "boost", when)
            elif kind == "Create" and isinstance(obj, dict):
                pid = str(obj.get("id") or rec.need("object", "id"))
                langs = obj.get("contentMap")
                lang = next(iter(langs)) if isinstance(langs, dict) and langs else None
                text = html_text(obj.get("content"))
                if obj.get("summary"):
                    text = f"{obj['summary']}\n\n{text}".strip()
                created = parse_time(rec, obj.get("published"), "object.published") or when
                if text:
                    self.out.post(pid, actor, text, created, lang)
                else:
                    self.out.repair("empty_post")
                if obj.get("inReplyTo"):
                    target = actor_name(str(obj["inReplyTo"]))
                    self.out.interact(actor, self.out.user(target, handle=target), "reply", created)
                for tag in obj.get("tag") or []:
                    if isinstance(tag, dict) and tag.get("type") == "Mention" and tag.get("href"):
                        target = actor_name(str(tag["href"]))
                        self.out.interact(
                            actor, self.out.user(target, handle=target), "mention", created
                        )
            else:
                self.out.repair("unknown_activity")
        likes = root / "likes.json"
        if likes.exists() and me:
            for url in _items(likes):
                target = actor_name(url)
                self.out.interact(me, self.out.user(target, handle=target), "like", None)
        following = root / "following_accounts.csv"
        if following.exists() and me:
            with following.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    addr = (row.get("Account address") or "").strip().lstrip("@").lower()
                    if addr:
                        self.out.follow(me, self.out.user(addr, handle=addr))


def _items(path: Path) -> list[str]:
    doc = read_json(path)
    items = doc.get("orderedItems", []) if isinstance(doc, dict) else doc
    return [str(x.get("id") if isinstance(x, dict) else x) for x in items if x]


def read_mastodon(path: Path) -> Collector:
    if not path.is_dir():
        raise DataValidationError("a Mastodon export is a folder", file=str(path))
    r = _Reader()
    found = False
    for file in sorted((path / "accounts").glob("*.json")):
        found = True
        r.out.files.append(str(file))
        for rec in iter_json_array(file):
            r.account(rec, rec.data)
    for file in sorted((path / "statuses").glob("*.json")):
        found = True
        r.out.files.append(str(file))
        for rec in iter_json_array(file):
            r.status(rec, rec.data)
    if (path / "outbox.json").exists():
        found = True
        r.out.files.append(str(path / "outbox.json"))
        r.archive(path)
    for sub, outgoing in (("following", True), ("followers", False)):
        for file in sorted((path / sub).glob("*.json")):
            found = True
            r.out.files.append(str(file))
            r.follows(file, outgoing)
    if not found:
        raise DataValidationError(
            "no Mastodon files found (statuses/*.json, following/*.json, outbox.json)",
            file=str(path),
        )
    for uid, account_id, when in r.replies:
        target = r.by_id.get(account_id)
        if target is None:
            r.out.repair("reply_target_unknown")
            continue
        r.out.interact(uid, target, "reply", when)
    return r.out
