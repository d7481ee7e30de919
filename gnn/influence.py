"""Influence: weighted PageRank (igraph) combined with a learned engagement predictor.

Edges point from the user who engages (follows, replies, reposts...) to the user engaged with,
so influence flows to the engaged.

* **PageRank** comes from igraph (a library implementation, not a hand-written loop) on the
  weighted, directed graph.
* **Learned component**: a ridge regression predicting the (kind-weighted, log) engagement a
  user *receives*. Its inputs are structural (followers, engagement received so far, PageRank,
  out-degree) plus the user's pooled text vector and post count. When interactions carry times,
  it is trained the way it is used: features from the graph *before* a split time predict the
  new engagement received *after* it, and the production model then applies the same mapping to
  features of the whole graph (it forecasts the next window). Without times, it is fitted on
  engagement received with 5-fold cross-fitting (out-of-fold predictions, never a user's own
  target). Profile embeddings are deliberately *not* inputs: they were trained on every edge,
  later ones included, and would leak the evaluation window.
* **Score**: the mean of the two components, each scaled to [0, 1] (log-PageRank; predicted log
  engagement), so the final score is in [0, 1]; ``rank`` 1 is the most influential.

:func:`influence_scores` returns the scores and a report: Spearman correlation of the final score
with in-degree and with PageRank, and (with times) how well PageRank, the learned component and
the final score, all computed from the earlier graph, rank users by engagement received in the
later window, measured on users whose later engagement the model did not see (cross-fitting).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from graphsona.gnn.communities import _igraph

__all__ = [
    "InfluenceResult",
    "combine_scores",
    "influence_scores",
    "pagerank",
    "pagerank_warm",
    "rescore",
    "scale_scores",
    "spearman",
]


def pagerank(
    edge_index: torch.Tensor,
    num_nodes: int,
    weight: torch.Tensor | None = None,
    damping: float = 0.85,
) -> np.ndarray:
    """Weighted, directed PageRank of every node (sums to 1)."""
    ig = _igraph()
    src, dst = edge_index.numpy()
    keep = src != dst
    g = ig.Graph(n=num_nodes, edges=np.stack([src[keep], dst[keep]], 1), directed=True)
    w = None if weight is None else weight.numpy()[keep].astype(np.float64).tolist()
    return np.asarray(g.pagerank(directed=True, damping=damping, weights=w), dtype=np.float64)


def pagerank_warm(
    edge_index: torch.Tensor,
    num_nodes: int,
    weight: torch.Tensor | None,
    start: np.ndarray,
    *,
    damping: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> tuple[np.ndarray, int]:
    """The PageRank of :func:`pagerank` by power iteration from ``start`` (the previous run's
    scores, new users at ``1/n``); returns the scores and the iterations taken.

    igraph's solvers (PRPACK, ARPACK) take no start vector, and a warm start is the point of
    the incremental update (as GDS's ``seedProperty``): after a small change to the graph the
    iteration starts next to the answer and stops after a few sweeps. Same model as igraph's:
    weighted out-links, self-loops ignored, a dangling user's rank spread over everyone; stops
    when the L1 change of a sweep is below ``tol``.
    """
    from scipy.sparse import csr_matrix

    n = num_nodes
    src, dst = edge_index.numpy()
    w = np.ones(len(src)) if weight is None else weight.numpy().astype(np.float64)
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    out_w = np.bincount(src, weights=w, minlength=n)
    # column-stochastic transition: rank flows from src to dst in proportion to the weight
    m = csr_matrix((w / out_w[src], (dst, src)), shape=(n, n))
    dangling = out_w == 0
    x = np.asarray(start, dtype=np.float64).copy()
    x = x / x.sum() if x.sum() > 0 else np.full(n, 1.0 / n)
    for it in range(1, max_iter + 1):
        nxt = damping * (m @ x + x[dangling].sum() / n) + (1 - damping) / n
        nxt /= nxt.sum()
        delta = float(np.abs(nxt - x).sum())
        x = nxt
        if delta < tol:
            return x, it
    return x, max_iter


def scale_scores(raw: np.ndarray, *, log: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(score in [0, 1] — on a log scale by default —, rank with 1 = highest; ties share the
    better rank). PageRank is heavy-tailed: a linear scale would put nearly everyone at 0."""
    vals = np.log(np.maximum(raw, 1e-300)) if log else np.asarray(raw, dtype=np.float64)
    span = vals.max() - vals.min()
    score = (vals - vals.min()) / span if span > 0 else np.ones_like(vals)
    order = np.argsort(-raw, kind="stable")
    rank = np.empty(len(raw), dtype=np.int64)
    sorted_raw = raw[order]
    first = np.concatenate([[True], sorted_raw[1:] != sorted_raw[:-1]])
    rank[order] = np.maximum.accumulate(np.where(first, np.arange(1, len(raw) + 1), 0))
    return score, rank


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); nan when either side is constant."""
    from scipy.stats import spearmanr

    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


@dataclass
class InfluenceResult:
    """Per-user ``score`` in [0, 1] and ``rank``; the components; and the evaluation report."""

    score: np.ndarray
    rank: np.ndarray
    pagerank: np.ndarray
    predicted_engagement: np.ndarray  # predicted log1p(weighted engagement received)
    report: dict[str, float | int | str] = field(default_factory=dict)
    #: the engagement model as plain numbers, for :func:`rescore` (the incremental update):
    #: ``features`` ("all": every edge, "follows": follows only, "none": PageRank only),
    #: ``coef`` and ``intercept`` on the raw feature columns
    engagement_model: dict[str, Any] = field(default_factory=dict)


def _as_linear(model: Any, features: str) -> dict[str, Any]:
    """A fitted StandardScaler + Ridge pipeline as one linear map on the raw features."""
    scaler, ridge = model[0], model[-1]
    coef = ridge.coef_ / scaler.scale_
    return {
        "features": features,
        "coef": coef.tolist(),
        "intercept": float(ridge.intercept_ - scaler.mean_ @ coef),
    }


def _edge_arrays(
    edge_index: torch.Tensor, weight: torch.Tensor | None, is_interaction: torch.Tensor | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges, weights (1 when none) and the interaction flags (none: all follows) as numpy."""
    ei = edge_index.numpy().astype(np.int64)
    w = np.ones(ei.shape[1]) if weight is None else weight.numpy().astype(np.float64)
    inter = (
        np.zeros(ei.shape[1], bool)
        if is_interaction is None
        else is_interaction.numpy().astype(bool)
    )
    return ei, w, inter


