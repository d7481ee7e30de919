"""The profiling job on both stores: everything written back, rerun-safe, queryable."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from graphsona.graph import GraphStore
from graphsona.jobs.profile import ProfileJobConfig, run_profile
from graphsona.loaders import Dataset
from sklearn.metrics import normalized_mutual_info_score


def test_profile_job_writes_results_back(
    store: GraphStore, small_dataset: Dataset, tmp_path: Path
) -> None:
    store.load(small_dataset)
    cfg = ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=32, epochs=40)
    first = run_profile(store, cfg)
    users = store.read_users()
    for col in (
        "profile",
        "community_id",
        "community_name",
        "influence",
        "influence_rank",
        "profile_run_id",
    ):
        assert users[col].null_count() == 0, col
    assert users["influence"].min() >= 0 and users["influence"].max() == 1
    assert users["influence_rank"].min() == 1
    truth = users["planted_community"].to_numpy()
    assert normalized_mutual_info_score(truth, users["community_id"].to_numpy()) > 0.7
    assert store.counts()["communities"] == first.communities.height
    ref = first.leiden_reference  # the structural reference, reported next to ours
    assert ref["communities"] >= 2 and abs(first.modularity - ref["modularity"]) < 0.1
    assert first.text_coherence >= ref["text_coherence"] - 0.01
    links = store.run("MATCH (:User)-[r:IN_COMMUNITY]->(:Community) RETURN count(r) AS n")
    assert links["n"][0] == users.height
    top = users.sort("influence_rank").row(0, named=True)
    hits = store.vector_search(store.create_vector_index("profile", 32), list(top["profile"]), k=3)
    assert hits["user_id"][0] == top["user_id"]
    # a rerun replaces results instead of adding to them
    second = run_profile(store, cfg)
    assert store.counts()["communities"] == second.communities.height
    again = store.read_users()
    assert again.height == users.height and again["profile_run_id"].unique().to_list() == [
        second.run_id
    ]
    names = store.run("MATCH (c:Community) RETURN c.name AS name, c.size AS size")
    assert names["size"].sum() == users.height and names["name"].null_count() == 0
    assert (
        isinstance(first.summary()["communities"], list)
        and pl.Series(names["name"]).n_unique() == names.height
    )


def test_rerun_skips_unchanged_stages_and_redoes_changed_ones(
    tmp_path: Path, small_dataset: Dataset
) -> None:
    from graphsona.graph import EmbeddedStore

    work = tmp_path / "runs"
    cfg = ProfileJobConfig(
        embedder_kind="static", cache=tmp_path / "c.sqlite", dim=16, epochs=15, work_dir=work
    )
    seen: list[str] = []
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(small_dataset)
        first = run_profile(store, cfg, progress=lambda stage, msg: seen.append(stage))
        assert first.skipped == [] and {"embed", "train", "write_back"} <= set(seen)
        manifest = (work / "manifest.json").read_text()
        assert all(s in manifest for s in ("embed", "train", "communities", "influence", "labels"))
        second = run_profile(store, cfg)
        assert second.skipped == [
            "embed",
            "sentiment",
            "topics",
            "train",
            "ranker",
            "communities",
            "influence",
            "labels",
            "monitor",
            "write_back",
        ]
        assert second.run_id == first.run_id
        # a training change redoes what depends on the profiles; embedding and influence
        # (which does not use profiles) are reused
        third = run_profile(store, ProfileJobConfig(**{**cfg.__dict__, "epochs": 16}))
        assert (
            third.skipped[:3] == ["embed", "sentiment", "topics"] and "influence" in third.skipped
        )
        assert store.read_users()["profile_run_id"].unique().to_list() == [third.run_id]


def test_job_reports_influence_and_predicts_labels(tmp_path: Path) -> None:
    from graphsona.graph import EmbeddedStore
    from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset

    net = generate(SyntheticConfig(n_users=1200, n_communities=4, seed=5, label_fraction=0.5))
    ds, _ = load_dataset(write_dataset(net, tmp_path / "data"))
    cfg = ProfileJobConfig(embedder_kind="static", cache=tmp_path / "c.sqlite", dim=32, epochs=40)
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(ds)
        result = run_profile(store, cfg)
        users = store.read_users()
    rep = result.influence
    assert rep["target"] == "engagement received in the later window"
    # the learned component forecasts later engagement better than PageRank alone
    assert rep["spearman_later_learned"] > rep["spearman_later_pagerank"]
    assert 0 < rep["spearman_pagerank"] <= 1 and 0 < rep["spearman_indegree"] <= 1
    head = result.labels["label_topic"]
    assert head["kind"] == "classification" and head["labelled"] == users["label_topic"].count()
    assert head["accuracy"] > 0.8  # 10% of the known labels are noise: ~0.9 is the ceiling
    # every user gets a prediction; unlabelled users' predictions match their planted theme
    assert users["pred_topic"].null_count() == 0 and users["pred_topic_p"].is_between(0, 1).all()
    theme = dict(enumerate(net.community_themes))
    unl = users.filter(pl.col("label_topic").is_null())
    truth = [theme[c] for c in unl["planted_community"].to_list()]
    agree = sum(a == b for a, b in zip(unl["pred_topic"].to_list(), truth, strict=True))
    assert agree / unl.height > 0.9
