"""What a load does for privacy: the settings (``[privacy]`` in the job config) and the policy
the loaders apply to every table before anything is embedded or stored.

Order inside a load: ids are pseudonymised as soon as a table is read (so every later check,
join and error works on pseudonyms); handles become pseudonyms; in post text (and bios)
``@mentions`` become the mentioned handle's pseudonym, then the chosen PII kinds are
scrubbed. The store records the key's check value and the scrub kinds
(:meth:`PrivacyPolicy.meta`), and every later load, update or stream into it follows the same
policy (:func:`store_policy`) or is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from graphsona.errors import StoreError
from graphsona.privacy.keys import key_check, resolve_key
from graphsona.privacy.pseudonyms import MAY_MENTION, Pseudonymizer
from graphsona.privacy.scrub import DEFAULT_SCRUB, SCRUB_KINDS, may_hold, scrub_series

__all__ = ["META_KEY", "PrivacyPolicy", "PrivacySettings", "store_policy", "text_file_of"]

META_KEY = "privacy"  # the store's bookkeeping entry: {"key_check": ..., "scrub": [...]}


@dataclass(frozen=True)
class PrivacySettings:
    """``[privacy]`` in the job config.

    Args:
        pseudonymise: replace user ids, handles, post ids and mentions by keyed pseudonyms.
        key_file: where the key is (else ``$GRAPHSONA_PSEUDONYM_KEY`` or the default key file;
            see :mod:`graphsona.privacy.keys`).
        scrub: PII kinds removed from post text and bios (``email``, ``phone``, ``url``,
            ``handle``); ``[]`` for none.
        reid_table: a Parquet file outside the store where the load keeps raw id, raw handle
            and their pseudonyms (for whoever holds that file); none by default.
        store_text: ``False`` keeps post text out of the store entirely: ``Post`` nodes hold
            ids, times and derived labels only, and the scrubbed texts the job needs go to
            ``text_file`` (:mod:`graphsona.privacy.texts`).
        text_file: where the texts go when ``store_text`` is false (a Parquet file; required
            then).

    ``[privacy] min_group_size`` is a setting of the job (it decides what the job publishes):
    :attr:`~graphsona.jobs.settings.ProfileJobConfig.min_group_size`.
    """

    pseudonymise: bool = False
    key_file: Path | None = None
    scrub: tuple[str, ...] = DEFAULT_SCRUB
    reid_table: Path | None = None
    store_text: bool = True
    text_file: Path | None = None

    def check(self) -> list[str]:
        bad = [k for k in self.scrub if k not in SCRUB_KINDS]
        errors = (
            [f"[privacy] scrub: unknown kind(s) {bad}; valid: {list(SCRUB_KINDS)}"] if bad else []
        )
        if self.reid_table is not None and not self.pseudonymise:
            errors.append("[privacy] reid_table needs pseudonymise = true")
        if not self.store_text and self.text_file is None:
            errors.append(
                "[privacy] store_text = false needs text_file = PATH: the Parquet file outside "
                "the store where the post texts the job needs are kept"
            )
        return errors

    def policy(self) -> PrivacyPolicy:
        key = resolve_key(self.key_file) if self.pseudonymise else None
        text_file = None if self.store_text else self.text_file
        return PrivacyPolicy(key=key, scrub=tuple(self.scrub), text_file=text_file)


@dataclass
class PrivacyPolicy:
    """What the loaders apply (see the module docstring). ``key`` None: no pseudonyms."""

    key: bytes | None = None
    scrub: tuple[str, ...] = DEFAULT_SCRUB
    text_file: Path | None = None  # set: post text kept there, not in the store
    # how pseudonyms are written (graphsona.privacy.pseudonyms): 2 for new stores, a store's
    # own for loads into it
    pseudonym_format: int = 2
    reid: list[pl.DataFrame] = field(default_factory=list)  # filled by the users table
    # this load's users, raw id -> pseudonym (``raw``, ``p``), for the tables that name them
    # (None: no pseudonyms, or a delta whose rows may name users of the store too)
    users_map: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    _pseudonyms: Pseudonymizer | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def pseudonyms(self) -> Pseudonymizer | None:
        """One :class:`Pseudonymizer` per policy: it remembers the ids it has hashed, so a
        user named in users, posts, follows and interactions is hashed once."""
        if self.key is None:
            return None
        if self._pseudonyms is None:
            self._pseudonyms = Pseudonymizer(self.key, self.pseudonym_format)
        return self._pseudonyms

    def meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key_check": key_check(self.key) if self.key is not None else None,
            "scrub": sorted(self.scrub),
        }
        if self.key is not None:
            out["pseudonym_format"] = self.pseudonym_format
        if self.text_file is not None:
            out["text_file"] = str(self.text_file.resolve())
        return out

    # ------------------------------------------------------------------ tables
    def ids(self, frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
        p = self.pseudonyms
        if p is None:
            return frame
        return frame.with_columns(p.users(frame[c]) for c in columns if c in frame.columns)

    def users(self, frame: pl.DataFrame, counts: dict[str, int]) -> pl.DataFrame:
        """Handles pseudonymised (the raw ones kept for the re-identification table), bios
        scrubbed. ``frame``'s ``user_id`` is already a pseudonym; ``raw_ids`` the raw ones."""
        p = self.pseudonyms
        if p is not None and "handle" in frame.columns:
            frame = frame.with_columns(p.handles(frame["handle"]))
        if "bio" in frame.columns:
            frame = self._text(frame, "bio", counts, "users")
        return frame

    def posts(self, frame: pl.DataFrame, counts: dict[str, int]) -> pl.DataFrame:
        p = self.pseudonyms
        if p is not None:
            frame = frame.with_columns(p.posts(frame["post_id"]))
        return self._text(frame, "text", counts, "posts")

    def _text(
        self, frame: pl.DataFrame, col: str, counts: dict[str, int], table: str
    ) -> pl.DataFrame:
        """Mentions to pseudonyms, then the PII kinds scrubbed. Both work on the texts that
        may hold anything for them (cheap tests over the column), gathered once and put back
        once: most posts hold nothing of the kind."""
        p = self.pseudonyms
        texts = frame[col]
        rows = may_hold(texts, self.scrub)
        if p is not None:
            rows = rows | texts.str.contains(MAY_MENTION).fill_null(False)
        idx = rows.arg_true()
        part = texts.gather(idx)
        if p is not None:
            part, n = p.mentions(part)
            key = f"{table}.mentions_pseudonymised"
            counts[key] = counts.get(key, 0) + n
        part, found = scrub_series(part, self.scrub)
        for kind, n in found.items():
            counts[f"{table}.scrubbed_{kind}"] = counts.get(f"{table}.scrubbed_{kind}", 0) + n
        if idx.len():
            frame = frame.with_columns(texts.scatter(idx, part).alias(col))
        return frame

    def reidentification(self, raw: pl.DataFrame, stored: pl.DataFrame) -> None:
        """Keep raw ``user_id``/``handle`` (``raw``) beside their pseudonyms (``stored``, the
        same rows after :meth:`ids` and :meth:`users`) for :meth:`write_reid`, and the
        raw -> pseudonym map of user ids as :attr:`users_map`."""
        if self.pseudonyms is None:
            return
        self.users_map = pl.DataFrame({"raw": raw["user_id"], "p": stored["user_id"]})
        cols = [raw["user_id"].alias("raw_user_id"), stored["user_id"]]
        if "handle" in raw.columns:
            cols += [raw["handle"].alias("raw_handle"), stored["handle"]]
        self.reid.append(pl.DataFrame(cols))

    def write_reid(self, path: Path) -> int:
        """Merge what this load saw into the re-identification table ``path`` (written to a
        temporary name, then renamed); returns its rows."""
        if not self.reid:
            return 0
        new = pl.concat(self.reid, how="diagonal_relaxed")
        if path.exists():
            new = pl.concat([pl.read_parquet(path), new], how="diagonal_relaxed")
        new = new.unique("user_id", keep="last", maintain_order=True).sort("user_id")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        new.write_parquet(tmp)
        tmp.replace(path)
        return new.height