def rescore(
    edge_index: torch.Tensor,
    num_nodes: int,
    *,
    weight: torch.Tensor | None,
    is_interaction: torch.Tensor | None,
    extra_features: np.ndarray | None,
    pagerank_scores: np.ndarray,
    model: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores and ranks of a changed graph with an earlier run's engagement model (no refit):
    the incremental update's influence. Returns ``(score, rank, predicted engagement)``."""
    n, pr = num_nodes, pagerank_scores
    ei, w, inter = _edge_arrays(edge_index, weight, is_interaction)
    kind = model.get("features", "none")
    if kind == "all":
        x = _features(ei, w, inter, n, extra_features, pr)
    elif kind == "follows":
        x = _features(ei[:, ~inter], w[~inter], inter[~inter], n, extra_features)
    else:
        x = None
    pred = (
        x @ np.asarray(model["coef"]) + float(model["intercept"])
        if x is not None
        else np.log(pr * n)
    )
    score, rank = scale_scores(_combine(pr, pred), log=False)
    return score, rank, pred


def combine_scores(pr: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score in [0, 1] and rank from PageRank and predicted engagement, as the job combines
    them."""
    return scale_scores(_combine(pr, pred), log=False)


def _received(dst: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(dst, weights=w, minlength=n)


def _features(
    ei: np.ndarray,
    w: np.ndarray,
    inter: np.ndarray,
    n: int,
    extra: np.ndarray | None,
    pr: np.ndarray | None = None,
) -> np.ndarray:
    src, dst = ei
    follow = ~inter
    if pr is None:
        pr = pagerank(torch.from_numpy(ei), n, torch.from_numpy(w))
    cols = [
        np.log1p(np.bincount(dst[follow], minlength=n)),  # followers
        np.log1p(_received(dst[inter], w[inter], n)),  # engagement received so far
        np.log(pr * n),
        np.log1p(np.bincount(src, minlength=n)),  # activity towards others
    ]
    f = np.stack(cols, 1)
    return np.concatenate([f, extra], 1) if extra is not None else f


def _ridge_oof(x: np.ndarray, y: np.ndarray, folds: int, seed: int, alpha: float) -> np.ndarray:
    """Out-of-fold ridge predictions: each user's prediction comes from a model not fitted on it."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = np.empty(len(y))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(x):
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x[train], y[train])
        out[test] = model.predict(x[test])
    return out


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> object:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x, y)


