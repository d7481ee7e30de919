"""Platform importers (``graphsona load --format``): every field mapping on small hand-written
files in each platform's own format, and every malformed-record case (a clear error naming file
and record, or a counted repair; nothing half-loaded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import zstandard
from graphsona.errors import DataValidationError
from graphsona.graph import EmbeddedStore
from graphsona.loaders.platforms import import_platform, read_platform
from helpers import run_cli


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _ndjson(path: Path, rows: list[Any], zst: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data) if zst else data)
    return path


def _edges(ds: Any) -> set[tuple[str, str, str]]:
    return {(s, d, k) for s, d, k in ds.interactions.select("src", "dst", "kind").iter_rows()}


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(UTC)


# ---------------------------------------------------------------------------- reddit
SUBMISSION = {
    "id": "abc",
    "author": "alice",
    "title": "Compost question",
    "selftext": "How wet should it be? ask u/Bob",
    "created_utc": 1700000000,
    "subreddit": "gardening",
}
COMMENTS = [
    {"id": "c1", "author": "bob", "body": "Like a wrung sponge.", "created_utc": "1700000100",
     "parent_id": "t3_abc", "link_id": "t3_abc"},
    {"id": "c2", "author": "alice", "body": "thanks!", "created_utc": 1700000200,
     "parent_id": "t1_c1", "link_id": "t3_abc", "author_created_utc": 1500000000},
    {"id": "c3", "author": "[deleted]", "body": "[deleted]", "created_utc": 1700000300,
     "parent_id": "t1_c1"},
    {"id": "c4", "author": "carol", "body": "[removed]", "created_utc": 1700000400,
     "parent_id": "t1_c1"},
    {"id": "c5", "author": "carol", "body": "late to this", "created_utc": 1700000500,
     "parent_id": "t1_zzz"},
]  # fmt: skip


def test_reddit_dump_maps_every_field_and_streams_zst(tmp_path: Path) -> None:
    _ndjson(tmp_path / "dump" / "RS_2023-11.zst", [SUBMISSION], zst=True)
    _ndjson(tmp_path / "dump" / "RC_2023-11.zst", COMMENTS, zst=True)
    ds, report = import_platform("reddit", tmp_path / "dump")
    users = ds.users.sort("user_id")
    assert users["user_id"].to_list() == ["alice", "bob", "carol"]
    assert users["handle"].to_list() == ["alice", "bob", "carol"]
    alice = users.row(0, named=True)
    assert alice["created_at"] == _t("2017-07-14T02:40:00+00:00")
    posts = ds.posts.sort("post_id")
    assert posts["post_id"].to_list() == ["t1_c1", "t1_c2", "t1_c5", "t3_abc"]
    sub = posts.filter(pl.col("post_id") == "t3_abc").row(0, named=True)
    assert sub["text"] == "Compost question\n\nHow wet should it be? ask u/Bob"
    assert sub["user_id"] == "alice" and sub["created_at"] == _t("2023-11-14T22:13:20+00:00")
    assert _edges(ds) == {
        ("bob", "alice", "reply"),  # c1 answers the submission
        ("alice", "bob", "reply"),  # c2 answers c1
        ("carol", "bob", "reply"),  # c4's text was removed, its reply still counts
        ("alice", "bob", "mention"),  # u/Bob is the author bob
    }
    assert report.issues["reddit.deleted_author"] == 1
    assert report.issues["reddit.removed_text"] == 1
    assert report.issues["reddit.parent_not_in_dump"] == 1
    assert "reddit: " in report.files["posts"]


@pytest.mark.parametrize(
    ("line", "message", "row"),
    [
        ("{not json", "not a JSON record", 2),
        ('["a", "list"]', "must be a JSON object", 2),
        ('{"author": "x", "body": "no id", "created_utc": 1700000000}', "has no id", 2),
        ('{"id": "q", "author": "x", "body": "hi"}', "has no created_utc", 2),
        ('{"id": "q", "author": "x", "body": "hi", "created_utc": "yesterday"}', "cannot read", 2),
    ],
)
def test_reddit_malformed_records_name_file_and_line(
    tmp_path: Path, line: str, message: str, row: int
) -> None:
    f = _ndjson(tmp_path / "RC.jsonl", [COMMENTS[0], line])
    with pytest.raises(DataValidationError, match=message) as err:
        import_platform("reddit", f)
    assert err.value.file == str(f) and err.value.row == row
    odd = _ndjson(tmp_path / "odd.jsonl", [{"id": "z", "kind": "poll"}, COMMENTS[0], SUBMISSION])
    _, report = import_platform("reddit", odd)
    assert report.issues["reddit.unknown_record"] == 1


def test_reddit_convert_spills_to_a_dataset_folder_that_loads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphsona.errors import ConfigError
    from graphsona.loaders import load_dataset
    from graphsona.loaders.platforms import convert_platform
    from graphsona.loaders.platforms._common import Rows

    monkeypatch.setattr(Rows, "CHUNK", 2)  # every table spilled in several row groups
    _ndjson(tmp_path / "dump" / "RS_2023-11.zst", [SUBMISSION], zst=True)
    _ndjson(tmp_path / "dump" / "RC_2023-11.zst", COMMENTS + COMMENTS[:2], zst=True)  # repeats
    counts, repairs = convert_platform("reddit", tmp_path / "dump", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "follows.parquet",
        "interactions.parquet",
        "posts.parquet",
        "users.parquet",
    ]  # the spill and work files are gone
    assert counts["posts"] == 4 and repairs["reddit.duplicate_post"] == 2
    converted, _ = load_dataset(tmp_path / "out")
    direct, _ = import_platform("reddit", tmp_path / "dump")
    for table, key in (("users", ["user_id"]), ("posts", ["post_id"])):
        a, b = getattr(converted, table).sort(key), getattr(direct, table).sort(key)
        assert a.select(b.columns).equals(b), table
    assert _edges(converted) == _edges(direct)
    with pytest.raises(ConfigError, match="not empty"):
        convert_platform("reddit", tmp_path / "dump", tmp_path / "out")
    done = run_cli("convert", "--format", "reddit", str(tmp_path / "dump"), str(tmp_path / "o2"))
    assert done.returncode == 0, done.stderr
    assert "4 posts" in done.stdout and (tmp_path / "o2" / "posts.parquet").exists()


# ---------------------------------------------------------------------------- mastodon
def _account(i: str, name: str, host: str = "mastodon.social", **extra: Any) -> dict[str, Any]:
    return {"id": i, "username": name, "acct": name if host == "mastodon.social" else f"{name}@{host}",
            "url": f"https://{host}/@{name}", "display_name": name.title(), **extra}  # fmt: skip


ALICE = _account("1", "alice", note="<p>Gardener &amp; baker</p>", bot=False,
                 created_at="2022-11-01T00:00:00.000Z", followers_count=12)  # fmt: skip
BOB = _account("2", "bob", host="fosstodon.org")
CAROL = _account("3", "carol")


def _status(i: str, account: dict[str, Any], content: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "created_at": "2024-05-01T10:00:00.000Z", "account": account,
            "content": content, "language": "en", "mentions": [], "reblog": None, **extra}  # fmt: skip


def test_mastodon_api_json_and_archive_map_every_field(tmp_path: Path) -> None:
    root = tmp_path / "masto"
    _write(root / "statuses" / "page1.json", [
        _status("10", ALICE, "<p>Compost<br>tips</p>", spoiler_text="CW: soil"),
        _status("11", BOB, "<p>@alice yes!</p>", in_reply_to_id="10",
                in_reply_to_account_id="1", mentions=[ALICE]),
        _status("12", CAROL, "", reblog=_status("10", ALICE, "<p>Compost<br>tips</p>")),
        _status("13", CAROL, "<p>quoting</p>", quote={"state": "accepted",
                "quoted_status": _status("11", BOB, "<p>@alice yes!</p>")}),
        _status("14", CAROL, "<p>to nobody we know</p>", in_reply_to_account_id="999"),
        _status("15", ALICE, ""),  # media only
    ])  # fmt: skip
    _write(root / "following" / "1.json", [BOB, CAROL])
    _write(root / "followers" / "1.json", [CAROL])
    ds, report = import_platform("mastodon", root)
    users = {r["user_id"]: r for r in ds.users.iter_rows(named=True)}
    a = users["alice@mastodon.social"]
    assert a["handle"] == "alice@mastodon.social" and a["name"] == "Alice"
    assert a["bio"] == "Gardener & baker" and a["bot"] is False and a["followers_count"] == 12
    assert a["created_at"] == _t("2022-11-01T00:00:00+00:00")
    assert "bob@fosstodon.org" in users
    posts = {r["post_id"]: r for r in ds.posts.iter_rows(named=True)}
    assert posts["10"]["text"] == "CW: soil\n\nCompost\ntips" and posts["10"]["lang"] == "en"
    assert posts["10"]["created_at"] == _t("2024-05-01T10:00:00+00:00")
    assert "12" not in posts and "15" not in posts  # a boost and a media-only status
    A, B, C = "alice@mastodon.social", "bob@fosstodon.org", "carol@mastodon.social"
    assert _edges(ds) == {(B, A, "reply"), (B, A, "mention"), (C, A, "boost"), (C, B, "quote")}
    assert set(ds.follows.select("src", "dst").iter_rows()) == {(A, B), (A, C), (C, A)}
    assert report.issues["mastodon.reply_target_unknown"] == 1
    assert report.issues["mastodon.empty_post"] == 1
    assert report.issues["mastodon.duplicate_post"] == 2  # 10 and 11 again inside 12 and 13
    # an account archive: ActivityPub outbox, actor, likes, following CSV
    arch = tmp_path / "archive"
    _write(arch / "actor.json", {"id": "https://mastodon.social/users/alice", "type": "Person",
           "preferredUsername": "alice", "name": "Alice", "summary": "<p>hi</p>",
           "published": "2022-11-01T00:00:00Z"})  # fmt: skip
    note = {"id": "https://mastodon.social/users/alice/statuses/20", "type": "Note",
            "published": "2024-05-02T09:00:00Z", "content": "<p>Hello @bob</p>",
            "contentMap": {"de": "<p>Hello @bob</p>"},
            "inReplyTo": "https://fosstodon.org/users/bob/statuses/7",
            "tag": [{"type": "Mention", "href": "https://fosstodon.org/users/bob", "name": "@bob@fosstodon.org"}]}  # fmt: skip
    _write(arch / "outbox.json", {"type": "OrderedCollection", "orderedItems": [
        {"type": "Create", "actor": "https://mastodon.social/users/alice",
         "published": "2024-05-02T09:00:00Z", "object": note},
        {"type": "Announce", "actor": "https://mastodon.social/users/alice",
         "published": "2024-05-03T09:00:00Z", "object": "https://mastodon.social/users/carol/statuses/9"},
        {"type": "Delete", "actor": "https://mastodon.social/users/alice", "object": "x"},
    ]})  # fmt: skip
    _write(arch / "likes.json", {"orderedItems": ["https://fosstodon.org/users/bob/statuses/8"]})
    (arch / "following_accounts.csv").write_text(
        "Account address,Show boosts\nbob@fosstodon.org,true\n"
    )
    ds2, report2 = import_platform("mastodon", arch)
    p = ds2.posts.row(0, named=True)
    assert p["post_id"] == note["id"] and p["text"] == "Hello @bob" and p["lang"] == "de"
    assert _edges(ds2) == {(A, B, "reply"), (A, B, "mention"), (A, C, "boost"), (A, B, "like")}
    assert set(ds2.follows.select("src", "dst").iter_rows()) == {(A, B)}
    assert report2.issues["mastodon.unknown_activity"] == 1
    assert ds2.users.filter(pl.col("user_id") == A)["bio"][0] == "hi"


def test_mastodon_malformed_files(tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "a" / "statuses" / "p.json", [_status("1", ALICE, "x", created_at=None)]
    )
    with pytest.raises(DataValidationError, match="needs created_at") as err:
        import_platform("mastodon", tmp_path / "a")
    assert err.value.file == str(bad) and err.value.row == 1
    (tmp_path / "b" / "statuses").mkdir(parents=True)
    (tmp_path / "b" / "statuses" / "p.json").write_text('[{"id": "1",')
    with pytest.raises(DataValidationError, match="not a JSON file"):
        import_platform("mastodon", tmp_path / "b")
    _write(tmp_path / "c" / "statuses" / "p.json", {"not": "an array"})
    with pytest.raises(DataValidationError, match="must hold a JSON array"):
        import_platform("mastodon", tmp_path / "c")
    (tmp_path / "d").mkdir()
    with pytest.raises(DataValidationError, match="no Mastodon files"):
        import_platform("mastodon", tmp_path / "d")


# ---------------------------------------------------------------------------- X
def test_x_api_pages_map_every_field(tmp_path: Path) -> None:
    root = tmp_path / "x"
    users = [
        {"id": "100", "username": "Alice", "name": "Alice A", "description": "bakes",
         "created_at": "2010-01-01T00:00:00.000Z", "verified": True,
         "public_metrics": {"followers_count": 50}},
        {"id": "200", "username": "bob", "name": "Bob"},
        {"id": "300", "username": "carol", "name": "Carol"},
    ]  # fmt: skip
    tweets = [
        {"id": "1", "author_id": "100", "text": "short", "note_tweet": {"text": "the long form"},
         "created_at": "2024-01-01T12:00:00.000Z", "lang": "en"},
        {"id": "2", "author_id": "200", "text": "@Alice agreed", "created_at": "2024-01-01T13:00:00.000Z",
         "in_reply_to_user_id": "100", "referenced_tweets": [{"type": "replied_to", "id": "1"}],
         "entities": {"mentions": [{"start": 0, "end": 6, "username": "Alice", "id": "100"}]}},
        {"id": "3", "author_id": "300", "text": "RT @Alice: the long form", "created_at": "2024-01-02T00:00:00.000Z",
         "referenced_tweets": [{"type": "retweeted", "id": "1"}]},
        {"id": "4", "author_id": "300", "text": "look at this", "created_at": "2024-01-02T01:00:00.000Z",
         "referenced_tweets": [{"type": "quoted", "id": "2"}, {"type": "quoted", "id": "999"}],
         "entities": {"mentions": [{"username": "bob"}, {"username": "nobody"}]}},
    ]  # fmt: skip
    _write(
        root / "tweets" / "page1.json",
        {"data": tweets[1:], "includes": {"users": users, "tweets": tweets[:1]}},
    )
    _write(root / "following" / "100.json", {"data": [users[1]], "meta": {"result_count": 1}})
    _write(root / "followers" / "100.json", {"data": [users[2]]})
    ds, report = import_platform("x-api", root)
    a = ds.users.filter(pl.col("user_id") == "100").row(0, named=True)
    assert (a["handle"], a["name"], a["bio"], a["verified"], a["followers_count"]) == (
        "Alice", "Alice A", "bakes", True, 50)  # fmt: skip
    posts = {r["post_id"]: r for r in ds.posts.iter_rows(named=True)}
    assert set(posts) == {"1", "2", "4"}  # a retweet's own text is not a post
    assert posts["1"]["text"] == "the long form" and posts["1"]["lang"] == "en"
    assert _edges(ds) == {
        ("200", "100", "reply"), ("200", "100", "mention"), ("300", "100", "repost"),
        ("300", "200", "quote"), ("300", "200", "mention"),
    }  # fmt: skip
    assert report.issues["x-api.target_unknown"] == 2  # the quote of 999, and @nobody
    assert set(ds.follows.select("src", "dst").iter_rows()) == {("100", "200"), ("300", "100")}
    with pytest.raises(DataValidationError, match="a tweet needs author_id") as err:
        _write(
            tmp_path / "bad" / "tweets" / "p.json",
            {"data": [{"id": "9", "text": "x", "created_at": "2024-01-01T00:00:00Z"}]},
        )
        import_platform("x-api", tmp_path / "bad")
    assert err.value.row == 1


def _ytd(path: Path, name: str, items: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"window.YTD.{name}.part0 = " + json.dumps(items, indent=2), encoding="utf-8")


def test_x_archive_maps_every_field(tmp_path: Path) -> None:
    data = tmp_path / "archive" / "data"
    _ytd(data / "account.js", "account", [{"account": {"accountId": "100", "username": "alice",
         "accountDisplayName": "Alice", "createdAt": "2010-01-01T00:00:00.000Z"}}])  # fmt: skip
    _ytd(data / "profile.js", "profile", [{"profile": {"description": {"bio": "bakes bread"}}}])
    _ytd(data / "tweets.js", "tweets", [
        {"tweet": {"id_str": "1", "full_text": "hello @bob", "lang": "en",
                   "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                   "entities": {"user_mentions": [{"screen_name": "bob", "id_str": "200"}]}}},
        {"tweet": {"id_str": "2", "full_text": "@carol sure", "created_at": "Thu Oct 11 08:00:00 +0200 2018",
                   "in_reply_to_user_id_str": "300", "in_reply_to_screen_name": "carol",
                   "entities": {"user_mentions": []}}},
        {"tweet": {"id_str": "3", "full_text": "RT @bob: good one", "created_at": "Fri Oct 12 08:00:00 +0000 2018",
                   "entities": {"user_mentions": [{"screen_name": "bob", "id_str": "200"}]}}},
        {"tweet": {"id_str": "4", "full_text": "RT @dave: who?", "created_at": "Fri Oct 12 09:00:00 +0000 2018"}},
    ])  # fmt: skip
    _ytd(data / "following.js", "following", [{"following": {"accountId": "200"}}])
    _ytd(data / "follower.js", "follower", [{"follower": {"accountId": "300"}}])
    _ytd(data / "like.js", "like", [{"like": {"tweetId": "1"}}, {"like": {"tweetId": "77"}}])
    ds, report = import_platform("x-archive", tmp_path / "archive")
    me = ds.users.filter(pl.col("user_id") == "100").row(0, named=True)
    assert (me["handle"], me["name"], me["bio"]) == ("alice", "Alice", "bakes bread")
    posts = {r["post_id"]: r for r in ds.posts.iter_rows(named=True)}
    assert set(posts) == {"1", "2"}
    assert posts["2"]["created_at"] == _t("2018-10-11T06:00:00+00:00")
    assert _edges(ds) == {("100", "200", "mention"), ("100", "300", "reply"),
                          ("100", "200", "repost")}  # fmt: skip
    assert set(ds.follows.select("src", "dst").iter_rows()) == {("100", "200"), ("300", "100")}
    assert report.issues["x-archive.target_unknown"] == 1  # RT of @dave, unknown id
    assert report.issues["x-archive.like_author_unknown"] == 1
    # a self-like is dropped by validation as a self-loop, counted there
    assert report.issues["interactions.self_loop"] == 1
    (data / "tweets.js").write_text("var x = [1]")
    with pytest.raises(DataValidationError, match=r"window\.YTD"):
        import_platform("x-archive", tmp_path / "archive")
    with pytest.raises(DataValidationError, match="not an X archive"):
        import_platform("x-archive", tmp_path)


# ---------------------------------------------------------------------------- bluesky
A_DID, B_DID, C_DID = "did:plc:alice", "did:plc:bob", "did:web:carol.example"


def _rec(did: str, coll: str, rkey: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"uri": f"at://{did}/{coll}/{rkey}", "cid": "bafy", "value": {"$type": coll, **value}}


def test_bluesky_records_map_every_field(tmp_path: Path) -> None:
    post = "app.bsky.feed.post"
    a1 = f"at://{A_DID}/{post}/3k1"
    _write(tmp_path / "bsky" / "alice.json", {"records": [
        _rec(A_DID, post, "3k1", {"text": "first skeet", "createdAt": "2024-03-01T10:00:00.000Z", "langs": ["ja", "en"]}),
        _rec(A_DID, "app.bsky.graph.follow", "f1", {"subject": B_DID, "createdAt": "2024-03-01T09:00:00Z"}),
        _rec(A_DID, "app.bsky.actor.profile", "self", {"displayName": "Alice", "description": "hi"}),
        _rec(A_DID, "app.bsky.graph.block", "b1", {"subject": C_DID, "createdAt": "2024-03-01T09:00:00Z"}),
    ]})  # fmt: skip
    _ndjson(tmp_path / "bsky" / "bob.jsonl", [
        _rec(B_DID, post, "3k2", {"text": "reply @carol", "createdAt": "2024-03-01T11:00:00Z",
             "reply": {"root": {"uri": a1}, "parent": {"uri": a1}},
             "facets": [{"features": [{"$type": "app.bsky.richtext.facet#mention", "did": C_DID}]}]}),
        _rec(B_DID, "app.bsky.feed.like", "l1", {"subject": {"uri": a1}, "createdAt": "2024-03-01T12:00:00Z"}),
        _rec(B_DID, "app.bsky.feed.repost", "r1", {"subject": {"uri": a1}, "createdAt": "2024-03-01T12:00:00Z"}),
        _rec(C_DID, post, "3k3", {"text": "quoting", "createdAt": "2024-03-01T13:00:00Z",
             "embed": {"$type": "app.bsky.embed.recordWithMedia", "record": {"record": {"uri": a1}}}}),
    ])  # fmt: skip
    _write(tmp_path / "bsky" / "profiles.json", {"profiles": [
        {"did": A_DID, "handle": "alice.bsky.social", "createdAt": "2023-05-01T00:00:00Z", "followersCount": 3}]})  # fmt: skip
    ds, report = import_platform("bluesky", tmp_path / "bsky")
    a = ds.users.filter(pl.col("user_id") == A_DID).row(0, named=True)
    assert (a["handle"], a["name"], a["bio"], a["followers_count"]) == (
        "alice.bsky.social",
        "Alice",
        "hi",
        3,
    )
    posts = {r["post_id"]: r for r in ds.posts.iter_rows(named=True)}
    assert posts[a1]["text"] == "first skeet" and posts[a1]["lang"] == "ja"
    assert _edges(ds) == {(B_DID, A_DID, "reply"), (B_DID, C_DID, "mention"), (B_DID, A_DID, "like"),
                          (B_DID, A_DID, "repost"), (C_DID, A_DID, "quote")}  # fmt: skip
    f = ds.follows.row(0, named=True)
    assert (f["src"], f["dst"], f["created_at"]) == (A_DID, B_DID, _t("2024-03-01T09:00:00+00:00"))
    assert report.issues["bluesky.other_collection"] == 1
    bad = _write(tmp_path / "bad" / "x.json", {"records": [{"uri": "https://not/at", "value": {}}]})
    with pytest.raises(DataValidationError, match="not an at:// URI") as err:
        import_platform("bluesky", bad)
    assert err.value.row == 1
    _write(bad, {"records": [_rec(A_DID, post, "k", {"text": "no time"})]})
    with pytest.raises(DataValidationError, match="needs createdAt"):
        import_platform("bluesky", bad)


# ---------------------------------------------------------------------------- weibo
def test_weibo_api_json_maps_every_field(tmp_path: Path) -> None:
    li = {"id": 1001, "idstr": "1001", "screen_name": "李华", "description": "喜欢园艺",
          "location": "北京", "gender": "f", "followers_count": 88, "verified": False,
          "created_at": "Tue May 31 17:46:55 +0800 2011"}  # fmt: skip
    wang = {"id": 1002, "idstr": "1002", "screen_name": "王明"}
    root = tmp_path / "weibo"
    _write(root / "statuses" / "p1.json", {"statuses": [
        {"idstr": "5001", "created_at": "Wed Jun 01 08:00:00 +0800 2022", "user": li,
         "text": "今天的堆肥很好 @王明 <a href='x'>链接</a>"},
        {"idstr": "5002", "created_at": "Wed Jun 01 09:00:00 +0800 2022", "user": wang,
         "text": "转发微博", "retweeted_status": {"idstr": "5001", "created_at": "Wed Jun 01 08:00:00 +0800 2022",
                                             "user": li, "text": "今天的堆肥很好 @王明 <a href='x'>链接</a>"}},
        {"idstr": "5003", "created_at": "Wed Jun 01 10:00:00 +0800 2022", "deleted": "1", "text": "此微博已被删除"},
        {"idstr": "5004", "created_at": "Wed Jun 01 10:30:00 +0800 2022", "user": wang,
         "text": "问 @不存在的人", "longText": {"longTextContent": "问 @不存在的人 这是全文"}},
    ]})  # fmt: skip
    _write(root / "comments" / "c1.json", {"comments": [
        {"idstr": "7001", "created_at": "Wed Jun 01 11:00:00 +0800 2022", "user": wang, "text": "同意",
         "status": {"idstr": "5001", "user": li, "created_at": "Wed Jun 01 08:00:00 +0800 2022", "text": "x"}},
    ]})  # fmt: skip
    _write(root / "friends" / "1001.json", {"users": [wang]})
    ds, report = import_platform("weibo", root)
    u = ds.users.filter(pl.col("user_id") == "1001").row(0, named=True)
    assert (u["handle"], u["bio"], u["location"], u["gender"], u["followers_count"]) == (
        "李华", "喜欢园艺", "北京", "f", 88)  # fmt: skip
    assert u["created_at"] == _t("2011-05-31T09:46:55+00:00")
    posts = {r["post_id"]: r for r in ds.posts.iter_rows(named=True)}
    assert posts["5001"]["text"] == "今天的堆肥很好 @王明 链接"
    assert posts["5001"]["created_at"] == _t("2022-06-01T00:00:00+00:00")
    assert posts["5004"]["text"] == "问 @不存在的人 这是全文" and "c7001" in posts
    assert _edges(ds) == {("1001", "1002", "mention"), ("1002", "1001", "repost"),
                          ("1002", "1001", "reply")}  # fmt: skip
    assert set(ds.follows.select("src", "dst").iter_rows()) == {("1001", "1002")}
    assert report.issues["weibo.deleted_status"] == 1
    assert report.issues["weibo.mention_unknown"] == 1
    _write(
        root / "statuses" / "p2.json", {"statuses": [{"idstr": "9", "user": li, "text": "无时间"}]}
    )
    with pytest.raises(DataValidationError, match="needs id and created_at") as err:
        import_platform("weibo", root)
    assert err.value.file.endswith("p2.json") and err.value.row == 1


# ---------------------------------------------------------------------------- the command
def test_load_format_command_fills_a_store_and_refuses_bad_input_whole(tmp_path: Path) -> None:
    _ndjson(tmp_path / "dump" / "RS.jsonl", [SUBMISSION])
    _ndjson(tmp_path / "dump" / "RC.jsonl", COMMENTS)
    store = tmp_path / "r.lbdb"
    ok = run_cli(
        "load", "--format", "reddit", str(tmp_path / "dump"), "--store", str(store), "--json"
    )
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["store_counts"]["users"] == 3 and out["store_counts"]["posts"] == 4
    assert out["load_report"]["issues"]["reddit.deleted_author"] == 1
    with EmbeddedStore(store, read_only=True) as s:
        assert sorted(s.read_posts()["post_id"].to_list()) == ["t1_c1", "t1_c2", "t1_c5", "t3_abc"]
    # a broken record late in the dump: an error naming it, and nothing loaded
    _ndjson(tmp_path / "dump2" / "RC.jsonl", [*COMMENTS, "{broken"])
    fresh = tmp_path / "fresh.lbdb"
    bad = run_cli("load", "--format", "reddit", str(tmp_path / "dump2"), "--store", str(fresh))
    assert bad.returncode != 0 and "RC.jsonl" in bad.stderr and "row 6" in bad.stderr
    assert not fresh.exists()
    assert read_platform("reddit", tmp_path / "dump").repairs["reddit.deleted_author"] == 1


class _Page(list):  # type: ignore[type-arg]
    """A page of results with the next page attached, as Mastodon.py's lists carry it."""

    def __init__(self, items: list[Any], after: _Page | None = None) -> None:
        super().__init__(items)
        self.after = after


