"""The demo: a synthetic network, validated, loaded into the embedded store, profiled, summarised.

generate -> write the dataset -> validate (with pseudonyms and PII scrubbing) -> load (``OUT/graph.lbdb``, replaced) -> the profiling
job (work dir: the store's default, ``OUT/graph.lbdb.runs``, emptied first) -> store summary,
one sample profile card and the HTML report (``OUT/report.html``). Afterwards ``graphsona
profile`` / ``report`` on ``OUT/graph.lbdb`` find the demo's stage outputs by the same rule
(:func:`~graphsona.jobs.workdir.default_work_dir`).

Example:
    >>> result = run_demo(Path("graphsona-demo"), n_users=500, fast=True)  # doctest: +SKIP
    >>> result.summary["profile"]["communities"][0]["name"]                # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from graphsona.jobs.workdir import default_work_dir
from graphsona.loaders.dataset import LoadReport

__all__ = ["DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """What the demo made: ``summary`` (the ``--json`` output: store counts, most-followed users,
    users per planted community, the profiling summary, a sample profile card, paths and
    seconds) and the load report."""

    summary: dict[str, Any]
    load_report: LoadReport


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def run_demo(
    out: Path,
    *,
    n_users: int = 3000,
    communities: int = 8,
    seed: int = 7,
    fast: bool = False,
    cache: Path | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> DemoResult:
    """Run the whole demo into the folder ``out`` (its dataset, store and work dir replaced).

    Args:
        n_users, communities, seed: the synthetic network (planted communities); the
            profiling job runs with its defaults, as ``graphsona profile`` would.
        fast: embed with the static model (the fast CPU mode) instead of all-MiniLM-L6-v2.
        cache: the text-vector cache (``None``: the default, ~/.cache/graphsona/vectors.sqlite).
        progress: ``progress(step, message)`` as steps start; the profiling job's own stage
            messages come through it too.
    """

    def say(step: str, message: str) -> None:
        if progress is not None:
            progress(step, message)

    from graphsona.graph.lock import hold, store_lock_path

    t0 = time.perf_counter()
    data_dir, store_path = out / "data", out / "graph.lbdb"
    work_dir = default_work_dir(str(store_path))
    with (
        hold(store_lock_path(str(store_path)), "the demo store"),
        hold(work_dir / ".graphsona.lock", f"the work dir {work_dir}"),
    ):
        # the locks first: a job running on the demo store keeps its store and checkpoints
        return _run(out, data_dir, store_path, work_dir, n_users, communities, seed, fast, cache,
                    say, progress, t0)  # fmt: skip


def _run(
    out: Path,
    data_dir: Path,
    store_path: Path,
    work_dir: Path,
    n_users: int,
    communities: int,
    seed: int,
    fast: bool,
    cache: Path | None,
    say: Callable[[str, str], None],
    progress: Callable[[str, str], None] | None,
    t0: float,
) -> DemoResult:
    from graphsona.graph import EmbeddedStore
    from graphsona.jobs.profile import run_profile
    from graphsona.jobs.settings import ProfileJobConfig
    from graphsona.loaders import (
        LoadOptions,
        SyntheticConfig,
        generate,
        load_dataset,
        write_dataset,
    )
    from graphsona.outputs.report import write_report
    from graphsona.outputs.summary import graph_summary, profile_card
    from graphsona.privacy import KEY_ENV, PrivacySettings, create_key_file

    _remove(store_path)
    if work_dir.is_dir():  # emptied, not removed: it holds the lock file this run holds
        for child in work_dir.iterdir():
            if child.name != ".graphsona.lock":
                _remove(child)
    say("generate", "generating the synthetic network")
    net = generate(SyntheticConfig(n_users=n_users, n_communities=communities, seed=seed))
    write_dataset(net, data_dir)
    say("validate", "validating the dataset")
    # privacy on, as a real deployment should have it: ids, handles and post ids become keyed
    # pseudonyms (the key from $GRAPHSONA_PSEUDONYM_KEY, else the default key file, made on
    # first use outside the demo folder) and e-mails, phones and URL paths are scrubbed
    if not os.environ.get(KEY_ENV):
        create_key_file()
    policy = PrivacySettings(pseudonymise=True).policy()
    dataset, load_report = load_dataset(data_dir, LoadOptions(privacy=policy))
    # exactly the settings `graphsona profile [--fast]` uses, so that a later `graphsona profile`
    # on the demo store reuses every stage (``seed`` seeds the network, not the job)
    job = ProfileJobConfig(
        embedder_kind="static" if fast else "sentence-transformers", work_dir=work_dir
    )
    if cache is not None:
        job = replace(job, cache=cache)
    with EmbeddedStore(store_path) as store:
        say("load", "loading into the embedded store")
        store.load(dataset, source=str(data_dir))
        say("profile", "embed -> train -> communities -> influence -> write-back")
        result = run_profile(store, job, progress=progress)
        summary = graph_summary(store, truth_column="planted_community")
        summary["profile"] = result.summary()
        summary["sample_profile"] = profile_card(store, summary["top_followed"][0]["user_id"])
        say("report", "writing the report")
        report = write_report(store, out / "report.html", work_dir=work_dir)
    from graphsona.jobs.workdir import record_outputs

    record_outputs(work_dir, [Path(report)])  # for `graphsona forget`
    summary["report"] = str(report)
    summary["load_report"] = load_report.to_dict()
    summary["store"] = str(store_path)
    summary["dataset"] = str(data_dir)
    summary["work_dir"] = str(work_dir)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return DemoResult(summary, load_report)
