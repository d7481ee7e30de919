"""Schema mapping: where users, posts and edges live in a graph, including one graphsona did not create.

The default mapping is graphsona's own schema::

    (:User {user_id, ...})-[:POSTED]->(:Post {post_id, text, created_at, lang})
    (:User)-[:FOLLOWS {created_at}]->(:User)
    (:User)-[:INTERACTS {kind, weight, count, created_at, last_at}]->(:User)
    (:User)-[:IN_COMMUNITY]->(:Community {community_id, name, ...})

An existing graph is read through a mapping, e.g. TOML::

    [mapping]
    user_label = "Person"
    user_id = "screen_name"
    follows = ["FOLLOWS", "SUBSCRIBED_TO"]
    interactions = { REPLIED_TO = "reply", RETWEETED = "repost" }
    post_label = "Tweet"
    post_rel = "WROTE"
    post_text = "body"

Every name is checked with the one identifier validator when the mapping is built, so an
injection attempt such as ``User`) DETACH DELETE n //`` never reaches Cypher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from graphsona._ident import IDENTIFIER
from graphsona.errors import ConfigError, UnsafeIdentifierError

__all__ = ["SchemaMapping"]

_TUPLE_FIELDS = ("follows",)  # relationship-type lists: one string is one type
_OPTIONAL_FIELDS = ("interaction_type", "weight_property", "post_label", "post_created_at")


@dataclass(frozen=True)
class SchemaMapping:
    """Names of labels, relationship types and properties (all validated identifiers).

    Args:
        user_label, user_id: the user nodes and their id property.
        follows: relationship types meaning "src follows dst".
        interaction_type: graphsona's single interaction type, carrying ``kind_property``; set
            to ``None`` for a graph that has no such type.
        interactions: extra types mapped to a kind (``{"REPLIED_TO": "reply"}``).
        weight_property: interaction weight (absent -> 1.0).
        post_label, post_rel, post_text, post_id, post_created_at: where post text lives;
            ``post_rel_outgoing`` is True for ``(user)-[:POSTED]->(post)``. ``post_label=None``
            means the graph has no posts.
        community_label, membership_rel: what write-back creates for communities.
        recommended_rel: relationship type of written who-to-follow recommendations.
        topic_label, about_rel, alert_label: what write-back creates for topics
            (``(post)-[:ABOUT]->(topic)``) and monitoring alerts.
    """

    user_label: str = "User"
    user_id: str = "user_id"
    follows: tuple[str, ...] = ("FOLLOWS",)
    interaction_type: str | None = "INTERACTS"
    kind_property: str = "kind"
    weight_property: str | None = "weight"
    interactions: dict[str, str] = field(default_factory=dict)
    post_label: str | None = "Post"
    post_rel: str = "POSTED"
    post_rel_outgoing: bool = True
    post_text: str = "text"
    post_id: str = "post_id"
    post_created_at: str | None = "created_at"
    community_label: str = "Community"
    membership_rel: str = "IN_COMMUNITY"
    recommended_rel: str = "RECOMMENDED"
    topic_label: str = "Topic"
    about_rel: str = "ABOUT"
    alert_label: str = "Alert"

    def __post_init__(self) -> None:
        self._check_types()
        bad = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "post_rel_outgoing":
                continue
            values = (
                list(value)
                if isinstance(value, tuple)
                else list(value.items())
                if isinstance(value, dict)
                else [value]
            )
            for v in values:
                for item in v if isinstance(v, tuple) else (v,):
                    if item is None and f.name in _OPTIONAL_FIELDS:
                        continue
                    if not (isinstance(item, str) and IDENTIFIER.fullmatch(item)):
                        bad.append(f"{f.name}={item!r}")
        if bad:
            raise UnsafeIdentifierError(
                "schema mapping names must match ^[A-Za-z][A-Za-z0-9_]*$; rejected: "
                + ", ".join(bad)
            )
        if not self.follows and self.interaction_type is None and not self.interactions:
            raise ConfigError("schema mapping names no follow or interaction relationship type")

    def _check_types(self) -> None:
        """Normalise the container fields and reject values of the wrong type, naming the key.

        A tuple-valued field (``follows``) also accepts one string, as one relationship type:
        ``follows = "KNOWS"`` means ``("KNOWS",)``, never the letters ``K, N, O, W, S``.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "post_rel_outgoing":
                if not isinstance(value, bool):
                    raise ConfigError(
                        f"schema mapping key {f.name!r} must be true or false (got {value!r})"
                    )
            elif f.name == "interactions":
                if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()
                ):
                    raise ConfigError(
                        f"schema mapping key {f.name!r} must be a table of relationship type = "
                        f'kind strings, e.g. {{ REPLIED_TO = "reply" }} (got {value!r})'
                    )
                object.__setattr__(self, f.name, dict(value))
            elif f.name in _TUPLE_FIELDS:
                if isinstance(value, str):
                    value = (value,)
                if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, str) for v in value
                ):
                    raise ConfigError(
                        f"schema mapping key {f.name!r} must be a relationship type or a list of "
                        f"them (got {value!r})"
                    )
                object.__setattr__(self, f.name, tuple(value))
            elif not (isinstance(value, str) or (value is None and f.name in _OPTIONAL_FIELDS)):
                what = "a name" + (" or none" if f.name in _OPTIONAL_FIELDS else "")
                raise ConfigError(f"schema mapping key {f.name!r} must be {what} (got {value!r})")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchemaMapping:
        """Build from a config table; unknown keys are an error listing the valid ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown schema mapping key(s) {unknown}; valid keys: {sorted(known)}"
            )
        return cls(**data)

    @property
    def is_native(self) -> bool:
        """True when this is graphsona's own schema (the store can load datasets into it)."""
        return self == SchemaMapping()
