"""The CLI: commands work end to end, errors are one line, every command is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_demo_runs_the_job_on_the_embedded_store(tmp_path: Path) -> None:
    demo = [
        "demo",
        "--out",
        str(tmp_path / "demo"),
        "--users",
        "400",
        "--fast",
        "--json",
        "--cache",
        str(tmp_path / "c.sqlite"),
    ]
    code, out, err = run(*demo)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["profile"]["users"] == 400 and len(summary["profile"]["communities"]) >= 4
    assert (
        summary["sample_profile"]["community_name"]
        and len(summary["sample_profile"]["similar"]) == 5
    )
    assert summary["counts"]["users"] == 400
    assert all(-1 <= c["mood"] <= 1 for c in summary["profile"]["communities"])  # moods shown
    assert summary["profile"]["sentiment"]["languages"]
    assert summary["counts"]["follows"] > 1000
    assert len(summary["groups"]) == 8 and all(g["inside_share"] > 0.8 for g in summary["groups"])
    assert (tmp_path / "demo" / "graph.lbdb").exists()
    # pseudonymised: no raw id or handle of the dataset in the output, the report or the store
    raw = pl.read_parquet(tmp_path / "demo" / "data" / "users.parquet")
    shown = out + (tmp_path / "demo" / "report.html").read_text()
    top = summary["top_followed"][0]["user_id"]
    assert top.startswith("u") and len(top) == 12  # a pseudonym (format 2), not a raw id
    assert not [u for u in raw["user_id"].to_list() if u in shown]
    assert not [h for h in raw["handle"].to_list() if f"@{h}" in shown]
    stored = (tmp_path / "demo" / "graph.lbdb").read_bytes().decode("latin-1")
    assert not [u for u in raw["user_id"].head(50).to_list() if u in stored]
    # rerunning replaces the store instead of doubling it
    code, out, _ = run(*demo)
    assert code == 0 and json.loads(out)["counts"]["users"] == 400


def test_generate_load_stats(tmp_path: Path) -> None:
    data, store = tmp_path / "data", str(tmp_path / "g.lbdb")
    code, out, err = run("generate", str(data), "--users", "200", "--format", "csv")
    assert code == 0, err and "200 users" in out
    code, out, err = run("load", str(data), "--store", store, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["store_counts"]["users"] == 200
    assert report["load_report"]["rows_read"]["users"] == 200
    code, out, _ = run("stats", "--store", store, "--json")
    assert code == 0 and json.loads(out)["counts"]["users"] == 200


def test_bad_input_is_one_clear_line_and_nothing_written(tmp_path: Path) -> None:
    data = tmp_path / "bad"
    data.mkdir()
    (data / "users.csv").write_text("user_id\nu1\nu1\n")
    (data / "follows.csv").write_text("src,dst\nu1,u1\n")
    store = tmp_path / "g.lbdb"
    code, _, err = run("load", str(data), "--store", str(store))
    assert code == 1
    assert err.strip().count("\n") == 0
    assert re.match(r"error: file .*users.csv, row 1, column 'user_id': duplicate user_id", err)
    assert not store.exists()  # validation happens before the store is even opened


def test_unknown_store_scheme(tmp_path: Path) -> None:
    code, _, err = run("stats", "--store", "mongodb://x")
    assert code == 1 and "unknown store scheme 'mongodb'" in err


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_with_example_and_is_in_the_readme(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out
    readme = (ROOT / "README.md").read_text()
    assert f"graphsona {command}" in readme, f"README does not document `graphsona {command}`"


def test_embed_writes_user_vectors_to_the_store(tmp_path: Path) -> None:
    code, _, err = run(
        "demo",
        "--out",
        str(tmp_path / "d"),
        "--users",
        "150",
        "--fast",
        "--json",
        "--cache",
        str(tmp_path / "c0.sqlite"),
    )
    assert code == 0, err
    store = str(tmp_path / "d" / "graph.lbdb")
    args = [
        "embed",
        "--store",
        store,
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--write",
        "text_embedding",
        "--json",
    ]
    code, out, err = run(*args)
    assert code == 0, err
    report = json.loads(out)["report"]
    assert report["embedded"] > 0 and report["users"] == 150
    code, out, _ = run(*args)  # second run: everything from the cache
    assert json.loads(out)["report"]["embedded"] == 0
    from graphsona.graph import EmbeddedStore

    with EmbeddedStore(store) as s:
        users = s.read_users()
    assert users["text_embedding"].dtype == pl.Array(pl.Float32, 384)
