"""Alerts: change points in the series, with the evidence an analyst needs to act on them.

Two kinds, each from one residual series per group (``ruptures``' PELT, through ``KernelCPD``
with the linear kernel, finds where its mean changes):

* ``emerging_topic`` (per topic): the volume residual ``(v - b) / sqrt(b + 1)``, ``b`` the
  topic's baseline volume per bucket (the mean over its buckets with the busiest tenth left out,
  so the burst itself does not raise the bar; used to find the segments). A segment alerts when
  it holds at least :data:`MIN_POSTS` posts, at least :data:`MIN_RISE` times the rate of the
  rest of the series, and the exact Poisson tail probability of so many posts at that rate is
  at most that of a normal z of :data:`Z_ALERT`.
* ``sentiment_swing`` (per community): the binomial residual of the negative posts
  ``(neg - p n) / sqrt(p (1 - p) n)``, ``p`` the community's share of negative posts outside
  its outlying buckets. A segment alerts with at least :data:`MIN_POSTS` scored posts, a share
  at least :data:`MIN_SWING` above the rest of the series', and an exact binomial tail at the
  same z. A segment covering the whole series is never a change. Only rises in negativity alert:
  this is crisis early warning; a community cheering up is in the series, not an alert.

:data:`Z_ALERT` is 6, not the textbook 5, and the tails are exact: PELT picks the most deviant
segments, so their scores are maxima over many candidate windows, and the normal
approximation of small counts overstated them; with both, the quiet synthetic years raised a
false alert about once per six networks (BENCHMARKS.md).

PELT's penalty is ``PENALTY_PER_LOG * log(T)`` for ``T`` buckets, on residuals of unit variance
(BIC-like, on the conservative side); the z-score and size filters then keep only changes an
analyst would call real. Measured on the synthetic planted event and its quiet periods in
BENCHMARKS.md ("Monitoring").

Each alert carries its evidence: the window, its terms (the words most distinctive of the
alert's posts against all posts, used by at least :data:`TERM_USERS` of its authors: an event
too small to be a topic of its own still shows its words), its topics, sample posts (the topic's most typical posts, or the most negative
ones), the users driving it (most posts in the window, then influence), the communities or
topics involved, a severity (``high`` at z >= 10, ``medium`` at z >= 7, else ``low``) and a
one-line summary. Alert ids hash the kind, the group and the window's start: a rerun on the same
data raises the same alerts with the same ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from graphsona.monitor.series import TIME, check_bucket, series

__all__ = [
    "ALERT_SCHEMA",
    "MIN_POSTS",
    "MIN_RISE",
    "MIN_SWING",
    "PENALTY_PER_LOG",
    "Z_ALERT",
    "detect_alerts",
    "no_topics",
    "segments",
]

Z_ALERT = 6.0
MIN_POSTS = 10
MIN_RISE = 2.0
MIN_SWING = 0.15
PENALTY_PER_LOG = 4.0
SAMPLES = 3
DRIVERS = 5
TERMS = 8
TERM_USERS = 3
BACKGROUND = 20_000

ALERT_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "kind": pl.String(),
    "community_id": pl.Int64(),
    "topic_id": pl.Int64(),
    "window_start": TIME,
    "window_end": TIME,
    "posts": pl.Int64(),
    "baseline": pl.Float64(),
    "observed": pl.Float64(),
    "score": pl.Float64(),
    "severity": pl.String(),
    "terms": pl.List(pl.String),
    "sample_posts": pl.List(pl.String),
    "sample_texts": pl.List(pl.String),
    "drivers": pl.List(pl.String),
    "communities": pl.List(pl.Int64),
    "topics": pl.List(pl.Int64),
    "summary": pl.String(),
}


def no_topics() -> pl.DataFrame:
    """The topics frame :func:`detect_alerts` takes, empty (a run without topics)."""
    return pl.DataFrame(
        schema={"topic_id": pl.Int64, "name": pl.String, "terms": pl.List(pl.String)}
    )


def segments(residual: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` segments of constant mean in ``residual`` (PELT, l2 cost)."""
    n = len(residual)
    if n < 4 or not np.any(residual):
        return [(0, n)] if n else []
    import ruptures

    # the linear kernel's cost is the l2 cost; KernelCPD runs PELT in C (ruptures.Pelt's Python
    # loop took ~1 s per year of daily buckets, minutes for hourly ones)
    algo = ruptures.KernelCPD(kernel="linear", min_size=1).fit(residual.reshape(-1, 1))
    ends = [int(e) for e in algo.predict(pen=PENALTY_PER_LOG * np.log(n))]
    starts = [0, *ends[:-1]]
    return list(zip(starts, ends, strict=True))


