"""GPU embedding benchmark, sized to finish in under 5 minutes on one H200.

Embeds 2M synthetic posts (about 20% repeated) with the default model in bfloat16 through
graphsona's pipeline (dedupe, length-sorted token-budget batches, inference mode) and reports
posts/s and the share of the GPU's bf16 matrix throughput it reaches (model FLOPs / time /
peak). A sample is checked against fp32 CPU vectors (cosine). Prints one JSON object and writes
``gpu_embed-<UTC time>.json`` with the run's provenance to ``--results-dir`` (default ``$OUT``
when set, else ``bench/results``).

Run: ``HF_HUB_OFFLINE=1 python bench/gpu_embed.py [--posts 2000000] [--peak-tflops 790]``.
Aim (issue 3): >= 100k posts/s for MiniLM.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _provenance
from graphsona.embeddings import EmbedReport, embed_texts, load_embedder
from graphsona.loaders import SyntheticConfig, generate


def flops_per_token(layers: int = 6, hidden: int = 384, ffn: int = 1536) -> float:
    """Matrix FLOPs per token of a BERT-style encoder (attention projections + feed-forward)."""
    return layers * 2 * (4 * hidden * hidden + 2 * hidden * ffn)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=2_000_000)
    ap.add_argument("--batch-tokens", type=int, default=262_144)
    ap.add_argument(
        "--peak-tflops", type=float, default=790.0, help="measured bf16 peak of the GPU"
    )
    _provenance.add_results_dir_option(ap, default=os.environ.get("OUT") or None)
    args = ap.parse_args()
    run = _provenance.start("gpu_embed", args.results_dir)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark is for a GPU machine")
    t = time.perf_counter()
    n_users = args.posts // 8
    net = generate(
        SyntheticConfig(n_users=n_users, posts_per_user=args.posts / n_users / 0.8, seed=3)
    )
    texts = net.posts["text"].head(args.posts)
    rng = np.random.default_rng(3)
    repeat = rng.random(texts.len()) < 0.2
    texts = pl.Series(
        np.where(
            repeat, texts.to_numpy()[rng.integers(0, texts.len(), texts.len())], texts.to_numpy()
        )
    )
    distinct = texts.unique().to_list()
    gen_s = time.perf_counter() - t

    emb = load_embedder("default", device="cuda")
    embed_texts(
        distinct[:20_000], emb, batch_tokens=args.batch_tokens
    )  # warm-up (kernels, allocator)
    torch.cuda.synchronize()
    report = EmbedReport()
    t = time.perf_counter()
    vecs = embed_texts(distinct, emb, batch_tokens=args.batch_tokens, report=report)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    tokens = int(np.minimum(emb.token_counts(distinct), emb.max_tokens).sum())

    cpu = load_embedder("default", device="cpu", precision="fp32")
    sample = distinct[:2000]
    cos = float(np.mean(np.sum(cpu.encode(sample) * vecs[:2000], axis=1)))
    out = {
        "gpu": torch.cuda.get_device_name(0),
        "posts": int(texts.len()),
        "distinct_texts": len(distinct),
        "generate_s": round(gen_s, 1),
        "embed_s": round(seconds, 2),
        "posts_per_s": round(texts.len() / seconds),
        "distinct_texts_per_s": round(len(distinct) / seconds),
        "tokens": tokens,
        "bf16_peak_fraction": round(
            tokens * flops_per_token() / seconds / (args.peak_tflops * 1e12), 4
        ),
        "cosine_vs_cpu_fp32": round(cos, 5),
        "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }
    print(json.dumps(out, indent=2))
    run.write(out)


if __name__ == "__main__":
    main()
