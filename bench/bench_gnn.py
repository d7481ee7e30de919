"""GNN benchmark: profile quality against baselines, the edge-design choice, and CPU cost.

Parts 1 and 2 run together (``--skip-scale``), part 3 alone (``--only-scale``) or all three in one
run (the default); each run writes its own file (figures go to BENCHMARKS.md):

1. **Clear planted communities** (3,000 users, 8 communities, mixing 0.1, default text model):
   10% of follow edges are held out at random, together with any interaction between a held-out
   pair (else the interaction would leak the follow). The encoder is trained on the rest, then
   who-to-follow is ranked over all users not already followed: recall@10/20 and MRR of the
   link decoder (cosine of profiles) next to Adamic-Adar and common neighbours computed on the
   same training graph; NMI of graphsona's communities and of Leiden's against the planted truth.
   Three edge designs on the same split: weighted follows + interactions (the default),
   unweighted follows + interactions, follows only; and the default without the learned
   follow bias, and with PyG's ``negative_sampling`` of random pairs instead of corrupted
   targets as training negatives.
2. **Text-only planted communities** (mixing 0.6: follows barely follow communities):
   NMI, modularity and text coherence of text-aware communities vs Leiden.
3. **CPU cost at 100k users / ~2M edges**: epoch time, full training time (default settings:
   up to 100 epochs, early stopping), peak memory; features from the fast static text model.

Run: ``python bench/bench_gnn.py [--skip-scale | --only-scale [--scale-users N]]
[--results-dir DIR]``; writes ``bench/results/gnn-<UTC time>.json`` with the run's provenance
(never merged with an earlier run's file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _provenance  # noqa: E402
from graphsona.embeddings import EmbedOptions, VectorCache, embed_users, load_embedder  # noqa: E402
from graphsona.gnn import (  # noqa: E402
    ProfileModel,
    leiden,
    modularity,
    structural_features,
    text_aware_communities,
    text_coherence,
)
from graphsona.gnn.metrics import (  # noqa: E402
    adamic_adar_scorer,
    common_neighbours_scorer,
    cosine_scorer,
    decoder_scorer,
    ranking_metrics,
)
from graphsona.graph import EmbeddedStore, to_pyg  # noqa: E402
from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score as nmi  # noqa: E402

CACHE = Path.home() / ".cache" / "graphsona" / "bench-vectors.sqlite"


def prepared(cfg: SyntheticConfig, kind: str) -> dict[str, Any]:
    """Generate, load into an embedded store, export, embed: what the job does before training."""
    net = generate(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        ds, _ = load_dataset(write_dataset(net, Path(tmp) / "data"))
        with EmbeddedStore(Path(tmp) / "g.lbdb") as store:
            store.load(ds)
            g = to_pyg(store)
            users = store.read_users()
            posts = store.read_posts()
    emb = load_embedder("default", kind=kind)
    cache = VectorCache(CACHE)
    text, _ = embed_users(users, posts, emb, cache=cache, options=EmbedOptions())
    cache.close()
    text = g.ids.join(text, on="user_id", how="left", maintain_order="left")
    tx = torch.from_numpy(np.array(text["embedding"].to_numpy(), dtype=np.float32))
    truth = g.ids.join(users.select("user_id", "planted_community"), on="user_id", how="left")
    return {
        "g": g,
        "tx": tx,
        "n_posts": text["n_posts"].fill_null(0).to_numpy(),
        "has_text": torch.from_numpy(
            text["has_text"].fill_null(False).to_numpy().astype(np.float32)
        ),
        "truth": truth["planted_community"].to_numpy(),
    }


def features(p: dict[str, Any], ei: torch.Tensor) -> torch.Tensor:
    n = p["g"].data.num_nodes
    return torch.cat([p["tx"], structural_features(ei, n, p["n_posts"]), p["has_text"][:, None]], 1)


def quality(seed: int = 0) -> dict[str, Any]:
    p = prepared(
        SyntheticConfig(n_users=3000, n_communities=8, mixing=0.1, seed=11), "sentence-transformers"
    )
    d = p["g"].data
    n = d.num_nodes
    follow = d.edge_type == 0
    fi = torch.nonzero(follow).ravel()
    perm = fi[torch.randperm(len(fi), generator=torch.Generator().manual_seed(seed))]
    held = perm[: len(perm) // 10]
    held_edges = d.edge_index[:, held]
    held_keys = set((held_edges[0] * n + held_edges[1]).tolist())
    keys = d.edge_index[0] * n + d.edge_index[1]
    leak = torch.tensor([k in held_keys for k in keys.tolist()])
    keep = ~leak  # drops the held-out follows and interactions between held-out pairs
    ei, ew, et = d.edge_index[:, keep], d.edge_weight[keep], d.edge_type[keep]
    train_follows = ei[:, et == 0]
    out: dict[str, Any] = {
        "users": n,
        "edges": int(d.edge_index.shape[1]),
        "held_out_follows": int(held.numel()),
        "dropped_leaking_interactions": int(leak.sum() - held.numel()),
    }
    # baselines on the same training graph (follows + interactions, undirected)
    t0 = time.perf_counter()
    out["adamic_adar"] = ranking_metrics(adamic_adar_scorer(ei, n), train_follows, held_edges, n)
    out["common_neighbours"] = ranking_metrics(
        common_neighbours_scorer(ei, n), train_follows, held_edges, n
    )
    out["text_only_cosine"] = ranking_metrics(cosine_scorer(p["tx"]), train_follows, held_edges, n)
    out["baseline_seconds"] = time.perf_counter() - t0
    lei = leiden(ei, n, weight=ew, seed=seed)
    out["leiden_nmi"] = float(nmi(p["truth"], lei.membership))
    variants = {  # edges, weights, weighted, follow bias, negatives
        "weighted_follows_interactions": (ei, ew, True, True, "corrupt"),
        "unweighted_follows_interactions": (ei, ew, False, True, "corrupt"),
        "follows_only": (train_follows, None, True, True, "corrupt"),
        "weighted_no_target_bias": (ei, ew, True, False, "corrupt"),
        "weighted_pyg_negative_pairs": (ei, ew, True, True, "pairs"),
    }
    for name, (e, w, weighted, bias, negatives) in variants.items():
        t0 = time.perf_counter()
        model = ProfileModel(
            seed=seed, weighted=weighted, target_bias=bias, negatives=negatives
        ).fit(features(p, e), e, w)
        z = model.get_embedding()
        part = text_aware_communities(ei, z - z.mean(0, keepdim=True), weight=ew, seed=seed)
        out[name] = {
            **ranking_metrics(decoder_scorer(model), train_follows, held_edges, n),
            "communities_nmi": float(nmi(p["truth"], part.membership)),
            "modularity": part.modularity,
            "best_val_auc": max(model.history.val_auc),
            "epochs": len(model.history.loss),
            "seconds": time.perf_counter() - t0,
        }
        print(name, json.dumps(out[name]), flush=True)
    return out


def text_only(seed: int = 0) -> dict[str, Any]:
    p = prepared(
        SyntheticConfig(n_users=3000, n_communities=6, mixing=0.6, seed=12), "sentence-transformers"
    )
    d = p["g"].data
    n = d.num_nodes
    model = ProfileModel(seed=seed).fit(features(p, d.edge_index), d.edge_index, d.edge_weight)
    z = model.get_embedding()
    z = z - z.mean(0, keepdim=True)
    ours = text_aware_communities(d.edge_index, z, weight=d.edge_weight, seed=seed)
    lei = leiden(d.edge_index, n, weight=d.edge_weight, seed=seed)
    res = {}
    for name, part in (("text_aware", ours), ("leiden", lei)):
        res[name] = {
            "nmi": float(nmi(p["truth"], part.membership)),
            "modularity": modularity(d.edge_index, part.membership, d.edge_weight),
            "text_coherence": text_coherence(part.membership, p["tx"]),
            "communities": part.n_communities,
        }
    return res


def scale(n_users: int = 100_000, seed: int = 0) -> dict[str, Any]:
    cfg = SyntheticConfig(n_users=n_users, avg_follows=17.0, seed=13)
    t0 = time.perf_counter()
    p = prepared(cfg, "static")
    prep = time.perf_counter() - t0
    d = p["g"].data
    x = features(p, d.edge_index)
    t0 = time.perf_counter()
    model = ProfileModel(
        seed=seed,
        progress=lambda e, loss, a: print(f"epoch {e} loss {loss:.4f} auc {a:.4f}", flush=True),
    )
    model.fit(x, d.edge_index, d.edge_weight)
    total = time.perf_counter() - t0
    secs = model.history.seconds
    return {
        "users": d.num_nodes,
        "edges": int(d.edge_index.shape[1]),
        "feature_dim": int(x.shape[1]),
        "prepare_seconds": prep,
        "epochs": len(secs),
        "best_epoch": model.history.best_epoch,
        "epoch_seconds_median": float(np.median(secs)),
        "train_seconds": total,
        "best_val_auc": max(model.history.val_auc),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--skip-scale", action="store_true", help="parts 1 and 2 only")
    ap.add_argument("--only-scale", action="store_true", help="part 3 only")
    ap.add_argument("--scale-users", type=int, default=100_000, help="users in part 3")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    if args.skip_scale and args.only_scale:
        ap.error("--skip-scale and --only-scale leave nothing to run")
    run = _provenance.start("gnn", args.results_dir)
    out: dict[str, Any] = {
        # prepare_seconds depends on it: embeddings found there are not recomputed
        "text_vector_cache": {"path": str(CACHE), "existed_at_start": CACHE.exists()},
        "parts": [
            *([] if args.only_scale else ["clear_planted", "text_only_planted"]),
            *([] if args.skip_scale else ["cpu_scale"]),
        ],
    }
    if not args.only_scale:
        out["clear_planted"] = quality()
        out["text_only_planted"] = text_only()
        print(json.dumps(out["text_only_planted"], indent=2), flush=True)
        if not args.skip_scale:
            run.write(out, complete=False)  # parts 1-2 survive a failed scale run
    if not args.skip_scale:
        out["cpu_scale"] = scale(args.scale_users)
    print(json.dumps(out, indent=2))
    run.write(out)


if __name__ == "__main__":
    main()