def _z(r: np.ndarray, a: int, b: int) -> float:
    return float(r[a:b].sum() / np.sqrt(b - a))


def _volume_residual(v: np.ndarray) -> tuple[np.ndarray, float]:
    s = np.sort(v)
    base = float(s[: max(1, int(np.ceil(0.9 * len(s))))].mean())
    return (v - base) / np.sqrt(base + 1.0), base


def _negative_residual(neg: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float]:
    def resid(p: float) -> np.ndarray:
        var = p * (1 - p) * n
        return np.where(n > 0, (neg - p * n) / np.sqrt(np.maximum(var, 1e-12)), 0.0)

    p = float(np.clip(neg.sum() / max(n.sum(), 1), 0.02, 0.98))
    calm = np.abs(resid(p)) <= 3
    if n[calm].sum() > 0:
        p = float(np.clip(neg[calm].sum() / n[calm].sum(), 0.02, 0.98))
    return resid(p), p


@dataclass(frozen=True)
class _Found:
    kind: str
    group: int
    start: datetime
    end: datetime
    baseline: float
    observed: float
    score: float


def _alerting(
    kind: str, v: np.ndarray, neg: np.ndarray, a: int, b: int
) -> tuple[float, float, float] | None:
    """Segment ``[a, b)`` against the rest of the series: its observed level (posts per bucket,
    or share negative), the rest's level, and z, when it alerts; else None.

    z comes from the exact tail probability of the segment's count at the rest's rate (Poisson
    for volume, binomial for negative posts), as a one-sided normal z: the normal
    approximation overstates small counts (4 negative posts of 12 where 3% are usual is z = 8
    by it, a tail probability of 2e-4 exactly). The rest's rate is smoothed by half a post, so
    a topic with no post before its burst still has a finite baseline.
    """
    from scipy.stats import binom, norm, poisson

    size = float(v[a:b].sum())
    rest = np.ones(len(v), dtype=bool)
    rest[a:b] = False
    if size < MIN_POSTS or not rest.any():  # the whole series is no change
        return None
    if kind == "emerging_topic":
        observed = size / (b - a)
        base = (float(v[rest].sum()) + 0.5) / int(rest.sum())
        if observed < MIN_RISE * base:
            return None
        p = float(poisson.sf(size - 1, base * (b - a)))
    else:
        observed = float(neg[a:b].sum() / size)
        base = (float(neg[rest].sum()) + 0.5) / (float(v[rest].sum()) + 1.0)
        if observed - base < MIN_SWING:
            return None
        p = float(binom.sf(neg[a:b].sum() - 1, size, base))
    z = float(min(norm.isf(max(p, 1e-300)), 40.0))
    return (observed, base, z) if z >= Z_ALERT else None


