"""One registry from a store URI to a store: ``open_store("out/graph.lbdb")``, ``open_store("neo4j://...")``.

Which store a command uses is decided once, by :func:`resolve_store_uri`; an embedded store
that does not exist is refused unless the caller creates stores (``create=True``: loading).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from graphsona.errors import ConfigError, StoreError
from graphsona.graph._base import GraphStore, Tracer
from graphsona.graph.embedded_store import EmbeddedStore
from graphsona.graph.mapping import SchemaMapping
from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env

__all__ = [
    "DEFAULT_STORE",
    "STORES",
    "embedded_path",
    "open_store",
    "require_store",
    "resolve_store_uri",
]

#: The store used when nothing names one.
DEFAULT_STORE = "graphsona.lbdb"


def resolve_store_uri(
    given: str | None = None,
    config_uri: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The store to use, first found: ``given`` (``--store``), the config's ``[store] uri``,
    ``$GRAPHSONA_STORE``, ``$NEO4J_URI``, :data:`DEFAULT_STORE`. Empty values count as unset.

    >>> resolve_store_uri(None, "job.lbdb", env={"NEO4J_URI": "bolt://db:7687"})
    'job.lbdb'
    >>> resolve_store_uri(env={"GRAPHSONA_STORE": "", "NEO4J_URI": "bolt://db:7687"})
    'bolt://db:7687'
    """
    env = os.environ if env is None else env
    return (
        given or config_uri or env.get("GRAPHSONA_STORE") or env.get("NEO4J_URI") or DEFAULT_STORE
    )


def embedded_path(uri: str) -> Path | None:
    """The directory of the embedded store named by ``uri`` (a path or ``embedded://path``);
    None for a server URI."""
    if "://" in uri and not uri.startswith("embedded://"):
        return None
    return Path(uri.removeprefix("embedded://"))


def require_store(uri: str) -> None:
    """Raise :class:`StoreError` if ``uri`` names an embedded store that does not exist (a
    mistyped path would otherwise become a new, empty store). Server URIs pass: the server
    answers for itself when the store opens."""
    path = embedded_path(uri)
    if path is not None and not path.exists():
        raise StoreError(
            f"no embedded store at {path} (load a dataset first: graphsona load DIR --store {path})"
        )


def _neo4j(
    uri: str,
    mapping: SchemaMapping | None,
    tracer: Tracer | None,
    database: str | None,
    read_only: bool,
) -> GraphStore:
    store = Neo4jStore(
        driver_from_env(uri), database=database, mapping=mapping, tracer=tracer, owns_driver=True
    )
    store.uri = uri  # workers elsewhere (graphsona.scale) open their own connections from it
    return store


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
    create: bool = False,
) -> GraphStore:
    """Open the store named by ``uri``.

    A plain path (or ``embedded://path``) opens the embedded LadybugDB store there; a
    ``neo4j://``, ``neo4j+s://``, ``bolt://`` or ``bolt+s://`` URI connects to Neo4j with
    ``user:password@`` from the URI, else ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD`` (and
    ``NEO4J_DATABASE`` unless ``database`` is given), and checks the connection at once: an
    unreachable server or refused credentials raise :class:`~graphsona.errors.StoreError` within
    seconds, with no password in the message (see :func:`~graphsona.graph.neo4j_store.driver_from_env`).
    ``read_only`` opens the embedded store read-only (Neo4j: pass ``read_only`` to ``run``).
    An embedded store that does not exist is refused (:func:`require_store`) unless ``create``.
    """
    if not uri:
        raise ConfigError("store URI is empty; give a path (embedded) or neo4j://host:port")
    scheme = uri.split("://", 1)[0] if "://" in uri else "embedded"
    if scheme not in STORES:
        raise ConfigError(
            f"unknown store scheme {scheme!r} in {uri!r}; valid: {sorted(STORES)} or a path"
        )
    if not create:
        require_store(uri)
    return STORES[scheme](uri, mapping, tracer, database, read_only)
