#!/usr/bin/env python3
"""Assemble an Apache Kafka broker from Maven Central and run it locally in KRaft mode.

graphsona's streaming tests run against a real Kafka. There is no Docker on our machines, but
Maven Central is reachable, so this script resolves the broker jars with Maven, lays them out as
``<runtime>/lib`` and starts one JVM that is both broker and KRaft controller, bound to 127.0.0.1
on two free ports (clients and controller), with all data in a throw-away home directory.

Usable by hand::

    python scripts/kafka_test_server.py assemble      # fetch jars once (cached in ~/.m2 too)
    python scripts/kafka_test_server.py run           # start, print KAFKA_BOOTSTRAP, wait for Ctrl-C

``run`` stops the broker JVM and removes its temporary home on SIGINT, SIGTERM and SIGHUP, also
while the broker is still starting. Its first stdout line is
``KAFKA_BOOTSTRAP=127.0.0.1:<port>  (home <dir>; JVM pid <pid>)``.

and from Python (a pytest fixture can do this)::

    server = KafkaTestServer.start()
    ...  # server.bootstrap is 127.0.0.1:<port>, PLAINTEXT, no authentication
    server.stop()

Versions (environment overrides in brackets): Kafka 4.1 [GRAPHSONA_KAFKA_VERSION; 4.0.x to 4.4.0
are served]; runtime cache directory [GRAPHSONA_KAFKA_RUNTIME], Java home
[GRAPHSONA_KAFKA_JAVA_HOME, else a JDK 17 if found].

Verified facts: ``org.apache.kafka:kafka_2.13`` alone brings the whole broker, including the
storage formatter ``kafka.tools.StorageTool`` and the entry point ``kafka.Kafka``, but no slf4j
binding (it has slf4j-api 1.7 and log4j-core; without one slf4j falls back to a no-op logger):
the POM adds ``log4j-slf4j-impl``, log4j's binding for slf4j 1.x. With a static quorum
(``controller.quorum.voters``) the storage is formatted with a plain
``format -t <cluster id> -c server.properties``; no ``--standalone`` is needed, and a kept
``--home`` restarts on other ports. Checked with Kafka 4.0.1, 4.1.1 and 4.4.0 on OpenJDK 17.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jvm_test_server import (  # scripts/: the plumbing both test servers share
    StartAborted,
    command_line,
    free_port,
    mvn_copy,
    stop_jvm,
)
from jvm_test_server import java_binary as jvm_java_binary

KAFKA_VERSION = os.environ.get("GRAPHSONA_KAFKA_VERSION", "4.1.1")
HERE = Path(__file__).resolve().parent / "kafka"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
NODE_ID = 1
# As kafka-run-class.sh sets them, with a small heap: the machines have 2 cores and 24 GiB, and the
# tests run beside the broker.
JVM_FLAGS = [
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]
# Warnings and errors go to the console (console.log in the home), everything from INFO on to
# logs/server.log.
LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = CONSOLE
rootLogger.appenderRef.file.ref = FILE
"""


def runtime_dir() -> Path:
    default = Path.home() / ".cache" / "graphsona" / f"kafka-{KAFKA_VERSION}"
    return Path(os.environ.get("GRAPHSONA_KAFKA_RUNTIME", default))


def java_binary() -> str:
    return jvm_java_binary("GRAPHSONA_KAFKA_JAVA_HOME")


def assemble(force: bool = False) -> Path:
    """Resolve the jars into ``runtime_dir()`` once; later calls return at once."""
    rt = runtime_dir()
    marker = rt / "ASSEMBLED"
    if marker.exists() and not force:
        return rt
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven ('mvn') is needed to assemble the Kafka test server")
    tmp = Path(tempfile.mkdtemp(prefix="kafka-rt-", dir=rt.parent if rt.parent.exists() else None))
    try:
        mvn_copy(HERE / "server-pom.xml", tmp / "lib", {"kafka.version": KAFKA_VERSION})
    except BaseException:  # a failed or interrupted resolution leaves no half-filled folder
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / "ASSEMBLED").write_text(f"kafka={KAFKA_VERSION}\n")
    if rt.exists():
        shutil.rmtree(rt)
    rt.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(rt)
    return rt


