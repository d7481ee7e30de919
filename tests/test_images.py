"""Image posts: the ``images`` column is validated and stored, a local CLIP model (here a tiny
randomly initialised one, saved to a folder) embeds the images into each user's features
(text, image or both), the vectors are cached, and without a model the images are counted and
skipped with a note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from graphsona.embeddings import VectorCache
from graphsona.embeddings.images import ClipImageEmbedder, embed_user_images
from graphsona.errors import ConfigError, DataValidationError
from graphsona.graph import EmbeddedStore, GraphStore
from graphsona.jobs.profile import ProfileJobConfig, run_profile
from graphsona.loaders import load_dataset
from helpers import write_table


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLIP model with tiny random weights in the transformers format, as a user's local
    folder would hold a real one (nothing downloads)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "vocab_size": 100,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    folder = tmp_path_factory.mktemp("clip")
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


def _image(path: Path, colour: tuple[int, int, int], stripes: bool = False) -> Path:
    from PIL import Image

    im = Image.new("RGB", (40, 40), colour)
    if stripes:
        for x in range(0, 40, 4):
            for y in range(40):
                im.putpixel((x, y), (255, 255, 255))
    im.save(path)
    return path


def _dataset(root: Path) -> Path:
    """Six users: u1-u2 post red pictures, u3-u4 striped blue ones, u5 only text, u6 a post
    whose images are a URL, a missing file and a file that is not an image."""
    (root / "img").mkdir(parents=True)
    _image(root / "img" / "red.png", (220, 20, 20))
    _image(root / "img" / "red2.png", (200, 30, 30))
    _image(root / "img" / "blue.png", (20, 20, 220), stripes=True)
    (root / "img" / "notes.txt").write_text("not an image")
    users = pl.DataFrame({"user_id": [f"u{i}" for i in range(1, 7)]})
    posts = pl.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(1, 9)],
            "user_id": ["u1", "u1", "u2", "u3", "u4", "u5", "u6", "u6"],
            "text": ["look", "again", "mine", "sky", "sea", "words only", "links", "plain"],
            "images": [
                "img/red.png",
                "img/red2.png|img/red.png",
                "img/red.png",
                "img/blue.png",
                str(root / "img" / "blue.png"),
                None,
                "https://example.org/a.jpg|img/gone.png|img/notes.txt",
                "",
            ],
        }
    )
    follows = pl.DataFrame(
        {
            "src": ["u1", "u2", "u3", "u4", "u5", "u6", "u1", "u3", "u5", "u2"],
            "dst": ["u2", "u1", "u4", "u3", "u6", "u5", "u3", "u5", "u1", "u4"],
        }
    )
    write_table(root, "users", users)
    write_table(root, "posts", posts)
    write_table(root, "follows", follows)
    return root


def test_images_column_is_validated_and_stored(tmp_path: Path, store: GraphStore) -> None:
    ds, _ = load_dataset(_dataset(tmp_path / "data"))
    images = ds.posts.select("post_id", "images").sort("post_id")
    got = dict(zip(images["post_id"], images["images"].to_list(), strict=True))
    base = str((tmp_path / "data").resolve())
    assert got["p2"] == [f"{base}/img/red2.png", f"{base}/img/red.png"]  # relative -> absolute
    assert got["p7"][0] == "https://example.org/a.jpg"  # URLs kept as they are
    assert got["p6"] is None and got["p8"] is None  # no images, empty cell
    assert int(ds.posts["images"].list.len().sum()) == 9
    store.load(ds)
    stored = store.read_post_images().sort("post_id")
    assert stored["post_id"].to_list() == ["p1", "p2", "p3", "p4", "p5", "p7"]
    assert stored.filter(pl.col("post_id") == "p2")["images"].to_list()[0] == got["p2"]
    # a store loaded without images answers with an empty frame
    other = EmbeddedStore(tmp_path / "plain.lbdb")
    try:
        assert other.read_post_images().height == 0
    finally:
        other.close()


def test_images_column_of_the_wrong_type_names_file_and_column(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    write_table(root, "users", pl.DataFrame({"user_id": ["a", "b"]}))
    write_table(root, "follows", pl.DataFrame({"src": ["a"], "dst": ["b"]}))
    write_table(
        root,
        "posts",
        pl.DataFrame({"user_id": ["a"], "text": ["x"], "images": [[1, 2]]}),
        "parquet",
    )
    with pytest.raises(DataValidationError, match="images must be a list of paths") as err:
        load_dataset(root)
    assert err.value.column == "images" and err.value.file is not None


def test_clip_embedder_pools_users_and_caches(tmp_path: Path, clip_dir: Path) -> None:
    root = _dataset(tmp_path / "data")
    ds, _ = load_dataset(root)
    emb = ClipImageEmbedder(clip_dir, device="cpu")
    assert emb.dimension == 8
    ids = ds.users.select("user_id").sort("user_id")
    cache = VectorCache(tmp_path / "cache.sqlite")
    vecs, has, report = embed_user_images(ds.posts, ids, emb, cache=cache)
    assert has.tolist() == [True, True, True, True, False, False]
    assert (report.images, report.skipped_remote, report.skipped_missing) == (9, 1, 1)
    assert report.skipped_unreadable == 1 and report.users_with_images == 4
    assert report.embedded == 3 and report.cache_hits == 0  # red, red2, blue: each once
    # u2 posted red.png only: its vector is that image's; u1 the mean of red and red2
    red = emb.encode([_open(root / "img" / "red.png")])[0]
    assert np.allclose(vecs[1], red, atol=1e-5)
    assert np.allclose(np.linalg.norm(red), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1]) and np.allclose(vecs[2], vecs[3], atol=1e-5)
    again, _, second = embed_user_images(ds.posts, ids, emb, cache=cache)
    assert second.cache_hits == 3 and second.embedded == 0 and np.allclose(again, vecs)
    cache.close()
    with pytest.raises(ConfigError, match="local folder with a CLIP model"):
        ClipImageEmbedder(tmp_path / "nowhere")


def _open(path: Path) -> object:
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def test_job_fuses_image_vectors_or_says_they_were_skipped(tmp_path: Path, clip_dir: Path) -> None:
    ds, _ = load_dataset(_dataset(tmp_path / "data"))
    store = EmbeddedStore(tmp_path / "g.lbdb")
    try:
        store.load(ds)
        base = {"embedder_kind": "static", "cache": None, "dim": 8, "epochs": 5, "topics": False}
        said: list[str] = []
        run_profile(
            store,
            ProfileJobConfig(**base, work_dir=tmp_path / "w1"),  # type: ignore[arg-type]
            progress=lambda stage, msg: said.append(msg),
        )
        assert any("9 images on posts skipped: set [model] image_embedder" in m for m in said)
        said.clear()
        cfg = ProfileJobConfig(
            **base,  # type: ignore[arg-type]
            image_embedder=str(clip_dir),
            work_dir=tmp_path / "w2",
        )
        run_profile(store, cfg, progress=lambda stage, msg: said.append(msg))
        assert any(m.startswith("9 images: 3 embedded, 0 from cache, 1 URLs") for m in said)
        # the users' input: the text vector, then the image vector (zeros for u5 and u6)
        plain = pl.read_parquet(next((tmp_path / "w1").rglob("text.parquet")))
        fused = pl.read_parquet(next((tmp_path / "w2").rglob("text.parquet")))
        d = plain["embedding"].dtype.size  # type: ignore[attr-defined]
        assert fused["embedding"].dtype.size == d + 8  # type: ignore[attr-defined]
        x = np.array(fused.sort("user_id")["embedding"].to_list(), dtype=np.float32)
        norms = np.linalg.norm(x[:4, d:], axis=1)  # u1: the mean of two unit vectors
        assert np.allclose(norms[1:], 1.0, atol=1e-4) and 0.5 < norms[0] <= 1.0 + 1e-5
        assert np.abs(x[4:, d:]).max() == 0.0
        users = store.read_users()
        assert users["profile"].null_count() == 0
    finally:
        store.close()


def test_update_embeds_new_posts_images_like_the_full_run(tmp_path: Path, clip_dir: Path) -> None:
    """u5, who had only text, posts a picture: after the update, the image part of u5's input
    row in the saved state is that picture's CLIP vector (zeros when the same post comes
    without it), right after the text vector as in the full run."""
    from graphsona.jobs.state import load_state
    from graphsona.jobs.update import run_update

    ds, _ = load_dataset(_dataset(tmp_path / "data"))
    emb = ClipImageEmbedder(clip_dir, device="cpu")
    for case in ("with", "without"):
        store = EmbeddedStore(tmp_path / f"{case}.lbdb")
        try:
            store.load(ds)
            cfg = ProfileJobConfig(
                embedder_kind="static",
                cache=tmp_path / "v.sqlite",
                dim=8,
                epochs=5,
                topics=False,
                image_embedder=str(clip_dir),
                work_dir=tmp_path / f"w-{case}",
            )
            run_profile(store, cfg)
            text_dim = int(load_state(cfg.work_dir).meta["text_dim"])  # type: ignore[arg-type]
            delta = tmp_path / f"delta-{case}"
            delta.mkdir()
            picture = _image(delta / "new.png", (30, 200, 30))
            post = {"post_id": ["p9"], "user_id": ["u5"], "text": ["my garden"]}
            if case == "with":
                post["images"] = ["new.png"]
            write_table(delta, "posts", pl.DataFrame(post))
            run_update(store, delta, cfg)
            state = load_state(cfg.work_dir)  # type: ignore[arg-type]
            row = state.users.filter(pl.col("user_id") == "u5")["x"].to_list()[0]
            image_part = np.array(row[text_dim - 8 : text_dim], dtype=np.float32)
            if case == "with":
                assert np.allclose(image_part, emb.encode([_open(picture)])[0], atol=1e-5)
            else:
                assert np.abs(image_part).max() == 0.0
            assert int(state.meta["text_dim"]) == text_dim  # the layout of the full run
        finally:
            store.close()
