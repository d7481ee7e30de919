"""Privacy (issue 17): keyed pseudonyms at load, PII scrubbing, and erasure (graphsona forget)
that leaves nothing of a person in the store, the vector cache, the work dir or the exports,
on both stores, after an update, and after a crash mid-erasure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from graphsona.embeddings.cache import VectorCache
from graphsona.errors import ConfigError, DataValidationError, StoreError
from graphsona.graph import EmbeddedStore, GraphStore
from graphsona.jobs.forget import JOURNAL, LOG, run_forget
from graphsona.jobs.profile import run_profile
from graphsona.jobs.update import run_update
from graphsona.jobs.workdir import record_outputs
from graphsona.loaders import LoadOptions, load_dataset, load_frames
from graphsona.outputs.export import export_results
from graphsona.outputs.report import write_report
from graphsona.privacy import (
    KEY_ENV,
    PrivacyPolicy,
    PrivacySettings,
    Pseudonymizer,
    default_key_file,
    resolve_key,
    store_policy,
)
from graphsona.privacy.scrub import scrub_column
from helpers import run_cli, split_network, update_config, write_table

KEY = "k" * 32


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY.encode()


def _tiny() -> dict[str, pl.DataFrame]:
    users = pl.DataFrame(
        {
            "user_id": ["alice1", "bob22", "carol3"],
            "handle": ["Alice", "bob", "@carol"],
            "bio": ["mail me: alice@example.org", "call +44 20 7946 0958", "no pii"],
        }
    )
    posts = pl.DataFrame(
        {
            "post_id": ["t1", "t2", "t3"],
            "user_id": ["alice1", "bob22", "carol3"],
            "text": [
                "hey @bob and @CAROL, see https://x.com/alice/status/1 on 2024-01-15",
                "write to bob.smith@mail.example.com or (555) 123-4567",
                "thanks @alice!",
            ],
        }
    )
    follows = pl.DataFrame(
        {"src": ["alice1", "bob22", "carol3"], "dst": ["bob22", "carol3", "alice1"]}
    )
    return {"users": users, "posts": posts, "follows": follows}


# ------------------------------------------------------------------ pseudonyms and scrubbing
def _expected(key: bytes, label: bytes, value: str, fmt: int) -> str:
    """A pseudonym as the module docstring defines it, from :func:`hmac.new`."""
    mac = hmac.new(key, label + b"\x00" + value.encode(), hashlib.sha256).digest()
    if fmt == 1:
        return label[:1].decode() + "_" + mac.hex()[:20]
    return label[:1].decode() + base64.urlsafe_b64encode(mac[:9]).decode()[:11]


def test_pseudonyms_are_keyed_stable_and_distinct_by_kind() -> None:
    a, b = Pseudonymizer(b"x" * 32), Pseudonymizer(b"y" * 32)
    # exactly HMAC-SHA256 (RFC 2104), for short, block-sized and longer-than-block keys, in
    # both formats (format 1: stores made before format 2)
    for key in (b"k" * 16, b"x" * 64, b"y" * 100):
        for fmt in (1, 2):
            mine = Pseudonymizer(key, fmt)
            for label, one in (
                (b"user", mine.user),
                (b"post", mine.post),
                (b"handle", mine.handle),
            ):
                for v in ("42", "al\u00efce", "", "many" * 40):
                    assert one(v) == _expected(key, label, v, fmt)
            col = mine.users(pl.Series("user_id", ["42", None, "7", "42"]))
            assert col.to_list() == [mine.user("42"), None, mine.user("7"), mine.user("42")]
    assert a.user("42") == a.user("42") and a.user("42").startswith("u")
    assert len(a.user("42")) == len(a.post("42")) == len(a.handle("x")) == 12  # format 2
    assert len(Pseudonymizer(b"x" * 32, 1).user("42")) == 22
    assert a.user("42") != b.user("42")  # another key, another pseudonym
    assert a.user("alice")[1:] != a.handle("alice")[1:]  # kinds hashed apart
    assert a.handle("@Alice") == a.handle("alice")  # handles: no @, no case
    assert a.post("42").startswith("p")
    texts = pl.Series(["hi @Alice and @bob@mastodon.social", "mail a@b.co", None])
    out, n = a.mentions(texts)
    assert n == 2
    assert out[0] == f"hi @{a.handle('alice')} and @{a.handle('bob@mastodon.social')}"
    assert out[1] == "mail a@b.co" and out[2] is None  # an e-mail is not a mention


def test_scrubbing_replaces_and_counts_each_kind_and_leaves_dates() -> None:
    frame = pl.DataFrame(
        {
            "t": [
                "mail bob@example.com",
                "+44 20 7946 0958, (555) 123-4567 and 555.123.4567",
                "on 2024-01-15 at 12:30, 100000 users",
                "see https://x.com/alice/status/123 and https://example.org",
                "hi @alice",
            ]
        }
    )
    out, counts = scrub_column(frame, "t", ("email", "phone", "url", "handle"))
    assert counts == {"email": 1, "phone": 3, "url": 1, "handle": 1}
    assert out["t"].to_list() == [
        "mail [email]",
        "[phone], [phone] and [phone]",
        "on 2024-01-15 at 12:30, 100000 users",
        "see https://x.com/[path] and https://example.org",
        "hi @user",
    ]
    none, counts = scrub_column(frame, "t", ())
    assert none.equals(frame) and counts == {}


def test_scrubbing_and_mentions_reach_texts_the_fast_prefilters_could_miss() -> None:
    """The cheap tests that pick which texts the full patterns run on must not skip one: a
    phone in full-width or Arabic-Indic digits, a phone beside emoji, a mention right after
    a non-ASCII letter or at the very start, an e-mail address that is no mention."""
    frame = pl.DataFrame(
        {
            "t": [
                "电话 １３８ ００１３ ８０００ 谢谢",
                "call ٠٢٠ ٧٩٤٦ ٠٩٥٨",
                "😂 ring 555 123 4567 🚀",
                "😂 no digits here",
                None,
            ]
        }
    )
    out, counts = scrub_column(frame, "t", ("phone",))
    assert counts == {"phone": 3}
    assert out["t"].to_list() == [
        "电话 [phone] 谢谢",
        "call [phone]",
        "😂 ring [phone] 🚀",
        "😂 no digits here",
        None,
    ]
    p = Pseudonymizer(b"k" * 32)
    texts = pl.Series(["@Alice first", "你好@bob", "mail carol@example.org", "é@dave", None])
    got, n = p.mentions(texts)
    assert n == 3
    assert got.to_list() == [
        f"@{p.handle('alice')} first",
        f"你好@{p.handle('bob')}",
        "mail carol@example.org",
        f"é@{p.handle('dave')}",
        None,
    ]


def test_edge_columns_map_known_and_unseen_ids_alike() -> None:
    p = Pseudonymizer(b"k" * 32)
    users = p.users(pl.Series("user_id", ["a", "b"]))
    edges = pl.DataFrame({"src": ["a", "b", "x", None], "dst": ["b", "a", "a", "y"], "w": [1] * 4})
    out = edges.with_columns(p.users(edges[c]) for c in ("src", "dst"))
    assert out["src"].to_list() == [users[0], users[1], p.user("x"), None]
    assert out["dst"].to_list() == [users[1], users[0], users[0], p.user("y")]
    assert out["w"].to_list() == [1] * 4
    with pytest.raises(ConfigError, match="UTF-8"):
        Pseudonymizer(b"\xff" * 32)


def test_key_comes_from_env_then_key_file_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no default key file yet
    with pytest.raises(ConfigError, match=KEY_ENV):
        resolve_key(None)
    default_key_file().parent.mkdir(parents=True, exist_ok=True)
    default_key_file().write_text("d" * 20 + "\n")
    try:
        assert resolve_key(None) == b"d" * 20
        kf = tmp_path / "k.key"
        kf.write_text("f" * 20)
        assert resolve_key(kf) == b"f" * 20
        monkeypatch.setenv(KEY_ENV, "e" * 20)
        assert resolve_key(kf) == b"e" * 20
        monkeypatch.setenv(KEY_ENV, "short")
        with pytest.raises(ConfigError, match="shorter than 16"):
            resolve_key(kf)
        monkeypatch.delenv(KEY_ENV)
        with pytest.raises(ConfigError, match="not found"):
            resolve_key(tmp_path / "missing.key")
    finally:
        default_key_file().unlink()


def test_pseudonymised_load_keeps_no_raw_ids_and_the_store_refuses_mixing(
    store: GraphStore, tmp_path: Path, key_env: bytes
) -> None:
    p = Pseudonymizer(key_env)
    policy = PrivacySettings(pseudonymise=True, scrub=("email", "phone", "url")).policy()
    ds, report = load_frames(**_tiny(), options=LoadOptions(privacy=policy))
    assert report.issues["posts.scrubbed_email"] == 1
    assert report.issues["posts.scrubbed_phone"] == 1
    assert report.issues["posts.scrubbed_url"] == 1
    assert report.issues["posts.mentions_pseudonymised"] == 3
    assert report.issues["users.scrubbed_email"] == 1 and report.issues["users.scrubbed_phone"] == 1
    store.load(ds)
    users = store.read_users().sort("user_id")
    posts = store.read_posts()
    assert set(users["user_id"]) == {p.user(u) for u in ("alice1", "bob22", "carol3")}
    assert set(users["handle"]) == {p.handle(h) for h in ("alice", "bob", "carol")}
    assert set(posts["post_id"]) == {p.post(x) for x in ("t1", "t2", "t3")}
    assert set(store.read_follows()["src"]) <= set(users["user_id"])
    everything = " ".join(str(v) for f in (users, posts) for row in f.rows() for v in row)
    for raw in (
        "alice1",
        "bob22",
        "carol3",
        "Alice",
        "@bob",
        "@CAROL",
        "example",
        "7946",
        "status",
    ):
        assert raw not in everything, raw
    hey = posts.filter(pl.col("post_id") == p.post("t1"))["text"][0]
    assert f"@{p.handle('bob')}" in hey and f"@{p.handle('carol')}" in hey  # mentions line up
    assert "2024-01-15" in hey  # a date is not a phone number
    # the re-identification table, kept apart, joins back for its holder only
    reid = tmp_path / "secure" / "reid.parquet"
    policy.write_reid(reid)
    back = pl.read_parquet(reid).join(users.select("user_id"), on="user_id")
    assert sorted(back["raw_user_id"]) == ["alice1", "bob22", "carol3"]
    # raw ids into this store, or another key's pseudonyms, are refused before any write
    before = store.counts()
    raw, _ = load_frames(**_tiny())
    with pytest.raises(StoreError, match="holds pseudonyms"):
        store.load(raw)
    other, _ = load_frames(**_tiny(), options=LoadOptions(privacy=PrivacyPolicy(key=b"o" * 32)))
    with pytest.raises(StoreError, match="another key"):
        store.load(other)
    assert store.counts() == before
    # the same key again: the same people, nobody doubled
    again, _ = load_frames(
        **_tiny(), options=LoadOptions(privacy=PrivacySettings(pseudonymise=True).policy())
    )
    store.load(again)
    assert store.counts()["users"] == 3


def test_a_store_keeps_the_pseudonym_format_it_was_made_with(
    store: GraphStore, key_env: bytes
) -> None:
    """A store pseudonymised in format 1 (22-character ids, before format 2) keeps getting
    format-1 ids from the loads that follow it (`update`, `stream`), and a plain load in
    format 2 is refused instead of doubling everybody."""
    old = PrivacyPolicy(key=key_env, scrub=(), pseudonym_format=1)
    store.load(load_frames(**_tiny(), options=LoadOptions(privacy=old))[0])
    meta = store.read_meta()
    follow = store_policy(meta)
    assert follow is not None and follow.pseudonym_format == 1
    legacy = json.loads(meta["privacy"])
    del legacy["pseudonym_format"]  # as stores made before formats were recorded
    assert store_policy({"privacy": json.dumps(legacy)}).pseudonym_format == 1  # type: ignore[union-attr]
    store.load(load_frames(**_tiny(), options=LoadOptions(privacy=follow))[0])
    one = Pseudonymizer(key_env, 1)
    assert set(store.read_users()["user_id"]) == {
        one.user(u) for u in ("alice1", "bob22", "carol3")
    }
    before = store.counts()
    new = LoadOptions(privacy=PrivacySettings(pseudonymise=True, scrub=()).policy())
    with pytest.raises(StoreError, match="format 1 and this load's of format 2"):
        store.load(load_frames(**_tiny(), options=new)[0])
    assert store.counts() == before


def test_two_ids_with_one_pseudonym_are_refused_naming_both() -> None:
    p = Pseudonymizer(b"k" * 32)
    real = p._mac
    # a collision cannot be found by search at 66 bits: make every post id hash alike
    p._mac = lambda kind, values: real(kind, values.str.slice(0, 1))  # type: ignore[method-assign]
    with pytest.raises(DataValidationError, match="'a1' and 'a2' get the same pseudonym"):
        p.posts(pl.Series(["a1", "a2", "b1"]))
    with pytest.raises(DataValidationError, match="same pseudonym"):
        p.users(pl.Series(["a1", "a2"]))


# ------------------------------------------------------------------ erasure
def _strings(value: Any) -> str:
    return json.dumps(value, default=str)


def _store_dump(store: GraphStore) -> str:
    """Every property of every node and link, as text."""
    if store.dialect == "neo4j":
        nodes = store.run("MATCH (n) RETURN apoc.convert.toJson(properties(n)) AS p")
        links = store.run("MATCH ()-[r]->() RETURN apoc.convert.toJson(properties(r)) AS p")
        return _strings(nodes["p"].to_list()) + _strings(links["p"].to_list())
    tables = store.run("CALL show_tables() RETURN name, type")
    out = []
    for name, kind in tables.rows():
        q = f"MATCH (n:{name}) RETURN n" if kind == "NODE" else f"MATCH ()-[r:{name}]->() RETURN r"
        out.append(_strings(store.run(q).to_dicts()))
    return "".join(out)


def _files_dump(root: Path) -> list[tuple[Path, str]]:
    """Every file under ``root``: Parquet read (its strings compress), others as bytes."""
    out = []
    for f in sorted(root.rglob("*")):
        if not f.is_file():
            continue
        if f.suffix == ".parquet":
            out.append((f, _strings(pl.read_parquet(f).to_dicts())))
        else:
            out.append((f, f.read_bytes().decode("latin-1")))
    return out


def _cached(cache: VectorCache, keys: list[bytes]) -> int:
    """Rows of the cache under ``keys`` (read from the file itself)."""
    marks = ",".join("?" * len(keys))
    q = f"SELECT count(*) FROM vectors_v2 WHERE key IN ({marks})"
    return int(cache._db.execute(q, keys).fetchone()[0])


def _profiled(store: GraphStore, tmp_path: Path) -> dict[str, Any]:
    """A pseudonymised store, profiled, exported and reported, then updated with a delta."""
    split = split_network(tmp_path)
    cfg = update_config(tmp_path)
    policy = PrivacySettings(pseudonymise=True).policy()
    store.load(load_dataset(tmp_path / "base", LoadOptions(privacy=policy))[0])
    run_profile(store, cfg)
    written = export_results(store, tmp_path / "export")
    report = write_report(store, tmp_path / "report.html", work_dir=cfg.work_dir)
    record_outputs(cfg.work_dir, [*written.values(), Path(report)])  # type: ignore[arg-type]
    run_update(store, tmp_path / "delta", cfg)
    return {"split": split, "cfg": cfg}


def _person(tmp_path: Path, raw_ids: list[str], key: bytes) -> list[str]:
    """Everything that identifies ``raw_ids`` once stored: pseudonyms of id, handle and posts,
    and their post texts."""
    p = Pseudonymizer(key)
    users = pl.concat([pl.read_parquet(tmp_path / d / "users.parquet") for d in ("base", "delta")])
    posts = pl.concat(
        [pl.read_parquet(tmp_path / d / "posts.parquet") for d in ("base", "delta")],
        how="diagonal_relaxed",
    ).filter(pl.col("user_id").is_in(raw_ids))
    users = users.filter(pl.col("user_id").is_in(raw_ids))
    texts = [t for t in posts["text"].to_list() if len(t) > 30]  # long enough to be theirs only
    return [
        *(p.user(u) for u in raw_ids),
        *(p.handle(h) for h in users["handle"].to_list()),
        *(p.post(x) for x in posts["post_id"].to_list()),
        *texts,
    ]


def test_forget_leaves_nothing_of_the_person_anywhere(
    store: GraphStore, tmp_path: Path, key_env: bytes
) -> None:
    got = _profiled(store, tmp_path)
    cfg, split = got["cfg"], got["split"]
    # one who came with the update, and from the full run the author of a post an alert
    # quotes as evidence (else any earlier user)
    p = Pseudonymizer(key_env)
    raw_of = {p.user(u): u for u in split["net"].users["user_id"].to_list()}
    old = split["net"].users.filter(~pl.col("user_id").is_in(split["new"]))["user_id"][5]
    quoted = store.run("MATCH (a:Alert) RETURN a.sample_posts AS s")["s"].explode().drop_nulls()
    if quoted.len():
        posts = store.read_posts().filter(pl.col("post_id").is_in(quoted.to_list()))
        authors = [raw_of[u] for u in posts["user_id"].to_list() if raw_of[u] not in split["new"]]
        old = authors[0] if authors else old
    gone = [split["new"][0], old]
    needles = _person(tmp_path, gone, key_env)
    cache = VectorCache(cfg.cache)
    texts = [n for n in needles if " " in n]
    assert texts and _cached(cache, cache.keys_of(texts)) > 0
    assert any(n in _store_dump(store) for n in needles)
    before = store.counts()

    result = run_forget(store, gone, work_dir=cfg.work_dir, cache=cfg.cache)

    assert result.found == 2 and result.counts["users"] == 2
    assert store.counts()["users"] == before["users"] - 2
    dump = _store_dump(store)
    left = [n for n in needles if n in dump]
    assert not left, f"the store still holds {left[:3]}"
    for f, text in _files_dump(cfg.work_dir) + _files_dump(tmp_path / "export"):
        left = [n for n in needles if n in text]
        assert not left, f"{f} still holds {left[:3]}"
    assert not (tmp_path / "report.html").exists() or not any(
        n in (tmp_path / "report.html").read_text() for n in needles
    )
    keys = cache.keys_of(texts)
    assert (
        keys
        and not cache._db.execute(
            f"SELECT count(*) FROM vectors_v2 WHERE key IN ({','.join('?' * len(keys))})", keys
        ).fetchone()[0]
    )
    cache.close()
    if isinstance(store, EmbeddedStore):  # compacted: not even deleted bytes stay in the file
        raw = store.path.read_bytes().decode("latin-1")
        found = {n: raw.index(n) for n in needles[:2] if n in raw}
        assert not found, f"compacted {store.last_compaction}; the file still holds " + "; ".join(
            f"{n!r} at byte {at}: {raw[max(0, at - 120) : at + 120]!r}" for n, at in found.items()
        )
    # aggregates: sizes recounted, communities that held them marked stale
    sizes = store.run(
        "MATCH (c:Community) OPTIONAL MATCH (u:User)-[:IN_COMMUNITY]->(c) "
        "RETURN c.community_id AS id, c.size AS size, count(u) AS members, c.stale AS stale"
    )
    assert (sizes["size"] == sizes["members"]).all()
    assert sizes["stale"].sum() >= 1
    # the log counts, never names
    log = (cfg.work_dir / LOG).read_text()
    assert '"users": 2' in log and not any(n in log for n in needles)
    assert not (cfg.work_dir / JOURNAL).exists()
    # updates keep working on the rewritten state, and say a full run is due
    (tmp_path / "d2").mkdir()
    write_table(
        tmp_path / "d2",
        "follows",
        split["net"]
        .follows.filter(~pl.col("src").is_in(gone) & ~pl.col("dst").is_in(gone))
        .head(3),
    )
    res = run_update(store, tmp_path / "d2", cfg)
    assert res.drift["retrain_due"] and "erased" in " ".join(res.drift["reasons"])
    assert store.counts()["users"] == before["users"] - 2


def test_store_text_false_keeps_post_text_out_of_the_store(
    store: GraphStore, tmp_path: Path, key_env: bytes
) -> None:
    """``[privacy] store_text = false``: the store holds ids, times and derived labels only;
    the job still reads the texts (from the text file), updates add to the file, a load that
    would put text back is refused, and erasure removes a person's texts from the file."""
    split = split_network(tmp_path)
    cfg = update_config(tmp_path)
    texts_at = tmp_path / "secure" / "texts.parquet"
    settings = PrivacySettings(pseudonymise=True, store_text=False, text_file=texts_at)
    assert PrivacySettings(store_text=False).check()  # a text file is required
    store.load(load_dataset(tmp_path / "base", LoadOptions(privacy=settings.policy()))[0])
    base_posts = pl.read_parquet(tmp_path / "base" / "posts.parquet")
    long_texts = [t for t in base_posts["text"].to_list() if len(t) > 30]
    assert long_texts and not [t for t in long_texts[:50] if t in _store_dump(store)]
    kept = pl.read_parquet(texts_at)
    assert kept.height == base_posts.height and set(long_texts) <= set(kept["text"])
    # every read of posts gets the text back for the job
    assert store.read_posts()["text"].null_count() == 0
    result = run_profile(store, cfg)
    assert result.communities.height >= 2 and result.communities["name"].str.len_chars().min()
    dump = _store_dump(store)
    assert not [t for t in long_texts if t in dump]  # nor in alerts' sample texts
    labelled = "MATCH (p:Post) WHERE p.sentiment IS NOT NULL RETURN count(*) AS n"
    assert store.run(labelled)["n"][0] > 0  # derived labels are kept
    # an update follows the store's policy: new texts go to the file, not the store
    run_update(store, tmp_path / "delta", cfg)
    delta_texts = pl.read_parquet(tmp_path / "delta" / "posts.parquet")["text"].to_list()
    assert set(delta_texts) <= set(pl.read_parquet(texts_at)["text"])
    assert not [t for t in delta_texts if len(t) > 30 and t in _store_dump(store)]
    # a load that would put the text into the store is refused
    plain = PrivacySettings(pseudonymise=True).policy()
    with pytest.raises(StoreError, match="keeps its post text in"):
        store.load(load_dataset(tmp_path / "delta", LoadOptions(privacy=plain))[0])
    # erasure takes the person's texts out of the file (and their vectors out of the cache)
    delta_posts = pl.read_parquet(tmp_path / "delta" / "posts.parquet")
    gone = delta_posts.filter(pl.col("user_id").is_in(split["new"]))["user_id"].head(1).to_list()
    theirs = delta_posts.filter(pl.col("user_id").is_in(gone))["text"].to_list()
    cache = VectorCache(cfg.cache)
    assert theirs and _cached(cache, cache.keys_of(theirs)) > 0
    run_forget(store, gone, work_dir=cfg.work_dir, cache=cfg.cache)
    left = set(pl.read_parquet(texts_at)["text"])
    assert not [t for t in theirs if t in left]
    assert _cached(cache, cache.keys_of(theirs)) == 0
    cache.close()


