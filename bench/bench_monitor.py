"""Topics and monitoring (issue 13): topic quality on real tweets, planted-event detection,
throughput at 1M posts.

* **Topics on real tweets** (``../shared/data/twibot20_sample``: 100 Twitter accounts, their
  latest 200 tweets each, ~17k tweets; no timestamps). Hashtags are the known labels: the
  tweets with exactly one of the 40 most used hashtags are scored, their hashtags removed from
  the text first (no method may read the answer). Agreement (NMI, ARI) of each method's topics
  with those hashtags, all methods on the same tweets and the same vectors (the default
  encoder, all-MiniLM-L6-v2, through a vector cache): graphsona's topics (BERTopic: UMAP +
  HDBSCAN + c-TF-IDF,
  :mod:`graphsona.text.topics`); k-means on the same vectors with k = graphsona's number of
  topics; LDA (scikit-learn) and TF-IDF + k-means on the words with the same k. NMI is also
  given over all topic-labelled tweets against their author (a weaker label: accounts keep to
  their subjects).
* **Planted events** (synthetic: the data generator's event, several seeds and sizes): the
  monitor runs on the posts' lexicon sentiment, the planted communities and graphsona's topics
  (static embedder, the fast CPU mode), replayed bucket by bucket as if live: latency is the
  time from the event's start to the end of the first bucket whose data raise an alert
  overlapping it; recall is the share of events alerted; false alerts are alerts not
  overlapping the event over the whole year, also on networks with no event.
* **Throughput** at 100k users / ~1M posts (synthetic): sentiment (language detection +
  lexicon), topics (fit on a 20k sample, assignment of every post, vectors given: the static
  encoder's, computed outside the timing), series and alert detection.

Results go to ``bench/results/monitor-<UTC>.json`` with their provenance.

Usage::

    python bench/bench_monitor.py [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _provenance

TWIBOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "twibot20_sample"
TAG = re.compile(r"#\w+")


CACHE: Path | None = None  # --cache: the vector cache (embedding is not what is measured here)


def _vectors(texts: list[str], kind: str = "sentence-transformers") -> np.ndarray:
    from graphsona.jobs.classify import post_vectors

    return post_vectors(texts, "default", kind, CACHE)


def topics_on_tweets() -> dict[str, Any]:
    from graphsona.text.topics import fit_topics
    from sklearn.cluster import KMeans
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score as ari
    from sklearn.metrics import normalized_mutual_info_score as nmi

    users = json.loads((TWIBOT / "TwiBot-20_sample.json").read_text(encoding="utf-8"))
    rows = [(u["ID"], t.strip()) for u in users for t in (u["tweet"] or []) if t and t.strip()]
    tags = [[h.lower() for h in TAG.findall(t)] for _, t in rows]
    top = [h for h, _ in Counter(h for ts in tags for h in set(ts)).most_common(40)]
    label = [ts[0] if len(set(ts) & set(top)) == 1 and len(set(ts)) == 1 else None for ts in tags]
    texts = [TAG.sub(" ", t) for _, t in rows]
    authors = [a for a, _ in rows]
    vecs = _vectors(texts)
    t = time.perf_counter()
    found = fit_topics(texts, vecs, seed=0)
    topic_s = time.perf_counter() - t
    k = max(found.topics.height, 2)
    scored = np.array([x is not None for x in label])
    y = np.array([x or "" for x in label])
    methods: dict[str, np.ndarray] = {"graphsona (BERTopic)": found.post_topic}
    methods["k-means on vectors"] = KMeans(k, n_init=4, random_state=0).fit_predict(vecs)
    counts = CountVectorizer(stop_words="english", min_df=3).fit_transform(texts)
    lda = LatentDirichletAllocation(k, random_state=0, learning_method="online")
    methods["LDA on words"] = lda.fit_transform(counts).argmax(1)
    tfidf = TfidfVectorizer(stop_words="english", min_df=3, sublinear_tf=True).fit_transform(texts)
    methods["TF-IDF + k-means"] = KMeans(k, n_init=4, random_state=0).fit_predict(tfidf)
    out: dict[str, Any] = {
        "tweets": len(texts),
        "hashtag_labelled": int(scored.sum()),
        "hashtags": len(set(y[scored])),
        "graphsona_topics": found.topics.height,
        "graphsona_outlier_share": round(float((found.post_topic == -1).mean()), 4),
        "topic_seconds": round(topic_s, 1),
        "graphsona_topic_names": found.topics["name"].head(15).to_list(),
        "methods": {},
    }
    for name, pred in methods.items():
        pred = np.asarray(pred)
        out["methods"][name] = {
            "nmi_hashtag": round(float(nmi(y[scored], pred[scored])), 4),
            "ari_hashtag": round(float(ari(y[scored], pred[scored])), 4),
            "nmi_author": round(float(nmi(authors, pred)), 4),
        }
    # graphsona's outliers (-1) count as one more cluster above; also without them:
    inside = scored & (found.post_topic >= 0)
    out["graphsona_without_outliers"] = {
        "tweets": int(inside.sum()),
        "nmi_hashtag": round(float(nmi(y[inside], found.post_topic[inside])), 4),
    }
    return out


def _monitor_inputs(
    n_users: int, seed: int, event: bool
) -> tuple[pl.DataFrame, pl.DataFrame, Any, Any]:
    from graphsona.loaders import SyntheticConfig, generate
    from graphsona.monitor.series import timed_posts
    from graphsona.text.sentiment import score_posts
    from graphsona.text.topics import fit_topics

    net = generate(SyntheticConfig(n_users=n_users, seed=seed, event=event))
    texts = net.posts["text"].to_list()
    found = fit_topics(texts, _vectors(texts, "static"), seed=seed)
    scored = score_posts(net.posts).drop("text")
    members = net.users.select("user_id", pl.col("planted_community").alias("community_id"))
    post_topics = net.posts.select("post_id").with_columns(
        pl.Series("topic_id", found.post_topic), pl.Series("similarity", found.similarity)
    )
    posts = (
        timed_posts(scored, members, post_topics)
        .join(net.posts.select("post_id", "text"), on="post_id")
        .join(post_topics.select("post_id", "similarity"), on="post_id")
    )
    influence = members.select("user_id", pl.lit(0.0).alias("influence"))
    return posts, influence, found.topics, net


def planted_events(sizes: tuple[int, ...], seeds: tuple[int, ...]) -> dict[str, Any]:
    from graphsona.monitor.alerts import detect_alerts

    runs = []
    for n in sizes:
        for seed in seeds:
            for event in (True, False):
                posts, influence, topics, net = _monitor_inputs(n, seed, event)
                row: dict[str, Any] = {"users": n, "seed": seed, "event": event}
                for bucket, step in (("1d", timedelta(days=1)), ("6h", timedelta(hours=6))):
                    full = detect_alerts(posts, topics, influence, bucket=bucket)
                    if event:
                        ev = net.events.row(0, named=True)
                        hit = (full["window_start"] < ev["end"]) & (
                            full["window_end"] > ev["start"]
                        )
                        false = int((~hit).sum())
                        latency = None
                        t = ev["start"] + step
                        while t <= ev["end"] + 2 * step:  # replay: what was known at t
                            live = detect_alerts(posts, topics, influence, bucket=bucket, until=t)
                            if (
                                (live["window_start"] < ev["end"])
                                & (live["window_end"] > ev["start"])
                            ).any():
                                latency = (t - ev["start"]).total_seconds() / 3600
                                break
                            t += step
                        row[bucket] = {
                            "detected": bool(hit.any()),
                            "latency_hours": latency,
                            "false_alerts": false,
                            "kinds": sorted(set(full.filter(hit)["kind"].to_list())),
                            "event_posts": ev["posts"],
                        }
                    else:
                        row[bucket] = {"false_alerts": full.height}
                runs.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    with_event = [r for r in runs if r["event"]]
    summary = {}
    for bucket in ("1d", "6h"):
        lat = [
            r[bucket]["latency_hours"] for r in with_event if r[bucket]["latency_hours"] is not None
        ]
        summary[bucket] = {
            "recall": sum(r[bucket]["detected"] for r in with_event) / len(with_event),
            "median_latency_hours": float(np.median(lat)) if lat else None,
            "max_latency_hours": max(lat) if lat else None,
            "false_alerts_with_event": sum(r[bucket]["false_alerts"] for r in with_event),
            "false_alerts_without_event": sum(
                r[bucket]["false_alerts"] for r in runs if not r["event"]
            ),
            "networks": len(runs),
        }
    return {"runs": runs, "summary": summary}


def throughput(n_users: int) -> dict[str, Any]:
    from graphsona.loaders import SyntheticConfig, generate
    from graphsona.monitor.alerts import detect_alerts
    from graphsona.monitor.series import series, timed_posts
    from graphsona.text.sentiment import score_posts
    from graphsona.text.topics import fit_topics

    net = generate(SyntheticConfig(n_users=n_users, posts_per_user=10, seed=0))
    posts = net.posts
    out: dict[str, Any] = {"users": n_users, "posts": posts.height}
    t = time.perf_counter()
    scored = score_posts(posts)
    s = time.perf_counter() - t
    out["sentiment"] = {"seconds": round(s, 1), "posts_per_second": round(posts.height / s)}
    texts = posts["text"].to_list()
    uniq = sorted(set(texts))
    vec_of = _vectors(uniq, "static")
    index = {u: i for i, u in enumerate(uniq)}
    vecs = vec_of[[index[x] for x in texts]]
    t = time.perf_counter()
    found = fit_topics(texts, vecs, seed=0)
    s = time.perf_counter() - t
    out["topics"] = {
        "seconds": round(s, 1),
        "posts_per_second": round(posts.height / s),
        "topics": found.topics.height,
    }
    members = net.users.select("user_id", pl.col("planted_community").alias("community_id"))
    post_topics = posts.select("post_id").with_columns(pl.Series("topic_id", found.post_topic))
    timed = timed_posts(scored.drop("text"), members, post_topics).join(
        posts.select("post_id", "text"), on="post_id"
    )
    influence = members.select("user_id", pl.lit(0.0).alias("influence"))
    t = time.perf_counter()
    series(timed, "community_id", "1d")
    series(timed, "topic_id", "1d")
    out["series_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    alerts = detect_alerts(timed, found.topics, influence, bucket="1d")
    out["alerts_seconds"] = round(time.perf_counter() - t, 2)
    out["alerts"] = alerts.select("kind", "summary").to_dicts()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--throughput-users", type=int, default=100_000)
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "graphsona" / "bench-vectors.sqlite",
        help="vector cache for the tweets' and synthetic posts' vectors",
    )
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    global CACHE
    CACHE = args.cache
    run = _provenance.start("monitor", args.results_dir)
    results: dict[str, Any] = {}
    results["topics_on_tweets"] = topics_on_tweets()
    run.write(results, complete=False)
    results["planted_events"] = planted_events((1000, 3000), (0, 1, 2))
    run.write(results, complete=False)
    if not args.skip_throughput:
        results["throughput"] = throughput(args.throughput_users)
    print("results:", run.write(results))


if __name__ == "__main__":
    main()
