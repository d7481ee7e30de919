"""``graphsona fetch``: save a platform's live API pages in the layout its importer reads.

Only Mastodon for now, through the maintained client `Mastodon.py` (an optional dependency:
``pip install 'graphsona[fetch]'`` or ``pip install Mastodon.py``). For each account named
(``name@host`` or the local ``name``), the fetcher looks it up and saves:

- ``accounts/<name@host>.json``: the account (profile);
- ``statuses/<name@host>.json``: up to ``statuses`` of its newest statuses (boosts included);
- ``following/<account id>.json`` and ``followers/<account id>.json``: up to ``follows`` accounts
  each way.

Then ``graphsona load --format mastodon DIR`` imports the folder like any saved API pages.
Credentials come from the environment: ``MASTODON_API_BASE_URL`` (the server, e.g.
``https://mastodon.social``) and, for anything not public, ``MASTODON_ACCESS_TOKEN``. The
client waits out the server's rate limits. Nothing here runs in the tests against a live
server (the tests give the fetcher a stand-in client with the same methods).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from graphsona.errors import ConfigError, MissingDependencyError

__all__ = ["fetch_mastodon", "mastodon_client"]


def mastodon_client() -> Any:
    """A ``Mastodon.py`` client from ``MASTODON_API_BASE_URL`` and ``MASTODON_ACCESS_TOKEN``."""
    try:
        from mastodon import Mastodon
    except ImportError as e:
        raise MissingDependencyError(
            "graphsona fetch mastodon needs Mastodon.py: pip install Mastodon.py"
        ) from e
    base = os.environ.get("MASTODON_API_BASE_URL")
    if not base:
        raise ConfigError("set MASTODON_API_BASE_URL (e.g. https://mastodon.social)")
    return Mastodon(
        api_base_url=base,
        access_token=os.environ.get("MASTODON_ACCESS_TOKEN") or None,
        ratelimit_method="wait",
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot save {type(value).__name__} as JSON")


def _pages(client: Any, first: Any, limit: int) -> list[Any]:
    """Items of ``first`` and the pages after it, at most ``limit``."""
    items: list[Any] = []
    page = first
    while page and len(items) < limit:
        items.extend(page)
        page = client.fetch_next(page) if len(items) < limit else None
    return items[:limit]


def _save(path: Path, items: Iterable[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(list(items), default=_plain, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # a file is whole or absent


def fetch_mastodon(
    accounts: list[str],
    out: str | Path,
    *,
    statuses: int = 200,
    follows: int = 400,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Save the named accounts' profiles, statuses and follows under ``out``; returns counts.

    ``client``: a ``Mastodon.py`` client (``None``: :func:`mastodon_client`)."""
    if not accounts:
        raise ConfigError("name at least one account (name@host)")
    if statuses < 0 or follows < 0:
        raise ConfigError("statuses and follows must be >= 0")
    client = client if client is not None else mastodon_client()
    root = Path(out)
    say = progress or (lambda msg: None)
    counts = {"accounts": 0, "statuses": 0, "following": 0, "followers": 0}
    for name in accounts:
        acct = client.account_lookup(name.lstrip("@"))
        key = str(acct["acct"] if "@" in str(acct["acct"]) else name.lstrip("@")).lower()
        _save(root / "accounts" / f"{key}.json", [acct])
        counts["accounts"] += 1
        if statuses:
            got = _pages(client, client.account_statuses(acct["id"], limit=40), statuses)
            _save(root / "statuses" / f"{key}.json", got)
            counts["statuses"] += len(got)
        for way, call in (
            ("following", client.account_following),
            ("followers", client.account_followers),
        ):
            if follows:
                got = _pages(client, call(acct["id"], limit=80), follows)
                _save(root / way / f"{acct['id']}.json", got)
                counts[way] += len(got)
        say(f"{key}: saved")
    return counts
