"""The embedder contract: texts in, one float32 vector per text out."""

from __future__ import annotations

from abc import ABC, abstractmethod

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
