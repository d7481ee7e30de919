"""The test server assembled from Maven Central: GDS, APOC and vector indexes answer."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.neo4j


def test_gds_and_apoc_answer(neo4j_driver: Any) -> None:
    gds = neo4j_driver.execute_query("RETURN gds.version() AS v").records[0]["v"]
    apoc = neo4j_driver.execute_query("RETURN apoc.version() AS v").records[0]["v"]
    assert gds.startswith("2.13") and apoc.startswith("5.26")


def test_gds_runs_an_algorithm(neo4j_driver: Any) -> None:
    neo4j_driver.execute_query(
        "CREATE (a:N {id: 1})-[:R]->(b:N {id: 2})-[:R]->(c:N {id: 3})-[:R]->(a), (d:N {id: 4})-[:R]->(a)"
    )
    neo4j_driver.execute_query("CALL gds.graph.project('g', 'N', 'R')")
    rows = neo4j_driver.execute_query(
        "CALL gds.pageRank.stream('g') YIELD nodeId, score "
        "RETURN gds.util.asNode(nodeId).id AS id, score ORDER BY score DESC"
    ).records
    neo4j_driver.execute_query("CALL gds.graph.drop('g')")
    assert rows[0]["id"] == 1  # the node with two in-links ranks first


def test_vector_index_can_be_created_and_queried(neo4j_driver: Any) -> None:
    neo4j_driver.execute_query(
        "UNWIND range(1, 20) AS i CREATE (:Item {id: i, v: [toFloat(i), 1.0, toFloat(i % 3)]})"
    )
    neo4j_driver.execute_query(
        "CREATE VECTOR INDEX item_v IF NOT EXISTS FOR (n:Item) ON n.v "
        "OPTIONS {indexConfig: {`vector.dimensions`: 3, `vector.similarity_function`: 'cosine'}}"
    )
    neo4j_driver.execute_query("CALL db.awaitIndexes(120)")
    rows = neo4j_driver.execute_query(
        "CALL db.index.vector.queryNodes('item_v', 2, [7.0, 1.0, 1.0]) YIELD node, score "
        "RETURN node.id AS id, score"
    ).records
    assert rows[0]["id"] == 7 and rows[0]["score"] == pytest.approx(1.0, abs=1e-5)
