"""Ranking metrics and link baselines on tiny hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graphsona.gnn.metrics import (
    adamic_adar_scorer,
    common_neighbours_scorer,
    popularity_scorer,
    ranking_metrics,
    split_edges,
)


def test_recall_and_mrr_by_hand() -> None:
    n = 5
    train = torch.tensor([[0], [1]])  # 0 already follows 1
    held = torch.tensor([[0, 0], [2, 4]])  # 0 will follow 2 and 4
    scores = np.array([[9.0, 8.0, 1.0, 5.0, 3.0]])  # self and 1 are excluded

    def scorer(s: np.ndarray) -> np.ndarray:
        return np.repeat(scores, len(s), 0)

    out = ranking_metrics(scorer, train, held, n, ks=(1, 2, 3))
    # candidates in order: 3 (5.0), 4 (3.0), 2 (1.0): ranks of targets 4 -> 2, 2 -> 3
    assert out["recall@1"] == 0.0 and out["recall@2"] == 0.5 and out["recall@3"] == 1.0
    assert out["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_ties_rank_pessimistically() -> None:
    held = torch.tensor([[0], [1]])
    out = ranking_metrics(
        lambda s: np.zeros((len(s), 4)), torch.zeros(2, 0, dtype=torch.long), held, 4, ks=(1, 3)
    )
    assert out["recall@1"] == 0.0 and out["recall@3"] == 1.0 and out["mrr"] == pytest.approx(1 / 3)


def test_link_baselines_by_hand() -> None:
    # path 0-1-2 and star 3-{1,2}: undirected neighbourhoods N(0)={1}, N(1)={0,2,3}, N(2)={1,3}
    ei = torch.tensor([[0, 1, 3, 3], [1, 2, 1, 2]])
    cn = common_neighbours_scorer(ei, 4)(np.array([0, 2]))
    assert cn[0].tolist() == [1, 0, 1, 1]  # 0 shares neighbour 1 with itself, 2 and 3
    assert cn[1, 0] == 1 and cn[1, 3] == 1
    aa = adamic_adar_scorer(ei, 4)(np.array([0]))
    assert aa[0, 2] == pytest.approx(1 / np.log(3))  # shared neighbour 1 has degree 3
    pop = popularity_scorer(ei, 4)(np.array([0, 1]))
    assert pop[0].tolist() == [0, 2, 2, 0] and pop[1].tolist() == pop[0].tolist()


def test_split_by_time_holds_out_the_latest() -> None:
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    train, held, how = split_edges(ei, 0.25, time=torch.tensor([5, 1, 9, 3]))
    assert held.tolist() == [[2], [3]] and train.shape[1] == 3 and "time" in how
    train, held, how = split_edges(ei, 0.5, seed=1)
    assert held.shape[1] == 2 and "random" in how
