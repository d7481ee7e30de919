"""``graphsona fetch``: save a platform's live API pages in the layout its importer reads.

Each platform goes through its maintained client, an optional dependency (``pip install
'graphsona[fetch]'`` installs all four; none is in the lock): Mastodon.py, atproto (Bluesky),
tweepy (X API v2) and praw (Reddit). Credentials come from the environment, never from the
command line or a file graphsona writes. Clients wait out rate limits. Every file is written
whole or not at all (a temporary name, then a rename), so an interrupted fetch leaves complete
files to load or to fetch again. Nothing here runs in the tests against a live server: the
tests give each fetcher a stand-in client with the same methods.

**Mastodon** (``MASTODON_API_BASE_URL``, optional ``MASTODON_ACCESS_TOKEN``), for each account
(``name@host`` or a local ``name``):

- ``accounts/<name@host>.json``: the account (profile);
- ``statuses/<name@host>.json``: up to ``posts`` of its newest statuses (boosts included);
- ``following/<account id>.json`` and ``followers/<account id>.json``: up to ``follows``
  accounts each way.

**Bluesky** (no credentials needed: repositories and profiles are public; the handle is
resolved to its DID and the DID to its PDS through the DID document), for each actor (handle
or DID): ``records/<did>/<collection>.json`` pages of ``com.atproto.repo.listRecords`` for
posts, reposts and likes (up to ``posts`` each), follows (up to ``follows``) and the profile
record; ``profiles/profiles-<n>.json``: ``app.bsky.actor.getProfiles`` from the public AppView
(``BLUESKY_APPVIEW_URL``, default ``https://public.api.bsky.app``) for handles and counts.

**X** (``X_BEARER_TOKEN``, API v2), for each ``username``: ``users/users.json``
(``GET /2/users/by``); ``tweets/<user id>-<page>.json``: pages of the user's timeline with
the expansions the importer resolves (authors, referenced tweets and their authors,
mentions), up to ``posts`` tweets; ``following/<user id>.json`` and
``followers/<user id>.json``: up to ``follows`` users each way (pages joined).

**Reddit** (``REDDIT_CLIENT_ID``, ``REDDIT_CLIENT_SECRET``, optional ``REDDIT_USER_AGENT``;
read-only), for each ``r/subreddit`` or ``u/user``: the newest ``posts`` submissions (with up
to ``comments`` comments of each, for a subreddit) or the user's newest ``posts`` submissions
and comments, written as NDJSON in the dumps' field names: ``RS_<name>.jsonl`` and
``RC_<name>.jsonl``.

Then ``graphsona load --format mastodon|bluesky|x-api|reddit DIR`` imports the folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from graphsona.errors import ConfigError, MissingDependencyError

__all__ = [
    "FETCHERS",
    "bluesky_clients",
    "fetch_bluesky",
    "fetch_mastodon",
    "fetch_reddit",
    "fetch_x",
    "mastodon_client",
    "reddit_client",
    "x_client",
]


def mastodon_client() -> Any:
    """A ``Mastodon.py`` client from ``MASTODON_API_BASE_URL`` and ``MASTODON_ACCESS_TOKEN``."""
    try:
        from mastodon import Mastodon
    except ImportError as e:
        raise MissingDependencyError(
            "graphsona fetch mastodon needs Mastodon.py: pip install Mastodon.py "
            "(or pip install 'graphsona[fetch]')"
        ) from e
    base = os.environ.get("MASTODON_API_BASE_URL")
    if not base:
        raise ConfigError("set MASTODON_API_BASE_URL (e.g. https://mastodon.social)")
    return Mastodon(
        api_base_url=base,
        access_token=os.environ.get("MASTODON_ACCESS_TOKEN") or None,
        ratelimit_method="wait",
    )


def _check(names: list[str], what: str, posts: int, follows: int) -> None:
    if not names:
        raise ConfigError(f"name at least one {what}")
    if posts < 0 or follows < 0:
        raise ConfigError("posts and follows must be >= 0")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot save {type(value).__name__} as JSON")


def _pages(client: Any, first: Any, limit: int) -> list[Any]:
    """Items of ``first`` and the pages after it, at most ``limit``."""
    items: list[Any] = []
    page = first
    while page and len(items) < limit:
        items.extend(page)
        page = client.fetch_next(page) if len(items) < limit else None
    return items[:limit]


def _save(path: Path, items: Iterable[Any]) -> None:
    _save_doc(path, list(items))


def fetch_mastodon(
    accounts: list[str],
    out: str | Path,
    *,
    posts: int = 200,
    follows: int = 400,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Save the named accounts' profiles, statuses and follows under ``out``; returns counts.

    ``client``: a ``Mastodon.py`` client (``None``: :func:`mastodon_client`)."""
    statuses = posts
    _check(accounts, "account (name@host)", posts, follows)
    client = client if client is not None else mastodon_client()
    root = Path(out)
    say = progress or (lambda msg: None)
    counts = {"accounts": 0, "statuses": 0, "following": 0, "followers": 0}
    for name in accounts:
        acct = client.account_lookup(name.lstrip("@"))
        key = str(acct["acct"] if "@" in str(acct["acct"]) else name.lstrip("@")).lower()
        _save(root / "accounts" / f"{key}.json", [acct])
        counts["accounts"] += 1
        if statuses:
            got = _pages(client, client.account_statuses(acct["id"], limit=40), statuses)
            _save(root / "statuses" / f"{key}.json", got)
            counts["statuses"] += len(got)
        for way, call in (
            ("following", client.account_following),
            ("followers", client.account_followers),
        ):
            if follows:
                got = _pages(client, call(acct["id"], limit=80), follows)
                _save(root / way / f"{acct['id']}.json", got)
                counts[way] += len(got)
        say(f"{key}: saved")
    return counts


