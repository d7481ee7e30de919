"""Embedding benchmark: graphsona's post embedding vs a plain ``SentenceTransformer.encode``.

Data: synthetic posts (default 50,000) where about 20% of posts repeat an earlier text (reposts,
copy-paste, bots), as in real feeds. Measured in one run on this machine:

* reference: ``SentenceTransformer(model).encode(all_texts, batch_size=32)``;
* graphsona default (``embed_users`` with an empty cache; ``precision="auto"``, which is bf16
  on CPUs with native bf16 such as this one, fp32 elsewhere);
* graphsona with ``precision="fp32"`` (deduplication and token-budget batches only);
* graphsona again with the warm cache;
* graphsona's fast CPU mode (static model distilled from the same transformer);
* quality: a 5-fold logistic-regression probe on pooled user vectors predicting the planted
  community (chance = 1 / communities), for the reference vectors and graphsona's, and the
  cosine between graphsona's default post vectors and the reference's on 2,000 posts.

Optionally (``--tweets DIR``, a TweetEval copy such as ``../shared/data/tweets``; never needed by
the tests) a harder, real-text check: a logistic-regression probe trained on each task's train
tweets and scored on its test tweets (accuracy, macro-F1), on the reference fp32 vectors, the
default-precision vectors and the fast static model's.

Run: ``python bench/bench_embed.py [--posts 50000] [--tweets DIR] [--results-dir DIR]``; writes
``bench/results/embed-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _provenance  # noqa: E402
from graphsona.embeddings import (  # noqa: E402
    EmbedOptions,
    PoolingOptions,
    VectorCache,
    embed_texts,
    embed_users,
    load_embedder,
    resolve_model,
)
from graphsona.loaders import SyntheticConfig, generate  # noqa: E402


def corpus(n_posts: int, seed: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_users = max(100, n_posts // 8)
    net = generate(
        SyntheticConfig(
            n_users=n_users, n_communities=8, posts_per_user=n_posts / n_users / 0.8, seed=seed
        )
    )
    posts = net.posts.head(n_posts)
    rng = np.random.default_rng(seed)
    # ~20% of posts repeat an earlier post's text (reposts, copy-paste)
    repeat = rng.random(posts.height) < 0.2
    src = rng.integers(0, posts.height, posts.height)
    texts = np.where(repeat, posts["text"].to_numpy()[src], posts["text"].to_numpy())
    posts = posts.with_columns(pl.Series("text", texts, dtype=pl.String))
    return net.users.select("user_id", "planted_community"), posts


def probe(users: pl.DataFrame, vectors: pl.DataFrame) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    data = users.join(vectors, on="user_id").filter(pl.col("has_text"))
    x = np.stack(data["embedding"].to_numpy())
    y = data["planted_community"].to_numpy()
    return float(cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=5).mean())


def pooled_reference(users: pl.DataFrame, posts: pl.DataFrame, vecs: np.ndarray) -> pl.DataFrame:
    """Mean of the reference post vectors per user (the same pooling graphsona applies)."""
    ids = users["user_id"].sort()
    index = {u: i for i, u in enumerate(ids.to_list())}
    rows = np.array([index[u] for u in posts["user_id"].to_list()])
    sums = np.zeros((len(ids), vecs.shape[1]), dtype=np.float64)
    np.add.at(sums, rows, vecs)
    counts = np.bincount(rows, minlength=len(ids))
    mean = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    return pl.DataFrame({"user_id": ids, "embedding": mean, "has_text": counts > 0})


def tweet_probe(root: Path, models: dict[str, Any]) -> dict[str, Any]:
    """Post-level probe on real tweets: fit on train, score on test, per task and model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    def read(task: Path, split: str) -> tuple[list[str], np.ndarray]:
        text = (task / f"{split}_text.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
        labels = np.array((task / f"{split}_labels.txt").read_text().split(), dtype=int)
        if len(text) != len(labels):
            raise ValueError(f"{task}/{split}: {len(text)} texts but {len(labels)} labels")
        return text, labels

    res: dict[str, Any] = {}
    for name in ("emotion", "hate"):
        task = root / name
        if not (task / "train_text.txt").exists():
            continue
        (tr, ytr), (te, yte) = read(task, "train"), read(task, "test")
        res[name] = {"train": len(tr), "test": len(te), "classes": len(set(ytr))}
        for label, encode in models.items():
            clf = LogisticRegression(max_iter=3000).fit(encode(tr), ytr)
            pred = clf.predict(encode(te))
            res[name][label] = {
                "accuracy": round(float(accuracy_score(yte, pred)), 4),
                "macro_f1": round(float(f1_score(yte, pred, average="macro")), 4),
            }
        print(f"tweets/{name}: {res[name]}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=50_000)
    ap.add_argument("--tweets", type=Path, default=None, help="TweetEval directory (optional).")
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("embed", args.results_dir)
    users, posts = corpus(args.posts)
    texts = posts["text"].to_list()
    out: dict[str, Any] = {
        "model": resolve_model("default"),
        "posts": len(texts),
        "distinct_texts": len(set(texts)),
    }
    print(f"{len(texts)} posts, {out['distinct_texts']} distinct", flush=True)

    from sentence_transformers import SentenceTransformer

    ref_model = SentenceTransformer(resolve_model("default"), device="cpu")
    t = time.perf_counter()
    ref = ref_model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    out["reference_posts_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    print(f"reference: {out['reference_posts_per_s']} posts/s", flush=True)
    out["reference_probe_accuracy"] = round(probe(users, pooled_reference(users, posts, ref)), 4)

    emb = load_embedder("default", device="cpu")
    out["default_precision"] = getattr(emb, "precision", "fp32")
    opts = EmbedOptions(pooling=PoolingOptions(include_bio=False))  # posts only, like the reference
    sample = list(range(0, len(texts), max(1, len(texts) // 2000)))[:2000]
    cos = (emb.encode([texts[i] for i in sample]) * ref[sample]).sum(axis=1)
    out["default_vs_reference_cosine"] = {
        "mean": round(float(cos.mean()), 5),
        "min": round(float(cos.min()), 5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cache = VectorCache(Path(tmp) / "cache.sqlite")
        t = time.perf_counter()
        vectors, report = embed_users(users, posts, emb, cache=cache, options=opts)
        out["graphsona_posts_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
        out["graphsona_report"] = report.to_dict()
        print(f"graphsona default: {out['graphsona_posts_per_s']} posts/s ({report})", flush=True)
        t = time.perf_counter()
        _ = embed_users(
            users, posts, emb, cache=VectorCache(Path(tmp) / "cache.sqlite"), options=opts
        )
        out["graphsona_warm_cache_posts_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
        print(
            f"graphsona warm cache: {out['graphsona_warm_cache_posts_per_s']} posts/s", flush=True
        )
    out["graphsona_probe_accuracy"] = round(probe(users, vectors), 4)

    fp32 = load_embedder("default", device="cpu", precision="fp32")
    t = time.perf_counter()
    fp32_vectors, _ = embed_users(users, posts, fp32, options=opts)
    out["graphsona_fp32_posts_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    out["graphsona_fp32_probe_accuracy"] = round(probe(users, fp32_vectors), 4)
    print(f"graphsona fp32: {out['graphsona_fp32_posts_per_s']} posts/s", flush=True)

    fast = load_embedder("default", kind="static")  # distilled once, then cached on disk
    t = time.perf_counter()
    fast_vectors, _ = embed_users(users, posts, fast, options=opts)
    out["fast_static_posts_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    out["fast_static_probe_accuracy"] = round(probe(users, fast_vectors), 4)
    print(f"graphsona fast (static): {out['fast_static_posts_per_s']} posts/s", flush=True)
    out["chance"] = round(1 / users["planted_community"].n_unique(), 4)
    out["speedup_default"] = round(out["graphsona_posts_per_s"] / out["reference_posts_per_s"], 2)
    out["speedup_fp32"] = round(out["graphsona_fp32_posts_per_s"] / out["reference_posts_per_s"], 2)
    out["speedup_fast_static"] = round(
        out["fast_static_posts_per_s"] / out["reference_posts_per_s"], 2
    )
    out["speedup_warm_cache"] = round(
        out["graphsona_warm_cache_posts_per_s"] / out["reference_posts_per_s"], 2
    )
    if args.tweets:
        out["tweets"] = tweet_probe(
            args.tweets,
            {
                "reference_fp32": lambda t: ref_model.encode(
                    t, batch_size=32, convert_to_numpy=True, normalize_embeddings=True
                ),
                f"default_{out['default_precision']}": lambda t: embed_texts(t, emb),
                "fast_static": lambda t: embed_texts(t, fast),
            },
        )
    print(json.dumps(out, indent=2))
    run.write(out)


if __name__ == "__main__":
    main()
