"""Where the communities stage spends its time, and what the k-NN profile edges are worth.

The job's communities stage grew 23x from 100k to 1M users (BENCHMARKS.md, end to end). This
script times its parts on the synthetic network the end-to-end benchmark uses (same generator
settings and seed), calling the library functions directly:

* **timing**: undirected pairs, edge-end similarity, the k-NN profile graph (exact up to 50k
  users, faiss HNSW above), text-aware Leiden in total, and the Leiden reference in total;
* **reference**: the same k-NN with the former HNSW settings (32 links, beams 64/64), in the
  same run, so the speed-up is measured next to what it replaced;
* **quality** (``--quality``): on a network whose communities only text separates (mixing 0.6,
  40 communities), NMI to the planted truth with the current k-NN edges, the former HNSW
  settings and no k-NN edges at all.

Profiles are stand-ins, not the GNN's: each user's planted community centre plus Gaussian noise
(128 dimensions, noise 1.5x the centres' scale), so the stage runs without embedding and
training first. Absolute Leiden times depend on the profiles; the k-NN cost does not.

Run: ``python bench/bench_communities.py [--users 100000] [--quality] [--results-dir DIR]``;
writes ``bench/results/communities-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance
from graphsona.gnn import communities as cm
from graphsona.loaders import SyntheticConfig, generate


def network(cfg: SyntheticConfig) -> tuple[torch.Tensor, np.ndarray]:
    """Follow + interaction edges as a PyG edge_index, and each user's planted community."""
    net = generate(cfg)
    idx = pl.DataFrame({"user_id": net.users["user_id"], "i": np.arange(net.users.height)})
    parts = []
    for df in (net.follows, net.interactions):
        e = df.join(idx, left_on="src", right_on="user_id").join(
            idx, left_on="dst", right_on="user_id", suffix="_d"
        )
        parts.append(np.stack([e["i"].to_numpy(), e["i_d"].to_numpy()]))
    ei = torch.from_numpy(np.concatenate(parts, 1).astype(np.int64))
    return ei, net.users["planted_community"].to_numpy()


def stand_in_profiles(truth: np.ndarray, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(truth.max()) + 1, 128))
    p = torch.from_numpy((centres[truth] + 1.5 * rng.normal(size=(len(truth), 128))).astype("f4"))
    return p - p.mean(0)


_HNSW = cm._knn_hnsw  # held here: quality() swaps the module's function for the reference


def former_hnsw(z: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k-NN settings used before 2026-11-29 (32 links, construction and search beams 64)."""
    return _HNSW(z, k, links=32, build_beam=64, search_beam=64)


def mean_neighbour_similarity(z: torch.Tensor, nbr: np.ndarray, rows: np.ndarray) -> float:
    return float((z[rows, None, :] * z[torch.from_numpy(nbr[rows])]).sum(-1).mean())


def exact_mean_similarity(z: torch.Tensor, rows: np.ndarray, k: int) -> float:
    s = z[rows] @ z.T
    s[torch.arange(len(rows)), torch.from_numpy(rows)] = -2.0
    return float(torch.topk(s, k, dim=1).values.mean())


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t, 1)


def timing(n: int) -> dict[str, Any]:
    ei, truth = network(SyntheticConfig(n_users=n, seed=7))  # bench_e2e's network
    prof = stand_in_profiles(truth)
    z = torch.nn.functional.normalize(prof, dim=1)
    out: dict[str, Any] = {"users": n, "edges": int(ei.shape[1])}
    (pairs, _), out["undirected_s"] = timed(lambda: cm._undirected(ei, None, n))
    out["pairs"] = len(pairs)
    (nbr, _), out["knn_s"] = timed(lambda: cm._knn(z, 10))
    rows = np.random.default_rng(1).choice(n, min(n, 500), replace=False)
    out["knn_mean_similarity"] = round(mean_neighbour_similarity(z, nbr, rows), 4)
    out["exact_mean_similarity"] = round(exact_mean_similarity(z, rows, 10), 4)
    if n > cm.EXACT_KNN_MAX:
        (old, _), out["reference_former_hnsw_knn_s"] = timed(lambda: former_hnsw(z, 10))
        out["reference_former_hnsw_mean_similarity"] = round(
            mean_neighbour_similarity(z, old, rows), 4
        )
    part, out["text_aware_total_s"] = timed(
        lambda: cm.text_aware_communities(ei, prof, min_size=5, seed=0)
    )
    ref, out["leiden_reference_total_s"] = timed(lambda: cm.leiden(ei, n, min_size=5, seed=0))
    out["communities"] = [part.n_communities, ref.n_communities]
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def quality(n: int) -> dict[str, Any]:
    from sklearn.metrics import normalized_mutual_info_score as nmi

    ei, truth = network(SyntheticConfig(n_users=n, seed=7, mixing=0.6, n_communities=40))
    prof = stand_in_profiles(truth)
    res: dict[str, Any] = {"users": n, "mixing": 0.6, "planted": 40}
    ref = cm.leiden(ei, n, min_size=5)
    res["leiden_structure_only_nmi"] = round(float(nmi(truth, ref.membership)), 4)
    current = cm._knn_hnsw
    try:
        for name, fn in (("current", current), ("former_hnsw", former_hnsw)):
            cm._knn_hnsw = fn
            p, secs = timed(lambda: cm.text_aware_communities(ei, prof, min_size=5, seed=0))
            res[name] = {"nmi": round(float(nmi(truth, p.membership)), 4), "seconds": secs}
    finally:
        cm._knn_hnsw = current
    p = cm.text_aware_communities(ei, prof, k=0, min_size=5, seed=0)
    res["no_knn"] = {"nmi": round(float(nmi(truth, p.membership)), 4)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--quality", action="store_true", help="also the k-NN quality check")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("communities", args.results_dir)
    res: dict[str, Any] = {"timing": timing(args.users)}
    print(json.dumps(res["timing"]), flush=True)
    if args.quality:
        run.write(res, complete=False)  # the timing survives a failed quality check
        res["quality"] = quality(args.users)
        print(json.dumps(res["quality"]), flush=True)
    run.write(res)


if __name__ == "__main__":
    main()
