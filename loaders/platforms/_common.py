"""What every platform importer shares: a collector of rows, record-level errors that name the
file and the record, and streaming readers (one record in memory at a time)."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

import polars as pl
from graphsona.errors import DataValidationError

__all__ = [
    "Collector",
    "Record",
    "Rows",
    "files_in",
    "html_text",
    "iter_json_array",
    "iter_ndjson",
    "parse_time",
    "read_json",
    "records_of",
]

TIME = pl.Datetime("us", "UTC")


class Record:
    """Where one record came from (file and 1-based record number), for error messages."""

    def __init__(self, file: Path, number: int, data: Any) -> None:
        self.file, self.number, self.data = file, number, data

    def fail(self, message: str, field: str | None = None) -> DataValidationError:
        return DataValidationError(message, file=str(self.file), row=self.number, column=field)

    def need(self, *path: str) -> Any:
        """The value at ``path`` (nested keys); a clear error when it is missing or empty."""
        value: Any = self.data
        for key in path:
            if not isinstance(value, dict) or value.get(key) in (None, ""):
                raise self.fail(f"the record has no {'.'.join(path)}", ".".join(path))
            value = value[key]
        return value

    def get(self, *path: str) -> Any:
        value: Any = self.data
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def parse_time(rec: Record, value: Any, field: str) -> datetime | None:
    """ISO-8601 text (``Z`` or an offset; naive is UTC), epoch seconds (number or digits), or
    X's ``Wed Oct 10 20:19:24 +0000 2018``; None stays None; anything else is an error."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(float(value), UTC)
        text = str(value).strip()
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            t = datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise rec.fail(f"cannot read the time {value!r}", field) from e


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".zst":
        try:
            import zstandard
        except ImportError as e:  # a dependency of graphsona: only a broken install lacks it
            raise DataValidationError(
                "reading .zst needs the zstandard package", file=str(path)
            ) from e
        raw = path.open("rb")
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(raw)
        return io.TextIOWrapper(reader, encoding="utf-8")
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def iter_ndjson(path: Path) -> Iterator[Record]:
    """One JSON object per line (``.jsonl``/``.ndjson``, optionally ``.zst`` or ``.gz``),
    streamed: memory does not grow with the file. Blank lines are skipped; a line that is not a
    JSON object is an error naming the file and line."""
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise DataValidationError(
                    f"not a JSON record ({e.msg if hasattr(e, 'msg') else e})",
                    file=str(path),
                    row=number,
                ) from e
            if not isinstance(data, dict):
                raise DataValidationError(
                    "a record must be a JSON object", file=str(path), row=number
                )
            yield Record(path, number, data)


