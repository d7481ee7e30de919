"""Read one table file (CSV/Parquet/JSONL) into a polars frame, with row-precise errors.

Every frame comes back with a ``__row`` column: the 1-based data row in the file (header excluded),
so later checks can name the row a user has to fix.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
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


def _csv_short_rows(path: Path, data: bytes) -> None:
    """Raise for the first CSV record with fewer fields than the header.

    polars pads short records with empty values, so a row such as ``u008,h8`` in a four-column
    file would load with its other fields silently empty. Quote-free files are checked with
    numpy (separators per line); files with quotes go through Python's csv parser, which knows
    quoted separators and newlines (about 2 s per million rows here).
    """
    if b'"' not in data:
        buf = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buf == 10)
        if ends.size == 0 or ends[-1] != buf.size - 1:
            ends = np.append(ends, buf.size)
        starts = np.concatenate([[0], ends[:-1] + 1])
        # separators per line from their positions (memory in proportion to the separators,
        # not to the bytes of the file)
        commas = np.flatnonzero(buf == 44)
        fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
        length = ends - starts
        # blank lines (and a lone "\r") carry no record: polars reads them as empty rows, so they
        # keep their row number but are never short
        blank = (length == 0) | ((length == 1) & (buf[np.minimum(starts, buf.size - 1)] == 13))
        if (~blank).sum() == 0:
            return
        first = int(np.flatnonzero(~blank)[0])
        header = int(fields[first])
        rows = fields[first + 1 :]
        short = np.flatnonzero((rows < header) & ~blank[first + 1 :])
        if short.size:
            raise DataValidationError(
                f"malformed CSV: {int(rows[short[0]])} fields where the header has {header}",
                file=str(path),
                row=int(short[0]) + 1,
            )
        return
    diag = _csv_diagnose(path, data.decode("utf-8"))
    if diag is not None:
        raise diag


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
        return _with_rows(path, df)
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
        _csv_short_rows(path, data)
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
    return _with_rows(path, df)


def _with_rows(path: Path, df: pl.DataFrame) -> pl.DataFrame:
    if ROW in df.columns:
        raise DataValidationError(
            f"column name {ROW!r} is reserved for graphsona's row numbers; rename the column",
            file=str(path),
            column=ROW,
        )
    return df.with_row_index(ROW, offset=1)
