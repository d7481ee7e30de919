"""The language of each post: the ``lang`` column when given, else detected offline.

Detection is py3langid (a maintained fork of langid.py; its model ships inside the package, so
nothing is downloaded), limited to languages with an ISO 639-1 code, less Latin, Esperanto and
Volapük. Its full set also holds regional and historical varieties that short posts get
mistaken for: on 12,284 English tweets (TweetEval), 6% came out as Nigerian Pidgin, Central
Bikol, Latin or Luxembourgish, and went unscored. Codes are ISO 639-1 (``en``, ``zh``, ...); a
post with fewer than
:data:`MIN_LETTERS` letters (an emoji, a link, a hashtag or two) is ``und`` (undetermined):
guessing on it is noise. A given ``lang`` is normalised to its primary subtag in lower case
(``zh-CN`` -> ``zh``, ``EN`` -> ``en``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import polars as pl

__all__ = ["MIN_LETTERS", "UNDETERMINED", "detect_languages", "post_languages"]

UNDETERMINED = "und"
MIN_LETTERS = 4  # fewer letters than this (CJK characters count as letters): undetermined

_NOISE = re.compile(r"https?://\S+|[@#][\w_]+", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


_NOT_POSTED_IN = frozenset({"la", "eo", "vo"})  # classical and constructed languages


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(
        sorted({c for c in ident.nb_classes if len(c) == 2 and c not in _NOT_POSTED_IN})
    )
    return ident


def detect_languages(texts: Iterable[str | None]) -> list[str]:
    """ISO 639-1 code of each text (``und`` when empty or too short to tell)."""
    out: list[str] = []
    ident = None
    for text in texts:
        body = _NOISE.sub(" ", text or "")
        if len(_LETTER.findall(body)) < MIN_LETTERS:
            out.append(UNDETERMINED)
            continue
        ident = ident or _identifier()
        out.append(str(ident.classify(body)[0]))
    return out


def post_languages(posts: pl.DataFrame) -> pl.Series:
    """One code per post row: ``lang`` when given and not empty, else detected from ``text``
    (only the rows without one are run through the detector)."""
    if "lang" not in posts.columns:
        return pl.Series("lang", detect_languages(posts["text"].to_list()), dtype=pl.String)
    given = (
        posts["lang"]
        .cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.split_exact("-", 1)
        .struct.field("field_0")
        .str.split_exact("_", 1)
        .struct.field("field_0")
    )
    missing = (given.is_null() | (given == "")).fill_null(True)
    out = given.alias("lang").to_list()
    todo = missing.arg_true().to_list()
    if todo:
        texts = posts["text"].gather(todo).to_list()
        for i, code in zip(todo, detect_languages(texts), strict=True):
            out[i] = code
    return pl.Series("lang", out, dtype=pl.String)
