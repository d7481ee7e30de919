"""Training checkpoints: encoder, optimiser, best weights, history and random-generator states,
saved every few epochs with the model config and a fingerprint of the data.

A later ``fit`` with the same config and data resumes where it stopped (a finished one returns at
once) and gives the same profiles as an uninterrupted run on CPU; changed data or a changed model
starts afresh. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from graphsona.gnn.encoder import Encoder
    from graphsona.gnn.profiles import ProfileModel

__all__ = [
    "apply_checkpoint",
    "checkpoint_blob",
    "data_fingerprint",
    "read_checkpoint",
    "resume_checkpoint",
    "save_checkpoint",
    "write_checkpoint",
]


def data_fingerprint(*tensors: torch.Tensor | None) -> str:
    """A content hash of the training inputs (shapes, dtypes and bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def checkpoint_blob(
    model: ProfileModel,
    fingerprint: str,
    epoch: int,
    enc: Encoder,
    opt: torch.optim.Optimizer,
    state: dict[str, Any],
    gen: torch.Generator,
    tag: str = "",
) -> dict[str, Any]:
    """What a checkpoint holds. ``tag`` names the trainer (``""``: one process; the Ray
    trainer's says how many workers): a checkpoint resumes only under the trainer that wrote
    it."""
    return {
        "config": model.config(),
        "tag": tag,
        "fingerprint": fingerprint,
        "epoch": epoch,
        "encoder": enc.state_dict(),
        "optimizer": opt.state_dict(),
        "state": state,
        "history": model.history,
        "rng": {
            "torch": torch.get_rng_state(),
            "gen": gen.get_state(),
            "python": random.getstate(),
            "numpy": np.random.get_state(),
        },
    }


def write_checkpoint(path: Path, blob: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint


def read_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any] | None:
    if not path.exists():
        return None
    blob: dict[str, Any] = torch.load(path, weights_only=False, map_location=device)
    return blob


def save_checkpoint(
    model: ProfileModel,
    path: Path,
    fingerprint: str,
    epoch: int,
    enc: Encoder,
    opt: torch.optim.Optimizer,
    state: dict[str, Any],
    gen: torch.Generator,
    tag: str = "",
) -> None:
    write_checkpoint(path, checkpoint_blob(model, fingerprint, epoch, enc, opt, state, gen, tag))


def apply_checkpoint(
    model: ProfileModel,
    blob: dict[str, Any] | None,
    fingerprint: str,
    enc: Encoder,
    opt: torch.optim.Optimizer,
    state: dict[str, Any],
    gen: torch.Generator,
    tag: str = "",
) -> int:
    """Resume from ``blob`` when it belongs to this model, data and trainer; returns the epoch
    to start at (0: start afresh)."""
    if (
        blob is None
        or blob.get("config") != model.config()
        or blob.get("fingerprint") != fingerprint
        or blob.get("tag", "") != tag
    ):
        return 0  # another model or changed data: start afresh (the file is overwritten)
    enc.load_state_dict(blob["encoder"])
    opt.load_state_dict(blob["optimizer"])
    state.update(blob["state"])
    model.history = blob["history"]
    model.history.resumed_at = blob["epoch"]
    torch.set_rng_state(blob["rng"]["torch"])
    gen.set_state(blob["rng"]["gen"])
    random.setstate(blob["rng"]["python"])
    np.random.set_state(blob["rng"]["numpy"])
    return int(blob["epoch"])


def resume_checkpoint(
    model: ProfileModel,
    path: Path,
    fingerprint: str,
    enc: Encoder,
    opt: torch.optim.Optimizer,
    state: dict[str, Any],
    gen: torch.Generator,
    tag: str = "",
) -> int:
    blob = read_checkpoint(path, model.device)
    return apply_checkpoint(model, blob, fingerprint, enc, opt, state, gen, tag)
