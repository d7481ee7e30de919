"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_table(root: Path, name: str, frame: pl.DataFrame | str, fmt: str = "csv") -> Path:
    """Write one table file; a str is written verbatim (for malformed input)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.{fmt}"
    if isinstance(frame, str):
        path.write_text(frame, encoding="utf-8")
    elif fmt == "csv":
        frame.write_csv(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    return path
