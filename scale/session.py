"""Where the Ray work runs: a local instance, the running cluster, or a cluster address."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from graphsona.errors import ConfigError

__all__ = ["RayOptions", "ray_session"]


@dataclass(frozen=True)
class RayOptions:
    """Args:
    address: ``local`` starts a Ray instance on this machine for the job (and stops it after);
        ``auto`` joins the cluster already running here (``ray start --head`` on this machine,
        or ``RAY_ADDRESS``); anything else is a cluster address (``HOST:PORT`` or
        ``ray://HOST:10001``). Every node needs graphsona installed (the same version).
    workers: model actors for embedding and training workers; ``None``: one per CPU of the
        cluster (one per GPU when it has GPUs).
    use_gpu: GPU actors and workers (NCCL); ``None``: when the cluster has GPUs.
    object_store_mb: object store size of a ``local`` instance (``None``: Ray's default).
    stall_timeout_s: Ray embedding that makes no progress for this long (no block of texts
        embedded: actors that cannot start, or died and were not replaced) fails with
        :class:`~graphsona.errors.ClusterError` instead of waiting for ever. Progress resets
        the clock, so it bounds one block's time, not the job's. Ray training whose workers
        have not all started after this long (more workers than the cluster can place) fails
        the same way, as do the tasks that read and write Neo4j by user id range when none of
        them finishes for this long (one range: an eighth of a worker's share of the users). Raise it for a cluster that waits long for capacity (an
        autoscaler).
    """

    address: str = "local"
    workers: int | None = None
    use_gpu: bool | None = None
    object_store_mb: int | None = None
    stall_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if not self.address:
            raise ConfigError("ray address must be 'local', 'auto' or HOST:PORT")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"ray workers must be >= 1 (got {self.workers})")
        if not self.stall_timeout_s > 0:
            raise ConfigError(f"ray stall timeout must be > 0 s (got {self.stall_timeout_s})")


@dataclass(frozen=True)
class Cluster:
    """What a session found: workers to use, GPU or not, CPUs each worker may use (and the
    options' stall timeout)."""

    workers: int
    use_gpu: bool
    cpus_per_worker: int
    stall_timeout_s: float = 600.0


def _quiet() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Cluster]:
    """Ray connected (or started) for the duration; a session this call started is shut down
    at the end, one that was already up is left as it was."""
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dependency
        raise ConfigError("the Ray backend needs the 'ray[data,train]' package") from e
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if options.address == "local":
            cpus = os.cpu_count() or 1
            kw["num_cpus"] = max(cpus, options.workers or 1)
            if options.object_store_mb:
                kw["object_store_memory"] = options.object_store_mb * 2**20
            ray.init(**kw)
        else:
            try:
                ray.init(address=options.address, **kw)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(
                    f"no Ray cluster at {options.address!r} ({e}); start one with "
                    "`ray start --head` or use --ray local"
                ) from e
        started = True
    try:
        _quiet()
        res = ray.cluster_resources()  # type: ignore[no-untyped-call]
        gpus, cpus = int(res.get("GPU", 0)), max(1, int(res.get("CPU", 1)))
        use_gpu = bool(gpus) if options.use_gpu is None else options.use_gpu
        if use_gpu and not gpus:
            raise ConfigError("use_gpu is set but the Ray cluster has no GPU")
        workers = options.workers or (gpus if use_gpu else cpus)
        yield Cluster(workers, use_gpu, max(1, cpus // workers), options.stall_timeout_s)
    finally:
        if started:
            ray.shutdown()
