"""The ``graphsona`` command line: parsing and printing only; the library does the work.

Every command turns a :class:`~graphsona.errors.GraphsonaError` into one ``error:`` line and
exit code 1 (a traceback only with ``--debug``); ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import polars as pl
from graphsona.errors import GraphsonaError
from rich.console import Console
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STORE = "graphsona.lbdb"
console = Console(stderr=False)


def _store_option(f: F) -> F:
    return click.option(
        "--store",
        "store_uri",
        default=lambda: os.environ.get("GRAPHSONA_STORE", DEFAULT_STORE),
        show_default=f"$GRAPHSONA_STORE or {DEFAULT_STORE}",
        help="Embedded store path, or neo4j://host:port / bolt://... (credentials from NEO4J_USERNAME, "
        "NEO4J_PASSWORD; database from NEO4J_DATABASE).",
    )(f)


def _cache_option(f: F) -> F:
    return click.option(
        "--cache",
        "cache_path",
        type=click.Path(path_type=Path),
        default=Path.home() / ".cache" / "graphsona" / "vectors.sqlite",
        show_default=True,
        help="Content-addressed text-vector cache; a rerun embeds only new texts.",
    )(f)


def _json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)


def _friendly(f: F) -> F:
    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except GraphsonaError as e:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            lines = str(e).splitlines() or [type(e).__name__]
            click.echo(f"error: {lines[0]}", err=True)
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
@click.option("--seed", type=int, default=7, show_default=True)
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
    cache_path: Path,
    as_json: bool,
) -> None:
    """Generate a synthetic network, load it into the embedded store, profile it, summarise.

    Runs the whole job on the embedded store: load -> embed posts -> train the GNN ->
    communities with names -> influence -> write-back, then prints communities, top
    influencers and one sample profile.

    \b
    Example:
      graphsona demo --out graphsona-demo --users 3000
    """
    from graphsona.graph import EmbeddedStore
    from graphsona.job import ProfileJobConfig, run_profile
    from graphsona.loaders import SyntheticConfig, generate, load_dataset, write_dataset
    from graphsona.summary import graph_summary, profile_card

    t0 = time.perf_counter()
    data_dir, store_path = out / "data", out / "graph.lbdb"
    if store_path.exists():
        shutil.rmtree(store_path) if store_path.is_dir() else store_path.unlink()
    with console.status("generating synthetic network"):
        net = generate(SyntheticConfig(n_users=n_users, n_communities=communities, seed=seed))
        write_dataset(net, data_dir)
    with console.status("validating"):
        dataset, report = load_dataset(data_dir)
    cfg = ProfileJobConfig(
        embedder_kind="static" if fast else "sentence-transformers", cache=cache_path, seed=seed
    )
    with EmbeddedStore(store_path) as store:
        with console.status("loading into the embedded store"):
            store.load(dataset)
        with console.status("profiling: embed -> train -> communities -> influence -> write-back"):
            result = run_profile(store, cfg)
        summary = graph_summary(store, truth_column="planted_community")
        summary["profile"] = result.summary()
        summary["sample_profile"] = profile_card(store, summary["top_followed"][0]["user_id"])
    summary["load_report"] = report.to_dict()
    summary["store"] = str(store_path)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    console.print(str(report))
    _print_summary(summary)
    _print_profile(summary["profile"], summary["sample_profile"])
    console.print(f"store: {store_path}   dataset: {data_dir}   ({summary['seconds']} s)")


@main.command()
@_store_option
@click.option("--fast", is_flag=True, help="Fast CPU embedding mode (static model).")
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--dim", type=int, default=128, show_default=True, help="Profile dimension.")
@click.option("--seed", type=int, default=0, show_default=True)
@_cache_option
@_json_option
@_friendly
def profile(
    store_uri: str, fast: bool, epochs: int, dim: int, seed: int, cache_path: Path, as_json: bool
) -> None:
    """Profile every user in a store and write the results back.

    Embeds posts, trains the GNN, finds and names communities, scores influence, and writes
    profile, community_id, community_name, influence, influence_rank (plus Community nodes and a
    vector index) into the store.

    \b
    Example:
      graphsona profile --store graphsona-demo/graph.lbdb
      NEO4J_PASSWORD=... graphsona profile --store neo4j://localhost:7687 --fast
    """
    from graphsona.graph import open_store
    from graphsona.job import ProfileJobConfig, run_profile

    cfg = ProfileJobConfig(
        embedder_kind="static" if fast else "sentence-transformers",
        cache=cache_path,
        epochs=epochs,
        dim=dim,
        seed=seed,
    )
    with console.status("profiling"), open_store(store_uri) as store:
        result = run_profile(store, cfg)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2, default=str))
    else:
        _print_profile(result.summary(), None)


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
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@_store_option
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
@_json_option
@_friendly
def load(
    dataset_dir: Path,
    store_uri: str,
    strict: bool,
    lossy_utf8: bool,
    max_post_chars: int,
    batch_size: int,
    as_json: bool,
) -> None:
    """Validate a dataset directory and load it into a store (nothing is written if invalid).

    \b
    Example:
      graphsona load data/mynet --store graphsona.lbdb
      NEO4J_PASSWORD=... graphsona load data/mynet --store neo4j://localhost:7687 --strict
    """
    from graphsona.graph import open_store
    from graphsona.loaders import LoadOptions, load_dataset

    dataset, report = load_dataset(
        dataset_dir,
        LoadOptions(strict=strict, lossy_utf8=lossy_utf8, max_post_chars=max_post_chars),
    )
    with console.status("loading"), open_store(store_uri) as store:
        counts = store.load(dataset, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps({"load_report": report.to_dict(), "store_counts": counts}, indent=2))
        return
    console.print(str(report))
    console.print("store now holds: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@main.command()
@_store_option
@_json_option
@_friendly
def stats(store_uri: str, as_json: bool) -> None:
    """Summarise what a store holds: counts, degrees, most-followed users.

    \b
    Example:
      graphsona stats --store graphsona-demo/graph.lbdb
    """
    from graphsona.graph import open_store
    from graphsona.summary import graph_summary

    with open_store(store_uri) as store:
        summary = graph_summary(store)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


@main.command()
@_store_option
@click.option(
    "--model",
    default="default",
    show_default=True,
    help="Model name or local path ('default': the packaged all-MiniLM-L6-v2).",
)
@click.option(
    "--kind",
    type=click.Choice(["sentence-transformers", "transformers", "static"]),
    default="sentence-transformers",
    show_default=True,
    help="'static' is the fast CPU mode (a model distilled offline from --model).",
)
@click.option("--prefix", default="", help="Text prepended to every post (e5/bge-style models).")
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(path_type=Path),
    default=Path.home() / ".cache" / "graphsona" / "vectors.sqlite",
    show_default=True,
    help="Content-addressed vector cache; a rerun embeds only new texts.",
)
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
    store_uri: str,
    model: str,
    kind: str,
    prefix: str,
    cache_path: Path,
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
        PoolingOptions,
        VectorCache,
        embed_users,
        load_embedder,
    )
    from graphsona.graph import open_store

    embedder = load_embedder(model, kind=kind, prefix=prefix)
    opts = EmbedOptions(pooling=PoolingOptions(half_life_days=half_life_days), progress=not as_json)
    cache = VectorCache(cache_path)
    with open_store(store_uri) as store:
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
    t = Table(
        title=f"communities (modularity {p['modularity']}, text coherence {p['text_coherence']})"
    )
    for col in ("id", "name", "size", "most influential"):
        t.add_column(col)
    for c in p["communities"]:
        t.add_row(
            str(c["community_id"]), c["name"], str(c["size"]), ", ".join(c["top_members"][:3])
        )
    console.print(t)
    if card:
        console.print(
            f"sample profile: {card['user_id']} in '{card['community_name']}', influence "
            f"{card['influence']:.2f} (rank {card['influence_rank']}); most similar users: "
            + ", ".join(f"{u} ({s:.2f})" for u, s in card["similar"])
        )
    console.print("stage seconds: " + ", ".join(f"{k} {v}" for k, v in p["seconds"].items()))


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
