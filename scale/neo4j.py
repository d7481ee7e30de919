"""Neo4j as the shared store of a Ray job: reads and write-back partitioned by user id ranges.

**Reads** (:func:`read_graph_on_ray`): the sorted user ids are cut into
:data:`RANGES_PER_WORKER` ranges per worker; each Ray task opens its own connection and reads
the posts written by, and the follows and interactions leaving, the users of its range
(``Neo4jStore.only_users``); the driver joins the parts. Every post and edge has one author or
source, so the parts add up to the whole.

**Write-back**: the users' results are sorted by user id and cut into contiguous ranges the
same way; each Ray task opens its own connection (the store's URI; credentials from
``NEO4J_USERNAME`` / ``NEO4J_PASSWORD``, passed to the task's environment) and writes its range
with the store's own batched write. Setting a property is idempotent, so a task that is retried, or a rerun
after a crash, ends in the same state. Only a store opened from a URI
(:func:`graphsona.graph.open_store`, the CLI) can be reached this way; a store around a driver
you built yourself is written from the driver process as before.

**Failures** (:func:`gather`): a task whose store refuses it (a wrong password, a server that
went away) raises the store's own error in the driver, once, and the other ranges' tasks are
cancelled. Tasks that all make no progress for the cluster's ``stall_timeout_s`` (tasks Ray
cannot place, a server that stopped answering) fail with
:class:`~graphsona.errors.ClusterError` instead of waiting for ever; each finished range resets
the clock, so the timeout bounds one range (an eighth of a worker's share), not the whole read
or write. A write-back stopped this way has written some ranges, not others: a rerun
writes them all again (idempotent).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import polars as pl
from graphsona.errors import ClusterError, GraphsonaError
from graphsona.graph.mapping import SchemaMapping
from graphsona.scale.session import Cluster

__all__ = [
    "RANGES_PER_WORKER",
    "gather",
    "id_bounds",
    "read_graph_on_ray",
    "user_ranges",
    "write_user_properties_on_ray",
]

_CREDENTIALS = ("NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE")
#: ranges per Ray worker: the tasks queue for the workers' CPUs, and each one that finishes
#: shows progress, so a healthy read of a large store is not taken for a stalled one
RANGES_PER_WORKER = 8


def user_ranges(frame: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    """``frame`` sorted by ``user_id`` and cut into at most ``parts`` contiguous, non-empty
    ranges of (nearly) equal size."""
    frame = frame.sort("user_id")
    size = max(1, -(-frame.height // max(1, parts)))
    return [frame.slice(lo, size) for lo in range(0, frame.height, size)]


def id_bounds(ids: pl.Series, parts: int) -> list[tuple[str | None, str | None]]:
    """``[lo, hi)`` ranges over the sorted ``ids``, at most ``parts``, about equal in users;
    the first starts and the last ends unbounded."""
    ids = ids.drop_nulls().cast(pl.String).sort()
    size = max(1, -(-ids.len() // max(1, parts)))
    cuts: list[str | None] = [None, *(str(ids[i]) for i in range(size, ids.len(), size)), None]
    return list(itertools.pairwise(cuts))


def _read_range(
    uri: str, database: str | None, mapping: SchemaMapping | None, lo: str | None, hi: str | None
) -> dict[str, pl.DataFrame]:  # runs in a Ray task
    from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env

    store = Neo4jStore(driver_from_env(uri), database=database, mapping=mapping, owns_driver=True)
    try:
        with store.only_users(lo, hi):
            return {
                "posts": store.read_posts(),
                "follows": store.read_follows(),
                "interactions": store.read_interactions(),
            }
    finally:
        store.close()


def _tasks(fn: Any, cluster: Cluster) -> Any:
    import ray

    env = {k: os.environ[k] for k in _CREDENTIALS if k in os.environ}
    task = ray.remote(num_cpus=1)(fn)
    if env:  # the credentials travel with the tasks (a cluster's nodes may not have them)
        task = task.options(runtime_env={"env_vars": env})
    return task


def gather(refs: list[Any], stall_timeout_s: float, what: str) -> list[Any]:
    """The results of Ray tasks ``refs``, in order (``what``: the work, for messages, e.g.
    "reading Neo4j"). A task that fails raises its own graphsona error (else
    :class:`~graphsona.errors.ClusterError` with its error's last line) as soon as it fails;
    no task finishing for ``stall_timeout_s`` raises ClusterError. Either way the tasks not
    yet finished are cancelled."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    pending = list(refs)
    position = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=stall_timeout_s)
            if not ready:
                raise ClusterError(
                    f"Ray tasks {what} made no progress for {stall_timeout_s:g} s "
                    f"({len(refs) - len(pending)} of {len(refs)} user ranges done): tasks "
                    "the cluster cannot place, or a server that stopped answering. Check the "
                    "cluster's resources and the server, or raise [scale] stall_timeout"
                )
            try:
                results[position[ready[0]]] = ray.get(ready[0])
            except RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, GraphsonaError):  # the store's own one-line error
                    raise cause from None
                raise ClusterError(f"a Ray task {what} failed: {_last_line(cause)}") from e
            except RayError as e:  # the task's worker died, or the task was lost
                raise ClusterError(f"a Ray task {what} died: {_last_line(e)}") from e
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return results


def _last_line(error: BaseException | None) -> str:
    """``Type: last line of the message`` (a remote traceback's last line is its error)."""
    if error is None:
        return "unknown error"
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1].strip()}" if lines else type(error).__name__


def read_graph_on_ray(
    store: Any, cluster: Cluster, ids: pl.Series | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(posts, follows, interactions) of a Neo4j store opened from a URI, read by
    Ray tasks by user id range (:data:`RANGES_PER_WORKER` per worker; ``ids``: the store's user
    ids when the caller has already read them)."""
    if getattr(store, "uri", None) is None:
        raise ValueError("the store was not opened from a URI: read from this process")
    task = _tasks(_read_range, cluster)
    parts = cluster.workers * RANGES_PER_WORKER
    bounds = id_bounds(store.read_user_ids() if ids is None else ids, parts)
    read = gather(
        [task.remote(store.uri, store.database, store.mapping, lo, hi) for lo, hi in bounds],
        cluster.stall_timeout_s,
        "reading Neo4j",
    )
    posts, follows, interactions = (
        pl.concat([p[name] for p in read], how="vertical_relaxed")
        for name in ("posts", "follows", "interactions")
    )
    return posts, follows, interactions


def _write_range(
    uri: str, database: str | None, mapping: SchemaMapping | None, part: pl.DataFrame
) -> int:  # runs in a Ray task
    from graphsona.graph.neo4j_store import Neo4jStore, driver_from_env

    store = Neo4jStore(driver_from_env(uri), database=database, mapping=mapping, owns_driver=True)
    try:
        return store.write_user_properties(part)
    finally:
        store.close()


def write_user_properties_on_ray(store: Any, frame: pl.DataFrame, cluster: Cluster) -> int:
    """:meth:`~graphsona.graph.GraphStore.write_user_properties` by Ray tasks, one contiguous
    user id range each (:data:`RANGES_PER_WORKER` per worker; ``store``: a Neo4j store opened
    from a URI); returns the rows written."""
    if getattr(store, "uri", None) is None:
        raise ValueError("the store was not opened from a URI: write from this process")
    task = _tasks(_write_range, cluster)
    refs = [
        task.remote(store.uri, store.database, store.mapping, part)
        for part in user_ranges(frame, cluster.workers * RANGES_PER_WORKER)
    ]
    return int(sum(gather(refs, cluster.stall_timeout_s, "writing to Neo4j")))
