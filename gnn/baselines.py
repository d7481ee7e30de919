"""Graph-embedding baselines that the profiles must beat, and a check that profiles have not
collapsed.

* :func:`fastrp`: FastRP (Chen et al., 2019; the algorithm Neo4j GDS ships), computed with scipy
  without a server: a very sparse random projection propagated over the row-normalised adjacency,
  each hop's rows L2-normalised, hops summed with weights (GDS's defaults: hop 0 weight 0, hops
  1 to 3 weight 1).
* :func:`spectral`: a Laplacian-eigenmap embedding from scikit-learn
  (``sklearn.manifold.spectral_embedding``).
* :func:`profile_spread`: the mean cosine between random pairs of profiles (near 1: every user
  looks alike) and the effective rank of the profile matrix (how many directions carry its
  variance; 1 is total collapse).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["fastrp", "fastrp_basis", "fastrp_rows", "profile_spread", "spectral"]


def _adjacency(edge_index: torch.Tensor, n: int, weight: torch.Tensor | None = None) -> object:
    from scipy.sparse import csr_matrix

    ei = edge_index.numpy()
    w = np.ones(ei.shape[1]) if weight is None else weight.double().numpy()
    a = csr_matrix((w, (ei[0], ei[1])), shape=(n, n))
    return (a + a.T).tocsr()  # undirected: follows and interactions count both ways


def fastrp_basis(n: int, dim: int, seed: int = 0) -> object:
    """The very sparse random matrix FastRP propagates (``n x dim``, scipy sparse): entries
    +-sqrt(3) with probability 1/6 each, else 0 (Achlioptas)."""
    from scipy.sparse import random as sparse_random

    rng = np.random.default_rng(seed)
    density = 1 / 3
    r = sparse_random(n, dim, density=density, random_state=rng, data_rvs=lambda k: rng.choice(
        [-1.0, 1.0], size=k
    )) * np.sqrt(1 / density)  # fmt: skip
    return r


def fastrp_rows(keys: list[str], dim: int, seed: int = 0) -> np.ndarray:
    """Basis rows for nodes added after a basis was drawn (the incremental update's new users),
    each drawn from a generator seeded by the node's key, so the same user always gets the
    same row: ``len(keys) x dim`` with the distribution of :func:`fastrp_basis`."""
    import hashlib

    out = np.zeros((len(keys), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
        rng = np.random.default_rng(int.from_bytes(digest, "little"))
        u = rng.random(dim)
        out[i] = np.where(u < 1 / 6, -1.0, np.where(u < 1 / 3, 1.0, 0.0)) * np.sqrt(3.0)
    return out


def fastrp(
    edge_index: torch.Tensor,
    n: int,
    *,
    dim: int = 128,
    weights: tuple[float, ...] = (0.0, 1.0, 1.0, 1.0),
    weight: torch.Tensor | None = None,
    seed: int = 0,
    basis: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """FastRP embeddings, ``n x dim`` (rows of isolated users are 0); ``basis`` (``n x dim``,
    dense) replaces the random matrix drawn from ``seed`` (the incremental update keeps each
    user's row of the full run's); ``rows``: only these rows are returned (``len(rows) x
    dim``), and the last propagation step is computed for them alone.

    In float32 (the propagation of a 100k-user graph: 0.43 s a step instead of 0.79 s in
    float64; the rows are normalised after each step, so float32 loses nothing that
    matters)."""
    from scipy.sparse import diags

    a = _adjacency(edge_index, n, weight)
    deg = np.asarray(a.sum(axis=1)).ravel()  # type: ignore[attr-defined]
    s = (diags(np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)) @ a).astype(np.float32)
    h = (
        np.asarray(basis, dtype=np.float32)
        if basis is not None
        else (
            fastrp_basis(n, dim, seed).toarray().astype(np.float32)  # type: ignore[attr-defined]
        )
    )

    def pick(m: np.ndarray) -> np.ndarray:
        return m if rows is None else m[rows]

    out = weights[0] * pick(h)
    for i, w in enumerate(weights[1:]):
        last = i == len(weights) - 2
        h = (pick(s) if last else s) @ h  # the last step: the wanted rows only
        norm = np.linalg.norm(h, axis=1, keepdims=True)
        h = np.divide(h, norm, out=np.zeros_like(h), where=norm > 0)
        out = out + w * (h if last else pick(h))
    return np.asarray(out, dtype=np.float32)


LOBPCG_ABOVE = 5_000  # users; below, ARPACK (exact and quick at this size)


def spectral(edge_index: torch.Tensor, n: int, *, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Laplacian eigenmaps of the undirected graph, ``n x dim`` (fewer when ``n`` is small).

    Above :data:`LOBPCG_ABOVE` users the eigenvectors come from LOBPCG instead of ARPACK:
    scikit-learn's ARPACK path factorises the Laplacian for shift-invert, which took 959 s on
    git_web_ml (37.7k users, 289k links) against 16 s for LOBPCG on this 2-core machine."""
    import warnings

    from sklearn.manifold import spectral_embedding

    k = max(1, min(dim, n - 2))
    solver = "lobpcg" if n > LOBPCG_ABOVE else "arpack"
    with warnings.catch_warnings():  # "graph is not fully connected": expected on social graphs
        warnings.simplefilter("ignore", UserWarning)
        emb = spectral_embedding(
            _adjacency(edge_index, n), n_components=k, random_state=seed, eigen_solver=solver
        )
    return np.asarray(emb, dtype=np.float32)


def profile_spread(z: np.ndarray, *, pairs: int = 20_000, seed: int = 0) -> dict[str, float]:
    """``mean_cosine`` of random pairs of distinct users and ``effective_rank`` of ``z``."""
    z = np.asarray(z, dtype=np.float64)
    n = z.shape[0]
    if n < 2:
        return {"mean_cosine": float("nan"), "effective_rank": float("nan")}
    unit = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    keep = i != j
    cos = (unit[i[keep]] * unit[j[keep]]).sum(1)
    sv = np.linalg.svd(unit[rng.permutation(n)[:5000]], compute_uv=False)
    p = sv**2 / max((sv**2).sum(), 1e-12)
    entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    return {"mean_cosine": float(cos.mean()), "effective_rank": float(np.exp(entropy))}
