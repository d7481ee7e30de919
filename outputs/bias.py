"""Bias and coverage: how well the label heads do for each group of users, and how many users
the published communities and topics cover.

For every label head of the last profile run (a ``label_<name>`` column the users file brought,
and the ``pred_<name>`` / ``pred_<name>_p`` the job wrote; predictions of labelled users are
out of fold, see :mod:`graphsona.gnn.heads`), per value of each user column the analyst names
(``--by lang``, a region, an age band):

* ``labelled``: users with a known label in the group;
* ``accuracy`` (classification) or ``mae`` (a numeric label);
* ``mean_confidence`` and ``ece``, the expected calibration error (10 equal-width bins of the
  predicted probability; 0 is perfectly calibrated), for classification heads;
* ``gap``: the group's accuracy minus the overall one.

A group with fewer than :data:`MIN_MEASURED` labelled users gets no figures and a warning: it
is too small to be measured (its accuracy would swing by more than the differences a report
could show). Coverage: each community's size and each topic's authors, with how many users
and posts fall in groups below the minimum group size (published suppressed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from graphsona.errors import ConfigError

__all__ = ["MIN_MEASURED", "bias_report", "coverage", "label_heads"]

MIN_MEASURED = 30
BINS = 10


def label_heads(users: pl.DataFrame) -> list[str]:
    """Names of the heads whose label and prediction columns are both present."""
    return sorted(
        c[len("label_") :]
        for c in users.columns
        if c.startswith("label_") and f"pred_{c[len('label_') :]}" in users.columns
    )


def _ece(p: np.ndarray, correct: np.ndarray) -> float:
    edges = np.linspace(0.0, 1.0, BINS + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, BINS - 1)
    total = 0.0
    for b in range(BINS):
        m = which == b
        if m.any():
            total += abs(float(correct[m].mean()) - float(p[m].mean())) * m.sum() / len(p)
    return round(total, 4)


def _measure(part: pl.DataFrame, name: str) -> dict[str, Any]:
    lab, pred, prob = f"label_{name}", f"pred_{name}", f"pred_{name}_p"
    out: dict[str, Any] = {"labelled": part.height}
    if prob in part.columns:  # classification
        correct = (part[pred].cast(pl.String) == part[lab].cast(pl.String)).to_numpy()
        p = part[prob].cast(pl.Float64).fill_null(0.0).to_numpy()
        out["accuracy"] = round(float(correct.mean()), 4) if part.height else None
        out["mean_confidence"] = round(float(p.mean()), 4) if part.height else None
        out["ece"] = _ece(p, correct.astype(float)) if part.height else None
    else:
        err = (part[pred].cast(pl.Float64) - part[lab].cast(pl.Float64)).abs()
        out["mae"] = round(float(err.mean()), 4) if part.height else None  # type: ignore[arg-type]
    return out


def bias_report(
    users: pl.DataFrame, by: list[str], *, min_measured: int = MIN_MEASURED
) -> dict[str, Any]:
    """The per-group quality of every label head (see the module docstring)."""
    missing = [c for c in by if c not in users.columns]
    if missing:
        raise ConfigError(
            f"no user column {missing} to group by; user columns: "
            f"{sorted(c for c in users.columns if c != 'profile')}"
        )
    heads: dict[str, Any] = {}
    warnings: list[str] = []
    for name in label_heads(users):
        lab, pred = f"label_{name}", f"pred_{name}"
        known = users.filter(pl.col(lab).is_not_null() & pl.col(pred).is_not_null())
        overall = _measure(known, name)
        groups: dict[str, list[dict[str, Any]]] = {}
        metric = "accuracy" if "accuracy" in overall else "mae"
        for col in by:
            rows = []
            for (value,), part in sorted(
                known.group_by(col), key=lambda kv: (kv[0][0] is None, str(kv[0][0]))
            ):
                row: dict[str, Any] = {"group": value}
                if part.height < min_measured:
                    row.update(labelled=part.height, note="too small to be measured")
                    warnings.append(
                        f"{name} by {col}={value!r}: {part.height} labelled users, fewer than "
                        f"{min_measured}: too small to be measured"
                    )
                else:
                    row.update(_measure(part, name))
                    if overall.get(metric) is not None:
                        row["gap"] = round(row[metric] - overall[metric], 4)
                rows.append(row)
            groups[col] = rows
        heads[name] = {"overall": overall, "by": groups}
    if not heads:
        warnings.append(
            "no label heads in the store (a users file with label_* columns, then "
            "`graphsona profile`): nothing to measure per group"
        )
    return {"heads": heads, "min_measured": min_measured, "warnings": warnings}


def coverage(
    users: pl.DataFrame,
    communities: pl.DataFrame,
    posts: pl.DataFrame | None,
    min_group_size: int,
) -> dict[str, Any]:
    """Who the published groups cover: community sizes, topic authors, and how many users and
    posts sit in groups below ``min_group_size``."""
    out: dict[str, Any] = {"users": users.height, "min_group_size": min_group_size}
    if "community_id" in users.columns and communities.height:
        sizes = communities.select("community_id", "size").sort("size", descending=True)
        small = sizes.filter(pl.col("size") < min_group_size)
        in_small = int(users["community_id"].is_in(small["community_id"].implode()).sum())
        out["communities"] = {
            "count": sizes.height,
            "sizes": sizes.to_dicts(),
            "suppressed": small.height,
            "users_in_suppressed": in_small,
            "users_without_community": int(users["community_id"].null_count()),
        }
    if posts is not None and "topic_id" in posts.columns and posts.height:
        tagged = posts.filter(pl.col("topic_id").is_not_null() & (pl.col("topic_id") >= 0))
        per = tagged.group_by("topic_id").agg(
            pl.len().alias("posts"), pl.col("user_id").n_unique().alias("authors")
        )
        small = per.filter(pl.col("authors") < min_group_size)
        out["topics"] = {
            "count": per.height,
            "posts_with_topic": tagged.height,
            "posts_without_topic": posts.height - tagged.height,
            "authors": per.sort("authors", descending=True).to_dicts(),
            "suppressed": small.height,
            "posts_in_suppressed": int(small["posts"].sum()) if small.height else 0,
        }
    return out
