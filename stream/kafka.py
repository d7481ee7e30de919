"""Consume users, posts, follows and interactions from Apache Kafka into incremental updates
(``graphsona stream --kafka HOST:PORT``), with the ``confluent-kafka`` client.

**Messages.** One topic per table (defaults ``graphsona.users``, ``graphsona.posts``,
``graphsona.follows``, ``graphsona.interactions``; ``--topic-prefix`` changes the prefix). Each
message value is one JSON object with the fields of the data contract for its table, e.g. on
``graphsona.posts``: ``{"post_id": "p1", "user_id": "u1", "text": "...", "created_at":
"2026-12-02T10:00:00Z", "lang": "en"}``; on ``graphsona.follows``: ``{"src": "u1", "dst": "u2"}``.
Keys are not read (key by user id to keep one user's messages in order).

**Micro-batches.** Messages are collected until ``batch_messages`` have arrived or
``batch_seconds`` have passed since the first of the batch, validated together (the same rules
as a dataset folder, rows may name users already in the store) and applied as one
:func:`~graphsona.jobs.update.run_update`. When an update takes longer than ``batch_seconds``,
the messages that came during it form the next batch at once (:meth:`KafkaStream.poll_batch`).

**Delivery: at least once, applied exactly once in effect.** Offsets are committed (synchronously)
only after the update has written the store and saved its state; auto-commit is off. A crash
before the commit makes the restarted consumer read the batch again, and applying it again
upserts the same users, posts and links: nothing is lost and nothing is doubled (post ids, user
ids and link pairs are keys).

**Bad messages** (not JSON, not an object, or failing validation: a missing field, an unknown
user, a bad time) go to the dead-letter topic (default ``graphsona.dead-letter``) as a JSON
object with the reason, the source topic, partition and offset and the original value, and the
stream goes on; they are committed with their batch.

**Full and light updates.** A micro-batch is a light update (profiles and influence of the
touched users, sentiment, topics; new users join the community they are most linked to) except
every ``full_every`` seconds (default 600), when it is a full update (warm-started Leiden,
alerts, the profiles of the touched users' neighbours and everyone's influence scores).

**Alerts.** With ``alerts_topic``, every alert an update raises that the previous state did not
hold is published there as JSON (key: the alert id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from graphsona._faults import crash_point
from graphsona.errors import ConfigError, DataValidationError, MissingDependencyError
from graphsona.graph import GraphStore
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.privacy import PrivacySettings

__all__ = ["KafkaStream", "StreamTopics"]

TABLES = ("users", "posts", "follows", "interactions")
DRAIN_SECONDS = 0.25  # the most a batch takes to gather what came during the last update


@dataclass(frozen=True)
class StreamTopics:
    """Topic names: ``<prefix>.<table>`` for the four tables, the dead letters and alerts."""

    prefix: str = "graphsona"
    dead_letter: str = ""
    alerts: str | None = None

    def table(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    @property
    def inputs(self) -> list[str]:
        return [self.table(t) for t in TABLES]

    @property
    def dead_letters(self) -> str:
        return self.dead_letter or f"{self.prefix}.dead-letter"


@dataclass
class _Message:
    table: str
    row: dict[str, Any]
    topic: str
    partition: int
    offset: int
    raw: str


@dataclass
class BatchReport:
    messages: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    update: dict[str, Any] | None = None
    alerts_published: int = 0
    seconds: float = 0.0
    full: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "applied": self.applied,
            "dead_letters": self.dead_letters,
            "alerts_published": self.alerts_published,
            "full_update": self.full,
            "seconds": round(self.seconds, 3),
            "update": self.update,
        }


def _kafka() -> Any:
    try:
        import confluent_kafka
        import confluent_kafka.admin  # the topic check uses it
    except ImportError as e:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "pip install confluent-kafka (graphsona stream --kafka)"
        ) from e
    return confluent_kafka


def _plain(value: Any) -> Any:
    """Scalars as the CSV reader gives them (text; types are checked by validation)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"field values must be plain (text, number, true/false), got {value!r}")


