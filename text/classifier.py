"""Post classifiers trained from a few labelled posts (``graphsona finetune``).

A task (sentiment, stance, informativeness, any label set) is learned from a labels file of
``text, label`` rows, or ``post_id, label`` rows naming posts in the store. The classifier is a
multinomial logistic regression on the default text encoder's post vectors (the same model and
vector cache as the profiles), kept frozen.

Measured choice (BENCHMARKS.md, "Sentiment"): on TweetEval sentiment, this head with 32 labels
per class (96 in all) scored macro-F1 0.49 where a TF-IDF + logistic-regression reference
trained on all 2,000 labels scored 0.40. SetFit's contrastive fine-tuning of the encoder itself
is the next thing to measure against it; it costs minutes of CPU per task where this costs
seconds.

The fitted classifier is a few arrays, kept as JSON in the store (see
:meth:`~graphsona.graph.GraphStore.write_classifier`) with the encoder it needs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from graphsona.errors import ConfigError, DataValidationError

__all__ = ["MIN_PER_CLASS", "PostClassifier", "read_labels", "train_classifier"]

MIN_PER_CLASS = 2  # labelled posts each class needs at least


@dataclass(frozen=True)
class PostClassifier:
    """A fitted head: ``classes``, ``coef`` (classes x dim, or 1 x dim for two classes),
    ``intercept``; ``embedder``/``embedder_kind`` name the encoder its inputs come from."""

    task: str
    classes: tuple[str, ...]
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]
    embedder: str
    embedder_kind: str
    info: dict[str, Any]

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, ``len(vectors) x len(classes)``."""
        w, b = np.asarray(self.coef, np.float64), np.asarray(self.intercept, np.float64)
        logits = np.asarray(vectors, np.float64) @ w.T + b
        if len(self.classes) == 2:  # scikit-learn's binary form: one logit for classes[1]
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1 - p1, p1], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
        """(label, probability of that label) per vector."""
        p = self.proba(vectors)
        best = p.argmax(axis=1)
        return [self.classes[i] for i in best], p[np.arange(len(best)), best]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": list(self.classes),
            "coef": [list(r) for r in self.coef],
            "intercept": list(self.intercept),
            "embedder": self.embedder,
            "embedder_kind": self.embedder_kind,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostClassifier:
        return cls(
            task=str(d["task"]),
            classes=tuple(d["classes"]),
            coef=tuple(tuple(r) for r in d["coef"]),
            intercept=tuple(d["intercept"]),
            embedder=str(d["embedder"]),
            embedder_kind=str(d["embedder_kind"]),
            info=dict(d.get("info", {})),
        )


def read_labels(path: Path, posts: pl.DataFrame | None = None) -> pl.DataFrame:
    """``text, label`` rows from a CSV/Parquet/JSONL labels file.

    The file has ``label`` and either ``text`` or ``post_id`` (looked up in ``posts``, the
    store's posts). Errors name the file, row and column: a missing column, an empty label or
    text, an unknown post id, fewer than two classes or a class with fewer than
    :data:`MIN_PER_CLASS` examples.
    """
    from graphsona.loaders._read import read_table

    frame = read_table(path)
    name = str(path)
    if "label" not in frame.columns or not {"text", "post_id"} & set(frame.columns):
        raise DataValidationError(
            f"a labels file needs a 'label' column and 'text' or 'post_id' (got {frame.columns})",
            file=name,
        )
    key = "text" if "text" in frame.columns else "post_id"
    frame = frame.with_columns(pl.col("label").cast(pl.String).str.strip_chars())
    for col in ("label", key):
        bad = frame.filter(
            pl.col(col).is_null() | (pl.col(col).cast(pl.String).str.strip_chars() == "")
        )
        if bad.height:
            raise DataValidationError(
                "empty value", file=name, row=int(bad["__row"][0]), column=col
            )
    if key == "post_id":
        if posts is None or "post_id" not in posts.columns:
            raise DataValidationError(
                "labels by post_id need a store whose posts have ids", file=name, column="post_id"
            )
        frame = frame.with_columns(pl.col("post_id").cast(pl.String))
        joined = frame.join(
            posts.select(pl.col("post_id").cast(pl.String), "text"), on="post_id", how="left"
        )
        unknown = joined.filter(pl.col("text").is_null())
        if unknown.height:
            first = unknown.sort("__row").row(0, named=True)
            raise DataValidationError(
                f"unknown post id {first['post_id']!r} ({unknown.height} unknown in all)",
                file=name,
                row=int(first["__row"]),
                column="post_id",
            )
        frame = joined.sort("__row")
    counts = Counter(frame["label"].to_list())
    if len(counts) < 2:
        raise DataValidationError(
            f"a classifier needs at least two labels; the file has only {sorted(counts)}",
            file=name,
            column="label",
        )
    thin = sorted(c for c, k in counts.items() if k < MIN_PER_CLASS)
    if thin:
        raise DataValidationError(
            f"each label needs at least {MIN_PER_CLASS} examples; too few for {thin}",
            file=name,
            column="label",
        )
    return frame.select("text", "label")


# Properties graphsona itself writes on posts: a task's labels (``Post.<task>``, ``<task>_p``)
# must not overwrite them.
POST_PROPERTIES = frozenset(
    {"post_id", "user_id", "text", "created_at", "lang", "sentiment", "sentiment_label", "topic_id"}
)


def check_task(task: str) -> str:
    """``task`` if it can name post properties (``Post.<task>``, ``Post.<task>_p``)."""
    if not task.isidentifier():
        raise ConfigError(f"a task name must be an identifier (letters, digits, _): {task!r}")
    if task in POST_PROPERTIES or f"{task}_p" in POST_PROPERTIES:
        raise ConfigError(
            f"task name {task!r} is a property graphsona already writes on posts "
            f"({', '.join(sorted(POST_PROPERTIES))}); name the task e.g. {task + '_tuned'!r}"
        )
    return task


def train_classifier(
    task: str,
    vectors: np.ndarray,
    labels: list[str],
    *,
    embedder: str,
    embedder_kind: str,
    seed: int = 0,
) -> PostClassifier:
    """Fit the head on post ``vectors``; ``info`` has the label counts and, with at least 5
    examples per class, a 5-fold cross-validated accuracy and macro-F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    check_task(task)
    y = np.asarray(labels, dtype=object).astype(str)
    counts = Counter(y.tolist())
    model = LogisticRegression(max_iter=3000, random_state=seed)
    info: dict[str, Any] = {"labels": dict(sorted(counts.items()))}
    if min(counts.values()) >= 5:
        from sklearn.metrics import accuracy_score, f1_score

        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        pred = cross_val_predict(model, vectors, y, cv=folds)
        info["cv_accuracy"] = float(accuracy_score(y, pred))
        info["cv_macro_f1"] = float(f1_score(y, pred, average="macro"))
    model.fit(vectors, y)
    return PostClassifier(
        task=task,
        classes=tuple(str(c) for c in model.classes_),
        coef=tuple(tuple(float(v) for v in row) for row in model.coef_),
        intercept=tuple(float(v) for v in model.intercept_),
        embedder=embedder,
        embedder_kind=embedder_kind,
        info=info,
    )
