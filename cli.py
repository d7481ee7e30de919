"""The ``graphsona`` command line: parsing and printing only; the library does the work.

Every command turns a :class:`~graphsona.errors.GraphsonaError` into one ``error:`` line and
exit code 1 (a traceback only with ``--debug``); ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import polars as pl
from graphsona.errors import GraphsonaError
from rich.console import Console
from rich.table import Table

# Only light modules above: `graphsona --help`, `query --list` and `stats` start in well under
# 2 s because torch, transformers and the models are imported inside the commands that use them.

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=False)


def _store_option(f: F) -> F:
    """``--store``; the store used is, first found: --store, the config file's [store] uri,
    $GRAPHSONA_STORE, $NEO4J_URI, graphsona.lbdb (see graphsona.graph.resolve_store_uri)."""
    return click.option(
        "--store",
        "store_uri",
        default=None,
        show_default="$GRAPHSONA_STORE, $NEO4J_URI or graphsona.lbdb",
        help="Embedded store path, or neo4j://host:port / bolt://[user:password@]host:port "
        "(else credentials from NEO4J_USERNAME, NEO4J_PASSWORD; database from NEO4J_DATABASE). "
        "Without --store: the config file's [store] uri, then the default. Only `load` (and "
        "`demo`) create an embedded store; other commands refuse a path with no store.",
    )(f)


def _cache_option(f: F) -> F:
    return click.option(
        "--cache",
        "cache_path",
        type=click.Path(path_type=Path),
        default=None,
        show_default="~/.cache/graphsona/vectors.sqlite, or the config's [model] cache",
        help="Content-addressed text-vector cache; a rerun embeds only new texts.",
    )(f)


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)


def _post_table_options(by_help: str) -> Callable[[F], F]:
    """``--by community|user|post``, ``--top``, ``--out`` and ``--json`` of the post commands."""

    def wrap(f: F) -> F:
        for option in reversed(
            (
                click.option(
                    "--by",
                    type=click.Choice(["community", "user", "post"]),
                    default="community",
                    show_default=True,
                    help=by_help,
                ),
                click.option(
                    "--top", type=int, default=20, show_default=True, help="Rows to show."
                ),
                click.option(
                    "--out",
                    type=click.Path(path_type=Path),
                    default=None,
                    help="Write Parquet here.",
                ),
                _json_option,
            )
        ):
            f = option(f)
        return f

    return wrap


def _redacted(text: str) -> str | None:
    """``text`` with passwords masked; None if the masking code itself cannot be imported."""
    try:
        from graphsona.graph._uri import redact
    except Exception:  # the graph package failed to import: print no text at all
        return None
    return redact(text)


def _friendly(f: F) -> F:
    """Errors as one ``error:`` line and exit code 1; with ``--debug``, the traceback instead.

    A :class:`GraphsonaError` prints its first line. Any other exception (a bug, or a library
    error graphsona did not translate) prints ``error: <Type>: <first line>`` and a hint to rerun
    with ``--debug``, so no unexpected traceback can show a secret. Every printed line goes
    through :func:`graphsona.graph._uri.redact`: no URI password and no ``NEO4J_PASSWORD`` value.
    """

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            text = _redacted(str(e))
            first = (text or "").strip().splitlines()
            if isinstance(e, GraphsonaError):
                click.echo(f"error: {first[0] if first else type(e).__name__}", err=True)
            else:
                what = f"{type(e).__name__}: {first[0]}" if first else type(e).__name__
                click.echo(f"error: {what} (run with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="graphsona")
def main(debug: bool) -> None:
    """graphsona: social-graph user profiling and community analysis.

    \b
    Example:
      graphsona demo                      # synthetic network -> embedded store -> summary
      graphsona load data/mynet --store bolt://localhost:7687
    """


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("graphsona-demo"),
    show_default=True,
    help="Folder for the generated dataset and the embedded store (replaced).",
)
@click.option(
    "--users", "n_users", type=int, default=3000, show_default=True, help="Synthetic users."
)
@click.option("--communities", type=int, default=8, show_default=True, help="Planted communities.")
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Seed of the synthetic network."
)
@click.option(
    "--fast", is_flag=True, help="Fast CPU embedding mode (static model) instead of MiniLM."
)
@_cache_option
@_json_option
@_friendly
def demo(
    out: Path,
    n_users: int,
    communities: int,
    seed: int,
    fast: bool,
    cache_path: Path | None,
    as_json: bool,
) -> None:
    """Generate a synthetic network, load it into the embedded store, profile it, summarise.

    Runs the whole job on the embedded store: load -> embed posts -> train the GNN ->
    communities with names -> influence -> write-back, then prints communities, top
    influencers and one sample profile, and writes an HTML report (OUT/report.html).
    Stage outputs stay in OUT/graph.lbdb.runs, where `graphsona profile` and `graphsona
    report` on OUT/graph.lbdb find them (`profile`, with the same --fast, reuses them all).

    \b
    Example:
      graphsona demo --out graphsona-demo --users 3000
      graphsona profile --store graphsona-demo/graph.lbdb   # reuses the demo's stages
    """
    from graphsona.jobs.demo import run_demo

    with console.status("demo") as status:
        result = run_demo(
            out,
            n_users=n_users,
            communities=communities,
            seed=seed,
            fast=fast,
            cache=cache_path,
            progress=None if as_json else _progress(status),
        )
    summary = result.summary
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    console.print(str(result.load_report))
    _print_summary(summary)
    _print_profile(summary["profile"], summary["sample_profile"])
    console.print(
        f"store: {summary['store']}   dataset: {summary['dataset']}   report: "
        f"{summary['report']}   ({summary['seconds']} s)"
    )


def _progress(status: Any) -> Callable[[str, str], None]:
    """A ``progress(stage, message)`` callback that shows the message on the status line."""

    def progress(stage: str, message: str) -> None:
        status.update(f"[bold]{stage}[/bold]: {message}")

    return progress


def _config_option(f: F) -> F:
    f = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="SECTION.KEY=VALUE",
        help="Override any config option, e.g. --set training.lr=0.005 (repeatable).",
    )(f)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=None,
        help="TOML job config (see `graphsona validate`); command-line options win over it.",
    )(f)


def _job_config(config_path: Path | None, sets: tuple[str, ...] = ()) -> Any:
    """The validated job config (defaults where no --config)."""
    from graphsona.jobs.config import load_config

    return load_config(config_path, sets)


def _uri(store_uri: str | None, cfg: Any) -> str:
    """The store: --store, else the config's [store] uri, else $GRAPHSONA_STORE / $NEO4J_URI /
    graphsona.lbdb."""
    from graphsona.graph.registry import resolve_store_uri

    return resolve_store_uri(store_uri, cfg.uri)


@contextlib.contextmanager
def _open(uri: str, cfg: Any, *, read_only: bool = False, create: bool = False) -> Iterator[Any]:
    """Open the store with the config's mapping and database; a missing embedded store is
    refused unless ``create``. A writable open holds the store's job lock first (one writer at a
    time: ``embed --write``, ``recommend --write-back``, ``query --write`` too), so a busy
    store is refused naming its holder."""
    from graphsona.graph import open_store
    from graphsona.graph.lock import hold, store_lock_path

    with contextlib.ExitStack() as stack:
        if not read_only:
            stack.enter_context(hold(store_lock_path(uri, cfg.database), "the store"))
        store = stack.enter_context(
            open_store(
                uri, mapping=cfg.mapping, database=cfg.database, read_only=read_only, create=create
            )
        )
        yield store


@main.command()
@_store_option
@_config_option
@click.option("--fast", is_flag=True, help="Fast CPU embedding mode (static model).")
@click.option("--embedder", default=None, help="Text model name or local path.")
@click.option("--epochs", type=int, default=None, help="Maximum training epochs [100].")
@click.option("--dim", type=int, default=None, help="Profile dimension [128].")
@click.option("--seed", type=int, default=None, help="Seed of every random draw [0].")
@click.option("--resolution", type=float, default=None, help="Community resolution [1.0].")
@click.option("--min-community-size", type=int, default=None, help="Smallest community [5].")
@click.option("--batch-size", type=int, default=None, help="Mini-batch training edges.")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Stage outputs and checkpoints [beside the embedded store, or ~/.cache/graphsona/runs].",
)
@click.option("--fresh", is_flag=True, help="Ignore saved stages and recompute everything.")
@click.option(
    "--ray",
    "ray_address",
    default=None,
    metavar="local|auto|ADDRESS",
    help="Embed and train on Ray: a local instance, the running cluster, or HOST:PORT.",
)
@click.option(
    "--ray-workers", type=int, default=None, help="Ray model actors / training workers [per CPU]."
)
@_cache_option
@_json_option
@_friendly
def profile(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    fast: bool,
    embedder: str | None,
    epochs: int | None,
    dim: int | None,
    seed: int | None,
    resolution: float | None,
    min_community_size: int | None,
    batch_size: int | None,
    work_dir: Path | None,
    fresh: bool,
    ray_address: str | None,
    ray_workers: int | None,
    cache_path: Path | None,
    as_json: bool,
) -> None:
    """Profile every user in a store and write the results back (resumable).

    Stages: embed posts -> train the GNN -> communities with names -> influence -> label
    heads -> write-back (profile vector + index, community, influence, predictions, Community
    nodes). Each stage's output is kept in the work dir; a rerun skips stages whose inputs did
    not change, and an interrupted training resumes from its last checkpoint.

    \b
    Example:
      graphsona profile --store graphsona-demo/graph.lbdb
      graphsona profile --config job.toml --epochs 50
      NEO4J_PASSWORD=... graphsona profile --store neo4j://localhost:7687 --fast
      graphsona profile --store graphsona-demo/graph.lbdb --ray local --ray-workers 2
    """
    from graphsona.graph.lock import hold, store_lock_path
    from graphsona.graph.registry import require_store
    from graphsona.jobs.overrides import profile_settings
    from graphsona.jobs.profile import run_profile

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    require_store(uri)  # before the lock: a mistyped path leaves no lock file behind
    job = profile_settings(
        cfg,
        uri,
        work_dir=work_dir,
        fresh=fresh,
        fast=fast,
        cache=cache_path,
        embedder=embedder,
        epochs=epochs,
        dim=dim,
        seed=seed,
        resolution=resolution,
        min_community_size=min_community_size,
        batch_size=batch_size,
        ray=ray_address,
        ray_workers=ray_workers,
    )
    # the job lock before the store opens: a busy store is refused naming its holder
    with (
        hold(store_lock_path(uri, cfg.database), "the store"),
        console.status("profiling") as status,
        _open(uri, cfg) as store,
    ):
        result = run_profile(store, job, progress=None if as_json else _progress(status))
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2, default=str))
    else:
        _print_profile(result.summary(), None)
        if result.skipped:
            console.print(
                f"reused unchanged stages: {', '.join(result.skipped)}  (work dir {job.work_dir})"
            )


_work_dir_option = click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The full run's work dir [beside the embedded store, or ~/.cache/graphsona/runs].",
)


@main.command()
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_store_option
@_config_option
@_work_dir_option
@_cache_option
@_json_option
@_friendly
def update(
    dataset_dir: Path,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    work_dir: Path | None,
    cache_path: Path | None,
    as_json: bool,
) -> None:
    """Apply a folder of changes (new or changed users, posts, follows, interactions) and
    update only the results they touch, from the last full run's saved state.

    DATASET_DIR holds any of users, posts (with post_id), follows and interactions files in
    the data contract; rows may name users already in the store. New posts are embedded,
    touched users' profiles inferred with the trained model (no retraining), communities
    warm-started, influence re-ranked, and only changed users written back. The drift
    report says when a full `graphsona profile` is due.

    \b
    Example:
      graphsona update data/changes-2026-12-02 --store graphsona-demo/graph.lbdb
      graphsona update data/changes --config job.toml --json
    """
    from graphsona.graph.lock import hold, store_lock_path
    from graphsona.graph.registry import require_store
    from graphsona.jobs.overrides import profile_settings
    from graphsona.jobs.update import run_update

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    require_store(uri)
    job = profile_settings(cfg, uri, work_dir=work_dir, cache=cache_path)
    with (
        hold(store_lock_path(uri, cfg.database), "the store"),
        console.status("updating") as status,
        _open(uri, cfg) as store,
    ):
        result = run_update(
            store,
            dataset_dir,
            job,
            progress=None if as_json else _progress(status),
            privacy=cfg.privacy,
        )
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    _print_update(summary)


@main.command()
@click.argument("user_ids", nargs=-1)
@click.option(
    "--file",
    "ids_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of user ids, one per line (with the ids given as arguments).",
)
@_store_option
@_config_option
@_work_dir_option
@_cache_option
@_json_option
@_friendly
def forget(
    user_ids: tuple[str, ...],
    ids_file: Path | None,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    work_dir: Path | None,
    cache_path: Path | None,
    as_json: bool,
) -> None:
    """Erase people from everything graphsona keeps (store, vector cache, work dir, exports).

    Ids are the platform's own: in a pseudonymised store they are turned into pseudonyms with
    the store's key. Aggregates that counted them are recounted or marked stale, and one line
    without ids goes to the erasure log in the work dir. An interrupted erasure is completed
    by the next `graphsona forget` (ids optional then). See the README's "Privacy" section.

    \b
    Example:
      graphsona forget 12345 67890 --store graphsona-demo/graph.lbdb
      graphsona forget --file requests.txt --config job.toml --json
    """
    from graphsona.graph.registry import require_store
    from graphsona.jobs.forget import run_forget
    from graphsona.jobs.overrides import profile_settings

    ids = list(user_ids)
    if ids_file is not None:
        ids += [x.strip() for x in ids_file.read_text(encoding="utf-8").splitlines() if x.strip()]
    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    require_store(uri)
    job = profile_settings(cfg, uri, work_dir=work_dir, cache=cache_path)
    assert job.work_dir is not None
    with console.status("forgetting") as status, _open(uri, cfg) as store:
        result = run_forget(
            store,
            ids,
            work_dir=job.work_dir,
            cache=job.cache,
            privacy=cfg.privacy,
            progress=None if as_json else _progress(status),
        )
    s = result.summary()
    if as_json:
        click.echo(json.dumps(s, indent=2, default=str))
        return
    console.print(
        f"erased {s['found']} of {s['requested']} users"
        + (" (and completed an interrupted erasure)" if s["resumed_earlier_erasure"] else "")
    )
    for k, v in s.items():
        if k not in ("requested", "found", "resumed_earlier_erasure", "log", "users_requested"):
            console.print(f"  {k}: {v}")
    if s["log"]:
        console.print(f"erasure log: {s['log']}")


def _print_update(s: dict[str, Any]) -> None:
    console.print(
        f"update {s['run_id']}: {s['users']:,} users ({s['new_users']:,} new), "
        f"{s['new_posts']:,} new posts; {s['touched_users']:,} touched, "
        f"{s['refreshed_profiles']:,} profiles refreshed, {s['written_users']:,} users written"
    )
    console.print(
        f"communities: {s['communities_kept']:.1%} of earlier users kept their community "
        f"({s['moved_users']:,} moved); PageRank warm start: {s['pagerank_iterations']} sweeps; "
        f"alerts: {s['alerts']}"
    )
    d = s["drift"]
    auc = d.get("new_follows_auc")
    console.print(
        f"drift: {d['new_users_since_full_run']:,} users added since the full run "
        f"({d['new_user_share']:.1%}); new follows AUC "
        + (f"{auc:.3f}" if auc is not None else "not measured")
        + (f" (full run {d['full_run_val_auc']:.3f})" if d.get("full_run_val_auc") else "")
    )
    if d["retrain_due"]:
        console.print(
            "[bold yellow]a full `graphsona profile` is due:[/] " + "; ".join(d["reasons"])
        )
    console.print("seconds: " + ", ".join(f"{k} {v}" for k, v in s["seconds"].items()))


@main.command()
@click.option(
    "--watch",
    "watch_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder to watch for new data files (users*, posts*, follows*, interactions*).",
)
@click.option("--kafka", "bootstrap", default=None, help="Kafka brokers, host:port[,host:port].")
@_store_option
@_config_option
@_work_dir_option
@_cache_option
@click.option(
    "--topic-prefix",
    default="graphsona",
    show_default=True,
    help="Kafka topics <prefix>.users, .posts, .follows, .interactions.",
)
@click.option("--group", default="graphsona", show_default=True, help="Kafka consumer group.")
@click.option(
    "--dead-letter-topic",
    default=None,
    show_default="<prefix>.dead-letter",
    help="Where bad messages go, with the reason.",
)
@click.option("--alerts-topic", default=None, help="Publish each new alert here (JSON).")
@click.option(
    "--batch-messages",
    type=int,
    default=1000,
    show_default=True,
    help="Kafka: messages per micro-batch at most.",
)
@click.option(
    "--batch-seconds",
    type=float,
    default=5.0,
    show_default=True,
    help="Kafka: seconds a micro-batch collects messages at most.",
)
@click.option(
    "--full-every",
    type=float,
    default=600.0,
    show_default=True,
    help="Kafka: seconds between full updates (Leiden, alerts); light ones in between.",
)
@click.option(
    "--interval",
    type=float,
    default=5.0,
    show_default=True,
    help="Folder: seconds between looks at the folder.",
)
@click.option("--once", is_flag=True, help="Folder: apply what is there now, then stop.")
@click.option(
    "--idle-stop",
    type=float,
    default=None,
    help="Kafka: stop when no message came for this many seconds.",
)
@click.option("--max-batches", type=int, default=None, help="Stop after this many updates.")
@_json_option
@_friendly
def stream(
    watch_dir: Path | None,
    bootstrap: str | None,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    work_dir: Path | None,
    cache_path: Path | None,
    topic_prefix: str,
    group: str,
    dead_letter_topic: str | None,
    alerts_topic: str | None,
    batch_messages: int,
    batch_seconds: float,
    full_every: float,
    interval: float,
    once: bool,
    idle_stop: float | None,
    max_batches: int | None,
    as_json: bool,
) -> None:
    """Apply streamed changes as incremental updates: from Kafka topics or a watched folder.

    Kafka (--kafka): one JSON message per row on <prefix>.users, .posts, .follows and
    .interactions, in the data contract's fields; micro-batches by count or seconds go
    through `graphsona update`; offsets are committed only after the store is written (a
    crash re-reads the batch; upserts make the replay harmless); a bad message goes to the
    dead-letter topic with the reason and never stops the stream; --alerts-topic publishes
    new alerts.

    Folder (--watch): each look takes the files not applied yet (names starting with users,
    posts, follows or interactions; .csv, .parquet or .jsonl; files changed in the last second
    wait for the next look) and applies them together. A file failing validation moves to
    .rejected/ with the reason. Applied files are recorded in .graphsona-stream.json after the
    store and state are written.

    \b
    Example:
      graphsona stream --kafka localhost:9092 --store graphsona-demo/graph.lbdb
      graphsona stream --kafka localhost:9092 --alerts-topic graphsona.alerts --json
      graphsona stream --watch incoming/ --store graphsona-demo/graph.lbdb --once
    """
    from graphsona.graph.lock import hold, store_lock_path
    from graphsona.graph.registry import require_store
    from graphsona.jobs.overrides import profile_settings

    if (watch_dir is None) == (bootstrap is None):
        raise click.UsageError("give exactly one of --watch DIR and --kafka HOST:PORT")
    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    require_store(uri)
    job = profile_settings(cfg, uri, work_dir=work_dir, cache=cache_path)

    def report(batch: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(batch, default=str))
            return
        for name, why in (batch.get("rejected") or {}).items():
            console.print(f"[red]rejected[/] {name}: {why}")
        if batch.get("dead_letters"):
            console.print(f"[red]{batch['dead_letters']} bad messages[/] sent to the dead letters")
        if batch.get("error"):
            console.print(f"[red]not applied[/] {', '.join(batch['files'])}: {batch['error']}")
        if batch.get("update"):
            what = (
                ", ".join(batch["files"])
                if "files" in batch
                else (f"{batch['messages']:,} messages")
            )
            console.print(f"applied {what}")
            _print_update(batch["update"])

    with hold(store_lock_path(uri, cfg.database), "the store"), _open(uri, cfg) as store:
        if watch_dir is not None:
            from graphsona.stream.watch import FolderWatch

            FolderWatch(watch_dir, store, job, privacy=cfg.privacy).run(
                report, interval=interval, once=once, max_batches=max_batches
            )
            return
        from graphsona.stream.kafka import KafkaStream, StreamTopics

        assert bootstrap is not None
        topics = StreamTopics(
            prefix=topic_prefix, dead_letter=dead_letter_topic or "", alerts=alerts_topic
        )
        KafkaStream(
            store,
            job,
            bootstrap,
            topics=topics,
            group=group,
            batch_messages=batch_messages,
            batch_seconds=batch_seconds,
            full_every=full_every,
            privacy=cfg.privacy,
        ).run(report, max_batches=max_batches, idle_stop=idle_stop)


def _parse_params(params: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {p!r}", param_hint="--param")
        out[key.strip()] = value
    return out


def _print_frame(frame: pl.DataFrame, title: str | None = None) -> None:
    t = Table(title=title)
    for col in frame.columns:
        t.add_column(col)
    for row in frame.iter_rows():
        t.add_row(*(_cell(v) for v in row))
    console.print(t)


def _cell(v: Any) -> str:
    """A value as table text; escaped, so data like ``[phone]`` is not taken for markup."""
    from rich.markup import escape

    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return escape(", ".join(map(str, v[:8])) + (" ..." if len(v) > 8 else ""))
    return "" if v is None else escape(str(v))


def _emit(frame: pl.DataFrame, as_json: bool, title: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(frame.to_dicts(), indent=2, default=str))
    else:
        _print_frame(frame, title)


@main.command()
@click.argument("query_or_name", required=False)
@click.option(
    "--param", "-p", "params", multiple=True, metavar="KEY=VALUE", help="Query parameter."
)
@click.option(
    "--write",
    is_flag=True,
    help="Allow ad-hoc Cypher that writes, touches files (COPY, EXPORT, IMPORT, LOAD FROM / "
    "LOAD CSV) or calls a procedure not known to be read-only.",
)
@click.option("--list", "list_queries", is_flag=True, help="List the named queries.")
@_store_option
@_config_option
@_json_option
@_friendly
def query(
    query_or_name: str | None,
    params: tuple[str, ...],
    write: bool,
    list_queries: bool,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run a named query, or ad-hoc Cypher (read-only unless --write).

    A bare word is a named query from graphsona's library (see --list); anything else is
    Cypher. Ad-hoc Cypher is refused unless --write when it writes (CREATE, MERGE, SET,
    DELETE, ...), touches files (COPY, EXPORT, IMPORT, LOAD FROM / LOAD CSV) or calls a
    procedure not known to be read-only (CALL { ... } subqueries, vector search, schema
    listings and GDS .stream modes are fine); read-only queries also run in the engine's
    read-only mode.

    \b
    Example:
      graphsona query --list
      graphsona query top_influencers --param limit=5
      graphsona query who_to_follow -p user=u0000042
      graphsona query "MATCH (u:User) RETURN u.community_name AS c, count(*) AS n ORDER BY n DESC"
    """
    import re

    from graphsona.errors import ConfigError
    from graphsona.graph.registry import embedded_path
    from graphsona.queries.library import named_queries, refused_clauses, run_named

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    dialect = "embedded" if embedded_path(uri) is not None else "neo4j"
    if list_queries or not query_or_name:
        rows = [{"name": q.usage(), "description": q.description} for q in named_queries(dialect)]
        _emit(pl.DataFrame(rows), as_json, "named queries")
        return
    values = _parse_params(params)
    if re.fullmatch(r"[a-z_][a-z0-9_]*", query_or_name):
        with _open(uri, cfg, read_only=True) as store:
            frame = run_named(
                store, query_or_name, values, profile_property=cfg.job.profile_property
            )
        _emit(frame, as_json, query_or_name)
        return
    found = refused_clauses(query_or_name)
    if found and not write:
        raise ConfigError(f"query has write clauses ({', '.join(found)}); pass --write to run it")
    read_only = not found
    with _open(uri, cfg, read_only=read_only) as store:
        frame = store.run(query_or_name, dict(values), read_only=read_only)
    _emit(frame, as_json)


