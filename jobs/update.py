"""The incremental update: new and changed users, posts, follows and interactions applied
without a full recompute (``graphsona update DATASET_DIR``; the stream consumers call the same).

It starts from the state the last run kept in the work dir (:mod:`graphsona.jobs.state`) and a
*delta* (a dataset of changes, :func:`~graphsona.loaders.load_delta`), which it upserts into the
store first. Then only what the delta touches is recomputed:

* **touched users**: new users, users named in the delta's users table (bio or properties
  changed), authors of new posts and both ends of new follows and interactions;
* **text**: new posts are embedded (through the vector cache, so a touched user's earlier posts
  cost nothing) and the vectors of users with new posts or a new bio re-pooled;
* **profiles**: touched users' encoder inputs are rebuilt (text, degrees, FastRP with each
  user's basis row of the full run, standardised as the full run did), and the profiles of
  touched users and of their neighbours within the encoder's reach (``layers`` hops) are
  inferred with the full run's trained encoder, no retraining. A profile that moved by less
  than :data:`PROFILE_TOLERANCE` (touched user or neighbour) keeps its stored one; every other
  user keeps its profile bit for bit;
* **communities**: Leiden warm-started from the previous membership (igraph's
  ``initial_membership``), on the same text-aware graph as the full run, with the profile
  neighbours of touched users searched again; only touched users move on their own, every
  other user moves only with its whole community, merged into one node (the dynamic-frontier
  form of incremental Leiden; the graph is a fraction of the full run's, and igraph builds
  graphs at about 1 µs per link); ids matched to the previous ones; a new user starts in the
  community it is most linked to;
* **influence**: PageRank by power iteration warm-started from the previous scores, combined
  with predicted engagement: the full run's engagement model (not refitted) for touched users,
  the kept prediction for everyone else;
* **posts**: new posts get language, sentiment and the nearest fitted topic (topics are refitted
  by the full run); alerts are recomputed over all posts (cheap);
* **light updates** (a stream's micro-batches between its full updates): no Leiden and no
  alerts, and the neighbours' profile refresh and the untouched users' influence scores wait
  for the next full update (:func:`run_update`);
* **write-back**: result rows of users whose results changed (``result_run_id`` records the run
  that produced each row), the whole-graph influence scores where they moved, memberships that
  changed, the new posts' properties and topic links, the alerts. The updated state is saved last.

A crash at any point is repaired by running the same update again: the delta's load is an
upsert, the state is replaced atomically only at the end, and the computation is deterministic,
so the rerun ends where an uninterrupted run would have.

Why not a list of the profile job's stages (as ARCHITECTURE.md proposes for the update): a stage
recomputes its whole output when its fingerprint changes, while every step here patches the
previous output row by row (the state), so the update is its own procedure; it reuses the
stages' parts (text pooling, the encoder's input scaling, the influence inputs, the monitor's
posts) so that both paths compute the same things the same way.

The **drift report** says when a full retrain is due: when users added since the full run pass
:data:`MAX_NEW_SHARE` of the users it trained on, or when the model ranks the delta's new follows
(links it never saw) worse than the full run's validation AUC by more than :data:`MAX_AUC_DROP`;
and when new posts fall outside every fitted topic far more often than the full run's posts did.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from graphsona.errors import ConfigError
from graphsona.graph import GraphStore, to_pyg
from graphsona.graph.export import PygGraph
from graphsona.graph.lock import hold
from graphsona.jobs.runner import Context, fingerprint
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.jobs.state import JobState, _matrix, load_state, save_state
from graphsona.loaders import LoadOptions
from graphsona.loaders.dataset import Dataset
from graphsona.privacy import PrivacySettings
from graphsona.privacy.groups import (
    publishable_alerts,
    publishable_communities,
    publishable_topics,
    topic_authors,
)

__all__ = ["MAX_AUC_DROP", "MAX_NEW_SHARE", "PROFILE_TOLERANCE", "UpdateResult", "run_update"]

Say = Callable[[str, str], None]

#: users added since the full run, as a share of the users it trained on, before a retrain is due
MAX_NEW_SHARE = 0.10
#: how far the model's AUC on new follows may fall below the full run's validation AUC
MAX_AUC_DROP = 0.05
#: new follows needed to measure that AUC at all
MIN_NEW_FOLLOWS = 20
#: extra share of new posts outside every topic (over the full run's) before a refit is due
MAX_OUTLIER_RISE = 0.15
#: a profile inferred again that moved less than this (cosine distance to its stored value)
#: only because its neighbourhood changed keeps the stored value. Measured on a synthetic graph
#: (tests' split, 600 users): the median refreshed profile moved 1.6e-4, 85% moved less than
#: 1e-3; at 100k users every profile is within two hops of the 1% new users' links, and
#: writing them all back was the largest part of the update.
PROFILE_TOLERANCE = 1e-3


@dataclass
class UpdateResult:
    run_id: str
    users: int
    new_users: int
    touched_users: int
    refreshed_profiles: int
    written_users: int
    new_posts: int
    communities_kept: float  # share of earlier users whose community id did not change
    moved_users: int
    pagerank_iterations: int
    alerts: int
    drift: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: alerts raised by this update that the previous state did not hold (one dict each)
    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    #: the state this update saved, for the next update of the same process (``run_update``'s
    #: ``state``); not part of the summary
    state: JobState | None = field(default=None, repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        # not asdict(): it would deep-copy the state's frames
        out = {
            f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "state"
        }
        out["new_alerts"] = len(self.new_alerts)
        out["communities_kept"] = round(self.communities_kept, 4)
        out["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        return out


def run_update(
    store: GraphStore,
    delta: Dataset | Path | str,
    config: ProfileJobConfig | None = None,
    *,
    progress: Say | None = None,
    source: str | None = None,
    light: bool = False,
    privacy: PrivacySettings | None = None,
    state: JobState | None = None,
) -> UpdateResult:
    """Apply ``delta`` (a folder of changes, or a validated :class:`Dataset` from
    :func:`~graphsona.loaders.load_delta`) to ``store`` and update every result it touches.

    Needs the work dir of an earlier full run (``config.work_dir``); the update continues that
    run's model and settings (:func:`_continue`). Holds the store's and the work dir's locks
    like ``graphsona profile``.

    ``light`` (what a stream's micro-batches use between full updates): no Leiden (earlier
    users keep their community, a new user joins the community it is most linked to, or one of
    its own) and no alert detection (the last alerts stand); profiles and influence scores are
    written for the touched users only: their untouched neighbours whose profile moved are
    marked (``profile_pending`` in the state) and refreshed, with everyone's moved influence
    scores, by the next update that is not light. Everything else as above.

    The changes are read with the store's own privacy policy (:func:`delta_options`): a
    pseudonymised store gets pseudonyms again, with the key found through ``privacy`` (its
    ``key_file``) or the usual places; ``privacy.reid_table`` is extended with new users.

    ``state``: the ``state`` of the previous :class:`UpdateResult` of this process, used instead
    of reading the work dir's state when it is still the current one there
    (:func:`~graphsona.jobs.state.load_state`); a stream passes it from batch to batch.
    """
    cfg = config or ProfileJobConfig()
    cfg.check()
    if cfg.work_dir is None:
        raise ConfigError("an update needs the work dir of the full run it continues")
    say = progress or (lambda stage, message: None)
    with contextlib.ExitStack() as locks:
        locks.enter_context(hold(store.lock_path(), f"the store {store.locator()}"))
        locks.enter_context(hold(cfg.work_dir / ".graphsona.lock", f"the work dir {cfg.work_dir}"))
        state = load_state(cfg.work_dir, held=state)
        cfg = _continue(state, cfg)
        store.check_complete()
        saved = saved_graph_matches(store, state)
        if not isinstance(delta, Dataset):
            from graphsona.loaders import load_delta

            source = source or str(delta)
            opts = delta_options(store, privacy)
            # the store's users are the state's while the store is at the state's version
            known = state.users["user_id"] if saved else store.read_user_ids()
            delta, _ = load_delta(delta, known, opts)
            result = _Update(store, cfg, state, delta, say, light=light, saved=saved).run(source)
            if opts.privacy is not None and privacy is not None and privacy.reid_table:
                opts.privacy.write_reid(privacy.reid_table)
            return result
        return _Update(store, cfg, state, delta, say, light=light, saved=saved).run(source)


def saved_graph_matches(store: GraphStore, state: JobState) -> bool:
    """Whether ``state``'s edge list is the store's graph: the store is still at the data
    version the state's run read or wrote (every :meth:`GraphStore.load` draws a new one).
    The update then also checks the counts after loading its changes (:meth:`_Update._graph`),
    which catches links written around graphsona (a Cypher ``CREATE`` by hand)."""
    from graphsona.graph.export import kind_weights_in_use

    version = state.meta.get("graph_version")
    return bool(
        state.edges is not None
        and version
        and store.data_version() == version
        # the weights baked into the saved edges are today's
        and state.meta.get("graph_kind_weights") == kind_weights_in_use()
        # an erasure changes no data version: the users must still be the state's
        and store.link_counts()["users"] == state.users.height
    )


def delta_options(
    store: GraphStore, privacy: PrivacySettings | None = None, *, strict: bool = False
) -> LoadOptions:
    """How changes to ``store`` are read: with the privacy policy its first load recorded
    (:func:`~graphsona.privacy.store_policy`), so the same person gets the same pseudonym."""
    from graphsona.loaders import LoadOptions
    from graphsona.privacy import store_policy

    return LoadOptions(strict=strict, privacy=store_policy(store.read_meta(), privacy))


def _continue(state: JobState, cfg: ProfileJobConfig) -> ProfileJobConfig:
    """``cfg`` with the settings of the full run the update continues (its text model, profile
    property, community and topic settings, seed): an update never mixes two models' vectors.
    The monitor's bucket and the cache stay as configured."""
    if state.model is None:
        raise ConfigError(
            "the full run trained no model (fewer edges than training needs): run "
            "`graphsona profile` again once the graph has links"
        )
    s = state.meta.get("settings", {})
    keep = (
        "embedder",
        "embedder_kind",
        "embedder_precision",
        "image_embedder",
        "resolution",
        "min_community_size",
        "profile_property",
        "topics",
        "chinese_sentiment",
        "seed",
    )
    same = {k: s[k] for k in keep if k in s}
    same.setdefault("image_embedder", None)  # a run from before image posts had none
    same.setdefault("chinese_sentiment", "lexicon")  # what runs before the setting used
    # an update is small: it runs in this process even when the config names a Ray cluster
    return replace(cfg, **same, ray=None)


