"""Ranking metrics and link-prediction baselines, shared by benchmarks and ``graphsona evaluate``.

Who-to-follow is scored as a ranking problem: for each source user with held-out follows, every
user except the source and those it already follows (in the training graph) is a candidate;
``recall@k`` is the share of a source's held-out targets in its top ``k`` (averaged over
sources) and ``MRR`` averages ``1 / rank`` of each held-out target (ties rank pessimistically:
a target tied with others is placed after them).

Scores come from a ``scorer(sources) -> (len(sources) x n) array``; baselines here:
:func:`adamic_adar_scorer`, :func:`common_neighbours_scorer`, :func:`popularity_scorer`, and
:func:`cosine_scorer` for any embedding (text-only, graph-only, profiles).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from graphsona.gnn.decoder import link_logit

__all__ = [
    "Scorer",
    "adamic_adar_scorer",
    "common_neighbours_scorer",
    "cosine_scorer",
    "decoder_scorer",
    "decoder_scorer_of",
    "hold_out_pairs",
    "popularity_scorer",
    "ranking_metrics",
    "split_edges",
]

Scorer = Callable[[np.ndarray], np.ndarray]


def hold_out_pairs(
    edge_index: torch.Tensor,
    follow: torch.Tensor,
    n: int,
    fraction: float,
    *,
    time: torch.Tensor | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(held-out follows, mask of the edges kept for training, how they were chosen).

    ``fraction`` of the follows (``follow``: bool mask over edges) is chosen, the latest by
    ``time`` when every follow has one (>= 0), else a seeded random sample. A chosen follow
    ``u -> v`` takes every link between ``u`` and ``v`` with it, in both directions: the reverse
    follow ``v -> u`` is held out too (a target), and interactions between the two are dropped.
    Otherwise a held-out follow whose reverse stays would be given away to every method that
    scores neighbours (on networks of mutual follows, to all of them), and an interaction would
    leak it the same way.
    """
    fidx = torch.nonzero(follow).ravel()
    k = max(1, round(fraction * len(fidx)))
    times = time[fidx] if time is not None else None
    if times is not None and len(fidx) and bool((times >= 0).all()):
        order = fidx[torch.argsort(times, stable=True)]
        how = "by time: the latest follows are held out, with any reverse follow"
    else:
        order = fidx[torch.randperm(len(fidx), generator=torch.Generator().manual_seed(seed))]
        how = f"random (seed {seed}): follows and any reverse follow held out together"
    chosen = edge_index[:, order[len(order) - k :]].long()
    lo, hi = torch.minimum(chosen[0], chosen[1]), torch.maximum(chosen[0], chosen[1])
    pair_keys = torch.unique(lo * n + hi)
    e = edge_index.long()
    key = torch.minimum(e[0], e[1]) * n + torch.maximum(e[0], e[1])
    between = torch.isin(key, pair_keys)
    held = edge_index[:, between & follow]
    return held, ~between, how


