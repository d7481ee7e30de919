#!/usr/bin/env python3
"""Assemble Neo4j Community (+ APOC core + open GDS) from Maven Central and run it locally.

graphsona's tests run against a real Neo4j. There is no Docker on our machines, but Maven
Central is reachable, so this script resolves the server and plugin jars with Maven, lays them
out as ``<runtime>/lib`` and ``<runtime>/plugins`` and starts the server JVM directly, bound to
127.0.0.1 on a free port, with all data in a throw-away home directory.

Usable by hand::

    python scripts/neo4j_test_server.py assemble      # fetch jars once (cached in ~/.m2 too)
    python scripts/neo4j_test_server.py run           # start, print NEO4J_URI, wait for Ctrl-C

``run`` stops the server JVM and removes its temporary home on SIGINT, SIGTERM and SIGHUP, also
while the server is still starting. Its first stdout line is
``NEO4J_URI=bolt://127.0.0.1:<port>  (no auth; home <dir>; JVM pid <pid>)``.

and from Python (the pytest fixture does this)::

    server = Neo4jTestServer.start()
    ...  # server.uri is bolt://127.0.0.1:<port>, no authentication
    server.stop()

Versions (environment overrides in brackets): Neo4j 5.26 LTS [GRAPHSONA_NEO4J_VERSION],
APOC core [GRAPHSONA_APOC_VERSION], GDS 2.13 [GRAPHSONA_GDS_VERSION]; runtime cache directory
[GRAPHSONA_NEO4J_RUNTIME], Java home [GRAPHSONA_NEO4J_JAVA_HOME, else a JDK 17 if found].

Verified facts that differ from the first research notes: APOC 5.26 is published as plain
``apoc-core-<v>.jar`` (there is no ``core`` classifier), and libraries resolved by both the server
and the plugins are deduplicated by ``group:artifact``, keeping the higher version.
"""

from __future__ import annotations

import os
import re
import shutil
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

NEO4J_VERSION = os.environ.get("GRAPHSONA_NEO4J_VERSION", "5.26.19")
APOC_VERSION = os.environ.get("GRAPHSONA_APOC_VERSION", "5.26.19")
GDS_VERSION = os.environ.get("GRAPHSONA_GDS_VERSION", "2.13.9")
HERE = Path(__file__).resolve().parent / "neo4j"
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
]


def runtime_dir() -> Path:
    default = Path.home() / ".cache" / "graphsona" / f"neo4j-{NEO4J_VERSION}-gds-{GDS_VERSION}"
    return Path(os.environ.get("GRAPHSONA_NEO4J_RUNTIME", default))


def java_binary() -> str:
    return jvm_java_binary("GRAPHSONA_NEO4J_JAVA_HOME")


def _version_key(v: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-]", v))


def _index_jars(folder: Path) -> dict[str, tuple[str, Path]]:
    """Map ``group:artifact`` -> (version, path) for jars named ``group.artifact-version.jar``.

    Maven's ``mdep.prependGroupId`` names files ``<groupId>.<artifactId>-<version>.jar``; the
    version starts at the first ``-<digit>``.
    """
    out: dict[str, tuple[str, Path]] = {}
    for jar in folder.glob("*.jar"):
        m = re.match(r"^(?P<ga>.+?)-(?P<v>\d[^-]*(?:-[A-Za-z0-9.]+)?)\.jar$", jar.name)
        if m:
            out[m["ga"]] = (m["v"], jar)
    return out


def assemble(force: bool = False) -> Path:
    """Resolve the jars into ``runtime_dir()`` once; later calls return at once."""
    rt = runtime_dir()
    marker = rt / "ASSEMBLED"
    if marker.exists() and not force:
        return rt
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven ('mvn') is needed to assemble the Neo4j test server")
    tmp = Path(tempfile.mkdtemp(prefix="neo4j-rt-", dir=rt.parent if rt.parent.exists() else None))
    lib, plugins = tmp / "lib", tmp / "plugins"
    try:
        mvn_copy(HERE / "server-pom.xml", lib, {"neo4j.version": NEO4J_VERSION})
        mvn_copy(
            HERE / "plugins-pom.xml",
            plugins,
            {"gds.version": GDS_VERSION, "apoc.version": APOC_VERSION},
        )
    except BaseException:  # a failed or interrupted resolution leaves no half-filled folder
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # A library on both sides must exist once: keep the higher version where it already lives.
    lib_ix, plug_ix = _index_jars(lib), _index_jars(plugins)
    for ga, (pv, ppath) in plug_ix.items():
        if ga not in lib_ix:
            continue
        lv, lpath = lib_ix[ga]
        if _version_key(pv) > _version_key(lv):
            lpath.unlink()
            ppath.rename(lib / ppath.name)
        else:
            ppath.unlink()
    (tmp / "ASSEMBLED").write_text(f"neo4j={NEO4J_VERSION} apoc={APOC_VERSION} gds={GDS_VERSION}\n")
    if rt.exists():
        shutil.rmtree(rt)
    rt.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(rt)
    return rt


