"""``graphsona evaluate``: honest quality numbers on the user's own data, next to baselines.

Every number comes from a part the model did not see; the split is recorded in the report.

* **Who to follow**: a fraction of follow edges is held out — the latest by time when every
  follow has a time, else a seeded random sample — together with the reverse follow and any
  interaction between a held-out pair (either would give the follow away; see
  :func:`~graphsona.gnn.metrics.hold_out_pairs`). graphsona is retrained on the rest, and
  held-out targets are ranked over all users the source does not already follow: recall@10,
  recall@20 and MRR for graphsona (the two-stage recommender: candidates, then the learned
  ranker, as ``who_to_follow`` serves it), its link decoder alone (``graphsona_decoder``) and,
  in the same run, popularity, common neighbours, Adamic-Adar, text-only cosine of pooled post
  vectors, and a graph-only model (the same GNN with structural features instead of text).
* **Communities**: modularity and text coherence of graphsona's partition and Leiden's on the
  same graph; NMI and ARI against a ground-truth column when given (over the users whose
  value is known).
* **Profiles**: with a label column, accuracy and macro-F1 of a 5-fold linear probe on the
  profiles, the text-only vectors, the graph-only embeddings, FastRP, a spectral embedding and
  FastRP + text (users with a label only); and, for every user, how spread the profiles are
  (mean cosine of random pairs, effective rank: :func:`~graphsona.gnn.baselines.profile_spread`).
* **Graph-embedding baselines** for who-to-follow too: FastRP (scipy, no server) and Laplacian
  eigenmaps (scikit-learn), ranked by cosine. A warning says when too few follows are held out
  for differences to mean much.
* **Influence**: Spearman correlation with in-degree and PageRank and, with interaction times,
  with engagement received in the later window, next to PageRank's (see :mod:`gnn.influence`).
* **GDS side by side** (Neo4j only, ``gds=True``): Louvain, Leiden, PageRank and FastRP run by
  the server's Graph Data Science library on the same training graph, scored the same way, with
  wall times. See :mod:`graphsona.jobs.gds`.

Example:
    >>> report = evaluate(store, EvalConfig(truth="planted_community"))     # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from graphsona.errors import ConfigError
from graphsona.gnn import text_coherence
from graphsona.gnn.baselines import fastrp, profile_spread, spectral
from graphsona.gnn.metrics import (
    Scorer,
    adamic_adar_scorer,
    common_neighbours_scorer,
    cosine_scorer,
    decoder_scorer_of,
    hold_out_pairs,
    popularity_scorer,
    ranking_metrics,
)
from graphsona.graph import GraphStore, to_pyg
from graphsona.jobs.runner import Context, Runner
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.jobs.stages import (
    CommunitiesStage,
    EmbedStage,
    InfluenceStage,
    RankerStage,
    TrainStage,
    hold_out_for_ranker,
)

__all__ = ["MIN_HELD_OUT", "EvalConfig", "evaluate", "probe"]

MIN_HELD_OUT = 200  # fewer held-out follows: a few points of recall are noise


@dataclass(frozen=True)
class EvalConfig:
    """Args:
    holdout: share of follow edges held out. seed: split, models and probes.
    truth: user column with ground-truth communities (NMI/ARI). label: user column for the probe.
    ks: recall cut-offs. max_sources: sources sampled for ranking (speed).
    job: embedder and GNN settings (the same as the profiling job's).
    gds: also run Neo4j GDS algorithms (Neo4j store only).
    by: user columns to measure the stored label heads per group of (the bias report,
        :mod:`graphsona.outputs.bias`); coverage of communities and topics is always reported
        when the store holds a profile run.
    """

    holdout: float = 0.1
    seed: int = 0
    truth: str | None = None
    label: str | None = None
    ks: tuple[int, ...] = (10, 20)
    max_sources: int = 2000
    job: ProfileJobConfig = field(default_factory=ProfileJobConfig)
    gds: bool = False
    by: tuple[str, ...] = ()


def probe(x: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Accuracy and macro-F1 of a stratified k-fold logistic-regression probe (out-of-fold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y).astype(str)
    _, counts = np.unique(y, return_counts=True)
    k = int(max(2, min(folds, counts.min())))
    pred = np.empty(len(y), dtype=object)
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        pred[te] = model.fit(x[tr], y[tr]).predict(x[te])
    pred = pred.astype(str)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "folds": float(k),
    }


def _ranker_scorer(ctx: Context, ei: torch.Tensor, follows: torch.Tensor, n: int) -> Scorer:
    """The two-stage who-to-follow on the training graph, as recommendations serve it: the
    ranker's scores on its candidates, every other user below them."""
    from graphsona.gnn.ranker import PairGraph, candidates

    g = PairGraph.build(ei, follows, n, z=ctx["profiles"], bias=ctx["bias"])
    ranker = ctx["ranker"]

    def score(sources: np.ndarray) -> np.ndarray:
        u, v, x = candidates(g, sources)
        where = {int(s): i for i, s in enumerate(sources)}
        out = np.full((len(sources), n), -np.inf)
        out[np.array([where[int(a)] for a in u], dtype=np.int64), v] = ranker.score(x)
        return out

    return score


def _partition_scores(
    membership: np.ndarray,
    ei: torch.Tensor,
    ew: torch.Tensor,
    tx: torch.Tensor,
    truth: np.ndarray | None,
) -> dict[str, float]:
    from graphsona.gnn import modularity
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    out = {
        "communities": float(len(np.unique(membership))),
        "modularity": modularity(ei, membership, ew),
        "text_coherence": text_coherence(membership, tx),
    }
    if truth is not None:  # scored on the users whose truth is known
        known = np.array([t is not None and t == t for t in truth], dtype=bool)
        t, m = truth[known].astype(str), membership[known]
        out["nmi"] = float(normalized_mutual_info_score(t, m)) if known.any() else float("nan")
        out["ari"] = float(adjusted_rand_score(t, m)) if known.any() else float("nan")
        out["truth_users"] = float(known.sum())
    return out


def evaluate(store: GraphStore, config: EvalConfig | None = None) -> dict[str, Any]:
    """Run every evaluation on ``store`` (read-only: nothing is written).

    Uses the profile job's own stages (embed, train, communities, influence) on a graph with
    the held-out follows removed, run by the same runner without a work dir.
    """
    cfg = config or EvalConfig()
    if not 0 < cfg.holdout < 1:
        raise ConfigError(f"holdout must be in (0, 1) (got {cfg.holdout})")
    job = replace(cfg.job, seed=cfg.seed, work_dir=None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    graph = to_pyg(store, follow_times=True)
    d = graph.data
    n = d.num_nodes
    users = graph.ids.select("user_id").join(
        store.read_users(), on="user_id", how="left", maintain_order="left"
    )
    for col in (cfg.truth, cfg.label):
        if col is not None and col not in users.columns:
            raise ConfigError(f"users have no column {col!r}; columns: {users.columns}")
    ctx: Context = {
        "ids": graph.ids,
        "users": users,
        "posts": store.read_posts(),
        "edge_index": d.edge_index,
        "edge_weight": d.edge_weight,
        "edge_type": d.edge_type,
        "edge_time": d.edge_time,
        "relations": graph.relations,
    }
    runner = Runner(None)
    timings.update(runner.run([EmbedStage(job)], ctx).seconds)
    tx = ctx["tx"]
    timings["read_and_embed"] = time.perf_counter() - t0

    # --- split: held-out follows, with any reverse follow and interactions between the pairs
    follow = (
        (d.edge_type == 0)
        if graph.relations[:1] == ["follows"]
        else torch.zeros_like(d.edge_type, dtype=torch.bool)
    )
    if int(follow.sum()) < 10:
        raise ConfigError("evaluation needs at least 10 follow edges")
    held_edges, keep, how = hold_out_pairs(
        d.edge_index, follow, n, cfg.holdout, time=d.edge_time, seed=cfg.seed
    )
    k = int(held_edges.shape[1])
    ei, ew, et = d.edge_index[:, keep], d.edge_weight[keep], d.edge_type[keep]
    train_follows = ei[:, et == 0] if graph.relations[:1] == ["follows"] else ei
    warnings = []
    if k < MIN_HELD_OUT:
        warnings.append(
            f"only {k} follows held out (fewer than {MIN_HELD_OUT}): recall and MRR differences "
            "of a few points between methods are within noise"
        )
    split = {
        "how": how,
        "holdout_fraction": cfg.holdout,
        "held_out_follows": int(k),
        "dropped_interactions_between_held_out_pairs": int((~keep).sum()) - k,
        "train_edges": int(ei.shape[1]),
        "seed": cfg.seed,
    }

    # --- models trained on the training graph only (the job's train and ranker stages; the
    # ranker's own held-out follows come out of the training graph, as in the job)
    hold_out_for_ranker(ctx, ei, ew, et, seed=cfg.seed)
    trained = runner.run(
        [
            TrainStage(job),
            RankerStage(job),
            TrainStage(job, features="structural", out="graph_only_"),
        ],
        ctx,
    )
    timings["ranker"] = trained.seconds["ranker"]
    timings["train_graphsona"] = trained.seconds["train"]
    timings["train_graph_only"] = trained.seconds["train_graph_only"]
    z, graph_only = ctx["profiles"], ctx["graph_only_profiles"]

    # --- graph-embedding baselines on the same training graph
    t = time.perf_counter()
    fr = fastrp(ei, n, dim=job.dim, seed=cfg.seed)
    sp = spectral(ei, n, seed=cfg.seed)
    timings["baselines"] = time.perf_counter() - t

    # --- who to follow
    t = time.perf_counter()
    decoder = decoder_scorer_of(z, ctx["bias"])
    ranker = ctx["ranker"]
    scorers = {
        "graphsona": decoder if ranker is None else _ranker_scorer(ctx, ei, train_follows, n),
        "graphsona_decoder": decoder,
        "popularity": popularity_scorer(train_follows, n),
        "common_neighbours": common_neighbours_scorer(ei, n),
        "adamic_adar": adamic_adar_scorer(ei, n),
        "text_only": cosine_scorer(tx),
        "graph_only": decoder_scorer_of(graph_only, ctx["graph_only_bias"]),
        "fastrp": cosine_scorer(torch.from_numpy(fr)),
        "spectral": cosine_scorer(torch.from_numpy(sp)),
    }
    wtf = {
        name: ranking_metrics(
            s, train_follows, held_edges, n, ks=cfg.ks, max_sources=cfg.max_sources, seed=cfg.seed
        )
        for name, s in scorers.items()
    }
    timings["rank"] = time.perf_counter() - t

    # --- communities on the full graph, profiles from the training model (the job's stage)
    truth = users[cfg.truth].to_numpy() if cfg.truth else None
    timings.update(runner.run([CommunitiesStage(job)], ctx).seconds)
    comms = {
        "graphsona": _partition_scores(ctx["membership"], d.edge_index, d.edge_weight, tx, truth),
        "leiden": _partition_scores(
            ctx["leiden_membership"], d.edge_index, d.edge_weight, tx, truth
        ),
    }

    # --- profiles probe
    probes: dict[str, Any] = {}
    lab = users[cfg.label] if cfg.label else None
    known = lab.is_not_null().to_numpy() if lab is not None else None
    if lab is not None and lab.drop_nulls().n_unique() < 2:
        warnings.append(f"label {cfg.label!r} has fewer than two values: no probe")
    elif lab is not None and known is not None:
        y = lab.to_numpy()[known]
        probes = {
            "labelled_users": int(known.sum()),
            "graphsona": probe(z.numpy()[known], y, seed=cfg.seed),
            "text_only": probe(tx.numpy()[known], y, seed=cfg.seed),
            "graph_only": probe(graph_only.numpy()[known], y, seed=cfg.seed),
            "fastrp": probe(fr[known], y, seed=cfg.seed),
            "spectral": probe(sp[known], y, seed=cfg.seed),
            "fastrp_text": probe(np.concatenate([fr, tx.numpy()], 1)[known], y, seed=cfg.seed),
        }

    # --- influence (the job's stage, on the whole graph)
    timings.update(runner.run([InfluenceStage(job)], ctx).seconds)
    report: dict[str, Any] = {
        "users": n,
        "edges": int(d.edge_index.shape[1]),
        "split": split,
        "who_to_follow": wtf,
        "communities": comms,
        "profiles_probe": probes,
        "influence": ctx["influence_report"],
        "profile_spread": {
            "graphsona": profile_spread(z.numpy(), seed=cfg.seed),
            "graph_only": profile_spread(graph_only.numpy(), seed=cfg.seed),
            "fastrp": profile_spread(fr, seed=cfg.seed),
        },
        "ranker": ctx["ranker_info"] | ({"weights": ranker.weights()} if ranker else {}),
        "warnings": warnings,
        "seconds": timings,
        "config": {k2: v for k2, v in asdict(cfg).items() if k2 != "job"},
    }
    report.update(bias_and_coverage(store, cfg.by, cfg.job.min_group_size))
    if cfg.gds:
        from graphsona.jobs.gds import gds_side_by_side

        report["gds"] = gds_side_by_side(
            store,
            graph,
            held_edges=held_edges,
            tx=tx,
            truth=truth,
            labels=users[cfg.label] if cfg.label else None,
            ks=cfg.ks,
            max_sources=cfg.max_sources,
            seed=cfg.seed,
            train_follows=train_follows,
            graphsona_seconds=timings["train_graphsona"] + timings["communities"],
        )
    return report


def bias_and_coverage(
    store: GraphStore, by: tuple[str, ...], min_group_size: int
) -> dict[str, Any]:
    """``bias`` (the stored label heads per group of each ``by`` column) and ``coverage``
    (community sizes, topic authors) of the store's last profile run; empty without one."""
    from graphsona.outputs.bias import bias_report, coverage
    from graphsona.queries.library import run_named

    users = store.read_users()
    out: dict[str, Any] = {}
    if by:
        out["bias"] = bias_report(users, list(by))
    if "community_id" in users.columns:
        communities = run_named(store, "communities", {"limit": 10**9})
        posts = store.read_posts() if store.mapping.post_label is not None else None
        out["coverage"] = coverage(users, communities, posts, min_group_size)
    return out
