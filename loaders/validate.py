"""Validate a dataset directory against the data contract, in polars, before anything is written.

Errors (a :class:`~graphsona.errors.DataValidationError` naming file, row and column) stop the
load with nothing written; repairs (dropped, merged or truncated rows) are counted in the
:class:`~graphsona.loaders.dataset.LoadReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from graphsona._ident import IDENTIFIER
from graphsona.errors import DataValidationError
from graphsona.loaders._read import ROW, _with_rows, read_table
from graphsona.loaders.contract import (
    FORMATS,
    MAX_ID_CHARS,
    OUTPUT_PREFIXES,
    OUTPUT_USER_COLUMNS,
    TABLES,
    TIME_RANGE,
    TableSpec,
    ordinal_post_ids,
)
from graphsona.loaders.dataset import SCHEMAS, TIME, Dataset, LoadReport
from graphsona.privacy.policy import PrivacyPolicy

__all__ = ["LoadOptions", "load_dataset", "load_delta", "load_frames"]

_ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
_KIND = r"^[a-z][a-z0-9_]*$"
_T_MIN = datetime(TIME_RANGE[0], 1, 1, tzinfo=UTC)
_T_MAX = datetime(TIME_RANGE[1], 1, 1, tzinfo=UTC)
_EPOCH_MIN, _EPOCH_MAX = _T_MIN.timestamp(), _T_MAX.timestamp()
# Types a column may not have anywhere in a dataset: graph stores hold none of them as a property.
_NESTED = (pl.Struct, pl.List, pl.Array, pl.Object, pl.Binary)


@dataclass(frozen=True)
class LoadOptions:
    """How strict a load is.

    Args:
        strict: rows naming unknown users are an error instead of being dropped and counted.
        lossy_utf8: replace invalid UTF-8 bytes with U+FFFD instead of failing.
        max_post_chars: longer posts are truncated to this many characters (and counted).
        privacy: pseudonyms and PII scrubbing applied while the tables are read
            (:class:`~graphsona.privacy.PrivacyPolicy`); ``None``: ids and text as given.
    """

    strict: bool = False
    lossy_utf8: bool = False
    max_post_chars: int = 5000
    privacy: PrivacyPolicy | None = None


def _privacy_counts(report: LoadReport, counts: dict[str, int]) -> None:
    for key, n in counts.items():
        report.count(key, n)


_Root = Path | dict[str, pl.DataFrame]  # a dataset folder, or in-memory tables by name


def _find_file(root: Path, table: str) -> Path | None:
    found = [root / f"{table}{ext}" for ext in FORMATS if (root / f"{table}{ext}").exists()]
    if len(found) > 1:
        raise DataValidationError(
            f"more than one file for table {table!r}: {', '.join(p.name for p in found)}; keep one",
            file=str(root),
        )
    return found[0] if found else None


LANG_TAG = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$"


def _fail_first(df: pl.DataFrame, bad: pl.Expr, file: Path, column: str, message: str) -> None:
    """Raise for the first row where ``bad`` holds, if any."""
    hit = df.filter(bad)
    if hit.height:
        first = hit.row(0, named=True)
        got = repr(first.get(column))
        got = got if len(got) <= 80 else f"{got[:60]}... ({len(got)} characters)"
        raise DataValidationError(
            f"{message} (got {got}; {hit.height} row(s) affected)",
            file=str(file),
            row=int(first[ROW]),
            column=column,
        )


def _ids(df: pl.DataFrame, spec: TableSpec, file: Path) -> pl.DataFrame:
    for col in spec.id_columns:
        dtype = df.schema[col]
        if not (dtype == pl.String or dtype.is_integer()):
            raise DataValidationError(
                f"expected string (or integer) ids, got {dtype}", file=str(file), column=col
            )
        df = df.with_columns(pl.col(col).cast(pl.String).str.strip_chars())
        _fail_first(df, pl.col(col).is_null() | (pl.col(col) == ""), file, col, "missing id")
        _fail_first(
            df,
            pl.col(col).str.len_chars() > MAX_ID_CHARS,
            file,
            col,
            f"id longer than {MAX_ID_CHARS} characters",
        )
    return df


def _plain(df: pl.DataFrame, col: str, file: Path, what: str) -> None:
    """Refuse nested, binary or object values in ``col`` (no store holds them as a property)."""
    dtype = df.schema[col]
    if isinstance(dtype, _NESTED):
        first = df.filter(pl.col(col).is_not_null())
        row = int(first[ROW][0]) if first.height else None
        raise DataValidationError(
            f"{what} must be a plain value (text, number, boolean or time); got {dtype}",
            file=str(file),
            row=row,
            column=col,
        )
    if isinstance(dtype, (pl.Time, pl.Duration)):
        raise DataValidationError(
            f"{what} has type {dtype}, which a graph store cannot hold; give text or a number",
            file=str(file),
            column=col,
        )


def _check_columns(df: pl.DataFrame, file: Path) -> None:
    """Column names must differ by more than case: the embedded store's property names are
    case-insensitive, and `Bio` next to `bio` is almost always a mistake."""
    seen: dict[str, str] = {}
    for col in df.columns:
        other = seen.setdefault(col.lower(), col)
        if other != col:
            raise DataValidationError(
                f"columns {other!r} and {col!r} differ only in case; keep one",
                file=str(file),
                column=col,
            )


def _parse_time(df: pl.DataFrame, col: str, file: Path) -> pl.DataFrame:
    if col not in df.columns:
        return df.with_columns(pl.lit(None, dtype=TIME).alias(col))
    dtype = df.schema[col]
    if dtype == pl.Null:
        return df.with_columns(pl.lit(None, dtype=TIME).alias(col))
    if dtype == pl.Date:
        df = df.with_columns(pl.col(col).cast(pl.Datetime("us")))
        dtype = df.schema[col]
    hint = (
        "expected epoch seconds between "
        f"{TIME_RANGE[0]} and {TIME_RANGE[1]} (epoch milliseconds or microseconds? divide by "
        "1,000 or 1,000,000) or ISO-8601 text"
    )
    if isinstance(dtype, pl.Datetime):
        parsed = (
            pl.col(col).dt.convert_time_zone("UTC")
            if dtype.time_zone
            else pl.col(col).dt.replace_time_zone("UTC")
        ).dt.cast_time_unit("us")
    elif dtype.is_numeric():
        seconds = pl.col(col).cast(pl.Float64)
        _fail_first(df, pl.col(col).is_not_null() & ~_epoch_ok(seconds), file, col, hint)
        _fail_first(df, _date_number(seconds), file, col, _DATE_NUMBER)
        parsed = _from_epoch(seconds)
    elif dtype == pl.String:
        s = pl.col(col).str.strip_chars()
        tries = [
            s.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
            for f in _ISO_FORMATS
        ]
        epoch = s.cast(pl.Float64, strict=False)
        _fail_first(df, epoch.is_not_null() & ~_epoch_ok(epoch), file, col, hint)
        _fail_first(df, _date_number(epoch), file, col, _DATE_NUMBER)
        tries.append(_from_epoch(epoch))
        parsed = pl.coalesce(tries)
    else:
        raise DataValidationError(
            f"expected ISO-8601 text or epoch seconds, got {dtype}", file=str(file), column=col
        )
    out = df.with_columns(parsed.alias("__t"))
    given = pl.col(col).is_not_null()
    if dtype == pl.String:
        given = given & (pl.col(col).str.strip_chars() != "")
    _fail_first(
        out,
        given & pl.col("__t").is_null(),
        file,
        col,
        "cannot parse time: expected ISO-8601 (e.g. 2024-05-01T12:00:00Z) or epoch seconds",
    )
    _fail_first(
        out,
        (pl.col("__t") < _T_MIN) | (pl.col("__t") >= _T_MAX),
        file,
        col,
        f"time out of range: expected a year from {TIME_RANGE[0]} to {TIME_RANGE[1] - 1}",
    )
    return out.with_columns(pl.col("__t").alias(col)).drop("__t")


_DATE_NUMBER = (
    "a date written as a number (YYYYMMDD) would be read as epoch seconds in 1970: give "
    "ISO-8601 text (2024-05-01) or epoch seconds"
)


def _date_number(seconds: pl.Expr) -> pl.Expr:
    """Whole numbers that read as YYYYMMDD dates (19000101-21991231): as epoch seconds they
    would be days in August and September 1970, a time no social platform's data comes from."""
    return seconds.is_between(19000101, 21991231) & (seconds == seconds.floor())


