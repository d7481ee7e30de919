"""Post text kept out of the graph store (``[privacy] store_text = false``).

With this setting the store's ``Post`` nodes carry no ``text``: analysts who query the store
(Cypher, exports, the report) see post ids, times, languages and the derived labels
(sentiment, topic, classifier labels), never what was written. The scrubbed texts the job needs
to embed posts, name communities and find topics are kept in one Parquet file that the
operator chooses (``[privacy] text_file``), outside the store: ``post_id, user_id, text``.
The store records that file's path (not its contents), every later load, update and stream
adds to it, every read of posts joins the text back for the job, and ``graphsona forget``
removes a person's rows from it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

__all__ = ["TEXT_SCHEMA", "TextFile"]

TEXT_SCHEMA = {"post_id": pl.String, "user_id": pl.String, "text": pl.String}


class TextFile:
    """The texts of a store that keeps none (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> pl.DataFrame:
        if not self.path.exists():
            return pl.DataFrame(schema=TEXT_SCHEMA)
        return pl.read_parquet(self.path).select(list(TEXT_SCHEMA)).cast(TEXT_SCHEMA)  # type: ignore[arg-type]

    def _write(self, frame: pl.DataFrame) -> None:
        """Written to a temporary name, then renamed: a crash leaves the old file or the new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        frame.write_parquet(tmp)
        tmp.replace(self.path)

    def upsert(self, posts: pl.DataFrame) -> int:
        """Add ``posts``' texts (a post already there gets its new text); returns the rows."""
        new = posts.select(list(TEXT_SCHEMA)).cast(TEXT_SCHEMA)  # type: ignore[arg-type]
        old = self.read()
        if old.height:
            old = old.filter(~pl.col("post_id").is_in(new["post_id"].implode()))
            new = pl.concat([old, new])
        self._write(new)
        return new.height

    def attach(self, posts: pl.DataFrame) -> pl.DataFrame:
        """``posts`` with their ``text`` from the file (null for a post it does not hold)."""
        texts = self.read().select("post_id", "text")
        return posts.drop("text", strict=False).join(
            texts, on="post_id", how="left", maintain_order="left"
        )

    def forget(self, user_ids: list[str]) -> int:
        """Remove the rows of ``user_ids``' posts; returns how many went."""
        if not self.path.exists():
            return 0
        old = self.read()
        kept = old.filter(~pl.col("user_id").is_in(user_ids))
        if kept.height != old.height:
            self._write(kept)
        return old.height - kept.height
