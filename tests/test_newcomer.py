"""A newcomer's first hour (issue 15): a mistyped store is refused, not created; --config works
on every command that opens a store; named queries are bounded; the demo's stage outputs are
found by `profile` and `report`; read commands start without torch; the static model's one-time
distillation is announced; the CLI's rules live in the library."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import ConfigError, StoreError
from graphsona.graph import EmbeddedStore, open_store, resolve_store_uri
from graphsona.jobs.config import load_config
from graphsona.jobs.overrides import profile_settings
from graphsona.jobs.workdir import LOCK_NAME, default_work_dir
from graphsona.loaders import Dataset, load_dataset
from graphsona.queries.library import named_queries, run_named
from helpers import write_table

STAGES = [
    "embed",
    "sentiment",
    "topics",
    "train",
    "ranker",
    "communities",
    "influence",
    "labels",
    "monitor",
    "write_back",
]


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRAPHSONA_STORE", "NEO4J_URI", "NEO4J_DATABASE"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------- 1. a missing store is refused, never created
@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["embed", "--kind", "static"],
        ["profile", "--fast"],
        ["query", "top_influencers"],
        ["query", "MATCH (u:User) RETURN count(*) AS n"],
        ["recommend", "u1"],
        ["similar", "u1"],
        ["communities"],
        ["export", "--out", "out"],
        ["report", "--out", "r.html"],
        ["evaluate", "--fast"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_read_commands_refuse_a_missing_store_without_creating_it(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*command, "--store", "typo.lbdb")
    assert code == 1, out
    assert err == (
        "error: no embedded store at typo.lbdb "
        "(load a dataset first: graphsona load DIR --store typo.lbdb)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no store, no lock file, no work dir


def test_open_store_creates_only_when_asked(tmp_path: Path, small_dataset: Dataset) -> None:
    path = tmp_path / "new.lbdb"
    with pytest.raises(
        StoreError, match=r"no embedded store at .*new\.lbdb \(load a dataset first"
    ):
        open_store(str(path))
    assert not path.exists()
    with open_store(str(path), create=True) as store:
        store.load(small_dataset)
    with open_store(f"embedded://{path}") as store:
        assert store.counts()["users"] == small_dataset.users.height


# ------------------------------------------------- 2. --config on the commands that open a store
def test_load_stats_embed_take_the_store_from_config(
    tmp_path: Path, small_dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store, cache = tmp_path / "from-config.lbdb", tmp_path / "vectors.sqlite"
    config = tmp_path / "job.toml"
    config.write_text(f'[store]\nuri = "{store}"\n\n[model]\nkind = "static"\ncache = "{cache}"\n')
    users = pl.read_parquet(small_dataset_dir / "users.parquet").height
    code, _, err = run("load", str(small_dataset_dir), "--config", str(config))
    assert code == 0, err
    assert store.exists() and not (tmp_path / "graphsona.lbdb").exists()
    code, out, err = run("stats", "--config", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["users"] == users
    code, out, err = run("embed", "--config", str(config), "--json")
    assert code == 0, err
    assert json.loads(out)["report"]["users"] == users
    assert json.loads(out)["model_id"].startswith("static:")  # the config's [model] kind
    assert cache.exists()  # and its cache
    # --store wins over the config
    code, _, err = run("stats", "--config", str(config), "--store", "other.lbdb")
    assert code == 1 and "no embedded store at other.lbdb" in err


# ------------------------------------------------- 3. named queries are bounded
def test_every_named_query_returns_a_bounded_number_of_rows() -> None:
    for dialect in ("embedded", "neo4j"):
        for q in named_queries(dialect):
            last = q.template.strip().splitlines()[-1]
            assert re.fullmatch(r"LIMIT (\$\w+|\d+)", last.strip()), (dialect, q.name, last)


def _hub_store(tmp_path: Path) -> EmbeddedStore:
    """u follows m1, m2 and c00; m1 follows u and c00..c59 (a hub); m2 follows c01 and c02.
    Profiles: u points along x; c_i turns away from x as i grows."""
    others = [f"c{i:02d}" for i in range(60)]
    follows = (
        [("u", "m1"), ("u", "m2"), ("u", "c00"), ("m1", "u"), ("m2", "c01"), ("m2", "c02")]
        + [("m1", c) for c in others]
    )  # fmt: skip
    ids = ["u", "m1", "m2", *others]
    write_table(tmp_path / "hub", "users", pl.DataFrame({"user_id": ids}))
    write_table(tmp_path / "hub", "follows", pl.DataFrame(follows, ["src", "dst"], orient="row"))
    store = EmbeddedStore(tmp_path / "hub.lbdb")
    store.load(load_dataset(tmp_path / "hub")[0])
    angle = {"u": 0.0, "m1": 1.0, "m2": 1.0} | {c: i / 40 for i, c in enumerate(others)}
    vectors = [[float(np.cos(angle[i])), float(np.sin(angle[i])), 0.0, 0.0] for i in ids]
    store.write_user_properties(
        pl.DataFrame({"user_id": ids, "profile": vectors}).with_columns(
            pl.col("profile").cast(pl.Array(pl.Float32, 4)),
            community_id=pl.lit(0, pl.Int64),
        )
    )
    return store


def test_who_to_follow_ranks_unfollowed_friends_of_friends_within_the_limit(
    tmp_path: Path,
) -> None:
    with _hub_store(tmp_path) as store:
        recs = run_named(store, "who_to_follow", {"user": "u", "limit": 5})
    assert recs["user_id"].to_list() == ["c01", "c02", "c03", "c04", "c05"]  # not u, not c00
    assert recs["mutual"].to_list() == [2, 2, 1, 1, 1]
    assert recs["score"].to_list() == sorted(recs["score"].to_list(), reverse=True)


# ------------------------------------------------- 4 and 6. the demo: one work dir, distillation
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`graphsona demo --fast` on a machine that has not distilled the static model yet (the
    distillation itself is replaced by a copy of the real, already distilled model)."""
    from graphsona.embeddings.static import StaticEmbedder

    real = StaticEmbedder("default").path  # distilled once per machine, as in other tests
    root = tmp_path_factory.mktemp("demo")

    class Distilled:
        def save_pretrained(self, folder: str) -> None:
            shutil.copytree(real, folder, dirs_exist_ok=True)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHSONA_MODELS", str(root / "models"))
        mp.setattr("model2vec.distill.distill", lambda **_: Distilled())
        result = CliRunner().invoke(
            main,
            ["demo", "--out", str(root / "demo"), "--users", "150", "--fast", "--json",
             "--cache", str(root / "c.sqlite")],
        )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    yield {"root": root, "stderr": result.stderr, "summary": json.loads(result.stdout)}


