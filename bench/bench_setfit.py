"""SetFit against ``graphsona finetune``'s head, on the same few labels (issue 13: "SetFit or a
transformers fine-tune, your measured choice").

``graphsona finetune`` (``--method head``, the default) trains a logistic-regression head on
the frozen default encoder's (all-MiniLM-L6-v2) post vectors. ``--method setfit`` first
fine-tunes the encoder itself with SetFit (the ``setfit`` package) contrastively on pairs of
the labelled posts, then fits the same head on the tuned encoder's vectors. Both run here
through graphsona's own code (:func:`graphsona.jobs.classify.train_task`, what ``finetune``
runs before storing the classifier; the tuned encoder goes to a temporary folder), trained on
the samples ``bench_sentiment.py`` draws from TweetEval sentiment's 2,000 ``val`` tweets (8,
32 and 128 per class, seed 0 by default; the same draws) and scored on its 12,284 ``test``
tweets, labelled as ``graphsona classify`` does. Offline, from the packaged encoder.

SetFit's default pair sampling grows with the square of the labels (24 training steps at 8
per class, 384 at 32); graphsona caps it at ``SETFIT_MAX_STEPS`` (1,000), which 128 per class
reaches (about 16 minutes of training on 2 cores). The default budgets are 8 and 32.

Usage::

    python bench/bench_setfit.py [--budgets 8 32 128] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance
import bench_sentiment


def _draws(val: tuple[list[str], np.ndarray], seed: int) -> dict[int, list[int]]:
    """The per-class samples of ``bench_sentiment.english`` (same seed, same order)."""
    rng = random.Random(seed)
    out: dict[int, list[int]] = {}
    for k in bench_sentiment.BUDGETS:
        out[k] = [
            i
            for c in ("negative", "neutral", "positive")
            for i in rng.sample([j for j, y in enumerate(val[1]) if y == c], k)
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--budgets", type=int, nargs="+", default=[8, 32], choices=bench_sentiment.BUDGETS
    )
    ap.add_argument("--seed", type=int, default=0)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    import polars as pl
    from graphsona.jobs.classify import post_vectors, train_task
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.text.classifier import SETFIT_MAX_STEPS, setfit_steps

    run = _provenance.start("setfit", args.results_dir)
    test, val = bench_sentiment._tweeteval("test"), bench_sentiment._tweeteval("val")
    draws = _draws(val, args.seed)
    out: dict[str, Any] = {
        "seed": args.seed,
        "test_posts": len(test[0]),
        "setfit_version": bench_sentiment.importlib_version("setfit"),
        "setfit_max_steps": SETFIT_MAX_STEPS,
        "head": {},
        "setfit": {},
    }
    cfg = ProfileJobConfig(cache=None, seed=args.seed)
    no_posts = pl.DataFrame(schema={"post_id": pl.String, "text": pl.String})
    scratch = Path(tempfile.mkdtemp(prefix="bench-setfit-"))  # labels files, tuned encoders
    try:
        x_test = post_vectors(test[0], "default", "sentence-transformers", None)
        for k in args.budgets:
            idx = draws[k]
            labels = scratch / f"labels-{k}.csv"
            pl.DataFrame(
                {"text": [val[0][i] for i in idx], "label": [str(val[1][i]) for i in idx]}
            ).write_csv(labels)
            for method in ("head", "setfit"):
                t = time.perf_counter()
                clf = train_task(no_posts, labels, "sentiment_tuned", cfg, method, scratch)
                trained = time.perf_counter()
                x = (
                    x_test
                    if method == "head"
                    else post_vectors(test[0], clf.embedder, clf.embedder_kind, None)
                )
                out[method][f"{k}_per_class"] = bench_sentiment._scores(
                    test[1], np.array(clf.predict(x)[0])
                ) | {
                    "train_seconds": trained - t,
                    "label_posts_per_second": len(test[0]) / (time.perf_counter() - trained)
                    if method == "setfit"
                    else None,
                    "setfit_steps": setfit_steps([str(val[1][i]) for i in idx]),
                }
            print(k, {m: out[m][f"{k}_per_class"] for m in ("head", "setfit")}, flush=True)
            run.write(out, complete=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("results:", run.write(out))


if __name__ == "__main__":
    main()