def _scan(frame: pl.DataFrame, by: str, kind: str, step: timedelta) -> list[_Found]:
    found: list[_Found] = []
    for (gid,), g in frame.group_by([by], maintain_order=True):
        times = g["bucket_start"].to_list()
        if kind == "emerging_topic":
            v = g["volume"].to_numpy().astype(np.float64)
            neg = np.zeros_like(v)
            r, _ = _volume_residual(v)
        else:
            v = g["scored"].to_numpy().astype(np.float64)
            neg = g["negative"].to_numpy().astype(np.float64)
            r, _ = _negative_residual(neg, v)
        # adjacent alerting segments are one alert (PELT splits a big burst at each step of
        # its level: 82, 73, 63 posts a day are three segments of one event)
        runs: list[tuple[int, int, tuple[float, float, float]]] = []
        for a, b in segments(r):
            hit = _alerting(kind, v, neg, a, b) if _z(r, a, b) > 0 else None
            if hit is None:
                continue
            if runs and runs[-1][1] == a:
                start, _, best = runs[-1]
                runs[-1] = (start, b, max(best, hit, key=lambda h: h[2]))
            else:
                runs.append((a, b, hit))
        for a, b, best in runs:
            # the joined run judged as one; should it not pass as one (it always has so far),
            # its strongest part speaks for it
            observed, rest, z = _alerting(kind, v, neg, a, b) or best
            found.append(_Found(kind, int(gid), times[a], times[b - 1] + step, rest, observed, z))
    return found


def _step(bucket: str) -> timedelta:
    n, unit = int(bucket[:-1]), bucket[-1]
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})


def _severity(z: float) -> str:
    return "high" if z >= 10 else "medium" if z >= 7 else "low"


def _drivers(window: pl.DataFrame, influence: pl.DataFrame) -> list[str]:
    ranked = (
        window.group_by("user_id")
        .len("n")
        .join(influence.select("user_id", "influence"), on="user_id", how="left")
        .sort(["n", "influence", "user_id"], descending=[True, True, False], nulls_last=True)
    )
    return list(ranked["user_id"].head(DRIVERS).to_list())


def _top(window: pl.DataFrame, col: str, k: int = 3, skip: int | None = None) -> list[int]:
    counted = window.drop_nulls(col)
    if skip is not None:
        counted = counted.filter(pl.col(col) != skip)
    ranked = counted.group_by(col).len("n").sort(["n", col], descending=[True, False])
    return [int(x) for x in ranked[col].head(k).to_list()]


def _counts(frame: pl.DataFrame) -> pl.DataFrame:
    from graphsona.text.topics import tokenize

    return (
        frame.select(
            "user_id",
            pl.col("text").map_elements(tokenize, return_dtype=pl.List(pl.String)).alias("term"),
        )
        .explode("term")
        .drop_nulls("term")
    )


def _window_terms(window: pl.DataFrame, background: pl.DataFrame) -> list[str]:
    """The terms of ``window``'s posts most over-used against ``background`` (log-odds lift,
    smoothed), each used by at least :data:`TERM_USERS` authors."""
    if "text" not in window.columns or window.is_empty():
        return []
    mine = (
        _counts(window)
        .group_by("term")
        .agg(pl.len().alias("n"), pl.col("user_id").n_unique().alias("users"))
    )
    base = _counts(background).group_by("term").len("b")
    total_w, total_b = max(int(mine["n"].sum()), 1), max(int(base["b"].sum()), 1)
    ranked = (
        mine.filter(pl.col("users") >= TERM_USERS)
        .join(base, on="term", how="left")
        .with_columns(pl.col("b").fill_null(0))
        .with_columns(
            (((pl.col("n") + 0.5) / total_w) / ((pl.col("b") + 0.5) / total_b)).log().alias("lift")
        )
        .filter(pl.col("lift") > np.log(2.0))
        .with_columns((pl.col("lift") * pl.col("n").log1p()).alias("score"))
        .sort(["score", "term"], descending=[True, False])
    )
    return list(ranked["term"].head(TERMS).to_list())


