"""Embedded store: LadybugDB (``ladybug``), a database directory on disk, no server.

The default store, so a fresh install runs the whole job with no setup. Bulk loads into empty
tables use ``COPY`` from polars frames; later loads upsert with ``LOAD FROM ... MERGE``. Each
write batch is one transaction, so a crash leaves whole batches only. No LadybugDB extension is
required (they download at run time, which fails offline): vector search runs in numpy.

Vector properties of users (float vectors such as profile embeddings) are kept in one side
table per property, ``<UserLabel>__<property>(user_id, value FLOAT[d])``, not as a column of
the user table: LadybugDB 0.22 sets a vector on an existing row slowly (measured here about
2k rows/s at 100k users) while inserting rows with ``COPY`` is more than ten times faster.
:meth:`EmbeddedStore.read_users` joins them back, so callers see one ``profile`` column; in
Cypher, reach one with ``MATCH (v:User__profile {user_id: u.user_id})``.

Example:
    >>> store = EmbeddedStore("out/graph.lbdb")                          # doctest: +SKIP
    >>> store.load(dataset)                                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from graphsona import queries
from graphsona._faults import crash_point
from graphsona.errors import (
    ConfigError,
    DataValidationError,
    MissingDependencyError,
    StoreError,
)
from graphsona.graph._base import TIME, ErasureScope, GraphStore, Tracer
from graphsona.graph.mapping import SchemaMapping
from graphsona.loaders.dataset import Dataset

__all__ = ["EmbeddedStore"]

VECTOR_ROWS_PER_TX = 500
#: an update of at most this share of a vector table's rows deletes and appends them
#: (:meth:`EmbeddedStore._update_vectors`); a larger one sets them in place
VECTOR_APPEND_SHARE = 0.25
#: at most this many distinct sources in a load's links: only their existing links are read
SOURCES_READ_MAX = 50_000
#: rows per page when compaction copies a table into the new file (Arrow in memory)
COMPACT_PAGE_ROWS = 1_000_000


def _ladybug() -> Any:
    try:
        import ladybug
    except ImportError as e:  # pragma: no cover - ladybug is a core dependency
        raise MissingDependencyError(
            "the embedded store needs LadybugDB: pip install ladybug"
        ) from e
    return ladybug


def column_type(dtype: pl.DataType, values: pl.Series | None = None) -> str:
    """The LadybugDB column type for a polars dtype (vectors become ``FLOAT[d]``)."""
    if dtype == pl.String:
        return "STRING"
    if dtype == pl.Boolean:
        return "BOOL"  # LadybugDB reports BOOLEAN columns as BOOL
    if dtype.is_integer():
        return "INT64"
    if dtype.is_float():
        return "DOUBLE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    if isinstance(dtype, pl.Array) and dtype.inner.is_numeric():
        return f"FLOAT[{dtype.size}]"
    if isinstance(dtype, pl.List):
        if dtype.inner == pl.String:
            return "STRING[]"
        if dtype.inner.is_integer():
            return "INT64[]"
        if dtype.inner.is_numeric():
            return "DOUBLE[]"
    raise StoreError(f"no embedded column type for {dtype}")


def _for_table(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast frame columns to what LadybugDB stores: float vectors as Array(Float32, d)."""
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Array) and dtype.inner.is_numeric():
            exprs.append(pl.col(name).cast(pl.Array(pl.Float32, dtype.size)))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(
                pl.col(name)
                .dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
                .dt.cast_time_unit("us")
            )
        elif dtype.is_integer():
            exprs.append(pl.col(name).cast(pl.Int64))
        elif dtype.is_float():
            exprs.append(pl.col(name).cast(pl.Float64))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def _needs_recovery(message: str) -> bool:
    """Whether the engine's message (the store's path taken out) asks for WAL replay."""
    text = message.lower()
    return "wal" in text or "recover" in text or "checkpoint" in text


