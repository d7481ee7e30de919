"""The state an incremental update starts from: what the last run (full or update) computed,
kept in the work dir so that ``graphsona update`` recomputes only what new data touches.

Layout: ``<work_dir>/state/CURRENT`` names the current version folder ``state/v-<run id>``,
which holds

* ``users.parquet``: per user (sorted by ``user_id``) the encoder's input row ``x``, the FastRP
  basis row ``basis`` (signs), ``profile``, ``bias``, ``community_id``, ``pagerank``, the
  profile neighbours ``knn``/``knn_sim`` (row numbers in this file) and ``run_id`` (the run
  that last computed the user's profile);
* ``results.parquet``: the per-user results as written back (profile, community, influence,
  mood, topics, label predictions);
* ``posts.parquet``: per post its user, time, text, language, sentiment and topic;
* ``names.parquet`` (communities), ``topics.parquet``, ``alerts.parquet``;
* ``edges.parquet`` (optional): the graph the run worked on, edge by edge with user ids
  (:func:`~graphsona.graph.export.edge_list`); ``meta.graph_version`` is the store's data
  version it matches. An update that finds the store at that version (and with the same
  counts) builds its graph from these edges and its changes instead of reading every link
  back (at 100k users on Neo4j that read took about 29 s of a 71 s update);
* ``model.pt``: the trained encoder (:meth:`~graphsona.gnn.ProfileModel.export`) or nothing
  when the full run trained none;
* ``meta.json``: the run id, the kind of run, feature standardisation, settings, counts.

A new version is written completely in its own folder before ``CURRENT`` is replaced
atomically (``os.replace``); older versions are deleted afterwards. A crash at any point leaves
``CURRENT`` naming a complete version, so a rerun starts from the same state and, with the same
input, computes the same result.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.errors import ConfigError
from graphsona.jobs.runner import Context, Progress, Stage
from graphsona.jobs.settings import ProfileJobConfig

__all__ = [
    "JobState",
    "StateStage",
    "full_run_state",
    "is_current",
    "load_state",
    "save_state",
    "state_dir",
]

STATE = "state"
FILES = ("users", "results", "posts", "names", "topics", "alerts")


@dataclass
class JobState:
    users: pl.DataFrame
    results: pl.DataFrame
    posts: pl.DataFrame
    names: pl.DataFrame
    topics: pl.DataFrame
    alerts: pl.DataFrame
    model: dict[str, Any] | None
    meta: dict[str, Any] = field(default_factory=dict)
    #: the run's graph as an edge list (see the module docstring); None in states from
    #: before it was kept, and then an update reads the graph from the store
    edges: pl.DataFrame | None = None


def state_dir(work_dir: Path) -> Path:
    return work_dir / STATE


def save_state(work_dir: Path, state: JobState) -> Path:
    """Write ``state`` as a new version and make it current (see the module docstring)."""
    root = state_dir(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = root / f"v-{state.meta['run_id']}"
    tmp = root / f".tmp-{version.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name in FILES:
        # lz4, not zstd: the state is mostly float vectors, which barely compress; at 100k
        # users lz4 wrote users.parquet in 0.34 s against zstd's 1.0 s, 12% larger
        getattr(state, name).write_parquet(tmp / f"{name}.parquet", compression="lz4")
    if state.edges is not None:
        state.edges.write_parquet(tmp / "edges.parquet", compression="lz4")
    torch.save(state.model, tmp / "model.pt")
    (tmp / "meta.json").write_text(json.dumps(state.meta, indent=2, default=str))
    if version.exists():  # the same run id again (a rerun after a crash): same content
        shutil.rmtree(version)
    tmp.replace(version)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(version.name)
    pointer.replace(root / "CURRENT")
    for other in root.iterdir():
        if other.is_dir() and other != version:
            shutil.rmtree(other, ignore_errors=True)
    return version


def is_current(work_dir: Path, state: JobState) -> bool:
    """Whether ``state`` is the current version in ``work_dir`` (same run id)."""
    pointer = state_dir(work_dir) / "CURRENT"
    return pointer.exists() and pointer.read_text().strip() == f"v-{state.meta.get('run_id')}"


def load_state(work_dir: Path, *, held: JobState | None = None) -> JobState:
    """The current state, or a :class:`ConfigError` saying to run the full job first.

    ``held``: a state the caller kept in memory (a stream's last update made it); handed back
    as it is when it is still the current version on disk (same run id), which spares reading
    every user's vectors again per micro-batch. Anything else (a full run, an erasure or
    another updater since) reads the files."""
    root = state_dir(work_dir)
    pointer = root / "CURRENT"
    if not pointer.exists():
        raise ConfigError(
            f"no saved state of a full run in {work_dir}: run `graphsona profile` once (with this "
            "work dir) before `graphsona update`"
        )
    current = pointer.read_text().strip()
    if held is not None and current == f"v-{held.meta.get('run_id')}":
        return held
    version = root / current
    frames = {name: pl.read_parquet(version / f"{name}.parquet") for name in FILES}
    model = torch.load(version / "model.pt", weights_only=False)
    meta = json.loads((version / "meta.json").read_text())
    edges_file = version / "edges.parquet"
    edges = pl.read_parquet(edges_file) if edges_file.exists() else None
    return JobState(**frames, model=model, meta=meta, edges=edges)


class StateStage(Stage):
    """The last step of the full job: the state ``graphsona update`` starts from (see the
    module docstring). Always runs (cheap); needs a work dir."""

    name = "state"
    cached = False

    def __init__(self, cfg: ProfileJobConfig, work_dir: Path) -> None:
        self.cfg, self.work_dir = cfg, work_dir

    def fingerprint(self, ctx: Context) -> str:
        return ""

    def run(self, ctx: Context, say: Progress) -> Context:
        say("state", "keeping the state for incremental updates")
        state = full_run_state(self.cfg, ctx)
        save_state(self.work_dir, state)
        return {}


def settings_of(cfg: ProfileJobConfig) -> dict[str, Any]:
    """The settings an update must share with the full run it continues."""
    return {
        "embedder": cfg.embedder,
        "embedder_kind": cfg.embedder_kind,
        "embedder_precision": cfg.embedder_precision,
        "image_embedder": cfg.image_embedder,
        "model": cfg.model_kwargs(),
        "resolution": cfg.resolution,
        "min_community_size": cfg.min_community_size,
        "profile_property": cfg.profile_property,
        "topics": cfg.topics,
        "bucket": cfg.bucket,
        "chinese_sentiment": cfg.chinese_sentiment,
        "seed": cfg.seed,
    }


def full_run_state(cfg: ProfileJobConfig, ctx: Context) -> JobState:
    """The state of a finished full run, from its context."""
    from graphsona.gnn.baselines import fastrp_basis
    from graphsona.graph.export import edge_list, kind_weights_in_use
    from graphsona.jobs.stages import FASTRP_INPUT_DIM, _with_post_ids, node_features

    ids = ctx["ids"]["user_id"]
    n = ids.len()
    x = node_features(ctx, "full").numpy().astype(np.float32)
    basis = fastrp_basis(n, FASTRP_INPUT_DIM, seed=0).toarray()  # type: ignore[attr-defined]
    signs = np.sign(basis).astype(np.int8)
    z = ctx["profiles"].numpy().astype(np.float32)
    knn = ctx.get("knn")
    users = pl.DataFrame(
        {
            "user_id": ids,
            "x": pl.Series(x).cast(pl.Array(pl.Float32, x.shape[1])),
            "basis": pl.Series(signs).cast(pl.Array(pl.Int8, signs.shape[1])),
            "profile": pl.Series(z).cast(pl.Array(pl.Float32, z.shape[1])),
            "bias": ctx["bias"].numpy().astype(np.float32),
            "community_id": ctx["membership"].astype(np.int64),
            "pagerank": ctx["influence"]["pagerank"].to_numpy(),
            "engagement": (
                ctx["influence"]["engagement"].to_numpy()
                if "engagement" in ctx["influence"].columns
                else np.full(n, np.nan)
            ),
            "n_posts": np.asarray(ctx["n_posts"], dtype=np.int64),
            "run_id": [ctx["run_id"]] * n,
        }
    )
    if "bio" in ctx["users"].columns:
        users = users.with_columns(ctx["users"]["bio"].cast(pl.String))
    if knn is not None:
        users = users.with_columns(
            pl.Series("knn", knn[0].astype(np.int32)),
            pl.Series("knn_sim", knn[1].astype(np.float32)),
        )
    posts = _with_post_ids(ctx["posts"])
    keep = [c for c in ("post_id", "text") if c in posts.columns]
    scored = ctx.get("post_sentiment")
    post_state = posts.select(keep).unique("post_id", keep="first")
    if scored is not None:
        post_state = scored.join(post_state, on="post_id", how="left")
    else:
        post_state = posts.select(
            [c for c in ("post_id", "user_id", "created_at", "text") if c in posts.columns]
        )
    post_topics = ctx.get("post_topics")
    if post_topics is not None:
        post_state = post_state.join(
            post_topics.select("post_id", "topic_id", "similarity"), on="post_id", how="left"
        )
    topics = ctx.get("topics")
    alerts = ctx.get("alerts")
    results = ctx["results"].with_columns(
        pl.lit(ctx["run_id"]).alias("profile_run_id"), pl.lit(ctx["run_id"]).alias("result_run_id")
    )
    meta = {
        "run_id": ctx["run_id"],
        "kind": "full",
        "full_run_id": ctx["run_id"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "users_at_full_run": n,
        "new_users_since_full_run": 0,
        "updates_since_full_run": 0,
        "best_val_auc": ctx["train_info"].get("best_val_auc"),
        "text_dim": int(ctx["tx"].shape[1]),
        # a multilingual model's per-language means, taken out of posts again by updates
        "language_means": (ctx.get("embed_report") or {}).get("language_means") or {},
        "feature_scaling": ctx["feature_scaling"],
        "modularity": ctx["modularity"],
        "influence_model": ctx.get("influence_model") or {},
        "topic_outlier_share": (ctx.get("topics_report") or {}).get("outlier_share"),
        "settings": settings_of(cfg),
        # the k the write-back published community rows with: an update compares against them
        "published_min_group_size": cfg.min_group_size,
        # the store's data version the run read (the graph in edges.parquet is that one) and
        # the kind weights baked into its edges
        "graph_version": ctx.get("data_version") or "",
        "graph_kind_weights": kind_weights_in_use(),
    }
    return JobState(
        users=users,
        results=results,
        posts=post_state,
        names=ctx["names"],
        topics=topics if topics is not None else pl.DataFrame(schema={"topic_id": pl.Int64}),
        alerts=alerts if alerts is not None else _no_alerts(),
        model=ctx.get("encoder"),
        meta=meta,
        edges=edge_list(ctx["graph"]) if ctx.get("data_version") else None,
    )


def _no_alerts() -> pl.DataFrame:
    from graphsona.monitor.alerts import ALERT_SCHEMA

    return pl.DataFrame(schema=ALERT_SCHEMA)


def _matrix(column: pl.Series, dtype: Any) -> np.ndarray:
    """A vector column (``Array`` without copying through Python, or ``List``) as a 2-D array."""
    if isinstance(column.dtype, pl.Array):
        return np.array(column.to_numpy(), dtype=dtype)  # a writable copy
    return np.array(column.to_list(), dtype=dtype)


def erase_from_state(work_dir: Path, user_ids: list[str], post_ids: list[str]) -> int:
    """Take erased users (and their posts) out of the saved state; returns user rows removed.

    Every state table loses the rows that are theirs and their ids in lists (see
    :mod:`graphsona.privacy.erasure`). Users whose profile neighbours included an erased user
    get their neighbours searched again among the rest (as an update does). The encoder stays:
    updates keep working, and ``erased_since_full_run`` in the state makes the drift report
    call for a full run, which retrains without them. Written as a new state version.
    """
    from graphsona.privacy.erasure import frame_without

    root = state_dir(work_dir)
    if not (root / "CURRENT").exists():
        return 0
    st = load_state(work_dir)
    gone = set(user_ids)
    keep = ~st.users["user_id"].is_in(list(gone)).to_numpy()
    removed = int((~keep).sum())
    ids = [*user_ids, *post_ids]
    frames = {}
    for name in FILES:
        if name == "users":
            continue
        frames[name], _ = frame_without(getattr(st, name), ids)
    edges = st.edges
    if edges is not None:  # their links go with them (the store loses the same ones)
        edges = edges.filter(~pl.col("src").is_in(list(gone)) & ~pl.col("dst").is_in(list(gone)))
    users = st.users.filter(pl.Series(keep))
    if removed and "knn" in users.columns and users.height > 1:
        from graphsona.gnn.communities import knn_rows

        new_row = np.full(len(keep), -1, dtype=np.int64)
        new_row[keep] = np.arange(int(keep.sum()))
        k = len(st.users["knn"][0])
        nbr = new_row[_matrix(users["knn"], np.int64).reshape(-1, k)]
        sim = _matrix(users["knn_sim"], np.float32).reshape(-1, k)
        redo = np.flatnonzero((nbr < 0).any(1))
        if len(redo):
            z = torch.from_numpy(_matrix(users["profile"], np.float32))
            zc = torch.nn.functional.normalize(z - z.mean(0, keepdim=True), dim=1)
            got_nbr, got_sim = knn_rows(zc, redo, k)
            if got_nbr.shape[1] < k:  # fewer users left than neighbours: repeat the last
                pad = k - got_nbr.shape[1]
                got_nbr = np.concatenate([got_nbr, np.repeat(got_nbr[:, -1:], pad, 1)], 1)
                got_sim = np.concatenate([got_sim, np.repeat(got_sim[:, -1:], pad, 1)], 1)
            nbr[redo], sim[redo] = got_nbr, got_sim
        users = users.with_columns(
            pl.Series("knn", nbr.astype(np.int32)).cast(users.schema["knn"]),
            pl.Series("knn_sim", sim).cast(users.schema["knn_sim"]),
        )
    if (
        not removed
        and not any(frames[n].height != getattr(st, n).height for n in frames)
        and (edges is None or st.edges is None or edges.height == st.edges.height)
    ):  # nothing of theirs here (a rerun after a crash)
        return 0
    meta = {
        **st.meta,
        "run_id": f"{st.meta['run_id'].split('~')[0]}~erased-{os.urandom(4).hex()}",
        "erased_since_full_run": int(st.meta.get("erased_since_full_run", 0)) + removed,
    }
    save_state(work_dir, JobState(users=users, model=st.model, meta=meta, edges=edges, **frames))
    return removed
