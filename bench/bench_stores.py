"""Store benchmark: load, edge-read and write-back rates on both stores, next to naive references.

Sizes default to the foundation issue's (100k users, ~1M follow edges). Each graphsona figure
is measured in the same run as a naive reference doing the same work the obvious way:

* load: graphsona's path vs one transaction per 100 rows (on a sample, rate extrapolated);
* edge read: graphsona's streaming read vs one record per edge in a single result;
* write-back of a 128-float vector + 4 scalars per user: graphsona vs one transaction per 100 rows.

Run: ``python bench/bench_stores.py [--users 100000] [--skip-neo4j] [--results-dir DIR]``
(Neo4j is started from scripts/neo4j_test_server.py; ``--skip-neo4j`` leaves it out). Writes
``bench/results/stores-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import _provenance  # noqa: E402
from graphsona.graph import EmbeddedStore, GraphStore, Neo4jStore, to_pyg  # noqa: E402
from graphsona.loaders import Dataset, SyntheticConfig, generate  # noqa: E402

SAMPLE = 20_000  # rows for the naive references (they are slow by design)
SAMPLE_EMBEDDED_LOAD = 1_000  # one MERGE-per-row upsert on LadybugDB is ~40 rows/s at 100k users


def dataset(n_users: int) -> Dataset:
    net = generate(
        SyntheticConfig(
            n_users=n_users,
            n_communities=20,
            avg_follows=11.0,
            posts_per_user=1.0,
            interactions_per_user=2.0,
            seed=11,
        )
    )
    inter = net.interactions.group_by("src", "dst", "kind").agg(
        pl.col("weight").sum(),
        pl.len().cast(pl.Int64).alias("count"),
        pl.col("created_at").min(),
        pl.col("created_at").max().alias("last_at"),
    )
    return Dataset(net.users, net.posts, net.follows, inter)


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def results_frame(ds: Dataset) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = ds.users.height
    return pl.DataFrame(
        {
            "user_id": ds.users["user_id"],
            "profile": pl.Series(rng.random((n, 128), dtype=np.float32)).cast(
                pl.Array(pl.Float32, 128)
            ),
            "influence": rng.random(n),
            "influence_rank": np.arange(n, dtype=np.int64),
            "community_id": rng.integers(0, 50, n),
            "community_name": pl.Series([f"community {i % 50}" for i in range(n)]),
        }
    )


def bench_store(name: str, store: GraphStore, ds: Dataset, naive: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"store": name}
    n_edges = ds.follows.height + ds.interactions.height
    t, counts = timed(lambda: store.load(ds))
    out["load_s"] = round(t, 2)
    out["load_rows_per_s"] = round((ds.users.height + ds.posts.height + n_edges) / t)
    out["counts"] = counts
    # First read right after the load (query compiled cold), then the same read again (warm).
    t, n = timed(lambda: sum(b.height for b in store.iter_follows()))
    out["read_follows_edges"] = n
    out["read_edges_per_s_first"] = round(n / t)
    t, n = timed(lambda: sum(b.height for b in store.iter_follows()))
    out["read_edges_per_s"] = round(n / t)
    t, graph = timed(lambda: to_pyg(store))
    out["export_pyg_s"] = round(t, 2)
    out["export_pyg_edges"] = int(graph.data.edge_index.shape[1])
    res = results_frame(ds)
    t, _ = timed(lambda: store.write_user_properties(res))
    out["write_back_users_per_s"] = round(res.height / t)
    out["write_back_s"] = round(t, 2)
    t, _ = timed(lambda: store.write_user_properties(res))  # a rerun: same values again
    out["write_back_again_users_per_s"] = round(res.height / t)
    out.update(naive(store, ds, res))
    return out


def naive_embedded(store: EmbeddedStore, ds: Dataset, res: pl.DataFrame) -> dict[str, Any]:

    q = (  # the obvious upsert: one MERGE per row through UNWIND
        "UNWIND $rows AS r MATCH (a:User {user_id: r.src}), (b:User {user_id: r.dst}) "
        "MERGE (a)-[f:FOLLOWS]->(b) SET f.created_at = r.created_at"
    )
    sample = ds.follows.head(SAMPLE_EMBEDDED_LOAD).with_columns(
        pl.col("created_at").dt.replace_time_zone(None)
    )
    t = time.perf_counter()
    for i in range(0, sample.height, 100):
        store._transaction([(q, {"rows": sample.slice(i, 100).to_dicts()})])
    load_rate = sample.height / (time.perf_counter() - t)
    t, rows = timed(
        lambda: store.run(
            "MATCH (a:User)-[:FOLLOWS]->(b:User) RETURN a.user_id AS s, b.user_id AS d"
        ).rows()
    )
    read_rate = len(rows) / t
    # The obvious write-back: vector and scalars as columns of User, LOAD FROM ... SET, 100 rows
    # per transaction, into fresh columns (as on a first run).
    part = res.head(SAMPLE).rename({c: f"naive_{c}" for c in res.columns if c != "user_id"})
    for c, t in part.schema.items():
        if c != "user_id":
            kind = (
                "FLOAT[128]"
                if isinstance(t, pl.Array)
                else "STRING"
                if t == pl.String
                else "DOUBLE"
                if t.is_float()
                else "INT64"
            )
            store.run(f"ALTER TABLE User ADD IF NOT EXISTS {c} {kind}")
    sets = ", ".join(f"u.{c} = {c}" for c in part.columns if c != "user_id")
    q_write = f"LOAD FROM $frame MATCH (u:User {{user_id: user_id}}) SET {sets}"
    t = time.perf_counter()
    for i in range(0, part.height, 100):
        store._transaction([(q_write, {"frame": part.slice(i, 100)})])
    write_rate = part.height / (time.perf_counter() - t)
    return {
        "naive_load_rows_per_s": round(load_rate),
        "naive_read_edges_per_s": round(read_rate),
        "naive_write_back_users_per_s": round(write_rate),
        "naive_note": "load: UNWIND MERGE, 100 rows per transaction (sample); read: rows() of one "
        "query; write-back: vector + scalars as User columns, LOAD FROM SET, 100 rows per transaction",
    }


def naive_neo4j(store: Neo4jStore, ds: Dataset, res: pl.DataFrame) -> dict[str, Any]:
    q = store._q("load_follows")
    rows = ds.follows.head(SAMPLE).to_dicts()
    t = time.perf_counter()
    for i in range(0, len(rows), 100):
        store._write(q, rows=rows[i : i + 100])
    load_rate = len(rows) / (time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    with store.driver.session(database=store.database) as s:
        for _rec in s.run(
            "MATCH (a:User)-[:FOLLOWS]->(b:User) RETURN a.user_id AS src, b.user_id AS dst"
        ):
            n += 1
    read_rate = n / (time.perf_counter() - t)
    part = res.head(SAMPLE)
    t = time.perf_counter()
    for i in range(0, part.height, 100):
        store._write_user_batch(part.slice(i, 100), [c for c in part.columns if c != "user_id"])
    write_rate = part.height / (time.perf_counter() - t)
    return {
        "naive_load_rows_per_s": round(load_rate),
        "naive_read_edges_per_s": round(read_rate),
        "naive_write_back_users_per_s": round(write_rate),
        "naive_note": "100 rows per transaction (same UNWIND query); read: one record per edge",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--skip-neo4j", action="store_true")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("stores", args.results_dir)
    t, ds = timed(lambda: dataset(args.users))
    report: dict[str, Any] = {
        "users": ds.users.height,
        "posts": ds.posts.height,
        "follows": ds.follows.height,
        "interactions": ds.interactions.height,
        "generate_s": round(t, 2),
        "runs": [],
    }
    print(
        f"dataset: {report['users']} users, {report['follows']} follows, "
        f"{report['interactions']} interactions, {report['posts']} posts ({t:.1f}s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp) / "g.lbdb") as store:
        report["runs"].append(bench_store("embedded", store, ds, naive_embedded))
        print(json.dumps(report["runs"][-1]), flush=True)
    if not args.skip_neo4j:
        import neo4j
        from neo4j_test_server import Neo4jTestServer

        server = Neo4jTestServer.start()
        try:
            with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
                records, _, _ = driver.execute_query(
                    "CALL dbms.components() YIELD name, versions, edition "
                    "RETURN name, versions, edition"
                )
                report["neo4j_server"] = [r.data() for r in records]
                report["runs"].append(bench_store("neo4j", Neo4jStore(driver), ds, naive_neo4j))
                print(json.dumps(report["runs"][-1]), flush=True)
        finally:
            server.stop()
    run.write(report)


if __name__ == "__main__":
    main()