def _evidence(
    f: _Found,
    posts: pl.DataFrame,
    topics: pl.DataFrame,
    influence: pl.DataFrame,
    background: pl.DataFrame,
) -> dict[str, object]:
    in_window = posts.filter((pl.col("created_at") >= f.start) & (pl.col("created_at") < f.end))
    terms_of = dict(zip(topics["topic_id"].to_list(), topics["terms"].to_list(), strict=True))
    name_of = dict(zip(topics["topic_id"].to_list(), topics["name"].to_list(), strict=True))
    if f.kind == "emerging_topic":
        window = in_window.filter(pl.col("topic_id") == f.group)
        order = "similarity" if "similarity" in window.columns else "created_at"
        samples = window.sort([order, "post_id"], descending=[order == "similarity", False])
        terms = _window_terms(window, background) or list(terms_of.get(f.group, []))
        communities = _top(window, "community_id")
        topic_ids = [f.group]
        community, topic = None, f.group
        summary = (
            f"topic {f.group} ({name_of.get(f.group, '?')}) rose to {f.observed:.1f} posts per "
            f"bucket from {f.baseline:.1f}, about {', '.join(terms[:3])}, mostly in "
            f"communities {communities}"
        )
    else:
        window = in_window.filter(
            (pl.col("community_id") == f.group) & (pl.col("sentiment_label") == "negative")
        )
        samples = window.sort(["sentiment", "post_id"])
        topic_ids = _top(window, "topic_id", skip=-1)
        terms = _window_terms(window, background) or [
            t for k in topic_ids[:2] for t in list(terms_of.get(k, []))[:5]
        ]
        communities = [f.group]
        community, topic = f.group, None
        about = ", ".join(name_of.get(k, str(k)) for k in topic_ids[:2]) or "no clear topic"
        summary = (
            f"community {f.group}: {f.observed:.0%} of posts negative (usually "
            f"{f.baseline:.0%}), about {', '.join(terms[:3]) or about}"
        )
    samples = samples.head(SAMPLES)
    key = f"{f.kind}|{f.group}|{f.start.isoformat()}"
    return {
        "alert_id": "A" + hashlib.sha1(key.encode()).hexdigest()[:15],
        "kind": f.kind,
        "community_id": community,
        "topic_id": topic,
        "window_start": f.start,
        "window_end": f.end,
        "posts": window.height,
        "baseline": round(f.baseline, 4),
        "observed": round(f.observed, 4),
        "score": round(f.score, 2),
        "severity": _severity(f.score),
        "terms": terms,
        "sample_posts": samples["post_id"].to_list(),
        "sample_texts": samples["text"].to_list() if "text" in samples.columns else [],
        "drivers": _drivers(window, influence),
        "communities": communities,
        "topics": topic_ids,
        "summary": summary,
    }


def detect_alerts(
    posts: pl.DataFrame,
    topics: pl.DataFrame,
    influence: pl.DataFrame,
    *,
    bucket: str = "1d",
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Alerts over ``posts`` (:func:`~graphsona.monitor.series.timed_posts`, plus ``text`` and
    ``similarity`` when known), most severe first.

    ``topics``: ``topic_id, name, terms``; ``influence``: ``user_id, influence``. Posts after
    ``until`` are ignored (what was known then); alerts whose window ends before ``since`` are
    dropped, but the baselines use all earlier posts.
    """
    check_bucket(bucket)
    if until is not None:
        posts = posts.filter(pl.col("created_at") < until)
    step = _step(bucket)
    found = _scan(series(posts, "topic_id", bucket), "topic_id", "emerging_topic", step)
    found += _scan(series(posts, "community_id", bucket), "community_id", "sentiment_swing", step)
    if since is not None:
        found = [f for f in found if f.end > since]
    background = posts.sample(min(posts.height, BACKGROUND), seed=0) if found else posts
    rows = [_evidence(f, posts, topics, influence, background) for f in found]
    out = pl.DataFrame(rows, schema=ALERT_SCHEMA) if rows else pl.DataFrame(schema=ALERT_SCHEMA)
    return out.sort(["score", "alert_id"], descending=[True, False])