def read_json(path: Path) -> Any:
    """A whole JSON file (a page or a small archive file), or an error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataValidationError(f"not a JSON file ({e})", file=str(path)) from e


def records_of(path: Path, items: Any, what: str = "the file") -> list[Record]:
    """``items`` (read from ``path``) as records: ``None`` is none, anything but an array of
    objects is an error naming the file (and the record's number)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise DataValidationError(f"{what} must hold a JSON array", file=str(path))
    out = []
    for number, data in enumerate(items, start=1):
        if not isinstance(data, dict):
            raise DataValidationError("a record must be a JSON object", file=str(path), row=number)
        out.append(Record(path, number, data))
    return out


def iter_json_array(path: Path, key: str | None = None) -> Iterator[Record]:
    """The objects of one JSON file holding an array (or, with ``key``, an object whose ``key``
    holds it: an API page). Pages are bounded in size, so a page is read whole."""
    doc = read_json(path)
    items = doc.get(key) if key is not None and isinstance(doc, dict) else doc
    yield from records_of(path, items, f"'{key}'" if key else "the file")


class Rows:
    """A growing table kept as polars chunks: rows are buffered as tuples and turned into a
    frame every :attr:`CHUNK` rows, so a dump of millions of records costs its columnar size,
    not a Python object per value.

    With ``spill`` (a Parquet file path) each chunk is appended to disk instead of kept in
    memory (``graphsona convert``): memory stays at one chunk whatever the number of rows.
    With ``buckets`` > 1 and a ``key`` column the rows are also split by a hash of the key into
    that many files, so that a join or a de-duplication on the key can run one bucket at a
    time (:meth:`bucket`), in memory bounded by a bucket, not by the table. Read the rows back
    with :meth:`lazy`, :meth:`bucket`, :meth:`batches` or :meth:`frame` once all are in."""

    CHUNK = 65_536

    def __init__(
        self,
        schema: dict[str, Any],
        spill: Path | None = None,
        *,
        buckets: int = 1,
        key: str | None = None,
    ) -> None:
        if buckets > 1 and (spill is None or key is None):
            raise ValueError("buckets need a spill path and a key column")
        self.schema = schema
        self.spill = spill
        self.buckets, self.key = buckets, key
        self._buffer: list[tuple[Any, ...]] = []
        self._chunks: list[pl.DataFrame] = []
        self._writers: dict[int, Any] = {}
        self._spilled = 0

    def add(self, *values: Any) -> None:
        self._buffer.append(values)
        if len(self._buffer) >= self.CHUNK:
            self._flush()

    def add_frame(self, frame: pl.DataFrame) -> None:
        """Append a frame with these columns (cast to this table's types)."""
        self._flush()
        if frame.height:
            self._store(frame.select([pl.col(c).cast(t) for c, t in self.schema.items()]))

    def _flush(self) -> None:
        if self._buffer:
            self._store(pl.DataFrame(self._buffer, schema=self.schema, orient="row"))
            self._buffer = []

    def _file(self, b: int) -> Path:
        assert self.spill is not None
        if self.buckets == 1:
            return self.spill
        return self.spill.with_name(f"{self.spill.stem}.{b}{self.spill.suffix}")

    def _store(self, chunk: pl.DataFrame) -> None:
        if self.spill is None:
            self._chunks.append(chunk)
            return
        if self.buckets == 1:
            self._write(0, chunk)
        else:
            assert self.key is not None
            which = (pl.col(self.key).hash(seed=7) % self.buckets).alias("_bucket")
            for (b,), part in chunk.with_columns(which).group_by("_bucket"):
                self._write(int(b), part.drop("_bucket"))
        self._spilled += chunk.height

    def _write(self, b: int, chunk: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        table = chunk.to_arrow()
        writer = self._writers.get(b)
        if writer is None:
            self._file(b).parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[b] = pq.ParquetWriter(self._file(b), table.schema)
        writer.write_table(table)

    def close(self) -> None:
        """No more rows: the spill files are finished (nothing to do in memory)."""
        self._flush()
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def files(self) -> list[Path]:
        """The spill files written (none in memory)."""
        self.close()
        if self.spill is None:
            return []
        return [self._file(b) for b in range(self.buckets) if self._file(b).exists()]

    def bucket(self, b: int) -> pl.LazyFrame:
        """The rows of bucket ``b`` (every row when not bucketed)."""
        self.close()
        if self.spill is None:
            return self.frame().lazy()
        f = self._file(b)
        return pl.scan_parquet(f) if f.exists() else pl.DataFrame(schema=self.schema).lazy()

    def lazy(self) -> pl.LazyFrame:
        files = self.files()
        if self.spill is None:
            return self.frame().lazy()
        if not files:
            return pl.DataFrame(schema=self.schema).lazy()
        return pl.scan_parquet(files)

    def batches(self) -> Iterator[pl.DataFrame]:
        """The rows in chunks (from the spill files without reading them whole)."""
        if self.spill is None:
            frame = self.frame()
            for lo in range(0, frame.height, self.CHUNK):
                yield frame.slice(lo, self.CHUNK)
            return
        import pyarrow.parquet as pq

        for f in self.files():
            for batch in pq.ParquetFile(f).iter_batches(batch_size=self.CHUNK):
                yield pl.from_arrow(batch)  # type: ignore[misc]

    def remove(self) -> None:
        """Delete the spill files (work tables)."""
        for f in self.files():
            f.unlink(missing_ok=True)

    def frame(self) -> pl.DataFrame:
        if self.spill is not None:
            return self.lazy().collect()
        self._flush()
        if not self._chunks:
            return pl.DataFrame(schema=self.schema)
        self._chunks = [pl.concat(self._chunks, rechunk=True)]
        return self._chunks[0]

    def __len__(self) -> int:
        return len(self._buffer) + sum(c.height for c in self._chunks) + self._spilled


BUCKETS = 64  # spilled tables joined or de-duplicated one hash bucket at a time (convert)


POSTS = {
    "post_id": pl.String,
    "user_id": pl.String,
    "text": pl.String,
    "created_at": TIME,
    "lang": pl.String,
}
FOLLOWS = {"src": pl.String, "dst": pl.String, "created_at": TIME}
INTERACTIONS = {"src": pl.String, "dst": pl.String, "kind": pl.String, "created_at": TIME}


class Collector:
    """Rows gathered from a platform's records, turned into graphsona's tables at the end.

    Users are merged by id (a later record fills what an earlier left empty); a user named only
    as a target (a reply's author seen nowhere else) gets a row with its id alone. Posts,
    follows and interactions are kept as polars chunks (:class:`Rows`). Repairs are counted
    under ``<format>.<what>`` and reach the load report."""

    def __init__(self, fmt: str, spill: Path | None = None) -> None:
        self.fmt = fmt
        self.spill = spill  # a folder: posts and edges go to Parquet files there (convert)
        self.users: dict[str, dict[str, Any]] = {}
        self.posts = (
            Rows(POSTS, spill / "posts.part.parquet", buckets=BUCKETS, key="post_id")
            if spill
            else Rows(POSTS)
        )
        self.follows = Rows(FOLLOWS, spill / "follows.part.parquet" if spill else None)
        self.interactions = Rows(
            INTERACTIONS, spill / "interactions.part.parquet" if spill else None
        )
        self.repairs: Counter[str] = Counter()
        self.files: list[str] = []

    def user(self, user_id: Any, **props: Any) -> str:
        uid = str(user_id)
        row = self.users.get(uid)
        if row is None:
            row = self.users[uid] = {"user_id": uid}
        for k, v in props.items():
            if v is not None and v != "" and row.get(k) in (None, ""):
                row[k] = v
        return uid

    def post(
        self,
        post_id: Any,
        user_id: str,
        text: str,
        created_at: datetime | None,
        lang: str | None,
    ) -> None:
        self.posts.add(str(post_id), user_id, text, created_at, lang or None)

    def follow(self, src: str, dst: str, created_at: datetime | None = None) -> None:
        self.follows.add(src, dst, created_at)

    def interact(self, src: str, dst: str, kind: str, created_at: datetime | None) -> None:
        self.interactions.add(src, dst, kind, created_at)

    def repair(self, what: str, n: int = 1) -> None:
        if n:
            self.repairs[f"{self.fmt}.{what}"] += n

    def users_frame(self) -> pl.DataFrame:
        users = list(self.users.values())
        cols = {k for u in users for k in u}
        schema: dict[str, Any] = {"user_id": pl.String}
        for c in sorted(cols - {"user_id"}):
            schema[c] = TIME if c == "created_at" else _kind(users, c)
        for c, kind in schema.items():  # a column of mixed kinds is kept as text
            if kind == pl.String:
                for u in users:
                    if u.get(c) is not None and not isinstance(u[c], str):
                        u[c] = str(u[c])
        return pl.DataFrame(users, schema=schema)

    def _unique_posts(self) -> pl.LazyFrame:
        # a post on two saved pages (overlapping timelines) is kept once, as first seen
        return self.posts.lazy().unique("post_id", keep="first", maintain_order=True)

    def tables(self) -> dict[str, pl.DataFrame]:
        posts = self.posts.frame()
        unique = self._unique_posts().collect()
        self.repair("duplicate_post", posts.height - unique.height)
        return {
            "users": self.users_frame(),
            "posts": unique,
            "follows": self.follows.frame(),
            "interactions": self.interactions.frame(),
        }

    def write_dataset(self, out: Path) -> dict[str, int]:
        """The four tables as a dataset folder of Parquet files (``graphsona load`` reads it);
        spilled posts and edges go from file to file without being read whole. Returns the
        rows written per table."""
        out.mkdir(parents=True, exist_ok=True)
        users = self.users_frame()
        users.write_parquet(out / "users.parquet")
        n_posts = len(self.posts)
        if self.posts.buckets > 1:  # one bucket at a time: a post's copies share a bucket
            posts = Rows(POSTS, out / "posts.parquet")
            for b in range(self.posts.buckets):
                part = self.posts.bucket(b).unique("post_id", keep="first", maintain_order=True)
                posts.add_frame(part.collect())
            posts.close()
            kept = len(posts)
        else:
            self._unique_posts().sink_parquet(out / "posts.parquet")
            kept = pl.scan_parquet(out / "posts.parquet").select(pl.len()).collect().item()
        self.repair("duplicate_post", n_posts - kept)
        self.follows.lazy().sink_parquet(out / "follows.parquet")
        self.interactions.lazy().sink_parquet(out / "interactions.parquet")
        return {
            "users": users.height,
            "posts": int(kept),
            "follows": len(self.follows),
            "interactions": len(self.interactions),
        }


def _kind(rows: list[dict[str, Any]], col: str) -> Any:
    values = [r[col] for r in rows if r.get(col) is not None]
    if values and all(isinstance(v, bool) for v in values):
        return pl.Boolean
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pl.Int64
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pl.Float64
    return pl.String


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str | None) -> str:
    """Plain text of a post's HTML (Mastodon ``content``, ActivityPub ``content``): tags
    dropped, ``<br>`` and paragraphs as line breaks, entities decoded."""
    if not html:
        return ""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


def files_in(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """``path`` itself when it is a file, else the files under it (recursively) with one of
    ``suffixes``, in name order; an error when there are none."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataValidationError("not found", file=str(path))
    found = sorted(
        f for f in path.rglob("*") if f.is_file() and "".join(f.suffixes[-2:]).endswith(suffixes)
    )
    if not found:
        raise DataValidationError(f"no {', '.join(suffixes)} file found", file=str(path))
    return found
