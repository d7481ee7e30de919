"""Recommendations from the enriched graph: who-to-follow and similar users.

Reads what the profiling job wrote (``profile`` vectors, ``community_id``) plus the follow
graph, and ranks in process with numpy/scipy (no per-user database round trips), so batch mode
can cover every user.

**Who to follow** for user ``u``:

* candidates: the 2-hop neighbourhood (users followed by those ``u`` follows) and ``u``'s
  nearest profiles (top ``ann`` by cosine); ``u`` itself and everyone ``u`` already follows
  are excluded;
* candidates also include the top ``ann`` users by decoder score (nearest in the decoder's
  geometry: profile cosine plus the candidate's learned follow bias);
* score: the trained link decoder's probability ``sigmoid(cos(z_u, z_v) / T + b_v)`` — the
  stored profiles are the decoder's unit vectors and ``follow_bias`` its per-user target bias,
  so this is exactly what training optimised;
* reason: mutual follows (how many of ``u``'s followees follow the candidate), shared community
  (with its name), similar interests (cosine);
* a user with no edges at all gets text-only recommendations: ranked by profile cosine alone
  (their profile comes from what they wrote; the graph-learned follow bias is left out), marked
  ``basis = "text-only"``.

**Similar users**: nearest profiles by cosine (the Neo4j vector index does the same through the
``similar_users`` named query; this in-process index serves the embedded store and batch work).

Example:
    >>> ctx = RecContext.from_store(store)                                    # doctest: +SKIP
    >>> who_to_follow(ctx, ["u0000010"], k=5)                                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from graphsona.errors import ConfigError
from graphsona.graph import GraphStore, to_pyg

__all__ = ["DECODER_TEMPERATURE", "RecContext", "similar_users", "who_to_follow"]

DECODER_TEMPERATURE = 0.2  # ProfileModel's default temperature


@dataclass
class RecContext:
    """Everything ranking needs, aligned by row: ids, unit profiles, follows, communities."""

    ids: list[str]
    index: dict[str, int]
    z: np.ndarray  # n x d, unit rows
    bias: np.ndarray  # learned follow bias per user (0 when not written)
    follows: object  # scipy csr (n x n), row follows column
    community: np.ndarray  # -1 when unknown
    community_names: dict[int, str]
    connected: np.ndarray  # bool: has any follow or interaction

    @classmethod
    def from_store(cls, store: GraphStore, profile_property: str = "profile") -> RecContext:
        from scipy.sparse import csr_matrix

        g = to_pyg(store)
        users = g.ids.select("user_id").join(
            store.read_users(), on="user_id", how="left", maintain_order="left"
        )
        if profile_property not in users.columns or users[profile_property].null_count():
            raise ConfigError(
                f"users have no {profile_property!r} vectors: run `graphsona profile` first"
            )
        z = np.asarray(users[profile_property].to_list(), dtype=np.float32)
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        n = len(z)
        d = g.data
        ei = d.edge_index.numpy()
        follow = (
            (d.edge_type == 0).numpy()
            if g.relations[:1] == ["follows"]
            else np.zeros(ei.shape[1], bool)
        )
        f = csr_matrix(
            (np.ones(int(follow.sum()), np.float32), (ei[0][follow], ei[1][follow])), shape=(n, n)
        )
        f.data[:] = 1.0
        connected = np.zeros(n, bool)
        connected[ei[0]] = True
        connected[ei[1]] = True
        comm = (
            users["community_id"].fill_null(-1).to_numpy()
            if "community_id" in users.columns
            else np.full(n, -1)
        )
        names: dict[int, str] = {}
        if "community_name" in users.columns:
            pairs = users.select("community_id", "community_name").drop_nulls().unique()
            names = dict(
                zip(pairs["community_id"].to_list(), pairs["community_name"].to_list(), strict=True)
            )
        ids = users["user_id"].to_list()
        bias = (
            users["follow_bias"].fill_null(0.0).to_numpy().astype(np.float32)
            if "follow_bias" in users.columns
            else np.zeros(n, np.float32)
        )
        return cls(ids, {u: i for i, u in enumerate(ids)}, z, bias, f, comm, names, connected)

    def rows(self, user_ids: list[str]) -> np.ndarray:
        missing = [u for u in user_ids if u not in self.index]
        if missing:
            raise ConfigError(f"unknown user {missing[0]!r}")
        return np.array([self.index[u] for u in user_ids], dtype=np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def _block(n: int) -> int:
    return int(max(1, min(1024, 2**25 // max(n, 1))))  # ~128 MB of float32 scores per block


def who_to_follow(
    ctx: RecContext, user_ids: list[str] | None = None, *, k: int = 10, ann: int = 50
) -> pl.DataFrame:
    """Top ``k`` accounts to follow for each user (all users when ``user_ids`` is None).

    Columns: user_id, candidate_id, rank, score, mutual_follows, same_community, similarity,
    basis ("graph+text" or "text-only"), reason.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1 (got {k})")
    rows = np.arange(len(ctx.ids)) if user_ids is None else ctx.rows(user_ids)
    f = ctx.follows
    n = len(ctx.ids)
    out: list[pl.DataFrame] = []
    for lo in range(0, len(rows), _block(n)):
        b = rows[lo : lo + _block(n)]
        sim = ctx.z[b] @ ctx.z.T  # cosine (unit rows)
        # A user with no edges is outside what the decoder saw in training: rank by profile
        # similarity alone (their profile comes from their own text), without the follow bias.
        logit = sim / DECODER_TEMPERATURE + np.where(
            ctx.connected[b][:, None], ctx.bias[None, :], 0
        )
        fb = f[b]  # type: ignore[index]
        mutual = (fb @ f).toarray()  # 2-hop paths u -> m -> v
        cand = mutual > 0
        top = np.argpartition(-logit, min(ann, n - 1), axis=1)[:, : min(ann + 1, n)]
        cand[np.arange(len(b))[:, None], top] = True
        cand[np.arange(len(b)), b] = False
        fc = fb.tocoo()
        cand[fc.row, fc.col] = False
        masked = np.where(cand, logit, -np.inf)
        kk = min(k, n - 1)
        pick = (
            np.argpartition(-masked, kk - 1, axis=1)[:, :kk] if kk < n else np.argsort(-masked, 1)
        )
        r = np.arange(len(b))[:, None]
        order = np.argsort(-masked[r, pick], axis=1, kind="stable")
        pick = pick[r, order]
        s = masked[r, pick]
        valid = np.isfinite(s)
        src = np.repeat(b, pick.shape[1]).reshape(pick.shape)[valid]
        dst = pick[valid]
        cos = sim[r, pick][valid]
        logits = s[valid]
        mut = mutual[r, pick][valid].astype(np.int64)
        same = (ctx.community[src] == ctx.community[dst]) & (ctx.community[src] >= 0)
        rank = (np.cumsum(valid, axis=1))[valid]
        text_only = ~ctx.connected[src]
        out.append(
            pl.DataFrame(
                {
                    "user_id": [ctx.ids[i] for i in src],
                    "candidate_id": [ctx.ids[i] for i in dst],
                    "rank": rank.astype(np.int64),
                    "score": _sigmoid(logits.astype(np.float64)),
                    "mutual_follows": mut,
                    "same_community": same,
                    "similarity": cos.astype(np.float64),
                    "basis": np.where(text_only, "text-only", "graph+text"),
                    "community": [ctx.community_names.get(int(c), "") for c in ctx.community[dst]],
                }
            )
        )
    frame = pl.concat(out) if out else pl.DataFrame()
    return frame.with_columns(_reason()).drop("community") if frame.height else frame


