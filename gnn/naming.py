"""Human-readable community names from what members write (class-based TF-IDF).

Each community's posts form one "class document"; a term's weight in a community is
``tf(term, community) / words(community) * log(1 + mean_words_per_community / tf(term, all))``
(the c-TF-IDF of BERTopic). A term counts only when at least ``min_members`` distinct members
of that community use it, so one prolific person's vocabulary never names a community. Stop
words (:func:`graphsona.text.topics.stop_words`: scikit-learn's English list, common function
words of a few other languages, Chinese function words) are ignored; hashtags are ranked the same way and reported separately.
Posts with Chinese or Japanese text are cut into words first (:func:`graphsona.text.topics.tokenize`:
``jieba`` for Chinese, script runs for Japanese), so a community of Chinese writers is named in
Chinese words (two-character words count), not in whole sentences.

A name must be *distinctive*, not just frequent: with two or more communities a term names one
only when its rate there is at least :data:`MIN_LIFT` times its rate over all posts. Words
used everywhere at about the same rate ("using", "based", "data" in a network of paper
titles) are frequent in every community, and c-TF-IDF alone still ranked them first where a
community's own vocabulary was spread over many words.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from graphsona.text.topics import (
    APOSTROPHE_PATTERN,
    HANDLE_PATTERN,
    URL_PATTERN,
    WORD_PATTERN,
    stop_words,
    tokenize,
)

__all__ = ["MIN_LIFT", "name_communities"]

MIN_LIFT = 1.5  # a naming term is used at least this much more in the community than overall
# Han and kana: text written without spaces between words (cut by graphsona.text.topics.tokenize)
CJK = r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]"


def _stop_words() -> list[str]:
    return sorted(stop_words())


def _ctfidf(tokens: pl.DataFrame, min_members: int) -> pl.DataFrame:
    """tokens: community, member, term -> community, term, score (terms used by >= min_members)."""
    per = tokens.group_by("community", "term").agg(
        pl.len().alias("tf"), pl.col("member").n_unique().alias("members")
    )
    words = tokens.group_by("community").len("words")
    total = tokens.group_by("term").len("tf_all")
    mean_words = words["words"].mean() or 1.0
    all_words = max(tokens.height, 1)
    scored = (
        per.filter(pl.col("members") >= min_members)
        .join(words, on="community")
        .join(total, on="term")
        .with_columns(
            (pl.col("tf") / pl.col("words") * (1.0 + mean_words / pl.col("tf_all")).log()).alias(
                "score"
            ),
            ((pl.col("tf") / pl.col("words")) / (pl.col("tf_all") / all_words)).alias("lift"),
        )
    )
    if words.height >= 2:  # with one community every term's lift is 1: nothing to tell apart
        scored = scored.filter(pl.col("lift") >= MIN_LIFT)
    return scored.drop("lift")


def name_communities(
    membership: np.ndarray,
    user_ids: list[str],
    posts: pl.DataFrame,
    *,
    influence: np.ndarray | None = None,
    top_terms: int = 6,
    min_members: int = 3,
    top_members: int = 5,
) -> pl.DataFrame:
    """One row per community: ``community_id, name, description, terms, hashtags, size, top_members``.

    Args:
        membership: community of each user, aligned with ``user_ids``.
        posts: ``user_id, text``.
        influence: optional score per user (aligned); ranks ``top_members`` (else by post count).
    """
    users = pl.DataFrame({"user_id": user_ids, "community": membership.astype(np.int64)})
    if influence is not None:
        users = users.with_columns(pl.Series("influence", np.asarray(influence, dtype=np.float64)))
    text = posts.select("user_id", "text").join(
        users.select("user_id", "community").with_row_index("member"), on="user_id"
    )
    # one row per (post, term): tens of millions at 1M users, so the member is a small integer
    # rather than the user id string
    rows = text.select("member", pl.col("community").cast(pl.Int32), "text")
    cjk = pl.col("text").str.contains(CJK)
    tokens = (
        rows.filter(~cjk)
        .with_columns(
            pl.col("text")
            .str.to_lowercase()
            .str.replace_all(APOSTROPHE_PATTERN, "'")
            .str.replace_all(URL_PATTERN, " ")
            .str.replace_all(HANDLE_PATTERN, " ")
            .str.extract_all(WORD_PATTERN)
            .alias("term")
        )
        .explode("term")
        .drop_nulls("term")
        .filter(~pl.col("term").is_in(_stop_words()) & (pl.col("term").str.len_chars() > 2))
        .select("community", "member", "term")
    )
    with_cjk = rows.filter(cjk)
    if with_cjk.height:  # Chinese and Japanese: no spaces between words, cut into words first
        words = with_cjk.with_columns(
            pl.Series(
                "term", [tokenize(t) for t in with_cjk["text"].to_list()], dtype=pl.List(pl.String)
            )
        ).explode("term")
        keep = pl.col("term").str.contains(CJK) | (pl.col("term").str.len_chars() > 2)
        tokens = pl.concat([tokens, words.drop_nulls("term").filter(keep).select(tokens.columns)])
    scored = _ctfidf(tokens, min_members)
    words = scored.filter(~pl.col("term").str.starts_with("#"))
    tags = scored.filter(pl.col("term").str.starts_with("#"))

    def ranked(frame: pl.DataFrame, n: int, alias: str) -> pl.DataFrame:
        return (
            frame.sort(["community", "score", "term"], descending=[False, True, False])
            .group_by("community", maintain_order=True)
            .agg(pl.col("term").head(n).alias(alias))
        )

    activity = text.group_by("user_id").len("n_posts")
    members = users.join(activity, on="user_id", how="left").with_columns(
        pl.col("n_posts").fill_null(0)
    )
    key = ["influence", "n_posts"] if influence is not None else ["n_posts"]
    top = (
        members.sort(
            ["community", *key, "user_id"], descending=[False] + [True] * len(key) + [False]
        )
        .group_by("community", maintain_order=True)
        .agg(pl.col("user_id").head(top_members).alias("top_members"), pl.len().alias("size"))
    )
    out = (
        top.join(ranked(words, top_terms, "terms"), on="community", how="left")
        .join(ranked(tags, 3, "hashtags"), on="community", how="left")
        .with_columns(pl.col("terms").fill_null([]), pl.col("hashtags").fill_null([]))
        .sort("community")
    )
    names, descriptions = [], []
    for row in out.iter_rows(named=True):
        terms, hashtags = row["terms"], row["hashtags"]
        name = (
            " · ".join(terms[:3])
            if terms
            else (hashtags[0] if hashtags else f"community {row['community']}")
        )
        names.append(name)
        descriptions.append(
            f"{row['size']} members writing about {', '.join(terms) or 'various topics'}"
            + (f"; hashtags {' '.join(hashtags)}" if hashtags else "")
            + f"; most influential: {', '.join(row['top_members'])}"
        )
    return (
        out.rename({"community": "community_id"})
        .with_columns(pl.Series("name", names), pl.Series("description", descriptions))
        .select("community_id", "name", "description", "terms", "hashtags", "size", "top_members")
    )
