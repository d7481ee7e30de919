"""The profiling job on both stores: everything written back, rerun-safe, queryable."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from graphsona.graph import GraphStore
from graphsona.job import ProfileJobConfig, run_profile
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
