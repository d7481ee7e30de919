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

__all__ = [
    "ClipImageEmbedder",
    "ImageReport",
    "clip_model_id",
    "embed_user_images",
    "image_stamps",
]


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


def clip_model_id(path: str | Path) -> str:
    """The identity of a CLIP folder without loading it: its config files and its weight
    files' sizes and times (a replaced model gets new cache keys and a new job fingerprint)."""
    folder = Path(path).expanduser()
    h = hashlib.sha256()
    for name in ("config.json", "preprocessor_config.json"):
        if (folder / name).is_file():
            h.update((folder / name).read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"clip-image:{folder.resolve().name}:{h.hexdigest()[:16]}"


def image_stamps(paths: list[str]) -> list[str]:
    """``path:size:mtime`` of each local image (``path:-`` when unreadable or remote): what a
    fingerprint needs to notice a replaced file without reading it."""
    out = []
    for p in paths:
        try:
            st = Path(p.removeprefix("file://")).stat()
            out.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
        except (OSError, ValueError):
            out.append(f"{p}:-")
    return out


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
        self.model_id = clip_model_id(folder)

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


def _bytes(path: str, report: ImageReport) -> bytes | None:
    """The bytes of a local image, or ``None`` (remote or missing, counted in ``report``)."""
    if "://" in path and not path.startswith("file://"):
        report.skipped_remote += 1
        return None
    try:
        return Path(path.removeprefix("file://")).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        report.skipped_missing += 1
        return None


def _decode(data: bytes) -> Any:
    """A PIL image in RGB, or ``None`` when the bytes are not an image PIL reads."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
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
    # distinct files first (an image posted twice is read and embedded once); only a key per
    # file is kept, and only the images the cache lacks are decoded, a batch at a time
    paths = flat["images"].unique(maintain_order=True).to_list()
    keys_of: dict[str, str] = {}
    for p in paths:
        data = _bytes(p, report)
        if data is not None:
            keys_of[p] = "image:" + hashlib.sha256(data).hexdigest()
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
    first: dict[str, str] = {}
    for p, k in keys_of.items():
        first.setdefault(k, p)
    unreadable: set[str] = set()
    for lo in range(0, len(todo), embedder.batch_size):
        batch, images = [], []
        for k in todo[lo : lo + embedder.batch_size]:
            data = _bytes(first[k], report)
            im = _decode(data) if data is not None else None
            if im is None:
                unreadable.add(k)
                continue
            batch.append(k)
            images.append(im)
        if images:
            fresh = embedder.encode(images)
            cache.put_many(text_keys(embedder.model_id, batch), fresh, model_id=embedder.model_id)
            vec.update(zip(batch, fresh, strict=True))
            report.embedded += len(batch)
    # every path whose bytes are not an image counts once (copies of one file included)
    report.skipped_unreadable += sum(1 for k in keys_of.values() if k in unreadable)
    keys_of = {p: k for p, k in keys_of.items() if k not in unreadable}
    for uidx, p in zip(flat["uidx"].to_list(), flat["images"].to_list(), strict=True):
        key = keys_of.get(p)
        if key is not None:
            sums[uidx] += vec[key]
            counts[uidx] += 1
    has = counts > 0
    sums[has] /= counts[has, None]
    report.users_with_images = int(has.sum())
    return sums.astype(np.float32), has, report
