"""The parts of erasure that need no store or model: taking people out of frames and files,
and the erasure log. The whole procedure is :func:`graphsona.jobs.forget.run_forget`.

The rule for a table (stage output, state, export): a row is removed when any of its text
columns *is* an erased user id or post id (the person's own rows, a recommendation to or from
them); in list columns (top members, alert drivers, sample posts) the erased ids are taken out
of the list and the row stays.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["append_log", "frame_without", "parquet_without"]


def frame_without(frame: pl.DataFrame, ids: list[str]) -> tuple[pl.DataFrame, bool]:
    """``frame`` without ``ids`` (see the module docstring); and whether anything changed."""
    if not ids or frame.height == 0:
        return frame, False
    if "sample_posts" in frame.columns and "sample_texts" in frame.columns:
        # an alert's sample texts go with their post ids, position by position
        gone = set(ids)
        texts = [
            [t for p, t in zip(ps or [], ts or [], strict=False) if p not in gone]
            for ps, ts in zip(
                frame["sample_posts"].to_list(), frame["sample_texts"].to_list(), strict=True
            )
        ]
        frame = frame.with_columns(pl.Series("sample_texts", texts, dtype=pl.List(pl.String)))
    hit = pl.lit(False)
    lists = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            hit = hit | pl.col(name).is_in(ids).fill_null(False)
        elif isinstance(dtype, pl.List) and dtype.inner == pl.String:
            lists.append(name)
    out = frame.filter(~hit)
    if lists:
        out = out.with_columns(
            pl.col(c).list.eval(pl.element().filter(~pl.element().is_in(ids))) for c in lists
        )
    changed = out.height != frame.height or any(
        not out[c].list.len().equals(frame.filter(~hit)[c].list.len()) for c in lists
    )
    return out, changed


def parquet_without(path: Path, ids: list[str]) -> int:
    """Rewrite the Parquet file ``path`` without ``ids`` (temporary file, then renamed);
    returns rows removed, or -1 when only list entries were removed."""
    frame = pl.read_parquet(path)
    out, changed = frame_without(frame, ids)
    if not changed:
        return 0
    tmp = path.with_name(path.name + ".erasing")
    out.write_parquet(tmp)
    os.replace(tmp, path)
    return frame.height - out.height or -1


def append_log(path: Path, counts: dict[str, Any]) -> None:
    """One line of the erasure log: when, and how much was removed where; never an id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"erased_at": datetime.now(UTC).isoformat(timespec="seconds"), **counts}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
