"""``graphsona finetune --method setfit``: SetFit tunes the default encoder on a few labelled
posts, the tuned encoder is kept beside the store, and ``classify`` and the job's classify
stage label posts with it (or say clearly why they cannot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import ConfigError
from graphsona.loaders import SyntheticConfig, generate, write_dataset
from graphsona.text.classifier import PostClassifier, tuned_encoder


def run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stdout and stderr together)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stdout + result.stderr


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small store and a SetFit classifier trained on 8 posts of each of two communities."""
    root = tmp_path_factory.mktemp("setfit")
    data = write_dataset(
        generate(SyntheticConfig(n_users=150, n_communities=3, seed=5)), root / "data"
    )
    store = root / "graph.lbdb"
    config = root / "job.toml"
    config.write_text(f'[store]\nuri = "{store}"\n\n[model]\ncache = "{root / "v.sqlite"}"\n')
    code, _, said = run("load", str(data), "--store", str(store))
    assert code == 0, said
    posts = pl.read_parquet(next((root / "data").glob("posts.*")))
    users = pl.read_parquet(next((root / "data").glob("users.*")))
    themed = posts.join(users.select("user_id", "planted_community"), on="user_id")
    sample = themed.filter(pl.col("planted_community") < 2).group_by("planted_community").head(8)
    sample.select(
        "post_id", pl.format("topic{}", pl.col("planted_community")).alias("label")
    ).write_csv(root / "labels.csv")
    # a second, smaller labelling of the same task, for retraining
    sample.group_by("planted_community").head(5).select(
        "post_id", pl.format("topic{}", pl.col("planted_community")).alias("label")
    ).write_csv(root / "fewer.csv")
    code, out, said = run("finetune", "--config", str(config), "--labels", str(root / "labels.csv"),
                    "--task", "theme", "--method", "setfit", "--json")  # fmt: skip
    assert code == 0, said
    return {
        "root": root,
        "config": config,
        "themed": themed,
        "label_texts": sample["text"].to_list(),
        "info": json.loads(out),
    }


def test_setfit_tunes_the_encoder_beside_the_store_and_classify_uses_it(
    tuned: dict[str, Any],
) -> None:
    info, root = tuned["info"], tuned["root"]
    assert info["method"] == "setfit" and info["classes"] == ["topic0", "topic1"]
    assert info["labels"] == {"topic0": 8, "topic1": 8} and "cv_accuracy" not in info
    # one folder beside the store, named by the task and its weights' digest; nothing staged
    # is left behind
    (folder,) = (root / "graph.lbdb.models").iterdir()
    assert folder.name.startswith("theme-") and len(folder.name) == len("theme-") + 16
    assert (folder / "modules.json").is_file() and info["base_encoder"] == "default"
    assert info["encoder"] == str(folder.resolve())
    # no model card, and no labelled post's text anywhere in the folder
    assert not (folder / "README.md").exists()
    written = b"".join(f.read_bytes() for f in folder.rglob("*") if f.is_file())
    assert not any(t.encode() in written for t in tuned["label_texts"])
    code, out, said = run("classify", "--config", str(tuned["config"]), "--task", "theme",
                    "--by", "post", "--top", "100000", "--json")  # fmt: skip
    assert code == 0, said
    rows = pl.DataFrame(json.loads(out)).join(
        tuned["themed"].select("post_id", "planted_community"), on="post_id"
    )
    two = rows.filter(pl.col("planted_community") < 2)
    right = two.select(
        (pl.col("theme") == pl.format("topic{}", pl.col("planted_community"))).mean()
    ).item()
    assert two.height > 100 and right >= 0.8, right


def test_the_tuned_encoder_differs_from_the_one_it_started_from(tuned: dict[str, Any]) -> None:
    from graphsona.jobs.classify import post_vectors

    (folder,) = (tuned["root"] / "graph.lbdb.models").iterdir()
    texts = ["a quiet evening with friends", "the match went to extra time"]
    base = post_vectors(texts, "default", "sentence-transformers", None)
    mine = post_vectors(texts, str(folder), "sentence-transformers", None)
    cos = np.sum(base * mine, axis=1) / np.linalg.norm(base, axis=1) / np.linalg.norm(mine, axis=1)
    assert cos.max() < 0.9999


