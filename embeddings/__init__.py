"""Post embeddings: embedders (offline by default), the on-disk vector cache, pooling per user.

Takes texts with user ids (never a store) and gives a ``user_id -> vector`` frame.
"""

from graphsona.embeddings._base import Embedder
from graphsona.embeddings.cache import NullCache, VectorCache, text_keys
from graphsona.embeddings.models import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    TransformersEmbedder,
    load_embedder,
    resolve_model,
)
from graphsona.embeddings.pipeline import EmbedOptions, EmbedReport, embed_texts, embed_users
from graphsona.embeddings.pooling import PoolingOptions

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
    "load_embedder",
    "resolve_model",
    "text_keys",
]