class _FakeMastodon:
    """Mastodon.py's methods the fetcher calls, answering from memory (no server here)."""

    def __init__(self) -> None:
        self.alice = {
            "id": 1,
            "username": "alice",
            "acct": "alice",
            "url": "https://mastodon.social/@alice",
            "display_name": "Alice",
            "note": "<p>gardens</p>",
            "created_at": datetime(2020, 1, 2, tzinfo=UTC),  # Mastodon.py parses times
        }
        self.bob = {
            "id": 2,
            "username": "bob",
            "acct": "bob@other.example",
            "url": "https://other.example/@bob",
            "created_at": datetime(2021, 3, 4, tzinfo=UTC),
        }
        status = {"account": self.alice, "language": "en", "mentions": []}
        self.statuses = [
            {**status, "id": 13, "content": "<p>third</p>", "created_at": _t("2024-01-03")},
            {
                **status,
                "id": 12,
                "content": "<p>@bob roses</p>",
                "created_at": _t("2024-01-02"),
                "in_reply_to_account_id": 2,
                "mentions": [self.bob],
            },
            {**status, "id": 11, "content": "<p>first</p>", "created_at": _t("2024-01-01")},
        ]
        self.calls: list[str] = []

    def account_lookup(self, acct: str) -> dict[str, Any]:
        self.calls.append(f"lookup {acct}")
        return {"alice": self.alice, "bob@other.example": self.bob}[acct]

    def account_statuses(self, id: int, limit: int) -> _Page:
        own = [s for s in self.statuses if s["account"]["id"] == id]
        return _Page(own[:2], _Page(own[2:])) if own else _Page([])

    def account_following(self, id: int, limit: int) -> _Page:
        return _Page([self.bob] if id == 1 else [])

    def account_followers(self, id: int, limit: int) -> _Page:
        return _Page([self.bob] if id == 1 else [self.alice])

    def fetch_next(self, page: _Page) -> _Page | None:
        self.calls.append("next")
        return page.after or None


