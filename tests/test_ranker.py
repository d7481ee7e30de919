"""Two-stage who-to-follow: the honest hold-out, candidates, the learned ranker, and the ranker
travelling with the profiles it belongs to."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import pytest
import torch
from graphsona.gnn.metrics import adamic_adar_scorer, hold_out_pairs, ranking_metrics
from graphsona.gnn.ranker import FEATURES, LinkRanker, PairGraph, candidates, fit_ranker


def _clustered(n_per: int = 60, seed: int = 3) -> torch.Tensor:
    """Mutual follows in four tight groups with few links between them: held-out links close
    triangles, so common neighbours predict them."""
    g = nx.stochastic_block_model([n_per] * 4, [[0.25 if i == j else 0.005 for j in range(4)]
                                                for i in range(4)], seed=seed)  # fmt: skip
    pairs = np.array(list(g.edges)).T
    return torch.from_numpy(np.concatenate([pairs, pairs[::-1]], 1)).long()


def _keys(e: torch.Tensor, n: int) -> set[int]:
    return set((e[0] * n + e[1]).tolist())


def test_a_held_out_follow_takes_its_reverse_and_interactions_with_it() -> None:
    n = 240
    follows = _clustered()
    inter = follows[:, :50]  # interactions between some followed pairs
    ei = torch.cat([follows, inter], 1)
    is_follow = torch.cat([torch.ones(follows.shape[1]), torch.zeros(50)]).bool()
    held, keep, how = hold_out_pairs(ei, is_follow, n, 0.2, seed=0)
    assert "random" in how
    kept = ei[:, keep]
    held_pairs = {(min(a, b), max(a, b)) for a, b in held.T.tolist()}
    kept_pairs = {(min(a, b), max(a, b)) for a, b in kept.T.tolist()}
    assert held_pairs and not held_pairs & kept_pairs  # no link left between a held-out pair
    assert _keys(held.flip(0), n) <= _keys(held, n)  # mutual follows: both directions held
    assert held.shape[1] + int(keep.sum()) + int((~keep & ~is_follow).sum()) == ei.shape[1]


def test_time_split_holds_out_the_latest_follows() -> None:
    ei = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]])
    t = torch.arange(10) * 100
    held, keep, how = hold_out_pairs(ei, torch.ones(10, dtype=torch.bool), 10, 0.2, time=t)
    assert "time" in how
    assert sorted(held[0].tolist()) == [8, 9] and int(keep.sum()) == 8


def _pair_graph(ei: torch.Tensor, n: int, seed: int = 0) -> PairGraph:
    z = torch.randn(n, 16, generator=torch.Generator().manual_seed(seed))
    return PairGraph.build(ei, ei, n, z=z, bias=torch.zeros(n))


def test_candidates_never_propose_self_followed_or_blocked_users() -> None:
    n = 240
    ei = _clustered()
    g = _pair_graph(ei, n)
    g.blocked[7] = True
    src = np.array([0, 1, 2, 100])
    u, v, x = candidates(g, src)
    assert x.shape == (len(u), len(FEATURES)) and np.isfinite(x).all()
    followed = _keys(ei, n)
    assert not any(a == b for a, b in zip(u, v, strict=True))
    assert not any(a * n + b in followed for a, b in zip(u, v, strict=True))
    assert 7 not in set(v.tolist())
    assert set(u.tolist()) == set(src.tolist())


def test_the_ranker_learns_from_held_out_follows_and_beats_its_best_single_signal() -> None:
    n = 240
    ei = _clustered()
    is_follow = torch.ones(ei.shape[1], dtype=torch.bool)
    test, keep, _ = hold_out_pairs(ei, is_follow, n, 0.1, seed=0)
    train = ei[:, keep]
    held, keep2, _ = hold_out_pairs(train, torch.ones(train.shape[1], dtype=torch.bool), n, 0.1,
                                    seed=1)  # fmt: skip
    ranker = fit_ranker(_pair_graph(train[:, keep2], n), held)
    assert ranker is not None and ranker.info["positives"] > 0
    g = _pair_graph(train, n)

    def scorer(s: np.ndarray) -> np.ndarray:
        u, v, x = candidates(g, s)
        out = np.full((len(s), n), -np.inf)
        out[np.searchsorted(s, u), v] = ranker.score(x)
        return out

    ours = ranking_metrics(scorer, train, test, n, ks=(20,))
    aa = ranking_metrics(adamic_adar_scorer(train, n), train, test, n, ks=(20,))
    assert ours["recall@20"] >= 0.95 * aa["recall@20"], (ours, aa)


def test_ranker_round_trips_through_json_and_refuses_other_features() -> None:
    import json

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(FEATURES))).astype(np.float32)
    y = x[:, FEATURES.index("log_adamic_adar")] + 0.3 * rng.normal(size=300) > 0.5
    r = LinkRanker.fit(x, y)
    back = LinkRanker.from_dict(json.loads(json.dumps(r.to_dict())))
    assert np.allclose(back.score(x), r.score(x))
    assert r.weights()["log_adamic_adar"] > 0
    bad = r.to_dict() | {"features": ["decoder"]}
    with pytest.raises(ValueError, match="other features"):
        LinkRanker.from_dict(bad)


def test_profile_job_stores_its_ranker_and_recommendations_use_it(tmp_path: Path) -> None:
    from graphsona.graph import EmbeddedStore
    from graphsona.jobs.profile import ProfileJobConfig, run_profile
    from graphsona.loaders import load_frames
    from graphsona.outputs.recommend import RecContext, who_to_follow

    n = 240
    ei = _clustered()
    users = pl.DataFrame({"user_id": [f"u{i:03d}" for i in range(n)]})
    follows = pl.DataFrame(
        {"src": [f"u{a:03d}" for a in ei[0].tolist()], "dst": [f"u{b:03d}" for b in ei[1].tolist()]}
    )
    ds, _ = load_frames(users, follows)
    cfg = ProfileJobConfig(embedder_kind="static", cache=None, dim=16, epochs=20)
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(ds)
        run_profile(store, cfg)
        ctx = RecContext.from_store(store)
        assert ctx.ranker is not None
        recs = who_to_follow(ctx, ["u000", "u100"], k=5)
        assert recs.height == 10 and set(recs["rank"].to_list()) == {1, 2, 3, 4, 5}
        for _, part in recs.group_by("user_id"):
            scores = part.sort("rank")["score"].to_list()
            assert scores == sorted(scores, reverse=True)
        already = set(zip(follows["src"].to_list(), follows["dst"].to_list(), strict=True))
        pairs = zip(recs["user_id"].to_list(), recs["candidate_id"].to_list(), strict=True)
        assert not any(p in already for p in pairs)
        # a ranker that belongs to another run is not used with these profiles
        store.write_ranker("another-run", ctx.ranker.to_dict())
        assert RecContext.from_store(store).ranker is None
        assert who_to_follow(RecContext.from_store(store), ["u000"], k=5).height == 5