def test_profile_and_report_after_the_demo_reuse_its_stage_outputs(demo: dict[str, Any]) -> None:
    store = demo["root"] / "demo" / "graph.lbdb"
    assert demo["summary"]["work_dir"] == str(default_work_dir(str(store)))
    cache = str(demo["root"] / "c.sqlite")
    code, out, err = run("profile", "--store", str(store), "--fast", "--cache", cache, "--json")
    assert code == 0, err
    assert json.loads(out)["skipped"] == STAGES
    code, out, err = run("profile", "--store", str(store), "--fast", "--cache", cache)
    assert code == 0 and "reused unchanged stages: embed, sentiment, topics, train" in out, err
    html = demo["root"] / "r.html"
    code, _, err = run("report", "--store", str(store), "--out", str(html))
    assert code == 0, err
    assert "training epochs" in html.read_text()  # run statistics from the demo's manifest


def test_server_work_dir_is_keyed_by_address_and_database_not_login() -> None:
    plain = default_work_dir("bolt://db.example:7687")
    assert default_work_dir("bolt://alice:s3cret@db.example:7687") == plain
    assert default_work_dir("bolt://bob@db.example:7687") == plain
    assert "s3cret" not in str(plain) and plain.parent.name == "runs"
    assert default_work_dir("bolt://db.example:7687", "other") != plain
    assert default_work_dir("bolt://db2.example:7687") != plain


