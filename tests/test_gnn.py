"""Profile encoder: learns planted structure, deterministic on CPU, inductive."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graphsona.errors import ConfigError
from graphsona.gnn import ProfileModel, structural_features
from graphsona.loaders import SyntheticConfig, generate
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score


@pytest.fixture(scope="module")
def planted() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Follows of a planted network; features: a weak, noisy community signal + degrees."""
    net = generate(SyntheticConfig(n_users=800, n_communities=4, mixing=0.1, seed=2))
    ids = {u: i for i, u in enumerate(net.users["user_id"].to_list())}
    ei = torch.tensor([[ids[a] for a in net.follows["src"]], [ids[b] for b in net.follows["dst"]]])
    truth = net.users["planted_community"].to_numpy()
    rng = np.random.default_rng(0)
    signal = np.eye(4)[truth] + rng.normal(0, 1.0, (len(truth), 4))  # alone: a poor clustering
    x = torch.cat(
        [torch.tensor(signal, dtype=torch.float32), structural_features(ei, len(truth))], 1
    )
    return x, ei, truth


def nmi(z: np.ndarray, truth: np.ndarray) -> float:
    pred = KMeans(4, n_init=5, random_state=0).fit_predict(
        z / np.linalg.norm(z, axis=1, keepdims=True)
    )
    return float(normalized_mutual_info_score(truth, pred))


def test_profiles_recover_planted_communities(planted) -> None:  # type: ignore[no-untyped-def]
    x, ei, truth = planted
    model = ProfileModel(dim=32, hidden=64, epochs=120, seed=0).fit(x, ei)
    assert max(model.history.val_auc) > 0.8  # held-out follows beat random pairs
    assert nmi(model.get_embedding().numpy(), truth) > 0.8
    assert nmi(x[:, :4].numpy(), truth) < 0.6  # the features alone do not explain it


def test_deterministic_on_cpu(planted) -> None:  # type: ignore[no-untyped-def]
    x, ei, _ = planted
    a = ProfileModel(dim=16, epochs=15, seed=3, device="cpu").fit(x, ei).get_embedding()
    b = ProfileModel(dim=16, epochs=15, seed=3, device="cpu").fit(x, ei).get_embedding()
    c = ProfileModel(dim=16, epochs=15, seed=4, device="cpu").fit(x, ei).get_embedding()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_inductive_profile_for_a_new_user(planted) -> None:  # type: ignore[no-untyped-def]
    x, ei, truth = planted
    model = ProfileModel(dim=32, hidden=64, epochs=120, seed=0).fit(x, ei)
    z = model.get_embedding()
    # a new user following ten members of community 2, with no signal in their own features
    new = x.shape[0]
    members = torch.tensor(np.flatnonzero(truth == 2)[:10])
    ei2 = torch.cat([ei, torch.stack([torch.full_like(members, new), members])], 1)
    ei2 = torch.cat([ei2, ei2.flip(0)], 1)
    x2 = torch.cat([x, torch.zeros(1, x.shape[1])])
    z_new = model.embed(x2, ei2)[new]
    centroids = torch.stack([z[torch.tensor(truth == c)].mean(0) for c in range(4)])
    sims = torch.nn.functional.cosine_similarity(centroids, z_new[None, :])
    assert int(sims.argmax()) == 2


def test_embed_around_gives_the_whole_graph_profiles_of_exactly_the_reach(planted) -> None:  # type: ignore[no-untyped-def]
    """The incremental update's inference: the nodes within ``layers`` hops of the seeds,
    with the profiles a whole-graph pass gives them, on both of its paths (a neighbourhood
    smaller than half the graph, and the whole graph)."""
    from graphsona.gnn.encoder import csr_adjacency, normalise
    from torch_geometric.utils import k_hop_subgraph, to_undirected

    x, ei, _ = planted
    model = ProfileModel(dim=16, hidden=32, epochs=20, seed=0).fit(x, ei)
    n = x.shape[0]
    # the whole-graph pass, messages both ways as in training (a reciprocal pair weighs 2)
    und, w = to_undirected(ei, torch.ones(ei.shape[1]), num_nodes=n, reduce="add")
    encoder = model._encoder
    assert encoder is not None
    encoder.eval()
    whole_out = encoder(x, csr_adjacency(und, normalise(und, w, n), n, n))
    whole = torch.nn.functional.normalize(whole_out[:, : model.dim], dim=-1)
    for seeds in (torch.tensor([3]), torch.arange(0, n, 4)):
        nodes, z, bias = model.embed_around(x, ei, None, seeds)
        want, _, _, _ = k_hop_subgraph(seeds, model.layers, und, num_nodes=n)
        assert sorted(nodes.tolist()) == sorted(want.tolist())
        assert torch.allclose(z, whole[nodes], atol=1e-5)
        assert bias.shape == (len(nodes),)
    assert len(model.embed_around(x, ei, None, torch.arange(0, n, 4))[0]) > n // 2


def test_use_before_fit_is_an_error() -> None:
    with pytest.raises(ConfigError, match="fit"):
        ProfileModel().get_embedding()
    with pytest.raises(ConfigError, match="val_fraction"):
        ProfileModel(val_fraction=1.5)


