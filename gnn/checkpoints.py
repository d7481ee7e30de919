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

__all__ = ["data_fingerprint", "resume_checkpoint", "save_checkpoint"]


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
    """``tag`` names the trainer (``""``: one process; the Ray trainer's says how many workers):
    a checkpoint resumes only under the trainer that wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
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
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint


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
    if not path.exists():
        return 0
    blob = torch.load(path, weights_only=False, map_location=model.device)
    if (
        blob.get("config") != model.config()
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