def test_demo_announces_the_one_time_distillation(demo: dict[str, Any]) -> None:
    models = demo["root"] / "models"
    line = next(x for x in demo["stderr"].splitlines() if x.startswith("distilling"))
    assert re.fullmatch(
        r"distilling the static model from all-MiniLM-L6-v2 once \(about .+ on \d+ cores\); "
        rf"cached at {re.escape(str(models))}/static-\w+",
        line,
    ), line
    assert "static model ready" in demo["stderr"]
    assert demo["summary"]["profile"]["users"] == 150


# ------------------------------------------------- 5. read commands start without torch
def test_read_commands_do_not_import_torch(tmp_path: Path, small_dataset_dir: Path) -> None:
    store = tmp_path / "g.lbdb"
    assert run("load", str(small_dataset_dir), "--store", str(store))[0] == 0
    script = f"""
import sys
import graphsona.cli
from click.testing import CliRunner
heavy = ("torch", "torch_geometric", "transformers", "sentence_transformers")
print([m for m in heavy if m in sys.modules])
for args in (["--help"], ["query", "--list"], ["stats", "--store", {str(store)!r}, "--json"]):
    result = CliRunner().invoke(graphsona.cli.main, args)
    assert result.exit_code == 0, result.output
print([m for m in heavy if m in sys.modules])
"""
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPHSONA_STORE", "NEO4J_URI")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "[]"]


# ------------------------------------------------- 7. the CLI's rules are library functions
def test_store_uri_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"GRAPHSONA_STORE": "env.lbdb", "NEO4J_URI": "bolt://db:7687"}
    assert resolve_store_uri("given.lbdb", "config.lbdb", env) == "given.lbdb"
    assert resolve_store_uri(None, "config.lbdb", env) == "config.lbdb"
    assert resolve_store_uri(None, None, env) == "env.lbdb"
    assert resolve_store_uri(None, None, {**env, "GRAPHSONA_STORE": ""}) == "bolt://db:7687"
    assert resolve_store_uri(None, None, {}) == "graphsona.lbdb"
    monkeypatch.setenv("GRAPHSONA_STORE", "from-env.lbdb")  # the process environment by default
    assert resolve_store_uri() == "from-env.lbdb"


def test_profile_settings_put_options_over_the_config_and_fresh_keeps_the_lock(
    tmp_path: Path,
) -> None:
    config = tmp_path / "job.toml"
    config.write_text(
        f'[training]\nepochs = 30\ndim = 16\n\n[output]\nwork_dir = "{tmp_path}/wd"\n'
    )
    cfg = load_config(config)
    job = profile_settings(cfg, "g.lbdb", epochs=5, fast=True)
    assert (job.epochs, job.dim, job.embedder_kind) == (5, 16, "static")
    assert job.work_dir == tmp_path / "wd" and job.cache == cfg.job.cache
    assert profile_settings(load_config(None), "g.lbdb").work_dir == Path("g.lbdb.runs")
    wd = tmp_path / "wd"
    (wd / "embed").mkdir(parents=True)
    (wd / "manifest.json").write_text("{}")
    (wd / LOCK_NAME).write_text("")
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        profile_settings(cfg, "g.lbdb", epochs=0, fresh=True)
    assert (wd / "manifest.json").exists()  # a bad option costs no saved stage
    profile_settings(cfg, "g.lbdb", fresh=True)
    assert [p.name for p in wd.iterdir()] == [LOCK_NAME]


# ------------------------------------------------- Neo4j: server stores are never "missing"
@pytest.mark.neo4j
def test_config_names_a_server_store(neo4j_server: Any, tmp_path: Path) -> None:
    config = tmp_path / "job.toml"
    config.write_text(f'[store]\nuri = "{neo4j_server.uri}"\n')
    code, out, err = run("stats", "--config", str(config), "--json")
    assert code == 0, err
    assert "users" in json.loads(out)["counts"]