def test_minibatch_sampling_also_recovers_communities(planted) -> None:  # type: ignore[no-untyped-def]
    x, ei, truth = planted
    model = ProfileModel(dim=32, hidden=64, epochs=60, seed=0, batch_size=2048, fanout=(10, 5))
    model.fit(x, ei)
    assert model.history.mode == "mini-batch"
    assert max(model.history.val_auc) > 0.8
    assert nmi(model.get_embedding().numpy(), truth) > 0.8


def test_minibatch_inference_is_exact_full_neighbourhood(planted) -> None:  # type: ignore[no-untyped-def]
    # Layer-wise inference over chunks must equal one full-batch forward pass.
    x, ei, _ = planted
    model = ProfileModel(dim=16, hidden=32, epochs=3, seed=0, batch_size=4096).fit(x, ei)
    both = torch.cat([ei, ei.flip(0)], 1)
    full = model.embed(x, both)
    from graphsona.gnn.sampler import NeighbourSampler as _Sampler

    w = torch.ones(both.shape[1])
    sampler = _Sampler(both, w, len(x))
    chunked = model._infer(model._encoder, x, None, sampler, edge_budget=500)  # type: ignore[arg-type]
    assert torch.allclose(torch.nn.functional.normalize(chunked[:, :16], dim=-1), full, atol=1e-5)


def test_resume_from_checkpoint_matches_an_uninterrupted_run(planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, ei, _ = planted
    w = torch.rand(ei.shape[1], generator=torch.Generator().manual_seed(0)) + 0.5
    kw = dict(dim=16, hidden=32, seed=1, patience=1000, checkpoint_every=4, device="cpu")
    whole = ProfileModel(epochs=20, **kw).fit(x, ei, w).get_embedding()  # type: ignore[arg-type]
    ckpt = tmp_path / "profiles.pt"
    first = ProfileModel(epochs=12, **kw).fit(x, ei, w, checkpoint=ckpt)  # type: ignore[arg-type]
    assert first.history.resumed_at is None and len(first.history.loss) == 12
    second = ProfileModel(epochs=20, **kw).fit(x, ei, w, checkpoint=ckpt)  # type: ignore[arg-type]
    assert second.history.resumed_at == 12 and len(second.history.loss) == 20
    assert torch.equal(second.get_embedding(), whole)
    # a finished run resumes to the same result without training
    again = ProfileModel(epochs=20, **kw).fit(x, ei, w, checkpoint=ckpt)  # type: ignore[arg-type]
    assert again.history.resumed_at == 20 and torch.equal(again.get_embedding(), whole)
    # changed data or model: start afresh
    other = ProfileModel(epochs=5, **kw).fit(x + 1, ei, w, checkpoint=ckpt)  # type: ignore[arg-type]
    assert other.history.resumed_at is None and len(other.history.loss) == 5


def test_edge_weights_change_the_profiles(planted) -> None:  # type: ignore[no-untyped-def]
    x, ei, _ = planted
    w = torch.linspace(0.1, 2.0, ei.shape[1])
    kw = dict(dim=16, hidden=32, seed=0, epochs=5, device="cpu")
    a = ProfileModel(**kw).fit(x, ei, w).get_embedding()  # type: ignore[arg-type]
    b = ProfileModel(weighted=False, **kw).fit(x, ei, w).get_embedding()  # type: ignore[arg-type]
    c = ProfileModel(**kw).fit(x, ei).get_embedding()  # type: ignore[arg-type]
    assert not torch.allclose(a, b) and torch.equal(b, c)  # unweighted ignores the weights


def test_chunked_loss_matches_one_chunk(planted, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from graphsona.gnn import profiles

    x, ei, _ = planted
    kw = dict(dim=16, hidden=32, seed=2, epochs=5, device="cpu")
    whole = ProfileModel(**kw).fit(x, ei).get_embedding()  # type: ignore[arg-type]
    monkeypatch.setattr(profiles, "_LOSS_CHUNK", 997)
    chunked = ProfileModel(**kw).fit(x, ei).get_embedding()  # type: ignore[arg-type]
    assert torch.allclose(whole, chunked, atol=1e-4)


def test_validation_negatives_are_distinct_non_edges_drawn_from_the_split_generator() -> None:
    from graphsona.gnn.profiles import non_edges

    g = torch.Generator().manual_seed(0)
    n = 2_000
    ei = torch.randint(0, n, (2, 40_000), generator=g)
    neg = non_edges(ei, n, 5_000, torch.Generator().manual_seed(1))
    again = non_edges(ei, n, 5_000, torch.Generator().manual_seed(1))
    keys = set((ei[0] * n + ei[1]).tolist())
    drawn = (neg[0] * n + neg[1]).tolist()
    assert neg.shape == (2, 5_000) and torch.equal(neg, again)
    assert not keys & set(drawn) and len(set(drawn)) == len(drawn)
    assert bool((neg[0] != neg[1]).all())
    # a graph with every pair but two: exactly those two are found, and no more than exist
    full = torch.tensor([[u, v] for u in range(4) for v in range(4) if u != v][2:]).T
    few = non_edges(full, 4, 10, torch.Generator().manual_seed(2))
    assert sorted(map(tuple, few.T.tolist())) == [(0, 1), (0, 2)]
