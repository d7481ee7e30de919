"""Image posts: a local CLIP model's image vectors, cached, pooled per user.

A post may carry image paths or URLs (the ``images`` column). With ``[model] image_embedder``
pointing at a local folder holding a CLIP model in the transformers format (``config.json``,
weights, ``preprocessor_config.json``; e.g. ``openai/clip-vit-base-patch32`` saved with
``save_pretrained``), each image is read, embedded with ``CLIPModel.get_image_features``
(unit length), cached like text vectors (keyed by the model and the image's bytes, so a
re-posted image is embedded once), and averaged per user. Nothing downloads: the model loads
with ``local_files_only`` and URLs are not fetched (they are counted and skipped; fetch the
images and point ``images`` at the files to use them). open_clip checkpoints are not read:
convert them to the transformers format first.

The job puts the users' image vectors beside their text vectors in the GNN's input
(:func:`graphsona.jobs.stages.embed_aligned`), so a user with text, images or both gets
features; without an image embedder the images are counted and the job says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from graphsona.embeddings.cache import NullCache, VectorCache, text_keys
from graphsona.errors import ConfigError, MissingDependencyError

__all__ = ["ClipImageEmbedder", "ImageReport", "embed_user_images"]


@dataclass
class ImageReport:
    """Images seen on posts, embedded, served from the cache, and skipped (with why)."""

    images: int = 0
    posts_with_images: int = 0
    embedded: int = 0
    cache_hits: int = 0
    skipped_remote: int = 0  # URLs: not fetched
    skipped_missing: int = 0  # no such file
    skipped_unreadable: int = 0  # not an image the reader understands
    users_with_images: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ClipImageEmbedder:
    """A CLIP model's image tower from a local folder (transformers format).

    Args:
        path: the folder (``config.json`` of a ``CLIPModel``, weights, and the image
            processor's ``preprocessor_config.json``).
        device: ``cuda`` when available unless given.
        batch_size: images per forward pass.
    """

    def __init__(self, path: str | Path, *, device: str | None = None, batch_size: int = 32):
        import torch

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ConfigError(
                f"image_embedder must be a local folder with a CLIP model in the transformers "
                f"format (config.json, weights, preprocessor_config.json); got {str(path)!r}"
            )
        try:
            from transformers import CLIPImageProcessor, CLIPModel
        except ImportError as e:  # pragma: no cover - transformers is a dependency
            raise MissingDependencyError("image embedding needs transformers") from e
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = CLIPModel.from_pretrained(folder, local_files_only=True)
        model.to(self.device)  # type: ignore[arg-type]
        self.model = model.eval()  # type: ignore[no-untyped-call]
        self.processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
        self.dimension = int(self.model.config.projection_dim)
        self.batch_size = batch_size
        # the folder's config and weight files identify the model (a replaced model, new keys)
        h = hashlib.sha256((folder / "config.json").read_bytes())
        for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        self.model_id = f"clip-image:{folder.resolve().name}:{h.hexdigest()[:16]}"

    def encode(self, images: list[Any]) -> np.ndarray:
        """Unit-length image vectors of PIL images."""
        import torch

        out = np.zeros((len(images), self.dimension), dtype=np.float32)
        for lo in range(0, len(images), self.batch_size):
            batch = self.processor(images=images[lo : lo + self.batch_size], return_tensors="pt")
            with torch.inference_mode():
                feats = self.model.get_image_features(
                    pixel_values=batch["pixel_values"].to(self.device)
                )
                if not isinstance(feats, torch.Tensor):  # transformers 5: an output object
                    feats = feats.pooler_output
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
            out[lo : lo + len(feats)] = feats.cpu().numpy()
        return out


def _read(path: str, report: ImageReport) -> tuple[bytes, Any] | None:
    """(bytes, PIL image in RGB) of a local image, or ``None`` (counted in ``report``)."""
    from PIL import Image, UnidentifiedImageError

    if "://" in path and not path.startswith("file://"):
        report.skipped_remote += 1
        return None
    file = Path(path.removeprefix("file://"))
    try:
        data = file.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        report.skipped_missing += 1
        return None
    try:
        import io

        with Image.open(io.BytesIO(data)) as im:
            return data, im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        report.skipped_unreadable += 1
        return None


def embed_user_images(
    post_images: pl.DataFrame,
    ids: pl.DataFrame,
    embedder: ClipImageEmbedder,
    *,
    cache: VectorCache | NullCache | None = None,
) -> tuple[np.ndarray, np.ndarray, ImageReport]:
    """Each user's mean image vector, in the row order of ``ids`` (``user_id``).

    Args:
        post_images: ``user_id, images`` (a list of paths or URLs per post).

    Returns:
        ``(vectors n x d, has_image n, report)``; users without a readable image get zeros.
    """
    cache = cache if cache is not None else NullCache()
    report = ImageReport()
    n, d = ids.height, embedder.dimension
    sums = np.zeros((n, d), dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    index = ids.select("user_id").with_row_index("uidx")
    rows = (
        post_images.filter(pl.col("images").is_not_null())
        .join(index, on="user_id", how="inner")
        .select("uidx", "images")
    )
    report.posts_with_images = rows.height
    flat = rows.explode("images").drop_nulls("images")
    report.images = flat.height
    if flat.height == 0:
        return sums.astype(np.float32), counts > 0, report
    # distinct files first (an image posted twice is read and embedded once)
    paths = flat["images"].unique(maintain_order=True).to_list()
    read: dict[str, tuple[bytes, Any]] = {}
    for p in paths:
        got = _read(p, report)
        if got is not None:
            read[p] = got
    keys_of = {p: "image:" + hashlib.sha256(b).hexdigest() for p, (b, _) in read.items()}
    distinct = list(dict.fromkeys(keys_of.values()))
    cache_keys = text_keys(embedder.model_id, distinct)
    hits = cache.get_many(cache_keys, d)
    vec: dict[str, np.ndarray] = {}
    todo = []
    for k, ck in zip(distinct, cache_keys, strict=True):
        if ck in hits:
            vec[k] = hits[ck]
        else:
            todo.append(k)
    report.cache_hits = len(distinct) - len(todo)
    if todo:
        first: dict[str, str] = {}
        for p, k in keys_of.items():
            first.setdefault(k, p)
        fresh = embedder.encode([read[first[k]][1] for k in todo])
        cache.put_many(text_keys(embedder.model_id, todo), fresh, model_id=embedder.model_id)
        vec.update(zip(todo, fresh, strict=True))
        report.embedded = len(todo)
    for uidx, p in zip(flat["uidx"].to_list(), flat["images"].to_list(), strict=True):
        key = keys_of.get(p)
        if key is not None:
            sums[uidx] += vec[key]
            counts[uidx] += 1
    has = counts > 0
    sums[has] /= counts[has, None]
    report.users_with_images = int(has.sum())
    return sums.astype(np.float32), has, report
