"""Neo4j Graph Data Science side by side with graphsona (``graphsona evaluate --gds``).

On the same training graph as :func:`graphsona.jobs.evaluate.evaluate` (held-out follows, and
interactions between held-out pairs, are left out of the projection), the server's GDS library
runs Louvain, Leiden, PageRank and FastRP through Cypher. Their results are scored exactly like
graphsona's: communities by modularity, text coherence and NMI/ARI; PageRank by Spearman with
in-degree; FastRP embeddings by who-to-follow recall/MRR and the linear probe. Wall times
include the Cypher round trip. Projections use graphsona's edge weights (follows 1, interactions
``kind_weight * weight``) and are dropped afterwards; nothing is written to the graph.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.errors import ConfigError, StoreError
from graphsona.gnn.influence import spearman
from graphsona.gnn.metrics import cosine_scorer, ranking_metrics
from graphsona.graph import GraphStore
from graphsona.graph.export import DEFAULT_KIND_WEIGHTS, OTHER_KIND_WEIGHT, PygGraph

__all__ = ["gds_side_by_side"]

_PROJECT = """
MATCH (a:{user})
OPTIONAL MATCH (a)-[r:{rels}]->(b:{user})
WHERE $held[toString(a.{uid}) + '|' + toString(b.{uid})] IS NULL
WITH a, b, CASE WHEN r IS NULL THEN null
               WHEN type(r) = $interacts THEN coalesce(r.{weight}, 1.0) * coalesce($kw[r.{kind}], $other)
               ELSE 1.0 END AS w
WITH gds.graph.project($name, a, b, {{relationshipProperties: {{weight: coalesce(w, 1.0)}}}},
                       {{undirectedRelationshipTypes: $undirected}}) AS g
RETURN g.nodeCount AS nodes, g.relationshipCount AS relationships
"""


def gds_side_by_side(
    store: GraphStore,
    graph: PygGraph,
    *,
    held_edges: torch.Tensor,
    train_follows: torch.Tensor,
    tx: torch.Tensor,
    truth: np.ndarray | None,
    labels: pl.Series | None,
    ks: tuple[int, ...] = (10, 20),
    max_sources: int = 2000,
    seed: int = 0,
    graphsona_seconds: float | None = None,
) -> dict[str, Any]:
    """GDS algorithms' quality and wall time next to graphsona's (Neo4j stores only)."""
    from graphsona._ident import quote
    from graphsona.jobs.evaluate import _partition_scores, probe

    if store.dialect != "neo4j":
        raise ConfigError("the GDS comparison needs a Neo4j store (with the GDS plugin)")
    m = store.mapping
    names = store._names()
    ids = graph.ids["user_id"].to_list()
    held = {f"{ids[a]}|{ids[b]}": True for a, b in held_edges.t().tolist()}
    rels = "|".join(quote(r, "rel") for r in (*m.follows, m.interaction_type or "INTERACTS"))
    query = _PROJECT.format(
        user=quote(m.user_label, "user_label"),
        uid=quote(m.user_id, "user_id"),
        rels=rels,
        weight=quote(names["weight"], "weight"),
        kind=quote(names["kind"], "kind"),
    )
    n = graph.data.num_nodes
    d = graph.data
    out: dict[str, Any] = {}
    tag = uuid.uuid4().hex[:8]
    und, dirg = f"graphsona_eval_u_{tag}", f"graphsona_eval_d_{tag}"
    params = {
        "held": held,
        "kw": DEFAULT_KIND_WEIGHTS,
        "other": OTHER_KIND_WEIGHT,
        "interacts": names["interacts"],
    }
    try:
        t = time.perf_counter()
        store.run(query, {**params, "name": und, "undirected": ["*"]})
        store.run(query, {**params, "name": dirg, "undirected": []})
        out["projection_seconds"] = time.perf_counter() - t
        uid = quote(m.user_id, "user_id")

        def stream(
            call: str, g: str, config: dict[str, Any], col: str
        ) -> tuple[pl.DataFrame, float]:
            t = time.perf_counter()
            frame = store.run(
                f"CALL {call}($g, $config) YIELD nodeId, {col} "
                f"RETURN toString(gds.util.asNode(nodeId).{uid}) AS user_id, {col} AS value",
                {"g": g, "config": config},
            )
            return frame, time.perf_counter() - t

        for algo, call in (("louvain", "gds.louvain.stream"), ("leiden", "gds.leiden.stream")):
            config: dict[str, Any] = {"relationshipWeightProperty": "weight"}
            if algo == "leiden":
                config["randomSeed"] = seed
            frame, secs = stream(call, und, config, "communityId")
            aligned = graph.ids.join(frame, on="user_id", how="left", maintain_order="left")
            mem = aligned["value"].fill_null(-1).to_numpy().astype(np.int64)
            _, mem = np.unique(mem, return_inverse=True)
            out[algo] = {
                **_partition_scores(mem, d.edge_index, d.edge_weight, tx, truth),
                "seconds": secs,
            }
        frame, secs = stream(
            "gds.pageRank.stream", dirg, {"relationshipWeightProperty": "weight"}, "score"
        )
        pr = graph.ids.join(frame, on="user_id", how="left", maintain_order="left")["value"]
        pr_np = pr.fill_null(0.0).to_numpy()
        indeg = np.bincount(d.edge_index[1].numpy(), minlength=n).astype(np.float64)
        out["pagerank"] = {"spearman_indegree": spearman(pr_np, indeg), "seconds": secs}
        frame, secs = stream(
            "gds.fastRP.stream",
            und,
            {
                "embeddingDimension": 128,
                "randomSeed": seed,
                "relationshipWeightProperty": "weight",
                "iterationWeights": [0.0, 1.0, 1.0, 1.0],
            },
            "embedding",
        )
        emb = graph.ids.join(frame, on="user_id", how="left", maintain_order="left")["value"]
        z = np.asarray(emb.to_list(), dtype=np.float32)
        fastrp: dict[str, Any] = {
            "seconds": secs,
            **ranking_metrics(
                cosine_scorer(z),
                train_follows,
                held_edges,
                n,
                ks=ks,
                max_sources=max_sources,
                seed=seed,
            ),
        }
        if labels is not None:
            known = labels.is_not_null().to_numpy()
            fastrp["probe"] = probe(z[known], labels.to_numpy()[known], seed=seed)
        out["fastrp"] = fastrp
        if graphsona_seconds is not None:
            out["graphsona_train_and_communities_seconds"] = graphsona_seconds
    finally:
        for g in (und, dirg):  # best-effort clean-up of the in-memory projections
            with contextlib.suppress(StoreError):
                store.run(
                    "CALL gds.graph.drop($g, false) YIELD graphName RETURN graphName", {"g": g}
                )
    return out
