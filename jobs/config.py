"""One TOML job config: store, schema mapping, model, training, communities and output.

Everything has a default, so an empty file is valid; every option can also be given on the
command line, which wins over the file. :func:`load_config` validates the whole file before any
work starts and reports *all* problems at once (unknown sections or keys, wrong types, invalid
values, unsafe mapping names). Passwords never go in the file: Neo4j credentials come from
``NEO4J_USERNAME`` / ``NEO4J_PASSWORD``.

Example ``job.toml``::

    [store]
    uri = "neo4j://localhost:7687"   # or a path for the embedded store
    database = "neo4j"

    [mapping]                         # only for a graph graphsona did not create
    user_label = "Person"
    follows = ["KNOWS"]

    [model]
    embedder = "default"              # or a sentence-transformers name / local path
    kind = "sentence-transformers"    # "transformers", or "static" (fast CPU mode)
    precision = "auto"                # bf16 on CUDA / CPUs with native bf16, else fp32
    image_embedder = "models/clip"    # optional: a local CLIP folder; posts' images are used

    [training]
    dim = 128
    epochs = 100
    seed = 0

    [communities]
    resolution = 1.0
    min_size = 5

    [monitor]
    topics = true                     # topics of the posts (BERTopic)
    bucket = "1d"                     # series and alerts: 15m, 1h, 6h, 1d, 1w
    chinese_sentiment = "reviews"     # review model + multilingual encoder; "reviews-ngram"
                                      # (fast), "embedding" (zero-shot) or "lexicon" (HowNet)

    [privacy]                         # see README "Privacy"
    pseudonymise = true               # keyed pseudonyms for ids, handles, post ids, mentions
    key_file = "~/.config/graphsona/pseudonym.key"   # or $GRAPHSONA_PSEUDONYM_KEY
    scrub = ["email", "phone", "url"] # PII removed from post text and bios ("handle" too)
    reid_table = "/secure/reid.parquet"  # optional: raw id -> pseudonym, kept apart
    store_text = false                # optional: no post text in the store ...
    text_file = "/secure/texts.parquet"  # ... only here, where the job reads it

    [scale]                           # optional: embedding and training on Ray
    ray = "local"                     # a local instance; "auto" or HOST:PORT: a cluster
    workers = 2                       # model actors / training workers (default: per CPU)

    [output]
    work_dir = "runs/mynet"           # stage outputs, manifest, checkpoints (resume)
    recommendations = 10              # who-to-follow per user for export
    export_dir = "out"
    report = "out/report.html"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from graphsona.errors import ConfigError, GraphsonaError
from graphsona.graph.mapping import SchemaMapping
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.privacy.policy import PrivacySettings

__all__ = ["JobConfig", "load_config"]

# section -> key -> (type(s), target); target "job.<field>" maps onto ProfileJobConfig
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "store": {"uri": ((str,), "uri"), "database": ((str,), "database")},
    "model": {
        "embedder": ((str,), "job.embedder"),
        "kind": ((str,), "job.embedder_kind"),
        "precision": ((str,), "job.embedder_precision"),
        "auto_multilingual": ((bool,), "job.auto_multilingual"),
        "image_embedder": ((str,), "job.image_embedder"),
        "cache": ((str, bool), "cache"),
    },
    "training": {
        "dim": ((int,), "job.dim"),
        "hidden": ((int,), "job.hidden"),
        "layers": ((int,), "job.layers"),
        "epochs": ((int,), "job.epochs"),
        "patience": ((int,), "job.patience"),
        "lr": ((float, int), "job.lr"),
        "weighted": ((bool,), "job.weighted"),
        "batch_size": ((int,), "job.batch_size"),
        "seed": ((int,), "job.seed"),
        "labels": ((bool,), "job.labels"),
    },
    "communities": {
        "resolution": ((float, int), "job.resolution"),
        "min_size": ((int,), "job.min_community_size"),
    },
    "influence": {"later_fraction": ((float,), "job.later_fraction")},
    "monitor": {
        "topics": ((bool,), "job.topics"),
        "bucket": ((str,), "job.bucket"),
        "chinese_sentiment": ((str,), "job.chinese_sentiment"),
    },
    "privacy": {
        "pseudonymise": ((bool,), "privacy.pseudonymise"),
        "key_file": ((str,), "privacy.key_file"),
        "scrub": ((list,), "privacy.scrub"),
        "reid_table": ((str,), "privacy.reid_table"),
        "store_text": ((bool,), "privacy.store_text"),
        "text_file": ((str,), "privacy.text_file"),
        "min_group_size": ((int,), "job.min_group_size"),
    },
    "scale": {
        "ray": ((str,), "job.ray"),
        "workers": ((int,), "job.ray_workers"),
        "stall_timeout": ((float, int), "job.ray_stall_timeout"),
    },
    "output": {
        "work_dir": ((str,), "work_dir"),
        "profile_property": ((str,), "job.profile_property"),
        "recommendations": ((int,), "recommendations"),
        "export_dir": ((str,), "export_dir"),
        "report": ((str,), "report"),
    },
}
_KINDS = ("sentence-transformers", "transformers", "static")


@dataclass
class JobConfig:
    """A validated job config (defaults everywhere)."""

    uri: str | None = None
    database: str | None = None
    mapping: SchemaMapping | None = None
    job: ProfileJobConfig = field(default_factory=ProfileJobConfig)
    work_dir: Path | None = None
    recommendations: int = 10
    export_dir: Path | None = None
    report: Path | None = None
    source: Path | None = None
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    keys: set[str] = field(default_factory=set)  # "section.key" given in the file or --set

    def summary(self) -> dict[str, Any]:
        skip = ("job", "keys", "privacy")
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out["privacy"] = {f.name: getattr(self.privacy, f.name) for f in fields(self.privacy)}
        out["mapping"] = None if self.mapping is None else "custom"
        out["job"] = {f.name: getattr(self.job, f.name) for f in fields(self.job)}
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("number" if t is float else t.__name__ for t in types)


def _parse_override(item: str) -> tuple[str, str, Any]:
    """``section.key=value`` -> (section, key, value); the value is read as TOML when it parses
    (numbers, booleans, quoted strings, lists), else taken as a plain string."""
    lhs, sep, value = item.partition("=")
    section, dot, key = lhs.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set takes section.key=value (got {item!r})")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return section, key, parsed


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> JobConfig:
    """Parse and validate ``path`` (None: all defaults) with ``section.key=value`` overrides
    applied on top; raise one ConfigError listing every problem."""
    p = Path(path) if path is not None else None
    raw: dict[str, Any] = {}
    if p is not None:
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: no such config file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
    for item in overrides:
        section, key, value = _parse_override(item)
        raw.setdefault(section, {})
        if isinstance(raw[section], dict):
            raw[section][key] = value
    errors: list[str] = []
    job: dict[str, Any] = {}
    privacy: dict[str, Any] = {}
    cfg = JobConfig(source=p)
    for section, table in raw.items():
        if section == "mapping":
            continue
        if section not in _SCHEMA:
            errors.append(f"unknown section [{section}]; valid: {sorted([*_SCHEMA, 'mapping'])}")
            continue
        if not isinstance(table, dict):
            errors.append(f"[{section}] must be a table")
            continue
        for key, value in table.items():
            if section == "store" and key in ("password", "username", "auth"):
                errors.append(
                    f"[store] {key}: credentials do not go in the config; "
                    "set NEO4J_USERNAME / NEO4J_PASSWORD"
                )
                continue
            if key not in _SCHEMA[section]:
                errors.append(f"[{section}] unknown key {key!r}; valid: {sorted(_SCHEMA[section])}")
                continue
            cfg.keys.add(f"{section}.{key}")
            types, target = _SCHEMA[section][key]
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if not ok:
                errors.append(f"[{section}] {key} must be {_type_name(types)} (got {value!r})")
                continue
            if target.startswith("privacy."):
                name = target.split(".", 1)[1]
                if name in ("key_file", "reid_table", "text_file"):
                    value = Path(value).expanduser()
                elif name == "scrub":
                    value = tuple(str(v) for v in value)
                privacy[name] = value
            elif target.startswith("job."):
                as_float = types[0] is float and not isinstance(value, bool)
                job[target[4:]] = float(value) if as_float else value
            elif target == "cache":
                job["cache"] = (
                    None
                    if value is False
                    else (ProfileJobConfig().cache if value is True else Path(value).expanduser())
                )
            elif target in ("work_dir", "export_dir", "report"):
                setattr(cfg, target, Path(value).expanduser())
            else:
                setattr(cfg, target, value)
    kind = job.get("embedder_kind")
    if kind is not None and kind not in _KINDS:
        errors.append(f"[model] kind must be one of {list(_KINDS)} (got {kind!r})")
    if cfg.recommendations < 1:
        errors.append(f"[output] recommendations must be >= 1 (got {cfg.recommendations})")
    if "mapping" in raw:
        if not isinstance(raw["mapping"], dict):
            errors.append("[mapping] must be a table")
        else:
            try:
                cfg.mapping = SchemaMapping.from_dict(raw["mapping"])
            except (GraphsonaError, TypeError) as e:
                errors.append(f"[mapping] {e}")
    cfg.privacy = PrivacySettings(**privacy)
    errors.extend(cfg.privacy.check())
    try:
        cfg.job = ProfileJobConfig(**job)
        cfg.job.check()
    except ConfigError as e:
        errors.extend(str(e).removeprefix("invalid profiling config: ").split("; "))
    if errors:
        where = f"{p}" if p is not None else "options"
        raise ConfigError(f"{where}: {len(errors)} problem(s): " + "; ".join(errors))
    return cfg
