"""GNN training on Ray Train: DistributedDataParallel over shares of the training edges.

The recipe is :class:`~graphsona.gnn.ProfileModel`'s mini-batch one, spread over workers:

- the driver draws the validation split exactly as one process does
  (:meth:`~graphsona.gnn.ProfileModel.split`, same seed), so both hold out the same edges, and
  puts features and split in the object store once;
- every worker starts from the same weights (same seed; DDP also broadcasts rank 0's), takes an
  equal share of a seeded shuffle of the training edges (equal, so every worker takes the same
  number of steps, as DDP needs: the shares wrap around, so no edge is left out and at most
  ``workers - 1`` are seen twice per epoch) and runs the mini-batch epoch with the neighbour
  sampler; gradients are averaged by DDP (gloo on CPU, NCCL on GPU), so one step sees
  ``workers x batch_size`` edges;
- validation and the final profiles use exact layer-wise inference split by node ranges: each
  worker computes its share of the users per layer (:func:`~graphsona.gnn.profiles.node_share`)
  and the layers are all-gathered, so every worker holds the same AUC and takes the same
  early-stopping decision;
- checkpoints are the project's own (:mod:`graphsona.gnn.checkpoints`), tagged with the number
  of workers, and go through a small *keeper* actor pinned to the driver's machine: rank 0
  sends one every ``checkpoint_every`` epochs and the keeper writes it to the job's work dir;
  at the start every worker asks the keeper for the checkpoint to resume from. The trained
  weights, history and profiles come back to the driver the same way. So no worker needs the
  driver's disk and a cluster needs no shared storage for graphsona's part (Ray Train keeps
  only its run metadata in ``storage``).

The driver keeps the result in the :class:`~graphsona.gnn.ProfileModel` it was given, so the
rest of the job cannot tell the difference.

Workers that cannot start fail the run with :class:`~graphsona.errors.ClusterError`: when the
cluster cannot place them (more workers or CPUs asked than it has), after the cluster's
``stall_timeout_s``; when one dies while starting (a node lost, out of memory) or the
cluster's configured maximum is too small, at once, with Ray's reason. Ray Train's own way is
to wait 60 s, give up, and try again for ever (its controller failures are retried without
limit by default), so a ``--ray-workers`` larger than the cluster hung the job silently. The
wait is Ray Train's worker-group start timeout (``RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S``,
set for the run unless the environment already sets it: a process-wide setting, so two
trainings in threads of one process would share it) and its controller failures are not
retried: a node lost while the workers start fails the run, and running the job again
resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from graphsona.errors import ClusterError
from graphsona.gnn.profiles import ProfileModel, node_share
from graphsona.scale.session import Cluster

__all__ = ["train_on_ray"]


_START_TIMEOUT = "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"


@contextlib.contextmanager
def _start_timeout(seconds: float) -> Iterator[str]:
    """Ray Train's worker-group start timeout set to ``seconds`` for the duration, unless the
    environment sets it already; yields the timeout in force, as written."""
    if _START_TIMEOUT in os.environ:
        yield os.environ[_START_TIMEOUT]
        return
    os.environ[_START_TIMEOUT] = f"{seconds:g}"
    try:
        yield f"{seconds:g}"
    finally:
        os.environ.pop(_START_TIMEOUT, None)


_STARTUP_ERRORS = (
    "WorkerGroupStartupTimeoutError",
    "WorkerGroupStartupFailedError",
    "InsufficientClusterResourcesError",
)


def _startup_failure(error: BaseException) -> BaseException | None:
    """The error in ``error``'s chain (itself, its causes and contexts, a controller error's
    failure) that says Ray Train's workers could not start, or None."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if type(e).__name__ in _STARTUP_ERRORS:
            return e
        todo += [e.__cause__, e.__context__, getattr(e, "controller_failure", None)]
    return None


