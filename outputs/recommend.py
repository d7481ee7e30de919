"""Recommendations from the enriched graph: who-to-follow and similar users.

Reads what the profiling job wrote (``profile`` vectors, ``community_id``) plus the follow
graph, and ranks in process with numpy/scipy (no per-user database round trips), so batch mode
can cover every user.

**Who to follow** for user ``u``, in two stages (:mod:`graphsona.gnn.ranker`):

* candidates: the 2-hop neighbourhood (top by Adamic-Adar), the nearest users by the trained
  link decoder and by FastRP, and the most followed users; ``u`` itself and everyone ``u``
  already follows are excluded;
* score: the profile job's learned ranker (a logistic regression over the decoder score,
  profile and FastRP cosines, Adamic-Adar, common neighbours, Jaccard, follow paths and
  degrees), as a probability. The ranker is stored with the profiles it was trained with;
  when there is none (too few follows to learn from, or a store written by an older
  version) the trained link decoder's probability ``sigmoid(cos(z_u, z_v) / T + b_v)`` ranks
  alone, over the 2-hop neighbourhood and the top ``ann`` users by decoder score;
* reason: mutual follows (how many of ``u``'s followees follow the candidate), shared community
  (with its name), similar interests (cosine);
* a user with no edges at all gets text-only recommendations: ranked by profile cosine alone
  (their profile comes from what they wrote; the graph-learned follow bias is left out), marked
  ``basis = "text-only"``;
* a user with no edges *and* no text (no post, no bio) has no evidence at all: their profile is
  the one every such user shares, so a cosine to it means nothing. They get the popular
  accounts instead (the decoder's learned follow bias, then follower count), marked
  ``basis = "popular"``, reason ``popular (N followers)``, ``similarity`` null and ``score``
  the decoder's probability with no similarity term, ``sigmoid(b_v)``; nor are they ever
  recommended to anyone.

**Similar users**: nearest profiles by cosine (the Neo4j vector index does the same through the
``similar_users`` named query; this in-process index serves the embedded store and batch work).

Example:
    >>> ctx = RecContext.from_store(store)                                    # doctest: +SKIP
    >>> who_to_follow(ctx, ["u0000010"], k=5)                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl
from graphsona.errors import ConfigError
from graphsona.gnn.decoder import link_logit
from graphsona.gnn.ranker import FEATURES, LinkRanker, PairGraph, candidates
from graphsona.graph import GraphStore, PygGraph, to_pyg
from graphsona.outputs.summary import require_profiles

__all__ = ["RecContext", "similar_users", "who_to_follow"]


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
    has_text: np.ndarray | None = None  # bool: wrote a post or a bio (None: assume everyone did)
    ranker: LinkRanker | None = None  # the profile job's who-to-follow ranker
    pairs: PairGraph | None = None  # the ranker's feature sources (set with ``ranker``)

    @classmethod
    def from_store(cls, store: GraphStore, profile_property: str = "profile") -> RecContext:
        """From what the profile job wrote: profiles, communities and its ranker (used only
        when it was written by the same run as the profiles)."""
        users = store.read_users()
        ranker = None
        if "profile_run_id" in users.columns and users["profile_run_id"].null_count() == 0:
            run_ids = users["profile_run_id"].unique()
            if len(run_ids) == 1:
                stored = store.read_ranker(str(run_ids[0]))
                ranker = LinkRanker.from_dict(stored) if stored else None
        return cls.from_graph(
            to_pyg(store), users, store.iter_posts(), profile_property, ranker=ranker
        )

    @classmethod
    def from_graph(
        cls,
        g: PygGraph,
        users: pl.DataFrame,
        posts: Iterable[pl.DataFrame],
        profile_property: str = "profile",
        *,
        ranker: LinkRanker | None = None,
    ) -> RecContext:
        """From a graph, users with their results (``profile``, ``follow_bias``, communities)
        and their posts: the store-free path (``graphsona.profile`` on in-memory frames).
        ``ranker``: the job's who-to-follow ranker (None: the decoder ranks alone)."""
        from scipy.sparse import csr_matrix

        users = g.ids.select("user_id").join(users, on="user_id", how="left", maintain_order="left")
        require_profiles(users, profile_property)
        missing = users[profile_property].null_count()
        if missing:
            raise ConfigError(
                f"{missing:,} users have no {profile_property!r} vector (added after the last "
                "profile run?): run graphsona profile again"
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
        wrote: set[str] = set()
        if "bio" in users.columns:  # the bio is pooled with the posts by default
            wrote |= set(_with_text(users, "bio"))
        for chunk in posts:
            wrote |= set(_with_text(chunk, "text"))
        has_text = np.array([u in wrote for u in ids], dtype=bool)
        index = {u: i for i, u in enumerate(ids)}
        pair_graph = None
        if ranker is not None:
            follows = (
                d.edge_index[:, d.edge_type == 0]
                if g.relations[:1] == ["follows"]
                else (d.edge_index[:, :0])
            )
            pair_graph = PairGraph.build(
                d.edge_index, follows, n, z=z, bias=bias, blocked=~connected & ~has_text
            )
        return cls(ids, index, z, bias, f, comm, names, connected, has_text, ranker, pair_graph)

    def rows(self, user_ids: list[str]) -> np.ndarray:
        missing = [u for u in user_ids if u not in self.index]
        if missing:
            raise ConfigError(f"unknown user {missing[0]!r}")
        return np.array([self.index[u] for u in user_ids], dtype=np.int64)


def _with_text(frame: pl.DataFrame, column: str) -> list[str]:
    text = pl.col(column).cast(pl.String)
    keep = frame.filter(text.is_not_null() & (text.str.strip_chars() != ""))
    return keep["user_id"].unique().to_list()


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
    basis ("graph+text", "text-only" or "popular"), reason.

    A user with no edges and no text has no evidence to rank by: no similarity is claimed for
    them (a cosine between two empty profiles is meaningless, not "similar interests"). They
    get the ``k`` most popular accounts instead (highest learned follow bias, then most
    followers), ``basis = "popular"``, reason ``popular (N followers)``, ``similarity`` null,
    ``score = sigmoid(b_v)``. For the same reason such users are never candidates for anyone.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1 (got {k})")
    rows = np.arange(len(ctx.ids)) if user_ids is None else ctx.rows(user_ids)
    f = ctx.follows
    n = len(ctx.ids)
    cold = ~ctx.connected & (~ctx.has_text if ctx.has_text is not None else np.zeros(n, dtype=bool))
    any_cold = bool(cold[rows].any())
    if any_cold:
        followers = np.asarray(f.sum(axis=0)).ravel().astype(np.int64)  # type: ignore[attr-defined]
        popular = np.lexsort((np.arange(n), -followers, -ctx.bias))
        popular = popular[~cold[popular]][:k]  # never another user without evidence
    out: list[pl.DataFrame] = []
    for lo in range(0, len(rows), _block(n)):
        b_all = rows[lo : lo + _block(n)]
        cold_b = cold[b_all]
        if cold_b.any():
            src_c, pos_c = b_all[cold_b], lo + np.flatnonzero(cold_b)
            out.append(_popular(ctx, src_c, pos_c, popular, followers))
        ranked = ~cold_b & ctx.connected[b_all] if ctx.pairs is not None else np.zeros_like(cold_b)
        if ranked.any():
            out.append(_ranked(ctx, b_all[ranked], lo + np.flatnonzero(ranked), k))
        b = b_all[~cold_b & ~ranked]
        if not len(b):
            continue
        pos_b = lo + np.flatnonzero(~cold_b & ~ranked)
        sim = ctx.z[b] @ ctx.z.T  # cosine (unit rows)
        # A user with no edges is outside what the decoder saw in training: rank by profile
        # similarity alone (their profile comes from their own text), without the follow bias.
        logit = link_logit(sim, np.where(ctx.connected[b][:, None], ctx.bias[None, :], 0))
        fb = f[b]  # type: ignore[index]
        mutual = (fb @ f).toarray()  # 2-hop paths u -> m -> v
        cand = mutual > 0
        top = np.argpartition(-logit, min(ann, n - 1), axis=1)[:, : min(ann + 1, n)]
        cand[np.arange(len(b))[:, None], top] = True
        cand[np.arange(len(b)), b] = False
        fc = fb.tocoo()
        cand[fc.row, fc.col] = False
        cand[:, cold] = False  # no edges, no text: nothing says anyone should follow them
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
        pos = np.repeat(pos_b, pick.shape[1]).reshape(pick.shape)[valid]
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
                    "note": pl.Series([None] * len(src), dtype=pl.String),
                    "_pos": pos.astype(np.int64),
                }
            )
        )
    frame = pl.concat(out) if out else pl.DataFrame()
    if not frame.height:  # nobody to recommend (e.g. a store of one user): the same columns
        return pl.DataFrame(schema=_REC_SCHEMA)
    if len(out) > 1:  # popular or ranked rows were built apart: back to the order of ``rows``
        frame = frame.sort("_pos", "rank", maintain_order=True)
    return frame.with_columns(_reason()).drop("community", "note", "_pos")


