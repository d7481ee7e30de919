"""Incremental update benchmark: ``graphsona update`` with 1% new users against the full job.

A synthetic network of ``--users`` users (default 100,000) is cut in two: 99% of the users with
everything between them (the base) and 1% new users with their posts, follows and interactions
(the delta). The base is loaded into the embedded store and profiled by the full job; then the
delta is applied by the incremental update. Recorded: the full job's and the update's wall
time per step, the update's share of the full job's time (target <= 5%), how many earlier
users kept their community id (target >= 95%), how many profiles were refreshed and written,
and the drift report. Then, on the same data, a full run of base + delta in a second store
gives the reference the update is compared with: community agreement (NMI) and each user's
ten most similar users in the same planted community as often as in the full run.

Settings: the fast static text model with a vector cache (the update's premise: earlier posts'
vectors are cached), the job's defaults otherwise, ``--epochs`` (default 20, as bench_e2e).

Run: ``python bench/bench_update.py [--users 100000] [--epochs 20] [--no-reference]
[--store embedded|neo4j]``; writes
``bench/results/update-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _provenance  # noqa: E402


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _split(root: Path, users: int, share: float, seed: int) -> dict[str, Any]:
    import polars as pl
    from graphsona.loaders import SyntheticConfig, generate

    net = generate(SyntheticConfig(n_users=users, seed=seed))
    ids = net.users["user_id"]
    new = ids.sample(max(1, int(share * users)), seed=seed + 1).to_list()
    is_new = lambda c: pl.col(c).is_in(new)  # noqa: E731
    parts = {
        "base": {
            "users": net.users.filter(~is_new("user_id")),
            "posts": net.posts.filter(~is_new("user_id")),
            "follows": net.follows.filter(~is_new("src") & ~is_new("dst")),
            "interactions": net.interactions.filter(~is_new("src") & ~is_new("dst")),
        },
        "delta": {
            "users": net.users.filter(is_new("user_id")),
            "posts": net.posts.filter(is_new("user_id")),
            "follows": net.follows.filter(is_new("src") | is_new("dst")),
            "interactions": net.interactions.filter(is_new("src") | is_new("dst")),
        },
    }
    sizes: dict[str, Any] = {}
    for name, tables in parts.items():
        (root / name).mkdir(parents=True)
        for table, frame in tables.items():
            frame.write_parquet(root / name / f"{table}.parquet")
        sizes[name] = {t: f.height for t, f in tables.items()}
    (root / "all").mkdir()
    for table in parts["base"]:
        pl.concat([parts["base"][table], parts["delta"][table]]).write_parquet(
            root / "all" / f"{table}.parquet"
        )
    return {"sizes": sizes, "planted": net.users.select("user_id", "planted_community")}


def _top10_same(users: Any, planted: Any) -> float:
    import numpy as np
    import torch

    frame = users.join(planted, on="user_id").sort("user_id")
    z = torch.tensor(np.array(frame["profile"].to_list(), dtype=np.float32))
    p = torch.tensor(frame["planted_community"].to_numpy())
    rng = np.random.default_rng(0)
    rows = torch.from_numpy(rng.choice(len(p), size=min(5000, len(p)), replace=False))
    s = z[rows] @ z.T
    s[torch.arange(len(rows)), rows] = -9
    top = torch.topk(s, 10, dim=1).indices
    return float((p[top] == p[rows][:, None]).float().mean())


@contextlib.contextmanager
def _store(kind: str, path: Path) -> Iterator[Any]:
    """The embedded store at ``path``, or a fresh Neo4j test server's (stopped afterwards)."""
    from graphsona.graph import Neo4jStore, open_store

    if kind == "embedded":
        with open_store(str(path), create=True) as store:
            yield store
        return
    import neo4j

    sys.path.insert(0, str(ROOT / "scripts"))
    from neo4j_test_server import Neo4jTestServer

    server = Neo4jTestServer.start()
    try:
        with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
            yield Neo4jStore(driver)
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument(
        "--store",
        choices=["embedded", "neo4j"],
        default="embedded",
        help="where the base and the update live (neo4j: scripts/neo4j_test_server.py)",
    )
    ap.add_argument(
        "--snapshot",
        type=Path,
        help="embedded store only: keep the base after its full job in this folder, and on later "
        "runs start from it (the full job's figures are the recorded ones; for iterating on "
        "the update, not for the figures in BENCHMARKS.md)",
    )
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("update", args.results_dir)

    from graphsona.graph import open_store
    from graphsona.jobs.profile import run_profile
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.jobs.update import run_update
    from graphsona.loaders import load_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench_update_"))
    out: dict[str, Any] = {
        "users": args.users,
        "new_share": args.share,
        "epochs": args.epochs,
        "store": args.store,
    }
    snap = args.snapshot
    reuse = snap is not None and (snap / "full_job.json").exists()
    try:
        if reuse:
            import json

            import polars as pl

            _say(f"starting from the snapshot {snap}")
            shutil.rmtree(tmp)
            shutil.copytree(snap, tmp)
            recorded = json.loads((tmp / "full_job.json").read_text())
            split = {
                "sizes": recorded["sizes"],
                "planted": pl.read_parquet(tmp / "planted.parquet"),
            }
        else:
            _say("generating")
            split = _split(tmp, args.users, args.share, args.seed)
        out["sizes"] = split["sizes"]

        def cfg(work: str) -> ProfileJobConfig:
            return ProfileJobConfig(
                embedder_kind="static",
                cache=tmp / "vectors.sqlite",
                epochs=args.epochs,
                work_dir=tmp / work,
            )

        if reuse:
            out["full_job"] = {**recorded["full_job"], "from_snapshot": str(snap)}
            out["base_load_seconds"] = recorded["base_load_seconds"]
            full_s = float(recorded["full_job"]["seconds"])
        stack = contextlib.ExitStack()
        store = stack.enter_context(_store(args.store, tmp / "a.lbdb"))
        if not reuse:
            _say("loading the base")
            t = time.perf_counter()
            store.load(load_dataset(tmp / "base")[0])
            out["base_load_seconds"] = round(time.perf_counter() - t, 2)
            _say("full job on the base")
            t = time.perf_counter()
            full = run_profile(store, cfg("wa"), progress=lambda s, m: _say(f"  {s}: {m}"))
            full_s = time.perf_counter() - t
            out["full_job"] = {
                "seconds": round(full_s, 1),
                "stages": {k: round(v, 2) for k, v in full.seconds.items()},
                "best_val_auc": full.best_val_auc,
            }
            run.write(out, complete=False)
        if snap is not None and not reuse and args.store == "embedded":
            import json

            stack.close()
            _say(f"keeping the base in {snap}")
            shutil.copytree(tmp, snap, dirs_exist_ok=True)
            split["planted"].write_parquet(snap / "planted.parquet")
            # the snapshot's own record of its full job (not a results file: those go through
            # _provenance); later runs with --snapshot copy its figures into their results
            with open(snap / "full_job.json", "w", encoding="utf-8") as f:
                json.dump(out, f)
            store = stack.enter_context(_store(args.store, tmp / "a.lbdb"))
        with stack:
            _say("update with the delta")
            t = time.perf_counter()
            upd = run_update(
                store, tmp / "delta", cfg("wa"), progress=lambda s, m: _say(f"  {s}: {m}")
            )
            upd_s = time.perf_counter() - t
            out["update"] = {**upd.summary(), "wall_seconds": round(upd_s, 2)}
            out["update_share_of_full_job"] = round(upd_s / full_s, 4)
            after = store.read_users().select("user_id", "profile", "community_id")
        run.write(out, complete=args.no_reference)
        if not args.no_reference:
            from sklearn.metrics import normalized_mutual_info_score

            with open_store(str(tmp / "b.lbdb"), create=True) as ref:
                _say("reference: full job on base + delta")
                ref.load(load_dataset(tmp / "all")[0])
                t = time.perf_counter()
                run_profile(ref, cfg("wb"))
                ref_s = time.perf_counter() - t
                full_users = ref.read_users().select("user_id", "profile", "community_id")
            a = after.sort("user_id")
            b = full_users.sort("user_id")
            out["reference"] = {
                "full_job_seconds": round(ref_s, 1),
                "community_nmi_update_vs_full": round(
                    float(normalized_mutual_info_score(a["community_id"], b["community_id"])), 4
                ),
                "top10_same_planted_update": round(_top10_same(a, split["planted"]), 4),
                "top10_same_planted_full": round(_top10_same(b, split["planted"]), 4),
            }
            run.write(out)
        print(run.path if hasattr(run, "path") else "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