def _reason() -> pl.Expr:
    parts = [
        pl.when(pl.col("mutual_follows") > 0).then(
            pl.format("{} mutual follow(s)", pl.col("mutual_follows"))
        ),
        pl.when(pl.col("same_community")).then(
            pl.format("same community ({})", pl.col("community"))
        ),
        pl.when(pl.col("similarity") >= 0.5).then(
            pl.format("similar interests ({})", pl.col("similarity").round(2))
        ),
        pl.when(pl.col("basis") == "text-only").then(pl.lit("text only: no connections yet")),
    ]
    return pl.concat_str(parts, separator=" · ", ignore_nulls=True).alias("reason")


def similar_users(ctx: RecContext, user_id: str, *, k: int = 10) -> pl.DataFrame:
    """The ``k`` users with the most similar profiles (cosine), excluding the user."""
    (i,) = ctx.rows([user_id])
    sim = ctx.z @ ctx.z[i]
    sim[i] = -np.inf
    kk = min(k, len(sim) - 1)
    top = np.argpartition(-sim, kk - 1)[:kk] if kk > 0 else np.zeros(0, np.int64)
    top = top[np.argsort(-sim[top], kind="stable")]
    return pl.DataFrame(
        {
            "user_id": [ctx.ids[j] for j in top],
            "rank": np.arange(1, len(top) + 1),
            "score": sim[top].astype(np.float64),
            "community": [ctx.community_names.get(int(ctx.community[j]), "") for j in top],
        }
    )