def _epoch_ok(seconds: pl.Expr) -> pl.Expr:
    return seconds.is_finite() & (seconds >= _EPOCH_MIN) & (seconds < _EPOCH_MAX)


def _from_epoch(seconds: pl.Expr) -> pl.Expr:
    """Epoch seconds -> UTC time; values outside the accepted range become null (checked first)."""
    micros = pl.when(_epoch_ok(seconds)).then(seconds * 1e6).cast(pl.Int64)
    return pl.from_epoch(micros, "us").dt.replace_time_zone("UTC")


def _infer_extra(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """CSV extra columns arrive as text: make them integer or float when every value is.

    Other formats keep their types, normalised to what both stores hold: 64-bit integers,
    doubles, text (categoricals), UTC times.
    """
    dtype = df.schema[col]
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return df.with_columns(pl.col(col).cast(pl.String))
    if isinstance(dtype, pl.Decimal) or dtype.is_float():
        return df.with_columns(pl.col(col).cast(pl.Float64))
    if dtype == pl.UInt64:
        big = df.filter(pl.col(col) > 2**63 - 1)
        if big.height:
            raise DataValidationError(
                "integer too large for a graph property (over 2^63 - 1)",
                row=int(big[ROW][0]),
                column=col,
            )
    if dtype.is_integer():
        return df.with_columns(pl.col(col).cast(pl.Int64))
    if dtype == pl.Date:
        return df.with_columns(pl.col(col).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
    if isinstance(dtype, pl.Datetime):
        at = pl.col(col)
        at = at.dt.convert_time_zone("UTC") if dtype.time_zone else at.dt.replace_time_zone("UTC")
        return df.with_columns(at.dt.cast_time_unit("us"))
    if dtype != pl.String:
        return df
    s = df[col].str.strip_chars()
    nonnull = s.drop_nulls().filter(s.drop_nulls() != "")
    if nonnull.len() == 0:
        return df
    for target in (pl.Int64, pl.Float64):
        cast = nonnull.cast(target, strict=False)
        if cast.null_count() == 0:
            return df.with_columns(
                pl.when(pl.col(col).str.strip_chars() == "")
                .then(None)
                .otherwise(pl.col(col))
                .str.strip_chars()
                .cast(target)
                .alias(col)
            )
    return df


def _read_frame(
    tables: dict[str, pl.DataFrame], spec: TableSpec, report: LoadReport
) -> tuple[pl.DataFrame, Path] | None:
    """An in-memory table, checked like a file; messages name it ``<users frame>``."""
    frame = tables.get(spec.name)
    name = Path(f"<{spec.name} frame>")
    if frame is None:
        if spec.mandatory:
            raise DataValidationError(f"a {spec.name} table is required", file=str(name))
        return None
    return _checked(_with_rows(name, frame), spec, name, report), name


def _read(
    root: _Root, spec: TableSpec, opts: LoadOptions, report: LoadReport
) -> tuple[pl.DataFrame, Path] | None:
    if isinstance(root, dict):
        return _read_frame(root, spec, report)
    path = _find_file(root, spec.name)
    if path is None:
        if spec.mandatory:
            raise DataValidationError(
                f"missing required file: {spec.name}.csv, {spec.name}.parquet or {spec.name}.jsonl",
                file=str(root / spec.name),
            )
        return None
    return _checked(read_table(path, lossy_utf8=opts.lossy_utf8), spec, path, report), path


def _checked(df: pl.DataFrame, spec: TableSpec, where: Path, report: LoadReport) -> pl.DataFrame:
    """The checks every table gets, read from a file or given as a frame: column names,
    required columns, plain values, ids."""
    _check_columns(df, where)
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        have = [c for c in df.columns if c != ROW]
        raise DataValidationError(
            f"missing required column(s) {missing}; found {have}",
            file=str(where),
            column=missing[0],
        )
    report.files[spec.name] = str(where)
    report.rows_read[spec.name] = df.height
    for col in (*spec.required, *spec.optional):
        if col in df.columns and col != "created_at":
            _plain(df, col, where, f"{col!r}")
    return _ids(df, spec, where)


def _drop_unknown(
    df: pl.DataFrame,
    cols: tuple[str, ...],
    known: pl.Series,
    table: str,
    path: Path,
    opts: LoadOptions,
    report: LoadReport,
) -> pl.DataFrame:
    id_map = opts.privacy.users_map if opts.privacy is not None else None
    if id_map is not None:
        # pseudonyms, and ``known`` is this load's users: one lookup of the raw ids in their
        # table both pseudonymises and checks (null: not a user); errors name the raw id
        mapped = df.with_columns(
            pl.col(c).replace_strict(
                id_map["raw"], id_map["p"], default=None, return_dtype=pl.String
            )
            for c in cols
        )
        if opts.strict:
            for c in cols:
                flagged = df.with_columns(mapped[c].is_null().alias("__unknown"))
                _fail_first(flagged, pl.col("__unknown"), path, c, "names a user not in users")
        n = df.height
        df = mapped.filter(~pl.any_horizontal([pl.col(c).is_null() for c in cols]))
        report.count(f"{table}.unknown_user", n - df.height)
        return df
    if opts.privacy is not None:  # pseudonyms before the check: ``known`` holds pseudonyms
        df = opts.privacy.ids(df, cols)
    unknown = pl.any_horizontal([~pl.col(c).is_in(known.implode()) for c in cols])
    if opts.strict:
        for c in cols:
            _fail_first(df, ~pl.col(c).is_in(known.implode()), path, c, "names a user not in users")
    n = df.height
    df = df.filter(~unknown)
    report.count(f"{table}.unknown_user", n - df.height)
    return df


def _users(root: _Root, opts: LoadOptions, report: LoadReport) -> pl.DataFrame:
    spec = TABLES["users"]
    read = _read(root, spec, opts, report)
    assert read is not None  # users is mandatory: _read raised otherwise
    df, path = read
    if df.height == 0:
        raise DataValidationError(
            "the users file has no rows: every post and edge would name an unknown user",
            file=str(path),
        )
    dup = df.filter(pl.col("user_id").is_duplicated()).sort(ROW)
    if dup.height:
        firsts = dup.group_by("user_id", maintain_order=True).agg(pl.col(ROW)).head(5)
        listed = "; ".join(
            f"{r['user_id']!r} at rows {r[ROW]}" for r in firsts.iter_rows(named=True)
        )
        raise DataValidationError(
            f"duplicate user_id: {listed}", file=str(path), row=int(dup[ROW][0]), column="user_id"
        )
    for col in df.columns:
        if col == ROW:
            continue
        if not IDENTIFIER.fullmatch(col):
            raise DataValidationError(
                "column name must be a plain identifier (letters, digits, underscore; starting "
                "with a letter) because it becomes a graph property",
                file=str(path),
                column=col,
            )
        # case-insensitive: the embedded store's property names are
        if col.lower() in OUTPUT_USER_COLUMNS or col.lower().startswith(OUTPUT_PREFIXES):
            raise DataValidationError(
                "column name is reserved for a result that `graphsona profile` writes back "
                f"({', '.join(sorted(OUTPUT_USER_COLUMNS))}, pred_*); rename the column",
                file=str(path),
                column=col,
            )
    empty = [c for c in df.columns if c not in ("user_id", ROW) and df[c].null_count() == df.height]
    if empty:
        # an all-null column carries nothing and has no type a store could give it
        df = df.drop(empty)
        report.count("users.empty_column_dropped", len(empty))
    for col in df.columns:
        if col not in (ROW, "user_id"):
            _plain(df, col, path, f"user property {col!r}")
    for col in ("handle", "bio"):
        if col in df.columns:
            df = df.with_columns(pl.col(col).cast(pl.String))
    df = _parse_time(df, "created_at", path)
    for col in df.columns:
        if col not in ("user_id", "handle", "bio", "created_at", ROW):
            try:
                df = _infer_extra(df, col)
            except DataValidationError as e:
                raise DataValidationError(
                    str(e).split(": ", 1)[-1], file=str(path), row=e.row, column=e.column
                ) from None
    report.rows_kept["users"] = df.height
    df = df.drop(ROW)
    if opts.privacy is not None:
        raw = df
        df = opts.privacy.ids(df, ("user_id",))
        counts: dict[str, int] = {}
        df = opts.privacy.users(df, counts)
        opts.privacy.reidentification(raw, df)
        _privacy_counts(report, counts)
    return df


def _posts(
    root: _Root, users: pl.Series, opts: LoadOptions, report: LoadReport, *, delta: bool = False
) -> pl.DataFrame:
    empty = pl.DataFrame(schema=SCHEMAS["posts"])
    read = _read(root, TABLES["posts"], opts, report)
    if read is None:
        return empty
    df, path = read
    if delta and "post_id" not in df.columns:
        raise DataValidationError(
            "posts of an update need a post_id column (ids derived from row order would "
            "collide with the posts already stored)",
            file=str(path),
            column="post_id",
        )
    if df.schema["text"] == pl.Null:
        df = df.with_columns(pl.col("text").cast(pl.String))
    if df.schema["text"] != pl.String:
        raise DataValidationError(
            f"expected text, got {df.schema['text']}", file=str(path), column="text"
        )
    if "post_id" in df.columns:
        df = df.with_columns(pl.col("post_id").cast(pl.String).str.strip_chars())
        _fail_first(
            df,
            pl.col("post_id").is_null() | (pl.col("post_id") == ""),
            path,
            "post_id",
            "missing post_id",
        )
        _fail_first(
            df,
            pl.col("post_id").str.len_chars() > MAX_ID_CHARS,
            path,
            "post_id",
            f"id longer than {MAX_ID_CHARS} characters",
        )
        dup = df.filter(pl.col("post_id").is_duplicated()).sort(ROW)
        if dup.height:
            ids = dup["post_id"].unique(maintain_order=True).head(5).to_list()
            raise DataValidationError(
                f"duplicate post_id (first: {ids})",
                file=str(path),
                row=int(dup[ROW][0]),
                column="post_id",
            )
    else:
        df = df.with_columns(ordinal_post_ids())
    df = _parse_time(df, "created_at", path)
    df = df.with_columns(
        (pl.col("lang").cast(pl.String) if "lang" in df.columns else pl.lit(None, pl.String)).alias(
            "lang"
        )
    )
    # a language is a BCP 47 tag (en, zh, zh-CN, pt_BR, und); empty means "detect it"
    lang = pl.col("lang").str.strip_chars()
    _fail_first(
        df,
        lang.is_not_null() & (lang != "") & ~lang.str.contains(LANG_TAG),
        path,
        "lang",
        "lang must be a language code like en, zh, zh-CN or und",
    )
    df = _drop_unknown(df, ("user_id",), users, "posts", path, opts, report)
    n = df.height
    df = df.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    report.count("posts.empty", n - df.height)
    too_long = pl.col("text").str.len_chars() > opts.max_post_chars
    report.count("posts.truncated", df.select(too_long.sum()).item())
    df = df.with_columns(pl.col("text").str.slice(0, opts.max_post_chars))
    if opts.privacy is not None:
        counts: dict[str, int] = {}
        df = opts.privacy.posts(df, counts)
        _privacy_counts(report, counts)
    report.rows_kept["posts"] = df.height
    images = ["images"] if "images" in df.columns else []
    if images:
        df = _images(df, path)
    return df.select("post_id", "user_id", "text", "created_at", "lang", *images)


IMAGE_SEPARATOR = "|"  # between image paths in a CSV cell


def _images(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """The ``images`` column as a list of paths or URLs per post (null: none): a list column
    (Parquet, JSONL) or, in CSV, paths separated by ``|``. A relative path is taken relative
    to the posts file's folder and stored absolute; URLs (``scheme://``) are kept as they are."""
    col = df.schema["images"]
    if col in (pl.String, pl.Null):
        df = df.with_columns(pl.col("images").cast(pl.String).str.split(IMAGE_SEPARATOR))
    elif not (isinstance(col, pl.List) and col.inner in (pl.String, pl.Null)):
        raise DataValidationError(
            f"images must be a list of paths or URLs (or, in CSV, paths separated by "
            f"'{IMAGE_SEPARATOR}'); got {col}",
            file=str(path),
            column="images",
        )
    base = str(path.parent.resolve()).rstrip("/") + "/"
    item = pl.element().cast(pl.String).str.strip_chars()
    kept = item.filter(item.is_not_null() & (item != ""))
    absolute = (
        pl.when(kept.str.contains("://", literal=True) | kept.str.starts_with("/"))
        .then(kept)
        .otherwise(pl.lit(base) + kept)
    )
    df = df.with_columns(pl.col("images").list.eval(absolute).alias("images"))
    return df.with_columns(
        pl.when(pl.col("images").list.len() > 0).then(pl.col("images")).alias("images")
    )


def _edges_common(
    root: _Root, table: str, users: pl.Series, opts: LoadOptions, report: LoadReport
) -> tuple[pl.DataFrame, Path] | None:
    read = _read(root, TABLES[table], opts, report)
    if read is None:
        return None
    df, path = read
    df = _parse_time(df, "created_at", path)
    df = _drop_unknown(df, ("src", "dst"), users, table, path, opts, report)
    n = df.height
    df = df.filter(pl.col("src") != pl.col("dst"))
    report.count(f"{table}.self_loop", n - df.height)
    return df, path


def _follows(root: _Root, users: pl.Series, opts: LoadOptions, report: LoadReport) -> pl.DataFrame:
    got = _edges_common(root, "follows", users, opts, report)
    if got is None:
        return pl.DataFrame(schema=SCHEMAS["follows"])
    df, _ = got
    n = df.height
    df = df.group_by("src", "dst").agg(pl.col("created_at").min()).sort("src", "dst")
    report.count("follows.duplicate_merged", n - df.height)
    report.rows_kept["follows"] = df.height
    return df


def _interactions(
    root: _Root, users: pl.Series, opts: LoadOptions, report: LoadReport
) -> pl.DataFrame:
    got = _edges_common(root, "interactions", users, opts, report)
    schema = SCHEMAS["interactions"]
    if got is None:
        return pl.DataFrame(schema=schema)
    df, path = got
    df = df.with_columns(pl.col("kind").cast(pl.String).str.strip_chars().str.to_lowercase())
    _fail_first(
        df,
        pl.col("kind").is_null() | ~pl.col("kind").str.contains(_KIND),
        path,
        "kind",
        "kind must be one word (letters, digits, underscore), e.g. reply, repost, mention",
    )
    if "weight" in df.columns:
        raw = pl.col("weight")
        if df.schema["weight"] == pl.String:
            raw = pl.when(raw.str.strip_chars() == "").then(None).otherwise(raw.str.strip_chars())
        df = df.with_columns(raw.cast(pl.Float64, strict=False).alias("__w"))
        _fail_first(
            df,
            pl.col("weight").is_not_null()
            & pl.col("__w").is_null()
            & (pl.col("weight").cast(pl.String).str.strip_chars() != ""),
            path,
            "weight",
            "weight must be a number",
        )
        _fail_first(
            df,
            pl.col("__w").is_nan() | pl.col("__w").is_infinite() | (pl.col("__w") < 0),
            path,
            "weight",
            "weight must be a finite number >= 0",
        )
        df = df.with_columns(pl.col("__w").fill_null(1.0).alias("weight"))
    else:
        df = df.with_columns(pl.lit(1.0).alias("weight"))
    n = df.height
    df = (
        df.group_by("src", "dst", "kind")
        .agg(
            pl.col("weight").sum(),
            pl.len().cast(pl.Int64).alias("count"),
            pl.col("created_at").min(),
            pl.col("created_at").max().alias("last_at"),
        )
        .sort("src", "dst", "kind")
    )
    report.count("interactions.duplicate_merged", n - df.height)
    report.rows_kept["interactions"] = df.height
    return df.select(list(schema))


def load_frames(
    users: Any,
    follows: Any = None,
    *,
    posts: Any = None,
    interactions: Any = None,
    options: LoadOptions | None = None,
) -> tuple[Dataset, LoadReport]:
    """Validate in-memory tables (polars or pandas frames) exactly as :func:`load_dataset`
    validates files; errors name the table as ``<users frame>``, with row (1-based) and column.

    Example:
        >>> ds, report = load_frames(users_df, follows_df, posts=posts_df)   # doctest: +SKIP
    """
    tables: dict[str, pl.DataFrame] = {}
    for name, frame in (
        ("users", users),
        ("follows", follows),
        ("posts", posts),
        ("interactions", interactions),
    ):
        if frame is None:
            continue
        if not isinstance(frame, pl.DataFrame):
            try:
                frame = pl.from_pandas(frame)
            except (TypeError, ValueError, ImportError) as e:
                raise DataValidationError(
                    f"expected a polars or pandas DataFrame, got {type(frame).__name__}",
                    file=f"<{name} frame>",
                ) from e
        tables[name] = frame
    if "follows" not in tables and "interactions" not in tables:
        raise DataValidationError("a dataset needs follows or interactions (or both)")
    return _validate(tables, options or LoadOptions())


def load_dataset(
    path: str | Path, options: LoadOptions | None = None
) -> tuple[Dataset, LoadReport]:
    """Read and validate the dataset directory ``path``.

    Returns the validated :class:`Dataset` and a :class:`LoadReport`; raises
    :class:`~graphsona.errors.DataValidationError` (file, row, column) on the first contract
    violation. Nothing is written anywhere.

    Example:
        >>> ds, report = load_dataset("data/mynet")          # doctest: +SKIP
        >>> print(report)                                     # doctest: +SKIP
    """
    root = Path(path)
    if not root.is_dir():
        raise DataValidationError("dataset directory not found", file=str(root))
    no_edges = _find_file(root, "follows") is None and _find_file(root, "interactions") is None
    return _validate(root, options or LoadOptions(), no_edges=no_edges)


def load_delta(
    path: str | Path | dict[str, pl.DataFrame],
    known_users: pl.Series,
    options: LoadOptions | None = None,
) -> tuple[Dataset, LoadReport]:
    """Read and validate a dataset of *changes* (``graphsona update``, a stream's micro-batch).

    Like :func:`load_dataset`, with two differences: every table is optional (a delta may hold
    only new posts, or only new follows), and rows may name users already in the store
    (``known_users``) as well as the delta's own users. ``path`` is a folder or in-memory
    tables by name (``users``, ``posts``, ``follows``, ``interactions``).
    """
    opts = options or LoadOptions()
    if isinstance(path, dict):
        root: _Root = path
        has_users = "users" in path
    else:
        root = Path(path)
        if not root.is_dir():
            raise DataValidationError("dataset directory not found", file=str(root))
        has_users = _find_file(root, "users") is not None
        if not any(_find_file(root, t) is not None for t in TABLES):
            raise DataValidationError(
                "no dataset file found (users, posts, follows or interactions as .csv, .parquet "
                "or .jsonl)",
                file=str(root),
            )
    return _validate(root, opts, known=known_users, has_users=has_users)


def _validate(
    root: _Root,
    opts: LoadOptions,
    *,
    no_edges: bool = False,
    known: pl.Series | None = None,
    has_users: bool = True,
) -> tuple[Dataset, LoadReport]:
    if opts.max_post_chars < 1:
        raise DataValidationError(f"max_post_chars must be >= 1, got {opts.max_post_chars}")
    report = LoadReport()
    users = _users(root, opts, report) if has_users else pl.DataFrame(schema={"user_id": pl.String})
    known_given = known is not None
    if opts.privacy is not None and known_given:  # rows may name users of the store too
        opts.privacy.users_map = None
    if known is not None:  # a delta: rows may also name users the store already holds
        known = pl.concat([known.cast(pl.String), users["user_id"]]).unique()
    else:
        known = users["user_id"]
    if no_edges:
        raise DataValidationError(
            "a dataset needs follows or interactions (follows.csv|parquet|jsonl, interactions.*)",
            file=str(root),
        )
    posts = _posts(root, known, opts, report, delta=known_given)
    follows = _follows(root, known, opts, report)
    interactions = _interactions(root, known, opts, report)
    if not has_users:
        report.rows_kept["users"] = 0
    privacy = opts.privacy.meta() if opts.privacy is not None else None
    return Dataset(users, posts, follows, interactions, dict(report.files), privacy=privacy), report
