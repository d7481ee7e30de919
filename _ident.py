"""The one validator and quoting function for Cypher identifiers.

Labels, relationship types and property keys cannot be query parameters, so every one that
reaches Cypher text passes :func:`check_identifier` and is written with :func:`quote`.
"""

from __future__ import annotations

import re

from graphsona.errors import UnsafeIdentifierError

__all__ = ["IDENTIFIER", "check_identifier", "quote"]

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check_identifier(name: object, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain identifier (``^[A-Za-z][A-Za-z0-9_]*$``), else raise."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise UnsafeIdentifierError(
            f"{what} must match ^[A-Za-z][A-Za-z0-9_]*$ (letters, digits, underscore; "
            f"starting with a letter), got {name!r}"
        )
    return name


def quote(name: object, what: str = "identifier") -> str:
    """Validate ``name`` and return it back-quoted for Cypher, e.g. ``User`` -> ```User```."""
    return f"`{check_identifier(name, what)}`"
