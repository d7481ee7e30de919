"""Compaction of the embedded store (what erasure relies on to leave no deleted bytes on disk):
the live data comes through exactly, table by table or through the engine's export/import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import numpy as np
import polars as pl
import pytest
from graphsona.graph import embedded_store as es
from graphsona.graph.embedded_store import EmbeddedStore


def _snapshot(store: EmbeddedStore) -> dict[str, Any]:
    """Every table's rows (relationships with their ends' keys), sorted, as Python values."""
    out: dict[str, Any] = {}
    for name, kind in store.run("CALL show_tables() RETURN name, type").rows():
        props = store.run(f"CALL table_info('{name}') RETURN name")["name"].to_list()
        if kind == "NODE":
            cols = ", ".join(f"n.`{p}` AS `{p}`" for p in props)
            frame = store.run(f"MATCH (n:`{name}`) RETURN {cols}")
        else:
            src, dst, sk, dk = store.run(f"CALL show_connection('{name}') RETURN *").row(0)[:4]
            cols = "".join(f", r.`{p}` AS `{p}`" for p in props)
            frame = store.run(
                f"MATCH (a:`{src}`)-[r:`{name}`]->(b:`{dst}`) "
                f"RETURN a.`{sk}` AS a, b.`{dk}` AS b{cols}"
            )
        out[name] = sorted(map(repr, frame.rows()))
    return out


@pytest.fixture
def filled(embedded_store: EmbeddedStore, small_dataset: Any) -> EmbeddedStore:
    store = embedded_store
    store.load(small_dataset)
    users = store.read_user_ids().sort()
    rng = np.random.default_rng(0)
    store.write_user_properties(
        pl.DataFrame(
            {
                "user_id": users,
                "profile": pl.Series(rng.standard_normal((len(users), 8)).astype(np.float32)),
                "score": rng.random(len(users)),
                "tags": [["a", "b"]] * len(users),
            }
        ).with_columns(pl.col("profile").cast(pl.Array(pl.Float32, 8)))
    )
    # deleted rows whose bytes compaction must drop
    store.run("MATCH (p:Post) WITH p LIMIT 50 DETACH DELETE p")
    return store


def test_compaction_keeps_every_row_and_value(
    filled: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = filled
    before = _snapshot(store)
    assert before["Post"] and before["FOLLOWS"] and before["User__profile"]
    # small pages: node tables and relationships are each copied in several pages
    monkeypatch.setattr(es, "COMPACT_PAGE_ROWS", 97)
    copied: list[str] = []
    real = EmbeddedStore._copy_into

    def spy(self: EmbeddedStore, conn: Any, ddl: list[str], tables: Any, drop: Any = None) -> Any:
        copied.extend(name for name, _ in tables)
        return real(self, conn, ddl, tables, drop)

    monkeypatch.setattr(EmbeddedStore, "_copy_into", spy)
    store.compact()
    assert "Post" in copied  # the table-by-table path ran
    assert _snapshot(store) == before
    # still a working store: reads, writes and a second compaction
    assert store.read_users().height == len(before["User"])
    store.write_user_properties(pl.DataFrame({"user_id": ["u0000001"], "score": [2.0]}))
    store.compact()
    assert store.run("MATCH (u:User {user_id: 'u0000001'}) RETURN u.score AS s")["s"][0] == 2.0


def test_compaction_falls_back_to_export_and_import(
    filled: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schema the copy cannot rebuild exactly (here a SERIAL key, whose counter a copy would
    not carry) goes through the engine's EXPORT/IMPORT DATABASE instead."""
    store = filled
    store.run("CREATE NODE TABLE Note(id SERIAL PRIMARY KEY, body STRING)")
    store.run("CREATE (:Note {body: 'first'}), (:Note {body: 'second'})")
    before = _snapshot(store)

    def never(*args: Any) -> None:
        raise AssertionError("the table-by-table copy must not run on this schema")

    monkeypatch.setattr(EmbeddedStore, "_copy_into", never)
    store.compact()
    assert _snapshot(store) == before
    store.run("CREATE (:Note {body: 'third'})")
    ids = store.run("MATCH (n:Note) RETURN n.id AS id ORDER BY id")["id"].to_list()
    assert ids == [0, 1, 2]


def test_a_failed_copy_falls_back_to_export_and_import(
    filled: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = filled
    before = _snapshot(store)

    def broken(
        self: EmbeddedStore, conn: Any, ddl: list[str], tables: Any, drop: Any = None
    ) -> None:
        for statement in ddl:
            conn.execute(statement)
        raise RuntimeError("a column type the copy cannot carry")

    monkeypatch.setattr(EmbeddedStore, "_copy_into", broken)
    store.compact()
    assert _snapshot(store) == before
    assert not list(store.path.parent.glob(store.path.name + ".compact*"))


def _without(snap: dict[str, Any], users: set[str], posts: set[str]) -> dict[str, Any]:
    """``snap`` as it should be once ``users`` and ``posts`` are left out with their links."""
    names = [*users, *posts]
    return {
        table: [r for r in rows if not any(repr(n) in r for n in names)]
        for table, rows in snap.items()
    }


@pytest.mark.parametrize("path", ["copy", "export_import"])
def test_compaction_leaves_out_dropped_nodes_and_their_links(
    filled: EmbeddedStore, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """What erasure uses: the named users and posts, their vector rows and every relationship
    with one of them at an end are not in the new file; everything else is, value for value;
    the counts say how many rows of each node table were left out. The same with the engine's
    export/import (the nodes are then deleted first)."""
    store = filled
    monkeypatch.setattr(es, "COMPACT_PAGE_ROWS", 97)
    users = set(store.read_user_ids().sort().head(3).to_list())
    posts = set(
        store.run(
            "MATCH (u:User)-[:POSTED]->(p:Post) WHERE u.user_id IN $ids RETURN p.post_id AS p",
            {"ids": sorted(users)},
        )["p"].to_list()
    )
    assert posts
    before = _snapshot(store)
    if path == "export_import":
        monkeypatch.setattr(EmbeddedStore, "_copy_plan", lambda self, export: None)
    dropped = store.compact(
        drop={
            "User": ("user_id", sorted(users)),
            "User__profile": ("user_id", sorted(users)),
            "Post": ("post_id", sorted(posts)),
        }
    )
    assert dropped == {"User": 3, "User__profile": 3, "Post": len(posts)}
    after = _snapshot(store)
    assert after == _without(before, users, posts)
    assert len(after["FOLLOWS"]) < len(before["FOLLOWS"])  # links to and from them went too
    raw = store.path.read_bytes().decode("latin-1")
    assert not [u for u in users if u in raw]
    again = store.compact(drop={"User": ("user_id", sorted(users))})  # a rerun finds nobody
    assert again == {"User": 0}
    assert _snapshot(store) == after


def test_a_killed_compaction_leaves_the_store_as_it_was(filled: EmbeddedStore) -> None:
    """kill -9 after the new file is filled, before the swap: the old file stays whole and the
    next compaction clears the leftovers."""
    store = filled
    before = _snapshot(store)
    path = store.path
    store.close()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from graphsona.graph.embedded_store import EmbeddedStore; "
            "EmbeddedStore(sys.argv[1]).compact()",
            str(path),
        ],
        env={**os.environ, "GRAPHSONA_CRASH_AT": "compact:copied"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert list(path.parent.glob(path.name + ".compact*"))  # what the killed run left
    again = EmbeddedStore(path)
    try:
        assert _snapshot(again) == before
        again.compact()
        assert _snapshot(again) == before
        assert not list(path.parent.glob(path.name + ".compact*"))
    finally:
        again.close()
