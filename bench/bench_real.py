"""Quality on real networks: `graphsona evaluate` on each real network in ../shared/data, next to
the strong simple baselines on the same split (issue 12's quality gate, first part).

Networks (see ../shared/data/*/README*):

* ``community/{polblogs,polbooks,football,eu-core}.gml``: ground-truth groups (``gt``), used as
  the community truth and as the probe label; no text;
* ``real/twitch_engb``: 7.1k streamers, label ``mature``; ``views`` is a real engagement measure,
  so influence is also scored by its Spearman correlation with views (next to PageRank's);
* ``twibot20_sample``: 100 Twitter accounts with their recent tweets (real text; the first 50
  each) and domains (the probe label: politics only or several), plus the followers and followings listed for them, as
  users without text; too few links for who-to-follow figures to mean much (the report warns);
* ``real/git_web_ml``: 37.7k developers, label ``ml_target``; the account name is the only text
  (``--large`` only: it takes most of the run's time).

Each network becomes a graphsona dataset (users, follows in both directions for undirected
graphs, a post per user where there is text), is loaded into an embedded store and evaluated with
the job's default settings (only ``--epochs`` can be lowered, for a quick pass, and it is
recorded). Results go to ``bench/results/real-<UTC time>.json`` with their provenance.

Usage::

    python bench/bench_real.py                 # the small networks and twitch_engb
    python bench/bench_real.py --large         # + git_web_ml
    python bench/bench_real.py --only polbooks --epochs 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL = ("polbooks", "football", "polblogs", "eu-core", "twitch_engb", "twibot20_sample")
LARGE = ("git_web_ml",)
# the simple baselines graphsona's who-to-follow is measured against (graph_only is graphsona's
# own ablation, graphsona_decoder its first stage alone)
BASELINES = ("popularity", "common_neighbours", "adamic_adar", "text_only", "fastrp", "spectral")


def _gml(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    import networkx as nx

    g = nx.read_gml(DATA / "community" / f"{name}.gml", label="id")
    directed = g.is_directed()
    users = pl.DataFrame(
        {"user_id": [str(n) for n in g.nodes], "label_gt": [str(g.nodes[n]["gt"]) for n in g.nodes]}
    )
    pairs = [(str(a), str(b)) for a, b in g.edges if a != b]
    if not directed:
        pairs += [(b, a) for a, b in pairs]
    return users, pl.DataFrame(pairs, schema=["src", "dst"], orient="row").unique()


def _musae(folder: str, target: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    root = DATA / "real" / folder
    edges_file = next(root.glob("*_edges.csv"))
    nodes = pl.read_csv(next(root.glob("*_target.csv")))
    key = "new_id" if "new_id" in nodes.columns else "id"
    edges = pl.read_csv(edges_file)
    a, b = edges.columns[:2]
    pairs = edges.select(
        pl.col(a).cast(pl.String).alias("src"), pl.col(b).cast(pl.String).alias("dst")
    )
    follows = pl.concat([pairs, pairs.select(src="dst", dst="src")]).unique()
    users = nodes.select(
        pl.col(key).cast(pl.String).alias("user_id"),
        pl.col(target).cast(pl.String).alias(f"label_{target}"),
        *[pl.col(c) for c in ("views",) if c in nodes.columns],
    )
    posts = pl.DataFrame(schema={"user_id": pl.String, "text": pl.String})
    if "name" in nodes.columns:  # git_web_ml: the account name is its only text
        posts = nodes.select(
            pl.col(key).cast(pl.String).alias("user_id"), pl.col("name").alias("text")
        )
    return users, follows, posts


def _twibot(max_tweets: int = 50) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """TwiBot-20's public sample: 100 accounts with their recent tweets (the first
    ``max_tweets`` each) and domains; their listed followers and followings join as users
    without text. Every account lists Politics first; the label is whether it lists Politics
    only (48) or more domains (52)."""
    import json

    rows = json.loads((DATA / "twibot20_sample" / "TwiBot-20_sample.json").read_text())
    labels: dict[str, str | None] = {}
    pairs: list[tuple[str, str]] = []
    posts: list[tuple[str, str]] = []
    for r in rows:
        uid = str(r["ID"]).strip()
        domains = r.get("domain") or []
        labels[uid] = (
            ("politics only" if list(domains) == ["Politics"] else "several") if domains else None
        )
        for text in (r.get("tweet") or [])[:max_tweets]:
            if text and text.strip():
                posts.append((uid, text.strip()))
        nb = r.get("neighbor")
        if isinstance(nb, dict):
            pairs += [(uid, str(v).strip()) for v in nb.get("following") or []]
            pairs += [(str(v).strip(), uid) for v in nb.get("follower") or []]
    ids = sorted({*labels, *(a for a, _ in pairs), *(b for _, b in pairs)})
    users = pl.DataFrame({"user_id": ids, "label_domain": [labels.get(i) for i in ids]})
    follows = pl.DataFrame(pairs, schema=["src", "dst"], orient="row").unique()
    text = pl.DataFrame(posts, schema=["user_id", "text"], orient="row")
    return users, follows.filter(pl.col("src") != pl.col("dst")), text


def dataset(name: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, str]:
    if name == "twitch_engb":
        u, f, p = _musae("twitch_engb", "mature")
        return u, f, p, "label_mature"
    if name == "twibot20_sample":
        u, f, p = _twibot()
        return u, f, p, "label_domain"
    if name == "git_web_ml":
        u, f, p = _musae("git_web_ml", "ml_target")
        return u, f, p, "label_ml_target"
    u, f = _gml(name)
    return u, f, pl.DataFrame(schema={"user_id": pl.String, "text": pl.String}), "label_gt"


def run_one(name: str, epochs: int | None, workdir: Path) -> dict[str, Any]:
    from graphsona.graph import EmbeddedStore
    from graphsona.jobs.evaluate import EvalConfig, evaluate
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.loaders import load_frames

    users, follows, posts, label = dataset(name)
    ds, _ = load_frames(users, follows, posts=posts if posts.height else None)
    job = ProfileJobConfig(cache=None)
    if epochs is not None:
        job = replace(job, epochs=epochs)
    t = time.perf_counter()
    with EmbeddedStore(workdir / f"{name}.lbdb") as store:
        store.load(ds)
        rep = evaluate(store, EvalConfig(truth=label, label=label, job=job))
    rep["seconds_total"] = time.perf_counter() - t
    rep["network"] = {
        "users": ds.users.height,
        "follows": ds.follows.height,
        "posts": ds.posts.height,
    }
    if "views" in users.columns:
        rep["influence_vs_views"] = _influence_vs_views(ds, users, job)
    return rep


def _influence_vs_views(ds: Any, users: pl.DataFrame, job: Any) -> dict[str, float]:
    """Spearman of the job's influence and of PageRank with total views (twitch_engb)."""
    from graphsona.gnn.influence import spearman
    from graphsona.jobs.frames import profile

    res = profile(ds.users, ds.follows, config=job, k=0)
    joined = res.users.join(users.select("user_id", "views"), on="user_id")
    views = joined["views"].to_numpy().astype(np.float64)
    return {
        "influence": float(spearman(joined["influence"].to_numpy(), views)),
        "pagerank": float(spearman(joined["pagerank"].to_numpy(), views)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--large", action="store_true", help="also git_web_ml (37.7k users)")
    ap.add_argument("--only", nargs="*", help="these networks only")
    ap.add_argument("--epochs", type=int, default=None, help="lower the epoch budget (recorded)")
    ap.add_argument("--results-dir", default=None)
    args = ap.parse_args()
    names = args.only or [*SMALL, *(LARGE if args.large else ())]
    run = _provenance.start("real", args.results_dir)
    results: dict[str, Any] = {"epochs": args.epochs, "networks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"== {name}", flush=True)
            rep = run_one(name, args.epochs, Path(tmp))
            results["networks"][name] = rep
            w = rep["who_to_follow"]
            best = max((k for k in w if k in BASELINES), key=lambda k: w[k]["recall@20"])
            print(
                f"   recall@20 graphsona {w['graphsona']['recall@20']:.3f} (decoder alone "
                f"{w['graphsona_decoder']['recall@20']:.3f}), best baseline {best} "
                f"{w[best]['recall@20']:.3f}; spread {rep['profile_spread']['graphsona']}",
                flush=True,
            )
            run.write(results, complete=name == names[-1])


if __name__ == "__main__":
    main()
