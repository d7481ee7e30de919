"""The profile encoder: weighted-mean GraphSAGE layers (PyG ``GraphConv``) over a sparse
adjacency, plus the structural input features and the adjacency helpers it runs on.

Message passing is a sparse (CSR) adjacency times the feature matrix, never a materialised
message per edge. Edge weights are normalised to sum to one per receiving user, so each layer is
``h_i' = W1 h_i + W2 sum_j a_ji h_j``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():  # PyG 2.8 still calls torch.jit.script at import time
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.script.*")
    from torch_geometric.nn import GraphConv

__all__ = [
    "Encoder",
    "csr_adjacency",
    "normalise",
    "self_loops_for_isolated",
    "structural_features",
]


def structural_features(
    edge_index: torch.Tensor, num_nodes: int, n_posts: np.ndarray | None = None
) -> torch.Tensor:
    """``log1p`` of in-degree, out-degree and (when given) post count, standardised."""
    src, dst = edge_index
    cols = [
        torch.bincount(dst, minlength=num_nodes).float(),
        torch.bincount(src, minlength=num_nodes).float(),
    ]
    if n_posts is not None:
        cols.append(torch.tensor(np.asarray(n_posts), dtype=torch.float32))
    feats = torch.log1p(torch.stack(cols, dim=1))
    if num_nodes < 2:  # one user: no spread to standardise by (std of one row is NaN)
        return torch.zeros_like(feats)
    return (feats - feats.mean(0)) / feats.std(0).clamp(min=1e-6)


def normalise(edge_index: torch.Tensor, weight: torch.Tensor, n: int) -> torch.Tensor:
    """Edge weights divided by the receiving node's total, so each layer is a weighted mean."""
    total = torch.zeros(n, dtype=weight.dtype, device=weight.device).index_add_(
        0, edge_index[1], weight
    )
    return weight / total[edge_index[1]].clamp(min=1e-12)


def csr_adjacency(
    edge_index: torch.Tensor, w: torch.Tensor, n_dst: int, n_src: int
) -> torch.Tensor:
    """Sparse CSR adjacency with rows = receivers, columns = senders, values = weights.

    PyG convs given a sparse adjacency aggregate with one sparse-dense product instead of
    materialising a message per edge (edges x features floats): about 3.6x faster on CPU and
    memory proportional to the edge count, which is what makes 1M-user graphs fit.

    On the CPU the CSR arrays come from scipy's COO-to-CSR conversion (a counting sort, repeats
    summed): 0.09 s instead of 1.4 s for torch's coalesce at 2.9M edges, the same matrix."""
    if edge_index.device.type == "cpu" and w.device.type == "cpu":
        from scipy.sparse import csr_matrix

        m = csr_matrix(
            (w.detach().numpy(), (edge_index[1].numpy(), edge_index[0].numpy())),
            shape=(n_dst, n_src),
        )
        m.sum_duplicates()  # canonical: columns sorted within each row, repeats summed
        with warnings.catch_warnings():  # "sparse CSR support is in beta": used as documented
            warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support.*")
            return torch.sparse_csr_tensor(
                torch.from_numpy(m.indptr.astype(np.int64)),
                torch.from_numpy(m.indices.astype(np.int64)),
                torch.from_numpy(m.data),
                (n_dst, n_src),
                check_invariants=False,
            )
    adj = torch.sparse_coo_tensor(
        torch.stack([edge_index[1], edge_index[0]]), w, (n_dst, n_src), check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": used as documented
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support.*")
        return adj.to_sparse_csr()


class Encoder(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out: int, layers: int, dropout: float) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out]
        self.convs = nn.ModuleList(GraphConv(a, b, aggr="add") for a, b in itertools.pairwise(dims))
        self.dropout = dropout

    def layer(self, i: int, x: Any, adj: torch.Tensor) -> torch.Tensor:
        h: torch.Tensor = self.convs[i](x, adj)
        if i < len(self.convs) - 1:
            h = F.dropout(F.relu(h), p=self.dropout, training=self.training)
        return h

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        for i in range(len(self.convs)):
            x = self.layer(i, x, adj)
        return x


def self_loops_for_isolated(
    edge_index: torch.Tensor, w: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A user with no neighbours aggregates itself: its neighbour mean becomes its own features,
    like a user surrounded by look-alikes, instead of an all-zero input the layers never saw.
    This keeps profiles of users without edges (text only) comparable to everyone else's."""
    deg = torch.bincount(edge_index[1], minlength=n)
    lonely = torch.nonzero(deg == 0).ravel()
    if len(lonely) == 0:
        return edge_index, w
    loops = torch.stack([lonely, lonely])
    return torch.cat([edge_index, loops], 1), torch.cat([w, torch.ones(len(lonely), dtype=w.dtype)])
