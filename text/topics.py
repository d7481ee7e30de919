"""Topics of posts: BERTopic over the posts' text vectors, with offline, fast sub-models.

:func:`fit_topics` clusters the posts' vectors (the encoder's, the same ones the embed stage
pools, read back from the vector cache) with BERTopic and describes each cluster by its
class-based TF-IDF terms. The sub-models are chosen to run offline and fast on CPU:

* no embedding model: the vectors are given (BERTopic never loads a model);
* reduction: UMAP to :data:`REDUCED_DIMS` dimensions (BERTopic's own choice, cosine, seeded,
  so single-threaded and repeatable). PCA was tried first for speed and is much worse: on real
  tweets it left 4 topics where UMAP finds 54, and the topics' agreement with the tweets'
  hashtags fell from NMI 0.55 to 0.14 (BENCHMARKS.md, "Topics and monitoring"). UMAP is given
  the posts' exact cosine neighbours (:func:`exact_knn`, one matrix product by blocks, about
  2 s for 10,000 posts) instead of finding approximate ones with pynndescent, whose search
  numba compiled anew in every process (12 s of each job here: it takes the metric as an
  argument, which numba cannot cache), and it runs :data:`UMAP_EPOCHS` layout epochs. Numba
  also keeps UMAP's own compiled functions on disk (:func:`_cache_umap_jit`; the first run
  after installing still compiles them). On 17,372 real tweets the fit took 9.8 s
  (``monitor-20261206T155902Z.json``), against 39 s in a fresh process before (side runs),
  with the same agreement with their hashtags within the spread between seeds
  (BENCHMARKS.md);
* clustering: scikit-learn's HDBSCAN on a sample of at most :data:`FIT_SAMPLE` posts, with a
  minimum topic size that grows with the sample (:func:`min_topic_size`): the number of topics is
  the data's, not a setting;
* words: scikit-learn's ``CountVectorizer`` over :func:`tokenize` (Chinese runs cut by ``jieba``,
  other text split on word characters, hashtags kept, stop words of several languages dropped),
  and BERTopic's ``ClassTfidfTransformer(reduce_frequent_words=True)``.

Every post (sampled or not) is then given the topic whose centroid (the mean unit vector of the
topic's fitted members) is nearest by cosine; a post further from it than the topic's own
members mostly are (below the 5th percentile of their cosines) is an outlier, topic ``-1``.

Topic ids are stable across reruns: the same posts give the same topics in the same order
(sizes descending, ties by first term); with ``previous`` topics (``topic_id``, ``centroid``)
from an earlier run, a new topic whose centroid matches an old one (one-to-one, cosine at
least :data:`SAME_TOPIC`) keeps the old id, and the others get ids above every old one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl
import regex
from graphsona.text.language import HAN_CHARS

__all__ = [
    "APOSTROPHE_PATTERN",
    "FIT_SAMPLE",
    "HANDLE_PATTERN",
    "OUTLIER",
    "SAME_TOPIC",
    "URL_PATTERN",
    "WORD_PATTERN",
    "TopicResult",
    "assign_topics",
    "fit_topics",
    "min_topic_size",
    "tokenize",
    "topic_mix",
]

FIT_SAMPLE = 10_000
REDUCED_DIMS = 5
#: UMAP's layout epochs on a full fit sample (:data:`FIT_SAMPLE` posts): UMAP's own choice
#: above 10,000 points (it runs 500 at or below, where the full sample sits; 200 took less than
#: half the time with the same agreement on real tweets); smaller samples keep UMAP's choice
UMAP_EPOCHS = 200
NEIGHBOURS = 15  # UMAP's n_neighbors (its default and BERTopic's)
SAME_TOPIC = 0.8
OUTLIER = -1
MIN_POSTS = 30  # fewer posts than this: no topics (every post -1)
TERMS = 10

_HAN = re.compile(f"[{HAN_CHARS}]+")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
# Japanese content words without a tokenizer: runs of kanji, or of katakana (loanwords); the
# hiragana between them is mostly particles and inflections, dropped
_JA_RUN = re.compile(f"[{HAN_CHARS}]+|[\u30a0-\u30ff]+|[\u3040-\u309f]+")
# letters with their combining marks (Devanagari, Bengali, Thai vowel signs are marks, not \w
# in Python's re: words would break at every vowel sign)
# The patterns are strings too: community naming (graphsona.gnn.naming) runs them in polars, so
# a community's name and a topic's terms are cut from the same words
WORD_PATTERN = r"#?\p{L}[\p{L}\p{M}\p{N}_'-]*[\p{L}\p{M}\p{N}]|#?\p{L}\p{M}+|#[\p{L}\p{M}\p{N}_]+"
# links (whole, with what privacy scrubbing leaves of them: https://t.co/[path]) and @handles
URL_PATTERN = r"https?://\S+|www\.\S+"
HANDLE_PATTERN = r"@[\p{L}\p{M}\p{N}_]+"
#: typographic apostrophes, read as ' before words are cut: don’t is the stop word don't, not
#: "don" and "t"
APOSTROPHE_PATTERN = "[\u2018\u2019]"
# compiled with ``regex``, whose classes agree with polars' (Rust) engine; Python's ``re``
# leaves combining marks out of \w, so "@नमस्ते" would lose only part of the handle
_WORD = regex.compile(WORD_PATTERN)
_URL = regex.compile(URL_PATTERN)
_HANDLE = regex.compile(HANDLE_PATTERN)
_APOSTROPHE = regex.compile(APOSTROPHE_PATTERN)


def _words(text: str) -> list[str]:
    return text.split()


_OTHER_STOP = _words(
    "el la los las de que y en un una por con para es muy hoy gracias der die das und ist nicht "
    "mit auf ein eine heute sehr danke le les des et est une pour avec très merci aujourd'hui "
    "rt amp via just really today new day time using based use used im dont thats it's i'm "
    "don't can't won't didn't doesn't isn't wasn't aren't you're we're they're i've you've "
    "i'll we'll let's that's there's what's he's she's"
)
_CHINESE_STOP = _words(
    "的 了 是 我 你 他 她 它 们 在 有 和 就 不 也 都 这 那 还 说 要 会 着 吧 啊 呢 吗 很 太 "
    "没有 一个 什么 我们 你们 他们 自己 这个 那个 因为 所以 但是 可以 就是 还是 已经"
)


@cache
def stop_words() -> frozenset[str]:
    """English (scikit-learn's list), common function words of a few other languages, Chinese."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | frozenset(_OTHER_STOP) | frozenset(_CHINESE_STOP)


def tokenize(text: str) -> list[str]:
    """Lower-cased terms of ``text``: Chinese runs cut into words by ``jieba`` (Japanese text,
    recognised by its kana: runs of kanji and of katakana), other runs split
    on word characters (hashtags kept with their ``#``), URLs, @handles, numbers, one-letter
    words and stop words dropped."""
    text = _HANDLE.sub(" ", _URL.sub(" ", _APOSTROPHE.sub("'", text.lower())))
    stop = stop_words()
    out: list[str] = []
    pos = 0
    if _KANA.search(text):  # Japanese: kanji and katakana runs are the content words
        for m in _JA_RUN.finditer(text):
            out += [w for w in _WORD.findall(text[pos : m.start()]) if w not in stop]
            if len(m.group()) > 1 and not _HIRAGANA.fullmatch(m.group()):
                out.append(m.group())
            pos = m.end()
        out += [w for w in _WORD.findall(text[pos:]) if w not in stop]
        return out
    for m in _HAN.finditer(text):
        out += [w for w in _WORD.findall(text[pos : m.start()]) if w not in stop]
        out += [w for w in _jieba().lcut(m.group()) if len(w) > 1 and w not in stop]
        pos = m.end()
    out += [w for w in _WORD.findall(text[pos:]) if w not in stop]
    return out


@cache
def _jieba():  # type: ignore[no-untyped-def]
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def min_topic_size(n: int) -> int:
    """HDBSCAN's minimum cluster size for ``n`` fitted posts: 0.25% of them, at least 10 (small
    enough for an emerging topic of a few dozen posts to stand alone)."""
    return max(10, n // 400)


@dataclass
class TopicResult:
    """``topics``: ``topic_id, name, terms, size, centroid`` (one row per topic, sizes over all
    posts); ``post_topic``: each post's topic id (``-1``: none), ``similarity``: its cosine to
    that topic's centroid."""

    topics: pl.DataFrame
    post_topic: np.ndarray
    similarity: np.ndarray


def _empty(n: int, dim: int) -> TopicResult:
    return TopicResult(
        pl.DataFrame(
            schema={
                "topic_id": pl.Int64,
                "name": pl.String,
                "terms": pl.List(pl.String),
                "size": pl.Int64,
                "centroid": pl.List(pl.Float32),
                "floor": pl.Float32,
            }
        ),
        np.full(n, OUTLIER, dtype=np.int64),
        np.zeros(n, dtype=np.float32),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    out: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


def exact_knn(unit: np.ndarray, k: int, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows of ``unit`` (unit vectors) by cosine, itself first, and
    their cosine distances (``1 - cosine``, itself 0), as UMAP's ``precomputed_knn`` takes
    them: ``(indices, distances)``, both ``(n, k)``, nearest first. Exact, by blocks of
    ``block`` rows (a block's similarities: ``block x n`` floats)."""
    n = len(unit)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for lo in range(0, n, block):
        sim = unit[lo : lo + block] @ unit.T
        rows = np.arange(len(sim))
        sim[rows, lo + rows] = np.inf  # itself first, also beside an identical post
        near = np.argpartition(sim, n - k, axis=1)[:, n - k :]  # the k largest, unordered
        near_sim = np.take_along_axis(sim, near, axis=1)
        order = np.argsort(-near_sim, axis=1, kind="stable")
        indices[lo : lo + block] = np.take_along_axis(near, order, axis=1)
        dist = 1.0 - np.take_along_axis(near_sim, order, axis=1)
        dist[:, 0] = 0.0
        distances[lo : lo + block] = np.maximum(dist, 0.0)
    return indices, distances


@cache
def _cache_umap_jit() -> None:
    """Let numba keep UMAP's compiled functions on disk (UMAP does not ask it to, so every
    process compiled them again: seconds of each job). numba writes them beside UMAP's
    modules, or under its user-wide cache when those are read-only, and keys them by the
    source and the CPU. Where it has nowhere writable to keep them (a read-only install and no
    writable home), or cannot cache a function, UMAP compiles as before, with no error. This
    reaches into numba's dispatchers: on a numba without them, nothing changes."""
    import sys

    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - another numba: UMAP compiles as it always did
        return
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "umap" or name.startswith("umap.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(
                getattr(value, "_cache", None), NullCache
            ):
                try:
                    value.enable_caching()
                except RuntimeError:  # nowhere writable to keep it: compiled in memory
                    return


def _bertopic(texts: list[str], vectors: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:  # type: ignore[type-arg]
    """Cluster labels of the fitted posts and BERTopic's terms per cluster."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba/umap import-time notices
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.cluster import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from umap import UMAP

    _cache_umap_jit()
    neighbours = min(NEIGHBOURS, len(texts) - 1)
    model = BERTopic(
        embedding_model=None,
        umap_model=UMAP(
            n_neighbors=neighbours,
            n_components=min(REDUCED_DIMS, vectors.shape[1]),
            min_dist=0.0,
            metric="cosine",
            # measured on a full fit sample; smaller samples keep UMAP's own 500 (cheap there)
            n_epochs=UMAP_EPOCHS if len(texts) >= FIT_SAMPLE else None,
            random_state=seed,  # deterministic (and single-threaded)
            low_memory=True,
            # no search index: UMAP cannot transform new posts (never asked: new posts take
            # the nearest topic centroid)
            precomputed_knn=exact_knn(_unit(vectors), neighbours),
        ),
        hdbscan_model=HDBSCAN(min_cluster_size=min_topic_size(len(texts)), copy=True),
        vectorizer_model=CountVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        top_n_words=TERMS,
        calculate_probabilities=False,
        # anything but "english": BERTopic then only strips tabs and newlines before counting
        # words; with "english" it deletes every character outside [A-Za-z0-9 ] (Chinese text,
        # hashtags, accented letters) before our tokenizer sees the text
        language="multilingual",
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # seeded UMAP: 1 thread
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # no transform: above
        labels, _ = model.fit_transform(texts, embeddings=vectors)
    return np.asarray(labels, dtype=np.int64), model.get_topics()


def fit_topics(
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    seed: int = 0,
    sample: int = FIT_SAMPLE,
    previous: pl.DataFrame | None = None,
) -> TopicResult:
    """Topics of ``texts`` (one row of ``vectors`` each); see the module docstring."""
    n = len(texts)
    vectors = _unit(vectors) if n else np.zeros((0, 1), dtype=np.float32)
    if n < MIN_POSTS:
        return _empty(n, vectors.shape[1])
    rng = np.random.default_rng(seed)
    fit = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    fit_texts = [texts[i] for i in fit]
    try:
        labels, words = _bertopic(fit_texts, vectors[fit], seed)
    except ValueError:  # e.g. the vocabulary is empty after stop words: no topic to describe
        return _empty(n, vectors.shape[1])
    found = sorted(int(t) for t in set(labels.tolist()) if t != OUTLIER)
    if not found:
        return _empty(n, vectors.shape[1])
    centroids = _unit(np.stack([vectors[fit][labels == t].mean(0) for t in found]))
    floor = np.array(
        [np.percentile(vectors[fit][labels == t] @ centroids[k], 5) for k, t in enumerate(found)]
    )
    sim_all = np.empty(n, dtype=np.float32)
    best = np.empty(n, dtype=np.int64)
    for start in range(0, n, 50_000):
        s = vectors[start : start + 50_000] @ centroids.T
        best[start : start + 50_000] = s.argmax(1)
        sim_all[start : start + 50_000] = s.max(1)
    inside = sim_all >= floor[best]
    sizes = np.bincount(best[inside], minlength=len(found))
    terms = [[w for w, _ in words.get(t, []) if w][:TERMS] for t in found]
    keep = [k for k in range(len(found)) if sizes[k] > 0 and terms[k]]
    order = sorted(keep, key=lambda k: (-int(sizes[k]), terms[k][0]))
    new_id = _stable_ids([centroids[k] for k in order], previous)
    id_of = np.full(len(found), OUTLIER, dtype=np.int64)
    for rank, k in enumerate(order):
        id_of[k] = new_id[rank]
    post_topic = np.where(inside, id_of[best], OUTLIER)
    topics = pl.DataFrame(
        {
            "topic_id": [int(new_id[r]) for r in range(len(order))],
            "name": [" / ".join(terms[k][:3]) for k in order],
            "terms": [terms[k] for k in order],
            "size": [int(sizes[k]) for k in order],
            "centroid": [centroids[k].tolist() for k in order],
            "floor": [float(floor[k]) for k in order],
        },
        schema_overrides={
            "centroid": pl.List(pl.Float32),
            "terms": pl.List(pl.String),
            "floor": pl.Float32,
        },
    )
    return TopicResult(
        topics, post_topic.astype(np.int64), np.where(inside, sim_all, 0.0).astype(np.float32)
    )


def assign_topics(vectors: np.ndarray, topics: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Topic ids and similarities of new posts under fitted ``topics`` (``centroid`` and the
    ``floor`` each topic's posts reached when fitted): the nearest centroid when the post is at
    least as close as the floor, else the outlier id :data:`OUTLIER` (similarity 0). The
    incremental update labels new posts this way; topics are refitted by the full run."""
    n = len(vectors)
    if n == 0 or topics.is_empty():
        return np.full(n, OUTLIER, dtype=np.int64), np.zeros(n, dtype=np.float32)
    centroids = _unit(np.array(topics["centroid"].to_list(), dtype=np.float32))
    floor = (
        topics["floor"].to_numpy().astype(np.float32)
        if "floor" in topics.columns
        else np.zeros(topics.height, dtype=np.float32)
    )
    ids = topics["topic_id"].to_numpy().astype(np.int64)
    s = _unit(np.asarray(vectors, dtype=np.float32)) @ centroids.T
    best, sim = s.argmax(1), s.max(1)
    inside = sim >= floor[best]
    return np.where(inside, ids[best], OUTLIER), np.where(inside, sim, 0.0).astype(np.float32)


def _stable_ids(centroids: list[np.ndarray], previous: pl.DataFrame | None) -> list[int]:
    """Ids for topics in size order: 0, 1, ... or, given earlier topics, the id of the earlier
    topic each one matches (Hungarian assignment on cosine, at least :data:`SAME_TOPIC`)."""
    if previous is None or previous.is_empty() or not centroids:
        return list(range(len(centroids)))
    from scipy.optimize import linear_sum_assignment

    old_ids = previous["topic_id"].to_list()
    old = _unit(np.array(previous["centroid"].to_list(), dtype=np.float32))
    new = np.stack(centroids)
    if old.shape[1] != new.shape[1]:  # another encoder: nothing comparable
        return list(range(len(centroids)))
    sim = new @ old.T
    rows, cols = linear_sum_assignment(-sim)
    ids: list[int | None] = [None] * len(centroids)
    for r, c in zip(rows, cols, strict=True):
        if sim[r, c] >= SAME_TOPIC:
            ids[r] = int(old_ids[c])
    nxt = max(old_ids) + 1
    out = []
    for i in ids:
        if i is None:
            i, nxt = nxt, nxt + 1
        out.append(i)
    return out


def topic_mix(post_topics: pl.DataFrame, by: str, *, top: int = 3) -> pl.DataFrame:
    """Per ``by`` group (user or community): ``top_topics`` (ids, most posts first) and
    ``topic_shares`` (their shares of the group's posts with a topic), from ``post_topics``
    (``by``, ``topic_id``; outliers ignored)."""
    counted = (
        post_topics.filter(pl.col("topic_id") != OUTLIER)
        .group_by(by, "topic_id")
        .len("n")
        .with_columns((pl.col("n") / pl.col("n").sum().over(by)).alias("share"))
        .sort([by, "n", "topic_id"], descending=[False, True, False])
    )
    return counted.group_by(by, maintain_order=True).agg(
        pl.col("topic_id").head(top).alias("top_topics"),
        pl.col("share").head(top).round(4).alias("topic_shares"),
    )
