"""Export a store's graph to PyTorch Geometric: contiguous indices, typed and weighted edges.

Users get indices ``0..n-1`` in ``user_id`` order; the id map is kept as a polars frame. Edges
are joined to indices in polars (no per-edge Python loops). Relation 0 is ``follows``; each
interaction kind is its own relation. ``edge_weight`` is 1 for follows and
``kind_weight[kind] * weight`` for interactions (weights of merged duplicates are already summed).
``edge_time`` is an interaction's first time in epoch seconds, -1 when unknown; follows get
their time only with ``follow_times=True`` (else -1: most jobs do not need it).

Example:
    >>> g = to_pyg(store)                                                 # doctest: +SKIP
    >>> g.data.edge_index.shape, g.relations                              # doctest: +SKIP
    >>> hetero = g.hetero()                                               # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import torch

with warnings.catch_warnings():  # PyG 2.8 still calls torch.jit.script at import time
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.script.*")
    from torch_geometric.data import Data, HeteroData

from graphsona.errors import ConfigError
from graphsona.graph._base import GraphStore

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "PygGraph",
    "edge_list",
    "graph_from_edges",
    "kind_weights_in_use",
    "to_pyg",
    "upsert_edges",
]

# How much one interaction says about affinity, relative to a follow (1.0). Replies and quotes
# are deliberate engagement; likes are cheap. Unknown kinds get OTHER_KIND_WEIGHT.
DEFAULT_KIND_WEIGHTS = {"reply": 1.0, "quote": 1.0, "repost": 0.8, "mention": 0.6, "like": 0.3}
OTHER_KIND_WEIGHT = 0.5


@dataclass
class PygGraph:
    """A homogeneous PyG ``Data`` with ``edge_type``/``edge_weight``, plus the id map."""

    data: Data
    ids: pl.DataFrame  # user_id (str), index (u32)
    relations: list[str] = field(default_factory=list)  # edge_type value -> relation name

    def hetero(self) -> HeteroData:
        """The same graph as ``HeteroData``: node type ``user``, one edge type per relation."""
        h = HeteroData()
        h["user"].num_nodes = self.data.num_nodes
        for i, rel in enumerate(self.relations):
            mask = self.data.edge_type == i
            store = h["user", rel, "user"]
            store.edge_index = self.data.edge_index[:, mask]
            store.edge_weight = self.data.edge_weight[mask]
        return h

    def index_of(self, user_ids: list[str]) -> torch.Tensor:
        """Indices of the given user ids (ConfigError naming the first unknown id)."""
        frame = pl.DataFrame({"user_id": user_ids}).join(
            self.ids, on="user_id", how="left", maintain_order="left"
        )
        missing = frame.filter(pl.col("index").is_null())
        if missing.height:
            raise ConfigError(f"unknown user id {missing['user_id'][0]!r}")
        return torch.from_numpy(frame["index"].to_numpy().astype(np.int64))


def _indexed(edges: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    return edges.join(ids.rename({"user_id": "src", "index": "s"}), on="src", how="inner").join(
        ids.rename({"user_id": "dst", "index": "d"}), on="dst", how="inner"
    )


def to_pyg(
    store: GraphStore,
    *,
    kind_weights: dict[str, float] | None = None,
    include_follows: bool = True,
    include_interactions: bool = True,
    follow_times: bool = False,
) -> PygGraph:
    """Read users and edges from ``store`` into a :class:`PygGraph`."""
    return to_pyg_frames(
        store.read_user_ids(),
        store.read_follows(with_time=follow_times) if include_follows else None,
        store.read_interactions() if include_interactions else None,
        kind_weights=kind_weights,
        follow_times=follow_times,
    )


def to_pyg_frames(
    user_ids: pl.Series,
    follows: pl.DataFrame | None,
    interactions: pl.DataFrame | None,
    *,
    kind_weights: dict[str, float] | None = None,
    follow_times: bool = False,
) -> PygGraph:
    """The same graph as :func:`to_pyg` from frames (``src, dst[, created_at]`` follows and
    ``src, dst, kind, weight, created_at`` interactions): ``None`` leaves a relation out."""
    weights = {**DEFAULT_KIND_WEIGHTS, **(kind_weights or {})}
    users = user_ids.rename("user_id").to_frame()
    ids = users.sort("user_id").with_row_index("index").select("user_id", "index")
    parts, relations = [], []
    include_follows = follows is not None
    if follows is not None:
        follows = _indexed(follows, ids)
        relations.append("follows")
        ts = (
            pl.col("created_at").dt.epoch("s").fill_null(-1)
            if follow_times
            else pl.lit(-1, pl.Int64)
        )
        parts.append(
            follows.select(
                "s",
                "d",
                pl.lit(0, pl.Int64).alias("t"),
                pl.lit(1.0).alias("w"),
                ts.alias("ts"),
            )
        )
    if interactions is not None:
        inter = _indexed(interactions, ids)
        kinds = sorted(inter["kind"].unique().to_list())
        relations += kinds
        offset = 1 if include_follows else 0
        # explicit dtypes: with no interactions the lists are empty and would be typed Null
        kind_ix = pl.DataFrame(
            {"kind": kinds, "t": np.arange(offset, offset + len(kinds), dtype=np.int64)},
            schema={"kind": pl.String, "t": pl.Int64},
        )
        kw = pl.DataFrame(
            {"kind": kinds, "kw": [weights.get(k, OTHER_KIND_WEIGHT) for k in kinds]},
            schema={"kind": pl.String, "kw": pl.Float64},
        )
        parts.append(
            inter.join(kind_ix, on="kind")
            .join(kw, on="kind")
            .select(
                "s",
                "d",
                "t",
                (pl.col("weight") * pl.col("kw")).alias("w"),
                pl.col("created_at").dt.epoch("s").fill_null(-1).alias("ts"),
            )
        )
    schema = {"s": pl.UInt32, "d": pl.UInt32, "t": pl.Int64, "w": pl.Float64, "ts": pl.Int64}
    edges = pl.concat([p.cast(schema) for p in parts]) if parts else pl.DataFrame(schema=schema)  # type: ignore[arg-type]
    return _graph(edges, ids, relations)


def _graph(edges: pl.DataFrame, ids: pl.DataFrame, relations: list[str]) -> PygGraph:
    edges = edges.sort("t", "s", "d")
    edge_index = torch.from_numpy(
        np.stack([edges["s"].to_numpy(), edges["d"].to_numpy()]).astype(np.int64)
    )
    data = Data(
        edge_index=edge_index,
        edge_type=torch.from_numpy(edges["t"].to_numpy().astype(np.int64)),
        edge_weight=torch.from_numpy(edges["w"].to_numpy().astype(np.float32)),
        edge_time=torch.from_numpy(edges["ts"].to_numpy().astype(np.int64)),
        num_nodes=ids.height,
    )
    return PygGraph(data=data, ids=ids, relations=relations)


def kind_weights_in_use() -> dict[str, float]:
    """The interaction kind weights :func:`to_pyg` applies by default (``"*"``: any other
    kind), recorded beside a saved edge list whose weights include them."""
    return {**DEFAULT_KIND_WEIGHTS, "*": OTHER_KIND_WEIGHT}


EDGE_LIST_SCHEMA = {
    "src": pl.String,
    "dst": pl.String,
    "relation": pl.String,
    "w": pl.Float32,
    "ts": pl.Int64,
}


def edge_list(graph: PygGraph) -> pl.DataFrame:
    """``graph``'s edges by user id and relation name (``src, dst, relation, w, ts``: weight and
    time as in the graph): :func:`graph_from_edges` turns them back into the same graph, for
    the same users or more. An update keeps them beside its state so that it need not read
    every link back from the store (:mod:`graphsona.jobs.update`)."""
    d = graph.data
    ids = graph.ids["user_id"]
    ei = d.edge_index.numpy()
    return pl.DataFrame(
        {
            "src": ids.gather(ei[0]),
            "dst": ids.gather(ei[1]),
            "relation": pl.Series(graph.relations, dtype=pl.String).gather(d.edge_type.numpy()),
            "w": d.edge_weight.numpy(),
            "ts": d.edge_time.numpy(),
        },
        schema=EDGE_LIST_SCHEMA,
    )


def graph_from_edges(user_ids: pl.Series, edges: pl.DataFrame) -> PygGraph:
    """The graph of ``user_ids`` and an :func:`edge_list`: the one :func:`to_pyg_frames` builds
    from the frames the edges came from (``follows`` first, then the interaction kinds in
    sorted order; edges with an end outside ``user_ids`` left out)."""
    users = user_ids.rename("user_id").to_frame()
    ids = users.sort("user_id").with_row_index("index").select("user_id", "index")
    indexed = _indexed(edges, ids)
    kinds = sorted(set(indexed["relation"].unique().to_list()) - {"follows"})
    relations = ["follows", *kinds]
    rel_ix = pl.DataFrame(
        {"relation": relations, "t": np.arange(len(relations), dtype=np.int64)},
        schema={"relation": pl.String, "t": pl.Int64},
    )
    out = indexed.join(rel_ix, on="relation").select(
        pl.col("s").cast(pl.UInt32),
        pl.col("d").cast(pl.UInt32),
        "t",
        pl.col("w").cast(pl.Float64),
        "ts",
    )
    return _graph(out, ids, relations)


def upsert_edges(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Edge lists merged as a store's load merges links (:meth:`GraphStore.load`): a link
    already there (same ``src, dst, relation``) takes the new weight and keeps its time when
    the new one is unknown (-1, as :func:`to_pyg_frames` writes a null time); other new links
    are added."""
    key = ["src", "dst", "relation"]
    new = (
        new.join(old.select(*key, pl.col("ts").alias("ts_old")), on=key, how="left")
        .with_columns(
            pl.when(pl.col("ts") == -1)
            .then(pl.col("ts_old").fill_null(-1))
            .otherwise(pl.col("ts"))
            .alias("ts")
        )
        .select(old.columns)
    )
    return pl.concat([old.join(new.select(key), on=key, how="anti"), new])
