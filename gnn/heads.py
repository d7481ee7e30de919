"""Supervised heads: predict the users file's ``label_*`` columns from profiles, with probabilities.

A linear head on the *frozen* self-supervised profiles (concatenated with the pooled text vector)
rather than a jointly trained loss: the profiles stay label-agnostic and reusable, a label
column with few known values cannot distort them, and the head's quality is measured honestly
by cross-fitting. Users whose label is known get an out-of-fold prediction (from a head that
never saw their label), everyone else gets the prediction of a head fitted on all known labels.

* A categorical column (text, boolean, or integers with at most ``max_classes`` values) gets a
  multinomial logistic regression: ``pred_<name>`` is the most likely class and
  ``pred_<name>_p`` its probability. Accuracy and macro-F1 are reported.
* A numeric column with more values gets a ridge regression: ``pred_<name>`` only; R² reported.

``<name>`` is the column without its ``label_`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

__all__ = ["LabelHead", "label_columns", "predict_labels"]

PREFIX = "label_"


@dataclass
class LabelHead:
    """One label column's predictions (aligned with the feature rows) and its held-out quality."""

    column: str
    kind: str  # "classification" | "regression" | "skipped"
    prediction: pl.Series
    probability: pl.Series | None
    metrics: dict[str, Any] = field(default_factory=dict)  # numbers and strings, lists of str

    @property
    def name(self) -> str:
        return self.column.removeprefix(PREFIX)

    def frame(self) -> pl.DataFrame:
        cols = [self.prediction.alias(f"pred_{self.name}")]
        if self.probability is not None:
            cols.append(self.probability.alias(f"pred_{self.name}_p"))
        return pl.DataFrame(cols)


def label_columns(users: pl.DataFrame) -> list[str]:
    return sorted(c for c in users.columns if c.startswith(PREFIX) and len(c) > len(PREFIX))


def _is_categorical(s: pl.Series, max_classes: int) -> bool:
    if s.dtype in (pl.String, pl.Boolean, pl.Categorical, pl.Enum):
        return True
    return s.dtype.is_integer() and s.drop_nulls().n_unique() <= max_classes


def predict_labels(
    labels: pl.DataFrame,
    features: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    max_classes: int = 20,
    min_labelled: int = 20,
) -> list[LabelHead]:
    """One :class:`LabelHead` per column of ``labels`` (rows aligned with ``features``).

    Never fails on thin labels: a class with fewer than 2 examples is left out of training
    (reported as ``dropped_rare_classes`` / ``dropped_rows``; its rows are still predicted, as
    one of the other classes), and a column with fewer than ``min_labelled`` usable values or
    fewer than 2 classes left is returned as ``kind="skipped"`` with a ``reason``.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, f1_score, r2_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    heads = []
    for col in labels.columns:
        s = labels[col]
        known = s.is_not_null().to_numpy()
        cat = _is_categorical(s, max_classes)
        y_all = s.cast(pl.String).to_numpy() if cat else s.cast(pl.Float64).to_numpy()
        y, x_known = y_all[known], features[known]
        n_known = int(known.sum())
        dropped: list[str] = []
        train = np.ones(n_known, dtype=bool)  # which known rows the heads are fitted on
        if cat:
            classes, counts = np.unique(y, return_counts=True)
            # A class needs >= 2 examples: stratified cross-fitting must keep it in every
            # training fold. Rarer classes are left out of training (the head cannot learn
            # them); their rows still get a prediction, from heads that never saw their label.
            dropped = sorted(str(c) for c in classes[counts < 2])
            train = ~np.isin(y, dropped)
        n_train = int(train.sum())
        n_classes = len(np.unique(y[train])) if cat else 0
        if n_train < max(min_labelled, 2) or (cat and n_classes < 2):
            if cat:
                why = f"{n_known} known values, {n_classes} class(es) with >= 2 examples"
            else:
                why = f"{n_known} known values (needs {max(min_labelled, 2)})"
            metrics: dict[str, Any] = {"reason": why}
            if dropped:
                metrics["dropped_rare_classes"] = dropped
            heads.append(
                LabelHead(
                    col, "skipped", pl.Series([None] * len(s), dtype=pl.String), None, metrics
                )
            )
            continue
        x_train, y_train = x_known[train], y[train]
        if cat:
            _, counts = np.unique(y_train, return_counts=True)
            k = int(max(2, min(folds, counts.min())))
            splitter: Any = StratifiedKFold(k, shuffle=True, random_state=seed)

            def make() -> Any:
                return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.5))
        else:
            k = int(min(folds, n_train))
            splitter = KFold(k, shuffle=True, random_state=seed)

            def make() -> Any:
                return make_pipeline(StandardScaler(), Ridge(alpha=10.0))

        oof = np.empty(n_train, dtype=object if cat else np.float64)
        oof_p = np.zeros(n_train)
        for tr, te in splitter.split(x_train, y_train):
            model = make().fit(x_train[tr], y_train[tr])
            oof[te] = model.predict(x_train[te])
            if cat:
                oof_p[te] = model.predict_proba(x_train[te]).max(1)
        final = make().fit(x_train, y_train)
        pred = final.predict(features).astype(object if cat else np.float64)
        rows_train = np.flatnonzero(known)[train]
        pred[rows_train] = oof  # rows of dropped classes keep the final head's prediction
        metrics = {"labelled": n_known, "folds": k}
        if cat:
            prob = final.predict_proba(features).max(1)
            prob[rows_train] = oof_p
            # Scored on every labelled row: a dropped class's rows count as errors (their
            # predictions come from heads that never saw their label, so they are held out too).
            got = pred[known].astype(str)
            metrics["accuracy"] = float(accuracy_score(y, got))
            metrics["macro_f1"] = float(f1_score(y, got, average="macro", zero_division=0))
            metrics["classes"] = n_classes
            if dropped:
                metrics["dropped_rare_classes"] = dropped
                metrics["dropped_rows"] = n_known - n_train
            heads.append(
                LabelHead(
                    col,
                    "classification",
                    pl.Series(pred.astype(str).tolist(), dtype=pl.String),
                    pl.Series(prob, dtype=pl.Float64),
                    metrics,
                )
            )
        else:
            metrics["r2"] = float(r2_score(y, oof.astype(np.float64)))
            heads.append(
                LabelHead(col, "regression", pl.Series(pred, dtype=pl.Float64), None, metrics)
            )
    return heads
