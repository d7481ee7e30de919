"""The bias and coverage report (issue 17): label heads per group, calibration, too-small
groups, and community/topic coverage, in evaluate's JSON and the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from graphsona.errors import ConfigError
from graphsona.graph import GraphStore
from graphsona.jobs.evaluate import bias_and_coverage
from graphsona.jobs.profile import run_profile
from graphsona.outputs.bias import bias_report, coverage
from graphsona.outputs.report import write_report
from helpers import update_config


def _heads() -> pl.DataFrame:
    # group a: 40 labelled, all right at p = 1 (calibrated); group b: 40, half right at p = 0.9
    # (over-confident by 0.4); group c: 5 labelled (too small); 10 unlabelled users
    rows = []
    for i in range(40):
        rows.append(("a", "x", "x", 1.0))
        rows.append(("b", "x", "x" if i % 2 else "y", 0.9))
    rows += [("c", "x", "x", 0.8)] * 5 + [("a", None, "x", 0.7)] * 10
    return pl.DataFrame(
        rows, schema=["region", "label_topic", "pred_topic", "pred_topic_p"], orient="row"
    )


def test_bias_report_measures_each_group_and_flags_small_ones() -> None:
    rep = bias_report(_heads(), ["region"])
    head = rep["heads"]["topic"]
    assert head["overall"]["labelled"] == 85
    by = {r["group"]: r for r in head["by"]["region"]}
    assert by["a"]["accuracy"] == 1.0 and by["a"]["ece"] == 0.0
    assert by["b"]["accuracy"] == 0.5 and by["b"]["ece"] == pytest.approx(0.4)
    assert by["b"]["gap"] == pytest.approx(0.5 - head["overall"]["accuracy"], abs=1e-4)
    assert by["c"]["labelled"] == 5 and "accuracy" not in by["c"]
    assert any("region='c'" in w and "too small" in w for w in rep["warnings"])
    with pytest.raises(ConfigError, match="no user column"):
        bias_report(_heads(), ["country"])
    assert "no label heads" in bias_report(pl.DataFrame({"user_id": ["a"]}), [])["warnings"][0]


def test_coverage_counts_users_and_posts_in_small_groups() -> None:
    users = pl.DataFrame({"user_id": list("abcdefg"), "community_id": [0, 0, 0, 0, 0, 1, None]})
    communities = pl.DataFrame({"community_id": [0, 1], "size": [5, 1]})
    posts = pl.DataFrame(
        {"user_id": ["a", "b", "c", "d", "e", "f", "f"], "topic_id": [0, 0, 0, 0, 0, 1, -1]}
    )
    cov = coverage(users, communities, posts, 5)
    assert cov["communities"]["suppressed"] == 1 and cov["communities"]["users_in_suppressed"] == 1
    assert cov["communities"]["users_without_community"] == 1
    assert cov["topics"]["suppressed"] == 1 and cov["topics"]["posts_in_suppressed"] == 1
    assert cov["topics"]["posts_without_topic"] == 1


def test_bias_and_coverage_of_a_profiled_store(
    store: GraphStore, small_dataset: Any, tmp_path: Path
) -> None:
    store.load(small_dataset)
    cfg = update_config(tmp_path)
    run_profile(store, cfg)
    rep = bias_and_coverage(store, ("planted_community",), cfg.min_group_size)
    head = rep["bias"]["heads"]["topic"]  # the generator's label_topic column
    rows = head["by"]["planted_community"]
    assert {r["group"] for r in rows} == set(small_dataset.users["planted_community"].unique())
    measured = [r for r in rows if "accuracy" in r]
    assert measured and all(0 <= r["accuracy"] <= 1 and 0 <= r["ece"] <= 1 for r in measured)
    assert sum(r["labelled"] for r in rows) == head["overall"]["labelled"]
    assert rep["coverage"]["communities"]["count"] >= 2
    assert sum(c["size"] for c in rep["coverage"]["communities"]["sizes"]) == 300
    html = write_report(store, tmp_path / "r.html", by=("planted_community",)).read_text()
    assert "Bias and coverage" in html and 'id="bias-topic-planted_community"' in html
    assert 'id="coverage"' in html
