"""Communities: Leiden reference vs text-aware Leiden, min size, stable ids."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graphsona.embeddings import embed_users, load_embedder
from graphsona.gnn.communities import leiden, match_ids, text_aware_communities, text_coherence
from graphsona.loaders import SyntheticConfig, generate
from sklearn.metrics import normalized_mutual_info_score as nmi


def planted(mixing: float) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    net = generate(SyntheticConfig(n_users=1500, n_communities=5, mixing=mixing, seed=4))
    ids = {u: i for i, u in enumerate(net.users["user_id"].to_list())}
    ei = torch.tensor([[ids[a] for a in net.follows["src"]], [ids[b] for b in net.follows["dst"]]])
    vec, _ = embed_users(net.users, net.posts, load_embedder("default", kind="static"))
    order = net.users.select("user_id").join(vec, on="user_id", maintain_order="left")
    return (
        ei,
        torch.from_numpy(np.stack(order["embedding"].to_numpy())),
        net.users["planted_community"].to_numpy(),
    )


def test_clear_structure_both_recover_it_and_modularity_holds() -> None:
    ei, text, truth = planted(0.1)
    ref = leiden(ei, len(truth))
    ours = text_aware_communities(ei, text)
    assert nmi(truth, ref.membership) > 0.8 and nmi(truth, ours.membership) > 0.8
    assert ours.modularity >= 0.9 * ref.modularity
    assert text_coherence(ours.membership, text) >= text_coherence(ref.membership, text) - 1e-3


def test_text_separable_communities_beat_structure_only() -> None:
    ei, text, truth = planted(0.6)  # follows mostly random: only the text separates communities
    ref, ours = leiden(ei, len(truth)), text_aware_communities(ei, text)
    assert nmi(truth, ours.membership) > nmi(truth, ref.membership) + 0.05
    assert ours.modularity >= 0.9 * ref.modularity
    assert text_coherence(ours.membership, text) > text_coherence(ref.membership, text)


def test_small_communities_are_merged_and_ids_ordered_by_size() -> None:
    # two 6-cliques joined by one edge, and a pair hanging off the first clique
    edges = [(a, b) for c in (0, 6) for a in range(c, c + 6) for b in range(c, c + 6) if a < b]
    edges += [(5, 6), (12, 13), (13, 0)]
    ei = torch.tensor(edges).T
    part = leiden(ei, 14, min_size=3)
    sizes = np.bincount(part.membership)
    assert sizes.min() >= 3 and list(sizes) == sorted(sizes, reverse=True)
    assert part.membership[12] == part.membership[0]  # the pair joined the clique it hangs off


def test_ids_stay_stable_across_reruns() -> None:
    users = [f"u{i}" for i in range(9)]
    before = {u: c for u, c in zip(users, [0, 0, 0, 1, 1, 1, 2, 2, 2], strict=True)}
    rerun = np.array([5, 5, 5, 3, 3, 4, 7, 7, 7])  # same groups, new labels, one user split off
    out = match_ids(before, users, rerun)
    assert out.tolist()[:5] == [0, 0, 0, 1, 1] and out[6] == out[7] == out[8] == 2
    assert out[5] == 3  # the new community gets a fresh id


@pytest.mark.parametrize("bad", [{"k": -1}, {"min_size": 0}])
def test_bad_options(bad: dict[str, int]) -> None:
    from graphsona.errors import ConfigError

    with pytest.raises(ConfigError):
        text_aware_communities(torch.tensor([[0], [1]]), torch.eye(2), **bad)  # type: ignore[arg-type]


def test_approximate_knn_matches_exact_on_clustered_vectors() -> None:
    from graphsona.gnn import communities as cm

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(20, 32, generator=g)
    z = torch.nn.functional.normalize(
        centres[torch.arange(3000) % 20] + 0.3 * torch.randn(3000, 32, generator=g), dim=1
    )
    exact, _ = cm._knn(z, 10)
    approx, sims = cm._knn_hnsw(z, 10)
    assert approx.shape == (3000, 10) and not (approx == np.arange(3000)[:, None]).any()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert recall > 0.9
    assert np.allclose(sims[:, 0], (z[0:3000] * z[approx[:, 0]]).sum(1).numpy(), atol=1e-4)


def test_warm_start_with_free_users_moves_only_them_and_keeps_the_quality() -> None:
    """The incremental update's Leiden: users outside ``free`` stay with their starting
    community (merged into one node); the partition's modularity is that of the full run's."""
    ei, _, truth = planted(0.1)
    n = len(truth)
    full = leiden(ei, n)
    rng = np.random.default_rng(0)
    start = full.membership.copy()
    free = np.zeros(n, dtype=bool)
    free[rng.choice(n, 60, replace=False)] = True
    start[free] = rng.integers(0, start.max() + 1, int(free.sum()))  # the free users misplaced
    local = leiden(ei, n, initial=start, free=free)
    fixed = ~free
    # users outside free stay together exactly as they started
    pairs = rng.choice(np.flatnonzero(fixed), (2000, 2))
    same_before = start[pairs[:, 0]] == start[pairs[:, 1]]
    same_after = local.membership[pairs[:, 0]] == local.membership[pairs[:, 1]]
    assert (same_after[same_before]).all()
    # no whole-community merging (self-loops weighed right): as many communities, same quality
    assert len(np.unique(local.membership)) == len(np.unique(full.membership))
    assert local.modularity >= full.modularity - 1e-3
    assert nmi(full.membership, local.membership) > 0.97


def test_pair_cosines_match_the_row_products() -> None:
    from graphsona.gnn.communities import _collapse, _pair_cosines

    rng = np.random.default_rng(0)
    n = 2000
    pairs, _ = _collapse(rng.integers(0, n, 20000), rng.integers(0, n, 20000), np.ones(20000), n)
    z = torch.nn.functional.normalize(torch.randn(n, 16), dim=1)
    want = (z[torch.from_numpy(pairs[:, 0])] * z[torch.from_numpy(pairs[:, 1])]).sum(1).numpy()
    assert np.allclose(_pair_cosines(z, pairs), want, atol=1e-6)
    assert _pair_cosines(z, pairs[:0]).shape == (0,)
