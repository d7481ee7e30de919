"""graphsona's error hierarchy: one root, specific subclasses, messages that name the thing."""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "ConfigError",
    "DataValidationError",
    "GraphsonaError",
    "MissingDependencyError",
    "StoreError",
    "UnsafeIdentifierError",
]


class GraphsonaError(Exception):
    """Root of every error graphsona raises on purpose; the CLI prints these as one line."""


class ConfigError(GraphsonaError):
    """A configuration value is invalid (names the option, what was expected and what was got)."""


class DataValidationError(GraphsonaError):
    """Input data breaks the data contract.

    Attributes:
        file: the offending file (or logical table name).
        row: 1-based data row (header excluded) where known.
        column: the offending column where known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            p
            for p in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.column = file, row, column


class ClusterError(GraphsonaError):
    """Distributed work (Ray) failed or made no progress for its stall timeout."""


class StoreError(GraphsonaError):
    """A graph store could not be reached or refused an operation."""


class UnsafeIdentifierError(GraphsonaError):
    """A label, relationship type or property key is not a plain identifier."""


class MissingDependencyError(GraphsonaError):
    """An optional dependency is needed for the requested feature; the message says how to install it."""
