"""A synthetic social network with planted communities, for the demo, tests and benchmarks.

Each planted community has its own topic vocabulary and hashtags; follows stay mostly inside
communities (``mixing`` is the share that goes to a random community); degrees are heavy-tailed
(a few influencers attract most follows); replies/reposts/mentions/quotes/likes carry timestamps;
some posts are in other languages and carry emoji; some users are inactive (no posts, few edges).
Everything is vectorised numpy/polars and deterministic for a given seed.

Posts span :data:`SPAN_DAYS` days from 2025-01-01. Some carry an everyday mood word (VADER
scores them), so mood has a baseline. With ``event=True`` (the default) one **planted event**
happens: from day :data:`EVENT_DAY` for :data:`EVENT_DAYS` days, a share of community 0's
active members post about a new topic (words used nowhere else, ``#recallgate``) in angry
words; outside the event every period is quiet (steady volume and mood). The event's truth is in
``SyntheticNetwork.events`` so that tests and benchmarks can score detection latency and false
alerts.

Example:
    >>> net = generate(SyntheticConfig(n_users=500, seed=1))
    >>> net.users.height
    500
    >>> write_dataset(net, "out/demo")                       # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from graphsona.errors import ConfigError
from graphsona.loaders._vocab import (
    COMMON,
    EMOJI,
    EVENT_ANGRY,
    EVENT_TAG,
    EVENT_TOPIC,
    FOREIGN,
    MOOD_NEGATIVE,
    MOOD_POSITIVE,
    SYLLABLES,
    THEMES,
)
from graphsona.loaders.contract import ordinal_post_ids

__all__ = [
    "EVENT_DAY",
    "EVENT_DAYS",
    "SPAN_DAYS",
    "SyntheticConfig",
    "SyntheticNetwork",
    "generate",
    "write_dataset",
]

KINDS = ("reply", "repost", "mention", "quote", "like")
KIND_P = (0.3, 0.25, 0.2, 0.1, 0.15)
_T0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
SPAN_DAYS = 365
_SPAN = SPAN_DAYS * 24 * 3600
EVENT_DAY = 300  # the planted event starts this many days after 2025-01-01 ...
EVENT_DAYS = 3  # ... and lasts this many days


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the generator (all keyword, all with defaults).

    Args:
        n_users: number of users.
        n_communities: planted communities (themes repeat with made-up words past 14).
        mixing: share of follows pointing to a random community (0 = perfectly separated).
        avg_follows: mean out-degree (log-normal spread; inactive users follow at most 2).
        posts_per_user: mean posts per active user (Poisson, scaled by a per-user activity).
        text_mixing: share of topic words drawn from a random other community.
        interactions_per_user: mean interactions per active user.
        inactive_fraction: users with no posts, no interactions and few follows.
        multilingual_fraction: posts written with Spanish/German/French function words.
        label_fraction: users whose ``label_topic`` (their community's theme) is known; the
            rest are null, for the supervised heads to predict. label_noise: share of known
            labels replaced by a random theme.
        mood_rate: share of ordinary posts carrying one everyday mood word (2 in 3 positive).
        event: plant the event (module docstring); event_share: share of community 0's active
            members who post about it (1 to 3 posts each).
        seed: everything is a function of the config, seed included.
    """

    n_users: int = 2000
    n_communities: int = 8
    mixing: float = 0.1
    avg_follows: float = 15.0
    posts_per_user: float = 6.0
    text_mixing: float = 0.15
    interactions_per_user: float = 5.0
    inactive_fraction: float = 0.05
    multilingual_fraction: float = 0.05
    label_fraction: float = 0.3
    label_noise: float = 0.1
    mood_rate: float = 0.2
    event: bool = True
    event_share: float = 0.3
    seed: int = 0

    def check(self) -> None:
        errors = []
        if self.n_users < 2:
            errors.append(f"n_users must be >= 2 (got {self.n_users})")
        if not 1 <= self.n_communities <= self.n_users:
            errors.append(f"n_communities must be in [1, n_users] (got {self.n_communities})")
        for name in (
            "mixing",
            "text_mixing",
            "inactive_fraction",
            "multilingual_fraction",
            "label_fraction",
            "label_noise",
            "mood_rate",
            "event_share",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                errors.append(f"{name} must be in [0, 1] (got {v})")
        for name in ("avg_follows", "posts_per_user", "interactions_per_user"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if errors:
            raise ConfigError("invalid SyntheticConfig: " + "; ".join(errors))


@dataclass
class SyntheticNetwork:
    """Frames in the data contract's shape; ``users.planted_community`` is the ground truth;
    ``events``: the planted event(s), ``community``, ``start``, ``end``, ``posts`` (how many),
    ``terms`` (its topic words)."""

    users: pl.DataFrame
    posts: pl.DataFrame
    follows: pl.DataFrame
    interactions: pl.DataFrame
    community_themes: list[str]
    events: pl.DataFrame


def _theme_words(k: int, rng: np.random.Generator) -> tuple[str, list[str]]:
    names = list(THEMES)
    if k < len(names):
        return names[k], THEMES[names[k]]
    # Past the real themes: pronounceable made-up words, unique to this community.
    words = ["".join(rng.choice(SYLLABLES, size=3)) + str(k) for _ in range(20)]
    return f"topic{k}", words


def _sample_members(
    comm_of_target: np.ndarray,
    members: list[np.ndarray],
    cdfs: list[np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """For each wanted community, draw one member with probability proportional to popularity."""
    out = np.empty(len(comm_of_target), dtype=np.int64)
    order = np.argsort(comm_of_target, kind="stable")
    bounds = np.searchsorted(comm_of_target[order], np.arange(len(members) + 1))
    for c in range(len(members)):
        idx = order[bounds[c] : bounds[c + 1]]
        if len(idx):
            pick = np.searchsorted(cdfs[c], rng.random(len(idx)) * cdfs[c][-1], side="right")
            out[idx] = members[c][np.minimum(pick, len(members[c]) - 1)]
    return out


def generate(config: SyntheticConfig | None = None) -> SyntheticNetwork:
    """Generate a network; deterministic for a given config (seed included)."""
    cfg = config or SyntheticConfig()
    cfg.check()
    rng = np.random.default_rng(cfg.seed)
    n, k = cfg.n_users, cfg.n_communities

    # Communities of unequal size (Dirichlet), every community non-empty.
    share = rng.dirichlet(np.full(k, 3.0))
    comm = np.concatenate([np.arange(k), rng.choice(k, size=n - k, p=share)])
    rng.shuffle(comm)
    inactive = rng.random(n) < cfg.inactive_fraction
    activity = np.where(inactive, 0.0, rng.lognormal(0.0, 0.6, n))
    popularity = rng.pareto(1.6, n) + 1.0  # heavy tail: a few influencers
    members = [np.flatnonzero(comm == c) for c in range(k)]
    cdfs = [np.cumsum(popularity[m]) for m in members]

    # Follows: out-degree log-normal; targets in own community unless mixed.
    outdeg = np.maximum(1, rng.lognormal(np.log(max(cfg.avg_follows, 1e-9)) - 0.32, 0.8, n)).astype(
        np.int64
    )
    outdeg = (
        np.where(inactive, rng.integers(0, 3, n), outdeg)
        if cfg.avg_follows > 0
        else np.zeros(n, np.int64)
    )
    src = np.repeat(np.arange(n), outdeg)
    mixed = rng.random(len(src)) < cfg.mixing
    tcomm = np.where(mixed, rng.integers(0, k, len(src)), comm[src])
    dst = _sample_members(tcomm, members, cdfs, rng)
    keep = src != dst
    # Dedupe (src, dst) through one int64 key: a 1-D sort, far faster than unique(axis=0).
    key = np.sort(src[keep].astype(np.int64) * n + dst[keep])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
    src, dst = key // n, key % n
    f_time = _T0 + rng.integers(0, _SPAN // 2, len(src))

    user_ids = pl.Series("user_id", [f"u{i:07d}" for i in range(n)]) if n < 10**7 else None
    if user_ids is None:  # pragma: no cover - guard for absurd sizes
        raise ConfigError("n_users must be < 10,000,000")
    ids = user_ids  # gathered with Series.gather: no Python string objects

    themes = [_theme_words(c, rng) for c in range(k)]
    # Drawn from a separate generator so adding labels leaves every other column unchanged.
    lrng = np.random.default_rng([cfg.seed, 1])
    noisy = lrng.random(n) < cfg.label_noise
    label_c = np.where(noisy, lrng.integers(0, k, n), comm)
    labelled = lrng.random(n) < cfg.label_fraction
    users = pl.DataFrame(
        {
            "user_id": user_ids,
            "handle": [f"@{themes[c][0][:5]}_{i}" for i, c in enumerate(comm)],
            "bio": pl.Series(
                [
                    None if off else f"into {themes[c][0]}"
                    for c, off in zip(comm, inactive, strict=True)
                ],
                dtype=pl.String,
            ),
            "created_at": pl.from_epoch(
                pl.Series(_T0 - rng.integers(0, 3 * _SPAN, n)), "s"
            ).dt.replace_time_zone("UTC"),
            "planted_community": comm.astype(np.int64),
            "label_topic": pl.Series(
                [themes[c][0] if keep else None for c, keep in zip(label_c, labelled, strict=True)],
                dtype=pl.String,
            ),
        }
    )

    posts = _posts(cfg, rng, comm, activity, themes, ids)
    posts, events = _plant_event(cfg, posts, comm, activity, ids)
    interactions = _interactions(cfg, rng, activity, src, dst, n, popularity, ids)
    follows = pl.DataFrame(
        {
            "src": ids.gather(src),
            "dst": ids.gather(dst),
            "created_at": pl.from_epoch(pl.Series(f_time), "s").dt.replace_time_zone("UTC"),
        }
    )
    return SyntheticNetwork(users, posts, follows, interactions, [t[0] for t in themes], events)


_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "community": pl.Int64(),
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "posts": pl.Int64(),
    "terms": pl.List(pl.String),
}


def _with_ids(df: pl.DataFrame) -> pl.DataFrame:
    df = df.sort("created_at", "user_id", maintain_order=True)
    return df.with_columns(ordinal_post_ids()).select(
        "post_id", "user_id", "text", "created_at", "lang"
    )


def _plant_event(
    cfg: SyntheticConfig,
    posts: pl.DataFrame,
    comm: np.ndarray,
    activity: np.ndarray,
    ids: pl.Series,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mood words in ordinary posts, and the event's posts (its own generator: the rest of the
    network is the same with or without them)."""
    rng = np.random.default_rng([cfg.seed, 2])
    m = posts.height
    mood = rng.random(m) < cfg.mood_rate
    positive = rng.random(m) < 2 / 3
    word = np.where(
        positive,
        np.array(MOOD_POSITIVE, dtype=object)[rng.integers(0, len(MOOD_POSITIVE), m)],
        np.array(MOOD_NEGATIVE, dtype=object)[rng.integers(0, len(MOOD_NEGATIVE), m)],
    )
    posts = posts.with_columns(
        pl.when(pl.Series(mood))
        .then(pl.col("text") + " " + pl.Series(word.tolist(), dtype=pl.String))
        .otherwise(pl.col("text"))
        .alias("text")
    )
    events = pl.DataFrame(schema=_EVENT_SCHEMA)
    who = np.flatnonzero((comm == 0) & (activity > 0))
    who = who[rng.random(len(who)) < cfg.event_share] if cfg.event else who[:0]
    if len(who):
        n_each = rng.integers(1, 4, len(who))
        owner = np.repeat(who, n_each)
        k = len(owner)
        start = _T0 + EVENT_DAY * 86400
        t = start + rng.integers(0, EVENT_DAYS * 86400, k)
        topic = np.array(EVENT_TOPIC, dtype=object)
        angry = np.array(EVENT_ANGRY, dtype=object)
        common = np.array(COMMON, dtype=object)
        texts = [
            " ".join(
                [
                    *rng.choice(topic, rng.integers(2, 4)),
                    *rng.choice(angry, rng.integers(1, 3)),
                    *rng.choice(common, rng.integers(2, 5)),
                    *([EVENT_TAG] if rng.random() < 0.6 else []),
                ]
            )
            for _ in range(k)
        ]
        extra = pl.DataFrame(
            {
                "user_id": ids.gather(owner),
                "text": pl.Series(texts, dtype=pl.String),
                "created_at": pl.from_epoch(pl.Series(t, dtype=pl.Int64), "s").dt.replace_time_zone(
                    "UTC"
                ),
                "lang": pl.Series(["en"] * k, dtype=pl.String),
            }
        )
        posts = pl.concat([posts.drop("post_id"), extra.cast(posts.drop("post_id").schema)])
        posts = _with_ids(posts)
        events = pl.DataFrame(
            {
                "community": [0],
                "start": [datetime.fromtimestamp(start, UTC)],
                "end": [datetime.fromtimestamp(start + EVENT_DAYS * 86400, UTC)],
                "posts": [k],
                "terms": [[*EVENT_TOPIC, EVENT_TAG]],
            },
            schema=_EVENT_SCHEMA,
        )
    return posts, events


def _posts(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    comm: np.ndarray,
    activity: np.ndarray,
    themes: list[tuple[str, list[str]]],
    ids: pl.Series,
) -> pl.DataFrame:
    n_posts = rng.poisson(cfg.posts_per_user * activity)
    owner = np.repeat(np.arange(len(comm)), n_posts)
    m = len(owner)
    # One vocabulary: common words, then each community's topic words, hashtags, foreign words.
    vocab: list[str] = list(COMMON)
    topic_off = []
    for _name, topic_words in themes:
        topic_off.append(len(vocab))
        vocab += topic_words
    tag_off = len(vocab)
    vocab += [f"#{name}" for name, _ in themes]
    foreign_off = {}
    for code, function_words in FOREIGN.items():
        foreign_off[code] = (len(vocab), len(function_words))
        vocab += function_words
    emoji_off = len(vocab)
    vocab += EMOJI
    topic_off_a = np.array(topic_off)
    topic_len = np.array([len(w) for _, w in themes])

    max_len = 14
    length = rng.integers(6, max_len + 1, m)
    pc = comm[owner]
    other = rng.integers(0, len(themes), (m, max_len))
    word_comm = np.where(rng.random((m, max_len)) < cfg.text_mixing, other, pc[:, None])
    # Zipf-like preference inside a topic: low ranks are the topic's signature words.
    rank = np.minimum(
        (3 * rng.pareto(1.0, (m, max_len))).astype(np.int64), topic_len[word_comm] - 1
    )
    topic_idx = topic_off_a[word_comm] + rank
    common_idx = rng.integers(0, len(COMMON), (m, max_len))
    idx = np.where(rng.random((m, max_len)) < 0.45, common_idx, topic_idx)
    langs = np.array(["en", *FOREIGN], dtype=object)
    lang = np.where(rng.random(m) < cfg.multilingual_fraction, rng.integers(1, len(langs), m), 0)
    for li, lg in enumerate(langs[1:], start=1):
        off, cnt = foreign_off[lg]
        rows = lang == li
        swap = rows[:, None] & (idx < len(COMMON))
        idx = np.where(swap, off + rng.integers(0, cnt, (m, max_len)), idx)
    vocab_s = pl.Series(vocab, dtype=pl.String)
    tag = np.where(rng.random(m) < 0.6, tag_off + pc, -1)
    emoji = np.where(rng.random(m) < 0.08, emoji_off + rng.integers(0, len(EMOJI), m), -1)
    present = np.concatenate(
        [np.arange(max_len)[None, :] < length[:, None], (tag >= 0)[:, None], (emoji >= 0)[:, None]],
        1,
    )
    idx = np.concatenate([idx, tag[:, None], emoji[:, None]], 1)
    cols = [
        vocab_s.gather(np.where(present[:, j], idx[:, j], 0)).alias(f"w{j}")
        for j in range(idx.shape[1])
    ]
    words = pl.DataFrame(cols).with_columns(
        pl.when(pl.Series(present[:, j])).then(pl.col(f"w{j}")).otherwise(None).alias(f"w{j}")
        for j in range(idx.shape[1])
    )
    texts = (
        words.select(pl.concat_str(pl.all(), separator=" ", ignore_nulls=True).alias("text"))[
            "text"
        ]
        if m
        else pl.Series("text", [], dtype=pl.String)
    )
    t = _T0 + rng.integers(0, _SPAN, m)
    df = pl.DataFrame(
        {
            "user_id": ids.gather(owner),
            "text": texts,
            "created_at": pl.from_epoch(pl.Series(t, dtype=pl.Int64), "s").dt.replace_time_zone(
                "UTC"
            ),
            "lang": pl.Series(langs[lang], dtype=pl.String),
        }
    )
    return _with_ids(df)


def _interactions(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    activity: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    popularity: np.ndarray,
    ids: pl.Series,
) -> pl.DataFrame:
    n_int = rng.poisson(cfg.interactions_per_user * activity)
    who = np.repeat(np.arange(n), n_int)
    deg = np.bincount(src, minlength=n)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])  # src is sorted (np.unique on pairs)
    has = deg[who] > 0
    # Mostly towards someone they follow, else anyone (by popularity).
    to_followee = has & (rng.random(len(who)) < 0.85)
    pick = start[who] + (rng.random(len(who)) * np.maximum(deg[who], 1)).astype(np.int64)
    cdf = np.cumsum(popularity)
    anyone = np.minimum(np.searchsorted(cdf, rng.random(len(who)) * cdf[-1], side="right"), n - 1)
    target = np.where(
        to_followee, dst[np.minimum(pick, max(len(dst) - 1, 0))] if len(dst) else anyone, anyone
    )
    keep = target != who
    who, target = who[keep], target[keep]
    kind = np.array(KINDS, dtype=object)[rng.choice(len(KINDS), len(who), p=KIND_P)]
    t = _T0 + rng.integers(0, _SPAN, len(who))
    return pl.DataFrame(
        {
            "src": ids.gather(who),
            "dst": ids.gather(target),
            "kind": pl.Series(kind, dtype=pl.String),
            "weight": np.ones(len(who)),
            "created_at": pl.from_epoch(pl.Series(t, dtype=pl.Int64), "s").dt.replace_time_zone(
                "UTC"
            ),
        }
    )


def write_dataset(net: SyntheticNetwork, out: str | Path, fmt: str = "parquet") -> Path:
    """Write the network as a dataset directory (``users``, ``posts``, ``follows``, ``interactions``)."""
    if fmt not in ("parquet", "csv", "jsonl"):
        raise ConfigError(f"fmt must be one of 'parquet', 'csv', 'jsonl' (got {fmt!r})")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("users", "posts", "follows", "interactions"):
        df: pl.DataFrame = getattr(net, name)
        path = root / f"{name}.{fmt}"
        if fmt == "parquet":
            df.write_parquet(path)
        elif fmt == "csv":
            df.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ")).write_csv(path)
        else:
            df.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ")).write_ndjson(
                path
            )
    return root
