"""The graph store contract shared by the Neo4j and embedded stores.

Public methods validate their arguments and own the batching and error policy (template method);
each backend implements small private hooks (``_load_*``, ``_stream``, ``_write_*``).
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from graphsona import queries
from graphsona._faults import crash_point
from graphsona._ident import check_identifier
from graphsona.errors import ConfigError, StoreError
from graphsona.graph.mapping import SchemaMapping
from graphsona.loaders.dataset import Dataset

__all__ = ["GraphStore", "Tracer"]

Tracer = Callable[[str, dict[str, Any]], None]
TIME = pl.Datetime("us", "UTC")

USERS_SCHEMA: dict[str, Any] = {"user_id": pl.String}
POSTS_SCHEMA: dict[str, Any] = {
    "post_id": pl.String,
    "user_id": pl.String,
    "text": pl.String,
    "created_at": TIME,
}
FOLLOWS_SCHEMA: dict[str, Any] = {"src": pl.String, "dst": pl.String}
IMAGES_SCHEMA: dict[str, Any] = {
    "post_id": pl.String,
    "user_id": pl.String,
    "images": pl.List(pl.String),
}
INTERACTIONS_SCHEMA: dict[str, Any] = {
    "src": pl.String,
    "dst": pl.String,
    "kind": pl.String,
    "weight": pl.Float64,
    "created_at": TIME,
}


def _check_writable(frame: pl.DataFrame, key: str) -> list[str]:
    if key not in frame.columns:
        raise ConfigError(f"write-back frame needs a {key!r} column; got {frame.columns}")
    if frame[key].null_count() or frame[key].is_duplicated().any():
        raise ConfigError(f"write-back column {key!r} must be unique and non-null")
    cols = [c for c in frame.columns if c != key]
    for c in cols:
        check_identifier(c, "property name")
        dt = frame.schema[c]
        ok = (
            dt.is_numeric()
            or dt in (pl.String, pl.Boolean)
            or isinstance(dt, pl.Datetime)
            or (
                isinstance(dt, (pl.List, pl.Array))
                and (dt.inner.is_numeric() or dt.inner == pl.String)
            )
        )
        if not ok:
            raise ConfigError(
                f"property {c!r} has type {dt}; supported: numbers, strings, booleans, datetimes, "
                "lists of strings or integers, and float vectors"
            )
    return cols


class GraphStore(ABC):
    """A property graph holding users, posts, follows and interactions, plus enriched results.

    Both implementations give the same results for the same calls:

    * :meth:`load` upserts a validated :class:`~graphsona.loaders.Dataset` (rerunning it changes
      nothing);
    * ``iter_*`` stream the graph back as polars frames in batches, ``read_*`` collect them;
    * :meth:`write_user_properties` and :meth:`write_communities` write results back
      idempotently, in a fixed batch order, so a rerun after a crash mid-write reaches exactly the
      state of an uninterrupted run;
    * :meth:`run` executes Cypher (used by :mod:`graphsona.queries`).
    """

    dialect: ClassVar[str]

    def __init__(self, mapping: SchemaMapping | None = None, tracer: Tracer | None = None) -> None:
        self.mapping = mapping or SchemaMapping()
        self.tracer = tracer

    # ------------------------------------------------------------------ helpers
    def _names(self) -> dict[str, str]:
        m = self.mapping
        return {
            "user_label": m.user_label,
            "user_id": m.user_id,
            "post_label": m.post_label or "Post",
            "post_rel": m.post_rel,
            "post_id": m.post_id,
            "post_text": m.post_text,
            "post_created_at": m.post_created_at or "created_at",
            "follows": m.follows[0] if m.follows else "FOLLOWS",
            "interacts": m.interaction_type or "INTERACTS",
            "kind": m.kind_property,
            "weight": m.weight_property or "weight",
            "community_label": m.community_label,
            "membership_rel": m.membership_rel,
            "recommended_rel": m.recommended_rel,
            "topic_label": m.topic_label,
            "about_rel": m.about_rel,
            "alert_label": m.alert_label,
        }

    def _trace(self, query: str, params: dict[str, Any]) -> None:
        if self.tracer is not None:
            self.tracer(query, params)

    # ------------------------------------------------------------------ bookkeeping
    def read_meta(self) -> dict[str, str]:
        """graphsona's bookkeeping values kept in the store (``{}`` for a graph it never loaded):
        ``load_state`` (``loading`` while a load runs or after one was interrupted, then
        ``done``), ``load_source``, ``load_started_at``, ``load_finished_at`` and
        ``data_version`` (a new random token at the start of every load); and ``ranker``, the
        who-to-follow ranker of the last profile run (:meth:`read_ranker`); ``classifier:<task>``
        for each post classifier (:meth:`read_classifier`)."""
        try:
            rows = self.run(queries.render("meta_read", self.dialect))
        except StoreError as e:
            # a store created before the bookkeeping existed has no table for it; any other
            # failure (e.g. the store is busy) must not pass for "no bookkeeping"
            if "GraphsonaMeta" in str(e) and "not exist" in str(e):
                return {}
            raise
        return {str(k): str(v) for k, v in zip(rows["key"], rows["value"], strict=True)}

    def _write_meta(self, values: dict[str, str]) -> None:
        rows = [{"key": k, "value": v} for k, v in sorted(values.items())]
        self.run(queries.render("meta_write", self.dialect), {"rows": rows})

    def write_ranker(self, run_id: str, ranker: dict[str, Any] | None) -> None:
        """Keep the profile run's who-to-follow ranker (JSON) with the run id it belongs to."""
        self._write_meta({"ranker": json.dumps({"run_id": run_id, "ranker": ranker})})

    def read_ranker(self, run_id: str | None) -> dict[str, Any] | None:
        """The stored ranker when it belongs to profile run ``run_id`` (a ranker left by another
        run, e.g. one interrupted before it finished writing, is not used with these
        profiles), else None."""
        raw = self.read_meta().get("ranker")
        if not raw or run_id is None:
            return None
        stored = json.loads(raw)
        if stored.get("run_id") != run_id:
            return None
        ranker: dict[str, Any] | None = stored.get("ranker")
        return ranker

    def write_classifier(self, task: str, classifier: dict[str, Any]) -> None:
        """Keep a post classifier (``graphsona finetune``) under its task name."""
        self._write_meta({f"classifier:{task}": json.dumps(classifier)})

    def read_classifier(self, task: str) -> dict[str, Any] | None:
        """The classifier stored for ``task``, or None."""
        raw = self.read_meta().get(f"classifier:{task}")
        return json.loads(raw) if raw else None

    def classifier_tasks(self) -> list[str]:
        """Tasks with a stored classifier."""
        return sorted(k.split(":", 1)[1] for k in self.read_meta() if k.startswith("classifier:"))

    def data_version(self) -> str:
        """A token that changes whenever a load starts: a job compares it before writing back,
        so results computed on data that changed meanwhile are never written."""
        return self.read_meta().get("data_version", "")

    def check_complete(self) -> None:
        """Raise :class:`StoreError` if the last load did not finish (crashed or still running)."""
        meta = self.read_meta()
        if meta.get("load_state") == "loading":
            source = meta.get("load_source") or "the same dataset"
            raise StoreError(
                f"the store holds a load of {source} that did not finish (started "
                f"{meta.get('load_started_at', '?')}): rerun `graphsona load {source}` to "
                "complete it (loads are upserts: the rerun ends in the state of an uninterrupted "
                "load)"
            )

    def lock_path(self) -> Path:
        """The file whose lock a writing job holds (see :mod:`graphsona.graph.lock`)."""
        from graphsona.graph.lock import server_lock_path

        return server_lock_path(self.locator())

    def locator(self) -> str:
        """Where this store is, in words without secrets (for messages and the lock key)."""
        return type(self).__name__

    def check_load(self, dataset: Dataset) -> None:
        """Refuse, before anything is written, a dataset this store cannot hold (e.g. a user
        property whose type differs from the one already stored). Default: nothing to check."""
        return None

    # ------------------------------------------------------------------ load
    def load(
        self, dataset: Dataset, *, batch_size: int = 10_000, source: str | None = None
    ) -> dict[str, int]:
        """Upsert ``dataset`` into the store; returns the store's counts afterwards.

        Only a store using graphsona's own schema (the default mapping) can be loaded into; an
        existing graph with another schema is read through its mapping, never rewritten.

        All or nothing, per load: everything that can fail is checked before the first write
        (the dataset by :func:`~graphsona.loaders.load_dataset`, the store's own limits by
        :meth:`check_load`). The writes themselves are batches of upserts, so a load that is
        interrupted (crash, kill) is completed exactly by running it again; until then the
        store records the load as unfinished and ``graphsona profile`` refuses to run on it
        (:meth:`check_complete`). ``source`` (the dataset's folder) is named in that message.
        The store's job lock is held for the whole load, so no profile job runs meanwhile.
        """
        if not self.mapping.is_native:
            raise ConfigError(
                "load() writes graphsona's own schema; this store was opened with a custom schema "
                "mapping (reading an existing graph). Open it with the default mapping to load data."
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1 (got {batch_size})")
        from graphsona.graph.lock import hold

        with hold(self.lock_path(), f"the store {self.locator()}"):
            self.check_load(dataset)
            privacy = self._check_privacy(dataset)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._write_meta(
                {
                    "load_state": "loading",
                    "load_source": source or "",
                    "load_started_at": now,
                    "data_version": uuid.uuid4().hex,
                    **privacy,
                }
            )
            self._ensure_schema(dataset.users)
            self._load_users(dataset.users, batch_size)
            crash_point("load:users")
            posts = dataset.posts
            text_file = (dataset.privacy or {}).get("text_file")
            if text_file:  # [privacy] store_text = false: the text goes to its file, not here
                from graphsona.privacy.texts import TextFile

                TextFile(text_file).upsert(posts)
                posts = posts.with_columns(pl.lit(None, pl.String).alias("text"))
            images = posts.select("post_id", "images") if "images" in posts.columns else None
            self._load_posts(posts.drop("images", strict=False), batch_size)
            if images is not None:  # a list property; null clears what a reload replaced
                self.write_post_properties(images)
            crash_point("load:posts")
            self._load_follows(dataset.follows, batch_size)
            crash_point("load:follows")
            self._load_interactions(dataset.interactions, batch_size)
            self._write_meta(
                {
                    "load_state": "done",
                    "load_finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
            return self.counts()

    def _check_privacy(self, dataset: Dataset) -> dict[str, str]:
        """Refuse a load whose ids are of another kind than the store's (raw ids into a
        pseudonymised store, pseudonyms into a store of raw ids, or another key's pseudonyms):
        the same person would become two users. Returns the bookkeeping entry to write."""
        meta = self.read_meta()
        stored = json.loads(meta["privacy"]) if meta.get("privacy") else None
        given = dataset.privacy
        had_data = "load_state" in meta
        stored_key = (stored or {}).get("key_check")
        given_key = (given or {}).get("key_check")
        stored_format = (stored or {}).get("pseudonym_format", 1) if stored_key else None
        given_format = (given or {}).get("pseudonym_format", 1) if given_key else None
        if had_data and stored_key and stored_key == given_key and stored_format != given_format:
            raise StoreError(
                f"this store's pseudonyms are of format {stored_format} and this load's of format "
                f"{given_format} (graphsona.privacy.pseudonyms): the same person would become "
                "two users. `graphsona update` and `graphsona stream` follow the store's format "
                "by themselves; use one of them to add to this store"
            )
        if had_data and stored_key != given_key:
            if stored_key and not given_key:
                why = "this store holds pseudonyms and the data comes with raw ids"
            elif given_key and not stored_key:
                why = "this store holds raw ids and the data comes pseudonymised"
            else:
                why = "this store's pseudonyms were made with another key"
            raise StoreError(
                f"{why}: the same person would become two users. Load with the store's own "
                "[privacy] settings and key (`graphsona update` and `graphsona stream` follow "
                "them by themselves), or into a new store"
            )
        stored_text = (stored or {}).get("text_file")
        given_text = (given or {}).get("text_file")
        if had_data and stored is not None and stored_text != given_text:
            where = f"in {stored_text}" if stored_text else "in the store"
            raise StoreError(
                f"this store keeps its post text {where} and this load would put it "
                + (f"in {given_text}" if given_text else "in the store")
                + ": load with the store's own [privacy] store_text and text_file "
                "(`graphsona update` and `graphsona stream` follow them by themselves)"
            )
        return {"privacy": json.dumps(given, sort_keys=True)} if given is not None else {}

    # ------------------------------------------------------------------ erasure
    def erasure_scope(self, user_ids: list[str]) -> ErasureScope:
        """What the store holds about ``user_ids``, read before anything is deleted: which of
        them exist, their posts (ids and texts: the texts give the vector cache's keys), the
        communities they belong to and the topics their posts are about."""
        ids = sorted(set(user_ids))
        have = self.read_user_ids().cast(pl.String)
        found = sorted(set(have.filter(have.is_in(ids)).to_list()))
        posts = pl.DataFrame(schema={"post_id": pl.String, "text": pl.String})
        communities: list[int] = []
        topics: list[int] = []
        handles: list[str] = []
        if found:
            if self.mapping.post_label is not None:
                posts = self._optional("forget_posts", found, posts)
                text_file = self._text_file()
                if text_file is not None:  # the cache's keys are the texts, kept outside
                    posts = text_file.attach(posts).select(posts.columns)
                got = self._optional("forget_topics_of", found, None)
                topics = [] if got is None else sorted(got["topic_id"].to_list())
            got = self._optional("forget_communities_of", found, None)
            communities = [] if got is None else sorted(got["community_id"].to_list())
            got = self._optional("forget_handles", found, None)
            # pseudonyms are matched as they are (in names and lists, and as @mentions in
            # text); raw handles as @mentions only
            meta = self.read_meta().get("privacy")
            pseudonymised = bool(meta and json.loads(meta).get("key_check"))
            handles = (
                []
                if got is None
                else sorted(
                    {
                        h if pseudonymised else "@" + h.lstrip("@")
                        for h in got["handle"].cast(pl.String).to_list()
                    }
                )
            )
        return ErasureScope(found, posts, communities, topics, handles)

    def _optional(self, name: str, ids: list[str], empty: Any) -> Any:
        """A read that finds nothing when its tables do not exist yet (no run wrote them)."""
        try:
            return self.run(queries.render(name, self.dialect, **self._names()), {"ids": ids})
        except StoreError:
            return empty

    def erase(self, scope: ErasureScope) -> dict[str, int]:
        """Delete ``scope``'s users everywhere in the store: their posts (with their topic
        links), their nodes with every link (follows and interactions both ways, membership,
        recommendations to and from them), their vectors; then the aggregates that counted
        them: community sizes recounted and the users taken out of ``top_members``, topic
        sizes recounted, alert drivers and sample posts filtered; communities, topics and
        alerts that included them get ``stale = true`` (their names and terms came partly
        from the erased people's words) until the next full run writes them again.

        Idempotent: a rerun after a crash at any point ends in the same state."""
        ids = scope.user_ids
        names = self._names()
        counts = {"users": 0, "posts": 0, "vector_rows": 0}
        if not ids:
            return counts
        before = self.counts()
        if self.mapping.post_label is not None:
            self.run(queries.render("forget_delete_posts", self.dialect, **names), {"ids": ids})
        crash_point("forget:posts")
        counts["vector_rows"] = self._forget_side_data(ids)
        text_file = self._text_file()
        if text_file is not None:
            counts["texts"] = text_file.forget(ids)
        self.run(queries.render("forget_delete_users", self.dialect, **names), {"ids": ids})
        crash_point("forget:users")
        after = self.counts()
        counts["users"] = before.get("users", 0) - after.get("users", 0)
        counts["posts"] = before.get("posts", 0) - after.get("posts", 0)
        counts.update(self._refresh_aggregates(scope))
        return counts

    def compact(self, *, drop: dict[str, tuple[str, list[str]]] | None = None) -> dict[str, int]:
        """Remove deleted data from the store's files where the store can do so itself (the
        embedded store rewrites its file, leaving out ``drop``'s nodes: see its docstring).
        Neo4j reuses the space of deleted records but does not overwrite it on delete;
        `neo4j-admin database copy` (offline) rewrites the store without them. Default:
        nothing (``drop`` refused); returns the rows left out per table."""
        if drop:
            raise StoreError(f"{type(self).__name__} cannot leave rows out while compacting")
        return {}

    def _refresh_aggregates(
        self, scope: ErasureScope, *, still_stored: bool = False
    ) -> dict[str, int]:
        """Community and topic sizes, texts and lists, and alerts, without ``scope``'s
        people. ``still_stored``: they are still in the graph (a store that erases by
        rewriting its file without them, after this), so their members and posts are
        counted and taken off each size; either way a rerun writes the same values."""
        m = self.mapping
        needles = [*scope.user_ids, *scope.handles, *scope.posts["post_id"].to_list()]
        out = {"communities_stale": 0, "topics_stale": 0, "alerts_changed": 0}
        found = self._optional("community_sizes", [], None)
        if found is not None and found.height and still_stored:
            found = _less(found, "community_id", self._optional(
                "forget_community_counts", scope.user_ids, None))  # fmt: skip
        if found is not None and found.height:
            hit = _scrubbed(found, "community_id", needles, scope.communities)
            if hit.height:
                cols = [c for c in hit.columns if c != "community_id"]
                self._prepare_communities(hit)
                self._write_community_batch(hit, cols)
            out["communities_stale"] = hit.height
        if m.post_label is not None:
            found = self._optional("topic_sizes", [], None)
            if found is not None and found.height and still_stored:
                found = _less(found, "topic_id", self._optional(
                    "forget_topic_counts", scope.user_ids, None))  # fmt: skip
            if found is not None and found.height:
                hit = _scrubbed(found, "topic_id", needles, scope.topics)
                if hit.height:
                    cols = [c for c in hit.columns if c != "topic_id"]
                    self._replace_nodes(m.topic_label, "topic_id", hit, cols, drop_missing=False)
                out["topics_stale"] = hit.height
        found = self._optional("forget_alerts", [], None)
        if found is not None and found.height:
            # a sample post's text goes with its id: dropped where the id is an erased post's
            erased_posts = set(scope.posts["post_id"].to_list())
            texts = [
                [t for p, t in zip(ps or [], ts or [], strict=False) if p not in erased_posts]
                for ps, ts in zip(
                    found["sample_posts"].to_list(), found["sample_texts"].to_list(), strict=True
                )
            ]
            found = found.with_columns(pl.Series("sample_texts", texts, dtype=pl.List(pl.String)))
            hit = _scrubbed(found, "alert_id", needles, [])
            if hit.height:
                cols = [c for c in hit.columns if c != "alert_id"]
                self._replace_nodes(m.alert_label, "alert_id", hit, cols, drop_missing=False)
            out["alerts_changed"] = hit.height
        return out

    # ------------------------------------------------------------------ read
    def iter_users(self, batch_size: int = 100_000) -> Iterator[pl.DataFrame]:
        """Users with all their stored properties (``user_id`` first), in batches."""
        yield from self._iter_users(batch_size)

    def read_user_ids(self) -> pl.Series:
        """Every user id (cheaper than :meth:`read_users` when properties are not needed)."""
        return self._read_user_ids().rename("user_id")

    def iter_posts(self, batch_size: int = 100_000) -> Iterator[pl.DataFrame]:
        """Posts as ``post_id, user_id, text, created_at, lang``, in batches (none if unmapped)."""
        if self.mapping.post_label is None:
            return
        text_file = self._text_file()
        if text_file is None:
            yield from self._iter_posts(batch_size)
            return
        for batch in self._iter_posts(batch_size):  # the text is kept outside the store
            yield text_file.attach(batch).select(batch.columns)

    def _text_file(self) -> Any:
        """The :class:`~graphsona.privacy.TextFile` of a store that keeps no post text."""
        from graphsona.privacy.policy import text_file_of
        from graphsona.privacy.texts import TextFile

        path = text_file_of(self.read_meta()) if self.mapping.is_native else None
        return TextFile(path) if path is not None else None

    def iter_follows(
        self, batch_size: int = 500_000, *, with_time: bool = False
    ) -> Iterator[pl.DataFrame]:
        """Follow edges as ``src, dst`` (src follows dst), in batches; ``with_time`` adds
        ``created_at`` (null when unknown)."""
        for rel in self.mapping.follows:
            if with_time:
                yield from self._iter_follows_timed(rel, batch_size)
            else:
                yield from self._iter_edges(rel, None, batch_size)

    def iter_interactions(self, batch_size: int = 500_000) -> Iterator[pl.DataFrame]:
        """Interaction edges as ``src, dst, kind, weight, created_at``, in batches.

        ``created_at`` is the first time the pair interacted with that kind (null if unknown).
        """
        if self.mapping.interaction_type:
            yield from self._iter_edges(self.mapping.interaction_type, "", batch_size)
        for rel, kind in self.mapping.interactions.items():
            yield from self._iter_edges(rel, kind, batch_size)

    def read_users(self) -> pl.DataFrame:
        return _concat(list(self.iter_users()), USERS_SCHEMA)

    def read_post_images(self) -> pl.DataFrame:
        """Posts that carry images: ``post_id, user_id, images`` (a list of absolute paths or
        URLs, as loaded); empty when none does."""
        empty = pl.DataFrame(schema=IMAGES_SCHEMA)
        if self.mapping.post_label is None or not self._has_post_images():
            return empty
        frame = self.run(queries.render("read_post_images", self.dialect, **self._names()))
        if frame.height == 0:
            return empty
        return frame.select(
            pl.col("post_id").cast(pl.String),
            pl.col("user_id").cast(pl.String),
            pl.col("images").cast(pl.List(pl.String)),
        )

    def _has_post_images(self) -> bool:
        """Whether any post may carry images (a store with a fixed schema says no cheaply)."""
        return True

    def read_posts(self) -> pl.DataFrame:
        return _concat(list(self.iter_posts()), POSTS_SCHEMA)

    def read_follows(self, *, with_time: bool = False) -> pl.DataFrame:
        schema = {**FOLLOWS_SCHEMA, "created_at": TIME} if with_time else FOLLOWS_SCHEMA
        return _concat(list(self.iter_follows(with_time=with_time)), schema)

    def read_interactions(self) -> pl.DataFrame:
        return _concat(list(self.iter_interactions()), INTERACTIONS_SCHEMA)

    # ------------------------------------------------------------------ write-back
    def write_user_properties(self, frame: pl.DataFrame, *, batch_size: int = 10_000) -> int:
        """Set the frame's columns as properties of the users named in ``user_id``.

        Columns may hold numbers, strings, booleans, datetimes, lists of strings and float
        vectors (``Array(Float32, d)`` or lists of floats). Rows are written sorted by user id in
        fixed batches; setting a property is idempotent, so a rerun after a crash ends in the
        same state. Unknown user ids are ignored; returns the number of rows written.
        """
        cols = _check_writable(frame, "user_id")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1 (got {batch_size})")
        frame = frame.sort("user_id")
        self._prepare_user_properties(frame.select(cols))
        for start in range(0, frame.height, batch_size):
            self._write_user_batch(frame.slice(start, batch_size), cols)
            crash_point("write_back:users")
        return frame.height

    def write_communities(
        self,
        communities: pl.DataFrame,
        memberships: pl.DataFrame,
        *,
        batch_size: int = 10_000,
        keep: list[int] | None = None,
    ) -> None:
        """Replace community nodes and user memberships with the given ones.

        ``communities``: ``community_id`` (int, unique) plus properties (name, terms, size,
        top_members, ...). ``memberships``: ``user_id, community_id``. Community nodes are merged
        by id and their properties set; each user keeps exactly one membership link; communities
        no longer listed are removed at the end. Every step is idempotent.

        ``keep``: the ids of every community that stays, when ``communities`` holds only the
        rows that changed (an update); a stored community outside ``keep`` is removed, one in
        ``keep`` but not in ``communities`` is left as stored.
        """
        if "stale" not in communities.columns:  # written afresh: not stale (see erase)
            communities = communities.with_columns(pl.lit(False).alias("stale"))
        cols = _check_writable(communities, "community_id")
        if not communities["community_id"].dtype.is_integer():
            raise ConfigError("community_id must be an integer column")
        for col in ("user_id", "community_id"):
            if col not in memberships.columns:
                raise ConfigError(
                    f"memberships need columns user_id, community_id; got {memberships.columns}"
                )
        listed = set(communities["community_id"].to_list())
        staying = listed if keep is None else set(keep)
        if not listed <= staying:
            raise ConfigError(
                f"communities to write are not all in keep: {sorted(listed - staying)[:5]}"
            )
        unknown = set(memberships["community_id"].unique().to_list()) - staying
        if unknown:
            raise ConfigError(
                f"memberships name communities not in communities: {sorted(unknown)[:5]}"
            )
        communities = communities.sort("community_id")
        memberships = memberships.select("user_id", "community_id").sort("user_id")
        self._prepare_communities(communities.select(cols))
        for start in range(0, communities.height, batch_size):
            self._write_community_batch(communities.slice(start, batch_size), cols)
        for start in range(0, memberships.height, batch_size):
            self._write_membership_batch(memberships.slice(start, batch_size))
        self._drop_stale_communities(sorted(staying))

    def write_recommendations(self, recs: pl.DataFrame, *, batch_size: int = 5_000) -> int:
        """Replace the ``RECOMMENDED {score, rank}`` links of every user in ``recs``.

        ``recs``: ``user_id, candidate_id, score, rank``. Per batch of source users, their old
        links are deleted and the new ones written, so a rerun (or a rerun after a crash)
        leaves exactly the given links. Returns the number of links written.
        """
        need = ["user_id", "candidate_id", "score", "rank"]
        missing = [c for c in need if c not in recs.columns]
        if missing:
            raise ConfigError(f"recommendations need columns {need}; missing {missing}")
        recs = recs.select(
            pl.col("user_id").cast(pl.String),
            pl.col("candidate_id").cast(pl.String),
            pl.col("score").cast(pl.Float64),
            pl.col("rank").cast(pl.Int64),
        ).sort("user_id", "rank")
        users = recs["user_id"].unique(maintain_order=True).to_list()
        self._prepare_recommendations()
        for start in range(0, len(users), batch_size):
            chunk = users[start : start + batch_size]
            self._replace_recommendations(chunk, recs.filter(pl.col("user_id").is_in(chunk)))
        return recs.height

    def write_post_properties(self, frame: pl.DataFrame, *, batch_size: int = 20_000) -> int:
        """Set the frame's columns as properties of the posts named in ``post_id`` (per-post
        sentiment, topic, classifier labels). Idempotent like :meth:`write_user_properties`;
        unknown post ids are ignored. Returns the number of rows written."""
        if self.mapping.post_label is None:
            raise ConfigError("this graph has no posts (schema mapping post_label = none)")
        cols = _check_writable(frame, "post_id")
        if not cols:
            return 0
        frame = frame.sort("post_id")
        self._prepare_post_properties(frame.select(cols))
        for start in range(0, frame.height, batch_size):
            self._write_post_batch(frame.slice(start, batch_size), cols)
            crash_point("write_back:posts")
        return frame.height

    def write_topics(
        self, topics: pl.DataFrame, post_topics: pl.DataFrame, *, batch_size: int = 20_000
    ) -> None:
        """Replace the topic nodes and the posts' ``ABOUT`` links with the given ones.

        ``topics``: ``topic_id`` (int, unique) plus properties (name, terms, size, centroid);
        ``post_topics``: ``post_id, topic_id`` (posts without a topic left out). Topics no longer
        listed are removed; every post keeps only the links given here. Idempotent.
        """
        if self.mapping.post_label is None:
            raise ConfigError("this graph has no posts (schema mapping post_label = none)")
        if "stale" not in topics.columns:  # fitted afresh: not stale (see erase)
            topics = topics.with_columns(pl.lit(False).alias("stale"))
        cols = _check_writable(topics, "topic_id")
        if not topics["topic_id"].dtype.is_integer():
            raise ConfigError("topic_id must be an integer column")
        for col in ("post_id", "topic_id"):
            if col not in post_topics.columns:
                raise ConfigError(
                    f"post topics need columns post_id, topic_id; got {post_topics.columns}"
                )
        unknown = set(post_topics["topic_id"].unique().to_list()) - set(
            topics["topic_id"].to_list()
        )
        if unknown:
            raise ConfigError(f"post topics name topics not in topics: {sorted(unknown)[:5]}")
        m = self.mapping
        self._replace_nodes(m.topic_label, "topic_id", topics.sort("topic_id"), cols)
        links = post_topics.select(
            pl.col("post_id").cast(pl.String), pl.col("topic_id").cast(pl.Int64)
        ).sort("post_id")
        self._clear_links(m.about_rel, m.topic_label)
        for start in range(0, links.height, batch_size):
            self._write_about_batch(links.slice(start, batch_size))
            crash_point("write_back:topics")

    def write_post_topics(
        self, topics: pl.DataFrame, post_topics: pl.DataFrame, *, batch_size: int = 20_000
    ) -> None:
        """Replace the topic nodes (e.g. their sizes) and set the ``ABOUT`` link of the given
        posts only; every other post keeps its link (the incremental update's new posts). A
        post given with topic -1 (no topic) ends with no link. Idempotent."""
        if self.mapping.post_label is None:
            raise ConfigError("this graph has no posts (schema mapping post_label = none)")
        cols = _check_writable(topics, "topic_id")
        m = self.mapping
        links = post_topics.select(
            pl.col("post_id").cast(pl.String), pl.col("topic_id").cast(pl.Int64)
        ).sort("post_id")
        unknown = set(links.filter(pl.col("topic_id") >= 0)["topic_id"].unique().to_list()) - set(
            topics["topic_id"].to_list()
        )
        if unknown:
            raise ConfigError(f"post topics name topics not in topics: {sorted(unknown)[:5]}")
        self._replace_nodes(m.topic_label, "topic_id", topics.sort("topic_id"), cols)
        for start in range(0, links.height, batch_size):
            batch = links.slice(start, batch_size)
            self._unlink_posts(m.about_rel, m.topic_label, batch["post_id"].to_list())
            linked = batch.filter(pl.col("topic_id") >= 0)
            if linked.height:
                self._write_about_batch(linked)
            crash_point("write_back:topics")

    def write_alerts(self, alerts: pl.DataFrame) -> None:
        """Replace the alert nodes with the given ones (``alert_id`` unique, plus properties:
        kind, window, severity, evidence). Alert ids are stable hashes, so a rerun rewrites the
        same nodes; alerts no longer raised are removed."""
        if "stale" not in alerts.columns:  # detected afresh: not stale (see erase)
            alerts = alerts.with_columns(pl.lit(False).alias("stale"))
        if "sample_texts" in alerts.columns and self._text_file() is not None:
            # a store that keeps no post text keeps no sample texts either: the ids stay
            alerts = alerts.with_columns(
                pl.col("sample_texts").cast(pl.List(pl.String)).list.head(0)
            )
        cols = _check_writable(alerts, "alert_id")
        if alerts["alert_id"].dtype != pl.String:
            raise ConfigError("alert_id must be a string column")
        self._replace_nodes(self.mapping.alert_label, "alert_id", alerts.sort("alert_id"), cols)

    def read_topics(self) -> pl.DataFrame:
        """The topics written back by the last run (``topic_id, name, terms, size, centroid``;
        empty when none were written): the earlier run that keeps topic ids stable."""
        try:
            return self._read_topics()
        except StoreError:  # no topic was ever written: the table or label does not exist
            return pl.DataFrame(schema={"topic_id": pl.Int64, "centroid": pl.List(pl.Float64)})

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _prepare_post_properties(self, sample: pl.DataFrame) -> None: ...

    @abstractmethod
    def _write_post_batch(self, batch: pl.DataFrame, columns: list[str]) -> None: ...

    @abstractmethod
    def _replace_nodes(
        self,
        label: str,
        key: str,
        frame: pl.DataFrame,
        columns: list[str],
        *,
        drop_missing: bool = True,
    ) -> None:
        """Merge ``frame``'s rows as ``label`` nodes by ``key``, set ``columns``, and (unless
        not ``drop_missing``) delete the ``label`` nodes not in ``frame``."""

    def _forget_side_data(self, user_ids: list[str]) -> int:
        """Delete what the store keeps about users outside their nodes; returns rows removed."""
        return 0

    @abstractmethod
    def _clear_links(self, rel: str, label: str) -> None:
        """Delete every ``rel`` link from a post to a ``label`` node."""

    @abstractmethod
    def _write_about_batch(self, batch: pl.DataFrame) -> None: ...

    @abstractmethod
    def _unlink_posts(self, rel: str, label: str, post_ids: list[str]) -> None:
        """Delete the ``rel`` links from the given posts to ``label`` nodes."""

    @abstractmethod
    def _read_topics(self) -> pl.DataFrame: ...

    def _prepare_recommendations(self) -> None:
        return None

    @abstractmethod
    def _replace_recommendations(self, users: list[str], rows: pl.DataFrame) -> None: ...

    @abstractmethod
    def create_vector_index(self, property: str, dimensions: int, name: str | None = None) -> str:
        """Make users' vector ``property`` searchable; returns the name :meth:`vector_search` takes."""

    @abstractmethod
    def vector_search(self, index: str, vector: list[float], k: int = 10) -> pl.DataFrame:
        """The ``k`` users whose vectors are nearest to ``vector``: ``user_id, score`` (cosine)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Numbers of users, posts, follows, interactions and communities in the store."""

    def link_counts(self) -> dict[str, int]:
        """``users``, ``follows`` and ``interactions`` of :meth:`counts`, as cheaply as the
        store can (an update checks them after every upsert)."""
        c = self.counts()
        return {k: c.get(k, 0) for k in ("users", "follows", "interactions")}

    @abstractmethod
    def run(
        self, query: str, parameters: dict[str, Any] | None = None, *, read_only: bool = False
    ) -> pl.DataFrame:
        """Run one Cypher statement and return its rows as a frame.

        ``read_only=True`` makes the engine refuse writes where it can (see each store).
        """

    @abstractmethod
    def clear(self) -> None:
        """Delete everything graphsona can see in this store (tests, demo reruns)."""

    @abstractmethod
    def close(self) -> None: ...

    def release_memory(self) -> None:
        """Give back caches the store holds in this process (the job calls it before training).

        The store stays usable: the next call reopens what it needs. A server store holds
        nothing worth releasing here, so the default does nothing.
        """
        return None

    @abstractmethod
    def _ensure_schema(self, users: pl.DataFrame) -> None: ...

    @abstractmethod
    def _load_users(self, users: pl.DataFrame, batch_size: int) -> None: ...

    @abstractmethod
    def _load_posts(self, posts: pl.DataFrame, batch_size: int) -> None: ...

    @abstractmethod
    def _load_follows(self, follows: pl.DataFrame, batch_size: int) -> None: ...

    @abstractmethod
    def _load_interactions(self, interactions: pl.DataFrame, batch_size: int) -> None: ...

    @abstractmethod
    def _iter_users(self, batch_size: int) -> Iterator[pl.DataFrame]: ...

    @abstractmethod
    def _iter_posts(self, batch_size: int) -> Iterator[pl.DataFrame]: ...

    def _read_user_ids(self) -> pl.Series:
        return self.run(queries.render("read_user_ids", self.dialect, **self._names()))[
            "user_id"
        ].cast(pl.String)

    @abstractmethod
    def _iter_follows_timed(self, rel: str, batch_size: int) -> Iterator[pl.DataFrame]: ...

    @abstractmethod
    def _iter_edges(self, rel: str, kind: str | None, batch_size: int) -> Iterator[pl.DataFrame]:
        """``kind=None``: follows (src, dst); ``""``: kind from the property; else a fixed kind."""

    @abstractmethod
    def _prepare_user_properties(self, sample: pl.DataFrame) -> None: ...

    @abstractmethod
    def _write_user_batch(self, batch: pl.DataFrame, columns: list[str]) -> None: ...

    @abstractmethod
    def _prepare_communities(self, sample: pl.DataFrame) -> None: ...

    @abstractmethod
    def _write_community_batch(self, batch: pl.DataFrame, columns: list[str]) -> None: ...

    @abstractmethod
    def _write_membership_batch(self, batch: pl.DataFrame) -> None: ...

    @abstractmethod
    def _drop_stale_communities(self, keep: list[int]) -> None: ...

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ErasureScope:
    """What :meth:`GraphStore.erasure_scope` found about the users to erase."""

    user_ids: list[str]
    posts: pl.DataFrame  # post_id, text
    communities: list[int]
    topics: list[int]
    handles: list[str] = field(default_factory=list)


ERASED = "[erased]"
MIN_NEEDLE = 6


def _scrubbed(
    frame: pl.DataFrame, key: str, needles: list[str], involved: list[int]
) -> pl.DataFrame:
    """The rows of ``frame`` (aggregate nodes) that involved erased people (``key`` in
    ``involved``) or name them: texts with the needles replaced by ``[erased]``, list entries
    naming them dropped, ``stale`` set. Only those rows are returned."""
    if not needles:
        return frame.head(0)
    # inside texts only needles long enough not to hit ordinary words or numbers (pseudonyms,
    # platform ids, @handles); list entries also by exact match
    long = [n for n in needles if len(n) >= MIN_NEEDLE]
    exprs, changed = [], pl.col(key).is_in(involved)
    for name, dtype in frame.schema.items():
        if dtype == pl.String and long:
            new = pl.col(name).str.replace_many(long, [ERASED] * len(long))
            changed = changed | (new != pl.col(name)).fill_null(False)
            exprs.append(new)
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            gone = pl.element().is_in(needles)
            if long:
                gone = gone | pl.element().str.contains_any(long)
            new = pl.col(name).list.eval(pl.element().filter(~gone))
            changed = changed | (new.list.len() != pl.col(name).list.len()).fill_null(False)
            exprs.append(new)
    out = frame.with_columns(exprs).filter(frame.select(changed.alias("c"))["c"])
    return out.with_columns(pl.lit(True).alias("stale"))


def _less(sizes: pl.DataFrame, key: str, erased: pl.DataFrame | None) -> pl.DataFrame:
    """``sizes`` (``key``, ``size``, ...) with ``erased`` (``key``, ``erased``) taken off."""
    if erased is None or erased.height == 0:
        return sizes
    erased = erased.select(pl.col(key).cast(sizes.schema[key]), pl.col("erased"))
    return (
        sizes.join(erased, on=key, how="left")
        .with_columns((pl.col("size") - pl.col("erased").fill_null(0)).cast(sizes.schema["size"]))
        .drop("erased")
    )


def _concat(frames: list[pl.DataFrame], schema: dict[str, Any]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="diagonal_relaxed")
