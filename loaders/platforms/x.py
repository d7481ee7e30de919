"""X (Twitter): API v2 JSON pages (``x-api``) and the account archive (``x-archive``).

**x-api**: a folder of saved API v2 responses. ``tweets/*.json``: pages of any tweet endpoint
(``data`` tweets; ``includes.users`` and ``includes.tweets`` with the expansions
``author_id,referenced_tweets.id,referenced_tweets.id.author_id,entities.mentions.username,
in_reply_to_user_id``); ``users/*.json``: pages of users; ``following/<user id>.json`` and
``followers/<user id>.json``: pages of the users that one follows / that follow it.

**x-archive**: the folder of an unzipped "Download an archive of your data":
``data/account.js``, ``data/profile.js``, ``data/tweets.js`` (or ``tweet.js``, and
``tweets-part1.js`` ...), ``data/following.js``, ``data/follower.js``, ``data/like.js``; each
is ``window.YTD.<name>.part0 = [...]``.

=============================================== ==========================================
X                                               graphsona
=============================================== ==========================================
user ``id`` / ``accountId``                     ``users.user_id``
``username`` / ``screen_name``                  ``users.handle``
``name``, ``description`` / ``bio``             ``users.name``, ``users.bio``
``created_at`` / ``createdAt``                  ``users.created_at``
``public_metrics.followers_count``, ``verified``  ``users.followers_count``, ``users.verified``
tweet ``id`` / ``id_str``                       ``posts.post_id``
``note_tweet.text``, ``text`` / ``full_text``   ``posts.text`` (the long form when given)
``created_at``, ``lang``                        ``posts.created_at``, ``posts.lang``
``referenced_tweets`` ``replied_to`` /          interaction ``reply``
``in_reply_to_user_id(_str)``
``referenced_tweets`` ``retweeted`` / ``RT @``  interaction ``repost`` (the retweet's own
                                                text is not a post; the original is, when
                                                included)
``referenced_tweets`` ``quoted``                interaction ``quote``
``entities.mentions`` / ``user_mentions``       interaction ``mention``
following / follower files                      ``follows``
archive ``like.js``                             interaction ``like`` when the liked tweet's
                                                author is known (tweets in the archive)
=============================================== ==========================================

Counted repairs: ``<format>.target_unknown`` (a quote, retweet or mention whose author the
files do not name), ``<format>.like_author_unknown``. Errors: a file that is not JSON (or not
``window.YTD... = [...]``), a tweet without ``id``, ``author_id``/owner or ``created_at``, an
unreadable time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from graphsona.errors import DataValidationError
from graphsona.loaders.platforms._common import Collector, Record, parse_time, read_json, records_of

__all__ = ["read_x_api", "read_x_archive"]


# ---------------------------------------------------------------------------- API v2
class _Api:
    def __init__(self) -> None:
        self.out = Collector("x-api")
        self.by_name: dict[str, str] = {}
        self.author: dict[str, str] = {}  # tweet id -> author id
        self.pending: list[tuple[str, str, str, Any]] = []  # (src, kind, tweet or @name, time)

    def user(self, rec: Record, u: dict[str, Any]) -> str:
        uid = str(u.get("id") or "")
        if not uid:
            raise rec.fail("a user needs id", "id")
        metrics = u.get("public_metrics") or {}
        if u.get("username"):
            self.by_name[str(u["username"]).lower()] = uid
        return self.out.user(
            uid,
            handle=u.get("username"),
            name=u.get("name"),
            bio=u.get("description") or None,
            created_at=parse_time(rec, u.get("created_at"), "created_at"),
            verified=u.get("verified") if isinstance(u.get("verified"), bool) else None,
            followers_count=metrics.get("followers_count"),
        )

    def tweet(self, rec: Record, t: dict[str, Any], included: bool = False) -> None:
        for key in ("id", "author_id", "created_at"):
            if not t.get(key):
                raise rec.fail(f"a tweet needs {key}", key)
        tid, uid = str(t["id"]), self.out.user(str(t["author_id"]))
        self.author[tid] = uid
        when = parse_time(rec, t["created_at"], "created_at")
        refs = [
            (str(r.get("type")), str(r.get("id")))
            for r in t.get("referenced_tweets") or []
            if isinstance(r, dict)
        ]
        retweeted = [ref for kind, ref in refs if kind == "retweeted"]
        if retweeted:
            self.pending.append((uid, "repost", retweeted[0], when))
            return
        note = t.get("note_tweet") or {}
        text = str(note.get("text") or t.get("text") or "")
        self.out.post(tid, uid, text, when, t.get("lang"))
        if included:
            return
        if t.get("in_reply_to_user_id"):
            self.out.interact(uid, self.out.user(str(t["in_reply_to_user_id"])), "reply", when)
        else:
            self.pending.extend((uid, "reply", ref, when) for k, ref in refs if k == "replied_to")
        self.pending.extend((uid, "quote", ref, when) for k, ref in refs if k == "quoted")
        for m in (t.get("entities") or {}).get("mentions") or []:
            if m.get("id"):
                self.out.interact(uid, self.out.user(str(m["id"]), handle=m.get("username")),
                                  "mention", when)  # fmt: skip
            elif m.get("username"):
                self.pending.append((uid, "mention", "@" + str(m["username"]).lower(), when))

    def page(self, file: Path) -> None:
        doc = read_json(file)
        if not isinstance(doc, dict):
            raise DataValidationError("an API page must be a JSON object", file=str(file))
        includes = doc.get("includes") or {}
        for rec in records_of(file, includes.get("users")):
            self.user(rec, rec.data)
        for rec in records_of(file, includes.get("tweets")):
            self.tweet(rec, rec.data, included=True)
        for rec in records_of(file, doc.get("data")):
            if "author_id" in rec.data or "text" in rec.data:
                self.tweet(rec, rec.data)
            else:
                self.user(rec, rec.data)

    def resolve(self) -> None:
        for src, kind, ref, when in self.pending:
            dst = self.by_name.get(ref[1:]) if ref.startswith("@") else self.author.get(ref)
            if dst is None:
                self.out.repair("target_unknown")
                continue
            self.out.interact(src, dst, kind, when)


def read_x_api(path: Path) -> Collector:
    if not path.is_dir():
        raise DataValidationError("an X API export is a folder", file=str(path))
    a = _Api()
    found = False
    for sub in ("users", "tweets"):
        for file in sorted((path / sub).glob("*.json")):
            found = True
            a.out.files.append(str(file))
            a.page(file)
    for sub, outgoing in (("following", True), ("followers", False)):
        for file in sorted((path / sub).glob("*.json")):
            found = True
            a.out.files.append(str(file))
            owner = a.out.user(file.stem)
            doc = read_json(file)
            for rec in records_of(file, doc.get("data") if isinstance(doc, dict) else doc):
                other = a.user(rec, rec.data)
                a.out.follow(*((owner, other) if outgoing else (other, owner)))
    if not found:
        raise DataValidationError(
            "no X API pages found (tweets/*.json, users/*.json, following/*.json)",
            file=str(path),
        )
    a.resolve()
    return a.out


# ---------------------------------------------------------------------------- archive
_YTD = re.compile(r"^\s*window\.YTD\.[\w.]+\s*=\s*", re.S)
_RT = re.compile(r"^RT @(\w{1,15}):")


def _ytd(path: Path) -> list[Record]:
    raw = path.read_text(encoding="utf-8")
    m = _YTD.match(raw)
    if not m:
        raise DataValidationError("expected `window.YTD.<name>.part0 = [...]`", file=str(path))
    try:
        items = json.loads(raw[m.end() :])
    except ValueError as e:
        raise DataValidationError(f"not JSON after `window.YTD... =` ({e})", file=str(path)) from e
    return records_of(path, items)


def read_x_archive(path: Path) -> Collector:
    data = path / "data" if (path / "data").is_dir() else path
    out = Collector("x-archive")
    account_file = data / "account.js"
    if not account_file.exists():
        raise DataValidationError("no data/account.js: not an X archive", file=str(path))
    out.files.append(str(account_file))
    acc_rec = _ytd(account_file)[0]
    acc = acc_rec.need("account")
    me = str(acc.get("accountId") or "")
    if not me:
        raise acc_rec.fail("the account has no accountId", "account.accountId")
    bio = None
    if (data / "profile.js").exists():
        prof = _ytd(data / "profile.js")
        desc = prof[0].get("profile", "description") if prof else None
        bio = (desc or {}).get("bio") if isinstance(desc, dict) else None
    out.user(
        me,
        handle=acc.get("username"),
        name=acc.get("accountDisplayName"),
        bio=bio or None,
        created_at=parse_time(acc_rec, acc.get("createdAt"), "account.createdAt"),
    )
    by_name: dict[str, str] = {str(acc.get("username") or "").lower(): me}
    tweet_files = sorted(
        f for f in data.glob("*.js") if re.fullmatch(r"tweets?(-part\d+)?\.js", f.name)
    )
    authors: dict[str, str] = {}
    for file in tweet_files:
        out.files.append(str(file))
        for rec in _ytd(file):
            t = rec.data.get("tweet", rec.data)
            for key in ("id_str", "created_at"):
                if not t.get(key) and not (key == "id_str" and t.get("id")):
                    raise rec.fail(f"a tweet needs {key}", f"tweet.{key}")
            tid = str(t.get("id_str") or t["id"])
            when = parse_time(rec, t["created_at"], "tweet.created_at")
            text = str(t.get("full_text") or t.get("text") or "")
            mentions = (t.get("entities") or {}).get("user_mentions") or []
            for m in mentions:
                if m.get("id_str") and m.get("screen_name"):
                    by_name[str(m["screen_name"]).lower()] = str(m["id_str"])
            rt = _RT.match(text)
            if rt:
                dst = by_name.get(rt.group(1).lower())
                if dst is None:
                    out.repair("target_unknown")
                else:
                    out.interact(me, out.user(dst, handle=rt.group(1)), "repost", when)
                continue
            authors[tid] = me
            out.post(tid, me, text, when, t.get("lang"))
            if t.get("in_reply_to_user_id_str"):
                dst = out.user(
                    str(t["in_reply_to_user_id_str"]), handle=t.get("in_reply_to_screen_name")
                )
                out.interact(me, dst, "reply", when)
            for m in mentions:
                if m.get("id_str"):
                    out.interact(me, out.user(str(m["id_str"]), handle=m.get("screen_name")),
                                 "mention", when)  # fmt: skip
    for name, outgoing in (("following.js", True), ("follower.js", False)):
        file = data / name
        if not file.exists():
            continue
        out.files.append(str(file))
        key = "following" if outgoing else "follower"
        for rec in _ytd(file):
            other = str(rec.need(key, "accountId"))
            out.user(other)
            out.follow(*((me, other) if outgoing else (other, me)))
    if (data / "like.js").exists():
        out.files.append(str(data / "like.js"))
        for rec in _ytd(data / "like.js"):
            liked = str(rec.need("like", "tweetId"))
            if liked in authors:
                out.interact(me, authors[liked], "like", None)
            else:
                out.repair("like_author_unknown")
    return out
