"""`graphsona evaluate`: metrics by hand, honest splits, and the acceptance claims on synthetic
data; GDS side by side on the Neo4j test server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from graphsona.graph import EmbeddedStore, Neo4jStore
from graphsona.jobs.evaluate import EvalConfig, evaluate, probe
from graphsona.jobs.profile import ProfileJobConfig
from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset


def test_probe_by_hand() -> None:
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]] * 2)
    y = np.array(["a", "a", "a", "b", "b", "b"] * 2)
    assert probe(x, y, folds=2) == {"accuracy": 1.0, "macro_f1": 1.0, "folds": 2.0}
    noise = probe(np.zeros((12, 1)), y, folds=2)
    assert noise["accuracy"] <= 0.5 + 1e-9


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # text-informative communities: the setting of issue 6's acceptance claims
    net = generate(SyntheticConfig(n_users=1500, n_communities=6, mixing=0.2, seed=31))
    ds, _ = load_dataset(write_dataset(net, tmp_path_factory.mktemp("eval") / "data"))
    return ds


def _job(tmp: Path) -> ProfileJobConfig:
    return ProfileJobConfig(embedder_kind="static", cache=tmp / "c.sqlite", dim=64, epochs=80)


def test_evaluate_beats_baselines_on_text_informative_communities(
    synthetic: Any, tmp_path: Path
) -> None:
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(synthetic)
        before = store.counts()
        rep = evaluate(
            store,
            EvalConfig(truth="planted_community", label="planted_community", job=_job(tmp_path)),
        )
        assert store.counts() == before  # evaluation writes nothing
    split = rep["split"]
    assert split["how"].startswith("by time") and split["held_out_follows"] > 100
    wtf = rep["who_to_follow"]
    assert set(wtf) == {
        "graphsona", "graphsona_decoder", "popularity", "common_neighbours", "adamic_adar",
        "text_only", "graph_only", "fastrp", "spectral",
    }  # fmt: skip
    ours = wtf["graphsona"]["recall@20"]
    for name, m in wtf.items():
        assert 0.0 <= m["recall@10"] <= m["recall@20"] <= 1.0 and 0.0 <= m["mrr"] <= 1.0
        if name in ("graph_only", "graphsona_decoder"):
            # our own ablation (the same GNN and FastRP input, no text): on this synthetic graph
            # the follows alone rank as well as follows + text (measured 0.265 vs 0.264), so
            # who-to-follow must not lose to it; text shows in the probe below. The decoder is
            # the recommender's own first stage: the ranker must not lose to it either
            assert ours >= 0.97 * m["recall@20"], (name, ours, m["recall@20"])
        elif name != "graphsona":
            assert ours > m["recall@20"], (name, ours, m["recall@20"])
    spread = rep["profile_spread"]
    assert set(spread) == {"graphsona", "graph_only", "fastrp"}
    assert spread["graphsona"]["mean_cosine"] < 0.9, "profiles collapsed"
    assert spread["graphsona"]["effective_rank"] > 2
    assert rep["warnings"] == []  # enough follows held out
    p = rep["profiles_probe"]
    assert {"fastrp", "spectral", "fastrp_text"} <= set(p)
    assert p["graphsona"]["accuracy"] > p["text_only"]["accuracy"]
    # text must not cost the probe anything against our graph-only ablation (both at 0.997
    # here since the served profiles see every training link: the graph alone nearly
    # separates these planted communities)
    assert p["graphsona"]["accuracy"] >= p["graph_only"]["accuracy"]
    c = rep["communities"]
    assert c["graphsona"]["nmi"] > 0.8 and "ari" in c["leiden"]
    # at least as coherent as Leiden's, up to ties (both near 0.89 here)
    assert c["graphsona"]["text_coherence"] >= c["leiden"]["text_coherence"] - 0.005
    assert rep["influence"]["target"] == "engagement received in the later window"


@pytest.mark.neo4j
def test_gds_side_by_side(neo4j_driver: Any, tmp_path: Path) -> None:
    net = generate(SyntheticConfig(n_users=400, n_communities=4, seed=32))
    ds, _ = load_dataset(write_dataset(net, tmp_path / "data"))
    store = Neo4jStore(neo4j_driver)
    store.load(ds)
    job = ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=32, epochs=30)
    rep = evaluate(
        store, EvalConfig(truth="planted_community", label="planted_community", job=job, gds=True)
    )
    g = rep["gds"]
    for algo in ("louvain", "leiden"):
        assert g[algo]["nmi"] > 0.5 and g[algo]["seconds"] > 0 and g[algo]["modularity"] > 0.2
    assert g["pagerank"]["spearman_indegree"] > 0.5
    assert 0 <= g["fastrp"]["recall@20"] <= 1 and g["fastrp"]["probe"]["accuracy"] > 0.5
    # projections are dropped and nothing was written
    left = store.run("CALL gds.graph.list() YIELD graphName RETURN count(*) AS n")
    assert left["n"][0] == 0
    assert store.run("MATCH (u:User) WHERE u.profile IS NOT NULL RETURN count(*) AS n")["n"][0] == 0


def test_community_truth_with_unknown_users_is_scored_on_the_known_ones() -> None:
    """A truth column known for only some users (e.g. a labelled sample) must not crash the
    evaluation: NMI and ARI cover the users whose value is known."""
    import numpy as np
    import torch
    from graphsona.jobs.evaluate import _partition_scores

    membership = np.array([0, 0, 1, 1, 2, 2])
    truth = np.array(["a", "a", "b", "b", None, None], dtype=object)
    ei = torch.tensor([[0, 2, 4], [1, 3, 5]])
    out = _partition_scores(membership, ei, torch.ones(3), torch.randn(6, 4), truth)
    assert out["nmi"] == pytest.approx(1.0) and out["truth_users"] == 4


def test_a_label_with_one_value_gives_a_warning_not_a_crash(tmp_path: Path) -> None:
    import polars as pl
    from graphsona.loaders import load_frames

    net = generate(SyntheticConfig(n_users=150, n_communities=2, seed=3))
    users = net.users.select("user_id").with_columns(pl.lit("same").alias("label_x"))
    ds, _ = load_frames(users, net.follows.select("src", "dst"))
    job = ProfileJobConfig(embedder_kind="static", cache=None, dim=16, epochs=5)
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(ds)
        rep = evaluate(store, EvalConfig(label="label_x", job=job))
    assert rep["profiles_probe"] == {}
    assert any("fewer than two values" in w for w in rep["warnings"])
