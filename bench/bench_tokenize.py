"""The embedding pipeline's own CPU cost: transformers' tokenisation path against the Rust one.

On an H200 the default model embedded 14k posts/s at 0.5% of the GPU's bf16 peak
(``gpu_embed-20261204T171403Z.json``): the CPU work around the model (tokenising each text
twice through transformers' per-text Python conversion, sentence-transformers' per-text
preprocessing) set the pace. The default embedder now tokenises each batch with one call into
the Rust tokenizer (``SentenceTransformerEmbedder.rust_tokens``). This measures what that
changes without a GPU, in two parts, alternating the two paths:

1. **pipeline without the model**: ``embed_texts`` over ``--texts`` distinct synthetic posts
   with the transformer's forward replaced by a stub returning zeros of the right shape, so
   what is timed is everything the CPU does around the model (tokenising, batching, pooling the
   zeros, copying). On a GPU the forward and pooling run on the device, so this is the floor
   the CPU puts under the GPU's rate.
2. **real embedding** of ``--sample`` texts on the CPU, both paths, and the largest difference
   between their vectors (the same model, the same features: expected 0).

Run: ``python bench/bench_tokenize.py [--texts 150000] [--sample 2000] [--repeats 2]``.
Writes ``bench/results/tokenize-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _provenance
from graphsona.embeddings import embed_texts, load_embedder
from graphsona.loaders import SyntheticConfig, generate


class _Out(dict):  # type: ignore[type-arg]
    """What a transformers encoder returns, enough for sentence-transformers' Transformer."""

    def __getitem__(self, k: Any) -> Any:
        return dict.__getitem__(self, "last_hidden_state" if isinstance(k, int) else k)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=150_000)
    ap.add_argument("--sample", type=int, default=2_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=262_144)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("tokenize", args.results_dir)
    net = generate(SyntheticConfig(n_users=max(1000, args.texts // 5), seed=3))
    texts = net.posts["text"].unique(maintain_order=True).to_list()[: args.texts]
    emb = load_embedder("default", device="cpu")
    rust = emb._rust  # type: ignore[attr-defined]
    if rust is None:
        raise SystemExit("the Rust tokenisation path is not available for the default model")
    paths = {"transformers": None, "rust": rust}

    # 2. real vectors first (the stub below replaces the forward for good)
    sample = texts[: args.sample]
    real: dict[str, Any] = {}
    vecs = {}
    for name, r in paths.items():
        emb._rust = r  # type: ignore[attr-defined]
        t = time.perf_counter()
        vecs[name] = embed_texts(sample, emb, batch_tokens=16_384)
        real[name] = {"seconds": time.perf_counter() - t}
        real[name]["posts_per_s"] = len(sample) / real[name]["seconds"]
    real["max_abs_difference"] = float(np.abs(vecs["rust"] - vecs["transformers"]).max())

    # 1. the pipeline with the transformer's forward stubbed out
    dim = emb.dimension

    def stub(*a: Any, **k: Any) -> _Out:
        ids = k["input_ids"]
        return _Out(last_hidden_state=torch.zeros(ids.shape[0], ids.shape[1], dim))

    emb.model[0].auto_model.forward = stub  # type: ignore[attr-defined]
    overhead: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, r in paths.items():
            emb._rust = r  # type: ignore[attr-defined]
            t = time.perf_counter()
            embed_texts(texts, emb, batch_tokens=args.batch_tokens)
            overhead[name].append(time.perf_counter() - t)
    best = {name: min(v) for name, v in overhead.items()}
    out = {
        "texts": len(texts),
        "cores": os.cpu_count(),
        "pipeline_without_model_seconds": overhead,
        "pipeline_without_model_best": best,
        "texts_per_s_ceiling": {name: len(texts) / s for name, s in best.items()},
        "speedup": best["transformers"] / best["rust"],
        "real_embedding_sample": {"texts": len(sample), **real},
    }
    print(json.dumps(out, indent=2))
    run.write(out)


if __name__ == "__main__":
    main()
