"""The named query library: Cypher for the enriched graph, run as ``graphsona query NAME``.

Each query is a file ``library/<name>.cypher`` (shared by both stores) or
``library/<dialect>/<name>.cypher`` (where Neo4j and the embedded store differ, e.g. vector
search). The file starts with ``//`` comment lines: a description, then
``// params: user:str, limit:int=10`` declaring parameters with their type and optional default.
Values are always Cypher ``$parameters``; labels and property keys come from the store's schema
mapping through :func:`graphsona.queries.render`, so the queries follow a mapped graph too.

Ad-hoc Cypher is checked by :func:`write_clauses` before it runs (the CLI refuses write clauses
unless ``--write``); the stores also run read-only queries in a read-only mode where the engine
has one (a READ transaction on Neo4j, a read-only database on the embedded store).

Example:
    >>> [q.name for q in named_queries("embedded")][:3]
    ['bridges', 'communities', 'community']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from graphsona.errors import ConfigError
from graphsona.queries import DIALECTS, fill

if TYPE_CHECKING:
    import polars as pl
    from graphsona.graph import GraphStore

__all__ = ["NamedQuery", "get_query", "named_queries", "run_named", "write_clauses"]

_TYPES: dict[str, type] = {"str": str, "int": int, "float": float}
_PARAM = re.compile(r"^([a-z_][a-z0-9_]*)(?::(str|int|float))?(?:=(.*))?$")
REQUIRED = object()


@dataclass(frozen=True)
class NamedQuery:
    name: str
    dialect: str
    description: str
    params: dict[str, tuple[type, Any]] = field(default_factory=dict)  # name -> (type, default)
    template: str = ""

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        """Typed parameter values: defaults filled, strings converted, unknown/missing refused."""
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise ConfigError(
                f"query {self.name!r} has no parameter {unknown[0]!r}; "
                f"it takes: {', '.join(self.params) or 'none'}"
            )
        out = {}
        for key, (typ, default) in self.params.items():
            if key in given:
                try:
                    out[key] = typ(given[key])
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"query {self.name!r}: {key} must be {typ.__name__} (got {given[key]!r})"
                    ) from None
            elif default is REQUIRED:
                raise ConfigError(f"query {self.name!r} needs --param {key}=...")
            else:
                out[key] = default
        return out

    def usage(self) -> str:
        parts = [
            f"{k}={d}" if d is not REQUIRED else f"{k}:{t.__name__}"
            for k, (t, d) in self.params.items()
        ]
        return f"{self.name}({', '.join(parts)})"


def _root() -> Any:
    return resources.files(__package__) / "library"


def _parse(name: str, dialect: str, text: str) -> NamedQuery:
    desc, params = [], {}
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        body = line[2:].strip()
        if body.startswith("params:"):
            for item in filter(None, (p.strip() for p in body[7:].split(","))):
                m = _PARAM.match(item)
                if not m:
                    raise ConfigError(f"query {name!r}: bad parameter declaration {item!r}")
                typ = _TYPES[m.group(2) or "str"]
                params[m.group(1)] = (typ, typ(m.group(3)) if m.group(3) is not None else REQUIRED)
        else:
            desc.append(body)
    return NamedQuery(name, dialect, " ".join(desc), params, text)


@cache
def named_queries(dialect: str) -> list[NamedQuery]:
    """Every named query for ``dialect`` (a dialect file wins over a shared one), by name."""
    if dialect not in DIALECTS:
        raise ConfigError(f"dialect must be one of {DIALECTS} (got {dialect!r})")
    found: dict[str, str] = {}
    for folder in (_root(), _root() / dialect):
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.endswith(".cypher"):
                    found[p.name[:-7]] = p.read_text(encoding="utf-8")
    return [_parse(n, dialect, found[n]) for n in sorted(found)]


def get_query(name: str, dialect: str) -> NamedQuery:
    for q in named_queries(dialect):
        if q.name == name:
            return q
    known = ", ".join(q.name for q in named_queries(dialect))
    raise ConfigError(f"no named query {name!r}; known: {known}")


def run_named(
    store: GraphStore,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    profile_property: str = "profile",
) -> pl.DataFrame:
    """Run named query ``name`` on ``store`` with ``params`` (strings are converted)."""
    q = get_query(name, store.dialect)
    values = q.bind(params or {})
    names = {
        **store._names(),
        "profile": profile_property,
        "profile_table": f"{store.mapping.user_label}__{profile_property}",
    }
    text = _render_text(q, names)
    if "$index" in text:
        values["index"] = f"{store.mapping.user_label}_{profile_property}"
    return store.run(text, values, read_only=True)


def _render_text(q: NamedQuery, names: dict[str, str]) -> str:
    return fill(q.template, q.name, **names)


_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_WRITES = re.compile(
    r"\b(CREATE|MERGE|SET|DELETE|DETACH|REMOVE|DROP|ALTER|COPY|LOAD|INSTALL|IMPORT|EXPORT|"
    r"FOREACH|CHECKPOINT|ATTACH|DETACH|USE)\b|\bCALL\s+(?!db\.index\.vector\.queryNodes\b|"
    r"db\.labels\b|db\.relationshipTypes\b|db\.propertyKeys\b|db\.schema\.|"
    r"table_info\b|show_tables\b|gds\.[A-Za-z.]*\.stream\b)",
    re.IGNORECASE,
)


def write_clauses(query: str) -> list[str]:
    """Clauses in ``query`` that may write (string literals and comments ignored).

    ``CALL`` is allowed only for known read-only procedures (vector search, schema listing,
    GDS ``.stream`` modes, the embedded store's ``table_info``/``show_tables``).
    """
    text = _COMMENTS.sub(" ", _STRINGS.sub("''", query))
    return sorted({(m.group(1) or "CALL").upper() for m in _WRITES.finditer(text)})
