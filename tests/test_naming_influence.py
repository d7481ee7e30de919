"""Community names from members' words; PageRank influence from igraph."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch
from graphsona.gnn.influence import pagerank, scale_scores
from graphsona.gnn.naming import name_communities
from graphsona.loaders import SyntheticConfig, generate
from scipy.stats import spearmanr


def test_names_come_from_each_community_topic() -> None:
    net = generate(SyntheticConfig(n_users=900, n_communities=3, seed=1, event=False))
    out = name_communities(
        net.users["planted_community"].to_numpy(), net.users["user_id"].to_list(), net.posts
    )
    assert out["community_id"].to_list() == [0, 1, 2]
    assert out["hashtags"].to_list() == [["#football"], ["#music"], ["#coding"]]
    assert {"goal", "striker"} & set(out["terms"][0]) and {"album", "guitar"} & set(out["terms"][1])
    assert out["size"].sum() == 900 and all(len(m) == 5 for m in out["top_members"])


def test_one_prolific_member_cannot_name_a_community() -> None:
    users = [f"u{i}" for i in range(4)]
    posts = pl.DataFrame(
        {
            "user_id": ["u0"] * 50 + ["u1", "u2", "u3"],
            "text": ["zebraquux spam"] * 50 + ["sourdough bread"] * 3,
        }
    )
    out = name_communities(np.zeros(4, dtype=np.int64), users, posts, min_members=3)
    assert set(out["terms"][0].to_list()) == {"sourdough", "bread"}  # "zebraquux" has one user
    assert out["name"][0] == "bread · sourdough"


def test_pagerank_scores_and_ranks() -> None:
    # everyone points at 0; 0 points at 1
    ei = torch.tensor([[1, 2, 3, 4, 0], [0, 0, 0, 0, 1]])
    pr = pagerank(ei, 5)
    assert abs(pr.sum() - 1) < 1e-9 and pr.argmax() == 0
    score, rank = scale_scores(pr)
    assert score.min() == 0.0 and score.max() == 1.0
    assert rank[0] == 1 and rank[1] == 2 and set(rank[2:]) == {3}  # equal leaves share a rank


def test_pagerank_tracks_in_degree_on_a_social_graph() -> None:
    net = generate(SyntheticConfig(n_users=2000, seed=3))
    ids = {u: i for i, u in enumerate(net.users["user_id"].to_list())}
    ei = torch.tensor([[ids[a] for a in net.follows["src"]], [ids[b] for b in net.follows["dst"]]])
    pr = pagerank(ei, 2000)
    indeg = np.bincount(ei[1].numpy(), minlength=2000)
    assert spearmanr(pr, indeg).statistic > 0.7


def test_influence_without_engagement_is_pagerank_order() -> None:
    from graphsona.gnn.influence import influence_scores

    ei = torch.tensor([[1, 2, 3, 4, 0, 2], [0, 0, 0, 0, 1, 1]])
    res = influence_scores(ei, 5)
    assert res.report["target"].startswith("none")
    assert res.rank[0] == 1 and res.rank[1] == 2 and res.score.max() == 1 and res.score.min() == 0
    order = np.argsort(-res.score, kind="stable")
    assert list(order[:2]) == [0, 1]


def test_learned_influence_forecasts_later_engagement() -> None:
    from graphsona.gnn.influence import influence_scores

    # 60 users; users 0-9 are followed by everyone and get engagement in both windows, the rest
    # get a little early engagement only. Later engagement goes to 0-9 in proportion to their
    # early engagement, which the learned component sees and PageRank (follows only) does not.
    rng = np.random.default_rng(0)
    n = 60
    src, dst, kind, t = [], [], [], []
    for u in range(10, n):
        for v in range(10):
            src.append(u), dst.append(v), kind.append(False), t.append(-1)  # follows
    for v in range(10):
        for _ in range(3 * (v + 1)):
            for tt in (100, 900):  # early and later engagement, growing with v
                src.append(int(rng.integers(10, n))), dst.append(v), kind.append(True), t.append(tt)
    for v in range(10, n):
        src.append(0), dst.append(v), kind.append(True), t.append(100)
    res = influence_scores(
        torch.tensor([src, dst]),
        n,
        is_interaction=torch.tensor(kind),
        edge_time=torch.tensor(t),
        later_fraction=0.4,
    )
    rep = res.report
    assert rep["target"] == "engagement received in the later window"
    assert rep["later_interactions"] == sum(1 for x in t if x == 900)
    assert rep["spearman_later_learned"] > 0.5
    assert res.rank[9] < res.rank[0]  # most engaged-with user ranks above the least of the ten


def test_words_used_everywhere_do_not_name_a_community() -> None:
    """Paper titles: every community writes "using", "approach", "data", "learning"; what tells
    them apart is rarer. The names must come from the distinctive words."""
    rng = np.random.default_rng(0)
    own = {0: ["protein", "folding", "enzyme"], 1: ["galaxy", "telescope", "redshift"]}
    common = ["using", "based", "data", "learning", "approach", "method", "analysis", "model"]
    users, comm, texts = [], [], []
    for c, words in own.items():
        for i in range(30):
            uid = f"c{c}u{i}"
            users.append(uid)
            comm.append(c)
            for _ in range(3):
                title = [*rng.choice(common, 5), str(rng.choice(words))]
                texts.append((uid, " ".join(title)))
    posts = pl.DataFrame(texts, schema=["user_id", "text"], orient="row")
    out = name_communities(np.array(comm), users, posts)
    for c, words in own.items():
        terms = set(out["terms"][c].to_list())
        assert terms and terms <= set(words), terms
        assert not set(out["name"][c].split(" · ")) & set(common)


def test_links_and_handles_never_name_a_community_and_words_keep_their_marks() -> None:
    # real tweets: nearly every one ends in a link, which privacy scrubbing turns into
    # https://t.co/[path]; "https" and "path" named communities before
    users = [f"u{i}" for i in range(4)]
    posts = pl.DataFrame(
        {
            "user_id": users,
            "text": [
                f"@newsdesk सरकार budget vote don’t https://t.co/[path] www.example.org/x{i}"
                for i in range(4)
            ],
        }
    )
    out = name_communities(np.zeros(4, dtype=np.int64), users, posts, min_members=3)
    terms = set(out["terms"][0].to_list())
    assert terms == {"सरकार", "budget", "vote"}  # the Devanagari word whole, vowel sign included
