"""The stage protocol and the one runner that owns fingerprints, skip, resume and the manifest.

A job is a list of :class:`Stage` objects and a context (a dict of named artefacts: frames,
tensors, reports). The :class:`Runner` walks the list; for each stage it computes the stage's
fingerprint from the context (its inputs plus the settings that change its result), reuses the
saved output when the manifest in the work dir holds the same fingerprint and the stage's files
exist, and otherwise runs the stage, saves its output and records the fingerprint. A crash
therefore costs at most the stage that was running; a rerun after a data or settings change
recomputes exactly the stages whose inputs changed.

The full profile job, evaluation and (later) the incremental update are different lists of the
same stages (:mod:`graphsona.jobs.stages`). Stages receive data, never the runner; a stage that
writes to a store gets the store in its constructor.

Example:
    >>> record = Runner(Path("runs")).run([EmbedStage(cfg), TrainStage(cfg)], ctx)  # doctest: +SKIP
    >>> record.skipped                                                              # doctest: +SKIP
    ['embed']
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from graphsona._faults import crash_point

__all__ = ["Progress", "RunRecord", "Runner", "Stage", "fingerprint"]

Progress = Callable[[str, str], None]
Context = dict[str, Any]


def fingerprint(*parts: Any) -> str:
    """A short hash of frames (row order ignored), arrays, tensors and JSON-able settings."""
    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        if isinstance(p, pl.DataFrame):
            rows = np.sort(p.hash_rows(seed=0).to_numpy()) if p.height else np.zeros(0)
            h.update(f"{p.columns}{p.height}".encode())
            h.update(rows.tobytes())
        elif isinstance(p, np.ndarray):
            h.update(f"{p.shape}{p.dtype}".encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif type(p).__module__.startswith("torch"):
            from graphsona.gnn.checkpoints import data_fingerprint

            h.update(data_fingerprint(p).encode())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


class Stage(ABC):
    """One step of a job.

    ``name`` names it in the manifest and in progress messages; ``files`` are what :meth:`save`
    writes in the work dir (the stage counts as saved only when all exist). A stage with
    ``cached = False`` always runs (cheap steps, or steps whose output lives elsewhere).
    """

    name: str = ""
    files: tuple[str, ...] = ()
    cached: bool = True

    @abstractmethod
    def fingerprint(self, ctx: Context) -> str:
        """What the output depends on: a hash of the inputs read from ``ctx`` and the settings."""

    @abstractmethod
    def run(self, ctx: Context, say: Progress) -> Context:
        """Compute the output: new entries for the context."""

    def save(self, out: Context, folder: Path) -> dict[str, Any]:
        """Write ``out`` into ``folder``; returns what the manifest keeps (reports, scalars)."""
        return {}

    def load(self, folder: Path, info: dict[str, Any], ctx: Context) -> Context:
        """Read back what :meth:`save` wrote (``info`` is its manifest entry)."""
        return {}

    def up_to_date(self, ctx: Context, info: dict[str, Any]) -> bool:
        """An extra check beyond the fingerprint (e.g. that a store still holds the result)."""
        return True


@dataclass
class RunRecord:
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


class Runner:
    """Runs stages in order, reusing saved outputs whose fingerprint is unchanged.

    Args:
        work_dir: where outputs and ``manifest.json`` live (``None``: nothing saved or reused).
        progress: ``progress(stage, message)`` for start/finish messages.
        crash_prefix: names the crash points of :mod:`graphsona._faults` (``<prefix>:<stage>``).
    """

    def __init__(
        self,
        work_dir: Path | None,
        progress: Progress | None = None,
        *,
        crash_prefix: str = "profile",
    ) -> None:
        self.dir = work_dir
        self.say: Progress = progress or (lambda stage, message: None)
        self.crash_prefix = crash_prefix
        self.manifest: dict[str, Any] = {}
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
            path = work_dir / "manifest.json"
            if path.exists():
                self.manifest = json.loads(path.read_text())

    def _fresh(self, stage: Stage, key: str, ctx: Context) -> bool:
        if self.dir is None or not stage.cached:
            return False
        info = self.manifest.get(stage.name, {})
        if info.get("key") != key or not all((self.dir / f).exists() for f in stage.files):
            return False
        return stage.up_to_date(ctx, info)

    def _record(self, name: str, key: str, info: dict[str, Any]) -> None:
        if self.dir is None:
            return
        self.manifest[name] = {"key": key, "at": datetime.now(UTC).isoformat(), **info}
        self._write_manifest()

    def _forget(self, name: str) -> None:
        if self.dir is not None and self.manifest.pop(name, None) is not None:
            self._write_manifest()

    def _write_manifest(self) -> None:
        assert self.dir is not None
        tmp = self.dir / "manifest.json.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=2, default=str))
        tmp.replace(self.dir / "manifest.json")

    def run(self, stages: list[Stage], ctx: Context) -> RunRecord:
        """Run ``stages`` on ``ctx`` (updated in place with every stage's output)."""
        record = RunRecord(manifest=self.manifest)
        for stage in stages:
            t = time.perf_counter()
            key = stage.fingerprint(ctx)
            loaded = None
            if self._fresh(stage, key, ctx):
                assert self.dir is not None
                try:
                    loaded = stage.load(self.dir, self.manifest[stage.name], ctx)
                except Exception as e:  # e.g. files from an older graphsona: recompute
                    self.say(stage.name, f"saved output unreadable ({type(e).__name__}): rerun")
            if loaded is not None:
                ctx.update(loaded)
                record.skipped.append(stage.name)
            else:
                # forget the old entry first: a crash between writing the new files and
                # recording their fingerprint must not pair old fingerprint and new files
                self._forget(stage.name)
                out = stage.run(ctx, self.say)
                info = stage.save(out, self.dir) if self.dir is not None else {}
                if stage.cached:
                    self._record(stage.name, key, info)
                ctx.update(out)
            record.seconds[stage.name] = time.perf_counter() - t
            crash_point(f"{self.crash_prefix}:{stage.name}")
        return record


def save_frame(frame: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file atomically (a crash never leaves half a file under the name)."""
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)