def _quarter_of_ram() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0  # LadybugDB's own default
    return max(256 * 2**20, total // 4)


_DDL = re.compile(r"\s*(CREATE|ALTER|DROP)\s+(NODE\s+|REL\s+)?TABLE\b", re.IGNORECASE)


class EmbeddedStore(GraphStore):
    """A :class:`GraphStore` in a LadybugDB database directory (created if missing)."""

    dialect = "embedded"

    def __init__(
        self,
        path: str | Path,
        mapping: SchemaMapping | None = None,
        tracer: Tracer | None = None,
        *,
        read_only: bool = False,
        buffer_pool_bytes: int | None = None,
    ) -> None:
        super().__init__(mapping, tracer)
        if not self.mapping.post_rel_outgoing:
            raise ConfigError(
                "the embedded store links posts as (user)-[:POSTED]->(post); post_rel_outgoing must be true"
            )
        _ladybug()  # a clear error now if the package is missing
        self._schema_version = 0
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"no embedded store at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # LadybugDB's default buffer pool is most of the machine's RAM; graphsona trains a
        # GNN in the same process, so the pool gets a quarter of RAM unless told otherwise.
        self._pool = buffer_pool_bytes if buffer_pool_bytes is not None else _quarter_of_ram()
        #: how the last :meth:`compact` rebuilt the file (and why, when not table by table)
        self.last_compaction = ""
        self._writing_rows = 0  # rows of the user-property write in progress
        self._open()
        if read_only:
            return
        self._execute(self._q("create_user_table"))
        for stmt in self._q("create_tables").split(";"):
            if stmt.strip():
                self._execute(stmt)

    # ------------------------------------------------------------------ plumbing
    def _open(self) -> None:
        lb = _ladybug()
        try:
            try:
                self._db = lb.Database(
                    str(self.path), read_only=self.read_only, buffer_pool_size=self._pool
                )
            except RuntimeError as e:
                if not self.read_only or not _needs_recovery(str(e).replace(str(self.path), "")):
                    raise
                # A crash left a write-ahead log that a read-only open cannot replay: replay it
                # with one writable open, then open read-only as asked.
                lb.Database(str(self.path), buffer_pool_size=self._pool).close()
                self._db = lb.Database(str(self.path), read_only=True, buffer_pool_size=self._pool)
        except Exception as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            if "could not set lock" in text.replace(str(self.path), "").lower():
                raise StoreError(
                    f"the embedded store {self.path} is open in another process (another "
                    "graphsona command?); wait for it to finish"
                ) from None
            raise StoreError(f"cannot open embedded store at {self.path}: {text}") from e
        self._conn = lb.Connection(self._db)
        self._released = False

    def locator(self) -> str:
        return str(self.path)

    def lock_path(self) -> Path:
        return self.path.absolute().with_name(self.path.name + ".lock")

    def check_load(self, dataset: Dataset) -> None:
        """User properties must keep the type (and spelling) they were first stored with:
        LadybugDB columns are typed and their names case-insensitive."""
        have = self._columns(self.mapping.user_label)
        lower = {k.lower(): k for k in have}
        frame = _for_table(dataset.users.drop("user_id"))
        file = dataset.sources.get("users", "users")
        for name, dtype in frame.schema.items():
            stored = lower.get(name.lower())
            if stored is None:
                continue
            if stored != name:
                raise DataValidationError(
                    f"the store already has this property spelled {stored!r} (property names "
                    f"are case-insensitive here); rename the column to {stored!r}",
                    file=file,
                    column=name,
                )
            want = column_type(dtype)
            if have[stored] != want:
                raise DataValidationError(
                    f"holds {want} values but the store holds {have[stored]} for this property "
                    "from an earlier load; convert the column or give it another name",
                    file=file,
                    column=name,
                )

    def release_memory(self) -> None:
        """Close the database, which frees its buffer pool (up to a quarter of RAM, by default);
        the next query reopens it. Reading a 1M-user graph leaves ~3 GB of pages in the pool,
        which the GNN needs more."""
        if not self._released:
            self._conn.close()
            self._db.close()
            self._released = True

    def erase(self, scope: ErasureScope) -> dict[str, int]:
        """Erase ``scope``'s users (what :meth:`GraphStore.erase` does) by rewriting the file
        without them: the aggregates are refreshed first (their members and posts taken off
        the sizes), then :meth:`compact` copies every table leaving out their user and post
        rows, their vector rows and every relationship with an end among those, and swaps
        the new file in. One rewrite instead of deleting in place and then rewriting to get
        the deleted bytes out of the file (LadybugDB leaves them), about 4 s less at 1,000
        of 100k users (BENCHMARKS.md, "Privacy"). A schema that cannot be copied table by
        table is deleted from in place and then exported and imported.

        Idempotent: a crash before the swap keeps the old file with the same aggregates
        (recomputed the same way by the rerun); after it, the rerun finds nobody to drop."""
        ids = scope.user_ids
        counts = {"users": 0, "posts": 0, "vector_rows": 0}
        if not ids:
            return counts
        text_file = self._text_file()
        if text_file is not None:
            counts["texts"] = text_file.forget(ids)
        counts.update(self._refresh_aggregates(scope, still_stored=True))
        crash_point("forget:posts")
        m = self.mapping
        vector_tables = list(self._vector_tables().values())
        drop = {m.user_label: (m.user_id, ids), **{t: ("user_id", ids) for t in vector_tables}}
        if m.post_label is not None:
            drop[m.post_label] = (m.post_id, scope.posts["post_id"].to_list())
        dropped = self.compact(drop=drop)
        counts["users"] = dropped.get(m.user_label, 0)
        counts["posts"] = dropped.get(m.post_label or "", 0)
        counts["vector_rows"] = sum(dropped.get(t, 0) for t in vector_tables)
        return counts

    def compact(self, *, drop: dict[str, tuple[str, list[str]]] | None = None) -> dict[str, int]:
        """Rewrite the database file with only the live data (atomic swap at the end).
        LadybugDB marks deleted rows and their strings as free but leaves their bytes in the
        file until reused; erasure (``graphsona forget``) compacts so that nothing of an erased
        person stays on disk.

        The new file gets the same schema (``EXPORT DATABASE ... (schema_only=true)``) and then
        every table's rows, read as Arrow pages and bulk-copied in (``COPY ... FROM``): 24.2 s
        at 100k users / 684k posts on 2 cores, where ``EXPORT DATABASE`` to Parquet and
        ``IMPORT DATABASE`` took 38.3 s in the same run (BENCHMARKS.md, "Privacy"). A schema
        this path cannot rebuild exactly (an index, a sequence, a ``SERIAL`` key, a
        relationship table between several pairs of labels), or a copy that fails, goes
        through export and import instead. A crash keeps the old file (the swap is the last
        step) and leaves only temporary files, removed by the next call.

        ``drop`` (node table -> key property and keys) leaves those nodes out of the new file,
        with every relationship that has one of them at an end (what :meth:`erase` uses);
        returns the rows left out per table (node tables; relationships are not counted)."""
        import shutil

        if "'" in str(self.path):
            raise StoreError(f"cannot compact a store whose path has a quote: {self.path}")
        export = self.path.with_name(self.path.name + ".compact-export")
        fresh = self.path.with_name(self.path.name + ".compact")
        for leftover in (export, fresh, fresh.with_name(fresh.name + ".wal")):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            elif leftover.exists():
                leftover.unlink()
        self._execute("CHECKPOINT")
        self._execute(f"EXPORT DATABASE '{export}' (schema_only=true)")
        plan = self._copy_plan(export)
        lb = _ladybug()

        def rebuild(fill: Any) -> None:
            db = lb.Database(str(fresh), buffer_pool_size=self._pool)
            try:
                conn = lb.Connection(db)
                fill(conn)
                crash_point("compact:copied")
                conn.execute("CHECKPOINT")
                conn.close()
            finally:
                db.close()

        def engine_import(conn: Any) -> None:
            conn.execute(f"IMPORT DATABASE '{export}'")

        copied = False
        dropped: dict[str, int] = {}
        self.last_compaction = "export and import: the schema has what a table copy cannot rebuild"
        if plan is not None:
            try:
                rebuild(lambda conn: dropped.update(self._copy_into(conn, *plan, drop=drop)))
                copied = True
                self.last_compaction = "table by table"
            except Exception as e:  # a type the Arrow round trip does not carry: the engine's way
                self.last_compaction = f"export and import: the table copy failed: {e}"
                for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
                    if leftover.exists():
                        leftover.unlink()
        if not copied:  # not rebuildable table by table: the engine's own export and import
            if drop:
                dropped = self._delete_in_place(drop)
            shutil.rmtree(export)
            self._execute(f"EXPORT DATABASE '{export}' (format='parquet')")
            rebuild(engine_import)
        self.release_memory()
        wal = self.path.with_name(self.path.name + ".wal")
        if wal.exists():  # empty after the checkpoint; it must not be replayed on the new file
            wal.unlink()
        os.replace(fresh, self.path)
        shutil.rmtree(export)
        self._open()
        return dropped

    def _delete_in_place(self, drop: dict[str, tuple[str, list[str]]]) -> dict[str, int]:
        """``drop``'s nodes deleted with their relationships (before an export and import)."""
        out = {}
        for table, (prop, keys) in drop.items():
            q = f"MATCH (n:`{table}`) WHERE n.`{prop}` IN $keys"
            out[table] = int(self.run(f"{q} RETURN count(*) AS n", {"keys": keys})["n"][0])
            self._execute(f"{q} DETACH DELETE n", {"keys": keys})
        return out

    def _copy_plan(self, export: Path) -> tuple[list[str], list[tuple[str, Any]]] | None:
        """The DDL statements and tables (``(name, connection or None)``) to copy, or None
        when the schema has what a table-by-table copy cannot rebuild exactly."""
        schema = (export / "schema.cypher").read_text(encoding="utf-8")
        index = export / "index.cypher"
        if index.exists() and index.read_text(encoding="utf-8").strip():
            return None
        if re.search(r"\bSERIAL\b|\bSEQUENCE\b", schema, re.IGNORECASE):
            return None
        # this version's schema-only export names its own folder as the tables' storage
        schema = re.sub(r"\s*WITH \(storage = '[^']*', format = '[^']*'\)", "", schema)
        ddl = [s.strip() for s in schema.split(";\n") if s.strip()]
        tables: list[tuple[str, Any]] = []
        for name, kind in self.run("CALL show_tables() RETURN name, type").rows():
            if "`" in name or "'" in name:  # quoted below as `name` and 'name'
                return None
            if kind == "NODE":
                tables.append((name, None))
            elif kind == "REL":
                conn = self.run(f"CALL show_connection('{name}') RETURN *").rows()
                if len(conn) != 1:
                    return None
                tables.append((name, conn[0]))
            else:
                return None
        return ddl, tables

    def _copy_into(
        self,
        conn: Any,
        ddl: list[str],
        tables: list[tuple[str, Any]],
        drop: dict[str, tuple[str, list[str]]] | None = None,
    ) -> dict[str, int]:
        """Every table of this database into the empty database of ``conn``, in pages of about
        :data:`COMPACT_PAGE_ROWS` rows (nodes by offset, relationships by their source's),
        without ``drop``'s nodes and their relationships (filtered page by page with Arrow's
        hash lookup: a Cypher ``NOT IN $list`` compares with each list entry in turn); returns
        the rows left out per table."""
        import pyarrow as pa
        import pyarrow.compute as pc

        gone = {t: (p, pa.array(sorted(set(k)), pa.string())) for t, (p, k) in (drop or {}).items()}

        def keep(page: Any, column: str, table: str) -> Any:
            return pc.invert(pc.is_in(page[column], value_set=gone[table][1]))

        for statement in ddl:
            conn.execute(statement)
        counts: dict[str, int] = {}
        dropped: dict[str, int] = {}
        # node tables first: relationships need their ends
        for name, connection in sorted(tables, key=lambda t: t[1] is not None):
            props = self.run(f"CALL table_info('{name}') RETURN name")["name"].to_list()
            if connection is None:
                node = f"(n:`{name}`)"
                returns = ", ".join(f"n.`{p}` AS `{p}`" for p in props)
                count_q = f"MATCH {node} RETURN count(*) AS n, max(offset(id(n))) AS m"
                match, key = f"MATCH {node}", "n"
            else:
                src, dst, src_key, dst_key = connection[:4]
                returns = f"a.`{src_key}` AS `from`, b.`{dst_key}` AS `to`"
                returns += "".join(f", r.`{p}` AS `{p}`" for p in props)
                count_q = f"MATCH (a:`{src}`)-[r:`{name}`]->() RETURN count(*) AS n, max(offset(id(a))) AS m"
                match, key = f"MATCH (a:`{src}`)-[r:`{name}`]->(b:`{dst}`)", "a"
            stats = self.run(count_q)
            counts[name] = int(stats["n"][0])
            if not counts[name]:
                continue
            top = int(stats["m"][0]) + 1
            step = -(-top // -(-counts[name] // COMPACT_PAGE_ROWS))  # offsets per page
            for lo in range(0, top, step):
                page = self._execute(
                    f"{match} WHERE offset(id({key})) >= $lo AND offset(id({key})) < $hi "
                    f"RETURN {returns}",
                    {"lo": lo, "hi": lo + step},
                ).get_as_arrow(chunk_size=-1)
                if connection is None and name in gone:
                    mask = keep(page, gone[name][0], name)
                elif connection is not None and (src in gone or dst in gone):
                    ends = [keep(page, c, t) for c, t in (("from", src), ("to", dst)) if t in gone]
                    mask = ends[0] if len(ends) == 1 else pc.and_(*ends)
                else:
                    mask = None
                if mask is not None:
                    before = page.num_rows
                    page = page.filter(mask)
                    dropped[name] = dropped.get(name, 0) + before - page.num_rows
                if page.num_rows:
                    conn.execute(f"COPY `{name}` FROM $frame", {"frame": page})
        for name, connection in tables:  # nothing lost on the way: every table's row count
            q = (
                f"MATCH (n:`{name}`) RETURN count(*)"
                if connection is None
                else f"MATCH ()-[r:`{name}`]->() RETURN count(*)"
            )
            after = conn.execute(q).get_as_pl().item()
            if after != counts[name] - dropped.get(name, 0):
                raise StoreError(
                    f"compaction copied {after} rows of {name} where the store has "
                    f"{counts[name]} ({dropped.get(name, 0)} to leave out); the store file "
                    "was left as it was"
                )
        return {t: n for t, n in dropped.items() if t in gone}

    def _q(self, name: str, **extra: str | list[str]) -> str:
        return queries.render(name, "embedded", **{**self._names(), **extra})

    def _execute(self, query: str, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        self._trace(query, params)
        if _DDL.match(query):
            self._schema_version += 1
        elif self._schema_version:
            # LadybugDB caches a query's binding by its text, even a failed one, across schema
            # changes: after a table changes, the same text would still fail with "Cannot find
            # property". A comment naming the schema version makes the text new after each change.
            query = f"{query}\n// schema {self._schema_version}"
        if self._released:
            self._open()
        try:
            return self._conn.execute(query, params)
        except Exception as e:
            raise StoreError(f"embedded store query failed: {e}\nquery: {query.strip()}") from e

    def _transaction(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        """Run statements in one transaction: all or nothing."""
        self._execute("BEGIN TRANSACTION")
        try:
            for q, p in statements:
                self._execute(q, p)
        except BaseException:
            # A failed statement may already have rolled the transaction back.
            with contextlib.suppress(Exception):
                self._conn.execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    def run(
        self, query: str, parameters: dict[str, Any] | None = None, *, read_only: bool = False
    ) -> pl.DataFrame:
        """Rows of ``query``. LadybugDB has no read-only transactions on a writable database:
        ``read_only`` refuses statements with write clauses here, and a store opened with
        ``read_only=True`` is read-only in the engine itself."""
        if read_only:  # a read-only database still runs COPY ... TO and LOAD FROM
            from graphsona.queries.library import write_clauses

            found = write_clauses(query)
            if found:
                raise StoreError(f"read-only query contains write clauses: {', '.join(found)}")
        result = self._execute(query, parameters)
        if isinstance(result, list):  # several statements: rows of the last one
            result = result[-1]
        frame: pl.DataFrame = result.get_as_pl()
        return frame

    def close(self) -> None:
        self.release_memory()

    def counts(self) -> dict[str, int]:
        row = self.run(self._q("counts")).row(0, named=True)
        return {k: int(v) for k, v in row.items()}

    def clear(self) -> None:
        self._execute(self._q("clear"))

    def _columns(self, table: str) -> dict[str, str]:
        info = self.run(self._q("table_info", table=table))
        return dict(zip(info["name"].to_list(), info["type"].to_list(), strict=True))

    def _add_columns(self, table: str, frame: pl.DataFrame) -> None:
        have = self._columns(table)
        for name, dtype in frame.schema.items():
            want = column_type(dtype)
            if name in have:
                if have[name] != want and not (
                    want in ("DOUBLE[]", "INT64[]") and have[name].startswith("FLOAT[")
                ):
                    raise StoreError(
                        f"{table}.{name} is stored as {have[name]}; cannot write a {want} column "
                        "(choose another property name)"
                    )
                continue
            self._execute(self._q("add_column", table=table, column=name, type=want))

    def _has_post_images(self) -> bool:
        return "images" in self._columns(self._names()["post_label"])

    def _ensure_schema(self, users: pl.DataFrame) -> None:
        self._add_columns(self.mapping.user_label, _for_table(users.drop("user_id")))

    def _keys(self, label: str, key: str) -> pl.Series:
        return self.run(self._q("node_keys", label=label, key=key))["key"]

    def _copy(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self._transaction([(self._q("copy_table", table=table), {"frame": frame})])

    # Loads upsert by key: rows whose key is new are bulk-copied (COPY works on non-empty
    # tables); rows already present get their properties updated, edges only where a value
    # changed. So the first load is a pure COPY and reloading the same data writes ~nothing.

    def _load_users(self, users: pl.DataFrame, batch_size: int) -> None:
        label = self.mapping.user_label
        frame = _for_table(users)
        existing = self._keys(label, self.mapping.user_id).implode()
        new = frame.filter(~pl.col("user_id").is_in(existing))
        cols = self._columns(label)
        self._copy(
            label,
            new.select([pl.col(c) if c in new.columns else pl.lit(None).alias(c) for c in cols]),
        )
        old = frame.filter(pl.col("user_id").is_in(existing))
        props = [c for c in frame.columns if c != "user_id"]
        if old.height and props:
            q = self._q("write_user_properties", columns=props)
            for start in range(0, old.height, batch_size):
                self._transaction([(q, {"frame": old.slice(start, batch_size)})])

    def _load_posts(self, posts: pl.DataFrame, batch_size: int) -> None:
        frame = _for_table(posts)
        label = self.mapping.post_label or "Post"
        existing = self._keys(label, self.mapping.post_id).implode()
        new = frame.filter(~pl.col("post_id").is_in(existing))
        if new.height:
            # COPY wants every column of the table, in order: after a profile run the posts
            # also carry its results (sentiment, topic_id, classifier labels), null for new posts
            cols = self._columns(label)
            rows = new.select(
                [pl.col(c) if c in new.columns else pl.lit(None).alias(c) for c in cols]
            )
            self._transaction(
                [
                    (self._q("copy_table", table=label), {"frame": rows}),
                    (
                        self._q("copy_table", table=self.mapping.post_rel),
                        {"frame": new.select("user_id", "post_id")},
                    ),
                ]
            )
        old = frame.filter(pl.col("post_id").is_in(existing))
        for start in range(0, old.height, batch_size):
            self._transaction([(self._q("update_posts"), {"frame": old.slice(start, batch_size)})])

    def _load_follows(self, follows: pl.DataFrame, batch_size: int) -> None:
        self._load_edges(
            self.mapping.follows[0], _for_table(follows), ["src", "dst"], "follows", batch_size
        )

    def _load_interactions(self, interactions: pl.DataFrame, batch_size: int) -> None:
        rel = self.mapping.interaction_type or "INTERACTS"
        self._load_edges(
            rel, _for_table(interactions), ["src", "dst", "kind"], "interactions", batch_size
        )

    def _load_edges(
        self, rel: str, frame: pl.DataFrame, keys: list[str], what: str, batch_size: int
    ) -> None:
        if frame.height == 0:
            return
        sources = frame["src"].unique()
        if sources.len() <= SOURCES_READ_MAX:
            # an update's links: only their sources' existing links (at 100k users, 25k new
            # follows from 9k users read in 0.2 s instead of all 1.3M follows in 2.5 s)
            existing = self.run(
                self._q(f"read_{what}_from", rel=rel), {"sources": sources.to_list()}
            )
        else:
            existing = self.run(self._q(f"read_{what}_full", rel=rel))
        self._copy(rel, frame.join(existing.select(keys), on=keys, how="anti"))
        props = [c for c in frame.columns if c not in keys]
        both = frame.join(existing, on=keys, how="inner", suffix="__old")
        # An unknown time (a file without created_at) keeps the time already stored.
        both = both.with_columns(
            pl.coalesce(c, f"{c}__old").alias(c)
            for c in props
            if isinstance(frame.schema[c], pl.Datetime)
        )
        changed = both.filter(
            pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}__old")) for c in props])
        ).select(frame.columns)
        q = self._q(f"update_{what}")
        for start in range(0, changed.height, batch_size):
            self._transaction([(q, {"frame": changed.slice(start, batch_size)})])

    # ------------------------------------------------------------------ read hooks
    def _batches(
        self, query: str, batch_size: int, params: dict[str, Any] | None = None
    ) -> Iterator[pl.DataFrame]:
        table = self._execute(query, params).get_as_arrow(chunk_size=batch_size)
        for batch in table.to_batches(max_chunksize=batch_size):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame

    def _vector_tables(self) -> dict[str, str]:
        """Property name -> side table name, for this store's user label."""
        prefix = f"{self.mapping.user_label}__"
        names = self.run(self._q("show_tables")).filter(pl.col("type") == "NODE")["name"].to_list()
        return {n[len(prefix) :]: n for n in names if n.startswith(prefix)}

    def _iter_users(self, batch_size: int) -> Iterator[pl.DataFrame]:
        vectors = {
            prop: self.run(self._q("read_vector_table", table=table)).rename({"value": prop})
            for prop, table in self._vector_tables().items()
        }
        for frame in self._batches(self._q("read_users"), batch_size):
            frame = frame.rename({c: c.split(".", 1)[1] for c in frame.columns})
            frame = (
                frame.rename({self.mapping.user_id: "user_id"})
                if self.mapping.user_id != "user_id"
                else frame
            )
            frame = frame.with_columns(pl.col(pl.Datetime).dt.replace_time_zone("UTC"))
            for vec in vectors.values():
                frame = frame.join(vec, on="user_id", how="left", maintain_order="left")
            yield frame.select("user_id", *sorted(c for c in frame.columns if c != "user_id"))

    def _iter_posts(self, batch_size: int) -> Iterator[pl.DataFrame]:
        for frame in self._batches(self._q("read_posts_out"), batch_size):
            yield frame.with_columns(
                pl.col("created_at").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIME)
            )

    def _iter_follows_timed(self, rel: str, batch_size: int) -> Iterator[pl.DataFrame]:
        for frame in self._batches(self._q("read_follows_timed", rel=rel), batch_size):
            yield frame.with_columns(
                pl.col("created_at").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIME)
            )

    def _iter_edges(self, rel: str, kind: str | None, batch_size: int) -> Iterator[pl.DataFrame]:
        if kind is None:
            yield from self._batches(self._q("read_follows", rel=rel), batch_size)
            return
        for frame in self._batches(self._q("read_interactions", rel=rel), batch_size):
            frame = frame.with_columns(
                pl.col("created_at").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIME)
            )
            yield frame if kind == "" else frame.with_columns(pl.lit(kind).alias("kind"))

    # ------------------------------------------------------------------ write-back hooks
    def _prepare_user_properties(self, sample: pl.DataFrame) -> None:
        self._writing_rows = sample.height  # the whole write's rows (see _update_vectors)
        frame = _vectors_fixed(sample, self._columns(self.mapping.user_label))
        scalars = [c for c, t in frame.schema.items() if not isinstance(t, pl.Array)]
        self._add_columns(self.mapping.user_label, frame.select(scalars))
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Array):
                self._vector_table(name, dtype.size)

    def _vector_table(self, prop: str, dimensions: int) -> str:
        table = f"{self.mapping.user_label}__{prop}"
        self._execute(self._q("create_vector_table", table=table, dimensions=str(dimensions)))
        have = self._columns(table).get("value")
        if have != f"FLOAT[{dimensions}]":
            raise StoreError(
                f"{prop!r} is stored with type {have}; cannot write FLOAT[{dimensions}] vectors"
            )
        return table

    def _write_user_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        frame = _for_table(_vectors_fixed(batch, self._columns(self.mapping.user_label)))
        vectors = [c for c in columns if isinstance(frame.schema[c], pl.Array)]
        scalars = [c for c in columns if c not in vectors]
        if scalars:
            q = self._q("write_user_properties", columns=scalars)
            self._transaction([(q, {"frame": frame.select("user_id", *scalars)})])
        if not vectors:
            return
        ids = frame.select("user_id")
        known = self.run(
            self._q("keys_in_frame", label=self.mapping.user_label, key=self.mapping.user_id),
            {"frame": ids},
        )["key"]
        frame = frame.filter(pl.col("user_id").is_in(known.implode()))  # unknown ids are ignored
        for prop in vectors:
            size = frame.schema[prop].size  # type: ignore[attr-defined]
            table = self._vector_table(prop, size)
            rows = frame.select("user_id", pl.col(prop).alias("value"))
            present = self.run(
                self._q("keys_in_frame", label=table, key="user_id"),
                {"frame": rows.select("user_id")},
            )["key"].implode()
            self._copy(table, rows.filter(~pl.col("user_id").is_in(present)))
            update = rows.filter(pl.col("user_id").is_in(present))
            if update.height:
                self._update_vectors(table, update)

    def _update_vectors(self, table: str, rows: pl.DataFrame) -> None:
        """New values for vector rows that exist (``user_id, value``).

        A few rows (up to :data:`VECTOR_APPEND_SHARE` of the table: an update's or a stream
        micro-batch's changed profiles) are deleted and appended again, in one transaction.
        Setting them in place made LadybugDB's next checkpoint rewrite the whole vector
        column: 0.55 s at 38k users whether 300 or 3,000 rows changed, the largest single
        cost of a stream's micro-batch; deleting and appending 3,000 rows and the checkpoint
        after it take 0.23 s. Deleted rows keep their slots in the file, so once the table
        holds more dead slots than live rows it is rebuilt (:meth:`_rebuild_vector_table`).
        A larger write (a full run's, counted over all its batches) sets them in place, 500
        per transaction (in-place updates slow down with transaction size)."""
        live, slots = self.run(self._q("vector_slots", table=table)).row(0)
        # the share is the whole write's (write_user_properties writes in batches): a full
        # run's rewrite of every vector stays in place, batch after batch
        if max(rows.height, self._writing_rows) > VECTOR_APPEND_SHARE * live:
            q = self._q("write_vectors", table=table)
            for start in range(0, rows.height, VECTOR_ROWS_PER_TX):
                self._transaction([(q, {"frame": rows.slice(start, VECTOR_ROWS_PER_TX)})])
            return
        self._transaction(
            [
                (self._q("delete_vectors", table=table), {"frame": rows.select("user_id")}),
                (self._q("append_vectors", table=table), {"frame": rows}),
            ]
        )
        if slots + rows.height - live > live:
            self._rebuild_vector_table(table)

    def _rebuild_vector_table(self, table: str) -> None:
        """The vector table written afresh with its live rows only (drop, create, copy: one
        transaction, so a crash keeps the old table); the dead rows' pages become free for
        the file to reuse."""
        live = self._execute(self._q("read_vector_table", table=table)).get_as_arrow(chunk_size=-1)
        dimensions = self._columns(table)["value"].removeprefix("FLOAT[").removesuffix("]")
        self._transaction(
            [
                (self._q("drop_table", table=table), {}),
                (self._q("create_vector_table", table=table, dimensions=dimensions), {}),
                (self._q("copy_table", table=table), {"frame": live}),
            ]
        )

    def _prepare_communities(self, sample: pl.DataFrame) -> None:
        label = self.mapping.community_label
        self._add_columns(label, _vectors_fixed(sample, self._columns(label)))

    def _write_community_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        q = (
            self._q("write_communities", columns=columns)
            if columns
            else self._q("write_communities_ids_only")
        )
        self._transaction([(q, {"frame": _for_table(batch)})])

    def _prepare_recommendations(self) -> None:
        self._execute(self._q("create_recommended"))

    def _replace_recommendations(self, users: list[str], rows: pl.DataFrame) -> None:
        self._transaction(
            [
                (self._q("unrecommend"), {"users": users}),
                (self._q("copy_table", table=self.mapping.recommended_rel), {"frame": rows}),
            ]
        )

    def _write_membership_batch(self, batch: pl.DataFrame) -> None:
        # Delete the batch's links, then bulk-COPY the new ones, in one transaction. (A MERGE
        # per link made LadybugDB exhaust its buffer pool: 50k users failed with a 256 MB pool,
        # 1M users with 6 GB.)
        self._transaction(
            [
                (self._q("unlink_users_memberships"), {"users": batch["user_id"].to_list()}),
                (
                    self._q("copy_table", table=self.mapping.membership_rel),
                    {"frame": _for_table(batch.select("user_id", "community_id"))},
                ),
            ]
        )

    def _prepare_post_properties(self, sample: pl.DataFrame) -> None:
        self._add_columns(self._names()["post_label"], _for_table(sample))

    def _write_post_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        q = self._q("write_post_properties", columns=columns)
        self._transaction([(q, {"frame": _for_table(batch.select("post_id", *columns))})])

    def _replace_nodes(
        self,
        label: str,
        key: str,
        frame: pl.DataFrame,
        columns: list[str],
        *,
        drop_missing: bool = True,
    ) -> None:
        frame = _for_table(frame)
        key_type = column_type(frame.schema[key])
        self._execute(self._q("create_node_table", table=label, key=key, type=key_type))
        self._add_columns(label, frame.select(columns))
        q = (
            self._q("write_nodes", table=label, key=key, columns=columns)
            if columns
            else self._q("write_nodes_keys_only", table=label, key=key)
        )
        statements: list[tuple[str, dict[str, Any]]] = (
            [(q, {"frame": frame})] if frame.height else []
        )
        if drop_missing:
            statements.append(
                (self._q("drop_stale_nodes", table=label, key=key), {"keep": frame[key].to_list()})
            )
        if statements:
            self._transaction(statements)

    def _clear_links(self, rel: str, label: str) -> None:
        self._execute(self._q("create_about"))
        while int(self.run(self._q("clear_links", rel=rel, label=label))["n"][0]):
            pass

    def _unlink_posts(self, rel: str, label: str, post_ids: list[str]) -> None:
        self._execute(self._q("create_about"))
        self._execute(self._q("unlink_posts", rel=rel, label=label), {"posts": post_ids})

    def _write_about_batch(self, batch: pl.DataFrame) -> None:
        self._transaction([(self._q("copy_table", table=self.mapping.about_rel), {"frame": batch})])

    def _read_topics(self) -> pl.DataFrame:
        return self.run(self._q("read_topics"))

    def _drop_stale_communities(self, keep: list[int]) -> None:
        self._execute(self._q("drop_stale_communities"), {"keep": keep})

    # ------------------------------------------------------------------ vectors
    def create_vector_index(self, property: str, dimensions: int, name: str | None = None) -> str:
        """Return the name :meth:`vector_search` takes: the property's side table.

        There is no approximate index on the embedded store (LadybugDB's vector extension
        downloads at run time); search is an exact scan in numpy.
        """
        return self._vector_table(property, dimensions)

    def vector_search(self, index: str, vector: list[float], k: int = 10) -> pl.DataFrame:
        """Exact cosine top-``k`` over the vectors in ``index`` (from :meth:`create_vector_index`)."""
        frame = self.run(self._q("read_vector_table", table=index)).drop_nulls("value")
        if frame.height == 0:
            return pl.DataFrame(schema={"user_id": pl.String, "score": pl.Float64})
        mat = frame["value"].to_numpy().astype(np.float32)
        q = np.asarray(vector, dtype=np.float32)
        sims = (mat @ q) / (np.linalg.norm(mat, axis=1) * np.linalg.norm(q) + 1e-12)
        top = np.argsort(-sims, kind="stable")[:k]
        return pl.DataFrame(
            {"user_id": frame["user_id"].gather(top), "score": sims[top].astype(np.float64)}
        )


