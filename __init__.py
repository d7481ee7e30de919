"""graphsona: social-graph user profiling and community analysis.

Rooms (each usable alone): :mod:`graphsona.loaders` (data contract, validation, synthetic data),
:mod:`graphsona.graph` (stores, schema mapping, write-back, PyG export),
:mod:`graphsona.embeddings`, :mod:`graphsona.gnn`, :mod:`graphsona.queries` (named Cypher),
:mod:`graphsona.jobs` (the profile job and evaluation, as stages), :mod:`graphsona.outputs`
(recommendations, exports, the report).

In a notebook, :func:`graphsona.profile` runs the whole job on in-memory frames::

    result = graphsona.profile(users, follows, posts=posts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphsona.errors import (
    ConfigError,
    DataValidationError,
    GraphsonaError,
    MissingDependencyError,
    StoreError,
    UnsafeIdentifierError,
)

if TYPE_CHECKING:
    from graphsona.jobs.frames import Profiles, profile

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataValidationError",
    "GraphsonaError",
    "MissingDependencyError",
    "Profiles",
    "StoreError",
    "UnsafeIdentifierError",
    "__version__",
    "profile",
]


def __getattr__(name: str) -> Any:
    # imported on first use: `import graphsona` stays light (the CLI starts without torch)
    if name in ("profile", "Profiles"):
        from graphsona.jobs import frames

        return getattr(frames, name)
    raise AttributeError(f"module 'graphsona' has no attribute {name!r}")
