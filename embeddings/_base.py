"""The embedder contract: texts in, one float32 vector per text out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["Embedder"]


class Embedder(ABC):
    """Turns texts into vectors.

    Attributes:
        model_id: identifies the model *and* every setting that changes its vectors (prefix,
            max tokens, pooling); the on-disk cache keys on it.
        dimension: length of each vector.
        max_tokens: longer texts are truncated by the model (and counted by the pipeline).
    """

    model_id: str
    dimension: int
    max_tokens: int
    #: whether a batch costs its longest text times its size (transformers: sort and budget
    #: batches by tokens); ``False`` for models whose cost is just their tokens (static models).
    pads: bool = True
    #: one space for many languages (posts are centred per language before pooling)
    multilingual: bool = False

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts`` as a ``(len(texts), dimension)`` float32 array (L2-normalised)."""

    @abstractmethod
    def token_counts(self, texts: list[str]) -> np.ndarray:
        """Token count of each text *before* truncation (for batching and truncation counts)."""

    def encode_counted(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and pre-truncation token counts in one call (one tokenisation where possible)."""
        return self.encode(texts), self.token_counts(texts)

    def prepare(self, texts: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """``(items, tokens, truncated)`` for length-sorted batching: one item per text for
        :meth:`encode_prepared`, its token count after truncation and whether it was truncated.
        By default the items are the texts themselves; an embedder that can tokenise once for
        both counting and encoding returns its tokens instead."""
        tokens = self.token_counts(texts)
        return list(texts), np.minimum(tokens, self.max_tokens), tokens > self.max_tokens

    def encode_prepared(self, items: list[Any]) -> np.ndarray:
        """Vectors of items from :meth:`prepare` (the same as :meth:`encode` of their texts)."""
        return self.encode(items)
