"""The user's surface end to end: config, profile with resume, query, recommend, similar,
communities, export, report (rendered in headless Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.loaders import SyntheticConfig, generate, write_dataset

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A dataset loaded and profiled through the CLI with a TOML config."""
    root = tmp_path_factory.mktemp("cli")
    data = write_dataset(
        generate(SyntheticConfig(n_users=500, n_communities=4, seed=8)), root / "data"
    )
    store = root / "graph.lbdb"
    config = root / "job.toml"
    config.write_text(
        f"""
[store]
uri = "{store}"

[model]
kind = "static"
cache = "{root / "vectors.sqlite"}"

[training]
dim = 32
epochs = 30

[output]
work_dir = "{root / "runs"}"
recommendations = 4
"""
    )
    code, _, err = run("load", str(data), "--store", str(store))
    assert code == 0, err
    code, out, err = run("profile", "--config", str(config), "--json")
    assert code == 0, err
    yield {
        "root": root,
        "store": store,
        "config": config,
        "first": json.loads(out),
    }


def test_profile_rerun_reuses_stages_and_cli_overrides_config(job: dict[str, Any]) -> None:
    first = job["first"]
    assert first["skipped"] == [] and first["users"] == 500
    manifest = json.loads((job["root"] / "runs" / "manifest.json").read_text())
    assert manifest["train"]["epochs"] <= 30
    code, out, err = run("profile", "--config", str(job["config"]), "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["skipped"] == [
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
    assert again["run_id"] == first["run_id"]
    # a command-line option wins over the file and invalidates only what depends on it
    code, out, err = run(
        "profile", "--config", str(job["config"]), "--set", "communities.resolution=2.0", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["skipped"] == [
        "embed",
        "sentiment",
        "topics",
        "train",
        "ranker",
        "influence",
        "labels",
    ]


def test_query_named_and_adhoc(job: dict[str, Any]) -> None:
    store = str(job["store"])
    code, out, err = run("query", "top_influencers", "-p", "limit=3", "--store", store, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    code, out, _ = run("query", "--list", "--store", store, "--json")
    assert {"who_to_follow(user:str, limit=10)", "bridges(limit=20)"} <= {
        r["name"] for r in json.loads(out)
    }
    cypher = "MATCH (u:User) WHERE u.user_id = $who RETURN u.community_id AS c"
    code, out, err = run("query", cypher, "-p", "who=u0000001", "--store", store, "--json")
    assert code == 0 and len(json.loads(out)) == 1, err
    code, out, err = run("query", "MATCH (u:User) RETURN count(*) AS n", "--store", store, "--json")
    assert code == 0 and json.loads(out) == [{"n": 500}]
    code, out, err = run("query", "MATCH (u:User) SET u.hacked = true", "--store", store)
    assert (
        code == 1 and err.strip() == "error: query has write clauses (SET); pass --write to run it"
    )
    code, _, err = run("query", "profile_card", "--store", store)
    assert code == 1 and "needs --param user" in err


def test_recommend_similar_communities(job: dict[str, Any]) -> None:
    store = str(job["store"])
    code, out, err = run("recommend", "u0000003", "-k", "4", "--store", store, "--json")
    assert code == 0, err
    recs = json.loads(out)
    assert [r["rank"] for r in recs] == [1, 2, 3, 4] and all(r["reason"] for r in recs)
    code, out, err = run("similar", "u0000003", "-k", "3", "--store", store, "--json")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, err = run(
        "recommend",
        "--all",
        "-k",
        "2",
        "--write-back",
        "--store",
        store,
        "--out",
        str(job["root"] / "recs.parquet"),
    )
    assert code == 0, err
    assert pl.read_parquet(job["root"] / "recs.parquet").height == 1000
    code, out, _ = run(
        "query", "MATCH ()-[r:RECOMMENDED]->() RETURN count(r) AS n", "--store", store, "--json"
    )
    assert json.loads(out) == [{"n": 1000}]
    code, out, _ = run("communities", "--store", store, "--json")
    comms = json.loads(out)
    assert sum(c["size"] for c in comms) == 500 and all(c["name"] for c in comms)
    code, _, err = run("similar", "nobody", "--store", store)
    assert code == 1 and err.strip() == "error: unknown user 'nobody'"


def test_export_writes_results_without_source_text(job: dict[str, Any]) -> None:
    out = job["root"] / "export"
    code, _, err = run("export", "--out", str(out), "--config", str(job["config"]))
    assert code == 0, err
    profiles = pl.read_parquet(out / "profiles.parquet")
    assert profiles.height == 500 and {"profile", "community_id", "influence", "pred_topic"} <= set(
        profiles.columns
    )
    assert not {"bio", "handle", "label_topic"} & set(profiles.columns)
    recs = pl.read_parquet(out / "recommendations.parquet")
    assert recs.height == 500 * 4  # k from the config's [output] recommendations
    assert pl.read_parquet(out / "communities.parquet")["size"].sum() == 500
    assert pl.read_parquet(out / "topics.parquet")["size"].sum() > 0
    alerts = pl.read_parquet(out / "alerts.parquet")
    assert "sentiment_swing" in alerts["kind"].to_list() and "sample_texts" not in alerts.columns


def test_validate_reports_every_problem_at_once(tmp_path: Path, job: dict[str, Any]) -> None:
    code, out, err = run("validate", str(job["config"]))
    assert code == 0 and "valid" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[store]
uri = "x.lbdb"
password = "hunter2"

[training]
dim = "big"
epochs = 0
colour = "blue"

[model]
kind = "magic"

[mapping]
user_label = "Person; DROP"

[extras]
a = 1
"""
    )
    code, out, err = run("validate", str(bad))
    assert code == 1
    line = err.strip()
    assert line.startswith("error: ") and "\n" not in line
    for needle in (
        "password",
        "NEO4J_PASSWORD",
        "dim must be int",
        "epochs must be >= 1",
        "'colour'",
        "kind must be one of",
        "user_label",
        "[extras]",
    ):
        assert needle in line, needle
    assert "hunter2" not in line  # secrets are never echoed


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def test_report_renders_in_headless_chromium(job: dict[str, Any]) -> None:
    browser = _chromium()
    if browser is None:
        if IN_CI:
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed: apt-get install chromium")
    html = job["root"] / "report.html"
    code, _, err = run("report", "--out", str(html), "--config", str(job["config"]))
    assert code == 0, err
    text = html.read_text()
    assert "http://" not in text and "https://" not in text  # self-contained
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=5000", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    communities = json.loads(run("communities", "--config", str(job["config"]), "--json")[1])
    n_topics = len(json.loads(run("topics", "--config", str(job["config"]), "--json",
                                  "--top", "1000")[1])["topics"])  # fmt: skip
    n_alerts = len(
        json.loads(run("monitor", "--config", str(job["config"]), "--json")[1])["alerts"]
    )
    assert (
        f'data-rendered="map=640x480;points=500;community_rows={len(communities)};'
        f'topics={n_topics};mood_lines={min(len(communities), 12)};alert_rows={n_alerts}"'
    ) in dom
    assert n_topics >= 2 and n_alerts >= 1 and "Mood over time" in dom
    for c in communities:
        assert c["name"].replace("·", "&middot;") in dom or c["name"] in dom
    assert "training epochs" in dom  # run statistics from the manifest
    shot = Path(os.environ.get("GRAPHSONA_TEST_ARTIFACTS", job["root"])) / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1200,1800", f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000  # a blank page is a few KB
    print(f"report screenshot: {shot}")


def test_evaluate_command_reports_json(job: dict[str, Any]) -> None:
    out_file = job["root"] / "eval.json"
    code, out, err = run(
        "evaluate", "--config", str(job["config"]), "--epochs", "10", "--truth",
        "planted_community", "--label", "label_topic", "--out", str(out_file), "--json",
    )  # fmt: skip
    assert code == 0, err
    rep = json.loads(out)
    assert rep == json.loads(out_file.read_text())
    assert rep["split"]["held_out_follows"] > 0 and "graph_only" in rep["who_to_follow"]
    assert rep["profiles_probe"]["labelled_users"] == int(
        pl.read_parquet(job["root"] / "data" / "users.parquet")["label_topic"].count()
    )
    code, _, err = run("evaluate", "--config", str(job["config"]), "--truth", "nope")
    assert code == 1 and "no column 'nope'" in err


def test_sentiment_by_community_user_and_post(job: dict[str, Any]) -> None:
    config = str(job["config"])
    code, out, err = run("sentiment", "--config", config, "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["languages"] and rep["rows"]
    row = rep["rows"][0]
    assert set(row) == {"community_id", "name", "mood", "negative_share", "scored_posts"}
    assert -1 <= row["mood"] <= 1 and row["scored_posts"] > 0
    shares = [r["negative_share"] for r in rep["rows"] if r["negative_share"] is not None]
    assert shares == sorted(shares, reverse=True)  # the most negative communities first
    out_file = job["root"] / "moods.parquet"
    code, out, err = run("sentiment", "--config", config, "--by", "user", "--out", str(out_file))
    assert code == 0, err
    assert "posts by language" in out and pl.read_parquet(out_file)["user_id"].n_unique() > 100
    code, out, err = run("sentiment", "--config", config, "--by", "post", "--json", "--top", "3")
    assert code == 0, err
    posts = json.loads(out)["rows"]
    assert len(posts) == 3 and {"lang", "sentiment", "sentiment_label", "text"} <= set(posts[0])


def test_finetune_then_classify_and_bad_labels(job: dict[str, Any]) -> None:
    config, root = str(job["config"]), job["root"]
    posts = pl.read_parquet(next((root / "data").glob("posts.*")))
    users = pl.read_parquet(next((root / "data").glob("users.*")))
    themed = posts.join(users.select("user_id", "planted_community"), on="user_id")
    sample = themed.filter(pl.col("planted_community") < 2).group_by("planted_community").head(20)
    labels = sample.select(
        "post_id", pl.format("topic{}", pl.col("planted_community")).alias("label")
    )
    labels.write_csv(root / "labels.csv")
    code, out, err = run("finetune", "--config", config, "--labels", str(root / "labels.csv"),
                         "--task", "topic", "--json")  # fmt: skip
    assert code == 0, err
    info = json.loads(out)
    assert info["classes"] == ["topic0", "topic1"] and info["cv_accuracy"] > 0.8
    code, out, err = run(
        "classify", "--config", config, "--task", "topic", "--json", "--by", "post"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert {"topic", "topic_p"} <= set(rows[0]) and all(0.5 <= r["topic_p"] <= 1 for r in rows)
    code, out, err = run("classify", "--config", config, "--task", "topic", "--json")
    assert code == 0, err
    shares = json.loads(out)
    assert {"community_id", "posts", "share_topic0", "share_topic1"} <= set(shares[0])
    # the next profile run labels every post with the stored classifier, on the Post nodes
    code, out, err = run("profile", "--config", config, "--json")
    assert code == 0, err
    assert "classify" not in json.loads(out)["skipped"]
    cypher = (
        "MATCH (p:Post) WHERE p.topic IS NOT NULL "
        "RETURN p.topic AS t, count(*) AS n, min(p.topic_p) AS low ORDER BY t"
    )
    code, out, err = run("query", cypher, "--config", config, "--json")
    assert code == 0, err
    labelled = json.loads(out)
    assert [r["t"] for r in labelled] == ["topic0", "topic1"]
    assert sum(r["n"] for r in labelled) == posts.height and min(r["low"] for r in labelled) >= 0.5
    code, out, err = run("finetune", "--config", config, "--labels", str(root / "labels.csv"),
                         "--task", "sentiment")  # fmt: skip
    assert code != 0 and "sentiment_tuned" in out + err
    # bad label files: one class, an unknown post id, no label column; an unknown task
    labels.with_columns(pl.lit("same").alias("label")).write_csv(root / "one.csv")
    pl.DataFrame({"post_id": ["nope"] * 3, "label": ["a", "b", "b"]}).write_csv(root / "ids.csv")
    pl.DataFrame({"text": ["x", "y"]}).write_csv(root / "nolabel.csv")
    for name, message in (
        ("one.csv", "at least two labels"),
        ("ids.csv", "row 1"),
        ("nolabel.csv", "'label' column"),
    ):
        code, out, err = run("finetune", "--config", config, "--labels", str(root / name),
                             "--task", "bad")  # fmt: skip
        assert code != 0 and message in out + err and name in out + err, (name, out + err)
    code, out, err = run("classify", "--config", config, "--task", "nothing")
    assert code != 0 and "graphsona finetune" in out + err


def test_topics_and_monitor_commands(job: dict[str, Any]) -> None:
    config, root = str(job["config"]), job["root"]
    code, out, err = run("topics", "--config", config, "--json", "--top", "3")
    assert code == 0, err
    topics = json.loads(out)["topics"]
    assert 1 <= len(topics) <= 3 and {"topic_id", "name", "terms", "size"} <= set(topics[0])
    code, out, err = run("topics", "--config", config)
    assert code == 0 and "topics" in out, err

    alerts_file, series_file = root / "alerts.parquet", root / "series.parquet"
    code, out, err = run(
        "monitor", "--config", config, "--json", "--out", str(alerts_file),
        "--series", str(series_file),
    )  # fmt: skip
    assert code == 0, err
    alerts = json.loads(out)["alerts"]
    swings = [a for a in alerts if a["kind"] == "sentiment_swing"]
    # the planted event, in each community holding enough of planted community 0 (Leiden may
    # split it), and nothing else
    assert swings and all(a["window_start"].startswith("2025-10-28") for a in alerts)
    assert pl.read_parquet(alerts_file).height == len(alerts)
    series = pl.read_parquet(series_file)
    assert set(series["group"].unique()) == {"community", "topic"}
    assert {"bucket_start", "volume", "negative_share"} <= set(series.columns)
    # what was known before the event: no alert; a window after it: none either
    code, out, err = run("monitor", "--config", config, "--json", "--until", "2025-10-27")
    assert code == 0 and json.loads(out)["alerts"] == [], err
    code, out, err = run("monitor", "--config", config, "--json", "--since", "2025-11-15")
    assert code == 0 and json.loads(out)["alerts"] == [], err
    code, out, err = run("monitor", "--config", config, "--bucket", "6h")
    assert code == 0 and "alerts (6h buckets)" in out, err
    code, _, err = run("monitor", "--config", config, "--bucket", "daily")
    assert code != 0 and "bucket must be a count and a unit" in err
    code, _, err = run("monitor", "--config", config, "--since", "last tuesday")
    assert code != 0 and "ISO-8601" in err
    code, _, err = run(
        "monitor", "--config", config, "--since", "2025-10-01", "--until", "2025-09-01"
    )
    assert code != 0 and "must be before" in err


def test_monitor_needs_a_profiled_store(tmp_path: Path) -> None:
    data = write_dataset(
        generate(SyntheticConfig(n_users=60, n_communities=2, seed=2)), tmp_path / "d"
    )
    store = tmp_path / "g.lbdb"
    code, _, err = run("load", str(data), "--store", str(store))
    assert code == 0, err
    code, _, err = run("monitor", "--store", str(store))
    assert code != 0 and "run graphsona profile first" in err
    code, _, err = run("topics", "--store", str(store))
    assert code != 0 and "run graphsona profile first" in err
