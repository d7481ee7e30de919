"""User profiles: an inductive GraphSAGE-style encoder trained by self-supervised link prediction.

Inputs are per-user feature rows (pooled text vectors plus :func:`structural_features`) and the
graph's edges with weights; the objective tells real edges ``u -> v`` from corrupted ones
``u -> w`` (random ``w``), with a validation split and early stopping. The encoder is inductive:
a new user with features and edges gets a profile without retraining (:meth:`ProfileModel.embed`).

**Decoder.** ``logit(u -> v) = cos(z_u, z_v) / T + b_v``: profiles are unit vectors (a dot
product would let hubs look similar to everyone) and ``b_v``, an extra output of the encoder, is
``v``'s learned follow bias (how followable ``v`` is to anyone), which a symmetric similarity
cannot express; without it recall@20 on held-out follows drops from 0.26 to 0.05
(BENCHMARKS.md).

**Layers.** Each layer is PyG's ``GraphConv`` with edge weights normalised to sum to one per
receiving user, i.e. GraphSAGE with a *weighted* mean: ``h_i' = W1 h_i + W2 sum_j a_ji h_j``.
With ``weighted=False`` every neighbour counts the same (plain GraphSAGE-mean). Edges are the
union of follows and interactions, messages flow both ways; interaction kinds enter through
their weights (see ``graph.export.DEFAULT_KIND_WEIGHTS``). BENCHMARKS.md records why (weighted
vs unweighted vs follows-only on the same split).

**Full batch or mini-batches.** Message passing is a sparse (CSR) adjacency times the feature
matrix, never a materialised message per edge. Full batch when the graph fits the device
(checked against free GPU memory, or available RAM on CPU); otherwise, or when ``batch_size`` is given,
mini-batches of training edges with neighbour sampling. PyG's ``NeighborLoader`` needs pyg-lib or
torch-sparse, which are not on PyPI for every platform (torch-sparse builds from source in ~14
minutes here), so the sampler is ours: vectorised uniform sampling with replacement from a CSR
(``fanout`` neighbours per layer), and layer-wise exact inference for the final profiles. The
recipe is the same either way.

**Checkpoints.** ``fit(..., checkpoint=path)`` saves the encoder, optimiser, best weights, history
and random-generator states every ``checkpoint_every`` epochs, with the model config and a data
fingerprint. A later ``fit`` with the same config and data resumes where it stopped (a finished
one returns at once) and gives the same profiles as an uninterrupted run on CPU; changed data or
a changed model starts afresh.

Parts: the encoder and its adjacency helpers (:mod:`.encoder`), the neighbour sampler
(:mod:`.sampler`), checkpoints (:mod:`.checkpoints`) and the decoder (:mod:`.decoder`); this
module is the training recipe. It reads top to bottom in :meth:`ProfileModel._fit`: setup -> loop (train step,
validate, early stop, checkpoint) -> restore the best weights.

Example:
    >>> model = ProfileModel(dim=128, seed=0).fit(x, edge_index, edge_weight)  # doctest: +SKIP
    >>> profiles = model.get_embedding()                                        # doctest: +SKIP
"""

from __future__ import annotations

import copy
import itertools
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

with warnings.catch_warnings():  # PyG 2.8 still calls torch.jit.script at import time
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.script.*")
    from torch_geometric.utils import negative_sampling, to_undirected

from graphsona.errors import ConfigError
from graphsona.gnn.checkpoints import data_fingerprint, resume_checkpoint, save_checkpoint
from graphsona.gnn.decoder import DECODER_TEMPERATURE, link_logit
from graphsona.gnn.encoder import (
    Encoder,
    csr_adjacency,
    normalise,
    self_loops_for_isolated,
    structural_features,
)
from graphsona.gnn.sampler import NeighbourSampler, normalise_sorted

__all__ = [
    "EdgeSplit",
    "ProfileModel",
    "TrainHistory",
    "data_fingerprint",
    "node_share",
    "structural_features",
]


@dataclass
class TrainHistory:
    """Per-epoch training loss, validation AUC and seconds; ``best_epoch`` is the one kept."""

    loss: list[float] = field(default_factory=list)
    val_auc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    resumed_at: int | None = None  # epoch a checkpoint resumed from (None: started afresh)
    mode: str = "full-batch"


