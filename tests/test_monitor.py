"""Opinion monitoring: series, change points and alerts (monitor/), topics (text/topics.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from graphsona.errors import ConfigError
from graphsona.loaders import SyntheticConfig, generate
from graphsona.loaders.synthetic import EVENT_DAY, EVENT_DAYS
from graphsona.monitor.alerts import detect_alerts
from graphsona.monitor.series import series, timed_posts
from graphsona.text.sentiment import score_posts
from graphsona.text.topics import fit_topics, tokenize, topic_mix

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NO_TOPICS = pl.DataFrame(
    schema={"topic_id": pl.Int64, "name": pl.String, "terms": pl.List(pl.String)}
)


def _posts(rows: list[tuple[str, str, int, float | None, str | None, int]]) -> pl.DataFrame:
    """(post_id, user_id, hour, sentiment, label, topic) -> a timed posts frame, community 0."""
    return pl.DataFrame(
        {
            "post_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "created_at": [T0 + timedelta(hours=r[2]) for r in rows],
            "sentiment": [r[3] for r in rows],
            "sentiment_label": [r[4] for r in rows],
            "topic_id": [r[5] for r in rows],
            "community_id": [0] * len(rows),
        },
        schema_overrides={"created_at": pl.Datetime("us", "UTC"), "sentiment": pl.Float64},
    )


def test_series_fill_quiet_buckets_and_count_by_hand() -> None:
    posts = _posts(
        [
            ("p1", "a", 1, -0.5, "negative", 3),
            ("p2", "b", 2, 0.5, "positive", 3),
            ("p3", "a", 50, None, None, 3),  # two days later, unscored
        ]
    )
    s = series(posts, "community_id", "1d")
    assert s["bucket_start"].to_list() == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert s["volume"].to_list() == [2, 0, 1]
    assert s["scored"].to_list() == [2, 0, 0]
    assert s["negative_share"].to_list() == [0.5, None, None]
    assert s["mean_sentiment"].to_list()[0] == pytest.approx(0.0)
    hourly = series(posts, "topic_id", "1h")
    assert hourly.height == 50 and hourly["volume"].sum() == 3


def test_bad_bucket_and_posts_without_times_are_clear_errors() -> None:
    posts = _posts([("p1", "a", 1, 0.0, "neutral", 0)])
    with pytest.raises(ConfigError, match="bucket must be a count and a unit"):
        series(posts, "community_id", "daily")
    members = pl.DataFrame({"user_id": ["a"], "community_id": [0]})
    untimed = posts.drop("created_at")
    with pytest.raises(ConfigError, match="created_at"):
        timed_posts(untimed, members, None)


def _synthetic_monitor_input(
    n_users: int = 600, seed: int = 3, event: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame, object]:
    net = generate(SyntheticConfig(n_users=n_users, n_communities=4, seed=seed, event=event))
    scored = score_posts(net.posts).drop("text")
    members = net.users.select("user_id", pl.col("planted_community").alias("community_id"))
    posts = timed_posts(scored, members, None).join(
        net.posts.select("post_id", "text"), on="post_id"
    )
    influence = members.select("user_id", pl.lit(0.0).alias("influence"))
    return posts, influence, net


def test_the_planted_event_raises_one_sentiment_swing_and_nothing_else() -> None:
    posts, influence, net = _synthetic_monitor_input()
    alerts = detect_alerts(posts, NO_TOPICS, influence)
    assert alerts.height == 1, alerts.select("kind", "community_id", "window_start", "summary")
    alert = alerts.row(0, named=True)
    event = net.events.row(0, named=True)  # type: ignore[attr-defined]
    assert alert["kind"] == "sentiment_swing" and alert["community_id"] == event["community"]
    assert alert["window_start"] == event["start"]  # detected on the event's first day
    assert alert["window_end"] <= event["end"] + timedelta(days=1)
    assert set(alert["terms"][:5]) <= set(event["terms"]) | {
        "angry", "terrible", "awful", "furious", "worst", "scam", "disgusting", "outraged",
        "hate", "horrible",
    }  # fmt: skip
    event_authors = set(
        posts.filter(pl.col("text").str.contains("outage|refund|recall|battery|lawsuit"))[
            "user_id"
        ].to_list()
    )
    assert alert["drivers"] and set(alert["drivers"]) <= event_authors
    assert len(alert["sample_posts"]) == 3 and alert["severity"] in ("medium", "high")
    again = detect_alerts(posts, NO_TOPICS, influence)
    assert again["alert_id"].to_list() == alerts["alert_id"].to_list()  # stable ids


def test_quiet_data_raises_no_alert() -> None:
    posts, influence, _ = _synthetic_monitor_input(event=False)
    assert detect_alerts(posts, NO_TOPICS, influence).is_empty()
    assert detect_alerts(posts, NO_TOPICS, influence, bucket="6h").is_empty()


def test_until_and_since_bound_what_is_known_and_shown() -> None:
    posts, influence, net = _synthetic_monitor_input()
    start = net.events["start"][0]  # type: ignore[attr-defined]
    before = detect_alerts(posts, NO_TOPICS, influence, until=start)
    assert before.is_empty()  # nothing known yet
    one_day = detect_alerts(posts, NO_TOPICS, influence, until=start + timedelta(days=1))
    assert one_day.height == 1  # caught within its first day
    later = detect_alerts(posts, NO_TOPICS, influence, since=start + timedelta(days=EVENT_DAYS + 5))
    assert later.is_empty()


def test_an_emerging_topic_alert_names_its_topic_and_communities() -> None:
    posts, influence, _ = _synthetic_monitor_input()
    about = posts.with_columns(
        pl.when(pl.col("text").str.contains("outage|refund|recall|battery|lawsuit|#recallgate"))
        .then(7)
        .otherwise(pl.col("community_id"))
        .alias("topic_id")
    )
    topics = pl.DataFrame(
        {"topic_id": [0, 1, 2, 3, 7], "name": ["a", "b", "c", "d", "recall"], "terms": [["x"]] * 5}
    )
    alerts = detect_alerts(about, topics, influence)
    emerging = alerts.filter(pl.col("kind") == "emerging_topic")
    assert emerging["topic_id"].to_list() == [7]
    row = emerging.row(0, named=True)
    assert row["communities"][0] == 0 and row["posts"] > 10
    day = T0 + timedelta(days=EVENT_DAY)
    assert row["window_start"] == day


def test_tokenize_cuts_chinese_and_keeps_hashtags() -> None:
    words = tokenize("I LOVE the new #Python release!! 我们今天讨论人工智能 https://x.y/z @bob")
    assert "#python" in words and "love" in words and "release" in words
    assert "the" not in words and "@bob" not in words and not any("http" in w for w in words)
    assert "人工智能" in words and "我们" not in words  # a stop word


def test_topics_are_found_named_and_keep_their_ids() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16))
    words = [
        ["rocket", "orbit", "launch"],
        ["pasta", "garlic", "basil"],
        ["guitar", "album", "song"],
    ]
    texts, vecs = [], []
    for i in range(240):
        k = i % 3
        texts.append(" ".join(rng.choice(words[k], 3)) + " today")
        vecs.append(centers[k] + 0.05 * rng.normal(size=16))
    first = fit_topics(texts, np.array(vecs), seed=0)
    assert first.topics.height == 3
    named = {frozenset(t[:3]) for t in first.topics["terms"].to_list()}
    assert named == {frozenset(w) for w in words}
    assert (first.post_topic >= 0).mean() > 0.9
    # a rerun with one topic's posts shuffled in order keeps every id
    order = rng.permutation(len(texts))
    old = first.topics.select("topic_id", pl.col("centroid").cast(pl.List(pl.Float64)))
    old = old.with_columns(pl.col("topic_id") + 10)  # ids an earlier run gave
    second = fit_topics([texts[i] for i in order], np.array(vecs)[order], seed=1, previous=old)
    assert sorted(second.topics["topic_id"].to_list()) == [10, 11, 12]
    again = second.post_topic[np.argsort(order)]
    both = (again >= 0) & (first.post_topic >= 0)  # outliers (5% per topic) may differ
    assert both.mean() > 0.85 and (again[both] == first.post_topic[both] + 10).all()


def test_umap_gets_each_posts_exact_neighbours_itself_first() -> None:
    from graphsona.text.topics import exact_knn

    rng = np.random.default_rng(0)
    unit = rng.normal(size=(300, 8)).astype(np.float32)
    unit[7] = unit[3]  # the same post twice: each is still its own first neighbour
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    idx, dist = exact_knn(unit, 15, block=64)  # blocks that do not divide the rows
    assert idx.shape == dist.shape == (300, 15)
    sim = unit @ unit.T
    np.fill_diagonal(sim, np.inf)
    want = np.argsort(-sim, axis=1, kind="stable")[:, :15]
    assert (idx[:, 0] == np.arange(300)).all() and (dist[:, 0] == 0).all()
    assert idx[3, 1] == 7 and idx[7, 1] == 3 and dist[3, 1] < 1e-6
    assert (np.sort(idx, axis=1) == np.sort(want, axis=1)).all()  # exactly the nearest 15
    assert (np.diff(dist, axis=1) >= 0).all()  # nearest first
    true = 1.0 - np.take_along_axis(unit @ unit.T, idx, axis=1)
    assert np.allclose(dist[:, 1:], np.maximum(true[:, 1:], 0), atol=1e-6)


def test_topic_words_skip_links_handles_and_typographic_apostrophes() -> None:
    from graphsona.text.topics import tokenize

    text = "@नमस्ते I don’t ‘like’ #Budget-day https://t.co/[path] www.example.org/a"
    assert tokenize(text) == ["like", "#budget-day"]


def test_too_few_posts_give_no_topics() -> None:
    result = fit_topics(["a post"] * 5, np.ones((5, 4)))
    assert result.topics.is_empty() and (result.post_topic == -1).all()


def test_topic_mix_by_hand() -> None:
    frame = pl.DataFrame({"user_id": ["a", "a", "a", "a", "b"], "topic_id": [1, 1, 2, -1, 3]})
    mix = topic_mix(frame, "user_id").sort("user_id")
    assert mix["top_topics"].to_list() == [[1, 2], [3]]
    assert mix["topic_shares"].to_list() == [
        [pytest.approx(2 / 3, abs=1e-4), pytest.approx(1 / 3, abs=1e-4)],
        [1.0],
    ]


def test_chinese_topics_are_named_in_chinese_words() -> None:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(2, 16))
    phrases = [["股票市场", "投资收益", "基金经理"], ["足球比赛", "进球得分", "球队教练"]]
    texts, vecs = [], []
    for i in range(120):
        k = i % 2
        texts.append("我们今天" + "，".join(rng.choice(phrases[k], 2)))
        vecs.append(centers[k] + 0.05 * rng.normal(size=16))
    found = fit_topics(texts, np.array(vecs), seed=0)
    assert found.topics.height == 2
    terms = [set(t) for t in found.topics["terms"].to_list()]
    stocks = {"股票", "市场", "投资", "收益", "基金", "经理"}
    football = {"足球", "比赛", "进球", "得分", "球队", "教练"}
    assert any(t & stocks for t in terms) and any(t & football for t in terms)
    assert not any("我们" in t for t in terms)  # a function word


def test_topic_ids_survive_a_rerun_on_changed_data(store: Any, tmp_path: Path) -> None:
    """The job matches new topics to the ones the store holds: after new posts arrive (loaded
    into a store whose posts already carry a run's results), topics about the same things keep
    their ids."""
    from graphsona.jobs.profile import ProfileJobConfig, run_profile
    from graphsona.loaders import load_dataset, write_dataset

    net = generate(SyntheticConfig(n_users=400, n_communities=4, seed=11))
    cfg = ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=16, epochs=5)
    with store:
        store.load(load_dataset(write_dataset(net, tmp_path / "d1"))[0])
        run_profile(store, cfg)
        first = store.read_topics()
        # a week of new posts: the same users write again (a copy of some posts, new ids)
        extra = net.posts.head(200).with_columns(
            (pl.col("post_id") + "_new").alias("post_id"),
            (pl.col("created_at") + timedelta(days=7)).alias("created_at"),
        )
        net.posts = pl.concat([net.posts, extra])
        store.load(load_dataset(write_dataset(net, tmp_path / "d2"))[0])
        run_profile(store, cfg)
        second = store.read_topics()
    assert first.height >= 2
    by_name = dict(zip(first["name"], first["topic_id"], strict=True))
    kept = [n for n in second["name"] if n in by_name]
    assert kept, (first["name"].to_list(), second["name"].to_list())
    for name, tid in zip(second["name"], second["topic_id"], strict=True):
        if name in by_name:
            assert tid == by_name[name], name