@main.command()
@click.argument("user", required=False)
@click.option("-k", "k", type=int, default=10, show_default=True, help="Recommendations per user.")
@click.option("--all", "all_users", is_flag=True, help="Batch mode: top-k for every user.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write Parquet here.")
@click.option(
    "--write-back", is_flag=True, help="Store as RECOMMENDED {score, rank} links (idempotent)."
)
@_store_option
@_config_option
@_json_option
@_friendly
def recommend(
    user: str | None,
    k: int,
    all_users: bool,
    out: Path | None,
    write_back: bool,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Who to follow: friends of friends and similar profiles, scored by the link decoder.

    Already-followed users and the user themself are excluded; each line says why
    (mutual follows, shared community, similar interests). A user with no edges gets
    text-only recommendations, marked as such.

    \b
    Example:
      graphsona recommend u0000042 -k 5
      graphsona recommend --all -k 20 --out recs.parquet --write-back
    """
    from graphsona.errors import ConfigError
    from graphsona.outputs.recommend import RecContext, who_to_follow

    if not user and not all_users:
        raise ConfigError("give a USER, or --all for every user")
    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    with _open(uri, cfg, read_only=not write_back) as store:
        with console.status("ranking"):
            ctx = RecContext.from_store(store, cfg.job.profile_property)
            recs = who_to_follow(ctx, None if all_users else [user], k=k)  # type: ignore[list-item]
        if write_back:
            with console.status("writing RECOMMENDED links"):
                store.write_recommendations(recs)
    if out:
        recs.write_parquet(out)
    if all_users and not as_json:
        console.print(
            f"{recs.height:,} recommendations for {len(ctx.ids):,} users"
            + (f" -> {out}" if out else "")
        )
        return
    shown = recs.select("candidate_id", "rank", "score", "basis", "reason")
    _emit(shown if not all_users else recs, as_json, f"who {user} might follow")


@main.command()
@click.argument("user")
@click.option("-k", "k", type=int, default=10, show_default=True)
@_store_option
@_config_option
@_json_option
@_friendly
def similar(
    user: str,
    k: int,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Users with the most similar profiles (cosine; Neo4j's vector index on Neo4j).

    \b
    Example:
      graphsona similar u0000042 -k 5
    """
    from graphsona.queries.library import run_named

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    with _open(uri, cfg, read_only=True) as store:
        if store.dialect == "neo4j":
            frame = run_named(
                store,
                "similar_users",
                {"user": user, "k": k},
                profile_property=cfg.job.profile_property,
            )
            if frame.height == 0:
                from graphsona.outputs.recommend import RecContext

                RecContext.from_store(store, cfg.job.profile_property).rows([user])
        else:
            from graphsona.outputs.recommend import RecContext, similar_users

            frame = similar_users(RecContext.from_store(store, cfg.job.profile_property), user, k=k)
    _emit(frame, as_json, f"users similar to {user}")


@main.command()
@_store_option
@_config_option
@_json_option
@_friendly
def communities(
    store_uri: str | None, config_path: Path | None, sets: tuple[str, ...], as_json: bool
) -> None:
    """Communities with their names, distinctive terms, sizes and most influential members.

    \b
    Example:
      graphsona communities --store graphsona-demo/graph.lbdb
    """
    from graphsona.outputs.summary import community_table

    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        frame = community_table(store, cfg.job.profile_property)
    if not as_json:
        frame = frame.select(
            "community_id",
            "name",
            "size",
            pl.col("terms").list.head(5),
            pl.col("top_members").list.head(3),
        )
    _emit(frame, as_json, "communities")


@main.command()
@_store_option
@_config_option
@_post_table_options("Mood per community, per user, or each post's sentiment.")
@_friendly
def sentiment(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    by: str,
    top: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Sentiment of the posts (language per post, then VADER for English and, for Chinese,
    the mean of the review model graphsona ships, the multilingual encoder fine-tuned on
    reviews and its zero-shot score;
    ``--set monitor.chinese_sentiment=reviews-ngram`` for the review model alone, much faster;
    other languages are not scored) and the mood it gives
    each community or user: mean sentiment, share of negative posts, posts scored. Read-only
    on the store: computed from its posts (Chinese posts' vectors go to the vector cache;
    with ``[scale] ray`` in the config their encoder pass runs on Ray, as in the job);
    ``--by community`` needs a profile run (the communities).

    
    Examples:
      graphsona sentiment --store graphsona-demo/graph.lbdb
      graphsona sentiment --by user --top 50 --out moods.parquet
    """
    from graphsona.text.sentiment import community_mood, language_counts, score_posts, user_mood

    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        posts = store.read_posts()
        users = store.read_users() if by == "community" else None
        names = None
        if users is not None:
            from graphsona.outputs.summary import community_table, require_profiles

            require_profiles(users, cfg.job.profile_property, also=("community_id",))
            names = community_table(store, cfg.job.profile_property).select("community_id", "name")
    ray = cfg.job.ray_options()
    with contextlib.ExitStack() as stack:
        remote = None
        if ray is not None:  # [scale] ray: Chinese posts' encoder pass on Ray, as in the job
            from graphsona.scale.embed import remote_on

            remote = remote_on(stack, ray)
        scored = score_posts(
            posts,
            chinese=cfg.job.chinese_sentiment,
            cache=cfg.job.cache,
            say=lambda message: click.echo(message, err=True),
            remote=remote,
        )
    if by == "post":
        keep = [c for c in ("post_id", "user_id", "created_at", "lang") if c in scored.columns]
        frame = scored.select(*keep, "sentiment", "sentiment_label", "text")
    elif by == "user":
        frame = user_mood(scored).sort("negative_share", "mood", descending=[True, False],
                                       nulls_last=True)  # fmt: skip
    else:
        assert users is not None and names is not None
        members = users.select("user_id", pl.col("community_id").cast(pl.Int64)).drop_nulls()
        frame = (
            community_mood(scored, members)
            .join(names.with_columns(pl.col("community_id").cast(pl.Int64)), on="community_id")
            .select("community_id", "name", "mood", "negative_share", "scored_posts")
            .sort("negative_share", descending=True, nulls_last=True)
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out)
    if as_json:
        click.echo(
            json.dumps(
                {"languages": language_counts(scored), "rows": frame.head(top).to_dicts()},
                default=str,
            )
        )
        return
    langs = language_counts(scored)
    console.print(
        "posts by language (scored/all): "
        + ", ".join(f"{k} {v['scored']:,}/{v['posts']:,}" for k, v in list(langs.items())[:6])
    )
    _print_frame(frame.head(top), f"sentiment by {by}")
    if out is not None:
        console.print(f"wrote {frame.height:,} rows to {out}")


def _when(value: str | None) -> datetime | None:
    """An ISO-8601 date or time from the command line (naive = UTC)."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 date or time (e.g. 2025-10-28 or 2025-10-28T09:00)"
        ) from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@main.command()
@_store_option
@_config_option
@click.option("--top", type=int, default=20, show_default=True, help="Topics to show.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write Parquet here.")
@_json_option
@_friendly
def topics(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    top: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """The topics the profile job found in the posts (BERTopic over the post vectors), largest
    first, with their terms. Read-only.

    \b
    Examples:
      graphsona topics --store graphsona-demo/graph.lbdb
      graphsona query community_topics --param community=0
    """
    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        frame = store.read_topics()
    if frame.is_empty():
        raise click.ClickException("the store holds no topics: run graphsona profile first")
    frame = frame.drop("centroid", strict=False).sort(
        ["size", "topic_id"], descending=[True, False]
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out)
    if as_json:
        click.echo(json.dumps({"topics": frame.head(top).to_dicts()}, default=str))
        return
    _print_frame(
        frame.head(top).with_columns(pl.col("terms").list.head(6).list.join(", ")),
        f"{frame.height} topics",
    )


@main.command()
@_store_option
@_config_option
@click.option(
    "--bucket",
    default=None,
    help="Time bucket: 15m, 1h, 6h, 1d, 1w (default: the job's [job] bucket, 1d).",
)
@click.option("--since", default=None, help="Only alerts and series from this time (ISO-8601).")
@click.option("--until", default=None, help="Ignore posts from this time on (ISO-8601).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Alerts as Parquet.")
@click.option(
    "--series", "series_out", type=click.Path(path_type=Path), default=None,
    help="Series per community and topic as Parquet.",
)  # fmt: skip
@_json_option
@_friendly
def monitor(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    bucket: str | None,
    since: str | None,
    until: str | None,
    out: Path | None,
    series_out: Path | None,
    as_json: bool,
) -> None:
    """Opinion monitoring: alerts (an emerging topic, a community turning negative) with their
    evidence, from the sentiment, topics, communities and influence the profile job wrote.
    Read-only; any bucket and window without rerunning the job.

    \b
    Examples:
      graphsona monitor --store graphsona-demo/graph.lbdb
      graphsona monitor --bucket 6h --since 2025-10-01 --series series.parquet --json
    """
    from graphsona.jobs.monitoring import monitor_store

    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        alerts, stacked = monitor_store(
            store,
            bucket=bucket or cfg.job.bucket,
            since=_when(since),
            until=_when(until),
            min_group_size=cfg.job.min_group_size,
        )
    for path, frame in ((out, alerts), (series_out, stacked)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
    if as_json:
        click.echo(json.dumps({"alerts": alerts.to_dicts()}, default=str))
        return
    _print_alerts(
        alerts.with_columns(pl.col("window_start").cast(pl.String)).to_dicts(),
        {"bucket": bucket or cfg.job.bucket},
    )
    if series_out is not None:
        console.print(f"wrote {stacked.height:,} series rows to {series_out}")


@main.command()
@_store_option
@_config_option
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV/Parquet/JSONL with label and text (or post_id) columns.",
)
@click.option("--task", required=True, help="Name of the task (e.g. sentiment, stance).")
@click.option(
    "--method",
    type=click.Choice(["head", "setfit", "tune"]),
    default="head",
    show_default=True,
    help="head: a classifier on the frozen encoder's vectors (seconds). setfit: tune the "
    "encoder on the labels first (minutes; better with a few dozen labels per class). tune: "
    "the same for the multilingual encoder (Chinese), whose top layers are tuned (a minute).",
)
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where --method setfit/tune saves the tuned encoder [default: beside an embedded store "
    "(<store>.models), else ~/.cache/graphsona/models].",
)
@_json_option
@_friendly
def finetune(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    labels_path: Path,
    task: str,
    method: str,
    models_dir: Path | None,
    as_json: bool,
) -> None:
    """Train a post classifier from a few labelled posts and keep it in the store.

    ``--method head`` (default): a logistic-regression head on the text encoder's post vectors
    (the job's model and vector cache); a few dozen labels per class are enough to beat a
    TF-IDF model trained on thousands. ``--method setfit``: SetFit tunes the encoder itself on
    the labels first, then fits the head; with 32 labels per class it scored as well as the
    head with 2,000 (BENCHMARKS.md, "Sentiment"), at minutes of CPU and a copy of the encoder
    on disk. ``--method tune``: for the multilingual encoder (``model.embedder=multilingual``,
    e.g. Chinese posts), which SetFit cannot tune: its top layers are tuned on the labels,
    then the head is fitted (about a minute; better than the head at 8 to 128 labels per class
    on Chinese news titles). Then ``graphsona classify --task NAME``.

    \b
    Example:
      graphsona finetune --labels stance.csv --task stance --store graph.lbdb
      graphsona finetune --labels stance.csv --task stance --method setfit
      graphsona finetune --labels zh.csv --task stance --method tune --set model.embedder=multilingual
    """
    from graphsona.jobs.classify import keep_classifier, models_dir_for, train_task

    if models_dir is not None and method == "head":
        raise click.UsageError(
            "--models-dir is for --method setfit or tune (the head keeps no files)"
        )
    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    if method != "head" and not as_json:
        what = " with SetFit (minutes" if method == "setfit" else "'s top layers (about a minute"
        console.print(f"tuning the encoder{what} on a CPU)")
    # training reads the store, and holds no write lock while it runs (SetFit takes minutes)
    with _open(uri, cfg, read_only=True) as store:
        posts = store.read_posts()
    clf = train_task(posts, labels_path, task, cfg.job, method, models_dir or models_dir_for(uri))
    with _open(uri, cfg) as store:
        keep_classifier(store, clf)
    if as_json:
        click.echo(
            json.dumps(
                {"task": task, "classes": list(clf.classes), "encoder": clf.embedder, **clf.info}
            )
        )
        return
    counts = ", ".join(f"{k} {v}" for k, v in clf.info["labels"].items())
    console.print(f"trained {task!r} on {counts}")
    if method != "head":
        console.print(
            f"tuned encoder saved in {clf.embedder} ({clf.info['train_seconds']} s); no "
            "cross-validated score (the encoder learnt from every label)"
        )
    elif "cv_accuracy" in clf.info:
        console.print(
            f"5-fold cross-validated accuracy {clf.info['cv_accuracy']:.3f}, "
            f"macro-F1 {clf.info['cv_macro_f1']:.3f}"
        )
    else:
        console.print("fewer than 5 labels in some class: no cross-validated score")


@main.command()
@_store_option
@_config_option
@click.option("--task", required=True, help="A task trained with graphsona finetune.")
@_post_table_options("Label shares per community, per user, or each post's label.")
@_friendly
def classify(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    task: str,
    by: str,
    top: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Label every post with a classifier from ``graphsona finetune`` (read-only), and show
    each label's share per community or user, or each post's label and probability.

    \b
    Example:
      graphsona classify --task stance --by community
    """
    from graphsona.jobs.classify import classify_posts, label_shares

    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        labelled, _ = classify_posts(store, task, cfg.job)
        users = store.read_users() if by == "community" else None
    if by == "post":
        keep = [c for c in ("post_id", "user_id", "created_at") if c in labelled.columns]
        frame = labelled.select(*keep, task, f"{task}_p", "text")
    elif by == "user":
        frame = label_shares(labelled, task, "user_id")
    else:
        from graphsona.outputs.summary import require_profiles

        assert users is not None
        require_profiles(users, cfg.job.profile_property, also=("community_id",))
        members = users.select("user_id", pl.col("community_id").cast(pl.Int64)).drop_nulls()
        frame = label_shares(labelled.join(members, on="user_id"), task, "community_id")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out)
    _emit(frame.head(top), as_json, f"{task} by {by}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder.")
@click.option("-k", "k", type=int, default=None, help="Recommendations per user [10].")
@_store_option
@_config_option
@_json_option
@_friendly
def export(
    out: Path | None,
    k: int | None,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Export profiles, communities and recommendations to Parquet.

    Writes profiles.parquet (one row per user: profile vector, community, influence,
    predictions), communities.parquet and recommendations.parquet (top-k who-to-follow).

    \b
    Example:
      graphsona export --out out/ --store graphsona-demo/graph.lbdb
    """
    from graphsona.errors import ConfigError
    from graphsona.outputs.export import export_results

    cfg = _job_config(config_path, sets)
    folder = out or cfg.export_dir
    if folder is None:
        raise ConfigError("give --out DIR (or [output] export_dir in the config)")
    from graphsona.jobs.workdir import record_outputs, resolve_work_dir

    uri = _uri(store_uri, cfg)
    with (
        _open(uri, cfg, read_only=True) as store,
        console.status("exporting"),
    ):
        written = export_results(
            store, folder, k=k or cfg.recommendations, profile_property=cfg.job.profile_property
        )
    # recorded, so that `graphsona forget` finds these copies too
    record_outputs(
        resolve_work_dir(uri, configured=cfg.work_dir, database=cfg.database),
        list(written.values()),
    )
    if as_json:
        click.echo(json.dumps({k: str(v) for k, v in written.items()}, indent=2))
    else:
        for name, path in written.items():
            console.print(f"{name}: {path}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="HTML file to write.")
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="COLUMN",
    help="Bias section: label heads' accuracy and calibration per group of this user column.",
)
@_store_option
@_config_option
@_friendly
def report(
    out: Path | None,
    by: tuple[str, ...],
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
) -> None:
    """Write a self-contained HTML report: profile map, communities, influence, monitoring,
    bias and coverage, statistics.

    \b
    Example:
      graphsona report --out report.html --store graphsona-demo/graph.lbdb
      graphsona report --out report.html --by lang --by region
    """
    from graphsona.jobs.workdir import resolve_work_dir
    from graphsona.outputs.report import write_report

    cfg = _job_config(config_path, sets)
    target = out or cfg.report or Path("graphsona-report.html")
    uri = _uri(store_uri, cfg)
    from graphsona.jobs.workdir import record_outputs

    work_dir = resolve_work_dir(uri, configured=cfg.work_dir, database=cfg.database)
    with _open(uri, cfg, read_only=True) as store, console.status("building the report"):
        write_report(
            store,
            target,
            work_dir=work_dir,
            profile_property=cfg.job.profile_property,
            by=by,
            min_group_size=cfg.job.min_group_size,
        )
    record_outputs(work_dir, [target])  # for `graphsona forget`
    console.print(f"report: {target}")


@main.command()
@click.option(
    "--holdout", type=float, default=0.1, show_default=True, help="Share of follows held out."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--truth", default=None, help="User column with ground-truth communities (NMI, ARI).")
@click.option(
    "--label", default=None, help="User column for the profile probe (accuracy, macro-F1)."
)
@click.option("--fast", is_flag=True, help="Fast CPU embedding mode (static model).")
@click.option("--epochs", type=int, default=None, help="Maximum training epochs [100].")
@click.option("--gds", is_flag=True, help="Also run Neo4j GDS Louvain/Leiden/PageRank/FastRP.")
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="COLUMN",
    help="Bias report: the stored label heads' accuracy and calibration per group of this "
    "user column (repeatable), e.g. --by lang.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Write the JSON report here."
)
@_store_option
@_config_option
@_cache_option
@_json_option
@_friendly
def evaluate(
    holdout: float,
    seed: int,
    truth: str | None,
    label: str | None,
    fast: bool,
    epochs: int | None,
    gds: bool,
    by: tuple[str, ...],
    out: Path | None,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    cache_path: Path | None,
    as_json: bool,
) -> None:
    """Measure profiles, communities, influence and who-to-follow against baselines.

    Holds out follows (the latest by time when follows have times, else a seeded random
    share), retrains on the rest, and reports recall@10/20 and MRR for graphsona and for
    popularity, common neighbours, Adamic-Adar, text-only and graph-only models; community
    modularity, text coherence (and NMI/ARI with --truth); a probe on profiles vs text-only
    vs graph-only (with --label); influence correlations. Nothing is written to the store.

    \b
    Example:
      graphsona evaluate --store graphsona-demo/graph.lbdb --truth planted_community --label label_topic
      NEO4J_PASSWORD=... graphsona evaluate --store bolt://localhost:7687 --gds --json
      graphsona evaluate --store graphsona-demo/graph.lbdb --by planted_community --json
    """
    from graphsona.jobs.evaluate import EvalConfig
    from graphsona.jobs.evaluate import evaluate as run_evaluate
    from graphsona.jobs.overrides import job_settings

    cfg = _job_config(config_path, sets)
    job = job_settings(cfg, fast=fast, epochs=epochs, cache=cache_path)
    ecfg = EvalConfig(holdout=holdout, seed=seed, truth=truth, label=label, job=job, gds=gds, by=by)
    uri = _uri(store_uri, cfg)
    with (
        _open(uri, cfg, read_only=not gds) as store,
        console.status("evaluating (retraining on the training split)"),
    ):
        rep = run_evaluate(store, ecfg)
    if out:
        out.write_text(json.dumps(rep, indent=2, default=str))
    if as_json:
        click.echo(json.dumps(rep, indent=2, default=str))
        return
    _print_evaluation(rep)


def _print_evaluation(rep: dict[str, Any]) -> None:
    console.print(
        f"split: {rep['split']['how']}; {rep['split']['held_out_follows']:,} follows held out"
    )
    t = Table(title="who to follow (held-out follows)")
    metrics = [k for k in next(iter(rep["who_to_follow"].values())) if k != "sources"]
    t.add_column("method")
    for m in metrics:
        t.add_column(m, justify="right")
    rows = dict(rep["who_to_follow"])
    if "gds" in rep:
        rows["gds fastRP"] = {m: rep["gds"]["fastrp"].get(m) for m in metrics}
    for name, vals in rows.items():
        t.add_row(name, *(f"{vals[m]:.4f}" for m in metrics))
    console.print(t)
    c = Table(title="communities")
    cols = ["communities", "modularity", "text_coherence", "nmi", "ari"]
    c.add_column("method")
    for col in cols:
        c.add_column(col, justify="right")
    comm_rows = dict(rep["communities"])
    for algo in ("louvain", "leiden"):
        if "gds" in rep:
            comm_rows[f"gds {algo}"] = rep["gds"][algo]
    for name, vals in comm_rows.items():
        c.add_row(name, *(_cell(vals.get(col)) for col in cols))
    console.print(c)
    if rep["profiles_probe"]:
        p = Table(title=f"profile probe ({rep['profiles_probe']['labelled_users']} labelled users)")
        p.add_column("features")
        p.add_column("accuracy", justify="right")
        p.add_column("macro-F1", justify="right")
        for name in ("graphsona", "text_only", "graph_only", "fastrp", "spectral", "fastrp_text"):
            v = rep["profiles_probe"][name]
            p.add_row(name, f"{v['accuracy']:.4f}", f"{v['macro_f1']:.4f}")
        if "gds" in rep and "probe" in rep["gds"]["fastrp"]:
            v = rep["gds"]["fastrp"]["probe"]
            p.add_row("gds fastRP", f"{v['accuracy']:.4f}", f"{v['macro_f1']:.4f}")
        console.print(p)
    console.print("influence: " + ", ".join(f"{k} {_cell(v)}" for k, v in rep["influence"].items()))
    spread = rep["profile_spread"]
    console.print(
        "profile spread (mean cosine of random pairs, effective rank): "
        + ", ".join(
            f"{k} {v['mean_cosine']:.3f} / {v['effective_rank']:.1f}" for k, v in spread.items()
        )
    )
    for name, head in rep.get("bias", {}).get("heads", {}).items():
        for col, rows in head["by"].items():
            _print_frame(
                pl.DataFrame(rows).with_columns(pl.col("group").cast(pl.String)),
                f"label head {name} by {col} (overall {head['overall']})",
            )
    cov = rep.get("coverage", {})
    if "communities" in cov:
        c = cov["communities"]
        console.print(
            f"coverage: {c['count']} communities, {c['suppressed']} under the minimum group size "
            f"{cov['min_group_size']} ({c['users_in_suppressed']} users)"
            + (
                f"; {cov['topics']['count']} topics, {cov['topics']['suppressed']} suppressed, "
                f"{cov['topics']['posts_without_topic']} posts without a topic"
                if "topics" in cov
                else ""
            )
        )
    for warning in [*rep["warnings"], *rep.get("bias", {}).get("warnings", [])]:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@main.command()
@click.argument("config_file", type=click.Path(path_type=Path))
@_json_option
@_friendly
def validate(config_file: Path, as_json: bool) -> None:
    """Check a TOML job config and report every problem at once (nothing else runs).

    \b
    Example:
      graphsona validate job.toml
    """
    from graphsona.jobs.config import load_config

    cfg = load_config(config_file)
    if as_json:
        click.echo(json.dumps(cfg.summary(), indent=2, default=str))
    else:
        console.print(f"{config_file}: valid")
        for key, value in cfg.summary().items():
            if key != "job":
                console.print(f"  {key}: {value}")


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--users", "n_users", type=int, default=2000, show_default=True)
@click.option("--communities", type=int, default=8, show_default=True)
@click.option(
    "--mixing",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of follows across communities.",
)
@click.option("--posts-per-user", type=float, default=6.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default="parquet",
    show_default=True,
)
@_friendly
def generate(
    out: Path,
    n_users: int,
    communities: int,
    mixing: float,
    posts_per_user: float,
    seed: int,
    fmt: str,
) -> None:
    """Write a synthetic dataset directory (users, posts, follows, interactions).

    \b
    Example:
      graphsona generate data/synth --users 10000 --mixing 0.2 --format csv
    """
    from graphsona.loaders import SyntheticConfig, write_dataset
    from graphsona.loaders import generate as gen

    cfg = SyntheticConfig(
        n_users=n_users,
        n_communities=communities,
        mixing=mixing,
        posts_per_user=posts_per_user,
        seed=seed,
    )
    net = gen(cfg)
    write_dataset(net, out, fmt)
    click.echo(
        f"wrote {out}: {net.users.height} users, {net.posts.height} posts, "
        f"{net.follows.height} follows, {net.interactions.height} interactions"
    )


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["x-archive", "x-api", "mastodon", "bluesky", "reddit", "weibo"]),
    required=True,
    help="The platform export's format (see README 'Platform exports').",
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@_friendly
def convert(fmt: str, path: Path, out_dir: Path) -> None:
    """Write a platform export as a dataset folder (Parquet), to load later or elsewhere.

    Reddit dumps are converted with posts and edges spilled to disk as they are read, so memory
    stays flat however large the dump; `graphsona load OUT_DIR` then validates the folder (and
    applies the [privacy] policy) like any dataset.

    \b
    Example:
      graphsona convert --format reddit dumps/RC_2023-11.zst data/reddit-2023-11
      graphsona load data/reddit-2023-11 --store g.lbdb
    """
    from graphsona.loaders.platforms import convert_platform

    counts, repairs = convert_platform(fmt, path, out_dir)
    console.print(
        f"wrote {out_dir}: {counts['users']:,} users, {counts['posts']:,} posts, "
        f"{counts['follows']:,} follows, {counts['interactions']:,} interactions"
    )
    for key, n in sorted(repairs.items()):
        console.print(f"  {key}: {n:,}")


@main.command()
@click.argument("platform", type=click.Choice(["mastodon", "bluesky", "x", "reddit"]))
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Folder to save into."
)
@click.option(
    "--posts",
    "--statuses",
    "posts",
    type=int,
    default=200,
    show_default=True,
    help="Newest posts per account (Bluesky: each of posts, reposts, likes; Reddit: "
    "submissions per subreddit or user).",
)
@click.option(
    "--follows",
    type=int,
    default=400,
    show_default=True,
    help="Follows each way per account (Bluesky: follows made).",
)
@click.option(
    "--comments",
    type=int,
    default=200,
    show_default=True,
    help="Reddit: comments per submission (r/NAME) or per user (u/NAME).",
)
@_friendly
def fetch(
    platform: str, names: tuple[str, ...], out: Path, posts: int, follows: int, comments: int
) -> None:
    """Save accounts' profiles, posts and follows from a live API, ready for `load`.

    NAMES: Mastodon accounts (name@host), Bluesky handles or DIDs, X usernames, or Reddit
    r/SUBREDDIT and u/USER. Each platform needs its maintained client (pip install
    'graphsona[fetch]') and reads credentials from the environment: MASTODON_API_BASE_URL and
    MASTODON_ACCESS_TOKEN; nothing for Bluesky (public records); X_BEARER_TOKEN;
    REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET.

    \b
    Example:
      MASTODON_API_BASE_URL=https://mastodon.social graphsona fetch mastodon \\
          alice@mastodon.social bob@mastodon.social --out exports/masto
      graphsona load --format mastodon exports/masto --store g.lbdb
      graphsona fetch reddit r/AskHistorians --posts 50 --out exports/reddit
      graphsona load --format reddit exports/reddit --store g.lbdb
    """
    from graphsona.loaders.platforms.fetch import FETCHERS

    extra = {"comments": comments} if platform == "reddit" else {"follows": follows}
    counts = FETCHERS[platform](list(names), out, posts=posts, progress=console.print, **extra)
    saved = ", ".join(f"{n:,} {what}" for what, n in counts.items())
    fmt = {"x": "x-api"}.get(platform, platform)
    console.print(f"saved {saved} into {out}; next: graphsona load --format {fmt} {out}")


@main.command()
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@_store_option
@_config_option
@click.option("--strict", is_flag=True, help="Rows naming unknown users are an error, not dropped.")
@click.option("--lossy-utf8", is_flag=True, help="Replace invalid UTF-8 bytes instead of failing.")
@click.option(
    "--max-post-chars",
    type=int,
    default=5000,
    show_default=True,
    help="Longer posts are truncated.",
)
@click.option("--batch-size", type=int, default=10_000, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dataset", "x-archive", "x-api", "mastodon", "bluesky", "reddit", "weibo"]),
    default="dataset",
    show_default=True,
    help="What PATH holds: graphsona's dataset folder, or a platform's export (README, "
    "'Platform exports').",
)
@_json_option
@_friendly
def load(
    dataset_dir: Path,
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    strict: bool,
    lossy_utf8: bool,
    max_post_chars: int,
    batch_size: int,
    fmt: str,
    as_json: bool,
) -> None:
    """Validate a dataset directory (or a platform export) and load it into a store (nothing
    is written if invalid).

    The one command that creates an embedded store (a new path becomes a new store).

    \b
    Example:
      graphsona load data/mynet --store graphsona.lbdb
      graphsona load data/mynet --config job.toml        # the store named in the config
      NEO4J_PASSWORD=... graphsona load data/mynet --store neo4j://localhost:7687 --strict
      graphsona load --format reddit dumps/ --store reddit.lbdb   # RS_*/RC_* .zst files
    """
    from graphsona.graph.lock import hold, store_lock_path
    from graphsona.loaders import LoadOptions, load_dataset

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    policy = cfg.privacy.policy()
    options = LoadOptions(
        strict=strict, lossy_utf8=lossy_utf8, max_post_chars=max_post_chars, privacy=policy
    )
    if fmt == "dataset":
        dataset, report = load_dataset(dataset_dir, options)
    else:
        from graphsona.loaders.platforms import import_platform

        dataset, report = import_platform(fmt, dataset_dir, options)
    with (
        hold(store_lock_path(uri, cfg.database), "the store"),
        console.status("loading"),
        _open(uri, cfg, create=True) as store,
    ):
        counts = store.load(dataset, batch_size=batch_size, source=str(dataset_dir))
    if cfg.privacy.reid_table is not None:
        policy.write_reid(cfg.privacy.reid_table)
    if as_json:
        click.echo(json.dumps({"load_report": report.to_dict(), "store_counts": counts}, indent=2))
        return
    console.print(str(report))
    console.print("store now holds: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@main.command()
@_store_option
@_config_option
@_json_option
@_friendly
def stats(
    store_uri: str | None, config_path: Path | None, sets: tuple[str, ...], as_json: bool
) -> None:
    """Summarise what a store holds: counts, degrees, most-followed users.

    \b
    Example:
      graphsona stats --store graphsona-demo/graph.lbdb
      graphsona stats --config job.toml
    """
    from graphsona.outputs.summary import graph_summary

    cfg = _job_config(config_path, sets)
    with _open(_uri(store_uri, cfg), cfg, read_only=True) as store:
        summary = graph_summary(store)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


@main.command()
@_store_option
@_config_option
@click.option(
    "--model",
    default=None,
    show_default="the config's [model] embedder, else default",
    help="Model name or local path ('default': the packaged all-MiniLM-L6-v2).",
)
@click.option(
    "--kind",
    type=click.Choice(["sentence-transformers", "transformers", "static"]),
    default=None,
    show_default="the config's [model] kind, else sentence-transformers",
    help="'static' is the fast CPU mode (a model distilled offline from --model).",
)
@click.option("--prefix", default="", help="Text prepended to every post (e5/bge-style models).")
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default=None,
    show_default="the config's [model] precision, else auto",
    help="Transformer compute precision; auto = bf16 on CUDA and on CPUs with native bf16.",
)
@_cache_option
@click.option("--half-life-days", type=float, default=None, help="Recency-weighted pooling.")
@click.option(
    "--write",
    "write_property",
    default=None,
    metavar="PROPERTY",
    help="Store each user's pooled vector as this property (e.g. text_embedding).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the vectors to Parquet.",
)
@_json_option
@_friendly
def embed(
    store_uri: str | None,
    config_path: Path | None,
    sets: tuple[str, ...],
    model: str | None,
    kind: str | None,
    prefix: str,
    precision: str | None,
    cache_path: Path | None,
    half_life_days: float | None,
    write_property: str | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Embed every user's posts (and bio) into one vector per user.

    \b
    Example:
      graphsona embed --store graphsona-demo/graph.lbdb --write text_embedding
      graphsona embed --kind static --out vectors.parquet     # fast CPU mode
    """
    from graphsona.embeddings import (
        EmbedOptions,
        NullCache,
        PoolingOptions,
        VectorCache,
        embed_users,
        load_embedder,
    )
    from graphsona.graph.registry import require_store
    from graphsona.jobs.overrides import job_settings

    cfg = _job_config(config_path, sets)
    uri = _uri(store_uri, cfg)
    require_store(uri)  # before the model loads: a mistyped path fails at once
    job = job_settings(cfg, embedder=model, cache=cache_path)
    embedder = load_embedder(
        job.embedder,
        kind=kind or job.embedder_kind,
        prefix=prefix,
        precision=precision or job.embedder_precision,
    )
    opts = EmbedOptions(pooling=PoolingOptions(half_life_days=half_life_days), progress=not as_json)
    cache = VectorCache(job.cache) if job.cache is not None else NullCache()
    with _open(uri, cfg, read_only=write_property is None) as store:
        users = store.read_users()
        vectors, report = embed_users(
            users, store.iter_posts(), embedder, cache=cache, options=opts
        )
        if write_property:
            store.write_user_properties(
                vectors.select("user_id", pl.col("embedding").alias(write_property))
            )
    cache.close()
    if out:
        vectors.write_parquet(out)
    if as_json:
        click.echo(
            json.dumps({"model_id": embedder.model_id, "report": report.to_dict()}, indent=2)
        )
    else:
        console.print(str(report))


def _print_profile(p: dict[str, Any], card: dict[str, Any] | None) -> None:
    ref = p.get("leiden_reference") or {}
    t = Table(
        title=f"communities (modularity {p['modularity']}, text coherence {p['text_coherence']}; "
        f"Leiden reference: {ref.get('modularity', '?')}, {ref.get('text_coherence', '?')})"
    )
    mood = any("mood" in c for c in p["communities"])
    for col in ("id", "name", "size", *(("mood", "negative") if mood else ()), "most influential"):
        t.add_column(col)
    for c in p["communities"]:
        m = c.get("mood")
        feel = ("-" if m is None else f"{m:+.2f}", _share(c.get("negative_share"))) if mood else ()
        t.add_row(
            str(c["community_id"]),
            c["name"],
            str(c["size"]),
            *feel,
            ", ".join(c["top_members"][:3]),
        )
    console.print(t)
    if p.get("topics"):
        topics = p["topics"]
        shown = ", ".join(f"{x['topic_id']}: {x['name']} ({x['size']})" for x in topics[:8])
        more = f" and {len(topics) - 8} more" if len(topics) > 8 else ""
        console.print(f"topics: {shown}{more}")
    _print_alerts(p.get("alerts") or [], p.get("monitor") or {})
    if card:
        console.print(
            f"sample profile: {card['user_id']} in '{card['community_name']}', influence "
            f"{card['influence']:.2f} (rank {card['influence_rank']}); most similar users: "
            + ", ".join(f"{u} ({s:.2f})" for u, s in card["similar"])
        )
    console.print("stage seconds: " + ", ".join(f"{k} {v}" for k, v in p["seconds"].items()))


def _print_alerts(alerts: list[dict[str, Any]], report: dict[str, Any]) -> None:
    if report.get("note"):
        console.print(f"monitor: {report['note']}")
        return
    if not alerts:
        console.print(f"alerts: none ({report.get('bucket', '1d')} buckets)")
        return
    t = Table(title=f"alerts ({report.get('bucket', '1d')} buckets)")
    for col in ("severity", "kind", "from", "summary"):
        t.add_column(col)
    for a in alerts[:10]:
        t.add_row(a["severity"], a["kind"], str(a["window_start"])[:16], a["summary"])
    console.print(t)


def _share(v: Any) -> str:
    return "-" if v is None else f"{v:.0%}"


def _print_summary(s: dict[str, Any]) -> None:
    t = Table(title="graph")
    t.add_column("what")
    t.add_column("count", justify="right")
    for k, v in s["counts"].items():
        t.add_row(k, str(v))
    t.add_row("mean follows per user", f"{s['mean_out_degree']:.1f}")
    console.print(t)
    top = Table(title="most-followed users")
    for col in ("user_id", "followers", "posts"):
        top.add_column(col)
    for row in s["top_followed"]:
        top.add_row(str(row["user_id"]), str(row["followers"]), str(row["posts"]))
    console.print(top)
    if s.get("groups"):
        g = Table(title=f"users per {s['truth_column']}")
        g.add_column(s["truth_column"])
        g.add_column("users", justify="right")
        g.add_column("follows kept inside", justify="right")
        for row in s["groups"]:
            g.add_row(str(row["group"]), str(row["users"]), f"{row['inside_share']:.0%}")
        console.print(g)


if __name__ == "__main__":  # pragma: no cover
    main()
