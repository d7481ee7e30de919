"""Stream benchmark: ``graphsona stream --kafka`` under a steady message rate.

A synthetic network of ``--users`` users is cut like bench_update's: the base (everything but the
last ``--share`` of users) is loaded into the embedded store and profiled by the full job; the
rest (new users, their posts, follows and interactions, in time order) is produced to a real
Kafka broker (scripts/kafka_test_server.py, KRaft, one node) at ``--rate`` messages per second
for ``--seconds`` seconds by a producer thread, each message's Kafka timestamp being its send time, while a
:class:`~graphsona.stream.kafka.KafkaStream` in this process applies micro-batches. Recorded per
batch: messages, update seconds, the latency from a message's send to the end of the batch that
made it queryable (store written, offsets committed), and this process's resident memory.

``--replay-after S``: only the first ``S`` seconds' worth of messages are new; after them the
producer sends the same messages again, from the start, until ``--seconds`` are over. The
replayed messages are upserts of what the store holds (the same ids and values), so the graph
stops growing and the process's memory over the replay shows whether the stream itself holds
on to memory batch after batch (with new data, memory follows the growing graph).

Run: ``python bench/bench_stream.py [--users 10000] [--rate 1000] [--seconds 600]
[--batch-seconds 2] [--replay-after S] [--store embedded|neo4j]``; writes ``bench/results/stream-<UTC time>.json`` with the provenance.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _provenance  # noqa: E402

TABLES = ("users", "posts", "follows", "interactions")


def _rss_gib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _messages(delta: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The delta as (table, row) messages: users first, then the rest interleaved by time."""
    out: list[tuple[float, int, str, dict[str, Any]]] = []
    order = {"users": 0, "posts": 1, "follows": 2, "interactions": 3}
    for table in TABLES:
        for row in delta[table].to_dicts():
            t = row.get("created_at")
            key = t.timestamp() if t is not None and table != "users" else 0.0
            clean = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            out.append(
                (key, order[table], table, {k: v for k, v in clean.items() if v is not None})
            )
    out.sort(key=lambda r: (r[0], r[1]))
    return [(table, row) for _, _, table, row in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--share", type=float, default=0.2)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--batch-seconds", type=float, default=2.0)
    ap.add_argument("--batch-messages", type=int, default=5000)
    ap.add_argument("--full-every", type=float, default=600.0)
    ap.add_argument("--replay-after", type=float, default=None)
    ap.add_argument(
        "--store",
        choices=["embedded", "neo4j"],
        default="embedded",
        help="the stream's store (neo4j: a fresh scripts/neo4j_test_server.py, as bench_update)",
    )
    ap.add_argument("--epochs", type=int, default=20)
    _provenance.add_results_dir_option(ap)
    args = ap.parse_args()
    run = _provenance.start("stream", args.results_dir)

    import polars as pl
    from bench_update import _store
    from confluent_kafka import Producer
    from graphsona.jobs.profile import run_profile
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.loaders import SyntheticConfig, generate, load_dataset
    from graphsona.stream.kafka import KafkaStream, StreamTopics
    from kafka_test_server import KafkaTestServer

    tmp = Path(tempfile.mkdtemp(prefix="bench_stream_"))
    out: dict[str, Any] = {k: v for k, v in vars(args).items() if k != "results_dir"}
    server = KafkaTestServer.start()
    try:
        _say("generating")
        net = generate(SyntheticConfig(n_users=args.users, seed=0))
        new = net.users["user_id"].sample(int(args.share * args.users), seed=1).to_list()
        is_new = lambda c: pl.col(c).is_in(new)  # noqa: E731
        base = {
            "users": net.users.filter(~is_new("user_id")),
            "posts": net.posts.filter(~is_new("user_id")),
            "follows": net.follows.filter(~is_new("src") & ~is_new("dst")),
            "interactions": net.interactions.filter(~is_new("src") & ~is_new("dst")),
        }
        delta = {
            "users": net.users.filter(is_new("user_id")),
            "posts": net.posts.filter(is_new("user_id")),
            "follows": net.follows.filter(is_new("src") | is_new("dst")),
            "interactions": net.interactions.filter(is_new("src") | is_new("dst")),
        }
        (tmp / "base").mkdir()
        for t, f in base.items():
            f.write_parquet(tmp / "base" / f"{t}.parquet")
        messages = _messages(delta)
        needed = int(args.rate * args.seconds)
        out["messages_available"] = len(messages)
        if len(messages) < needed:
            _say(f"only {len(messages):,} messages for {needed:,}: the run is shorter")
        if args.replay_after is not None:  # the same messages again after the first ones
            first = messages[: int(args.rate * args.replay_after)]
            messages = (first * (needed // max(1, len(first)) + 1))[:needed]
            out["messages_new"] = len(first)
        messages = messages[:needed]
        cfg = ProfileJobConfig(
            embedder_kind="static",
            cache=tmp / "vectors.sqlite",
            epochs=args.epochs,
            work_dir=tmp / "work",
        )
        with _store(args.store, tmp / "g.lbdb") as store:
            store.load(load_dataset(tmp / "base")[0])
            _say("full job on the base")
            t = time.perf_counter()
            run_profile(store, cfg)
            out["full_job_seconds"] = round(time.perf_counter() - t, 1)
            topics = StreamTopics(prefix="bench")
            stream = KafkaStream(
                store,
                cfg,
                server.bootstrap,
                topics=topics,
                group="bench",
                batch_messages=args.batch_messages,
                batch_seconds=args.batch_seconds,
                full_every=args.full_every,
            )
            stream._await_assignment()
            sent: list[float] = []

            def produce() -> None:
                p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 5})
                start = time.monotonic()
                for i, (table, row) in enumerate(messages):
                    due = start + i / args.rate
                    now = time.monotonic()
                    if due > now:
                        time.sleep(due - now)
                    # the message's own timestamp (CreateTime, ms) is its send time
                    p.produce(f"bench.{table}", json.dumps(row).encode())
                    p.poll(0)
                    sent.append(time.time())
                p.flush(60)

            producer = threading.Thread(target=produce, daemon=True)
            _say(f"streaming {len(messages):,} messages at {args.rate:,.0f}/s")
            producer.start()
            batches: list[dict[str, Any]] = []
            applied = 0
            while applied < len(messages):
                got = stream.poll_batch(wait=30.0)
                if not got:
                    if not producer.is_alive():
                        break
                    continue
                stamps = [m.timestamp()[1] / 1000.0 for m in got if m.timestamp()[1] > 0]
                rep = stream.apply(got)
                done = time.time()
                applied += len(got)
                lat = sorted(done - s for s in stamps)
                batches.append(
                    {
                        "messages": len(got),
                        "update_seconds": round(rep.seconds, 2),
                        "latency_max": round(lat[-1], 2) if lat else None,
                        "latency_median": round(lat[len(lat) // 2], 2) if lat else None,
                        "dead_letters": rep.dead_letters,
                        "full_update": rep.full,
                        "rss_gib": round(_rss_gib(), 2),
                        "at": round(done, 1),
                        # the update's own seconds per step (load, read, embed, profiles, ...)
                        "steps": (rep.update or {}).get("seconds"),
                    }
                )
                _say(f"  batch {len(batches)}: {batches[-1]}")
                if len(batches) % 10 == 0:
                    out["batches"] = batches
                    run.write(out, complete=False)
            producer.join(timeout=60)
            stream.close()
        lat_max = [b["latency_max"] for b in batches if b["latency_max"] is not None]
        out["batches"] = batches
        out["summary"] = {
            "messages_applied": applied,
            "batches": len(batches),
            "latency_max_seconds": max(lat_max) if lat_max else None,
            "latency_p50_of_batch_max": sorted(lat_max)[len(lat_max) // 2] if lat_max else None,
            "update_seconds_median": sorted(b["update_seconds"] for b in batches)[len(batches) // 2]
            if batches
            else None,
            "rss_gib_first_last": [batches[0]["rss_gib"], batches[-1]["rss_gib"]]
            if batches
            else None,
            "rss_gib_max": max(b["rss_gib"] for b in batches) if batches else None,
        }
        run.write(out)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
