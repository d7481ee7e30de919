"""graphsona stream --kafka against a real Kafka broker (KRaft, assembled from Maven Central and
started like the Neo4j test server): messages become updates, bad ones go to the dead-letter
topic, new alerts are published, and a consumer killed after writing the store but before
committing its offsets ends, after a restart, with every message applied once."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from graphsona.graph import EmbeddedStore, open_store
from graphsona.jobs.profile import run_profile
from graphsona.loaders import load_dataset
from graphsona.stream.kafka import KafkaStream, StreamTopics
from helpers import TABLES, run_cli
from helpers import split_network as _split
from helpers import update_config as _cfg
from kafka_test_server import KafkaTestServer  # scripts/ is on pytest's pythonpath

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaTestServer]:
    """One broker for this module. Never skipped in CI; GRAPHSONA_SKIP_KAFKA=1 skips visibly
    elsewhere."""
    if os.environ.get("GRAPHSONA_SKIP_KAFKA") == "1" and not IN_CI:
        pytest.skip("GRAPHSONA_SKIP_KAFKA=1: Kafka tests skipped on request")
    try:
        server = KafkaTestServer.start()
    except Exception as e:
        pytest.fail(f"the Kafka test server did not start: {e}", pytrace=False)
    yield server
    server.stop()


def _produce(
    bootstrap: str,
    prefix: str,
    rows: dict[str, list[dict[str, Any]]],
    raw: list[tuple[str, bytes]] = (),
) -> int:  # type: ignore[assignment]
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap})
    n = 0
    for table, items in rows.items():
        for row in items:
            p.produce(f"{prefix}.{table}", json.dumps(row, default=str).encode())
            n += 1
    for topic, value in raw:
        p.produce(topic, value)
        n += 1
    assert p.flush(30) == 0
    return n


def _messages(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dicts():
        out.append(
            {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in row.items()
                if v is not None
            }
        )
    return out


def _read_all(bootstrap: str, topic: str, expect: int) -> list[dict[str, Any]]:
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([topic])
    got: list[dict[str, Any]] = []
    for _ in range(60):
        for m in c.consume(num_messages=100, timeout=1.0):
            if m.error() is None:
                got.append(json.loads(m.value()))
        if len(got) >= expect:
            break
    c.close()
    return got


def _base(tmp_path: Path) -> dict[str, Any]:
    split = _split(tmp_path)
    with open_store(str(tmp_path / "g.lbdb"), create=True) as store:
        store.load(load_dataset(tmp_path / "base")[0])
        run_profile(store, _cfg(tmp_path))
    delta = {t: pl.read_parquet(tmp_path / "delta" / f"{t}.parquet") for t in TABLES}
    return {"split": split, "delta": delta}


def test_messages_become_an_update_and_bad_ones_dead_letters(
    kafka: KafkaTestServer, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    setup = _base(tmp_path)
    delta = setup["delta"]
    rows = {t: _messages(delta[t]) for t in TABLES}
    bad_post = {"post_id": "bad-1", "user_id": "nobody-at-all", "text": "who am I"}
    rows["posts"].append(bad_post)
    n = _produce(
        kafka.bootstrap,
        prefix,
        rows,
        [(f"{prefix}.posts", b"{not json"), (f"{prefix}.follows", b"[1, 2]")],
    )
    topics = StreamTopics(prefix=prefix, alerts=f"{prefix}.alerts")
    with open_store(str(tmp_path / "g.lbdb")) as store:
        before = store.counts()
        reports: list[dict[str, Any]] = []
        stream = KafkaStream(
            store,
            _cfg(tmp_path),
            kafka.bootstrap,
            topics=topics,
            group=prefix,
            batch_messages=10_000,
            batch_seconds=3,
        )
        stream.run(reports.append, idle_stop=8)
        after = store.counts()
        ids = set(store.run("MATCH (p:Post) RETURN p.post_id AS id")["id"].to_list())
    assert sum(r["messages"] for r in reports) == n
    assert sum(r["dead_letters"] for r in reports) == 3
    assert after["users"] == before["users"] + delta["users"].height
    assert after["posts"] == before["posts"] + delta["posts"].height
    assert set(delta["posts"]["post_id"].to_list()) <= ids and "bad-1" not in ids
    dead = _read_all(kafka.bootstrap, f"{prefix}.dead-letter", 3)
    reasons = " | ".join(d["reason"] for d in dead)
    assert len(dead) == 3
    assert "nobody-at-all" in " ".join(d["value"] for d in dead)
    assert "unknown" in reasons or "not in users" in reasons
    assert "unreadable" in reasons
    published = sum(r["alerts_published"] for r in reports)
    if published:
        alerts = _read_all(kafka.bootstrap, f"{prefix}.alerts", published)
        assert all("alert_id" in a and "kind" in a for a in alerts)


def _stream_cli(
    tmp_path: Path, bootstrap: str, prefix: str, crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "stream",
        "--kafka",
        bootstrap,
        "--store",
        str(tmp_path / "g.lbdb"),
        "--work-dir",
        str(tmp_path / "work"),
        "--cache",
        str(tmp_path / "vectors.sqlite"),
        "--topic-prefix",
        prefix,
        "--group",
        prefix,
        "--batch-messages",
        "200",
        "--batch-seconds",
        "2",
        "--idle-stop",
        "8",
        "--json",
        crash=crash,
    )


def test_killed_consumer_restarts_with_nothing_lost_or_doubled(
    kafka: KafkaTestServer, tmp_path: Path
) -> None:
    prefix = f"k{uuid.uuid4().hex[:8]}"
    setup = _base(tmp_path)
    delta = setup["delta"]
    with EmbeddedStore(tmp_path / "g.lbdb", read_only=True) as s:
        before = s.counts()
    n = _produce(kafka.bootstrap, prefix, {t: _messages(delta[t]) for t in TABLES})
    # killed after the first micro-batch reached the store, before its offsets were committed
    killed = _stream_cli(tmp_path, kafka.bootstrap, prefix, crash="stream:applied")
    assert killed.returncode == -9, killed.stderr[-2000:]
    done = _stream_cli(tmp_path, kafka.bootstrap, prefix)
    assert done.returncode == 0, done.stderr[-3000:]
    batches = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    # the restart read everything again from the last commit: the killed batch too
    assert sum(b["messages"] for b in batches) == n
    with EmbeddedStore(tmp_path / "g.lbdb", read_only=True) as s:
        after = s.counts()
        posts = s.run("MATCH (p:Post) RETURN p.post_id AS id")["id"]
        users = s.read_users()
    assert after["users"] == before["users"] + delta["users"].height
    assert after["posts"] == before["posts"] + delta["posts"].height
    assert posts.n_unique() == posts.len()
    assert after["follows"] == before["follows"] + delta["follows"].unique(["src", "dst"]).height
    new = users.filter(pl.col("user_id").is_in(delta["users"]["user_id"].implode()))
    assert new["profile"].null_count() == 0 and new["community_id"].null_count() == 0


def test_a_batch_after_a_long_update_takes_what_came_meanwhile_at_once(
    kafka: KafkaTestServer, tmp_path: Path
) -> None:
    """The batch window is a processing-time trigger: messages that waited through an update
    longer than ``batch_seconds`` are taken without a further window; otherwise a batch
    gathers for ``batch_seconds`` after its first message."""
    import time

    prefix = f"t{uuid.uuid4().hex[:8]}"
    post = lambda i: {"post_id": f"p{i}", "user_id": "u1", "text": "hello"}  # noqa: E731
    _produce(kafka.bootstrap, prefix, {"posts": [post(i) for i in range(25)]})
    with open_store(str(tmp_path / "g.lbdb"), create=True) as store:
        stream = KafkaStream(
            store,
            _cfg(tmp_path),
            kafka.bootstrap,
            topics=StreamTopics(prefix=prefix),
            group=prefix,
            batch_messages=20,
            batch_seconds=5,
        )
        try:
            stream._await_assignment()
            first = stream.poll_batch(wait=30)
            assert len(first) == 20  # a full batch closes at once
            time.sleep(5.5)  # an update longer than the window
            t = time.monotonic()
            second = stream.poll_batch(wait=30)
            took_second = time.monotonic() - t
            _produce(kafka.bootstrap, prefix, {"posts": [post(i) for i in range(25, 28)]})
            t = time.monotonic()
            third = stream.poll_batch(wait=30)  # the last batch closed just now
            took_third = time.monotonic() - t
        finally:
            stream.close()
    assert len(second) == 5 and took_second < 2.5
    assert len(third) == 3 and took_third >= 4.5
