"""Export the enriched graph to Parquet: profiles, communities, recommendations.

* ``profiles.parquet``: one row per user with graphsona's results — ``profile`` vector,
  ``community_id``/``community_name``, ``influence``/``influence_rank``/``pagerank``,
  ``follow_bias``, every ``pred_*`` column, ``profile_run_id``/``profiled_at``. Raw user
  columns (bio, handle, labels) are *not* exported: results only, no source text.
* ``communities.parquet``: id, name, description, terms, hashtags, size, top members.
* ``recommendations.parquet``: top-``k`` who-to-follow per user with score, rank and reason.
* after a run with topics, ``topics.parquet`` (id, name, terms, size) and ``alerts.parquet``
  (the ``alerts`` named query: window, kind, severity, summary, terms, drivers, sample post
  ids; no post text).

Files are written to a temporary name and renamed, so a failed export leaves no half file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from graphsona.errors import StoreError
from graphsona.graph import GraphStore
from graphsona.loaders.contract import RESULT_COLUMNS
from graphsona.outputs.recommend import RecContext, who_to_follow
from graphsona.outputs.summary import require_profiles
from graphsona.queries.library import run_named

__all__ = ["RESULT_COLUMNS", "export_results"]


def _write(frame: pl.DataFrame, path: Path) -> Path:
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)
    return path


def export_results(
    store: GraphStore, out: str | Path, *, k: int = 10, profile_property: str = "profile"
) -> dict[str, Path]:
    """Write the three files into ``out`` (created); returns name -> path."""
    users = store.read_users()
    require_profiles(users, profile_property)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cols = [profile_property, *[c for c in RESULT_COLUMNS if c in users.columns]]
    cols += sorted(c for c in users.columns if c.startswith("pred_"))
    profiles = users.select("user_id", *cols).sort("user_id")
    communities = run_named(store, "communities", {"limit": 10**9})
    recs = who_to_follow(RecContext.from_store(store, profile_property), k=k)
    written = {
        "profiles": _write(profiles, folder / "profiles.parquet"),
        "communities": _write(communities, folder / "communities.parquet"),
        "recommendations": _write(recs, folder / "recommendations.parquet"),
    }
    topics = store.read_topics()
    if topics.height:  # a run with topics: the topics and its alerts too
        written["topics"] = _write(topics.drop("centroid"), folder / "topics.parquet")
        try:
            alerts = run_named(store, "alerts", {"limit": 10**9})
        except StoreError:  # no alert table: the run raised none
            alerts = None
        if alerts is not None:
            written["alerts"] = _write(alerts, folder / "alerts.parquet")
    return written
