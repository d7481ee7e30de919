"""GNN training on Ray Train: DistributedDataParallel over shares of the training edges.

The recipe is :class:`~graphsona.gnn.ProfileModel`'s mini-batch one, spread over workers:

- the driver draws the validation split exactly as one process does
  (:meth:`~graphsona.gnn.ProfileModel.split`, same seed), so both hold out the same edges, and
  puts features and split in the object store once;
- every worker starts from the same weights (same seed; DDP also broadcasts rank 0's), takes an
  equal share of a seeded shuffle of the training edges (equal, so every worker takes the same
  number of steps, as DDP needs) and runs the mini-batch epoch with the neighbour sampler;
  gradients are averaged by DDP (gloo on CPU, NCCL on GPU), so one step sees ``workers x
  batch_size`` edges;
- validation and the final profiles use exact layer-wise inference split by node ranges: each
  worker computes its ``ceil(n / workers)`` users per layer and the layers are all-gathered, so
  every worker holds the same AUC and takes the same early-stopping decision;
- checkpoints are the project's own (:mod:`graphsona.gnn.checkpoints`), written by rank 0 every
  ``checkpoint_every`` epochs and tagged with the number of workers; a rerun with the same data,
  model and workers resumes from it. On a multi-machine cluster the checkpoint path must be on
  storage every node sees.

The driver gets the best weights, the history and the profiles back through a Ray Train
checkpoint and keeps them in the :class:`~graphsona.gnn.ProfileModel` it was given, so the rest
of the job cannot tell the difference.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from graphsona.gnn.profiles import ProfileModel
from graphsona.scale.session import Cluster

__all__ = ["train_on_ray"]


def _tag(world: int) -> str:
    return f"ray:{world}"


def _train_loop(cfg: dict[str, Any]) -> None:  # runs in each Ray Train worker
    import ray
    import ray.train
    import ray.train.torch
    import torch.distributed as dist
    from graphsona.gnn.checkpoints import resume_checkpoint, save_checkpoint
    from graphsona.gnn.encoder import Encoder
    from graphsona.gnn.sampler import NeighbourSampler
    from torch.nn.parallel import DistributedDataParallel

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(cfg["threads"])
    if not cfg["use_gpu"]:  # scatter sums in a fixed order, as one process does on CPU
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = ray.train.torch.get_device() if cfg["use_gpu"] else torch.device("cpu")
    data = ray.get(cfg["data"])
    model = ProfileModel(**cfg["model"], epochs=cfg["epochs"], device=str(device))
    model.history.mode = f"mini-batch (Ray, {world} workers)"
    x, split = data["x"].to(device), data["split"]
    n = x.shape[0]
    sampler = NeighbourSampler(split.msg.to(device), split.msg_w.to(device), n)
    train_pos = split.train_pos
    per = train_pos.shape[1] // world
    shuffle = torch.randperm(
        train_pos.shape[1], generator=torch.Generator().manual_seed(model.seed)
    )
    mine = train_pos[:, shuffle[rank * per : (rank + 1) * per]].to(device)
    val_pos, val_neg = split.val_pos, split.val_neg

    torch.manual_seed(model.seed)  # the same initial weights on every worker
    out_dim = model.dim + (1 if model.target_bias else 0)
    enc = Encoder(x.shape[1], model.hidden, out_dim, model.layers, model.dropout).to(device)
    ddp = DistributedDataParallel(enc, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.Adam(ddp.parameters(), lr=model.lr)
    state: dict[str, Any] = {
        "best": -1.0,
        "best_state": copy.deepcopy(enc.state_dict()),
        "waited": 0,
    }
    size = -(-n // world)

    def gather(h: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros(size, h.shape[1], dtype=h.dtype, device=h.device)
        pad[: h.shape[0]] = h
        parts = [torch.empty_like(pad) for _ in range(world)]
        dist.all_gather(parts, pad)
        return torch.cat(parts)[:n]

    checkpoint = Path(cfg["checkpoint"]) if cfg["checkpoint"] else None
    gen = torch.Generator().manual_seed(model.seed)
    start = 0
    if checkpoint is not None:
        start = resume_checkpoint(
            model, checkpoint, cfg["fingerprint"], enc, opt, state, gen, tag=_tag(world)
        )
    for epoch in range(start, model.epochs):
        if state["waited"] >= model.patience:
            break
        t0 = time.perf_counter()
        enc.train()
        # each worker's own draws (batches, negatives, neighbours, dropout), fixed by (seed,
        # epoch, rank): a resumed run repeats them
        draw = model.seed * 1_000_003 + epoch * 1009 + rank
        gen = torch.Generator().manual_seed(draw)
        torch.manual_seed(draw)
        loss = model._minibatch_epoch(ddp, opt, x, sampler, mine, n, gen)  # type: ignore[arg-type]
        mean = torch.tensor([loss], dtype=torch.float64)
        dist.all_reduce(mean)
        loss = float(mean) / world
        z = model._infer(enc, x, None, sampler, part=(rank, world), gather=gather)
        model.record_epoch(enc, state, epoch, loss, z, val_pos, val_neg, t0)
        if (
            rank == 0
            and checkpoint is not None
            and ((epoch + 1) % model.checkpoint_every == 0 or state["waited"] >= model.patience)
        ):
            save_checkpoint(
                model, checkpoint, cfg["fingerprint"], epoch + 1, enc, opt, state, gen, _tag(world)
            )
        # (no per-epoch ray.train.report: each is a barrier through the controller, ~2 s)
    enc.load_state_dict(state["best_state"])
    if rank == 0 and checkpoint is not None:
        save_checkpoint(
            model,
            checkpoint,
            cfg["fingerprint"],
            len(model.history.loss),
            enc,
            opt,
            state,
            gen,
            _tag(world),
        )
    out = model._infer(enc, x, None, sampler, part=(rank, world), gather=gather)
    metrics = {"epochs": len(model.history.loss), "best_val_auc": state["best"]}
    if rank == 0:
        with tempfile.TemporaryDirectory() as tmp:
            blob = {
                "encoder": {k: v.cpu() for k, v in enc.state_dict().items()},
                "history": model.history,
                "out": out.cpu(),
            }
            torch.save(blob, Path(tmp) / "result.pt")
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
    else:
        ray.train.report(metrics)


def train_on_ray(
    model: ProfileModel,
    x: torch.Tensor,
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None,
    cluster: Cluster,
    *,
    checkpoint: str | Path | None = None,
    storage: str | Path | None = None,
) -> ProfileModel:
    """Fit ``model`` on Ray Train (inside :func:`~graphsona.scale.ray_session`); afterwards
    ``model`` holds the encoder, profiles, biases and history as after
    :meth:`~graphsona.gnn.ProfileModel.fit`.

    Args:
        cluster: workers, GPU or not, CPUs per worker (from the session).
        checkpoint: the project's checkpoint file (resume; see the module docstring).
        storage: Ray Train's run storage (``None``: a temporary folder; on a multi-machine
            cluster a path every node sees).
    """
    import ray
    from graphsona.gnn.checkpoints import data_fingerprint
    from graphsona.gnn.encoder import Encoder
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    n = x.shape[0]
    if n < cluster.workers:
        raise ValueError(f"{cluster.workers} workers need at least as many users (got {n})")
    torch.manual_seed(model.seed)  # negative_sampling draws from torch's global generator
    split = model.split(n, edge_index, edge_weight, torch.Generator().manual_seed(model.seed))
    fingerprint = (
        data_fingerprint(x, edge_index, model.edge_weights(edge_index, edge_weight))
        if checkpoint
        else ""
    )
    config = model.config()
    with tempfile.TemporaryDirectory(prefix="graphsona-ray-") as tmp:
        trainer = TorchTrainer(
            _train_loop,
            train_loop_config={
                "data": ray.put({"x": x.cpu(), "split": split}),
                "model": config,
                "epochs": model.epochs,
                "checkpoint": str(checkpoint) if checkpoint else None,
                "fingerprint": fingerprint,
                "threads": cluster.cpus_per_worker,
                "use_gpu": cluster.use_gpu,
            },
            scaling_config=ScalingConfig(
                num_workers=cluster.workers,
                use_gpu=cluster.use_gpu,
                resources_per_worker=None if cluster.use_gpu else {"CPU": cluster.cpus_per_worker},
            ),
            run_config=RunConfig(storage_path=str(storage or tmp), name="graphsona-train"),
        )
        result = trainer.fit()
        if result.checkpoint is None:
            raise RuntimeError(f"Ray training returned no result ({result.error})")
        with result.checkpoint.as_directory() as folder:
            blob = torch.load(Path(folder) / "result.pt", weights_only=False)
    out_dim = model.dim + (1 if model.target_bias else 0)
    enc = Encoder(x.shape[1], model.hidden, out_dim, model.layers, model.dropout)
    enc.load_state_dict(blob["encoder"])
    model.history = blob["history"]
    return model.finish(enc.to(model.device), blob["out"].to(model.device))
