"""Job locks: one writer at a time per store and per work dir, across processes.

``graphsona profile`` holds its store's lock for the whole job (the embedded database itself is
closed while the GNN trains, so its own file lock does not cover the job) and ``graphsona load``
takes the same lock, so a load can no longer slip in during training and have the job write back
results computed on the old data. A second writer is refused at once with a message naming the
holder (command, process id, host, start time); nothing waits in a queue.

The lock is an advisory ``flock`` on a small file: the operating system releases it when the
holding process ends, even by ``kill -9``, so a crash never leaves a stale lock behind. The file
stays in place (removing a lock file races with the next taker) and holds the last holder's
details. Where it lives: beside an embedded store (``graph.lbdb.lock``), in the work dir
(``.graphsona.lock``), and for a server store under ``~/.cache/graphsona/locks/``, keyed by the
store's address and database. A Neo4j store shared by several machines is not covered by a local
file: there the job's data-version check before write-back is the guard (see
:meth:`graphsona.graph.GraphStore.data_version`).

Locks are re-entrant within one process (the job calls ``store.load`` code paths that take the
same lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from graphsona.errors import StoreError

__all__ = ["LockedError", "hold", "holder", "server_lock_path", "store_lock_path"]

_held: dict[Path, tuple[IO[str], int]] = {}
_mutex = threading.Lock()


class LockedError(StoreError):
    """Another process holds the lock."""


def holder(path: Path) -> str:
    """Who last took the lock at ``path``, in words ("" if unknown)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return ""
    if not info:
        return ""
    return (
        f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"since {info.get('since', '?')})"
    )


def server_lock_path(locator: str) -> Path:
    """The lock file of a server store named ``locator`` (e.g. ``neo4j@host:7687/db``)."""
    import hashlib

    key = hashlib.sha256(locator.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "graphsona" / "locks" / f"{key}.lock"


def neo4j_locator(host: str, port: int | None, database: str | None) -> str:
    return f"neo4j@{host.lower()}:{port or 7687}/{database or 'default'}"


def store_lock_path(uri: str, database: str | None = None) -> Path:
    """The lock file of the store named by ``uri``, known before the store is opened (the CLI
    takes the lock first, so a busy store is refused with its holder's name, not with the
    database engine's own lock error)."""
    if "://" not in uri or uri.startswith("embedded://"):
        path = Path(uri.removeprefix("embedded://")).absolute()
        return path.with_name(path.name + ".lock")
    from urllib.parse import urlsplit

    from graphsona.graph._uri import split_userinfo

    parts = urlsplit(split_userinfo(uri)[0])  # never the login: it is not the store's identity
    try:
        port = parts.port
    except ValueError:
        port = None  # the driver reports a malformed URI when it opens it
    db = database or os.environ.get("NEO4J_DATABASE") or None
    return server_lock_path(neo4j_locator(parts.hostname or "", port, db))


def _command() -> str:
    """The program and its first word (a subcommand), never its options: those may hold a
    store URI with a password."""
    from graphsona.graph._uri import redact

    words = [Path(sys.argv[0]).name] if sys.argv and sys.argv[0] else ["python"]
    words += [a for a in sys.argv[1:] if not a.startswith("-")][:1]
    # a script's first argument may be a store URI with a login: never written in clear
    return redact(" ".join(words))


@contextlib.contextmanager
def hold(path: Path | str, what: str) -> Iterator[None]:
    """Hold the lock at ``path`` while the block runs; raise :class:`LockedError` at once if
    another process holds it. ``what`` names the thing locked in the error message."""
    path = Path(path).absolute()
    with _mutex:
        if path in _held:
            handle, depth = _held[path]
            _held[path] = (handle, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held beyond this block
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            who = holder(path) or "another process"
            raise LockedError(
                f"{what} is in use by {who}; wait for it to finish (lock file {path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "command": _command(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        with _mutex:
            _held[path] = (handle, 1)
    try:
        yield
    finally:
        with _mutex:
            handle, depth = _held[path]
            if depth > 1:
                _held[path] = (handle, depth - 1)
            else:
                del _held[path]
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                handle.close()
