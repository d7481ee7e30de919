"""PII scrubbing of post text (and bios) before anything is embedded or stored.

Each kind is a regular expression run by polars (native, no Python per row); matches are
replaced by a placeholder and counted in the load report (``posts.scrubbed_<kind>``):

========= ====================================================== ======================
kind      what                                                   becomes
========= ====================================================== ======================
email     ``name@example.org``                                   ``[email]``
phone     8+ digit numbers in phone layouts (``+44 20 7946       ``[phone]``
          0958``, ``(555) 123-4567``, ``555.123.4567``);
          dates such as ``2024-01-15`` are not phones
url       the path of every web address (a profile, a photo,     ``https://host/[path]``
          a status page); the host stays
handle    ``@name`` mentions                                      ``@user``
========= ====================================================== ======================

The default is ``email``, ``phone`` and ``url``. ``handle`` is off by default because with
pseudonymisation on, mentions become the mentioned user's pseudonym instead (the mention graph
keeps its meaning); choose ``handle`` to drop them altogether.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

__all__ = ["DEFAULT_SCRUB", "PATTERNS", "SCRUB_KINDS", "may_hold", "scrub_column", "scrub_series"]

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\b\d{2,4})[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}\b"
URL = r"(https?://[^/\s]+)/\S+"
HANDLE = r"(^|[^A-Za-z0-9_@/.])@\w{1,64}"  # as privacy.pseudonyms.MENTION

PATTERNS: dict[str, tuple[str, str]] = {
    "email": (EMAIL, "[email]"),
    "phone": (PHONE, "[phone]"),
    "url": (URL, "${1}/[path]"),
    "handle": (HANDLE, "${1}@user"),
}


def _may_phone(texts: pl.Series) -> pl.Series:
    """Three ASCII digits in a row, or a digit of another script (the pattern's ``\\d`` also
    takes e.g. full-width digits). Searching a million posts for Unicode ``\\d`` takes four
    times as long as for ``[0-9]``, so it only runs on the texts with non-ASCII characters
    (emoji, other scripts) and no ASCII hit."""
    hit = texts.str.contains("[0-9]{3}").fill_null(False)
    other = (~hit & (texts.str.len_bytes() != texts.str.len_chars())).fill_null(False)
    idx = other.arg_true()
    if idx.len():
        found = texts.gather(idx).str.contains(r"[\d&&[^0-9]]")
        hit = hit.scatter(idx, found)
    return hit


# A cheap test a text must pass before its kind's regular expression runs on it (most posts
# have no e-mail, URL or long number: the full patterns then run on a small share of rows).
# Each test is a superset of its pattern's matches.
PREFILTER: dict[str, Callable[[pl.Series], pl.Series]] = {
    "email": lambda t: t.str.contains("@", literal=True),
    "phone": _may_phone,
    "url": lambda t: t.str.contains("http", literal=True),
    "handle": lambda t: t.str.contains("@", literal=True),
}
SCRUB_KINDS = tuple(PATTERNS)
DEFAULT_SCRUB = ("email", "phone", "url")


def may_hold(texts: pl.Series, kinds: tuple[str, ...]) -> pl.Series:
    """True for each text that may hold one of ``kinds`` (the union of their prefilters; null
    texts False): the rows :func:`scrub_series` has anything to do on."""
    out = pl.repeat(False, texts.len(), dtype=pl.Boolean, eager=True)
    for kind in (k for k in SCRUB_KINDS if k in kinds):
        out = out | PREFILTER[kind](texts).fill_null(False)
    return out


def scrub_series(texts: pl.Series, kinds: tuple[str, ...]) -> tuple[pl.Series, dict[str, int]]:
    """``texts`` scrubbed of ``kinds`` (in the table's order: emails before handles, so an
    address is never half taken for a mention); matches counted per kind."""
    counts: dict[str, int] = {}
    chosen = [k for k in SCRUB_KINDS if k in kinds]
    # every prefilter on the texts as given: a kind's replacements put in placeholders only,
    # none of which a later kind's prefilter would take
    hits = {k: PREFILTER[k](texts).fill_null(False) for k in chosen}
    for kind in chosen:
        pattern, placeholder = PATTERNS[kind]
        idx = hits[kind].arg_true()
        part = texts.gather(idx)
        n = int(part.str.count_matches(pattern).sum() or 0)
        counts[kind] = n
        if n:
            texts = texts.scatter(idx, part.str.replace_all(pattern, placeholder))
    return texts, counts


def scrub_column(
    frame: pl.DataFrame, column: str, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``frame`` with ``column`` scrubbed of ``kinds`` (:func:`scrub_series`)."""
    texts, counts = scrub_series(frame[column], kinds)
    return frame.with_columns(texts.alias(column)), counts