def _startup_message(cause: BaseException, cluster: Cluster, timeout: str, have: Any) -> str:
    """What to tell the user for Ray Train's startup error ``cause``."""
    need = "1 GPU" if cluster.use_gpu else f"{cluster.cpus_per_worker} CPU"
    asked = f"{cluster.workers} workers x {need} asked of a cluster with {have}"
    if type(cause).__name__ == "WorkerGroupStartupTimeoutError":
        return (
            f"Ray training workers did not start within {timeout} s: {asked}. Ask for fewer "
            "workers (--ray-workers, [scale] workers), or raise [scale] stall_timeout for a "
            "cluster that waits for capacity"
        )
    why = [line for line in str(cause).splitlines() if line.strip()]
    return (
        f"Ray training workers could not start ({asked}): "
        f"{' '.join(why[:2]) if why else repr(cause)}"
    )


def _tag(world: int) -> str:
    return f"ray:{world}"


class _Keeper:
    """On the driver's machine: reads and writes the checkpoint file, holds the result."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.result: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        from graphsona.gnn.checkpoints import read_checkpoint

        return read_checkpoint(self.path) if self.path is not None else None

    def save(self, blob: dict[str, Any]) -> None:
        from graphsona.gnn.checkpoints import write_checkpoint

        if self.path is not None:
            write_checkpoint(self.path, blob)

    def put_result(self, blob: dict[str, Any]) -> None:
        self.result = blob

    def get_result(self) -> dict[str, Any] | None:
        return self.result


def _share(m: int, rank: int, world: int) -> torch.Tensor:
    """Positions of worker ``rank``'s training edges: ``ceil(m / world)`` each, wrapping
    around, so every edge is used and all shares are equal."""
    per = -(-m // world)
    return torch.arange(rank * per, (rank + 1) * per) % m


def _train_loop(cfg: dict[str, Any]) -> None:  # runs in each Ray Train worker
    import ray
    import ray.train
    import ray.train.torch
    import torch.distributed as dist
    from graphsona.gnn.checkpoints import apply_checkpoint, checkpoint_blob
    from graphsona.gnn.encoder import Encoder
    from graphsona.gnn.sampler import NeighbourSampler
    from torch.nn.parallel import DistributedDataParallel

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(cfg["threads"])
    if not cfg["use_gpu"]:  # scatter sums in a fixed order, as one process does on CPU
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = ray.train.torch.get_device() if cfg["use_gpu"] else torch.device("cpu")
    keeper = cfg["keeper"]
    data = ray.get(cfg["data"])
    model = ProfileModel(
        **cfg["model"],
        epochs=cfg["epochs"],
        checkpoint_every=cfg["checkpoint_every"],
        device=str(device),
    )
    model.history.mode = f"mini-batch (Ray, {world} workers)"
    x, split = data["x"].to(device), data["split"]
    n = x.shape[0]
    sampler = NeighbourSampler(split.msg.to(device), split.msg_w.to(device), n)
    train_pos = split.train_pos
    shuffle = torch.randperm(
        train_pos.shape[1], generator=torch.Generator().manual_seed(model.seed)
    )
    mine = train_pos[:, shuffle[_share(train_pos.shape[1], rank, world)]].to(device)
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
    shares = [node_share(r, world, n) for r in range(world)]
    size = max(b - a for a, b in shares)

    def gather(h: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros(size, h.shape[1], dtype=h.dtype, device=h.device)
        pad[: h.shape[0]] = h
        parts = [torch.empty_like(pad) for _ in range(world)]
        dist.all_gather(parts, pad)
        return torch.cat([p[: b - a] for p, (a, b) in zip(parts, shares, strict=True)])

    tag, fingerprint = _tag(world), cfg["fingerprint"]
    gen = torch.Generator().manual_seed(model.seed)
    start = 0
    if cfg["resume"]:  # every worker gets the same checkpoint from the keeper
        blob = ray.get(keeper.load.remote())
        start = apply_checkpoint(model, blob, fingerprint, enc, opt, state, gen, tag)

    def keep(epoch: int) -> None:
        blob = checkpoint_blob(model, fingerprint, epoch, enc, opt, state, gen, tag)
        ray.get(keeper.save.remote(_to_cpu(blob)))

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
        mean = torch.tensor([loss], dtype=torch.float64, device=device)
        dist.all_reduce(mean)
        loss = float(mean) / world
        z = model._infer(enc, x, None, sampler, part=(rank, world), gather=gather)
        model.record_epoch(enc, state, epoch, loss, z, val_pos, val_neg, t0)
        if (
            rank == 0
            and cfg["resume"]
            and ((epoch + 1) % model.checkpoint_every == 0 or state["waited"] >= model.patience)
        ):
            keep(epoch + 1)
        # (no per-epoch ray.train.report: each is a barrier through the controller, ~2 s)
    enc.load_state_dict(state["best_state"])
    if rank == 0 and cfg["resume"]:
        keep(len(model.history.loss))
    out = model._infer(enc, x, None, sampler, part=(rank, world), gather=gather)
    if rank == 0:
        result = {
            "encoder": {k: v.cpu() for k, v in enc.state_dict().items()},
            "history": model.history,
            "out": out.cpu(),
        }
        ray.get(keeper.put_result.remote(result))
    ray.train.report({"epochs": len(model.history.loss), "best_val_auc": state["best"]})


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


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
    :meth:`~graphsona.gnn.ProfileModel.fit`, and its ``progress`` callback has been called
    for each epoch.

    Args:
        cluster: workers, GPU or not, CPUs per worker (from the session).
        checkpoint: the project's checkpoint file on the driver's machine (resume; see the
            module docstring).
        storage: Ray Train's run storage (``None``: a temporary folder on the driver).
    """
    import ray
    from graphsona.gnn.checkpoints import data_fingerprint
    from graphsona.gnn.encoder import Encoder
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    n = x.shape[0]
    if n < cluster.workers:
        raise ValueError(f"{cluster.workers} workers need at least as many users (got {n})")
    torch.manual_seed(model.seed)  # for anything drawing from torch's global generator
    split = model.split(n, edge_index, edge_weight, torch.Generator().manual_seed(model.seed))
    fingerprint = (
        data_fingerprint(x, edge_index, model.edge_weights(edge_index, edge_weight))
        if checkpoint
        else ""
    )
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    keeper: Any = (
        ray.remote(num_cpus=0)(_Keeper)
        .options(scheduling_strategy=here)
        .remote(str(checkpoint) if checkpoint else None)
    )
    try:
        with tempfile.TemporaryDirectory(prefix="graphsona-ray-") as tmp:
            trainer = TorchTrainer(
                _train_loop,
                train_loop_config={
                    "data": ray.put({"x": x.cpu(), "split": split}),
                    "keeper": keeper,
                    "model": model.config(),
                    "epochs": model.epochs,
                    "checkpoint_every": model.checkpoint_every,
                    "resume": checkpoint is not None,
                    "fingerprint": fingerprint,
                    "threads": cluster.cpus_per_worker,
                    "use_gpu": cluster.use_gpu,
                },
                scaling_config=ScalingConfig(
                    num_workers=cluster.workers,
                    use_gpu=cluster.use_gpu,
                    resources_per_worker=(
                        None if cluster.use_gpu else {"CPU": cluster.cpus_per_worker}
                    ),
                ),
                run_config=RunConfig(
                    storage_path=str(storage or tmp),
                    name="graphsona-train",
                    # a worker group that cannot start fails the run (see the module docstring)
                    failure_config=FailureConfig(controller_failure_limit=0),  # type: ignore[call-arg]
                ),
            )
            with _start_timeout(cluster.stall_timeout_s) as timeout:
                try:
                    trainer.fit()
                except Exception as e:
                    cause = _startup_failure(e)
                    if cause is None:
                        raise
                    have = {
                        k: v
                        for k, v in ray.cluster_resources().items()  # type: ignore[no-untyped-call]
                        if k in ("CPU", "GPU")
                    }
                    raise ClusterError(_startup_message(cause, cluster, timeout, have)) from e
        blob: dict[str, Any] | None = ray.get(keeper.get_result.remote())
    finally:
        ray.kill(keeper)
    if blob is None:
        raise RuntimeError("Ray training ended without a result")
    out_dim = model.dim + (1 if model.target_bias else 0)
    enc = Encoder(x.shape[1], model.hidden, out_dim, model.layers, model.dropout)
    enc.load_state_dict(blob["encoder"])
    model.history = blob["history"]
    if model.progress is not None:  # the epochs as they went (reported once training ended)
        h = model.history
        for epoch, (loss, auc) in enumerate(zip(h.loss, h.val_auc, strict=True)):
            model.progress(epoch, loss, auc)
    return model.finish(enc.to(model.device), blob["out"].to(model.device))
