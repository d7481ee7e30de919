"""Neo4j store: the driver is passed in; writes are batched ``UNWIND`` in managed transactions.

Managed transactions (``session.execute_write``) retry transient errors (deadlocks, leader
switches) automatically. Every label, type and property name comes from the validated
:class:`~graphsona.graph.mapping.SchemaMapping` through :func:`graphsona.queries.render`;
values are always parameters.

Example:
    >>> import neo4j                                                    # doctest: +SKIP
    >>> driver = neo4j.GraphDatabase.driver("bolt://localhost:7687", auth=("neo4j", "pw"))
    >>> store = Neo4jStore(driver, database="neo4j")                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import polars as pl
from graphsona import queries
from graphsona._ident import IDENTIFIER
from graphsona.errors import ConfigError, MissingDependencyError, StoreError
from graphsona.graph._base import TIME, GraphStore, Tracer
from graphsona.graph._uri import redact, remember_secret, split_userinfo
from graphsona.graph.mapping import SchemaMapping
from graphsona.loaders.dataset import Dataset

__all__ = ["Neo4jStore", "driver_from_env"]


# Opening a store fails fast: a refused port or an unknown host fails at once; a silent one
# within _ACQUIRE_TIMEOUT_S (the driver bounds the Bolt handshake by the acquisition timeout,
# the TCP connect by _CONNECT_TIMEOUT_S; measured: 8 s on a port that accepts and never answers).
# Transient errors during work (deadlocks, leader switches, a restarting server) are still
# retried, for _RETRY_TIME_S (driver default 30 s).
_CONNECT_TIMEOUT_S = 5.0
_ACQUIRE_TIMEOUT_S = 8.0
_RETRY_TIME_S = 15.0
_UNREACHABLE = ("connection refused", "host not found", "connection timed out")


def driver_from_env(uri: str | None = None, *, verify: bool = True) -> Any:
    """A driver from ``uri`` (else ``NEO4J_URI``), ``NEO4J_USERNAME`` and ``NEO4J_PASSWORD``.

    Decisions:

    * ``user:password@`` in the URI is accepted and overrides ``NEO4J_USERNAME`` /
      ``NEO4J_PASSWORD`` (the driver itself refuses it): it is stripped from the URI and passed as
      ``auth``. A user without a password takes ``NEO4J_PASSWORD``; no password at all: no auth.
    * The driver is opened with short connection timeouts and, with ``verify`` (the default, the
      path ``open_store`` takes), checked with ``verify_connectivity()`` while the ``neo4j``
      logger is silenced, so an unreachable server fails in seconds with one
      :class:`~graphsona.errors.StoreError` line (wrong credentials, refused connection, unknown
      host, ``neo4j://`` without routing) instead of a minute of retry warnings.
    * No error message contains a password (:func:`graphsona.graph._uri.redact`); URIs in
      messages are shown without their userinfo.
    * ``Neo4jStore(driver)`` with your own driver is not touched by any of this.
    """
    try:
        import neo4j
    except ImportError as e:  # pragma: no cover - neo4j is a core dependency
        raise MissingDependencyError("the Neo4j store needs the driver: pip install neo4j") from e
    uri = uri or os.environ.get("NEO4J_URI")
    if not uri:
        raise ConfigError("no Neo4j URI: pass one (neo4j://host:7687) or set NEO4J_URI")
    bare, uri_user, uri_password = split_userinfo(uri)
    remember_secret(uri_password)
    user = uri_user or os.environ.get("NEO4J_USERNAME")
    password = uri_password if uri_password is not None else os.environ.get("NEO4J_PASSWORD")
    auth = (user or "neo4j", password) if password else None
    try:
        driver = neo4j.GraphDatabase.driver(
            bare,
            auth=auth,
            connection_timeout=_CONNECT_TIMEOUT_S,
            connection_acquisition_timeout=_ACQUIRE_TIMEOUT_S,
            max_transaction_retry_time=_RETRY_TIME_S,
        )
    except (neo4j.exceptions.ConfigurationError, ValueError) as e:
        raise ConfigError(f"invalid Neo4j URI {redact(bare)}: {_first_line(e)}") from None
    if verify:
        logger = logging.getLogger("neo4j")
        level = logger.level
        logger.setLevel(logging.CRITICAL)  # no "Unable to retrieve routing information" lines
        try:
            driver.verify_connectivity()
        except Exception as e:
            driver.close()
            raise StoreError(
                connect_error_message(bare, e, from_uri=uri_password is not None)
            ) from None
        finally:
            logger.setLevel(level)
    return driver


def _first_line(e: BaseException) -> str:
    lines = redact(str(e)).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _reasons(e: BaseException) -> Iterator[str]:
    """The texts of ``e``, its causes and (exception group) members, outermost first."""
    seen: set[int] = set()
    todo: list[BaseException] = [e]
    while todo:
        x = todo.pop(0)
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield str(x)
        todo.extend(getattr(x, "exceptions", ()))
        todo.extend(c for c in (x.__cause__, x.__context__) if c is not None)


def connect_error_message(uri: str, e: BaseException, *, from_uri: bool = False) -> str:
    """One redacted line saying why the Neo4j at ``uri`` could not be opened.

    Wrong credentials name where they came from; a refused port, an unknown host or a timeout say
    so; any other failure of a ``neo4j://`` URI (typically "Unable to retrieve routing
    information": a server that does not route, or advertises an address you cannot reach) adds
    the hint to use ``bolt://`` for a single server.
    """
    uri = redact(split_userinfo(uri)[0])
    if any(c.__name__ == "AuthError" for c in type(e).__mro__):
        where = "user:password in the URI" if from_uri else "NEO4J_USERNAME/NEO4J_PASSWORD"
        return f"Neo4j at {uri} refused the credentials ({where})"
    texts = " | ".join(_reasons(e))
    if "Connection refused" in texts:
        reason = _UNREACHABLE[0]
    elif "DNS resolve" in texts or "Name or service not known" in texts:
        reason = _UNREACHABLE[1]
    elif "timed out" in texts.lower():
        reason = _UNREACHABLE[2]
    elif "looks like HTTP" in texts:
        reason = "that port speaks HTTP, not Bolt; Neo4j's Bolt port is usually 7687"
    else:
        reason = _first_line(e)
    message = (
        f"cannot reach Neo4j at {uri} ({reason}); is the server running? (set --store or NEO4J_URI)"
    )
    if uri.startswith("neo4j") and reason not in _UNREACHABLE:
        single = "bolt" + uri[len("neo4j") :]
        message += (
            f"; neo4j:// needs routing information from the server: "
            f"for a single server use {single}"
        )
    return message


class _Rows(list[Any]):
    """A parameter list with a short ``repr``.

    The Python driver (6.x) builds ``repr`` of every query parameter for a debug log line even
    when debug logging is off; for a batch of 10k rows with 128-float vectors that took 85% of
    the client's time (measured: 14.6k rows/s sent, 84k rows/s with this wrapper). The packer
    still sees a plain list.
    """

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def _to_native(value: Any) -> Any:
    to_native = getattr(value, "to_native", None)
    return to_native() if to_native is not None else value


def _times(values: list[Any]) -> pl.Series:
    """Neo4j DateTime / ISO text / epoch seconds -> Datetime(us, UTC); anything else -> null."""
    out: list[datetime | None] = []
    for v in values:
        v = _to_native(v)
        if isinstance(v, datetime):
            out.append(v if v.tzinfo else v.replace(tzinfo=UTC))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(datetime.fromtimestamp(v, tz=UTC))
        elif isinstance(v, str):
            try:
                t = datetime.fromisoformat(v.replace("Z", "+00:00"))
                out.append(t if t.tzinfo else t.replace(tzinfo=UTC))
            except ValueError:
                out.append(None)
        else:
            out.append(None)
    if not any(t is not None for t in out):
        return pl.Series("created_at", [None] * len(values), dtype=TIME)
    return pl.Series("created_at", out).dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _epoch_time(col: str) -> pl.Expr:
    """Epoch seconds (-1 = unknown) -> Datetime(us, UTC) or null."""
    return (
        pl.when(pl.col(col) >= 0)
        .then(pl.from_epoch(col, "s"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
    )


class Neo4jStore(GraphStore):
    """A :class:`GraphStore` on a Neo4j database reached through ``driver``."""

    dialect = "neo4j"

    def __init__(
        self,
        driver: Any,
        database: str | None = None,
        mapping: SchemaMapping | None = None,
        tracer: Tracer | None = None,
        owns_driver: bool = False,
    ) -> None:
        super().__init__(mapping, tracer)
        self.driver = driver
        self.database = database or os.environ.get("NEO4J_DATABASE") or None
        self._owns_driver = owns_driver
        # the address it was opened from (credentials from the environment), when known: lets
        # other processes open their own connection (graphsona.scale's partitioned write-back)
        self.uri: str | None = None
        self._range: dict[str, str | None] = {"lo": None, "hi": None}
        self._pipe: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None

    @contextlib.contextmanager
    def only_users(self, lo: str | None, hi: str | None) -> Iterator[None]:
        """Within the block, reads of posts, follows and interactions return only those of
        users (authors, sources) with ``lo <= user_id < hi`` (``None``: no bound): one range
        per Ray worker (:mod:`graphsona.scale.neo4j`)."""
        before = self._range
        self._range = {"lo": lo, "hi": hi}
        try:
            yield
        finally:
            self._range = before

    # ------------------------------------------------------------------ plumbing
    def _q(self, name: str, **extra: str) -> str:
        return queries.render(name, "neo4j", **{**self._names(), **extra})

    def locator(self) -> str:
        """``neo4j@host:port/database`` (no credentials): names the store in messages and keys
        its job lock."""
        from graphsona.graph.lock import neo4j_locator

        address = getattr(getattr(self.driver, "_pool", None), "address", None)
        if isinstance(address, tuple) and len(address) >= 2:
            return neo4j_locator(str(address[0]), int(address[1]), self.database)
        return neo4j_locator("?", None, self.database)

    def _write(self, query: str, **params: Any) -> None:
        """Run one write transaction; inside :meth:`_pipelined`, in a background thread."""
        self._trace(query, params)
        params = {k: _Rows(v) if isinstance(v, list) else v for k, v in params.items()}
        if self._pipe is None:
            self._write_now(query, params)
            return
        self._drain()  # at most one transaction in flight: batches commit in order
        self._inflight = self._pipe.submit(self._write_now, query, params)

    def _write_now(self, query: str, params: dict[str, Any]) -> None:
        def work(tx: Any) -> None:
            tx.run(query, **params).consume()

        try:
            with self.driver.session(database=self.database) as s:
                s.execute_write(work)
        except Exception as e:
            raise StoreError(f"Neo4j write failed: {e}") from e

    def _drain(self) -> None:
        if self._inflight is not None:
            future, self._inflight = self._inflight, None
            future.result()

    @contextlib.contextmanager
    def _pipelined(self) -> Iterator[None]:
        """Prepare the next batch (polars -> rows) while the server commits the previous one.

        Measured here: the client spends about a third of a write-back turning frames into
        rows, time the server would otherwise wait for. Order and idempotency are unchanged:
        one transaction in flight, each waited for before the next is sent and before return.
        """
        if self._pipe is not None:
            yield
            return
        self._pipe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphsona-neo4j")
        try:
            yield
        finally:
            try:
                self._drain()
            finally:
                self._pipe.shutdown(wait=True)
                self._pipe = None

    def load(
        self, dataset: Dataset, *, batch_size: int = 10_000, source: str | None = None
    ) -> dict[str, int]:
        with self._pipelined():
            return super().load(dataset, batch_size=batch_size, source=source)

    def write_user_properties(self, frame: pl.DataFrame, *, batch_size: int = 10_000) -> int:
        with self._pipelined():
            return super().write_user_properties(frame, batch_size=batch_size)

    def write_communities(
        self,
        communities: pl.DataFrame,
        memberships: pl.DataFrame,
        *,
        batch_size: int = 10_000,
        keep: list[int] | None = None,
    ) -> None:
        with self._pipelined():
            super().write_communities(communities, memberships, batch_size=batch_size, keep=keep)

    def _stream(self, query: str, fetch: int, **params: Any) -> Iterator[list[Any]]:
        """Yield lists of records of at most ``fetch`` rows from one auto-commit read."""
        self._drain()
        self._trace(query, params)
        try:
            with self.driver.session(database=self.database, fetch_size=fetch) as s:
                result = s.run(query, **params)
                buf: list[Any] = []
                for rec in result:
                    buf.append(rec)
                    if len(buf) >= fetch:
                        yield buf
                        buf = []
                if buf:
                    yield buf
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(f"Neo4j read failed: {e}") from e

    def run(
        self, query: str, parameters: dict[str, Any] | None = None, *, read_only: bool = False
    ) -> pl.DataFrame:
        """Rows of ``query``; ``read_only`` runs it in a READ transaction (the server refuses
        writes there) after refusing clauses and procedures that are not read-only (a GDS
        projection, for one, runs even in a READ transaction)."""
        if read_only:
            from graphsona.queries.library import refused_clauses

            found = refused_clauses(query)
            if found:
                raise StoreError(f"read-only query contains write clauses: {', '.join(found)}")
        self._drain()  # reads see every write sent before them
        params = parameters or {}
        self._trace(query, params)
        try:
            records, _, keys = self.driver.execute_query(
                query, params, database_=self.database, routing_="r" if read_only else "w"
            )
        except Exception as e:
            raise StoreError(f"Neo4j query failed: {e}") from e
        rows = [{k: _to_native(r[k]) for k in keys} for r in records]
        return (
            pl.DataFrame(rows, schema=list(keys), orient="row")
            if rows
            else pl.DataFrame(schema=list(keys))
        )

    def close(self) -> None:
        if self._owns_driver:
            self.driver.close()

    def counts(self) -> dict[str, int]:
        row = self.run(self._q("counts")).row(0, named=True)
        return {k: int(v) for k, v in row.items()}

    def link_counts(self) -> dict[str, int]:
        """From Neo4j's count store (constant time; :meth:`counts` checks both ends' labels and
        scans every link: 0.4 s at 20k users). Exact for graphsona's own schema, where these
        relationships only join users; a mapped graph may count other links too."""
        if not self.mapping.is_native:
            return super().link_counts()
        n = self._names()
        out = {}
        for key, query in (
            ("users", f"MATCH (u:`{n['user_label']}`) RETURN count(u) AS n"),
            ("follows", f"MATCH ()-[r:`{n['follows']}`]->() RETURN count(r) AS n"),
            ("interactions", f"MATCH ()-[r:`{n['interacts']}`]->() RETURN count(r) AS n"),
        ):
            out[key] = int(self.run(query, read_only=True)["n"][0])
        return out

    def clear(self) -> None:
        self._trace("clear", {})
        with self.driver.session(database=self.database) as s:
            s.run(self._q("clear")).consume()
            for rec in s.run("SHOW VECTOR INDEXES YIELD name RETURN name"):
                if IDENTIFIER.fullmatch(rec["name"]):
                    s.run(self._q("drop_index", index=rec["name"])).consume()

    # ------------------------------------------------------------------ load hooks
    def _ensure_schema(self, users: pl.DataFrame) -> None:
        for name in ("constraint_user", "constraint_post", "constraint_community"):
            self._write(self._q(name))

    def _batches(self, frame: pl.DataFrame, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, frame.height, batch_size):
            yield frame.slice(start, batch_size).to_dicts()

    def _load_users(self, users: pl.DataFrame, batch_size: int) -> None:
        props = [c for c in users.columns if c != "user_id"]
        q = self._q("load_users")
        frame = users.select(
            pl.col("user_id").alias("id"),
            pl.struct(props).alias("props") if props else pl.lit({}).alias("props"),
        )
        self._write_batches(q, frame, batch_size)

    def _write_batches(self, query: str, frame: pl.DataFrame, batch_size: int) -> None:
        for rows in self._batches(frame, batch_size):
            self._write(query, rows=rows)

    def _load_posts(self, posts: pl.DataFrame, batch_size: int) -> None:
        self._write_batches(self._q("load_posts"), posts, batch_size)

    def _load_follows(self, follows: pl.DataFrame, batch_size: int) -> None:
        self._write_batches(self._q("load_follows"), follows, batch_size)

    def _load_interactions(self, interactions: pl.DataFrame, batch_size: int) -> None:
        self._write_batches(self._q("load_interactions"), interactions, batch_size)

    # ------------------------------------------------------------------ read hooks
    def _iter_users(self, batch_size: int) -> Iterator[pl.DataFrame]:
        for recs in self._stream(self._q("read_users"), batch_size):
            rows = []
            for r in recs:
                props = {k: _to_native(v) for k, v in r["props"].items()}
                props.pop(self.mapping.user_id, None)
                rows.append({"user_id": str(r["user_id"]), **props})
            yield pl.DataFrame(rows, infer_schema_length=None).select(
                "user_id", *sorted(c for c in {k for row in rows for k in row} if c != "user_id")
            )

    def _iter_posts(self, batch_size: int) -> Iterator[pl.DataFrame]:
        name = "read_posts_out" if self.mapping.post_rel_outgoing else "read_posts_in"
        for recs in self._stream(self._q(name), batch_size, **self._range):
            cols = list(zip(*(r.values() for r in recs), strict=True))
            yield pl.DataFrame(
                {
                    "post_id": pl.Series(cols[0], dtype=pl.String),
                    "user_id": pl.Series(cols[1], dtype=pl.String),
                    "text": pl.Series(cols[2], dtype=pl.String),
                    "created_at": _times(list(cols[3])),
                    "lang": pl.Series(cols[4], dtype=pl.String),
                }
            )

    def _iter_follows_timed(self, rel: str, batch_size: int) -> Iterator[pl.DataFrame]:
        q = self._q("read_follows_timed", rel=rel)
        for recs in self._stream(q, max(1, batch_size // 20), **self._range):
            frame = pl.DataFrame(
                {
                    "src": [r[0] for r in recs],
                    "dst": [r[1] for r in recs],
                    "t": [r[2] for r in recs],
                },
                schema={"src": pl.String, "dst": pl.List(pl.String), "t": pl.List(pl.Int64)},
            )
            yield (
                frame.explode("dst", "t")
                .with_columns(_epoch_time("t").alias("created_at"))
                .drop("t")
            )

    def _iter_edges(self, rel: str, kind: str | None, batch_size: int) -> Iterator[pl.DataFrame]:
        params: dict[str, Any]
        if kind is None:
            q, params = self._q("read_follows", rel=rel), {}
        elif kind == "":
            q, params = self._q("read_interactions", rel=rel), {}
        else:
            q, params = self._q("read_interactions_fixed_kind", rel=rel), {"kind": kind}
        # Records are grouped per source user: size fetches so a batch holds ~batch_size edges.
        for recs in self._stream(q, max(1, batch_size // 20), **params, **self._range):
            src = [r[0] for r in recs]
            dsts = [r[1] for r in recs]
            frame = pl.DataFrame(
                {"src": src, "dst": dsts}, schema={"src": pl.String, "dst": pl.List(pl.String)}
            )
            if kind is None:
                yield frame.explode("dst")
            else:
                frame = frame.with_columns(
                    pl.Series("kind", [r[2] for r in recs], dtype=pl.List(pl.String)),
                    pl.Series("weight", [r[3] for r in recs], dtype=pl.List(pl.Float64)),
                    pl.Series("t", [r[4] for r in recs], dtype=pl.List(pl.Int64)),
                )
                yield (
                    frame.explode("dst", "kind", "weight", "t")
                    .with_columns(_epoch_time("t").alias("created_at"))
                    .drop("t")
                )

    # ------------------------------------------------------------------ write-back hooks
    def _prepare_user_properties(self, sample: pl.DataFrame) -> None:
        return None  # Neo4j is schema-free: nothing to declare

    def _write_user_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        frame = batch.select(pl.col("user_id").alias("id"), pl.struct(columns).alias("props"))
        self._write(self._q("write_user_properties"), rows=frame.to_dicts())

    def _prepare_communities(self, sample: pl.DataFrame) -> None:
        self._write(self._q("constraint_community"))

    def _write_community_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        props = pl.struct(columns).alias("props") if columns else pl.lit({}).alias("props")
        frame = batch.select(pl.col("community_id").alias("id"), props)
        self._write(self._q("write_communities"), rows=frame.to_dicts())

    def _write_membership_batch(self, batch: pl.DataFrame) -> None:
        self._write(self._q("write_memberships"), rows=batch.to_dicts())

    def _replace_recommendations(self, users: list[str], rows: pl.DataFrame) -> None:
        self._write(self._q("unrecommend"), users=users)
        self._write(self._q("recommend"), rows=rows.to_dicts())

    def _prepare_post_properties(self, sample: pl.DataFrame) -> None:
        self._write(self._q("constraint_post"))

    def _write_post_batch(self, batch: pl.DataFrame, columns: list[str]) -> None:
        frame = batch.select(pl.col("post_id").alias("id"), pl.struct(columns).alias("props"))
        self._write(self._q("write_post_properties"), rows=frame.to_dicts())

    def _replace_nodes(
        self,
        label: str,
        key: str,
        frame: pl.DataFrame,
        columns: list[str],
        *,
        drop_missing: bool = True,
    ) -> None:
        self._write(self._q("constraint_node", table=label, key=key))
        props = pl.struct(columns).alias("props") if columns else pl.lit({}).alias("props")
        rows = frame.select(pl.col(key).alias("id"), props)
        for start in range(0, rows.height, 5_000):
            self._write(
                self._q("write_nodes", table=label, key=key),
                rows=rows.slice(start, 5_000).to_dicts(),
            )
        if drop_missing:
            self._write(
                self._q("drop_stale_nodes", table=label, key=key), keep=frame[key].to_list()
            )

    def _clear_links(self, rel: str, label: str) -> None:
        while int(self.run(self._q("clear_links", rel=rel, label=label))["n"][0]):
            pass

    def _unlink_posts(self, rel: str, label: str, post_ids: list[str]) -> None:
        self._write(self._q("unlink_posts", rel=rel, label=label), posts=post_ids)

    def _write_about_batch(self, batch: pl.DataFrame) -> None:
        self._write(self._q("write_about"), rows=batch.to_dicts())

    def _read_topics(self) -> pl.DataFrame:
        return self.run(self._q("read_topics"))

    def _drop_stale_communities(self, keep: list[int]) -> None:
        self._write(self._q("drop_stale_communities"), keep=keep)

    # ------------------------------------------------------------------ vectors
    def create_vector_index(self, property: str, dimensions: int, name: str | None = None) -> str:
        """Create (if absent) a cosine vector index on users' ``property`` and wait until online."""
        if not 1 <= dimensions <= 4096:
            raise ConfigError(f"dimensions must be in [1, 4096] (got {dimensions})")
        name = name or f"{self.mapping.user_label}_{property}"
        self._write(
            self._q(
                "create_vector_index", index=name, property=property, dimensions=str(dimensions)
            )
        )
        self.run("CALL db.awaitIndexes(300)")
        return name

    def vector_search(self, index: str, vector: list[float], k: int = 10) -> pl.DataFrame:
        """Nearest users to ``vector`` through the vector index: ``user_id, score`` (cosine)."""
        return self.run(self._q("vector_search"), {"index": index, "k": k, "vector": list(vector)})
