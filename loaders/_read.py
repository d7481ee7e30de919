"""Read one table file (CSV/Parquet/JSONL) into a polars frame, with row-precise errors.

Every frame comes back with a ``__row`` column: the 1-based data row in the file (header excluded),
so later checks can name the row a user has to fix.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
from graphsona.errors import DataValidationError

ROW = "__row"


def _decode_check(path: Path, data: bytes, lossy: bool, header_lines: int) -> bytes:
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as e:
        if lossy:
            return data.decode("utf-8", errors="replace").encode("utf-8")
        line = data.count(b"\n", 0, e.start) + 1
        raise DataValidationError(
            f"invalid UTF-8 at line {line} (byte offset {e.start}); fix the file or load with "
            "lossy decoding (--lossy-utf8) to replace bad bytes with U+FFFD",
            file=str(path),
            row=line - header_lines,
        ) from None


def _csv_diagnose(path: Path, text: str) -> DataValidationError | None:
    """Find the first malformed CSV row with Python's strict csv parser (used after polars fails)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        return DataValidationError(f"cannot read the CSV header ({e})", file=str(path))
    row = 0
    try:
        for row, fields in enumerate(reader, start=1):
            if fields and len(fields) != len(header):
                return DataValidationError(
                    f"malformed CSV: {len(fields)} fields where the header has {len(header)}",
                    file=str(path),
                    row=row,
                )
    except csv.Error as e:
        return DataValidationError(f"malformed CSV quoting ({e})", file=str(path), row=row + 1)
    return None


def read_table(path: Path, *, lossy_utf8: bool = False) -> pl.DataFrame:
    """Read ``path`` into a frame of the file's columns plus ``__row``.

    CSV columns are read as strings (types are checked later, with row numbers); JSONL and
    Parquet keep their own types.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pl.read_parquet(path)
        except Exception as e:
            raise DataValidationError(f"cannot read Parquet ({e})", file=str(path)) from e
        return df.with_row_index(ROW, offset=1)
    data = path.read_bytes()
    data = _decode_check(path, data, lossy_utf8, header_lines=1 if suffix == ".csv" else 0)
    if suffix == ".csv":
        try:
            df = pl.read_csv(io.BytesIO(data), infer_schema=False, quote_char='"')
        except pl.exceptions.NoDataError:
            raise DataValidationError("the file is empty (no header)", file=str(path)) from None
        except Exception as e:
            diag = _csv_diagnose(path, data.decode("utf-8"))
            if diag is not None:
                raise diag from e
            raise DataValidationError(f"cannot parse CSV ({e})", file=str(path)) from e
    elif suffix == ".jsonl":
        if not data.strip():
            return pl.DataFrame({ROW: pl.Series([], dtype=pl.UInt32)})
        try:
            df = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
        except Exception as e:
            for i, line in enumerate(data.decode("utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as je:
                    raise DataValidationError(
                        f"invalid JSON ({je.msg})", file=str(path), row=i
                    ) from e
                if not isinstance(obj, dict):
                    raise DataValidationError(
                        "each line must be a JSON object", file=str(path), row=i
                    ) from e
            raise DataValidationError(
                f"cannot read JSONL ({str(e).splitlines()[0]}); check that each field has one type",
                file=str(path),
            ) from e
    else:  # pragma: no cover - callers only pass known suffixes
        raise DataValidationError(f"unsupported format {suffix!r}", file=str(path))
    return df.with_row_index(ROW, offset=1)
