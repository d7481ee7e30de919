"""Keyed pseudonyms: HMAC-SHA256 of an id under a secret key, so the same key always gives the
same pseudonym (reloads, updates and streams line up) and nobody without the key can go back.

The MAC of a value ``v`` of kind ``label`` (``user``, ``handle``, ``post``) is
HMAC-SHA256(key, label || 0x00 || v) (RFC 2104), the key being the UTF-8 bytes of the key text
(:mod:`graphsona.privacy.keys`). Each kind is hashed under its own label, so a user id and a
handle that happen to be equal get different pseudonyms. Handles are matched without the
``@`` and case (``@Alice`` = ``alice``). Post ids are pseudonymised too: a platform's post id
would lead back to its author.

Two formats; a store keeps the one it was first loaded with (``pseudonym_format`` in its
bookkeeping, :func:`graphsona.privacy.store_policy`):

====== ============================================= ======== ============================
format pseudonym                                     bits     two of N ids collide
====== ============================================= ======== ============================
2      ``u``/``h``/``p`` + the MAC's first 66 bits   66       ~N^2 / 2^67: 10^-10 at 100k,
       in 11 URL-safe base64 characters (12 chars)            7*10^-5 at 100 million
1      ``u_``/``h_``/``p_`` + 20 hex digits          80       ~N^2 / 2^81: 4*10^-9 at 100
       (22 chars; stores made before format 2)                million
====== ============================================= ======== ============================

Format 2 is the default for new stores because of the graph stores' string keys: LadybugDB
keeps a string of up to 12 bytes inside its key slot and a longer one in overflow pages, and
22-character ids made the bulk load of a million posts about 1.1 s slower (BENCHMARKS
"Privacy"). A collision between two ids of one load is refused with an error naming both
(they would otherwise become one user or one post); one with an id stored by an earlier load
cannot be seen, which the table's odds keep negligible below a few hundred million ids.

The MACs are computed column-wise by ``polars-hash``'s compiled ``hmac_sha256`` (Rust's
``hmac``/``sha2`` crates), not value by value in Python: at a million post ids that is about
0.2 s against 1.2 s for the tightest ``hashlib`` loop (measured here). A test checks both
formats against :func:`hmac.new`, so stores pseudonymised by earlier versions (which used
``hashlib``) line up with loads made now.
"""

from __future__ import annotations

import re

import polars as pl
import polars_hash  # noqa: F401  (registers the ``chash`` expression namespace)
from graphsona.errors import ConfigError, DataValidationError

__all__ = ["FORMATS", "MAY_MENTION", "MENTION", "Pseudonymizer"]

FORMATS = (1, 2)
HEX_DIGITS = 20  # format 1
# @name, or @name@instance.host (Mastodon); not inside an e-mail address or a URL: the ``@``
# must not follow an ASCII letter, digit or ``_`` (an address's local part) or ``@ / .``. A
# mention right after other text counts, as Weibo writes them (``你好@张三``).
MENTION = re.compile(r"(?<![A-Za-z0-9_@/.])@(\w{1,64}(?:@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)?)")
# the texts :data:`MENTION` is run on, searched by polars (no look-behind there); it leaves
# out e-mail addresses, the usual other ``@``
MAY_MENTION = r"(?:^|[^A-Za-z0-9_@/.])@"
_PREFIX = {"user": "u", "handle": "h", "post": "p"}  # format 1 adds "_"


def _handle_key(expr: pl.Expr) -> pl.Expr:
    """A handle as it is hashed: no surrounding spaces, no leading ``@``, lower case."""
    return expr.str.strip_chars().str.strip_chars_start("@").str.to_lowercase()


class Pseudonymizer:
    """Pseudonyms under one key (see the module docstring).

    User ids and handles are remembered per instance (one table of value and pseudonym per
    kind), so each is hashed once however many tables name it; post ids, which are unique,
    are hashed as they come."""

    def __init__(self, key: bytes, pseudonym_format: int = 2) -> None:
        if pseudonym_format not in FORMATS:
            raise ConfigError(f"unknown pseudonym format {pseudonym_format}; known: {FORMATS}")
        self.format = pseudonym_format
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
        if self.format == 1:
            body = pl.lit("_") + hmac_hex.str.slice(0, HEX_DIGITS)
        else:  # 9 bytes = 12 base64 characters without padding; the first 11 (66 bits) kept
            b64 = hmac_hex.str.slice(0, 18).str.decode("hex").bin.encode("base64")
            body = b64.str.slice(0, 11).str.replace_many(["+", "/"], ["-", "_"])
        pseudonym = (pl.lit(_PREFIX[kind]) + body).alias("p")
        frame = pl.LazyFrame({"v": values.cast(pl.String)})
        return frame.select(pseudonym).collect(engine="streaming")["p"]

    @staticmethod
    def _refuse_collision(kind: str, values: pl.Series, pseudonyms: pl.Series) -> None:
        """Two different values with one pseudonym would become one user (or post): refused,
        naming both."""
        pair = pl.DataFrame({"v": values, "p": pseudonyms}).filter(pl.col("p").is_duplicated())
        pair = pair.unique("v").sort("p", "v").head(2)
        raise DataValidationError(
            f"the {kind} ids {pair['v'][0]!r} and {pair['v'][1]!r} get the same pseudonym "
            f"{pair['p'][0]!r} (a chance of about one in 2^66 per pair): they would become one; "
            "rename one of them in the data",
            column="post_id" if kind == "post" else None,
        )

    def _map(self, kind: str, series: pl.Series) -> pl.Series:
        """``series`` (strings, already normalised for their kind) to pseudonyms."""
        name = series.name
        series = series.cast(pl.String)
        known = self._known.get(kind)
        if known is None:  # post ids: unique, nothing to remember
            out = self._mac(kind, series)
            if out.is_duplicated().any():  # the loaders refuse duplicate raw post ids
                uniq = series.drop_nulls().unique()
                self._refuse_collision(kind, uniq, self._mac(kind, uniq))
            return out.alias(name)
        out = series.replace_strict(known["v"], known["p"], default=None, return_dtype=pl.String)
        # values not seen before (all of them in the first table that names a kind): hash them
        # once, then look the column up again; the usual case (edges whose users are known)
        # is a single lookup pass, with no unique() over the column
        missing = series.filter(out.is_null() & series.is_not_null()).unique()
        if missing.len():
            known = pl.concat([known, pl.DataFrame({"v": missing, "p": self._mac(kind, missing)})])
            if known["p"].is_duplicated().any():
                self._refuse_collision(kind, known["v"], known["p"])
            if known.n_chunks() > 16:  # a stream adds a few users per batch: keep lookups flat
                known = known.rechunk()
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

    def handles(self, series: pl.Series) -> pl.Series:
        keys = pl.select(_handle_key(pl.lit(series.cast(pl.String)))).to_series()
        return self._map("handle", keys.alias(series.name))

    def posts(self, series: pl.Series) -> pl.Series:
        return self._map("post", series)

    def mentions(self, series: pl.Series) -> tuple[pl.Series, int]:
        """Every ``@handle`` in the texts replaced by ``@`` + the handle's pseudonym; returns
        the texts and how many mentions were replaced. Only texts that may hold a mention are
        visited; the mentioned handles are found first and hashed together."""
        has_at = series.str.contains(MAY_MENTION).fill_null(False)
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
