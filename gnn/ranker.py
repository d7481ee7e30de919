"""Who-to-follow in two stages, as production recommenders do: candidates, then a learned ranker.

**Candidates** for a source user ``u`` (never ``u`` itself nor anyone ``u`` already follows):

* the 2-hop neighbourhood (users linked to ``u``'s neighbours), the top :data:`HOP2` by
  Adamic-Adar when there are more;
* the top :data:`ANN` by the profile decoder (``cos(z_u, z_v) / T + b_v``);
* the top :data:`ANN` by FastRP cosine (3-hop structure, see :func:`~.baselines.fastrp`);
* the :data:`POPULAR` most followed users.

**Ranker** (:class:`LinkRanker`): a logistic regression (scikit-learn) over the per-pair
features in :data:`FEATURES`, trained on follows held out of the graph the features are computed
on (:func:`training_pairs`): it learns how much each signal is worth on *this* network
(Adamic-Adar wins on some real graphs, FastRP or the profiles on others) instead of the job
betting on one. Measured choices (BENCHMARKS.md, "Who-to-follow"):

* logistic regression, not gradient boosting: on the small real networks (a few hundred
  held-out follows to learn from) boosting overfitted and lost to logistic regression by up to
  0.19 recall@20; on the larger ones they were within 0.02. A linear model is also a few
  numbers, kept in the store as JSON next to the profiles, and each score reads as a sum of
  named contributions;
* counts enter as ``log(1 + x)`` (heavy-tailed; a linear model needs them compressed);
* no text-cosine feature: the profiles already carry the text, and the store keeps profiles,
  not the pooled text vectors, so recommendations are served from the store alone;
* no follow-back feature: a held-out follow leaves with its reverse (see
  :func:`~graphsona.gnn.metrics.hold_out_pairs`), so held-out positives never have one while
  other candidates may, and the ranker learned follow-back as a strong *negative* (weight -1.4
  on polblogs), the opposite of what it means on a directed network.

Example:
    >>> g = PairGraph.build(edge_index, follows, n, z=z, bias=b)     # doctest: +SKIP
    >>> src, dst, x = candidates(g, np.array([0, 1]))                        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from graphsona.gnn.decoder import link_logit

__all__ = [
    "ANN",
    "FEATURES",
    "HOP2",
    "POPULAR",
    "LinkRanker",
    "PairGraph",
    "candidates",
    "fit_ranker",
    "training_pairs",
]

HOP2 = 200  # 2-hop candidates kept per source (by Adamic-Adar)
ANN = 50  # nearest candidates per embedding (decoder, FastRP)
POPULAR = 20  # most-followed users added as candidates
FASTRP_DIM = 128

FEATURES = (
    "decoder",  # cos(z_u, z_v) / T + b_v: the trained link decoder
    "profile_cosine",  # cos(z_u, z_v)
    "fastrp_cosine",
    "log_adamic_adar",
    "log_resource_allocation",  # log(1 + 100 RA)
    "log_common_neighbours",
    "jaccard",
    "log_paths",  # u -> m -> v follow paths
    "log_degree_u",
    "log_degree_v",
    "log_followers_v",
    "log_following_u",
)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return out


@dataclass
class PairGraph:
    """One graph's pair-feature sources: undirected links, directed follows, degrees, FastRP,
    and the profiles (unit rows) with their follow biases."""

    n: int
    a: Any  # scipy csr, undirected binary adjacency (follows and interactions)
    f: Any  # scipy csr, directed follows (row follows column)
    aa_right: Any  # diag(1 / log deg) @ a
    ra_right: Any  # diag(1 / deg) @ a
    deg: np.ndarray
    followers: np.ndarray
    following: np.ndarray
    fr: np.ndarray  # unit FastRP rows (0 for users without links)
    z: np.ndarray  # unit profiles
    bias: np.ndarray
    blocked: np.ndarray  # bool: never a candidate (users without edges and text)

    @classmethod
    def build(
        cls,
        edge_index: torch.Tensor,
        follows: torch.Tensor,
        n: int,
        *,
        z: torch.Tensor | np.ndarray,
        bias: torch.Tensor | np.ndarray,
        blocked: np.ndarray | None = None,
    ) -> PairGraph:
        """``edge_index``: every link (follows and interactions); ``follows``: the follows."""
        from graphsona.gnn.baselines import fastrp
        from scipy.sparse import csr_matrix, diags

        ei = edge_index.numpy()
        src, dst = np.concatenate([ei[0], ei[1]]), np.concatenate([ei[1], ei[0]])
        keep = src != dst
        a = csr_matrix((np.ones(int(keep.sum()), np.float32), (src[keep], dst[keep])), (n, n))
        a.data[:] = 1.0
        deg = np.asarray(a.sum(1)).ravel()
        fi = follows.numpy()
        f = csr_matrix((np.ones(fi.shape[1], np.float32), (fi[0], fi[1])), (n, n))
        f.data[:] = 1.0
        inv_log = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2)), 0.0).astype(np.float32)
        inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1), 0.0).astype(np.float32)
        return cls(
            n=n,
            a=a,
            f=f,
            aa_right=(diags(inv_log) @ a).tocsr(),
            ra_right=(diags(inv) @ a).tocsr(),
            deg=deg,
            followers=np.asarray(f.sum(0)).ravel(),
            following=np.asarray(f.sum(1)).ravel(),
            fr=_unit(fastrp(edge_index, n, dim=FASTRP_DIM, seed=0)),
            z=_unit(np.asarray(z, dtype=np.float32)),
            bias=np.asarray(bias, dtype=np.float32),
            blocked=np.zeros(n, bool) if blocked is None else np.asarray(blocked, dtype=bool),
        )


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1] - 1)
    if k <= 0:
        return np.zeros((scores.shape[0], 0), np.int64)
    return np.argpartition(-scores, k - 1, axis=1)[:, :k]


def candidates(
    g: PairGraph,
    sources: np.ndarray,
    *,
    hop2: int = HOP2,
    ann: int = ANN,
    popular: int = POPULAR,
    exclude: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst, features) of every candidate pair for ``sources`` (see the module docstring).

    ``exclude`` (csr, n x n): pairs never to propose besides ``g``'s follows (e.g. evaluation's
    training follows when ``g`` is a smaller graph)."""
    s = np.asarray(sources, dtype=np.int64)
    m, n = len(s), g.n
    rows = np.arange(m)[:, None]
    cn = (g.a[s] @ g.a).toarray()
    aa = (g.a[s] @ g.aa_right).toarray()
    ra = (g.a[s] @ g.ra_right).toarray()
    paths = (g.f[s] @ g.f).toarray()
    cos = g.z[s] @ g.z.T
    dec = link_logit(cos, g.bias[None, :])
    frc = g.fr[s] @ g.fr.T

    cand = np.zeros((m, n), bool)
    two_hop = np.where(cn > 0, aa + 1e-3 * cn, -np.inf)
    top = _top(two_hop, hop2)
    cand[rows, top] = np.isfinite(two_hop[rows, top])
    for scores in (dec, frc):
        cand[rows, _top(scores, ann)] = True
    if popular:
        cand[:, np.argsort(-g.followers, kind="stable")[:popular]] = True
    cand[:, g.blocked] = False
    cand[np.arange(m), s] = False
    fc = g.f[s].tocoo()
    cand[fc.row, fc.col] = False
    if exclude is not None:
        ec = exclude[s].tocoo()
        cand[ec.row, ec.col] = False
    r, c = np.nonzero(cand)
    u, v = s[r], c
    x = np.column_stack(
        [
            dec[r, c],
            cos[r, c],
            frc[r, c],
            np.log1p(aa[r, c]),
            np.log1p(100 * ra[r, c]),
            np.log1p(cn[r, c]),
            cn[r, c] / np.maximum(g.deg[u] + g.deg[v] - cn[r, c], 1),
            np.log1p(paths[r, c]),
            np.log1p(g.deg[u]),
            np.log1p(g.deg[v]),
            np.log1p(g.followers[v]),
            np.log1p(g.following[u]),
        ]
    ).astype(np.float32)
    return u, v, x


