"""Where a store's stage outputs live: one rule for ``graphsona demo`` and every command.

The work dir holds each stage's output, the manifest and the training checkpoints (see
:mod:`graphsona.jobs.profile`). Unless one is given (``--work-dir``, ``[output] work_dir``) it
is :func:`default_work_dir`: beside an embedded store (``graph.lbdb`` -> ``graph.lbdb.runs``),
or for a server under ``~/.cache/graphsona/runs/<hash>``, keyed by the server's address and
database but not by the login (the same graph reached with other credentials is the same graph,
and no password ends up in a path).

Example:
    >>> default_work_dir("graphsona-demo/graph.lbdb")
    PosixPath('graphsona-demo/graph.lbdb.runs')
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from graphsona.graph._uri import split_userinfo
from graphsona.graph.lock import hold
from graphsona.graph.registry import embedded_path

__all__ = [
    "LOCK_NAME",
    "OUTPUTS",
    "clear_work_dir",
    "default_work_dir",
    "record_outputs",
    "recorded_outputs",
    "resolve_work_dir",
]

#: The work dir's job lock (kept when the work dir is cleared: see graphsona.graph.lock).
LOCK_NAME = ".graphsona.lock"
#: The ledger of files graphsona wrote outside the work dir (exports, reports), so that
#: ``graphsona forget`` finds every copy of a person's results.
OUTPUTS = "outputs.json"


def default_work_dir(store_uri: str, database: str | None = None) -> Path:
    """The work dir of the store named by ``store_uri`` when none is configured.

    ``database`` (else ``$NEO4J_DATABASE``) tells apart the databases of one Neo4j server.
    """
    path = embedded_path(store_uri)
    if path is not None:
        return path.with_name(path.name + ".runs")
    key = split_userinfo(store_uri)[0]
    db = database or os.environ.get("NEO4J_DATABASE")
    if db:
        key += f"#{db}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "graphsona" / "runs" / digest


def resolve_work_dir(
    store_uri: str,
    *,
    given: Path | None = None,
    configured: Path | None = None,
    database: str | None = None,
) -> Path:
    """``given`` (``--work-dir``), else ``configured`` (``[output] work_dir``), else
    :func:`default_work_dir`."""
    return given or configured or default_work_dir(store_uri, database)


def clear_work_dir(path: Path) -> None:
    """Delete every saved stage output and checkpoint in ``path`` (``graphsona profile --fresh``).

    Done while holding the work dir's lock, so a job running on it is not pulled from under
    its feet: that is refused naming the job instead.
    """
    if not path.exists():
        return
    with hold(path / LOCK_NAME, f"the work dir {path}"):
        for entry in path.iterdir():
            if entry.name == LOCK_NAME:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def recorded_outputs(work_dir: Path) -> list[str]:
    """The files recorded by :func:`record_outputs` (absolute paths, oldest first)."""
    import json

    path = work_dir / OUTPUTS
    if not path.exists():
        return []
    files: list[str] = json.loads(path.read_text())
    return files


def record_outputs(work_dir: Path, paths: list[Path]) -> None:
    """Add ``paths`` (an export's files, a report) to the work dir's ledger of outputs."""
    import json

    files = recorded_outputs(work_dir)
    for p in paths:
        name = str(Path(p).resolve())
        if name not in files:
            files.append(name)
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = work_dir / (OUTPUTS + ".tmp")
    tmp.write_text(json.dumps(files, indent=1))
    os.replace(tmp, work_dir / OUTPUTS)