_REC_SCHEMA = {
    "user_id": pl.String,
    "candidate_id": pl.String,
    "rank": pl.Int64,
    "score": pl.Float64,
    "mutual_follows": pl.Int64,
    "same_community": pl.Boolean,
    "similarity": pl.Float64,
    "basis": pl.String,
    "reason": pl.String,
}


_PATHS = FEATURES.index("log_paths")
_COSINE = FEATURES.index("profile_cosine")


def _ranked(ctx: RecContext, src: np.ndarray, pos: np.ndarray, k: int) -> pl.DataFrame:
    """Top ``k`` of the two-stage recommender (candidates, then the learned ranker) for
    connected users ``src``."""
    assert ctx.ranker is not None and ctx.pairs is not None
    u, v, x = candidates(ctx.pairs, src)
    order = {int(s): p for s, p in zip(src, pos, strict=True)}
    top = (
        pl.DataFrame(
            {
                "_u": u,
                "_v": v,
                "score": _sigmoid(ctx.ranker.score(x).astype(np.float64)),
                "mutual_follows": np.rint(np.expm1(x[:, _PATHS])).astype(np.int64),
                "similarity": x[:, _COSINE].astype(np.float64),
            }
        )
        .sort(["_u", "score", "_v"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_u"))
        .filter(pl.col("rank") <= k)
    )
    su, sv = top["_u"].to_numpy(), top["_v"].to_numpy()
    same = (ctx.community[su] == ctx.community[sv]) & (ctx.community[su] >= 0)
    return pl.DataFrame(
        {
            "user_id": [ctx.ids[i] for i in su],
            "candidate_id": [ctx.ids[i] for i in sv],
            "rank": top["rank"],
            "score": top["score"],
            "mutual_follows": top["mutual_follows"],
            "same_community": same,
            "similarity": top["similarity"],
            "basis": ["graph+text"] * len(su),
            "community": [ctx.community_names.get(int(c), "") for c in ctx.community[sv]],
            "note": pl.Series([None] * len(su), dtype=pl.String),
            "_pos": np.array([order[int(i)] for i in su], dtype=np.int64),
        },
        schema_overrides={"user_id": pl.String, "candidate_id": pl.String, "community": pl.String},
    )


def _popular(
    ctx: RecContext, src: np.ndarray, pos: np.ndarray, order: np.ndarray, followers: np.ndarray
) -> pl.DataFrame:
    """``order`` (the popular accounts) for each of ``src``: users without edges, who follow
    no one, so none of ``order`` is already followed (and ``src`` is not in it)."""
    m = len(order)
    dst = np.tile(order, len(src))
    return pl.DataFrame(
        {
            "user_id": [ctx.ids[i] for i in np.repeat(src, m)],
            "candidate_id": [ctx.ids[i] for i in dst],
            "rank": np.tile(np.arange(1, m + 1, dtype=np.int64), len(src)),
            "score": _sigmoid(ctx.bias[dst].astype(np.float64)),
            "mutual_follows": np.zeros(len(dst), dtype=np.int64),
            "same_community": np.zeros(len(dst), dtype=bool),
            "similarity": pl.Series([None] * len(dst), dtype=pl.Float64),
            "basis": ["popular"] * len(dst),
            "community": [""] * len(dst),
            "note": [f"popular ({followers[i]:,} followers)" for i in dst],
            "_pos": np.repeat(pos, m).astype(np.int64),
        },
        schema_overrides={
            c: pl.String for c in ("user_id", "candidate_id", "basis", "community", "note")
        },
    )


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
        pl.col("note"),
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