def _combine(pr: np.ndarray, pred: np.ndarray) -> np.ndarray:
    s_pr, _ = scale_scores(pr)
    s_pred, _ = scale_scores(pred, log=False)
    return 0.5 * s_pr + 0.5 * s_pred


def influence_scores(
    edge_index: torch.Tensor,
    num_nodes: int,
    *,
    weight: torch.Tensor | None = None,
    is_interaction: torch.Tensor | None = None,
    edge_time: torch.Tensor | None = None,
    extra_features: np.ndarray | None = None,
    later_fraction: float = 0.3,
    folds: int = 5,
    alpha: float = 10.0,
    seed: int = 0,
    pagerank_scores: np.ndarray | None = None,
) -> InfluenceResult:
    """PageRank + learned engagement component, with the evaluation report described above.

    Args:
        edge_index, num_nodes, weight: the directed graph (engager -> engaged).
        is_interaction: which edges are interactions (engagement); others are follows.
        edge_time: epoch seconds per edge, -1 when unknown; enables the later-window split.
        extra_features: per-user inputs for the learned component (text vector, post count).
        later_fraction: share of timed interactions (by time) held out as the later window.
        pagerank_scores: the whole graph's PageRank when already computed (the incremental
            update's warm-started one).
    """
    n = num_nodes
    ei, w, inter = _edge_arrays(edge_index, weight, is_interaction)
    times = np.full(ei.shape[1], -1) if edge_time is None else edge_time.numpy()
    pr = (
        pagerank(edge_index, n, torch.from_numpy(w.astype(np.float32)))
        if pagerank_scores is None
        else pagerank_scores
    )
    indeg = np.bincount(ei[1], minlength=n)
    report: dict[str, float | int | str] = {}
    timed = inter & (times >= 0)
    folds = max(2, min(folds, n))

    if timed.sum() >= 10 and n >= 2 * folds:
        split = float(np.quantile(times[timed], 1 - later_fraction))
        later = timed & (times >= split)
        early = ~later
        y = np.log1p(_received(ei[1][later], w[later], n))
        x_early = _features(ei[:, early], w[early], inter[early], n, extra_features)
        oof = _ridge_oof(x_early, y, folds, seed, alpha)
        pr_early = x_early[:, 2]
        indeg_early = np.bincount(ei[1][early], minlength=n).astype(np.float64)
        report.update(
            {
                "target": "engagement received in the later window",
                "split_time": int(split),
                "later_interactions": int(later.sum()),
                "spearman_later_pagerank": spearman(pr_early, y),
                "spearman_later_learned": spearman(oof, y),
                "spearman_later_combined": spearman(_combine(np.exp(pr_early), oof), y),
                "spearman_later_indegree": spearman(indeg_early, y),
            }
        )
        model = _ridge(x_early, y, alpha)
        x_all = _features(ei, w, inter, n, extra_features, pr)
        pred = np.asarray(model.predict(x_all))  # type: ignore[attr-defined]
        linear = _as_linear(model, "all")
    elif inter.any() and n >= 2 * folds:
        # No times: explain engagement received from everything except engagement itself.
        y = np.log1p(_received(ei[1][inter], w[inter], n))
        x_all = _features(ei[:, ~inter], w[~inter], inter[~inter], n, extra_features)
        pred = _ridge_oof(x_all, y, folds, seed, alpha)
        # one model on everyone, for later incremental updates (the scores here stay
        # cross-fitted)
        linear = _as_linear(_ridge(x_all, y, alpha), "follows")
        report.update(
            {
                "target": "engagement received (cross-fitted, no timestamps)",
                "spearman_engagement_learned": spearman(pred, y),
                "spearman_engagement_pagerank": spearman(pr, y),
            }
        )
    else:
        pred = np.log(pr * n)  # no engagement data: the learned part has nothing to learn
        report["target"] = "none (no interactions): PageRank only"
        linear = {"features": "none"}
    combined = _combine(pr, pred)
    score, rank = scale_scores(combined, log=False)
    report["spearman_indegree"] = spearman(score, indeg.astype(np.float64))
    report["spearman_pagerank"] = spearman(score, pr)
    return InfluenceResult(score, rank, pr, pred, report, linear)
