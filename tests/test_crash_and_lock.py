"""Crashes (kill -9) during a load and during a profile, the job lock, and loads that only
partly differ from what is stored.

A killed load leaves the store marked as unfinished: read commands still work, `profile`
refuses with the command that completes it, and rerunning the load ends in exactly the state of
an uninterrupted load. A killed profile, rerun, ends in the state of an uninterrupted one. While
a profile job runs, a second job or a load on the same store is refused with the holder's name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.graph import EmbeddedStore, GraphStore
from graphsona.graph.lock import hold
from graphsona.loaders import load_dataset
from test_bad_input import BASE, _copy, write_tables

GRAPHSONA = str(Path(sys.executable).parent / "graphsona")
PROFILE = ["--fast", "--epochs", "30", "--dim", "32"]


def _run(*args: str, crash: str | None = None, cache: Path | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "GRAPHSONA_CRASH_AT"}
    if crash:
        env["GRAPHSONA_CRASH_AT"] = crash
    extra = ["--cache", str(cache)] if cache is not None and args[0] == "profile" else []
    return subprocess.run(
        [GRAPHSONA, *args, *extra], env=env, capture_output=True, text=True, timeout=600
    )


def _state(store: GraphStore) -> dict[str, Any]:
    """Everything a load writes, in a comparable form."""
    users = store.read_users()
    return {
        "counts": store.counts(),
        "users": users.select(sorted(users.columns)).sort("user_id"),
        "posts": store.read_posts().sort("post_id"),
        "follows": store.read_follows(with_time=True).sort("src", "dst"),
        "interactions": store.read_interactions().sort("src", "dst", "kind"),
    }


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["counts"] == b["counts"]
    for key in ("users", "posts", "follows", "interactions"):
        assert a[key].equals(b[key]), key


@pytest.mark.parametrize("point", ["load:users", "load:posts", "load:follows"])
def test_killed_load_is_flagged_then_completed_by_a_rerun(
    tmp_path: Path, small_dataset_dir: Path, point: str
) -> None:
    store = tmp_path / "graph.lbdb"
    crashed = _run("load", str(small_dataset_dir), "--store", str(store), crash=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    # read-only commands work on the crashed store
    q = _run("query", "MATCH (u:User) RETURN count(*) AS n", "--store", str(store), "--json")
    assert q.returncode == 0, q.stderr
    # profile refuses, naming the command that completes the load
    prof = _run("profile", "--store", str(store), *PROFILE, cache=tmp_path / "c.sqlite")
    assert prof.returncode == 1
    assert "did not finish" in prof.stderr and f"graphsona load {small_dataset_dir}" in prof.stderr
    assert "Traceback" not in prof.stderr
    # the rerun completes it: the same state as one uninterrupted load
    again = _run("load", str(small_dataset_dir), "--store", str(store))
    assert again.returncode == 0, again.stderr
    reference = tmp_path / "reference.lbdb"
    with EmbeddedStore(reference) as ref:
        ref.load(load_dataset(small_dataset_dir)[0])
        expected = _state(ref)
    with EmbeddedStore(store) as s:
        _assert_same(_state(s), expected)
        assert s.read_meta()["load_state"] == "done"


@pytest.mark.neo4j
def test_killed_load_on_neo4j_is_completed_by_a_rerun(
    neo4j_server: Any, neo4j_store: GraphStore, small_dataset_dir: Path, tmp_path: Path
) -> None:
    uri = neo4j_server.uri
    crashed = _run("load", str(small_dataset_dir), "--store", uri, crash="load:posts")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with pytest.raises(Exception, match="did not finish"):
        neo4j_store.check_complete()
    again = _run("load", str(small_dataset_dir), "--store", uri)
    assert again.returncode == 0, again.stderr
    neo4j_store.check_complete()
    with EmbeddedStore(tmp_path / "reference.lbdb") as ref:
        ref.load(load_dataset(small_dataset_dir)[0])
        expected = _state(ref)
    got = _state(neo4j_store)
    assert got["counts"] == expected["counts"]
    assert got["posts"]["post_id"].equals(expected["posts"]["post_id"])
    assert got["follows"].select("src", "dst").equals(expected["follows"].select("src", "dst"))


def _results(path: Path) -> pl.DataFrame:
    with EmbeddedStore(path, read_only=True) as s:
        users = s.read_users()
    return users.select("user_id", "community_id", "influence", "profile").sort("user_id")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["profile:train", "write_back:users"])
def test_killed_profile_rerun_ends_as_an_uninterrupted_run(
    tmp_path: Path, small_dataset_dir: Path, point: str
) -> None:
    cache = tmp_path / "c.sqlite"
    stores = {}
    for name in ("crashed", "reference"):
        stores[name] = tmp_path / f"{name}.lbdb"
        assert _run("load", str(small_dataset_dir), "--store", str(stores[name])).returncode == 0
    ref = _run("profile", "--store", str(stores["reference"]), *PROFILE, cache=cache)
    assert ref.returncode == 0, ref.stderr
    crashed = _run("profile", "--store", str(stores["crashed"]), *PROFILE, crash=point, cache=cache)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    rerun = _run("profile", "--store", str(stores["crashed"]), *PROFILE, cache=cache)
    assert rerun.returncode == 0, rerun.stderr
    a, b = _results(stores["crashed"]), _results(stores["reference"])
    assert a["user_id"].equals(b["user_id"])
    assert a["community_id"].equals(b["community_id"])
    assert np.allclose(a["influence"].to_numpy(), b["influence"].to_numpy(), atol=1e-9)
    assert np.allclose(np.stack(a["profile"].to_numpy()), np.stack(b["profile"].to_numpy()))


def _wait_for_lock(lock: Path, pid: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if lock.exists() and f'"pid": {pid}' in lock.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the job ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("the job never took the lock")


@pytest.mark.slow
def test_second_job_and_load_refused_while_a_profile_runs(
    tmp_path: Path, small_dataset_dir: Path
) -> None:
    store = tmp_path / "graph.lbdb"
    assert _run("load", str(small_dataset_dir), "--store", str(store)).returncode == 0
    cmd = [GRAPHSONA, "profile", "--store", str(store), "--fast", "--epochs", "100000"]
    cmd += ["--dim", "32", "--cache", str(tmp_path / "c.sqlite")]
    job = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_lock(tmp_path / "graph.lbdb.lock", job.pid, job)
        runner = CliRunner()
        for args in (["load", str(small_dataset_dir)], ["profile", *PROFILE]):
            result = runner.invoke(main, [*args, "--store", str(store)])
            assert result.exit_code == 1, result.output
            lines = [ln for ln in result.output.splitlines() if ln.strip()]
            assert len(lines) == 1, result.output
            assert "is in use by `graphsona profile`" in lines[0], lines[0]
            assert f"pid {job.pid}" in lines[0]
    finally:
        job.kill()
        job.wait()
    # the killed job's lock is gone with it: a load goes through now
    assert _run("load", str(small_dataset_dir), "--store", str(store)).returncode == 0


def test_lock_is_reentrant_in_a_process_and_exclusive_across(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with hold(lock, "x"), hold(lock, "x"):  # the job calls code that takes the same lock
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from graphsona.graph.lock import hold\n"
                "try:\n    hold(sys.argv[1], 'the thing').__enter__()\n"
                "except Exception as e:\n    print(e); sys.exit(3)",
                str(lock),
            ],
            capture_output=True,
            text=True,
        )
        assert other.returncode == 3 and "the thing is in use by" in other.stdout
        assert f"pid {os.getpid()}" in other.stdout
    with hold(lock, "x"):  # released: taken again
        pass


def test_store_changed_during_the_job_is_not_written_back(
    store: GraphStore, small_dataset: Any, tmp_path: Path
) -> None:
    """Stale-input detection: a load that lands while a job runs (e.g. from another machine on a
    shared Neo4j) makes the job stop before write-back instead of writing stale results."""
    from graphsona.errors import StoreError
    from graphsona.jobs.profile import ProfileJobConfig, run_profile

    store.load(small_dataset)
    calls = []

    def progress(stage: str, message: str) -> None:
        if stage == "train" and not calls:
            calls.append(stage)
            store._write_meta({"data_version": "changed-by-someone-else"})

    cfg = ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=16, epochs=5)
    with pytest.raises(StoreError, match="changed while the job ran"):
        run_profile(store, cfg, progress=progress)
    users = store.read_users()
    assert "profile_run_id" not in users.columns or users["profile_run_id"].null_count() == (
        users.height
    )


@pytest.mark.neo4j
def test_load_on_neo4j_refused_while_a_job_holds_it(
    neo4j_server: Any, neo4j_store: GraphStore, small_dataset_dir: Path
) -> None:
    """The job lock of a server store (keyed by its address and database, not the login) is
    taken by `load` too: refused, naming the holder."""
    from graphsona.graph.lock import store_lock_path

    host = neo4j_server.uri.split("://", 1)[1]
    lock = store_lock_path(f"bolt://someone:pw@{host}")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from graphsona.graph.lock import hold\n"
            "with hold(sys.argv[1], 'x'):\n    print('held', flush=True); time.sleep(60)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(
            main, ["load", str(small_dataset_dir), "--store", neo4j_server.uri]
        )
        assert result.exit_code == 1
        assert "is in use by" in result.output and f"pid {holder.pid}" in result.output
        assert neo4j_store.counts()["users"] == 0, "nothing loaded"
    finally:
        holder.kill()
        holder.wait()


def test_reload_without_times_keeps_stored_times(store: GraphStore, tmp_path: Path) -> None:
    """A dataset reloaded without created_at columns (the embedded store failed with a Binder
    exception after users, posts and follows had committed) loads, and keeps the known times."""
    first, second = tmp_path / "first", tmp_path / "second"
    write_tables(first, BASE, "csv")
    store.load(load_dataset(first)[0])
    before = _state(store)
    tables = _copy(BASE)
    for table in ("posts", "follows", "interactions"):
        for row in tables[table]:
            row.pop("created_at")
    tables["interactions"][0]["weight"] = 5.0  # a real change still applies
    write_tables(second, tables, "csv")
    store.load(load_dataset(second)[0])
    after = _state(store)
    assert after["follows"].equals(before["follows"])
    assert after["posts"].equals(before["posts"])
    assert after["interactions"]["created_at"].equals(before["interactions"]["created_at"])
    assert sorted(after["interactions"]["weight"].to_list()) == [2.0, 5.0]