def split_edges(
    edge_index: torch.Tensor,
    fraction: float,
    *,
    time: torch.Tensor | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(train, held-out, how): the latest ``fraction`` of edges by time when every edge has a
    time (>= 0), else a seeded random ``fraction``."""
    m = edge_index.shape[1]
    k = max(1, round(fraction * m))
    if time is not None and len(time) == m and bool((time >= 0).all()):
        order = torch.argsort(time, stable=True)
        how = "by time (latest edges held out)"
    else:
        order = torch.randperm(m, generator=torch.Generator().manual_seed(seed))
        how = f"random (seed {seed})"
    return edge_index[:, order[: m - k]], edge_index[:, order[m - k :]], how


def _adjacency(edge_index: torch.Tensor, n: int, undirected: bool = True):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix

    src, dst = edge_index.numpy()
    if undirected:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    a = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    a.data[:] = 1.0  # duplicates collapse to one link
    return a


def adamic_adar_scorer(train: torch.Tensor, n: int) -> Scorer:
    """Sum over shared neighbours w of 1 / log(deg w), on the undirected training graph."""
    from scipy.sparse import diags

    a = _adjacency(train, n)
    deg = np.asarray(a.sum(1)).ravel()
    inv = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2)), 0.0)
    right = (diags(inv) @ a).tocsr()
    return lambda s: np.asarray((a[s] @ right).todense())


def common_neighbours_scorer(train: torch.Tensor, n: int) -> Scorer:
    a = _adjacency(train, n)
    return lambda s: np.asarray((a[s] @ a).todense())


def popularity_scorer(train: torch.Tensor, n: int) -> Scorer:
    """Everyone gets the same ranking: by followers in the training graph."""
    indeg = np.bincount(train[1].numpy(), minlength=n).astype(np.float64)
    return lambda s: np.broadcast_to(indeg, (len(s), n))


def cosine_scorer(z: torch.Tensor | np.ndarray) -> Scorer:
    v = torch.as_tensor(z, dtype=torch.float32)
    v = torch.nn.functional.normalize(v, dim=1)
    return lambda s: (v[torch.as_tensor(s)] @ v.T).numpy()


def decoder_scorer_of(profiles: torch.Tensor, bias: torch.Tensor) -> Scorer:
    """The trained link decoder from stored profiles (unit rows) and target biases."""
    return lambda s: link_logit(profiles[torch.as_tensor(s)] @ profiles.T, bias[None, :]).numpy()


def decoder_scorer(model: object) -> Scorer:
    """The trained link decoder of a fitted :class:`~graphsona.gnn.ProfileModel`:
    ``cos(z_u, z_v) / T + bias_v``."""
    z = model.get_embedding()  # type: ignore[attr-defined]
    bias = model.get_target_bias()  # type: ignore[attr-defined]
    t = model.temperature  # type: ignore[attr-defined]
    return lambda s: link_logit(z[torch.as_tensor(s)] @ z.T, bias[None, :], t).numpy()


def ranking_metrics(
    scorer: Scorer,
    train: torch.Tensor,
    held_out: torch.Tensor,
    n: int,
    *,
    ks: tuple[int, ...] = (10, 20),
    max_sources: int | None = 2000,
    seed: int = 0,
    batch: int = 256,
) -> dict[str, float]:
    """recall@k for each k and MRR of held-out edges (see the module docstring).

    ``max_sources`` samples that many sources (seeded) when there are more, for speed.
    """
    from scipy.sparse import csr_matrix

    hs, hd = held_out.numpy()
    sources = np.unique(hs)
    if max_sources is not None and len(sources) > max_sources:
        sources = np.sort(np.random.default_rng(seed).choice(sources, max_sources, replace=False))
    known = csr_matrix(
        (np.ones(train.shape[1]), (train[0].numpy(), train[1].numpy())), shape=(n, n)
    )
    targets = csr_matrix((np.ones(len(hs)), (hs, hd)), shape=(n, n))
    recalls: dict[int, list[float]] = {k: [] for k in ks}
    rr: list[float] = []
    for lo in range(0, len(sources), batch):
        s = sources[lo : lo + batch]
        scores = np.array(scorer(s), dtype=np.float64)
        rows = np.arange(len(s))
        scores[rows, s] = -np.inf  # never yourself
        kn = known[s].tocoo()
        scores[kn.row, kn.col] = -np.inf  # nor someone already followed
        tg = targets[s].tocoo()
        t_score = scores[tg.row, tg.col]
        # pessimistic rank: how many candidates score >= the target (the target included), by
        # binary search in each source's sorted scores: comparing every target with its whole
        # row took minutes on 38k users with tens of held-out follows per source
        ordered = np.sort(scores, axis=1)
        rank = np.empty(len(t_score), dtype=np.int64)
        for r in np.unique(tg.row):
            at = tg.row == r
            rank[at] = n - np.searchsorted(ordered[r], t_score[at], side="left")
        rr.extend((1.0 / rank).tolist())
        n_t = np.bincount(tg.row, minlength=len(s))
        for k in ks:
            hit = np.bincount(tg.row, weights=(rank <= k).astype(float), minlength=len(s))
            recalls[k].extend((hit[n_t > 0] / n_t[n_t > 0]).tolist())
    out = {f"recall@{k}": float(np.mean(v)) if v else float("nan") for k, v in recalls.items()}
    out["mrr"] = float(np.mean(rr)) if rr else float("nan")
    out["sources"] = float(len(sources))
    return out