@pytest.mark.parametrize("crash", ["forget:posts", "forget:store", "forget:work_dir"])
def test_killed_erasure_is_completed_by_a_rerun(tmp_path: Path, crash: str) -> None:
    split_network(tmp_path)
    env_key = {KEY_ENV: KEY}
    os.environ.update(env_key)
    try:
        conf = tmp_path / "job.toml"
        conf.write_text("[privacy]\npseudonymise = true\n")
        common = ["--cache", str(tmp_path / "vectors.sqlite")]
        one = tmp_path / "one" / "graph.lbdb"
        one.parent.mkdir()
        load = run_cli("load", str(tmp_path / "base"), "--store", str(one), "--config", str(conf))
        assert load.returncode == 0, load.stderr
        prof = run_cli(
            "profile", "--store", str(one), "--fast", "--epochs", "5", "--dim", "16", *common
        )
        assert prof.returncode == 0, prof.stderr
        two = tmp_path / "two"
        shutil.copytree(tmp_path / "one", two)
        users = pl.read_parquet(tmp_path / "base" / "users.parquet")["user_id"].head(3).to_list()
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(users[1:]) + "\n")
        args = ["forget", users[0], "--file", str(ids), *common]
        ok = run_cli(*args, "--store", str(two / "graph.lbdb"), "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["found"] == 3
        killed = run_cli(*args, "--store", str(one), crash=crash)
        assert killed.returncode == -9
        assert (tmp_path / "one" / "graph.lbdb.runs" / JOURNAL).exists()
        rerun = run_cli("forget", "--store", str(one), "--json", *common)  # no ids: completes
        assert rerun.returncode == 0, rerun.stderr
        assert json.loads(rerun.stdout)["resumed_earlier_erasure"] is True
        assert not (tmp_path / "one" / "graph.lbdb.runs" / JOURNAL).exists()
        with (
            EmbeddedStore(one, read_only=True) as a,
            EmbeddedStore(two / "graph.lbdb", read_only=True) as b,
        ):
            assert a.counts() == b.counts()
            assert sorted(a.read_user_ids().to_list()) == sorted(b.read_user_ids().to_list())
            q = "MATCH (c:Community) RETURN c.community_id AS id, c.size AS size, c.stale AS stale ORDER BY id"
            assert a.run(q).equals(b.run(q))
        p = Pseudonymizer(KEY.encode())
        raw = one.read_bytes().decode("latin-1")
        assert not [u for u in users if p.user(u) in raw]
    finally:
        os.environ.pop(KEY_ENV, None)


# ------------------------------------------------------------------ minimum group size
def test_small_groups_are_suppressed_in_frames() -> None:
    from graphsona.privacy.groups import (
        publishable_alerts,
        publishable_communities,
        publishable_topics,
    )

    names = pl.DataFrame(
        {
            "community_id": [0, 1],
            "name": ["gardening / compost", "u_abc / vinyl"],
            "description": ["influential: u_x", "influential: u_abc"],
            "terms": [["compost", "soil"], ["vinyl"]],
            "top_members": [["u_x", "u_y"], ["u_abc"]],
            "size": [40, 3],
            "mood": [0.2, -0.9],
        }
    )
    shown = publishable_communities(names, 5)
    small = shown.filter(pl.col("community_id") == 1).row(0, named=True)
    assert small["name"] == "small group 1" and small["description"] == ""
    assert small["terms"] == [] and small["top_members"] == [] and small["mood"] is None
    assert small["size"] == 3 and small["suppressed"] is True
    assert shown.filter(pl.col("community_id") == 0).row(0, named=True)["name"] == names["name"][0]
    topics = pl.DataFrame(
        {"topic_id": [0, 1], "name": ["a", "b"], "terms": [["x"], ["y"]], "size": [50, 9]}
    )
    authors = pl.DataFrame({"topic_id": [0, 1], "authors": [20, 2]})
    t = publishable_topics(topics, authors, 5)
    assert t["name"].to_list() == ["a", "small topic 1"] and t["terms"].to_list() == [["x"], []]
    alerts = pl.DataFrame(
        {
            "alert_id": ["A1", "A2", "A3"],
            "community_id": [1, None, 0],
            "topic_id": [None, 1, None],
            "communities": [[1], [0, 1], [0]],
        }
    )
    a = publishable_alerts(alerts, [1], [1])
    assert a["alert_id"].to_list() == ["A3"]


@pytest.mark.parametrize("k", [1, 10**6])
def test_min_group_size_holds_in_the_store_queries_and_exports(
    store: GraphStore, small_dataset: Any, tmp_path: Path, k: int
) -> None:
    from dataclasses import replace

    from graphsona.queries.library import run_named

    store.load(small_dataset)
    cfg = replace(update_config(tmp_path), min_group_size=k)
    run_profile(store, cfg)
    communities = run_named(store, "communities", {"limit": 1000})
    users = store.read_users()
    written = export_results(store, tmp_path / "export")
    exported = pl.read_parquet(written["communities"])
    from graphsona.jobs.monitoring import monitor_store

    alerts_now, series = monitor_store(store, min_group_size=k)
    if k == 1:  # nothing is too small
        assert not communities["name"].str.starts_with("small group").any()
        assert (communities["top_members"].list.len() > 0).all()
        assert series.height > 0
        return
    assert series.height == 0 and alerts_now.height == 0
    assert communities["name"].str.starts_with("small group").all()
    assert (communities["top_members"].list.len() == 0).all()
    assert (communities["terms"].list.len() == 0).all()
    assert users["community_name"].str.starts_with("small group").all()
    assert exported["name"].str.starts_with("small group").all()
    assert (exported["top_members"].list.len() == 0).all()
    topics = store.read_topics()
    if topics.height:
        assert topics["name"].str.starts_with("small topic").all()
    try:
        alerts = store.run("MATCH (a:Alert) RETURN count(a) AS n")["n"][0]
    except StoreError:  # no alert table: none was ever written
        alerts = 0
    assert alerts == 0


def test_load_command_applies_the_privacy_settings(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name, frame in _tiny().items():
        write_table(data, name, frame)
    store = str(tmp_path / "g.lbdb")
    os.environ[KEY_ENV] = KEY
    try:
        got = run_cli(
            "load", str(data), "--store", store, "--json",
            "--set", "privacy.pseudonymise=true",
            "--set", f"privacy.reid_table={tmp_path / 'reid.parquet'}",
        )  # fmt: skip
    finally:
        os.environ.pop(KEY_ENV, None)
    assert got.returncode == 0, got.stderr
    issues = json.loads(got.stdout)["load_report"]["issues"]
    assert issues["posts.scrubbed_phone"] == 1 and issues["posts.mentions_pseudonymised"] == 3
    assert pl.read_parquet(tmp_path / "reid.parquet").height == 3
    # without the key, the next load is refused (it would bring raw ids)
    again = run_cli("load", str(data), "--store", store)
    assert again.returncode == 1 and "pseudonym" in again.stderr
    # placeholders print as text, not as console markup
    shown = run_cli("query", "MATCH (p:Post) RETURN p.text AS t ORDER BY t", "--store", store)
    assert shown.returncode == 0, shown.stderr
    assert "[phone]" in shown.stdout and "[email]" in shown.stdout
