"""One registry from a store URI to a store: ``open_store("out/graph.lbdb")``, ``open_store("neo4j://...")``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from graphsona.errors import ConfigError
from graphsona.graph._base import GraphStore, Tracer
from graphsona.graph.embedded_store import EmbeddedStore
from graphsona.graph.mapping import SchemaMapping
from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env

__all__ = ["STORES", "open_store"]


def _neo4j(
    uri: str,
    mapping: SchemaMapping | None,
    tracer: Tracer | None,
    database: str | None,
    read_only: bool,
) -> GraphStore:
    return Neo4jStore(
        driver_from_env(uri), database=database, mapping=mapping, tracer=tracer, owns_driver=True
    )


def _embedded(
    uri: str,
    mapping: SchemaMapping | None,
    tracer: Tracer | None,
    database: str | None,
    read_only: bool,
) -> GraphStore:
    path = uri.removeprefix("embedded://")
    return EmbeddedStore(Path(path), mapping=mapping, tracer=tracer, read_only=read_only)


STORES: dict[
    str, Callable[[str, SchemaMapping | None, Tracer | None, str | None, bool], GraphStore]
] = {
    "neo4j": _neo4j,
    "neo4j+s": _neo4j,
    "neo4j+ssc": _neo4j,
    "bolt": _neo4j,
    "bolt+s": _neo4j,
    "bolt+ssc": _neo4j,
    "embedded": _embedded,
}


def open_store(
    uri: str,
    *,
    mapping: SchemaMapping | None = None,
    tracer: Tracer | None = None,
    database: str | None = None,
    read_only: bool = False,
) -> GraphStore:
    """Open the store named by ``uri``.

    A plain path (or ``embedded://path``) opens the embedded LadybugDB store there; a
    ``neo4j://``, ``neo4j+s://``, ``bolt://`` or ``bolt+s://`` URI connects to Neo4j with
    ``user:password@`` from the URI, else ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD`` (and
    ``NEO4J_DATABASE`` unless ``database`` is given), and checks the connection at once: an
    unreachable server or refused credentials raise :class:`~graphsona.errors.StoreError` within
    seconds, with no password in the message (see :func:`~graphsona.graph.neo4j_store.driver_from_env`).
    ``read_only`` opens the embedded store read-only (Neo4j: pass ``read_only`` to ``run``).
    """
    if not uri:
        raise ConfigError("store URI is empty; give a path (embedded) or neo4j://host:port")
    scheme = uri.split("://", 1)[0] if "://" in uri else "embedded"
    if scheme not in STORES:
        raise ConfigError(
            f"unknown store scheme {scheme!r} in {uri!r}; valid: {sorted(STORES)} or a path"
        )
    return STORES[scheme](uri, mapping, tracer, database, read_only)
