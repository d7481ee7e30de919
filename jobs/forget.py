"""Erasure: ``graphsona forget USER...`` removes people from everything graphsona keeps.

Where (each step idempotent; step 1 runs in a thread beside steps 2-4, which touch only
files):

1. **the store** (:meth:`~graphsona.graph.GraphStore.erase`): their posts with their topic
   links, their user nodes with every link (follows, interactions, membership,
   recommendations to and from them), their vectors; community and topic sizes recounted,
   ``top_members``, alert drivers and sample posts filtered, and the communities, topics and
   alerts that included them marked ``stale`` (names and terms came partly from their words;
   the next full run writes them afresh). The embedded store does it by rewriting its file
   without them, so that no deleted bytes stay in it; Neo4j deletes;
2. **the vector cache**: the vectors of their posts' texts, under every model the cache
   recorded (pages overwritten on delete);
3. **the work dir**: the saved stage outputs and checkpoints are deleted (they are per-row
   arrays over all users, and the model in them was trained with these people: the next
   ``graphsona profile`` recomputes everything without them); the incremental state is
   rewritten without them (:func:`~graphsona.jobs.state.erase_from_state`), so updates keep
   working and their drift report asks for a full run;
4. **outputs graphsona wrote** (the ledger :data:`~graphsona.jobs.workdir.OUTPUTS`): Parquet
   exports are rewritten without their rows and ids; a report or any other file that names
   them is deleted (regenerate it with ``graphsona report``);
5. **tuned encoders** (``graphsona finetune --method setfit``), before the rest: each was
   trained on labelled posts, and which ones is not recorded, so every one is deleted; its
   classifier stays in the store and ``classify`` asks for a retrain (the job's classify stage
   skips it until then). Head classifiers hold no text and stay.

Before step 1 a journal (``<work dir>/erasure/pending.json``) records what is to be erased: the
stored ids, their post ids, the communities and topics involved and the cache keys of their
texts (hashes, never the texts). A crash at any point leaves the journal; the next ``graphsona
forget`` (with or without ids) completes it first. When everything is done the journal is
deleted and one line is appended to ``<work dir>/erasure/log.jsonl``: when, how many users,
posts, links, cache entries, files; never an id. The journal is the one place the ids are kept
until the erasure completes.

Ids are given as the platform's raw ids: in a pseudonymised store they are turned into
pseudonyms with the store's key (an id already stored as given, e.g. a pseudonym, is taken as
is).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from graphsona._faults import crash_point
from graphsona.graph import GraphStore
from graphsona.graph._base import ErasureScope
from graphsona.graph.lock import hold
from graphsona.jobs.workdir import LOCK_NAME, OUTPUTS, recorded_outputs
from graphsona.privacy import PrivacySettings, store_policy
from graphsona.privacy.erasure import append_log, parquet_without

__all__ = ["JOURNAL", "LOG", "ForgetResult", "resolve_ids", "run_forget"]

JOURNAL = Path("erasure") / "pending.json"
LOG = Path("erasure") / "log.jsonl"
_KEEP = {LOCK_NAME, "state", "erasure", OUTPUTS}


@dataclass
class ForgetResult:
    requested: int
    found: int
    counts: dict[str, int] = field(default_factory=dict)
    log: Path | None = None
    resumed: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "found": self.found,
            "resumed_earlier_erasure": self.resumed,
            **self.counts,
            "log": str(self.log) if self.log else None,
        }


def resolve_ids(
    store: GraphStore, given: list[str], privacy: PrivacySettings | None = None
) -> list[str]:
    """The stored ids of ``given``: raw ids become pseudonyms in a pseudonymised store."""
    policy = store_policy(store.read_meta(), privacy)
    p = policy.pseudonyms if policy is not None else None
    if p is None:
        return sorted(set(given))
    have = set(store.read_user_ids().cast(pl.String).to_list())
    return sorted({g if g in have else p.user(g) for g in given})


def run_forget(
    store: GraphStore,
    user_ids: list[str],
    *,
    work_dir: Path,
    cache: Path | None = None,
    privacy: PrivacySettings | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> ForgetResult:
    """Erase ``user_ids`` (raw or stored ids) everywhere (see the module docstring); with no
    ids, complete an interrupted erasure if there is one."""
    say = progress or (lambda step, message: None)
    with (
        hold(store.lock_path(), f"the store {store.locator()}"),
        hold(work_dir / LOCK_NAME, f"the work dir {work_dir}"),
    ):
        journal_path = work_dir / JOURNAL
        pending = json.loads(journal_path.read_text()) if journal_path.exists() else None
        ids = resolve_ids(store, user_ids, privacy) if user_ids else []
        scope = store.erasure_scope(ids)
        if pending is not None:
            say("forget", f"completing an interrupted erasure of {len(pending['users'])} users")
            scope = ErasureScope(
                sorted(set(pending["users"]) | set(scope.user_ids)),
                pl.concat(
                    [
                        pl.DataFrame({"post_id": pending["posts"]}, schema={"post_id": pl.String}),
                        scope.posts.select("post_id"),
                    ]
                ).unique(),
                sorted(set(pending["communities"]) | set(scope.communities)),
                sorted(set(pending["topics"]) | set(scope.topics)),
                sorted(set(pending["handles"]) | set(scope.handles)),
            )
        keys = _cache_keys(cache, scope.posts["text"].to_list() if "text" in scope.posts else [])
        if pending is not None:
            keys = sorted(set(keys) | set(pending["cache_keys"]))
        result = ForgetResult(requested=len(set(user_ids)), found=len(scope.user_ids))
        result.resumed = pending is not None
        if not scope.user_ids:
            return result
        journal = {
            "users": scope.user_ids,
            "posts": scope.posts["post_id"].to_list(),
            "communities": scope.communities,
            "topics": scope.topics,
            "handles": scope.handles,
            "cache_keys": keys,
        }
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(journal))
        os.replace(tmp, journal_path)
        # a SetFit classifier's tuned encoder learnt from labelled posts, and which posts is
        # not recorded: every tuned encoder goes (classify then asks for a retrain)
        say("forget", "removing the encoders SetFit tuned (graphsona finetune --method setfit)")
        tuned = _tuned_encoders(store)
        # the store's part (the embedded store rewrites its file without them, native code
        # with the GIL released) runs beside the rest, which touches only files: each step is
        # idempotent, so a crash anywhere is completed by the next run from the journal
        say("forget", f"erasing {len(scope.user_ids)} users from the store, meanwhile:")
        store_scope = ErasureScope(scope.user_ids, scope.posts.select("post_id"),
                                   scope.communities, scope.topics, journal["handles"])  # fmt: skip
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="erase") as pool:
            erasing = pool.submit(_erase_store, store, store_scope)
            say("forget", "erasing their vectors from the cache")
            file_counts = {"cache_entries": _delete_cache(cache, keys), "tuned_encoders": tuned}
            say("forget", "erasing them from the work dir")
            file_counts.update(_work_dir(work_dir, cache, scope.user_ids, journal["posts"]))
            crash_point("forget:work_dir")
            say("forget", "erasing them from exports and reports")
            file_counts.update(_outputs(work_dir, scope.user_ids, journal["posts"]))
            say("forget", "waiting for the store")
            counts = {**erasing.result(), **file_counts}
        counts["users_requested"] = result.requested
        log = work_dir / LOG
        append_log(log, counts)
        journal_path.unlink()
        result.counts, result.log = counts, log
        return result


def _tuned_encoders(store: GraphStore) -> int:
    """Delete the tuned encoder folder of each SetFit classifier in ``store``; how many."""
    from graphsona.text.classifier import tuned_folder

    removed = 0
    for task in store.classifier_tasks():
        folder = tuned_folder(store.read_classifier(task) or {})
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder)
            removed += 1
    return removed


def _erase_store(store: GraphStore, scope: ErasureScope) -> dict[str, int]:
    counts = store.erase(scope)
    crash_point("forget:store")
    return counts


def _cache_keys(cache: Path | None, texts: list[str]) -> list[str]:
    if cache is None or not cache.exists() or not texts:
        return []
    from graphsona.embeddings.cache import VectorCache

    vc = VectorCache(cache)
    try:
        return [k.hex() for k in vc.keys_of(texts)]
    finally:
        vc.close()


def _delete_cache(cache: Path | None, keys: list[str]) -> int:
    if cache is None or not cache.exists() or not keys:
        return 0
    from graphsona.embeddings.cache import VectorCache

    vc = VectorCache(cache)
    try:
        return vc.delete_keys([bytes.fromhex(k) for k in keys])
    finally:
        vc.close()


def _work_dir(
    work_dir: Path, cache: Path | None, users: list[str], posts: list[str]
) -> dict[str, int]:
    from graphsona.jobs.state import erase_from_state

    removed = 0
    if work_dir.is_dir():
        for entry in sorted(work_dir.iterdir()):
            if entry.name in _KEEP or (cache is not None and entry.resolve() == cache.resolve()):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return {
        "stage_outputs_removed": removed,
        "state_rows_removed": erase_from_state(work_dir, users, posts),
    }


def _outputs(work_dir: Path, users: list[str], posts: list[str]) -> dict[str, int]:
    ids = [*users, *posts]
    rewritten = deleted = 0
    needles = [i.encode() for i in ids]
    for name in recorded_outputs(work_dir):
        path = Path(name)
        if not path.exists():
            continue
        if path.suffix == ".parquet":
            rewritten += parquet_without(path, ids) != 0
            continue
        data = path.read_bytes()
        if any(n in data for n in needles):
            path.unlink()
            deleted += 1
    return {"exports_rewritten": rewritten, "outputs_deleted": deleted}
