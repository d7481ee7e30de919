"""Both stores, same semantics: load/read round trip, idempotent and crash-safe write-back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from graphsona.errors import ConfigError, StoreError, UnsafeIdentifierError
from graphsona.graph import EmbeddedStore, GraphStore, SchemaMapping
from graphsona.loaders import Dataset


def _sorted(frame: pl.DataFrame, *keys: str) -> pl.DataFrame:
    return frame.sort(*keys)


def test_load_then_read_returns_the_same_graph(store: GraphStore, small_dataset: Dataset) -> None:
    counts = store.load(small_dataset, batch_size=500)
    ds = small_dataset
    assert counts == {
        "users": ds.users.height,
        "posts": ds.posts.height,
        "follows": ds.follows.height,
        "interactions": ds.interactions.height,
        "communities": 0,
    }
    users = store.read_users()
    assert _sorted(users.select(ds.users.columns), "user_id").equals(_sorted(ds.users, "user_id"))
    posts = store.read_posts()
    assert _sorted(posts, "post_id").equals(_sorted(ds.posts.select(posts.columns), "post_id"))
    assert _sorted(store.read_follows(), "src", "dst").equals(
        ds.follows.select("src", "dst").sort("src", "dst")
    )
    timed = store.read_follows(with_time=True)
    assert _sorted(timed, "src", "dst").equals(
        ds.follows.select("src", "dst", "created_at").sort("src", "dst")
    )
    inter = store.read_interactions()
    assert _sorted(inter, "src", "dst", "kind").equals(
        ds.interactions.select("src", "dst", "kind", "weight", "created_at").sort(
            "src", "dst", "kind"
        )
    )


def test_loading_twice_changes_nothing(store: GraphStore, small_dataset: Dataset) -> None:
    first = store.load(small_dataset)
    users = store.read_users()
    assert store.load(small_dataset, batch_size=700) == first
    assert _sorted(store.read_users(), "user_id").equals(_sorted(users, "user_id"))


def test_streaming_reads_come_in_batches(store: GraphStore, small_dataset: Dataset) -> None:
    store.load(small_dataset)
    batches = list(store.iter_follows(batch_size=200))
    assert len(batches) > 1
    assert sum(b.height for b in batches) == small_dataset.follows.height


def _results(ds: Dataset, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = ds.users.height
    return pl.DataFrame(
        {
            "user_id": ds.users["user_id"],
            "profile": pl.Series(rng.random((n, 128), dtype=np.float32)).cast(
                pl.Array(pl.Float32, 128)
            ),
            "influence": rng.random(n),
            "rank": np.arange(n, dtype=np.int64),
            "community_name": [f"c{i % 3}" for i in range(n)],
            "interests": [["a", "b"] if i % 2 else ["c"] for i in range(n)],
        }
    )


def _state(store: GraphStore) -> pl.DataFrame:
    return store.read_users().sort("user_id")


def test_write_back_twice_gives_the_same_state(store: GraphStore, small_dataset: Dataset) -> None:
    store.load(small_dataset)
    res = _results(small_dataset)
    assert store.write_user_properties(res, batch_size=64) == res.height
    once = _state(store)
    store.write_user_properties(res, batch_size=64)
    assert _state(store).equals(once)
    got = once.select(res.columns).with_columns(pl.col("profile").cast(pl.List(pl.Float32)))
    want = res.sort("user_id").with_columns(pl.col("profile").cast(pl.List(pl.Float32)))
    assert got.select(pl.exclude("profile")).equals(want.select(pl.exclude("profile")))
    assert np.allclose(
        np.stack(got["profile"].to_numpy()), np.stack(want["profile"].to_numpy()), atol=1e-6
    )


def test_write_back_killed_part_way_then_rerun(
    store: GraphStore, small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _results(small_dataset, seed=1), _results(small_dataset, seed=2)
    # Reference: an uninterrupted write of `new` over `old`.
    store.load(small_dataset)
    store.write_user_properties(old, batch_size=50)
    store.write_user_properties(new, batch_size=50)
    clean = _state(store)
    store.clear()

    store.load(small_dataset)
    store.write_user_properties(old, batch_size=50)
    real = type(store)._write_user_batch
    calls = {"n": 0}

    def dying(self: Any, batch: pl.DataFrame, columns: list[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-write")
        real(self, batch, columns)

    monkeypatch.setattr(type(store), "_write_user_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        store.write_user_properties(new, batch_size=50)
    monkeypatch.setattr(type(store), "_write_user_batch", real)
    assert not _state(store).equals(clean)  # it really stopped part-way
    store.write_user_properties(new, batch_size=50)
    assert _state(store).equals(clean)


def test_communities_written_idempotently_and_replaced(
    store: GraphStore, small_dataset: Dataset
) -> None:
    store.load(small_dataset)
    ids = small_dataset.users["user_id"]
    comms = pl.DataFrame(
        {
            "community_id": [0, 1, 2],
            "name": ["football fans", "chefs", "coders"],
            "terms": [["goal"], ["recipe", "oven"], ["python"]],
            "size": [100, 100, 100],
        }
    )
    members = pl.DataFrame({"user_id": ids, "community_id": np.arange(ids.len()) % 3})
    store.write_communities(comms, members)
    store.write_communities(comms, members)
    assert store.counts()["communities"] == 3
    sizes = store.run(
        "MATCH (u:User)-[:IN_COMMUNITY]->(c:Community) RETURN c.name AS name, count(u) AS n ORDER BY name"
    )
    assert sizes["n"].sum() == ids.len()
    # A new partition: users move, community 2 disappears; each user keeps exactly one link.
    comms2 = comms.filter(pl.col("community_id") < 2)
    members2 = pl.DataFrame({"user_id": ids, "community_id": np.arange(ids.len()) % 2})
    store.write_communities(comms2, members2)
    assert store.counts()["communities"] == 2
    links = store.run("MATCH (u:User)-[r:IN_COMMUNITY]->(:Community) RETURN count(r) AS n")
    assert links["n"][0] == ids.len()
    terms = store.run("MATCH (c:Community) WHERE c.community_id = 1 RETURN c.terms AS t")
    assert list(terms["t"][0]) == ["recipe", "oven"]


def test_topic_lists_of_one_length_at_first_stay_lists(
    store: GraphStore, small_dataset: Dataset
) -> None:
    """Every community (and user) written first with five topics, then one with a single
    topic: the topic columns are lists, not FLOAT[5] vectors (a stream's update failed so)."""
    store.load(small_dataset)
    ids = small_dataset.users["user_id"]
    five = [[0.2] * 5, [0.2] * 5]
    comms = pl.DataFrame(
        {"community_id": [0, 1], "top_topics": [[1, 2, 3, 4, 5]] * 2, "topic_shares": five}
    )
    members = pl.DataFrame({"user_id": ids, "community_id": np.arange(ids.len()) % 2})
    store.write_communities(comms, members)
    store.write_communities(
        pl.DataFrame({"community_id": [1], "top_topics": [[7]], "topic_shares": [[1.0]]}),
        members.head(0),
        keep=[0, 1],
    )
    got = store.run(
        "MATCH (c:Community) RETURN c.community_id AS id, c.topic_shares AS s ORDER BY id"
    )
    assert [list(v) for v in got["s"]] == [[0.2] * 5, [1.0]]
    users = pl.DataFrame(
        {"user_id": ids.head(2), "top_topics": [[1, 2]] * 2, "topic_shares": [[0.5, 0.5]] * 2}
    )
    store.write_user_properties(users)
    store.write_user_properties(
        pl.DataFrame({"user_id": ids.head(1), "top_topics": [[3]], "topic_shares": [[1.0]]})
    )
    got = store.run(
        "MATCH (u:User) WHERE u.user_id IN $ids RETURN u.user_id AS id, u.topic_shares AS s",
        {"ids": ids.head(2).to_list()},
    )
    shares = dict(zip(got["id"].to_list(), [list(v) for v in got["s"]], strict=True))
    assert shares == {ids[0]: [1.0], ids[1]: [0.5, 0.5]}


def test_writing_only_changed_communities_keeps_the_others(
    store: GraphStore, small_dataset: Dataset
) -> None:
    """``keep``: the rows written are only those that changed (an update); the communities in
    ``keep`` stay as stored, those outside it go. A list property whose few changed rows all
    have one length stays a list (it is no vector)."""
    store.load(small_dataset)
    ids = small_dataset.users["user_id"]
    comms = pl.DataFrame(
        {
            "community_id": [0, 1, 2],
            "name": ["football fans", "chefs", "coders"],
            "top_topics": [[1, 2], [3], [4, 5, 6]],
            "topic_shares": [[0.5, 0.5], [1.0], [0.2, 0.3, 0.5]],
        }
    )
    members = pl.DataFrame({"user_id": ids, "community_id": np.arange(ids.len()) % 3})
    store.write_communities(comms, members)
    changed = pl.DataFrame(
        {
            "community_id": [1],
            "name": ["bakers"],
            "top_topics": [[3, 7]],
            "topic_shares": [[0.6, 0.4]],
        }
    )
    moved = members.head(1).with_columns(pl.lit(1).alias("community_id"))
    store.write_communities(changed, moved, keep=[0, 1])
    got = store.run(
        "MATCH (c:Community) RETURN c.community_id AS id, c.name AS name, "
        "c.top_topics AS top, c.topic_shares AS shares ORDER BY id"
    )
    assert got["id"].to_list() == [0, 1]
    assert got["name"].to_list() == ["football fans", "bakers"]
    assert [list(t) for t in got["top"]] == [[1, 2], [3, 7]]
    assert [list(t) for t in got["shares"]] == [[0.5, 0.5], [0.6, 0.4]]
    first = store.run(
        "MATCH (u:User)-[:IN_COMMUNITY]->(c:Community) WHERE u.user_id = $id "
        "RETURN c.community_id AS c",
        {"id": moved["user_id"][0]},
    )
    assert first["c"].to_list() == [1]
    with pytest.raises(ConfigError, match="not all in keep"):
        store.write_communities(changed, moved, keep=[0])


def test_vector_search_finds_the_nearest_users(store: GraphStore, small_dataset: Dataset) -> None:
    store.load(small_dataset)
    res = _results(small_dataset)
    store.write_user_properties(res.select("user_id", "profile"))
    index = store.create_vector_index("profile", 128)
    target = res.row(5, named=True)
    hits = store.vector_search(index, list(target["profile"]), k=3)
    assert hits["user_id"][0] == target["user_id"]
    assert hits["score"][0] == pytest.approx(1.0, abs=1e-4)


def test_rewritten_vectors_read_back_and_the_file_stays_bounded(
    embedded_store: EmbeddedStore, small_dataset: Dataset
) -> None:
    """Small vector updates (a stream's micro-batches) replace rows instead of setting them in
    place; after many of them every user still has exactly one vector, the latest, and the
    table's dead slots were reclaimed (rebuilt once they outnumbered the live rows)."""
    store = embedded_store
    store.load(small_dataset)
    ids = small_dataset.users["user_id"]
    rng = np.random.default_rng(0)
    latest = rng.standard_normal((ids.len(), 8)).astype(np.float32)

    def write(rows: np.ndarray) -> None:
        store.write_user_properties(
            pl.DataFrame(
                {
                    "user_id": ids.gather(rows),
                    "v": pl.Series(latest[rows]).cast(pl.Array(pl.Float32, 8)),
                }
            )
        )

    write(np.arange(ids.len()))  # the first write: every row
    table = store.create_vector_index("v", 8)
    for _ in range(12):  # 12 updates of a fifth of the users each: more than the rows again
        rows = rng.choice(ids.len(), ids.len() // 5, replace=False)
        latest[rows] = rng.standard_normal((len(rows), 8)).astype(np.float32)
        write(rows)
        live, slots = store.run(f"MATCH (v:{table}) RETURN count(*), max(offset(id(v))) + 1").row(0)
        assert live == ids.len() and slots <= 2 * live + len(rows)
    # a rewrite of every vector (a full run's, in several batches) sets them in place
    latest = rng.standard_normal((ids.len(), 8)).astype(np.float32)
    store.write_user_properties(
        pl.DataFrame({"user_id": ids, "v": pl.Series(latest).cast(pl.Array(pl.Float32, 8))}),
        batch_size=50,
    )
    assert store.run(f"MATCH (v:{table}) RETURN max(offset(id(v))) + 1").item() == slots
    got = store.run(f"MATCH (v:{table}) RETURN v.user_id AS user_id, v.value AS value")
    by_id = dict(zip(got["user_id"].to_list(), got["value"].to_list(), strict=True))
    assert len(by_id) == ids.len()
    stored = np.array([by_id[u] for u in ids.to_list()], dtype=np.float32)
    np.testing.assert_array_equal(stored, latest)
    hit = store.vector_search(table, latest[7].tolist(), k=1)
    assert hit["user_id"][0] == ids[7]


def test_write_back_rejects_unsafe_property_names(
    store: GraphStore, small_dataset: Dataset
) -> None:
    store.load(small_dataset)
    bad = pl.DataFrame({"user_id": ["u0000001"], "x`) DETACH DELETE n //": [1]})
    with pytest.raises(UnsafeIdentifierError, match="property name must match"):
        store.write_user_properties(bad)
    assert store.counts()["users"] == small_dataset.users.height


def test_write_back_rejects_duplicate_ids_and_unsupported_types(store: GraphStore) -> None:
    with pytest.raises(ConfigError, match="unique and non-null"):
        store.write_user_properties(pl.DataFrame({"user_id": ["a", "a"], "x": [1, 2]}))
    with pytest.raises(ConfigError, match="supported"):
        store.write_user_properties(pl.DataFrame({"user_id": ["a"], "x": [{"k": 1}]}))


def test_loading_into_a_mapped_store_is_refused(store: GraphStore, small_dataset: Dataset) -> None:
    store.mapping = SchemaMapping(user_label="Person")
    with pytest.raises(ConfigError, match="custom schema mapping"):
        store.load(small_dataset)


def test_reloading_changed_data_updates_and_adds(store: GraphStore, small_dataset: Dataset) -> None:
    store.load(small_dataset)
    ds = small_dataset
    t = pl.datetime(2030, 1, 1, time_zone="UTC")
    users = ds.users.with_columns(
        pl.when(pl.col("user_id") == ds.users["user_id"][0])
        .then(pl.lit("new bio"))
        .otherwise(pl.col("bio"))
        .alias("bio")
    )
    extra_user = users.head(1).with_columns(pl.lit("zz_new").alias("user_id"))
    follows = pl.concat(
        [
            ds.follows.with_columns(
                pl.when(pl.int_range(pl.len()) == 0)
                .then(t)
                .otherwise(pl.col("created_at"))
                .alias("created_at")
            ),
            pl.DataFrame({"src": ["zz_new"], "dst": [ds.users["user_id"][1]]}).with_columns(
                pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at")
            ),
        ]
    )
    inter = ds.interactions.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(9.0).otherwise(pl.col("weight")).alias("weight")
    )
    changed = Dataset(pl.concat([users, extra_user]), ds.posts, follows, inter)
    counts = store.load(changed, batch_size=100)
    assert counts["users"] == ds.users.height + 1
    assert counts["follows"] == ds.follows.height + 1
    assert counts["interactions"] == ds.interactions.height
    got = store.read_users().filter(pl.col("user_id") == ds.users["user_id"][0])
    assert got["bio"][0] == "new bio"
    first = ds.follows.row(0, named=True)
    assert (
        store.read_interactions().sort("src", "dst", "kind")["weight"][0] == 9.0
        or 9.0 in store.read_interactions()["weight"].to_list()
    )
    rows = store.run(
        "MATCH (a:User {user_id: $s})-[f:FOLLOWS]->(b:User {user_id: $d}) RETURN f.created_at AS t",
        {"s": first["src"], "d": first["dst"]},
    )
    assert rows["t"][0].year == 2030


def test_a_query_that_failed_before_a_property_existed_works_after_it_is_written(
    store: GraphStore, small_dataset: Dataset
) -> None:
    store.load(small_dataset)
    query = "MATCH (u:User) WHERE u.fresh_prop = $v RETURN count(*) AS n"
    if store.dialect == "embedded":  # Neo4j returns 0 for an unknown property instead
        with pytest.raises(StoreError, match="fresh_prop"):
            store.run(query, {"v": "x"})
    store.write_user_properties(pl.DataFrame({"user_id": ["u0000001"], "fresh_prop": ["x"]}))
    assert store.run(query, {"v": "x"})["n"][0] == 1


def test_embedded_store_release_memory_then_keeps_working(
    tmp_path: Path, small_dataset: Dataset
) -> None:
    from graphsona.graph import EmbeddedStore

    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(small_dataset)
        before = store.counts()
        assert before["users"] > 0
        store.release_memory()
        store.release_memory()  # twice is harmless
        assert store.counts() == before  # reopened on the next query
        store.release_memory()
    # closing after a release does not fail, and the data is still there
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        assert store.counts() == before


def test_topics_alerts_and_post_properties_are_replaced_idempotently(
    store: GraphStore, small_dataset: Dataset
) -> None:
    """Topic nodes with their posts' ABOUT links, alert nodes and per-post results: a rerun
    writes the same graph, a new run's topics and alerts replace the old ones."""
    store.load(small_dataset)
    posts = store.read_posts()["post_id"].sort().to_list()
    topics = pl.DataFrame(
        {
            "topic_id": [0, 1, 2],
            "name": ["a / b", "c / d", "e / f"],
            "terms": [["a", "b"], ["c", "d"], ["e", "f"]],
            "size": [4, 3, 1],
            "centroid": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
        }
    )
    links = pl.DataFrame({"post_id": posts[:8], "topic_id": [0, 0, 0, 0, 1, 1, 1, 2]})
    about = (
        f"MATCH (p:{store.mapping.post_label})-[:{store.mapping.about_rel}]->"
        f"(t:{store.mapping.topic_label}) RETURN t.topic_id AS t, count(*) AS n ORDER BY t"
    )
    for _ in range(2):
        store.write_topics(topics, links)
        assert store.run(about).to_dicts() == [
            {"t": 0, "n": 4},
            {"t": 1, "n": 3},
            {"t": 2, "n": 1},
        ]
    read = store.read_topics()
    assert read["topic_id"].to_list() == [0, 1, 2]
    assert read["terms"].to_list()[1] == ["c", "d"]
    assert read["centroid"].to_list()[2] == pytest.approx([0.5, 0.6])
    # the next run has two topics: topic 2 and its links go, posts move
    store.write_topics(topics.head(2), pl.DataFrame({"post_id": posts[:2], "topic_id": [1, 0]}))
    assert store.run(about).to_dicts() == [{"t": 0, "n": 1}, {"t": 1, "n": 1}]
    assert store.read_topics()["topic_id"].to_list() == [0, 1]
    with pytest.raises(ConfigError, match="not in topics"):
        store.write_topics(topics.head(1), pl.DataFrame({"post_id": posts[:1], "topic_id": [5]}))

    alerts = pl.DataFrame(
        {
            "alert_id": ["A1", "A2"],
            "kind": ["sentiment_swing", "emerging_topic"],
            "score": [12.5, 6.0],
            "drivers": [["u1", "u2"], ["u3"]],
            "communities": [[0], [1, 2]],
        }
    )
    label = store.mapping.alert_label
    read_alerts = f"MATCH (a:{label}) RETURN a.alert_id AS id, a.drivers AS d ORDER BY id"
    store.write_alerts(alerts)
    store.write_alerts(alerts)
    assert store.run(read_alerts).to_dicts() == [
        {"id": "A1", "d": ["u1", "u2"]},
        {"id": "A2", "d": ["u3"]},
    ]
    store.write_alerts(alerts.tail(1))
    assert store.run(read_alerts)["id"].to_list() == ["A2"]

    props = pl.DataFrame(
        {"post_id": posts[:3], "sentiment": [0.5, -0.25, 0.0], "topic_id": [0, 1, -1]}
    )
    store.write_post_properties(props)
    store.write_post_properties(props)
    q = (
        f"MATCH (p:{store.mapping.post_label}) WHERE p.sentiment IS NOT NULL "
        "RETURN p.post_id AS post_id, p.sentiment AS s, p.topic_id AS t ORDER BY post_id"
    )
    got = store.run(q)
    assert got["post_id"].to_list() == posts[:3]
    assert got["s"].to_list() == [0.5, -0.25, 0.0] and got["t"].to_list() == [0, 1, -1]


def test_counts_and_link_counts_agree_with_the_loaded_data(
    store: GraphStore, small_dataset: Dataset
) -> None:
    """``counts`` (every part of the graph) and ``link_counts`` (what an update checks after its
    upsert; Neo4j answers it from its count store) give the loaded rows."""
    store.load(small_dataset)
    expected = {
        "users": small_dataset.users.height,
        "follows": small_dataset.follows.height,
        "interactions": small_dataset.interactions.height,
    }
    counts = store.counts()
    assert {k: counts[k] for k in expected} == expected
    assert counts["posts"] == small_dataset.posts.height and counts["communities"] == 0
    assert store.link_counts() == expected
