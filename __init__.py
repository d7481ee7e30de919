"""graphsona: social-graph user profiling and community analysis.

Rooms (each usable alone): :mod:`graphsona.loaders` (data contract, validation, synthetic data),
:mod:`graphsona.graph` (stores, schema mapping, write-back, PyG export),
:mod:`graphsona.embeddings`, :mod:`graphsona.gnn`, :mod:`graphsona.queries` (named Cypher).
"""

from graphsona.errors import (
    ConfigError,
    DataValidationError,
    GraphsonaError,
    MissingDependencyError,
    StoreError,
    UnsafeIdentifierError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataValidationError",
    "GraphsonaError",
    "MissingDependencyError",
    "StoreError",
    "UnsafeIdentifierError",
    "__version__",
]
