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
pseudonyms: the MAC of a value ``v`` of kind ``label`` is HMAC-SHA256(key, label || 0x00 || v)
(RFC 2104), the key being the UTF-8 bytes of the key text (:mod:`graphsona.privacy.keys`).

The MACs are computed column-wise by ``polars-hash``'s compiled ``hmac_sha256`` (Rust's
``hmac``/``sha2`` crates), not value by value in Python: at a million post ids that is about
0.3 s against 1.2 s for the tightest ``hashlib`` loop (measured here; BENCHMARKS "Privacy").
A test checks every pseudonym against :func:`hmac.new`, so stores pseudonymised by earlier
versions (which used ``hashlib``) line up with loads made now.
"""

from __future__ import annotations

import re

import polars as pl
import polars_hash  # noqa: F401  (registers the ``chash`` expression namespace)
from graphsona.errors import ConfigError

__all__ = ["MENTION", "Pseudonymizer"]

HEX_DIGITS = 20
# @name, or @name@instance.host (Mastodon); not inside an e-mail address or a URL: the ``@``
# must not follow an ASCII letter, digit or ``_`` (an address's local part) or ``@ / .``. A
# mention right after other text counts, as Weibo writes them (``你好@张三``).
MENTION = re.compile(r"(?<![A-Za-z0-9_@/.])@(\w{1,64}(?:@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)?)")
# the texts :data:`MENTION` is run on, searched by polars (no look-behind there); it leaves
# out e-mail addresses, the usual other ``@``
_MAY_MENTION = r"(?:^|[^A-Za-z0-9_@/.])@"
_PREFIX = {"user": "u_", "handle": "h_", "post": "p_"}


def _handle_key(expr: pl.Expr) -> pl.Expr:
    """A handle as it is hashed: no surrounding spaces, no leading ``@``, lower case."""
    return expr.str.strip_chars().str.strip_chars_start("@").str.to_lowercase()


class Pseudonymizer:
    """Pseudonyms under one key (see the module docstring).

    User ids and handles are remembered per instance (one table of value and pseudonym per
    kind), so each is hashed once however many tables name it; post ids, which are unique,
    are hashed as they come."""

    def __init__(self, key: bytes) -> None:
        try:
            self._key = key.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                "the pseudonym key must be text (UTF-8), e.g. the output of "
                'python -c "import secrets; print(secrets.token_hex(32))"'
            ) from None
        # value -> pseudonym already computed, for the kinds that recur across tables
        self._known: dict[str, pl.DataFrame] = {
            kind: pl.DataFrame(schema={"v": pl.String, "p": pl.String})
            for kind in ("user", "handle")
        }

    def _mac(self, kind: str, values: pl.Series) -> pl.Series:
        """The pseudonym of each value (null stays null), computed in one compiled pass (the
        streaming engine spreads it over the cores)."""
        msg = pl.concat_str([pl.lit(kind + "\x00"), pl.col("v")])
        hmac_hex = msg.chash.hmac_sha256(key=self._key)  # type: ignore[attr-defined]
        pseudonym = (pl.lit(_PREFIX[kind]) + hmac_hex.str.slice(0, HEX_DIGITS)).alias("p")
        frame = pl.LazyFrame({"v": values.cast(pl.String)})
        return frame.select(pseudonym).collect(engine="streaming")["p"]

    def _map(self, kind: str, series: pl.Series) -> pl.Series:
        """``series`` (strings, already normalised for their kind) to pseudonyms."""
        name = series.name
        series = series.cast(pl.String)
        known = self._known.get(kind)
        if known is None:  # post ids: unique, nothing to remember
            return self._mac(kind, series).alias(name)
        out = series.replace_strict(known["v"], known["p"], default=None, return_dtype=pl.String)
        # values not seen before (all of them in the first table that names a kind): hash them
        # once, then look the column up again; the usual case (edges whose users are known)
        # is a single lookup pass, with no unique() over the column
        missing = series.filter(out.is_null() & series.is_not_null()).unique()
        if missing.len():
            known = pl.concat([known, pl.DataFrame({"v": missing, "p": self._mac(kind, missing)})])
            self._known[kind] = known
            out = series.replace_strict(
                known["v"], known["p"], default=None, return_dtype=pl.String
            )
        return out.alias(name)

    def _one(self, kind: str, value: str) -> str:
        out = self._map(kind, pl.Series([value], dtype=pl.String))[0]
        assert out is not None
        return str(out)

    def user(self, user_id: str) -> str:
        return self._one("user", user_id)

    def handle(self, handle: str) -> str:
        return self.handles(pl.Series([handle], dtype=pl.String))[0]  # type: ignore[no-any-return]

    def post(self, post_id: str) -> str:
        return self._one("post", post_id)

    def users(self, series: pl.Series) -> pl.Series:
        return self._map("user", series)

    def user_columns(self, frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
        """``frame`` with its user-id ``columns`` replaced by pseudonyms. The columns are
        looked up side by side (an edge table's ``src`` and ``dst``); ids not seen before are
        hashed first."""
        known = self._known["user"]
        lookup = [
            pl.col(c)
            .cast(pl.String)
            .replace_strict(known["v"], known["p"], default=None, return_dtype=pl.String)
            for c in columns
        ]
        out = frame.with_columns(lookup)
        unseen = [c for c in columns if out[c].null_count() != frame[c].null_count()]
        if not unseen:
            return out
        return out.with_columns(self._map("user", frame[c]) for c in unseen)

    def handles(self, series: pl.Series) -> pl.Series:
        keys = pl.select(_handle_key(pl.lit(series.cast(pl.String)))).to_series()
        return self._map("handle", keys.alias(series.name))

    def posts(self, series: pl.Series) -> pl.Series:
        return self._map("post", series)

    def mentions(self, series: pl.Series) -> tuple[pl.Series, int]:
        """Every ``@handle`` in the texts replaced by ``@`` + the handle's pseudonym; returns
        the texts and how many mentions were replaced. Only texts that may hold a mention are
        visited; the mentioned handles are found first and hashed together."""
        has_at = series.str.contains(_MAY_MENTION).fill_null(False)
        if not has_at.any():
            return series, 0
        idx = has_at.arg_true()
        texts = series.gather(idx).to_list()
        found = {m.group(1) for t in texts for m in MENTION.finditer(t)}
        if not found:
            return series, 0
        names = pl.Series(sorted(found), dtype=pl.String)
        table: dict[str, str] = dict(
            zip(names.to_list(), self.handles(names).to_list(), strict=True)
        )
        count = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return "@" + table[m.group(1)]

        replaced = pl.Series([MENTION.sub(sub, t) for t in texts], dtype=pl.String)
        return series.scatter(idx, replaced), count