def random_cluster_id() -> str:
    """A cluster id as ``kafka-storage random-uuid`` prints it (URL-safe base64, no padding)."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka's Uuid.randomUuid avoids these too (CLI confusion)
            return cid


def _write_conf(home: Path, port: int, controller_port: int) -> Path:
    """Write ``server.properties`` and ``log4j2.properties`` into ``home``; return the former."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    settings = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": home / "data",
        "num.partitions": 1,
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
    }
    conf = home / "server.properties"
    conf.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    log_file = home / "logs" / "server.log"
    (home / "log4j2.properties").write_text(LOG4J2_PROPERTIES.format(log_file=log_file))
    return conf


def _java_cmd(rt: Path, home: Path, main_class: str, *args: str, heap: str = "") -> list[str]:
    flags = [f"-Xmx{heap}"] if heap else JVM_FLAGS
    return [
        java_binary(),
        *flags,
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        "-cp",
        f"{rt / 'lib'}/*",
        main_class,
        *args,
    ]


def _format_storage(rt: Path, home: Path, conf: Path) -> None:
    """Format ``log.dirs`` for a new cluster, unless a kept home was formatted before."""
    if (home / "data" / "meta.properties").exists():
        return
    cmd = _java_cmd(
        rt, home, STORAGE_TOOL, "format", "-t", random_cluster_id(), "-c", str(conf), heap="256m"
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=home, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(
            f"formatting the Kafka storage failed (exit {proc.returncode}):\n"
            f"{' '.join(cmd)}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


@dataclass
class KafkaTestServer:
    """A running throw-away Kafka broker + KRaft controller (PLAINTEXT, loopback only)."""

    process: subprocess.Popen[bytes]
    home: Path
    port: int
    controller_port: int
    owns_home: bool

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        home: Path | None = None,
        port: int | None = None,
        timeout: float = 120,
        should_stop: Callable[[], bool] | None = None,
    ) -> KafkaTestServer:
        """Start a broker and wait until it answers a metadata request.

        ``should_stop`` is polled while waiting: when it returns true the JVM is stopped, a
        temporary home removed, and :class:`StartAborted` raised.
        """
        rt = assemble()
        if should_stop is not None and should_stop():
            raise StartAborted("stop requested before the broker was started")
        owns = home is None
        home = Path(tempfile.mkdtemp(prefix="graphsona-kafka-")) if home is None else home
        try:
            port = port or free_port()
            controller_port = free_port()
            while controller_port == port:
                controller_port = free_port()
            conf = _write_conf(home, port, controller_port)
            _format_storage(rt, home, conf)
            cmd = _java_cmd(rt, home, MAIN_CLASS, str(conf))
            with open(home / "console.log", "wb") as console:  # the child keeps its own handle
                proc = subprocess.Popen(
                    cmd, stdout=console, stderr=subprocess.STDOUT, start_new_session=True, cwd=home
                )
        except BaseException:
            if owns:
                shutil.rmtree(home, ignore_errors=True)
            raise
        server = cls(proc, home, port, controller_port, owns)
        try:
            server._wait_ready(timeout, should_stop)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout: float, should_stop: Callable[[], bool] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if should_stop is not None and should_stop():
                raise StartAborted("stop requested while the broker was starting")
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Kafka exited with code {self.process.returncode} before it was ready\n"
                    + self.log_tail()
                )
            # The client port opens only once the broker has caught up with the metadata log,
            # so a closed port is the cheap test; a metadata request then proves the protocol.
            if self._port_open() and self._metadata_answers():
                return
            time.sleep(0.25)
        raise RuntimeError(
            f"Kafka did not answer on {self.bootstrap} within {timeout:.0f}s\n" + self.log_tail()
        )

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _metadata_answers(self) -> bool:
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:  # no client installed: an open port plus a moment's settling
            time.sleep(1.0)
            return self.process.poll() is None
        try:
            admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
            meta = admin.list_topics(timeout=5)
            return NODE_ID in meta.brokers
        except Exception:
            return False

    def log_tail(self, chars: int = 6000) -> str:
        parts = []
        for name in ("console.log", "logs/server.log"):
            p = self.home / name
            if p.exists():
                parts.append(f"--- {p} ---\n" + p.read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    def stop(self) -> None:
        stop_jvm(self.process, self.home, self.owns_home)


def main(argv: list[str] | None = None) -> int:
    return command_line(
        argv,
        doc=__doc__,
        name="Kafka",
        assemble=lambda force: assemble(force=force),
        start=lambda home, port, stop: KafkaTestServer.start(
            home=home, port=port, should_stop=stop
        ),
        banner=lambda s: f"KAFKA_BOOTSTRAP={s.bootstrap}  (home {s.home}; JVM pid {s.process.pid})",
    )


if __name__ == "__main__":
    sys.exit(main())
