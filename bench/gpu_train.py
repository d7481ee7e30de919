"""GPU training benchmark, sized for under 8 minutes on one H200: 1M users, ~50M edges.

Builds a random graph with community structure directly in tensors (generating and loading a
50M-edge network through a store would dominate the time budget), 384-d text-like features
plus the structural ones, and trains :class:`~graphsona.gnn.ProfileModel` with default settings
for a fixed number of epochs. Records epoch times, peak GPU memory, whether the full-batch or
mini-batch path ran, validation AUC, then the time to infer the served profiles over the whole
graph and an update's inference around 1,000 users. Prints JSON; writes
``gpu_train-<UTC time>.json`` with the run's provenance to ``--results-dir`` (default ``$OUT``
when set, else ``bench/results``).

Run: ``python bench/gpu_train.py [--users 1000000] [--edges 50000000] [--epochs 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance
from graphsona.gnn import ProfileModel, structural_features


def graph(n: int, m: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    comm = torch.randint(0, k, (n,), generator=g)
    src = torch.randint(0, n, (m,), generator=g)
    # 80% of edges stay in the source's community: pick a random member by rejection-free trick
    order = torch.argsort(comm)
    counts = torch.bincount(comm, minlength=k)
    start = torch.cumsum(counts, 0) - counts
    same = torch.rand(m, generator=g) < 0.8
    c = torch.where(same, comm[src], torch.randint(0, k, (m,), generator=g))
    dst = order[start[c] + (torch.rand(m, generator=g) * counts[c]).long()]
    centres = torch.randn(k, 384, generator=g)
    x = centres[comm] + 2.0 * torch.randn(n, 384, generator=g)
    return torch.stack([src, dst]), x, comm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=50_000_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--communities", type=int, default=50)
    _provenance.add_results_dir_option(ap, default=os.environ.get("OUT") or None)
    args = ap.parse_args()
    run = _provenance.start("gpu_train", args.results_dir)
    t = time.perf_counter()
    ei, text, _ = graph(args.users, args.edges, args.communities, 0)
    x = torch.cat([text, structural_features(ei, args.users), torch.ones(args.users, 1)], 1)
    build = time.perf_counter() - t
    if torch.cuda.is_available():  # a tiny CPU run checks the script itself
        torch.cuda.reset_peak_memory_stats()
    model = ProfileModel(epochs=args.epochs, patience=args.epochs, seed=0)
    t = time.perf_counter()
    model.fit(x, ei)
    total = time.perf_counter() - t
    # the profiles the job serves: the trained encoder over the whole graph (ProfileModel.infer),
    # and an update's inference around 1,000 changed users (embed_around)
    t = time.perf_counter()
    served, _ = model.infer(x, ei)
    infer_s = time.perf_counter() - t
    agree = float((served * model.get_embedding()).sum(-1).mean())
    t = time.perf_counter()
    seeds = torch.randperm(args.users, generator=torch.Generator().manual_seed(1))[:1000]
    nodes, _, _ = model.embed_around(x, ei, None, seeds)
    around_s = time.perf_counter() - t
    out = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "users": args.users,
        "edges": args.edges,
        "build_seconds": build,
        "mode": model.history.mode,
        "epochs": len(model.history.seconds),
        "epoch_seconds": model.history.seconds,
        "train_seconds": total,
        "best_val_auc": max(model.history.val_auc),
        "infer_seconds": infer_s,
        "served_vs_training_pass_mean_cosine": agree,
        "embed_around_1000_seeds_seconds": around_s,
        "embed_around_nodes": len(nodes),
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30
        if torch.cuda.is_available()
        else None,
    }
    print(json.dumps(out, indent=2))
    run.write(out)


if __name__ == "__main__":
    main()
