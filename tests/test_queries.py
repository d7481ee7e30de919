"""Named Cypher templates: identifiers validated and quoted, values left as parameters."""

from __future__ import annotations

import pytest
from graphsona import queries
from graphsona._ident import quote
from graphsona.errors import ConfigError, UnsafeIdentifierError


def test_render_quotes_identifiers() -> None:
    text = queries.render(
        "read_follows", "neo4j", user_label="Person", rel="FOLLOWS", user_id="sid"
    )
    assert "(a:`Person`)-[:`FOLLOWS`]->(b:`Person`)" in text
    assert "{{" not in text


def test_render_rejects_injection() -> None:
    with pytest.raises(UnsafeIdentifierError, match="user_label must match"):
        queries.render(
            "read_follows", "neo4j", user_label="User`) DETACH DELETE n //", rel="F", user_id="id"
        )


def test_list_and_literal_placeholders() -> None:
    names = dict(user_label="User", user_id="user_id")
    text = queries.render("write_user_properties", "embedded", columns=["a", "b"], **names)
    assert "SET u.`a` = `a`, u.`b` = `b`" in text
    assert queries.render("table_info", "embedded", table="User").startswith(
        "CALL table_info('User')"
    )
    with pytest.raises(UnsafeIdentifierError):
        queries.render("write_user_properties", "embedded", columns=["a", "b c"], **names)
    with pytest.raises(UnsafeIdentifierError):
        queries.render("table_info", "embedded", table="x'); DROP TABLE y //")


def test_types_come_from_a_fixed_pattern() -> None:
    ok = queries.render("add_column", "embedded", table="User", column="v", type="FLOAT[128]")
    assert ok.strip().endswith("`v` FLOAT[128]")
    with pytest.raises(UnsafeIdentifierError, match="column type"):
        queries.render("add_column", "embedded", table="User", column="v", type="STRING; DROP")


def test_unknown_query_and_missing_placeholder() -> None:
    with pytest.raises(ConfigError, match="no query named 'nope'"):
        queries.load("nope", "neo4j")
    with pytest.raises(ConfigError, match="needs a value"):
        queries.render("read_follows", "neo4j", user_label="User")


def test_quote() -> None:
    assert quote("User") == "`User`"
    for bad in ("", "1abc", "a b", "a`b", None):
        with pytest.raises(UnsafeIdentifierError):
            quote(bad)
