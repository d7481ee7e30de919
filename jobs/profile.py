"""The profiling job: the one place that knows the order of stages.

store -> users and posts -> **embed** -> PyG graph -> **train** (GNN profiles) -> **communities**
(+ names) -> **influence** -> **labels** (supervised heads) -> **write-back** (user properties,
community nodes, vector index).

Each stage is a library call usable alone; this module moves data between them and, when a
``work_dir`` is given, makes the job resumable:

* every stage's output is saved in ``work_dir`` with a manifest entry holding the fingerprint of
  its inputs (data hashes plus the settings that change the result);
* a rerun recomputes a stage only when that fingerprint changed (``skipped`` in the result says
  which stages were reused), so after a crash a rerun picks up at the stage that was running;
* training checkpoints every few epochs into ``work_dir/profiles.pt`` and resumes mid-training;
* write-back is skipped when the store already holds this exact result (same run id on every
  user); the run id is a hash of the results, so an unchanged rerun keeps it.

Example:
    >>> from graphsona.graph import open_store
    >>> with open_store("graphsona-demo/graph.lbdb") as store:           # doctest: +SKIP
    ...     result = run_profile(store, ProfileJobConfig(work_dir=Path("runs")))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona._faults import crash_point
from graphsona.embeddings import EmbedOptions, VectorCache, embed_users, load_embedder
from graphsona.embeddings.models import PRECISIONS
from graphsona.errors import ConfigError, StoreError
from graphsona.gnn import (
    ProfileModel,
    influence_scores,
    label_columns,
    leiden,
    match_ids,
    name_communities,
    predict_labels,
    structural_features,
    text_aware_communities,
    text_coherence,
)
from graphsona.gnn.profiles import data_fingerprint
from graphsona.graph import GraphStore, to_pyg
from graphsona.graph.lock import hold

__all__ = ["STAGES", "ProfileJobConfig", "ProfileResult", "run_profile"]

STAGES = ("embed", "train", "communities", "influence", "labels", "write_back")


@dataclass(frozen=True)
class ProfileJobConfig:
    """Settings of one profiling run (all with defaults).

    Args:
        embedder, embedder_kind: text model (``kind="static"`` is the fast CPU mode).
        embedder_precision: ``auto`` (bf16 on CUDA and on CPUs with native bf16), ``fp32`` or
            ``bf16``; see :func:`~graphsona.embeddings.models.resolve_precision`.
        cache: on-disk text-vector cache (``None``: no cache).
        dim, hidden, layers, epochs, patience, lr, weighted, batch_size: GNN (see
            :class:`~graphsona.gnn.ProfileModel`). seed: every random draw.
        resolution, min_community_size: community detection.
        later_fraction: share of timed interactions held out to evaluate influence.
        labels: train supervised heads for ``label_*`` user columns.
        profile_property: user property for the profile vector (a vector index is made on it).
        work_dir: where stage outputs, manifest and checkpoints live (``None``: not kept).
    """

    embedder: str = "default"
    embedder_kind: str = "sentence-transformers"
    embedder_precision: str = "auto"
    cache: Path | None = Path.home() / ".cache" / "graphsona" / "vectors.sqlite"
    dim: int = 128
    hidden: int = 256
    layers: int = 2
    epochs: int = 100
    patience: int = 20
    lr: float = 0.01
    weighted: bool = True
    batch_size: int | None = None
    seed: int = 0
    resolution: float = 1.0
    min_community_size: int = 5
    later_fraction: float = 0.3
    labels: bool = True
    profile_property: str = "profile"
    work_dir: Path | None = None

    def model_kwargs(self, **extra: Any) -> dict[str, Any]:
        """:class:`~graphsona.gnn.ProfileModel` arguments from these settings (plus ``extra``)."""
        keys = ("dim", "hidden", "layers", "epochs", "patience", "lr", "weighted", "batch_size")
        return {**{k: getattr(self, k) for k in keys}, "seed": self.seed, **extra}

    def check(self) -> None:
        errors = []
        for name in ("dim", "hidden", "layers", "epochs", "min_community_size"):
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.resolution <= 0:
            errors.append(f"resolution must be > 0 (got {self.resolution})")
        if not 0 < self.later_fraction < 1:
            errors.append(f"later_fraction must be in (0, 1) (got {self.later_fraction})")
        if self.lr <= 0:
            errors.append(f"lr must be > 0 (got {self.lr})")
        if self.embedder_precision not in PRECISIONS:
            errors.append(
                f"embedder_precision ([model] precision) must be one of {list(PRECISIONS)} "
                f"(got {self.embedder_precision!r})"
            )
        if errors:
            raise ConfigError("invalid profiling config: " + "; ".join(errors))


@dataclass
class ProfileResult:
    run_id: str
    users: int
    communities: pl.DataFrame
    modularity: float
    text_coherence: float
    best_val_auc: float
    leiden_reference: dict[str, Any] = field(default_factory=dict)
    influence: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        def r(v: Any) -> Any:
            return round(v, 4) if isinstance(v, float) else v

        return {
            "run_id": self.run_id,
            "users": self.users,
            "communities": self.communities.select(
                "community_id", "name", "size", "top_members"
            ).to_dicts(),
            "modularity": r(self.modularity),
            "text_coherence": r(self.text_coherence),
            "best_val_auc": r(self.best_val_auc),
            "leiden_reference": {k: r(v) for k, v in self.leiden_reference.items()},
            "influence": {k: r(v) for k, v in self.influence.items()},
            "labels": {k: {m: r(v) for m, v in d.items()} for k, d in self.labels.items()},
            "skipped": self.skipped,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def _hash(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        if isinstance(p, pl.DataFrame):
            rows = np.sort(p.hash_rows(seed=0).to_numpy()) if p.height else np.zeros(0)
            h.update(f"{p.columns}{p.height}".encode())
            h.update(rows.tobytes())
        elif isinstance(p, np.ndarray):
            h.update(f"{p.shape}{p.dtype}".encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, torch.Tensor):
            h.update(data_fingerprint(p).encode())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


class _Stages:
    """Stage outputs and the manifest in ``work_dir`` (or nothing at all when it is ``None``)."""

    def __init__(self, work_dir: Path | None) -> None:
        self.dir = work_dir
        self.manifest: dict[str, Any] = {}
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
            path = work_dir / "manifest.json"
            if path.exists():
                self.manifest = json.loads(path.read_text())

    def path(self, name: str) -> Path | None:
        return None if self.dir is None else self.dir / name

    def file(self, name: str) -> Path:
        """A stage file (only called when ``work_dir`` is set)."""
        if self.dir is None:
            raise ConfigError("no work_dir")
        return self.dir / name

    def fresh(self, stage: str, key: str, *files: str) -> bool:
        if self.dir is None or self.manifest.get(stage, {}).get("key") != key:
            return False
        return all((self.dir / f).exists() for f in files)

    def done(self, stage: str, key: str, **info: Any) -> None:
        if self.dir is None:
            return
        self.manifest[stage] = {"key": key, "at": datetime.now(UTC).isoformat(), **info}
        tmp = self.dir / "manifest.json.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=2, default=str))
        tmp.replace(self.dir / "manifest.json")


def _save(frame: pl.DataFrame, path: Path | None) -> None:
    if path is not None:
        tmp = path.with_suffix(".tmp")
        frame.write_parquet(tmp)
        tmp.replace(path)


def embed_aligned(
    cfg: ProfileJobConfig, users: pl.DataFrame, posts: pl.DataFrame, ids: pl.DataFrame
) -> tuple[pl.DataFrame, Any]:
    """Pooled text vectors per user (``cfg``'s model and cache), in the row order of ``ids``."""
    embedder = load_embedder(cfg.embedder, kind=cfg.embedder_kind, precision=cfg.embedder_precision)
    cache = VectorCache(cfg.cache) if cfg.cache else None
    try:
        text, report = embed_users(users, posts, embedder, cache=cache, options=EmbedOptions())
    finally:
        if cache is not None:
            cache.close()
    return ids.join(text, on="user_id", how="left", maintain_order="left"), report


def _written(store: GraphStore, run_id: str) -> int:
    """Users in the store carrying ``run_id`` (0 when the property does not exist yet)."""
    query = f"MATCH (u:{store.mapping.user_label}) WHERE u.profile_run_id = $r RETURN count(*) AS n"
    try:
        return int(store.run(query, {"r": run_id})["n"][0])
    except StoreError:  # the embedded store rejects a property no user has yet
        return 0


def _rounded(frame: pl.DataFrame, digits: int = 6) -> pl.DataFrame:
    """``frame`` with floats (and float vectors) at ``digits`` significant digits, for hashing.

    Two identical runs differ in float noise (influence by ~1e-14: summation order in the
    power iteration), and the run id must not. Significant digits, not one absolute step,
    because the columns live on very different scales (PageRank ~1/n, logits ~1, vectors ~0.1):
    6 digits sit far above float64 noise (~1e-16 relative) and far below any change a reader
    would call different. Magnitudes under 1e-12 count as 0 (noise around zero has no digits).
    """

    def snap(e: pl.Expr) -> pl.Expr:
        e = e.cast(pl.Float64)
        return pl.when(e.abs() < 1e-12).then(0.0).otherwise(e).round_sig_figs(digits)

    exprs = []
    for name, dt in frame.schema.items():
        c = pl.col(name)
        if dt in (pl.Float32, pl.Float64):
            exprs.append(snap(c).alias(name))
        elif isinstance(dt, pl.Array) and dt.inner in (pl.Float32, pl.Float64):
            flat = c.cast(pl.List(dt.inner)).list.eval(snap(pl.element()))
            exprs.append(flat.list.to_array(dt.size).alias(name))
        elif isinstance(dt, pl.List) and dt.inner in (pl.Float32, pl.Float64):
            exprs.append(c.list.eval(snap(pl.element())).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def run_profile(
    store: GraphStore,
    config: ProfileJobConfig | None = None,
    *,
    progress: Callable[[str, str], None] | None = None,
) -> ProfileResult:
    """Run every stage on ``store`` and write the results back into it.

    ``progress(stage, message)`` is called as stages start, finish or report (epochs).

    The job holds the store's lock and the work dir's lock from start to end (a second job or a
    ``graphsona load`` on the same store is refused with the holder's name; see
    :mod:`graphsona.graph.lock`), refuses a store whose last load did not finish, and checks
    before write-back that no load changed the store while it ran (a Neo4j store shared with
    other machines is not covered by the local lock): if one did, nothing is written and the
    error says to rerun.
    """
    cfg = config or ProfileJobConfig()
    cfg.check()
    with contextlib.ExitStack() as locks:
        locks.enter_context(hold(store.lock_path(), f"the store {store.locator()}"))
        if cfg.work_dir is not None:
            locks.enter_context(
                hold(cfg.work_dir / ".graphsona.lock", f"the work dir {cfg.work_dir}")
            )
        store.check_complete()
        return _run_profile(store, cfg, progress)


def _run_profile(
    store: GraphStore,
    cfg: ProfileJobConfig,
    progress: Callable[[str, str], None] | None,
) -> ProfileResult:
    version = store.data_version()
    say = progress or (lambda stage, msg: None)
    st = _Stages(cfg.work_dir)
    skipped: list[str] = []
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        timings[name] = time.perf_counter() - t
        t = time.perf_counter()

    # --- read
    say("read", "reading the graph")
    graph = to_pyg(store)
    if graph.data.num_nodes < 2 or graph.data.edge_index.shape[1] == 0:
        raise ConfigError("the store holds no users or no edges: load a dataset first")
    users = graph.ids.select("user_id").join(
        store.read_users(), on="user_id", how="left", maintain_order="left"
    )
    frames = list(store.iter_posts())  # read once: embedding and naming both need them
    posts = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={"user_id": pl.String, "text": pl.String})
    )
    lap("read")

    # --- embed
    bio = users.select("user_id", "bio") if "bio" in users.columns else users.select("user_id")
    post_cols = [c for c in ("user_id", "text", "created_at") if c in posts.columns]
    key = _hash(
        "embed",
        cfg.embedder,
        cfg.embedder_kind,
        cfg.embedder_precision,
        asdict(EmbedOptions()),
        bio,
        posts.select(post_cols),
    )
    if st.fresh("embed", key, "text.parquet"):
        text = pl.read_parquet(st.file("text.parquet"))
        skipped.append("embed")
    else:
        say("embed", f"embedding {posts.height:,} posts with {cfg.embedder}")
        text, report = embed_aligned(cfg, users, posts, graph.ids.select("user_id"))
        _save(text, st.path("text.parquet"))
        st.done("embed", key, report=asdict(report))
    tx = torch.from_numpy(np.array(text["embedding"].to_numpy(), dtype=np.float32))
    lap("embed")
    crash_point("profile:embed")

    # --- train
    data = graph.data
    ei, ew = data.edge_index, data.edge_weight
    n = data.num_nodes
    n_posts = text["n_posts"].fill_null(0).to_numpy()
    has_text = torch.from_numpy(text["has_text"].fill_null(False).to_numpy().astype(np.float32))
    x = torch.cat([tx, structural_features(ei, n, n_posts), has_text[:, None]], 1)
    model = ProfileModel(
        **cfg.model_kwargs(),
        progress=lambda e, loss, auc: say(
            "train", f"epoch {e + 1}: loss {loss:.4f}, val AUC {auc:.4f}"
        ),
    )
    key = _hash("train", model.config(), cfg.epochs, x, ei, ew)
    if st.fresh("train", key, "profiles.npy", "follow_bias.npy"):
        profiles = torch.from_numpy(np.load(st.file("profiles.npy")))
        bias = torch.from_numpy(np.load(st.file("follow_bias.npy")))
        best_auc = float(st.manifest["train"]["best_val_auc"])
        skipped.append("train")
    else:
        say("train", f"training on {n:,} users and {ei.shape[1]:,} edges")
        store.release_memory()  # e.g. the embedded store's buffer pool: the GNN needs the RAM
        model.fit(x, ei, ew, checkpoint=st.path("profiles.pt"))
        # Stored profiles are the decoder's unit vectors: cosine similarity between two stored
        # profiles *is* the trained link decoder's score (up to its temperature), so the vector
        # index, similar-user search and who-to-follow all rank by what training optimised.
        profiles = model.get_embedding()
        bias = model.get_target_bias()
        best_auc = max(model.history.val_auc) if model.history.val_auc else float("nan")
        if st.dir is not None:
            np.save(st.dir / "profiles.npy", profiles.numpy())
            np.save(st.dir / "follow_bias.npy", bias.numpy())
        st.done(
            "train",
            key,
            best_val_auc=best_auc,
            epochs=len(model.history.loss),
            best_epoch=model.history.best_epoch,
            mode=model.history.mode,
            resumed_at=model.history.resumed_at,
        )
    lap("train")
    crash_point("profile:train")

    # --- communities (ids matched to the previous run's, as stored on the users)
    ids = graph.ids["user_id"].to_list()
    previous: dict[str, int] = {}
    if "community_id" in users.columns:
        prev = users.select("user_id", "community_id").drop_nulls()
        previous = dict(
            zip(
                prev["user_id"].to_list(),
                prev["community_id"].cast(pl.Int64).to_list(),
                strict=True,
            )
        )
    key = _hash("communities", profiles, ei, ew, cfg.resolution, cfg.min_community_size, cfg.seed)
    if st.fresh("communities", key, "communities.parquet"):
        membership = (
            pl.read_parquet(st.file("communities.parquet"))["community_id"].to_numpy().copy()
        )
        mod = float(st.manifest["communities"]["modularity"])
        reference = dict(st.manifest["communities"].get("leiden_reference", {}))
        skipped.append("communities")
    else:
        say("communities", "finding communities")
        # Centred for clustering: a shared component (degree, activity) would otherwise make
        # every pair look alike.
        part = text_aware_communities(
            ei,
            profiles - profiles.mean(0, keepdim=True),
            weight=ew,
            resolution=cfg.resolution,
            min_size=cfg.min_community_size,
            seed=cfg.seed,
        )
        membership, mod = match_ids(previous, ids, part.membership), part.modularity
        # the structural reference on the same graph, reported next to ours
        ref = leiden(
            ei,
            n,
            weight=ew,
            resolution=cfg.resolution,
            min_size=cfg.min_community_size,
            seed=cfg.seed,
        )
        reference = {
            "communities": ref.n_communities,
            "modularity": ref.modularity,
            "text_coherence": text_coherence(ref.membership, tx),
        }
        _save(
            pl.DataFrame({"user_id": ids, "community_id": membership}),
            st.path("communities.parquet"),
        )
        st.done(
            "communities",
            key,
            modularity=mod,
            communities=len(np.unique(membership)),
            leiden_reference=reference,
        )
    lap("communities")
    crash_point("profile:communities")

    # --- influence
    extra = np.concatenate([tx.numpy(), np.log1p(n_posts.astype(np.float64))[:, None]], 1)
    is_inter = (
        data.edge_type > 0
        if graph.relations[:1] == ["follows"]
        else torch.ones_like(data.edge_type, dtype=torch.bool)
    )
    key = _hash("influence", ei, ew, is_inter, data.edge_time, extra, cfg.later_fraction, cfg.seed)
    if st.fresh("influence", key, "influence.parquet"):
        infl = pl.read_parquet(st.file("influence.parquet"))
        infl_report = st.manifest["influence"]["report"]
        skipped.append("influence")
    else:
        say("influence", "scoring influence")
        res = influence_scores(
            ei,
            n,
            weight=ew,
            is_interaction=is_inter,
            edge_time=data.edge_time,
            extra_features=extra,
            later_fraction=cfg.later_fraction,
            seed=cfg.seed,
        )
        infl = pl.DataFrame(
            {"influence": res.score, "influence_rank": res.rank, "pagerank": res.pagerank}
        )
        infl_report = res.report
        _save(infl, st.path("influence.parquet"))
        st.done("influence", key, report=infl_report)
    lap("influence")

    # --- labels
    cols = label_columns(users) if cfg.labels else []
    label_frame = pl.DataFrame()
    label_report: dict[str, Any] = {}
    if cols:
        key = _hash("labels", profiles, tx, users.select(cols), cfg.seed)
        if st.fresh("labels", key, "labels.parquet"):
            label_frame = pl.read_parquet(st.file("labels.parquet"))
            label_report = st.manifest["labels"]["report"]
            skipped.append("labels")
        else:
            say("labels", f"predicting {', '.join(cols)}")
            feats = np.concatenate([profiles.numpy(), tx.numpy()], 1)
            heads = predict_labels(users.select(cols), feats, seed=cfg.seed)
            label_report = {h.column: {"kind": h.kind, **h.metrics} for h in heads}
            done = [h.frame() for h in heads if h.kind != "skipped"]
            label_frame = pl.concat(done, how="horizontal") if done else pl.DataFrame()
            _save(label_frame, st.path("labels.parquet"))
            st.done("labels", key, report=label_report)
    lap("labels")

    # --- names (cheap; needs posts) and write-back
    score = infl["influence"].to_numpy()
    names = name_communities(membership, ids, posts, influence=score)
    name_of = dict(zip(names["community_id"].to_list(), names["name"].to_list(), strict=True))
    results = pl.DataFrame(
        {
            "user_id": ids,
            cfg.profile_property: pl.Series(profiles.numpy()).cast(pl.Array(pl.Float32, cfg.dim)),
            "community_id": membership.astype(np.int64),
            "community_name": [name_of[int(c)] for c in membership],
            "influence": score,
            "influence_rank": infl["influence_rank"],
            "pagerank": infl["pagerank"],
            "follow_bias": bias.numpy().astype(np.float64),
        }
    )
    if label_frame.width:
        results = pl.concat([results, label_frame], how="horizontal")
    run_id = _hash("run", _rounded(results), _rounded(names.drop("top_members", strict=False)))
    key = run_id
    written = _written(store, run_id)
    if st.fresh("write_back", key) and written == n:
        skipped.append("write_back")
        profiled_at = st.manifest["write_back"]["profiled_at"]
    else:
        if store.data_version() != version:
            raise StoreError(
                "the store's data changed while the job ran (a load started after it); nothing "
                "was written back: rerun graphsona profile to profile the new data"
            )
        say("write_back", f"writing {n:,} profiles back")
        now = datetime.now(UTC)
        profiled_at = now.isoformat()
        results = results.with_columns(
            pl.lit(run_id).alias("profile_run_id"),
            pl.lit(now).dt.cast_time_unit("us").alias("profiled_at"),
        )
        store.write_user_properties(results)
        store.write_communities(
            names.with_columns(pl.col("community_id").cast(pl.Int64)),
            pl.DataFrame({"user_id": ids, "community_id": membership.astype(np.int64)}),
        )
        store.create_vector_index(cfg.profile_property, cfg.dim)
        st.done("write_back", key, profiled_at=profiled_at, users=n)
    lap("write_back")
    return ProfileResult(
        run_id=run_id,
        users=n,
        communities=names,
        modularity=mod,
        text_coherence=text_coherence(membership, tx),
        best_val_auc=best_auc,
        leiden_reference=reference,
        influence=dict(infl_report),
        labels=label_report,
        skipped=skipped,
        seconds=timings,
    )