def _dict(obj: Any) -> Any:
    """A client's response as plain JSON data (atproto's models dump themselves by alias)."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True, by_alias=True)
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def _safe(name: str) -> str:
    """A DID or handle as a file name (``did:plc:abc`` -> ``did_plc_abc``)."""
    return "".join(c if c.isalnum() or c in "._-@" else "_" for c in name)


# ---------------------------------------------------------------------------- Bluesky
BLUESKY_COLLECTIONS = (
    ("app.bsky.feed.post", "posts"),
    ("app.bsky.feed.repost", "posts"),
    ("app.bsky.feed.like", "posts"),
    ("app.bsky.graph.follow", "follows"),
    ("app.bsky.actor.profile", "profile"),
)


def bluesky_clients() -> tuple[Any, Callable[[str], Any], Any]:
    """``(resolver, client for a PDS url, AppView client)`` from the ``atproto`` package."""
    try:
        from atproto import Client, IdResolver
    except ImportError as e:
        raise MissingDependencyError(
            "graphsona fetch bluesky needs atproto: pip install atproto "
            "(or pip install 'graphsona[fetch]')"
        ) from e
    appview = os.environ.get("BLUESKY_APPVIEW_URL") or "https://public.api.bsky.app"
    clients: dict[str, Any] = {}

    def for_pds(url: str) -> Any:
        if url not in clients:
            clients[url] = Client(base_url=url.rstrip("/") + "/xrpc")
        return clients[url]

    return IdResolver(), for_pds, Client(base_url=appview.rstrip("/") + "/xrpc")


def fetch_bluesky(
    actors: list[str],
    out: str | Path,
    *,
    posts: int = 200,
    follows: int = 400,
    clients: tuple[Any, Callable[[str], Any], Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Save the actors' repository records and profiles under ``out``; returns counts.

    ``clients``: ``(resolver, client_for_pds, appview)`` as :func:`bluesky_clients` makes them."""
    _check(actors, "actor (handle or DID)", posts, follows)
    resolver, for_pds, appview = clients if clients is not None else bluesky_clients()
    root = Path(out)
    say = progress or (lambda msg: None)
    counts = {"actors": 0, "records": 0, "profiles": 0}
    dids: list[str] = []
    for actor in actors:
        name = actor.lstrip("@")
        did = name if name.startswith("did:") else resolver.handle.resolve(name)
        if not did:
            raise ConfigError(f"cannot resolve the Bluesky handle {name!r} to a DID")
        pds = resolver.did.resolve_atproto_data(did).pds
        repo = for_pds(pds)
        for collection, budget in BLUESKY_COLLECTIONS:
            limit = {"posts": posts, "follows": follows, "profile": 1}[budget]
            got: list[Any] = []
            cursor = None
            while len(got) < limit:
                params = {"repo": did, "collection": collection, "limit": min(100, limit)}
                if cursor:
                    params["cursor"] = cursor
                page = _dict(repo.com.atproto.repo.list_records(params=params))
                got.extend(page.get("records") or [])
                cursor = page.get("cursor")
                if not cursor or not page.get("records"):
                    break
            if got:
                _save_doc(root / "records" / _safe(did) / f"{collection}.json",
                          {"records": got[:limit]})  # fmt: skip
                counts["records"] += min(len(got), limit)
        dids.append(did)
        counts["actors"] += 1
        say(f"{name}: saved")
    for n, start in enumerate(range(0, len(dids), 25)):  # getProfiles takes 25 actors
        page = _dict(
            appview.app.bsky.actor.get_profiles(params={"actors": dids[start : start + 25]})
        )
        _save_doc(
            root / "profiles" / f"profiles-{n}.json", {"profiles": page.get("profiles") or []}
        )
        counts["profiles"] += len(page.get("profiles") or [])
    return counts