def test_fetch_mastodon_saves_pages_the_importer_reads(tmp_path: Path) -> None:
    from graphsona.loaders.platforms.fetch import fetch_mastodon

    client = _FakeMastodon()
    out = tmp_path / "masto"
    counts = fetch_mastodon(["@alice", "bob@other.example"], out, posts=3, client=client)
    assert counts == {"accounts": 2, "statuses": 3, "following": 1, "followers": 2}
    assert [c for c in client.calls if c.startswith("lookup")] == [
        "lookup alice",
        "lookup bob@other.example",
    ]
    saved = json.loads((out / "statuses" / "alice.json").read_text())
    assert [s["id"] for s in saved] == [13, 12, 11]  # both pages, newest first
    assert saved[0]["created_at"] == "2024-01-03T00:00:00+00:00"
    ds, _ = import_platform("mastodon", out)
    alice, bob = "alice@mastodon.social", "bob@other.example"
    assert sorted(ds.users["user_id"]) == [alice, bob]
    assert set(ds.posts["post_id"]) == {"11", "12", "13"}
    assert {(alice, bob), (bob, alice)} == set(ds.follows.select("src", "dst").iter_rows())
    assert {(alice, bob, "reply"), (alice, bob, "mention")} <= _edges(ds)
    # with a limit the later page is not asked for
    client.calls.clear()
    fetch_mastodon(["alice"], tmp_path / "two", posts=2, follows=0, client=client)
    assert client.calls == ["lookup alice"]
    assert len(json.loads((tmp_path / "two" / "statuses" / "alice.json").read_text())) == 2
    assert not (tmp_path / "two" / "following").exists()


