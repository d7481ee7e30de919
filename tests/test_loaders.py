"""The data contract: every bad input gives its error (file, row, column) or its count."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from graphsona.errors import DataValidationError
from graphsona.loaders import LoadOptions, load_dataset
from helpers import write_table

USERS = "user_id,handle,bio,created_at,age\nu1,@a,hi,2024-01-01T00:00:00Z,31\nu2,@b,,1700000000,\nu3,@c,yo,2024-02-01,40\n"


def make(tmp_path: Path, **tables: str) -> Path:
    root = tmp_path / "ds"
    tables.setdefault("users", USERS)
    tables.setdefault("follows", "src,dst\nu1,u2\n")
    for name, text in tables.items():
        write_table(root, name, text)
    return root


def test_valid_csv_is_typed_and_reported(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        posts="user_id,text,created_at,lang\nu1,hello world,2024-03-01T10:00:00+02:00,en\nu2,hola,,es\n",
        interactions="src,dst,kind,weight,created_at\nu1,u2,Reply,2,2024-01-01\nu2,u3,like,,2024-01-02\n",
    )
    ds, report = load_dataset(root)
    assert ds.users.schema["age"] == pl.Int64  # extra columns kept, typed
    assert ds.users.schema["created_at"] == pl.Datetime("us", "UTC")
    assert ds.users["created_at"].dt.year().to_list() == [2024, 2023, 2024]  # ISO, epoch, date-only
    assert ds.posts["post_id"].to_list() == ["u1/0", "u2/0"]  # deterministic ids when absent
    assert ds.posts["created_at"][0].hour == 8  # +02:00 converted to UTC
    assert (
        ds.interactions["kind"].to_list() == ["reply", "like"]
        or ds.interactions["kind"].to_list() == ["reply", "like"][::-1]
    )
    assert sorted(ds.interactions["weight"].to_list()) == [1.0, 2.0]  # missing weight -> 1
    assert report.rows_read == {"users": 3, "posts": 2, "follows": 1, "interactions": 2}
    assert report.issues == {}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_formats_give_the_same_dataset(tmp_path: Path, fmt: str) -> None:
    users = pl.DataFrame({"user_id": ["a", "b", "c"], "bio": ["x", None, "z"]})
    follows = pl.DataFrame({"src": ["a", "b"], "dst": ["b", "c"]})
    posts = pl.DataFrame({"user_id": ["a", "c"], "text": ["p1 ✨", "p2 ¿qué?"]})
    root = tmp_path / fmt
    for name, frame in (("users", users), ("follows", follows), ("posts", posts)):
        write_table(root, name, frame, fmt)
    ds, _ = load_dataset(root)
    assert ds.users.select("user_id", "bio").equals(users)
    assert ds.follows.select("src", "dst").equals(follows)
    assert ds.posts["text"].to_list() == ["p1 ✨", "p2 ¿qué?"]


def test_missing_users_file(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_table(root, "follows", "src,dst\nu1,u2\n")
    with pytest.raises(DataValidationError, match=r"users.*missing required file"):
        load_dataset(root)


def test_edges_required(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_table(root, "users", USERS)
    with pytest.raises(DataValidationError, match="needs follows or interactions"):
        load_dataset(root)


def test_missing_required_column(tmp_path: Path) -> None:
    with pytest.raises(
        DataValidationError, match=r"follows.csv.*column 'dst'.*missing required column"
    ):
        load_dataset(make(tmp_path, follows="src,target\nu1,u2\n"))


def test_wrong_type_weight_names_row(tmp_path: Path) -> None:
    root = make(tmp_path, interactions="src,dst,kind,weight\nu1,u2,reply,1\nu2,u3,reply,lots\n")
    with pytest.raises(
        DataValidationError, match=r"interactions.csv, row 2, column 'weight'.*number.*'lots'"
    ):
        load_dataset(root)


def test_negative_weight(tmp_path: Path) -> None:
    root = make(tmp_path, interactions="src,dst,kind,weight\nu1,u2,reply,-1\n")
    with pytest.raises(DataValidationError, match=r"row 1, column 'weight'.*>= 0"):
        load_dataset(root)


def test_bad_time_names_row(tmp_path: Path) -> None:
    root = make(tmp_path, follows="src,dst,created_at\nu1,u2,2024-01-01\nu2,u3,yesterday\n")
    with pytest.raises(
        DataValidationError, match=r"follows.csv, row 2, column 'created_at'.*cannot parse time"
    ):
        load_dataset(root)


def test_bad_kind(tmp_path: Path) -> None:
    root = make(tmp_path, interactions="src,dst,kind\nu1,u2,re ply\n")
    with pytest.raises(DataValidationError, match=r"row 1, column 'kind'.*one word"):
        load_dataset(root)


def test_duplicate_user_ids_listed(tmp_path: Path) -> None:
    root = make(tmp_path, users="user_id\nu1\nu2\nu1\nu3\nu2\n")
    with pytest.raises(
        DataValidationError,
        match=r"row 1, column 'user_id': duplicate user_id: 'u1' at rows \[1, 3\]; 'u2' at rows \[2, 5\]",
    ):
        load_dataset(root)


def test_duplicate_post_ids(tmp_path: Path) -> None:
    root = make(tmp_path, posts="post_id,user_id,text\np1,u1,a\np2,u1,b\np1,u2,c\n")
    with pytest.raises(
        DataValidationError, match=r"posts.csv, row 1, column 'post_id'.*duplicate post_id.*p1"
    ):
        load_dataset(root)


def test_missing_id_value(tmp_path: Path) -> None:
    root = make(tmp_path, follows="src,dst\nu1,u2\n,u3\n")
    with pytest.raises(DataValidationError, match=r"row 2, column 'src'.*missing id"):
        load_dataset(root)


def test_unknown_users_dropped_and_counted_or_strict(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        follows="src,dst\nu1,u2\nu1,ghost\nghost,u3\n",
        posts="user_id,text\nu1,hi\nnobody,hey\n",
    )
    ds, report = load_dataset(root)
    assert ds.follows.height == 1 and ds.posts.height == 1
    assert report.issues["follows.unknown_user"] == 2
    assert report.issues["posts.unknown_user"] == 1
    with pytest.raises(
        DataValidationError, match=r"posts.csv, row 2, column 'user_id'.*not in users"
    ):
        load_dataset(root, LoadOptions(strict=True))


def test_self_loops_dropped_and_duplicates_merged(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        follows="src,dst,created_at\nu1,u2,2024-02-01\nu1,u1,\nu1,u2,2024-01-01\n",
        interactions="src,dst,kind,weight,created_at\nu1,u2,reply,2,2024-01-03\nu1,u2,reply,3,2024-01-01\nu1,u2,like,1,\nu2,u2,reply,1,\n",
    )
    ds, report = load_dataset(root)
    assert ds.follows.height == 1
    assert ds.follows["created_at"][0].day == 1  # earliest kept
    reply = ds.interactions.filter(pl.col("kind") == "reply").row(0, named=True)
    assert reply["weight"] == 5.0 and reply["count"] == 2
    assert reply["created_at"].day == 1 and reply["last_at"].day == 3
    assert report.issues == {
        "follows.self_loop": 1,
        "follows.duplicate_merged": 1,
        "interactions.self_loop": 1,
        "interactions.duplicate_merged": 1,
    }


def test_empty_posts_dropped_and_long_posts_truncated(tmp_path: Path) -> None:
    root = make(tmp_path, posts='user_id,text\nu1,"   "\nu1,\nu2,short\nu3,' + "x" * 50 + "\n")
    ds, report = load_dataset(root, LoadOptions(max_post_chars=10))
    assert ds.posts["text"].to_list() == ["short", "x" * 10]
    assert report.issues == {"posts.empty": 2, "posts.truncated": 1}


def test_invalid_utf8_error_names_row_or_lossy(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "posts.csv").write_bytes(b"user_id,text\nu1,fine\nu2,bad \xff\xfe bytes\n")
    with pytest.raises(DataValidationError, match=r"posts.csv, row 2: invalid UTF-8 at line 3"):
        load_dataset(root)
    ds, _ = load_dataset(root, LoadOptions(lossy_utf8=True))
    assert ds.posts["text"][1] == "bad \ufffd\ufffd bytes"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('user_id,text\nu1,"fine"\nu2,"unterminated\n', r"posts.csv, row 2: malformed CSV quoting"),
        ('user_id,text\nu1,"a"b"\n', r"posts.csv, row 1: malformed CSV quoting"),
        ("user_id,text\nu1,a,extra\n", r"posts.csv, row 1: malformed CSV: 3 fields"),
    ],
)
def test_malformed_csv(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(DataValidationError, match=pattern):
        load_dataset(make(tmp_path, posts=text))


def test_invalid_json_line(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_table(root, "users", '{"user_id": "a"}\n{"user_id": "b"\n', "jsonl")
    write_table(root, "follows", '{"src": "a", "dst": "b"}\n', "jsonl")
    with pytest.raises(DataValidationError, match=r"users.jsonl, row 2: invalid JSON"):
        load_dataset(root)


def test_property_column_names_must_be_identifiers(tmp_path: Path) -> None:
    root = make(tmp_path, users="user_id,`x) DETACH DELETE n //\nu1,1\n")
    with pytest.raises(DataValidationError, match="column name must be a plain identifier"):
        load_dataset(root)


def test_ambiguous_table_files(tmp_path: Path) -> None:
    root = make(tmp_path)
    write_table(root, "follows", pl.DataFrame({"src": ["u1"], "dst": ["u2"]}), "parquet")
    with pytest.raises(DataValidationError, match="more than one file for table 'follows'"):
        load_dataset(root)


def test_integer_ids_become_strings(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_table(root, "users", pl.DataFrame({"user_id": [1, 2]}), "parquet")
    write_table(root, "follows", pl.DataFrame({"src": [1], "dst": [2]}), "parquet")
    ds, _ = load_dataset(root)
    assert ds.follows.row(0) == ("1", "2", None)
