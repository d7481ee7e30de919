"""Keyed pseudonyms: HMAC-SHA256 of an id under a secret key, so the same key always gives the
same pseudonym (reloads, updates and streams line up) and nobody without the key can go back.

========== ================================= ==========================================
what       input                             pseudonym
========== ================================= ==========================================
user id    ``user_id`` (and ``src``/``dst``)  ``u_`` + 20 hex digits (80 bits)
handle     ``handle``, ``@handle`` mentions   ``h_`` + 20 hex digits; matched without the
                                             ``@`` and case (``@Alice`` = ``alice``)
post id    ``post_id``                        ``p_`` + 20 hex digits (a platform's post
                                             id would lead back to its author)
========== ================================= ==========================================

80 bits keep the chance that two of 100 million ids collide below one in 10^7. Each kind is
hashed under its own label, so a user id and a handle that happen to be equal get different
pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import polars as pl

__all__ = ["MENTION", "Pseudonymizer"]

HEX_DIGITS = 20
# @name, or @name@instance.host (Mastodon); not inside an e-mail address or a URL
MENTION = re.compile(r"(?<![\w@/.])@(\w{1,64}(?:@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)?)")


class Pseudonymizer:
    """Pseudonyms under one key (see the module docstring)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        # the keyed state after each kind's label, copied per value (the key schedule and the
        # label are hashed once, not per id: about half the cost of a fresh HMAC per value)
        self._base = {
            label: hmac.new(key, label + b"\x00", hashlib.sha256)
            for label in (b"user", b"handle", b"post")
        }

    def _one(self, label: bytes, value: str) -> str:
        mac = self._base[label].copy()
        mac.update(value.encode("utf-8"))
        return mac.hexdigest()[:HEX_DIGITS]

    def user(self, user_id: str) -> str:
        return "u_" + self._one(b"user", user_id)

    def handle(self, handle: str) -> str:
        return "h_" + self._one(b"handle", handle.strip().lstrip("@").lower())

    def post(self, post_id: str) -> str:
        return "p_" + self._one(b"post", post_id)

    def _map(self, series: pl.Series, one: object) -> pl.Series:
        """``series`` (strings) through ``one``, hashing each distinct value once."""
        uniq = series.drop_nulls().unique()
        table = pl.DataFrame(
            {"v": uniq, "p": [one(v) for v in uniq.to_list()]},  # type: ignore[operator]
            schema={"v": pl.String, "p": pl.String},
        )
        return series.replace_strict(table["v"], table["p"], default=None, return_dtype=pl.String)

    def users(self, series: pl.Series) -> pl.Series:
        return self._map(series, self.user).alias(series.name)

    def handles(self, series: pl.Series) -> pl.Series:
        return self._map(series, self.handle).alias(series.name)

    def posts(self, series: pl.Series) -> pl.Series:
        return self._map(series, self.post).alias(series.name)

    def mentions(self, series: pl.Series) -> tuple[pl.Series, int]:
        """Every ``@handle`` in the texts replaced by ``@`` + the handle's pseudonym; returns
        the texts and how many mentions were replaced. Only texts with an ``@`` are visited."""
        count = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return "@" + self.handle(m.group(1))

        has_at = series.str.contains("@", literal=True).fill_null(False)
        if not has_at.any():
            return series, 0
        idx = has_at.arg_true()
        texts = series.gather(idx).to_list()
        replaced = pl.Series([MENTION.sub(sub, t) for t in texts], dtype=pl.String)
        out = series.scatter(idx, replaced)
        return out, count
