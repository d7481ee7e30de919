"""Graph stores (Neo4j and embedded), schema mapping, write-back and export to PyG.

Stores are chosen by URI through :func:`open_store`: a path (the embedded default) or
``neo4j://`` / ``neo4j+s://`` / ``bolt://`` / ``bolt+s://`` (credentials from ``NEO4J_*``).
"""

from graphsona.graph._base import GraphStore
from graphsona.graph.embedded_store import EmbeddedStore
from graphsona.graph.export import PygGraph, to_pyg
from graphsona.graph.mapping import SchemaMapping
from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env
from graphsona.graph.registry import STORES, open_store

__all__ = [
    "STORES",
    "EmbeddedStore",
    "GraphStore",
    "Neo4jStore",
    "PygGraph",
    "SchemaMapping",
    "driver_from_env",
    "open_store",
    "to_pyg",
]
