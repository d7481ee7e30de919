"""The incremental update (graphsona update) and the folder stream (graphsona stream --watch):
unchanged users keep their results bit for bit, new users are profiled and queryable, results
agree with a full run on the same data, and a killed update or stream ends, after a restart, in
the state of an uninterrupted one with nothing lost or applied twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from graphsona.errors import DataValidationError
from graphsona.graph import EmbeddedStore, GraphStore, open_store
from graphsona.jobs.profile import run_profile
from graphsona.jobs.state import load_state
from graphsona.jobs.update import run_update
from graphsona.loaders import load_dataset, load_delta
from graphsona.stream.watch import LEDGER, FolderWatch
from helpers import N_USERS, TABLES, run_cli
from helpers import split_network as _split
from helpers import update_config as _cfg


def _users(store: GraphStore) -> pl.DataFrame:
    return store.read_users().sort("user_id")


def test_update_changes_only_what_the_delta_touches(store: GraphStore, tmp_path: Path) -> None:
    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    store.load(load_dataset(tmp_path / "base")[0])
    full = run_profile(store, cfg)
    before = _users(store)
    old_state = load_state(tmp_path / "work")

    result = run_update(store, tmp_path / "delta", cfg)
    after = _users(store)
    state = load_state(tmp_path / "work")

    assert result.new_users == 4 and result.users == N_USERS
    assert (
        result.new_posts
        == split["net"].posts.filter(pl.col("user_id").is_in(split["new"])).height + 1
    )
    # new users are profiled and written, with the update's run id on their result rows
    new = after.filter(pl.col("user_id").is_in(split["new"]))
    assert new.height == 4
    assert new["profile"].null_count() == 0 and new["community_id"].null_count() == 0
    assert (new["result_run_id"] == result.run_id).all()
    assert (new["profile_run_id"] == full.run_id).all()  # inferred by the full run's model
    assert new["influence"].null_count() == 0
    # users outside the encoder's reach of the changes keep their profile bit for bit, in the
    # store and in the state, and keep the full run's result row
    s_old = old_state.users.select("user_id", pl.col("profile").alias("p0"))
    s_new = state.users.join(s_old, on="user_id")
    untouched = s_new.filter(pl.col("run_id") == full.run_id)
    assert 0 < untouched.height < N_USERS - 4, "the delta must leave part of the graph untouched"
    for a, b in zip(untouched["profile"].to_list(), untouched["p0"].to_list(), strict=True):
        assert a == b
    kept = before.join(after, on="user_id", suffix="_after").filter(
        pl.col("user_id").is_in(untouched["user_id"].implode())
    )
    assert (kept["result_run_id_after"] == full.run_id).all()
    assert kept["profile"].to_list() == kept["profile_after"].to_list()
    assert result.written_users == after.filter(pl.col("result_run_id") == result.run_id).height
    assert result.written_users < N_USERS
    # communities: ids kept for nearly every earlier user
    assert result.communities_kept >= 0.85
    # the new posts carry sentiment and a topic; the late post is queryable
    posts = store.run(
        "MATCH (p:Post) WHERE p.post_id = $id RETURN p.sentiment AS s, p.topic_id AS t",
        {"id": "late-1"},
    )
    assert posts.height == 1 and posts["s"][0] is not None and posts["t"][0] is not None
    # drift report
    assert result.drift["new_user_share"] == round(4 / (N_USERS - 4), 4)
    assert result.drift["retrain_due"] is False
    assert state.meta["kind"] == "update" and state.meta["run_id"] == result.run_id


def test_update_agrees_with_a_full_run_on_the_same_data(tmp_path: Path) -> None:
    """Tolerance, on a graph with clear communities: community NMI >= 0.85 between update and
    full run, and each user's ten most similar users as often in the same planted community as
    the full run's (within 0.03). Ten-nearest overlap itself is not compared: two full runs
    with different seeds share few of them when each community is one cloud of look-alikes.
    (On a very sparse graph the full job's own partition is unstable; no agreement is
    promised there.)"""
    from sklearn.metrics import normalized_mutual_info_score

    split = _split(tmp_path, n_new=8, n_users=400, dense=True)
    with open_store(str(tmp_path / "a.lbdb"), create=True) as a:
        a.load(load_dataset(tmp_path / "base")[0])
        run_profile(a, _cfg(tmp_path, "wa"))
        run_update(a, tmp_path / "delta", _cfg(tmp_path, "wa"))
        upd = _users(a)
    with open_store(str(tmp_path / "b.lbdb"), create=True) as b:
        b.load(load_dataset(tmp_path / "full")[0])
        run_profile(b, _cfg(tmp_path, "wb"))
        full = _users(b)
    assert normalized_mutual_info_score(upd["community_id"], full["community_id"]) >= 0.85
    planted = upd["planted_community"].to_numpy()

    def same_community_share(frame: pl.DataFrame) -> float:
        z = np.array(frame["profile"].to_list())
        s = z @ z.T
        np.fill_diagonal(s, -9)
        top = np.argsort(-s, 1)[:, :10]
        return float((planted[top] == planted[:, None]).mean())

    assert same_community_share(upd) >= same_community_share(full) - 0.03
    assert split["new"]  # the delta's users exist in both
    assert set(split["new"]) <= set(upd["user_id"].to_list())


def _cli(*args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, crash=crash)


def _results(path: Path) -> pl.DataFrame:
    with EmbeddedStore(path, read_only=True) as s:
        return (
            s.read_users()
            .sort("user_id")
            .select("user_id", "profile", "community_id", "influence", "result_run_id")
        )


@pytest.mark.parametrize("crash", ["write_back:users", "write_back:topics"])
def test_killed_update_rerun_ends_as_an_uninterrupted_one(tmp_path: Path, crash: str) -> None:
    _split(tmp_path)
    common = ["--cache", str(tmp_path / "vectors.sqlite")]
    one = tmp_path / "one" / "graph.lbdb"
    one.parent.mkdir()
    assert _cli("load", str(tmp_path / "base"), "--store", str(one)).returncode == 0
    prof = _cli("profile", "--store", str(one), "--fast", "--epochs", "10", "--dim", "16", *common)
    assert prof.returncode == 0, prof.stderr
    two = tmp_path / "two"
    shutil.copytree(tmp_path / "one", two)  # the store and its work dir, as after the full run
    ok = _cli("update", str(tmp_path / "delta"), "--store", str(two / "graph.lbdb"), *common)
    assert ok.returncode == 0, ok.stderr
    killed = _cli("update", str(tmp_path / "delta"), "--store", str(one), *common, crash=crash)
    assert killed.returncode == -9
    rerun = _cli("update", str(tmp_path / "delta"), "--store", str(one), "--json", *common)
    assert rerun.returncode == 0, rerun.stderr
    a, b = _results(one), _results(two / "graph.lbdb")
    assert a.height == b.height == N_USERS
    assert a["result_run_id"].to_list() == b["result_run_id"].to_list()
    assert a["community_id"].to_list() == b["community_id"].to_list()
    assert a["profile"].to_list() == b["profile"].to_list()
    assert np.allclose(a["influence"].to_numpy(), b["influence"].to_numpy())
    with (
        EmbeddedStore(one, read_only=True) as s1,
        EmbeddedStore(two / "graph.lbdb", read_only=True) as s2,
    ):
        assert s1.counts() == s2.counts()
        q = "MATCH (p:Post)-[:ABOUT]->(t:Topic) RETURN p.post_id AS post, t.topic_id AS topic ORDER BY post"
        assert s1.run(q).equals(s2.run(q))


def test_delta_validation(tmp_path: Path) -> None:
    known = pl.Series(["a", "b"])
    (tmp_path / "d").mkdir()
    pl.DataFrame({"user_id": ["a"], "text": ["hello"]}).write_csv(tmp_path / "d" / "posts.csv")
    with pytest.raises(DataValidationError) as e:
        load_delta(tmp_path / "d", known)
    assert "post_id" in str(e.value) and "posts.csv" in str(e.value)
    (tmp_path / "d" / "posts.csv").unlink()
    pl.DataFrame({"src": ["a", "c", "x"], "dst": ["b", "a", "b"]}).write_csv(
        tmp_path / "d" / "follows.csv"
    )
    pl.DataFrame({"user_id": ["c"]}).write_csv(tmp_path / "d" / "users.csv")
    ds, report = load_delta(tmp_path / "d", known)
    # rows may name users already stored (a, b) or the delta's own (c); x is unknown: dropped
    assert sorted(ds.follows.select("src", "dst").rows()) == [("a", "b"), ("c", "a")]
    assert report.issues.get("follows.unknown_user") == 1
    with pytest.raises(DataValidationError):
        load_delta(tmp_path / "missing", known)


def test_warm_pagerank_matches_igraph() -> None:
    from graphsona.gnn.influence import pagerank, pagerank_warm

    rng = np.random.default_rng(0)
    ei = torch.from_numpy(rng.integers(0, 500, (2, 4000)))
    w = torch.from_numpy(rng.random(4000).astype(np.float32) + 0.1)
    exact = pagerank(ei, 520, w)  # 20 users without links: dangling and never linked to
    cold, cold_it = pagerank_warm(ei, 520, w, np.full(520, 1 / 520))
    assert np.abs(cold - exact).max() < 1e-9
    more = torch.cat([ei, torch.tensor([[1, 2, 3], [4, 5, 6]])], 1)
    warm, warm_it = pagerank_warm(more, 520, torch.cat([w, torch.ones(3)]), exact)
    assert np.abs(warm - pagerank(more, 520, torch.cat([w, torch.ones(3)]))).max() < 1e-9
    assert warm_it < cold_it


def test_folder_stream_applies_new_files_once_and_rejects_bad_ones(tmp_path: Path) -> None:
    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    delta = {t: pl.read_parquet(tmp_path / "delta" / f"{t}.parquet") for t in TABLES}
    with open_store(str(tmp_path / "g.lbdb"), create=True) as store:
        store.load(load_dataset(tmp_path / "base")[0])
        run_profile(store, cfg)
        counts0 = store.counts()
        delta["users"].write_parquet(inbox / "users-001.parquet")
        delta["posts"].write_ndjson(inbox / "posts-001.jsonl")
        delta["follows"].write_csv(inbox / "follows-001.csv")
        delta["interactions"].write_parquet(inbox / "interactions-001.parquet")
        pl.DataFrame({"user_id": ["u0"], "text": ["no id"]}).write_csv(inbox / "posts-bad.csv")
        (inbox / "notes.txt").write_text("not a table")
        old = time.time() - 10
        for f in inbox.iterdir():
            os.utime(f, (old, old))
        watch = FolderWatch(inbox, store, cfg)
        seen: list[dict[str, Any]] = []
        assert watch.run(seen.append, once=True) == 1
        assert sorted(seen[0]["files"]) == [
            "follows-001.csv",
            "interactions-001.parquet",
            "posts-001.jsonl",
            "users-001.parquet",
        ]
        assert "posts-bad.csv" in seen[0]["rejected"]
        assert (inbox / ".rejected" / "posts-bad.csv").exists()
        assert "post_id" in (inbox / ".rejected" / "posts-bad.csv.reason.txt").read_text()
        assert (inbox / "notes.txt").exists()
        counts1 = store.counts()
        assert counts1["users"] == counts0["users"] + 4
        assert counts1["posts"] == counts0["posts"] + delta["posts"].height
        ledger = json.loads((inbox / LEDGER).read_text())
        assert set(ledger) == set(seen[0]["files"])
        # nothing new: nothing applied
        assert watch.run(seen.append, once=True) == 0
        # a crash after the store write but before the ledger: the files are applied again,
        # and the store ends with the same users and posts (upserts), nothing doubled
        (inbox / LEDGER).unlink()
        assert watch.run(seen.append, once=True) == 1
        assert store.counts() == counts1
        ids = store.run("MATCH (p:Post) RETURN p.post_id AS id")["id"]
        assert ids.n_unique() == ids.len() == counts1["posts"]
        assert set(split["new"]) <= set(store.read_user_ids().to_list())


def test_rescore_with_the_kept_model_reproduces_the_full_scores() -> None:
    timed = True
    from graphsona.gnn.influence import influence_scores, rescore

    rng = np.random.default_rng(1)
    n, m = 400, 3000
    ei = torch.from_numpy(rng.integers(0, n, (2, m)))
    w = torch.ones(m)
    inter = torch.from_numpy(rng.random(m) < 0.4)
    times = torch.from_numpy(rng.integers(0, 10_000, m)) if timed else torch.full((m,), -1)
    extra = rng.normal(size=(n, 5))
    full = influence_scores(
        ei, n, weight=w, is_interaction=inter, edge_time=times, extra_features=extra
    )
    score, rank, _ = rescore(
        ei,
        n,
        weight=w,
        is_interaction=inter,
        extra_features=extra,
        pagerank_scores=full.pagerank,
        model=full.engagement_model,
    )
    # with times the production scores are the kept model's: the same numbers
    assert np.allclose(score, full.score, atol=1e-9)
    assert (rank == full.rank).all()


def test_light_update_keeps_communities_and_alerts(tmp_path: Path) -> None:
    """What a stream's micro-batches run between full updates: new users join the community
    they are most linked to, nobody else moves, the alerts stand; profiles as in a full one."""
    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    with open_store(str(tmp_path / "g.lbdb"), create=True) as store:
        store.load(load_dataset(tmp_path / "base")[0])
        run_profile(store, cfg)
        before = load_state(tmp_path / "work")
        result = run_update(store, tmp_path / "delta", cfg, light=True)
        after = load_state(tmp_path / "work")
        users = _users(store)
    assert result.moved_users == 0 and result.communities_kept == 1.0
    assert after.alerts.equals(before.alerts)
    new = users.filter(pl.col("user_id").is_in(split["new"]))
    assert new["community_id"].null_count() == 0 and new["profile"].null_count() == 0
    old_ids = set(before.users["community_id"].to_list())
    linked = after.users.filter(pl.col("user_id").is_in(split["new"]))
    # a new user with links joins an earlier community; one without any gets its own
    assert any(c in old_ids for c in linked["community_id"].to_list())


def test_a_light_update_leaves_neighbours_and_influence_to_the_next_full_one(
    tmp_path: Path,
) -> None:
    """A light update (a stream's micro-batch) writes the touched users' profiles and influence
    only; the neighbours whose profile moved are marked and refreshed, and the influence scores
    caught up, by the next full update, which then gives the profiles a full update of the same
    changes gives."""
    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    with open_store(str(tmp_path / "g.lbdb"), create=True) as store:
        store.load(load_dataset(tmp_path / "base")[0])
        run_profile(store, cfg)
    twin = tmp_path / "twin"
    twin.mkdir()
    for f in tmp_path.iterdir():
        if f.name.startswith("g.lbdb") or f.name == "vectors.sqlite":
            shutil.copy(f, twin / f.name)
    shutil.copytree(tmp_path / "work", twin / "work")
    with open_store(str(tmp_path / "g.lbdb")) as store:  # the full update, for reference
        full = run_update(store, tmp_path / "delta", cfg)
        want = _users(store)
    assert full.state is not None
    twin_cfg = _cfg(twin)
    with open_store(str(twin / "g.lbdb")) as store:
        before = _users(store)
        light = run_update(store, tmp_path / "delta", twin_cfg, light=True)
        mid = _users(store)
        assert light.state is not None
        pending = light.state.users.filter("profile_pending")["user_id"]
        assert pending.len() > 0, "the delta must move some untouched neighbour"
        # pending users keep their stored profile and influence until the full update
        kept = before.join(mid, on="user_id", suffix="_mid").filter(
            pl.col("user_id").is_in(pending.implode())
        )
        assert kept["profile"].to_list() == kept["profile_mid"].to_list()
        assert kept["influence"].to_list() == kept["influence_mid"].to_list()
        # the state's results are what the store holds
        held = light.state.results.select("user_id", "influence").sort("user_id")
        assert held.equals(mid.select("user_id", "influence"))
        empty = split["net"].posts.head(0)
        delta, _ = load_delta({"posts": empty}, store.read_user_ids())
        after = run_update(store, delta, twin_cfg, state=light.state)
        got = _users(store)
    assert after.state is not None
    assert not after.state.users["profile_pending"].any()
    zw = np.array(want["profile"].to_list(), dtype=np.float32)
    zg = np.array(got["profile"].to_list(), dtype=np.float32)
    assert np.allclose(zw, zg, atol=1e-5)
    # every influence score caught up with the computed one
    computed = after.state.users.select("user_id", "pagerank").sort("user_id")
    assert np.allclose(got["pagerank"].to_numpy(), computed["pagerank"].to_numpy(), atol=1e-12)


def test_stream_watch_and_update_from_the_command_line(tmp_path: Path) -> None:
    _split(tmp_path)
    store = tmp_path / "one" / "graph.lbdb"
    store.parent.mkdir()
    cache = ["--cache", str(tmp_path / "vectors.sqlite")]
    assert _cli("load", str(tmp_path / "base"), "--store", str(store)).returncode == 0
    prof = _cli("profile", "--store", str(store), "--fast", "--epochs", "5", "--dim", "16", *cache)
    assert prof.returncode == 0, prof.stderr
    usage = _cli("stream", "--store", str(store))
    assert usage.returncode != 0 and "exactly one of --watch" in usage.stderr
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    posts = pl.read_parquet(tmp_path / "delta" / "posts.parquet")
    late = posts.filter(pl.col("post_id") == "late-1")  # by an earlier user: no new user needed
    late.write_ndjson(inbox / "posts-late.jsonl")
    old = time.time() - 10
    os.utime(inbox / "posts-late.jsonl", (old, old))
    out = _cli("stream", "--watch", str(inbox), "--store", str(store), "--once", "--json", *cache)
    assert out.returncode == 0, out.stderr
    batch = json.loads(out.stdout.strip().splitlines()[-1])
    assert batch["files"] == ["posts-late.jsonl"] and batch["update"]["new_posts"] == 1
    text = _cli("update", str(tmp_path / "delta"), "--store", str(store), *cache)
    assert text.returncode == 0, text.stderr
    assert "users written" in text.stdout and "drift:" in text.stdout


def _store_communities(store: GraphStore) -> pl.DataFrame:
    return store.run(
        "MATCH (c:Community) RETURN c.community_id AS community_id, c.name AS name, "
        "c.size AS size, c.suppressed AS suppressed ORDER BY community_id"
    ).with_columns(pl.col("community_id").cast(pl.Int64), pl.col("size").cast(pl.Int64))


def test_update_rewrites_only_the_communities_that_changed(
    store: GraphStore, tmp_path: Path
) -> None:
    """An update writes the community rows that differ from what the last run published and
    keeps (does not delete) the others; the store then holds exactly what a rewrite of every
    row would. The second update continues from the first one's state held in memory (what a
    stream does); a state that no longer is the current one on disk is read again."""
    from graphsona.privacy.groups import publishable_communities

    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    store.load(load_dataset(tmp_path / "base")[0])
    run_profile(store, cfg)
    written: list[int] = []
    write = store.write_communities

    def spy(communities: pl.DataFrame, *args: Any, **kwargs: Any) -> None:
        written.append(communities.height)
        write(communities, *args, **kwargs)

    store.write_communities = spy  # type: ignore[method-assign]
    first = run_update(store, tmp_path / "delta", cfg)
    # one more post by an earlier user: only that user's community can change
    author = split["net"].posts["user_id"][5]
    post = pl.DataFrame(
        {
            "post_id": ["later-2"],
            "user_id": [author],
            "text": ["another post about the recallgate affair"],
            "created_at": [split["net"].posts["created_at"].max()],
            "lang": ["en"],
        },
        schema=split["net"].posts.schema,
    )
    delta, _ = load_delta({"posts": post}, store.read_user_ids())
    second = run_update(store, delta, cfg, light=True, state=first.state)
    state = load_state(tmp_path / "work")
    assert state.meta["run_id"] == second.run_id
    shown = publishable_communities(state.names, cfg.min_group_size).select(
        pl.col("community_id").cast(pl.Int64), "name", pl.col("size").cast(pl.Int64), "suppressed"
    )
    assert _store_communities(store).equals(shown.sort("community_id"))
    assert written[1] <= 1 < shown.height  # the second update rewrote at most the author's
    # a held state that is no longer current on disk is not used
    assert load_state(tmp_path / "work", held=first.state) is not first.state
    assert load_state(tmp_path / "work", held=second.state) is second.state


def _sorted_edges(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("relation", "src", "dst")


def test_update_builds_its_graph_from_the_saved_edges_unless_the_store_changed(
    store: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update merges its changes into the graph saved with the state instead of reading
    every link back (the store is still at the state's data version); the graph it works on is
    exactly the store's, re-sent links included. A link written around graphsona makes the
    counts differ and the next update reads the store again; an erasure takes the people's
    links out of the saved graph too."""
    from graphsona.graph.export import edge_list, to_pyg
    from graphsona.jobs.forget import run_forget

    split = _split(tmp_path)
    cfg = _cfg(tmp_path)
    store.load(load_dataset(tmp_path / "base")[0])
    run_profile(store, cfg)
    full = load_state(tmp_path / "work")
    assert full.edges is not None
    assert _sorted_edges(full.edges).equals(_sorted_edges(edge_list(to_pyg(store))))

    reads: list[str] = []
    for name in ("read_follows", "read_interactions"):
        original = getattr(store, name)

        def counted(*a: Any, _name: str = name, _f: Any = original, **k: Any) -> Any:
            reads.append(_name)
            return _f(*a, **k)

        monkeypatch.setattr(store, name, counted)
    first = run_update(store, tmp_path / "delta", cfg)
    assert reads == []  # the graph came from the saved edges and the delta
    assert first.state is not None and first.state.edges is not None
    monkeypatch.undo()
    assert _sorted_edges(first.state.edges).equals(_sorted_edges(edge_list(to_pyg(store))))

    # re-sent links with a new weight and an unknown time: merged as the store merges them
    inter = (
        split["net"]
        .interactions.head(3)
        .with_columns(
            (pl.col("weight") * 3).alias("weight"),
            pl.lit(None).cast(pl.Datetime("us")).alias("created_at"),
        )
    )
    delta, _ = load_delta(
        {"interactions": inter, "follows": split["net"].follows.head(2)}, store.read_user_ids()
    )
    second = run_update(store, delta, cfg, light=True, state=first.state)
    assert second.state is not None and second.state.edges is not None
    assert _sorted_edges(second.state.edges).equals(_sorted_edges(edge_list(to_pyg(store))))

    # a follow created by hand: the counts no longer agree and the store is read again
    a, b = split["net"].users["user_id"][0], split["net"].users["user_id"][1]
    exists = store.run(
        "MATCH (x:User {user_id: $a})-[f:FOLLOWS]->(y:User {user_id: $b}) RETURN count(f) AS n",
        {"a": b, "b": a},
    )["n"][0]
    if not exists:
        store.run(
            "MATCH (x:User {user_id: $a}), (y:User {user_id: $b}) CREATE (x)-[:FOLLOWS]->(y)",
            {"a": b, "b": a},
        )
    said: list[str] = []
    post = split["net"].posts.head(1).with_columns(pl.lit("hand-1").alias("post_id"))
    delta, _ = load_delta({"posts": post}, store.read_user_ids())
    third = run_update(store, delta, cfg, light=True, progress=lambda s, m: said.append(m))
    assert third.state is not None and third.state.edges is not None
    assert _sorted_edges(third.state.edges).equals(_sorted_edges(edge_list(to_pyg(store))))
    if not exists:
        assert any("reading them all" in m for m in said)

    # erasure: the person's links leave the saved graph with them
    gone = split["net"].users["user_id"][2]
    run_forget(store, [gone], work_dir=cfg.work_dir, cache=cfg.cache)
    after = load_state(tmp_path / "work")
    assert after.edges is not None
    assert not after.edges.filter((pl.col("src") == gone) | (pl.col("dst") == gone)).height
