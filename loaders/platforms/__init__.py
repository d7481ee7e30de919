"""Importers for platform exports: ``graphsona load --format FORMAT PATH``.

Each turns a platform's own files into graphsona's four tables, which then go through the same
validation, privacy policy and load report as any dataset folder (:func:`import_platform`).
Records that break the platform's schema stop the import with an error naming the file and the
record; what can be repaired (deleted authors, replies to posts outside the files, overlapping
pages) is counted in the load report under ``<format>.<what>``. Nothing is written anywhere
until the whole import has been read and validated.

=============== ======================================================================
format          reads (see each module for the field table)
=============== ======================================================================
``x-archive``   an unzipped X/Twitter account archive (:mod:`.x`)
``x-api``       saved X API v2 JSON pages (:mod:`.x`)
``mastodon``    saved Mastodon API JSON, or an account archive's ActivityPub outbox
                (:mod:`.mastodon`)
``bluesky``     AT Protocol records (listRecords pages, JSON lines) (:mod:`.bluesky`)
``reddit``      Reddit NDJSON dumps, plain or ``.zst`` (:mod:`.reddit`)
``weibo``       saved Weibo open API JSON (:mod:`.weibo`)
=============== ======================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphsona.errors import ConfigError, DataValidationError
from graphsona.loaders.dataset import Dataset, LoadReport
from graphsona.loaders.platforms._common import Collector
from graphsona.loaders.platforms.bluesky import read_bluesky
from graphsona.loaders.platforms.mastodon import read_mastodon
from graphsona.loaders.platforms.reddit import read_reddit
from graphsona.loaders.platforms.weibo import read_weibo
from graphsona.loaders.platforms.x import read_x_api, read_x_archive

__all__ = ["PLATFORMS", "convert_platform", "import_platform", "read_platform"]

PLATFORMS: dict[str, Callable[[Path], Collector]] = {
    "x-archive": read_x_archive,
    "x-api": read_x_api,
    "mastodon": read_mastodon,
    "bluesky": read_bluesky,
    "reddit": read_reddit,
    "weibo": read_weibo,
}


def read_platform(fmt: str, path: str | Path) -> Collector:
    """The rows of a platform export, before validation."""
    if fmt not in PLATFORMS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(PLATFORMS)}")
    return PLATFORMS[fmt](Path(path))


def import_platform(
    fmt: str, path: str | Path, options: object | None = None
) -> tuple[Dataset, LoadReport]:
    """Read a platform export and validate it like a dataset folder (``options``: a
    :class:`~graphsona.loaders.LoadOptions`, privacy included); the report counts the
    importer's repairs beside the validator's."""
    from graphsona.loaders.validate import LoadOptions, load_frames

    collected = read_platform(fmt, path)
    tables = collected.tables()
    if tables["follows"].height == 0 and tables["interactions"].height == 0:
        raise DataValidationError(
            f"the {fmt} export holds no follows and no interactions (replies, mentions, "
            "reposts, likes): graphsona profiles a graph",
            file=str(path),
        )
    opts = options if isinstance(options, LoadOptions) else LoadOptions()
    dataset, report = load_frames(**tables, options=opts)
    for key, n in sorted(collected.repairs.items()):
        report.count(key, n)
    source = f"{fmt}: {path}"
    report.files = {t: source for t in report.rows_read}
    dataset.sources = dict(report.files)
    return dataset, report


def convert_platform(fmt: str, path: str | Path, out: str | Path) -> tuple[dict[str, int], Any]:
    """Write a platform export as a dataset folder of Parquet files (``graphsona convert``),
    unvalidated: ``graphsona load OUT`` validates it (privacy policy included) like any
    folder. Reddit dumps are converted with their posts and edges spilled to disk as they are
    read (memory grows with the distinct authors, not the posts); the page-based formats are
    read in memory as for ``load --format``. Returns the rows per table and the repairs."""
    import shutil
    import tempfile

    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty: convert into a new folder")
    if fmt == "reddit":
        with tempfile.TemporaryDirectory(prefix="graphsona-convert-", dir=target.parent) as tmp:
            collected = read_reddit(Path(path), spill=Path(tmp))
            counts = collected.write_dataset(target)
    else:
        collected = read_platform(fmt, path)
        counts = collected.write_dataset(target)
    if counts["follows"] == 0 and counts["interactions"] == 0:
        shutil.rmtree(target)
        raise DataValidationError(
            f"the {fmt} export holds no follows and no interactions: graphsona profiles a graph",
            file=str(path),
        )
    return counts, collected.repairs
