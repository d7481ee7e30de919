"""Graph-embedding baselines of `graphsona evaluate` and the profile-collapse measure."""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch
from graphsona.gnn.baselines import fastrp, profile_spread, spectral
from graphsona.jobs.evaluate import probe


def _two_blocks() -> tuple[torch.Tensor, np.ndarray]:
    g = nx.stochastic_block_model([150, 150], [[0.06, 0.003], [0.003, 0.06]], seed=4)
    edges = torch.tensor(list(g.edges), dtype=torch.long).T
    return edges, np.array([0] * 150 + [1] * 150)


def test_profile_spread_tells_collapse_from_spread() -> None:
    collapsed = profile_spread(
        np.ones((200, 16)) + 1e-6 * np.random.default_rng(0).random((200, 16))
    )
    assert collapsed["mean_cosine"] > 0.99 and collapsed["effective_rank"] < 1.1
    spread = profile_spread(np.random.default_rng(1).normal(size=(200, 16)))
    assert abs(spread["mean_cosine"]) < 0.05 and spread["effective_rank"] > 12


def test_fastrp_and_spectral_recover_two_communities() -> None:
    edges, blocks = _two_blocks()
    f = fastrp(edges, 300, dim=32, seed=0)
    assert f.shape == (300, 32)
    assert probe(f, blocks)["accuracy"] > 0.95
    s = spectral(edges, 300, dim=4, seed=0)
    first = s[:, 0] > np.median(s[:, 0])
    agreement = max((first == (blocks == 1)).mean(), (first == (blocks == 0)).mean())
    assert agreement > 0.95


def test_fastrp_leaves_isolated_users_at_zero() -> None:
    edges = torch.tensor([[0, 1], [1, 2]])
    f = fastrp(edges, 4, dim=8)
    assert np.all(f[3] == 0) and np.linalg.norm(f[0]) > 0
