"""Named Cypher: every query graphsona runs lives in a ``.cypher`` file in this folder.

Files are looked up as ``<dialect>/<name>.cypher`` (``neo4j`` or ``embedded``), falling back to
``<name>.cypher`` when both dialects share the text. Values are always ``$parameters``. Labels,
relationship types and property keys cannot be parameters, so templates name them as
``{{placeholder}}`` and :func:`render` fills each with a validated, back-quoted identifier
(:func:`graphsona._ident.quote`); ``{{!placeholder}}`` takes a column type (``FLOAT[128]``) or a small integer from a fixed pattern. Two list forms take a list of
identifiers: ``{{columns...}}`` -> ```a`, `b``` and ``{{u.columns=...}}`` ->
``u.`a` = `a`, u.`b` = `b``` (for ``LOAD FROM`` frames whose column names equal the properties); ``{{'table'}}`` gives a
validated identifier as a string literal.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from graphsona._ident import check_identifier, quote
from graphsona.errors import ConfigError, UnsafeIdentifierError

__all__ = ["available", "fill", "load", "render"]

DIALECTS = ("neo4j", "embedded")
_PLACEHOLDER = re.compile(r"\{\{(!?)([a-z_][a-z0-9_]*)\}\}")
_LITERAL = re.compile(r"\{\{'([a-z_][a-z0-9_]*)'\}\}")
_LIST = re.compile(r"\{\{(?:([a-z])\.)?([a-z_][a-z0-9_]*)(=?)\.\.\.\}\}")
_TYPE = re.compile(r"^((STRING|INT64|DOUBLE|FLOAT|BOOLEAN|BOOL|TIMESTAMP)(\[\d*\])?|\d{1,5})$")


@cache
def load(name: str, dialect: str) -> str:
    """Return the raw template text of query ``name`` for ``dialect``."""
    if dialect not in DIALECTS:
        raise ConfigError(f"dialect must be one of {DIALECTS} (got {dialect!r})")
    root = resources.files(__package__)
    for candidate in (root / dialect / f"{name}.cypher", root / f"{name}.cypher"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise ConfigError(
        f"no query named {name!r} for dialect {dialect!r}; known: {available(dialect)}"
    )


def available(dialect: str) -> list[str]:
    """Names of the queries available for ``dialect``."""
    root = resources.files(__package__)
    names = {p.name[:-7] for p in root.iterdir() if p.name.endswith(".cypher")}
    sub = root / dialect
    if sub.is_dir():
        names |= {p.name[:-7] for p in sub.iterdir() if p.name.endswith(".cypher")}
    return sorted(names)


def render(name: str, dialect: str, **names: str | list[str]) -> str:
    """Fill a template's ``{{placeholders}}`` with validated identifiers (or allowed types)."""
    return fill(load(name, dialect), name, **names)


def fill(text: str, name: str, **names: str | list[str]) -> str:
    """:func:`render` for template text already in hand (``name`` is for error messages)."""

    def fill_list(m: re.Match[str]) -> str:
        var, key, assign = m.group(1), m.group(2), m.group(3)
        items = names.get(key)
        if not isinstance(items, list) or not items:
            raise ConfigError(f"query {name!r} needs a non-empty list for {key!r}")
        if assign:
            return ", ".join(f"{var}.{quote(c, key)} = {quote(c, key)}" for c in items)
        return ", ".join(quote(c, key) for c in items)

    text = _LIST.sub(fill_list, text)
    # {{'key'}}: a validated identifier as a string literal (for procedures taking table names).
    text = _LITERAL.sub(lambda m: f"'{check_identifier(names.get(m.group(1)), m.group(1))}'", text)

    def fill(m: re.Match[str]) -> str:
        raw, key = m.group(1), m.group(2)
        if key not in names:
            raise ConfigError(f"query {name!r} needs a value for {{{{{raw}{key}}}}}")
        value = names[key]
        if not isinstance(value, str):
            raise ConfigError(f"query {name!r}: {key!r} takes one name, got {value!r}")
        if raw:
            if not _TYPE.fullmatch(value):
                raise UnsafeIdentifierError(
                    f"{key} must be a column type like STRING or FLOAT[128], got {value!r}"
                )
            return value
        return quote(value, key)

    return _PLACEHOLDER.sub(fill, text)