class _Update:
    """One update's working data; :meth:`run` is the whole procedure."""

    def __init__(
        self,
        store: GraphStore,
        cfg: ProfileJobConfig,
        state: JobState,
        delta: Dataset,
        say: Say,
        *,
        light: bool = False,
        saved: bool = False,
    ) -> None:
        self.store, self.cfg, self.state, self.delta, self.say = store, cfg, state, delta, say
        self.light = light
        self.saved = saved  # the state's edge list is the store's graph before this update
        self.knn: tuple[np.ndarray, np.ndarray] | None = None
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def _lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._t
        self._t = now

    # ------------------------------------------------------------------ the procedure
    def run(self, source: str | None) -> UpdateResult:
        d = self.delta
        self.say(
            "load",
            f"loading the changes ({d.posts.height:,} posts, "
            f"{d.follows.height + d.interactions.height:,} links, {d.users.height:,} users)",
        )
        if d.users.height or d.posts.height or d.follows.height or d.interactions.height:
            self.store.load(d, source=source)
        self.loaded_version = self.store.data_version()  # the version this graph is
        self.graph = self._graph()
        self._lap("load")
        self._align()
        self._touched()
        self._lap("read")
        self._text()
        self._lap("embed")
        self._profiles()
        self._lap("profiles")
        self._communities()
        self._lap("communities")
        self._influence()
        self._lap("influence")
        self._posts()
        self._lap("posts")
        self._results()
        self._lap("results")
        self._write()
        self._lap("write_back")
        drift = self._drift()
        saved = self._new_state(drift)
        save_state(self.cfg.work_dir, saved)  # type: ignore[arg-type]
        self._lap("state")
        old_ids = ~self.is_new
        kept = (
            float((self.membership[old_ids] == self.prev_membership[old_ids]).mean())
            if old_ids.any()
            else 1.0
        )
        return UpdateResult(
            run_id=self.run_id,
            users=self.n,
            new_users=int(self.is_new.sum()),
            touched_users=int(self.touched.sum()),
            refreshed_profiles=int(self.refreshed.sum()),
            written_users=self.written,
            new_posts=self.new_posts.height,
            communities_kept=kept,
            moved_users=int((self.membership[old_ids] != self.prev_membership[old_ids]).sum()),
            pagerank_iterations=self.pr_iterations,
            alerts=self.alerts.height,
            drift=drift,
            seconds=self.seconds,
            new_alerts=self._new_alerts(),
            state=saved,
        )

    # ------------------------------------------------------------------ steps
    def _graph(self) -> PygGraph:
        """The graph after this update's changes: the saved edge list with the changes merged
        in as the store merged them (:func:`~graphsona.graph.export.upsert_edges`), when the
        saved list is the store's graph (:func:`saved_graph_matches`) and the store's counts
        agree; else read from the store (and its edge list kept for the next update)."""
        from graphsona.graph.export import edge_list, graph_from_edges, to_pyg_frames, upsert_edges

        st, d = self.state, self.delta
        if self.saved and st.edges is not None:
            ids = pl.concat([st.users["user_id"], d.users["user_id"]]).unique()
            mine = edge_list(to_pyg_frames(ids, d.follows, d.interactions))
            edges = upsert_edges(st.edges, mine)
            follows = int((edges["relation"] == "follows").sum())
            counts = self.store.link_counts()
            if (
                counts.get("users") == ids.len()
                and counts.get("follows") == follows
                and counts.get("interactions") == edges.height - follows
            ):
                self.edges = edges
                return graph_from_edges(ids, edges)
            self.say("load", "the store's links differ from the saved graph: reading them all")
        graph = to_pyg(self.store)
        self.edges = edge_list(graph)
        return graph

    def _align(self) -> None:
        """The store's users (sorted ids) against the state's rows."""
        ids = self.graph.ids.select("user_id")
        self.ids = ids["user_id"]
        self.n = ids.height
        old = self.state.users.with_row_index("old_row")
        self.rows = ids.join(old, on="user_id", how="left", maintain_order="left")
        self.is_new = self.rows["old_row"].is_null().to_numpy()
        self.old_row = self.rows["old_row"].fill_null(-1).to_numpy().astype(np.int64)
        d = self.graph.data
        self.ei, self.ew = d.edge_index, d.edge_weight

    def _touched(self) -> None:
        d, index = self.delta, self.graph.ids

        def hit(named: list[pl.Series]) -> np.ndarray:
            mask = self.is_new.copy()
            if named:
                who = pl.concat([s.cast(pl.String) for s in named]).unique().to_frame("user_id")
                mask[who.join(index, on="user_id", how="inner")["index"].to_numpy()] = True
            return mask

        # whose text changed (re-pooled), and whose inputs changed at all (text or links)
        self.text_touched = hit([d.users["user_id"], d.posts["user_id"]])
        links = [e[c] for e in (d.follows, d.interactions) for c in ("src", "dst")]
        self.touched = self.text_touched | hit(links)

    def _text(self) -> None:
        """Re-pool the touched users' text vectors (new posts embedded, old ones from the cache)."""
        st, cfg = self.state, self.cfg
        text_dim = int(st.meta["text_dim"])
        x_old = np.array(st.users["x"].to_numpy(), dtype=np.float32)
        f = x_old.shape[1]
        x = np.zeros((self.n, f), dtype=np.float32)
        have = ~self.is_new
        x[have] = x_old[self.old_row[have]]
        self.x = x
        n_posts = np.zeros(self.n, dtype=np.int64)
        n_posts[have] = st.users["n_posts"].to_numpy()[self.old_row[have]]
        self.n_posts = n_posts
        # posts: the state's, with the delta's replacing any of the same id
        new = self.delta.posts
        keep = st.posts.filter(~pl.col("post_id").is_in(new["post_id"].implode()))
        self.new_posts = new
        self.kept_posts = keep
        # users touched only by new links keep their text vector
        touched_ids = self.ids.filter(pl.Series(self.text_touched))
        if touched_ids.len() == 0:
            return
        bios = st.users.select("user_id", "bio") if "bio" in st.users.columns else None
        users = touched_ids.to_frame()
        if bios is not None:
            users = users.join(bios, on="user_id", how="left")
        if "bio" in self.delta.users.columns:
            fresh = self.delta.users.select("user_id", pl.col("bio").alias("new_bio"))
            users = users.join(fresh, on="user_id", how="left")
            if "bio" in users.columns:
                users = users.with_columns(pl.coalesce("new_bio", "bio").alias("bio"))
                users = users.drop("new_bio")
            else:
                users = users.rename({"new_bio": "bio"})
        self.bios = users
        cols = ["user_id", "text", "created_at", "lang"]
        old_text = keep.filter(pl.col("user_id").is_in(touched_ids.implode()))
        old_text = old_text.select([c for c in cols if c in old_text.columns])
        new_text = new.select([c for c in cols if c in new.columns])
        posts = pl.concat([old_text, new_text], how="diagonal_relaxed")
        if posts.height or ("bio" in users.columns and users["bio"].drop_nulls().len()):
            from graphsona.jobs.stages import embed_aligned

            self.say("embed", f"re-pooling {users.height:,} users ({new.height:,} new posts)")
            means = st.meta.get("language_means") or None
            images = None
            if cfg.image_embedder:  # the store has the new posts by now: their images too
                images = self.store.read_post_images()
                images = images.filter(pl.col("user_id").is_in(touched_ids.implode()))
            text, _ = embed_aligned(cfg, users, posts, users.select("user_id"), means, images)
            t_idx = np.flatnonzero(self.text_touched)
            vec = np.array(text["embedding"].to_numpy(), dtype=np.float32)
            if vec.ndim == 2 and vec.shape[1] == text_dim:
                x[t_idx, :text_dim] = vec
            x[t_idx, -1] = text["has_text"].fill_null(False).to_numpy().astype(np.float32)
            n_posts[t_idx] = text["n_posts"].fill_null(0).to_numpy()
        else:
            t_idx = np.flatnonzero(self.text_touched)
            x[t_idx, :text_dim] = 0.0
            x[t_idx, -1] = 0.0

    def _profiles(self) -> None:
        """Touched users' structural inputs rebuilt; profiles of everyone within the encoder's
        reach of them inferred with the full run's encoder."""
        from graphsona.gnn import ProfileModel
        from graphsona.gnn.baselines import fastrp, fastrp_rows
        from graphsona.jobs.stages import FASTRP_INPUT_DIM, isolated_text_profiles, structural_raw

        st, n = self.state, self.n
        text_dim = int(st.meta["text_dim"])
        scale = st.meta["feature_scaling"]
        t_idx = np.flatnonzero(self.touched)
        # FastRP basis: the full run's row per user; new users a row seeded by their id
        signs = np.zeros((n, FASTRP_INPUT_DIM), dtype=np.float32)
        have = ~self.is_new
        old_basis = np.array(st.users["basis"].to_numpy(), dtype=np.float32)
        signs[have] = old_basis[self.old_row[have]] * np.sqrt(3.0)
        new_ids = self.ids.filter(pl.Series(self.is_new)).to_list()
        if new_ids:
            signs[self.is_new] = fastrp_rows(new_ids, FASTRP_INPUT_DIM)
        self.basis = signs
        deg = np.bincount(self.ei.reshape(-1).numpy(), minlength=n)
        if len(t_idx):
            raw = structural_raw(self.ei, n, self.n_posts).numpy()
            s_mean, s_std = np.array(scale["struct_mean"]), np.array(scale["struct_std"])
            struct = (raw[t_idx] - s_mean) / s_std
            fr = fastrp(self.ei, n, basis=signs, rows=t_idx)
            f_mean, f_std = np.array(scale["fastrp_mean"]), np.array(scale["fastrp_std"])
            fr = (fr - f_mean) / f_std
            fr[deg[t_idx] == 0] = 0.0
            a = text_dim
            self.x[t_idx, a : a + 3] = struct
            self.x[t_idx, a + 3 : a + 3 + FASTRP_INPUT_DIM] = fr
        z_old = np.array(st.users["profile"].to_numpy(), dtype=np.float32)
        z = np.zeros((n, z_old.shape[1]), dtype=np.float32)
        z[have] = z_old[self.old_row[have]]
        bias = np.zeros(n, dtype=np.float32)
        bias[have] = st.users["bias"].to_numpy()[self.old_row[have]]
        refreshed = np.zeros(n, dtype=bool)
        # neighbours whose refresh a light update deferred (see below): an update that is not
        # light infers them again (themselves only: their neighbours' inputs did not change)
        pending = np.zeros(n, dtype=bool)
        if "profile_pending" in st.users.columns:
            pending[have] = st.users["profile_pending"].to_numpy()[self.old_row[have]]
        also = None if self.light else np.flatnonzero(pending)
        if len(t_idx) or (also is not None and len(also)):
            model = ProfileModel.restore(st.model)  # type: ignore[arg-type]
            # only users within the encoder's reach of the touched ones can change
            held = "" if also is None or not len(also) else f" and {len(also):,} held back"
            self.say(
                "profiles", f"inferring the profiles around {len(t_idx):,} touched users{held}"
            )
            reach_t, zr, br = model.embed_around(
                torch.from_numpy(self.x),
                self.ei,
                self.ew,
                torch.from_numpy(t_idx),
                None if also is None else torch.from_numpy(also),
            )
            reach, zr_np, br_np = reach_t.numpy(), zr.numpy(), br.numpy()
            # a profile that moved by less than the tolerance (cosine to the stored one above
            # 1 - tolerance) keeps its stored value bit for bit and is not written back, a
            # touched user's as well as a neighbour's: one new link among a user's dozens
            # moves it by less than that (70% of the touched users of a 1% update at 100k,
            # whose rewriting was a third of the update's write-back). New users (no stored
            # profile) always move. The comparison is with the stored profile, so small moves
            # over several updates add up until one is written.
            moved = (zr_np * z[reach]).sum(1) < 1.0 - PROFILE_TOLERANCE
            if self.light:
                # a light update (a stream's micro-batch) refreshes the touched users only;
                # their untouched neighbours that moved are marked and refreshed by the next
                # full update (fewer rows written per micro-batch)
                later = moved & ~self.touched[reach]
                pending[reach[later]] = True
                moved &= self.touched[reach]
            else:
                pending[:] = False  # every pending user was inferred: written if it moved
            take = reach[moved]
            pending[take] = False
            z[take], bias[take] = zr_np[moved], br_np[moved]
            refreshed[take] = True
            lone = refreshed & (deg == 0) & (self.x[:, -1] > 0)
            if lone.any():
                zt = isolated_text_profiles(
                    torch.from_numpy(z),
                    torch.from_numpy(self.x[:, :text_dim]),
                    torch.from_numpy(self.x[:, -1] > 0),
                    self.ei,
                    seed=self.cfg.seed,
                )
                z[lone] = zt.numpy()[lone]
        self.z, self.bias, self.refreshed, self.pending = z, bias, refreshed, pending

    def _centred(self) -> torch.Tensor:
        zc = torch.from_numpy(self.z - self.z.mean(0, keepdims=True))
        return torch.nn.functional.normalize(zc, dim=1)

    def _knn(self) -> tuple[np.ndarray, np.ndarray]:
        """Each user's profile neighbours: the state's lists renumbered to today's rows, those
        of new users and users whose text changed searched again (exactly, against everyone);
        users whose profile moved only through new links keep theirs until the next full run
        (searching every refreshed user would be the full run's k-NN again: 46 s of a 86 s
        update at 100k users)."""
        from graphsona.gnn.communities import knn_rows

        st, n = self.state, self.n
        have = ~self.is_new
        zc = self._centred()
        k = len(st.users["knn"][0]) if st.users.height else 10
        nbr = np.zeros((n, k), dtype=np.int64)
        sim = np.zeros((n, k), dtype=np.float32)
        old_to_new = np.full(st.users.height, -1, dtype=np.int64)
        old_to_new[self.old_row[have]] = np.flatnonzero(have)
        old_nbr = _matrix(st.users["knn"], np.int64).reshape(-1, k)
        old_sim = _matrix(st.users["knn_sim"], np.float32).reshape(-1, k)
        nbr[have] = old_to_new[old_nbr[self.old_row[have]]]
        sim[have] = old_sim[self.old_row[have]]
        redo = np.flatnonzero(self.text_touched)
        if len(redo):
            nbr[redo], sim[redo] = knn_rows(zc, redo, k)
        return nbr, sim

    def _communities(self) -> None:
        from graphsona.gnn import leiden, match_ids, text_aware_communities

        st, n, c = self.state, self.n, self.cfg
        have = ~self.is_new
        prev = np.full(n, -1, dtype=np.int64)
        prev[have] = st.users["community_id"].to_numpy()[self.old_row[have]]
        self.prev_membership = prev
        initial = _warm_start(prev, self.ei, self.ew, n)
        ew = self.ew
        if self.light:  # no Leiden: earlier users stay, new users join (see run_update)
            self.knn = self._knn() if "knn" in st.users.columns else None
            self.membership = _joined(prev, self.ei, self.ew, n)
            self.modularity = float(st.meta.get("modularity", float("nan")))
            return
        if "knn" in st.users.columns:
            self.knn = self._knn()
            zc = self._centred()
            part = text_aware_communities(
                self.ei,
                zc,
                weight=ew,
                resolution=c.resolution,
                min_size=c.min_community_size,
                seed=c.seed,
                initial=initial,
                knn=self.knn,
                free=self.touched,
            )
        else:
            self.knn = None
            part = leiden(
                self.ei,
                n,
                weight=ew,
                resolution=c.resolution,
                min_size=c.min_community_size,
                seed=c.seed,
                initial=initial,
                free=self.touched,
            )
        previous = dict(
            zip(
                st.users["user_id"].to_list(),
                st.users["community_id"].cast(pl.Int64).to_list(),
                strict=True,
            )
        )
        self.membership = match_ids(previous, self.ids.to_list(), part.membership)
        self.modularity = part.modularity

    def _influence(self) -> None:
        from graphsona.gnn import influence_scores
        from graphsona.gnn.influence import combine_scores, pagerank_warm, rescore
        from graphsona.jobs.stages import InfluenceStage

        st, n = self.state, self.n
        start = np.full(n, 1.0 / n)
        have = ~self.is_new
        start[have] = st.users["pagerank"].to_numpy()[self.old_row[have]]
        pr, self.pr_iterations = pagerank_warm(self.ei, n, self.ew, start)
        d = self.graph.data
        ctx: Context = {
            "edge_index": self.ei,
            "edge_weight": self.ew,
            "edge_type": d.edge_type,
            "edge_time": d.edge_time,
            "relations": self.graph.relations,
            "tx": torch.from_numpy(self.x[:, : int(st.meta["text_dim"])]),
            "n_posts": self.n_posts,
        }
        stage = InfluenceStage(self.cfg)
        ei, ew, is_inter, _, extra = stage._inputs(ctx)
        model = st.meta.get("influence_model") or {}
        if model and "engagement" in st.users.columns:
            # predicted engagement: the full run's model on the changed graph for touched users
            # (no refit); everyone else keeps the value the last run gave them, so that users
            # far from the changes move only with PageRank
            _, _, predicted = rescore(
                ei,
                n,
                weight=ew,
                is_interaction=is_inter,
                extra_features=extra,
                pagerank_scores=pr,
                model=model,
            )
            kept = np.full(n, np.nan)
            kept[have] = st.users["engagement"].to_numpy()[self.old_row[have]]
            fresh = self.touched | np.isnan(kept)
            self.engagement = np.where(fresh, predicted, kept)
            score, rank = combine_scores(pr, self.engagement)
        else:  # a state from before the model was kept: refit as the full run does
            res = influence_scores(
                ei,
                n,
                weight=ew,
                is_interaction=is_inter,
                edge_time=stage._inputs(ctx)[3],
                extra_features=extra,
                later_fraction=self.cfg.later_fraction,
                seed=self.cfg.seed,
                pagerank_scores=pr,
            )
            score, rank = res.score, res.rank
            self.engagement = res.predicted_engagement
        self.influence = pl.DataFrame({"influence": score, "influence_rank": rank, "pagerank": pr})

    def _posts(self) -> None:
        """New posts: language and sentiment, nearest topic; all posts' alerts."""
        from graphsona.monitor.alerts import ALERT_SCHEMA, detect_alerts, no_topics
        from graphsona.text.sentiment import score_posts
        from graphsona.text.topics import assign_topics

        st, new = self.state, self.new_posts
        scored = score_posts(
            new.select("post_id", "user_id", "created_at", "text", "lang"),
            chinese=self.cfg.chinese_sentiment,
            cache=self.cfg.cache,
            say=lambda message: self.say("posts", message),
        )
        scored = scored.drop("sentiment_method", strict=False)
        topics = st.topics
        if "topic_id" in st.posts.columns:
            if new.height and topics.height:
                from graphsona.jobs.classify import post_vectors

                c = self.cfg
                vectors = post_vectors(
                    new["text"].to_list(),
                    c.embedder,
                    c.embedder_kind,
                    c.cache,
                    c.embedder_precision,
                )
                tid, sim = assign_topics(vectors, topics)
            else:
                tid = np.full(new.height, -1, dtype=np.int64)
                sim = np.zeros(new.height, dtype=np.float32)
            scored = scored.with_columns(
                pl.Series("topic_id", tid, dtype=pl.Int64),
                pl.Series("similarity", sim, dtype=pl.Float32),
            )
        self.new_scored = scored
        posts = pl.concat(
            [
                self.kept_posts,
                scored.select([c for c in self.kept_posts.columns if c in scored.columns]),
            ],
            how="diagonal_relaxed",
        )
        self.posts = posts
        if "topic_id" in posts.columns and topics.height:
            sizes = posts.filter(pl.col("topic_id") >= 0).group_by("topic_id").len("size")
            topics = (
                topics.drop("size")
                .join(sizes, on="topic_id", how="left")
                .with_columns(pl.col("size").fill_null(0).cast(pl.Int64))
                .select(st.topics.columns)
            )
        self.topics = topics
        timed = "created_at" in posts.columns and posts["created_at"].drop_nulls().len() > 0
        if self.light:  # alerts as the last full update left them
            self.alerts = st.alerts
        elif timed:
            from graphsona.jobs.stages import monitored_posts

            ctx: Context = {
                "ids": self.graph.ids,
                "membership": self.membership,
                "post_sentiment": posts.drop("topic_id", "similarity", "text", strict=False),
                "post_topics": posts.select("post_id", "user_id", "topic_id", "similarity")
                if "topic_id" in posts.columns
                else None,
                "posts": posts.select("post_id", "user_id", "text"),
            }
            influence = pl.DataFrame(
                {"user_id": self.ids, "influence": self.influence["influence"]}
            )
            self.alerts = detect_alerts(
                monitored_posts(ctx),
                topics if topics.height else no_topics(),
                influence,
                bucket=self.cfg.bucket,
            )
        else:
            self.alerts = pl.DataFrame(schema=ALERT_SCHEMA)

    def _results(self) -> None:
        """The per-user results frame for everyone, and the rows that changed."""
        from graphsona.gnn import name_communities
        from graphsona.jobs.stages import _rounded
        from graphsona.text.sentiment import community_mood, user_mood
        from graphsona.text.topics import topic_mix

        st = self.state
        members = pl.DataFrame({"user_id": self.ids, "community_id": self.membership})
        # names: kept for communities that existed; new ones named from their members' posts
        old_names = st.names
        known = set(old_names["community_id"].to_list())
        fresh = sorted(set(np.unique(self.membership).tolist()) - known)
        base_cols = [
            c
            for c in old_names.columns
            if c not in ("mood", "negative_share", "scored_posts", "top_topics", "topic_shares")
        ]
        names = old_names.select(base_cols)
        sizes = members.group_by("community_id").len("size")
        names = names.filter(pl.col("community_id").is_in(sizes["community_id"].implode()))
        if fresh:
            mask = np.isin(self.membership, fresh)
            sub_ids = self.ids.filter(pl.Series(mask)).to_list()
            sub_posts = self.posts.filter(pl.col("user_id").is_in(sub_ids)).select(
                "user_id", "text"
            )
            named = name_communities(
                self.membership[mask],
                sub_ids,
                sub_posts,
                influence=self.influence["influence"].to_numpy()[mask],
            )
            names = pl.concat([names, named.select(base_cols)], how="diagonal_relaxed")
        names = names.drop("size").join(sizes, on="community_id", how="left").select(base_cols)
        if "sentiment" in self.posts.columns:
            names = names.join(community_mood(self.posts, members), on="community_id", how="left")
        if "topic_id" in self.posts.columns:
            tagged = self.posts.select("user_id", "topic_id").join(members, on="user_id")
            names = names.join(
                topic_mix(tagged, "community_id", top=5), on="community_id", how="left"
            )
        names = names.sort("community_id")
        self.names = names  # kept whole in the state; published with small groups suppressed
        self.shown_names = publishable_communities(names, self.cfg.min_group_size)
        shown = self.shown_names
        name_of = dict(zip(shown["community_id"].to_list(), shown["name"].to_list(), strict=True))
        prop = self.cfg.profile_property
        results = pl.DataFrame(
            {
                "user_id": self.ids,
                prop: pl.Series(self.z).cast(pl.Array(pl.Float32, self.z.shape[1])),
                "community_id": self.membership.astype(np.int64),
                "community_name": [name_of[int(c)] for c in self.membership],
                "follow_bias": self.bias.astype(np.float64),
            }
        )
        if "sentiment" in self.posts.columns:
            moods = (
                members.select("user_id")
                .join(user_mood(self.posts), on="user_id", how="left", maintain_order="left")
                .with_columns(pl.col("scored_posts").fill_null(0))
            )
            results = results.join(moods, on="user_id", how="left", maintain_order="left")
        if "topic_id" in self.posts.columns:
            mix = topic_mix(self.posts.select("user_id", "topic_id"), "user_id")
            results = results.join(mix, on="user_id", how="left", maintain_order="left")
        # label predictions and columns this update does not recompute: kept as they were
        old = st.results
        carried = [
            c
            for c in old.columns
            if c not in results.columns
            and c
            not in (
                "influence",
                "influence_rank",
                "pagerank",
                "profile_run_id",
                "result_run_id",
                "profiled_at",
            )
        ]
        if carried:
            results = results.join(
                old.select("user_id", *carried), on="user_id", how="left", maintain_order="left"
            )
        # rows that changed: new users, refreshed profiles, and any other difference. The
        # profile vectors are left out of the comparison: a user's vector differs from the
        # state's only when it was refreshed (every other row was copied from the state bit
        # for bit, see _profiles), and rounding every vector of the graph twice was 0.3 s of
        # a stream's 3.5 s micro-batch at 38k users
        compare = [c for c in results.columns if c in old.columns and c != prop]
        changed = np.asarray(self.is_new | self.refreshed)
        rounded = _rounded(results.select(compare))
        changed |= _differs(rounded, _rounded(old.select(compare)), "user_id")
        self.changed = changed
        self.results = results
        # the run id chains: the previous run's id stands for the rows that did not change
        # (the state's, which that id hashed), so only the changed rows are hashed again; a
        # rerun of the same update from the same state gets the same id
        self.run_id = fingerprint(
            "update",
            st.meta["run_id"],
            _rounded(results.filter(pl.Series(changed))),
            rounded.select("user_id"),
            _rounded(names.drop("top_members", strict=False)),
            _rounded(self.influence),
        )

    def _write(self) -> None:
        store = self.store
        now = datetime.now(UTC)
        rows = self.results.filter(pl.Series(self.changed)).with_columns(
            pl.lit(self.state.meta["full_run_id"]).alias("profile_run_id"),
            pl.lit(self.run_id).alias("result_run_id"),
            pl.lit(now).dt.cast_time_unit("us").alias("profiled_at"),
        )
        self.say("write_back", f"writing {rows.height:,} changed users")
        store.write_user_properties(rows)
        # whole-graph scores: written where they moved; a light update writes only the
        # touched users' (new users among them), the rest wait for the next full update, as
        # their profiles do: PageRank moves nearly everyone a little with each micro-batch
        scores = ["influence", "influence_rank", "pagerank"]
        infl = pl.concat([self.ids.to_frame(), self.influence], how="horizontal")
        old = self.state.results.select("user_id", *scores)
        joined = infl.join(old, on="user_id", how="left", suffix="_old", maintain_order="left")
        write = (
            pl.col("influence_old").is_null()
            | (pl.col("influence_rank") != pl.col("influence_rank_old"))
            | ((pl.col("influence") - pl.col("influence_old")).abs() > 1e-9)
            | ((pl.col("pagerank") - pl.col("pagerank_old")).abs() > 1e-12)
        )
        if self.light:
            write = write & pl.Series(self.touched)
        joined = joined.with_columns(write.alias("write"))
        moved = joined.filter("write").select("user_id", *scores)
        if moved.height:
            store.write_user_properties(moved)
        # what the store holds now, kept in the state's results for the next comparison
        self.stored_influence = joined.select(
            pl.when("write").then(pl.col(c)).otherwise(pl.col(f"{c}_old")).alias(c) for c in scores
        )
        self.written = rows.height
        # a membership link changes only for new users and users who moved (rewriting the
        # links of every user whose profile was refreshed took 4 s of the 100k update), and a
        # community row only where it changed (all of them: 0.9 s of a stream's micro-batch)
        communities = self.shown_names.with_columns(pl.col("community_id").cast(pl.Int64))
        keep = None
        before = self._published_communities()
        if before is not None:
            keep = communities["community_id"].to_list()
            communities = changed_rows(communities, before, "community_id")
        store.write_communities(
            communities,
            pl.DataFrame(
                {"user_id": self.ids, "community_id": self.membership.astype(np.int64)}
            ).filter(pl.Series(self.is_new | (self.membership != self.prev_membership))),
            keep=keep,
        )
        if self.store.mapping.post_label is not None and self.new_scored.height:
            props = self.new_scored.select(
                "post_id",
                "sentiment",
                "sentiment_label",
                *(["topic_id"] if "topic_id" in self.new_scored.columns else []),
            )
            store.write_post_properties(props)
            if "topic_id" in self.new_scored.columns and self.topics.height:
                topics = self.topics.with_columns(pl.col("centroid").cast(pl.List(pl.Float64)))
                store.write_post_topics(
                    publishable_topics(topics, self._topic_authors(), self.cfg.min_group_size),
                    self.new_scored.select("post_id", "topic_id"),
                )
        small = self.shown_names.filter(pl.col("suppressed"))["community_id"].to_list()
        small_topics = []
        if self.topics.height and "topic_id" in self.posts.columns:
            shown = publishable_topics(self.topics, self._topic_authors(), self.cfg.min_group_size)
            small_topics = shown.filter(pl.col("suppressed"))["topic_id"].to_list()
        store.write_alerts(publishable_alerts(self.alerts, small, small_topics))

    def _published_communities(self) -> pl.DataFrame | None:
        """The community rows the last run wrote (its names, published with the same minimum
        group size), or None when they cannot be known: another minimum, or an erasure since
        the full run (it marked rows stale in the store but not in the state)."""
        meta = self.state.meta
        k = self.cfg.min_group_size
        if meta.get("published_min_group_size") != k or meta.get("erased_since_full_run"):
            return None
        before = publishable_communities(self.state.names, k)
        return before.with_columns(pl.col("community_id").cast(pl.Int64))

    def _topic_authors(self) -> pl.DataFrame:
        if "topic_id" not in self.posts.columns:
            return pl.DataFrame(schema={"topic_id": pl.Int64, "authors": pl.UInt32})
        return topic_authors(self.posts.select("user_id", "topic_id"))

    def _new_alerts(self) -> list[dict[str, Any]]:
        before = self.state.alerts
        seen = set(before["alert_id"].to_list()) if "alert_id" in before.columns else set()
        fresh = self.alerts.filter(~pl.col("alert_id").is_in(list(seen)))
        return fresh.to_dicts()

    def _drift(self) -> dict[str, Any]:
        """When a full retrain (or topic refit) is due; see the module docstring."""
        meta = self.state.meta
        base = int(meta["users_at_full_run"])
        added = int(meta.get("new_users_since_full_run", 0)) + int(self.is_new.sum())
        report: dict[str, Any] = {
            "new_users_since_full_run": added,
            "new_user_share": round(added / max(base, 1), 4),
            "refreshed_share": round(float(self.refreshed.mean()), 4) if self.n else 0.0,
            "updates_since_full_run": int(meta.get("updates_since_full_run", 0)) + 1,
        }
        reasons = []
        if added / max(base, 1) > MAX_NEW_SHARE:
            reasons.append(
                f"{added:,} users added since the full run ({added / max(base, 1):.0%} of "
                f"{base:,}; above {MAX_NEW_SHARE:.0%})"
            )
        auc = self._new_follow_auc()
        full_auc = meta.get("best_val_auc")
        report["new_follows_auc"] = auc
        report["full_run_val_auc"] = full_auc
        if auc is None:
            report["new_follows_note"] = f"fewer than {MIN_NEW_FOLLOWS} new follows: not measured"
        elif full_auc is not None and np.isfinite(full_auc) and auc < full_auc - MAX_AUC_DROP:
            reasons.append(
                f"the model ranks new follows at AUC {auc:.3f}, below the full run's "
                f"validation AUC {full_auc:.3f} by more than {MAX_AUC_DROP}"
            )
        if "topic_id" in self.new_scored.columns and self.new_scored.height >= 50:
            share = float(np.mean(self.new_scored["topic_id"].to_numpy() == -1))
            before = meta.get("topic_outlier_share")
            report["new_posts_outlier_share"] = round(share, 4)
            if before is not None and share > before + MAX_OUTLIER_RISE:
                reasons.append(
                    f"{share:.0%} of new posts fit no topic (the full run: {before:.0%}): topics "
                    "are due a refit"
                )
        erased = int(meta.get("erased_since_full_run", 0))
        if erased:
            report["erased_since_full_run"] = erased
            reasons.append(
                f"{erased:,} users erased since the full run: the encoder, community names and "
                "topic terms still carry what was learnt from them until a full run retrains "
                "without them"
            )
        report["retrain_due"] = bool(reasons)
        report["reasons"] = reasons
        return report

    def _new_follow_auc(self) -> float | None:
        """AUC of the decoder (with the updated profiles) on the delta's follows between users
        the full run knew, against each follow's source paired with a random user."""
        from graphsona.gnn.decoder import link_logit

        f = self.delta.follows
        if f.height < MIN_NEW_FOLLOWS:
            return None
        index = self.graph.ids
        pairs = (
            f.select("src", "dst")
            .join(index.rename({"user_id": "src", "index": "a"}), on="src")
            .join(index.rename({"user_id": "dst", "index": "b"}), on="dst")
        )
        a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
        keep = ~self.is_new[a] & ~self.is_new[b]
        a, b = a[keep], b[keep]
        if len(a) < MIN_NEW_FOLLOWS:
            return None
        rng = np.random.default_rng(self.cfg.seed)
        c = rng.integers(0, self.n, len(a))
        z, bias = torch.from_numpy(self.z), torch.from_numpy(self.bias)
        temp = float(self.state.model["config"]["temperature"])  # type: ignore[index]

        def score(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            cos = (z[u] * z[v]).sum(1)
            out: np.ndarray = link_logit(cos, bias[v], temp).numpy()
            return out

        from sklearn.metrics import roc_auc_score

        pos, neg = score(a, b), score(a, c)
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        return round(float(roc_auc_score(y, np.r_[pos, neg])), 4)

    def _new_state(self, drift: dict[str, Any]) -> JobState:
        st = self.state
        users = pl.DataFrame(
            {
                "user_id": self.ids,
                "x": pl.Series(self.x).cast(pl.Array(pl.Float32, self.x.shape[1])),
                "basis": pl.Series(np.sign(self.basis).astype(np.int8)).cast(
                    pl.Array(pl.Int8, self.basis.shape[1])
                ),
                "profile": pl.Series(self.z).cast(pl.Array(pl.Float32, self.z.shape[1])),
                "bias": self.bias.astype(np.float32),
                "community_id": self.membership.astype(np.int64),
                "pagerank": self.influence["pagerank"].to_numpy(),
                "engagement": self.engagement,
                "n_posts": self.n_posts,
                "profile_pending": self.pending,
            }
        )
        old_run = self.rows["run_id"].to_numpy() if "run_id" in self.rows.columns else None
        run = np.where(self.changed, self.run_id, old_run if old_run is not None else self.run_id)
        users = users.with_columns(pl.Series("run_id", run.astype(str)))
        if self.knn is not None:
            users = users.with_columns(
                pl.Series("knn", self.knn[0].astype(np.int32)),
                pl.Series("knn_sim", self.knn[1].astype(np.float32)),
            )
        if (hasattr(self, "bios") and "bio" in self.bios.columns) or "bio" in st.users.columns:
            bio = self.rows.select("user_id", *(["bio"] if "bio" in self.rows.columns else []))
            if hasattr(self, "bios") and "bio" in self.bios.columns:
                bio = bio.join(
                    self.bios.select("user_id", pl.col("bio").alias("nb")),
                    on="user_id",
                    how="left",
                    maintain_order="left",
                )
                bio = bio.with_columns(
                    (pl.coalesce("nb", "bio") if "bio" in bio.columns else pl.col("nb")).alias(
                        "bio"
                    )
                ).drop("nb")
            if "bio" in bio.columns:
                users = users.with_columns(bio["bio"])
        results = pl.concat([self.results, self.stored_influence], how="horizontal").with_columns(
            pl.lit(st.meta["full_run_id"]).alias("profile_run_id"),
            pl.Series("result_run_id", run.astype(str)),
        )
        meta = {
            **st.meta,
            "run_id": self.run_id,
            "kind": "update",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "new_users_since_full_run": drift["new_users_since_full_run"],
            "updates_since_full_run": drift["updates_since_full_run"],
            "modularity": self.modularity,
            "last_drift": drift,
            "published_min_group_size": self.cfg.min_group_size,
            "graph_version": self.loaded_version,
        }
        # a load by someone else since this update's own (another machine on the same Neo4j):
        # the edges would miss its links, so the next update reads the store
        edges = self.edges if self.store.data_version() == self.loaded_version else None
        return JobState(
            users=users,
            results=results,
            posts=self.posts,
            names=self.names,
            topics=self.topics,
            alerts=self.alerts,
            model=st.model,
            meta=meta,
            edges=edges,
        )


def changed_rows(new: pl.DataFrame, old: pl.DataFrame, key: str) -> pl.DataFrame:
    """The rows of ``new`` that ``old`` lacks or holds otherwise (floats compared at six
    significant digits, :func:`~graphsona.jobs.stages._rounded`); every row when ``new`` has
    a column ``old`` lacks."""
    from graphsona.jobs.stages import _rounded

    if not set(new.columns) <= set(old.columns) or new.height == 0:
        return new
    return new.filter(_differs(_rounded(new), _rounded(old.select(new.columns)), key))


def _differs(new: pl.DataFrame, old: pl.DataFrame, key: str) -> np.ndarray:
    """Per row of ``new``: whether ``old`` (the same columns, keys unique) lacks its ``key``
    or holds other values in the other columns (both frames rounded by the caller)."""
    values = pl.struct([c for c in new.columns if c != key]).hash(seed=0)
    mine = new.select(key, values.alias("h"))
    theirs = old.select(key, values.alias("h_old"))
    same = mine.join(theirs, on=key, how="left", maintain_order="left")
    out: np.ndarray = (same["h"] != same["h_old"]).fill_null(True).to_numpy()
    return out


def _warm_start(prev: np.ndarray, ei: torch.Tensor, ew: torch.Tensor, n: int) -> np.ndarray:
    """Leiden's starting membership (:func:`_joined`, labels 0..k-1 as igraph wants them)."""
    _, dense = np.unique(_joined(prev, ei, ew, n), return_inverse=True)
    return dense.astype(np.int64)


def _joined(prev: np.ndarray, ei: torch.Tensor, ew: torch.Tensor, n: int) -> np.ndarray:
    """Each earlier user in its community, each new user in the community it is most linked
    to (by edge weight, either direction), else in a new community of its own (ids above every
    earlier one)."""
    start = prev.copy()
    new = np.flatnonzero(prev < 0)
    if len(new):
        src, dst = ei.numpy()
        w = ew.numpy().astype(np.float64)
        a, b = np.r_[src, dst], np.r_[dst, src]
        ww = np.r_[w, w]
        is_new = prev < 0
        sel = is_new[a] & ~is_new[b]
        if sel.any():
            frame = pl.DataFrame({"u": a[sel], "c": prev[b[sel]], "w": ww[sel]})
            best = (
                frame.group_by("u", "c")
                .agg(pl.col("w").sum())
                .sort(["u", "w", "c"], descending=[False, True, False])
                .group_by("u", maintain_order=True)
                .first()
            )
            start[best["u"].to_numpy()] = best["c"].to_numpy()
        lone = np.flatnonzero(start < 0)
        top = int(start.max()) + 1 if (start >= 0).any() else 0
        start[lone] = top + np.arange(len(lone))
    return start


def update_record(result: UpdateResult) -> dict[str, Any]:
    """What ``graphsona update --json`` prints."""
    return result.summary()