def _write_conf(home: Path, rt: Path, port: int) -> None:
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    d = {k: home / k for k in ("data", "logs", "run", "import")}
    for p in d.values():
        p.mkdir(exist_ok=True)
    settings = {
        "server.directories.data": d["data"],
        "server.directories.logs": d["logs"],
        "server.directories.run": d["run"],
        "server.directories.import": d["import"],
        "server.directories.plugins": rt / "plugins",
        "server.directories.transaction.logs.root": d["data"] / "transactions",
        "server.default_listen_address": "127.0.0.1",
        "server.bolt.listen_address": f"127.0.0.1:{port}",
        "server.bolt.advertised_address": f"127.0.0.1:{port}",
        "server.http.enabled": "false",
        "server.https.enabled": "false",
        "dbms.security.auth_enabled": "false",
        "server.memory.pagecache.size": "1g",
        "server.memory.heap.initial_size": "512m",
        "server.memory.heap.max_size": "2g",
        "dbms.usage_report.enabled": "false",
        "dbms.security.procedures.unrestricted": "gds.*,apoc.*",
        "db.tx_log.rotation.retention_policy": "1 files",
    }
    (conf / "neo4j.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))


@dataclass
class Neo4jTestServer:
    """A running throw-away Neo4j server (no authentication, loopback only)."""

    process: subprocess.Popen[bytes]
    home: Path
    port: int
    owns_home: bool

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        home: Path | None = None,
        port: int | None = None,
        timeout: float = 180,
        should_stop: Callable[[], bool] | None = None,
    ) -> Neo4jTestServer:
        """Start a server and wait until Bolt answers.

        ``should_stop`` is polled while waiting: when it returns true the JVM is stopped, a
        temporary home removed, and :class:`StartAborted` raised.
        """
        rt = assemble()
        if should_stop is not None and should_stop():
            raise StartAborted("stop requested before the server was started")
        owns = home is None
        home = Path(tempfile.mkdtemp(prefix="graphsona-neo4j-")) if home is None else home
        try:
            port = port or free_port()
            _write_conf(home, rt, port)
            cmd = [
                java_binary(),
                "-Xms512m",
                "-Xmx2g",
                *JVM_FLAGS,
                "-cp",
                f"{rt / 'plugins'}/*:{home / 'conf'}/*:{rt / 'lib'}/*",
                MAIN_CLASS,
                f"--home-dir={home}",
                f"--config-dir={home / 'conf'}",
                "--console-mode",
            ]
            with open(home / "console.log", "wb") as console:  # the child keeps its own handle
                proc = subprocess.Popen(
                    cmd, stdout=console, stderr=subprocess.STDOUT, start_new_session=True, cwd=home
                )
        except BaseException:
            if owns:
                shutil.rmtree(home, ignore_errors=True)
            raise
        server = cls(proc, home, port, owns)
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
                raise StartAborted("stop requested while the server was starting")
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Neo4j exited with code {self.process.returncode} before it was ready\n"
                    + self.log_tail()
                )
            if self._bolt_answers():
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"Neo4j did not answer on {self.uri} within {timeout:.0f}s\n" + self.log_tail()
        )

    def _bolt_answers(self) -> bool:
        import neo4j  # the Python driver is a dependency of graphsona

        try:
            with neo4j.GraphDatabase.driver(self.uri, auth=None) as drv:
                drv.verify_connectivity()
                drv.execute_query("RETURN 1")
            return True
        except Exception:
            return False

    def log_tail(self, chars: int = 6000) -> str:
        parts = []
        for name in ("console.log", "logs/debug.log", "logs/neo4j.log"):
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
        name="Neo4j",
        assemble=lambda force: assemble(force=force),
        start=lambda home, port, stop: Neo4jTestServer.start(
            home=home, port=port, should_stop=stop
        ),
        banner=lambda s: f"NEO4J_URI={s.uri}  (no auth; home {s.home}; JVM pid {s.process.pid})",
    )


if __name__ == "__main__":
    sys.exit(main())