@dataclass
class EdgeSplit:
    """Validation positives and negatives, training edges, and message edges with weights."""

    val_pos: torch.Tensor
    val_neg: torch.Tensor
    train_pos: torch.Tensor
    msg: torch.Tensor
    msg_w: torch.Tensor


def node_share(rank: int, world: int, n: int) -> tuple[int, int]:
    """Worker ``rank``'s contiguous share ``[first, last)`` of ``n`` nodes: sizes differ by at
    most one, and none is empty while ``n >= world``."""
    return rank * n // world, (rank + 1) * n // world


def non_edges(edge_index: torch.Tensor, n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """``k`` distinct random pairs ``(u, v)``, ``u != v``, that are not edges of
    ``edge_index`` (directed), drawn from ``gen``: the validation split's negatives.

    PyG's ``negative_sampling`` does this with ``random.sample`` and ``np.isin`` on the CPU,
    which took most of the set-up of a 1M-user, 50M-edge fit on a GPU (about 85 s outside
    the epochs, BENCHMARKS.md "GPU: one H200"). Here: one sort of the edge keys, then
    ``searchsorted`` for each batch of candidates. Fewer than ``k`` only on graphs so dense
    that 20 rounds of drawing do not find them (PyG likewise returns what it found)."""
    keys = torch.sort(edge_index[0].long() * n + edge_index[1].long()).values
    found = torch.empty(0, dtype=torch.long)
    for _ in range(20):
        need = k - len(found)
        if need <= 0 or n < 2:
            break
        draw = int(need * 1.2) + 64
        u = torch.randint(0, n, (draw,), generator=gen)
        v = torch.randint(0, n, (draw,), generator=gen)
        cand = u * n + v
        if len(keys):
            at = torch.searchsorted(keys, cand).clamp(max=len(keys) - 1)
            cand = cand[(keys[at] != cand) & (u != v)]
        else:
            cand = cand[u != v]
        # distinct, in the order drawn (not sorted: a short last round keeps a random subset)
        fresh, first = _first_occurrences(torch.cat([found, cand]))
        found = fresh[torch.argsort(first)][:k]
    return torch.stack([found // n, found % n]) if n else torch.zeros(2, 0, dtype=torch.long)


def _first_occurrences(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct ``values`` and the position where each first occurs."""
    uniq, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((len(uniq),), len(values), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(values)), reduce="amin")
    return uniq, first


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
        seed: seeds every random draw; runs are deterministic on CPU.
        temperature: the cosine decoder's temperature (profiles are unit vectors).
        weighted: weighted-mean aggregation by edge weight (False: plain mean).
        target_bias: learn a per-user "followability" bias added to the decoder's logit.
        negatives: "corrupt" pairs each training edge (u, v) with (u, random w) (fast; the
            contrast recommendations rank by); "pairs" uses PyG's negative_sampling of random
            non-edges (exact but ~5 s per epoch at 2M edges on 2 cores).
        batch_size: training edges per mini-batch; ``None`` = full batch when the graph fits
            the device (always on CPU), else 65,536. fanout: neighbours sampled per layer.
        checkpoint_every: epochs between checkpoints when ``fit`` gets a checkpoint path.
        device: "cuda" when available unless given.
        progress: called after each epoch with (epoch, loss, val_auc).
    """

    def __init__(
        self,
        *,
        dim: int = 128,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.2,
        epochs: int = 100,
        patience: int = 20,
        lr: float = 0.01,
        val_fraction: float = 0.1,
        seed: int = 0,
        device: str | None = None,
        temperature: float = DECODER_TEMPERATURE,
        weighted: bool = True,
        target_bias: bool = True,
        negatives: str = "corrupt",
        batch_size: int | None = None,
        fanout: tuple[int, ...] | None = None,
        checkpoint_every: int = 5,
        progress: Callable[[int, float, float], None] | None = None,
    ) -> None:
        if layers < 1 or dim < 1 or not 0 < val_fraction < 1:
            raise ConfigError("need layers >= 1, dim >= 1 and 0 < val_fraction < 1")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1 (got {batch_size})")
        self.dim, self.hidden, self.layers, self.dropout = dim, hidden, layers, dropout
        self.epochs, self.patience, self.lr = epochs, patience, lr
        self.val_fraction, self.seed, self.temperature = val_fraction, seed, temperature
        self.weighted, self.batch_size, self.target_bias = weighted, batch_size, target_bias
        if negatives not in ("corrupt", "pairs"):
            raise ConfigError(f"negatives must be 'corrupt' or 'pairs' (got {negatives!r})")
        self.negatives = negatives
        self.fanout = tuple(fanout) if fanout else (15,) + (10,) * (layers - 1)
        if len(self.fanout) != layers:
            raise ConfigError(f"fanout needs one entry per layer ({layers})")
        self.checkpoint_every, self.progress = max(1, checkpoint_every), progress
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.history = TrainHistory()
        self._encoder: Encoder | None = None
        self._embedding: torch.Tensor | None = None
        self._bias: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        """What makes two models the same (``epochs`` is a budget and may grow on resume)."""
        keys = ("dim", "hidden", "layers", "dropout", "patience", "lr", "val_fraction", "seed")
        out = {k: getattr(self, k) for k in keys}
        out.update(
            temperature=self.temperature,
            weighted=self.weighted,
            target_bias=self.target_bias,
            negatives=self.negatives,
            batch_size=self.batch_size,
            fanout=list(self.fanout),
        )
        return out

    # ------------------------------------------------------------------ recipe
    def fit(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None = None,
        *,
        checkpoint: str | Path | None = None,
    ) -> ProfileModel:
        """Train on features ``x`` (n x f), directed ``edge_index`` (2 x m) and weights.

        On CPU, deterministic kernels are switched on for the duration (scatter reductions
        otherwise differ run to run in the last float bits), so a seed gives identical profiles.
        """
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(self.device == "cpu" or previous, warn_only=True)
        try:
            return self._fit(x, edge_index, edge_weight, Path(checkpoint) if checkpoint else None)
        finally:
            torch.use_deterministic_algorithms(previous)

    def _fit(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None,
        checkpoint: Path | None,
    ) -> ProfileModel:
        # --- setup: split, message edges, encoder, optimiser (and a checkpoint to resume)
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        n = x.shape[0]
        fingerprint = (
            data_fingerprint(x, edge_index, self.edge_weights(edge_index, edge_weight))
            if checkpoint
            else ""
        )
        split = self.split(n, edge_index, edge_weight, gen)
        val_pos, val_neg, train_pos = split.val_pos, split.val_neg, split.train_pos
        msg, msg_w = split.msg, split.msg_w
        mini = self._use_minibatch(n, msg.shape[1], x.shape[1])
        self.history.mode = "mini-batch" if mini else "full-batch"
        x, msg, msg_w = x.to(self.device), msg.to(self.device), msg_w.to(self.device)
        sampler = NeighbourSampler(msg, msg_w, n) if mini else None
        adj = None if mini else csr_adjacency(msg, normalise(msg, msg_w, n), n, n)
        train_pos = train_pos.to(self.device)
        out_dim = self.dim + (1 if self.target_bias else 0)
        enc = Encoder(x.shape[1], self.hidden, out_dim, self.layers, self.dropout).to(self.device)
        opt = torch.optim.Adam(enc.parameters(), lr=self.lr)
        state: dict[str, Any] = {
            "best": -1.0,
            "best_state": copy.deepcopy(enc.state_dict()),
            "waited": 0,
        }
        start = 0
        if checkpoint is not None:
            start = resume_checkpoint(self, checkpoint, fingerprint, enc, opt, state, gen)
        # --- loop
        for epoch in range(start, self.epochs):
            if state["waited"] >= self.patience:
                break
            t0 = time.perf_counter()
            enc.train()
            if sampler is None:
                loss = self._full_batch_step(enc, opt, x, adj, train_pos, n)  # type: ignore[arg-type]
            else:
                loss = self._minibatch_epoch(enc, opt, x, sampler, train_pos, n, gen)
            # --- evaluate
            z = self._infer(enc, x, adj, sampler)
            auc = self.record_epoch(enc, state, epoch, loss, z, val_pos, val_neg, t0)
            if self.progress is not None:
                self.progress(epoch, loss, auc)
            if checkpoint is not None and (
                (epoch + 1) % self.checkpoint_every == 0 or state["waited"] >= self.patience
            ):
                save_checkpoint(self, checkpoint, fingerprint, epoch + 1, enc, opt, state, gen)
        # --- save the best
        enc.load_state_dict(state["best_state"])
        if checkpoint is not None:
            save_checkpoint(
                self, checkpoint, fingerprint, len(self.history.loss), enc, opt, state, gen
            )
        return self.finish(enc, self._infer(enc, x, adj, sampler))

    @torch.no_grad()
    def infer(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(profiles, target biases)`` of every node of a graph with the training feature
        layout, messages passed over all its edges (:meth:`messages`): in one pass when the
        graph fits, else layer by layer over chunks of receivers (exact either way).

        :meth:`fit` keeps the profiles of its training messages (the validation edges left
        out); the job serves profiles inferred with this over its whole graph, as an update
        infers them (:meth:`embed_around`)."""
        if self._encoder is None:
            raise ConfigError("call fit() or restore() before infer()")
        n = x.shape[0]
        msg, msg_w = (t.to(self.device) for t in self.messages(n, edge_index, edge_weight))
        if self._use_minibatch(n, msg.shape[1], x.shape[1]):
            sampler, adj = NeighbourSampler(msg, msg_w, n), None
        else:
            sampler, adj = None, csr_adjacency(msg, normalise(msg, msg_w, n), n, n)
        out = self._infer(self._encoder, x.to(self.device), adj, sampler)
        return F.normalize(out[:, : self.dim], dim=-1).cpu(), self._target_bias(out).cpu()

    def messages(
        self, n: int, edge_index: torch.Tensor, edge_weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The message edges of a whole graph (both directions, repeated pairs merged with
        summed weight, a self-loop for each isolated user), as :meth:`embed_around` passes
        messages and :meth:`infer` does."""
        w = self.edge_weights(edge_index, edge_weight).float()
        msg, msg_w = to_undirected(edge_index, w, num_nodes=n, reduce="add")
        return self_loops_for_isolated(msg, msg_w, n)

    def edge_weights(
        self, edge_index: torch.Tensor, edge_weight: torch.Tensor | None
    ) -> torch.Tensor:
        """The weights training uses: ``edge_weight`` when weighted, else ones."""
        if edge_weight is not None and self.weighted:
            return edge_weight
        return torch.ones(edge_index.shape[1])

    def split(
        self,
        n: int,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None,
        gen: torch.Generator,
    ) -> EdgeSplit:
        """Validation edges (and as many random non-edges), training edges, and the message
        edges built from the training edges (both directions, repeated pairs merged with summed
        weight, a self-loop for each isolated user). Drawn from ``gen``; the single-process and
        the distributed trainer (:mod:`graphsona.scale`) split alike."""
        m = edge_index.shape[1]
        w = self.edge_weights(edge_index, edge_weight)
        perm = torch.randperm(m, generator=gen)
        n_val = max(1, int(self.val_fraction * m))
        val_pos, train_pos = edge_index[:, perm[:n_val]], edge_index[:, perm[n_val:]]
        val_neg = non_edges(edge_index, n, n_val, gen)
        msg, msg_w = self.messages(n, train_pos, w[perm[n_val:]])
        return EdgeSplit(val_pos, val_neg, train_pos, msg, msg_w)

    def finish(self, enc: Encoder, out: torch.Tensor) -> ProfileModel:
        """Keep the trained encoder and the profiles and biases of its output ``out``."""
        self._encoder = enc
        self._embedding = F.normalize(out[:, : self.dim], dim=-1).cpu()
        self._bias = self._target_bias(out).cpu()
        return self

    def record_epoch(
        self,
        enc: Encoder,
        state: dict[str, Any],
        epoch: int,
        loss: float,
        z: torch.Tensor,
        val_pos: torch.Tensor,
        val_neg: torch.Tensor,
        started: float,
    ) -> float:
        """Validation AUC of the outputs ``z``, the epoch in the history, and the early-stopping
        state (best weights kept, epochs waited); returns the AUC."""
        auc = _auc(self._decode(z, *val_pos).cpu(), self._decode(z, *val_neg).cpu())
        self.history.loss.append(loss)
        self.history.val_auc.append(auc)
        self.history.seconds.append(time.perf_counter() - started)
        if auc > state["best"]:
            state.update(best=auc, best_state=copy.deepcopy(enc.state_dict()), waited=0)
            self.history.best_epoch = epoch
        else:
            state["waited"] += 1
        return auc

    def _use_minibatch(self, n: int, m: int, f: int) -> bool:
        if self.batch_size is not None:
            return True
        # float32 features plus each layer's output, its activation/dropout copy and gradient
        # (~3 copies), the sparse adjacency (index + value per edge, both directions) and the
        # chunked loss's temporaries (~6 x chunk x dim floats)
        need = 4 * 3 * n * (f + self.hidden * self.layers) + 24 * m
        need += 4 * 6 * min(m, _LOSS_CHUNK) * self.dim
        if self.device.startswith("cuda"):
            free, _ = torch.cuda.mem_get_info(torch.device(self.device))
        else:
            free = _available_ram()
        # the estimate is an upper bound (measured at 1M users / 19M edges on CPU: 12.8 GB
        # estimated, 11 GB used), so full batch is kept while it fits 85% of what is free
        return need > 0.85 * free

    def _full_batch_step(
        self,
        enc: Encoder,
        opt: torch.optim.Optimizer,
        x: torch.Tensor,
        adj: torch.Tensor,
        pos: torch.Tensor,
        n: int,
    ) -> float:
        opt.zero_grad()
        z = enc(x, adj)
        if self.negatives == "corrupt":
            # each positive (u, v) against (u, random w): on sparse graphs w is almost never a
            # real neighbour, and the contrast is the one recommendations rank by (per source)
            neg = torch.stack([pos[0], torch.randint(0, n, (pos.shape[1],), device=pos.device)])
        else:
            neg = negative_sampling(pos, num_nodes=n, num_neg_samples=pos.shape[1])
        # The loss over E edges needs several E x dim temporaries (~6 GB each at 12M edges): it
        # is computed over chunks of edges against a detached copy of the outputs, gradients
        # accumulate there, and flow through the encoder once. Same mean, bounded memory.
        m = pos.shape[1]
        zd = z.detach().requires_grad_()
        total = 0.0
        for lo in range(0, m, _LOSS_CHUNK):
            hi = min(m, lo + _LOSS_CHUNK)
            part = self._loss(zd, pos[:, lo:hi], neg[:, lo:hi]) * ((hi - lo) / m)
            part.backward()  # type: ignore[no-untyped-call]
            total += float(part.detach())
        z.backward(zd.grad)
        opt.step()
        return total

    def _minibatch_epoch(
        self,
        enc: Encoder,
        opt: torch.optim.Optimizer,
        x: torch.Tensor,
        sampler: NeighbourSampler,
        pos: torch.Tensor,
        n: int,
        gen: torch.Generator,
    ) -> float:
        bs = self.batch_size or 65_536
        order = torch.randperm(pos.shape[1], generator=gen).to(pos.device)
        total, batches = 0.0, 0
        for chunk in torch.split(order, bs):
            p = pos[:, chunk]
            neg_dst = torch.randint(0, n, (p.shape[1],), generator=gen).to(p.device)
            seeds, inv = torch.unique(torch.cat([p[0], p[1], neg_dst]), return_inverse=True)
            nodes, ei, w = sampler.subgraph(seeds, self.fanout, gen)
            opt.zero_grad()
            z = enc(x[nodes], csr_adjacency(ei, w, len(nodes), len(nodes)))
            k = p.shape[1]
            a, b, c = inv[:k], inv[k : 2 * k], inv[2 * k :]
            loss = self._loss(z, torch.stack([a, b]), torch.stack([a, c]))
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total, batches = total + float(loss.detach()), batches + 1
        return total / max(batches, 1)

    def _loss(self, z: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        if torch.equal(pos[0], neg[0]):  # corrupted targets: gather the sources once
            zn = F.normalize(z[:, : self.dim], dim=-1)
            bias = self._target_bias(z)
            za = zn.index_select(0, pos[0])
            pos_s = link_logit(
                (za * zn.index_select(0, pos[1])).sum(-1),
                bias.index_select(0, pos[1]),
                self.temperature,
            )
            neg_s = link_logit(
                (za * zn.index_select(0, neg[1])).sum(-1),
                bias.index_select(0, neg[1]),
                self.temperature,
            )
        else:
            pos_s, neg_s = self._decode(z, *pos), self._decode(z, *neg)
        return F.binary_cross_entropy_with_logits(
            torch.cat([pos_s, neg_s]),
            torch.cat([torch.ones_like(pos_s), torch.zeros_like(neg_s)]),
        )

    @torch.no_grad()
    def _infer(
        self,
        enc: Encoder,
        x: torch.Tensor,
        adj: torch.Tensor | None,
        sampler: NeighbourSampler | None,
        edge_budget: int = 20_000_000,
        *,
        part: tuple[int, int] = (0, 1),
        gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Every node's output; in mini-batch mode layer by layer over chunks of receivers
        holding at most ``edge_budget`` edges each (exact: all neighbours are used).

        Distributed (:mod:`graphsona.scale`): with ``part=(rank, world)`` this worker computes
        its contiguous share of receivers per layer (:func:`node_share`, never empty while
        ``n >= world``) and ``gather`` joins the workers' shares into the whole layer (the same
        numbers as one process computes)."""
        enc.eval()
        if sampler is None:
            out: torch.Tensor = enc(x, adj)
            return out
        n, h = x.shape[0], x
        w_sorted, ptr = normalise_sorted(sampler), sampler.rowptr
        first, last = node_share(*part, n)
        bounds = [first]
        while bounds[-1] < last:
            lo = bounds[-1]
            hi = int(torch.searchsorted(ptr, ptr[lo] + edge_budget, right=True)) - 1
            bounds.append(min(last, max(hi, lo + 1)))
        for i in range(len(enc.convs)):
            parts = []
            for lo, hi in itertools.pairwise(bounds):
                a, b = int(ptr[lo]), int(ptr[hi])
                dst_local = torch.repeat_interleave(
                    torch.arange(hi - lo, device=x.device), ptr[lo + 1 : hi + 1] - ptr[lo:hi]
                )
                ei = torch.stack([sampler.src[a:b], dst_local])
                parts.append(
                    enc.layer(i, (h, h[lo:hi]), csr_adjacency(ei, w_sorted[a:b], hi - lo, n))
                )
            h = torch.cat(parts)
            if gather is not None:
                h = gather(h)
        return h

    def _target_bias(self, out: torch.Tensor) -> torch.Tensor:
        if not self.target_bias:
            return torch.zeros(out.shape[0], device=out.device)
        return out[:, self.dim]

    def _decode(self, out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Link logits ``a -> b``: cosine(z_a, z_b) / temperature + target bias of ``b``.

        A plain dot product lets hubs grow long vectors that look similar to everyone; the cosine
        keeps profiles on the unit sphere, and the learned per-user target bias (an extra output
        of the encoder, so still inductive) carries how likely anyone is to follow ``b``, which a
        symmetric similarity cannot express."""
        a, b = a.to(out.device), b.to(out.device)
        zn = F.normalize(out[:, : self.dim], dim=-1)
        # index_select: its backward is a plain index_add, ~2x faster than advanced indexing's
        cos = (zn.index_select(0, a) * zn.index_select(0, b)).sum(-1)
        return link_logit(cos, self._target_bias(out).index_select(0, b), self.temperature)

    # ------------------------------------------------------------------ use
    @torch.no_grad()
    def embed(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Profiles for any graph with the training feature layout (inductive use).

        ``edge_index`` is used as given (pass both directions for undirected messages).
        """
        if self._encoder is None:
            raise ConfigError("call fit() before embed()")
        n = x.shape[0]
        w = (
            edge_weight.float()
            if edge_weight is not None and self.weighted
            else torch.ones(edge_index.shape[1])
        )
        ei, w = self_loops_for_isolated(edge_index, w, n)
        ei = ei.to(self.device)
        adj = csr_adjacency(ei, normalise(ei, w.to(self.device), n), n, n)
        z = self._infer(self._encoder, x.to(self.device), adj, None)
        return F.normalize(z[:, : self.dim], dim=-1).cpu()

    def export(self) -> dict[str, Any]:
        """The trained encoder with what rebuilds it (:meth:`restore`): the job keeps it so
        that an incremental update infers new users' profiles without retraining."""
        if self._encoder is None:
            raise ConfigError("call fit() before export()")
        enc = self._encoder
        return {
            "config": self.config(),
            "in_dim": int(enc.state_dict()["convs.0.lin_rel.weight"].shape[1]),
            "encoder": {k: v.detach().cpu() for k, v in enc.state_dict().items()},
        }

    @classmethod
    def restore(cls, blob: dict[str, Any], device: str = "cpu") -> ProfileModel:
        """A model from :meth:`export`'s output, ready for :meth:`embed_around`."""
        model = cls(**blob["config"], device=device)
        out_dim = model.dim + (1 if model.target_bias else 0)
        enc = Encoder(blob["in_dim"], model.hidden, out_dim, model.layers, model.dropout)
        enc.load_state_dict(blob["encoder"])
        model._encoder = enc.to(device).eval()
        return model

    @torch.no_grad()
    def embed_around(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None,
        seeds: torch.Tensor,
        also: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(nodes, profiles, target biases)`` of every node within ``layers`` hops of
        ``seeds``, and of the nodes in ``also`` themselves: the nodes whose profile can change
        when the seeds' inputs or links change (inductive: any graph with the training feature
        layout). Exact: a node's profile depends only on its ``layers``-hop neighbourhood, and
        the encoder runs on the whole graph when that neighbourhood is most of it (a 1% update
        at 100k users reaches everyone in two hops), else on the neighbourhood alone. Messages
        flow both ways along every edge of ``edge_index`` (:meth:`messages`)."""
        if self._encoder is None:
            raise ConfigError("call fit() or restore() before embed_around()")
        n = x.shape[0]
        if len(seeds) == 0 and (also is None or len(also) == 0):
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, self.dim), torch.zeros(0)
        msg, msg_w = self.messages(n, edge_index, edge_weight)
        adj = csr_adjacency(msg, normalise(msg, msg_w, n), n, n)

        def grow(mask: torch.Tensor) -> torch.Tensor:
            v = mask.float()[:, None]
            for _ in range(self.layers):  # weights are positive: a sum > 0 means a neighbour
                v = v + adj @ v
            return v[:, 0] > 0

        start = torch.zeros(n, dtype=torch.bool)
        start[seeds] = True
        reach = grow(start)
        if also is not None:
            reach[also] = True
        inputs = grow(reach)
        nodes = torch.nonzero(reach).ravel()
        self._encoder.eval()
        if int(inputs.sum()) > n // 2:
            out = self._encoder(x.to(self.device), adj.to(self.device))[nodes].cpu()
        else:
            subset = torch.nonzero(inputs).ravel()
            local = torch.full((n,), -1, dtype=torch.long)
            local[subset] = torch.arange(len(subset))
            keep = inputs[msg[0]] & inputs[msg[1]]
            sub_ei, sub_w = local[msg[:, keep]], msg_w[keep]
            k = len(subset)
            sub = csr_adjacency(sub_ei, normalise(sub_ei, sub_w, k), k, k)
            out = self._encoder(x[subset].to(self.device), sub.to(self.device))[local[nodes]].cpu()
        return nodes, F.normalize(out[:, : self.dim], dim=-1), self._target_bias(out)

    def get_embedding(self) -> torch.Tensor:
        """The fitted graph's profiles, ``n x dim`` (unit vectors)."""
        if self._embedding is None:
            raise ConfigError("call fit() before get_embedding()")
        return self._embedding

    def get_target_bias(self) -> torch.Tensor:
        """Each user's learned target bias (logit added when someone may follow them)."""
        if self._bias is None:
            raise ConfigError("call fit() before get_target_bias()")
        return self._bias

    def link_scores(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Decoder logits of candidate links ``src -> dst``; higher is likelier."""
        z = self.get_embedding()
        return link_logit((z[src] * z[dst]).sum(-1), self.get_target_bias()[dst], self.temperature)


_LOSS_CHUNK = 1_000_000  # edges per loss chunk in full-batch training


def _available_ram() -> int:
    """Bytes of RAM available now (Linux /proc/meminfo; elsewhere: assume it fits)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62
