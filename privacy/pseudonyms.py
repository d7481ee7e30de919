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
import re
from typing import Any

import polars as pl

__all__ = ["MENTION", "Pseudonymizer"]

HEX_DIGITS = 20
_BLOCK = 64  # SHA-256's block size in bytes
# @name, or @name@instance.host (Mastodon); not inside an e-mail address or a URL
MENTION = re.compile(r"(?<![\w@/.])@(\w{1,64}(?:@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)?)")


class Pseudonymizer:
    """Pseudonyms under one key (see the module docstring).

    HMAC-SHA256 as RFC 2104 defines it, H((K^opad) || H((K^ipad) || label || 0 || value)),
    computed with :mod:`hashlib` from the two keyed states prepared once per kind; the same
    bytes as :func:`hmac.new` gives (a test checks it), at about half the cost per value,
    which matters at millions of post ids. User ids and handles are remembered per instance,
    so each is hashed once however many tables name it."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:  # RFC 2104: a key longer than the block is hashed first
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK, b"\x00")
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self._states: dict[bytes, tuple[Any, Any]] = {}
        for label in (b"user", b"handle", b"post"):
            inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
            inner.update(label + b"\x00")
            self._states[label] = (inner, outer)
        # value -> pseudonym already computed, for the kinds that recur across tables
        self._known: dict[bytes, dict[str, str]] = {b"user": {}, b"handle": {}}

    def _hex(self, label: bytes, values: list[str]) -> list[str]:
        """The first :data:`HEX_DIGITS` hex digits of each value's MAC."""
        inner, outer = self._states[label]
        new_inner, new_outer = inner.copy, outer.copy
        out = []
        for v in values:
            a = new_inner()
            a.update(v.encode("utf-8"))
            b = new_outer()
            b.update(a.digest())
            out.append(b.hexdigest()[:HEX_DIGITS])
        return out

    def _many(self, label: bytes, prefix: str, values: list[str]) -> list[str]:
        known = self._known.get(label)
        if known is None:
            return [prefix + h for h in self._hex(label, values)]
        missing = [v for v in dict.fromkeys(values) if v not in known]
        if missing:
            known.update(zip(missing, (prefix + h for h in self._hex(label, missing)), strict=True))
        return [known[v] for v in values]

    def user(self, user_id: str) -> str:
        return self._many(b"user", "u_", [user_id])[0]

    @staticmethod
    def _handle_key(handle: str) -> str:
        return handle.strip().lstrip("@").lower()

    def handle(self, handle: str) -> str:
        return self._many(b"handle", "h_", [self._handle_key(handle)])[0]

    def post(self, post_id: str) -> str:
        return self._many(b"post", "p_", [post_id])[0]

    def _map(self, series: pl.Series, label: bytes, prefix: str, norm: Any = None) -> pl.Series:
        """``series`` (strings) to pseudonyms, hashing each distinct value once."""
        uniq = series.drop_nulls().unique()
        values = uniq.to_list()
        keys = [norm(v) for v in values] if norm is not None else values
        table = pl.DataFrame(
            {"v": uniq, "p": self._many(label, prefix, keys)},
            schema={"v": pl.String, "p": pl.String},
        )
        if uniq.len() == series.len():  # all distinct, no nulls (post ids): join, no lookup
            return (
                series.to_frame("v")
                .join(table, on="v", how="left", maintain_order="left")["p"]
                .alias(series.name)
            )
        return series.replace_strict(
            table["v"], table["p"], default=None, return_dtype=pl.String
        ).alias(series.name)

    def users(self, series: pl.Series) -> pl.Series:
        return self._map(series, b"user", "u_")

    def handles(self, series: pl.Series) -> pl.Series:
        return self._map(series, b"handle", "h_", self._handle_key)

    def posts(self, series: pl.Series) -> pl.Series:
        return self._map(series, b"post", "p_")

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
