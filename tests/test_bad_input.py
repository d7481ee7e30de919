"""Every class of bad input, in every format it can arise in, gives one `error:` line naming the
file (and the row and column where they apply), exit code 1, no traceback, and writes nothing.

The classes are the ones an audit tried (issue 16) plus the older contract checks. Each case
takes a valid dataset (``BASE``), breaks one thing, loads it with ``graphsona load`` and checks
the message. Store-level cases (a value the store cannot hold given what it already holds) load a
valid dataset first and check that the failed load changed nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.graph import EmbeddedStore

Tables = dict[str, list[dict[str, Any]]]

BASE: Tables = {
    "users": [
        {"user_id": f"u{i}", "handle": f"h{i}", "bio": f"bio {i}", "created_at": "2024-01-01"}
        | {"age": 20 + i}
        for i in range(1, 5)
    ],
    "posts": [
        {"post_id": f"p{i}", "user_id": f"u{i}", "text": f"post {i}", "created_at": "2024-02-01"}
        for i in range(1, 4)
    ],
    "follows": [
        {"src": s, "dst": d, "created_at": "2024-03-01"}
        for s, d in (("u1", "u2"), ("u2", "u3"), ("u3", "u1"), ("u4", "u1"))
    ],
    "interactions": [
        {"src": "u1", "dst": "u2", "kind": "reply", "weight": 1.0, "created_at": "2024-04-01"},
        {"src": "u2", "dst": "u3", "kind": "like", "weight": 2.0, "created_at": "2024-04-02"},
    ],
}
FORMATS = ("csv", "jsonl", "parquet")


def _copy(t: Tables) -> Tables:
    return {k: [dict(r) for r in v] for k, v in t.items()}


def write_tables(root: Path, tables: Tables, fmt: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        path = root / f"{name}.{fmt}"
        if fmt == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            continue
        frame = pl.DataFrame(rows, infer_schema_length=None)
        if fmt == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)


def _set(table: str, row: int, **values: Any) -> Callable[[Tables], Tables]:
    """Set fields of data row ``row`` (1-based) of ``table``."""

    def f(t: Tables) -> Tables:
        t[table][row - 1].update(values)
        return t

    return f


def _drop_col(table: str, col: str) -> Callable[[Tables], Tables]:
    def f(t: Tables) -> Tables:
        for r in t[table]:
            r.pop(col, None)
        return t

    return f


def _add_col(table: str, col: str, value: Callable[[int], Any]) -> Callable[[Tables], Tables]:
    def f(t: Tables) -> Tables:
        for i, r in enumerate(t[table]):
            r[col] = value(i)
        return t

    return f


@dataclass(frozen=True)
class Case:
    name: str
    formats: tuple[str, ...]
    match: str  # regex the error line must match
    table: str | None = "users"  # file named in the error (None: the dataset folder)
    row: int | None = None
    column: str | None = None
    tables: Callable[[Tables], Tables] | None = None  # structured change, any format
    raw: Callable[[Path, str], None] | None = None  # change to the written files
    options: tuple[str, ...] = ()


def _raw_append(table: str, text: str | bytes) -> Callable[[Path, str], None]:
    def f(root: Path, fmt: str) -> None:
        path = root / f"{table}.{fmt}"
        data = text.encode() if isinstance(text, str) else text
        path.write_bytes(path.read_bytes() + data)

    return f


def _raw_replace(table: str, data: bytes) -> Callable[[Path, str], None]:
    def f(root: Path, fmt: str) -> None:
        (root / f"{table}.{fmt}").write_bytes(data)

    return f


def _remove(*tables: str) -> Callable[[Path, str], None]:
    def f(root: Path, fmt: str) -> None:
        for t in tables:
            (root / f"{t}.{fmt}").unlink()

    return f


def _header_only(root: Path, fmt: str) -> None:
    path = root / f"users.{fmt}"
    if fmt == "csv":
        path.write_text("user_id,handle,bio\n", encoding="utf-8")
    else:
        pl.DataFrame(schema={"user_id": pl.String, "handle": pl.String}).write_parquet(path)


def _second_users_file(root: Path, fmt: str) -> None:
    other = "jsonl" if fmt != "jsonl" else "csv"
    (root / f"users.{other}").write_text(
        '{"user_id": "u1"}\n' if other == "jsonl" else "user_id\nu1\n", encoding="utf-8"
    )


def _binary_text(root: Path, fmt: str) -> None:
    pl.DataFrame({"user_id": ["u1", "u2"], "text": [b"\x00\x01", b"ab"]}).write_parquet(
        root / "posts.parquet"
    )


ALL = FORMATS
TYPED = ("jsonl", "parquet")  # formats that carry types of their own
LONG_ID = "x" * 10_000
CASES = [
    # --- files and structure
    Case("no users file", ALL, "missing required file", raw=_remove("users")),
    Case(
        "no edges",
        ALL,
        "needs follows or interactions",
        None,
        raw=_remove("follows", "interactions"),
    ),
    Case("two files for one table", ALL, "more than one file", None, raw=_second_users_file),
    Case(
        "empty file",
        ALL,
        r"empty|missing required column|cannot read Parquet",
        raw=_raw_replace("users", b""),
    ),
    Case("header only", ("csv", "parquet"), "has no rows", raw=_header_only),
    Case(
        "missing user_id column",
        ALL,
        "missing required column",
        column="user_id",
        tables=_drop_col("users", "user_id"),
    ),
    Case(
        "missing text column",
        ALL,
        "missing required column",
        "posts",
        column="text",
        tables=_drop_col("posts", "text"),
    ),
    Case(
        "invalid UTF-8",
        ("csv", "jsonl"),
        "invalid UTF-8",
        raw=_raw_append("users", b"u9,h9,\xff\xfe,2024-01-01,3\n"),
    ),
    Case(
        "unterminated quote",
        ("csv",),
        r"malformed CSV|cannot parse CSV",
        raw=_raw_append("users", 'u9,"h9,bio,2024-01-01,3\n'),
    ),
    Case(
        "too many fields",
        ("csv",),
        "malformed CSV: 6 fields",
        row=5,
        raw=_raw_append("users", "u9,h9,b,2024-01-01,3,extra\n"),
    ),
    Case(
        "too few fields",
        ("csv",),
        "malformed CSV: 2 fields",
        row=5,
        raw=_raw_append("users", "u9,h9\n"),
    ),
    Case(
        "invalid JSON",
        ("jsonl",),
        "invalid JSON",
        row=5,
        raw=_raw_append("users", '{"user_id": "u9",\n'),
    ),
    Case(
        "JSON line not an object",
        ("jsonl",),
        "must be a JSON object",
        row=5,
        raw=_raw_append("users", "[1, 2]\n"),
    ),
    Case(
        "corrupt Parquet",
        ("parquet",),
        "cannot read Parquet",
        raw=_raw_replace("users", b"PAR1 not really"),
    ),
    # --- column names
    Case(
        "column not an identifier",
        ALL,
        "plain identifier",
        column="home town",
        tables=_add_col("users", "home town", str),
    ),
    Case(
        "internal column name",
        ALL,
        "reserved for graphsona's row numbers",
        column="__row",
        tables=_add_col("users", "__row", str),
    ),
    Case(
        "names differing in case",
        ALL,
        "differ only in case",
        column="Bio",
        tables=_add_col("users", "Bio", str),
    ),
    Case(
        "output name community_id",
        ALL,
        "reserved for a result",
        column="community_id",
        tables=_add_col("users", "community_id", int),
    ),
    Case(
        "output name profile",
        ALL,
        "reserved for a result",
        column="profile",
        tables=_add_col("users", "profile", str),
    ),
    Case(
        "output name influence",
        ALL,
        "reserved for a result",
        column="influence",
        tables=_add_col("users", "influence", float),
    ),
    Case(
        "output prefix pred_",
        ALL,
        "reserved for a result",
        column="pred_side",
        tables=_add_col("users", "pred_side", str),
    ),
    Case(
        "output name in another case",
        ALL,
        "reserved for a result",
        column="PageRank",
        tables=_add_col("users", "PageRank", float),
    ),
    # --- ids
    Case(
        "10 KB post_id",
        ALL,
        "longer than 1024 characters",
        "posts",
        row=2,
        column="post_id",
        tables=_set("posts", 2, post_id=LONG_ID),
    ),
    Case(
        "missing user_id",
        ALL,
        "missing id",
        row=2,
        column="user_id",
        tables=_set("users", 2, user_id=""),
    ),
    Case(
        "duplicate user_id",
        ALL,
        "duplicate user_id",
        row=1,
        column="user_id",
        tables=_set("users", 3, user_id="u1"),
    ),
    Case(
        "duplicate post_id",
        ALL,
        "duplicate post_id",
        "posts",
        row=1,
        column="post_id",
        tables=_set("posts", 2, post_id="p1"),
    ),
    Case(
        "not a language code",
        ALL,
        "lang must be a language code",
        "posts",
        row=2,
        column="lang",
        tables=lambda t: _set("posts", 2, lang="English")(
            _add_col("posts", "lang", lambda i: "en")(t)
        ),
    ),
    Case(
        "missing post_id",
        ALL,
        "missing post_id",
        "posts",
        row=3,
        column="post_id",
        tables=_set("posts", 3, post_id=""),
    ),
    Case(
        "missing src",
        ALL,
        "missing id",
        "follows",
        row=2,
        column="src",
        tables=_set("follows", 2, src=""),
    ),
    Case(
        "10 KB user_id",
        ALL,
        "longer than 1024 characters",
        row=4,
        column="user_id",
        tables=_set("users", 4, user_id=LONG_ID),
    ),
    Case(
        "float ids",
        TYPED,
        r"expected string \(or integer\) ids",
        column="user_id",
        tables=lambda t: _ids_as_float(t),
    ),
    Case(
        "unknown user with --strict",
        ALL,
        "names a user not in users",
        "follows",
        row=2,
        column="dst",
        tables=_set("follows", 2, dst="u99"),
        options=("--strict",),
    ),
    # --- times
    Case(
        "unparseable time",
        ALL,
        "cannot parse time",
        row=2,
        column="created_at",
        tables=_set("users", 2, created_at="yesterday"),
    ),
    Case(
        "time NaN",
        ("csv", "parquet"),
        "expected epoch seconds between",
        row=3,
        column="created_at",
        tables=lambda t: _times(t, math.nan),
    ),
    Case(
        "time 1e30",
        ALL,
        "expected epoch seconds between",
        row=3,
        column="created_at",
        tables=lambda t: _times(t, 1e30),
    ),
    Case(
        "epoch milliseconds",
        ALL,
        r"epoch milliseconds or microseconds",
        "follows",
        row=3,
        column="created_at",
        tables=lambda t: _times(t, 1.7e12, "follows"),
    ),
    Case(
        "epoch microseconds",
        ALL,
        r"epoch milliseconds or microseconds",
        "follows",
        row=3,
        column="created_at",
        tables=lambda t: _times(t, 1.7e15, "follows"),
    ),
    Case(
        "date as a number (YYYYMMDD)",
        ALL,
        "YYYYMMDD",
        row=3,
        column="created_at",
        tables=lambda t: _times(t, 20240501),
    ),
    Case(
        "year out of range",
        ALL,
        "time out of range",
        "posts",
        row=1,
        column="created_at",
        tables=_set("posts", 1, created_at="3000-01-01"),
    ),
    # --- values
    Case(
        "bad kind",
        ALL,
        "kind must be one word",
        "interactions",
        row=2,
        column="kind",
        tables=_set("interactions", 2, kind="re ply"),
    ),
    Case(
        "weight not a number",
        ALL,
        "weight must be a number",
        "interactions",
        row=1,
        column="weight",
        tables=lambda t: _weights(t, "heavy"),
    ),
    Case(
        "negative weight",
        ALL,
        r"finite number >= 0",
        "interactions",
        row=1,
        column="weight",
        tables=lambda t: _weights(t, -1.0),
    ),
    Case(
        "binary text",
        ("parquet",),
        r"plain value|expected text",
        "posts",
        column="text",
        raw=_binary_text,
    ),
    Case(
        "nested property",
        TYPED,
        "must be a plain value",
        row=1,
        column="meta",
        tables=_add_col("users", "meta", lambda i: {"a": i}),
    ),
    Case(
        "list property",
        TYPED,
        "must be a plain value",
        row=1,
        column="tags",
        tables=_add_col("users", "tags", lambda i: ["a", str(i)]),
    ),
    Case(
        "nested bio",
        TYPED,
        "must be a plain value",
        row=1,
        column="bio",
        tables=_add_col("users", "bio", lambda i: {"x": i}),
    ),
]


def _ids_as_float(t: Tables) -> Tables:
    for i, r in enumerate(t["users"]):
        r["user_id"] = i + 0.5
    return t


def _times(t: Tables, value: float, table: str = "users") -> Tables:
    """Make ``created_at`` numeric (epoch seconds) everywhere, with ``value`` in row 3."""
    for i, r in enumerate(t[table]):
        r["created_at"] = 1.7e9 + i
    t[table][2]["created_at"] = value
    return t


def _weights(t: Tables, value: Any) -> Tables:
    for r in t["interactions"]:
        r["weight"] = value if isinstance(value, str) else r["weight"]
    t["interactions"][0]["weight"] = value
    return t


def _params() -> list[Any]:
    return [
        pytest.param(case, fmt, id=f"{case.name}-{fmt}") for case in CASES for fmt in case.formats
    ]


def test_the_table_covers_the_audited_classes() -> None:
    assert len(CASES) >= 36
    assert len(_params()) >= 90


@pytest.mark.parametrize(("case", "fmt"), _params())
def test_bad_input_gives_one_error_line_and_writes_nothing(
    tmp_path: Path, case: Case, fmt: str
) -> None:
    root = tmp_path / "data"
    tables = _copy(BASE)
    if case.tables is not None:
        tables = case.tables(tables)
    write_tables(root, tables, fmt)
    if case.raw is not None:
        case.raw(root, fmt)
    store = tmp_path / "graph.lbdb"
    result = CliRunner().invoke(
        main, ["load", str(root), "--store", str(store), *case.options], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    line = lines[0]
    assert "Traceback" not in result.output
    assert re.search(case.match, line), line
    if case.table is not None:
        assert re.search(rf"file \S*/{case.table}(\.\w+)?[,:]", line), line
    else:
        assert f"file {root}" in line, line
    if case.row is not None:
        assert f"row {case.row}," in line or f"row {case.row}:" in line, line
    if case.column is not None:
        assert f"column {case.column!r}" in line, line
    assert not store.exists(), "nothing is written for an invalid dataset"


# ------------------------------------------------------------------ store-level classes
def _counts_and_users(path: Path) -> tuple[dict[str, int], pl.DataFrame]:
    with EmbeddedStore(path, read_only=True) as s:
        return s.counts(), s.read_users()


@pytest.mark.parametrize(
    ("name", "change", "match"),
    [
        (
            "property type differs from the stored one",
            _set("users", 2, age="thirty"),
            "holds STRING values but the store holds INT64",
        ),
        (
            "property spelled differently from the stored one",
            lambda t: _rename_col(t, "bio", "BIO"),
            "spelled 'bio'",
        ),
    ],
)
def test_store_level_clash_refused_before_any_write(
    tmp_path: Path, name: str, change: Callable[[Tables], Tables], match: str
) -> None:
    store = tmp_path / "graph.lbdb"
    first, second = tmp_path / "first", tmp_path / "second"
    write_tables(first, BASE, "csv")
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(first), "--store", str(store)]).exit_code == 0
    before = _counts_and_users(store)
    tables = _copy(BASE)
    tables["users"].append(
        {"user_id": "u9", "handle": "new", "bio": "new user", "created_at": None, "age": 1}
    )
    tables["users"][0]["handle"] = "changed"  # would be written first if not refused
    tables = change(tables)
    write_tables(second, tables, "csv")
    result = runner.invoke(main, ["load", str(second), "--store", str(store)])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and re.search(match, lines[0]), result.output
    assert "users.csv" in lines[0]
    after = _counts_and_users(store)
    assert after[0] == before[0]
    assert after[1].equals(before[1]), "the refused load changed nothing"


def _rename_col(t: Tables, old: str, new: str) -> Tables:
    for r in t["users"]:
        r[new] = r.pop(old)
    return t


def test_all_null_property_is_dropped_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_tables(root, _add_col("users", "nickname", lambda i: None)(_copy(BASE)), "jsonl")
    from graphsona.loaders import load_dataset

    ds, report = load_dataset(root)
    assert "nickname" not in ds.users.columns
    assert report.issues["users.empty_column_dropped"] == 1
