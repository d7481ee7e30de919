"""Fast CPU mode: a static embedding model distilled offline from the default transformer.

``StaticEmbedder("default")`` distils all-MiniLM-L6-v2 (from its installed package, no
download) into a model2vec static model once (measured here: about 45 s on 2 cores, announced
on stderr with a progress bar) and caches it under ``~/.cache/graphsona/models``. Encoding is then a token-vector lookup and mean: measured here
about 45,000 short posts/s on CPU, roughly 130x the transformer. The cost is quality: see
BENCHMARKS.md for the linear-probe accuracy of both on the same data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from graphsona.embeddings._base import Embedder
from graphsona.embeddings.models import _DEFAULT_ALIASES, DEFAULT_MODEL, _offline, resolve_model
from graphsona.errors import MissingDependencyError

__all__ = ["StaticEmbedder"]


def _models_dir() -> Path:
    return Path(os.environ.get("GRAPHSONA_MODELS", Path.home() / ".cache" / "graphsona" / "models"))


# Distilling all-MiniLM-L6-v2 encodes its ~30k-token vocabulary once: measured 45 s wall on
# 2 cores; it scales with cores until the PCA and the save, so the estimate is rough.
_DISTIL_CORE_SECONDS = 120.0


def _estimate(cores: int) -> str:
    seconds = _DISTIL_CORE_SECONDS / max(cores, 1)
    if seconds >= 90:
        return f"about {round(seconds / 60)} minutes"
    if seconds >= 45:
        return "about a minute"
    return f"about {max(10, round(seconds, -1)):.0f} s"


class StaticEmbedder(Embedder):
    """A model2vec static model distilled from ``source`` (default: all-MiniLM-L6-v2).

    Args:
        source: the transformer to distil (name or local path, resolved offline).
        pca_dims: output dimension after PCA (model2vec's recommended 256).
        max_tokens: texts are cut to this many tokens.
    """

    def __init__(
        self,
        source: str = "default",
        *,
        pca_dims: int = 256,
        max_tokens: int = 512,
        prefix: str = "",
        device: str | None = None,
    ) -> None:
        if _offline():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from model2vec import StaticModel
        except ImportError as e:
            raise MissingDependencyError(
                "the fast CPU mode needs model2vec: pip install model2vec skeletoken"
            ) from e
        canonical = DEFAULT_MODEL if source in _DEFAULT_ALIASES else source
        path = resolve_model(source)
        tag = hashlib.sha1(f"{canonical}\x00{path}\x00{pca_dims}".encode()).hexdigest()[:12]
        target = _models_dir() / f"static-{tag}"
        if not (target / "config.json").exists():
            self._distil(path, pca_dims, target, name=canonical.rstrip("/").rsplit("/", 1)[-1])
        self.path = target
        self.model: Any = StaticModel.from_pretrained(str(target))
        if self.model.token_mapping is not None or self.model.weights is not None:
            raise MissingDependencyError(  # pragma: no cover - not what _distil produces
                f"{target} uses token mapping or weights, which this embedder does not apply"
            )
        import torch

        self._table = torch.from_numpy(np.asarray(self.model.embedding, dtype=np.float32))
        self.prefix = prefix
        self.max_tokens = max_tokens
        self.dimension = int(self.model.dim)
        self.model_id = f"static:{canonical}:pca{pca_dims}:{max_tokens}:{hashlib.sha1(prefix.encode()).hexdigest()[:6]}"

    @staticmethod
    def _distil(path: str, pca_dims: int, target: Path, *, name: str) -> None:
        """Distil ``path`` into ``target``, saying so on stderr first: it happens once per model
        and machine, and takes long enough that a silent wait looks like a hang."""
        from model2vec.distill import distill

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        cores = cores or 1
        print(
            f"distilling the static model from {name} once ({_estimate(cores)} on {cores} "
            f"cores); cached at {target}",
            file=sys.stderr,
            flush=True,
        )
        t0 = time.perf_counter()
        model = distill(model_name=path, pca_dims=pca_dims)  # its progress bar is on stderr
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".static-", dir=target.parent))
        model.save_pretrained(str(tmp))
        if target.exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(target)
        print(f"static model ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    pads = False  # cost is linear in tokens: no length sorting or token budgets needed

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_counted(texts)[0]

    def encode_counted(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean of the first ``max_tokens`` token vectors (unknown tokens dropped), L2-normalised.

        The same vectors as ``model2vec``'s ``StaticModel.encode`` (which averages in the table's
        float16; here float32, cosine to it > 0.99999), vectorised over the whole list and
        tokenising once for both vectors and token counts: about twice as fast.
        """
        import torch

        enc = self.model.tokenizer.encode_batch_fast(
            [self.prefix + t for t in texts] if self.prefix else texts, add_special_tokens=False
        )
        ids = [e.ids[: self.max_tokens] for e in enc]
        counts = np.fromiter((len(e.ids) for e in enc), dtype=np.int64, count=len(texts))
        unk = self.model.unk_token_id
        if unk is not None:
            ids = [[t for t in i if t != unk] if unk in i else i for i in ids]
        lens = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lens.sum()))
        offsets = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(lens[:-1], out=offsets[1:])
        sums = torch.nn.functional.embedding_bag(  # no (tokens x dim) temporary
            torch.from_numpy(flat), self._table, torch.from_numpy(offsets), mode="sum"
        )
        out = torch.nn.functional.normalize(sums, dim=-1)  # the mean's direction; empty -> 0
        return out.numpy(), counts

    def token_counts(self, texts: list[str]) -> np.ndarray:
        enc = self.model.tokenizer.encode_batch(
            [self.prefix + t for t in texts], add_special_tokens=False
        )
        return np.fromiter((len(e.ids) for e in enc), dtype=np.int64, count=len(texts))
