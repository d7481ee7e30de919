"""Post embeddings: pooling math, cache, dedupe, accounting, the offline default model."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pytest
from graphsona.embeddings import (
    Embedder,
    EmbedOptions,
    PoolingOptions,
    VectorCache,
    embed_texts,
    embed_users,
    load_embedder,
)
from graphsona.errors import ConfigError


class WordCounter(Embedder):
    """A transparent embedder for pooling tests: vector = unit vector of a word's bucket."""

    def __init__(self, model_id: str = "test:v1") -> None:
        self.model_id, self.dimension, self.max_tokens = model_id, 4, 5
        self.calls: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += texts
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, int(hashlib.md5(t.encode()).hexdigest(), 16) % 4] = 1.0
        return out

    def token_counts(self, texts: list[str]) -> np.ndarray:
        return np.array([len(t.split()) for t in texts])


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    # fp32 pinned: the exactness checks below must not depend on whether this CPU has bf16
    return load_embedder("default", device="cpu", precision="fp32")


def users(*ids: str, bios: list[str | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {"user_id": list(ids), "bio": bios or [None] * len(ids)},
        schema={"user_id": pl.String, "bio": pl.String},
    )


def test_mean_pooling_bio_and_users_without_text() -> None:
    emb, ref = WordCounter(), WordCounter()
    vec = {t: ref.encode([t])[0] for t in ("a", "b", "bio")}
    posts = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u1"], "text": ["a", "b", "a", "  "]})
    frame, report = embed_users(users("u1", "u2", "u3", bios=["bio", None, None]), posts, emb)
    got = {r["user_id"]: r for r in frame.iter_rows(named=True)}
    assert np.allclose(got["u1"]["embedding"], (vec["a"] + vec["b"] + vec["bio"]) / 3)
    assert np.allclose(got["u2"]["embedding"], vec["a"])
    assert got["u1"]["n_posts"] == 2 and got["u2"]["n_posts"] == 1  # bio is not a post
    assert not got["u3"]["has_text"] and np.allclose(got["u3"]["embedding"], 0.0)
    assert report.empty_skipped == 1 and report.users_without_text == 1
    assert sorted(emb.calls) == ["a", "b", "bio"]  # "a" embedded once for two posts


def test_recency_weighting_halves_per_half_life() -> None:
    emb = WordCounter()
    day = 86400
    t0 = datetime(2025, 1, 10, tzinfo=UTC).timestamp()
    posts = pl.DataFrame(
        {
            "user_id": ["u1", "u1"],
            "text": ["old", "new"],
            "created_at": [
                datetime.fromtimestamp(t0 - 2 * day, UTC),
                datetime.fromtimestamp(t0, UTC),
            ],
        }
    )
    opts = EmbedOptions(pooling=PoolingOptions(half_life_days=2.0, include_bio=False))
    frame, _ = embed_users(users("u1"), posts, emb, options=opts)
    old, new = emb.encode(["old"])[0], emb.encode(["new"])[0]
    assert np.allclose(frame["embedding"][0].to_numpy(), (0.5 * old + 1.0 * new) / 1.5)


def test_cache_hits_and_invalidation(tmp_path: Path) -> None:
    posts = pl.DataFrame({"user_id": ["u1", "u2"], "text": ["x y", "z"]})
    cache = VectorCache(tmp_path / "c.sqlite")
    _, first = embed_users(users("u1", "u2"), posts, WordCounter(), cache=cache)
    assert (first.embedded, first.cache_hits) == (2, 0)
    again = WordCounter()
    _, second = embed_users(
        users("u1", "u2"), posts, again, cache=VectorCache(tmp_path / "c.sqlite")
    )
    assert (second.embedded, second.cache_hits) == (0, 2) and again.calls == []
    other_model = WordCounter(
        "test:v2"
    )  # another model (or prefix/truncation) never reuses vectors
    _, third = embed_users(users("u1", "u2"), posts, other_model, cache=cache)
    assert (third.embedded, third.cache_hits) == (2, 0)
    # pooling is applied after the cache: a new pooling changes results, not cached text vectors
    _, fourth = embed_users(
        users("u1", "u2"),
        posts,
        WordCounter(),
        cache=cache,
        options=EmbedOptions(pooling=PoolingOptions(half_life_days=3.0)),
    )
    assert fourth.embedded == 0


def test_token_budget_batches_sorted_by_length() -> None:
    class Recorder(WordCounter):
        batches: ClassVar[list[list[str]]] = []

        def encode(self, texts: list[str]) -> np.ndarray:
            self.batches.append(texts)
            return super().encode(texts)

    emb = Recorder()
    texts = ["a b c d e", "a", "a b", "a b c", "b", "c d"]
    embed_texts(texts, emb, batch_tokens=6)
    lengths = [[len(t.split()) for t in b] for b in emb.batches]
    assert all(max(b) * len(b) <= 6 or len(b) == 1 for b in lengths)  # padded size within budget
    assert [x for b in lengths for x in b] == sorted(x for b in lengths for x in b)


def test_dedupe_and_batching_match_embedding_each_text_alone(minilm: Embedder) -> None:
    texts = [
        "goal goal striker",
        "sourdough recipe 🔥",
        "goal goal striker",
        "der die und das",
        "a much longer post " * 5,
    ]
    together = embed_texts(texts, minilm, batch_tokens=64)
    alone = np.stack([minilm.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_rust_tokenisation_gives_the_librarys_vectors_and_counts(minilm: Embedder) -> None:
    """The default model tokenises batches through the Rust backend (the GPU's pace was set by
    transformers' per-text Python work); it must give bit-for-bit what sentence-transformers'
    own encode gives, truncation counts included, and fall back when it cannot."""
    from graphsona.embeddings.models import SentenceTransformerEmbedder
    from graphsona.embeddings.pipeline import encode_texts

    assert isinstance(minilm, SentenceTransformerEmbedder) and minilm.rust_tokens
    texts = [
        "goal goal striker",
        "",
        "  spaced   out  ",
        "中文的帖子 很好 🙂 café @user https://x.co/a",
        "word " * 254,  # 256 tokens with [CLS] and [SEP]: the limit, not truncated
        "word " * 255,  # one over
        "a much longer post " * 80,
    ]
    fast, cut_fast = encode_texts(texts, minilm, batch_tokens=512)
    counts_fast = minilm.token_counts(texts)
    rust, minilm._rust = minilm._rust, None  # type: ignore[attr-defined]
    try:
        slow, cut_slow = encode_texts(texts, minilm, batch_tokens=512)
        counts_slow = minilm.token_counts(texts)
        library = minilm.encode(texts)
    finally:
        minilm._rust = rust  # type: ignore[attr-defined]
    assert np.array_equal(counts_fast, counts_slow) and counts_fast[4] == 256
    assert cut_fast == cut_slow == 2
    assert np.allclose(fast, slow, atol=1e-6) and np.allclose(fast, library, atol=1e-5)
    prefixed = load_embedder("default", device="cpu", precision="fp32", prefix="query: ")
    assert prefixed.rust_tokens  # a prefix keeps the fast path; its vectors differ from none
    assert not np.allclose(prefixed.encode(texts[:1]), minilm.encode(texts[:1]), atol=1e-3)
    # whatever the fast path cannot reproduce keeps the library's own path
    from types import SimpleNamespace

    from graphsona.embeddings.models import _rust_tokens

    model: Any = minilm.model  # type: ignore[attr-defined]
    slow_tok = SimpleNamespace(tokenizer=SimpleNamespace(is_fast=False))
    assert _rust_tokens(slow_tok, 256, "") is None
    assert _rust_tokens(model, 256, "") is not None
    assert _rust_tokens(model, 128, "") is None  # the library truncates at 256: not the same


def test_truncation_and_empty_accounting(minilm: Embedder) -> None:
    short = load_embedder("default", device="cpu", max_tokens=16, precision="fp32")
    assert short.model_id != minilm.model_id  # truncation length is part of the cache key
    posts = pl.DataFrame({"user_id": ["u1"] * 4, "text": ["word " * 40, "short one", "", None]})
    _, report = embed_users(users("u1"), posts, short)
    assert report.truncated == 1 and report.empty_skipped == 2 and report.embedded == 2


def test_default_model_loads_offline(monkeypatch: pytest.MonkeyPatch, minilm: Embedder) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert minilm.dimension == 384 and minilm.model_id.startswith(
        "st:sentence-transformers/all-MiniLM-L6-v2"
    )
    v = minilm.encode(
        ["football match tonight", "the striker scored a goal", "my sourdough recipe"]
    )
    assert v[0] @ v[1] > v[0] @ v[2]  # it is a real semantic model


def test_unavailable_model_says_how_to_provide_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRAPHSONA_ALLOW_DOWNLOADS", raising=False)
    with pytest.raises(
        ConfigError,
        match=r"not available offline.*local model directory.*GRAPHSONA_ALLOW_DOWNLOADS",
    ):
        load_embedder("some-org/not-installed-model")


def test_fast_static_mode_is_semantic_and_cached_separately() -> None:
    fast = load_embedder("default", kind="static")
    assert fast.dimension == 256 and fast.model_id.startswith("static:")
    v = fast.encode(["football match tonight", "the striker scored a goal", "my sourdough recipe"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert fast.token_counts(["one two three"])[0] >= 3


def test_precision_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphsona.embeddings import models

    assert models.resolve_precision("auto", "cuda") == "bf16"
    assert models.resolve_precision("auto", "cuda:1") == "bf16"
    assert models.resolve_precision("fp32", "cuda") == "fp32"
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: False)
    assert models.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: True)
    assert models.resolve_precision("auto", "cpu") == "bf16"
    assert models.resolve_precision("auto", "mps") == "fp32"
    with pytest.raises(ConfigError, match="precision must be one of"):
        load_embedder("default", precision="fp8")


def test_bf16_vectors_stay_close_to_fp32_and_are_cached_apart(minilm: Embedder) -> None:
    bf16 = load_embedder("default", device="cpu", precision="bf16")
    assert bf16.model_id != minilm.model_id and bf16.model_id.endswith(":bf16")
    texts = ["football match tonight", "my sourdough recipe 🔥", "der die und das " * 8]
    a, b = minilm.encode(texts), bf16.encode(texts)
    assert b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)  # normalised in float32
    assert ((a * b).sum(axis=1) > 0.99).all()


def test_reuse_embedders_loads_each_model_once_per_pool() -> None:
    """A stream's micro-batches share one loaded model (reuse_embedders); elsewhere every call
    loads its own, as before."""
    from graphsona.embeddings import reuse_embedders

    pool: dict[Any, Any] = {}
    with reuse_embedders(pool):
        a = load_embedder("default", kind="static")
        b = load_embedder("default", kind="static")
        other = load_embedder("default", kind="static", prefix="query: ")
    assert a is b and other is not a and len(pool) == 2
    assert load_embedder("default", kind="static") is not a  # outside the block: fresh
    with reuse_embedders(pool):
        assert load_embedder("default", kind="static") is a  # the pool outlives the block
