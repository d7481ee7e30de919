"""Graph stores (Neo4j and embedded), schema mapping, write-back and export to PyG.

Stores are chosen by URI through :func:`open_store`: a path (the embedded default) or
``neo4j://`` / ``neo4j+s://`` / ``bolt://`` / ``bolt+s://`` (credentials from ``NEO4J_*``).

:func:`to_pyg` and :class:`PygGraph` are imported on first use: they need torch, which the
commands that only read a store (``query``, ``stats``) never load.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from graphsona.graph._base import GraphStore
from graphsona.graph.embedded_store import EmbeddedStore
from graphsona.graph.mapping import SchemaMapping
from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env
from graphsona.graph.registry import STORES, open_store, require_store, resolve_store_uri

if TYPE_CHECKING:
    from graphsona.graph.export import PygGraph, to_pyg

__all__ = [
    "STORES",
    "EmbeddedStore",
    "GraphStore",
    "Neo4jStore",
    "PygGraph",
    "SchemaMapping",
    "driver_from_env",
    "open_store",
    "require_store",
    "resolve_store_uri",
    "to_pyg",
]

_LAZY = {"PygGraph": "graphsona.graph.export", "to_pyg": "graphsona.graph.export"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'graphsona.graph' has no attribute {name!r}")
