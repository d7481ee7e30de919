"""A content-addressed on-disk cache of text vectors (SQLite; one file, safe to interrupt).

Keys are ``blake2b(model_id, text)``: the same text under the same model settings is embedded
once, ever; a different model, prefix or truncation length gets different keys.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["NullCache", "VectorCache", "text_keys"]

_CHUNK = 900  # SQLite's default limit on bound parameters is 999


def text_keys(model_id: str, texts: Iterable[str]) -> list[bytes]:
    """16-byte content keys of ``texts`` under ``model_id``."""
    salt = hashlib.blake2b(model_id.encode(), digest_size=16).digest()
    return [
        hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16, key=salt).digest()
        for t in texts
    ]


class VectorCache:
    """Vectors by key in ``path`` (created if missing). Writes commit per call.

    Layout: a rowid table (vectors appended in insertion order) with a unique index on the
    16-byte key. An earlier layout kept the ~1 KB vectors inside a WITHOUT ROWID key B-tree;
    random keys then split and rewrote full pages on every insert, and at millions of entries
    the cache wrote tens of GB (SQLite advises against WITHOUT ROWID for rows this large).
    Caches in that layout (table ``vectors``) are left untouched and simply not used.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors_v2 "
            "(id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, vec BLOB NOT NULL)"
        )
        # the model settings that wrote vectors here: erasure recomputes a person's keys
        # under each of them (graphsona forget)
        self._db.execute("CREATE TABLE IF NOT EXISTS models (model_id TEXT PRIMARY KEY)")

    def get_many(self, keys: list[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                f"SELECT key, vec FROM vectors_v2 WHERE key IN ({marks})", chunk
            ):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dimension:
                    found[key] = vec
        return found

    def put_many(self, keys: list[bytes], vectors: np.ndarray, model_id: str | None = None) -> None:
        rows = [
            (k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        with self._db:
            if model_id is not None and rows:
                self._db.execute("INSERT OR IGNORE INTO models VALUES (?)", (model_id,))
            self._db.executemany(
                "INSERT INTO vectors_v2 (key, vec) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET vec = excluded.vec",
                rows,
            )

    def model_ids(self) -> list[str]:
        """The model settings that wrote vectors here (since caches recorded them)."""
        return [r[0] for r in self._db.execute("SELECT model_id FROM models ORDER BY model_id")]

    def keys_of(self, texts: list[str]) -> list[bytes]:
        """The keys ``texts`` have under every model recorded here (for erasure)."""
        return [k for m in self.model_ids() for k in text_keys(m, texts)]

    def delete_keys(self, keys: list[bytes]) -> int:
        """Delete the vectors under ``keys``; returns rows deleted. The freed pages are
        overwritten (``secure_delete``) and the write-ahead log truncated, so the vectors do
        not linger in the file."""
        n = 0
        self._db.execute("PRAGMA secure_delete=ON")
        with self._db:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                cur = self._db.execute(f"DELETE FROM vectors_v2 WHERE key IN ({marks})", chunk)
                n += cur.rowcount
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors_v2").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class NullCache:
    """No caching (the do-nothing cache)."""

    def get_many(self, keys: list[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        return {}

    def put_many(self, keys: list[bytes], vectors: np.ndarray, model_id: str | None = None) -> None:
        return None

    def __len__(self) -> int:
        return 0

    def close(self) -> None:
        return None
