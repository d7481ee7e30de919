"""The training set-up's validation negatives: graphsona's ``non_edges`` against PyG's
``negative_sampling`` (the reference, which graphsona used before), same graph, same run.

On one H200 a 1M-user, 50M-edge ``fit`` spent about 85 s outside its epochs
(``gpu_train-20261204T171132Z.json``); a CPU profile at 200k users / 5M edges put most of the
set-up in PyG's ``negative_sampling`` (``random.sample`` and ``np.isin`` on the CPU). This
times both ways of drawing the validation split's negatives (10% of the edges) and
``ProfileModel.split`` as a whole, on random graphs built in tensors as ``gpu_train.py``
builds them.

Run: ``python bench/bench_split.py [--sizes 200000:5000000,1000000:20000000]``. Writes
``bench/results/split-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _provenance
from graphsona.gnn import ProfileModel
from graphsona.gnn.profiles import non_edges
from torch_geometric.utils import negative_sampling


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200000:5000000,1000000:20000000")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("split", args.results_dir)
    rows = []
    for size in args.sizes.split(","):
        n, m = (int(v) for v in size.split(":"))
        g = torch.Generator().manual_seed(0)
        ei = torch.randint(0, n, (2, m), generator=g)
        k = m // 10
        random.seed(0)
        np.random.seed(0)
        t = time.perf_counter()
        ref = negative_sampling(ei, num_nodes=n, num_neg_samples=k)
        pyg_s = time.perf_counter() - t
        t = time.perf_counter()
        ours = non_edges(ei, n, k, torch.Generator().manual_seed(1))
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        ProfileModel(seed=0).split(n, ei, None, torch.Generator().manual_seed(0))
        split_s = time.perf_counter() - t
        row = {
            "users": n,
            "edges": m,
            "negatives": k,
            "pyg_negative_sampling_s": pyg_s,
            "pyg_found": int(ref.shape[1]),
            "non_edges_s": ours_s,
            "non_edges_found": int(ours.shape[1]),
            "speedup": pyg_s / ours_s,
            "split_with_non_edges_s": split_s,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    run.write({"runs": rows})


if __name__ == "__main__":
    main()
