"""User profiles: an inductive GraphSAGE encoder trained by self-supervised link prediction.

The first part of issue 4 (model and training recipe). Inputs are per-user feature rows (pooled
text vectors plus structural features from :func:`structural_features`) and the graph's edges;
the objective is to tell held-out real edges from random pairs (negative sampling), with a
validation split and early stopping. GraphSAGE is inductive: a new user with features and edges
gets a profile without retraining (:meth:`ProfileModel.embed`).

The recipe reads top to bottom: setup -> loop (train step, validate, early stop) -> restore the
best weights. Full-batch sparse message passing on the whole graph (the CPU/GPU memory of our
targets fits it); neighbour-sampled mini-batches are a later step.

Example:
    >>> model = ProfileModel(dim=128, seed=0).fit(x, edge_index)             # doctest: +SKIP
    >>> profiles = model.get_embedding()                                      # doctest: +SKIP
"""

from __future__ import annotations

import copy
import itertools
import random
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():  # PyG 2.8 still calls torch.jit.script at import time
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.script.*")
    from torch_geometric.nn import SAGEConv
    from torch_geometric.utils import negative_sampling, to_undirected

from graphsona.errors import ConfigError

__all__ = ["ProfileModel", "TrainHistory", "structural_features"]


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
    return (feats - feats.mean(0)) / feats.std(0).clamp(min=1e-6)


class _Encoder(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out: int, layers: int, dropout: float) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out]
        self.convs = nn.ModuleList(SAGEConv(a, b) for a, b in itertools.pairwise(dims))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
        return x


@dataclass
class TrainHistory:
    """Per-epoch training loss and validation AUC; ``best_epoch`` is the one kept."""

    loss: list[float] = field(default_factory=list)
    val_auc: list[float] = field(default_factory=list)
    best_epoch: int = -1


def _auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Probability a random positive scores above a random negative (ties count half)."""
    scores = torch.cat([pos, neg])
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    n_pos, n_neg = len(pos), len(neg)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class ProfileModel:
    """Profile embeddings by link prediction (keyword hyperparameters, ``fit`` then ``get_embedding``).

    Args:
        dim: profile dimension. hidden, layers, dropout: encoder shape.
        epochs: maximum epochs; patience: epochs without validation gain before stopping.
        lr: Adam learning rate. val_fraction: share of edges held out for validation.
        seed: seeds Python-visible randomness; runs are deterministic on CPU.
        temperature: the cosine decoder's temperature (profiles are unit vectors).
        device: "cuda" when available unless given.
    """

    def __init__(
        self,
        *,
        dim: int = 128,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.2,
        epochs: int = 200,
        patience: int = 20,
        lr: float = 0.01,
        val_fraction: float = 0.1,
        seed: int = 0,
        device: str | None = None,
        temperature: float = 0.2,
    ) -> None:
        if layers < 1 or dim < 1 or not 0 < val_fraction < 1:
            raise ConfigError("need layers >= 1, dim >= 1 and 0 < val_fraction < 1")
        self.dim, self.hidden, self.layers, self.dropout = dim, hidden, layers, dropout
        self.epochs, self.patience, self.lr, self.val_fraction, self.seed = (
            epochs,
            patience,
            lr,
            val_fraction,
            seed,
        )
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.temperature = temperature
        self.history = TrainHistory()
        self._encoder: _Encoder | None = None
        self._embedding: torch.Tensor | None = None

    def fit(self, x: torch.Tensor, edge_index: torch.Tensor) -> ProfileModel:
        """Train on features ``x`` (n x f) and directed ``edge_index`` (2 x m).

        On CPU, deterministic kernels are switched on for the duration (scatter reductions
        otherwise differ run to run in the last float bits), so a seed gives identical profiles.
        """
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(self.device == "cpu" or previous, warn_only=True)
        try:
            return self._fit(x, edge_index)
        finally:
            torch.use_deterministic_algorithms(previous)

    def _fit(self, x: torch.Tensor, edge_index: torch.Tensor) -> ProfileModel:
        # --- setup (PyG's negative sampling draws from Python's and torch's generators)
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        n = x.shape[0]
        perm = torch.randperm(edge_index.shape[1], generator=gen)
        n_val = max(1, int(self.val_fraction * edge_index.shape[1]))
        val_pos, train_pos = edge_index[:, perm[:n_val]], edge_index[:, perm[n_val:]]
        val_neg = negative_sampling(edge_index, num_nodes=n, num_neg_samples=n_val)
        x, train_pos = x.to(self.device), train_pos.to(self.device)
        message_edges = to_undirected(train_pos, num_nodes=n)  # messages flow both ways
        enc = _Encoder(x.shape[1], self.hidden, self.dim, self.layers, self.dropout).to(self.device)
        opt = torch.optim.Adam(enc.parameters(), lr=self.lr)
        best, best_state, waited = -1.0, copy.deepcopy(enc.state_dict()), 0
        # --- loop
        for epoch in range(self.epochs):
            enc.train()
            opt.zero_grad()
            z = enc(x, message_edges)
            neg = negative_sampling(train_pos, num_nodes=n, num_neg_samples=train_pos.shape[1])
            pos_s = self._decode(z, train_pos[0], train_pos[1])
            neg_s = self._decode(z, neg[0], neg[1])
            loss = F.binary_cross_entropy_with_logits(
                torch.cat([pos_s, neg_s]),
                torch.cat([torch.ones_like(pos_s), torch.zeros_like(neg_s)]),
            )
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            # --- evaluate
            auc = self._score(enc, x, message_edges, val_pos, val_neg)
            self.history.loss.append(float(loss.detach()))
            self.history.val_auc.append(auc)
            if auc > best:
                best, best_state, waited, self.history.best_epoch = (
                    auc,
                    copy.deepcopy(enc.state_dict()),
                    0,
                    epoch,
                )
            else:
                waited += 1
                if waited >= self.patience:
                    break
        # --- save the best
        enc.load_state_dict(best_state)
        self._encoder = enc
        self._message_edges = message_edges
        self._embedding = self.embed(x, message_edges)
        return self

    @torch.no_grad()
    def _score(
        self,
        enc: _Encoder,
        x: torch.Tensor,
        edges: torch.Tensor,
        pos: torch.Tensor,
        neg: torch.Tensor,
    ) -> float:
        enc.eval()
        z = enc(x, edges)
        pos, neg = pos.to(z.device), neg.to(z.device)
        return _auc(self._decode(z, pos[0], pos[1]).cpu(), self._decode(z, neg[0], neg[1]).cpu())

    def _decode(self, z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Link logits: cosine / temperature. A plain dot product lets hubs grow long vectors
        that look similar to everyone; the cosine decoder keeps profiles on the unit sphere."""
        zn = F.normalize(z, dim=-1)
        return (zn[a] * zn[b]).sum(-1) / self.temperature

    @torch.no_grad()
    def embed(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Profiles for any graph with the training feature layout (inductive use)."""
        if self._encoder is None:
            raise ConfigError("call fit() before embed()")
        self._encoder.eval()
        z: torch.Tensor = self._encoder(x.to(self.device), edge_index.to(self.device))
        return F.normalize(z, dim=-1).cpu()

    def get_embedding(self) -> torch.Tensor:
        """The fitted graph's profiles, ``n x dim``."""
        if self._embedding is None:
            raise ConfigError("call fit() before get_embedding()")
        return self._embedding

    def link_scores(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Decoder logits of candidate links (cosine / temperature), higher is likelier."""
        return self._decode(self.get_embedding(), src, dst)
