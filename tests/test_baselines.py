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


def test_profiles_of_a_graph_without_text_do_not_collapse() -> None:
    """A real-shaped regression check (two communities, follows only, no text): before the
    encoder took FastRP input, random pairs of such profiles had a mean cosine of 0.97 and the
    matrix an effective rank near 1; now they must stay apart."""
    import graphsona
    import polars as pl
    from graphsona.jobs import ProfileJobConfig

    g = nx.stochastic_block_model([200, 200], [[0.04, 0.004], [0.004, 0.04]], seed=1, directed=True)
    users = pl.DataFrame({"user_id": [f"u{i}" for i in g.nodes]})
    follows = pl.DataFrame(
        {"src": [f"u{a}" for a, _ in g.edges], "dst": [f"u{b}" for _, b in g.edges]}
    )
    cfg = ProfileJobConfig(embedder_kind="static", cache=None, dim=32, epochs=40)
    result = graphsona.profile(users, follows, config=cfg, k=0)
    spread = result.summary["profile_spread"]
    assert spread["mean_cosine"] < 0.9, spread
    z = np.stack(result.users.sort("user_id")["profile"].to_numpy())
    side = np.array([int(u[1:]) < 200 for u in sorted(users["user_id"].to_list())])
    assert probe(z, side)["accuracy"] > 0.9


def test_isolated_users_are_profiled_from_their_own_text() -> None:
    """Two users without edges, one writing like the sports community and one like the music
    community, must each land near their own community, not on each other (before: profile
    cosine 0.95, and one was the other's best match)."""
    import graphsona
    import polars as pl
    from graphsona.jobs import ProfileJobConfig
    from graphsona.loaders import SyntheticConfig, generate

    net = generate(SyntheticConfig(n_users=300, n_communities=3, seed=2))
    planted = dict(zip(net.users["user_id"], net.users["planted_community"], strict=True))

    def like(c: int) -> list[str]:
        members = [u for u, k in planted.items() if k == c][:3]
        return net.posts.filter(pl.col("user_id").is_in(members))["text"].head(4).to_list()

    loners = {"zz_a": like(0), "zz_b": like(1)}
    users = pl.concat([net.users.select("user_id"), pl.DataFrame({"user_id": list(loners)})])
    posts = pl.concat(
        [
            net.posts.select("user_id", "text"),
            pl.DataFrame(
                [(u, t) for u, ts in loners.items() for t in ts],
                schema=["user_id", "text"],
                orient="row",
            ),
        ]
    )
    cfg = ProfileJobConfig(embedder_kind="static", cache=None, dim=32, epochs=40)
    res = graphsona.profile(users, net.follows.select("src", "dst"), posts=posts, config=cfg, k=0)
    ids = res.users["user_id"].to_list()
    z = np.array(res.users["profile"].to_list())
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    a, b = ids.index("zz_a"), ids.index("zz_b")
    assert z[a] @ z[b] < 0.5
    for me, community in ((a, 0), (b, 1)):
        sim = z @ z[me]
        sim[me] = -np.inf
        best = ids[int(np.argmax(sim))]
        assert planted.get(best) == community, (ids[me], best)


def test_fastrp_rows_are_those_of_the_whole_embedding() -> None:
    rng = np.random.default_rng(0)
    edges = torch.from_numpy(rng.integers(0, 500, (2, 3000)))
    whole = fastrp(edges, 500, dim=16, seed=1)
    rows = np.array([7, 0, 499, 7])
    assert np.array_equal(fastrp(edges, 500, dim=16, seed=1, rows=rows), whole[rows])