def store_policy(
    meta: dict[str, str], settings: PrivacySettings | None = None
) -> PrivacyPolicy | None:
    """The policy every load into a store with bookkeeping ``meta`` must follow: the one it was
    first loaded with. A pseudonymised store needs the same key (from ``settings``' key file,
    the environment or the default file); ConfigError when the key is missing or another.
    ``None`` for a store loaded without a policy."""
    raw = meta.get(META_KEY)
    if not raw:
        return None
    stored = json.loads(raw)
    key = None
    if stored.get("key_check"):
        key = resolve_key(settings.key_file if settings else None)
        if key_check(key) != stored["key_check"]:
            raise StoreError(
                "this store was pseudonymised with another key than the one found now: loading "
                "with it would give the same people other ids (set $GRAPHSONA_PSEUDONYM_KEY or "
                "[privacy] key_file to the store's key)"
            )
    text_file = Path(stored["text_file"]) if stored.get("text_file") else None
    return PrivacyPolicy(
        key=key,
        scrub=tuple(stored.get("scrub", ())),
        text_file=text_file,
        # a store pseudonymised before formats were recorded holds format 1
        pseudonym_format=int(stored.get("pseudonym_format", 1)),
    )


def text_file_of(meta: dict[str, str]) -> Path | None:
    """Where a store that keeps no post text keeps it (``None``: the text is in the store)."""
    raw = meta.get(META_KEY)
    path = json.loads(raw).get("text_file") if raw else None
    return Path(path) if path else None
