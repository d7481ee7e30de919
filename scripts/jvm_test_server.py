"""What the Neo4j and Kafka test servers share (scripts/neo4j_test_server.py,
scripts/kafka_test_server.py): finding Java, resolving jars from Maven Central into a folder,
free ports, stopping the server JVM's process group, and the ``assemble``/``run`` command line
whose ``run`` serves until SIGINT, SIGTERM or SIGHUP.

The server JVM runs in its own session (so a terminal's Ctrl-C reaches only the Python process),
and a signal's default action would end that process without stopping the JVM: ``run``'s handlers
only record the signal, and the JVM is stopped and a temporary home removed at a safe point, also
while the server is still starting (the server's ``start`` then raises :class:`StartAborted`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DEPENDENCY_PLUGIN",
    "STOP_SIGNALS",
    "StartAborted",
    "command_line",
    "free_port",
    "java_binary",
    "mvn_copy",
    "stop_jvm",
]

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StartAborted(RuntimeError):
    """A stop was requested (a signal) while the server was starting."""


class Server(Protocol):
    process: subprocess.Popen[bytes]
    home: Path
    owns_home: bool

    def log_tail(self, chars: int = 6000) -> str: ...

    def stop(self) -> None: ...


def java_binary(env_var: str) -> str:
    """``$<env_var>/bin/java``, else a JDK 17 in its Debian place, else ``java`` on PATH."""
    home = os.environ.get(env_var)
    candidates = [Path(home)] if home else []
    candidates += [Path("/usr/lib/jvm/java-17-openjdk-amd64"), Path("/usr/lib/jvm/java-17-openjdk")]
    for c in candidates:
        if (c / "bin" / "java").exists():
            return str(c / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError(f"no Java found: install OpenJDK 17 or set {env_var}")
    return found


def mvn_copy(pom: Path, out: Path, props: dict[str, str]) -> None:
    """Copy ``pom``'s runtime dependencies into ``out`` (files named ``group.artifact-version``)."""
    cmd = ["mvn", "-q", "-B", "-f", str(pom)]
    cmd += [f"-D{k}={v}" for k, v in props.items()]
    cmd += [
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        "-Dmdep.prependGroupId=true",
        f"-DoutputDirectory={out}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"Maven could not resolve {pom.name} (exit {proc.returncode}):\n"
            f"{' '.join(cmd)}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_jvm(process: subprocess.Popen[bytes], home: Path, owns_home: bool) -> None:
    """SIGTERM to the JVM's process group, SIGKILL after 30 s; then remove a temporary home."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    if owns_home:
        shutil.rmtree(home, ignore_errors=True)


def command_line(
    argv: list[str] | None,
    *,
    doc: str | None,
    name: str,
    assemble: Callable[[bool], Path],
    start: Callable[[Path | None, int | None, Callable[[], bool]], Any],
    banner: Callable[[Any], str],
) -> int:
    """``assemble [--force]`` and ``run [--port N] [--home DIR]`` for a test server called
    ``name``: ``start(home, port, should_stop)`` starts it, ``banner(server)`` is the first
    line ``run`` prints."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("assemble", help="resolve the jars from Maven Central (once)")
    a.add_argument("--force", action="store_true", help="resolve again even if assembled")
    r = sub.add_parser("run", help=f"start {name}, print where it listens, stop on Ctrl-C")
    r.add_argument("--port", type=int, default=None)
    r.add_argument("--home", type=Path, default=None, help="keep data here (default: temp dir)")
    args = ap.parse_args(argv)
    if args.cmd == "assemble":
        print(assemble(args.force))
        return 0
    return _serve(name, lambda stop: start(args.home, args.port, stop), banner)


def _serve(
    name: str, start: Callable[[Callable[[], bool]], Any], banner: Callable[[Any], str]
) -> int:
    """Start the server and keep it until a stop signal; then stop it and clean up."""
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        server: Server = start(lambda: bool(received))
    except StartAborted:
        print(f"stopped ({signal.Signals(received[0]).name}) while starting", file=sys.stderr)
        return 0
    except Exception as e:
        if received:  # e.g. Ctrl-C also reached Maven (or a setup tool) while starting
            print(f"stopped ({signal.Signals(received[0]).name}) while starting", file=sys.stderr)
            return 0
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(banner(server), flush=True)
    rc = 0
    try:
        while not received:
            if server.process.poll() is not None:
                print(
                    f"error: {name} exited with code {server.process.returncode}\n"
                    + server.log_tail(),
                    file=sys.stderr,
                )
                rc = 1
                break
            time.sleep(0.2)
    finally:
        server.stop()
    if received:
        kept = "" if server.owns_home else f"; data kept in {server.home}"
        print(f"stopped ({signal.Signals(received[0]).name}){kept}", file=sys.stderr)
    return rc
