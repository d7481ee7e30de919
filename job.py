"""The profiling job: the one place that knows the order of stages.

store -> posts and users -> embeddings -> PyG graph -> GNN profiles -> communities (+ names)
-> influence -> write-back (user properties, community nodes, vector index).

Each stage is a library call usable alone; this module only moves data between them. Resume
and per-stage manifests (skip a stage whose inputs have not changed) are part of the CLI issue
and not here yet.

Example:
    >>> from graphsona.graph import open_store
    >>> with open_store("graphsona-demo/graph.lbdb") as store:           # doctest: +SKIP
    ...     result = run_profile(store, ProfileJobConfig())
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.embeddings import EmbedOptions, VectorCache, embed_users, load_embedder
from graphsona.errors import ConfigError
from graphsona.gnn import (
    ProfileModel,
    name_communities,
    pagerank,
    scale_scores,
    structural_features,
    text_aware_communities,
    text_coherence,
)
from graphsona.graph import GraphStore, to_pyg

__all__ = ["ProfileJobConfig", "ProfileResult", "run_profile"]


@dataclass(frozen=True)
class ProfileJobConfig:
    """Settings of one profiling run (all with defaults).

    Args:
        embedder, embedder_kind: text model (``kind="static"`` is the fast CPU mode).
        cache: on-disk text-vector cache (``None``: no cache).
        dim, epochs, seed: profile dimension, maximum training epochs, seed.
        resolution, min_community_size: community detection.
        profile_property: user property for the profile vector (a vector index is made on it).
    """

    embedder: str = "default"
    embedder_kind: str = "sentence-transformers"
    cache: Path | None = Path.home() / ".cache" / "graphsona" / "vectors.sqlite"
    dim: int = 128
    epochs: int = 100
    seed: int = 0
    resolution: float = 1.0
    min_community_size: int = 5
    profile_property: str = "profile"


@dataclass
class ProfileResult:
    run_id: str
    users: int
    communities: pl.DataFrame
    modularity: float
    text_coherence: float
    best_val_auc: float
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "users": self.users,
            "communities": self.communities.select(
                "community_id", "name", "size", "top_members"
            ).to_dicts(),
            "modularity": round(self.modularity, 4),
            "text_coherence": round(self.text_coherence, 4),
            "best_val_auc": round(self.best_val_auc, 4),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def run_profile(store: GraphStore, config: ProfileJobConfig | None = None) -> ProfileResult:
    """Run every stage on ``store`` and write the results back into it."""
    cfg = config or ProfileJobConfig()
    run_id = uuid.uuid4().hex[:12]
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        timings[name] = time.perf_counter() - t
        t = time.perf_counter()

    graph = to_pyg(store)
    if graph.data.num_nodes < 2 or graph.data.edge_index.shape[1] == 0:
        raise ConfigError("the store holds no users or no edges: load a dataset first")
    users = store.read_users()
    # Posts are read once: embedding streams through them and naming needs them again.
    frames = list(store.iter_posts())
    posts = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={"user_id": pl.String, "text": pl.String})
    )
    lap("read")

    embedder = load_embedder(cfg.embedder, kind=cfg.embedder_kind)
    cache = VectorCache(cfg.cache) if cfg.cache else None
    try:
        text, _ = embed_users(users, posts, embedder, cache=cache, options=EmbedOptions())
    finally:
        if cache is not None:
            cache.close()
    text = graph.ids.join(text, on="user_id", how="left", maintain_order="left")
    tx = torch.from_numpy(
        np.array(text["embedding"].to_numpy(), dtype=np.float32)
    )  # a writable copy
    lap("embed")

    ei, ew = graph.data.edge_index, graph.data.edge_weight
    n_posts = text["n_posts"].fill_null(0).to_numpy()
    has_text = torch.from_numpy(text["has_text"].fill_null(False).to_numpy().astype(np.float32))[
        :, None
    ]
    x = torch.cat([tx, structural_features(ei, graph.data.num_nodes, n_posts), has_text], 1)
    model = ProfileModel(dim=cfg.dim, epochs=cfg.epochs, seed=cfg.seed).fit(x, ei)
    # Centre the profiles: dot-product link decoders leave a large shared component (degree,
    # activity) that would make every pair look similar under cosine similarity.
    profiles = model.get_embedding()
    profiles = profiles - profiles.mean(0, keepdim=True)
    lap("train")

    part = text_aware_communities(
        ei,
        profiles,
        weight=ew,
        resolution=cfg.resolution,
        min_size=cfg.min_community_size,
        seed=cfg.seed,
    )
    pr = pagerank(ei, graph.data.num_nodes, ew)
    score, rank = scale_scores(pr)
    ids = graph.ids["user_id"].to_list()
    names = name_communities(part.membership, ids, posts, influence=score)
    lap("communities")

    name_of = dict(zip(names["community_id"].to_list(), names["name"].to_list(), strict=True))
    now = datetime.now(UTC)
    results = pl.DataFrame(
        {
            "user_id": ids,
            cfg.profile_property: pl.Series(profiles.numpy()).cast(pl.Array(pl.Float32, cfg.dim)),
            "community_id": part.membership,
            "community_name": [name_of[int(c)] for c in part.membership],
            "influence": score,
            "influence_rank": rank,
            "profile_run_id": [run_id] * len(ids),
            "profiled_at": pl.Series([now] * len(ids)).dt.cast_time_unit("us"),
        }
    )
    store.write_user_properties(results)
    store.write_communities(
        names.with_columns(pl.col("community_id").cast(pl.Int64)),
        pl.DataFrame({"user_id": ids, "community_id": part.membership.astype(np.int64)}),
    )
    store.create_vector_index(cfg.profile_property, cfg.dim)
    lap("write_back")
    return ProfileResult(
        run_id=run_id,
        users=len(ids),
        communities=names,
        modularity=part.modularity,
        text_coherence=text_coherence(part.membership, tx),
        best_val_auc=max(model.history.val_auc) if model.history.val_auc else float("nan"),
        seconds=timings,
    )
