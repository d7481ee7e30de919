"""Reading a Neo4j graph graphsona did not create, through a schema mapping; injection refused."""

from __future__ import annotations

from typing import Any

import pytest
from graphsona.errors import ConfigError, UnsafeIdentifierError
from graphsona.graph import Neo4jStore, SchemaMapping, to_pyg

HAND_MADE = """
CREATE (a:Person {screen_name: 'ann', age: 31}), (b:Person {screen_name: 'bob'}),
       (c:Person {screen_name: 'cyd'}), (x:Robot {screen_name: 'bot'}),
       (a)-[:SUBSCRIBED_TO]->(b), (b)-[:SUBSCRIBED_TO]->(c), (a)-[:SUBSCRIBED_TO]->(x),
       (c)-[:REPLIED_TO {strength: 2.5}]->(a), (a)-[:RETWEETED]->(c),
       (t1:Tweet {body: 'sourdough again', at: datetime('2024-05-01T10:00:00Z')}),
       (t2:Tweet {tid: 't2', body: 'new album out'}),
       (t1)-[:WRITTEN_BY]->(a), (t2)-[:WRITTEN_BY]->(b)
"""

MAPPING = SchemaMapping(
    user_label="Person",
    user_id="screen_name",
    follows=("SUBSCRIBED_TO",),
    interaction_type=None,
    interactions={"REPLIED_TO": "reply", "RETWEETED": "repost"},
    weight_property="strength",
    post_label="Tweet",
    post_rel="WRITTEN_BY",
    post_rel_outgoing=False,
    post_text="body",
    post_id="tid",
    post_created_at="at",
)


@pytest.mark.neo4j
def test_reads_an_existing_graph_through_a_mapping(neo4j_driver: Any) -> None:
    neo4j_driver.execute_query(HAND_MADE)
    store = Neo4jStore(neo4j_driver, mapping=MAPPING)
    users = store.read_users()
    assert sorted(users["user_id"].to_list()) == ["ann", "bob", "cyd"]  # Robot is not a user
    assert users.filter(users["user_id"] == "ann")["age"].to_list() == [31]
    follows = store.read_follows().sort("src", "dst")
    assert follows.rows() == [("ann", "bob"), ("bob", "cyd")]  # edge to the Robot is not followed
    inter = store.read_interactions().sort("src")
    assert inter.rows() == [("ann", "cyd", "repost", 1.0, None), ("cyd", "ann", "reply", 2.5, None)]
    posts = store.read_posts().sort("user_id")
    assert posts["text"].to_list() == ["sourdough again", "new album out"]
    assert posts["post_id"][1] == "t2" and posts["post_id"][0]  # element id when tid is absent
    assert posts["created_at"][0].year == 2024 and posts["created_at"][1] is None
    graph = to_pyg(store)
    assert graph.data.num_nodes == 3 and graph.relations == ["follows", "reply", "repost"]


@pytest.mark.neo4j
def test_write_back_into_a_mapped_graph_uses_its_labels(neo4j_driver: Any) -> None:
    import polars as pl

    neo4j_driver.execute_query(HAND_MADE)
    store = Neo4jStore(neo4j_driver, mapping=MAPPING)
    store.write_user_properties(pl.DataFrame({"user_id": ["ann", "bob"], "influence": [0.9, 0.1]}))
    rows = store.run(
        "MATCH (p:Person) WHERE p.influence IS NOT NULL RETURN p.screen_name AS n ORDER BY n"
    )
    assert rows["n"].to_list() == ["ann", "bob"]


@pytest.mark.parametrize(
    "field", ["user_label", "user_id", "post_text", "community_label", "membership_rel"]
)
def test_injection_through_mapping_is_rejected(field: str) -> None:
    with pytest.raises(UnsafeIdentifierError, match="rejected"):
        SchemaMapping(**{field: "User`) DETACH DELETE n //"})


def test_injection_in_lists_and_dicts_is_rejected() -> None:
    with pytest.raises(UnsafeIdentifierError, match="follows="):
        SchemaMapping(follows=("FOLLOWS", "X]->() DETACH DELETE n //"))
    with pytest.raises(UnsafeIdentifierError, match="interactions="):
        SchemaMapping(interactions={"REPLIED_TO": "reply'}) //"})


def test_from_dict_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown schema mapping key.*'user_lable'.*valid keys"):
        SchemaMapping.from_dict({"user_lable": "Person"})
    m = SchemaMapping.from_dict({"user_label": "Person", "follows": ["A", "B"]})
    assert m.follows == ("A", "B") and not m.is_native
