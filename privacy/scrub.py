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

import polars as pl

__all__ = ["DEFAULT_SCRUB", "PATTERNS", "SCRUB_KINDS", "scrub_column"]

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\b\d{2,4})[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}\b"
URL = r"(https?://[^/\s]+)/\S+"
HANDLE = r"(^|[^\w@/])@\w{1,64}"

PATTERNS: dict[str, tuple[str, str]] = {
    "email": (EMAIL, "[email]"),
    "phone": (PHONE, "[phone]"),
    "url": (URL, "${1}/[path]"),
    "handle": (HANDLE, "${1}@user"),
}
# a cheap test a text must pass before its kind's regular expression runs on it (most posts
# have no e-mail, URL or long number: the full patterns then run on a small share of rows)
PREFILTER: dict[str, tuple[str, bool]] = {
    "email": ("@", True),
    "phone": (r"\d\d\d", False),
    "url": ("http", True),
    "handle": ("@", True),
}
SCRUB_KINDS = tuple(PATTERNS)
DEFAULT_SCRUB = ("email", "phone", "url")


def scrub_column(
    frame: pl.DataFrame, column: str, kinds: tuple[str, ...]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``frame`` with ``column`` scrubbed of ``kinds`` (in the table's order: emails before
    handles, so an address is never half taken for a mention); matches counted per kind."""
    counts: dict[str, int] = {}
    series = frame[column]
    for kind in SCRUB_KINDS:
        if kind not in kinds:
            continue
        pattern, placeholder = PATTERNS[kind]
        needle, literal = PREFILTER[kind]
        idx = series.str.contains(needle, literal=literal).fill_null(False).arg_true()
        part = series.gather(idx)
        n = int(part.str.count_matches(pattern).sum() or 0)
        counts[kind] = n
        if n:
            series = series.scatter(idx, part.str.replace_all(pattern, placeholder))
    return frame.with_columns(series.alias(column)), counts