#: Aggregates whose length varies by row (the top topics of a community or a user and their
#: shares): always stored as lists. A first write whose rows all happen to have one length
#: (every community with five topics) must not fix the column as FLOAT[5]: the next row with
#: fewer could then not be written (a stream's update failed so: "Unsupported casting LIST
#: with incorrect list entry to ARRAY. Expected: 5, Actual: 1").
LIST_PROPERTIES = frozenset({"top_topics", "topic_shares"})


def _vectors_fixed(frame: pl.DataFrame, stored: dict[str, str] | None = None) -> pl.DataFrame:
    """Lists of floats with one common length become Array(Float32, d) (stored as FLOAT[d]),
    except :data:`LIST_PROPERTIES` and where ``stored`` (the table's column types) already
    holds the column as a list: a few rows of a list column (an update's changed rows) can all
    have one length by chance."""
    out = []
    stored = stored or {}
    for name, dtype in frame.schema.items():
        as_list = stored.get(name, "").endswith("[]") or name in LIST_PROPERTIES
        if isinstance(dtype, pl.List) and dtype.inner.is_numeric() and not as_list:
            lengths = frame[name].list.len().drop_nulls().unique()
            if lengths.len() == 1 and int(lengths[0]) > 0:  # FLOAT[0] is no type
                out.append(pl.col(name).cast(pl.List(pl.Float32)).list.to_array(int(lengths[0])))
                continue
        out.append(pl.col(name))
    return frame.select(out)