def training_pairs(
    g: PairGraph,
    held: torch.Tensor,
    *,
    max_sources: int = 2000,
    seed: int = 0,
    block: int = 128,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, source) for the ranker: candidates of ``g`` (a graph without the
    ``held`` follows) for up to ``max_sources`` of their sources, labelled 1 where held out."""
    hs, hd = held.numpy()
    sources = np.unique(hs)
    if len(sources) > max_sources:
        sources = np.sort(np.random.default_rng(seed).choice(sources, max_sources, replace=False))
    pos = set((hs * g.n + hd).tolist())
    xs, ys, ss = [], [], []
    for lo in range(0, len(sources), block):
        u, v, x = candidates(g, sources[lo : lo + block])
        xs.append(x)
        ys.append(np.fromiter(((a * g.n + b) in pos for a, b in zip(u, v, strict=True)), bool))
        ss.append(u)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ss)


@dataclass(frozen=True)
class LinkRanker:
    """A fitted logistic regression over standardised :data:`FEATURES`.

    ``score(x)`` is the logit; ``to_dict``/``from_dict`` round-trip through JSON (the profile
    job stores it with the results). ``info`` says what it was trained on.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    info: dict[str, Any]

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, seed: int = 0, **info: Any) -> LinkRanker:
        from sklearn.linear_model import LogisticRegression

        if x.shape[1] != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} feature columns, got {x.shape[1]}")
        mean = x.mean(0)
        scale = x.std(0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        model = LogisticRegression(max_iter=2000, random_state=seed)
        model.fit((x - mean) / scale, y.astype(int))
        return cls(
            features=FEATURES,
            mean=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in scale),
            coef=tuple(float(v) for v in model.coef_[0]),
            intercept=float(model.intercept_[0]),
            info={"pairs": len(y), "positives": int(y.sum()), **info},
        )

    def score(self, x: np.ndarray) -> np.ndarray:
        """Logits (higher: likelier to be followed)."""
        z = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.scale, np.float32)
        out: np.ndarray = z @ np.asarray(self.coef, np.float32) + np.float32(self.intercept)
        return out

    def weights(self) -> dict[str, float]:
        """Each feature's weight per standard deviation (what the ranker learned to trust)."""
        return dict(zip(self.features, self.coef, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinkRanker:
        """From :meth:`to_dict`; one saved with other features (another version) is refused."""
        if tuple(d.get("features", ())) != FEATURES:
            raise ValueError("the stored ranker was trained on other features")
        return cls(
            features=FEATURES,
            mean=tuple(d["mean"]),
            scale=tuple(d["scale"]),
            coef=tuple(d["coef"]),
            intercept=float(d["intercept"]),
            info=dict(d.get("info", {})),
        )


def fit_ranker(
    g: PairGraph, held: torch.Tensor, *, max_sources: int = 2000, seed: int = 0
) -> LinkRanker | None:
    """The ranker for graph ``g`` (built without the ``held`` follows), or None when no held-out
    follow lands among the candidates (nothing to learn from)."""
    x, y, src = training_pairs(g, held, max_sources=max_sources, seed=seed)
    if y.sum() < 1 or y.all():
        return None
    return LinkRanker.fit(x, y, seed=seed, sources=len(np.unique(src)), held_out=int(held.shape[1]))