class KafkaStream:
    """A consumer group member applying micro-batches to ``store`` (see the module docstring).

    Args:
        bootstrap: ``host:port[,host:port]`` of the brokers.
        group: the consumer group (one group per store: its committed offsets say what the
            store has applied).
        full_every: seconds between full updates; the micro-batches in between are light
            (:func:`~graphsona.jobs.update.run_update`: no Leiden, no alert detection), so that
            a batch becomes queryable in seconds. The first batch is always a full update; 0
            makes every batch a full one.
        extra: further librdkafka settings for consumer and producer (e.g. security).
    """

    def __init__(
        self,
        store: GraphStore,
        cfg: ProfileJobConfig,
        bootstrap: str,
        *,
        topics: StreamTopics | None = None,
        group: str = "graphsona",
        batch_messages: int = 1000,
        batch_seconds: float = 5.0,
        full_every: float = 600.0,
        extra: dict[str, Any] | None = None,
        privacy: PrivacySettings | None = None,
    ) -> None:
        from graphsona.jobs.update import delta_options

        if batch_messages < 1 or batch_seconds <= 0:
            raise ConfigError("batch_messages must be >= 1 and batch_seconds > 0")
        self.store, self.cfg = store, cfg
        # strict: an unknown user is an error naming the row (the message goes to the dead
        # letters), never a silent drop; and the store's privacy policy
        self.options = delta_options(store, privacy, strict=True)
        self.topics = topics or StreamTopics()
        self.batch_messages, self.batch_seconds = batch_messages, batch_seconds
        self.full_every = full_every
        self._last_full = float("-inf")
        # kept from batch to batch: the last update's state (so the next one need not read it
        # back from the work dir) and the loaded text model(s)
        self._state: Any = None
        self._embedders: dict[Any, Any] = {}
        ck = _kafka()
        common = {"bootstrap.servers": bootstrap, **(extra or {})}
        self.consumer = ck.Consumer(
            {
                **common,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }
        )
        self.producer = ck.Producer({**common, "enable.idempotence": True})
        self._ensure_topics(ck, common)
        self.assigned = False
        self._early: list[Any] = []  # messages read while waiting for the assignment
        self._closed: float | None = None  # when the last batch's window closed

        def on_assign(consumer: Any, partitions: Any) -> None:
            self.assigned = True

        self.consumer.subscribe(self.topics.inputs, on_assign=on_assign)
        self._table_of = {self.topics.table(t): t for t in TABLES}

    def _ensure_topics(self, ck: Any, common: dict[str, Any]) -> None:
        """Create the input and dead-letter topics that do not exist yet (one partition; a
        consumer subscribed only to missing topics would never be given partitions). Topics
        that exist are left as they are."""
        admin = ck.admin.AdminClient(common)
        wanted = [*self.topics.inputs, self.topics.dead_letters]
        if self.topics.alerts:
            wanted.append(self.topics.alerts)
        have = set(admin.list_topics(timeout=30).topics)
        missing = [t for t in wanted if t not in have]
        if not missing:
            return
        futures = admin.create_topics(
            [ck.admin.NewTopic(t, num_partitions=1, replication_factor=-1) for t in missing]
        )
        for topic, future in futures.items():
            try:
                future.result(30)
            except ck.KafkaException as e:
                if e.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ConfigError(f"Kafka: cannot create topic {topic}: {e}") from e

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(10)

    # ------------------------------------------------------------------ one batch
    def poll_batch(self, wait: float) -> list[Any]:
        """Messages of one micro-batch: up to ``batch_messages``; ``wait`` seconds for a first
        message (an empty list when none came).

        The batch window works like a processing-time trigger (Spark's ``processingTime``):
        when the previous batch closed less than ``batch_seconds`` ago, messages are gathered
        until ``batch_seconds`` after the first one; when it closed longer ago (its update took
        longer than the window), the messages that came meanwhile are taken at once, without a
        further wait, since they have waited a whole update already (the wait was up to 2 s of
        every message's latency in the stream benchmark)."""
        out, self._early = self._early, []
        start = time.monotonic()
        overran = self._closed is not None and start - self._closed >= self.batch_seconds
        if overran:
            out.extend(self._drain(self.batch_messages - len(out)))
        if overran and out:
            deadline: float | None = start
        else:
            deadline = start + self.batch_seconds if out else None
        while len(out) < self.batch_messages:
            now = time.monotonic()
            if deadline is None and now - start >= wait:
                break
            left = (deadline if deadline is not None else start + wait) - now
            if left <= 0:
                break
            got = self.consumer.consume(
                num_messages=self.batch_messages - len(out), timeout=min(left, 1.0)
            )
            out.extend(self._usable(got))
            if out and deadline is None:
                deadline = time.monotonic() + self.batch_seconds
        self._closed = time.monotonic()
        return out

    def _drain(self, most: int) -> list[Any]:
        """The messages the client holds already (up to ``most``), without waiting for more:
        it fetches ahead of the application, so after a long update they are mostly local.
        Messages still arriving meanwhile stop it after at most a quarter of a second."""
        out: list[Any] = []
        cap = time.monotonic() + min(DRAIN_SECONDS, self.batch_seconds)
        while len(out) < most and time.monotonic() < cap:
            got = self.consumer.consume(num_messages=most - len(out), timeout=0)
            if not got:
                break
            out.extend(self._usable(got))
        return out

    def _usable(self, got: list[Any]) -> list[Any]:
        out = []
        for m in got:
            if m.error() is not None:
                if m.error().fatal():
                    raise ConfigError(f"Kafka: {m.error()}")
                continue  # transient (e.g. partition EOF): librdkafka retries
            out.append(m)
        return out

    def _await_assignment(self, timeout: float = 180.0) -> None:
        """Wait until the group gives this consumer its partitions. A restart after a crash
        waits here until the broker drops the dead member (its session times out), so that an
        idle timeout never counts the rebalance as silence."""
        deadline = time.monotonic() + timeout
        while not self.assigned:
            if time.monotonic() > deadline:
                raise ConfigError(f"Kafka: no partitions assigned within {timeout:.0f} s")
            got = [m for m in self.consumer.consume(num_messages=1, timeout=1.0) if not m.error()]
            if got:  # assigned and already reading: keep the message for the first batch
                self._early = got
                return

    def _dead(self, topic: str, partition: int, offset: int, raw: str, reason: str) -> None:
        body = {
            "reason": reason,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "value": raw,
        }
        self.producer.produce(self.topics.dead_letters, json.dumps(body).encode())

    def _parse(self, messages: list[Any]) -> tuple[list[_Message], int]:
        good: list[_Message] = []
        dead = 0
        for m in messages:
            raw = (m.value() or b"").decode("utf-8", errors="replace")
            where = (m.topic(), m.partition(), m.offset())
            table = self._table_of.get(m.topic())
            try:
                if table is None:
                    raise ValueError(f"not one of graphsona's topics: {m.topic()}")
                row = json.loads(raw)
                if not isinstance(row, dict):
                    raise ValueError("the message is not a JSON object")
                row = {str(k): _plain(v) for k, v in row.items()}
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                self._dead(*where, raw, f"unreadable message: {e}")
                dead += 1
                continue
            good.append(_Message(table, row, *where, raw))
        return good, dead

    def _validate(self, msgs: list[_Message]) -> tuple[Any, list[_Message], int]:
        """The batch as a validated delta; a message failing validation goes to the dead
        letters and the rest are validated again."""
        from graphsona.jobs.state import is_current
        from graphsona.jobs.update import saved_graph_matches
        from graphsona.loaders import load_delta

        dead = 0
        held = self._state
        if (
            held is not None
            and self.cfg.work_dir is not None
            and is_current(self.cfg.work_dir, held)
            and saved_graph_matches(self.store, held)
        ):  # the store's users are the held state's: no read of every id per batch
            known = held.users["user_id"].cast(pl.String)
        else:
            known = self.store.read_user_ids().cast(pl.String)
        while True:
            by_table: dict[str, list[_Message]] = {t: [] for t in TABLES}
            for msg in msgs:
                by_table[msg.table].append(msg)
            tables = {
                t: pl.DataFrame([m.row for m in ms], infer_schema_length=None)
                for t, ms in by_table.items()
                if ms
            }
            batch_users = (
                tables["users"]["user_id"].cast(pl.String)
                if "users" in tables and "user_id" in tables["users"].columns
                else pl.Series([], dtype=pl.String)
            )
            if self.options.privacy is not None:
                batch_users = self.options.privacy.ids(
                    batch_users.to_frame("user_id"), ("user_id",)
                )["user_id"]
            try:
                delta, _ = load_delta(
                    tables, pl.concat([known, batch_users]).unique(), self.options
                )
                return delta, msgs, dead
            except DataValidationError as e:
                table = _table_from_error(e)
                rows = by_table.get(table or "", [])
                bad = rows[e.row - 1] if e.row is not None and 0 < e.row <= len(rows) else None
                victims = [bad] if bad is not None else rows  # no row named: the whole table
                for v in victims:
                    self._dead(v.topic, v.partition, v.offset, v.raw, str(e))
                    dead += 1
                gone = {id(v) for v in victims}
                msgs = [m for m in msgs if id(m) not in gone]
                if not msgs:
                    return None, [], dead

    def apply(self, messages: list[Any]) -> BatchReport:
        """Parse, validate and apply ``messages`` as one update, publish new alerts, then commit
        their offsets."""
        from graphsona.embeddings import reuse_embedders
        from graphsona.jobs.update import run_update

        t0 = time.perf_counter()
        report = BatchReport(messages=len(messages))
        parsed, dead = self._parse(messages)
        delta, _, dead_v = self._validate(parsed) if parsed else (None, [], 0)
        report.dead_letters = dead + dead_v
        if delta is not None:
            report.applied = {t: getattr(delta, t).height for t in TABLES}
            full = time.monotonic() - self._last_full >= self.full_every
            with reuse_embedders(self._embedders):
                result = run_update(
                    self.store, delta, self.cfg, source="kafka", light=not full, state=self._state
                )
            self._state = result.state
            # the embedded store's page cache (up to a quarter of RAM) is given back after each
            # batch: a stream runs for days, and the next batch reads the graph afresh anyway
            self.store.release_memory()
            if full:
                self._last_full = time.monotonic()
            report.full = full
            report.update = result.summary()
            crash_point("stream:applied")
            if self.topics.alerts:
                for alert in result.new_alerts:
                    self.producer.produce(
                        self.topics.alerts,
                        json.dumps(alert, default=str).encode(),
                        key=str(alert["alert_id"]).encode(),
                    )
                report.alerts_published = len(result.new_alerts)
        # dead letters and alerts reach the broker before the offsets move past their sources
        if self.producer.flush(30) > 0:
            raise ConfigError("Kafka: dead letters or alerts could not be delivered in 30 s")
        if messages:
            self.consumer.commit(asynchronous=False)
        report.seconds = time.perf_counter() - t0
        return report

    def run(
        self,
        report: Callable[[dict[str, Any]], None],
        *,
        max_batches: int | None = None,
        idle_stop: float | None = None,
    ) -> int:
        """Apply micro-batches until stopped (Ctrl-C), ``max_batches`` batches were applied, or
        no message came for ``idle_stop`` seconds; returns the number of batches."""
        batches = 0
        try:
            self._await_assignment()
            while max_batches is None or batches < max_batches:
                wait = idle_stop if idle_stop is not None else 3600.0
                messages = self.poll_batch(wait)
                if not messages:
                    if idle_stop is not None:
                        break
                    continue
                report(self.apply(messages).to_dict())
                batches += 1
        finally:
            self.close()
        return batches


def _table_from_error(e: DataValidationError) -> str | None:
    where = e.file or ""
    return next((t for t in TABLES if f"<{t} frame>" in where), None)