def test_a_missing_tuned_encoder_is_named_and_the_job_skips_that_task(
    tuned: dict[str, Any], tmp_path: Path
) -> None:
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.jobs.stages import ClassifyStage

    (folder,) = (tuned["root"] / "graph.lbdb.models").iterdir()
    stored = {
        "task": "theme",
        "classes": ["a", "b"],
        "coef": [[0.0] * 384],
        "intercept": [0.0],
        "embedder": str(tmp_path / "gone"),
        "embedder_kind": "sentence-transformers",
        "info": {"method": "setfit"},
    }
    with pytest.raises(ConfigError, match=r"not there now.*--method setfit"):
        tuned_encoder(PostClassifier.from_dict(stored))
    assert tuned_encoder(PostClassifier.from_dict({**stored, "embedder": str(folder)}))
    head = {
        **stored,
        "task": "mood",
        "embedder": "default",
        "info": {"method": "head"},
    }
    said: list[str] = []
    stage = ClassifyStage(ProfileJobConfig(cache=None))
    ctx = {
        "posts": pl.DataFrame({"post_id": ["p1"], "user_id": ["u1"], "text": ["hello"]}),
        "classifiers": {"theme": stored, "mood": head},
    }
    out = stage.run(ctx, lambda stage, message: said.append(message))
    assert "not there now" in out["classify_report"]["theme"]["skipped"]
    assert any("skipped theme" in m for m in said)
    # the other classifier still labels the posts
    assert out["post_labels"].columns == ["post_id", "mood", "mood_p"]
    # whether the folder is there is part of the stage's fingerprint: a folder put back (or
    # lost) reruns the stage instead of reusing its saved labels
    spot = tmp_path / "spot"
    spot.mkdir()
    again = {**ctx, "classifiers": {"theme": {**stored, "embedder": str(spot)}, "mood": head}}
    there = stage.fingerprint(again)
    spot.rmdir()
    assert stage.fingerprint(again) != there


def test_setfit_refuses_an_encoder_it_cannot_tune(tuned: dict[str, Any]) -> None:
    root = tuned["root"]
    code, _, out = run("finetune", "--config", str(tuned["config"]), "--labels",
                    str(root / "labels.csv"), "--task", "other", "--method", "setfit",
                    "--set", "model.kind=static")  # fmt: skip
    assert code != 0 and "sentence-transformers" in out and "--method head" in out
    code, _, out = run("finetune", "--config", str(tuned["config"]), "--labels",
                       str(root / "labels.csv"), "--task", "other", "--method", "setfit",
                       "--set", "model.embedder=multilingual")  # fmt: skip
    assert code != 0 and "cannot be trained" in out and "--method head" in out
    code, _, out = run("finetune", "--config", str(tuned["config"]), "--labels",
                       str(root / "labels.csv"), "--task", "other",
                       "--models-dir", str(root / "elsewhere"))  # fmt: skip
    assert code != 0 and "--models-dir is for --method setfit" in out
    assert not (root / "elsewhere").exists()


def test_retraining_a_task_replaces_its_tuned_encoder(tuned: dict[str, Any]) -> None:
    models = tuned["root"] / "graph.lbdb.models"
    (first,) = models.iterdir()
    code, out, said = run("finetune", "--config", str(tuned["config"]), "--labels",
                          str(tuned["root"] / "fewer.csv"), "--task", "theme",
                          "--method", "setfit", "--json")  # fmt: skip
    assert code == 0, said
    (second,) = models.iterdir()  # the first folder is gone, nothing else is left
    assert second != first and json.loads(out)["encoder"] == str(second.resolve())
    assert json.loads(out)["labels"] == {"topic0": 5, "topic1": 5}


def test_forget_deletes_tuned_encoders_and_classify_asks_for_a_retrain(
    tuned: dict[str, Any],
) -> None:
    """Last in this module: it deletes the tuned folder."""
    models = tuned["root"] / "graph.lbdb.models"
    assert len(list(models.iterdir())) == 1
    user = str(tuned["themed"]["user_id"][0])
    code, out, said = run("forget", user, "--config", str(tuned["config"]), "--json")
    assert code == 0, said
    assert json.loads(out)["tuned_encoders"] == 1 and list(models.iterdir()) == []
    code, _, out = run("classify", "--config", str(tuned["config"]), "--task", "theme")
    assert code != 0 and "not there now" in out and "graphsona finetune --method setfit" in out
