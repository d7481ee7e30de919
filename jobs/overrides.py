"""Command-line options over a job config: the settings one profiling or evaluation run uses.

The config file (:func:`~graphsona.jobs.config.load_config`) gives every setting a value;
options given on the command line win over it. ``None`` (and ``False`` for ``fast``) means
"not given": the config's value stays.

Example:
    >>> from graphsona.jobs.config import load_config                    # doctest: +SKIP
    >>> job = profile_settings(load_config("job.toml"), "g.lbdb", epochs=50)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphsona.jobs.workdir import clear_work_dir, resolve_work_dir

if TYPE_CHECKING:
    from graphsona.jobs.config import JobConfig
    from graphsona.jobs.settings import ProfileJobConfig

__all__ = ["job_settings", "profile_settings"]


def job_settings(
    cfg: JobConfig,
    *,
    fast: bool = False,
    cache: Path | None = None,
    embedder: str | None = None,
    epochs: int | None = None,
    dim: int | None = None,
    seed: int | None = None,
    resolution: float | None = None,
    min_community_size: int | None = None,
    batch_size: int | None = None,
    work_dir: Path | None = None,
    ray: str | None = None,
    ray_workers: int | None = None,
) -> ProfileJobConfig:
    """``cfg.job`` with each given option on top (``fast``: the static embedding model)."""
    options: dict[str, Any] = {
        "embedder": embedder,
        "epochs": epochs,
        "dim": dim,
        "seed": seed,
        "resolution": resolution,
        "min_community_size": min_community_size,
        "batch_size": batch_size,
        "cache": cache,
        "work_dir": work_dir,
        "ray": ray,
        "ray_workers": ray_workers,
    }
    changes = {k: v for k, v in options.items() if v is not None}
    if fast:
        changes["embedder_kind"] = "static"
    return replace(cfg.job, **changes)


def profile_settings(
    cfg: JobConfig,
    store_uri: str,
    *,
    work_dir: Path | None = None,
    fresh: bool = False,
    **options: Any,
) -> ProfileJobConfig:
    """The settings of ``graphsona profile`` on ``store_uri``: :func:`job_settings` with the
    work dir resolved (``work_dir``, else ``[output] work_dir``, else the store's default) and,
    with ``fresh``, emptied first so every stage is recomputed."""
    wd = resolve_work_dir(store_uri, given=work_dir, configured=cfg.work_dir, database=cfg.database)
    job = job_settings(cfg, work_dir=wd, **options)
    job.check()  # a mistyped option must not cost the saved stages
    if fresh:
        clear_work_dir(wd)
    return job
