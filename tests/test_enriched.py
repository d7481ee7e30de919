"""The enriched graph after profiling: named queries on both stores, recommendations, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from graphsona.errors import ConfigError, StoreError
from graphsona.graph import EmbeddedStore, GraphStore, Neo4jStore
from graphsona.jobs.profile import ProfileJobConfig, run_profile
from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset
from graphsona.outputs.recommend import RecContext, similar_users, who_to_follow
from graphsona.queries.library import get_query, named_queries, run_named, write_clauses

LONER = "zz_loner"  # writes like community 0 but has no edges at all


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = generate(SyntheticConfig(n_users=400, n_communities=4, avg_follows=10, seed=21))
    theme = net.community_themes[0]
    topic_posts = net.posts.join(
        net.users.filter(pl.col("planted_community") == 0).select("user_id"), on="user_id"
    ).head(5)
    users = pl.concat(
        [
            net.users,
            pl.DataFrame(
                {"user_id": [LONER], "handle": ["@loner"], "bio": [f"into {theme}"]}
            ).with_columns(
                pl.lit(None, net.users["created_at"].dtype).alias("created_at"),
                pl.lit(0, pl.Int64).alias("planted_community"),
                pl.lit(None, pl.String).alias("label_topic"),
            ),
        ]
    )
    posts = pl.concat(
        [
            net.posts,
            topic_posts.with_columns(
                pl.lit(LONER).alias("user_id"), (pl.col("post_id") + "_loner").alias("post_id")
            ),
        ]
    )
    net.users, net.posts = users, posts
    return write_dataset(net, tmp_path_factory.mktemp("enriched") / "data")


@pytest.fixture(scope="module", params=["embedded", "neo4j"])
def profiled(
    request: pytest.FixtureRequest, dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GraphStore]:
    ds, _ = load_dataset(dataset_dir)
    tmp = tmp_path_factory.mktemp(f"profiled-{request.param}")
    if request.param == "embedded":
        store: GraphStore = EmbeddedStore(tmp / "g.lbdb")
    else:
        import neo4j

        server = request.getfixturevalue("neo4j_server")
        driver = neo4j.GraphDatabase.driver(server.uri, auth=None)
        store = Neo4jStore(driver, owns_driver=True)
        store.clear()
    store.load(ds)
    cfg = ProfileJobConfig(embedder_kind="static", cache=tmp / "c.sqlite", dim=32, epochs=40)
    run_profile(store, cfg)
    yield store
    store.close()


def test_both_stores_offer_the_same_named_queries() -> None:
    a = [(q.name, q.params) for q in named_queries("embedded")]
    b = [(q.name, q.params) for q in named_queries("neo4j")]
    assert a == b and len(a) >= 10
    assert all(q.description for q in named_queries("neo4j"))


def test_influence_and_community_queries(profiled: GraphStore) -> None:
    users = profiled.read_users()
    top = run_named(profiled, "top_influencers", {"limit": "5"})
    assert top["rank"].to_list() == sorted(users["influence_rank"].to_list())[:5]
    assert top["user_id"][0] == users.sort("influence_rank", "user_id")["user_id"][0]
    comms = run_named(profiled, "communities")
    sizes = (
        users.group_by("community_id").len().sort("len", "community_id", descending=[True, False])
    )
    assert comms["size"].to_list() == sizes["len"].to_list()
    c = int(comms["community_id"][0])
    one = run_named(profiled, "community", {"community": c}).row(0, named=True)
    assert (
        one["name"] == comms["name"][0] and len(one["terms"]) > 0 and len(one["top_members"]) == 5
    )
    members = run_named(profiled, "community_members", {"community": str(c), "limit": "1000"})
    assert members.height == one["size"]
    best = run_named(profiled, "community_influencers", {"community": c, "limit": 3})
    assert best["user_id"].to_list() == members["user_id"].to_list()[:3]


def test_profile_card_counts_follows(profiled: GraphStore) -> None:
    follows = profiled.read_follows()
    user = follows.group_by("dst").len().sort("len", "dst", descending=[True, False])["dst"][0]
    card = run_named(profiled, "profile_card", {"user": user}).row(0, named=True)
    assert card["followers"] == follows.filter(pl.col("dst") == user).height
    assert card["following"] == follows.filter(pl.col("src") == user).height
    assert card["community"] and card["rank"] >= 1


def test_similar_users_agree_with_the_in_process_index(profiled: GraphStore) -> None:
    ctx = RecContext.from_store(profiled)
    user = ctx.ids[7]
    via_query = run_named(profiled, "similar_users", {"user": user, "k": 10})
    in_process = similar_users(ctx, user, k=10)
    assert user not in via_query["user_id"].to_list()
    # the same nearest user, up to ties: Neo4j computes in float32 and within a synthetic
    # community the nearest few often lie within 1e-4 of each other
    exact = dict(zip(in_process["user_id"], in_process["score"], strict=True))
    assert exact.get(via_query["user_id"][0], -1.0) >= in_process["score"][0] - 1e-3
    overlap = set(via_query["user_id"]) & set(in_process["user_id"])
    assert len(overlap) >= 8  # Neo4j's index is approximate (HNSW); the embedded scan is exact
    assert np.allclose(in_process["score"][0], via_query["score"][0], atol=1e-3) or (
        profiled.dialect == "neo4j"  # Neo4j reports cosine as (1 + cos) / 2
        and np.isclose((1 + in_process["score"][0]) / 2, via_query["score"][0], atol=1e-3)
    )


def test_who_to_follow_query_ranks_unfollowed_friends_of_friends(profiled: GraphStore) -> None:
    follows = profiled.read_follows()
    user = follows.group_by("src").len().sort("len", "src", descending=[True, False])["src"][0]
    recs = run_named(profiled, "who_to_follow", {"user": user, "limit": 10})
    mine = set(follows.filter(pl.col("src") == user)["dst"])
    two_hop = set(follows.filter(pl.col("src").is_in(list(mine)))["dst"]) - mine - {user}
    assert recs.height == 10 and set(recs["user_id"]) <= two_hop
    assert recs["score"].to_list() == sorted(recs["score"].to_list(), reverse=True)
    assert (recs["mutual"] >= 1).all()


def test_bridges_and_community_interactions(profiled: GraphStore) -> None:
    bridges = run_named(profiled, "bridges", {"limit": 5})
    assert bridges.height == 5 and (bridges["other_communities"] >= 1).all()
    vol = run_named(profiled, "community_interactions", {"limit": 1000})
    assert vol["interactions"].sum() == profiled.read_interactions().height


def test_named_query_parameters_are_checked(profiled: GraphStore) -> None:
    with pytest.raises(ConfigError, match="needs --param user"):
        run_named(profiled, "profile_card", {})
    with pytest.raises(ConfigError, match="no parameter 'usr'"):
        run_named(profiled, "profile_card", {"usr": "x"})
    with pytest.raises(ConfigError, match="limit must be int"):
        run_named(profiled, "top_influencers", {"limit": "many"})
    with pytest.raises(ConfigError, match="no named query 'nope'"):
        get_query("nope", profiled.dialect)


def test_read_only_runs_refuse_writes(profiled: GraphStore) -> None:
    with pytest.raises(StoreError):
        profiled.run("CREATE (:User {user_id: 'intruder'})", read_only=True)
    assert profiled.run("MATCH (u:User {user_id: 'intruder'}) RETURN count(*) AS n")["n"][0] == 0


def test_write_clause_detection() -> None:
    assert write_clauses("MATCH (u) WHERE u.bio = 'I CREATE art' RETURN u // then DELETE") == []
    assert write_clauses("match (n) detach delete n") == ["DELETE", "DETACH"]
    assert write_clauses("MATCH (u) SET u.x = 1") == ["SET"]
    assert write_clauses("CALL db.index.vector.queryNodes('i', 3, $v) YIELD node RETURN node") == []
    assert "CALL" in write_clauses("CALL apoc.periodic.iterate('a', 'b', {})")


def test_who_to_follow_excludes_self_and_followed_and_explains(profiled: GraphStore) -> None:
    ctx = RecContext.from_store(profiled)
    recs = who_to_follow(ctx, k=5)
    follows = profiled.read_follows()
    assert recs.height == 5 * len(ctx.ids)
    assert recs.group_by("user_id").agg(pl.col("rank"))["rank"].map_elements(
        list, return_dtype=pl.Object
    ).to_list()[0] == [1, 2, 3, 4, 5]
    pairs = set(zip(follows["src"], follows["dst"], strict=True))
    assert not any(
        (a, b) in pairs for a, b in zip(recs["user_id"], recs["candidate_id"], strict=True)
    )
    assert (recs["user_id"] != recs["candidate_id"]).all()
    assert recs["score"].is_between(0, 1).all() and (recs["reason"].str.len_chars() > 0).any()
    mutual = recs.filter(pl.col("mutual_follows") > 0)
    assert mutual["reason"].str.contains("mutual follow").all()


def test_a_user_without_edges_gets_text_only_recommendations(profiled: GraphStore) -> None:
    ctx = RecContext.from_store(profiled)
    recs = who_to_follow(ctx, [LONER], k=10)
    assert recs.height == 10 and (recs["basis"] == "text-only").all()
    assert recs["reason"].str.contains("text only").all()
    users = profiled.read_users().select("user_id", "planted_community")
    got = recs.join(users, left_on="candidate_id", right_on="user_id")
    assert (got["planted_community"] == 0).mean() >= 0.7  # they write about the same topic


def test_unknown_user_is_a_clear_error(profiled: GraphStore) -> None:
    ctx = RecContext.from_store(profiled)
    with pytest.raises(ConfigError, match="unknown user 'ghost'"):
        who_to_follow(ctx, ["ghost"])
    with pytest.raises(ConfigError, match="unknown user 'ghost'"):
        similar_users(ctx, "ghost")


def test_recommendations_write_back_idempotently(profiled: GraphStore) -> None:
    ctx = RecContext.from_store(profiled)
    recs = who_to_follow(ctx, k=3)
    count = "MATCH (:User)-[r:RECOMMENDED]->(:User) RETURN count(r) AS n, max(r.rank) AS top"
    profiled.write_recommendations(recs)
    profiled.write_recommendations(recs)
    row = profiled.run(count).row(0, named=True)
    assert row == {"n": recs.height, "top": 3}
    profiled.write_recommendations(recs.filter(pl.col("rank") <= 2))  # replaced, not added
    assert profiled.run(count).row(0, named=True) == {"n": 2 * len(ctx.ids), "top": 2}
    one = recs.row(0, named=True)
    got = profiled.run(
        "MATCH (a:User {user_id: $a})-[r:RECOMMENDED]->(b:User {user_id: $b}) RETURN r.score AS s",
        {"a": one["user_id"], "b": one["candidate_id"]},
    )
    assert got["s"][0] == pytest.approx(one["score"])


def test_recommendations_use_the_ranker_stored_with_the_profiles(profiled: GraphStore) -> None:
    """The profile job keeps its who-to-follow ranker in the store (both stores), and the
    recommendations are its ranking: scores fall with rank, nobody already followed."""
    ctx = RecContext.from_store(profiled)
    assert ctx.ranker is not None and ctx.ranker.info["positives"] > 0
    follows = profiled.read_follows()
    user = follows["src"][0]
    recs = who_to_follow(ctx, [user], k=10)
    assert recs.height == 10 and recs["basis"].unique().to_list() == ["graph+text"]
    assert recs["score"].to_list() == sorted(recs["score"].to_list(), reverse=True)
    followed = set(follows.filter(pl.col("src") == user)["dst"].to_list())
    assert not followed & set(recs["candidate_id"].to_list())


def test_mood_queries_on_both_stores(profiled: GraphStore) -> None:
    """The job's moods are queryable: communities most negative first, then users."""
    comms = run_named(profiled, "community_moods", {"limit": 50})
    assert comms.height >= 2 and comms["mood"].null_count() == 0
    shares = comms["negative_share"].to_list()
    assert shares == sorted(shares, reverse=True)
    users = run_named(profiled, "negative_users", {"min_posts": 1, "limit": 10})
    assert users.height == 10 and (users["scored_posts"] >= 1).all()
    assert users["negative_share"].to_list() == sorted(users["negative_share"], reverse=True)