def _save_doc(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, default=_plain, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # a file is whole or absent


# ---------------------------------------------------------------------------- X
X_USER_FIELDS = "created_at,description,public_metrics,verified,username,name"
X_TWEET_FIELDS = (
    "created_at,lang,author_id,referenced_tweets,entities,in_reply_to_user_id,note_tweet"
)
X_EXPANSIONS = (
    "author_id,referenced_tweets.id,referenced_tweets.id.author_id,"
    "entities.mentions.username,in_reply_to_user_id"
)


def x_client() -> Any:
    """A ``tweepy.Client`` for API v2 from ``X_BEARER_TOKEN``, answering raw JSON (dicts)."""
    try:
        import tweepy
    except ImportError as e:
        raise MissingDependencyError(
            "graphsona fetch x needs tweepy: pip install tweepy (or pip install 'graphsona[fetch]')"
        ) from e
    token = os.environ.get("X_BEARER_TOKEN")
    if not token:
        raise ConfigError("set X_BEARER_TOKEN (an X API v2 app bearer token)")
    return tweepy.Client(bearer_token=token, wait_on_rate_limit=True, return_type=dict)


def _x_pages(
    call: Callable[..., Any], uid: str, limit: int, most: int, **kw: Any
) -> list[dict[str, Any]]:
    """Pages of a paginated v2 endpoint for user ``uid`` until ``limit`` items (``most`` a
    page; the API takes 5 at least)."""
    pages: list[dict[str, Any]] = []
    token, seen = None, 0
    while seen < limit:
        args = {**kw, "max_results": max(5, min(most, limit - seen))}
        if token:
            args["pagination_token"] = token
        page = _dict(call(uid, **args)) or {}
        if not page.get("data"):
            break
        pages.append(page)
        seen += len(page["data"])
        token = (page.get("meta") or {}).get("next_token")
        if not token:
            break
    return pages


def fetch_x(
    usernames: list[str],
    out: str | Path,
    *,
    posts: int = 200,
    follows: int = 400,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Save the users, their timelines and follows under ``out``; returns counts.

    ``client``: a ``tweepy.Client`` returning dicts (``None``: :func:`x_client`)."""
    _check(usernames, "username", posts, follows)
    client = client if client is not None else x_client()
    root = Path(out)
    say = progress or (lambda msg: None)
    names = [u.lstrip("@") for u in usernames]
    counts = {"users": 0, "tweets": 0, "following": 0, "followers": 0}
    found = _dict(client.get_users(usernames=names, user_fields=X_USER_FIELDS)) or {}
    users = found.get("data") or []
    missing = {n.lower() for n in names} - {str(u.get("username", "")).lower() for u in users}
    if missing:
        raise ConfigError(f"X has no user named {', '.join(sorted(missing))}")
    _save_doc(root / "users" / "users.json", found)
    counts["users"] = len(users)
    for user in users:
        uid = str(user["id"])
        if posts:
            pages = _x_pages(
                client.get_users_tweets, uid, posts, 100,
                expansions=X_EXPANSIONS, tweet_fields=X_TWEET_FIELDS, user_fields=X_USER_FIELDS,
            )  # fmt: skip
            kept = 0
            for n, page in enumerate(pages):
                page = {**page, "data": page["data"][: posts - kept]}
                kept += len(page["data"])
                _save_doc(root / "tweets" / f"{uid}-{n}.json", page)
            counts["tweets"] += kept
        for way, call in (
            ("following", client.get_users_following),
            ("followers", client.get_users_followers),
        ):
            if follows:
                pages = _x_pages(call, uid, follows, 1000, user_fields=X_USER_FIELDS)
                listed = [u for page in pages for u in page["data"]][:follows]
                if listed:
                    _save_doc(root / way / f"{uid}.json", {"data": listed})
                counts[way] += len(listed)
        say(f"@{user.get('username', uid)}: saved")
    return counts


# ---------------------------------------------------------------------------- Reddit
def reddit_client() -> Any:
    """A read-only ``praw.Reddit`` from ``REDDIT_CLIENT_ID``/``REDDIT_CLIENT_SECRET``."""
    try:
        import praw
    except ImportError as e:
        raise MissingDependencyError(
            "graphsona fetch reddit needs praw: pip install praw (or pip install 'graphsona[fetch]')"
        ) from e
    cid, secret = os.environ.get("REDDIT_CLIENT_ID"), os.environ.get("REDDIT_CLIENT_SECRET")
    if not cid or not secret:
        raise ConfigError("set REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET (a Reddit 'script' app)")
    agent = os.environ.get("REDDIT_USER_AGENT") or "graphsona fetch (read-only)"
    return praw.Reddit(client_id=cid, client_secret=secret, user_agent=agent)


def _author(thing: Any) -> str:
    author = getattr(thing, "author", None)
    return "[deleted]" if author is None else str(getattr(author, "name", author))


def _submission(s: Any) -> dict[str, Any]:
    sub = getattr(s, "subreddit", None)
    return {
        "id": s.id,
        "author": _author(s),
        "created_utc": s.created_utc,
        "title": s.title,
        "selftext": getattr(s, "selftext", "") or "",
        "subreddit": str(getattr(sub, "display_name", sub or "")),
        "num_comments": getattr(s, "num_comments", None),
        "score": getattr(s, "score", None),
    }


def _comment(c: Any) -> dict[str, Any]:
    sub = getattr(c, "subreddit", None)
    return {
        "id": c.id,
        "author": _author(c),
        "created_utc": c.created_utc,
        "body": c.body,
        "parent_id": c.parent_id,
        "link_id": getattr(c, "link_id", None),
        "subreddit": str(getattr(sub, "display_name", sub or "")),
        "score": getattr(c, "score", None),
    }


def _save_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def fetch_reddit(
    names: list[str],
    out: str | Path,
    *,
    posts: int = 100,
    comments: int = 200,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Save subreddits' (``r/name``) or users' (``u/name``) newest submissions and comments
    under ``out`` as dump-style NDJSON; returns counts.

    ``client``: a ``praw.Reddit`` (``None``: :func:`reddit_client`)."""
    _check(names, "subreddit (r/name) or user (u/name)", posts, comments)
    client = client if client is not None else reddit_client()
    root = Path(out)
    say = progress or (lambda msg: None)
    counts = {"submissions": 0, "comments": 0}
    for raw in names:
        kind, _, name = raw.strip("/").partition("/")
        if kind not in ("r", "u", "user") or not name:
            raise ConfigError(f"name a subreddit as r/NAME or a user as u/NAME, not {raw!r}")
        subs: list[dict[str, Any]] = []
        coms: list[dict[str, Any]] = []
        if kind == "r":
            for s in client.subreddit(name).new(limit=posts):
                subs.append(_submission(s))
                if comments:
                    s.comments.replace_more(limit=0)  # no "load more" requests
                    coms.extend(_comment(c) for c in s.comments.list()[:comments])
        else:
            user = client.redditor(name)
            subs = [_submission(s) for s in user.submissions.new(limit=posts)]
            coms = [_comment(c) for c in user.comments.new(limit=comments)] if comments else []
        key = _safe(f"{'r' if kind == 'r' else 'u'}_{name}")
        _save_lines(root / f"RS_{key}.jsonl", subs)
        _save_lines(root / f"RC_{key}.jsonl", coms)
        counts["submissions"] += len(subs)
        counts["comments"] += len(coms)
        say(f"{raw}: {len(subs)} submissions, {len(coms)} comments")
    return counts


FETCHERS: dict[str, Callable[..., dict[str, int]]] = {
    "mastodon": fetch_mastodon,
    "bluesky": fetch_bluesky,
    "x": fetch_x,
    "reddit": fetch_reddit,
}
