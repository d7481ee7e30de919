"""Beyond one machine: the job's embedding, GNN training and Chinese sentiment on Ray.

Without Ray options nothing here is used and nothing changes. With them (``graphsona profile
--ray local|auto|ADDRESS``, or ``[scale] ray = ...``):

- **embedding** on Ray Data: the texts the vector cache does not hold go out in blocks to a
  pool of model actors (one per worker; GPU actors when the cluster has GPUs), each running the
  same :func:`~graphsona.embeddings.pipeline.encode_texts` as one process does
  (:class:`RayEmbedding`);
- **training** on Ray Train: a ``TorchTrainer`` around ``DistributedDataParallel`` (gloo on CPU,
  NCCL on GPU). The driver draws the same validation split as one process; each worker trains
  on an equal share of the training edges with the project's neighbour sampler, and inference
  for all users is split by node ranges between the workers (:func:`train_on_ray`);
- **Chinese sentiment**: the default's encoder pass on a pool of CPU actors of the same kind
  (:func:`graphsona.scale.embed.remote_on`, used by the sentiment stage and ``graphsona
  sentiment``).

Takes texts and tensors, never a store (the job moves data between the store and the models).
Ray is imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphsona.scale.session import RayOptions, ray_session

if TYPE_CHECKING:
    from graphsona.scale.embed import RayEmbedding
    from graphsona.scale.train import train_on_ray

__all__ = ["RayEmbedding", "RayOptions", "ray_session", "train_on_ray"]


def __getattr__(name: str) -> Any:
    if name == "RayEmbedding":
        from graphsona.scale.embed import RayEmbedding

        return RayEmbedding
    if name == "train_on_ray":
        from graphsona.scale.train import train_on_ray

        return train_on_ray
    raise AttributeError(f"module 'graphsona.scale' has no attribute {name!r}")