def test_topic_and_alert_queries_on_both_stores(profiled: GraphStore) -> None:
    """The job's topics and alerts are in the graph: the planted event raises a sentiment
    swing in the community of planted community 0, with the event's words as evidence."""
    topics = run_named(profiled, "topics", {"limit": 50})
    assert topics.height >= 2 and topics["size"].to_list() == sorted(topics["size"], reverse=True)
    assert all(len(t) > 0 for t in topics["terms"].to_list())
    alerts = run_named(profiled, "alerts", {})
    swings = alerts.filter(pl.col("kind") == "sentiment_swing")
    assert swings.height == 1, alerts.select("kind", "community_id", "summary")
    swing = swings.row(0, named=True)
    users = profiled.read_users()
    event_users = users.filter(pl.col("planted_community") == 0)
    assert swing["community_id"] == event_users["community_id"].mode()[0]
    assert {"outage", "refund", "recall", "#recallgate", "lawsuit"} & set(swing["terms"])
    assert str(swing["window_start"]).startswith("2025-10-28")
    mix = run_named(profiled, "community_topics", {"community": swing["community_id"]})
    assert mix.height >= 1 and mix["posts"].to_list() == sorted(mix["posts"], reverse=True)
    top_topic = int(topics["topic_id"][0])
    posts = run_named(profiled, "topic_posts", {"topic": top_topic, "limit": 5})
    assert posts.height == 5 and posts["sentiment"].null_count() < 5
    members = users.filter(pl.col("top_topics").is_not_null())
    assert members.height > 0 and (members["top_topics"].list.len() >= 1).all()


def test_monitor_recomputes_from_the_store_on_both_stores(profiled: GraphStore) -> None:
    """`graphsona monitor` reads the posts' written results back (times, sentiment, topics)
    and finds the same planted event at another bucket; a window before it is quiet."""
    from datetime import UTC, datetime

    from graphsona.jobs.monitoring import monitor_store

    alerts, series = monitor_store(profiled, bucket="6h")
    swings = alerts.filter(pl.col("kind") == "sentiment_swing")
    assert swings.height >= 1
    assert all(str(t).startswith("2025-10-2") for t in swings["window_start"].to_list())
    assert set(series["group"].unique()) == {"community", "topic"}
    assert series["volume"].sum() > 0
    before, _ = monitor_store(profiled, until=datetime(2025, 10, 1, tzinfo=UTC))
    assert before.is_empty()
    with pytest.raises(ConfigError, match="before"):
        monitor_store(profiled, since=datetime(2025, 10, 2, tzinfo=UTC),
                      until=datetime(2025, 10, 1, tzinfo=UTC))  # fmt: skip