@pytest.mark.parametrize(
    ("platform", "name", "needs"),
    [
        ("mastodon", "alice@mastodon.social", ("pip install Mastodon.py", "MASTODON_API_BASE_URL")),
        ("x", "alice", ("pip install tweepy", "X_BEARER_TOKEN")),
        ("reddit", "r/python", ("pip install praw", "REDDIT_CLIENT_ID")),
    ],
)
def test_fetch_without_the_client_package_or_credentials_says_what_to_do(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    name: str,
    needs: tuple[str, str],
) -> None:
    for var in ("MASTODON_API_BASE_URL", "X_BEARER_TOKEN", "REDDIT_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    done = run_cli("fetch", platform, name, "--out", str(tmp_path / "m"))
    assert done.returncode == 1
    assert any(n in done.stderr for n in needs), done.stderr
    assert not (tmp_path / "m").exists()


class _NS:
    """Attribute access over keyword arguments (nested client namespaces, praw objects)."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


class _FakeBluesky:
    """atproto's resolver, PDS client and AppView client, answering from memory."""

    ALICE, BOB = "did:plc:alice", "did:plc:bob"

    def __init__(self) -> None:
        a, b = self.ALICE, self.BOB
        post = "app.bsky.feed.post"
        self.repos: dict[tuple[str, str], list[dict[str, Any]]] = {
            (a, post): [
                {"uri": f"at://{a}/{post}/3", "cid": "c3", "value": {
                    "$type": post, "text": "roses for @bob", "createdAt": "2024-01-03T00:00:00Z",
                    "langs": ["en"], "facets": [{"features": [
                        {"$type": "app.bsky.richtext.facet#mention", "did": b}]}]}},
                {"uri": f"at://{a}/{post}/2", "cid": "c2", "value": {
                    "$type": post, "text": "re: tulips", "createdAt": "2024-01-02T00:00:00Z",
                    "reply": {"parent": {"uri": f"at://{b}/{post}/9"},
                              "root": {"uri": f"at://{b}/{post}/9"}}}},
                {"uri": f"at://{a}/{post}/1", "cid": "c1", "value": {
                    "$type": post, "text": "first", "createdAt": "2024-01-01T00:00:00Z"}},
            ],
            (a, "app.bsky.feed.like"): [
                {"uri": f"at://{a}/app.bsky.feed.like/l1", "cid": "l", "value": {
                    "$type": "app.bsky.feed.like", "createdAt": "2024-01-04T00:00:00Z",
                    "subject": {"uri": f"at://{b}/{post}/9", "cid": "x"}}},
            ],
            (a, "app.bsky.graph.follow"): [
                {"uri": f"at://{a}/app.bsky.graph.follow/f1", "cid": "f", "value": {
                    "$type": "app.bsky.graph.follow", "subject": b,
                    "createdAt": "2023-12-01T00:00:00Z"}},
            ],
            (b, post): [
                {"uri": f"at://{b}/{post}/9", "cid": "c9", "value": {
                    "$type": post, "text": "tulips", "createdAt": "2023-12-31T00:00:00Z"}},
            ],
        }  # fmt: skip
        self.calls: list[tuple[str, str, str | None]] = []
        self.handle = _NS(resolve=lambda h: {"alice.bsky.social": a}.get(h))
        self.did = _NS(resolve_atproto_data=lambda did: _NS(pds=f"https://pds.example/{did}"))
        self.pds: list[str] = []

    def for_pds(self, url: str) -> Any:
        self.pds.append(url)

        def list_records(params: dict[str, Any]) -> dict[str, Any]:
            key = (params["repo"], params["collection"])
            self.calls.append((*key, params.get("cursor")))
            rows = self.repos.get(key, [])
            start = int(params.get("cursor") or 0)
            page = rows[start : start + 2]  # two records a page
            more = start + 2 < len(rows)
            return {"records": page, **({"cursor": str(start + 2)} if more else {})}

        return _NS(com=_NS(atproto=_NS(repo=_NS(list_records=list_records))))

    def appview(self) -> Any:
        profiles = {
            self.ALICE: {"did": self.ALICE, "handle": "alice.bsky.social",
                         "displayName": "Alice", "followersCount": 3},
            self.BOB: {"did": self.BOB, "handle": "bob.bsky.social"},
        }  # fmt: skip

        def get_profiles(params: dict[str, Any]) -> dict[str, Any]:
            return {"profiles": [profiles[d] for d in params["actors"] if d in profiles]}

        return _NS(app=_NS(bsky=_NS(actor=_NS(get_profiles=get_profiles))))


def test_fetch_bluesky_saves_records_the_importer_reads(tmp_path: Path) -> None:
    from graphsona.errors import ConfigError
    from graphsona.loaders.platforms.fetch import fetch_bluesky

    fake = _FakeBluesky()
    out = tmp_path / "bsky"
    clients = (fake, fake.for_pds, fake.appview())
    counts = fetch_bluesky(["@alice.bsky.social", fake.BOB], out, posts=3, clients=clients)
    assert counts == {"actors": 2, "records": 6, "profiles": 2}
    assert fake.pds == [f"https://pds.example/{fake.ALICE}", f"https://pds.example/{fake.BOB}"]
    posts = json.loads((out / "records" / "did_plc_alice" / "app.bsky.feed.post.json").read_text())
    assert [r["cid"] for r in posts["records"]] == ["c3", "c2", "c1"]  # both pages, in order
    ds, _ = import_platform("bluesky", out)
    a, b = fake.ALICE, fake.BOB
    users = dict(ds.users.select("user_id", "handle").iter_rows())
    assert users == {a: "alice.bsky.social", b: "bob.bsky.social"}
    assert ds.posts.height == 4
    assert {(a, b)} == set(ds.follows.select("src", "dst").iter_rows())
    assert _edges(ds) == {(a, b, "mention"), (a, b, "reply"), (a, b, "like")}
    # the limit stops paging: one record per collection, the second page never asked for
    fake.calls.clear()
    fetch_bluesky([a], tmp_path / "one", posts=1, follows=0, clients=clients)
    assert (a, "app.bsky.feed.post", None) in fake.calls
    assert all(cursor is None for _, _, cursor in fake.calls)
    assert not any(c == "app.bsky.graph.follow" for _, c, _ in fake.calls)
    with pytest.raises(ConfigError, match="cannot resolve"):
        fetch_bluesky(["nobody.example"], tmp_path / "x", clients=clients)
    with pytest.raises(ConfigError, match="at least one"):
        fetch_bluesky([], tmp_path / "x", clients=clients)


class _FakeX:
    """tweepy.Client(return_type=dict): API v2 JSON answered from memory, paged by next_token."""

    def __init__(self) -> None:
        self.alice = {"id": "1", "username": "alice", "name": "Alice",
                      "created_at": "2020-01-02T00:00:00.000Z",
                      "public_metrics": {"followers_count": 5}}  # fmt: skip
        self.bob = {"id": "2", "username": "bob", "name": "Bob",
                    "created_at": "2021-01-02T00:00:00.000Z"}  # fmt: skip
        self.carol = {"id": "3", "username": "carol", "created_at": "2022-01-02T00:00:00.000Z"}
        self.tweets = [
            {"id": "13", "author_id": "1", "text": "hello @bob", "lang": "en",
             "created_at": "2024-01-03T00:00:00.000Z",
             "entities": {"mentions": [{"username": "bob", "id": "2"}]}},
            {"id": "12", "author_id": "1", "text": "@bob yes", "lang": "en",
             "created_at": "2024-01-02T00:00:00.000Z", "in_reply_to_user_id": "2",
             "referenced_tweets": [{"type": "replied_to", "id": "90"}]},
            {"id": "11", "author_id": "1", "text": "look", "lang": "en",
             "created_at": "2024-01-01T00:00:00.000Z",
             "referenced_tweets": [{"type": "quoted", "id": "90"}]},
        ]  # fmt: skip
        self.quoted = {"id": "90", "author_id": "2", "text": "tulips",
                       "created_at": "2023-12-31T00:00:00.000Z"}  # fmt: skip
        self.calls: list[tuple[str, Any]] = []

    def get_users(self, usernames: list[str], **kw: Any) -> dict[str, Any]:
        known = {"alice": self.alice, "bob": self.bob}
        return {"data": [known[u.lower()] for u in usernames if u.lower() in known]}

    def _paged(self, what: str, items: list[Any], kw: dict[str, Any], **extra: Any) -> Any:
        self.calls.append((what, kw.get("pagination_token")))
        start = int(kw.get("pagination_token") or 0)
        page = items[start : start + 2]
        meta = {"result_count": len(page)}
        if start + 2 < len(items):
            meta["next_token"] = str(start + 2)
        return {"data": page, "meta": meta, **extra} if page else {"meta": {"result_count": 0}}

    def get_users_tweets(self, id: str, **kw: Any) -> Any:
        assert "referenced_tweets.id.author_id" in kw["expansions"]
        own = [t for t in self.tweets if t["author_id"] == id]
        inc = {"includes": {"users": [self.alice, self.bob], "tweets": [self.quoted]}}
        return self._paged("tweets", own, kw, **inc)

    def get_users_following(self, id: str, **kw: Any) -> Any:
        return self._paged("following", [self.bob, self.carol] if id == "1" else [], kw)

    def get_users_followers(self, id: str, **kw: Any) -> Any:
        return self._paged("followers", [self.alice] if id == "2" else [], kw)


def test_fetch_x_saves_api_pages_the_importer_reads(tmp_path: Path) -> None:
    from graphsona.errors import ConfigError
    from graphsona.loaders.platforms.fetch import fetch_x

    client = _FakeX()
    out = tmp_path / "x"
    counts = fetch_x(["@alice", "bob"], out, posts=3, client=client)
    assert counts == {"users": 2, "tweets": 3, "following": 2, "followers": 1}
    assert sorted(f.name for f in (out / "tweets").iterdir()) == ["1-0.json", "1-1.json"]
    ds, _ = import_platform("x-api", out)
    assert set(ds.users["user_id"]) == {"1", "2", "3"}
    assert set(ds.posts["post_id"]) == {"11", "12", "13", "90"}
    # bob's follower list names alice again: one follow, not two
    assert set(ds.follows.select("src", "dst").iter_rows()) == {("1", "2"), ("1", "3")}
    assert ds.follows.height == 2
    assert _edges(ds) == {("1", "2", "mention"), ("1", "2", "reply"), ("1", "2", "quote")}
    # limits: one page of tweets, no follows asked for
    client.calls.clear()
    fetch_x(["alice"], tmp_path / "two", posts=2, follows=0, client=client)
    assert client.calls == [("tweets", None)]
    with pytest.raises(ConfigError, match="no user named nobody"):
        fetch_x(["alice", "nobody"], tmp_path / "three", client=client)
    assert not (tmp_path / "three").exists()


class _FakeReddit:
    """praw.Reddit's subreddit/redditor listings over plain objects (no network)."""

    def __init__(self) -> None:
        def comment(cid: str, author: str | None, parent: str, body: str, t: int) -> _NS:
            who = _NS(name=author) if author else None
            return _NS(id=cid, author=who, body=body, parent_id=parent, created_utc=t,
                       link_id="t3_s1", subreddit=_NS(display_name="gardening"), score=1)  # fmt: skip

        self.comments = [
            comment("c1", "bob", "t3_s1", "nice roses u/carol", 1_704_070_000),
            comment("c2", "alice", "t1_c1", "thanks", 1_704_080_000),
            comment("c3", None, "t1_c1", "[deleted]", 1_704_090_000),
        ]
        self.replaced: list[int | None] = []

        def replace_more(limit: int | None) -> None:
            self.replaced.append(limit)

        forest = _NS(replace_more=replace_more, list=lambda: list(self.comments))
        self.submissions = [
            _NS(id="s1", author=_NS(name="alice"), title="Roses", selftext="my roses",
                created_utc=1_704_060_000, subreddit=_NS(display_name="gardening"),
                num_comments=3, score=10, comments=forest),
        ]  # fmt: skip

    def subreddit(self, name: str) -> Any:
        assert name == "gardening"
        return _NS(new=lambda limit: iter(self.submissions[:limit]))

    def redditor(self, name: str) -> Any:
        own = [c for c in self.comments if c.author and c.author.name == name]
        return _NS(
            submissions=_NS(new=lambda limit: iter([])),
            comments=_NS(new=lambda limit: iter(own[:limit])),
        )


def test_fetch_reddit_saves_dump_lines_the_importer_reads(tmp_path: Path) -> None:
    from graphsona.errors import ConfigError
    from graphsona.loaders.platforms.fetch import fetch_reddit

    client = _FakeReddit()
    out = tmp_path / "reddit"
    counts = fetch_reddit(["r/gardening"], out, posts=5, comments=10, client=client)
    assert counts == {"submissions": 1, "comments": 3}
    assert client.replaced == [0]  # no "load more" round trips
    line = json.loads((out / "RC_r_gardening.jsonl").read_text().splitlines()[0])
    assert line == {"id": "c1", "author": "bob", "created_utc": 1_704_070_000,
                    "body": "nice roses u/carol", "parent_id": "t3_s1", "link_id": "t3_s1",
                    "subreddit": "gardening", "score": 1}  # fmt: skip
    ds, _ = import_platform("reddit", out)
    assert set(ds.posts["post_id"]) == {"t3_s1", "t1_c1", "t1_c2"}
    assert _edges(ds) == {("bob", "alice", "reply"), ("alice", "bob", "reply"),
                          ("bob", "carol", "mention")}  # fmt: skip
    # a user's comments alone: their parents are not in the files (a counted repair)
    counts = fetch_reddit(["u/alice"], tmp_path / "u", posts=5, comments=10, client=client)
    assert counts == {"submissions": 0, "comments": 1}
    assert read_platform("reddit", tmp_path / "u").repairs["reddit.parent_not_in_dump"] == 1
    with pytest.raises(ConfigError, match="r/NAME"):
        fetch_reddit(["gardening"], tmp_path / "bad", client=client)
