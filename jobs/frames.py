"""``graphsona.profile(users, follows, posts=...)``: the whole profiling job on in-memory frames.

For notebooks: polars or pandas frames in, validated exactly like files (the same errors, naming
the table as ``<users frame>`` with row and column), results out as polars frames, with no store
to set up. The job's own stages run on the frames (everything but the write-back), so the
results are the ones ``graphsona profile`` would write to a store.

Example:
    >>> import graphsona
    >>> result = graphsona.profile(users, follows, posts=posts)           # doctest: +SKIP
    >>> result                                                            # doctest: +SKIP
    Profiles of 3,000 users: 8 communities (modularity 0.612), ...
    >>> result.users.sort("influence_rank").head()                        # doctest: +SKIP
    >>> result.recommendations.filter(pl.col("user_id") == "u0000042")    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import html
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from graphsona.graph.lock import hold
from graphsona.jobs.runner import Progress, Runner
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.loaders import LoadOptions, LoadReport, load_frames

__all__ = ["Profiles", "profile"]


@dataclass
class Profiles:
    """Results of :func:`profile`.

    Attributes:
        users: one row per user: ``user_id``, ``profile`` (unit vector), ``community_id``,
            ``community_name``, ``influence``, ``influence_rank``, ``pagerank``,
            ``follow_bias`` and ``pred_*`` for each ``label_*`` column.
        communities: ``community_id``, ``name``, ``terms``, ``size``, ``top_members``, ...
        recommendations: who to follow, ``k`` per user: ``user_id``, ``candidate_id``,
            ``score``, ``rank``, ``reason``, ``basis``, ... (empty when ``k=0``).
        load_report: what validation read, kept and repaired.
        summary: the job's summary (run id, modularity, Leiden reference, influence and label
            reports, seconds per stage).
    """

    users: pl.DataFrame
    communities: pl.DataFrame
    recommendations: pl.DataFrame
    load_report: LoadReport
    summary: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        ref = s.get("leiden_reference", {})
        biggest = self.communities.sort("size", descending=True).head(3)
        named = ", ".join(f"{r['name']} ({r['size']})" for r in biggest.iter_rows(named=True))
        lines = [
            f"Profiles of {self.users.height:,} users: {self.communities.height} communities "
            f"(modularity {s.get('modularity', float('nan')):.3f}; Leiden alone "
            f"{ref.get('communities', '?')} at {ref.get('modularity', float('nan')):.3f})",
            f"  largest: {named}",
            f"  recommendations: {self.recommendations.height:,} rows; run id {s.get('run_id')}",
            "  frames: .users, .communities, .recommendations; .load_report, .summary",
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        top = self.communities.sort("size", descending=True).head(10)
        rows = "".join(
            f"<tr><td>{r['community_id']}</td><td>{html.escape(str(r['name']))}</td>"
            f"<td>{r['size']}</td></tr>"
            for r in top.iter_rows(named=True)
        )
        head = html.escape(repr(self).splitlines()[0])
        return (
            f"<p><b>{head}</b></p><table><tr><th>id</th><th>community</th><th>users</th></tr>"
            f"{rows}</table>"
        )


def profile(
    users: Any,
    follows: Any = None,
    *,
    posts: Any = None,
    interactions: Any = None,
    config: ProfileJobConfig | None = None,
    options: LoadOptions | None = None,
    k: int = 10,
    progress: Progress | None = None,
) -> Profiles:
    """Validate in-memory tables and profile every user; nothing is written anywhere.

    Args:
        users, follows, posts, interactions: polars or pandas frames with the columns of the
            data contract (README "The data contract"); ``users`` and at least one of
            ``follows``/``interactions`` are required.
        config: the job's settings (default :class:`ProfileJobConfig`; its ``work_dir``, when
            set, makes reruns reuse unchanged stages as the CLI does).
        options: validation options (``strict``, ``max_post_chars``).
        k: who-to-follow recommendations per user (0: none).
        progress: ``progress(stage, message)``.
    """
    from graphsona.graph.export import to_pyg_frames
    from graphsona.jobs.profile import (
        choose_embedder,
        dataset_context,
        profile_stages,
        result_of,
    )
    from graphsona.outputs.recommend import RecContext, who_to_follow

    dataset, report = load_frames(
        users, follows, posts=posts, interactions=interactions, options=options
    )
    cfg = config or ProfileJobConfig()
    cfg.check()
    ctx = dataset_context(dataset, cfg.seed)
    cfg = choose_embedder(cfg, ctx["posts"], progress)
    with contextlib.ExitStack() as locks:
        if cfg.work_dir is not None:  # one job at a time per work dir, as for the CLI
            locks.enter_context(
                hold(cfg.work_dir / ".graphsona.lock", f"the work dir {cfg.work_dir}")
            )
        record = Runner(cfg.work_dir, progress).run(profile_stages(cfg, ctx["users"]), ctx)
    result = result_of(ctx, record.skipped, record.seconds)
    results: pl.DataFrame = ctx["results"]
    recs = pl.DataFrame()
    if k > 0:
        graph = to_pyg_frames(dataset.users["user_id"], dataset.follows, dataset.interactions)
        props = dataset.users.select(
            "user_id", *(["bio"] if "bio" in dataset.users.columns else [])
        )
        rec_ctx = RecContext.from_graph(
            graph,
            props.join(results, on="user_id", how="left"),
            [dataset.posts],
            cfg.profile_property,
            ranker=ctx["ranker"],
        )
        recs = who_to_follow(rec_ctx, results["user_id"].to_list(), k=k)
    return Profiles(
        users=results,
        communities=ctx["names"],
        recommendations=recs,
        load_report=report,
        summary=result.summary(),
    )
