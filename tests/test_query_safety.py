"""Read-only ad-hoc Cypher: what `write_clauses` refuses and lets through, and the refusals
end to end (the CLI on the embedded store, a READ run on Neo4j)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import ConfigError, StoreError
from graphsona.graph import GraphStore, Neo4jStore
from graphsona.graph.mapping import SchemaMapping
from graphsona.queries import DIALECTS
from graphsona.queries.library import _render_text, named_queries, refused_clauses, write_clauses

# The quote in the first comment used to hide the COPY (strings were stripped before comments).
COPY_IN_COMMENT = "// it's\nCOPY (RETURN 'x' AS b) TO 'victim/users.csv' (header=false) //'"

REFUSED: list[tuple[str, list[str]]] = [
    (COPY_IN_COMMENT, ["COPY"]),
    ("EXPORT DATABASE 'x_export'", ["EXPORT"]),
    (
        "LOAD FROM '/etc/passwd' (file_format='csv', header=false, delim=':') RETURN * LIMIT 2",
        ["LOAD"],
    ),
    ("IMPORT DATABASE 'x'", ["IMPORT"]),
    ("CALL gds.graph.project('g','User','FOLLOWS')", ["CALL"]),
    ("LOAD CSV FROM 'file:///x' AS r RETURN r", ["LOAD"]),
    ("CALL apoc.export.csv.all('x.csv', {})", ["CALL"]),
    ("CALL apoc.periodic.iterate('a', 'b', {})", ["CALL"]),
    ("CALL threads=1", ["CALL"]),
    ("CALL threads = 1", ["CALL"]),
    ("CALL db.labels = 1", ["CALL"]),  # a config assignment even with a read-only name
    ("CALL project_graph('g', ['User'], ['FOLLOWS'])", ["CALL"]),
    ("ATTACH 'other.lbdb' AS o (dbtype lbug)", ["ATTACH"]),
    ("DETACH DATABASE o", ["DETACH"]),
    ("USE o", ["USE"]),
    ("INSTALL json", ["INSTALL"]),
    ("LOAD EXTENSION json", ["LOAD"]),
    ("UPDATE json", ["UPDATE"]),
    ("CHECKPOINT", ["CHECKPOINT"]),
    ("BEGIN TRANSACTION", ["BEGIN"]),
    ("COMMIT", ["COMMIT"]),
    ("ROLLBACK", ["ROLLBACK"]),
    ("COMMENT ON TABLE User IS 'x'", ["COMMENT"]),
    ("CREATE (:X)", ["CREATE"]),
    ("match (n) detach delete n", ["DELETE", "DETACH"]),
    ("MATCH (u) SET u.x = 1", ["SET"]),
    ("MATCH (u) REMOVE u.x", ["REMOVE"]),
    ("MERGE (u:User {user_id: 'a'})", ["MERGE"]),
    ("DROP TABLE User", ["DROP"]),
    ("ALTER TABLE User ADD x INT64", ["ALTER"]),
    ("FOREACH (x IN [1] | CREATE (:X))", ["CREATE", "FOREACH"]),
    ("MATCH (n) RETURN n; CREATE (:X)", ["CREATE"]),
    ("MATCH (n) RETURN n;CREATE(:X)", ["CREATE"]),
    ("/* ' */ CREATE (:X)", ["CREATE"]),
    ('/* " */ MATCH (n) DELETE n /* " */', ["DELETE"]),
    ("// it's\nCREATE (:X) //'", ["CREATE"]),
    ("// it's\rCREATE (:X) //'", ["CREATE"]),  # Neo4j also ends a // comment at \r
    ("MATCH (n:`it's`) CREATE (:X) RETURN '`'", ["CREATE"]),
    ('MATCH (n:`a"b`) DELETE n RETURN "`"', ["DELETE"]),
    ("MATCH (`a``'b`) SET `a``'b`.x = 1 RETURN '`'", ["SET"]),
    ("MATCH (n) WHERE n.a = 'it\\'s' CREATE (:X) RETURN '\\''", ["CREATE"]),
    ('MATCH (n) WHERE n.a = "a\\"b" DELETE n RETURN "\\""', ["DELETE"]),
    ("MATCH (n) WHERE n.a = 'a\\\\' DELETE n", ["DELETE"]),  # \\ ends in a backslash
    ("RETURN '\\u0027 CREATE (:X) //' AS s", ["CREATE"]),  # \u0027 is a quote once decoded
    ("RETURN 1 AS x // \\u000a CREATE (:X)", ["CREATE"]),  # \u000a ends the comment
    ("MATCH (n) WHERE n:A DELETE n", ["DELETE"]),  # a label does not hide the next clause
    ("MATCH (as:User) WITH as SET as.x = 2", ["SET"]),  # `as` is a variable here
    ("MATCH (n) WITH n AS set SET n.x = 1", ["SET"]),
    ("MATCH (n) WHERE n.x = 1 . CREATE (:X)", ["CREATE"]),
    ("CALL { MATCH (n) DETACH DELETE n }", ["DELETE", "DETACH"]),
    ("CALL { CALL gds.graph.project('g','User','FOLLOWS') } RETURN 1", ["CALL"]),
    ("CALL gds /* x */ . graph . project('g','User','FOLLOWS')", ["CALL"]),
    ("CALL `gds`.`graph`.`project`('g','User','FOLLOWS')", ["CALL"]),
    ("CALL gds.pageRank.write('g', {writeProperty: 'pr'})", ["CALL"]),
    ("CALL gds.pageRank.mutate('g', {mutateProperty: 'pr'})", ["CALL"]),
    ("CALL gds.graph.drop('g')", ["CALL"]),
    ("CALL 1", ["CALL"]),
    ("CALL (x) RETURN x", ["CALL"]),
    ("EXPLAIN CREATE (:X)", ["CREATE"]),
    ("PROFILE MATCH (n) SET n.x = 1", ["SET"]),
    ("UNWIND [1] AS x MERGE (:X {x: x})", ["MERGE"]),
    ("MATCH (n) RETURN n UNION ALL MATCH (m) DELETE m RETURN m", ["DELETE"]),
    # review findings: Cypher inside an APOC function's string, and `WITH *` before a clause
    (
        'RETURN apoc.cypher.runFirstColumnSingle(\'CALL gds.graph.project("g", "U", "F")\', {})',
        ["FUNCTION"],
    ),
    (
        "RETURN apoc.export.csv.query('MATCH (n) RETURN n', 'x.csv', {})",
        ["FUNCTION"],
    ),
    ("MATCH (n) WITH * SET n.x = 1", ["SET"]),
    ("MATCH (n) WITH n AS use SET n.x = 1", ["SET", "USE"]),
]

ALLOWED = [
    "MATCH (project:Project) RETURN project",
    "MATCH (use:User) RETURN use.user_id",
    "MATCH (a)-[set:KNOWS]->(b) RETURN set",
    "RETURN 1 AS set ORDER BY set",
    "RETURN apoc.text.join(['a', 'b'], ',') AS j",
    "CALL { MATCH (u:User) RETURN count(u) AS c } RETURN c",
    "MATCH (u:User) CALL (u) { MATCH (u)-[:FOLLOWS]->(v) RETURN count(v) AS n } RETURN n",
    "RETURN 1 AS set",
    "WITH 1 AS create RETURN 2 AS delete",
    "MATCH (u:User) RETURN u.delete AS d",
    "MATCH (u) WHERE u.bio = 'I CREATE art' RETURN u // then DELETE",
    'MATCH (u) WHERE u.bio = "it\'s; CREATE" RETURN u /* SET */',
    "RETURN {create: 1, set: 2} AS m",
    "MATCH (n:Set) RETURN n.merge AS m",
    "MATCH (n:Delete|Create&!Merge)-[:SET]->(m) RETURN n",
    "MATCH (n {create: 1, delete: 'x'}) RETURN n {.create, .set, drop: n.drop}",
    "MATCH (n:`CREATE`) RETURN n.`DELETE` AS `SET`",
    "MATCH (n) WHERE n.a = 'it\\'s' AND n.b = \"a\\\"b\" RETURN n",
    "RETURN 'caf\\u00e9' AS s",
    "CALL db.index.vector.queryNodes('i', 3, $v) YIELD node RETURN node",
    "CALL db.labels() YIELD label RETURN label",
    "CALL db.labels",
    "CALL db.schema.visualization()",
    "CALL table_info('User') RETURN *",
    "CALL show_tables() RETURN *",
    "CALL SHOW_TABLES() RETURN *",
    "CALL show_functions() RETURN *",
    "CALL gds.pageRank.stream('g') YIELD nodeId RETURN nodeId",
    "CALL gds.graph.nodeProperties.stream('g', ['pr']) YIELD nodeId RETURN nodeId",
    "CALL gds.graph.list() YIELD graphName RETURN graphName",
    "MATCH (u:User) OPTIONAL MATCH (u)-[:FOLLOWS]->(v) RETURN u, count(v) AS n",
    "UNWIND [1, 2, 3] AS x RETURN x",
    "MATCH (a:User) RETURN a.user_id AS id UNION ALL MATCH (b:Post) RETURN b.post_id AS id",
    "MATCH (u) WITH u ORDER BY u.influence DESC SKIP 5 LIMIT 10 RETURN DISTINCT u.user_id",
    "MATCH (u) WHERE EXISTS { MATCH (u)-[:FOLLOWS]->() } RETURN u",
    "MATCH (u) RETURN COUNT { MATCH (u)-[:FOLLOWS]->() } AS n",
    "MATCH (u) RETURN CASE WHEN u.x > 1 THEN 'big' ELSE 'small' END AS size",
    "MATCH p = (a)-[*1..3]->(b) RETURN length(p) AS hops",
    "RETURN 1.5e3 AS x, .5 AS y, 0x1F AS z, $p AS q, $0 AS r",
    "MATCH (n) RETURN n.start AS start, n.comment AS comment, n.update AS update",
    "MATCH (n) RETURN n; MATCH (m) RETURN m",
]


@pytest.mark.parametrize(("query", "expected"), REFUSED, ids=range(len(REFUSED)))
def test_refused(query: str, expected: list[str]) -> None:
    assert write_clauses(query) == expected


@pytest.mark.parametrize("query", ALLOWED)
def test_allowed(query: str) -> None:
    assert write_clauses(query) == []


def test_refused_procedures_are_named() -> None:
    assert refused_clauses("CALL gds.graph.project('g','User','FOLLOWS')") == [
        "CALL gds.graph.project"
    ]
    assert refused_clauses("CALL threads=1; MATCH (n) DELETE n") == ["CALL threads", "DELETE"]
    assert refused_clauses("RETURN apoc.cypher.runFirstColumnSingle('RETURN 1', {})") == [
        "FUNCTION apoc.cypher.runFirstColumnSingle"
    ]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("MATCH (n) WHERE n.bio = 'open RETURN n", "unterminated string at line 1, column 25"),
        ('RETURN "a\\" AS s', "unterminated string"),
        ("MATCH (n)\nRETURN n /* CREATE", "unterminated /\\* comment at line 2, column 10"),
        ("MATCH (`n) RETURN 1", "unterminated `name`"),
        ("MATCH (n) WHERE n.id = 1CREATE (:X)", "a number runs into a name"),
        ("RETURN '\\u0027' AS s", "unterminated string .*once its \\\\u escapes are decoded"),
    ],
)
def test_unreadable_text_is_refused(query: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"^cannot read the query: {problem}"):
        write_clauses(query)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_named_queries_are_read_only(dialect: str) -> None:
    names = {
        **GraphStore._names(SimpleNamespace(mapping=SchemaMapping())),  # type: ignore[arg-type]
        "profile": "profile",
        "profile_table": "User__profile",
    }
    for q in named_queries(dialect):
        assert write_clauses(_render_text(q, names)) == [], q.name


# ---------------------------------------------------------------------------------- end to end
def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def loaded_store(small_dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    store = str(tmp_path_factory.mktemp("safety") / "graph.lbdb")
    code, _, err = _cli("load", str(small_dataset_dir), "--store", store)
    assert code == 0, err
    return store


def _refused_one_line(code: int, out: str, err: str, clause: str) -> None:
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: query has write clauses (")
    assert clause in err and "--write" in err


def test_cli_refuses_copy_hidden_behind_a_comment_quote(
    loaded_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim" / "users.csv"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    code, out, err = _cli("query", COPY_IN_COMMENT, "--store", loaded_store)
    _refused_one_line(code, out, err, "COPY")
    assert victim.read_text() == "precious\n"
    victim.unlink()
    code, out, err = _cli("query", COPY_IN_COMMENT, "--store", loaded_store)
    _refused_one_line(code, out, err, "COPY")
    assert not victim.exists()
    # with --write the same text does write the file: the refusal above is what kept it out
    code, _, err = _cli("query", COPY_IN_COMMENT, "--write", "--store", loaded_store)
    assert code == 0, err
    assert victim.read_text().strip() == "x"


def test_cli_refuses_export_and_load_from(
    loaded_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli("query", "EXPORT DATABASE 'x_export'", "--store", loaded_store)
    _refused_one_line(code, out, err, "EXPORT")
    assert not (tmp_path / "x_export").exists()
    passwd = "LOAD FROM '/etc/passwd' (file_format='csv', header=false, delim=':') RETURN * LIMIT 2"
    code, out, err = _cli("query", passwd, "--store", loaded_store, "--json")
    _refused_one_line(code, out, err, "LOAD")
    assert "root" not in out + err
    code, out, err = _cli("query", "CALL threads=1", "--store", loaded_store)
    _refused_one_line(code, out, err, "CALL threads")


def test_cli_runs_read_only_queries_with_keyword_names(loaded_store: str) -> None:
    code, out, err = _cli("query", "RETURN 1 AS set", "--store", loaded_store, "--json")
    assert code == 0, err
    assert '"set": 1' in out
    code, out, err = _cli(
        "query", "CALL table_info('User') RETURN name", "--store", loaded_store, "--json"
    )
    assert code == 0, err
    assert '"user_id"' in out
    # LadybugDB has no CALL { } subqueries: the engine reports that, graphsona lets it through
    sub = "CALL { MATCH (u:User) RETURN count(u) AS c } RETURN c"
    code, _, err = _cli("query", sub, "--store", loaded_store)
    assert "write clauses" not in err


def test_cli_reports_unreadable_text_in_one_line(loaded_store: str) -> None:
    code, _, err = _cli("query", "MATCH (n) RETURN 'open", "--store", loaded_store)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: cannot read the query: unterminated string at line 1")


def test_cli_help_names_file_clauses() -> None:
    code, out, _ = _cli("query", "--help")
    assert code == 0
    text = " ".join(out.split())
    for word in ("COPY", "EXPORT", "IMPORT", "LOAD FROM", "LOAD CSV", "procedure"):
        assert word in text


# ------------------------------------------------------------------------------------- Neo4j
@pytest.mark.neo4j
def test_neo4j_read_only_run_refuses_a_gds_projection(neo4j_store: Neo4jStore) -> None:
    neo4j_store.run(
        "CREATE (a:User {user_id: 'a'})-[:FOLLOWS]->(b:User {user_id: 'b'}), "
        "(b)-[:FOLLOWS]->(:User {user_id: 'c'})"
    )
    exists = "CALL gds.graph.exists('g') YIELD exists RETURN exists"
    try:
        with pytest.raises(StoreError, match=r"CALL gds\.graph\.project"):
            neo4j_store.run("CALL gds.graph.project('g','User','FOLLOWS')", read_only=True)
        assert neo4j_store.run(exists, read_only=True)["exists"][0] is False
        with pytest.raises(StoreError, match="CREATE"):
            neo4j_store.run("// it's\nCREATE (:User {user_id: 'x'}) //'", read_only=True)
        got = neo4j_store.run(
            "CALL { MATCH (u:User) RETURN count(u) AS c } RETURN c, 1 AS set", read_only=True
        )
        assert got.row(0, named=True) == {"c": 3, "set": 1}
    finally:  # GDS graphs outlive the data the fixture clears
        neo4j_store.run("CALL gds.graph.drop('g', false) YIELD graphName RETURN graphName")
