"""Neighbour sampling for mini-batch training.

PyG's ``NeighborLoader`` needs pyg-lib or torch-sparse, which are not on PyPI for every
platform (torch-sparse builds from source in ~14 minutes here), so the sampler is ours:
vectorised uniform sampling with replacement from a CSR of incoming edges (``fanout``
neighbours per layer).
"""

from __future__ import annotations

import torch
from graphsona.gnn.encoder import normalise

__all__ = ["NeighbourSampler", "normalise_sorted"]


class NeighbourSampler:
    """Uniform neighbour sampling (with replacement) from a CSR of incoming edges."""

    def __init__(self, edge_index: torch.Tensor, w: torch.Tensor, n: int) -> None:
        order = torch.argsort(edge_index[1] * n + edge_index[0])
        self.src = edge_index[0, order]
        self.w = w[order]
        deg = torch.bincount(edge_index[1], minlength=n)
        self.rowptr = torch.zeros(n + 1, dtype=torch.long, device=edge_index.device)
        self.rowptr[1:] = torch.cumsum(deg, 0)
        self.n = n

    def subgraph(
        self, seeds: torch.Tensor, fanout: tuple[int, ...], gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(nodes, local edge_index, normalised weights); ``nodes[:len(seeds)] == seeds``."""
        nodes, frontier = seeds, seeds
        srcs, dsts, ws = [], [], []
        for k in fanout:
            start, deg = self.rowptr[frontier], self.rowptr[frontier + 1] - self.rowptr[frontier]
            has = deg > 0
            f, start, deg = frontier[has], start[has], deg[has]
            r = torch.rand(len(f), k, generator=gen).to(deg.device)
            pick = start[:, None] + (r * deg[:, None]).long()
            src = self.src[pick].reshape(-1)
            dst = f[:, None].expand(-1, k).reshape(-1)
            srcs.append(src)
            dsts.append(dst)
            ws.append(self.w[pick].reshape(-1))
            new = torch.unique(src)
            known = torch.zeros(self.n, dtype=torch.bool, device=src.device)
            known[nodes] = True
            frontier = new[~known[new]]
            nodes = torch.cat([nodes, frontier])
        local = torch.full((self.n,), -1, dtype=torch.long, device=seeds.device)
        local[nodes] = torch.arange(len(nodes), device=seeds.device)
        ei = torch.stack([local[torch.cat(srcs)], local[torch.cat(dsts)]])
        w = torch.cat(ws)
        return nodes, ei, normalise(ei, w, len(nodes))


def normalise_sorted(sampler: NeighbourSampler) -> torch.Tensor:
    """The sampler's CSR weights normalised per receiver (exact inference uses all neighbours)."""
    n = sampler.n
    deg = sampler.rowptr[1:] - sampler.rowptr[:-1]
    dst = torch.repeat_interleave(torch.arange(n, device=deg.device), deg)
    return normalise(torch.stack([sampler.src, dst]), sampler.w, n)
