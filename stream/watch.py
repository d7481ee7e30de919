"""Watch a folder: new data files become incremental updates (``graphsona stream --watch``).

The simplest stream. Producers drop files named after their table (``posts-0001.jsonl``,
``follows_2026-12-02.csv``, ``users.new.parquet``: the name starts with ``users``, ``posts``,
``follows`` or ``interactions``; ``.csv``, ``.parquet`` or ``.jsonl``) into the folder. Each look
takes every file not applied yet and unchanged for :data:`SETTLE_SECONDS` (so a file still being
written waits; writing under another name and renaming is best), validates each file on its own
(rows may name users already in the store or in a users file of the same batch), and applies the
valid ones together as one update.

Delivery is at least once, and the update is idempotent, so nothing is lost or doubled:

* a file is recorded as applied in ``.graphsona-stream.json`` (written atomically) only after the
  update has written the store and saved its state; after a crash the next start applies the
  unrecorded files again, which upserts the same rows and ends in the same state;
* a file that fails validation goes to ``.rejected/`` with ``<name>.reason.txt`` (the error with
  file, row and column) and never stops the stream.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from graphsona.errors import DataValidationError, GraphsonaError
from graphsona.graph import GraphStore
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.privacy import PrivacySettings

__all__ = ["LEDGER", "SETTLE_SECONDS", "FolderWatch"]

LEDGER = ".graphsona-stream.json"
REJECTED = ".rejected"
SETTLE_SECONDS = 1.0
TABLES = ("interactions", "follows", "users", "posts")  # longest prefix first: no overlap anyway
SUFFIXES = (".csv", ".parquet", ".jsonl")


def _table_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.startswith(".") or not name.endswith(SUFFIXES):
        return None
    return next((t for t in TABLES if name.startswith(t)), None)


class FolderWatch:
    """Applies the new files of ``folder`` to ``store`` through the incremental update."""

    def __init__(
        self,
        folder: Path,
        store: GraphStore,
        cfg: ProfileJobConfig,
        privacy: PrivacySettings | None = None,
    ) -> None:
        from graphsona.jobs.update import delta_options

        self.folder, self.store, self.cfg = Path(folder), store, cfg
        self.options = delta_options(store, privacy)  # the store's privacy policy
        self.ledger_path = self.folder / LEDGER

    # ------------------------------------------------------------------ ledger
    def applied(self) -> dict[str, Any]:
        if not self.ledger_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.ledger_path.read_text())
        return data

    def _record(self, files: list[Path], run_id: str) -> None:
        ledger = self.applied()
        for f in files:
            st = f.stat()
            ledger[f.name] = {"size": st.st_size, "mtime": st.st_mtime, "run_id": run_id}
        tmp = self.ledger_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True))
        os.replace(tmp, self.ledger_path)

    def pending(self) -> list[Path]:
        """Files not applied yet (or changed since), settled, oldest first."""
        done = self.applied()
        now = time.time()
        out = []
        for f in self.folder.iterdir():
            if not f.is_file() or _table_of(f) is None:
                continue
            st = f.stat()
            seen = done.get(f.name)
            if seen and seen["size"] == st.st_size and seen["mtime"] == st.st_mtime:
                continue
            if now - st.st_mtime < SETTLE_SECONDS:
                continue
            out.append(f)
        return sorted(out, key=lambda p: (p.stat().st_mtime, p.name))

    # ------------------------------------------------------------------ one batch
    def _reject(self, f: Path, reason: str) -> None:
        target = self.folder / REJECTED
        target.mkdir(exist_ok=True)
        (target / f"{f.name}.reason.txt").write_text(reason + "\n")
        os.replace(f, target / f.name)

    def apply(self, files: list[Path]) -> dict[str, Any]:
        """Validate ``files``, apply the valid ones as one update; what happened, as a dict."""
        from graphsona.jobs.update import run_update
        from graphsona.loaders import load_delta
        from graphsona.loaders._read import ROW, read_table
        from graphsona.loaders.dataset import Dataset

        rejected: dict[str, str] = {}
        frames: dict[Path, pl.DataFrame] = {}
        for f in files:
            try:
                frames[f] = read_table(f)
            except (DataValidationError, OSError, pl.exceptions.PolarsError) as e:
                rejected[f.name] = str(e)
        batch_users = [
            frame["user_id"].cast(pl.String)
            for f, frame in frames.items()
            if _table_of(f) == "users" and "user_id" in frame.columns
        ]
        policy = self.options.privacy
        if policy is not None:
            batch_users = [
                policy.ids(s.to_frame("user_id"), ("user_id",))["user_id"] for s in batch_users
            ]
        known = pl.concat([self.store.read_user_ids().cast(pl.String), *batch_users]).unique()
        parts: dict[str, list[pl.DataFrame]] = {t: [] for t in TABLES}
        good: list[Path] = []
        for f, frame in frames.items():
            table = _table_of(f)
            assert table is not None
            try:
                ds, _ = load_delta({table: frame.drop(ROW, strict=False)}, known, self.options)
            except DataValidationError as e:
                rejected[f.name] = f"{f.name}: {e}"
                continue
            parts[table].append(getattr(ds, table))
            good.append(f)
        for name, why in rejected.items():
            path = self.folder / name
            if path.exists():
                self._reject(path, why)
        out: dict[str, Any] = {"files": [f.name for f in good], "rejected": rejected}
        if not good:
            return out
        tables = {t: pl.concat(p, how="diagonal_relaxed") if p else None for t, p in parts.items()}
        users = tables["users"]
        if users is not None:
            users = users.unique("user_id", keep="last")
        delta = Dataset(
            users if users is not None else pl.DataFrame(schema={"user_id": pl.String}),
            _or_empty(tables["posts"], "posts"),
            _or_empty(tables["follows"], "follows"),
            _or_empty(tables["interactions"], "interactions"),
            {},
            privacy=policy.meta() if policy is not None else None,
        )
        result = run_update(self.store, delta, self.cfg, source=str(self.folder))
        self.store.release_memory()  # the embedded store's page cache, between batches
        self._record(good, result.run_id)
        out["update"] = result.summary()
        return out

    def run(
        self,
        report: Callable[[dict[str, Any]], None],
        *,
        interval: float = 5.0,
        once: bool = False,
        max_batches: int | None = None,
    ) -> int:
        """Look at the folder every ``interval`` seconds and apply what is new; returns the
        number of updates applied. ``once``: one look, then stop."""
        batches = 0
        while True:
            files = self.pending()
            if files:
                try:
                    outcome = self.apply(files)
                except GraphsonaError as e:  # the store or state refused: say so, keep going
                    outcome = {"files": [f.name for f in files], "error": str(e)}
                if outcome.get("update"):
                    batches += 1
                report(outcome)
            if once or (max_batches is not None and batches >= max_batches):
                return batches
            time.sleep(interval)


def _or_empty(frame: pl.DataFrame | None, table: str) -> pl.DataFrame:
    from graphsona.loaders.dataset import SCHEMAS

    return frame if frame is not None else pl.DataFrame(schema=SCHEMAS[table])
