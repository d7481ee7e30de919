"""Post embeddings: embedders (offline by default), the on-disk vector cache, pooling per user.

Takes texts with user ids (never a store) and gives a ``user_id -> vector`` frame.

The pipeline names (:func:`embed_users`, :func:`embed_texts`, :class:`EmbedOptions`,
:class:`EmbedReport`) are imported on first use: they need torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from graphsona.embeddings._base import Embedder
from graphsona.embeddings.cache import NullCache, VectorCache, text_keys
from graphsona.embeddings.models import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    TransformersEmbedder,
    load_embedder,
    resolve_model,
    reuse_embedders,
)
from graphsona.embeddings.pooling import PoolingOptions

if TYPE_CHECKING:
    from graphsona.embeddings.pipeline import (
        EmbedOptions,
        EmbedReport,
        embed_texts,
        embed_users,
        encode_texts,
    )

__all__ = [
    "DEFAULT_MODEL",
    "EmbedOptions",
    "EmbedReport",
    "Embedder",
    "NullCache",
    "PoolingOptions",
    "SentenceTransformerEmbedder",
    "TransformersEmbedder",
    "VectorCache",
    "embed_texts",
    "embed_users",
    "encode_texts",
    "load_embedder",
    "resolve_model",
    "reuse_embedders",
    "text_keys",
]

_LAZY = frozenset({"EmbedOptions", "EmbedReport", "embed_texts", "embed_users", "encode_texts"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("graphsona.embeddings.pipeline"), name)
    raise AttributeError(f"module 'graphsona.embeddings' has no attribute {name!r}")
