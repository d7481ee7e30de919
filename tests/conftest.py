"""Shared fixtures: a real Neo4j server for the session, clean stores per test, tiny datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphsona.graph import EmbeddedStore, Neo4jStore
from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset
from neo4j_test_server import Neo4jTestServer  # scripts/ is on pytest's pythonpath

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def _private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' own config home: the demo's default pseudonym key file is made there, never
    in the user's ~/.config, and no key from the environment leaks in."""
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "GRAPHSONA_PSEUDONYM_KEY")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    os.environ.pop("GRAPHSONA_PSEUDONYM_KEY", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jTestServer]:
    """One Neo4j (Community + APOC + GDS) for the whole session, assembled from Maven Central.

    It never skips in CI. Outside CI, GRAPHSONA_SKIP_NEO4J=1 skips the Neo4j tests visibly.
    """
    if os.environ.get("GRAPHSONA_SKIP_NEO4J") == "1" and not IN_CI:
        pytest.skip("GRAPHSONA_SKIP_NEO4J=1: Neo4j tests skipped on request")
    try:
        server = Neo4jTestServer.start()
    except Exception as e:
        pytest.fail(f"the Neo4j test server did not start: {e}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def neo4j_driver(neo4j_server: Neo4jTestServer) -> Iterator[Any]:
    """A driver on a database emptied before the test (data, vector indexes)."""
    import neo4j

    driver = neo4j.GraphDatabase.driver(neo4j_server.uri, auth=None)
    Neo4jStore(driver).clear()
    yield driver
    driver.close()


@pytest.fixture
def neo4j_store(neo4j_driver: Any) -> Neo4jStore:
    return Neo4jStore(neo4j_driver)


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "graph.lbdb")
    yield store
    store.close()


@pytest.fixture(params=["embedded", "neo4j"])
def store(request: pytest.FixtureRequest) -> Any:
    """Each store test runs on both stores."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def small_dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = generate(
        SyntheticConfig(n_users=300, n_communities=4, avg_follows=8, posts_per_user=3, seed=3)
    )
    return write_dataset(net, tmp_path_factory.mktemp("small") / "data")


@pytest.fixture(scope="session")
def small_dataset(small_dataset_dir: Path) -> Any:
    return load_dataset(small_dataset_dir)[0]
