"""Every valid dataset shape runs end to end on both stores: load -> profile -> query ->
recommend -> similar -> export -> report.

Shapes: users + follows only; users + interactions only; no posts; a single user; all users
isolated (no edges at all). The last two have no edges to learn from: profiles then come from
the users' text alone (see README "Profiling"), and the job says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.loaders import SyntheticConfig, generate

PROFILE = ["--fast", "--epochs", "20", "--dim", "16"]


def _net() -> Any:
    return generate(
        SyntheticConfig(n_users=120, n_communities=3, avg_follows=6, posts_per_user=3, seed=5)
    )


def _write(root: Path, **tables: pl.DataFrame) -> Path:
    root.mkdir(parents=True)
    for name, frame in tables.items():
        frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ")).write_csv(
            root / f"{name}.csv"
        )
    return root


def _shape(name: str, root: Path) -> Path:
    net = _net()
    users = net.users.select("user_id", "handle", "bio")
    no_follows = pl.DataFrame(schema={"src": pl.String, "dst": pl.String})
    if name == "follows only":
        return _write(root, users=users, follows=net.follows)
    if name == "interactions only":
        return _write(root, users=users, interactions=net.interactions, posts=net.posts)
    if name == "no posts":
        return _write(root, users=users, follows=net.follows, interactions=net.interactions)
    if name == "single user":
        return _write(root, users=users.head(1), follows=no_follows, posts=net.posts.head(2))
    if name == "all isolated":
        return _write(root, users=users, follows=no_follows, posts=net.posts)
    raise AssertionError(name)


SHAPES = ["follows only", "interactions only", "no posts", "single user", "all isolated"]


def _ok(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, f"{args[0]}: {result.output}"
    return result.output


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_dataset_shape_runs_end_to_end(
    shape: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "neo4j":
        request.getfixturevalue("neo4j_driver")  # a cleared database
        store = request.getfixturevalue("neo4j_server").uri
    else:
        store = str(tmp_path / "graph.lbdb")
    data = _shape(shape, tmp_path / "data")
    runner = CliRunner()
    common = ["--store", store]
    _ok(runner, ["load", str(data), *common])
    args = ["profile", *common, *PROFILE, "--work-dir", str(tmp_path / "runs")]
    out = _ok(runner, [*args, "--cache", str(tmp_path / "c.sqlite"), "--json"])
    summary = json.loads(out)
    users = pl.read_csv(data / "users.csv")
    assert summary["users"] == users.height
    assert sum(c["size"] for c in summary["communities"]) == users.height
    top = json.loads(_ok(runner, ["query", "top_influencers", *common, "--json"]))
    assert top, "influence ranks every user"
    first = users["user_id"][0]
    recs = json.loads(_ok(runner, ["recommend", first, "-k", "3", *common, "--json"]))
    assert all(r["candidate_id"] != first for r in recs)
    if users.height > 1:
        assert recs, "a user among others gets recommendations"
    _ok(runner, ["similar", first, "-k", "3", *common, "--json"])
    _ok(runner, ["export", "--out", str(tmp_path / "export"), *common])
    exported = pl.read_parquet(tmp_path / "export" / "profiles.parquet")
    assert exported.height == users.height
    assert exported["profile"].null_count() == 0
    _ok(runner, ["report", "--out", str(tmp_path / "report.html"), *common])
    assert (tmp_path / "report.html").stat().st_size > 0
